//! 2PC decisions re-sent (issue 14): a coordinator re-sends its logged decision until every
//! participant acknowledges it (Gray and Reuter, ch. 10). A partition between the coordinator
//! and one participant during the decision keeps that participant's lock until the partition
//! heals, then the re-sent decision releases it: no lock is left at the end, and the blocked
//! time is the partition's remaining length, within one re-send cycle. A coordinator crash
//! pauses the re-sends; its restart resumes them. A `decision_retry` of 0 is rejected.

mod common;

use std::path::Path;

use common::*;
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded =
        scenarios::load_str(Path::new("twopc.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// `orders` on host h1 coordinates `a` (h1, 2 ms) and `b` (h2, 20 ms), prepares and decisions
/// timing out after 1 s, decisions re-sent `decision_retry` after a failure; 500 orders/s until
/// 25 s (then none: at the end of the 40 s run nothing is in flight); `partitions` and `faults`
/// as given.
fn scenario(decision_retry: &str, partitions: &str, faults: &str) -> String {
    format!(
        r#"Scenario(version: 1, name: "twopc-resend", duration: "40s",
    topology: (regions: [(name: "r", zones: [(name: "z", hosts: ["h1", "h2"])])]),
    network: (latency: Constant(value: "500us"), partitions: [{partitions}]),
    services: [
        Service(name: "orders", workers: 2000, placement: Hosts(["h1"]),
                service_time: Constant(value: "1ms"),
                two_phase: (participants: [(to: "a", timeout: "1s"), (to: "b", timeout: "1s")],
                            resources: 1000000{decision_retry})),
        Service(name: "a", workers: 200, placement: Hosts(["h1"]),
                service_time: Constant(value: "2ms")),
        Service(name: "b", workers: 200, placement: Hosts(["h2"]),
                service_time: Constant(value: "20ms")),
    ],
    clients: [Client(name: "users", to: "orders", host: "h1",
                     arrivals: Poisson(rate_per_s: 500.0),
                     profile: [Step(at: "25s", rate_per_s: 0.000000001)])],
    faults: [{faults}],
)"#
    )
}

/// Orders to b and b's answers are lost from 10 s to 20 s.
const PARTITION: &str = r#"(from: "10s", to: "20s", a: [Host("h1")], b: [Host("h2")])"#;

#[test]
fn a_partition_during_the_decision_holds_the_lock_until_it_heals_then_the_resend_releases_it() {
    let retry = 1.0;
    for seed in 1..=10 {
        let r = run_text(&scenario("", PARTITION, ""), seed);
        let t = &r.two_phase[0];
        let s = &t.stats;
        // Every transaction is decided and every lock released.
        assert_eq!(t.in_flight, 0, "seed {seed}: {t:?}");
        assert_eq!(t.locks_held, 0, "seed {seed}: {t:?}");
        assert_eq!(s.committed + s.aborted, s.started, "seed {seed}");
        // The transactions whose yes vote from b was lost (b prepared in the 20 ms before the
        // partition, about 10) abort at their prepare's timeout, about 1 s into it; their
        // abort cannot reach b until 20 s. The prepares sent during the partition never
        // reached b: aborted too, nothing locked at b, but their aborts are re-sent as well.
        assert!(s.blocked >= 1, "seed {seed}: {t:?}");
        assert!(s.aborted > 4_000, "seed {seed}: {t:?}");
        assert!(s.decision_resends > s.aborted, "seed {seed}: {t:?}");
        // Blocked from the decision (about 11 s, a prepare timeout into the partition) to the
        // first re-send after the heal: the partition's remaining length, 9 s, plus at most
        // one cycle of a decision call timing out (1 s) and the re-send's wait (1 s), and a
        // few milliseconds of network and work.
        let remaining = 10.0 - 1.0;
        let max = s.blocked_max.as_secs_f64();
        assert!(
            max >= remaining - 0.05 && max <= remaining + 1.0 + retry + 0.1,
            "seed {seed}: blocked max {max} s"
        );
        let mean = s.blocked_total.as_secs_f64() / s.blocked as f64;
        assert!(
            mean >= remaining - 0.05,
            "seed {seed}: blocked mean {mean} s"
        );
    }
}

#[test]
fn a_shorter_decision_retry_releases_sooner_and_resends_more() {
    let slow = run_text(&scenario(", decision_retry: \"3s\"", PARTITION, ""), 3);
    let fast = run_text(&scenario(", decision_retry: \"100ms\"", PARTITION, ""), 3);
    let (s, f) = (&slow.two_phase[0].stats, &fast.two_phase[0].stats);
    assert_eq!(slow.two_phase[0].locks_held, 0);
    assert_eq!(fast.two_phase[0].locks_held, 0);
    // One cycle is the decision call's 1 s timeout plus the retry: 4 s or 1.1 s.
    assert!(f.decision_resends > s.decision_resends, "{f:?} {s:?}");
    assert!(f.blocked_max < s.blocked_max, "{f:?} {s:?}");
    assert!(f.blocked_max.as_secs_f64() <= 9.0 + 1.1 + 0.1, "{f:?}");
}

#[test]
fn a_coordinator_crash_pauses_the_resends_and_its_restart_resumes_them() {
    // The coordinator is down from 12 s to 30 s: the partition heals at 20 s, but nobody
    // re-sends until 30 s. The locks are released only then.
    let crash =
        r#"Crash(target: Replica(service: "orders", index: 0), at: "12s", restart_after: "18s")"#;
    let r = run_text(&scenario("", PARTITION, crash), 2);
    let t = &r.two_phase[0];
    assert_eq!(t.locks_held, 0, "{t:?}");
    assert_eq!(t.in_flight, 0, "{t:?}");
    let max = t.stats.blocked_max.as_secs_f64();
    // Decided at about 11 s, the decision reaches b only after the restart at 30 s (19 s),
    // not at the heal (9 s). The restart sends every paused decision and every presumed abort
    // at once, about 2,000 calls; b has no queue (the default) and refuses what its 200 busy
    // workers cannot take: those get through a cycle or two later (a cycle: the call's
    // failure, at once or after its 1 s timeout, then the 1 s wait).
    assert!(
        (19.0..=19.0 + 2.0 * 2.0 + 0.1).contains(&max),
        "blocked max {max} s"
    );
    // Without any fault nothing is re-sent.
    let calm = run_text(&scenario("", "", ""), 2);
    assert_eq!(calm.two_phase[0].stats.decision_resends, 0);
    assert_eq!(calm.two_phase[0].stats.blocked, 0);
}

#[test]
fn resends_are_reported_in_every_format() {
    let file = library("twopc-checkout-crash.ron");
    let json = report(&file, 1, "json");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        doc["two_phase"]["orders"]["decision_resends"].is_u64(),
        "{json}"
    );
    for format in ["text", "md", "html"] {
        assert!(report(&file, 1, format).contains("resends"), "{format}");
    }
}

#[test]
fn a_zero_decision_retry_is_rejected_at_its_place() {
    let text = scenario(", decision_retry: \"0s\"", "", "");
    let e = match scenarios::load_str(Path::new("bad.ron"), &text) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("two_phase.decision_retry"), "{e}");
    assert!(e.contains("expected a duration above 0"), "{e}");
    let line: usize = e.split(':').nth(1).unwrap().parse().expect("a line number");
    assert_eq!(line, 8, "placed at decision_retry: {e}");
    let dir = temp_dir("twopc-resend-bad");
    let file = dir.join("bad.ron");
    std::fs::write(&file, &text).unwrap();
    let out = faultline(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("decision_retry"), "{}", stderr(&out));
}
