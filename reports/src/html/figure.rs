//! What every chart of the HTML pages is drawn with: a line and its legend extreme, the y axis,
//! the `<figure>` around a chart, the SVG canvas, text styles, fault bands and "no data".

use std::error::Error;

use plotters::coord::types::RangedCoordf64;

use super::*;

/// One line of a time-series chart.
pub(super) struct Line {
    pub(super) name: String,
    pub(super) colour: RGBColor,
    /// `None` breaks the line.
    pub(super) points: Vec<Option<(f64, f64)>>,
}

/// Which extreme of a line its legend entry shows.
#[derive(Clone, Copy)]
pub(super) enum Extreme {
    Min,
    Max,
}

impl Line {
    /// `min 12.5 %` or `max 256`: the line's lowest or highest point, so that a line hidden
    /// under another can still be read; `None` without points.
    fn extreme(&self, extreme: Extreme, decimals: usize, unit: &str) -> Option<String> {
        let ys = self.points.iter().flatten().map(|&(_, y)| y);
        let (word, value) = match extreme {
            Extreme::Min => ("min", ys.reduce(f64::min)?),
            Extreme::Max => ("max", ys.reduce(f64::max)?),
        };
        Some(format!("{word} {:.*}{unit}", decimals, value + 0.0))
    }
}

/// The y axis of a time-series chart.
pub(super) struct YAxis {
    pub(super) desc: &'static str,
    pub(super) max: f64,
    pub(super) decimals: usize,
}

/// The decimals that keep tick labels of an axis up to `max` distinct.
pub(super) fn tick_decimals(max: f64) -> usize {
    if max >= 20.0 {
        0
    } else if max >= 2.0 {
        1
    } else if max >= 0.2 {
        2
    } else {
        3
    }
}

/// The largest y of `lines` times 1.05, at least `floor`.
pub(super) fn y_max(lines: &[Line], floor: f64) -> f64 {
    let max = lines
        .iter()
        .flat_map(|l| l.points.iter().flatten())
        .map(|&(_, y)| y)
        .fold(0.0f64, f64::max);
    (max * 1.05).max(floor)
}

/// A `<figure>`: the caption, the chart or why it could not be drawn, then the legend of
/// `lines`.
pub(super) fn figure(
    out: &mut String,
    caption: &str,
    svg: Result<String, String>,
    lines: &[Line],
    extreme: (Extreme, usize, &str),
) {
    out.push_str("<figure>\n");
    let _ = writeln!(out, "<figcaption>{}</figcaption>", escape(caption));
    push_svg(out, svg);
    if !lines.is_empty() {
        out.push_str("<ul class=\"legend\">\n");
        for l in lines {
            let (which, decimals, unit) = extreme;
            let stat = l
                .extreme(which, decimals, unit)
                .unwrap_or_else(|| "no data".to_owned());
            let _ = writeln!(
                out,
                "<li data-c=\"{}\"><span class=\"swatch\" style=\"background:{}\"></span>{} \
                 <span class=\"muted\">{}</span></li>",
                css_colour(l.colour),
                css_colour(l.colour),
                escape(&l.name),
                escape(&stat)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</figure>\n");
}

pub(super) fn push_svg(out: &mut String, svg: Result<String, String>) {
    match svg {
        Ok(svg) => out.push_str(&svg),
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"note\">chart could not be drawn: {}</p>",
                escape(&e)
            );
        }
    }
}

pub(super) type DrawResult = Result<(), Box<dyn Error>>;
pub(super) type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Renders one chart of `size` into an SVG string; a drawing error becomes the `Err` message.
pub(super) fn render(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> DrawResult,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// A text of `size` px (at least 12: nothing on the page is smaller).
pub(super) fn text_style(size: u32) -> TextStyle<'static> {
    let px = f64::from(size.max(12)) * PLOTTERS_FONT_SCALE;
    TextStyle::from((FONT, px).into_font()).color(&BLACK)
}

pub(super) fn bold_text_style(size: u32) -> TextStyle<'static> {
    let px = f64::from(size.max(12)) * PLOTTERS_FONT_SCALE;
    TextStyle::from((FONT, px, FontStyle::Bold).into_font()).color(&BLACK)
}

/// Grey bands over `[from, to)` of every fault, from `y0` to `y1`, numbered above the plot.
pub(super) fn shade_faults(chart: &mut Chart, axis: &TimeAxis, y0: f64, y1: f64) -> DrawResult {
    let numbered = axis.faults_s.len() > 1;
    let x_max = axis.end_s;
    for (k, &(from, to)) in axis.faults_s.iter().enumerate() {
        if from >= x_max {
            // Scripted after the end of the run (or the run stopped early).
            continue;
        }
        if to > from {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(from, y0), (to, y1)],
                BLACK.mix(0.08).filled(),
            )))?;
        }
        let label = if numbered {
            format!("fault {}", k + 1)
        } else {
            "fault".to_owned()
        };
        chart.draw_series(std::iter::once(
            EmptyElement::at((from, y1))
                + Text::new(
                    label,
                    (2, -3),
                    text_style(12)
                        .color(&RGBColor(0x55, 0x55, 0x55))
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                ),
        ))?;
    }
    Ok(())
}

/// A chart of rows over time (the cascade timeline, the breakers' states): time from 0 to
/// `x_max` s along x with `x_decimals`, rows `0..top` up y, labelled in a `label_px` area left
/// of the plot by the caller, no y mesh.
pub(super) fn rows_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    x_max: f64,
    top: f64,
    label_px: u32,
    x_decimals: usize,
) -> Result<Chart<'a, 'b>, Box<dyn Error>> {
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .margin_top(22)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(label_px)
        .build_cartesian_2d(0f64..x_max, 0f64..top)?;
    let fx = |x: &f64| format!("{:.*}", x_decimals, x + 0.0);
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .x_label_formatter(&fx)
        .label_style(text_style(13))
        .axis_desc_style(text_style(14))
        .disable_y_mesh()
        .y_labels(0)
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .draw()?;
    Ok(chart)
}

/// A "no data" note in the middle of a chart.
pub(super) fn no_data(chart: &mut Chart, x: f64, y: f64, message: &str) -> DrawResult {
    chart.draw_series(std::iter::once(Text::new(
        message.to_owned(),
        (x, y),
        text_style(16)
            .color(&RGBColor(0x88, 0x88, 0x88))
            .pos(Pos::new(HPos::Center, VPos::Center)),
    )))?;
    Ok(())
}
