//! A job at work: the local work (service time, latency faults, cold start, leak, a database's
//! throughput), its result (errors, a record's read or conditional write), the worker freed for
//! the next queued job (CoDel judges each dequeue), and the reply sent back over the network.

use super::*;

impl World {
    /// Puts a job to work on a free worker of its replica. Returns false when the job did not
    /// take the worker (its deadline had passed), so the caller offers the worker to the next
    /// queued job: a server that drops an expired request goes straight on to the next one.
    pub(super) fn start_work<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
    ) -> bool {
        let now = s.now();
        let job = &mut self.jobs[job_id];
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        let spec = &self.specs[service];
        if spec.propagate_deadline && job.deadline <= now {
            // Its caller has given up by now (gRPC servers check the deadline and abandon).
            self.services[service].report.expired += 1;
            self.reply::<TRACE>(s, job_id, Outcome::Failed(FailureCause::Timeout));
            return false;
        }
        let state = &mut self.services[service];
        let leak_factor = state.leak.map(|(growth, crash_above, restart_after)| {
            let up = (now - state.replicas[replica].up_since).as_secs_f64() / 3600.0;
            (1.0 + growth * up, crash_above, restart_after)
        });
        if let Some((factor, Some(above), restart_after)) = leak_factor
            && factor > above
        {
            // The leak has used up the replica: it dies now, this request with it, and comes
            // back fresh.
            self.crash_replica::<TRACE>(s, service as u32, replica as u32, NONE);
            let restart = WorldEvent::Restart {
                service: service as u32,
                replica: replica as u32,
            };
            s.schedule_in(restart_after, restart);
            // The crash emptied the queue: there is no one left to offer the worker to.
            return true;
        }
        let job = &mut self.jobs[job_id];
        job.executed = true;
        let call = &mut self.calls[job.call];
        call.executions += 1;
        if call.executions == 1
            && let Some(sagas) = self.sagas.as_mut()
            && sagas.logged
        {
            sagas.first_execution(call.serial);
        }
        if call.executions > 1 && !spec.idempotent {
            self.services[service].report.duplicate_side_effects += 1;
            if let Some(sagas) = self.sagas.as_mut() {
                sagas.duplicate(call.edge);
            }
        }
        job.holding_worker = true;
        let state = &mut self.services[service];
        state.replicas[replica].workers_busy += 1;
        state.busy_total += 1;
        state
            .report
            .gauges
            .set(now, state.busy_total, state.queue_total);
        let endpoint = usize::from(self.jobs[job_id].endpoint);
        let custom = if self.custom.is_some() {
            self.custom_work(job_id, now)
        } else {
            None
        };
        let state = &mut self.services[service];
        let mut work = match custom {
            Some(work) => work,
            None => self.specs[service]
                .endpoint(replica, endpoint)
                .service_time
                .sample(&mut state.service_time_rng),
        };
        for f in &state.latency_faults {
            if f.active_at(now) && f.endpoint.is_none_or(|e| usize::from(e) == endpoint) {
                work = work.mul_f64(f.multiply) + f.add;
            }
        }
        let inst = &state.replicas[replica];
        if now < inst.cold_until {
            work = work.mul_f64(inst.cold_multiply);
        }
        if let Some((factor, _, _)) = leak_factor {
            work = work.mul_f64(factor);
        }
        if let Some(gap) = self.specs[service].min_gap {
            // A database's throughput limit: the operation holds its connection until its turn.
            let inst = &mut self.services[service].replicas[replica];
            let start = inst.next_start.max(now);
            inst.next_start = start + gap;
            work += start - now;
        }
        self.jobs[job_id].work_started = Some(now);
        s.schedule_in(work, WorldEvent::WorkDone { job: job_id });
        if TRACE {
            self.trace_work_start(now, job_id, work);
        }
        true
    }

    pub(super) fn on_work_done<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
    ) {
        let service = self.jobs[job].service.0 as usize;
        if !TRACE && self.specs[service].plain {
            return self.plain_work_done(s, job, service);
        }
        if self.orphan(job) {
            self.discard_job(job);
            return;
        }
        let now = s.now();
        self.work_ended(job, now);
        let (replica, endpoint) = (self.jobs[job].replica as usize, self.jobs[job].endpoint);
        let error_rate = self.specs[service]
            .endpoint(replica, usize::from(endpoint))
            .error_rate;
        let poisoned = self.broker.is_some() && self.poisoned(job);
        let state = &mut self.services[service];
        let injected = state
            .error_faults
            .iter()
            .find(|&&(from, to, _)| from <= now && now < to)
            .map(|&(_, _, rate)| rate);
        if self.specs[service].kind == ServiceKind::Store {
            // A store's operation answers when its replicas have (see `store`).
            return self.store_begin::<TRACE>(s, job);
        }
        let custom = if self.custom.is_some() {
            self.custom_answer(job)
        } else {
            None
        };
        let state = &mut self.services[service];
        let outcome = if let Some(crate::custom::Answer::Failed(cause)) = custom {
            Outcome::Failed(custom::cause(cause))
        } else if self.specs[service].kind == ServiceKind::Record {
            self.record_op(job)
        } else if self.specs[service].kind == ServiceKind::Broker {
            self.broker_publish(s, job)
        } else if poisoned
            || (error_rate > 0.0 && state.error_rng.chance(error_rate))
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
            if custom == Some(crate::custom::Answer::Degraded) {
                self.jobs[job].degraded = true;
            }
            self.next_downstream::<TRACE>(s, job);
        } else {
            self.reply::<TRACE>(s, job, outcome);
        }
    }

    /// A job's own work ends (done, or cut short by a crash or the end of the run): its
    /// worker-time counts as work, not as time blocked on its calls.
    pub(super) fn work_ended(&mut self, job: JobSlot, now: SimTime) {
        let j = &mut self.jobs[job];
        if let Some(started) = j.work_started.take() {
            let service = &mut self.services[j.service.0 as usize].report;
            service.work_ns += u128::from((now - started).as_nanos());
        }
    }

    /// A record's read or conditional write; the version read travels back with the reply.
    pub(super) fn record_op(&mut self, job_id: JobSlot) -> Outcome {
        let job = &self.jobs[job_id];
        let state = &mut self.services[job.service.0 as usize];
        match self.calls[job.call].op {
            Op::Read | Op::Serve => {
                let (slot, attempt, version) = (job.slot, job.attempt, state.version);
                self.carry_back(slot, attempt, Carried::Value(version));
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
        job_id: JobSlot,
    ) {
        if TRACE {
            self.trace_worker_released(s.now(), job_id);
        }
        let job = &mut self.jobs[job_id];
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        if !TRACE && self.specs[service].plain {
            return self.plain_release(s, job_id, service, replica);
        }
        assert!(
            job.holding_worker,
            "releasing a worker the job does not hold"
        );
        job.holding_worker = false;
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        let state = &mut self.services[service];
        state.replicas[replica].workers_busy -= 1;
        state.busy_total -= 1;
        self.function_released(s, service, replica);
        let now = s.now();
        loop {
            let mut next = self.dequeue::<TRACE>(now, service, replica);
            // CoDel judges every dequeue; a request it drops is shed and the next one is tried.
            while let Some(job) = next {
                let delay = now - self.jobs[job].arrived;
                let codel = self.services[service].replicas[replica].cold.codel.as_mut();
                if !codel.is_some_and(|c| c.should_drop(now, delay)) {
                    break;
                }
                if TRACE {
                    let shed = Some(Outcome::Failed(FailureCause::Shed));
                    self.trace_job(now, TraceKind::Shed, job, 2, shed);
                }
                self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Shed));
                next = self.dequeue::<TRACE>(now, service, replica);
            }
            let state = &mut self.services[service];
            state
                .report
                .gauges
                .set(now, state.busy_total, state.queue_total);
            match next {
                Some(next) if !self.start_work::<TRACE>(s, next) => {}
                _ => return,
            }
        }
    }

    /// Ends a job: frees its worker and sends the reply back over the network. A job whose
    /// process crashed sends nothing.
    pub(super) fn reply<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        outcome: Outcome,
    ) {
        if !TRACE && self.specs[self.jobs[job_id].service.0 as usize].plain {
            return self.plain_reply(s, job_id, outcome);
        }
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
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        let (owns_key, executed, arrived) = (job.owns_key, job.executed, job.arrived);
        if outcome == Outcome::Failed(FailureCause::Dependency) {
            // The root cause travels back with the failure, as a record's version does.
            let root = job.root;
            self.carry_back(slot, attempt, Carried::Root(root));
        }
        // Executed for a caller that has given up, or whose own caller has, up the chain.
        // A broker's work for a publish nobody waits for (fire-and-forget) is not wasted.
        let wasted =
            executed && !self.awaited(job_id) && self.specs[service].kind != ServiceKind::Broker;
        let j = &self.jobs[job_id];
        if j.step_calls > j.step_ok + j.step_failed || !j.children.is_empty() {
            // It answers before calls it made are over: their work is for nobody now.
            self.chain_broken();
        }
        if let Some(permit) = self.jobs[job_id].permit.take() {
            let limiter = self.services[service].replicas[replica]
                .cold
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
        if wasted {
            self.services[service].report.wasted_work += 1;
        }
        let from = self.services[service].replicas[replica].host;
        self.send_reply::<TRACE>(s, from, edge_id, slot, attempt, outcome);
    }

    /// The reply leaves the callee's host `from` for the caller: at once over a network
    /// without latency, as a `Reply` event otherwise, or not at all if the network loses it.
    #[inline(always)]
    pub(super) fn send_reply<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        from: u32,
        edge_id: EdgeId,
        slot: AttemptSlot,
        attempt: AttemptId,
        outcome: Outcome,
    ) {
        let to = self.edges[edge_id].caller_host;
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
