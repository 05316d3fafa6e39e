//! `faultline shrink`: a seed that fails an expectation, shrunk to a smaller scenario that
//! fails it the same way. The candidates are `scenarios::shrink`'s text edits; this side runs
//! them, a round at a time over the worker threads, and keeps the first (in the candidates'
//! order) that still fails, so the result does not depend on `--jobs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use models::metrics::FailureCause;
use reports::check::Evaluator;
use scenarios::spec::Expectation;

use crate::runs::{self, RunId, Workers};

pub struct ShrinkArgs<'a> {
    pub scenario: &'a Path,
    pub seed: u64,
    /// Which expectation (1-based, in the file's order); default the first that fails.
    pub expectation: Option<usize>,
    pub max_runs: usize,
    pub jobs: Option<usize>,
    pub out: Option<&'a Path>,
}

/// How a run failed an expectation: the expectation's label and, for an availability, the
/// most frequent failure cause of what it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Way {
    pub label: String,
    pub cause: Option<&'static str>,
}

/// One run of a text: for each expectation, whether it failed and how, with the value.
struct Judged {
    failures: Vec<Option<(Way, String)>>,
    labels: Vec<String>,
}

fn dominant_cause(result: &models::RunResult, of: &str) -> Option<&'static str> {
    let stats = result
        .clients
        .iter()
        .find(|c| c.name == of)
        .map(|c| &c.stats)
        .or_else(|| {
            result
                .services
                .iter()
                .find(|s| s.name == of)
                .map(|s| &s.stats)
        })?;
    // The first of the largest, in FailureCause::ALL's order.
    let (i, n) = stats
        .failed_by_cause
        .iter()
        .enumerate()
        .fold(
            (0, 0),
            |best, (i, &n)| if n > best.1 { (i, n) } else { best },
        );
    (n > 0).then(|| FailureCause::ALL[i].as_str())
}

/// Loads and runs `text` with `seed`; `None` when it does not load.
fn judge(path: &Path, text: &str, seed: u64) -> Option<Judged> {
    let loaded = scenarios::load_str(path, text).ok()?;
    let run = RunId {
        scenario: path.to_owned(),
        seed,
        sets: Vec::new(),
        max_events: None,
    };
    let (result, analysis) = runs::simulate(run, &loaded.config);
    if !reports::is_complete(&result) {
        // A partial run proves nothing: not a failure worth keeping.
        return Some(Judged {
            failures: vec![None; loaded.scenario.expect.len()],
            labels: Vec::new(),
        });
    }
    let mut evaluator = Evaluator::new(&loaded.scenario.expect);
    evaluator.add(&result, &analysis);
    let results = evaluator.finish();
    let failures = loaded
        .scenario
        .expect
        .iter()
        .zip(&results)
        .map(|(e, r)| {
            (!r.passed).then(|| {
                let cause = match e {
                    Expectation::Availability { of, .. } => dominant_cause(&result, of),
                    _ => None,
                };
                let way = Way {
                    label: r.label.clone(),
                    cause,
                };
                (
                    way,
                    format!("{}, expected {}", r.format(r.measured), r.bound),
                )
            })
        })
        .collect();
    Some(Judged {
        failures,
        labels: results.into_iter().map(|r| r.label).collect(),
    })
}

fn default_out(scenario: &Path, seed: u64) -> PathBuf {
    let stem = match scenario.file_stem() {
        _ if scenario.as_os_str() == "-" => "stdin".to_owned(),
        Some(s) => s.to_string_lossy().into_owned(),
        None => "scenario".to_owned(),
    };
    PathBuf::from(format!("{stem}-seed{seed}-shrunk.ron"))
}

pub fn shrink(args: ShrinkArgs) -> Result<ExitCode> {
    let path = args.scenario;
    let source = crate::swarm::Source::read(path, &[], args.seed)?;
    crate::print_warnings(&source.warnings);
    let original = if source.is_swarm() {
        scenarios::swarm::draw(path, source.text(), args.seed)?.text
    } else {
        source.text().to_owned()
    };
    if args.max_runs == 0 {
        bail!("--max-runs must be at least 1");
    }
    let out = args
        .out
        .map_or_else(|| default_out(path, args.seed), Path::to_path_buf);
    // A shrunk file is new: never written over anything, the scenario least of all.
    if out.exists() {
        bail!(
            "{} exists; shrink never overwrites a file: move it away or pass another --out",
            out.display()
        );
    }
    let target = crate::files::Target::claim(&out, "--out")?;
    let workers = Workers::new(args.jobs)?;
    let Some(first) = judge(path, &original, args.seed) else {
        bail!("{}: the scenario does not load", path.display());
    };
    let index = match args.expectation {
        Some(0) => bail!("--expectation counts from 1"),
        Some(i) if i > first.labels.len() => bail!(
            "--expectation {i}: the scenario has {} expectations",
            first.labels.len()
        ),
        Some(i) => i - 1,
        None => match first.failures.iter().position(Option::is_some) {
            Some(i) => i,
            None if first.labels.is_empty() => bail!(
                "{} has no expectations (or its run with seed {} stopped at a limit); shrink \
                 keeps a scenario failing one of its `expect`",
                path.display(),
                args.seed
            ),
            None => bail!(
                "seed {} meets every expectation of {}: nothing fails, nothing to shrink",
                args.seed,
                path.display()
            ),
        },
    };
    let Some((way, measured)) = first.failures[index].clone() else {
        bail!(
            "seed {} meets expectation {} ({}): nothing to shrink",
            args.seed,
            index + 1,
            first.labels[index]
        );
    };
    let mut text = scenarios::shrink::keep_expectation(&original, index);
    let mut runs_done = 1usize;
    let mut changes: Vec<String> = Vec::new();
    let mut last_measured = measured.clone();
    let same_way = |j: &Option<Judged>| -> Option<String> {
        let j = j.as_ref()?;
        match j.failures.first() {
            Some(Some((w, m))) if *w == way => Some(m.clone()),
            _ => None,
        }
    };
    let mut minimal = false;
    while runs_done < args.max_runs {
        // Only the candidates that load are run.
        let candidates: Vec<_> = scenarios::shrink::candidates(&text)
            .into_iter()
            .filter(|c| scenarios::load_str(path, &c.text).is_ok())
            .collect();
        let budget = args.max_runs - runs_done;
        let batch = &candidates[..candidates.len().min(budget)];
        // In the candidates' order, a chunk at a time: the first that still fails wins. The
        // runs counted are those up to it, whatever a chunk computed beyond it, so the result
        // does not depend on the number of threads, even when --max-runs cuts a round short.
        let mut accepted = None;
        let mut position = 0;
        'chunks: for chunk in workers.in_order(batch, |c| judge(path, &c.text, args.seed)) {
            for judged in chunk {
                position += 1;
                if let Some(m) = same_way(&judged) {
                    accepted = Some((position - 1, m));
                    break 'chunks;
                }
            }
        }
        match accepted {
            Some((i, m)) => {
                runs_done += i + 1;
                changes.push(batch[i].change.clone());
                text = batch[i].text.clone();
                last_measured = m;
            }
            None => {
                runs_done += batch.len();
                minimal = batch.len() == candidates.len();
                break;
            }
        }
    }
    let header = format!(
        "// Shrunk by `faultline shrink {} --seed {}`: with seed {} this scenario fails \"{}\" \
         ({}){}.\n// Check it: faultline check {} --seeds {}\n",
        path.display(),
        args.seed,
        args.seed,
        way.label,
        last_measured,
        way.cause
            .map_or(String::new(), |c| format!(", failures mostly {c}")),
        out.display(),
        args.seed
    );
    target.write(format!("{header}{text}").as_bytes())?;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "shrink {} --seed {}: fails \"{}\" ({}{})",
        path.display(),
        args.seed,
        way.label,
        measured,
        way.cause
            .map_or(String::new(), |c| format!(", failures mostly {c}"))
    );
    let _ = writeln!(
        report,
        "kept only that expectation; {} changes still fail it the same way ({last_measured}):",
        changes.len()
    );
    for c in &changes {
        let _ = writeln!(report, "  {c}");
    }
    let _ = writeln!(
        report,
        "{} runs; {}",
        runs_done,
        if minimal {
            "no smaller candidate fails: the result is minimal for these edits"
        } else {
            "stopped at --max-runs: it may shrink further with more runs"
        }
    );
    let _ = writeln!(
        report,
        "wrote {} (check it: faultline check {} --seeds {})",
        out.display(),
        out.display(),
        args.seed
    );
    crate::print_stdout(&report)?;
    Ok(ExitCode::SUCCESS)
}
