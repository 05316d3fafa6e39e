//! The HTML report's traffic charts: what the clients got per second by outcome, each
//! client's latency percentiles as a band, how many attempts each service saw per client
//! request, the retries and hedges per edge, and one small chart per call edge.

use super::*;
use models::metrics::Window;

/// Above this many call edges, the small multiples show the busiest ones only.
const EDGE_CHARTS_MAX: usize = 36;
/// Size of one small chart.
const SMALL_CHART_PX: (u32, u32) = (330, 220);

/// The colour of "ok" in the throughput charts; failure causes take the palette from its
/// second entry on, skipping this green.
const OK_COLOUR: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);

fn cause_colour(k: usize) -> RGBColor {
    const PICKS: [usize; 13] = [3, 1, 4, 5, 6, 7, 8, 9, 0, 10, 11, 12, 13];
    colour(PICKS[k % PICKS.len()])
}

/// The traffic section: throughput, latency bands, amplification, retries, per-edge charts.
pub(super) fn figures(out: &mut String, page: &Page) {
    let r = page.result;
    if r.clients.is_empty() && r.edges.is_empty() {
        return;
    }
    out.push_str("<h2>Traffic</h2>\n");
    throughput(out, page);
    latency_bands(out, page);
    amplification(out, page);
    retries(out, page);
    edges(out, page);
}

/// Per second, summed over `bucket`'s windows: what `count` picks, over `span_ns`.
fn per_second(bucket: &[Window], span_ns: u64, count: impl Fn(&Window) -> u64) -> Option<f64> {
    (span_ns > 0).then(|| bucket.iter().map(&count).sum::<u64>() as f64 * 1e9 / span_ns as f64)
}

/// The windows of several series added up, window by window.
fn summed(series: &[&[Window]]) -> Vec<Window> {
    let len = series.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![Window::default(); len];
    for s in series {
        for (o, w) in out.iter_mut().zip(s.iter()) {
            o.ok += w.ok;
            for (a, b) in o.failed_by_cause.iter_mut().zip(w.failed_by_cause) {
                *a += b;
            }
        }
    }
    out
}

/// Lines "ok/s" and "failed/s" per cause that occurred, of `windows`.
fn outcome_lines(page: &Page, windows: &[Window]) -> Vec<Line> {
    let mut lines = vec![Line {
        name: "ok".to_owned(),
        colour: OK_COLOUR,
        points: page.points(windows, |ws, span| per_second(ws, span, |w| w.ok)),
    }];
    for (k, cause) in FailureCause::ALL.iter().enumerate() {
        if windows.iter().any(|w| w.failed_by_cause[k] > 0) {
            lines.push(Line {
                name: format!("failed: {}", cause.as_str()),
                colour: cause_colour(k),
                points: page.points(windows, |ws, span| {
                    per_second(ws, span, |w| w.failed_by_cause[k])
                }),
            });
        }
    }
    lines
}

/// Requests per second the clients got answered, ok and failed by cause.
fn throughput(out: &mut String, page: &Page) {
    let r = page.result;
    if r.clients.is_empty() {
        return;
    }
    let all: Vec<&[Window]> = r
        .clients
        .iter()
        .map(|c| c.stats.windows.as_slice())
        .collect();
    let windows = summed(&all);
    let lines = outcome_lines(page, &windows);
    let max = y_max(&lines, 1.0);
    figure(
        out,
        &format!(
            "Throughput: the requests of all clients that finished per second, those that \
             succeeded (ok) and those that failed, by cause. A request counts when its outcome \
             became known; a client's request is one logical request, its retries included.{}",
            shade_note(page)
        ),
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "requests per second",
                max,
                decimals: tick_decimals(max),
            },
        ),
        &lines,
        (Extreme::Max, 1, "/s"),
    );
}

/// One chart per client: its p50, p90 and p99 per window, the band between p50 and p99
/// shaded, its p99 objective dashed, and the windows without a success hatched.
fn latency_bands(out: &mut String, page: &Page) {
    let r = page.result;
    for (i, c) in r.clients.iter().enumerate() {
        let base = colour(r.services.len() + i);
        let pick = |p: fn(&Window) -> u64| {
            move |ws: &[Window], _span: u64| {
                ws.iter()
                    .filter(|w| w.ok > 0)
                    .map(p)
                    .max()
                    .map(|ns| ns as f64 / 1e6)
            }
        };
        let windows = &c.stats.windows;
        let p50 = page.points(windows, pick(|w| w.latency_ns_p50));
        let p90 = page.points(windows, pick(|w| w.latency_ns_p90));
        let p99 = page.points(windows, pick(|w| w.latency_ns_p99));
        let band: Vec<(f64, f64, f64)> = p50
            .iter()
            .zip(&p99)
            .filter_map(|(lo, hi)| Some((lo.as_ref()?.0, lo.as_ref()?.1, hi.as_ref()?.1)))
            .collect();
        let lines = vec![
            Line {
                name: format!("{} p50", c.name),
                colour: RGBColor(0x31, 0xa3, 0x54),
                points: p50,
            },
            Line {
                name: format!("{} p90", c.name),
                colour: RGBColor(0xe6, 0x55, 0x0d),
                points: p90,
            },
            Line {
                name: format!("{} p99", c.name),
                colour: base,
                points: p99,
            },
        ];
        let mut extras = Extras {
            undefined_full: true,
            ..Extras::default()
        };
        let objective = page
            .entity(EntityKind::Client, &c.name)
            .and_then(|e| e.latency_p99_objective);
        if let Some(p99) = objective {
            extras.objectives.push((p99.as_millis_f64(), base));
        }
        // Split the band where a window has no latency, so that it does not bridge a gap.
        for run in band.chunk_by(|a, b| b.0 - a.0 <= page.bucket_s() * 1.5) {
            extras.bands.push((base, run.to_vec()));
        }
        extras
            .undefined
            .push((RGBColor(0xcb, 0x18, 0x1d), page.undefined_latency(windows)));
        let max = y_max(&lines, 1.0).max(objective.map_or(0.0, |d| d.as_millis_f64() * 1.05));
        figure(
            out,
            &format!(
                "Client {}: the latency percentiles of its successful requests per window \
                 (ms), p50, p90 and p99, the band between p50 and p99 shaded. Dashed: its p99 \
                 objective. Hatched red: windows in which its requests finished but none \
                 succeeded (no latency exists there).{}",
                c.name,
                shade_note(page)
            ),
            time_chart_with(
                &page.axis(),
                &lines,
                &YAxis {
                    desc: "latency (ms)",
                    max,
                    decimals: tick_decimals(max),
                },
                &extras,
                (CHART_WIDTH_PX, CHART_HEIGHT_PX),
            ),
            &lines,
            (Extreme::Max, 1, " ms"),
        );
    }
}

/// Attempts that finished at each service per client request that finished, window by window:
/// how retries and fan-out multiply the load over time.
fn amplification(out: &mut String, page: &Page) {
    let r = page.result;
    if r.clients.is_empty() || r.services.is_empty() {
        return;
    }
    let all: Vec<&[Window]> = r
        .clients
        .iter()
        .map(|c| c.stats.windows.as_slice())
        .collect();
    let entry = summed(&all);
    let entry_counts: Vec<u64> = entry.iter().map(|w| w.ok + w.failed()).collect();
    let mut lines = Vec::new();
    for (i, s) in r.services.iter().enumerate() {
        let counts: Vec<(u64, u64)> = s
            .stats
            .windows
            .iter()
            .enumerate()
            .map(|(k, w)| (w.ok + w.failed(), entry_counts.get(k).copied().unwrap_or(0)))
            .collect();
        lines.push(Line {
            name: s.name.clone(),
            colour: colour(i),
            points: page.points(&counts, |bucket, _| {
                let attempts: u64 = bucket.iter().map(|c| c.0).sum();
                let requests: u64 = bucket.iter().map(|c| c.1).sum();
                (requests > 0).then(|| attempts as f64 / requests as f64)
            }),
        });
    }
    let max = y_max(&lines, 1.0);
    figure(
        out,
        &format!(
            "Amplification over time: the attempts that finished at each service per client \
             request that finished, window by window (1 means one attempt per request; \
             retries, hedges and fan-out raise it). Windows without a finished client request \
             are left out.{}",
            shade_note(page)
        ),
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "attempts per request",
                max,
                decimals: tick_decimals(max),
            },
        ),
        &lines,
        (Extreme::Max, 2, "×"),
    );
}

/// Extra attempts per second per edge that retried or hedged: the attempts that finished
/// less the logical calls that finished in the window (a call's retries finish in or before
/// the window of its outcome, so this is the retries and hedges, shifted by at most a window).
fn retries(out: &mut String, page: &Page) {
    let r = page.result;
    let names = crate::common::edge_names(&r.edges);
    let mut lines = Vec::new();
    let mut totals = Vec::new();
    for (k, (e, name)) in r.edges.iter().zip(&names).enumerate() {
        if e.retries + e.hedges == 0 {
            continue;
        }
        let pairs: Vec<(u64, u64)> = e
            .stats
            .windows
            .iter()
            .enumerate()
            .map(|(j, w)| {
                let calls = e.calls.windows.get(j).map_or(0, |c| c.ok + c.failed());
                (w.ok + w.failed(), calls)
            })
            .collect();
        totals.push(format!("{name} {} retries, {} hedges", e.retries, e.hedges));
        lines.push(Line {
            name: name.clone(),
            colour: colour(k),
            points: page.points(&pairs, |bucket, span| {
                let attempts: u64 = bucket.iter().map(|p| p.0).sum();
                let calls: u64 = bucket.iter().map(|p| p.1).sum();
                (span > 0).then(|| attempts.saturating_sub(calls) as f64 * 1e9 / span as f64)
            }),
        });
    }
    if lines.is_empty() {
        out.push_str("<p class=\"note\">No edge retried or hedged in this run.</p>\n");
        return;
    }
    let max = y_max(&lines, 1.0);
    figure(
        out,
        &format!(
            "Retries and hedges over time, per call edge that made any: the attempts that \
             finished per second beyond the logical calls that finished. In all: {}.{}",
            totals.join("; "),
            shade_note(page)
        ),
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "extra attempts per second",
                max,
                decimals: tick_decimals(max),
            },
        ),
        &lines,
        (Extreme::Max, 1, "/s"),
    );
}

/// One small chart per call edge (per calling endpoint where a service calls the same
/// service from several): attempts per second, ok and failed by cause.
fn edges(out: &mut String, page: &Page) {
    let r = page.result;
    if r.edges.is_empty() {
        return;
    }
    let names = crate::common::edge_names(&r.edges);
    let mut order: Vec<usize> = (0..r.edges.len()).collect();
    let left_out = r.edges.len().saturating_sub(EDGE_CHARTS_MAX);
    if left_out > 0 {
        // The busiest edges, in the report's order.
        order.sort_by_key(|&k| std::cmp::Reverse(r.edges[k].attempts));
        order.truncate(EDGE_CHARTS_MAX);
        order.sort_unstable();
    }
    out.push_str("<h3>Per call edge</h3>\n");
    let _ = writeln!(
        out,
        "<p class=\"meta\">Attempts per second over each call edge (and calling endpoint), \
         ok and failed by cause, as the caller saw them; every chart has the same time axis.{}\
         </p>",
        if left_out > 0 {
            format!(" The {left_out} edges with the fewest attempts are left out.")
        } else {
            String::new()
        }
    );
    out.push_str("<div class=\"grid\">\n");
    for k in order {
        let e = &r.edges[k];
        let lines = outcome_lines(page, &e.stats.windows);
        let max = y_max(&lines, 1.0);
        figure(
            out,
            &names[k],
            time_chart_with(
                &page.axis(),
                &lines,
                &YAxis {
                    desc: "attempts/s",
                    max,
                    decimals: tick_decimals(max),
                },
                &Extras::default(),
                SMALL_CHART_PX,
            ),
            &lines,
            (Extreme::Max, 1, "/s"),
        );
    }
    out.push_str("</div>\n");
}

fn shade_note(page: &Page) -> &'static str {
    if page.faults_s.is_empty() {
        ""
    } else {
        " Grey bands: fault windows."
    }
}
