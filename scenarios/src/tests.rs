//! Loading and checking scenarios: good files build, bad ones say where and what.

use std::path::Path;

use super::*;

const GOOD: &str = r#"
Scenario(
    version: 1,
    name: "tiny",
    duration: "10s",
    services: [
        Service(name: "front", workers: 4, queue: 8,
                service_time: LogNormal(median: "4ms", p99: "30ms"),
                calls: [Call(to: "back", timeout: "100ms")]),
        Service(name: "back", workers: 2, service_time: Exponential(mean: "5ms")),
    ],
    network: (latency: Constant(value: "1ms")),
    policies: (default: (timeout: "500ms",
                         retry: (max_attempts: 3, backoff: FullJitter(base: "20ms", cap: "1s")))),
    clients: [Client(name: "users", to: "front", arrivals: Poisson(rate_per_s: 100.0))],
    faults: [Latency(service: "back", multiply: 10.0, from: "2s", to: "4s")],
)
"#;

fn load_text(text: &str) -> Result<Loaded, ScenarioError> {
    load_str(Path::new("test.ron"), text)
}

#[test]
fn a_good_scenario_builds_with_defaults_and_overrides() {
    let loaded = load_text(GOOD).expect("valid");
    let cfg = &loaded.config;
    assert_eq!(cfg.services.len(), 2);
    let call = &cfg.services[0].calls[0];
    assert_eq!(call.to, models::config::ServiceId(1));
    // The edge's own timeout wins; the retry comes from the default.
    assert_eq!(call.policy.timeout, Some(constant(100)));
    assert_eq!(call.policy.retry.as_ref().map(|r| r.max_attempts), Some(3));
    assert_eq!(cfg.clients[0].policy.timeout, Some(constant(500)));
    assert_eq!(cfg.window, sim_core::SimDuration::SECOND);
    assert_eq!(cfg.max_events, 100_000_000);
    assert_eq!(cfg.memory_limit_bytes, 2 << 30);
}

fn ms(n: u64) -> sim_core::SimDuration {
    sim_core::SimDuration::from_millis(n)
}

fn constant(n: u64) -> sim_core::Distribution {
    sim_core::Distribution::Constant(ms(n))
}

#[test]
fn patience_unbounded_queues_and_reneging_are_written_as_documented() {
    let text = GOOD
        .replace("queue: 8,", "queue: Unbounded, abandonment: Renege,")
        .replace(
            "Call(to: \"back\", timeout: \"100ms\")",
            "Call(to: \"back\", timeout: LogNormal(median: \"50ms\", p99: \"200ms\"))",
        )
        .replace(
            "Poisson(rate_per_s: 100.0))",
            "Poisson(rate_per_s: 100.0), deadline: Exponential(mean: \"2s\"))",
        );
    let loaded = load_text(&text).expect("valid");
    let cfg = &loaded.config;
    let front = &cfg.services[0];
    assert_eq!(front.queue, models::config::ServiceConfig::UNBOUNDED);
    assert_eq!(front.abandonment, models::config::Abandonment::Renege);
    assert_eq!(
        cfg.services[1].abandonment,
        models::config::Abandonment::AtDequeue
    );
    assert!(matches!(
        front.calls[0].policy.timeout,
        Some(sim_core::Distribution::LogNormal { .. })
    ));
    assert_eq!(
        cfg.clients[0].policy.deadline,
        Some(sim_core::Distribution::Exponential { mean_ns: 2e9 })
    );

    // A bad duration keeps its own message; a bad distribution is checked like any other.
    let (line, _, message) = parse_error(&GOOD.replace("\"100ms\")", "\"100 parsecs\")"));
    assert_eq!(line, 9);
    assert!(message.contains("expected a duration"), "{message}");
    let (_, _, message) = parse_error(&GOOD.replace("queue: 8,", "queue: Endless,"));
    assert!(
        message.contains("a number of places or Unbounded"),
        "{message}"
    );
    let bad = GOOD.replace("\"100ms\")", "Exponential(mean: \"0s\"))");
    let err = load_text(&bad).unwrap_err().to_string();
    assert!(err.contains("services[0].calls[0].timeout"), "{err}");
    assert!(err.contains("greater than 0"), "{err}");
}

fn parse_error(text: &str) -> (usize, usize, String) {
    match load_text(text) {
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
fn syntax_and_type_errors_name_line_and_column() {
    let (line, _, message) = parse_error(&GOOD.replace("workers: 4,", "workers: four,"));
    assert_eq!(line, 7);
    assert!(!message.is_empty());

    let (line, _, message) = parse_error(&GOOD.replace("queue: 8,", "queue: 8, color: 3,"));
    assert_eq!(line, 7);
    assert!(message.contains("color"), "{message}");

    let (line, _, message) = parse_error(&GOOD.replace("\"5ms\"", "\"5 parsecs\""));
    assert_eq!(line, 10);
    assert!(message.contains("expected a duration"), "{message}");

    let (_, _, message) = parse_error(&GOOD.replace("workers: 2, ", ""));
    assert!(message.contains("workers"), "{message}");
}

#[test]
fn every_inconsistency_is_reported_at_its_place() {
    let bad = GOOD
        .replace("Call(to: \"back\"", "Call(to: \"bakc\"")
        .replace("multiply: 10.0", "multiply: -1.0")
        .replace("workers: 2", "workers: 0")
        .replace("max_attempts: 3", "max_attempts: 0");
    let Err(ScenarioError::Invalid { diagnostics, .. }) = load_text(&bad) else {
        panic!("expected diagnostics");
    };
    let text: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{:?} {}: {}", d.position, d.field, d.message))
        .collect();
    let find = |field: &str| {
        diagnostics
            .iter()
            .find(|d| d.field == field)
            .unwrap_or_else(|| panic!("no diagnostic for {field} in {text:#?}"))
    };
    let call = find("services[0].calls[0].to");
    assert_eq!(call.position, Some((9, 34)));
    assert!(
        call.message
            .contains("unknown service \"bakc\"; expected one of: back, front")
    );
    assert_eq!(find("services[1].workers").position.map(|p| p.0), Some(10));
    assert_eq!(find("faults[0].multiply").position.map(|p| p.0), Some(16));
    assert!(
        diagnostics
            .iter()
            .any(|d| d.field.ends_with("retry.max_attempts"))
    );
    // The error's text names the file, line and column.
    let err = load_text(&bad).unwrap_err().to_string();
    assert!(
        err.contains("test.ron:9:34: services[0].calls[0].to: unknown service"),
        "{err}"
    );
}

#[test]
fn cycles_are_named() {
    let bad = GOOD.replace(
        "service_time: Exponential(mean: \"5ms\")",
        "service_time: Exponential(mean: \"5ms\"), calls: [Call(to: \"front\")]",
    );
    let err = load_text(&bad).unwrap_err().to_string();
    assert!(err.contains("cycle through back -> front"), "{err}");
    assert!(err.contains("never ends"), "{err}");

    // A cycle that a request leaves with probability 1 is a feedback loop, not an error: an
    // optional call on it, or a routing choice.
    let optional = GOOD.replace(
        "service_time: Exponential(mean: \"5ms\")",
        "service_time: Exponential(mean: \"5ms\"), calls: [Call(to: \"back\", probability: 0.2)]",
    );
    load_text(&optional).expect("a retry-to-self with probability 0.2 ends");
    let routed = GOOD.replace(
        "service_time: Exponential(mean: \"5ms\")",
        "service_time: Exponential(mean: \"5ms\"), \
         calls: [Call(one_of: [Call(to: \"front\", weight: 1.0), Call(to: \"back\", weight: 3.0)])]",
    );
    load_text(&routed).expect("a routing choice ends the cycle");
}

#[test]
fn routing_steps_choose_by_weight() {
    let routed = GOOD.replace(
        "calls: [Call(to: \"back\", timeout: \"100ms\")]",
        "calls: [Call(one_of: [Call(to: \"back\", weight: 3.0, timeout: \"100ms\"), \
                              Call(to: \"back\")])]",
    );
    let loaded = load_text(&routed).expect("valid");
    let calls = &loaded.config.services[0].calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].probability, 3.0);
    assert_eq!(calls[1].probability, 1.0);
    assert_eq!(calls[0].group, calls[1].group);
    assert_eq!(
        calls[0].group.map(|g| g.join),
        Some(models::config::Join::OneOf)
    );

    for (bad, want) in [
        ("weight: 3.0", "weight: -1.0"),
        ("weight: 3.0", "weight: 3.0, probability: 0.5"),
    ] {
        let text = routed.replace(bad, want);
        let err = load_text(&text).unwrap_err().to_string();
        assert!(err.contains("one_of[0]"), "{err}");
    }
    let stray = GOOD.replace("timeout: \"100ms\")", "timeout: \"100ms\", weight: 2.0)");
    let err = load_text(&stray).unwrap_err().to_string();
    assert!(
        err.contains("weight belongs to a member of one_of"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err = load(Path::new("/nonexistent/x.ron")).unwrap_err();
    assert!(matches!(err, ScenarioError::Io { .. }));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/x.ron: cannot read scenario")
    );
}

#[test]
fn every_library_scenario_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("library");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("library dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 2, "library has {} scenarios", paths.len());
    for path in paths {
        match load(&path) {
            Ok(loaded) => assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings),
            Err(e) => panic!("{e}"),
        }
    }
}

/// Issue 10, one word per concept: the old spellings `Instance(...)` (a crash or chaos target)
/// and `Normal(...)` (a distribution) build the same world as `Replica(...)` and
/// `FoldedNormal(...)`, with a warning each at its place; the new spellings warn about nothing.
#[test]
fn deprecated_spellings_build_the_same_world_with_a_warning_each() {
    let new = GOOD
        .replace(
            "Exponential(mean: \"5ms\")",
            "FoldedNormal(mean: \"5ms\", sd: \"1ms\"), replicas: 2",
        )
        .replace(
            "faults: [",
            "faults: [Crash(target: Replica(service: \"back\", index: 1), at: \"1s\"),\n        ",
        );
    let old = new
        .replace("FoldedNormal(", "Normal(")
        .replace("Replica(service", "Instance(service");
    let new = load_text(&new).unwrap_or_else(|e| panic!("{e}"));
    assert!(new.warnings.is_empty(), "{:?}", new.warnings);
    let old = load_text(&old).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(format!("{:?}", old.config), format!("{:?}", new.config));
    assert_eq!(
        old.warnings,
        [
            "test.ron:10:57: services[1].service_time: Normal(mean: ..., sd: ...) is deprecated; \
             write FoldedNormal(mean: ..., sd: ...), the distribution it has always sampled (a \
             normal folded at zero)",
            "test.ron:16:28: faults[0].target: Instance(service: ..., index: ...) is deprecated; \
             write Replica(service: ..., index: ...)",
        ]
    );
}

#[test]
fn unknown_fields_inside_enum_variants_are_errors() {
    for (from, to) in [
        (
            "Exponential(mean: \"5ms\")",
            "Exponential(mean: \"5ms\", x: 1)",
        ),
        (
            "FullJitter(base: \"20ms\", cap: \"1s\")",
            "FullJitter(base: \"20ms\", cap: \"1s\", jitter: 2)",
        ),
        (
            "Poisson(rate_per_s: 100.0)",
            "Poisson(rate_per_s: 100.0, burst: 3)",
        ),
        ("multiply: 10.0,", "multiply: 10.0, extra: 1,"),
    ] {
        let (line, _, message) = parse_error(&GOOD.replace(from, to));
        assert!(line > 1, "{to}");
        assert!(message.contains("field"), "{to}: {message}");
    }
}

#[test]
fn a_service_is_located_at_its_definition_not_where_it_is_called() {
    // "back" appears first in front's call list, and "mid" (defined before back) has its own
    // `workers`: the problem must still be placed in back's definition.
    let bad = GOOD
        .replace(
            "        Service(name: \"back\"",
            "        Service(name: \"mid\", workers: 1, service_time: Constant(value: \"1ms\")),\n        Service(name: \"back\"",
        )
        .replace("workers: 2", "workers: 0");
    let Err(ScenarioError::Invalid { diagnostics, .. }) = load_text(&bad) else {
        panic!("expected diagnostics");
    };
    assert_eq!(diagnostics[0].field, "services[2].workers");
    assert_eq!(diagnostics[0].position, Some((11, 31)));
    // Spacing is free: `name:"back"` is found too.
    let tight = bad.replace("name: \"back\"", "name:\"back\"");
    let Err(ScenarioError::Invalid { diagnostics, .. }) = load_text(&tight) else {
        panic!("expected diagnostics");
    };
    assert_eq!(diagnostics[0].position, Some((11, 30)));
}

#[test]
fn policies_build_with_their_flavors_defaults() {
    let text = GOOD.replace(
        "calls: [Call(to: \"back\", timeout: \"100ms\")]",
        "calls: [Call(to: \"back\", timeout: \"100ms\", order: [Breaker, Retry, Bulkhead, Timeout],
                      retry: (flavor: envoy, budget: Grpc()),
                      breaker: (flavor: polly), bulkhead: ThreadPool(core_thread_pool_size: 4),
                      fallback: Cached(ttl: \"30s\"), throttle: (k: 1.5))]",
    );
    let loaded = load_text(&text).expect("builds");
    let policy = &loaded.config.services[0].calls[0].policy;
    let retry = policy.retry.as_ref().expect("retry");
    // Envoy: num_retries 1, so 2 attempts; full jitter over 25 ms, 50 ms, ... capped at 250 ms.
    assert_eq!(retry.max_attempts, 2);
    assert_eq!(
        retry.backoff,
        models::config::Backoff::FullJitter {
            base: sim_core::SimDuration::from_micros(12_500),
            cap: ms(250)
        }
    );
    assert!(retry.budget.is_some());
    let breaker = policy.breaker.as_ref().expect("breaker");
    assert_eq!(breaker.permitted_number_of_calls_in_half_open_state, 1);
    assert_eq!(breaker.wait_duration_in_open_state, ms(5000));
    assert!(!policy.order.per_attempt(models::config::Layer::Breaker));
    assert!(policy.order.per_attempt(models::config::Layer::Bulkhead));
    assert!(policy.throttle.is_some());
    // The client inherits the mesh-wide default retry, with Resilience4j's counting.
    let client = &loaded.config.clients[0].policy;
    assert_eq!(client.retry.as_ref().expect("default").max_attempts, 3);
}

#[test]
fn policy_mistakes_are_reported_at_their_place() {
    let text = GOOD
        .replace(
            "calls: [Call(to: \"back\", timeout: \"100ms\")]",
            "calls: [Call(to: \"back\", timeout: \"100ms\", breaker: (flavor: envoy),
                          hedge: (max_attempts: 7), order: [Retry, Retry, Bulkhead, Timeout])]",
        )
        .replace(
            "Service(name: \"back\", workers: 2,",
            "Service(name: \"back\", workers: 2, inbound: (shed: Aimd(backoff_ratio: 2.0)),",
        )
        .replace(
            "arrivals: Poisson(rate_per_s: 100.0))",
            "arrivals: ReadModifyWrite(users: 3), retry: (flavor: grpc))",
        )
        .replace(
            "faults: [",
            "expect: [Availability(of: \"nobody\", at_least: 0.9)], faults: [",
        );
    let Err(ScenarioError::Invalid { diagnostics, .. }) = load_text(&text) else {
        panic!("expected diagnostics");
    };
    let text: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{:?} {}: {}", d.position, d.field, d.message))
        .collect();
    let has = |field: &str, words: &str| {
        assert!(
            diagnostics
                .iter()
                .any(|d| d.field == field && d.message.contains(words) && d.position.is_some()),
            "no {field} saying {words:?} in {text:#?}"
        );
    };
    has(
        "services[0].calls[0].breaker.flavor",
        "envoy has no circuit breaker",
    );
    has("services[0].calls[0].hedge.max_attempts", "expected 2 to 5");
    has("services[0].calls[0].hedge", "either a retry or a hedge");
    has("services[0].calls[0].order", "exactly once");
    has("services[1].inbound.shed", "backoff_ratio");
    has(
        "clients[0].retry",
        "the grpc flavor has no default max_attempts",
    );
    has("clients[0].arrivals", "need a Record service");
    has("expect[0]", "unknown client or service \"nobody\"");
}

#[test]
fn world_mistakes_are_reported_at_their_place() {
    let text = GOOD
        .replace(
            "    services: [",
            r#"    topology: (regions: [(name: "eu", zones: [(name: "eu-a", hosts: ["a1"]),
                                                   (name: "eu-b", hosts: ["b1"])])]),
    clocks: [(host: "zz", drift_ppm: 5)],
    services: ["#,
        )
        .replace(
            "Service(name: \"back\", workers: 2,",
            r#"Service(name: "back", workers: 2, replicas: 3,
                    placement: Spread(across: Zones, strict: true),"#,
        )
        .replace(
            "arrivals: Poisson(rate_per_s: 100.0))",
            r#"arrivals: Poisson(rate_per_s: 100.0), host: "nowhere")"#,
        )
        .replace(
            "faults: [",
            r#"faults: [Crash(target: Zone("eu-z"), at: "1s"),
                      Crash(target: Replica(service: "back", index: 7), at: "1s"),
                      "#,
        )
        .replace(
            "network: (latency: Constant(value: \"1ms\")),",
            r#"network: (latency: Constant(value: "1ms"),
                      partitions: [(from: "1s", a: [Zone("eu-a")], b: [Host("b9")])]),"#,
        );
    let Err(ScenarioError::Invalid { diagnostics, .. }) = load_text(&text) else {
        panic!("expected diagnostics");
    };
    let all: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{:?} {}: {}", d.position, d.field, d.message))
        .collect();
    let has = |field: &str, words: &str| {
        assert!(
            diagnostics.iter().any(|d| d.field.starts_with(field)
                && d.message.contains(words)
                && d.position.is_some()),
            "no {field} saying {words:?} in {all:#?}"
        );
    };
    has("clocks[0].host", "zz");
    has("services[1].placement", "3 replicas");
    has("clients[0].host", "nowhere");
    has("faults[0].target", "eu-z");
    has("faults[1].target.index", "has 3 replicas");
    // One problem, one message: the partition with an unknown side is not reported again.
    assert_eq!(
        diagnostics
            .iter()
            .filter(|d| d.field.starts_with("network"))
            .count(),
        1
    );
    has("network.partitions[0].b[0]", "b9");
    // Durations are never negative: a minus sign is a clear error where it is written.
    let negative = GOOD.replace("duration: \"10s\"", "duration: \"-10s\"");
    let err = load_text(&negative).unwrap_err().to_string();
    assert!(
        err.contains("test.ron:5:") && err.contains("\"-10s\" is negative"),
        "{err}"
    );
}

#[test]
fn network_mistakes_are_reported_at_their_element() {
    let text = GOOD
        .replace(
            "    services: [",
            r#"    topology: (regions: [(name: "eu", zones: [(name: "eu-a", hosts: ["a1"]),
                                                   (name: "eu-b", hosts: ["b1"])])]),
    services: ["#,
        )
        .replace(
            "network: (latency: Constant(value: \"1ms\")),",
            r#"network: (latency: Constant(value: "1ms"), loss: 1.5,
                      links: [(from: Host("a1"), to: Host("b1"), latency: Constant(value: "1ms"),
                               loss: -0.5)],
                      partitions: [(from: "1s", a: [Zone("eu-a")], b: [Host("b1")]),
                                   (from: "2s", to: "1s", a: [], b: [Host("a1")],
                                    fraction: 2.0),
                                   (from: "1s", a: [Region("eu")], b: [Host("b1")])]),"#,
        );
    let Err(ScenarioError::Invalid { diagnostics, .. }) = load_text(&text) else {
        panic!("expected diagnostics");
    };
    let all: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{:?} {}: {}", d.position, d.field, d.message))
        .collect();
    assert_eq!(
        all,
        [
            "Some((14, 48)) network.loss: must be a probability in [0, 1], got 1.5",
            "Some((16, 32)) network.links[0].loss: must be a probability in [0, 1], got -0.5",
            "Some((18, 49)) network.partitions[1].to: the heal time must be after the start 2s, got 1s",
            "Some((19, 37)) network.partitions[1].fraction: must be a probability in [0, 1], got 2",
            "Some((18, 59)) network.partitions[1].a: must name at least one host, zone or region",
            "Some((20, 36)) network.partitions[2]: host \"b1\" is on both sides (a and b); a host may be on one side only",
        ],
        "{all:#?}"
    );
}
