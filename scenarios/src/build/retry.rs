//! Checks a retry policy and builds it: attempts and backoff (with each flavor's defaults) and
//! the retry budget shared by an edge's calls.

use models::config as mc;
use sim_core::SimDuration;

use super::Checker;
use super::policy::{causes, to_flavor};
use crate::spec;

impl Checker<'_> {
    /// A retry policy, with the flavor's defaults for what it leaves out.
    pub(super) fn retry(
        &mut self,
        anchors: &[&str],
        field: &str,
        r: &spec::Retry,
    ) -> Option<mc::Retry> {
        let at = |name: &'static str| [anchors, &[name]].concat();
        let flavor = r.flavor.unwrap_or(spec::Flavor::Resilience4j);
        let defaults = retry_defaults(flavor);
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
            spec::Backoff::Immediate => mc::Backoff::Immediate,
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
}

/// A flavor's default attempts (including the first) and backoff, when the library has them.
fn retry_defaults(flavor: spec::Flavor) -> Option<(u32, mc::Backoff)> {
    let ms = SimDuration::from_millis;
    match flavor {
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
    }
}

fn flavor_name(f: spec::Flavor) -> &'static str {
    to_flavor(f).name()
}
