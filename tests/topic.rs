//! Topics and consumer groups (issue 15) end to end: conservation per partition over seeds,
//! commit modes and faults; order per partition; no duplicates or losses without a fault; a
//! crash with commit-after processing exactly its uncommitted records again, and with
//! commit-before losing records instead; keys hashed to partitions; the rebalances counted;
//! bad input placed in the file.

use std::path::Path;

use models::topic::{GroupReport, PartitionReport};
use models::{RunOptions, RunResult, World};

fn run_text(text: &str, seed: u64) -> RunResult {
    let loaded =
        scenarios::load_str(Path::new("topic.ron"), text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn library(name: &str, seed: u64) -> RunResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/library/{name}.ron"));
    let loaded = scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
    World::new(&loaded.config, seed).run(RunOptions::default())
}

fn group(r: &RunResult) -> &GroupReport {
    &r.topics[0].groups[0]
}

/// A producer, a broker with one topic and a consumer group, with `extra` spliced into the
/// group's `subscribe` and `faults` as the faults.
fn scenario(partitions: u32, keys: &str, subscribe: &str, faults: &str) -> String {
    format!(
        r#"Scenario(
    version: 1,
    name: "topic",
    duration: "60s",
    services: [
        Service(name: "producer", workers: 50, service_time: Constant(value: "1ms"),
                calls: [(publish: "events", timeout: "500ms")]),
        Service(name: "broker", kind: Broker, workers: 100, service_time: Constant(value: "1ms"),
                topics: [(name: "events", partitions: {partitions}{keys})]),
        Service(name: "reader", replicas: 3, workers: 1, service_time: Exponential(mean: "12ms"),
                subscribe: (topic: "events"{subscribe})),
    ],
    clients: [Client(name: "load", to: "producer", arrivals: Poisson(rate_per_s: 150.0))],
    faults: [{faults}],
)"#
    )
}

const CRASHES: &str = r#"Crash(target: Replica(service: "reader", index: 1), at: "10s", restart_after: "15s"),
        Crash(target: Replica(service: "reader", index: 2), at: "20s", restart_after: "10s")"#;

fn brief(p: &PartitionReport) -> String {
    format!("{p:?}")
}

#[test]
fn records_are_conserved_and_ordered_per_partition_over_seeds_modes_and_faults() {
    for commit in ["After", "Before"] {
        for faults in ["", CRASHES] {
            for seed in 1..=6 {
                let subscribe =
                    format!(", commit: {commit}, max_poll_records: 50, session_timeout: \"3s\"");
                let r = run_text(&scenario(4, ", keys: 500", &subscribe, faults), seed);
                let g = group(&r);
                assert_eq!(g.partitions.len(), 4);
                let published: u64 = r.topics[0].published.iter().sum();
                assert!(published > 5_000, "{published}");
                for (i, p) in g.partitions.iter().enumerate() {
                    let at = format!(
                        "{commit} seed {seed} faults {}: p{i} {}",
                        !faults.is_empty(),
                        brief(p)
                    );
                    assert!(p.conserved(), "{at}");
                    assert_eq!(p.published, r.topics[0].published[i], "{at}");
                    assert_eq!(p.out_of_order, 0, "order kept: {at}");
                    assert!(p.committed <= p.published, "{at}");
                    if commit == "After" {
                        assert_eq!(p.lost, 0, "at-least-once loses nothing: {at}");
                        assert_eq!(p.duplicates, p.redelivered, "{at}");
                    } else {
                        assert_eq!(p.duplicates, 0, "at-most-once repeats nothing: {at}");
                        assert_eq!(p.redelivered, 0, "{at}");
                    }
                    if faults.is_empty() {
                        assert_eq!((p.duplicates, p.lost), (0, 0), "no fault, no repeat: {at}");
                        assert!(p.lag <= 60, "a healthy group keeps up: {at}");
                    }
                }
                let rebalances = if faults.is_empty() { 0 } else { 4 };
                assert_eq!(g.rebalances, rebalances, "{commit} seed {seed}");
            }
        }
    }
}

#[test]
fn a_crash_with_commit_after_processes_its_uncommitted_records_again() {
    let (mut duplicates, mut lost) = (0, 0);
    for seed in 1..=5 {
        let after = library("topic-commit-after", seed);
        let g = group(&after);
        let redelivered = g.total(|p| p.redelivered);
        // Every record processed and not committed when its member crashed came again, and
        // the run is long enough for the survivors to reach it.
        assert_eq!(g.total(|p| p.duplicates), redelivered, "seed {seed}");
        assert_eq!(g.total(|p| p.lost), 0, "seed {seed}");
        duplicates += redelivered;
        let before = library("topic-commit-before", seed);
        let g = group(&before);
        assert_eq!(g.total(|p| p.duplicates), 0, "seed {seed}");
        lost += g.total(|p| p.lost);
        assert!(g.partitions.iter().all(PartitionReport::conserved));
    }
    assert!(duplicates > 0, "the crashes hit batches in progress");
    assert!(lost > 0, "at-most-once loses the batches in progress");
}

#[test]
fn the_lag_spikes_while_a_member_is_unnoticed_and_recovers() {
    let r = library("topic-commit-after", 1);
    let g = group(&r);
    let window = r.window.as_secs_f64();
    let lag_at = |t: f64| g.series.windows[(t / window) as usize].backlog_max;
    assert!(lag_at(20.0) < 50, "before the crash: {}", lag_at(20.0));
    let peak = g
        .series
        .windows
        .iter()
        .map(|w| w.backlog_max)
        .max()
        .unwrap();
    assert!(peak > 500, "the crash's lag spike: {peak}");
    assert!(g.total(|p| p.lag) < 50, "recovered by the end");
    assert_eq!(g.rebalances, 4, "two leaves and two joins");
    assert!(g.rebalancing.as_secs_f64() >= 12.0);
}

#[test]
fn one_key_goes_to_one_partition_and_no_key_goes_round_robin() {
    let r = run_text(&scenario(4, ", keys: 1", "", ""), 3);
    let busy: Vec<u64> = r.topics[0].published.clone();
    assert_eq!(busy.iter().filter(|&&n| n > 0).count(), 1, "{busy:?}");
    let r = run_text(&scenario(4, "", "", ""), 3);
    let p = &r.topics[0].published;
    let (min, max) = (p.iter().min().unwrap(), p.iter().max().unwrap());
    assert!(max - min <= 1, "round-robin: {p:?}");
}

#[test]
fn same_seed_same_topics() {
    let text = scenario(5, ", keys: 50", ", commit: Before", CRASHES);
    assert_eq!(run_text(&text, 9).topics, run_text(&text, 9).topics);
}

#[test]
fn bad_topics_are_placed_in_the_file() {
    let bad = scenario(0, "", "", "").replace(r#"topic: "events""#, r#"topic: "evnts""#);
    let err = scenarios::load_str(Path::new("topic.ron"), &bad)
        .map(|_| ())
        .expect_err("an error")
        .to_string();
    assert!(err.contains("partitions; expected 1 to"), "{err}");
    assert!(
        err.contains(r#"unknown topic "evnts"; expected one of: events"#),
        "{err}"
    );
    assert!(err.starts_with("topic.ron:"), "{err}");
    let both = scenario(2, "", "", "").replace(
        r#"topics: [(name: "events""#,
        r#"queues: [(name: "events")], topics: [(name: "events""#,
    );
    let err = scenarios::load_str(Path::new("topic.ron"), &both)
        .map(|_| ())
        .expect_err("an error")
        .to_string();
    assert!(
        err.contains(r#"duplicate topic or queue name "events""#),
        "{err}"
    );
}

#[test]
fn every_format_shows_the_topics_only_when_there_are_some() {
    let r = library("topic-commit-after", 1);
    let analysis = reports::analyse(&r);
    let csv = reports::csv::csv(&r);
    assert!(csv.contains(reports::TOPIC_HEADER), "the lag series in CSV");
    assert!(csv.contains(",topic,orders,billing,"));
    let html = reports::html::html(&r, &analysis);
    assert!(html.contains("Consumer lag"));
    let text = reports::text(&r, &analysis, false);
    assert!(text.contains("orders/billing"), "{text}");
    let md = reports::markdown::markdown(&r, &analysis);
    assert!(md.contains("#### Topics"));
    let json = reports::json(&r);
    assert_eq!(
        json["topics"]["orders"]["groups"]["billing"]["conserved"],
        true
    );
    // The rates are the counts over the simulated time (180 s), to their three decimals.
    let billing = &json["topics"]["orders"]["groups"]["billing"];
    let seconds = r.outcome.now.as_secs_f64();
    let published = billing["published"].as_f64().expect("a count");
    let rate = billing["publish_rate_per_s"].as_f64().expect("a rate");
    assert!(
        (rate * seconds - published).abs() < seconds * 0.001,
        "{rate} x {seconds}"
    );
    let fetched: u64 = r.topics[0].groups[0]
        .series
        .windows
        .iter()
        .map(|w| w.received)
        .sum();
    let delivery = billing["delivery_rate_per_s"].as_f64().expect("a rate");
    assert!(
        fetched as f64 >= published
            && (delivery * seconds - fetched as f64).abs() < seconds * 0.001
    );
    let plain = library("queue-poison", 1);
    assert!(!reports::csv::csv(&plain).contains(",topic,"));
    assert!(reports::json(&plain).get("topics").is_none());
}

#[test]
fn a_group_s_oldest_uncommitted_record_bounds_what_it_processed() {
    // With commit after processing, a record stays uncommitted from its publish until at least
    // the end of its processing, so the oldest uncommitted record's age at its largest is never
    // below an end-to-end latency (duplicates included: a redelivered record was uncommitted
    // all along).
    for seed in 1..=3 {
        let r = library("topic-commit-after", seed);
        let g = group(&r);
        let oldest_max = g.series.windows.iter().map(|w| w.oldest_age_ns_max).max();
        let e2e_max = g.end_to_end.latency.max().as_nanos();
        assert!(e2e_max > 0, "seed {seed}: nothing processed");
        assert!(
            oldest_max.unwrap_or(0) >= e2e_max,
            "seed {seed}: oldest {oldest_max:?} ns < end-to-end max {e2e_max} ns"
        );
        assert!(g.oldest_age.as_nanos() <= r.outcome.now.as_nanos());
    }
    // A group that keeps up without a fault: nothing waits long, and nothing is left at the end
    // but what is still being processed. Its busiest reader takes two of the four partitions,
    // 75 records a second at 12 ms each (load 0.9): as an M/M/1 queue its wait exceeds t with
    // probability 0.9 e^(-8.3 t), so the longest of its ~4,500 records waits about 1 s, and
    // 2 s is exceeded with probability about 2e-4.
    let r = run_text(&scenario(4, "", "", ""), 1);
    let g = group(&r);
    let oldest_max = g.series.windows.iter().map(|w| w.oldest_age_ns_max).max();
    let e2e_max = g.end_to_end.latency.max().as_nanos();
    let oldest_max = oldest_max.unwrap_or(0);
    assert!(
        oldest_max >= e2e_max && oldest_max < 2_000_000_000,
        "oldest {oldest_max} ns, end-to-end max {e2e_max} ns"
    );
    assert!(
        g.oldest_age.as_nanos() < 1_000_000_000,
        "{:?}",
        g.oldest_age
    );
}
