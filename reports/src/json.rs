//! The versioned JSON document of a run.

use models::config::ServiceConfig;
use models::metrics::{FailureCause, Histogram, OutcomeStats};
use models::{ClientReport, EdgeReport, RunResult, ServiceReport};
use serde_json::{Map, Value};
use sim_core::{SimDuration, SimTime};

use crate::analysis::{Analysis, EntityHealth, EntityKind, FaultImpact, Verdict, analyse};
use crate::common::{
    amplification, finite, is_complete, round_to, service_amplification, utilisation_window,
};

const UNBOUNDED: u32 = ServiceConfig::UNBOUNDED;

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
/// `events`, `sim_duration_s`, `stop_reason`, `complete`, `window_s` (`window_configured_s` beside it when the series were coarsened), `services` (object by
/// name), `clients` (object by name), `edges` (array in the order of the run's edges),
/// `health` (objectives and unhealthy intervals), `faults` (each with its cascade and verdict)
/// and `blast_radius`. See the README's "JSON report".
pub fn json(result: &RunResult) -> Value {
    json_with(result, &analyse(result))
}

/// [`json`] with an analysis already computed.
pub fn json_with(result: &RunResult, analysis: &Analysis) -> Value {
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
    doc.insert(
        "window_s".into(),
        float(result.window.as_secs_f64(), SECONDS_DECIMALS),
    );
    if result.window != result.window_configured {
        // Only in runs long enough to coarsen, so every other document stays as it was.
        doc.insert(
            "window_configured_s".into(),
            float(result.window_configured.as_secs_f64(), SECONDS_DECIMALS),
        );
    }

    let services: Map<String, Value> = result
        .services
        .iter()
        .map(|s| (s.name.clone(), service_json(result, s, window)))
        .collect();
    doc.insert("services".into(), Value::Object(services));

    let clients: Map<String, Value> = result
        .clients
        .iter()
        .map(|c| (c.name.clone(), client_json(c)))
        .collect();
    doc.insert("clients".into(), Value::Object(clients));

    let names = crate::common::edge_names(&result.edges);
    let edges: Vec<Value> = result
        .edges
        .iter()
        .zip(&names)
        .map(|(e, name)| edge_json(e, name))
        .collect();
    doc.insert("edges".into(), Value::Array(edges));

    let mut health = Map::new();
    for kind in [
        EntityKind::Service,
        EntityKind::Client,
        EntityKind::Edge,
        EntityKind::Queue,
        EntityKind::ConsumerGroup,
    ] {
        let entities: Map<String, Value> = analysis
            .entities
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| (e.name.clone(), health_json(e)))
            .collect();
        // Queues and groups appear only in runs that have them.
        let always = matches!(
            kind,
            EntityKind::Service | EntityKind::Client | EntityKind::Edge
        );
        if always || !entities.is_empty() {
            health.insert(format!("{}s", kind.as_str()), Value::Object(entities));
        }
    }
    doc.insert("health".into(), Value::Object(health));
    let faults: Vec<Value> = analysis.faults.iter().map(fault_json).collect();
    doc.insert("faults".into(), Value::Array(faults));
    let blast: Vec<Value> = analysis
        .blast_radius
        .iter()
        .map(|n| Value::from(n.as_str()))
        .collect();
    doc.insert("blast_radius".into(), Value::Array(blast));
    if let Some(autoscaling) = crate::ops::json(result) {
        doc.insert("autoscaling".into(), autoscaling);
    }
    if let Some(functions) = crate::serverless::json(result) {
        doc.insert("serverless".into(), functions);
    }
    if let Some(rollouts) = crate::rollout::json(result) {
        doc.insert("rollouts".into(), rollouts);
    }
    if let Some(stores) = crate::stores::json(result) {
        doc.insert("stores".into(), stores);
    }
    if let Some(sagas) = crate::sagas::json(result) {
        doc.insert("sagas".into(), sagas);
    }
    if let Some(two_phase) = crate::twopc::json(result) {
        doc.insert("two_phase".into(), two_phase);
    }
    if let Some(queues) = crate::broker::json(result) {
        doc.insert("queues".into(), queues);
    }
    if let Some(topics) = crate::topic::json(result) {
        doc.insert("topics".into(), topics);
    }
    if let Some(writes) = crate::outbox::json(result) {
        doc.insert("writes".into(), writes);
    }

    Value::Object(doc)
}

/// The JSON document of [`json`], pretty-printed, ending with a newline.
pub fn json_string(result: &RunResult) -> String {
    json_string_with(result, &analyse(result))
}

/// [`json_string`] with an analysis already computed.
pub fn json_string_with(result: &RunResult, analysis: &Analysis) -> String {
    let mut out = serde_json::to_string_pretty(&json_with(result, analysis))
        .expect("a serde_json::Value with string keys always serialises");
    out.push('\n');
    out
}

fn seconds(t: SimTime) -> Value {
    float(t.as_secs_f64(), SECONDS_DECIMALS)
}

fn duration_s(d: Option<SimDuration>) -> Value {
    d.map_or(Value::Null, |d| float(d.as_secs_f64(), SECONDS_DECIMALS))
}

fn health_json(e: &EntityHealth) -> Value {
    if matches!(e.kind, EntityKind::Queue | EntityKind::ConsumerGroup) {
        return backlog_health_json(e);
    }
    let mut m = Map::new();
    m.insert(
        "availability_objective".into(),
        float(e.availability_objective, RATIO_DECIMALS),
    );
    m.insert(
        "latency_ms_p99_objective".into(),
        e.latency_p99_objective.map_or(Value::Null, ms),
    );
    m.insert(
        "latency_objective".into(),
        Value::from(if e.latency_objective_set {
            "set"
        } else {
            "derived"
        }),
    );
    let intervals: Vec<Value> = e
        .unhealthy
        .iter()
        .map(|iv| {
            let mut i = Map::new();
            i.insert("from_s".into(), seconds(iv.from));
            i.insert("to_s".into(), seconds(iv.to));
            i.insert("symptom".into(), Value::from(iv.symptom.phrase()));
            i.insert(
                "availability_min".into(),
                float(iv.availability_min, RATIO_DECIMALS),
            );
            i.insert("latency_ms_p99_max".into(), ms(iv.latency_p99_max));
            i.insert("open_at_end".into(), Value::from(iv.open_at_end));
            Value::Object(i)
        })
        .collect();
    m.insert("unhealthy".into(), Value::Array(intervals));
    Value::Object(m)
}

/// A queue's or consumer group's objective and degraded intervals.
fn backlog_health_json(e: &EntityHealth) -> Value {
    let mut m = Map::new();
    m.insert(
        "backlog_objective".into(),
        e.backlog_objective.map_or(Value::Null, Value::from),
    );
    let intervals: Vec<Value> = e
        .unhealthy
        .iter()
        .map(|iv| {
            let mut i = Map::new();
            i.insert("from_s".into(), seconds(iv.from));
            i.insert("to_s".into(), seconds(iv.to));
            i.insert("symptom".into(), Value::from(iv.symptom.phrase()));
            i.insert("backlog_max".into(), Value::from(iv.backlog_max));
            i.insert("end_to_end_ms_p99_max".into(), ms(iv.latency_p99_max));
            i.insert("open_at_end".into(), Value::from(iv.open_at_end));
            Value::Object(i)
        })
        .collect();
    m.insert("unhealthy".into(), Value::Array(intervals));
    Value::Object(m)
}

fn fault_json(f: &FaultImpact) -> Value {
    let mut m = Map::new();
    m.insert("description".into(), Value::from(f.description.as_str()));
    m.insert("service".into(), Value::from(f.service.as_str()));
    let names = |v: &[String]| Value::Array(v.iter().map(|n| Value::from(n.as_str())).collect());
    m.insert("services".into(), names(&f.services));
    m.insert("clients".into(), names(&f.clients));
    m.insert("from_s".into(), seconds(f.from));
    m.insert("to_s".into(), seconds(f.to));
    let cascade: Vec<Value> = f
        .cascade
        .iter()
        .map(|step| {
            let mut c = Map::new();
            c.insert("kind".into(), Value::from(step.kind.as_str()));
            c.insert("name".into(), Value::from(step.name.as_str()));
            c.insert("from_s".into(), seconds(step.from));
            c.insert("symptom".into(), Value::from(step.symptom.phrase()));
            c.insert(
                "via".into(),
                step.via.as_deref().map_or(Value::Null, Value::from),
            );
            c.insert(
                "shared_with".into(),
                Value::Array(
                    step.shared_with
                        .iter()
                        .map(|d| Value::from(d.as_str()))
                        .collect(),
                ),
            );
            Value::Object(c)
        })
        .collect();
    m.insert("cascade".into(), Value::Array(cascade));
    m.insert("time_to_detect_s".into(), duration_s(f.time_to_detect));
    m.insert("time_to_recover_s".into(), duration_s(f.time_to_recover));
    m.insert("verdict".into(), Value::from(f.verdict.as_str()));
    let (recovered_at, sustained_by) = match &f.verdict {
        Verdict::Recovered { at } => (seconds(*at), Vec::new()),
        Verdict::DidNotRecover { sustained_by } => (Value::Null, sustained_by.clone()),
        _ => (Value::Null, Vec::new()),
    };
    m.insert("recovered_at_s".into(), recovered_at);
    m.insert("episodes".into(), episodes_json(f));
    m.insert(
        "sustained_by".into(),
        Value::Array(sustained_by.into_iter().map(Value::from).collect()),
    );
    Value::Object(m)
}

/// A chaos or leak fault's crash episodes, bounded: the counts by verdict, and the first
/// [`crate::phrases::EPISODES_LISTED`] episodes with an impact one by one (`null` for other faults).
fn episodes_json(f: &FaultImpact) -> Value {
    if f.episodes.is_empty() {
        return Value::Null;
    }
    let mut m = Map::new();
    m.insert("count".into(), Value::from(f.episodes.len()));
    let mut by_verdict = Map::new();
    for e in &f.episodes {
        let n = by_verdict
            .entry(e.verdict.as_str())
            .or_insert(Value::from(0u64));
        *n = Value::from(n.as_u64().unwrap_or(0) + 1);
    }
    m.insert("by_verdict".into(), Value::Object(by_verdict));
    let worst = f.episodes.iter().filter_map(|e| match e.verdict {
        Verdict::Recovered { .. } => e.time_to_recover,
        _ => None,
    });
    m.insert("time_to_recover_s_max".into(), duration_s(worst.max()));
    let (listed, _) = crate::text::episodes_listed(f);
    let listed: Vec<Value> = listed
        .iter()
        .map(|e| {
            let mut x = Map::new();
            x.insert("from_s".into(), seconds(e.from));
            x.insert("to_s".into(), e.to.map_or(Value::Null, seconds));
            let names = |v: Vec<&str>| Value::Array(v.into_iter().map(Value::from).collect());
            x.insert(
                "replicas".into(),
                names(e.replicas.iter().map(String::as_str).collect()),
            );
            x.insert(
                "cascade".into(),
                names(e.cascade.iter().map(|c| c.name.as_str()).collect()),
            );
            x.insert("verdict".into(), Value::from(e.verdict.as_str()));
            x.insert("time_to_recover_s".into(), duration_s(e.time_to_recover));
            Value::Object(x)
        })
        .collect();
    m.insert("with_impact".into(), Value::Array(listed));
    Value::Object(m)
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
    m.insert("degraded".into(), Value::from(stats.degraded));
    m.insert("cancelled".into(), Value::from(stats.cancelled));
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

fn service_json(result: &RunResult, s: &ServiceReport, window: SimDuration) -> Value {
    let mut m = outcome_json(&s.stats);
    m.insert(
        "amplification".into(),
        float(service_amplification(result, s), RATIO_DECIMALS),
    );
    m.insert("wasted_work".into(), Value::from(s.wasted_work));
    m.insert("queue_max".into(), Value::from(s.queue_max));
    m.insert(
        "utilisation".into(),
        float(s.utilisation(window), RATIO_DECIMALS),
    );
    m.insert(
        "work_utilisation".into(),
        float(s.work_utilisation(window), RATIO_DECIMALS),
    );
    // Totals over the replicas; the scenario's `workers` and `queue` are per replica.
    m.insert("workers".into(), Value::from(s.workers));
    m.insert(
        "workers_per_replica".into(),
        Value::from(s.workers_per_replica),
    );
    // An unbounded queue (`queue: Unbounded`) has no capacity: null.
    let capacity = |c: u32| (s.queue_per_replica != UNBOUNDED).then_some(c);
    m.insert(
        "queue_capacity".into(),
        Value::from(capacity(s.queue_capacity)),
    );
    m.insert(
        "queue_per_replica".into(),
        Value::from(capacity(s.queue_per_replica)),
    );
    m.insert(
        "duplicate_side_effects".into(),
        Value::from(s.duplicate_side_effects),
    );
    m.insert("deduplicated".into(), Value::from(s.deduplicated));
    m.insert("expired".into(), Value::from(s.expired));
    if let Some(reneged) = s.reneged {
        m.insert("reneged".into(), Value::from(reneged));
    }
    if let Some(waited) = s.backpressured {
        m.insert("backpressured".into(), Value::from(waited));
    }
    m.insert("writes".into(), Value::from(s.writes));
    m.insert("black_holed".into(), Value::from(s.black_holed));
    m.insert("replicas".into(), Value::from(s.replicas.len()));
    let per_replica: Vec<Value> = s
        .replicas
        .iter()
        .map(|i| {
            serde_json::json!({
                "host": i.host,
                "crashes": i.crashes,
                "down_s": float(i.down.as_secs_f64(), 9),
            })
        })
        .collect();
    // `instances` is the deprecated name of `per_replica`, kept for the scripts that read it.
    m.insert("instances".into(), Value::Array(per_replica.clone()));
    m.insert("per_replica".into(), Value::Array(per_replica));
    m.insert("write_conflicts".into(), Value::from(s.write_conflicts));
    if !s.endpoints.is_empty() {
        let endpoints: Map<String, Value> = s
            .endpoints
            .iter()
            .map(|e| (e.name.clone(), Value::Object(outcome_json(&e.stats))))
            .collect();
        m.insert("endpoints".into(), Value::Object(endpoints));
    }
    if !s.concurrency_limit.is_empty() {
        let windows = limit_windows(s, result.window, result.outcome.now);
        // The limit at the end of each window where it moved: one entry per window at most
        // (every change of a busy limit made this key megabytes long).
        let mut sampled = Vec::new();
        let mut before = s.concurrency_limit_initial;
        for w in &windows {
            if w.end != before {
                let at = float(w.to.as_secs_f64(), 9);
                sampled.push(serde_json::json!({"at_s": at, "limit": w.end}));
                before = w.end;
            }
        }
        m.insert("concurrency_limit".into(), Value::Array(sampled));
        let per_window: Vec<Value> = windows
            .iter()
            .map(|w| serde_json::json!({"min": w.min, "max": w.max, "end": w.end}))
            .collect();
        m.insert("concurrency_limit_windows".into(), Value::Array(per_window));
        m.insert(
            "concurrency_limit_initial".into(),
            Value::from(s.concurrency_limit_initial),
        );
        m.insert(
            "concurrency_limit_changes".into(),
            Value::from(s.concurrency_limit.len()),
        );
    }
    Value::Object(m)
}

/// The adaptive concurrency limit over one window: its lowest and highest value and the value
/// at the window's end.
struct LimitWindow {
    to: SimTime,
    min: u32,
    max: u32,
    end: u32,
}

/// The concurrency limit per window of `window` up to `end`, from its initial value and its
/// log of changes: as many entries as windows, however often it changed.
fn limit_windows(s: &ServiceReport, window: SimDuration, end: SimTime) -> Vec<LimitWindow> {
    let w = window.as_nanos();
    let count = end.as_nanos().div_ceil(w);
    let mut changes = s.concurrency_limit.iter().peekable();
    let mut limit = s.concurrency_limit_initial;
    let mut out = Vec::with_capacity(count as usize);
    for k in 0..count {
        let to = SimTime(((k + 1) * w).min(end.as_nanos()));
        let (mut min, mut max) = (limit, limit);
        while let Some(&&(t, l)) = changes.peek() {
            if t >= to {
                break;
            }
            changes.next();
            limit = l;
            min = min.min(l);
            max = max.max(l);
        }
        out.push(LimitWindow {
            to,
            min,
            max,
            end: limit,
        });
    }
    out
}

fn client_json(c: &ClientReport) -> Value {
    let mut m = outcome_json(&c.stats);
    m.insert("attempts".into(), Value::from(c.attempts));
    m.insert("retries".into(), Value::from(c.retries));
    m.insert(
        "amplification".into(),
        float(amplification(c), RATIO_DECIMALS),
    );
    let roots: Map<String, Value> = FailureCause::ALL
        .iter()
        .map(|&r| {
            let n = c.failed_by_root_cause[r as usize];
            (r.as_str().to_owned(), Value::from(n))
        })
        .collect();
    m.insert("failed_by_root_cause".into(), Value::Object(roots));
    Value::Object(m)
}

fn edge_json(e: &EdgeReport, name: &str) -> Value {
    let mut m = outcome_json(&e.stats);
    m.insert("name".into(), Value::from(name));
    m.insert("from".into(), Value::from(e.from.as_str()));
    if let Some(endpoint) = &e.from_endpoint {
        m.insert("from_endpoint".into(), Value::from(endpoint.as_str()));
    }
    m.insert("to".into(), Value::from(e.to.as_str()));
    m.insert("attempts".into(), Value::from(e.attempts));
    m.insert("retries".into(), Value::from(e.retries));
    m.insert("late_replies".into(), Value::from(e.late_replies));
    m.insert("hedges".into(), Value::from(e.hedges));
    m.insert("fallbacks".into(), Value::from(e.fallbacks));
    m.insert("retries_refused".into(), Value::from(e.retries_refused));
    m.insert("calls".into(), Value::Object(outcome_json(&e.calls)));
    m.insert("lost_messages".into(), Value::from(e.lost_messages));
    m.insert("ejections".into(), Value::from(e.ejections));
    let mut breakers = Vec::new();
    for b in &e.breakers {
        let transitions: Vec<Value> = b
            .transitions
            .iter()
            .map(|t| {
                serde_json::json!({
                    "at_s": float(t.at.as_secs_f64(), 9),
                    "from": t.from.name(),
                    "to": t.to.name(),
                    "failure_rate": t.failure_rate.map(|r| float(r, RATIO_DECIMALS)),
                    "slow_call_rate": t.slow_call_rate.map(|r| float(r, RATIO_DECIMALS)),
                })
            })
            .collect();
        breakers.push(serde_json::json!({
            // `instance` is the deprecated name of `replica`.
            "instance": b.replica,
            "replica": b.replica,
            "flavor": b.flavor,
            "not_permitted": b.not_permitted,
            "transitions": transitions,
        }));
    }
    if !breakers.is_empty() {
        m.insert("breakers".into(), Value::Array(breakers));
    }
    Value::Object(m)
}
