//! The fast path of plain edges (`plain.rs`), whose calls keep their one attempt themselves
//! (`LoneAttempt`), against the general path, which builds an `Attempt` record per call: the
//! same world run both ways must give the same `RunResult`, fingerprint and event count
//! included, where requests are lost, crashes leave them in flight, a parallel step lets its
//! calls go and late replies come back, and a record's version travels back to its reader.

use super::tests::{service, world};
use super::*;
use crate::config::{Abandonment, Backoff, Causes, Group, Join, Target};

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
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

/// Runs `cfg` at `seed` with its plain edges on the fast path and again with every edge on
/// the general path, checks that `plain` edges are plain, compares the two results whole and
/// returns the general path's.
fn check_same(cfg: &WorldConfig, seed: u64, plain: usize) -> RunResult {
    let fast = World::new(cfg, seed);
    assert_eq!(fast.edges.iter().filter(|e| e.plain).count(), plain);
    let mut general = World::new(cfg, seed);
    for e in &mut general.edges {
        e.plain = false;
    }
    let (a, b) = (
        fast.run(RunOptions::default()),
        general.run(RunOptions::default()),
    );
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "seed {seed}");
    b
}

#[test]
fn a_plain_call_lost_or_left_in_flight_by_a_crash_ends_as_the_general_path_s() {
    // A client calling front, whose plan calls back, which crashes often: jobs die with their
    // process and their calls stay in flight to the end (no timeout), as do requests the
    // network loses.
    let mut front = service("front", 4, 8, 1);
    front.service_time = Distribution::exponential(ms(2)).unwrap();
    front.calls = vec![call(1)];
    let mut back = service("back", 2, 4, 3);
    back.service_time = Distribution::exponential(ms(3)).unwrap();
    back.error_rate = 0.05;
    let mut cfg = world(vec![front, back], CallPolicy::default(), 300.0);
    cfg.clients[0].arrivals = Arrivals::Poisson { rate_per_s: 300.0 };
    cfg.network.latency = Distribution::exponential(SimDuration::from_micros(400)).unwrap();
    cfg.network.loss = 0.02;
    cfg.faults = vec![Fault::Chaos {
        target: Target::Service(ServiceId(1)),
        mttf: Distribution::exponential(SimDuration::from_secs(1)).unwrap(),
        mttr: Distribution::Constant(ms(100)),
        cold_start: None,
        crews: None,
    }];
    for seed in [1, 2] {
        let r = check_same(&cfg, seed, 2);
        assert!(r.services[1].replicas[0].crashes > 0, "{seed}");
        assert!(r.edges.iter().all(|e| e.lost_messages > 0), "{seed}");
        let (client, back) = (&r.clients[0].stats, &r.services[1].stats);
        assert!(client.in_flight() > 0 && back.in_flight() > 0, "{seed}");
        assert!(client.failed_by(FailureCause::Dependency) > 0, "{seed}");
    }
}

#[test]
fn a_parallel_step_lets_its_plain_calls_go_as_the_general_path_does() {
    // Front asks a fast and a slow back in parallel and takes the first answer: the step is
    // decided without the slow call, which is let go (cancelled) while its job waits in a
    // reneging queue or works on; its reply comes back late.
    let first = Some(Group {
        id: 1,
        join: Join::First,
    });
    let mut front = service("front", 8, 16, 1);
    front.calls = vec![
        CallConfig {
            group: first,
            ..call(1)
        },
        CallConfig {
            group: first,
            ..call(2)
        },
    ];
    let mut fast = service("fast", 2, 8, 1);
    fast.service_time = Distribution::exponential(ms(1)).unwrap();
    let mut slow = service("slow", 1, 6, 6);
    slow.service_time = Distribution::exponential(ms(6)).unwrap();
    slow.abandonment = Abandonment::Renege;
    let mut cfg = world(vec![front, fast, slow], CallPolicy::default(), 200.0);
    cfg.clients[0].arrivals = Arrivals::Poisson { rate_per_s: 200.0 };
    cfg.network.latency = Distribution::exponential(SimDuration::from_micros(300)).unwrap();
    let r = check_same(&cfg, 3, 3);
    let slow_edge = r
        .edges
        .iter()
        .find(|e| e.to == "slow")
        .expect("front -> slow");
    assert!(slow_edge.stats.cancelled > 0 && slow_edge.late_replies > 0);
    assert!(r.services[2].reneged.unwrap_or(0) > 0);
    assert!(r.services[2].wasted_work > 0);
    // Over a network without latency every reply reaches its caller inside the callee's event.
    cfg.network.latency = Distribution::Constant(SimDuration::ZERO);
    let r = check_same(&cfg, 4, 3);
    assert!(r.edges.iter().any(|e| e.stats.cancelled > 0));
}

#[test]
fn a_record_s_version_travels_back_over_a_plain_edge() {
    // Users read a record and write it back with the version they read, and after a conflict
    // read it again (the retry is the users', so their edge stays plain): a version carried
    // back wrongly changes which writes conflict.
    let mut record = service("record", 2, 50, 1);
    record.kind = ServiceKind::Record;
    record.service_time = Distribution::exponential(ms(1)).unwrap();
    let users_retry = CallPolicy {
        retry: Some(Retry {
            max_attempts: 50,
            backoff: Backoff::Constant(ms(3)),
            retry_on: Causes::ALL,
            budget: None,
        }),
        ..CallPolicy::default()
    };
    let mut cfg = world(vec![record], users_retry, 1.0);
    cfg.clients[0].arrivals = Arrivals::ReadModifyWrite { users: 20 };
    cfg.network.latency = Distribution::exponential(SimDuration::from_micros(500)).unwrap();
    let r = check_same(&cfg, 5, 1);
    let record = &r.services[0];
    assert!(
        record.writes > 0 && record.write_conflicts > 0,
        "{record:?}"
    );
    assert!(record.write_conflicts < record.writes);
    assert_eq!(r.clients[0].stats.ok, 20, "every user wrote in the end");
}
