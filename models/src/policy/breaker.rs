//! Circuit breaker as a pure state machine: it owns the closed/open/half-open state, the
//! sliding window of outcomes and the log of transitions. By default it is Resilience4j's
//! `CircuitBreakerStateMachine`; the Polly v8 and Hystrix flavors carry their own defaults and
//! quirks (see `shared/reference/resilience-semantics.md` §1.1–1.3).
//!
//! The caller drives it with the simulated time: [`CircuitBreaker::try_acquire`] before a call,
//! [`CircuitBreaker::on_result`] when the call completes (every library records at completion),
//! [`CircuitBreaker::release`] when a permitted call never ran. Transitions that the libraries
//! make on a timer (Resilience4j's automatic OPEN -> HALF_OPEN and max wait in HALF_OPEN,
//! Hystrix's health snapshots) are applied by [`CircuitBreaker::advance`] at the instant they
//! were due, not when they are observed; every public method taking `now` advances first, so at
//! one instant a due timer fires before the call made at that instant.
//!
//! What differs by flavor:
//!
//! | | Resilience4j | Polly v8 | Hystrix |
//! |---|---|---|---|
//! | window | count ring or epoch-second buckets | 10 rolling windows, started lazily | 500 ms buckets from stream start |
//! | rate evaluated | on every outcome | on a failure only | at each 500 ms health snapshot |
//! | open -> half-open | `now > open_until` | `now >= open_until` | `now_ms > opened_ms + sleep_ms` |
//! | half-open probes | N (default 10), decided on the Nth outcome | 1, first outcome decides | 1, first outcome decides |
//! | metrics reset | new window on half-open and on close | on close only | health stream restarted on close |
//!
//! Pure: no events are scheduled, no wall clock, no hashing, no randomness. Rates are computed
//! from integer counts with single IEEE operations (Resilience4j in `f32` as Java does, Polly in
//! `f64`, Hystrix as Java's `(int)(errors / (double) total * 100)`), so they are the same bits
//! on every build.

use std::collections::VecDeque;

use sim_core::{SimDuration, SimTime};

use super::Flavor;

/// Hystrix `metrics.healthSnapshot.intervalInMilliseconds` (500 ms): the health stream cuts the
/// rolling window into buckets of this size and the breaker re-evaluates once per bucket.
pub const HYSTRIX_HEALTH_SNAPSHOT_INTERVAL: SimDuration = SimDuration::from_millis(500);

/// faultline's bound on `sliding_window_size` and `permitted_number_of_calls_in_half_open_state`
/// (both size a buffer held in memory).
pub const WINDOW_SIZE_MAX: u32 = 1_000_000;

/// Polly's limits on `SamplingDuration` / `BreakDuration`: 0.5 s .. 1 day.
const POLLY_DURATION_MIN: SimDuration = SimDuration::from_millis(500);
const POLLY_DURATION_MAX: SimDuration = SimDuration::from_secs(86_400);

/// How the closed-state window keeps outcomes (Resilience4j `SlidingWindowType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlidingWindowType {
    /// The last `sliding_window_size` outcomes (Resilience4j `COUNT_BASED`,
    /// `FixedSizeSlidingWindowMetrics`: each record evicts the oldest).
    CountBased,
    /// The outcomes of the last `sliding_window_size` seconds. Resilience4j `TIME_BASED`
    /// (`SlidingTimeWindowMetrics`): one bucket per epoch second of simulated time, so the span
    /// is the current partial second plus N-1 full seconds. Polly and Hystrix bucket differently
    /// (see [`BreakerConfig::sliding_window_size`]).
    TimeBased,
}

/// Circuit breaker parameters, named after Resilience4j's `CircuitBreakerConfig`. The Polly and
/// Hystrix settings map onto the same fields (see each field); behaviour without a field is
/// selected by [`BreakerConfig::flavor`].
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerConfig {
    /// Count or time window. Polly and Hystrix windows are always time based.
    pub sliding_window_type: SlidingWindowType,
    /// Calls (count based) or seconds (time based). Polly: `SamplingDuration` in whole seconds
    /// (Polly allows 0.5 s .. 1 day; faultline takes 1 .. 86400 s, so Polly's single-window
    /// metrics for a sampling duration under 200 ms never arise), kept as 10 windows of a tenth
    /// each. Hystrix: `metrics.rollingStats.timeInMilliseconds` / 1000, kept as buckets of
    /// [`HYSTRIX_HEALTH_SNAPSHOT_INTERVAL`].
    pub sliding_window_size: u32,
    /// No decision below this many calls in the window. Resilience4j `minimumNumberOfCalls`
    /// (count based: effectively `min(minimum_number_of_calls, sliding_window_size)`); Polly
    /// `MinimumThroughput` (>= 2); Hystrix `circuitBreaker.requestVolumeThreshold`.
    pub minimum_number_of_calls: u32,
    /// Trip when the failure rate, in percent, is at or above this. Polly: `FailureRatio` x 100;
    /// Hystrix: `circuitBreaker.errorThresholdPercentage`.
    pub failure_rate_threshold: f64,
    /// Trip when the share of slow calls, in percent, is at or above this (Resilience4j
    /// `slowCallRateThreshold`). Polly and Hystrix have no slow-call rule: their defaults make no
    /// call slow; if set, it is a faultline extension checked where the flavor checks the
    /// failure rate.
    pub slow_call_rate_threshold: f64,
    /// A call is slow when its duration is strictly above this (Resilience4j
    /// `slowCallDurationThreshold`, compared in nanoseconds). `SimDuration(u64::MAX)` = never.
    pub slow_call_duration_threshold: SimDuration,
    /// How long the breaker stays open before a probe is allowed. Resilience4j
    /// `waitDurationInOpenState`; Polly `BreakDuration`; Hystrix
    /// `circuitBreaker.sleepWindowInMilliseconds` (whole milliseconds).
    pub wait_duration_in_open_state: SimDuration,
    /// Probes admitted in half-open (Resilience4j `permittedNumberOfCallsInHalfOpenState`). Polly
    /// and Hystrix admit exactly one; validation holds them to 1.
    pub permitted_number_of_calls_in_half_open_state: u32,
    /// Resilience4j `maxWaitDurationInHalfOpenState`: after this long in half-open, go back to
    /// open. Zero = wait forever. Resilience4j only.
    pub max_wait_duration_in_half_open_state: SimDuration,
    /// Resilience4j `automaticTransitionFromOpenToHalfOpenEnabled`: go half-open when the wait
    /// ends even without a call. Resilience4j only (Polly and Hystrix are always lazy).
    pub automatic_transition_from_open_to_half_open_enabled: bool,
    /// Whose semantics apply: [`Flavor::Resilience4j`], [`Flavor::Polly`] or [`Flavor::Hystrix`].
    pub flavor: Flavor,
}

impl BreakerConfig {
    /// The library's defaults, or `None` for a flavor without a circuit breaker (Envoy's
    /// "circuit breaking" is a concurrency limit, gRPC, Finagle and the AWS SDKs have none).
    ///
    /// - Resilience4j `CircuitBreakerConfig`: count based 100, minimum 100 calls, 50 % failures,
    ///   100 % slow above 60 s, 60 s open, 10 probes, no max wait, no automatic transition.
    /// - Polly v8 `CircuitBreakerStrategyOptions`: `FailureRatio` 0.1, `MinimumThroughput` 100,
    ///   `SamplingDuration` 30 s, `BreakDuration` 5 s, one probe.
    /// - Hystrix `HystrixCommandProperties`: `requestVolumeThreshold` 20,
    ///   `errorThresholdPercentage` 50, `sleepWindowInMilliseconds` 5000, rolling window 10 s,
    ///   one probe.
    pub fn defaults(flavor: Flavor) -> Option<BreakerConfig> {
        let never_slow = SimDuration(u64::MAX);
        match flavor {
            Flavor::Resilience4j => Some(BreakerConfig {
                sliding_window_type: SlidingWindowType::CountBased,
                sliding_window_size: 100,
                minimum_number_of_calls: 100,
                failure_rate_threshold: 50.0,
                slow_call_rate_threshold: 100.0,
                slow_call_duration_threshold: SimDuration::from_secs(60),
                wait_duration_in_open_state: SimDuration::from_secs(60),
                permitted_number_of_calls_in_half_open_state: 10,
                max_wait_duration_in_half_open_state: SimDuration::ZERO,
                automatic_transition_from_open_to_half_open_enabled: false,
                flavor,
            }),
            Flavor::Polly => Some(BreakerConfig {
                sliding_window_type: SlidingWindowType::TimeBased,
                sliding_window_size: 30,
                minimum_number_of_calls: 100,
                failure_rate_threshold: 10.0,
                slow_call_rate_threshold: 100.0,
                slow_call_duration_threshold: never_slow,
                wait_duration_in_open_state: SimDuration::from_secs(5),
                permitted_number_of_calls_in_half_open_state: 1,
                max_wait_duration_in_half_open_state: SimDuration::ZERO,
                automatic_transition_from_open_to_half_open_enabled: false,
                flavor,
            }),
            Flavor::Hystrix => Some(BreakerConfig {
                sliding_window_type: SlidingWindowType::TimeBased,
                sliding_window_size: 10,
                minimum_number_of_calls: 20,
                failure_rate_threshold: 50.0,
                slow_call_rate_threshold: 100.0,
                slow_call_duration_threshold: never_slow,
                wait_duration_in_open_state: SimDuration::from_secs(5),
                permitted_number_of_calls_in_half_open_state: 1,
                max_wait_duration_in_half_open_state: SimDuration::ZERO,
                automatic_transition_from_open_to_half_open_enabled: false,
                flavor,
            }),
            Flavor::Envoy | Flavor::Grpc | Flavor::Finagle | Flavor::Aws => None,
        }
    }

    /// Checks every field against the range the flavor's library accepts. On error, the message
    /// lists every problem (joined by `; `), each naming the field and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems: Vec<String> = Vec::new();
        let flavor = self.flavor;
        let name = flavor.name();
        let library = matches!(
            flavor,
            Flavor::Resilience4j | Flavor::Polly | Flavor::Hystrix
        );
        if !library {
            problems.push(format!(
                "flavor: {name} has no circuit breaker; use resilience4j, polly or hystrix"
            ));
            return Err(problems.join("; "));
        }
        let r4j = flavor == Flavor::Resilience4j;

        if !r4j && self.sliding_window_type != SlidingWindowType::TimeBased {
            problems.push(format!(
                "sliding_window_type: must be TimeBased for {name} (its window is time based)"
            ));
        }
        let size = self.sliding_window_size;
        let size_max = if flavor == Flavor::Polly {
            86_400
        } else {
            WINDOW_SIZE_MAX
        };
        if !(1..=size_max).contains(&size) {
            problems.push(format!(
                "sliding_window_size: must be in 1..={size_max} for {name}, got {size}"
            ));
        }
        let calls_min = if flavor == Flavor::Polly { 2 } else { 1 };
        if self.minimum_number_of_calls < calls_min {
            problems.push(format!(
                "minimum_number_of_calls: must be >= {calls_min} for {name}, got {}",
                self.minimum_number_of_calls
            ));
        }
        // Resilience4j: (0, 100]; Polly's FailureRatio allows 0 (any failure at throughput);
        // Hystrix takes any integer percentage, 0 meaning volume alone trips.
        let failure = self.failure_rate_threshold;
        let failure_ok = if r4j {
            failure > 0.0 && failure <= 100.0
        } else {
            (0.0..=100.0).contains(&failure)
        };
        if !failure_ok {
            let range = if r4j { "(0, 100]" } else { "[0, 100]" };
            problems.push(format!(
                "failure_rate_threshold: must be a percentage in {range} for {name}, got {failure}"
            ));
        }
        let slow = self.slow_call_rate_threshold;
        if !(slow > 0.0 && slow <= 100.0) {
            problems.push(format!(
                "slow_call_rate_threshold: must be a percentage in (0, 100], got {slow}"
            ));
        }
        if self.slow_call_duration_threshold < SimDuration::NANOSECOND {
            problems.push("slow_call_duration_threshold: must be >= 1ns, got 0s".to_string());
        }

        let wait = self.wait_duration_in_open_state;
        match flavor {
            Flavor::Polly => {
                if !(POLLY_DURATION_MIN..=POLLY_DURATION_MAX).contains(&wait) {
                    problems.push(format!(
                        "wait_duration_in_open_state: must be in 500ms..=86400s for polly, got {wait}"
                    ));
                }
            }
            Flavor::Hystrix => {
                if wait < SimDuration::MILLISECOND || wait.0 % SimDuration::MILLISECOND.0 != 0 {
                    problems.push(format!(
                        "wait_duration_in_open_state: must be a whole number of milliseconds >= 1ms for hystrix, got {wait}"
                    ));
                }
            }
            _ => {
                if wait < SimDuration::MILLISECOND {
                    problems.push(format!(
                        "wait_duration_in_open_state: must be >= 1ms, got {wait}"
                    ));
                }
            }
        }

        let probes = self.permitted_number_of_calls_in_half_open_state;
        if r4j {
            if !(1..=WINDOW_SIZE_MAX).contains(&probes) {
                problems.push(format!(
                    "permitted_number_of_calls_in_half_open_state: must be in 1..={WINDOW_SIZE_MAX}, got {probes}"
                ));
            }
        } else if probes != 1 {
            problems.push(format!(
                "permitted_number_of_calls_in_half_open_state: must be 1 for {name} (one probe), got {probes}"
            ));
        }

        let max_wait = self.max_wait_duration_in_half_open_state;
        if r4j {
            if max_wait != SimDuration::ZERO && max_wait < SimDuration::MILLISECOND {
                problems.push(format!(
                    "max_wait_duration_in_half_open_state: must be 0s (wait forever) or >= 1ms, got {max_wait}"
                ));
            }
        } else if max_wait != SimDuration::ZERO {
            problems.push(format!(
                "max_wait_duration_in_half_open_state: must be 0s for {name} (no half-open timer), got {max_wait}"
            ));
        }
        if !r4j && self.automatic_transition_from_open_to_half_open_enabled {
            problems.push(format!(
                "automatic_transition_from_open_to_half_open_enabled: must be false for {name} (half-open is entered lazily)"
            ));
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The three states every library shares. (Resilience4j's DISABLED, METRICS_ONLY and
/// FORCED_OPEN and Polly's Isolated are manual overrides, not modelled here.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// The name used in traces and reports: `closed`, `open`, `half_open`.
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// One state change, at the instant the library would have made it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    pub at: SimTime,
    pub from: BreakerState,
    pub to: BreakerState,
    /// Failure rate in percent that decided the transition, when a rate was evaluated
    /// (Resilience4j closed/half-open verdicts, Polly and Hystrix trips); `None` for timer, lazy
    /// and single-probe transitions.
    pub failure_rate: Option<f64>,
    /// Slow-call rate in percent, known in the same cases as `failure_rate`.
    pub slow_call_rate: Option<f64>,
}

/// Calls, failed calls and slow calls (a slow failure counts in both, as in Resilience4j).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    calls: u64,
    failed: u64,
    slow: u64,
}

impl Counts {
    const ZERO: Counts = Counts {
        calls: 0,
        failed: 0,
        slow: 0,
    };

    fn of(failed: bool, slow: bool) -> Counts {
        Counts {
            calls: 1,
            failed: u64::from(failed),
            slow: u64::from(slow),
        }
    }

    fn add(&mut self, other: Counts) {
        self.calls += other.calls;
        self.failed += other.failed;
        self.slow += other.slow;
    }

    fn remove(&mut self, other: Counts) {
        let underflow = "window totals below a bucket they contain";
        self.calls = self.calls.checked_sub(other.calls).expect(underflow);
        self.failed = self.failed.checked_sub(other.failed).expect(underflow);
        self.slow = self.slow.checked_sub(other.slow).expect(underflow);
    }
}

/// Resilience4j `FixedSizeSlidingWindowMetrics`: a ring of the last `size` outcomes.
#[derive(Clone, Debug)]
struct CountWindow {
    ring: Vec<Counts>,
    size: usize,
    next: usize,
    total: Counts,
}

impl CountWindow {
    fn new(size: u32) -> CountWindow {
        let size = size as usize;
        assert!(size >= 1);
        CountWindow {
            ring: Vec::new(),
            size,
            next: 0,
            total: Counts::ZERO,
        }
    }

    fn record(&mut self, outcome: Counts) -> Counts {
        if self.ring.len() < self.size {
            self.ring.push(outcome);
        } else {
            let evicted = std::mem::replace(&mut self.ring[self.next], outcome);
            self.total.remove(evicted);
        }
        self.next = (self.next + 1) % self.size;
        self.total.add(outcome);
        assert!(self.total.calls as usize == self.ring.len());
        self.total
    }
}

/// Resilience4j `SlidingTimeWindowMetrics`: one bucket per epoch second of simulated time; the
/// head moves to the current second on each record, clearing the seconds skipped.
#[derive(Clone, Debug)]
struct EpochSecondWindow {
    /// (epoch second, outcomes of that second)
    buckets: Vec<(u64, Counts)>,
    head: usize,
    total: Counts,
}

impl EpochSecondWindow {
    fn new(seconds: u32) -> EpochSecondWindow {
        assert!(seconds >= 1);
        EpochSecondWindow {
            buckets: vec![(0, Counts::ZERO); seconds as usize],
            head: 0,
            total: Counts::ZERO,
        }
    }

    fn record(&mut self, now: SimTime, outcome: Counts) -> Counts {
        let second = now.as_nanos() / SimDuration::SECOND.as_nanos();
        let head_second = self.buckets[self.head].0;
        if second > head_second {
            let len = self.buckets.len();
            let steps = (second - head_second).min(len as u64);
            for behind in (0..steps).rev() {
                self.head = (self.head + 1) % len;
                let cleared = self.buckets[self.head].1;
                self.total.remove(cleared);
                self.buckets[self.head] = (second - behind, Counts::ZERO);
            }
        }
        self.buckets[self.head].1.add(outcome);
        self.total.add(outcome);
        self.total
    }
}

/// Polly v8 `RollingHealthMetrics`: up to 10 windows of `SamplingDuration / 10`, a new one
/// started by the first event at least a window after the current one began (not clock
/// aligned); windows that began `SamplingDuration` or more ago are dropped.
#[derive(Clone, Debug)]
struct PollyWindow {
    windows: VecDeque<(SimTime, Counts)>,
    window: SimDuration,
    sampling: SimDuration,
    total: Counts,
}

impl PollyWindow {
    const WINDOWS: u64 = 10;

    fn new(seconds: u32) -> PollyWindow {
        let sampling = SimDuration::from_secs(u64::from(seconds));
        PollyWindow {
            windows: VecDeque::new(),
            window: SimDuration(sampling.as_nanos() / Self::WINDOWS),
            sampling,
            total: Counts::ZERO,
        }
    }

    fn record(&mut self, now: SimTime, outcome: Counts) -> Counts {
        let start_new = self
            .windows
            .back()
            .is_none_or(|&(started, _)| now.saturating_since(started) >= self.window);
        if start_new {
            self.windows.push_back((now, Counts::ZERO));
        }
        while let Some(&(started, counts)) = self.windows.front() {
            if now.saturating_since(started) < self.sampling {
                break;
            }
            self.total.remove(counts);
            self.windows.pop_front();
        }
        assert!(self.windows.len() as u64 <= Self::WINDOWS);
        let current = self
            .windows
            .back_mut()
            .expect("the current window was just ensured");
        current.1.add(outcome);
        self.total.add(outcome);
        self.total
    }
}

/// Hystrix `HealthCountsStream`: buckets of [`HYSTRIX_HEALTH_SNAPSHOT_INTERVAL`] counted from
/// the stream's start; the snapshot emitted at the end of bucket `t - 1` (tick `t`) sums the
/// last `len` completed buckets, `t - len .. t`.
#[derive(Clone, Debug)]
struct HystrixWindow {
    /// (bucket index since `epoch`, outcomes); `u64::MAX` marks a bucket never used.
    buckets: Vec<(u64, Counts)>,
    epoch: SimTime,
    newest: Option<u64>,
}

impl HystrixWindow {
    fn new(seconds: u32, epoch: SimTime) -> HystrixWindow {
        let per_second = SimDuration::SECOND.as_nanos() / HYSTRIX_HEALTH_SNAPSHOT_INTERVAL.0;
        let len = u64::from(seconds) * per_second;
        HystrixWindow {
            buckets: vec![(u64::MAX, Counts::ZERO); len as usize],
            epoch,
            newest: None,
        }
    }

    fn bucket_of(&self, now: SimTime) -> u64 {
        (now - self.epoch).as_nanos() / HYSTRIX_HEALTH_SNAPSHOT_INTERVAL.as_nanos()
    }

    fn tick_time(&self, tick: u64) -> SimTime {
        let offset = tick.saturating_mul(HYSTRIX_HEALTH_SNAPSHOT_INTERVAL.as_nanos());
        self.epoch + SimDuration(offset)
    }

    fn record(&mut self, now: SimTime, outcome: Counts) {
        let index = self.bucket_of(now);
        let len = self.buckets.len() as u64;
        let slot = &mut self.buckets[(index % len) as usize];
        if slot.0 != index {
            *slot = (index, Counts::ZERO);
        }
        slot.1.add(outcome);
        self.newest = Some(index);
    }

    /// The health counts emitted at tick `tick`: buckets `tick - len .. tick`.
    fn health(&self, tick: u64) -> Counts {
        let len = self.buckets.len() as u64;
        let mut sum = Counts::ZERO;
        for &(index, counts) in &self.buckets {
            if index != u64::MAX && index < tick && index + len >= tick {
                sum.add(counts);
            }
        }
        sum
    }
}

#[derive(Clone, Debug)]
enum Window {
    Count(CountWindow),
    EpochSeconds(EpochSecondWindow),
    Polly(PollyWindow),
    Hystrix(HystrixWindow),
}

impl Window {
    /// The closed-state window of a fresh breaker (or after a reset at `at`).
    fn closed(config: &BreakerConfig, at: SimTime) -> Window {
        let size = config.sliding_window_size;
        match (config.flavor, config.sliding_window_type) {
            (Flavor::Polly, _) => Window::Polly(PollyWindow::new(size)),
            (Flavor::Hystrix, _) => Window::Hystrix(HystrixWindow::new(size, at)),
            (_, SlidingWindowType::CountBased) => Window::Count(CountWindow::new(size)),
            (_, SlidingWindowType::TimeBased) => Window::EpochSeconds(EpochSecondWindow::new(size)),
        }
    }

    /// Records one outcome and returns the window's totals (`None` for Hystrix, whose totals
    /// are only read at health snapshots).
    fn record(&mut self, now: SimTime, outcome: Counts) -> Option<Counts> {
        match self {
            Window::Count(window) => Some(window.record(outcome)),
            Window::EpochSeconds(window) => Some(window.record(now, outcome)),
            Window::Polly(window) => Some(window.record(now, outcome)),
            Window::Hystrix(window) => {
                window.record(now, outcome);
                None
            }
        }
    }
}

/// Rates in percent and whether either reached its threshold.
#[derive(Clone, Copy, Debug)]
struct Verdict {
    exceeded: bool,
    failure_rate: f64,
    slow_call_rate: f64,
}

/// The flavor's rate check over `counts`; `None` below the minimum number of calls.
fn judge(config: &BreakerConfig, counts: Counts, minimum_calls: u64) -> Option<Verdict> {
    if counts.calls == 0 || counts.calls < minimum_calls {
        return None;
    }
    let verdict = match config.flavor {
        Flavor::Polly => {
            // Polly HealthInfo: failures / (double) throughput >= FailureRatio.
            let calls = counts.calls as f64;
            let failure_ratio = counts.failed as f64 / calls;
            let slow_ratio = counts.slow as f64 / calls;
            Verdict {
                exceeded: failure_ratio >= config.failure_rate_threshold / 100.0
                    || slow_ratio >= config.slow_call_rate_threshold / 100.0,
                failure_rate: counts.failed as f64 * 100.0 / calls,
                slow_call_rate: counts.slow as f64 * 100.0 / calls,
            }
        }
        Flavor::Hystrix => {
            // Hystrix HealthCounts: (int) ((double) errors / total * 100), truncated.
            let percent = |part: u64| ((part as f64 / counts.calls as f64) * 100.0) as u64 as f64;
            let failure_rate = percent(counts.failed);
            let slow_call_rate = percent(counts.slow);
            Verdict {
                exceeded: failure_rate >= config.failure_rate_threshold
                    || slow_call_rate >= config.slow_call_rate_threshold,
                failure_rate,
                slow_call_rate,
            }
        }
        _ => {
            // Resilience4j SnapshotImpl: count * 100.0f / total, compared with float thresholds.
            let percent = |part: u64| part as f32 * 100.0 / counts.calls as f32;
            let failure_rate = percent(counts.failed);
            let slow_call_rate = percent(counts.slow);
            Verdict {
                exceeded: failure_rate >= config.failure_rate_threshold as f32
                    || slow_call_rate >= config.slow_call_rate_threshold as f32,
                failure_rate: f64::from(failure_rate),
                slow_call_rate: f64::from(slow_call_rate),
            }
        }
    };
    Some(verdict)
}

/// Everything that changes with time, apart from the log, so that [`CircuitBreaker::state_at`]
/// can run the timers on a copy.
#[derive(Clone, Debug)]
struct Core {
    state: BreakerState,
    window: Window,
    /// When the current (or last) open period began.
    opened_at: SimTime,
    /// `opened_at + wait_duration_in_open_state`.
    open_until: SimTime,
    half_opened_at: SimTime,
    half_open_permits: u64,
    /// Hystrix: the first health snapshot tick not yet evaluated.
    next_tick: u64,
    /// The latest time seen; time never goes back.
    now: SimTime,
}

impl Core {
    fn transition(
        &mut self,
        config: &BreakerConfig,
        at: SimTime,
        to: BreakerState,
        verdict: Option<Verdict>,
        sink: &mut impl FnMut(Transition),
    ) {
        let from = self.state;
        let legal = matches!(
            (from, to),
            (BreakerState::Closed, BreakerState::Open)
                | (BreakerState::Open, BreakerState::HalfOpen)
                | (BreakerState::HalfOpen, BreakerState::Open)
                | (BreakerState::HalfOpen, BreakerState::Closed)
        );
        assert!(legal, "illegal breaker transition {from:?} -> {to:?}");
        let entered = match from {
            BreakerState::Closed => SimTime::ZERO,
            BreakerState::Open => self.opened_at,
            BreakerState::HalfOpen => self.half_opened_at,
        };
        assert!(
            at >= entered,
            "transition at {at} before the state began at {entered}"
        );
        assert!(
            at <= self.now,
            "transition at {at} after the present {}",
            self.now
        );
        match to {
            BreakerState::Open => {
                // Resilience4j OpenState keeps the previous metrics (late results land there);
                // Polly and Hystrix keep theirs until the circuit closes.
                self.opened_at = at;
                self.open_until = at + config.wait_duration_in_open_state;
            }
            BreakerState::HalfOpen => {
                self.half_opened_at = at;
                self.half_open_permits =
                    u64::from(config.permitted_number_of_calls_in_half_open_state);
                if config.flavor == Flavor::Resilience4j {
                    // CircuitBreakerMetrics.forHalfOpen: a count window of the probes.
                    self.window = Window::Count(CountWindow::new(
                        config.permitted_number_of_calls_in_half_open_state,
                    ));
                }
            }
            BreakerState::Closed => {
                // Resilience4j: new ClosedState, fresh metrics. Polly: metrics.Reset().
                // Hystrix: resetStream(), a new health stream whose buckets start now.
                self.window = Window::closed(config, at);
                self.next_tick = 1;
                self.half_open_permits = 0;
            }
        }
        self.state = to;
        sink(Transition {
            at,
            from,
            to,
            failure_rate: verdict.map(|v| v.failure_rate),
            slow_call_rate: verdict.map(|v| v.slow_call_rate),
        });
    }

    /// Applies every timer due at or before `now`, each at its own due instant.
    fn advance(&mut self, config: &BreakerConfig, now: SimTime, sink: &mut impl FnMut(Transition)) {
        assert!(
            now >= self.now,
            "breaker time went back from {} to {now}",
            self.now
        );
        self.now = now;
        // Each pass moves time forward by at least 1 ms (validated durations), so the loop ends.
        loop {
            match (config.flavor, self.state) {
                (Flavor::Resilience4j, BreakerState::Open)
                    if config.automatic_transition_from_open_to_half_open_enabled
                        && self.open_until <= now =>
                {
                    let due = self.open_until;
                    self.transition(config, due, BreakerState::HalfOpen, None, sink);
                }
                (Flavor::Resilience4j, BreakerState::HalfOpen)
                    if config.max_wait_duration_in_half_open_state > SimDuration::ZERO
                        && self.half_opened_at + config.max_wait_duration_in_half_open_state
                            <= now =>
                {
                    let due = self.half_opened_at + config.max_wait_duration_in_half_open_state;
                    self.transition(config, due, BreakerState::Open, None, sink);
                }
                (Flavor::Hystrix, BreakerState::Closed) => {
                    if let Some((tick_at, verdict)) = self.hystrix_snapshots(config, now) {
                        self.transition(config, tick_at, BreakerState::Open, Some(verdict), sink);
                    }
                    break;
                }
                _ => break,
            }
        }
    }

    /// Hystrix: evaluates the health snapshots due up to `now`, returning the first that trips.
    fn hystrix_snapshots(
        &mut self,
        config: &BreakerConfig,
        now: SimTime,
    ) -> Option<(SimTime, Verdict)> {
        let Window::Hystrix(window) = &self.window else {
            unreachable!("a hystrix breaker keeps a hystrix window");
        };
        let last_tick = window.bucket_of(now);
        let len = window.buckets.len() as u64;
        while self.next_tick <= last_tick {
            let tick = self.next_tick;
            let window_has_calls = window.newest.is_some_and(|newest| tick <= newest + len);
            if !window_has_calls {
                // Every later snapshot before the next record is empty: skip to the present.
                self.next_tick = last_tick + 1;
                break;
            }
            self.next_tick += 1;
            let counts = window.health(tick);
            let minimum = u64::from(config.minimum_number_of_calls);
            if let Some(verdict) = judge(config, counts, minimum) {
                if verdict.exceeded {
                    return Some((window.tick_time(tick), verdict));
                }
            }
        }
        None
    }

    /// Whether the open wait is over for a call at `now`, with the flavor's comparison.
    fn wait_elapsed(&self, config: &BreakerConfig, now: SimTime) -> bool {
        match config.flavor {
            // Polly PermitHalfOpenCircuitTest: now >= blockedUntil.
            Flavor::Polly => now >= self.open_until,
            // Hystrix isAfterSleepWindow: currentTimeMillis > circuitOpened + sleepWindow.
            Flavor::Hystrix => {
                let millisecond = SimDuration::MILLISECOND.as_nanos();
                let now_ms = now.as_nanos() / millisecond;
                let opened_ms = self.opened_at.as_nanos() / millisecond;
                let sleep_ms = config.wait_duration_in_open_state.as_nanos() / millisecond;
                now_ms > opened_ms.saturating_add(sleep_ms)
            }
            // Resilience4j OpenState: clock.instant().isAfter(retryAfterWaitDuration).
            _ => now > self.open_until,
        }
    }

    fn take_probe(&mut self) -> bool {
        if self.half_open_permits > 0 {
            self.half_open_permits -= 1;
            true
        } else {
            false
        }
    }
}

/// A circuit breaker for one calling replica (every library keeps this state per process).
///
/// Default semantics are Resilience4j's `CircuitBreakerStateMachine`; [`BreakerConfig::flavor`]
/// selects Polly v8's `CircuitStateController` or Hystrix's `HystrixCircuitBreakerImpl`.
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    core: Core,
    transitions: Vec<Transition>,
    not_permitted: u64,
}

impl CircuitBreaker {
    /// A closed breaker at time zero.
    ///
    /// # Panics
    /// If `config` does not pass [`BreakerConfig::validate`] (a programmer error: scenarios are
    /// validated before a world is built).
    pub fn new(config: BreakerConfig) -> CircuitBreaker {
        if let Err(problems) = config.validate() {
            panic!("invalid circuit breaker config: {problems}");
        }
        let window = Window::closed(&config, SimTime::ZERO);
        CircuitBreaker {
            core: Core {
                state: BreakerState::Closed,
                window,
                opened_at: SimTime::ZERO,
                open_until: SimTime::ZERO,
                half_opened_at: SimTime::ZERO,
                half_open_permits: 0,
                next_tick: 1,
                now: SimTime::ZERO,
            },
            config,
            transitions: Vec::new(),
            not_permitted: 0,
        }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Asks to make a call at `now`; `false` = not permitted (counted in
    /// [`CircuitBreaker::not_permitted`]).
    ///
    /// - Closed: always permitted.
    /// - Open: the lazy OPEN -> HALF_OPEN happens here, at `now`, once the wait is over
    ///   (Resilience4j `now > open_until`; Polly `now >= open_until`; Hystrix compares whole
    ///   milliseconds, `now_ms > opened_ms + sleep_ms`); this call then takes the first probe.
    /// - Half-open: permitted while probe permits remain (Resilience4j: N; Polly, Hystrix: 1);
    ///   a finished probe does not give its permit back.
    pub fn try_acquire(&mut self, now: SimTime) -> bool {
        self.advance(now);
        let config = &self.config;
        let sink = &mut |t: Transition| self.transitions.push(t);
        let permitted = match self.core.state {
            BreakerState::Closed => true,
            BreakerState::Open => {
                if self.core.wait_elapsed(config, now) {
                    self.core
                        .transition(config, now, BreakerState::HalfOpen, None, sink);
                    self.core.take_probe()
                } else {
                    false
                }
            }
            BreakerState::HalfOpen => self.core.take_probe(),
        };
        if !permitted {
            self.not_permitted += 1;
        }
        permitted
    }

    /// Records the outcome of a call completing at `now` after `duration` (every library records
    /// at completion). A call is slow when `duration > slow_call_duration_threshold`
    /// (Resilience4j, strict). The outcome is recorded whatever the state (a call permitted
    /// before the circuit opened still reports), then:
    ///
    /// - Resilience4j: closed evaluates both rates on every outcome and opens at or above a
    ///   threshold; open only records; half-open records into a count window of the N probes and
    ///   decides when it holds `min(minimum_number_of_calls, N)` outcomes: open if a rate is at
    ///   or above its threshold, closed (fresh window) otherwise.
    /// - Polly: only a failure evaluates (closed: throughput >= minimum and ratio >= threshold
    ///   opens); in half-open any failure reopens and any success closes and resets the
    ///   metrics; a failure while open neither extends the break nor re-signals it.
    /// - Hystrix: closed and open only record (the rate is read at health snapshots, see
    ///   [`CircuitBreaker::advance`]); in half-open any success closes (restarting the health
    ///   stream at `now`, so the outcome itself lands in the fresh window) and any failure
    ///   reopens with the sleep window starting at `now`.
    ///
    /// In Polly and Hystrix the deciding outcome need not be the probe's: a late result of a
    /// call started before the circuit opened decides just the same, as in those libraries.
    pub fn on_result(&mut self, now: SimTime, duration: SimDuration, failed: bool) {
        self.advance(now);
        let config = &self.config;
        let sink = &mut |t: Transition| self.transitions.push(t);
        let core = &mut self.core;
        let slow = duration > config.slow_call_duration_threshold;
        let outcome = Counts::of(failed, slow);
        match config.flavor {
            Flavor::Polly => match core.state {
                BreakerState::HalfOpen if failed => {
                    // AdvancedCircuitBehavior does not count a half-open failure.
                    core.transition(config, now, BreakerState::Open, None, sink);
                }
                BreakerState::HalfOpen => {
                    core.window.record(now, outcome);
                    core.transition(config, now, BreakerState::Closed, None, sink);
                }
                BreakerState::Closed if failed => {
                    let totals = core
                        .window
                        .record(now, outcome)
                        .expect("polly window totals");
                    let minimum = u64::from(config.minimum_number_of_calls);
                    if let Some(verdict) = judge(config, totals, minimum) {
                        if verdict.exceeded {
                            core.transition(config, now, BreakerState::Open, Some(verdict), sink);
                        }
                    }
                }
                BreakerState::Closed | BreakerState::Open => {
                    core.window.record(now, outcome);
                }
            },
            Flavor::Hystrix => {
                // markSuccess / markNonSuccess act before the completion event reaches the
                // health stream.
                if core.state == BreakerState::HalfOpen {
                    let to = if failed {
                        BreakerState::Open
                    } else {
                        BreakerState::Closed
                    };
                    core.transition(config, now, to, None, sink);
                }
                core.window.record(now, outcome);
            }
            _ => {
                let totals = core
                    .window
                    .record(now, outcome)
                    .expect("resilience4j window totals");
                match core.state {
                    BreakerState::Closed => {
                        let minimum = match config.sliding_window_type {
                            SlidingWindowType::CountBased => config
                                .minimum_number_of_calls
                                .min(config.sliding_window_size),
                            SlidingWindowType::TimeBased => config.minimum_number_of_calls,
                        };
                        if let Some(verdict) = judge(config, totals, u64::from(minimum)) {
                            if verdict.exceeded {
                                core.transition(
                                    config,
                                    now,
                                    BreakerState::Open,
                                    Some(verdict),
                                    sink,
                                );
                            }
                        }
                    }
                    BreakerState::Open => {}
                    BreakerState::HalfOpen => {
                        let minimum = config
                            .minimum_number_of_calls
                            .min(config.permitted_number_of_calls_in_half_open_state);
                        if let Some(verdict) = judge(config, totals, u64::from(minimum)) {
                            let to = if verdict.exceeded {
                                BreakerState::Open
                            } else {
                                BreakerState::Closed
                            };
                            core.transition(config, now, to, Some(verdict), sink);
                        }
                    }
                }
            }
        }
    }

    /// A permitted call that never ran (rejected before sending) gives its half-open permit
    /// back; nothing is recorded. Resilience4j `releasePermission`, which adds a permit without
    /// a cap (a stale release can admit N+1 probes, as there). Polly and Hystrix have no such
    /// call (there the outcome of a call that never ran is still reported: Polly counts a
    /// cancellation as success, Hystrix a rejection as failure; call
    /// [`CircuitBreaker::on_result`] to get that); here their single probe permit comes back,
    /// capped at one. No effect when closed or open.
    pub fn release(&mut self) {
        if self.core.state != BreakerState::HalfOpen {
            return;
        }
        let permits = self.core.half_open_permits + 1;
        self.core.half_open_permits = match self.config.flavor {
            Flavor::Resilience4j => permits,
            _ => permits.min(u64::from(
                self.config.permitted_number_of_calls_in_half_open_state,
            )),
        };
    }

    /// The state as last changed; timers due since are not applied (see
    /// [`CircuitBreaker::state_at`]).
    pub fn state(&self) -> BreakerState {
        self.core.state
    }

    /// The state at `now` once the timers due by then have fired, without changing the breaker
    /// (the lazy OPEN -> HALF_OPEN of a call is not applied: with no call, Resilience4j without
    /// automatic transition, Polly and Hystrix all still report open).
    pub fn state_at(&self, now: SimTime) -> BreakerState {
        let mut core = self.core.clone();
        core.advance(&self.config, now, &mut |_| {});
        core.state
    }

    /// Fires every timer due at or before `now`, recording each transition at its due instant:
    /// Resilience4j's automatic OPEN -> HALF_OPEN at `open_until` (when enabled) and HALF_OPEN ->
    /// OPEN after `max_wait_duration_in_half_open_state` (the next wait counts from that
    /// instant); Hystrix's health snapshots every 500 ms from the stream start (time zero, then
    /// each close), each summing the completed buckets of the rolling window and opening the
    /// circuit at the snapshot instant when `calls >= minimum_number_of_calls` and the truncated
    /// error percentage is at or above the threshold.
    ///
    /// # Panics
    /// If `now` is before a time already given to the breaker.
    pub fn advance(&mut self, now: SimTime) {
        let sink = &mut |t: Transition| self.transitions.push(t);
        self.core.advance(&self.config, now, sink);
    }

    /// The next instant at which [`CircuitBreaker::advance`] may change the state without any
    /// call: the world can schedule a wake-up there. `None` when no timer is pending.
    pub fn next_timer(&self) -> Option<SimTime> {
        let config = &self.config;
        match (config.flavor, self.core.state) {
            (Flavor::Resilience4j, BreakerState::Open)
                if config.automatic_transition_from_open_to_half_open_enabled =>
            {
                Some(self.core.open_until)
            }
            (Flavor::Resilience4j, BreakerState::HalfOpen)
                if config.max_wait_duration_in_half_open_state > SimDuration::ZERO =>
            {
                Some(self.core.half_opened_at + config.max_wait_duration_in_half_open_state)
            }
            (Flavor::Hystrix, BreakerState::Closed) => match &self.core.window {
                Window::Hystrix(window) => {
                    let len = window.buckets.len() as u64;
                    let has_calls = window
                        .newest
                        .is_some_and(|newest| self.core.next_tick <= newest + len);
                    has_calls.then(|| window.tick_time(self.core.next_tick))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Every transition so far, in order.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// Calls refused by [`CircuitBreaker::try_acquire`] (Resilience4j
    /// `numberOfNotPermittedCalls`).
    pub fn not_permitted(&self) -> u64 {
        self.not_permitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: SimDuration = SimDuration::MILLISECOND;

    fn at_ms(ms: u64) -> SimTime {
        SimTime(ms * MS.0)
    }

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    /// One nanosecond before `t`.
    fn before(t: SimTime) -> SimTime {
        SimTime(t.as_nanos() - 1)
    }

    fn config(flavor: Flavor, edit: impl FnOnce(&mut BreakerConfig)) -> BreakerConfig {
        let mut config = BreakerConfig::defaults(flavor).expect("flavor has a breaker");
        edit(&mut config);
        config
    }

    fn fail(breaker: &mut CircuitBreaker, now: SimTime) {
        breaker.on_result(now, MS, true);
    }

    fn succeed(breaker: &mut CircuitBreaker, now: SimTime) {
        breaker.on_result(now, MS, false);
    }

    /// Fails one call per millisecond from 1 ms until the breaker opens.
    fn tripped(config: BreakerConfig) -> CircuitBreaker {
        let mut breaker = CircuitBreaker::new(config);
        for ms in 1..=10_000 {
            breaker.advance(at_ms(ms));
            if breaker.state() == BreakerState::Open {
                return breaker;
            }
            fail(&mut breaker, at_ms(ms));
            if breaker.state() == BreakerState::Open {
                return breaker;
            }
        }
        panic!("breaker never opened: {:?}", breaker.config());
    }

    fn last(breaker: &CircuitBreaker) -> Transition {
        *breaker.transitions().last().expect("a transition")
    }

    /// Opens the breaker, then moves it to half-open with a lazy probe; returns the probe time.
    fn half_opened(breaker: &mut CircuitBreaker) -> SimTime {
        let opened = last(breaker).at;
        let mut now = opened + breaker.config().wait_duration_in_open_state;
        while !breaker.try_acquire(now) {
            now += SimDuration::NANOSECOND;
            assert!(
                now < opened + SimDuration::from_secs(3_600),
                "never half-opened"
            );
        }
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        now
    }

    #[test]
    fn r4j_below_minimum_calls_stays_closed_even_at_full_failure() {
        let mut breaker = CircuitBreaker::new(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 10;
            c.minimum_number_of_calls = 5;
        }));
        for ms in 1..=4 {
            fail(&mut breaker, at_ms(ms));
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.transitions().is_empty());
        fail(&mut breaker, at_ms(5));
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(last(&breaker).failure_rate, Some(100.0));
    }

    #[test]
    fn r4j_count_window_minimum_is_clamped_to_the_window_size() {
        // minimum 100 > window 10: Resilience4j decides once the 10-call window is full.
        let mut breaker = CircuitBreaker::new(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 10;
        }));
        for ms in 1..=9 {
            fail(&mut breaker, at_ms(ms));
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        fail(&mut breaker, at_ms(10));
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn r4j_count_window_evicts_the_oldest_outcome() {
        let mut breaker = CircuitBreaker::new(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 4;
            c.minimum_number_of_calls = 4;
        }));
        // F S S S (25 %), S S push the failure out, F (25 %), F: window S S F F = 50 %.
        // Without eviction the 8 calls would hold 3 failures, 37.5 %, and stay closed.
        let outcomes = [true, false, false, false, false, false, true];
        for (ms, failed) in (1..).zip(outcomes) {
            breaker.on_result(at_ms(ms), MS, failed);
            assert_eq!(breaker.state(), BreakerState::Closed, "after call {ms}");
        }
        fail(&mut breaker, at_ms(8));
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(last(&breaker).failure_rate, Some(50.0));
    }

    #[test]
    fn r4j_time_window_buckets_calls_by_epoch_second() {
        let time_window = |c: &mut BreakerConfig| {
            c.sliding_window_type = SlidingWindowType::TimeBased;
            c.sliding_window_size = 3;
            c.minimum_number_of_calls = 3;
        };
        // Seconds 0, 1, 2: all three in the window.
        let mut inside = CircuitBreaker::new(config(Flavor::Resilience4j, time_window));
        for ms in [500, 1_500, 2_999] {
            fail(&mut inside, at_ms(ms));
        }
        assert_eq!(inside.state(), BreakerState::Open);

        // At 3.2 s the window is seconds 1..=3: the call of second 0 is out although it is only
        // 2.7 s old (an age-based window would still hold it).
        let mut rolled = CircuitBreaker::new(config(Flavor::Resilience4j, time_window));
        for ms in [500, 1_500, 3_200] {
            fail(&mut rolled, at_ms(ms));
        }
        assert_eq!(rolled.state(), BreakerState::Closed);
        fail(&mut rolled, at_ms(3_400));
        assert_eq!(rolled.state(), BreakerState::Open);

        // A gap longer than the window clears every bucket.
        let mut idle = CircuitBreaker::new(config(Flavor::Resilience4j, time_window));
        for ms in [500, 1_500, 100_000, 100_100] {
            fail(&mut idle, at_ms(ms));
        }
        assert_eq!(idle.state(), BreakerState::Closed);
        fail(&mut idle, at_ms(100_200));
        assert_eq!(idle.state(), BreakerState::Open);
    }

    #[test]
    fn r4j_trips_on_failure_rate_at_the_threshold() {
        let window = |c: &mut BreakerConfig| {
            c.sliding_window_size = 10;
            c.minimum_number_of_calls = 10;
        };
        let mut below = CircuitBreaker::new(config(Flavor::Resilience4j, window));
        for ms in 1..=10 {
            below.on_result(at_ms(ms), MS, ms <= 4);
        }
        assert_eq!(below.state(), BreakerState::Closed);

        let mut at = CircuitBreaker::new(config(Flavor::Resilience4j, window));
        for ms in 1..=9 {
            at.on_result(at_ms(ms), MS, ms <= 5);
        }
        assert_eq!(
            at.state(),
            BreakerState::Closed,
            "9 calls are below the minimum"
        );
        succeed(&mut at, at_ms(10));
        assert_eq!(at.state(), BreakerState::Open, "a success evaluates too");
        let opened = last(&at);
        assert_eq!(
            (opened.at, opened.from, opened.to),
            (at_ms(10), BreakerState::Closed, BreakerState::Open)
        );
        assert_eq!(opened.failure_rate, Some(50.0));
        assert_eq!(opened.slow_call_rate, Some(0.0));
    }

    #[test]
    fn r4j_trips_on_slow_call_rate_with_a_strict_duration_threshold() {
        let mut breaker = CircuitBreaker::new(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 4;
            c.minimum_number_of_calls = 4;
            c.slow_call_rate_threshold = 50.0;
            c.slow_call_duration_threshold = SimDuration::from_secs(1);
        }));
        let second = SimDuration::from_secs(1);
        let just_over = second + SimDuration::NANOSECOND;
        for (ms, duration) in [(1, second), (2, second), (3, second), (4, just_over)] {
            breaker.on_result(at_ms(ms), duration, false);
        }
        // Exactly the threshold is not slow: 1 of 4.
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.on_result(at_ms(5), just_over, false);
        assert_eq!(breaker.state(), BreakerState::Open);
        let opened = last(&breaker);
        assert_eq!(opened.failure_rate, Some(0.0));
        assert_eq!(opened.slow_call_rate, Some(50.0));
    }

    #[test]
    fn open_rejects_until_the_wait_elapses_with_each_flavors_comparison() {
        let nano = SimDuration::NANOSECOND;

        // Resilience4j: isAfter, strict.
        let mut r4j = tripped(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 1;
        }));
        let until = last(&r4j).at + SimDuration::from_secs(60);
        assert!(!r4j.try_acquire(before(until)));
        assert!(!r4j.try_acquire(until));
        assert!(r4j.try_acquire(until + nano));
        assert_eq!(r4j.not_permitted(), 2);
        assert_eq!(last(&r4j).to, BreakerState::HalfOpen);
        assert_eq!(last(&r4j).at, until + nano);

        // Polly: now >= blockedUntil.
        let mut polly = tripped(config(Flavor::Polly, |c| {
            c.minimum_number_of_calls = 2;
        }));
        let until = last(&polly).at + SimDuration::from_secs(5);
        assert!(!polly.try_acquire(before(until)));
        assert!(polly.try_acquire(until));
        assert_eq!(polly.not_permitted(), 1);

        // Hystrix: currentTimeMillis > circuitOpened + sleepWindow, in whole milliseconds.
        let mut hystrix = tripped(config(Flavor::Hystrix, |_| {}));
        let opened = last(&hystrix).at;
        assert_eq!(opened, at_ms(500), "opened at the first health snapshot");
        let until = opened + SimDuration::from_secs(5);
        assert!(!hystrix.try_acquire(until));
        assert!(!hystrix.try_acquire(until + SimDuration(999_999)));
        assert!(hystrix.try_acquire(until + MS));
        assert_eq!(hystrix.not_permitted(), 2);
    }

    #[test]
    fn half_open_admits_exactly_the_permitted_probes() {
        let cases = [
            (config(Flavor::Resilience4j, |_| {}), 10),
            (config(Flavor::Polly, |c| c.minimum_number_of_calls = 2), 1),
            (config(Flavor::Hystrix, |_| {}), 1),
        ];
        for (config, probes) in cases {
            let flavor = config.flavor;
            let mut breaker = tripped(config);
            let first = half_opened(&mut breaker);
            for i in 1..probes {
                assert!(
                    breaker.try_acquire(first + ms(i)),
                    "{flavor:?} probe {}",
                    i + 1
                );
            }
            let rejected_before = breaker.not_permitted();
            assert!(
                !breaker.try_acquire(first + ms(probes)),
                "{flavor:?} one probe too many"
            );
            assert_eq!(breaker.not_permitted(), rejected_before + 1);
            assert_eq!(breaker.state(), BreakerState::HalfOpen);
        }
    }

    #[test]
    fn half_open_probe_failure_reopens() {
        // Resilience4j decides on the 10th probe outcome: 5 of 10 failed = 50 %.
        let mut r4j = tripped(config(Flavor::Resilience4j, |_| {}));
        let probe = half_opened(&mut r4j);
        for i in 1..10 {
            assert!(r4j.try_acquire(probe + ms(i)));
        }
        for i in 0..9 {
            r4j.on_result(probe + ms(20 + i), MS, i < 5);
        }
        assert_eq!(
            r4j.state(),
            BreakerState::HalfOpen,
            "9 outcomes are below the 10 needed"
        );
        succeed(&mut r4j, probe + ms(29));
        let reopened = last(&r4j);
        assert_eq!(
            (reopened.from, reopened.to),
            (BreakerState::HalfOpen, BreakerState::Open)
        );
        assert_eq!(reopened.failure_rate, Some(50.0));
        assert!(!r4j.try_acquire(reopened.at + SimDuration::from_secs(60)));

        // Polly and Hystrix: the first failure reopens, the wait counting from it.
        for config in [
            config(Flavor::Polly, |c| c.minimum_number_of_calls = 2),
            config(Flavor::Hystrix, |_| {}),
        ] {
            let flavor = config.flavor;
            let mut breaker = tripped(config);
            let probe = half_opened(&mut breaker);
            fail(&mut breaker, probe + ms(7));
            let reopened = last(&breaker);
            assert_eq!(
                (reopened.to, reopened.at),
                (BreakerState::Open, probe + ms(7)),
                "{flavor:?}"
            );
            assert_eq!(reopened.failure_rate, None);
            assert!(!breaker.try_acquire(before(probe + ms(7) + SimDuration::from_secs(5))));
        }
    }

    #[test]
    fn half_open_success_closes_and_resets_the_metrics() {
        // Resilience4j: 10 probes, 4 failures = 40 % < 50 %: closed on the 10th outcome (the
        // half-open minimum is min(10, 10); the closed one min(10, 4) = 4).
        let mut r4j = tripped(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 4;
            c.minimum_number_of_calls = 10;
        }));
        let probe = half_opened(&mut r4j);
        for i in 0..9 {
            r4j.on_result(probe + ms(1 + i), MS, i < 4);
        }
        assert_eq!(r4j.state(), BreakerState::HalfOpen);
        succeed(&mut r4j, probe + ms(10));
        assert_eq!(r4j.state(), BreakerState::Closed);
        assert_eq!(last(&r4j).failure_rate, Some(40.0));
        // Fresh window: three failures are below the minimum of four.
        for i in 0..3 {
            fail(&mut r4j, probe + ms(11 + i));
        }
        assert_eq!(r4j.state(), BreakerState::Closed);

        // Polly: one success closes and resets; a single failure then stays below throughput 2.
        let mut polly = tripped(config(Flavor::Polly, |c| c.minimum_number_of_calls = 2));
        let probe = half_opened(&mut polly);
        succeed(&mut polly, probe + MS);
        assert_eq!(polly.state(), BreakerState::Closed);
        fail(&mut polly, probe + ms(2));
        assert_eq!(polly.state(), BreakerState::Closed);

        // Hystrix: one success closes and restarts the health stream; the hundreds of failures
        // of the first half second would otherwise still be in the 10 s window.
        let mut hystrix = tripped(config(Flavor::Hystrix, |_| {}));
        let probe = half_opened(&mut hystrix);
        assert!(probe < at_ms(10_000));
        succeed(&mut hystrix, probe + MS);
        assert_eq!(hystrix.state(), BreakerState::Closed);
        hystrix.advance(probe + SimDuration::from_secs(20));
        assert_eq!(hystrix.state(), BreakerState::Closed);
    }

    #[test]
    fn r4j_automatic_transition_is_recorded_at_its_due_instant() {
        let mut breaker = tripped(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 1;
            c.automatic_transition_from_open_to_half_open_enabled = true;
        }));
        let due = last(&breaker).at + SimDuration::from_secs(60);
        assert_eq!(breaker.next_timer(), Some(due));
        assert_eq!(breaker.state_at(before(due)), BreakerState::Open);
        let later = due + SimDuration::from_secs(7);
        assert_eq!(breaker.state_at(later), BreakerState::HalfOpen);
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "state_at does not change the breaker"
        );
        assert_eq!(breaker.transitions().len(), 1);
        breaker.advance(later);
        let half_open = last(&breaker);
        assert_eq!(
            (half_open.from, half_open.to, half_open.at),
            (BreakerState::Open, BreakerState::HalfOpen, due)
        );
        // At exactly the due instant the timer fires before the call: permitted.
        let mut exact = tripped(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 1;
            c.automatic_transition_from_open_to_half_open_enabled = true;
        }));
        assert!(exact.try_acquire(due));

        // Without the timer, nothing happens with no traffic.
        let lazy = tripped(config(Flavor::Resilience4j, |c| c.sliding_window_size = 1));
        assert_eq!(lazy.state_at(later), BreakerState::Open);
        assert_eq!(lazy.next_timer(), None);
    }

    #[test]
    fn r4j_max_wait_in_half_open_reopens_at_its_due_instant() {
        let mut breaker = tripped(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 1;
            c.max_wait_duration_in_half_open_state = SimDuration::from_secs(2);
        }));
        let probe = half_opened(&mut breaker);
        assert!(breaker.try_acquire(probe + MS));
        let due = probe + SimDuration::from_secs(2);
        assert_eq!(breaker.next_timer(), Some(due));
        breaker.advance(probe + SimDuration::from_secs(10));
        let reopened = last(&breaker);
        assert_eq!(
            (reopened.from, reopened.to, reopened.at),
            (BreakerState::HalfOpen, BreakerState::Open, due)
        );
        // The next wait counts from the due instant, not from when it was observed.
        let until = due + SimDuration::from_secs(60);
        assert!(!breaker.try_acquire(until));
        assert!(breaker.try_acquire(until + SimDuration::NANOSECOND));
    }

    #[test]
    fn release_returns_a_half_open_probe_permit() {
        let mut r4j = tripped(config(Flavor::Resilience4j, |c| {
            c.sliding_window_size = 1;
            c.permitted_number_of_calls_in_half_open_state = 2;
        }));
        let probe = half_opened(&mut r4j);
        assert!(r4j.try_acquire(probe));
        assert!(!r4j.try_acquire(probe));
        r4j.release();
        assert!(r4j.try_acquire(probe + MS));
        assert!(!r4j.try_acquire(probe + MS));

        let mut polly = tripped(config(Flavor::Polly, |c| c.minimum_number_of_calls = 2));
        let probe = half_opened(&mut polly);
        assert!(!polly.try_acquire(probe));
        polly.release();
        polly.release();
        assert!(polly.try_acquire(probe + MS), "the probe came back");
        assert!(!polly.try_acquire(probe + MS), "capped at one probe");

        // Closed: nothing to give back, nothing changes.
        let mut closed = CircuitBreaker::new(config(Flavor::Resilience4j, |_| {}));
        closed.release();
        assert_eq!(closed.state(), BreakerState::Closed);
    }

    #[test]
    fn defaults_follow_each_library() {
        let r4j = BreakerConfig::defaults(Flavor::Resilience4j).unwrap();
        assert_eq!(r4j.sliding_window_type, SlidingWindowType::CountBased);
        assert_eq!(
            (r4j.sliding_window_size, r4j.minimum_number_of_calls),
            (100, 100)
        );
        assert_eq!(
            (r4j.failure_rate_threshold, r4j.slow_call_rate_threshold),
            (50.0, 100.0)
        );
        assert_eq!(r4j.slow_call_duration_threshold, SimDuration::from_secs(60));
        assert_eq!(r4j.wait_duration_in_open_state, SimDuration::from_secs(60));
        assert_eq!(r4j.permitted_number_of_calls_in_half_open_state, 10);
        assert_eq!(r4j.max_wait_duration_in_half_open_state, SimDuration::ZERO);
        assert!(!r4j.automatic_transition_from_open_to_half_open_enabled);

        let polly = BreakerConfig::defaults(Flavor::Polly).unwrap();
        assert_eq!(polly.sliding_window_type, SlidingWindowType::TimeBased);
        assert_eq!(
            (polly.sliding_window_size, polly.minimum_number_of_calls),
            (30, 100)
        );
        assert_eq!(polly.failure_rate_threshold, 10.0);
        assert_eq!(polly.wait_duration_in_open_state, SimDuration::from_secs(5));
        assert_eq!(polly.permitted_number_of_calls_in_half_open_state, 1);
        assert_eq!(polly.slow_call_duration_threshold, SimDuration(u64::MAX));

        let hystrix = BreakerConfig::defaults(Flavor::Hystrix).unwrap();
        assert_eq!(hystrix.sliding_window_type, SlidingWindowType::TimeBased);
        assert_eq!(
            (hystrix.sliding_window_size, hystrix.minimum_number_of_calls),
            (10, 20)
        );
        assert_eq!(hystrix.failure_rate_threshold, 50.0);
        assert_eq!(
            hystrix.wait_duration_in_open_state,
            SimDuration::from_secs(5)
        );
        assert_eq!(hystrix.permitted_number_of_calls_in_half_open_state, 1);

        for flavor in Flavor::ALL {
            match BreakerConfig::defaults(flavor) {
                Some(config) => {
                    assert_eq!(config.flavor, flavor);
                    assert_eq!(config.validate(), Ok(()), "{flavor:?}");
                }
                None => assert!(matches!(
                    flavor,
                    Flavor::Envoy | Flavor::Grpc | Flavor::Finagle | Flavor::Aws
                )),
            }
        }
    }

    #[test]
    fn validate_names_the_field_and_the_allowed_range() {
        type Edit = fn(&mut BreakerConfig);
        let cases: [(Flavor, Edit, &str); 14] = [
            (
                Flavor::Resilience4j,
                |c| c.sliding_window_size = 0,
                "sliding_window_size: must be in 1..=1000000",
            ),
            (
                Flavor::Resilience4j,
                |c| c.minimum_number_of_calls = 0,
                "minimum_number_of_calls: must be >= 1",
            ),
            (
                Flavor::Polly,
                |c| c.minimum_number_of_calls = 1,
                "minimum_number_of_calls: must be >= 2 for polly",
            ),
            (
                Flavor::Resilience4j,
                |c| c.failure_rate_threshold = 0.0,
                "failure_rate_threshold: must be a percentage in (0, 100]",
            ),
            (
                Flavor::Resilience4j,
                |c| c.failure_rate_threshold = f64::NAN,
                "failure_rate_threshold",
            ),
            (
                Flavor::Hystrix,
                |c| c.failure_rate_threshold = 101.0,
                "failure_rate_threshold: must be a percentage in [0, 100]",
            ),
            (
                Flavor::Resilience4j,
                |c| c.slow_call_rate_threshold = 100.5,
                "slow_call_rate_threshold: must be a percentage in (0, 100]",
            ),
            (
                Flavor::Resilience4j,
                |c| c.slow_call_duration_threshold = SimDuration::ZERO,
                "slow_call_duration_threshold: must be >= 1ns",
            ),
            (
                Flavor::Resilience4j,
                |c| c.wait_duration_in_open_state = SimDuration(999_999),
                "wait_duration_in_open_state: must be >= 1ms",
            ),
            (
                Flavor::Polly,
                |c| c.wait_duration_in_open_state = MS,
                "wait_duration_in_open_state: must be in 500ms..=86400s",
            ),
            (
                Flavor::Hystrix,
                |c| c.wait_duration_in_open_state = SimDuration(1_500_000),
                "wait_duration_in_open_state: must be a whole number of milliseconds",
            ),
            (
                Flavor::Polly,
                |c| c.permitted_number_of_calls_in_half_open_state = 2,
                "permitted_number_of_calls_in_half_open_state: must be 1 for polly",
            ),
            (
                Flavor::Resilience4j,
                |c| c.max_wait_duration_in_half_open_state = SimDuration(10),
                "max_wait_duration_in_half_open_state: must be 0s (wait forever) or >= 1ms",
            ),
            (
                Flavor::Hystrix,
                |c| c.automatic_transition_from_open_to_half_open_enabled = true,
                "automatic_transition_from_open_to_half_open_enabled: must be false for hystrix",
            ),
        ];
        for (flavor, edit, expected) in cases {
            let error = config(flavor, edit).validate().expect_err(expected);
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }

        let mut envoy = config(Flavor::Resilience4j, |_| {});
        envoy.flavor = Flavor::Envoy;
        assert!(
            envoy
                .validate()
                .unwrap_err()
                .starts_with("flavor: envoy has no circuit breaker")
        );

        // Every problem is reported, not just the first.
        let both = config(Flavor::Polly, |c| {
            c.sliding_window_type = SlidingWindowType::CountBased;
            c.max_wait_duration_in_half_open_state = MS;
        });
        let error = both.validate().unwrap_err();
        assert!(
            error.contains("sliding_window_type: must be TimeBased for polly"),
            "{error}"
        );
        assert!(
            error.contains("; max_wait_duration_in_half_open_state: must be 0s for polly"),
            "{error}"
        );
    }

    #[test]
    fn polly_evaluates_the_failure_ratio_only_on_a_failure() {
        let window = |c: &mut BreakerConfig| {
            c.minimum_number_of_calls = 2;
            c.failure_rate_threshold = 50.0;
        };
        let mut polly = CircuitBreaker::new(config(Flavor::Polly, window));
        fail(&mut polly, at_ms(1));
        succeed(&mut polly, at_ms(2));
        assert_eq!(
            polly.state(),
            BreakerState::Closed,
            "1 of 2 failed, but a success never breaks"
        );
        fail(&mut polly, at_ms(3));
        assert_eq!(polly.state(), BreakerState::Open);
        let opened = last(&polly);
        assert_eq!(opened.at, at_ms(3));
        assert_eq!(opened.failure_rate, Some(200.0 / 3.0));

        // Resilience4j evaluates the same sequence on the success.
        let mut r4j = CircuitBreaker::new(config(Flavor::Resilience4j, |c| {
            window(c);
            c.sliding_window_size = 10;
        }));
        fail(&mut r4j, at_ms(1));
        succeed(&mut r4j, at_ms(2));
        assert_eq!(r4j.state(), BreakerState::Open);
    }

    #[test]
    fn polly_windows_start_at_the_first_event_not_on_the_clock() {
        // Sampling 10 s = 10 windows of 1 s; the first window starts at the first event (0.9 s)
        // and is dropped once 10 s old.
        let sampling = |c: &mut BreakerConfig| {
            c.sliding_window_size = 10;
            c.minimum_number_of_calls = 2;
            c.failure_rate_threshold = 100.0;
        };
        let mut kept = CircuitBreaker::new(config(Flavor::Polly, sampling));
        fail(&mut kept, at_ms(900));
        fail(&mut kept, at_ms(10_899));
        assert_eq!(kept.state(), BreakerState::Open);

        let mut dropped = CircuitBreaker::new(config(Flavor::Polly, sampling));
        fail(&mut dropped, at_ms(900));
        fail(&mut dropped, at_ms(10_900));
        assert_eq!(dropped.state(), BreakerState::Closed);
    }

    #[test]
    fn hystrix_trips_only_at_a_health_snapshot() {
        let mut breaker = CircuitBreaker::new(config(Flavor::Hystrix, |_| {}));
        for i in 0..20 {
            fail(&mut breaker, at_ms(10 + i * 10));
        }
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "no evaluation on a result"
        );
        assert_eq!(breaker.next_timer(), Some(at_ms(500)));
        assert_eq!(breaker.state_at(at_ms(499)), BreakerState::Closed);
        assert_eq!(breaker.state_at(at_ms(500)), BreakerState::Open);
        breaker.advance(at_ms(2_000));
        let opened = last(&breaker);
        assert_eq!((opened.at, opened.to), (at_ms(500), BreakerState::Open));
        assert_eq!(opened.failure_rate, Some(100.0));
    }

    #[test]
    fn hystrix_snapshot_holds_only_completed_buckets() {
        // 19 failures in bucket 0 and one at exactly 500 ms, which opens bucket 1: the 500 ms
        // snapshot sees 19 calls (< 20), the 1 s snapshot sees 20.
        let mut breaker = CircuitBreaker::new(config(Flavor::Hystrix, |_| {}));
        for i in 0..19 {
            fail(&mut breaker, at_ms(100 + i));
        }
        fail(&mut breaker, at_ms(500));
        breaker.advance(at_ms(999));
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.advance(at_ms(5_000));
        assert_eq!(last(&breaker).at, at_ms(1_000));
    }

    #[test]
    fn hystrix_error_percentage_truncates_like_java() {
        // (int) (29 / 100.0 * 100) = (int) 28.999999999999996 = 28 < 29: stays closed.
        let mut breaker = CircuitBreaker::new(config(Flavor::Hystrix, |c| {
            c.failure_rate_threshold = 29.0;
        }));
        for i in 0..100 {
            breaker.on_result(at_ms(100 + i), MS, i < 29);
        }
        breaker.advance(at_ms(20_000));
        assert_eq!(breaker.state(), BreakerState::Closed);

        let mut breaker = CircuitBreaker::new(config(Flavor::Hystrix, |c| {
            c.failure_rate_threshold = 28.0;
        }));
        for i in 0..100 {
            breaker.on_result(at_ms(100 + i), MS, i < 29);
        }
        breaker.advance(at_ms(20_000));
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(last(&breaker).failure_rate, Some(28.0));
    }

    #[test]
    fn transitions_follow_the_legal_cycle() {
        let mut breaker = tripped(config(Flavor::Polly, |c| c.minimum_number_of_calls = 2));
        let probe = half_opened(&mut breaker);
        fail(&mut breaker, probe);
        let probe = half_opened(&mut breaker);
        succeed(&mut breaker, probe);
        let path: Vec<(&str, &str)> = breaker
            .transitions()
            .iter()
            .map(|t| (t.from.name(), t.to.name()))
            .collect();
        assert_eq!(
            path,
            [
                ("closed", "open"),
                ("open", "half_open"),
                ("half_open", "open"),
                ("open", "half_open"),
                ("half_open", "closed"),
            ]
        );
        assert!(breaker.transitions().windows(2).all(|w| w[0].at <= w[1].at));
    }
}
