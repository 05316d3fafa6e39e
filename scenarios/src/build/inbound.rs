//! Checks a service's inbound protection (a rate limiter, load shedding) and builds it.

use models::config as mc;

use super::Checker;
use crate::spec;

impl Checker<'_> {
    pub(super) fn rate_limit(
        &mut self,
        anchors: &[&str],
        field: &str,
        r: &spec::RateLimit,
    ) -> Option<models::policy::ratelimit::RateLimitConfig> {
        use models::policy::bucket::BucketConfig;
        use models::policy::ratelimit::{RateLimitConfig, RateLimiterConfig, TokenBucketConfig};
        let config: RateLimitConfig = match *r {
            spec::RateLimit::Resilience4j {
                limit_for_period,
                limit_refresh_period,
                timeout_duration,
            } => {
                let d = RateLimiterConfig::defaults();
                RateLimiterConfig {
                    limit_for_period: limit_for_period.unwrap_or(d.limit_for_period),
                    limit_refresh_period: limit_refresh_period
                        .map_or(d.limit_refresh_period, |x| x.0),
                    timeout_duration: timeout_duration.map_or(d.timeout_duration, |x| x.0),
                }
                .into()
            }
            spec::RateLimit::Envoy {
                max_tokens,
                tokens_per_fill,
                fill_interval,
            } => TokenBucketConfig {
                max_tokens,
                tokens_per_fill: tokens_per_fill.unwrap_or(1),
                fill_interval: fill_interval.0,
            }
            .into(),
            spec::RateLimit::Guava {
                permits_per_second,
                max_burst_seconds,
                timeout,
            } => BucketConfig::Guava {
                permits_per_second,
                max_burst_seconds: max_burst_seconds.unwrap_or(1.0),
                timeout: timeout.map(|t| t.0),
            }
            .into(),
            spec::RateLimit::Nginx {
                rate_per_s,
                burst,
                nodelay,
                delay,
            } => {
                let burst = burst.unwrap_or(0);
                if nodelay && delay.is_some() {
                    self.report(
                        anchors,
                        format!("{field}.inbound.rate_limit"),
                        "nodelay and delay exclude each other (nodelay is delay = burst)".into(),
                    );
                }
                BucketConfig::Nginx {
                    rate_per_s,
                    burst,
                    delay: if nodelay { burst } else { delay.unwrap_or(0) },
                }
                .into()
            }
            spec::RateLimit::Gcra { rate_per_s, burst } => BucketConfig::Gcra {
                rate_per_s,
                burst: burst.unwrap_or(0),
            }
            .into(),
        };
        match config.validate() {
            Ok(()) => Some(config),
            Err(e) => {
                self.report(anchors, format!("{field}.inbound.rate_limit"), e);
                None
            }
        }
    }

    pub(super) fn shed(
        &mut self,
        anchors: &[&str],
        field: &str,
        s: &spec::Shed,
    ) -> Option<mc::Shed> {
        use models::policy::shed::{
            AimdLimitConfig, CodelConfig, ConcurrencyLimitConfig, Gradient2LimitConfig,
        };
        let (shed, checked) = match *s {
            spec::Shed::QueueLength { max } => (mc::Shed::QueueLength { max }, Ok(())),
            spec::Shed::Codel {
                target_delay,
                interval,
            } => {
                let mut c = CodelConfig::defaults();
                if let Some(t) = target_delay {
                    c.target_delay = t.0;
                }
                if let Some(i) = interval {
                    c.interval = i.0;
                }
                (mc::Shed::Codel(c), c.validate())
            }
            spec::Shed::Aimd {
                initial_limit,
                min_limit,
                max_limit,
                backoff_ratio,
                timeout,
            } => {
                let mut c = AimdLimitConfig::defaults();
                c.initial_limit = initial_limit.unwrap_or(c.initial_limit);
                c.min_limit = min_limit.unwrap_or(c.min_limit);
                c.max_limit = max_limit.unwrap_or(c.max_limit);
                c.backoff_ratio = backoff_ratio.unwrap_or(c.backoff_ratio);
                c.timeout = timeout.map_or(c.timeout, |t| t.0);
                let c = ConcurrencyLimitConfig::Aimd(c);
                (mc::Shed::Concurrency(c), c.validate())
            }
            spec::Shed::Gradient2 {
                initial_limit,
                min_limit,
                max_concurrency,
                smoothing,
                long_window,
                rtt_tolerance,
            } => {
                let mut c = Gradient2LimitConfig::defaults();
                c.initial_limit = initial_limit.unwrap_or(c.initial_limit);
                c.min_limit = min_limit.unwrap_or(c.min_limit);
                c.max_concurrency = max_concurrency.unwrap_or(c.max_concurrency);
                c.smoothing = smoothing.unwrap_or(c.smoothing);
                c.long_window = long_window.unwrap_or(c.long_window);
                c.rtt_tolerance = rtt_tolerance.unwrap_or(c.rtt_tolerance);
                let c = ConcurrencyLimitConfig::Gradient2(c);
                (mc::Shed::Concurrency(c), c.validate())
            }
        };
        match checked {
            Ok(()) => Some(shed),
            Err(e) => {
                self.report(anchors, format!("{field}.inbound.shed"), e);
                None
            }
        }
    }
}
