use super::*;
use crate::spec;
use std::path::Path;

const SWARM: &str = r#"// a swarm
Scenario(
    version: 1,
    name: "swarm",
    duration: "10m",
    services: [
        Service(name: "api", workers: 8, queue: 16, service_time: Exponential(mean: "5ms"),
                calls: [Call(to: "payments"), Call(to: "inventory")]),
        Service(name: "payments", workers: 4, queue: 8, service_time: Exponential(mean: "5ms")),
        Service(name: "inventory", workers: 4, queue: 8, service_time: Exponential(mean: "5ms")),
    ],
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: Between(50, 150)))],
    faults: [
        Latency(service: OneOf(["payments", "inventory"]), multiply: Between(2.0, 20.0),
                from: Between("1m", "5m"), duration: Between("10s", "2m")),
        Maybe(0.5, Crash(target: Service("payments"), at: Between("2m", "3m"), restart_after: "30s")),
        Maybe(0.5, Errors(service: "inventory", rate: 0.5, from: "1m", to: "2m")),
    ],
)
"#;

fn drawn(seed: u64) -> Drawn {
    draw(Path::new("s.ron"), SWARM, seed).expect("draws")
}

#[test]
fn a_file_without_swarm_values_is_unchanged() {
    let plain = "Scenario(name: \"Between(1, 2)\", join: OneOf, x: 1) // OneOf([1])";
    assert!(!is_swarm(plain));
    assert_eq!(draw(Path::new("p"), plain, 3).unwrap().text, plain);
    assert!(is_swarm(SWARM));
}

#[test]
fn a_seed_names_one_concrete_scenario_that_loads() {
    let path = Path::new("s.ron");
    let mut seen = std::collections::BTreeSet::new();
    let mut left_out = 0;
    for seed in 1..=20 {
        let d = drawn(seed);
        assert_eq!(d.text, drawn(seed).text, "seed {seed} draws the same twice");
        assert!(!is_swarm(&d.text), "{}", d.text);
        let loaded = crate::load_str(path, &d.text).unwrap_or_else(|e| panic!("{e}\n{}", d.text));
        // Every draw lies in its range.
        let rate = match loaded.config.clients[0].arrivals {
            models::config::Arrivals::Poisson { rate_per_s } => rate_per_s,
            ref other => panic!("{other:?}"),
        };
        assert!(
            (50.0..=150.0).contains(&rate) && rate.fract() == 0.0,
            "{rate}"
        );
        let fault = &loaded.scenario.faults[0];
        let spec::Fault::Latency {
            service,
            multiply,
            from,
            to,
            ..
        } = fault
        else {
            panic!("{fault:?}")
        };
        assert!(service == "payments" || service == "inventory");
        assert!((2.0..=20.0).contains(&multiply.unwrap()));
        let (from, to) = (from.0, to.0);
        assert!(from >= SimDuration::from_secs(60) && from <= SimDuration::from_secs(300));
        let length = to.0 - from.0;
        assert!(
            (10_000_000_000..=120_000_000_000).contains(&length),
            "{length}"
        );
        assert_eq!(from.0 % 1_000_000, 0, "whole milliseconds");
        left_out += 3 - loaded.scenario.faults.len();
        seen.insert(d.text);
    }
    assert!(seen.len() == 20, "every seed draws another scenario");
    // Two faults at 50 % over 20 seeds: all kept or all left out would be a broken draw.
    assert!((5..=35).contains(&left_out), "{left_out}");
}

#[test]
fn draws_are_listed_with_their_place_and_a_left_out_element_stays_as_a_comment() {
    let d = (1..50)
        .map(drawn)
        .find(|d| d.draws.iter().any(|x| x.value == "left out"))
        .expect("some seed leaves a fault out");
    assert!(
        d.text.contains("/* left out by the draw: Maybe(0.5,"),
        "{}",
        d.text
    );
    let multiply = d.draws.iter().find(|x| x.field == "multiply").unwrap();
    assert_eq!((multiply.line, multiply.column), (14, 70));
    // Lines are kept, so a problem in the concrete file is found at the same line.
    assert_eq!(d.text.lines().count(), SWARM.lines().count());
}

#[test]
fn each_swarm_value_has_its_own_stream() {
    // Adding a draw after a value does not change that value's draw.
    let a = "S(a: Between(1, 1000000))";
    let b = "S(a: Between(1, 1000000), b: Between(1, 1000000))";
    for seed in 1..10 {
        let x = draw(Path::new("a"), a, seed).unwrap().draws;
        let y = draw(Path::new("b"), b, seed).unwrap().draws;
        assert_eq!(x[0].value, y[0].value);
    }
}

#[test]
fn exact_durations_read_back() {
    for ns in [
        0,
        1,
        999,
        1_000_000,
        1_234_567,
        83_456_000_000,
        120_000_000_000,
        1_500_000_001,
    ] {
        let text = exact_duration(SimDuration(ns));
        assert_eq!(parse_duration(&text), Ok(SimDuration(ns)), "{text}");
    }
    assert_eq!(exact_duration(SimDuration(83_456_000_000)), "83.456s");
    assert_eq!(exact_duration(SimDuration(250_000_000)), "250ms");
}

#[test]
fn bad_swarm_values_name_their_line_and_column() {
    for (text, expected, column) in [
        ("S(a: Between(5, 1))", "first end is above", 6),
        ("S(a: Between(\"1m\", 3))", "two numbers", 6),
        ("S(a: Between(1))", "two values", 6),
        ("S(a: OneOf([]))", "non-empty list", 6),
        ("S(a: Maybe(0.5, 1))", "element of a list", 6),
        ("S(a: [Maybe(1.5, 1)])", "between 0 and 1", 13),
        ("S(a: Between(\"1 parsec\", \"2m\"))", "unknown unit", 14),
    ] {
        let err = draw(Path::new("x.ron"), text, 1).expect_err(text);
        let ScenarioError::Parse {
            line,
            column: c,
            message,
            ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!((*line, *c), (1, column), "{text}: {message}");
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[test]
fn hostile_text_never_panics() {
    for text in [
        "Between(",
        "S(a: Between(1, 2",
        "S(a: \"unterminated",
        "/* open comment Between(1,2)",
        "S(a: r#\"raw Between(1, 2)\"#, b: OneOf([1]))",
        "S(a: OneOf([x: 1]))",
        "é Between(1, 2) ü",
        "[[[[[[[[[[Between(1,2)",
    ] {
        let _ = draw(Path::new("h"), text, 1);
    }
    let many = format!("S(a: [{}])", "Between(1, 2), ".repeat(MAX_DRAWS + 1));
    let err = draw(Path::new("many"), &many, 1).expect_err("too many");
    assert!(
        err.to_string().contains("more than 10000 swarm values"),
        "{err}"
    );
    let deep = format!("{}Between(1, 2){}", "[".repeat(500), "]".repeat(500));
    let _ = draw(Path::new("deep"), &deep, 1);
}
