//! The versioned JSON document of a run.

use models::metrics::{FailureCause, Histogram, OutcomeStats};
use models::{ClientReport, EdgeReport, RunResult, ServiceReport};
use serde_json::{Map, Value};
use sim_core::SimDuration;

use crate::common::{amplification, finite, is_complete, round_to, utilisation_window};

/// Version of the layout of the JSON document; bumped on every incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Decimals kept for latencies in milliseconds (nanosecond precision).
const LATENCY_DECIMALS: i32 = 3;
/// Decimals kept for ratios: availability, utilisation, amplification.
const RATIO_DECIMALS: i32 = 6;
/// Decimals kept for simulated seconds (nanosecond precision).
const SECONDS_DECIMALS: i32 = 9;

/// The JSON document of a run, with schema [`SCHEMA_VERSION`].
///
/// Top-level keys: `faultline_version`, `schema_version`, `scenario`, `seed`, `fingerprint`,
/// `events`, `sim_duration_s`, `stop_reason`, `complete`, `services` (object by name),
/// `clients` (object by name) and `edges` (array in the order of the run's edges).
pub fn json(result: &RunResult) -> Value {
    let outcome = &result.outcome;
    let window = utilisation_window(result);

    let mut doc = Map::new();
    doc.insert(
        "faultline_version".into(),
        Value::from(env!("CARGO_PKG_VERSION")),
    );
    doc.insert("schema_version".into(), Value::from(SCHEMA_VERSION));
    doc.insert("scenario".into(), Value::from(result.scenario.as_str()));
    doc.insert("seed".into(), Value::from(result.seed));
    doc.insert(
        "fingerprint".into(),
        Value::from(outcome.fingerprint.to_string()),
    );
    doc.insert("events".into(), Value::from(outcome.events));
    doc.insert(
        "sim_duration_s".into(),
        float(outcome.now.as_secs_f64(), SECONDS_DECIMALS),
    );
    doc.insert("stop_reason".into(), Value::from(outcome.stop.as_str()));
    doc.insert("complete".into(), Value::from(is_complete(result)));

    let services: Map<String, Value> = result
        .services
        .iter()
        .map(|s| (s.name.clone(), service_json(s, window)))
        .collect();
    doc.insert("services".into(), Value::Object(services));

    let clients: Map<String, Value> = result
        .clients
        .iter()
        .map(|c| (c.name.clone(), client_json(c)))
        .collect();
    doc.insert("clients".into(), Value::Object(clients));

    let edges: Vec<Value> = result.edges.iter().map(edge_json).collect();
    doc.insert("edges".into(), Value::Array(edges));

    Value::Object(doc)
}

/// The JSON document of [`json`], pretty-printed, ending with a newline.
pub fn json_string(result: &RunResult) -> String {
    let mut out = serde_json::to_string_pretty(&json(result))
        .expect("a serde_json::Value with string keys always serialises");
    out.push('\n');
    out
}

/// A JSON number rounded to `decimals`; never NaN, infinite or negative zero.
pub(crate) fn float(x: f64, decimals: i32) -> Value {
    // Adding 0.0 turns -0.0 into 0.0, so a rounded tiny negative never prints as "-0.0".
    Value::from(finite(round_to(finite(x), decimals)) + 0.0)
}

fn ms(d: SimDuration) -> Value {
    float(d.as_millis_f64(), LATENCY_DECIMALS)
}

/// `{"p50", "p90", "p99", "p999", "mean", "max"}` in milliseconds.
fn latency_json(h: &Histogram) -> Value {
    let mut m = Map::new();
    m.insert("p50".into(), ms(h.quantile(0.5)));
    m.insert("p90".into(), ms(h.quantile(0.9)));
    m.insert("p99".into(), ms(h.quantile(0.99)));
    m.insert("p999".into(), ms(h.quantile(0.999)));
    m.insert("mean".into(), float(h.mean_ns() / 1e6, LATENCY_DECIMALS));
    m.insert("max".into(), ms(h.max()));
    Value::Object(m)
}

/// The keys shared by services and clients: counts, availability, causes and latency.
fn outcome_json(stats: &OutcomeStats) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("requests".into(), Value::from(stats.requests));
    m.insert("ok".into(), Value::from(stats.ok));
    m.insert("failed".into(), Value::from(stats.failed()));
    m.insert("in_flight".into(), Value::from(stats.in_flight()));
    m.insert(
        "availability".into(),
        float(stats.availability(), RATIO_DECIMALS),
    );
    let causes: Map<String, Value> = FailureCause::ALL
        .iter()
        .map(|&c| (c.as_str().to_owned(), Value::from(stats.failed_by(c))))
        .collect();
    m.insert("failed_by_cause".into(), Value::Object(causes));
    m.insert("latency_ms".into(), latency_json(&stats.latency));
    m
}

fn service_json(s: &ServiceReport, window: SimDuration) -> Value {
    let mut m = outcome_json(&s.stats);
    m.insert("wasted_work".into(), Value::from(s.wasted_work));
    m.insert("queue_max".into(), Value::from(s.queue_max));
    m.insert(
        "utilisation".into(),
        float(s.utilisation(window), RATIO_DECIMALS),
    );
    m.insert("workers".into(), Value::from(s.workers));
    m.insert("queue_capacity".into(), Value::from(s.queue_capacity));
    Value::Object(m)
}

fn client_json(c: &ClientReport) -> Value {
    let mut m = outcome_json(&c.stats);
    m.insert("attempts".into(), Value::from(c.attempts));
    m.insert("retries".into(), Value::from(c.retries));
    m.insert(
        "amplification".into(),
        float(amplification(c), RATIO_DECIMALS),
    );
    Value::Object(m)
}

fn edge_json(e: &EdgeReport) -> Value {
    let mut m = Map::new();
    m.insert("from".into(), Value::from(e.from.as_str()));
    m.insert("to".into(), Value::from(e.to.as_str()));
    m.insert("attempts".into(), Value::from(e.attempts));
    m.insert("retries".into(), Value::from(e.retries));
    m.insert("late_replies".into(), Value::from(e.late_replies));
    Value::Object(m)
}
