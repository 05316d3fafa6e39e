//! `faultline check`: a scenario's expectations measured over seeds, JUnit XML for CI systems,
//! and baselines that catch regressions between versions of a policy.

use std::fmt::Write as _;

use models::RunResult;
use scenarios::spec::{Expectation, Over};
use serde_json::{Map, Value};

use crate::analysis::{Analysis, Verdict};
use crate::common::escape_markup as xml_escape;
use crate::common::{amplification, service_amplification};

/// Whether larger measured values are better (availability) or worse (latency).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Better {
    Higher,
    Lower,
}

/// One expectation of one scenario, measured on every seed.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectationResult {
    /// `availability of shoppers >= 0.995 (worst seed)`.
    pub label: String,
    /// What is measured, without the bound: `availability of shoppers (worst seed)`. Baselines
    /// are keyed by it, so tightening a threshold keeps the stored value.
    pub identity: String,
    /// Per seed, in seed order.
    pub per_seed: Vec<(u64, f64)>,
    /// The worst seed and its value.
    pub worst_seed: u64,
    pub worst: f64,
    /// The value judged: the worst, or the mean, as the expectation says.
    pub measured: f64,
    pub passed: bool,
    /// What the value is compared with, for messages: `>= 0.995`.
    pub bound: String,
    better: Better,
    bound_value: f64,
    unit: &'static str,
    decimals: usize,
}

impl ExpectationResult {
    /// The seeds whose run alone does not meet the bound, in seed order: for a swarm scenario,
    /// the seeds whose drawn scenario fails (`over: Mean` judges the mean, but a seed is still
    /// named by its own value).
    pub fn failing_seeds(&self) -> Vec<u64> {
        self.per_seed
            .iter()
            .filter(|&&(_, v)| match self.better {
                Better::Higher => v < self.bound_value,
                Better::Lower => v > self.bound_value,
            })
            .map(|&(seed, _)| seed)
            .collect()
    }

    /// A value in the expectation's unit: `0.99512`, `182.300 ms`, `never`.
    pub fn format(&self, value: f64) -> String {
        if value.is_infinite() {
            return "never".into();
        }
        format!("{:.*}{}", self.decimals, value, self.unit)
    }

    /// Whether `value` is worse than `baseline` by more than the tolerance: an absolute
    /// `availability_tolerance` for availabilities, a relative `relative_tolerance` otherwise.
    pub fn regressed(
        &self,
        baseline: f64,
        availability_tolerance: f64,
        relative_tolerance: f64,
    ) -> bool {
        let value = self.measured;
        match self.better {
            Better::Higher => value < baseline - availability_tolerance,
            Better::Lower => {
                if baseline.is_infinite() {
                    false
                } else {
                    value > baseline + baseline.abs() * relative_tolerance + 1e-9
                }
            }
        }
    }
}

/// How an expectation is judged: what a sweep document keeps of it, so a merge judges the
/// points without the scenario (`crate::sweep::expect`).
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub(crate) label: String,
    pub(crate) identity: String,
    pub(crate) better: Better,
    pub(crate) bound_value: f64,
    pub(crate) bound: String,
    pub(crate) over: Over,
    pub(crate) unit: &'static str,
    pub(crate) decimals: usize,
}

/// The judging rules of `expectations`, in order.
pub fn specs(expectations: &[Expectation]) -> Vec<Spec> {
    expectations.iter().map(spec_of).collect()
}

fn spec_of(e: &Expectation) -> Spec {
    let over_text = |over: Over| match over {
        Over::Worst => "worst seed",
        Over::Mean => "mean over seeds",
    };
    match e {
        Expectation::Availability { of, at_least, over } => Spec {
            label: format!("availability of {of} >= {at_least} ({})", over_text(*over)),
            identity: format!("availability of {of} ({})", over_text(*over)),
            better: Better::Higher,
            bound_value: *at_least,
            bound: format!(">= {at_least}"),
            over: *over,
            unit: "",
            decimals: 6,
        },
        Expectation::Latency {
            of,
            quantile,
            at_most,
            over,
        } => Spec {
            label: format!(
                "latency p{} of {of} <= {} ({})",
                quantile * 100.0,
                at_most.0,
                over_text(*over)
            ),
            identity: format!(
                "latency p{} of {of} ({})",
                quantile * 100.0,
                over_text(*over)
            ),
            better: Better::Lower,
            bound_value: at_most.0.as_millis_f64(),
            bound: format!("<= {}", at_most.0),
            over: *over,
            unit: " ms",
            decimals: 3,
        },
        Expectation::Amplification { of, at_most, over } => Spec {
            label: format!("amplification of {of} <= {at_most} ({})", over_text(*over)),
            identity: format!("amplification of {of} ({})", over_text(*over)),
            better: Better::Lower,
            bound_value: *at_most,
            bound: format!("<= {at_most}"),
            over: *over,
            unit: "",
            decimals: 3,
        },
        Expectation::NoCascadeInto { service } => Spec {
            label: format!("no cascade into {service}"),
            identity: format!("no cascade into {service}"),
            better: Better::Lower,
            bound_value: 0.0,
            bound: "= 0 unhealthy intervals after a fault".into(),
            over: Over::Worst,
            unit: "",
            decimals: 0,
        },
        Expectation::NoDuplicateSideEffects { service } => Spec {
            label: format!("no duplicate side effects in {service}"),
            identity: format!("no duplicate side effects in {service}"),
            better: Better::Lower,
            bound_value: 0.0,
            bound: "= 0 duplicate executions".into(),
            over: Over::Worst,
            unit: "",
            decimals: 0,
        },
        Expectation::RecoveryWithin { within } => Spec {
            label: format!("recovery within {} after each fault", within.0),
            identity: "recovery time after each fault".into(),
            better: Better::Lower,
            bound_value: within.0.as_secs_f64(),
            bound: format!("<= {}", within.0),
            over: Over::Worst,
            unit: " s",
            decimals: 3,
        },
    }
}

/// The expectation's value on one run.
fn measure(e: &Expectation, result: &RunResult, analysis: &Analysis) -> f64 {
    let stats_of = |name: &str| {
        result
            .clients
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.stats)
            .or_else(|| {
                result
                    .services
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| &s.stats)
            })
    };
    match e {
        Expectation::Availability { of, .. } => stats_of(of).map_or(1.0, |s| s.availability()),
        Expectation::Latency { of, quantile, .. } => {
            stats_of(of).map_or(0.0, |s| s.latency.quantile(*quantile).as_millis_f64())
        }
        Expectation::Amplification { of, .. } => {
            match result.clients.iter().find(|c| &c.name == of) {
                Some(c) => amplification(c),
                None => result
                    .services
                    .iter()
                    .find(|s| &s.name == of)
                    .map_or(0.0, |s| service_amplification(result, s)),
            }
        }
        Expectation::NoCascadeInto { service } => analysis
            .faults
            .iter()
            .flat_map(|f| &f.cascade)
            .filter(|s| {
                use crate::analysis::EntityKind::{ConsumerGroup, Queue};
                !matches!(s.kind, Queue | ConsumerGroup) && &s.name == service
            })
            .count() as f64,
        Expectation::NoDuplicateSideEffects { service } => result
            .services
            .iter()
            .find(|s| &s.name == service)
            .map_or(0.0, |s| s.duplicate_side_effects as f64),
        Expectation::RecoveryWithin { .. } => analysis
            .faults
            .iter()
            .map(|f| match (&f.verdict, f.time_to_recover) {
                (Verdict::NoImpact, _) => 0.0,
                (Verdict::Recovered { .. }, Some(t)) => t.as_secs_f64(),
                // Did not recover, or the fault lasted to the end: never seen to recover.
                _ => f64::INFINITY,
            })
            .fold(0.0, f64::max),
    }
}

/// Measures a scenario's expectations run by run, in seed order.
#[derive(Clone, Debug)]
pub struct Evaluator {
    expectations: Vec<Expectation>,
    per_seed: Vec<Vec<(u64, f64)>>,
}

impl Evaluator {
    pub fn new(expectations: &[Expectation]) -> Self {
        Evaluator {
            expectations: expectations.to_vec(),
            per_seed: vec![Vec::new(); expectations.len()],
        }
    }

    /// Adds one run; call in seed order.
    pub fn add(&mut self, result: &RunResult, analysis: &Analysis) {
        for (e, values) in self.expectations.iter().zip(&mut self.per_seed) {
            values.push((result.seed, measure(e, result, analysis)));
        }
    }

    /// Adds one run's values measured elsewhere (a sweep's run, by a one-run evaluator), one
    /// per expectation; call in seed order.
    pub fn add_values(&mut self, seed: u64, values: &[f64]) {
        for (per_seed, &v) in self.per_seed.iter_mut().zip(values) {
            per_seed.push((seed, v));
        }
    }

    pub fn finish(self) -> Vec<ExpectationResult> {
        self.expectations
            .iter()
            .zip(self.per_seed)
            .map(|(e, per_seed)| judge(spec_of(e), per_seed))
            .collect()
    }
}

/// Judges one expectation over its values per seed (in seed order).
pub fn judge(spec: Spec, per_seed: Vec<(u64, f64)>) -> ExpectationResult {
    let worse = |a: f64, b: f64| match spec.better {
        Better::Higher => a < b,
        Better::Lower => a > b,
    };
    let (worst_seed, worst) = per_seed.iter().fold(
        (
            per_seed.first().map_or(0, |p| p.0),
            per_seed.first().map_or(0.0, |p| p.1),
        ),
        |acc, &(seed, v)| if worse(v, acc.1) { (seed, v) } else { acc },
    );
    let measured = match spec.over {
        Over::Worst => worst,
        Over::Mean => {
            // Summed in seed order, so the mean is the same for any thread count.
            per_seed.iter().map(|p| p.1).sum::<f64>() / per_seed.len().max(1) as f64
        }
    };
    let passed = match spec.better {
        Better::Higher => measured >= spec.bound_value,
        Better::Lower => measured <= spec.bound_value,
    };
    ExpectationResult {
        label: spec.label,
        identity: spec.identity,
        per_seed,
        worst_seed,
        worst,
        measured,
        passed,
        bound: spec.bound,
        better: spec.better,
        bound_value: spec.bound_value,
        unit: spec.unit,
        decimals: spec.decimals,
    }
}

/// The results of one scenario.
#[derive(Clone, Debug)]
pub struct ScenarioCheck {
    pub scenario: String,
    /// The command that replays a seed of this scenario, without `--seed`.
    pub replay: String,
    pub seeds: (u64, u64),
    pub results: Vec<ExpectationResult>,
    /// Labels of expectations that regressed against the baseline, with the baseline value.
    pub regressions: Vec<(String, f64)>,
    /// The runs that a limit stopped before their end, in seed order.
    pub incomplete: Vec<IncompleteRun>,
    /// `--allow-incomplete`: incomplete runs are reported but do not fail the check.
    pub allow_incomplete: bool,
}

/// A run that a limit stopped before the scenario's end: its figures are partial, so an
/// expectation judged on it may pass for a fault that never happened.
#[derive(Clone, Debug, PartialEq)]
pub struct IncompleteRun {
    pub seed: u64,
    pub events: u64,
    /// Why it stopped: `StopReason::as_str` (`max_events`, ...).
    pub stop: String,
}

impl ScenarioCheck {
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| !r.passed)
            || !self.regressions.is_empty()
            || self.incomplete_fails()
    }

    /// Whether incomplete runs fail this check: some exist and they are not allowed.
    pub fn incomplete_fails(&self) -> bool {
        !self.incomplete.is_empty() && !self.allow_incomplete
    }

    /// The sentence about the incomplete runs, with the command that replays the first; `None`
    /// when every run was complete.
    pub fn incomplete_message(&self) -> Option<String> {
        let first = self.incomplete.first()?;
        let seeds: Vec<String> = self
            .incomplete
            .iter()
            .take(10)
            .map(|r| r.seed.to_string())
            .collect();
        let more = if self.incomplete.len() > seeds.len() {
            ", ..."
        } else {
            ""
        };
        Some(format!(
            "{} of {} runs stopped at a limit before the scenario's end (seeds {}{more}; seed {} \
             stopped by {} after {} events), so the expectations were judged on partial runs; \
             raise limits.max_events{}; replay: {} --seed {}",
            self.incomplete.len(),
            self.seeds.1 - self.seeds.0 + 1,
            seeds.join(", "),
            first.seed,
            first.stop,
            first.events,
            if self.allow_incomplete {
                ""
            } else {
                " or pass --allow-incomplete"
            },
            self.replay,
            first.seed
        ))
    }
}

/// The message of a failed expectation: measured against expected, the worst seed and the
/// command that replays it.
pub fn failure_message(check: &ScenarioCheck, r: &ExpectationResult) -> String {
    format!(
        "measured {}, expected {}; worst seed {} ({}); replay: {} --seed {}",
        r.format(r.measured),
        r.bound,
        r.worst_seed,
        r.format(r.worst),
        check.replay,
        r.worst_seed
    )
}

/// JUnit XML: one test suite per scenario, one test case per expectation (and one per baseline
/// regression), failures with measured against expected.
pub fn junit(checks: &[ScenarioCheck]) -> String {
    let extra = |c: &ScenarioCheck| usize::from(c.incomplete_fails());
    let tests: usize = checks
        .iter()
        .map(|c| c.results.len() + c.regressions.len() + extra(c))
        .sum();
    let failures: usize = checks
        .iter()
        .map(|c| c.results.iter().filter(|r| !r.passed).count() + c.regressions.len() + extra(c))
        .sum();
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"faultline check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    for c in checks {
        let suite_failures =
            c.results.iter().filter(|r| !r.passed).count() + c.regressions.len() + extra(c);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{suite_failures}\" errors=\"0\" skipped=\"0\">",
            xml_escape(&c.scenario),
            c.results.len() + c.regressions.len() + extra(c)
        );
        if c.incomplete_fails() {
            let message = c.incomplete_message().unwrap_or_default();
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"complete runs\">\n      <failure message=\"{}\" type=\"incomplete\">{}</failure>\n    </testcase>",
                xml_escape(&c.scenario),
                xml_escape(&message),
                xml_escape(&message)
            );
        }
        for r in &c.results {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\">",
                xml_escape(&c.scenario),
                xml_escape(&r.label)
            );
            // The measured values, so a CI dashboard can chart them across builds.
            out.push_str("      <properties>\n");
            let mut property = |name: &str, value: &str| {
                let _ = writeln!(
                    out,
                    "        <property name=\"{name}\" value=\"{}\"/>",
                    xml_escape(value)
                );
            };
            property("measured", &r.format(r.measured));
            property("expected", &r.bound);
            property("worst_seed", &r.worst_seed.to_string());
            property("worst", &r.format(r.worst));
            property("seeds", &format!("{}..{}", c.seeds.0, c.seeds.1));
            property("identity", &r.identity);
            out.push_str("      </properties>\n");
            if !r.passed {
                let message = failure_message(c, r);
                let _ = writeln!(
                    out,
                    "      <failure message=\"{}\" type=\"expectation\">{}</failure>",
                    xml_escape(&message),
                    xml_escape(&message)
                );
            }
            out.push_str("    </testcase>\n");
        }
        for (label, baseline) in &c.regressions {
            let r = c.results.iter().find(|r| &r.label == label);
            let message = match r {
                Some(r) => format!(
                    "regressed from baseline {} to {}",
                    r.format(*baseline),
                    r.format(r.measured)
                ),
                None => format!("regressed from baseline {baseline}"),
            };
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"baseline: {}\">\n      <failure message=\"{}\" type=\"regression\">{}</failure>\n    </testcase>",
                xml_escape(&c.scenario),
                xml_escape(label),
                xml_escape(&message),
                xml_escape(&message)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// A baseline document: every expectation's measured value per scenario, keyed by what it
/// measures (its identity), not its bound.
pub fn baseline_json(checks: &[ScenarioCheck]) -> String {
    let mut scenarios = Map::new();
    for c in checks {
        let values: Map<String, Value> = c
            .results
            .iter()
            .map(|r| {
                let v = if r.measured.is_finite() {
                    Value::from(crate::common::round_to(r.measured, 9))
                } else {
                    Value::Null
                };
                (r.identity.clone(), v)
            })
            .collect();
        scenarios.insert(c.scenario.clone(), Value::Object(values));
    }
    let mut doc = Map::new();
    doc.insert("faultline_baseline".into(), Value::from(1));
    doc.insert("scenarios".into(), Value::Object(scenarios));
    let mut out = serde_json::to_string_pretty(&Value::Object(doc))
        .expect("a serde_json::Value with string keys always serialises");
    out.push('\n');
    out
}

/// Reads a baseline document: `scenario -> key -> value` (`None` for "never"); the key is an
/// expectation's identity, or its whole label in files written before identities.
pub fn parse_baseline(text: &str) -> Result<Vec<(String, String, Option<f64>)>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("faultline_baseline") != Some(&Value::from(1)) {
        return Err("not a faultline baseline (expected \"faultline_baseline\": 1)".into());
    }
    let scenarios = v
        .get("scenarios")
        .and_then(Value::as_object)
        .ok_or("missing \"scenarios\" object")?;
    let mut out = Vec::new();
    for (scenario, values) in scenarios {
        let values = values
            .as_object()
            .ok_or_else(|| format!("scenario \"{scenario}\" is not an object"))?;
        for (label, value) in values {
            out.push((scenario.clone(), label.clone(), value.as_f64()));
        }
    }
    Ok(out)
}

/// Marks expectations whose value regressed against `baseline` beyond the tolerances.
pub fn compare_baseline(
    checks: &mut [ScenarioCheck],
    baseline: &[(String, String, Option<f64>)],
    availability_tolerance: f64,
    relative_tolerance: f64,
) {
    for c in checks.iter_mut() {
        for r in &c.results {
            let Some((_, _, base)) = baseline
                .iter()
                .find(|(s, k, _)| s == &c.scenario && (k == &r.identity || k == &r.label))
            else {
                continue;
            };
            let base = base.unwrap_or(f64::INFINITY);
            if r.regressed(base, availability_tolerance, relative_tolerance) {
                c.regressions.push((r.label.clone(), base));
            }
        }
    }
}

mod formats;
mod json;
pub(crate) use formats::html_rows;
pub use formats::{CSV_HEADER, csv, markdown, summary_line, tally};
pub use json::{CHECK_DOCUMENT_VERSION, json};

#[cfg(test)]
mod tests;
