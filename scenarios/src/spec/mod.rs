//! The scenario file's types, exactly as written in RON. Names here are the names in the file,
//! in the Rust types and in the reports.

use serde::Deserialize;

use crate::duration::{Duration, SignedDuration};
use crate::size::ByteSize;

pub mod broker;
mod inbound;
mod network;
mod ops;
pub mod rollout;
mod saga;
mod serverless;
mod service;
mod store;
mod tune;
mod twopc;
mod waiting;
pub use inbound::{Inbound, RateLimit, Shed};
pub use network::{CutMode, Direction, Link, Network, Partition};
pub use ops::{
    Autoscale, AutoscaleFlavor, AutoscaleMetric, Change, ChangeValue, Probe, Probes, ScalingPolicy,
    ScalingRules, SelectPolicy,
};
pub use saga::SagaStep;
pub use serverless::Serverless;
use service::yes;
pub use service::{
    Clock, Endpoint, HealthCheck, Join, Jump, Lb, Objective, Outlier, Place, Placement, Region,
    Service, ServiceKind, SpreadLevel, Topology, Zone,
};
pub use store::{
    Keys, Lease, Popularity, ReadFrom, Replication, Resolve, Session, Store, Workload,
};
pub use tune::Tune;
pub use twopc::TwoPhase;
pub use waiting::{Abandonment, DeadlineSent, Patience, QueueSize, WhenFull};

/// Defines a struct with the policy fields a call, a client and `policies.default` share
/// (serde's `flatten` does not combine with `deny_unknown_fields`, so they are spelled out
/// once here). The marker `policy_fields: (),` says where they go.
macro_rules! with_policy_fields {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)*
            policy_fields: (),
            $($(#[$gmeta:meta])* pub $gfield:ident: $gty:ty,)*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
    /// Per-attempt timeout (a timeout placed outside `Retry` in `order` bounds the whole call):
        /// a duration, or a distribution drawn afresh for every attempt.
        #[serde(default)]
        pub timeout: Option<Patience>,
        /// Overall budget of the call, all attempts included (Envoy route timeout, gRPC
        /// deadline): a duration, or a distribution drawn for every call (the patience of users
        /// who abandon a page).
        #[serde(default)]
        pub deadline: Option<Patience>,
        /// The deadline the callee is told: `Call` (default: what is left of the call's
        /// deadline, as gRPC) or `PerTry` (also bounded by the per-try timeout, as Envoy's
        /// `x-envoy-expected-rq-timeout-ms`).
        #[serde(default)]
        pub deadline_sent: Option<DeadlineSent>,
        #[serde(default)]
        pub retry: Option<Retry>,
        /// gRPC hedging (instead of `retry`).
        #[serde(default)]
        pub hedge: Option<Hedge>,
        #[serde(default)]
        pub bulkhead: Option<Bulkhead>,
        #[serde(default)]
        pub breaker: Option<Breaker>,
        /// Envoy outlier detection over the callee's replicas.
        #[serde(default)]
        pub outlier: Option<Outlier>,
        #[serde(default)]
        pub fallback: Option<Fallback>,
        /// Google SRE client-side adaptive throttling.
        #[serde(default)]
        pub throttle: Option<Throttle>,
        /// Composition order, outermost first: a permutation of Retry, Breaker, Bulkhead, Timeout.
        #[serde(default)]
        pub order: Option<Vec<Layer>>,
            $($(#[$gmeta])* pub $gfield: $gty,)*
        }
    };
}

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The format version; only `1` exists.
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Simulated time to run.
    pub duration: Duration,
    /// Regions, zones and hosts (default: one host).
    #[serde(default)]
    pub topology: Option<Topology>,
    /// Host clocks that are not ideal.
    #[serde(default)]
    pub clocks: Vec<Clock>,
    pub services: Vec<Service>,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub policies: Policies,
    pub clients: Vec<Client>,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub limits: Limits,
    /// Width of the time-series windows (default 1 s).
    #[serde(default)]
    pub window: Option<Duration>,
    /// What `faultline check` requires of this scenario across seeds.
    #[serde(default)]
    pub expect: Vec<Expectation>,
    /// Mid-run changes: `--set` paths set at a simulated time.
    #[serde(default)]
    pub changes: Vec<Change>,
    /// Replicated stores on services' replicas.
    #[serde(default)]
    pub stores: Vec<Store>,
    /// What `faultline tune` searches (ignored by every other command).
    #[serde(default)]
    pub tune: Option<Tune>,
}

/// A requirement checked by `faultline check` over a range of seeds.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Expectation {
    /// Availability of a client (end to end) or a service (as its callers saw it).
    Availability {
        of: String,
        at_least: f64,
        #[serde(default)]
        over: Over,
    },
    /// A latency quantile (default 0.99) of a client or service's successful requests.
    Latency {
        of: String,
        #[serde(default = "default_quantile")]
        quantile: f64,
        at_most: Duration,
        #[serde(default)]
        over: Over,
    },
    /// Attempts per logical request: of a client, its own; of a service, the attempts it
    /// received per request entering from all clients.
    Amplification {
        of: String,
        at_most: f64,
        #[serde(default)]
        over: Over,
    },
    /// The service never becomes unhealthy after a fault starts (on any seed).
    NoCascadeInto { service: String },
    /// Every fault's impact ends within this time after the fault ends (on every seed).
    RecoveryWithin { within: Duration },
    /// The service never executes a logical call's work twice (on any seed): retries and
    /// hedges of a non-idempotent service are covered by idempotency keys.
    NoDuplicateSideEffects { service: String },
}

fn default_quantile() -> f64 {
    0.99
}

/// How an expectation's per-seed values are combined.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum Over {
    /// The worst seed must meet it.
    #[default]
    Worst,
    /// The mean over seeds must meet it.
    Mean,
}

/// One kind of request of a client, and how often it is sent.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub endpoint: String,
    pub weight: f64,
}

/// A piece of a client's load profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Load {
    /// From `at` on, the rate is `rate_per_s`.
    Step { at: Duration, rate_per_s: f64 },
    /// From `from` to `to` the rate goes linearly to `rate_per_s`, and stays there.
    Ramp {
        from: Duration,
        to: Duration,
        rate_per_s: f64,
    },
}

/// Whether a worker stays held while its request waits for downstream calls.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum Execution {
    #[default]
    ThreadPerRequest,
    Async,
}

with_policy_fields! {
/// A step of a call plan: one call, or a parallel step; its policy fields override
/// `policies.default` field by field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// The service called; or, instead, `parallel` calls joined by `join`.
    #[serde(default)]
    pub to: Option<String>,
    /// The callee's endpoint (default: its first).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Made with this probability (default 1): an optional call.
    #[serde(default)]
    pub probability: Option<f64>,
    /// Calls made at once, as one step of the plan.
    #[serde(default)]
    pub parallel: Vec<Call>,
    /// When a parallel step is over: `All` (default), `First`, `Quorum(k)`.
    #[serde(default)]
    pub join: Option<Join>,
    /// Instead of `to`: one of these calls, chosen by `weight` (either/or, one draw per step).
    #[serde(default)]
    pub one_of: Vec<Call>,
    /// The weight of a `one_of` member (default 1).
    #[serde(default)]
    pub weight: Option<f64>,
    /// Instead of `to`: the queue this step publishes a message to.
    #[serde(default)]
    pub publish: Option<String>,
    /// For `publish`: wait for the broker's ack (default true) or go on at once.
    #[serde(default)]
    pub ack: Option<bool>,
    /// For `publish`: write to the service's store first, as a dual write or an outbox.
    #[serde(default)]
    pub after_write: Option<broker::AfterWrite>,
    /// For `after_write`: how long the write takes to be acknowledged (default 1 ms).
    #[serde(default)]
    pub write_time: Option<Duration>,
    /// For a call to a store: this step's own keys, popularity and writes.
    #[serde(default)]
    pub workload: Option<store::Workload>,
    /// For `publish`: the message key each publishing call draws (a FIFO queue's message
    /// group, a topic's partition).
    #[serde(default)]
    pub key: Option<broker::PublishKey>,
    policy_fields: (),
}
}

/// A duration distribution.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Distribution {
    Constant {
        value: Duration,
    },
    Exponential {
        mean: Duration,
    },
    /// Described by its median and 99th percentile, the way people describe latency.
    LogNormal {
        median: Duration,
        p99: Duration,
    },
    /// `|N(mean, sd)|`: a normal folded at zero, never negative.
    FoldedNormal {
        mean: Duration,
        sd: Duration,
    },
    /// The deprecated spelling of [`Distribution::FoldedNormal`]: it always sampled the
    /// folded normal, never a plain one. Accepted with a warning.
    Normal {
        mean: Duration,
        sd: Duration,
    },
}

/// Mesh-wide defaults for every call edge (service calls and clients).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    #[serde(default)]
    pub default: Policy,
}

with_policy_fields! {
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    policy_fields: (),
}
}

/// Retry of failed attempts. Unset fields take the flavor's defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Whose defaults and counting apply (default `resilience4j`).
    #[serde(default)]
    pub flavor: Option<Flavor>,
    /// Attempts in total, including the first call (Resilience4j, gRPC, AWS).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Retries after the first call (Polly `MaxRetryAttempts`, Envoy `num_retries`).
    #[serde(default)]
    pub max_retries: Option<u32>,
    #[serde(default)]
    pub backoff: Option<Backoff>,
    /// The failures that are retried (default: all).
    #[serde(default)]
    pub retry_on: Option<Vec<Cause>>,
    /// A limit on retries across the edge's calls.
    #[serde(default)]
    pub budget: Option<Budget>,
}

/// A retry budget; unset fields take the library's defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Budget {
    /// Envoy `retry_budget` (20 %, 3).
    Envoy {
        #[serde(default)]
        budget_percent: Option<f64>,
        #[serde(default)]
        min_retry_concurrency: Option<u32>,
    },
    /// gRPC `retryThrottling` (10, 0.1).
    Grpc {
        #[serde(default)]
        max_tokens: Option<u32>,
        #[serde(default)]
        token_ratio: Option<f64>,
    },
    /// Finagle `RetryBudget` (10 s, 10 per second, 20 %).
    Finagle {
        #[serde(default)]
        ttl: Option<Duration>,
        #[serde(default)]
        min_retries_per_sec: Option<u32>,
        #[serde(default)]
        percent_can_retry: Option<f64>,
    },
    /// botocore's standard-mode retry quota (500, 5, 10, 1).
    Aws {
        #[serde(default)]
        initial_capacity: Option<u32>,
        #[serde(default)]
        retry_cost: Option<u32>,
        #[serde(default)]
        timeout_retry_request: Option<u32>,
        #[serde(default)]
        no_retry_increment: Option<u32>,
    },
}

/// Google SRE adaptive throttling (K 2, window 2 minutes).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    #[serde(default)]
    pub k: Option<f64>,
    #[serde(default)]
    pub window: Option<Duration>,
}

/// The library whose semantics a policy follows.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Resilience4j,
    Polly,
    Hystrix,
    Envoy,
    Grpc,
    Finagle,
    Aws,
}

/// A failure cause, as in the reports.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Cause {
    Timeout,
    Rejected,
    Error,
    Dependency,
    CircuitOpen,
    BulkheadFull,
    RateLimited,
    Shed,
    Throttled,
    Conflict,
    Unavailable,
}

/// gRPC `hedgingPolicy`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hedge {
    /// Copies in total, the original included (2..=5).
    pub max_attempts: u32,
    /// Between copies; zero sends them all at once.
    #[serde(default)]
    pub delay: Option<Duration>,
    /// Failures after which the next copy goes at once; any other failure ends the call.
    #[serde(default)]
    pub non_fatal: Vec<Cause>,
}

/// A caller-side bulkhead (Resilience4j).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Bulkhead {
    Semaphore {
        /// Default 25.
        #[serde(default)]
        max_concurrent_calls: Option<u32>,
        /// Default 0: fail at once when full.
        #[serde(default)]
        max_wait_duration: Option<Duration>,
    },
    ThreadPool {
        core_thread_pool_size: u32,
        /// Default 100.
        #[serde(default)]
        queue_capacity: Option<u32>,
    },
}

/// A circuit breaker: the flavor's defaults (Resilience4j unless said), with any of
/// Resilience4j's parameters overridden.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breaker {
    #[serde(default)]
    pub flavor: Option<Flavor>,
    #[serde(default)]
    pub sliding_window_type: Option<WindowType>,
    #[serde(default)]
    pub sliding_window_size: Option<u32>,
    #[serde(default)]
    pub minimum_number_of_calls: Option<u32>,
    #[serde(default)]
    pub failure_rate_threshold: Option<f64>,
    #[serde(default)]
    pub slow_call_rate_threshold: Option<f64>,
    #[serde(default)]
    pub slow_call_duration_threshold: Option<Duration>,
    #[serde(default)]
    pub wait_duration_in_open_state: Option<Duration>,
    #[serde(default)]
    pub permitted_number_of_calls_in_half_open_state: Option<u32>,
    #[serde(default)]
    pub max_wait_duration_in_half_open_state: Option<Duration>,
    #[serde(default)]
    pub automatic_transition_from_open_to_half_open_enabled: Option<bool>,
}

/// A breaker's sliding window: the last N calls, or the last N seconds.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum WindowType {
    CountBased,
    TimeBased,
}

/// What the caller answers instead of a failure; the answer counts as degraded.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Fallback {
    Static,
    Cached { ttl: Duration },
    Skip,
}

/// A composable policy layer.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Layer {
    Retry,
    Breaker,
    Bulkhead,
    Timeout,
}

/// The wait before retry n (n = 1 first): `expo(n) = min(cap, base * 2^n)` as in the AWS
/// Architecture Blog's "Exponential Backoff And Jitter".
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Backoff {
    /// Retry at once.
    #[default]
    Immediate,
    Constant {
        delay: Duration,
    },
    Exponential {
        base: Duration,
        cap: Duration,
    },
    FullJitter {
        base: Duration,
        cap: Duration,
    },
    EqualJitter {
        base: Duration,
        cap: Duration,
    },
    Decorrelated {
        base: Duration,
        cap: Duration,
    },
}

with_policy_fields! {
/// An open-loop client sending requests to one service.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub name: String,
    pub to: String,
    /// The host its requests leave from (default: the first host).
    #[serde(default)]
    pub host: Option<String>,
    /// Request types with weights (default: every request to the first endpoint).
    #[serde(default)]
    pub requests: Vec<Request>,
    /// Changes of the rate over time (steps and ramps), for rate-based arrivals.
    #[serde(default)]
    pub profile: Vec<Load>,
    pub arrivals: Arrivals,
    /// For a client of a store: its own keys, popularity and writes.
    #[serde(default)]
    pub workload: Option<store::Workload>,
    policy_fields: (),
    #[serde(default)]
    pub objective: Option<Objective>,
}
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Arrivals {
    Poisson {
        rate_per_s: f64,
    },
    Constant {
        rate_per_s: f64,
    },
    /// Users that each want one successful conditional write to a `Record` service.
    ReadModifyWrite {
        users: u32,
    },
    /// Users that send a request, wait for it, think, and send the next.
    ClosedLoop {
        users: u32,
        think_time: Distribution,
    },
}

/// A scripted fault, or a seeded random process of faults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Fault {
    /// Multiplies (default 1) the service time of requests starting in `[from, to)`, then adds
    /// `add` (default 0).
    Latency {
        service: String,
        /// Only this endpoint of the service (default: all).
        #[serde(default)]
        endpoint: Option<String>,
        #[serde(default)]
        multiply: Option<f64>,
        #[serde(default)]
        add: Option<Duration>,
        from: Duration,
        to: Duration,
    },
    /// Messages between the places of `a` and of `b` (both ways unless `one_way`) are slower:
    /// times `multiply` (default 1), plus `add` (default 0), when sent in `[from, to)`.
    LinkLatency {
        a: Vec<Place>,
        b: Vec<Place>,
        #[serde(default)]
        one_way: bool,
        #[serde(default)]
        multiply: Option<f64>,
        #[serde(default)]
        add: Option<Duration>,
        from: Duration,
        to: Duration,
    },
    /// Requests fail with an error with probability `rate` in `[from, to)`.
    Errors {
        service: String,
        rate: f64,
        from: Duration,
        to: Duration,
    },
    /// Replica `replica` of the service hangs at `at`: it keeps accepting connections and
    /// never answers, until a liveness probe restarts it (`probes` on the service).
    Hang {
        service: String,
        #[serde(default)]
        replica: u32,
        at: Duration,
    },
    /// Requests arriving in `[from, to)` are accepted and never answered.
    BlackHole {
        service: String,
        from: Duration,
        to: Duration,
    },
    /// The target crashes at `at` and, with `restart_after`, comes back, cold.
    Crash {
        target: Target,
        at: Duration,
        #[serde(default)]
        restart_after: Option<Duration>,
        #[serde(default)]
        cold_start: Option<ColdStart>,
    },
    /// Every replica (or host) of the target fails and is repaired at random, again and again.
    Chaos {
        target: Target,
        mttf: Distribution,
        mttr: Distribution,
        #[serde(default)]
        cold_start: Option<ColdStart>,
        /// Repairers shared by this fault's units (default: one per unit, never waited for):
        /// a unit that fails while every crew is busy waits, first come first served.
        #[serde(default)]
        crews: Option<u32>,
    },
    /// Service time grows with each replica's uptime; past `crash_above` it crashes.
    Leak {
        service: String,
        growth_per_hour: f64,
        #[serde(default)]
        crash_above: Option<f64>,
        restart_after: Duration,
    },
    /// A client sends `multiply` times its rate in `[from, to)`.
    LoadSpike {
        client: String,
        multiply: f64,
        from: Duration,
        to: Duration,
    },
}

/// What a crash or chaos process hits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Target {
    /// One replica of a service, by its index (0..replicas).
    Replica {
        service: String,
        index: u32,
    },
    /// The deprecated spelling of [`Target::Replica`], accepted with a warning.
    Instance {
        service: String,
        index: u32,
    },
    Service(String),
    Host(String),
    Zone(String),
    Region(String),
}

/// Slower for a while after a restart.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColdStart {
    pub duration: Duration,
    pub multiply: f64,
}

/// When a run stops early.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The run stops after this many events with a partial report (default 100,000,000: about
    /// ten seconds of a busy world; every library scenario needs less than a quarter of it).
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// The memory a run may use (default 2 GiB): what it allocates up front (windows, replicas,
    /// users, call plans) is checked against it before the run, and the run stops with a
    /// partial report if what grows while it runs (pending events, requests in flight) passes it.
    #[serde(default = "default_memory")]
    pub memory: ByteSize,
}

fn default_max_events() -> u64 {
    100_000_000
}

fn default_memory() -> ByteSize {
    ByteSize(2 * ByteSize::GIB)
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: default_max_events(),
            memory: default_memory(),
        }
    }
}

/// The policy fields a call or client sets, as a [`Policy`].
macro_rules! policy_of {
    ($t:ty) => {
        impl $t {
            pub fn policy(&self) -> Policy {
                Policy {
                    timeout: self.timeout.clone(),
                    deadline: self.deadline.clone(),
                    deadline_sent: self.deadline_sent,
                    retry: self.retry.clone(),
                    hedge: self.hedge.clone(),
                    bulkhead: self.bulkhead.clone(),
                    breaker: self.breaker.clone(),
                    outlier: self.outlier.clone(),
                    fallback: self.fallback.clone(),
                    throttle: self.throttle.clone(),
                    order: self.order.clone(),
                }
            }
        }
    };
}

policy_of!(Call);
policy_of!(Client);

impl Policy {
    /// This policy with every unset field taken from `default`.
    pub fn or(self, default: &Policy) -> Policy {
        Policy {
            timeout: self.timeout.or_else(|| default.timeout.clone()),
            deadline: self.deadline.or_else(|| default.deadline.clone()),
            deadline_sent: self.deadline_sent.or(default.deadline_sent),
            retry: self.retry.or_else(|| default.retry.clone()),
            hedge: self.hedge.or_else(|| default.hedge.clone()),
            bulkhead: self.bulkhead.or_else(|| default.bulkhead.clone()),
            breaker: self.breaker.or_else(|| default.breaker.clone()),
            outlier: self.outlier.or_else(|| default.outlier.clone()),
            fallback: self.fallback.or_else(|| default.fallback.clone()),
            throttle: self.throttle.or_else(|| default.throttle.clone()),
            order: self.order.or_else(|| default.order.clone()),
        }
    }
}
