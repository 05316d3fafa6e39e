//! Resilience policies end to end: library scenarios run through the model, each compared
//! with the behaviour the policy is there to produce (or prevent).

mod common;

use models::{RunOptions, RunResult, World};
use reports::analysis::{Verdict, analyse};

/// Loads a library scenario with `--set` overrides and runs it with `seed`.
fn run(name: &str, settings: &[(&str, &str)], seed: u64) -> RunResult {
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let loaded = scenarios::load_with(&common::library(name), &settings).expect("scenario loads");
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn service<'a>(r: &'a RunResult, name: &str) -> &'a models::ServiceReport {
    r.services.iter().find(|s| s.name == name).expect("service")
}

fn recovered(r: &RunResult) -> bool {
    analyse(r)
        .faults
        .iter()
        .all(|f| matches!(f.verdict, Verdict::Recovered { .. } | Verdict::NoImpact))
}

/// 3 attempts at each of 3 layers over a dead storage: 27 storage calls per request. Only
/// finished requests count, so the ratio is exact up to the requests still in flight.
#[test]
fn retries_multiply_through_layers_and_a_budget_bounds_them() {
    let r = run("retry-amplification.ron", &[], 1);
    let users = &r.clients[0].stats;
    let finished = users.ok + users.failed();
    assert!(finished > 5000, "{finished}");
    assert_eq!(users.ok, 0, "storage is down");
    let storage = service(&r, "storage").stats.requests as f64;
    let per_request = storage / finished as f64;
    assert!(
        (26.9..=27.1).contains(&per_request),
        "{per_request} storage calls per request"
    );

    let budget = "Envoy(budget_percent: 20.0, min_retry_concurrency: 3)";
    let r = run(
        "retry-amplification.ron",
        &[("policies.default.retry.budget", budget)],
        1,
    );
    let users = &r.clients[0].stats;
    let storage = service(&r, "storage").stats.requests as f64;
    let per_request = storage / (users.ok + users.failed()) as f64;
    assert!(per_request < 8.0, "{per_request} storage calls per request");
    let refused: u64 = r.edges.iter().map(|e| e.retries_refused).sum();
    assert!(refused > 10_000, "the budgets refused {refused} retries");
}

/// The retry storm never recovers; the same storm with a breaker, or with gRPC retry
/// throttling, does. Three seeds each.
#[test]
fn a_breaker_or_a_retry_throttle_ends_the_metastable_storm() {
    for seed in 1..=3 {
        let storm = run("metastable-retry-storm.ron", &[], seed);
        assert!(!recovered(&storm), "seed {seed}: the storm must persist");
        let broken = run("metastable-breaker.ron", &[], seed);
        assert!(recovered(&broken), "seed {seed}: the breaker must end it");
        let breaker = broken.clients[0]
            .stats
            .failed_by(models::metrics::FailureCause::CircuitOpen);
        assert!(breaker > 0, "seed {seed}: the breaker never opened");
        let transitions = &broken.edges[0]
            .breakers
            .first()
            .expect("a breaker")
            .transitions;
        assert!(transitions.len() >= 3, "seed {seed}: {transitions:?}");
        let throttled = run(
            "metastable-retry-storm.ron",
            &[(
                "clients.users.retry.budget",
                "Grpc(max_tokens: 10, token_ratio: 0.1)",
            )],
            seed,
        );
        assert!(recovered(&throttled), "seed {seed}: throttling must end it");
    }
}

/// The slow optional dependency fills its own bulkhead; the workers of the critical path stay
/// free, and the pages it could not serve are degraded, not failed.
#[test]
fn a_bulkhead_keeps_a_slow_optional_dependency_off_the_critical_path() {
    let with = run("bulkhead-isolation.ron", &[], 1);
    let shoppers = &with.clients[0].stats;
    assert!(
        shoppers.availability() > 0.99,
        "{}",
        shoppers.availability()
    );
    assert!(shoppers.degraded > 1000, "{} degraded", shoppers.degraded);
    let reviews = with.edges.iter().find(|e| e.to == "reviews").expect("edge");
    assert!(
        reviews
            .calls
            .failed_by(models::metrics::FailureCause::BulkheadFull)
            == 0
    );
    assert!(reviews.fallbacks > 1000);

    let without = run(
        "bulkhead-isolation.ron",
        &[(
            "edges.product->reviews.bulkhead",
            "Semaphore(max_concurrent_calls: 1000)",
        )],
        1,
    );
    let shoppers = &without.clients[0].stats;
    assert!(
        shoppers.availability() < 0.8,
        "without the bulkhead the product workers all wait on reviews: {}",
        shoppers.availability()
    );
}

/// Hedging cuts the tail of an idempotent read; on a non-idempotent charge the losing copies
/// charge again, unless the callee keeps idempotency keys.
#[test]
fn hedging_cuts_the_tail_and_idempotency_keys_stop_duplicate_charges() {
    let hedged = run("hedging.ron", &[], 1);
    let plain = run(
        "hedging.ron",
        &[(
            "edges.orders->inventory.hedge",
            "(max_attempts: 2, delay: \"1h\")",
        )],
        1,
    );
    let p99 = |r: &RunResult| {
        let edge = r.edges.iter().find(|e| e.to == "inventory").expect("edge");
        edge.calls.latency.quantile(0.99).as_millis_f64()
    };
    assert!(
        p99(&hedged) < p99(&plain) * 0.5,
        "hedged p99 {} ms, plain {} ms",
        p99(&hedged),
        p99(&plain)
    );
    let edge = hedged
        .edges
        .iter()
        .find(|e| e.to == "inventory")
        .expect("edge");
    assert!(edge.hedges > 100);
    assert_eq!(
        service(&hedged, "inventory").duplicate_side_effects,
        0,
        "idempotent"
    );
    let payments = service(&hedged, "payments");
    assert!(
        payments.duplicate_side_effects > 100,
        "{} duplicate charges",
        payments.duplicate_side_effects
    );

    let keyed = run(
        "hedging.ron",
        &[("services.payments.idempotency_keys", "true")],
        1,
    );
    let payments = service(&keyed, "payments");
    assert_eq!(payments.duplicate_side_effects, 0);
    let conflicts = payments
        .stats
        .failed_by(models::metrics::FailureCause::Conflict);
    assert!(
        conflicts + payments.deduplicated > 100,
        "{conflicts} conflicts"
    );
}

/// The AWS "Exponential Backoff And Jitter" experiment: exactly N successful writes, and the
/// blog's ordering of the backoffs, on the mean over seeds.
#[test]
fn occ_backoff_reproduces_the_aws_experiment() {
    let users = "40";
    let mean = |backoff: &str| {
        let (mut writes, mut last) = (0.0, 0.0);
        let seeds = 10;
        for seed in 1..=seeds {
            let r = run(
                "occ-backoff.ron",
                &[
                    ("clients.writers.arrivals.users", users),
                    ("clients.writers.retry.backoff", backoff),
                ],
                seed,
            );
            let db = service(&r, "db");
            assert_eq!(db.writes - db.write_conflicts, 40, "one success per user");
            assert_eq!(r.clients[0].stats.ok, 40);
            writes += db.writes as f64;
            last += r.clients[0].stats.latency.max().as_millis_f64();
        }
        (writes / seeds as f64, last / seeds as f64)
    };
    let none = mean("Immediate");
    let exponential = mean("Exponential(base: \"5ms\", cap: \"2s\")");
    let full = mean("FullJitter(base: \"5ms\", cap: \"2s\")");
    let equal = mean("EqualJitter(base: \"5ms\", cap: \"2s\")");
    let decorrelated = mean("Decorrelated(base: \"5ms\", cap: \"2s\")");
    // Jitter spreads the clients out: far fewer calls than no backoff or plain exponential.
    for jittered in [full, equal, decorrelated] {
        assert!(jittered.0 < none.0 * 0.7, "{jittered:?} vs none {none:?}");
        assert!(
            jittered.0 < exponential.0 * 0.8,
            "{jittered:?} vs {exponential:?}"
        );
    }
    // Without jitter, exponential backoff keeps the clients in lockstep and takes far longer.
    assert!(exponential.1 > 3.0 * full.1, "{exponential:?} vs {full:?}");
    assert!(full.1 < equal.1, "full {full:?} equal {equal:?}");
}
