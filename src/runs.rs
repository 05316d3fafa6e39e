//! Runs of one scenario and seed: spread over worker threads and folded back in seed order, each
//! recorded as its thread's current run so that a panic prints the command that reproduces it.
//!
//! Test hook: `FAULTLINE_TEST_PANIC_AT_SEED=N` makes every run of seed N panic as it starts, so
//! the end-to-end tests can see what a crash in the simulator prints. Only the binary reads it.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use models::config::WorldConfig;
use models::{RunOptions, RunResult, World};
use rayon::prelude::*;
use reports::Analysis;

/// What a run needs to be reproduced on the command line.
#[derive(Clone, Debug)]
pub struct RunId {
    pub scenario: PathBuf,
    pub seed: u64,
    /// `--set` overrides in the order given, one value each.
    pub sets: Vec<(String, String)>,
    pub max_events: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// `replay` reproduces the run and can trace it.
    Simulation,
    /// The simulation ended; only `run` goes on to analyse and report it.
    Report,
}

thread_local! {
    static CURRENT: RefCell<Option<(RunId, Stage)>> = const { RefCell::new(None) };
}

/// The thread's current run from `enter` until dropped.
pub struct Current {
    previous: Option<(RunId, Stage)>,
}

/// Records `run` as this thread's current run, in its simulation stage.
pub fn enter(run: RunId) -> Current {
    let seed = run.seed;
    let previous = CURRENT.with(|c| c.replace(Some((run, Stage::Simulation))));
    let current = Current { previous };
    if test_panic_seed() == Some(seed) {
        panic!("FAULTLINE_TEST_PANIC_AT_SEED={seed}: a panic on purpose, for the tests");
    }
    current
}

impl Current {
    /// The simulation is over: a panic from here on is reproduced by `run`, not `replay`.
    pub fn reporting(&self) {
        CURRENT.with(|c| {
            if let Some((_, stage)) = c.borrow_mut().as_mut() {
                *stage = Stage::Report;
            }
        });
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

fn test_panic_seed() -> Option<u64> {
    static SEED: OnceLock<Option<u64>> = OnceLock::new();
    *SEED.get_or_init(|| {
        std::env::var("FAULTLINE_TEST_PANIC_AT_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
    })
}

/// Adds to the default panic message the run the panicking thread was in and the command that
/// reproduces it; the process still exits with 101.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        // try_borrow: a panic inside the hook would abort without a message.
        let current = CURRENT.with(|c| c.try_borrow().ok().and_then(|c| c.clone()));
        if let Some((run, stage)) = current {
            eprintln!(
                "error: faultline crashed in scenario {} with seed {} (a bug in faultline; please \
                 report it with this command)\nreproduce with: {}",
                run.scenario.display(),
                run.seed,
                command(&run, stage)
            );
        }
    }));
}

fn command(run: &RunId, stage: Stage) -> String {
    let verb = match stage {
        Stage::Simulation => "replay",
        Stage::Report => "run",
    };
    let mut out = format!(
        "faultline {verb} {} --seed {}",
        shell_word(&run.scenario.display().to_string()),
        run.seed
    );
    for (path, value) in &run.sets {
        out.push_str(&format!(" --set {}", quote(&format!("{path}={value}"))));
    }
    if let Some(n) = run.max_events {
        out.push_str(&format!(" --max-events {n}"));
    }
    out
}

/// A word as a POSIX shell reads it back: bare when it is plain, otherwise quoted.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:,+@%=".contains(&b));
    if plain { text.to_owned() } else { quote(text) }
}

/// Single quotes, as the sweep prints its `--set` flags; a quote inside becomes `'\''`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// One run and its analysis, under its context.
pub fn simulate(run: RunId, config: &WorldConfig) -> (RunResult, Analysis) {
    let seed = run.seed;
    let current = enter(run);
    let options = RunOptions {
        interrupt: crate::wall::command_interrupt(),
        ..RunOptions::default()
    };
    let result = World::new(config, seed).run(options);
    current.reporting();
    let analysis = reports::analyse(&result);
    (result, analysis)
}

/// One run of a scenario through the library's facade, under its context, analysed before
/// it returns (a crash in the analysis is attributed to `run`, not `replay`).
pub fn simulate_scenario(run: RunId, scenario: &faultline::Scenario) -> faultline::Run {
    let seed = run.seed;
    let current = enter(run);
    let mut options = faultline::RunOptions::default();
    if let Some(stop) = crate::wall::command_interrupt() {
        options = options.stop_when(stop);
    }
    let done = scenario.run_with(seed, options);
    current.reporting();
    done.analyse();
    done
}

/// The cores this process may use (1 when the system does not say).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The most `--jobs` allowed: 4 threads per core. Runs are CPU-bound, so more only costs
/// memory and thread start-up (100000 threads took 45 s to fail).
pub fn max_jobs(cores: usize) -> usize {
    cores.saturating_mul(4).max(1)
}

fn check_jobs(jobs: usize, cores: usize) -> Result<()> {
    let max = max_jobs(cores);
    if jobs == 0 || jobs > max {
        anyhow::bail!(
            "--jobs {jobs}: expected 1 to {max} (at most 4 per core; this machine has {cores}); \
             leave it out for one per core"
        );
    }
    Ok(())
}

/// A progress bar on standard error, for a terminal only: hidden in a pipe and under `CI`, so
/// logs and outputs never hold it.
pub fn progress(total: u64, done: u64) -> indicatif::ProgressBar {
    let visible = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} runs, ETA {eta}",
        )
        .expect("a valid template"),
    );
    bar.set_position(done);
    bar
}

/// The worker threads of `--jobs`.
pub struct Workers {
    pool: rayon::ThreadPool,
}

impl Workers {
    /// `None` for one per core; at most [`max_jobs`] threads, checked before any is made.
    pub fn new(jobs: Option<usize>) -> Result<Workers> {
        if let Some(jobs) = jobs {
            check_jobs(jobs, cores())?;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.unwrap_or(0))
            .build()
            .context("cannot start the worker threads")?;
        Ok(Workers { pool })
    }

    /// Runs `run` on every item over the threads, a chunk at a time as the caller asks for
    /// the next chunk, and yields each chunk's results in the items' order. The caller folds
    /// them in that order, so the outcome does not depend on the number of threads (never a
    /// parallel sum of floats); chunks bound the memory to a few results per thread.
    pub fn in_order<'a, T, R>(
        &'a self,
        items: &'a [T],
        run: impl Fn(&T) -> R + Sync + 'a,
    ) -> impl Iterator<Item = Vec<R>> + 'a
    where
        T: Sync,
        R: Send,
    {
        let chunk_size = 8 * self.pool.current_num_threads().max(1);
        items.chunks(chunk_size).map(move |chunk| {
            let results: Vec<R> = self.pool.install(|| chunk.par_iter().map(&run).collect());
            debug_assert_eq!(results.len(), chunk.len());
            results
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_in_item_order_for_any_number_of_threads() {
        let items: Vec<u64> = (0..1000).collect();
        for jobs in [1, 2, 5] {
            let workers = Workers::new(Some(jobs)).expect("threads");
            let mut seen = Vec::new();
            let mut chunks = 0;
            for results in workers.in_order(&items, |&i| i * 3) {
                chunks += 1;
                seen.extend(results);
            }
            assert_eq!(seen, items.iter().map(|i| i * 3).collect::<Vec<_>>());
            assert_eq!(chunks, items.len().div_ceil(8 * jobs), "jobs {jobs}");
        }
    }

    #[test]
    fn jobs_are_between_one_and_four_per_core() {
        assert!(check_jobs(1, 2).is_ok());
        assert!(check_jobs(8, 2).is_ok());
        for bad in [0, 9, 100_000] {
            let message = check_jobs(bad, 2).expect_err("refused").to_string();
            assert!(message.contains("expected 1 to 8"), "{message}");
        }
    }

    #[test]
    fn the_reproducing_command_quotes_what_the_shell_would_split() {
        let run = RunId {
            scenario: PathBuf::from("scenarios/library/mm1.ron"),
            seed: 7,
            sets: vec![
                ("services.api.workers".into(), "4".into()),
                ("x.backoff".into(), "Fixed(delay: \"1s\")".into()),
            ],
            max_events: Some(500),
        };
        assert_eq!(
            command(&run, Stage::Simulation),
            "faultline replay scenarios/library/mm1.ron --seed 7 --set 'services.api.workers=4' \
             --set 'x.backoff=Fixed(delay: \"1s\")' --max-events 500"
        );
        let odd = RunId {
            scenario: PathBuf::from("my scenarios/it's.ron"),
            sets: Vec::new(),
            max_events: None,
            ..run
        };
        assert_eq!(
            command(&odd, Stage::Report),
            r"faultline run 'my scenarios/it'\''s.ron' --seed 7"
        );
    }
}
