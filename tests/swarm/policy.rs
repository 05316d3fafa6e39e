//! The policy fields of the swarm's edges: timeouts, retries and their budgets, hedges,
//! breakers, bulkheads, fallbacks, throttles, outlier detection and their order.

use super::{Feature, Gen, Rng, causes, ms};

impl Gen<'_> {
    pub(super) fn backoff(r: &mut Rng) -> String {
        let base = r.range(1, 50);
        let cap = base * r.range(1, 20);
        match r.index(6) {
            0 => "Immediate".into(),
            1 => format!("Constant(delay: {})", ms(base)),
            2 => format!("Exponential(base: {}, cap: {})", ms(base), ms(cap)),
            3 => format!("FullJitter(base: {}, cap: {})", ms(base), ms(cap)),
            4 => format!("EqualJitter(base: {}, cap: {})", ms(base), ms(cap)),
            _ => format!("Decorrelated(base: {}, cap: {})", ms(base), ms(cap)),
        }
    }

    pub(super) fn budget(r: &mut Rng) -> String {
        match r.index(4) {
            0 => format!(
                "Envoy(budget_percent: {}, min_retry_concurrency: {})",
                r.real(0.0, 100.0),
                r.range(0, 5)
            ),
            1 => format!(
                "Grpc(max_tokens: {}, token_ratio: {})",
                r.range(2, 20),
                r.real(0.01, 1.0)
            ),
            2 => format!(
                "Finagle(ttl: \"{}s\", min_retries_per_sec: {}, percent_can_retry: {})",
                r.range(1, 60),
                r.range(0, 20),
                r.real(0.0, 1.0)
            ),
            _ => {
                let cap = r.range(5, 500);
                format!(
                    "Aws(initial_capacity: {cap}, retry_cost: {}, timeout_retry_request: {}, \
                     no_retry_increment: {})",
                    r.range(1, cap),
                    r.range(1, cap),
                    r.range(0, cap)
                )
            }
        }
    }

    pub(super) fn retry(&self, r: &mut Rng) -> String {
        let mut fields = Vec::new();
        // gRPC, Hystrix and Finagle have no defaults: they need attempts and a backoff.
        let flavor = r.pick(&[
            "",
            "",
            "resilience4j",
            "polly",
            "envoy",
            "aws",
            "grpc",
            "hystrix",
            "finagle",
        ]);
        let bare = matches!(*flavor, "grpc" | "hystrix" | "finagle");
        if !flavor.is_empty() {
            fields.push(format!("flavor: {flavor}"));
        }
        match r.index(3) {
            0 if !bare => {}
            1 => fields.push(format!("max_retries: {}", r.range(0, 3))),
            _ => fields.push(format!("max_attempts: {}", r.range(1, 4))),
        }
        if bare || r.percent(70) {
            fields.push(format!("backoff: {}", Self::backoff(r)));
        }
        if r.percent(30) {
            fields.push(format!("retry_on: {}", causes(r)));
        }
        if self.on(Feature::Budget) && r.percent(50) {
            fields.push(format!("budget: {}", Self::budget(r)));
        }
        format!("({})", fields.join(", "))
    }

    pub(super) fn breaker(r: &mut Rng) -> String {
        let mut fields = Vec::new();
        match r.index(4) {
            0 | 1 => {
                if r.percent(50) {
                    fields.push("flavor: resilience4j".into());
                }
                let window = r.pick(&["CountBased", "TimeBased"]);
                fields.push(format!("sliding_window_type: {window}"));
                fields.push(format!("sliding_window_size: {}", r.range(1, 20)));
                fields.push(format!("minimum_number_of_calls: {}", r.range(1, 10)));
                fields.push(format!("failure_rate_threshold: {}", r.real(1.0, 100.0)));
                fields.push(format!("slow_call_rate_threshold: {}", r.real(1.0, 100.0)));
                fields.push(format!(
                    "slow_call_duration_threshold: {}",
                    ms(r.range(1, 500))
                ));
                fields.push(format!(
                    "permitted_number_of_calls_in_half_open_state: {}",
                    r.range(1, 5)
                ));
                if r.percent(30) {
                    let wait = *r.pick(&[0, 1, 200, 2000]);
                    fields.push(format!(
                        "max_wait_duration_in_half_open_state: {}",
                        ms(wait)
                    ));
                }
                if r.percent(30) {
                    fields.push(
                        "automatic_transition_from_open_to_half_open_enabled: true".to_string(),
                    );
                }
                fields.push(format!(
                    "wait_duration_in_open_state: {}",
                    ms(r.range(1, 3000))
                ));
            }
            2 => {
                fields.push("flavor: polly".into());
                fields.push(format!("minimum_number_of_calls: {}", r.range(2, 10)));
                fields.push(format!("failure_rate_threshold: {}", r.real(0.0, 100.0)));
                fields.push(format!(
                    "wait_duration_in_open_state: {}",
                    ms(r.range(500, 3000))
                ));
            }
            _ => {
                fields.push("flavor: hystrix".into());
                fields.push(format!("minimum_number_of_calls: {}", r.range(1, 10)));
                fields.push(format!("failure_rate_threshold: {}", r.range(0, 100)));
                fields.push(format!(
                    "wait_duration_in_open_state: {}",
                    ms(r.range(1, 3000))
                ));
            }
        }
        format!("({})", fields.join(", "))
    }

    pub(super) fn outlier(r: &mut Rng) -> String {
        let base = r.range(100, 5000);
        format!(
            "(consecutive_5xx: {}, consecutive_gateway_failure: {}, interval: {}, \
             base_ejection_time: {}, max_ejection_percent: {}, max_ejection_time: {}, \
             enforcing_consecutive_5xx: {}, enforcing_consecutive_gateway_failure: {})",
            r.range(1, 5),
            r.range(1, 5),
            ms(r.range(100, 3000)),
            ms(base),
            r.range(0, 100),
            ms(base * r.range(1, 10)),
            r.pick(&[0, 100]),
            r.pick(&[0, 100]),
        )
    }

    /// `policies.default`: no hedge (an edge's retry would conflict with it), and a retry only
    /// sometimes (it keeps every edge from hedging).
    pub(super) fn default_policy(&self) -> Vec<String> {
        let mut r = Rng::stream(self.swarm.seed, "defaults");
        let mut fields = self.policy(&mut r, false);
        if r.percent(50) {
            fields.retain(|f| !f.starts_with("retry:"));
        }
        fields
    }

    /// The policy fields of a call, a client or `policies.default`, as `name: value` pairs.
    pub(super) fn policy(&self, r: &mut Rng, hedge_allowed: bool) -> Vec<String> {
        let mut p = Vec::new();
        if self.on(Feature::Timeout) && r.percent(60) {
            p.push(format!("timeout: {}", ms(r.range(5, 1000))));
        }
        if self.on(Feature::Deadline) && r.percent(40) {
            p.push(format!("deadline: {}", ms(r.range(20, 3000))));
        }
        let hedge = hedge_allowed && self.on(Feature::Hedge) && r.percent(40);
        if hedge {
            p.push(format!(
                "hedge: (max_attempts: {}, delay: {}, non_fatal: {})",
                r.range(2, 5),
                ms(r.range(0, 100)),
                causes(r)
            ));
        } else if self.on(Feature::Retry) && r.percent(60) {
            p.push(format!("retry: {}", self.retry(r)));
        }
        if self.on(Feature::Breaker) && r.percent(50) {
            p.push(format!("breaker: {}", Self::breaker(r)));
        }
        if self.on(Feature::Bulkhead) && r.percent(50) {
            // Hedged edges get waiting bulkheads too: that found a re-entrancy bug (see
            // `a_hedged_copy_refused_inside_a_waiting_bulkhead_does_not_end_the_call_twice`).
            p.push(if r.percent(30) {
                format!(
                    "bulkhead: Semaphore(max_concurrent_calls: {})",
                    r.range(1, 10)
                )
            } else if r.percent(50) {
                format!(
                    "bulkhead: Semaphore(max_concurrent_calls: {}, max_wait_duration: {})",
                    r.range(1, 10),
                    ms(r.range(0, 100))
                )
            } else {
                format!(
                    "bulkhead: ThreadPool(core_thread_pool_size: {}, queue_capacity: {})",
                    r.range(1, 5),
                    r.range(0, 20)
                )
            });
        }
        if self.on(Feature::Fallback) && r.percent(50) {
            let ttl = format!("Cached(ttl: {})", ms(r.range(10, 5000)));
            p.push(format!(
                "fallback: {}",
                r.pick(&["Static".to_string(), "Skip".to_string(), ttl])
            ));
        }
        if self.on(Feature::Throttle) && r.percent(50) {
            p.push(format!(
                "throttle: (k: {}, window: \"{}s\")",
                r.real(0.5, 3.0),
                r.range(1, 120)
            ));
        }
        if self.on(Feature::Outlier) && r.percent(50) {
            p.push(format!("outlier: {}", Self::outlier(r)));
        }
        if self.on(Feature::Order) && r.percent(50) {
            let mut layers = ["Retry", "Breaker", "Bulkhead", "Timeout"];
            for i in (1..layers.len()).rev() {
                layers.swap(i, r.index(i + 1));
            }
            p.push(format!("order: [{}]", layers.join(", ")));
        }
        p
    }
}
