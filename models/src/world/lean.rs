//! The fast path of a lean edge: one whose only policies are a per-try timeout (inside
//! `Retry`) and retries with a backoff but no budget, the most common policy set (checkout's
//! and the gateway yardstick's edges). Its call takes no call-level layer and its attempts no
//! layer but the timeout, so an attempt is made, timed and sent in one function
//! (`lean_attempt`, instead of `new_attempt` → `advance_attempt` → `send`) and ended in one
//! (`lean_attempt_ended`, instead of `attempt_ended` → `drop_attempt` → `after_failure` →
//! `call_finished` → `release_call`), neither asking about the hedge, bulkhead, breaker,
//! throttle, budget, fallback, outlier detection or deadline the edge does not have. The
//! results are those of the general path, event for event and draw for draw, which traced runs
//! take (a test runs both and compares their reports).

use super::*;

impl World {
    /// Marks the edges that may take the lean path; called once the world is wired, after the
    /// plain edges are marked (a plain edge is not lean: it has a faster path of its own).
    pub(super) fn mark_lean_edges(&mut self) {
        // A mid-run change may replace an edge's policy with one that is not lean.
        let fixed = self.changes.is_empty();
        for e in &mut self.edges {
            let p = &e.cold.policy;
            e.lean = fixed
                && !e.plain
                && p.outlier.is_none()
                && p.hedge.is_none()
                && p.bulkhead.is_none()
                && p.breaker.is_none()
                && p.fallback.is_none()
                && p.throttle.is_none()
                && p.deadline.is_none()
                && p.retry.as_ref().is_none_or(|r| r.budget.is_none())
                && e.cold.call_layers.is_empty()
                && e.cold.attempt_layers.iter().all(|&l| l == Layer::Timeout)
                && e.cold.breaker.is_none()
                && e.cold.budget.is_none()
                && e.cold.throttle.is_none()
                && e.cold.bulkhead.is_none()
                && e.outlier.is_none();
        }
    }

    /// A lean edge's call begins (untraced, no inherited deadline): the call, then its first
    /// attempt, as `start_call` makes them with no budget to tell, no deadline to draw or set
    /// and no call-level layer to walk.
    pub(super) fn lean_start_call(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: EdgeId,
        owner: Owner,
        op: Op,
    ) -> (CallSlot, CallSerial) {
        let now = s.now();
        let edge = &mut self.edges[edge_id];
        debug_assert!(
            edge.lean && edge.cold.budget.is_none() && edge.cold.policy.deadline.is_none()
        );
        if !edge.calls_mirror_attempts {
            self.edge_reports[edge.report as usize].calls.requests += 1;
        }
        let serial = CallSerial(self.next_serial);
        self.next_serial += 1;
        // The caller's own draws (a store operation, a publish key) are made here, as
        // `start_call` makes them.
        let drawn = edge
            .draws
            .as_deref_mut()
            .map_or(Drawn::Nothing, OriginDraws::draw);
        let record = self.call_record(edge_id, owner, now, serial, op, NEVER, drawn);
        let call = self.calls.insert(record);
        self.lean_attempt(s, call);
        (call, serial)
    }

    /// A lean edge's call makes its next attempt (the first, or a retry once its backoff is
    /// over): as `new_attempt`, `advance_attempt` and `send` make it, with the per-try timer set
    /// before the attempt leaves.
    pub(super) fn lean_attempt(&mut self, s: &mut Scheduler<WorldEvent>, call_id: CallSlot) {
        let now = s.now();
        let id = AttemptId(self.next_attempt);
        self.next_attempt += 1;
        let call = &mut self.calls[call_id];
        let (edge_id, owner) = (call.edge, call.owner);
        call.attempts += 1;
        let again = call.attempts > 1;
        // Without hedges a call has at most one attempt in flight.
        debug_assert_eq!(call.live, 0);
        let edge = &mut self.edges[edge_id];
        debug_assert!(edge.lean && edge.cold.policy.hedge.is_none());
        let report = &mut self.edge_reports[edge.report as usize];
        report.attempts += 1;
        report.stats.requests += 1;
        if again {
            report.retries += 1;
        }
        if let Owner::Client { client, .. } | Owner::User { client, .. } = owner {
            let report = &mut self.clients[client.0 as usize].report;
            report.attempts += 1;
            if again {
                report.retries += 1;
            }
        }
        let host = edge.caller_host;
        let timeout = edge.draw_timeout().map(|t| self.local_delay(host, now, t));
        // What `send` does once no throttle can refuse the attempt: its replica (the balancer
        // draws from its own stream and schedules nothing, so choosing before the timer is set
        // changes no draw and no event's order), then the attempt is built as sent.
        let replica = self.pick_replica(edge_id);
        let timeout_at = timeout.map_or(NEVER, |t| now + t);
        let slot = self.attempts.insert(Attempt {
            sent: true,
            replica,
            timeout_at,
            // The timeout layer is passed.
            stage: u8::from(timeout.is_some()),
            ..Attempt::fresh(call_id, id, now)
        });
        let call = &mut self.calls[call_id];
        call.slots[0] = slot;
        call.live = 1;
        if let Some(timeout) = timeout {
            let timer = s.timer_in(timeout, WorldEvent::Timeout { slot, attempt: id });
            self.attempts[slot].timeout = Some(timer);
        }
        let edge = &mut self.edges[edge_id];
        edge.outstanding[replica as usize] += 1;
        let (to, to_endpoint, from_host) = (edge.to, edge.to_endpoint, edge.caller_host);
        let per_try_deadline = edge.per_try_deadline;
        let to_host = self.callee_requested(to, to_endpoint, replica);
        let latency = match self.transmit(edge_id, from_host, to_host, now) {
            Transit::Arrives(latency) => latency,
            Transit::Lost => return,
            Transit::Refused(latency) => {
                // A refused connection: the caller learns it after a round of the network.
                let refused = Outcome::Failed(FailureCause::Unavailable);
                let event = WorldEvent::Reply {
                    slot,
                    edge: edge_id,
                    attempt: id,
                    outcome: refused,
                };
                s.schedule_in(latency, event);
                return;
            }
        };
        let call = &mut self.calls[call_id];
        call.jobs += 1;
        // A call over a lean edge has no deadline of its own, but may inherit one.
        let deadline = if per_try_deadline {
            call.deadline.min(timeout_at)
        } else {
            call.deadline
        };
        let job = self.jobs.insert(Job {
            replica,
            deadline,
            ..Job::arriving(to, to_endpoint, edge_id, call_id, slot, id, now)
        });
        self.attempts[slot].job = Some(job);
        if latency == SimDuration::ZERO {
            self.on_deliver::<false>(s, job);
        } else {
            s.schedule_in(latency, WorldEvent::Deliver { job });
        }
    }

    /// A lean edge's attempt ended (its reply came, not a late one, or its timeout fired; the
    /// caller has cancelled its timer): as `attempt_ended` and `drop_attempt` end it, then
    /// the call is retried after its backoff or ends with the attempt's outcome.
    pub(super) fn lean_attempt_ended(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        edge_id: EdgeId,
        outcome: Outcome,
    ) {
        let call_id = self.lone_attempt_ended(s, slot, edge_id, outcome);
        if let Outcome::Failed(cause) = outcome
            && self.lean_retry(s, call_id, edge_id, cause)
        {
            return;
        }
        self.lean_call_finished(s, call_id, edge_id, outcome);
    }

    /// The one attempt in flight of a call over a plain or lean edge ended with `outcome`: its
    /// statistics, its replica's count, a job left working for nobody, and the outcome kept on
    /// the call (as `attempt_ended` and `drop_attempt` do). Returns the call, which the caller
    /// retries or ends.
    /// An attempt sent to the callee in its statistics (its service's and its endpoint's);
    /// returns the host of the replica it goes to. Shared by the plain and the lean paths.
    #[inline(always)]
    pub(super) fn callee_requested(
        &mut self,
        to: ServiceId,
        to_endpoint: u16,
        replica: u32,
    ) -> u32 {
        let service = &mut self.services[to.0 as usize];
        if service.stats_mirror.is_none() {
            service.report.stats.requests += 1;
        }
        if let Some(stats) = service.endpoint_stats(to_endpoint) {
            stats.requests += 1;
        }
        service.replicas[replica as usize].host
    }

    /// An answered attempt in the callee's statistics (its service's and its endpoint's) and, in
    /// a rollout, in its version's; shared by the plain and the lean paths.
    #[inline(always)]
    pub(super) fn callee_answered(
        &mut self,
        to: usize,
        to_endpoint: u16,
        replica: u32,
        now: SimTime,
        latency: SimDuration,
        outcome: Outcome,
    ) {
        let service = &mut self.services[to];
        if service.stats_mirror.is_none() {
            service.report.stats.record(now, latency, outcome);
        }
        if let Some(stats) = service.endpoint_stats(to_endpoint) {
            stats.record(now, latency, outcome);
        }
        if !self.deploys.is_empty() {
            self.rollout_observe(to, replica, latency, outcome);
        }
    }

    #[inline(always)]
    pub(super) fn lone_attempt_ended(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        edge_id: EdgeId,
        outcome: Outcome,
    ) -> CallSlot {
        let now = s.now();
        let a = &mut self.attempts[slot];
        let (call_id, sent, sent_at, value, attempt) = (a.call, a.sent, a.sent_at, a.value, a.id);
        let (root, replica, job) = (a.root, a.replica, a.job);
        debug_assert!(a.timeout.is_none() && a.wait_timer.is_none() && a.breaker_at.is_none());
        debug_assert!(!a.permit && !a.waiting);
        // A later reply must find another id here.
        a.id = NO_ATTEMPT;
        let edge = &self.edges[edge_id];
        let (to, to_endpoint, report) = (edge.to.0 as usize, edge.to_endpoint, edge.report);
        let latency = now - sent_at;
        self.edge_reports[report as usize]
            .stats
            .record(now, latency, outcome);
        if sent {
            self.callee_answered(to, to_endpoint, replica, now, latency, outcome);
            self.edges[edge_id].outstanding[replica as usize] -= 1;
        }
        if let Some(job) = job
            && self.jobs[job].attempt == attempt
        {
            // Its job works on, for nobody (see `World::awaited`); a job whose slot holds
            // another attempt's is none of this attempt's business (`renege_queued` checks it
            // first too).
            self.chain_broken();
            self.renege_queued::<false>(s, job, attempt);
        }
        self.attempts.remove(slot);
        let call = &mut self.calls[call_id];
        // Without hedges a call has one attempt in flight.
        debug_assert!(call.live == 1 && call.slots[0] == slot);
        call.live = 0;
        match outcome {
            Outcome::Ok | Outcome::Degraded => call.value = value,
            Outcome::Failed(cause) => {
                call.last_cause = cause;
                call.last_root = if cause == FailureCause::Dependency {
                    root
                } else {
                    cause
                };
            }
        }
        call_id
    }

    /// A lean edge's call whose attempt failed with `cause` goes on if its policy retries it:
    /// as `after_failure` decides without a hedge or a budget, the retry made at once or after
    /// its backoff. Returns whether it goes on.
    fn lean_retry(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: CallSlot,
        edge_id: EdgeId,
        cause: FailureCause,
    ) -> bool {
        let call = &mut self.calls[call_id];
        let edge = &mut self.edges[edge_id];
        let Some(retry) = &edge.cold.policy.retry else {
            return false;
        };
        if !(retry.retry_on.contains(cause) && call.attempts < retry.max_attempts) {
            return false;
        }
        let wait = backoff(
            &retry.backoff,
            call.attempts,
            call.last_backoff,
            &mut edge.cold.retry_rng,
        );
        call.last_backoff = wait;
        let (serial, host) = (call.serial, edge.caller_host);
        if wait == SimDuration::ZERO
            && self.inline_retries < super::attempt::INLINE_RETRIES_PER_EVENT
        {
            self.inline_retries += 1;
            self.lean_attempt(s, call_id);
        } else {
            let now = s.now();
            let event = WorldEvent::RetryDue {
                call: call_id,
                serial,
            };
            s.schedule_in(self.local_delay(host, now, wait), event);
        }
        true
    }

    /// A lean edge's call ends with its last attempt's outcome (no attempt in flight): as
    /// `call_finished` ends it with no bulkhead, budget, breaker or fallback to see to. A plain
    /// edge's call ends here too.
    #[inline(always)]
    pub(super) fn lean_call_finished(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: CallSlot,
        edge_id: EdgeId,
        outcome: Outcome,
    ) {
        let now = s.now();
        let call = &mut self.calls[call_id];
        debug_assert!(call.live == 0 && call.hedge_timer.is_none() && call.retry_permit.is_none());
        debug_assert!(!call.permit && !call.waiting && call.breaker_at.is_none());
        // An inherited deadline's timer is all it may hold.
        if let Some(t) = call.deadline_timer.take() {
            s.cancel(t);
        }
        let edge = &mut self.edges[edge_id];
        if outcome.is_answer() {
            edge.remember_answer(now);
        }
        if !edge.calls_mirror_attempts {
            let latency = now - call.started;
            self.edge_reports[edge.report as usize]
                .calls
                .record(now, latency, outcome);
        }
        let root = match outcome {
            Outcome::Failed(FailureCause::Dependency) => call.last_root,
            Outcome::Failed(cause) => cause,
            Outcome::Ok | Outcome::Degraded => FailureCause::Dependency,
        };
        // A client's call (most of them) is told in line: no `Ended` to build, no frame.
        let ended = match call.owner {
            Owner::Client { client, started } => Err((client, started)),
            owner => Ok(super::call::Ended {
                owner,
                op: call.op,
                value: call.value,
                parent: (call.parent_attempt, call.step),
                root,
            }),
        };
        call.finished = true;
        if call.jobs == 0 {
            self.calls.remove(call_id);
        } else {
            // Its callee still works on it, for nobody (see `World::awaited`).
            self.chain_broken();
        }
        match ended {
            Ok(ended) => self.tell_owner::<false>(s, ended, outcome),
            Err((client, started)) => self.tell_client(now, client, started, outcome, root),
        }
    }
}
