//! The circuit breakers' states over time: one row per breaker.

use super::*;

/// A breaker state's colour: closed green, half-open amber, open red.
fn state_colour(state: models::policy::breaker::BreakerState) -> RGBColor {
    use models::policy::breaker::BreakerState as S;
    match state {
        S::Closed => RGBColor(0x74, 0xc4, 0x76),
        S::HalfOpen => RGBColor(0xfd, 0xae, 0x6b),
        S::Open => RGBColor(0xde, 0x2d, 0x26),
    }
}

/// A breaker's state from one time to another, in seconds.
type StateSpan = (f64, f64, models::policy::breaker::BreakerState);

/// The circuit breakers' states over time: one row per breaker (per edge and calling replica).
pub(super) fn breaker_figure(out: &mut String, page: &Page) {
    use models::policy::breaker::BreakerState;
    out.push_str("<h3>Circuit breakers</h3>\n");
    let mut rows: Vec<(String, Vec<StateSpan>)> = Vec::new();
    let end = page.end_s();
    let names = crate::common::edge_names(&page.result.edges);
    for (e, name) in page.result.edges.iter().zip(&names) {
        for b in &e.breakers {
            let mut label = name.clone();
            if e.breakers.len() > 1 {
                label.push_str(&format!(" #{}", b.replica));
            }
            // The state from each transition to the next; closed from the start.
            let mut spans = Vec::new();
            let (mut at, mut state) = (0.0, BreakerState::Closed);
            for t in &b.transitions {
                let t_s = t.at.as_secs_f64().min(end);
                spans.push((at, t_s, state));
                (at, state) = (t_s, t.to);
            }
            spans.push((at, end, state));
            rows.push((short_label(&label), spans));
        }
    }
    if rows.is_empty() {
        out.push_str("<p>No circuit breakers are configured in this scenario.</p>\n");
        return;
    }
    out.push_str("<figure>\n");
    let _ = writeln!(
        out,
        "<figcaption>{}</figcaption>",
        escape(
            "Circuit breaker states over time, one row per breaker (per call edge and calling \
             replica): closed, open (calls refused at once) and half-open (probing)."
        )
    );
    let n = rows.len();
    let label_chars = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let label_px = (label_chars as u32 * 7 + 16).clamp(80, 300);
    let height = 22 + 10 + 44 + GANTT_ROW_PX * n as u32;
    let x_decimals = tick_decimals(end);
    let top = n as f64;
    push_svg(
        out,
        render((CHART_WIDTH_PX, height), |root| {
            let mut chart = rows_chart(root, end, top, label_px, x_decimals)?;
            shade_faults(&mut chart, &page.axis(), 0.0, top)?;
            // A half-open probe of a fraction of a second would vanish: open and half-open
            // spans get at least two pixels.
            let plot_px = CHART_WIDTH_PX.saturating_sub(label_px + 10 + 24).max(1);
            let min_s = 2.0 * end / f64::from(plot_px);
            for (r, (label, spans)) in rows.iter().enumerate() {
                let y = top - r as f64;
                for &(from, to, state) in spans {
                    let to = if state == BreakerState::Closed {
                        to
                    } else {
                        to.max(from + min_s).min(end)
                    };
                    if to > from {
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(from, y - 0.8), (to, y - 0.2)],
                            state_colour(state).filled(),
                        )))?;
                    }
                }
                let (px, py) = chart.backend_coord(&(0.0, y - 0.5));
                root.draw(&Text::new(
                    label.clone(),
                    (px - 6, py),
                    text_style(13).pos(Pos::new(HPos::Right, VPos::Center)),
                ))?;
            }
            Ok(())
        }),
    );
    out.push_str("<ul class=\"legend\">\n");
    for state in [
        BreakerState::Closed,
        BreakerState::HalfOpen,
        BreakerState::Open,
    ] {
        let _ = writeln!(
            out,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            css_colour(state_colour(state)),
            state.name()
        );
    }
    out.push_str("</ul>\n</figure>\n");
}
