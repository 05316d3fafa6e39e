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

mod builder;
pub mod ci;
mod facade;
mod options;
#[path = "facade/sweep.rs"]
pub mod sweep;

pub use builder::{
    Across, Backoff, Breaker, Bulkhead, Call, Client, Crash, Direction, Dist, Endpoint, Fallback,
    Fault, Health, Lb, Outlier, Partition, Place, Placement, Policy, Region, Retry,
    ScenarioBuilder, Service, Target,
};
pub use facade::compare::{Comparison, Side, compare};
pub use facade::expect::{
    AvailabilityOf, Check, CheckFailure, Expect, LatencyOf, Passed, Verdict, check,
};
pub use facade::run::{Figures, Run};
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

    /// The services' names, in the order of the file (as `faultline validate` counts them).
    pub fn services(&self) -> Vec<&str> {
        let services = &self.loaded.config.services;
        services.iter().map(|s| s.name.as_str()).collect()
    }

    /// The clients' names, in the order of the file.
    pub fn clients(&self) -> Vec<&str> {
        let clients = &self.loaded.config.clients;
        clients.iter().map(|c| c.name.as_str()).collect()
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

/// The path a scenario file in the repository's library has, for examples and tests that run
/// from the repository: `library("checkout.ron")`.
pub fn library(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/library")
        .join(name)
}
