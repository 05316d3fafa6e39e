//! Inbound load shedding on a server: folly's CoDel for RPC queues and Netflix
//! concurrency-limits (AIMD, Gradient2 and the `SimpleLimiter` semaphore around them).
//!
//! Each is a pure state machine: the server passes the simulated time and the measurement (queue
//! delay at dequeue, round-trip time at completion) and gets the library's answer back. Queue
//! length shedding is a comparison and lives with the queue, not here.
//!
//! Floats: Gradient2 and the AIMD backoff compute in `f64` as the library does, but only with
//! `+ - * /`, `min`/`max` and `as` truncation, which are exact IEEE operations and give the same
//! bits on every platform. The queue-size functions (log10, square root) are integer functions
//! written here, equal to the library's lookup tables.

use sim_core::{SimDuration, SimTime};

// ---------------------------------------------------------------------------------------------
// CoDel (folly/executors/Codel.cpp)
// ---------------------------------------------------------------------------------------------

/// folly `Codel::Options`: `targetDelay` and `interval` (gflags `codel_target_delay`,
/// `codel_interval`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodelConfig {
    /// The queueing delay the server tolerates as a standing minimum (folly default 5 ms).
    pub target_delay: SimDuration,
    /// The window over which the minimum queueing delay is tracked (folly default 100 ms).
    pub interval: SimDuration,
}

impl CodelConfig {
    /// folly's defaults: `target_delay` 5 ms, `interval` 100 ms.
    pub fn defaults() -> Self {
        CodelConfig {
            target_delay: SimDuration::from_millis(5),
            interval: SimDuration::from_millis(100),
        }
    }

    /// The checks of folly `Codel::setOptions`: both positive and `interval > target_delay`.
    pub fn validate(&self) -> Result<(), String> {
        if self.target_delay == SimDuration::ZERO {
            return Err("target_delay must be > 0".to_string());
        }
        if self.interval <= self.target_delay {
            return Err(format!(
                "interval must be > target_delay ({}), got {}",
                self.target_delay, self.interval
            ));
        }
        Ok(())
    }

    /// folly `getSloughTimeout`: twice the target delay. While overloaded, requests that waited
    /// longer than this are dropped.
    pub fn slough_timeout(&self) -> SimDuration {
        SimDuration(self.target_delay.0.saturating_mul(2))
    }
}

/// folly's `Codel` for RPC queues (not CoDel proper): it tracks the minimum queueing delay seen
/// in each interval; at the first dequeue after an interval ends the server becomes overloaded if
/// that minimum exceeded `target_delay` (and stops being overloaded otherwise); while overloaded
/// every request whose queueing delay exceeds the slough timeout (2 x `target_delay`) is dropped.
/// The first request of each interval restarts the minimum and is never dropped.
#[derive(Clone, Debug)]
pub struct Codel {
    config: CodelConfig,
    /// `codelMinDelayNs_`.
    min_delay: SimDuration,
    /// `codelIntervalTimeNs_`: when the current interval ends.
    interval_end: SimTime,
    /// `codelResetDelay_`: the next request starts a new minimum.
    reset_delay: bool,
    /// `overloaded_`.
    overloaded: bool,
    last_now: SimTime,
    dequeues: u64,
    drops: u64,
}

impl Codel {
    /// A fresh CoDel as folly constructs it at time `now`: the first interval ends at `now`
    /// (folly sets `codelIntervalTimeNs_` to the construction time), not overloaded.
    pub fn new(config: CodelConfig, now: SimTime) -> Self {
        if let Err(e) = config.validate() {
            panic!("invalid codel config: {e}");
        }
        Codel {
            config,
            min_delay: SimDuration::ZERO,
            interval_end: now,
            reset_delay: true,
            overloaded: false,
            last_now: now,
            dequeues: 0,
            drops: 0,
        }
    }

    /// Called once per dequeue with the request's queueing delay; `true` means fail it fast.
    /// This is folly's `Codel::overloaded(delay)` (whose answer is "drop this one"):
    ///
    /// 1. if `now > interval end` and a request has been seen since the last boundary: the
    ///    interval ends at `now + interval`, and `overloaded = min_delay > target_delay`;
    /// 2. the first request after a boundary (or after construction) sets `min_delay` to its
    ///    delay and is never dropped; later ones lower `min_delay` if smaller;
    /// 3. drop iff overloaded and `queue_delay > slough_timeout` (strict).
    pub fn should_drop(&mut self, now: SimTime, queue_delay: SimDuration) -> bool {
        assert!(
            now >= self.last_now,
            "time went backwards: {now} < {}",
            self.last_now
        );
        self.last_now = now;
        self.dequeues += 1;

        if now > self.interval_end && !self.reset_delay {
            self.reset_delay = true;
            self.interval_end = now + self.config.interval;
            self.overloaded = self.min_delay > self.config.target_delay;
        }
        if self.reset_delay {
            self.reset_delay = false;
            self.min_delay = queue_delay;
            return false;
        }
        if queue_delay < self.min_delay {
            self.min_delay = queue_delay;
        }
        let drop = self.overloaded && queue_delay > self.config.slough_timeout();
        if drop {
            self.drops += 1;
        }
        drop
    }

    /// Whether the server is in the overloaded regime decided at the last interval boundary.
    pub fn is_overloaded(&self) -> bool {
        self.overloaded
    }

    /// The minimum queueing delay seen in the current interval (folly `getMinDelay`).
    pub fn min_delay(&self) -> SimDuration {
        self.min_delay
    }

    /// folly `getLoad`: `min(100, 100 * min_delay / slough_timeout)`, integer percent.
    pub fn load_percent(&self) -> u32 {
        let slough = self.config.slough_timeout().0 as u128;
        let load = 100 * self.min_delay.0 as u128 / slough;
        load.min(100) as u32
    }

    pub fn config(&self) -> &CodelConfig {
        &self.config
    }

    /// Requests asked about (one per dequeue).
    pub fn dequeues(&self) -> u64 {
        self.dequeues
    }

    /// Requests CoDel told the server to drop.
    pub fn drops(&self) -> u64 {
        self.drops
    }
}

// ---------------------------------------------------------------------------------------------
// Concurrency limits (Netflix/concurrency-limits, limit/*.java)
// ---------------------------------------------------------------------------------------------

/// `AbstractLimit`: the current integer limit, and a record of each change (the library notifies
/// its listeners on every change; here the listener is a log that reports can draw).
#[derive(Clone, Debug)]
struct LimitState {
    limit: u32,
    initial: u32,
    log: Vec<(SimTime, u32)>,
    last_now: SimTime,
}

impl LimitState {
    fn new(initial_limit: u32) -> Self {
        LimitState {
            limit: initial_limit,
            initial: initial_limit,
            log: Vec::new(),
            last_now: SimTime::ZERO,
        }
    }

    /// `AbstractLimit.setLimit`: records only actual changes.
    fn set(&mut self, now: SimTime, limit: u32) {
        assert!(
            now >= self.last_now,
            "time went backwards: {now} < {}",
            self.last_now
        );
        assert!(limit >= 1, "limit fell to zero");
        self.last_now = now;
        if limit != self.limit {
            self.limit = limit;
            self.log.push((now, limit));
        }
    }
}

fn validate_bounds(
    initial_limit: u32,
    min_limit: u32,
    max_name: &str,
    max: u32,
) -> Result<(), String> {
    if min_limit == 0 {
        return Err(
            "min_limit must be >= 1 (a limit of 0 admits nothing and never changes)".into(),
        );
    }
    if max < min_limit {
        return Err(format!(
            "{max_name} must be >= min_limit ({min_limit}), got {max}"
        ));
    }
    if initial_limit < min_limit || initial_limit > max {
        return Err(format!(
            "initial_limit must be in [min_limit, {max_name}] = [{min_limit}, {max}], got \
             {initial_limit} (the library only logs a warning)"
        ));
    }
    Ok(())
}

/// `AIMDLimit.Builder` parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AimdLimitConfig {
    /// Default 20.
    pub initial_limit: u32,
    /// Default 20.
    pub min_limit: u32,
    /// Default 200.
    pub max_limit: u32,
    /// Factor applied on a drop or timeout; the library requires `[0.5, 1.0)`, default 0.9.
    pub backoff_ratio: f64,
    /// An rtt strictly above this counts as a drop; default 5 s.
    pub timeout: SimDuration,
}

impl AimdLimitConfig {
    /// The library's defaults: 20 / 20 / 200, backoff 0.9, timeout 5 s.
    pub fn defaults() -> Self {
        AimdLimitConfig {
            initial_limit: 20,
            min_limit: 20,
            max_limit: 200,
            backoff_ratio: 0.9,
            timeout: SimDuration::from_secs(5),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        validate_bounds(
            self.initial_limit,
            self.min_limit,
            "max_limit",
            self.max_limit,
        )?;
        // Written so that NaN fails too.
        if !(self.backoff_ratio >= 0.5 && self.backoff_ratio < 1.0) {
            return Err(format!(
                "backoff_ratio must be in [0.5, 1.0), got {}",
                self.backoff_ratio
            ));
        }
        if self.timeout == SimDuration::ZERO {
            return Err("timeout must be > 0".to_string());
        }
        Ok(())
    }
}

/// `AIMDLimit`: additive increase, multiplicative decrease. On each sample:
/// `if dropped || rtt > timeout { limit = (int)(limit * backoff_ratio) }
///  else if inflight * 2 >= limit { limit += 1 }`, then clamped to `[min_limit, max_limit]`.
/// A sample from a lightly used limiter (inflight below half the limit) leaves it unchanged.
#[derive(Clone, Debug)]
pub struct AimdLimit {
    config: AimdLimitConfig,
    state: LimitState,
}

impl AimdLimit {
    pub fn new(config: AimdLimitConfig) -> Self {
        if let Err(e) = config.validate() {
            panic!("invalid aimd config: {e}");
        }
        AimdLimit {
            config,
            state: LimitState::new(config.initial_limit),
        }
    }

    fn update(&self, rtt: SimDuration, inflight: u32, dropped: bool) -> u32 {
        let mut limit = self.state.limit;
        if dropped || rtt > self.config.timeout {
            // Java `(int) (currentLimit * backoffRatio)`: one exact multiply, truncated.
            limit = (f64::from(limit) * self.config.backoff_ratio) as u32;
        } else if u64::from(inflight) * 2 >= u64::from(limit) {
            limit += 1;
        }
        limit.clamp(self.config.min_limit, self.config.max_limit)
    }

    pub fn config(&self) -> &AimdLimitConfig {
        &self.config
    }
}

/// The amount Gradient2 lets the limit grow by while latency is low, as a function of the current
/// integer limit (the library's `queueSize` function).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueSize {
    /// `queueSize(int)`: a constant. The Gradient2 default is `Fixed(4)`.
    Fixed(u32),
    /// `Log10RootIntFunction.create(baseline)`: `baseline + max(1, floor(log10(limit)))`.
    Log10Root { baseline: u32 },
    /// `SquareRootFunction.create(baseline)`: `max(baseline, max(1, floor(sqrt(limit))))`.
    SquareRoot { baseline: u32 },
}

impl QueueSize {
    /// The queue size for the current integer limit.
    pub fn apply(self, limit: u32) -> u32 {
        match self {
            QueueSize::Fixed(n) => n,
            QueueSize::Log10Root { baseline } => baseline.saturating_add(floor_log10(limit).max(1)),
            QueueSize::SquareRoot { baseline } => baseline.max(floor_sqrt(limit).max(1)),
        }
    }
}

/// `(int) Math.log10(n)` for n >= 1 (Java's log10 is exact on powers of ten); 0 for n = 0, where
/// the library's `max(1, ..)` hides the difference.
fn floor_log10(mut n: u32) -> u32 {
    let mut digits = 0;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// `(int) Math.sqrt(n)`: the integer square root, by Newton's method on integers.
fn floor_sqrt(n: u32) -> u32 {
    if n < 2 {
        return n;
    }
    let n = u64::from(n);
    let mut x = n;
    let mut y = x.div_ceil(2);
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x as u32
}

/// `Gradient2Limit.Builder` parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gradient2LimitConfig {
    /// Default 20.
    pub initial_limit: u32,
    /// Default 20.
    pub min_limit: u32,
    /// The library's `maxConcurrency` (its field is `maxLimit`); default 200.
    pub max_concurrency: u32,
    /// Weight of the new estimate, `[0, 1]`; default 0.2.
    pub smoothing: f64,
    /// Default `Fixed(4)`.
    pub queue_size: QueueSize,
    /// Window (in samples) of the long-term exponential average rtt; default 600.
    pub long_window: u32,
    /// How much the current rtt may exceed the long-term average before the limit falls; the
    /// library requires >= 1.0, default 1.5.
    pub rtt_tolerance: f64,
}

impl Gradient2LimitConfig {
    /// The library's defaults: 20 / 20 / 200, smoothing 0.2, queue size 4, long window 600,
    /// rtt tolerance 1.5.
    pub fn defaults() -> Self {
        Gradient2LimitConfig {
            initial_limit: 20,
            min_limit: 20,
            max_concurrency: 200,
            smoothing: 0.2,
            queue_size: QueueSize::Fixed(4),
            long_window: 600,
            rtt_tolerance: 1.5,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        validate_bounds(
            self.initial_limit,
            self.min_limit,
            "max_concurrency",
            self.max_concurrency,
        )?;
        if !(self.smoothing >= 0.0 && self.smoothing <= 1.0) {
            return Err(format!(
                "smoothing must be in [0, 1], got {}",
                self.smoothing
            ));
        }
        if !(self.rtt_tolerance >= 1.0 && self.rtt_tolerance.is_finite()) {
            return Err(format!(
                "rtt_tolerance must be finite and >= 1.0, got {}",
                self.rtt_tolerance
            ));
        }
        if self.long_window == 0 {
            return Err("long_window must be >= 1".to_string());
        }
        Ok(())
    }
}

/// `ExpAvgMeasurement(window, warmupWindow = 10)`: the plain mean of the first 10 samples, then
/// an exponential average with factor `2 / (window + 1)`. `scale` is the library's `update`,
/// which changes the value but not the warm-up sum, so during warm-up the next sample undoes it.
#[derive(Clone, Debug)]
struct ExpAvg {
    value: f64,
    sum: f64,
    count: u32,
    window: u32,
}

const WARMUP_SAMPLES: u32 = 10;

impl ExpAvg {
    fn add(&mut self, sample: f64) -> f64 {
        if self.count < WARMUP_SAMPLES {
            self.count += 1;
            self.sum += sample;
            self.value = self.sum / f64::from(self.count);
        } else {
            let factor = 2.0 / (f64::from(self.window) + 1.0);
            self.value = self.value * (1.0 - factor) + sample * factor;
        }
        self.value
    }

    fn scale(&mut self, factor: f64) {
        self.value *= factor;
    }
}

/// `Gradient2Limit`: compares a long-term exponential average of the rtt with the current rtt.
/// On each sample (rtt in ns as `f64`, `didDrop` ignored):
///
/// ```text
/// queue = queue_size(int limit)
/// long  = long_avg.add(rtt)
/// if long / rtt > 2: long_avg *= 0.95            (recover fast after a long overload)
/// if inflight < estimated / 2: unchanged           (app-limited: no evidence)
/// gradient  = clamp(rtt_tolerance * long / rtt, 0.5, 1.0)
/// new       = estimated * gradient + queue
/// estimated = clamp(estimated * (1 - smoothing) + new * smoothing, min_limit, max_concurrency)
/// limit     = (int) estimated
/// ```
#[derive(Clone, Debug)]
pub struct Gradient2Limit {
    config: Gradient2LimitConfig,
    estimated_limit: f64,
    long_rtt: ExpAvg,
    last_rtt: SimDuration,
    state: LimitState,
}

impl Gradient2Limit {
    pub fn new(config: Gradient2LimitConfig) -> Self {
        if let Err(e) = config.validate() {
            panic!("invalid gradient2 config: {e}");
        }
        Gradient2Limit {
            config,
            estimated_limit: f64::from(config.initial_limit),
            long_rtt: ExpAvg {
                value: 0.0,
                sum: 0.0,
                count: 0,
                window: config.long_window,
            },
            last_rtt: SimDuration::ZERO,
            state: LimitState::new(config.initial_limit),
        }
    }

    fn update(&mut self, rtt: SimDuration, inflight: u32) -> u32 {
        let queue_size = f64::from(self.config.queue_size.apply(self.estimated_limit as u32));
        self.last_rtt = rtt;
        // The library divides by the rtt; a zero rtt makes its gradient NaN and the limit 0
        // forever. A simulated service can answer in zero time, so count that as 1 ns.
        let short_rtt = rtt.0.max(1) as f64;
        let long_rtt = self.long_rtt.add(short_rtt);

        if long_rtt / short_rtt > 2.0 {
            self.long_rtt.scale(0.95);
        }

        if f64::from(inflight) < self.estimated_limit / 2.0 {
            return self.estimated_limit as u32;
        }

        let gradient = (self.config.rtt_tolerance * long_rtt / short_rtt).clamp(0.5, 1.0);
        let mut new_limit = self.estimated_limit * gradient + queue_size;
        new_limit = self.estimated_limit * (1.0 - self.config.smoothing)
            + new_limit * self.config.smoothing;
        new_limit = new_limit.clamp(
            f64::from(self.config.min_limit),
            f64::from(self.config.max_concurrency),
        );
        self.estimated_limit = new_limit;
        self.estimated_limit as u32
    }

    pub fn config(&self) -> &Gradient2LimitConfig {
        &self.config
    }

    /// The unrounded estimate the integer limit is truncated from.
    pub fn estimated_limit(&self) -> f64 {
        self.estimated_limit
    }

    /// The long-term average rtt (the library's `getRttNoLoad`), in nanoseconds.
    pub fn long_rtt_ns(&self) -> f64 {
        self.long_rtt.value
    }

    /// The rtt of the last sample.
    pub fn last_rtt(&self) -> SimDuration {
        self.last_rtt
    }
}

/// Which limit algorithm to build, with its parameters (for scenarios).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConcurrencyLimitConfig {
    Aimd(AimdLimitConfig),
    Gradient2(Gradient2LimitConfig),
}

impl ConcurrencyLimitConfig {
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ConcurrencyLimitConfig::Aimd(c) => c.validate(),
            ConcurrencyLimitConfig::Gradient2(c) => c.validate(),
        }
    }
}

/// An adaptive concurrency limit. `on_sample` is the library's `Limit.onSample(startTime, rtt,
/// inflight, didDrop)` where `inflight` is the in-flight count when the sampled request was
/// admitted, itself included.
#[derive(Clone, Debug)]
pub enum ConcurrencyLimit {
    Aimd(AimdLimit),
    Gradient2(Gradient2Limit),
}

impl ConcurrencyLimit {
    pub fn new(config: ConcurrencyLimitConfig) -> Self {
        match config {
            ConcurrencyLimitConfig::Aimd(c) => ConcurrencyLimit::Aimd(AimdLimit::new(c)),
            ConcurrencyLimitConfig::Gradient2(c) => {
                ConcurrencyLimit::Gradient2(Gradient2Limit::new(c))
            }
        }
    }

    fn state(&self) -> &LimitState {
        match self {
            ConcurrencyLimit::Aimd(l) => &l.state,
            ConcurrencyLimit::Gradient2(l) => &l.state,
        }
    }

    /// The current limit.
    pub fn limit(&self) -> u32 {
        self.state().limit
    }

    /// Feeds one completed request: its round-trip time, the in-flight count at its admission,
    /// and whether it was dropped (rejected downstream, timed out: the library's `onDropped`).
    pub fn on_sample(&mut self, now: SimTime, rtt: SimDuration, inflight: u32, dropped: bool) {
        match self {
            ConcurrencyLimit::Aimd(l) => {
                let limit = l.update(rtt, inflight, dropped);
                l.state.set(now, limit);
            }
            ConcurrencyLimit::Gradient2(l) => {
                let limit = l.update(rtt, inflight);
                l.state.set(now, limit);
            }
        }
    }

    /// The limit before its first change: the config's `initial_limit`.
    pub fn initial_limit(&self) -> u32 {
        self.state().initial
    }

    /// Every change of the limit as `(time, new limit)`, oldest first. The starting value is the
    /// config's `initial_limit`.
    pub fn limit_log(&self) -> &[(SimTime, u32)] {
        &self.state().log
    }
}

/// Proof that a request was admitted by a [`Limiter`], carrying the in-flight count at
/// admission (the library's listener captures it in `createListener`). Give it back exactly once
/// through [`Limiter::release`] or [`Limiter::ignore`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "an admitted request must be released or ignored"]
pub struct Permit {
    inflight_at_admission: u32,
}

impl Permit {
    pub fn inflight_at_admission(&self) -> u32 {
        self.inflight_at_admission
    }
}

/// `SimpleLimiter`: a semaphore whose size follows the limit. A request is admitted iff
/// `inflight < limit` (the library's adjustable semaphore, whose permits are `limit - inflight`
/// and may go negative when the limit shrinks); rejection is immediate, never queued.
#[derive(Clone, Debug)]
pub struct Limiter {
    limit: ConcurrencyLimit,
    inflight: u32,
    admitted: u64,
    rejected: u64,
    succeeded: u64,
    dropped: u64,
    ignored: u64,
}

impl Limiter {
    pub fn new(limit: ConcurrencyLimit) -> Self {
        Limiter {
            limit,
            inflight: 0,
            admitted: 0,
            rejected: 0,
            succeeded: 0,
            dropped: 0,
            ignored: 0,
        }
    }

    /// `acquire`: a permit if `inflight < limit`, else `None` (counted as rejected).
    pub fn try_acquire(&mut self) -> Option<Permit> {
        if self.inflight >= self.limit.limit() {
            self.rejected += 1;
            return None;
        }
        self.inflight += 1;
        self.admitted += 1;
        Some(Permit {
            inflight_at_admission: self.inflight,
        })
    }

    /// `onSuccess` (`dropped == false`) or `onDropped` (`dropped == true`): frees the slot and
    /// feeds the sample `(rtt, inflight at admission, dropped)` to the limit.
    pub fn release(&mut self, now: SimTime, permit: Permit, rtt: SimDuration, dropped: bool) {
        self.free();
        if dropped {
            self.dropped += 1;
        } else {
            self.succeeded += 1;
        }
        self.limit
            .on_sample(now, rtt, permit.inflight_at_admission, dropped);
    }

    /// `onIgnore`: frees the slot without a sample (e.g. the request failed for a reason that
    /// says nothing about this server's capacity).
    pub fn ignore(&mut self, _permit: Permit) {
        self.free();
        self.ignored += 1;
    }

    fn free(&mut self) {
        assert!(self.inflight > 0, "release without an admitted request");
        self.inflight -= 1;
    }

    pub fn limit(&self) -> u32 {
        self.limit.limit()
    }

    pub fn inflight(&self) -> u32 {
        self.inflight
    }

    pub fn concurrency_limit(&self) -> &ConcurrencyLimit {
        &self.limit
    }

    pub fn admitted(&self) -> u64 {
        self.admitted
    }

    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    pub fn succeeded(&self) -> u64 {
        self.succeeded
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn ignored(&self) -> u64 {
        self.ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: SimDuration = SimDuration::MILLISECOND;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn at_ms(n: u64) -> SimTime {
        SimTime(n * MS.0)
    }

    /// Dequeues one request per millisecond from `from_ms` to `to_ms` (exclusive), all with the
    /// same queueing delay, and returns how many CoDel dropped.
    fn run_codel(codel: &mut Codel, from_ms: u64, to_ms: u64, delay: SimDuration) -> u64 {
        (from_ms..to_ms)
            .filter(|&t| codel.should_drop(at_ms(t), delay))
            .count() as u64
    }

    #[test]
    fn codel_defaults_and_validation() {
        let c = CodelConfig::defaults();
        assert_eq!((c.target_delay, c.interval), (ms(5), ms(100)));
        assert_eq!(c.slough_timeout(), ms(10));
        assert!(c.validate().is_ok());
        let bad = CodelConfig {
            target_delay: ms(100),
            interval: ms(100),
        };
        assert!(bad.validate().unwrap_err().contains("interval"));
        let zero = CodelConfig {
            target_delay: SimDuration::ZERO,
            ..c
        };
        assert!(zero.validate().unwrap_err().contains("target_delay"));
    }

    #[test]
    fn codel_does_not_drop_under_target() {
        let mut codel = Codel::new(CodelConfig::defaults(), SimTime::ZERO);
        // 4 ms of queueing is under the 5 ms target: never overloaded over many intervals.
        assert_eq!(run_codel(&mut codel, 0, 1000, ms(4)), 0);
        assert!(!codel.is_overloaded());
        assert_eq!(codel.drops(), 0);
        assert_eq!(codel.dequeues(), 1000);
        // folly getLoad: 100 * 4 ms / 10 ms.
        assert_eq!(codel.load_percent(), 40);
    }

    #[test]
    fn codel_drops_only_beyond_the_slough_timeout_and_never_the_first_of_an_interval() {
        let mut codel = Codel::new(CodelConfig::defaults(), SimTime::ZERO);
        // t = 0: the first request starts the minimum (20 ms) and passes.
        assert!(!codel.should_drop(at_ms(0), ms(20)));
        // t = 1 ms is after the construction-time boundary: min 20 ms > 5 ms -> overloaded. This
        // request is the first of the new interval: it restarts the minimum and passes.
        assert!(!codel.should_drop(at_ms(1), ms(20)));
        assert!(codel.is_overloaded());
        // Strictly more than 2 x target is dropped; exactly 10 ms is not.
        assert!(codel.should_drop(at_ms(2), ms(11)));
        assert!(!codel.should_drop(at_ms(3), ms(10)));
        assert_eq!(codel.drops(), 1);
    }

    #[test]
    fn codel_starts_dropping_after_a_full_interval_above_target() {
        let mut codel = Codel::new(CodelConfig::defaults(), SimTime::ZERO);
        // Calm: the boundary at t = 1 ms finds min 1 ms and sets the next end to 101 ms.
        assert_eq!(run_codel(&mut codel, 0, 50, ms(1)), 0);
        // Delays rise to 30 ms at t = 50 ms. The boundary (first dequeue after 101 ms, t = 102)
        // sees this interval's minimum, 1 ms: not overloaded.
        assert_eq!(run_codel(&mut codel, 50, 103, ms(30)), 0);
        assert!(!codel.is_overloaded());
        assert_eq!(run_codel(&mut codel, 103, 203, ms(30)), 0);
        assert!(!codel.is_overloaded());
        // t = 203 ms: the interval (102, 202] saw nothing under 30 ms -> overloaded. That request
        // passes (first of its interval); the next six wait 30 ms > 10 ms and are dropped.
        assert_eq!(run_codel(&mut codel, 203, 210, ms(30)), 6);
        assert!(codel.is_overloaded());
        assert_eq!(codel.drops(), 6);
        assert_eq!(codel.load_percent(), 100);
    }

    #[test]
    fn codel_recovers_when_the_minimum_falls_below_target() {
        let mut codel = Codel::new(CodelConfig::defaults(), SimTime::ZERO);
        // Boundaries at t = 1, 102, 203 ms; the interval now ends at 303 ms.
        run_codel(&mut codel, 0, 300, ms(30));
        assert!(codel.is_overloaded());
        assert_eq!(codel.interval_end, at_ms(303));
        // One short wait in the interval is enough to end the overload at the next boundary:
        // CoDel looks at the minimum, not the mean.
        assert!(!codel.should_drop(at_ms(300), ms(2)));
        assert_eq!(
            run_codel(&mut codel, 301, 304, ms(30)),
            3,
            "still overloaded"
        );
        assert!(!codel.should_drop(at_ms(304), ms(30)));
        assert!(!codel.is_overloaded());
        let before = codel.drops();
        assert_eq!(run_codel(&mut codel, 305, 405, ms(30)), 0);
        assert_eq!(codel.drops(), before);
        // But a whole interval at 30 ms brings the overload back at t = 405 ms.
        assert_eq!(run_codel(&mut codel, 405, 410, ms(30)), 4);
    }

    #[test]
    fn aimd_increases_only_when_well_utilised() {
        let mut limit =
            ConcurrencyLimit::new(ConcurrencyLimitConfig::Aimd(AimdLimitConfig::defaults()));
        assert_eq!(limit.limit(), 20);
        // inflight 9: 9 * 2 < 20, the limiter is not the bottleneck: no growth.
        limit.on_sample(at_ms(1), ms(10), 9, false);
        assert_eq!(limit.limit(), 20);
        // inflight 10: 10 * 2 >= 20: +1.
        limit.on_sample(at_ms(2), ms(10), 10, false);
        assert_eq!(limit.limit(), 21);
        // 21 needs inflight 11.
        limit.on_sample(at_ms(3), ms(10), 10, false);
        assert_eq!(limit.limit(), 21);
        limit.on_sample(at_ms(4), ms(10), 11, false);
        assert_eq!(limit.limit(), 22);
        assert_eq!(limit.limit_log(), &[(at_ms(2), 21), (at_ms(4), 22)]);
    }

    #[test]
    fn aimd_decreases_multiplicatively_on_drop_and_timeout() {
        let config = AimdLimitConfig {
            initial_limit: 100,
            min_limit: 10,
            ..AimdLimitConfig::defaults()
        };
        let mut limit = ConcurrencyLimit::new(ConcurrencyLimitConfig::Aimd(config));
        limit.on_sample(at_ms(1), ms(10), 100, true);
        assert_eq!(limit.limit(), 90);
        // An rtt equal to the timeout is not a timeout (strict `>`); above it is.
        limit.on_sample(at_ms(2), SimDuration::from_secs(5), 1, false);
        assert_eq!(limit.limit(), 90);
        limit.on_sample(
            at_ms(3),
            SimDuration::from_secs(5) + SimDuration(1),
            1,
            false,
        );
        assert_eq!(limit.limit(), 81);
        // Truncation, as Java's `(int)`: 81 * 0.9 = 72.9 -> 72.
        limit.on_sample(at_ms(4), ms(1), 1, true);
        assert_eq!(limit.limit(), 72);
    }

    #[test]
    fn aimd_stays_within_bounds() {
        let config = AimdLimitConfig {
            initial_limit: 22,
            min_limit: 20,
            max_limit: 23,
            ..AimdLimitConfig::defaults()
        };
        let mut limit = ConcurrencyLimit::new(ConcurrencyLimitConfig::Aimd(config));
        for i in 0..10 {
            limit.on_sample(at_ms(i), ms(1), 100, false);
        }
        assert_eq!(limit.limit(), 23);
        for i in 10..20 {
            limit.on_sample(at_ms(i), ms(1), 100, true);
        }
        assert_eq!(limit.limit(), 20);
        assert_eq!(limit.limit_log(), &[(at_ms(0), 23), (at_ms(10), 20)]);
    }

    #[test]
    fn aimd_validation_names_the_field() {
        let ok = AimdLimitConfig::defaults();
        assert!(ok.validate().is_ok());
        let cases: [(AimdLimitConfig, &str); 5] = [
            (
                AimdLimitConfig {
                    backoff_ratio: 1.0,
                    ..ok
                },
                "backoff_ratio",
            ),
            (
                AimdLimitConfig {
                    backoff_ratio: 0.4,
                    ..ok
                },
                "backoff_ratio",
            ),
            (
                AimdLimitConfig {
                    timeout: SimDuration::ZERO,
                    ..ok
                },
                "timeout",
            ),
            (
                AimdLimitConfig {
                    max_limit: 10,
                    ..ok
                },
                "max_limit",
            ),
            (
                AimdLimitConfig {
                    initial_limit: 300,
                    ..ok
                },
                "initial_limit",
            ),
        ];
        for (config, field) in cases {
            let err = config.validate().unwrap_err();
            assert!(err.starts_with(field), "{config:?}: {err}");
        }
    }

    #[test]
    fn queue_size_functions_match_the_library_tables() {
        let log = QueueSize::Log10Root { baseline: 0 };
        let cases = [
            (0, 1),
            (1, 1),
            (9, 1),
            (10, 1),
            (99, 1),
            (100, 2),
            (999, 2),
            (1000, 3),
        ];
        for (limit, expected) in cases {
            assert_eq!(log.apply(limit), expected, "log10 root of {limit}");
        }
        assert_eq!(QueueSize::Log10Root { baseline: 4 }.apply(200), 6);
        let sqrt = QueueSize::SquareRoot { baseline: 0 };
        let cases = [
            (0, 1),
            (1, 1),
            (3, 1),
            (4, 2),
            (99, 9),
            (100, 10),
            (1_000_000, 1000),
        ];
        for (limit, expected) in cases {
            assert_eq!(sqrt.apply(limit), expected, "sqrt of {limit}");
        }
        assert_eq!(QueueSize::SquareRoot { baseline: 5 }.apply(16), 5);
        for n in 0..5000u32 {
            let r = floor_sqrt(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "isqrt({n}) = {r}");
        }
        assert_eq!(floor_sqrt(u32::MAX), 65535);
        assert_eq!(QueueSize::Fixed(4).apply(1000), 4);
    }

    #[test]
    fn gradient2_limit_falls_when_rtt_rises_above_the_long_average_and_recovers() {
        let config = Gradient2LimitConfig {
            initial_limit: 50,
            ..Gradient2LimitConfig::defaults()
        };
        let mut limit = ConcurrencyLimit::new(ConcurrencyLimitConfig::Gradient2(config));
        let mut t = 0;
        let mut sample = |limit: &mut ConcurrencyLimit, rtt: SimDuration| {
            t += 1;
            let inflight = limit.limit();
            limit.on_sample(at_ms(t), rtt, inflight, false);
        };
        // Steady 10 ms: gradient 1 (1.5 * long / short clamps to 1), the limit grows by
        // smoothing * queue_size = 0.8 per sample.
        for _ in 0..50 {
            sample(&mut limit, ms(10));
        }
        let steady = limit.limit();
        assert_eq!(steady, 90, "50 + 50 * 0.8");
        // Rtt jumps to 40 ms, well above 1.5x the long-term average: the limit falls.
        for _ in 0..20 {
            sample(&mut limit, ms(40));
        }
        let loaded = limit.limit();
        assert!(loaded < steady - 20, "{loaded} vs {steady}");
        // Back to 10 ms: the long average is now above the rtt, gradient 1 again: recovery.
        for _ in 0..100 {
            sample(&mut limit, ms(10));
        }
        assert!(limit.limit() > loaded + 40, "{} vs {loaded}", limit.limit());
        let ConcurrencyLimit::Gradient2(g) = &limit else {
            unreachable!()
        };
        assert_eq!(g.last_rtt(), ms(10));
        assert!(g.estimated_limit() >= f64::from(limit.limit()));
    }

    #[test]
    fn gradient2_first_samples_follow_the_library_formula() {
        let mut g = Gradient2Limit::new(Gradient2LimitConfig::defaults());
        // Warm-up: the long average is the plain mean. 10 ms then 30 ms -> 20 ms.
        assert_eq!(g.update(ms(10), 20), 20);
        // First sample: gradient 1, new = 20 + 4, estimated = 0.8 * 20 + 0.2 * 24 = 20.8.
        assert_eq!(g.estimated_limit(), 20.0 * (1.0 - 0.2) + 24.0 * 0.2);
        let before = g.estimated_limit();
        // (int) 21.6
        assert_eq!(g.update(ms(30), 20), 21);
        assert_eq!(g.long_rtt_ns(), 20e6);
        // gradient = clamp(1.5 * 20 / 30) = 1.0: still growing.
        assert_eq!(
            g.estimated_limit(),
            before * (1.0 - 0.2) + (before + 4.0) * 0.2
        );
        // 100 ms: long = (10 + 30 + 100) / 3 = 46.67, gradient = 1.5 * 46.67 / 100 = 0.7.
        let before = g.estimated_limit();
        g.update(ms(100), 20);
        let long = 140e6 / 3.0;
        let gradient = 1.5 * long / 100e6;
        let expected = before * (1.0 - 0.2) + (before * gradient + 4.0) * 0.2;
        assert!(expected > 20.0);
        assert_eq!(g.estimated_limit(), expected);
    }

    #[test]
    fn gradient2_leaves_the_limit_alone_when_app_limited() {
        let config = Gradient2LimitConfig {
            initial_limit: 100,
            ..Gradient2LimitConfig::defaults()
        };
        let mut limit = ConcurrencyLimit::new(ConcurrencyLimitConfig::Gradient2(config));
        limit.on_sample(at_ms(1), ms(10), 10, false);
        // inflight 49 < 100 / 2: even a terrible rtt changes nothing.
        for i in 2..50 {
            limit.on_sample(at_ms(i), ms(1000), 49, false);
        }
        assert_eq!(limit.limit(), 100);
        assert!(limit.limit_log().is_empty());
        // The long average has followed (about 930 ms). At inflight 50 an rtt far above it
        // shrinks the limit: gradient 0.5, 0.8 * 100 + 0.2 * (50 + 4) = 90.8.
        limit.on_sample(at_ms(50), ms(10_000), 50, false);
        assert_eq!(limit.limit(), 90);
    }

    #[test]
    fn gradient2_long_average_is_pulled_down_after_a_long_overload() {
        let mut g = Gradient2Limit::new(Gradient2LimitConfig::defaults());
        for _ in 0..WARMUP_SAMPLES {
            g.update(ms(100), 20);
        }
        assert_eq!(g.long_rtt_ns(), 100e6);
        // rtt 10 ms: long = 100 * (1 - 2/601) + 10 * 2/601, more than 2x the rtt, so * 0.95.
        g.update(ms(10), 20);
        let factor = 2.0 / 601.0;
        let expected = (100e6 * (1.0 - factor) + 10e6 * factor) * 0.95;
        assert_eq!(g.long_rtt_ns(), expected);

        // During warm-up the library scales the value but not the running sum, so the next
        // sample's plain mean undoes the pull-down.
        let mut g = Gradient2Limit::new(Gradient2LimitConfig::defaults());
        g.update(ms(100), 20);
        g.update(ms(10), 20);
        assert_eq!(g.long_rtt_ns(), 55e6 * 0.95);
        g.update(ms(10), 20);
        // (100 + 10 + 10) / 3 = 40 ms, pulled down once more, not compounded with the last.
        assert_eq!(g.long_rtt_ns(), 40e6 * 0.95);
    }

    #[test]
    fn gradient2_validation_names_the_field() {
        let ok = Gradient2LimitConfig::defaults();
        assert!(ok.validate().is_ok());
        let cases: [(Gradient2LimitConfig, &str); 5] = [
            (
                Gradient2LimitConfig {
                    smoothing: 1.5,
                    ..ok
                },
                "smoothing",
            ),
            (
                Gradient2LimitConfig {
                    rtt_tolerance: 0.9,
                    ..ok
                },
                "rtt_tolerance",
            ),
            (
                Gradient2LimitConfig {
                    long_window: 0,
                    ..ok
                },
                "long_window",
            ),
            (Gradient2LimitConfig { min_limit: 0, ..ok }, "min_limit"),
            (
                Gradient2LimitConfig {
                    max_concurrency: 5,
                    ..ok
                },
                "max_concurrency",
            ),
        ];
        for (config, field) in cases {
            let err = config.validate().unwrap_err();
            assert!(err.starts_with(field), "{config:?}: {err}");
        }
    }

    #[test]
    fn limiter_admits_up_to_the_limit_and_feeds_samples() {
        let config = AimdLimitConfig {
            initial_limit: 2,
            min_limit: 1,
            max_limit: 3,
            ..AimdLimitConfig::defaults()
        };
        let mut limiter = Limiter::new(ConcurrencyLimit::new(ConcurrencyLimitConfig::Aimd(config)));
        let a = limiter.try_acquire().expect("first admitted");
        let b = limiter.try_acquire().expect("second admitted");
        assert_eq!(
            (a.inflight_at_admission(), b.inflight_at_admission()),
            (1, 2)
        );
        assert_eq!(limiter.try_acquire(), None);
        assert_eq!((limiter.inflight(), limiter.rejected()), (2, 1));
        // b saw inflight 2 at admission: 2 * 2 >= 2, so its success grows the limit to 3.
        limiter.release(at_ms(5), b, ms(1), false);
        assert_eq!((limiter.limit(), limiter.inflight()), (3, 1));
        // a drop shrinks it: (int)(3 * 0.9) = 2.
        limiter.release(at_ms(6), a, ms(1), true);
        assert_eq!((limiter.limit(), limiter.inflight()), (2, 0));
        // an ignored request frees its slot without a sample.
        let c = limiter.try_acquire().expect("admitted");
        limiter.ignore(c);
        assert_eq!(limiter.limit(), 2);
        assert_eq!(
            (
                limiter.admitted(),
                limiter.succeeded(),
                limiter.dropped(),
                limiter.ignored()
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(
            limiter.concurrency_limit().limit_log(),
            &[(at_ms(5), 3), (at_ms(6), 2)]
        );
    }

    #[test]
    fn limiter_refuses_while_inflight_exceeds_a_shrunk_limit() {
        let config = AimdLimitConfig {
            initial_limit: 10,
            min_limit: 1,
            ..AimdLimitConfig::defaults()
        };
        let mut limiter = Limiter::new(ConcurrencyLimit::new(ConcurrencyLimitConfig::Aimd(config)));
        let mut permits: Vec<Permit> = (0..10).map(|_| limiter.try_acquire().unwrap()).collect();
        // Two drops: 10 -> 9 -> 8 while 8 are still in flight.
        limiter.release(at_ms(1), permits.pop().unwrap(), ms(1), true);
        limiter.release(at_ms(2), permits.pop().unwrap(), ms(1), true);
        assert_eq!((limiter.limit(), limiter.inflight()), (8, 8));
        assert!(limiter.try_acquire().is_none());
        limiter.ignore(permits.pop().unwrap());
        assert!(limiter.try_acquire().is_some());
    }
}
