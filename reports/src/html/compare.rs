//! The compare page: two scenarios over the same seeds, side by side, with their availability
//! over time overlaid.

use super::*;

/// One self-contained HTML page comparing two scenarios over the same seeds: the figures side
/// by side with deltas (B minus A), and availability over time of A and B overlaid.
pub fn compare_html(c: &crate::compare::Comparison) -> String {
    use crate::compare::AggregateEntity;
    let mut out = String::with_capacity(128 * 1024);
    let title = format!(
        "faultline · compare {} (A) with {} (B)",
        escape(&c.a.scenario),
        escape(&c.b.scenario)
    );
    page_head(&mut out, &title, "");
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} seeds ({}..{}) · deltas are B minus A · latencies and \
         availability pooled over every request of every seed</p>",
        c.a.runs(),
        c.a.seeds.first().copied().unwrap_or(0),
        c.a.seeds.last().copied().unwrap_or(0)
    );
    out.push_str(
        "<h2>Side by side</h2>\n<table>\n<thead><tr><th></th><th>avail % A</th>\
                  <th>avail % B</th><th>delta pp</th><th>p99 A</th><th>p99 B</th>\
                  <th>ampl A</th><th>ampl B</th></tr></thead>\n<tbody>\n",
    );
    let pct = |e: Option<&AggregateEntity>| {
        e.map_or_else(
            || "-".to_owned(),
            |e| format!("{:.3}", e.availability() * 100.0),
        )
    };
    let p99 = |e: Option<&AggregateEntity>| {
        e.map_or_else(
            || "-".to_owned(),
            |e| format!("{:.3} ms", e.latency.quantile(0.99).as_millis_f64()),
        )
    };
    for p in c.pairs() {
        let delta = match (p.a, p.b) {
            (Some(a), Some(b)) => format!("{:+.3}", (b.availability() - a.availability()) * 100.0),
            _ => "-".to_owned(),
        };
        let ampl = |agg: &crate::compare::Aggregate, e: Option<&AggregateEntity>| {
            e.map_or_else(
                || "-".to_owned(),
                |e| format!("{:.3}", agg.amplification(e)),
            )
        };
        let _ = writeln!(
            out,
            "<tr><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            p.kind.as_str(),
            escape(p.name),
            pct(p.a),
            pct(p.b),
            delta,
            p99(p.a),
            p99(p.b),
            ampl(&c.a, p.a),
            ampl(&c.b, p.b)
        );
    }
    out.push_str("</tbody>\n</table>\n");
    out.push_str(
        "<h2>Recovery</h2>\n<table>\n<thead><tr><th></th><th>runs impacted</th>\
                  <th>recovered</th><th>did not recover</th><th>mean time to recover</th>\
                  <th>blast radius mean</th><th>max</th></tr></thead>\n<tbody>\n",
    );
    for (label, agg) in [("A", &c.a), ("B", &c.b)] {
        let _ = writeln!(
            out,
            "<tr><td>{label} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td>\
             <td>{}</td></tr>",
            escape(&agg.scenario),
            agg.runs_impacted,
            agg.runs_recovered,
            agg.runs_not_recovered,
            agg.recovery_mean()
                .map_or_else(|| "-".to_owned(), |d| d.to_string()),
            agg.blast_radius_mean(),
            agg.blast_radius_max
        );
    }
    out.push_str("</tbody>\n</table>\n");
    for agg in [&c.a, &c.b] {
        if let Some(sentence) = agg.incomplete_sentence() {
            let _ = writeln!(out, "<p><strong>{}</strong></p>", escape(&sentence));
        }
    }
    activity(&mut out, c);
    out.push_str("<h2>Charts</h2>\n");
    let window_ns = c.a.window.as_nanos().max(1);
    let windows =
        c.a.entities
            .iter()
            .chain(&c.b.entities)
            .map(|e| e.windows.len())
            .max()
            .unwrap_or(0)
            .max(1);
    let end_s = windows as f64 * window_ns as f64 / 1e9;
    let axis = TimeAxis {
        end_s,
        faults_s: c
            .a
            .faults_s
            .iter()
            .map(|&(from, to)| (from.min(end_s), to.clamp(from.min(end_s), end_s)))
            .collect(),
    };
    let shade_note = if axis.faults_s.is_empty() {
        ""
    } else {
        " Grey bands: A's fault windows."
    };
    let p99_points = |e: &AggregateEntity, window_ns: u64| -> Vec<Option<(f64, f64)>> {
        e.p99_windows
            .iter()
            .enumerate()
            .map(|(i, &(sum, n))| {
                (n > 0).then(|| {
                    (
                        (i as f64 + 0.5) * window_ns as f64 / 1e9,
                        sum as f64 / f64::from(n) / 1e6,
                    )
                })
            })
            .collect()
    };
    let availability_points = |e: &AggregateEntity, window_ns: u64| -> Vec<Option<(f64, f64)>> {
        e.windows
            .iter()
            .enumerate()
            .map(|(i, &(ok, failed))| {
                (ok + failed > 0).then(|| {
                    (
                        (i as f64 + 0.5) * window_ns as f64 / 1e9,
                        ok as f64 * 100.0 / (ok + failed) as f64,
                    )
                })
            })
            .collect()
    };
    for (kind, label) in [
        (EntityKind::Client, "clients"),
        (EntityKind::Service, "services"),
    ] {
        let mut lines = Vec::new();
        for (i, p) in c.pairs().iter().filter(|p| p.kind == kind).enumerate() {
            for (side, agg, e) in [("A", &c.a, p.a), ("B", &c.b, p.b)] {
                if let Some(e) = e {
                    lines.push(Line {
                        name: format!("{side} {}", p.name),
                        colour: side_colour(i, side == "B"),
                        points: availability_points(e, agg.window.as_nanos().max(1)),
                    });
                }
            }
        }
        if lines.is_empty() {
            continue;
        }
        figure(
            &mut out,
            &format!(
                "Availability per window of the {label}, A and B overlaid (A dark, B the \
                 lighter shade of the same colour): the share of the requests of all seeds that \
                 finished in the window and succeeded.{shade_note}"
            ),
            time_chart(
                &axis,
                &lines,
                &YAxis {
                    desc: "availability (%)",
                    max: 100.0,
                    decimals: 0,
                },
            ),
            &lines,
            (Extreme::Min, 1, " %"),
        );
        let mut lines = Vec::new();
        for (i, p) in c.pairs().iter().filter(|p| p.kind == kind).enumerate() {
            for (side, agg, e) in [("A", &c.a, p.a), ("B", &c.b, p.b)] {
                if let Some(e) = e {
                    lines.push(Line {
                        name: format!("{side} {}", p.name),
                        colour: side_colour(i, side == "B"),
                        points: p99_points(e, agg.window.as_nanos().max(1)),
                    });
                }
            }
        }
        let max = y_max(&lines, 1.0);
        figure(
            &mut out,
            &format!(
                "p99 latency per window of the {label} (ms), A and B overlaid: the mean over the \
                 seeds of each seed's window p99 (seeds without a success in the window left \
                 out).{shade_note}"
            ),
            time_chart(
                &axis,
                &lines,
                &YAxis {
                    desc: "p99 latency (ms)",
                    max,
                    decimals: tick_decimals(max),
                },
            ),
            &lines,
            (Extreme::Max, 1, " ms"),
        );
    }
    super::interact::script(&mut out);
    out.push_str("</body>\n</html>\n");
    out
}

/// The colour of the `i`th entity on side A (dark) or B (the lighter shade of the same hue),
/// so that A and B of one service read as a pair.
fn side_colour(i: usize, b: bool) -> RGBColor {
    // PALETTE[15..20] are dark shades whose light shades are PALETTE[20..25].
    colour(15 + i % 5 + if b { 5 } else { 0 })
}

/// What the policies did on each side: two columns that look the same above may differ here.
fn activity(out: &mut String, c: &crate::compare::Comparison) {
    let rows = crate::activity::diff(&c.a.activity, &c.b.activity);
    out.push_str("<h2>Policy activity</h2>\n");
    if rows.is_empty() {
        out.push_str("<p>No policy acted in either scenario (no breaker opened, no retry, hedge, fallback or shedding).</p>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th>over all seeds</th><th>A</th><th>B</th><th>B minus A</th>\
         </tr></thead>\n<tbody>\n",
    );
    for (what, a, b) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{what}</td><td class=\"num\">{a}</td><td class=\"num\">{b}</td>\
             <td class=\"num\">{:+}</td></tr>",
            i128::from(b) - i128::from(a)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}
