//! Checks the clients and builds them: callee, arrivals, policy, host, weighted request types
//! and load profile.

use std::collections::BTreeMap;

use models::config::{self as mc, ClientConfig, ClientId, ServiceId};
use sim_core::SimTime;

use super::calls::endpoint_index;
use super::locate::{named, quoted};
use super::store::PendingWorkload;
use super::{Checker, Known};
use crate::spec;
use models::data::workload::Origin;

/// Every client, and the clients' ids by name.
pub(super) fn clients<'s>(
    c: &mut Checker,
    known: &Known<'s>,
) -> (Vec<ClientConfig>, BTreeMap<&'s str, ClientId>) {
    let mut clients = Vec::with_capacity(known.scenario.clients.len());
    let mut names = BTreeMap::new();
    for (i, cl) in known.scenario.clients.iter().enumerate() {
        if names.insert(cl.name.as_str(), ClientId(i as u32)).is_some() {
            let q = named(&cl.name);
            c.report(
                &[&q, &q],
                format!("clients[{i}].name"),
                format!("duplicate client name \"{}\"", cl.name),
            );
        }
        clients.extend(client(c, known, i, cl));
    }
    (clients, names)
}

/// One client; none if its callee does not exist.
fn client(c: &mut Checker, known: &Known, i: usize, cl: &spec::Client) -> Option<ClientConfig> {
    let q = named(&cl.name);
    let field = format!("clients[{i}]");
    let to_q = quoted(&cl.to);
    let to = known.service(c, &[&q, &to_q], format!("{field}.to"), &cl.to);
    let arrivals = arrivals(c, &q, &field, &cl.arrivals);
    if let Some(to) = to {
        callee_kind(c, known, &q, &field, cl, to, &arrivals);
    }
    let default = &known.scenario.policies.default;
    let policy = c.policy(&[&q], &field, &cl.policy().or(default));
    let objective = c.objective(&[&q], &field, cl.objective.as_ref());
    let host = match &cl.host {
        None => 0,
        Some(h) => known.topology.host_index(h).unwrap_or_else(|e| {
            c.report(&[&q, &quoted(h)], format!("{field}.host"), e.to_string());
            0
        }),
    };
    if let (Some(w), Some(to)) = (&cl.workload, to) {
        c.workloads.push(PendingWorkload {
            origin: Origin::Client(i),
            to,
            workload: w.clone(),
            anchors: vec![q.clone(), "workload".into()],
            field: format!("{field}.workload"),
        });
    }
    let requests = requests(c, known, &q, &field, cl, to);
    let profile = profile(c, &q, &field, cl);
    Some(ClientConfig {
        requests,
        profile,
        host,
        objective,
        name: cl.name.clone(),
        to: to?,
        arrivals,
        policy,
    })
}

fn arrivals(c: &mut Checker, q: &str, field: &str, arrivals: &spec::Arrivals) -> mc::Arrivals {
    match arrivals {
        spec::Arrivals::ClosedLoop { users, think_time } => {
            if *users == 0 {
                c.report(
                    &[q, "users"],
                    format!("{field}.arrivals.users"),
                    "must be at least 1".into(),
                );
            }
            let think_time = c.dist(
                &[q, "think_time"],
                format!("{field}.arrivals.think_time"),
                think_time,
            );
            mc::Arrivals::ClosedLoop {
                users: *users,
                think_time,
            }
        }
        &spec::Arrivals::Poisson { rate_per_s } | &spec::Arrivals::Constant { rate_per_s } => {
            if !(rate_per_s.is_finite() && rate_per_s > 0.0) {
                c.report(
                    &[q, "rate_per_s"],
                    format!("{field}.arrivals.rate_per_s"),
                    format!("{rate_per_s} is not a rate; expected a number greater than 0"),
                );
            }
            match arrivals {
                spec::Arrivals::Poisson { .. } => mc::Arrivals::Poisson { rate_per_s },
                _ => mc::Arrivals::Constant { rate_per_s },
            }
        }
        &spec::Arrivals::ReadModifyWrite { users } => {
            if users == 0 {
                c.report(
                    &[q, "users"],
                    format!("{field}.arrivals.users"),
                    "must be at least 1".into(),
                );
            }
            mc::Arrivals::ReadModifyWrite { users }
        }
    }
}

/// Record services are called by read-modify-write users, and only by them.
fn callee_kind(
    c: &mut Checker,
    known: &Known,
    q: &str,
    field: &str,
    cl: &spec::Client,
    to: ServiceId,
    arrivals: &mc::Arrivals,
) {
    let record = known.spec(to).kind == spec::ServiceKind::Record;
    let rmw = matches!(arrivals, mc::Arrivals::ReadModifyWrite { .. });
    if record == rmw {
        return;
    }
    c.report(
        &[q, "arrivals"],
        format!("{field}.arrivals"),
        if rmw {
            format!(
                "ReadModifyWrite users need a Record service; \"{}\" is a Worker",
                cl.to
            )
        } else {
            format!(
                "\"{}\" is a Record service; only ReadModifyWrite users call it",
                cl.to
            )
        },
    );
}

/// The weighted request types: (endpoint of the callee, weight).
fn requests(
    c: &mut Checker,
    known: &Known,
    q: &str,
    field: &str,
    cl: &spec::Client,
    to: Option<ServiceId>,
) -> Vec<(u16, f64)> {
    let mut requests = Vec::new();
    for (k, r) in cl.requests.iter().enumerate() {
        let rq = quoted(&r.endpoint);
        if !(r.weight.is_finite() && r.weight > 0.0) {
            c.report(
                &[q, &rq, "weight"],
                format!("{field}.requests[{k}].weight"),
                format!(
                    "{} is not a weight; expected a number greater than 0",
                    r.weight
                ),
            );
        }
        if let Some(to) = to {
            match endpoint_index(known.spec(to), &r.endpoint) {
                Ok(e) => requests.push((e, r.weight)),
                Err(e) => c.report(&[q, &rq], format!("{field}.requests[{k}].endpoint"), e),
            }
        }
    }
    requests
}

/// The load profile: (from, to, rate before, rate after) per piece.
fn profile(
    c: &mut Checker,
    q: &str,
    field: &str,
    cl: &spec::Client,
) -> Vec<(SimTime, SimTime, f64, f64)> {
    let base = match cl.arrivals {
        spec::Arrivals::Poisson { rate_per_s } | spec::Arrivals::Constant { rate_per_s } => {
            Some(rate_per_s)
        }
        _ => None,
    };
    let mut profile = Vec::new();
    if !cl.profile.is_empty() && base.is_none() {
        c.report(
            &[q, "profile"],
            format!("{field}.profile"),
            "a load profile needs Poisson or Constant arrivals".into(),
        );
    }
    // The rate in force before each piece: the base rate, then the end of the last piece.
    let mut current = base.unwrap_or(0.0);
    let mut last_end = SimTime::ZERO;
    for (k, piece) in cl.profile.iter().enumerate() {
        let (from, to_t, rate) = match piece {
            spec::Load::Step { at, rate_per_s } => (at.0, at.0, *rate_per_s),
            spec::Load::Ramp {
                from,
                to,
                rate_per_s,
            } => (from.0, to.0, *rate_per_s),
        };
        let (from, to_t) = (SimTime::ZERO + from, SimTime::ZERO + to_t);
        if !(rate.is_finite() && rate > 0.0) || to_t < from || from < last_end {
            c.report(
                &[q, "profile"],
                format!("{field}.profile[{k}]"),
                "expected a rate above 0, pieces in time order, and a ramp ending after it starts"
                    .into(),
            );
        }
        profile.push((from, to_t, current, rate));
        current = rate;
        last_end = to_t;
    }
    profile
}
