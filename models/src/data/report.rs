//! What a run reports about each store: operations per coordinating replica, the anomalies
//! the checker found, leadership and divergence.

use sim_core::{SimDuration, SimTime};

/// One replica's view as a coordinator: operations it took from callers and how they ended.
/// Replicas on the two sides of a partition show each side's availability.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreReplicaReport {
    pub host: String,
    pub reads_ok: u64,
    pub reads_failed: u64,
    pub writes_ok: u64,
    pub writes_failed: u64,
}

/// One replica's time as a leader: from its promotion to its crash or step-down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderSpan {
    pub replica: u32,
    pub term: u32,
    pub from: SimTime,
    pub to: Option<SimTime>,
}

/// After a partition heals: keys on which the running replicas disagreed then, and how long
/// until they all agreed (`None`: not by the end of the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divergence {
    pub healed_at: SimTime,
    pub keys: u32,
    pub converged_after: Option<SimDuration>,
}

/// Anomalies in one window of the run, by the time they happened (a read's invocation, a
/// write's acknowledgement).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnomalyWindow {
    pub stale_reads: u32,
    pub lost_writes: u32,
    pub overwritten: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StoreReport {
    pub service: String,
    /// The design in words, e.g. "leader-follower, asynchronous, reads at the leader".
    pub design: String,
    pub replicas: Vec<StoreReplicaReport>,
    /// Operations recorded and checked, the bound, and those served past it (unchecked).
    pub checked_reads: u64,
    pub checked_writes: u64,
    pub history_bound: u32,
    pub not_checked: u64,
    pub stale_reads: u64,
    pub staleness_versions_max: u32,
    pub staleness_versions_mean: f64,
    pub staleness_max: SimDuration,
    pub staleness_mean: SimDuration,
    pub lost_writes: u64,
    pub overwritten: u64,
    /// Per-session violations (sessions are clients, or read-modify-write users).
    pub read_your_writes: u64,
    pub monotonic: u64,
    /// With session tokens: reads a replica behind the session's token forwarded to the
    /// leader (`None`: no session guarantees configured).
    pub session_forwards: Option<u64>,
    /// Intervals during which two or more replicas accepted writes as leaders.
    pub split_brain: Vec<(SimTime, SimTime)>,
    /// Writes acknowledged by a leader while a newer term existed.
    pub stale_leader_writes: u64,
    pub leaders: Vec<LeaderSpan>,
    pub divergence: Vec<Divergence>,
    /// The most sibling values any key held on a replica.
    pub siblings_max: u32,
    pub series: Vec<AnomalyWindow>,
    /// Per caller with a workload of its own, in the store's order (empty without any).
    pub workloads: Vec<super::workload::WorkloadReport>,
}

impl StoreReport {
    pub fn split_brain_total(&self) -> SimDuration {
        self.split_brain
            .iter()
            .fold(SimDuration::ZERO, |a, &(from, to)| a + (to - from))
    }
}
