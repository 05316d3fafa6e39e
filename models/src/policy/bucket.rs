//! Rate limiters that refill continuously, as pure state machines: Guava's `SmoothBursty`,
//! nginx's `limit_req` (a leaky bucket with a burst) and GCRA (the generic cell rate algorithm
//! of ATM networks, used by redis-cell and `throttled`). Envoy's bucket, which refills in whole
//! ticks on a timer, and Resilience4j's fixed cycles are in [`super::ratelimit`].
//!
//! Each answers one question per request at time `now` (nanoseconds since the limiter was
//! created): `Some(wait)` to proceed after `wait` (zero: at once), `None` to be refused at once.
//! State is kept in nanoseconds and `f64` permits; only `+ - * /` are used, which IEEE 754 fixes
//! bit for bit on every platform.

use sim_core::SimDuration;

/// A continuously refilled rate limiter's configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BucketConfig {
    /// Guava `RateLimiter.create(permits_per_second)` (`SmoothBursty`): up to
    /// `max_burst_seconds` of unused permits are stored (none at creation). A request takes the
    /// next free ticket: stored permits cost nothing, each fresh one costs `1 / rate`, and the
    /// cost is paid by the *next* request (the first after a quiet spell never waits).
    /// `timeout`: `tryAcquire(timeout)` refuses, reserving nothing, when the ticket is further
    /// away than that; `None` is the blocking `acquire()`, which never refuses.
    Guava {
        permits_per_second: f64,
        max_burst_seconds: f64,
        timeout: Option<SimDuration>,
    },
    /// nginx `limit_req zone=... rate=r burst=b [nodelay | delay=d]` for one key: the excess (the
    /// requests ahead, leaking at `rate`) may reach `burst`; a request that would exceed it is
    /// refused (503/429 at once). An accepted request whose excess is above `delay` waits until
    /// its excess has leaked down to it (`nodelay`: `delay = burst`). nginx counts in whole
    /// milliseconds; this model in nanoseconds.
    Nginx {
        rate_per_s: f64,
        burst: u32,
        delay: u32,
    },
    /// GCRA by virtual scheduling: emission interval `T = 1 / rate`, tolerance `burst * T`; a
    /// request conforms when it arrives no earlier than `TAT - tolerance` and then pushes the
    /// theoretical arrival time `TAT` to `max(TAT, now) + T`; a non-conforming one is refused
    /// and changes nothing. `burst + 1` requests pass at once from a full bucket.
    Gcra { rate_per_s: f64, burst: u32 },
}

impl BucketConfig {
    pub fn validate(&self) -> Result<(), String> {
        let rate_ok = |r: f64| r.is_finite() && r > 0.0 && r <= 1e9;
        match *self {
            BucketConfig::Guava {
                permits_per_second,
                max_burst_seconds,
                ..
            } => {
                if !rate_ok(permits_per_second) {
                    return Err(format!(
                        "permits_per_second must be above 0 and at most 1e9, got {permits_per_second}"
                    ));
                }
                if !(max_burst_seconds.is_finite() && max_burst_seconds >= 0.0) {
                    return Err(format!(
                        "max_burst_seconds must be a number >= 0, got {max_burst_seconds}"
                    ));
                }
            }
            BucketConfig::Nginx {
                rate_per_s,
                burst,
                delay,
            } => {
                if !rate_ok(rate_per_s) {
                    return Err(format!(
                        "rate_per_s must be above 0 and at most 1e9, got {rate_per_s}"
                    ));
                }
                if delay > burst {
                    return Err(format!(
                        "delay ({delay}) must be at most burst ({burst}); nodelay is delay = burst"
                    ));
                }
            }
            BucketConfig::Gcra { rate_per_s, .. } => {
                if !rate_ok(rate_per_s) {
                    return Err(format!(
                        "rate_per_s must be above 0 and at most 1e9, got {rate_per_s}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The state of a continuously refilled limiter.
#[derive(Clone, Debug)]
pub struct Bucket {
    config: BucketConfig,
    /// Guava: stored permits. nginx: the excess, in requests. GCRA: unused.
    level: f64,
    /// Guava: the next free ticket. nginx: the last accepted request. GCRA: the theoretical
    /// arrival time. Nanoseconds since creation.
    mark_ns: f64,
    /// nginx: a request was accepted before (the key's node exists).
    seen: bool,
}

impl Bucket {
    /// Panics if the configuration does not validate.
    pub fn new(config: BucketConfig) -> Self {
        if let Err(message) = config.validate() {
            panic!("invalid rate limiter configuration: {message}");
        }
        Bucket {
            config,
            level: 0.0,
            mark_ns: 0.0,
            seen: false,
        }
    }

    /// One request at `now_ns` since creation: `Some(wait)` or `None` (refused).
    pub fn acquire(&mut self, now_ns: u64) -> Option<SimDuration> {
        let now = now_ns as f64;
        match self.config {
            BucketConfig::Guava {
                permits_per_second,
                max_burst_seconds,
                timeout,
            } => {
                let interval = 1e9 / permits_per_second;
                let max_permits = max_burst_seconds * permits_per_second;
                // `canAcquire`: the ticket must be free within the timeout.
                if let Some(t) = timeout
                    && self.mark_ns - t.as_nanos() as f64 > now
                {
                    return None;
                }
                // `resync`: the time since the last ticket becomes stored permits.
                if now > self.mark_ns {
                    let gained = (now - self.mark_ns) / interval;
                    self.level = (self.level + gained).min(max_permits);
                    self.mark_ns = now;
                }
                // `reserveEarliestAvailable(1, now)`: this request gets the current ticket;
                // what its fresh permit costs moves the next one.
                let ticket = self.mark_ns;
                let spent = self.level.min(1.0);
                self.mark_ns += (1.0 - spent) * interval;
                self.level -= spent;
                Some(wait_until(ticket, now))
            }
            BucketConfig::Nginx {
                rate_per_s,
                burst,
                delay,
            } => {
                // A new key starts with no excess; every later request adds one.
                let excess = if self.seen {
                    let leaked = (now - self.mark_ns) * rate_per_s / 1e9;
                    (self.level - leaked).max(0.0) + 1.0
                } else {
                    0.0
                };
                if excess > f64::from(burst) {
                    return None;
                }
                self.level = excess;
                self.mark_ns = now;
                self.seen = true;
                let over = excess - f64::from(delay);
                if over > 0.0 {
                    Some(SimDuration::from_nanos_f64(over * 1e9 / rate_per_s))
                } else {
                    Some(SimDuration::ZERO)
                }
            }
            BucketConfig::Gcra { rate_per_s, burst } => {
                let interval = 1e9 / rate_per_s;
                let tolerance = f64::from(burst) * interval;
                if now < self.mark_ns - tolerance {
                    return None;
                }
                self.mark_ns = self.mark_ns.max(now) + interval;
                Some(SimDuration::ZERO)
            }
        }
    }
}

/// The whole nanoseconds from `now` until `at` (zero if `at` has passed).
fn wait_until(at: f64, now: f64) -> SimDuration {
    if at > now {
        SimDuration::from_nanos_f64(at - now)
    } else {
        SimDuration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn waits(b: &mut Bucket, times_ms: &[u64]) -> Vec<Option<u64>> {
        times_ms
            .iter()
            .map(|&t| b.acquire(t * MS).map(|w| w.as_nanos() / MS))
            .collect()
    }

    #[test]
    fn guava_smooth_bursty_makes_the_next_caller_pay() {
        // Guava's javadoc example: 5 permits per second, a request every 0 ms.
        let mut b = Bucket::new(BucketConfig::Guava {
            permits_per_second: 5.0,
            max_burst_seconds: 1.0,
            timeout: None,
        });
        // The first goes at once and the next ones are spaced 200 ms.
        assert_eq!(
            waits(&mut b, &[0, 0, 0, 0]),
            vec![Some(0), Some(200), Some(400), Some(600)]
        );
        // After 2 s of quiet (from the 800 ms ticket), one second of permits is stored (5):
        // five go at once, the sixth waits 200 ms.
        let t = 2_800;
        assert_eq!(
            waits(&mut b, &[t, t, t, t, t, t]),
            vec![Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)]
        );
        assert_eq!(waits(&mut b, &[t]), vec![Some(200)]);
    }

    #[test]
    fn guava_try_acquire_refuses_what_it_cannot_serve_in_time() {
        let mut b = Bucket::new(BucketConfig::Guava {
            permits_per_second: 10.0,
            max_burst_seconds: 1.0,
            timeout: Some(SimDuration::from_millis(150)),
        });
        // Tickets at 0, 100, 200: the third would wait 200 ms > 150 ms and is refused.
        assert_eq!(
            waits(&mut b, &[0, 0, 0, 0]),
            vec![Some(0), Some(100), None, None]
        );
        assert_eq!(waits(&mut b, &[50]), vec![Some(150)]);
    }

    #[test]
    fn nginx_limit_req_delays_within_the_burst_and_refuses_beyond() {
        let mut b = Bucket::new(BucketConfig::Nginx {
            rate_per_s: 10.0,
            burst: 2,
            delay: 0,
        });
        // First at once; the next two are in the burst, delayed 100 and 200 ms; the fourth
        // would make the excess 3 > 2.
        assert_eq!(
            waits(&mut b, &[1, 1, 1, 1]),
            vec![Some(0), Some(100), Some(200), None]
        );
        // 100 ms later one request has leaked: room for one more, delayed 200 ms.
        assert_eq!(waits(&mut b, &[101, 101]), vec![Some(200), None]);
        let mut nodelay = Bucket::new(BucketConfig::Nginx {
            rate_per_s: 10.0,
            burst: 2,
            delay: 2,
        });
        assert_eq!(
            waits(&mut nodelay, &[1, 1, 1, 1]),
            vec![Some(0), Some(0), Some(0), None]
        );
    }

    #[test]
    fn gcra_lets_burst_plus_one_through_then_one_per_interval() {
        let mut b = Bucket::new(BucketConfig::Gcra {
            rate_per_s: 10.0,
            burst: 2,
        });
        assert_eq!(
            waits(&mut b, &[0, 0, 0, 0]),
            vec![Some(0), Some(0), Some(0), None]
        );
        // TAT is 300 ms: a request conforms from 300 - 200 = 100 ms on.
        assert_eq!(waits(&mut b, &[99, 100, 100]), vec![None, Some(0), None]);
    }

    #[test]
    fn long_run_admitted_rate_is_the_configured_rate() {
        // Overloaded at ten times the rate, every limiter admits rate * T plus at most its
        // burst (the bound is exact, not statistical).
        for config in [
            BucketConfig::Gcra {
                rate_per_s: 100.0,
                burst: 5,
            },
            BucketConfig::Nginx {
                rate_per_s: 100.0,
                burst: 5,
                delay: 5,
            },
            BucketConfig::Guava {
                permits_per_second: 100.0,
                max_burst_seconds: 0.05,
                timeout: Some(SimDuration::ZERO),
            },
        ] {
            let mut b = Bucket::new(config);
            let admitted = (0..100_000u64)
                .filter(|i| b.acquire(i * MS / 10).is_some())
                .count() as f64;
            // 10 s at 100/s.
            assert!(
                (1000.0..=1006.0).contains(&admitted),
                "{config:?} admitted {admitted}"
            );
        }
    }

    #[test]
    fn bad_configurations_are_refused() {
        for bad in [
            BucketConfig::Gcra {
                rate_per_s: 0.0,
                burst: 1,
            },
            BucketConfig::Nginx {
                rate_per_s: 1.0,
                burst: 1,
                delay: 2,
            },
            BucketConfig::Guava {
                permits_per_second: f64::NAN,
                max_burst_seconds: 1.0,
                timeout: None,
            },
            BucketConfig::Guava {
                permits_per_second: 1.0,
                max_burst_seconds: -1.0,
                timeout: None,
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
