//! The self-contained HTML report of a run: what happened after each fault, a summary table,
//! charts of the per-window time series drawn as inline SVG with plotters, and the objectives
//! the analysis judged against. No external URL, no wall clock: the same run and analysis
//! always give the same bytes. The charts are drawn here, in Rust; a small inline script
//! (`interact`) only adds hover values, zoom and series toggles, so the page reads without it.

mod breakers;
mod chart;
mod check;
mod compare;
mod endpoints;
mod gantt;
mod interact;
mod ops;
mod queues;
mod rollout;
mod serverless;
mod summary;
mod sweep;
mod traffic;

use breakers::breaker_figure;
use chart::{Extras, time_chart, time_chart_with};
pub use check::check_html;
pub use compare::compare_html;
use gantt::{gantt_figure, short_label};
use std::error::Error;
use std::fmt::Write as _;
use summary::summary;
pub use sweep::sweep_html;

use models::RunResult;
use models::metrics::FailureCause;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::analysis::{Analysis, EntityHealth, EntityKind, Interval, Symptom, Verdict};
use crate::common::escape_markup as escape;
use crate::common::{coarsened_windows, fmt_ms, is_complete, partial_reason, percent};
use crate::text::{
    blast_radius, fault_head, recovery_phrase, seconds, step_phrase, verdict_phrase,
};

/// Width of every chart; the page is a little wider.
const CHART_WIDTH_PX: u32 = 1000;
/// Height of the time-series charts.
const CHART_HEIGHT_PX: u32 = 340;
/// Height of one row of the cascade timeline.
const GANTT_ROW_PX: u32 = 22;
/// Above this many services, clients and edges together, the timeline leaves the edges out.
const GANTT_ROWS_WITH_EDGES_MAX: usize = 30;
/// Row labels longer than this are cut, so that the plot keeps its width.
const GANTT_LABEL_CHARS_MAX: usize = 36;
/// At most this many points per line: longer series are merged into buckets of consecutive
/// windows, which bounds the page weight (a plot is about this many pixels wide anyway).
const POINTS_PER_LINE_MAX: usize = 900;
const FONT: &str = "sans-serif";
/// Beyond this many failure causes, the summary lists them in one cell instead of columns.
const SUMMARY_CAUSE_COLUMNS_MAX: usize = 5;
/// plotters' SVG backend writes a font of size `s` as `s / 1.24` px: sizes are scaled by this
/// so that a text style of 13 is 13 px on the page.
const PLOTTERS_FONT_SCALE: f64 = 1.24;

/// 32 colours for the lines, distinguishable on white; entities beyond 32 reuse them.
const PALETTE: [(u8, u8, u8); 32] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
    (0x39, 0x3b, 0x79),
    (0x63, 0x79, 0x39),
    (0x8c, 0x6d, 0x31),
    (0x84, 0x3c, 0x39),
    (0x7b, 0x41, 0x73),
    (0x31, 0x82, 0xbd),
    (0xe6, 0x55, 0x0d),
    (0x31, 0xa3, 0x54),
    (0x75, 0x6b, 0xb1),
    (0x36, 0x36, 0x36),
    (0x6b, 0xae, 0xd6),
    (0xfd, 0x8d, 0x3c),
    (0x74, 0xc4, 0x76),
    (0x9e, 0x9a, 0xc8),
    (0xc4, 0x9c, 0x94),
    (0xf7, 0x86, 0xc2),
    (0xa8, 0xa8, 0x3d),
    (0x5f, 0xc9, 0xd9),
    (0xad, 0x49, 0x4a),
    (0xa5, 0x51, 0x94),
    (0x52, 0x54, 0xa3),
    (0x8c, 0xa2, 0x52),
];

/// The symptoms of the cascade timeline, in legend order.
const SYMPTOMS: [Symptom; 5] = [
    Symptom::Failures {
        cause: FailureCause::Timeout,
    },
    Symptom::Failures {
        cause: FailureCause::Rejected,
    },
    Symptom::Failures {
        cause: FailureCause::Error,
    },
    Symptom::Failures {
        cause: FailureCause::Dependency,
    },
    Symptom::Latency,
];

const CSS: &str = "\
body{font-family:sans-serif;font-size:16px;margin:24px auto;max-width:1040px;padding:0 12px;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:4px}
h2{font-size:1.2em;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;margin-top:0}
.warning{background:#fff3cd;border:1px solid #e0b000;padding:8px 12px;border-radius:4px}
.fault{margin-bottom:16px}
.chain{background:#f7f7f7;border-left:4px solid #888;padding:6px 10px}
table{border-collapse:collapse;font-size:0.9em;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px}
th{background:#f4f4f4}
th:first-child{text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:24px 0;border:1px solid #e4e4e4;padding:8px}
figure svg{max-width:100%;height:auto;display:block}
figcaption{font-size:0.9em;color:#444;margin-bottom:6px}
ul.legend{list-style:none;padding:0;margin:6px 0 0 0;font-size:0.85em;display:flex;flex-wrap:wrap}
ul.legend li{margin:1px 0;width:245px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:8px}
.grid figure{margin:0}
td.causes{font-size:0.85em;max-width:260px}
table.summary td:first-child{white-space:nowrap}

.swatch{display:inline-block;width:14px;height:10px;margin-right:6px;vertical-align:middle;border:1px solid #0002}
.note{color:#666;font-style:italic}
.muted{color:#888}
";

/// One self-contained HTML page (inline CSS and SVG, no script, no external URL) for a run.
///
/// In order: the title and a header line (fingerprint, simulated time, events, a warning if
/// the run stopped at the event limit); what happened after each fault; a summary table of the
/// services and clients; five charts (availability, p99 latency, queue depth and worker
/// utilisation per window, and the cascade timeline), each one inline `<svg>` in a `<figure>`;
/// a note on circuit breakers; what a window is and the objectives of every entity.
pub fn html(result: &RunResult, analysis: &Analysis) -> String {
    let page = Page::new(result, analysis);
    let mut out = String::with_capacity(256 * 1024);
    let title = format!(
        "faultline · {} · seed {}",
        escape(&result.scenario),
        result.seed
    );
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>{title}</title>");
    let _ = writeln!(
        out,
        "<style>\n{CSS}{}</style>\n</head>\n<body>",
        interact::CSS
    );
    let _ = writeln!(out, "<h1>{title}</h1>");
    let outcome = &result.outcome;
    let _ = writeln!(
        out,
        "<p class=\"meta\">fingerprint <code>{}</code> · {} simulated · {} events · window {}</p>",
        outcome.fingerprint, outcome.now, outcome.events, result.window
    );
    if !is_complete(result) {
        let _ = writeln!(
            out,
            "<p class=\"warning\"><strong>Warning:</strong> {}; this report is partial.</p>",
            partial_reason(result)
        );
    }
    if let Some(note) = coarsened_windows(result) {
        let note = note.strip_prefix("note: ").unwrap_or(&note);
        let _ = writeln!(out, "<p class=\"meta\">Note: {}.</p>", escape(note));
    }

    what_happened(&mut out, analysis);
    summary(&mut out, &page);
    policies(&mut out, page.result);
    charts(&mut out, &page);
    traffic::figures(&mut out, &page);
    explanations(&mut out, &page);
    crate::stores::html(&mut out, result);
    crate::sagas::html(&mut out, result);
    crate::twopc::html(&mut out, result);

    interact::script(&mut out);
    out.push_str("</body>\n</html>\n");
    out
}

/// The colour of the `index`th service or client (services first, then clients).
fn colour(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    RGBColor(r, g, b)
}

fn css_colour(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn symptom_colour(symptom: Symptom) -> RGBColor {
    match symptom {
        Symptom::Failures {
            cause: FailureCause::Timeout,
        } => RGBColor(0xe6, 0x55, 0x0d),
        Symptom::Failures {
            cause: FailureCause::Rejected,
        } => RGBColor(0x75, 0x6b, 0xb1),
        Symptom::Failures {
            cause: FailureCause::Error,
        } => RGBColor(0xcb, 0x18, 0x1d),
        Symptom::Failures {
            cause: FailureCause::Dependency,
        } => RGBColor(0xa6, 0x76, 0x1d),
        Symptom::Failures {
            cause: FailureCause::CircuitOpen | FailureCause::BulkheadFull | FailureCause::Throttled,
        } => RGBColor(0x63, 0x63, 0x63),
        Symptom::Failures {
            cause:
                FailureCause::RateLimited
                | FailureCause::Shed
                | FailureCause::Conflict
                | FailureCause::Unavailable,
        } => RGBColor(0x9e, 0x9a, 0xc8),
        Symptom::Latency => RGBColor(0x31, 0x82, 0xbd),
        Symptom::Backlog => RGBColor(0x31, 0xa3, 0x54),
    }
}

/// The x axis of a time chart: its end and the fault bands, in seconds.
struct TimeAxis {
    end_s: f64,
    faults_s: Vec<(f64, f64)>,
}

/// What every chart shares: the time axis and the fault windows.
struct Page<'a> {
    result: &'a RunResult,
    analysis: &'a Analysis,
    /// The end of the time axis: the simulated time covered, in nanoseconds (never zero).
    end_ns: u64,
    window_ns: u64,
    /// Windows merged into one point of a line.
    group: usize,
    /// `[from, to)` of every fault in seconds, clipped to the time axis, in the analysis'
    /// order (by start), so that `fault 2` in a chart is the second fault of the text.
    faults_s: Vec<(f64, f64)>,
}

impl<'a> Page<'a> {
    fn new(result: &'a RunResult, analysis: &'a Analysis) -> Self {
        let window_ns = result.window.as_nanos().max(1);
        let end_ns = [
            result.outcome.now.as_nanos(),
            result.duration.as_nanos(),
            window_ns,
        ]
        .into_iter()
        .find(|&ns| ns > 0)
        .unwrap_or(1);
        let windows = end_ns.div_ceil(window_ns) as usize;
        let group = windows.div_ceil(POINTS_PER_LINE_MAX).max(1);
        let end_s = end_ns as f64 / 1e9;
        let faults_s = analysis
            .faults
            .iter()
            .map(|f| {
                let from = f.from.as_secs_f64().min(end_s);
                (from, f.to.as_secs_f64().clamp(from, end_s))
            })
            .collect();
        Page {
            result,
            analysis,
            end_ns,
            window_ns,
            group,
            faults_s,
        }
    }

    /// The health record of the service or client `name`.
    fn entity(&self, kind: EntityKind, name: &str) -> Option<&EntityHealth> {
        self.analysis
            .entities
            .iter()
            .find(|e| e.kind == kind && e.name == name)
    }

    /// The time spans, in seconds, of the buckets of `windows` in which requests finished but
    /// none succeeded: no latency exists there.
    fn undefined_latency(&self, windows: &[models::metrics::Window]) -> Vec<(f64, f64)> {
        let mut spans: Vec<(f64, f64)> = Vec::new();
        for (b, bucket) in windows.chunks(self.group).enumerate() {
            let ok: u64 = bucket.iter().map(|w| w.ok).sum();
            let failed: u64 = bucket.iter().map(|w| w.failed()).sum();
            if ok == 0 && failed > 0 {
                let start = ((b * self.group) as u64).saturating_mul(self.window_ns);
                let stop = start
                    .saturating_add((bucket.len() as u64).saturating_mul(self.window_ns))
                    .min(self.end_ns);
                let (from, to) = (start as f64 / 1e9, stop as f64 / 1e9);
                match spans.last_mut() {
                    Some(last) if last.1 >= from => last.1 = to,
                    _ => spans.push((from, to)),
                }
            }
        }
        spans
    }

    /// The time one point of a line stands for, in seconds.
    fn bucket_s(&self) -> f64 {
        (self.group as u64).saturating_mul(self.window_ns) as f64 / 1e9
    }

    fn end_s(&self) -> f64 {
        self.end_ns as f64 / 1e9
    }

    fn axis(&self) -> TimeAxis {
        TimeAxis {
            end_s: self.end_s(),
            faults_s: self.faults_s.clone(),
        }
    }

    /// One point per bucket of `group` consecutive windows of `items`: `value(bucket, span_ns)`
    /// at the middle of the bucket's time span (clipped to the end of the run), or `None` (a
    /// break in the line) when it gives nothing.
    fn points<T>(
        &self,
        items: &[T],
        value: impl Fn(&[T], u64) -> Option<f64>,
    ) -> Vec<Option<(f64, f64)>> {
        items
            .chunks(self.group)
            .enumerate()
            .filter_map(|(b, bucket)| {
                let start = ((b * self.group) as u64).saturating_mul(self.window_ns);
                let stop = start
                    .saturating_add((bucket.len() as u64).saturating_mul(self.window_ns))
                    .min(self.end_ns);
                (stop > start).then(|| {
                    let x = (start as f64 + stop as f64) / 2e9;
                    value(bucket, stop - start)
                        .filter(|y| y.is_finite())
                        .map(|y| (x, y))
                })
            })
            .collect()
    }
}

/// The "what happened" section: per fault its cascade as one arrow chain, then the timings and
/// the verdict; the blast radius last.
fn what_happened(out: &mut String, analysis: &Analysis) {
    out.push_str("<h2>What happened</h2>\n");
    if analysis.faults.is_empty() {
        out.push_str("<p>No faults were scripted in this scenario.</p>\n");
        return;
    }
    let esc = |s: &str| escape(s);
    let code = |s: &str| format!("<code>{}</code>", escape(s));
    let numbered = analysis.faults.len() > 1;
    for (k, f) in analysis.faults.iter().enumerate() {
        out.push_str("<div class=\"fault\">\n");
        let head = fault_head(f, &esc);
        let mut chain = vec![if numbered {
            format!("<strong>Fault {}:</strong> {head}", k + 1)
        } else {
            head
        }];
        if f.cascade.is_empty() {
            chain.push("nothing became unhealthy".to_owned());
        }
        chain.extend(f.cascade.iter().map(|s| step_phrase(s, &esc, &code)));
        let _ = writeln!(out, "<p class=\"chain\">{}</p>", chain.join(" → "));
        out.push_str("<ul>\n");
        let _ = writeln!(
            out,
            "<li>Fault active from {} to {}</li>",
            seconds(f.from.as_nanos()),
            seconds(f.to.as_nanos())
        );
        match f.time_to_detect {
            Some(detect) => {
                let _ = writeln!(
                    out,
                    "<li>Time to detect: {}</li>",
                    seconds(detect.as_nanos())
                );
            }
            None => out.push_str("<li>Time to detect: not detected</li>\n"),
        }
        if !f.cascade.is_empty() {
            let _ = writeln!(
                out,
                "<li>Time to recover: {}</li>",
                escape(&recovery_phrase(f))
            );
        }
        let (word, rest) = verdict_phrase(&f.verdict);
        let _ = write!(
            out,
            "<li>Verdict: <strong>{}</strong>{}",
            escape(word),
            escape(&rest)
        );
        if let Verdict::DidNotRecover { sustained_by } = &f.verdict
            && !sustained_by.is_empty()
        {
            out.push_str(", sustained by:\n<ul>\n");
            for cause in sustained_by {
                let _ = writeln!(out, "<li>{}</li>", escape(cause));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</li>\n");
        if let Some(summary) = crate::text::episodes_summary(f) {
            let _ = write!(out, "<li>{}", escape(&summary));
            let (listed, more) = crate::text::episodes_listed(f);
            if !listed.is_empty() {
                out.push_str("\n<ul>\n");
                for e in listed {
                    let phrase = crate::text::episode_phrase(e, &esc);
                    match crate::text::episode_hurt(e, &esc) {
                        Some(hurt) => {
                            let _ = writeln!(out, "<li>{phrase} ({hurt})</li>");
                        }
                        None => {
                            let _ = writeln!(out, "<li>{phrase}</li>");
                        }
                    }
                }
                if more > 0 {
                    let _ = writeln!(out, "<li>and {more} more with impact</li>");
                }
                out.push_str("</ul>\n");
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n</div>\n");
    }
    let total = analysis
        .entities
        .iter()
        .filter(|e| e.kind != EntityKind::Edge)
        .count();
    let _ = writeln!(
        out,
        "<p><strong>Blast radius</strong> ({} of {} services and clients{}): {}</p>",
        analysis.blast_radius.len(),
        total,
        if analysis
            .entities
            .iter()
            .any(|e| matches!(e.kind, EntityKind::Queue | EntityKind::ConsumerGroup))
        {
            ", queues and consumer groups"
        } else {
            ""
        },
        blast_radius(analysis, &esc)
    );
}

/// A latency in milliseconds without its unit, or `-` when nothing succeeded.
fn ms_cell(count: u64, ns: u64) -> String {
    if count == 0 {
        "-".to_owned()
    } else {
        fmt_ms(ns).trim_end_matches("ms").to_owned()
    }
}

/// A line's availability points in percent: each the share of what finished in its windows
/// that succeeded; none where nothing finished.
fn availability_points(
    page: &Page,
    windows: &[models::metrics::Window],
) -> Vec<Option<(f64, f64)>> {
    page.points(windows, |ws, _| {
        let ok: u64 = ws.iter().map(|w| w.ok).sum();
        let failed: u64 = ws.iter().map(|w| w.failed()).sum();
        (ok + failed > 0).then(|| ok as f64 * 100.0 / (ok + failed) as f64)
    })
}

/// A line's p99 points in ms: the highest window p99 of its windows; none where nothing
/// succeeded.
fn p99_points(page: &Page, windows: &[models::metrics::Window]) -> Vec<Option<(f64, f64)>> {
    page.points(windows, |ws, _| {
        ws.iter()
            .filter(|w| w.ok > 0)
            .map(|w| w.latency_ns_p99)
            .max()
            .map(|ns| ns as f64 / 1e6)
    })
}

/// One line of a time-series chart.
struct Line {
    name: String,
    colour: RGBColor,
    /// `None` breaks the line.
    points: Vec<Option<(f64, f64)>>,
}

/// Which extreme of a line its legend entry shows.
#[derive(Clone, Copy)]
enum Extreme {
    Min,
    Max,
}

impl Line {
    /// `min 12.5 %` or `max 256`: the line's lowest or highest point, so that a line hidden
    /// under another can still be read; `None` without points.
    fn extreme(&self, extreme: Extreme, decimals: usize, unit: &str) -> Option<String> {
        let ys = self.points.iter().flatten().map(|&(_, y)| y);
        let (word, value) = match extreme {
            Extreme::Min => ("min", ys.reduce(f64::min)?),
            Extreme::Max => ("max", ys.reduce(f64::max)?),
        };
        Some(format!("{word} {:.*}{unit}", decimals, value + 0.0))
    }
}

/// The y axis of a time-series chart.
struct YAxis {
    desc: &'static str,
    max: f64,
    decimals: usize,
}

/// The decimals that keep tick labels of an axis up to `max` distinct.
fn tick_decimals(max: f64) -> usize {
    if max >= 20.0 {
        0
    } else if max >= 2.0 {
        1
    } else if max >= 0.2 {
        2
    } else {
        3
    }
}

/// The largest y of `lines` times 1.05, at least `floor`.
fn y_max(lines: &[Line], floor: f64) -> f64 {
    let max = lines
        .iter()
        .flat_map(|l| l.points.iter().flatten())
        .map(|&(_, y)| y)
        .fold(0.0f64, f64::max);
    (max * 1.05).max(floor)
}

/// What the resilience policies did, when they did anything.
fn policies(out: &mut String, result: &RunResult) {
    let facts = crate::common::policy_facts(result);
    if facts.is_empty() {
        return;
    }
    out.push_str("<h2>Policies</h2>\n<ul>\n");
    for f in &facts {
        out.push_str(&format!(
            "<li><strong>{}</strong>: {}</li>\n",
            crate::common::escape_markup(&f.subject),
            crate::common::escape_markup(&f.facts.join("; "))
        ));
    }
    out.push_str("</ul>\n");
}

/// The charts section.
fn charts(out: &mut String, page: &Page) {
    out.push_str("<h2>Charts</h2>\n");
    let r = page.result;
    // What one point of a line stands for; `merged` says how windows are merged when a long
    // run has more windows than a line has points.
    let points_note = |merged: &str| {
        if page.group > 1 {
            format!(
                " Each point is {merged} {} consecutive windows of {}.",
                page.group, r.window
            )
        } else {
            format!(" One point per window of {}.", r.window)
        }
    };
    let shade_note = if page.faults_s.is_empty() {
        ""
    } else {
        " Grey bands: fault windows."
    };

    // a. Availability.
    let mut lines = Vec::new();
    let stats = r
        .services
        .iter()
        .map(|s| (&s.name, &s.stats))
        .chain(r.clients.iter().map(|c| (&c.name, &c.stats)));
    let mut extras = Extras::default();
    let kinds = r
        .services
        .iter()
        .map(|_| EntityKind::Service)
        .chain(r.clients.iter().map(|_| EntityKind::Client));
    for (i, ((name, st), kind)) in stats.clone().zip(kinds.clone()).enumerate() {
        if let Some(e) = page.entity(kind, name) {
            extras
                .objectives
                .push((e.availability_objective * 100.0, colour(i)));
        }
        lines.push(Line {
            name: name.clone(),
            colour: colour(i),
            points: availability_points(page, &st.windows),
        });
    }
    figure(
        out,
        &format!(
            "Availability per window (% of the requests that finished in the window and \
             succeeded), per service and client. Windows in which no request finished are left \
             out. Thin dashed lines: each one's availability objective, in its colour.{}\
             {shade_note}",
            points_note("the availability over")
        ),
        time_chart_with(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "availability (%)",
                max: 100.0,
                decimals: 0,
            },
            &extras,
            (CHART_WIDTH_PX, CHART_HEIGHT_PX),
        ),
        &lines,
        (Extreme::Min, 1, " %"),
    );

    // b. Latency p99.
    let mut lines = Vec::new();
    let mut extras = Extras::default();
    for (i, ((name, st), kind)) in stats.zip(kinds).enumerate() {
        if let Some(p99) = page
            .entity(kind, name)
            .and_then(|e| e.latency_p99_objective)
        {
            extras.objectives.push((p99.as_millis_f64(), colour(i)));
        }
        extras
            .undefined
            .push((colour(i), page.undefined_latency(&st.windows)));
        lines.push(Line {
            name: name.clone(),
            colour: colour(i),
            points: p99_points(page, &st.windows),
        });
    }
    let objectives_max = extras.objectives.iter().map(|o| o.0).fold(0.0, f64::max);
    let max = y_max(&lines, 1.0).max(objectives_max * 1.05);
    figure(
        out,
        &format!(
            "p99 latency of the successful requests per window (ms), per service and client; a \
             client's latency includes its retries. Thin dashed lines: each one's p99 \
             objective. Hatched along the top, in a line's colour: windows in which requests \
             finished but none succeeded, so there is no latency to show; windows in which \
             nothing finished are left out.{}{shade_note}",
            points_note("the highest window p99 of")
        ),
        time_chart_with(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "p99 latency (ms)",
                max,
                decimals: tick_decimals(max),
            },
            &extras,
            (CHART_WIDTH_PX, CHART_HEIGHT_PX),
        ),
        &lines,
        (Extreme::Max, 1, " ms"),
    );

    // c. Queue depth.
    let mut lines = Vec::new();
    for (i, s) in r.services.iter().enumerate() {
        lines.push(Line {
            name: s.name.clone(),
            colour: colour(i),
            points: page.points(&s.gauges.windows, |gs, _| {
                gs.iter().map(|g| f64::from(g.queue_max)).reduce(f64::max)
            }),
        });
    }
    let max = y_max(&lines, 1.0);
    figure(
        out,
        &format!(
            "Queue depth: the longest each service's queue got in the window (requests waiting \
             for a worker).{}{shade_note}",
            points_note("the maximum over")
        ),
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "queue length (max)",
                max,
                decimals: tick_decimals(max),
            },
        ),
        &lines,
        (Extreme::Max, 0, ""),
    );

    // d. Worker utilisation.
    let mut lines = Vec::new();
    for (i, s) in r.services.iter().enumerate() {
        let workers = f64::from(s.workers);
        lines.push(Line {
            name: s.name.clone(),
            colour: colour(i),
            points: page.points(&s.gauges.windows, |gs, span_ns| {
                let busy: u128 = gs.iter().map(|g| u128::from(g.busy_ns)).sum();
                (workers > 0.0 && span_ns > 0)
                    .then(|| busy as f64 * 100.0 / (workers * span_ns as f64))
            }),
        });
    }
    figure(
        out,
        &format!(
            "Busy workers: the mean number of busy workers in the window as a share of each \
             service's workers (utilisation; a worker held while waiting on a downstream call \
             counts as busy).{}{shade_note}",
            points_note("the utilisation over")
        ),
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "busy workers (%)",
                max: 100.0,
                decimals: 0,
            },
        ),
        &lines,
        (Extreme::Max, 0, " %"),
    );

    endpoints::endpoint_figures(out, page, shade_note);

    // e. Cascade timeline.
    gantt_figure(out, page);

    // f. Circuit breakers.
    breaker_figure(out, page);

    // g. Autoscaled replicas.
    ops::autoscale_figure(out, page);
    rollout::rollout_figure(out, page);
    serverless::function_figure(out, page);
    // g. Brokers' queues.
    queues::queue_figures(out, page, shade_note);
    crate::outbox::html(out, page.result);
}

/// A `<figure>`: the caption, the chart or why it could not be drawn, then the legend of
/// `lines`.
fn figure(
    out: &mut String,
    caption: &str,
    svg: Result<String, String>,
    lines: &[Line],
    extreme: (Extreme, usize, &str),
) {
    out.push_str("<figure>\n");
    let _ = writeln!(out, "<figcaption>{}</figcaption>", escape(caption));
    push_svg(out, svg);
    if !lines.is_empty() {
        out.push_str("<ul class=\"legend\">\n");
        for l in lines {
            let (which, decimals, unit) = extreme;
            let stat = l
                .extreme(which, decimals, unit)
                .unwrap_or_else(|| "no data".to_owned());
            let _ = writeln!(
                out,
                "<li data-c=\"{}\"><span class=\"swatch\" style=\"background:{}\"></span>{} \
                 <span class=\"muted\">{}</span></li>",
                css_colour(l.colour),
                css_colour(l.colour),
                escape(&l.name),
                escape(&stat)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</figure>\n");
}

fn push_svg(out: &mut String, svg: Result<String, String>) {
    match svg {
        Ok(svg) => out.push_str(&svg),
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"note\">chart could not be drawn: {}</p>",
                escape(&e)
            );
        }
    }
}

type DrawResult = Result<(), Box<dyn Error>>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Renders one chart of `size` into an SVG string; a drawing error becomes the `Err` message.
fn render(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> DrawResult,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// A text of `size` px (at least 12: nothing on the page is smaller).
fn text_style(size: u32) -> TextStyle<'static> {
    let px = f64::from(size.max(12)) * PLOTTERS_FONT_SCALE;
    TextStyle::from((FONT, px).into_font()).color(&BLACK)
}

fn bold_text_style(size: u32) -> TextStyle<'static> {
    let px = f64::from(size.max(12)) * PLOTTERS_FONT_SCALE;
    TextStyle::from((FONT, px, FontStyle::Bold).into_font()).color(&BLACK)
}

/// Grey bands over `[from, to)` of every fault, from `y0` to `y1`, numbered above the plot.
fn shade_faults(chart: &mut Chart, axis: &TimeAxis, y0: f64, y1: f64) -> DrawResult {
    let numbered = axis.faults_s.len() > 1;
    let x_max = axis.end_s;
    for (k, &(from, to)) in axis.faults_s.iter().enumerate() {
        if from >= x_max {
            // Scripted after the end of the run (or the run stopped early).
            continue;
        }
        if to > from {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(from, y0), (to, y1)],
                BLACK.mix(0.08).filled(),
            )))?;
        }
        let label = if numbered {
            format!("fault {}", k + 1)
        } else {
            "fault".to_owned()
        };
        chart.draw_series(std::iter::once(
            EmptyElement::at((from, y1))
                + Text::new(
                    label,
                    (2, -3),
                    text_style(12)
                        .color(&RGBColor(0x55, 0x55, 0x55))
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                ),
        ))?;
    }
    Ok(())
}

/// A "no data" note in the middle of a chart.
fn no_data(chart: &mut Chart, x: f64, y: f64, message: &str) -> DrawResult {
    chart.draw_series(std::iter::once(Text::new(
        message.to_owned(),
        (x, y),
        text_style(16)
            .color(&RGBColor(0x88, 0x88, 0x88))
            .pos(Pos::new(HPos::Center, VPos::Center)),
    )))?;
    Ok(())
}

/// What a window is and what each entity's objectives are.
fn explanations(out: &mut String, page: &Page) {
    let a = page.analysis;
    out.push_str("<h2>How to read this report</h2>\n");
    let _ = writeln!(
        out,
        "<p>A <em>window</em> is {} of simulated time: the time series are counted per window \
         (a request counts in the window in which its outcome became known), and health is \
         judged per window. A window with fewer than {} finished requests is pooled with the \
         windows after it until they hold that many, and the pool is judged as one; a last \
         pool that never gets there is not judged. An entity is <em>unhealthy</em> in a \
         window when its availability is below its objective (the symptom is then the most \
         frequent failure cause) or when its p99 latency is above its objective (high \
         latency). The baseline ends at {}, when the first fault starts.</p>",
        escape(&page.result.window.to_string()),
        crate::analysis::MIN_REQUESTS_PER_WINDOW,
        seconds(a.baseline_end.as_nanos()),
    );
    if a.entities.is_empty() {
        out.push_str("<p class=\"note\">No objectives: nothing was simulated.</p>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th>name</th><th>kind</th><th>availability objective %</th>\
         <th>p99 objective ms</th><th>p99 objective from</th><th>unhealthy spans</th></tr>\
         </thead>\n<tbody>\n",
    );
    for e in &a.entities {
        if matches!(e.kind, EntityKind::Queue | EntityKind::ConsumerGroup) {
            let (objective, source) = match e.backlog_objective {
                Some(n) => (
                    format!("backlog ≤ {n}"),
                    format!(
                        "messages arriving in {}× the median end-to-end p99, at the rate before {}",
                        crate::analysis::DEFAULT_P99_FACTOR,
                        seconds(a.baseline_end.as_nanos())
                    ),
                ),
                None => (
                    "-".to_owned(),
                    "none: no consumer, or too few messages before the first fault".to_owned(),
                ),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">-</td><td class=\"num\">{}</td>\
                 <td>{}</td><td class=\"num\">{}</td></tr>",
                escape(&e.name),
                e.kind.as_str(),
                escape(&objective),
                escape(&source),
                e.unhealthy.len()
            );
            continue;
        }
        let (p99, source) = match e.latency_p99_objective {
            Some(d) if e.latency_objective_set => (ms_cell(1, d.as_nanos()), "scenario".to_owned()),
            Some(d) => (
                ms_cell(1, d.as_nanos()),
                format!(
                    "{}× the median window p99 before {}",
                    crate::analysis::DEFAULT_P99_FACTOR,
                    seconds(a.baseline_end.as_nanos())
                ),
            ),
            None => (
                "-".to_owned(),
                "none: no successful request before the first fault".to_owned(),
            ),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td class=\"num\">{}</td></tr>",
            escape(&e.name),
            e.kind.as_str(),
            percent(e.availability_objective),
            p99,
            escape(&source),
            e.unhealthy.len()
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests;
