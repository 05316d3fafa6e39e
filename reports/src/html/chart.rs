//! The time-series chart every page draws: lines over the time axis, fault windows shaded,
//! and the extras (objective lines, percentile bands, hatched spans without a value).

use super::*;

/// A time-series chart: one line per entry of `lines`, fault windows shaded behind them.
pub(super) fn time_chart(axis: &TimeAxis, lines: &[Line], y: &YAxis) -> Result<String, String> {
    time_chart_with(
        axis,
        lines,
        y,
        &Extras::default(),
        (CHART_WIDTH_PX, CHART_HEIGHT_PX),
    )
}

/// `(x, low, high)` of a shaded band.
pub(super) type BandPoint = (f64, f64, f64);

/// What a time chart may draw besides its lines.
#[derive(Default)]
pub(super) struct Extras {
    /// Dashed horizontal objective lines: the value and the colour of the line it belongs to.
    pub(super) objectives: Vec<(f64, RGBColor)>,
    /// Shaded bands between two values, under the lines: `(x, low, high)` points.
    pub(super) bands: Vec<(RGBColor, Vec<BandPoint>)>,
    /// Time spans `[from, to)` where a line's value is undefined (requests finished but none
    /// succeeded, so there is no latency): hatched in the line's colour, over the whole height
    /// when `undefined_full`, else in a strip along the top.
    pub(super) undefined: Vec<(RGBColor, Vec<(f64, f64)>)>,
    pub(super) undefined_full: bool,
}

/// The opacity an objective line is drawn with, to find it in the SVG and dash it.
const OBJECTIVE_MARK: f64 = 0.999;

/// A time-series chart of `size` with `extras`. The `<svg>` carries its plot area in pixels
/// and the time and value ranges (`data-plot`), which the page's script reads to show values
/// under the pointer and to zoom.
pub(super) fn time_chart_with(
    axis: &TimeAxis,
    lines: &[Line],
    y: &YAxis,
    extras: &Extras,
    size: (u32, u32),
) -> Result<String, String> {
    let x_max = axis.end_s;
    let x_decimals = tick_decimals(x_max);
    let y_decimals = y.decimals;
    let y_max = if y.max > 0.0 && y.max.is_finite() {
        y.max
    } else {
        1.0
    };
    let small = size.0 < CHART_WIDTH_PX;
    let plot = std::cell::Cell::new((0, 0, 0, 0));
    let svg = render(size, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(if small { 6 } else { 10 })
            .margin_top(22)
            .margin_right(if small { 12 } else { 24 })
            .x_label_area_size(if small { 36 } else { 44 })
            .y_label_area_size(if small { 58 } else { 68 })
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        let fx = |x: &f64| format!("{:.*}", x_decimals, x + 0.0);
        let fy = |v: &f64| format!("{:.*}", y_decimals, v + 0.0);
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc(y.desc)
            .x_labels(if small { 5 } else { 10 })
            .y_labels(if small { 5 } else { 10 })
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .label_style(text_style(13))
            .axis_desc_style(text_style(14))
            .bold_line_style(BLACK.mix(0.08))
            .light_line_style(TRANSPARENT)
            .draw()?;
        let (x0, y0) = chart.backend_coord(&(0.0, y_max));
        let (x1, y1) = chart.backend_coord(&(x_max, 0.0));
        plot.set((x0, y0, x1, y1));
        shade_faults(&mut chart, axis, 0.0, y_max)?;
        for (colour, points) in &extras.bands {
            let mut outline: Vec<(f64, f64)> = points.iter().map(|&(x, _, hi)| (x, hi)).collect();
            outline.extend(points.iter().rev().map(|&(x, lo, _)| (x, lo.min(y_max))));
            for p in &mut outline {
                p.1 = p.1.min(y_max);
            }
            if outline.len() >= 4 {
                chart.draw_series(std::iter::once(Polygon::new(
                    outline,
                    colour.mix(0.18).filled(),
                )))?;
            }
        }
        let px_per_s = f64::from((x1 - x0).max(1)) / x_max;
        let px_per_unit = f64::from((y1 - y0).max(1)) / y_max;
        for (colour, spans) in &extras.undefined {
            let (low, high) = if extras.undefined_full {
                (0.0, y_max)
            } else {
                (y_max * 0.93, y_max)
            };
            for &(from, to) in spans {
                hatch(
                    &mut chart,
                    *colour,
                    (from, to),
                    (low, high),
                    (px_per_s, px_per_unit),
                )?;
            }
        }
        for &(value, colour) in &extras.objectives {
            if value > 0.0 && value <= y_max {
                // One line, marked by its opacity so that it can be dashed once drawn (plotters
                // would draw a dashed line as a segment per dash).
                chart.draw_series(LineSeries::new(
                    [(0.0, value), (x_max, value)],
                    colour.mix(OBJECTIVE_MARK).stroke_width(1),
                ))?;
            }
        }
        let mut any = false;
        for line in lines {
            let style = line.colour.stroke_width(2);
            for segment in line.points.split(Option::is_none) {
                let points: Vec<(f64, f64)> = segment.iter().flatten().copied().collect();
                match points.as_slice() {
                    [] => {}
                    [point] => {
                        chart.draw_series(std::iter::once(Circle::new(
                            *point,
                            2,
                            line.colour.filled(),
                        )))?;
                    }
                    _ => {
                        chart.draw_series(LineSeries::new(points, style))?;
                    }
                }
                any |= !segment.is_empty();
            }
        }
        if !any {
            no_data(&mut chart, x_max / 2.0, y_max / 2.0, "no data")?;
        }
        Ok(())
    })?;
    let (x0, y0, x1, y1) = plot.get();
    let svg = svg.replace(
        &format!("opacity=\"{OBJECTIVE_MARK}\""),
        "opacity=\"1\" stroke-dasharray=\"5 3\"",
    );
    Ok(svg.replacen(
        "<svg ",
        &format!(
            "<svg class=\"ts\" data-plot=\"{x0} {y0} {x1} {y1}\" data-x=\"0 {x_max}\" \
             data-y=\"0 {y_max}\" data-unit=\"{}\" ",
            escape(y.desc)
        ),
        1,
    ))
}

/// Diagonal hatching at 45° over `[from, to)` between `low` and `high`, one stroke every 7
/// pixels, over a light fill: a value that does not exist there, rather than a gap in the line.
fn hatch(
    chart: &mut Chart,
    colour: RGBColor,
    (from, to): (f64, f64),
    (low, high): (f64, f64),
    (px_per_s, px_per_unit): (f64, f64),
) -> DrawResult {
    if to <= from || high <= low {
        return Ok(());
    }
    chart.draw_series(std::iter::once(Rectangle::new(
        [(from, low), (to, high)],
        colour.mix(0.10).filled(),
    )))?;
    // A stroke starts at (c, low) and rises to (c + width, high): as many seconds wide as the
    // band is pixels high, so 45° on the page; each is clipped to the span.
    let width = (high - low) * px_per_unit / px_per_s;
    let step = 7.0 / px_per_s;
    let mut c = from - width;
    while c < to {
        let t0 = ((from - c) / width).max(0.0);
        let t1 = ((to - c) / width).min(1.0);
        if t0 < t1 {
            let at = |t: f64| (c + width * t, low + (high - low) * t);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![at(t0), at(t1)],
                colour.mix(0.7).stroke_width(1),
            )))?;
        }
        c += step;
    }
    Ok(())
}
