//! The running world: clients send requests over the network to services, services queue them
//! for a worker, do their local work, make their downstream calls in order and reply. Callers
//! apply their edge's timeout and retry policy.
//!
//! ```text
//!   client ──attempt──▶ [queue]──▶ worker: local work ──▶ call 1 ──▶ call 2 ──▶ reply
//!      ▲   (network)       │ full: rejected                 (each call is itself an attempt
//!      └──────reply────────┘                                 with timeout and retries)
//! ```
//!
//! Every attempt is a *job* at the callee and a *call* at the caller. A caller that times out
//! forgets the attempt; the callee keeps working on it (wasted work), and its reply, when it
//! comes, is a late reply that changes nothing.

use std::collections::VecDeque;

use sim_core::{
    Distribution, Event, Limits, Model, RngStreams, RunOutcome, Scheduler, SimDuration, SimRng,
    SimTime, Simulation, TimerId, TraceSink,
};

use crate::config::{
    Arrivals, Backoff, CallPolicy, ClientId, Execution, Fault, Objective, ServiceId, WorldConfig,
};
use crate::metrics::{FailureCause, Gauges, OutcomeStats};
use crate::trace::{NONE, RecordSink, TraceKind, TraceNames, TraceRecord};

/// The outcome of one attempt, carried by its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed(FailureCause),
}

/// The world's events. Payloads are slab indices plus the attempt id that makes stale
/// references detectable after a slot is reused.
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
        call: u32,
        /// The edge the attempt travelled, to account a late reply after its call is gone.
        edge: u32,
        attempt: u64,
        outcome: Outcome,
    },
    /// A per-attempt timeout fired.
    Timeout { call: u32, attempt: u64 },
    /// A retry's backoff elapsed.
    RetryDue { call: u32, attempt: u64 },
}

impl WorldEvent {
    /// The names used in traces, indexed by [`Event::kind`].
    pub const KIND_NAMES: [&'static str; 6] = [
        "client_arrival",
        "deliver",
        "work_done",
        "reply",
        "timeout",
        "retry_due",
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
        }
    }

    #[inline]
    fn target(&self) -> u32 {
        match *self {
            WorldEvent::ClientArrival { client } => client,
            WorldEvent::Deliver { job } | WorldEvent::WorkDone { job } => job,
            WorldEvent::Reply { call, .. }
            | WorldEvent::Timeout { call, .. }
            | WorldEvent::RetryDue { call, .. } => call,
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

/// No attempt has id 0, so a call whose current attempt is 0 ignores every reply.
const NO_ATTEMPT: u64 = 0;

/// One attempt being served at its callee.
struct Job {
    service: ServiceId,
    /// The edge the attempt came over; replies go back over it.
    edge: u32,
    /// The caller's call and the attempt this job serves.
    call: u32,
    attempt: u64,
    /// Index of the next downstream call in the service's plan.
    next_call: u16,
    holding_worker: bool,
}

/// Who made a call.
#[derive(Clone, Copy)]
enum Owner {
    Client { client: ClientId, started: SimTime },
    Job(u32),
}

/// A logical call over one edge at its caller, across its attempts.
struct Call {
    edge: u32,
    owner: Owner,
    /// Attempts made so far.
    attempts: u32,
    /// The id of the attempt awaited, or [`NO_ATTEMPT`] while backing off.
    attempt: u64,
    attempt_sent: SimTime,
    timeout: Option<TimerId>,
}

struct Edge {
    to: ServiceId,
    policy: CallPolicy,
    network_rng: SimRng,
    retry_rng: SimRng,
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
    report: ServiceReport,
}

struct ClientState {
    edge: u32,
    arrivals_rng: SimRng,
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
    /// Jobs that finished after their caller had given up on them.
    pub wasted_work: u64,
    /// The longest the queue got.
    pub queue_max: u32,
    /// Busy workers and queue length per window.
    pub gauges: Gauges,
    pub objective: Objective,
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
    /// Attempts sent, first tries and retries.
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
    /// Attempts over this edge and how they ended for the caller.
    pub stats: OutcomeStats,
    pub attempts: u64,
    pub retries: u64,
    /// Replies that arrived after their attempt had timed out.
    pub late_replies: u64,
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

/// A world ready to run: configuration plus state.
pub struct World {
    faults: Vec<FaultReport>,
    window: SimDuration,
    name: String,
    seed: u64,
    duration: SimDuration,
    max_events: u64,
    network: Distribution,
    service_times: Vec<Distribution>,
    error_rates: Vec<f64>,
    executions: Vec<Execution>,
    arrivals: Vec<Arrivals>,
    services: Vec<ServiceState>,
    clients: Vec<ClientState>,
    edges: Vec<Edge>,
    jobs: Slab<Job>,
    calls: Slab<Call>,
    next_attempt: u64,
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
        for svc in &config.services {
            assert!(svc.workers > 0, "service {} has no workers", svc.name);
            let mut call_edges = Vec::new();
            for (index, call) in svc.calls.iter().enumerate() {
                let to = &config.services[call.to.0 as usize].name;
                let index = index.to_string();
                let key = ["edge", "service", &svc.name, &index, to];
                call_edges.push(edges.len() as u32);
                edges.push(Edge {
                    to: call.to,
                    policy: call.policy.clone(),
                    network_rng: streams.stream(&[&key[..], &["network"]].concat()),
                    retry_rng: streams.stream(&[&key[..], &["retry"]].concat()),
                    report: EdgeReport {
                        from: svc.name.clone(),
                        to: to.clone(),
                        stats: OutcomeStats::new(config.window),
                        attempts: 0,
                        retries: 0,
                        late_replies: 0,
                    },
                });
            }
            services.push(ServiceState {
                workers_busy: 0,
                queue: VecDeque::new(),
                service_time_rng: streams.stream(&["service", &svc.name, "service_time"]),
                error_rng: streams.stream(&["service", &svc.name, "errors"]),
                call_edges,
                latency_faults: Vec::new(),
                report: ServiceReport {
                    name: svc.name.clone(),
                    workers: svc.workers,
                    queue_capacity: svc.queue,
                    stats: OutcomeStats::new(config.window),
                    wasted_work: 0,
                    queue_max: 0,
                    gauges: Gauges::new(config.window),
                    objective: svc.objective,
                },
            });
        }
        let mut clients = Vec::with_capacity(config.clients.len());
        for client in &config.clients {
            let to = &config.services[client.to.0 as usize].name;
            let key = ["edge", "client", &client.name, "0", to];
            let edge = edges.len() as u32;
            edges.push(Edge {
                to: client.to,
                policy: client.policy.clone(),
                network_rng: streams.stream(&[&key[..], &["network"]].concat()),
                retry_rng: streams.stream(&[&key[..], &["retry"]].concat()),
                report: EdgeReport {
                    from: format!("client:{}", client.name),
                    to: to.clone(),
                    stats: OutcomeStats::new(config.window),
                    attempts: 0,
                    retries: 0,
                    late_replies: 0,
                },
            });
            clients.push(ClientState {
                edge,
                arrivals_rng: streams.stream(&["client", &client.name, "arrivals"]),
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
            service_times: config
                .services
                .iter()
                .map(|s| s.service_time.clone())
                .collect(),
            error_rates: config.services.iter().map(|s| s.error_rate).collect(),
            executions: config.services.iter().map(|s| s.execution).collect(),
            arrivals: config.clients.iter().map(|c| c.arrivals.clone()).collect(),
            services,
            clients,
            edges,
            jobs: Slab::new(),
            calls: Slab::new(),
            next_attempt: NO_ATTEMPT + 1,
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
        let mut is_free = vec![false; self.calls.items.len()];
        for &i in &self.calls.free {
            is_free[i as usize] = true;
        }
        let live_calls = || {
            self.calls
                .items
                .iter()
                .zip(&is_free)
                .filter(|(_, free)| !**free)
                .map(|(c, _)| c)
        };
        let calls_awaiting = live_calls().filter(|c| c.attempt != NO_ATTEMPT).count() as u64;
        assert_eq!(
            attempts_in_flight, calls_awaiting,
            "attempts in flight do not match calls awaiting a reply"
        );
        let client_in_flight: u64 = self
            .clients
            .iter()
            .map(|c| c.report.stats.in_flight())
            .sum();
        let client_calls = live_calls()
            .filter(|c| matches!(c.owner, Owner::Client { .. }))
            .count() as u64;
        assert_eq!(
            client_in_flight, client_calls,
            "client requests not conserved"
        );
    }

    fn interarrival(&mut self, client: u32) -> SimDuration {
        let state = &mut self.clients[client as usize];
        match self.arrivals[client as usize] {
            Arrivals::Poisson { rate_per_s } => SimDuration::from_nanos_f64(
                sim_core::sample_exp(&mut state.arrivals_rng) * 1e9 / rate_per_s,
            ),
            Arrivals::Constant { rate_per_s } => SimDuration::from_nanos_f64(1e9 / rate_per_s),
        }
    }

    fn on_client_arrival<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, client: u32) {
        let next = self.interarrival(client);
        s.schedule_in(next, WorldEvent::ClientArrival { client });
        let state = &mut self.clients[client as usize];
        state.report.stats.requests += 1;
        let edge = state.edge;
        let call = self.calls.insert(Call {
            edge,
            owner: Owner::Client {
                client: ClientId(client),
                started: s.now(),
            },
            attempts: 0,
            attempt: NO_ATTEMPT,
            attempt_sent: s.now(),
            timeout: None,
        });
        if TRACE {
            self.trace_request_start(s.now(), call, client, edge);
        }
        self.send_attempt::<TRACE>(s, call);
    }

    /// Sends the next attempt of `call` over its edge.
    fn send_attempt<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, call_id: u32) {
        let attempt = self.next_attempt;
        self.next_attempt += 1;
        let now = s.now();
        let call = &mut self.calls[call_id];
        call.attempts += 1;
        call.attempt = attempt;
        call.attempt_sent = now;
        let edge = &mut self.edges[call.edge as usize];
        edge.report.attempts += 1;
        edge.report.stats.requests += 1;
        if call.attempts > 1 {
            edge.report.retries += 1;
        }
        if let Owner::Client { client, .. } = call.owner {
            let report = &mut self.clients[client.0 as usize].report;
            report.attempts += 1;
            if call.attempts > 1 {
                report.retries += 1;
            }
        }
        if let Some(timeout) = edge.policy.timeout {
            call.timeout = Some(s.timer_in(
                timeout,
                WorldEvent::Timeout {
                    call: call_id,
                    attempt,
                },
            ));
        }
        let to = edge.to;
        let latency = self.network.sample(&mut edge.network_rng);
        self.services[to.0 as usize].report.stats.requests += 1;
        let edge_id = call.edge;
        if TRACE {
            self.trace_attempt_sent(now, call_id);
        }
        let job = self.jobs.insert(Job {
            service: to,
            edge: edge_id,
            call: call_id,
            attempt,
            next_call: 0,
            holding_worker: false,
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
        let state = &mut self.services[service];
        if state.workers_busy < state.report.workers {
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
        job.holding_worker = true;
        let state = &mut self.services[service];
        state.workers_busy += 1;
        state
            .report
            .gauges
            .set(now, state.workers_busy, state.queue.len() as u32);
        let mut work = self.service_times[service].sample(&mut state.service_time_rng);
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
        let error_rate = self.error_rates[service];
        if error_rate > 0.0 && self.services[service].error_rng.chance(error_rate) {
            let outcome = Outcome::Failed(FailureCause::Error);
            if TRACE {
                self.trace_job(s.now(), TraceKind::WorkDone, job, 0, Some(outcome));
            }
            self.reply::<TRACE>(s, job, outcome);
        } else {
            if TRACE {
                self.trace_job(s.now(), TraceKind::WorkDone, job, 0, Some(Outcome::Ok));
            }
            self.next_downstream::<TRACE>(s, job);
        }
    }

    /// Makes the job's next downstream call, or replies when none is left.
    fn next_downstream<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job_id: u32) {
        let job = &mut self.jobs[job_id];
        let service = job.service.0 as usize;
        let index = usize::from(job.next_call);
        let Some(&edge) = self.services[service].call_edges.get(index) else {
            self.reply::<TRACE>(s, job_id, Outcome::Ok);
            return;
        };
        job.next_call += 1;
        let parent = job.attempt;
        if self.executions[service] == Execution::Async && job.holding_worker {
            self.release_worker::<TRACE>(s, job_id);
        }
        let call = self.calls.insert(Call {
            edge,
            owner: Owner::Job(job_id),
            attempts: 0,
            attempt: NO_ATTEMPT,
            attempt_sent: s.now(),
            timeout: None,
        });
        if TRACE {
            self.trace_call_start(s.now(), call, parent, edge, index as u32);
        }
        self.send_attempt::<TRACE>(s, call);
    }

    fn release_worker<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job_id: u32) {
        if TRACE {
            self.trace_worker_released(s.now(), job_id);
        }
        let job = &mut self.jobs[job_id];
        debug_assert!(job.holding_worker);
        job.holding_worker = false;
        let state = &mut self.services[job.service.0 as usize];
        state.workers_busy -= 1;
        let next = state.queue.pop_front();
        state
            .report
            .gauges
            .set(s.now(), state.workers_busy, state.queue.len() as u32);
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
        let (call_id, attempt, edge_id) = (job.call, job.attempt, job.edge);
        let service = job.service.0 as usize;
        self.jobs.remove(job_id);
        // Attempt ids are never reused, so this holds even if the call's slot now holds
        // another call.
        if self.calls[call_id].attempt != attempt {
            // The caller gave up on this attempt (or the call is over): the work was wasted.
            if outcome != Outcome::Failed(FailureCause::Rejected) {
                self.services[service].report.wasted_work += 1;
            }
        }
        let edge = &mut self.edges[edge_id as usize];
        let latency = self.network.sample(&mut edge.network_rng);
        let event = WorldEvent::Reply {
            call: call_id,
            edge: edge_id,
            attempt,
            outcome,
        };
        if latency == SimDuration::ZERO {
            self.on_reply::<TRACE>(s, call_id, edge_id, attempt, outcome);
        } else {
            s.schedule_in(latency, event);
        }
    }

    fn on_reply<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: u32,
        edge: u32,
        attempt: u64,
        outcome: Outcome,
    ) {
        let call = &mut self.calls[call_id];
        if call.attempt != attempt {
            // The slot may hold a newer call by now, so the edge comes from the reply itself.
            self.edges[edge as usize].report.late_replies += 1;
            if TRACE {
                let caller = (edge, attempt, Some(outcome));
                self.trace_caller(s.now(), TraceKind::LateReply, caller, SimDuration::ZERO, 0);
            }
            return;
        }
        if let Some(timer) = call.timeout.take() {
            s.cancel(timer);
        }
        if TRACE {
            let latency = s.now() - self.calls[call_id].attempt_sent;
            let caller = (edge, attempt, Some(outcome));
            self.trace_caller(s.now(), TraceKind::ReplyReceived, caller, latency, 0);
        }
        self.attempt_finished::<TRACE>(s, call_id, outcome);
    }

    fn on_timeout<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: u32,
        attempt: u64,
    ) {
        let call = &mut self.calls[call_id];
        debug_assert_eq!(call.attempt, attempt, "a live timeout names its attempt");
        call.timeout = None;
        if TRACE {
            let call = &self.calls[call_id];
            let waited = s.now() - call.attempt_sent;
            let caller = (call.edge, attempt, None);
            self.trace_caller(s.now(), TraceKind::Timeout, caller, waited, 0);
        }
        self.attempt_finished::<TRACE>(s, call_id, Outcome::Failed(FailureCause::Timeout));
    }

    /// Records the attempt's outcome at the callee and decides: done, retry, or give up.
    fn attempt_finished<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: u32,
        outcome: Outcome,
    ) {
        let now = s.now();
        let call = &mut self.calls[call_id];
        let attempt = call.attempt;
        call.attempt = NO_ATTEMPT;
        let edge = &mut self.edges[call.edge as usize];
        let stats = &mut self.services[edge.to.0 as usize].report.stats;
        let cause = match outcome {
            Outcome::Ok => {
                let latency = now - call.attempt_sent;
                stats.record_ok(now, latency);
                edge.report.stats.record_ok(now, latency);
                self.call_finished::<TRACE>(s, call_id, Outcome::Ok);
                return;
            }
            Outcome::Failed(cause) => cause,
        };
        stats.record_failure(now, cause);
        edge.report.stats.record_failure(now, cause);
        match &edge.policy.retry {
            Some(retry) if call.attempts < retry.max_attempts => {
                let wait = backoff(&retry.backoff, call.attempts, &mut edge.retry_rng);
                if TRACE {
                    let (caller, next) = ((call.edge, attempt, Some(outcome)), call.attempts + 1);
                    self.trace_caller(now, TraceKind::RetryScheduled, caller, wait, next);
                }
                if wait == SimDuration::ZERO {
                    self.send_attempt::<TRACE>(s, call_id);
                } else {
                    // The backoff cannot be interrupted, so it needs no cancellable timer.
                    s.schedule_in(
                        wait,
                        WorldEvent::RetryDue {
                            call: call_id,
                            attempt: NO_ATTEMPT,
                        },
                    );
                }
            }
            _ => self.call_finished::<TRACE>(s, call_id, Outcome::Failed(cause)),
        }
    }

    /// A logical call is over: report it to its owner.
    fn call_finished<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: u32,
        outcome: Outcome,
    ) {
        let owner = self.calls[call_id].owner;
        if TRACE {
            self.trace_call_finished(s.now(), call_id, outcome);
        }
        self.calls.remove(call_id);
        match owner {
            Owner::Client { client, started } => {
                let now = s.now();
                let stats = &mut self.clients[client.0 as usize].report.stats;
                match outcome {
                    Outcome::Ok => stats.record_ok(now, now - started),
                    Outcome::Failed(cause) => stats.record_failure(now, cause),
                }
            }
            Owner::Job(job) => match outcome {
                Outcome::Ok => self.next_downstream::<TRACE>(s, job),
                Outcome::Failed(_) => {
                    self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Dependency));
                }
            },
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
                call,
                edge,
                attempt,
                outcome,
            } => self.on_reply::<TRACE>(s, call, edge, attempt, outcome),
            WorldEvent::Timeout { call, attempt } => self.on_timeout::<TRACE>(s, call, attempt),
            WorldEvent::RetryDue { call, .. } => self.send_attempt::<TRACE>(s, call),
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
    fn trace_attempt_sent(&mut self, now: SimTime, call_id: u32) {
        let call = &self.calls[call_id];
        let parent = match call.owner {
            Owner::Client { .. } => NO_ATTEMPT,
            Owner::Job(job) => self.jobs[job].attempt,
        };
        let request = self.tracer.as_deref().expect("tracing").call_requests[call_id as usize];
        let mut r = TraceRecord::new(now, TraceKind::AttemptSent, request);
        r.attempt = call.attempt;
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

/// The wait before retry `n` (1 for the first retry).
fn backoff(policy: &Backoff, retry: u32, rng: &mut SimRng) -> SimDuration {
    let expo = |base: SimDuration, cap: SimDuration| {
        // min(cap, base * 2^n) without overflow: past 2^63 the cap has long been reached.
        let factor = 1u64.checked_shl(retry).unwrap_or(u64::MAX);
        SimDuration(base.as_nanos().saturating_mul(factor).min(cap.as_nanos()))
    };
    match *policy {
        Backoff::None => SimDuration::ZERO,
        Backoff::Constant(d) => d,
        Backoff::Exponential { base, cap } => expo(base, cap),
        Backoff::FullJitter { base, cap } => {
            SimDuration(rng.below_inclusive(expo(base, cap).as_nanos()))
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
        assert_eq!(backoff(&exp, 1, &mut rng), SimDuration::from_millis(10));
        assert_eq!(backoff(&exp, 3, &mut rng), SimDuration::from_millis(40));
        assert_eq!(backoff(&exp, 9, &mut rng), cap);
        assert_eq!(backoff(&exp, 200, &mut rng), cap, "no overflow");
        let full = Backoff::FullJitter { base, cap };
        for n in 1..12 {
            let w = backoff(&full, n, &mut rng);
            assert!(w <= backoff(&exp, n, &mut rng));
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
            }),
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
            retry: None,
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
            }),
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
