//! `faultline compare`: two scenarios, or one and its `--set` variant, over the same seeds.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::files::refuse_to_overwrite;
use crate::{CompareFormat, Seeds, claim_out, emit, parse_settings, print_warnings, runs, swarm};

#[allow(clippy::too_many_arguments)]
pub fn compare(
    path_a: &Path,
    path_b: Option<&Path>,
    sets: &[String],
    seeds: Seeds,
    format: CompareFormat,
    out: Option<&Path>,
    jobs: Option<usize>,
) -> Result<ExitCode> {
    let settings = parse_settings(sets)?;
    if path_b.is_none() && settings.is_empty() {
        bail!("compare needs scenario B, or --set PATH=VALUE to compare A with its own variant");
    }
    let path_b = path_b.unwrap_or(path_a);
    let a = swarm::Source::read(path_a, &[], seeds.first)?;
    print_warnings(&a.warnings);
    let b = swarm::Source::read(path_b, &settings, seeds.first)?;
    print_warnings(&b.warnings);
    for o in out.iter() {
        refuse_to_overwrite(o, path_a)?;
        refuse_to_overwrite(o, path_b)?;
    }
    let target = claim_out(out)?;
    let workers = runs::Workers::new(jobs)?;
    let seeds: Vec<u64> = (seeds.first..=seeds.last).collect();
    let aggregate = |source: &swarm::Source,
                     sets: &[(String, String)]|
     -> Result<reports::compare::Aggregate> {
        let first = source.load(seeds[0])?;
        let label = if sets.is_empty() {
            first.config.name.clone()
        } else {
            // B's name says what changed when it is A's own variant or carries overrides.
            let changes: Vec<String> = sets.iter().map(|(p, v)| format!("{p}={v}")).collect();
            format!("{} with {}", first.config.name, changes.join(", "))
        };
        let mut aggregate = reports::compare::Aggregate::new(&label, first.config.window);
        let runs = workers.in_order(&seeds, |&seed| -> Result<_> {
            let run = runs::RunId {
                scenario: source.path.clone(),
                seed,
                sets: sets.to_vec(),
                max_events: None,
            };
            Ok(runs::simulate(run, &source.load(seed)?.config))
        });
        let bar = runs::progress(seeds.len() as u64, 0);
        // Folded in seed order: the result is the same for any number of threads.
        for run in runs.inspect(|chunk| bar.inc(chunk.len() as u64)).flatten() {
            let (result, analysis) = run?;
            aggregate.add(&result, &analysis);
        }
        bar.finish_and_clear();
        Ok(aggregate)
    };
    let comparison = reports::compare::Comparison {
        a: aggregate(&a, &[])?,
        b: aggregate(&b, &settings)?,
    };
    for agg in [&comparison.a, &comparison.b] {
        if let Some(sentence) = agg.incomplete_sentence() {
            eprintln!("warning: {sentence}");
        }
    }
    let report = match format {
        CompareFormat::Text => reports::compare::compare_text(&comparison),
        CompareFormat::Json => reports::compare::compare_json_string(&comparison),
        CompareFormat::Md => reports::compare::compare_markdown(&comparison),
        CompareFormat::Html => reports::html::compare_html(&comparison),
    };
    emit(&report, target.as_ref())?;
    Ok(ExitCode::SUCCESS)
}
