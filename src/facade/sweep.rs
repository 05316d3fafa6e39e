//! Sweeps: every seed of a range times every point of `--set` values, summarised per run into a
//! document that can be checkpointed, resumed, sharded and merged, as `faultline sweep` and
//! `faultline merge` do (the binary is this module plus files, threads and a progress bar).
//!
//! ```
//! use faultline::Scenario;
//! use faultline::sweep::{Definition, Document};
//!
//! let path = faultline::library("checkout.ron");
//! let definition = Definition {
//!     scenario_path: path.display().to_string(),
//!     scenario: "checkout".into(),
//!     digest: faultline::sweep::file_digest(&path)?,
//!     seeds: (1, 2),
//!     sets: vec![("services.payments.workers".into(), vec!["8".into(), "64".into()])],
//!     expect: Vec::new(),
//! };
//! let base = Scenario::from_file(&path)?;
//! let mut doc = Document { definition: definition.clone(), shard: None, runs: Vec::new() };
//! for index in 0..definition.run_count() {
//!     let (point, seed) = definition.run(index);
//!     let mut scenario = base.clone();
//!     for (p, v) in &definition.points()[point] {
//!         scenario = scenario.set(p, v)?;
//!     }
//!     doc.runs.push(faultline::sweep::summarise(index, &scenario, &scenario.run(seed)));
//! }
//! assert!(doc.has_every_run());
//! assert!(doc.text().contains("services.payments.workers=64"));
//! # Ok::<(), faultline::Error>(())
//! ```

use std::path::Path;

pub use reports::check::Spec;
pub use reports::sweep::{Definition, Document, RunSummary};

use crate::{Error, Run, Scenario};

/// The digest of the scenario file's bytes the document records: a changed file neither
/// resumes nor merges.
pub fn file_digest(path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|source| {
        Error::from(scenarios::ScenarioError::Io {
            path: path.to_owned(),
            source,
        })
    })?;
    Ok(reports::sweep::digest(&bytes))
}

/// How the scenario's `expect` section is judged in a sweep ([`Definition::expect`]).
pub fn expectations(scenario: &Scenario) -> Vec<Spec> {
    reports::check::specs(&scenario.loaded.scenario.expect)
}

/// Run `index` of a sweep, summarised: its metrics, fingerprint and the values of the
/// scenario's expectations (judged per point when every run is in).
pub fn summarise(index: u64, scenario: &Scenario, run: &Run) -> RunSummary {
    let mut one = reports::check::Evaluator::new(&scenario.loaded.scenario.expect);
    one.add(&run.result, run.analysis());
    let mut summary = reports::sweep::summarise(index, &run.result, run.analysis());
    summary.expect = reports::sweep::run_values(&one.finish());
    summary
}

/// The document as one self-contained HTML page: a chart of each metric against the swept
/// parameter.
pub fn html(doc: &Document) -> String {
    reports::html::sweep_html(doc)
}
