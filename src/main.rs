//! The `faultline` command line: reads scenarios, runs them, writes reports. The only place with
//! IO and exit codes; the work happens in the library crates.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

mod check;
mod command_run;
mod compare;
mod files;
mod replay;
mod runs;
mod shrink;
mod spof;
mod swarm;
mod sweep;
mod tune;
mod tune_html;
mod tune_shard;
mod validate;
mod wall;

use files::{refuse_to_overwrite, write_atomically};

/// Deterministic simulator of distributed service architectures under failure.
///
/// faultline runs a scenario (services, their calls, the network, resilience policies and
/// scripted faults) in simulated time from a seed, and reports availability, latency and
/// failures per service and per client. The same scenario and seed give the same report, byte
/// for byte, with the same fingerprint.
///
/// Exit codes: 0 success; 1 an expectation was violated (`check`) or a replay's fingerprint
/// differs; 2 bad input or usage (unreadable file, invalid scenario, bad flag).
///
/// Install from a checkout with `cargo install --path .` (about a minute for a release build on
/// two cores, more the first time, which also builds the dependencies); always use a release
/// build for sweeps, a debug build is many times slower.
#[derive(Parser, Debug)]
#[command(name = "faultline", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour in the text report: `auto` colours a terminal unless NO_COLOR is set (or
    /// CLICOLOR=0; CLICOLOR_FORCE colours a pipe too).
    #[arg(long, global = true, value_enum, default_value_t = ColourChoice::Auto, value_name = "WHEN")]
    color: ColourChoice,
}

/// When the text report is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ColourChoice {
    /// On a terminal, unless NO_COLOR is set (https://no-color.org) or CLICOLOR=0;
    /// CLICOLOR_FORCE=1 colours a pipe too (https://bixense.com/clicolors).
    Auto,
    /// Always, also into a pipe or a file.
    Always,
    /// Never.
    Never,
}

impl ColourChoice {
    /// Whether to colour output that goes to standard output (`to_stdout`) or a file.
    fn colours(self, to_stdout: bool) -> bool {
        match self {
            ColourChoice::Always => true,
            ColourChoice::Never => false,
            // anstream reads the terminal and the conventions' variables, as clap does.
            ColourChoice::Auto => {
                to_stdout
                    && anstream::AutoStream::choice(&std::io::stdout())
                        != anstream::ColorChoice::Never
            }
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario with one seed and print its report.
    ///
    /// Example: faultline run scenarios/library/checkout.ron --seed 1 --format json
    Run {
        /// The scenario file (RON), or - for standard input.
        scenario: PathBuf,
        /// The run seed; every random draw derives from it.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the report to this file (atomically) instead of standard output. It must be a
        /// regular file or absent, and one faultline at a time writes it (README: --out).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stop after this many events (overrides the scenario's `limits.max_events`).
        #[arg(long)]
        max_events: Option<u64>,
        /// Stop after this much real time (`30s`, `5m`), with a partial report marked
        /// incomplete: a bound for CI. The run is the same as without it until it stops.
        #[arg(long, value_parser = wall::parse_max_wall, value_name = "DURATION")]
        max_wall: Option<std::time::Duration>,
        /// Override a parameter: `--set services.payments.workers=32` (repeatable; paths in the
        /// README).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Print the concrete scenario this seed draws from a swarm scenario (`Between`,
        /// `OneOf`, `Maybe`), a file that loads and runs as it is, instead of running.
        #[arg(long)]
        print_scenario: bool,
    },
    /// Run every seed of a range times every combination of parameter values, over every core.
    ///
    /// Example: faultline sweep scenarios/library/checkout.ron --seeds 1..100
    /// --set 'edges.checkout->payments.retry.max_attempts=1,3,5'
    Sweep {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Seeds, both ends included: `1..1000`.
        #[arg(long, value_parser = parse_seeds)]
        seeds: Seeds,
        /// A parameter and the values to sweep: `PATH=V1,V2,...` (repeatable).
        #[arg(long = "set", value_name = "PATH=V1,V2,...")]
        sets: Vec<String>,
        /// Runs at once (default: every core). The output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard K of N (every Nth run starting at K-1); merge the parts with `merge`.
        #[arg(long, value_parser = sweep::parse_shard, value_name = "K/N")]
        shard: Option<(u32, u32)>,
        /// The sweep document (JSON), written atomically after every batch of runs; an
        /// interrupted sweep started again with the same --out resumes where it stopped. The
        /// sweep holds the file's lock from start to end: a second sweep given it is refused.
        #[arg(long)]
        out: Option<PathBuf>,
        /// What to print: a summary (text), the sweep document (json), one row per point and
        /// metric (csv), a Markdown summary (md) or an HTML page with a chart per metric (html).
        #[arg(long, value_enum, default_value_t = DocFormat::Text)]
        format: DocFormat,
    },
    /// Combine the partial documents of a sharded sweep into the whole sweep's document.
    Merge {
        /// The shards' documents (`sweep --shard K/N --out PART`).
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Write the merged document here (atomically).
        #[arg(long)]
        out: Option<PathBuf>,
        /// What to print, as for `sweep`.
        #[arg(long, value_enum, default_value_t = DocFormat::Text)]
        format: DocFormat,
    },
    /// Check scenarios' `expect` sections over a seed range: exit 1 on any violation.
    ///
    /// Example: faultline check scenarios/library/*.ron --seeds 1..20 --junit check.xml
    Check {
        /// Scenario files (RON) with `expect: [...]`.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Seeds, both ends included.
        #[arg(long, default_value = "1..10", value_parser = parse_seeds)]
        seeds: Seeds,
        /// Write JUnit XML (one test case per expectation) for CI systems.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// What to print: PASS and FAIL lines (text), one JSON document (json), one row per
        /// expectation (csv), a Markdown summary (md) or an HTML page (html). The exit code is
        /// the same.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        /// Compare with a stored baseline and fail on regressions beyond the tolerances.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Write the measured values to --baseline instead of comparing with it.
        #[arg(long, requires = "baseline")]
        update_baseline: bool,
        /// An availability regresses when it drops by more than this (absolute).
        #[arg(long, default_value_t = 0.001, value_parser = parse_tolerance)]
        availability_tolerance: f64,
        /// Other values regress when they grow by more than this fraction of the baseline.
        #[arg(long, default_value_t = 0.05, value_parser = parse_tolerance)]
        relative_tolerance: f64,
        /// Runs at once (default: every core). The verdicts do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Judge runs that a limit (`limits.max_events`) stopped before the scenario's end
        /// instead of failing on them; they are still listed.
        #[arg(long)]
        allow_incomplete: bool,
        /// Stop runs still going after this much real time since the command started (`30s`,
        /// `5m`); they count as incomplete (see --allow-incomplete): a bound for CI.
        #[arg(long, value_parser = wall::parse_max_wall, value_name = "DURATION")]
        max_wall: Option<std::time::Duration>,
    },
    /// Run two scenarios over the same seeds and show them side by side, with deltas.
    ///
    /// Typical use: the same architecture with two retry policies.
    /// Example: faultline compare scenarios/library/metastable-retry-storm.ron
    /// scenarios/library/metastable-fixed.ron --seeds 1..20
    Compare {
        /// Scenario A (RON).
        scenario_a: PathBuf,
        /// Scenario B (RON); deltas are B minus A. Leave it out to compare A with its own
        /// variant given by --set.
        scenario_b: Option<PathBuf>,
        /// Change a parameter of B (repeatable; without B, of a copy of A): `compare
        /// checkout.ron --set 'edges.checkout->payments.retry.max_attempts=1'`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Seeds to run, both ends included: `1..20` or a single seed `7`.
        #[arg(long, default_value = "1..10", value_parser = parse_seeds)]
        seeds: Seeds,
        /// Report format.
        #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
        format: CompareFormat,
        /// Write the report to this file (atomically) instead of standard output. It must be a
        /// regular file or absent, and one faultline at a time writes it (README: --out).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs at once (default: every core). The output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Stop runs still going after this much real time since the command started (`30s`,
        /// `5m`); they are marked incomplete: a bound for CI.
        #[arg(long, value_parser = wall::parse_max_wall, value_name = "DURATION")]
        max_wall: Option<std::time::Duration>,
    },
    /// Re-run one seed: check its fingerprint, write its trace, explain a request.
    Replay(replay::ReplayArgs),
    /// Shrink a failing seed to a smaller scenario that fails the same expectation the same
    /// way, and write it as a new scenario file.
    ///
    /// Example: faultline shrink scenarios/library/checkout.ron --seed 1
    Shrink {
        /// The scenario file (RON); a swarm scenario is shrunk as the seed draws it.
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// The expectation to keep failing, counted from 1 in the file's `expect` (default:
        /// the first that fails).
        #[arg(long)]
        expectation: Option<usize>,
        /// The most candidate runs (the search stops there, with what it has).
        #[arg(long, default_value_t = 200)]
        max_runs: usize,
        /// Runs at once (default: every core). The result does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// The file to write (default: NAME-seedN-shrunk.ron here); never overwritten.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Search `--set` values for the cheapest settings that meet the scenario's `expect`.
    ///
    /// Example: faultline tune scenarios/search/tune.ron --param
    /// 'clients.users.retry.max_attempts=1..6' --cost attempts --seeds 1..3
    Tune {
        /// The scenario file (RON), with `expect: [...]` and optionally a `tune: (...)`
        /// section; flags override the section field by field.
        scenario: PathBuf,
        /// A parameter and its domain: `PATH=V1,V2,...` or `PATH=A..B` (whole numbers, both
        /// ends included); repeatable. Paths as for `--set`. Replaces the file's params.
        #[arg(long = "param", value_name = "PATH=DOMAIN")]
        params: Vec<String>,
        /// What to minimise: a sum of WEIGHT*METRIC, metrics workers, replicas, attempts,
        /// degraded, p99_ms, unavailability [default: workers].
        #[arg(long)]
        cost: Option<String>,
        /// Seeds, both ends included [default: 1..5].
        #[arg(long, value_parser = parse_seeds)]
        seeds: Option<Seeds>,
        /// Search the whole space when it has at most this many points; else sample
        /// [default: 64].
        #[arg(long)]
        grid_max: Option<usize>,
        /// Points sampled from a larger space (then successive halving) [default: 32].
        #[arg(long)]
        samples: Option<usize>,
        /// The seed of the sampling (its own stream; not a run seed) [default: 1].
        #[arg(long)]
        search_seed: Option<u64>,
        /// Runs at once (default: every core). The output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        #[arg(long, value_enum, default_value_t = tune::TuneFormat::Text)]
        format: tune::TuneFormat,
        /// Write the report (or the part, with --shard) here (atomically) instead of standard
        /// output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run only part K of N of the search's runs and write that part (JSON); join the parts
        /// with --merge.
        #[arg(long, value_parser = sweep::parse_shard, value_name = "K/N")]
        shard: Option<(u32, u32)>,
        /// Fold the parts of `--shard 1/N` ... `--shard N/N` (same scenario and flags) into the
        /// report one machine would print, byte for byte.
        #[arg(long, num_args = 1.., value_name = "PART")]
        merge: Vec<PathBuf>,
    },
    /// Find single points of failure: crash each service, host, zone and region alone and rank
    /// them by the damage they do.
    ///
    /// Example: faultline spof scenarios/search/spof.ron --seeds 1..5
    Spof {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Seeds, both ends included.
        #[arg(long, default_value = "1..5", value_parser = parse_seeds)]
        seeds: Seeds,
        /// When each crash starts (default: a quarter of the scenario's duration).
        #[arg(long, value_parser = parse_sim_duration, value_name = "DURATION")]
        at: Option<sim_core::SimDuration>,
        /// How long each component stays down before it restarts (default: half the duration).
        #[arg(long = "for", value_parser = parse_sim_duration, value_name = "DURATION")]
        down_for: Option<sim_core::SimDuration>,
        /// Keep the scenario's own faults (default: each crash is judged alone).
        #[arg(long)]
        keep_faults: bool,
        /// Override a parameter, as for `run` (repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Runs at once (default: every core). The output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        #[arg(long, value_enum, default_value_t = spof::SpofFormat::Text)]
        format: spof::SpofFormat,
        /// Write the report here (atomically) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check scenarios without running them; prints every problem found.
    Validate {
        /// Scenario files (RON).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Print a shell completion script: `faultline completions bash > /etc/bash_completion.d/faultline`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `faultline man | man -l -`.
    Man,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// A readable summary (coloured on a terminal unless NO_COLOR is set).
    Text,
    /// The versioned JSON document (see README: "JSON report").
    Json,
    /// The time series: one row per window per service, client and edge.
    Csv,
    /// A Markdown summary for a pull-request comment.
    Md,
    /// One self-contained HTML page with SVG charts.
    Html,
}

/// What `sweep` and `merge` print.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum DocFormat {
    /// A readable summary per point.
    Text,
    /// The sweep document (the same as --out writes).
    Json,
    /// One row per point and metric, the seeds aggregated, with the 95% interval.
    Csv,
    /// A Markdown summary for a pull-request comment.
    Md,
    /// One self-contained HTML page: a chart of each metric against the swept parameter.
    Html,
}

impl DocFormat {
    /// The name --format takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            DocFormat::Text => "text",
            DocFormat::Json => "json",
            DocFormat::Csv => "csv",
            DocFormat::Md => "md",
            DocFormat::Html => "html",
        }
    }
}

/// What `check` prints; JUnit XML is written with --junit.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum CheckFormat {
    /// PASS and FAIL lines.
    Text,
    /// One versioned JSON document: every expectation with its per-seed values.
    Json,
    /// One row per scenario and expectation.
    Csv,
    /// A Markdown summary for a pull-request comment.
    Md,
    /// One self-contained HTML page with a table of the expectations.
    Html,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CompareFormat {
    Text,
    Json,
    Md,
    Html,
}

/// An inclusive range of seeds.
#[derive(Clone, Copy, Debug)]
struct Seeds {
    first: u64,
    last: u64,
}

fn parse_seeds(text: &str) -> Result<Seeds, String> {
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("\"{s}\" is not a seed; expected a whole number"))
    };
    let (first, last) = match text.split_once("..") {
        Some((a, b)) => (number(a)?, number(b.trim_start_matches('='))?),
        None => {
            let n = number(text)?;
            (n, n)
        }
    };
    if last < first {
        return Err(format!(
            "empty seed range {text}: the last seed is below the first"
        ));
    }
    if last - first >= 10_000_000 {
        return Err(format!(
            "seed range {text} is too large (at most 10,000,000 seeds)"
        ));
    }
    Ok(Seeds { first, last })
}

/// A simulated duration flag: `90s`, `2m`.
fn parse_sim_duration(text: &str) -> Result<sim_core::SimDuration, String> {
    scenarios::parse_duration(text)
}

/// A tolerance: a finite number >= 0 (NaN would turn every comparison off).
fn parse_tolerance(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!(
            "\"{text}\" is not a tolerance; expected a finite number >= 0, e.g. 0.001"
        )),
    }
}

fn main() -> ExitCode {
    runs::install_panic_hook();
    files::install_interrupt_cleanup();
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn execute(cli: Cli) -> Result<ExitCode> {
    let colour = cli.color;
    match cli.command {
        Command::Run {
            scenario,
            seed,
            format,
            out,
            max_events,
            max_wall,
            sets,
            print_scenario,
        } => command_run::run(
            &scenario,
            seed,
            &sets,
            command_run::Stops {
                max_events,
                max_wall,
            },
            command_run::Output {
                format,
                out: out.as_deref(),
                colour,
                print_scenario,
            },
        ),
        Command::Sweep {
            scenario,
            seeds,
            sets,
            jobs,
            shard,
            out,
            format,
        } => sweep::sweep(sweep::SweepArgs {
            scenario: &scenario,
            seeds,
            sets: &sets,
            jobs,
            shard,
            out: out.as_deref(),
            format,
        }),
        Command::Merge { parts, out, format } => sweep::merge(&parts, out.as_deref(), format),
        Command::Check {
            scenarios,
            seeds,
            junit,
            format,
            baseline,
            update_baseline,
            availability_tolerance,
            relative_tolerance,
            jobs,
            allow_incomplete,
            max_wall,
        } => {
            if let Some(limit) = max_wall {
                wall::limit_command(limit);
            }
            check::check(check::CheckArgs {
                scenarios: &scenarios,
                seeds,
                junit: junit.as_deref(),
                format,
                baseline: baseline.as_deref(),
                update_baseline,
                availability_tolerance,
                relative_tolerance,
                jobs,
                allow_incomplete,
            })
        }
        Command::Compare {
            scenario_a,
            scenario_b,
            sets,
            seeds,
            format,
            out,
            jobs,
            max_wall,
        } => {
            if let Some(limit) = max_wall {
                wall::limit_command(limit);
            }
            compare::compare(
                &scenario_a,
                scenario_b.as_deref(),
                &sets,
                seeds,
                format,
                out.as_deref(),
                jobs,
            )
        }
        Command::Replay(args) => replay::replay(&args),
        Command::Shrink {
            scenario,
            seed,
            expectation,
            max_runs,
            jobs,
            out,
        } => shrink::shrink(shrink::ShrinkArgs {
            scenario: &scenario,
            seed,
            expectation,
            max_runs,
            jobs,
            out: out.as_deref(),
        }),
        Command::Tune {
            scenario,
            params,
            cost,
            seeds,
            grid_max,
            samples,
            search_seed,
            jobs,
            format,
            out,
            shard,
            merge,
        } => tune::tune(tune::TuneArgs {
            scenario: &scenario,
            params: &params,
            cost: cost.as_deref(),
            seeds,
            grid_max,
            samples,
            search_seed,
            jobs,
            format,
            out: out.as_deref(),
            shard,
            merge: &merge,
        }),
        Command::Spof {
            scenario,
            seeds,
            at,
            down_for,
            keep_faults,
            sets,
            jobs,
            format,
            out,
        } => spof::spof(spof::SpofArgs {
            scenario: &scenario,
            seeds,
            sets: &sets,
            at,
            down_for,
            keep_faults,
            jobs,
            format,
            out: out.as_deref(),
        }),
        Command::Validate { scenarios } => validate::validate(&scenarios),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "faultline", &mut script);
            print_stdout(&String::from_utf8_lossy(&script))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .context("cannot render the manual page")?;
            print_stdout(&String::from_utf8_lossy(&page))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes a report to `--out` (claimed before the run) atomically, or to standard output.
pub(crate) fn emit(report: &str, out: Option<&files::Target>) -> Result<()> {
    match out {
        Some(target) => {
            target.write(report.as_bytes())?;
            // Standard output stays empty with --out, so say on stderr what was written.
            eprintln!("wrote {} ({} bytes)", target.path().display(), report.len());
            Ok(())
        }
        None => print_stdout(report),
    }
}

/// Claims `--out` before a run, so a path that cannot be written fails before the work.
fn claim_out(out: Option<&Path>) -> Result<Option<files::Target>> {
    out.map(|p| files::Target::claim(p, "--out")).transpose()
}

/// Writes `text` to standard output. A closed pipe (`| head`) is not an error worth a
/// message; any other failure (a full disk, `> /dev/full`) is an error, never a panic.
pub(crate) fn print_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}

/// Says on stderr why a run stopped before its end, and what to raise (the note of
/// `faultline::Run::partial_note`).
pub(crate) fn warn_if_partial(path: &Path, note: Option<String>) {
    if let Some(note) = note {
        eprintln!("warning: {}: {note}", path.display());
    }
}

/// Prints a scenario's warnings (the deprecated spellings it uses) on stderr, one per line.
pub(crate) fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// `--set PATH=VALUE` flags into (path, value) pairs, in order.
pub(crate) fn parse_settings(sets: &[String]) -> Result<Vec<(String, String)>> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((p, v)) => Ok((p.trim().to_owned(), v.to_owned())),
            None => bail!("--set {s}: expected PATH=VALUE"),
        })
        .collect()
}
