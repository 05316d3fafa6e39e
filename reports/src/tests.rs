//! Tests of the report formats on a real run.

use models::RunResult;
use serde_json::Value;
use sim_core::{SimDuration, StopReason};

use crate::common::{fmt_ms, round_to};
use crate::json::float;
use crate::{json, json_string, text};

use super::*;
use models::config::{
    Arrivals, Backoff, CallConfig, CallPolicy, ClientConfig, Execution, NetworkConfig, Objective,
    Retry, ServiceConfig, ServiceId, WorldConfig,
};
use models::{RunOptions, World};
use sim_core::Distribution;

pub(crate) fn service(name: &str, workers: u32, queue: u32, mean_ms: u64) -> ServiceConfig {
    ServiceConfig {
        name: name.into(),
        workers,
        queue,
        service_time: Distribution::exponential(SimDuration::from_millis(mean_ms))
            .expect("valid mean"),
        error_rate: 0.01,
        execution: Execution::ThreadPerRequest,
        calls: vec![],
        objective: Objective::default(),
        kind: models::config::ServiceKind::Worker,
        idempotent: true,
        idempotency_keys: false,
        propagate_deadline: false,
        abandonment: models::config::Abandonment::AtDequeue,
        backpressure: false,
        inbound: Default::default(),
        replicas: vec![0],
        lb: models::lb::LbPolicy::RoundRobin,
        health: Default::default(),
        endpoint_name: "default".into(),
        endpoints: Vec::new(),
        max_throughput_per_s: None,
    }
}

/// front -> back with a timeout and retries, so that every column has something in it.
pub(crate) fn config(max_events: u64) -> WorldConfig {
    let mut front = service("front", 4, 8, 2);
    front.calls = vec![CallConfig {
        to: ServiceId(1),
        endpoint: 0,
        probability: 1.0,
        group: None,
        publish: None,
        policy: CallPolicy {
            timeout: Some(sim_core::Distribution::Constant(SimDuration::from_millis(
                15,
            ))),
            retry: Some(Retry {
                max_attempts: 2,
                backoff: Backoff::Constant(SimDuration::from_millis(1)),
                retry_on: models::config::Causes::ALL,
                budget: None,
            }),
            ..CallPolicy::default()
        },
    }];
    WorldConfig {
        name: "tiny".into(),
        duration: SimDuration::from_secs(2),
        services: vec![front, service("back", 2, 4, 6)],
        clients: vec![ClientConfig {
            name: "users".into(),
            host: 0,
            requests: Vec::new(),
            profile: Vec::new(),
            to: ServiceId(0),
            arrivals: Arrivals::Poisson { rate_per_s: 200.0 },
            policy: CallPolicy::default(),
            objective: Objective::default(),
        }],
        network: NetworkConfig {
            latency: Distribution::Constant(SimDuration::from_micros(500)),
            ..NetworkConfig::default()
        },
        faults: vec![],
        window: SimDuration::SECOND,
        max_events,
        memory_limit_bytes: u64::MAX,
        topology: Default::default(),
        clocks: Vec::new(),
        ops: Default::default(),
        stores: Vec::new(),
        brokers: Default::default(),
        sagas: Vec::new(),
        two_phase: Vec::new(),
    }
}

fn run(seed: u64) -> RunResult {
    World::new(&config(u64::MAX), seed).run(RunOptions::default())
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, key| {
        v.get(key)
            .unwrap_or_else(|| panic!("missing key {key:?} of {path:?}"))
    })
}

/// Keys whose value may be `null` on purpose (nothing to report); anywhere else a `null` would
/// be a NaN or infinity that serde_json wrote as `null`.
const MAY_BE_NULL: [&str; 5] = [
    "time_to_detect_s",
    "time_to_recover_s",
    "recovered_at_s",
    "latency_ms_p99_objective",
    "via",
];

fn all_numbers_finite(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        Value::Null => false,
        Value::Array(a) => a.iter().all(all_numbers_finite),
        Value::Object(o) => o.iter().all(|(k, v)| {
            (v.is_null() && MAY_BE_NULL.contains(&k.as_str())) || all_numbers_finite(v)
        }),
        Value::Bool(_) | Value::String(_) => true,
    }
}

#[test]
fn json_has_the_contract_keys() {
    let r = run(1);
    let doc = json(&r);
    for key in [
        "faultline_version",
        "schema_version",
        "scenario",
        "seed",
        "fingerprint",
        "events",
        "sim_duration_s",
        "stop_reason",
        "complete",
        "services",
        "clients",
        "edges",
    ] {
        get(&doc, key);
    }
    assert_eq!(doc["faultline_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["schema_version"], SCHEMA_VERSION);
    assert_eq!(doc["scenario"], "tiny");
    assert_eq!(doc["seed"], 1);
    assert_eq!(doc["stop_reason"], "end_time");
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["sim_duration_s"], 2.0);
    assert_eq!(doc["events"], r.outcome.events);
    let fp = doc["fingerprint"].as_str().expect("a string");
    assert_eq!(fp.len(), 16);
    assert!(fp.chars().all(|c| c.is_ascii_hexdigit()));

    for name in ["front", "back"] {
        for key in [
            "requests",
            "ok",
            "failed",
            "in_flight",
            "availability",
            "failed_by_cause.timeout",
            "failed_by_cause.rejected",
            "failed_by_cause.error",
            "failed_by_cause.dependency",
            "latency_ms.p50",
            "latency_ms.p90",
            "latency_ms.p99",
            "latency_ms.p999",
            "latency_ms.mean",
            "latency_ms.max",
            "wasted_work",
            "queue_max",
            "utilisation",
            "workers",
            "queue_capacity",
        ] {
            get(&doc, &format!("services.{name}.{key}"));
        }
    }
    for key in [
        "requests",
        "ok",
        "failed",
        "in_flight",
        "availability",
        "failed_by_cause.timeout",
        "latency_ms.p999",
        "attempts",
        "retries",
        "amplification",
    ] {
        get(&doc, &format!("clients.users.{key}"));
    }
    let edges = doc["edges"].as_array().expect("an array");
    assert_eq!(edges.len(), r.edges.len());
    for (e, report) in edges.iter().zip(&r.edges) {
        assert_eq!(e["from"], report.from.as_str());
        assert_eq!(e["to"], report.to.as_str());
        assert_eq!(e["attempts"], report.attempts);
        assert_eq!(e["retries"], report.retries);
        assert_eq!(e["late_replies"], report.late_replies);
    }
    assert!(all_numbers_finite(&doc));
}

#[test]
fn json_is_deterministic_per_seed() {
    let a = json_string(&run(7));
    let b = json_string(&run(7));
    assert_eq!(a, b);
    assert!(a.ends_with("}\n"));
    let other = json(&run(8));
    let same: Value = serde_json::from_str(&a).expect("valid JSON");
    assert_ne!(same["fingerprint"], other["fingerprint"]);
    assert_eq!(
        text(&run(7), &crate::analysis::analyse(&run(7)), false),
        text(&run(7), &crate::analysis::analyse(&run(7)), false)
    );
}

#[test]
fn requests_are_ok_failed_or_in_flight() {
    let r = run(3);
    let doc = json(&r);
    let n = |v: &Value, key: &str| v[key].as_u64().expect("an integer");
    let targets = doc["services"]
        .as_object()
        .expect("an object")
        .values()
        .chain(doc["clients"].as_object().expect("an object").values());
    let mut seen = 0;
    for t in targets {
        seen += 1;
        assert!(n(t, "requests") > 0);
        assert_eq!(
            n(t, "requests"),
            n(t, "ok") + n(t, "failed") + n(t, "in_flight")
        );
        let by_cause: u64 = ["timeout", "rejected", "error", "dependency"]
            .iter()
            .map(|c| n(&t["failed_by_cause"], c))
            .sum();
        assert_eq!(by_cause, n(t, "failed"));
    }
    assert_eq!(seen, 3);
    let users = &doc["clients"]["users"];
    let ampl = users["amplification"].as_f64().expect("a float");
    assert!((1.0..1.1).contains(&ampl), "amplification {ampl}");
}

#[test]
fn floats_are_rounded() {
    let r = run(1);
    let doc = json(&r);
    let is_rounded = |x: f64, decimals: i32| {
        let scaled = x * 10f64.powi(decimals);
        (scaled - scaled.round()).abs() < 1e-6
    };
    for name in ["front", "back"] {
        let s = &doc["services"][name];
        for (_, v) in s["latency_ms"].as_object().expect("an object") {
            assert!(is_rounded(v.as_f64().expect("a float"), 3), "{v}");
        }
        let u = s["utilisation"].as_f64().expect("a float");
        assert!(u > 0.0 && u < 1.0 && is_rounded(u, 6), "utilisation {u}");
    }
    assert_eq!(round_to(1.23456789, 3), 1.235);
    assert_eq!(round_to(0.9999996, 6), 1.0);
    assert_eq!(float(f64::NAN, 3), Value::from(0.0));
    assert_eq!(float(f64::INFINITY, 3), Value::from(0.0));
    assert_eq!(float(-1e-9, 3).to_string(), "0.0");
    assert_eq!(fmt_ms(12_345_499), "12.345ms");
    assert_eq!(fmt_ms(12_345_500), "12.346ms");
    assert_eq!(fmt_ms(0), "0.000ms");
}

#[test]
fn text_names_the_run_and_fits_the_terminal() {
    let r = run(1);
    let t = text(&r, &crate::analysis::analyse(&r), false);
    assert!(t.contains("scenario tiny"), "{t}");
    assert!(t.contains(&r.outcome.fingerprint.to_string()), "{t}");
    assert!(t.contains("\nclients "), "{t}");
    assert!(t.contains("\nservices "), "{t}");
    assert!(t.contains("\nfailures "), "{t}");
    assert!(t.contains("  client:users -> front: attempts "), "{t}");
    assert!(t.contains("  front -> back: attempts "), "{t}");
    assert!(!t.contains("warning"), "{t}");
    for line in t.lines() {
        assert!(line.chars().count() <= 100, "too wide: {line}");
        assert_eq!(line, line.trim_end(), "trailing space: {line:?}");
    }
}

#[test]
fn a_partial_run_says_so() {
    let r = World::new(&config(500), 1).run(RunOptions::default());
    assert_eq!(r.outcome.stop, StopReason::MaxEvents);
    let doc = json(&r);
    assert_eq!(doc["complete"], false);
    assert_eq!(doc["stop_reason"], "max_events");
    let covered = doc["sim_duration_s"].as_f64().expect("a float");
    assert!(covered > 0.0 && covered < 2.0, "covered {covered}");
    // Utilisation is over the covered time, not the configured two seconds.
    let busy = r.services[0].busy_ns() as f64;
    let expected = busy / (4.0 * r.outcome.now.as_nanos() as f64);
    let u = doc["services"]["front"]["utilisation"]
        .as_f64()
        .expect("a float");
    assert!((u - expected).abs() < 1e-6, "{u} vs {expected}");
    assert!(all_numbers_finite(&doc));
    let t = text(&r, &crate::analysis::analyse(&r), false);
    assert!(
        t.contains("warning: stopped at the event limit (500 events) at "),
        "{t}"
    );
    assert!(t.contains("; this report is partial\n"), "{t}");
}
