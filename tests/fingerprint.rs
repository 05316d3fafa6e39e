//! The fingerprint names what happened, not how the world's code got there: bookkeeping
//! events (outlier sweeps that eject nothing, an autoscaler's samples and syncs that change
//! nothing) leave it alone, while a change of behaviour moves it.

use faultline::Scenario;

/// A gateway calling a ledger; `policy` adds to the call, `scaler` to the ledger.
fn scenario(policy: &str, scaler: &str, ledger_time: &str) -> Scenario {
    let text = format!(
        r#"Scenario(
    version: 1,
    name: "fingerprint",
    duration: "60s",
    network: (latency: Constant(value: "1ms")),
    services: [
        Service(name: "gateway", workers: 50, queue: 50, service_time: Constant(value: "1ms"),
                calls: [(to: "ledger", timeout: "500ms"{policy})]),
        Service(name: "ledger", replicas: 2, workers: 8, queue: 50,
                service_time: Exponential(mean: "{ledger_time}"){scaler}),
    ],
    clients: [
        Client(name: "users", to: "gateway", arrivals: Poisson(rate_per_s: 300.0)),
    ],
)"#
    );
    Scenario::from_ron("fingerprint.ron", &text).expect("a valid scenario")
}

#[test]
fn bookkeeping_that_changes_nothing_leaves_the_fingerprint_alone() {
    let plain = scenario("", "", "5ms");
    // Sweeps every second that never find an outlier (no errors happen).
    let swept = scenario(
        r#", outlier: (consecutive_5xx: 1000, interval: "1s", base_ejection_time: "30s")"#,
        "",
        "5ms",
    );
    // An autoscaler held at the replicas the ledger has: it samples and syncs, and never acts.
    let scaled = scenario(
        "",
        ", autoscale: (min: 2, max: 2, metric: Utilisation, target: 0.6)",
        "5ms",
    );
    for seed in [1, 2, 3] {
        let expected = plain.run(seed);
        for (what, variant) in [("outlier sweeps", &swept), ("an idle autoscaler", &scaled)] {
            let run = variant.run(seed);
            assert!(
                run.events() > expected.events(),
                "{what} adds events to the run"
            );
            assert_eq!(
                run.fingerprint(),
                expected.fingerprint(),
                "{what} moved the fingerprint of seed {seed}"
            );
        }
    }
}

#[test]
fn a_change_of_behaviour_moves_the_fingerprint() {
    let plain = scenario("", "", "5ms");
    let slower = scenario("", "", "6ms");
    let run = plain.run(1);
    assert_eq!(run.fingerprint(), plain.run(1).fingerprint());
    assert_ne!(
        run.fingerprint(),
        plain.run(2).fingerprint(),
        "another seed"
    );
    assert_ne!(
        run.fingerprint(),
        slower.run(1).fingerprint(),
        "a slower ledger"
    );
}
