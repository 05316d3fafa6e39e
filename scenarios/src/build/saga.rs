//! Checks the `saga`s of services and endpoints and turns each into its endpoint's call plan:
//! the steps' calls, then the compensations' calls, so that every check and every policy of a
//! call applies to them unchanged; the world runs that plan through `data::saga`'s machine.

use std::borrow::Cow;

use models::data::saga::{SagaConfig, SagaStep};

use super::Checker;
use super::calls::endpoint_index;
use super::locate::{named, quoted};
use crate::spec::{self, Scenario};

/// The most steps a saga may have.
pub(super) const MAX_STEPS: usize = 64;

/// The scenario with each valid saga written as its endpoint's `calls`, and the sagas; the
/// scenario itself (borrowed) when it has none.
pub(super) fn desugar<'s>(
    c: &mut Checker,
    scenario: &'s Scenario,
) -> (Cow<'s, Scenario>, Vec<SagaConfig>) {
    let has_saga =
        |s: &spec::Service| !s.saga.is_empty() || s.endpoints.iter().any(|e| !e.saga.is_empty());
    for (i, s) in scenario.services.iter().enumerate() {
        if s.saga_log && !has_saga(s) {
            let q = named(&s.name);
            c.report(
                &[q.as_str(), "saga_log"],
                format!("services[{i}].saga_log"),
                "a saga log without a saga; expected `saga` on the service or one of its \
                 endpoints, or no `saga_log`"
                    .into(),
            );
        }
    }
    if !scenario.services.iter().any(has_saga) {
        return (Cow::Borrowed(scenario), Vec::new());
    }
    let mut out = scenario.clone();
    let mut sagas = Vec::new();
    for (i, s) in scenario.services.iter().enumerate() {
        let q = named(&s.name);
        let own = s.endpoint.as_deref().unwrap_or("default");
        let plans = std::iter::once((own, &s.saga, &s.calls)).chain(
            s.endpoints
                .iter()
                .map(|e| (e.name.as_str(), &e.saga, &e.calls)),
        );
        for (e, (name, steps, calls)) in plans.enumerate() {
            if steps.is_empty() {
                continue;
            }
            let n = named(name);
            let (anchors, field) = if e == 0 {
                (vec![q.as_str(), "saga"], format!("services[{i}].saga"))
            } else {
                (
                    vec![q.as_str(), "endpoints", n.as_str(), "saga"],
                    format!("services[{i}].endpoints[{}].saga", e - 1),
                )
            };
            let Some((config, plan)) = saga(c, scenario, &anchors, &field, s, steps, calls) else {
                continue;
            };
            sagas.push(SagaConfig {
                name: if e == 0 {
                    s.name.clone()
                } else {
                    format!("{}/{name}", s.name)
                },
                service: i,
                endpoint: e,
                steps: config,
                log: s.saga_log,
            });
            let target = &mut out.services[i];
            if e == 0 {
                target.calls = plan;
            } else {
                target.endpoints[e - 1].calls = plan;
            }
        }
    }
    (Cow::Owned(out), sagas)
}

/// One saga's steps, checked, and its plan; `None` (with the problems reported) when it is
/// not valid.
fn saga(
    c: &mut Checker,
    scenario: &Scenario,
    anchors: &[&str],
    field: &str,
    s: &spec::Service,
    steps: &[spec::SagaStep],
    calls: &[spec::Call],
) -> Option<(Vec<SagaStep>, Vec<spec::Call>)> {
    let before = c.diagnostics.len();
    if !calls.is_empty() {
        c.report(
            anchors,
            field.into(),
            "a saga is the endpoint's plan: write its calls as the saga's steps, not in `calls`"
                .into(),
        );
    }
    if !matches!(s.kind, spec::ServiceKind::Worker) {
        c.report(
            anchors,
            field.into(),
            "only a `Worker` service orchestrates a saga".into(),
        );
    }
    if steps.len() > MAX_STEPS {
        c.report(
            anchors,
            field.into(),
            format!("{} steps; expected at most {MAX_STEPS}", steps.len()),
        );
    }
    let mut idempotent = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        let at = format!("{field}[{k}]");
        idempotent.push(check_call(
            c,
            scenario,
            anchors,
            &format!("{at}.call"),
            &step.call,
        ));
        if let Some(comp) = &step.compensate {
            check_call(c, scenario, anchors, &format!("{at}.compensate"), comp);
        }
    }
    if c.diagnostics.len() > before {
        return None;
    }
    let mut plan: Vec<spec::Call> = steps.iter().map(|st| st.call.clone()).collect();
    let mut config = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        let compensate = step.compensate.as_ref().map(|comp| {
            plan.push(comp.clone());
            plan.len() - 1
        });
        config.push(SagaStep {
            call: k,
            compensate,
            idempotent: idempotent[k],
        });
    }
    Some((config, plan))
}

/// A saga's call: one callee (`to`) and its endpoint, made every time. Returns whether the
/// callee is idempotent (its repeated executions are then not duplicates).
fn check_call(
    c: &mut Checker,
    scenario: &Scenario,
    anchors: &[&str],
    field: &str,
    call: &spec::Call,
) -> bool {
    let Some(to) = &call.to else {
        c.report(
            anchors,
            field.into(),
            "a saga's call names its callee with `to` (a step is one call: no `parallel`, \
             `one_of` or `publish`)"
                .into(),
        );
        return true;
    };
    let q = quoted(to);
    let here = [anchors, &[q.as_str()]].concat();
    if !call.parallel.is_empty() || !call.one_of.is_empty() || call.publish.is_some() {
        c.report(
            &here,
            field.into(),
            "a saga's step is one call: no `parallel`, `one_of` or `publish`".into(),
        );
    }
    if call.probability.is_some_and(|p| p != 1.0) {
        c.report(
            &here,
            format!("{field}.probability"),
            "a saga's call is always made; remove `probability`".into(),
        );
    }
    let Some(callee) = scenario.services.iter().find(|x| &x.name == to) else {
        let names: Vec<&str> = scenario.services.iter().map(|x| x.name.as_str()).collect();
        c.report(
            &here,
            format!("{field}.to"),
            format!(
                "unknown service \"{to}\"; expected one of: {}",
                names.join(", ")
            ),
        );
        return true;
    };
    if let Some(ep) = &call.endpoint
        && let Err(message) = endpoint_index(callee, ep)
    {
        let qe = quoted(ep);
        c.report(
            &[anchors, &[q.as_str(), qe.as_str()]].concat(),
            format!("{field}.endpoint"),
            message,
        );
    }
    callee.idempotent
}
