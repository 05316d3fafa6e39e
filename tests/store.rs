//! Replicated stores end to end: no anomaly without faults, unsafe designs showing anomalies
//! and their safe twins none across seeds, the stale-read probability of asynchronous
//! replication against queueing theory, and bad `stores` sections rejected at their place.

mod common;

use std::path::Path;

use common::*;
use models::data::report::StoreReport;
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded =
        scenarios::load_str(Path::new("store.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn run_library(name: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load(&library(name)).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// The loader's message for a scenario that must not load.
fn load_error(text: &str, what: &str) -> String {
    match scenarios::load_str(Path::new("bad.ron"), text) {
        Ok(_) => panic!("{what}: loaded"),
        Err(e) => e.to_string(),
    }
}

fn store(r: &RunResult) -> &StoreReport {
    &r.stores[0]
}

/// Three replicas in three zones, two clients, the given store and faults.
fn scenario(store: &str, extra: &str, duration: &str) -> String {
    format!(
        r#"Scenario(version: 1, name: "s", duration: "{duration}",
    topology: (regions: [(name: "r", zones: [
        (name: "a", hosts: ["app-a", "db-a"]), (name: "b", hosts: ["db-b"]),
        (name: "c", hosts: ["app-c", "db-c"])])]),
    network: (latency: Constant(value: "200us"), cross_zone: Exponential(mean: "1ms")),
    services: [Service(name: "db", replicas: 3, workers: 64, queue: 256,
        service_time: Constant(value: "500us"), placement: Hosts(["db-a", "db-b", "db-c"]))],
    stores: [(service: "db", {store})],
    clients: [
        Client(name: "app-a", to: "db", host: "app-a", arrivals: Poisson(rate_per_s: 150.0), timeout: "1s"),
        Client(name: "app-c", to: "db", host: "app-c", arrivals: Poisson(rate_per_s: 150.0), timeout: "1s")],
    {extra}
)"#
    )
}

/// Designs that promise what the checker checks: reads at the leader (or quorums that meet)
/// and acknowledgements that survive; without faults none may show an anomaly, on any seed.
#[test]
fn without_faults_no_design_that_promises_consistency_shows_an_anomaly() {
    let designs = [
        "keys: 20, replication: Async, read_from: Leader",
        "keys: 20, replication: Sync, read_from: Leader",
        "keys: 20, replication: SemiSync(acks: 2), apply: Exponential(mean: \"3ms\")",
        "keys: 5, writes: 0.9, replication: Async, lease: (duration: \"1s\")",
        "keys: 5, replication: Sync, lease: (duration: \"1s\", fencing: true)",
        "keys: 20, replication: Leaderless(r: 2, w: 2, resolve: VersionVectors)",
        "keys: 5, replication: Leaderless(r: 1, w: 3, read_repair: true, resolve: VersionVectors)",
        "keys: 5, replication: Leaderless(r: 3, w: 1, resolve: VersionVectors)",
    ];
    for design in designs {
        for seed in 1..=6 {
            let r = run_text(&scenario(design, "", "8s"), seed);
            let s = store(&r);
            assert!(s.checked_reads > 100 && s.checked_writes > 100, "{design}");
            assert_eq!(
                (
                    s.stale_reads,
                    s.lost_writes,
                    s.overwritten,
                    s.split_brain.len()
                ),
                (0, 0, 0, 0),
                "{design}, seed {seed}"
            );
            assert_eq!(s.stale_leader_writes, 0, "{design}, seed {seed}");
            assert_eq!(s.read_your_writes, 0, "{design}, seed {seed}");
            if !design.contains("Leaderless") {
                // Reads at one leader never go back in time without a failover. Leaderless
                // quorums may: a read can see a write still in progress at one replica and
                // the next read miss it at another (the new-old inversion that ABD's
                // write-back phase prevents), so they are not held to it here.
                assert_eq!(s.monotonic, 0, "{design}, seed {seed}");
            }
            let failed: u64 = s
                .replicas
                .iter()
                .map(|x| x.reads_failed + x.writes_failed)
                .sum();
            assert_eq!(failed, 0, "{design}, seed {seed}");
        }
    }
}

/// Last-writer-wins with true clocks drops only writes that overlapped another (Poisson
/// writes are sometimes a few milliseconds apart); a clock 1 s behind drops most writes made
/// through its replica within 1 s of another, overlapping or not.
#[test]
fn last_writer_wins_loses_few_writes_with_true_clocks_and_many_with_one_behind() {
    let design =
        "keys: 1, writes: 0.05, replication: Leaderless(r: 2, w: 2, resolve: LastWriterWins)";
    for seed in 1..=4 {
        let fair = run_text(&scenario(design, "", "20s"), seed);
        let skewed = run_text(
            &scenario(
                design,
                "clocks: [(host: \"db-c\", offset: \"-1s\")],",
                "20s",
            ),
            seed,
        );
        let (f, k) = (store(&fair), store(&skewed));
        assert!(f.checked_writes > 200);
        assert_eq!(
            f.stale_reads, 0,
            "seed {seed}: true clocks and quorums that meet"
        );
        assert!(
            f.overwritten * 10 < f.checked_writes,
            "seed {seed}: {}",
            f.overwritten
        );
        assert!(
            k.overwritten > 5 * f.overwritten.max(1),
            "seed {seed}: {} vs {}",
            k.overwritten,
            f.overwritten
        );
        assert!(k.stale_reads > 0, "seed {seed}");
    }
}

#[test]
fn unsafe_designs_show_anomalies_and_their_safe_twins_none_on_every_seed() {
    for seed in 1..=4 {
        let lww = run_library("store-lww-skew.ron", seed);
        let vv = run_library("store-version-vectors.ron", seed);
        assert!(
            store(&lww).overwritten > 100 && store(&lww).stale_reads > 100,
            "seed {seed}"
        );
        let v = store(&vv);
        assert_eq!(
            (v.stale_reads, v.lost_writes, v.overwritten),
            (0, 0, 0),
            "seed {seed}"
        );
        assert_eq!(v.read_your_writes, 0, "seed {seed}");
        // A client of the skewed store reads back older values than its own writes.
        assert!(store(&lww).read_your_writes > 10, "seed {seed}");
        assert!(
            v.siblings_max >= 2,
            "concurrent writes are kept as siblings"
        );

        let weak = run_library("store-weak-quorum.ron", seed);
        let strict = run_library("store-quorum-partition.ron", seed);
        assert!(store(&weak).stale_reads > 50, "seed {seed}");
        let q = store(&strict);
        assert_eq!((q.stale_reads, q.lost_writes), (0, 0), "seed {seed}");
        // The minority side (db-c) cannot gather two acknowledgements; the majority can.
        assert!(q.replicas[2].writes_failed > 20, "seed {seed}");
        assert_eq!(q.replicas[0].writes_failed + q.replicas[1].writes_failed, 0);
        assert_eq!(
            store(&weak).replicas[2].writes_failed,
            0,
            "W = 1 answers alone"
        );
        assert_eq!(q.divergence.len(), 1);
        assert!(
            q.divergence[0].keys > 0,
            "writes that failed at the minority left data there"
        );

        let jump = run_library("store-lease-jump.ron", seed);
        let fenced = run_library("store-lease-fencing.ron", seed);
        let j = store(&jump);
        assert!(j.lost_writes > 20 && j.stale_reads > 10, "seed {seed}");
        assert_eq!(j.split_brain.len(), 1, "seed {seed}");
        let f = store(&fenced);
        assert_eq!(
            (f.stale_reads, f.lost_writes, f.stale_leader_writes),
            (0, 0, 0)
        );
        // Fencing does not stop db-a from believing it leads: the interval is still there.
        assert_eq!(f.split_brain, j.split_brain, "seed {seed}");

        let sync = run_library("store-sync-failover.ron", seed);
        let s = store(&sync);
        assert_eq!((s.stale_reads, s.lost_writes), (0, 0), "seed {seed}");
        let write_failures =
            |s: &StoreReport| -> u64 { s.replicas.iter().map(|r| r.writes_failed).sum() };
        let asy = run_library("store-async-failover.ron", seed);
        assert!(
            write_failures(s) > 3 * write_failures(store(&asy)),
            "synchronous replication pays in write availability"
        );
    }
}

/// Asynchronous replication loses writes on some seeds and not others (the leader's unshipped
/// backlog at the moment of the crash is random); over eight seeds it must lose some, and
/// every lost write also shows as stale reads or is never read again.
#[test]
fn asynchronous_failover_loses_acknowledged_writes() {
    let lost: u64 = (1..=8)
        .map(|seed| store(&run_library("store-async-failover.ron", seed)).lost_writes)
        .sum();
    assert!(lost >= 8, "{lost}");
}

/// Two-sided 99.9 % Student-t quantile for 9 degrees of freedom.
const T_9_999: f64 = 4.781;

/// Asynchronous replication, reads at any replica, one key. Each follower's stream is a
/// single-server queue: writes arrive as a Poisson process of rate `λw` (the write share of
/// the client's Poisson arrivals), each is applied in a time of mean `m`, one at a time, and
/// (with no network delay) a follower is behind exactly while its queue is not empty. A read
/// at a random time at a follower (Poisson reads see time averages) is therefore stale with
/// the M/G/1 busy probability `ρ = λw · m`, whatever the lag's distribution: exponential
/// (M/M/1), constant (M/D/1) and lognormal work are checked. Reads at the leader are never
/// stale.
#[test]
fn a_follower_read_is_stale_with_the_probability_its_replication_queue_is_busy() {
    // LogNormal(median 2 ms, p99 6 ms): sigma = ln 3 / 2.3263, mean = median * e^(sigma^2 / 2).
    let sigma = 3.0f64.ln() / 2.326_348;
    let lognormal_mean_ms = 2.0 * (sigma * sigma / 2.0).exp();
    for (rate, writes, apply, mean_ms) in [
        (500.0, 0.1, "Exponential(mean: \"2ms\")", 2.0),
        (400.0, 0.25, "Exponential(mean: \"3ms\")", 3.0),
        (400.0, 0.25, "Constant(value: \"3ms\")", 3.0),
        (
            500.0,
            0.3,
            "LogNormal(median: \"2ms\", p99: \"6ms\")",
            lognormal_mean_ms,
        ),
    ] {
        let text = format!(
            r#"Scenario(version: 1, name: "theory", duration: "100s",
    topology: (regions: [(name: "r", zones: [(name: "a", hosts: ["app", "db-a", "db-b", "db-c"])])]),
    network: (latency: Constant(value: "0ms")),
    services: [Service(name: "db", replicas: 3, workers: 1000, queue: 1000,
        service_time: Constant(value: "100us"), placement: Hosts(["db-a", "db-b", "db-c"]))],
    stores: [(service: "db", keys: 1, writes: {writes}, replication: Async, read_from: Any,
              apply: {apply})],
    clients: [Client(name: "app", to: "db", host: "app", arrivals: Poisson(rate_per_s: {rate}))],
)"#
        );
        let xs: Vec<f64> = (1..=10)
            .map(|seed| {
                let r = run_text(&text, seed);
                let s = store(&r);
                assert_eq!(s.not_checked, 0);
                let follower_reads = s.replicas[1].reads_ok + s.replicas[2].reads_ok;
                assert!(follower_reads > 10_000);
                s.stale_reads as f64 / follower_reads as f64
            })
            .collect();
        let k = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / k;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
        let half = T_9_999 * (var / k).sqrt();
        let rho = rate * writes * mean_ms / 1000.0;
        eprintln!("{apply}: stale share {mean:.5}, theory {rho:.5}, 99.9% half-width {half:.5}");
        assert!(half < 0.1 * rho, "run too short: {half}");
        assert!((mean - rho).abs() <= half, "{mean} vs {rho} ± {half}");
    }
}

#[test]
fn the_same_seed_gives_the_same_store_report() {
    let a = report(&library("store-lease-jump.ron"), 3, "json");
    let b = report(&library("store-lease-jump.ron"), 3, "json");
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_str(&a).expect("json");
    let s = &v["stores"]["db"];
    assert_eq!(s["split_brain"].as_array().map(Vec::len), Some(1));
    assert!(s["lost_writes"].as_u64().unwrap() > 0);
    assert_eq!(
        s["series"]["lost_writes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .sum::<u64>(),
        s["lost_writes"].as_u64().unwrap(),
        "the per-window series adds up to the total"
    );
    // Without stores the key is absent.
    let plain: serde_json::Value =
        serde_json::from_str(&report(&library("mm1.ron"), 1, "json")).expect("json");
    assert!(plain.get("stores").is_none());
}

#[test]
fn every_format_shows_the_anomalies() {
    let path = library("store-lease-jump.ron");
    assert!(report(&path, 1, "text").contains("store anomalies"));
    assert!(report(&path, 1, "md").contains("#### Store anomalies"));
    let html = report(&path, 1, "html");
    assert!(html.contains("<h2>Store anomalies</h2>") && html.contains("two leaders took writes"));
    // CSV: the stores' table after the time series, its columns adding up to the JSON totals.
    let csv = report(&path, 1, "csv");
    let header = "window_start_s,window_end_s,kind,name,stale_reads,lost_writes,overwritten";
    let table = csv
        .split_once(&format!("\n\n{header}\n"))
        .expect("a stores table")
        .1;
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 40 && rows.iter().all(|r| r[2] == "store" && r[3] == "db"));
    let v: serde_json::Value = serde_json::from_str(&report(&path, 1, "json")).expect("json");
    for (column, key) in [(4, "stale_reads"), (5, "lost_writes"), (6, "overwritten")] {
        let sum: u64 = rows.iter().map(|r| r[column].parse::<u64>().unwrap()).sum();
        assert_eq!(sum, v["stores"]["db"][key].as_u64().unwrap(), "{key}");
    }
    assert!(!report(&library("mm1.ron"), 1, "csv").contains(header));
}

#[test]
fn bad_store_sections_are_rejected_at_their_place() {
    let cases = [
        (
            "keys: 10, replication: Leaderless(r: 4, w: 1, resolve: LastWriterWins)",
            "r: 4; expected 1 to 3",
        ),
        (
            "keys: 0, replication: Async",
            "0 keys; expected 1 to 1000000",
        ),
        (
            "keys: 1000000, replication: Async",
            "at most 2000000 (keys times replicas)",
        ),
        (
            "keys: 10, replication: Async, history: 0",
            "0 operations; expected 1 to 2000000",
        ),
        (
            "keys: 10, writes: 1.5, replication: Async",
            "1.5 is not a share",
        ),
        (
            "keys: 10, replication: SemiSync(acks: 0)",
            "acks: 0; expected 1 to 3",
        ),
        (
            "keys: 10, replication: Async, timeout: \"0s\"",
            "must be greater than 0",
        ),
        (
            "keys: 10, popularity: Zipf(-1.0), replication: Async",
            "expected an exponent",
        ),
        (
            "keys: 10, replication: Leaderless(r: 1, w: 1, resolve: VersionVectors), lease: (duration: \"1s\")",
            "has no leader",
        ),
    ];
    for (design, expected) in cases {
        let text = scenario(design, "", "5s");
        let e = load_error(&text, design);
        assert!(e.contains(expected), "{design}: {e}");
        assert!(e.starts_with("bad.ron:"), "{e}");
        let line: usize = e.split(':').nth(1).unwrap().parse().expect("a line number");
        assert!(line >= 7, "placed at the stores section: {e}");
    }
    let unknown = scenario("keys: 1, replication: Async", "", "5s")
        .replace("(service: \"db\"", "(service: \"dbx\"");
    let e = load_error(&unknown, "unknown");
    assert!(e.contains("unknown service \"dbx\""), "{e}");
    let typo = scenario("keys: 1, replication: Asynk", "", "5s");
    let e = load_error(&typo, "typo");
    assert!(e.contains("bad.ron:"), "{e}");
    // The binary exits 2 with the position.
    let dir = temp_dir("store-bad");
    let file = dir.join("bad.ron");
    std::fs::write(&file, scenario("keys: 0, replication: Async", "", "5s")).unwrap();
    let out = faultline(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("stores[0].keys"), "{}", stderr(&out));
}

/// Asynchronous replication with reads at any replica and slow followers: each client session
/// misses its own writes and sees keys go back in time. With version tokens
/// (`session: (read_your_writes: true, monotonic_reads: true)`) a follower behind the
/// session's token forwards the read to the leader, and neither violation may appear, on
/// any seed; other clients' writes may still be missed (stale reads remain).
#[test]
fn session_tokens_prevent_the_violations_the_checker_counts_without_them() {
    let design = |session: &str| {
        format!(
            "keys: 5, writes: 0.5, replication: Async, read_from: Any, \
             apply: Exponential(mean: \"3ms\"){session}"
        )
    };
    let mut forwarded = 0;
    for seed in 1..=5 {
        let plain = run_text(&scenario(&design(""), "", "20s"), seed);
        let p = store(&plain);
        assert!(
            p.read_your_writes > 0 && p.monotonic > 0,
            "seed {seed}: {p:?}"
        );
        assert_eq!(p.session_forwards, None);
        for (ryw, mr) in [(true, true), (true, false), (false, true)] {
            let text = scenario(
                &design(&format!(
                    ", session: (read_your_writes: {ryw}, monotonic_reads: {mr})"
                )),
                "",
                "20s",
            );
            let r = run_text(&text, seed);
            let s = store(&r);
            assert_eq!(s.not_checked, 0);
            if ryw {
                assert_eq!(s.read_your_writes, 0, "seed {seed} {ryw} {mr}");
            }
            if mr {
                assert_eq!(s.monotonic, 0, "seed {seed} {ryw} {mr}");
            }
            assert!(s.stale_reads > 0, "other sessions' writes are still missed");
            assert!(s.design.contains("tokens"), "{}", s.design);
            forwarded += s.session_forwards.expect("counted with tokens");
        }
    }
    assert!(forwarded > 0);
    let e = load_error(
        &scenario(
            "replication: Async, session: (read_your_writes: true)",
            "",
            "1s",
        ),
        "tokens with reads at the leader",
    );
    assert!(
        e.contains("session guarantees apply to") && e.contains("bad.ron:"),
        "{e}"
    );
}
