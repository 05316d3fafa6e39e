//! The running world: clients send requests over the network to services, services queue them
//! for a worker, do their local work, make their downstream calls in order and reply. Callers
//! wrap each call in their edge's policies.
//!
//! ```text
//!   client ──attempt──▶ [queue]──▶ worker: local work ──▶ call 1 ──▶ call 2 ──▶ reply
//!      ▲   (network)       │ full: rejected                 (each call is itself a logical
//!      └──────reply────────┘                                 call with attempts and policies)
//! ```
//!
//! A *call* is one logical call over an edge at its caller; each try is an *attempt*; an
//! attempt that reaches its callee is a *job* there. A caller that gives up on an attempt
//! (timeout, deadline, a hedge that lost) forgets it; the callee keeps working on it (wasted
//! work), and its reply, when it comes, is a late reply that changes nothing.
//!
//! The policies of an edge are layers in an [`Order`]: layers outside `Retry` act once per call,
//! layers inside act per attempt. A call or attempt walks its layers outermost first (`stage`),
//! and may stop at a bulkhead to wait for a permit; a freed permit resumes it where it stopped.
//!
//! A call stays in its slot until every job of it is gone, so a callee can always reach the
//! call's idempotency key and count the side effects its attempts execute.

use std::collections::VecDeque;

use sim_core::{
    Distribution, Event, Limits, Model, RngStreams, RunOutcome, Scheduler, SimDuration, SimRng,
    SimTime, Simulation, TimerId, TraceSink,
};

use crate::clock::{ClockConfig, HostClock};
use crate::config::{
    Arrivals, Backoff, Bulkhead, CallConfig, CallPolicy, ClientId, ColdStart, Execution, Fallback,
    Fault, Group, Health, Join, Layer, Objective, Retry, ServiceId, ServiceKind, Shed, Target,
    WorldConfig,
};
use crate::lb::{Balancer, HealthState};
use crate::metrics::{FailureCause, Gauges, OutcomeStats};
use crate::network::{CutMode, Network};
use crate::policy::breaker::{CircuitBreaker, Transition};
use crate::policy::budget::{AdaptiveThrottle, RetryBudget, RetryPermit};
use crate::policy::outlier::OutlierDetector;
use crate::policy::ratelimit::RateLimiter;
use crate::policy::shed::{Codel, ConcurrencyLimit, Limiter, Permit};
use crate::trace::{NONE, RecordSink, TraceKind, TraceNames, TraceRecord};

/// The outcome of one attempt or call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// An answer made by a fallback somewhere on the way: an answer, not a full success.
    Degraded,
    Failed(FailureCause),
}

impl Outcome {
    fn is_answer(self) -> bool {
        !matches!(self, Outcome::Failed(_))
    }
}

/// The world's events. Payloads are slab indices plus an id (attempt id or call serial) that
/// makes stale references detectable after a slot is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorldEvent {
    /// The next request of an open-loop client.
    ClientArrival {
        client: u32,
    },
    /// An attempt reaches its callee.
    Deliver {
        job: u32,
    },
    /// A job's local work is finished.
    WorkDone {
        job: u32,
    },
    /// A reply reaches its caller.
    Reply {
        /// The attempt's slot at the caller.
        slot: u32,
        /// The edge the attempt travelled, to account a late reply after its attempt is gone.
        edge: u32,
        attempt: u64,
        outcome: Outcome,
    },
    /// A per-attempt timeout fired.
    Timeout {
        slot: u32,
        attempt: u64,
    },
    /// A retry's backoff elapsed.
    RetryDue {
        call: u32,
        serial: u64,
    },
    /// A hedged call's next copy is due.
    HedgeDue {
        call: u32,
        serial: u64,
    },
    /// A call's overall deadline passed.
    Deadline {
        call: u32,
        serial: u64,
    },
    /// An attempt's wait for a bulkhead permit ran out.
    AttemptWaitOver {
        slot: u32,
        attempt: u64,
    },
    /// A call's wait for a bulkhead permit ran out.
    CallWaitOver {
        call: u32,
        serial: u64,
    },
    /// A read-modify-write user starts (again) with a read.
    UserStart {
        client: u32,
        user: u32,
    },
    /// A request's wait for its rate-limit permission is over: it goes on to the queue.
    Admitted {
        job: u32,
    },
    /// A request waited the rate limiter's whole timeout and is refused.
    RateLimited {
        job: u32,
    },
    /// A scripted crash (fault index) happens, or its targets restart.
    Crash {
        fault: u32,
    },
    RestartTargets {
        fault: u32,
    },
    /// A replica comes back (after a leak crash, or a chaos repair).
    Restart {
        service: u32,
        replica: u32,
    },
    /// A chaos process's unit fails, or is repaired.
    ChaosFail {
        fault: u32,
        unit: u32,
    },
    ChaosRepair {
        fault: u32,
        unit: u32,
    },
    /// A caller's active health check probes a replica, and learns the result.
    HealthProbe {
        edge: u32,
        replica: u32,
    },
    HealthResult {
        edge: u32,
        replica: u32,
        ok: bool,
    },
    /// A caller's outlier detector sweeps (Envoy's `interval`).
    OutlierSweep {
        edge: u32,
    },
}

impl WorldEvent {
    /// The names used in traces, indexed by [`Event::kind`].
    pub const KIND_NAMES: [&'static str; 21] = [
        "client_arrival",
        "deliver",
        "work_done",
        "reply",
        "timeout",
        "retry_due",
        "hedge_due",
        "deadline",
        "attempt_wait_over",
        "call_wait_over",
        "user_start",
        "admitted",
        "rate_limited",
        "crash",
        "restart_targets",
        "restart",
        "chaos_fail",
        "chaos_repair",
        "health_probe",
        "health_result",
        "outlier_sweep",
    ];
}

impl Event for WorldEvent {
    #[inline]
    fn kind(&self) -> u16 {
        match self {
            WorldEvent::ClientArrival { .. } => 0,
            WorldEvent::Deliver { .. } => 1,
            WorldEvent::WorkDone { .. } => 2,
            WorldEvent::Reply { .. } => 3,
            WorldEvent::Timeout { .. } => 4,
            WorldEvent::RetryDue { .. } => 5,
            WorldEvent::HedgeDue { .. } => 6,
            WorldEvent::Deadline { .. } => 7,
            WorldEvent::AttemptWaitOver { .. } => 8,
            WorldEvent::CallWaitOver { .. } => 9,
            WorldEvent::UserStart { .. } => 10,
            WorldEvent::Admitted { .. } => 11,
            WorldEvent::RateLimited { .. } => 12,
            WorldEvent::Crash { .. } => 13,
            WorldEvent::RestartTargets { .. } => 14,
            WorldEvent::Restart { .. } => 15,
            WorldEvent::ChaosFail { .. } => 16,
            WorldEvent::ChaosRepair { .. } => 17,
            WorldEvent::HealthProbe { .. } => 18,
            WorldEvent::HealthResult { .. } => 19,
            WorldEvent::OutlierSweep { .. } => 20,
        }
    }

    #[inline]
    fn target(&self) -> u32 {
        match *self {
            WorldEvent::ClientArrival { client } | WorldEvent::UserStart { client, .. } => client,
            WorldEvent::Deliver { job }
            | WorldEvent::WorkDone { job }
            | WorldEvent::Admitted { job }
            | WorldEvent::RateLimited { job } => job,
            WorldEvent::Reply { slot, .. }
            | WorldEvent::Timeout { slot, .. }
            | WorldEvent::AttemptWaitOver { slot, .. } => slot,
            WorldEvent::RetryDue { call, .. }
            | WorldEvent::HedgeDue { call, .. }
            | WorldEvent::Deadline { call, .. }
            | WorldEvent::CallWaitOver { call, .. } => call,
            WorldEvent::Crash { fault }
            | WorldEvent::RestartTargets { fault }
            | WorldEvent::ChaosFail { fault, .. }
            | WorldEvent::ChaosRepair { fault, .. } => fault,
            WorldEvent::Restart { service, .. } => service,
            WorldEvent::HealthProbe { edge, .. }
            | WorldEvent::HealthResult { edge, .. }
            | WorldEvent::OutlierSweep { edge } => edge,
        }
    }
}

/// A vector of reusable slots; freed indices are reused last-in first-out, which is
/// deterministic.
struct Slab<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    fn new() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }

    fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = value;
                i
            }
            None => {
                self.items.push(value);
                u32::try_from(self.items.len() - 1).expect("fewer than 2^32 live items")
            }
        }
    }

    fn remove(&mut self, i: u32) {
        self.free.push(i);
    }

    /// The live items, in slot order.
    fn live(&self) -> impl Iterator<Item = &T> {
        let mut is_free = vec![false; self.items.len()];
        for &i in &self.free {
            is_free[i as usize] = true;
        }
        self.items
            .iter()
            .zip(is_free)
            .filter(|(_, free)| !free)
            .map(|(item, _)| item)
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    fn index(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.items[i as usize]
    }
}

/// No attempt has id 0.
const NO_ATTEMPT: u64 = 0;
/// No deadline.
const NEVER: SimTime = SimTime(u64::MAX);
/// Copies of one hedged call in flight at once (gRPC caps `maxAttempts` at 5).
const MAX_LIVE: usize = 5;

/// What a request asks of its callee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// The service's work and call plan.
    Serve,
    /// Read a record's version.
    Read,
    /// Write a record if its version is still the one carried.
    Write(u64),
}

/// One attempt being served at its callee.
struct Job {
    service: ServiceId,
    endpoint: u16,
    /// The parallel step under way: bumped when a step starts and when it is decided, so that
    /// calls of a decided step are ignored when they end.
    step: u32,
    step_calls: u16,
    step_ok: u16,
    step_failed: u16,
    step_join: Join,
    /// The calls of the parallel step under way (call slot, serial).
    children: Vec<(u32, u64)>,
    /// The replica serving it, and that replica's epoch when the job arrived.
    instance: u32,
    epoch: u32,
    /// The edge the attempt came over; replies go back over it.
    edge: u32,
    /// The caller's call (alive while the job is) and the attempt this job serves.
    call: u32,
    slot: u32,
    attempt: u64,
    /// Index of the next downstream call in the service's plan.
    next_call: u16,
    holding_worker: bool,
    /// A downstream call was answered by a fallback: the reply is degraded.
    degraded: bool,
    /// The deadline the request carries ([`NEVER`] without one).
    deadline: SimTime,
    /// This job claimed the call's idempotency key, and whether it executed the work.
    owns_key: bool,
    executed: bool,
    /// When it reached the service (queueing delay, the concurrency limit's rtt).
    arrived: SimTime,
    /// Its place under the service's adaptive concurrency limit.
    permit: Option<Permit>,
}

/// Who made a call.
#[derive(Clone, Copy)]
enum Owner {
    Client {
        client: ClientId,
        started: SimTime,
    },
    Job(u32),
    /// A read-modify-write user of a client.
    User {
        client: ClientId,
        user: u32,
    },
}

/// A callee's memory of a logical call's idempotency key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Unseen,
    InProgress,
    Done(Outcome),
}

/// A logical call over one edge at its caller, across its attempts.
struct Call {
    edge: u32,
    owner: Owner,
    started: SimTime,
    /// The timer of the next hedged copy.
    hedge_timer: Option<TimerId>,
    /// For a call made by a job: the job's attempt and plan step when the call began (the job
    /// ignores it if it has moved on or is gone).
    parent_attempt: u64,
    step: u32,
    /// When a call-level breaker let the call through.
    breaker_at: Option<SimTime>,
    /// The retry budget's permit of the retry under way.
    retry_permit: Option<RetryPermit>,
    /// Unique per call over the run: the idempotency key, and the check for stale events.
    serial: u64,
    op: Op,
    /// The value a read returned.
    value: u64,
    /// Attempts made so far.
    attempts: u32,
    /// Slots of the attempts in flight (`live` of them).
    slots: [u32; MAX_LIVE],
    live: u8,
    /// Call-level layers passed so far.
    stage: u8,
    /// Holds a call-level bulkhead permit.
    permit: bool,
    /// Waits for a call-level bulkhead permit, until this timer (if any).
    waiting: bool,
    wait_timer: Option<TimerId>,
    deadline: SimTime,
    deadline_timer: Option<TimerId>,
    /// The last backoff slept (decorrelated jitter grows from it).
    last_backoff: SimDuration,
    last_cause: FailureCause,
    /// The callee's executions of this call's work, and its idempotency key.
    executions: u32,
    key: Key,
    /// Jobs of this call alive at the callee; the slot is freed when the call is finished and
    /// none is left.
    jobs: u32,
    finished: bool,
}

/// One try of a call.
struct Attempt {
    call: u32,
    id: u64,
    /// When it left (or was created, if it never left).
    sent_at: SimTime,
    /// Attempt-level layers passed so far.
    stage: u8,
    sent: bool,
    permit: bool,
    waiting: bool,
    timeout: Option<TimerId>,
    wait_timer: Option<TimerId>,
    /// A record version carried back by the reply.
    value: u64,
    /// When an attempt-level breaker let the attempt through.
    breaker_at: Option<SimTime>,
    /// The replica it was sent to.
    instance: u32,
}

/// Who waits for a bulkhead permit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waiter {
    Call { call: u32, serial: u64 },
    Attempt { slot: u32, attempt: u64 },
}

struct Edge {
    to: ServiceId,
    /// The callee's endpoint.
    to_endpoint: u16,
    /// The calling instance (replica) that owns this edge's policy state: state that production
    /// keeps per client process is per calling instance here.
    caller_host: u32,
    policy: CallPolicy,
    /// The layers outside `Retry` (per call) and inside (per attempt), outermost first.
    call_layers: Vec<Layer>,
    attempt_layers: Vec<Layer>,
    network_rng: SimRng,
    retry_rng: SimRng,
    /// Permits in use and waiters (FIFO) of the edge's bulkhead.
    bulkhead_active: u32,
    waiters: VecDeque<Waiter>,
    /// When the last good answer arrived (cached fallbacks serve it for their ttl).
    last_answer: Option<SimTime>,
    breaker: Option<CircuitBreaker>,
    budget: Option<RetryBudget>,
    throttle: Option<AdaptiveThrottle>,
    throttle_rng: SimRng,
    /// Load balancing over the callee's replicas: the balancer, its draws, and the attempts in
    /// flight to each replica from this caller.
    balancer: Balancer,
    lb_rng: SimRng,
    outstanding: Vec<u32>,
    /// Envoy outlier detection and active health checks, as this caller sees the replicas.
    outlier: Option<OutlierDetector>,
    health: Vec<HealthState>,
    /// Index into the world's edge reports: the replicas of a caller share one report.
    report: u32,
}

/// A latency fault on the links from hosts in `a` to hosts in `b` (and back unless one-way).
struct LinkFault {
    in_a: Vec<bool>,
    in_b: Vec<bool>,
    one_way: bool,
    multiply: f64,
    add: SimDuration,
    from: SimTime,
    to: SimTime,
}

/// What the network did with a message.
enum Transit {
    Arrives(SimDuration),
    /// Lost, dropped by a partition, or sent to or from a host that is down.
    Lost,
    /// A partition refuses the connection; the sender learns it after this long.
    Refused(SimDuration),
}

impl Instance {
    /// Whether the process runs (its host may still be down).
    fn up(&self) -> bool {
        self.down == 0
    }
}

/// One replica of a service.
struct Instance {
    host: u32,
    workers_busy: u32,
    queue: VecDeque<u32>,
    /// Inbound rate limiting and shedding, per replica as a sidecar would.
    rate_limiter: Option<RateLimiter>,
    codel: Option<Codel>,
    limiter: Option<Limiter>,
    /// Crashes holding the process down (a host crash and a chaos failure may overlap).
    down: u32,
    /// Bumped at each crash: jobs of an older epoch died with their process.
    epoch: u32,
    up_since: SimTime,
    down_since: SimTime,
    /// Slower until then after a restart.
    cold_until: SimTime,
    cold_multiply: f64,
    /// Per endpoint, the edge ids of its call plan for this replica, in order.
    call_edges: Vec<Vec<u32>>,
    /// A database's throughput: no operation starts before this.
    next_start: SimTime,
    report: InstanceReport,
}

struct ServiceState {
    instances: Vec<Instance>,
    /// Over all replicas, for the gauges.
    busy_total: u32,
    queue_total: u32,
    /// Replicas running now, and since when that count holds.
    up_count: u32,
    up_count_since: SimTime,
    shed_queue: Option<u32>,
    service_time_rng: SimRng,
    error_rng: SimRng,
    /// Draws whether optional calls are made.
    plan_rng: SimRng,
    /// (from, to, factor, added, fault index) of the latency faults on this service.
    latency_faults: Vec<(SimTime, SimTime, f64, SimDuration, u32, Option<u16>)>,
    /// (from, to, rate) of the error faults.
    error_faults: Vec<(SimTime, SimTime, f64)>,
    /// (from, to) of the black holes.
    black_holes: Vec<(SimTime, SimTime)>,
    /// (growth per hour, crash above, restart after) of a leak.
    leak: Option<(f64, Option<f64>, SimDuration)>,
    /// The record's version, for [`ServiceKind::Record`].
    version: u64,
    report: ServiceReport,
}

/// A read-modify-write user.
#[derive(Clone, Copy)]
struct User {
    started: SimTime,
    /// Failed writes so far (k in the AWS experiment).
    failures: u32,
    last_backoff: SimDuration,
}

struct ClientState {
    edge: u32,
    /// Request types: (edge, endpoint, weight); the first is `edge`.
    kinds: Vec<(u32, u16, f64)>,
    kinds_rng: SimRng,
    /// (from, to, rate at from, rate at to) pieces of the load profile.
    profile: Vec<(SimTime, SimTime, f64, f64)>,
    host: u32,
    arrivals_rng: SimRng,
    /// (from, to, factor) of the load spikes on this client.
    spikes: Vec<(SimTime, SimTime, f64)>,
    /// The retry policy of a read-modify-write client's users (its edge has none).
    user_retry: Option<Retry>,
    users: Vec<User>,
    report: ClientReport,
}

/// Per service, outcomes of the attempts sent to it as its callers saw them, plus what the
/// service itself observed.
#[derive(Clone, Debug)]
pub struct ServiceReport {
    pub name: String,
    pub workers: u32,
    pub queue_capacity: u32,
    /// Attempts sent to this service and how they ended for their callers.
    pub stats: OutcomeStats,
    /// Jobs that did their work for a caller that had already given up on them.
    pub wasted_work: u64,
    /// The longest the queue got.
    pub queue_max: u32,
    /// Busy workers and queue length per window.
    pub gauges: Gauges,
    pub objective: Objective,
    /// Executions of a logical call's work beyond its first, on a non-idempotent service.
    pub duplicate_side_effects: u64,
    /// Repeats answered from an idempotency key without executing again.
    pub deduplicated: u64,
    /// Queued requests dropped because their propagated deadline had passed.
    pub expired: u64,
    /// For a record: conditional writes received, and how many found a newer version.
    pub writes: u64,
    pub write_conflicts: u64,
    /// The adaptive concurrency limit's changes, when the service has one (of its first
    /// replica).
    pub concurrency_limit: Vec<(SimTime, u32)>,
    /// Replicas, and what happened to each.
    pub instances: Vec<InstanceReport>,
    /// Index j: the time during which exactly j replicas were running.
    pub up_time_by_count: Vec<SimDuration>,
    /// Requests a black hole swallowed.
    pub black_holed: u64,
}

/// One replica of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceReport {
    /// The host it runs on.
    pub host: String,
    pub crashes: u64,
    /// Time it was not running.
    pub down: SimDuration,
}

impl ServiceReport {
    /// Worker-nanoseconds spent holding requests.
    pub fn busy_ns(&self) -> u128 {
        self.gauges
            .windows
            .iter()
            .map(|g| u128::from(g.busy_ns))
            .sum()
    }

    /// Share of worker time in use over `duration`.
    pub fn utilisation(&self, duration: SimDuration) -> f64 {
        let capacity = u128::from(self.workers) * u128::from(duration.as_nanos());
        if capacity == 0 {
            0.0
        } else {
            self.busy_ns() as f64 / capacity as f64
        }
    }
}

/// Per client, the logical requests end to end (retries included in their latency).
#[derive(Clone, Debug)]
pub struct ClientReport {
    pub name: String,
    pub stats: OutcomeStats,
    /// Attempts made, first tries and retries.
    pub attempts: u64,
    pub retries: u64,
    /// The service the client calls.
    pub to: String,
    pub objective: Objective,
}

/// Per call edge (caller -> callee).
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeReport {
    /// `client:NAME` or the calling service's name.
    pub from: String,
    pub to: String,
    /// Attempts over this edge and how they ended for the caller (including those the caller's
    /// own policies failed before sending: circuit open, bulkhead full, throttled).
    pub stats: OutcomeStats,
    pub attempts: u64,
    pub retries: u64,
    /// Extra copies sent by hedging.
    pub hedges: u64,
    /// Replies that arrived after their attempt had been given up.
    pub late_replies: u64,
    /// Logical calls and how they ended for the caller, fallbacks applied.
    pub calls: OutcomeStats,
    /// Calls a fallback answered.
    pub fallbacks: u64,
    /// Retries the policy wanted but the retry budget refused.
    pub retries_refused: u64,
    /// Per calling instance, its circuit breaker's flavor and every transition, when the edge
    /// has one.
    pub breakers: Vec<BreakerReport>,
    /// Messages of this edge that a partition or loss swallowed (requests and replies).
    pub lost_messages: u64,
    /// Envoy outlier ejections of callee replicas, over the calling instances.
    pub ejections: u64,
}

/// What an edge's circuit breaker did.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerReport {
    /// The calling replica whose breaker this is.
    pub instance: u32,
    /// `resilience4j`, `polly`, `hystrix`.
    pub flavor: &'static str,
    /// Calls or attempts refused while open (or half-open without a probe left).
    pub not_permitted: u64,
    pub transitions: Vec<Transition>,
}

/// A scripted fault, as the reports describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultReport {
    /// `latency`, ...
    pub kind: &'static str,
    /// The service it acts on.
    pub service: String,
    /// A short human description: `payments latency x10`.
    pub description: String,
    pub from: SimTime,
    pub to: SimTime,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub scenario: String,
    pub seed: u64,
    pub duration: SimDuration,
    pub max_events: u64,
    pub outcome: RunOutcome,
    pub services: Vec<ServiceReport>,
    pub clients: Vec<ClientReport>,
    pub edges: Vec<EdgeReport>,
    pub faults: Vec<FaultReport>,
    /// The width of the windows of every time series.
    pub window: SimDuration,
}

/// Options of one run that are not part of the world.
#[derive(Default)]
pub struct RunOptions {
    /// Receives the domain trace: every step of every logical request (see [`crate::trace`]).
    /// Without it, a run pays one branch per event and runs handlers without trace points.
    pub trace: Option<Box<dyn RecordSink>>,
    /// Receives every event the engine processes.
    pub event_trace: Option<Box<dyn TraceSink<WorldEvent>>>,
}

/// The state of the domain trace, present only when tracing. Everything the trace needs and the
/// world does not (request ids, worker slots) lives here, so an untraced run carries none of it.
/// Its memory grows with the attempts made, like the trace itself: tracing is for replaying one
/// run, not for sweeps.
struct Tracer {
    sink: Box<dyn RecordSink>,
    /// The id of the next logical request (client arrival).
    next_request: u64,
    /// Per attempt id (from 1), its logical request and parent attempt. Indexed by attempt, not
    /// by call or job: a late reply's call and job may be gone.
    attempts: Vec<(u64, u64)>,
    /// Per slot of the call slab, the logical request of the call there.
    call_requests: Vec<u64>,
    /// Per slot of the job slab, the worker slot the job holds.
    job_slots: Vec<u32>,
    /// Per service, its free worker slots; the last is taken first, so an idle service hands
    /// out slot 0 first and a freed slot is reused at once.
    free_slots: Vec<Vec<u32>>,
}

impl Tracer {
    fn record(&mut self, record: TraceRecord) {
        self.sink.record(&record);
    }

    /// The logical request and the parent attempt of an attempt.
    fn attempt(&self, attempt: u64) -> (u64, u64) {
        self.attempts[(attempt - 1) as usize]
    }

    /// Notes the logical request of the call in slab slot `call`.
    fn set_call_request(&mut self, call: u32, request: u64) {
        let i = call as usize;
        if i >= self.call_requests.len() {
            self.call_requests.resize(i + 1, 0);
        }
        self.call_requests[i] = request;
    }
}

/// Per service, what the world needs of its configuration while running.
struct ServiceSpec {
    endpoints: Vec<EndpointSpec>,
    /// Operations started per second at most, per replica (a database's throughput).
    min_gap: Option<SimDuration>,
    execution: Execution,
    kind: ServiceKind,
    idempotent: bool,
    idempotency_keys: bool,
    propagate_deadline: bool,
    health: Health,
}

/// One endpoint: its work, and per call of its plan the probability and parallel group.
struct EndpointSpec {
    service_time: Distribution,
    error_rate: f64,
    plan: Vec<(f64, Option<Group>)>,
}

/// A world ready to run: configuration plus state.
pub struct World {
    faults: Vec<FaultReport>,
    window: SimDuration,
    name: String,
    seed: u64,
    duration: SimDuration,
    max_events: u64,
    specs: Vec<ServiceSpec>,
    arrivals: Vec<Arrivals>,
    services: Vec<ServiceState>,
    clients: Vec<ClientState>,
    edges: Vec<Edge>,
    edge_reports: Vec<EdgeReport>,
    jobs: Slab<Job>,
    calls: Slab<Call>,
    attempts: Slab<Attempt>,
    next_attempt: u64,
    next_serial: u64,
    /// Hosts: their network, how many host-level crashes hold each down, their clocks (empty
    /// when every clock is ideal), and the replicas on each.
    net: Network,
    host_down: Vec<u32>,
    host_zone: Vec<usize>,
    zone_region: Vec<usize>,
    clocks: Vec<HostClock>,
    host_instances: Vec<Vec<(u32, u32)>>,
    /// The faults as configured (crash and chaos events refer to them), and per chaos fault
    /// its replicas with their streams.
    fault_specs: Vec<Fault>,
    chaos: Vec<Vec<(Unit, SimRng)>>,
    /// The one latency of a network without partitions, loss, link overrides or differences
    /// between zones and regions.
    uniform_latency: Option<Distribution>,
    /// Latency faults on links.
    link_faults: Vec<LinkFault>,
    /// Scratch space for load balancing and for the calls of a plan step.
    eligible: Vec<bool>,
    made: Vec<u32>,
    tracer: Option<Box<Tracer>>,
}

impl World {
    /// Builds the world for one seed. The configuration must be valid (the scenario loader
    /// checks it); inconsistencies here are programming errors and panic.
    pub fn new(config: &WorldConfig, seed: u64) -> World {
        let streams = RngStreams::new(seed);
        let topology = &config.topology;
        let mut edges: Vec<Edge> = Vec::new();
        let mut edge_reports: Vec<EdgeReport> = Vec::new();
        let mut services = Vec::with_capacity(config.services.len());
        let new_report = |from: String, to: &str| EdgeReport {
            from,
            to: to.to_string(),
            stats: OutcomeStats::new(config.window),
            attempts: 0,
            retries: 0,
            hedges: 0,
            late_replies: 0,
            calls: OutcomeStats::new(config.window),
            fallbacks: 0,
            retries_refused: 0,
            breakers: Vec::new(),
            lost_messages: 0,
            ejections: 0,
        };
        let new_edge = |key: &[&str], caller_host: u32, to_id: ServiceId, policy: &CallPolicy| {
            let (call_layers, attempt_layers) = layers(policy);
            let callee = &config.services[to_id.0 as usize];
            let replicas = callee.replicas.len();
            let health = match callee.health {
                Health::Active(c) => (0..replicas).map(|_| HealthState::new(&c)).collect(),
                _ => Vec::new(),
            };
            Edge {
                to: to_id,
                to_endpoint: 0,
                caller_host,
                policy: policy.clone(),
                call_layers,
                attempt_layers,
                network_rng: streams.stream(&[key, &["network"]].concat()),
                retry_rng: streams.stream(&[key, &["retry"]].concat()),
                bulkhead_active: 0,
                waiters: VecDeque::new(),
                last_answer: None,
                breaker: policy.breaker.clone().map(CircuitBreaker::new),
                budget: policy
                    .retry
                    .as_ref()
                    .and_then(|r| r.budget)
                    .map(RetryBudget::new),
                throttle: policy.throttle.map(AdaptiveThrottle::new),
                throttle_rng: streams.stream(&[key, &["throttle"]].concat()),
                // A perfect registry lists only live replicas: no Envoy panic mode there.
                balancer: match callee.health {
                    Health::Perfect => {
                        Balancer::new(callee.lb, replicas).with_panic_threshold_percent(0)
                    }
                    _ => Balancer::new(callee.lb, replicas),
                },
                lb_rng: streams.stream(&[key, &["lb"]].concat()),
                outstanding: vec![0; replicas],
                outlier: policy.outlier.map(|c| OutlierDetector::new(c, replicas)),
                health,
                report: 0,
            }
        };
        let mut host_instances: Vec<Vec<(u32, u32)>> = vec![Vec::new(); topology.hosts.len()];
        for (sid, svc) in config.services.iter().enumerate() {
            assert!(svc.workers > 0, "service {} has no workers", svc.name);
            assert!(
                !svc.replicas.is_empty(),
                "service {} has no replicas",
                svc.name
            );
            // The plans of the endpoints: the service's own calls first.
            let plans: Vec<(&str, &Vec<CallConfig>)> =
                std::iter::once((svc.endpoint_name.as_str(), &svc.calls))
                    .chain(svc.endpoints.iter().map(|e| (e.name.as_str(), &e.calls)))
                    .collect();
            // One report per call of each plan, shared by the replicas' edges.
            let mut first_reports = Vec::new();
            for (_, calls) in &plans {
                first_reports.push(edge_reports.len() as u32);
                for call in calls.iter() {
                    let to = &config.services[call.to.0 as usize].name;
                    edge_reports.push(new_report(svc.name.clone(), to));
                }
            }
            let mut instances = Vec::with_capacity(svc.replicas.len());
            for (r, &host) in svc.replicas.iter().enumerate() {
                host_instances[host].push((sid as u32, r as u32));
                let mut call_edges = Vec::new();
                for (ep, (ep_name, calls)) in plans.iter().enumerate() {
                    let mut ep_edges = Vec::new();
                    for (index, call) in calls.iter().enumerate() {
                        let to = &config.services[call.to.0 as usize].name;
                        let index_s = index.to_string();
                        // The first replica's first endpoint keeps the stream names of an
                        // unreplicated service with one endpoint.
                        let replica = format!("replica-{r}");
                        let endpoint = format!("endpoint-{ep_name}");
                        let mut key = vec!["edge", "service", svc.name.as_str(), &index_s, to];
                        if r > 0 {
                            key.push(&replica);
                        }
                        if ep > 0 {
                            key.push(&endpoint);
                        }
                        let mut edge = new_edge(&key, host as u32, call.to, &call.policy);
                        edge.to_endpoint = call.endpoint;
                        edge.report = first_reports[ep] + index as u32;
                        ep_edges.push(edges.len() as u32);
                        edges.push(edge);
                    }
                    call_edges.push(ep_edges);
                }
                instances.push(Instance {
                    host: host as u32,
                    workers_busy: 0,
                    queue: VecDeque::new(),
                    rate_limiter: svc
                        .inbound
                        .rate_limit
                        .map(|c| RateLimiter::new(c, SimTime::ZERO)),
                    codel: match &svc.inbound.shed {
                        Some(Shed::Codel(c)) => Some(Codel::new(*c, SimTime::ZERO)),
                        _ => None,
                    },
                    limiter: match &svc.inbound.shed {
                        Some(Shed::Concurrency(c)) => Some(Limiter::new(ConcurrencyLimit::new(*c))),
                        _ => None,
                    },
                    down: 0,
                    epoch: 0,
                    up_since: SimTime::ZERO,
                    down_since: SimTime::ZERO,
                    cold_until: SimTime::ZERO,
                    cold_multiply: 1.0,
                    call_edges,
                    next_start: SimTime::ZERO,
                    report: InstanceReport {
                        host: topology.hosts[host].name.clone(),
                        crashes: 0,
                        down: SimDuration::ZERO,
                    },
                });
            }
            let replicas = instances.len() as u32;
            services.push(ServiceState {
                instances,
                busy_total: 0,
                queue_total: 0,
                up_count: replicas,
                up_count_since: SimTime::ZERO,
                shed_queue: match svc.inbound.shed {
                    Some(Shed::QueueLength { max }) => Some(max),
                    _ => None,
                },
                service_time_rng: streams.stream(&["service", &svc.name, "service_time"]),
                error_rng: streams.stream(&["service", &svc.name, "errors"]),
                plan_rng: streams.stream(&["service", &svc.name, "plan"]),
                latency_faults: Vec::new(),
                error_faults: Vec::new(),
                black_holes: Vec::new(),
                leak: None,
                version: 0,
                report: ServiceReport {
                    name: svc.name.clone(),
                    workers: svc.workers * replicas,
                    queue_capacity: svc.queue * replicas,
                    stats: OutcomeStats::new(config.window),
                    wasted_work: 0,
                    queue_max: 0,
                    gauges: Gauges::new(config.window),
                    objective: svc.objective,
                    duplicate_side_effects: 0,
                    deduplicated: 0,
                    expired: 0,
                    writes: 0,
                    write_conflicts: 0,
                    concurrency_limit: Vec::new(),
                    instances: Vec::new(),
                    up_time_by_count: vec![SimDuration::ZERO; replicas as usize + 1],
                    black_holed: 0,
                },
            });
        }
        let mut clients = Vec::with_capacity(config.clients.len());
        for client in &config.clients {
            let to = &config.services[client.to.0 as usize].name;
            let key = ["edge", "client", &client.name, "0", to];
            let edge = edges.len() as u32;
            let mut policy = client.policy.clone();
            let (users, user_retry) = match &client.arrivals {
                // The users retry whole read-modify-write cycles; the single calls do not.
                Arrivals::ReadModifyWrite { users } => (*users, policy.retry.take()),
                Arrivals::ClosedLoop { users, .. } => (*users, None),
                _ => (0, None),
            };
            let mut e = new_edge(&key, client.host as u32, client.to, &policy);
            e.report = edge_reports.len() as u32;
            edge_reports.push(new_report(format!("client:{}", client.name), to));
            edges.push(e);
            // More request types: an edge each (their own policy state, one shared report).
            let mut kinds = vec![(edge, client.requests.first().map_or(0, |r| r.0), 0.0)];
            for (k, &(endpoint, weight)) in client.requests.iter().enumerate() {
                if k == 0 {
                    kinds[0] = (edge, endpoint, weight);
                    continue;
                }
                let kind = format!("request-{k}");
                let key = ["edge", "client", &client.name, &kind, to];
                let mut e = new_edge(&key, client.host as u32, client.to, &policy);
                e.report = edges[edge as usize].report;
                e.to_endpoint = endpoint;
                kinds.push((edges.len() as u32, endpoint, weight));
                edges.push(e);
            }
            edges[edge as usize].to_endpoint = kinds[0].1;
            let user = User {
                started: SimTime::ZERO,
                failures: 0,
                last_backoff: SimDuration::ZERO,
            };
            clients.push(ClientState {
                edge,
                kinds,
                kinds_rng: streams.stream(&["client", &client.name, "requests"]),
                profile: client.profile.clone(),
                host: client.host as u32,
                arrivals_rng: streams.stream(&["client", &client.name, "arrivals"]),
                spikes: Vec::new(),
                user_retry,
                users: vec![user; users as usize],
                report: ClientReport {
                    name: client.name.clone(),
                    stats: OutcomeStats::new(config.window),
                    attempts: 0,
                    retries: 0,
                    to: to.clone(),
                    objective: client.objective,
                },
            });
        }
        let end = SimTime::ZERO + config.duration;
        let mut chaos = Vec::new();
        let mut link_faults = Vec::new();
        let mut faults = Vec::with_capacity(config.faults.len());
        for (index, fault) in config.faults.iter().enumerate() {
            let name = |s: ServiceId| config.services[s.0 as usize].name.clone();
            let target_name = |t: &Target| match *t {
                Target::Instance { service, index } => format!("{} replica {index}", name(service)),
                Target::Service(service) => name(service),
                Target::Host(h) => format!("host {}", topology.hosts[h].name),
                Target::Zone(z) => format!("zone {}", topology.zones[z].name),
                Target::Region(r) => format!("region {}", topology.regions[r].name),
            };
            // The service a fault hits first, for the cascade: the first one it touches.
            let first_service = |t: &Target| -> String {
                instances_of(config, t)
                    .first()
                    .map_or_else(String::new, |&(s, _)| {
                        config.services[s as usize].name.clone()
                    })
            };
            let (service, description) = match fault {
                Fault::Latency {
                    service,
                    endpoint,
                    multiply,
                    add,
                    from,
                    to,
                } => {
                    services[service.0 as usize].latency_faults.push((
                        *from,
                        *to,
                        *multiply,
                        *add,
                        index as u32,
                        *endpoint,
                    ));
                    let svc = &config.services[service.0 as usize];
                    let mut d = match endpoint {
                        None | Some(0) if svc.endpoints.is_empty() => {
                            format!("{} latency", name(*service))
                        }
                        None => format!("{} latency", name(*service)),
                        Some(0) => format!("{}/{} latency", name(*service), svc.endpoint_name),
                        Some(e) => format!(
                            "{}/{} latency",
                            name(*service),
                            svc.endpoints[usize::from(*e) - 1].name
                        ),
                    };
                    if *multiply != 1.0 {
                        d.push_str(&format!(" x{multiply}"));
                    }
                    if *add > SimDuration::ZERO {
                        d.push_str(&format!(" +{add}"));
                    }
                    (name(*service), d)
                }
                Fault::LinkLatency {
                    a,
                    b,
                    one_way,
                    multiply,
                    add,
                    from,
                    to,
                } => {
                    let members = |side: &[crate::network::Endpoint]| -> Vec<bool> {
                        (0..topology.hosts.len())
                            .map(|h| {
                                side.iter().any(|e| match *e {
                                    crate::network::Endpoint::Host(x) => x == h,
                                    crate::network::Endpoint::Zone(z) => {
                                        topology.hosts[h].zone == z
                                    }
                                    crate::network::Endpoint::Region(r) => {
                                        topology.region_of(h) == r
                                    }
                                })
                            })
                            .collect()
                    };
                    let (in_a, in_b) = (members(a), members(b));
                    let service = config
                        .services
                        .iter()
                        .find(|s| s.replicas.iter().any(|&h| in_b[h]))
                        .map_or_else(String::new, |s| s.name.clone());
                    link_faults.push(LinkFault {
                        in_a,
                        in_b,
                        one_way: *one_way,
                        multiply: *multiply,
                        add: *add,
                        from: *from,
                        to: *to,
                    });
                    let mut d = "link latency".to_string();
                    if *multiply != 1.0 {
                        d.push_str(&format!(" x{multiply}"));
                    }
                    if *add > SimDuration::ZERO {
                        d.push_str(&format!(" +{add}"));
                    }
                    (service, d)
                }
                Fault::Errors {
                    service,
                    rate,
                    from,
                    to,
                } => {
                    services[service.0 as usize]
                        .error_faults
                        .push((*from, *to, *rate));
                    (name(*service), format!("{} errors {rate}", name(*service)))
                }
                Fault::BlackHole { service, from, to } => {
                    services[service.0 as usize].black_holes.push((*from, *to));
                    (name(*service), format!("{} black hole", name(*service)))
                }
                Fault::Crash { target, .. } => (
                    first_service(target),
                    format!("{} crash", target_name(target)),
                ),
                Fault::Chaos { target, .. } => {
                    let i = index.to_string();
                    let units = match *target {
                        Target::Instance { .. } | Target::Service(_) => {
                            instances_of(config, target)
                                .into_iter()
                                .map(|(s, r)| {
                                    let svc = &config.services[s as usize].name;
                                    let key = ["chaos", &i, svc, &r.to_string()];
                                    (Unit::Replica(s, r), streams.stream(&key))
                                })
                                .collect()
                        }
                        _ => hosts_of(topology, target)
                            .into_iter()
                            .map(|h| {
                                let key = ["chaos", &i, "host", &topology.hosts[h].name];
                                (Unit::Host(h as u32), streams.stream(&key))
                            })
                            .collect(),
                    };
                    chaos.push(units);
                    (
                        first_service(target),
                        format!("{} chaos", target_name(target)),
                    )
                }
                Fault::Leak {
                    service,
                    growth_per_hour,
                    crash_above,
                    restart_after,
                } => {
                    services[service.0 as usize].leak =
                        Some((*growth_per_hour, *crash_above, *restart_after));
                    (name(*service), format!("{} leak", name(*service)))
                }
                Fault::LoadSpike {
                    client,
                    multiply,
                    from,
                    to,
                } => {
                    clients[client.0 as usize]
                        .spikes
                        .push((*from, *to, *multiply));
                    let c = &config.clients[client.0 as usize];
                    (name(c.to), format!("{} load x{multiply}", c.name))
                }
            };
            if !matches!(fault, Fault::Chaos { .. }) {
                chaos.push(Vec::new());
            }
            let (from, to) = fault.active(end);
            faults.push(FaultReport {
                kind: fault.kind(),
                service,
                description,
                from,
                to,
            });
        }
        // Partitions are faults of the network; the reports analyse them like the others.
        for p in &config.network.partitions {
            let place = |e: &crate::network::Endpoint| match *e {
                crate::network::Endpoint::Host(h) => topology.hosts[h].name.clone(),
                crate::network::Endpoint::Zone(z) => topology.zones[z].name.clone(),
                crate::network::Endpoint::Region(r) => topology.regions[r].name.clone(),
            };
            let side =
                |s: &[crate::network::Endpoint]| s.iter().map(place).collect::<Vec<_>>().join("+");
            let arrow = match p.direction {
                crate::network::Direction::Both => "<->",
                crate::network::Direction::AToB => "->",
                crate::network::Direction::BToA => "<-",
            };
            let mut description =
                format!("partition {} {arrow} {}", side(&p.side_a), side(&p.side_b));
            if let Some(f) = p.fraction {
                description.push_str(&format!(" ({}% of pairs)", f * 100.0));
            }
            if p.mode == CutMode::Refuse {
                description.push_str(" refusing");
            }
            // The first service with a replica on side b (else a) is where it shows first.
            let on_side = |side: &[crate::network::Endpoint]| {
                config.services.iter().find(|s| {
                    s.replicas.iter().any(|&h| {
                        side.iter().any(|e| match *e {
                            crate::network::Endpoint::Host(x) => x == h,
                            crate::network::Endpoint::Zone(z) => topology.hosts[h].zone == z,
                            crate::network::Endpoint::Region(r) => topology.region_of(h) == r,
                        })
                    })
                })
            };
            let service = on_side(&p.side_b)
                .or_else(|| on_side(&p.side_a))
                .map_or_else(String::new, |s| s.name.clone());
            faults.push(FaultReport {
                kind: "partition",
                service,
                description,
                from: p.from,
                to: p.to.unwrap_or(end).min(end),
            });
        }
        let host_zone: Vec<usize> = topology.hosts.iter().map(|h| h.zone).collect();
        let zone_region: Vec<usize> = topology.zones.iter().map(|z| z.region).collect();
        let n = &config.network;
        let net = Network::new(n.clone(), &host_zone, &zone_region)
            .expect("WorldConfig::network is validated against the topology when it is built");
        let ideal = config.clocks.iter().all(|c| *c == ClockConfig::ideal());
        let clocks = if ideal {
            Vec::new()
        } else {
            (0..topology.hosts.len())
                .map(|h| HostClock::new(config.clocks.get(h).cloned().unwrap_or_default()))
                .collect()
        };
        World {
            faults,
            window: config.window,
            name: config.name.clone(),
            seed,
            duration: config.duration,
            max_events: config.max_events,
            specs: config
                .services
                .iter()
                .map(|s| ServiceSpec {
                    endpoints: std::iter::once(EndpointSpec {
                        service_time: s.service_time.clone(),
                        error_rate: s.error_rate,
                        plan: s.calls.iter().map(|c| (c.probability, c.group)).collect(),
                    })
                    .chain(s.endpoints.iter().map(|e| EndpointSpec {
                        service_time: e.service_time.clone(),
                        error_rate: e.error_rate,
                        plan: e.calls.iter().map(|c| (c.probability, c.group)).collect(),
                    }))
                    .collect(),
                    min_gap: s
                        .max_throughput_per_s
                        .map(|r| SimDuration::from_nanos_f64(1e9 / r)),
                    execution: s.execution,
                    kind: s.kind,
                    idempotent: s.idempotent,
                    idempotency_keys: s.idempotency_keys,
                    propagate_deadline: s.propagate_deadline,
                    health: s.health,
                })
                .collect(),
            arrivals: config.clients.iter().map(|c| c.arrivals.clone()).collect(),
            services,
            clients,
            edges,
            edge_reports,
            jobs: Slab::new(),
            calls: Slab::new(),
            attempts: Slab::new(),
            next_attempt: NO_ATTEMPT + 1,
            next_serial: 1,
            net,
            host_down: vec![0; topology.hosts.len()],
            host_zone,
            zone_region,
            clocks,
            host_instances,
            fault_specs: config.faults.clone(),
            chaos,
            uniform_latency: (n.partitions.is_empty()
                && link_faults.is_empty()
                && n.links.is_empty()
                && n.loss == 0.0
                && n.cross_zone.as_ref().is_none_or(|d| *d == n.latency)
                && n.cross_region.as_ref().is_none_or(|d| *d == n.latency))
            .then(|| n.latency.clone()),
            link_faults,
            eligible: Vec::new(),
            made: Vec::new(),
            tracer: None,
        }
    }

    /// The names behind the ids of the run's trace records.
    pub fn trace_names(&self) -> TraceNames {
        TraceNames {
            services: self
                .services
                .iter()
                .map(|s| s.report.name.clone())
                .collect(),
            workers: self.services.iter().map(|s| s.report.workers).collect(),
            clients: self.clients.iter().map(|c| c.report.name.clone()).collect(),
            edges: self
                .edges
                .iter()
                .map(|e| {
                    let r = &self.edge_reports[e.report as usize];
                    (r.from.clone(), r.to.clone())
                })
                .collect(),
            faults: self.faults.iter().map(|f| f.description.clone()).collect(),
        }
    }

    /// Runs the world to its end time or event limit.
    pub fn run(mut self, options: RunOptions) -> RunResult {
        let mut sim = Simulation::new(Limits {
            end: SimTime::ZERO + self.duration,
            max_events: self.max_events,
        });
        if let Some(trace) = options.event_trace {
            sim.set_trace(trace);
        }
        if let Some(sink) = options.trace {
            self.tracer = Some(Box::new(Tracer {
                sink,
                next_request: 1,
                attempts: Vec::new(),
                call_requests: Vec::new(),
                job_slots: Vec::new(),
                free_slots: self
                    .services
                    .iter()
                    .map(|s| (0..s.report.workers).rev().collect())
                    .collect(),
            }));
        }
        for client in 0..self.clients.len() as u32 {
            let first = match self.arrivals[client as usize] {
                // The first Poisson arrival is one inter-arrival time after 0, like every other.
                Arrivals::Poisson { .. } => self.interarrival(client),
                Arrivals::Constant { .. } => SimDuration::ZERO,
                Arrivals::ReadModifyWrite { users } => {
                    self.clients[client as usize].report.stats.requests += u64::from(users);
                    for user in 0..users {
                        sim.scheduler()
                            .schedule_in(SimDuration::ZERO, WorldEvent::UserStart { client, user });
                    }
                    continue;
                }
                Arrivals::ClosedLoop { users, .. } => {
                    // Each user thinks first, so that they do not all start at once.
                    for user in 0..users {
                        let think = self.think_time(client);
                        sim.scheduler()
                            .schedule_in(think, WorldEvent::UserStart { client, user });
                    }
                    continue;
                }
            };
            sim.scheduler()
                .schedule_in(first, WorldEvent::ClientArrival { client });
        }
        for (fault, spec) in self.fault_specs.clone().iter().enumerate() {
            let fault = fault as u32;
            match spec {
                Fault::Crash { at, .. } => sim
                    .scheduler()
                    .schedule_at(*at, WorldEvent::Crash { fault }),
                Fault::Chaos { .. } => {
                    for unit in 0..self.chaos[fault as usize].len() as u32 {
                        let first = self.chaos_draw(fault, unit, false);
                        sim.scheduler()
                            .schedule_in(first, WorldEvent::ChaosFail { fault, unit });
                    }
                }
                _ => {}
            }
        }
        for edge in 0..self.edges.len() as u32 {
            let e = &self.edges[edge as usize];
            if !e.health.is_empty() {
                for replica in 0..e.health.len() as u32 {
                    sim.scheduler()
                        .schedule_in(SimDuration::ZERO, WorldEvent::HealthProbe { edge, replica });
                }
            }
            if let Some(o) = &e.outlier {
                let first = self.local_delay(e.caller_host, SimTime::ZERO, o.config().interval);
                sim.scheduler()
                    .schedule_in(first, WorldEvent::OutlierSweep { edge });
            }
        }
        let outcome = sim.run(&mut self);
        self.check_conservation();
        let end = outcome.now;
        for s in &mut self.services {
            s.report.up_time_by_count[s.up_count as usize] += end - s.up_count_since;
            s.up_count_since = end;
            for inst in &mut s.instances {
                if !inst.up() {
                    inst.report.down += end - inst.down_since;
                    inst.down_since = end;
                }
            }
            s.report.instances = s.instances.iter().map(|i| i.report.clone()).collect();
            if let Some(l) = s.instances.first().and_then(|i| i.limiter.as_ref()) {
                s.report.concurrency_limit = l.concurrency_limit().limit_log().to_vec();
            }
        }
        for s in &mut self.services {
            s.report.stats.finish(end);
            s.report.gauges.finish(end);
        }
        for c in &mut self.clients {
            c.report.stats.finish(end);
        }
        for r in &mut self.edge_reports {
            r.stats.finish(end);
            r.calls.finish(end);
        }
        // The edges of one call are the caller's replicas, in replica order.
        let mut replica_of_report = vec![0u32; self.edge_reports.len()];
        for e in &mut self.edges {
            let instance = replica_of_report[e.report as usize];
            replica_of_report[e.report as usize] += 1;
            if let Some(b) = &mut e.breaker {
                b.advance(end);
                self.edge_reports[e.report as usize]
                    .breakers
                    .push(BreakerReport {
                        instance,
                        flavor: b.config().flavor.name(),
                        not_permitted: b.not_permitted(),
                        transitions: b.transitions().to_vec(),
                    });
            }
        }
        RunResult {
            scenario: self.name,
            seed: self.seed,
            duration: self.duration,
            max_events: self.max_events,
            outcome,
            services: self.services.into_iter().map(|s| s.report).collect(),
            clients: self.clients.into_iter().map(|c| c.report).collect(),
            edges: self.edge_reports,
            faults: self.faults,
            window: self.window,
        }
    }

    /// Every attempt sent is ok, failed or still in flight; every logical request likewise.
    fn check_conservation(&self) {
        let attempts_in_flight: u64 = self
            .services
            .iter()
            .map(|s| s.report.stats.in_flight())
            .sum();
        let sent_live = self.attempts.live().filter(|a| a.sent).count() as u64;
        assert_eq!(
            attempts_in_flight, sent_live,
            "attempts in flight do not match attempts awaiting a reply"
        );
        let edge_in_flight: u64 = self.edge_reports.iter().map(|r| r.stats.in_flight()).sum();
        assert_eq!(
            edge_in_flight,
            self.attempts.live().count() as u64,
            "attempts not conserved on their edges"
        );
        let client_in_flight: u64 = self
            .clients
            .iter()
            .map(|c| c.report.stats.in_flight())
            .sum();
        let live_calls = || self.calls.live().filter(|c| !c.finished);
        let client_calls = live_calls()
            .filter(|c| matches!(c.owner, Owner::Client { .. }))
            .count() as u64;
        // Users' requests are in flight while a user waits for a call or a backoff.
        let users_active: u64 = self
            .clients
            .iter()
            .map(|c| c.report.stats.in_flight())
            .zip(&self.arrivals)
            .filter(|(_, a)| {
                matches!(
                    a,
                    Arrivals::ReadModifyWrite { .. } | Arrivals::ClosedLoop { .. }
                )
            })
            .map(|(n, _)| n)
            .sum();
        assert_eq!(
            client_in_flight,
            client_calls + users_active,
            "client requests not conserved"
        );
        let calls_in_flight: u64 = self.edge_reports.iter().map(|r| r.calls.in_flight()).sum();
        assert_eq!(
            calls_in_flight,
            live_calls().count() as u64,
            "calls not conserved"
        );
    }

    /// The time to the client's next arrival, from `now`. A load spike multiplies the rate
    /// inside its window: Poisson arrivals are thinned from the highest rate (exact for a
    /// piecewise-constant rate); constant arrivals are spaced at the rate where they are.
    fn interarrival_at(&mut self, client: u32, now: SimTime) -> SimDuration {
        let state = &mut self.clients[client as usize];
        if state.spikes.is_empty() && state.profile.is_empty() {
            // The common case: a constant rate.
            return match self.arrivals[client as usize] {
                Arrivals::Poisson { rate_per_s } => SimDuration::from_nanos_f64(
                    sim_core::sample_exp(&mut state.arrivals_rng) * 1e9 / rate_per_s,
                ),
                Arrivals::Constant { rate_per_s } => SimDuration::from_nanos_f64(1e9 / rate_per_s),
                Arrivals::ReadModifyWrite { .. } | Arrivals::ClosedLoop { .. } => {
                    unreachable!("users have no arrivals")
                }
            };
        }
        let profile = state.profile.clone();
        let spikes = state.spikes.clone();
        // The rate at `t` relative to the base rate: the load profile, times the spikes.
        let base = match self.arrivals[client as usize] {
            Arrivals::Poisson { rate_per_s } | Arrivals::Constant { rate_per_s } => rate_per_s,
            _ => 1.0,
        };
        let factor_at = |t: SimTime| {
            let spike = spikes
                .iter()
                .filter(|&&(from, to, _)| from <= t && t < to)
                .fold(1.0, |f, &(_, _, m)| f * m);
            let rate = match profile.iter().rev().find(|p| p.0 <= t) {
                None => base,
                Some(&(from, to, start, end)) if t < to => {
                    let done = (t - from).as_nanos() as f64 / (to - from).as_nanos() as f64;
                    start + (end - start) * done
                }
                Some(&(_, _, _, end)) => end,
            };
            spike * rate / base
        };
        match self.arrivals[client as usize] {
            Arrivals::Poisson { rate_per_s } => {
                // No rate exceeds the product of every spike above 1 times the highest rate of
                // the profile.
                let highest = state
                    .profile
                    .iter()
                    .fold(rate_per_s, |m, p| m.max(p.2).max(p.3));
                let peak: f64 = state.spikes.iter().map(|s| s.2.max(1.0)).product::<f64>()
                    * highest
                    / rate_per_s;
                let max_rate = rate_per_s * peak;
                let mut t = now;
                loop {
                    let gap = sim_core::sample_exp(&mut state.arrivals_rng) * 1e9 / max_rate;
                    t += SimDuration::from_nanos_f64(gap);
                    let rate = rate_per_s * factor_at(t);
                    if state.arrivals_rng.uniform() * max_rate < rate {
                        return t - now;
                    }
                }
            }
            Arrivals::Constant { rate_per_s } => {
                SimDuration::from_nanos_f64(1e9 / (rate_per_s * factor_at(now)))
            }
            Arrivals::ReadModifyWrite { .. } | Arrivals::ClosedLoop { .. } => {
                unreachable!("users have no arrivals")
            }
        }
    }

    fn interarrival(&mut self, client: u32) -> SimDuration {
        self.interarrival_at(client, SimTime::ZERO)
    }

    /// A closed-loop user's think time.
    fn think_time(&mut self, client: u32) -> SimDuration {
        let state = &mut self.clients[client as usize];
        match &self.arrivals[client as usize] {
            Arrivals::ClosedLoop { think_time, .. } => think_time.sample(&mut state.arrivals_rng),
            _ => unreachable!("only closed-loop users think"),
        }
    }

    fn on_client_arrival<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, client: u32) {
        let next = self.interarrival_at(client, s.now());
        s.schedule_in(next, WorldEvent::ClientArrival { client });
        let state = &mut self.clients[client as usize];
        state.report.stats.requests += 1;
        let edge = if state.kinds.len() == 1 {
            state.edge
        } else {
            // A weighted choice of the request type.
            let total: f64 = state.kinds.iter().map(|k| k.2).sum();
            let mut x = state.kinds_rng.uniform() * total;
            let mut chosen = state.kinds[state.kinds.len() - 1].0;
            for &(e, _, w) in &state.kinds {
                if x < w {
                    chosen = e;
                    break;
                }
                x -= w;
            }
            chosen
        };
        let owner = Owner::Client {
            client: ClientId(client),
            started: s.now(),
        };
        self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Serve);
    }

    /// A read-modify-write user reads the record (again).
    fn on_user_start<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        client: u32,
        user: u32,
    ) {
        let closed = matches!(self.arrivals[client as usize], Arrivals::ClosedLoop { .. });
        let state = &mut self.clients[client as usize];
        if closed {
            state.report.stats.requests += 1;
        }
        if closed || state.users[user as usize].failures == 0 {
            state.users[user as usize].started = s.now();
        }
        let edge = state.edge;
        let owner = Owner::User {
            client: ClientId(client),
            user,
        };
        let op = if closed { Op::Serve } else { Op::Read };
        self.start_call::<TRACE>(s, edge, owner, NEVER, op);
    }

    /// Begins a logical call over `edge`.
    fn start_call<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: u32,
        owner: Owner,
        inherited_deadline: SimTime,
        op: Op,
    ) -> (u32, u64) {
        let now = s.now();
        let edge = &mut self.edges[edge_id as usize];
        self.edge_reports[edge.report as usize].calls.requests += 1;
        if let Some(budget) = &mut edge.budget {
            budget.request_started(now);
        }
        let (deadline_in, host) = (edge.policy.deadline, edge.caller_host);
        let own = match deadline_in {
            None => NEVER,
            Some(d) => now + self.local_delay(host, now, d),
        };
        let deadline = own.min(inherited_deadline);
        let serial = self.next_serial;
        self.next_serial += 1;
        let call = self.calls.insert(Call {
            edge: edge_id,
            owner,
            started: now,
            hedge_timer: None,
            parent_attempt: match owner {
                Owner::Job(job) => self.jobs[job].attempt,
                _ => NO_ATTEMPT,
            },
            step: match owner {
                Owner::Job(job) => self.jobs[job].step,
                _ => 0,
            },
            breaker_at: None,
            retry_permit: None,
            serial,
            op,
            value: 0,
            attempts: 0,
            slots: [0; MAX_LIVE],
            live: 0,
            stage: 0,
            permit: false,
            waiting: false,
            wait_timer: None,
            deadline,
            deadline_timer: None,
            last_backoff: SimDuration::ZERO,
            last_cause: FailureCause::Timeout,
            executions: 0,
            key: Key::Unseen,
            jobs: 0,
            finished: false,
        });
        if TRACE {
            match owner {
                Owner::Client { client, .. } | Owner::User { client, .. } => {
                    self.trace_request_start(now, call, client.0, edge_id)
                }
                Owner::Job(job) => {
                    let (parent, index) = (self.jobs[job].attempt, self.jobs[job].next_call);
                    self.trace_call_start(now, call, parent, edge_id, u32::from(index) - 1);
                }
            }
        }
        if deadline != NEVER {
            if deadline <= now {
                // The budget ran out upstream: fail at once, without sending (gRPC
                // DEADLINE_EXCEEDED).
                self.call_finished::<TRACE>(s, call, Outcome::Failed(FailureCause::Timeout));
                return (call, serial);
            }
            self.calls[call].deadline_timer =
                Some(s.timer_at(deadline, WorldEvent::Deadline { call, serial }));
        }
        self.advance_call::<TRACE>(s, call);
        (call, serial)
    }

    /// Walks the call-level layers from where the call stands, then makes the first attempt.
    fn advance_call<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, call: u32) {
        let edge_id = self.calls[call].edge;
        loop {
            let stage = usize::from(self.calls[call].stage);
            let Some(&layer) = self.edges[edge_id as usize].call_layers.get(stage) else {
                break;
            };
            if layer == Layer::Timeout {
                // A timeout outside the retries bounds the whole call.
                let e = &self.edges[edge_id as usize];
                let host = e.caller_host;
                let timeout = e.policy.timeout.map(|t| self.local_delay(host, s.now(), t));
                let c = &mut self.calls[call];
                if let Some(end) = timeout.map(|t| s.now() + t)
                    && end < c.deadline
                {
                    c.deadline = end;
                    if let Some(t) = c.deadline_timer.take() {
                        s.cancel(t);
                    }
                    let serial = c.serial;
                    c.deadline_timer = Some(s.timer_at(end, WorldEvent::Deadline { call, serial }));
                }
            }
            if layer == Layer::Breaker && self.calls[call].breaker_at.is_none() {
                let now = s.now();
                let breaker = self.edges[edge_id as usize].breaker.as_mut();
                if !breaker
                    .expect("a breaker layer has a breaker")
                    .try_acquire(now)
                {
                    let failed = Outcome::Failed(FailureCause::CircuitOpen);
                    self.call_finished::<TRACE>(s, call, failed);
                    return;
                }
                self.calls[call].breaker_at = Some(now);
            }
            if layer == Layer::Bulkhead && !self.calls[call].permit {
                let serial = self.calls[call].serial;
                match self.bulkhead_enter(s, edge_id, Waiter::Call { call, serial }) {
                    Enter::Granted => self.calls[call].permit = true,
                    Enter::Waiting(timer) => {
                        self.calls[call].waiting = true;
                        self.calls[call].wait_timer = timer;
                        return;
                    }
                    Enter::Rejected => {
                        let failed = Outcome::Failed(FailureCause::BulkheadFull);
                        self.call_finished::<TRACE>(s, call, failed);
                        return;
                    }
                }
            }
            self.calls[call].stage += 1;
        }
        self.new_attempt::<TRACE>(s, call);
    }

    /// Tries to take a permit of the edge's bulkhead for `waiter`.
    fn bulkhead_enter(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: u32,
        waiter: Waiter,
    ) -> Enter {
        let edge = &mut self.edges[edge_id as usize];
        let bulkhead = edge
            .policy
            .bulkhead
            .expect("a bulkhead layer has a bulkhead");
        if edge.bulkhead_active < bulkhead.concurrency() {
            edge.bulkhead_active += 1;
            return Enter::Granted;
        }
        match bulkhead {
            Bulkhead::Semaphore {
                max_wait_duration, ..
            } => {
                if max_wait_duration == SimDuration::ZERO {
                    return Enter::Rejected;
                }
                edge.waiters.push_back(waiter);
                let event = match waiter {
                    Waiter::Call { call, serial } => WorldEvent::CallWaitOver { call, serial },
                    Waiter::Attempt { slot, attempt } => {
                        WorldEvent::AttemptWaitOver { slot, attempt }
                    }
                };
                let wait = match self.clocks.get(edge.caller_host as usize) {
                    None => max_wait_duration,
                    Some(clock) => clock.true_after(s.now(), max_wait_duration) - s.now(),
                };
                Enter::Waiting(Some(s.timer_in(wait, event)))
            }
            Bulkhead::ThreadPool { queue_capacity, .. } => {
                if edge.waiters.len() < queue_capacity as usize {
                    edge.waiters.push_back(waiter);
                    Enter::Waiting(None)
                } else {
                    Enter::Rejected
                }
            }
        }
    }

    /// Gives a permit back; the first waiter, if any, takes it and carries on.
    fn bulkhead_release<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, edge_id: u32) {
        let edge = &mut self.edges[edge_id as usize];
        let Some(waiter) = edge.waiters.pop_front() else {
            edge.bulkhead_active -= 1;
            return;
        };
        // The permit passes straight to the waiter.
        match waiter {
            Waiter::Call { call, .. } => {
                let c = &mut self.calls[call];
                c.waiting = false;
                c.permit = true;
                if let Some(t) = c.wait_timer.take() {
                    s.cancel(t);
                }
                c.stage += 1;
                self.advance_call::<TRACE>(s, call);
            }
            Waiter::Attempt { slot, .. } => {
                let a = &mut self.attempts[slot];
                a.waiting = false;
                a.permit = true;
                if let Some(t) = a.wait_timer.take() {
                    s.cancel(t);
                }
                a.stage += 1;
                self.advance_attempt::<TRACE>(s, slot);
            }
        }
    }

    /// Removes a waiter that gave up (its wait ran out, or its call or attempt ended).
    fn bulkhead_leave(&mut self, s: &mut Scheduler<WorldEvent>, edge_id: u32, waiter: Waiter) {
        let edge = &mut self.edges[edge_id as usize];
        if let Some(i) = edge.waiters.iter().position(|w| *w == waiter) {
            edge.waiters.remove(i);
        }
        let timer = match waiter {
            Waiter::Call { call, .. } => {
                self.calls[call].waiting = false;
                self.calls[call].wait_timer.take()
            }
            Waiter::Attempt { slot, .. } => {
                self.attempts[slot].waiting = false;
                self.attempts[slot].wait_timer.take()
            }
        };
        if let Some(t) = timer {
            s.cancel(t);
        }
    }

    /// Makes the call's next attempt (a retry or a hedge when it is not the first).
    fn new_attempt<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, call_id: u32) {
        let now = s.now();
        let id = self.next_attempt;
        self.next_attempt += 1;
        let slot = self.attempts.insert(Attempt {
            call: call_id,
            id,
            sent_at: now,
            stage: 0,
            sent: false,
            permit: false,
            waiting: false,
            timeout: None,
            wait_timer: None,
            value: 0,
            breaker_at: None,
            instance: 0,
        });
        let call = &mut self.calls[call_id];
        call.attempts += 1;
        call.slots[usize::from(call.live)] = slot;
        call.live += 1;
        let edge = &mut self.edges[call.edge as usize];
        self.edge_reports[edge.report as usize].attempts += 1;
        self.edge_reports[edge.report as usize].stats.requests += 1;
        let again = call.attempts > 1;
        let hedged = edge.policy.hedge.is_some();
        if again {
            if hedged {
                self.edge_reports[edge.report as usize].hedges += 1;
            } else {
                self.edge_reports[edge.report as usize].retries += 1;
            }
        }
        match call.owner {
            Owner::Client { client, .. } | Owner::User { client, .. } => {
                let report = &mut self.clients[client.0 as usize].report;
                report.attempts += 1;
                if again {
                    report.retries += 1;
                }
            }
            Owner::Job(_) => {}
        }
        if let Some(hedge) = &edge.policy.hedge {
            // The next copy is due `delay` after this one, however this one came about (a
            // non-fatal failure sends the next copy at once and restarts the delay).
            if let Some(t) = call.hedge_timer.take() {
                s.cancel(t);
            }
            if call.attempts < hedge.max_attempts {
                let serial = call.serial;
                let due = WorldEvent::HedgeDue {
                    call: call_id,
                    serial,
                };
                let delay = match self.clocks.get(edge.caller_host as usize) {
                    None => hedge.delay,
                    Some(clock) => clock.true_after(now, hedge.delay) - now,
                };
                call.hedge_timer = Some(s.timer_in(delay, due));
            }
        }
        if TRACE {
            self.trace_attempt_sent(now, call_id, id);
        }
        self.advance_attempt::<TRACE>(s, slot);
    }

    /// Walks the attempt-level layers from where the attempt stands, then sends it.
    fn advance_attempt<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, slot: u32) {
        let call = self.attempts[slot].call;
        let edge_id = self.calls[call].edge;
        loop {
            let stage = usize::from(self.attempts[slot].stage);
            let Some(&layer) = self.edges[edge_id as usize].attempt_layers.get(stage) else {
                break;
            };
            match layer {
                Layer::Bulkhead if !self.attempts[slot].permit => {
                    let attempt = self.attempts[slot].id;
                    match self.bulkhead_enter(s, edge_id, Waiter::Attempt { slot, attempt }) {
                        Enter::Granted => self.attempts[slot].permit = true,
                        Enter::Waiting(timer) => {
                            self.attempts[slot].waiting = true;
                            self.attempts[slot].wait_timer = timer;
                            return;
                        }
                        Enter::Rejected => {
                            let failed = Outcome::Failed(FailureCause::BulkheadFull);
                            self.attempt_ended::<TRACE>(s, slot, failed);
                            return;
                        }
                    }
                }
                Layer::Breaker if self.attempts[slot].breaker_at.is_none() => {
                    let now = s.now();
                    let breaker = self.edges[edge_id as usize].breaker.as_mut();
                    if !breaker
                        .expect("a breaker layer has a breaker")
                        .try_acquire(now)
                    {
                        let failed = Outcome::Failed(FailureCause::CircuitOpen);
                        self.attempt_ended::<TRACE>(s, slot, failed);
                        return;
                    }
                    self.attempts[slot].breaker_at = Some(now);
                }
                Layer::Timeout => {
                    let e = &self.edges[edge_id as usize];
                    let host = e.caller_host;
                    if let Some(timeout) =
                        e.policy.timeout.map(|t| self.local_delay(host, s.now(), t))
                    {
                        let attempt = self.attempts[slot].id;
                        self.attempts[slot].timeout =
                            Some(s.timer_in(timeout, WorldEvent::Timeout { slot, attempt }));
                    }
                }
                _ => {}
            }
            self.attempts[slot].stage += 1;
        }
        self.send::<TRACE>(s, slot);
    }

    /// The attempt leaves for its callee, unless the client-side throttle refuses it: the
    /// caller picks a replica, and the network carries the request there (or loses it, or a
    /// partition refuses it).
    fn send<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, slot: u32) {
        let now = s.now();
        let edge_id = self.calls[self.attempts[slot].call].edge;
        let edge = &mut self.edges[edge_id as usize];
        if let Some(throttle) = &mut edge.throttle
            && !throttle.admit(now, &mut edge.throttle_rng)
        {
            self.attempt_ended::<TRACE>(s, slot, Outcome::Failed(FailureCause::Throttled));
            return;
        }
        let instance = self.pick_replica(edge_id);
        let edge = &mut self.edges[edge_id as usize];
        edge.outstanding[instance as usize] += 1;
        let to = edge.to;
        let from_host = edge.caller_host;
        let to_host = self.services[to.0 as usize].instances[instance as usize].host;
        let a = &mut self.attempts[slot];
        a.sent = true;
        a.sent_at = now;
        a.instance = instance;
        let (call_id, attempt) = (a.call, a.id);
        self.services[to.0 as usize].report.stats.requests += 1;
        let latency = match self.transmit(edge_id, from_host, to_host, now) {
            Transit::Arrives(latency) => latency,
            Transit::Lost => return,
            Transit::Refused(latency) => {
                // A refused connection: the caller learns it after a round of the network.
                let refused = Outcome::Failed(FailureCause::Unavailable);
                let event = WorldEvent::Reply {
                    slot,
                    edge: edge_id,
                    attempt,
                    outcome: refused,
                };
                s.schedule_in(latency, event);
                return;
            }
        };
        let call = &mut self.calls[call_id];
        call.jobs += 1;
        let deadline = call.deadline;
        let job = self.jobs.insert(Job {
            service: to,
            endpoint: self.edges[edge_id as usize].to_endpoint,
            step: 0,
            step_calls: 0,
            step_ok: 0,
            step_failed: 0,
            step_join: Join::All,
            children: Vec::new(),
            instance,
            epoch: 0,
            edge: edge_id,
            call: call_id,
            slot,
            attempt,
            next_call: 0,
            holding_worker: false,
            degraded: false,
            deadline,
            owns_key: false,
            executed: false,
            arrived: now,
            permit: None,
        });
        if latency == SimDuration::ZERO {
            self.on_deliver::<TRACE>(s, job);
        } else {
            s.schedule_in(latency, WorldEvent::Deliver { job });
        }
    }

    /// The replica an attempt over `edge` goes to: the only one, or the balancer's choice among
    /// those the caller believes healthy and has not ejected.
    fn pick_replica(&mut self, edge_id: u32) -> u32 {
        let edge = &mut self.edges[edge_id as usize];
        let n = edge.outstanding.len();
        if n == 1 {
            return 0;
        }
        let service = edge.to.0 as usize;
        let state = &self.services[service];
        self.eligible.clear();
        for i in 0..n {
            let healthy = match self.specs[service].health {
                Health::Unchecked => true,
                Health::Perfect => {
                    let inst = &state.instances[i];
                    inst.up() && self.host_down[inst.host as usize] == 0
                }
                Health::Active(_) => edge.health[i].is_healthy(),
            };
            let ejected = edge.outlier.as_ref().is_some_and(|o| o.is_ejected(i));
            self.eligible.push(healthy && !ejected);
        }
        edge.balancer
            .pick(&self.eligible, &edge.outstanding, &mut edge.lb_rng)
            .unwrap_or(0) as u32
    }

    /// What the network does to one message from `from` to `to` now, drawing from the edge's
    /// stream: a down host, a partition or loss swallow it; a refusing partition refuses it.
    fn transmit(&mut self, edge_id: u32, from: u32, to: u32, now: SimTime) -> Transit {
        let edge = &mut self.edges[edge_id as usize];
        if let Some(latency) = &self.uniform_latency
            && self.host_down[from as usize] == 0
            && self.host_down[to as usize] == 0
        {
            // No partitions, no loss, no overrides and one latency everywhere: no lookups.
            return Transit::Arrives(latency.sample(&mut edge.network_rng));
        }
        let (f, t) = (from as usize, to as usize);
        let cut = if self.host_down[f] > 0 || self.host_down[t] > 0 {
            Some(CutMode::Drop)
        } else {
            self.net.cut(now, f, t)
        };
        let outcome = match cut {
            Some(CutMode::Drop) => Transit::Lost,
            Some(CutMode::Refuse) => {
                Transit::Refused(self.net.latency(t, f, &mut edge.network_rng))
            }
            None if self.net.lost(f, t, &mut edge.network_rng) => Transit::Lost,
            None => {
                let mut latency = self.net.latency(f, t, &mut edge.network_rng);
                for lf in &self.link_faults {
                    let matches =
                        (lf.in_a[f] && lf.in_b[t]) || (!lf.one_way && lf.in_b[f] && lf.in_a[t]);
                    if matches && lf.from <= now && now < lf.to {
                        latency = latency.mul_f64(lf.multiply) + lf.add;
                    }
                }
                Transit::Arrives(latency)
            }
        };
        if matches!(outcome, Transit::Lost) {
            self.edge_reports[edge.report as usize].lost_messages += 1;
        }
        outcome
    }

    fn on_deliver<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job: u32) {
        let now = s.now();
        let (service, instance) = (self.jobs[job].service.0 as usize, self.jobs[job].instance);
        let inst = &self.services[service].instances[instance as usize];
        let (epoch, host, up) = (inst.epoch, inst.host, inst.up());
        self.jobs[job].epoch = epoch;
        if self.host_down[host as usize] > 0 {
            // The machine is gone: nobody answers.
            self.discard_job(job);
            return;
        }
        if TRACE {
            self.trace_job(now, TraceKind::Delivered, job, 0, None);
        }
        if !up {
            // The host is up but the process is not: the connection is refused.
            self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Unavailable));
            return;
        }
        let state = &mut self.services[service];
        if state
            .black_holes
            .iter()
            .any(|&(from, to)| from <= now && now < to)
        {
            state.report.black_holed += 1;
            self.discard_job(job);
            return;
        }
        if self.specs[service].idempotency_keys {
            let call = self.jobs[job].call;
            match self.calls[call].key {
                Key::Done(outcome) => {
                    self.services[service].report.deduplicated += 1;
                    self.reply::<TRACE>(s, job, outcome);
                    return;
                }
                Key::InProgress => {
                    self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Conflict));
                    return;
                }
                Key::Unseen => {
                    self.calls[call].key = Key::InProgress;
                    self.jobs[job].owns_key = true;
                }
            }
        }
        self.jobs[job].arrived = now;
        let inst = &mut self.services[service].instances[instance as usize];
        if let Some(limiter) = &mut inst.rate_limiter {
            match limiter.acquire(now) {
                Some(SimDuration::ZERO) => {}
                Some(wait) => {
                    // A reserved permission: the request waits for its cycle.
                    s.schedule_in(wait, WorldEvent::Admitted { job });
                    return;
                }
                None => {
                    // Resilience4j blocks for the whole timeout before refusing.
                    let wait = limiter.rejection_wait();
                    if wait == SimDuration::ZERO {
                        let refused = Outcome::Failed(FailureCause::RateLimited);
                        self.reply::<TRACE>(s, job, refused);
                    } else {
                        s.schedule_in(wait, WorldEvent::RateLimited { job });
                    }
                    return;
                }
            }
        }
        self.admit::<TRACE>(s, job);
    }

    /// Whether the job's process died since it arrived (its work and its reply are lost).
    fn orphan(&self, job: u32) -> bool {
        let j = &self.jobs[job];
        self.services[j.service.0 as usize].instances[j.instance as usize].epoch != j.epoch
    }

    /// Forgets a job that will never answer (its process crashed, a black hole swallowed it, its
    /// host is gone). Its caller finds out by its timeout, if it has one.
    fn discard_job(&mut self, job_id: u32) {
        debug_assert!(!self.jobs[job_id].holding_worker || self.orphan(job_id));
        let job = &mut self.jobs[job_id];
        let (call_id, service, instance) = (job.call, job.service.0 as usize, job.instance);
        if let Some(permit) = self.jobs[job_id].permit.take() {
            let inst = &mut self.services[service].instances[instance as usize];
            inst.limiter.as_mut().expect("a limiter").ignore(permit);
        }
        // A removed job's attempt is none: calls it made recognise that it is gone.
        self.jobs[job_id].attempt = NO_ATTEMPT;
        self.jobs.remove(job_id);
        let call = &mut self.calls[call_id];
        call.jobs -= 1;
        if call.finished && call.jobs == 0 {
            self.calls.remove(call_id);
        }
    }

    /// A request past the rate limiter: the concurrency limit, queue-length shedding, then a
    /// worker or the queue.
    fn admit<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job: u32) {
        if self.orphan(job) {
            self.discard_job(job);
            return;
        }
        let now = s.now();
        let (service, instance) = (self.jobs[job].service.0 as usize, self.jobs[job].instance);
        let workers =
            self.services[service].report.workers / self.services[service].instances.len() as u32;
        let capacity = self.services[service].report.queue_capacity
            / self.services[service].instances.len() as u32;
        let shed_queue = self.services[service].shed_queue;
        let inst = &mut self.services[service].instances[instance as usize];
        if let Some(limiter) = &mut inst.limiter {
            match limiter.try_acquire() {
                Some(permit) => self.jobs[job].permit = Some(permit),
                None => {
                    self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Shed));
                    return;
                }
            }
        }
        let inst = &mut self.services[service].instances[instance as usize];
        let busy = inst.workers_busy >= workers;
        if busy && shed_queue.is_some_and(|max| inst.queue.len() as u32 >= max) {
            self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Shed));
            return;
        }
        if !busy {
            if let Some(codel) = &mut inst.codel {
                // Straight to a worker: a dequeue with no delay, which CoDel also sees.
                codel.should_drop(now, SimDuration::ZERO);
            }
            self.start_work::<TRACE>(s, job);
        } else if (inst.queue.len() as u32) < capacity {
            inst.queue.push_back(job);
            let queued = inst.queue.len() as u32;
            let state = &mut self.services[service];
            state.queue_total += 1;
            state.report.queue_max = state.report.queue_max.max(state.queue_total);
            state
                .report
                .gauges
                .set(now, state.busy_total, state.queue_total);
            if TRACE {
                self.trace_job(now, TraceKind::Queued, job, queued, None);
            }
        } else {
            if TRACE {
                self.trace_job(now, TraceKind::Rejected, job, 0, None);
            }
            self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Rejected));
        }
    }

    fn start_work<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job_id: u32) {
        let now = s.now();
        let job = &mut self.jobs[job_id];
        let (service, instance) = (job.service.0 as usize, job.instance as usize);
        let spec = &self.specs[service];
        if spec.propagate_deadline && job.deadline <= now {
            // Its caller has given up by now (gRPC servers check the deadline and abandon).
            self.services[service].report.expired += 1;
            self.reply::<TRACE>(s, job_id, Outcome::Failed(FailureCause::Timeout));
            return;
        }
        let state = &mut self.services[service];
        let leak_factor = state.leak.map(|(growth, crash_above, restart_after)| {
            let up = (now - state.instances[instance].up_since).as_secs_f64() / 3600.0;
            (1.0 + growth * up, crash_above, restart_after)
        });
        if let Some((factor, Some(above), restart_after)) = leak_factor
            && factor > above
        {
            // The leak has used up the replica: it dies now, this request with it, and comes
            // back fresh.
            self.crash_instance::<TRACE>(s, service as u32, instance as u32);
            let restart = WorldEvent::Restart {
                service: service as u32,
                replica: instance as u32,
            };
            s.schedule_in(restart_after, restart);
            return;
        }
        let job = &mut self.jobs[job_id];
        job.executed = true;
        let call = &mut self.calls[job.call];
        call.executions += 1;
        if call.executions > 1 && !spec.idempotent {
            self.services[service].report.duplicate_side_effects += 1;
        }
        job.holding_worker = true;
        let state = &mut self.services[service];
        state.instances[instance].workers_busy += 1;
        state.busy_total += 1;
        state
            .report
            .gauges
            .set(now, state.busy_total, state.queue_total);
        let endpoint = usize::from(self.jobs[job_id].endpoint);
        let mut work = self.specs[service].endpoints[endpoint]
            .service_time
            .sample(&mut state.service_time_rng);
        for &(from, to, factor, add, _, only) in &state.latency_faults {
            if from <= now && now < to && only.is_none_or(|e| e as usize == endpoint) {
                work = work.mul_f64(factor) + add;
            }
        }
        let inst = &state.instances[instance];
        if now < inst.cold_until {
            work = work.mul_f64(inst.cold_multiply);
        }
        if let Some((factor, _, _)) = leak_factor {
            work = work.mul_f64(factor);
        }
        if let Some(gap) = self.specs[service].min_gap {
            // A database's throughput limit: the operation holds its connection until its turn.
            let inst = &mut self.services[service].instances[instance];
            let start = inst.next_start.max(now);
            inst.next_start = start + gap;
            work += start - now;
        }
        s.schedule_in(work, WorldEvent::WorkDone { job: job_id });
        if TRACE {
            self.trace_work_start(now, job_id, work);
        }
    }

    fn on_work_done<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job: u32) {
        if self.orphan(job) {
            self.discard_job(job);
            return;
        }
        let now = s.now();
        let service = self.jobs[job].service.0 as usize;
        let error_rate =
            self.specs[service].endpoints[usize::from(self.jobs[job].endpoint)].error_rate;
        let state = &mut self.services[service];
        let injected = state
            .error_faults
            .iter()
            .find(|&&(from, to, _)| from <= now && now < to)
            .map(|&(_, _, rate)| rate);
        let outcome = if self.specs[service].kind == ServiceKind::Record {
            self.record_op(job)
        } else if (error_rate > 0.0 && state.error_rng.chance(error_rate))
            || injected.is_some_and(|rate| state.error_rng.chance(rate))
        {
            Outcome::Failed(FailureCause::Error)
        } else {
            Outcome::Ok
        };
        if TRACE {
            self.trace_job(now, TraceKind::WorkDone, job, 0, Some(outcome));
        }
        if outcome == Outcome::Ok && self.specs[service].kind == ServiceKind::Worker {
            self.next_downstream::<TRACE>(s, job);
        } else {
            self.reply::<TRACE>(s, job, outcome);
        }
    }

    /// A record's read or conditional write; the version read travels back with the reply.
    fn record_op(&mut self, job_id: u32) -> Outcome {
        let job = &self.jobs[job_id];
        let state = &mut self.services[job.service.0 as usize];
        match self.calls[job.call].op {
            Op::Read | Op::Serve => {
                let attempt = &mut self.attempts[job.slot];
                if attempt.id == job.attempt {
                    attempt.value = state.version;
                }
                Outcome::Ok
            }
            Op::Write(version) => {
                state.report.writes += 1;
                if version == state.version {
                    state.version += 1;
                    Outcome::Ok
                } else {
                    state.report.write_conflicts += 1;
                    Outcome::Failed(FailureCause::Conflict)
                }
            }
        }
    }

    /// Starts the job's next step of its endpoint's call plan: one call, or a parallel group of
    /// calls (each optional call made with its probability); replies when the plan is done.
    fn next_downstream<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job_id: u32) {
        if self.orphan(job_id) {
            self.discard_job(job_id);
            return;
        }
        loop {
            let job = &self.jobs[job_id];
            let (service, instance) = (job.service.0 as usize, job.instance as usize);
            let endpoint = usize::from(job.endpoint);
            let first = usize::from(job.next_call);
            let plan = &self.specs[service].endpoints[endpoint].plan;
            let Some(&(_, group)) = plan.get(first) else {
                let outcome = if job.degraded {
                    Outcome::Degraded
                } else {
                    Outcome::Ok
                };
                self.reply::<TRACE>(s, job_id, outcome);
                return;
            };
            // The step: this call, or the run of calls in its group.
            let end = match group {
                None => first + 1,
                Some(g) => {
                    first
                        + plan[first..]
                            .iter()
                            .take_while(|(_, other)| other.is_some_and(|o| o.id == g.id))
                            .count()
                }
            };
            // A reused buffer: most steps are one call, and the hot path allocates nothing.
            let mut made = std::mem::take(&mut self.made);
            made.clear();
            let state = &mut self.services[service];
            for (i, &(p, _)) in plan.iter().enumerate().take(end).skip(first) {
                if p >= 1.0 || state.plan_rng.chance(p) {
                    made.push(state.instances[instance].call_edges[endpoint][i]);
                }
            }
            let job = &mut self.jobs[job_id];
            job.next_call = end as u16;
            job.step += 1;
            job.step_calls = made.len() as u16;
            job.step_ok = 0;
            job.step_failed = 0;
            job.step_join = group.map_or(Join::All, |g| g.join);
            if made.is_empty() {
                // Every call of the step was optional and not made.
                self.made = made;
                continue;
            }
            let deadline = if self.specs[service].propagate_deadline {
                job.deadline
            } else {
                NEVER
            };
            if self.specs[service].execution == Execution::Async && job.holding_worker {
                self.release_worker::<TRACE>(s, job_id);
            }
            let step = self.jobs[job_id].step;
            let parallel = made.len() > 1;
            for &edge in &made {
                // A call of this step may have decided it already (a failure under All).
                let j = &self.jobs[job_id];
                if j.attempt == NO_ATTEMPT || j.step != step {
                    break;
                }
                let child =
                    self.start_call::<TRACE>(s, edge, Owner::Job(job_id), deadline, Op::Serve);
                let j = &mut self.jobs[job_id];
                if parallel && j.attempt != NO_ATTEMPT && j.step == step {
                    j.children.push(child);
                }
            }
            self.made = made;
            return;
        }
    }

    /// A call of the job's current step is over: decide the step when its join says so.
    fn step_call_done<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: u32,
        outcome: Outcome,
    ) {
        if self.orphan(job_id) {
            self.discard_job(job_id);
            return;
        }
        let job = &mut self.jobs[job_id];
        match outcome {
            Outcome::Ok => job.step_ok += 1,
            Outcome::Degraded => {
                job.step_ok += 1;
                job.degraded = true;
            }
            Outcome::Failed(_) => job.step_failed += 1,
        }
        let (n, ok, failed) = (job.step_calls, job.step_ok, job.step_failed);
        let need = match job.step_join {
            Join::All => n,
            Join::First => 1.min(n),
            Join::Quorum(k) => k.min(n),
        };
        let decided = if ok >= need {
            Some(true)
        } else if failed > n - need {
            Some(false)
        } else {
            None
        };
        let Some(success) = decided else {
            return;
        };
        job.step += 1;
        // The calls still running are for nobody now: abandon them.
        for (call, serial) in std::mem::take(&mut job.children) {
            let c = &self.calls[call];
            if c.serial == serial && !c.finished {
                self.cancel_call::<TRACE>(s, call);
            }
        }
        if success {
            self.next_downstream::<TRACE>(s, job_id);
        } else {
            self.reply::<TRACE>(s, job_id, Outcome::Failed(FailureCause::Dependency));
        }
    }

    fn release_worker<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job_id: u32) {
        if TRACE {
            self.trace_worker_released(s.now(), job_id);
        }
        let job = &mut self.jobs[job_id];
        debug_assert!(job.holding_worker);
        job.holding_worker = false;
        let (service, instance) = (job.service.0 as usize, job.instance as usize);
        let state = &mut self.services[service];
        state.instances[instance].workers_busy -= 1;
        state.busy_total -= 1;
        let now = s.now();
        let mut next = state.instances[instance].queue.pop_front();
        if next.is_some() {
            state.queue_total -= 1;
        }
        // CoDel judges every dequeue; a request it drops is shed and the next one is tried.
        while let Some(job) = next {
            let delay = now - self.jobs[job].arrived;
            let codel = self.services[service].instances[instance].codel.as_mut();
            if !codel.is_some_and(|c| c.should_drop(now, delay)) {
                break;
            }
            self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Shed));
            let state = &mut self.services[service];
            next = state.instances[instance].queue.pop_front();
            if next.is_some() {
                state.queue_total -= 1;
            }
        }
        let state = &mut self.services[service];
        state
            .report
            .gauges
            .set(now, state.busy_total, state.queue_total);
        if let Some(next) = next {
            self.start_work::<TRACE>(s, next);
        }
    }

    /// Ends a job: frees its worker and sends the reply back over the network. A job whose
    /// process crashed sends nothing.
    fn reply<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: u32,
        outcome: Outcome,
    ) {
        if self.orphan(job_id) {
            self.discard_job(job_id);
            return;
        }
        if self.jobs[job_id].holding_worker {
            self.release_worker::<TRACE>(s, job_id);
        }
        if TRACE {
            self.trace_job(s.now(), TraceKind::ReplySent, job_id, 0, Some(outcome));
        }
        let job = &self.jobs[job_id];
        let (call_id, slot, attempt, edge_id) = (job.call, job.slot, job.attempt, job.edge);
        let (service, instance) = (job.service.0 as usize, job.instance as usize);
        let (owns_key, executed, arrived) = (job.owns_key, job.executed, job.arrived);
        if let Some(permit) = self.jobs[job_id].permit.take() {
            let limiter = self.services[service].instances[instance]
                .limiter
                .as_mut()
                .expect("a limiter");
            let now = s.now();
            match outcome {
                Outcome::Ok | Outcome::Degraded => {
                    limiter.release(now, permit, now - arrived, false);
                }
                // Overload: the limit must come down (Netflix `onDropped`).
                Outcome::Failed(
                    FailureCause::Timeout | FailureCause::Rejected | FailureCause::Shed,
                ) => limiter.release(now, permit, now - arrived, true),
                // Says nothing about this server's capacity (`onIgnore`).
                Outcome::Failed(_) => limiter.ignore(permit),
            }
        }
        self.jobs[job_id].attempt = NO_ATTEMPT;
        self.jobs.remove(job_id);
        let call = &mut self.calls[call_id];
        if owns_key {
            // Stripe keeps the result of an execution, errors included; a request refused
            // before executing leaves the key free for the next try.
            call.key = if executed {
                Key::Done(outcome)
            } else {
                Key::Unseen
            };
        }
        call.jobs -= 1;
        let orphan = call.finished;
        if orphan && call.jobs == 0 {
            self.calls.remove(call_id);
        }
        // Attempt ids are never reused, so this holds even if the slot holds another attempt.
        let attempt_live = self.attempts[slot].id == attempt;
        if !attempt_live && executed {
            // The caller gave up on this attempt (or the call is over): the work was wasted.
            self.services[service].report.wasted_work += 1;
        }
        let from = self.services[service].instances[instance].host;
        let to = self.edges[edge_id as usize].caller_host;
        let (latency, outcome) = match self.transmit(edge_id, from, to, s.now()) {
            Transit::Arrives(latency) => (latency, outcome),
            Transit::Lost => return,
            // The connection breaks under the reply: the caller sees a reset.
            Transit::Refused(latency) => (latency, Outcome::Failed(FailureCause::Unavailable)),
        };
        if latency == SimDuration::ZERO {
            self.on_reply::<TRACE>(s, slot, edge_id, attempt, outcome);
        } else {
            let event = WorldEvent::Reply {
                slot,
                edge: edge_id,
                attempt,
                outcome,
            };
            s.schedule_in(latency, event);
        }
    }

    fn on_reply<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: u32,
        edge: u32,
        attempt: u64,
        outcome: Outcome,
    ) {
        let a = &mut self.attempts[slot];
        if a.id != attempt {
            // The slot may hold a newer attempt by now, so the edge comes from the reply itself.
            self.edge_reports[self.edges[edge as usize].report as usize].late_replies += 1;
            if TRACE {
                let caller = (edge, attempt, Some(outcome));
                self.trace_caller(s.now(), TraceKind::LateReply, caller, SimDuration::ZERO, 0);
            }
            return;
        }
        if let Some(timer) = a.timeout.take() {
            s.cancel(timer);
        }
        if let Some(throttle) = &mut self.edges[edge as usize].throttle
            && !matches!(
                outcome,
                Outcome::Failed(
                    FailureCause::Rejected | FailureCause::Shed | FailureCause::RateLimited
                )
            )
        {
            // The backend accepted it (answered, or failed for a reason of its own).
            throttle.on_accepted(s.now());
        }
        if TRACE {
            let latency = s.now() - self.attempts[slot].sent_at;
            let caller = (edge, attempt, Some(outcome));
            self.trace_caller(s.now(), TraceKind::ReplyReceived, caller, latency, 0);
        }
        self.attempt_ended::<TRACE>(s, slot, outcome);
    }

    fn on_timeout<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: u32,
        attempt: u64,
    ) {
        let a = &mut self.attempts[slot];
        debug_assert_eq!(a.id, attempt, "a live timeout names its attempt");
        a.timeout = None;
        if TRACE {
            let a = &self.attempts[slot];
            let edge = self.calls[a.call].edge;
            let waited = s.now() - a.sent_at;
            self.trace_caller(
                s.now(),
                TraceKind::Timeout,
                (edge, attempt, None),
                waited,
                0,
            );
        }
        self.attempt_ended::<TRACE>(s, slot, Outcome::Failed(FailureCause::Timeout));
    }

    fn on_attempt_wait_over<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: u32,
        attempt: u64,
    ) {
        debug_assert_eq!(self.attempts[slot].id, attempt);
        self.attempts[slot].wait_timer = None;
        let edge = self.calls[self.attempts[slot].call].edge;
        self.bulkhead_leave(s, edge, Waiter::Attempt { slot, attempt });
        self.attempt_ended::<TRACE>(s, slot, Outcome::Failed(FailureCause::BulkheadFull));
    }

    fn on_call_wait_over<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call: u32,
        serial: u64,
    ) {
        debug_assert_eq!(self.calls[call].serial, serial);
        self.calls[call].wait_timer = None;
        let edge = self.calls[call].edge;
        self.bulkhead_leave(s, edge, Waiter::Call { call, serial });
        self.call_finished::<TRACE>(s, call, Outcome::Failed(FailureCause::BulkheadFull));
    }

    /// Forgets an attempt at its caller: timers, permit, slot. Its job, if any, carries on.
    /// `failed` is the outcome an attempt-level breaker records (`None`: the attempt was
    /// cancelled, and the breaker gets its permission back).
    fn drop_attempt<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: u32,
        failed: Option<bool>,
    ) {
        let now = s.now();
        let a = &mut self.attempts[slot];
        if let Some(at) = a.breaker_at {
            let edge = self.calls[a.call].edge as usize;
            let breaker = self.edges[edge].breaker.as_mut().expect("a breaker");
            match failed {
                Some(failed) => breaker.on_result(now, now - at, failed),
                None => breaker.release(),
            }
        }
        let (call_id, attempt, sent, instance) = (a.call, a.id, a.sent, a.instance as usize);
        let (timeout, wait_timer, permit, waiting) =
            (a.timeout.take(), a.wait_timer.take(), a.permit, a.waiting);
        if sent {
            let edge = &mut self.edges[self.calls[call_id].edge as usize];
            edge.outstanding[instance] -= 1;
            // Envoy outlier detection hears what the replica answered (not what the caller's
            // own policies decided, and not a cancelled copy).
            if let (Some(outlier), Some(failed)) = (&mut edge.outlier, failed) {
                let before = outlier.ejected_count();
                outlier.on_result(now, instance, !failed, failed);
                if outlier.ejected_count() > before {
                    self.edge_reports[edge.report as usize].ejections += 1;
                }
            }
        }
        // A later reply must find another id here.
        a.id = NO_ATTEMPT;
        for t in [timeout, wait_timer].into_iter().flatten() {
            s.cancel(t);
        }
        let call = &mut self.calls[call_id];
        let live = usize::from(call.live);
        let i = call.slots[..live]
            .iter()
            .position(|&x| x == slot)
            .expect("a live attempt is in its call's slots");
        call.slots.copy_within(i + 1..live, i);
        call.live -= 1;
        let edge = call.edge;
        self.attempts.remove(slot);
        if waiting {
            let edge = &mut self.edges[edge as usize];
            if let Some(i) = edge
                .waiters
                .iter()
                .position(|w| *w == Waiter::Attempt { slot, attempt })
            {
                edge.waiters.remove(i);
            }
        }
        if permit {
            self.bulkhead_release::<TRACE>(s, edge);
        }
    }

    /// Records an attempt's outcome and decides: done, retry, hedge, or give up.
    fn attempt_ended<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: u32,
        outcome: Outcome,
    ) {
        let now = s.now();
        let a = &self.attempts[slot];
        let (call_id, sent, sent_at, value, attempt) = (a.call, a.sent, a.sent_at, a.value, a.id);
        let edge_id = self.calls[call_id].edge;
        let edge = &mut self.edges[edge_id as usize];
        let to = edge.to.0 as usize;
        let latency = now - sent_at;
        match outcome {
            Outcome::Ok => self.edge_reports[edge.report as usize]
                .stats
                .record_ok(now, latency),
            Outcome::Degraded => self.edge_reports[edge.report as usize]
                .stats
                .record_degraded(now, latency),
            Outcome::Failed(cause) => self.edge_reports[edge.report as usize]
                .stats
                .record_failure(now, cause),
        }
        if sent {
            let stats = &mut self.services[to].report.stats;
            match outcome {
                Outcome::Ok => stats.record_ok(now, latency),
                Outcome::Degraded => stats.record_degraded(now, latency),
                Outcome::Failed(cause) => stats.record_failure(now, cause),
            }
        }
        self.drop_attempt::<TRACE>(s, slot, Some(!outcome.is_answer()));
        let edge = &mut self.edges[edge_id as usize];
        if let Some(budget) = &mut edge.budget {
            let permit = self.calls[call_id].retry_permit.take();
            let retry_on = edge.policy.retry.as_ref().map(|r| r.retry_on);
            match outcome {
                Outcome::Failed(cause) if !retry_on.is_some_and(|r| r.contains(cause)) => {
                    // Not a failure the budget counts; the retry slot comes back all the same.
                    if let Some(p) = permit {
                        budget.retry_abandoned(now, p);
                    }
                }
                _ => {
                    let timed_out = outcome == Outcome::Failed(FailureCause::Timeout);
                    budget.attempt_finished(now, outcome.is_answer(), timed_out, permit);
                }
            }
        }
        let cause = match outcome {
            Outcome::Ok | Outcome::Degraded => {
                self.calls[call_id].value = value;
                self.call_finished::<TRACE>(s, call_id, outcome);
                return;
            }
            Outcome::Failed(cause) => cause,
        };
        let call = &mut self.calls[call_id];
        call.last_cause = cause;
        let edge = &mut self.edges[edge_id as usize];
        if let Some(hedge) = &edge.policy.hedge {
            if !hedge.non_fatal.contains(cause) {
                self.call_finished::<TRACE>(s, call_id, outcome);
            } else if call.attempts < hedge.max_attempts {
                // A non-fatal failure sends the next copy at once.
                self.new_attempt::<TRACE>(s, call_id);
            } else if call.live == 0 {
                self.call_finished::<TRACE>(s, call_id, outcome);
            }
            return;
        }
        match &edge.policy.retry {
            Some(retry) if retry.retry_on.contains(cause) && call.attempts < retry.max_attempts => {
                if let Some(budget) = &mut edge.budget {
                    let timed_out = cause == FailureCause::Timeout;
                    match budget.try_retry(now, timed_out) {
                        Some(permit) => call.retry_permit = Some(permit),
                        None => {
                            self.edge_reports[edge.report as usize].retries_refused += 1;
                            self.call_finished::<TRACE>(s, call_id, outcome);
                            return;
                        }
                    }
                }
                let wait = backoff(
                    &retry.backoff,
                    call.attempts,
                    call.last_backoff,
                    &mut edge.retry_rng,
                );
                call.last_backoff = wait;
                let (next, serial) = (call.attempts + 1, call.serial);
                if TRACE {
                    let caller = (edge_id, attempt, Some(outcome));
                    self.trace_caller(now, TraceKind::RetryScheduled, caller, wait, next);
                }
                if wait == SimDuration::ZERO {
                    self.new_attempt::<TRACE>(s, call_id);
                } else {
                    let host = self.edges[edge_id as usize].caller_host;
                    s.schedule_in(
                        self.local_delay(host, now, wait),
                        WorldEvent::RetryDue {
                            call: call_id,
                            serial,
                        },
                    );
                }
            }
            _ => self.call_finished::<TRACE>(s, call_id, outcome),
        }
    }

    fn on_retry_due<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call: u32,
        serial: u64,
    ) {
        let c = &self.calls[call];
        // The deadline may have ended the call during the backoff.
        if c.serial == serial && !c.finished {
            self.new_attempt::<TRACE>(s, call);
        }
    }

    fn on_hedge_due<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call: u32,
        serial: u64,
    ) {
        debug_assert_eq!(self.calls[call].serial, serial);
        self.calls[call].hedge_timer = None;
        self.new_attempt::<TRACE>(s, call);
    }

    fn on_deadline<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call: u32,
        serial: u64,
    ) {
        debug_assert_eq!(self.calls[call].serial, serial);
        self.calls[call].deadline_timer = None;
        if TRACE {
            let waited = s.now() - self.calls[call].started;
            self.trace_deadline(s.now(), call, waited);
        }
        // Every attempt in flight fails with the call, as the caller sees it.
        let now = s.now();
        while self.calls[call].live > 0 {
            let slot = self.calls[call].slots[0];
            let a = &self.attempts[slot];
            let edge = &mut self.edges[self.calls[call].edge as usize];
            self.edge_reports[edge.report as usize]
                .stats
                .record_failure(now, FailureCause::Timeout);
            if a.sent {
                let to = edge.to.0 as usize;
                self.services[to]
                    .report
                    .stats
                    .record_failure(now, FailureCause::Timeout);
            }
            self.drop_attempt::<TRACE>(s, slot, Some(true));
        }
        self.call_finished::<TRACE>(s, call, Outcome::Failed(FailureCause::Timeout));
    }

    /// Lets go of what a call holds at its caller: its copies in flight (abandoned: their work
    /// goes on, wasted), its timers and its bulkhead permit or place in line. Returns its edge.
    fn release_call<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: u32,
    ) -> u32 {
        while self.calls[call_id].live > 0 {
            let slot = self.calls[call_id].slots[0];
            let edge = &mut self.edges[self.calls[call_id].edge as usize];
            self.edge_reports[edge.report as usize]
                .stats
                .record_cancelled();
            if self.attempts[slot].sent {
                self.services[edge.to.0 as usize]
                    .report
                    .stats
                    .record_cancelled();
            }
            self.drop_attempt::<TRACE>(s, slot, None);
        }
        let call = &mut self.calls[call_id];
        for t in [call.deadline_timer.take(), call.hedge_timer.take()]
            .into_iter()
            .flatten()
        {
            s.cancel(t);
        }
        let (edge_id, serial, waiting, permit) =
            (call.edge, call.serial, call.waiting, call.permit);
        call.permit = false;
        if waiting {
            self.bulkhead_leave(
                s,
                edge_id,
                Waiter::Call {
                    call: call_id,
                    serial,
                },
            );
        }
        if permit {
            self.bulkhead_release::<TRACE>(s, edge_id);
        }
        edge_id
    }

    /// Abandons a call nobody waits for any more (a parallel step decided without it): like a
    /// hedge that lost, it ends neither ok nor failed.
    fn cancel_call<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, call_id: u32) {
        let now = s.now();
        let edge_id = self.release_call::<TRACE>(s, call_id);
        let call = &mut self.calls[call_id];
        let (breaker_at, retry_permit) = (call.breaker_at.take(), call.retry_permit.take());
        let edge = &mut self.edges[edge_id as usize];
        if let Some(budget) = &mut edge.budget {
            if let Some(permit) = retry_permit {
                budget.retry_abandoned(now, permit);
            }
            budget.request_finished(now);
        }
        if breaker_at.is_some() {
            edge.breaker.as_mut().expect("a breaker").release();
        }
        self.edge_reports[edge.report as usize]
            .calls
            .record_cancelled();
        let call = &mut self.calls[call_id];
        call.finished = true;
        if call.jobs == 0 {
            self.calls.remove(call_id);
        }
    }

    /// A logical call is over: apply the fallback and report it to its owner.
    fn call_finished<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: u32,
        outcome: Outcome,
    ) {
        let now = s.now();
        let edge_id = self.release_call::<TRACE>(s, call_id);
        let breaker_at = self.calls[call_id].breaker_at;
        let retry_permit = self.calls[call_id].retry_permit.take();
        let edge = &mut self.edges[edge_id as usize];
        if let Some(budget) = &mut edge.budget {
            if let Some(permit) = retry_permit {
                budget.retry_abandoned(now, permit);
            }
            budget.request_finished(now);
        }
        if let Some(at) = breaker_at {
            let breaker = edge.breaker.as_mut().expect("a breaker");
            breaker.on_result(now, now - at, !outcome.is_answer());
        }
        let mut outcome = outcome;
        if outcome.is_answer() {
            edge.last_answer = Some(now);
        } else if let Some(fallback) = edge.policy.fallback {
            let available = match fallback {
                Fallback::Static | Fallback::Skip => true,
                Fallback::Cached { ttl } => edge.last_answer.is_some_and(|t| now - t <= ttl),
            };
            if available {
                self.edge_reports[edge.report as usize].fallbacks += 1;
                outcome = Outcome::Degraded;
            }
        }
        let call = &mut self.calls[call_id];
        let latency = now - call.started;
        match outcome {
            Outcome::Ok => self.edge_reports[edge.report as usize]
                .calls
                .record_ok(now, latency),
            Outcome::Degraded => self.edge_reports[edge.report as usize]
                .calls
                .record_degraded(now, latency),
            Outcome::Failed(cause) => self.edge_reports[edge.report as usize]
                .calls
                .record_failure(now, cause),
        }
        let owner = call.owner;
        let (op, value) = (call.op, call.value);
        let parent = (call.parent_attempt, call.step);
        if TRACE {
            self.trace_call_finished(now, call_id, outcome);
        }
        let call = &mut self.calls[call_id];
        call.finished = true;
        if call.jobs == 0 {
            self.calls.remove(call_id);
        }
        match owner {
            Owner::Client { client, started } => {
                let stats = &mut self.clients[client.0 as usize].report.stats;
                match outcome {
                    Outcome::Ok => stats.record_ok(now, now - started),
                    Outcome::Degraded => stats.record_degraded(now, now - started),
                    Outcome::Failed(cause) => stats.record_failure(now, cause),
                }
            }
            Owner::Job(job) => {
                let j = &self.jobs[job];
                // The job may have moved past this step (a parallel step decided without this
                // call), or be gone; then the outcome is for nobody.
                if parent.0 != NO_ATTEMPT && parent == (j.attempt, j.step) {
                    self.step_call_done::<TRACE>(s, job, outcome);
                }
            }
            Owner::User { client, user } => {
                self.user_step::<TRACE>(s, client.0, user, op, value, outcome)
            }
        }
    }

    /// A read-modify-write user's read or write is over.
    fn user_step<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        client: u32,
        user: u32,
        op: Op,
        value: u64,
        outcome: Outcome,
    ) {
        let now = s.now();
        if op == Op::Serve {
            // A closed-loop user: record the request, think, send the next.
            let started = self.clients[client as usize].users[user as usize].started;
            let stats = &mut self.clients[client as usize].report.stats;
            match outcome {
                Outcome::Ok => stats.record_ok(now, now - started),
                Outcome::Degraded => stats.record_degraded(now, now - started),
                Outcome::Failed(cause) => stats.record_failure(now, cause),
            }
            let think = self.think_time(client);
            let host = self.clients[client as usize].host;
            let think = self.local_delay(host, now, think);
            s.schedule_in(think, WorldEvent::UserStart { client, user });
            return;
        }
        let state = &mut self.clients[client as usize];
        let u = &mut state.users[user as usize];
        match (op, outcome.is_answer()) {
            (Op::Read, true) => {
                let edge = state.edge;
                let owner = Owner::User {
                    client: ClientId(client),
                    user,
                };
                self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Write(value));
            }
            (_, true) => {
                let latency = now - u.started;
                state.report.stats.record_ok(now, latency);
            }
            (_, false) => {
                u.failures += 1;
                let Outcome::Failed(cause) = outcome else {
                    unreachable!("not an answer")
                };
                match &state.user_retry {
                    Some(retry) if u.failures < retry.max_attempts => {
                        let wait = backoff(
                            &retry.backoff,
                            u.failures,
                            u.last_backoff,
                            &mut state.arrivals_rng,
                        );
                        u.last_backoff = wait;
                        let wait = match self.clocks.get(state.host as usize) {
                            None => wait,
                            Some(clock) => clock.true_after(now, wait) - now,
                        };
                        s.schedule_in(wait, WorldEvent::UserStart { client, user });
                    }
                    _ => state.report.stats.record_failure(now, cause),
                }
            }
        }
    }
}

/// The replicas a fault target covers, as (service, replica), in service then replica order.
fn instances_of(config: &WorldConfig, target: &Target) -> Vec<(u32, u32)> {
    let on_hosts = |keep: &dyn Fn(usize) -> bool| {
        let mut v = Vec::new();
        for (s, svc) in config.services.iter().enumerate() {
            for (r, &h) in svc.replicas.iter().enumerate() {
                if keep(h) {
                    v.push((s as u32, r as u32));
                }
            }
        }
        v
    };
    let topology = &config.topology;
    match *target {
        Target::Instance { service, index } => vec![(service.0, index)],
        Target::Service(service) => (0..config.services[service.0 as usize].replicas.len())
            .map(|r| (service.0, r as u32))
            .collect(),
        Target::Host(host) => on_hosts(&|h| h == host),
        Target::Zone(zone) => on_hosts(&|h| topology.hosts[h].zone == zone),
        Target::Region(region) => on_hosts(&|h| topology.region_of(h) == region),
    }
}

/// The hosts a host-, zone- or region-level target covers (none for a service target).
fn hosts_of(topology: &crate::topology::Topology, target: &Target) -> Vec<usize> {
    (0..topology.hosts.len())
        .filter(|&h| match *target {
            Target::Host(host) => h == host,
            Target::Zone(zone) => topology.hosts[h].zone == zone,
            Target::Region(region) => topology.region_of(h) == region,
            Target::Instance { .. } | Target::Service(_) => false,
        })
        .collect()
}

/// What one chaos process fails: a replica's process, or a whole host.
#[derive(Clone, Copy)]
enum Unit {
    Replica(u32, u32),
    Host(u32),
}

/// The outcome of asking a bulkhead for a permit.
enum Enter {
    Granted,
    /// Queued, with the timer that ends the wait (none for a thread pool's queue).
    Waiting(Option<TimerId>),
    Rejected,
}

/// Splits an edge's layers into those acting per call and per attempt, outermost first,
/// keeping only the layers the policy configures.
fn layers(policy: &CallPolicy) -> (Vec<Layer>, Vec<Layer>) {
    let configured = |l: &Layer| match l {
        Layer::Retry => false,
        Layer::Breaker => policy.breaker.is_some(),
        Layer::Bulkhead => policy.bulkhead.is_some(),
        Layer::Timeout => policy.timeout.is_some(),
    };
    let order = policy.order.0;
    let retry = order
        .iter()
        .position(|l| *l == Layer::Retry)
        .expect("an order names Retry");
    let call: Vec<Layer> = order[..retry].iter().copied().filter(configured).collect();
    let attempt: Vec<Layer> = order[retry + 1..]
        .iter()
        .copied()
        .filter(configured)
        .collect();
    (call, attempt)
}
/// Crashes, restarts, chaos, health checks and outlier sweeps.
impl World {
    /// A replica's process dies: its queue and the work in progress are lost (their callers
    /// find out by their timeouts), and it takes no requests until it restarts.
    fn crash_instance<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        service: u32,
        replica: u32,
    ) {
        let now = s.now();
        let state = &mut self.services[service as usize];
        let inst = &mut state.instances[replica as usize];
        inst.down += 1;
        if inst.down > 1 {
            return;
        }
        inst.epoch += 1;
        inst.report.crashes += 1;
        inst.down_since = now;
        let busy = inst.workers_busy;
        inst.workers_busy = 0;
        let queued: Vec<u32> = inst.queue.drain(..).collect();
        state.busy_total -= busy;
        state.queue_total -= queued.len() as u32;
        state.report.up_time_by_count[state.up_count as usize] += now - state.up_count_since;
        state.up_count -= 1;
        state.up_count_since = now;
        state
            .report
            .gauges
            .set(now, state.busy_total, state.queue_total);
        for job in queued {
            self.discard_job(job);
        }
        // The jobs it was working on hold no worker any more; they are discarded when their
        // next step comes (their work ends, or their downstream call returns).
        let holding: Vec<u32> = (0..self.jobs.items.len() as u32)
            .filter(|&j| {
                let job = &self.jobs.items[j as usize];
                job.holding_worker && job.service.0 == service && job.instance == replica
            })
            .filter(|&j| self.jobs.items[j as usize].attempt != NO_ATTEMPT)
            .collect();
        for job in holding {
            if TRACE {
                self.trace_worker_released(now, job);
            }
            self.jobs[job].holding_worker = false;
        }
    }

    /// A replica's process runs again, cold for a while.
    fn restart_instance(
        &mut self,
        now: SimTime,
        service: u32,
        replica: u32,
        cold: Option<ColdStart>,
    ) {
        let state = &mut self.services[service as usize];
        let inst = &mut state.instances[replica as usize];
        debug_assert!(inst.down > 0, "restarting a running replica");
        inst.down -= 1;
        if inst.down > 0 {
            return;
        }
        inst.report.down += now - inst.down_since;
        inst.up_since = now;
        if let Some(c) = cold {
            inst.cold_until = now + c.duration;
            inst.cold_multiply = c.multiply;
        }
        state.report.up_time_by_count[state.up_count as usize] += now - state.up_count_since;
        state.up_count += 1;
        state.up_count_since = now;
    }

    /// The replicas and hosts a crash or chaos target takes down.
    fn target_units(&self, target: &Target) -> (Vec<(u32, u32)>, Vec<u32>) {
        let hosts: Vec<u32> = match *target {
            Target::Instance { .. } | Target::Service(_) => Vec::new(),
            _ => (0..self.host_down.len() as u32)
                .filter(|&h| self.host_in(h as usize, target))
                .collect(),
        };
        let replicas = match *target {
            Target::Instance { service, index } => vec![(service.0, index)],
            Target::Service(service) => (0..self.services[service.0 as usize].instances.len())
                .map(|r| (service.0, r as u32))
                .collect(),
            _ => hosts
                .iter()
                .flat_map(|&h| self.host_instances[h as usize].iter().copied())
                .collect(),
        };
        (replicas, hosts)
    }

    fn host_in(&self, host: usize, target: &Target) -> bool {
        let zone = self.net_zone(host);
        match *target {
            Target::Host(h) => h == host,
            Target::Zone(z) => z == zone,
            Target::Region(r) => r == self.zone_region[zone],
            Target::Instance { .. } | Target::Service(_) => false,
        }
    }

    fn net_zone(&self, host: usize) -> usize {
        self.host_zone[host]
    }

    fn on_crash<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, fault: u32) {
        let Fault::Crash {
            target,
            restart_after,
            ..
        } = self.fault_specs[fault as usize].clone()
        else {
            unreachable!("a crash event names a crash fault")
        };
        let (replicas, hosts) = self.target_units(&target);
        for h in hosts {
            self.host_down[h as usize] += 1;
        }
        for (service, replica) in replicas {
            self.crash_instance::<TRACE>(s, service, replica);
        }
        if let Some(after) = restart_after {
            s.schedule_in(after, WorldEvent::RestartTargets { fault });
        }
    }

    fn on_restart_targets(&mut self, now: SimTime, fault: u32) {
        let Fault::Crash {
            target, cold_start, ..
        } = self.fault_specs[fault as usize].clone()
        else {
            unreachable!("a restart event names a crash fault")
        };
        let (replicas, hosts) = self.target_units(&target);
        for h in hosts {
            self.host_down[h as usize] -= 1;
        }
        for (service, replica) in replicas {
            self.restart_instance(now, service, replica, cold_start);
        }
    }

    /// Draws from a chaos fault's distribution (mttf or mttr) on a unit's stream.
    fn chaos_draw(&mut self, fault: u32, unit: u32, repair: bool) -> SimDuration {
        let (mttf, mttr) = match &self.fault_specs[fault as usize] {
            Fault::Chaos { mttf, mttr, .. } => (mttf, mttr),
            _ => unreachable!("a chaos event names a chaos fault"),
        };
        let rng = &mut self.chaos[fault as usize][unit as usize].1;
        if repair {
            mttr.sample(rng)
        } else {
            mttf.sample(rng)
        }
    }

    fn on_chaos<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        fault: u32,
        unit: u32,
        fail: bool,
    ) {
        let cold = match &self.fault_specs[fault as usize] {
            Fault::Chaos { cold_start, .. } => *cold_start,
            _ => None,
        };
        let now = s.now();
        let which = self.chaos[fault as usize][unit as usize].0;
        let replicas: Vec<(u32, u32)> = match which {
            Unit::Replica(service, replica) => vec![(service, replica)],
            Unit::Host(h) => {
                if fail {
                    self.host_down[h as usize] += 1;
                } else {
                    self.host_down[h as usize] -= 1;
                }
                self.host_instances[h as usize].clone()
            }
        };
        for (service, replica) in replicas {
            if fail {
                self.crash_instance::<TRACE>(s, service, replica);
            } else {
                self.restart_instance(now, service, replica, cold);
            }
        }
        let next = self.chaos_draw(fault, unit, fail);
        let event = if fail {
            WorldEvent::ChaosRepair { fault, unit }
        } else {
            WorldEvent::ChaosFail { fault, unit }
        };
        s.schedule_in(next, event);
    }

    /// A caller probes a replica: the probe crosses the network and back; it passes if the
    /// replica's process runs and both trips arrive within the check's timeout.
    fn on_health_probe(&mut self, s: &mut Scheduler<WorldEvent>, edge_id: u32, replica: u32) {
        let now = s.now();
        let edge = &self.edges[edge_id as usize];
        let Health::Active(check) = self.specs[edge.to.0 as usize].health else {
            unreachable!("probes only for actively checked services")
        };
        let caller = edge.caller_host;
        let inst = &self.services[edge.to.0 as usize].instances[replica as usize];
        let (host, up) = (inst.host, inst.up());
        let there = self.transmit(edge_id, caller, host, now);
        let back = self.transmit(edge_id, host, caller, now);
        let (ok, after) = match (there, back) {
            (Transit::Arrives(a), Transit::Arrives(b)) if up && a + b <= check.timeout => {
                (true, a + b)
            }
            // A refused connection fails as soon as it comes back.
            (Transit::Refused(a), _) | (Transit::Arrives(a), Transit::Refused(_))
                if a < check.timeout =>
            {
                (false, a)
            }
            (Transit::Arrives(a), Transit::Arrives(b)) if !up && a + b <= check.timeout => {
                (false, a + b)
            }
            _ => (false, check.timeout),
        };
        let event = WorldEvent::HealthResult {
            edge: edge_id,
            replica,
            ok,
        };
        s.schedule_in(self.local_delay(caller, now, after), event);
    }

    fn on_health_result(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: u32,
        replica: u32,
        ok: bool,
    ) {
        let now = s.now();
        let edge = &mut self.edges[edge_id as usize];
        edge.health[replica as usize].on_check(ok);
        let Health::Active(check) = self.specs[edge.to.0 as usize].health else {
            unreachable!("results only for actively checked services")
        };
        // Envoy schedules the next probe one interval after the result.
        let host = edge.caller_host;
        let event = WorldEvent::HealthProbe {
            edge: edge_id,
            replica,
        };
        s.schedule_in(self.local_delay(host, now, check.interval), event);
    }

    fn on_outlier_sweep(&mut self, s: &mut Scheduler<WorldEvent>, edge_id: u32) {
        let now = s.now();
        let edge = &mut self.edges[edge_id as usize];
        let outlier = edge.outlier.as_mut().expect("a sweep needs a detector");
        outlier.sweep(now);
        let interval = outlier.config().interval;
        let host = edge.caller_host;
        s.schedule_in(
            self.local_delay(host, now, interval),
            WorldEvent::OutlierSweep { edge: edge_id },
        );
    }

    /// The true time a timer of `delay` on `host`'s clock takes, set now (ideal clocks: the
    /// delay itself). Every timer the world sets is a duration timer measured by the host's
    /// clock rate; clock steps do not move it (see [`crate::clock`]).
    #[inline]
    fn local_delay(&self, host: u32, now: SimTime, delay: SimDuration) -> SimDuration {
        match self.clocks.get(host as usize) {
            None => delay,
            Some(clock) => clock.true_after(now, delay) - now,
        }
    }
}

/// The trace points. The handlers take `TRACE`, known at compile time, and `handle` picks the
/// traced ones when a sink is set: an untraced run pays one branch per event, and its handlers
/// contain no trace code. The trace points are kept out of line, away from the hot path.
impl World {
    #[inline]
    fn dispatch<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, event: WorldEvent) {
        match event {
            WorldEvent::ClientArrival { client } => self.on_client_arrival::<TRACE>(s, client),
            WorldEvent::Deliver { job } => self.on_deliver::<TRACE>(s, job),
            WorldEvent::WorkDone { job } => self.on_work_done::<TRACE>(s, job),
            WorldEvent::Reply {
                slot,
                edge,
                attempt,
                outcome,
            } => self.on_reply::<TRACE>(s, slot, edge, attempt, outcome),
            WorldEvent::Timeout { slot, attempt } => self.on_timeout::<TRACE>(s, slot, attempt),
            WorldEvent::RetryDue { call, serial } => self.on_retry_due::<TRACE>(s, call, serial),
            WorldEvent::HedgeDue { call, serial } => self.on_hedge_due::<TRACE>(s, call, serial),
            WorldEvent::Deadline { call, serial } => self.on_deadline::<TRACE>(s, call, serial),
            WorldEvent::AttemptWaitOver { slot, attempt } => {
                self.on_attempt_wait_over::<TRACE>(s, slot, attempt)
            }
            WorldEvent::CallWaitOver { call, serial } => {
                self.on_call_wait_over::<TRACE>(s, call, serial)
            }
            WorldEvent::UserStart { client, user } => self.on_user_start::<TRACE>(s, client, user),
            WorldEvent::Admitted { job } => self.admit::<TRACE>(s, job),
            WorldEvent::Crash { fault } => self.on_crash::<TRACE>(s, fault),
            WorldEvent::RestartTargets { fault } => self.on_restart_targets(s.now(), fault),
            WorldEvent::Restart { service, replica } => {
                self.restart_instance(s.now(), service, replica, None)
            }
            WorldEvent::ChaosFail { fault, unit } => self.on_chaos::<TRACE>(s, fault, unit, true),
            WorldEvent::ChaosRepair { fault, unit } => {
                self.on_chaos::<TRACE>(s, fault, unit, false)
            }
            WorldEvent::HealthProbe { edge, replica } => self.on_health_probe(s, edge, replica),
            WorldEvent::HealthResult { edge, replica, ok } => {
                self.on_health_result(s, edge, replica, ok)
            }
            WorldEvent::OutlierSweep { edge } => self.on_outlier_sweep(s, edge),
            WorldEvent::RateLimited { job } => {
                self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::RateLimited))
            }
        }
    }

    fn tracer(&mut self) -> &mut Tracer {
        self.tracer
            .as_deref_mut()
            .expect("called only when tracing")
    }

    #[cold]
    #[inline(never)]
    fn trace_request_start(&mut self, now: SimTime, call: u32, client: u32, edge: u32) {
        let service = self.edges[edge as usize].to.0;
        let tracer = self.tracer();
        let request = tracer.next_request;
        tracer.next_request += 1;
        tracer.set_call_request(call, request);
        let mut r = TraceRecord::new(now, TraceKind::RequestStart, request);
        r.client = client;
        r.edge = edge;
        r.service = service;
        tracer.record(r);
    }

    #[cold]
    #[inline(never)]
    fn trace_attempt_sent(&mut self, now: SimTime, call_id: u32, attempt: u64) {
        let call = &self.calls[call_id];
        let parent = match call.owner {
            Owner::Client { .. } | Owner::User { .. } => NO_ATTEMPT,
            Owner::Job(job) => self.jobs[job].attempt,
        };
        let request = self.tracer.as_deref().expect("tracing").call_requests[call_id as usize];
        let mut r = TraceRecord::new(now, TraceKind::AttemptSent, request);
        r.attempt = attempt;
        r.parent = parent;
        r.edge = call.edge;
        r.service = self.edges[call.edge as usize].to.0;
        r.number = call.attempts;
        let tracer = self.tracer();
        assert_eq!(
            tracer.attempts.len() as u64,
            r.attempt - 1,
            "attempt ids are dense"
        );
        tracer.attempts.push((r.request, r.parent));
        tracer.record(r);
    }

    /// A record about a job at its service.
    #[cold]
    #[inline(never)]
    fn trace_job(
        &mut self,
        now: SimTime,
        kind: TraceKind,
        job_id: u32,
        number: u32,
        outcome: Option<Outcome>,
    ) {
        let job = &self.jobs[job_id];
        let tracer = self.tracer.as_deref_mut().expect("tracing");
        let mut r = TraceRecord::new(now, kind, tracer.attempt(job.attempt).0);
        r.attempt = job.attempt;
        r.service = job.service.0;
        r.edge = job.edge;
        if job.holding_worker {
            r.slot = tracer.job_slots[job_id as usize];
        }
        r.number = number;
        r.outcome = outcome;
        tracer.record(r);
    }

    #[cold]
    #[inline(never)]
    fn trace_work_start(&mut self, now: SimTime, job_id: u32, work: SimDuration) {
        let service = self.jobs[job_id].service.0;
        let mut slowed_by = 1.0;
        let mut fault = NONE;
        for &(from, to, factor, _, index, _) in &self.services[service as usize].latency_faults {
            if from <= now && now < to {
                slowed_by *= factor;
                fault = fault.min(index);
            }
        }
        let job = &self.jobs[job_id];
        let tracer = self.tracer.as_deref_mut().expect("tracing");
        let slot = tracer.free_slots[service as usize]
            .pop()
            .expect("a service never holds more workers than it has");
        let i = job_id as usize;
        if i >= tracer.job_slots.len() {
            tracer.job_slots.resize(i + 1, NONE);
        }
        tracer.job_slots[i] = slot;
        let mut r = TraceRecord::new(now, TraceKind::WorkStart, tracer.attempt(job.attempt).0);
        r.attempt = job.attempt;
        r.service = service;
        r.edge = job.edge;
        r.slot = slot;
        r.duration = work;
        r.slowed_by = slowed_by;
        r.fault = fault;
        tracer.record(r);
    }

    #[cold]
    #[inline(never)]
    fn trace_worker_released(&mut self, now: SimTime, job_id: u32) {
        self.trace_job(now, TraceKind::WorkerReleased, job_id, 0, None);
        let service = self.jobs[job_id].service.0 as usize;
        let tracer = self.tracer();
        let slot = tracer.job_slots[job_id as usize];
        tracer.free_slots[service].push(slot);
    }

    #[cold]
    #[inline(never)]
    fn trace_call_start(&mut self, now: SimTime, call: u32, parent: u64, edge: u32, index: u32) {
        let service = self.edges[edge as usize].to.0;
        let tracer = self.tracer();
        let request = tracer.attempt(parent).0;
        tracer.set_call_request(call, request);
        let mut r = TraceRecord::new(now, TraceKind::CallStart, request);
        r.parent = parent;
        r.edge = edge;
        r.service = service;
        r.number = index;
        tracer.record(r);
    }

    /// A record about an attempt at its caller: `caller` is (edge, attempt, outcome).
    #[cold]
    #[inline(never)]
    fn trace_caller(
        &mut self,
        now: SimTime,
        kind: TraceKind,
        caller: (u32, u64, Option<Outcome>),
        duration: SimDuration,
        number: u32,
    ) {
        let (edge, attempt, outcome) = caller;
        let service = self.edges[edge as usize].to.0;
        let tracer = self.tracer();
        let (request, parent) = tracer.attempt(attempt);
        let mut r = TraceRecord::new(now, kind, request);
        r.attempt = attempt;
        r.parent = parent;
        r.edge = edge;
        r.service = service;
        r.outcome = outcome;
        r.duration = duration;
        r.number = number;
        tracer.record(r);
    }

    /// A call's overall deadline passed (`duration`: how long the call had run).
    #[cold]
    #[inline(never)]
    fn trace_deadline(&mut self, now: SimTime, call_id: u32, waited: SimDuration) {
        let call = &self.calls[call_id];
        let request = self.tracer.as_deref().expect("tracing").call_requests[call_id as usize];
        let mut r = TraceRecord::new(now, TraceKind::Timeout, request);
        r.edge = call.edge;
        r.service = self.edges[call.edge as usize].to.0;
        r.duration = waited;
        if let Owner::Job(job) = call.owner {
            r.parent = self.jobs[job].attempt;
        }
        self.tracer().record(r);
    }

    #[cold]
    #[inline(never)]
    fn trace_call_finished(&mut self, now: SimTime, call_id: u32, outcome: Outcome) {
        let call = &self.calls[call_id];
        let (kind, client, parent, duration) = match call.owner {
            Owner::Client { client, started } => (
                TraceKind::RequestFinished,
                client.0,
                NO_ATTEMPT,
                now - started,
            ),
            Owner::User { client, .. } => (
                TraceKind::RequestFinished,
                client.0,
                NO_ATTEMPT,
                now - call.started,
            ),
            Owner::Job(job) => (
                TraceKind::CallFinished,
                NONE,
                self.jobs[job].attempt,
                SimDuration::ZERO,
            ),
        };
        let request = self.tracer.as_deref().expect("tracing").call_requests[call_id as usize];
        let mut r = TraceRecord::new(now, kind, request);
        r.client = client;
        r.parent = parent;
        r.edge = call.edge;
        r.service = self.edges[call.edge as usize].to.0;
        r.outcome = Some(outcome);
        r.number = call.attempts;
        r.duration = duration;
        self.tracer().record(r);
    }
}

/// The wait before retry `n` (1 for the first retry), as the AWS Architecture Blog's
/// "Exponential Backoff And Jitter" and its simulator define them; `last` is the previous wait
/// (decorrelated jitter grows from it; zero before the first).
fn backoff(policy: &Backoff, retry: u32, last: SimDuration, rng: &mut SimRng) -> SimDuration {
    let expo = |base: SimDuration, cap: SimDuration| {
        // min(cap, base * 2^n) without overflow: past 2^63 the cap has long been reached.
        let factor = 1u64.checked_shl(retry).unwrap_or(u64::MAX);
        base.as_nanos().saturating_mul(factor).min(cap.as_nanos())
    };
    match *policy {
        Backoff::None => SimDuration::ZERO,
        Backoff::Constant(d) => d,
        Backoff::Exponential { base, cap } => SimDuration(expo(base, cap)),
        Backoff::FullJitter { base, cap } => SimDuration(rng.below_inclusive(expo(base, cap))),
        Backoff::EqualJitter { base, cap } => {
            let v = expo(base, cap);
            SimDuration(v / 2 + rng.below_inclusive(v - v / 2))
        }
        Backoff::Decorrelated { base, cap } => {
            let sleep = if last == SimDuration::ZERO {
                base
            } else {
                last
            };
            let hi = sleep.as_nanos().saturating_mul(3).max(base.as_nanos());
            let drawn = base.as_nanos() + rng.below_inclusive(hi - base.as_nanos());
            SimDuration(drawn.min(cap.as_nanos()))
        }
    }
}

impl Model for World {
    type Event = WorldEvent;

    #[inline]
    fn handle(&mut self, s: &mut Scheduler<WorldEvent>, event: WorldEvent) {
        // One branch per event picks the handlers with or without the trace points.
        if self.tracer.is_some() {
            self.dispatch::<true>(s, event);
        } else {
            self.dispatch::<false>(s, event);
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CallConfig, ClientConfig, NetworkConfig, Retry, ServiceConfig};

    fn service(name: &str, workers: u32, queue: u32, ms: u64) -> ServiceConfig {
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
            inbound: Default::default(),
            replicas: vec![0],
            lb: crate::lb::LbPolicy::RoundRobin,
            health: Default::default(),
            endpoint_name: "default".into(),
            endpoints: Vec::new(),
            max_throughput_per_s: None,
        }
    }

    fn world(services: Vec<ServiceConfig>, policy: CallPolicy, rate: f64) -> WorldConfig {
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
            topology: Default::default(),
            clocks: Vec::new(),
        }
    }

    #[test]
    fn backoff_follows_the_aws_formulas() {
        let mut rng = SimRng::from_seed(1);
        let base = SimDuration::from_millis(5);
        let cap = SimDuration::from_millis(2000);
        let exp = Backoff::Exponential { base, cap };
        assert_eq!(
            backoff(&exp, 1, SimDuration::ZERO, &mut rng),
            SimDuration::from_millis(10)
        );
        assert_eq!(
            backoff(&exp, 3, SimDuration::ZERO, &mut rng),
            SimDuration::from_millis(40)
        );
        assert_eq!(backoff(&exp, 9, SimDuration::ZERO, &mut rng), cap);
        assert_eq!(
            backoff(&exp, 200, SimDuration::ZERO, &mut rng),
            cap,
            "no overflow"
        );
        let full = Backoff::FullJitter { base, cap };
        for n in 1..12 {
            let w = backoff(&full, n, SimDuration::ZERO, &mut rng);
            assert!(w <= backoff(&exp, n, SimDuration::ZERO, &mut rng));
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
            timeout: Some(SimDuration::from_millis(5)),
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
            timeout: Some(SimDuration::from_millis(3)),
            ..CallPolicy::default()
        };
        front.calls = vec![
            CallConfig {
                to: ServiceId(1),
                endpoint: 0,
                probability: 1.0,
                group: None,
                policy: slow,
            },
            CallConfig {
                to: ServiceId(2),
                endpoint: 0,
                probability: 1.0,
                group: None,
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
            timeout: Some(SimDuration::from_millis(5)),
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
            let slot = r.slot as usize;
            match r.kind {
                TraceKind::WorkStart => {
                    assert!(r.slot < workers[r.service as usize]);
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
}
