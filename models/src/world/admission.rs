//! A request at a replica: it arrives (or finds the host or process gone, or a black hole),
//! claims its idempotency key, passes the inbound protections (rate limiter, concurrency limit,
//! queue-length shedding) and takes a worker or a place in the queue.

use super::*;

impl World {
    pub(super) fn on_deliver<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
    ) {
        let now = s.now();
        // One look-up of the job: it learns its replica's epoch as it reads where it is going.
        let j = &mut self.jobs[job];
        let (service, replica) = (j.service.0 as usize, j.replica);
        let inst = &self.services[service].replicas[replica as usize];
        let (epoch, host, up) = (inst.epoch, inst.host, inst.up());
        j.epoch = epoch;
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
        if !TRACE && self.specs[service].plain {
            // Nothing else stands between a plain service's request and a worker (`plain_service.rs`).
            self.plain_admit(s, job, service, replica as usize);
            return;
        }
        if self.is_hung(service, replica) {
            // A hung process accepts the connection and never answers.
            self.services[service].report.black_holed += 1;
            self.discard_job(job);
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
        let inst = &mut self.services[service].replicas[replica as usize];
        if let Some(limiter) = &mut inst.cold.rate_limiter {
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
    pub(super) fn admit<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job: JobSlot) {
        if self.orphan(job) {
            self.discard_job(job);
            return;
        }
        let now = s.now();
        let (service, replica) = (self.jobs[job].service.0 as usize, self.jobs[job].replica);
        if self.specs[service].renege && !self.attempt_live(job) {
            // The caller's cancellation arrived with the request (or while it waited for the
            // rate limiter): it never takes a place.
            self.renege::<TRACE>(s, job);
            return;
        }
        if self.functions.is_some() && self.is_function(service) {
            // A function's frontend picks the instance (`serverless.rs`).
            self.route_invocation::<TRACE>(s, job);
            return;
        }
        let shed_queue = self.services[service].shed_queue;
        let inst = &mut self.services[service].replicas[replica as usize];
        if let Some(limiter) = &mut inst.cold.limiter {
            match limiter.try_acquire() {
                Some(permit) => self.jobs[job].permit = Some(permit),
                None => {
                    if TRACE {
                        let shed = Some(Outcome::Failed(FailureCause::Shed));
                        self.trace_job(now, TraceKind::Shed, job, 0, shed);
                    }
                    self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Shed));
                    return;
                }
            }
        }
        let inst = &mut self.services[service].replicas[replica as usize];
        let (workers, capacity) = (inst.workers, inst.queue_capacity);
        let busy = inst.workers_busy >= workers;
        if busy && shed_queue.is_some_and(|max| inst.queue.len() as u32 >= max) {
            if TRACE {
                let shed = Some(Outcome::Failed(FailureCause::Shed));
                self.trace_job(now, TraceKind::Shed, job, 1, shed);
            }
            self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Shed));
            return;
        }
        if !busy {
            if let Some(codel) = &mut inst.cold.codel {
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
        } else if self.specs[service].backpressure {
            // The sender waits for a place, holding whatever it holds.
            inst.cold.blocked.push_back(job);
            let waiting = inst.cold.blocked.len() as u32;
            if let Some(n) = &mut self.services[service].report.backpressured {
                *n += 1;
            }
            if TRACE {
                self.trace_job(now, TraceKind::Blocked, job, waiting, None);
            }
        } else {
            if TRACE {
                self.trace_job(now, TraceKind::Rejected, job, 0, None);
            }
            self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Rejected));
        }
    }

    /// The next job for a freed worker: the head of the queue, or a blocked sender when the
    /// queue is empty (a queue of no places). A place freed in the queue goes to the
    /// longest-blocked sender.
    pub(super) fn dequeue<const TRACE: bool>(
        &mut self,
        now: SimTime,
        service: usize,
        replica: usize,
    ) -> Option<JobSlot> {
        let state = &mut self.services[service];
        let inst = &mut state.replicas[replica];
        let Some(next) = inst.queue.pop_front() else {
            return inst.cold.blocked.pop_front();
        };
        state.queue_total -= 1;
        self.fill_freed_place::<TRACE>(now, service, replica);
        Some(next)
    }

    /// A place in the queue freed: the longest-blocked sender, if any, takes it.
    fn fill_freed_place<const TRACE: bool>(
        &mut self,
        now: SimTime,
        service: usize,
        replica: usize,
    ) {
        let state = &mut self.services[service];
        let inst = &mut state.replicas[replica];
        let Some(job) = inst.cold.blocked.pop_front() else {
            return;
        };
        inst.queue.push_back(job);
        let queued = inst.queue.len() as u32;
        state.queue_total += 1;
        state.report.queue_max = state.report.queue_max.max(state.queue_total);
        if TRACE {
            self.trace_job(now, TraceKind::Queued, job, queued, None);
        }
    }
}

impl World {
    /// Whether the caller still waits for this job's attempt.
    pub(super) fn attempt_live(&self, job: JobSlot) -> bool {
        let j = &self.jobs[job];
        self.attempt_awaited(j.slot, j.attempt)
    }

    /// The caller has given up on `attempt`: if its callee reneges and the attempt's job is
    /// still queued, the job leaves the queue now, freeing its place.
    pub(super) fn renege_queued<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
        attempt: AttemptId,
    ) {
        // A finished job's slot keeps `NO_ATTEMPT` or another attempt's id.
        let j = &self.jobs[job];
        let service = j.service.0 as usize;
        if j.attempt != attempt || j.holding_worker {
            return;
        }
        let replica = j.replica as usize;
        let (renege, backpressure) = (self.specs[service].renege, self.specs[service].backpressure);
        if !(renege || backpressure) || self.orphan(job) {
            return;
        }
        let inst = &mut self.services[service].replicas[replica];
        if backpressure && let Some(i) = inst.cold.blocked.iter().position(|&q| q == job) {
            // A sender that stops waiting stops sending: it never had a place.
            inst.cold.blocked.remove(i);
            self.discard_job(job);
            return;
        }
        if !renege {
            return;
        }
        let Some(i) = inst.queue.iter().position(|&q| q == job) else {
            // Still on its way, or waiting for the rate limiter: `admit` drops it.
            return;
        };
        inst.queue.remove(i);
        let now = s.now();
        self.services[service].queue_total -= 1;
        self.fill_freed_place::<TRACE>(now, service, replica);
        let state = &mut self.services[service];
        state
            .report
            .gauges
            .set(now, state.busy_total, state.queue_total);
        self.renege::<TRACE>(s, job);
    }

    /// Forgets a job whose caller is gone, before it took a worker; nobody hears an answer.
    fn renege<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, job: JobSlot) {
        if TRACE {
            self.trace_job(s.now(), TraceKind::Reneged, job, 0, None);
        }
        let j = &self.jobs[job];
        let (service, call, owns_key) = (j.service.0 as usize, j.call, j.owns_key);
        if let Some(n) = &mut self.services[service].report.reneged {
            *n += 1;
        }
        if owns_key {
            // Not executed: the key is free for the next try, as when a request is refused.
            self.calls[call].key = Key::Unseen;
        }
        self.discard_job(job);
    }
}
