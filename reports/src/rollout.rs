//! What the rollouts did, for the JSON, text and Markdown reports: each rollout's timeline
//! (steps, weights, every analysis measurement with its value and verdict, the abort and
//! rollback or the completion), the attempts each version answered and failed, and the new
//! version's failures before the rollback. Nothing is written for a run without rollouts.

use std::fmt::Write as _;

use models::RunResult;
use models::ops::RolloutReport;
use models::ops::rollout::{Entry, Sample};
use serde_json::{Map, Value};

use crate::json::float;
use crate::phrases::seconds;

/// Timeline lines a text or Markdown report shows per rollout before it summarises.
const SHOWN: usize = 40;

fn sample_json(s: &Sample) -> Value {
    let mut m = Map::new();
    m.insert("requests".into(), Value::from(s.requests));
    m.insert("failed".into(), Value::from(s.failed));
    m.insert(
        "availability".into(),
        s.availability().map_or(Value::Null, |a| float(a, 6)),
    );
    m.insert(
        "p99_ms".into(),
        s.p99
            .map_or(Value::Null, |p| float(p.as_nanos() as f64 / 1e6, 3)),
    );
    Value::Object(m)
}

/// The `rollouts` object of the JSON report, by service; `None` without rollouts.
pub(crate) fn json(result: &RunResult) -> Option<Value> {
    if result.ops.rollouts.is_empty() {
        return None;
    }
    let mut all = Map::new();
    for r in &result.ops.rollouts {
        let mut m = Map::new();
        m.insert("strategy".into(), Value::from(r.strategy));
        m.insert("at_s".into(), float(r.at.as_secs_f64(), 3));
        m.insert("desired".into(), Value::from(r.desired));
        m.insert("phase".into(), Value::from(r.phase));
        let resources = own_resources(r);
        let versions = r.versions.iter().enumerate().map(|(k, v)| {
            let mut m = Map::new();
            m.insert("name".into(), Value::from(v.name.as_str()));
            m.insert("role".into(), Value::from(["stable", "new"][k]));
            if resources {
                m.insert("workers_per_replica".into(), Value::from(v.workers));
                m.insert("queue_per_replica".into(), Value::from(v.queue));
            }
            m.insert("requests".into(), Value::from(v.requests));
            m.insert("ok".into(), Value::from(v.requests - v.failed));
            m.insert("failed".into(), Value::from(v.failed));
            Value::Object(m)
        });
        m.insert("versions".into(), Value::Array(versions.collect()));
        m.insert(
            "failed_before_rollback".into(),
            Value::from(r.failed_before_rollback),
        );
        let weights = r.weights.iter().map(|&(at, weight, old, new)| {
            let mut w = Map::new();
            w.insert("at_s".into(), float(at.as_secs_f64(), 3));
            w.insert("weight".into(), float(weight, 3));
            w.insert("stable_ready".into(), Value::from(old));
            w.insert("new_ready".into(), Value::from(new));
            Value::Object(w)
        });
        m.insert("weights".into(), Value::Array(weights.collect()));
        let timeline = r.timeline.iter().map(|(at, e)| {
            let mut t = Map::new();
            t.insert("at_s".into(), float(at.as_secs_f64(), 3));
            match e {
                Entry::Started => {
                    t.insert("event".into(), Value::from("started"));
                }
                Entry::Weight { step, weight } => {
                    t.insert("event".into(), Value::from("set_weight"));
                    t.insert("step".into(), Value::from(*step));
                    t.insert("weight".into(), Value::from(*weight));
                }
                Entry::Pause { step, until } => {
                    t.insert("event".into(), Value::from("pause"));
                    t.insert("step".into(), Value::from(*step));
                    t.insert("until_s".into(), float(until.as_secs_f64(), 3));
                }
                Entry::Measurement {
                    new,
                    stable,
                    verdict,
                    failed,
                } => {
                    t.insert("event".into(), Value::from("measurement"));
                    t.insert("new".into(), sample_json(new));
                    t.insert("stable".into(), sample_json(stable));
                    t.insert("verdict".into(), Value::from(verdict.name()));
                    t.insert("failed_so_far".into(), Value::from(*failed));
                }
                Entry::Promoted => {
                    t.insert("event".into(), Value::from("promoted"));
                }
                Entry::Aborted { failed } => {
                    t.insert("event".into(), Value::from("aborted"));
                    t.insert("failed_measurements".into(), Value::from(*failed));
                }
                Entry::Completed => {
                    t.insert("event".into(), Value::from("completed"));
                }
            }
            Value::Object(t)
        });
        m.insert("timeline".into(), Value::Array(timeline.collect()));
        all.insert(r.service.clone(), Value::Object(m));
    }
    Some(Value::Object(all))
}

/// Whether the versions differ in their replicas' resources: only then are they shown.
fn own_resources(r: &RolloutReport) -> bool {
    let [a, b] = &r.versions;
    (a.workers, a.queue) != (b.workers, b.queue)
}

/// `per replica: v1 10 workers, queue 100; v2 20 workers, queue 50`, when they differ.
fn resources(r: &RolloutReport) -> Option<String> {
    let queue = |q: u32| {
        if q == models::config::ServiceConfig::UNBOUNDED {
            "unbounded".to_string()
        } else {
            q.to_string()
        }
    };
    own_resources(r).then(|| {
        let v: Vec<String> = r
            .versions
            .iter()
            .map(|v| format!("{} {} workers, queue {}", v.name, v.workers, queue(v.queue)))
            .collect();
        format!("per replica: {}", v.join("; "))
    })
}

/// `payments: canary of v2 over v1 from 60.0 s, 4 replicas: aborted`.
fn head(r: &RolloutReport) -> String {
    let strategy = match r.strategy {
        "rolling_update" => "rolling update",
        "blue_green" => "blue/green",
        _ => "canary",
    };
    format!(
        "{}: {strategy} of {} over {} from {}, {} replicas: {}",
        r.service,
        r.versions[1].name,
        r.versions[0].name,
        seconds(r.at.as_nanos()),
        r.desired,
        r.phase
    )
}

/// Per version: attempts, answered and failed; and the damage before the rollback.
fn totals(r: &RolloutReport) -> String {
    let v: Vec<String> = r
        .versions
        .iter()
        .map(|v| {
            format!(
                "{} {} attempts, {} ok, {} failed",
                v.name,
                v.requests,
                v.requests - v.failed,
                v.failed
            )
        })
        .collect();
    let damage = if r.phase == "aborted" {
        format!(
            "{} failed on {} before the rollback",
            r.failed_before_rollback, r.versions[1].name
        )
    } else {
        format!(
            "{} failed on {}",
            r.failed_before_rollback, r.versions[1].name
        )
    };
    format!("{}; {damage}", v.join("; "))
}

fn percent(s: &Sample) -> String {
    s.availability()
        .map_or("-".into(), |a| format!("{:.2} %", 100.0 * a))
}

/// One timeline line: `75.0 s: measurement v2 97.10 % (138 attempts), p99 12.3ms: failed`.
fn entry(r: &RolloutReport, at: sim_core::SimTime, e: &Entry) -> String {
    let when = seconds(at.as_nanos());
    let p99 = |s: &Sample| s.p99.map_or("-".into(), |p| seconds(p.as_nanos()));
    match e {
        Entry::Started => format!("{when}: started"),
        Entry::Weight { step, weight } => format!("{when}: step {step}: weight {weight} %"),
        Entry::Pause { step, until } => {
            format!(
                "{when}: step {step}: pause until {}",
                seconds(until.as_nanos())
            )
        }
        Entry::Measurement {
            new,
            stable,
            verdict,
            failed,
        } => format!(
            "{when}: measurement {} {} ({} attempts), p99 {} (stable {}, p99 {}): {} ({failed} failed so far)",
            r.versions[1].name,
            percent(new),
            new.requests,
            p99(new),
            percent(stable),
            p99(stable),
            verdict.name()
        ),
        Entry::Promoted => format!("{when}: promoted, all traffic on {}", r.versions[1].name),
        Entry::Aborted { failed } => format!(
            "{when}: aborted after {failed} failed measurements, traffic back on {}",
            r.versions[0].name
        ),
        Entry::Completed => format!("{when}: completed, {} scaled down", r.versions[0].name),
    }
}

/// The text report's `rollouts` section; empty without rollouts.
pub(crate) fn text(result: &RunResult) -> String {
    let mut out = String::new();
    if result.ops.rollouts.is_empty() {
        return out;
    }
    out.push_str("\nrollouts:\n");
    for r in &result.ops.rollouts {
        let _ = writeln!(out, "  {}", head(r));
        let _ = writeln!(out, "    {}", totals(r));
        if let Some(line) = resources(r) {
            let _ = writeln!(out, "    {line}");
        }
        for (at, e) in r.timeline.iter().take(SHOWN) {
            let _ = writeln!(out, "    {}", entry(r, *at, e));
        }
        if r.timeline.len() > SHOWN {
            let _ = writeln!(out, "    ... {} more", r.timeline.len() - SHOWN);
        }
    }
    out
}

/// The Markdown report's `Rollouts` section; empty without rollouts.
pub(crate) fn markdown(result: &RunResult, escape: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    if result.ops.rollouts.is_empty() {
        return out;
    }
    out.push_str("\n#### Rollouts\n\n");
    for r in &result.ops.rollouts {
        let _ = writeln!(out, "- **{}**; {}", escape(&head(r)), escape(&totals(r)));
        if let Some(line) = resources(r) {
            let _ = writeln!(out, "  - {}", escape(&line));
        }
        for (at, e) in r.timeline.iter().take(SHOWN) {
            let _ = writeln!(out, "  - {}", escape(&entry(r, *at, e)));
        }
        if r.timeline.len() > SHOWN {
            let _ = writeln!(out, "  - ... {} more", r.timeline.len() - SHOWN);
        }
    }
    out
}
