//! The validated description of a world, as built by the `scenarios` crate.
//!
//! Ids are dense indices into the vectors of [`WorldConfig`]; the scenario loader guarantees
//! they are in range and that the call graph is acyclic, and [`crate::World::new`] asserts it.

use sim_core::{Distribution, SimDuration, SimTime};

use crate::metrics::FailureCause;
/// The network's configuration is the network module's own, validated once by the loader.
pub use crate::network::NetworkConfig;

/// Index of a service in [`WorldConfig::services`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(pub u32);

/// Index of a client in [`WorldConfig::clients`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u32);

/// Everything a run needs besides the seed.
#[derive(Clone, Debug)]
pub struct WorldConfig {
    pub name: String,
    pub duration: SimDuration,
    pub services: Vec<ServiceConfig>,
    pub clients: Vec<ClientConfig>,
    /// Validated against `topology` ([`NetworkConfig::validate`]).
    pub network: NetworkConfig,
    pub faults: Vec<Fault>,
    /// Width of the windows of the time series.
    pub window: SimDuration,
    /// The run stops after this many events, with a partial report.
    pub max_events: u64,
    /// The run stops, with a partial report, when what grows while it runs (pending events,
    /// requests in flight) holds more than this many bytes. The scenario's loader has checked
    /// that what a run allocates up front (windows, replicas, users) fits in it.
    pub memory_limit_bytes: u64,
    /// Regions, zones and hosts (a single host when the scenario describes none).
    pub topology: crate::topology::Topology,
    /// Per host, its local clock (empty: every clock is ideal).
    pub clocks: Vec<crate::clock::ClockConfig>,
    /// Mid-run changes and autoscalers (empty: the world runs as configured).
    pub ops: crate::ops::Operations,
    /// Replicated stores, each on a service of kind [`ServiceKind::Store`].
    pub stores: Vec<crate::data::StoreConfig>,
    /// Queues of broker services and their consumers (empty: no broker).
    pub brokers: crate::broker::BrokerConfig,
    /// Orchestrated sagas (issue 14); empty unless the scenario has some.
    pub sagas: Vec<crate::data::saga::SagaConfig>,
    /// Two-phase commits (issue 14); empty unless the scenario has some.
    pub two_phase: Vec<crate::data::twopc::TwoPcConfig>,
}

/// How a service's workers wait for downstream calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Execution {
    /// The worker stays held while its request waits for downstream calls (a classic servlet
    /// thread pool): slow dependencies exhaust the caller's workers.
    #[default]
    ThreadPerRequest,
    /// The worker is released when the request starts waiting on downstream calls; the reply is
    /// sent when the last call returns, without needing a worker again.
    Async,
}

#[derive(Clone, Debug)]
pub struct ServiceConfig {
    pub name: String,
    /// Requests served at once.
    pub workers: u32,
    /// Requests that may wait for a worker; an arrival that finds the queue full is rejected.
    /// [`ServiceConfig::UNBOUNDED`] never rejects.
    pub queue: u32,
    pub service_time: Distribution,
    /// Probability that a request fails with an error after its local work.
    pub error_rate: f64,
    pub execution: Execution,
    /// Downstream calls made, in order, after the local work and before replying.
    pub calls: Vec<CallConfig>,
    /// What healthy means for this service, for the reports' health and cascade analysis.
    pub objective: Objective,
    pub kind: ServiceKind,
    /// Whether executing a request twice is harmless. A non-idempotent service that executes
    /// one logical call more than once (retries, hedges) counts duplicate side effects.
    pub idempotent: bool,
    /// The service remembers each logical call's idempotency key (Stripe semantics): a repeat
    /// of a finished call gets the stored answer without executing again, a repeat of one still
    /// in progress fails with a conflict.
    pub idempotency_keys: bool,
    /// Pass the remaining deadline of an incoming request on to downstream calls, and drop a
    /// queued request whose deadline has passed instead of working on it (gRPC servers in Java
    /// and Go).
    pub propagate_deadline: bool,
    /// What becomes of a queued request whose caller gives up.
    pub abandonment: Abandonment,
    /// A request finding the queue full waits for a place instead of being rejected.
    pub backpressure: bool,
    /// What the service's inbound side (a sidecar) does before a request reaches the queue.
    pub inbound: Inbound,
    /// The host of each replica; every replica has `workers` and `queue` of its own.
    pub replicas: Vec<usize>,
    /// How each caller spreads its requests over the replicas.
    pub lb: crate::lb::LbPolicy,
    /// How callers learn which replicas are alive.
    pub health: Health,
    /// The name of the first endpoint (the service's own work and calls) and the others.
    pub endpoint_name: String,
    pub endpoints: Vec<EndpointConfig>,
    /// For a [`ServiceKind::Database`]: operations started per second at most, per replica.
    pub max_throughput_per_s: Option<f64>,
}

impl ServiceConfig {
    /// A queue with no bound (`queue: Unbounded`).
    pub const UNBOUNDED: u32 = u32::MAX;
}

/// What becomes of a queued request whose caller gives up (per-try timeout, deadline, a lost
/// hedge, the call's end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Abandonment {
    /// It stays queued until a worker reaches it; then it is dropped if the service propagates
    /// deadlines and the deadline has passed, else served for nobody (thread pools).
    #[default]
    AtDequeue,
    /// It leaves the queue the moment its caller gives up (a gRPC server cancelling the call).
    Renege,
}

/// How callers learn which replicas of a service are alive.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Health {
    /// They do not: a crashed replica keeps receiving (and failing) its share of requests.
    #[default]
    Unchecked,
    /// At once and without error, as a perfect service registry would (the "perfect failover"
    /// of availability arithmetic).
    Perfect,
    /// Envoy active health checking by every caller: a probe every `interval`, failed after
    /// `timeout`; replicas start unhealthy until a probe passes. Until the checks notice, a
    /// dead replica still receives requests.
    Active(crate::lb::HealthCheckConfig),
}

/// A service's inbound protections, applied in order: shedding by concurrency at arrival,
/// shedding by queue length at arrival, CoDel at dequeue.
#[derive(Clone, Debug, Default)]
pub struct Inbound {
    /// A rate limiter before everything else (Resilience4j RateLimiter, Envoy local rate limit).
    pub rate_limit: Option<crate::policy::ratelimit::RateLimitConfig>,
    pub shed: Option<Shed>,
}

/// Load shedding on a server's inbound side; a shed request fails with
/// [`FailureCause::Shed`].
#[derive(Clone, Debug)]
pub enum Shed {
    /// Shed arrivals that find `max` requests already queued.
    QueueLength { max: u32 },
    /// CoDel for RPC queues (folly): when the queueing delay stayed above `target_delay` for an
    /// `interval`, drop dequeued requests that waited more than twice the target.
    Codel(crate::policy::shed::CodelConfig),
    /// An adaptive concurrency limit (Netflix concurrency-limits): requests beyond the limit are
    /// shed at arrival; the limit follows the measured latency.
    Concurrency(crate::policy::shed::ConcurrencyLimitConfig),
}

/// What a service does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServiceKind {
    /// Local work, then the call plan.
    #[default]
    Worker,
    /// One record with an integer version (initially 0): a read returns the version, a
    /// conditional write carrying the version it read succeeds (version + 1) only if that is
    /// still the current version, and otherwise fails with a conflict. Only clients with a
    /// read-modify-write workload call it.
    Record,
    /// A replica of a replicated store (its `WorldConfig::stores` entry says how): after the
    /// local work, the operation goes to the replicas and the reply waits for theirs.
    Store,
    /// A message broker holding queues ([`crate::broker`]): a call to it publishes.
    Broker,
}

/// What healthy means for a service or client in one window of the time series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective {
    /// The lowest acceptable share of successful requests (default 0.99).
    pub availability: f64,
    /// The highest acceptable 99th-percentile latency; `None` derives it from the run's
    /// pre-fault behaviour (see the reports crate).
    pub latency_p99: Option<SimDuration>,
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            availability: 0.99,
            latency_p99: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct CallConfig {
    pub to: ServiceId,
    /// The callee's endpoint (0: its first).
    pub endpoint: u16,
    pub policy: CallPolicy,
    /// The call is made with this probability (1: always); an optional call not made counts
    /// as done. For a member of a [`Join::OneOf`] step: its weight.
    pub probability: f64,
    /// Consecutive calls with the same group are made in parallel and joined.
    pub group: Option<Group>,
    /// The call publishes to a queue of its callee, a broker.
    pub publish: Option<crate::broker::Publish>,
}

/// A parallel step of a call plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    /// Consecutive calls with the same id form one step.
    pub id: u16,
    pub join: Join,
}

/// When a parallel step is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// Every call must succeed; the first failure fails the step (like `Promise.all`).
    All,
    /// The first success is enough; the step fails when every call failed (`Promise.any`).
    First,
    /// `k` successes are enough; the step fails as soon as `k` can no longer be reached.
    Quorum(u16),
    /// Routing: exactly one call of the step is made, chosen with probability proportional to
    /// its weight; the step is that call.
    OneOf,
}

/// Another endpoint of a service, with its own work and call plan (the first endpoint is the
/// service's own `service_time`, `error_rate` and `calls`).
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    pub name: String,
    pub service_time: Distribution,
    pub error_rate: f64,
    pub calls: Vec<CallConfig>,
}

/// What a caller does around each call on one edge (or a client around each request).
///
/// State that production keeps per client process (breakers, budgets, throttles, bulkheads)
/// is kept per edge here, and every service is one calling replica, so it is per calling
/// replica as in production.
#[derive(Clone, Debug, Default)]
pub struct CallPolicy {
    /// Per-attempt timeout, drawn for each attempt (a constant for a fixed one); `None` waits
    /// forever.
    pub timeout: Option<Distribution>,
    /// Overall time budget of the logical call, all attempts and backoffs included (Envoy's
    /// route timeout, a gRPC deadline). It travels with the request: a service with
    /// `propagate_deadline` gives its own calls only what is left of it.
    /// Drawn for each call: a distribution models users' patience.
    pub deadline: Option<Distribution>,
    /// The callee is told the sooner of the call's deadline and the attempt's per-try timeout
    /// (Envoy's `x-envoy-expected-rq-timeout-ms`), not only the call's deadline (gRPC).
    pub per_try_deadline: bool,
    pub retry: Option<Retry>,
    /// gRPC hedging: extra copies of a slow call. Exclusive with `retry`, as in gRPC.
    pub hedge: Option<Hedge>,
    pub bulkhead: Option<Bulkhead>,
    /// A circuit breaker with a library's semantics (see [`crate::policy::breaker`]).
    pub breaker: Option<crate::policy::breaker::BreakerConfig>,
    /// What the caller answers instead of failing.
    pub fallback: Option<Fallback>,
    /// Envoy outlier detection over the callee's replicas, per calling replica.
    pub outlier: Option<crate::policy::outlier::OutlierConfig>,
    /// Google SRE client-side adaptive throttling, innermost (just before sending).
    pub throttle: Option<crate::policy::budget::AdaptiveThrottleConfig>,
    /// The composition order, outermost first.
    pub order: Order,
}

/// A policy layer whose place in the composition can be chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    Retry,
    Breaker,
    Bulkhead,
    Timeout,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::Retry => "Retry",
            Layer::Breaker => "Breaker",
            Layer::Bulkhead => "Bulkhead",
            Layer::Timeout => "Timeout",
        }
    }
}

/// The order in which an edge's layers wrap the call, outermost first. Layers outside
/// `Retry` act once per logical call (a bulkhead permit held across retries and backoffs, a
/// breaker that records one outcome per call); layers inside act per attempt. Fallback is
/// always outermost and the overall deadline always spans every attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order(pub [Layer; 4]);

impl Default for Order {
    /// Resilience4j's annotation order: `Retry(CircuitBreaker(TimeLimiter(Bulkhead(call))))`
    /// (rate limiting sits on the callee here).
    fn default() -> Self {
        Order([
            Layer::Retry,
            Layer::Breaker,
            Layer::Timeout,
            Layer::Bulkhead,
        ])
    }
}

impl Order {
    /// Whether `layer` acts on each attempt (inside `Retry`) rather than once per call.
    pub fn per_attempt(&self, layer: Layer) -> bool {
        self.position(layer) > self.position(Layer::Retry)
    }

    /// Whether `a` wraps `b`.
    pub fn outside(&self, a: Layer, b: Layer) -> bool {
        self.position(a) < self.position(b)
    }

    fn position(&self, layer: Layer) -> usize {
        self.0
            .iter()
            .position(|l| *l == layer)
            .expect("an order names every layer once")
    }
}

/// A set of failure causes, as a bit mask indexed like [`FailureCause::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Causes(pub u16);

impl Causes {
    /// Every cause: Resilience4j retries every exception by default.
    pub const ALL: Causes = Causes((1 << crate::metrics::CAUSES) - 1);

    pub fn of(causes: &[FailureCause]) -> Causes {
        Causes(causes.iter().fold(0, |m, c| m | 1 << *c as u16))
    }

    #[inline]
    pub fn contains(self, cause: FailureCause) -> bool {
        self.0 & (1 << cause as u16) != 0
    }
}

/// Retry of failed attempts.
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// Attempts in total, including the first call (Resilience4j `maxAttempts`, AWS
    /// `max_attempts`, gRPC `maxAttempts`); at least 1.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// The outcomes that are retried (default: all, as Resilience4j).
    pub retry_on: Causes,
    /// A limit on retries across the edge's calls: Envoy's retry budget, gRPC retry throttling,
    /// Finagle's RetryBudget or the AWS SDK's retry quota.
    pub budget: Option<crate::policy::budget::RetryBudgetConfig>,
}

/// The wait before retry `n` (n = 1 for the first retry), following the AWS Architecture Blog
/// "Exponential Backoff And Jitter" and its simulator: `expo(n) = min(cap, base * 2^n)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Backoff {
    /// Retry at once.
    Immediate,
    /// Always the same wait.
    Constant(SimDuration),
    /// `expo(n)`.
    Exponential { base: SimDuration, cap: SimDuration },
    /// `Uniform(0, expo(n))`.
    FullJitter { base: SimDuration, cap: SimDuration },
    /// `expo(n)/2 + Uniform(0, expo(n)/2)`.
    EqualJitter { base: SimDuration, cap: SimDuration },
    /// `sleep = min(cap, Uniform(base, 3 * sleep))`, with `sleep` starting at `base`.
    Decorrelated { base: SimDuration, cap: SimDuration },
}

/// gRPC `hedgingPolicy`: the original is sent at once and another copy every `delay` while no
/// answer has come, up to `max_attempts` copies in all; a non-fatal failure sends the next copy
/// at once, a fatal one ends the call; the first success wins and the others are abandoned
/// (their work is wasted, and a non-idempotent callee executes the side effect again).
#[derive(Clone, Debug, PartialEq)]
pub struct Hedge {
    /// Copies in total, the original included (gRPC `maxAttempts`, at most
    /// [`Hedge::MAX_ATTEMPTS`]).
    pub max_attempts: u32,
    /// gRPC `hedgingDelay`; zero sends every copy at once.
    pub delay: SimDuration,
    /// gRPC `nonFatalStatusCodes`.
    pub non_fatal: Causes,
}

impl Hedge {
    /// gRPC caps `maxAttempts` at 5 (a larger value is treated as 5). The scenario loader
    /// rejects more, and the world keeps this many copies of one call in flight at most.
    pub const MAX_ATTEMPTS: u32 = 5;
}

/// A bulkhead on the caller's side of an edge (Resilience4j).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bulkhead {
    /// `SemaphoreBulkhead`: at most `max_concurrent_calls`; a call waits up to
    /// `max_wait_duration` for a permit (FIFO, fair), then fails with bulkhead full.
    Semaphore {
        max_concurrent_calls: u32,
        max_wait_duration: SimDuration,
    },
    /// `FixedThreadPoolBulkhead` with `max == core`: `core_thread_pool_size` calls at once,
    /// `queue_capacity` waiting without a time limit, the rest rejected.
    ThreadPool {
        core_thread_pool_size: u32,
        queue_capacity: u32,
    },
}

impl Bulkhead {
    /// Calls that may run at once.
    pub fn concurrency(&self) -> u32 {
        match *self {
            Bulkhead::Semaphore {
                max_concurrent_calls,
                ..
            } => max_concurrent_calls,
            Bulkhead::ThreadPool {
                core_thread_pool_size,
                ..
            } => core_thread_pool_size,
        }
    }
}

/// What a caller answers instead of a failure. Every fallback answer counts as degraded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// A static answer, always available.
    Static,
    /// The last good answer, if one arrived within `ttl`; otherwise the failure stands.
    Cached { ttl: SimDuration },
    /// The dependency is optional: carry on without it.
    Skip,
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub name: String,
    /// The host the client's requests leave from.
    pub host: usize,
    pub to: ServiceId,
    pub arrivals: Arrivals,
    /// Request types: (endpoint of `to`, weight). Empty: every request goes to the first
    /// endpoint.
    pub requests: Vec<(u16, f64)>,
    /// Piecewise changes of the arrival rate: (from, to, rate at from, rate at to), a ramp
    /// when the rates differ; outside every piece the base rate holds.
    pub profile: Vec<(SimTime, SimTime, f64, f64)>,
    pub policy: CallPolicy,
    pub objective: Objective,
}

/// How a client's requests arise.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// `users` independent users start at time 0; each wants one successful conditional write
    /// to a [`ServiceKind::Record`] service: it reads the version, then writes carrying it; on a
    /// conflict it waits the retry policy's backoff for failure k (k = 1, 2, ...) and reads
    /// again; after a success it stops. The AWS "Exponential Backoff And Jitter" experiment.
    ReadModifyWrite { users: u32 },
    /// `users` closed-loop users: each sends a request, waits for its outcome, thinks for
    /// `think_time`, and sends the next.
    ClosedLoop {
        users: u32,
        think_time: Distribution,
    },
    /// Exponential inter-arrival times with the given rate.
    Poisson { rate_per_s: f64 },
    /// Evenly spaced arrivals at the given rate, the first at time 0.
    Constant { rate_per_s: f64 },
}

/// What a crash hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// One replica of a service.
    Replica {
        service: ServiceId,
        index: u32,
    },
    /// Every replica of a service.
    Service(ServiceId),
    /// Everything on a host, in a zone or in a region: the machines are gone, so messages to
    /// them vanish (callers wait for their timeouts).
    Host(usize),
    Zone(usize),
    Region(usize),
}

/// After a restart, the replica is slower for a while (caches cold, JIT not warm).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColdStart {
    pub duration: SimDuration,
    /// Service time factor while cold.
    pub multiply: f64,
}

/// A scripted fault, or a seeded random process of faults.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The service time of requests that start at `from <= t < to` at `service` is multiplied
    /// by `multiply`, then `add` is added.
    Latency {
        service: ServiceId,
        /// Only this endpoint (all when `None`).
        endpoint: Option<u16>,
        multiply: f64,
        add: SimDuration,
        from: SimTime,
        to: SimTime,
    },
    /// One-way network latency from hosts in `a` to hosts in `b` (both ways unless `one_way`)
    /// is multiplied by `multiply`, then `add` is added, for messages sent in `[from, to)`.
    LinkLatency {
        a: Vec<crate::network::Place>,
        b: Vec<crate::network::Place>,
        one_way: bool,
        multiply: f64,
        add: SimDuration,
        from: SimTime,
        to: SimTime,
    },
    /// Requests finishing their work in `[from, to)` fail with an error with probability `rate`
    /// (on top of the service's own error rate).
    Errors {
        service: ServiceId,
        rate: f64,
        from: SimTime,
        to: SimTime,
    },
    /// The service accepts requests arriving in `[from, to)` and never answers them.
    BlackHole {
        service: ServiceId,
        from: SimTime,
        to: SimTime,
    },
    /// The target crashes at `at`; crashed processes lose their queue and the work in progress.
    /// With `restart_after`, they come back that much later (cold, with `cold_start`).
    Crash {
        target: Target,
        at: SimTime,
        restart_after: Option<SimDuration>,
        cold_start: Option<ColdStart>,
    },
    /// Every replica of the target, each on its own, fails after a time drawn from `mttf` and
    /// is repaired after a time drawn from `mttr`, again and again (an alternating renewal
    /// process on a seeded stream per replica).
    Chaos {
        target: Target,
        mttf: Distribution,
        mttr: Distribution,
        cold_start: Option<ColdStart>,
        /// Repairers shared by the fault's units (`None`: every unit is repaired at once). A
        /// unit failing while all are busy waits its turn (the machine-repair model).
        crews: Option<u32>,
    },
    /// Each replica's service time grows with its uptime, times `1 + growth_per_hour * hours`;
    /// when the factor passes `crash_above` the replica crashes and restarts after
    /// `restart_after`, fresh.
    Leak {
        service: ServiceId,
        growth_per_hour: f64,
        crash_above: Option<f64>,
        restart_after: SimDuration,
    },
    /// A replica's process hangs at `at`: it accepts connections and never answers, until a
    /// liveness probe restarts it (`world/probes.rs`).
    Hang {
        service: ServiceId,
        replica: u32,
        at: SimTime,
    },
    /// A client sends `multiply` times its rate in `[from, to)`.
    LoadSpike {
        client: ClientId,
        multiply: f64,
        from: SimTime,
        to: SimTime,
    },
}

impl Fault {
    /// When the fault starts and ends (`end` for faults that last the whole run).
    pub fn active(&self, end: SimTime) -> (SimTime, SimTime) {
        match *self {
            Fault::Latency { from, to, .. }
            | Fault::Errors { from, to, .. }
            | Fault::BlackHole { from, to, .. }
            | Fault::LoadSpike { from, to, .. }
            | Fault::LinkLatency { from, to, .. } => (from, to),
            Fault::Crash {
                at, restart_after, ..
            } => (at, restart_after.map_or(end, |d| (at + d).min(end))),
            Fault::Chaos { .. } | Fault::Leak { .. } => (SimTime::ZERO, end),
            Fault::Hang { at, .. } => (at, end),
        }
    }

    /// A short name for reports: `latency`, `errors`, `black_hole`, `crash`, `chaos`, `leak`,
    /// `load_spike`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Latency { .. } => "latency",
            Fault::LinkLatency { .. } => "link_latency",
            Fault::Errors { .. } => "errors",
            Fault::BlackHole { .. } => "black_hole",
            Fault::Crash { .. } => "crash",
            Fault::Chaos { .. } => "chaos",
            Fault::Leak { .. } => "leak",
            Fault::LoadSpike { .. } => "load_spike",
            Fault::Hang { .. } => "hang",
        }
    }
}
