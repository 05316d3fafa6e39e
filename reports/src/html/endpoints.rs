//! The HTML report's endpoint section: for services with several endpoints, each endpoint's
//! totals, availability and p99 over time, so a slow checkout is not hidden inside a fast
//! browse on the same service.

use std::fmt::Write as _;

use super::{
    CHART_HEIGHT_PX, CHART_WIDTH_PX, Extras, Extreme, Line, Page, YAxis, availability_points,
    colour, escape, figure, ms_cell, p99_points, percent, tick_decimals, time_chart,
    time_chart_with, y_max,
};

/// The table and the two charts; nothing when no service has several endpoints.
pub(super) fn endpoint_figures(out: &mut String, page: &Page, shade_note: &str) {
    let r = page.result;
    let endpoints: Vec<(String, &models::metrics::OutcomeStats)> = r
        .services
        .iter()
        .flat_map(|s| {
            s.endpoints
                .iter()
                .map(move |e| (format!("{}/{}", s.name, e.name), &e.stats))
        })
        .collect();
    if endpoints.is_empty() {
        return;
    }
    out.push_str("<h3>Endpoints</h3>\n");
    out.push_str(
        "<p class=\"note\">Services with several endpoints, split by endpoint: the attempts \
         sent to each, as their callers saw them (they add up to the service's row).</p>\n",
    );
    out.push_str("<table class=\"summary\">\n<thead><tr><th>endpoint</th><th>requests</th>");
    out.push_str("<th>ok</th><th>failed</th><th>availability %</th><th>p50 ms</th>");
    out.push_str("<th>p99 ms</th></tr></thead>\n<tbody>\n");
    for (i, (name, st)) in endpoints.iter().enumerate() {
        let h = &st.latency;
        let availability = if st.ok + st.failed() == 0 {
            "-".to_owned()
        } else {
            percent(st.availability())
        };
        let _ = write!(
            out,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{}</td>",
            super::css_colour(colour(i)),
            escape(name)
        );
        for cell in [
            st.requests.to_string(),
            st.ok.to_string(),
            st.failed().to_string(),
            availability,
            ms_cell(h.count(), h.quantile(0.5).as_nanos()),
            ms_cell(h.count(), h.quantile(0.99).as_nanos()),
        ] {
            let _ = write!(out, "<td class=\"num\">{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");

    let availability: Vec<Line> = endpoints
        .iter()
        .enumerate()
        .map(|(i, (name, st))| Line {
            name: name.clone(),
            colour: colour(i),
            points: availability_points(page, &st.windows),
        })
        .collect();
    figure(
        out,
        &format!(
            "Availability per window and endpoint (% of the requests to it that finished in \
             the window and succeeded). Windows in which none finished are left out.\
             {shade_note}"
        ),
        time_chart(
            &page.axis(),
            &availability,
            &YAxis {
                desc: "availability (%)",
                max: 100.0,
                decimals: 0,
            },
        ),
        &availability,
        (Extreme::Min, 1, " %"),
    );

    let mut extras = Extras::default();
    let p99: Vec<Line> = endpoints
        .iter()
        .enumerate()
        .map(|(i, (name, st))| {
            extras
                .undefined
                .push((colour(i), page.undefined_latency(&st.windows)));
            Line {
                name: name.clone(),
                colour: colour(i),
                points: p99_points(page, &st.windows),
            }
        })
        .collect();
    let max = y_max(&p99, 1.0);
    figure(
        out,
        &format!(
            "p99 latency of the successful requests per window and endpoint (ms). Hatched along \
             the top: windows in which requests finished but none succeeded.{shade_note}"
        ),
        time_chart_with(
            &page.axis(),
            &p99,
            &YAxis {
                desc: "p99 latency (ms)",
                max,
                decimals: tick_decimals(max),
            },
            &extras,
            (CHART_WIDTH_PX, CHART_HEIGHT_PX),
        ),
        &p99,
        (Extreme::Max, 1, " ms"),
    );
}
