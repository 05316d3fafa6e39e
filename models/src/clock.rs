//! Host clocks: each simulated host's local clock (offset, drift, steps) and the exact
//! conversion of timers set in local time into the true simulated time at which they fire.
//!
//! # The model
//!
//! The engine's clock is true time ([`SimTime`]) and is never skewed; a host only *reads* a skewed
//! clock. With `offset` (local minus true at true time 0), `drift_ppm` (the clock runs
//! `drift_ppm` parts per million fast; negative is slow) and steps `jumps` (an NTP step of
//! `by` nanoseconds applied at true time `at`), the local reading at true time `t` is
//!
//! ```text
//! local_at(t) = offset + Σ { by | at <= t } + floor(t * (1_000_000 + drift_ppm) / 1_000_000)
//! ```
//!
//! computed exactly in `i128`. A step at `at` is already applied at `at`.
//!
//! ```text
//!   local ^
//!         |             /
//!         |           /  |          /   slope (1e6 + drift_ppm) / 1e6
//!         |         /    |        /
//!         |       /      |      /       a step with by < 0 at true time `at`:
//!         |     /        |    /         the reading falls by |by|, then rises
//!         |   /          |  /           again at the same rate
//!         | /            |/
//!  offset +              '
//!         +--------------+--------------> true
//!                        at
//! ```
//!
//! # Timers
//!
//! Two kinds, because operators meet both and they react to steps in opposite ways:
//!
//! - **Duration timers** ([`HostClock::true_after`]: timeouts, backoff sleeps, health-check
//!   intervals) run on the local clock's *rate* only, like `CLOCK_MONOTONIC`, which NTP steps
//!   do not move. A step neither delays nor hastens them, and the offset is irrelevant.
//! - **Deadline timers** ([`HostClock::true_at_local`]: leases and windows that end at a
//!   wall-clock time, like `CLOCK_REALTIME`) wait for the local *reading* to reach a value. A
//!   backward step of 2 s makes a pending deadline fire 2 s of local time later; a forward step
//!   makes it fire earlier, at the step itself if the deadline is then already past.
//!
//! # Rounding
//!
//! One rule for every conversion: **a timer fires at the first true nanosecond at which its
//! condition holds**, evaluated with exact integer arithmetic, never floats.
//!
//! - Duration: the first true `t >= now` at which the *exact* (rational, unrounded) local clock
//!   has advanced by at least the delay, that is
//!   `t = now + ceil(delay * 1_000_000 / (1_000_000 + drift_ppm))`. Using the exact rate rather
//!   than the floored reading makes the true length of a timer independent of when it is set.
//!   The floored reading then has advanced by at least the delay as well, since
//!   `floor(a + b) >= floor(a) + floor(b)`.
//! - Deadline: the first true `t >= now` with `local_at(t) >= local_deadline`, with `local_at`
//!   floored as above.
//!
//! Fire times past `u64::MAX` ns saturate to [`SimTime::MAX`] (never, within a run).
//!
//! Example (floats only for the reader): at +500 ppm, a 10 s timer lasts
//! `10 s / 1.0005 = 9.99500249875... s` of true time and fires at 9 995 002 499 ns.

use sim_core::{SimDuration, SimTime};

use crate::error::ConfigError;

/// Parts per million: the denominator of `drift_ppm`.
const PPM: i128 = 1_000_000;

/// One step of a host's clock (an NTP step, an operator's `date -s`, a VM resume).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockJump {
    /// The true time of the step; the step is already applied at `at`.
    pub at: SimTime,
    /// How far the local clock moves, in nanoseconds: negative steps it back.
    pub by: i64,
}

/// A host clock's description, as a scenario gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClockConfig {
    /// Local minus true time at true time 0, in nanoseconds; may be negative.
    pub offset: i64,
    /// Rate error in parts per million: `+500` runs 500e-6 fast, `-500` slow. Must lie in
    /// `-999_999..=999_999` so the clock always moves forward.
    pub drift_ppm: i64,
    /// Steps, sorted by `at` with strictly increasing times.
    pub jumps: Vec<ClockJump>,
}

impl ClockConfig {
    /// A perfect clock: no offset, no drift, no steps.
    pub fn ideal() -> Self {
        ClockConfig::default()
    }

    /// Checks the ranges and the order of the steps; every problem is reported, each naming
    /// its field and the allowed range.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Vec::new();
        if self.drift_ppm.unsigned_abs() >= PPM as u64 {
            problems.push(ConfigError::DriftOutOfRange {
                drift_ppm: self.drift_ppm,
            });
        }
        for (i, pair) in self.jumps.windows(2).enumerate() {
            if pair[1].at <= pair[0].at {
                problems.push(ConfigError::JumpsOutOfOrder {
                    jump: i + 1,
                    at: pair[1].at,
                    previous: pair[0].at,
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// A host's local clock: reads it at a true time and converts local timers to true fire times.
///
/// Pure and immutable: every answer is a function of the configuration and the arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostClock {
    config: ClockConfig,
    /// `1_000_000 + drift_ppm`: local nanoseconds per million true nanoseconds, > 0.
    rate: i128,
}

impl HostClock {
    /// Builds the clock; panics if `config` does not validate (validate scenarios first).
    pub fn new(config: ClockConfig) -> Self {
        if let Err(problems) = config.validate() {
            panic!("invalid clock config: {problems:?}");
        }
        let rate = PPM + i128::from(config.drift_ppm);
        assert!(rate > 0 && rate < 2 * PPM);
        HostClock { config, rate }
    }

    /// The configuration the clock was built from.
    pub fn config(&self) -> &ClockConfig {
        &self.config
    }

    /// The local reading in nanoseconds at true time `t`:
    /// `offset + Σ{by | at <= t} + floor(t * (1e6 + drift_ppm) / 1e6)`, exact, rounded down.
    /// It may be negative (negative offset or backward steps) and goes back at backward steps.
    pub fn local_at(&self, t: SimTime) -> i128 {
        i128::from(self.config.offset) + self.steps_until(t) + self.rate_local(t)
    }

    /// When a *duration* timer set at true time `now` for `local_delay` of local time fires:
    /// `now + ceil(local_delay * 1e6 / (1e6 + drift_ppm))`, the first true nanosecond at which
    /// the exact local clock has advanced by at least `local_delay`.
    ///
    /// Duration timers run on the clock's rate only, like `CLOCK_MONOTONIC`: neither the offset
    /// nor any step, before or during the wait, changes the answer. A fast clock fires early, a
    /// slow one late. Saturates at [`SimTime::MAX`].
    pub fn true_after(&self, now: SimTime, local_delay: SimDuration) -> SimTime {
        let local_ns = i128::from(local_delay.as_nanos());
        let true_ns = ceil_div(local_ns * PPM, self.rate);
        // The slowest clock (rate 1 per million) stretches a delay a millionfold: still < 2^84.
        let fire = i128::from(now.as_nanos()) + true_ns;
        let fire = saturate(fire);
        assert!(fire >= now);
        fire
    }

    /// When a *deadline* timer for the absolute local time `local_deadline` (ns), pending at
    /// true time `now`, fires: the first true `t >= now` with `local_at(t) >= local_deadline`,
    /// steps after `now` included. That is `now` itself if the deadline is already past.
    ///
    /// Deadline timers follow the reading, like `CLOCK_REALTIME`: a backward step of 2 s makes
    /// the timer fire 2 s of local time later (2 s of true time without drift); a forward step
    /// makes it fire earlier by the step, or at the step if the deadline is then already past.
    /// A backward step never strands a deadline: the reading keeps rising after it. Saturates
    /// at [`SimTime::MAX`] when the deadline lies beyond the range of [`SimTime`].
    ///
    /// The answer assumes the steps of the configuration; a world that fires deadline timers
    /// should compute it when the timer is set (the steps are known in advance), or recompute
    /// it at [`HostClock::next_jump_after`].
    pub fn true_at_local(&self, now: SimTime, local_deadline: i128) -> SimTime {
        let jumps = &self.config.jumps;
        let first_pending = self.jumps_until(now);
        let mut steps = self.steps_until(now);
        let mut segment_start = i128::from(now.as_nanos());
        // The steps cut true time from `now` on into segments with a constant sum of steps;
        // within a segment the reading only rises, so the first segment whose reading reaches
        // the deadline holds the answer. One segment per pending step, plus the last one.
        for segment in first_pending..=jumps.len() {
            let needed = local_deadline
                .saturating_sub(i128::from(self.config.offset))
                .saturating_sub(steps);
            let reached = segment_start.max(self.first_rate_reach(needed));
            match jumps.get(segment) {
                Some(jump) if reached >= i128::from(jump.at.as_nanos()) => {
                    segment_start = i128::from(jump.at.as_nanos());
                    steps += i128::from(jump.by);
                }
                _ => {
                    let fire = saturate(reached);
                    assert!(fire >= now);
                    return fire;
                }
            }
        }
        unreachable!("the last segment has no end")
    }

    /// The true time of the first step strictly after `t`, if any: the world re-evaluates its
    /// pending deadline timers there.
    pub fn next_jump_after(&self, t: SimTime) -> Option<SimTime> {
        let jumps = &self.config.jumps;
        jumps.get(self.jumps_until(t)).map(|jump| jump.at)
    }

    /// The number of steps applied at true time `t` (those with `at <= t`).
    fn jumps_until(&self, t: SimTime) -> usize {
        self.config.jumps.partition_point(|jump| jump.at <= t)
    }

    /// The sum of the steps applied at true time `t`.
    fn steps_until(&self, t: SimTime) -> i128 {
        let applied = &self.config.jumps[..self.jumps_until(t)];
        applied.iter().map(|jump| i128::from(jump.by)).sum()
    }

    /// The drifted part of the reading, `floor(t * rate / 1e6)`; `t * rate` is non-negative
    /// and below 2^86, so the division is exact floor and nothing overflows.
    fn rate_local(&self, t: SimTime) -> i128 {
        i128::from(t.as_nanos()) * self.rate / PPM
    }

    /// The first true nanosecond (possibly negative or past `u64::MAX`) at which the drifted
    /// part of the reading, `floor(t * rate / 1e6)`, reaches `needed`: `ceil(needed * 1e6 /
    /// rate)`, since `floor(x) >= k` exactly when `x >= k` for an integer `k`.
    fn first_rate_reach(&self, needed: i128) -> i128 {
        // Over the whole range of SimTime the drifted part stays below 2^86, so clamping far
        // outside it changes no answer and keeps `needed * 1e6` from overflowing.
        const FAR: i128 = 1 << 100;
        ceil_div(needed.clamp(-FAR, FAR) * PPM, self.rate)
    }
}

/// `ceil(a / b)` for `b > 0`, exact for negative `a` too.
fn ceil_div(a: i128, b: i128) -> i128 {
    assert!(b > 0);
    let quotient = a.div_euclid(b);
    if a.rem_euclid(b) == 0 {
        quotient
    } else {
        quotient + 1
    }
}

/// A true time in nanoseconds as a [`SimTime`], saturating at [`SimTime::MAX`]; never negative
/// here because every caller takes the maximum with a valid time first.
fn saturate(ns: i128) -> SimTime {
    assert!(ns >= 0);
    SimTime(u64::try_from(ns).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: i64 = 1_000_000_000;

    fn clock(offset: i64, drift_ppm: i64, jumps: &[(u64, i64)]) -> HostClock {
        let jumps = jumps.iter().map(|&(at, by)| jump(at, by)).collect();
        HostClock::new(ClockConfig {
            offset,
            drift_ppm,
            jumps,
        })
    }

    fn jump(at: u64, by: i64) -> ClockJump {
        ClockJump {
            at: SimTime(at),
            by,
        }
    }

    fn secs(s: u64) -> SimTime {
        SimTime(s * 1_000_000_000)
    }

    #[test]
    fn local_at_floors_the_drifted_reading() {
        let fast = clock(0, 500, &[]);
        // 1999 * 1.0005 = 1999.9995 -> 1999; 2000 * 1.0005 = 2001 exactly.
        assert_eq!(fast.local_at(SimTime(0)), 0);
        assert_eq!(fast.local_at(SimTime(1)), 1);
        assert_eq!(fast.local_at(SimTime(1_999)), 1_999);
        assert_eq!(fast.local_at(SimTime(2_000)), 2_001);
        let slow = clock(-7, -500, &[]);
        // 1 * 0.9995 -> 0; 2000 * 0.9995 = 1999 exactly.
        assert_eq!(slow.local_at(SimTime(1)), -7);
        assert_eq!(slow.local_at(SimTime(2_000)), 1_999 - 7);
        assert_eq!(
            fast.local_at(SimTime::MAX),
            i128::from(u64::MAX) * 1_000_500 / 1_000_000
        );
    }

    #[test]
    fn local_at_around_a_jump() {
        // Offset +1 s, an NTP step of -2 s at true 5 s, a step of +3 s at true 9 s.
        let c = clock(
            SECOND,
            0,
            &[(5_000_000_000, -2 * SECOND), (9_000_000_000, 3 * SECOND)],
        );
        let s = i128::from(SECOND);
        assert_eq!(c.local_at(SimTime(0)), s);
        assert_eq!(c.local_at(SimTime(5_000_000_000 - 1)), 6 * s - 1);
        assert_eq!(c.local_at(secs(5)), 4 * s, "the step is applied at `at`");
        assert_eq!(c.local_at(SimTime(5_000_000_001)), 4 * s + 1);
        assert_eq!(c.local_at(SimTime(9_000_000_000 - 1)), 8 * s - 1);
        assert_eq!(c.local_at(secs(9)), 11 * s);
    }

    /// `ceil(local_ns * 1e6 / (1e6 + drift_ppm))` in u128, written apart from the module's code.
    fn expected_true_ns(local_ns: u64, drift_ppm: i64) -> u64 {
        let rate = u128::try_from(1_000_000 + drift_ppm).unwrap();
        let ns = (u128::from(local_ns) * 1_000_000).div_ceil(rate);
        u64::try_from(ns).unwrap()
    }

    #[test]
    fn fast_clock_fires_a_ten_second_timer_early_by_the_exact_ratio() {
        let c = clock(0, 500, &[]);
        let ten = SimDuration::from_secs(10);
        let expected = expected_true_ns(10_000_000_000, 500);
        // 10 s / 1.0005 = 9.995002498750... s, rounded up to the next nanosecond.
        assert_eq!(expected, 9_995_002_499);
        assert_eq!(c.true_after(SimTime(0), ten), SimTime(expected));
        // The same timer lasts as long whenever it is set.
        let now = SimTime(123_456_789_001);
        assert_eq!(c.true_after(now, ten), SimTime(now.0 + expected));
        // The reading has advanced by at least the delay at the fire time, not one ns before.
        let fire = c.true_after(now, ten);
        assert!(c.local_at(fire) - c.local_at(now) >= 10_000_000_000);
        assert!(c.local_at(SimTime(fire.0 - 2)) - c.local_at(now) < 10_000_000_000);
    }

    #[test]
    fn slow_clock_fires_late() {
        let c = clock(0, -500, &[]);
        let expected = expected_true_ns(10_000_000_000, -500);
        // 10 s / 0.9995 = 10.005002501250... s, rounded up.
        assert_eq!(expected, 10_005_002_502);
        assert_eq!(
            c.true_after(secs(1), SimDuration::from_secs(10)),
            SimTime(1_000_000_000 + expected)
        );
        // The slowest allowed clock gains one local ns per million true ns.
        let slowest = clock(0, -999_999, &[]);
        assert_eq!(
            slowest.true_after(SimTime(7), SimDuration::NANOSECOND),
            SimTime(1_000_007)
        );
    }

    #[test]
    fn zero_drift_is_the_identity() {
        let c = clock(0, 0, &[]);
        for (now, delay) in [
            (0, 0),
            (0, 1),
            (5, 1_000_000_007),
            (u64::MAX / 2, u64::MAX / 4),
        ] {
            let now = SimTime(now);
            let delay = SimDuration(delay);
            assert_eq!(c.true_after(now, delay), now + delay, "{now:?} {delay:?}");
        }
        assert_eq!(c.true_at_local(secs(3), 7 * i128::from(SECOND)), secs(7));
    }

    #[test]
    fn offset_and_steps_do_not_move_duration_timers() {
        let plain = clock(0, 250, &[]);
        let stepped = clock(
            -3 * SECOND,
            250,
            &[(2_000_000_000, -2 * SECOND), (4_000_000_000, 5 * SECOND)],
        );
        let offset = clock(i64::MAX, 250, &[]);
        // Set before, between and after the steps; waits that straddle one or both.
        for now in [
            0,
            1_999_999_999,
            2_000_000_000,
            3_000_000_000,
            9_000_000_000,
        ] {
            for delay in [1, 1_500_000_000, 3_000_000_000] {
                let (now, delay) = (SimTime(now), SimDuration(delay));
                let expected = plain.true_after(now, delay);
                assert_eq!(
                    stepped.true_after(now, delay),
                    expected,
                    "{now:?} {delay:?}"
                );
                assert_eq!(offset.true_after(now, delay), expected, "{now:?} {delay:?}");
            }
        }
        // ...while a deadline timer on the same clock does move with the step.
        let deadline = stepped.local_at(secs(1)) + 3 * i128::from(SECOND);
        assert_ne!(
            stepped.true_at_local(secs(1), deadline),
            plain.true_after(secs(1), SimDuration::from_secs(3))
        );
    }

    #[test]
    fn backward_step_delays_a_deadline_by_the_step() {
        let s = i128::from(SECOND);
        let deadline = 10 * s;
        assert_eq!(
            clock(0, 0, &[]).true_at_local(SimTime(0), deadline),
            secs(10)
        );
        // An NTP step of -2 s at 4 s: the deadline fires 2 s of true time later.
        let c = clock(0, 0, &[(4_000_000_000, -2 * SECOND)]);
        assert_eq!(c.true_at_local(SimTime(0), deadline), secs(12));
        assert_eq!(c.true_at_local(secs(5), deadline), secs(12));
        // A deadline already met before the step is not moved by it.
        assert_eq!(c.true_at_local(SimTime(0), 3 * s), secs(3));
        // A deadline reached exactly at the step sees the stepped clock.
        let at_step = clock(0, 0, &[(10_000_000_000, -2 * SECOND)]);
        assert_eq!(at_step.true_at_local(SimTime(0), deadline), secs(12));
        // Stepped back past the deadline after it was reached: the timer fires at once.
        assert_eq!(c.true_at_local(secs(11), 8 * s), secs(11));
        // With drift, 2 s of local time is 2 s / 1.0005 of true time.
        let fast = clock(0, 500, &[(4_000_000_000, -2 * SECOND)]);
        assert_eq!(
            fast.true_at_local(SimTime(0), deadline),
            SimTime(expected_true_ns(12_000_000_000, 500))
        );
    }

    #[test]
    fn forward_step_hastens_a_deadline_by_the_step_or_fires_it_at_the_step() {
        let s = i128::from(SECOND);
        let deadline = 10 * s;
        // +3 s at 4 s: local 7 s at true 4 s, 10 s at true 7 s.
        let c = clock(0, 0, &[(4_000_000_000, 3 * SECOND)]);
        assert_eq!(c.true_at_local(SimTime(0), deadline), secs(7));
        // +8 s at 4 s jumps past the deadline: it fires at the step.
        let c = clock(0, 0, &[(4_000_000_000, 8 * SECOND)]);
        assert_eq!(c.true_at_local(SimTime(0), deadline), secs(4));
        assert_eq!(c.next_jump_after(SimTime(0)), Some(secs(4)));
        // A step back then forward: the deadline is met only after the second.
        let c = clock(
            0,
            0,
            &[(4_000_000_000, -5 * SECOND), (6_000_000_000, 9 * SECOND)],
        );
        // Reading: 4 s -> -1 s at true 4 s; 1 s -> 10 s at true 6 s.
        assert_eq!(c.true_at_local(SimTime(0), deadline), secs(6));
        assert_eq!(c.true_at_local(SimTime(0), 11 * s), secs(7));
    }

    #[test]
    fn deadlines_with_an_offset_and_the_extremes() {
        let s = i128::from(SECOND);
        // Local runs 5 s behind: local 10 s is true 15 s.
        let behind = clock(-5 * SECOND, 0, &[]);
        assert_eq!(behind.true_at_local(SimTime(0), 10 * s), secs(15));
        assert_eq!(behind.true_at_local(SimTime(0), -6 * s), SimTime(0));
        assert_eq!(behind.true_at_local(SimTime(3), i128::MIN), SimTime(3));
        assert_eq!(behind.true_at_local(SimTime(0), i128::MAX), SimTime::MAX);
        // Steps back by 2^64 ns in all: a true clock never climbs back within SimTime...
        let steps = [(1, i64::MIN), (2, i64::MIN)];
        let stepped_back = clock(0, 0, &steps);
        assert_eq!(stepped_back.true_at_local(SimTime(0), 0), SimTime(0));
        assert_eq!(stepped_back.true_at_local(SimTime(1), 0), SimTime::MAX);
        // ...a clock running almost twice as fast does, at 2^64 / 1.999999.
        let fastest = clock(0, 999_999, &steps);
        let climb = (1u128 << 64) * 1_000_000;
        let expected = u64::try_from(climb.div_ceil(1_999_999)).unwrap();
        assert_eq!(fastest.true_at_local(SimTime(1), 0), SimTime(expected));
        assert_eq!(
            clock(0, 0, &[]).true_after(SimTime(u64::MAX - 1), SimDuration::from_secs(1)),
            SimTime::MAX
        );
    }

    #[test]
    fn next_jump_after_is_strictly_after() {
        let c = clock(0, 0, &[(5, 1), (9, -1)]);
        assert_eq!(c.next_jump_after(SimTime(0)), Some(SimTime(5)));
        assert_eq!(c.next_jump_after(SimTime(4)), Some(SimTime(5)));
        assert_eq!(c.next_jump_after(SimTime(5)), Some(SimTime(9)));
        assert_eq!(c.next_jump_after(SimTime(9)), None);
        assert_eq!(clock(0, 0, &[]).next_jump_after(SimTime(0)), None);
    }

    #[test]
    fn validate_names_the_field_and_the_allowed_range() {
        type Edit = fn(&mut ClockConfig);
        let cases: [(Edit, &str); 5] = [
            (
                |c| c.drift_ppm = 1_000_000,
                "drift_ppm: must be in -999999..=999999, got 1000000",
            ),
            (
                |c| c.drift_ppm = -1_000_000,
                "drift_ppm: must be in -999999..=999999, got -1000000",
            ),
            (
                |c| c.drift_ppm = i64::MIN,
                "drift_ppm: must be in -999999..=999999",
            ),
            (
                |c| c.jumps = vec![jump(5, 1), jump(5, -1)],
                "jumps[1].at: must be after jumps[0].at = 5 (sorted, strictly increasing), got 5",
            ),
            (
                |c| c.jumps = vec![jump(1, 1), jump(9, 1), jump(3, 1)],
                "jumps[2].at: must be after jumps[1].at = 9 (sorted, strictly increasing), got 3",
            ),
        ];
        for (edit, expected) in cases {
            let mut config = ClockConfig::ideal();
            edit(&mut config);
            let err = config.validate().expect_err(expected);
            assert_eq!(err.len(), 1, "{err:?}");
            let err = err[0].to_string();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
        // Every problem is reported, not just the first.
        let mut config = ClockConfig::ideal();
        config.drift_ppm = 2_000_000;
        config.jumps = vec![jump(2, 1), jump(1, 1)];
        let err = config.validate().unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
        // The extremes that are allowed.
        for drift_ppm in [-999_999, 999_999] {
            let config = ClockConfig {
                offset: i64::MIN,
                drift_ppm,
                jumps: vec![jump(0, i64::MIN), jump(u64::MAX, i64::MAX)],
            };
            assert_eq!(config.validate(), Ok(()));
        }
    }

    /// Small clocks whose readings can be scanned nanosecond by nanosecond: steps at distinct
    /// times in 0..3000 ns, by up to ±2000 ns, drift down to half speed and up to double.
    fn small_clock() -> impl Strategy<Value = HostClock> {
        let steps = proptest::collection::btree_map(0u64..3_000, -2_000i64..=2_000, 0..4);
        (-1_000i64..=1_000, -500_000i64..=999_999, steps).prop_map(|(offset, drift_ppm, steps)| {
            // A BTreeMap's keys are sorted and distinct, as `validate` demands.
            let jumps = steps.into_iter().map(|(at, by)| jump(at, by)).collect();
            HostClock::new(ClockConfig {
                offset,
                drift_ppm,
                jumps,
            })
        })
    }

    proptest! {
        /// A longer delay never fires sooner.
        #[test]
        fn true_after_is_non_decreasing_in_delay(
            drift_ppm in -999_999i64..=999_999,
            now in 0u64..1 << 62,
            a in 0u64..1 << 60,
            b in 0u64..1 << 60,
        ) {
            let c = clock(0, drift_ppm, &[]);
            let (short, long) = (a.min(b), a.max(b));
            let (short, long) = (SimDuration(short), SimDuration(long));
            prop_assert!(c.true_after(SimTime(now), short) <= c.true_after(SimTime(now), long));
        }

        /// With no drift a local delay is a true delay, whatever the offset.
        #[test]
        fn zero_drift_true_after_adds_the_delay(
            offset in any::<i64>(),
            now in 0u64..1 << 63,
            delay in 0u64..1 << 63,
        ) {
            let c = clock(offset, 0, &[]);
            prop_assert_eq!(c.true_after(SimTime(now), SimDuration(delay)), SimTime(now + delay));
        }

        /// The fire time is the first nanosecond at which the exact local clock has advanced by
        /// the delay, and by then the floored reading (without steps) has too.
        #[test]
        fn true_after_is_the_first_nanosecond_the_delay_has_passed(
            offset in any::<i64>(),
            drift_ppm in -999_999i64..=999_999,
            now in 0u64..1 << 62,
            delay in 0u64..1 << 40,
        ) {
            let c = clock(offset, drift_ppm, &[]);
            let fire = c.true_after(SimTime(now), SimDuration(delay));
            let elapsed = i128::from((fire - SimTime(now)).as_nanos());
            let rate = 1_000_000 + i128::from(drift_ppm);
            let wanted = i128::from(delay) * 1_000_000;
            prop_assert!(elapsed * rate >= wanted);
            prop_assert!(elapsed == 0 || (elapsed - 1) * rate < wanted);
            prop_assert!(c.local_at(fire) - c.local_at(SimTime(now)) >= i128::from(delay));
        }

        /// Against the reference: scan the reading from `now` for the first nanosecond at or
        /// past the deadline.
        #[test]
        fn true_at_local_is_the_first_nanosecond_the_reading_reaches_the_deadline(
            c in small_clock(),
            now in 0u64..4_000,
            deadline in -6_000i128..12_000,
        ) {
            const SCAN_NS: u64 = 40_000;
            let reference = (now..now + SCAN_NS).find(|&t| c.local_at(SimTime(t)) >= deadline);
            let fire = c.true_at_local(SimTime(now), deadline);
            match reference {
                Some(t) => prop_assert_eq!(fire, SimTime(t)),
                None => prop_assert!(fire.0 >= now + SCAN_NS, "{:?}", fire),
            }
        }
    }
}
