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
        (
            "the run's settings",
            same(
                &(
                    old.duration,
                    old.window,
                    old.max_events,
                    old.memory_limit_bytes,
                ),
                &(
                    new.duration,
                    new.window,
                    new.max_events,
                    new.memory_limit_bytes,
                ),
            ),
        ),
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
                .chain(
                    s.endpoints
                        .iter()
                        .map(|e| (&e.service_time, e.error_rate, &e.calls)),
                )
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use models::ops::ChangeAction;
    use sim_core::{Distribution, SimDuration};

    const BASE: &str = r#"
Scenario(
    version: 1,
    name: "changing",
    duration: "60s",
    services: [
        Service(name: "front", replicas: 3, workers: 4, service_time: Constant(value: "1ms"),
                calls: [(to: "back", timeout: "100ms"), (to: "extra", probability: 0.5)]),
        Service(name: "back", workers: 2, service_time: Exponential(mean: "5ms")),
        Service(name: "extra", workers: 2, service_time: Exponential(mean: "5ms")),
    ],
    policies: (default: (timeout: "1s")),
    clients: [Client(name: "users", to: "front", arrivals: Poisson(rate_per_s: 100.0))],
    changes: [CHANGES],
)
"#;

    fn load(changes: &str) -> Result<crate::Loaded, String> {
        let text = BASE.replace("CHANGES", changes);
        crate::load_str(Path::new("changing.ron"), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_change_becomes_the_actions_that_differ_in_time_order() {
        let loaded = load(
            r#"(at: "20s", set: "edges.front->extra.probability", to: 0, rollout: "10s"),
               (at: "10s", set: "edges.front->back.timeout", to: "250ms")"#,
        )
        .expect("valid");
        let changes = &loaded.config.ops.changes;
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].description, "edges.front->back.timeout = 250ms");
        let [
            ChangeAction::Call {
                call,
                policy,
                probability,
                ..
            },
        ] = &changes[0].actions[..]
        else {
            panic!("{:?}", changes[0].actions)
        };
        assert_eq!((*call, *probability), (0, 1.0));
        assert_eq!(
            policy.timeout,
            Some(Distribution::Constant(SimDuration::from_millis(250)))
        );
        let [
            ChangeAction::Call {
                call: 1,
                probability,
                ..
            },
        ] = &changes[1].actions[..]
        else {
            panic!("{:?}", changes[1].actions)
        };
        assert_eq!(*probability, 0.0);
        // Spread over front's 3 replicas: 20 s, 25 s, 30 s.
        let at = |k| changes[1].at_replica(k, 3).as_nanos() / 1_000_000_000;
        assert_eq!((at(0), at(1), at(2)), (20, 25, 30));
    }

    #[test]
    fn a_default_policy_reaches_every_call_and_client_that_inherits_it() {
        let loaded =
            load(r#"(at: "5s", set: "policies.default.timeout", to: "2s")"#).expect("valid");
        let actions = &loaded.config.ops.changes[0].actions;
        // front -> extra and the client inherit the default; front -> back has its own.
        assert_eq!(actions.len(), 2, "{actions:?}");
        assert!(matches!(actions[0], ChangeAction::Call { call: 1, .. }));
        assert!(matches!(actions[1], ChangeAction::Client { .. }));
    }

    #[test]
    fn work_and_rate_limits_can_change() {
        let loaded = load(
            r#"(at: "5s", set: "services.back.error_rate", to: 0.25),
               (at: "6s", set: "services.back.inbound.rate_limit",
                to: "Resilience4j(limit_for_period: 10)")"#,
        )
        .expect("valid");
        let changes = &loaded.config.ops.changes;
        assert!(matches!(
            changes[0].actions[..],
            [ChangeAction::Work {
                error_rate: 0.25,
                ..
            }]
        ));
        assert!(matches!(
            changes[1].actions[..],
            [ChangeAction::RateLimit {
                rate_limit: Some(_),
                ..
            }]
        ));
    }

    #[test]
    fn what_cannot_change_mid_run_is_an_error_at_the_change() {
        for (change, line, expected) in [
            (
                r#"(at: "5s", set: "services.back.workers", to: 8)"#,
                14,
                "changes[0].set: \"services.back.workers\" changes service \"back\", which cannot change mid-run",
            ),
            (
                r#"(at: "5s", set: "duration", to: "2m")"#,
                14,
                "changes the run's settings",
            ),
            (
                r#"(at: "5s", set: "clients.users.arrivals.rate_per_s", to: 5)"#,
                14,
                "changes client \"users\"",
            ),
            (
                r#"(at: "5s", set: "edges.front->back.breaker", to: "(flavor: resilience4j)")"#,
                14,
                "changes service \"front\"'s call",
            ),
            (
                r#"(at: "5s", set: "services.bak.error_rate", to: 0.1)"#,
                14,
                "changes[0].set: no service named \"bak\"",
            ),
            (
                r#"(at: "5s", set: "services.back.error_rate", to: 1.5)"#,
                14,
                "changes[0].to: after this change, services[1].error_rate",
            ),
            (
                r#"(at: "90s", set: "services.back.error_rate", to: 0.5)"#,
                14,
                "changes[0].at: the change at 90s is not before the end of the run (60s)",
            ),
        ] {
            let err = load(change).expect_err(change);
            assert!(err.contains(expected), "{change}: {err}");
            assert!(
                err.starts_with(&format!("changing.ron:{line}:")),
                "{change}: {err}"
            );
        }
    }
}
