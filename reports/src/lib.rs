//! faultline's reports: a terminal summary and the versioned JSON document of a run.
//!
//! Both are pure functions of a [`RunResult`], so the same run always gives byte-identical
//! output: the JSON holds only `serde_json::Map` objects (sorted keys), every float is rounded
//! to a fixed number of decimals and nothing depends on the wall clock.

use std::fmt::Write as _;

use models::metrics::{FailureCause, Histogram, OutcomeStats};
use models::{ClientReport, EdgeReport, RunResult, ServiceReport};
use serde_json::{Map, Value};
use sim_core::{SimDuration, SimTime, StopReason};

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

/// A plain-text summary for a terminal: a header, a clients table, a services table, the
/// services' failures by cause and the call edges. No colour, fixed precision, columns aligned
/// to their widest cell.
pub fn text(result: &RunResult) -> String {
    let outcome = &result.outcome;
    let window = utilisation_window(result);
    let mut out = String::new();

    let _ = writeln!(
        out,
        "faultline {} · scenario {} · seed {}",
        env!("CARGO_PKG_VERSION"),
        result.scenario,
        result.seed
    );
    let _ = writeln!(
        out,
        "simulated {} in {} events · fingerprint {}",
        outcome.now, outcome.events, outcome.fingerprint
    );
    if !is_complete(result) {
        let _ = writeln!(
            out,
            "warning: stopped at the event limit ({} events) at {}; this report is partial",
            result.max_events, outcome.now
        );
    }

    out.push('\n');
    let mut clients = Table::new([
        "clients", "requests", "ok", "failed", "avail %", "p50", "p99", "p999", "mean", "retries",
        "ampl",
    ]);
    for c in &result.clients {
        let s = &c.stats;
        let h = &s.latency;
        clients.row([
            c.name.clone(),
            s.requests.to_string(),
            s.ok.to_string(),
            s.failed().to_string(),
            percent(s.availability()),
            latency(h, h.quantile(0.5)),
            latency(h, h.quantile(0.99)),
            latency(h, h.quantile(0.999)),
            mean_latency(h),
            c.retries.to_string(),
            format!("{:.3}", finite(amplification(c))),
        ]);
    }
    clients.render(&mut out);

    out.push('\n');
    let mut services = Table::new([
        "services", "requests", "ok", "failed", "avail %", "p50", "p99", "max", "util %", "queue",
        "wasted",
    ]);
    for s in &result.services {
        let st = &s.stats;
        let h = &st.latency;
        services.row([
            s.name.clone(),
            st.requests.to_string(),
            st.ok.to_string(),
            st.failed().to_string(),
            percent(st.availability()),
            latency(h, h.quantile(0.5)),
            latency(h, h.quantile(0.99)),
            latency(h, h.max()),
            percent(s.utilisation(window)),
            format!("{}/{}", s.queue_max, s.queue_capacity),
            s.wasted_work.to_string(),
        ]);
    }
    services.render(&mut out);

    out.push('\n');
    let mut failures = Table::new([
        "failures",
        FailureCause::ALL[0].as_str(),
        FailureCause::ALL[1].as_str(),
        FailureCause::ALL[2].as_str(),
        FailureCause::ALL[3].as_str(),
        "in flight",
    ]);
    for s in &result.services {
        let st = &s.stats;
        failures.row([
            s.name.clone(),
            st.failed_by(FailureCause::ALL[0]).to_string(),
            st.failed_by(FailureCause::ALL[1]).to_string(),
            st.failed_by(FailureCause::ALL[2]).to_string(),
            st.failed_by(FailureCause::ALL[3]).to_string(),
            st.in_flight().to_string(),
        ]);
    }
    failures.render(&mut out);

    out.push('\n');
    if result.edges.is_empty() {
        out.push_str("edges: none\n");
    } else {
        out.push_str("edges:\n");
        for e in &result.edges {
            let _ = writeln!(
                out,
                "  {} -> {}: attempts {}, retries {}, late replies {}",
                e.from, e.to, e.attempts, e.retries, e.late_replies
            );
        }
    }
    out
}

/// Rounds `x` to `decimals` decimal places (half away from zero).
fn round_to(x: f64, decimals: i32) -> f64 {
    (x * 10f64.powi(decimals)).round() / 10f64.powi(decimals)
}

/// `x`, or 0 if it is NaN or infinite.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A JSON number rounded to `decimals`; never NaN, infinite or negative zero.
fn float(x: f64, decimals: i32) -> Value {
    // Adding 0.0 turns -0.0 into 0.0, so a rounded tiny negative never prints as "-0.0".
    Value::from(finite(round_to(finite(x), decimals)) + 0.0)
}

/// Whether the run covered its whole duration (it did not hit the event limit).
fn is_complete(result: &RunResult) -> bool {
    result.outcome.stop != StopReason::MaxEvents
}

/// The span utilisation is measured over: the configured duration, or the simulated time
/// actually covered if the run stopped before the end and covered some time.
fn utilisation_window(result: &RunResult) -> SimDuration {
    let covered = result.outcome.now.saturating_since(SimTime::ZERO);
    if covered > SimDuration::ZERO && covered < result.duration {
        covered
    } else {
        result.duration
    }
}

/// Attempts per logical request; 0 when there were no requests.
fn amplification(c: &ClientReport) -> f64 {
    if c.stats.requests == 0 {
        0.0
    } else {
        c.attempts as f64 / c.stats.requests as f64
    }
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

/// A duration in milliseconds with three decimals, rounded to the nearest microsecond with
/// integer arithmetic: `12.345ms`.
fn fmt_ms(ns: u64) -> String {
    let us = ns / 1_000 + u64::from(ns % 1_000 >= 500);
    format!("{}.{:03}ms", us / 1_000, us % 1_000)
}

/// A latency of `h`, or `-` if it recorded nothing.
fn latency(h: &Histogram, d: SimDuration) -> String {
    if h.count() == 0 {
        "-".into()
    } else {
        fmt_ms(d.as_nanos())
    }
}

fn mean_latency(h: &Histogram) -> String {
    if h.count() == 0 {
        "-".into()
    } else {
        // `as` saturates and maps NaN to 0; the mean is finite and non-negative anyway.
        fmt_ms(finite(h.mean_ns()).round() as u64)
    }
}

/// A ratio as a percentage with three decimals: `99.313`.
fn percent(ratio: f64) -> String {
    format!("{:.3}", finite(ratio * 100.0) + 0.0)
}

/// A text table: the first column left-aligned, the others right-aligned, each as wide as its
/// widest cell, separated by two spaces.
struct Table<const N: usize> {
    header: [String; N],
    rows: Vec<[String; N]>,
}

impl<const N: usize> Table<N> {
    fn new(header: [&str; N]) -> Self {
        Table {
            header: header.map(str::to_owned),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let mut widths = [0usize; N];
        for cells in std::iter::once(&self.header).chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(cells) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for cells in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, &w)) in cells.iter().zip(&widths).enumerate() {
                if i == 0 {
                    let _ = write!(line, "{cell:<w$}");
                } else {
                    let _ = write!(line, "  {cell:>w$}");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::config::{
        Arrivals, Backoff, CallConfig, CallPolicy, ClientConfig, Execution, NetworkConfig, Retry,
        ServiceConfig, ServiceId, WorldConfig,
    };
    use models::{RunOptions, World};
    use sim_core::Distribution;

    fn service(name: &str, workers: u32, queue: u32, mean_ms: u64) -> ServiceConfig {
        ServiceConfig {
            name: name.into(),
            workers,
            queue,
            service_time: Distribution::exponential(SimDuration::from_millis(mean_ms))
                .expect("valid mean"),
            error_rate: 0.01,
            execution: Execution::ThreadPerRequest,
            calls: vec![],
        }
    }

    /// front -> back with a timeout and retries, so that every column has something in it.
    fn config(max_events: u64) -> WorldConfig {
        let mut front = service("front", 4, 8, 2);
        front.calls = vec![CallConfig {
            to: ServiceId(1),
            policy: CallPolicy {
                timeout: Some(SimDuration::from_millis(15)),
                retry: Some(Retry {
                    max_attempts: 2,
                    backoff: Backoff::Constant(SimDuration::from_millis(1)),
                }),
            },
        }];
        WorldConfig {
            name: "tiny".into(),
            duration: SimDuration::from_secs(2),
            services: vec![front, service("back", 2, 4, 6)],
            clients: vec![ClientConfig {
                name: "users".into(),
                to: ServiceId(0),
                arrivals: Arrivals::Poisson { rate_per_s: 200.0 },
                policy: CallPolicy::default(),
            }],
            network: NetworkConfig {
                latency: Distribution::Constant(SimDuration::from_micros(500)),
            },
            faults: vec![],
            window: SimDuration::SECOND,
            max_events,
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

    fn all_numbers_finite(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
            Value::Null => false,
            Value::Array(a) => a.iter().all(all_numbers_finite),
            Value::Object(o) => o.values().all(all_numbers_finite),
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
        assert_eq!(text(&run(7)), text(&run(7)));
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
        let t = text(&r);
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
        let t = text(&r);
        assert!(
            t.contains("warning: stopped at the event limit (500 events) at "),
            "{t}"
        );
        assert!(t.contains("; this report is partial\n"), "{t}");
    }
}
