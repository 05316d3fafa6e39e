use super::*;

fn config(strategy: Strategy, analysis: Option<AnalysisConfig>) -> RolloutConfig {
    RolloutConfig {
        service: ServiceId(0),
        stable: "v1".into(),
        version: "v2".into(),
        at: SimTime::ZERO + SimDuration::from_secs(10),
        desired: 4,
        ready_after: SimDuration::from_secs(5),
        strategy,
        analysis,
    }
}

fn analysis(failure_limit: u32) -> AnalysisConfig {
    AnalysisConfig {
        interval: SimDuration::from_secs(10),
        availability: Some(0.99),
        p99: None,
        max_availability_drop: None,
        max_p99_ratio: None,
        failure_limit,
        min_requests: 1,
    }
}

fn t(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

fn status(old: (u32, u32), new: (u32, u32)) -> Status {
    Status {
        old_present: old.0,
        old_ready: old.1,
        new_present: new.0,
        new_ready: new.1,
    }
}

fn sample(requests: u64, failed: u64) -> Sample {
    Sample {
        requests,
        failed,
        p99: None,
    }
}

#[test]
fn before_its_time_a_rollout_keeps_the_stable_version() {
    let mut r = Rollout::new(config(
        Strategy::RollingUpdate {
            max_surge: 1,
            max_unavailable: 0,
        },
        None,
    ));
    let target = r.reconcile(t(5), status((4, 4), (0, 0)));
    assert_eq!((target.old, target.new), (4, 0));
    assert_eq!(r.phase(), Phase::Pending);
    assert_eq!(r.wake_at(), Some(t(10)));
}

#[test]
fn a_rolling_update_with_surge_one_and_no_unavailable_replaces_one_at_a_time() {
    let mut r = Rollout::new(config(
        Strategy::RollingUpdate {
            max_surge: 1,
            max_unavailable: 0,
        },
        None,
    ));
    // Start: one new replica surges; no old one may go while it is not ready.
    let target = r.reconcile(t(10), status((4, 4), (0, 0)));
    assert_eq!((target.old, target.new, target.route), (4, 1, Route::Ready));
    let target = r.reconcile(t(12), status((4, 4), (1, 0)));
    assert_eq!((target.old, target.new), (4, 1));
    // The new one is ready: one old one goes, and then the next new one may start.
    let target = r.reconcile(t(15), status((4, 4), (1, 1)));
    assert_eq!((target.old, target.new), (3, 1));
    let target = r.reconcile(t(15), status((3, 3), (1, 1)));
    assert_eq!((target.old, target.new), (3, 2));
    let target = r.reconcile(t(20), status((3, 3), (2, 2)));
    assert_eq!((target.old, target.new), (2, 2));
    let target = r.reconcile(t(40), status((0, 0), (4, 4)));
    assert_eq!((target.old, target.new), (0, 4));
    assert_eq!(r.phase(), Phase::Completed);
    assert_eq!(r.timeline().last(), Some(&(t(40), Entry::Completed)));
}

#[test]
fn a_rolling_update_without_surge_removes_before_it_adds() {
    let mut r = Rollout::new(config(
        Strategy::RollingUpdate {
            max_surge: 0,
            max_unavailable: 2,
        },
        None,
    ));
    let target = r.reconcile(t(10), status((4, 4), (0, 0)));
    assert_eq!((target.old, target.new), (2, 0), "two may be unavailable");
    let target = r.reconcile(t(10), status((2, 2), (0, 0)));
    assert_eq!((target.old, target.new), (2, 2), "their places are free");
    let target = r.reconcile(t(12), status((2, 2), (2, 0)));
    assert_eq!(
        (target.old, target.new),
        (2, 2),
        "none more while the new start"
    );
}

#[test]
fn a_canary_walks_its_steps_when_its_replicas_are_ready() {
    let steps = vec![
        Step::SetWeight(25),
        Step::Pause(SimDuration::from_secs(30)),
        Step::SetWeight(50),
    ];
    let mut r = Rollout::new(config(
        Strategy::Canary {
            steps,
            scale_down_delay: SimDuration::from_secs(30),
        },
        Some(analysis(1)),
    ));
    // One canary replica for 25 % of 4; no weight until it is ready.
    let target = r.reconcile(t(10), status((4, 4), (0, 0)));
    assert_eq!(
        (target.old, target.new, target.route),
        (4, 1, Route::Weight(0))
    );
    assert!(r.analysing());
    let target = r.reconcile(t(15), status((4, 4), (1, 1)));
    assert_eq!((target.new, target.route), (1, Route::Weight(25)));
    assert_eq!(r.wake_at(), Some(t(45)), "the pause");
    let target = r.reconcile(t(30), status((4, 4), (1, 1)));
    assert_eq!(target.route, Route::Weight(25), "still paused");
    let target = r.reconcile(t(45), status((4, 4), (1, 1)));
    assert_eq!((target.new, target.route), (2, Route::Weight(25)));
    let target = r.reconcile(t(50), status((4, 4), (2, 2)));
    // 50 % reached and it was the last step: scale the canary up to all replicas.
    assert_eq!((target.new, target.route), (4, Route::Weight(50)));
    let target = r.reconcile(t(55), status((4, 4), (4, 4)));
    assert_eq!(
        (target.old, target.new, target.route),
        (4, 4, Route::Weight(100))
    );
    assert_eq!(
        r.phase(),
        Phase::Promoting {
            scale_down_at: t(85)
        }
    );
    let target = r.reconcile(t(85), status((4, 4), (4, 4)));
    assert_eq!((target.old, target.new), (0, 4));
    assert!(r.settled());
    let kinds: Vec<&Entry> = r.timeline().iter().map(|(_, e)| e).collect();
    assert_eq!(kinds[0], &Entry::Started);
    assert_eq!(
        kinds[1],
        &Entry::Weight {
            step: 0,
            weight: 25
        }
    );
    assert_eq!(kinds.last(), Some(&&Entry::Completed));
}

#[test]
fn a_canary_aborts_when_failed_measurements_exceed_the_limit() {
    let mut r = Rollout::new(config(
        Strategy::Canary {
            steps: vec![
                Step::SetWeight(25),
                Step::Pause(SimDuration::from_secs(600)),
            ],
            scale_down_delay: SimDuration::from_secs(30),
        },
        Some(analysis(1)),
    ));
    r.reconcile(t(10), status((4, 4), (0, 0)));
    r.reconcile(t(15), status((4, 4), (1, 1)));
    // Too few requests: inconclusive, not a failure.
    assert_eq!(
        r.judge(t(20), sample(0, 0), sample(90, 0)),
        Verdict::Inconclusive
    );
    assert_eq!(
        r.judge(t(30), sample(100, 0), sample(300, 0)),
        Verdict::Passed
    );
    assert_eq!(
        r.judge(t(40), sample(100, 30), sample(300, 0)),
        Verdict::Failed
    );
    assert_eq!(
        r.phase(),
        Phase::Progressing,
        "one failure is within the limit"
    );
    assert_eq!(
        r.judge(t(50), sample(100, 30), sample(300, 0)),
        Verdict::Failed
    );
    assert_eq!(r.phase(), Phase::Aborted);
    assert_eq!(r.route(), Route::Weight(0));
    let target = r.reconcile(t(51), status((4, 4), (1, 1)));
    assert_eq!(
        (target.old, target.new, target.route),
        (4, 0, Route::Weight(0))
    );
    assert_eq!(
        r.timeline().last(),
        Some(&(t(50), Entry::Aborted { failed: 2 }))
    );
    // Later measurements are not taken.
    assert!(!r.analysing());
    assert_eq!(
        r.judge(t(60), sample(100, 100), sample(1, 0)),
        Verdict::Inconclusive
    );
}

#[test]
fn relative_thresholds_compare_with_the_stable_version() {
    let mut a = analysis(0);
    a.availability = None;
    a.max_availability_drop = Some(0.01);
    a.max_p99_ratio = Some(2.0);
    let mut r = Rollout::new(config(
        Strategy::Canary {
            steps: vec![Step::SetWeight(50)],
            scale_down_delay: SimDuration::ZERO,
        },
        Some(a),
    ));
    r.reconcile(t(10), status((4, 4), (0, 0)));
    let ms = |n| Some(SimDuration::from_millis(n));
    let new = Sample {
        requests: 100,
        failed: 5,
        p99: ms(30),
    };
    let stable = Sample {
        requests: 100,
        failed: 5,
        p99: ms(20),
    };
    assert_eq!(
        r.judge(t(20), new, stable),
        Verdict::Passed,
        "same errors, 1.5x p99"
    );
    let slow = Sample { p99: ms(41), ..new };
    assert_eq!(
        r.judge(t(30), slow, stable),
        Verdict::Failed,
        "over twice the p99"
    );
}

#[test]
fn blue_green_switches_at_once_and_back_on_failure() {
    let mut r = Rollout::new(config(
        Strategy::BlueGreen {
            auto_promotion_after: SimDuration::ZERO,
            scale_down_delay: SimDuration::from_secs(30),
        },
        Some(analysis(0)),
    ));
    let target = r.reconcile(t(10), status((4, 4), (0, 0)));
    assert_eq!(
        (target.old, target.new, target.route),
        (4, 4, Route::Weight(0))
    );
    assert!(!r.analysing(), "the preview takes no traffic");
    let target = r.reconcile(t(14), status((4, 4), (4, 3)));
    assert_eq!(target.route, Route::Weight(0), "not all ready");
    let target = r.reconcile(t(15), status((4, 4), (4, 4)));
    assert_eq!(target.route, Route::Weight(100));
    assert!(r.analysing());
    assert_eq!(
        r.judge(t(25), sample(100, 10), sample(0, 0)),
        Verdict::Failed
    );
    assert_eq!(r.phase(), Phase::Aborted);
    let target = r.reconcile(t(25), status((4, 4), (4, 4)));
    assert_eq!(
        (target.old, target.new, target.route),
        (4, 0, Route::Weight(0))
    );
}

#[test]
fn an_aborted_rolling_update_rolls_back_within_its_bounds() {
    let mut r = Rollout::new(config(
        Strategy::RollingUpdate {
            max_surge: 1,
            max_unavailable: 1,
        },
        Some(analysis(0)),
    ));
    r.reconcile(t(10), status((4, 4), (0, 0)));
    r.judge(t(20), sample(100, 50), sample(100, 0));
    assert_eq!(r.phase(), Phase::Aborted);
    // Two old and two new ready: old ones come back, new ones go while three stay ready.
    let target = r.reconcile(t(21), status((2, 2), (2, 2)));
    assert_eq!((target.old, target.new), (3, 1));
}

#[test]
fn canary_replicas_round_up() {
    assert_eq!(canary_replicas(4, 5), 1);
    assert_eq!(canary_replicas(4, 25), 1);
    assert_eq!(canary_replicas(4, 26), 2);
    assert_eq!(canary_replicas(4, 0), 0);
    assert_eq!(canary_replicas(4, 100), 4);
}
