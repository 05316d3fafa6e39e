//! Expectations judged over runs the caller makes itself, and the documents `faultline check`
//! writes for CI systems (JUnit XML, baselines).
//!
//! [`check`](crate::check) runs the seeds and judges them in one call. A tool that runs the
//! seeds itself (its own threads, a progress bar, runs stopped by a deadline) adds them to a
//! [`Judge`] in seed order instead, and gets the same verdicts:
//!
//! ```
//! use faultline::{Scenario, ci::Judge};
//!
//! let scenario = Scenario::from_file(faultline::library("burst-reject.ron"))?;
//! let mut judge = Judge::new(&scenario);
//! for seed in 1..=2 {
//!     judge.add(&scenario.run(seed));
//! }
//! let results = judge.results();
//! assert_eq!(results[0].label, "availability of uploads >= 0.99 (worst seed)");
//! assert_eq!(results[0].per_seed.len(), 2);
//! // The same verdict as `faultline::check` over the same seeds.
//! let failure = faultline::check(&scenario).seeds(1..=2).run().unwrap_err();
//! assert_eq!(failure.verdicts[0].measured, results[0].measured);
//! # Ok::<(), faultline::Error>(())
//! ```

use reports::check::Evaluator;
pub use reports::check::{
    ExpectationResult, IncompleteRun, ScenarioCheck, baseline_json, compare_baseline,
    failure_message, junit, parse_baseline,
};
use scenarios::spec::Expectation;

use crate::{Run, Scenario, Verdict};

/// A scenario's expectations measured run by run; add the runs in seed order, so that the
/// verdicts do not depend on the order the runs finished in.
pub struct Judge {
    evaluator: Evaluator,
    scenario: Scenario,
}

impl Judge {
    /// Judges the scenario's own `expect` section.
    pub fn new(scenario: &Scenario) -> Judge {
        Judge::of(scenario, &scenario.loaded.scenario.expect)
    }

    pub(crate) fn of(scenario: &Scenario, expectations: &[Expectation]) -> Judge {
        Judge {
            evaluator: Evaluator::new(expectations),
            scenario: scenario.clone(),
        }
    }

    /// Measures one run for every expectation.
    pub fn add(&mut self, run: &Run) {
        self.evaluator.add(&run.result, run.analysis());
    }

    /// Every expectation's measure per seed, worst seed and verdict, as `faultline check`
    /// prints them and writes them as JUnit XML or a baseline.
    pub fn results(self) -> Vec<ExpectationResult> {
        self.evaluator.finish()
    }

    /// Every expectation's verdict, with the command that replays its worst seed.
    pub fn verdicts(self) -> Vec<Verdict> {
        let scenario = self.scenario;
        self.evaluator
            .finish()
            .into_iter()
            .map(|r| Verdict {
                message: format!(
                    "measured {}, expected {}; worst seed {} ({}); replay: {}",
                    r.format(r.measured),
                    r.bound,
                    r.worst_seed,
                    r.format(r.worst),
                    scenario.replay_command(r.worst_seed)
                ),
                expectation: r.label,
                measured: r.measured,
                worst_seed: r.worst_seed,
                passed: r.passed,
            })
            .collect()
    }
}
