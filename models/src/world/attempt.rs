//! One attempt of a call: attempt-level layers, sending, the reply or timeout, and the
//! decision that follows (done, retry after a backoff, another hedged copy, or give up).

use super::*;

/// One try of a call.
pub(super) struct Attempt {
    pub(super) call: CallSlot,
    pub(super) id: AttemptId,
    /// When it left (or was created, if it never left).
    pub(super) sent_at: SimTime,
    /// Attempt-level layers passed so far.
    pub(super) stage: u8,
    pub(super) sent: bool,
    pub(super) permit: bool,
    pub(super) waiting: bool,
    pub(super) timeout: Option<TimerId>,
    pub(super) wait_timer: Option<TimerId>,
    /// A record version carried back by the reply.
    pub(super) value: u64,
    /// When an attempt-level breaker let the attempt through.
    pub(super) breaker_at: Option<SimTime>,
    /// The replica it was sent to.
    pub(super) replica: u32,
    /// Its job at the callee, once sent (the slot may since hold another attempt's job).
    pub(super) job: Option<JobSlot>,
    /// When its per-try timeout fires ([`NEVER`] without one).
    pub(super) timeout_at: SimTime,
    /// For a `dependency` failure, the cause at its origin down the chain, carried back by the
    /// reply as `value` is.
    pub(super) root: FailureCause,
}

impl Attempt {
    /// A new attempt of `call`, made at `now`: not sent yet, no layer passed, no timer.
    #[inline(always)]
    pub(super) fn fresh(call: CallSlot, id: AttemptId, now: SimTime) -> Attempt {
        Attempt {
            call,
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
            replica: 0,
            job: None,
            timeout_at: NEVER,
            root: FailureCause::Dependency,
        }
    }
}

/// Retries without backoff one event's handler makes at once. Over a network without latency a
/// full queue rejects at once and the reply arrives at once, so each such retry would start
/// the next inside the same handler: with `max_attempts: 2147483647` one handler ran for hours
/// and filled memory (the fuzzer found it). Past this many, a retry due now is an event
/// (`RetryDue` after zero time), which the run's limits count.
pub(super) const INLINE_RETRIES_PER_EVENT: u32 = 32;

impl World {
    /// Makes the call's next attempt (a retry or a hedge when it is not the first).
    pub(super) fn new_attempt<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: CallSlot,
    ) {
        let now = s.now();
        let id = AttemptId(self.next_attempt);
        self.next_attempt += 1;
        let slot = self.attempts.insert(Attempt::fresh(call_id, id, now));
        let call = &mut self.calls[call_id];
        call.attempts += 1;
        // Indexing checks the hedge cap: at most MAX_LIVE copies in flight, in release too.
        call.slots[usize::from(call.live)] = slot;
        call.live += 1;
        let edge = &mut self.edges[call.edge];
        self.edge_reports[edge.report as usize].attempts += 1;
        self.edge_reports[edge.report as usize].stats.requests += 1;
        let again = call.attempts > 1;
        let hedged = edge.cold.policy.hedge.is_some();
        if again {
            if hedged {
                self.edge_reports[edge.report as usize].hedges += 1;
            } else {
                self.edge_reports[edge.report as usize].retries += 1;
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
            Owner::Job(_)
            | Owner::Delivery { .. }
            | Owner::Decision { .. }
            | Owner::SagaLog { .. } => {}
        }
        if let Some(hedge) = &edge.cold.policy.hedge {
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
                let delay = match self.clocks.get(edge.caller_host as usize) {
                    None => hedge.delay,
                    Some(clock) => clock.true_after(now, hedge.delay) - now,
                };
                call.hedge_timer = Some(s.timer_in(delay, due));
            }
        }
        if TRACE {
            self.trace_attempt_sent(now, call_id, id);
            if again && hedged {
                let (edge, copy) = (self.calls[call_id].edge, self.calls[call_id].attempts);
                let caller = (edge, id, None);
                self.trace_caller(now, TraceKind::HedgeCopy, caller, SimDuration::ZERO, copy);
            }
        }
        // An edge without attempt-level layers sends at once.
        if self.edges[self.calls[call_id].edge]
            .cold
            .attempt_layers
            .is_empty()
        {
            self.send::<TRACE>(s, slot);
        } else {
            self.advance_attempt::<TRACE>(s, slot);
        }
    }

    /// Walks the attempt-level layers from where the attempt stands, then sends it.
    pub(super) fn advance_attempt<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
    ) {
        let call = self.attempts[slot].call;
        let edge_id = self.calls[call].edge;
        loop {
            let stage = usize::from(self.attempts[slot].stage);
            let Some(&layer) = self.edges[edge_id].cold.attempt_layers.get(stage) else {
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
                    let before = if TRACE { self.transitions(edge_id) } else { 0 };
                    let breaker = self.edges[edge_id].cold.breaker.as_mut();
                    let permitted = breaker
                        .expect("a breaker layer has a breaker")
                        .try_acquire(now);
                    if TRACE && self.transitions(edge_id) > before {
                        let request = self.attempt_request(self.attempts[slot].id);
                        self.trace_breaker(edge_id, before, request);
                    }
                    if !permitted {
                        let failed = Outcome::Failed(FailureCause::CircuitOpen);
                        self.attempt_ended::<TRACE>(s, slot, failed);
                        return;
                    }
                    self.attempts[slot].breaker_at = Some(now);
                }
                Layer::Timeout => {
                    let e = &mut self.edges[edge_id];
                    let host = e.caller_host;
                    if let Some(timeout) =
                        e.draw_timeout().map(|t| self.local_delay(host, s.now(), t))
                    {
                        let a = &mut self.attempts[slot];
                        let attempt = a.id;
                        a.timeout_at = s.now() + timeout;
                        a.timeout =
                            Some(s.timer_in(timeout, WorldEvent::Timeout { slot, attempt }));
                    }
                }
                _ => {}
            }
            self.attempts[slot].stage += 1;
        }
        self.send::<TRACE>(s, slot);
    }

    /// The attempt leaves for its callee, unless the client-side throttle refuses it: the
    /// caller picks a replica, and the network carries the request there (or loses it, or a
    /// partition refuses it).
    pub(super) fn send<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
    ) {
        let now = s.now();
        let edge_id = self.calls[self.attempts[slot].call].edge;
        let edge = &mut self.edges[edge_id];
        if let Some(throttle) = &mut edge.cold.throttle
            && !throttle.admit(now, &mut edge.cold.throttle_rng)
        {
            self.attempt_ended::<TRACE>(s, slot, Outcome::Failed(FailureCause::Throttled));
            return;
        }
        let replica = self.pick_replica(edge_id);
        let edge = &mut self.edges[edge_id];
        edge.outstanding[replica as usize] += 1;
        let (to, to_endpoint) = (edge.to, edge.to_endpoint);
        let from_host = edge.caller_host;
        let to_host = self.services[to.0 as usize].replicas[replica as usize].host;
        let a = &mut self.attempts[slot];
        a.sent = true;
        a.sent_at = now;
        a.replica = replica;
        let (call_id, attempt) = (a.call, a.id);
        let service = &mut self.services[to.0 as usize];
        if service.stats_mirror.is_none() {
            service.report.stats.requests += 1;
        }
        if let Some(stats) = service.endpoint_stats(to_endpoint) {
            stats.requests += 1;
        }
        let latency = match self.transmit(edge_id, from_host, to_host, now) {
            Transit::Arrives(latency) => latency,
            Transit::Lost => return,
            Transit::Refused(latency) => {
                // A refused connection: the caller learns it after a round of the network.
                let refused = Outcome::Failed(FailureCause::Unavailable);
                let event = WorldEvent::Reply {
                    slot,
                    edge: edge_id,
                    attempt,
                    outcome: refused,
                };
                s.schedule_in(latency, event);
                return;
            }
        };
        let call = &mut self.calls[call_id];
        call.jobs += 1;
        let deadline = if self.edges[edge_id].per_try_deadline {
            call.deadline.min(self.attempts[slot].timeout_at)
        } else {
            call.deadline
        };
        let job = self.jobs.insert(Job {
            replica,
            deadline,
            ..Job::arriving(
                to,
                self.edges[edge_id].to_endpoint,
                edge_id,
                call_id,
                slot,
                attempt,
                now,
            )
        });
        self.attempts[slot].job = Some(job);
        if latency == SimDuration::ZERO {
            self.on_deliver::<TRACE>(s, job);
        } else {
            s.schedule_in(latency, WorldEvent::Deliver { job });
        }
    }

    /// A reply reached its caller: a plain edge's call that keeps its attempt itself goes
    /// straight to its own end, without the frame of the general path's.
    #[inline(always)]
    pub(super) fn on_reply<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        edge: EdgeId,
        attempt: AttemptId,
        outcome: Outcome,
    ) {
        match slot.lone_call() {
            // Untraced runs only make such calls.
            Some(call) => self.on_lone_reply(s, call, edge, attempt, outcome),
            None => self.on_attempt_reply::<TRACE>(s, slot, edge, attempt, outcome),
        }
    }

    /// A reply reached an attempt kept in an `Attempt` record.
    #[inline(never)]
    fn on_attempt_reply<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        edge: EdgeId,
        attempt: AttemptId,
        outcome: Outcome,
    ) {
        let a = &mut self.attempts[slot];
        if a.id != attempt {
            // The slot may hold a newer attempt by now, so the edge comes from the reply itself.
            self.edge_reports[self.edges[edge].report as usize].late_replies += 1;
            if TRACE {
                let caller = (edge, attempt, Some(outcome));
                self.trace_caller(s.now(), TraceKind::LateReply, caller, SimDuration::ZERO, 0);
            }
            return;
        }
        if let Some(timer) = a.timeout.take() {
            s.cancel(timer);
        }
        if !TRACE && self.edges[edge].lean {
            self.lean_attempt_ended(s, slot, edge, outcome);
            return;
        }
        if let Some(throttle) = &mut self.edges[edge].cold.throttle
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

    pub(super) fn on_timeout<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        attempt: AttemptId,
    ) {
        let a = &mut self.attempts[slot];
        assert_eq!(a.id, attempt, "a live timeout names its attempt");
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
        let timed_out = Outcome::Failed(FailureCause::Timeout);
        if !TRACE {
            let edge = self.calls[self.attempts[slot].call].edge;
            if self.edges[edge].lean {
                self.lean_attempt_ended(s, slot, edge, timed_out);
                return;
            }
        }
        self.attempt_ended::<TRACE>(s, slot, timed_out);
    }

    pub(super) fn on_attempt_wait_over<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        attempt: AttemptId,
    ) {
        assert_eq!(
            self.attempts[slot].id, attempt,
            "a live wait names its attempt"
        );
        self.attempts[slot].wait_timer = None;
        let edge = self.calls[self.attempts[slot].call].edge;
        self.bulkhead_leave(s, edge, Waiter::Attempt { slot, attempt });
        self.attempt_ended::<TRACE>(s, slot, Outcome::Failed(FailureCause::BulkheadFull));
    }

    /// Forgets an attempt at its caller: timers, permit, slot. Its job, if any, carries on.
    /// `failed` is the outcome an attempt-level breaker records (`None`: the attempt was
    /// cancelled, and the breaker gets its permission back).
    pub(super) fn drop_attempt<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        failed: Option<bool>,
    ) {
        let now = s.now();
        let a = &mut self.attempts[slot];
        let (call_id, attempt, sent, replica) = (a.call, a.id, a.sent, a.replica as usize);
        let job = a.job;
        let (timeout, wait_timer, permit, waiting) =
            (a.timeout.take(), a.wait_timer.take(), a.permit, a.waiting);
        // A later reply must find another id here.
        a.id = NO_ATTEMPT;
        if let Some(at) = a.breaker_at {
            let edge = self.calls[call_id].edge;
            let breaker = self.edges[edge].cold.breaker.as_mut().expect("a breaker");
            let before = if TRACE {
                breaker.transitions().len()
            } else {
                0
            };
            match failed {
                Some(failed) => breaker.on_result(now, now - at, failed),
                None => breaker.release(),
            }
            if TRACE && breaker.transitions().len() > before {
                let request = self.attempt_request(attempt);
                self.trace_breaker(edge, before, request);
            }
        }
        if sent {
            let edge = &mut self.edges[self.calls[call_id].edge];
            edge.outstanding[replica] -= 1;
            // Envoy outlier detection hears what the replica answered (not what the caller's
            // own policies decided, and not a cancelled copy).
            if let (Some(outlier), Some(failed)) = (&mut edge.outlier, failed) {
                let before = outlier.ejected_count();
                outlier.on_result(now, replica, !failed, failed);
                if outlier.ejected_count() > before {
                    self.edge_reports[edge.report as usize].ejections += 1;
                }
            }
        }
        for t in [timeout, wait_timer].into_iter().flatten() {
            s.cancel(t);
        }
        if let Some(job) = job {
            if self.jobs[job].attempt == attempt {
                // Its job works on, for nobody (see `World::awaited`).
                self.chain_broken();
            }
            self.renege_queued::<TRACE>(s, job, attempt);
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
        if waiting && let Some(bulkhead) = &mut self.edges[edge].cold.bulkhead {
            bulkhead.leave(Waiter::Attempt { slot, attempt });
        }
        if permit {
            self.bulkhead_release::<TRACE>(s, edge);
        }
    }

    /// Records an attempt's outcome and decides: done, retry, hedge, or give up.
    pub(super) fn attempt_ended<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        outcome: Outcome,
    ) {
        let now = s.now();
        let a = &self.attempts[slot];
        let (call_id, sent, sent_at, value, attempt) = (a.call, a.sent, a.sent_at, a.value, a.id);
        let (root, replica) = (a.root, a.replica);
        let edge_id = self.calls[call_id].edge;
        let edge = &mut self.edges[edge_id];
        let (to, to_endpoint) = (edge.to.0 as usize, edge.to_endpoint);
        let latency = now - sent_at;
        self.edge_reports[edge.report as usize]
            .stats
            .record(now, latency, outcome);
        if sent && self.services[to].stats_mirror.is_none() {
            self.services[to].report.stats.record(now, latency, outcome);
        }
        if sent && let Some(stats) = self.services[to].endpoint_stats(to_endpoint) {
            stats.record(now, latency, outcome);
        }
        if sent && !self.deploys.is_empty() {
            self.rollout_observe(to, replica, latency, outcome);
        }
        self.drop_attempt::<TRACE>(s, slot, Some(!outcome.is_answer()));
        let edge = &mut self.edges[edge_id];
        if let Some(budget) = &mut edge.cold.budget {
            let permit = self.calls[call_id].retry_permit.take();
            let retry_on = edge.cold.policy.retry.as_ref().map(|r| r.retry_on);
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
        call.last_root = if cause == FailureCause::Dependency {
            root
        } else {
            cause
        };
        self.after_failure::<TRACE>(s, call_id, attempt, cause);
    }

    /// A failed attempt's call goes on: another hedged copy, a retry after its backoff (if the
    /// policy and the budget allow one), or the call fails.
    #[inline]
    fn after_failure<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call_id: CallSlot,
        attempt: AttemptId,
        cause: FailureCause,
    ) {
        let now = s.now();
        let outcome = Outcome::Failed(cause);
        let call = &mut self.calls[call_id];
        let edge_id = call.edge;
        let edge = &mut self.edges[edge_id];
        if let Some(hedge) = &edge.cold.policy.hedge {
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
        match &edge.cold.policy.retry {
            Some(retry) if retry.retry_on.contains(cause) && call.attempts < retry.max_attempts => {
                if let Some(budget) = &mut edge.cold.budget {
                    let timed_out = cause == FailureCause::Timeout;
                    match budget.try_retry(now, timed_out) {
                        Some(permit) => call.retry_permit = Some(permit),
                        None => {
                            self.edge_reports[edge.report as usize].retries_refused += 1;
                            self.call_finished::<TRACE>(s, call_id, outcome);
                            return;
                        }
                    }
                }
                let wait = backoff(
                    &retry.backoff,
                    call.attempts,
                    call.last_backoff,
                    &mut edge.cold.retry_rng,
                );
                call.last_backoff = wait;
                let (next, serial) = (call.attempts + 1, call.serial);
                if TRACE {
                    let caller = (edge_id, attempt, Some(outcome));
                    self.trace_caller(now, TraceKind::RetryScheduled, caller, wait, next);
                }
                if wait == SimDuration::ZERO && self.inline_retries < INLINE_RETRIES_PER_EVENT {
                    self.inline_retries += 1;
                    self.new_attempt::<TRACE>(s, call_id);
                } else {
                    let host = self.edges[edge_id].caller_host;
                    s.schedule_in(
                        self.local_delay(host, now, wait),
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

    pub(super) fn on_retry_due<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call: CallSlot,
        serial: CallSerial,
    ) {
        let c = &self.calls[call];
        // The deadline may have ended the call during the backoff.
        if c.serial == serial && !c.finished {
            if !TRACE && self.edges[c.edge].lean {
                self.lean_attempt(s, call);
            } else {
                self.new_attempt::<TRACE>(s, call);
            }
        }
    }

    pub(super) fn on_hedge_due<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        call: CallSlot,
        serial: CallSerial,
    ) {
        self.timed_call(call, serial).hedge_timer = None;
        self.new_attempt::<TRACE>(s, call);
    }
}
