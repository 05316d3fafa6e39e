//! The Kubernetes Horizontal Pod Autoscaler's algorithm, as a pure state machine: given the
//! metric of the ready replicas (and how many are not ready yet) at each sync, it returns the
//! replicas wanted and why. The world measures and provisions (`world/autoscale.rs`).
//!
//! Sources: the Kubernetes documentation "Horizontal Pod Autoscaling" (algorithm details,
//! default behavior) and `pkg/controller/podautoscaler` (`replica_calculator.go`,
//! `horizontal.go`):
//! - the usage ratio is the ready replicas' average metric over the target; within the
//!   tolerance (0.1, `--horizontal-pod-autoscaler-tolerance`) of 1 nothing changes; otherwise
//!   `desired = ceil(ratio * ready)`;
//! - on a scale-up, replicas not ready yet are counted as using 0 of the metric and the ratio is
//!   recomputed over all of them; if that ratio is within the tolerance or would scale the other
//!   way, nothing changes (`replica_calculator.go`, the "unready pods" branch);
//! - stabilization (`stabilizeRecommendationWithBehaviors`): the recommendation is kept
//!   between the lowest recommendation of the scale-up window (default 0 s) and the highest of
//!   the scale-down window (default 300 s), starting from the current count;
//! - rate limits (the default `behavior`): up by at most max(100 %, 4 replicas) per 15 s, down
//!   by at most 100 % per 15 s; then `minReplicas` and `maxReplicas`. Without `policies` the
//!   up limit is taken per sync, max(2 x current, current + 4): Kubernetes' default exactly
//!   when the sync period is 15 s or more (a shorter sync period would, in Kubernetes, count
//!   the scale-ups of the last 15 s too);
//! - scaling policies (`behavior.scaleUp/scaleDown.policies`, `horizontal.go`'s
//!   `calculateScaleUpLimitWithScalingRules`, `calculateScaleDownLimitWithBehaviors` and
//!   `getReplicasChangePerPeriod`): each policy's limit counts from the replicas at the start of
//!   its period (`current` less the scale-ups and plus the scale-downs recorded strictly after
//!   `now - periodSeconds`): `Pods` adds or removes `value`, `Percent` multiplies by
//!   `1 +- value / 100` (rounded up for a scale-up, truncated for a scale-down, as Go's
//!   `math.Ceil` and `int32()` do on the same float64 product); `selectPolicy: Max` takes the
//!   largest change, `Min` the smallest, `Disabled` none; a limit never reverses the
//!   direction (it is at least, or at most, `current`);
//! - the controller syncs every 15 s (`--horizontal-pod-autoscaler-sync-period`).
//!
//! The AWS target-tracking flavour ([`Flavor::TargetTracking`]) scales with the same ratio but
//! without tolerance or stabilization windows, and waits a cooldown after each scaling
//! activity (scale-out cooldown, default 300 s, and scale-in cooldown, default 300 s, in the
//! Application Auto Scaling documentation "Target tracking scaling policies"); it scales in
//! only when the metric is at least 10 % below the target, as AWS does to stay conservative.

use sim_core::{SimDuration, SimTime};

/// What an autoscaler measures, averaged over a service's ready replicas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// Busy workers over workers, from 0 to 1 (CPU utilisation's analogue).
    Utilisation,
    /// Requests being worked on or queued.
    InFlight,
    /// Requests waiting in the queue.
    QueueLength,
    /// Requests arriving per second.
    RequestRate,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Utilisation => "utilisation",
            Metric::InFlight => "in_flight",
            Metric::QueueLength => "queue_length",
            Metric::RequestRate => "request_rate",
        }
    }
}

/// Kubernetes HPA (the default) or AWS target tracking.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Flavor {
    Kubernetes,
    TargetTracking {
        scale_out_cooldown: SimDuration,
        scale_in_cooldown: SimDuration,
    },
}

/// One scaling policy of a direction: at most `Pods(n)` or `Percent(p)` replicas per period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScalingPolicy {
    Pods(u32, SimDuration),
    Percent(u32, SimDuration),
}

impl ScalingPolicy {
    fn period(self) -> SimDuration {
        match self {
            ScalingPolicy::Pods(_, p) | ScalingPolicy::Percent(_, p) => p,
        }
    }
}

/// `selectPolicy`: which policy's limit applies when there are several.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SelectPolicy {
    /// The policy allowing the largest change (Kubernetes' default).
    #[default]
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// A direction's `behavior` rules: its policies and how one is selected.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingRules {
    pub policies: Vec<ScalingPolicy>,
    pub select: SelectPolicy,
}

/// A service's autoscaler, as the scenario configures it.
#[derive(Clone, Debug)]
pub struct AutoscalerConfig {
    pub service: crate::config::ServiceId,
    pub flavor: Flavor,
    pub metric: Metric,
    /// The metric's target per replica.
    pub target: f64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Replicas running at the start (the service's `replicas`).
    pub initial: u32,
    pub tolerance: f64,
    pub sync_period: SimDuration,
    pub scale_up_stabilization: SimDuration,
    pub scale_down_stabilization: SimDuration,
    /// From the decision to a started process, then its cold start before it is ready.
    pub provisioning: SimDuration,
    pub cold_start: SimDuration,
    /// Scaling policies per direction; `None`: the default behavior (see the module's doc).
    pub scale_up: Option<ScalingRules>,
    pub scale_down: Option<ScalingRules>,
}

/// One sync's decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub at: SimTime,
    /// Replicas counted (ready plus not ready) and the average metric of the ready ones.
    pub current: u32,
    pub ready: u32,
    pub metric: f64,
    /// What the formula asked, and what the autoscaler set after stabilization and limits.
    pub recommended: u32,
    pub desired: u32,
    pub reason: &'static str,
}

/// The HPA controller's memory: past recommendations (for stabilization) and the last scaling
/// activity (for target tracking's cooldowns).
#[derive(Clone, Debug)]
pub struct Autoscaler {
    config: AutoscalerConfig,
    recommendations: Vec<(SimTime, u32)>,
    last_scale: Option<(SimTime, bool)>,
    /// Scale events (time, replicas added or removed) kept for the policies' periods.
    scale_ups: Vec<(SimTime, u32)>,
    scale_downs: Vec<(SimTime, u32)>,
}

impl Autoscaler {
    pub fn new(config: AutoscalerConfig) -> Self {
        Autoscaler {
            config,
            recommendations: Vec::new(),
            last_scale: None,
            scale_ups: Vec::new(),
            scale_downs: Vec::new(),
        }
    }

    pub fn config(&self) -> &AutoscalerConfig {
        &self.config
    }

    /// One sync at `now`: `ready` replicas whose metric averages `metric`, and `unready`
    /// replicas starting (counted in the current size). Returns the decision; the caller
    /// scales to `desired`.
    pub fn sync(&mut self, now: SimTime, ready: u32, unready: u32, metric: f64) -> Decision {
        self.sync_replicas(now, ready + unready, ready, unready, metric)
    }

    /// A sync whose scale target wants `current` replicas while the selector counts `ready`
    /// and `unready` pods: a rollout's canary pods are measured with the stable ones, as an
    /// HPA on an Argo Rollout measures them, but are not part of `spec.replicas`.
    pub fn sync_replicas(
        &mut self,
        now: SimTime,
        current: u32,
        ready: u32,
        unready: u32,
        metric: f64,
    ) -> Decision {
        let c = self.config.clone();
        let (recommended, mut reason) = match c.flavor {
            Flavor::Kubernetes => self.kubernetes_recommendation(current, ready, unready, metric),
            Flavor::TargetTracking { .. } => self.tracking_recommendation(ready, metric),
        };
        let mut desired = recommended;
        if let Flavor::Kubernetes = c.flavor {
            let stabilized = self.stabilize(now, current, recommended);
            if stabilized != desired {
                reason = if stabilized > recommended {
                    "scale-down stabilization window holds a higher recommendation"
                } else {
                    "scale-up stabilization window holds a lower recommendation"
                };
            }
            desired = stabilized;
            if desired > current {
                let (limit, why) = match &c.scale_up {
                    // The default behavior's rate limit, per sync (see the module's doc).
                    None => (
                        current.saturating_mul(2).max(current + 4),
                        "scale-up limited to max(100 %, 4 replicas) per period",
                    ),
                    Some(rules) => (
                        self.limit(now, current, rules, true),
                        "scale-up limited by the scaling policies",
                    ),
                };
                if desired > limit {
                    desired = limit;
                    reason = why;
                }
            } else if desired < current
                && let Some(rules) = &c.scale_down
            {
                let limit = self.limit(now, current, rules, false);
                if desired < limit {
                    desired = limit;
                    reason = "scale-down limited by the scaling policies";
                }
            }
        } else if let Flavor::TargetTracking {
            scale_out_cooldown,
            scale_in_cooldown,
        } = c.flavor
            && let Some((at, out)) = self.last_scale
        {
            let cooling = if desired > current {
                out && now < at + scale_out_cooldown
            } else {
                desired < current && now < at + scale_in_cooldown
            };
            if cooling {
                desired = current;
                reason = "cooldown after the last scaling activity";
            }
        }
        let bounded = desired.clamp(c.min_replicas, c.max_replicas);
        if bounded != desired {
            reason = if bounded > desired {
                "at minReplicas"
            } else {
                "at maxReplicas"
            };
        }
        if bounded != current {
            self.last_scale = Some((now, bounded > current));
            self.record(now, current, bounded);
        }
        Decision {
            at: now,
            current,
            ready,
            metric,
            recommended,
            desired: bounded,
            reason,
        }
    }

    /// The most (scaling up) or fewest (down) replicas the direction's policies allow now.
    fn limit(&self, now: SimTime, current: u32, rules: &ScalingRules, up: bool) -> u32 {
        if rules.select == SelectPolicy::Disabled {
            return current;
        }
        let changed = |events: &[(SimTime, u32)], period: SimDuration| -> i64 {
            // `rec.timestamp.After(cutoff)`, written without a subtraction that saturates at 0.
            events
                .iter()
                .filter(|&&(at, _)| at.0.saturating_add(period.as_nanos()) > now.0)
                .map(|&(_, n)| i64::from(n))
                .sum()
        };
        let current = i64::from(current);
        let proposals = rules.policies.iter().map(|&policy| {
            let period = policy.period();
            let start =
                current - changed(&self.scale_ups, period) + changed(&self.scale_downs, period);
            match (policy, up) {
                (ScalingPolicy::Pods(n, _), true) => start + i64::from(n),
                (ScalingPolicy::Pods(n, _), false) => start - i64::from(n),
                // Go's float64 arithmetic, rounded as `math.Ceil` and `int32()` round it.
                (ScalingPolicy::Percent(p, _), true) => {
                    (start as f64 * (1.0 + f64::from(p) / 100.0)).ceil() as i64
                }
                (ScalingPolicy::Percent(p, _), false) => {
                    (start as f64 * (1.0 - f64::from(p) / 100.0)) as i64
                }
            }
        });
        // The largest change is the highest limit up and the lowest down.
        let largest = (rules.select == SelectPolicy::Max) == up;
        let limit = if largest {
            proposals.max()
        } else {
            proposals.min()
        }
        .unwrap_or(current);
        let limit = if up {
            limit.max(current)
        } else {
            limit.min(current)
        };
        limit.clamp(0, i64::from(u32::MAX)) as u32
    }

    /// `storeScaleEvent`: a scaling recorded for the policies of either direction (a policy's
    /// period starts from the replicas before the scalings of both directions within it), kept
    /// for the longest period of any policy.
    fn record(&mut self, now: SimTime, from: u32, to: u32) {
        let c = &self.config;
        let longest = [&c.scale_up, &c.scale_down]
            .into_iter()
            .flatten()
            .flat_map(|r| r.policies.iter().map(|p| p.period()))
            .max()
            .unwrap_or(SimDuration::ZERO);
        if longest == SimDuration::ZERO {
            return; // no policy looks back
        }
        let keep = |&(at, _): &(SimTime, u32)| at.0.saturating_add(longest.as_nanos()) > now.0;
        self.scale_ups.retain(keep);
        self.scale_downs.retain(keep);
        let events = if to > from {
            &mut self.scale_ups
        } else {
            &mut self.scale_downs
        };
        events.push((now, from.abs_diff(to)));
    }

    /// `replica_calculator.go`: the ratio over the ready replicas, the tolerance, and on a
    /// scale-up the unready replicas counted as idle.
    fn kubernetes_recommendation(
        &self,
        current: u32,
        ready: u32,
        unready: u32,
        metric: f64,
    ) -> (u32, &'static str) {
        let c = &self.config;
        let pods = ready + unready;
        if ready == 0 {
            return (current, "no ready replica to measure");
        }
        let ratio = metric / c.target;
        if unready == 0 || ratio <= 1.0 {
            if (1.0 - ratio).abs() <= c.tolerance {
                return (current, "within tolerance");
            }
            let desired = ceil(ratio * f64::from(ready));
            let reason = if desired > current {
                "metric above target"
            } else {
                "metric below target"
            };
            return (desired, reason);
        }
        // Scaling up with replicas still starting: they count as using nothing.
        let total = f64::from(ready) * metric;
        let new_ratio = total / (c.target * f64::from(pods));
        if (1.0 - new_ratio).abs() <= c.tolerance || new_ratio < 1.0 {
            return (current, "replicas still starting would absorb the load");
        }
        let desired = ceil(new_ratio * f64::from(pods));
        (desired.max(current), "metric above target")
    }

    fn tracking_recommendation(&self, ready: u32, metric: f64) -> (u32, &'static str) {
        let c = &self.config;
        if ready == 0 {
            return (
                self.config.initial.max(c.min_replicas),
                "no ready replica to measure",
            );
        }
        let ratio = metric / c.target;
        let desired = ceil(ratio * f64::from(ready));
        if desired > ready {
            (desired, "metric above target")
        } else if ratio <= 0.9 && desired < ready {
            (desired, "metric at least 10 % below target")
        } else {
            (ready, "within tolerance")
        }
    }

    /// `stabilizeRecommendationWithBehaviors`: the current count held between the lowest
    /// recommendation of the scale-up window and the highest of the scale-down window, the
    /// new recommendation included. Old samples are dropped.
    fn stabilize(&mut self, now: SimTime, current: u32, recommended: u32) -> u32 {
        let c = &self.config;
        // A sample counts while `at` is after `now - window` (`After(cutoff)`), written
        // without a subtraction that would saturate at time 0.
        let within =
            |at: SimTime, window: SimDuration| at.0.saturating_add(window.as_nanos()) > now.0;
        let (up_window, down_window) = (c.scale_up_stabilization, c.scale_down_stabilization);
        let mut up = recommended;
        let mut down = recommended;
        for &(at, r) in &self.recommendations {
            if within(at, up_window) {
                up = up.min(r);
            }
            if within(at, down_window) {
                down = down.max(r);
            }
        }
        self.recommendations
            .retain(|&(at, _)| within(at, up_window) || within(at, down_window));
        self.recommendations.push((now, recommended));
        current.max(up).min(down)
    }
}

/// `math.Ceil` of a non-negative ratio, as a replica count (a ratio within 1e-9 of a whole
/// number is that number, so that 3 x 0.5 / 0.5 stays 3 despite rounding).
fn ceil(x: f64) -> u32 {
    // Rounding and ceiling are exact IEEE operations: no libm needed for determinism.
    let r = x.round();
    let c = if (x - r).abs() < 1e-9 { r } else { x.ceil() };
    c.clamp(0.0, f64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests;
