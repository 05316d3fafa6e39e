//! Services, their endpoints and calls, and clients.

use super::policy::{Breaker, Bulkhead, Fallback, Outlier, Policy, Retry};
use super::world::{Health, Lb, Placement};
use super::{float, quoted};

/// A duration distribution: how long a service's work, or the network, takes.
#[derive(Clone, Debug)]
pub struct Dist(pub(super) String);

impl Dist {
    /// Always `value` (`"5ms"`).
    pub fn constant(value: &str) -> Dist {
        Dist(format!("Constant(value: {})", quoted(value)))
    }

    /// Exponential with this mean: the memoryless service of queueing theory.
    pub fn exponential(mean: &str) -> Dist {
        Dist(format!("Exponential(mean: {})", quoted(mean)))
    }

    /// Normal with this mean and standard deviation, folded at zero (`FoldedNormal`).
    pub fn folded_normal(mean: &str, sd: &str) -> Dist {
        Dist(format!(
            "FoldedNormal(mean: {}, sd: {})",
            quoted(mean),
            quoted(sd)
        ))
    }

    /// Log-normal from its median and 99th percentile, the usual shape of measured latency.
    pub fn log_normal(median: &str, p99: &str) -> Dist {
        Dist(format!(
            "LogNormal(median: {}, p99: {})",
            quoted(median),
            quoted(p99)
        ))
    }
}

/// A downstream call (`Call(to: ...)`), made after the local work, one after another.
#[derive(Clone, Debug)]
pub struct Call {
    to: String,
    endpoint: Option<String>,
    probability: Option<f64>,
    policy: Policy,
    /// Fields the builder has no method for, in the format's words.
    extra: Vec<String>,
}

impl Call {
    /// A call to the service `to`.
    pub fn to(to: &str) -> Call {
        Call {
            to: to.to_owned(),
            endpoint: None,
            probability: None,
            policy: Policy::default(),
            extra: Vec::new(),
        }
    }

    /// The callee's endpoint (default: its first).
    pub fn endpoint(mut self, endpoint: &str) -> Call {
        self.endpoint = Some(endpoint.to_owned());
        self
    }

    /// Made with this probability only (an optional call).
    pub fn probability(mut self, p: f64) -> Call {
        self.probability = Some(p);
        self
    }

    /// The per-attempt timeout.
    pub fn timeout(mut self, d: &str) -> Call {
        self.policy = self.policy.timeout(d);
        self
    }

    /// Retries of failed attempts.
    pub fn retry(mut self, retry: Retry) -> Call {
        self.policy = self.policy.retry(retry);
        self
    }

    /// A circuit breaker on this call.
    pub fn breaker(mut self, breaker: Breaker) -> Call {
        self.policy = self.policy.breaker(breaker);
        self
    }

    /// A bulkhead on this call: at most so many in flight per calling replica.
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Call {
        self.policy = self.policy.bulkhead(bulkhead);
        self
    }

    /// The caller's answer when this call fails (`fallback: Skip` for an optional call).
    pub fn fallback(mut self, fallback: Fallback) -> Call {
        self.policy = self.policy.fallback(fallback);
        self
    }

    /// Envoy outlier detection over the callee's replicas, per calling replica.
    pub fn outlier(mut self, outlier: Outlier) -> Call {
        self.policy = self.policy.outlier(outlier);
        self
    }

    /// Every policy field at once (replaces those set before).
    pub fn policy(mut self, policy: Policy) -> Call {
        self.policy = policy;
        self
    }

    /// A field the builder has no method for, written as RON (`ron_field("hedge",
    /// "(max_attempts: 2, delay: \"20ms\")")`); the loader checks it as in a file.
    pub fn ron_field(mut self, field: &str, ron: &str) -> Call {
        self.extra.push(format!("{field}: {ron}"));
        self
    }

    pub(super) fn ron(&self) -> String {
        let mut fields = vec![format!("to: {}", quoted(&self.to))];
        if let Some(e) = &self.endpoint {
            fields.push(format!("endpoint: {}", quoted(e)));
        }
        if let Some(p) = self.probability {
            fields.push(format!("probability: {}", float(p)));
        }
        fields.extend(self.policy.fields());
        fields.extend(self.extra.iter().cloned());
        format!("Call({})", fields.join(", "))
    }
}

fn calls_ron(calls: &[Call]) -> String {
    let calls: Vec<String> = calls.iter().map(Call::ron).collect();
    format!("[{}]", calls.join(", "))
}

/// A further endpoint of a service, with its own work and calls.
#[derive(Clone, Debug)]
pub struct Endpoint {
    name: String,
    service_time: Dist,
    error_rate: Option<f64>,
    calls: Vec<Call>,
}

impl Endpoint {
    /// An endpoint whose work takes `service_time`.
    pub fn new(name: &str, service_time: Dist) -> Endpoint {
        Endpoint {
            name: name.to_owned(),
            service_time,
            error_rate: None,
            calls: Vec::new(),
        }
    }

    /// Probability of an error after the work.
    pub fn error_rate(mut self, rate: f64) -> Endpoint {
        self.error_rate = Some(rate);
        self
    }

    /// Adds a downstream call.
    pub fn call(mut self, call: Call) -> Endpoint {
        self.calls.push(call);
        self
    }

    pub(super) fn ron(&self) -> String {
        let mut fields = vec![
            format!("name: {}", quoted(&self.name)),
            format!("service_time: {}", self.service_time.0),
        ];
        if let Some(r) = self.error_rate {
            fields.push(format!("error_rate: {}", float(r)));
        }
        fields.push(format!("calls: {}", calls_ron(&self.calls)));
        format!("Endpoint({})", fields.join(", "))
    }
}

/// A service (`Service(name: ...)`): replicas of `workers` workers and a queue each.
#[derive(Clone, Debug)]
pub struct Service {
    name: String,
    workers: u32,
    fields: Vec<String>,
    calls: Vec<Call>,
    endpoints: Vec<Endpoint>,
}

impl Service {
    /// A service whose work takes `service_time`, with one worker and no queue until said
    /// otherwise (the format's default queue).
    pub fn new(name: &str, service_time: Dist) -> Service {
        Service {
            name: name.to_owned(),
            workers: 1,
            fields: vec![format!("service_time: {}", service_time.0)],
            calls: Vec::new(),
            endpoints: Vec::new(),
        }
    }

    fn with(mut self, field: &str, value: String) -> Service {
        self.fields.push(format!("{field}: {value}"));
        self
    }

    /// Requests served at once, per replica.
    pub fn workers(mut self, n: u32) -> Service {
        self.workers = n;
        self
    }

    /// Requests that may wait for a worker, per replica (default 0).
    pub fn queue(self, n: u32) -> Service {
        self.with("queue", n.to_string())
    }

    /// A queue without bound.
    pub fn unbounded_queue(self) -> Service {
        self.with("queue", "Unbounded".into())
    }

    /// Replicas (default 1).
    pub fn replicas(self, n: u32) -> Service {
        self.with("replicas", n.to_string())
    }

    /// Probability that a request fails with an error after its local work.
    pub fn error_rate(self, rate: f64) -> Service {
        self.with("error_rate", float(rate))
    }

    /// The worker is released while the request waits for its calls (default: held).
    pub fn async_execution(self) -> Service {
        self.with("execution", "Async".into())
    }

    /// A behaviour registered under `name` with [`Scenario::with_behaviour`] decides each
    /// request's work, calls and answer (`kind: Custom("name")`).
    pub fn custom(self, name: &str) -> Service {
        self.with("kind", format!("Custom({})", quoted(name)))
    }

    /// A field the builder has no method for, written as RON (`ron_field("inbound",
    /// "(shed: QueueLength(max: 50))")`); the loader checks it as in a file.
    pub fn ron_field(self, field: &str, ron: &str) -> Service {
        self.with(field, ron.to_owned())
    }

    /// Where the replicas run (default: spread across zones, or hosts with a single zone).
    pub fn placement(self, placement: Placement) -> Service {
        self.with("placement", placement.ron())
    }

    /// What callers know of the replicas' health (default: `Unchecked`).
    pub fn health(self, health: Health) -> Service {
        self.with("health", health.ron())
    }

    /// How each caller picks a replica (default: round robin).
    pub fn lb(self, lb: Lb) -> Service {
        self.with("lb", lb.ron().into())
    }

    /// Adds a downstream call.
    pub fn call(mut self, call: Call) -> Service {
        self.calls.push(call);
        self
    }

    /// Adds an endpoint.
    pub fn endpoint(mut self, endpoint: Endpoint) -> Service {
        self.endpoints.push(endpoint);
        self
    }

    pub(super) fn ron(&self) -> String {
        let mut fields = vec![
            format!("name: {}", quoted(&self.name)),
            format!("workers: {}", self.workers),
        ];
        fields.extend(self.fields.iter().cloned());
        fields.push(format!("calls: {}", calls_ron(&self.calls)));
        if !self.endpoints.is_empty() {
            let e: Vec<String> = self.endpoints.iter().map(Endpoint::ron).collect();
            fields.push(format!("endpoints: [{}]", e.join(", ")));
        }
        format!("Service({})", fields.join(", "))
    }
}

/// A client (`Client(name: ..., to: ...)`): requests arriving from outside.
#[derive(Clone, Debug)]
pub struct Client {
    name: String,
    to: String,
    arrivals: String,
    /// The client's own timeout, retry and breaker: how the caller outside the system (a
    /// browser, a mobile app, an SDK) gives up and tries again.
    policy: Policy,
    host: Option<String>,
    extra: Vec<String>,
}

impl Client {
    /// Requests to `to` arriving as a Poisson process of `rate_per_s`.
    pub fn poisson(name: &str, to: &str, rate_per_s: f64) -> Client {
        Client {
            name: name.to_owned(),
            to: to.to_owned(),
            arrivals: format!("Poisson(rate_per_s: {})", float(rate_per_s)),
            policy: Policy::new(),
            host: None,
            extra: Vec::new(),
        }
    }

    /// Requests to `to` arriving evenly spaced, `rate_per_s` a second.
    pub fn constant(name: &str, to: &str, rate_per_s: f64) -> Client {
        Client {
            arrivals: format!("Constant(rate_per_s: {})", float(rate_per_s)),
            ..Client::poisson(name, to, 0.0)
        }
    }

    /// The client gives up on an attempt after `d` (`timeout: "2s"`): an impatient caller.
    pub fn timeout(mut self, d: &str) -> Client {
        self.policy = self.policy.timeout(d);
        self
    }

    /// The client retries failed attempts (`retry: (...)`): the amplifier of a retry storm.
    pub fn retry(mut self, retry: Retry) -> Client {
        self.policy = self.policy.retry(retry);
        self
    }

    /// A circuit breaker in the client (`breaker: (...)`).
    pub fn breaker(mut self, breaker: Breaker) -> Client {
        self.policy = self.policy.breaker(breaker);
        self
    }

    /// A bulkhead in the client.
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Client {
        self.policy = self.policy.bulkhead(bulkhead);
        self
    }

    /// Every policy field at once (replaces those set before).
    pub fn policy(mut self, policy: Policy) -> Client {
        self.policy = policy;
        self
    }

    /// A field the builder has no method for, written as RON (`ron_field("profile",
    /// "[Step(at: \"60s\", rate_per_s: 500.0)]")`); the loader checks it as in a file.
    pub fn ron_field(mut self, field: &str, ron: &str) -> Client {
        self.extra.push(format!("{field}: {ron}"));
        self
    }

    /// The host its requests leave from (default: the topology's first).
    pub fn host(mut self, host: &str) -> Client {
        self.host = Some(host.to_owned());
        self
    }

    pub(super) fn ron(&self) -> String {
        let mut fields = vec![
            format!("name: {}", quoted(&self.name)),
            format!("to: {}", quoted(&self.to)),
            format!("arrivals: {}", self.arrivals),
        ];
        if let Some(h) = &self.host {
            fields.push(format!("host: {}", quoted(h)));
        }
        fields.extend(self.policy.fields());
        fields.extend(self.extra.iter().cloned());
        format!("Client({})", fields.join(", "))
    }
}
