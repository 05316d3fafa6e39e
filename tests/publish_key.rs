//! A publish step's own key (issue 15) end to end: drawn once per publishing call so a retry
//! keeps its group and its partition; on a FIFO queue the key is the message group ID (one
//! fixed key orders the whole queue whatever `groups` says) while deduplication stays on the
//! call's identity; on a topic it picks the partition (shares against the hash of the key
//! space, a Zipf key space by a chi-square test); a write step's key is drawn per record; bad
//! input is placed.

use std::path::Path;

use models::broker::QueueReport;
use models::fifo::FifoReport;
use models::topic::{TopicReport, partition_of};
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded = scenarios::load_str(Path::new("key.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn queue<'a>(r: &'a RunResult, name: &str) -> &'a QueueReport {
    r.queues.iter().find(|q| q.name == name).expect("the queue")
}

fn fifo<'a>(r: &'a RunResult, name: &str) -> &'a FifoReport {
    queue(r, name).fifo.as_ref().expect("groups reported")
}

fn topic<'a>(r: &'a RunResult, name: &str) -> &'a TopicReport {
    r.topics.iter().find(|t| t.name == name).expect("the topic")
}

/// Publishing calls: one per request of the client (the producer makes one publish each).
fn calls(r: &RunResult) -> u64 {
    r.clients[0].stats.requests
}

/// `api` publishes to `orders` (a queue or a topic, `target`) with `step`'s extra fields, at
/// `rate` a second until 15 s (then practically never: a profile's rate is positive), and the
/// run ends at 20 s so that every call is over.
fn design(step: &str, target: &str, consumer: &str, rate: f64) -> String {
    format!(
        r#"Scenario(
    version: 1,
    name: "key",
    duration: "20s",
    services: [
        Service(name: "api", workers: 1000, service_time: Constant(value: "100us"),
                calls: [(publish: "orders", {step})]),
        Service(name: "broker", kind: Broker, workers: 1000, service_time: Constant(value: "2ms"),
                {target}),
        {consumer}
    ],
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: {rate}),
                     profile: [Step(at: "15s", rate_per_s: 0.000001)])],
)"#
    )
}

/// Every attempt times out after 1 ms and the broker stores each after 2 ms: three copies per
/// call, all stored (a standard queue, a topic) or two deduplicated (a FIFO queue).
const RETRIED: &str = "timeout: \"1ms\", retry: (max_attempts: 3, backoff: Immediate)";

const WORKER: &str = r#"Service(name: "worker", workers: 4, service_time: Constant(value: "1ms"),
                consume: (queue: "orders", concurrency: 4)),"#;

/// The key is drawn when the call starts, not per attempt: on a standard queue measuring order
/// the three copies of a call fall in one group, so no more groups receive messages than there
/// were calls (drawn per attempt from 100,000 keys, about three times as many would); on a
/// topic the copies land in one partition, so every partition holds a multiple of three.
#[test]
fn a_retried_publish_keeps_its_key() {
    let key = "key: (keys: Range(from: 0, count: 100000))";
    let step = format!("{key}, {RETRIED}");
    let r = run_text(
        &design(&step, r#"queues: [(name: "orders", groups: 4)]"#, "", 100.0),
        1,
    );
    let (q, f) = (queue(&r, "orders"), fifo(&r, "orders"));
    let n = calls(&r);
    assert!(n > 1_000, "{n} calls");
    assert_eq!(q.published, 3 * n, "every attempt stored");
    assert!(f.keyed && f.groups_used <= n, "{f:?} for {n} calls");
    // Collisions among n draws from 100,000 keys: about n^2 / 200,000, a few dozen.
    assert!(f.groups_used + 100 > n, "{f:?} for {n} calls");

    let r = run_text(
        &design(
            &step,
            r#"topics: [(name: "orders", partitions: 8, keys: 1000)]"#,
            "",
            100.0,
        ),
        1,
    );
    let t = topic(&r, "orders");
    assert_eq!(t.published.iter().sum::<u64>(), 3 * calls(&r));
    assert!(t.keyed);
    for (p, &n) in t.published.iter().enumerate() {
        assert_eq!(n % 3, 0, "partition {p}: {n} records, {:?}", t.published);
    }
}

/// One fixed key on a FIFO queue with 40 groups: one message group, so never more than one
/// message in flight over the whole queue (four pollers, batch 1) and none out of order; the
/// same queue without the key spreads the calls over its 40 groups and runs several at once.
/// With every publish retried twice, deduplication is on the call's identity, not the key:
/// each call's first copy is stored and its retries are not, so every call with the same key
/// is its own message, and all are delivered.
#[test]
fn a_fixed_key_orders_the_whole_fifo_queue_and_dedup_stays_on_identity() {
    let target = r#"queues: [(name: "orders", fifo: true, groups: 40)]"#;
    let step = format!("key: (keys: Set([\"k\"])), {RETRIED}");
    for seed in 1..=3 {
        let r = run_text(&design(&step, target, WORKER, 50.0), seed);
        let (q, f) = (queue(&r, "orders"), fifo(&r, "orders"));
        let n = calls(&r);
        assert!(n > 500, "{n} calls");
        assert_eq!(q.published, n, "seed {seed}: one message per call");
        assert_eq!(f.deduplicated_publishes, 2 * n, "seed {seed}");
        assert_eq!((f.groups_used, f.busiest_group_messages), (1, n));
        assert_eq!(
            (q.acked, q.processed, q.duplicates),
            (n, n, 0),
            "seed {seed}"
        );
        assert_eq!(f.out_of_order, 0);
        let most = q.series.windows.iter().map(|w| w.in_flight_max).max();
        assert_eq!(
            most,
            Some(1),
            "seed {seed}: one group, one message at a time"
        );

        let unkeyed = run_text(&design(RETRIED, target, WORKER, 50.0), seed);
        let most = queue(&unkeyed, "orders").series.windows.iter();
        assert!(most.map(|w| w.in_flight_max).max() > Some(1), "seed {seed}");
    }
}

/// The two-sided 99.9 % normal quantile with a Bonferroni correction over 8 partitions:
/// Phi^-1(1 - 0.001 / 16).
const Z_999_OVER_8: f64 = 3.8352;

/// Uniform keys `Range(0, 20)` over 8 partitions: partition p receives each record with the
/// share of the 20 keys that hash to it (2 or 3 of them), so its count is binomial; every
/// partition's count is within its 99.9 % interval (jointly, by Bonferroni). The same counts
/// judged against equal shares fail, so the test sees which keys hash where. One fixed key
/// sends every record to one partition.
#[test]
fn keyed_records_share_the_partitions_by_the_hash_of_their_keys() {
    let target = r#"topics: [(name: "orders", partitions: 8)]"#;
    let step = r#"timeout: "1s", key: (keys: Range(from: 0, count: 20))"#;
    let r = run_text(&design(step, target, "", 800.0), 1);
    let t = topic(&r, "orders");
    let n: u64 = t.published.iter().sum();
    assert!(n > 10_000, "{n}");
    let mut shares = [0.0f64; 8];
    for k in 0..20 {
        shares[partition_of(k, 8) as usize] += 1.0 / 20.0;
    }
    let within = |shares: &[f64; 8]| {
        t.published.iter().zip(shares).all(|(&c, &p)| {
            let mean = n as f64 * p;
            let half = Z_999_OVER_8 * (n as f64 * p * (1.0 - p)).sqrt();
            (c as f64 - mean).abs() <= half
        })
    };
    assert!(
        within(&shares),
        "{:?} against shares {shares:?}",
        t.published
    );
    assert!(
        !within(&[1.0 / 8.0; 8]),
        "20 keys do not share 8 partitions evenly: {:?}",
        t.published
    );

    let fixed = r#"timeout: "1s", key: (keys: Set(["k"]))"#;
    let r = run_text(&design(fixed, target, "", 100.0), 1);
    let t = topic(&r, "orders");
    let n: u64 = t.published.iter().sum();
    assert_eq!(t.published.iter().filter(|&&c| c > 0).count(), 1);
    assert!(t.published.contains(&n), "{:?}", t.published);
}

/// Zipf(1.1) over 20 keys on 4 partitions: a partition's expected share is the Zipf weight of
/// the keys hashing to it; the chi-square of the partition counts stays below the 99.9 % point
/// of chi-square with 3 degrees of freedom. Against uniform keys the same counts fail.
#[test]
fn zipf_keys_load_the_partitions_by_their_popularity() {
    let target = r#"topics: [(name: "orders", partitions: 4)]"#;
    let step = r#"timeout: "1s",
                  key: (keys: Range(from: 0, count: 20), popularity: Zipf(1.1))"#;
    let r = run_text(&design(step, target, "", 800.0), 2);
    let t = topic(&r, "orders");
    let n: u64 = t.published.iter().sum();
    let chi_square = |weight: &dyn Fn(u64) -> f64| {
        let mut expected = [0.0f64; 4];
        for k in 0..20u64 {
            expected[partition_of(k, 4) as usize] += weight(k);
        }
        let total: f64 = expected.iter().sum();
        assert!(
            expected.iter().all(|&e| e > 0.0),
            "every partition has keys"
        );
        t.published
            .iter()
            .zip(expected)
            .map(|(&c, e)| {
                let e = n as f64 * e / total;
                (c as f64 - e).powi(2) / e
            })
            .sum::<f64>()
    };
    let zipf = chi_square(&|k| 1.0 / (k as f64 + 1.0).powf(1.1));
    assert!(zipf < 16.27, "chi-square {zipf} over 3 degrees of freedom");
    let uniform = chi_square(&|_| 1.0);
    assert!(
        uniform > 100.0,
        "uniform keys cannot explain {:?}",
        t.published
    );
}

/// A write step's key is drawn when the record commits: an outbox relay's publishes and a
/// dual write's carry it, so one fixed key is one group for both.
#[test]
fn a_write_steps_records_carry_its_key() {
    for mode in ["DualWrite", "Outbox(poll: \"50ms\")"] {
        let step = format!("after_write: {mode}, key: (keys: Set([\"k\"])), timeout: \"1s\"");
        let target = r#"queues: [(name: "orders", fifo: true, groups: 40)]"#;
        let r = run_text(&design(&step, target, WORKER, 50.0), 1);
        let (q, f) = (queue(&r, "orders"), fifo(&r, "orders"));
        assert!(q.published > 500, "{mode}: {}", q.published);
        assert_eq!((f.groups_used, f.busiest_group_messages), (1, q.published));
        assert_eq!(f.out_of_order, 0);
    }
}

/// A keyed run repeats itself; the key's stream is its own.
#[test]
fn keyed_runs_repeat() {
    let step = r#"timeout: "1s", key: (keys: Range(from: 0, count: 100), popularity: Zipf(1.1))"#;
    let source = design(
        step,
        r#"queues: [(name: "orders", fifo: true)]"#,
        WORKER,
        100.0,
    );
    let (a, b) = (run_text(&source, 4), run_text(&source, 4));
    assert_eq!(a.outcome.fingerprint, b.outcome.fingerprint);
    assert_eq!(fifo(&a, "orders"), fifo(&b, "orders"));
}

/// Each bad key is reported at its place (file:line:column) with what was expected.
#[test]
fn bad_keys_are_placed() {
    let cases: [(&str, &str, &str, usize); 9] = [
        (
            r#"key: (keys: Set([-1]))"#,
            r#"queues: [(name: "orders", fifo: true)]"#,
            "expected a key: a whole number from 0 to 4294967295, or a string like \"k\"",
            7,
        ),
        (
            r#"key: (keys: Set([]))"#,
            r#"queues: [(name: "orders", fifo: true)]"#,
            "an empty set of keys; expected at least one",
            7,
        ),
        (
            r#"key: (keys: Set(["a", 3, "a"]))"#,
            r#"queues: [(name: "orders", fifo: true)]"#,
            "key \"a\" is in the set twice; expected distinct keys",
            7,
        ),
        (
            r#"key: (keys: Range(from: 0, count: 0))"#,
            r#"queues: [(name: "orders", fifo: true)]"#,
            "keys 0 to 0 (exclusive): expected a count of 1 to 1000000",
            7,
        ),
        (
            r#"key: (keys: Range(from: 4294967295, count: 2))"#,
            r#"queues: [(name: "orders", fifo: true)]"#,
            "expected a count of 1 to 1000000 ending by 4294967296",
            7,
        ),
        (
            r#"key: (keys: Set([1]), popularity: Zipf(0.0))"#,
            r#"queues: [(name: "orders", fifo: true)]"#,
            "Zipf(0): expected an exponent above 0 and at most 10",
            7,
        ),
        (
            r#"key: (keys: Set([1]))"#,
            r#"queues: [(name: "orders")]"#,
            "queue \"orders\" has neither: write `fifo: true` or `groups: N`",
            7,
        ),
        (
            r#"key: (keys: Set([1]), colour: 3)"#,
            r#"queues: [(name: "orders", fifo: true)]"#,
            "colour",
            7,
        ),
        (
            r#"key: (keys: Set([1])), write_time: "1ms""#,
            r#"queues: [(name: "orders", fifo: true)]"#,
            "write_time belongs with after_write",
            7,
        ),
    ];
    for (step, target, expected, line) in cases {
        let source = design(step, target, "", 10.0);
        let Err(e) = scenarios::load_str(Path::new("bad.ron"), &source) else {
            panic!("{step} loaded")
        };
        let e = e.to_string();
        assert!(
            e.contains(expected),
            "{step}: missing {expected:?} in:\n{e}"
        );
        assert!(
            e.lines()
                .any(|l| l.starts_with(&format!("bad.ron:{line}:"))),
            "{step}: not placed at line {line}:\n{e}"
        );
    }
}

/// A key anywhere but on a publish step is an error at its place.
#[test]
fn a_key_belongs_to_a_publish_step() {
    let source = r#"Scenario(
    version: 1,
    name: "key",
    duration: "1s",
    services: [
        Service(name: "api", workers: 10, service_time: Constant(value: "1ms"),
                calls: [(to: "db", key: (keys: Set(["k"])))]),
        Service(name: "web", workers: 10, service_time: Constant(value: "1ms"),
                calls: [(parallel: [(to: "db")], key: (keys: Set([1])))]),
        Service(name: "db", workers: 10, service_time: Constant(value: "1ms")),
    ],
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 1.0))],
)"#;
    let Err(e) = scenarios::load_str(Path::new("bad.ron"), source) else {
        panic!("loaded")
    };
    let e = e.to_string();
    for (line, expected) in [
        (7, "a message key belongs to a publish step"),
        (
            9,
            "a key belongs to one publish step, not to a parallel or routing step",
        ),
    ] {
        assert!(
            e.lines()
                .any(|l| l.starts_with(&format!("bad.ron:{line}:")) && l.contains(expected)),
            "missing {expected:?} at line {line} in:\n{e}"
        );
    }
}

fn library(name: &str, seed: u64) -> RunResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/library")
        .join(name);
    let loaded = scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// The hot-key pair shows what its comments say, on several seeds: under Zipf(1.1) one
/// customer's group holds about a fifth of the orders, more than one poller at a time can
/// ship, so the queue ends with hundreds waiting and its oldest order tens of seconds old;
/// with uniform keys no group holds more than a few percent and nothing waits.
#[test]
fn the_hot_key_pair_shows_what_its_comments_say() {
    for seed in [1, 2, 3] {
        let hot = library("queue-hot-key.ron", seed);
        let even = library("queue-hot-key-uniform.ron", seed);
        let (h, e) = (queue(&hot, "orders"), queue(&even, "orders"));
        let (hf, ef) = (fifo(&hot, "orders"), fifo(&even, "orders"));
        let share =
            |f: &FifoReport, q: &QueueReport| f.busiest_group_messages as f64 / q.published as f64;
        assert!((0.15..0.30).contains(&share(hf, h)), "seed {seed}: {hf:?}");
        assert!(share(ef, e) < 0.03, "seed {seed}: {ef:?}");
        assert!(
            h.backlog > 100 && h.oldest_age.as_secs_f64() > 10.0,
            "seed {seed}"
        );
        assert!(
            e.backlog < 10 && e.oldest_age.as_secs_f64() < 2.0,
            "seed {seed}"
        );
        assert_eq!((hf.out_of_order, ef.out_of_order), (0, 0));
        assert!(h.conserved() && e.conserved());
    }
}
