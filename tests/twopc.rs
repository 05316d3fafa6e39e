//! Two-phase commit end to end: without faults every transaction commits; the books balance
//! (started = committed + aborted + in flight, and the coordinator's callers see exactly the
//! commits); a participant voting no aborts the transaction everywhere; a coordinator that
//! crashes between prepare and commit leaves its participants blocked, locks held, for its
//! downtime; the locks are real (later transactions wait for them); bad `two_phase`s are
//! rejected at their place with exit code 2.

mod common;

use std::path::Path;

use common::*;
use models::data::twopc::TwoPcReport;
use models::{RunOptions, RunResult, World};
use sim_core::SimDuration;

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded =
        scenarios::load_str(Path::new("twopc.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn load_error(text: &str, what: &str) -> String {
    match scenarios::load_str(Path::new("bad.ron"), text) {
        Ok(_) => panic!("{what}: loaded"),
        Err(e) => e.to_string(),
    }
}

fn balanced(r: &TwoPcReport) -> bool {
    let s = &r.stats;
    s.started == s.committed + s.aborted + r.in_flight
}

/// A coordinator `orders` (`replicas` of it) whose transactions lock one of `resources` at `a`
/// (2 ms of work) and `b` (20 ms), with the given faults.
fn scenario(replicas: u32, resources: u32, rate: f64, faults: &str, duration: &str) -> String {
    format!(
        r#"Scenario(version: 1, name: "twopc", duration: "{duration}",
    services: [
        Service(name: "orders", workers: 500, replicas: {replicas},
                service_time: Constant(value: "1ms"),
                two_phase: (participants: [(to: "a", timeout: "1s"), (to: "b", timeout: "1s")],
                            resources: {resources})),
        Service(name: "a", workers: 100, service_time: Constant(value: "2ms")),
        Service(name: "b", workers: 100, service_time: Constant(value: "20ms")),
    ],
    clients: [Client(name: "users", to: "orders", arrivals: Poisson(rate_per_s: {rate}))],
    faults: [{faults}],
)"#
    )
}

#[test]
fn without_faults_every_transaction_commits_across_seeds() {
    for seed in 1..=20 {
        let r = run_text(&scenario(2, 1_000_000, 50.0, "", "30s"), seed);
        let t = &r.two_phase[0];
        assert!(t.stats.started > 1_000, "seed {seed}: {t:?}");
        assert_eq!(t.stats.aborted, 0, "seed {seed}: {t:?}");
        assert_eq!(t.stats.blocked, 0, "seed {seed}: {t:?}");
        assert!(balanced(t), "seed {seed}: {t:?}");
        // Only those started in the run's last moments (about 50/s x 21 ms of them).
        assert!(t.in_flight <= 10, "seed {seed}: {t:?}");
        let users = &r.clients[0].stats;
        assert_eq!(users.ok, t.stats.committed, "seed {seed}");
        assert_eq!(users.failed(), 0, "seed {seed}");
    }
}

#[test]
fn the_books_balance_and_the_callers_see_the_commits() {
    let faults = [
        "",
        r#"Errors(service: "b", rate: 0.3, from: "2s", to: "8s")"#,
        r#"Crash(target: Replica(service: "orders", index: 0), at: "3s", restart_after: "2s")"#,
        r#"Crash(target: Replica(service: "b", index: 0), at: "3s", restart_after: "2s")"#,
    ];
    for f in faults {
        for seed in 1..=5 {
            // Few resources: transactions contend for locks too.
            let r = run_text(&scenario(2, 20, 100.0, f, "10s"), seed);
            let t = &r.two_phase[0];
            assert!(balanced(t), "{f} seed {seed}: {t:?}");
            assert_eq!(r.clients[0].stats.ok, t.stats.committed, "{f} seed {seed}");
        }
    }
}

#[test]
fn a_participant_voting_no_aborts_the_transaction_at_every_participant() {
    let f = r#"Errors(service: "b", rate: 1.0, from: "0s", to: "20s")"#;
    let r = run_text(&scenario(1, 1_000_000, 50.0, f, "10s"), 3);
    let t = &r.two_phase[0];
    assert!(t.stats.started > 300, "{t:?}");
    assert_eq!(t.stats.committed, 0, "{t:?}");
    assert!(balanced(t));
    assert_eq!(r.clients[0].stats.ok, 0);
    // `a` voted yes and then got the abort: two messages per decided transaction, and no lock
    // of a decided transaction is left.
    let a = r.services.iter().find(|s| s.name == "a").expect("a");
    let sent = t.stats.started + t.stats.aborted;
    assert!(
        a.stats.requests <= sent && a.stats.requests + 2 >= sent,
        "{t:?} {}",
        a.stats.requests
    );
    assert!(t.locks_held <= t.in_flight, "{t:?}");
}

#[test]
fn a_coordinator_crash_between_prepare_and_commit_blocks_its_participants_for_its_downtime() {
    let downtime = SimDuration::from_secs(5);
    // The slowest participant's own work: the decision reaches a participant's lock once the
    // participant has done the work of the abort message (the network takes no time here).
    let work = SimDuration::from_millis(20);
    let crash =
        r#"Crash(target: Replica(service: "orders", index: 0), at: "10s", restart_after: "5s")"#;
    let mut blocked = 0;
    for seed in 1..=10 {
        let r = run_text(&scenario(1, 1_000_000, 200.0, crash, "30s"), seed);
        let t = &r.two_phase[0];
        assert!(balanced(t), "seed {seed}: {t:?}");
        // Only those started in the run's last moments: the restart resolved the others.
        assert!(t.in_flight <= 20, "seed {seed}: {t:?}");
        let s = &t.stats;
        blocked += s.blocked;
        if s.blocked == 0 {
            continue;
        }
        assert!(
            s.blocked_max >= downtime && s.blocked_max <= downtime + work,
            "seed {seed}: {t:?}"
        );
        let mean = s.blocked_total.as_nanos() / s.blocked;
        assert!(
            mean + work.as_nanos() >= downtime.as_nanos(),
            "seed {seed}: {t:?}"
        );
        // Presumed abort: those blocked were aborted, and nothing else was (no contention).
        assert_eq!(s.aborted, s.blocked, "seed {seed}: {t:?}");
    }
    // About 200/s x 20 ms = 4 transactions are in flight when the crash comes.
    assert!(blocked >= 10, "{blocked}");
}

#[test]
fn a_blocked_lock_makes_later_transactions_wait_and_abort() {
    // Two resources and two coordinators: the crashed one's prepared transactions hold the
    // rows, and the healthy replica's transactions for them wait until their prepare times
    // out.
    let crash =
        r#"Crash(target: Replica(service: "orders", index: 0), at: "10s", restart_after: "5s")"#;
    // A transaction is undecided for the ~18 ms between its prepares' answers, and the crashed
    // replica starts about 10 a second, so a seed hits with probability about 0.18: 60 seeds
    // give about 11 hits (fewer than 3 with probability under 1e-3).
    let mut hits = 0;
    for seed in 1..=60 {
        let hit = run_text(&scenario(2, 2, 20.0, crash, "30s"), seed);
        let h = &hit.two_phase[0];
        if h.stats.blocked == 0 {
            // No transaction was undecided on the replica when it crashed.
            continue;
        }
        hits += 1;
        let calm = run_text(&scenario(2, 2, 20.0, "", "30s"), seed);
        let c = &calm.two_phase[0];
        // Without the crash a lock is held for one transaction's prepare and commit (tens of
        // milliseconds); with it, the waits last until the prepare's 1 s timeout.
        assert!(c.lock_wait_max < SimDuration::from_millis(200), "{c:?}");
        assert!(h.lock_wait_max >= SimDuration::from_millis(900), "{h:?}");
        // The time spent waiting, not the count of waits: the crashed replica's refused
        // requests start no transaction, which can leave fewer waits in all.
        assert!(h.lock_wait_total > c.lock_wait_total, "{c:?} {h:?}");
        assert!(
            h.stats.aborted > c.stats.aborted + h.stats.blocked,
            "{c:?} {h:?}"
        );
    }
    assert!(hits >= 3, "{hits}");
}

#[test]
fn two_phase_commits_are_deterministic_and_absent_without_them() {
    let a = report(&library("twopc-checkout-crash.ron"), 7, "json");
    let b = report(&library("twopc-checkout-crash.ron"), 7, "json");
    assert_eq!(a, b);
    assert!(a.contains("\"two_phase\""));
    assert!(!report(&library("checkout.ron"), 1, "json").contains("\"two_phase\""));
    for format in ["text", "md", "html"] {
        let out = report(&library("twopc-checkout-crash.ron"), 1, format);
        assert!(out.contains("blocked max"), "{format}: {out}");
    }
}

#[test]
fn bad_two_phases_are_rejected_at_their_place() {
    let good = scenario(1, 10, 5.0, "", "5s");
    let cases = [
        (
            good.replace(r#"(to: "b", timeout"#, r#"(to: "bx", timeout"#),
            "unknown service \"bx\"",
        ),
        (
            good.replace(r#"(to: "b", timeout"#, r#"(to: "a", timeout"#),
            "distinct participants",
        ),
        (
            good.replace("resources: 10", "resources: 0"),
            "expected 1 to 1000000",
        ),
        (
            good.replace(r#"(to: "b", timeout: "1s")"#, r#"(parallel: [(to: "b")])"#),
            "naming its callee with `to`",
        ),
        (
            good.replace(
                r#"(to: "b", timeout"#,
                r#"(to: "b", endpoint: "nope", timeout"#,
            ),
            "has no endpoint \"nope\"",
        ),
        (
            good.replace(
                r#"(to: "b", timeout"#,
                r#"(to: "b", probability: 0.5, timeout"#,
            ),
            "always called",
        ),
        (
            good.replace("two_phase: (", r#"calls: [(to: "a")], two_phase: ("#),
            "no `calls` or `saga` beside it",
        ),
        (
            good.replace(
                "participants: [(to: \"a\", timeout: \"1s\"), ",
                "participants: [",
            ),
            "",
        ),
    ];
    for (text, expected) in &cases[..cases.len() - 1] {
        let e = load_error(text, expected);
        assert!(e.contains(expected), "{e}");
        assert!(e.starts_with("bad.ron:"), "{e}");
        let line: usize = e.split(':').nth(1).unwrap().parse().expect("a line number");
        assert!(line >= 3, "placed at the two_phase: {e}");
    }
    // One participant is a valid (if pointless) transaction.
    run_text(&cases[cases.len() - 1].0, 1);
    let typo = good.replace("resources:", "resource:");
    let e = load_error(&typo, "typo");
    assert!(e.starts_with("bad.ron:"), "{e}");
    // The binary exits 2 with the position.
    let dir = temp_dir("twopc-bad");
    let file = dir.join("bad.ron");
    std::fs::write(&file, &cases[0].0).unwrap();
    let out = faultline(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("two_phase.participants[1].to"),
        "{}",
        stderr(&out)
    );
}
