//! The fast path of a plain edge: one whose calls no policy touches (no timeout, retry, hedge,
//! bulkhead, breaker, throttle, budget, fallback, outlier detection or own deadline), the edge
//! of most clients and plan calls in simple scenarios. Such a call is one attempt whose reply
//! ends the call with the same outcome, so the reply skips the general path's layers: no
//! breaker to tell, no timer of the attempt to cancel, no permit to give back, no retry or
//! hedge to decide, no fallback to look for. Its one attempt is kept in the call itself
//! (`LoneAttempt`), so a plain request builds its call and its job and no `Attempt` record.
//! The results are those of the general path, which traced runs take (tests run both and
//! compare their reports: `tests.rs`, `tests_plain_edge.rs`).

use super::*;

impl World {
    /// Marks the edges that may take the fast path, then those that may take the lean path
    /// (`lean.rs`); called once the world is wired.
    pub(super) fn mark_plain_edges(&mut self) {
        for e in &mut self.edges {
            let p = &e.cold.policy;
            e.plain = e.calls_mirror_attempts
                && p.timeout.is_none()
                && p.outlier.is_none()
                && p.retry.is_none()
                && p.hedge.is_none()
                && p.bulkhead.is_none()
                && p.breaker.is_none()
                && p.fallback.is_none()
                && p.throttle.is_none()
                && p.deadline.is_none()
                && e.cold.call_layers.is_empty()
                && e.cold.attempt_layers.is_empty()
                && e.cold.breaker.is_none()
                && e.cold.budget.is_none()
                && e.cold.throttle.is_none()
                && e.cold.bulkhead.is_none()
                && e.outlier.is_none();
        }
        self.mark_lean_edges();
    }

    /// A plain edge's call begins (untraced, no inherited deadline): its call, which keeps its
    /// one attempt itself (`LoneAttempt`), and, unless the network loses it, its job at the
    /// callee are made in one go, as `start_call`, `new_attempt` and `send` would make them with
    /// no layer to walk, no budget to tell, no deadline or hedge timer to set and no throttle
    /// to ask.
    pub(super) fn plain_start_call(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: EdgeId,
        owner: Owner,
        op: Op,
    ) -> (CallSlot, CallSerial) {
        let now = s.now();
        let serial = CallSerial(self.next_serial);
        self.next_serial += 1;
        let id = AttemptId(self.next_attempt);
        self.next_attempt += 1;
        // A caller's own workload draws its store operation here, as `start_call` does.
        let drawn = self.edges[edge_id]
            .draws
            .as_deref_mut()
            .map_or(Drawn::Nothing, OriginDraws::draw);
        let record = self.call_record(edge_id, owner, now, serial, op, NEVER, drawn);
        let edge = &self.edges[edge_id];
        debug_assert!(edge.plain && edge.cold.budget.is_none());
        // The only replica, or the balancer's choice (which may draw).
        let replica = if self.deploys.is_empty() && edge.outstanding.len() == 1 {
            0
        } else {
            self.pick_replica(edge_id)
        };
        let edge = &mut self.edges[edge_id];
        edge.outstanding[replica as usize] += 1;
        let (to, to_endpoint, from_host) = (edge.to, edge.to_endpoint, edge.caller_host);
        let report = &mut self.edge_reports[edge.report as usize];
        if !edge.calls_mirror_attempts {
            report.calls.requests += 1;
        }
        report.attempts += 1;
        report.stats.requests += 1;
        if let Owner::Client { client, .. } | Owner::User { client, .. } = owner {
            self.clients[client.0 as usize].report.attempts += 1;
        }
        let to_host = self.callee_requested(to, to_endpoint, replica);
        let transit = self.transmit(edge_id, from_host, to_host, now);
        // The slot its job will take if the network delivers it: the call names it from the
        // start (nothing below takes a job's slot before).
        let job = match transit {
            Transit::Arrives(_) => Some(self.jobs.vacant_key()),
            Transit::Lost | Transit::Refused(_) => None,
        };
        let call = self.calls.insert(Call {
            attempts: 1,
            live: 1,
            // What an attempt's root cause starts as: a reply that fails with a dependency
            // writes its own here.
            last_root: FailureCause::Dependency,
            jobs: u32::from(job.is_some()),
            lone: LoneAttempt { id, replica, job },
            ..record
        });
        let slot = AttemptSlot::lone(call);
        let latency = match transit {
            Transit::Arrives(latency) => latency,
            Transit::Lost => return (call, serial),
            Transit::Refused(latency) => {
                let refused = Outcome::Failed(FailureCause::Unavailable);
                let event = WorldEvent::Reply {
                    slot,
                    edge: edge_id,
                    attempt: id,
                    outcome: refused,
                };
                s.schedule_in(latency, event);
                return (call, serial);
            }
        };
        let inserted = self.jobs.insert(Job {
            replica,
            ..Job::arriving(to, to_endpoint, edge_id, call, slot, id, now)
        });
        debug_assert!(job.is_some_and(|job| job.0 == inserted.0));
        let job = inserted;
        if latency == SimDuration::ZERO {
            self.on_deliver::<false>(s, job);
        } else {
            s.schedule_in(latency, WorldEvent::Deliver { job });
        }
        (call, serial)
    }

    /// The reply to a plain edge's call came (`slot` names the call, see
    /// [`AttemptSlot::lone`]): a late one is counted, else the attempt and its call end with
    /// its outcome, as `attempt_ended`, `drop_attempt` and `call_finished` would end them.
    #[inline]
    pub(super) fn on_lone_reply(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: CallSlot,
        edge_id: EdgeId,
        attempt: AttemptId,
        outcome: Outcome,
    ) {
        let now = s.now();
        let call = &mut self.calls[call_id];
        if call.lone.id != attempt {
            // The call let its attempt go (a parallel step decided without it), and the slot
            // may hold a newer call by now.
            self.edge_reports[self.edges[edge_id].report as usize].late_replies += 1;
            return;
        }
        // A later reply must find another id here.
        call.lone.id = NO_ATTEMPT;
        call.live = 0;
        let (latency, replica) = (now - call.started, call.lone.replica);
        match outcome {
            Outcome::Ok | Outcome::Degraded => {}
            Outcome::Failed(cause) => {
                // The value a failed attempt carried back is not the call's.
                call.value = 0;
                call.last_cause = cause;
                if cause != FailureCause::Dependency {
                    call.last_root = cause;
                }
            }
        }
        // Its job has answered (or never was): nothing of the callee's is left to let go.
        debug_assert!(
            call.lone
                .job
                .is_none_or(|job| self.jobs[job].attempt != attempt)
        );
        let edge = &mut self.edges[edge_id];
        edge.outstanding[replica as usize] -= 1;
        let (to, to_endpoint, report) = (edge.to.0 as usize, edge.to_endpoint, edge.report);
        self.edge_reports[report as usize]
            .stats
            .record(now, latency, outcome);
        self.callee_answered(to, to_endpoint, replica, now, latency, outcome);
        // The call ends with its one attempt, as a lean edge's call ends.
        self.lean_call_finished(s, call_id, edge_id, outcome);
    }

    /// A plain edge's call lets its attempt go without an answer (`release_call`): counted as
    /// cancelled, as `drop_attempt` lets an attempt go; its job, if any, works on for nobody.
    pub(super) fn drop_lone_attempt<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: CallSlot,
    ) {
        let call = &mut self.calls[call_id];
        let LoneAttempt { id, replica, job } = call.lone;
        debug_assert!(id != NO_ATTEMPT && call.live == 1);
        call.lone.id = NO_ATTEMPT;
        call.live = 0;
        let edge = &mut self.edges[call.edge];
        edge.outstanding[replica as usize] -= 1;
        let (to, to_endpoint) = (edge.to.0 as usize, edge.to_endpoint);
        self.edge_reports[edge.report as usize]
            .stats
            .record_cancelled();
        let service = &mut self.services[to];
        if service.stats_mirror.is_none() {
            service.report.stats.record_cancelled();
        }
        if let Some(stats) = service.endpoint_stats(to_endpoint) {
            stats.record_cancelled();
        }
        if let Some(job) = job {
            if self.jobs[job].attempt == id {
                // Its job works on, for nobody (see `World::awaited`).
                self.chain_broken();
            }
            self.renege_queued::<TRACE>(s, job, id);
        }
    }

    /// Whether `attempt`, kept at `slot` (an `Attempt` record or a call's lone attempt), is
    /// still awaited by its call.
    #[inline(always)]
    pub(super) fn attempt_awaited(&self, slot: AttemptSlot, attempt: AttemptId) -> bool {
        match slot.lone_call() {
            Some(call) => self.calls[call].lone.id == attempt,
            None => self.attempts[slot].id == attempt,
        }
    }

    /// A job's reply carries a dependency failure's root cause (and a read's value) back to
    /// its attempt, if the attempt still waits.
    #[inline(always)]
    pub(super) fn carry_back(&mut self, slot: AttemptSlot, attempt: AttemptId, carried: Carried) {
        match slot.lone_call() {
            Some(call) => {
                let call = &mut self.calls[call];
                if call.lone.id == attempt {
                    match carried {
                        Carried::Root(root) => call.last_root = root,
                        Carried::Value(value) => call.value = value,
                    }
                }
            }
            None => {
                let a = &mut self.attempts[slot];
                if a.id == attempt {
                    match carried {
                        Carried::Root(root) => a.root = root,
                        Carried::Value(value) => a.value = value,
                    }
                }
            }
        }
    }
}

/// What a reply carries back to its attempt beside its outcome.
#[derive(Clone, Copy)]
pub(super) enum Carried {
    /// The root cause of a dependency failure.
    Root(FailureCause),
    /// The version a record's read returned.
    Value(u64),
}
