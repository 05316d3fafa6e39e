//! Operations on a running system: what operators and their automation do while it serves.
//! Today: mid-run configuration changes ([`Change`]), rolled out to the replicas of the service
//! whose state they change, and autoscalers ([`hpa`]). The world applies them in
//! `world/changes.rs` and `world/autoscale.rs`; a scenario without an `changes` or `autoscale`
//! section has an empty [`Operations`] and runs exactly as before.

pub mod hpa;
pub mod rollout;
pub mod serverless;

use sim_core::{Distribution, SimDuration, SimTime};

use crate::config::{CallPolicy, ClientId, ServiceId};
use crate::policy::ratelimit::RateLimitConfig;

/// Everything scripted or automated that acts on the world while it runs.
#[derive(Clone, Debug, Default)]
pub struct Operations {
    /// Mid-run changes, in the order they happen (ties in file order).
    pub changes: Vec<Change>,
    /// Per service at most one autoscaler, in service order.
    pub autoscalers: Vec<hpa::AutoscalerConfig>,
    /// Kubernetes probes, per service that has them.
    pub probes: Vec<ProbesConfig>,
    /// Deployments of new versions, per service at most one (`rollout.rs`).
    pub rollouts: Vec<Deployment>,
    /// Serverless functions (`serverless.rs`), in service order.
    pub functions: Vec<serverless::FunctionConfig>,
}

/// A service's new version and how it is rolled out.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub rollout: rollout::RolloutConfig,
    /// What the new version's replicas run and have.
    pub new: VersionConfig,
}

/// One version of a service: its work on each endpoint and the resources of each of its
/// replicas (the stable version's are the service's own).
#[derive(Clone, Debug)]
pub struct VersionConfig {
    /// Per endpoint in the service's order, its own first.
    pub endpoints: Vec<EndpointWork>,
    /// Requests served at once and places in the queue, per replica.
    pub workers: u32,
    pub queue: u32,
}

/// An endpoint's own work: its service time and error rate.
#[derive(Clone, Debug)]
pub struct EndpointWork {
    pub service_time: Distribution,
    pub error_rate: f64,
}

/// A service's liveness and readiness probes (Kubernetes semantics: a probe every `period`,
/// failed when the process does not answer within `timeout`; `failure_threshold` failures in a
/// row restart the container (liveness) or take it out of the endpoints (readiness, back after
/// one success)).
#[derive(Clone, Debug)]
pub struct ProbesConfig {
    pub service: ServiceId,
    pub liveness: Option<ProbeConfig>,
    pub readiness: Option<ProbeConfig>,
    /// From the liveness kill until the new process runs.
    pub restart: SimDuration,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeConfig {
    pub period: SimDuration,
    pub timeout: SimDuration,
    pub failure_threshold: u32,
}

impl Operations {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.autoscalers.is_empty()
            && self.probes.is_empty()
            && self.rollouts.is_empty()
            && self.functions.is_empty()
    }
}

/// One `--set PATH=VALUE` made at a simulated time: "we changed the timeout at 10:02".
#[derive(Clone, Debug)]
pub struct Change {
    pub at: SimTime,
    /// A control-plane rollout: replica `k` of a service's `n` gets the change at
    /// `at + rollout * k / (n - 1)`, the first at `at` and the last at `at + rollout`.
    pub rollout: SimDuration,
    /// `PATH = VALUE`, as written.
    pub description: String,
    /// What the change does to the running state; one path can change many things (a default
    /// policy reaches every call that inherits it).
    pub actions: Vec<ChangeAction>,
}

impl Change {
    /// When replica `k` of `n` receives the change.
    pub fn at_replica(&self, k: u32, n: u32) -> SimTime {
        if n <= 1 || self.rollout == SimDuration::ZERO {
            return self.at;
        }
        let ns = u128::from(self.rollout.as_nanos()) * u128::from(k) / u128::from(n - 1);
        self.at + SimDuration::from_nanos(ns as u64)
    }
}

/// One piece of running state a change replaces.
#[derive(Clone, Debug)]
pub enum ChangeAction {
    /// A call of a service's plan (`endpoint` 0 is the service's own plan): the caller's policy
    /// for it and the probability that it is made (0: turned off by a kill switch).
    Call {
        service: ServiceId,
        endpoint: u16,
        call: u16,
        policy: Box<CallPolicy>,
        probability: f64,
    },
    /// An open-loop client's policy.
    Client {
        client: ClientId,
        policy: Box<CallPolicy>,
    },
    /// An endpoint's own work.
    Work {
        service: ServiceId,
        endpoint: u16,
        service_time: Distribution,
        error_rate: f64,
    },
    /// A service's inbound rate limiter, started afresh (or removed) on each replica.
    RateLimit {
        service: ServiceId,
        rate_limit: Option<RateLimitConfig>,
    },
}

impl ChangeAction {
    /// The service whose replicas hold the state (a client's change: none).
    pub fn service(&self) -> Option<ServiceId> {
        match self {
            ChangeAction::Call { service, .. }
            | ChangeAction::Work { service, .. }
            | ChangeAction::RateLimit { service, .. } => Some(*service),
            ChangeAction::Client { .. } => None,
        }
    }
}

/// What the operations did in a run; empty when the scenario has none.
#[derive(Clone, Debug, Default)]
pub struct OpsReport {
    pub autoscalers: Vec<AutoscaleReport>,
    pub rollouts: Vec<RolloutReport>,
    pub functions: Vec<serverless::FunctionReport>,
}

/// One service's rollout over the run.
#[derive(Clone, Debug)]
pub struct RolloutReport {
    pub service: String,
    /// `rolling_update`, `blue_green` or `canary`.
    pub strategy: &'static str,
    pub at: SimTime,
    pub desired: u32,
    /// [stable, new]: the attempts each version's replicas answered or failed.
    pub versions: [VersionReport; 2],
    /// (time, percent of requests to the new version, stable replicas ready, new ready), at
    /// every instant that changed them, starting at 0.
    pub weights: Vec<(SimTime, f64, u32, u32)>,
    /// The controller's steps, measurements and decisions, in time order.
    pub timeline: Vec<(SimTime, rollout::Entry)>,
    /// `pending`, `progressing`, `completed` or `aborted` at the end of the run.
    pub phase: &'static str,
    /// Attempts the new version failed before the rollout was aborted (all of them if it
    /// never was): the damage done before the rollback.
    pub failed_before_rollback: u64,
}

#[derive(Clone, Debug, Default)]
pub struct VersionReport {
    pub name: String,
    /// Each replica's workers and queue places.
    pub workers: u32,
    pub queue: u32,
    pub requests: u64,
    pub failed: u64,
}

/// One service's autoscaler over the run.
#[derive(Clone, Debug)]
pub struct AutoscaleReport {
    pub service: String,
    /// `kubernetes` or `target_tracking`.
    pub flavor: &'static str,
    pub metric: &'static str,
    pub target: f64,
    pub min: u32,
    pub max: u32,
    /// The syncs that scaled, or whose formula asked for a change that stabilization, a
    /// rate limit or a bound held back, in time order (at most [`MAX_DECISIONS`]).
    pub decisions: Vec<hpa::Decision>,
    /// Syncs beyond [`MAX_DECISIONS`] not kept.
    pub decisions_dropped: u64,
    /// Every change of the replica counts: (time, ready, all that cost: starting, ready and
    /// draining), starting with the count at 0.
    pub replicas: Vec<(SimTime, u32, u32)>,
    /// Replica-seconds paid for: starting, ready or draining.
    pub replica_seconds: f64,
    /// Sync periods whose metric was above the target's tolerance band (more replicas
    /// wanted), and below it with more than `min` replicas (fewer would do).
    pub under_provisioned: SimDuration,
    pub over_provisioned: SimDuration,
}

/// Decisions an autoscaler report keeps.
pub const MAX_DECISIONS: usize = 10_000;
