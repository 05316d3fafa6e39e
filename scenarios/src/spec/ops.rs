//! The operations sections of a scenario: mid-run changes.

use serde::Deserialize;

use crate::duration::Duration;

/// A `--set PATH=VALUE` made at a simulated time:
/// `(at: "60s", set: "edges.checkout->recommendations.probability", to: 0)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub at: Duration,
    /// A `--set` path (README, "Parameter overrides").
    pub set: String,
    /// Its value, as `--set` would take it: a string, or a number or `true`/`false`.
    pub to: ChangeValue,
    /// Spread the change over the replicas that hold its state: the first gets it at `at`,
    /// the last at `at + rollout` (default: all at once).
    #[serde(default)]
    pub rollout: Option<Duration>,
}

/// A change's value: written as a string, a number or a boolean.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ChangeValue {
    Flag(bool),
    Number(f64),
    Text(String),
}

impl ChangeValue {
    /// The value as `--set` takes it.
    pub fn text(&self) -> String {
        match self {
            ChangeValue::Flag(b) => b.to_string(),
            ChangeValue::Number(n) => n.to_string(),
            ChangeValue::Text(t) => t.clone(),
        }
    }
}

/// A service's autoscaler: `autoscale: (min: 2, max: 10, metric: Utilisation, target: 0.6)`.
/// Defaults follow the Kubernetes HPA (README, "Operations").
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Autoscale {
    pub min: u32,
    pub max: u32,
    #[serde(default)]
    pub metric: AutoscaleMetric,
    /// The metric's target per ready replica (utilisation from 0 to 1).
    pub target: f64,
    #[serde(default)]
    pub flavor: AutoscaleFlavor,
    #[serde(default)]
    pub tolerance: Option<f64>,
    #[serde(default)]
    pub sync_period: Option<Duration>,
    #[serde(default)]
    pub scale_up_stabilization: Option<Duration>,
    #[serde(default)]
    pub scale_down_stabilization: Option<Duration>,
    /// From the decision until the process starts (default 0), then until it is ready
    /// (default 0): a new replica takes traffic only when both are over.
    #[serde(default)]
    pub provisioning: Option<Duration>,
    #[serde(default)]
    pub cold_start: Option<Duration>,
    /// Kubernetes `behavior.scaleUp` and `behavior.scaleDown` policies (default: the
    /// default behavior).
    #[serde(default)]
    pub scale_up: Option<ScalingRules>,
    #[serde(default)]
    pub scale_down: Option<ScalingRules>,
}

/// `(policies: [Pods(4, "15s"), Percent(100, "15s")], select: Max)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingRules {
    #[serde(default)]
    pub policies: Vec<ScalingPolicy>,
    #[serde(default)]
    pub select: SelectPolicy,
}

/// At most this many replicas, or this percent of them, per period.
#[derive(Clone, Debug, Deserialize)]
pub enum ScalingPolicy {
    Pods(u32, Duration),
    Percent(u32, Duration),
}

/// Which policy applies: the largest change (default), the smallest, or no scaling.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
pub enum SelectPolicy {
    #[default]
    Max,
    Min,
    Disabled,
}

/// What an autoscaler measures, averaged over the ready replicas.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
pub enum AutoscaleMetric {
    #[default]
    Utilisation,
    InFlight,
    QueueLength,
    RequestRate,
}

/// Kubernetes HPA (default) or AWS target tracking with its cooldowns.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum AutoscaleFlavor {
    #[default]
    Kubernetes,
    TargetTracking {
        #[serde(default)]
        scale_out_cooldown: Option<Duration>,
        #[serde(default)]
        scale_in_cooldown: Option<Duration>,
    },
}

/// Kubernetes probes of a service's replicas, run by each replica's kubelet:
/// `probes: (liveness: (period: "10s", timeout: "1s", failure_threshold: 3), restart: "5s")`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probes {
    /// Restarts the process after `failure_threshold` failures in a row.
    #[serde(default)]
    pub liveness: Option<Probe>,
    /// Takes the replica out of the load balancers while it fails, back after one success.
    #[serde(default)]
    pub readiness: Option<Probe>,
    /// How long a restart takes, until the new process runs (default 5s).
    #[serde(default)]
    pub restart: Option<Duration>,
}

/// One probe; defaults are Kubernetes': period 10s, timeout 1s, failure threshold 3.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    #[serde(default)]
    pub period: Option<Duration>,
    #[serde(default)]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub failure_threshold: Option<u32>,
}
