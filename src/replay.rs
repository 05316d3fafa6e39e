//! `faultline replay`: re-runs one seed, checks its fingerprint, and writes its domain trace as
//! JSON Lines, as a Chrome trace for Perfetto, or as the causal story of one request. The
//! formats are in `reports::trace`; the records come from `models::trace`.

use std::cell::RefCell;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use models::{RecordSink, RunOptions, TraceNames, TraceRecord, World};
use reports::trace::{ChromeTrace, Filter, JsonLines};

use crate::files::{AtomicFile, Target, refuse_to_overwrite};

/// Re-run one seed and show what happened to its requests.
///
/// Example: faultline replay scenarios/library/checkout.ron --seed 7 --trace t.jsonl
/// --filter 'service=payments,t=120s..130s' --chrome-trace t.json --explain 42
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The scenario file (RON).
    pub scenario: PathBuf,
    /// The seed to replay.
    #[arg(long)]
    pub seed: u64,
    /// Exit 1 unless the run's fingerprint is this one (16 hex digits, as `run --format json`
    /// prints it).
    #[arg(long, value_name = "FINGERPRINT")]
    pub expect_fingerprint: Option<String>,
    /// Write the trace records selected by --filter (all without it) as JSON Lines, one
    /// `{"type": KIND, "data": {...}}` per line.
    #[arg(long, value_name = "PATH")]
    pub trace: Option<PathBuf>,
    /// Select records: comma-separated key=value terms, all of which must hold; keys request,
    /// service, worker (SERVICE/WORKER), kind and t (a range: 120s..130s); A|B for either.
    /// Applies to --trace, --chrome-trace and --otlp.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Write a Chrome trace-event JSON file that Perfetto (ui.perfetto.dev) opens: one track
    /// per worker of each service, one span per attempt, one per fault window, timeouts,
    /// retries, sheds, breaker transitions and crashes marked. With --filter, only the spans
    /// that start with a selected record and meet its time range.
    #[arg(long, value_name = "PATH")]
    pub chrome_trace: Option<PathBuf>,
    /// Write the trace as OpenTelemetry spans in OTLP/JSON (the body of an OTLP/HTTP
    /// v1/traces export) for Jaeger or Tempo: one trace per request, a client span per
    /// attempt, a server span per attempt served. With --filter, as --chrome-trace.
    #[arg(long, value_name = "PATH")]
    pub otlp: Option<PathBuf>,
    /// Print the causal story of this logical request (ids count client arrivals from 1), with
    /// the faults, crashes and breaker transitions around it.
    #[arg(long, value_name = "REQUEST_ID")]
    pub explain: Option<u64>,
    /// Stop after this many events (overrides the scenario's `limits.max_events`).
    #[arg(long)]
    pub max_events: Option<u64>,
    /// Override a parameter, as `run --set` does (repeatable), to replay a sweep's point.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

/// What the replay keeps of the records as they come: the JSON Lines stream straight to their
/// file, the Chrome trace keeps its spans, the story keeps its request's records and those of
/// its possible context (fault windows, crashes, restarts, breaker transitions: few).
struct Collector {
    filter: Filter,
    lines: Option<(JsonLines, AtomicFile)>,
    written: u64,
    chrome: Option<ChromeTrace>,
    otlp: Option<reports::trace::OtlpTrace>,
    story: Option<(u64, Vec<TraceRecord>)>,
    /// The first write error; the run goes on, the file is abandoned.
    error: Option<io::Error>,
}

impl Collector {
    fn add(&mut self, r: &TraceRecord) {
        if let Some((writer, file)) = &mut self.lines
            && self.error.is_none()
            && self.filter.matches(r)
        {
            match writer.write(&mut file.writer(), r) {
                Ok(()) => self.written += 1,
                Err(e) => self.error = Some(e),
            }
        }
        if let Some(chrome) = &mut self.chrome {
            chrome.add(r);
        }
        if let Some(otlp) = &mut self.otlp {
            otlp.add(r);
        }
        if let Some((request, records)) = &mut self.story
            && reports::trace::explain_needs(r, *request)
        {
            records.push(*r);
        }
    }
}

/// The collector as the run's sink; the replay reads it back when the run is over.
struct Shared(Rc<RefCell<Collector>>);

impl RecordSink for Shared {
    fn record(&mut self, record: &TraceRecord) {
        self.0.borrow_mut().add(record);
    }
}

/// A fingerprint as `run --format json` prints it: 16 hexadecimal digits.
fn parse_fingerprint(text: &str) -> Result<String> {
    let text = text.trim().to_ascii_lowercase();
    if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "--expect-fingerprint {text}: expected 16 hexadecimal digits, as `faultline run \
             --format json` prints in \"fingerprint\""
        );
    }
    Ok(text)
}

pub fn replay(args: &ReplayArgs) -> Result<ExitCode> {
    let settings = crate::parse_settings(&args.sets)?;
    let mut loaded = crate::swarm::Source::read(&args.scenario, &settings, args.seed)?
        .load(args.seed)?
        .into_owned();
    if let Some(n) = args.max_events {
        if n == 0 {
            bail!("--max-events must be at least 1");
        }
        loaded.config.max_events = n;
    }
    let expected = args
        .expect_fingerprint
        .as_deref()
        .map(parse_fingerprint)
        .transpose()?;
    let outputs = [
        ("--trace", &args.trace),
        ("--chrome-trace", &args.chrome_trace),
        ("--otlp", &args.otlp),
    ];
    for (_, out) in outputs {
        if let Some(out) = out {
            refuse_to_overwrite(out, &args.scenario)?;
        }
    }
    for (i, (flag_a, a)) in outputs.iter().enumerate() {
        for (flag_b, b) in &outputs[i + 1..] {
            if let (Some(a), Some(b)) = (a, b)
                && a == b
            {
                bail!("{flag_a} and {flag_b} name the same file {}", a.display());
            }
        }
    }
    let current = crate::runs::enter(crate::runs::RunId {
        scenario: args.scenario.clone(),
        seed: args.seed,
        sets: settings,
        max_events: args.max_events,
    });
    let world = World::new(&loaded.config, args.seed);
    let names: TraceNames = world.trace_names();
    let filter = match &args.filter {
        Some(expression) => Filter::parse(expression, &names, scenarios::parse_duration)
            .with_context(|| format!("--filter {expression}"))?,
        None => Filter::all(),
    };
    crate::print_warnings(&loaded.warnings);
    let filter_warnings = args.filter.as_deref().map(Filter::warnings);
    for w in filter_warnings.unwrap_or_default() {
        eprintln!("warning: --filter: {w}");
    }
    if args.filter.is_some()
        && args.trace.is_none()
        && args.chrome_trace.is_none()
        && args.otlp.is_none()
    {
        eprintln!(
            "warning: --filter selects what --trace, --chrome-trace and --otlp write; none is given"
        );
    }
    // Both targets are claimed (locked) before the run, so a second writer learns at once.
    let trace_target = args
        .trace
        .as_deref()
        .map(|p| Target::claim(p, "--trace"))
        .transpose()?;
    let chrome_target = args
        .chrome_trace
        .as_deref()
        .map(|p| Target::claim(p, "--chrome-trace"))
        .transpose()?;
    let otlp_target = args
        .otlp
        .as_deref()
        .map(|p| Target::claim(p, "--otlp"))
        .transpose()?;
    let lines = match &trace_target {
        Some(target) => Some((JsonLines::new(&names), target.temporary()?)),
        None => None,
    };
    let chrome = args
        .chrome_trace
        .as_ref()
        .map(|_| ChromeTrace::new(&names, filter.clone()));
    let otlp = args
        .otlp
        .as_ref()
        .map(|_| reports::trace::OtlpTrace::new(&names, filter.clone()));
    let tracing = lines.is_some() || chrome.is_some() || otlp.is_some() || args.explain.is_some();
    let collector = Rc::new(RefCell::new(Collector {
        filter,
        lines,
        written: 0,
        chrome,
        otlp,
        story: args.explain.map(|id| (id, Vec::new())),
        error: None,
    }));
    let options = RunOptions {
        trace: tracing.then(|| Box::new(Shared(collector.clone())) as Box<dyn RecordSink>),
        ..RunOptions::default()
    };
    let result = world.run(options);
    drop(current);
    // The run is over and its sink dropped: the collector has no other owner.
    let collector = Rc::try_unwrap(collector)
        .ok()
        .expect("the run gave its sink back")
        .into_inner();
    crate::warn_if_partial(&args.scenario, reports::partial_note(&result));
    if let Some((_, file)) = collector.lines {
        match collector.error {
            Some(e) => return Err(e).with_context(|| file.failure()),
            None => {
                file.commit()?;
                eprintln!(
                    "replay: wrote {} trace records to {}",
                    collector.written,
                    args.trace.as_ref().expect("--trace").display()
                );
            }
        }
    }
    if let (Some(chrome), Some(target)) = (collector.chrome, &chrome_target) {
        let mut file: AtomicFile = target.temporary()?;
        match chrome.finish(file.writer()) {
            Ok(()) => file.commit()?,
            Err(e) => return Err(e).with_context(|| file.failure()),
        }
        eprintln!(
            "replay: wrote the Chrome trace to {}",
            target.path().display()
        );
    }
    if let (Some(otlp), Some(target)) = (collector.otlp, &otlp_target) {
        target.write(otlp.finish().as_bytes())?;
        eprintln!(
            "replay: wrote the OpenTelemetry trace (OTLP/JSON) to {}",
            target.path().display()
        );
    }
    let fingerprint = result.outcome.fingerprint.to_string();
    crate::print_stdout(&format!(
        "replay: scenario {} seed {} fingerprint {} events {}\n",
        result.scenario, result.seed, fingerprint, result.outcome.events
    ))?;
    let mut missing_story = None;
    if let Some((request, records)) = &collector.story {
        if !records.iter().any(|r| r.request == *request) {
            let started: u64 = result.clients.iter().map(|c| c.stats.requests).sum();
            missing_story = Some(format!(
                "--explain {request}: no such request in this run; its requests are 1 to \
                 {started}"
            ));
        } else {
            let story = reports::trace::explain(records, *request, &names);
            crate::print_stdout(&format!("\n{story}"))?;
        }
    }
    if let Some(expected) = expected
        && expected != fingerprint
    {
        eprintln!("error: fingerprint mismatch: expected {expected}, got {fingerprint}");
        return Ok(ExitCode::from(1));
    }
    if let Some(message) = missing_story {
        bail!(message);
    }
    Ok(ExitCode::SUCCESS)
}
