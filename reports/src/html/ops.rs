//! The HTML report's operations charts: each autoscaler's replicas over time.

use super::{Extreme, Line, Page, YAxis, colour, figure, tick_decimals, time_chart, y_max};

/// Replicas over time, per autoscaled service: those ready (in rotation) and those paid for
/// (starting, ready or draining), as steps. Nothing without autoscalers.
pub(super) fn autoscale_figure(out: &mut String, page: &Page) {
    let r = page.result;
    if r.ops.autoscalers.is_empty() {
        return;
    }
    let end = page.end_s();
    let mut lines = Vec::new();
    for (i, a) in r.ops.autoscalers.iter().enumerate() {
        // A step line: the old count up to each change, then the new one.
        let steps = |pick: fn(&(sim_core::SimTime, u32, u32)) -> u32| {
            let mut points = Vec::new();
            let mut previous: Option<f64> = None;
            for c in &a.replicas {
                let (x, y) = (c.0.as_secs_f64().min(end), f64::from(pick(c)));
                if let Some(p) = previous {
                    points.push(Some((x, p)));
                }
                points.push(Some((x, y)));
                previous = Some(y);
            }
            if let Some(p) = previous {
                points.push(Some((end, p)));
            }
            points
        };
        lines.push(Line {
            name: format!("{} ready", a.service),
            colour: colour(2 * i),
            points: steps(|c| c.1),
        });
        lines.push(Line {
            name: format!("{} paid for", a.service),
            colour: colour(2 * i + 1),
            points: steps(|c| c.2),
        });
    }
    let max = y_max(&lines, 1.0);
    figure(
        out,
        "Replicas over time, per autoscaled service: those ready to take traffic, and those \
         paid for (starting, ready or draining). Grey bands: fault windows.",
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "replicas",
                max,
                decimals: tick_decimals(max),
            },
        ),
        &lines,
        (Extreme::Max, 0, ""),
    );
}
