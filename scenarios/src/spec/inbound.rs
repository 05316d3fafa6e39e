//! A service's inbound side as written in the file: its rate limiter and its load shedding.

use serde::Deserialize;

use crate::duration::Duration;

/// A service's inbound side.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub shed: Option<Shed>,
}

/// Load shedding on a service's inbound side.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Shed {
    /// Shed arrivals that find `max` requests queued.
    QueueLength { max: u32 },
    /// folly's CoDel (defaults 5 ms, 100 ms).
    Codel {
        #[serde(default)]
        target_delay: Option<Duration>,
        #[serde(default)]
        interval: Option<Duration>,
    },
    /// Netflix AIMDLimit (defaults 20, 20, 200, 0.9, 5 s).
    Aimd {
        #[serde(default)]
        initial_limit: Option<u32>,
        #[serde(default)]
        min_limit: Option<u32>,
        #[serde(default)]
        max_limit: Option<u32>,
        #[serde(default)]
        backoff_ratio: Option<f64>,
        #[serde(default)]
        timeout: Option<Duration>,
    },
    /// Netflix Gradient2Limit (defaults 20, 20, 200, 0.2, 600, 1.5).
    Gradient2 {
        #[serde(default)]
        initial_limit: Option<u32>,
        #[serde(default)]
        min_limit: Option<u32>,
        #[serde(default)]
        max_concurrency: Option<u32>,
        #[serde(default)]
        smoothing: Option<f64>,
        #[serde(default)]
        long_window: Option<u32>,
        #[serde(default)]
        rtt_tolerance: Option<f64>,
    },
}

/// A rate limiter on a service's inbound side; unset fields take the library's defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RateLimit {
    /// Resilience4j RateLimiter (50 per 500 ns, wait up to 5 s).
    Resilience4j {
        #[serde(default)]
        limit_for_period: Option<u32>,
        #[serde(default)]
        limit_refresh_period: Option<Duration>,
        #[serde(default)]
        timeout_duration: Option<Duration>,
    },
    /// Envoy local rate limit token bucket.
    Envoy {
        max_tokens: u32,
        #[serde(default)]
        tokens_per_fill: Option<u32>,
        fill_interval: Duration,
    },
    /// Guava `RateLimiter` (`SmoothBursty`): `max_burst_seconds` default 1; without `timeout`
    /// the blocking `acquire()` (never refuses), with it `tryAcquire(timeout)`.
    Guava {
        permits_per_second: f64,
        #[serde(default)]
        max_burst_seconds: Option<f64>,
        #[serde(default)]
        timeout: Option<Duration>,
    },
    /// nginx `limit_req`: `burst` default 0; `nodelay`, or `delay: d` (the first d of the burst
    /// pass at once); by default every request of the burst is delayed.
    Nginx {
        rate_per_s: f64,
        #[serde(default)]
        burst: Option<u32>,
        #[serde(default)]
        nodelay: bool,
        #[serde(default)]
        delay: Option<u32>,
    },
    /// The generic cell rate algorithm: `burst + 1` at once, then one per `1 / rate`.
    Gcra {
        rate_per_s: f64,
        #[serde(default)]
        burst: Option<u32>,
    },
}
