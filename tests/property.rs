//! A world-level property test: swarm-generated scenarios (random but valid RON over most of
//! the format, see `swarm/`) load without diagnostics, run without panicking (the world asserts
//! its own conservation of attempts, calls and client requests at the end), give identical
//! JSON reports and fingerprints when run twice with one seed (and a third time with tracing
//! on), render in every report format, and keep the books of every outcome counter:
//! `ok + failed + cancelled <= requests`, `degraded <= ok`, the windows sum to the totals.
//!
//! Swarm testing (TigerBeetle's VOPR): each case switches a random subset of the format's
//! features on, and a seed draws everything else; each service, client and fault draws from
//! its own stream, so switching a feature off while shrinking leaves the rest as it was. A
//! failure prints the scenario: save it as `case.ron` and run `faultline run case.ron --seed N`.
//! `PROPTEST_RNG_SEED=N` pins which cases run.
//!
//! It found a bug on its first day: a hedged copy handed a bulkhead permit carried on inside
//! its sibling's end, and a layer inside the bulkhead that refuses at once ended the call twice
//! (now a regression test in `tests/world.rs`).

mod swarm;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use models::metrics::OutcomeStats;
use models::{RunOptions, RunResult, World};
use proptest::prelude::*;
use swarm::{FEATURES, Swarm, scenario};

/// Sizes and features shrink towards fewer; the seeds draw the rest.
fn swarms() -> impl Strategy<Value = Swarm> {
    (
        any::<u64>(),
        0u64..1000,
        1usize..=4,
        1usize..=2,
        0usize..=4,
        proptest::collection::vec(any::<bool>(), FEATURES.len()),
    )
        .prop_map(|(seed, run_seed, services, clients, faults, on)| Swarm {
            seed,
            run_seed,
            services,
            clients,
            faults,
            features: FEATURES
                .iter()
                .zip(on)
                .filter(|(_, on)| *on)
                .map(|(f, _)| *f)
                .collect(),
        })
}

/// Runs the world, with or without a domain trace, turning a panic into an error that carries
/// its message.
fn run(config: &models::config::WorldConfig, seed: u64, traced: bool) -> Result<RunResult, String> {
    let options = RunOptions {
        // Tracing runs the handlers with their trace points; it must change nothing else.
        trace: traced.then(|| Box::new(|_: &models::TraceRecord| {}) as Box<_>),
        ..RunOptions::default()
    };
    catch_unwind(AssertUnwindSafe(|| World::new(config, seed).run(options)))
        .map_err(|payload| format!("the run panicked: {}", panic_message(payload.as_ref())))
}

/// Every report format renders the run without panicking.
fn render(r: &RunResult) -> Result<(), String> {
    let analysis = reports::analyse(r);
    catch_unwind(AssertUnwindSafe(|| {
        reports::text(r, &analysis, false);
        reports::markdown::markdown(r, &analysis);
        reports::html::html(r, &analysis);
        reports::csv::csv(r);
    }))
    .map_err(|payload| format!("a report panicked: {}", panic_message(payload.as_ref())))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The same run's fingerprint and JSON report, or where two runs differ.
fn same(what: &str, a: &RunResult, b: &RunResult) -> Result<(), String> {
    if a.outcome.fingerprint != b.outcome.fingerprint {
        return Err(format!(
            "{what}: fingerprints {:?} and {:?}",
            a.outcome.fingerprint, b.outcome.fingerprint
        ));
    }
    let (a, b) = (reports::json_string(a), reports::json_string(b));
    if let Some(line) = a.lines().zip(b.lines()).position(|(x, y)| x != y) {
        return Err(format!(
            "{what}: the JSON reports differ from line {}",
            line + 1
        ));
    }
    if a != b {
        return Err(format!("{what}: the JSON reports differ in length"));
    }
    Ok(())
}

/// The books of one outcome counter: nothing finished twice, windows summing to totals.
fn check_stats(what: &str, s: &OutcomeStats, windows: usize) -> Result<(), String> {
    if s.windows.len() != windows {
        return Err(format!(
            "{what}: {} windows for a run of {windows}",
            s.windows.len()
        ));
    }
    let finished = s.ok + s.failed() + s.cancelled;
    if finished > s.requests {
        return Err(format!(
            "{what}: ok {} + failed {} + cancelled {} > requests {}",
            s.ok,
            s.failed(),
            s.cancelled,
            s.requests
        ));
    }
    let in_flight = s.in_flight();
    if s.requests != s.ok + s.failed() + s.cancelled + in_flight {
        return Err(format!(
            "{what}: requests != ok + failed + cancelled + in flight"
        ));
    }
    if s.degraded > s.ok {
        return Err(format!("{what}: degraded {} > ok {}", s.degraded, s.ok));
    }
    if s.latency.count() != s.ok {
        return Err(format!(
            "{what}: {} latencies recorded for {} ok",
            s.latency.count(),
            s.ok
        ));
    }
    let ok: u64 = s.windows.iter().map(|w| w.ok).sum();
    let degraded: u64 = s.windows.iter().map(|w| w.degraded).sum();
    if (ok, degraded) != (s.ok, s.degraded) {
        return Err(format!(
            "{what}: windows sum to ok {ok}, degraded {degraded}; totals are {}, {}",
            s.ok, s.degraded
        ));
    }
    for (c, total) in s.failed_by_cause.iter().enumerate() {
        let sum: u64 = s.windows.iter().map(|w| w.failed_by_cause[c]).sum();
        if sum != *total {
            return Err(format!(
                "{what}: windows sum to {sum} failures of cause {c}; the total is {total}"
            ));
        }
    }
    if let Some(w) = s.windows.iter().position(|w| w.degraded > w.ok) {
        return Err(format!("{what}: window {w} has more degraded than ok"));
    }
    Ok(())
}

fn check_result(r: &RunResult) -> Result<(), String> {
    if r.outcome.events > r.max_events {
        return Err(format!(
            "{} events processed over a limit of {}",
            r.outcome.events, r.max_events
        ));
    }
    let windows = r.outcome.now.as_nanos().div_ceil(r.window.as_nanos()) as usize;
    for s in &r.services {
        check_stats(&format!("service {}", s.name), &s.stats, windows)?;
    }
    for c in &r.clients {
        check_stats(&format!("client {}", c.name), &c.stats, windows)?;
        if c.stats.cancelled != 0 {
            return Err(format!(
                "client {}: {} cancelled",
                c.name, c.stats.cancelled
            ));
        }
    }
    for e in &r.edges {
        check_stats(
            &format!("edge {} -> {} attempts", e.from, e.to),
            &e.stats,
            windows,
        )?;
        check_stats(
            &format!("edge {} -> {} calls", e.from, e.to),
            &e.calls,
            windows,
        )?;
        if e.fallbacks > e.calls.degraded {
            return Err(format!(
                "edge {} -> {}: {} fallbacks but {} degraded calls",
                e.from, e.to, e.fallbacks, e.calls.degraded
            ));
        }
    }
    Ok(())
}

/// Loads, runs three times (the third traced), compares, renders every report and checks the
/// books; an error says what went wrong.
fn check(text: &str, seed: u64) -> Result<(), String> {
    let loaded = scenarios::load_str(Path::new("case.ron"), text)
        .map_err(|e| format!("the scenario does not load:\n{e}"))?;
    let first = run(&loaded.config, seed, false)?;
    same("two runs", &first, &run(&loaded.config, seed, false)?)?;
    same(
        "a traced run and an untraced one",
        &first,
        &run(&loaded.config, seed, true)?,
    )?;
    render(&first)?;
    check_result(&first)
}

/// Checks a swarm's scenario; a failure carries the text and the command that reproduces it.
fn check_swarm(swarm: &Swarm) -> Result<(), String> {
    let text = scenario(swarm);
    check(&text, swarm.run_seed).map_err(|e| {
        format!(
            "{e}\n--- save as case.ron, then `faultline run case.ron --seed {}` ---\n{text}",
            swarm.run_seed
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_scenarios_load_run_twice_identically_and_keep_their_books(swarm in swarms()) {
        if let Err(e) = check_swarm(&swarm) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Every feature at once, on a few seeds: the generator itself stays valid at its widest.
#[test]
fn every_feature_at_once() {
    for seed in 0..8 {
        let swarm = Swarm {
            seed,
            run_seed: seed,
            services: 4,
            clients: 2,
            faults: 4,
            features: FEATURES.to_vec(),
        };
        check_swarm(&swarm).unwrap_or_else(|e| panic!("{e}"));
    }
}
