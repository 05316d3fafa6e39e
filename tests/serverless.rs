//! Serverless functions end to end (issue 16) against closed forms: at concurrency 1 and a
//! limit of c instances, with Poisson arrivals, exponential work and no cold-start delay, the
//! function is an M/M/c/c loss system and throttles the Erlang B share; without a limit and
//! with nothing kept warm, the instances alive are the busy ones of an M/G/infinity system,
//! λ·E[S] on average, and every request starts its own instance. Requests are conserved, and
//! the library pair shows what provisioned concurrency buys.

mod common;

use std::path::Path;

use models::metrics::FailureCause;
use models::{RunOptions, RunResult, World};

/// Student's t for 9 degrees of freedom at 99.9 % (two-sided), as `tests/theory.rs` uses.
const T_9_999: f64 = 4.781;

fn run(source: &str, seed: u64) -> RunResult {
    let loaded =
        scenarios::load_str(Path::new("serverless.ron"), source).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// Mean and 99.9 % half-width of a figure over ten seeds.
fn over_ten_seeds(source: &str, figure: impl Fn(&RunResult) -> f64) -> (f64, f64) {
    let xs: Vec<f64> = (1..=10).map(|seed| figure(&run(source, seed))).collect();
    let k = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / k;
    let variance = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, T_9_999 * (variance / k).sqrt())
}

fn agrees(name: &str, mean: f64, half_width: f64, theory: f64, max_relative: f64) {
    eprintln!("{name}: {mean:.5}, theory {theory:.5}, 99.9% half-width {half_width:.5}");
    assert!(
        half_width < max_relative * theory,
        "{name}: run too short, half-width {half_width}"
    );
    assert!(
        (mean - theory).abs() <= half_width,
        "{name}: {mean:.5}, theory {theory:.5}, 99.9% half-width {half_width:.5}"
    );
}

/// Erlang B by its recurrence: B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)).
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

fn function(service_time: &str, serverless: &str, rate: f64) -> String {
    format!(
        r#"Scenario(version: 1, name: "function", duration: "100s",
    services: [
        Service(name: "fn", workers: 1, service_time: {service_time},
                serverless: ({serverless})),
    ],
    network: (latency: Constant(value: "1ms")),
    clients: [Client(name: "callers", to: "fn", arrivals: Poisson(rate_per_s: {rate:?}))],
)"#
    )
}

/// M/M/c/c: λ = 400/s, E[S] = 10 ms, c = 5, so a = 4 and B(5, 4) = 0.1991.
#[test]
fn throttles_at_the_limit_are_the_erlang_b_loss() {
    let source = function(
        r#"Exponential(mean: "10ms")"#,
        r#"cold_start: Constant(value: "0s"), keep_warm: "1h", max_instances: 5"#,
        400.0,
    );
    let (mean, half_width) = over_ten_seeds(&source, |r| {
        let f = &r.ops.functions[0];
        assert_eq!(f.cold_starts, 5, "instances kept warm start once");
        assert_eq!(f.peak_instances, 5);
        f.throttled as f64 / f.invocations as f64
    });
    agrees(
        "Erlang B throttled share",
        mean,
        half_width,
        erlang_b(5, 4.0),
        0.05,
    );
}

/// M/G/∞: λ = 200/s, LogNormal work with median 50 ms and p99 200 ms, so
/// E[S] = 50 ms · exp(σ²/2) with σ = ln 4 / z(0.99); nothing kept warm, so an instance is alive
/// exactly while it serves and the mean alive is λ·E[S] (about 11.9).
#[test]
fn without_a_limit_the_mean_instances_are_the_offered_load() {
    let source = function(
        r#"LogNormal(median: "50ms", p99: "200ms")"#,
        r#"cold_start: Constant(value: "0s"), keep_warm: "0s""#,
        200.0,
    );
    let (mean, half_width) = over_ten_seeds(&source, |r| {
        let f = &r.ops.functions[0];
        assert_eq!(f.throttled, 0);
        assert_eq!(
            f.cold_starts, f.invocations,
            "with nothing kept warm every request starts an instance"
        );
        assert_eq!(f.waited_for_cold_start, f.invocations);
        f.instance_seconds / 100.0
    });
    let sigma = 4.0_f64.ln() / 2.326_347_874;
    let theory = 200.0 * 0.050 * (sigma * sigma / 2.0).exp();
    agrees("M/G/inf mean instances", mean, half_width, theory, 0.05);
}

/// Every attempt that reaches a function is served, throttled, failed otherwise or still in
/// flight, and the function's counts match the service's.
#[test]
fn requests_are_conserved_through_cold_starts_and_throttles() {
    let source = function(
        r#"Exponential(mean: "50ms")"#,
        r#"cold_start: LogNormal(median: "300ms", p99: "1s"), keep_warm: "2s", max_instances: 8"#,
        60.0,
    );
    for seed in 1..=3 {
        let r = run(&source, seed);
        let f = &r.ops.functions[0];
        let s = &r.services[0].stats;
        // The service counts an attempt when it is sent; the function when it arrives.
        let on_the_way = s.requests - f.invocations;
        assert!(on_the_way <= s.in_flight(), "seed {seed}");
        assert_eq!(f.throttled, s.failed_by(FailureCause::RateLimited));
        assert_eq!(s.requests, s.ok + s.degraded + s.failed() + s.in_flight());
        assert!(f.throttled > 0 && f.cold_starts > 8, "seed {seed}: {f:?}");
        assert!(f.peak_instances <= 8);
        let client = &r.clients[0].stats;
        assert_eq!(
            client.requests,
            client.ok + client.degraded + client.failed() + client.in_flight()
        );
    }
}

/// A cold start delays exactly the requests that wait for one: with a constant 2 s cold start
/// and 10 ms of work, the slowest request takes the cold start plus its work and the network.
#[test]
fn a_cold_start_is_paid_before_the_work() {
    let source = function(
        r#"Constant(value: "10ms")"#,
        r#"cold_start: Constant(value: "2s"), keep_warm: "10m""#,
        5.0,
    );
    let r = run(&source, 1);
    let f = &r.ops.functions[0];
    // Each request that arrives while every instance is busy starting (about 5/s x 2 s at
    // first) starts one more; none retires within the run (kept warm 10 minutes), so every
    // instance started once and cold, and the rest of the run is served warm.
    assert!(
        f.cold_starts >= 1 && f.cold_starts == u64::from(f.peak_instances),
        "{f:?}"
    );
    assert!(f.cold_starts * 10 < f.invocations, "{f:?}");
    let max_ms = r.services[0].stats.latency.max().as_nanos() as f64 / 1e6;
    assert!((2010.0..2013.0).contains(&max_ms), "max {max_ms} ms");
}

/// The library pair: on demand at a reserved concurrency of 50, the spike is throttled and
/// starts instances cold; with 70 provisioned instances nothing is throttled, few start cold,
/// and the instance-seconds are higher.
#[test]
fn provisioned_concurrency_buys_the_spike_for_instance_seconds() {
    for seed in [1, 7] {
        let on_demand = run(
            &std::fs::read_to_string(common::library("serverless-spike.ron")).unwrap(),
            seed,
        );
        let provisioned = run(
            &std::fs::read_to_string(common::library("serverless-provisioned.ron")).unwrap(),
            seed,
        );
        let (a, b) = (&on_demand.ops.functions[0], &provisioned.ops.functions[0]);
        assert!(a.throttled > 1_000, "seed {seed}: {a:?}");
        assert_eq!(b.throttled, 0, "seed {seed}");
        assert!(a.cold_starts > 4 * b.cold_starts, "seed {seed}");
        assert!(b.instance_seconds > 1.3 * a.instance_seconds, "seed {seed}");
        assert!(on_demand.clients[0].stats.failed() > 0);
        assert_eq!(provisioned.clients[0].stats.failed(), 0);
    }
}

#[test]
fn bad_serverless_sections_say_where_and_what() {
    for (serverless, extra, expected) in [
        (
            r#"cold_start: Constant(value: "1s"), max_instances: 0"#,
            "",
            "serverless.ron:4:65: services[0].serverless.max_instances: 0 is not a limit",
        ),
        (
            r#"cold_start: Constant(value: "1s"), provisioned: 9, max_instances: 4"#,
            "",
            "services[0].serverless.provisioned: 9 provisioned instances exceed max_instances (4)",
        ),
        (
            r#"cold_start: Constant(value: "1s")"#,
            ", replicas: 3",
            "services[0].replicas: a serverless service cannot set `replicas`",
        ),
        (
            r#"cold_start: Constant(value: "1s")"#,
            ", queue: 10",
            "services[0].queue: a serverless service cannot set `queue`",
        ),
    ] {
        let source = format!(
            r#"Scenario(version: 1, name: "bad", duration: "10s",
    services: [
        Service(name: "fn", workers: 1, service_time: Constant(value: "1ms"){extra},
                serverless: ({serverless})),
    ],
    clients: [Client(name: "c", to: "fn", arrivals: Poisson(rate_per_s: 1.0))],
)"#
        );
        let err = scenarios::load_str(Path::new("serverless.ron"), &source)
            .err()
            .unwrap_or_else(|| panic!("{serverless} loaded"))
            .to_string();
        assert!(err.contains(expected), "{serverless}: {err}");
        assert!(err.starts_with("serverless.ron:"), "{err}");
    }
}

/// A crash of every instance of a function loses what ran on them and what waited for their
/// cold starts; while they are down requests are refused (`unavailable`), and
/// after the restart instances start cold again and serve. The pool's slots are not leaked:
/// the function serves as many instances at once after the crash as before it.
#[test]
fn a_crashed_function_comes_back_cold_and_whole() {
    let source = function(
        r#"Exponential(mean: "20ms")"#,
        r#"cold_start: Constant(value: "200ms"), keep_warm: "1m", max_instances: 6"#,
        100.0,
    )
    .replace(
        "    network:",
        r#"    faults: [Crash(target: Service("fn"), at: "30s", restart_after: "5s")],
    network:"#,
    );
    let r = run(&source, 2);
    let f = &r.ops.functions[0];
    let s = &r.services[0].stats;
    let window = |k: usize| &s.windows[k];
    // Down from 30 s to 35 s: nothing served in between.
    assert_eq!(window(32).ok, 0);
    assert!(window(32).failed() > 0);
    // Back after the restart, with the same capacity as before.
    assert!(window(60).ok > 80, "{:?}", window(60));
    assert!(
        f.cold_starts > 6,
        "instances started again after the crash: {f:?}"
    );
    assert!(f.peak_instances <= 6);
    let late: u64 = (40..100).map(|k| s.windows[k].failed()).sum();
    let early: u64 = (1..30).map(|k| s.windows[k].failed()).sum();
    assert!(
        late <= 3 * early + 20,
        "late failures {late}, early {early}"
    );
}
