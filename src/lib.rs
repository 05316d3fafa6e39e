//! faultline as a library: load or write a scenario, run it from a seed, sweep seeds, check
//! expectations and compare two designs from Rust, for example inside `cargo test`.
//!
//! The `faultline` binary and this library read the same scenario files (RON, described in the
//! README) and give the same numbers: a run here is byte for byte the run of
//! `faultline run SCENARIO --seed N`.
//!
//! ```
//! use faultline::{Expect, Scenario};
//!
//! let scenario = Scenario::from_ron(
//!     "queue.ron",
//!     r#"Scenario(
//!         version: 1,
//!         name: "queue",
//!         duration: "20s",
//!         services: [Service(name: "server", workers: 1, service_time: Exponential(mean: "1ms"))],
//!         clients: [Client(name: "users", to: "server", arrivals: Poisson(rate_per_s: 500.0))],
//!     )"#,
//! )?;
//!
//! // One seed, read as typed figures. One worker and no queue (the default) is Erlang's loss
//! // system: at load 0.5 a third of the requests find the worker busy and are rejected.
//! let run = scenario.run(1);
//! let users = run.client("users").expect("a client of the scenario");
//! assert!((users.availability - 2.0 / 3.0).abs() < 0.02);
//! assert_eq!(users.failed, users.failed_by_cause["rejected"]);
//!
//! // Expectations over seeds, as `faultline check` judges them.
//! faultline::check(&scenario)
//!     .seeds(1..=4)
//!     .expect(Expect::availability("users").at_least(0.6))
//!     .expect(Expect::latency("users").quantile(0.99).at_most("50ms"))
//!     .run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Determinism: the same scenario and seed give the same [`Run`] on every machine and for any
//! number of threads; [`Scenario::runs`] runs seeds in parallel and returns them in seed order.

#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use scenarios::spec::{Expectation, Over};

mod builder;
pub mod ci;
mod options;

pub use builder::{
    Across, Backoff, Breaker, Bulkhead, Call, Client, Crash, Direction, Dist, Endpoint, Fallback,
    Fault, Health, Lb, Outlier, Partition, Place, Placement, Policy, Region, Retry,
    ScenarioBuilder, Service, Target,
};
pub use models::custom::{
    Answer, Behaviour, BehaviourRng, Calls, Cause, Decision, Request, ServiceState,
};
pub use options::{LoadOptions, RunOptions};

/// Why a scenario could not be used: the file could not be read, its text is not a scenario,
/// or it is inconsistent. The message names the file, line and column, and what was expected,
/// as the binary prints it.
#[derive(Debug)]
pub struct Error {
    message: String,
}

impl Error {
    fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<scenarios::ScenarioError> for Error {
    fn from(e: scenarios::ScenarioError) -> Self {
        Error::new(e.to_string())
    }
}

/// A scenario read and checked: services, clients, network, policies, faults and expectations.
#[derive(Clone)]
pub struct Scenario {
    loaded: scenarios::Loaded,
    /// The text it was read from, so that [`Scenario::set`] can re-check the changed scenario
    /// against it and point at lines.
    source: String,
    /// `--set` overrides applied, in order, for the replay command of a failed check.
    sets: Vec<(String, String)>,
    /// Custom kinds refused ([`LoadOptions::builtin_only`]): kept for [`Scenario::set`].
    builtin_only: bool,
    /// The behaviours registered for `kind: Custom(name)` services, by name.
    behaviours: BTreeMap<String, Factory>,
}

/// Parses, overrides, checks and builds, as [`LoadOptions`] says.
fn load(
    path: &Path,
    text: &str,
    sets: &[(String, String)],
    builtin_only: bool,
) -> Result<scenarios::Loaded, Error> {
    Ok(if builtin_only {
        scenarios::load_source_with(path, text, sets)?
    } else {
        scenarios::load_library(path, text, sets)?
    })
}

/// Makes a fresh behaviour for each run: runs of a sweep go on in parallel, and each must
/// start from the same state for its result not to depend on the others.
type Factory = Arc<dyn Fn() -> Box<dyn Behaviour> + Send + Sync>;

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario")
            .field("path", &self.loaded.path)
            .field("name", &self.loaded.config.name)
            .field("sets", &self.sets)
            .field("behaviours", &self.behaviours.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Scenario {
    /// Reads, parses and checks the scenario file at `path`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Scenario, Error> {
        let path = path.as_ref();
        let source = scenarios::read_source(path)?;
        Scenario::from_ron(path, &source)
    }

    /// Parses and checks a scenario from its RON text; `name` (a file name) only appears in
    /// error messages and in replay commands.
    pub fn from_ron(name: impl AsRef<Path>, text: &str) -> Result<Scenario, Error> {
        Scenario::from_ron_with(name, text, &LoadOptions::default())
    }

    /// [`Scenario::from_ron`] with overrides applied before the scenario is checked, and
    /// optionally without custom kinds, as the binary reads a file with `--set` flags.
    ///
    /// ```
    /// use faultline::{LoadOptions, Scenario};
    ///
    /// let text = std::fs::read_to_string(faultline::library("checkout.ron")).unwrap();
    /// let options = LoadOptions {
    ///     sets: vec![("services.payments.workers".into(), "64".into())],
    ///     builtin_only: true,
    /// };
    /// let scenario = Scenario::from_ron_with("checkout.ron", &text, &options)?;
    /// assert!(scenario.replay_command(3).ends_with("--set 'services.payments.workers=64'"));
    /// # Ok::<(), faultline::Error>(())
    /// ```
    pub fn from_ron_with(
        name: impl AsRef<Path>,
        text: &str,
        options: &LoadOptions,
    ) -> Result<Scenario, Error> {
        let loaded = load(name.as_ref(), text, &options.sets, options.builtin_only)?;
        Ok(Scenario {
            loaded,
            source: text.to_owned(),
            sets: options.sets.clone(),
            builtin_only: options.builtin_only,
            behaviours: BTreeMap::new(),
        })
    }

    /// The scenario with `name`'s behaviour registered: its services of kind
    /// `Custom("name")` run a fresh behaviour from `factory` in each run.
    ///
    /// ```
    /// use std::time::Duration;
    /// use faultline::{Behaviour, BehaviourRng, Calls, Decision, Request, Scenario, ServiceState};
    ///
    /// /// Answers from memory when idle, asks its store when busy.
    /// struct Lazy;
    /// impl Behaviour for Lazy {
    ///     fn decide(&mut self, _: &Request, s: &ServiceState, _: &mut BehaviourRng) -> Decision {
    ///         let d = Decision::ok(Duration::from_micros(200));
    ///         if s.queue_length == 0 { d.calls(Calls::None) } else { d }
    ///     }
    /// }
    ///
    /// let scenario = Scenario::from_ron("lazy.ron", r#"Scenario(version: 1, name: "lazy",
    ///     duration: "5s",
    ///     services: [
    ///         Service(name: "cache", workers: 4, queue: 16, kind: Custom("lazy"),
    ///                 service_time: Constant(value: "1ms"), calls: [Call(to: "store")]),
    ///         Service(name: "store", workers: 4, service_time: Exponential(mean: "2ms")),
    ///     ],
    ///     clients: [Client(name: "users", to: "cache", arrivals: Poisson(rate_per_s: 100.0))],
    /// )"#)?
    /// .with_behaviour("lazy", || Lazy);
    /// let run = scenario.run(1);
    /// assert!(run.service("store").unwrap().requests < run.client("users").unwrap().requests);
    /// # Ok::<(), faultline::Error>(())
    /// ```
    pub fn with_behaviour<B, F>(mut self, name: &str, factory: F) -> Scenario
    where
        B: Behaviour + 'static,
        F: Fn() -> B + Send + Sync + 'static,
    {
        let factory: Factory = Arc::new(move || Box::new(factory()) as Box<dyn Behaviour>);
        self.behaviours.insert(name.to_owned(), factory);
        self
    }

    /// The custom behaviour names the scenario uses and no [`Scenario::with_behaviour`]
    /// registered, in file order.
    pub fn unregistered_behaviours(&self) -> Vec<String> {
        self.loaded
            .scenario
            .services
            .iter()
            .filter_map(|s| match &s.kind {
                scenarios::spec::ServiceKind::Custom(n) if !self.behaviours.contains_key(n) => {
                    Some(n.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// The scenario with one parameter changed, as `--set PATH=VALUE` changes it on the command
    /// line (paths in the README: `services.payments.workers`, `edges.api->db.timeout`, ...).
    pub fn set(&self, path: &str, value: &str) -> Result<Scenario, Error> {
        let mut sets = self.sets.clone();
        sets.push((path.to_owned(), value.to_owned()));
        let loaded = load(&self.loaded.path, &self.source, &sets, self.builtin_only)?;
        Ok(Scenario {
            loaded,
            source: self.source.clone(),
            sets,
            builtin_only: self.builtin_only,
            behaviours: self.behaviours.clone(),
        })
    }

    /// The scenario's `name`.
    pub fn name(&self) -> &str {
        &self.loaded.config.name
    }

    /// Where the scenario came from (the file, or the name given to [`Scenario::from_ron`]).
    pub fn path(&self) -> &Path {
        &self.loaded.path
    }

    /// Deprecated spellings the scenario uses, one line each (`file:line:column: ...`).
    pub fn warnings(&self) -> &[String] {
        &self.loaded.warnings
    }

    /// Runs the scenario with one seed.
    ///
    /// # Panics
    ///
    /// If the scenario uses a custom behaviour that was not registered (see
    /// [`Scenario::unregistered_behaviours`]).
    pub fn run(&self, seed: u64) -> Run {
        self.run_with(seed, RunOptions::default())
    }

    /// Runs the scenario with one seed under bounds of its own (see [`RunOptions`]).
    ///
    /// ```
    /// use std::num::NonZeroU64;
    /// use faultline::{RunOptions, Scenario};
    ///
    /// let scenario = Scenario::from_file(faultline::library("checkout.ron"))?;
    /// let run = scenario.run_with(1, RunOptions::default().max_events(NonZeroU64::new(1000).unwrap()));
    /// assert!(!run.complete());
    /// assert_eq!(run.stop_reason(), "max_events");
    /// assert!(run.partial_note().unwrap().starts_with("stopped at the event limit (1000 events)"));
    /// # Ok::<(), faultline::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Scenario::run`].
    pub fn run_with(&self, seed: u64, options: RunOptions) -> Run {
        let missing = self.unregistered_behaviours();
        assert!(
            missing.is_empty(),
            "custom behaviour {missing:?} of {} is not registered: call Scenario::with_behaviour",
            self.loaded.path.display()
        );
        let mut config = std::borrow::Cow::Borrowed(&self.loaded.config);
        if let Some(n) = options.max_events {
            config.to_mut().max_events = n.get();
        }
        let config = config.as_ref();
        let behaviours = self
            .loaded
            .scenario
            .services
            .iter()
            .filter_map(|s| match &s.kind {
                scenarios::spec::ServiceKind::Custom(n) => {
                    let id = config.services.iter().position(|c| c.name == s.name)?;
                    Some((models::config::ServiceId(id as u32), self.behaviours[n]()))
                }
                _ => None,
            })
            .collect();
        let result = models::World::new(config, seed)
            .with_behaviours(config, behaviours)
            .run(models::RunOptions {
                interrupt: options.stop_when,
                ..models::RunOptions::default()
            });
        Run {
            result,
            analysis: OnceLock::new(),
        }
    }

    /// Runs every seed of `seeds` over the cores, and returns the runs in seed order: the
    /// result does not depend on the number of threads.
    pub fn runs(&self, seeds: RangeInclusive<u64>) -> Vec<Run> {
        let seeds: Vec<u64> = seeds.collect();
        seeds.par_iter().map(|&seed| self.run(seed)).collect()
    }

    /// The command that replays `seed` of this scenario with the binary.
    pub fn replay_command(&self, seed: u64) -> String {
        let mut command = format!(
            "faultline replay {} --seed {seed}",
            self.loaded.path.display()
        );
        for (p, v) in &self.sets {
            command.push_str(&format!(" --set '{p}={v}'"));
        }
        command
    }
}

/// One run of a scenario with one seed: its figures, fingerprint and reports.
pub struct Run {
    result: models::RunResult,
    /// Made at the first figure or report that needs it (or by [`Run::analyse`]).
    analysis: OnceLock<reports::Analysis>,
}

/// How requests of one client or service ended over a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Requests started.
    pub requests: u64,
    /// Answered (degraded answers included).
    pub ok: u64,
    /// Failed, all causes.
    pub failed: u64,
    /// Failures by cause (`timeout`, `rejected`, `circuit_open`, ...), causes that occurred only.
    pub failed_by_cause: BTreeMap<String, u64>,
    /// ok / (ok + failed); 1 when nothing finished.
    pub availability: f64,
    /// Latency quantiles of the successful requests (zero when none succeeded).
    pub p50: std::time::Duration,
    /// The 99th percentile.
    pub p99: std::time::Duration,
    /// The 99.9th percentile.
    pub p999: std::time::Duration,
}

impl Figures {
    fn of(stats: &models::metrics::OutcomeStats) -> Figures {
        let quantile = |q: f64| std::time::Duration::from_nanos(stats.latency.quantile(q).0);
        Figures {
            requests: stats.requests,
            ok: stats.ok,
            failed: stats.failed(),
            failed_by_cause: models::metrics::FailureCause::ALL
                .into_iter()
                .filter(|&c| stats.failed_by(c) > 0)
                .map(|c| (c.as_str().to_owned(), stats.failed_by(c)))
                .collect(),
            availability: stats.availability(),
            p50: quantile(0.5),
            p99: quantile(0.99),
            p999: quantile(0.999),
        }
    }
}

impl Run {
    /// Analyses the run now (fault impact, cascades, recovery) rather than at the first report
    /// that needs it: a tool that times the simulation apart from the analysis, or attributes a
    /// crash to one or the other (the binary does), calls it.
    pub fn analyse(&self) -> &Self {
        self.analysis();
        self
    }

    fn analysis(&self) -> &reports::Analysis {
        self.analysis.get_or_init(|| reports::analyse(&self.result))
    }

    /// Why the run stopped: `end_time` or `queue_empty` for a complete run; `max_events`,
    /// `memory` or `interrupted` for one a limit stopped (the JSON report's `stop`).
    pub fn stop_reason(&self) -> &'static str {
        self.result.outcome.stop.as_str()
    }

    /// For a run a limit stopped: which limit, after how many events, at what simulated time,
    /// and what to raise, as the binary warns (`stopped at the event limit (1000 events) at
    /// ...`); `None` for a complete run.
    pub fn partial_note(&self) -> Option<String> {
        reports::partial_note(&self.result)
    }

    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.result.seed
    }

    /// The run's fingerprint, 16 hex digits, as `faultline replay` prints it.
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", self.result.outcome.fingerprint.value())
    }

    /// Events processed.
    pub fn events(&self) -> u64 {
        self.result.outcome.events
    }

    /// Whether the run reached the scenario's end (no limit stopped it).
    pub fn complete(&self) -> bool {
        reports::is_complete(&self.result)
    }

    /// A client's figures, end to end.
    pub fn client(&self, name: &str) -> Option<Figures> {
        let c = self.result.clients.iter().find(|c| c.name == name)?;
        Some(Figures::of(&c.stats))
    }

    /// A service's figures, as its callers saw it.
    pub fn service(&self, name: &str) -> Option<Figures> {
        let s = self.result.services.iter().find(|s| s.name == name)?;
        Some(Figures::of(&s.stats))
    }

    /// The services that became unhealthy after a fault, in cascade order, per fault.
    pub fn cascades(&self) -> Vec<Vec<String>> {
        self.analysis()
            .faults
            .iter()
            .map(|f| f.cascade.iter().map(|s| s.name.clone()).collect())
            .collect()
    }

    /// The JSON report, as `faultline run --format json` prints it.
    pub fn json(&self) -> String {
        reports::json_string_with(&self.result, self.analysis())
    }

    /// The text report, without colour.
    pub fn text(&self) -> String {
        reports::text(&self.result, self.analysis(), false)
    }

    /// The text report with ANSI colours, for a terminal.
    pub fn text_in_colour(&self) -> String {
        reports::text(&self.result, self.analysis(), true)
    }

    /// The time series as CSV: one row per window per service, client and edge.
    pub fn csv(&self) -> String {
        reports::csv::csv(&self.result)
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        reports::markdown::markdown(&self.result, self.analysis())
    }

    /// The HTML report: one self-contained page.
    pub fn html(&self) -> String {
        reports::html::html(&self.result, self.analysis())
    }
}

/// An expectation, with the words of the scenario format's `expect` section.
#[derive(Clone, Debug)]
pub struct Expect {
    expectation: Result<Expectation, String>,
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

/// Runs two scenarios over the same seeds and sets them side by side, as `faultline compare`.
pub fn compare(a: &Scenario, b: &Scenario, seeds: RangeInclusive<u64>) -> Comparison {
    let aggregate = |s: &Scenario| {
        let config = &s.loaded.config;
        let mut aggregate = reports::compare::Aggregate::new(&config.name, config.window);
        for run in s.runs(seeds.clone()) {
            aggregate.add(&run.result, run.analysis());
        }
        aggregate
    };
    Comparison {
        inner: reports::compare::Comparison {
            a: aggregate(a),
            b: aggregate(b),
        },
    }
}

/// Two scenarios over the same seeds.
pub struct Comparison {
    inner: reports::compare::Comparison,
}

impl Comparison {
    /// The side-by-side text, as `faultline compare` prints it.
    pub fn text(&self) -> String {
        reports::compare::compare_text(&self.inner)
    }

    /// The comparison as JSON.
    pub fn json(&self) -> String {
        reports::compare::compare_json_string(&self.inner)
    }

    /// The comparison in Markdown.
    pub fn markdown(&self) -> String {
        reports::compare::compare_markdown(&self.inner)
    }
}

/// The path a scenario file in the repository's library has, for examples and tests that run
/// from the repository: `library("checkout.ron")`.
pub fn library(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/library")
        .join(name)
}
