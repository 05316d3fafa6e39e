//! The sagas section of every format: per orchestrated saga, how its runs ended (completed,
//! compensated, left inconsistent), the compensations made and failed, the duplicated
//! executions of non-idempotent steps, and the sagas still in flight at the end. Present only
//! when the scenario has sagas.

use models::RunResult;
use models::data::saga::SagaReport;
use serde_json::{Map, Value};

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
    out.push('\n');
    crate::section::text_table(out, "", 1, &HEADER, &rows);
}

/// The Markdown section; nothing without sagas.
pub(crate) fn markdown(out: &mut String, result: &RunResult) {
    if result.sagas.is_empty() {
        return;
    }
    out.push_str("\n#### Sagas\n\n");
    let rows: Vec<[String; 9]> = result.sagas.iter().map(row).collect();
    crate::section::markdown_table(out, &HEADER, &rows);
}

/// The HTML section; nothing without sagas.
pub(crate) fn html(out: &mut String, result: &RunResult) {
    if result.sagas.is_empty() {
        return;
    }
    let rows: Vec<[String; 9]> = result.sagas.iter().map(row).collect();
    crate::section::html_table(out, "Sagas", &HEADER, &rows);
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
