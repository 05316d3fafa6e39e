//! `tune --format html`: one self-contained page (inline CSS and SVG, no script) with the
//! scatter of every evaluated point, cost against availability, the Pareto front joined by a
//! line, and the tables of the text report.

use std::fmt::Write as _;

use crate::tune::{Evaluated, Report, pareto};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
const MARGIN: f64 = 60.0;

/// The scatter: x the mean cost, y the mean availability; filled points meet every
/// expectation, hollow ones do not; the front is joined cheapest first.
pub fn scatter(points: &[&Evaluated]) -> String {
    let valid: Vec<&Evaluated> = points
        .iter()
        .copied()
        .filter(|p| p.invalid.is_none())
        .collect();
    let xs: Vec<f64> = valid.iter().map(|p| p.cost().mean).collect();
    let ys: Vec<f64> = valid.iter().map(|p| p.availability().mean).collect();
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() {
            (0.0, 1.0)
        } else if hi - lo < 1e-12 {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        }
    };
    let ((x0, x1), (y0, y1)) = (range(&xs), range(&ys));
    let px = |x: f64| MARGIN + (x - x0) / (x1 - x0) * (WIDTH - 2.0 * MARGIN);
    let py = |y: f64| HEIGHT - MARGIN - (y - y0) / (y1 - y0) * (HEIGHT - 2.0 * MARGIN);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{MARGIN}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\
         <line x1=\"{MARGIN}\" y1=\"{MARGIN}\" x2=\"{MARGIN}\" y2=\"{b}\" stroke=\"black\"/>",
        b = HEIGHT - MARGIN,
        r = WIDTH - MARGIN
    );
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">cost (mean) {x0:.4} .. {x1:.4}</text>\
         <text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">\
         availability (mean) {y0:.6} .. {y1:.6}</text>",
        WIDTH / 2.0,
        HEIGHT - 20.0,
        HEIGHT / 2.0,
        HEIGHT / 2.0
    );
    let front = pareto(&valid);
    let line: Vec<String> = front
        .iter()
        .map(|p| format!("{:.1},{:.1}", px(p.cost().mean), py(p.availability().mean)))
        .collect();
    let _ = writeln!(
        svg,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\"/>",
        line.join(" ")
    );
    for p in &valid {
        let fill = if p.feasible() { "#2e86c1" } else { "white" };
        let settings: Vec<String> = p.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{fill}\" stroke=\"#2e86c1\">\
             <title>{}</title></circle>",
            px(p.cost().mean),
            py(p.availability().mean),
            escape(&settings.join(" "))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The whole page.
pub fn html(report: &Report) -> String {
    let all: Vec<&Evaluated> = report.points.iter().collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}\
         </title>\n<style>body {{ font-family: sans-serif; margin: 2em; }} pre {{ background: \
         #f6f6f6; padding: 1em; overflow-x: auto; }}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <p>Filled points meet every expectation; hollow ones do not. The red line joins the \
         Pareto front (availability, p99, cost), cheapest first.</p>\n{svg}<pre>{text}</pre>\n\
         </body>\n</html>\n",
        title = escape(&format!("tune {}", report.scenario)),
        svg = scatter(&all),
        text = escape(&report.text()),
    )
}
