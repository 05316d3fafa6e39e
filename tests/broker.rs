//! Brokers and queues (issue 15) end to end: consumers against M/M/c, redeliveries against the
//! probability that processing outlasts the visibility timeout, conservation of messages over
//! seeds and designs (with and without faults), dead letters, idempotent consumers, crashes and
//! partitions.

use std::path::Path;

use models::broker::QueueReport;
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded =
        scenarios::load_str(Path::new("broker.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// The counts of a queue, for failure messages.
fn brief(q: &QueueReport) -> String {
    format!(
        "published {} (+{} dead letters in), received {}, redelivered {}, acked {}, stale acks {}, \
         processed {}, failed {}, duplicates {}, deduplicated {}, dead-lettered {}, expired {}, \
         lost {}, backlog {}, in flight {}",
        q.published,
        q.dead_letters_in,
        q.received,
        q.redelivered,
        q.acked,
        q.stale_acks,
        q.processed,
        q.failed,
        q.duplicates,
        q.deduplicated,
        q.dead_lettered,
        q.expired,
        q.lost,
        q.backlog,
        q.in_flight
    )
}

fn queue<'a>(r: &'a RunResult, name: &str) -> &'a QueueReport {
    r.queues.iter().find(|q| q.name == name).expect("the queue")
}

/// Two-sided 99.9 % Student-t quantile for 9 degrees of freedom.
const T_9_999: f64 = 4.781;

/// Mean and 99.9 % half-width of a figure over seeds 1 to 10 (independent runs).
fn over_ten_seeds(source: &str, figure: impl Fn(&RunResult) -> f64) -> (f64, f64) {
    let xs: Vec<f64> = (1..=10)
        .map(|seed| figure(&run_text(source, seed)))
        .collect();
    let k = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / k;
    let variance = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, T_9_999 * (variance / k).sqrt())
}

/// The theory lies inside the 99.9 % interval, which is narrow enough to mean something.
fn agrees(name: &str, (mean, half_width): (f64, f64), theory: f64, max_relative: f64) {
    eprintln!("{name}: {mean:.6}, theory {theory:.6}, 99.9% half-width {half_width:.6}");
    assert!(
        half_width < max_relative * theory,
        "{name}: run too short, half-width {half_width}"
    );
    assert!(
        (mean - theory).abs() <= half_width,
        "{name}: {mean:.6}, theory {theory:.6}, 99.9% half-width {half_width:.6}"
    );
}

/// A producer publishing Poisson traffic to `orders`, consumed by `worker`; the network is
/// instantaneous (the default), so a poller receives again the moment it is done.
fn design(rate: f64, consumer: &str, queue: &str, duration: &str) -> String {
    format!(
        r#"Scenario(
    version: 1,
    name: "design",
    duration: "{duration}",
    services: [
        Service(name: "api", workers: 1000, service_time: Constant(value: "100us"),
                calls: [(publish: "orders", timeout: "1s")]),
        Service(name: "broker", kind: Broker, workers: 1000, service_time: Constant(value: "100us"),
                queues: [{queue}, (name: "dlq")]),
        {consumer},
    ],
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: {rate}))],
)"#
    )
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue with offered load a.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / f64::from(k);
        sum += term;
    }
    let last = term * a / f64::from(c) * f64::from(c) / (f64::from(c) - a);
    last / (sum + last)
}

/// Consumers as M/M/c: c = 4 pollers (and workers), exponential processing of mean 10 ms
/// (mu = 100/s), Poisson publishes at 300/s (a = 3, rho = 0.75). From publish to processed is
/// the M/M/c sojourn W = C(c, a) / (c mu - lambda) + 1/mu; the time waiting in the queue is
/// Wq = C / (c mu - lambda), and the mean backlog is Lq = lambda Wq (Little). Each seed
/// averages about 90,000 messages; the 99.9 % interval over ten seeds must hold the closed
/// forms.
#[test]
fn consumers_behave_as_m_m_c() {
    let consumer = r#"Service(name: "worker", workers: 4, service_time: Exponential(mean: "10ms"),
                consume: (queue: "orders", concurrency: 4))"#;
    let source = design(
        300.0,
        consumer,
        r#"(name: "orders", visibility_timeout: "1h")"#,
        "300s",
    );
    let (lambda, mu, c) = (300.0, 100.0, 4);
    let wait_probability = erlang_c(c, lambda / mu);
    let wq = wait_probability / (f64::from(c) * mu - lambda);
    let sojourn = |r: &RunResult| {
        let q = queue(r, "orders");
        assert_eq!(q.redelivered, 0);
        let sum: u64 = q
            .end_to_end
            .windows
            .iter()
            .map(|w| w.ok_latency_ns_sum)
            .sum();
        sum as f64 / q.end_to_end.ok as f64 / 1e9
    };
    agrees(
        "M/M/4 sojourn (s)",
        over_ten_seeds(&source, sojourn),
        wq + 1.0 / mu,
        0.05,
    );
    let backlog = |r: &RunResult| {
        let worker = &r
            .services
            .iter()
            .find(|s| s.name == "worker")
            .unwrap()
            .stats;
        let service: u64 = worker.windows.iter().map(|w| w.ok_latency_ns_sum).sum();
        let service = service as f64 / worker.ok as f64 / 1e9;
        lambda * (sojourn(r) - service)
    };
    agrees(
        "M/M/4 backlog Lq",
        over_ten_seeds(&source, backlog),
        lambda * wq,
        0.1,
    );
}

/// A receive whose processing outlasts the visibility timeout is delivered again: with
/// exponential processing of mean 10 ms and a 20 ms timeout, P(S > v) = e^-2 of the receives
/// are followed by a redelivery. Pollers are plentiful (50 for a load of 1), so nothing waits
/// and the timeout runs exactly during processing.
#[test]
fn redeliveries_follow_the_probability_that_processing_outlasts_the_timeout() {
    let consumer = r#"Service(name: "worker", workers: 50, service_time: Exponential(mean: "10ms"),
                consume: (queue: "orders", concurrency: 50))"#;
    let source = design(
        100.0,
        consumer,
        r#"(name: "orders", visibility_timeout: "20ms")"#,
        "300s",
    );
    let share = |r: &RunResult| {
        let q = queue(r, "orders");
        assert!(q.duplicates > 0 && q.conserved());
        q.redelivered as f64 / q.received as f64
    };
    agrees(
        "P(S > v)",
        over_ten_seeds(&source, share),
        (-2.0f64).exp(),
        0.05,
    );
}

/// The same for a log-normal processing time whose median is the visibility timeout: by the
/// definition of the median, P(S > v) = 1/2 of the receives are followed by a redelivery
/// (LogNormal(median 10 ms, p99 40 ms), v = 10 ms; about 24,000 receives a seed).
#[test]
fn redeliveries_follow_a_log_normal_processing_time_too() {
    let consumer = r#"Service(name: "worker", workers: 80,
                service_time: LogNormal(median: "10ms", p99: "40ms"),
                consume: (queue: "orders", concurrency: 80))"#;
    let source = design(
        100.0,
        consumer,
        r#"(name: "orders", visibility_timeout: "10ms")"#,
        "120s",
    );
    let share = |r: &RunResult| {
        let q = queue(r, "orders");
        assert!(q.duplicates > 0 && q.conserved());
        q.redelivered as f64 / q.received as f64
    };
    agrees("P(S > median)", over_ten_seeds(&source, share), 0.5, 0.05);
}

/// Designs without faults, poison or a short timeout lose and duplicate nothing: every
/// message published is acked, processed once, or still in the queue at the end.
#[test]
fn without_a_fault_no_message_is_lost_or_duplicated() {
    let consumers = [
        r#"Service(name: "worker", workers: 4, service_time: Exponential(mean: "10ms"),
                consume: (queue: "orders", concurrency: 4))"#,
        r#"Service(name: "worker", workers: 2, service_time: Exponential(mean: "5ms"),
                replicas: 2, consume: (queue: "orders", concurrency: 3, batch: 5))"#,
        r#"Service(name: "worker", workers: 1, service_time: Exponential(mean: "30ms"),
                consume: (queue: "orders", concurrency: 1, batch: 10, dedupe: "1m"))"#,
    ];
    for (d, consumer) in consumers.iter().enumerate() {
        let source = design(
            100.0,
            consumer,
            r#"(name: "orders", visibility_timeout: "1h")"#,
            "20s",
        );
        for seed in 1..=8 {
            let r = run_text(&source, seed);
            let q = queue(&r, "orders");
            let case = format!("design {d} seed {seed}");
            assert!(q.conserved(), "{case}");
            assert!(q.published > 1_000, "{case}");
            assert_eq!(
                (q.duplicates, q.redelivered, q.stale_acks),
                (0, 0, 0),
                "{case}"
            );
            assert_eq!((q.dead_lettered, q.expired, q.lost), (0, 0, 0), "{case}");
            assert_eq!(q.processed, q.acked, "{case}");
            assert_eq!(q.published, q.acked + q.backlog + q.in_flight, "{case}");
        }
    }
}

/// Conservation holds with faults and everything that moves messages: poison, dead letters,
/// short timeouts, retention, a non-durable broker crash, a consumer crash, a partition.
#[test]
fn messages_are_conserved_under_faults_on_every_seed() {
    let faults = [
        "[]",
        r#"[Crash(target: Service("broker"), at: "5s", restart_after: "3s")]"#,
        r#"[Crash(target: Service("worker"), at: "5s", restart_after: "3s")]"#,
        r#"[Latency(service: "worker", multiply: 20.0, from: "4s", to: "8s")]"#,
    ];
    let queues = [
        r#"(name: "orders", visibility_timeout: "50ms", poison: 0.05,
            dead_letter: (queue: "dlq", max_receives: 3))"#,
        r#"(name: "orders", visibility_timeout: "200ms", retention: "3s", durable: false)"#,
    ];
    let consumer = r#"Service(name: "worker", workers: 4, service_time: Exponential(mean: "20ms"),
                replicas: 2, consume: (queue: "orders", concurrency: 3, batch: 2))"#;
    for f in faults {
        for q in queues {
            let source = design(150.0, consumer, q, "15s").replace(
                "    ],\n    clients",
                &format!("    ],\n    faults: {f},\n    clients"),
            );
            for seed in 1..=4 {
                let r = run_text(&source, seed);
                for q in &r.queues {
                    assert!(q.conserved(), "{f} {} seed {seed}: {}", q.name, brief(q));
                }
            }
        }
    }
}

/// A broker crash redelivers what was in flight; a non-durable one loses every message.
#[test]
fn a_broker_crash_redelivers_or_loses() {
    let consumer = r#"Service(name: "worker", workers: 8, service_time: Constant(value: "50ms"),
                consume: (queue: "orders", concurrency: 8))"#;
    let crash = r#"    faults: [Crash(target: Service("broker"), at: "5s", restart_after: "2s")],
    clients"#;
    let durable =
        design(100.0, consumer, r#"(name: "orders")"#, "20s").replace("    clients", crash);
    let r = run_text(&durable, 1);
    let q = queue(&r, "orders");
    assert!(q.redelivered > 0 && q.duplicates > 0, "{}", brief(q));
    assert_eq!(q.lost, 0);
    assert!(q.conserved());
    let fragile = design(
        100.0,
        consumer,
        r#"(name: "orders", durable: false)"#,
        "20s",
    )
    .replace("    clients", crash);
    let q = queue(&run_text(&fragile, 1), "orders").clone();
    assert!(q.lost > 0, "{}", brief(&q));
    assert!(q.conserved());
}

/// A consumer partitioned from its broker receives nothing and acks nothing; the backlog grows
/// while the partition lasts and drains after it.
#[test]
fn a_partition_between_consumer_and_broker_builds_a_backlog() {
    let source = r#"Scenario(
    version: 1,
    name: "partitioned",
    duration: "40s",
    topology: (regions: [(name: "r", zones: [(name: "a", hosts: ["h1", "h2"])])]),
    network: (latency: Constant(value: "1ms"),
              partitions: [(from: "10s", to: "20s", a: [Host("h1")], b: [Host("h2")])]),
    services: [
        Service(name: "broker", kind: Broker, workers: 100, service_time: Constant(value: "1ms"),
                placement: Hosts(["h1"]), queues: [(name: "orders", visibility_timeout: "5s")]),
        Service(name: "worker", workers: 4, service_time: Exponential(mean: "10ms"),
                placement: Hosts(["h2"]), consume: (queue: "orders", concurrency: 4)),
        Service(name: "api", workers: 100, service_time: Constant(value: "1ms"),
                placement: Hosts(["h1"]), calls: [(publish: "orders", timeout: "1s")]),
    ],
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 100.0))],
)"#;
    let r = run_text(source, 3);
    let q = queue(&r, "orders");
    let backlog = |s: usize| q.series.windows[s].backlog_max;
    assert!(backlog(5) < 20, "before: {}", backlog(5));
    assert!(backlog(19) > 500, "during: {}", backlog(19));
    assert!(backlog(38) < 20, "after: {}", backlog(38));
    assert!(q.conserved());
    assert_eq!(q.duplicates, q.redelivered.min(q.duplicates));
}

/// Poison messages without a dead-letter queue come back forever; with one (max receives 5)
/// each is received five times and moved away.
#[test]
fn poison_messages_go_to_the_dead_letter_queue_after_max_receives() {
    let consumer = r#"Service(name: "worker", workers: 4, service_time: Constant(value: "5ms"),
                consume: (queue: "orders", concurrency: 4))"#;
    let orders = r#"(name: "orders", visibility_timeout: "1s", poison: 0.1"#;
    let dead_letter = r#", dead_letter: (queue: "dlq", max_receives: 5))"#;
    let with = design(50.0, consumer, &format!("{orders}{dead_letter}"), "60s");
    let r = run_text(&with, 2);
    let q = queue(&r, "orders");
    let dlq = queue(&r, "dlq");
    assert!(q.dead_lettered > 200, "{}", brief(q));
    assert_eq!(dlq.dead_letters_in, q.dead_lettered);
    assert_eq!(q.failed, q.received - q.processed);
    // Every dead letter was received exactly five times: the failures are 5 per dead letter,
    // save those still coming back at the end.
    assert!(
        q.failed >= 5 * q.dead_lettered
            && q.failed <= 5 * (q.dead_lettered + q.in_flight + q.backlog)
    );
    let without = design(50.0, consumer, &format!("{orders})"), "60s");
    let r = run_text(&without, 2);
    let q = queue(&r, "orders");
    assert_eq!(q.dead_lettered, 0);
    assert!(q.backlog + q.in_flight > 200, "{}", brief(q));
}

/// An idempotent consumer acks a redelivered message it already processed instead of
/// processing it again; a redelivery while the first processing runs is left for later.
#[test]
fn an_idempotent_consumer_processes_each_message_once() {
    let consumer = |dedupe: &str| {
        format!(
            r#"Service(name: "worker", workers: 20, service_time: LogNormal(median: "20ms", p99: "200ms"),
                consume: (queue: "orders", concurrency: 20{dedupe}))"#
        )
    };
    let q = r#"(name: "orders", visibility_timeout: "60ms")"#;
    let plain = run_text(&design(100.0, &consumer(""), q, "30s"), 4);
    let plain = queue(&plain, "orders");
    assert!(plain.duplicates > 50, "{}", brief(plain));
    let idempotent = run_text(&design(100.0, &consumer(", dedupe: \"10m\""), q, "30s"), 4);
    let idempotent = queue(&idempotent, "orders");
    assert_eq!(idempotent.duplicates, 0, "{}", brief(idempotent));
    assert!(idempotent.redelivered > 50 && idempotent.deduplicated > 0);
}

/// A retried publish whose ack was lost stores the message twice: both copies are processed
/// and the second counts as a duplicate (the key is the publishing call).
#[test]
fn a_retried_publish_duplicates_the_message() {
    let source = design(
        100.0,
        r#"Service(name: "worker", workers: 4, service_time: Constant(value: "1ms"),
                consume: (queue: "orders", concurrency: 4))"#,
        r#"(name: "orders")"#,
        "20s",
    )
    .replace(
        r#"(publish: "orders", timeout: "1s")"#,
        r#"(publish: "orders", timeout: "2ms", retry: (max_attempts: 3, backoff: Immediate))"#,
    )
    .replace(
        r#"queues: [(name: "orders")"#,
        r#"service_time: Exponential(mean: "1ms"), queues: [(name: "orders")"#,
    )
    .replace(
        r#"service_time: Constant(value: "100us"),
                service_time"#,
        "service_time",
    );
    let r = run_text(&source, 1);
    let q = queue(&r, "orders");
    let edge = r.edges.iter().find(|e| e.from == "api").unwrap();
    assert!(edge.retries > 100, "{}", edge.retries);
    assert!(
        q.published > 2_000 + 100 && q.duplicates > 50,
        "{}",
        brief(q)
    );
}

/// A fire-and-forget publish does not wait for the broker: the producer's latency is its own
/// work only, and the message arrives all the same.
#[test]
fn a_fire_and_forget_publish_does_not_wait() {
    let source = design(
        100.0,
        r#"Service(name: "worker", workers: 4, service_time: Constant(value: "1ms"),
                consume: (queue: "orders", concurrency: 4))"#,
        r#"(name: "orders")"#,
        "10s",
    )
    .replace(
        r#"(publish: "orders", timeout: "1s")"#,
        r#"(publish: "orders", ack: false)"#,
    )
    .replace(
        r#"workers: 1000, service_time: Constant(value: "100us"),
                queues"#,
        r#"workers: 1000, service_time: Constant(value: "50ms"),
                queues"#,
    );
    let r = run_text(&source, 1);
    let users = &r.clients[0].stats;
    assert_eq!(users.latency.max().as_nanos(), 100_000);
    let q = queue(&r, "orders");
    assert!(q.processed > 900 && q.conserved(), "{}", brief(q));
    let broker = r.services.iter().find(|s| s.name == "broker").unwrap();
    assert_eq!(broker.wasted_work, 0);
}

/// Bad broker input is reported at its place, with what was expected.
#[test]
fn bad_broker_input_names_what_is_wrong() {
    let bad = design(
        10.0,
        r#"Service(name: "worker", workers: 1, service_time: Constant(value: "1ms"),
                consume: (queue: "ordres", batch: 11))"#,
        r#"(name: "orders", poison: 1.5, dead_letter: (queue: "orders", max_receives: 0))"#,
        "1s",
    )
    .replace(
        r#"(publish: "orders", timeout: "1s")"#,
        r#"(publish: "nowhere")"#,
    );
    let Err(e) = scenarios::load_str(Path::new("bad.ron"), &bad) else {
        panic!("a bad scenario loaded")
    };
    let e = e.to_string();
    for expected in [
        "unknown queue \"nowhere\"; expected one of: dlq, orders",
        "unknown queue \"ordres\"",
        "11 messages per receive; expected 1 to 10",
        "1.5 is not a share of messages",
        "a queue cannot be its own dead-letter queue",
        "max_receives: must be at least 1",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    assert!(e.lines().all(|l| l.starts_with("bad.ron:")), "{e}");
    let replicated = design(
        10.0,
        r#"Service(name: "w", workers: 1, service_time: Constant(value: "1ms"))"#,
        r#"(name: "orders")"#,
        "1s",
    )
    .replace("kind: Broker,", "kind: Broker, replicas: 2,");
    let Err(e) = scenarios::load_str(Path::new("b.ron"), &replicated) else {
        panic!("a replicated broker loaded")
    };
    let e = e.to_string();
    assert!(e.contains("a broker has one replica"), "{e}");
}

fn library(name: &str, seed: u64) -> RunResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/library")
        .join(name);
    let loaded = scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// The library's pairs say what they claim, on several seeds: without a dead-letter queue the
/// poison stalls the queue (the backlog and the oldest message's age grow to the end), with
/// one the backlog stays small; a short visibility timeout processes duplicates, an idempotent
/// consumer none.
#[test]
fn the_library_pairs_show_what_their_comments_say() {
    for seed in 1..=3 {
        let stalled = library("queue-poison.ron", seed);
        let q = queue(&stalled, "orders");
        let last = q.series.windows.last().unwrap();
        assert!(
            last.backlog_max > 1_000 && q.oldest_age.as_secs_f64() > 200.0,
            "{}",
            brief(q)
        );
        let flowing = library("queue-poison-dlq.ron", seed);
        let q = queue(&flowing, "orders");
        let worst = q
            .series
            .windows
            .iter()
            .map(|w| w.backlog_max)
            .max()
            .unwrap();
        assert!(worst < 50 && q.dead_lettered > 500, "{worst}: {}", brief(q));
        assert_eq!(queue(&flowing, "orders-dlq").backlog, q.dead_lettered);

        let short = library("queue-visibility-short.ron", seed);
        let q = queue(&short, "payments");
        assert!(q.duplicates > 200 && q.stale_acks > 200, "{}", brief(q));
        let idempotent = library("queue-visibility-idempotent.ron", seed);
        let q = queue(&idempotent, "payments");
        assert!(q.duplicates == 0 && q.deduplicated > 200, "{}", brief(q));
    }
}

/// The queues appear in every format when there are some: a second CSV table, two HTML charts,
/// a text and a Markdown section.
#[test]
fn queues_show_in_every_format() {
    let r = library("queue-poison-dlq.ron", 1);
    let analysis = reports::analyse(&r);
    let csv = reports::csv::csv(&r);
    let (_, queues) = csv
        .split_once(&format!("\n\n{}\n", reports::QUEUE_HEADER))
        .expect("a queue table");
    // One row per window per queue.
    assert_eq!(queues.lines().count(), 2 * 300);
    assert!(
        queues
            .lines()
            .all(|l| l.split(',').count() == reports::QUEUE_HEADER.split(',').count())
    );
    let html = reports::html::html(&r, &analysis);
    assert!(html.contains("Queue backlog") && html.contains("Age of the oldest message"));
    let text = reports::text(&r, &analysis, false);
    assert!(text.contains("\nqueues ") && text.contains("orders-dlq"));
    let md = reports::markdown::markdown(&r, &analysis);
    assert!(md.contains("#### Queues") && md.contains("| orders-dlq |"));
    // Without queues, none of it.
    let plain = library("checkout.ron", 1);
    assert!(!reports::csv::csv(&plain).contains("\n\n"));
}

/// A traced replay of a broker scenario writes every trace format (a delivery is a request
/// with no client), and the same seed gives the same bytes twice.
#[test]
fn broker_runs_replay_and_repeat() {
    let binary = env!("CARGO_BIN_EXE_faultline");
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/library/queue-visibility-short.ron");
    let dir = std::env::temp_dir().join(format!("faultline-broker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(binary)
        .arg("replay")
        .arg(&scenario)
        .args(["--seed", "1", "--set", "duration=5s", "--explain", "60"])
        .arg("--trace")
        .arg(dir.join("t.jsonl"))
        .arg("--chrome-trace")
        .arg(dir.join("c.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("a message broker delivered to charger"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let json = || {
        let out = std::process::Command::new(binary)
            .arg("run")
            .arg(&scenario)
            .args(["--seed", "3", "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    assert_eq!(json(), json());
}

/// A queue nobody drains grows until `limits.memory` stops the run, with a partial report
/// rather than an exhausted machine.
#[test]
fn an_undrained_queue_stops_at_the_memory_limit() {
    let source = r#"Scenario(
    version: 1,
    name: "undrained",
    duration: "1h",
    services: [
        Service(name: "api", workers: 1000, service_time: Constant(value: "100us"),
                calls: [(publish: "orders")]),
        Service(name: "broker", kind: Broker, workers: 1000, service_time: Constant(value: "100us"),
                queues: [(name: "orders")]),
    ],
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 20000.0))],
    limits: (memory: "24MiB"),
)"#;
    let r = run_text(source, 1);
    assert_eq!(r.outcome.stop, sim_core::StopReason::MemoryLimit);
    let q = queue(&r, "orders");
    assert!(q.backlog > 50_000 && q.conserved(), "{}", brief(q));
}

/// `--set` reaches the queues and consumers: a longer visibility timeout ends the duplicates
/// of queue-visibility-short.ron; bad paths say what is wrong.
#[test]
fn overrides_reach_queues_and_consumers() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/library/queue-visibility-short.ron");
    let settings: Vec<(String, String)> = [
        ("queues.payments.visibility_timeout", "20s"),
        ("services.charger.consume.batch", "2"),
        ("duration", "30s"),
    ]
    .iter()
    .map(|(p, v)| (p.to_string(), v.to_string()))
    .collect();
    let loaded = scenarios::load_with(&path, &settings).unwrap_or_else(|e| panic!("{e}"));
    let r = World::new(&loaded.config, 1).run(RunOptions::default());
    let q = queue(&r, "payments");
    assert_eq!((q.redelivered, q.duplicates), (0, 0), "{}", brief(q));
    for (bad, expected) in [
        (
            ("queues.nowhere.poison", "0.1"),
            "no queue named \"nowhere\"",
        ),
        (("queues.payments.max_receives", "3"), "has no dead_letter"),
        (
            ("services.checkout.consume.batch", "2"),
            "consumes no queue",
        ),
        (("services.charger.consume.batch", "11"), "expected 1 to 10"),
    ] {
        let setting = [(bad.0.to_string(), bad.1.to_string())];
        let Err(e) = scenarios::load_with(&path, &setting) else {
            panic!("{bad:?} applied")
        };
        assert!(e.to_string().contains(expected), "{bad:?}: {e}");
    }
}
