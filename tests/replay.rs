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
    // Fault windows, crashes and restarts have no request.
    assert!(
        lines
            .iter()
            .all(|(_, d)| d["request"].as_u64().is_none_or(|r| r <= last))
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
            "s" | "f" => assert!(e["id"].is_u64() && e["cat"] == "flow", "{e}"),
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
    // The fault's window (120 s to 240 s) meets the range.
    assert_eq!(count("X", "fault"), 1);
    // Flow arrows from an attempt's sending to the worker that takes it: every finish that has
    // its start in the window follows it, on another track.
    let flows = |ph: &str| {
        events
            .iter()
            .filter(|e| e["ph"] == ph)
            .map(|e| (e["id"].as_u64().expect("id"), e.clone()))
            .collect::<std::collections::BTreeMap<u64, Value>>()
    };
    let (starts, finishes) = (flows("s"), flows("f"));
    let paired: Vec<u64> = finishes
        .keys()
        .filter(|id| starts.contains_key(id))
        .copied()
        .collect();
    assert!(paired.len() > 100, "{} paired flows", paired.len());
    for id in paired {
        let (s, f) = (&starts[&id], &finishes[&id]);
        assert!(s["ts"].as_f64() <= f["ts"].as_f64(), "{s} {f}");
        assert_eq!(f["bp"], "e", "{f}");
        assert_ne!((&s["pid"], &s["tid"]), (&f["pid"], &f["tid"]), "{s} {f}");
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
        // The fault began before the request, so its start comes first.
        "120.000000000s  -".into(),
        "fault payments latency x10 begins".into(),
        format!("request {request} finished: "),
        "outcome: ".into(),
    ] {
        assert!(story.contains(&needle), "{needle:?} missing in\n{story}");
    }
}

const ZONE_OUTAGE: &str = "scenarios/library/zone-outage.ron";
const BREAKER: &str = "scenarios/library/metastable-breaker.ron";

/// Replays `scenario` with seed 1, writing the records `filter` selects, and parses them.
fn traced(scenario: &str, name: &str, filter: &str) -> Vec<(String, Value)> {
    let dir = temp_dir(name);
    let trace = dir.join("trace.jsonl");
    let args = [
        "replay",
        scenario,
        "--seed",
        "1",
        "--trace",
        path_str(&trace),
        "--filter",
        filter,
    ];
    ok(&args);
    trace_lines(&trace)
}

#[test]
fn a_zone_crash_shows_its_window_and_each_replica_crash_and_restart() {
    let lines = traced(
        ZONE_OUTAGE,
        "replay-crash",
        "kind=fault_start|fault_end|replica_crash|replica_restart",
    );
    let data = |kind: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, d)| d)
            .collect()
    };
    // Zone eu-c holds replica 2 of web and of catalog; it is down from 60 s to 120 s.
    let (starts, ends) = (data("fault_start"), data("fault_end"));
    assert_eq!(starts.len(), 1);
    assert_eq!(ends.len(), 1);
    assert_eq!(starts[0]["fault"], "zone eu-c crash");
    assert_eq!(starts[0]["t_ns"], 60_000_000_000u64);
    assert_eq!(ends[0]["fault"], "zone eu-c crash");
    assert_eq!(ends[0]["t_ns"], 120_000_000_000u64);
    let crashes = data("replica_crash");
    let restarts = data("replica_restart");
    for (crash, service) in crashes.iter().zip(["web", "catalog"]) {
        assert_eq!(crash["service"], service, "{crash}");
        assert_eq!(crash["replica"], 2, "{crash}");
        assert_eq!(crash["fault"], "zone eu-c crash", "{crash}");
        assert_eq!(crash["t_ns"], 60_000_000_000u64, "{crash}");
    }
    assert_eq!(crashes.len(), 2);
    assert_eq!(restarts.len(), 2);
    for restart in restarts {
        assert_eq!(restart["replica"], 2, "{restart}");
        assert_eq!(restart["t_ns"], 120_000_000_000u64, "{restart}");
        assert!(restart.get("slowed_by").is_none(), "{restart}");
    }
}

#[test]
fn a_breaker_shows_each_transition_from_and_to() {
    let lines = traced(BREAKER, "replay-breaker", "kind=breaker_transition");
    let steps: Vec<(String, String)> = lines
        .iter()
        .map(|(_, d)| {
            assert_eq!(d["edge"], "client:users -> api", "{d}");
            let state = |key: &str| d[key].as_str().expect("a state").to_string();
            (state("from"), state("to"))
        })
        .collect();
    assert!(steps.len() >= 2, "{steps:?}");
    assert_eq!(steps[0], ("closed".into(), "open".into()));
    // Each transition starts where the one before ended, and the breaker closes again.
    assert!(steps.windows(2).all(|w| w[0].1 == w[1].0), "{steps:?}");
    assert_eq!(steps.last().expect("steps").1, "closed");
    for (_, d) in &lines {
        let t = d["t_ns"].as_u64().expect("t_ns");
        assert!((60_000_000_000..90_000_000_000).contains(&t), "{d}");
    }
}

/// The story of request `request` of `scenario` with seed 1, after the replay's summary.
fn story(scenario: &str, request: u64) -> String {
    let out = ok(&[
        "replay",
        scenario,
        "--seed",
        "1",
        "--explain",
        &request.to_string(),
    ]);
    out.split_once("\n\n")
        .expect("summary, then the story")
        .1
        .to_string()
}

#[test]
fn explain_names_the_crash_and_the_fault_around_a_request() {
    // The last request to start before the zone goes down is in flight when it does.
    let starts = traced(
        ZONE_OUTAGE,
        "replay-explain-crash",
        "kind=request_start,t=59.9s..60s",
    );
    let request = starts.last().expect("a request").1["request"]
        .as_u64()
        .expect("request");
    let story = story(ZONE_OUTAGE, request);
    for needle in [
        "60.000000000s  +",
        "fault zone eu-c crash begins",
        "web: replica 2 crashes (fault zone eu-c crash); its queue and the work in progress \
         are lost",
        "around it: faults on: zone eu-c crash; replica crashes: ",
    ] {
        assert!(story.contains(needle), "{needle:?} missing in\n{story}");
    }
    // Context lines are not indented: they are about no hop.
    assert!(
        story.contains("ms  fault zone eu-c crash begins"),
        "{story}"
    );
}

#[test]
fn explain_names_the_breaker_transition_a_request_caused() {
    let lines = traced(BREAKER, "replay-explain-breaker", "kind=breaker_transition");
    let (_, opened) = &lines[0];
    let request = opened["request"].as_u64().expect("judging a request");
    let story = story(BREAKER, request);
    for needle in [
        // It started during the fault; the fault had begun before it.
        "60.000000000s  -",
        "fault api latency x3 begins",
        "users -> api: circuit breaker closed -> open",
        "breaker transitions: 1 (1 while judging it)",
    ] {
        assert!(story.contains(needle), "{needle:?} missing in\n{story}");
    }
}

#[test]
fn chrome_trace_of_a_crash_has_the_fault_window_and_process_wide_instants() {
    let dir = temp_dir("replay-chrome-crash");
    let chrome = dir.join("crash.json");
    ok(&[
        "replay",
        ZONE_OUTAGE,
        "--seed",
        "1",
        "--filter",
        "t=59.99s..60.01s",
        "--chrome-trace",
        path_str(&chrome),
    ]);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&chrome).expect("file")).expect("json");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    for e in events {
        for key in ["name", "ph", "ts", "pid", "tid"] {
            assert!(e.get(key).is_some(), "{key} missing in {e}");
        }
        if e["ph"] == "X" {
            assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
        }
    }
    let find = |name: &str| {
        events
            .iter()
            .filter(|e| e["name"] == name)
            .collect::<Vec<_>>()
    };
    // The window spans 60 s to 120 s, beyond the filter's range, which it meets.
    let window = find("fault: zone eu-c crash");
    let window = window
        .iter()
        .find(|e| e["ph"] == "X")
        .expect("the fault's span");
    assert_eq!(window["cat"], "fault");
    assert_eq!(window["ts"].as_f64(), Some(60_000_000.0));
    assert_eq!(window["dur"].as_f64(), Some(60_000_000.0));
    assert!(window["args"].get("request").is_none(), "{window}");
    let crashes = find("crash replica 2");
    assert_eq!(crashes.len(), 2, "web's and catalog's");
    for crash in crashes {
        assert_eq!(crash["ph"], "i");
        assert_eq!(crash["s"], "p");
        assert_eq!(crash["args"]["fault"], "zone eu-c crash");
    }
}

/// `--otlp` writes OpenTelemetry spans (OTLP/JSON): one trace per request with its root span,
/// a client span per attempt whose parent is the request or the calling attempt's server span,
/// a server span per attempt served; every parent is in the document, the counts agree with the
/// run's report, and the bytes are the same on every replay.
#[test]
fn otlp_export_has_one_trace_per_request_and_every_parent() {
    let dir = temp_dir("replay-otlp");
    let scenario = dir.join("short.ron");
    let text = std::fs::read_to_string(CHECKOUT)
        .expect("checkout")
        .replace("duration: \"10m\"", "duration: \"3s\"")
        .replace("from: \"2m\", to: \"4m\"", "from: \"1s\", to: \"2s\"");
    std::fs::write(&scenario, text).expect("write");
    let otlp = dir.join("spans.json");
    let args = [
        "replay",
        path_str(&scenario),
        "--seed",
        "2",
        "--otlp",
        path_str(&otlp),
    ];
    ok(&args);
    let first = std::fs::read_to_string(&otlp).expect("file");
    ok(&args);
    assert_eq!(first, std::fs::read_to_string(&otlp).expect("file"));
    let doc: Value = serde_json::from_str(&first).expect("json");
    let mut spans = Vec::new();
    let mut resources = Vec::new();
    for rs in doc["resourceSpans"].as_array().expect("resourceSpans") {
        let name = rs["resource"]["attributes"][0]["value"]["stringValue"]
            .as_str()
            .expect("service.name")
            .to_owned();
        for s in rs["scopeSpans"][0]["spans"].as_array().expect("spans") {
            spans.push((name.clone(), s.clone()));
        }
        resources.push(name);
    }
    let ids: std::collections::BTreeSet<(String, String)> = spans
        .iter()
        .map(|(_, s)| (s["traceId"].to_string(), s["spanId"].to_string()))
        .collect();
    assert_eq!(ids.len(), spans.len(), "span ids are unique per trace");
    for (_, s) in &spans {
        assert_eq!(s["traceId"].as_str().expect("traceId").len(), 32);
        assert_eq!(s["spanId"].as_str().expect("spanId").len(), 16);
        let start: u64 = s["startTimeUnixNano"]
            .as_str()
            .expect("start")
            .parse()
            .expect("ns");
        let end: u64 = s["endTimeUnixNano"]
            .as_str()
            .expect("end")
            .parse()
            .expect("ns");
        assert!(start <= end, "{s}");
        if let Some(parent) = s.get("parentSpanId") {
            assert!(
                ids.contains(&(s["traceId"].to_string(), parent.to_string())),
                "a parent outside the document: {s}"
            );
        }
    }
    let report: Value =
        serde_json::from_str(&report(&scenario, 2, "json")).expect("the run's report");
    let roots = spans
        .iter()
        .filter(|(_, s)| s.get("parentSpanId").is_none())
        .count() as u64;
    let requests = report["clients"]["shoppers"]["requests"]
        .as_u64()
        .expect("requests");
    assert_eq!(roots, requests);
    let client_spans = spans.iter().filter(|(_, s)| s["kind"] == 3).count() as u64;
    let attempts: u64 = report["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["attempts"].as_u64().expect("attempts"))
        .sum();
    assert_eq!(client_spans, attempts);
    for service in ["frontend", "checkout", "payments", "inventory"] {
        assert!(resources.iter().any(|r| r == service), "{service}");
    }
}
