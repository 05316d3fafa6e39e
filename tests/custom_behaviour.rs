//! Custom behaviour and the typed builder, through the library's documented API.

#[allow(dead_code)]
#[path = "../examples/adaptive_cache.rs"]
mod adaptive_cache;

use std::time::Duration;

use faultline::{
    Answer, Backoff, Behaviour, BehaviourRng, Call, Calls, Cause, Client, Decision, Dist, Expect,
    Fault, Request, Retry, Scenario, ScenarioBuilder, Service, ServiceState,
};

/// The claim of the example: under the same database latency fault, the cache whose hit
/// ratio falls with load does worse than its static twin, on every seed, not on average only.
#[test]
fn an_adaptive_cache_makes_a_latency_fault_worse_than_its_static_twin_predicts() {
    let seeds = 1..=5;
    let fixed = adaptive_cache::scenario(false).runs(seeds.clone());
    let adaptive = adaptive_cache::scenario(true).runs(seeds);
    for (f, a) in fixed.iter().zip(&adaptive) {
        let (fu, au) = (f.client("users").unwrap(), a.client("users").unwrap());
        assert!(
            au.availability < fu.availability,
            "seed {}: adaptive {} vs static {}",
            f.seed(),
            au.availability,
            fu.availability
        );
        assert!(au.p99 > fu.p99, "seed {}", f.seed());
        // More misses reach the database: the feedback the static model leaves out.
        let (fd, ad) = (f.service("db").unwrap(), a.service("db").unwrap());
        assert!(ad.requests > fd.requests, "seed {}", f.seed());
    }
}

/// Constant work, every call made, a full answer: the built-in worker with a constant service
/// time, which draws nothing. The two runs must be the same run.
struct Constant;

impl Behaviour for Constant {
    fn decide(&mut self, _: &Request<'_>, _: &ServiceState, _: &mut BehaviourRng) -> Decision {
        Decision::ok(Duration::from_millis(2))
    }
}

fn chain(kind: &str) -> String {
    format!(
        r#"Scenario(version: 1, name: "chain", duration: "20s",
            services: [
                Service(name: "front", workers: 4, queue: 8, service_time: Constant(value: "2ms"),
                        {kind} calls: [Call(to: "back", timeout: "50ms")]),
                Service(name: "back", workers: 2, queue: 4, service_time: Exponential(mean: "3ms")),
            ],
            clients: [Client(name: "users", to: "front", arrivals: Poisson(rate_per_s: 900.0))],
        )"#
    )
}

#[test]
fn a_behaviour_that_does_what_the_builtin_worker_does_gives_the_same_run() {
    let builtin = Scenario::from_ron("chain.ron", &chain("")).unwrap();
    let custom = Scenario::from_ron("chain.ron", &chain(r#"kind: Custom("constant"),"#))
        .unwrap()
        .with_behaviour("constant", || Constant);
    for seed in [1, 7] {
        let (b, c) = (builtin.run(seed), custom.run(seed));
        assert_eq!(b.client("users"), c.client("users"));
        assert_eq!(b.service("back"), c.service("back"));
        assert!(
            b.client("users").unwrap().failed > 0,
            "the load rejects some"
        );
    }
}

/// Fails every second attempt's first try, answers retries degraded, and calls nothing when
/// its queue is non-empty: each field of the decision reaches the report.
struct Picky {
    seen: u64,
}

impl Behaviour for Picky {
    fn decide(&mut self, r: &Request<'_>, s: &ServiceState, rng: &mut BehaviourRng) -> Decision {
        self.seen += 1;
        assert_eq!(r.calls, ["back".to_owned()]);
        assert!(s.busy_workers >= 1 && s.busy_workers <= s.workers);
        let d = Decision::ok(Duration::from_micros(100 + rng.below_inclusive(100)));
        if r.attempt > 1 {
            d.answer(Answer::Degraded).calls(Calls::Only(vec![0]))
        } else if rng.chance(0.3) {
            d.answer(Answer::Failed(Cause::Unavailable))
        } else {
            d.calls(Calls::None)
        }
    }
}

#[test]
fn the_decision_sets_work_calls_and_answer() {
    let scenario = ScenarioBuilder::new("picky", "10s")
        .service(
            Service::new("front", Dist::constant("1ms"))
                .workers(8)
                .queue(8)
                .custom("picky")
                .call(Call::to("back")),
        )
        .service(Service::new("back", Dist::constant("1ms")).workers(8))
        .client(Client::poisson("users", "front", 100.0))
        .build()
        .unwrap()
        .with_behaviour("picky", || Picky { seen: 0 });
    let run = scenario.run(3);
    let front = run.service("front").unwrap();
    let failed = front
        .failed_by_cause
        .get("unavailable")
        .copied()
        .unwrap_or(0);
    let share = failed as f64 / front.requests as f64;
    // Binomial(n, 0.3): four standard deviations.
    let sd = (0.3 * 0.7 / front.requests as f64).sqrt();
    assert!((share - 0.3).abs() < 4.0 * sd, "share {share}");
    // Clients do not retry: no second attempt, so the back end is never called.
    assert_eq!(run.service("back").unwrap().requests, 0);
    // Same seed, same run; the sweep gives each run a fresh behaviour.
    let again = scenario.runs(2..=4);
    assert_eq!(again[1].fingerprint(), run.fingerprint());
}

#[test]
fn the_builder_writes_the_scenario_the_file_would_hold() {
    let file = Scenario::from_ron(
        "queue.ron",
        r#"Scenario(version: 1, name: "queue", duration: "20s",
            services: [Service(name: "server", workers: 1, service_time: Exponential(mean: "1ms"))],
            clients: [Client(name: "users", to: "server", arrivals: Poisson(rate_per_s: 500.0))],
        )"#,
    )
    .unwrap();
    let built = ScenarioBuilder::new("queue", "20s")
        .service(Service::new("server", Dist::exponential("1ms")).workers(1))
        .client(Client::poisson("users", "server", 500.0))
        .expect(Expect::availability("users").at_least(0.6))
        .build()
        .unwrap();
    assert_eq!(file.run(5).fingerprint(), built.run(5).fingerprint());
    faultline::check(&built).seeds(1..=3).run().unwrap();
}

#[test]
fn builder_mistakes_get_the_loaders_messages() {
    let err = ScenarioBuilder::new("bad", "10s")
        .service(Service::new("a", Dist::exponential("1ms")).call(Call::to("nowhere")))
        .client(Client::poisson("users", "a", 10.0))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.ron:") && err.contains("nowhere"), "{err}");
}

#[test]
fn an_unregistered_behaviour_is_a_clear_failure_of_the_check() {
    let scenario = Scenario::from_ron("chain.ron", &chain(r#"kind: Custom("ghost"),"#)).unwrap();
    assert_eq!(scenario.unregistered_behaviours(), ["ghost"]);
    let failure = faultline::check(&scenario)
        .expect(Expect::availability("users").at_least(0.5))
        .run()
        .unwrap_err();
    assert!(failure.to_string().contains("'ghost'") || failure.to_string().contains("\"ghost\""));
}

#[test]
fn the_binary_refuses_a_custom_kind_at_its_place() {
    let dir = std::env::temp_dir().join(format!("faultline-custom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cache.ron");
    std::fs::write(&file, chain(r#"kind: Custom("adaptive-cache"),"#)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", file.to_str().unwrap()])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cache.ron:4:")
            && stderr.contains(
                "custom behaviour 'adaptive-cache' is not registered; the binary knows none"
            ),
        "{stderr}"
    );
}

/// The builder's client policies and load spikes write the library's scenarios: the same run,
/// report byte for byte, as the files.
#[test]
fn the_builder_writes_library_scenarios_with_client_policies_and_load_spikes() {
    let storm = ScenarioBuilder::new("metastable-retry-storm", "3m")
        .service(
            Service::new("api", Dist::exponential("10ms"))
                .workers(10)
                .queue(2000),
        )
        .client(
            Client::poisson("users", "api", 800.0)
                .timeout("200ms")
                .retry(Retry::attempts(4).backoff(Backoff::Immediate)),
        )
        .fault(Fault::latency("api", 3.0, "60s", "70s"))
        .expect(Expect::recovery_within("30s"))
        .build()
        .unwrap();
    let burst = ScenarioBuilder::new("burst-reject", "60s")
        .service(
            Service::new("ingest", Dist::constant("1ms"))
                .workers(100)
                .queue(1000)
                .call(Call::to("resize").retry(Retry::attempts(3).backoff(Backoff::Immediate))),
        )
        .service(
            Service::new("resize", Dist::exponential("20ms"))
                .workers(4)
                .queue(10),
        )
        .client(Client::poisson("uploads", "ingest", 150.0).timeout("2s"))
        .fault(Fault::load_spike("uploads", 1.5, "30s", "40s"))
        .expect(Expect::availability("uploads").at_least(0.99))
        .build()
        .unwrap();
    for (built, file) in [
        (storm, "metastable-retry-storm.ron"),
        (burst, "burst-reject.ron"),
    ] {
        let file = Scenario::from_file(faultline::library(file)).unwrap();
        let (a, b) = (built.run(1), file.run(1));
        assert_eq!(a.fingerprint(), b.fingerprint(), "{}", file.name());
        assert_eq!(a.json(), b.json(), "{}", file.name());
    }
}
