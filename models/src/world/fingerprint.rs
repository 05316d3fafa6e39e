//! What the run's fingerprint hashes: each event named by what it means in the scenario's
//! terms (a request of client 2 arrives, replica 1 of service 3 finishes a job of endpoint 0,
//! a reply over edge 5 comes back timed out), never by enum order or slot numbers, and
//! nothing for pure bookkeeping (thinning arrivals, waking waiters, heartbeats, metric samples,
//! stale timers). Refactoring the world's internals therefore keeps every fingerprint; a
//! change of behaviour (a time, an outcome, a replica chosen) moves it.
//!
//! Services, clients, edges, faults, changes, autoscalers, stores and queues are numbered in
//! the order the scenario file declares them (edges: each caller's calls in plan order); a
//! replica by its index within its service.

use super::*;

/// The domain codes. Fixed numbers, documented in ARCHITECTURE.md ("fingerprint"): a new kind
/// of event takes a new number, an existing one never changes meaning.
mod code {
    pub(super) const REQUEST: u8 = 1;
    pub(super) const USER_START: u8 = 2;
    pub(super) const DELIVER: u8 = 3;
    pub(super) const WORK_DONE: u8 = 4;
    pub(super) const REPLY: u8 = 5;
    pub(super) const TIMEOUT: u8 = 6;
    pub(super) const RETRY: u8 = 7;
    pub(super) const HEDGE: u8 = 8;
    pub(super) const DEADLINE: u8 = 9;
    pub(super) const BULKHEAD_WAIT_OVER: u8 = 10;
    pub(super) const RATE_LIMITED: u8 = 11;
    pub(super) const FAULT_START: u8 = 12;
    pub(super) const FAULT_RESTART: u8 = 13;
    pub(super) const REPLICA_RESTART: u8 = 14;
    pub(super) const CHAOS_FAIL: u8 = 15;
    pub(super) const CHAOS_REPAIR: u8 = 16;
    pub(super) const HEALTH_PROBE: u8 = 17;
    pub(super) const HEALTH_RESULT: u8 = 18;
    pub(super) const CHANGE: u8 = 19;
    pub(super) const SCALED_READY: u8 = 20;
    pub(super) const PROBE: u8 = 21;
    pub(super) const STORE_MESSAGE: u8 = 22;
    pub(super) const STORE_TIMEOUT: u8 = 23;
    pub(super) const STORE_PROMOTE: u8 = 24;
    pub(super) const POLL_SENT: u8 = 25;
    pub(super) const POLL_ARRIVED: u8 = 26;
    pub(super) const RECEIPTS: u8 = 27;
    pub(super) const ACK: u8 = 28;
    pub(super) const VISIBILITY_TIMEOUT: u8 = 29;
    pub(super) const ROLLOUT: u8 = 30;
    pub(super) const FETCH_SENT: u8 = 31;
    pub(super) const FETCH_ARRIVED: u8 = 32;
    pub(super) const RECORDS: u8 = 33;
    pub(super) const SESSION_EXPIRED: u8 = 34;
    pub(super) const REBALANCE_OVER: u8 = 35;
    pub(super) const WRITE_ACKED: u8 = 36;
    pub(super) const RELAY_POLL: u8 = 37;
    pub(super) const FUNCTION_INSTANCE: u8 = 38;
    pub(super) const DECISION_RESEND: u8 = 39;
}

/// One event's word: its code, then two numbers naming what it concerns.
#[inline]
fn word(code: u8, a: u32, b: u32) -> u64 {
    (u64::from(code) << 56) | (u64::from(a & 0x00ff_ffff) << 32) | u64::from(b)
}

/// An outcome as a number: ok 0, degraded 1, failed 2 + the cause's place in
/// [`FailureCause::ALL`].
#[inline]
fn outcome_code(outcome: Outcome) -> u32 {
    match outcome {
        Outcome::Ok => 0,
        Outcome::Degraded => 1,
        Outcome::Failed(cause) => 2 + cause as u32,
    }
}

impl World {
    /// The fingerprint's word for `event` (see the module documentation).
    #[inline]
    pub(super) fn domain_word(&self, event: &WorldEvent) -> Option<u64> {
        Some(match *event {
            WorldEvent::ClientArrival { client } => word(code::REQUEST, client, 0),
            WorldEvent::UserStart { client, user } => word(code::USER_START, client, user),
            WorldEvent::ArrivalUndecided { .. }
            | WorldEvent::Admitted { .. }
            | WorldEvent::OutlierSweep { .. }
            | WorldEvent::ResumeWaiters
            | WorldEvent::StoreTick { .. } => return None,
            WorldEvent::Deliver { job } => {
                let j = &self.jobs[job];
                word(
                    code::DELIVER,
                    j.service.0,
                    j.replica << 16 | u32::from(j.endpoint),
                )
            }
            WorldEvent::WorkDone { job } => {
                let j = &self.jobs[job];
                word(
                    code::WORK_DONE,
                    j.service.0,
                    j.replica << 16 | u32::from(j.endpoint),
                )
            }
            WorldEvent::RateLimited { job } => {
                let j = &self.jobs[job];
                word(code::RATE_LIMITED, j.service.0, j.replica)
            }
            WorldEvent::Reply { edge, outcome, .. } => {
                word(code::REPLY, edge.0, outcome_code(outcome))
            }
            WorldEvent::Timeout { slot, attempt } => {
                word(code::TIMEOUT, self.live_attempt_edge(slot, attempt)?.0, 0)
            }
            WorldEvent::AttemptWaitOver { slot, attempt } => word(
                code::BULKHEAD_WAIT_OVER,
                self.live_attempt_edge(slot, attempt)?.0,
                0,
            ),
            WorldEvent::RetryDue { call, serial } => {
                word(code::RETRY, self.live_call_edge(call, serial)?.0, 0)
            }
            WorldEvent::HedgeDue { call, serial } => {
                word(code::HEDGE, self.live_call_edge(call, serial)?.0, 0)
            }
            WorldEvent::Deadline { call, serial } => {
                word(code::DEADLINE, self.live_call_edge(call, serial)?.0, 0)
            }
            WorldEvent::CallWaitOver { call, serial } => word(
                code::BULKHEAD_WAIT_OVER,
                self.live_call_edge(call, serial)?.0,
                1,
            ),
            WorldEvent::Crash { fault } => word(code::FAULT_START, fault, 0),
            WorldEvent::RestartTargets { fault } => word(code::FAULT_RESTART, fault, 0),
            WorldEvent::Restart { service, replica } => {
                word(code::REPLICA_RESTART, service, replica)
            }
            WorldEvent::ChaosFail { fault, unit } => word(code::CHAOS_FAIL, fault, unit),
            WorldEvent::ChaosRepair { fault, unit } => word(code::CHAOS_REPAIR, fault, unit),
            WorldEvent::HealthProbe { edge, replica } => word(code::HEALTH_PROBE, edge.0, replica),
            WorldEvent::HealthResult { edge, replica, ok } => {
                word(code::HEALTH_RESULT, edge.0, replica << 1 | u32::from(ok))
            }
            WorldEvent::Change {
                change,
                action,
                replica,
            } => word(code::CHANGE, change, action << 16 | replica),
            WorldEvent::Autoscale {
                scaler, replica, ..
            } => {
                if replica == autoscale::SAMPLE || replica == autoscale::SYNC {
                    return None;
                }
                word(code::SCALED_READY, scaler, replica)
            }
            WorldEvent::Probe {
                service,
                replica,
                what,
            } => word(code::PROBE, service, replica << 8 | what),
            WorldEvent::StoreMsg { store, msg } => {
                let envelope = self.stores[store as usize].msgs[msg as usize].as_ref()?;
                word(
                    code::STORE_MESSAGE,
                    store,
                    envelope.from << 16 | envelope.to,
                )
            }
            WorldEvent::StoreTimeout { store, .. } => word(code::STORE_TIMEOUT, store, 0),
            WorldEvent::StorePromote { store, replica } => {
                word(code::STORE_PROMOTE, store, replica)
            }
            WorldEvent::PollSend { poller, .. } => word(code::POLL_SENT, poller, 0),
            WorldEvent::PollArrive { poller, .. } => word(code::POLL_ARRIVED, poller, 0),
            WorldEvent::Receipts { poller, .. } => word(code::RECEIPTS, poller, 0),
            WorldEvent::AckArrive { queue, message, .. } => {
                word(code::ACK, u32::from(queue), message as u32)
            }
            WorldEvent::VisibilityTimeout { queue, message, .. } => {
                word(code::VISIBILITY_TIMEOUT, u32::from(queue), message as u32)
            }
            WorldEvent::Rollout {
                rollout,
                replica,
                generation,
            } => {
                if !self.rollout_event_live(rollout, replica, generation) {
                    return None;
                }
                word(code::ROLLOUT, rollout, replica)
            }
            WorldEvent::FetchSend { member, generation }
            | WorldEvent::FetchArrive { member, generation }
            | WorldEvent::Records { member, generation }
            | WorldEvent::SessionExpired { member, generation } => {
                if !self.member_event_live(member, generation) {
                    return None;
                }
                let code = match *event {
                    WorldEvent::FetchSend { .. } => code::FETCH_SENT,
                    WorldEvent::FetchArrive { .. } => code::FETCH_ARRIVED,
                    WorldEvent::Records { .. } => code::RECORDS,
                    _ => code::SESSION_EXPIRED,
                };
                word(code, member, 0)
            }
            WorldEvent::RebalanceOver { group, generation } => {
                if !self.rebalance_event_live(group, generation) {
                    return None;
                }
                word(code::REBALANCE_OVER, group, 0)
            }
            // Named by the record (its write step and its serial in commit order), not by the
            // job slot, which is an implementation detail.
            WorldEvent::WriteAcked { record, .. } => word(
                code::WRITE_ACKED,
                u32::from(self.record_write(record)?),
                record as u32,
            ),
            WorldEvent::RelayPoll { relay, generation } => {
                if !self.relay_poll_live(relay, generation) {
                    return None;
                }
                let (service, replica) = self.relay_place(relay);
                word(code::RELAY_POLL, service, replica)
            }
            // A function's instance ready or reclaimed; a reclaim timer of an instance used
            // since is stale.
            WorldEvent::Function {
                function,
                instance,
                generation,
            } => {
                if !self.function_event_live(function, instance, generation) {
                    return None;
                }
                let service = self.functions.as_ref()?.service_of(function);
                word(code::FUNCTION_INSTANCE, service, instance)
            }
            // Named by the transaction's serial (in start order) and the participant.
            WorldEvent::DecisionResend { txn, participant } => {
                word(code::DECISION_RESEND, txn as u32, u32::from(participant))
            }
        })
    }

    /// The edge of an attempt still waiting for this event, or `None` for a stale one.
    #[inline]
    fn live_attempt_edge(&self, slot: AttemptSlot, attempt: AttemptId) -> Option<EdgeId> {
        let a = &self.attempts[slot];
        (a.id == attempt).then(|| self.calls[a.call].edge)
    }

    /// The edge of a call still waiting for this event, or `None` for a stale one.
    #[inline]
    fn live_call_edge(&self, call: CallSlot, serial: CallSerial) -> Option<EdgeId> {
        let c = &self.calls[call];
        (c.serial == serial).then_some(c.edge)
    }
}
