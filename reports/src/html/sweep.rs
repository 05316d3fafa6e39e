//! The sweep page (`sweep --format html`, `merge --format html`): the expectations judged at
//! every point, then one chart per metric against the swept parameter, its mean joined by a
//! line over the band and bars of its 95% interval, each with its table. Made from the sweep
//! document alone: the same document always gives the same bytes.

use super::*;
use crate::sweep::{Definition, Document, MetricAggregate, metric_cells, seeds_cell};

/// Every metric's chart; two fit side by side on the page.
const SWEEP_CHART_PX: (u32, u32) = (500, 300);
/// Longer point labels on the x axis are cut (the points table has them whole).
const POINT_LABEL_CHARS_MAX: usize = 14;
/// Failing seeds listed in a cell before "... (N in all)".
const SEEDS_SHOWN: usize = 20;

const SWEEP_CSS: &str = "\
.sgrid{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:8px}
.sgrid figure{margin:0;overflow-x:auto}
.sgrid td{white-space:nowrap}
.sgrid table{font-size:12px}
.pass{color:#1a7f37;font-weight:600}
.fail{color:#c0392b;font-weight:600}
td.wrap{max-width:420px;overflow-wrap:anywhere}
";

/// Where the points go on the x axis: at their value when one numeric parameter is swept,
/// else one after the other, labelled by value or point number.
struct XAxis {
    desc: String,
    positions: Vec<f64>,
    range: (f64, f64),
    /// `Some(labels)` for points placed one after the other.
    labels: Option<Vec<String>>,
}

impl XAxis {
    fn new(d: &Definition, points: &[Vec<(String, String)>]) -> XAxis {
        if let [(path, values)] = d.sets.as_slice() {
            let numbers: Option<Vec<f64>> = values
                .iter()
                .map(|v| v.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
            if let Some(numbers) = numbers {
                let lo = numbers.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let pad = if hi > lo { (hi - lo) * 0.06 } else { 0.5 };
                return XAxis {
                    desc: path.clone(),
                    positions: numbers,
                    range: (lo - pad, hi + pad),
                    labels: None,
                };
            }
        }
        let labels = points
            .iter()
            .enumerate()
            .map(|(p, point)| match point.as_slice() {
                [(_, value)] => cut_label(value, POINT_LABEL_CHARS_MAX),
                _ => format!("P{}", p + 1),
            })
            .collect();
        XAxis {
            desc: match d.sets.as_slice() {
                [(path, _)] => path.clone(),
                [] => "point".to_owned(),
                _ => "point (see the points table)".to_owned(),
            },
            positions: (0..points.len()).map(|p| p as f64).collect(),
            range: (-0.5, points.len() as f64 - 0.5),
            labels: Some(labels),
        }
    }

    fn tick(&self, x: f64) -> String {
        match &self.labels {
            None => format!("{}", crate::common::round_to(x, 6) + 0.0),
            Some(labels) => {
                let i = x.round();
                if (x - i).abs() < 1e-9 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        }
    }
}

/// `s` cut to `max` characters, the last one an ellipsis.
fn cut_label(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut cut: String = s.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// One self-contained HTML page for a sweep document (inline CSS and SVG, the pages' small
/// script, no external URL, no wall clock).
pub fn sweep_html(doc: &Document) -> String {
    let d = &doc.definition;
    let mut out = String::with_capacity(256 * 1024);
    let title = format!("faultline sweep · {}", escape(&d.scenario));
    page_head(&mut out, &title, SWEEP_CSS);
    let _ = writeln!(
        out,
        "<p class=\"meta\">seeds {}..{} · {} points × {} seeds = {} runs{} · scenario file \
         <code>{}</code></p>",
        d.seeds.0,
        d.seeds.1,
        d.points().len(),
        d.seed_count(),
        d.run_count(),
        doc.shard_note(),
        escape(&d.scenario_path)
    );
    let incomplete = doc.incomplete_runs().count();
    if incomplete > 0 {
        let _ = writeln!(
            out,
            "<p class=\"warning\"><strong>Warning:</strong> {incomplete} of {} runs stopped at a \
             limit before their end; their metrics cover only part of the scenario (raise \
             <code>limits.max_events</code>).</p>",
            doc.runs.len()
        );
    }
    if !doc.has_every_run() {
        out.push_str(
            "<p class=\"note\">Partial: the aggregates appear once every shard is merged.</p>\n",
        );
        interact::script(&mut out);
        out.push_str("</body>\n</html>\n");
        return out;
    }
    let points = d.points();
    if !d.sets.is_empty() {
        out.push_str("<h2>Points</h2>\n<table>\n<thead><tr><th>point</th>");
        for (path, _) in &d.sets {
            let _ = write!(out, "<th>{}</th>", escape(path));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (p, point) in points.iter().enumerate() {
            let _ = write!(out, "<tr><td>P{}</td>", p + 1);
            for (_, value) in point {
                let _ = write!(
                    out,
                    "<td class=\"wrap\"><code>{}</code></td>",
                    escape(value)
                );
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
    }
    expectations(&mut out, doc);
    let aggregates = doc.aggregates();
    worst_seeds(&mut out, doc, &aggregates);
    let axis = XAxis::new(d, &points);
    out.push_str(
        "<h2>Metrics against the swept parameter</h2>\n<p class=\"meta\">The line joins each \
         point's mean over its seeds; the band and the bars are the 95% interval of the mean \
         (Student's t).</p>\n<div class=\"sgrid\">\n",
    );
    let names: Vec<&str> = aggregates
        .first()
        .map(|(_, ms)| ms.iter().map(|m| m.name.as_str()).collect())
        .unwrap_or_default();
    for (k, name) in names.iter().enumerate() {
        let per_point: Vec<Option<&MetricAggregate>> = aggregates
            .iter()
            .map(|(_, ms)| ms.iter().find(|m| m.name == *name))
            .collect();
        out.push_str("<figure>\n");
        let _ = writeln!(out, "<figcaption>{}</figcaption>", escape(name));
        push_svg(&mut out, metric_chart(&axis, &per_point, colour(k)));
        out.push_str(
            "<table>\n<thead><tr><th>point</th><th>mean</th><th>95% interval</th>\
             <th>min (seed)</th><th>max (seed)</th></tr></thead>\n<tbody>\n",
        );
        for (p, m) in per_point.iter().enumerate() {
            let Some(m) = m else { continue };
            let cells = metric_cells(m);
            let _ = writeln!(
                out,
                "<tr><td>P{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                p + 1,
                cells[1],
                cells[2],
                cells[3],
                cells[4]
            );
        }
        out.push_str("</tbody>\n</table>\n</figure>\n");
    }
    out.push_str("</div>\n");
    interact::script(&mut out);
    out.push_str("</body>\n</html>\n");
    out
}

/// Every point's expectations: verdict, measured value, worst seed and the failing seeds.
fn expectations(out: &mut String, doc: &Document) {
    let Some(judged) = doc.judged() else {
        return;
    };
    out.push_str(
        "<h2>Expectations</h2>\n<table>\n<thead><tr><th>point</th><th>expectation</th>\
         <th>verdict</th><th>measured</th><th>worst seed</th><th>failing seeds</th></tr>\
         </thead>\n<tbody>\n",
    );
    for (p, (_, results)) in judged.iter().enumerate() {
        for r in results {
            let _ = writeln!(
                out,
                "<tr><td>P{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{} ({})</td><td class=\"wrap\">{}</td></tr>",
                p + 1,
                escape(&r.label),
                if r.passed { "pass" } else { "fail" },
                if r.passed { "PASS" } else { "FAIL" },
                escape(&r.format(r.measured)),
                r.worst_seed,
                escape(&r.format(r.worst)),
                seeds_cell(&r.failing_seeds(), SEEDS_SHOWN)
            );
        }
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Per point, the seed with the lowest availability and the command that replays it.
fn worst_seeds(out: &mut String, doc: &Document, aggregates: &[crate::sweep::PointAggregate]) {
    let d = &doc.definition;
    let mut items = String::new();
    for (p, (point, metrics)) in aggregates.iter().enumerate() {
        if let Some((seed, metric, value)) = doc.worst_seed(p, metrics) {
            let _ = writeln!(
                items,
                "<li>P{}: seed {seed}, {} {value:.6}: <code>faultline replay {} --seed \
                 {seed}{}</code></li>",
                p + 1,
                escape(metric),
                escape(&d.scenario_path),
                escape(&Definition::point_flags(point))
            );
        }
    }
    if !items.is_empty() {
        let _ = write!(out, "<h2>Worst seeds</h2>\n<ul>\n{items}</ul>\n");
    }
}

/// One metric against the swept parameter: the band of the 95% interval, the mean joined by a
/// line with a dot at every point, and a bar with caps for the interval of each point.
fn metric_chart(
    axis: &XAxis,
    per_point: &[Option<&MetricAggregate>],
    colour: RGBColor,
) -> Result<String, String> {
    // (x, mean, low, high), by x.
    let mut values: Vec<(f64, f64, f64, f64)> = axis
        .positions
        .iter()
        .zip(per_point)
        .filter_map(|(&x, m)| m.map(|m| (x, m.mean, m.ci95.0, m.ci95.1)))
        .filter(|v| v.1.is_finite() && v.2.is_finite() && v.3.is_finite())
        .collect();
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let lo = values
        .iter()
        .map(|v| v.2.min(v.1))
        .fold(f64::INFINITY, f64::min);
    let hi = values
        .iter()
        .map(|v| v.3.max(v.1))
        .fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1) = if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo > 1e-12 {
        let pad = (hi - lo) * 0.08;
        (lo - pad, hi + pad)
    } else {
        let pad = if hi.abs() > 0.0 { hi.abs() * 0.05 } else { 1.0 };
        (lo - pad, hi + pad)
    };
    let span = y1 - y0;
    let decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else if span >= 0.2 {
        2
    } else if span >= 0.02 {
        3
    } else if span >= 0.002 {
        4
    } else {
        6
    };
    let categorical = axis.labels.as_ref().map(Vec::len);
    let x_labels = categorical.map_or(8, |n| (2 * n + 1).min(13));
    render(SWEEP_CHART_PX, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .margin_right(16)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(axis.range.0..axis.range.1, y0..y1)?;
        let fx = |x: &f64| axis.tick(*x);
        let fy = |v: &f64| format!("{:.*}", decimals, v + 0.0);
        chart
            .configure_mesh()
            .x_desc(cut_label(&axis.desc, 60))
            .x_labels(x_labels)
            .y_labels(6)
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .label_style(text_style(12))
            .axis_desc_style(text_style(13))
            .bold_line_style(BLACK.mix(0.08))
            .light_line_style(TRANSPARENT)
            .draw()?;
        if values.is_empty() {
            return no_data(
                &mut chart,
                (axis.range.0 + axis.range.1) / 2.0,
                0.5,
                "no data",
            );
        }
        if values.len() >= 2 {
            let mut outline: Vec<(f64, f64)> = values.iter().map(|v| (v.0, v.3)).collect();
            outline.extend(values.iter().rev().map(|v| (v.0, v.2)));
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                colour.mix(0.18).filled(),
            )))?;
            chart.draw_series(LineSeries::new(
                values.iter().map(|v| (v.0, v.1)),
                colour.stroke_width(2),
            ))?;
        }
        // Caps 8 px wide, whatever the x range.
        let (px0, _) = chart.backend_coord(&(axis.range.0, y0));
        let (px1, _) = chart.backend_coord(&(axis.range.1, y0));
        let cap = 4.0 * (axis.range.1 - axis.range.0) / f64::from((px1 - px0).max(1));
        for &(x, mean, low, high) in &values {
            let style = colour.stroke_width(1);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, low), (x, high)],
                style,
            )))?;
            for y in [low, high] {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x - cap, y), (x + cap, y)],
                    style,
                )))?;
            }
            chart.draw_series(std::iter::once(Circle::new((x, mean), 3, colour.filled())))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(values: &[&str]) -> Definition {
        Definition {
            scenario_path: "s.ron".into(),
            scenario: "s".into(),
            digest: String::new(),
            seeds: (1, 2),
            sets: vec![(
                "clients.users.retry.max_attempts".into(),
                values.iter().map(|v| (*v).to_owned()).collect(),
            )],
            expect: Vec::new(),
        }
    }

    #[test]
    fn one_numeric_parameter_places_points_at_their_values() {
        let d = definition(&["1", "3", "10"]);
        let axis = XAxis::new(&d, &d.points());
        assert_eq!(axis.positions, vec![1.0, 3.0, 10.0]);
        assert!(axis.labels.is_none());
        assert!(axis.range.0 < 1.0 && axis.range.1 > 10.0);
        assert_eq!(axis.tick(2.5), "2.5");
    }

    #[test]
    fn other_parameters_place_points_in_order_with_their_labels() {
        let d = definition(&["Immediate", "Constant(delay: \"500ms\")"]);
        let axis = XAxis::new(&d, &d.points());
        assert_eq!(axis.positions, vec![0.0, 1.0]);
        assert_eq!(axis.tick(0.0), "Immediate");
        assert_eq!(axis.tick(0.5), "");
        assert!(axis.tick(1.0).chars().count() <= POINT_LABEL_CHARS_MAX);
    }
}
