//! The sagas section of every format: per orchestrated saga, how its runs ended (completed,
//! compensated, left inconsistent), the compensations made and failed, the duplicated
//! executions of non-idempotent steps, the sagas still in flight at the end, and (with a saga
//! log) the sagas resumed from it after a crash. Present only when the scenario has sagas.

use models::RunResult;
use models::data::saga::SagaReport;
use serde_json::{Map, Value};

const HEADER: [&str; 10] = [
    "saga",
    "started",
    "completed",
    "compensated",
    "inconsistent",
    "in flight",
    "compensations",
    "comp. failed",
    "duplicates",
    "recovered",
];

/// The columns: `recovered` only when a saga has a log (the reports of scenarios without one
/// stay as they were).
fn header(result: &RunResult) -> &'static [&'static str] {
    if logged(result) {
        &HEADER
    } else {
        &HEADER[..9]
    }
}

fn logged(result: &RunResult) -> bool {
    result.sagas.iter().any(|r| r.recovered.is_some())
}

fn row(r: &SagaReport, logged: bool) -> Vec<String> {
    let s = &r.stats;
    let mut cells = vec![
        r.name.clone(),
        s.started.to_string(),
        s.completed.to_string(),
        s.compensated.to_string(),
        s.inconsistent.to_string(),
        r.in_flight.to_string(),
        r.compensations.to_string(),
        r.compensations_failed.to_string(),
        s.duplicates.to_string(),
    ];
    if logged {
        // A saga without a log in a scenario where another has one: nothing to recover.
        cells.push(r.recovered.map_or_else(|| "-".into(), |n| n.to_string()));
    }
    cells
}

fn rows(result: &RunResult) -> Vec<Vec<String>> {
    let logged = logged(result);
    result.sagas.iter().map(|r| row(r, logged)).collect()
}

/// The text section, after a blank line; nothing without sagas.
pub(crate) fn text(out: &mut String, result: &RunResult) {
    if result.sagas.is_empty() {
        return;
    }
    out.push('\n');
    crate::section::text_table(out, "", 1, header(result), &rows(result));
}

/// The Markdown section; nothing without sagas.
pub(crate) fn markdown(out: &mut String, result: &RunResult) {
    if result.sagas.is_empty() {
        return;
    }
    out.push_str("\n#### Sagas\n\n");
    crate::section::markdown_table(out, header(result), &rows(result));
}

/// The HTML section; nothing without sagas.
pub(crate) fn html(out: &mut String, result: &RunResult) {
    if result.sagas.is_empty() {
        return;
    }
    crate::section::html_table(out, "Sagas", header(result), &rows(result));
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
        if let Some(n) = r.recovered {
            m.insert("recovered".into(), Value::from(n));
        }
        all.insert(r.name.clone(), Value::Object(m));
    }
    Some(Value::Object(all))
}
