//! Expectations judged over seeds: [`check`], as `faultline check` judges a scenario's
//! `expect` section.

use std::fmt;
use std::ops::RangeInclusive;

use scenarios::spec::{Expectation, Over};

use crate::{Scenario, ci};

/// An expectation, with the words of the scenario format's `expect` section.
#[derive(Clone, Debug)]
pub struct Expect {
    pub(crate) expectation: Result<Expectation, String>,
}

/// An expectation on availability, waiting for its bound.
#[derive(Clone, Debug)]
pub struct AvailabilityOf {
    of: String,
    over: Over,
}

/// An expectation on a latency quantile, waiting for its bound.
#[derive(Clone, Debug)]
pub struct LatencyOf {
    of: String,
    quantile: f64,
    over: Over,
}

impl Expect {
    /// Availability of a client (end to end) or a service (as its callers saw it).
    pub fn availability(of: &str) -> AvailabilityOf {
        AvailabilityOf {
            of: of.to_owned(),
            over: Over::Worst,
        }
    }

    /// A latency quantile (default 0.99) of a client's or service's successful requests.
    pub fn latency(of: &str) -> LatencyOf {
        LatencyOf {
            of: of.to_owned(),
            quantile: 0.99,
            over: Over::Worst,
        }
    }

    /// At most `at_most` attempts per logical request of a client (or a service's received
    /// attempts per request entering from the clients), on the worst seed.
    pub fn amplification(of: &str, at_most: f64) -> Expect {
        Expect {
            expectation: Ok(Expectation::Amplification {
                of: of.to_owned(),
                at_most,
                over: Over::Worst,
            }),
        }
    }

    /// The service never becomes unhealthy after a fault starts, on any seed.
    pub fn no_cascade_into(service: &str) -> Expect {
        Expect {
            expectation: Ok(Expectation::NoCascadeInto {
                service: service.to_owned(),
            }),
        }
    }

    /// Every fault's impact ends within `within` (a duration such as `"30s"`) after the fault.
    pub fn recovery_within(within: &str) -> Expect {
        Expect {
            expectation: duration(within).map(|within| Expectation::RecoveryWithin { within }),
        }
    }

    /// The service never executes a logical call's work twice, on any seed.
    pub fn no_duplicate_side_effects(service: &str) -> Expect {
        Expect {
            expectation: Ok(Expectation::NoDuplicateSideEffects {
                service: service.to_owned(),
            }),
        }
    }
}

fn duration(text: &str) -> Result<scenarios::Duration, String> {
    scenarios::parse_duration(text).map(scenarios::Duration)
}

impl AvailabilityOf {
    /// Judged on the mean over seeds instead of the worst seed.
    pub fn over_mean(mut self) -> Self {
        self.over = Over::Mean;
        self
    }

    /// The bound: a share between 0 and 1.
    pub fn at_least(self, at_least: f64) -> Expect {
        let expectation = if (0.0..=1.0).contains(&at_least) {
            Ok(Expectation::Availability {
                of: self.of,
                at_least,
                over: self.over,
            })
        } else {
            Err(format!(
                "availability of {} at least {at_least}: expected a share between 0 and 1",
                self.of
            ))
        };
        Expect { expectation }
    }
}

impl LatencyOf {
    /// The quantile, between 0 and 1 (default 0.99).
    pub fn quantile(mut self, quantile: f64) -> Self {
        self.quantile = quantile;
        self
    }

    /// Judged on the mean over seeds instead of the worst seed.
    pub fn over_mean(mut self) -> Self {
        self.over = Over::Mean;
        self
    }

    /// The bound: a duration such as `"250ms"`.
    pub fn at_most(self, at_most: &str) -> Expect {
        let expectation = if !(self.quantile > 0.0 && self.quantile < 1.0) {
            Err(format!(
                "latency quantile {} of {}: expected a number between 0 and 1, such as 0.99",
                self.quantile, self.of
            ))
        } else {
            duration(at_most).map(|at_most| Expectation::Latency {
                of: self.of,
                quantile: self.quantile,
                at_most,
                over: self.over,
            })
        };
        Expect { expectation }
    }
}

/// Starts a check of the scenario's expectations, and of those added with [`Check::expect`],
/// over seeds (default `1..=20`, as `faultline check`).
pub fn check(scenario: &Scenario) -> Check<'_> {
    Check {
        scenario,
        seeds: 1..=20,
        extra: Vec::new(),
    }
}

/// A check being set up; [`Check::run`] runs it.
pub struct Check<'a> {
    scenario: &'a Scenario,
    seeds: RangeInclusive<u64>,
    extra: Vec<Expect>,
}

/// One expectation's outcome over the seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// `availability of shoppers >= 0.995 (worst seed)`.
    pub expectation: String,
    /// The value judged: the worst seed's or the mean over seeds.
    pub measured: f64,
    /// The worst seed.
    pub worst_seed: u64,
    /// Whether the expectation held.
    pub passed: bool,
    /// Measured against expected, the worst seed and the command that replays it.
    pub message: String,
}

/// A check that passed: every expectation's verdict.
#[derive(Clone, Debug)]
pub struct Passed {
    /// Per expectation, in order: the scenario's own, then those added.
    pub verdicts: Vec<Verdict>,
}

/// A check that failed: the message names each failed expectation, the worst seed and the
/// command that replays it, as `faultline check` prints them.
#[derive(Clone, Debug)]
pub struct CheckFailure {
    /// Per expectation, in order; some failed.
    pub verdicts: Vec<Verdict>,
    /// Runs a limit stopped before the scenario's end (their seeds): their figures are partial.
    pub incomplete_seeds: Vec<u64>,
    /// A problem with the check itself (a bad expectation, no expectation at all).
    pub problem: Option<String>,
    scenario: String,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "faultline check of {} failed:", self.scenario)?;
        if let Some(problem) = &self.problem {
            writeln!(f, "  {problem}")?;
        }
        for v in self.verdicts.iter().filter(|v| !v.passed) {
            writeln!(f, "  FAIL {}: {}", v.expectation, v.message)?;
        }
        if !self.incomplete_seeds.is_empty() {
            writeln!(
                f,
                "  runs stopped at a limit before the end (seeds {:?}): their figures are partial",
                self.incomplete_seeds
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for CheckFailure {}

impl Check<'_> {
    /// The seeds, both ends included.
    pub fn seeds(mut self, seeds: RangeInclusive<u64>) -> Self {
        self.seeds = seeds;
        self
    }

    /// Adds an expectation to the scenario's own.
    pub fn expect(mut self, expect: Expect) -> Self {
        self.extra.push(expect);
        self
    }

    /// Runs the seeds in parallel and judges every expectation, folding the runs in seed order
    /// (the verdicts do not depend on the number of threads).
    pub fn run(self) -> Result<Passed, CheckFailure> {
        let scenario = self.scenario;
        let failure = |problem: String| CheckFailure {
            verdicts: Vec::new(),
            incomplete_seeds: Vec::new(),
            problem: Some(problem),
            scenario: scenario.name().to_owned(),
        };
        let missing = scenario.unregistered_behaviours();
        if !missing.is_empty() {
            return Err(failure(format!(
                "custom behaviour {missing:?} is not registered: call Scenario::with_behaviour"
            )));
        }
        let mut expectations = scenario.loaded.scenario.expect.clone();
        for e in self.extra {
            expectations.push(e.expectation.map_err(failure)?);
        }
        if expectations.is_empty() {
            return Err(failure(
                "no expectations: the scenario has no `expect` and none was added".into(),
            ));
        }
        if self.seeds.is_empty() {
            return Err(failure(format!("empty seed range {:?}", self.seeds)));
        }
        let mut judge = ci::Judge::of(scenario, &expectations);
        let mut incomplete_seeds = Vec::new();
        for run in scenario.runs(self.seeds.clone()) {
            if !run.complete() {
                incomplete_seeds.push(run.seed());
            }
            judge.add(&run);
        }
        let verdicts = judge.verdicts();
        if verdicts.iter().all(|v| v.passed) && incomplete_seeds.is_empty() {
            Ok(Passed { verdicts })
        } else {
            Err(CheckFailure {
                verdicts,
                incomplete_seeds,
                problem: None,
                scenario: scenario.name().to_owned(),
            })
        }
    }
}
