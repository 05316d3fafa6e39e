//! The HTML report's summary table: one row per service and client, the failure causes that
//! occurred as columns (or one wrapped cell when there are many, so the table fits the page).

use std::fmt::Write as _;

use models::metrics::FailureCause;

use super::{Page, SUMMARY_CAUSE_COLUMNS_MAX, colour, css_colour, escape, fmt_ms, percent};

/// The summary table: one row per service, then per client.
pub(super) fn summary(out: &mut String, page: &Page) {
    out.push_str("<h2>Summary</h2>\n");
    let r = page.result;
    if r.services.is_empty() && r.clients.is_empty() {
        out.push_str("<p class=\"note\">No services or clients.</p>\n");
        return;
    }
    let rows = r
        .services
        .iter()
        .map(|s| (s.name.as_str(), "service", &s.stats))
        .chain(
            r.clients
                .iter()
                .map(|c| (c.name.as_str(), "client", &c.stats)),
        );
    // Only the causes that occurred get a column, and beyond a few they share one wrapped
    // cell, so that the table fits the page (19 columns did not).
    let causes: Vec<FailureCause> = FailureCause::ALL
        .into_iter()
        .filter(|&c| rows.clone().any(|(_, _, st)| st.failed_by(c) > 0))
        .collect();
    let cause_columns = causes.len() <= SUMMARY_CAUSE_COLUMNS_MAX;
    out.push_str("<table class=\"summary\">\n<thead><tr><th>name</th><th>kind</th>");
    out.push_str("<th>requests</th><th>ok</th><th>failed</th><th>availability %</th>");
    out.push_str("<th>p50 ms</th><th>p99 ms</th><th>in flight</th>");
    if cause_columns {
        for cause in &causes {
            let _ = write!(out, "<th>{}</th>", cause.as_str());
        }
    } else {
        out.push_str("<th>failed by cause</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (i, (name, kind, st)) in rows.enumerate() {
        let h = &st.latency;
        let availability = if st.ok + st.failed() == 0 {
            "-".to_owned()
        } else {
            percent(st.availability())
        };
        let _ = write!(
            out,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{}</td><td>{kind}</td>",
            css_colour(colour(i)),
            escape(name)
        );
        let mut cells = vec![
            st.requests.to_string(),
            st.ok.to_string(),
            st.failed().to_string(),
            availability,
            ms_cell(h.count(), h.quantile(0.5).as_nanos()),
            ms_cell(h.count(), h.quantile(0.99).as_nanos()),
        ];
        cells.push(st.in_flight().to_string());
        if cause_columns {
            cells.extend(causes.iter().map(|&c| st.failed_by(c).to_string()));
        }
        for cell in cells {
            let _ = write!(out, "<td class=\"num\">{cell}</td>");
        }
        if !cause_columns {
            let listed: Vec<String> = causes
                .iter()
                .filter(|&&c| st.failed_by(c) > 0)
                .map(|&c| format!("{} {}", c.as_str(), st.failed_by(c)))
                .collect();
            let _ = write!(out, "<td class=\"causes\">{}</td>", listed.join(", "));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A latency in milliseconds without its unit, or `-` when nothing succeeded.
pub(super) fn ms_cell(count: u64, ns: u64) -> String {
    if count == 0 {
        "-".to_owned()
    } else {
        fmt_ms(ns).trim_end_matches("ms").to_owned()
    }
}
