//! A service's versions and the rollout of a new one (README, "Deployments").

use serde::Deserialize;

use super::{Distribution, QueueSize};
use crate::duration::Duration;

/// One version of a service's code: its own work and the resources of each of its replicas;
/// what it does not say is the service's.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    pub name: String,
    /// The work of the service's own endpoint.
    #[serde(default)]
    pub service_time: Option<Distribution>,
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Requests each replica of this version serves at once.
    #[serde(default)]
    pub workers: Option<u32>,
    /// Places in each replica's queue: a number or `Unbounded`.
    #[serde(default)]
    pub queue: Option<QueueSize>,
    /// The work of the service's other endpoints, by name.
    #[serde(default)]
    pub endpoints: Vec<VersionEndpoint>,
}

/// A version's work on one endpoint of the service: `(name: "search", service_time: ...)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionEndpoint {
    pub name: String,
    #[serde(default)]
    pub service_time: Option<Distribution>,
    #[serde(default)]
    pub error_rate: Option<f64>,
}

/// `rollout: (version: "v2", at: "60s", strategy: Canary(steps: [SetWeight(10), Pause("1m")]),
/// analysis: (interval: "10s", availability: 0.99))`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    pub version: String,
    pub at: Duration,
    pub strategy: Strategy,
    /// From a replica's start until it is ready and takes traffic (default 10s, a Kubernetes
    /// readiness probe's default period).
    #[serde(default)]
    pub ready_after: Option<Duration>,
    #[serde(default)]
    pub analysis: Option<Analysis>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Strategy {
    /// Kubernetes' defaults: 25 % of the replicas each, surge rounded up, unavailable down.
    RollingUpdate {
        #[serde(default)]
        max_surge: Option<u32>,
        #[serde(default)]
        max_unavailable: Option<u32>,
    },
    /// Argo's defaults: promoted as soon as the new replicas are ready, old ones kept 30s.
    BlueGreen {
        #[serde(default)]
        auto_promotion_after: Option<Duration>,
        #[serde(default)]
        scale_down_delay: Option<Duration>,
    },
    Canary {
        steps: Vec<Step>,
        #[serde(default)]
        scale_down_delay: Option<Duration>,
    },
}

#[derive(Clone, Debug, Deserialize)]
pub enum Step {
    SetWeight(u32),
    Pause(Duration),
}

/// The success condition of every measurement; thresholds left out are not checked.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    pub interval: Duration,
    #[serde(default)]
    pub availability: Option<f64>,
    #[serde(default)]
    pub p99: Option<Duration>,
    #[serde(default)]
    pub max_availability_drop: Option<f64>,
    #[serde(default)]
    pub max_p99_ratio: Option<f64>,
    /// Failed measurements tolerated; one more aborts (Argo's default 0).
    #[serde(default)]
    pub failure_limit: u32,
    /// Fewer requests than this in an interval: inconclusive (default 1).
    #[serde(default)]
    pub min_requests: Option<u64>,
}
