//! Hostile scenarios (issue 13): numbers outside their meaning, allocations beyond the memory
//! budget, files that are not files, and the messages each gets.

use std::path::Path;

use super::*;

/// A small valid scenario; `{SERVICE}`, `{CLIENT}` and `{TAIL}` are replaced by each test.
const BASE: &str = r#"Scenario(version: 1, name: "h", duration: "10s",
    services: [Service(name: "s", workers: 4, queue: 100, service_time: Exponential(mean: "1ms"){SERVICE})],
    clients: [Client(name: "c", to: "s", arrivals: {CLIENT})],
    {TAIL}
)"#;

fn scenario(service: &str, client: &str, tail: &str) -> String {
    BASE.replace("{SERVICE}", service)
        .replace(
            "{CLIENT}",
            if client.is_empty() {
                "Poisson(rate_per_s: 100.0)"
            } else {
                client
            },
        )
        .replace("{TAIL}", tail)
}

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    match load_str(Path::new("h.ron"), text) {
        Err(ScenarioError::Invalid { diagnostics, .. }) => diagnostics,
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

/// The one diagnostic of `text`, which must be about `field`.
fn only(text: &str, field: &str) -> Diagnostic {
    let found = diagnostics(text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field, field, "{found:#?}");
    found.into_iter().next().expect("one")
}

#[test]
fn expectation_numbers_must_mean_something() {
    for (expect, field, says) in [
        (
            "Latency(of: \"c\", quantile: 1.5, at_most: \"1s\")",
            "expect[0].quantile",
            "quantile",
        ),
        (
            "Latency(of: \"c\", quantile: NaN, at_most: \"1s\")",
            "expect[0].quantile",
            "quantile",
        ),
        (
            "Latency(of: \"c\", quantile: inf, at_most: \"1s\")",
            "expect[0].quantile",
            "quantile",
        ),
        (
            "Latency(of: \"c\", quantile: -0.5, at_most: \"1s\")",
            "expect[0].quantile",
            "quantile",
        ),
        (
            "Latency(of: \"c\", quantile: 0.0, at_most: \"1s\")",
            "expect[0].quantile",
            "quantile",
        ),
        (
            "Availability(of: \"c\", at_least: NaN)",
            "expect[0].at_least",
            "availability",
        ),
        (
            "Availability(of: \"c\", at_least: 1.01)",
            "expect[0].at_least",
            "availability",
        ),
        (
            "Availability(of: \"c\", at_least: -0.1)",
            "expect[0].at_least",
            "availability",
        ),
        (
            "Amplification(of: \"c\", at_most: NaN)",
            "expect[0].at_most",
            "amplification",
        ),
        (
            "Amplification(of: \"c\", at_most: -1.0)",
            "expect[0].at_most",
            "amplification",
        ),
    ] {
        let text = scenario("", "", &format!("expect: [{expect}],"));
        let d = only(&text, field);
        assert!(d.message.contains(says), "{expect}: {}", d.message);
        assert_eq!(d.position.map(|p| p.0), Some(4), "{expect}: {d:?}");
    }
    // The edges of each range are fine.
    let edges = "expect: [Latency(of: \"c\", quantile: 0.999, at_most: \"1s\"), \
                 Availability(of: \"c\", at_least: 1.0), Availability(of: \"c\", at_least: 0.0), \
                 Amplification(of: \"c\", at_most: 3.0)],";
    load_str(Path::new("h.ron"), &scenario("", "", edges)).expect("valid");
}

#[test]
fn a_fault_after_the_end_is_an_error_and_one_partly_after_a_warning() {
    let after = "faults: [Errors(service: \"s\", rate: 1.0, from: \"10s\", to: \"20s\")],";
    let d = only(&scenario("", "", after), "faults[0].from");
    assert!(d.message.contains("never happens"), "{}", d.message);
    let crash = "faults: [Crash(target: Service(\"s\"), at: \"1m\")],";
    only(&scenario("", "", crash), "faults[0].at");

    let partly = "faults: [Errors(service: \"s\", rate: 1.0, from: \"5s\", to: \"20s\")],";
    let loaded = load_str(Path::new("h.ron"), &scenario("", "", partly)).expect("a warning only");
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0].starts_with("h.ron:4:") && loaded.warnings[0].contains("faults[0].to"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn what_a_run_allocates_is_checked_against_the_memory_budget() {
    let users = scenario(
        "",
        "ClosedLoop(users: 2147483647, think_time: Constant(value: \"1s\"))",
        "",
    );
    let d = only(&users, "clients[0].arrivals.users");
    assert!(
        d.message.contains("limits.memory (2.0 GiB)"),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("lower clients[0].arrivals.users"),
        "{}",
        d.message
    );
    assert_eq!(d.position.map(|p| p.0), Some(3));

    let rmw = scenario("", "ReadModifyWrite(users: 4000000000)", "");
    only(&rmw, "clients[0].arrivals.users");

    let window = scenario("", "", "window: \"1ns\",");
    let d = only(&window, "window");
    assert!(d.message.contains("windows"), "{}", d.message);
    // A nearly idle client over a century: memory follows windows, not events.
    let century = scenario("", "", "").replace("\"10s\"", "\"876000h\"");
    only(&century, "duration");

    let replicas = scenario(", replicas: 1000000000", "", "");
    assert!(
        diagnostics(&replicas)
            .iter()
            .all(|d| d.field.starts_with("services[0].")),
        "{:#?}",
        diagnostics(&replicas)
    );
    let replicas = scenario(", replicas: 4294967295", "", "").replace("workers: 4", "workers: 1");
    let found = diagnostics(&replicas);
    assert!(
        found.iter().any(|d| d.field == "services[0].queue"),
        "{found:#?}"
    );

    // Raised in the file (or with --set limits.memory=), the same window fits.
    let raised = scenario("", "", "window: \"1ms\", limits: (memory: \"4GiB\"),")
        .replace("\"10s\"", "\"1000s\"");
    only(&raised.replace("4GiB", "2GiB"), "window");
    load_str(Path::new("h.ron"), &raised).expect("fits in 4 GiB");
}

#[test]
fn a_fan_out_that_multiplies_down_the_graph_is_over_budget() {
    let thousand = |to: &str| {
        format!(
            "calls: [(parallel: [{}])]",
            vec![format!("(to: \"{to}\")"); 1000].join(", ")
        )
    };
    let text = format!(
        r#"Scenario(version: 1, name: "fan", duration: "10s",
    services: [
        Service(name: "a", workers: 4, service_time: Exponential(mean: "1ms"), {}),
        Service(name: "b", workers: 4, service_time: Exponential(mean: "1ms"), {}),
        Service(name: "c", workers: 4, service_time: Exponential(mean: "1ms"), {}),
        Service(name: "d", workers: 4, service_time: Exponential(mean: "1ms")),
    ],
    clients: [Client(name: "u", to: "a", arrivals: Poisson(rate_per_s: 1.0))],
)"#,
        thousand("b"),
        thousand("c"),
        thousand("d")
    );
    let d = only(&text, "services[0].calls");
    assert!(d.message.contains("one request makes"), "{}", d.message);
}

#[test]
fn sizes_read_with_units_and_override() {
    let text = scenario("", "", "limits: (memory: \"512MiB\"),");
    let loaded = load_str(Path::new("h.ron"), &text).expect("valid");
    assert_eq!(loaded.config.memory_limit_bytes, 512 << 20);
    let text = scenario("", "", "limits: (memory: 1048576),");
    let loaded = load_str(Path::new("h.ron"), &text).expect("valid");
    assert_eq!(loaded.config.memory_limit_bytes, 1 << 20);
    let mut parsed = parse(Path::new("h.ron"), &scenario("", "", "")).expect("parses");
    overrides::apply(&mut parsed, "limits.memory", "4GiB").expect("a size");
    assert_eq!(parsed.limits.memory.0, 4 << 30);
    let err = overrides::apply(&mut parsed, "limits.memory", "lots").unwrap_err();
    assert!(err.contains("not a size"), "{err}");
}

fn parse_message(text: &str) -> (usize, usize, String) {
    match load_str(Path::new("h.ron"), text) {
        Err(ScenarioError::Parse {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn parse_messages_say_what_to_write() {
    let (line, column, message) =
        parse_message(&scenario("", "", "").replace("workers: 4", "workers: 64.5"));
    assert_eq!(
        (line, message.as_str()),
        (2, "64.5 is not a whole number; expected an integer")
    );
    assert_eq!(column, 44);
    let (_, _, message) =
        parse_message(&scenario("", "", "").replace("workers: 4", "workers: 1e3"));
    assert!(message.contains("expected an integer"), "{message}");
    let (_, _, message) = parse_message(&scenario("", "", "").replace("workers: 4", "workers: -4"));
    assert!(message.contains("out of range"), "{message}");

    let deep = format!(
        "calls: {}[]{}",
        "[(parallel: ".repeat(200),
        ")]".repeat(200)
    );
    let (_, _, message) = parse_message(&scenario(&format!(", {deep}"), "", ""));
    assert!(message.contains("nest more than 128 levels"), "{message}");
    assert!(!message.contains("ron::Options"), "{message}");
}

#[test]
fn long_names_are_shown_by_their_start() {
    let long = "x".repeat(5000);
    let text = scenario("", "", "").replace("to: \"s\"", &format!("to: \"{long}\""));
    let d = only(&text, "clients[0].to");
    assert!(d.message.len() < 200, "{}", d.message);
    assert!(
        d.message.contains(&format!("\"{}...\"", "x".repeat(80))),
        "{}",
        d.message
    );

    let variant = scenario("", &format!("{}(rate_per_s: 1.0)", "Q".repeat(3000)), "");
    let (_, _, message) = parse_message(&variant);
    assert!(message.len() < 300, "{message}");
    assert_eq!(clip_names("a `short` name"), "a `short` name");
}

#[test]
fn a_negative_loss_points_at_loss() {
    let text = scenario(
        "",
        "",
        "network: (latency: Constant(value: \"1ms\"),\n  loss: -0.5),",
    );
    let d = only(&text, "network.loss");
    assert_eq!(d.position, Some((5, 3)), "{d:?}");
}

#[test]
fn only_regular_files_are_read() {
    let dir = std::env::temp_dir().join(format!("faultline-scen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let err = load(&dir).unwrap_err().to_string();
    assert!(err.contains("is a directory"), "{err}");
    let err = load(Path::new("/dev/zero")).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
    let big = dir.join("big.ron");
    std::fs::write(&big, vec![b' '; (MAX_SCENARIO_BYTES + 1) as usize]).expect("write");
    let err = load(&big).unwrap_err().to_string();
    assert!(err.contains("larger than 8 MiB"), "{err}");
    let binary = dir.join("binary.ron");
    std::fs::write(&binary, [b'(', 0xff, 0xfe]).expect("write");
    let err = load(&binary).unwrap_err().to_string();
    assert!(err.contains("not UTF-8"), "{err}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_bulkhead_without_permits_is_an_error() {
    let text = scenario(
        "",
        "Poisson(rate_per_s: 1.0), bulkhead: Semaphore(max_concurrent_calls: 0)",
        "",
    );
    let d = only(&text, "clients[0].bulkhead.max_concurrent_calls");
    assert_eq!(d.message, "must be at least 1");
}
