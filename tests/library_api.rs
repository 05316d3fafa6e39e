//! The library facade as a user's test suite would use it: the numbers agree with the binary's,
//! checks fail with a message that names the worst seed and its replay command, and bad input
//! comes back as an error naming the line.

mod common;

use common::*;
use faultline::{Expect, Scenario};

#[test]
fn a_run_is_the_binarys_run_byte_for_byte() {
    let path = library("checkout.ron");
    let scenario = Scenario::from_file(&path).expect("a library scenario");
    let run = scenario.run(3);
    assert_eq!(run.json(), report(&path, 3, "json"));
    assert_eq!(run.markdown(), report(&path, 3, "md"));
    assert!(run.complete());
    let shoppers = run.client("shoppers").expect("checkout's client");
    assert_eq!(
        shoppers.requests,
        shoppers.ok + shoppers.failed + {
            let json: serde_json::Value = serde_json::from_str(&run.json()).expect("json");
            json["clients"]["shoppers"]["in_flight"]
                .as_u64()
                .expect("in flight")
        }
    );
    assert!(shoppers.p50 <= shoppers.p99 && shoppers.p99 <= shoppers.p999);
    assert_eq!(run.fingerprint().len(), 16);
    assert!(run.client("nobody").is_none());
}

#[test]
fn runs_come_back_in_seed_order_whatever_the_threads() {
    let scenario = Scenario::from_file(library("mm1.ron"))
        .expect("mm1")
        .set("duration", "\"20s\"")
        .expect("a valid override");
    let runs = scenario.runs(5..=9);
    let seeds: Vec<u64> = runs.iter().map(|r| r.seed()).collect();
    assert_eq!(seeds, vec![5, 6, 7, 8, 9]);
    for run in &runs {
        assert_eq!(run.json(), scenario.run(run.seed()).json());
    }
}

#[test]
fn a_failed_check_names_the_worst_seed_and_the_replay_command() {
    let scenario = Scenario::from_file(library("checkout.ron")).expect("checkout");
    let failure = faultline::check(&scenario)
        .seeds(1..=3)
        .expect(Expect::availability("shoppers").at_least(0.999_999))
        .run()
        .expect_err("checkout's fault costs availability");
    let message = failure.to_string();
    let failed = failure
        .verdicts
        .iter()
        .find(|v| !v.passed)
        .expect("a failed verdict");
    assert!(
        message.contains(&format!("--seed {}", failed.worst_seed)),
        "{message}"
    );
    assert!(message.contains("faultline replay"), "{message}");
    assert!(message.contains("checkout.ron"), "{message}");
    // The worst seed is the one with the lowest availability.
    let worst = (1..=3)
        .map(|seed| {
            (
                scenario
                    .run(seed)
                    .client("shoppers")
                    .expect("shoppers")
                    .availability,
                seed,
            )
        })
        .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a });
    assert_eq!(failed.worst_seed, worst.1);
}

#[test]
fn a_passing_check_returns_every_verdict() {
    let scenario = Scenario::from_ron(
        "light.ron",
        r#"Scenario(
    version: 1,
    name: "light",
    duration: "30s",
    services: [Service(name: "server", workers: 4, service_time: Exponential(mean: "1ms"))],
    clients: [Client(name: "users", to: "server", arrivals: Poisson(rate_per_s: 200.0))],
    expect: [Availability(of: "users", at_least: 0.999)],
)"#,
    )
    .expect("a valid scenario");
    let passed = faultline::check(&scenario)
        .seeds(1..=3)
        .expect(Expect::latency("users").quantile(0.5).at_most("1s"))
        .run()
        .expect("a lightly loaded server with no faults");
    // The scenario's own expectation, then the added one.
    assert_eq!(passed.verdicts.len(), 2);
    assert!(passed.verdicts.iter().all(|v| v.passed));
    assert!(
        passed.verdicts[1].measured < 5.0,
        "{:?}",
        passed.verdicts[1]
    );
}

#[test]
fn bad_input_is_an_error_naming_the_line_never_a_panic() {
    let err = Scenario::from_ron("broken.ron", "Scenario(\n  version: 1,\n  name: 7,\n)")
        .expect_err("a number is not a name");
    let message = err.to_string();
    assert!(message.contains("broken.ron:3:"), "{message}");
    let scenario = Scenario::from_file(library("mm1.ron")).expect("mm1");
    let err = scenario
        .set("services.nosuch.workers", "3")
        .expect_err("no such service");
    assert!(err.to_string().contains("nosuch"), "{err}");
    let bad = faultline::check(&scenario)
        .expect(Expect::availability("customers").at_least(1.5))
        .run()
        .expect_err("a share above 1");
    assert!(bad.to_string().contains("between 0 and 1"), "{bad}");
}

#[test]
fn compare_sets_two_designs_side_by_side() {
    let a = Scenario::from_file(library("metastable-retry-storm.ron")).expect("a");
    let b = Scenario::from_file(library("metastable-fixed.ron")).expect("b");
    let comparison = faultline::compare(&a, &b, 1..=2);
    let text = comparison.text();
    assert!(text.contains(a.name()) && text.contains(b.name()), "{text}");
    let json: serde_json::Value = serde_json::from_str(&comparison.json()).expect("json");
    assert!(json.is_object());
}
