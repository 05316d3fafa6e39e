//! Replicated data: a store's configuration, what each replica holds, and the pure pieces
//! (key popularity, quorum arithmetic, conflict resolution) the world's `store` room runs.
//! The anomaly checker is [`check`], a pure function of a recorded history.
//!
//! Sources for the semantics: leader-follower replication as in MySQL (asynchronous,
//! semi-synchronous `rpl_semi_sync_source_wait_for_replica_count`) and PostgreSQL
//! (`synchronous_commit`, `synchronous_standby_names`); leaderless quorums, read repair and
//! version vectors as in Dynamo (DeCandia et al., SOSP 2007) and Riak; last-writer-wins on
//! wall-clock timestamps as in Cassandra (the coordinator's or client's clock); leases and
//! fencing tokens as in Kleppmann, "How to do distributed locking" (2016).

pub mod check;
pub mod replica;
pub mod report;
pub mod saga;
pub mod twopc;
pub mod workload;

use sim_core::{Distribution, SimDuration, SimRng};

/// How a key is chosen for each operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Popularity {
    Uniform,
    /// Key `i` (from 0) is chosen with probability proportional to `1 / (i + 1)^s`.
    Zipf {
        s: f64,
    },
}

/// How conflicting leaderless writes are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolve {
    /// The value with the highest timestamp wins; the timestamp is the *writer's* (the
    /// coordinating replica's) local host clock, so offset, drift and steps decide.
    LastWriterWins,
    /// Each value carries a version vector; concurrent values are all kept (siblings) and a
    /// read returns every one of them.
    VersionVectors,
}

/// How writes reach the replicas.
#[derive(Clone, Debug, PartialEq)]
pub enum Replication {
    /// The leader acknowledges a write once it has applied it; followers apply it later.
    Async,
    /// The leader acknowledges once every follower has applied it.
    Sync,
    /// The leader acknowledges once `acks` replicas, itself included, have applied it
    /// (MySQL semi-sync with `wait_for_replica_count = acks - 1`).
    SemiSync { acks: u32 },
    /// Every replica takes writes; the coordinator (the replica the call reached) sends each
    /// operation to all `N` replicas and answers after `w` (writes) or `r` (reads) replies.
    Leaderless {
        r: u32,
        w: u32,
        read_repair: bool,
        resolve: Resolve,
    },
}

impl Replication {
    pub fn leaderless(&self) -> bool {
        matches!(self, Replication::Leaderless { .. })
    }
}

/// Where a leader-follower store serves reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadFrom {
    /// At the leader (the replica the call reached forwards the read).
    #[default]
    Leader,
    /// At the replica the call reached, leader or follower.
    Any,
}

/// Session guarantees a leader-follower store with `read_from: Any` keeps, by version tokens
/// as MongoDB's causally consistent sessions do (`afterClusterTime`): each session carries the
/// log position of its last acknowledged write and of the state its last read saw, and a
/// replica whose applied log is shorter than the token forwards the read to the leader
/// instead of answering (MongoDB waits; forwarding answers sooner and is what Azure Cosmos
/// DB's session consistency falls back to). Terry et al., "Session Guarantees for Weakly
/// Consistent Replicated Data" (PDIS 1994) define both guarantees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sessions {
    pub read_your_writes: bool,
    pub monotonic_reads: bool,
}

impl Sessions {
    pub fn any(&self) -> bool {
        self.read_your_writes || self.monotonic_reads
    }

    /// The log position a replica must have applied to serve a read of a session holding
    /// `tokens` (its last write's position, the position its last read saw).
    pub fn needed(&self, tokens: (u64, u64)) -> u64 {
        let w = if self.read_your_writes { tokens.0 } else { 0 };
        let r = if self.monotonic_reads { tokens.1 } else { 0 };
        w.max(r)
    }
}

/// Leadership by a lease measured on local clocks.
#[derive(Clone, Debug, PartialEq)]
pub struct Lease {
    /// How long a lease lasts on the holder's clock after its last renewal; followers wait
    /// this long on their own clocks after they last heard the leader before taking over.
    pub duration: SimDuration,
    /// Every write carries the leader's token (its term) and is acknowledged only once a
    /// majority of replicas, none of which has seen a newer token, has accepted it.
    pub fencing: bool,
}

/// One replicated store: a service whose replicas hold data.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// The service (an index into `WorldConfig::services`) whose replicas are the store's.
    pub service: usize,
    pub keys: u32,
    pub popularity: Popularity,
    /// The share of operations that are writes.
    pub writes: f64,
    pub replication: Replication,
    pub read_from: ReadFrom,
    /// Session guarantees kept by tokens (only with `ReadFrom::Any`).
    pub sessions: Sessions,
    /// How long a coordinator waits for the replies it needs before failing the operation
    /// (`unavailable`).
    pub timeout: SimDuration,
    /// A follower's work to apply one replicated write (its part of replication lag).
    pub apply: Distribution,
    /// How often replicas exchange heartbeats (leader liveness, lease renewal) and the store
    /// samples divergence.
    pub heartbeat: SimDuration,
    /// How long followers go without hearing the leader (on their own clocks) before one is
    /// promoted, when there is no lease.
    pub failover_after: SimDuration,
    /// From the decision to promote to the new leader taking writes.
    pub promotion_delay: SimDuration,
    pub lease: Option<Lease>,
    /// The most operations recorded for the anomaly checker.
    pub history: u32,
    /// Callers' own workloads (a client's, a plan step's); the others use the store's
    /// `keys`, `popularity` and `writes`.
    pub workloads: Vec<workload::Workload>,
}

impl StoreConfig {
    /// The default bound of the history.
    pub const HISTORY: u32 = 200_000;
}

/// Draws keys by popularity: a cumulative table for Zipf, a plain draw for uniform.
pub struct KeyPicker {
    keys: u32,
    cumulative: Vec<f64>,
}

impl KeyPicker {
    pub fn new(keys: u32, popularity: &Popularity) -> KeyPicker {
        let cumulative = match popularity {
            Popularity::Uniform => Vec::new(),
            Popularity::Zipf { s } => {
                let mut total = 0.0;
                let mut c: Vec<f64> = (0..keys)
                    .map(|i| {
                        total += 1.0 / f64::from(i + 1).powf(*s);
                        total
                    })
                    .collect();
                for x in &mut c {
                    *x /= total;
                }
                c
            }
        };
        KeyPicker { keys, cumulative }
    }

    pub fn pick(&self, rng: &mut SimRng) -> u32 {
        if self.cumulative.is_empty() {
            return rng.below_inclusive(u64::from(self.keys - 1)) as u32;
        }
        let u = rng.uniform();
        (self.cumulative.partition_point(|&c| c < u) as u32).min(self.keys - 1)
    }
}

/// Whether every read quorum of `r` replicas meets every write quorum of `w` among `n`: the
/// condition `r + w > n` under which a read sees the latest acknowledged write, absent
/// failures of the quorums themselves (sloppy quorums are not modelled).
pub fn quorums_intersect(n: u32, r: u32, w: u32) -> bool {
    r + w > n
}

/// The least overlap between any read quorum and any write quorum: `max(0, r + w - n)`.
pub fn least_overlap(n: u32, r: u32, w: u32) -> u32 {
    (r + w).saturating_sub(n)
}

/// The probability that a read quorum of `r` replicas chosen uniformly among `n` misses every
/// one of the `w` replicas a write has reached: `C(n - w, r) / C(n, r)` (0 when `r + w > n`).
pub fn miss_probability(n: u32, r: u32, w: u32) -> f64 {
    if r + w > n {
        return 0.0;
    }
    let mut p = 1.0;
    for i in 0..r {
        p *= f64::from(n - w - i) / f64::from(n - i);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_token_asks_only_for_the_guarantees_chosen() {
        let both = Sessions {
            read_your_writes: true,
            monotonic_reads: true,
        };
        assert_eq!(both.needed((7, 3)), 7);
        assert_eq!(both.needed((2, 9)), 9);
        let ryw = Sessions {
            read_your_writes: true,
            ..Sessions::default()
        };
        assert_eq!(ryw.needed((2, 9)), 2);
        let mr = Sessions {
            monotonic_reads: true,
            ..Sessions::default()
        };
        assert_eq!(mr.needed((7, 3)), 3);
        assert_eq!(Sessions::default().needed((7, 3)), 0);
        assert!(!Sessions::default().any() && mr.any());
    }

    #[test]
    fn quorum_arithmetic() {
        assert!(quorums_intersect(3, 2, 2));
        assert!(!quorums_intersect(3, 1, 2));
        assert!(quorums_intersect(5, 1, 5));
        assert_eq!(least_overlap(5, 3, 3), 1);
        assert_eq!(least_overlap(3, 1, 1), 0);
        assert_eq!(miss_probability(3, 2, 2), 0.0);
        // n = 3, w = 1, r = 1: the read misses the one written replica 2 times in 3.
        assert!((miss_probability(3, 1, 1) - 2.0 / 3.0).abs() < 1e-12);
        // n = 5, w = 2, r = 2: C(3,2)/C(5,2) = 3/10.
        assert!((miss_probability(5, 2, 2) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn every_pair_of_quorums_meets_exactly_when_the_arithmetic_says() {
        // Brute force over all subsets for small n.
        for n in 1..=5u32 {
            for r in 1..=n {
                for w in 1..=n {
                    let subsets = |k: u32| (0u32..1 << n).filter(move |m| m.count_ones() == k);
                    let all_meet = subsets(r).all(|a| subsets(w).all(|b| a & b != 0));
                    assert_eq!(all_meet, quorums_intersect(n, r, w), "n={n} r={r} w={w}");
                    let min = subsets(r)
                        .flat_map(|a| subsets(w).map(move |b| (a & b).count_ones()))
                        .min()
                        .unwrap();
                    assert_eq!(min, least_overlap(n, r, w));
                    let misses = subsets(r).filter(|a| a & ((1 << w) - 1) == 0).count();
                    let p = misses as f64 / subsets(r).count() as f64;
                    assert!((p - miss_probability(n, r, w)).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn zipf_prefers_the_first_keys_and_uniform_does_not() {
        let mut rng = SimRng::from_seed(3);
        let z = KeyPicker::new(100, &Popularity::Zipf { s: 1.2 });
        let u = KeyPicker::new(100, &Popularity::Uniform);
        let n = 20_000;
        let first_z = (0..n).filter(|_| z.pick(&mut rng) == 0).count() as f64 / n as f64;
        let first_u = (0..n).filter(|_| u.pick(&mut rng) == 0).count() as f64 / n as f64;
        let h: f64 = (1..=100).map(|i| 1.0 / f64::from(i).powf(1.2)).sum();
        // Binomial standard deviations: 4 of them.
        let sd = |p: f64| (p * (1.0 - p) / n as f64).sqrt();
        assert!((first_z - 1.0 / h).abs() < 4.0 * sd(1.0 / h), "{first_z}");
        assert!((first_u - 0.01).abs() < 4.0 * sd(0.01), "{first_u}");
    }
}
