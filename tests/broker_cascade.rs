//! Queues and consumer groups in the cascade analysis (issue 15): a slow consumer shows as a
//! queue's growing backlog, named in the fault's cascade, while the producer's requests all
//! succeed; consumers that are slower but keep up leave the queue healthy; and no queue or
//! group is ever judged degraded in a fault-free run of a library scenario with a broker
//! (except `queue-poison.ron`, whose queue degrades by design with no fault at all).

use std::path::{Path, PathBuf};

use models::{RunOptions, RunResult, World};
use reports::analysis::{EntityKind, Symptom};

fn library_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/library/{name}.ron"))
}

/// A library scenario's run, with its scripted faults removed when `faults` is false.
fn library(name: &str, seed: u64, faults: bool) -> RunResult {
    let mut loaded = scenarios::load(&library_path(name)).unwrap_or_else(|e| panic!("{e}"));
    if !faults {
        loaded.config.faults.clear();
    }
    World::new(&loaded.config, seed).run(RunOptions::default())
}

/// Reproduces a failure: the scenario and seed.
fn replay(name: &str, seed: u64) -> String {
    format!("faultline run scenarios/library/{name}.ron --seed {seed}")
}

#[test]
fn a_slow_consumer_shows_as_a_backlog_not_as_failed_requests() {
    for seed in 1..=6 {
        let r = library("queue-slow-consumer", seed, true);
        let a = reports::analyse(&r);
        let again = replay("queue-slow-consumer", seed);
        // The producer side sees nothing: every request succeeds, but for one the run's end
        // may catch on its way (its 3 ms trip can straddle the end).
        let shoppers = &r.clients[0];
        assert_eq!(shoppers.stats.failed(), 0, "{again}");
        assert!(shoppers.stats.in_flight() <= 1, "{again}");
        assert_eq!(
            shoppers.stats.ok + shoppers.stats.in_flight(),
            shoppers.stats.requests,
            "{again}"
        );
        let fault = &a.faults[0];
        for healthy in ["checkout", "shoppers", "broker"] {
            assert!(
                fault.cascade.iter().all(|s| s.name != healthy),
                "{healthy} is not hurt: {:?} ({again})",
                fault.cascade
            );
        }
        // The queue is: degraded from the fault's first seconds, through the consumer.
        let step = fault
            .cascade
            .iter()
            .find(|s| s.kind == EntityKind::Queue)
            .unwrap_or_else(|| panic!("the queue in the cascade ({again})"));
        assert_eq!(step.name, "orders");
        assert_eq!(step.symptom, Symptom::Backlog);
        assert_eq!(step.via.as_deref(), Some("broker -> fulfilment"), "{again}");
        assert!(
            (60.0..63.0).contains(&step.from.as_secs_f64()),
            "{:?} ({again})",
            step.from
        );
        assert!(a.blast_radius.contains(&"orders".to_owned()));
        let queue = a
            .entities
            .iter()
            .find(|e| e.kind == EntityKind::Queue)
            .expect("the queue's health");
        let objective = queue.backlog_objective.expect("derived before the fault");
        let iv = &queue.unhealthy[0];
        // 30 messages a second more than the slowed consumer takes, for a minute.
        assert!(
            iv.backlog_max > 1_000 && iv.backlog_max > 50 * objective,
            "{iv:?} against {objective} ({again})"
        );
        // Drained after the fault: 1,800 messages at 150 a second, about 12 s.
        let reports::analysis::Verdict::Recovered { at } = fault.verdict else {
            panic!("{:?} ({again})", fault.verdict);
        };
        assert!(
            (125.0..145.0).contains(&at.as_secs_f64()),
            "{at:?} ({again})"
        );
    }
}

#[test]
fn consumers_that_keep_up_leave_the_queue_healthy() {
    for seed in 1..=6 {
        let r = library("queue-slow-consumer-scaled", seed, true);
        let a = reports::analyse(&r);
        let again = replay("queue-slow-consumer-scaled", seed);
        let fault = &a.faults[0];
        // The consumer is slower (its latency is judged) but the queue does not grow.
        assert!(
            fault.cascade.iter().any(|s| s.name == "fulfilment"),
            "{again}"
        );
        assert!(
            fault.cascade.iter().all(|s| s.kind != EntityKind::Queue),
            "{:?} ({again})",
            fault.cascade
        );
        let queue = a
            .entities
            .iter()
            .find(|e| e.kind == EntityKind::Queue)
            .expect("the queue's health");
        assert!(
            queue.unhealthy.is_empty(),
            "{:?} ({again})",
            queue.unhealthy
        );
    }
}

/// Every library scenario with a broker.
fn broker_scenarios() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/library");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the library")
        .map(|e| e.expect("an entry").path())
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|text| text.contains("kind: Broker")))
        .map(|p| {
            p.file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn no_queue_or_group_degrades_without_a_fault() {
    let names = broker_scenarios();
    assert!(names.len() >= 12, "{names:?}");
    for name in &names {
        for seed in 1..=8 {
            let r = library(name, seed, false);
            let a = reports::analyse(&r);
            let degraded: Vec<_> = a
                .entities
                .iter()
                .filter(|e| matches!(e.kind, EntityKind::Queue | EntityKind::ConsumerGroup))
                .filter(|e| !e.unhealthy.is_empty())
                .map(|e| (e.name.as_str(), e.backlog_objective, &e.unhealthy))
                .collect();
            let again = format!("{} with its faults removed", replay(name, seed));
            if name == "queue-poison" {
                // Poison messages that come back forever crowd out the good ones: a failure
                // without a fault, and the analysis sees it.
                assert_eq!(degraded.len(), 1, "{again}");
                assert!(degraded[0].2[0].open_at_end, "{degraded:?} ({again})");
            } else {
                assert!(degraded.is_empty(), "{degraded:?} ({again})");
            }
        }
    }
}

#[test]
fn every_format_names_the_queue_in_the_cascade() {
    let r = library("queue-slow-consumer", 1, true);
    let a = reports::analyse(&r);
    let text = reports::text(&r, &a, false);
    assert!(
        text.contains("-> orders backlog from 60.0 s (via broker -> fulfilment)"),
        "{text}"
    );
    assert!(text.contains("blast radius: fulfilment, orders"), "{text}");
    let md = reports::markdown::markdown(&r, &a);
    assert!(
        md.contains("orders backlog from 60.0 s (via `broker -> fulfilment`)"),
        "{md}"
    );
    let json = reports::json_with(&r, &a);
    let step = &json["faults"][0]["cascade"][1];
    assert_eq!(step["kind"], "queue");
    assert_eq!(step["symptom"], "backlog");
    let health = &json["health"]["queues"]["orders"];
    assert!(health["backlog_objective"].as_u64().is_some_and(|n| n > 0));
    assert!(
        health["unhealthy"][0]["backlog_max"]
            .as_u64()
            .is_some_and(|n| n > 1_000)
    );
    let html = reports::html::html(&r, &a);
    assert!(
        html.contains("\nqueue orders\n</text>"),
        "the timeline's row"
    );
    assert!(html.contains("</span>backlog</li>"), "the legend's swatch");
    // Without a broker nothing of it appears.
    let plain = reports::json(
        &World::new(
            &scenarios::load(&library_path("checkout"))
                .unwrap_or_else(|e| panic!("{e}"))
                .config,
            1,
        )
        .run(RunOptions::default()),
    );
    assert!(plain["health"].get("queues").is_none());
    assert!(plain["health"].get("consumer_groups").is_none());
}

#[test]
fn a_crashed_group_member_shows_as_its_group_lag() {
    for seed in 1..=3 {
        let r = library("topic-commit-after", seed, true);
        let a = reports::analyse(&r);
        let step = a.faults[0]
            .cascade
            .iter()
            .find(|s| s.kind == EntityKind::ConsumerGroup)
            .unwrap_or_else(|| panic!("the group ({})", replay("topic-commit-after", seed)));
        assert_eq!(step.name, "orders/billing");
        assert_eq!(step.via.as_deref(), Some("broker -> billing"));
    }
}
