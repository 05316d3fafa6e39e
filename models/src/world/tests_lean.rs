//! The lean path (`lean.rs`) against the general path: the same world run both ways must give
//! the same `RunResult`, fingerprint and event count included, with timeouts firing, retries
//! after every kind of backoff, a lossy network and inherited deadlines.

use super::tests::{service, world};
use super::*;
use crate::config::{Backoff, Causes};

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn retry(max_attempts: u32, backoff: Backoff) -> Option<Retry> {
    Some(Retry {
        max_attempts,
        backoff,
        retry_on: Causes::ALL,
        budget: None,
    })
}

/// A client calling `front`, which calls an overloaded, failing `back`, every call with
/// `policy`, over a network with exponential latency that loses `loss` of its messages.
fn chain(policy: &CallPolicy, loss: f64) -> WorldConfig {
    let mut front = service("front", 2, 4, 1);
    front.service_time = Distribution::exponential(ms(2)).unwrap();
    front.calls = vec![CallConfig {
        to: ServiceId(1),
        endpoint: 0,
        probability: 1.0,
        group: None,
        publish: None,
        policy: policy.clone(),
    }];
    let mut back = service("back", 1, 3, 4);
    back.service_time = Distribution::exponential(ms(4)).unwrap();
    back.error_rate = 0.1;
    let mut cfg = world(vec![front, back], policy.clone(), 280.0);
    cfg.network.latency = Distribution::exponential(SimDuration::from_micros(300)).unwrap();
    cfg.network.loss = loss;
    cfg
}

/// Runs `cfg` on the lean path and on the general path (every edge's `lean` cleared), checks
/// that `lean` edges are lean, and returns both results.
fn both_ways(cfg: &WorldConfig, lean: usize) -> (RunResult, RunResult) {
    let fast = World::new(cfg, 11);
    assert_eq!(fast.edges.iter().filter(|e| e.lean).count(), lean);
    assert!(fast.edges.iter().all(|e| !e.plain));
    let mut general = World::new(cfg, 11);
    for e in &mut general.edges {
        e.lean = false;
    }
    (
        fast.run(RunOptions::default()),
        general.run(RunOptions::default()),
    )
}

#[test]
fn a_lean_edge_s_path_gives_the_general_path_s_results() {
    let exponential_timeout = Some(Distribution::exponential(ms(8)).unwrap());
    let policies = [
        // Checkout's policy: a fixed per-try timeout, retries after a full-jitter backoff.
        CallPolicy {
            timeout: Some(Distribution::Constant(ms(10))),
            retry: retry(
                3,
                Backoff::FullJitter {
                    base: ms(1),
                    cap: ms(20),
                },
            ),
            ..CallPolicy::default()
        },
        // Timeouts drawn per attempt, retries at once (made inline, in the handler).
        CallPolicy {
            timeout: exponential_timeout.clone(),
            retry: retry(4, Backoff::Immediate),
            ..CallPolicy::default()
        },
        CallPolicy {
            timeout: exponential_timeout,
            retry: retry(
                3,
                Backoff::Decorrelated {
                    base: ms(1),
                    cap: ms(30),
                },
            ),
            per_try_deadline: true,
            ..CallPolicy::default()
        },
        // A timeout alone (each call is one attempt), and retries without a timeout.
        CallPolicy {
            timeout: Some(Distribution::Constant(ms(10))),
            ..CallPolicy::default()
        },
        CallPolicy {
            retry: retry(
                3,
                Backoff::Exponential {
                    base: ms(2),
                    cap: ms(8),
                },
            ),
            ..CallPolicy::default()
        },
    ];
    for (i, policy) in policies.iter().enumerate() {
        for loss in [0.0, 0.05] {
            let (a, b) = both_ways(&chain(policy, loss), 2);
            let edges = &b.edges;
            assert!(edges.iter().all(|e| e.stats.ok > 0), "{i} {loss}");
            if policy.timeout.is_some() {
                assert!(
                    edges
                        .iter()
                        .all(|e| e.stats.failed_by(FailureCause::Timeout) > 0),
                    "{i} {loss}: {edges:?}"
                );
                assert!(edges.iter().any(|e| e.late_replies > 0), "{i} {loss}");
            }
            if policy.retry.is_some() {
                assert!(edges.iter().all(|e| e.retries > 0), "{i} {loss}");
            }
            if loss > 0.0 {
                assert!(edges.iter().all(|e| e.lost_messages > 0), "{i} {loss}");
            }
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "policy {i}, loss {loss}"
            );
        }
    }
}

#[test]
fn a_lean_edge_with_an_inherited_deadline_gives_the_general_path_s_results() {
    // The client's calls have a deadline (not lean), which `front` passes on to its calls to
    // `back` (lean): those start on the general path, with the deadline's timer, and end on
    // the lean one, some at the deadline.
    let lean = CallPolicy {
        timeout: Some(Distribution::Constant(ms(10))),
        retry: retry(
            3,
            Backoff::FullJitter {
                base: ms(1),
                cap: ms(20),
            },
        ),
        per_try_deadline: true,
        ..CallPolicy::default()
    };
    let mut cfg = chain(&lean, 0.02);
    cfg.services[0].propagate_deadline = true;
    cfg.clients[0].policy.deadline = Some(Distribution::Constant(ms(25)));
    let (a, b) = both_ways(&cfg, 1);
    assert!(b.edges[0].calls.failed_by(FailureCause::Timeout) > 0);
    assert!(b.edges[1].retries > 0 && b.edges[1].stats.ok > 0);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn an_edge_with_more_than_a_timeout_and_retries_is_not_lean() {
    let lean = CallPolicy {
        timeout: Some(Distribution::Constant(ms(10))),
        retry: retry(3, Backoff::Immediate),
        ..CallPolicy::default()
    };
    let mut budgeted = lean.clone();
    budgeted.retry.as_mut().unwrap().budget =
        Some(crate::policy::budget::RetryBudgetConfig::Envoy(
            crate::policy::budget::EnvoyRetryBudget::defaults(),
        ));
    let not_lean = [
        budgeted,
        CallPolicy {
            deadline: Some(Distribution::Constant(ms(50))),
            ..lean.clone()
        },
        CallPolicy {
            fallback: Some(Fallback::Static),
            ..lean.clone()
        },
        // A timeout outside the retries bounds the whole call: a call-level layer.
        CallPolicy {
            order: crate::config::Order([
                Layer::Timeout,
                Layer::Retry,
                Layer::Breaker,
                Layer::Bulkhead,
            ]),
            ..lean.clone()
        },
    ];
    let cfg = world(vec![service("a", 1, 10, 1)], lean, 10.0);
    assert!(World::new(&cfg, 1).edges[0].lean);
    for policy in not_lean {
        let cfg = world(vec![service("a", 1, 10, 1)], policy.clone(), 10.0);
        assert!(!World::new(&cfg, 1).edges[0].lean, "{policy:?}");
    }
}
