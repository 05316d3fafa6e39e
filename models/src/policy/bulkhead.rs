//! The bulkhead as a pure state machine, after Resilience4j: `SemaphoreBulkhead` (at most
//! `maxConcurrentCalls` permits; a caller waits up to `maxWaitDuration` for one, in FIFO order
//! since the semaphore is fair; a zero wait rejects at once) and `FixedThreadPoolBulkhead` with
//! `max == core` (`coreThreadPoolSize` running, `queueCapacity` waiting without a time limit,
//! the rest rejected).
//!
//! A freed permit passes straight to the first waiter, so the number of permits in use never
//! drops while someone waits. The caller owns the waiting (timers, resuming); this module only
//! says who holds and who is next.

use std::collections::VecDeque;

use sim_core::SimDuration;

use crate::config::Bulkhead;

/// The answer to a request for a permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// A permit is taken.
    Granted,
    /// The caller is in line. `max_wait` is how long it may wait before giving up (none for a
    /// thread pool's queue, which waits as long as it takes).
    Queued { max_wait: Option<SimDuration> },
    /// Every permit is taken and there is no room to wait.
    Rejected,
}

/// One bulkhead: its permits in use and its line of waiters (`W` names a waiter).
#[derive(Clone, Debug)]
pub struct BulkheadState<W> {
    config: Bulkhead,
    active: u32,
    waiters: VecDeque<W>,
}

impl<W: Copy + PartialEq> BulkheadState<W> {
    pub fn new(config: Bulkhead) -> Self {
        assert!(
            config.concurrency() > 0,
            "a bulkhead lets at least one call through"
        );
        BulkheadState {
            config,
            active: 0,
            waiters: VecDeque::new(),
        }
    }

    /// Asks for a permit for `waiter`; it joins the line when it may wait.
    pub fn try_enter(&mut self, waiter: W) -> Admission {
        if self.active < self.config.concurrency() {
            self.active += 1;
            return Admission::Granted;
        }
        match self.config {
            Bulkhead::Semaphore {
                max_wait_duration, ..
            } => {
                if max_wait_duration == SimDuration::ZERO {
                    return Admission::Rejected;
                }
                self.waiters.push_back(waiter);
                Admission::Queued {
                    max_wait: Some(max_wait_duration),
                }
            }
            Bulkhead::ThreadPool { queue_capacity, .. } => {
                if self.waiters.len() < queue_capacity as usize {
                    self.waiters.push_back(waiter);
                    Admission::Queued { max_wait: None }
                } else {
                    Admission::Rejected
                }
            }
        }
    }

    /// Gives a permit back. Returns the waiter that takes it over, if anyone waits.
    #[must_use]
    pub fn release(&mut self) -> Option<W> {
        assert!(self.active > 0, "a bulkhead permit released twice");
        let next = self.waiters.pop_front();
        if next.is_none() {
            self.active -= 1;
        }
        next
    }

    /// Takes a waiter out of the line (its wait ran out, or it gave up). Returns whether it was
    /// there.
    pub fn leave(&mut self, waiter: W) -> bool {
        match self.waiters.iter().position(|w| *w == waiter) {
            Some(i) => {
                self.waiters.remove(i);
                true
            }
            None => false,
        }
    }

    /// Permits in use.
    pub fn active(&self) -> u32 {
        self.active
    }

    /// Callers in line.
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    pub fn config(&self) -> &Bulkhead {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn semaphore(max: u32, wait_ms: u64) -> BulkheadState<u32> {
        BulkheadState::new(Bulkhead::Semaphore {
            max_concurrent_calls: max,
            max_wait_duration: SimDuration::from_millis(wait_ms),
        })
    }

    #[test]
    fn a_semaphore_grants_its_permits_then_queues_fifo() {
        let mut b = semaphore(2, 100);
        assert_eq!(b.try_enter(1), Admission::Granted);
        assert_eq!(b.try_enter(2), Admission::Granted);
        let queued = Admission::Queued {
            max_wait: Some(SimDuration::from_millis(100)),
        };
        assert_eq!(b.try_enter(3), queued);
        assert_eq!(b.try_enter(4), queued);
        assert_eq!((b.active(), b.waiting()), (2, 2));
        // A freed permit passes to the first in line: still two in use.
        assert_eq!(b.release(), Some(3));
        assert_eq!((b.active(), b.waiting()), (2, 1));
        assert_eq!(b.release(), Some(4));
        assert_eq!(b.release(), None);
        assert_eq!(b.release(), None);
        assert_eq!((b.active(), b.waiting()), (0, 0));
    }

    #[test]
    fn a_zero_wait_semaphore_rejects_at_once() {
        // Resilience4j's default maxWaitDuration is 0: a full bulkhead fails the call.
        let mut b = semaphore(1, 0);
        assert_eq!(b.try_enter(1), Admission::Granted);
        assert_eq!(b.try_enter(2), Admission::Rejected);
        assert_eq!(b.waiting(), 0);
    }

    #[test]
    fn a_thread_pool_queues_up_to_its_capacity_without_a_time_limit() {
        let mut b = BulkheadState::new(Bulkhead::ThreadPool {
            core_thread_pool_size: 1,
            queue_capacity: 2,
        });
        assert_eq!(b.try_enter(1), Admission::Granted);
        assert_eq!(b.try_enter(2), Admission::Queued { max_wait: None });
        assert_eq!(b.try_enter(3), Admission::Queued { max_wait: None });
        assert_eq!(b.try_enter(4), Admission::Rejected);
        assert_eq!(b.release(), Some(2));
        // Room in the queue again.
        assert_eq!(b.try_enter(5), Admission::Queued { max_wait: None });
    }

    #[test]
    fn a_waiter_that_leaves_is_skipped() {
        let mut b = semaphore(1, 50);
        assert_eq!(b.try_enter(1), Admission::Granted);
        b.try_enter(2);
        b.try_enter(3);
        assert!(b.leave(2));
        assert!(!b.leave(2));
        assert_eq!(b.release(), Some(3));
        assert_eq!(b.release(), None);
        assert_eq!(b.active(), 0);
    }
}
