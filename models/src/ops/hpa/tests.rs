//! The HPA's decisions step by step against the published algorithm, on constructed metric
//! sequences.

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
