//! Versions with their own resources and endpoints (issue 16): a version's `workers` and
//! `queue` are its replicas', checked against Erlang's loss formula; a version's endpoints
//! are its own, and the analysis measures every endpoint of the new version.

use std::path::Path;

use models::ops::RolloutReport;
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load_str(Path::new("test.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn load_err(text: &str) -> String {
    scenarios::load_str(Path::new("test.ron"), text)
        .map(|_| ())
        .expect_err("an error")
        .to_string()
}

fn rollout(r: &RunResult) -> &RolloutReport {
    &r.ops.rollouts[0]
}

/// users -> payments (4 replicas, random balancing: each replica sees a Poisson stream of
/// 50 per s), 10 ms of work; v1 has 10 workers, v2 `V2`, switched by a blue/green at 1 s.
const SWITCH: &str = r#"Scenario(version: 1, name: "switch", duration: "DURATION",
    services: [
        Service(name: "payments", replicas: 4, workers: 10, lb: Random,
                service_time: Constant(value: "10ms"),
                versions: [(name: "v1"), (name: "v2", V2)],
                rollout: (version: "v2", at: "1s", ready_after: "1s",
                          strategy: BlueGreen(scale_down_delay: "1s"))),
    ],
    clients: [Client(name: "users", to: "payments", arrivals: Poisson(rate_per_s: 200.0))],
)"#;

fn switch(v2: &str, duration: &str) -> String {
    SWITCH.replace("V2", v2).replace("DURATION", duration)
}

/// Student's t quantile for a two-sided 99.9 % interval with 7 degrees of freedom.
const T_999_7: f64 = 5.408;

#[test]
fn a_versions_workers_and_queue_are_its_replicas_erlang_loss_agrees() {
    // v2's replicas have one worker and no queue: each is an M/D/1/1 loss system, whose
    // blocking probability is Erlang's B(1, a) = a / (1 + a) whatever the service time's
    // distribution; a = 50 per s x 10 ms = 0.5 gives 1/3. v1 (10 workers) loses nothing.
    let text = switch("workers: 1, queue: 0", "100s");
    let mut shares = Vec::new();
    for seed in 1..=8 {
        let r = run_text(&text, seed);
        let d = rollout(&r);
        assert_eq!(d.phase, "completed", "seed {seed}");
        assert_eq!((d.versions[0].workers, d.versions[1].workers), (10, 1));
        assert_eq!(d.versions[1].queue, 0);
        assert_eq!(d.versions[0].failed, 0, "seed {seed}: v1 has room");
        shares.push(d.versions[1].failed as f64 / d.versions[1].requests as f64);
        // Both halves are wired, each with its version's workers.
        assert_eq!(r.services[0].workers, 4 * 10 + 4);
    }
    let n = shares.len() as f64;
    let mean = shares.iter().sum::<f64>() / n;
    let var = shares.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let half_width = T_999_7 * (var / n).sqrt();
    let expected = 0.5 / 1.5;
    eprintln!("loss {mean:.4} +- {half_width:.4} (99.9 %), Erlang B {expected:.4}");
    assert!(
        half_width < 0.02,
        "interval too wide to judge: {half_width}"
    );
    assert!(
        (mean - expected).abs() <= half_width,
        "loss {mean:.4} +- {half_width:.4}, Erlang B {expected:.4}: {shares:?}"
    );
}

#[test]
fn a_stable_versions_resources_are_the_services() {
    // Without a rollout the stable version's workers are the service's from the start.
    let text = switch("workers: 1, queue: 0", "20s").replace(
        r#"rollout: (version: "v2", at: "1s", ready_after: "1s",
                          strategy: BlueGreen(scale_down_delay: "1s"))"#,
        r#"stable: "v2""#,
    );
    let r = run_text(&text, 3);
    assert!(r.ops.rollouts.is_empty());
    assert_eq!(r.services[0].workers, 4);
    let s = &r.services[0].stats;
    let loss = s.failed() as f64 / s.requests as f64;
    assert!((0.28..0.39).contains(&loss), "{loss}");
}

#[test]
fn versions_with_equal_resources_report_as_before() {
    let text = switch("error_rate: 0.0", "10s");
    let r = run_text(&text, 1);
    let json = reports::json(&r);
    let v1 = &json["rollouts"]["payments"]["versions"][0];
    assert!(v1.get("workers_per_replica").is_none(), "{v1}");
    let differ = run_text(&switch("workers: 2", "10s"), 1);
    let json = reports::json(&differ);
    let v2 = &json["rollouts"]["payments"]["versions"][1];
    assert_eq!(v2["workers_per_replica"], 2, "{v2}");
    let text = reports::text(&differ, &reports::analyse(&differ), false);
    assert!(
        text.contains("per replica: v1 10 workers, queue 0; v2 2 workers, queue 0"),
        "{text}"
    );
}

#[test]
fn bad_version_resources_say_where_and_what() {
    let err = load_err(&switch("workers: 0", "10s"));
    assert!(
        err.contains("services[0].versions[1].workers: must be at least 1"),
        "{err}"
    );
    assert!(err.starts_with("test.ron:5:"), "{err}");
}

/// users -> payments with two endpoints, `pay` (its own, 90 % of the requests) and `refund`;
/// v2 sets `V2`; a canary with an analysis.
const ENDPOINTS: &str = r#"Scenario(version: 1, name: "endpoints", duration: "120s",
    services: [
        Service(name: "payments", replicas: 4, workers: 20, queue: 50, endpoint: "pay",
                service_time: Exponential(mean: "5ms"),
                endpoints: [(name: "refund", service_time: Exponential(mean: "5ms"))],
                versions: [(name: "v1"), (name: "v2", V2)],
                rollout: (version: "v2", at: "10s", ready_after: "2s",
                          strategy: Canary(steps: [SetWeight(25), Pause("20s"), SetWeight(50),
                                                   Pause("20s")]),
                          analysis: (interval: "10s", availability: 0.97, failure_limit: 1))),
    ],
    clients: [Client(name: "users", to: "payments", arrivals: Poisson(rate_per_s: 400.0),
                     requests: [(endpoint: "pay", weight: 9.0),
                                (endpoint: "refund", weight: 1.0)])],
)"#;

#[test]
fn the_analysis_measures_every_endpoint_of_the_new_version() {
    // v2 fails half of its refunds (5 % of its requests) and none of its payments: only the
    // refund endpoint is bad, and the analysis, over all of v2's requests, sees 95 %.
    let bad = ENDPOINTS.replace("V2", r#"endpoints: [(name: "refund", error_rate: 0.5)]"#);
    let good = ENDPOINTS.replace("V2", r#"endpoints: [(name: "refund", error_rate: 0.0)]"#);
    for seed in 1..=5 {
        let r = run_text(&bad, seed);
        let d = rollout(&r);
        assert_eq!(d.phase, "aborted", "seed {seed}: {:?}", d.timeline);
        // Every failure is a refund's, on v2's replicas.
        let endpoints = &r.services[0].endpoints;
        assert_eq!(endpoints[0].stats.failed(), 0, "seed {seed}: pay");
        assert_eq!(
            endpoints[1].stats.failed(),
            d.versions[1].failed,
            "seed {seed}"
        );
        assert!(d.versions[1].failed > 0);
        let r = run_text(&good, seed);
        assert_eq!(rollout(&r).phase, "completed", "seed {seed}");
        assert_eq!(r.services[0].stats.failed(), 0);
    }
}

#[test]
fn a_versions_endpoint_must_be_the_services() {
    for (v2, expected) in [
        (
            r#"endpoints: [(name: "refunds", error_rate: 0.5)]"#,
            "services[0].versions[1].endpoints[0].name: service \"payments\" has no other endpoint \"refunds\"; it has \"refund\"",
        ),
        (
            r#"endpoints: [(name: "refund"), (name: "refund")]"#,
            "services[0].versions[1].endpoints[1].name: endpoint \"refund\" is set twice",
        ),
        (
            r#"endpoints: [(name: "refund", error_rate: 2.0)]"#,
            "services[0].versions[1].endpoints[0].error_rate: 2 is not a probability",
        ),
    ] {
        let err = load_err(&ENDPOINTS.replace("V2", v2));
        assert!(err.contains(expected), "{err}");
        assert!(err.starts_with("test.ron:6:"), "{err}");
    }
}

/// users -> api, autoscaled from 2 replicas, with a canary at 25 % held from 20 s; the load
/// grows eightfold from 60 s to 220 s.
const SCALED_CANARY: &str = r#"Scenario(version: 1, name: "scaled-canary", duration: "240s",
    services: [
        Service(name: "api", replicas: 2, workers: 10, queue: 100,
                service_time: Exponential(mean: "20ms"),
                autoscale: (min: 2, max: 12, metric: Utilisation, target: 0.5,
                            provisioning: "5s", scale_down_stabilization: "30s"),
                versions: [(name: "v1"), (name: "v2")],
                rollout: (version: "v2", at: "20s", ready_after: "2s",
                          strategy: Canary(steps: [SetWeight(25), Pause("600s")]))),
    ],
    network: (latency: Constant(value: "1ms")),
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 200.0))],
    faults: [LoadSpike(client: "users", multiply: 8.0, from: "60s", to: "220s")],
)"#;

#[test]
fn an_autoscaler_scaling_up_mid_canary_keeps_the_canarys_share_and_the_books_balance() {
    for seed in 1..=4 {
        let r = run_text(SCALED_CANARY, seed);
        let a = &r.ops.autoscalers[0];
        let d = rollout(&r);
        assert_eq!(d.phase, "progressing", "seed {seed}: held at 25 %");
        let peak = a.decisions.iter().map(|x| x.desired).max().unwrap();
        assert!(
            peak >= 5,
            "seed {seed}: scaled up to {peak}: {:?}",
            a.decisions
        );
        // Argo Rollouts with an HPA: the stable version runs the HPA's count and the canary
        // ceil(count x 25 / 100) of it, whatever the count.
        let canary = |n: u32| n.div_ceil(4);
        assert!(
            d.weights
                .iter()
                .any(|&(_, _, old, new)| old == peak && new == canary(peak)),
            "seed {seed}: peak {peak}: {:?}",
            d.weights
        );
        for &(at, weight, old, new) in &d.weights {
            assert!(
                new <= canary(peak),
                "seed {seed} at {at:?}: {new} canary replicas"
            );
            if new > 0 && old > 0 {
                assert_eq!(weight, 25.0, "seed {seed} at {at:?}");
            }
        }
        // The paid-for count is both versions' replicas.
        let paid_peak = a.replicas.iter().map(|c| c.2).max().unwrap();
        assert!(paid_peak >= peak + canary(peak), "seed {seed}: {paid_peak}");
        // The books balance: every request reached the service and the versions' attempts
        // are the service's, less those still in flight (the spike's first seconds, before
        // the new replicas are ready, are refused by full queues: failed, not lost).
        let users = &r.clients[0].stats;
        let api = &r.services[0].stats;
        assert_eq!(api.requests, users.requests, "seed {seed}");
        let answered = d.versions[0].requests + d.versions[1].requests;
        let in_flight = users.requests - users.ok - users.failed();
        assert!(in_flight < 100, "seed {seed}: {in_flight}");
        assert_eq!(answered + in_flight, api.requests, "seed {seed}");
        let share = d.versions[1].requests as f64 / answered as f64;
        assert!((0.22..0.27).contains(&share), "seed {seed}: {share}");
    }
}
