//! Retry backoff: the wait before each retry, after the AWS Architecture Blog's "Exponential
//! Backoff And Jitter" (and its simulator): immediate, constant, exponential, full jitter, equal
//! jitter and decorrelated jitter. Pure: the caller passes the retry number, the previous wait
//! and the stream to draw from.

use sim_core::{SimDuration, SimRng};

use crate::config::Backoff;

/// The wait before retry `n` (1 for the first retry), as the AWS Architecture Blog's
/// "Exponential Backoff And Jitter" and its simulator define them; `last` is the previous wait
/// (decorrelated jitter grows from it; zero before the first).
pub fn backoff(policy: &Backoff, retry: u32, last: SimDuration, rng: &mut SimRng) -> SimDuration {
    let expo = |base: SimDuration, cap: SimDuration| {
        // min(cap, base * 2^n) without overflow: past 2^63 the cap has long been reached.
        let factor = 1u64.checked_shl(retry).unwrap_or(u64::MAX);
        base.as_nanos().saturating_mul(factor).min(cap.as_nanos())
    };
    match *policy {
        Backoff::Immediate => SimDuration::ZERO,
        Backoff::Constant(d) => d,
        Backoff::Exponential { base, cap } => SimDuration(expo(base, cap)),
        Backoff::FullJitter { base, cap } => SimDuration(rng.below_inclusive(expo(base, cap))),
        Backoff::EqualJitter { base, cap } => {
            let v = expo(base, cap);
            SimDuration(v / 2 + rng.below_inclusive(v - v / 2))
        }
        Backoff::Decorrelated { base, cap } => {
            let sleep = if last == SimDuration::ZERO {
                base
            } else {
                last
            };
            let hi = sleep.as_nanos().saturating_mul(3).max(base.as_nanos());
            let drawn = base.as_nanos() + rng.below_inclusive(hi - base.as_nanos());
            SimDuration(drawn.min(cap.as_nanos()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_aws_formulas() {
        let mut rng = SimRng::from_seed(1);
        let base = SimDuration::from_millis(5);
        let cap = SimDuration::from_millis(2000);
        let exp = Backoff::Exponential { base, cap };
        assert_eq!(
            backoff(&exp, 1, SimDuration::ZERO, &mut rng),
            SimDuration::from_millis(10)
        );
        assert_eq!(
            backoff(&exp, 3, SimDuration::ZERO, &mut rng),
            SimDuration::from_millis(40)
        );
        assert_eq!(backoff(&exp, 9, SimDuration::ZERO, &mut rng), cap);
        assert_eq!(
            backoff(&exp, 200, SimDuration::ZERO, &mut rng),
            cap,
            "no overflow"
        );
        let full = Backoff::FullJitter { base, cap };
        for n in 1..12 {
            let w = backoff(&full, n, SimDuration::ZERO, &mut rng);
            assert!(w <= backoff(&exp, n, SimDuration::ZERO, &mut rng));
        }
    }
}
