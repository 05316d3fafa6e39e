//! The trace points of the domain trace (`replay`). The handlers take `TRACE`, known at compile
//! time, and `handle` picks the traced ones when a sink is set: an untraced run pays one branch
//! per event, and its handlers contain no trace code. The trace points are kept out of line,
//! away from the hot path.

use super::*;

/// The state of the domain trace, present only when tracing. Everything the trace needs and the
/// world does not (request ids, the worker each job holds) lives here, so an untraced run carries none of it.
/// Its memory grows with the attempts made, like the trace itself: tracing is for replaying one
/// run, not for sweeps.
pub(super) struct Tracer {
    pub(super) sink: Box<dyn RecordSink>,
    /// The id of the next logical request (client arrival).
    pub(super) next_request: u64,
    /// Per attempt id (from 1), its logical request and parent attempt. Indexed by attempt, not
    /// by call or job: a late reply's call and job may be gone.
    pub(super) attempts: Vec<(u64, u64)>,
    /// Per slot of the call slab, the logical request of the call there.
    pub(super) call_requests: Vec<u64>,
    /// Per slot of the job slab, the worker the job holds.
    pub(super) job_workers: Vec<u32>,
    /// Per service, its free workers; the last is taken first, so an idle service hands
    /// out worker 0 first and a freed worker is taken again at once.
    pub(super) free_workers: Vec<Vec<u32>>,
    /// The starts and ends of the faults' windows in time order, and how many are recorded.
    pub(super) fault_windows: Vec<(SimTime, TraceKind, u32)>,
    pub(super) windows_recorded: usize,
}

impl Tracer {
    pub(super) fn record(&mut self, record: TraceRecord) {
        self.sink.record(&record);
    }

    /// The logical request and the parent attempt of an attempt.
    pub(super) fn attempt(&self, attempt: AttemptId) -> (u64, u64) {
        self.attempts[(attempt.0 - 1) as usize]
    }

    /// Notes the logical request of the call in slab slot `call`.
    pub(super) fn set_call_request(&mut self, call: CallSlot, request: u64) {
        let i = call.0 as usize;
        if i >= self.call_requests.len() {
            self.call_requests.resize(i + 1, 0);
        }
        self.call_requests[i] = request;
    }
}

impl World {
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
                .edge_reports
                .iter()
                .map(|r| (r.from.clone(), r.to.clone()))
                .collect(),
            faults: self.faults.iter().map(|f| f.description.clone()).collect(),
        }
    }

    /// The starts and ends of the faults (partitions included), ordered by time, starts before
    /// ends at one instant, then by fault.
    pub(super) fn fault_windows(&self) -> Vec<(SimTime, TraceKind, u32)> {
        let mut windows = Vec::with_capacity(2 * self.faults.len());
        for (i, f) in self.faults.iter().enumerate() {
            windows.push((f.from, TraceKind::FaultStart, i as u32));
            if f.to > f.from {
                windows.push((f.to, TraceKind::FaultEnd, i as u32));
            }
        }
        windows.sort_by_key(|&(at, kind, i)| (at, kind == TraceKind::FaultEnd, i));
        windows
    }

    /// Records the fault windows that began or ended up to `now` (inclusive), or before `now`
    /// when `before` (the run's exclusive end).
    #[cold]
    #[inline(never)]
    pub(super) fn trace_fault_windows(&mut self, now: SimTime, before: bool) {
        let services: Vec<u32> = self
            .faults
            .iter()
            .map(|f| {
                self.services
                    .iter()
                    .position(|s| s.report.name == f.service)
                    .map_or(NONE, |i| i as u32)
            })
            .collect();
        let tracer = self.tracer();
        while let Some(&(at, kind, fault)) = tracer.fault_windows.get(tracer.windows_recorded) {
            if at > now || (before && at == now) {
                break;
            }
            tracer.windows_recorded += 1;
            let mut r = TraceRecord::new(at, kind, 0);
            r.fault = fault;
            r.service = services[fault as usize];
            tracer.record(r);
        }
    }

    /// Whether a fault window is due: the check the traced dispatch makes on every event.
    #[inline]
    pub(super) fn fault_window_due(&self, now: SimTime) -> bool {
        let tracer = self.tracer.as_deref().expect("tracing");
        tracer
            .fault_windows
            .get(tracer.windows_recorded)
            .is_some_and(|w| w.0 <= now)
    }

    /// Records the transitions an edge's breaker made since it had `before` of them; `request`
    /// is the request it was judging (0 if none).
    #[cold]
    #[inline(never)]
    pub(super) fn trace_breaker(&mut self, edge: EdgeId, before: usize, request: u64) {
        let (service, report) = (self.edges[edge].to.0, self.edges[edge].report);
        let breaker = self.edges[edge].cold.breaker.as_ref().expect("a breaker");
        let new: Vec<Transition> = breaker.transitions()[before..].to_vec();
        let tracer = self.tracer();
        for t in new {
            let mut r = TraceRecord::new(t.at, TraceKind::BreakerTransition, request);
            r.edge = report;
            r.service = service;
            r.breaker = Some((t.from, t.to));
            tracer.record(r);
        }
    }

    /// How many transitions the edge's breaker has made.
    pub(super) fn transitions(&self, edge: EdgeId) -> usize {
        self.edges[edge]
            .cold
            .breaker
            .as_ref()
            .map_or(0, |b| b.transitions().len())
    }

    /// The logical request of the call in `call`'s slot.
    pub(super) fn call_request(&self, call: CallSlot) -> u64 {
        self.tracer.as_deref().expect("tracing").call_requests[call.0 as usize]
    }

    /// The logical request of a live attempt.
    pub(super) fn attempt_request(&self, attempt: AttemptId) -> u64 {
        self.tracer.as_deref().expect("tracing").attempt(attempt).0
    }

    /// A replica's process died or runs again.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_replica(
        &mut self,
        now: SimTime,
        kind: TraceKind,
        service: u32,
        replica: u32,
        fault: u32,
    ) {
        let mut r = TraceRecord::new(now, kind, 0);
        r.service = service;
        r.number = replica;
        r.fault = fault;
        self.tracer().record(r);
    }

    /// A call's fallback answered for it.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_fallback(&mut self, now: SimTime, call_id: CallSlot) {
        let call = &self.calls[call_id];
        let (edge, report) = (call.edge, self.edges[call.edge].report);
        let parent = match call.owner {
            Owner::Job(job) => self.jobs[job].attempt.0,
            _ => 0,
        };
        let mut r = TraceRecord::new(now, TraceKind::Fallback, self.call_request(call_id));
        r.edge = report;
        r.service = self.edges[edge].to.0;
        r.parent = parent;
        r.outcome = Some(Outcome::Degraded);
        self.tracer().record(r);
    }

    pub(super) fn tracer(&mut self) -> &mut Tracer {
        self.tracer
            .as_deref_mut()
            .expect("called only when tracing")
    }

    #[cold]
    #[inline(never)]
    pub(super) fn trace_request_start(
        &mut self,
        now: SimTime,
        call: CallSlot,
        client: u32,
        edge: EdgeId,
    ) {
        let (service, report) = (self.edges[edge].to.0, self.edges[edge].report);
        let tracer = self.tracer();
        let request = tracer.next_request;
        tracer.next_request += 1;
        tracer.set_call_request(call, request);
        let mut r = TraceRecord::new(now, TraceKind::RequestStart, request);
        r.client = client;
        r.edge = report;
        r.service = service;
        tracer.record(r);
    }

    #[cold]
    #[inline(never)]
    pub(super) fn trace_attempt_sent(
        &mut self,
        now: SimTime,
        call_id: CallSlot,
        attempt: AttemptId,
    ) {
        let call = &self.calls[call_id];
        let parent = match call.owner {
            Owner::Client { .. }
            | Owner::User { .. }
            | Owner::Delivery { .. }
            | Owner::Decision { .. }
            | Owner::SagaLog { .. } => NO_ATTEMPT,
            Owner::Job(job) => self.jobs[job].attempt,
        };
        let request = self.tracer.as_deref().expect("tracing").call_requests[call_id.0 as usize];
        let mut r = TraceRecord::new(now, TraceKind::AttemptSent, request);
        r.attempt = attempt.0;
        r.parent = parent.0;
        r.edge = self.edges[call.edge].report;
        r.service = self.edges[call.edge].to.0;
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
    pub(super) fn trace_job(
        &mut self,
        now: SimTime,
        kind: TraceKind,
        job_id: JobSlot,
        number: u32,
        outcome: Option<Outcome>,
    ) {
        let job = &self.jobs[job_id];
        let tracer = self.tracer.as_deref_mut().expect("tracing");
        let mut r = TraceRecord::new(now, kind, tracer.attempt(job.attempt).0);
        r.attempt = job.attempt.0;
        r.service = job.service.0;
        r.edge = self.edges[job.edge].report;
        if job.holding_worker {
            r.worker = tracer.job_workers[job_id.0 as usize];
        }
        r.number = number;
        r.outcome = outcome;
        tracer.record(r);
    }

    #[cold]
    #[inline(never)]
    pub(super) fn trace_work_start(&mut self, now: SimTime, job_id: JobSlot, work: SimDuration) {
        let service = self.jobs[job_id].service.0;
        let mut slowed_by = 1.0;
        let mut fault = NONE;
        for f in &self.services[service as usize].latency_faults {
            if f.active_at(now) {
                slowed_by *= f.multiply;
                fault = fault.min(f.fault);
            }
        }
        let job = &self.jobs[job_id];
        let tracer = self.tracer.as_deref_mut().expect("tracing");
        let worker = tracer.free_workers[service as usize]
            .pop()
            .expect("a service never holds more workers than it has");
        let i = job_id.0 as usize;
        if i >= tracer.job_workers.len() {
            tracer.job_workers.resize(i + 1, NONE);
        }
        tracer.job_workers[i] = worker;
        let mut r = TraceRecord::new(now, TraceKind::WorkStart, tracer.attempt(job.attempt).0);
        r.attempt = job.attempt.0;
        r.service = service;
        r.edge = self.edges[job.edge].report;
        r.worker = worker;
        r.duration = work;
        r.slowed_by = slowed_by;
        r.fault = fault;
        tracer.record(r);
    }

    #[cold]
    #[inline(never)]
    pub(super) fn trace_worker_released(&mut self, now: SimTime, job_id: JobSlot) {
        self.trace_job(now, TraceKind::WorkerReleased, job_id, 0, None);
        let service = self.jobs[job_id].service.0 as usize;
        let tracer = self.tracer();
        let worker = tracer.job_workers[job_id.0 as usize];
        tracer.free_workers[service].push(worker);
    }

    #[cold]
    #[inline(never)]
    pub(super) fn trace_call_start(
        &mut self,
        now: SimTime,
        call: CallSlot,
        parent: AttemptId,
        edge: EdgeId,
        index: u32,
    ) {
        let (service, report) = (self.edges[edge].to.0, self.edges[edge].report);
        let tracer = self.tracer();
        let request = tracer.attempt(parent).0;
        tracer.set_call_request(call, request);
        let mut r = TraceRecord::new(now, TraceKind::CallStart, request);
        r.parent = parent.0;
        r.edge = report;
        r.service = service;
        r.number = index;
        tracer.record(r);
    }

    /// A record about an attempt at its caller: `caller` is (edge, attempt, outcome).
    #[cold]
    #[inline(never)]
    pub(super) fn trace_caller(
        &mut self,
        now: SimTime,
        kind: TraceKind,
        caller: (EdgeId, AttemptId, Option<Outcome>),
        duration: SimDuration,
        number: u32,
    ) {
        let (edge, attempt, outcome) = caller;
        let (service, report) = (self.edges[edge].to.0, self.edges[edge].report);
        let tracer = self.tracer();
        let (request, parent) = tracer.attempt(attempt);
        let mut r = TraceRecord::new(now, kind, request);
        r.attempt = attempt.0;
        r.parent = parent;
        r.edge = report;
        r.service = service;
        r.outcome = outcome;
        r.duration = duration;
        r.number = number;
        tracer.record(r);
    }

    /// A call's overall deadline passed (`duration`: how long the call had run).
    #[cold]
    #[inline(never)]
    pub(super) fn trace_deadline(&mut self, now: SimTime, call_id: CallSlot, waited: SimDuration) {
        let call = &self.calls[call_id];
        let request = self.tracer.as_deref().expect("tracing").call_requests[call_id.0 as usize];
        let mut r = TraceRecord::new(now, TraceKind::Deadline, request);
        r.edge = self.edges[call.edge].report;
        r.service = self.edges[call.edge].to.0;
        r.duration = waited;
        if let Owner::Job(job) = call.owner {
            r.parent = self.jobs[job].attempt.0;
        }
        self.tracer().record(r);
    }

    #[cold]
    #[inline(never)]
    pub(super) fn trace_call_finished(
        &mut self,
        now: SimTime,
        call_id: CallSlot,
        outcome: Outcome,
    ) {
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
            Owner::Delivery { .. } | Owner::Decision { .. } | Owner::SagaLog { .. } => (
                TraceKind::RequestFinished,
                NONE,
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
        let request = self.tracer.as_deref().expect("tracing").call_requests[call_id.0 as usize];
        let mut r = TraceRecord::new(now, kind, request);
        r.client = client;
        r.parent = parent.0;
        r.edge = self.edges[call.edge].report;
        r.service = self.edges[call.edge].to.0;
        r.outcome = Some(outcome);
        r.number = call.attempts;
        r.duration = duration;
        self.tracer().record(r);
    }
}
