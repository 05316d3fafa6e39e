//! The typed builder's topology, placement, health, faults, partitions and call policies: each
//! scenario is built in Rust and read from RON (a library file, or the same text inline), and
//! the two must give the same run, fingerprint and JSON report byte for byte.

use faultline::{
    Across, Backoff, Bulkhead, Call, Client, Crash, Direction, Dist, Expect, Fallback, Fault,
    Health, Lb, Outlier, Partition, Place, Placement, Region, Retry, Scenario, ScenarioBuilder,
    Service, Target,
};

/// Same fingerprint and JSON on two seeds: the builder wrote what the file says.
fn same_runs(built: &Scenario, file: &Scenario) {
    for seed in [1, 7] {
        let (a, b) = (built.run(seed), file.run(seed));
        assert_eq!(
            a.fingerprint(),
            b.fingerprint(),
            "{} seed {seed}",
            file.name()
        );
        assert_eq!(a.json(), b.json(), "{} seed {seed}", file.name());
    }
}

fn library(name: &str) -> Scenario {
    Scenario::from_file(faultline::library(name)).unwrap()
}

#[test]
fn zone_outage_topology_spread_health_lb_and_a_zone_crash_with_cold_start() {
    let retry = |attempts, base: &str, cap: &str| {
        Retry::attempts(attempts).backoff(Backoff::FullJitter(base.into(), cap.into()))
    };
    let built = ScenarioBuilder::new("zone-outage", "3m")
        .region(
            Region::new("eu")
                .zone("eu-a", &["a1", "a2"])
                .zone("eu-b", &["b1", "b2"])
                .zone("eu-c", &["c1", "c2"]),
        )
        .network_latency(Dist::constant("200us"))
        .cross_zone_latency(Dist::log_normal("2ms", "6ms"))
        .service(
            Service::new("web", Dist::exponential("2ms"))
                .workers(40)
                .queue(100)
                .async_execution()
                .replicas(3)
                .placement(Placement::spread(Across::Zones))
                .health(Health::active("1s", "250ms"))
                .call(
                    Call::to("catalog")
                        .timeout("300ms")
                        .retry(retry(2, "10ms", "100ms")),
                ),
        )
        .service(
            Service::new("catalog", Dist::exponential("5ms"))
                .workers(20)
                .queue(100)
                .replicas(3)
                .placement(Placement::spread(Across::Zones))
                .lb(Lb::PowerOfTwoChoices)
                .health(Health::active("1s", "250ms")),
        )
        .client(
            Client::poisson("shoppers", "web", 600.0)
                .host("a1")
                .timeout("1s")
                .retry(retry(2, "20ms", "200ms")),
        )
        .fault(
            Crash::of(Target::zone("eu-c"), "60s")
                .restart_after("60s")
                .cold_start("20s", 3.0),
        )
        .expect(Expect::availability("shoppers").over_mean().at_least(0.99))
        .expect(Expect::recovery_within("30s"))
        .build()
        .unwrap();
    same_runs(&built, &library("zone-outage.ron"));
}

#[test]
fn partition_one_way_between_regions_with_outlier_detection_and_link_latency() {
    let (us, eu) = ([Place::region("us-east")], [Place::region("eu-west")]);
    let built = ScenarioBuilder::new("partition", "2m")
        .region(Region::new("us-east").zone("use-1", &["u1", "u2"]))
        .region(Region::new("eu-west").zone("euw-1", &["e1"]))
        .network_latency(Dist::constant("500us"))
        .cross_region_latency(Dist::folded_normal("40ms", "2ms"))
        .partition(
            Partition::between(&us, &eu, "30s")
                .until("90s")
                .direction(Direction::BToA),
        )
        .service(
            Service::new("gateway", Dist::constant("1ms"))
                .workers(100)
                .queue(100)
                .async_execution()
                .placement(Placement::hosts(&["u1"]))
                .call(
                    Call::to("ledger")
                        .timeout("200ms")
                        .retry(Retry::attempts(3).backoff(Backoff::Constant("5ms".into())))
                        .outlier(
                            Outlier::new()
                                .consecutive_gateway_failure(5)
                                .enforcing_consecutive_gateway_failure(100)
                                .interval("10s")
                                .base_ejection_time("30s")
                                .max_ejection_percent(50),
                        ),
                ),
        )
        .service(
            Service::new("ledger", Dist::exponential("4ms"))
                .workers(20)
                .queue(50)
                .replicas(2)
                .placement(Placement::hosts(&["u2", "e1"])),
        )
        .fault(Fault::link_latency(&us, &eu, "150ms", "10s", "20s"))
        .client(
            Client::poisson("users", "gateway", 200.0)
                .host("u1")
                .timeout("1s"),
        )
        .expect(Expect::availability("users").at_least(0.99))
        .build()
        .unwrap();
    same_runs(&built, &library("partition.ron"));
}

#[test]
fn bulkhead_isolation_a_semaphore_bulkhead_and_a_skip_fallback_on_a_call() {
    let built = ScenarioBuilder::new("bulkhead-isolation", "90s")
        .service(
            Service::new("product", Dist::constant("2ms"))
                .workers(40)
                .queue(100)
                .call(
                    Call::to("reviews")
                        .timeout("2s")
                        .bulkhead(Bulkhead::semaphore(5))
                        .fallback(Fallback::Skip),
                )
                .call(Call::to("pricing").timeout("500ms")),
        )
        .service(
            Service::new("reviews", Dist::exponential("5ms"))
                .workers(50)
                .queue(100),
        )
        .service(
            Service::new("pricing", Dist::exponential("5ms"))
                .workers(50)
                .queue(100),
        )
        .network_latency(Dist::constant("1ms"))
        .client(Client::poisson("shoppers", "product", 400.0).timeout("3s"))
        .fault(Fault::latency("reviews", 100.0, "30s", "60s"))
        .expect(Expect::availability("shoppers").at_least(0.99))
        .expect(Expect::no_cascade_into("pricing"))
        .build()
        .unwrap();
    same_runs(&built, &library("bulkhead-isolation.ron"));
}

/// What no library file has: a replica crash, a refusing partial partition between zones,
/// added latency, an error-rate fault, a waiting semaphore and a thread-pool bulkhead, a
/// strict spread within a region and a cached fallback, against the same scenario in RON.
const FAULTS_RON: &str = r#"Scenario(
    version: 1,
    name: "faults",
    duration: "40s",
    topology: (regions: [
        (name: "eu", zones: [(name: "a", hosts: ["a1", "a2"]), (name: "b", hosts: ["b1"])]),
        (name: "us", zones: [(name: "c", hosts: ["c1"])]),
    ]),
    network: (latency: Constant(value: "300us"), cross_zone: Constant(value: "2ms"),
              partitions: [(from: "10s", to: "20s", a: [Zone("a")], b: [Zone("b")],
                            fraction: 0.5, mode: Refuse)]),
    services: [
        Service(name: "api", workers: 16, queue: 32, service_time: Exponential(mean: "2ms"),
                replicas: 2, placement: Spread(across: Zones, within: Region("eu"), strict: true),
                health: Perfect, lb: LeastRequest,
                calls: [
                    (to: "db", timeout: "100ms",
                     bulkhead: Semaphore(max_concurrent_calls: 8, max_wait_duration: "10ms"),
                     fallback: Cached(ttl: "5s")),
                    (to: "audit", probability: 0.5,
                     bulkhead: ThreadPool(core_thread_pool_size: 2, queue_capacity: 4)),
                ]),
        Service(name: "db", workers: 8, queue: 16, service_time: Exponential(mean: "3ms"),
                replicas: 3, placement: Spread(across: Hosts), lb: Random),
        Service(name: "audit", workers: 2, service_time: Constant(value: "1ms")),
    ],
    clients: [Client(name: "users", to: "api", host: "a2", arrivals: Poisson(rate_per_s: 900.0),
                     timeout: "500ms")],
    faults: [
        Crash(target: Replica(service: "db", index: 1), at: "5s", restart_after: "10s"),
        Latency(service: "db", add: "20ms", from: "25s", to: "30s"),
        Errors(service: "api", rate: 0.02, from: "30s", to: "35s"),
        Crash(target: Host("c1"), at: "1s"),
    ],
)"#;

#[test]
fn replica_crash_zone_partition_latency_errors_and_bulkheads_as_in_ron() {
    let built = ScenarioBuilder::new("faults", "40s")
        .region(
            Region::new("eu")
                .zone("a", &["a1", "a2"])
                .zone("b", &["b1"]),
        )
        .region(Region::new("us").zone("c", &["c1"]))
        .network_latency(Dist::constant("300us"))
        .cross_zone_latency(Dist::constant("2ms"))
        .partition(
            Partition::between(&[Place::zone("a")], &[Place::zone("b")], "10s")
                .until("20s")
                .fraction(0.5)
                .refuse(),
        )
        .service(
            Service::new("api", Dist::exponential("2ms"))
                .workers(16)
                .queue(32)
                .replicas(2)
                .placement(
                    Placement::spread(Across::Zones)
                        .within(Place::region("eu"))
                        .strict(),
                )
                .health(Health::Perfect)
                .lb(Lb::LeastRequest)
                .call(
                    Call::to("db")
                        .timeout("100ms")
                        .bulkhead(Bulkhead::semaphore_waiting(8, "10ms"))
                        .fallback(Fallback::Cached("5s".into())),
                )
                .call(
                    Call::to("audit")
                        .probability(0.5)
                        .bulkhead(Bulkhead::thread_pool(2, 4)),
                ),
        )
        .service(
            Service::new("db", Dist::exponential("3ms"))
                .workers(8)
                .queue(16)
                .replicas(3)
                .placement(Placement::spread(Across::Hosts))
                .lb(Lb::Random),
        )
        .service(Service::new("audit", Dist::constant("1ms")).workers(2))
        .client(
            Client::poisson("users", "api", 900.0)
                .host("a2")
                .timeout("500ms"),
        )
        .fault(Fault::crash_replica("db", 1, "5s", "10s"))
        .fault(Fault::added_latency("db", "20ms", "25s", "30s"))
        .fault(Fault::errors("api", 0.02, "30s", "35s"))
        .fault(Crash::of(Target::host("c1"), "1s"))
        .build()
        .unwrap();
    let file = Scenario::from_ron("faults.ron", FAULTS_RON).unwrap();
    same_runs(&built, &file);
    // The faults did something: the scenario is not trivially the same because it is idle.
    let run = built.run(1);
    let users = run.client("users").unwrap();
    assert!(users.requests > 30_000, "{users:?}");
    assert!(users.failed > 0, "{users:?}");
    assert!(run.json().contains("bulkhead_full") || users.failed_by_cause.contains_key("error"));
}

/// A partition without a network latency still writes the section the format wants (latency
/// zero, the default), and a placement mistake gets the loader's message.
#[test]
fn a_partition_alone_and_an_impossible_placement() {
    let base = || {
        ScenarioBuilder::new("p", "5s")
            .region(Region::new("r").zone("a", &["a1"]).zone("b", &["b1"]))
            .client(Client::poisson("users", "s", 10.0))
    };
    let alone = base()
        .service(Service::new("s", Dist::constant("1ms")))
        .partition(Partition::between(
            &[Place::zone("a")],
            &[Place::zone("b")],
            "1s",
        ));
    alone.build().unwrap();
    assert!(
        alone
            .ron()
            .unwrap()
            .contains("latency: Constant(value: \"0s\")")
    );
    let err = base()
        .service(
            Service::new("s", Dist::constant("1ms"))
                .replicas(3)
                .placement(Placement::spread(Across::Zones).strict()),
        )
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("p.ron:"), "{err}");
    assert!(err.contains("at most one per zone need 3 zones"), "{err}");
}

/// What the builder has no method for (here: clocks) goes in with the format's words, and the
/// rest stays typed: the library's `clock-skew.ron`, byte for byte.
#[test]
fn ron_sections_combine_the_builder_with_what_only_the_format_says() {
    let built = ScenarioBuilder::new("clock-skew", "2m")
        .region(Region::new("r").zone("z", &["client-host", "api-host"]))
        .ron_section(
            "clocks",
            r#"[(host: "client-host", offset: "1.5s", drift_ppm: 20000, jumps: [(at: "60s", by: "-2s")])]"#,
        )
        .service(
            Service::new("api", Dist::log_normal("40ms", "95ms"))
                .workers(20)
                .queue(100)
                .placement(Placement::hosts(&["api-host"])),
        )
        .client(
            Client::poisson("users", "api", 150.0)
                .host("client-host")
                .timeout("100ms")
                .retry(Retry::attempts(2).backoff(Backoff::Constant("10ms".into()))),
        )
        .fault(Fault::added_latency("api", "20ms", "50s", "70s"))
        .expect(Expect::availability("users").over_mean().at_least(0.95))
        .build()
        .unwrap();
    same_runs(&built, &library("clock-skew.ron"));
    // A mistake in a RON field is the loader's, placed in the builder's text.
    let err = ScenarioBuilder::new("bad", "5s")
        .service(Service::new("s", Dist::constant("1ms")).ron_field("inbound", "(shed: Nope)"))
        .client(Client::poisson("users", "s", 1.0))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("bad.ron:"), "{err}");
    assert!(err.contains("Nope"), "{err}");
}
