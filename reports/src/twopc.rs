//! The two-phase-commit section of every format: per 2PC endpoint, how its transactions ended
//! (committed, aborted, in flight at the end), how many were blocked (a crashed coordinator, a
//! decision that had to be sent again) and for how long, the prepares that waited for a lock
//! another transaction held, the locks still held at the end, and the decisions sent again
//! until acknowledged. Present only when the scenario has two-phase commits.

use models::RunResult;
use models::data::twopc::TwoPcReport;
use serde_json::{Map, Value};
use sim_core::SimDuration;

use crate::common::fmt_ms;
use crate::json::float;

const HEADER: [&str; 12] = [
    "2PC",
    "started",
    "committed",
    "aborted",
    "in flight",
    "blocked",
    "blocked max",
    "blocked mean",
    "lock waits",
    "wait max",
    "locks held",
    "resends",
];

fn mean(total: SimDuration, n: u64) -> SimDuration {
    SimDuration::from_nanos(total.as_nanos().checked_div(n).unwrap_or(0))
}

fn row(r: &TwoPcReport) -> [String; 12] {
    let s = &r.stats;
    [
        r.name.clone(),
        s.started.to_string(),
        s.committed.to_string(),
        s.aborted.to_string(),
        r.in_flight.to_string(),
        s.blocked.to_string(),
        fmt_ms(s.blocked_max.as_nanos()),
        fmt_ms(mean(s.blocked_total, s.blocked).as_nanos()),
        r.lock_waits.to_string(),
        fmt_ms(r.lock_wait_max.as_nanos()),
        r.locks_held.to_string(),
        s.decision_resends.to_string(),
    ]
}

/// The text section, after a blank line; nothing without two-phase commits.
pub(crate) fn text(out: &mut String, result: &RunResult) {
    if result.two_phase.is_empty() {
        return;
    }
    let rows: Vec<[String; 12]> = result.two_phase.iter().map(row).collect();
    out.push('\n');
    crate::section::text_table(out, "", 1, &HEADER, &rows);
}

/// The Markdown section; nothing without two-phase commits.
pub(crate) fn markdown(out: &mut String, result: &RunResult) {
    if result.two_phase.is_empty() {
        return;
    }
    out.push_str("\n#### Two-phase commits\n\n");
    let rows: Vec<[String; 12]> = result.two_phase.iter().map(row).collect();
    crate::section::markdown_table(out, &HEADER, &rows);
}

/// The HTML section; nothing without two-phase commits.
pub(crate) fn html(out: &mut String, result: &RunResult) {
    if result.two_phase.is_empty() {
        return;
    }
    let rows: Vec<[String; 12]> = result.two_phase.iter().map(row).collect();
    crate::section::html_table(out, "Two-phase commits", &HEADER, &rows);
}

fn secs(d: SimDuration) -> Value {
    float(d.as_secs_f64(), 9)
}

/// The JSON `two_phase` object, by endpoint name; `None` without two-phase commits (the key is
/// then absent).
pub(crate) fn json(result: &RunResult) -> Option<Value> {
    if result.two_phase.is_empty() {
        return None;
    }
    let mut all = Map::new();
    for r in &result.two_phase {
        let s = &r.stats;
        let mut m = Map::new();
        m.insert("started".into(), Value::from(s.started));
        m.insert("committed".into(), Value::from(s.committed));
        m.insert("aborted".into(), Value::from(s.aborted));
        m.insert("in_flight".into(), Value::from(r.in_flight));
        m.insert("blocked".into(), Value::from(s.blocked));
        m.insert("blocked_max_s".into(), secs(s.blocked_max));
        m.insert("blocked_total_s".into(), secs(s.blocked_total));
        m.insert(
            "blocked_mean_s".into(),
            secs(mean(s.blocked_total, s.blocked)),
        );
        m.insert("lock_waits".into(), Value::from(r.lock_waits));
        m.insert("lock_wait_max_s".into(), secs(r.lock_wait_max));
        m.insert("lock_wait_total_s".into(), secs(r.lock_wait_total));
        m.insert("locks_held".into(), Value::from(r.locks_held));
        m.insert("decision_resends".into(), Value::from(s.decision_resends));
        all.insert(r.name.clone(), Value::Object(m));
    }
    Some(Value::Object(all))
}
