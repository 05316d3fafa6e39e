//! The latencies of the window being filled, kept as a short list of samples while the window
//! has few of them and as a histogram once it has many.
//!
//! Closing a window needs its p50, p99 and maximum and then adds its latencies to the whole
//! run's histogram. A histogram does that in passes over its used buckets (about 1,500 for
//! latencies from 100 us to 500 ms), whatever the number of samples: in a topology of hundreds
//! of services, each statistics object sees a hundred samples per window, and the passes over
//! ~12 KB of counters per histogram cost more than the samples themselves and push the rest of
//! the world out of the caches. A list of samples costs in proportion to the samples and is
//! written in order. The quantiles are the same bits either way: a histogram's quantile is the
//! midpoint of the bucket that holds the rank-th smallest value, clamped to the minimum and
//! maximum, and the list computes exactly that from the rank-th smallest sample.

use super::{Histogram, bucket_of, bucket_range, rank};
use sim_core::SimDuration;

/// Samples a window keeps as a list; one more and they move into the histogram. Above it,
/// the histogram's passes cost less per sample than selecting in the list.
const LISTED: usize = 256;

/// `repr(C)`: the list's header first, so that recording a sample reads the cache line of
/// [`super::OutcomeStats`] it shares with the other fields a sample writes.
#[derive(Clone, Debug, Default, PartialEq)]
#[repr(C)]
pub(super) struct WindowLatencies {
    /// The window's latencies in nanoseconds, in arrival order (selection reorders them when
    /// the window closes); once there were more than [`LISTED`], the first [`LISTED`] of them,
    /// which are then in `many` too.
    listed: Vec<u64>,
    /// All the window's latencies once there were more than [`LISTED`] (empty otherwise),
    /// allocated the first time a window needs it and kept for the next ones.
    many: Option<Box<Histogram>>,
}

impl WindowLatencies {
    #[inline]
    pub(super) fn record(&mut self, value: SimDuration) {
        if self.listed.len() < LISTED {
            self.listed.push(value.as_nanos());
        } else {
            self.record_many(value);
        }
    }

    /// A sample past the list's [`LISTED`]: the first one moves the list into the histogram.
    #[inline(never)]
    fn record_many(&mut self, value: SimDuration) {
        let many = self.many.get_or_insert_with(Box::default);
        if many.count() == 0 {
            for &v in &self.listed {
                many.record(SimDuration(v));
            }
        }
        many.record(value);
    }

    /// The histogram, when the window has more than [`LISTED`] samples.
    fn spilled(&self) -> Option<&Histogram> {
        self.many.as_deref().filter(|h| h.count() > 0)
    }

    pub(super) fn count(&self) -> u64 {
        self.spilled()
            .map_or(self.listed.len() as u64, Histogram::count)
    }

    /// The window's p50, p90, p99 and maximum, with its latencies added to `whole` and
    /// itself emptied (keeping its memory); `None` when it holds none.
    pub(super) fn close_into(&mut self, whole: &mut Histogram) -> Option<[SimDuration; 4]> {
        if let Some(many) = self.many.as_deref_mut().filter(|h| h.count() > 0) {
            let [p50, p90, p99] = many.quantiles([0.5, 0.9, 0.99]);
            let max = many.max();
            many.drain_into(whole);
            self.listed.clear();
            return Some([p50, p90, p99, max]);
        }
        let n = self.listed.len() as u64;
        if n == 0 {
            return None;
        }
        let (mut min, mut max) = (u64::MAX, 0);
        for &v in &self.listed {
            min = min.min(v);
            max = max.max(v);
        }
        whole.record_all(&self.listed, min, max);
        // Each selection leaves everything before its place at most its value, so the next
        // lower quantile is found among those.
        let mut below = self.listed.len();
        let mut pick = |r: u64, below: &mut usize| {
            let i = (r - 1) as usize;
            if i >= *below {
                return None;
            }
            let v = *self.listed[..*below].select_nth_unstable(i).1;
            *below = i;
            Some(v)
        };
        let v99 = pick(rank(0.99, n), &mut below).unwrap_or(max);
        let v90 = pick(rank(0.9, n), &mut below).unwrap_or(v99);
        let v50 = pick(rank(0.5, n), &mut below).unwrap_or(v90);
        let at = |v: u64| {
            let (low, high) = bucket_range(bucket_of(v));
            SimDuration((low + (high - low) / 2).clamp(min, max))
        };
        self.listed.clear();
        Some([at(v50), at(v90), at(v99), SimDuration(max)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Listed or spilled, a window closes with the quantiles, maximum and whole-run
        /// histogram a histogram of the same samples gives, bit for bit.
        #[test]
        fn closes_like_a_histogram(
            windows in proptest::collection::vec(
                proptest::collection::vec(0u64..1u64 << 40, 0..2 * LISTED), 1..4),
        ) {
            let mut window = WindowLatencies::default();
            let (mut whole, mut expected_whole) = (Histogram::new(), Histogram::new());
            for xs in windows {
                let mut h = Histogram::new();
                for &x in &xs {
                    window.record(SimDuration(x));
                    h.record(SimDuration(x));
                }
                prop_assert_eq!(window.count(), xs.len() as u64);
                let expected = (h.count() > 0).then(|| {
                    let [p50, p90, p99] = h.quantiles([0.5, 0.9, 0.99]);
                    [p50, p90, p99, h.max()]
                });
                prop_assert_eq!(window.close_into(&mut whole), expected);
                prop_assert_eq!(window.count(), 0);
                h.drain_into(&mut expected_whole);
            }
            prop_assert_eq!(whole.count(), expected_whole.count());
            prop_assert_eq!(whole.min(), expected_whole.min());
            prop_assert_eq!(whole.max(), expected_whole.max());
            prop_assert_eq!(whole.mean_ns(), expected_whole.mean_ns());
            for q in [0.0, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
                prop_assert_eq!(whole.quantile(q), expected_whole.quantile(q));
            }
        }
    }

    #[test]
    fn ties_and_single_samples() {
        let mut window = WindowLatencies::default();
        let mut whole = Histogram::new();
        window.record(SimDuration(1_234_567));
        let one = SimDuration(1_234_567);
        assert_eq!(window.close_into(&mut whole), Some([one, one, one, one]));
        for _ in 0..10 {
            window.record(SimDuration(5_000));
        }
        let five = SimDuration(5_000);
        assert_eq!(
            window.close_into(&mut whole),
            Some([five, five, five, five])
        );
        assert_eq!(window.close_into(&mut whole), None);
        assert_eq!(whole.count(), 11);
    }
}
