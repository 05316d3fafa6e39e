//! Checks the `two_phase` of services and endpoints and turns each into its endpoint's call
//! plan: one call per participant, in order, so that every check and every policy of a call
//! applies to the prepares and the decisions unchanged; the world runs that plan through
//! `data::twopc`'s machines (`models/src/world/twopc.rs`).

use std::borrow::Cow;

use models::data::twopc::TwoPcConfig;
use sim_core::SimDuration;

use super::Checker;
use super::calls::endpoint_index;
use super::locate::{named, quoted};
use crate::spec::{self, Scenario};

/// The most participants a transaction may have.
pub(super) const MAX_PARTICIPANTS: usize = 16;
/// How long after a decision call failed for good it is sent again, by default.
pub(super) const DECISION_RETRY: SimDuration = SimDuration::from_secs(1);
/// The most resources a 2PC endpoint's transactions may lock.
pub(super) const MAX_RESOURCES: u32 = 1_000_000;

/// The scenario with each valid `two_phase` written as its endpoint's `calls`, and the 2PC
/// endpoints; the scenario itself when it has none.
pub(super) fn desugar<'s>(
    c: &mut Checker,
    scenario: Cow<'s, Scenario>,
) -> (Cow<'s, Scenario>, Vec<TwoPcConfig>) {
    let has = |s: &spec::Service| {
        s.two_phase.is_some() || s.endpoints.iter().any(|e| e.two_phase.is_some())
    };
    if !scenario.services.iter().any(has) {
        return (scenario, Vec::new());
    }
    let mut out = scenario.clone().into_owned();
    let mut configs = Vec::new();
    for (i, s) in scenario.services.iter().enumerate() {
        let q = named(&s.name);
        let own = s.endpoint.as_deref().unwrap_or("default");
        let plans = std::iter::once((own, &s.two_phase, &s.calls, !s.saga.is_empty())).chain(
            s.endpoints
                .iter()
                .map(|e| (e.name.as_str(), &e.two_phase, &e.calls, !e.saga.is_empty())),
        );
        for (e, (name, two_phase, calls, saga)) in plans.enumerate() {
            let Some(tp) = two_phase else {
                continue;
            };
            let n = named(name);
            let (anchors, field) = if e == 0 {
                (
                    vec![q.as_str(), "two_phase"],
                    format!("services[{i}].two_phase"),
                )
            } else {
                (
                    vec![q.as_str(), "endpoints", n.as_str(), "two_phase"],
                    format!("services[{i}].endpoints[{}].two_phase", e - 1),
                )
            };
            let at = Place {
                anchors: &anchors,
                field: &field,
            };
            let Some(participants) = check(c, &scenario, &at, s, tp, calls, saga) else {
                continue;
            };
            configs.push(TwoPcConfig {
                name: if e == 0 {
                    s.name.clone()
                } else {
                    format!("{}/{name}", s.name)
                },
                service: i,
                endpoint: e,
                participants,
                resources: tp.resources,
                decision_retry: tp.decision_retry.map_or(DECISION_RETRY, |d| d.0),
            });
            let target = &mut out.services[i];
            if e == 0 {
                target.calls = tp.participants.clone();
            } else {
                target.endpoints[e - 1].calls = tp.participants.clone();
            }
        }
    }
    (Cow::Owned(out), configs)
}

/// Where a `two_phase` is written: the anchors that find it and its field path.
struct Place<'a> {
    anchors: &'a [&'a str],
    field: &'a str,
}

/// One `two_phase`, checked: its participants' services; `None` (with the problems reported)
/// when it is not valid.
fn check(
    c: &mut Checker,
    scenario: &Scenario,
    at: &Place,
    s: &spec::Service,
    tp: &spec::TwoPhase,
    calls: &[spec::Call],
    saga: bool,
) -> Option<Vec<usize>> {
    let before = c.diagnostics.len();
    let (anchors, field) = (at.anchors, at.field);
    if !calls.is_empty() || saga {
        c.report(
            anchors,
            field.into(),
            "a two-phase commit is the endpoint's plan: no `calls` or `saga` beside it".into(),
        );
    }
    if !matches!(s.kind, spec::ServiceKind::Worker) {
        c.report(
            anchors,
            field.into(),
            "only a `Worker` service coordinates a two-phase commit".into(),
        );
    }
    if tp.participants.is_empty() || tp.participants.len() > MAX_PARTICIPANTS {
        c.report(
            anchors,
            format!("{field}.participants"),
            format!(
                "{} participants; expected 1 to {MAX_PARTICIPANTS}",
                tp.participants.len()
            ),
        );
    }
    if tp.resources == 0 || tp.resources > MAX_RESOURCES {
        c.report(
            &[anchors, &["resources"]].concat(),
            format!("{field}.resources"),
            format!("{} resources; expected 1 to {MAX_RESOURCES}", tp.resources),
        );
    }
    if tp.decision_retry.is_some_and(|d| d.0 == SimDuration::ZERO) {
        c.report(
            &[anchors, &["decision_retry"]].concat(),
            format!("{field}.decision_retry"),
            "0s between a failed decision call and its re-send; expected a duration above 0, \
             such as \"1s\""
                .into(),
        );
    }
    let mut services = Vec::new();
    for (k, call) in tp.participants.iter().enumerate() {
        let f = format!("{field}.participants[{k}]");
        if let Some(p) = participant(c, scenario, anchors, &f, call) {
            if services.contains(&p) {
                let q = quoted(&scenario.services[p].name);
                c.report(
                    &[anchors, &[q.as_str()]].concat(),
                    format!("{f}.to"),
                    "a service takes part once in a transaction; expected distinct participants"
                        .into(),
                );
            }
            services.push(p);
        }
    }
    (c.diagnostics.len() == before).then_some(services)
}

/// A participant: one call to a `Worker` service's endpoint that coordinates no transaction
/// itself, made every time. Returns the callee's index.
fn participant(
    c: &mut Checker,
    scenario: &Scenario,
    anchors: &[&str],
    field: &str,
    call: &spec::Call,
) -> Option<usize> {
    let Some(to) = &call.to else {
        c.report(
            anchors,
            field.into(),
            "a participant is one call naming its callee with `to` (no `parallel`, `one_of` or \
             `publish`)"
                .into(),
        );
        return None;
    };
    let q = quoted(to);
    let here = [anchors, &[q.as_str()]].concat();
    if !call.parallel.is_empty() || !call.one_of.is_empty() || call.publish.is_some() {
        c.report(
            &here,
            field.into(),
            "a participant is one call: no `parallel`, `one_of` or `publish`".into(),
        );
    }
    if call.probability.is_some_and(|p| p != 1.0) {
        c.report(
            &here,
            format!("{field}.probability"),
            "a participant is always called; remove `probability`".into(),
        );
    }
    let Some(index) = scenario.services.iter().position(|x| &x.name == to) else {
        let names: Vec<&str> = scenario.services.iter().map(|x| x.name.as_str()).collect();
        c.report(
            &here,
            format!("{field}.to"),
            format!(
                "unknown service \"{to}\"; expected one of: {}",
                names.join(", ")
            ),
        );
        return None;
    };
    let callee = &scenario.services[index];
    if !matches!(callee.kind, spec::ServiceKind::Worker) {
        c.report(
            &here,
            format!("{field}.to"),
            format!("\"{to}\" is not a `Worker` service; a participant holds locks as a Worker"),
        );
    }
    let endpoint = match &call.endpoint {
        None => Some(0),
        Some(ep) => match endpoint_index(callee, ep) {
            Ok(e) => Some(usize::from(e)),
            Err(message) => {
                let qe = quoted(ep);
                c.report(
                    &[anchors, &[q.as_str(), qe.as_str()]].concat(),
                    format!("{field}.endpoint"),
                    message,
                );
                None
            }
        },
    };
    let coordinates = match endpoint {
        Some(0) => callee.two_phase.is_some(),
        Some(e) => callee.endpoints[e - 1].two_phase.is_some(),
        None => false,
    };
    if coordinates {
        c.report(
            &here,
            format!("{field}.endpoint"),
            "a participant's endpoint coordinates a two-phase commit itself; expected one \
             without `two_phase`"
                .into(),
        );
    }
    Some(index)
}
