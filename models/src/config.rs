//! The validated description of a world, as built by the `scenarios` crate.
//!
//! Ids are dense indices into the vectors of [`WorldConfig`]; the scenario loader guarantees
//! they are in range and that the call graph is acyclic, and [`crate::World::new`] asserts it.

use sim_core::{Distribution, SimDuration, SimTime};

/// Index of a service in [`WorldConfig::services`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(pub u32);

/// Index of a client in [`WorldConfig::clients`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u32);

/// Everything a run needs besides the seed.
#[derive(Clone, Debug)]
pub struct WorldConfig {
    pub name: String,
    pub duration: SimDuration,
    pub services: Vec<ServiceConfig>,
    pub clients: Vec<ClientConfig>,
    pub network: NetworkConfig,
    pub faults: Vec<Fault>,
    /// Width of the windows of the time series.
    pub window: SimDuration,
    /// The run stops after this many events, with a partial report.
    pub max_events: u64,
}

/// How a service's workers wait for downstream calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Execution {
    /// The worker stays held while its request waits for downstream calls (a classic servlet
    /// thread pool): slow dependencies exhaust the caller's workers.
    #[default]
    ThreadPerRequest,
    /// The worker is released when the request starts waiting on downstream calls; the reply is
    /// sent when the last call returns, without needing a worker again.
    Async,
}

#[derive(Clone, Debug)]
pub struct ServiceConfig {
    pub name: String,
    /// Requests served at once.
    pub workers: u32,
    /// Requests that may wait for a worker; an arrival that finds the queue full is rejected.
    pub queue: u32,
    pub service_time: Distribution,
    /// Probability that a request fails with an error after its local work.
    pub error_rate: f64,
    pub execution: Execution,
    /// Downstream calls made, in order, after the local work and before replying.
    pub calls: Vec<CallConfig>,
    /// What healthy means for this service, for the reports' health and cascade analysis.
    pub objective: Objective,
}

/// What healthy means for a service or client in one window of the time series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective {
    /// The lowest acceptable share of successful requests (default 0.99).
    pub availability: f64,
    /// The highest acceptable 99th-percentile latency; `None` derives it from the run's
    /// pre-fault behaviour (see the reports crate).
    pub latency_p99: Option<SimDuration>,
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            availability: 0.99,
            latency_p99: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct CallConfig {
    pub to: ServiceId,
    pub policy: CallPolicy,
}

/// What a caller does around each call on one edge.
#[derive(Clone, Debug, Default)]
pub struct CallPolicy {
    /// Per-attempt timeout; `None` waits forever.
    pub timeout: Option<SimDuration>,
    pub retry: Option<Retry>,
}

/// Retry of failed attempts (every failure cause is retryable, as in Resilience4j's default).
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// Attempts in total, including the first call (Resilience4j `maxAttempts`, AWS
    /// `max_attempts`); at least 1.
    pub max_attempts: u32,
    pub backoff: Backoff,
}

/// The wait before retry `n` (n = 1 for the first retry), following the AWS Architecture Blog
/// "Exponential Backoff And Jitter" and its simulator: `expo(n) = min(cap, base * 2^n)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Backoff {
    /// Retry at once.
    None,
    /// Always the same wait.
    Constant(SimDuration),
    /// `expo(n)`.
    Exponential { base: SimDuration, cap: SimDuration },
    /// `Uniform(0, expo(n))`.
    FullJitter { base: SimDuration, cap: SimDuration },
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub name: String,
    pub to: ServiceId,
    pub arrivals: Arrivals,
    pub policy: CallPolicy,
    pub objective: Objective,
}

/// Open-loop arrival processes.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// Exponential inter-arrival times with the given rate.
    Poisson { rate_per_s: f64 },
    /// Evenly spaced arrivals at the given rate, the first at time 0.
    Constant { rate_per_s: f64 },
}

/// The network between callers and callees.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// One-way latency, drawn independently for the request and for the reply.
    pub latency: Distribution,
}

impl Fault {
    /// The service the fault acts on.
    pub fn service(&self) -> ServiceId {
        match *self {
            Fault::Latency { service, .. } => service,
        }
    }

    /// When the fault starts and ends.
    pub fn active(&self) -> (SimTime, SimTime) {
        match *self {
            Fault::Latency { from, to, .. } => (from, to),
        }
    }

    /// A short name for reports: `latency`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Latency { .. } => "latency",
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            latency: Distribution::Constant(SimDuration::ZERO),
        }
    }
}

/// A scripted fault.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The service time of requests that start at `from <= t < to` at `service` is multiplied
    /// by `multiply`.
    Latency {
        service: ServiceId,
        multiply: f64,
        from: SimTime,
        to: SimTime,
    },
}
