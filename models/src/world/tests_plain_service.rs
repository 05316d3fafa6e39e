//! The short path of plain services (`plain_service.rs`) against the general path, and which
//! services are plain.

use super::tests::{service, world};
use super::*;
use crate::config::{ColdStart, Target};

/// Runs `cfg` twice at `seed`, once as wired and once with every service on the general path,
/// checks that the wiring made `plain` the services it should, and compares the two reports
/// whole (a 1 ns or one-count difference fails).
fn check_same(cfg: &WorldConfig, seed: u64, plain: &[bool]) -> RunResult {
    let fast = World::new(cfg, seed);
    let marked: Vec<bool> = fast.specs.iter().map(|s| s.plain).collect();
    assert_eq!(marked, plain);
    let mut general = World::new(cfg, seed);
    for spec in &mut general.specs {
        spec.plain = false;
        spec.plain_plans = false;
    }
    let (a, b) = (
        fast.run(RunOptions::default()),
        general.run(RunOptions::default()),
    );
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "seed {seed}");
    b
}

fn call(to: u32) -> CallConfig {
    CallConfig {
        to: ServiceId(to),
        endpoint: 0,
        probability: 1.0,
        group: None,
        publish: None,
        policy: CallPolicy::default(),
    }
}

/// A front calling a back that errs, both with small queues, under latency and error faults
/// and chaos with cold starts, behind a client that times out and retries: rejections, errors,
/// dependency failures, crashes, duplicate executions and wasted work all happen.
fn busy_chain() -> WorldConfig {
    let exp = |us: u64| Distribution::exponential(SimDuration::from_micros(us)).unwrap();
    let mut front = service("front", 2, 4, 1);
    front.service_time = exp(2_000);
    front.calls = vec![call(1)];
    // The client's retries execute its calls again: side effects twice.
    front.idempotent = false;
    let mut back = service("back", 1, 3, 4);
    back.service_time = exp(4_000);
    back.error_rate = 0.1;
    let client = CallPolicy {
        timeout: Some(Distribution::Constant(SimDuration::from_millis(30))),
        retry: Some(Retry {
            max_attempts: 3,
            backoff: crate::config::Backoff::Constant(SimDuration::from_millis(2)),
            retry_on: crate::config::Causes::ALL,
            budget: None,
        }),
        ..CallPolicy::default()
    };
    let mut cfg = world(vec![front, back], client, 280.0);
    cfg.clients[0].arrivals = Arrivals::Poisson { rate_per_s: 280.0 };
    cfg.network.latency = exp(300);
    let secs = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
    cfg.faults = vec![
        Fault::Latency {
            service: ServiceId(1),
            endpoint: None,
            multiply: 3.0,
            add: SimDuration::from_micros(100),
            from: secs(2),
            to: secs(4),
        },
        Fault::Errors {
            service: ServiceId(0),
            rate: 0.2,
            from: secs(5),
            to: secs(6),
        },
        Fault::Chaos {
            target: Target::Service(ServiceId(1)),
            mttf: Distribution::exponential(SimDuration::from_secs(2)).unwrap(),
            mttr: Distribution::Constant(SimDuration::from_millis(200)),
            cold_start: Some(ColdStart {
                duration: SimDuration::from_millis(500),
                multiply: 2.0,
            }),
            crews: None,
        },
    ];
    cfg
}

#[test]
fn a_plain_service_s_short_path_gives_the_general_path_s_results() {
    let cfg = busy_chain();
    for seed in [1, 2] {
        let r = check_same(&cfg, seed, &[true, true]);
        let (front, back) = (&r.services[0], &r.services[1]);
        assert!(front.stats.failed_by(FailureCause::Rejected) > 0, "{seed}");
        assert!(back.stats.failed_by(FailureCause::Error) > 0, "{seed}");
        assert!(
            front.stats.failed_by(FailureCause::Dependency) > 0,
            "{seed}"
        );
        assert!(back.replicas[0].crashes > 0, "{seed}");
        assert!(front.duplicate_side_effects > 0, "{seed}");
        assert!(
            front.wasted_work > 0 && back.wasted_work > 0,
            "{seed} {} {}",
            front.wasted_work,
            back.wasted_work
        );
    }
}

#[test]
fn plain_and_general_services_side_by_side_give_the_general_path_s_results() {
    // The front works asynchronously (plain), the back sheds by queue length (not plain): a
    // plain service's calls end at a general one and the other way round.
    let mut cfg = busy_chain();
    cfg.services[0].execution = Execution::Async;
    cfg.services[1].inbound.shed = Some(Shed::QueueLength { max: 2 });
    let r = check_same(&cfg, 3, &[true, false]);
    assert!(r.services[1].stats.failed_by(FailureCause::Shed) > 0);
    // A network without latency: replies reach their callers inside the callee's event.
    let mut cfg = busy_chain();
    cfg.network.latency = Distribution::Constant(SimDuration::ZERO);
    cfg.services[0].calls[0].policy.timeout =
        Some(Distribution::Constant(SimDuration::from_millis(8)));
    let r = check_same(&cfg, 4, &[true, true]);
    assert!(r.services[1].stats.ok > 0);
}

#[test]
fn a_plain_service_s_plan_takes_the_short_path_only_when_every_call_is_certain() {
    // A plan of two certain calls (the short path's), then one with an optional call (the
    // general `next_downstream`), each against the general path.
    let mut cfg = busy_chain();
    cfg.services.push(service("side", 2, 8, 1));
    cfg.services[0].calls.push(call(2));
    assert!(World::new(&cfg, 1).specs[0].plain_plans);
    let r = check_same(&cfg, 6, &[true, true, true]);
    assert!(r.services[2].stats.ok > 0);
    cfg.services[0].calls[1].probability = 0.5;
    assert!(!World::new(&cfg, 1).specs[0].plain_plans);
    let r = check_same(&cfg, 6, &[true, true, true]);
    assert!(r.services[2].stats.ok > 0);
}

#[test]
fn a_service_with_any_feature_beyond_workers_queue_and_plan_is_not_plain() {
    let base = || {
        let mut cfg = world(vec![service("a", 1, 10, 1)], CallPolicy::default(), 10.0);
        cfg.services[0].execution = Execution::Async;
        cfg
    };
    assert!(World::new(&base(), 1).specs[0].plain);
    type Change = Box<dyn Fn(&mut WorldConfig)>;
    let changes: Vec<(&str, Change)> = vec![
        (
            "kind",
            Box::new(|c| c.services[0].kind = ServiceKind::Record),
        ),
        ("keys", Box::new(|c| c.services[0].idempotency_keys = true)),
        (
            "deadline",
            Box::new(|c| c.services[0].propagate_deadline = true),
        ),
        (
            "renege",
            Box::new(|c| c.services[0].abandonment = crate::config::Abandonment::Renege),
        ),
        (
            "backpressure",
            Box::new(|c| c.services[0].backpressure = true),
        ),
        (
            "throughput",
            Box::new(|c| c.services[0].max_throughput_per_s = Some(10.0)),
        ),
        (
            "shed",
            Box::new(|c| c.services[0].inbound.shed = Some(Shed::QueueLength { max: 1 })),
        ),
        (
            "leak",
            Box::new(|c| {
                c.faults = vec![Fault::Leak {
                    service: ServiceId(0),
                    growth_per_hour: 1.0,
                    crash_above: None,
                    restart_after: SimDuration::SECOND,
                }]
            }),
        ),
        (
            "black hole",
            Box::new(|c| {
                c.faults = vec![Fault::BlackHole {
                    service: ServiceId(0),
                    from: SimTime::ZERO,
                    to: SimTime::ZERO + SimDuration::SECOND,
                }]
            }),
        ),
    ];
    for (what, change) in changes {
        let mut cfg = base();
        change(&mut cfg);
        assert!(!World::new(&cfg, 1).specs[0].plain, "{what}");
    }
}
