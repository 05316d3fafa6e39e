//! The saga log (issue 14): with `saga_log: true` a crashed orchestrator replica resumes, at
//! its restart, the sagas it was running, so none is left in flight by the crash; each is
//! counted `recovered` once, however many crashes it lives through; a step sent again at a
//! non-idempotent callee is a duplicate; the resumed saga answers nobody; without the log the
//! crash abandons them as before; a `saga_log` without a saga is rejected at its place.
//!
//! The arrivals stop at 10 s and every saga lasts about 1 s, so at the end of a 60 s run a
//! saga still in flight is one the crash abandoned, never one still running: the books are
//! exact, with no tail to allow for.

mod common;

use std::path::Path;

use common::*;
use models::data::saga::SagaReport;
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load_str(Path::new("saga.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn balanced(r: &SagaReport) -> bool {
    let s = &r.stats;
    s.started == s.completed + s.compensated + s.inconsistent + r.in_flight
}

/// An orchestrator `orders` (2 replicas, `orders_fields` added) whose saga calls `a` (2 ms),
/// `b` (1 s of work, `b_fields` added) and `c` (2 ms), each with an `undo`; shoppers arrive at
/// 20/s until 10 s (then at 10^-9/s: a rate must be above 0); the run lasts 60 s.
fn scenario(orders_fields: &str, b_fields: &str, faults: &str) -> String {
    format!(
        r#"Scenario(version: 1, name: "saga-log", duration: "60s",
    services: [
        Service(name: "orders", workers: 100, replicas: 2, service_time: Constant(value: "1ms"){orders_fields},
                saga: [(call: (to: "a"), compensate: (to: "a", endpoint: "undo")),
                       (call: (to: "b"), compensate: (to: "b", endpoint: "undo")),
                       (call: (to: "c"), compensate: (to: "c", endpoint: "undo"))]),
        Service(name: "a", workers: 100, service_time: Constant(value: "2ms"),
                endpoints: [(name: "undo", service_time: Constant(value: "2ms"))]),
        Service(name: "b", workers: 100, service_time: Constant(value: "1s"){b_fields},
                endpoints: [(name: "undo", service_time: Constant(value: "2ms"))]),
        Service(name: "c", workers: 100, service_time: Constant(value: "2ms"),
                endpoints: [(name: "undo", service_time: Constant(value: "2ms"))]),
    ],
    clients: [Client(name: "shoppers", to: "orders", arrivals: Poisson(rate_per_s: 20.0),
                     profile: [Step(at: "10s", rate_per_s: 0.000000001)])],
    faults: [{faults}],
)"#
    )
}

const LOG: &str = ", saga_log: true";
const CRASH: &str =
    r#"Crash(target: Replica(service: "orders", index: 0), at: "9.5s", restart_after: "5s")"#;

#[test]
fn with_the_log_a_crash_leaves_no_saga_in_flight_and_without_it_abandons_them() {
    let mut recovered_total = 0;
    for seed in 1..=20 {
        let without = run_text(&scenario("", "", CRASH), seed);
        let with = run_text(&scenario(LOG, "", CRASH), seed);
        let (w, l) = (&without.sagas[0], &with.sagas[0]);
        assert!(balanced(w) && balanced(l), "seed {seed}: {w:?} {l:?}");
        // Without the log the crash abandons the sagas replica 0 was running (each is in
        // step b, a second long: about 10 of them); nobody resumes them.
        assert!(w.in_flight > 0, "seed {seed}: {w:?}");
        assert_eq!(w.recovered, None);
        // With it, none is left, and the ones resumed are exactly the ones abandoned without
        // it (the runs are the same until the restart), each counted once.
        assert_eq!(l.in_flight, 0, "seed {seed}: {l:?}");
        assert_eq!(l.recovered, Some(w.in_flight), "seed {seed}");
        assert_eq!(l.stats.started, w.stats.started, "seed {seed}");
        // b cannot fail: every resumed saga completes, but answers nobody. Its shopper's
        // request failed with the crash; the shoppers see what they saw without the log.
        assert_eq!(l.stats.completed, l.stats.started, "seed {seed}: {l:?}");
        let (wu, lu) = (&without.clients[0].stats, &with.clients[0].stats);
        assert_eq!(wu.ok, w.stats.completed, "seed {seed}");
        assert_eq!(lu.ok, wu.ok, "seed {seed}");
        assert_eq!(lu.ok + w.in_flight, l.stats.completed, "seed {seed}");
        // b is idempotent (the default): the step sent again is no duplicate.
        assert_eq!(l.stats.duplicates, 0, "seed {seed}");
        recovered_total += w.in_flight;
    }
    // About 10 sagas a crash (20/s, half of them on replica 0, a second each).
    assert!(recovered_total > 100, "{recovered_total}");
}

#[test]
fn a_saga_living_through_two_crashes_is_recovered_once() {
    // Replica 0 restarts at 10.5 s (no arrivals after 10 s) and crashes again at 11 s, while
    // the sagas it resumed are still in step b; it resumes them again at 12 s. Each is
    // counted once: as many as the first crash abandoned without a log (the second crash
    // finds no saga there without one).
    let twice = r#"Crash(target: Replica(service: "orders", index: 0), at: "9.5s", restart_after: "1s"),
                   Crash(target: Replica(service: "orders", index: 0), at: "11s", restart_after: "1s")"#;
    for seed in 1..=20 {
        let without = run_text(&scenario("", "", twice), seed);
        let with = run_text(&scenario(LOG, "", twice), seed);
        let (w, l) = (&without.sagas[0], &with.sagas[0]);
        assert!(w.in_flight > 0, "seed {seed}: {w:?}");
        assert_eq!(l.recovered, Some(w.in_flight), "seed {seed}: {l:?}");
        assert_eq!(l.in_flight, 0, "seed {seed}: {l:?}");
        assert!(balanced(l), "seed {seed}: {l:?}");
        assert_eq!(l.stats.completed, l.stats.started, "seed {seed}: {l:?}");
    }
}

#[test]
fn books_balance_under_repeated_random_crashes() {
    // Replicas fail every few seconds and come back after about one: sagas are resumed, some
    // crash again mid-way, some are resumed again. None is ever ended twice (the books and
    // the world's own check that every running saga is counted in flight would break).
    let chaos = r#"Chaos(target: Service("orders"), mttf: Exponential(mean: "3s"),
                         mttr: Exponential(mean: "1s"))"#;
    for seed in 1..=20 {
        let r = run_text(&scenario(LOG, "", chaos), seed);
        let s = &r.sagas[0];
        assert!(balanced(s), "seed {seed}: {s:?}");
        let recovered = s.recovered.expect("a log");
        assert!(recovered > 0, "seed {seed}: {s:?}");
        assert!(recovered <= s.stats.started, "seed {seed}: {s:?}");
        // The chaos goes on after the arrivals stop: only a replica down at the end can
        // hold sagas then.
        assert!(s.in_flight <= recovered, "seed {seed}: {s:?}");
        assert_eq!(
            s.stats.completed + s.in_flight,
            s.stats.started,
            "seed {seed}"
        );
    }
}

#[test]
fn a_step_sent_again_at_a_non_idempotent_callee_is_a_duplicate() {
    // The sagas caught by the crash are in step b, whose work (a second) began before the
    // crash and ends after it: the step sent again at the restart executes it a second time.
    let (mut duplicates, mut recovered_total) = (0, 0);
    for seed in 1..=10 {
        let r = run_text(&scenario(LOG, ", idempotent: false", CRASH), seed);
        let s = &r.sagas[0];
        let recovered = s.recovered.expect("a log");
        assert!(recovered > 0, "seed {seed}: {s:?}");
        // A resumed saga that was in step b, whose execution had begun, is one duplicate; one
        // caught in a or c (2 ms each, against b's second) is none. The callee's own count
        // (repeats of one call) sees none of them: the step sent again is a new call.
        assert!(s.stats.duplicates <= recovered, "seed {seed}: {s:?}");
        let b = r.services.iter().find(|x| x.name == "b").unwrap();
        assert_eq!(b.duplicate_side_effects, 0, "seed {seed}");
        duplicates += s.stats.duplicates;
        recovered_total += recovered;
        // Without the log nothing is sent again: no duplicate.
        let r = run_text(&scenario("", ", idempotent: false", CRASH), seed);
        assert_eq!(r.sagas[0].stats.duplicates, 0, "seed {seed}");
    }
    // Nearly every saga caught by the crash was in b (a second of it against 5 ms of a and c).
    assert!(
        duplicates * 10 >= recovered_total * 9 && duplicates > 50,
        "{duplicates} of {recovered_total}"
    );
}

#[test]
fn recovered_is_reported_in_every_format_only_with_a_log() {
    let logged = library("saga-checkout-crash-logged.ron");
    let json = report(&logged, 1, "json");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sagas = &doc["sagas"]["orders"];
    assert!(sagas["recovered"].as_u64().unwrap() > 0, "{sagas}");
    for format in ["text", "md", "html"] {
        let out = report(&logged, 1, format);
        assert!(out.contains("recovered"), "{format}: {out}");
    }
    let plain = library("saga-checkout-crash.ron");
    let doc: serde_json::Value = serde_json::from_str(&report(&plain, 1, "json")).unwrap();
    assert!(doc["sagas"]["orders"].get("recovered").is_none());
    let text = report(&plain, 1, "text");
    let header = text
        .lines()
        .find(|l| l.starts_with("saga "))
        .expect("a sagas table");
    assert!(header.ends_with("duplicates"), "{header}");
    // The twin: the same sagas started; the log leaves only the sagas still running at the
    // end in flight (the crash's were resumed), while the plain twin keeps them.
    let a = run_library_sagas("saga-checkout-crash.ron");
    let b = run_library_sagas("saga-checkout-crash-logged.ron");
    assert_eq!(a.stats.started, b.stats.started);
    let resumed = b.recovered.unwrap();
    assert!(resumed > 0);
    assert!(b.in_flight + resumed <= a.in_flight + 5, "{a:?} {b:?}");
}

fn run_library_sagas(name: &str) -> SagaReport {
    let loaded = scenarios::load(&library(name)).unwrap_or_else(|e| panic!("{e}"));
    let r = World::new(&loaded.config, 1).run(RunOptions::default());
    r.sagas[0].clone()
}

#[test]
fn a_saga_log_without_a_saga_is_rejected_at_its_place() {
    let text = scenario(LOG, "", "").replace(
        r#"Service(name: "a", workers: 100,"#,
        r#"Service(name: "a", saga_log: true, workers: 100,"#,
    );
    let e = match scenarios::load_str(Path::new("bad.ron"), &text) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("a saga log without a saga"), "{e}");
    assert!(e.contains("services[1].saga_log"), "{e}");
    let line: usize = e.split(':').nth(1).unwrap().parse().expect("a line number");
    assert_eq!(line, 7, "placed at service a: {e}");
    let typo = scenario(", saga_logs: true", "", "");
    assert!(scenarios::load_str(Path::new("bad.ron"), &typo).is_err());
    let dir = temp_dir("saga-log-bad");
    let file = dir.join("bad.ron");
    std::fs::write(&file, &text).unwrap();
    let out = faultline(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("saga_log"), "{}", stderr(&out));
}
