//! `faultline check`: every scenario's expectations over a seed range, for CI. Exit 1 on a
//! violated expectation or a regression against the baseline. Scenarios are loaded, run and
//! judged through the library's facade (`faultline::Scenario`, `faultline::ci`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use faultline::ci::{ExpectationResult, IncompleteRun, Judge, ScenarioCheck, failure_message};

use crate::runs::{self, RunId, Workers};
use crate::swarm::Source;
use crate::{CheckFormat, Seeds, write_atomically};

pub struct CheckArgs<'a> {
    pub scenarios: &'a [PathBuf],
    pub seeds: Seeds,
    pub junit: Option<&'a Path>,
    pub format: CheckFormat,
    pub baseline: Option<&'a Path>,
    pub update_baseline: bool,
    pub availability_tolerance: f64,
    pub relative_tolerance: f64,
    pub jobs: Option<usize>,
    pub allow_incomplete: bool,
}

pub fn check(args: CheckArgs) -> Result<ExitCode> {
    // Load everything first: a bad file is a usage error (exit 2) before any run.
    let loaded = args
        .scenarios
        .iter()
        .map(|p| Source::read(p, &[], args.seeds.first))
        .collect::<Result<Vec<_>>>()?;
    for l in &loaded {
        crate::print_warnings(&l.warnings);
    }
    let baseline = match args.baseline {
        Some(path) if !args.update_baseline => {
            let text = crate::files::read_input(path, "the baseline")?;
            Some(
                faultline::ci::parse_baseline(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )
        }
        _ => None,
    };
    // The files check writes may not replace a scenario it reads.
    let written = [args.junit, args.baseline.filter(|_| args.update_baseline)];
    for (out, scenario) in written
        .into_iter()
        .flatten()
        .flat_map(|o| args.scenarios.iter().map(move |s| (o, s)))
    {
        crate::refuse_to_overwrite(out, scenario)?;
    }
    let workers = Workers::new(args.jobs)?;
    let seeds: Vec<u64> = (args.seeds.first..=args.seeds.last).collect();
    let mut checks = Vec::new();
    for l in &loaded {
        // A swarm scenario's expectations are those of its first seed's draw.
        let first = l.scenario(args.seeds.first)?;
        let mut judge = Judge::new(&first);
        let runs = workers.in_order(&seeds, |&seed| -> Result<_> {
            let run = RunId {
                scenario: l.path.clone(),
                seed,
                sets: Vec::new(),
                max_events: None,
            };
            let scenario = l.scenario(seed)?;
            Ok(runs::simulate_scenario(run, &scenario))
        });
        let bar = runs::progress(seeds.len() as u64, 0);
        // Folded in seed order: the verdicts do not depend on the number of threads.
        let mut incomplete = Vec::new();
        for run in runs.inspect(|chunk| bar.inc(chunk.len() as u64)).flatten() {
            let run = run?;
            if !run.complete() {
                incomplete.push(IncompleteRun {
                    seed: run.seed(),
                    events: run.events(),
                    stop: run.stop_reason().to_owned(),
                });
            }
            judge.add(&run);
        }
        bar.finish_and_clear();
        checks.push(ScenarioCheck {
            scenario: first.name().to_owned(),
            replay: format!("faultline replay {}", l.path.display()),
            seeds: (args.seeds.first, args.seeds.last),
            results: judge.results(),
            regressions: Vec::new(),
            incomplete,
            allow_incomplete: args.allow_incomplete,
        });
    }
    if let Some(baseline) = &baseline {
        faultline::ci::compare_baseline(
            &mut checks,
            baseline,
            args.availability_tolerance,
            args.relative_tolerance,
        );
    }

    // Printed at once at the end, so a failing standard output is an error, not a panic.
    let mut out = String::new();
    macro_rules! outln {
        ($($arg:tt)*) => {{
            let _ = writeln!(out, $($arg)*);
        }};
    }
    let mut failed = 0;
    let mut total = 0;
    for (c, l) in checks.iter().zip(&loaded) {
        outln!(
            "{} ({}, seeds {}..{})",
            l.path.display(),
            c.scenario,
            c.seeds.0,
            c.seeds.1
        );
        if let Some(message) = c.incomplete_message() {
            if c.incomplete_fails() {
                failed += 1;
                total += 1;
                outln!("  FAIL complete runs: {message}");
            } else {
                outln!("  NOTE complete runs (allowed incomplete): {message}");
            }
        }
        if c.results.is_empty() {
            outln!("  no expectations (add an `expect: [...]` section to the scenario)");
        }
        for r in &c.results {
            total += 1;
            if r.passed {
                outln!(
                    "  PASS {}: {} (worst seed {}: {})",
                    r.label,
                    r.format(r.measured),
                    r.worst_seed,
                    r.format(r.worst)
                );
            } else {
                failed += 1;
                outln!("  FAIL {}: {}", r.label, failure_message(c, r));
                if l.is_swarm() {
                    for line in swarm_lines(l, r) {
                        outln!("       {line}");
                    }
                }
            }
        }
        for (label, base) in &c.regressions {
            failed += 1;
            let r = c.results.iter().find(|r| &r.label == label);
            outln!(
                "  FAIL baseline: {label}: {} now, {} in the baseline",
                r.map_or(String::new(), |r| r.format(r.measured)),
                r.map_or(base.to_string(), |r| r.format(*base))
            );
        }
    }
    let judged = total + checks.iter().map(|c| c.regressions.len()).sum::<usize>();
    outln!(
        "check {}: {} of {judged} expectations met, {failed} violated",
        if failed == 0 { "ok" } else { "FAILED" },
        judged - failed,
    );
    let paths: Vec<String> = loaded
        .iter()
        .map(|l| l.path.display().to_string())
        .collect();
    let report = match args.format {
        CheckFormat::Text => std::mem::take(&mut out),
        CheckFormat::Json => reports::check::json(&checks, &paths),
        CheckFormat::Csv => reports::check::csv(&checks),
        CheckFormat::Md => reports::check::markdown(&checks, &paths),
        CheckFormat::Html => reports::html::check_html(&checks, &paths),
    };
    out.clear();
    crate::print_stdout(&report)?;
    if let Some(path) = args.junit {
        write_atomically(path, "--junit", faultline::ci::junit(&checks).as_bytes())?;
    }
    if args.update_baseline {
        let path = args
            .baseline
            .context("--update-baseline needs --baseline FILE to write")?;
        if checks.iter().any(|c| c.incomplete_fails()) {
            // A baseline of partial runs would make the next full run look like a regression
            // (or hide one): keep the old baseline.
            eprintln!(
                "warning: baseline not written: some runs were stopped by a limit (see FAIL \
                 complete runs); {} is unchanged",
                path.display()
            );
            return Ok(ExitCode::from(1));
        }
        write_atomically(
            path,
            "--baseline",
            faultline::ci::baseline_json(&checks).as_bytes(),
        )?;
        if args.format == CheckFormat::Text {
            outln!("baseline written to {}", path.display());
            crate::print_stdout(&out)?;
        } else {
            // Standard output holds the report in its format; the confirmation goes aside.
            eprintln!("baseline written to {}", path.display());
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// For a failed expectation of a swarm scenario: the seeds whose drawn scenario fails it,
/// what the worst seed drew, and the command that prints its concrete scenario.
fn swarm_lines(source: &Source, r: &ExpectationResult) -> Vec<String> {
    let failing = r.failing_seeds();
    let shown: Vec<String> = failing.iter().take(20).map(u64::to_string).collect();
    let more = if failing.len() > shown.len() {
        ", ..."
    } else {
        ""
    };
    vec![
        format!(
            "failing seeds ({} of {}): {}{more}",
            failing.len(),
            r.per_seed.len(),
            shown.join(", ")
        ),
        format!(
            "seed {} drew: {}",
            r.worst_seed,
            source.draws_line(r.worst_seed)
        ),
        format!(
            "its concrete scenario: faultline run {} --seed {} --print-scenario",
            source.path.display(),
            r.worst_seed
        ),
    ]
}
