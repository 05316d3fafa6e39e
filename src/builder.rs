//! A typed builder for scenarios, with the words of the RON format: what it builds is RON text,
//! read and checked by the same loader as a file, so a builder scenario runs exactly as the
//! equivalent file and a mistake gets the same message (placed in [`ScenarioBuilder::ron`]).
//!
//! Covered: services (workers, queue, replicas, service time, error rate, execution, calls,
//! endpoints, custom behaviour), calls (endpoint, probability, timeout, retry with backoff,
//! Resilience4j circuit breaker), the default call policy, clients (Poisson or constant
//! rate; timeout, retry, breaker), the network's latency and loss, latency / error /
//! black-hole / crash / load-spike faults, and expectations. Not covered (write RON with
//! [`Scenario::from_ron`] for them; the README lists them, most used first): topology and
//! placement, stores, brokers, clocks, autoscaling, cold starts, shedding, fallbacks, hedging,
//! deadlines, health checks, probes, load balancing, bulkheads, rate limiters, databases,
//! records, changes, swarm, parallel and `one_of` call groups, clients' endpoint mixes and load
//! profiles, chaos, leak and link faults.

use std::fmt::Write;

use crate::{Error, Expect, Scenario};
use scenarios::spec::{Expectation, Over};

/// A RON string literal.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A RON float: always with a point or an exponent, as the format wants.
fn float(x: f64) -> String {
    format!("{x:?}")
}

/// A duration distribution: how long a service's work, or the network, takes.
#[derive(Clone, Debug)]
pub struct Dist(String);

impl Dist {
    /// Always `value` (`"5ms"`).
    pub fn constant(value: &str) -> Dist {
        Dist(format!("Constant(value: {})", quoted(value)))
    }

    /// Exponential with this mean: the memoryless service of queueing theory.
    pub fn exponential(mean: &str) -> Dist {
        Dist(format!("Exponential(mean: {})", quoted(mean)))
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

/// The policy fields a call, and `policies.default`, may carry.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    timeout: Option<String>,
    retry: Option<Retry>,
    breaker: Option<Breaker>,
}

impl Policy {
    /// No timeout, retry or breaker.
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

    fn fields(&self) -> Vec<String> {
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
        fields
    }
}

/// A downstream call (`Call(to: ...)`), made after the local work, one after another.
#[derive(Clone, Debug)]
pub struct Call {
    to: String,
    endpoint: Option<String>,
    probability: Option<f64>,
    policy: Policy,
}

impl Call {
    /// A call to the service `to`.
    pub fn to(to: &str) -> Call {
        Call {
            to: to.to_owned(),
            endpoint: None,
            probability: None,
            policy: Policy::default(),
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
        self.policy.timeout = Some(d.to_owned());
        self
    }

    /// Retries of failed attempts.
    pub fn retry(mut self, retry: Retry) -> Call {
        self.policy.retry = Some(retry);
        self
    }

    /// A circuit breaker on this call.
    pub fn breaker(mut self, breaker: Breaker) -> Call {
        self.policy.breaker = Some(breaker);
        self
    }

    fn ron(&self) -> String {
        let mut fields = vec![format!("to: {}", quoted(&self.to))];
        if let Some(e) = &self.endpoint {
            fields.push(format!("endpoint: {}", quoted(e)));
        }
        if let Some(p) = self.probability {
            fields.push(format!("probability: {}", float(p)));
        }
        fields.extend(self.policy.fields());
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

    fn ron(&self) -> String {
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

    fn ron(&self) -> String {
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
}

impl Client {
    /// Requests to `to` arriving as a Poisson process of `rate_per_s`.
    pub fn poisson(name: &str, to: &str, rate_per_s: f64) -> Client {
        Client {
            name: name.to_owned(),
            to: to.to_owned(),
            arrivals: format!("Poisson(rate_per_s: {})", float(rate_per_s)),
            policy: Policy::new(),
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

    fn ron(&self) -> String {
        let mut fields = vec![
            format!("name: {}", quoted(&self.name)),
            format!("to: {}", quoted(&self.to)),
            format!("arrivals: {}", self.arrivals),
        ];
        fields.extend(self.policy.fields());
        format!("Client({})", fields.join(", "))
    }
}

/// A scripted fault (`faults:`); times are from the start of the run (`"2m"`).
#[derive(Clone, Debug)]
pub struct Fault(String);

impl Fault {
    /// The service's work takes `multiply` times as long from `from` to `to`.
    pub fn latency(service: &str, multiply: f64, from: &str, to: &str) -> Fault {
        Fault(format!(
            "Latency(service: {}, multiply: {}, from: {}, to: {})",
            quoted(service),
            float(multiply),
            quoted(from),
            quoted(to)
        ))
    }

    /// A share `rate` of the service's requests fail from `from` to `to`.
    pub fn errors(service: &str, rate: f64, from: &str, to: &str) -> Fault {
        Fault(format!(
            "Errors(service: {}, rate: {}, from: {}, to: {})",
            quoted(service),
            float(rate),
            quoted(from),
            quoted(to)
        ))
    }

    /// The service swallows requests without answering from `from` to `to`.
    pub fn black_hole(service: &str, from: &str, to: &str) -> Fault {
        Fault(format!(
            "BlackHole(service: {}, from: {}, to: {})",
            quoted(service),
            quoted(from),
            quoted(to)
        ))
    }

    /// The client's arrival rate is `multiply` times its rate from `from` to `to` (a flash
    /// crowd, a batch job, a retrying fleet elsewhere).
    pub fn load_spike(client: &str, multiply: f64, from: &str, to: &str) -> Fault {
        Fault(format!(
            "LoadSpike(client: {}, multiply: {}, from: {}, to: {})",
            quoted(client),
            float(multiply),
            quoted(from),
            quoted(to)
        ))
    }

    /// Every replica of the service crashes at `at` and restarts `restart_after` later.
    pub fn crash(service: &str, at: &str, restart_after: &str) -> Fault {
        Fault(format!(
            "Crash(target: Service({}), at: {}, restart_after: {})",
            quoted(service),
            quoted(at),
            quoted(restart_after)
        ))
    }
}

/// A scenario written in Rust: `ScenarioBuilder::new("shop", "10m").service(...).build()`.
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    name: String,
    duration: String,
    services: Vec<Service>,
    clients: Vec<Client>,
    faults: Vec<Fault>,
    network: Vec<String>,
    default_policy: Option<Policy>,
    expect: Vec<Expect>,
}

impl ScenarioBuilder {
    /// A scenario named `name` that runs `duration` of simulated time (`"10m"`).
    pub fn new(name: &str, duration: &str) -> ScenarioBuilder {
        ScenarioBuilder {
            name: name.to_owned(),
            duration: duration.to_owned(),
            services: Vec::new(),
            clients: Vec::new(),
            faults: Vec::new(),
            network: Vec::new(),
            default_policy: None,
            expect: Vec::new(),
        }
    }

    /// Adds a service.
    pub fn service(mut self, service: Service) -> ScenarioBuilder {
        self.services.push(service);
        self
    }

    /// Adds a client.
    pub fn client(mut self, client: Client) -> ScenarioBuilder {
        self.clients.push(client);
        self
    }

    /// Adds a fault.
    pub fn fault(mut self, fault: Fault) -> ScenarioBuilder {
        self.faults.push(fault);
        self
    }

    /// The latency of every message between hosts (default: none).
    pub fn network_latency(mut self, latency: Dist) -> ScenarioBuilder {
        self.network.push(format!("latency: {}", latency.0));
        self
    }

    /// The probability that a message is lost.
    pub fn network_loss(mut self, loss: f64) -> ScenarioBuilder {
        self.network.push(format!("loss: {}", float(loss)));
        self
    }

    /// The policy of every call that sets no field of its own (`policies: (default: ...)`).
    pub fn default_policy(mut self, policy: Policy) -> ScenarioBuilder {
        self.default_policy = Some(policy);
        self
    }

    /// Adds an expectation, judged by [`crate::check`].
    pub fn expect(mut self, expect: Expect) -> ScenarioBuilder {
        self.expect.push(expect);
        self
    }

    /// The scenario as RON text, what a file with the same scenario would hold.
    pub fn ron(&self) -> Result<String, Error> {
        let mut out = String::new();
        let list = |items: Vec<String>| format!("[\n        {},\n    ]", items.join(",\n        "));
        let _ = writeln!(out, "Scenario(");
        let _ = writeln!(out, "    version: 1,");
        let _ = writeln!(out, "    name: {},", quoted(&self.name));
        let _ = writeln!(out, "    duration: {},", quoted(&self.duration));
        let services = self.services.iter().map(Service::ron).collect();
        let _ = writeln!(out, "    services: {},", list(services));
        let clients = self.clients.iter().map(Client::ron).collect();
        let _ = writeln!(out, "    clients: {},", list(clients));
        if !self.network.is_empty() {
            let _ = writeln!(out, "    network: ({}),", self.network.join(", "));
        }
        if let Some(p) = &self.default_policy {
            let _ = writeln!(out, "    policies: (default: ({})),", p.fields().join(", "));
        }
        if !self.faults.is_empty() {
            let faults = self.faults.iter().map(|f| f.0.clone()).collect();
            let _ = writeln!(out, "    faults: {},", list(faults));
        }
        if !self.expect.is_empty() {
            let expect = self
                .expect
                .iter()
                .map(|e| e.expectation.clone().map(|e| expectation_ron(&e)))
                .collect::<Result<Vec<String>, String>>()
                .map_err(Error::new)?;
            let _ = writeln!(out, "    expect: {},", list(expect));
        }
        out.push_str(")\n");
        Ok(out)
    }

    /// Reads and checks the scenario as the loader reads a file named `NAME.ron`: errors name
    /// a line and column of [`ScenarioBuilder::ron`].
    pub fn build(&self) -> Result<Scenario, Error> {
        Scenario::from_ron(format!("{}.ron", self.name), &self.ron()?)
    }
}

fn over(over: Over) -> &'static str {
    match over {
        Over::Worst => "Worst",
        Over::Mean => "Mean",
    }
}

fn expectation_ron(e: &Expectation) -> String {
    match e {
        Expectation::Availability {
            of,
            at_least,
            over: o,
        } => format!(
            "Availability(of: {}, at_least: {}, over: {})",
            quoted(of),
            float(*at_least),
            over(*o)
        ),
        Expectation::Latency {
            of,
            quantile,
            at_most,
            over: o,
        } => format!(
            "Latency(of: {}, quantile: {}, at_most: \"{}ns\", over: {})",
            quoted(of),
            float(*quantile),
            at_most.0.as_nanos(),
            over(*o)
        ),
        Expectation::Amplification {
            of,
            at_most,
            over: o,
        } => format!(
            "Amplification(of: {}, at_most: {}, over: {})",
            quoted(of),
            float(*at_most),
            over(*o)
        ),
        Expectation::NoCascadeInto { service } => {
            format!("NoCascadeInto(service: {})", quoted(service))
        }
        Expectation::RecoveryWithin { within } => {
            format!("RecoveryWithin(within: \"{}ns\")", within.0.as_nanos())
        }
        Expectation::NoDuplicateSideEffects { service } => {
            format!("NoDuplicateSideEffects(service: {})", quoted(service))
        }
    }
}
