//! The `changes` section: each change is a `--set` applied, at its time, to the scenario as
//! the earlier changes left it. The scenario after the change is built like a file; what the
//! two built worlds differ in becomes the change's actions, and only state a running process
//! can swap is allowed to differ.
//!
//! What can change mid-run: a call's (or client's) timeout, deadline, retry (not its budget)
//! and fallback, a call's probability (0 turns an optional call off: a kill switch), an
//! endpoint's service time and error rate, and a service's inbound rate limit. Everything else
//! (workers, queues, replicas, breakers, bulkheads, the network, faults, arrivals, the run's
//! length) is fixed for a run, and a change to it is an error at the change.

use std::fmt::Debug;

use models::config::{CallConfig, CallPolicy, ClientId, ServiceConfig, ServiceId, WorldConfig};
use models::ops::{Change, ChangeAction};
use sim_core::{SimDuration, SimTime};

use super::Checker;
use super::locate::locate_item;
use crate::spec::Scenario;

/// What a change may not touch, named for the error.
const CHANGEABLE: &str = "only timeouts, deadlines, retries (not their budget), fallbacks, call \
                          probabilities, service times, error rates and inbound rate limits can \
                          change while the scenario runs";

/// Builds the changes of `scenario`, whose own world is `base`, in the order they happen.
pub(super) fn changes(c: &mut Checker, scenario: &Scenario, base: &WorldConfig) -> Vec<Change> {
    let mut order: Vec<usize> = (0..scenario.changes.len()).collect();
    order.sort_by_key(|&i| scenario.changes[i].at.0);
    let mut current = scenario.clone();
    current.changes.clear();
    let mut previous = base.clone();
    let mut built = Vec::new();
    for i in order {
        let change = &scenario.changes[i];
        let field = format!("changes[{i}]");
        let at = |c: &Checker, anchor: &str| locate_item(c.source, &["changes:"], i, &[anchor]);
        if change.at.0 >= scenario.duration.0 {
            let position = at(c, "at");
            c.report_at(
                position,
                format!("{field}.at"),
                format!(
                    "the change at {}s is not before the end of the run ({}s)",
                    change.at.0.as_secs_f64(),
                    scenario.duration.0.as_secs_f64()
                ),
            );
            continue;
        }
        let value = change.to.text();
        let mut next = current.clone();
        if let Err(e) = crate::overrides::apply(&mut next, &change.set, &value) {
            let position = at(c, "set");
            c.report_at(position, format!("{field}.set"), e);
            continue;
        }
        let config = match super::build(&next, c.source) {
            Ok(config) => config,
            Err(diagnostics) => {
                let position = at(c, "to");
                for d in diagnostics {
                    c.report_at(
                        position,
                        format!("{field}.to"),
                        format!("after this change, {}: {}", d.field, d.message),
                    );
                }
                continue;
            }
        };
        match diff(&previous, &config) {
            Ok(actions) => built.push(Change {
                at: SimTime::ZERO + change.at.0,
                rollout: change.rollout.map_or(SimDuration::ZERO, |r| r.0),
                description: format!("{} = {}", change.set, value),
                actions,
            }),
            Err(what) => {
                let position = at(c, "set");
                c.report_at(
                    position,
                    format!("{field}.set"),
                    format!(
                        "\"{}\" changes {what}, which cannot change mid-run: {CHANGEABLE}",
                        change.set
                    ),
                );
                continue;
            }
        }
        previous = config;
        current = next;
    }
    built
}

fn same<T: Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// The parts of a call policy whose state a running caller keeps: they must not change.
fn fixed(p: &CallPolicy) -> String {
    format!(
        "{:?}",
        (
            &p.hedge,
            &p.bulkhead,
            &p.breaker,
            &p.outlier,
            &p.throttle,
            &p.order,
            p.retry.as_ref().map(|r| &r.budget),
        )
    )
}

/// The actions that turn `old` into `new`, or what differs that may not.
fn diff(old: &WorldConfig, new: &WorldConfig) -> Result<Vec<ChangeAction>, String> {
    let top = [
        ("the run's settings", same(&(old.duration, old.window, old.max_events, old.memory_limit_bytes), &(new.duration, new.window, new.max_events, new.memory_limit_bytes))),
        ("the topology", same(&old.topology, &new.topology)),
        ("the network", same(&old.network, &new.network)),
        ("the faults", same(&old.faults, &new.faults)),
        ("the clocks", same(&old.clocks, &new.clocks)),
    ];
    if let Some((what, _)) = top.iter().find(|(_, same)| !same) {
        return Err((*what).to_string());
    }
    let mut actions = Vec::new();
    for (sid, (o, n)) in old.services.iter().zip(&new.services).enumerate() {
        let service = ServiceId(sid as u32);
        let what = || format!("service \"{}\"", o.name);
        let mut neutral = n.clone();
        let works = |s: &ServiceConfig| {
            std::iter::once((&s.service_time, s.error_rate, &s.calls))
                .chain(s.endpoints.iter().map(|e| (&e.service_time, e.error_rate, &e.calls)))
                .map(|(t, e, c)| (t.clone(), e, c.clone()))
                .collect::<Vec<_>>()
        };
        let (ow, nw) = (works(o), works(n));
        for (ep, ((ot, oe, oc), (nt, ne, nc))) in ow.iter().zip(&nw).enumerate() {
            if !same(&(ot, oe), &(nt, ne)) {
                actions.push(ChangeAction::Work {
                    service,
                    endpoint: ep as u16,
                    service_time: nt.clone(),
                    error_rate: *ne,
                });
            }
            for (call, (a, b)) in oc.iter().zip(nc).enumerate() {
                if same(&(&a.policy, a.probability), &(&b.policy, b.probability)) {
                    continue;
                }
                if fixed(&a.policy) != fixed(&b.policy) || !same_call(a, b) {
                    return Err(format!("{}'s call to service {}", what(), b.to.0));
                }
                actions.push(ChangeAction::Call {
                    service,
                    endpoint: ep as u16,
                    call: call as u16,
                    policy: Box::new(b.policy.clone()),
                    probability: b.probability,
                });
            }
        }
        if !same(&o.inbound.rate_limit, &n.inbound.rate_limit) {
            actions.push(ChangeAction::RateLimit {
                service,
                rate_limit: n.inbound.rate_limit,
            });
        }
        // Everything else must be as it was.
        neutral.service_time = o.service_time.clone();
        neutral.error_rate = o.error_rate;
        neutral.inbound.rate_limit = o.inbound.rate_limit;
        for (nc, oc) in neutral.calls.iter_mut().zip(&o.calls) {
            nc.policy = oc.policy.clone();
            nc.probability = oc.probability;
        }
        for (ne, oe) in neutral.endpoints.iter_mut().zip(&o.endpoints) {
            ne.service_time = oe.service_time.clone();
            ne.error_rate = oe.error_rate;
            for (nc, oc) in ne.calls.iter_mut().zip(&oe.calls) {
                nc.policy = oc.policy.clone();
                nc.probability = oc.probability;
            }
        }
        if !same(o, &neutral) {
            return Err(what());
        }
    }
    for (cid, (o, n)) in old.clients.iter().zip(&new.clients).enumerate() {
        let what = || format!("client \"{}\"", o.name);
        if !same(&o.policy, &n.policy) {
            let rmw = matches!(o.arrivals, models::config::Arrivals::ReadModifyWrite { .. });
            if fixed(&o.policy) != fixed(&n.policy)
                || (rmw && !same(&o.policy.retry, &n.policy.retry))
            {
                return Err(format!("{}'s policies", what()));
            }
            actions.push(ChangeAction::Client {
                client: ClientId(cid as u32),
                policy: Box::new(n.policy.clone()),
            });
        }
        let mut neutral = n.clone();
        neutral.policy = o.policy.clone();
        if !same(o, &neutral) {
            return Err(what());
        }
    }
    Ok(actions)
}

/// The same call but for its policy and probability.
fn same_call(a: &CallConfig, b: &CallConfig) -> bool {
    (a.to, a.endpoint) == (b.to, b.endpoint) && same(&a.group, &b.group)
}
