//! Orchestrated sagas end to end: without faults every saga completes; the books balance
//! (started = completed + compensated + inconsistent + in flight, and they agree with the
//! orchestrator's caller); a failing step runs exactly the compensations of the steps done, in
//! reverse; duplicates of non-idempotent steps are the callee's duplicated executions; bad
//! `saga`s are rejected at their place with exit code 2.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use models::data::saga::SagaReport;
use models::{RunOptions, RunResult, TraceKind, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load_str(Path::new("saga.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn run_library(name: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load(&library(name)).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn load_error(text: &str, what: &str) -> String {
    match scenarios::load_str(Path::new("bad.ron"), text) {
        Ok(_) => panic!("{what}: loaded"),
        Err(e) => e.to_string(),
    }
}

fn balanced(r: &SagaReport) -> bool {
    let s = &r.stats;
    s.started == s.completed + s.compensated + s.inconsistent + r.in_flight
}

/// An orchestrator `orders` whose saga is `steps`, three step services `a`, `b`, `c` each with
/// an `undo` endpoint, the given extra service fields and faults.
fn scenario(steps: &str, b_fields: &str, faults: &str, duration: &str) -> String {
    format!(
        r#"Scenario(version: 1, name: "saga", duration: "{duration}",
    services: [
        Service(name: "orders", workers: 100, service_time: Constant(value: "1ms"),
                saga: [{steps}]),
        Service(name: "a", workers: 20, service_time: Exponential(mean: "2ms"),
                endpoints: [(name: "undo", service_time: Exponential(mean: "2ms"))]),
        Service(name: "b", workers: 20, service_time: Exponential(mean: "2ms"){b_fields},
                endpoints: [(name: "undo", service_time: Exponential(mean: "2ms"))]),
        Service(name: "c", workers: 20, service_time: Exponential(mean: "2ms"),
                endpoints: [(name: "undo", service_time: Exponential(mean: "2ms"))]),
    ],
    clients: [Client(name: "users", to: "orders", arrivals: Poisson(rate_per_s: 50.0))],
    faults: [{faults}],
)"#
    )
}

const THREE: &str = r#"(call: (to: "a"), compensate: (to: "a", endpoint: "undo")),
    (call: (to: "b"), compensate: (to: "b", endpoint: "undo")),
    (call: (to: "c"), compensate: (to: "c", endpoint: "undo"))"#;

#[test]
fn without_faults_every_saga_completes_across_seeds() {
    let designs = [
        ("plain", THREE.to_string()),
        (
            "with retries and timeouts",
            THREE.replace(
                r#"(call: (to: "b")"#,
                r#"(call: (to: "b", timeout: "1s", retry: (max_attempts: 3, backoff: Immediate))"#,
            ),
        ),
        (
            "no compensations",
            r#"(call: (to: "a")), (call: (to: "b")), (call: (to: "c"))"#.to_string(),
        ),
    ];
    for (design, steps) in &designs {
        for seed in 1..=20 {
            let r = run_text(&scenario(steps, "", "", "20s"), seed);
            let s = &r.sagas[0];
            assert!(balanced(s), "{design} seed {seed}: {s:?}");
            assert!(s.stats.started > 800, "{design} seed {seed}: {s:?}");
            assert_eq!(
                (s.stats.compensated, s.stats.inconsistent, s.compensations),
                (0, 0, 0),
                "{design} seed {seed}: {s:?}"
            );
            assert_eq!(s.stats.duplicates, 0, "{design} seed {seed}");
            // Only the sagas of the last few milliseconds are still running.
            assert!(s.in_flight <= 5, "{design} seed {seed}: {s:?}");
            let users = &r.clients[0].stats;
            assert_eq!(users.ok, s.stats.completed, "{design} seed {seed}");
        }
    }
}

#[test]
fn the_books_balance_and_agree_with_the_orchestrators_caller() {
    for name in [
        "saga-checkout-compensated.ron",
        "saga-checkout-uncompensated.ron",
    ] {
        for seed in [1, 7, 11] {
            let r = run_library(name, seed);
            let s = &r.sagas[0];
            assert!(balanced(s), "{name} seed {seed}: {s:?}");
            let users = &r.clients[0].stats;
            // Every request the orchestrator served started one saga; its answer is the
            // saga's end (the shoppers neither time out nor retry).
            assert_eq!(users.requests, s.stats.started, "{name} seed {seed}");
            assert_eq!(users.ok, s.stats.completed, "{name} seed {seed}");
            assert_eq!(
                users.requests - users.ok - s.in_flight,
                s.stats.compensated + s.stats.inconsistent,
                "{name} seed {seed}"
            );
            // The duplicates are payment's duplicated charges (the only non-idempotent callee).
            let payment = r.services.iter().find(|x| x.name == "payment").unwrap();
            assert_eq!(s.stats.duplicates, payment.duplicate_side_effects);
            assert!(s.stats.duplicates > 0);
            let failed = s.stats.compensated + s.stats.inconsistent;
            assert!(
                failed > 100,
                "{name} seed {seed}: payment errors fail sagas"
            );
            if name.contains("uncompensated") {
                // Nothing releases the reservation: every failed saga is left inconsistent.
                assert_eq!(s.stats.compensated, 0);
                assert_eq!(s.compensations, 0);
            } else {
                // Each failed saga released its reservation (payment failed, so it is not
                // refunded); the release is retried, so none is left inconsistent.
                assert_eq!(s.stats.inconsistent, 0, "seed {seed}");
                assert_eq!(s.compensations, failed, "seed {seed}");
            }
        }
    }
}

/// Call starts by request, as (callee, its endpoint or "") in order.
fn calls_by_request(text: &str, seed: u64) -> (RunResult, BTreeMap<u64, Vec<String>>) {
    let loaded = scenarios::load_str(Path::new("saga.ron"), text).expect("loads");
    let buffer = models::TraceBuffer::new();
    let options = RunOptions {
        trace: Some(Box::new(buffer.clone())),
        ..RunOptions::default()
    };
    let r = World::new(&loaded.config, seed).run(options);
    // The orchestrator's edges are its plan: the steps' callees, then the undos'.
    let mut seen = Vec::new();
    let labels: Vec<String> = r
        .edges
        .iter()
        .map(|e| {
            if e.from != "orders" {
                return String::new();
            }
            let label = if seen.contains(&e.to) {
                format!("undo {}", e.to)
            } else {
                e.to.clone()
            };
            seen.push(e.to.clone());
            label
        })
        .collect();
    let mut by_request: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for rec in buffer.take() {
        let label = labels.get(rec.edge as usize).map_or("", String::as_str);
        if rec.kind == TraceKind::CallStart && !label.is_empty() {
            by_request
                .entry(rec.request)
                .or_default()
                .push(label.to_string());
        }
    }
    (r, by_request)
}

#[test]
fn a_failing_step_runs_the_compensations_of_the_steps_done_in_reverse() {
    // Step c always fails: each saga calls a, b, c, then undoes b, then a; never c.
    let text = scenario(
        THREE,
        "",
        r#"Errors(service: "c", rate: 1.0, from: "0s", to: "10s")"#,
        "5s",
    );
    let (r, calls) = calls_by_request(&text, 3);
    let s = &r.sagas[0];
    assert!(balanced(s));
    assert_eq!(s.stats.completed, 0);
    assert!(s.stats.compensated > 100, "{s:?}");
    assert_eq!(s.stats.compensated + s.in_flight, s.stats.started);
    assert!(s.compensations >= 2 * s.stats.compensated);
    assert!(s.compensations <= 2 * (s.stats.compensated + s.in_flight));
    let expected = ["a", "b", "c", "undo b", "undo a"];
    let complete: Vec<&Vec<String>> = calls.values().filter(|c| c.len() == 5).collect();
    assert_eq!(complete.len() as u64, s.stats.compensated);
    for c in &complete {
        assert_eq!(**c, expected);
    }
    assert!(
        calls
            .values()
            .all(|c| c.len() <= 5 && c[..] == expected[..c.len()])
    );
    // A failing first step has nothing to undo.
    let text = scenario(
        THREE,
        "",
        r#"Errors(service: "a", rate: 1.0, from: "0s", to: "10s")"#,
        "5s",
    );
    let (r, calls) = calls_by_request(&text, 3);
    let s = &r.sagas[0];
    assert_eq!(s.compensations, 0);
    assert_eq!(s.stats.compensated + s.in_flight, s.stats.started);
    assert!(calls.values().all(|c| c.len() == 1));
}

#[test]
fn a_compensation_that_fails_for_good_leaves_it_inconsistent_and_the_rest_still_run() {
    // c fails, b's undo always fails (no retry): inconsistent, and a's undo still runs.
    let text = scenario(
        THREE,
        "",
        r#"Errors(service: "c", rate: 1.0, from: "0s", to: "10s"),
           Errors(service: "b", rate: 1.0, from: "0s", to: "10s")"#,
        "5s",
    );
    // b fails too, so the saga stops at b: only a's undo runs, and succeeds.
    let r = run_text(&text, 1);
    let s = &r.sagas[0];
    assert_eq!(s.stats.inconsistent, 0);
    assert_eq!(s.compensations_failed, 0);
    // Make b's undo fail alone: a fault on an endpoint is not modelled, so b's undo endpoint
    // gets an error rate of 1 instead.
    let text = scenario(THREE, "", r#"Errors(service: "c", rate: 1.0, from: "0s", to: "10s")"#, "5s")
        .replacen(
            r#"Service(name: "b", workers: 20, service_time: Exponential(mean: "2ms"),
                endpoints: [(name: "undo", service_time: Exponential(mean: "2ms"))]"#,
            r#"Service(name: "b", workers: 20, service_time: Exponential(mean: "2ms"),
                endpoints: [(name: "undo", service_time: Exponential(mean: "2ms"), error_rate: 1.0)]"#,
            1,
        );
    let r = run_text(&text, 1);
    let s = &r.sagas[0];
    assert!(balanced(s));
    assert_eq!(s.stats.compensated, 0);
    assert_eq!(s.stats.inconsistent + s.in_flight, s.stats.started);
    assert!(s.stats.inconsistent > 100);
    // Both undos run for each ended saga; b's fails.
    assert_eq!(s.compensations_failed, s.stats.inconsistent);
    assert!(s.compensations >= 2 * s.stats.inconsistent);
    // With retries on b's undo, it still fails for good (rate 1): the retries are b's attempts.
    let retried = text.replace(
        r#"compensate: (to: "b", endpoint: "undo")"#,
        r#"compensate: (to: "b", endpoint: "undo", retry: (max_attempts: 3, backoff: Immediate))"#,
    );
    let r2 = run_text(&retried, 1);
    // The orchestrator's second edge to b is b's undo.
    let undo_b = r2
        .edges
        .iter()
        .filter(|e| e.from == "orders" && e.to == "b")
        .nth(1)
        .expect("b's undo edge");
    assert_eq!(undo_b.retries, 2 * r2.sagas[0].compensations_failed);
}

#[test]
fn duplicates_count_only_non_idempotent_steps() {
    // b is slow past its timeout now and then; its step is retried. Non-idempotent b: each
    // extra execution is a duplicate; idempotent b (the default): none.
    let steps = THREE.replace(
        r#"(call: (to: "b")"#,
        r#"(call: (to: "b", timeout: "5ms", retry: (max_attempts: 3, backoff: Immediate))"#,
    );
    let r = run_text(&scenario(&steps, ", idempotent: false", "", "10s"), 1);
    let b = r.services.iter().find(|x| x.name == "b").unwrap();
    assert!(r.sagas[0].stats.duplicates > 20, "{:?}", r.sagas[0]);
    assert_eq!(r.sagas[0].stats.duplicates, b.duplicate_side_effects);
    let r = run_text(&scenario(&steps, "", "", "10s"), 1);
    assert_eq!(r.sagas[0].stats.duplicates, 0);
    assert!(balanced(&r.sagas[0]));
}

#[test]
fn sagas_are_deterministic_and_absent_without_sagas() {
    let a = report(&library("saga-checkout-compensated.ron"), 7, "json");
    let b = report(&library("saga-checkout-compensated.ron"), 7, "json");
    assert_eq!(a, b);
    assert!(a.contains("\"sagas\""));
    assert!(!report(&library("checkout.ron"), 1, "json").contains("\"sagas\""));
    let text = report(&library("saga-checkout-uncompensated.ron"), 1, "text");
    assert!(text.contains("inconsistent"), "{text}");
}

#[test]
fn bad_sagas_are_rejected_at_their_place() {
    let cases = [
        (
            THREE.replace(r#"(to: "b")"#, r#"(to: "bx")"#),
            "unknown service \"bx\"",
        ),
        (
            THREE.replace(
                r#"(to: "a", endpoint: "undo")"#,
                r#"(to: "a", endpoint: "nope")"#,
            ),
            "has no endpoint \"nope\"",
        ),
        (
            THREE.replace(r#"(call: (to: "c")"#, r#"(call: (parallel: [(to: "c")])"#),
            "names its callee with `to`",
        ),
        (
            THREE.replace(
                r#"(call: (to: "c")"#,
                r#"(call: (to: "c", probability: 0.5)"#,
            ),
            "always made",
        ),
    ];
    for (steps, expected) in &cases {
        let e = load_error(&scenario(steps, "", "", "5s"), expected);
        assert!(e.contains(expected), "{e}");
        assert!(e.starts_with("bad.ron:"), "{e}");
        let line: usize = e.split(':').nth(1).unwrap().parse().expect("a line number");
        assert!(line >= 3, "placed at the saga: {e}");
    }
    let with_calls =
        scenario(THREE, "", "", "5s").replace("saga: [", r#"calls: [(to: "a")], saga: ["#);
    let e = load_error(&with_calls, "calls and saga");
    assert!(e.contains("not in `calls`"), "{e}");
    let typo = scenario(THREE, "", "", "5s").replace("compensate:", "compensat:");
    let e = load_error(&typo, "typo");
    assert!(e.starts_with("bad.ron:"), "{e}");
    // The binary exits 2 with the position.
    let dir = temp_dir("saga-bad");
    let file = dir.join("bad.ron");
    std::fs::write(&file, scenario(&cases[0].0, "", "", "5s")).unwrap();
    let out = faultline(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("saga[1].call.to"), "{}", stderr(&out));
}
