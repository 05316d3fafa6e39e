//! The logical call at its caller: the call-level policy layers (timeout, breaker, bulkhead
//! outside `Retry`), its deadline, and its end: fallback, owner notified, slot freed.

use super::*;

/// What a request asks of its callee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// The service's work and call plan.
    Serve,
    /// Read a record's version.
    Read,
    /// Write a record if its version is still the one carried.
    Write(u64),
}

/// What the owner of a call that ended needs of it (the call's slot may be freed by then).
pub(super) struct Ended {
    pub(super) owner: Owner,
    pub(super) op: Op,
    pub(super) value: u64,
    /// The job's attempt and plan step when the call began.
    pub(super) parent: (AttemptId, u32),
    /// A failure's cause at its origin: the cause itself, or for `dependency` the root cause
    /// the failed reply carried.
    pub(super) root: FailureCause,
}

/// Who made a call.
#[derive(Clone, Copy)]
pub(super) enum Owner {
    Client {
        client: ClientId,
        started: SimTime,
    },
    Job(JobSlot),
    /// A read-modify-write user of a client.
    User {
        client: ClientId,
        user: u32,
    },
    /// A consumer's poller processing a message it received (see `broker.rs`).
    Delivery {
        poller: u32,
        generation: u32,
    },
    /// A two-phase commit's decision on its way to a participant (see `twopc.rs`).
    Decision {
        txn: u64,
        participant: u16,
    },
    /// A saga resumed from its log after its orchestrator's crash (see `saga.rs`), by the
    /// orchestrating replica's epoch when it made the call.
    SagaLog {
        saga: u64,
        epoch: u32,
    },
}

/// A callee's memory of a logical call's idempotency key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Unseen,
    InProgress,
    Done(Outcome),
}

/// A logical call over one edge at its caller, across its attempts.
pub(super) struct Call {
    pub(super) edge: EdgeId,
    pub(super) owner: Owner,
    pub(super) started: SimTime,
    /// The timer of the next hedged copy.
    pub(super) hedge_timer: Option<TimerId>,
    /// For a call made by a job: the job's attempt and plan step when the call began (the job
    /// ignores it if it has moved on or is gone).
    pub(super) parent_attempt: AttemptId,
    pub(super) step: u32,
    /// When a call-level breaker let the call through.
    pub(super) breaker_at: Option<SimTime>,
    /// The retry budget's permit of the retry under way.
    pub(super) retry_permit: Option<RetryPermit>,
    /// Unique per call over the run: the idempotency key, and the check for stale events.
    pub(super) serial: CallSerial,
    pub(super) op: Op,
    /// The value a read returned.
    pub(super) value: u64,
    /// Attempts made so far.
    pub(super) attempts: u32,
    /// Slots of the attempts in flight (`live` of them).
    pub(super) slots: [AttemptSlot; MAX_LIVE],
    pub(super) live: u8,
    /// Call-level layers passed so far.
    pub(super) stage: u8,
    /// Holds a call-level bulkhead permit.
    pub(super) permit: bool,
    /// Waits for a call-level bulkhead permit, until this timer (if any).
    pub(super) waiting: bool,
    pub(super) wait_timer: Option<TimerId>,
    pub(super) deadline: SimTime,
    pub(super) deadline_timer: Option<TimerId>,
    /// The last backoff slept (decorrelated jitter grows from it).
    pub(super) last_backoff: SimDuration,
    pub(super) last_cause: FailureCause,
    /// The root cause of the last failed attempt (see [`Attempt::root`]).
    pub(super) last_root: FailureCause,
    /// The callee's executions of this call's work, and its idempotency key.
    pub(super) executions: u32,
    pub(super) key: Key,
    /// Jobs of this call alive at the callee; the slot is freed when the call is finished and
    /// none is left.
    pub(super) jobs: u32,
    pub(super) finished: bool,
    /// What the caller drew when the call started (`OriginDraws`), which every attempt carries.
    pub(super) drawn: Drawn,
    /// A plain edge's call keeps its one attempt here instead of in an `Attempt` record.
    pub(super) lone: LoneAttempt,
}

/// The one attempt of a plain edge's call, kept in the call (`plain.rs`): a plain call is sent
/// when it starts, has no timer, permit or layer and ends with its attempt, so its attempt is
/// its id, its replica and its job. Jobs and replies name it by [`AttemptSlot::lone`]; its
/// latency runs from the call's start, and the value and root cause its reply carries back are
/// written to the call's own `value` and `last_root`.
#[derive(Clone, Copy, Debug)]
pub(super) struct LoneAttempt {
    /// [`NO_ATTEMPT`] once it is over, and for every call that is not a plain edge's.
    pub(super) id: AttemptId,
    pub(super) replica: u32,
    /// Its job at the callee, once sent (the slot may since hold another attempt's job).
    pub(super) job: Option<JobSlot>,
}

impl LoneAttempt {
    /// A call whose attempts are `Attempt` records.
    pub(super) const NONE: LoneAttempt = LoneAttempt {
        id: NO_ATTEMPT,
        replica: 0,
        job: None,
    };
}

/// What a call drew at its origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Drawn {
    Nothing,
    /// From the caller's own workload on a store.
    Operation(crate::data::workload::Operation),
    /// A publish step's own message key.
    PublishKey(crate::publish_key::MessageKey),
}

impl Drawn {
    pub(super) fn operation(self) -> Option<crate::data::workload::Operation> {
        match self {
            Drawn::Operation(op) => Some(op),
            _ => None,
        }
    }

    pub(super) fn publish_key(self) -> Option<crate::publish_key::MessageKey> {
        match self {
            Drawn::PublishKey(key) => Some(key),
            _ => None,
        }
    }
}

impl World {
    /// A call's record as it starts, before any attempt: the one place every path (`start_call`,
    /// the lean and the plain paths) builds it. A job's call notes the attempt and step it serves;
    /// a job whose attempt is over marks the chain broken.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn call_record(
        &mut self,
        edge: EdgeId,
        owner: Owner,
        now: SimTime,
        serial: CallSerial,
        op: Op,
        deadline: SimTime,
        drawn: Drawn,
    ) -> Call {
        let (parent_attempt, step) = match owner {
            Owner::Job(job) => (self.jobs[job].attempt, self.jobs[job].step),
            _ => (NO_ATTEMPT, 0),
        };
        if matches!(owner, Owner::Job(_)) && parent_attempt == NO_ATTEMPT {
            self.chain_broken();
        }
        Call {
            edge,
            owner,
            started: now,
            hedge_timer: None,
            parent_attempt,
            step,
            breaker_at: None,
            retry_permit: None,
            serial,
            op,
            value: 0,
            attempts: 0,
            slots: [AttemptSlot(0); MAX_LIVE],
            live: 0,
            stage: 0,
            permit: false,
            waiting: false,
            wait_timer: None,
            deadline,
            deadline_timer: None,
            last_backoff: SimDuration::ZERO,
            last_cause: FailureCause::Timeout,
            last_root: FailureCause::Timeout,
            executions: 0,
            key: Key::Unseen,
            jobs: 0,
            finished: false,
            drawn,
            lone: LoneAttempt::NONE,
        }
    }

    /// Begins a logical call over `edge`.
    pub(super) fn start_call<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: EdgeId,
        owner: Owner,
        inherited_deadline: SimTime,
        op: Op,
    ) -> (CallSlot, CallSerial) {
        if !TRACE && inherited_deadline == NEVER {
            let edge = &self.edges[edge_id];
            if edge.plain {
                return self.plain_start_call(s, edge_id, owner, op);
            }
            if edge.lean {
                return self.lean_start_call(s, edge_id, owner, op);
            }
        }
        let now = s.now();
        let edge = &mut self.edges[edge_id];
        if !edge.calls_mirror_attempts {
            self.edge_reports[edge.report as usize].calls.requests += 1;
        }
        if let Some(budget) = &mut edge.cold.budget {
            budget.request_started(now);
        }
        let (deadline_in, host) = (edge.draw_deadline(), edge.caller_host);
        let own = match deadline_in {
            None => NEVER,
            Some(d) => now + self.local_delay(host, now, d),
        };
        let deadline = own.min(inherited_deadline);
        let serial = CallSerial(self.next_serial);
        self.next_serial += 1;
        let drawn = self.edges[edge_id]
            .draws
            .as_deref_mut()
            .map_or(Drawn::Nothing, OriginDraws::draw);
        let record = self.call_record(edge_id, owner, now, serial, op, deadline, drawn);
        let call = self.calls.insert(record);
        if TRACE {
            match owner {
                Owner::Client { client, .. } | Owner::User { client, .. } => {
                    self.trace_request_start(now, call, client.0, edge_id)
                }
                Owner::Delivery { .. } | Owner::Decision { .. } | Owner::SagaLog { .. } => {
                    self.trace_request_start(now, call, NONE, edge_id)
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
        // An edge without call-level layers (most) makes its attempt at once.
        if self.edges[edge_id].cold.call_layers.is_empty() {
            self.new_attempt::<TRACE>(s, call);
        } else {
            self.advance_call::<TRACE>(s, call);
        }
        (call, serial)
    }

    /// Walks the call-level layers from where the call stands, then makes the first attempt.
    pub(super) fn advance_call<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call: CallSlot,
    ) {
        let edge_id = self.calls[call].edge;
        loop {
            let stage = usize::from(self.calls[call].stage);
            let Some(&layer) = self.edges[edge_id].cold.call_layers.get(stage) else {
                break;
            };
            if layer == Layer::Timeout {
                // A timeout outside the retries bounds the whole call.
                let e = &mut self.edges[edge_id];
                let host = e.caller_host;
                let timeout = e.draw_timeout().map(|t| self.local_delay(host, s.now(), t));
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
                let before = if TRACE { self.transitions(edge_id) } else { 0 };
                let breaker = self.edges[edge_id].cold.breaker.as_mut();
                let permitted = breaker
                    .expect("a breaker layer has a breaker")
                    .try_acquire(now);
                if TRACE && self.transitions(edge_id) > before {
                    let request = self.call_request(call);
                    self.trace_breaker(edge_id, before, request);
                }
                if !permitted {
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

    /// The call a timer that fired names. Its serial must match: a call cancels its timers
    /// before its slot can be reused, so a mismatch is a bug (checked in release builds too).
    pub(super) fn timed_call(&mut self, call: CallSlot, serial: CallSerial) -> &mut Call {
        let c = &mut self.calls[call];
        assert_eq!(c.serial, serial, "a live timer names its call");
        c
    }

    pub(super) fn on_call_wait_over<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call: CallSlot,
        serial: CallSerial,
    ) {
        self.timed_call(call, serial).wait_timer = None;
        let edge = self.calls[call].edge;
        self.bulkhead_leave(s, edge, Waiter::Call { call, serial });
        self.call_finished::<TRACE>(s, call, Outcome::Failed(FailureCause::BulkheadFull));
    }

    pub(super) fn on_deadline<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call: CallSlot,
        serial: CallSerial,
    ) {
        self.timed_call(call, serial).deadline_timer = None;
        if TRACE {
            let waited = s.now() - self.calls[call].started;
            self.trace_deadline(s.now(), call, waited);
        }
        // Every attempt in flight fails with the call, as the caller sees it.
        let now = s.now();
        // A plain edge's call, which keeps its attempt itself, has no deadline.
        debug_assert_eq!(self.calls[call].lone.id, NO_ATTEMPT);
        while self.calls[call].live > 0 {
            let slot = self.calls[call].slots[0];
            let a = &self.attempts[slot];
            let edge = &mut self.edges[self.calls[call].edge];
            self.edge_reports[edge.report as usize]
                .stats
                .record_failure(now, FailureCause::Timeout);
            if a.sent && self.services[edge.to.0 as usize].stats_mirror.is_none() {
                let to = edge.to.0 as usize;
                self.services[to]
                    .report
                    .stats
                    .record_failure(now, FailureCause::Timeout);
            }
            if a.sent
                && let Some(stats) =
                    self.services[edge.to.0 as usize].endpoint_stats(edge.to_endpoint)
            {
                stats.record_failure(now, FailureCause::Timeout);
            }
            self.drop_attempt::<TRACE>(s, slot, Some(true));
        }
        self.call_finished::<TRACE>(s, call, Outcome::Failed(FailureCause::Timeout));
    }

    /// Lets go of what a call holds at its caller: its copies in flight (abandoned: their work
    /// goes on, wasted), its timers and its bulkhead permit or place in line. Returns its edge.
    pub(super) fn release_call<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: CallSlot,
    ) -> EdgeId {
        if self.calls[call_id].lone.id != NO_ATTEMPT {
            self.drop_lone_attempt::<TRACE>(s, call_id);
        }
        while self.calls[call_id].live > 0 {
            let slot = self.calls[call_id].slots[0];
            let edge = &mut self.edges[self.calls[call_id].edge];
            self.edge_reports[edge.report as usize]
                .stats
                .record_cancelled();
            if self.attempts[slot].sent && self.services[edge.to.0 as usize].stats_mirror.is_none()
            {
                self.services[edge.to.0 as usize]
                    .report
                    .stats
                    .record_cancelled();
            }
            if self.attempts[slot].sent
                && let Some(stats) =
                    self.services[edge.to.0 as usize].endpoint_stats(edge.to_endpoint)
            {
                stats.record_cancelled();
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
    pub(super) fn cancel_call<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: CallSlot,
    ) {
        let now = s.now();
        let edge_id = self.release_call::<TRACE>(s, call_id);
        let call = &mut self.calls[call_id];
        let (breaker_at, retry_permit) = (call.breaker_at.take(), call.retry_permit.take());
        let edge = &mut self.edges[edge_id];
        if let Some(budget) = &mut edge.cold.budget {
            if let Some(permit) = retry_permit {
                budget.retry_abandoned(now, permit);
            }
            budget.request_finished(now);
        }
        if breaker_at.is_some() {
            // Giving a permission back changes no state.
            edge.cold.breaker.as_mut().expect("a breaker").release();
        }
        if !edge.calls_mirror_attempts {
            self.edge_reports[edge.report as usize]
                .calls
                .record_cancelled();
        }
        let call = &mut self.calls[call_id];
        call.finished = true;
        if call.jobs == 0 {
            self.calls.remove(call_id);
        }
    }

    /// A logical call is over: apply the fallback and report it to its owner.
    pub(super) fn call_finished<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: CallSlot,
        outcome: Outcome,
    ) {
        let now = s.now();
        let edge_id = self.release_call::<TRACE>(s, call_id);
        let breaker_at = self.calls[call_id].breaker_at;
        let retry_permit = self.calls[call_id].retry_permit.take();
        let edge = &mut self.edges[edge_id];
        if let Some(budget) = &mut edge.cold.budget {
            if let Some(permit) = retry_permit {
                budget.retry_abandoned(now, permit);
            }
            budget.request_finished(now);
        }
        // Trace points come after the edge is let go: they read the world.
        let mut breaker_moved = None;
        if let Some(at) = breaker_at {
            let breaker = edge.cold.breaker.as_mut().expect("a breaker");
            let before = if TRACE {
                breaker.transitions().len()
            } else {
                0
            };
            breaker.on_result(now, now - at, !outcome.is_answer());
            if TRACE && breaker.transitions().len() > before {
                breaker_moved = Some(before);
            }
        }
        let mut outcome = outcome;
        let mut fell_back = false;
        if outcome.is_answer() {
            edge.remember_answer(now);
        } else if let Some(fallback) = edge.cold.policy.fallback {
            let available = match fallback {
                Fallback::Static | Fallback::Skip => true,
                Fallback::Cached { ttl } => edge.cold.last_answer.is_some_and(|t| now - t <= ttl),
            };
            if available {
                self.edge_reports[edge.report as usize].fallbacks += 1;
                outcome = Outcome::Degraded;
                fell_back = true;
            }
        }
        let (report, mirrored) = (edge.report as usize, edge.calls_mirror_attempts);
        if TRACE {
            if let Some(before) = breaker_moved {
                let request = self.call_request(call_id);
                self.trace_breaker(edge_id, before, request);
            }
            if fell_back {
                self.trace_fallback(now, call_id);
            }
        }
        let call = &mut self.calls[call_id];
        if !mirrored {
            let latency = now - call.started;
            self.edge_reports[report]
                .calls
                .record(now, latency, outcome);
        }
        let owner = Ended {
            owner: call.owner,
            op: call.op,
            value: call.value,
            parent: (call.parent_attempt, call.step),
            root: match outcome {
                Outcome::Failed(FailureCause::Dependency) => call.last_root,
                Outcome::Failed(cause) => cause,
                Outcome::Ok | Outcome::Degraded => FailureCause::Dependency,
            },
        };
        if TRACE {
            self.trace_call_finished(now, call_id, outcome);
        }
        let call = &mut self.calls[call_id];
        call.finished = true;
        if call.jobs == 0 {
            self.calls.remove(call_id);
        } else {
            // Its callee still works on it, for nobody (see `World::awaited`).
            self.chain_broken();
        }
        self.tell_owner::<TRACE>(s, owner, outcome);
    }

    /// A client's call ended: its statistics record the outcome. Inline everywhere, so the end
    /// of a plain or lean call (`lean_call_finished`) reaches it without `tell_owner`'s frame.
    #[inline(always)]
    pub(super) fn tell_client(
        &mut self,
        now: SimTime,
        client: ClientId,
        started: SimTime,
        outcome: Outcome,
        root: FailureCause,
    ) {
        let state = &mut self.clients[client.0 as usize];
        if !state.mirrors_calls {
            state.report.stats.record(now, now - started, outcome);
        }
        if !outcome.is_answer() {
            state.report.failed_by_root_cause[root as usize] += 1;
        }
    }

    /// The owner of a call that ended learns its outcome: a client records it, a job's plan
    /// step counts it, a user takes its next step.
    #[inline]
    pub(super) fn tell_owner<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        ended: Ended,
        outcome: Outcome,
    ) {
        let now = s.now();
        let Ended {
            owner,
            op,
            value,
            parent,
            root,
        } = ended;
        match owner {
            Owner::Client { client, started } => {
                self.tell_client(now, client, started, outcome, root)
            }
            Owner::Job(job) => {
                let j = &mut self.jobs[job];
                // The job may have moved past this step (a parallel step decided without this
                // call), or be gone; then the outcome is for nobody.
                if parent.0 != NO_ATTEMPT && parent == (j.attempt, j.step) {
                    if !outcome.is_answer() {
                        j.root = root;
                    }
                    self.step_call_done::<TRACE>(s, job, outcome);
                }
            }
            Owner::User { client, user } => {
                self.user_step::<TRACE>(s, client.0, user, op, value, (outcome, root))
            }
            Owner::Delivery { poller, generation } => {
                self.delivery_done::<TRACE>(s, poller, generation, outcome)
            }
            Owner::Decision { txn, participant } => {
                self.twopc_decision_ended(s, txn, participant, outcome)
            }
            Owner::SagaLog { saga, epoch } => {
                self.saga_log_call_done::<TRACE>(s, saga, epoch, outcome.is_answer())
            }
        }
    }
}
