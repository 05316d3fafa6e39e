//! A service and what it is built from: kind, placement, load balancing, endpoints.

use serde::Deserialize;

use super::*;

/// One service: workers, a bounded FIFO queue, local work and downstream calls.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// Requests served at once.
    pub workers: u32,
    /// Requests that may wait for a worker, per replica: a number (default 0: no waiting) or
    /// `Unbounded`.
    #[serde(default)]
    pub queue: QueueSize,
    pub service_time: Distribution,
    /// Probability that a request fails with an error after its local work (default 0).
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default)]
    pub execution: Execution,
    /// Downstream calls, made one after another after the local work.
    #[serde(default)]
    pub calls: Vec<Call>,
    /// Instead of `calls`: an orchestrated saga's steps (issue 14).
    #[serde(default)]
    pub saga: Vec<SagaStep>,
    /// Whether the service keeps a durable saga log for its sagas (its own and its
    /// endpoints'): a replica that restarts after a crash resumes the sagas it was running.
    #[serde(default)]
    pub saga_log: bool,
    /// Instead of `calls`: the participants of a two-phase commit it coordinates (issue 14).
    #[serde(default)]
    pub two_phase: Option<TwoPhase>,
    /// What healthy means for the health and cascade analysis.
    #[serde(default)]
    pub objective: Option<Objective>,
    /// `Worker` (default) or `Record`: one versioned record with compare-and-set writes.
    #[serde(default)]
    pub kind: ServiceKind,
    /// Whether executing a request twice is harmless (default true).
    #[serde(default = "yes")]
    pub idempotent: bool,
    /// Remember idempotency keys: a repeat gets the stored answer (default false).
    #[serde(default)]
    pub idempotency_keys: bool,
    /// Pass the remaining deadline on to downstream calls and drop expired queued requests.
    #[serde(default)]
    pub propagate_deadline: bool,
    /// What becomes of a queued request whose caller gives up: `AtDequeue` (default: it stays
    /// queued; dropped when a worker reaches it if `propagate_deadline`, else served for
    /// nobody) or `Renege` (it leaves the queue at once, as a gRPC server's cancelled call).
    #[serde(default)]
    pub abandonment: Abandonment,
    /// What a request finds when the queue is full: `Reject` (default: refused, `rejected`) or
    /// `Backpressure` (its sender waits, holding what it holds, until a place frees).
    #[serde(default)]
    pub when_full: WhenFull,
    /// Protections on the inbound side (a sidecar): load shedding.
    #[serde(default)]
    pub inbound: Inbound,
    /// The name of the service's own endpoint (default `default`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// More endpoints, each with its own work and calls.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// Replicas, each with `workers` and `queue` of its own (default 1).
    #[serde(default = "one")]
    pub replicas: u32,
    /// Where the replicas run (default: spread across zones).
    #[serde(default)]
    pub placement: Option<Placement>,
    /// How each caller balances over the replicas (default RoundRobin, Envoy's default).
    #[serde(default)]
    pub lb: Lb,
    /// How callers learn which replicas are alive (default Unchecked).
    #[serde(default)]
    pub health: HealthCheck,
    /// An autoscaler: `replicas` is then the count at the start.
    #[serde(default)]
    pub autoscale: Option<Autoscale>,
    /// Kubernetes liveness and readiness probes.
    #[serde(default)]
    pub probes: Option<Probes>,
    /// A broker's queues (`kind: Broker`).
    #[serde(default)]
    pub queues: Vec<broker::Queue>,
    /// The queue this service consumes.
    #[serde(default)]
    pub consume: Option<broker::Consume>,
    /// Versions of the service's code; `stable` (default: the first) runs from the start.
    #[serde(default)]
    pub versions: Vec<rollout::Version>,
    #[serde(default)]
    pub stable: Option<String>,
    /// The deployment of another version while the run goes.
    #[serde(default)]
    pub rollout: Option<rollout::Rollout>,
    /// A broker's Kafka-like topics (`kind: Broker`).
    #[serde(default)]
    pub topics: Vec<broker::Topic>,
    /// The topic this service consumes as a consumer group, one member per replica.
    #[serde(default)]
    pub subscribe: Option<broker::Subscribe>,
    /// A serverless function: instances on demand instead of `replicas` (`Serverless`).
    #[serde(default)]
    pub serverless: Option<Serverless>,
}

fn one() -> u32 {
    1
}

/// Regions of zones of hosts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub regions: Vec<Region>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
    pub zones: Vec<Zone>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub name: String,
    pub hosts: Vec<String>,
}

/// A host's local clock.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    pub host: String,
    /// Local minus true time at 0.
    #[serde(default)]
    pub offset: Option<SignedDuration>,
    /// Parts per million fast (negative: slow).
    #[serde(default)]
    pub drift_ppm: i64,
    /// Steps of the clock (an NTP step), at true times.
    #[serde(default)]
    pub jumps: Vec<Jump>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jump {
    pub at: Duration,
    pub by: SignedDuration,
}

/// Where a service's replicas run.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Placement {
    /// On these hosts, one replica each, in order (a host may repeat).
    Hosts(Vec<String>),
    /// Round robin across the zones (or hosts, or regions) of the topology or of one zone or
    /// region; `strict` allows at most one replica per unit.
    Spread {
        across: SpreadLevel,
        #[serde(default)]
        within: Option<Place>,
        #[serde(default)]
        strict: bool,
    },
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum SpreadLevel {
    Hosts,
    Zones,
    Regions,
}

/// A named part of the topology.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub enum Place {
    Host(String),
    Zone(String),
    Region(String),
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum Lb {
    #[default]
    RoundRobin,
    Random,
    LeastRequest,
    PowerOfTwoChoices,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum HealthCheck {
    #[default]
    Unchecked,
    Perfect,
    Active {
        interval: Duration,
        timeout: Duration,
        #[serde(default)]
        unhealthy_threshold: Option<u32>,
        #[serde(default)]
        healthy_threshold: Option<u32>,
    },
}

/// Envoy outlier detection.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outlier {
    #[serde(default)]
    pub consecutive_5xx: Option<u32>,
    #[serde(default)]
    pub consecutive_gateway_failure: Option<u32>,
    #[serde(default)]
    pub interval: Option<Duration>,
    #[serde(default)]
    pub base_ejection_time: Option<Duration>,
    #[serde(default)]
    pub max_ejection_percent: Option<u32>,
    #[serde(default)]
    pub max_ejection_time: Option<Duration>,
    #[serde(default)]
    pub enforcing_consecutive_5xx: Option<u32>,
    #[serde(default)]
    pub enforcing_consecutive_gateway_failure: Option<u32>,
}

pub(super) fn yes() -> bool {
    true
}

/// What a service does with a request.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub enum ServiceKind {
    #[default]
    Worker,
    Record,
    /// A database: `workers` is its connection pool, shared by every caller, and at most
    /// `max_throughput_per_s` operations start per second (per replica).
    Database {
        max_throughput_per_s: f64,
    },
    /// A message broker holding `queues`; a call to it with `publish` stores a message.
    Broker,
    /// A worker whose work time, calls and outcome a behaviour registered under this name
    /// decides per request; only the `faultline` library can register one.
    Custom(String),
}

/// What healthy means in one window: `(availability: 0.999, p99: "200ms")`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// Lowest acceptable share of successful requests (default 0.99).
    #[serde(default)]
    pub availability: Option<f64>,
    /// Highest acceptable p99 latency (default: 3x the p99 seen before the first fault).
    #[serde(default)]
    pub p99: Option<Duration>,
}

/// When a parallel step is over.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Join {
    All,
    First,
    Quorum(u16),
}

/// Another endpoint of a service: its own work and calls.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub name: String,
    pub service_time: Distribution,
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default)]
    pub calls: Vec<Call>,
    /// Instead of `calls`: an orchestrated saga's steps (issue 14).
    #[serde(default)]
    pub saga: Vec<SagaStep>,
    /// Instead of `calls`: the participants of a two-phase commit it coordinates (issue 14).
    #[serde(default)]
    pub two_phase: Option<TwoPhase>,
}
