//! `faultline run`: one scenario, one seed, one report, through the library's facade
//! (`faultline::Scenario::run_with`, `faultline::Run`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::files::refuse_to_overwrite;
use crate::{
    ColourChoice, Format, claim_out, emit, parse_settings, print_warnings, runs, swarm, wall,
    warn_if_partial,
};

/// What stops a `run` early, beyond the scenario's own limits.
pub(crate) struct Stops {
    pub(crate) max_events: Option<u64>,
    pub(crate) max_wall: Option<std::time::Duration>,
}

/// What `run` prints and where.
pub(crate) struct Output<'a> {
    pub(crate) format: Format,
    pub(crate) out: Option<&'a Path>,
    pub(crate) colour: ColourChoice,
    /// Print the concrete scenario a swarm file draws for the seed instead of running it.
    pub(crate) print_scenario: bool,
}

pub(crate) fn run(
    path: &Path,
    seed: u64,
    sets: &[String],
    Stops {
        max_events,
        max_wall,
    }: Stops,
    Output {
        format,
        out,
        colour,
        print_scenario,
    }: Output<'_>,
) -> Result<ExitCode> {
    let settings = parse_settings(sets)?;
    let source = swarm::Source::read(path, &settings, seed)?;
    if print_scenario {
        print_warnings(&source.warnings);
        if let Some(out) = out {
            refuse_to_overwrite(out, path)?;
        }
        let target = claim_out(out)?;
        emit(&source.concrete(seed)?, target.as_ref())?;
        return Ok(ExitCode::SUCCESS);
    }
    let scenario = source.scenario(seed)?;
    print_warnings(scenario.warnings());
    let mut options = faultline::RunOptions::default();
    if let Some(n) = max_events {
        let Some(n) = std::num::NonZeroU64::new(n) else {
            bail!("--max-events must be at least 1");
        };
        options = options.max_events(n);
    }
    if let Some(limit) = max_wall {
        options = options.stop_when(wall::deadline(limit));
    }
    if let Some(out) = out {
        refuse_to_overwrite(out, path)?;
    }
    let target = claim_out(out)?;
    let current = runs::enter(runs::RunId {
        scenario: path.to_owned(),
        seed,
        sets: settings,
        max_events,
    });
    let run = scenario.run_with(seed, options);
    current.reporting();
    warn_if_partial(path, run.partial_note());
    run.analyse();
    // The formats' code is not the run's: `run` with another --format would not reproduce it.
    drop(current);
    let report = match format {
        Format::Text if colour.colours(out.is_none()) => run.text_in_colour(),
        Format::Text => run.text(),
        Format::Json => run.json(),
        Format::Csv => run.csv(),
        Format::Md => run.markdown(),
        Format::Html => run.html(),
    };
    emit(&report, target.as_ref())?;
    Ok(ExitCode::SUCCESS)
}
