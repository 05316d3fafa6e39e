//! Deployments: a service's new version rolled out by a strategy, as a pure state machine the
//! world asks what it wants (`reconcile`) and tells what it measured (`judge`). It schedules
//! nothing and draws nothing; `world/rollout.rs` starts and drains the replicas, routes the
//! traffic and measures each version's own requests.
//!
//! The strategies follow their sources:
//! - `RollingUpdate` is the Kubernetes Deployment controller's rolling update
//!   (kubernetes.io/docs/concepts/workloads/controllers/deployment, "Rolling Update Deployment";
//!   `pkg/controller/deployment/rolling.go`): the new replicas grow while all replicas stay
//!   within `desired + maxSurge`, and old ones are removed only while the ready replicas stay at
//!   least `desired - maxUnavailable`. A replica counts as ready, and takes traffic, only once
//!   its readiness delay is over; traffic goes to every ready replica of either version.
//! - `BlueGreen` is Argo Rollouts' blue/green (argo-rollouts.readthedocs.io, "BlueGreen
//!   Deployment Strategy"): the new version's replicas come up beside the old ones behind the
//!   preview service and take no traffic; when all are ready (and `autoPromotionSeconds` later)
//!   the active service switches to them at once; the old replicas stay up for
//!   `scaleDownDelaySeconds` (default 30 s), during which a failed analysis switches back.
//! - `Canary` is Argo Rollouts' canary with traffic routing ("Canary Deployment Strategy",
//!   "Traffic Management"): `setWeight` steps scale the canary to `ceil(desired * weight / 100)`
//!   replicas and, once they are ready, send that share of the requests to them; `pause` steps
//!   wait; after the last step the canary is scaled to `desired`, gets all traffic, and the old
//!   replicas go after `scaleDownDelaySeconds`. A background analysis ("Analysis & Progressive
//!   Delivery") measures the canary every `interval`; a measurement fails when its
//!   `successCondition` does not hold, and the analysis fails when the failed measurements
//!   exceed `failureLimit` (default 0: the first failure). A failed analysis aborts the rollout:
//!   the weight returns to 0 at once and the canary is scaled down, leaving the stable version.
//!
//! Not modelled: `maxSurge`/`maxUnavailable` as percentages, Argo's `dynamicStableScale`,
//! `abortScaleDownDelaySeconds` (the canary's replicas go at once after an abort, drained),
//! indefinite pauses and manual promotion, analysis templates with `count` and `inconclusiveLimit`
//! (a measurement with too few requests is inconclusive and counts neither way).

use sim_core::{SimDuration, SimTime};

use crate::config::ServiceId;

/// A service's deployment of `version` over its `stable` one.
#[derive(Clone, Debug)]
pub struct RolloutConfig {
    pub service: ServiceId,
    pub stable: String,
    pub version: String,
    /// When the new version is released.
    pub at: SimTime,
    /// Replicas the service runs when no rollout is in progress (an autoscaler changes it:
    /// [`Rollout::set_desired`]).
    pub desired: u32,
    /// From a replica's start until its readiness probe first passes and it may take traffic.
    pub ready_after: SimDuration,
    pub strategy: Strategy,
    pub analysis: Option<AnalysisConfig>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    RollingUpdate {
        max_surge: u32,
        max_unavailable: u32,
    },
    BlueGreen {
        /// From all new replicas ready until the switch (`autoPromotionSeconds`; 0: at once).
        auto_promotion_after: SimDuration,
        scale_down_delay: SimDuration,
    },
    Canary {
        steps: Vec<Step>,
        scale_down_delay: SimDuration,
    },
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::RollingUpdate { .. } => "rolling_update",
            Strategy::BlueGreen { .. } => "blue_green",
            Strategy::Canary { .. } => "canary",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// Percent of the requests to the canary, 0 to 100.
    SetWeight(u32),
    Pause(SimDuration),
}

/// The analysis's success condition: every threshold given must hold on the new version's own
/// requests of the last interval (absolute thresholds, and relative to the stable version's
/// requests of the same interval).
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisConfig {
    pub interval: SimDuration,
    pub availability: Option<f64>,
    pub p99: Option<SimDuration>,
    /// The new version's availability may be lower than the stable one's by at most this.
    pub max_availability_drop: Option<f64>,
    /// The new version's p99 may be at most this multiple of the stable one's.
    pub max_p99_ratio: Option<f64>,
    pub failure_limit: u32,
    /// Fewer requests than this in an interval: the measurement is inconclusive.
    pub min_requests: u64,
}

/// What the world sees of the service's replicas: present means starting or ready (not
/// draining, not absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub old_present: u32,
    pub old_ready: u32,
    pub new_present: u32,
    pub new_ready: u32,
}

/// What the rollout wants: replicas of each version (the world starts or drains to reach them)
/// and how requests are routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub old: u32,
    pub new: u32,
    pub route: Route,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Every ready replica of either version (a Kubernetes Service over both ReplicaSets).
    Ready,
    /// This percent of the requests to the new version's ready replicas, the rest to the old.
    Weight(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Before the release.
    Pending,
    Progressing,
    /// The new version serves everything; the old replicas wait for the scale-down delay.
    Promoting {
        scale_down_at: SimTime,
    },
    Completed,
    Aborted,
}

/// One interval's requests of one version, as the callers saw them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    pub requests: u64,
    pub failed: u64,
    pub p99: Option<SimDuration>,
}

impl Sample {
    pub fn availability(&self) -> Option<f64> {
        (self.requests > 0).then(|| 1.0 - self.failed as f64 / self.requests as f64)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
    Inconclusive,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// One line of the rollout's timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Started,
    /// A `setWeight` step reached (`step` counts from 0) with its canary replicas ready.
    Weight {
        step: u32,
        weight: u32,
    },
    Pause {
        step: u32,
        until: SimTime,
    },
    Measurement {
        new: Sample,
        stable: Sample,
        verdict: Verdict,
        /// Failed measurements so far.
        failed: u32,
    },
    /// All traffic on the new version.
    Promoted,
    /// The analysis failed: traffic back on the stable version.
    Aborted {
        failed: u32,
    },
    Completed,
}

/// The rollout's controller.
#[derive(Clone, Debug)]
pub struct Rollout {
    config: RolloutConfig,
    phase: Phase,
    /// The next canary step.
    step: usize,
    /// A pause step's end, when one is running.
    pause_until: Option<SimTime>,
    /// Blue/green: when the switch is due, once every new replica is ready.
    switch_at: Option<SimTime>,
    route: Route,
    failed: u32,
    timeline: Vec<(SimTime, Entry)>,
}

impl Rollout {
    pub fn new(config: RolloutConfig) -> Rollout {
        assert!(config.desired >= 1, "a rollout needs replicas");
        if let Strategy::RollingUpdate {
            max_surge,
            max_unavailable,
        } = config.strategy
        {
            assert!(
                max_surge + max_unavailable > 0,
                "a rolling update must move"
            );
        }
        Rollout {
            config,
            phase: Phase::Pending,
            step: 0,
            pause_until: None,
            switch_at: None,
            route: Route::Weight(0),
            failed: 0,
            timeline: Vec::new(),
        }
    }

    /// An autoscaler set the service's replicas (Argo Rollouts with an HPA: the HPA scales
    /// the Rollout's total; a canary's share is then `ceil(desired * weight / 100)` of it and a
    /// rolling update moves towards it).
    pub fn set_desired(&mut self, desired: u32) {
        assert!(desired >= 1, "a rollout needs replicas");
        self.config.desired = desired;
    }

    pub fn config(&self) -> &RolloutConfig {
        &self.config
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn route(&self) -> Route {
        self.route
    }

    pub fn timeline(&self) -> &[(SimTime, Entry)] {
        &self.timeline
    }

    /// Whether measurements count now: the new version may take traffic and nothing is decided.
    pub fn analysing(&self) -> bool {
        if self.config.analysis.is_none() {
            return false;
        }
        match (&self.config.strategy, self.phase) {
            (Strategy::BlueGreen { .. }, Phase::Promoting { .. }) => true,
            (Strategy::BlueGreen { .. }, _) => false,
            (_, Phase::Progressing | Phase::Promoting { .. }) => true,
            _ => false,
        }
    }

    /// When the rollout wants to be asked again without any replica changing (a pause's or a
    /// delay's end).
    pub fn wake_at(&self) -> Option<SimTime> {
        match self.phase {
            Phase::Pending => Some(self.config.at),
            Phase::Promoting { scale_down_at } => Some(scale_down_at),
            Phase::Progressing => self.pause_until.or(self.switch_at),
            Phase::Completed | Phase::Aborted => None,
        }
    }

    /// Whether the rollout has nothing more to do.
    pub fn settled(&self) -> bool {
        matches!(self.phase, Phase::Completed | Phase::Aborted)
    }

    fn log(&mut self, now: SimTime, entry: Entry) {
        self.timeline.push((now, entry));
    }

    /// What the rollout wants now, given the replicas.
    pub fn reconcile(&mut self, now: SimTime, s: Status) -> Target {
        let desired = self.config.desired;
        if self.phase == Phase::Pending {
            if now < self.config.at {
                return Target {
                    old: desired,
                    new: 0,
                    route: Route::Ready,
                };
            }
            self.phase = Phase::Progressing;
            self.route = match self.config.strategy {
                Strategy::RollingUpdate { .. } => Route::Ready,
                _ => Route::Weight(0),
            };
            self.log(now, Entry::Started);
        }
        if let Phase::Promoting { scale_down_at } = self.phase
            && now >= scale_down_at
        {
            self.phase = Phase::Completed;
            self.log(now, Entry::Completed);
        }
        match self.phase {
            Phase::Completed => {
                return Target {
                    old: 0,
                    new: desired,
                    route: self.route,
                };
            }
            Phase::Aborted => {
                // Back to the stable version: a rolling update rolls back as it rolled out.
                if let Strategy::RollingUpdate {
                    max_surge,
                    max_unavailable,
                } = self.config.strategy
                {
                    let (new, old) = rolling(
                        desired,
                        max_surge,
                        max_unavailable,
                        (s.new_present, s.new_ready),
                        (s.old_present, s.old_ready),
                    );
                    return Target {
                        old,
                        new,
                        route: Route::Ready,
                    };
                }
                return Target {
                    old: desired,
                    new: 0,
                    route: Route::Weight(0),
                };
            }
            Phase::Promoting { .. } => {
                return Target {
                    old: desired,
                    new: desired,
                    route: self.route,
                };
            }
            Phase::Pending | Phase::Progressing => {}
        }
        match self.config.strategy.clone() {
            Strategy::RollingUpdate {
                max_surge,
                max_unavailable,
            } => {
                if s.new_ready == desired && s.old_present == 0 {
                    self.phase = Phase::Completed;
                    self.log(now, Entry::Completed);
                    return Target {
                        old: 0,
                        new: desired,
                        route: Route::Ready,
                    };
                }
                let (old, new) = rolling(
                    desired,
                    max_surge,
                    max_unavailable,
                    (s.old_present, s.old_ready),
                    (s.new_present, s.new_ready),
                );
                Target {
                    old,
                    new,
                    route: Route::Ready,
                }
            }
            Strategy::BlueGreen {
                auto_promotion_after,
                scale_down_delay,
            } => {
                if s.new_ready == desired {
                    let at = *self.switch_at.get_or_insert(now + auto_promotion_after);
                    if now >= at {
                        self.switch_at = None;
                        self.route = Route::Weight(100);
                        self.phase = Phase::Promoting {
                            scale_down_at: now + scale_down_delay,
                        };
                        self.log(now, Entry::Promoted);
                    }
                }
                Target {
                    old: desired,
                    new: desired,
                    route: self.route,
                }
            }
            Strategy::Canary {
                steps,
                scale_down_delay,
            } => {
                let mut canary = match self.route {
                    Route::Weight(w) => canary_replicas(desired, w),
                    Route::Ready => desired,
                };
                while let Some(&step) = steps.get(self.step) {
                    let index = self.step as u32;
                    match step {
                        Step::SetWeight(w) => {
                            // The canary grows before its weight rises, and shrinks after.
                            let current = match self.route {
                                Route::Weight(c) => c,
                                Route::Ready => 100,
                            };
                            canary = canary_replicas(desired, w.max(current));
                            if s.new_ready < canary_replicas(desired, w) {
                                break; // the canary's replicas are not ready yet
                            }
                            canary = canary_replicas(desired, w);
                            self.route = Route::Weight(w);
                            self.log(
                                now,
                                Entry::Weight {
                                    step: index,
                                    weight: w,
                                },
                            );
                        }
                        Step::Pause(d) => {
                            let until = match self.pause_until {
                                Some(until) => until,
                                None => {
                                    let until = now + d;
                                    self.pause_until = Some(until);
                                    self.log(now, Entry::Pause { step: index, until });
                                    until
                                }
                            };
                            if now < until {
                                break;
                            }
                            self.pause_until = None;
                        }
                    }
                    self.step += 1;
                }
                if self.step == steps.len() {
                    // Every step done: the canary is scaled up and takes everything.
                    canary = desired;
                    if s.new_ready == desired {
                        self.route = Route::Weight(100);
                        self.phase = Phase::Promoting {
                            scale_down_at: now + scale_down_delay,
                        };
                        self.log(now, Entry::Promoted);
                    }
                }
                Target {
                    old: desired,
                    new: canary,
                    route: self.route,
                }
            }
        }
    }

    /// One measurement of the analysis: its verdict, and an abort when the failures exceed the
    /// limit. Ignored (inconclusive, not logged) when the rollout is not analysing.
    pub fn judge(&mut self, now: SimTime, new: Sample, stable: Sample) -> Verdict {
        let Some(a) = self.config.analysis.clone() else {
            return Verdict::Inconclusive;
        };
        if !self.analysing() {
            return Verdict::Inconclusive;
        }
        let verdict = if new.requests < a.min_requests.max(1) {
            Verdict::Inconclusive
        } else {
            let availability = new.availability().unwrap_or(1.0);
            let mut ok = a.availability.is_none_or(|t| availability >= t);
            if let (Some(t), Some(p99)) = (a.p99, new.p99) {
                ok &= p99 <= t;
            }
            if let (Some(drop), Some(base)) = (a.max_availability_drop, stable.availability()) {
                ok &= availability >= base - drop;
            }
            if let (Some(ratio), Some(p99), Some(base)) = (a.max_p99_ratio, new.p99, stable.p99) {
                ok &= p99.as_nanos() as f64 <= base.as_nanos() as f64 * ratio;
            }
            if ok { Verdict::Passed } else { Verdict::Failed }
        };
        if verdict == Verdict::Failed {
            self.failed += 1;
        }
        let failed = self.failed;
        self.log(
            now,
            Entry::Measurement {
                new,
                stable,
                verdict,
                failed,
            },
        );
        if self.failed > a.failure_limit {
            self.phase = Phase::Aborted;
            self.pause_until = None;
            self.switch_at = None;
            self.route = match self.config.strategy {
                Strategy::RollingUpdate { .. } => Route::Ready,
                _ => Route::Weight(0),
            };
            self.log(now, Entry::Aborted { failed });
        }
        verdict
    }
}

/// Replicas a canary at `weight` percent runs: its share of `desired`, rounded up (Argo).
pub fn canary_replicas(desired: u32, weight: u32) -> u32 {
    (u64::from(desired) * u64::from(weight)).div_ceil(100) as u32
}

/// One reconcile of a rolling update from `from` (present, ready) to `to`: the targets of
/// (from, to). `to` grows while everything present stays within `desired + max_surge`; `from`
/// shrinks only by the ready replicas above `desired - max_unavailable`.
fn rolling(
    desired: u32,
    max_surge: u32,
    max_unavailable: u32,
    (from_present, from_ready): (u32, u32),
    (to_present, to_ready): (u32, u32),
) -> (u32, u32) {
    let room = (desired + max_surge).saturating_sub(from_present + to_present);
    let to = (to_present + room).min(desired).max(to_present);
    let min_available = desired.saturating_sub(max_unavailable);
    let removable = (from_ready + to_ready).saturating_sub(min_available);
    // Replicas of `from` that are not ready count as unavailable already: they go first and
    // free nothing else.
    let unready = from_present - from_ready;
    let from = from_present.saturating_sub(unready + removable.min(from_ready));
    (from, to)
}

#[cfg(test)]
mod tests;
