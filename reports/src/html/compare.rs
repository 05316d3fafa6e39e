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
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>{title}</title>");
    let _ = writeln!(out, "<style>\n{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<h1>{title}</h1>");
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
    let axis = TimeAxis {
        end_s: windows as f64 * window_ns as f64 / 1e9,
        faults_s: Vec::new(),
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
                        colour: colour(2 * i + usize::from(side == "B")),
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
                "Availability per window of the {label}, A and B overlaid: the share of the \
                 requests of all seeds that finished in the window and succeeded."
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
    }
    out.push_str("</body>\n</html>\n");
    out
}
