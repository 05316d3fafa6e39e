//! Tests of the histogram, the outcome statistics and the gauges.

use super::*;
use proptest::prelude::*;

#[test]
fn buckets_are_contiguous_and_cover_u64() {
    let mut expected_low = 0u64;
    for i in 0..bucket_of(u64::MAX) + 1 {
        let (low, high) = bucket_range(i);
        assert_eq!(low, expected_low, "bucket {i}");
        assert!(high >= low);
        assert_eq!(bucket_of(low), i);
        assert_eq!(bucket_of(high), i);
        expected_low = high.wrapping_add(1);
    }
    assert_eq!(expected_low, 0, "the last bucket ends at u64::MAX");
}

#[test]
fn quantiles_of_a_known_set() {
    let mut h = Histogram::new();
    for v in 1..=1000u64 {
        h.record(SimDuration(v * 1_000));
    }
    assert_eq!(h.count(), 1000);
    assert_eq!(h.min(), SimDuration(1_000));
    assert_eq!(h.max(), SimDuration(1_000_000));
    assert_eq!(h.mean_ns(), 500_500.0);
    for (q, exact) in [(0.5, 500_000.0), (0.9, 900_000.0), (0.99, 990_000.0)] {
        let got = h.quantile(q).as_nanos() as f64;
        assert!((got / exact - 1.0).abs() <= 1.0 / 256.0, "q{q}: {got}");
    }
    assert_eq!(h.quantile(1.0), SimDuration(1_000_000));
    assert_eq!(Histogram::new().quantile(0.5), SimDuration::ZERO);
}

proptest! {
    /// Any quantile is within 1/256 of the exact order statistic.
    #[test]
    fn quantile_relative_error_is_bounded(mut xs in proptest::collection::vec(0u64..u64::MAX / 2, 1..400), q in 0.0f64..=1.0) {
        let mut h = Histogram::new();
        for &x in &xs { h.record(SimDuration(x)); }
        xs.sort_unstable();
        let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
        let exact = xs[rank - 1] as f64;
        let got = h.quantile(q).as_nanos() as f64;
        prop_assert!((got - exact).abs() <= exact / 256.0 + 0.5, "exact {} got {}", exact, got);
    }

    /// One scan for several quantiles gives what one scan each gives, and clearing leaves
    /// a histogram equal to a new one that kept its memory.
    #[test]
    fn quantiles_in_one_pass_and_clear(xs in proptest::collection::vec(0u64..1u64 << 40, 0..200), ys in proptest::collection::vec(0u64..1u64 << 20, 0..50)) {
        let mut h = Histogram::new();
        for &x in &xs { h.record(SimDuration(x)); }
        let qs = [0.0, 0.3, 0.5, 0.5, 0.99, 1.0];
        let together = h.quantiles(qs);
        for (q, got) in qs.iter().zip(together) { prop_assert_eq!(h.quantile(*q), got); }
        h.clear();
        prop_assert!(h.counts.iter().all(|&c| c == 0));
        let mut fresh = Histogram::new();
        for &y in &ys { h.record(SimDuration(y)); fresh.record(SimDuration(y)); }
        prop_assert_eq!(h.quantiles([0.5, 0.99]), fresh.quantiles([0.5, 0.99]));
        prop_assert_eq!(h.count(), fresh.count());
    }

    #[test]
    fn merge_equals_recording_everything(a in proptest::collection::vec(0u64..1u64 << 40, 0..100), b in proptest::collection::vec(0u64..1u64 << 40, 0..100)) {
        let mut ha = Histogram::new();
        let mut hb = Histogram::new();
        let mut all = Histogram::new();
        for &x in &a { ha.record(SimDuration(x)); all.record(SimDuration(x)); }
        for &x in &b { hb.record(SimDuration(x)); all.record(SimDuration(x)); }
        ha.merge(&hb);
        for q in [0.0, 0.5, 0.99, 1.0] { prop_assert_eq!(ha.quantile(q), all.quantile(q)); }
        prop_assert_eq!(ha.count(), all.count());
        prop_assert_eq!(ha.mean_ns(), all.mean_ns());
    }

    /// The allocated span of buckets grows downwards as well as upwards: the order of the
    /// values changes neither the counts nor the memory (only the span between the extremes).
    #[test]
    fn the_span_follows_the_extremes(mut xs in proptest::collection::vec(0u64..1u64 << 40, 1..200)) {
        let mut up = Histogram::new();
        xs.sort_unstable();
        for &x in &xs { up.record(SimDuration(x)); }
        let mut down = Histogram::new();
        for &x in xs.iter().rev() { down.record(SimDuration(x)); }
        prop_assert_eq!(&up, &down);
        prop_assert_eq!(up.counts.len(), bucket_of(xs[xs.len() - 1]) - bucket_of(xs[0]) + 1);
        for q in [0.0, 0.5, 0.99, 1.0] { prop_assert_eq!(up.quantile(q), down.quantile(q)); }
    }
}

#[test]
fn window_percentiles_are_closed_in_order() {
    let mut o = OutcomeStats::new(SimDuration::SECOND);
    for i in 0..100u64 {
        o.record_ok(
            SimTime(i * 10_000_000),
            SimDuration::from_millis(1 + i / 50),
        );
    }
    o.record_failure(SimTime(2_500_000_000), FailureCause::Timeout);
    o.finish(SimTime(4_000_000_000));
    assert_eq!(o.windows.len(), 4);
    assert_eq!(o.windows[0].ok, 100);
    assert_eq!(o.windows[0].latency_ns_max, 2_000_000);
    assert_eq!(o.windows[1].availability(), None);
    assert_eq!(o.windows[2].availability(), Some(0.0));
    assert_eq!(
        o.windows[2].failed_by_cause[FailureCause::Timeout as usize],
        1
    );
}

#[test]
fn gauges_integrate_busy_time_across_windows() {
    let mut g = Gauges::new(SimDuration::SECOND);
    g.set(SimTime(500_000_000), 2, 0); // 2 busy from 0.5 s
    g.set(SimTime(2_250_000_000), 1, 5); // 1 busy, queue 5 from 2.25 s
    g.finish(SimTime(3_000_000_000));
    let busy: Vec<u64> = g.windows.iter().map(|w| w.busy_ns).collect();
    assert_eq!(
        busy,
        vec![1_000_000_000, 2_000_000_000, 500_000_000 + 750_000_000]
    );
    let queue: Vec<u32> = g.windows.iter().map(|w| w.queue_max).collect();
    assert_eq!(queue, vec![0, 0, 5]);
}

/// Runs far past `MAX_WINDOWS` windows: every series ends at the same coarsened width, no series
/// holds more windows than the bound, and counts, sums, maxima and busy time survive merging.
#[test]
fn long_runs_coarsen_alike_and_keep_their_totals() {
    let window = SimDuration::SECOND;
    let end = SimTime(5 * MAX_WINDOWS as u64 * 1_000_000_000 + 123);
    let mut busy_stats = OutcomeStats::new(window);
    let mut quiet_stats = OutcomeStats::new(window);
    let mut gauges = Gauges::new(window);
    let mut expected_busy_ns = 0u64;
    let mut latency_max_ns = 0u64;
    let step_ns = 700_000_000u64;
    let mut t = 0u64;
    let mut n = 0u64;
    while t < end.as_nanos() {
        let latency = SimDuration(1_000 + (n * 7_919) % 5_000_000);
        latency_max_ns = latency_max_ns.max(latency.as_nanos());
        busy_stats.record_ok(SimTime(t), latency);
        if n % 3 == 0 {
            busy_stats.record_failure(SimTime(t), FailureCause::Timeout);
        }
        let busy = (n % 4) as u32;
        gauges.set(SimTime(t), busy, (n % 9) as u32);
        let next = (t + step_ns).min(end.as_nanos());
        expected_busy_ns += u64::from(busy) * (next - t);
        t += step_ns;
        n += 1;
    }
    quiet_stats.record_ok(SimTime(5), SimDuration(10));
    for stats in [&mut busy_stats, &mut quiet_stats] {
        stats.finish(end);
    }
    gauges.finish(end);
    let width = coarsened_window(window, end);
    assert_eq!(width, SimDuration(8_000_000_000));
    for (windows, w) in [
        (busy_stats.windows.len(), busy_stats.window()),
        (quiet_stats.windows.len(), quiet_stats.window()),
        (gauges.windows.len(), gauges.window()),
    ] {
        assert_eq!(w, width);
        assert_eq!(windows, end.as_nanos().div_ceil(width.as_nanos()) as usize);
        assert!(windows <= MAX_WINDOWS);
    }
    let ok: u64 = busy_stats.windows.iter().map(|w| w.ok).sum();
    assert_eq!(ok, busy_stats.ok);
    let failed: u64 = busy_stats.windows.iter().map(Window::failed).sum();
    assert_eq!(failed, busy_stats.failed());
    let max = busy_stats.windows.iter().map(|w| w.latency_ns_max).max();
    assert_eq!(max, Some(latency_max_ns));
    assert!(
        busy_stats
            .windows
            .iter()
            .all(|w| w.latency_ns_p50 <= w.latency_ns_p90
                && w.latency_ns_p90 <= w.latency_ns_p99
                && w.latency_ns_p99 <= w.latency_ns_max)
    );
    let busy_ns: u64 = gauges.windows.iter().map(|g| g.busy_ns).sum();
    assert_eq!(busy_ns, expected_busy_ns);
    assert_eq!(quiet_stats.windows[0].ok, 1);
}

/// A run of exactly `MAX_WINDOWS` windows keeps its configured window.
#[test]
fn runs_within_the_bound_keep_their_window() {
    let end = SimTime(MAX_WINDOWS as u64 * 1_000);
    let mut stats = OutcomeStats::new(SimDuration(1_000));
    let mut gauges = Gauges::new(SimDuration(1_000));
    stats.record_ok(SimTime(end.as_nanos() - 1), SimDuration(3));
    gauges.set(SimTime(end.as_nanos() - 1), 1, 1);
    stats.finish(end);
    gauges.finish(end);
    assert_eq!(
        coarsened_window(SimDuration(1_000), end),
        SimDuration(1_000)
    );
    assert_eq!(stats.window(), SimDuration(1_000));
    assert_eq!(gauges.window(), SimDuration(1_000));
    assert_eq!(stats.windows.len(), MAX_WINDOWS);
    assert_eq!(gauges.windows.len(), MAX_WINDOWS);
    assert_eq!(gauges.windows[MAX_WINDOWS - 1].busy_ns, 1);
}
