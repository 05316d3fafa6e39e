//! `check --format csv|md|html`: the verdicts of every scenario's expectations as CSV rows, a
//! Markdown summary and one HTML page, beside the text and the JUnit XML.

use std::fmt::Write as _;

use super::{ExpectationResult, ScenarioCheck, failure_message};
use crate::common::escape_markup;
use crate::markdown::{escape, table_header, table_row};
use crate::sweep::{number, seeds_cell};

/// The header row of the check CSV, without its line break.
pub const CSV_HEADER: &str = "scenario,expectation,identity,verdict,measured,unit,bound,\
worst_seed,worst,seeds,failing_seeds,regressed,baseline";

/// Failing seeds listed in a Markdown or HTML cell before "... (N in all)".
const SEEDS_SHOWN: usize = 20;

/// How many judgements were made and how many failed, counted as the text report counts them:
/// every expectation, one for incomplete runs that fail the check, one per regression.
pub fn tally(checks: &[ScenarioCheck]) -> (usize, usize) {
    let mut judged = 0;
    let mut failed = 0;
    for c in checks {
        let incomplete = usize::from(c.incomplete_fails());
        judged += c.results.len() + incomplete + c.regressions.len();
        failed += c.results.iter().filter(|r| !r.passed).count() + incomplete;
        failed += c.regressions.len();
    }
    (judged, failed)
}

/// The closing line of every format: `check ok: 3 of 3 expectations met, 0 violated`.
pub fn summary_line(checks: &[ScenarioCheck]) -> String {
    let (judged, failed) = tally(checks);
    format!(
        "check {}: {} of {judged} expectations met, {failed} violated",
        if failed == 0 { "ok" } else { "FAILED" },
        judged - failed
    )
}

/// The value of a regression of `r`, if it regressed against the baseline.
fn regression<'a>(c: &'a ScenarioCheck, r: &ExpectationResult) -> Option<&'a f64> {
    c.regressions
        .iter()
        .find(|(label, _)| label == &r.label)
        .map(|(_, base)| base)
}

/// A value without its unit for a CSV cell; empty for "never" (a recovery never seen).
fn cell(v: f64) -> String {
    if v.is_finite() {
        number(v)
    } else {
        String::new()
    }
}

/// One row per scenario and expectation (columns as in [`CSV_HEADER`]): its verdict (`PASS`
/// or `FAIL` against its bound), the measured value and the worst seed's without unit (empty
/// when it never came: a recovery never seen), the unit, the seed range, the failing seeds
/// separated by spaces, and whether it regressed against `--baseline` with the baseline value.
/// Runs stopped by a limit add a row `complete runs` whose measured value is their number.
pub fn csv(checks: &[ScenarioCheck]) -> String {
    use crate::csv::quote;
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for c in checks {
        let seeds = format!("{}..{}", c.seeds.0, c.seeds.1);
        if !c.incomplete.is_empty() {
            let cut: Vec<String> = c.incomplete.iter().map(|r| r.seed.to_string()).collect();
            let _ = writeln!(
                out,
                "{},complete runs,complete runs,{},{},,{},,,{seeds},{},false,",
                quote(&c.scenario),
                if c.incomplete_fails() { "FAIL" } else { "PASS" },
                c.incomplete.len(),
                if c.allow_incomplete {
                    "allowed (--allow-incomplete)"
                } else {
                    "= 0"
                },
                cut.join(" ")
            );
        }
        for r in &c.results {
            let failing: Vec<String> = r.failing_seeds().iter().map(u64::to_string).collect();
            let base = regression(c, r);
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{seeds},{},{},{}",
                quote(&c.scenario),
                quote(&r.label),
                quote(&r.identity),
                if r.passed { "PASS" } else { "FAIL" },
                cell(r.measured),
                r.unit.trim(),
                quote(&r.bound),
                r.worst_seed,
                cell(r.worst),
                failing.join(" "),
                base.is_some(),
                base.map_or(String::new(), |&b| cell(b)),
            );
        }
    }
    out
}

/// A Markdown summary for a pull-request comment: per scenario, a table of its expectations
/// (verdict, measured, bound, worst seed, failing seeds), the failures' replay commands, the
/// incomplete runs and the regressions; then the closing line.
pub fn markdown(checks: &[ScenarioCheck], paths: &[String]) -> String {
    let mut out = String::from("### faultline check\n");
    for (c, path) in checks.iter().zip(paths) {
        let _ = writeln!(
            out,
            "\n#### {} · `{}` · seeds {}..{}\n",
            escape(&c.scenario),
            path.replace('`', "'"),
            c.seeds.0,
            c.seeds.1
        );
        if let Some(message) = c.incomplete_message() {
            let _ = writeln!(
                out,
                "> **{}** complete runs: {}\n",
                if c.incomplete_fails() {
                    "FAIL"
                } else {
                    "Note (allowed)"
                },
                escape(&message)
            );
        }
        if c.results.is_empty() {
            out.push_str("No expectations (add an `expect: [...]` section to the scenario).\n");
            continue;
        }
        table_header(
            &mut out,
            &[
                "expectation",
                "verdict",
                "measured",
                "expected",
                "worst seed",
                "failing seeds",
            ],
        );
        for r in &c.results {
            table_row(
                &mut out,
                &[
                    escape(&r.label),
                    if r.passed { "PASS" } else { "**FAIL**" }.to_owned(),
                    escape(&r.format(r.measured)),
                    escape(&r.bound),
                    format!("{} ({})", r.worst_seed, escape(&r.format(r.worst))),
                    seeds_cell(&r.failing_seeds(), SEEDS_SHOWN),
                ],
            );
        }
        let failed: Vec<&ExpectationResult> = c.results.iter().filter(|r| !r.passed).collect();
        if !failed.is_empty() {
            out.push('\n');
            for r in failed {
                let _ = writeln!(
                    out,
                    "- {}: `{} --seed {}`",
                    escape(&r.label),
                    c.replay.replace('`', "'"),
                    r.worst_seed
                );
            }
        }
        for r in &c.results {
            if let Some(&base) = regression(c, r) {
                let _ = writeln!(
                    out,
                    "\n**FAIL** baseline: {}: {} now, {} in the baseline",
                    escape(&r.label),
                    escape(&r.format(r.measured)),
                    escape(&r.format(base))
                );
            }
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(checks));
    out
}

/// The rows of one scenario's table in the HTML page: verdict, expectation, measured, bound,
/// worst seed, failing seeds (of how many), and the failure's message with its replay command.
pub(crate) fn html_rows(out: &mut String, c: &ScenarioCheck) {
    for r in &c.results {
        let failing = r.failing_seeds();
        let _ = writeln!(
            out,
            "<tr><td class=\"{}\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td>\
             <td class=\"num\">{} ({})</td><td class=\"wrap\">{}{}</td></tr>",
            if r.passed { "pass" } else { "fail" },
            if r.passed { "PASS" } else { "FAIL" },
            escape_markup(&r.label),
            escape_markup(&r.format(r.measured)),
            escape_markup(&r.bound),
            r.worst_seed,
            escape_markup(&r.format(r.worst)),
            if failing.is_empty() {
                String::new()
            } else {
                format!("{} of {}: ", failing.len(), r.per_seed.len())
            },
            seeds_cell(&failing, SEEDS_SHOWN)
        );
        if !r.passed {
            let _ = writeln!(
                out,
                "<tr><td></td><td colspan=\"5\" class=\"wrap\"><code>{}</code></td></tr>",
                escape_markup(&failure_message(c, r))
            );
        }
        if let Some(&base) = regression(c, r) {
            let _ = writeln!(
                out,
                "<tr><td class=\"fail\">FAIL</td><td colspan=\"5\">baseline: {} now, {} in the \
                 baseline</td></tr>",
                escape_markup(&r.format(r.measured)),
                escape_markup(&r.format(base))
            );
        }
    }
}
