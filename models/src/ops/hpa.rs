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
//!   by at most 100 % per 15 s; then `minReplicas` and `maxReplicas`;
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
}

impl Autoscaler {
    pub fn new(config: AutoscalerConfig) -> Self {
        Autoscaler {
            config,
            recommendations: Vec::new(),
            last_scale: None,
        }
    }

    pub fn config(&self) -> &AutoscalerConfig {
        &self.config
    }

    /// One sync at `now`: `ready` replicas whose metric averages `metric`, and `unready`
    /// replicas starting (counted in the current size). Returns the decision; the caller
    /// scales to `desired`.
    pub fn sync(&mut self, now: SimTime, ready: u32, unready: u32, metric: f64) -> Decision {
        let c = self.config.clone();
        let current = ready + unready;
        let (recommended, mut reason) = match c.flavor {
            Flavor::Kubernetes => self.kubernetes_recommendation(ready, unready, metric),
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
            // The default behavior's rate limits, per 15 s (the sync period by default).
            let up_limit = current.saturating_mul(2).max(current + 4);
            if desired > up_limit {
                desired = up_limit;
                reason = "scale-up limited to max(100 %, 4 replicas) per period";
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

    /// `replica_calculator.go`: the ratio over the ready replicas, the tolerance, and on a
    /// scale-up the unready replicas counted as idle.
    fn kubernetes_recommendation(
        &self,
        ready: u32,
        unready: u32,
        metric: f64,
    ) -> (u32, &'static str) {
        let c = &self.config;
        let current = ready + unready;
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
        let new_ratio = total / (c.target * f64::from(current));
        if (1.0 - new_ratio).abs() <= c.tolerance || new_ratio < 1.0 {
            return (current, "replicas still starting would absorb the load");
        }
        let desired = ceil(new_ratio * f64::from(current));
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
}
