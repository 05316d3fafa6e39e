//! The HTML report's serverless chart: each function's instances over time.

use super::{Extreme, Line, Page, YAxis, colour, figure, tick_decimals, time_chart, y_max};

/// Instances alive per window, per function: the mean and the peak. Nothing without functions.
pub(super) fn function_figure(out: &mut String, page: &Page) {
    let r = page.result;
    if r.ops.functions.is_empty() {
        return;
    }
    let mut lines = Vec::new();
    for (i, f) in r.ops.functions.iter().enumerate() {
        let same_windows = f.window.as_nanos() == page.window_ns;
        let points = |pick: fn(&[(f64, u32)]) -> Option<f64>| {
            if same_windows {
                page.points(&f.windows, |ws, _| pick(ws))
            } else {
                let w = f.window.as_secs_f64();
                f.windows
                    .iter()
                    .enumerate()
                    .map(|(k, x)| pick(std::slice::from_ref(x)).map(|y| ((k as f64 + 0.5) * w, y)))
                    .collect()
            }
        };
        lines.push(Line {
            name: format!("{} mean", f.service),
            colour: colour(2 * i),
            points: points(|ws| {
                (!ws.is_empty()).then(|| ws.iter().map(|w| w.0).sum::<f64>() / ws.len() as f64)
            }),
        });
        lines.push(Line {
            name: format!("{} peak", f.service),
            colour: colour(2 * i + 1),
            points: points(|ws| ws.iter().map(|w| f64::from(w.1)).reduce(f64::max)),
        });
    }
    let max = y_max(&lines, 1.0);
    figure(
        out,
        "Serverless instances over time, per function: the mean alive in each window (starting \
         or warm, provisioned included: what is paid for) and the most at once. Grey bands: \
         fault windows.",
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "instances",
                max,
                decimals: tick_decimals(max),
            },
        ),
        &lines,
        (Extreme::Max, 0, ""),
    );
}
