//! Deployments end to end (issue 16): a rolling update keeps its ready replicas within
//! `maxUnavailable`, a canary identical to its stable version is never rolled back while a bad
//! one always is, and no request is lost while replicas drain.

use std::path::Path;

use models::ops::RolloutReport;
use models::ops::rollout::Entry;
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load_str(Path::new("test.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// shoppers -> checkout -> payments (REPLICAS replicas), payments v1 and v2 (v2: V2).
const RELEASE: &str = r#"Scenario(version: 1, name: "release", duration: "150s",
    services: [
        Service(name: "checkout", workers: 50, service_time: Exponential(mean: "2ms"),
                calls: [Call(to: "payments")]),
        Service(name: "payments", replicas: REPLICAS, workers: 10, queue: 100,
                service_time: Exponential(mean: "10ms"), error_rate: 0.01,
                versions: [(name: "v1"), (name: "v2", V2)],
                rollout: (version: "v2", at: "20s", ready_after: READY, strategy: STRATEGY,
                          ANALYSIS)),
    ],
    clients: [Client(name: "shoppers", to: "checkout",
                     arrivals: Poisson(rate_per_s: 200.0), timeout: "1s")],
)"#;

fn release(replicas: u32, v2: &str, ready: &str, strategy: &str, analysis: &str) -> String {
    RELEASE
        .replace("REPLICAS", &replicas.to_string())
        .replace("V2", v2)
        .replace("READY", &format!("\"{ready}\""))
        .replace("STRATEGY", strategy)
        .replace("ANALYSIS", analysis)
}

fn rollout(r: &RunResult) -> &RolloutReport {
    &r.ops.rollouts[0]
}

const CANARY: &str = r#"Canary(steps: [SetWeight(10), Pause("20s"), SetWeight(50), Pause("20s")])"#;
const ANALYSIS: &str = r#"analysis: (interval: "10s", availability: 0.95, failure_limit: 1)"#;

#[test]
fn a_rolling_update_never_drops_below_desired_minus_max_unavailable_ready_replicas() {
    let mut seeds = 0;
    for (replicas, surge, unavailable) in [(4, 1, 0), (4, 0, 1), (5, 2, 2), (6, 1, 3), (3, 3, 0)] {
        let strategy = format!("RollingUpdate(max_surge: {surge}, max_unavailable: {unavailable})");
        for seed in 1..=6 {
            // Readiness delays that are not whole seconds, so replicas get ready between ticks.
            let ready = format!("{}.{}s", 2 + seed % 3, seed * 7 % 10);
            let r = run_text(
                &release(replicas, "error_rate: 0.01", &ready, &strategy, ""),
                seed,
            );
            let d = rollout(&r);
            assert_eq!(d.phase, "completed", "{strategy} seed {seed}");
            let floor = replicas - unavailable;
            for &(at, _, old, new) in &d.weights {
                assert!(
                    old + new >= floor,
                    "{strategy} seed {seed}: {old} + {new} ready at {at:?}, below {floor}"
                );
            }
            let last = d.weights.last().unwrap();
            assert_eq!((last.2, last.3), (0, replicas), "all replaced");
            seeds += 1;
        }
    }
    assert_eq!(seeds, 30);
}

#[test]
fn a_canary_identical_to_its_stable_version_is_never_rolled_back() {
    for seed in 1..=30 {
        let r = run_text(
            &release(4, "error_rate: 0.01", "5s", CANARY, ANALYSIS),
            seed,
        );
        let d = rollout(&r);
        assert_eq!(d.phase, "completed", "seed {seed}: {:?}", d.timeline);
        assert!(
            d.timeline
                .iter()
                .all(|(_, e)| !matches!(e, Entry::Aborted { .. }))
        );
        let measured = d
            .timeline
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Measurement { .. }))
            .count();
        assert!(measured >= 4, "seed {seed}: the analysis ran ({measured})");
        // Everything ends on v2, with v2 serving the same share of failures as v1 did.
        assert!(d.versions[1].requests > 10_000, "seed {seed}");
    }
}

#[test]
fn a_bad_canary_is_always_rolled_back_and_costs_a_fraction_of_a_full_rollout() {
    let mut canary_failed = 0;
    let mut everywhere_failed = 0;
    for seed in 1..=10 {
        let r = run_text(
            &release(4, "error_rate: 0.33", "5s", CANARY, ANALYSIS),
            seed,
        );
        let d = rollout(&r);
        assert_eq!(d.phase, "aborted", "seed {seed}: {:?}", d.timeline);
        let last = d.weights.last().unwrap();
        assert_eq!((last.1, last.2, last.3), (0.0, 4, 0), "back on v1 only");
        canary_failed += r.clients[0].stats.failed();
        let all = run_text(
            &release(4, "error_rate: 0.33", "5s", "RollingUpdate()", ""),
            seed,
        );
        assert_eq!(rollout(&all).phase, "completed");
        everywhere_failed += all.clients[0].stats.failed();
    }
    assert!(
        canary_failed * 10 < everywhere_failed,
        "canary {canary_failed}, everywhere {everywhere_failed}"
    );
}

/// A release is judged like a fault: the bad canary's cascade starts at the release and
/// recovers once the traffic is back on v1; the same release rolled out everywhere does not.
#[test]
fn a_release_is_a_fault_in_the_analysis() {
    let bad = run_text(&release(4, "error_rate: 0.33", "5s", CANARY, ANALYSIS), 1);
    let fault = bad
        .faults
        .iter()
        .find(|f| f.kind == "rollout")
        .expect("a rollout fault");
    let d = rollout(&bad);
    assert_eq!(fault.from, d.at);
    assert_eq!(fault.description, "payments canary of v2");
    let aborted = d
        .timeline
        .iter()
        .find(|(_, e)| matches!(e, Entry::Aborted { .. }))
        .expect("aborted")
        .0;
    assert!(fault.to >= aborted && fault.to == d.weights.last().unwrap().0.max(aborted));
    let analysis = reports::analyse(&bad);
    assert!(
        matches!(
            analysis.faults[0].verdict,
            reports::analysis::Verdict::Recovered { .. }
        ),
        "{:?}",
        analysis.faults[0].verdict
    );
    let all = run_text(
        &release(4, "error_rate: 0.33", "5s", "RollingUpdate()", ""),
        1,
    );
    let analysis = reports::analyse(&all);
    assert_eq!(analysis.faults.len(), 1);
    assert!(
        matches!(
            analysis.faults[0].verdict,
            reports::analysis::Verdict::DidNotRecover { .. }
        ),
        "{:?}",
        analysis.faults[0].verdict
    );
}

#[test]
fn no_request_is_lost_across_a_rollout() {
    for (strategy, analysis) in [
        ("RollingUpdate(max_surge: 0, max_unavailable: 2)", ""),
        ("BlueGreen(scale_down_delay: \"5s\")", ""),
        (CANARY, ANALYSIS),
    ] {
        for (seed, v2) in [(1, "error_rate: 0.01"), (2, "error_rate: 0.5")] {
            let r = run_text(&release(4, v2, "3s", strategy, analysis), seed);
            let c = &r.clients[0].stats;
            assert_eq!(c.requests, c.ok + c.failed() + c.in_flight(), "{strategy}");
            let payments = &r.services[1].stats;
            // Every attempt at payments counted once, for one version, and none refused by a
            // replica going away: failures are the versions' own errors.
            let d = rollout(&r);
            let by_version: u64 = d.versions.iter().map(|v| v.requests).sum();
            assert_eq!(
                by_version,
                payments.requests - payments.in_flight(),
                "{strategy}"
            );
            assert_eq!(
                payments.failed(),
                payments.failed_by(models::metrics::FailureCause::Error),
                "{strategy} seed {seed}: only errors"
            );
            let failed: u64 = d.versions.iter().map(|v| v.failed).sum();
            assert_eq!(failed, payments.failed(), "{strategy}");
        }
    }
}

#[test]
fn blue_green_switches_all_traffic_at_once_and_back_on_a_failed_analysis() {
    let r = run_text(
        &release(
            4,
            "error_rate: 0.33",
            "5s",
            "BlueGreen(scale_down_delay: \"60s\")",
            ANALYSIS,
        ),
        1,
    );
    let d = rollout(&r);
    assert_eq!(d.phase, "aborted");
    let weights: Vec<f64> = d.weights.iter().map(|w| w.1).collect();
    // 0 until the switch, 100 after it, 0 after the rollback: never in between.
    assert!(
        weights.iter().all(|&w| w == 0.0 || w == 100.0),
        "{weights:?}"
    );
    assert!(weights.contains(&100.0));
    assert_eq!(*weights.last().unwrap(), 0.0);
}

#[test]
fn a_rollout_is_deterministic_and_its_split_has_its_own_stream() {
    let text = release(4, "error_rate: 0.33", "5s", CANARY, ANALYSIS);
    let a = run_text(&text, 9);
    let b = run_text(&text, 9);
    assert_eq!(a.outcome.fingerprint, b.outcome.fingerprint);
    assert_eq!(format!("{:?}", rollout(&a)), format!("{:?}", rollout(&b)));
}

#[test]
fn bad_rollouts_say_where_and_what() {
    for (v2, strategy, analysis, expected) in [
        (
            "error_rate: 1.5",
            CANARY,
            "",
            "versions[1].error_rate: 1.5 is not a probability",
        ),
        (
            "error_rate: 0.1",
            "Canary(steps: [SetWeight(120)])",
            "",
            "120 is not a weight",
        ),
        (
            "error_rate: 0.1",
            "RollingUpdate(max_surge: 0, max_unavailable: 0)",
            "",
            "cannot both be 0",
        ),
        (
            "error_rate: 0.1",
            CANARY,
            "analysis: (interval: \"10s\")",
            "an analysis needs a threshold",
        ),
    ] {
        let text = release(4, v2, "5s", strategy, analysis);
        let err = scenarios::load_str(Path::new("test.ron"), &text)
            .map(|_| ())
            .expect_err(strategy)
            .to_string();
        assert!(err.contains(expected), "{err}");
        assert!(err.starts_with("test.ron:"), "{err}");
    }
    let text = release(4, "error_rate: 0.1", "5s", CANARY, "")
        .replace("version: \"v2\"", "version: \"v3\"");
    let err = scenarios::load_str(Path::new("test.ron"), &text)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("service \"payments\" has no version \"v3\"; it has \"v1\", \"v2\""),
        "{err}"
    );
}

#[test]
fn versions_without_a_rollout_run_the_stable_one_and_change_nothing_else() {
    let plain = RELEASE.replace("REPLICAS", "4").replace(
        r#"
                versions: [(name: "v1"), (name: "v2", V2)],
                rollout: (version: "v2", at: "20s", ready_after: READY, strategy: STRATEGY,
                          ANALYSIS)),"#,
        ")",
    );
    let versioned = plain.replace(
        "error_rate: 0.01,)",
        r#"error_rate: 0.01,
                versions: [(name: "v1"), (name: "v2", error_rate: 0.5)], stable: "v1")"#,
    );
    assert_ne!(plain, versioned);
    let (a, b) = (run_text(&plain, 4), run_text(&versioned, 4));
    assert_eq!(a.outcome.fingerprint, b.outcome.fingerprint);
    assert!(b.ops.rollouts.is_empty());
    // The stable version's own work is the service's.
    let v2 = versioned.replace("stable: \"v1\"", "stable: \"v2\"");
    let c = run_text(&v2, 4);
    let failed = c.services[1].stats.failed() as f64 / c.services[1].stats.requests as f64;
    assert!((0.45..0.55).contains(&failed), "{failed}");
}
