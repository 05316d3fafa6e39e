//! The world's unit tests: one request's exact timing, queues and retries, execution models,
//! faults, late replies, and the domain trace.

use super::*;
use crate::config::{Backoff, NetworkConfig, Objective};

pub(super) fn service(name: &str, workers: u32, queue: u32, ms: u64) -> ServiceConfig {
    ServiceConfig {
        name: name.into(),
        workers,
        queue,
        service_time: Distribution::Constant(SimDuration::from_millis(ms)),
        error_rate: 0.0,
        execution: Execution::ThreadPerRequest,
        calls: vec![],
        objective: Objective::default(),
        kind: ServiceKind::Worker,
        idempotent: true,
        idempotency_keys: false,
        propagate_deadline: false,
        abandonment: crate::config::Abandonment::AtDequeue,
        backpressure: false,
        inbound: Default::default(),
        replicas: vec![0],
        lb: crate::lb::LbPolicy::RoundRobin,
        health: Default::default(),
        endpoint_name: "default".into(),
        endpoints: Vec::new(),
        max_throughput_per_s: None,
    }
}

pub(super) fn world(services: Vec<ServiceConfig>, policy: CallPolicy, rate: f64) -> WorldConfig {
    WorldConfig {
        name: "t".into(),
        duration: SimDuration::from_secs(10),
        services,
        clients: vec![ClientConfig {
            name: "users".into(),
            host: 0,
            requests: Vec::new(),
            profile: Vec::new(),
            to: ServiceId(0),
            arrivals: Arrivals::Constant { rate_per_s: rate },
            policy,
            objective: Objective::default(),
        }],
        network: NetworkConfig::default(),
        faults: vec![],
        window: SimDuration::SECOND,
        max_events: u64::MAX,
        memory_limit_bytes: u64::MAX,
        topology: Default::default(),
        clocks: Vec::new(),
        ops: Default::default(),
        stores: Vec::new(),
        brokers: Default::default(),
        sagas: Vec::new(),
        two_phase: Vec::new(),
    }
}

#[test]
fn a_lone_request_takes_exactly_its_work() {
    let mut cfg = world(
        vec![service("a", 1, 0, 5)],
        CallPolicy::default(),
        10.0, // every 100 ms: never overlaps
    );
    cfg.network.latency = Distribution::Constant(SimDuration::from_millis(1));
    let r = World::new(&cfg, 1).run(RunOptions::default());
    let c = &r.clients[0].stats;
    assert_eq!(c.requests, 100);
    assert_eq!(c.ok, 100);
    assert_eq!(c.latency.min(), SimDuration::from_millis(7));
    assert_eq!(c.latency.max(), SimDuration::from_millis(7));
    let a = &r.services[0];
    assert_eq!(a.busy_ns(), 100 * 5_000_000);
    assert!((a.utilisation(cfg.duration) - 0.05).abs() < 1e-12);
}

#[test]
fn full_queue_rejects_and_timeouts_retry() {
    // One worker, no queue, 20 ms work, arrivals every 10 ms: every other request finds the
    // worker busy and is rejected.
    let cfg = world(vec![service("a", 1, 0, 20)], CallPolicy::default(), 100.0);
    let r = World::new(&cfg, 1).run(RunOptions::default());
    let c = &r.clients[0].stats;
    // The last accepted request (at 9.98 s) would finish at the exclusive end time, 10 s.
    assert_eq!(c.ok, 499);
    assert_eq!(c.failed_by(FailureCause::Rejected), 500);
    assert_eq!(c.in_flight(), 1);

    // A 5 ms timeout on 20 ms work: every attempt times out; 3 attempts each.
    let policy = CallPolicy {
        timeout: Some(Distribution::Constant(SimDuration::from_millis(5))),
        retry: Some(Retry {
            max_attempts: 3,
            backoff: Backoff::Constant(SimDuration::from_millis(1)),
            retry_on: crate::config::Causes::ALL,
            budget: None,
        }),
        ..CallPolicy::default()
    };
    let cfg = world(vec![service("a", 100, 100, 20)], policy, 10.0);
    let r = World::new(&cfg, 1).run(RunOptions::default());
    let c = &r.clients[0];
    assert_eq!(c.stats.failed_by(FailureCause::Timeout), 100);
    assert_eq!(c.attempts, 300);
    assert_eq!(c.retries, 200);
    // 3 tries of 5 ms plus 2 backoffs of 1 ms.
    assert_eq!(r.services[0].stats.failed_by(FailureCause::Timeout), 300);
    assert_eq!(r.services[0].wasted_work, 300);
    assert_eq!(r.edges[0].late_replies, 300);
}

#[test]
fn thread_per_request_holds_workers_async_does_not() {
    // front (1 worker, 1 ms) -> back (10 workers, 9 ms); a request every 5 ms.
    let run = |execution| {
        let mut front = service("front", 1, 1000, 1);
        front.execution = execution;
        front.calls = vec![CallConfig {
            to: ServiceId(1),
            endpoint: 0,
            probability: 1.0,
            group: None,
            publish: None,
            policy: CallPolicy::default(),
        }];
        let cfg = world(
            vec![front, service("back", 10, 10, 9)],
            CallPolicy::default(),
            200.0,
        );
        World::new(&cfg, 1).run(RunOptions::default())
    };
    let held = run(Execution::ThreadPerRequest);
    let released = run(Execution::Async);
    // Holding the worker for 10 ms per request at 200/s is 2 Erlangs on 1 worker: overload.
    assert!(held.services[0].utilisation(SimDuration::from_secs(10)) > 0.99);
    assert!(held.clients[0].stats.latency.quantile(0.5) > SimDuration::from_secs(1));
    // Released after 1 ms: 20% busy, every request takes exactly 10 ms.
    let u = released.services[0].utilisation(SimDuration::from_secs(10));
    assert!((u - 0.2).abs() < 0.001, "utilisation {u}");
    assert_eq!(
        released.clients[0].stats.latency.max(),
        SimDuration::from_millis(10)
    );
}

#[test]
fn latency_fault_multiplies_work_inside_its_window() {
    let mut cfg = world(vec![service("a", 10, 0, 2)], CallPolicy::default(), 10.0);
    cfg.faults = vec![Fault::Latency {
        service: ServiceId(0),
        endpoint: None,
        multiply: 10.0,
        add: SimDuration::ZERO,
        from: SimTime(2_000_000_000),
        to: SimTime(4_000_000_000),
    }];
    let r = World::new(&cfg, 1).run(RunOptions::default());
    let c = &r.clients[0].stats;
    assert_eq!(c.latency.max(), SimDuration::from_millis(20));
    assert_eq!(c.latency.min(), SimDuration::from_millis(2));
    // Arrivals at 0, 100 ms, ...: those in [2 s, 4 s) are slowed: 20 of 100.
    let near = |d: SimDuration, ms: f64| (d.as_millis_f64() / ms - 1.0).abs() <= 1.0 / 256.0;
    assert!(near(c.latency.quantile(0.81), 20.0));
    assert!(near(c.latency.quantile(0.79), 2.0));
}

/// Regression: a late reply was once charged to whatever edge its call's slot held by the
/// time it arrived. A fast edge that never times out can have no late replies.
#[test]
fn late_replies_stay_on_their_own_edge() {
    let mut front = service("front", 50, 50, 1);
    let slow = CallPolicy {
        timeout: Some(Distribution::Constant(SimDuration::from_millis(3))),
        ..CallPolicy::default()
    };
    front.calls = vec![
        CallConfig {
            to: ServiceId(1),
            endpoint: 0,
            probability: 1.0,
            group: None,
            publish: None,
            policy: slow,
        },
        CallConfig {
            to: ServiceId(2),
            endpoint: 0,
            probability: 1.0,
            group: None,
            publish: None,
            policy: CallPolicy::default(),
        },
    ];
    let mut slow_service = service("slow", 50, 50, 0);
    slow_service.service_time = Distribution::exponential(SimDuration::from_millis(3)).unwrap();
    let mut cfg = world(
        vec![front, slow_service, service("fast", 50, 50, 1)],
        CallPolicy::default(),
        300.0,
    );
    cfg.clients[0].arrivals = Arrivals::Poisson { rate_per_s: 300.0 };
    cfg.network.latency = Distribution::exponential(SimDuration::from_micros(500)).unwrap();
    let r = World::new(&cfg, 3).run(RunOptions::default());
    let timeouts = r.services[1].stats.failed_by(FailureCause::Timeout);
    assert!(
        timeouts > 100,
        "the slow edge must time out often: {timeouts}"
    );
    assert!(r.edges[0].late_replies > 0);
    assert!(r.edges[0].late_replies <= timeouts);
    assert_eq!(r.edges[1].late_replies, 0);
}

/// Runs `cfg` with and without the trace; the run must not notice.
fn traced(cfg: &WorldConfig, seed: u64) -> (RunResult, Vec<TraceRecord>) {
    let buffer = crate::TraceBuffer::new();
    let options = RunOptions {
        trace: Some(Box::new(buffer.clone())),
        ..RunOptions::default()
    };
    let with = World::new(cfg, seed).run(options);
    let without = World::new(cfg, seed).run(RunOptions::default());
    assert_eq!(with.outcome, without.outcome, "tracing changed the run");
    assert_eq!(format!("{with:?}"), format!("{without:?}"));
    (with, buffer.take())
}

fn kinds(records: &[TraceRecord], request: u64) -> Vec<TraceKind> {
    records
        .iter()
        .filter(|r| r.request == request)
        .map(|r| r.kind)
        .collect()
}

#[test]
fn trace_follows_one_request_through_its_timeouts_and_retries() {
    // The timeout case above: 3 attempts of 5 ms on 20 ms work, 1 ms backoff.
    let policy = CallPolicy {
        timeout: Some(Distribution::Constant(SimDuration::from_millis(5))),
        retry: Some(Retry {
            max_attempts: 3,
            backoff: Backoff::Constant(SimDuration::from_millis(1)),
            retry_on: crate::config::Causes::ALL,
            budget: None,
        }),
        ..CallPolicy::default()
    };
    let cfg = world(vec![service("a", 100, 100, 20)], policy, 10.0);
    let (_, records) = traced(&cfg, 1);
    use TraceKind::*;
    let attempt = [AttemptSent, Delivered, WorkStart];
    let mut expected = vec![RequestStart];
    for last in [false, false, true] {
        expected.extend(attempt);
        expected.push(Timeout);
        expected.push(if last {
            RequestFinished
        } else {
            RetryScheduled
        });
    }
    // Timeouts at 5, 11 and 17 ms; each attempt's work ends later, with a late reply.
    let story = kinds(&records, 1);
    let finished = story.iter().filter(|k| **k == RequestFinished).count();
    assert_eq!(finished, 1);
    let late = story.iter().filter(|k| **k == LateReply).count();
    assert_eq!(late, 3, "{story:?}");
    let early: Vec<TraceKind> = records
        .iter()
        .filter(|r| r.request == 1 && r.time <= SimTime(17_000_000))
        .filter(|r| !matches!(r.kind, WorkDone | WorkerReleased | ReplySent | LateReply))
        .map(|r| r.kind)
        .collect();
    assert_eq!(early, expected);
    let first = records.iter().find(|r| r.kind == RetryScheduled).unwrap();
    assert_eq!(first.duration, SimDuration::from_millis(1));
    assert_eq!(first.number, 2);
    assert_eq!(first.outcome, Some(Outcome::Failed(FailureCause::Timeout)));
    let end = records.iter().find(|r| r.kind == RequestFinished).unwrap();
    assert_eq!(end.duration, SimDuration::from_millis(17));
    assert_eq!(end.client, 0);
    // Request ids follow the arrivals: 100 requests, ids 1..=100.
    let starts: Vec<u64> = records
        .iter()
        .filter(|r| r.kind == RequestStart)
        .map(|r| r.request)
        .collect();
    assert_eq!(starts, (1..=100).collect::<Vec<u64>>());
}

#[test]
fn trace_attributes_downstream_calls_and_keeps_worker_slots_exclusive() {
    // front (2 workers, thread-per-request) -> back (3 workers): busy enough to queue.
    let mut front = service("front", 2, 1000, 1);
    front.calls = vec![CallConfig {
        to: ServiceId(1),
        endpoint: 0,
        probability: 1.0,
        group: None,
        publish: None,
        policy: CallPolicy::default(),
    }];
    let mut back = service("back", 3, 1000, 0);
    back.service_time = Distribution::exponential(SimDuration::from_millis(3)).unwrap();
    let mut cfg = world(vec![front, back], CallPolicy::default(), 300.0);
    cfg.clients[0].arrivals = Arrivals::Poisson { rate_per_s: 300.0 };
    cfg.network.latency = Distribution::exponential(SimDuration::from_micros(200)).unwrap();
    let (result, records) = traced(&cfg, 5);
    assert!(records.windows(2).all(|w| w[0].time <= w[1].time));
    // Every attempt's parent is an attempt of the same request (or the client).
    let mut request_of = std::collections::BTreeMap::new();
    for r in records.iter().filter(|r| r.kind == TraceKind::AttemptSent) {
        request_of.insert(r.attempt, r.request);
        if r.parent != 0 {
            assert_eq!(request_of[&r.parent], r.request);
            assert_eq!(r.service, 1);
        } else {
            assert_eq!(r.service, 0);
        }
    }
    for r in &records {
        if r.attempt != 0 {
            assert_eq!(request_of[&r.attempt], r.request, "{r:?}");
        }
    }
    // A slot is held by one attempt at a time, and slots stay below the workers.
    let workers = [2, 3];
    let mut holder = [vec![0u64; 2], vec![0u64; 3]];
    let mut starts = 0;
    for r in &records {
        let slot = r.worker as usize;
        match r.kind {
            TraceKind::WorkStart => {
                assert!(r.worker < workers[r.service as usize]);
                assert_eq!(holder[r.service as usize][slot], 0, "{r:?}");
                holder[r.service as usize][slot] = r.attempt;
                starts += 1;
            }
            TraceKind::WorkerReleased => {
                assert_eq!(holder[r.service as usize][slot], r.attempt);
                holder[r.service as usize][slot] = 0;
            }
            _ => {}
        }
    }
    assert!(starts > 1000);
    let queued = records
        .iter()
        .filter(|r| r.kind == TraceKind::Queued)
        .count();
    assert!(queued > 0, "the front queues sometimes");
    let finished = records
        .iter()
        .filter(|r| r.kind == TraceKind::RequestFinished)
        .count() as u64;
    let c = &result.clients[0].stats;
    assert_eq!(finished, c.requests - c.in_flight());
}

#[test]
fn trace_names_the_fault_that_slowed_the_work() {
    let mut cfg = world(vec![service("a", 10, 0, 2)], CallPolicy::default(), 10.0);
    cfg.faults = vec![Fault::Latency {
        service: ServiceId(0),
        endpoint: None,
        multiply: 10.0,
        add: SimDuration::ZERO,
        from: SimTime(2_000_000_000),
        to: SimTime(4_000_000_000),
    }];
    let (result, records) = traced(&cfg, 1);
    let work: Vec<&TraceRecord> = records
        .iter()
        .filter(|r| r.kind == TraceKind::WorkStart)
        .collect();
    assert_eq!(work.len(), 100);
    for r in work {
        if r.time >= SimTime(2_000_000_000) && r.time < SimTime(4_000_000_000) {
            assert_eq!((r.fault, r.slowed_by), (0, 10.0));
            assert_eq!(r.duration, SimDuration::from_millis(20));
        } else {
            assert_eq!((r.fault, r.slowed_by), (NONE, 1.0));
        }
    }
    let names = crate::TraceNames::of(&result);
    assert_eq!(names.faults, ["a latency x10"]);
    assert_eq!(names, World::new(&cfg, 1).trace_names());
}

#[test]
fn mirrored_call_statistics_are_the_recorded_ones() {
    // front (1 worker, 1 ms, a 5 ms timeout on its call) -> back (1 worker, 4 ms, a short
    // queue): answers, rejections and timeouts on both edges.
    let mut front = service("front", 1, 50, 1);
    front.calls = vec![CallConfig {
        to: ServiceId(1),
        endpoint: 0,
        probability: 1.0,
        group: None,
        publish: None,
        policy: CallPolicy {
            timeout: Some(Distribution::Constant(SimDuration::from_millis(5))),
            ..CallPolicy::default()
        },
    }];
    let mut back = service("back", 1, 2, 4);
    back.service_time = Distribution::exponential(SimDuration::from_millis(4)).unwrap();
    let cfg = world(vec![front, back], CallPolicy::default(), 300.0);
    let mirrored = World::new(&cfg, 3);
    assert!(mirrored.edges.iter().all(|e| e.calls_mirror_attempts));
    // Each service has one calling edge report, which sends every attempt it makes.
    assert!(mirrored.services.iter().all(|s| s.stats_mirror.is_some()));
    let mut recorded = World::new(&cfg, 3);
    for e in &mut recorded.edges {
        e.calls_mirror_attempts = false;
    }
    for s in &mut recorded.services {
        s.stats_mirror = None;
    }
    let (a, b) = (
        mirrored.run(RunOptions::default()),
        recorded.run(RunOptions::default()),
    );
    for (m, r) in a.edges.iter().zip(&b.edges) {
        assert!(r.calls.ok > 0 && r.calls.failed() > 0, "{r:?}");
        assert_eq!(m.calls, r.calls);
        assert_eq!(m.stats, r.stats);
    }
    assert_eq!(a.clients[0].stats, b.clients[0].stats);
    for (m, r) in a.services.iter().zip(&b.services) {
        assert!(r.stats.ok > 0 && r.stats.failed() > 0, "{r:?}");
        assert_eq!(m.stats, r.stats);
    }
}

#[test]
fn a_service_whose_caller_may_not_send_records_its_own_statistics() {
    // A bulkhead can refuse an attempt before it leaves: the edge counts it, the service never
    // sees it.
    let policy = CallPolicy {
        bulkhead: Some(crate::config::Bulkhead::Semaphore {
            max_concurrent_calls: 1,
            max_wait_duration: SimDuration::ZERO,
        }),
        ..CallPolicy::default()
    };
    let cfg = world(vec![service("a", 1, 10, 20)], policy, 100.0);
    let w = World::new(&cfg, 1);
    assert_eq!(w.services[0].stats_mirror, None);
    let r = w.run(RunOptions::default());
    assert!(r.edges[0].stats.failed_by(FailureCause::BulkheadFull) > 0);
    assert_eq!(r.services[0].stats.failed_by(FailureCause::BulkheadFull), 0);
}

#[test]
fn only_one_attempt_calls_mirror_their_attempts() {
    let timeout = Some(Distribution::Constant(SimDuration::from_millis(5)));
    let plain = CallPolicy {
        timeout: timeout.clone(),
        ..CallPolicy::default()
    };
    assert!(one_attempt_per_call(&plain, false));
    // An inherited deadline can fail a call before its attempt is made.
    assert!(!one_attempt_per_call(&plain, true));
    let retry = Retry {
        max_attempts: 2,
        backoff: Backoff::Constant(SimDuration::from_millis(1)),
        retry_on: crate::config::Causes::ALL,
        budget: None,
    };
    let others = [
        CallPolicy {
            deadline: timeout.clone(),
            ..plain.clone()
        },
        CallPolicy {
            retry: Some(retry),
            ..plain.clone()
        },
        CallPolicy {
            fallback: Some(Fallback::Static),
            ..plain.clone()
        },
    ];
    for policy in &others {
        assert!(!one_attempt_per_call(policy, false), "{policy:?}");
    }
}

#[test]
fn work_below_a_caller_that_gave_up_is_wasted_down_the_chain() {
    // client -> front (1 ms) -> back (20 ms); the client gives up after 5 ms, while back works.
    // `awaited` takes its shortcut until the first timeout breaks a chain, then must walk
    // back's chain up through front's job to the client's dropped attempt.
    let chain = |policy: CallPolicy| {
        let mut front = service("front", 100, 100, 1);
        front.calls = vec![CallConfig {
            to: ServiceId(1),
            endpoint: 0,
            probability: 1.0,
            group: None,
            publish: None,
            policy: CallPolicy::default(),
        }];
        let cfg = world(vec![front, service("back", 100, 100, 20)], policy, 10.0);
        World::new(&cfg, 1).run(RunOptions::default())
    };
    let patient = chain(CallPolicy::default());
    assert_eq!(patient.clients[0].stats.ok, 100);
    assert_eq!(patient.services[0].wasted_work, 0);
    assert_eq!(patient.services[1].wasted_work, 0);
    let hasty = chain(CallPolicy {
        timeout: Some(Distribution::Constant(SimDuration::from_millis(5))),
        ..CallPolicy::default()
    });
    assert_eq!(hasty.clients[0].stats.failed_by(FailureCause::Timeout), 100);
    assert_eq!(hasty.services[1].wasted_work, 100);
    assert_eq!(hasty.services[0].wasted_work, 100);
}

#[test]
fn a_plain_edge_s_fast_path_gives_the_general_path_s_results() {
    // A chain without policies: every edge takes the fast path (`plain.rs`). Errors at the back,
    // a small queue at the front and network latency give failures, rejections and dependency
    // failures.
    let mut front = service("front", 2, 4, 1);
    front.service_time = Distribution::exponential(SimDuration::from_millis(2)).unwrap();
    front.calls = vec![CallConfig {
        to: ServiceId(1),
        endpoint: 0,
        probability: 1.0,
        group: None,
        publish: None,
        policy: CallPolicy::default(),
    }];
    let mut back = service("back", 1, 3, 4);
    back.service_time = Distribution::exponential(SimDuration::from_millis(4)).unwrap();
    back.error_rate = 0.1;
    let mut cfg = world(vec![front, back], CallPolicy::default(), 280.0);
    cfg.network.latency = Distribution::exponential(SimDuration::from_micros(300)).unwrap();
    // Both ends of the fast path (`plain_start_call`, `on_lone_reply`) against the
    // general path, over a network without loss and over one that loses messages (a lost
    // request leaves its call in flight, as the general path's `send` leaves it).
    for loss in [0.0, 0.05] {
        cfg.network.loss = loss;
        let fast = World::new(&cfg, 5);
        assert!(fast.edges.iter().all(|e| e.plain));
        let mut general = World::new(&cfg, 5);
        for e in &mut general.edges {
            e.plain = false;
        }
        let (a, b) = (
            fast.run(RunOptions::default()),
            general.run(RunOptions::default()),
        );
        let back = &b.services[1].stats;
        assert!(
            back.ok > 0 && back.failed_by(FailureCause::Error) > 0,
            "{back:?}"
        );
        assert!(b.services[0].stats.failed_by(FailureCause::Rejected) > 0);
        assert!(b.clients[0].stats.failed_by(FailureCause::Dependency) > 0);
        if loss > 0.0 {
            assert!(b.edges.iter().all(|e| e.lost_messages > 0), "{loss}");
        }
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "loss {loss}");
    }
}

#[test]
fn an_edge_with_any_policy_is_not_plain() {
    let policies = [
        CallPolicy {
            timeout: Some(Distribution::Constant(SimDuration::from_millis(5))),
            ..CallPolicy::default()
        },
        CallPolicy {
            deadline: Some(Distribution::Constant(SimDuration::from_millis(5))),
            ..CallPolicy::default()
        },
        CallPolicy {
            retry: Some(Retry {
                max_attempts: 2,
                backoff: Backoff::Constant(SimDuration::from_millis(1)),
                retry_on: crate::config::Causes::ALL,
                budget: None,
            }),
            ..CallPolicy::default()
        },
    ];
    for policy in policies {
        let cfg = world(vec![service("a", 1, 10, 1)], policy.clone(), 10.0);
        assert!(!World::new(&cfg, 1).edges[0].plain, "{policy:?}");
    }
}
