//! Two-phase commit as pure state machines: a coordinator collecting votes and deciding, and a
//! participant's lock table. Semantics follow Gray and Reuter, *Transaction Processing*
//! (1993), ch. 10, and the presumed-abort variant of Mohan, Lindsay and Obermarck,
//! "Transaction Management in the R* Distributed Database Management System" (TODS 1986):
//!
//! - a participant votes yes once it holds the transaction's resource. A resource held by
//!   another prepared transaction makes the request *wait* for it ([`LockTable`], as a lock
//!   manager's queue of waiters: InnoDB's row locks, R*'s lock manager), holding what it holds;
//!   [`Locks`] is the no-wait variant, which votes no at once;
//! - once it voted yes a participant is *uncertain*: it may neither commit nor abort on its
//!   own and holds the lock until the coordinator's decision reaches it. There is no timeout
//!   for an uncertain participant; that is 2PC's blocking;
//! - the coordinator decides commit once every vote is yes, abort at the first no or when its
//!   vote timeout expires, and forces the decision to its log before sending it;
//! - a coordinator that crashes before logging a decision finds no record on restart and
//!   presumes abort; one that crashed after logging sends the logged decision again.
//!
//! The world drives these in `world/twopc.rs`: prepares and decisions are calls on the
//! network, and the coordinator's replica fails by the ordinary crash fault.

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

/// A two-phase commit as a run knows it: the coordinating service's endpoint, whose call plan
/// is one call per participant, in order; the prepare and then the decision of a transaction
/// go to participant `k` over the edge of plan call `k`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwoPcConfig {
    /// The coordinator as the reports name it: `service` or `service/endpoint`.
    pub name: String,
    pub service: usize,
    pub endpoint: usize,
    /// The participants' services, by plan call.
    pub participants: Vec<usize>,
    /// Each transaction locks one of this many resources (drawn uniformly) at every
    /// participant: the same resource index at each, as an order's item is one stock row and
    /// one price row.
    pub resources: u32,
    /// How long after a decision call failed for good the coordinator sends it again (a
    /// constant backoff; it re-sends until the participant acknowledges).
    pub decision_retry: SimDuration,
}

/// What a run reports per two-phase-commit endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct TwoPcReport {
    pub name: String,
    pub stats: TwoPcStats,
    /// Transactions started and not decided when the run stopped (`started - committed -
    /// aborted`): their coordinator was still collecting votes, or crashed and has not
    /// restarted.
    pub in_flight: u64,
    /// Prepares that found their resource locked by another transaction and waited for it, and
    /// how long they waited (those still waiting at the end are counted, not timed).
    pub lock_waits: u64,
    pub lock_wait_max: SimDuration,
    pub lock_wait_total: SimDuration,
    /// Locks of this endpoint's transactions still held when the run stopped.
    pub locks_held: u64,
}

/// A participant's locks with their queues of waiters (`W`: whatever the caller needs to wake
/// one). A lock is held by one transaction; another transaction's request waits in FIFO order
/// until the holder's decision releases it.
#[derive(Clone, Debug)]
pub struct LockTable<W> {
    locks: BTreeMap<u32, Lock<W>>,
}

#[derive(Clone, Debug)]
struct Lock<W> {
    holder: u64,
    since: SimTime,
    waiters: std::collections::VecDeque<(u64, SimTime, W)>,
}

/// A waiter the lock passed to: its transaction, the waiter and how long it waited.
pub type Granted<W> = (u64, W, SimDuration);

/// What a request for a lock got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// Held now (or already held by the same transaction: a repeated prepare).
    Granted,
    /// Another transaction holds it: the request waits.
    Waiting,
}

impl<W> Default for LockTable<W> {
    fn default() -> Self {
        LockTable {
            locks: BTreeMap::new(),
        }
    }
}

impl<W> LockTable<W> {
    /// The bytes its locks and their waiters hold (for a memory estimate).
    pub fn footprint_bytes(&self) -> usize {
        let waiters: usize = self.locks.values().map(|l| l.waiters.capacity()).sum();
        self.locks.len() * std::mem::size_of::<(u32, Lock<W>)>()
            + waiters * std::mem::size_of::<(u64, SimTime, W)>()
    }

    /// `txn` asks for `resource`; `waiter` is kept if it has to wait.
    pub fn acquire(&mut self, txn: u64, resource: u32, now: SimTime, waiter: W) -> Acquire {
        match self.locks.get_mut(&resource) {
            None => {
                self.locks.insert(
                    resource,
                    Lock {
                        holder: txn,
                        since: now,
                        waiters: Default::default(),
                    },
                );
                Acquire::Granted
            }
            Some(l) if l.holder == txn => Acquire::Granted,
            Some(l) => {
                l.waiters.push_back((txn, now, waiter));
                Acquire::Waiting
            }
        }
    }

    /// The decision for `txn` arrived: its lock on `resource` (if it holds it) is released and
    /// passed to the first waiter. Returns how long `txn` held it, and the new holder with its
    /// waiter and how long it waited.
    pub fn release(
        &mut self,
        txn: u64,
        resource: u32,
        now: SimTime,
    ) -> Option<(SimDuration, Option<Granted<W>>)> {
        let l = self.locks.get_mut(&resource)?;
        if l.holder != txn {
            return None;
        }
        let held = now - l.since;
        match l.waiters.pop_front() {
            None => {
                self.locks.remove(&resource);
                Some((held, None))
            }
            Some((next, asked, w)) => {
                l.holder = next;
                l.since = now;
                Some((held, Some((next, w, now - asked))))
            }
        }
    }

    /// `txn`'s waiting requests for `resource` are withdrawn (its abort arrived first).
    pub fn withdraw(&mut self, txn: u64, resource: u32) -> Vec<W> {
        let Some(l) = self.locks.get_mut(&resource) else {
            return Vec::new();
        };
        let (gone, kept) = std::mem::take(&mut l.waiters)
            .into_iter()
            .partition(|(t, _, _)| *t == txn);
        l.waiters = kept;
        gone.into_iter().map(|(_, _, w)| w).collect()
    }

    /// The transaction holding `resource`, if any.
    pub fn holder(&self, resource: u32) -> Option<u64> {
        self.locks.get(&resource).map(|l| l.holder)
    }

    /// The transaction holding each lock, by resource.
    pub fn holders(&self) -> impl Iterator<Item = u64> + '_ {
        self.locks.values().map(|l| l.holder)
    }

    /// Whether `txn` waits for `resource`.
    pub fn waits(&self, txn: u64, resource: u32) -> bool {
        self.locks
            .get(&resource)
            .is_some_and(|l| l.waiters.iter().any(|w| w.0 == txn))
    }

    pub fn waiting(&self) -> usize {
        self.locks.values().map(|l| l.waiters.len()).sum()
    }
}

/// Counts over many transactions. A transaction is *blocked* when one of its participants
/// stayed uncertain because the coordinator was down, or because its decision had to be sent
/// again: its blocked time is from the coordinator's crash (or, without a crash, the decision;
/// or the vote, if later) to the decision's arrival.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TwoPcStats {
    pub started: u64,
    pub committed: u64,
    pub aborted: u64,
    pub blocked: u64,
    pub blocked_max: SimDuration,
    pub blocked_total: SimDuration,
    /// Decision calls sent again after one failed for good (Gray and Reuter: the coordinator
    /// re-sends its logged decision until every participant acknowledges it).
    pub decision_resends: u64,
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
    fn a_held_lock_makes_others_wait_in_order_and_passes_on_release() {
        let mut l: LockTable<&str> = LockTable::default();
        assert_eq!(l.acquire(1, 7, t(10), "a"), Acquire::Granted);
        assert_eq!(l.acquire(1, 7, t(11), "a again"), Acquire::Granted);
        assert_eq!(l.acquire(2, 7, t(12), "b"), Acquire::Waiting);
        assert_eq!(l.acquire(3, 7, t(13), "c"), Acquire::Waiting);
        assert_eq!(l.acquire(4, 8, t(14), "d"), Acquire::Granted);
        assert_eq!(l.waiting(), 2);
        assert!(l.waits(3, 7) && !l.waits(1, 7) && !l.waits(3, 8));
        assert_eq!(l.release(2, 7, t(20)), None, "a waiter holds nothing");
        assert_eq!(l.withdraw(3, 7), vec!["c"]);
        let (held, next) = l.release(1, 7, t(2_010)).expect("1 held it");
        assert_eq!(held, SimDuration::from_millis(2_000));
        assert_eq!(next, Some((2, "b", SimDuration::from_millis(1_998))));
        assert_eq!(l.holder(7), Some(2));
        assert_eq!(l.release(2, 7, t(2_020)).map(|r| r.1), Some(None));
        assert_eq!(l.holder(7), None);
        assert_eq!(l.holders().collect::<Vec<_>>(), vec![4]);
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
