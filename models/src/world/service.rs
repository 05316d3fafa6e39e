//! The service side: a request arrives at a replica, passes its inbound protections (rate
//! limit, concurrency limit, shedding, idempotency key), queues for a worker, works, and replies.

use super::*;

/// One attempt being served at its callee.
pub(super) struct Job {
    pub(super) service: ServiceId,
    pub(super) endpoint: u16,
    /// The parallel step under way: bumped when a step starts and when it is decided, so that
    /// calls of a decided step are ignored when they end.
    pub(super) step: u32,
    pub(super) step_calls: u16,
    pub(super) step_ok: u16,
    pub(super) step_failed: u16,
    pub(super) step_join: Join,
    /// The calls of the parallel step under way (call slot, serial).
    pub(super) children: Vec<(u32, u64)>,
    /// The replica serving it, and that replica's epoch when the job arrived.
    pub(super) instance: u32,
    pub(super) epoch: u32,
    /// The edge the attempt came over; replies go back over it.
    pub(super) edge: u32,
    /// The caller's call (alive while the job is) and the attempt this job serves.
    pub(super) call: u32,
    pub(super) slot: u32,
    pub(super) attempt: u64,
    /// Index of the next downstream call in the service's plan.
    pub(super) next_call: u16,
    pub(super) holding_worker: bool,
    /// A downstream call was answered by a fallback: the reply is degraded.
    pub(super) degraded: bool,
    /// The deadline the request carries ([`NEVER`] without one).
    pub(super) deadline: SimTime,
    /// This job claimed the call's idempotency key, and whether it executed the work.
    pub(super) owns_key: bool,
    pub(super) executed: bool,
    /// When it reached the service (queueing delay, the concurrency limit's rtt).
    pub(super) arrived: SimTime,
    /// Its place under the service's adaptive concurrency limit.
    pub(super) permit: Option<Permit>,
}

/// A latency fault on a service's work: inside `[from, to)`, work takes `multiply` times as
/// long plus `add`, on one endpoint or all.
#[derive(Clone, Copy)]
pub(super) struct LatencyFault {
    pub(super) from: SimTime,
    pub(super) to: SimTime,
    pub(super) multiply: f64,
    pub(super) add: SimDuration,
    /// Its index among the scenario's faults (traces name it).
    pub(super) fault: u32,
    pub(super) endpoint: Option<u16>,
}

impl LatencyFault {
    pub(super) fn active_at(&self, now: SimTime) -> bool {
        self.from <= now && now < self.to
    }
}

/// One replica of a service.
pub(super) struct Instance {
    pub(super) host: u32,
    pub(super) workers_busy: u32,
    pub(super) queue: VecDeque<u32>,
    /// Inbound rate limiting and shedding, per replica as a sidecar would.
    pub(super) rate_limiter: Option<RateLimiter>,
    pub(super) codel: Option<Codel>,
    pub(super) limiter: Option<Limiter>,
    /// Crashes holding the process down (a host crash and a chaos failure may overlap).
    pub(super) down: u32,
    /// Bumped at each crash: jobs of an older epoch died with their process.
    pub(super) epoch: u32,
    pub(super) up_since: SimTime,
    pub(super) down_since: SimTime,
    /// Slower until then after a restart.
    pub(super) cold_until: SimTime,
    pub(super) cold_multiply: f64,
    /// Per endpoint, the edge ids of its call plan for this replica, in order.
    pub(super) call_edges: Vec<Vec<u32>>,
    /// A database's throughput: no operation starts before this.
    pub(super) next_start: SimTime,
    pub(super) report: InstanceReport,
}

impl Instance {
    /// Whether the process runs (its host may still be down).
    pub(super) fn up(&self) -> bool {
        self.down == 0
    }
}

pub(super) struct ServiceState {
    pub(super) instances: Vec<Instance>,
    /// Over all replicas, for the gauges.
    pub(super) busy_total: u32,
    pub(super) queue_total: u32,
    /// Replicas running now, and since when that count holds.
    pub(super) up_count: u32,
    pub(super) up_count_since: SimTime,
    pub(super) shed_queue: Option<u32>,
    pub(super) service_time_rng: SimRng,
    pub(super) error_rng: SimRng,
    /// Draws whether optional calls are made.
    pub(super) plan_rng: SimRng,
    /// The latency faults on this service.
    pub(super) latency_faults: Vec<LatencyFault>,
    /// (from, to, rate) of the error faults.
    pub(super) error_faults: Vec<(SimTime, SimTime, f64)>,
    /// (from, to) of the black holes.
    pub(super) black_holes: Vec<(SimTime, SimTime)>,
    /// (growth per hour, crash above, restart after) of a leak.
    pub(super) leak: Option<(f64, Option<f64>, SimDuration)>,
    /// The record's version, for [`ServiceKind::Record`].
    pub(super) version: u64,
    pub(super) report: ServiceReport,
}

/// Per service, what the world needs of its configuration while running.
pub(super) struct ServiceSpec {
    pub(super) endpoints: Vec<EndpointSpec>,
    /// Operations started per second at most, per replica (a database's throughput).
    pub(super) min_gap: Option<SimDuration>,
    pub(super) execution: Execution,
    pub(super) kind: ServiceKind,
    pub(super) idempotent: bool,
    pub(super) idempotency_keys: bool,
    pub(super) propagate_deadline: bool,
    pub(super) health: Health,
}

/// One endpoint: its work, and per call of its plan the probability and parallel group.
pub(super) struct EndpointSpec {
    pub(super) service_time: Distribution,
    pub(super) error_rate: f64,
    pub(super) plan: Vec<(f64, Option<Group>)>,
}

impl Instance {
    /// A replica on `host`, running from the start, with its own inbound protections.
    pub(super) fn new(
        svc: &ServiceConfig,
        host: u32,
        host_name: String,
        call_edges: Vec<Vec<u32>>,
    ) -> Instance {
        Instance {
            host,
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
                host: host_name,
                crashes: 0,
                down: SimDuration::ZERO,
            },
        }
    }
}

impl ServiceState {
    /// A service with all its replicas running and no faults installed yet.
    pub(super) fn new(
        svc: &ServiceConfig,
        instances: Vec<Instance>,
        streams: &RngStreams,
        window: SimDuration,
    ) -> ServiceState {
        let replicas = instances.len() as u32;
        ServiceState {
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
                stats: OutcomeStats::new(window),
                wasted_work: 0,
                queue_max: 0,
                gauges: Gauges::new(window),
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
        }
    }
}

impl ServiceSpec {
    pub(super) fn new(s: &ServiceConfig) -> ServiceSpec {
        let endpoint =
            |service_time: &Distribution, error_rate: f64, calls: &[CallConfig]| EndpointSpec {
                service_time: service_time.clone(),
                error_rate,
                plan: calls.iter().map(|c| (c.probability, c.group)).collect(),
            };
        ServiceSpec {
            endpoints: std::iter::once(endpoint(&s.service_time, s.error_rate, &s.calls))
                .chain(
                    s.endpoints
                        .iter()
                        .map(|e| endpoint(&e.service_time, e.error_rate, &e.calls)),
                )
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
        }
    }
}

impl World {
    pub(super) fn on_deliver<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: u32,
    ) {
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
    pub(super) fn orphan(&self, job: u32) -> bool {
        let j = &self.jobs[job];
        self.services[j.service.0 as usize].instances[j.instance as usize].epoch != j.epoch
    }

    /// Forgets a job that will never answer (its process crashed, a black hole swallowed it, its
    /// host is gone). Its caller finds out by its timeout, if it has one.
    pub(super) fn discard_job(&mut self, job_id: u32) {
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
    pub(super) fn admit<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job: u32) {
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

    pub(super) fn start_work<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: u32,
    ) {
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
        for f in &state.latency_faults {
            if f.active_at(now) && f.endpoint.is_none_or(|e| usize::from(e) == endpoint) {
                work = work.mul_f64(f.multiply) + f.add;
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

    pub(super) fn on_work_done<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: u32,
    ) {
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
    pub(super) fn record_op(&mut self, job_id: u32) -> Outcome {
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

    pub(super) fn release_worker<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: u32,
    ) {
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
    pub(super) fn reply<const TRACE: bool>(
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
}
