//! The policy fields of a call, a client and `policies.default`: `timeout`, `retry`, `breaker`,
//! `bulkhead`, `fallback`, `outlier`, with the format's words.

use super::{float, quoted};

/// Waiting between attempts (`backoff:`).
#[derive(Clone, Debug)]
pub enum Backoff {
    /// No wait.
    Immediate,
    /// The same delay each time.
    Constant(String),
    /// `base` doubled per attempt, up to `cap`.
    Exponential(String, String),
    /// Uniform in [0, exponential delay] (AWS "full jitter").
    FullJitter(String, String),
}

/// Retry of failed attempts (`retry:`); unset fields take the Resilience4j defaults.
#[derive(Clone, Debug, Default)]
pub struct Retry {
    max_attempts: Option<u32>,
    backoff: Option<Backoff>,
}

impl Retry {
    /// `max_attempts` attempts in all, the first one included.
    pub fn attempts(max_attempts: u32) -> Retry {
        Retry {
            max_attempts: Some(max_attempts),
            backoff: None,
        }
    }

    /// The wait between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Retry {
        self.backoff = Some(backoff);
        self
    }

    fn ron(&self) -> String {
        let mut fields = Vec::new();
        if let Some(n) = self.max_attempts {
            fields.push(format!("max_attempts: {n}"));
        }
        if let Some(b) = &self.backoff {
            fields.push(format!(
                "backoff: {}",
                match b {
                    Backoff::Immediate => "Immediate".to_owned(),
                    Backoff::Constant(d) => format!("Constant(delay: {})", quoted(d)),
                    Backoff::Exponential(b, c) =>
                        format!("Exponential(base: {}, cap: {})", quoted(b), quoted(c)),
                    Backoff::FullJitter(b, c) =>
                        format!("FullJitter(base: {}, cap: {})", quoted(b), quoted(c)),
                }
            ));
        }
        format!("({})", fields.join(", "))
    }
}

/// A Resilience4j circuit breaker (`breaker:`); unset fields take Resilience4j's defaults.
#[derive(Clone, Debug, Default)]
pub struct Breaker {
    fields: Vec<String>,
}

impl Breaker {
    /// A breaker with Resilience4j's defaults (count window of 100, 50 % failures).
    pub fn new() -> Breaker {
        Breaker::default()
    }

    fn with(mut self, field: &str, value: String) -> Breaker {
        self.fields.push(format!("{field}: {value}"));
        self
    }

    /// Outcomes in the count window.
    pub fn sliding_window_size(self, n: u32) -> Breaker {
        self.with("sliding_window_size", n.to_string())
    }

    /// Outcomes needed before the rates are judged.
    pub fn minimum_number_of_calls(self, n: u32) -> Breaker {
        self.with("minimum_number_of_calls", n.to_string())
    }

    /// Percent of failures that opens the breaker.
    pub fn failure_rate_threshold(self, percent: f64) -> Breaker {
        self.with("failure_rate_threshold", float(percent))
    }

    /// Percent of slow calls that opens the breaker.
    pub fn slow_call_rate_threshold(self, percent: f64) -> Breaker {
        self.with("slow_call_rate_threshold", float(percent))
    }

    /// A call slower than this is slow.
    pub fn slow_call_duration_threshold(self, d: &str) -> Breaker {
        self.with("slow_call_duration_threshold", quoted(d))
    }

    /// How long the breaker stays open before it lets probes through.
    pub fn wait_duration_in_open_state(self, d: &str) -> Breaker {
        self.with("wait_duration_in_open_state", quoted(d))
    }

    fn ron(&self) -> String {
        format!("({})", self.fields.join(", "))
    }
}

/// A Resilience4j bulkhead on the caller's side (`bulkhead:`): at most so many calls of this
/// edge at once, per calling replica; a refused call fails with `bulkhead_full`.
///
/// ```
/// use faultline::{Bulkhead, Call, Client, Dist, Fallback, Fault, ScenarioBuilder, Service};
///
/// // A slow optional dependency: the bulkhead keeps it from taking every worker, and the
/// // fallback answers without it (degraded, still available).
/// let scenario = ScenarioBuilder::new("bulkhead", "20s")
///     .service(Service::new("page", Dist::constant("1ms")).workers(20).queue(50)
///         .call(Call::to("reviews").timeout("1s").bulkhead(Bulkhead::semaphore(2))
///             .fallback(Fallback::Skip)))
///     .service(Service::new("reviews", Dist::exponential("5ms")).workers(50).queue(50))
///     .client(Client::poisson("users", "page", 200.0).timeout("2s"))
///     .fault(Fault::latency("reviews", 100.0, "5s", "15s"))
///     .build()?;
/// let run = scenario.run(1);
/// assert!(run.client("users").unwrap().availability > 0.99);
/// assert!(run.json().contains("\"bulkhead_full\""));
/// # Ok::<(), faultline::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Bulkhead(String);

impl Bulkhead {
    /// `Semaphore(max_concurrent_calls: n)`: a call finding `n` in flight fails at once
    /// (Resilience4j's `SemaphoreBulkhead` with `maxWaitDuration` 0).
    pub fn semaphore(max_concurrent_calls: u32) -> Bulkhead {
        Bulkhead(format!(
            "Semaphore(max_concurrent_calls: {max_concurrent_calls})"
        ))
    }

    /// `Semaphore(max_concurrent_calls: n, max_wait_duration: d)`: a call finding `n` in flight
    /// waits, first come first served, up to `d` for a permit.
    pub fn semaphore_waiting(max_concurrent_calls: u32, max_wait_duration: &str) -> Bulkhead {
        Bulkhead(format!(
            "Semaphore(max_concurrent_calls: {max_concurrent_calls}, max_wait_duration: {})",
            quoted(max_wait_duration)
        ))
    }

    /// `ThreadPool(core_thread_pool_size: n, queue_capacity: q)`: `n` calls at once, `q`
    /// waiting without a time limit (Resilience4j's `FixedThreadPoolBulkhead`).
    pub fn thread_pool(core_thread_pool_size: u32, queue_capacity: u32) -> Bulkhead {
        Bulkhead(format!(
            "ThreadPool(core_thread_pool_size: {core_thread_pool_size}, queue_capacity: \
             {queue_capacity})"
        ))
    }
}

/// What the caller answers instead of a failure (`fallback:`); the answer counts as degraded.
#[derive(Clone, Debug)]
pub enum Fallback {
    /// A static answer.
    Static,
    /// The last good answer, if it is younger than the ttl (`Cached(ttl: "30s")`).
    Cached(String),
    /// Carry on without this optional dependency.
    Skip,
}

impl Fallback {
    fn ron(&self) -> String {
        match self {
            Fallback::Static => "Static".into(),
            Fallback::Cached(ttl) => format!("Cached(ttl: {})", quoted(ttl)),
            Fallback::Skip => "Skip".into(),
        }
    }
}

/// Envoy outlier detection on a call (`outlier:`); unset fields take Envoy's defaults.
#[derive(Clone, Debug, Default)]
pub struct Outlier {
    fields: Vec<String>,
}

impl Outlier {
    /// Outlier detection with Envoy's defaults (5 consecutive 5xx, 10 s sweeps, 30 s base
    /// ejection, at most 10 % ejected).
    pub fn new() -> Outlier {
        Outlier::default()
    }

    fn with(mut self, field: &str, value: String) -> Outlier {
        self.fields.push(format!("{field}: {value}"));
        self
    }

    /// Consecutive failures of any kind that eject a replica.
    pub fn consecutive_5xx(self, n: u32) -> Outlier {
        self.with("consecutive_5xx", n.to_string())
    }

    /// Consecutive gateway failures (timeouts, refused connections) that eject a replica.
    pub fn consecutive_gateway_failure(self, n: u32) -> Outlier {
        self.with("consecutive_gateway_failure", n.to_string())
    }

    /// Percent chance that `consecutive_5xx` ejects (Envoy's default 100).
    pub fn enforcing_consecutive_5xx(self, percent: u32) -> Outlier {
        self.with("enforcing_consecutive_5xx", percent.to_string())
    }

    /// Percent chance that `consecutive_gateway_failure` ejects (Envoy's default 0).
    pub fn enforcing_consecutive_gateway_failure(self, percent: u32) -> Outlier {
        self.with("enforcing_consecutive_gateway_failure", percent.to_string())
    }

    /// Time between sweeps that return ejected replicas.
    pub fn interval(self, d: &str) -> Outlier {
        self.with("interval", quoted(d))
    }

    /// Ejection time, times the number of ejections of the replica.
    pub fn base_ejection_time(self, d: &str) -> Outlier {
        self.with("base_ejection_time", quoted(d))
    }

    /// The longest ejection.
    pub fn max_ejection_time(self, d: &str) -> Outlier {
        self.with("max_ejection_time", quoted(d))
    }

    /// Most replicas ejected at once, in percent (at least one may always be).
    pub fn max_ejection_percent(self, percent: u32) -> Outlier {
        self.with("max_ejection_percent", percent.to_string())
    }

    fn ron(&self) -> String {
        format!("({})", self.fields.join(", "))
    }
}

/// The policy fields a call, a client, and `policies.default` may carry; each is written as
/// the format's field of the same name.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    timeout: Option<String>,
    retry: Option<Retry>,
    breaker: Option<Breaker>,
    bulkhead: Option<Bulkhead>,
    fallback: Option<Fallback>,
    outlier: Option<Outlier>,
}

impl Policy {
    /// No timeout, retry, breaker, bulkhead, fallback or outlier detection.
    pub fn new() -> Policy {
        Policy::default()
    }

    /// The per-attempt timeout (`"500ms"`).
    pub fn timeout(mut self, d: &str) -> Policy {
        self.timeout = Some(d.to_owned());
        self
    }

    /// Retries of failed attempts.
    pub fn retry(mut self, retry: Retry) -> Policy {
        self.retry = Some(retry);
        self
    }

    /// A circuit breaker.
    pub fn breaker(mut self, breaker: Breaker) -> Policy {
        self.breaker = Some(breaker);
        self
    }

    /// A bulkhead: a cap on the edge's calls in flight.
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Policy {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// The caller's answer when the call fails.
    pub fn fallback(mut self, fallback: Fallback) -> Policy {
        self.fallback = Some(fallback);
        self
    }

    /// Envoy outlier detection over the callee's replicas.
    pub fn outlier(mut self, outlier: Outlier) -> Policy {
        self.outlier = Some(outlier);
        self
    }

    pub(super) fn fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        if let Some(t) = &self.timeout {
            fields.push(format!("timeout: {}", quoted(t)));
        }
        if let Some(r) = &self.retry {
            fields.push(format!("retry: {}", r.ron()));
        }
        if let Some(b) = &self.breaker {
            fields.push(format!("breaker: {}", b.ron()));
        }
        if let Some(b) = &self.bulkhead {
            fields.push(format!("bulkhead: {}", b.0));
        }
        if let Some(f) = &self.fallback {
            fields.push(format!("fallback: {}", f.ron()));
        }
        if let Some(o) = &self.outlier {
            fields.push(format!("outlier: {}", o.ron()));
        }
        fields
    }
}
