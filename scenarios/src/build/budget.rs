//! Bounds what a run will allocate before it starts: the time series (windows x series), the
//! replicas and their edges, the users, the workers and one request's calls, each at a
//! generous cost per unit, against `limits.memory`. Over the budget, the diagnostic names the
//! field that contributes most, so the user knows what to change.
//!
//! It runs before the other checkers, whose work (placing replicas on hosts, for one) already
//! allocates per replica; a scenario over budget gets only this diagnostic.

use std::collections::BTreeMap;

use super::Checker;
use super::locate::{locate_item, named};
use crate::ByteSize;
use crate::spec::{self, Scenario};

/// Bytes per window of one series: the run's record (`models::metrics::Window`, 136 bytes),
/// the analysis of it and its share of the report's text.
const SERIES_WINDOW_BYTES: f64 = 512.0;
/// Bytes per replica: its state, host, counters and reports.
const REPLICA_BYTES: f64 = 2048.0;
/// Bytes per edge (a calling replica's call): its policies, histograms and reports ...
const EDGE_BYTES: f64 = 8192.0;
/// ... and per replica of the callee it balances over (load balancing and health state).
const EDGE_TARGET_BYTES: f64 = 64.0;
/// Bytes per closed-loop or read-modify-write user: its state and pending event.
const USER_BYTES: f64 = 256.0;
/// Bytes per worker (a traced run keeps a list of free workers).
const WORKER_BYTES: f64 = 8.0;
/// Bytes per call of one request in flight: the call, its attempt, the callee's job, events.
const CALL_BYTES: f64 = 512.0;

/// One thing a run allocates, where it is set in the file and what to change.
struct Cost<'s> {
    bytes: f64,
    place: Place<'s>,
    field: String,
    what: String,
}

/// Where a cost is set in the file, found only for the cost a diagnostic names: finding it
/// scans the source, and a scenario with hundreds of services has thousands of costs.
enum Place<'s> {
    /// A field of the service with this name.
    Service(&'s str, &'static str),
    /// A field of the `index`-th client.
    Client(usize, &'static str),
    /// A top-level field.
    Top(&'static str),
}

impl Place<'_> {
    fn locate(&self, source: &str) -> Option<(usize, usize)> {
        match *self {
            Place::Service(name, field) => super::locate::locate(source, &[&named(name), field]),
            Place::Client(index, field) => locate_item(source, &["clients"], index, &[field]),
            Place::Top(field) => super::locate::locate(source, &[field]),
        }
    }
}

/// Reports the scenario if what a run allocates up front does not fit in `limits.memory`;
/// `false` then, and the other checks are skipped.
pub(super) fn within_budget(c: &mut Checker, scenario: &Scenario) -> bool {
    if !totals_fit(c, scenario) {
        return false;
    }
    let costs = costs(scenario);
    let total: f64 = costs.iter().map(|cost| cost.bytes).sum();
    let budget = scenario.limits.memory.0;
    if total <= budget as f64 {
        return true;
    }
    let largest = costs
        .into_iter()
        .max_by(|a, b| a.bytes.total_cmp(&b.bytes))
        .expect("a total above the budget has a cost");
    c.report_at(
        largest.place.locate(c.source),
        largest.field.clone(),
        format!(
            "the run would need about {} ({}, about {}), more than limits.memory ({}); lower \
             {} or raise limits.memory (--set limits.memory=8GiB)",
            shown(total),
            largest.what,
            shown(largest.bytes),
            scenario.limits.memory,
            largest.field
        ),
    );
    false
}

/// A service's workers and queue places, summed over its replicas, are counted in 32 bits.
fn totals_fit(c: &mut Checker, scenario: &Scenario) -> bool {
    let mut fit = true;
    for (i, s) in scenario.services.iter().enumerate() {
        // An unbounded queue has no total to count.
        let queue = match s.queue {
            crate::spec::QueueSize::Places(n) => n,
            crate::spec::QueueSize::Unbounded => 0,
        };
        for (name, per_replica) in [("workers", s.workers), ("queue", queue)] {
            if u64::from(per_replica) * u64::from(s.replicas.max(1)) > u64::from(u32::MAX) {
                c.report(
                    &[&named(&s.name), name],
                    format!("services[{i}].{name}"),
                    format!(
                        "{name} x replicas ({per_replica} x {}) is more than {}; lower {name} \
                         or replicas",
                        s.replicas,
                        u32::MAX
                    ),
                );
                fit = false;
            }
        }
    }
    fit
}

fn shown(bytes: f64) -> String {
    if bytes >= u64::MAX as f64 {
        "more than 16 EiB".into()
    } else {
        ByteSize(bytes as u64).to_string()
    }
}

fn costs(scenario: &Scenario) -> Vec<Cost<'_>> {
    let mut costs = Vec::new();
    let replicas_of: BTreeMap<&str, f64> = scenario
        .services
        .iter()
        .map(|s| (s.name.as_str(), f64::from(s.replicas.max(1))))
        .collect();
    let mut edges = scenario.clients.len() as f64;
    for (i, s) in scenario.services.iter().enumerate() {
        let replicas = f64::from(s.replicas.max(1));
        let anchor = |field: &'static str| Place::Service(&s.name, field);
        costs.push(Cost {
            bytes: replicas * REPLICA_BYTES,
            place: anchor("replicas"),
            field: format!("services[{i}].replicas"),
            what: format!("{replicas} replicas"),
        });
        let mut targets = Vec::new();
        plan_targets(&s.calls, &mut targets);
        for ep in &s.endpoints {
            plan_targets(&ep.calls, &mut targets);
        }
        let per_replica: f64 = targets
            .iter()
            .map(|to| EDGE_BYTES + EDGE_TARGET_BYTES * replicas_of.get(to).copied().unwrap_or(1.0))
            .sum();
        edges += replicas * targets.len() as f64;
        costs.push(Cost {
            bytes: replicas * per_replica,
            place: anchor("replicas"),
            field: format!("services[{i}].replicas"),
            what: format!(
                "{replicas} replicas x {} calls, each balanced over its callee's replicas",
                targets.len()
            ),
        });
        let workers = f64::from(s.workers) * replicas;
        costs.push(Cost {
            bytes: workers * WORKER_BYTES,
            place: anchor("workers"),
            field: format!("services[{i}].workers"),
            what: format!("{workers} workers in all"),
        });
    }
    for (i, client) in scenario.clients.iter().enumerate() {
        edges += client.requests.len() as f64;
        let users = match client.arrivals {
            spec::Arrivals::ReadModifyWrite { users, .. }
            | spec::Arrivals::ClosedLoop { users, .. } => f64::from(users),
            _ => continue,
        };
        costs.push(Cost {
            bytes: users * USER_BYTES,
            place: Place::Client(i, "users"),
            field: format!("clients[{i}].arrivals.users"),
            what: format!("{users} users"),
        });
    }
    let window = scenario.window.map_or(1e9, |w| w.0.as_nanos() as f64);
    if window > 0.0 {
        let windows = (scenario.duration.0.as_nanos() as f64 / window).ceil();
        let series =
            scenario.clients.len() as f64 + 2.0 * scenario.services.len() as f64 + 2.0 * edges;
        let field = match scenario.window {
            Some(_) => "window",
            None => "duration",
        };
        costs.push(Cost {
            bytes: windows * series * SERIES_WINDOW_BYTES,
            place: Place::Top(field),
            field: field.into(),
            what: format!("{windows} windows x {series} time series"),
        });
    }
    costs.extend(fan_out(scenario));
    costs
}

/// The services a plan calls, once per call (parallel calls included).
fn plan_targets<'s>(calls: &'s [spec::Call], into: &mut Vec<&'s str>) {
    for call in calls {
        into.extend(call.to.as_deref());
        plan_targets(&call.parallel, into);
    }
}

/// The most calls one client request makes, down the whole call graph.
fn fan_out(scenario: &Scenario) -> Option<Cost<'_>> {
    let index: BTreeMap<&str, usize> = scenario
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut memo = vec![None; scenario.services.len()];
    let (calls, client) = scenario
        .clients
        .iter()
        .map(|cl| {
            let to = index.get(cl.to.as_str()).copied();
            let calls = to.map_or(0.0, |s| 1.0 + calls_below(scenario, &index, &mut memo, s));
            (calls, to)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    // The service whose plan makes the most calls is the one to change.
    // The first of equals: the one nearest the clients, in the file's order.
    let worst = (0..scenario.services.len())
        .rev()
        .max_by(|&a, &b| {
            let own = |s: usize| direct_calls(&scenario.services[s]);
            own(a).total_cmp(&own(b))
        })
        .or(client)?;
    let name = &scenario.services[worst].name;
    Some(Cost {
        bytes: calls * CALL_BYTES,
        place: Place::Service(name, "calls"),
        field: format!("services[{worst}].calls"),
        what: format!("one request makes {calls} calls down the call graph"),
    })
}

fn direct_calls(s: &spec::Service) -> f64 {
    let mut targets = Vec::new();
    plan_targets(&s.calls, &mut targets);
    for ep in &s.endpoints {
        plan_targets(&ep.calls, &mut targets);
    }
    targets.len() as f64
}

/// Calls a request to service `s` makes below it (its plans' calls and theirs); a cycle,
/// which the call checker reports, counts once.
fn calls_below(
    scenario: &Scenario,
    index: &BTreeMap<&str, usize>,
    memo: &mut Vec<Option<f64>>,
    s: usize,
) -> f64 {
    if let Some(known) = memo[s] {
        return known;
    }
    memo[s] = Some(0.0);
    let mut targets = Vec::new();
    plan_targets(&scenario.services[s].calls, &mut targets);
    for ep in &scenario.services[s].endpoints {
        plan_targets(&ep.calls, &mut targets);
    }
    let total = targets
        .iter()
        .filter_map(|to| index.get(to).copied())
        .map(|callee| 1.0 + calls_below(scenario, index, memo, callee))
        .sum();
    memo[s] = Some(total);
    total
}
