//! What the operations did, for the JSON, text and Markdown reports: each autoscaler's replicas
//! over time, its decisions with their reasons, the time under- and over-provisioned and the
//! replica-hours paid. Nothing is written for a run without autoscalers. (Mid-run changes are
//! reported as faults of kind `change`, by the analysis.)

use std::fmt::Write as _;

use models::RunResult;
use models::ops::AutoscaleReport;
use models::ops::hpa::Decision;
use serde_json::{Map, Value};

use crate::json::float;
use crate::phrases::seconds;

/// Scaling decisions a text or Markdown report lists per autoscaler before it summarises.
const SHOWN: usize = 12;

/// The `autoscaling` object of the JSON report, by service; `None` without autoscalers.
pub(crate) fn json(result: &RunResult) -> Option<Value> {
    if result.ops.autoscalers.is_empty() {
        return None;
    }
    let mut all = Map::new();
    for a in &result.ops.autoscalers {
        let mut m = Map::new();
        m.insert("flavor".into(), Value::from(a.flavor));
        m.insert("metric".into(), Value::from(a.metric));
        m.insert("target".into(), float(a.target, 4));
        m.insert("min".into(), Value::from(a.min));
        m.insert("max".into(), Value::from(a.max));
        m.insert("replica_seconds".into(), float(a.replica_seconds, 3));
        m.insert("replica_hours".into(), float(a.replica_seconds / 3600.0, 4));
        m.insert(
            "under_provisioned_s".into(),
            float(a.under_provisioned.as_secs_f64(), 3),
        );
        m.insert(
            "over_provisioned_s".into(),
            float(a.over_provisioned.as_secs_f64(), 3),
        );
        let replicas = a.replicas.iter().map(|&(at, ready, paid)| {
            let mut r = Map::new();
            r.insert("at_s".into(), float(at.as_secs_f64(), 3));
            r.insert("ready".into(), Value::from(ready));
            r.insert("paid".into(), Value::from(paid));
            Value::Object(r)
        });
        m.insert("replicas".into(), Value::Array(replicas.collect()));
        let decisions = a.decisions.iter().map(|d| {
            let mut r = Map::new();
            r.insert("at_s".into(), float(d.at.as_secs_f64(), 3));
            r.insert("current".into(), Value::from(d.current));
            r.insert("ready".into(), Value::from(d.ready));
            r.insert("metric".into(), float(d.metric, 4));
            r.insert("recommended".into(), Value::from(d.recommended));
            r.insert("desired".into(), Value::from(d.desired));
            r.insert("reason".into(), Value::from(d.reason));
            Value::Object(r)
        });
        m.insert("decisions".into(), Value::Array(decisions.collect()));
        m.insert("decisions_dropped".into(), Value::from(a.decisions_dropped));
        all.insert(a.service.clone(), Value::Object(m));
    }
    Some(Value::Object(all))
}

/// `api (kubernetes HPA, utilisation target 0.6, 2 to 12 replicas)`.
fn head(a: &AutoscaleReport) -> String {
    let flavor = match a.flavor {
        "kubernetes" => "Kubernetes HPA",
        _ => "target tracking",
    };
    format!(
        "{} ({flavor}, {} target {}, {} to {} replicas)",
        a.service, a.metric, a.target, a.min, a.max
    )
}

/// `replicas 2 at the start, 9 at the peak, 2 at the end; 1.234 replica-hours`, and the time
/// under- and over-provisioned.
fn summary(a: &AutoscaleReport) -> (String, String) {
    let first = a.replicas.first().map_or(0, |r| r.2);
    let peak = a.replicas.iter().map(|r| r.2).max().unwrap_or(0);
    let last = a.replicas.last().map_or(0, |r| r.2);
    (
        format!(
            "replicas {first} at the start, {peak} at the peak, {last} at the end; {:.3} \
             replica-hours",
            a.replica_seconds / 3600.0
        ),
        format!(
            "under-provisioned {}, over-provisioned {}",
            seconds(a.under_provisioned.as_nanos()),
            seconds(a.over_provisioned.as_nanos())
        ),
    )
}

/// The decisions that changed the count.
fn scalings(a: &AutoscaleReport) -> Vec<&Decision> {
    a.decisions
        .iter()
        .filter(|d| d.desired != d.current)
        .collect()
}

/// `135.0 s: 2 -> 4 (metric 0.98): metric above target`.
fn decision(d: &Decision) -> String {
    format!(
        "{}: {} -> {} ({} ready, metric {:.3}): {}",
        seconds(d.at.as_nanos()),
        d.current,
        d.desired,
        d.ready,
        d.metric,
        d.reason
    )
}

/// The text report's `autoscaling` section; empty without autoscalers.
pub(crate) fn text(result: &RunResult) -> String {
    let mut out = String::new();
    if result.ops.autoscalers.is_empty() {
        return out;
    }
    out.push_str("\nautoscaling:\n");
    for a in &result.ops.autoscalers {
        let _ = writeln!(out, "  {}", head(a));
        let (counts, provisioning) = summary(a);
        let _ = writeln!(out, "    {counts}");
        let _ = writeln!(out, "    {provisioning}");
        let shown = scalings(a);
        for d in shown.iter().take(SHOWN) {
            let _ = writeln!(out, "    {}", decision(d));
        }
        if shown.len() > SHOWN {
            let _ = writeln!(out, "    ... {} more scalings", shown.len() - SHOWN);
        }
        let held = a.decisions.len() - shown.len();
        if held > 0 {
            let _ = writeln!(
                out,
                "    {held} syncs held the count against the formula (stabilization, limits, \
                 bounds)"
            );
        }
    }
    out
}

/// The Markdown report's `Autoscaling` section; empty without autoscalers.
pub(crate) fn markdown(result: &RunResult, escape: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    if result.ops.autoscalers.is_empty() {
        return out;
    }
    out.push_str("\n#### Autoscaling\n\n");
    for a in &result.ops.autoscalers {
        let (counts, provisioning) = summary(a);
        let _ = writeln!(
            out,
            "- **{}**: {}; {}",
            escape(&head(a)),
            escape(&counts),
            escape(&provisioning)
        );
        let shown = scalings(a);
        for d in shown.iter().take(SHOWN) {
            let line = escape(&decision(d)).replacen(" -\\> ", " → ", 1);
            let _ = writeln!(out, "  - {line}");
        }
        if shown.len() > SHOWN {
            let _ = writeln!(out, "  - ... {} more scalings", shown.len() - SHOWN);
        }
    }
    out
}
