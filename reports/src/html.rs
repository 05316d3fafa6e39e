//! The self-contained HTML report of a run: what happened after each fault, a summary table,
//! charts of the per-window time series drawn as inline SVG with plotters, and the objectives
//! the analysis judged against. No external URL, no wall clock: the same run and analysis
//! always give the same bytes. The charts are drawn here, in Rust; a small inline script
//! (`interact`) only adds hover values, zoom and series toggles, so the page reads without it.

mod breakers;
mod chart;
mod charts;
mod check;
mod compare;
mod endpoints;
mod explain;
mod figure;
mod gantt;
mod happened;
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
use charts::{availability_points, charts, p99_points};
pub use check::check_html;
pub use compare::compare_html;
use explain::explanations;
use figure::{
    Chart, DrawResult, Extreme, Line, YAxis, bold_text_style, figure, no_data, push_svg, render,
    rows_chart, shade_faults, text_style, tick_decimals, y_max,
};
use gantt::{gantt_figure, short_label};
use happened::{policies, what_happened};
use std::fmt::Write as _;
use summary::{ms_cell, summary};
pub use sweep::sweep_html;

use models::RunResult;
use models::metrics::FailureCause;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::analysis::{Analysis, EntityHealth, EntityKind, Interval, Symptom};
use crate::common::escape_markup as escape;
use crate::common::{coarsened_windows, fmt_ms, is_complete, partial_reason, percent};
use crate::text::seconds;

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

/// One self-contained HTML page for a run: inline CSS, SVG and one small inline script for the
/// interactions, no external URL.
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
    page_head(&mut out, &title, "");
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

/// The start of every page, up to its `<h1>`: the `title` (already escaped) and the inline
/// CSS, the page's own `extra_css` between the shared rules and the script's.
fn page_head(out: &mut String, title: &str, extra_css: &str) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>{title}</title>");
    let _ = writeln!(
        out,
        "<style>\n{CSS}{extra_css}{}</style>\n</head>\n<body>",
        interact::CSS
    );
    let _ = writeln!(out, "<h1>{title}</h1>");
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

#[cfg(test)]
mod tests;
