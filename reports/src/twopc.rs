//! The two-phase-commit section of every format: per 2PC endpoint, how its transactions ended
//! (committed, aborted, in flight at the end), how many were blocked by a crashed coordinator
//! and for how long, the prepares that waited for a lock another transaction held, and the
//! locks still held at the end. Present only when the scenario has two-phase commits.

use std::fmt::Write as _;

use models::RunResult;
use models::data::twopc::TwoPcReport;
use serde_json::{Map, Value};
use sim_core::SimDuration;

use crate::common::{escape_markup, fmt_ms};
use crate::json::float;

const HEADER: [&str; 11] = [
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
];

fn mean(total: SimDuration, n: u64) -> SimDuration {
    SimDuration::from_nanos(total.as_nanos().checked_div(n).unwrap_or(0))
}

fn row(r: &TwoPcReport) -> [String; 11] {
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
    ]
}

/// The text section, after a blank line; nothing without two-phase commits.
pub(crate) fn text(out: &mut String, result: &RunResult) {
    if result.two_phase.is_empty() {
        return;
    }
    let rows: Vec<[String; 11]> = result.two_phase.iter().map(row).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([HEADER[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = (cells.iter().zip(&widths).enumerate())
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        parts.join("  ")
    };
    out.push('\n');
    let _ = writeln!(out, "{}", line(HEADER.to_vec()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
}

/// The Markdown section; nothing without two-phase commits.
pub(crate) fn markdown(out: &mut String, result: &RunResult) {
    if result.two_phase.is_empty() {
        return;
    }
    out.push_str("\n#### Two-phase commits\n\n");
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "| --- |{}", " ---: |".repeat(HEADER.len() - 1));
    for r in &result.two_phase {
        let cells: Vec<String> = row(r).iter().map(|c| crate::markdown::escape(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// The HTML section; nothing without two-phase commits.
pub(crate) fn html(out: &mut String, result: &RunResult) {
    if result.two_phase.is_empty() {
        return;
    }
    out.push_str("<h2>Two-phase commits</h2>\n<table>\n<tr>");
    for h in HEADER {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr>\n");
    for r in &result.two_phase {
        out.push_str("<tr>");
        for c in &row(r) {
            let _ = write!(out, "<td>{}</td>", escape_markup(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
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
        all.insert(r.name.clone(), Value::Object(m));
    }
    Some(Value::Object(all))
}
