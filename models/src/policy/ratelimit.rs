//! Server-side rate limiting as pure state machines: Resilience4j's `AtomicRateLimiter` (fixed
//! windows with reservation), Envoy's local rate limit token bucket (no waiting) and the
//! continuously refilled buckets of [`super::bucket`] (Guava, nginx, GCRA), behind one
//! [`RateLimiter::acquire`].
//!
//! `acquire` answers `Some(wait)` when the caller may proceed after `wait` (zero: at once) and
//! `None` when it is rejected. A rejected Resilience4j caller using the blocking API has then
//! already waited the whole `timeout_duration` ([`RateLimiter::rejection_wait`]); an Envoy
//! rejection is immediate (HTTP 429).

use sim_core::{SimDuration, SimTime};

use super::Flavor;
use super::bucket::{Bucket, BucketConfig};

/// Resilience4j `RateLimiterConfig` (reference §5.2).
///
/// Time is cut into cycles of `limit_refresh_period` aligned to the limiter's creation; each
/// cycle starts with `limit_for_period` permissions (debts from reservations are repaid first,
/// unused permissions do not accumulate). A caller that finds none reserves one in the first
/// future cycle that has one, if the wait is at most `timeout_duration`; otherwise it is rejected
/// and reserves nothing (`AtomicRateLimiter.calculateNextState` / `reservePermissions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimiterConfig {
    /// Permissions per cycle, >= 1 (Resilience4j default 50).
    pub limit_for_period: u32,
    /// The cycle length, >= 1 ns (Resilience4j default 500 ns).
    pub limit_refresh_period: SimDuration,
    /// The longest a caller waits for a permission (Resilience4j default 5 s).
    pub timeout_duration: SimDuration,
}

impl RateLimiterConfig {
    /// Resilience4j's defaults: 50 permissions per 500 ns, 5 s timeout.
    pub fn defaults() -> Self {
        RateLimiterConfig {
            limit_for_period: 50,
            limit_refresh_period: SimDuration::from_nanos(500),
            timeout_duration: SimDuration::from_secs(5),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.limit_for_period == 0 {
            return Err("limit_for_period must be >= 1, got 0".to_string());
        }
        // Resilience4j rejects periods shorter than 1 ns ("LimitRefreshPeriod is too short").
        if self.limit_refresh_period < SimDuration::NANOSECOND {
            return Err(format!(
                "limit_refresh_period must be >= 1ns, got {}",
                self.limit_refresh_period
            ));
        }
        Ok(())
    }
}

/// Envoy's local rate limit token bucket (`type.v3.TokenBucket` as used by
/// `envoy.filters.http.local_ratelimit`; `LocalRateLimiterImpl`).
///
/// The bucket starts with `max_tokens`; a fill timer, armed at creation and re-armed each time it
/// fires, adds `tokens_per_fill` every `fill_interval`, never above `max_tokens`. Each request
/// takes one token; with none left it is rejected at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucketConfig {
    /// The bucket's size and initial content, >= 1.
    pub max_tokens: u32,
    /// Tokens added per fill, >= 1 (Envoy default 1).
    pub tokens_per_fill: u32,
    /// The fill period: whole milliseconds, >= 50 ms (Envoy refuses shorter fill timers).
    pub fill_interval: SimDuration,
}

impl TokenBucketConfig {
    /// Envoy requires `max_tokens` and `fill_interval`; these are the values of the example in
    /// Envoy's HTTP local rate limit filter docs (10000 tokens, 1000 per 1 s fill).
    pub fn defaults() -> Self {
        TokenBucketConfig {
            max_tokens: 10_000,
            tokens_per_fill: 1_000,
            fill_interval: SimDuration::from_secs(1),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.max_tokens == 0 {
            return Err("max_tokens must be >= 1, got 0".to_string());
        }
        if self.tokens_per_fill == 0 {
            return Err("tokens_per_fill must be >= 1, got 0".to_string());
        }
        let ms = SimDuration::MILLISECOND.as_nanos();
        if self.fill_interval < SimDuration::from_millis(50)
            || self.fill_interval.as_nanos() % ms != 0
        {
            return Err(format!(
                "fill_interval must be whole milliseconds >= 50ms, got {}",
                self.fill_interval
            ));
        }
        Ok(())
    }
}

/// The configuration of a [`RateLimiter`], per flavor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateLimitConfig {
    Resilience4j(RateLimiterConfig),
    Envoy(TokenBucketConfig),
    /// Guava, nginx or GCRA.
    Continuous(BucketConfig),
}

impl RateLimitConfig {
    /// The library's defaults; `None` for flavors without a rate limiter modelled here.
    pub fn defaults(flavor: Flavor) -> Option<Self> {
        match flavor {
            Flavor::Resilience4j => {
                Some(RateLimitConfig::Resilience4j(RateLimiterConfig::defaults()))
            }
            Flavor::Envoy => Some(RateLimitConfig::Envoy(TokenBucketConfig::defaults())),
            Flavor::Polly | Flavor::Hystrix | Flavor::Grpc | Flavor::Finagle | Flavor::Aws => None,
        }
    }

    /// The resilience library it follows; `None` for the continuous buckets.
    pub fn flavor(&self) -> Option<Flavor> {
        match self {
            RateLimitConfig::Resilience4j(_) => Some(Flavor::Resilience4j),
            RateLimitConfig::Envoy(_) => Some(Flavor::Envoy),
            RateLimitConfig::Continuous(_) => None,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            RateLimitConfig::Resilience4j(c) => c.validate(),
            RateLimitConfig::Envoy(c) => c.validate(),
            RateLimitConfig::Continuous(c) => c.validate(),
        }
    }
}

impl From<RateLimiterConfig> for RateLimitConfig {
    fn from(config: RateLimiterConfig) -> Self {
        RateLimitConfig::Resilience4j(config)
    }
}

impl From<BucketConfig> for RateLimitConfig {
    fn from(config: BucketConfig) -> Self {
        RateLimitConfig::Continuous(config)
    }
}

impl From<TokenBucketConfig> for RateLimitConfig {
    fn from(config: TokenBucketConfig) -> Self {
        RateLimitConfig::Envoy(config)
    }
}

#[derive(Clone, Debug)]
enum Kind {
    /// `AtomicRateLimiter.State`: the last cycle seen and its permissions (negative while
    /// reservations are outstanding).
    Resilience4j {
        config: RateLimiterConfig,
        active_cycle: u64,
        active_permissions: i64,
    },
    /// Tokens left and the fill ticks already applied.
    Envoy {
        config: TokenBucketConfig,
        tokens: u32,
        fills_applied: u64,
    },
    Continuous(Bucket),
}

/// A rate limiter on a service's inbound side.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    kind: Kind,
    created: SimTime,
    /// The last time seen, to check that time does not go backwards.
    last: SimTime,
    immediate: u64,
    delayed: u64,
    rejected: u64,
}

impl RateLimiter {
    /// A limiter created at `created` (Resilience4j aligns its cycles to it; Envoy arms its fill
    /// timer then). Panics if the configuration does not validate.
    pub fn new(config: impl Into<RateLimitConfig>, created: SimTime) -> Self {
        let config = config.into();
        if let Err(message) = config.validate() {
            panic!("invalid rate limiter configuration: {message}");
        }
        let kind = match config {
            RateLimitConfig::Resilience4j(config) => Kind::Resilience4j {
                config,
                active_cycle: 0,
                active_permissions: i64::from(config.limit_for_period),
            },
            RateLimitConfig::Envoy(config) => Kind::Envoy {
                config,
                tokens: config.max_tokens,
                fills_applied: 0,
            },
            RateLimitConfig::Continuous(config) => Kind::Continuous(Bucket::new(config)),
        };
        RateLimiter {
            kind,
            created,
            last: created,
            immediate: 0,
            delayed: 0,
            rejected: 0,
        }
    }

    /// A limiter with the library's defaults; `None` for flavors without one.
    pub fn defaults(flavor: Flavor, created: SimTime) -> Option<Self> {
        RateLimitConfig::defaults(flavor).map(|c| RateLimiter::new(c, created))
    }

    /// The resilience library it follows; `None` for the continuous buckets.
    pub fn flavor(&self) -> Option<Flavor> {
        match self.kind {
            Kind::Resilience4j { .. } => Some(Flavor::Resilience4j),
            Kind::Envoy { .. } => Some(Flavor::Envoy),
            Kind::Continuous(_) => None,
        }
    }

    /// Asks for one permission at `now`: `Some(ZERO)` to proceed at once, `Some(wait)` to
    /// proceed after exactly `wait` (the permission is reserved), `None` if rejected (nothing
    /// reserved).
    pub fn acquire(&mut self, now: SimTime) -> Option<SimDuration> {
        assert!(now >= self.last, "rate limiter: time went backwards");
        self.last = now;
        let elapsed = now - self.created;
        let answer = match &mut self.kind {
            Kind::Resilience4j {
                config,
                active_cycle,
                active_permissions,
            } => r4j_acquire(config, active_cycle, active_permissions, elapsed.as_nanos()),
            Kind::Envoy {
                config,
                tokens,
                fills_applied,
            } => {
                let fills = elapsed.as_nanos() / config.fill_interval.as_nanos();
                let added =
                    (fills - *fills_applied).saturating_mul(u64::from(config.tokens_per_fill));
                *fills_applied = fills;
                let filled = (u64::from(*tokens) + added).min(u64::from(config.max_tokens));
                *tokens = filled as u32;
                if *tokens > 0 {
                    *tokens -= 1;
                    Some(SimDuration::ZERO)
                } else {
                    None
                }
            }
            Kind::Continuous(bucket) => bucket.acquire(elapsed.as_nanos()),
        };
        match answer {
            Some(SimDuration::ZERO) => self.immediate += 1,
            Some(_) => self.delayed += 1,
            None => self.rejected += 1,
        }
        answer
    }

    /// How long a rejected caller has been held before learning it: Resilience4j's blocking
    /// `acquirePermission` waits the whole `timeout_duration` and then throws
    /// `RequestNotPermitted`; Envoy answers 429 at once.
    pub fn rejection_wait(&self) -> SimDuration {
        match &self.kind {
            Kind::Resilience4j { config, .. } => config.timeout_duration,
            // Envoy answers 429, nginx 503 (or `limit_req_status`), Guava's `tryAcquire` false.
            Kind::Envoy { .. } | Kind::Continuous(_) => SimDuration::ZERO,
        }
    }

    /// Permissions available now without waiting (negative: reservations outstanding), as of
    /// the last `acquire`, before any refresh `now` would bring.
    pub fn available_permissions(&self) -> i64 {
        match &self.kind {
            Kind::Resilience4j {
                active_permissions, ..
            } => *active_permissions,
            Kind::Envoy { tokens, .. } => i64::from(*tokens),
            Kind::Continuous(_) => 0,
        }
    }

    /// Callers let through at once.
    pub fn immediate(&self) -> u64 {
        self.immediate
    }

    /// Callers given a reservation and a wait.
    pub fn delayed(&self) -> u64 {
        self.delayed
    }

    /// Callers rejected.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
}

/// `AtomicRateLimiter.calculateNextState` for one permission, `current_nanos` since creation.
fn r4j_acquire(
    config: &RateLimiterConfig,
    active_cycle: &mut u64,
    active_permissions: &mut i64,
    current_nanos: u64,
) -> Option<SimDuration> {
    let period = config.limit_refresh_period.as_nanos();
    let per_cycle = i64::from(config.limit_for_period);
    let current_cycle = current_nanos / period;
    if *active_cycle != current_cycle {
        // Elapsed cycles repay reservations, but the permissions never exceed one cycle's.
        let elapsed_cycles = i128::from(current_cycle - *active_cycle);
        let accumulated = elapsed_cycles * i128::from(per_cycle);
        *active_cycle = current_cycle;
        *active_permissions =
            (i128::from(*active_permissions) + accumulated).min(i128::from(per_cycle)) as i64;
    }
    // `nanosToWaitForPermission`.
    let wait = if *active_permissions >= 1 {
        0
    } else {
        let next_cycle_start = (u128::from(current_cycle) + 1) * u128::from(period);
        let to_next_cycle = next_cycle_start - u128::from(current_nanos);
        let at_next_cycle = *active_permissions + per_cycle;
        // `divCeil(-(atNextCycle - permits), perCycle)`; the numerator is >= -(perCycle - 1),
        // so Java's truncating division and ours agree.
        let full_cycles = (-(at_next_cycle - 1) + per_cycle - 1) / per_cycle;
        debug_assert!(full_cycles >= 0);
        full_cycles as u128 * u128::from(period) + to_next_cycle
    };
    // `reservePermissions`: reserve only if the wait fits in the timeout (inclusive).
    if wait <= u128::from(config.timeout_duration.as_nanos()) {
        *active_permissions -= 1;
        Some(SimDuration(wait as u64))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn r4j(limit_for_period: u32, period: SimDuration, timeout: SimDuration) -> RateLimiter {
        let config = RateLimiterConfig {
            limit_for_period,
            limit_refresh_period: period,
            timeout_duration: timeout,
        };
        // Created off the origin, so alignment to creation differs from alignment to zero.
        RateLimiter::new(config, SimTime(1_234))
    }

    fn after(limiter: &RateLimiter, d: SimDuration) -> SimTime {
        limiter.created + d
    }

    #[test]
    fn defaults_and_validation() {
        let r = RateLimiterConfig::defaults();
        assert_eq!(r.limit_for_period, 50);
        assert_eq!(r.limit_refresh_period, SimDuration(500));
        assert_eq!(r.timeout_duration, SimDuration::from_secs(5));
        for flavor in Flavor::ALL {
            let limiter = RateLimiter::defaults(flavor, SimTime::ZERO);
            match flavor {
                Flavor::Resilience4j | Flavor::Envoy => {
                    assert_eq!(limiter.expect("has a limiter").flavor(), Some(flavor))
                }
                _ => assert!(limiter.is_none(), "{flavor:?}"),
            }
        }
        let bad = [
            (
                RateLimitConfig::from(RateLimiterConfig {
                    limit_for_period: 0,
                    ..r
                }),
                "limit_for_period",
            ),
            (
                RateLimiterConfig {
                    limit_refresh_period: SimDuration::ZERO,
                    ..r
                }
                .into(),
                "limit_refresh_period",
            ),
            (
                TokenBucketConfig {
                    max_tokens: 0,
                    ..TokenBucketConfig::defaults()
                }
                .into(),
                "max_tokens",
            ),
            (
                TokenBucketConfig {
                    tokens_per_fill: 0,
                    ..TokenBucketConfig::defaults()
                }
                .into(),
                "tokens_per_fill",
            ),
            (
                TokenBucketConfig {
                    fill_interval: SimDuration::from_millis(49),
                    ..TokenBucketConfig::defaults()
                }
                .into(),
                "fill_interval",
            ),
            (
                TokenBucketConfig {
                    fill_interval: SimDuration(50_500_000),
                    ..TokenBucketConfig::defaults()
                }
                .into(),
                "fill_interval",
            ),
        ];
        for (config, field) in bad {
            let err = config.validate().expect_err(field);
            assert!(err.starts_with(field), "{err}");
        }
    }

    #[test]
    fn r4j_cycles_are_aligned_to_creation_and_reset_permissions() {
        let mut limiter = r4j(2, ms(100), SimDuration::ZERO);
        let start = after(&limiter, SimDuration::ZERO);
        assert_eq!(limiter.acquire(start), Some(SimDuration::ZERO));
        assert_eq!(limiter.acquire(start), Some(SimDuration::ZERO));
        // Exhausted: with no timeout the third is rejected, even 1 ns before the cycle ends.
        assert_eq!(
            limiter.acquire(after(&limiter, SimDuration(ms(100).as_nanos() - 1))),
            None
        );
        // The next cycle begins exactly 100 ms after creation (not at a multiple of 100 ms).
        let boundary = after(&limiter, ms(100));
        assert_eq!(limiter.acquire(boundary), Some(SimDuration::ZERO));
        assert_eq!(limiter.acquire(boundary), Some(SimDuration::ZERO));
        assert_eq!(limiter.acquire(boundary), None);
        // Idle cycles do not accumulate permissions above the limit.
        let later = after(&limiter, ms(1_000));
        assert_eq!(limiter.acquire(later), Some(SimDuration::ZERO));
        assert_eq!(limiter.acquire(later), Some(SimDuration::ZERO));
        assert_eq!(limiter.acquire(later), None);
        assert_eq!(
            (limiter.immediate(), limiter.delayed(), limiter.rejected()),
            (6, 0, 3)
        );
    }

    #[test]
    fn r4j_reserves_within_the_timeout_and_waits_exactly() {
        let mut limiter = r4j(1, SimDuration::from_secs(1), SimDuration::from_secs(3));
        let now = after(&limiter, ms(250));
        assert_eq!(limiter.acquire(now), Some(SimDuration::ZERO));
        // Cycle 0 is used; cycles 1, 2, 3 begin 0.75 s, 1.75 s, 2.75 s from now.
        assert_eq!(limiter.acquire(now), Some(ms(750)));
        assert_eq!(limiter.acquire(now), Some(ms(1_750)));
        assert_eq!(limiter.acquire(now), Some(ms(2_750)));
        assert_eq!(limiter.available_permissions(), -3);
        // Cycle 4 begins 3.75 s away, beyond the timeout: rejected, nothing reserved.
        assert_eq!(limiter.acquire(now), None);
        assert_eq!(limiter.acquire(now), None);
        assert_eq!(limiter.available_permissions(), -3);
        // At cycle 1 one reservation is repaid: the next free cycle is still cycle 4.
        let cycle1 = after(&limiter, SimDuration::from_secs(1));
        assert_eq!(limiter.acquire(cycle1), Some(SimDuration::from_secs(3)));
        assert_eq!(limiter.rejection_wait(), SimDuration::from_secs(3));
        assert_eq!(
            (limiter.immediate(), limiter.delayed(), limiter.rejected()),
            (1, 4, 2)
        );
    }

    #[test]
    fn r4j_wait_equal_to_timeout_is_reserved() {
        let mut limiter = r4j(1, SimDuration::from_secs(1), SimDuration::from_secs(1));
        let start = after(&limiter, SimDuration::ZERO);
        assert_eq!(limiter.acquire(start), Some(SimDuration::ZERO));
        // `timeoutInNanos >= nanosToWait`: inclusive.
        assert_eq!(limiter.acquire(start), Some(SimDuration::from_secs(1)));
        assert_eq!(limiter.acquire(start), None);
    }

    #[test]
    fn r4j_defaults_admit_fifty_per_500ns() {
        let created = SimTime(7);
        let mut limiter = RateLimiter::defaults(Flavor::Resilience4j, created).unwrap();
        for _ in 0..50 {
            assert_eq!(limiter.acquire(created), Some(SimDuration::ZERO));
        }
        // The 51st waits for the next cycle, 500 ns after creation.
        assert_eq!(
            limiter.acquire(created + SimDuration(100)),
            Some(SimDuration(400))
        );
    }

    fn envoy(max_tokens: u32, tokens_per_fill: u32, fill_ms: u64) -> RateLimiter {
        let config = TokenBucketConfig {
            max_tokens,
            tokens_per_fill,
            fill_interval: SimDuration::from_millis(fill_ms),
        };
        RateLimiter::new(config, SimTime(5 * 1_000_000))
    }

    #[test]
    fn envoy_bucket_starts_full_and_rejects_when_empty() {
        let mut limiter = envoy(3, 1, 100);
        let now = after(&limiter, SimDuration::ZERO);
        for _ in 0..3 {
            assert_eq!(limiter.acquire(now), Some(SimDuration::ZERO));
        }
        assert_eq!(limiter.acquire(now), None);
        assert_eq!(limiter.rejection_wait(), SimDuration::ZERO);
        assert_eq!((limiter.immediate(), limiter.rejected()), (3, 1));
    }

    #[test]
    fn envoy_bucket_refills_on_fill_ticks_up_to_max() {
        let mut limiter = envoy(5, 2, 100);
        let created = limiter.created;
        let t = |d: SimDuration| created + d;
        let start = t(SimDuration::ZERO);
        for _ in 0..5 {
            assert!(limiter.acquire(start).is_some());
        }
        // No token until the first tick, 100 ms after creation.
        assert_eq!(
            limiter.acquire(t(SimDuration(ms(100).as_nanos() - 1))),
            None
        );
        let tick1 = t(ms(100));
        assert!(limiter.acquire(tick1).is_some());
        assert!(limiter.acquire(tick1).is_some());
        assert_eq!(limiter.acquire(tick1), None);
        // Ten ticks later the bucket holds max_tokens, not 20.
        let tick11 = t(ms(1_100));
        for _ in 0..5 {
            assert!(limiter.acquire(tick11).is_some());
        }
        assert_eq!(limiter.acquire(tick11), None);
    }
}
