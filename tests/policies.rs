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

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load_str(std::path::Path::new("test.ron"), text)
        .unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

use models::metrics::FailureCause as Cause;

/// Resilience4j's limiter lets `limit_for_period` through per refresh period and refuses the
/// rest at once with a zero timeout; with a timeout, callers wait for a later cycle instead.
/// Envoy's token bucket refills `tokens_per_fill` per `fill_interval`.
#[test]
fn rate_limiters_admit_their_rate() {
    let text = |limit: &str| {
        format!(
            r#"Scenario(version: 1, name: "rl", duration: "20s",
            services: [Service(name: "api", workers: 50, queue: 50, service_time: Constant(value: "1ms"),
                               inbound: (rate_limit: {limit}))],
            clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 300.0))])"#
        )
    };
    let r4j = run_text(
        &text(
            r#"Resilience4j(limit_for_period: 100, limit_refresh_period: "1s", timeout_duration: "0s")"#,
        ),
        1,
    );
    let s = &r4j.services[0].stats;
    // 20 cycles of 100 permissions, and about 6,000 requests: each cycle is used up.
    assert!((1990..=2000).contains(&s.ok), "{}", s.ok);
    assert!(s.failed_by(Cause::RateLimited) > 3500);
    let envoy = run_text(
        &text(r#"Envoy(max_tokens: 50, tokens_per_fill: 50, fill_interval: "500ms")"#),
        1,
    );
    let s = &envoy.services[0].stats;
    // A full bucket at 0, then 50 tokens at each of the 39 fills.
    assert!((1990..=2000).contains(&s.ok), "{}", s.ok);
    // With a 2 s timeout the callers queue for permissions: nothing is refused while the wait
    // stays below 2 s, and the latency grows to the wait.
    let waiting = run_text(
        &text(r#"Resilience4j(limit_for_period: 100, limit_refresh_period: "1s", timeout_duration: "2s")"#).replace("300.0", "90.0"),
        1,
    );
    let c = &waiting.clients[0].stats;
    assert_eq!(c.failed_by(Cause::RateLimited), 0);
    assert!(c.latency.max() < SimDuration::from_secs(1));
}

use sim_core::SimDuration;

/// An AIMD concurrency limit sheds the excess of an overload instead of queueing it: the
/// served requests keep their latency, the limit comes down and is logged.
#[test]
fn an_adaptive_concurrency_limit_sheds_the_overload() {
    let text = |shed: &str| {
        format!(
            r#"Scenario(version: 1, name: "aimd", duration: "60s",
            services: [Service(name: "api", workers: 20, queue: 2000, service_time: Exponential(mean: "10ms"),
                               inbound: (shed: {shed}))],
            clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 2500.0))])"#
        )
    };
    let aimd = run_text(
        &text(r#"Aimd(initial_limit: 40, min_limit: 10, max_limit: 200, timeout: "50ms")"#),
        1,
    );
    let queued = run_text(&text("QueueLength(max: 2000)"), 1);
    let api = &aimd.services[0];
    assert!(api.stats.failed_by(Cause::Shed) > 10_000);
    assert!(!api.concurrency_limit.is_empty());
    let p99 = |r: &RunResult| r.services[0].stats.latency.quantile(0.99).as_millis_f64();
    assert!(
        p99(&aimd) < p99(&queued) / 5.0,
        "{} vs {}",
        p99(&aimd),
        p99(&queued)
    );
}

/// CoDel and deadline propagation end the overload their library scenarios show; without them
/// the same worlds recover late or never.
#[test]
fn codel_and_deadline_propagation_shorten_recovery() {
    let codel = run("load-shedding.ron", &[], 1);
    let deep = run(
        "load-shedding.ron",
        &[("services.api.inbound.shed", "QueueLength(max: 5000)")],
        1,
    );
    assert!(recovered(&codel));
    assert!(
        !recovered(&deep),
        "a deep queue without CoDel keeps serving the dead"
    );
    assert!(deep.services[0].wasted_work > 10 * codel.services[0].wasted_work.max(1));

    let propagated = run("deadline-propagation.ron", &[], 1);
    let plain = run(
        "deadline-propagation.ron",
        &[
            ("services.front.propagate_deadline", "false"),
            ("services.back.propagate_deadline", "false"),
        ],
        1,
    );
    let back = |r: &RunResult| service(r, "back").expired;
    assert!(back(&propagated) > 1000);
    assert_eq!(back(&plain), 0);
    let recovery = |r: &RunResult| analyse(r).faults[0].time_to_recover.expect("recovers");
    assert!(recovery(&propagated) < recovery(&plain));
    assert!(
        propagated.clients[0].stats.availability() > plain.clients[0].stats.availability() + 0.05
    );
}

/// Google SRE adaptive throttling: when the backend rejects most requests, the client stops
/// sending most of them (locally `throttled`), sparing the backend.
#[test]
fn adaptive_throttling_spares_a_rejecting_backend() {
    let text = |throttle: &str| {
        format!(
            r#"Scenario(version: 1, name: "throttle", duration: "60s",
            services: [Service(name: "api", workers: 1, queue: 0, service_time: Constant(value: "10ms"))],
            clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 1000.0) {throttle})])"#
        )
    };
    let plain = run_text(&text(""), 1);
    let throttled = run_text(&text(r#", throttle: (k: 2.0, window: "10s")"#), 1);
    let sent = |r: &RunResult| r.services[0].stats.requests;
    assert!(throttled.clients[0].stats.failed_by(Cause::Throttled) > 30_000);
    assert!(
        sent(&throttled) * 3 < sent(&plain),
        "{} vs {}",
        sent(&throttled),
        sent(&plain)
    );
    // The throttle settles where the client sends about k times what the backend accepts
    // (requests = k * accepts makes the rejection probability 0).
    let accepted = throttled.services[0].stats.ok as f64;
    let ratio = sent(&throttled) as f64 / accepted;
    assert!(
        (1.8..=2.4).contains(&ratio),
        "sent {ratio} times the accepted"
    );
}

/// The composition order decides what a layer sees: a bulkhead outside the retry holds its
/// permit across the retries and backoffs of one call, so concurrent calls are refused; inside,
/// each attempt takes a permit and a refused attempt is retried.
#[test]
fn the_composition_order_decides_what_each_layer_sees() {
    let text = |order: &str| {
        format!(
            r#"Scenario(version: 1, name: "order", duration: "30s",
            services: [Service(name: "api", workers: 10, queue: 10, service_time: Constant(value: "5ms"),
                               error_rate: 0.5)],
            clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 100.0),
                             retry: (max_attempts: 3, backoff: Constant(delay: "20ms")),
                             bulkhead: Semaphore(max_concurrent_calls: 1), order: {order})])"#
        )
    };
    let outside = run_text(&text("[Bulkhead, Retry, Breaker, Timeout]"), 1);
    let inside = run_text(&text("[Retry, Breaker, Timeout, Bulkhead]"), 1);
    let e = |r: &RunResult| r.edges[0].clone();
    // Outside: refusals are whole calls, never retried.
    assert!(e(&outside).calls.failed_by(Cause::BulkheadFull) > 500);
    assert_eq!(e(&outside).stats.failed_by(Cause::BulkheadFull), 0);
    // Inside: refusals are attempts, and retried.
    assert!(e(&inside).stats.failed_by(Cause::BulkheadFull) > 500);
    assert!(
        e(&inside).calls.failed_by(Cause::BulkheadFull) * 2
            < e(&inside).stats.failed_by(Cause::BulkheadFull),
        "retries absorb most refused attempts"
    );
    assert!(e(&inside).retries > e(&outside).retries);
}

/// A cached fallback serves the last good answer for its ttl, then the failures show.
#[test]
fn a_cached_fallback_lasts_its_ttl() {
    let text = r#"Scenario(version: 1, name: "cache", duration: "40s",
        services: [Service(name: "api", workers: 10, service_time: Constant(value: "1ms"),
                           calls: [(to: "prices", fallback: Cached(ttl: "5s"))]),
                   Service(name: "prices", workers: 10, service_time: Constant(value: "1ms"))],
        clients: [Client(name: "users", to: "api", arrivals: Constant(rate_per_s: 10.0))],
        faults: [Errors(service: "prices", rate: 1.0, from: "10s", to: "30s")])"#;
    let r = run_text(text, 1);
    let c = &r.clients[0].stats;
    // 10 s to 15 s: degraded answers from the cache; 15 s to 30 s: failures.
    assert_eq!(c.degraded, 50);
    assert_eq!(c.failed(), 150);
    let w = &c.windows;
    assert_eq!(w[12].degraded, 10);
    assert_eq!(w[20].failed(), 10);
    assert_eq!(w[35].ok, 10);
}
