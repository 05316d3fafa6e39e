//! The world's side of a caller's bulkhead: permits, the waiting line, and resuming a call or
//! attempt where it stopped when a permit frees.

use super::*;

/// Who waits for a bulkhead permit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Waiter {
    Call {
        call: CallSlot,
        serial: CallSerial,
    },
    Attempt {
        slot: AttemptSlot,
        attempt: AttemptId,
    },
}

/// The outcome of asking a bulkhead for a permit.
pub(super) enum Enter {
    Granted,
    /// Queued, with the timer that ends the wait (none for a thread pool's queue).
    Waiting(Option<TimerId>),
    Rejected,
}

impl World {
    /// Tries to take a permit of the edge's bulkhead for `waiter`; a semaphore's wait is
    /// measured on the caller's clock.
    pub(super) fn bulkhead_enter(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: EdgeId,
        waiter: Waiter,
    ) -> Enter {
        let edge = &mut self.edges[edge_id];
        let host = edge.caller_host;
        let bulkhead = edge
            .cold
            .bulkhead
            .as_mut()
            .expect("a bulkhead layer has a bulkhead");
        match bulkhead.try_enter(waiter) {
            Admission::Granted => Enter::Granted,
            Admission::Rejected => Enter::Rejected,
            Admission::Queued { max_wait: None } => Enter::Waiting(None),
            Admission::Queued {
                max_wait: Some(max_wait),
            } => {
                let event = match waiter {
                    Waiter::Call { call, serial } => WorldEvent::CallWaitOver { call, serial },
                    Waiter::Attempt { slot, attempt } => {
                        WorldEvent::AttemptWaitOver { slot, attempt }
                    }
                };
                let wait = self.local_delay(host, s.now(), max_wait);
                Enter::Waiting(Some(s.timer_in(wait, event)))
            }
        }
    }

    /// Gives a permit back; the first waiter, if any, takes it and carries on.
    pub(super) fn bulkhead_release<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: EdgeId,
    ) {
        let edge = &mut self.edges[edge_id];
        let bulkhead = edge
            .cold
            .bulkhead
            .as_mut()
            .expect("a permit comes from a bulkhead");
        let Some(waiter) = bulkhead.release() else {
            return;
        };
        // The permit passes straight to the waiter; it carries on in an event of its own at the
        // same instant, once the handler that freed the permit is done. Carrying on at once
        // would re-enter that handler's call: a hedged copy refused inside the bulkhead would
        // end the call while its sibling is still deciding what to do next.
        match waiter {
            Waiter::Call { call, .. } => {
                let c = &mut self.calls[call];
                c.waiting = false;
                c.permit = true;
                if let Some(t) = c.wait_timer.take() {
                    s.cancel(t);
                }
                c.stage += 1;
            }
            Waiter::Attempt { slot, .. } => {
                let a = &mut self.attempts[slot];
                a.waiting = false;
                a.permit = true;
                if let Some(t) = a.wait_timer.take() {
                    s.cancel(t);
                }
                a.stage += 1;
            }
        }
        if self.resumes.is_empty() {
            s.schedule_in(SimDuration::ZERO, WorldEvent::ResumeWaiters);
        }
        self.resumes.push(waiter);
    }

    /// Lets the waiters that were handed a permit carry on, in the order they got it. A waiter
    /// whose call or attempt ended in the meantime is skipped.
    pub(super) fn resume_waiters<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>) {
        let mut i = 0;
        while i < self.resumes.len() {
            match self.resumes[i] {
                Waiter::Call { call, serial } => {
                    let c = &self.calls[call];
                    if c.serial == serial && !c.finished && c.permit && c.live == 0 {
                        self.advance_call::<TRACE>(s, call);
                    }
                }
                Waiter::Attempt { slot, attempt } => {
                    let a = &self.attempts[slot];
                    if a.id == attempt && a.permit && !a.sent {
                        self.advance_attempt::<TRACE>(s, slot);
                    }
                }
            }
            i += 1;
        }
        self.resumes.clear();
    }

    /// Removes a waiter that gave up (its wait ran out, or its call or attempt ended).
    pub(super) fn bulkhead_leave(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: EdgeId,
        waiter: Waiter,
    ) {
        let edge = &mut self.edges[edge_id];
        if let Some(bulkhead) = &mut edge.cold.bulkhead {
            bulkhead.leave(waiter);
        }
        let timer = match waiter {
            Waiter::Call { call, .. } => {
                self.calls[call].waiting = false;
                self.calls[call].wait_timer.take()
            }
            Waiter::Attempt { slot, .. } => {
                self.attempts[slot].waiting = false;
                self.attempts[slot].wait_timer.take()
            }
        };
        if let Some(t) = timer {
            s.cancel(t);
        }
    }
}
