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
//!  local ^                     /
//!        |        /           /   drift: slope (1e6 + drift_ppm) / 1e6
//!        |       /|          /
//!        |      / |  step   /
//!        |     /  | by < 0 /
//!        |    /   |       /
//! offset +   /    |      /
//!        |  /     +-----'   <- an absolute deadline above the step is reached later
//!        +--------|-----------------> true
//!                 at
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

use sim_core::SimTime;

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

    /// Checks the ranges and the order of the steps; every problem is reported, one per line,
    /// each naming its field and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.drift_ppm.unsigned_abs() >= PPM as u64 {
            problems.push(format!(
                "drift_ppm: must be in -999999..=999999, got {}",
                self.drift_ppm
            ));
        }
        for (i, pair) in self.jumps.windows(2).enumerate() {
            if pair[1].at <= pair[0].at {
                problems.push(format!(
                    "jumps[{}].at: must be after jumps[{i}].at = {} (sorted, strictly increasing), got {}",
                    i + 1,
                    pair[0].at.as_nanos(),
                    pair[1].at.as_nanos()
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
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
            panic!("invalid clock config: {problems}");
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
        // Every problem is reported, not just the first.
        let mut config = ClockConfig::ideal();
        config.drift_ppm = 2_000_000;
        config.jumps = vec![jump(2, 1), jump(1, 1)];
        let err = config.validate().unwrap_err();
        assert_eq!(err.lines().count(), 2, "{err}");
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
}
