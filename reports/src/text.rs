//! The terminal summary of a run, and the "what happened" phrasing it shares with the Markdown
//! report.

use std::fmt::Write as _;

use models::RunResult;
use models::metrics::{FailureCause, Histogram, OutcomeStats};
use sim_core::SimDuration;

use crate::analysis::{Analysis, Verdict};
// The phrases live in their own room; Markdown and HTML reach them through this module too.
use crate::common::{
    amplification, coarsened_windows, finite, fmt_ms, is_complete, partial_reason, percent,
    utilisation_window,
};
pub(crate) use crate::phrases::{
    blast_radius, episode_hurt, episode_phrase, episodes_listed, episodes_summary, fault_head,
    recovery_phrase, seconds, step_phrase, verdict_phrase,
};

/// ANSI colours of the terminal summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Colour {
    Red,
    Green,
    Yellow,
}

impl Colour {
    fn style(self) -> anstyle::Style {
        match self {
            Colour::Red => anstyle::AnsiColor::Red,
            Colour::Green => anstyle::AnsiColor::Green,
            Colour::Yellow => anstyle::AnsiColor::Yellow,
        }
        .on_default()
    }
}

/// `s` wrapped in `colour` when colours are on (and `s` is not empty), else `s` unchanged.
fn paint(s: &str, colour: Option<Colour>, on: bool) -> String {
    match colour {
        Some(c) if on && !s.is_empty() => {
            let style = c.style();
            // `{style:#}` is the reset that ends it.
            format!("{style}{s}{style:#}")
        }
        _ => s.to_owned(),
    }
}

/// The colour of an availability: red below the objective, green otherwise.
fn availability_colour(availability: f64, objective: f64) -> Option<Colour> {
    Some(if availability < objective {
        Colour::Red
    } else {
        Colour::Green
    })
}

/// The terminal summary. `colour` adds ANSI colours (the CLI sets it when stdout is a terminal
/// and NO_COLOR is unset).
///
/// A header, what happened after each scripted fault (the cascade, time to detect and to
/// recover, the verdict and the blast radius), a clients table, a services table, the services'
/// failures by cause and the call edges. Fixed precision, columns aligned to their widest cell;
/// colours never change the alignment: without the escape codes the text is byte for byte the
/// text without colour.
pub fn text(result: &RunResult, analysis: &Analysis, colour: bool) -> String {
    let outcome = &result.outcome;
    let window = utilisation_window(result);
    let mut out = String::new();

    let _ = writeln!(
        out,
        "faultline {} · scenario {} · seed {}",
        env!("CARGO_PKG_VERSION"),
        result.scenario,
        result.seed
    );
    let _ = writeln!(
        out,
        "simulated {} in {} events · fingerprint {}",
        outcome.now, outcome.events, outcome.fingerprint
    );
    if !is_complete(result) {
        let warning = format!(
            "warning: {}; this report is partial",
            partial_reason(result)
        );
        out.push_str(&paint(&warning, Some(Colour::Yellow), colour));
        out.push('\n');
    }
    if let Some(note) = coarsened_windows(result) {
        out.push_str(&note);
        out.push('\n');
    }

    out.push('\n');
    what_happened(&mut out, analysis, colour);

    out.push('\n');
    let mut clients = Table::new([
        "clients", "requests", "ok", "failed", "avail %", "p50", "p99", "p999", "mean", "retries",
        "ampl",
    ]);
    for c in &result.clients {
        let s = &c.stats;
        let h = &s.latency;
        let availability = s.availability();
        clients.row_coloured(
            [
                c.name.clone(),
                s.requests.to_string(),
                s.ok.to_string(),
                s.failed().to_string(),
                percent(availability),
                latency(h, h.quantile(0.5)),
                latency(h, h.quantile(0.99)),
                latency(h, h.quantile(0.999)),
                mean_latency(h),
                c.retries.to_string(),
                format!("{:.3}", finite(amplification(c))),
            ],
            4,
            availability_colour(availability, c.objective.availability),
        );
    }
    clients.render(&mut out, colour);
    why_clients_failed(&mut out, result);

    out.push('\n');
    let mut services = Table::new([
        "services", "requests", "ok", "failed", "avail %", "p50", "p99", "max", "util %", "queue",
        "wasted",
    ]);
    for s in &result.services {
        services.row_coloured(
            std::iter::once(s.name.clone())
                .chain(outcome_cells(&s.stats))
                .chain([
                    percent(s.utilisation(window)),
                    crate::common::queue_fill(s),
                    s.wasted_work.to_string(),
                ]),
            4,
            availability_colour(s.stats.availability(), s.objective.availability),
        );
        // A service with several endpoints: each one's share underneath, as its callers saw it.
        for e in &s.endpoints {
            services.row_coloured(
                std::iter::once(format!("  {}/{}", s.name, e.name))
                    .chain(outcome_cells(&e.stats))
                    .chain([String::new(), String::new(), String::new()]),
                4,
                availability_colour(e.stats.availability(), s.objective.availability),
            );
        }
    }
    services.render(&mut out, colour);
    blocked_workers(&mut out, result, window, colour);

    out.push('\n');
    let shown = crate::common::failure_causes_shown(result);
    let cancelled = crate::common::any_cancelled(result);
    let mut failures = Table::new(
        std::iter::once("failures")
            .chain(shown.iter().map(|c| c.as_str()))
            .chain(cancelled.then_some("cancelled"))
            .chain(["in flight"]),
    );
    for s in &result.services {
        let st = &s.stats;
        failures.row(
            std::iter::once(s.name.clone())
                .chain(shown.iter().map(|&c| st.failed_by(c).to_string()))
                .chain(cancelled.then(|| st.cancelled.to_string()))
                .chain([st.in_flight().to_string()]),
        );
    }
    failures.render(&mut out, colour);

    out.push('\n');
    if result.edges.is_empty() {
        out.push_str("edges: none\n");
    } else {
        out.push_str("edges:\n");
        for (e, name) in result
            .edges
            .iter()
            .zip(crate::common::edge_names(&result.edges))
        {
            let _ = writeln!(
                out,
                "  {name}: attempts {}, retries {}, late replies {}",
                e.attempts, e.retries, e.late_replies
            );
        }
    }
    let facts = crate::common::policy_facts(result);
    if !facts.is_empty() {
        out.push_str("\npolicies:\n");
        for f in &facts {
            let _ = writeln!(out, "  {}: {}", f.subject, f.facts.join("; "));
        }
    }
    out.push_str(&crate::ops::text(result));
    out.push_str(&crate::rollout::text(result));
    crate::serverless::text(&mut out, result);
    crate::stores::text(&mut out, result);
    crate::sagas::text(&mut out, result);
    crate::twopc::text(&mut out, result);
    crate::broker::text(&mut out, result);
    crate::topic::text(&mut out, result);
    crate::outbox::text(&mut out, result);
    out
}

/// The service table's columns that an endpoint shares with its service: requests, ok,
/// failed, availability, p50, p99 and max.
pub(crate) fn outcome_cells(st: &OutcomeStats) -> [String; 7] {
    let h = &st.latency;
    [
        st.requests.to_string(),
        st.ok.to_string(),
        st.failed().to_string(),
        percent(st.availability()),
        latency(h, h.quantile(0.5)),
        latency(h, h.quantile(0.99)),
        latency(h, h.max()),
    ]
}

/// The services whose workers were held while blocked on their calls (thread-per-request):
/// the held share (`util %`), the part spent on their own work and the part blocked. Nothing
/// when no worker was ever blocked. (A column of the services table would pass 100 columns.)
fn blocked_workers(out: &mut String, result: &RunResult, window: SimDuration, colour: bool) {
    let blocked = |s: &models::ServiceReport| s.utilisation(window) - s.work_utilisation(window);
    // Shown to three decimals of a percent: below that it prints as zero.
    let shown: Vec<&models::ServiceReport> = result
        .services
        .iter()
        .filter(|s| blocked(s) >= 0.000_005)
        .collect();
    if shown.is_empty() {
        return;
    }
    out.push('\n');
    let mut table = Table::new(["blocked workers", "util %", "work %", "blocked %"]);
    for s in shown {
        table.row([
            s.name.clone(),
            percent(s.utilisation(window)),
            percent(s.work_utilisation(window)),
            percent(blocked(s)),
        ]);
    }
    table.render(out, colour);
}

/// Per client that failed, its failed requests by root cause (the cause at the failure's
/// origin, behind `dependency`), most frequent first: `orders: 909 error, 12 timeout`.
fn why_clients_failed(out: &mut String, result: &RunResult) {
    if crate::common::root_causes_shown(result).is_empty() {
        return;
    }
    out.push_str("\nwhy clients failed (root causes)\n");
    for c in result.clients.iter().filter(|c| c.stats.failed() > 0) {
        let _ = writeln!(out, "  {}: {}", c.name, root_causes_phrase(c));
    }
}

/// A client's failed requests by root cause, most frequent first (ties in cause order):
/// `909 error, 12 timeout`.
pub(crate) fn root_causes_phrase(c: &models::ClientReport) -> String {
    let mut causes: Vec<(u64, FailureCause)> = FailureCause::ALL
        .into_iter()
        .map(|r| (c.failed_by_root_cause[r as usize], r))
        .filter(|&(n, _)| n > 0)
        .collect();
    causes.sort_by_key(|&(n, r)| (std::cmp::Reverse(n), r as usize));
    let parts: Vec<String> = causes
        .iter()
        .map(|(n, r)| format!("{n} {}", r.as_str()))
        .collect();
    parts.join(", ")
}

/// The "what happened" section: per fault its cascade, one step per line so that it fits a
/// terminal, then the timings and the verdict; the blast radius last.
fn what_happened(out: &mut String, analysis: &Analysis, colour: bool) {
    if analysis.faults.is_empty() {
        out.push_str("what happened: no faults scripted\n");
        return;
    }
    out.push_str("what happened\n");
    let plain = |s: &str| s.to_owned();
    for f in &analysis.faults {
        let _ = writeln!(out, "  {}", fault_head(f, &plain));
        if f.cascade.is_empty() {
            out.push_str("    -> nothing became unhealthy\n");
        }
        for step in &f.cascade {
            let _ = writeln!(out, "    -> {}", step_phrase(step, &plain, &plain));
        }
        if let Some(detect) = f.time_to_detect {
            let _ = writeln!(out, "  time to detect: {}", seconds(detect.as_nanos()));
        }
        if !f.cascade.is_empty() {
            let _ = writeln!(out, "  time to recover: {}", recovery_phrase(f));
        }
        let (word, rest) = verdict_phrase(&f.verdict);
        let verdict_colour = match f.verdict {
            Verdict::NoImpact | Verdict::Recovered { .. } => Colour::Green,
            Verdict::DidNotRecover { .. } => Colour::Red,
            Verdict::FaultStillActive => Colour::Yellow,
        };
        let line = match &f.verdict {
            Verdict::DidNotRecover { sustained_by } if !sustained_by.is_empty() => {
                format!("verdict: {word}{rest}, sustained by")
            }
            _ => format!("verdict: {word}{rest}"),
        };
        let _ = writeln!(out, "  {}", paint(&line, Some(verdict_colour), colour));
        if let Verdict::DidNotRecover { sustained_by } = &f.verdict {
            for cause in sustained_by {
                let _ = writeln!(out, "    - {cause}");
            }
        }
        if let Some(summary) = episodes_summary(f) {
            let _ = writeln!(out, "  {summary}");
            let (listed, more) = episodes_listed(f);
            for e in listed {
                let _ = writeln!(out, "    - {}", episode_phrase(e, &plain));
                if let Some(hurt) = episode_hurt(e, &plain) {
                    // On its own line: with the replicas it would pass the terminal's width.
                    let _ = writeln!(out, "      hurt {hurt}");
                }
            }
            if more > 0 {
                let _ = writeln!(out, "    - and {more} more with impact");
            }
        }
    }
    let _ = writeln!(out, "  blast radius: {}", blast_radius(analysis, &plain));
}

/// A latency of `h`, or `-` if it recorded nothing.
pub(crate) fn latency(h: &Histogram, d: SimDuration) -> String {
    if h.count() == 0 {
        "-".into()
    } else {
        fmt_ms(d.as_nanos())
    }
}

fn mean_latency(h: &Histogram) -> String {
    if h.count() == 0 {
        "-".into()
    } else {
        // `as` saturates and maps NaN to 0; the mean is finite and non-negative anyway.
        fmt_ms(finite(h.mean_ns()).round() as u64)
    }
}

/// A text table: the first column left-aligned, the others right-aligned, each as wide as its
/// widest cell, separated by two spaces. A cell may carry a colour, applied after the padding
/// is computed on the plain text.
struct Table {
    header: Vec<String>,
    rows: Vec<(Vec<String>, Vec<Option<Colour>>)>,
}

impl Table {
    fn new<'a>(header: impl IntoIterator<Item = &'a str>) -> Self {
        Table {
            header: header.into_iter().map(str::to_owned).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        let cells: Vec<String> = cells.into_iter().collect();
        debug_assert_eq!(cells.len(), self.header.len());
        let colours = vec![None; cells.len()];
        self.rows.push((cells, colours));
    }

    /// A row whose cell `column` is shown in `colour`.
    fn row_coloured(
        &mut self,
        cells: impl IntoIterator<Item = String>,
        column: usize,
        colour: Option<Colour>,
    ) {
        let cells: Vec<String> = cells.into_iter().collect();
        debug_assert_eq!(cells.len(), self.header.len());
        let mut colours = vec![None; cells.len()];
        colours[column] = colour;
        self.rows.push((cells, colours));
    }

    fn render(&self, out: &mut String, colour: bool) {
        let mut widths = vec![0usize; self.header.len()];
        let plain = vec![None; self.header.len()];
        let header = (&self.header, &plain);
        let rows = self.rows.iter().map(|(cells, colours)| (cells, colours));
        for (cells, _) in std::iter::once(header).chain(rows.clone()) {
            for (w, cell) in widths.iter_mut().zip(cells) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for (cells, colours) in std::iter::once(header).chain(rows) {
            let mut line = String::new();
            for (i, ((cell, &w), &c)) in cells.iter().zip(&widths).zip(colours).enumerate() {
                let pad = " ".repeat(w - cell.chars().count());
                let cell = paint(cell, c, colour);
                if i == 0 {
                    let _ = write!(line, "{cell}{pad}");
                } else {
                    let _ = write!(line, "  {pad}{cell}");
                }
            }
            // Escape codes end in a letter, so trimming trims what the plain line would.
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use models::config::{Fault, ServiceId, WorldConfig};
    use models::{RunOptions, RunResult, World};
    use sim_core::{SimDuration, SimTime};

    use super::*;
    use crate::analysis::analyse;

    /// users -> front -> back, with a timeout and a retry on front -> back, and back twenty
    /// times slower from 2 s to 3 s of a 6 s run: a cascade that recovers.
    pub(crate) fn faulted_config() -> WorldConfig {
        // The shared front -> back world, bigger, with fewer errors and a fault.
        let mut cfg = crate::tests::config(u64::MAX);
        let mut front = crate::tests::service("front", 8, 16, 2);
        front.calls = cfg.services[0].calls.clone();
        front.calls[0].policy.timeout = Some(sim_core::Distribution::Constant(
            SimDuration::from_millis(30),
        ));
        cfg.services = vec![front, crate::tests::service("back", 4, 8, 5)];
        for s in &mut cfg.services {
            s.error_rate = 0.001;
        }
        cfg.name = "cascade".into();
        cfg.duration = SimDuration::from_secs(6);
        cfg.faults = vec![Fault::Latency {
            service: ServiceId(1),
            endpoint: None,
            multiply: 20.0,
            add: SimDuration::ZERO,
            from: SimTime(2_000_000_000),
            to: SimTime(3_000_000_000),
        }];
        cfg.window = SimDuration::from_millis(500);
        cfg
    }

    pub(crate) fn faulted_run(seed: u64) -> RunResult {
        World::new(&faulted_config(), seed).run(RunOptions::default())
    }

    /// `s` without its ANSI escape sequences (`ESC [ ... letter`).
    fn strip_ansi(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                assert_eq!(chars.next(), Some('['), "a CSI sequence");
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn text_tells_what_happened() {
        let r = faulted_run(1);
        let a = analyse(&r);
        let t = text(&r, &a, false);
        let f = &a.faults[0];
        assert!(!f.cascade.is_empty(), "{a:#?}");
        assert!(
            t.contains("\nwhat happened\n  back latency x20 at 2.0 s\n    -> back "),
            "{t}"
        );
        assert!(
            t.contains(&format!("  verdict: {}", f.verdict.as_str())),
            "{t}"
        );
        assert!(t.contains("  time to detect: "), "{t}");
        assert!(t.contains("  time to recover: "), "{t}");
        assert!(t.contains("  blast radius: back"), "{t}");
        assert!(t.contains(" (via front -> back)\n"), "{t}");
        assert!(!t.contains('\x1b'), "{t}");
        for line in t.lines() {
            assert!(line.chars().count() <= 100, "too wide: {line}");
            assert_eq!(line, line.trim_end(), "trailing space: {line:?}");
        }
        assert_eq!(t, text(&faulted_run(1), &a, false));
    }

    #[test]
    fn colour_changes_only_the_escape_codes() {
        let r = faulted_run(1);
        let a = analyse(&r);
        let plain = text(&r, &a, false);
        let coloured = text(&r, &a, true);
        assert!(coloured.contains('\x1b'));
        // The faulted run breached its objectives, so something is red.
        assert!(coloured.contains("\x1b[31m"), "{coloured}");
        assert_eq!(strip_ansi(&coloured), plain);

        let partial = World::new(
            &WorldConfig {
                max_events: 500,
                ..faulted_config()
            },
            1,
        )
        .run(RunOptions::default());
        let a = analyse(&partial);
        let coloured = text(&partial, &a, true);
        assert!(coloured.contains("\x1b[33mwarning: stopped"), "{coloured}");
        assert_eq!(strip_ansi(&coloured), text(&partial, &a, false));
    }

    #[test]
    fn without_faults_it_says_so() {
        let mut config = faulted_config();
        config.faults.clear();
        let r = World::new(&config, 2).run(RunOptions::default());
        let t = text(&r, &analyse(&r), false);
        assert!(t.contains("\nwhat happened: no faults scripted\n"), "{t}");
    }

    #[test]
    fn seconds_keep_one_to_three_decimals() {
        assert_eq!(seconds(0), "0.0 s");
        assert_eq!(seconds(120_000_000_000), "120.0 s");
        assert_eq!(seconds(250_000_000), "0.25 s");
        assert_eq!(seconds(1_234_500_000), "1.235 s");
        assert_eq!(seconds(999_999_999), "1.0 s");
    }

    #[test]
    fn a_failure_that_outlives_its_fault_names_what_sustains_it() {
        let r = faulted_run(1);
        let mut a = analyse(&r);
        a.faults[0].verdict = Verdict::DidNotRecover {
            sustained_by: vec!["retries: users sends 2.00 attempts per request".into()],
        };
        a.faults[0].time_to_recover = None;
        let plain = text(&r, &a, false);
        assert!(
            plain.contains(
                "  time to recover: did not recover (the fault ended at 3.0 s)\n  \
                 verdict: did not recover, sustained by\n    \
                 - retries: users sends 2.00 attempts per request\n"
            ),
            "{plain}"
        );
        let coloured = text(&r, &a, true);
        assert!(
            coloured.contains("  \x1b[31mverdict: did not recover"),
            "{coloured}"
        );
        assert_eq!(strip_ansi(&coloured), plain);
    }
}
