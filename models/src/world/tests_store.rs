//! Store operations under retries: a caller's own workload draws the operation once, at the
//! origin, and every attempt of the call carries it; the store's own draw is per attempt.

use std::collections::BTreeMap;

use super::*;
use crate::config::{Backoff, Causes, NetworkConfig, Objective, Retry};
use crate::data::workload::{Keys, Origin, Workload};
use crate::data::{Popularity, ReadFrom, Replication, Sessions, StoreConfig};

/// One client calling a three-replica synchronous store whose followers apply a write in
/// 50 ms while the coordinator waits 10 ms: every write fails (`unavailable`) and is retried,
/// up to three attempts; reads at the leader succeed at once.
fn config(workload: Option<Workload>) -> WorldConfig {
    let db = ServiceConfig {
        name: "db".into(),
        workers: 64,
        queue: 256,
        service_time: Distribution::Constant(SimDuration::from_micros(500)),
        error_rate: 0.0,
        execution: Execution::ThreadPerRequest,
        calls: vec![],
        objective: Objective::default(),
        kind: ServiceKind::Store,
        idempotent: true,
        idempotency_keys: false,
        propagate_deadline: false,
        abandonment: crate::config::Abandonment::AtDequeue,
        backpressure: false,
        inbound: Default::default(),
        replicas: vec![0, 0, 0],
        lb: crate::lb::LbPolicy::RoundRobin,
        health: Default::default(),
        endpoint_name: "default".into(),
        endpoints: Vec::new(),
        max_throughput_per_s: None,
    };
    let policy = CallPolicy {
        retry: Some(Retry {
            max_attempts: 3,
            backoff: Backoff::Constant(SimDuration::from_millis(1)),
            retry_on: Causes::ALL,
            budget: None,
        }),
        ..CallPolicy::default()
    };
    WorldConfig {
        name: "retries".into(),
        duration: SimDuration::from_secs(5),
        services: vec![db],
        clients: vec![ClientConfig {
            name: "app".into(),
            host: 0,
            requests: Vec::new(),
            profile: Vec::new(),
            to: ServiceId(0),
            arrivals: Arrivals::Constant { rate_per_s: 100.0 },
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
        stores: vec![StoreConfig {
            service: 0,
            keys: 1000,
            popularity: Popularity::Uniform,
            writes: 0.5,
            replication: Replication::Sync,
            read_from: ReadFrom::Leader,
            sessions: Sessions::default(),
            timeout: SimDuration::from_millis(10),
            apply: Distribution::Constant(SimDuration::from_millis(50)),
            heartbeat: SimDuration::from_millis(100),
            failover_after: SimDuration::SECOND,
            promotion_delay: SimDuration::SECOND,
            lease: None,
            history: 200_000,
            workloads: workload.into_iter().collect(),
        }],
        brokers: Default::default(),
        sagas: Vec::new(),
        two_phase: Vec::new(),
    }
}

/// Runs the world and returns, per call, the (key, write) of each operation it began.
fn operations_by_call(cfg: &WorldConfig) -> BTreeMap<u64, Vec<(u32, bool)>> {
    let mut world = World::new(cfg, 1);
    let mut sim = Simulation::new(Limits {
        end: SimTime::ZERO + cfg.duration,
        max_events: u64::MAX,
    });
    world.schedule_first_events(sim.scheduler());
    sim.run(&mut world);
    let mut by_call: BTreeMap<u64, Vec<(u32, bool)>> = BTreeMap::new();
    for &(serial, key, write) in &world.stores[0].begun {
        by_call.entry(serial.0).or_default().push((key, write));
    }
    by_call
}

#[test]
fn a_retry_resends_the_key_and_kind_its_workload_drew() {
    let workload = Workload {
        origin: Origin::Client(0),
        keys: Keys::Range {
            from: 100,
            count: 900,
        },
        popularity: Popularity::Uniform,
        writes: 0.5,
    };
    let by_call = operations_by_call(&config(Some(workload)));
    let retried: Vec<&Vec<(u32, bool)>> = by_call.values().filter(|ops| ops.len() > 1).collect();
    // About half of the 500 calls write, and each write is tried three times.
    assert!(retried.len() > 150, "{} calls retried", retried.len());
    for ops in &retried {
        assert_eq!(ops.len(), 3, "{ops:?}");
        assert!(ops.iter().all(|&op| op == ops[0]), "{ops:?}");
        assert!(ops[0].1 && (100..1000).contains(&ops[0].0), "{ops:?}");
    }
}

/// Without a workload of its own the store's coordinator draws each attempt afresh, as before
/// workloads existed (kept so that existing scenarios replay byte for byte).
#[test]
fn without_a_workload_each_attempt_is_drawn_at_the_store() {
    let by_call = operations_by_call(&config(None));
    let redrawn = by_call
        .values()
        .filter(|ops| ops.iter().any(|&op| op != ops[0]))
        .count();
    assert!(redrawn > 100, "{redrawn} calls redrawn");
}
