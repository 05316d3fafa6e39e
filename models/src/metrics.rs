//! Streaming metrics: a log-linear latency histogram with bounded relative error, outcome
//! counters, and fixed-width time windows. Memory grows with windows and services, never with
//! the number of requests.

use sim_core::{SimDuration, SimTime};

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;

/// Buckets a quantile's scan adds up at a time before it looks at them one by one.
const QUANTILE_BLOCK: usize = 16;

/// A latency histogram in nanoseconds.
///
/// Values below 256 ns are exact; above, each power of two is split into 128 buckets, so a
/// bucket is at most 1/128 of its lower bound wide. Quantiles report the bucket's midpoint
/// (clamped to the exact min and max), so their relative error is at most 1/256 (0.39%).
/// Min, max, count and sum (hence the mean) are exact.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Counts of the buckets from `base` on: only the span between the smallest and the largest
    /// bucket ever used is allocated (latencies of milliseconds leave the ~1,300 buckets below
    /// 100 us unallocated).
    counts: Vec<u64>,
    base: usize,
    total: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exponent = 63 - v.leading_zeros();
    let shift = exponent - SUB_BITS;
    let sub = v >> shift; // in [SUB, 2 * SUB)
    (((u64::from(shift) + 1) << SUB_BITS) + sub - SUB) as usize
}

/// The inclusive range of values in bucket `i`.
fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < 2 * SUB {
        return (i, i);
    }
    let shift = (i >> SUB_BITS) - 1;
    let sub = (i & (SUB - 1)) + SUB;
    let low = sub << shift;
    (low, low + ((1u64 << shift) - 1))
}

/// The rank (from 1) of quantile `q` among `total > 0` values: the smallest value with at
/// least `ceil(q * total)` values at most it.
fn rank(q: f64, total: u64) -> u64 {
    ((q * total as f64).ceil() as u64).clamp(1, total)
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn record(&mut self, value: SimDuration) {
        let v = value.as_nanos();
        let k = self.slot(bucket_of(v));
        self.counts[k] += 1;
        if self.total == 0 || v < self.min_ns {
            self.min_ns = v;
        }
        self.max_ns = self.max_ns.max(v);
        self.total += 1;
        self.sum_ns += u128::from(v);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The index in `counts` of bucket `i`, allocating it if it is outside the span.
    #[inline]
    fn slot(&mut self, i: usize) -> usize {
        let k = i.wrapping_sub(self.base);
        if k < self.counts.len() {
            k
        } else {
            self.widen(i, i);
            i - self.base
        }
    }

    /// Makes the span cover buckets `first..=last`.
    #[cold]
    fn widen(&mut self, first: usize, last: usize) {
        if self.counts.is_empty() {
            self.base = first;
            self.counts.resize(last - first + 1, 0);
            return;
        }
        if first < self.base {
            let grow = self.base - first;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.base = first;
        }
        if last >= self.base + self.counts.len() {
            self.counts.resize(last - self.base + 1, 0);
        }
    }

    /// The counts of buckets `first..=last`, which must be inside the span.
    fn span(&self, first: usize, last: usize) -> &[u64] {
        &self.counts[first - self.base..=last - self.base]
    }

    pub fn min(&self) -> SimDuration {
        SimDuration(self.min_ns)
    }

    pub fn max(&self) -> SimDuration {
        SimDuration(self.max_ns)
    }

    /// The exact mean in nanoseconds; 0 when empty.
    pub fn mean_ns(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` in [0, 1]: the smallest recorded value `v` such that at least
    /// `ceil(q * count)` values are `<= v`, to within the histogram's precision. 0 when empty.
    pub fn quantile(&self, q: f64) -> SimDuration {
        self.quantiles([q])[0]
    }

    /// Several quantiles in one scan of the buckets; `qs` must be non-decreasing.
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> [SimDuration; N] {
        let mut out = [SimDuration::ZERO; N];
        if self.total == 0 {
            for &q in &qs {
                assert!((0.0..=1.0).contains(&q), "quantile out of range: {q}");
            }
            return out;
        }
        let (first, last) = self.used_buckets();
        let counts = self.span(first, last);
        let mut seen = 0;
        // The scan's place in `counts`: buckets outside [first, last] are empty, so it starts
        // and ends there.
        let mut at = 0;
        for (slot, &q) in out.iter_mut().zip(&qs) {
            assert!((0.0..=1.0).contains(&q), "quantile out of range: {q}");
            let rank = rank(q, self.total);
            // Whole blocks that end below the rank are skipped by their sum (a window's
            // latencies spread over a thousand buckets or more, most of them empty).
            while let Some(block) = counts.get(at..at + QUANTILE_BLOCK) {
                let sum: u64 = block.iter().sum();
                if seen + sum >= rank {
                    break;
                }
                seen += sum;
                at += QUANTILE_BLOCK;
            }
            while seen + counts[at] < rank {
                seen += counts[at];
                at += 1;
                assert!(at < counts.len(), "rank {rank} beyond total {}", self.total);
            }
            let (low, high) = bucket_range(first + at);
            let mid = low + (high - low) / 2;
            *slot = SimDuration(mid.clamp(self.min_ns, self.max_ns));
        }
        out
    }

    /// The buckets of the smallest and the largest recorded value: every other bucket is empty.
    fn used_buckets(&self) -> (usize, usize) {
        debug_assert!(self.total > 0);
        (bucket_of(self.min_ns), bucket_of(self.max_ns))
    }

    /// Empties the histogram, keeping its memory. Only the used buckets are touched: a window's
    /// latencies span a few hundred of the ~2,700 buckets.
    pub fn clear(&mut self) {
        if self.total > 0 {
            let (first, last) = self.used_buckets();
            let base = self.base;
            self.counts[first - base..=last - base].fill(0);
        }
        debug_assert!(self.counts.iter().all(|&c| c == 0));
        self.total = 0;
        self.sum_ns = 0;
        self.min_ns = 0;
        self.max_ns = 0;
    }

    /// Adds another histogram's counts (for merging runs).
    pub fn merge(&mut self, other: &Histogram) {
        if other.total == 0 {
            return;
        }
        let (first, last) = other.used_buckets();
        self.widen(first, last);
        let base = self.base;
        for (a, b) in self.counts[first - base..=last - base]
            .iter_mut()
            .zip(other.span(first, last))
        {
            *a += b;
        }
        self.merge_summary(other);
    }

    /// Adds this histogram's counts to `whole` and empties it, in one pass over the used
    /// buckets (a window's histogram into the whole run's).
    pub fn drain_into(&mut self, whole: &mut Histogram) {
        if self.total == 0 {
            return;
        }
        let (first, last) = self.used_buckets();
        whole.widen(first, last);
        let (wb, sb) = (whole.base, self.base);
        for (a, b) in whole.counts[first - wb..=last - wb]
            .iter_mut()
            .zip(&mut self.counts[first - sb..=last - sb])
        {
            *a += *b;
            *b = 0;
        }
        whole.merge_summary(self);
        self.total = 0;
        self.sum_ns = 0;
        self.min_ns = 0;
        self.max_ns = 0;
    }

    /// Records every value of `values` (nanoseconds), whose smallest and largest are `min` and
    /// `max`: the summary is updated once, not per value.
    pub(crate) fn record_all(&mut self, values: &[u64], min: u64, max: u64) {
        if values.is_empty() {
            return;
        }
        self.widen(bucket_of(min), bucket_of(max));
        let base = self.base;
        let mut sum = 0u128;
        for &v in values {
            self.counts[bucket_of(v) - base] += 1;
            sum += u128::from(v);
        }
        let total = values.len() as u64;
        self.merge_summary(&Histogram {
            total,
            sum_ns: sum,
            min_ns: min,
            max_ns: max,
            ..Histogram::default()
        });
    }

    /// Count, sum, min and max of `other` added to this histogram's.
    fn merge_summary(&mut self, other: &Histogram) {
        self.min_ns = if self.total == 0 {
            other.min_ns
        } else {
            self.min_ns.min(other.min_ns)
        };
        self.max_ns = self.max_ns.max(other.max_ns);
        self.total += other.total;
        self.sum_ns += other.sum_ns;
    }
}

/// The number of failure causes.
pub const CAUSES: usize = 11;

/// Why an attempt or a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureCause {
    /// The caller's timeout fired before the reply arrived.
    Timeout,
    /// The callee's queue was full.
    Rejected,
    /// The callee failed on its own (its error rate).
    Error,
    /// The callee failed because one of its own downstream calls failed.
    Dependency,
    /// The caller's circuit breaker did not permit the call (Resilience4j
    /// `CallNotPermittedException`).
    CircuitOpen,
    /// The caller's bulkhead was full, or its wait for a permit ran out.
    BulkheadFull,
    /// The callee's rate limiter refused the request.
    RateLimited,
    /// The callee's load shedder dropped the request (CoDel, concurrency limit, queue length).
    Shed,
    /// The caller's client-side adaptive throttle refused it locally.
    Throttled,
    /// The callee already holds this idempotency key for a request still in progress.
    Conflict,
    /// The connection was refused: the callee's process is down, or a partition refuses.
    Unavailable,
}

impl FailureCause {
    pub const ALL: [FailureCause; CAUSES] = [
        FailureCause::Timeout,
        FailureCause::Rejected,
        FailureCause::Error,
        FailureCause::Dependency,
        FailureCause::CircuitOpen,
        FailureCause::BulkheadFull,
        FailureCause::RateLimited,
        FailureCause::Shed,
        FailureCause::Throttled,
        FailureCause::Conflict,
        FailureCause::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureCause::Timeout => "timeout",
            FailureCause::Rejected => "rejected",
            FailureCause::Error => "error",
            FailureCause::Dependency => "dependency",
            FailureCause::CircuitOpen => "circuit_open",
            FailureCause::BulkheadFull => "bulkhead_full",
            FailureCause::RateLimited => "rate_limited",
            FailureCause::Shed => "shed",
            FailureCause::Throttled => "throttled",
            FailureCause::Conflict => "conflict",
            FailureCause::Unavailable => "unavailable",
        }
    }
}

/// The outcome of one attempt or call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// An answer made by a fallback somewhere on the way: an answer, not a full success.
    Degraded,
    Failed(FailureCause),
}

impl Outcome {
    /// Whether the caller got an answer (full or degraded).
    pub fn is_answer(self) -> bool {
        !matches!(self, Outcome::Failed(_))
    }
}

/// The most windows a time series keeps. When a series needs more, neighbours merge pairwise
/// and the window doubles, so memory stays flat however long the run; every series of a run
/// coarsens at the same simulated times (a function of the time alone), so they keep one width.
/// Above every library scenario's window count at its default length (mm1: 11,112).
pub const MAX_WINDOWS: usize = 12_288;

/// The width of the windows of a run of length `end` whose configured window is `window`: the
/// configured one doubled until at most [`MAX_WINDOWS`] cover the run.
pub fn coarsened_window(window: SimDuration, end: SimTime) -> SimDuration {
    let mut window_ns = window.as_nanos();
    while windows_to(end, window_ns) > MAX_WINDOWS {
        window_ns = window_ns.saturating_mul(2);
    }
    SimDuration(window_ns)
}

/// Windows of `window_ns` needed to cover `[0, end)`.
pub(crate) fn windows_to(end: SimTime, window_ns: u64) -> usize {
    usize::try_from(end.as_nanos().div_ceil(window_ns)).unwrap_or(usize::MAX)
}

/// Merges neighbours pairwise in place; an odd last one stays alone.
pub(crate) fn merge_pairs<T: Copy>(items: &mut Vec<T>, merge: impl Fn(T, T) -> T) {
    let merged = items.len().div_ceil(2);
    for i in 0..merged {
        let first = items[2 * i];
        items[i] = match items.get(2 * i + 1) {
            Some(&second) => merge(first, second),
            None => first,
        };
    }
    items.truncate(merged);
}

/// Outcomes of one time window, by the time the outcome was known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Successful answers, degraded ones included.
    pub ok: u64,
    /// Of `ok`, the answers a fallback made (a static or cached answer, a skipped optional
    /// dependency).
    pub degraded: u64,
    /// Failures, indexed like [`FailureCause::ALL`].
    pub failed_by_cause: [u64; CAUSES],
    /// Sum of the latencies of the successful requests that ended in the window.
    pub ok_latency_ns_sum: u64,
    /// Latency percentiles of the window's successful requests (0 when there were none), with
    /// the histogram's precision.
    pub latency_ns_p50: u64,
    pub latency_ns_p99: u64,
    pub latency_ns_max: u64,
    /// The window's p90, for the HTML report's percentile bands (after the others so that
    /// the existing fields keep their order).
    pub latency_ns_p90: u64,
}

impl Window {
    /// Two neighbouring windows as one. Counts and sums add up and the maximum is exact; the
    /// percentiles of the union are not known, so each is the larger of the two: an upper bound
    /// (at least 99 % of each half's answers are at most its p99, so of the union too).
    fn merged(self, other: Window) -> Window {
        let mut failed_by_cause = self.failed_by_cause;
        for (a, b) in failed_by_cause.iter_mut().zip(other.failed_by_cause) {
            *a += b;
        }
        Window {
            ok: self.ok + other.ok,
            degraded: self.degraded + other.degraded,
            failed_by_cause,
            ok_latency_ns_sum: self.ok_latency_ns_sum + other.ok_latency_ns_sum,
            latency_ns_p50: self.latency_ns_p50.max(other.latency_ns_p50),
            latency_ns_p99: self.latency_ns_p99.max(other.latency_ns_p99),
            latency_ns_max: self.latency_ns_max.max(other.latency_ns_max),
            latency_ns_p90: self.latency_ns_p90.max(other.latency_ns_p90),
        }
    }

    pub fn failed(&self) -> u64 {
        self.failed_by_cause.iter().sum()
    }

    /// ok / (ok + failed), or `None` when nothing finished in the window.
    pub fn availability(&self) -> Option<f64> {
        let done = self.ok + self.failed();
        (done > 0).then(|| self.ok as f64 / done as f64)
    }
}

/// Outcomes of requests to one target, as seen by their callers.
///
/// Outcomes must be recorded in non-decreasing time order (the engine guarantees it); each
/// window's percentiles are computed when the next window opens, so memory is one histogram
/// plus a fixed record per window.
///
/// Recording an answer touches one cache line of this record and the open window's list:
/// the fields it writes come first (`repr(C)`, aligned to a line), and the open window's
/// answers and latency sum are counted here and added to its [`Window`] when it closes. In
/// a topology of thousands of edges, each statistics object is cold when a sample reaches it.
#[derive(Clone, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct OutcomeStats {
    /// End of the last window: times are monotone, so anything earlier falls in it and needs
    /// no division to find its window.
    open_window_end_ns: u64,
    /// Successful answers, degraded ones included: availability counts an answer the user got.
    pub ok: u64,
    /// Sum of the latencies of the answers of the open window, not yet in its [`Window`].
    open_ok_latency_ns_sum: u64,
    /// Latencies of the window being filled (the last one in `windows`); their count is the
    /// open window's answers not yet in its [`Window`].
    open_window: WindowLatencies,
    /// Requests started (sent).
    pub requests: u64,
    /// Of `ok`, the degraded answers (fallbacks): never counted as full success.
    pub degraded: u64,
    /// Requests whose caller stopped waiting for another reason than a failure of theirs: the
    /// hedged copies that lost to a faster one. Neither ok nor failed.
    pub cancelled: u64,
    /// Failures, indexed like [`FailureCause::ALL`].
    pub failed_by_cause: [u64; CAUSES],
    /// Latency of the successful requests; complete once the run is finished (the open
    /// window's latencies join it when the window closes).
    pub latency: Histogram,
    /// Outcomes per window; the open one's answers and latency sum join it when it closes.
    pub windows: Vec<Window>,
    window_ns: u64,
    /// The last window holds percentiles from a merge (see [`MAX_WINDOWS`]) that closing it
    /// must keep.
    open_window_merged: bool,
}

impl OutcomeStats {
    pub fn new(window: SimDuration) -> Self {
        assert!(window.as_nanos() > 0, "window must be positive");
        OutcomeStats {
            requests: 0,
            ok: 0,
            failed_by_cause: [0; CAUSES],
            degraded: 0,
            cancelled: 0,
            latency: Histogram::new(),
            windows: Vec::new(),
            window_ns: window.as_nanos(),
            open_window: WindowLatencies::default(),
            open_window_end_ns: 0,
            open_ok_latency_ns_sum: 0,
            open_window_merged: false,
        }
    }

    pub fn window(&self) -> SimDuration {
        SimDuration(self.window_ns)
    }

    #[inline]
    fn window_at(&mut self, now: SimTime) -> &mut Window {
        if now.as_nanos() >= self.open_window_end_ns {
            self.open_window_at(now);
        }
        self.windows.last_mut().expect("a window is open")
    }

    #[cold]
    fn open_window_at(&mut self, now: SimTime) {
        self.close_open_window();
        let mut i = (now.as_nanos() / self.window_ns) as usize;
        while i >= MAX_WINDOWS {
            self.coarsen();
            i = (now.as_nanos() / self.window_ns) as usize;
        }
        debug_assert!(
            i + 1 >= self.windows.len(),
            "outcomes recorded out of time order"
        );
        self.open_window_merged = i + 1 == self.windows.len();
        self.windows.resize(i + 1, Window::default());
        self.open_window_end_ns = (i as u64 + 1).saturating_mul(self.window_ns);
    }

    /// Writes the open window's answers, latency sum and percentiles and starts a new one.
    fn close_open_window(&mut self) {
        let answers = self.open_window.count();
        if let Some(w) = self.windows.last_mut()
            && let Some([p50, p90, p99, max]) = self.open_window.close_into(&mut self.latency)
        {
            w.ok += answers;
            w.ok_latency_ns_sum += self.open_ok_latency_ns_sum;
            self.open_ok_latency_ns_sum = 0;
            let max = max.as_nanos();
            if self.open_window_merged {
                w.latency_ns_p50 = w.latency_ns_p50.max(p50.as_nanos());
                w.latency_ns_p99 = w.latency_ns_p99.max(p99.as_nanos());
                w.latency_ns_p90 = w.latency_ns_p90.max(p90.as_nanos());
                w.latency_ns_max = w.latency_ns_max.max(max);
            } else {
                w.latency_ns_p50 = p50.as_nanos();
                w.latency_ns_p99 = p99.as_nanos();
                w.latency_ns_p90 = p90.as_nanos();
                w.latency_ns_max = max;
            }
        }
        self.open_window_merged = false;
    }

    /// Halves the resolution: neighbouring closed windows merge and the window doubles.
    #[cold]
    fn coarsen(&mut self) {
        debug_assert_eq!(
            self.open_window.count(),
            0,
            "the open window is closed first"
        );
        merge_pairs(&mut self.windows, Window::merged);
        self.window_ns = self.window_ns.saturating_mul(2);
    }

    /// Closes the last window; call once when the run is over.
    pub fn finish(&mut self, end: SimTime) {
        // Windows up to the end exist even if nothing happened in the last ones.
        self.close_open_window();
        while windows_to(end, self.window_ns) > MAX_WINDOWS {
            self.coarsen();
        }
        let windows = windows_to(end, self.window_ns);
        if self.windows.len() < windows {
            self.windows.resize(windows, Window::default());
        }
        self.open_window_end_ns = u64::MAX;
    }

    #[inline]
    pub fn record_ok(&mut self, now: SimTime, latency: SimDuration) {
        self.ok += 1;
        if now.as_nanos() >= self.open_window_end_ns {
            self.open_window_at(now);
        }
        // The window's count and the whole run's histogram are settled when it closes.
        self.open_ok_latency_ns_sum += latency.as_nanos();
        self.open_window.record(latency);
    }

    /// A degraded answer: counted in `ok` (the caller got an answer) and in `degraded`.
    #[inline]
    pub fn record_degraded(&mut self, now: SimTime, latency: SimDuration) {
        self.record_ok(now, latency);
        self.degraded += 1;
        self.window_at(now).degraded += 1;
    }

    /// Records how a request ended, known at `now`; `latency` counts for answers only.
    #[inline(always)]
    pub fn record(&mut self, now: SimTime, latency: SimDuration, outcome: Outcome) {
        match outcome {
            Outcome::Ok => self.record_ok(now, latency),
            Outcome::Degraded => self.record_degraded(now, latency),
            Outcome::Failed(cause) => self.record_failure(now, cause),
        }
    }

    /// A request its caller no longer waits for (a hedge that lost the race).
    pub fn record_cancelled(&mut self) {
        self.cancelled += 1;
    }

    /// Answers that were full successes: ok minus degraded.
    pub fn full_success(&self) -> u64 {
        self.ok - self.degraded
    }

    #[inline]
    pub fn record_failure(&mut self, now: SimTime, cause: FailureCause) {
        self.failed_by_cause[cause as usize] += 1;
        self.window_at(now).failed_by_cause[cause as usize] += 1;
    }

    pub fn failed(&self) -> u64 {
        self.failed_by_cause.iter().sum()
    }

    pub fn failed_by(&self, cause: FailureCause) -> u64 {
        self.failed_by_cause[cause as usize]
    }

    /// Requests started whose outcome was not known when the run stopped.
    pub fn in_flight(&self) -> u64 {
        self.requests - self.ok - self.failed() - self.cancelled
    }

    /// ok / (ok + failed): the share of finished requests that succeeded; 1 when none finished.
    pub fn availability(&self) -> f64 {
        let done = self.ok + self.failed();
        if done == 0 {
            1.0
        } else {
            self.ok as f64 / done as f64
        }
    }
}

mod gauges;
pub use gauges::{Gauge, Gauges};
mod window_latencies;
use window_latencies::WindowLatencies;

#[cfg(test)]
mod tests;
