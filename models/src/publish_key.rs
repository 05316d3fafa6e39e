//! A publish step's own message key (issue 15): the business key a producer gives each message
//! (an order's customer, an account), written with the key-space spelling of the stores'
//! workloads (`keys: Range(from, count)` or `Set([...])`, `popularity: Uniform | Zipf(s)`).
//!
//! The key is drawn once per publishing call where the call starts, from a stream of the
//! calling edge's own, so every retry of the call carries the same key. What it decides is the
//! broker's business:
//!
//! - on an SQS FIFO queue it is the message group ID (Developer Guide, "Using the message group
//!   ID with Amazon SQS FIFO queues"): messages with one key are received in order, one group
//!   at a time. The deduplication ID stays the publishing call's identity ("Using the message
//!   deduplication ID"), so a retried publish is still deduplicated and two calls with the same
//!   key are two messages;
//! - on a standard queue that measures order (`groups`) it is the ordering key measured;
//! - on a topic it decides the partition, `hash(key) % partitions`, as Kafka's default
//!   partitioner does for a keyed record.
//!
//! A consumer's `dedupe` never looks at it: it recognises a message's identity (a redelivery,
//! a retried publish's copy), not its business key.

use std::sync::Arc;

use sim_core::SimRng;

use crate::data::{KeyPicker, Popularity};

/// The highest count of keys a publish step may draw from (the stores' bound).
pub const MAX_KEYS: u32 = 1_000_000;

/// A message's key as the broker compares it: a number as written, or a name's 64-bit FNV-1a
/// hash with the top bit set, so that no name equals a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MessageKey(pub u64);

impl MessageKey {
    pub fn number(n: u32) -> MessageKey {
        MessageKey(u64::from(n))
    }

    pub fn name(name: &str) -> MessageKey {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        MessageKey(h | 1 << 63)
    }
}

/// The keys a step draws from, in rank order: the first is the most popular under Zipf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageKeys {
    /// `count` consecutive numbers from `from`.
    Range { from: u32, count: u32 },
    /// These distinct keys.
    Set(Vec<MessageKey>),
}

impl MessageKeys {
    pub fn len(&self) -> u32 {
        match self {
            MessageKeys::Range { count, .. } => *count,
            MessageKeys::Set(keys) => keys.len() as u32,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of rank `rank` (from 0).
    pub fn key(&self, rank: u32) -> MessageKey {
        debug_assert!(rank < self.len());
        match self {
            MessageKeys::Range { from, .. } => MessageKey::number(from + rank),
            MessageKeys::Set(keys) => keys[rank as usize],
        }
    }
}

/// A publish step's key: its keys and their popularity.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishKey {
    pub keys: MessageKeys,
    pub popularity: Popularity,
}

/// A publish step's keys with their picker (a Zipf table), built once and shared by the step's
/// edges (one per replica of the publishing service).
pub struct KeySpace {
    keys: MessageKeys,
    picker: KeyPicker,
}

impl KeySpace {
    pub fn new(key: &PublishKey) -> KeySpace {
        assert!(!key.keys.is_empty(), "a publish key has at least one key");
        KeySpace {
            picker: KeyPicker::new(key.keys.len(), &key.popularity),
            keys: key.keys.clone(),
        }
    }
}

/// A publish step's key draws at one calling edge: its key space and its own random stream.
pub struct KeyDraws {
    space: Arc<KeySpace>,
    rng: SimRng,
}

impl KeyDraws {
    pub fn new(space: Arc<KeySpace>, rng: SimRng) -> KeyDraws {
        KeyDraws { space, rng }
    }

    pub fn draw(&mut self) -> MessageKey {
        let space = &*self.space;
        space.keys.key(space.picker.pick(&mut self.rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(keys: MessageKeys, popularity: Popularity, seed: u64) -> KeyDraws {
        let space = KeySpace::new(&PublishKey { keys, popularity });
        KeyDraws::new(Arc::new(space), SimRng::from_seed(seed))
    }

    /// Pearson's statistic of `counts` against shares `expected` of their total.
    fn chi_square(counts: &[u64], expected: &[f64]) -> f64 {
        let n: u64 = counts.iter().sum();
        let total: f64 = expected.iter().sum();
        counts
            .iter()
            .zip(expected)
            .map(|(&c, &e)| {
                let e = n as f64 * e / total;
                (c as f64 - e).powi(2) / e
            })
            .sum()
    }

    #[test]
    fn zipf_keys_follow_the_distribution_by_a_chi_square_test() {
        let names: Vec<MessageKey> = (0..15)
            .map(|i| MessageKey::name(&format!("account-{i}")))
            .collect();
        let s = 1.1;
        let mut d = draws(MessageKeys::Set(names.clone()), Popularity::Zipf { s }, 5);
        let mut counts = vec![0u64; names.len()];
        for _ in 0..60_000 {
            let k = d.draw();
            counts[names
                .iter()
                .position(|&n| n == k)
                .expect("a key of the set")] += 1;
        }
        let weights: Vec<f64> = (1..=15).map(|i| 1.0 / f64::from(i).powf(s)).collect();
        let chi2 = chi_square(&counts, &weights);
        // The 99.9 % quantile of chi-square with 14 degrees of freedom.
        assert!(chi2 < 36.12, "chi-square {chi2} over 14 degrees of freedom");
        // And the test can fail: the same counts are far from uniform.
        assert!(chi_square(&counts, &[1.0; 15]) > 1000.0);
    }

    #[test]
    fn a_range_is_its_numbers_and_one_key_is_always_drawn() {
        let mut d = draws(
            MessageKeys::Range { from: 7, count: 3 },
            Popularity::Uniform,
            1,
        );
        for _ in 0..100 {
            assert!((7..10).contains(&d.draw().0));
        }
        let k = MessageKey::name("k");
        let mut one = draws(MessageKeys::Set(vec![k]), Popularity::Zipf { s: 2.0 }, 2);
        assert!((0..100).all(|_| one.draw() == k));
    }

    #[test]
    fn names_never_equal_numbers() {
        assert_ne!(MessageKey::name("7"), MessageKey::number(7));
        assert_ne!(MessageKey::name("a"), MessageKey::name("b"));
        assert_eq!(MessageKey::name("a"), MessageKey::name("a"));
        assert!(MessageKey::name("").0 >= 1 << 63);
    }
}
