//! The HTML report's rollout chart: each rollout's weight on its new version over time.

use super::{Extreme, Line, Page, YAxis, colour, figure, time_chart};

/// Percent of requests to the new version over time, per rolled-out service, as steps:
/// the canary's weight, the blue/green switch, or a rolling update's share of ready replicas.
/// Nothing without rollouts.
pub(super) fn rollout_figure(out: &mut String, page: &Page) {
    let r = page.result;
    if r.ops.rollouts.is_empty() {
        return;
    }
    let end = page.end_s();
    let mut lines = Vec::new();
    for (i, d) in r.ops.rollouts.iter().enumerate() {
        let mut points = Vec::new();
        let mut previous: Option<f64> = None;
        for w in &d.weights {
            let (x, y) = (w.0.as_secs_f64().min(end), w.1);
            if let Some(p) = previous {
                points.push(Some((x, p)));
            }
            points.push(Some((x, y)));
            previous = Some(y);
        }
        if let Some(p) = previous {
            points.push(Some((end, p)));
        }
        lines.push(Line {
            name: format!("{} weight on {}", d.service, d.versions[1].name),
            colour: colour(i),
            points,
        });
    }
    figure(
        out,
        "Percent of requests to the new version over time, per rollout: a canary's weight, a \
         blue/green switch, a rolling update's share of ready replicas; a drop to 0 is a \
         rollback.",
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "% to new version",
                max: 100.0,
                decimals: 0,
            },
        ),
        &lines,
        (Extreme::Max, 0, "%"),
    );
}
