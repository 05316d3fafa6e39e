//! Topics with partitions and consumer groups (issue 15), after Apache Kafka
//! (<https://kafka.apache.org/documentation/>, "Consumer Configs" and "Design: The Consumer"):
//! the validated configuration and what a run reports. The world's side is
//! `world/broker/topic.rs`.
//!
//! - A topic has `partitions`; a publish with a key goes to `hash(key) % partitions` (FNV-1a of
//!   the key's bytes, like Kafka's default partitioner hashes the serialized key with murmur2:
//!   a fixed function, never a per-process random hash), one without a key round-robin. Each
//!   partition is an append-only log: an offset per record, order kept.
//! - A consumer group's members (one per replica of the consuming service) share the
//!   partitions by Kafka's `RangeAssignor`: with `M` members in index order and `P`
//!   partitions, member `i` takes `P / M` consecutive partitions, and the first `P % M` one
//!   more.
//! - A member polls up to `max.poll.records` (default 500) records from its partitions and
//!   processes them in order. With `commit: After` (manual `commitSync` after the batch, or
//!   `enable.auto.commit`, which commits on the next poll what the previous one returned) a
//!   crash redelivers from the last committed offset: at-least-once, the records processed
//!   since are processed again (duplicates). With `commit: Before` (commit as soon as the
//!   records are fetched) a crash loses the records fetched and not yet processed:
//!   at-most-once.
//! - A member that crashes is noticed when `session.timeout.ms` (default 45 s since Kafka 3.0)
//!   passes without its heartbeat; a member that joins (starts or restarts) or leaves starts a
//!   rebalance: the eager protocol, in which every member gives up its partitions, so the
//!   group consumes nothing for the rebalance's `pause` and until every live member has
//!   finished the batch it was processing (a rebalance happens inside `poll()`).

use sim_core::SimDuration;

use crate::broker::QueueSeries;
use crate::config::ServiceId;
use crate::metrics::OutcomeStats;

/// Kafka's consumer defaults: `max.poll.records` 500, `session.timeout.ms` 45 s.
pub const DEFAULT_MAX_POLL_RECORDS: u32 = 500;
pub const DEFAULT_SESSION_TIMEOUT: SimDuration = SimDuration(45_000_000_000);
/// The pause of a rebalance: Kafka's `group.initial.rebalance.delay.ms` default, 3 s (the
/// join and sync round trips are not modelled one by one).
pub const DEFAULT_REBALANCE: SimDuration = SimDuration(3_000_000_000);

/// One topic, held by a broker service.
#[derive(Clone, Debug)]
pub struct TopicConfig {
    pub name: String,
    pub broker: ServiceId,
    pub partitions: u32,
    /// Publishes carry a key drawn uniformly from this many (a customer id, say), hashed to
    /// a partition; without, publishes go round-robin.
    pub keys: Option<u32>,
    /// A publish step with its own key publishes here: its records carry that key instead.
    pub keyed: bool,
}

/// When a member commits its offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    /// After processing its batch: at-least-once.
    After,
    /// As soon as the batch is fetched: at-most-once.
    Before,
}

impl Commit {
    pub fn name(self) -> &'static str {
        match self {
            Commit::After => "after",
            Commit::Before => "before",
        }
    }
}

/// A service consuming a topic as one consumer group: one member per replica.
#[derive(Clone, Debug)]
pub struct GroupConfig {
    pub service: ServiceId,
    pub topic: u16,
    pub commit: Commit,
    pub max_poll_records: u32,
    pub session_timeout: SimDuration,
    pub rebalance: SimDuration,
    /// How long a member whose fetch was lost or refused waits before it fetches again.
    pub poll_retry: SimDuration,
}

/// Kafka's `RangeAssignor`: the partitions of member `i` of `members` (in index order).
pub fn range_assignment(partitions: u32, members: u32, i: u32) -> std::ops::Range<u32> {
    if members == 0 || i >= members {
        return 0..0;
    }
    let (each, extra) = (partitions / members, partitions % members);
    let start = i * each + i.min(extra);
    start..start + each + u32::from(i < extra)
}

/// The partition of a key: FNV-1a of its little-endian bytes, modulo the partitions.
pub fn partition_of(key: u64, partitions: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(partitions.max(1))) as u32
}

/// One partition as one group saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartitionReport {
    /// Records appended (the end offset).
    pub published: u64,
    /// Records processed for the first time, successfully or not (a failure is skipped, as a
    /// consumer that logs and moves on).
    pub consumed: u64,
    pub failed: u64,
    /// Processings of a record processed before (redelivered after a crash).
    pub duplicates: u64,
    /// Records processed but not committed when their member crashed: they come again.
    pub redelivered: u64,
    /// Records committed but never processed (at-most-once after a crash).
    pub lost: u64,
    pub committed: u64,
    /// Records processed out of offset order (a member skipping or going back within its
    /// batch, or a first processing past a record never processed): always 0, a check.
    pub out_of_order: u64,
    /// At the end: records not yet processed once (`published - consumed - failed - lost`).
    pub unprocessed: u64,
    /// The end offset minus the committed offset, at the end and at its largest.
    pub lag: u64,
    pub max_lag: u64,
}

impl PartitionReport {
    /// Every record appended was processed once, lost, or is still to be processed.
    pub fn conserved(&self) -> bool {
        self.published == self.consumed + self.failed + self.lost + self.unprocessed
    }
}

/// What one consumer group did with its topic.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupReport {
    /// The consuming service (the group is named after it).
    pub name: String,
    pub commit: Commit,
    pub members: u32,
    pub partitions: Vec<PartitionReport>,
    pub rebalances: u64,
    /// Simulated time spent rebalancing (consuming nothing).
    pub rebalancing: SimDuration,
    /// At the end: the age of the oldest record the group has not committed (zero when none).
    pub oldest_age: SimDuration,
    /// Publish to processed, one `ok` per successful processing (duplicates included).
    pub end_to_end: OutcomeStats,
    /// Per window: `published`, `received` (records fetched), `acked` (first processings),
    /// `duplicates`, `dead_lettered` (lost), `backlog_max`: the group's lag at its largest, and
    /// `oldest_age_ns_max`: the oldest uncommitted record's age at its largest.
    pub series: QueueSeries,
}

impl GroupReport {
    pub fn total(&self, f: impl Fn(&PartitionReport) -> u64) -> u64 {
        self.partitions.iter().map(f).sum()
    }
}

/// What a run did with one topic.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicReport {
    pub name: String,
    pub broker: String,
    pub partitions: u32,
    pub keys: Option<u32>,
    /// A publish step with its own key publishes here.
    pub keyed: bool,
    /// Records appended to each partition.
    pub published: Vec<u64>,
    pub groups: Vec<GroupReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_assignor_gives_the_first_members_the_extra_partitions() {
        // Kafka's javadoc example shape: 3 partitions over 2 members -> [0, 1], [2].
        assert_eq!(range_assignment(3, 2, 0), 0..2);
        assert_eq!(range_assignment(3, 2, 1), 2..3);
        assert_eq!(range_assignment(7, 3, 0), 0..3);
        assert_eq!(range_assignment(7, 3, 1), 3..5);
        assert_eq!(range_assignment(7, 3, 2), 5..7);
        // More members than partitions: the last ones idle.
        assert_eq!(range_assignment(2, 3, 2), 2..2);
        for p in 1..20 {
            for m in 1..8 {
                let total: u32 = (0..m).map(|i| range_assignment(p, m, i).len() as u32).sum();
                assert_eq!(total, p);
            }
        }
    }

    #[test]
    fn keys_hash_to_fixed_partitions_spread_over_all() {
        assert_eq!(partition_of(42, 8), partition_of(42, 8));
        let mut seen = [0u32; 8];
        for k in 0..8_000 {
            seen[partition_of(k, 8) as usize] += 1;
        }
        for n in seen {
            assert!((800..1200).contains(&n), "{seen:?}");
        }
    }
}
