//! Callers' own workloads on stores, end to end: the share of writes each caller draws, the
//! stale reads falling on the reader of the keys one step writes, every format showing the
//! per-workload counts, and bad workloads rejected at their place.

mod common;

use std::path::Path;

use common::*;
use models::data::workload::WorkloadReport;
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded =
        scenarios::load_str(Path::new("store.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn load_error(text: &str, what: &str) -> String {
    match scenarios::load_str(Path::new("bad.ron"), text) {
        Ok(_) => panic!("{what}: loaded"),
        Err(e) => e.to_string(),
    }
}

/// `orders` calls `db` with `step`; client `app` calls `db` with `client`; `web` calls
/// `orders`. The store is `store`.
fn scenario(store: &str, step: &str, client: &str) -> String {
    format!(
        r#"Scenario(version: 1, name: "w", duration: "20s",
    topology: (regions: [(name: "r", zones: [
        (name: "a", hosts: ["app", "db-a"]), (name: "b", hosts: ["db-b"]), (name: "c", hosts: ["db-c"])])]),
    network: (latency: Constant(value: "200us")),
    services: [
        Service(name: "orders", workers: 64, service_time: Constant(value: "1ms"),
                calls: [Call(to: "db", {step})]),
        Service(name: "db", replicas: 3, workers: 64, queue: 256,
                service_time: Constant(value: "500us"), placement: Hosts(["db-a", "db-b", "db-c"])),
        Service(name: "plain", workers: 8, service_time: Constant(value: "1ms")),
    ],
    stores: [(service: "db", {store})],
    clients: [
        Client(name: "web", to: "orders", host: "app", arrivals: Poisson(rate_per_s: 200.0)),
        Client(name: "app", to: "db", host: "app", arrivals: Poisson(rate_per_s: 300.0), {client}),
    ],
)"#
    )
}

/// The two-sided 99.9 % normal quantile.
const Z999: f64 = 3.2905;

fn assert_share(w: &WorkloadReport, writes: f64) {
    let n = (w.reads_ok + w.reads_failed + w.writes_ok + w.writes_failed) as f64;
    let share = (w.writes_ok + w.writes_failed) as f64 / n;
    let half = Z999 * (writes * (1.0 - writes) / n).sqrt();
    assert!(n > 2000.0, "{w:?}");
    assert!(
        (share - writes).abs() <= half,
        "{}: share {share} vs {writes} ± {half}",
        w.origin
    );
}

/// Each caller's operations are writes in the share its workload says (a binomial 99.9 %
/// interval over its operation count), whatever the store's own `writes`.
#[test]
fn each_caller_writes_the_share_its_workload_draws() {
    for (seed, step, client) in [(1, 0.8, 0.1), (2, 0.3, 0.6), (3, 1.0, 0.0)] {
        let text = scenario(
            "keys: 100, writes: 0.5, replication: Async",
            &format!("workload: (writes: {step})"),
            &format!("workload: (writes: {client}, popularity: Zipf(1.0))"),
        );
        let r = run_text(&text, seed);
        let s = &r.stores[0];
        assert_eq!(s.workloads.len(), 2);
        assert_eq!(s.workloads[0].origin, "orders calls[0]");
        assert_eq!(s.workloads[1].origin, "client app");
        assert_share(&s.workloads[0], step);
        assert_share(&s.workloads[1], client);
        // Every operation is some workload's: the per-replica counts add up to theirs.
        let total = |f: fn(&WorkloadReport) -> u64| s.workloads.iter().map(f).sum::<u64>();
        let replicas: u64 = s
            .replicas
            .iter()
            .map(|r| r.writes_ok + r.writes_failed)
            .sum();
        assert_eq!(replicas, total(|w| w.writes_ok + w.writes_failed));
    }
}

/// A step writing only keys 0-9 and a reader of keys 10-99 share no key: however far the
/// followers lag, that reader is never stale, while a reader of keys 0-9 is, on every seed.
#[test]
fn stale_reads_fall_only_on_the_keys_that_are_written() {
    for seed in 1..=4 {
        let store =
            "keys: 100, replication: Async, read_from: Any, apply: Exponential(mean: \"5ms\")";
        let step = "workload: (writes: 1.0, keys: Range(from: 0, count: 10))";
        let cold = run_text(
            &scenario(
                store,
                step,
                "workload: (writes: 0.0, keys: Range(from: 10, count: 90))",
            ),
            seed,
        );
        let hot = run_text(
            &scenario(store, step, "workload: (writes: 0.0, keys: Set([9, 3, 0]))"),
            seed,
        );
        let (cold, hot) = (&cold.stores[0], &hot.stores[0]);
        assert_eq!(cold.stale_reads, 0, "seed {seed}");
        assert_eq!(cold.workloads[1].stale_reads, 0);
        assert!(hot.workloads[1].stale_reads > 50, "seed {seed}: {hot:?}");
        assert_eq!(hot.workloads[1].stale_reads, hot.stale_reads);
    }
}

#[test]
fn the_library_scenario_puts_every_stale_read_on_the_hot_key_reader() {
    let path = library("store-workload-hot-keys.ron");
    for seed in [1, 7] {
        let loaded = scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let r = World::new(&loaded.config, seed).run(RunOptions::default());
        let s = &r.stores[0];
        let by = |name: &str| s.workloads.iter().find(|w| w.origin == name).unwrap();
        assert!(by("client catalog").stale_reads > 100, "{s:?}");
        assert_eq!(by("client archive").stale_reads, 0);
        assert_eq!(by("client catalog").stale_reads, s.stale_reads);
    }
    let text = report(&path, 1, "text");
    assert!(text.contains("client catalog"), "{text}");
    assert!(report(&path, 1, "md").contains("| client archive |"));
    assert!(report(&path, 1, "html").contains("<td>client catalog</td>"));
    let v: serde_json::Value = serde_json::from_str(&report(&path, 1, "json")).unwrap();
    let w = &v["stores"]["db"]["workloads"];
    assert_eq!(w[0]["origin"], "orders calls[0]");
    assert!(w[1]["stale_reads"].as_u64().unwrap() > 0);
    // Without workloads the key is absent.
    let plain: serde_json::Value =
        serde_json::from_str(&report(&library("store-async-failover.ron"), 1, "json")).unwrap();
    assert!(plain["stores"]["db"].get("workloads").is_none());
}

#[test]
fn bad_workloads_are_rejected_at_their_place() {
    let store = "keys: 100, replication: Async";
    let cases = [
        (
            scenario(store, "workload: (writes: 1.5)", ""),
            "services[0].calls[0].workload.writes",
            "1.5 is not a share",
        ),
        (
            scenario(store, "", "workload: (writes: -0.1)"),
            "clients[1].workload.writes",
            "-0.1 is not a share",
        ),
        (
            scenario(store, "workload: (popularity: Zipf(0.0))", ""),
            "services[0].calls[0].workload.popularity",
            "Zipf(0): expected an exponent above 0",
        ),
        (
            scenario(store, "", "workload: (popularity: Zipf(-2.0))"),
            "clients[1].workload.popularity",
            "expected an exponent above 0",
        ),
        (
            scenario(store, "workload: (keys: Range(from: 95, count: 10))", ""),
            "services[0].calls[0].workload.keys",
            "keys 95 to 105 (exclusive) are not within store \"db\"'s 100 keys",
        ),
        (
            scenario(store, "workload: (keys: Range(from: 0, count: 0))", ""),
            "services[0].calls[0].workload.keys",
            "expected a count of at least 1",
        ),
        (
            scenario(store, "", "workload: (keys: Set([1, 100]))"),
            "clients[1].workload.keys",
            "key 100 is not within store \"db\"'s 100 keys",
        ),
        (
            scenario(store, "", "workload: (keys: Set([4, 4]))"),
            "clients[1].workload.keys",
            "key 4 is listed twice",
        ),
        (
            scenario(store, "", "workload: (keys: Set([]))"),
            "clients[1].workload.keys",
            "an empty set of keys",
        ),
        (
            scenario(store, "", "").replace(
                "calls: [Call(to: \"db\", )]",
                "calls: [Call(to: \"db\"), Call(to: \"plain\", workload: (writes: 1.0))]",
            ),
            "services[0].calls[1].workload",
            "service \"plain\" is not a store",
        ),
        (
            scenario(store, "", "").replace(
                "to: \"orders\", host: \"app\",",
                "to: \"orders\", host: \"app\", workload: (writes: 0.2),",
            ),
            "clients[0].workload",
            "service \"orders\" is not a store",
        ),
        (
            scenario(store, "", "").replace(
                "calls: [Call(to: \"db\", )]",
                "calls: [Call(parallel: [Call(to: \"db\")], workload: (writes: 1.0))]",
            ),
            "services[0].calls[0].workload",
            "not to a parallel or routing step",
        ),
    ];
    for (text, field, expected) in cases {
        let e = load_error(&text, field);
        assert!(e.contains(expected), "{field}: {e}");
        assert!(e.contains(field), "{field}: {e}");
        assert!(e.starts_with("bad.ron:"), "{e}");
        let line: usize = e.split(':').nth(1).unwrap().parse().expect("a line number");
        let wanted = if field.starts_with("clients") { 14 } else { 6 };
        assert!(line >= wanted, "{field} placed at its workload: {e}");
    }
    let typo = scenario(store, "workload: (writs: 1.0)", "");
    assert!(load_error(&typo, "typo").starts_with("bad.ron:"));
    // The binary exits 2 with the position.
    let dir = temp_dir("workload-bad");
    let file = dir.join("bad.ron");
    std::fs::write(&file, scenario(store, "workload: (writes: 2.0)", "")).unwrap();
    let out = faultline(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("services[0].calls[0].workload.writes"),
        "{err}"
    );
}
