//! The fast path of a plain edge: one whose calls no policy touches (no timeout, retry, hedge,
//! bulkhead, breaker, throttle, budget, fallback, outlier detection or own deadline), the edge
//! of most clients and plan calls in simple scenarios. Such a call is one attempt whose reply
//! ends the call with the same outcome, so the reply skips the general path's layers: no
//! breaker to tell, no timer of the attempt to cancel, no permit to give back, no retry or
//! hedge to decide, no fallback to look for. The results are those of the general path, which
//! traced runs take (a test runs both and compares their reports).

use super::*;

impl World {
    /// Marks the edges that may take the fast path; called once the world is wired.
    pub(super) fn mark_plain_edges(&mut self) {
        for e in &mut self.edges {
            let p = &e.policy;
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
                && e.call_layers.is_empty()
                && e.attempt_layers.is_empty()
                && e.breaker.is_none()
                && e.budget.is_none()
                && e.throttle.is_none()
                && e.bulkhead.is_none()
                && e.outlier.is_none();
        }
    }

    /// A plain edge's attempt got its reply (not a late one): the attempt and its call end with
    /// its outcome, as `attempt_ended`, `drop_attempt` and `call_finished` would end them.
    pub(super) fn plain_attempt_ended(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        edge_id: EdgeId,
        outcome: Outcome,
    ) {
        let now = s.now();
        let a = &mut self.attempts[slot];
        let (call_id, sent, sent_at, value, attempt) = (a.call, a.sent, a.sent_at, a.value, a.id);
        let (root, replica, job) = (a.root, a.replica, a.job);
        debug_assert!(a.timeout.is_none() && a.wait_timer.is_none() && a.breaker_at.is_none());
        debug_assert!(!a.permit && !a.waiting);
        // A later reply must find another id here.
        a.id = NO_ATTEMPT;
        let edge = &mut self.edges[edge_id];
        let (to, to_endpoint) = (edge.to.0 as usize, edge.to_endpoint);
        let latency = now - sent_at;
        self.edge_reports[edge.report as usize]
            .stats
            .record(now, latency, outcome);
        if sent {
            if self.services[to].stats_mirror.is_none() {
                self.services[to].report.stats.record(now, latency, outcome);
            }
            if let Some(stats) = self.services[to].endpoint_stats(to_endpoint) {
                stats.record(now, latency, outcome);
            }
            if !self.deploys.is_empty() {
                self.rollout_observe(to, replica, latency, outcome);
            }
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
        let call = &mut self.calls[call_id];
        // Without hedges a call has one attempt in flight.
        debug_assert!(call.live == 1 && call.slots[0] == slot);
        call.live = 0;
        self.attempts.remove(slot);
        let call = &mut self.calls[call_id];
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
        // The call ends: an inherited deadline's timer is all it may hold.
        debug_assert!(call.hedge_timer.is_none() && call.retry_permit.is_none());
        debug_assert!(!call.permit && !call.waiting && call.breaker_at.is_none());
        if let Some(t) = call.deadline_timer.take() {
            s.cancel(t);
        }
        let edge = &mut self.edges[edge_id];
        if outcome.is_answer() {
            edge.last_answer = Some(now);
        }
        if !edge.calls_mirror_attempts {
            let latency = now - call.started;
            self.edge_reports[edge.report as usize]
                .calls
                .record(now, latency, outcome);
        }
        let ended = super::call::Ended {
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
        call.finished = true;
        if call.jobs == 0 {
            self.calls.remove(call_id);
        } else {
            // Its callee still works on it, for nobody (see `World::awaited`).
            self.chain_broken();
        }
        self.tell_owner::<false>(s, ended, outcome);
    }
}
