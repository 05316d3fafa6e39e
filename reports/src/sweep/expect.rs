//! The scenario's expectations judged at every point of a sweep. Each run keeps its values
//! (one per expectation) and the definition keeps how each expectation is judged, so a merge of
//! shards judges the points exactly as the unsharded sweep does, without the scenario.

use std::fmt::Write as _;

use scenarios::spec::Over;
use serde_json::{Map, Value};

use super::{Definition, Document};
use crate::check::{Better, ExpectationResult, Spec, judge};

/// One run's values as a sweep keeps them: the one-run results' measures, rounded to nine
/// decimals like the run's metrics, so a document read back from JSON (a shard, a checkpoint)
/// judges exactly the same numbers. Infinity (recovery never seen) stays.
pub fn run_values(results: &[ExpectationResult]) -> Vec<f64> {
    results
        .iter()
        .map(|r| {
            if r.measured.is_finite() {
                crate::common::round_to(r.measured, 9)
            } else {
                r.measured
            }
        })
        .collect()
}

/// A value as JSON: `null` for a value that never came (recovery never seen: infinity).
pub(super) fn value_json(v: f64) -> Value {
    if v.is_finite() {
        Value::from(v)
    } else {
        Value::Null
    }
}

pub(super) fn value_from(v: &Value) -> Option<f64> {
    match v {
        Value::Null => Some(f64::INFINITY),
        _ => v.as_f64(),
    }
}

pub(super) fn spec_json(s: &Spec) -> Value {
    let mut m = Map::new();
    m.insert("label".into(), Value::from(s.label.as_str()));
    m.insert("identity".into(), Value::from(s.identity.as_str()));
    m.insert(
        "better".into(),
        Value::from(match s.better {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }),
    );
    m.insert("bound".into(), Value::from(s.bound.as_str()));
    m.insert("bound_value".into(), Value::from(s.bound_value));
    m.insert(
        "over".into(),
        Value::from(match s.over {
            Over::Worst => "worst",
            Over::Mean => "mean",
        }),
    );
    m.insert("unit".into(), Value::from(s.unit));
    m.insert("decimals".into(), Value::from(s.decimals));
    Value::Object(m)
}

pub(super) fn spec_from(v: &Value) -> Option<Spec> {
    let text = |k: &str| v.get(k).and_then(Value::as_str);
    Some(Spec {
        label: text("label")?.to_owned(),
        identity: text("identity")?.to_owned(),
        better: match text("better")? {
            "higher" => Better::Higher,
            "lower" => Better::Lower,
            _ => return None,
        },
        bound: text("bound")?.to_owned(),
        bound_value: v.get("bound_value")?.as_f64()?,
        over: match text("over")? {
            "worst" => Over::Worst,
            "mean" => Over::Mean,
            _ => return None,
        },
        // The units `check` writes; another is not a document of this faultline.
        unit: ["", " ms", " s"]
            .into_iter()
            .find(|u| Some(*u) == text("unit"))?,
        decimals: usize::try_from(v.get("decimals")?.as_u64()?).ok()?,
    })
}

/// A parameter point (its `--set` values) and its expectations judged over its seeds.
pub type PointVerdicts = (Vec<(String, String)>, Vec<ExpectationResult>);

impl Document {
    /// Every point's expectations judged over its seeds, once every run is present and the
    /// scenario has expectations.
    pub fn judged(&self) -> Option<Vec<PointVerdicts>> {
        let d = &self.definition;
        if d.expect.is_empty() || !self.has_every_run() {
            return None;
        }
        let seeds = d.seed_count() as usize;
        let judged = d
            .points()
            .into_iter()
            .zip(self.runs.chunks(seeds))
            .map(|(point, runs)| {
                let results = d
                    .expect
                    .iter()
                    .enumerate()
                    .map(|(i, spec)| {
                        let per_seed = runs.iter().map(|r| (r.seed, r.expect[i])).collect();
                        judge(spec.clone(), per_seed)
                    })
                    .collect();
                (point, results)
            })
            .collect();
        Some(judged)
    }

    /// The verdicts as the text report's closing section: where a parameter starts to break
    /// the expectations. Empty when there is nothing to judge.
    pub fn expectations_text(&self) -> String {
        let Some(judged) = self.judged() else {
            return String::new();
        };
        let mut out = String::from("expectations per point:\n");
        for (point, results) in judged {
            let flags = Definition::point_flags(&point).trim().to_owned();
            let failed = results.iter().filter(|r| !r.passed).count();
            let _ = writeln!(
                out,
                "  {}: {} of {} met",
                if flags.is_empty() {
                    "(as written)"
                } else {
                    flags.as_str()
                },
                results.len() - failed,
                results.len()
            );
            for r in &results {
                let _ = writeln!(
                    out,
                    "    {} {}: {} (worst seed {}: {})",
                    if r.passed { "PASS" } else { "FAIL" },
                    r.label,
                    r.format(r.measured),
                    r.worst_seed,
                    r.format(r.worst)
                );
            }
        }
        out
    }

    /// The verdicts of one point's expectations as JSON, for its aggregate.
    pub(super) fn verdicts_json(results: &[ExpectationResult]) -> Value {
        Value::Array(
            results
                .iter()
                .map(|r| {
                    let mut m = Map::new();
                    m.insert("expectation".into(), Value::from(r.label.as_str()));
                    m.insert("passed".into(), Value::from(r.passed));
                    m.insert("measured".into(), value_json(r.measured));
                    m.insert("bound".into(), Value::from(r.bound.as_str()));
                    m.insert("worst_seed".into(), Value::from(r.worst_seed));
                    m.insert("worst".into(), value_json(r.worst));
                    m.insert("failing_seeds".into(), Value::from(r.failing_seeds()));
                    Value::Object(m)
                })
                .collect(),
        )
    }
}
