//! The sagas section of every format: per orchestrated saga, how its runs ended (completed,
//! compensated, left inconsistent), the compensations made and failed, the duplicated
//! executions of non-idempotent steps, and the sagas still in flight at the end. Present only
//! when the scenario has sagas.

use std::fmt::Write as _;

use models::RunResult;
use models::data::saga::SagaReport;
use serde_json::{Map, Value};

use crate::common::escape_markup;

const HEADER: [&str; 9] = [
    "saga",
    "started",
    "completed",
    "compensated",
    "inconsistent",
    "in flight",
    "compensations",
    "comp. failed",
    "duplicates",
];

fn row(r: &SagaReport) -> [String; 9] {
    let s = &r.stats;
    [
        r.name.clone(),
        s.started.to_string(),
        s.completed.to_string(),
        s.compensated.to_string(),
        s.inconsistent.to_string(),
        r.in_flight.to_string(),
        r.compensations.to_string(),
        r.compensations_failed.to_string(),
        s.duplicates.to_string(),
    ]
}

/// The text section, after a blank line; nothing without sagas.
pub(crate) fn text(out: &mut String, result: &RunResult) {
    if result.sagas.is_empty() {
        return;
    }
    let rows: Vec<[String; 9]> = result.sagas.iter().map(row).collect();
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
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
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

/// The Markdown section; nothing without sagas.
pub(crate) fn markdown(out: &mut String, result: &RunResult) {
    if result.sagas.is_empty() {
        return;
    }
    out.push_str("\n#### Sagas\n\n");
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "| --- |{}", " ---: |".repeat(HEADER.len() - 1));
    for r in &result.sagas {
        let cells: Vec<String> = row(r).iter().map(|c| crate::markdown::escape(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// The HTML section; nothing without sagas.
pub(crate) fn html(out: &mut String, result: &RunResult) {
    if result.sagas.is_empty() {
        return;
    }
    out.push_str("<h2>Sagas</h2>\n<table>\n<tr>");
    for h in HEADER {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr>\n");
    for r in &result.sagas {
        out.push_str("<tr>");
        for c in &row(r) {
            let _ = write!(out, "<td>{}</td>", escape_markup(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The JSON `sagas` object, by saga name; `None` without sagas (the key is then absent).
pub(crate) fn json(result: &RunResult) -> Option<Value> {
    if result.sagas.is_empty() {
        return None;
    }
    let mut all = Map::new();
    for r in &result.sagas {
        let s = &r.stats;
        let mut m = Map::new();
        m.insert("started".into(), Value::from(s.started));
        m.insert("completed".into(), Value::from(s.completed));
        m.insert("compensated".into(), Value::from(s.compensated));
        m.insert("inconsistent".into(), Value::from(s.inconsistent));
        m.insert("in_flight".into(), Value::from(r.in_flight));
        m.insert("compensations".into(), Value::from(r.compensations));
        m.insert(
            "compensations_failed".into(),
            Value::from(r.compensations_failed),
        );
        m.insert("duplicates".into(), Value::from(s.duplicates));
        all.insert(r.name.clone(), Value::Object(m));
    }
    Some(Value::Object(all))
}
