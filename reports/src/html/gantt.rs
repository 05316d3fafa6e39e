//! The cascade timeline: one row per service, client and (when few) edge, its unhealthy
//! intervals coloured by symptom, the cascade steps numbered.

use super::*;

/// One row of the cascade timeline.
struct Row<'a> {
    entity: &'a EntityHealth,
    /// Cascade numbers and where they start: (start in seconds, `1`, or `2.1` for the first
    /// step of the second fault when there are several).
    markers: Vec<(f64, String)>,
}

/// The cascade timeline figure with its symptom legend.
pub(super) fn gantt_figure(out: &mut String, page: &Page) {
    let a = page.analysis;
    let main = a
        .entities
        .iter()
        .filter(|e| e.kind != EntityKind::Edge)
        .count();
    let with_edges = a.entities.len() <= GANTT_ROWS_WITH_EDGES_MAX;
    let numbered = a.faults.len() > 1;
    // Services, clients, queues and groups first; the edges, drawn lighter, below them.
    let rows: Vec<Row> = a
        .entities
        .iter()
        .filter(|e| e.kind != EntityKind::Edge)
        .chain(
            a.entities
                .iter()
                .filter(|e| with_edges && e.kind == EntityKind::Edge),
        )
        .map(|e| {
            let mut markers = Vec::new();
            for (k, f) in a.faults.iter().enumerate() {
                if let Some(j) = f
                    .cascade
                    .iter()
                    .position(|s| s.kind == e.kind && s.name == e.name)
                {
                    let label = if numbered {
                        format!("{}.{}", k + 1, j + 1)
                    } else {
                        (j + 1).to_string()
                    };
                    markers.push((f.cascade[j].from.as_secs_f64(), label));
                }
            }
            Row { entity: e, markers }
        })
        .collect();
    let edges_note = if with_edges {
        if a.entities.len() > main {
            " Below the line, lighter: the call edges (caller -> callee, as the caller saw them)."
        } else {
            ""
        }
    } else {
        " Call edges are left out: there are more than 30 rows."
    };
    let backlog = a
        .entities
        .iter()
        .any(|e| matches!(e.kind, EntityKind::Queue | EntityKind::ConsumerGroup))
        .then_some(Symptom::Backlog);
    let caption = format!(
        "Cascade timeline: one row per service and client{}, each bar a span of windows in \
         which it missed its objectives, coloured by symptom. The number at the start of a bar \
         is the entity's place in the fault's cascade{}.{edges_note}{}",
        if backlog.is_some() {
            " (and queue and consumer group, judged on their backlog)"
        } else {
            ""
        },
        if numbered { " (fault.step)" } else { "" },
        if page.faults_s.is_empty() {
            ""
        } else {
            " Grey bands: fault windows."
        }
    );
    out.push_str("<figure>\n");
    let _ = writeln!(out, "<figcaption>{}</figcaption>", escape(&caption));
    push_svg(out, gantt(page, &rows, main.min(rows.len())));
    out.push_str("<ul class=\"legend\">\n");
    for s in SYMPTOMS.into_iter().chain(backlog) {
        let _ = writeln!(
            out,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            css_colour(symptom_colour(s)),
            s.phrase()
        );
    }
    out.push_str("</ul>\n</figure>\n");
}

/// `s` cut to `GANTT_LABEL_CHARS_MAX` characters.
pub(super) fn short_label(s: &str) -> String {
    if s.chars().count() <= GANTT_LABEL_CHARS_MAX {
        s.to_owned()
    } else {
        let mut cut: String = s.chars().take(GANTT_LABEL_CHARS_MAX - 1).collect();
        cut.push('…');
        cut
    }
}

/// The cascade timeline: rows top to bottom, the first `main` of them services and clients,
/// the rest edges, drawn lighter.
fn gantt(page: &Page, rows: &[Row], main: usize) -> Result<String, String> {
    let n = rows.len().max(1);
    let labels: Vec<String> = rows
        .iter()
        .map(|r| match r.entity.kind {
            EntityKind::Queue => short_label(&format!("queue {}", r.entity.name)),
            EntityKind::ConsumerGroup => short_label(&format!("group {}", r.entity.name)),
            _ => short_label(&r.entity.name),
        })
        .collect();
    let label_chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let label_px = (label_chars as u32 * 7 + 16).clamp(80, 300);
    let height = 22 + 10 + 44 + GANTT_ROW_PX * n as u32;
    let x_max = page.end_s();
    let x_decimals = tick_decimals(x_max);
    let top = n as f64;
    // A one-window interval of a long run would be narrower than a pixel: every bar gets at
    // least two pixels of the plot's width (the chart less the label area and the margins).
    let plot_px = CHART_WIDTH_PX.saturating_sub(label_px + 10 + 24).max(1);
    let bar_min_s = 2.0 * x_max / f64::from(plot_px);
    render((CHART_WIDTH_PX, height), |root| {
        let mut chart = rows_chart(root, x_max, top, label_px, x_decimals)?;
        // Row r spans y in [top - r - 1, top - r): the first row on top. Every other row gets
        // a faint band so that a bar can be followed to its label.
        for r in (0..rows.len()).step_by(2) {
            let y = top - r as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 1.0), (x_max, y)],
                BLACK.mix(0.03).filled(),
            )))?;
        }
        shade_faults(&mut chart, &page.axis(), 0.0, top)?;
        if main < rows.len() {
            let y = top - main as f64;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(0.0, y), (x_max, y)],
                BLACK.mix(0.4).stroke_width(1),
            )))?;
        }
        for (r, row) in rows.iter().enumerate() {
            let y = top - r as f64;
            let light = r >= main;
            for iv in &row.entity.unhealthy {
                let (from, to) = bar_span(iv, x_max, bar_min_s);
                if to <= from {
                    continue;
                }
                let colour = symptom_colour(iv.symptom);
                let style = if light {
                    colour.mix(0.45).filled()
                } else {
                    colour.filled()
                };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(from, y - 0.8), (to, y - 0.2)],
                    style,
                )))?;
            }
            for (x, label) in &row.markers {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x.min(x_max), y - 0.5))
                        + Text::new(
                            label.clone(),
                            (-3, 0),
                            bold_text_style(12).pos(Pos::new(HPos::Right, VPos::Center)),
                        ),
                ))?;
            }
            // Row labels sit in the label area, right-aligned against the plot.
            let (px, py) = chart.backend_coord(&(0.0, y - 0.5));
            let colour = if light {
                RGBColor(0x77, 0x77, 0x77)
            } else {
                RGBColor(0x22, 0x22, 0x22)
            };
            root.draw(&Text::new(
                labels[r].clone(),
                (px - 6, py),
                text_style(13)
                    .color(&colour)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        }
        if rows.is_empty() {
            no_data(&mut chart, x_max / 2.0, top / 2.0, "no services or clients")?;
        } else if rows.iter().all(|r| r.entity.unhealthy.is_empty()) {
            no_data(
                &mut chart,
                x_max / 2.0,
                top / 2.0,
                "every service and client met its objectives",
            )?;
        }
        Ok(())
    })
}

/// An interval's `[from, to)` in seconds, clipped to the time axis, at least `min_s` wide
/// where the axis allows; empty if it starts at or after the end of the axis.
fn bar_span(iv: &Interval, x_max: f64, min_s: f64) -> (f64, f64) {
    let from = iv.from.as_secs_f64().min(x_max);
    let to = iv.to.as_secs_f64().max(from + min_s).min(x_max);
    (from, to.max(from))
}
