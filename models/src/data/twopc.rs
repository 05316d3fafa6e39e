//! Two-phase commit as pure state machines: a coordinator collecting votes and deciding, and a
//! participant's lock table. Semantics follow Gray and Reuter, *Transaction Processing*
//! (1993), ch. 10, and the presumed-abort variant of Mohan, Lindsay and Obermarck,
//! "Transaction Management in the R* Distributed Database Management System" (TODS 1986):
//!
//! - a participant votes yes only if it can lock the transaction's resource; a resource held
//!   by another prepared transaction makes it vote no at once (no-wait locking, so a blocked
//!   resource shows upstream as rejections);
//! - once it voted yes a participant is *uncertain*: it may neither commit nor abort on its
//!   own and holds the lock until the coordinator's decision reaches it. There is no timeout
//!   for an uncertain participant; that is 2PC's blocking;
//! - the coordinator decides commit once every vote is yes, abort at the first no or when its
//!   vote timeout expires, and forces the decision to its log before sending it;
//! - a coordinator that crashes before logging a decision finds no record on restart and
//!   presumes abort; one that crashed after logging sends the logged decision again.
//!
//! The world would drive these with messages on the network and a crash fault on the
//! coordinator's replica. Not yet wired into the world: see the README's "Not yet".

use std::collections::BTreeMap;

use sim_core::{SimDuration, SimTime};

/// A coordinator's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Commit,
    Abort,
}

/// One transaction at its coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coordinator {
    participants: u32,
    yes: u32,
    /// The decision forced to the log (survives a crash).
    logged: Option<Decision>,
}

impl Coordinator {
    pub fn new(participants: u32) -> Coordinator {
        assert!(participants > 0, "a transaction has participants");
        Coordinator {
            participants,
            yes: 0,
            logged: None,
        }
    }

    /// A vote arrived; returns the decision once it is made (and logs it).
    pub fn vote(&mut self, yes: bool) -> Option<Decision> {
        if self.logged.is_some() {
            return None;
        }
        if !yes {
            return self.decide(Decision::Abort);
        }
        self.yes += 1;
        if self.yes == self.participants {
            self.decide(Decision::Commit)
        } else {
            None
        }
    }

    /// The vote timeout expired before every vote came: abort (allowed, nothing is decided).
    pub fn vote_timeout(&mut self) -> Option<Decision> {
        if self.logged.is_some() {
            None
        } else {
            self.decide(Decision::Abort)
        }
    }

    /// The coordinator restarts after a crash: the logged decision, or presumed abort.
    pub fn recover(&mut self) -> Decision {
        match self.logged {
            Some(d) => d,
            None => {
                self.logged = Some(Decision::Abort);
                Decision::Abort
            }
        }
    }

    fn decide(&mut self, d: Decision) -> Option<Decision> {
        self.logged = Some(d);
        Some(d)
    }
}

/// A participant's locks: per resource, the transaction that holds it and since when.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Locks {
    held: BTreeMap<u32, (u64, SimTime)>,
    /// Prepares refused because their resource was held.
    pub rejected: u64,
}

impl Locks {
    /// Prepare `txn` on `resource`: votes yes and locks it if free (or already its own).
    pub fn prepare(&mut self, txn: u64, resource: u32, now: SimTime) -> bool {
        match self.held.get(&resource) {
            Some(&(t, _)) if t != txn => {
                self.rejected += 1;
                false
            }
            Some(_) => true,
            None => {
                self.held.insert(resource, (txn, now));
                true
            }
        }
    }

    /// The decision for `txn` arrived: its locks are released. Returns how long each was held
    /// (the participant's uncertain time: from its yes vote to the decision).
    pub fn decide(&mut self, txn: u64, now: SimTime) -> Vec<SimDuration> {
        let mut held = Vec::new();
        self.held.retain(|_, &mut (t, since)| {
            if t == txn {
                held.push(now - since);
                false
            } else {
                true
            }
        });
        held
    }

    pub fn holding(&self) -> usize {
        self.held.len()
    }
}

/// Counts over many transactions. A transaction is *blocked* when one of its participants
/// stayed uncertain because the coordinator was down: its blocked time is from the
/// coordinator's crash (or the vote, if later) to the decision's arrival.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TwoPcStats {
    pub started: u64,
    pub committed: u64,
    pub aborted: u64,
    pub blocked: u64,
    pub blocked_max: SimDuration,
    pub blocked_total: SimDuration,
}

impl TwoPcStats {
    pub fn ended(&mut self, d: Decision) {
        match d {
            Decision::Commit => self.committed += 1,
            Decision::Abort => self.aborted += 1,
        }
    }

    pub fn block(&mut self, d: SimDuration) {
        self.blocked += 1;
        self.blocked_max = self.blocked_max.max(d);
        self.blocked_total += d;
    }

    pub fn in_flight(&self) -> u64 {
        self.started - self.committed - self.aborted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    #[test]
    fn all_yes_commits_and_one_no_aborts_at_once() {
        let mut c = Coordinator::new(3);
        assert_eq!(c.vote(true), None);
        assert_eq!(c.vote(true), None);
        assert_eq!(c.vote(true), Some(Decision::Commit));
        let mut c = Coordinator::new(3);
        assert_eq!(c.vote(true), None);
        assert_eq!(c.vote(false), Some(Decision::Abort));
        assert_eq!(c.vote(true), None, "decided once");
        assert_eq!(c.vote_timeout(), None);
    }

    #[test]
    fn a_coordinator_that_crashed_before_deciding_presumes_abort_and_after_resends() {
        let mut c = Coordinator::new(2);
        c.vote(true);
        assert_eq!(c.recover(), Decision::Abort);
        assert_eq!(c.vote(true), None, "the late vote changes nothing");
        let mut c = Coordinator::new(2);
        c.vote(true);
        c.vote(true);
        assert_eq!(c.recover(), Decision::Commit);
        let mut c = Coordinator::new(2);
        assert_eq!(c.vote_timeout(), Some(Decision::Abort));
        assert_eq!(c.recover(), Decision::Abort);
    }

    #[test]
    fn a_prepared_resource_rejects_others_until_the_decision_and_reports_the_held_time() {
        let mut p = Locks::default();
        assert!(p.prepare(1, 7, t(10)));
        assert!(
            p.prepare(1, 7, t(11)),
            "a repeated prepare is the same vote"
        );
        assert!(p.prepare(2, 8, t(12)));
        assert!(!p.prepare(3, 7, t(20)));
        assert_eq!(p.rejected, 1);
        // The coordinator crashed at 15 ms and came back at 2,015 ms: the decision arrives.
        assert_eq!(p.decide(1, t(2_016)), vec![SimDuration::from_millis(2_006)]);
        assert!(p.prepare(3, 7, t(2_017)));
        assert_eq!(p.holding(), 2);
        assert_eq!(p.decide(9, t(2_020)), Vec::<SimDuration>::new());
    }

    #[test]
    fn the_blocked_books() {
        let mut s = TwoPcStats {
            started: 3,
            ..TwoPcStats::default()
        };
        s.ended(Decision::Commit);
        s.ended(Decision::Abort);
        s.block(SimDuration::from_millis(300));
        s.block(SimDuration::from_millis(100));
        assert_eq!((s.committed, s.aborted, s.in_flight()), (1, 1, 1));
        assert_eq!(s.blocked_max, SimDuration::from_millis(300));
        assert_eq!(s.blocked_total, SimDuration::from_millis(400));
    }
}
