//! Operations end to end (issue 16): mid-run changes reach the running world at their time and
//! over their rollout, change nothing when they set what is already set, and show in the
//! analysis like faults.

use std::path::Path;

use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load_str(Path::new("test.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// front calls back, whose work takes exactly 50 ms; four front replicas behind round robin
/// see every fourth request each.
const CHAIN: &str = r#"Scenario(version: 1, name: "chain", duration: "60s",
    services: [
        Service(name: "front", workers: 100, replicas: 4, lb: RoundRobin,
                service_time: Constant(value: "1ms"),
                calls: [(to: "back", timeout: "20ms")]),
        Service(name: "back", workers: 100, service_time: Constant(value: "50ms")),
    ],
    network: (latency: Constant(value: "1ms")),
    clients: [Client(name: "users", to: "front", arrivals: Constant(rate_per_s: 100.0))],
    changes: [CHANGES],
)"#;

fn chain(changes: &str) -> String {
    CHAIN.replace("CHANGES", changes)
}

/// Client outcomes in the window that starts at `s` seconds: (ok, failed).
fn window(r: &RunResult, s: usize) -> (u64, u64) {
    let w = &r.clients[0].stats.windows[s];
    (w.ok, w.failed())
}

#[test]
fn a_change_to_what_is_already_set_changes_nothing() {
    let none = run_text(&chain(""), 3);
    let same = run_text(
        &chain(r#"(at: "10s", set: "edges.front->back.timeout", to: "20ms", rollout: "5s")"#),
        3,
    );
    assert_eq!(none.outcome.fingerprint, same.outcome.fingerprint);
    assert_eq!(none.clients[0].stats.ok, same.clients[0].stats.ok);
    // The change is still reported, after the faults.
    assert_eq!(none.faults.len(), 0);
    assert_eq!(same.faults[0].kind, "change");
}

#[test]
fn a_longer_timeout_set_mid_run_ends_the_timeouts_from_then_on() {
    // 20 ms against 50 ms of work: every call times out until the timeout becomes 100 ms at
    // 10 s on every replica at once.
    let r = run_text(
        &chain(r#"(at: "10s", set: "edges.front->back.timeout", to: "100ms")"#),
        1,
    );
    for s in 1..9 {
        assert_eq!(window(&r, s), (0, 100), "window {s}");
    }
    for s in 11..59 {
        assert_eq!(window(&r, s), (100, 0), "window {s}");
    }
}

#[test]
fn a_rollout_reaches_the_replicas_one_by_one() {
    // Replica k of 4 gets the longer timeout at 10 + 10k s: in each 10 s band one more
    // quarter of the requests (round robin) succeeds.
    let r = run_text(
        &chain(r#"(at: "10s", set: "edges.front->back.timeout", to: "100ms", rollout: "30s")"#),
        1,
    );
    for (s, ok) in [(5, 0), (15, 25), (25, 50), (35, 75), (45, 100)] {
        assert_eq!(window(&r, s), (ok, 100 - ok), "window {s}");
    }
    let change = &r.faults[0];
    assert_eq!(change.description, "change edges.front->back.timeout = 100ms");
    assert_eq!((change.from.as_nanos(), change.to.as_nanos()), (10_000_000_000, 40_000_000_000));
    assert_eq!(change.services, ["front"]);
}

#[test]
fn a_cascade_can_start_at_a_change() {
    // A bad configuration push: back starts failing half its requests at 20 s.
    let r = run_text(
        &chain(
            r#"(at: "20s", set: "edges.front->back.timeout", to: "100ms"),
               (at: "30s", set: "services.back.error_rate", to: 0.5)"#,
        ),
        1,
    );
    let analysis = reports::analyse(&r);
    let bad = &analysis.faults[1];
    assert_eq!(bad.description, "change services.back.error_rate = 0.5");
    let hurt: Vec<&str> = bad.cascade.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(hurt, ["back", "front", "users"], "{:?}", bad.cascade);
    assert_eq!(bad.time_to_detect.map(|d| d.as_secs_f64()), Some(0.0));
}

#[test]
fn a_kill_switch_stops_the_calls_while_it_is_off() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/library/kill-switch.ron"),
    )
    .expect("library scenario");
    let on = text.replace("kill-switch\"", "kill-switch-x\"");
    let r = run_text(&on, 1);
    let reviews = r.edges.iter().find(|e| e.to == "reviews").expect("edge");
    // Switched off on the last product replica at 55 s; an attempt still out then ends within
    // its 2 s timeout. Switched back on at 125 s.
    for s in 58..125 {
        assert_eq!((reviews.stats.windows[s].ok + reviews.stats.windows[s].failed()), 0, "window {s}");
    }
    assert!((reviews.stats.windows[126].ok + reviews.stats.windows[126].failed()) > 100);
    // Nothing is lost: every request ended or is in flight.
    let shoppers = &r.clients[0].stats;
    let in_flight = shoppers.requests - shoppers.ok - shoppers.failed();
    assert!(in_flight < 100, "{in_flight}");
}
