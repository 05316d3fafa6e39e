//! The fast path of a plain edge: one whose calls no policy touches (no timeout, retry, hedge,
//! bulkhead, breaker, throttle, budget, fallback, outlier detection or own deadline), the edge
//! of most clients and plan calls in simple scenarios. Such a call is one attempt whose reply
//! ends the call with the same outcome, so the reply skips the general path's layers: no
//! breaker to tell, no timer of the attempt to cancel, no permit to give back, no retry or
//! hedge to decide, no fallback to look for. The results are those of the general path, which
//! traced runs take (a test runs both and compares their reports).

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

    /// A plain edge's call begins (untraced, no inherited deadline): its call, its one attempt
    /// and, unless the network loses it, its job at the callee are made in one go, as
    /// `start_call`, `new_attempt` and `send` would make them with no layer to walk, no budget
    /// to tell, no deadline or hedge timer to set and no throttle to ask.
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
        let (parent_attempt, step) = match owner {
            Owner::Job(job) => {
                let (attempt, step) = (self.jobs[job].attempt, self.jobs[job].step);
                if attempt == NO_ATTEMPT {
                    self.chain_broken();
                }
                (attempt, step)
            }
            _ => (NO_ATTEMPT, 0),
        };
        let id = AttemptId(self.next_attempt);
        self.next_attempt += 1;
        // A caller's own workload draws its store operation here, as `start_call` does.
        let drawn = self.edges[edge_id]
            .draws
            .as_deref_mut()
            .map_or(Drawn::Nothing, OriginDraws::draw);
        let edge = &self.edges[edge_id];
        debug_assert!(edge.plain && edge.cold.budget.is_none());
        // The only replica, or the balancer's choice (which may draw).
        let replica = if self.deploys.is_empty() && edge.outstanding.len() == 1 {
            0
        } else {
            self.pick_replica(edge_id)
        };
        let call = self.calls.insert(Call {
            edge: edge_id,
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
            attempts: 1,
            slots: [AttemptSlot(0); MAX_LIVE],
            live: 1,
            stage: 0,
            permit: false,
            waiting: false,
            wait_timer: None,
            deadline: NEVER,
            deadline_timer: None,
            last_backoff: SimDuration::ZERO,
            last_cause: FailureCause::Timeout,
            last_root: FailureCause::Timeout,
            executions: 0,
            key: Key::Unseen,
            jobs: 0,
            finished: false,
            drawn,
        });
        let slot = self.attempts.insert(Attempt {
            sent: true,
            replica,
            ..Attempt::fresh(call, id, now)
        });
        self.calls[call].slots[0] = slot;
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
        let service = &mut self.services[to.0 as usize];
        let to_host = service.replicas[replica as usize].host;
        if service.stats_mirror.is_none() {
            service.report.stats.requests += 1;
        }
        if let Some(stats) = service.endpoint_stats(to_endpoint) {
            stats.requests += 1;
        }
        let latency = match self.transmit(edge_id, from_host, to_host, now) {
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
        self.calls[call].jobs = 1;
        let job = self.jobs.insert(Job {
            replica,
            ..Job::arriving(to, to_endpoint, edge_id, call, slot, id, now)
        });
        self.attempts[slot].job = Some(job);
        if latency == SimDuration::ZERO {
            self.on_deliver::<false>(s, job);
        } else {
            s.schedule_in(latency, WorldEvent::Deliver { job });
        }
        (call, serial)
    }

    /// A plain edge's attempt got its reply (not a late one): the attempt and its call end with
    /// its outcome, as `attempt_ended`, `drop_attempt` and `call_finished` would end them.
    #[inline]
    pub(super) fn plain_attempt_ended(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        slot: AttemptSlot,
        edge_id: EdgeId,
        outcome: Outcome,
    ) {
        let call_id = self.lone_attempt_ended(s, slot, edge_id, outcome);
        // The call ends with its one attempt, as a lean edge's call ends.
        self.lean_call_finished(s, call_id, edge_id, outcome);
    }
}
