//! FIFO queues and message groups (issue 15) end to end: one group served as M/M/1 whatever
//! the number of consumers, order kept within every group over seeds (and measured broken on
//! a standard queue), a retried publish deduplicated, a poison message blocking its group, and
//! bad input.

use std::path::Path;

use models::broker::QueueReport;
use models::fifo::FifoReport;
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load_str(Path::new("fifo.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn queue<'a>(r: &'a RunResult, name: &str) -> &'a QueueReport {
    r.queues.iter().find(|q| q.name == name).expect("the queue")
}

fn fifo<'a>(r: &'a RunResult, name: &str) -> &'a FifoReport {
    queue(r, name).fifo.as_ref().expect("groups reported")
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

/// A producer publishing Poisson traffic to `orders` (written as `queue`, with a `dlq`),
/// consumed by `worker`; the network is instantaneous (the default), so a group unlocked by a
/// delete is received again at once.
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
                queues: [{queue}]),
        {consumer},
    ],
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: {rate}))],
)"#
    )
}

const FOUR_POLLERS: &str = r#"Service(name: "worker", workers: 4, service_time: Exponential(mean: "10ms"),
                consume: (queue: "orders", concurrency: 4))"#;

/// The mean of publish-to-processed, in seconds.
fn sojourn(r: &RunResult) -> f64 {
    let q = queue(r, "orders");
    assert_eq!(q.redelivered, 0);
    let sum: u64 = q
        .end_to_end
        .windows
        .iter()
        .map(|w| w.ok_latency_ns_sum)
        .sum();
    sum as f64 / q.end_to_end.ok as f64 / 1e9
}

/// One message group: only one message is in flight at a time, so four pollers serve it as
/// one server. Exponential processing of mean 10 ms (mu = 100/s), Poisson publishes at 60/s:
/// the sojourn from publish to processed is the M/M/1 W = 1/(mu - lambda) = 25 ms (a standard
/// queue with the same four pollers is M/M/4, W about 10.4 ms). About 18,000 messages a seed;
/// the 99.9 % interval over ten seeds must hold the closed form.
#[test]
fn one_group_is_served_as_m_m_1_whatever_the_consumers() {
    let source = design(
        60.0,
        FOUR_POLLERS,
        r#"(name: "orders", fifo: true, visibility_timeout: "1h")"#,
        "300s",
    );
    agrees(
        "one FIFO group as M/M/1 sojourn (s)",
        over_ten_seeds(&source, sojourn),
        1.0 / (100.0 - 60.0),
        0.1,
    );
}

/// Saturated (publishes at 150/s against one consumer's 100/s), one group's throughput is one
/// consumer's: the messages processed per second are mu = 100, with four pollers. Over 100 s
/// that is about 10,000 processings a seed.
#[test]
fn one_group_processes_at_one_consumers_rate() {
    let source = design(
        150.0,
        FOUR_POLLERS,
        r#"(name: "orders", fifo: true, visibility_timeout: "1h")"#,
        "100s",
    );
    agrees(
        "one FIFO group's throughput (1/s)",
        over_ten_seeds(&source, |r| queue(r, "orders").processed as f64 / 100.0),
        100.0,
        0.03,
    );
    // The same pollers on a standard queue keep up with the publishes.
    let standard = source.replace("fifo: true, ", "");
    let r = run_text(&standard, 1);
    let rate = queue(&r, "orders").processed as f64 / 100.0;
    assert!(rate > 140.0, "{rate}");
}

/// Order within a group is never broken on a FIFO queue, over seeds: eight groups, four
/// pollers receiving batches of three with log-normal processing, poison messages failing and
/// coming back after their visibility timeout until they go to the dead-letter queue. The same
/// design on a standard queue processes messages out of order on every seed, so the count can
/// fail.
#[test]
fn order_within_a_group_holds_on_every_seed() {
    let consumer = r#"Service(name: "worker", workers: 4,
                service_time: LogNormal(median: "5ms", p99: "80ms"),
                consume: (queue: "orders", concurrency: 4, batch: 3))"#;
    let fifo_source = design(
        150.0,
        consumer,
        r#"(name: "orders", fifo: true, groups: 8, poison: 0.02, visibility_timeout: "2s",
            dead_letter: (queue: "dlq", max_receives: 2)), (name: "dlq", fifo: true)"#,
        "60s",
    );
    let standard = fifo_source
        .replace("fifo: true, ", "")
        .replace(r#"(name: "dlq", fifo: true)"#, r#"(name: "dlq")"#);
    for seed in 1..=20 {
        let r = run_text(&fifo_source, seed);
        let q = queue(&r, "orders");
        let f = fifo(&r, "orders");
        assert!(q.conserved() && q.processed > 1_000, "seed {seed}");
        assert!(q.dead_lettered > 0 && q.redelivered > 0, "seed {seed}");
        assert_eq!(f.out_of_order, 0, "seed {seed}");
        assert!(f.blocked.as_secs_f64() > 1.0, "seed {seed}: {f:?}");
        let s = run_text(&standard, seed);
        let f = fifo(&s, "orders");
        assert!(!f.strict && f.out_of_order > 0, "seed {seed}: {f:?}");
    }
}

/// A publish whose ack came too late is retried with the same deduplication ID: a standard
/// queue stores it twice and the consumer processes it twice; a FIFO queue acknowledges the
/// retry without storing it, and nothing is processed twice.
#[test]
fn a_retried_publish_is_deduplicated_by_a_fifo_queue() {
    let source = |queue: &str| {
        design(
            100.0,
            r#"Service(name: "worker", workers: 4, service_time: Constant(value: "1ms"),
                consume: (queue: "orders", concurrency: 4))"#,
            queue,
            "20s",
        )
        .replace(
            r#"(publish: "orders", timeout: "1s")"#,
            r#"(publish: "orders", timeout: "2ms", retry: (max_attempts: 3, backoff: Immediate))"#,
        )
        .replace(
            r#"service_time: Constant(value: "100us"),
                queues"#,
            r#"service_time: Exponential(mean: "1ms"), queues"#,
        )
    };
    let standard = run_text(&source(r#"(name: "orders", groups: 16)"#), 1);
    let s = queue(&standard, "orders");
    assert!(s.duplicates > 50, "{}", s.duplicates);
    let r = run_text(&source(r#"(name: "orders", fifo: true, groups: 16)"#), 1);
    let q = queue(&r, "orders");
    let f = fifo(&r, "orders");
    let edge = r.edges.iter().find(|e| e.from == "api").unwrap();
    assert!(edge.retries > 100, "{}", edge.retries);
    assert!(f.deduplicated_publishes > 50, "{f:?}");
    assert_eq!(q.duplicates, 0);
    assert_eq!(f.out_of_order, 0);
    assert!(q.conserved());
    assert_eq!(q.backlog + q.in_flight + q.acked, q.published);
}

/// A poison message at the head of the only group blocks every later message: each receive of
/// it holds the group for the visibility timeout, until it is dead-lettered.
#[test]
fn a_poison_message_blocks_its_group_until_it_is_dead_lettered() {
    let source = design(
        20.0,
        r#"Service(name: "worker", workers: 2, service_time: Constant(value: "1ms"),
                consume: (queue: "orders", concurrency: 2))"#,
        r#"(name: "orders", fifo: true, poison: 0.01, visibility_timeout: "5s",
            dead_letter: (queue: "dlq", max_receives: 3)), (name: "dlq", fifo: true)"#,
        "120s",
    );
    let r = run_text(&source, 3);
    let q = queue(&r, "orders");
    let f = fifo(&r, "orders");
    assert!(q.dead_lettered > 0, "no poison message on this seed");
    // Each poison message holds the group through three receives of 5 s each before it
    // moves, with later messages waiting behind it all the while.
    assert!(f.longest_blocked.as_secs_f64() >= 5.0, "{f:?}");
    assert!(
        f.blocked.as_secs_f64() >= 15.0 * q.dead_lettered as f64 - 1.0,
        "{f:?}, {} dead-lettered",
        q.dead_lettered
    );
    assert!(q.series.windows.iter().any(|w| w.backlog_max > 100));
}

/// Bad FIFO input is reported at its place, with what was expected.
#[test]
fn bad_fifo_input_names_what_is_wrong() {
    let bad = design(
        10.0,
        FOUR_POLLERS,
        r#"(name: "orders", fifo: true, groups: 0, dead_letter: (queue: "dlq", max_receives: 2)),
           (name: "dlq")"#,
        "1s",
    );
    let Err(e) = scenarios::load_str(Path::new("bad.ron"), &bad) else {
        panic!("a bad scenario loaded")
    };
    let e = e.to_string();
    for expected in [
        "0 message groups; expected 1 to 1000000",
        "\"orders\" is a FIFO queue and its dead-letter queue \"dlq\" is a standard queue",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    assert!(e.lines().all(|l| l.starts_with("bad.ron:")), "{e}");
}

/// Groups are a function of the seed and the publishes: the same run twice is the same.
#[test]
fn fifo_runs_repeat() {
    let source = design(
        100.0,
        FOUR_POLLERS,
        r#"(name: "orders", fifo: true, groups: 5, poison: 0.05, visibility_timeout: "1s")"#,
        "20s",
    );
    let a = run_text(&source, 9);
    let b = run_text(&source, 9);
    assert_eq!(a.outcome.fingerprint, b.outcome.fingerprint);
    assert_eq!(fifo(&a, "orders"), fifo(&b, "orders"));
}

fn library(name: &str, seed: u64) -> RunResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/library")
        .join(name);
    let loaded = scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// The library pair shows what its comments say, on several seeds: the standard queue
/// processes retried postings twice and postings of one account out of order; the FIFO queue
/// deduplicates the retries, keeps every account in order, and pays with blocked groups and a
/// longer tail.
#[test]
fn the_order_pair_shows_what_its_comments_say() {
    for seed in [1, 2, 3] {
        let standard = library("queue-order-standard.ron", seed);
        let fifo_run = library("queue-order-fifo.ron", seed);
        let (s, q) = (queue(&standard, "postings"), queue(&fifo_run, "postings"));
        let (sf, ff) = (fifo(&standard, "postings"), fifo(&fifo_run, "postings"));
        assert!(s.duplicates > 500 && sf.out_of_order > 500, "seed {seed}");
        assert_eq!(sf.deduplicated_publishes, 0);
        assert_eq!((q.duplicates, ff.out_of_order), (0, 0), "seed {seed}");
        assert!(ff.deduplicated_publishes > 500, "seed {seed}");
        assert!(ff.blocked.as_secs_f64() > 10.0, "seed {seed}");
        let p99 = |q: &QueueReport| q.end_to_end.latency.quantile(0.99);
        assert!(p99(q) > p99(s), "seed {seed}");
    }
}
