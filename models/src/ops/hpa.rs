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
mod tests {
    use super::*;

    fn config() -> AutoscalerConfig {
        AutoscalerConfig {
            service: crate::config::ServiceId(0),
            flavor: Flavor::Kubernetes,
            metric: Metric::Utilisation,
            target: 0.5,
            min_replicas: 1,
            max_replicas: 10,
            initial: 2,
            tolerance: 0.1,
            sync_period: SimDuration::from_secs(15),
            scale_up_stabilization: SimDuration::ZERO,
            scale_down_stabilization: SimDuration::from_secs(300),
            provisioning: SimDuration::ZERO,
            cold_start: SimDuration::ZERO,
            scale_up: None,
            scale_down: None,
        }
    }

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn desired_is_the_ceiling_of_ready_times_the_ratio_outside_the_tolerance() {
        let mut a = Autoscaler::new(config());
        // 2 replicas at 90 % against 50 %: ceil(2 x 1.8) = 4.
        let d = a.sync(at(15), 2, 0, 0.9);
        assert_eq!(
            (d.recommended, d.desired, d.reason),
            (4, 4, "metric above target")
        );
        // 4 at 54 %: ratio 1.08, within 0.1: stay.
        let d = a.sync(at(30), 4, 0, 0.54);
        assert_eq!((d.desired, d.reason), (4, "within tolerance"));
        // 4 at 56 %: ratio 1.12, ceil(4.48) = 5.
        let d = a.sync(at(45), 4, 0, 0.56);
        assert_eq!(d.desired, 5);
    }

    #[test]
    fn scale_down_waits_for_the_highest_recommendation_of_the_window() {
        let mut a = Autoscaler::new(config());
        let d = a.sync(at(0), 4, 0, 1.0); // ceil(4 x 2) = 8
        assert_eq!(d.desired, 8);
        // Idle from then on: the formula says 1, the window remembers 8 for 300 s.
        let mut t = 15;
        while t < 300 {
            let d = a.sync(at(t), 8, 0, 0.05);
            assert_eq!(d.recommended, 1, "at {t}");
            assert_eq!(d.desired, 8, "at {t}");
            assert_eq!(
                d.reason,
                "scale-down stabilization window holds a higher recommendation"
            );
            t += 15;
        }
        // At 300 s the sample of 0 s (8) has left the window (samples strictly after the
        // cutoff count, as `After` in horizontal.go): the highest is 1.
        let d = a.sync(at(300), 8, 0, 0.05);
        assert_eq!((d.desired, d.reason), (1, "metric below target"));
    }

    #[test]
    fn unready_replicas_count_as_idle_on_a_scale_up() {
        let mut a = Autoscaler::new(config());
        // 2 ready at 100 %, 2 starting: 2 x 1.0 / (0.5 x 4) = 1.0, within tolerance: hold 4.
        let d = a.sync(at(15), 2, 2, 1.0);
        assert_eq!(
            (d.desired, d.reason),
            (4, "replicas still starting would absorb the load")
        );
        // 2 ready at 150 %, 2 starting: 3.0 / 2.0 = 1.5, ceil(1.5 x 4) = 6.
        let d = a.sync(at(30), 2, 2, 1.5);
        assert_eq!(d.desired, 6);
    }

    #[test]
    fn limits_and_bounds_apply_after_stabilization() {
        let mut a = Autoscaler::new(config());
        // 1 ready at 500 %: ceil(10) = 10, but at most max(2 x 1, 1 + 4) = 5 per period.
        let d = a.sync(at(15), 1, 0, 2.5);
        assert_eq!((d.recommended, d.desired), (5, 5));
        let d = a.sync(at(15), 1, 0, 5.0);
        assert_eq!((d.recommended, d.desired), (10, 5));
        assert_eq!(
            d.reason,
            "scale-up limited to max(100 %, 4 replicas) per period"
        );
        let mut a = Autoscaler::new(AutoscalerConfig {
            max_replicas: 3,
            ..config()
        });
        let d = a.sync(at(15), 2, 0, 1.0);
        assert_eq!((d.desired, d.reason), (3, "at maxReplicas"));
    }

    #[test]
    fn an_up_window_takes_the_lowest_recent_recommendation() {
        let mut a = Autoscaler::new(AutoscalerConfig {
            scale_up_stabilization: SimDuration::from_secs(60),
            ..config()
        });
        assert_eq!(a.sync(at(1), 2, 0, 0.5).desired, 2);
        // A burst: the formula wants 6, the window still holds 2 from 0 s.
        let d = a.sync(at(15), 2, 0, 1.5);
        assert_eq!((d.recommended, d.desired), (6, 2));
        let d = a.sync(at(61), 2, 0, 1.5);
        assert_eq!(d.desired, 6);
    }

    #[test]
    fn target_tracking_waits_out_its_cooldowns() {
        let mut a = Autoscaler::new(AutoscalerConfig {
            flavor: Flavor::TargetTracking {
                scale_out_cooldown: SimDuration::from_secs(60),
                scale_in_cooldown: SimDuration::from_secs(300),
            },
            ..config()
        });
        assert_eq!(a.sync(at(0), 2, 0, 1.0).desired, 4);
        let d = a.sync(at(30), 4, 0, 1.0);
        assert_eq!(
            (d.desired, d.reason),
            (4, "cooldown after the last scaling activity")
        );
        assert_eq!(a.sync(at(60), 4, 0, 1.0).desired, 8);
        // 8 at 47.5 % (5 % below target): no scale-in.
        assert_eq!(a.sync(at(400), 8, 0, 0.475).desired, 8);
        assert_eq!(a.sync(at(400), 8, 0, 0.2).desired, 4);
    }

    fn rules(policies: &[ScalingPolicy], select: SelectPolicy) -> Option<ScalingRules> {
        Some(ScalingRules {
            policies: policies.to_vec(),
            select,
        })
    }

    fn secs(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    #[test]
    fn kubernetes_default_policies_reproduce_the_default_behavior_at_a_15_s_sync() {
        // scaleUp: Pods 4 and Percent 100 per 15 s, Max; scaleDown: Percent 100 per 15 s.
        let explicit = AutoscalerConfig {
            scale_up: rules(
                &[
                    ScalingPolicy::Pods(4, secs(15)),
                    ScalingPolicy::Percent(100, secs(15)),
                ],
                SelectPolicy::Max,
            ),
            scale_down: rules(&[ScalingPolicy::Percent(100, secs(15))], SelectPolicy::Max),
            max_replicas: 100,
            ..config()
        };
        let implicit = AutoscalerConfig {
            max_replicas: 100,
            ..config()
        };
        let (mut a, mut b) = (Autoscaler::new(explicit), Autoscaler::new(implicit));
        let (mut ca, mut cb) = (1, 1);
        // A load that rises steeply, holds, then falls to nothing.
        for k in 1..100u64 {
            let metric = match k {
                1..=10 => 0.5 * k as f64,
                11..=20 => 0.9,
                _ => 0.01,
            };
            let da = a.sync(at(15 * k), ca, 0, metric);
            let db = b.sync(at(15 * k), cb, 0, metric);
            assert_eq!(da.desired, db.desired, "sync {k}");
            (ca, cb) = (da.desired, db.desired);
        }
        assert_eq!(ca, 1, "scaled down in the end");
    }

    #[test]
    fn a_pods_policy_counts_the_scale_ups_of_its_period() {
        // At most 1 replica per 60 s: the period starts from the replicas before the last
        // scale-ups within it (`After(now - 60 s)`).
        let mut a = Autoscaler::new(AutoscalerConfig {
            scale_up: rules(&[ScalingPolicy::Pods(1, secs(60))], SelectPolicy::Max),
            ..config()
        });
        let d = a.sync(at(0), 2, 0, 1.0); // the formula wants 4
        assert_eq!((d.recommended, d.desired), (4, 3));
        assert_eq!(d.reason, "scale-up limited by the scaling policies");
        for t in [15, 30, 45] {
            // Started with 2 within the period: 2 + 1 = 3, already there.
            let d = a.sync(at(t), 3, 0, 1.0);
            assert_eq!((d.recommended, d.desired), (6, 3), "at {t}");
        }
        // At 60 s the scale-up of 0 s is not after the cutoff any more.
        let d = a.sync(at(60), 3, 0, 1.0);
        assert_eq!(d.desired, 4);
    }

    #[test]
    fn a_percent_policy_truncates_down_and_rounds_up_as_go_does() {
        let mut a = Autoscaler::new(AutoscalerConfig {
            scale_down_stabilization: SimDuration::ZERO,
            scale_down: rules(&[ScalingPolicy::Percent(50, secs(60))], SelectPolicy::Max),
            max_replicas: 40,
            ..config()
        });
        // 9 replicas nearly idle want 1; 50 % per minute: int32(9 x 0.5) = 4.
        let d = a.sync(at(0), 9, 0, 0.01);
        assert_eq!((d.recommended, d.desired), (1, 4));
        assert_eq!(d.reason, "scale-down limited by the scaling policies");
        // Within the minute the period started at 9: 4 is as low as it goes.
        let d = a.sync(at(30), 4, 0, 0.01);
        assert_eq!(d.desired, 4);
        let d = a.sync(at(60), 4, 0, 0.01);
        assert_eq!(d.desired, 2);
        // Go's float64: 50 x (1 + 10 / 100) = 55.00000000000001, which math.Ceil makes 56;
        // 10 x (1 - 80 / 100) = 1.9999999999999996, which int32() makes 1.
        let mut a = Autoscaler::new(AutoscalerConfig {
            scale_up: rules(&[ScalingPolicy::Percent(10, secs(15))], SelectPolicy::Max),
            max_replicas: 100,
            ..config()
        });
        let d = a.sync(at(0), 50, 0, 1.0);
        assert_eq!((d.recommended, d.desired), (100, 56));
        let mut a = Autoscaler::new(AutoscalerConfig {
            scale_down_stabilization: SimDuration::ZERO,
            scale_down: rules(&[ScalingPolicy::Percent(80, secs(15))], SelectPolicy::Max),
            ..config()
        });
        let d = a.sync(at(0), 10, 0, 0.01);
        assert_eq!((d.recommended, d.desired), (1, 1));
    }

    #[test]
    fn select_min_takes_the_smallest_change_and_disabled_none() {
        let policies = [
            ScalingPolicy::Pods(4, secs(15)),
            ScalingPolicy::Percent(100, secs(15)),
        ];
        let mut a = Autoscaler::new(AutoscalerConfig {
            scale_up: rules(&policies, SelectPolicy::Min),
            max_replicas: 100,
            ..config()
        });
        // From 2: Pods allows 6, Percent 4; Min takes 4. From 10: 14 and 20; Min takes 14.
        assert_eq!(a.sync(at(0), 2, 0, 5.0).desired, 4);
        assert_eq!(a.sync(at(15), 10, 0, 5.0).desired, 14);
        let mut a = Autoscaler::new(AutoscalerConfig {
            scale_down_stabilization: SimDuration::ZERO,
            scale_down: rules(&policies, SelectPolicy::Min),
            max_replicas: 100,
            ..config()
        });
        // From 10 down: Pods allows 6, Percent 0; the smaller change is 6.
        assert_eq!(a.sync(at(0), 10, 0, 0.01).desired, 6);
        let mut a = Autoscaler::new(AutoscalerConfig {
            scale_down_stabilization: SimDuration::ZERO,
            scale_down: rules(&policies, SelectPolicy::Disabled),
            ..config()
        });
        assert_eq!(a.sync(at(0), 8, 0, 0.01).desired, 8);
        assert_eq!(
            a.sync(at(0), 8, 0, 5.0).desired,
            10,
            "scaling up still works"
        );
    }
}
