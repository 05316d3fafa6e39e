//! `faultline compare`: two scenarios, or one and its `--set` variant, over the same seeds,
//! run and folded through the library's facade (`faultline::Side`, `faultline::Comparison`).

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
    let side = |source: &swarm::Source, sets: &[(String, String)]| -> Result<faultline::Side> {
        let first = source.scenario(seeds[0])?;
        let label = if sets.is_empty() {
            first.name().to_owned()
        } else {
            // B's name says what changed when it is A's own variant or carries overrides.
            let changes: Vec<String> = sets.iter().map(|(p, v)| format!("{p}={v}")).collect();
            format!("{} with {}", first.name(), changes.join(", "))
        };
        let mut side = faultline::Side::new(&label, &first);
        let runs = workers.in_order(&seeds, |&seed| -> Result<_> {
            let run = runs::RunId {
                scenario: source.path.clone(),
                seed,
                sets: sets.to_vec(),
                max_events: None,
            };
            Ok(runs::simulate_scenario(run, &*source.scenario(seed)?))
        });
        let bar = runs::progress(seeds.len() as u64, 0);
        // Folded in seed order: the result is the same for any number of threads.
        for run in runs.inspect(|chunk| bar.inc(chunk.len() as u64)).flatten() {
            side.add(&run?);
        }
        bar.finish_and_clear();
        Ok(side)
    };
    let (a, b) = (side(&a, &[])?, side(&b, &settings)?);
    for s in [&a, &b] {
        if let Some(sentence) = s.incomplete_note() {
            eprintln!("warning: {sentence}");
        }
    }
    let comparison = faultline::Comparison::of(a, b);
    let report = match format {
        CompareFormat::Text => comparison.text(),
        CompareFormat::Json => comparison.json(),
        CompareFormat::Md => comparison.markdown(),
        CompareFormat::Html => comparison.html(),
    };
    emit(&report, target.as_ref())?;
    Ok(ExitCode::SUCCESS)
}
