//! Tests of the trace documents, one file per room, and the tiny run they share.

mod chrome;
mod explain;
mod filter;
mod jsonl;

use std::collections::{BTreeMap, BTreeSet};

use models::metrics::FailureCause;
use models::trace::NONE;
use models::{Outcome, TraceKind, TraceNames, TraceRecord};
use sim_core::{SimDuration, SimTime};

use super::*;
use models::config::{
    Arrivals, Backoff, CallConfig, CallPolicy, ClientConfig, Execution, Fault, NetworkConfig,
    Objective, Retry, ServiceConfig, ServiceId, WorldConfig,
};
use models::{RunOptions, TraceBuffer, World};
use serde_json::Value;
use sim_core::Distribution;

fn service(name: &str, workers: u32, queue: u32, ms: u64) -> ServiceConfig {
    ServiceConfig {
        name: name.into(),
        workers,
        queue,
        service_time: Distribution::exponential(SimDuration::from_millis(ms)).expect("valid mean"),
        error_rate: 0.0,
        execution: Execution::ThreadPerRequest,
        calls: vec![],
        objective: Objective::default(),
        kind: models::config::ServiceKind::Worker,
        idempotent: true,
        idempotency_keys: false,
        propagate_deadline: false,
        abandonment: models::config::Abandonment::AtDequeue,
        backpressure: false,
        inbound: Default::default(),
        replicas: vec![0],
        lb: models::lb::LbPolicy::RoundRobin,
        health: Default::default(),
        endpoint_name: "default".into(),
        endpoints: Vec::new(),
        max_throughput_per_s: None,
    }
}

/// front -> back, back slowed x10 from 1 s to 2 s, 20 ms timeouts with 3 attempts.
fn config() -> WorldConfig {
    let policy = CallPolicy {
        timeout: Some(sim_core::Distribution::Constant(SimDuration::from_millis(
            20,
        ))),
        retry: Some(Retry {
            max_attempts: 3,
            backoff: Backoff::FullJitter {
                base: SimDuration::from_millis(2),
                cap: SimDuration::from_millis(50),
            },
            retry_on: models::config::Causes::ALL,
            budget: None,
        }),
        ..CallPolicy::default()
    };
    let mut front = service("front", 8, 16, 1);
    front.calls = vec![CallConfig {
        to: ServiceId(1),
        endpoint: 0,
        probability: 1.0,
        group: None,
        publish: None,
        policy: policy.clone(),
    }];
    WorldConfig {
        name: "tiny".into(),
        duration: SimDuration::from_secs(3),
        services: vec![front, service("back", 4, 4, 3)],
        clients: vec![ClientConfig {
            name: "users".into(),
            host: 0,
            requests: Vec::new(),
            profile: Vec::new(),
            to: ServiceId(0),
            arrivals: Arrivals::Poisson { rate_per_s: 300.0 },
            policy: CallPolicy {
                timeout: Some(sim_core::Distribution::Constant(SimDuration::from_millis(
                    100,
                ))),
                ..CallPolicy::default()
            },
            objective: Objective::default(),
        }],
        network: NetworkConfig {
            latency: Distribution::Constant(SimDuration::from_micros(500)),
            ..NetworkConfig::default()
        },
        faults: vec![Fault::Latency {
            service: ServiceId(1),
            endpoint: None,
            multiply: 10.0,
            add: SimDuration::ZERO,
            from: SimTime(1_000_000_000),
            to: SimTime(2_000_000_000),
        }],
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

fn run() -> (TraceNames, Vec<TraceRecord>) {
    let buffer = TraceBuffer::new();
    let world = World::new(&config(), 7);
    let names = world.trace_names();
    world.run(RunOptions {
        trace: Some(Box::new(buffer.clone())),
        ..RunOptions::default()
    });
    (names, buffer.take())
}

fn parse(expression: &str, names: &TraceNames) -> Result<Filter, FilterError> {
    Filter::parse(expression, names, scenarios::parse_duration)
}

/// The names of `run()` without running it: front (8 workers), back (4); users; edges
/// front -> back (0) and users -> front (1), services' first; the fault `back latency x10`.
fn names() -> TraceNames {
    World::new(&config(), 7).trace_names()
}

/// A record of `kind` at `t_ms`, for `request`, with the fields `set` gives it.
fn record(
    t_ms: u64,
    kind: TraceKind,
    request: u64,
    set: impl FnOnce(&mut TraceRecord),
) -> TraceRecord {
    let mut r = TraceRecord::new(SimTime(t_ms * 1_000_000), kind, request);
    set(&mut r);
    r
}
