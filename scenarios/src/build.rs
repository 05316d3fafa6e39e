//! Checks a parsed scenario and builds the model configuration. Every problem is collected, so
//! a user fixes them all in one pass instead of one per run.

use std::collections::BTreeMap;

use models::config::{
    self as mc, CallConfig, CallPolicy, ClientConfig, ClientId, NetworkConfig, ServiceConfig,
    ServiceId, WorldConfig,
};
use petgraph::graph::{DiGraph, NodeIndex};
use sim_core::{Distribution, SimDuration, SimTime};

use crate::Diagnostic;
use crate::spec::{self, Scenario};

/// Finds where a problem is in the text: each anchor is searched for after the previous one,
/// so `[named("checkout"), "\"paymnts\""]` finds the bad call inside the checkout service. A
/// space in an anchor matches any whitespace, or none (`name:"x"` matches `name: "x"`).
/// Returns the 1-based line and column of the last anchor.
fn locate(source: &str, anchors: &[&str]) -> Option<(usize, usize)> {
    let mut at = 0;
    let mut found = 0;
    for anchor in anchors {
        let (start, end) = find_spaced(&source[at..], anchor)?;
        found = at + start;
        at += end;
    }
    let before = &source[..found];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(found, |nl| found - nl - 1) + 1;
    Some((line, column))
}

/// The first match of `pattern` in `text`, where each space in the pattern matches any run of
/// whitespace (including none); returns its byte range.
fn find_spaced(text: &str, pattern: &str) -> Option<(usize, usize)> {
    let mut parts = pattern.split(' ').filter(|p| !p.is_empty());
    let first = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let mut from = 0;
    while let Some(offset) = text[from..].find(first) {
        let start = from + offset;
        let mut end = start + first.len();
        let matched = rest.iter().all(|part| {
            let skipped = text[end..].len() - text[end..].trim_start().len();
            if text[end + skipped..].starts_with(part) {
                end += skipped + part.len();
                true
            } else {
                false
            }
        });
        if matched {
            return Some((start, end));
        }
        from = start + first.len();
    }
    None
}

/// The anchor of a named item's definition (`name: "x"`), as opposed to a mere mention.
fn named(name: &str) -> String {
    format!("name: \"{name}\"")
}

struct Checker<'a> {
    source: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn report(&mut self, anchors: &[&str], field: String, message: String) {
        self.diagnostics.push(Diagnostic {
            position: locate(self.source, anchors),
            field,
            message,
        });
    }

    fn duration_positive(&mut self, anchors: &[&str], field: String, d: SimDuration) {
        if d == SimDuration::ZERO {
            self.report(anchors, field, "must be greater than 0".into());
        }
    }

    fn dist(&mut self, anchors: &[&str], field: String, dist: &spec::Dist) -> Distribution {
        let built = match dist {
            spec::Dist::Constant { value } => Ok(Distribution::Constant(value.0)),
            spec::Dist::Exponential { mean } => Distribution::exponential(mean.0),
            spec::Dist::LogNormal { median, p99 } => Distribution::lognormal(median.0, p99.0),
            spec::Dist::Normal { mean, sd } => Ok(Distribution::abs_normal(mean.0, sd.0)),
        };
        built.unwrap_or_else(|e| {
            self.report(anchors, field, e.to_string());
            Distribution::Constant(SimDuration::ZERO)
        })
    }

    fn objective(
        &mut self,
        anchors: &[&str],
        field: &str,
        spec: Option<&spec::Objective>,
    ) -> mc::Objective {
        let mut objective = mc::Objective::default();
        let Some(spec) = spec else {
            return objective;
        };
        if let Some(a) = spec.availability {
            if a > 0.0 && a <= 1.0 {
                objective.availability = a;
            } else {
                self.report(
                    &[anchors, &["availability"]].concat(),
                    format!("{field}.objective.availability"),
                    format!("{a} is not an availability; expected a number above 0 and at most 1"),
                );
            }
        }
        if let Some(p99) = spec.p99 {
            self.duration_positive(anchors, format!("{field}.objective.p99"), p99.0);
            objective.latency_p99 = Some(p99.0);
        }
        objective
    }

    fn policy(&mut self, anchors: &[&str], field: &str, p: &spec::Policy) -> CallPolicy {
        let at = |name: &'static str| [anchors, &[name]].concat();
        if let Some(t) = p.timeout {
            self.duration_positive(&at("timeout"), format!("{field}.timeout"), t.0);
        }
        if let Some(t) = p.deadline {
            self.duration_positive(&at("deadline"), format!("{field}.deadline"), t.0);
        }
        let retry = p
            .retry
            .as_ref()
            .and_then(|r| self.retry(&at("retry"), field, r));
        let hedge = p.hedge.as_ref().map(|h| {
            if !(2..=5).contains(&h.max_attempts) {
                self.report(
                    &at("hedge"),
                    format!("{field}.hedge.max_attempts"),
                    format!(
                        "{} copies; expected 2 to 5 (gRPC hedging counts the original and caps at 5)",
                        h.max_attempts
                    ),
                );
            }
            mc::Hedge {
                max_attempts: h.max_attempts.clamp(1, 5),
                delay: h.delay.map_or(SimDuration::ZERO, |d| d.0),
                non_fatal: causes(&h.non_fatal),
            }
        });
        if retry.is_some() && hedge.is_some() {
            self.report(
                &at("hedge"),
                format!("{field}.hedge"),
                "a call has either a retry or a hedge policy, not both (as in gRPC)".into(),
            );
        }
        let bulkhead = p.bulkhead.as_ref().map(|b| match b {
            spec::Bulkhead::Semaphore {
                max_concurrent_calls,
                max_wait_duration,
            } => mc::Bulkhead::Semaphore {
                max_concurrent_calls: max_concurrent_calls.unwrap_or(25),
                max_wait_duration: max_wait_duration.map_or(SimDuration::ZERO, |d| d.0),
            },
            spec::Bulkhead::ThreadPool {
                core_thread_pool_size,
                queue_capacity,
            } => {
                if *core_thread_pool_size == 0 {
                    self.report(
                        &at("core_thread_pool_size"),
                        format!("{field}.bulkhead.core_thread_pool_size"),
                        "must be at least 1".into(),
                    );
                }
                mc::Bulkhead::ThreadPool {
                    core_thread_pool_size: *core_thread_pool_size,
                    queue_capacity: queue_capacity.unwrap_or(100),
                }
            }
        });
        let breaker = p
            .breaker
            .as_ref()
            .and_then(|b| self.breaker(&at("breaker"), field, b));
        let throttle = p.throttle.as_ref().and_then(|t| {
            let d = models::policy::budget::AdaptiveThrottleConfig::defaults();
            let config = models::policy::budget::AdaptiveThrottleConfig {
                k: t.k.unwrap_or(d.k),
                window: t.window.map_or(d.window, |w| w.0),
            };
            match config.validate() {
                Ok(()) => Some(config),
                Err(e) => {
                    self.report(&at("throttle"), format!("{field}.throttle"), e);
                    None
                }
            }
        });
        let outlier = p.outlier.as_ref().and_then(|o| {
            let mut config = models::policy::outlier::OutlierConfig::defaults();
            macro_rules! set {
                ($($name:ident),*) => { $(if let Some(v) = o.$name { config.$name = v; })* };
            }
            set!(
                consecutive_5xx,
                consecutive_gateway_failure,
                max_ejection_percent,
                enforcing_consecutive_5xx,
                enforcing_consecutive_gateway_failure
            );
            macro_rules! set_duration {
                ($($name:ident),*) => { $(if let Some(v) = o.$name { config.$name = v.0; })* };
            }
            set_duration!(interval, base_ejection_time, max_ejection_time);
            match config.validate() {
                Ok(()) => Some(config),
                Err(e) => {
                    self.report(&at("outlier"), format!("{field}.outlier"), e);
                    None
                }
            }
        });
        let fallback = p.fallback.as_ref().map(|f| match f {
            spec::Fallback::Static => mc::Fallback::Static,
            spec::Fallback::Skip => mc::Fallback::Skip,
            spec::Fallback::Cached { ttl } => mc::Fallback::Cached { ttl: ttl.0 },
        });
        let order = match &p.order {
            None => mc::Order::default(),
            Some(layers) => {
                let mut sorted: Vec<spec::Layer> = layers.clone();
                sorted.sort_by_key(|l| *l as u8);
                sorted.dedup();
                if layers.len() != 4 || sorted.len() != 4 {
                    self.report(
                        &at("order"),
                        format!("{field}.order"),
                        "expected each of Retry, Breaker, Bulkhead, Timeout exactly once, outermost first".into(),
                    );
                    mc::Order::default()
                } else {
                    let layer = |l: &spec::Layer| match l {
                        spec::Layer::Retry => mc::Layer::Retry,
                        spec::Layer::Breaker => mc::Layer::Breaker,
                        spec::Layer::Bulkhead => mc::Layer::Bulkhead,
                        spec::Layer::Timeout => mc::Layer::Timeout,
                    };
                    mc::Order([
                        layer(&layers[0]),
                        layer(&layers[1]),
                        layer(&layers[2]),
                        layer(&layers[3]),
                    ])
                }
            }
        };
        CallPolicy {
            timeout: p.timeout.map(|t| t.0),
            deadline: p.deadline.map(|t| t.0),
            retry,
            hedge,
            bulkhead,
            breaker,
            fallback,
            throttle,
            order,
            outlier,
        }
    }

    fn breaker(
        &mut self,
        anchors: &[&str],
        field: &str,
        b: &spec::Breaker,
    ) -> Option<models::policy::breaker::BreakerConfig> {
        use models::policy::breaker::{BreakerConfig, SlidingWindowType};
        let flavor = to_flavor(b.flavor.unwrap_or(spec::Flavor::Resilience4j));
        let Some(mut c) = BreakerConfig::defaults(flavor) else {
            self.report(
                anchors,
                format!("{field}.breaker.flavor"),
                format!(
                    "{} has no circuit breaker; expected resilience4j, polly or hystrix",
                    flavor.name()
                ),
            );
            return None;
        };
        if let Some(t) = b.sliding_window_type {
            c.sliding_window_type = match t {
                spec::WindowType::CountBased => SlidingWindowType::CountBased,
                spec::WindowType::TimeBased => SlidingWindowType::TimeBased,
            };
        }
        macro_rules! set {
            ($($name:ident),*) => { $(if let Some(v) = b.$name { c.$name = v.into(); })* };
        }
        set!(
            sliding_window_size,
            minimum_number_of_calls,
            failure_rate_threshold,
            slow_call_rate_threshold,
            permitted_number_of_calls_in_half_open_state,
            automatic_transition_from_open_to_half_open_enabled
        );
        macro_rules! set_duration {
            ($($name:ident),*) => { $(if let Some(v) = b.$name { c.$name = v.0; })* };
        }
        set_duration!(
            slow_call_duration_threshold,
            wait_duration_in_open_state,
            max_wait_duration_in_half_open_state
        );
        match c.validate() {
            Ok(()) => Some(c),
            Err(e) => {
                self.report(anchors, format!("{field}.breaker"), e);
                None
            }
        }
    }

    fn budget(
        &mut self,
        anchors: &[&str],
        field: &str,
        b: &spec::Budget,
    ) -> Option<models::policy::budget::RetryBudgetConfig> {
        use models::policy::budget::{
            AwsRetryQuota, EnvoyRetryBudget, FinagleRetryBudget, GrpcRetryThrottle,
            RetryBudgetConfig,
        };
        let config = match *b {
            spec::Budget::Envoy {
                budget_percent,
                min_retry_concurrency,
            } => {
                let d = EnvoyRetryBudget::defaults();
                RetryBudgetConfig::Envoy(EnvoyRetryBudget {
                    budget_percent: budget_percent.unwrap_or(d.budget_percent),
                    min_retry_concurrency: min_retry_concurrency.unwrap_or(d.min_retry_concurrency),
                })
            }
            spec::Budget::Grpc {
                max_tokens,
                token_ratio,
            } => {
                let d = GrpcRetryThrottle::defaults();
                RetryBudgetConfig::Grpc(GrpcRetryThrottle {
                    max_tokens: max_tokens.unwrap_or(d.max_tokens),
                    token_ratio: token_ratio.unwrap_or(d.token_ratio),
                })
            }
            spec::Budget::Finagle {
                ttl,
                min_retries_per_sec,
                percent_can_retry,
            } => {
                let d = FinagleRetryBudget::defaults();
                RetryBudgetConfig::Finagle(FinagleRetryBudget {
                    ttl: ttl.map_or(d.ttl, |t| t.0),
                    min_retries_per_sec: min_retries_per_sec.unwrap_or(d.min_retries_per_sec),
                    percent_can_retry: percent_can_retry.unwrap_or(d.percent_can_retry),
                })
            }
            spec::Budget::Aws {
                initial_capacity,
                retry_cost,
                timeout_retry_request,
                no_retry_increment,
            } => {
                let d = AwsRetryQuota::defaults();
                RetryBudgetConfig::Aws(AwsRetryQuota {
                    initial_capacity: initial_capacity.unwrap_or(d.initial_capacity),
                    retry_cost: retry_cost.unwrap_or(d.retry_cost),
                    timeout_retry_request: timeout_retry_request.unwrap_or(d.timeout_retry_request),
                    no_retry_increment: no_retry_increment.unwrap_or(d.no_retry_increment),
                })
            }
        };
        match config.validate() {
            Ok(()) => Some(config),
            Err(e) => {
                self.report(anchors, format!("{field}.retry.budget"), e);
                None
            }
        }
    }

    fn rate_limit(
        &mut self,
        anchors: &[&str],
        field: &str,
        r: &spec::RateLimit,
    ) -> Option<models::policy::ratelimit::RateLimitConfig> {
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
        };
        match config.validate() {
            Ok(()) => Some(config),
            Err(e) => {
                self.report(anchors, format!("{field}.inbound.rate_limit"), e);
                None
            }
        }
    }

    fn shed(&mut self, anchors: &[&str], field: &str, s: &spec::Shed) -> Option<mc::Shed> {
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

    /// A retry policy, with the flavor's defaults for what it leaves out.
    fn retry(&mut self, anchors: &[&str], field: &str, r: &spec::Retry) -> Option<mc::Retry> {
        let at = |name: &'static str| [anchors, &[name]].concat();
        let flavor = r.flavor.unwrap_or(spec::Flavor::Resilience4j);
        let ms = SimDuration::from_millis;
        // (attempts including the first, backoff) by default, per library.
        let defaults: Option<(u32, mc::Backoff)> = match flavor {
            // RetryConfig: maxAttempts 3, waitDuration 500 ms.
            spec::Flavor::Resilience4j => Some((3, mc::Backoff::Constant(ms(500)))),
            // RetryStrategyOptions: MaxRetryAttempts 3 (after the first), Delay 2 s, constant.
            spec::Flavor::Polly => Some((4, mc::Backoff::Constant(ms(2000)))),
            // num_retries 1; retry k waits U[0, min(2^(k-1) * 25 ms, 250 ms)), which is full
            // jitter with base 12.5 ms here (expo(n) = base * 2^n).
            spec::Flavor::Envoy => Some((
                2,
                mc::Backoff::FullJitter {
                    base: SimDuration::from_micros(12_500),
                    cap: ms(250),
                },
            )),
            // botocore standard v2.0: 3 attempts; retry k waits U[0,1) * min(2^(k-1) s, 20 s).
            spec::Flavor::Aws => Some((
                3,
                mc::Backoff::FullJitter {
                    base: ms(500),
                    cap: ms(20_000),
                },
            )),
            // gRPC's retryPolicy has no defaults; Hystrix and Finagle's retry filters neither.
            spec::Flavor::Grpc | spec::Flavor::Hystrix | spec::Flavor::Finagle => None,
        };
        let attempts = match (r.max_attempts, r.max_retries) {
            (Some(_), Some(_)) => {
                self.report(
                    &at("max_retries"),
                    format!("{field}.retry.max_retries"),
                    "set max_attempts (counting the first call) or max_retries (not counting it), not both".into(),
                );
                None
            }
            (Some(a), None) => Some(a),
            (None, Some(n)) => Some(n.saturating_add(1)),
            (None, None) => defaults.as_ref().map(|d| d.0),
        };
        let backoff = match &r.backoff {
            Some(b) => Some(self.backoff(&at("backoff"), field, b)),
            None => defaults.map(|d| d.1),
        };
        let (Some(max_attempts), Some(backoff)) = (attempts, backoff) else {
            self.report(
                anchors,
                format!("{field}.retry"),
                format!(
                    "the {} flavor has no default {}; set it",
                    flavor_name(flavor),
                    if attempts.is_none() {
                        "max_attempts"
                    } else {
                        "backoff"
                    }
                ),
            );
            return None;
        };
        if max_attempts == 0 {
            self.report(
                &at("max_attempts"),
                format!("{field}.retry.max_attempts"),
                "must be at least 1 (it counts the first call)".into(),
            );
        }
        let budget = r
            .budget
            .as_ref()
            .and_then(|b| self.budget(&at("budget"), field, b));
        Some(mc::Retry {
            budget,
            max_attempts: max_attempts.max(1),
            backoff,
            retry_on: r.retry_on.as_deref().map_or(mc::Causes::ALL, causes),
        })
    }

    fn backoff(&mut self, anchors: &[&str], field: &str, b: &spec::Backoff) -> mc::Backoff {
        match *b {
            spec::Backoff::Immediate => mc::Backoff::None,
            spec::Backoff::Constant { delay } => mc::Backoff::Constant(delay.0),
            spec::Backoff::Exponential { base, cap }
            | spec::Backoff::FullJitter { base, cap }
            | spec::Backoff::EqualJitter { base, cap }
            | spec::Backoff::Decorrelated { base, cap } => {
                if cap < base {
                    self.report(
                        &[anchors, &["cap"]].concat(),
                        format!("{field}.retry.backoff.cap"),
                        format!("cap ({}) must be at least base ({})", cap.0, base.0),
                    );
                }
                let (base, cap) = (base.0, cap.0);
                match b {
                    spec::Backoff::Exponential { .. } => mc::Backoff::Exponential { base, cap },
                    spec::Backoff::FullJitter { .. } => mc::Backoff::FullJitter { base, cap },
                    spec::Backoff::EqualJitter { .. } => mc::Backoff::EqualJitter { base, cap },
                    _ => mc::Backoff::Decorrelated { base, cap },
                }
            }
        }
    }
}

fn flavor_name(f: spec::Flavor) -> &'static str {
    to_flavor(f).name()
}

/// The models' flavor of a scenario's.
pub(crate) fn to_flavor(f: spec::Flavor) -> models::policy::Flavor {
    use models::policy::Flavor as F;
    match f {
        spec::Flavor::Resilience4j => F::Resilience4j,
        spec::Flavor::Polly => F::Polly,
        spec::Flavor::Hystrix => F::Hystrix,
        spec::Flavor::Envoy => F::Envoy,
        spec::Flavor::Grpc => F::Grpc,
        spec::Flavor::Finagle => F::Finagle,
        spec::Flavor::Aws => F::Aws,
    }
}

fn causes(list: &[spec::Cause]) -> mc::Causes {
    use models::metrics::FailureCause as C;
    let list: Vec<C> = list
        .iter()
        .map(|c| match c {
            spec::Cause::Timeout => C::Timeout,
            spec::Cause::Rejected => C::Rejected,
            spec::Cause::Error => C::Error,
            spec::Cause::Dependency => C::Dependency,
            spec::Cause::CircuitOpen => C::CircuitOpen,
            spec::Cause::BulkheadFull => C::BulkheadFull,
            spec::Cause::RateLimited => C::RateLimited,
            spec::Cause::Shed => C::Shed,
            spec::Cause::Throttled => C::Throttled,
            spec::Cause::Conflict => C::Conflict,
            spec::Cause::Unavailable => C::Unavailable,
        })
        .collect();
    mc::Causes::of(&list)
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// Checks `scenario` (read from `source`) and builds its world configuration, or returns every
/// problem found.
pub fn build(scenario: &Scenario, source: &str) -> Result<WorldConfig, Vec<Diagnostic>> {
    let mut c = Checker {
        source,
        diagnostics: Vec::new(),
    };
    if scenario.version != 1 {
        c.report(
            &["version"],
            "version".into(),
            format!("unsupported version {}; expected 1", scenario.version),
        );
    }
    c.duration_positive(&["duration"], "duration".into(), scenario.duration.0);
    let window = scenario.window.map_or(SimDuration::SECOND, |w| w.0);
    c.duration_positive(&["window"], "window".into(), window);
    if scenario.limits.max_events == 0 {
        c.report(
            &["max_events"],
            "limits.max_events".into(),
            "must be at least 1".into(),
        );
    }
    if scenario.services.is_empty() {
        c.report(
            &["services"],
            "services".into(),
            "a scenario needs at least one service".into(),
        );
    }
    if scenario.clients.is_empty() {
        c.report(
            &["clients"],
            "clients".into(),
            "a scenario needs at least one client".into(),
        );
    }

    let topo = topology(&mut c, scenario.topology.as_ref());
    let mut ids: BTreeMap<&str, ServiceId> = BTreeMap::new();
    for (i, s) in scenario.services.iter().enumerate() {
        if ids.insert(&s.name, ServiceId(i as u32)).is_some() {
            let q = named(&s.name);
            c.report(
                &[&q, &q],
                format!("services[{i}].name"),
                format!("duplicate service name \"{}\"", s.name),
            );
        }
    }
    let known = ids.keys().copied().collect::<Vec<_>>().join(", ");
    let resolve = |c: &mut Checker, anchors: &[&str], field: String, name: &str| {
        ids.get(name).copied().or_else(|| {
            c.report(
                anchors,
                field,
                format!("unknown service \"{name}\"; expected one of: {known}"),
            );
            None
        })
    };

    let default = &scenario.policies.default;
    // Node i is service i: the graph is built from vectors, so its order is the file's order.
    let mut graph: DiGraph<(), ()> = DiGraph::new();
    for _ in &scenario.services {
        graph.add_node(());
    }
    let mut services = Vec::with_capacity(scenario.services.len());
    for (i, s) in scenario.services.iter().enumerate() {
        let q = named(&s.name);
        let at = |field: &str| format!("services[{i}].{field}");
        if s.workers == 0 {
            c.report(&[&q, "workers"], at("workers"), "must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&s.error_rate) {
            c.report(
                &[&q, "error_rate"],
                at("error_rate"),
                format!(
                    "{} is not a probability; expected a number from 0 to 1",
                    s.error_rate
                ),
            );
        }
        let service_time = c.dist(&[&q, "service_time"], at("service_time"), &s.service_time);
        let mut calls = Vec::new();
        let mut group_id = 0u16;
        let mut plan = |c: &mut Checker,
                        calls: &mut Vec<CallConfig>,
                        list: &[spec::Call],
                        prefix: &str| {
            for (k, call) in list.iter().enumerate() {
                let field = at(&format!("{prefix}calls[{k}]"));
                if call.parallel.is_empty() {
                    if call.join.is_some() {
                        c.report(
                            &[q.as_str(), "join"],
                            format!("{field}.join"),
                            "join belongs to a parallel step: (parallel: [...], join: All)".into(),
                        );
                    }
                    if let Some(made) = one_call(c, &ids, scenario, &q, &field, call, default, None)
                    {
                        graph.add_edge(NodeIndex::new(i), NodeIndex::new(made.to.0 as usize), ());
                        calls.push(made);
                    }
                    continue;
                }
                // A parallel step: its calls share a group.
                group_id += 1;
                let n = call.parallel.len() as u16;
                let join = match call.join.unwrap_or(spec::Join::All) {
                    spec::Join::All => mc::Join::All,
                    spec::Join::First => mc::Join::First,
                    spec::Join::Quorum(k) => {
                        if k == 0 || k > n {
                            c.report(
                                &[q.as_str(), "Quorum"],
                                format!("{field}.join"),
                                format!("a quorum of {k} out of {n} calls; expected 1 to {n}"),
                            );
                        }
                        mc::Join::Quorum(k.clamp(1, n.max(1)))
                    }
                };
                if call.to.is_some() || call.probability.is_some() || call.endpoint.is_some() {
                    c.report(
                        &[q.as_str(), "parallel"],
                        field.clone(),
                        "a step has either `to` or `parallel`, not both".into(),
                    );
                }
                let group = mc::Group { id: group_id, join };
                for (m, member) in call.parallel.iter().enumerate() {
                    let mfield = format!("{field}.parallel[{m}]");
                    if !member.parallel.is_empty() {
                        c.report(
                            &[q.as_str(), "parallel"],
                            mfield.clone(),
                            "parallel steps do not nest".into(),
                        );
                        continue;
                    }
                    if let Some(made) =
                        one_call(c, &ids, scenario, &q, &mfield, member, default, Some(group))
                    {
                        graph.add_edge(NodeIndex::new(i), NodeIndex::new(made.to.0 as usize), ());
                        calls.push(made);
                    }
                }
            }
        };
        plan(&mut c, &mut calls, &s.calls, "");
        let mut endpoints = Vec::new();
        for (e, ep) in s.endpoints.iter().enumerate() {
            let mut ep_calls = Vec::new();
            plan(
                &mut c,
                &mut ep_calls,
                &ep.calls,
                &format!("endpoints[{e}]."),
            );
            if !(0.0..=1.0).contains(&ep.error_rate) {
                c.report(
                    &[&q, &named(&ep.name), "error_rate"],
                    at(&format!("endpoints[{e}].error_rate")),
                    format!(
                        "{} is not a probability; expected a number from 0 to 1",
                        ep.error_rate
                    ),
                );
            }
            endpoints.push(mc::EndpointConfig {
                name: ep.name.clone(),
                service_time: c.dist(
                    &[&q, &named(&ep.name), "service_time"],
                    at(&format!("endpoints[{e}].service_time")),
                    &ep.service_time,
                ),
                error_rate: ep.error_rate.clamp(0.0, 1.0),
                calls: ep_calls,
            });
        }
        let mut names: Vec<&str> = vec![s.endpoint.as_deref().unwrap_or("default")];
        for ep in &s.endpoints {
            if names.contains(&ep.name.as_str()) {
                c.report(
                    &[&q, &named(&ep.name)],
                    at("endpoints"),
                    format!("duplicate endpoint name \"{}\"", ep.name),
                );
            }
            names.push(&ep.name);
        }
        let objective = c.objective(&[&q], &format!("services[{i}]"), s.objective.as_ref());
        let replicas = placement(&mut c, &topo, &q, &at("placement"), s);
        let health = match &s.health {
            spec::HealthCheck::Unchecked => mc::Health::Unchecked,
            spec::HealthCheck::Perfect => mc::Health::Perfect,
            spec::HealthCheck::Active {
                interval,
                timeout,
                unhealthy_threshold,
                healthy_threshold,
            } => {
                let mut check = models::lb::HealthCheckConfig::new(interval.0, timeout.0);
                if let Some(n) = unhealthy_threshold {
                    check.unhealthy_threshold = *n;
                }
                if let Some(n) = healthy_threshold {
                    check.healthy_threshold = *n;
                }
                if let Err(e) = check.validate() {
                    for line in e.lines() {
                        c.report(&[&q, "health"], at("health"), line.to_string());
                    }
                }
                mc::Health::Active(check)
            }
        };
        let max_throughput_per_s = match s.kind {
            spec::ServiceKind::Database {
                max_throughput_per_s,
            } => {
                if !(max_throughput_per_s.is_finite() && max_throughput_per_s > 0.0) {
                    c.report(
                        &[&q, "max_throughput_per_s"],
                        at("kind.max_throughput_per_s"),
                        format!(
                            "{max_throughput_per_s} is not a rate; expected a number greater than 0"
                        ),
                    );
                }
                Some(max_throughput_per_s)
            }
            _ => None,
        };
        services.push(ServiceConfig {
            endpoint_name: s.endpoint.clone().unwrap_or_else(|| "default".into()),
            endpoints,
            max_throughput_per_s,
            replicas,
            lb: match s.lb {
                spec::Lb::RoundRobin => models::lb::LbPolicy::RoundRobin,
                spec::Lb::Random => models::lb::LbPolicy::Random,
                spec::Lb::LeastRequest => models::lb::LbPolicy::LeastRequest,
                spec::Lb::PowerOfTwoChoices => models::lb::LbPolicy::PowerOfTwoChoices,
            },
            health,
            objective,
            name: s.name.clone(),
            workers: s.workers.max(1),
            queue: s.queue,
            service_time,
            error_rate: s.error_rate.clamp(0.0, 1.0),
            execution: match s.execution {
                spec::Execution::ThreadPerRequest => mc::Execution::ThreadPerRequest,
                spec::Execution::Async => mc::Execution::Async,
            },
            calls,
            kind: match s.kind {
                spec::ServiceKind::Worker | spec::ServiceKind::Database { .. } => {
                    mc::ServiceKind::Worker
                }
                spec::ServiceKind::Record => mc::ServiceKind::Record,
            },
            idempotent: s.idempotent,
            idempotency_keys: s.idempotency_keys,
            propagate_deadline: s.propagate_deadline,
            inbound: mc::Inbound {
                rate_limit: s
                    .inbound
                    .rate_limit
                    .as_ref()
                    .and_then(|r| c.rate_limit(&[&q, "rate_limit"], &format!("services[{i}]"), r)),
                shed: s
                    .inbound
                    .shed
                    .as_ref()
                    .and_then(|sh| c.shed(&[&q, "shed"], &format!("services[{i}]"), sh)),
            },
        });
    }

    // A request that calls back into a service already on its path would wait on itself.
    for component in petgraph::algo::tarjan_scc(&graph) {
        let self_loop = component.len() == 1 && graph.contains_edge(component[0], component[0]);
        if component.len() > 1 || self_loop {
            let mut names: Vec<&str> = component
                .iter()
                .map(|n| scenario.services[n.index()].name.as_str())
                .collect();
            names.sort_unstable();
            let first = named(names[0]);
            c.report(
                &[&first],
                "services".into(),
                format!("the calls form a cycle through {}", names.join(" -> ")),
            );
        }
    }

    let mut clients = Vec::with_capacity(scenario.clients.len());
    let mut client_names = BTreeMap::new();
    for (i, cl) in scenario.clients.iter().enumerate() {
        let q = named(&cl.name);
        let field = format!("clients[{i}]");
        if client_names
            .insert(cl.name.as_str(), ClientId(i as u32))
            .is_some()
        {
            c.report(
                &[&q, &q],
                format!("{field}.name"),
                format!("duplicate client name \"{}\"", cl.name),
            );
        }
        let to_q = quoted(&cl.to);
        let to = resolve(&mut c, &[&q, &to_q], format!("{field}.to"), &cl.to);
        let arrivals = match &cl.arrivals {
            spec::Arrivals::ClosedLoop { users, think_time } => {
                if *users == 0 {
                    c.report(
                        &[&q, "users"],
                        format!("{field}.arrivals.users"),
                        "must be at least 1".into(),
                    );
                }
                let think_time = c.dist(
                    &[&q, "think_time"],
                    format!("{field}.arrivals.think_time"),
                    think_time,
                );
                mc::Arrivals::ClosedLoop {
                    users: *users,
                    think_time,
                }
            }
            &spec::Arrivals::Poisson { rate_per_s } | &spec::Arrivals::Constant { rate_per_s } => {
                if !(rate_per_s.is_finite() && rate_per_s > 0.0) {
                    c.report(
                        &[&q, "rate_per_s"],
                        format!("{field}.arrivals.rate_per_s"),
                        format!("{rate_per_s} is not a rate; expected a number greater than 0"),
                    );
                }
                match cl.arrivals {
                    spec::Arrivals::Poisson { .. } => mc::Arrivals::Poisson { rate_per_s },
                    _ => mc::Arrivals::Constant { rate_per_s },
                }
            }
            &spec::Arrivals::ReadModifyWrite { users } => {
                if users == 0 {
                    c.report(
                        &[&q, "users"],
                        format!("{field}.arrivals.users"),
                        "must be at least 1".into(),
                    );
                }
                mc::Arrivals::ReadModifyWrite { users }
            }
        };
        if let Some(to) = to {
            let record = scenario.services[to.0 as usize].kind == spec::ServiceKind::Record;
            let rmw = matches!(arrivals, mc::Arrivals::ReadModifyWrite { .. });
            if record != rmw {
                c.report(
                    &[&q, "arrivals"],
                    format!("{field}.arrivals"),
                    if rmw {
                        format!(
                            "ReadModifyWrite users need a Record service; \"{}\" is a Worker",
                            cl.to
                        )
                    } else {
                        format!(
                            "\"{}\" is a Record service; only ReadModifyWrite users call it",
                            cl.to
                        )
                    },
                );
            }
        }
        let policy = c.policy(&[&q], &field, &cl.policy().or(default));
        let objective = c.objective(&[&q], &field, cl.objective.as_ref());
        let host = match &cl.host {
            None => 0,
            Some(h) => topo.host_index(h).unwrap_or_else(|e| {
                c.report(&[&q, &quoted(h)], format!("{field}.host"), e);
                0
            }),
        };
        let mut requests = Vec::new();
        for (k, r) in cl.requests.iter().enumerate() {
            let rq = quoted(&r.endpoint);
            if !(r.weight.is_finite() && r.weight > 0.0) {
                c.report(
                    &[&q, &rq, "weight"],
                    format!("{field}.requests[{k}].weight"),
                    format!(
                        "{} is not a weight; expected a number greater than 0",
                        r.weight
                    ),
                );
            }
            if let Some(to) = to {
                let callee = &scenario.services[to.0 as usize];
                match endpoint_index(callee, &r.endpoint) {
                    Ok(e) => requests.push((e, r.weight)),
                    Err(e) => c.report(&[&q, &rq], format!("{field}.requests[{k}].endpoint"), e),
                }
            }
        }
        let base = match cl.arrivals {
            spec::Arrivals::Poisson { rate_per_s } | spec::Arrivals::Constant { rate_per_s } => {
                Some(rate_per_s)
            }
            _ => None,
        };
        let mut profile = Vec::new();
        if !cl.profile.is_empty() && base.is_none() {
            c.report(
                &[&q, "profile"],
                format!("{field}.profile"),
                "a load profile needs Poisson or Constant arrivals".into(),
            );
        }
        // The rate in force before each piece: the base rate, then the end of the last piece.
        let mut current = base.unwrap_or(0.0);
        let mut last_end = SimTime::ZERO;
        for (k, piece) in cl.profile.iter().enumerate() {
            let (from, to_t, rate) = match piece {
                spec::Load::Step { at, rate_per_s } => (at.0, at.0, *rate_per_s),
                spec::Load::Ramp {
                    from,
                    to,
                    rate_per_s,
                } => (from.0, to.0, *rate_per_s),
            };
            let (from, to_t) = (SimTime::ZERO + from, SimTime::ZERO + to_t);
            if !(rate.is_finite() && rate > 0.0) || to_t < from || from < last_end {
                c.report(
                    &[&q, "profile"],
                    format!("{field}.profile[{k}]"),
                    "expected a rate above 0, pieces in time order, and a ramp ending after it starts".into(),
                );
            }
            profile.push((from, to_t, current, rate));
            current = rate;
            last_end = to_t;
        }
        if let Some(to) = to {
            clients.push(ClientConfig {
                requests,
                profile,
                host,
                objective,
                name: cl.name.clone(),
                to,
                arrivals,
                policy,
            });
        }
    }

    let mut faults = Vec::new();
    let client_id = |c: &mut Checker, anchors: &[&str], field: String, name: &str| {
        client_names.get(name).copied().or_else(|| {
            let known: Vec<&str> = client_names.keys().copied().collect();
            c.report(
                anchors,
                field,
                format!(
                    "unknown client \"{name}\"; expected one of: {}",
                    known.join(", ")
                ),
            );
            None
        })
    };
    for (i, f) in scenario.faults.iter().enumerate() {
        let field = format!("faults[{i}]");
        let window =
            |c: &mut Checker, anchors: &[&str], from: &crate::Duration, to: &crate::Duration| {
                if from >= to {
                    c.report(
                        &[anchors, &["from"]].concat(),
                        format!("{field}.from"),
                        format!(
                            "the fault must start ({}) before it ends ({})",
                            from.0, to.0
                        ),
                    );
                }
                (SimTime::ZERO + from.0, SimTime::ZERO + to.0)
            };
        let factor = |c: &mut Checker, anchors: &[&str], name: &str, x: f64| {
            if !(x.is_finite() && x >= 0.0) {
                c.report(
                    &[anchors, &[name]].concat(),
                    format!("{field}.{name}"),
                    format!("{x} is not a factor; expected a number >= 0"),
                );
            }
        };
        let built = match f {
            spec::Fault::Latency {
                service,
                endpoint,
                multiply,
                add,
                from,
                to,
            } => {
                let q = quoted(service);
                let anchors = ["faults", q.as_str()];
                let id = resolve(&mut c, &anchors, format!("{field}.service"), service);
                let multiply = multiply.unwrap_or(1.0);
                factor(&mut c, &anchors, "multiply", multiply);
                let (from, to) = window(&mut c, &anchors, from, to);
                let endpoint = match (id, endpoint) {
                    (Some(s), Some(name)) => {
                        match endpoint_index(&scenario.services[s.0 as usize], name) {
                            Ok(e) => Some(e),
                            Err(e) => {
                                c.report(&anchors, format!("{field}.endpoint"), e);
                                None
                            }
                        }
                    }
                    _ => None,
                };
                id.map(|service| mc::Fault::Latency {
                    service,
                    endpoint,
                    multiply,
                    add: add.map_or(SimDuration::ZERO, |d| d.0),
                    from,
                    to,
                })
            }
            spec::Fault::LinkLatency {
                a,
                b,
                one_way,
                multiply,
                add,
                from,
                to,
            } => {
                let anchors = ["faults", "LinkLatency"];
                let multiply = multiply.unwrap_or(1.0);
                factor(&mut c, &anchors, "multiply", multiply);
                let (from, to) = window(&mut c, &anchors, from, to);
                let side = |c: &mut Checker, name: &str, places: &[spec::Place]| {
                    places
                        .iter()
                        .enumerate()
                        .filter_map(|(k, p)| endpoint(c, &topo, &format!("{field}.{name}[{k}]"), p))
                        .collect::<Vec<_>>()
                };
                let (a, b) = (side(&mut c, "a", a), side(&mut c, "b", b));
                Some(mc::Fault::LinkLatency {
                    a,
                    b,
                    one_way: *one_way,
                    multiply,
                    add: add.map_or(SimDuration::ZERO, |d| d.0),
                    from,
                    to,
                })
            }
            spec::Fault::Errors {
                service,
                rate,
                from,
                to,
            } => {
                let q = quoted(service);
                let anchors = ["faults", q.as_str()];
                let id = resolve(&mut c, &anchors, format!("{field}.service"), service);
                if !(0.0..=1.0).contains(rate) {
                    c.report(
                        &[&anchors[..], &["rate"]].concat(),
                        format!("{field}.rate"),
                        format!("{rate} is not a probability; expected a number from 0 to 1"),
                    );
                }
                let (from, to) = window(&mut c, &anchors, from, to);
                id.map(|service| mc::Fault::Errors {
                    service,
                    rate: *rate,
                    from,
                    to,
                })
            }
            spec::Fault::BlackHole { service, from, to } => {
                let q = quoted(service);
                let anchors = ["faults", q.as_str()];
                let id = resolve(&mut c, &anchors, format!("{field}.service"), service);
                let (from, to) = window(&mut c, &anchors, from, to);
                id.map(|service| mc::Fault::BlackHole { service, from, to })
            }
            spec::Fault::Crash {
                target,
                at,
                restart_after,
                cold_start,
            } => {
                let t = target_of(&mut c, &topo, &ids, &scenario.services, &field, target);
                let cold = cold_start.as_ref().map(|cs| {
                    factor(
                        &mut c,
                        &["faults", "cold_start"],
                        "cold_start.multiply",
                        cs.multiply,
                    );
                    mc::ColdStart {
                        duration: cs.duration.0,
                        multiply: cs.multiply,
                    }
                });
                t.map(|target| mc::Fault::Crash {
                    target,
                    at: SimTime::ZERO + at.0,
                    restart_after: restart_after.map(|d| d.0),
                    cold_start: cold,
                })
            }
            spec::Fault::Chaos {
                target,
                mttf,
                mttr,
                cold_start,
            } => {
                let t = target_of(&mut c, &topo, &ids, &scenario.services, &field, target);
                let mttf = c.dist(&["faults", "mttf"], format!("{field}.mttf"), mttf);
                let mttr = c.dist(&["faults", "mttr"], format!("{field}.mttr"), mttr);
                for (name, d) in [("mttf", &mttf), ("mttr", &mttr)] {
                    if matches!(d, Distribution::Constant(x) if *x == SimDuration::ZERO) {
                        c.report(
                            &["faults", name],
                            format!("{field}.{name}"),
                            "must be greater than 0 (a chaos process needs time between events)"
                                .into(),
                        );
                    }
                }
                let cold = cold_start.as_ref().map(|cs| mc::ColdStart {
                    duration: cs.duration.0,
                    multiply: cs.multiply,
                });
                t.map(|target| mc::Fault::Chaos {
                    target,
                    mttf,
                    mttr,
                    cold_start: cold,
                })
            }
            spec::Fault::Leak {
                service,
                growth_per_hour,
                crash_above,
                restart_after,
            } => {
                let q = quoted(service);
                let anchors = ["faults", q.as_str()];
                let id = resolve(&mut c, &anchors, format!("{field}.service"), service);
                factor(&mut c, &anchors, "growth_per_hour", *growth_per_hour);
                if let Some(above) = crash_above
                    && !(above.is_finite() && *above > 1.0)
                {
                    c.report(
                        &[&anchors[..], &["crash_above"]].concat(),
                        format!("{field}.crash_above"),
                        format!("{above} is not a slowdown factor; expected a number above 1"),
                    );
                }
                id.map(|service| mc::Fault::Leak {
                    service,
                    growth_per_hour: *growth_per_hour,
                    crash_above: *crash_above,
                    restart_after: restart_after.0,
                })
            }
            spec::Fault::LoadSpike {
                client,
                multiply,
                from,
                to,
            } => {
                let q = quoted(client);
                let anchors = ["faults", q.as_str()];
                let id = client_id(&mut c, &anchors, format!("{field}.client"), client);
                if !(multiply.is_finite() && *multiply > 0.0) {
                    c.report(
                        &[&anchors[..], &["multiply"]].concat(),
                        format!("{field}.multiply"),
                        format!("{multiply} is not a factor; expected a number above 0"),
                    );
                }
                let (from, to) = window(&mut c, &anchors, from, to);
                id.map(|client| mc::Fault::LoadSpike {
                    client,
                    multiply: *multiply,
                    from,
                    to,
                })
            }
        };
        faults.extend(built);
    }

    // Expectations name clients or services that exist.
    for (i, e) in scenario.expect.iter().enumerate() {
        use spec::Expectation as E;
        let (name, services_only) = match e {
            E::Availability { of, .. } | E::Latency { of, .. } | E::Amplification { of, .. } => {
                (of, false)
            }
            E::NoCascadeInto { service } | E::NoDuplicateSideEffects { service } => (service, true),
            E::RecoveryWithin { .. } => continue,
        };
        let is_service = ids.contains_key(name.as_str());
        let is_client = client_names.contains_key(name.as_str());
        if !(is_service || (is_client && !services_only)) {
            let q = quoted(name);
            let mut expected = known.clone();
            if !services_only {
                let clients: Vec<&str> = client_names.keys().copied().collect();
                expected = format!("{expected}, {}", clients.join(", "));
            }
            c.report(
                &["expect", &q],
                format!("expect[{i}]"),
                format!(
                    "unknown {} \"{name}\"; expected one of: {expected}",
                    if services_only {
                        "service"
                    } else {
                        "client or service"
                    }
                ),
            );
        }
    }

    let n = &scenario.network;
    let latency = c.dist(
        &["network", "latency"],
        "network.latency".into(),
        &n.latency,
    );
    let cross_zone = n
        .cross_zone
        .as_ref()
        .map(|d| c.dist(&["network", "cross_zone"], "network.cross_zone".into(), d));
    let cross_region = n.cross_region.as_ref().map(|d| {
        c.dist(
            &["network", "cross_region"],
            "network.cross_region".into(),
            d,
        )
    });
    let before_network = c.diagnostics.len();
    let mut links = Vec::new();
    for (i, l) in n.links.iter().enumerate() {
        let field = format!("network.links[{i}]");
        let from = endpoint(&mut c, &topo, &format!("{field}.from"), &l.from);
        let to = endpoint(&mut c, &topo, &format!("{field}.to"), &l.to);
        let latency = c.dist(
            &["links", "latency"],
            format!("{field}.latency"),
            &l.latency,
        );
        if let (Some(from), Some(to)) = (from, to) {
            links.push(models::network::LinkOverride {
                from,
                to,
                latency,
                loss: l.loss,
                symmetric: l.symmetric,
            });
        }
    }
    let mut partitions = Vec::new();
    for (i, p) in n.partitions.iter().enumerate() {
        let field = format!("network.partitions[{i}]");
        let side = |c: &mut Checker,
                    name: &str,
                    places: &[spec::Place]|
         -> Vec<models::network::Endpoint> {
            places
                .iter()
                .enumerate()
                .filter_map(|(k, pl)| endpoint(c, &topo, &format!("{field}.{name}[{k}]"), pl))
                .collect()
        };
        let side_a = side(&mut c, "a", &p.a);
        let side_b = side(&mut c, "b", &p.b);
        partitions.push(models::network::Partition {
            from: SimTime::ZERO + p.from.0,
            to: p.to.map(|t| SimTime::ZERO + t.0),
            side_a,
            side_b,
            direction: match p.direction {
                spec::Direction::Both => models::network::Direction::Both,
                spec::Direction::AToB => models::network::Direction::AToB,
                spec::Direction::BToA => models::network::Direction::BToA,
            },
            fraction: p.fraction,
            // Which pairs a partial partition cuts depends on the partition, not on the seed.
            seed: i as u64,
            mode: match p.mode {
                spec::CutMode::Drop => models::network::CutMode::Drop,
                spec::CutMode::Refuse => models::network::CutMode::Refuse,
            },
        });
    }
    let network = NetworkConfig {
        latency,
        cross_zone,
        cross_region,
        loss: n.loss,
        links,
        partitions,
    };
    // The network module checks probabilities, ranges and overlapping sides.
    {
        let host_zone: Vec<usize> = topo.hosts.iter().map(|h| h.zone).collect();
        let zone_region: Vec<usize> = topo.zones.iter().map(|z| z.region).collect();
        let mut lc = models::network::LatencyConfig::new(
            network.latency.clone(),
            network.latency.clone(),
            network.latency.clone(),
        );
        lc.loss = network.loss;
        lc.links = network.links.clone();
        let mut nc = models::network::NetworkConfig::new(lc);
        nc.partitions = network.partitions.clone();
        if c.diagnostics.len() > before_network {
            // Places that do not exist were reported; their consequences would repeat them.
        } else if let Err(e) = nc.validate(&host_zone, &zone_region) {
            for line in e.split("; ") {
                c.report(&["network"], "network".into(), line.to_string());
            }
        }
    }
    let mut clocks = vec![models::clock::ClockConfig::ideal(); topo.hosts.len()];
    for (i, clock) in scenario.clocks.iter().enumerate() {
        let field = format!("clocks[{i}]");
        let q = quoted(&clock.host);
        match topo.host_index(&clock.host) {
            Err(e) => c.report(&["clocks", &q], format!("{field}.host"), e),
            Ok(h) => {
                let config = models::clock::ClockConfig {
                    offset: clock.offset.map_or(0, |o| o.0),
                    drift_ppm: clock.drift_ppm,
                    jumps: clock
                        .jumps
                        .iter()
                        .map(|j| models::clock::ClockJump {
                            at: SimTime::ZERO + j.at.0,
                            by: j.by.0,
                        })
                        .collect(),
                };
                if let Err(e) = config.validate() {
                    for line in e.lines() {
                        c.report(&["clocks", &q], field.clone(), line.to_string());
                    }
                }
                clocks[h] = config;
            }
        }
    }
    if !c.diagnostics.is_empty() {
        return Err(c.diagnostics);
    }
    Ok(WorldConfig {
        name: scenario.name.clone(),
        duration: scenario.duration.0,
        services,
        clients,
        network,
        faults,
        window,
        max_events: scenario.limits.max_events,
        topology: topo,
        clocks,
    })
}

/// The index of a service's endpoint by name: its own endpoint first, then `endpoints`.
fn endpoint_index(service: &spec::Service, name: &str) -> Result<u16, String> {
    let own = service.endpoint.as_deref().unwrap_or("default");
    if name == own {
        return Ok(0);
    }
    match service.endpoints.iter().position(|e| e.name == name) {
        Some(i) => Ok(i as u16 + 1),
        None => {
            let mut known = vec![own.to_string()];
            known.extend(service.endpoints.iter().map(|e| e.name.clone()));
            Err(format!(
                "\"{}\" has no endpoint \"{name}\"; expected one of: {}",
                service.name,
                known.join(", ")
            ))
        }
    }
}

/// One call of a plan, resolved and with its policy.
#[allow(clippy::too_many_arguments)]
fn one_call(
    c: &mut Checker,
    ids: &BTreeMap<&str, ServiceId>,
    scenario: &Scenario,
    q: &str,
    field: &str,
    call: &spec::Call,
    default: &spec::Policy,
    group: Option<mc::Group>,
) -> Option<CallConfig> {
    let Some(to_name) = call.to.as_deref() else {
        c.report(
            &[q, "calls"],
            field.to_string(),
            "a call needs `to` (or `parallel` for a parallel step)".into(),
        );
        return None;
    };
    let to_q = quoted(to_name);
    let anchors = [q, "calls", to_q.as_str()];
    let to = ids.get(to_name).copied();
    if to.is_none() {
        let known: Vec<&str> = ids.keys().copied().collect();
        c.report(
            &anchors,
            format!("{field}.to"),
            format!(
                "unknown service \"{to_name}\"; expected one of: {}",
                known.join(", ")
            ),
        );
    }
    let policy = c.policy(&anchors, field, &call.policy().or(default));
    let probability = call.probability.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&probability) {
        c.report(
            &[&anchors[..], &["probability"]].concat(),
            format!("{field}.probability"),
            format!("{probability} is not a probability; expected a number from 0 to 1"),
        );
    }
    let to = to?;
    let endpoint = match &call.endpoint {
        None => 0,
        Some(name) => match endpoint_index(&scenario.services[to.0 as usize], name) {
            Ok(e) => e,
            Err(e) => {
                c.report(&anchors, format!("{field}.endpoint"), e);
                0
            }
        },
    };
    Some(CallConfig {
        to,
        endpoint,
        policy,
        probability,
        group,
    })
}

/// The hosts of a service's replicas.
fn placement(
    c: &mut Checker,
    topo: &models::topology::Topology,
    q: &str,
    field: &str,
    s: &spec::Service,
) -> Vec<usize> {
    use models::topology::{Placement, SpreadLevel, Within};
    if s.replicas == 0 {
        c.report(
            &[q, "replicas"],
            field.to_string(),
            "replicas must be at least 1".into(),
        );
        return vec![0];
    }
    let placement = match &s.placement {
        Some(spec::Placement::Hosts(hosts)) => {
            if hosts.len() != s.replicas as usize {
                c.report(
                    &[q, "placement"],
                    field.to_string(),
                    format!(
                        "{} hosts for {} replicas; name one host per replica",
                        hosts.len(),
                        s.replicas
                    ),
                );
            }
            Placement::Explicit(hosts.clone())
        }
        Some(spec::Placement::Spread {
            across,
            within,
            strict,
        }) => Placement::Spread {
            replicas: s.replicas,
            across: match across {
                spec::SpreadLevel::Hosts => SpreadLevel::Hosts,
                spec::SpreadLevel::Zones => SpreadLevel::Zones,
                spec::SpreadLevel::Regions => SpreadLevel::Regions,
            },
            within: match within {
                None => None,
                Some(spec::Place::Zone(z)) => Some(Within::Zone(z.clone())),
                Some(spec::Place::Region(r)) => Some(Within::Region(r.clone())),
                Some(spec::Place::Host(h)) => {
                    c.report(
                        &[q, "within"],
                        field.to_string(),
                        format!(
                            "cannot spread within host \"{h}\"; expected Zone(..) or Region(..)"
                        ),
                    );
                    None
                }
            },
            strict: *strict,
        },
        None => Placement::Spread {
            replicas: s.replicas,
            across: if topo.zones.len() > 1 {
                SpreadLevel::Zones
            } else {
                SpreadLevel::Hosts
            },
            within: None,
            strict: false,
        },
    };
    match topo.place(&placement) {
        Ok(hosts) => hosts,
        Err(e) => {
            c.report(&[q, "placement"], field.to_string(), e);
            vec![0; s.replicas as usize]
        }
    }
}

/// The topology a scenario describes, or a single host.
fn topology(c: &mut Checker, spec: Option<&spec::Topology>) -> models::topology::Topology {
    use models::topology::{Host, Region, Topology, Zone};
    let Some(spec) = spec else {
        return Topology::single_host();
    };
    let mut t = Topology {
        regions: Vec::new(),
        zones: Vec::new(),
        hosts: Vec::new(),
    };
    for r in &spec.regions {
        t.regions.push(Region {
            name: r.name.clone(),
        });
        for z in &r.zones {
            t.zones.push(Zone {
                name: z.name.clone(),
                region: t.regions.len() - 1,
            });
            for h in &z.hosts {
                t.hosts.push(Host {
                    name: h.clone(),
                    zone: t.zones.len() - 1,
                });
            }
        }
    }
    if let Err(e) = t.validate() {
        for line in e.lines() {
            c.report(&["topology"], "topology".into(), line.to_string());
        }
        return Topology::single_host();
    }
    t
}

/// A named place as a network endpoint.
fn endpoint(
    c: &mut Checker,
    topo: &models::topology::Topology,
    field: &str,
    place: &spec::Place,
) -> Option<models::network::Endpoint> {
    use models::network::Endpoint;
    let (found, name) = match place {
        spec::Place::Host(n) => (topo.host_index(n).map(Endpoint::Host), n),
        spec::Place::Zone(n) => (topo.zone_index(n).map(Endpoint::Zone), n),
        spec::Place::Region(n) => (topo.region_index(n).map(Endpoint::Region), n),
    };
    found
        .map_err(|e| c.report(&[&quoted(name)], field.to_string(), e))
        .ok()
}

/// A crash or chaos target, resolved.
fn target_of(
    c: &mut Checker,
    topo: &models::topology::Topology,
    ids: &BTreeMap<&str, ServiceId>,
    services: &[spec::Service],
    field: &str,
    target: &spec::Target,
) -> Option<mc::Target> {
    let service = |c: &mut Checker, name: &str| {
        ids.get(name).copied().or_else(|| {
            let known: Vec<&str> = ids.keys().copied().collect();
            c.report(
                &["faults", &quoted(name)],
                format!("{field}.target"),
                format!(
                    "unknown service \"{name}\"; expected one of: {}",
                    known.join(", ")
                ),
            );
            None
        })
    };
    let place = |c: &mut Checker, found: Result<usize, String>, name: &str| {
        found
            .map_err(|e| c.report(&["faults", &quoted(name)], format!("{field}.target"), e))
            .ok()
    };
    match target {
        spec::Target::Instance {
            service: name,
            index,
        } => {
            let s = service(c, name)?;
            let replicas = services[s.0 as usize].replicas;
            if *index >= replicas {
                c.report(
                    &["faults", &quoted(name)],
                    format!("{field}.target.index"),
                    format!(
                        "\"{name}\" has {replicas} replicas; expected an index below {replicas}"
                    ),
                );
                return None;
            }
            Some(mc::Target::Instance {
                service: s,
                index: *index,
            })
        }
        spec::Target::Service(name) => service(c, name).map(mc::Target::Service),
        spec::Target::Host(n) => place(c, topo.host_index(n), n).map(mc::Target::Host),
        spec::Target::Zone(n) => place(c, topo.zone_index(n), n).map(mc::Target::Zone),
        spec::Target::Region(n) => place(c, topo.region_index(n), n).map(mc::Target::Region),
    }
}

#[cfg(test)]
mod tests {
    use super::{locate, named};

    #[test]
    fn locate_follows_anchors_in_order() {
        let text = "a: \"x\"\nb: \"y\",\n  c: \"x\"";
        assert_eq!(locate(text, &["\"x\""]), Some((1, 4)));
        assert_eq!(locate(text, &["b", "\"x\""]), Some((3, 6)));
        assert_eq!(locate(text, &["zzz"]), None);
        assert_eq!(locate("x\n  name:\t\"a\"", &[&named("a")]), Some((2, 3)));
        assert_eq!(
            locate("name: \"ab\", name: \"a\"", &[&named("a")]),
            Some((1, 13))
        );
    }
}
