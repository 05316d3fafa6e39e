//! Limits on retries, kept per calling replica: Envoy's retry budget, gRPC's retry throttling,
//! Finagle's `RetryBudget`, botocore's retry quota (one [`RetryBudget`] enum with uniform hooks),
//! plus the Google SRE book's client-side adaptive throttling ([`AdaptiveThrottle`]).
//!
//! Every library keeps this state in the client process (reference §0.1): a world with N client
//! replicas holds N budgets. Nothing here schedules events; the world calls the hooks and reads
//! the answers. Arithmetic is integer or fixed-point except where a library's own floating-point
//! expression decides a rounding (Envoy), and then the same IEEE operations are used, which give
//! the same bits on every platform.
//!
//! # Hooks
//!
//! The world calls, for each logical call on the edge that owns the budget:
//!
//! ```text
//! request_started ─► attempt ─► attempt_finished(ok?) ─┬─► request_finished
//!                                                       └─► try_retry ─► Some(permit) ─► (backoff)
//!                                                              │            ─► attempt ─► attempt_finished(.., Some(permit))
//!                                                              └─► None: give up          (or retry_abandoned(permit))
//! ```
//!
//! | hook                                   | Envoy            | gRPC              | Finagle      | AWS                       |
//! |----------------------------------------|------------------|-------------------|--------------|---------------------------|
//! | `request_started`                      | active +1        | -                 | deposit 1000 | -                         |
//! | `request_finished`                     | active -1        | -                 | -            | -                         |
//! | `attempt_finished(success)`            | -                | +token_ratio      | -            | +1, or +permit cost       |
//! | `attempt_finished(failure)`            | -                | -1 token          | -            | -                         |
//! | `attempt_finished(.., Some(permit))`   | retries -1       | -                 | -            | (refund as above)         |
//! | `try_retry`                            | retries < max?   | tokens > max/2?   | withdraw     | acquire 5 (10 if timeout) |
//! | `retry_abandoned(permit)`              | retries -1       | -                 | -            | -                         |
//!
//! A retry admitted by [`RetryBudget::try_retry`] comes with a [`RetryPermit`]; the world keeps it
//! with the call and hands it back when that retry's attempt finishes (or when the retry is given
//! up before its attempt completes, through [`RetryBudget::retry_abandoned`]). botocore needs it
//! for the refund (the cost of *this call's* last retry, kept in its request context) and Envoy
//! to count outstanding retries; the hooks carry no call identity otherwise.

use sim_core::{SimDuration, SimRng, SimTime};

use super::Flavor;

/// One admitted retry; hand it back to the budget when the retry's attempt finishes
/// ([`RetryBudget::attempt_finished`]) or the retry is given up ([`RetryBudget::retry_abandoned`]).
#[must_use = "a permit must be handed back when its attempt finishes"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPermit {
    /// The capacity this retry took from an AWS retry quota (0 for other flavors).
    cost: u32,
}

impl RetryPermit {
    /// The quota capacity the retry acquired (AWS only; 0 for other flavors).
    pub fn cost(self) -> u32 {
        self.cost
    }
}

/// Admission counters shared by every flavor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counters {
    admitted: u64,
    refused: u64,
}

impl Counters {
    fn record(&mut self, admitted: bool) {
        if admitted {
            self.admitted += 1;
        } else {
            self.refused += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Envoy

/// Envoy's cluster retry budget (`CircuitBreakers.Thresholds.retry_budget`, reference §1.4, §2.4).
///
/// A retry is admitted iff the retries outstanding are fewer than
/// `max(budget_percent / 100.0 * active, min_retry_concurrency)`, where the product is a double
/// converted to `uint64_t` (truncated), as in Envoy's `RetryBudgetImpl::max()`
/// (`resource_manager_impl.h`). When a budget is configured it replaces `max_retries`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnvoyRetryBudget {
    /// Percent of active requests that may be retries, 0..=100 (Envoy default 20).
    pub budget_percent: f64,
    /// Retries always allowed concurrently, whatever the active requests (Envoy default 3).
    pub min_retry_concurrency: u32,
}

impl EnvoyRetryBudget {
    /// Envoy's defaults: 20 %, at least 3 concurrent retries.
    pub fn defaults() -> Self {
        EnvoyRetryBudget {
            budget_percent: 20.0,
            min_retry_concurrency: 3,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        // Envoy's proto takes a `type.v3.Percent`, a double in [0, 100].
        if !(self.budget_percent.is_finite() && (0.0..=100.0).contains(&self.budget_percent)) {
            return Err(format!(
                "budget_percent must be in 0..=100, got {}",
                self.budget_percent
            ));
        }
        Ok(())
    }
}

/// The running state of an [`EnvoyRetryBudget`].
#[derive(Clone, Debug)]
pub struct EnvoyRetryState {
    config: EnvoyRetryBudget,
    /// Logical calls in flight on the edge.
    active_requests: u64,
    /// Retries admitted and not yet handed back.
    active_retries: u64,
    counters: Counters,
}

impl EnvoyRetryState {
    pub fn new(config: EnvoyRetryBudget) -> Self {
        assert_valid(config.validate());
        EnvoyRetryState {
            config,
            active_requests: 0,
            active_retries: 0,
            counters: Counters::default(),
        }
    }

    /// The concurrent retries allowed now.
    ///
    /// Envoy's `active` is upstream requests plus pending requests (plus, in recent versions,
    /// retries waiting in backoff). We count logical calls in flight, which equals that while
    /// each call has one attempt or one backoff under way.
    pub fn max_retries(&self) -> u64 {
        // The exact expression of Envoy: a double product, truncated by the conversion.
        let budget = (self.config.budget_percent / 100.0 * self.active_requests as f64) as u64;
        budget.max(u64::from(self.config.min_retry_concurrency))
    }

    pub fn active_requests(&self) -> u64 {
        self.active_requests
    }

    pub fn active_retries(&self) -> u64 {
        self.active_retries
    }

    fn try_retry(&mut self) -> bool {
        // `canCreate()`: current < max.
        let admitted = self.active_retries < self.max_retries();
        if admitted {
            self.active_retries += 1;
        }
        admitted
    }

    fn release(&mut self) {
        assert!(
            self.active_retries > 0,
            "envoy budget: a permit handed back twice"
        );
        self.active_retries -= 1;
    }
}

// ---------------------------------------------------------------------------------------------
// gRPC

/// gRPC's `retryThrottling` (gRFC A6, grpc-java `RetriableStream.Throttle`; reference §2.3).
///
/// Tokens are kept in thousandths, as grpc-java does: the count starts at `max_tokens`, each
/// qualified failure takes 1 token, each success gives back `token_ratio`, clamped to
/// `[0, max_tokens]`. Retries and hedges are allowed only while `count > max_tokens / 2`.
/// gRPC has no defaults (throttling is off unless configured); [`GrpcRetryThrottle::defaults`]
/// gives the example of gRFC A6 (`maxTokens` 10, `tokenRatio` 0.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrpcRetryThrottle {
    /// `maxTokens`, 1..=1000.
    pub max_tokens: u32,
    /// `tokenRatio`, > 0 with three decimals (further decimals are truncated, as grpc-java does).
    pub token_ratio: f64,
}

/// The fixed-point scale of grpc-java (`THREE_DECIMAL_PLACES_SCALE_UP`).
const GRPC_SCALE: u32 = 1000;

impl GrpcRetryThrottle {
    /// The gRFC A6 example (gRPC itself has no defaults): 10 tokens, ratio 0.1.
    pub fn defaults() -> Self {
        GrpcRetryThrottle {
            max_tokens: 10,
            token_ratio: 0.1,
        }
    }

    /// `token_ratio` in thousandths, computed as grpc-java does: `(int) (tokenRatio * 1000)` in
    /// single precision.
    pub fn token_ratio_thousandths(&self) -> u32 {
        (self.token_ratio as f32 * GRPC_SCALE as f32) as u32
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1000).contains(&self.max_tokens) {
            return Err(format!(
                "max_tokens must be in 1..=1000, got {}",
                self.max_tokens
            ));
        }
        if !(self.token_ratio.is_finite() && self.token_ratio > 0.0) {
            return Err(format!("token_ratio must be > 0, got {}", self.token_ratio));
        }
        if self.token_ratio_thousandths() == 0 {
            return Err(format!(
                "token_ratio must be at least 0.001 (three decimals), got {}",
                self.token_ratio
            ));
        }
        if self.token_ratio > f64::from(self.max_tokens) {
            return Err(format!(
                "token_ratio must be in 0.001..=max_tokens ({}), got {}",
                self.max_tokens, self.token_ratio
            ));
        }
        Ok(())
    }
}

/// The running state of a [`GrpcRetryThrottle`].
#[derive(Clone, Debug)]
pub struct GrpcThrottleState {
    max_thousandths: u32,
    threshold_thousandths: u32,
    ratio_thousandths: u32,
    tokens_thousandths: u32,
    counters: Counters,
}

impl GrpcThrottleState {
    pub fn new(config: GrpcRetryThrottle) -> Self {
        assert_valid(config.validate());
        let max = config.max_tokens * GRPC_SCALE;
        GrpcThrottleState {
            max_thousandths: max,
            // grpc-java: `threshold = maxTokens / 2` in integer thousandths.
            threshold_thousandths: max / 2,
            ratio_thousandths: config.token_ratio_thousandths(),
            tokens_thousandths: max,
            counters: Counters::default(),
        }
    }

    /// The token count in thousandths.
    pub fn tokens_thousandths(&self) -> u32 {
        self.tokens_thousandths
    }

    /// `isAboveThreshold()`: retries and hedges may be sent.
    pub fn is_above_threshold(&self) -> bool {
        self.tokens_thousandths > self.threshold_thousandths
    }

    /// `onQualifiedFailureThenCheckIsAboveThreshold()`: takes one token (not below zero) and
    /// answers whether the count *after* the decrement is above the threshold.
    fn on_qualified_failure(&mut self) -> bool {
        if self.tokens_thousandths == 0 {
            return false;
        }
        let decremented = i64::from(self.tokens_thousandths) - i64::from(GRPC_SCALE);
        self.tokens_thousandths = decremented.max(0) as u32;
        decremented > i64::from(self.threshold_thousandths)
    }

    /// `onSuccess()`: gives back `token_ratio`, not above `max_tokens`.
    fn on_success(&mut self) {
        self.tokens_thousandths =
            (self.tokens_thousandths + self.ratio_thousandths).min(self.max_thousandths);
    }
}

// ---------------------------------------------------------------------------------------------
// Finagle

/// Finagle's `RetryBudget(ttl, minRetriesPerSec, percentCanRetry)` (finagle-core
/// `service/RetryBudget.scala`, `util/TokenBucket.newLeakyBucket`, `WindowedAdder`; reference
/// §2.5).
///
/// Balances are scaled by 1000: each request deposits 1000, a retry costs
/// `(1000 / percent_can_retry) as int` (5000 at 20 %), and a reserve of
/// `min_retries_per_sec * ttl_seconds * cost` is always added to the windowed sum. A retry is
/// withdrawn iff `sum + reserve >= cost`. Deposits and withdrawals live in a `WindowedAdder` of 10
/// slices over `ttl`, read on Finagle's millisecond clock, so both expire after 0.9 to 1 `ttl`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FinagleRetryBudget {
    /// How long deposits and withdrawals count, 1 s..=60 s, whole seconds for the reserve
    /// (Finagle default 10 s).
    pub ttl: SimDuration,
    /// Retries per second always allowed, whatever the traffic (Finagle default 10).
    pub min_retries_per_sec: u32,
    /// Retries allowed per request, 0.0..=1000.0 (Finagle default 0.2).
    pub percent_can_retry: f64,
}

/// Finagle's `ScaleFactor`.
const FINAGLE_SCALE: f64 = 1000.0;
/// Finagle's `MaxPercentCanRetry`.
const FINAGLE_MAX_PERCENT_CAN_RETRY: f64 = 1000.0;
/// Slices of the `WindowedAdder` behind `newLeakyBucket`.
const FINAGLE_SLICES: u64 = 10;

impl FinagleRetryBudget {
    /// Finagle's `RetryBudget()`: ttl 10 s, 10 retries per second, 20 %.
    pub fn defaults() -> Self {
        FinagleRetryBudget {
            ttl: SimDuration::from_secs(10),
            min_retries_per_sec: 10,
            percent_can_retry: 0.2,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(SimDuration::from_secs(1)..=SimDuration::from_secs(60)).contains(&self.ttl) {
            return Err(format!("ttl must be in 1s..=60s, got {}", self.ttl));
        }
        if !(self.percent_can_retry.is_finite()
            && (0.0..=FINAGLE_MAX_PERCENT_CAN_RETRY).contains(&self.percent_can_retry))
        {
            return Err(format!(
                "percent_can_retry must be in 0.0..=1000.0, got {}",
                self.percent_can_retry
            ));
        }
        Ok(())
    }
}

/// The running state of a [`FinagleRetryBudget`]: Finagle's `WindowedAdder` with its quirks
/// (slices restart at the first operation after a slice elapses, not on a fixed grid).
#[derive(Clone, Debug)]
pub struct FinagleBudgetState {
    deposit: i64,
    withdrawal: i64,
    reserve: i64,
    /// Slice length in milliseconds (`ttl / 10`).
    window_ms: u64,
    /// The current slice (Finagle's `writer`).
    writer: i64,
    /// The 9 earlier slices (Finagle's `buf`), `index` the next to be overwritten.
    slices: [i64; FINAGLE_SLICES as usize - 1],
    index: usize,
    /// When the current slice began, in milliseconds (Finagle's `old`); the budget is taken as
    /// created at the start of the run.
    slice_start_ms: u64,
    counters: Counters,
}

impl FinagleBudgetState {
    pub fn new(config: FinagleRetryBudget) -> Self {
        assert_valid(config.validate());
        let percent = config.percent_can_retry;
        let (deposit, withdrawal) = if percent == 0.0 {
            (0, 1)
        } else {
            // `(ScaleFactor / percentCanRetry).toInt`: a double quotient, truncated.
            (FINAGLE_SCALE as i64, (FINAGLE_SCALE / percent) as i64)
        };
        let ttl_secs = config.ttl.as_nanos() / 1_000_000_000;
        let ttl_ms = config.ttl.as_nanos() / 1_000_000;
        FinagleBudgetState {
            deposit,
            withdrawal,
            reserve: i64::from(config.min_retries_per_sec) * ttl_secs as i64 * withdrawal,
            window_ms: ttl_ms / FINAGLE_SLICES,
            writer: 0,
            slices: [0; FINAGLE_SLICES as usize - 1],
            index: 0,
            slice_start_ms: 0,
            counters: Counters::default(),
        }
    }

    /// Finagle's `balance`: retries that could be withdrawn now.
    pub fn balance(&mut self, now: SimTime) -> i64 {
        self.count(now) / self.withdrawal
    }

    /// The windowed sum plus the reserve (`TokenBucket.count`).
    fn count(&mut self, now: SimTime) -> i64 {
        self.roll(now);
        self.writer + self.slices.iter().sum::<i64>() + self.reserve
    }

    fn add(&mut self, now: SimTime, amount: i64) {
        self.roll(now);
        self.writer += amount;
    }

    /// `WindowedAdder.expired()`, applied when a slice has elapsed.
    fn roll(&mut self, now: SimTime) {
        let now_ms = now.as_nanos() / 1_000_000;
        assert!(
            now_ms >= self.slice_start_ms,
            "finagle budget: time went backwards"
        );
        let elapsed = now_ms - self.slice_start_ms;
        if elapsed < self.window_ms {
            return;
        }
        let n = self.slices.len();
        // The current slice is credited whole to the slot being left.
        self.slices[self.index] = std::mem::take(&mut self.writer);
        self.index = (self.index + 1) % n;
        // Slices skipped entirely are cleared.
        let skip = (elapsed / self.window_ms - 1).min(n as u64) as usize;
        for k in 0..skip {
            self.slices[(self.index + k) % n] = 0;
        }
        self.index = (self.index + skip) % n;
        self.slice_start_ms = now_ms;
    }

    fn try_withdraw(&mut self, now: SimTime) -> bool {
        let ok = self.count(now) >= self.withdrawal;
        if ok {
            self.add(now, -self.withdrawal);
        }
        ok
    }
}

// ---------------------------------------------------------------------------------------------
// AWS

/// botocore's retry quota in standard mode, retry-mode version 2.0 (`botocore/retries/quota.py`,
/// `standard.py` `RetryQuotaChecker`; reference §2.6). The names are botocore's constants.
///
/// The quota starts full. Before each retry it must yield `retry_cost`, or
/// `timeout_retry_request` when the failure was a connect or read timeout; if it cannot, the
/// retry is refused (`RetryQuotaReached`) and nothing is taken. On a 2xx response the quota
/// gets back `no_retry_increment` if the call needed no retry, else the amount acquired for the
/// call's last retry; never above `initial_capacity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AwsRetryQuota {
    /// `RetryQuota.INITIAL_CAPACITY`, also the maximum (botocore 500).
    pub initial_capacity: u32,
    /// `_RETRY_COST` (botocore 5).
    pub retry_cost: u32,
    /// `_TIMEOUT_RETRY_REQUEST`, the cost after a timeout (botocore 10).
    pub timeout_retry_request: u32,
    /// `_NO_RETRY_INCREMENT`, given back by a success without retry (botocore 1).
    pub no_retry_increment: u32,
}

impl AwsRetryQuota {
    /// botocore standard mode, retry-mode v2.0: 500, 5, 10, 1.
    pub fn defaults() -> Self {
        AwsRetryQuota {
            initial_capacity: 500,
            retry_cost: 5,
            timeout_retry_request: 10,
            no_retry_increment: 1,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let cap = self.initial_capacity;
        if cap == 0 {
            return Err("initial_capacity must be >= 1, got 0".to_string());
        }
        for (name, value) in [
            ("retry_cost", self.retry_cost),
            ("timeout_retry_request", self.timeout_retry_request),
        ] {
            if !(1..=cap).contains(&value) {
                return Err(format!(
                    "{name} must be in 1..=initial_capacity ({cap}), got {value}"
                ));
            }
        }
        if self.no_retry_increment > cap {
            return Err(format!(
                "no_retry_increment must be in 0..=initial_capacity ({cap}), got {}",
                self.no_retry_increment
            ));
        }
        Ok(())
    }
}

/// The running state of an [`AwsRetryQuota`].
#[derive(Clone, Debug)]
pub struct AwsQuotaState {
    config: AwsRetryQuota,
    available: u32,
    counters: Counters,
}

impl AwsQuotaState {
    pub fn new(config: AwsRetryQuota) -> Self {
        assert_valid(config.validate());
        AwsQuotaState {
            config,
            available: config.initial_capacity,
            counters: Counters::default(),
        }
    }

    /// The capacity left in the quota.
    pub fn available_capacity(&self) -> u32 {
        self.available
    }

    /// `RetryQuota.acquire`: all or nothing.
    fn acquire(&mut self, amount: u32) -> bool {
        if amount > self.available {
            return false;
        }
        self.available -= amount;
        true
    }

    /// `RetryQuota.release`: capped at the initial capacity.
    fn release(&mut self, amount: u32) {
        self.available = (self.available + amount).min(self.config.initial_capacity);
    }
}

// ---------------------------------------------------------------------------------------------
// The uniform budget

/// The configuration of a [`RetryBudget`], one per flavor that has retry budgets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RetryBudgetConfig {
    Envoy(EnvoyRetryBudget),
    Grpc(GrpcRetryThrottle),
    Finagle(FinagleRetryBudget),
    Aws(AwsRetryQuota),
}

impl RetryBudgetConfig {
    /// The library's defaults; `None` for flavors without a retry budget (Resilience4j, Polly,
    /// Hystrix).
    pub fn defaults(flavor: Flavor) -> Option<Self> {
        match flavor {
            Flavor::Envoy => Some(RetryBudgetConfig::Envoy(EnvoyRetryBudget::defaults())),
            Flavor::Grpc => Some(RetryBudgetConfig::Grpc(GrpcRetryThrottle::defaults())),
            Flavor::Finagle => Some(RetryBudgetConfig::Finagle(FinagleRetryBudget::defaults())),
            Flavor::Aws => Some(RetryBudgetConfig::Aws(AwsRetryQuota::defaults())),
            Flavor::Resilience4j | Flavor::Polly | Flavor::Hystrix => None,
        }
    }

    pub fn flavor(&self) -> Flavor {
        match self {
            RetryBudgetConfig::Envoy(_) => Flavor::Envoy,
            RetryBudgetConfig::Grpc(_) => Flavor::Grpc,
            RetryBudgetConfig::Finagle(_) => Flavor::Finagle,
            RetryBudgetConfig::Aws(_) => Flavor::Aws,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            RetryBudgetConfig::Envoy(c) => c.validate(),
            RetryBudgetConfig::Grpc(c) => c.validate(),
            RetryBudgetConfig::Finagle(c) => c.validate(),
            RetryBudgetConfig::Aws(c) => c.validate(),
        }
    }
}

/// A retry budget of one calling replica (one client replica, one caller on an edge), in the
/// semantics of one library. See the module docs for which hook each flavor uses.
#[derive(Clone, Debug)]
pub enum RetryBudget {
    Envoy(EnvoyRetryState),
    Grpc(GrpcThrottleState),
    Finagle(FinagleBudgetState),
    Aws(AwsQuotaState),
}

impl RetryBudget {
    /// A fresh budget. Panics if the configuration does not validate.
    pub fn new(config: RetryBudgetConfig) -> Self {
        match config {
            RetryBudgetConfig::Envoy(c) => RetryBudget::Envoy(EnvoyRetryState::new(c)),
            RetryBudgetConfig::Grpc(c) => RetryBudget::Grpc(GrpcThrottleState::new(c)),
            RetryBudgetConfig::Finagle(c) => RetryBudget::Finagle(FinagleBudgetState::new(c)),
            RetryBudgetConfig::Aws(c) => RetryBudget::Aws(AwsQuotaState::new(c)),
        }
    }

    /// A fresh budget with the library's defaults; `None` for flavors without one.
    pub fn defaults(flavor: Flavor) -> Option<Self> {
        RetryBudgetConfig::defaults(flavor).map(RetryBudget::new)
    }

    pub fn flavor(&self) -> Flavor {
        match self {
            RetryBudget::Envoy(_) => Flavor::Envoy,
            RetryBudget::Grpc(_) => Flavor::Grpc,
            RetryBudget::Finagle(_) => Flavor::Finagle,
            RetryBudget::Aws(_) => Flavor::Aws,
        }
    }

    /// A new logical call starts on this edge (before its first attempt).
    ///
    /// Envoy counts it active; Finagle deposits 1000 (`RetryBudget.deposit()` per request).
    pub fn request_started(&mut self, now: SimTime) {
        match self {
            RetryBudget::Envoy(s) => s.active_requests += 1,
            RetryBudget::Finagle(s) => {
                let deposit = s.deposit;
                s.add(now, deposit);
            }
            RetryBudget::Grpc(_) | RetryBudget::Aws(_) => {}
        }
    }

    /// A logical call is over (success, failure or retries refused). Envoy stops counting it.
    pub fn request_finished(&mut self, _now: SimTime) {
        if let RetryBudget::Envoy(s) = self {
            assert!(
                s.active_requests > 0,
                "envoy budget: request finished twice"
            );
            s.active_requests -= 1;
        }
    }

    /// An attempt finished: `success` if it got a good response, `timed_out` if it failed by a
    /// timeout. `retry` is the permit that admitted the attempt (`None` for a call's first
    /// attempt). Call it before [`RetryBudget::try_retry`] for the same failure.
    ///
    /// gRPC: a failure is a qualified failure and takes one token, a success gives back
    /// `token_ratio` (grpc-java credits the committed attempt). AWS: a success gives back
    /// `no_retry_increment` when `retry` is `None`, else the permit's cost. Envoy: a permit is
    /// handed back, so the retry stops counting as outstanding.
    pub fn attempt_finished(
        &mut self,
        _now: SimTime,
        success: bool,
        timed_out: bool,
        retry: Option<RetryPermit>,
    ) {
        debug_assert!(
            !(success && timed_out),
            "a timed-out attempt did not succeed"
        );
        match self {
            RetryBudget::Envoy(s) => {
                if retry.is_some() {
                    s.release();
                }
            }
            RetryBudget::Grpc(s) => {
                if success {
                    s.on_success();
                } else {
                    // The answer of grpc-java's decrement-then-test is the state left for the
                    // `try_retry` that follows: `max(decremented, 0) > threshold` iff
                    // `decremented > threshold`, since the threshold is not negative.
                    let _ = s.on_qualified_failure();
                }
            }
            RetryBudget::Finagle(_) => {}
            RetryBudget::Aws(s) => {
                if success {
                    let amount = match retry {
                        None => s.config.no_retry_increment,
                        Some(permit) => permit.cost,
                    };
                    s.release(amount);
                }
            }
        }
    }

    /// The retry policy wants to retry (or hedge) after a failure (`timed_out` if it was a
    /// timeout): admits and accounts the retry, or refuses it (`None`, counted as refused).
    ///
    /// Envoy: outstanding retries < max (see [`EnvoyRetryState::max_retries`]). gRPC: tokens
    /// above `max_tokens / 2`. Finagle: withdraws the retry cost if the balance covers it. AWS:
    /// acquires `retry_cost`, or `timeout_retry_request` after a timeout.
    pub fn try_retry(&mut self, now: SimTime, timed_out: bool) -> Option<RetryPermit> {
        let (admitted, cost, counters) = match self {
            RetryBudget::Envoy(s) => (s.try_retry(), 0, &mut s.counters),
            RetryBudget::Grpc(s) => (s.is_above_threshold(), 0, &mut s.counters),
            RetryBudget::Finagle(s) => (s.try_withdraw(now), 0, &mut s.counters),
            RetryBudget::Aws(s) => {
                let cost = if timed_out {
                    s.config.timeout_retry_request
                } else {
                    s.config.retry_cost
                };
                (s.acquire(cost), cost, &mut s.counters)
            }
        };
        counters.record(admitted);
        admitted.then_some(RetryPermit { cost })
    }

    /// An admitted retry is given up before its attempt finished (the call's deadline passed
    /// during the backoff, the call was cancelled). Envoy stops counting it; the others ignore
    /// it (botocore does not refund an unused acquisition).
    pub fn retry_abandoned(&mut self, _now: SimTime, _permit: RetryPermit) {
        if let RetryBudget::Envoy(s) = self {
            s.release();
        }
    }

    /// Retries admitted so far.
    pub fn retries_admitted(&self) -> u64 {
        self.counters().admitted
    }

    /// Retries refused so far.
    pub fn retries_refused(&self) -> u64 {
        self.counters().refused
    }

    fn counters(&self) -> &Counters {
        match self {
            RetryBudget::Envoy(s) => &s.counters,
            RetryBudget::Grpc(s) => &s.counters,
            RetryBudget::Finagle(s) => &s.counters,
            RetryBudget::Aws(s) => &s.counters,
        }
    }
}

fn assert_valid(result: Result<(), String>) {
    if let Err(message) = result {
        panic!("invalid retry budget configuration: {message}");
    }
}

// ---------------------------------------------------------------------------------------------
// Google SRE adaptive throttling

/// Client-side adaptive throttling from the Google SRE book, "Handling Overload" (reference
/// §5.3): each request is rejected locally with probability
/// `max(0, (requests - K * accepts) / (requests + 1))` over the trailing `window`, where
/// `requests` counts every request the client tried (locally rejected ones included) and
/// `accepts` those the backend accepted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaptiveThrottleConfig {
    /// The multiplier K, 0.001..=1000 in thousandths (the book suggests 2; lower is more
    /// aggressive).
    pub k: f64,
    /// The trailing window (the book: 2 minutes), a multiple of
    /// [`ADAPTIVE_THROTTLE_BUCKETS`] nanoseconds.
    pub window: SimDuration,
}

/// The trailing window is [`ADAPTIVE_THROTTLE_BUCKETS`] fixed buckets of `window / 40`
/// (3 s for the book's 2 minutes), aligned to the start of the run; the counts are those of
/// the current bucket and the 39 before it, so the window covers between 39/40 and all of
/// `window`. (go-zero's `googleBreaker` also uses 40 buckets.)
pub const ADAPTIVE_THROTTLE_BUCKETS: u64 = 40;

impl AdaptiveThrottleConfig {
    /// The SRE book's values: K = 2, 2 minutes of history.
    pub fn defaults() -> Self {
        AdaptiveThrottleConfig {
            k: 2.0,
            window: SimDuration::from_secs(120),
        }
    }

    /// K in thousandths, rounded to the nearest.
    pub fn k_thousandths(&self) -> u64 {
        (self.k * 1000.0).round() as u64
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.k.is_finite() && (0.001..=1000.0).contains(&self.k)) {
            return Err(format!("k must be in 0.001..=1000, got {}", self.k));
        }
        let ns = self.window.as_nanos();
        if ns == 0 || ns % ADAPTIVE_THROTTLE_BUCKETS != 0 {
            return Err(format!(
                "window must be a positive multiple of {ADAPTIVE_THROTTLE_BUCKETS}ns, got {}",
                self.window
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct ThrottleBucket {
    /// The bucket's index since the start of the run; a slot holds one bucket at a time.
    index: u64,
    requests: u64,
    accepts: u64,
}

/// The running state of an [`AdaptiveThrottleConfig`].
#[derive(Clone, Debug)]
pub struct AdaptiveThrottle {
    k_thousandths: u64,
    bucket_ns: u64,
    buckets: [ThrottleBucket; ADAPTIVE_THROTTLE_BUCKETS as usize],
    admitted: u64,
    rejected: u64,
}

impl AdaptiveThrottle {
    /// A fresh throttle. Panics if the configuration does not validate.
    pub fn new(config: AdaptiveThrottleConfig) -> Self {
        if let Err(message) = config.validate() {
            panic!("invalid adaptive throttle configuration: {message}");
        }
        AdaptiveThrottle {
            k_thousandths: config.k_thousandths(),
            bucket_ns: config.window.as_nanos() / ADAPTIVE_THROTTLE_BUCKETS,
            buckets: [ThrottleBucket::default(); ADAPTIVE_THROTTLE_BUCKETS as usize],
            admitted: 0,
            rejected: 0,
        }
    }

    /// `(requests, accepts)` in the trailing window at `now`.
    pub fn counts(&self, now: SimTime) -> (u64, u64) {
        let current = now.as_nanos() / self.bucket_ns;
        let oldest = current.saturating_sub(ADAPTIVE_THROTTLE_BUCKETS - 1);
        self.buckets
            .iter()
            .filter(|b| (oldest..=current).contains(&b.index))
            .fold((0, 0), |(r, a), b| (r + b.requests, a + b.accepts))
    }

    /// The rejection probability at `now` as an exact fraction `(numerator, denominator)`, in
    /// thousandths: `max(0, 1000 * requests - k_thousandths * accepts) / (1000 * (requests + 1))`.
    pub fn rejection_odds(&self, now: SimTime) -> (u64, u64) {
        let (requests, accepts) = self.counts(now);
        let numerator = (1000 * requests).saturating_sub(self.k_thousandths * accepts);
        (numerator, 1000 * (requests + 1))
    }

    /// A request is about to be sent: `true` to send it, `false` to reject it locally. Either
    /// way it counts in `requests`. Draws from `rng` only when the probability is not zero.
    pub fn admit(&mut self, now: SimTime, rng: &mut SimRng) -> bool {
        let (numerator, denominator) = self.rejection_odds(now);
        debug_assert!(numerator < denominator, "probability below 1");
        let rejected = numerator > 0 && rng.below_inclusive(denominator - 1) < numerator;
        self.bucket(now).requests += 1;
        if rejected {
            self.rejected += 1;
        } else {
            self.admitted += 1;
        }
        !rejected
    }

    /// The backend accepted a request (replied without a rejection or overload error); counted
    /// at the reply's time.
    pub fn on_accepted(&mut self, now: SimTime) {
        self.bucket(now).accepts += 1;
    }

    /// Requests sent so far.
    pub fn admitted(&self) -> u64 {
        self.admitted
    }

    /// Requests rejected locally so far.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    fn bucket(&mut self, now: SimTime) -> &mut ThrottleBucket {
        let index = now.as_nanos() / self.bucket_ns;
        let bucket = &mut self.buckets[(index % ADAPTIVE_THROTTLE_BUCKETS) as usize];
        if bucket.index != index {
            assert!(
                bucket.index < index,
                "adaptive throttle: time went backwards"
            );
            *bucket = ThrottleBucket {
                index,
                requests: 0,
                accepts: 0,
            };
        }
        bucket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: SimTime = SimTime::ZERO;

    fn at_ms(ms: u64) -> SimTime {
        SimTime(ms * 1_000_000)
    }

    fn envoy(budget_percent: f64, min_retry_concurrency: u32) -> RetryBudget {
        RetryBudget::new(RetryBudgetConfig::Envoy(EnvoyRetryBudget {
            budget_percent,
            min_retry_concurrency,
        }))
    }

    /// Takes retries until one is refused; returns the permits taken.
    fn drain(budget: &mut RetryBudget, now: SimTime, timed_out: bool) -> Vec<RetryPermit> {
        let mut permits = Vec::new();
        // Bounded: no flavor here admits more than 1000 retries without refills.
        for _ in 0..1000 {
            match budget.try_retry(now, timed_out) {
                Some(p) => permits.push(p),
                None => return permits,
            }
        }
        panic!("budget never refused");
    }

    #[test]
    fn defaults_exist_for_budget_flavors_only() {
        for flavor in Flavor::ALL {
            let budget = RetryBudget::defaults(flavor);
            match flavor {
                Flavor::Envoy | Flavor::Grpc | Flavor::Finagle | Flavor::Aws => {
                    let budget = budget.expect("flavor has a budget");
                    assert_eq!(budget.flavor(), flavor);
                    let config = RetryBudgetConfig::defaults(flavor).unwrap();
                    assert_eq!(config.validate(), Ok(()), "{flavor:?}");
                }
                _ => assert!(budget.is_none(), "{flavor:?}"),
            }
        }
        assert_eq!(EnvoyRetryBudget::defaults().budget_percent, 20.0);
        assert_eq!(EnvoyRetryBudget::defaults().min_retry_concurrency, 3);
        assert_eq!(AwsRetryQuota::defaults().initial_capacity, 500);
        assert_eq!(
            FinagleRetryBudget::defaults().ttl,
            SimDuration::from_secs(10)
        );
    }

    #[test]
    fn validation_names_the_field() {
        let cases: [(RetryBudgetConfig, &str); 8] = [
            (
                RetryBudgetConfig::Envoy(EnvoyRetryBudget {
                    budget_percent: 101.0,
                    min_retry_concurrency: 3,
                }),
                "budget_percent",
            ),
            (
                RetryBudgetConfig::Grpc(GrpcRetryThrottle {
                    max_tokens: 1001,
                    token_ratio: 0.1,
                }),
                "max_tokens",
            ),
            (
                RetryBudgetConfig::Grpc(GrpcRetryThrottle {
                    max_tokens: 10,
                    token_ratio: 0.0001,
                }),
                "token_ratio",
            ),
            (
                RetryBudgetConfig::Finagle(FinagleRetryBudget {
                    ttl: SimDuration::from_millis(999),
                    ..FinagleRetryBudget::defaults()
                }),
                "ttl",
            ),
            (
                RetryBudgetConfig::Finagle(FinagleRetryBudget {
                    percent_can_retry: -0.1,
                    ..FinagleRetryBudget::defaults()
                }),
                "percent_can_retry",
            ),
            (
                RetryBudgetConfig::Aws(AwsRetryQuota {
                    initial_capacity: 0,
                    ..AwsRetryQuota::defaults()
                }),
                "initial_capacity",
            ),
            (
                RetryBudgetConfig::Aws(AwsRetryQuota {
                    retry_cost: 0,
                    ..AwsRetryQuota::defaults()
                }),
                "retry_cost",
            ),
            (
                RetryBudgetConfig::Aws(AwsRetryQuota {
                    timeout_retry_request: 501,
                    ..AwsRetryQuota::defaults()
                }),
                "timeout_retry_request",
            ),
        ];
        for (config, field) in cases {
            let err = config.validate().expect_err(field);
            assert!(err.starts_with(field), "{err}");
        }
        let bad_k = AdaptiveThrottleConfig {
            k: 0.0,
            ..AdaptiveThrottleConfig::defaults()
        };
        assert!(bad_k.validate().unwrap_err().starts_with("k "));
        let bad_window = AdaptiveThrottleConfig {
            window: SimDuration(41),
            ..AdaptiveThrottleConfig::defaults()
        };
        assert!(bad_window.validate().unwrap_err().starts_with("window"));
        assert_eq!(AdaptiveThrottleConfig::defaults().validate(), Ok(()));
    }

    #[test]
    fn envoy_min_retry_concurrency_is_a_floor() {
        let mut budget = envoy(20.0, 3);
        // 5 active requests: 20 % is 1, the floor of 3 applies.
        for _ in 0..5 {
            budget.request_started(T0);
        }
        let permits = drain(&mut budget, T0, false);
        assert_eq!(permits.len(), 3);
        assert_eq!(
            (budget.retries_admitted(), budget.retries_refused()),
            (3, 1)
        );
    }

    #[test]
    fn envoy_budget_scales_with_active_requests_and_refills() {
        let mut budget = envoy(20.0, 3);
        for _ in 0..100 {
            budget.request_started(T0);
        }
        let permits = drain(&mut budget, T0, false);
        assert_eq!(permits.len(), 20);
        // A finished retry attempt frees one slot, an abandoned one another.
        budget.attempt_finished(T0, false, false, Some(permits[0]));
        budget.retry_abandoned(T0, permits[1]);
        assert_eq!(drain(&mut budget, T0, false).len(), 2);
        // Fewer active requests lower the limit below the outstanding retries.
        for _ in 0..50 {
            budget.request_finished(T0);
        }
        let RetryBudget::Envoy(state) = &budget else {
            unreachable!()
        };
        assert_eq!((state.max_retries(), state.active_retries()), (10, 20));
        assert!(budget.try_retry(T0, false).is_none());
    }

    #[test]
    fn envoy_truncates_the_double_product_like_envoy() {
        // 29.0 / 100.0 * 100.0 is 28.999999999999996 in doubles: Envoy allows 28, not 29.
        let mut budget = envoy(29.0, 0);
        for _ in 0..100 {
            budget.request_started(T0);
        }
        assert_eq!(drain(&mut budget, T0, false).len(), 28);
        // 20 % of 24 active is 4.8: truncated to 4.
        let mut budget = envoy(20.0, 0);
        for _ in 0..24 {
            budget.request_started(T0);
        }
        assert_eq!(drain(&mut budget, T0, false).len(), 4);
    }

    fn grpc(max_tokens: u32, token_ratio: f64) -> RetryBudget {
        RetryBudget::new(RetryBudgetConfig::Grpc(GrpcRetryThrottle {
            max_tokens,
            token_ratio,
        }))
    }

    fn grpc_tokens(budget: &RetryBudget) -> u32 {
        match budget {
            RetryBudget::Grpc(s) => s.tokens_thousandths(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn grpc_reference_example_five_failures_stop_ten_successes_restore_a_token() {
        let mut budget = grpc(10, 0.1);
        assert_eq!(grpc_tokens(&budget), 10_000);
        // Failures 1..=4 leave 9, 8, 7, 6 tokens: above 5, retries go on.
        for n in 1..=4 {
            budget.attempt_finished(T0, false, false, None);
            assert!(budget.try_retry(T0, false).is_some(), "after failure {n}");
        }
        // The fifth leaves exactly 5 = max_tokens / 2: not above, retries stop.
        budget.attempt_finished(T0, false, false, None);
        assert_eq!(grpc_tokens(&budget), 5_000);
        assert!(budget.try_retry(T0, false).is_none());
        // One success gives back 0.1 token: 5.1 is above the threshold again.
        budget.attempt_finished(T0, true, false, None);
        assert_eq!(grpc_tokens(&budget), 5_100);
        assert!(budget.try_retry(T0, false).is_some());
        // Ten successes restore one whole token.
        let mut budget = grpc(10, 0.1);
        for _ in 0..5 {
            budget.attempt_finished(T0, false, false, None);
        }
        for _ in 0..10 {
            budget.attempt_finished(T0, true, false, None);
        }
        assert_eq!(grpc_tokens(&budget), 6_000);
        assert_eq!(
            (budget.retries_admitted(), budget.retries_refused()),
            (0, 0)
        );
    }

    #[test]
    fn grpc_tokens_clamp_to_zero_and_max() {
        let mut budget = grpc(3, 0.5);
        for _ in 0..10 {
            budget.attempt_finished(T0, false, true, None);
        }
        assert_eq!(grpc_tokens(&budget), 0);
        for _ in 0..100 {
            budget.attempt_finished(T0, true, false, None);
        }
        assert_eq!(grpc_tokens(&budget), 3_000);
        // Odd max: threshold 1500 thousandths; 2 tokens is above it, 1 is not.
        budget.attempt_finished(T0, false, false, None);
        assert!(budget.try_retry(T0, false).is_some());
        budget.attempt_finished(T0, false, false, None);
        assert!(budget.try_retry(T0, false).is_none());
        // The ratio is truncated to thousandths in single precision, as grpc-java does.
        let cfg = GrpcRetryThrottle {
            max_tokens: 10,
            token_ratio: 0.0129,
        };
        assert_eq!(cfg.token_ratio_thousandths(), 12);
    }

    fn finagle(min_retries_per_sec: u32, percent_can_retry: f64) -> RetryBudget {
        RetryBudget::new(RetryBudgetConfig::Finagle(FinagleRetryBudget {
            ttl: SimDuration::from_secs(10),
            min_retries_per_sec,
            percent_can_retry,
        }))
    }

    #[test]
    fn finagle_reserve_allows_min_retries_per_sec_times_ttl() {
        let mut budget = finagle(10, 0.2);
        // No traffic: the reserve alone, 10/s x 10 s = 100 retries.
        assert_eq!(drain(&mut budget, T0, false).len(), 100);
        // Each request deposits 1000; a retry costs 5000: five requests buy one retry.
        for _ in 0..4 {
            budget.request_started(at_ms(1));
        }
        assert!(budget.try_retry(at_ms(1), false).is_none());
        budget.request_started(at_ms(1));
        assert!(budget.try_retry(at_ms(1), false).is_some());
        assert!(budget.try_retry(at_ms(1), false).is_none());
    }

    #[test]
    fn finagle_withdrawals_and_deposits_expire_after_ttl() {
        let mut budget = finagle(10, 0.2);
        assert_eq!(drain(&mut budget, at_ms(500), false).len(), 100);
        // Half a ttl later the withdrawals still count.
        assert!(budget.try_retry(at_ms(5_000), false).is_none());
        // The withdrawals sit in the first slice; slices roll at the first operation after a
        // second has passed, and the first slice is overwritten by the roll at 10 s.
        let mut t = 5_000;
        let mut freed_at = None;
        while t <= 12_000 {
            if let RetryBudget::Finagle(s) = &mut budget
                && s.balance(at_ms(t)) > 0
            {
                freed_at = Some(t);
                break;
            }
            t += 100;
        }
        let freed_at = freed_at.expect("withdrawals expire");
        assert!(
            (9_000..=10_500).contains(&freed_at),
            "freed at {freed_at} ms"
        );
        // Deposits expire too: a budget without reserve loses them after the ttl.
        let mut budget = finagle(0, 0.2);
        for _ in 0..10 {
            budget.request_started(T0);
        }
        let RetryBudget::Finagle(s) = &mut budget else {
            unreachable!()
        };
        assert_eq!(s.balance(at_ms(5_000)), 2);
        assert_eq!(s.balance(at_ms(20_000)), 0);
    }

    #[test]
    fn finagle_zero_budget_never_retries() {
        let mut budget = finagle(0, 0.0);
        for _ in 0..1000 {
            budget.request_started(T0);
        }
        assert!(budget.try_retry(T0, false).is_none());
    }

    fn aws_available(budget: &RetryBudget) -> u32 {
        match budget {
            RetryBudget::Aws(s) => s.available_capacity(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn aws_quota_drains_by_cost_and_refuses_without_taking() {
        let mut budget = RetryBudget::defaults(Flavor::Aws).unwrap();
        // 500 / 5 = 100 ordinary retries.
        let permits = drain(&mut budget, T0, false);
        assert_eq!(permits.len(), 100);
        assert!(permits.iter().all(|p| p.cost() == 5));
        assert_eq!(aws_available(&budget), 0);
        let mut budget = RetryBudget::defaults(Flavor::Aws).unwrap();
        // Timeouts cost 10: 50 of them.
        assert_eq!(drain(&mut budget, T0, true).len(), 50);
        // Refill 7: one ordinary retry fits, a timeout retry does not and takes nothing.
        for _ in 0..7 {
            budget.attempt_finished(T0, true, false, None);
        }
        assert!(budget.try_retry(T0, true).is_none());
        assert_eq!(aws_available(&budget), 7);
        assert!(budget.try_retry(T0, false).is_some());
        assert_eq!(aws_available(&budget), 2);
    }

    #[test]
    fn aws_refunds_the_last_retry_cost_on_success_and_caps_at_capacity() {
        let mut budget = RetryBudget::defaults(Flavor::Aws).unwrap();
        let timeout_retry = budget.try_retry(T0, true).unwrap();
        let plain_retry = budget.try_retry(T0, false).unwrap();
        assert_eq!(aws_available(&budget), 485);
        // A failed retry gives nothing back.
        budget.attempt_finished(T0, false, false, Some(plain_retry));
        assert_eq!(aws_available(&budget), 485);
        // A successful retry gives back what it took.
        budget.attempt_finished(T0, true, false, Some(timeout_retry));
        assert_eq!(aws_available(&budget), 495);
        // Successes without retry give 1 each, never above 500.
        for _ in 0..20 {
            budget.attempt_finished(T0, true, false, None);
        }
        assert_eq!(aws_available(&budget), 500);
    }

    fn throttle() -> AdaptiveThrottle {
        AdaptiveThrottle::new(AdaptiveThrottleConfig::defaults())
    }

    #[test]
    fn sre_throttle_never_rejects_while_healthy() {
        let mut t = throttle();
        let mut rng = SimRng::from_seed(1);
        for i in 0..10_000u64 {
            let now = SimTime(i * 1_000_000);
            assert!(t.admit(now, &mut rng));
            t.on_accepted(now);
        }
        assert_eq!((t.admitted(), t.rejected()), (10_000, 0));
        // Half the requests accepted is still within K = 2.
        let now = SimTime(10_000 * 1_000_000);
        for _ in 0..10_000 {
            assert!(t.admit(now, &mut rng));
        }
        assert_eq!(t.rejection_odds(now).0, 0);
    }

    #[test]
    fn sre_throttle_probability_follows_the_formula_and_rises_as_accepts_fall() {
        let mut t = throttle();
        let mut rng = SimRng::from_seed(2);
        for _ in 0..100 {
            t.admit(T0, &mut rng);
            t.on_accepted(T0);
        }
        let mut last = 0.0;
        for failures in 1..=200u64 {
            t.admit(T0, &mut rng);
            let (n, d) = t.rejection_odds(T0);
            let requests = 100 + failures;
            let expected = (requests as f64 - 200.0).max(0.0) / (requests as f64 + 1.0);
            assert!((n as f64 / d as f64 - expected).abs() < 1e-12, "{failures}");
            assert!(n as f64 / d as f64 >= last);
            last = n as f64 / d as f64;
        }
        // requests 300, accepts 100: (300 - 200) / 301.
        assert_eq!(t.counts(T0), (300, 100));
        assert_eq!(t.rejection_odds(T0), (100_000, 301_000));
    }

    #[test]
    fn sre_throttle_rejects_with_the_stated_probability() {
        let mut t = throttle();
        let mut rng = SimRng::from_seed(3);
        for _ in 0..100 {
            t.admit(T0, &mut rng);
            t.on_accepted(T0);
        }
        for _ in 0..200 {
            t.admit(T0, &mut rng);
        }
        let p = 100.0 / 301.0;
        // Each trial admits from the same state, so the rejections are Binomial(n, p).
        let trials = 20_000u32;
        let rejected = (0..trials)
            .filter(|_| !t.clone().admit(T0, &mut rng))
            .count() as f64;
        let n = f64::from(trials);
        let tolerance = 5.0 * (p * (1.0 - p) / n).sqrt();
        let observed = rejected / n;
        assert!(
            (observed - p).abs() < tolerance,
            "observed {observed}, expected {p} +- {tolerance}"
        );
    }

    #[test]
    fn sre_throttle_window_rolls_over() {
        let mut t = throttle();
        let mut rng = SimRng::from_seed(4);
        // 3 s buckets. Failures in the first bucket only.
        for _ in 0..1000 {
            t.admit(SimTime(0), &mut rng);
        }
        assert!(t.rejected() > 0);
        let bucket = SimDuration::from_secs(3);
        // Still counted in the 40th bucket (starting at 117 s) ...
        let last_in = SimTime(0) + SimDuration::from_secs(117) + SimDuration(bucket.0 - 1);
        assert_eq!(t.counts(last_in), (1000, 0));
        // ... gone in the 41st (starting at 120 s).
        let first_out = SimTime(0) + SimDuration::from_secs(120);
        assert_eq!(t.counts(first_out), (0, 0));
        assert_eq!(t.rejection_odds(first_out).0, 0);
        assert!(t.admit(first_out, &mut rng));
        // A slot reused by a later bucket forgets the earlier one.
        assert_eq!(t.counts(first_out), (1, 0));
    }
}
