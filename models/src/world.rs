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

use crate::config::{
    Arrivals, Backoff, Bulkhead, CallPolicy, ClientId, Execution, Fallback, Fault, Layer,
    Objective, Retry, ServiceId, ServiceKind, Shed, WorldConfig,
};
use crate::metrics::{FailureCause, Gauges, OutcomeStats};
use crate::policy::breaker::{CircuitBreaker, Transition};
use crate::policy::budget::{AdaptiveThrottle, RetryBudget, RetryPermit};
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
    ClientArrival { client: u32 },
    /// An attempt reaches its callee.
    Deliver { job: u32 },
    /// A job's local work is finished.
    WorkDone { job: u32 },
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
    Timeout { slot: u32, attempt: u64 },
    /// A retry's backoff elapsed.
    RetryDue { call: u32, serial: u64 },
    /// A hedged call's next copy is due.
    HedgeDue { call: u32, serial: u64 },
    /// A call's overall deadline passed.
    Deadline { call: u32, serial: u64 },
    /// An attempt's wait for a bulkhead permit ran out.
    AttemptWaitOver { slot: u32, attempt: u64 },
    /// A call's wait for a bulkhead permit ran out.
    CallWaitOver { call: u32, serial: u64 },
    /// A read-modify-write user starts (again) with a read.
    UserStart { client: u32, user: u32 },
    /// A request's wait for its rate-limit permission is over: it goes on to the queue.
    Admitted { job: u32 },
    /// A request waited the rate limiter's whole timeout and is refused.
    RateLimited { job: u32 },
}

impl WorldEvent {
    /// The names used in traces, indexed by [`Event::kind`].
    pub const KIND_NAMES: [&'static str; 13] = [
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
}

/// Who waits for a bulkhead permit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waiter {
    Call { call: u32, serial: u64 },
    Attempt { slot: u32, attempt: u64 },
}

struct Edge {
    to: ServiceId,
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
    report: EdgeReport,
}

struct ServiceState {
    workers_busy: u32,
    queue: VecDeque<u32>,
    service_time_rng: SimRng,
    error_rng: SimRng,
    /// Edge ids of the call plan, in order.
    call_edges: Vec<u32>,
    /// (from, to, factor, fault index) of the latency faults on this service.
    latency_faults: Vec<(SimTime, SimTime, f64, u32)>,
    /// The record's version, for [`ServiceKind::Record`].
    version: u64,
    /// Inbound rate limiting and shedding.
    rate_limiter: Option<RateLimiter>,
    shed_queue: Option<u32>,
    codel: Option<Codel>,
    limiter: Option<Limiter>,
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
    arrivals_rng: SimRng,
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
    /// The adaptive concurrency limit's changes, when the service has one.
    pub concurrency_limit: Vec<(SimTime, u32)>,
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
    /// The circuit breaker's flavor and every transition it made, when the edge has one.
    pub breaker: Option<BreakerReport>,
}

/// What an edge's circuit breaker did.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerReport {
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
    service_time: Distribution,
    error_rate: f64,
    execution: Execution,
    kind: ServiceKind,
    idempotent: bool,
    idempotency_keys: bool,
    propagate_deadline: bool,
}

/// A world ready to run: configuration plus state.
pub struct World {
    faults: Vec<FaultReport>,
    window: SimDuration,
    name: String,
    seed: u64,
    duration: SimDuration,
    max_events: u64,
    network: Distribution,
    specs: Vec<ServiceSpec>,
    arrivals: Vec<Arrivals>,
    services: Vec<ServiceState>,
    clients: Vec<ClientState>,
    edges: Vec<Edge>,
    jobs: Slab<Job>,
    calls: Slab<Call>,
    attempts: Slab<Attempt>,
    next_attempt: u64,
    next_serial: u64,
    tracer: Option<Box<Tracer>>,
}

impl World {
    /// Builds the world for one seed. The configuration must be valid (the scenario loader
    /// checks it); inconsistencies here are programming errors and panic.
    pub fn new(config: &WorldConfig, seed: u64) -> World {
        let streams = RngStreams::new(seed);
        let n_services = config.services.len();
        let mut edges = Vec::new();
        let mut services = Vec::with_capacity(n_services);
        let new_edge = |key: &[&str], from: String, to: &str, to_id, policy: &CallPolicy| {
            let (call_layers, attempt_layers) = layers(policy);
            Edge {
                to: to_id,
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
                report: EdgeReport {
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
                    breaker: None,
                },
            }
        };
        for svc in &config.services {
            assert!(svc.workers > 0, "service {} has no workers", svc.name);
            let mut call_edges = Vec::new();
            for (index, call) in svc.calls.iter().enumerate() {
                let to = &config.services[call.to.0 as usize].name;
                let index = index.to_string();
                let key = ["edge", "service", &svc.name, &index, to];
                call_edges.push(edges.len() as u32);
                edges.push(new_edge(&key, svc.name.clone(), to, call.to, &call.policy));
            }
            services.push(ServiceState {
                workers_busy: 0,
                queue: VecDeque::new(),
                service_time_rng: streams.stream(&["service", &svc.name, "service_time"]),
                error_rng: streams.stream(&["service", &svc.name, "errors"]),
                call_edges,
                latency_faults: Vec::new(),
                version: 0,
                rate_limiter: svc
                    .inbound
                    .rate_limit
                    .map(|c| RateLimiter::new(c, SimTime::ZERO)),
                shed_queue: match svc.inbound.shed {
                    Some(Shed::QueueLength { max }) => Some(max),
                    _ => None,
                },
                codel: match &svc.inbound.shed {
                    Some(Shed::Codel(c)) => Some(Codel::new(*c, SimTime::ZERO)),
                    _ => None,
                },
                limiter: match &svc.inbound.shed {
                    Some(Shed::Concurrency(c)) => Some(Limiter::new(ConcurrencyLimit::new(*c))),
                    _ => None,
                },
                report: ServiceReport {
                    name: svc.name.clone(),
                    workers: svc.workers,
                    queue_capacity: svc.queue,
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
                },
            });
        }
        let mut clients = Vec::with_capacity(config.clients.len());
        for client in &config.clients {
            let to = &config.services[client.to.0 as usize].name;
            let key = ["edge", "client", &client.name, "0", to];
            let edge = edges.len() as u32;
            let mut policy = client.policy.clone();
            let (users, user_retry) = match client.arrivals {
                // The users retry whole read-modify-write cycles; the single calls do not.
                Arrivals::ReadModifyWrite { users } => (users, policy.retry.take()),
                _ => (0, None),
            };
            edges.push(new_edge(
                &key,
                format!("client:{}", client.name),
                to,
                client.to,
                &policy,
            ));
            let user = User {
                started: SimTime::ZERO,
                failures: 0,
                last_backoff: SimDuration::ZERO,
            };
            clients.push(ClientState {
                edge,
                arrivals_rng: streams.stream(&["client", &client.name, "arrivals"]),
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
        for (index, fault) in config.faults.iter().enumerate() {
            match *fault {
                Fault::Latency {
                    service,
                    multiply,
                    from,
                    to,
                } => services[service.0 as usize].latency_faults.push((
                    from,
                    to,
                    multiply,
                    index as u32,
                )),
            }
        }
        let faults = config
            .faults
            .iter()
            .map(|f| {
                let service = config.services[f.service().0 as usize].name.clone();
                let (from, to) = f.active();
                let description = match *f {
                    Fault::Latency { multiply, .. } => format!("{service} latency x{multiply}"),
                };
                FaultReport {
                    kind: f.kind(),
                    service,
                    description,
                    from,
                    to,
                }
            })
            .collect();
        World {
            faults,
            window: config.window,
            name: config.name.clone(),
            seed,
            duration: config.duration,
            max_events: config.max_events,
            network: config.network.latency.clone(),
            specs: config
                .services
                .iter()
                .map(|s| ServiceSpec {
                    service_time: s.service_time.clone(),
                    error_rate: s.error_rate,
                    execution: s.execution,
                    kind: s.kind,
                    idempotent: s.idempotent,
                    idempotency_keys: s.idempotency_keys,
                    propagate_deadline: s.propagate_deadline,
                })
                .collect(),
            arrivals: config.clients.iter().map(|c| c.arrivals.clone()).collect(),
            services,
            clients,
            edges,
            jobs: Slab::new(),
            calls: Slab::new(),
            attempts: Slab::new(),
            next_attempt: NO_ATTEMPT + 1,
            next_serial: 1,
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
                .map(|e| (e.report.from.clone(), e.report.to.clone()))
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
            };
            sim.scheduler()
                .schedule_in(first, WorldEvent::ClientArrival { client });
        }
        let outcome = sim.run(&mut self);
        self.check_conservation();
        let end = outcome.now;
        for s in &mut self.services {
            s.report.stats.finish(end);
            s.report.gauges.finish(end);
        }
        for c in &mut self.clients {
            c.report.stats.finish(end);
        }
        for e in &mut self.edges {
            e.report.stats.finish(end);
            e.report.calls.finish(end);
            if let Some(b) = &mut e.breaker {
                b.advance(end);
                e.report.breaker = Some(BreakerReport {
                    flavor: b.config().flavor.name(),
                    not_permitted: b.not_permitted(),
                    transitions: b.transitions().to_vec(),
                });
            }
        }
        for s in &mut self.services {
            if let Some(l) = &s.limiter {
                s.report.concurrency_limit = l.concurrency_limit().limit_log().to_vec();
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
            edges: self.edges.into_iter().map(|e| e.report).collect(),
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
        let edge_in_flight: u64 = self.edges.iter().map(|e| e.report.stats.in_flight()).sum();
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
        let users_active: u64 = self
            .clients
            .iter()
            .map(|c| c.report.stats.in_flight())
            .zip(&self.arrivals)
            .filter(|(_, a)| matches!(a, Arrivals::ReadModifyWrite { .. }))
            .map(|(n, _)| n)
            .sum();
        assert_eq!(
            client_in_flight,
            client_calls + users_active,
            "client requests not conserved"
        );
        let calls_in_flight: u64 = self.edges.iter().map(|e| e.report.calls.in_flight()).sum();
        assert_eq!(
            calls_in_flight,
            live_calls().count() as u64,
            "calls not conserved"
        );
    }

    fn interarrival(&mut self, client: u32) -> SimDuration {
        let state = &mut self.clients[client as usize];
        match self.arrivals[client as usize] {
            Arrivals::Poisson { rate_per_s } => SimDuration::from_nanos_f64(
                sim_core::sample_exp(&mut state.arrivals_rng) * 1e9 / rate_per_s,
            ),
            Arrivals::Constant { rate_per_s } => SimDuration::from_nanos_f64(1e9 / rate_per_s),
            Arrivals::ReadModifyWrite { .. } => unreachable!("users have no arrivals"),
        }
    }

    fn on_client_arrival<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, client: u32) {
        let next = self.interarrival(client);
        s.schedule_in(next, WorldEvent::ClientArrival { client });
        let state = &mut self.clients[client as usize];
        state.report.stats.requests += 1;
        let edge = state.edge;
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
        let state = &mut self.clients[client as usize];
        if state.users[user as usize].failures == 0 {
            state.users[user as usize].started = s.now();
        }
        let edge = state.edge;
        let owner = Owner::User {
            client: ClientId(client),
            user,
        };
        self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Read);
    }

    /// Begins a logical call over `edge`.
    fn start_call<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: u32,
        owner: Owner,
        inherited_deadline: SimTime,
        op: Op,
    ) {
        let now = s.now();
        let edge = &mut self.edges[edge_id as usize];
        edge.report.calls.requests += 1;
        if let Some(budget) = &mut edge.budget {
            budget.request_started(now);
        }
        let own = edge.policy.deadline.map_or(NEVER, |d| now + d);
        let deadline = own.min(inherited_deadline);
        let serial = self.next_serial;
        self.next_serial += 1;
        let call = self.calls.insert(Call {
            edge: edge_id,
            owner,
            started: now,
            hedge_timer: None,
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
                return;
            }
            self.calls[call].deadline_timer =
                Some(s.timer_at(deadline, WorldEvent::Deadline { call, serial }));
        }
        self.advance_call::<TRACE>(s, call);
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
                let timeout = self.edges[edge_id as usize].policy.timeout;
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
                Enter::Waiting(Some(s.timer_in(max_wait_duration, event)))
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
        });
        let call = &mut self.calls[call_id];
        call.attempts += 1;
        call.slots[usize::from(call.live)] = slot;
        call.live += 1;
        let edge = &mut self.edges[call.edge as usize];
        edge.report.attempts += 1;
        edge.report.stats.requests += 1;
        let again = call.attempts > 1;
        let hedged = edge.policy.hedge.is_some();
        if again {
            if hedged {
                edge.report.hedges += 1;
            } else {
                edge.report.retries += 1;
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
                call.hedge_timer = Some(s.timer_in(hedge.delay, due));
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
                    if let Some(timeout) = self.edges[edge_id as usize].policy.timeout {
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

    /// The attempt leaves for its callee, unless the client-side throttle refuses it.
    fn send<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, slot: u32) {
        let now = s.now();
        let edge = &mut self.edges[self.calls[self.attempts[slot].call].edge as usize];
        if let Some(throttle) = &mut edge.throttle
            && !throttle.admit(now, &mut edge.throttle_rng)
        {
            self.attempt_ended::<TRACE>(s, slot, Outcome::Failed(FailureCause::Throttled));
            return;
        }
        let a = &mut self.attempts[slot];
        a.sent = true;
        a.sent_at = now;
        let (call_id, attempt) = (a.call, a.id);
        let call = &mut self.calls[call_id];
        call.jobs += 1;
        let deadline = call.deadline;
        let edge_id = call.edge;
        let edge = &mut self.edges[edge_id as usize];
        let to = edge.to;
        let latency = self.network.sample(&mut edge.network_rng);
        self.services[to.0 as usize].report.stats.requests += 1;
        let job = self.jobs.insert(Job {
            service: to,
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

    fn on_deliver<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job: u32) {
        if TRACE {
            self.trace_job(s.now(), TraceKind::Delivered, job, 0, None);
        }
        let service = self.jobs[job].service.0 as usize;
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
        let now = s.now();
        self.jobs[job].arrived = now;
        if let Some(limiter) = &mut self.services[service].rate_limiter {
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

    /// A request past the rate limiter: the concurrency limit, queue-length shedding, then a
    /// worker or the queue.
    fn admit<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job: u32) {
        let now = s.now();
        let service = self.jobs[job].service.0 as usize;
        let state = &mut self.services[service];
        if let Some(limiter) = &mut state.limiter {
            match limiter.try_acquire() {
                Some(permit) => self.jobs[job].permit = Some(permit),
                None => {
                    self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Shed));
                    return;
                }
            }
        }
        let state = &mut self.services[service];
        let busy = state.workers_busy >= state.report.workers;
        if busy
            && state
                .shed_queue
                .is_some_and(|max| state.queue.len() as u32 >= max)
        {
            self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Shed));
            return;
        }
        if !busy {
            if let Some(codel) = &mut state.codel {
                // Straight to a worker: a dequeue with no delay, which CoDel also sees.
                codel.should_drop(now, SimDuration::ZERO);
            }
            self.start_work::<TRACE>(s, job);
        } else if (state.queue.len() as u32) < state.report.queue_capacity {
            state.queue.push_back(job);
            let queued = state.queue.len() as u32;
            state.report.queue_max = state.report.queue_max.max(queued);
            state.report.gauges.set(s.now(), state.workers_busy, queued);
            if TRACE {
                self.trace_job(s.now(), TraceKind::Queued, job, queued, None);
            }
        } else {
            if TRACE {
                self.trace_job(s.now(), TraceKind::Rejected, job, 0, None);
            }
            self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Rejected));
        }
    }

    fn start_work<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job_id: u32) {
        let now = s.now();
        let job = &mut self.jobs[job_id];
        let service = job.service.0 as usize;
        let spec = &self.specs[service];
        if spec.propagate_deadline && job.deadline <= now {
            // Its caller has given up by now (gRPC servers check the deadline and abandon).
            self.services[service].report.expired += 1;
            self.reply::<TRACE>(s, job_id, Outcome::Failed(FailureCause::Timeout));
            return;
        }
        job.executed = true;
        let call = &mut self.calls[job.call];
        call.executions += 1;
        if call.executions > 1 && !spec.idempotent {
            self.services[service].report.duplicate_side_effects += 1;
        }
        job.holding_worker = true;
        let state = &mut self.services[service];
        state.workers_busy += 1;
        state
            .report
            .gauges
            .set(now, state.workers_busy, state.queue.len() as u32);
        let mut work = self.specs[service]
            .service_time
            .sample(&mut state.service_time_rng);
        for &(from, to, factor, _) in &state.latency_faults {
            if from <= now && now < to {
                work = work.mul_f64(factor);
            }
        }
        s.schedule_in(work, WorldEvent::WorkDone { job: job_id });
        if TRACE {
            self.trace_work_start(now, job_id, work);
        }
    }

    fn on_work_done<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job: u32) {
        let service = self.jobs[job].service.0 as usize;
        let error_rate = self.specs[service].error_rate;
        let outcome = if self.specs[service].kind == ServiceKind::Record {
            self.record_op(job)
        } else if error_rate > 0.0 && self.services[service].error_rng.chance(error_rate) {
            Outcome::Failed(FailureCause::Error)
        } else {
            Outcome::Ok
        };
        if TRACE {
            self.trace_job(s.now(), TraceKind::WorkDone, job, 0, Some(outcome));
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

    /// Makes the job's next downstream call, or replies when none is left.
    fn next_downstream<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job_id: u32) {
        let job = &mut self.jobs[job_id];
        let service = job.service.0 as usize;
        let index = usize::from(job.next_call);
        let Some(&edge) = self.services[service].call_edges.get(index) else {
            let outcome = if job.degraded {
                Outcome::Degraded
            } else {
                Outcome::Ok
            };
            self.reply::<TRACE>(s, job_id, outcome);
            return;
        };
        job.next_call += 1;
        let deadline = if self.specs[service].propagate_deadline {
            job.deadline
        } else {
            NEVER
        };
        if self.specs[service].execution == Execution::Async && job.holding_worker {
            self.release_worker::<TRACE>(s, job_id);
        }
        self.start_call::<TRACE>(s, edge, Owner::Job(job_id), deadline, Op::Serve);
    }

    fn release_worker<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job_id: u32) {
        if TRACE {
            self.trace_worker_released(s.now(), job_id);
        }
        let job = &mut self.jobs[job_id];
        debug_assert!(job.holding_worker);
        job.holding_worker = false;
        let service = job.service.0 as usize;
        let state = &mut self.services[service];
        state.workers_busy -= 1;
        let now = s.now();
        let mut next = state.queue.pop_front();
        // CoDel judges every dequeue; a request it drops is shed and the next one is tried.
        while let Some(job) = next {
            let delay = now - self.jobs[job].arrived;
            let codel = self.services[service].codel.as_mut();
            if !codel.is_some_and(|c| c.should_drop(now, delay)) {
                break;
            }
            self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Shed));
            next = self.services[service].queue.pop_front();
        }
        let state = &mut self.services[service];
        state
            .report
            .gauges
            .set(now, state.workers_busy, state.queue.len() as u32);
        if let Some(next) = next {
            self.start_work::<TRACE>(s, next);
        }
    }

    /// Ends a job: frees its worker and sends the reply back over the network.
    fn reply<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: u32,
        outcome: Outcome,
    ) {
        if self.jobs[job_id].holding_worker {
            self.release_worker::<TRACE>(s, job_id);
        }
        if TRACE {
            self.trace_job(s.now(), TraceKind::ReplySent, job_id, 0, Some(outcome));
        }
        let job = &self.jobs[job_id];
        let (call_id, slot, attempt, edge_id) = (job.call, job.slot, job.attempt, job.edge);
        let service = job.service.0 as usize;
        let (owns_key, executed, arrived) = (job.owns_key, job.executed, job.arrived);
        if let Some(permit) = self.jobs[job_id].permit.take() {
            let limiter = self.services[service].limiter.as_mut().expect("a limiter");
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
        let edge = &mut self.edges[edge_id as usize];
        let latency = self.network.sample(&mut edge.network_rng);
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
            self.edges[edge as usize].report.late_replies += 1;
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
        let (call_id, attempt) = (a.call, a.id);
        let (timeout, wait_timer, permit, waiting) =
            (a.timeout.take(), a.wait_timer.take(), a.permit, a.waiting);
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
            Outcome::Ok => edge.report.stats.record_ok(now, latency),
            Outcome::Degraded => edge.report.stats.record_degraded(now, latency),
            Outcome::Failed(cause) => edge.report.stats.record_failure(now, cause),
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
                            edge.report.retries_refused += 1;
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
                    s.schedule_in(
                        wait,
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
            edge.report.stats.record_failure(now, FailureCause::Timeout);
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

    /// A logical call is over: apply the fallback and report it to its owner.
    fn call_finished<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: u32,
        outcome: Outcome,
    ) {
        let now = s.now();
        // Abandon the copies still in flight (hedges that lost); their work goes on, wasted.
        while self.calls[call_id].live > 0 {
            let slot = self.calls[call_id].slots[0];
            let edge = &mut self.edges[self.calls[call_id].edge as usize];
            edge.report.stats.record_cancelled();
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
                edge.report.fallbacks += 1;
                outcome = Outcome::Degraded;
            }
        }
        let call = &mut self.calls[call_id];
        let latency = now - call.started;
        match outcome {
            Outcome::Ok => edge.report.calls.record_ok(now, latency),
            Outcome::Degraded => edge.report.calls.record_degraded(now, latency),
            Outcome::Failed(cause) => edge.report.calls.record_failure(now, cause),
        }
        let owner = call.owner;
        let (op, value) = (call.op, call.value);
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
            Owner::Job(job) => match outcome {
                Outcome::Ok => self.next_downstream::<TRACE>(s, job),
                Outcome::Degraded => {
                    self.jobs[job].degraded = true;
                    self.next_downstream::<TRACE>(s, job);
                }
                Outcome::Failed(_) => {
                    self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Dependency));
                }
            },
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
                        s.schedule_in(wait, WorldEvent::UserStart { client, user });
                    }
                    _ => state.report.stats.record_failure(now, cause),
                }
            }
        }
    }
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
        for &(from, to, factor, index) in &self.services[service as usize].latency_faults {
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
        }
    }

    fn world(services: Vec<ServiceConfig>, policy: CallPolicy, rate: f64) -> WorldConfig {
        WorldConfig {
            name: "t".into(),
            duration: SimDuration::from_secs(10),
            services,
            clients: vec![ClientConfig {
                name: "users".into(),
                to: ServiceId(0),
                arrivals: Arrivals::Constant { rate_per_s: rate },
                policy,
                objective: Objective::default(),
            }],
            network: NetworkConfig::default(),
            faults: vec![],
            window: SimDuration::SECOND,
            max_events: u64::MAX,
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
            multiply: 10.0,
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
                policy: slow,
            },
            CallConfig {
                to: ServiceId(2),
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
            multiply: 10.0,
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
