//! Writes that publish (issue 15) in every format: a JSON `writes` array, a text and a
//! Markdown table and an HTML table, one row per write step (service, queue or topic, dual
//! write or outbox): written, published, lost, duplicated, pending and the publish delay from
//! commit to the broker's first store. Each appears only when the run has such a step.

use std::fmt::Write as _;

use models::RunResult;
use models::outbox::{WriteMode, WriteReport};
use serde_json::{Map, Value};

use crate::common::escape_markup;
use crate::json::float;

const MS_DECIMALS: i32 = 3;

fn ms(d: sim_core::SimDuration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// The row's cells in table order, with their header names.
fn cells(w: &WriteReport) -> Vec<(&'static str, String)> {
    let [p50, p99] = w.delay.quantiles([0.5, 0.99]);
    let mode = match w.mode {
        WriteMode::DualWrite => "dual write".to_string(),
        WriteMode::Outbox { poll } => format!("outbox (poll {} ms)", ms(poll)),
    };
    vec![
        ("write", format!("{} -> {}", w.service, w.to)),
        ("mode", mode),
        ("written", w.written.to_string()),
        ("published", w.published.to_string()),
        ("lost", w.lost.to_string()),
        ("duplicated", w.duplicated.to_string()),
        ("pending", w.pending.to_string()),
        ("delay p50 ms", format!("{:.1}", ms(p50))),
        ("delay p99 ms", format!("{:.1}", ms(p99))),
        ("delay max ms", format!("{:.1}", ms(w.delay.max()))),
    ]
}

/// The `writes` array, or none when the run has no write step.
pub(crate) fn json(result: &RunResult) -> Option<Value> {
    if result.writes.is_empty() {
        return None;
    }
    let rows = result.writes.iter().map(|w| {
        let mut m = Map::new();
        m.insert("service".into(), Value::from(w.service.as_str()));
        m.insert("to".into(), Value::from(w.to.as_str()));
        m.insert("mode".into(), Value::from(w.mode_name()));
        if let WriteMode::Outbox { poll } = w.mode {
            m.insert("poll_ms".into(), float(ms(poll), MS_DECIMALS));
        }
        m.insert("write_time_ms".into(), float(ms(w.write_time), MS_DECIMALS));
        m.insert("written".into(), Value::from(w.written));
        m.insert("published".into(), Value::from(w.published));
        m.insert("lost".into(), Value::from(w.lost));
        m.insert("duplicated".into(), Value::from(w.duplicated));
        m.insert("pending".into(), Value::from(w.pending));
        m.insert("conserved".into(), Value::from(w.conserved()));
        let [p50, p99] = w.delay.quantiles([0.5, 0.99]);
        let mut d = Map::new();
        d.insert("count".into(), Value::from(w.delay.count()));
        d.insert("mean".into(), float(w.delay.mean_ns() / 1e6, MS_DECIMALS));
        d.insert("p50".into(), float(ms(p50), MS_DECIMALS));
        d.insert("p99".into(), float(ms(p99), MS_DECIMALS));
        d.insert("max".into(), float(ms(w.delay.max()), MS_DECIMALS));
        m.insert("publish_delay_ms".into(), Value::Object(d));
        Value::Object(m)
    });
    Some(Value::Array(rows.collect()))
}

pub(crate) fn text(out: &mut String, result: &RunResult) {
    if result.writes.is_empty() {
        return;
    }
    let rows: Vec<Vec<(&str, String)>> = result.writes.iter().map(cells).collect();
    let header: Vec<&str> = rows[0].iter().map(|&(k, _)| k).collect();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|(_, v)| v.clone()).collect())
        .collect();
    out.push_str("\nwrites that publish (lost: written, never published):\n");
    crate::section::text_table(out, "", 2, &header, &table);
}

pub(crate) fn markdown(out: &mut String, result: &RunResult, escape: fn(&str) -> String) {
    if result.writes.is_empty() {
        return;
    }
    out.push_str("\n#### Writes that publish\n\n");
    let rows: Vec<Vec<(&str, String)>> = result.writes.iter().map(cells).collect();
    let header: Vec<String> = rows[0].iter().map(|(k, _)| escape(k)).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let align: Vec<&str> = (0..header.len())
        .map(|i| if i < 2 { "---" } else { "---:" })
        .collect();
    let _ = writeln!(out, "| {} |", align.join(" | "));
    for r in &rows {
        let row: Vec<String> = r.iter().map(|(_, v)| escape(v)).collect();
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

/// An HTML table of the write steps, after the charts.
pub(crate) fn html(out: &mut String, result: &RunResult) {
    if result.writes.is_empty() {
        return;
    }
    let rows: Vec<Vec<(&str, String)>> = result.writes.iter().map(cells).collect();
    out.push_str(
        "<h3>Writes that publish</h3>\n<p>Each write step: writes committed, published \
         (stored by the broker at least once), lost (written, never published), duplicated \
         (stored again) and pending at the end; the delay runs from the commit to the first \
         store.</p>\n<table>\n<thead><tr>",
    );
    for (k, _) in &rows[0] {
        let _ = write!(out, "<th>{}</th>", escape_markup(k));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in &rows {
        out.push_str("<tr>");
        for (_, v) in r {
            let _ = write!(out, "<td>{}</td>", escape_markup(v));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}
