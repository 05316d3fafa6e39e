//! A serverless service (AWS Lambda semantics): instances created on demand.

use serde::Deserialize;

use super::Distribution;
use crate::duration::Duration;

/// `serverless: (cold_start: LogNormal(median: "250ms", p99: "1s"), keep_warm: "10m",
/// provisioned: 0, max_instances: 100)` on a service: each instance serves `workers` requests
/// at once (Lambda: 1), starts cold when a request finds none free, is reclaimed after
/// `keep_warm` idle; beyond `max_instances` a request is throttled.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serverless {
    /// A new instance's init phase, before it serves.
    pub cold_start: Distribution,
    /// How long an idle on-demand instance stays warm (default 10 minutes).
    #[serde(default)]
    pub keep_warm: Option<Duration>,
    /// Instances initialised before the run and always warm (provisioned concurrency;
    /// default 0).
    #[serde(default)]
    pub provisioned: u32,
    /// Instances at once at most: the reserved concurrency, or the account's (default 1,000,
    /// Lambda's default account quota).
    #[serde(default)]
    pub max_instances: Option<u32>,
}
