//! Writes that publish (issue 15): a dual write against a transactional outbox, end to end.
//! Without a fault nothing is lost or duplicated; every record is written = published + lost +
//! pending on every seed; an outbox loses nothing under crashes; a dual write loses the
//! records whose commit a crash caught unacknowledged, as many as theory says; retried
//! publishes are counted as duplicates; reports in every format; bad input placed in the file.

use std::path::Path;

use models::outbox::WriteReport;
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded =
        scenarios::load_str(Path::new("outbox.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn library(name: &str, seed: u64) -> RunResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/library/{name}.ron"));
    let loaded = scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn write(r: &RunResult) -> &WriteReport {
    assert_eq!(r.writes.len(), 1);
    &r.writes[0]
}

const DUAL: &str = "DualWrite";
const OUTBOX: &str = r#"Outbox(poll: "100ms")"#;

/// `api` (2 replicas) writes for `write_time` and publishes to `orders` as `mode`, at 100
/// requests a second; `faults` spliced in.
fn scenario(mode: &str, write_time: &str, policy: &str, faults: &str) -> String {
    format!(
        r#"Scenario(
    version: 1,
    name: "outbox",
    duration: "60s",
    services: [
        Service(name: "api", replicas: 2, workers: 100, service_time: Constant(value: "1ms"),
                calls: [(publish: "orders", after_write: {mode}, write_time: "{write_time}"{policy})]),
        Service(name: "broker", kind: Broker, workers: 100, service_time: Constant(value: "1ms"),
                queues: [(name: "orders")]),
        Service(name: "worker", workers: 4, service_time: Exponential(mean: "2ms"),
                consume: (queue: "orders", concurrency: 4)),
    ],
    clients: [Client(name: "load", to: "api", arrivals: Poisson(rate_per_s: 100.0))],
    faults: [{faults}],
)"#
    )
}

const API_CRASH: &str =
    r#"Crash(target: Replica(service: "api", index: 0), at: "20.05s", restart_after: "5s")"#;
const BOTH_CRASHES: &str = r#"Crash(target: Replica(service: "api", index: 0), at: "20.05s", restart_after: "5s"),
        Crash(target: Service("broker"), at: "40.05s", restart_after: "3s")"#;

#[test]
fn without_a_fault_nothing_is_lost_or_duplicated() {
    for mode in [DUAL, OUTBOX] {
        for seed in 1..=5 {
            let r = run_text(&scenario(mode, "5ms", r#", timeout: "1s""#, ""), seed);
            let w = write(&r);
            assert!(w.written > 5_500, "{w:?}");
            assert!(w.conserved(), "{w:?}");
            assert_eq!((w.lost, w.duplicated), (0, 0), "{mode} seed {seed}: {w:?}");
            // Rows committed in the last poll interval wait for the relay (10 on average).
            assert!(w.pending <= 40, "{w:?}");
            // Every record the broker stored once reached the queue once.
            assert_eq!(r.queues[0].published, w.published, "{mode}");
        }
    }
}

#[test]
fn records_are_conserved_under_faults_on_every_seed() {
    for mode in [DUAL, OUTBOX] {
        for seed in 1..=5 {
            let policy = r#", timeout: "200ms", retry: (max_attempts: 3)"#;
            let r = run_text(&scenario(mode, "50ms", policy, BOTH_CRASHES), seed);
            let w = write(&r);
            assert!(w.conserved(), "{mode} seed {seed}: {w:?}");
            // The queue stored each publish, duplicates included.
            assert_eq!(r.queues[0].published, w.published + w.duplicated, "{w:?}");
            assert!(r.queues[0].conserved());
        }
    }
}

#[test]
fn an_outbox_loses_nothing_under_crashes_and_publishes_after_them() {
    for seed in 1..=5 {
        let policy = r#", timeout: "200ms", retry: (max_attempts: 3)"#;
        // A relay polling every second: at the crash, half a second of rows (about 25) wait.
        let faults = BOTH_CRASHES.replace("20.05s", "20.5s");
        let r = run_text(
            &scenario(r#"Outbox(poll: "1s")"#, "50ms", policy, &faults),
            seed,
        );
        let w = write(&r);
        assert_eq!(w.lost, 0, "seed {seed}: {w:?}");
        assert!(w.pending <= 300, "{w:?}");
        // The crashed replica's rows waited for its restart (5 s), the others for the broker.
        assert!(w.delay.max().as_secs_f64() > 4.9, "{:?}", w.delay.max());
    }
}

/// The number of writes committed but not yet acknowledged when the replica crashes is the
/// number in an M/G/inf system with a constant holding time: Poisson with mean (arrival rate
/// at the replica) x (write time). Each is lost by a dual write.
#[test]
fn a_dual_write_loses_what_the_crash_caught_mid_step_as_theory_says() {
    let xs: Vec<f64> = (1..=10)
        .map(|seed| {
            let r = run_text(
                &scenario(DUAL, "200ms", r#", timeout: "1s""#, API_CRASH),
                seed,
            );
            let w = write(&r);
            assert!(w.conserved(), "{w:?}");
            assert!(w.lost > 0, "seed {seed}: {w:?}");
            w.lost as f64
        })
        .collect();
    let k = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / k;
    let variance = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    // Two-sided 99.9 % Student-t quantile for 9 degrees of freedom.
    let half_width = 4.781 * (variance / k).sqrt();
    // 100 requests a second over two replicas (round robin), each write 200 ms.
    let theory = 50.0 * 0.2;
    eprintln!("dual write lost: {mean:.3}, theory {theory}, half-width {half_width:.3}");
    assert!(half_width < 0.5 * theory, "half-width {half_width}");
    assert!((mean - theory).abs() <= half_width, "{mean} vs {theory}");
    // The outbox under the same crash loses none.
    let r = run_text(
        &scenario(OUTBOX, "200ms", r#", timeout: "1s""#, API_CRASH),
        1,
    );
    assert_eq!(write(&r).lost, 0);
}

#[test]
fn a_retried_publish_is_counted_duplicated_not_lost() {
    // The broker takes 1 ms and more under load; a 1 ms timeout retries often.
    let policy = r#", timeout: "1ms", retry: (max_attempts: 4, backoff: Immediate)"#;
    for mode in [DUAL, OUTBOX] {
        let r = run_text(&scenario(mode, "5ms", policy, ""), 1);
        let w = write(&r);
        assert!(w.duplicated > 100, "{mode}: {w:?}");
        assert!(w.conserved(), "{w:?}");
        // The consumer sees the copies as duplicates of one message key.
        assert!(r.queues[0].duplicates > 0, "{mode}");
    }
}

#[test]
fn the_library_pair_shows_what_its_comments_say() {
    for seed in [1, 7] {
        let dual = library("outbox-dual-write", seed);
        let relay = library("outbox-relay", seed);
        let (d, o) = (write(&dual), write(&relay));
        assert!(d.lost > 100, "{d:?}");
        assert_eq!(o.lost, 0, "{o:?}");
        assert!(d.conserved() && o.conserved());
        assert!(
            o.delay.max() > d.delay.quantile(0.99),
            "the outbox delays instead"
        );
    }
}

#[test]
fn writes_show_in_every_format_and_repeat() {
    let r = library("outbox-dual-write", 1);
    let analysis = reports::analyse(&r);
    let json = reports::json_string(&r);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let w = &doc["writes"][0];
    assert_eq!(w["mode"], "dual_write");
    assert_eq!(w["conserved"], true);
    assert!(w["lost"].as_u64().unwrap() > 0);
    assert!(w["publish_delay_ms"]["p50"].as_f64().unwrap() >= 50.0);
    let text = reports::text(&r, &analysis, false);
    assert!(text.contains("writes that publish") && text.contains("checkout -> orders"));
    let md = reports::markdown::markdown(&r, &analysis);
    assert!(md.contains("#### Writes that publish"));
    let html = reports::html::html(&r, &analysis);
    assert!(html.contains("<h3>Writes that publish</h3>"));
    let again = library("outbox-dual-write", 1);
    assert_eq!(reports::json_string(&again), json);
    // Without write steps, none of it.
    let plain = library("queue-poison", 1);
    assert!(plain.writes.is_empty());
    let plain_json = reports::json_string(&plain);
    let plain_doc: serde_json::Value = serde_json::from_str(&plain_json).unwrap();
    assert!(plain_doc.get("writes").is_none());
}

#[test]
fn bad_write_steps_name_what_is_wrong() {
    let bad = scenario(r#"Outbox(poll: "0s")"#, "5ms", "", "").replace(
        r#"Service(name: "worker", workers: 4,"#,
        r#"Service(name: "worker", workers: 4, calls: [(to: "api", after_write: DualWrite)],"#,
    );
    let Err(e) = scenarios::load_str(Path::new("bad.ron"), &bad) else {
        panic!("a bad scenario loaded:\n{bad}")
    };
    let e = e.to_string();
    for expected in [
        "after_write belongs to a publish step",
        "the relay's poll interval must be positive",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    assert!(e.lines().all(|l| l.starts_with("bad.ron:")), "{e}");
    let parallel = scenario(DUAL, "5ms", "", "").replace(
        r#"calls: [(publish: "orders", after_write: DualWrite, write_time: "5ms")]"#,
        r#"calls: [(parallel: [(publish: "orders", after_write: DualWrite), (publish: "orders")])]"#,
    );
    let Err(e) = scenarios::load_str(Path::new("p.ron"), &parallel) else {
        panic!("a parallel write step loaded")
    };
    assert!(e.to_string().contains("a write step stands alone"), "{e}");
    let unknown = scenario("Outbox", "5ms", "", "");
    let Err(e) = scenarios::load_str(Path::new("u.ron"), &unknown) else {
        panic!("an outbox without poll loaded")
    };
    assert!(e.to_string().starts_with("u.ron:"), "{e}");
    // The binary exits 2 on it.
    let dir = std::env::temp_dir().join(format!("faultline-outbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.ron");
    std::fs::write(&file, &parallel).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.ron:"));
}
