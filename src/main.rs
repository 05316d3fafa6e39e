//! The `faultline` command line: reads scenarios, runs them, writes reports. The only place with
//! IO and exit codes; the work happens in the library crates.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

/// Deterministic simulator of distributed service architectures under failure.
///
/// faultline runs a scenario (services, their calls, the network, resilience policies and
/// scripted faults) in simulated time from a seed, and reports availability, latency and
/// failures per service and per client. The same scenario and seed give the same report, byte
/// for byte, with the same fingerprint.
///
/// Exit codes: 0 success; 2 bad input or usage (unreadable file, invalid scenario, bad flag).
#[derive(Parser, Debug)]
#[command(name = "faultline", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario with one seed and print its report.
    ///
    /// Example: faultline run scenarios/library/checkout.ron --seed 1 --format json
    Run {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// The run seed; every random draw derives from it.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the report to this file (atomically) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stop after this many events (overrides the scenario's `limits.max_events`).
        #[arg(long)]
        max_events: Option<u64>,
    },
    /// Check scenarios without running them; prints every problem found.
    Validate {
        /// Scenario files (RON).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// A readable summary.
    Text,
    /// The versioned JSON document (see README: "JSON report").
    Json,
}

fn main() -> ExitCode {
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
    match cli.command {
        Command::Run {
            scenario,
            seed,
            format,
            out,
            max_events,
        } => run(&scenario, seed, format, out.as_deref(), max_events),
        Command::Validate { scenarios } => validate(&scenarios),
    }
}

fn run(
    path: &Path,
    seed: u64,
    format: Format,
    out: Option<&Path>,
    max_events: Option<u64>,
) -> Result<ExitCode> {
    let mut loaded = scenarios::load(path)?;
    if let Some(n) = max_events {
        if n == 0 {
            bail!("--max-events must be at least 1");
        }
        loaded.config.max_events = n;
    }
    if let Some(out) = out {
        refuse_to_overwrite(out, path)?;
    }
    let result = models::World::new(&loaded.config, seed).run(models::RunOptions::default());
    if result.outcome.stop == sim_core::StopReason::MaxEvents {
        eprintln!(
            "warning: {}: stopped at the event limit ({} events) at simulated time {}; the report \
             is partial (raise limits.max_events or --max-events)",
            path.display(),
            result.outcome.events,
            result.outcome.now
        );
    }
    let report = match format {
        Format::Text => reports::text(&result),
        Format::Json => reports::json_string(&result),
    };
    match out {
        Some(out) => write_atomically(out, report.as_bytes())?,
        None => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            if let Err(e) = stdout
                .write_all(report.as_bytes())
                .and_then(|()| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e).context("cannot write the report to standard output");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(paths: &[PathBuf]) -> Result<ExitCode> {
    let mut failed = false;
    for path in paths {
        match scenarios::load(path) {
            Ok(loaded) => println!(
                "{}: ok ({} services, {} clients)",
                path.display(),
                loaded.config.services.len(),
                loaded.config.clients.len()
            ),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Nothing the user wrote is overwritten: the report may not replace the scenario.
fn refuse_to_overwrite(out: &Path, scenario: &Path) -> Result<()> {
    if let (Ok(a), Ok(b)) = (out.canonicalize(), scenario.canonicalize())
        && a == b
    {
        bail!(
            "refusing to write the report over the scenario file {}",
            scenario.display()
        );
    }
    Ok(())
}

/// Writes to a temporary file beside `path` and renames it into place, so a reader never sees
/// a half-written report and an interrupted run leaves the old file intact.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("--out {} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.faultline-tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot move the report into place at {}", path.display())
    })?;
    Ok(())
}
