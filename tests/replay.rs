//! End-to-end tests of `faultline replay`: fingerprints against `run` and `sweep`, JSON Lines
//! traces and their filters, Chrome traces for Perfetto, and the story of one request.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

const CHECKOUT: &str = "scenarios/library/checkout.ron";
const STORM: &str = "scenarios/library/metastable-retry-storm.ron";

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The JSON Lines of a trace file, each parsed, with its `type` and `data` checked.
fn trace_lines(path: &Path) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(path).expect("the trace file");
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let kind = v["type"].as_str().expect("type").to_string();
            let data = v["data"].clone();
            assert!(data.is_object(), "data in {line}");
            assert!(data["t_ns"].is_u64() && data["t"].is_f64(), "{line}");
            // Crashes, restarts and fault windows belong to no request.
            let of_no_request = [
                "fault_start",
                "fault_end",
                "replica_crash",
                "replica_restart",
            ];
            if of_no_request.contains(&kind.as_str()) {
                assert!(data.get("request").is_none(), "{line}");
            } else {
                assert!(data["request"].as_u64().is_some_and(|r| r >= 1), "{line}");
            }
            (kind, data)
        })
        .collect()
}

#[test]
fn replay_reproduces_the_fingerprint_of_run() {
    let report: Value = serde_json::from_str(&check(&library("checkout.ron"), 3)).expect("json");
    let fingerprint = report["fingerprint"].as_str().expect("fingerprint");
    let events = &report["events"];
    let out = ok(&["replay", CHECKOUT, "--seed", "3"]);
    assert_eq!(
        out,
        format!("replay: scenario checkout seed 3 fingerprint {fingerprint} events {events}\n")
    );
    ok(&[
        "replay",
        CHECKOUT,
        "--seed",
        "3",
        "--expect-fingerprint",
        fingerprint,
    ]);

    let wrong = faultline(&[
        "replay",
        CHECKOUT,
        "--seed",
        "3",
        "--expect-fingerprint",
        "0123456789abcdef",
    ]);
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));
    assert_eq!(
        stderr(&wrong),
        format!("error: fingerprint mismatch: expected 0123456789abcdef, got {fingerprint}\n")
    );
    // The summary is still printed, so the actual fingerprint is at hand.
    assert!(stdout(&wrong).contains(fingerprint));

    let malformed = faultline(&[
        "replay",
        CHECKOUT,
        "--seed",
        "3",
        "--expect-fingerprint",
        "xyz",
    ]);
    assert_eq!(malformed.status.code(), Some(2));
    assert!(stderr(&malformed).contains("expected 16 hexadecimal digits"));
}

#[test]
fn replay_reproduces_the_runs_of_a_sweep() {
    let doc = ok(&[
        "sweep",
        STORM,
        "--seeds",
        "3..4",
        "--set",
        "clients.users.retry.max_attempts=1,4",
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_str(&doc).expect("json");
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 4);
    // Points in order, seeds in order within a point.
    for (run, attempts) in runs.iter().zip(["1", "1", "4", "4"]) {
        let seed = run["seed"].as_u64().expect("seed").to_string();
        let fingerprint = run["fingerprint"].as_str().expect("fingerprint");
        let set = format!("clients.users.retry.max_attempts={attempts}");
        let out = ok(&[
            "replay",
            STORM,
            "--seed",
            &seed,
            "--set",
            &set,
            "--expect-fingerprint",
            fingerprint,
        ]);
        assert!(out.contains(&format!("fingerprint {fingerprint}")), "{out}");
    }
}

#[test]
fn trace_filter_selects_payments_within_the_time_range() {
    let dir = temp_dir("replay-filter");
    let trace = dir.join("payments.jsonl");
    ok(&[
        "replay",
        CHECKOUT,
        "--seed",
        "1",
        "--trace",
        path_str(&trace),
        "--filter",
        "service=payments,t=120s..121s",
    ]);
    let lines = trace_lines(&trace);
    assert!(lines.len() > 100, "{} lines", lines.len());
    for (kind, data) in &lines {
        assert_eq!(data["service"], "payments", "{kind} {data}");
        let t = data["t_ns"].as_u64().expect("t_ns");
        assert!(
            (120_000_000_000..121_000_000_000).contains(&t),
            "{kind} {data}"
        );
    }
    let kinds: Vec<&str> = lines.iter().map(|(k, _)| k.as_str()).collect();
    for kind in [
        "attempt_sent",
        "work_start",
        "work_done",
        "reply_sent",
        "timeout",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing");
    }
    // Work started in the fault window was slowed by it, and says so.
    let work = lines
        .iter()
        .find(|(k, _)| k == "work_start")
        .map(|(_, d)| d)
        .expect("work");
    assert_eq!(work["slowed_by"], 10);
    assert_eq!(work["fault"], "payments latency x10");
    assert!(
        work["instance"]
            .as_str()
            .expect("instance")
            .starts_with("payments/")
    );
    // A no-op filter changes nothing: the same bytes twice.
    let again = dir.join("again.jsonl");
    ok(&[
        "replay",
        CHECKOUT,
        "--seed",
        "1",
        "--trace",
        path_str(&again),
        "--filter",
        "service=payments,t=120s..121s",
    ]);
    assert_eq!(
        std::fs::read(&trace).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn a_whole_trace_has_every_step_of_every_request() {
    let dir = temp_dir("replay-whole");
    let trace = dir.join("all.jsonl");
    ok(&[
        "replay",
        CHECKOUT,
        "--seed",
        "2",
        "--max-events",
        "20000",
        "--trace",
        path_str(&trace),
    ]);
    let lines = trace_lines(&trace);
    let starts = lines.iter().filter(|(k, _)| k == "request_start").count() as u64;
    let last = lines
        .iter()
        .filter(|(k, _)| k == "request_start")
        .map(|(_, d)| d["request"].as_u64().expect("request"))
        .max()
        .expect("requests");
    assert_eq!(starts, last, "request ids count arrivals from 1");
    assert!(
        lines
            .iter()
            .all(|(_, d)| d["request"].as_u64().unwrap() <= last)
    );
    let t: Vec<u64> = lines
        .iter()
        .map(|(_, d)| d["t_ns"].as_u64().unwrap())
        .collect();
    assert!(t.windows(2).all(|w| w[0] <= w[1]), "in time order");
}

#[test]
fn chrome_trace_is_json_with_spans_and_instant_events() {
    let dir = temp_dir("replay-chrome");
    let chrome = dir.join("trace.json");
    ok(&[
        "replay",
        CHECKOUT,
        "--seed",
        "1",
        "--filter",
        "t=150s..151s",
        "--chrome-trace",
        path_str(&chrome),
    ]);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&chrome).expect("file")).expect("json");
    assert_eq!(doc["displayTimeUnit"], "ms");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    for e in events {
        for key in ["name", "ph", "ts", "pid", "tid"] {
            assert!(e.get(key).is_some(), "{key} missing in {e}");
        }
        assert!(
            e["ts"].is_number() && e["pid"].is_u64() && e["tid"].is_u64(),
            "{e}"
        );
        match e["ph"].as_str().expect("ph") {
            "X" => {
                assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
                // A fault's window belongs to no request.
                if e["cat"] == "fault" {
                    assert!(e["args"].get("request").is_none(), "{e}");
                } else {
                    assert!(e["args"]["request"].is_u64(), "{e}");
                }
            }
            "i" => assert!(matches!(e["s"].as_str(), Some("t" | "p")), "{e}"),
            "M" => assert!(e["args"].is_object()),
            other => panic!("unexpected phase {other}"),
        }
    }
    let count = |ph: &str, cat: &str| {
        events
            .iter()
            .filter(|e| e["ph"] == ph && e["cat"] == cat)
            .count()
    };
    for cat in ["request", "attempt", "work", "call"] {
        assert!(count("X", cat) > 0, "no {cat} spans");
    }
    for cat in ["timeout", "retry_scheduled", "rejected", "late_reply"] {
        assert!(count("i", cat) > 0, "no {cat} instants");
    }
    let named = |what: &str| {
        events
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == what)
            .map(|e| e["args"]["name"].as_str().expect("name").to_string())
            .collect::<Vec<_>>()
    };
    let processes = named("process_name");
    for p in ["client shoppers", "service frontend", "service payments"] {
        assert!(processes.iter().any(|n| n == p), "{p} in {processes:?}");
    }
    let threads = named("thread_name");
    assert!(threads.iter().any(|t| t == "payments/15"), "{threads:?}");
    assert!(
        threads.iter().any(|t| t == "shoppers lane 0"),
        "{threads:?}"
    );
}

#[test]
fn bad_filters_exit_2_without_writing() {
    let dir = temp_dir("replay-bad-filter");
    let trace = dir.join("never.jsonl");
    let cases = [
        ("colour=red", "unknown filter key \"colour\""),
        (
            "service=nope",
            "unknown service \"nope\"; the services are frontend, checkout",
        ),
        ("t=120s", "expected a time range such as 120s..130s"),
        ("kind=timeouts", "unknown kind \"timeouts\""),
        ("instance=payments/16", "payments has 16 workers"),
    ];
    for (filter, message) in cases {
        let out = faultline(&[
            "replay",
            CHECKOUT,
            "--seed",
            "1",
            "--trace",
            path_str(&trace),
            "--filter",
            filter,
        ]);
        assert_eq!(out.status.code(), Some(2), "{filter}");
        let err = stderr(&out);
        assert!(err.starts_with("error: --filter "), "{filter}: {err}");
        assert!(err.contains(message), "{filter}: {err}");
        assert!(!err.contains("panicked"));
        assert!(!trace.exists());
    }
    let out = faultline(&["replay", CHECKOUT, "--seed", "1", "--explain", "999999999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--explain 999999999: no such request in this run"));
}

#[test]
fn explain_tells_how_a_request_in_the_fault_window_timed_out_and_was_retried() {
    // Find a request whose checkout -> payments attempt timed out during the fault.
    let dir = temp_dir("replay-explain");
    let trace = dir.join("retries.jsonl");
    ok(&[
        "replay",
        CHECKOUT,
        "--seed",
        "1",
        "--trace",
        path_str(&trace),
        "--filter",
        "service=payments,kind=retry_scheduled,t=150s..151s",
    ]);
    let lines = trace_lines(&trace);
    let (_, retry) = lines
        .iter()
        .find(|(_, d)| d["outcome"] == "timeout")
        .expect("a payments attempt timed out and was retried");
    assert_eq!(retry["edge"], "checkout -> payments");
    let request = retry["request"].as_u64().expect("request").to_string();
    let out = ok(&["replay", CHECKOUT, "--seed", "1", "--explain", &request]);
    let story = out.split_once("\n\n").expect("summary, then the story").1;
    for needle in [
        format!("request {request}: from client shoppers to frontend"),
        "shoppers -> frontend: attempt 1 sent".into(),
        "frontend -> checkout: call 1 of #".into(),
        "checkout -> payments: attempt 1 (#".into(),
        "timed out after 500ms".into(),
        "failed (timeout); retry (attempt 2) after a backoff of".into(),
        "(slowed x10 by fault payments latency x10)".into(),
        format!("request {request} finished: "),
        "outcome: ".into(),
    ] {
        assert!(story.contains(&needle), "{needle:?} missing in\n{story}");
    }
}
