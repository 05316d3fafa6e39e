//! Issue 13, the scenario half, end to end: hostile scenarios get a clear error and exit 2, or
//! a run that stops at a limit with a partial report marked incomplete; never a panic, an abort
//! or a hang.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{faultline, library, stderr, stdout, temp_dir};

/// A small valid scenario; `{SERVICE}`, `{CLIENT}` and `{TAIL}` are replaced by each test.
const BASE: &str = r#"Scenario(version: 1, name: "h", duration: "10s",
    services: [Service(name: "s", workers: 4, queue: 100, service_time: Exponential(mean: "1ms"){SERVICE})],
    clients: [Client(name: "c", to: "s", arrivals: {CLIENT})],
    {TAIL}
)"#;

fn scenario(service: &str, client: &str, tail: &str) -> String {
    let client = if client.is_empty() {
        "Poisson(rate_per_s: 100.0)"
    } else {
        client
    };
    BASE.replace("{SERVICE}", service)
        .replace("{CLIENT}", client)
        .replace("{TAIL}", tail)
}

/// Writes `text` as `name` in a fresh directory for `test`.
fn file(test: &str, name: &str, text: &str) -> PathBuf {
    let path = temp_dir(test).join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Exit 2 with a message on stderr, and no panic.
fn rejected(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(&stdout(out)).expect("a JSON report")
}

#[test]
fn expectations_out_of_their_range_are_errors_not_panics() {
    for (expect, says) in [
        (
            "Latency(of: \"c\", quantile: 1.5, at_most: \"1s\")",
            "expect[0].quantile: 1.5 is not a quantile",
        ),
        (
            "Latency(of: \"c\", quantile: NaN, at_most: \"1s\")",
            "expect[0].quantile: NaN is not a quantile",
        ),
        (
            "Latency(of: \"c\", quantile: inf, at_most: \"1s\")",
            "expect[0].quantile: inf is not a quantile",
        ),
        (
            "Latency(of: \"c\", quantile: -0.5, at_most: \"1s\")",
            "expect[0].quantile: -0.5 is not a quantile",
        ),
        (
            "Availability(of: \"c\", at_least: NaN)",
            "expect[0].at_least: NaN is not an availability",
        ),
        (
            "Availability(of: \"c\", at_least: 1.5)",
            "expect[0].at_least: 1.5 is not an availability",
        ),
    ] {
        let path = file(
            "expect",
            "e.ron",
            &scenario("", "", &format!("expect: [{expect}],")),
        );
        for command in ["check", "validate"] {
            let err = rejected(&faultline(
                &[command, utf8(&path), "--seeds", "1..1"]
                    [..if command == "check" { 4 } else { 2 }],
            ));
            assert!(err.contains(says), "{command} {expect}: {err}");
            assert!(err.contains("e.ron:4:"), "{err}");
        }
    }
}

#[test]
fn a_fault_after_the_end_is_an_error_and_partly_after_a_warning() {
    let after = file(
        "fault-after",
        "f.ron",
        &scenario(
            "",
            "",
            "faults: [Errors(service: \"s\", rate: 1.0, from: \"20s\", to: \"30s\")],",
        ),
    );
    let err = rejected(&faultline(&["run", utf8(&after)]));
    assert!(
        err.contains("faults[0].from: the fault starts (20s) at or after the end"),
        "{err}"
    );

    let partly = file(
        "fault-partly",
        "f.ron",
        &scenario(
            "",
            "",
            "faults: [Errors(service: \"s\", rate: 1.0, from: \"5s\", to: \"30s\")],",
        ),
    );
    let out = faultline(&["run", utf8(&partly), "--format", "json"]);
    let report = json(&out);
    assert_eq!(report["complete"], true);
    assert!(stderr(&out).contains("warning: "), "{}", stderr(&out));
    assert!(stderr(&out).contains("faults[0].to"), "{}", stderr(&out));
}

#[test]
fn allocations_beyond_the_memory_budget_name_the_field_to_change() {
    for (name, text, field) in [
        (
            "users",
            scenario(
                "",
                "ClosedLoop(users: 2147483647, think_time: Constant(value: \"1s\"))",
                "",
            ),
            "clients[0].arrivals.users",
        ),
        (
            "rmw",
            scenario("", "ReadModifyWrite(users: 2147483647)", ""),
            "clients[0].arrivals.users",
        ),
        ("window", scenario("", "", "window: \"1ns\","), "window"),
        (
            "century",
            scenario("", "", "").replace("\"10s\"", "\"876000h\""),
            "duration",
        ),
        (
            "replicas",
            scenario(", replicas: 4294967295", "", "")
                .replace("workers: 4", "workers: 1")
                .replace("queue: 100", "queue: 1"),
            "services[0].replicas",
        ),
    ] {
        let path = file("budget", &format!("{name}.ron"), &text);
        // --max-events does not help: the memory is allocated before the first event.
        let err = rejected(&faultline(&["run", utf8(&path), "--max-events", "2000"]));
        assert!(
            err.contains(&format!("{field}: the run would need about")),
            "{name}: {err}"
        );
        assert!(
            err.contains(&format!("lower {field} or raise limits.memory")),
            "{name}: {err}"
        );
    }
    // The budget is the scenario's, and --set raises it.
    let text = scenario(
        "",
        "ClosedLoop(users: 10000, think_time: Constant(value: \"1s\"))",
        "limits: (memory: \"1MiB\"),",
    );
    let path = file("budget-raised", "u.ron", &text);
    let err = rejected(&faultline(&["run", utf8(&path)]));
    assert!(err.contains("more than limits.memory (1.0 MiB)"), "{err}");
    let out = faultline(&[
        "run",
        utf8(&path),
        "--set",
        "limits.memory=64MiB",
        "--format",
        "json",
    ]);
    assert_eq!(json(&out)["complete"], true);
}

#[test]
fn a_growing_run_stops_at_the_memory_limit_with_a_partial_report() {
    // A billion requests a second into a queue with room for all of them: jobs pile up.
    let text = scenario(
        "",
        "Poisson(rate_per_s: 1000000000.0)",
        "limits: (memory: \"64MiB\"),",
    )
    .replace("queue: 100", "queue: 4000000000");
    let path = file("memory-stop", "m.ron", &text);
    let out = faultline(&["run", utf8(&path), "--format", "json"]);
    let report = json(&out);
    assert_eq!(report["complete"], false);
    assert_eq!(report["stop_reason"], "memory");
    assert!(
        stderr(&out).contains("stopped at the memory limit"),
        "{}",
        stderr(&out)
    );
    let text_report = faultline(&["run", utf8(&path)]);
    assert!(stdout(&text_report).contains("stopped at the memory limit (limits.memory)"));
}

#[test]
fn max_wall_stops_a_run_with_a_report_marked_incomplete() {
    let mm1 = library("mm1.ron");
    // A limit already passed stops at the first check, after 4096 events.
    let out = faultline(&["run", utf8(&mm1), "--max-wall", "0s", "--format", "json"]);
    let report = json(&out);
    assert_eq!(report["complete"], false);
    assert_eq!(report["stop_reason"], "interrupted");
    assert_eq!(report["events"], 4096);
    assert!(
        stderr(&out).contains("stopped at the wall-clock limit"),
        "{}",
        stderr(&out)
    );
    let md = faultline(&["run", utf8(&mm1), "--max-wall", "0s", "--format", "md"]);
    assert!(stdout(&md).contains("Stopped by the wall-clock limit (--max-wall)"));

    // A limit not reached changes nothing, byte for byte.
    let hedging = library("hedging.ron");
    let with = faultline(&[
        "run",
        utf8(&hedging),
        "--seed",
        "7",
        "--max-wall",
        "1h",
        "--format",
        "json",
    ]);
    let without = faultline(&["run", utf8(&hedging), "--seed", "7", "--format", "json"]);
    assert_eq!(stdout(&with), stdout(&without));

    let err = rejected(&faultline(&["run", utf8(&hedging), "--max-wall", "soon"]));
    assert!(err.contains("--max-wall"), "{err}");

    // check and compare bound the whole command: a limit already passed stops every run, and
    // check fails on the partial runs (exit 1) unless told to judge them.
    let check = faultline(&["check", utf8(&mm1), "--seeds", "1..2", "--max-wall", "0s"]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    assert!(
        stdout(&check).contains("complete runs"),
        "{}",
        stdout(&check)
    );
    let compare = faultline(&[
        "compare",
        utf8(&mm1),
        utf8(&mm1),
        "--seeds",
        "1..1",
        "--max-wall",
        "0s",
        "--format",
        "json",
    ]);
    assert_eq!(compare.status.code(), Some(0), "{}", stderr(&compare));
    let doc = json(&compare);
    assert_eq!(doc["a"]["incomplete_runs"], 1);
    assert_eq!(doc["b"]["incomplete_runs"], 1);
}

#[test]
fn runaway_work_stops_at_a_limit_with_a_clear_message() {
    for (name, text) in [
        // Zero think time and zero work: every event is at time 0.
        (
            "zero-time",
            scenario(
                "",
                "ClosedLoop(users: 10, think_time: Constant(value: \"0s\"))",
                "",
            )
            .replace("Exponential(mean: \"1ms\")", "Constant(value: \"0s\")"),
        ),
        // Retries without backoff against a service that always fails.
        (
            "retries",
            scenario(
                ", error_rate: 1.0",
                "Poisson(rate_per_s: 1000.0)",
                "policies: (default: (retry: (max_attempts: 1000, backoff: Immediate))),",
            ),
        ),
        // A load profile stepping far above its base rate (the thinning hang the fuzzer found).
        (
            "thinning",
            scenario(
                "",
                "Poisson(rate_per_s: 1.0), profile: [Step(at: \"9s\", rate_per_s: 4294967295)]",
                "",
            ),
        ),
    ] {
        let path = file("runaway", &format!("{name}.ron"), &text);
        let out = faultline(&[
            "run",
            utf8(&path),
            "--max-events",
            "50000",
            "--format",
            "json",
        ]);
        let report = json(&out);
        assert_eq!(report["stop_reason"], "max_events", "{name}");
        assert!(
            stderr(&out).contains("stopped at the event limit (50000 events)"),
            "{name}"
        );
    }
}

#[test]
fn scenarios_are_read_from_regular_files_or_standard_input() {
    let dir = temp_dir("inputs");
    let fifo = dir.join("fifo.ron");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for (path, says) in [
        (fifo.as_path(), "not a regular file"),
        (Path::new("/dev/zero"), "not a regular file"),
        (dir.as_path(), "is a directory"),
    ] {
        for command in ["validate", "run"] {
            let err = rejected(&faultline(&[command, utf8(path)]));
            assert!(err.contains(says), "{command} {}: {err}", path.display());
        }
    }
    let big = dir.join("big.ron");
    std::fs::write(&big, " ".repeat(9 << 20)).expect("write");
    let err = rejected(&faultline(&["validate", utf8(&big)]));
    assert!(err.contains("larger than 8 MiB"), "{err}");

    // `-` reads the scenario from standard input: the same report as from the file.
    let hedging = library("hedging.ron");
    let text = std::fs::read(&hedging).expect("library");
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", "-", "--seed", "7", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&text)
        .expect("write stdin");
    let piped = child.wait_with_output().expect("run");
    let from_file = faultline(&["run", utf8(&hedging), "--seed", "7", "--format", "json"]);
    assert_eq!(json(&piped), json(&from_file));
}

#[test]
fn messages_show_what_to_change_in_the_file() {
    let cases = [
        (
            scenario("", "", "").replace("workers: 4", "workers: 64.5"),
            "m.ron:2:44: 64.5 is not a whole number; expected an integer",
        ),
        (
            scenario(
                "",
                "",
                "network: (latency: Constant(value: \"1ms\"),\n  loss: -0.5),",
            ),
            "m.ron:5:3: network.loss",
        ),
        (
            scenario(
                &format!(
                    ", calls: {}[]{}",
                    "[(parallel: ".repeat(200),
                    ")]".repeat(200)
                ),
                "",
                "",
            ),
            "nest more than 128 levels deep here; a scenario may nest at most 128",
        ),
    ];
    for (text, says) in cases {
        let path = file("messages", "m.ron", &text);
        let err = rejected(&faultline(&["validate", utf8(&path)]));
        assert!(err.contains(says), "{err}");
    }
    let long = "y".repeat(10_000);
    let path = file(
        "messages-long",
        "m.ron",
        &scenario("", "", "").replace("to: \"s\"", &format!("to: \"{long}\"")),
    );
    let err = rejected(&faultline(&["validate", utf8(&path)]));
    assert!(err.len() < 300, "{} bytes: {err}", err.len());
    assert!(err.contains(&format!("\"{}...\"", "y".repeat(80))), "{err}");
}

#[test]
fn tolerances_are_finite_and_not_negative() {
    let mm1 = library("mm1.ron");
    for flag in ["--availability-tolerance", "--relative-tolerance"] {
        for value in ["NaN", "inf", "-0.1", "lots"] {
            let arg = format!("{flag}={value}");
            let err = rejected(&faultline(&["check", utf8(&mm1), "--seeds", "1..1", &arg]));
            assert!(
                err.contains("expected a finite number >= 0"),
                "{arg}: {err}"
            );
        }
    }
}

#[test]
fn immediate_retries_against_a_full_queue_stop_at_the_event_limit() {
    // No network latency: a full queue's rejection comes back at once and the retry goes out
    // at once; this once looped inside one event until memory ran out.
    let text = scenario(
        "",
        "Poisson(rate_per_s: 800.0), timeout: \"1us\", retry: (max_attempts: 2147483647, backoff: Immediate)",
        "",
    )
    .replace("queue: 100", "queue: 20");
    let path = file("inline-retries", "r.ron", &text);
    let out = faultline(&[
        "run",
        utf8(&path),
        "--max-events",
        "20000",
        "--format",
        "json",
    ]);
    assert_eq!(json(&out)["stop_reason"], "max_events");
}
