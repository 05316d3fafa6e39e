//! Simulated time: integer nanoseconds, never the wall clock.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds as a float, for reports only (never for decisions).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The time elapsed since `earlier`; zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const NANOSECOND: SimDuration = SimDuration(1);
    pub const MICROSECOND: SimDuration = SimDuration(1_000);
    pub const MILLISECOND: SimDuration = SimDuration(1_000_000);
    pub const SECOND: SimDuration = SimDuration(1_000_000_000);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// A float number of nanoseconds rounded to the nearest integer (halves up), saturating;
    /// NaN and negative values give zero.
    #[inline]
    pub fn from_nanos_f64(ns: f64) -> Self {
        SimDuration(quantise_ns(ns))
    }

    /// Milliseconds as a float, for reports only.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Seconds as a float, for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Scales by a non-negative factor, rounding to the nearest nanosecond (ties away from zero)
    /// and saturating at `u64::MAX`. Multiplication and rounding are exact IEEE operations, so
    /// the result is the same on every platform.
    #[inline]
    pub fn mul_f64(self, factor: f64) -> SimDuration {
        assert!(
            factor >= 0.0 && factor.is_finite(),
            "factor must be finite and >= 0"
        );
        SimDuration(quantise_ns(self.0 as f64 * factor))
    }

    pub const fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
}

/// Rounds a non-negative float number of nanoseconds to the nearest integer (halves up),
/// saturating; NaN and negative values give 0. `x + 0.5` truncated is one IEEE addition and a
/// conversion, the same bits everywhere, and much cheaper than an out-of-line `round` call.
#[inline]
pub(crate) fn quantise_ns(ns: f64) -> u64 {
    if ns > 0.0 {
        // `as` saturates at u64::MAX for values beyond the range.
        (ns + 0.5) as u64
    } else {
        0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    #[inline]
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    // Inline with the check's message out of line: every request subtracts times several
    // times, and a call per subtraction cost more than the subtraction.
    #[inline]
    fn sub(self, rhs: SimTime) -> SimDuration {
        if self < rhs {
            negative_duration(self, rhs);
        }
        SimDuration(self.0 - rhs.0)
    }
}

#[cold]
#[inline(never)]
fn negative_duration(later: SimTime, earlier: SimTime) -> ! {
    panic!("negative duration: {later} - {earlier}")
}

impl Add for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

/// Writes `ns` nanoseconds with the largest unit that keeps it readable: `0s`, `750ns`,
/// `12.5us`, `250ms`, `1.5s`, `120s`. At most three decimals, trailing zeros trimmed.
fn write_ns(f: &mut fmt::Formatter<'_>, ns: u64) -> fmt::Result {
    let (unit, scale) = if ns == 0 {
        return f.write_str("0s");
    } else if ns < 1_000 {
        ("ns", 1)
    } else if ns < 1_000_000 {
        ("us", 1_000)
    } else if ns < 1_000_000_000 {
        ("ms", 1_000_000)
    } else {
        ("s", 1_000_000_000)
    };
    let whole = ns / scale;
    // Three decimals, rounded down: integer arithmetic so the text never depends on float printing.
    let frac = (ns % scale) * 1000 / scale;
    if frac == 0 {
        write!(f, "{whole}{unit}")
    } else {
        let digits = format!("{frac:03}");
        write!(f, "{whole}.{}{unit}", digits.trim_end_matches('0'))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ns(f, self.0)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ns(f, self.0)
    }
}

impl std::ops::AddAssign for SimDuration {
    #[inline]
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_picks_a_readable_unit() {
        let cases = [
            (0, "0s"),
            (750, "750ns"),
            (12_500, "12.5us"),
            (250_000_000, "250ms"),
            (1_500_000_000, "1.5s"),
            (120_000_000_000, "120s"),
            (1_234_567, "1.234ms"),
        ];
        for (ns, text) in cases {
            assert_eq!(SimDuration(ns).to_string(), text, "{ns} ns");
            assert_eq!(SimTime(ns).to_string(), text, "{ns} ns");
        }
    }

    #[test]
    fn subtracting_a_later_time_still_panics_with_both_times() {
        assert_eq!(SimTime(5) - SimTime(2), SimDuration(3));
        assert_eq!(SimTime(2) - SimTime(2), SimDuration::ZERO);
        let panic = std::panic::catch_unwind(|| SimTime(2) - SimTime(5)).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a formatted message");
        assert_eq!(message, "negative duration: 2ns - 5ns");
    }

    #[test]
    fn mul_rounds_to_nearest_and_saturates() {
        assert_eq!(SimDuration(3).mul_f64(0.5), SimDuration(2));
        assert_eq!(SimDuration(10).mul_f64(0.0), SimDuration(0));
        assert_eq!(SimDuration(u64::MAX).mul_f64(2.0), SimDuration(u64::MAX));
    }

    #[test]
    fn time_arithmetic_saturates() {
        assert_eq!(SimTime(u64::MAX - 1) + SimDuration(5), SimTime::MAX);
        assert_eq!(SimTime(5).saturating_since(SimTime(9)), SimDuration::ZERO);
        assert_eq!(SimTime(9) - SimTime(5), SimDuration(4));
    }
}
