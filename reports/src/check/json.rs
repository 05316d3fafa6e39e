//! `check --format json`: every verdict as one versioned JSON document, for tools that would
//! otherwise parse the text or the CSV (a dashboard, a bot commenting on a pull request).

use serde_json::{Map, Value, json};

use super::formats::tally;
use super::{ExpectationResult, ScenarioCheck};
use crate::common::round_to;

/// The version of the check document; it grows fields without a bump, renames bump it.
pub const CHECK_DOCUMENT_VERSION: u64 = 1;

/// A measured value in the expectation's unit, `null` for "never" (a recovery never seen).
fn value(v: f64) -> Value {
    if v.is_finite() {
        Value::from(round_to(v, 9))
    } else {
        Value::Null
    }
}

fn expectation(c: &ScenarioCheck, r: &ExpectationResult) -> Value {
    let baseline = c
        .regressions
        .iter()
        .find(|(label, _)| label == &r.label)
        .map(|&(_, base)| base);
    let per_seed: Vec<Value> = r
        .per_seed
        .iter()
        .map(|&(seed, v)| json!({"seed": seed, "value": value(v)}))
        .collect();
    json!({
        "label": r.label,
        "identity": r.identity,
        "verdict": if r.passed { "pass" } else { "fail" },
        "measured": value(r.measured),
        "unit": r.unit.trim(),
        "bound": r.bound,
        "worst_seed": r.worst_seed,
        "worst": value(r.worst),
        "failing_seeds": r.failing_seeds(),
        "per_seed": per_seed,
        "regressed": baseline.is_some(),
        "baseline": baseline.map_or(Value::Null, value),
        "replay": format!("{} --seed {}", c.replay, r.worst_seed),
    })
}

/// The document: per scenario (in the order given, with its file path) its seeds, every
/// expectation with its per-seed values, the runs a limit stopped, and the totals the text
/// report's closing line counts. Keys are sorted, so the bytes are reproducible.
pub fn json(checks: &[ScenarioCheck], paths: &[String]) -> String {
    let scenarios: Vec<Value> = checks
        .iter()
        .zip(paths)
        .map(|(c, path)| {
            let incomplete: Vec<Value> = c
                .incomplete
                .iter()
                .map(|r| json!({"seed": r.seed, "events": r.events, "stop": r.stop}))
                .collect();
            json!({
                "scenario": c.scenario,
                "path": path,
                "seeds": {"first": c.seeds.0, "last": c.seeds.1},
                "verdict": if c.failed() { "fail" } else { "pass" },
                "expectations": c.results.iter().map(|r| expectation(c, r)).collect::<Vec<_>>(),
                "incomplete_runs": incomplete,
                "incomplete_allowed": c.allow_incomplete,
            })
        })
        .collect();
    let (judged, failed) = tally(checks);
    let mut doc = Map::new();
    doc.insert(
        "faultline_check".into(),
        Value::from(CHECK_DOCUMENT_VERSION),
    );
    doc.insert("scenarios".into(), Value::Array(scenarios));
    doc.insert(
        "summary".into(),
        json!({"verdict": if failed == 0 { "pass" } else { "fail" }, "judged": judged, "met": judged - failed, "violated": failed}),
    );
    let mut out = serde_json::to_string_pretty(&Value::Object(doc))
        .expect("a serde_json::Value with string keys always serialises");
    out.push('\n');
    out
}
