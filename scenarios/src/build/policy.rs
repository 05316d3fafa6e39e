//! Checks a call edge's policy (`policies.default`, a call's or a client's policy fields) and
//! builds it: timeout, deadline, hedge, bulkhead, breaker, throttle, outlier detection,
//! fallback and the order of the layers; the retry has its own module.

use models::config::{self as mc, CallPolicy};
use sim_core::{Distribution, SimDuration};

use super::Checker;
use crate::spec;

impl Checker<'_> {
    /// A timeout or deadline: a positive duration, or a distribution drawn per wait.
    fn patience(&mut self, anchors: &[&str], field: String, p: &spec::Patience) -> Distribution {
        match p {
            spec::Patience::Fixed(t) => {
                self.duration_positive(anchors, field, t.0);
                Distribution::Constant(t.0)
            }
            spec::Patience::Drawn(d) => self.dist(anchors, field, d),
        }
    }

    /// The policy of the edge at `anchors`, whose fields are named after `field`.
    pub(super) fn policy(&mut self, anchors: &[&str], field: &str, p: &spec::Policy) -> CallPolicy {
        let at = |name: &'static str| [anchors, &[name]].concat();
        let timeout = p
            .timeout
            .as_ref()
            .map(|t| self.patience(&at("timeout"), format!("{field}.timeout"), t));
        let deadline = p
            .deadline
            .as_ref()
            .map(|t| self.patience(&at("deadline"), format!("{field}.deadline"), t));
        let retry = p
            .retry
            .as_ref()
            .and_then(|r| self.retry(&at("retry"), field, r));
        let hedge = p.hedge.as_ref().map(|h| self.hedge(&at("hedge"), field, h));
        if retry.is_some() && hedge.is_some() {
            self.report(
                &at("hedge"),
                format!("{field}.hedge"),
                "a call has either a retry or a hedge policy, not both (as in gRPC)".into(),
            );
        }
        let bulkhead = p
            .bulkhead
            .as_ref()
            .map(|b| self.bulkhead(&at("core_thread_pool_size"), field, b));
        let breaker = p
            .breaker
            .as_ref()
            .and_then(|b| self.breaker(&at("breaker"), field, b));
        let throttle = p
            .throttle
            .as_ref()
            .and_then(|t| self.throttle(&at("throttle"), field, t));
        let outlier = p
            .outlier
            .as_ref()
            .and_then(|o| self.outlier(&at("outlier"), field, o));
        let fallback = p.fallback.as_ref().map(|f| match f {
            spec::Fallback::Static => mc::Fallback::Static,
            spec::Fallback::Skip => mc::Fallback::Skip,
            spec::Fallback::Cached { ttl } => mc::Fallback::Cached { ttl: ttl.0 },
        });
        let order = match &p.order {
            None => mc::Order::default(),
            Some(layers) => self.order(&at("order"), field, layers),
        };
        CallPolicy {
            timeout,
            deadline,
            per_try_deadline: p.deadline_sent == Some(spec::DeadlineSent::PerTry),
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

    fn hedge(&mut self, anchors: &[&str], field: &str, h: &spec::Hedge) -> mc::Hedge {
        if !(2..=mc::Hedge::MAX_ATTEMPTS).contains(&h.max_attempts) {
            self.report(
                anchors,
                format!("{field}.hedge.max_attempts"),
                format!(
                    "{} copies; expected 2 to 5 (gRPC hedging counts the original and caps at 5)",
                    h.max_attempts
                ),
            );
        }
        mc::Hedge {
            max_attempts: h.max_attempts.clamp(1, mc::Hedge::MAX_ATTEMPTS),
            delay: h.delay.map_or(SimDuration::ZERO, |d| d.0),
            non_fatal: causes(&h.non_fatal),
        }
    }

    /// A bulkhead; `anchors` lead to its pool size, the one field that can be wrong.
    fn bulkhead(&mut self, anchors: &[&str], field: &str, b: &spec::Bulkhead) -> mc::Bulkhead {
        match b {
            spec::Bulkhead::Semaphore {
                max_concurrent_calls,
                max_wait_duration,
            } => {
                if *max_concurrent_calls == Some(0) {
                    // A bulkhead with no permit would refuse every call; the policy asserts it.
                    let anchors = [
                        &anchors[..anchors.len().saturating_sub(1)],
                        &["max_concurrent_calls"],
                    ]
                    .concat();
                    self.report(
                        &anchors,
                        format!("{field}.bulkhead.max_concurrent_calls"),
                        "must be at least 1".into(),
                    );
                }
                mc::Bulkhead::Semaphore {
                    max_concurrent_calls: max_concurrent_calls.unwrap_or(25),
                    max_wait_duration: max_wait_duration.map_or(SimDuration::ZERO, |d| d.0),
                }
            }
            spec::Bulkhead::ThreadPool {
                core_thread_pool_size,
                queue_capacity,
            } => {
                if *core_thread_pool_size == 0 {
                    self.report(
                        anchors,
                        format!("{field}.bulkhead.core_thread_pool_size"),
                        "must be at least 1".into(),
                    );
                }
                mc::Bulkhead::ThreadPool {
                    core_thread_pool_size: *core_thread_pool_size,
                    queue_capacity: queue_capacity.unwrap_or(100),
                }
            }
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

    fn throttle(
        &mut self,
        anchors: &[&str],
        field: &str,
        t: &spec::Throttle,
    ) -> Option<models::policy::budget::AdaptiveThrottleConfig> {
        let d = models::policy::budget::AdaptiveThrottleConfig::defaults();
        let config = models::policy::budget::AdaptiveThrottleConfig {
            k: t.k.unwrap_or(d.k),
            window: t.window.map_or(d.window, |w| w.0),
        };
        match config.validate() {
            Ok(()) => Some(config),
            Err(e) => {
                self.report(anchors, format!("{field}.throttle"), e);
                None
            }
        }
    }

    fn outlier(
        &mut self,
        anchors: &[&str],
        field: &str,
        o: &spec::Outlier,
    ) -> Option<models::policy::outlier::OutlierConfig> {
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
                self.report(anchors, format!("{field}.outlier"), e);
                None
            }
        }
    }

    /// The order of the layers, outermost first; the default one if it is not a permutation.
    fn order(&mut self, anchors: &[&str], field: &str, layers: &[spec::Layer]) -> mc::Order {
        let mut sorted: Vec<spec::Layer> = layers.to_vec();
        sorted.sort_by_key(|l| *l as u8);
        sorted.dedup();
        if layers.len() != 4 || sorted.len() != 4 {
            self.report(
                anchors,
                format!("{field}.order"),
                "expected each of Retry, Breaker, Bulkhead, Timeout exactly once, outermost first"
                    .into(),
            );
            return mc::Order::default();
        }
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

/// The models' flavor of a scenario's.
pub(super) fn to_flavor(f: spec::Flavor) -> models::policy::Flavor {
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

/// The failure causes a scenario lists, as a set.
pub(super) fn causes(list: &[spec::Cause]) -> mc::Causes {
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
