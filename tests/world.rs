//! The world's failure modes end to end: availability arithmetic, partitions, host clocks and
//! load balancing, each against what theory or an operator expects.

use std::path::Path;

use models::metrics::FailureCause;
use models::{RunOptions, RunResult, World};
use sim_core::SimDuration;

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load_str(Path::new("test.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// Two-sided 99.9 % Student-t quantile for 29 degrees of freedom.
const T_29_999: f64 = 3.659;

/// Mean and half-width of the 99.9 % confidence interval of 30 independent estimates.
fn interval(xs: &[f64]) -> (f64, f64) {
    assert_eq!(xs.len(), 30);
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, T_29_999 * (var / n).sqrt())
}

/// Three replicas, each failing after Exponential(9 s) and repaired after Exponential(1 s):
/// A = MTTF / (MTTF + MTTR) = 0.9 per replica; at least one of three runs with probability
/// 1 - (1 - A)^3 = 0.999; a 2-of-3 quorum with 3A^2 - 2A^3 = 0.972. Each seed is an
/// independent estimate over 20,000 s (about 2,000 failures per replica); the closed forms must
/// lie inside the 99.9 % interval of 30 seeds, and the interval must be narrow enough to mean
/// something.
#[test]
fn chaos_availability_matches_the_closed_forms() {
    let text = r#"Scenario(version: 1, name: "chaos", duration: "20000s",
        services: [Service(name: "db", workers: 1, service_time: Constant(value: "1ms"),
                           replicas: 3)],
        clients: [Client(name: "idle", to: "db", arrivals: Constant(rate_per_s: 0.0001))],
        faults: [Chaos(target: Service("db"), mttf: Exponential(mean: "9s"),
                       mttr: Exponential(mean: "1s"))])"#;
    let (mut single, mut one_of_three, mut two_of_three) = (vec![], vec![], vec![]);
    for seed in 1..=30 {
        let r = run_text(text, seed);
        let db = &r.services[0];
        let total = r.duration.as_secs_f64();
        let downs: f64 = db.replicas.iter().map(|i| i.down.as_secs_f64()).sum();
        single.push(1.0 - downs / (3.0 * total));
        let at_least = |k: usize| {
            db.up_time_by_count[k..]
                .iter()
                .map(|d| d.as_secs_f64())
                .sum::<f64>()
                / total
        };
        one_of_three.push(at_least(1));
        two_of_three.push(at_least(2));
        assert!(
            db.replicas.iter().all(|i| i.crashes > 1500),
            "{:?}",
            db.replicas
        );
    }
    let a: f64 = 0.9;
    for (name, xs, theory) in [
        ("one replica", &single, a),
        ("1 of 3", &one_of_three, 1.0 - (1.0 - a).powi(3)),
        ("2 of 3", &two_of_three, 3.0 * a * a - 2.0 * a.powi(3)),
    ] {
        let (mean, half) = interval(xs);
        assert!(
            (mean - theory).abs() <= half,
            "{name}: {mean:.5} ± {half:.5} does not contain {theory:.5}"
        );
        assert!(
            half < 0.005,
            "{name}: the interval ±{half} is too wide to judge"
        );
    }
}

/// Requests see the same arithmetic: with perfect failover a request fails only when all three
/// replicas are down (1 - A^3 ... i.e. availability 1 - (1 - A)^3); without health checking,
/// round robin keeps sending a third of the requests to each replica, dead or not, so the
/// availability is about A.
#[test]
fn failover_turns_replica_availability_into_service_availability() {
    let text = |health: &str| {
        format!(
            r#"Scenario(version: 1, name: "failover", duration: "3000s",
            services: [Service(name: "api", workers: 4, service_time: Constant(value: "1ms"),
                               replicas: 3, health: {health})],
            clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 50.0))],
            faults: [Chaos(target: Service("api"), mttf: Exponential(mean: "9s"),
                           mttr: Exponential(mean: "1s"))])"#
        )
    };
    let perfect = run_text(&text("Perfect"), 7);
    let unchecked = run_text(&text("Unchecked"), 7);
    let p = perfect.clients[0].stats.availability();
    let u = unchecked.clients[0].stats.availability();
    // 150,000 requests: binomial standard errors are below 0.001.
    assert!((p - 0.999).abs() < 0.002, "perfect failover: {p}");
    assert!((u - 0.9).abs() < 0.01, "no failover: {u}");
    let refused = unchecked.clients[0]
        .stats
        .failed_by(FailureCause::Unavailable);
    assert!(
        refused > 10_000,
        "dead replicas refuse connections: {refused}"
    );
}

fn partition_text(partition: &str) -> String {
    format!(
        r#"Scenario(version: 1, name: "partition", duration: "30s",
        topology: (regions: [(name: "r", zones: [(name: "a", hosts: ["a1"]),
                                                  (name: "b", hosts: ["b1"])])]),
        services: [Service(name: "api", workers: 10, service_time: Constant(value: "1ms"),
                           placement: Hosts(["b1"]))],
        network: (latency: Constant(value: "1ms"), cross_zone: Constant(value: "5ms"),
                  partitions: [{partition}]),
        clients: [Client(name: "users", to: "api", host: "a1",
                         arrivals: Constant(rate_per_s: 100.0), timeout: "1s")])"#
    )
}

/// Requests in windows [0, 10 s), [10 s, 20 s) (the partition) and [20 s, 30 s).
fn by_phase(r: &RunResult) -> [(u64, u64); 3] {
    let w = &r.clients[0].stats.windows;
    let phase = |from: usize, to: usize| {
        w[from..to]
            .iter()
            .fold((0, 0), |(ok, failed), w| (ok + w.ok, failed + w.failed()))
    };
    [phase(0, 10), phase(11, 20), phase(22, 30)]
}

#[test]
fn partitions_cut_the_directions_they_name_and_heal() {
    let both = run_text(
        &partition_text(r#"(from: "10s", to: "20s", a: [Zone("a")], b: [Zone("b")])"#),
        1,
    );
    let [before, during, after] = by_phase(&both);
    assert_eq!(before.1, 0);
    assert_eq!(during.0, 0, "nothing crosses a symmetric cut");
    assert!(during.1 >= 900, "{during:?}");
    assert_eq!(after.1, 0, "healing restores traffic");
    assert!(after.0 >= 790);
    // Requests cross the cross-zone link: 5 ms each way plus 1 ms of work.
    assert_eq!(
        both.clients[0].stats.latency.min(),
        SimDuration::from_millis(11)
    );

    // a -> b cut: requests never arrive; the service does no work in the window.
    let to_b = run_text(
        &partition_text(
            r#"(from: "10s", to: "20s", a: [Zone("a")], b: [Zone("b")], direction: AToB)"#,
        ),
        1,
    );
    // b -> a cut: requests arrive and are served, but the replies are lost.
    let to_a = run_text(
        &partition_text(
            r#"(from: "10s", to: "20s", a: [Zone("a")], b: [Zone("b")], direction: BToA)"#,
        ),
        1,
    );
    let served = |r: &RunResult| {
        r.services[0].gauges.windows[12..18]
            .iter()
            .map(|g| g.busy_ns)
            .sum::<u64>()
    };
    assert_eq!(
        served(&to_b),
        0,
        "a one-way cut towards b stops the requests"
    );
    assert!(
        served(&to_a) > 0,
        "a one-way cut towards a lets the requests through"
    );
    assert!(
        to_a.edges[0].lost_messages >= 900,
        "the replies are lost: {}",
        to_a.edges[0].lost_messages
    );
    assert_eq!(by_phase(&to_a)[1].0, 0);
    assert_eq!(by_phase(&to_b)[1].0, 0);
}

#[test]
fn a_dropping_partition_costs_the_timeout_a_refusing_one_fails_fast() {
    let drop = run_text(
        &partition_text(r#"(from: "10s", to: "20s", a: [Zone("a")], b: [Zone("b")], mode: Drop)"#),
        1,
    );
    let refuse = run_text(
        &partition_text(
            r#"(from: "10s", to: "20s", a: [Zone("a")], b: [Zone("b")], mode: Refuse)"#,
        ),
        1,
    );
    let d = &drop.clients[0].stats;
    let r = &refuse.clients[0].stats;
    assert!(d.failed_by(FailureCause::Timeout) >= 990);
    assert_eq!(d.failed_by(FailureCause::Unavailable), 0);
    assert!(r.failed_by(FailureCause::Unavailable) >= 990);
    assert_eq!(r.failed_by(FailureCause::Timeout), 0);
    // The trace shows how long each failure took: the timeout (1 s) against a round trip.
    let request_span = |text: &str, at_s: u64| {
        let loaded = scenarios::load_str(Path::new("t.ron"), text).expect("loads");
        let buffer = models::TraceBuffer::new();
        let options = RunOptions {
            trace: Some(Box::new(buffer.clone())),
            ..RunOptions::default()
        };
        World::new(&loaded.config, 1).run(options);
        buffer
            .take()
            .into_iter()
            .find(|r| {
                r.kind == models::TraceKind::RequestFinished
                    && r.time.as_nanos() > at_s * 1_000_000_000
            })
            .expect("a finished request")
            .duration
    };
    let text = |mode: &str| {
        partition_text(&format!(
            r#"(from: "10s", to: "20s", a: [Zone("a")], b: [Zone("b")], mode: {mode})"#
        ))
    };
    assert_eq!(request_span(&text("Drop"), 12), SimDuration::from_secs(1));
    assert_eq!(
        request_span(&text("Refuse"), 12),
        SimDuration::from_millis(5)
    );
}

/// A 10 s timeout set on a host whose clock runs 500 ppm fast fires after exactly
/// ceil(10 s * 10^6 / (10^6 + 500)) ns of true time: the first nanosecond at which the local
/// clock has advanced 10 s. A clock step does not move it: every timer the world sets is a
/// duration timer.
#[test]
fn a_fast_clock_fires_its_timers_early_and_steps_do_not_move_them() {
    let text = |jumps: &str| {
        format!(
            r#"Scenario(version: 1, name: "clock", duration: "30s",
            topology: (regions: [(name: "r", zones: [(name: "z", hosts: ["fast", "server"])])]),
            clocks: [(host: "fast", drift_ppm: 500, jumps: [{jumps}])],
            services: [Service(name: "sink", workers: 10, service_time: Constant(value: "1ms"),
                               placement: Hosts(["server"]))],
            clients: [Client(name: "users", to: "sink", host: "fast",
                             arrivals: Constant(rate_per_s: 1.0), timeout: "10s")],
            faults: [BlackHole(service: "sink", from: "0s", to: "30s")])"#
        )
    };
    // ceil(10^10 ns * 10^6 / (10^6 + 500)) = 9,995,002,499 ns.
    let exact = (10_000_000_000u128 * 1_000_000).div_ceil(1_000_500) as u64;
    assert_eq!(exact, 9_995_002_499);
    for jumps in ["", r#"(at: "5s", by: "-2s")"#] {
        let r = run_text(&text(jumps), 1);
        let c = &r.clients[0].stats;
        assert!(c.failed_by(FailureCause::Timeout) >= 19);
        let loaded = scenarios::load_str(Path::new("t.ron"), &text(jumps)).expect("loads");
        let buffer = models::TraceBuffer::new();
        let options = RunOptions {
            trace: Some(Box::new(buffer.clone())),
            ..RunOptions::default()
        };
        World::new(&loaded.config, 1).run(options);
        let spans: Vec<u64> = buffer
            .take()
            .into_iter()
            .filter(|r| r.kind == models::TraceKind::RequestFinished)
            .map(|r| r.duration.as_nanos())
            .collect();
        assert!(spans.len() >= 19);
        assert!(spans.iter().all(|&d| d == exact), "{jumps}: {spans:?}");
    }
}

/// Ten single-worker replicas at 85 % load: power of two choices avoids the busy replicas that
/// random choice keeps hitting. Its p99 is lower on every seed, not on average.
#[test]
fn power_of_two_choices_beats_random_on_every_seed() {
    let text = |lb: &str| {
        format!(
            r#"Scenario(version: 1, name: "lb", duration: "200s",
            services: [Service(name: "api", workers: 1, queue: 1000, replicas: 10, lb: {lb},
                               service_time: Exponential(mean: "10ms"))],
            clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 850.0))])"#
        )
    };
    for seed in 1..=5 {
        let p99 = |lb: &str| {
            run_text(&text(lb), seed).clients[0]
                .stats
                .latency
                .quantile(0.99)
                .as_millis_f64()
        };
        let (p2c, random) = (p99("PowerOfTwoChoices"), p99("Random"));
        assert!(
            p2c < random * 0.5,
            "seed {seed}: p2c p99 {p2c} ms, random {random} ms"
        );
    }
}

/// A parallel step waits for what its join asks: all three calls (the slowest, 20 ms), the first
/// (1 ms), or a quorum of two (5 ms); with a failing member, All fails at once while First and
/// Quorum(2) still succeed.
#[test]
fn parallel_steps_join_all_first_or_a_quorum() {
    let text = |join: &str, c_errors: f64| {
        format!(
            r#"Scenario(version: 1, name: "join", duration: "10s",
            services: [
                Service(name: "front", workers: 100, service_time: Constant(value: "1ms"), execution: Async,
                        calls: [(parallel: [(to: "a"), (to: "b"), (to: "c")], join: {join})]),
                Service(name: "a", workers: 100, service_time: Constant(value: "1ms")),
                Service(name: "b", workers: 100, service_time: Constant(value: "5ms")),
                Service(name: "c", workers: 100, service_time: Constant(value: "20ms"), error_rate: {c_errors}),
            ],
            clients: [Client(name: "users", to: "front", arrivals: Constant(rate_per_s: 10.0))])"#
        )
    };
    let latency = |join: &str, errors: f64| {
        let r = run_text(&text(join, errors), 1);
        let c = &r.clients[0].stats;
        (c.ok, c.failed(), c.latency.max(), c.latency.min())
    };
    let ms = SimDuration::from_millis;
    assert_eq!(latency("All", 0.0), (100, 0, ms(21), ms(21)));
    assert_eq!(latency("First", 0.0), (100, 0, ms(2), ms(2)));
    assert_eq!(latency("Quorum(2)", 0.0), (100, 0, ms(6), ms(6)));
    let (ok, failed, _, _) = latency("All", 1.0);
    assert_eq!((ok, failed), (0, 100));
    assert_eq!(latency("First", 1.0), (100, 0, ms(2), ms(2)));
    assert_eq!(latency("Quorum(2)", 1.0), (100, 0, ms(6), ms(6)));
    // The calls a decided step no longer needs still run at their callees: wasted work.
    let r = run_text(&text("First", 0.0), 1);
    assert_eq!(r.services[3].wasted_work, 100);
}

/// Optional calls are made with their probability; request types go to their endpoints in
/// proportion to their weights, and each endpoint runs its own plan.
#[test]
fn optional_calls_endpoints_and_request_types() {
    let text = r#"Scenario(version: 1, name: "plans", duration: "100s",
        services: [
            Service(name: "api", workers: 100, service_time: Constant(value: "1ms"),
                    endpoint: "get", calls: [(to: "cache", probability: 0.25)],
                    endpoints: [(name: "put", service_time: Constant(value: "2ms"),
                                 calls: [(to: "store")])]),
            Service(name: "cache", workers: 100, service_time: Constant(value: "1ms")),
            Service(name: "store", workers: 100, service_time: Constant(value: "1ms")),
        ],
        clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 200.0),
                         requests: [(endpoint: "get", weight: 3.0), (endpoint: "put", weight: 1.0)])])"#;
    let r = run_text(text, 1);
    let n = r.clients[0].stats.requests as f64;
    let puts = r.services[2].stats.requests as f64;
    let cache = r.services[1].stats.requests as f64;
    // Binomial counts: within 5 standard deviations.
    let within = |x: f64, trials: f64, p: f64| {
        (x - trials * p).abs() < 5.0 * (trials * p * (1.0 - p)).sqrt()
    };
    assert!(within(puts, n, 0.25), "{puts} puts of {n}");
    assert!(
        within(cache, n - puts, 0.25),
        "{cache} cache calls of {} gets",
        n - puts
    );
    let bad = text.replace(
        r#"(endpoint: "put", weight: 1.0)"#,
        r#"(endpoint: "post", weight: 1.0)"#,
    );
    let err = scenarios::load_str(Path::new("t.ron"), &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#""api" has no endpoint "post"; expected one of: get, put"#),
        "{err}"
    );
}

/// A database's throughput limit holds the pool's connections until each operation's turn:
/// at 300 offered per second and 200 allowed, 200 per second complete.
#[test]
fn a_database_is_held_to_its_throughput() {
    let text = r#"Scenario(version: 1, name: "db", duration: "20s",
        services: [Service(name: "db", kind: Database(max_throughput_per_s: 200.0), workers: 50,
                           queue: 10000, service_time: Constant(value: "1ms"))],
        clients: [Client(name: "app", to: "db", arrivals: Constant(rate_per_s: 300.0))])"#;
    let r = run_text(text, 1);
    let ok = r.clients[0].stats.ok;
    assert!((3990..=4001).contains(&ok), "{ok} in 20 s");
    assert!(
        r.services[0].queue_max > 1000,
        "the rest waits for a connection"
    );
}

/// A load profile: 100/s, a step to 300/s at 10 s, a ramp back down to 100/s from 20 s to 30 s.
#[test]
fn load_profiles_step_and_ramp() {
    let text = r#"Scenario(version: 1, name: "profile", duration: "40s",
        services: [Service(name: "api", workers: 100, service_time: Constant(value: "1ms"))],
        clients: [Client(name: "users", to: "api", arrivals: Constant(rate_per_s: 100.0),
                         profile: [Step(at: "10s", rate_per_s: 300.0),
                                   Ramp(from: "20s", to: "30s", rate_per_s: 100.0)])])"#;
    let r = run_text(text, 1);
    let w = &r.clients[0].stats.windows;
    let n = |i: usize| w[i].ok as f64;
    assert!((n(5) - 100.0).abs() <= 1.0);
    assert!((n(15) - 300.0).abs() <= 1.0);
    // Halfway down the ramp (25 s to 26 s): 200 per second.
    assert!((n(25) - 200.0).abs() <= 12.0, "{}", n(25));
    assert!((n(35) - 100.0).abs() <= 1.0);
    // Poisson arrivals follow the same profile on average (thinning).
    let poisson = run_text(
        &text.replace("Constant(rate_per_s: 100.0)", "Poisson(rate_per_s: 100.0)"),
        1,
    );
    let w = &poisson.clients[0].stats.windows;
    let sum = |a: usize, b: usize| w[a..b].iter().map(|w| w.ok as f64).sum::<f64>();
    // 10 s at 300/s: 3,000 expected, Poisson standard deviation 55.
    assert!(
        (sum(10, 20) - 3000.0).abs() < 5.0 * 3000f64.sqrt(),
        "{}",
        sum(10, 20)
    );
}

/// The 2-of-3 quorum with requests: a front end reads from three stores in parallel and needs
/// two answers; each store fails and is repaired on its own (A = 0.9), and a dead store refuses
/// at once. Requests succeed with probability 3A^2 - 2A^3 = 0.972. Down periods last about a
/// second (50 requests), so the 150,000 requests are worth about 3,000 independent ones: a
/// standard error of 0.003, and the tolerance is 3.5 of them.
#[test]
fn a_quorum_read_has_the_quorum_availability() {
    let store = |name: &str| {
        format!(r#"Service(name: "{name}", workers: 10, service_time: Constant(value: "1ms"))"#)
    };
    let text = format!(
        r#"Scenario(version: 1, name: "quorum", duration: "3000s",
        services: [
            Service(name: "front", workers: 50, service_time: Constant(value: "1ms"), execution: Async,
                    calls: [(parallel: [(to: "s1"), (to: "s2"), (to: "s3")], join: Quorum(2))]),
            {}, {}, {}],
        clients: [Client(name: "users", to: "front", arrivals: Poisson(rate_per_s: 50.0))],
        faults: [Chaos(target: Service("s1"), mttf: Exponential(mean: "9s"), mttr: Exponential(mean: "1s")),
                 Chaos(target: Service("s2"), mttf: Exponential(mean: "9s"), mttr: Exponential(mean: "1s")),
                 Chaos(target: Service("s3"), mttf: Exponential(mean: "9s"), mttr: Exponential(mean: "1s"))])"#,
        store("s1"),
        store("s2"),
        store("s3")
    );
    let r = run_text(&text, 11);
    let a: f64 = 0.9;
    let theory = 3.0 * a * a - 2.0 * a.powi(3);
    let got = r.clients[0].stats.availability();
    assert!((got - theory).abs() < 3.5 * 0.003, "{got} against {theory}");
}

/// Regression (found by the property test): a hedged copy waiting at a bulkhead was handed the
/// permit while its sibling's end was still being decided; a layer inside the bulkhead that
/// refuses at once (the throttle, or a breaker ordered inside) then ended the call under the
/// sibling's feet, and the run panicked ("a live attempt is in its call's slots", a stale hedge
/// timer, or a counter going below zero). A freed permit now lets its waiter carry on after the
/// event that freed it.
#[test]
fn a_hedged_copy_refused_inside_a_waiting_bulkhead_does_not_end_the_call_twice() {
    let inner = [
        "throttle: ()",
        "breaker: (minimum_number_of_calls: 5, wait_duration_in_open_state: \"1s\"),
         order: [Retry, Timeout, Bulkhead, Breaker]",
    ];
    for layer in inner {
        let text = format!(
            r#"Scenario(version: 1, name: "hedge-bulkhead", duration: "20s",
            services: [Service(name: "api", workers: 2, queue: 10,
                               service_time: Constant(value: "20ms"), error_rate: 0.5)],
            clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 150),
                             hedge: (max_attempts: 2, delay: "10ms"),
                             bulkhead: Semaphore(max_concurrent_calls: 1,
                                                 max_wait_duration: "50ms"),
                             {layer})])"#
        );
        for seed in 1..=3 {
            let r = run_text(&text, seed);
            let users = &r.clients[0].stats;
            assert!(
                users.requests > 2500,
                "{layer}: {} requests",
                users.requests
            );
            // Every request ended once: answered, failed, or still in flight at the end.
            assert!(users.ok + users.failed() <= users.requests);
            assert!(
                users.failed_by(FailureCause::BulkheadFull) > 0,
                "{layer}: no waits ran out"
            );
        }
    }
}

/// Regression: trace records named their edge by the world's internal per-replica edge id while
/// `TraceNames` reads the result's edges, so once a caller had replicas (or a client several
/// request types) records were attributed to the wrong edge. Records now hold the result's edge
/// index, the same for every replica of one call.
#[test]
fn trace_records_name_their_edges_when_callers_have_replicas() {
    let text = r#"Scenario(version: 1, name: "replicated-caller", duration: "5s",
        topology: (regions: [(name: "r", zones: [(name: "z", hosts: ["h1", "h2"])])]),
        services: [
            Service(name: "api", workers: 4, service_time: Constant(value: "1ms"),
                    replicas: 2, placement: Hosts(["h1", "h2"]), calls: [Call(to: "db")]),
            Service(name: "db", workers: 4, service_time: Constant(value: "1ms")),
        ],
        clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 200))])"#;
    let loaded = scenarios::load_str(Path::new("t.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    let buffer = models::TraceBuffer::new();
    let options = RunOptions {
        trace: Some(Box::new(buffer.clone())),
        ..RunOptions::default()
    };
    let result = World::new(&loaded.config, 1).run(options);
    let names = models::TraceNames::of(&result);
    let records = buffer.take();
    let mut to_db = 0;
    for r in records.iter().filter(|r| r.edge != models::trace::NONE) {
        let (from, to) = names.edge(r.edge);
        let callee = names.service(r.service);
        match callee {
            "api" => assert_eq!((from, to), ("client:users", "api"), "{r:?}"),
            "db" => {
                assert_eq!((from, to), ("api", "db"), "{r:?}");
                to_db += 1;
            }
            other => panic!("unexpected service {other}"),
        }
    }
    assert!(to_db > 1000, "{to_db} records about api -> db");
}

/// A read-modify-write user whose conditional write failed but whose fallback answered ends
/// with a degraded answer, not a full success: the client counts it in `degraded` as every
/// other caller does (it used to count it as a plain `ok`).
#[test]
fn a_read_modify_write_answered_by_a_fallback_is_degraded() {
    let text = r#"Scenario(version: 1, name: "occ-fallback", duration: "60s",
        network: (latency: Constant(value: "10ms")),
        services: [Service(name: "db", kind: Record, workers: 100, queue: 0,
                           service_time: Constant(value: "0s"))],
        clients: [Client(name: "writers", to: "db", arrivals: ReadModifyWrite(users: 50),
                         fallback: Static)])"#;
    let r = run_text(text, 1);
    let writers = &r.clients[0].stats;
    let db = &r.services[0];
    assert_eq!(writers.requests, 50);
    assert_eq!(writers.ok, 50, "every user gets an answer");
    // Concurrent writers of one version: all but the first conflict, and the fallback answers.
    assert!(db.write_conflicts > 0);
    assert_eq!(writers.degraded, db.write_conflicts, "{writers:?}");
}

/// One worker busy for 260 ms, one place in the queue, a request every 100 ms whose caller
/// waits 50 ms. A request that reneges frees its place at once, so the next arrival finds room;
/// one that stays queued blocks the place until a worker serves it for nobody.
#[test]
fn a_reneging_request_frees_its_place_in_the_queue() {
    let text = |abandonment: &str| {
        format!(
            r#"Scenario(version: 1, name: "renege", duration: "10s",
            services: [Service(name: "api", workers: 1, queue: 1, abandonment: {abandonment},
                               service_time: Constant(value: "260ms"))],
            clients: [Client(name: "users", to: "api", arrivals: Constant(rate_per_s: 10.0),
                             timeout: "50ms")])"#
        )
    };
    let stays = run_text(&text("AtDequeue"), 1);
    let leaves = run_text(&text("Renege"), 1);
    let (stays, leaves) = (&stays.services[0], &leaves.services[0]);
    assert_eq!(stays.reneged, None);
    let reneged = leaves.reneged.expect("counted");
    let rejected = |s: &models::ServiceReport| s.stats.failed_by(FailureCause::Rejected);
    // Every request but the one in service leaves the queue; none is ever refused a place.
    assert!(reneged > 60, "{reneged}");
    assert_eq!(rejected(leaves), 0);
    assert!(rejected(stays) > 30, "{}", rejected(stays));
    // Staying requests are served after their callers left: wasted work.
    assert!(stays.wasted_work > leaves.wasted_work);
    assert_eq!(leaves.queue_max, 1);
}

/// Envoy tells the callee the per-try timeout (`x-envoy-expected-rq-timeout-ms`), gRPC only
/// the call's deadline. With a 40 ms per-try timeout, three tries and a 1 s deadline against a
/// back end whose queue is longer than 40 ms, a back end told the per-try timeout drops the
/// tries their caller has given up on; one told the call's deadline serves them for nobody.
#[test]
fn a_per_try_deadline_lets_the_callee_drop_abandoned_tries() {
    let text = |sent: &str| {
        format!(
            r#"Scenario(version: 1, name: "per-try", duration: "20s",
            services: [Service(name: "back", workers: 2, queue: 200, propagate_deadline: true,
                               service_time: Exponential(mean: "10ms"))],
            clients: [Client(name: "users", to: "back", arrivals: Poisson(rate_per_s: 190.0),
                             timeout: "40ms", deadline: "1s", deadline_sent: {sent},
                             retry: (max_attempts: 3, backoff: Immediate))])"#
        )
    };
    let call = run_text(&text("Call"), 3);
    let per_try = run_text(&text("PerTry"), 3);
    let (call, per_try) = (&call.services[0], &per_try.services[0]);
    assert!(per_try.expired > 100, "{}", per_try.expired);
    assert!(
        call.expired < per_try.expired / 10,
        "{} vs {}",
        call.expired,
        per_try.expired
    );
    assert!(
        per_try.wasted_work < call.wasted_work,
        "{} vs {}",
        per_try.wasted_work,
        call.wasted_work
    );
}

/// A rate limiter offered three times its rate admits its rate in the long run: at most
/// `rate * T + burst + 1` (exact) and, since a bucket that rarely fills rarely wastes tokens,
/// not less than 0.5 % below `rate * T` (Poisson arrivals at 3x leave the bucket full with
/// probability about 3^-burst).
#[test]
fn continuous_rate_limiters_admit_their_rate() {
    for limit in [
        "Gcra(rate_per_s: 200.0, burst: 10)",
        "Nginx(rate_per_s: 200.0, burst: 10, nodelay: true)",
        "Guava(permits_per_second: 200.0, max_burst_seconds: 0.05, timeout: \"0s\")",
    ] {
        let text = format!(
            r#"Scenario(version: 1, name: "limits", duration: "100s",
            services: [Service(name: "api", workers: 1000, service_time: Constant(value: "1ms"),
                               inbound: (rate_limit: {limit}))],
            clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 600.0))])"#
        );
        let r = run_text(&text, 5);
        let api = &r.services[0];
        let limited = api.stats.failed_by(FailureCause::RateLimited);
        let admitted = (api.stats.requests - limited) as f64;
        let expected = 200.0 * 100.0;
        assert!(admitted <= expected + 11.0, "{limit}: {admitted}");
        assert!(admitted >= 0.995 * expected, "{limit}: {admitted}");
    }
}

/// The machine-repair model (finite source, limited repairers): three replicas failing at rate
/// 1/9 s while up and one crew repairing at rate 1/s. The number down is a birth-death chain
/// (up (3 - k)/9, down 1 while k > 0), so P(k down) is proportional to
/// prod_{i<k} (3 - i)/9 and a replica's availability is E[3 - k] / 3. With a crew per replica
/// it would be 0.9; sharing one, simultaneous failures wait for each other.
#[test]
fn one_repair_crew_matches_the_machine_repair_model() {
    let text = r#"Scenario(version: 1, name: "crews", duration: "20000s",
        services: [Service(name: "db", workers: 1, service_time: Constant(value: "1ms"),
                           replicas: 3)],
        clients: [Client(name: "idle", to: "db", arrivals: Constant(rate_per_s: 0.0001))],
        faults: [Chaos(target: Service("db"), mttf: Exponential(mean: "9s"),
                       mttr: Exponential(mean: "1s"), crews: 1)])"#;
    let (mut single, mut none_up) = (vec![], vec![]);
    for seed in 1..=30 {
        let r = run_text(text, seed);
        let db = &r.services[0];
        let total = r.duration.as_secs_f64();
        let downs: f64 = db.replicas.iter().map(|i| i.down.as_secs_f64()).sum();
        single.push(1.0 - downs / (3.0 * total));
        none_up.push(db.up_time_by_count[0].as_secs_f64() / total);
    }
    let mut p = vec![1.0_f64];
    for k in 1..=3 {
        p.push(p[k - 1] * (3 - (k - 1)) as f64 / 9.0);
    }
    let total: f64 = p.iter().sum();
    let availability = p
        .iter()
        .enumerate()
        .map(|(k, pk)| (3 - k) as f64 * pk / total)
        .sum::<f64>()
        / 3.0;
    for (name, xs, theory) in [
        ("replica availability", &single, availability),
        ("all three down", &none_up, p[3] / total),
    ] {
        let (mean, half) = interval(xs);
        assert!(
            (mean - theory).abs() <= half,
            "{name}: {mean:.5} ± {half:.5} does not contain {theory:.5}"
        );
        assert!(half < 0.005, "{name}: the interval ±{half} is too wide");
    }
    // One crew per replica would give 0.9: the shared crew costs availability.
    assert!(availability < 0.89, "{availability}");
}

/// Backpressure instead of rejection: a sender that finds the queue full waits for a place,
/// first come first served, so a queue of two places behind which senders wait is one FIFO
/// line of unbounded length, and an M/M/1 station with it has the M/M/1 mean time in system
/// 1 / (mu - lambda) = 5 ms at lambda 800/s, mu 1000/s. The same station that rejects loses
/// requests and shows a shorter time in system.
#[test]
fn backpressure_makes_a_short_queue_an_unbounded_line() {
    let text = |when_full: &str| {
        format!(
            r#"Scenario(version: 1, name: "backpressure", duration: "200s",
            services: [Service(name: "server", workers: 1, queue: 2, when_full: {when_full},
                               service_time: Exponential(mean: "1ms"))],
            clients: [Client(name: "users", to: "server", arrivals: Poisson(rate_per_s: 800.0))])"#
        )
    };
    let mut means = Vec::new();
    for seed in 1..=30 {
        let r = run_text(&text("Backpressure"), seed);
        let server = &r.services[0];
        assert_eq!(server.stats.failed_by(FailureCause::Rejected), 0);
        assert!(server.backpressured.expect("counted") > 10_000);
        let users = &r.clients[0].stats;
        let sum: u128 = users
            .windows
            .iter()
            .map(|w| u128::from(w.ok_latency_ns_sum))
            .sum();
        means.push(sum as f64 / users.ok as f64 / 1e6);
    }
    let (mean, half) = interval(&means);
    assert!(
        (mean - 5.0).abs() <= half,
        "{mean:.4} ms ± {half:.4}, theory 5 ms"
    );
    assert!(half < 0.25, "interval ±{half} too wide");

    let rejecting = run_text(&text("Reject"), 1);
    let server = &rejecting.services[0];
    assert!(server.stats.failed_by(FailureCause::Rejected) > 10_000);
    assert_eq!(server.backpressured, None);
}

/// Issue 12: without deadline propagation the back end cannot know that the user gave up, but
/// its work is wasted all the same and is counted where it is done. The users give up after
/// 20 ms; front waits (no timeout of its own) for back, which takes 50 ms: every job back
/// finishes, and every job front finishes, is work for nobody. With a 200 ms deadline nothing
/// is wasted.
#[test]
fn work_for_a_caller_up_the_chain_that_gave_up_is_wasted_where_it_is_done() {
    let text = |deadline: &str| {
        format!(
            r#"Scenario(version: 1, name: "waste", duration: "20s",
                services: [
                    Service(name: "front", workers: 100, queue: 100, execution: Async,
                            service_time: Constant(value: "1ms"), calls: [(to: "back")]),
                    Service(name: "back", workers: 4, queue: 100,
                            service_time: Constant(value: "50ms")),
                ],
                network: (latency: Constant(value: "1ms")),
                clients: [Client(name: "users", to: "front",
                                 arrivals: Poisson(rate_per_s: 20.0), deadline: "{deadline}")])"#
        )
    };
    for seed in 1..=3 {
        let r = run_text(&text("20ms"), seed);
        let (front, back) = (&r.services[0], &r.services[1]);
        assert!(back.stats.ok > 300, "seed {seed}: {}", back.stats.ok);
        assert_eq!(r.clients[0].stats.ok, 0, "seed {seed}: every user gives up");
        assert_eq!(back.wasted_work, back.stats.ok, "seed {seed}");
        assert_eq!(
            front.wasted_work, back.wasted_work,
            "seed {seed}: one front job per back job"
        );
        let r = run_text(&text("200ms"), seed);
        assert_eq!(
            (r.services[0].wasted_work, r.services[1].wasted_work),
            (0, 0)
        );
    }
}

/// Issue 12: a thread-per-request worker is held while it waits on its calls; the share spent
/// on its own work tells busy from blocked. front works 2 ms, then holds its worker through
/// 1 ms + 10 ms + 1 ms for back: 2 of every 14 ms held are work. back has no calls: all its
/// held time is work.
#[test]
fn held_worker_time_is_split_into_own_work_and_blocked() {
    let text = r#"Scenario(version: 1, name: "held", duration: "20s",
        services: [
            Service(name: "front", workers: 50, queue: 100, execution: ThreadPerRequest,
                    service_time: Constant(value: "2ms"), calls: [(to: "back")]),
            Service(name: "back", workers: 50, queue: 100, service_time: Constant(value: "10ms")),
        ],
        network: (latency: Constant(value: "1ms")),
        clients: [Client(name: "users", to: "front", arrivals: Poisson(rate_per_s: 200.0))])"#;
    let r = run_text(text, 1);
    let (front, back) = (&r.services[0], &r.services[1]);
    assert_eq!(back.work_ns, back.busy_ns(), "back only works");
    let share = front.work_ns as f64 / front.busy_ns() as f64;
    assert!(
        (share - 2.0 / 14.0).abs() < 0.002,
        "front works {share} of its held time"
    );
    let d = r.duration;
    assert!(front.work_utilisation(d) < front.utilisation(d) / 6.0);
}
