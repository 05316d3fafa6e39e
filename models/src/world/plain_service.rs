//! The short path of a plain service: one that nothing acts on beyond its workers, its queue,
//! its work and its call plan. No inbound protection (rate limiter, shedding, concurrency
//! limit), idempotency key, propagated deadline, reneging, backpressure, throughput limit,
//! leak, black hole or custom behaviour; a worker service, not a store, record, broker or
//! function; and a world without mid-run changes, autoscalers, probes, rollouts, hangs, brokers,
//! sagas or two-phase commits. Such a service's requests are admitted, worked, finished and
//! answered without testing for any of those (the general path tests about a dozen per request
//! in `admission.rs` and `work.rs`). What may still happen to a plain service is tested here at
//! a few instructions each: a crash (the epoch), a cold start, a latency or error fault, an
//! error rate, a caller that retried (a duplicate execution) or gave up (wasted work). The
//! results are those of the general path, which traced runs take (a test runs both and
//! compares their reports).

use super::*;

impl World {
    /// Marks the services whose requests take the short path; called once the world is wired.
    /// A custom behaviour, handed over later, clears its service's mark (`custom.rs`).
    pub(super) fn mark_plain_services(&mut self, config: &WorldConfig) {
        let world_plain = !self.acts_mid_run(config)
            && self.broker.is_none()
            && self.sagas.is_none()
            && self.twopc.is_none()
            && self.functions.is_none()
            && self.custom.is_none();
        for ((spec, state), svc) in self
            .specs
            .iter_mut()
            .zip(&self.services)
            .zip(&config.services)
        {
            spec.plain = world_plain
                && svc.kind == ServiceKind::Worker
                && svc.inbound.rate_limit.is_none()
                && svc.inbound.shed.is_none()
                && !svc.idempotency_keys
                && !svc.propagate_deadline
                && svc.abandonment != crate::config::Abandonment::Renege
                && !svc.backpressure
                && svc.max_throughput_per_s.is_none()
                && state.leak.is_none()
                && state.black_holes.is_empty();
            debug_assert!(!spec.plain || (spec.by_replica.is_empty() && !spec.renege));
            // Without brokers no call publishes: a plan step is a call or a group of them.
            spec.plain_plans = spec.plain
                && spec
                    .endpoints
                    .iter()
                    .flat_map(|e| &e.plan)
                    .all(|&(probability, group)| probability >= 1.0 && group.is_none());
        }
    }

    /// A plain service's request reached its running replica: a worker, a place in the queue,
    /// or a refusal (`admit` with nothing to test before the queue). In line in `on_deliver`.
    #[inline(always)]
    pub(super) fn plain_admit(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
        service: usize,
        replica: usize,
    ) {
        let now = s.now();
        self.jobs[job].arrived = now;
        let state = &mut self.services[service];
        let inst = &mut state.replicas[replica];
        if inst.workers_busy < inst.workers {
            self.plain_start_work(s, job, service, replica);
        } else if (inst.queue.len() as u32) < inst.queue_capacity {
            inst.queue.push_back(job);
            state.queue_total += 1;
            state.report.queue_max = state.report.queue_max.max(state.queue_total);
            state
                .report
                .gauges
                .set(now, state.busy_total, state.queue_total);
        } else {
            self.plain_reply(s, job, Outcome::Failed(FailureCause::Rejected));
        }
    }

    /// A plain service's job takes a free worker: `start_work` without a deadline, leak,
    /// saga log, custom behaviour or throughput limit to consult. In line in both callers (a
    /// request admitted, a worker released), so neither pays its frame.
    #[inline(always)]
    fn plain_start_work(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        service: usize,
        replica: usize,
    ) {
        let now = s.now();
        let job = &mut self.jobs[job_id];
        job.executed = true;
        job.holding_worker = true;
        let endpoint = usize::from(job.endpoint);
        let call = &mut self.calls[job.call];
        call.executions += 1;
        let duplicate = call.executions > 1;
        let spec = &self.specs[service];
        let state = &mut self.services[service];
        if duplicate && !spec.idempotent {
            state.report.duplicate_side_effects += 1;
        }
        let inst = &mut state.replicas[replica];
        inst.workers_busy += 1;
        let cold = (now < inst.cold_until).then_some(inst.cold_multiply);
        state.busy_total += 1;
        state
            .report
            .gauges
            .set(now, state.busy_total, state.queue_total);
        let mut work = spec.endpoints[endpoint]
            .service_time
            .sample(&mut state.service_time_rng);
        for f in &state.latency_faults {
            if f.active_at(now) && f.endpoint.is_none_or(|e| usize::from(e) == endpoint) {
                work = work.mul_f64(f.multiply) + f.add;
            }
        }
        if let Some(multiply) = cold {
            work = work.mul_f64(multiply);
        }
        self.jobs[job_id].work_started = Some(now);
        s.schedule_in(work, WorldEvent::WorkDone { job: job_id });
    }

    /// A plain service's job finished its own work: an error (its rate or a fault), the answer
    /// when its endpoint calls nothing, else its call plan. In line in `on_work_done`, its one
    /// caller.
    #[inline(always)]
    pub(super) fn plain_work_done(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        service: usize,
    ) {
        let now = s.now();
        let job = &mut self.jobs[job_id];
        let (replica, endpoint) = (job.replica as usize, usize::from(job.endpoint));
        let state = &mut self.services[service];
        if state.replicas[replica].epoch != job.epoch {
            // Its process crashed under it.
            self.discard_job(job_id);
            return;
        }
        if let Some(started) = job.work_started.take() {
            state.report.work_ns += u128::from((now - started).as_nanos());
        }
        let spec = &self.specs[service].endpoints[endpoint];
        let error_rate = spec.error_rate;
        let failed = (error_rate > 0.0 && state.error_rng.chance(error_rate))
            || state
                .error_faults
                .iter()
                .find(|&&(from, to, _)| from <= now && now < to)
                .is_some_and(|&(_, _, rate)| state.error_rng.chance(rate));
        if failed {
            self.plain_reply(s, job_id, Outcome::Failed(FailureCause::Error));
        } else if spec.plan.is_empty() {
            // Nothing downstream could have degraded it.
            debug_assert!(!self.jobs[job_id].degraded);
            self.plain_reply(s, job_id, Outcome::Ok);
        } else if self.specs[service].plain_plans {
            self.plain_next_call(s, job_id);
        } else {
            self.next_downstream::<false>(s, job_id);
        }
    }

    /// The next call of a plain service's job whose plan is calls one after the other, each
    /// made for certain: `next_downstream` with no parallel group, optional call, custom
    /// choice, saga or 2PC to consider. Replies when the plan is done.
    fn plain_next_call(&mut self, s: &mut Scheduler<WorldEvent>, job_id: JobSlot) {
        let job = &mut self.jobs[job_id];
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        let next = usize::from(job.next_call);
        let edges = &self.services[service].replicas[replica].call_edges[usize::from(job.endpoint)];
        let Some(&edge) = edges.get(next) else {
            let outcome = if job.degraded {
                Outcome::Degraded
            } else {
                Outcome::Ok
            };
            return self.plain_reply(s, job_id, outcome);
        };
        job.next_call += 1;
        job.step += 1;
        job.step_calls = 1;
        job.step_ok = 0;
        job.step_failed = 0;
        job.step_join = Join::All;
        if self.specs[service].execution == Execution::Async && job.holding_worker {
            self.plain_release(s, job_id, service, replica);
        }
        self.start_call::<false>(s, edge, Owner::Job(job_id), NEVER, Op::Serve);
    }

    /// The one call of a plain-plan job's step is over (`step_call_done` with a join of one):
    /// the next call, or the failure of a dependency.
    pub(super) fn plain_call_done(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        outcome: Outcome,
    ) {
        let job = &mut self.jobs[job_id];
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        if self.services[service].replicas[replica].epoch != job.epoch {
            self.discard_job(job_id);
            return;
        }
        debug_assert!(job.step_calls == 1 && job.children.is_empty());
        job.step += 1;
        match outcome {
            Outcome::Ok => job.step_ok += 1,
            Outcome::Degraded => {
                job.step_ok += 1;
                job.degraded = true;
            }
            Outcome::Failed(_) => {
                job.step_failed += 1;
                return self.plain_reply(s, job_id, Outcome::Failed(FailureCause::Dependency));
            }
        }
        self.plain_next_call(s, job_id);
    }

    /// Frees a plain service's worker and hands it to the head of the queue: `release_worker`
    /// without CoDel, a function's instance or blocked senders to consider. In line in the
    /// reply.
    #[inline(always)]
    pub(super) fn plain_release(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        service: usize,
        replica: usize,
    ) {
        let job = &mut self.jobs[job_id];
        debug_assert!(job.holding_worker);
        job.holding_worker = false;
        let state = &mut self.services[service];
        let inst = &mut state.replicas[replica];
        debug_assert!(inst.cold.blocked.is_empty() && inst.cold.codel.is_none());
        inst.workers_busy -= 1;
        state.busy_total -= 1;
        match inst.queue.pop_front() {
            // The worker is taken again at the same instant: the gauges' one update in
            // `plain_start_work` leaves them as the general path's two do (the freed worker
            // is held for no time, the queue is the same at both).
            Some(next) => {
                state.queue_total -= 1;
                self.plain_start_work(s, next, service, replica);
            }
            None => {
                let now = s.now();
                state
                    .report
                    .gauges
                    .set(now, state.busy_total, state.queue_total);
            }
        }
    }

    /// Ends a plain service's job and sends its reply: `reply` without a concurrency permit or
    /// an idempotency key to settle.
    pub(super) fn plain_reply(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        outcome: Outcome,
    ) {
        let job = &self.jobs[job_id];
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        let inst = &self.services[service].replicas[replica];
        if inst.epoch != job.epoch {
            self.discard_job(job_id);
            return;
        }
        // The reply leaves from the replica's host (releasing the worker does not move it).
        let from = inst.host;
        if job.holding_worker {
            self.plain_release(s, job_id, service, replica);
        }
        let job = &self.jobs[job_id];
        debug_assert!(job.permit.is_none() && !job.owns_key);
        let (call_id, slot, attempt, edge_id) = (job.call, job.slot, job.attempt, job.edge);
        let (root, executed) = (job.root, job.executed);
        if outcome == Outcome::Failed(FailureCause::Dependency) {
            // The root cause travels back with the failure.
            self.carry_back(slot, attempt, Carried::Root(root));
        }
        // Executed for a caller that has given up, or whose own caller has, up the chain.
        let wasted = executed && !self.awaited(job_id);
        let job = &mut self.jobs[job_id];
        if job.step_calls > job.step_ok + job.step_failed || !job.children.is_empty() {
            // It answers before calls it made are over: their work is for nobody now.
            self.chains_broken = true;
        }
        job.attempt = NO_ATTEMPT;
        self.jobs.remove(job_id);
        let call = &mut self.calls[call_id];
        call.jobs -= 1;
        if call.finished && call.jobs == 0 {
            self.calls.remove(call_id);
        }
        if wasted {
            self.services[service].report.wasted_work += 1;
        }
        self.send_reply::<false>(s, from, edge_id, slot, attempt, outcome);
    }
}
