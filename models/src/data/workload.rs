//! Key workloads of a store's callers: which keys one client's, or one plan step's, operations
//! use, how popular each is, and their read/write mix, drawn where the request starts (so a
//! retry or a hedge re-sends the same key and kind) from a stream of the caller's own.
//!
//! A caller without a workload of its own leaves the choice to the store: its coordinator draws
//! each operation from the store's `keys`, `popularity` and `writes` when the attempt reaches
//! it, as before workloads existed.

use sim_core::SimRng;

use super::{KeyPicker, Popularity};

/// Where operations with their own workload come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A client calling the store directly (an index into `WorldConfig::clients`).
    Client(usize),
    /// A call of a service's plan: the service, its endpoint (0: its own) and the call's
    /// index in that endpoint's flattened plan (parallel and `one_of` members each count).
    Call {
        service: usize,
        endpoint: u16,
        index: u32,
    },
}

/// The keys a workload uses, in rank order: the first is the most popular under Zipf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keys {
    /// `count` consecutive keys from `from`.
    Range { from: u32, count: u32 },
    /// These keys, distinct, in this order.
    Set(Vec<u32>),
}

impl Keys {
    pub fn len(&self) -> u32 {
        match self {
            Keys::Range { count, .. } => *count,
            Keys::Set(keys) => keys.len() as u32,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of rank `rank` (from 0).
    pub fn key(&self, rank: u32) -> u32 {
        debug_assert!(rank < self.len());
        match self {
            Keys::Range { from, .. } => from + rank,
            Keys::Set(keys) => keys[rank as usize],
        }
    }
}

/// One caller's workload on a store, resolved: fields the scenario left out take the store's.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub origin: Origin,
    pub keys: Keys,
    /// Over the keys by rank: rank `i` weighs `1 / (i + 1)^s` under Zipf.
    pub popularity: Popularity,
    /// The share of its operations that write.
    pub writes: f64,
}

/// One operation as drawn at its origin: it travels with the call through every attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub key: u32,
    pub write: bool,
    /// The workload it was drawn from: an index into `StoreConfig::workloads`.
    pub workload: u32,
}

/// A workload at one calling edge: its picker and its own random stream.
pub struct Draws {
    index: u32,
    keys: Keys,
    picker: KeyPicker,
    writes: f64,
    rng: SimRng,
}

impl Draws {
    /// The draws of `workload`, the `index`th of its store's.
    pub fn new(workload: &Workload, index: u32, rng: SimRng) -> Draws {
        assert!(!workload.keys.is_empty(), "a workload has at least one key");
        assert!((0.0..=1.0).contains(&workload.writes));
        Draws {
            index,
            picker: KeyPicker::new(workload.keys.len(), &workload.popularity),
            keys: workload.keys.clone(),
            writes: workload.writes,
            rng,
        }
    }

    /// The next operation: its key, then its kind (the store's own draws keep that order).
    pub fn draw(&mut self) -> Operation {
        let key = self.keys.key(self.picker.pick(&mut self.rng));
        let write = self.rng.chance(self.writes);
        Operation {
            key,
            write,
            workload: self.index,
        }
    }
}

/// What one workload's operations did, for the reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadReport {
    /// Its origin in words: `client NAME`, or `SERVICE calls[i]` (`SERVICE/ENDPOINT calls[i]`).
    pub origin: String,
    pub reads_ok: u64,
    pub reads_failed: u64,
    pub writes_ok: u64,
    pub writes_failed: u64,
    /// Its reads the checker found stale (among those recorded in the history).
    pub stale_reads: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(keys: Keys, popularity: Popularity, writes: f64, seed: u64) -> Draws {
        let w = Workload {
            origin: Origin::Client(0),
            keys,
            popularity,
            writes,
        };
        Draws::new(&w, 0, SimRng::from_seed(seed))
    }

    /// The two-sided 99.9 % normal quantile.
    const Z999: f64 = 3.2905;

    #[test]
    fn the_share_of_writes_is_the_workloads_within_a_binomial_interval() {
        let n = 50_000u32;
        for (writes, seed) in [(0.0, 1), (0.1, 2), (0.5, 3), (0.93, 4), (1.0, 5)] {
            let mut d = draws(
                Keys::Range { from: 0, count: 10 },
                Popularity::Uniform,
                writes,
                seed,
            );
            let w = (0..n).filter(|_| d.draw().write).count() as f64 / f64::from(n);
            let half = Z999 * (writes * (1.0 - writes) / f64::from(n)).sqrt();
            assert!(
                (w - writes).abs() <= half,
                "writes {writes}: drew {w}, 99.9 % half-width {half}"
            );
        }
    }

    #[test]
    fn zipf_ranks_follow_the_distribution_by_a_chi_square_test() {
        // 20 keys of a set, ranked in the set's order: rank i weighs 1 / (i + 1)^s.
        let set: Vec<u32> = (0..20).map(|i| 1000 - 7 * i).collect();
        let s = 1.1;
        let n = 100_000u32;
        let mut d = draws(Keys::Set(set.clone()), Popularity::Zipf { s }, 0.5, 11);
        let mut counts = vec![0u32; set.len()];
        for _ in 0..n {
            let key = d.draw().key;
            let rank = set
                .iter()
                .position(|&k| k == key)
                .expect("a key of the set");
            counts[rank] += 1;
        }
        let h: f64 = (1..=20).map(|i| 1.0 / f64::from(i).powf(s)).sum();
        let chi2: f64 = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let expected = f64::from(n) / (i as f64 + 1.0).powf(s) / h;
                (f64::from(c) - expected).powi(2) / expected
            })
            .sum();
        // The 99.9 % quantile of chi-square with 19 degrees of freedom.
        assert!(chi2 < 43.82, "chi-square {chi2} over 19 degrees of freedom");
    }

    #[test]
    fn uniform_keys_stay_in_the_range_and_cover_it() {
        let mut d = draws(
            Keys::Range {
                from: 40,
                count: 10,
            },
            Popularity::Uniform,
            0.5,
            7,
        );
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let k = d.draw().key;
            assert!((40..50).contains(&k), "{k}");
            seen[(k - 40) as usize] += 1;
        }
        // Each has probability 0.1: a 99.9 % binomial interval around 1,000.
        let half = Z999 * (10_000.0f64 * 0.1 * 0.9).sqrt();
        for c in seen {
            assert!((f64::from(c) - 1000.0).abs() <= half, "{seen:?}");
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_operations() {
        let mk = || {
            draws(
                Keys::Range { from: 0, count: 50 },
                Popularity::Zipf { s: 0.9 },
                0.3,
                99,
            )
        };
        let (mut a, mut b) = (mk(), mk());
        let x: Vec<Operation> = (0..100).map(|_| a.draw()).collect();
        let y: Vec<Operation> = (0..100).map(|_| b.draw()).collect();
        assert_eq!(x, y);
    }
}
