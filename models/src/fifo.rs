//! FIFO queues and message groups (issue 15), after Amazon SQS FIFO queues (SQS Developer
//! Guide, "FIFO queue delivery logic in Amazon SQS", "Using the message group ID with Amazon
//! SQS FIFO queues", "Exactly-once processing in Amazon SQS"):
//!
//! - every message carries a message group ID; within a group messages are received in the
//!   order they were stored;
//! - while a message of a group is in flight (received, neither deleted nor visible again) no
//!   later message of that group is received: a slow or poison message blocks its group until
//!   it is deleted, its visibility timeout passes, or it moves to the dead-letter queue;
//! - one receive returns as many messages of one group as it can (up to its batch), then
//!   messages of other available groups, oldest head first;
//! - a publish carrying a deduplication ID already accepted in the last 5 minutes is
//!   acknowledged but not stored (the producer's retry of one send carries the same ID, so
//!   it is not duplicated);
//! - a FIFO queue's dead-letter queue is a FIFO queue.
//!
//! A message's group is its publish step's own key when the step has one (`crate::publish_key`:
//! the message group ID itself, so one key is one group whatever `groups` says); otherwise its
//! identity (the publishing call, or the outbox record) hashed with a salt from the queue's own
//! stream `broker/QUEUE/groups` onto `groups` IDs. Either way a retried publish keeps its group.
//! The same groups written on a standard queue only measure order: nothing is held back, and
//! the report counts the messages processed after a later message of their group.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sim_core::{SimDuration, SimTime};

use crate::publish_key::MessageKey;

/// SQS's deduplication interval.
pub const DEDUPLICATION_INTERVAL: SimDuration = SimDuration(5 * 60 * 1_000_000_000);
/// Deduplication IDs remembered at most per queue (oldest forgotten first), so a runaway
/// publisher cannot grow the set without bound.
pub const MAX_DEDUPLICATION_IDS: usize = 1 << 20;

/// A queue's message groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FifoConfig {
    /// A FIFO queue (ordering, group locks, deduplication); otherwise a standard queue whose
    /// groups are only measured.
    pub strict: bool,
    /// Message group IDs the identities of messages without a key hash to.
    pub groups: u32,
    /// A publish step with its own key publishes here (the report then counts the groups).
    pub keyed: bool,
}

/// A message group: a publish step's key, or a message without one hashed onto `groups`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum GroupId {
    Hashed(u32),
    Keyed(MessageKey),
}

/// What a run reports of a queue's groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FifoReport {
    pub strict: bool,
    pub groups: u32,
    /// Publishes acknowledged but not stored: their deduplication ID was accepted within the
    /// interval (FIFO only).
    pub deduplicated_publishes: u64,
    /// Successful processings of a message after a later message of its group was processed.
    pub out_of_order: u64,
    /// Group-time spent with messages waiting behind an in-flight message of the group, summed
    /// over groups, and the longest such stretch of one group (FIFO only).
    pub blocked: SimDuration,
    pub longest_blocked: SimDuration,
    /// Groups holding messages behind an in-flight one at the end of the run.
    pub blocked_at_end: u32,
    /// With a keyed publish step (`FifoConfig::keyed`): the groups that received a message,
    /// and the messages stored in the busiest one (a hot key's share of the queue).
    pub keyed: bool,
    pub groups_used: u64,
    pub busiest_group_messages: u64,
}

#[derive(Default)]
struct Group {
    visible: BTreeSet<u64>,
    in_flight: u32,
    next_seq: u64,
    /// The highest sequence number processed successfully so far.
    processed: Option<u64>,
    /// This group's entry in `ready`, if any.
    head: Option<u64>,
    blocked_since: Option<SimTime>,
}

/// The groups of one queue: which are locked, which can be received from, and the
/// deduplication IDs seen.
pub(crate) struct FifoState {
    config: FifoConfig,
    salt: u64,
    groups: BTreeMap<GroupId, Group>,
    /// Groups with a visible message and none in flight, by their oldest visible message.
    ready: BTreeSet<(u64, GroupId)>,
    dedup: BTreeMap<u64, SimTime>,
    dedup_order: VecDeque<(SimTime, u64)>,
    report: FifoReport,
}

/// A strong 64-bit mix (SplitMix64's finaliser): keys to groups.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FifoState {
    pub(crate) fn new(config: FifoConfig, salt: u64) -> Self {
        FifoState {
            config,
            salt,
            groups: BTreeMap::new(),
            ready: BTreeSet::new(),
            dedup: BTreeMap::new(),
            dedup_order: VecDeque::new(),
            report: FifoReport {
                strict: config.strict,
                groups: config.groups,
                deduplicated_publishes: 0,
                out_of_order: 0,
                blocked: SimDuration::ZERO,
                longest_blocked: SimDuration::ZERO,
                blocked_at_end: 0,
                keyed: config.keyed,
                groups_used: 0,
                busiest_group_messages: 0,
            },
        }
    }

    pub(crate) fn strict(&self) -> bool {
        self.config.strict
    }

    /// A FIFO queue's deduplication: whether `key` was accepted within the interval (then
    /// the publish is counted and not stored); otherwise it is remembered from `now`.
    pub(crate) fn duplicate_publish(&mut self, now: SimTime, key: u64) -> bool {
        if !self.config.strict {
            return false;
        }
        while let Some(&(at, k)) = self.dedup_order.front() {
            if now - at < DEDUPLICATION_INTERVAL && self.dedup_order.len() < MAX_DEDUPLICATION_IDS {
                break;
            }
            self.dedup_order.pop_front();
            if self.dedup.get(&k) == Some(&at) {
                self.dedup.remove(&k);
            }
        }
        if self.dedup.contains_key(&key) {
            self.report.deduplicated_publishes += 1;
            return true;
        }
        self.dedup.insert(key, now);
        self.dedup_order.push_back((now, key));
        false
    }

    /// The group of a message: its step's key, or else its identity hashed.
    pub(crate) fn group_of(&self, identity: u64, key: Option<MessageKey>) -> GroupId {
        match key {
            Some(key) => GroupId::Keyed(key),
            None => {
                GroupId::Hashed((mix(identity ^ self.salt) % u64::from(self.config.groups)) as u32)
            }
        }
    }

    /// The next sequence number in `group`: the order its messages were stored in.
    pub(crate) fn next_seq(&mut self, group: GroupId) -> u64 {
        let g = self.groups.entry(group).or_default();
        g.next_seq += 1;
        g.next_seq - 1
    }

    /// Keeps `ready` and the blocked time of `group` up to date after a change.
    fn refresh(&mut self, group: GroupId, now: SimTime) {
        let g = self.groups.entry(group).or_default();
        let head = if g.in_flight == 0 {
            g.visible.first().copied()
        } else {
            None
        };
        if g.head != head {
            if let Some(old) = g.head {
                self.ready.remove(&(old, group));
            }
            if let Some(new) = head {
                self.ready.insert((new, group));
            }
            g.head = head;
        }
        let blocked = g.in_flight > 0 && !g.visible.is_empty();
        match (blocked, g.blocked_since) {
            (true, None) => g.blocked_since = Some(now),
            (false, Some(since)) => {
                g.blocked_since = None;
                let d = now - since;
                self.report.blocked += d;
                self.report.longest_blocked = self.report.longest_blocked.max(d);
            }
            _ => {}
        }
    }

    /// A message of `group` became visible (stored, or back after its visibility timeout).
    pub(crate) fn visible(&mut self, group: GroupId, id: u64, now: SimTime) {
        if self.config.strict {
            self.groups.entry(group).or_default().visible.insert(id);
            self.refresh(group, now);
        }
    }

    /// A visible message of `group` left (deleted, expired, dead-lettered, lost).
    pub(crate) fn gone(&mut self, group: GroupId, id: u64, now: SimTime) {
        if self.config.strict {
            self.groups.entry(group).or_default().visible.remove(&id);
            self.refresh(group, now);
        }
    }

    /// `delta` messages of `group` went into flight (positive) or out of it (negative).
    pub(crate) fn in_flight(&mut self, group: GroupId, delta: i32, now: SimTime) {
        if self.config.strict {
            let g = self.groups.entry(group).or_default();
            g.in_flight = g
                .in_flight
                .checked_add_signed(delta)
                .expect("in flight >= 0");
            self.refresh(group, now);
        }
    }

    /// Whether a receive can take anything.
    pub(crate) fn receivable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The next message a receive takes: the oldest visible one of `same` (a group this
    /// receive already took from), or else the head of the available group with the oldest
    /// head. The message leaves the group's visible set and counts as in flight.
    pub(crate) fn take_next(
        &mut self,
        same: Option<GroupId>,
        now: SimTime,
    ) -> Option<(u64, GroupId)> {
        let from_same = same.and_then(|g| {
            let first = self.groups.get(&g)?.visible.first().copied()?;
            Some((first, g))
        });
        let (id, group) = from_same.or_else(|| self.ready.first().copied())?;
        let g = self.groups.get_mut(&group).expect("a ready group");
        g.visible.remove(&id);
        g.in_flight += 1;
        self.refresh(group, now);
        Some((id, group))
    }

    /// A message of `group` with sequence `seq` was processed successfully.
    pub(crate) fn processed(&mut self, group: GroupId, seq: u64) {
        let g = self.groups.entry(group).or_default();
        match g.processed {
            Some(last) if seq < last => self.report.out_of_order += 1,
            _ => g.processed = Some(seq),
        }
    }

    /// A broker that is not durable lost every message.
    pub(crate) fn clear(&mut self, now: SimTime) {
        let groups: Vec<GroupId> = self.groups.keys().copied().collect();
        for group in groups {
            let g = self.groups.get_mut(&group).expect("a group");
            g.visible.clear();
            g.in_flight = 0;
            self.refresh(group, now);
        }
    }

    /// The report, with the blocks still open at `end` counted up to it.
    pub(crate) fn finish(mut self, end: SimTime) -> FifoReport {
        if self.config.keyed {
            self.report.groups_used =
                self.groups.values().filter(|g| g.next_seq > 0).count() as u64;
            self.report.busiest_group_messages =
                self.groups.values().map(|g| g.next_seq).max().unwrap_or(0);
        }
        for g in self.groups.values() {
            if let Some(since) = g.blocked_since {
                let d = end - since;
                self.report.blocked += d;
                self.report.longest_blocked = self.report.longest_blocked.max(d);
                self.report.blocked_at_end += 1;
            }
        }
        self.report
    }

    /// What grows with the messages and IDs held.
    pub(crate) fn footprint_bytes(&self) -> usize {
        const ENTRY: usize = 64;
        let visible: usize = self.groups.values().map(|g| g.visible.len()).sum();
        (visible + self.ready.len() + self.dedup.len() + self.groups.len()) * ENTRY
            + self.dedup_order.len() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn h(group: u32) -> GroupId {
        GroupId::Hashed(group)
    }

    fn fifo(groups: u32) -> FifoState {
        FifoState::new(
            FifoConfig {
                strict: true,
                groups,
                keyed: false,
            },
            7,
        )
    }

    #[test]
    fn an_in_flight_message_locks_its_group_and_the_others_go_on() {
        let mut f = fifo(2);
        let t = SimTime(0);
        for (id, group) in [(0, 0), (1, 0), (2, 1), (3, 0)] {
            f.visible(h(group), id, t);
        }
        // A receive of two takes group 0's oldest two, in order.
        assert_eq!(f.take_next(None, t), Some((0, h(0))));
        assert_eq!(f.take_next(Some(h(0)), t), Some((1, h(0))));
        // Group 0 is locked with message 3 waiting: the next receive gets group 1 only.
        assert_eq!(f.take_next(None, t), Some((2, h(1))));
        assert_eq!(f.take_next(None, t), None);
        assert!(!f.receivable());
        // Deleting one of group 0's two in-flight messages is not enough.
        f.in_flight(h(0), -1, SimTime(S));
        assert!(!f.receivable());
        f.in_flight(h(0), -1, SimTime(3 * S));
        assert_eq!(f.take_next(None, SimTime(3 * S)), Some((3, h(0))));
        let r = f.finish(SimTime(4 * S));
        assert_eq!(r.blocked, SimDuration(3 * S));
        assert_eq!(r.longest_blocked, SimDuration(3 * S));
        assert_eq!(r.blocked_at_end, 0);
    }

    #[test]
    fn a_message_visible_again_goes_back_to_the_head_of_its_group() {
        let mut f = fifo(1);
        let t = SimTime(0);
        f.visible(h(0), 0, t);
        f.visible(h(0), 1, t);
        assert_eq!(f.take_next(None, t), Some((0, h(0))));
        // Its visibility timeout passes: visible again, it comes before message 1.
        f.in_flight(h(0), -1, SimTime(S));
        f.visible(h(0), 0, SimTime(S));
        assert_eq!(f.take_next(None, SimTime(S)), Some((0, h(0))));
        let r = f.finish(SimTime(2 * S));
        assert_eq!(r.blocked, SimDuration(2 * S));
        assert_eq!(r.blocked_at_end, 1);
    }

    #[test]
    fn a_deduplication_id_is_remembered_for_five_minutes() {
        let mut f = fifo(1);
        assert!(!f.duplicate_publish(SimTime(0), 42));
        assert!(f.duplicate_publish(SimTime(299 * S), 42));
        assert!(!f.duplicate_publish(SimTime(300 * S), 42));
        assert!(f.duplicate_publish(SimTime(301 * S), 42));
        assert_eq!(f.finish(SimTime(400 * S)).deduplicated_publishes, 2);
    }

    #[test]
    fn a_standard_queue_only_measures_order() {
        let mut f = FifoState::new(
            FifoConfig {
                strict: false,
                groups: 4,
                keyed: false,
            },
            1,
        );
        assert!(!f.duplicate_publish(SimTime(0), 1));
        assert!(!f.duplicate_publish(SimTime(0), 1));
        f.processed(h(0), 1);
        f.processed(h(0), 0);
        f.processed(h(0), 2);
        f.processed(h(0), 2);
        assert_eq!(f.finish(SimTime(0)).out_of_order, 1);
    }

    #[test]
    fn keys_spread_over_every_group() {
        let f = fifo(8);
        let mut seen = [0u32; 8];
        for identity in 0..8000 {
            let GroupId::Hashed(g) = f.group_of(identity, None) else {
                panic!("a message without a key is hashed")
            };
            seen[g as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn a_key_is_its_own_group_whatever_the_groups_and_the_identity() {
        let mut f = FifoState::new(
            FifoConfig {
                strict: true,
                groups: 40,
                keyed: true,
            },
            3,
        );
        let k = MessageKey::name("k");
        // Forty calls with one key: one group, received one at a time in order.
        for identity in 0..40 {
            let g = f.group_of(identity, Some(k));
            assert_eq!(g, GroupId::Keyed(k));
            assert!(
                !f.duplicate_publish(SimTime(0), identity),
                "two calls, two messages"
            );
            let seq = f.next_seq(g);
            f.visible(g, identity, SimTime(0));
            assert_eq!(seq, identity);
        }
        assert_eq!(f.take_next(None, SimTime(0)), Some((0, GroupId::Keyed(k))));
        assert_eq!(f.take_next(None, SimTime(0)), None);
        let other = f.group_of(99, Some(MessageKey::number(1)));
        f.next_seq(other);
        let r = f.finish(SimTime(S));
        assert_eq!((r.groups_used, r.busiest_group_messages), (2, 40));
    }
}
