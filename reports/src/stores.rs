//! The anomalies section of every format: per replicated store, what the checker found
//! (stale reads, lost and silently overwritten writes), split-brain intervals, the leaders'
//! timeline, divergence after partitions heal, availability per coordinating replica, and the
//! anomalies by window. Present only when the scenario has stores.

use std::fmt::Write as _;

use models::RunResult;
use models::data::report::StoreReport;
use serde_json::{Map, Value};
use sim_core::{SimDuration, SimTime};

use crate::common::escape_markup;
use crate::json::float;

/// Windows with anomalies listed one by one in text, Markdown and HTML (JSON has them all).
const WINDOWS_LISTED: usize = 12;

fn headline(s: &StoreReport) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {} · checked {} reads and {} writes (history bound {} operations, {} not checked)",
        s.service, s.design, s.checked_reads, s.checked_writes, s.history_bound, s.not_checked
    )];
    let staleness = if s.stale_reads == 0 {
        String::new()
    } else {
        format!(
            " (behind by {:.2} versions on average, at most {}; by {} on average, at most {})",
            s.staleness_versions_mean, s.staleness_versions_max, s.staleness_mean, s.staleness_max
        )
    };
    lines.push(format!("stale reads {}{staleness}", s.stale_reads));
    let forwards = s.session_forwards.map_or(String::new(), |f| {
        format!(" · reads forwarded to the leader by a session token {f}")
    });
    lines.push(format!(
        "per session: read-your-writes violations {} · monotonic-read violations {}{forwards}",
        s.read_your_writes, s.monotonic
    ));
    lines.push(format!(
        "lost writes {} · silently overwritten {} · most siblings {}",
        s.lost_writes, s.overwritten, s.siblings_max
    ));
    if !s.leaders.is_empty() {
        lines.push(format!(
            "split brain: {} intervals, {} in all · writes acknowledged by a superseded leader {}",
            s.split_brain.len(),
            s.split_brain_total(),
            s.stale_leader_writes
        ));
    }
    lines
}

fn leader_lines(s: &StoreReport) -> Vec<String> {
    s.leaders
        .iter()
        .map(|l| {
            let host = &s.replicas[l.replica as usize].host;
            let to = l.to.map_or_else(|| "end".to_owned(), |t| t.to_string());
            format!(
                "replica {} ({host}) term {}: {} to {to}",
                l.replica, l.term, l.from
            )
        })
        .chain(
            s.split_brain
                .iter()
                .map(|(a, b)| format!("two leaders took writes: {a} to {b}")),
        )
        .collect()
}

fn divergence_lines(s: &StoreReport) -> Vec<String> {
    s.divergence
        .iter()
        .map(|d| {
            let conv = d.converged_after.map_or_else(
                || "not converged by the end".to_owned(),
                |c| format!("converged after {c}"),
            );
            format!(
                "partition healed at {}: {} keys differed; {conv}",
                d.healed_at, d.keys
            )
        })
        .collect()
}

fn window_lines(s: &StoreReport, window: SimDuration) -> Vec<String> {
    let busy: Vec<(usize, _)> = s
        .series
        .iter()
        .enumerate()
        .filter(|(_, w)| w.stale_reads + w.lost_writes + w.overwritten > 0)
        .collect();
    let mut lines: Vec<String> = busy
        .iter()
        .take(WINDOWS_LISTED)
        .map(|&(i, w)| {
            let at = SimTime::ZERO + SimDuration::from_nanos(window.as_nanos() * i as u64);
            format!(
                "{at}: {} stale reads, {} lost writes, {} overwritten",
                w.stale_reads, w.lost_writes, w.overwritten
            )
        })
        .collect();
    if busy.len() > WINDOWS_LISTED {
        lines.push(format!(
            "... and {} more windows with anomalies",
            busy.len() - WINDOWS_LISTED
        ));
    }
    lines
}

const REPLICA_HEADER: [&str; 6] = [
    "replica",
    "host",
    "reads ok",
    "reads failed",
    "writes ok",
    "writes failed",
];

fn replica_rows(s: &StoreReport) -> Vec<[String; 6]> {
    s.replicas
        .iter()
        .enumerate()
        .map(|(i, r)| {
            [
                i.to_string(),
                r.host.clone(),
                r.reads_ok.to_string(),
                r.reads_failed.to_string(),
                r.writes_ok.to_string(),
                r.writes_failed.to_string(),
            ]
        })
        .collect()
}

const WORKLOAD_HEADER: [&str; 6] = [
    "workload",
    "reads ok",
    "reads failed",
    "writes ok",
    "writes failed",
    "stale reads",
];

/// One row per caller with a workload of its own; none without any.
fn workload_rows(s: &StoreReport) -> Vec<[String; 6]> {
    s.workloads
        .iter()
        .map(|w| {
            [
                w.origin.clone(),
                w.reads_ok.to_string(),
                w.reads_failed.to_string(),
                w.writes_ok.to_string(),
                w.writes_failed.to_string(),
                w.stale_reads.to_string(),
            ]
        })
        .collect()
}

/// The text section, after a blank line; nothing without stores.
pub(crate) fn text(out: &mut String, result: &RunResult) {
    for s in &result.stores {
        out.push_str("\nstore anomalies\n");
        for l in headline(s) {
            let _ = writeln!(out, "  {l}");
        }
        let rows = replica_rows(s);
        crate::section::text_table(out, "  ", 2, &REPLICA_HEADER, &rows);
        let rows = workload_rows(s);
        if !rows.is_empty() {
            crate::section::text_table(out, "  ", 1, &WORKLOAD_HEADER, &rows);
        }
        for (title, lines) in [
            ("leaders", leader_lines(s)),
            ("divergence", divergence_lines(s)),
            ("anomalies by window", window_lines(s, result.window)),
        ] {
            if !lines.is_empty() {
                let _ = writeln!(out, "  {title}:");
                for l in lines {
                    let _ = writeln!(out, "    {l}");
                }
            }
        }
    }
}

/// The Markdown section; nothing without stores.
pub(crate) fn markdown(out: &mut String, result: &RunResult) {
    let esc = crate::markdown::escape;
    for s in &result.stores {
        out.push_str("\n#### Store anomalies\n\n");
        for l in headline(s) {
            let _ = writeln!(out, "- {}", esc(&l));
        }
        out.push('\n');
        let _ = writeln!(out, "| {} |", REPLICA_HEADER.join(" | "));
        let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: |");
        for r in replica_rows(s) {
            let cells: Vec<String> = r.iter().map(|c| esc(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        let rows = workload_rows(s);
        if !rows.is_empty() {
            out.push('\n');
            crate::section::markdown_table(out, &WORKLOAD_HEADER, &rows);
        }
        for (title, lines) in [
            ("Leaders", leader_lines(s)),
            ("Divergence", divergence_lines(s)),
            ("Anomalies by window", window_lines(s, result.window)),
        ] {
            if !lines.is_empty() {
                let _ = writeln!(out, "\n{title}:\n");
                for l in lines {
                    let _ = writeln!(out, "- {}", esc(&l));
                }
            }
        }
    }
}

/// The HTML section; nothing without stores.
pub(crate) fn html(out: &mut String, result: &RunResult) {
    for s in &result.stores {
        out.push_str("<h2>Store anomalies</h2>\n<ul>\n");
        for l in headline(s) {
            let _ = writeln!(out, "<li>{}</li>", escape_markup(&l));
        }
        out.push_str("</ul>\n<table>\n<tr>");
        for h in REPLICA_HEADER {
            let _ = write!(out, "<th>{h}</th>");
        }
        out.push_str("</tr>\n");
        for r in replica_rows(s) {
            out.push_str("<tr>");
            for c in &r {
                let _ = write!(out, "<td>{}</td>", escape_markup(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        let rows = workload_rows(s);
        if !rows.is_empty() {
            out.push_str("<table>\n<tr>");
            for h in WORKLOAD_HEADER {
                let _ = write!(out, "<th>{h}</th>");
            }
            out.push_str("</tr>\n");
            for r in rows {
                out.push_str("<tr>");
                for c in &r {
                    let _ = write!(out, "<td>{}</td>", escape_markup(c));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
        }
        for (title, lines) in [
            ("Leaders", leader_lines(s)),
            ("Divergence", divergence_lines(s)),
            ("Anomalies by window", window_lines(s, result.window)),
        ] {
            if !lines.is_empty() {
                let _ = writeln!(out, "<h3>{title}</h3>\n<ul>");
                for l in lines {
                    let _ = writeln!(out, "<li>{}</li>", escape_markup(&l));
                }
                out.push_str("</ul>\n");
            }
        }
    }
}

/// The header of the stores' CSV table, without its line break.
pub const STORE_HEADER: &str =
    "window_start_s,window_end_s,kind,name,stale_reads,lost_writes,overwritten";

/// The stores' anomalies per window as a CSV table of its own, after an empty line; empty
/// without stores. Anomalies fall in the window of their time: a read's invocation, a write's
/// acknowledgement.
pub(crate) fn csv(out: &mut String, result: &RunResult, quote: fn(&str) -> String) {
    if result.stores.is_empty() {
        return;
    }
    out.push('\n');
    out.push_str(STORE_HEADER);
    out.push('\n');
    let window_ns = result.window.as_nanos();
    let end = result.outcome.now.as_nanos();
    for s in &result.stores {
        let name = quote(&s.service);
        for (i, w) in s.series.iter().enumerate() {
            let (start, stop) = crate::csv::window_span_ns(i, window_ns, end);
            let _ = writeln!(
                out,
                "{:.3},{:.3},store,{name},{},{},{}",
                start as f64 / 1e9,
                stop as f64 / 1e9,
                w.stale_reads,
                w.lost_writes,
                w.overwritten
            );
        }
    }
}

fn seconds(t: SimTime) -> Value {
    float(t.as_secs_f64(), 9)
}

fn secs(d: SimDuration) -> Value {
    float(d.as_secs_f64(), 9)
}

/// The JSON `stores` object, by service name; `None` without stores (the key is then absent).
pub(crate) fn json(result: &RunResult) -> Option<Value> {
    if result.stores.is_empty() {
        return None;
    }
    let mut all = Map::new();
    for s in &result.stores {
        let mut m = Map::new();
        m.insert("design".into(), Value::from(s.design.as_str()));
        m.insert("checked_reads".into(), Value::from(s.checked_reads));
        m.insert("checked_writes".into(), Value::from(s.checked_writes));
        m.insert("history_bound".into(), Value::from(s.history_bound));
        m.insert("not_checked".into(), Value::from(s.not_checked));
        m.insert("stale_reads".into(), Value::from(s.stale_reads));
        m.insert(
            "staleness_versions_mean".into(),
            float(s.staleness_versions_mean, 6),
        );
        m.insert(
            "staleness_versions_max".into(),
            Value::from(s.staleness_versions_max),
        );
        m.insert("staleness_mean_s".into(), secs(s.staleness_mean));
        m.insert("staleness_max_s".into(), secs(s.staleness_max));
        m.insert("lost_writes".into(), Value::from(s.lost_writes));
        m.insert("overwritten".into(), Value::from(s.overwritten));
        m.insert("read_your_writes".into(), Value::from(s.read_your_writes));
        m.insert("monotonic_reads".into(), Value::from(s.monotonic));
        if let Some(f) = s.session_forwards {
            m.insert("session_forwards".into(), Value::from(f));
        }
        m.insert("siblings_max".into(), Value::from(s.siblings_max));
        m.insert(
            "stale_leader_writes".into(),
            Value::from(s.stale_leader_writes),
        );
        m.insert("split_brain_s".into(), secs(s.split_brain_total()));
        m.insert(
            "split_brain".into(),
            Value::Array(
                s.split_brain
                    .iter()
                    .map(|&(a, b)| Value::Array(vec![seconds(a), seconds(b)]))
                    .collect(),
            ),
        );
        let leaders = s.leaders.iter().map(|l| {
            let mut o = Map::new();
            o.insert("replica".into(), Value::from(l.replica));
            o.insert("term".into(), Value::from(l.term));
            o.insert("from_s".into(), seconds(l.from));
            o.insert("to_s".into(), l.to.map_or(Value::Null, seconds));
            Value::Object(o)
        });
        m.insert("leaders".into(), Value::Array(leaders.collect()));
        let divergence = s.divergence.iter().map(|d| {
            let mut o = Map::new();
            o.insert("healed_at_s".into(), seconds(d.healed_at));
            o.insert("keys".into(), Value::from(d.keys));
            o.insert(
                "converged_after_s".into(),
                d.converged_after.map_or(Value::Null, secs),
            );
            Value::Object(o)
        });
        m.insert("divergence".into(), Value::Array(divergence.collect()));
        let replicas = s.replicas.iter().map(|r| {
            let mut o = Map::new();
            o.insert("host".into(), Value::from(r.host.as_str()));
            o.insert("reads_ok".into(), Value::from(r.reads_ok));
            o.insert("reads_failed".into(), Value::from(r.reads_failed));
            o.insert("writes_ok".into(), Value::from(r.writes_ok));
            o.insert("writes_failed".into(), Value::from(r.writes_failed));
            Value::Object(o)
        });
        m.insert("replicas".into(), Value::Array(replicas.collect()));
        if !s.workloads.is_empty() {
            let workloads = s.workloads.iter().map(|w| {
                let mut o = Map::new();
                o.insert("origin".into(), Value::from(w.origin.as_str()));
                o.insert("reads_ok".into(), Value::from(w.reads_ok));
                o.insert("reads_failed".into(), Value::from(w.reads_failed));
                o.insert("writes_ok".into(), Value::from(w.writes_ok));
                o.insert("writes_failed".into(), Value::from(w.writes_failed));
                o.insert("stale_reads".into(), Value::from(w.stale_reads));
                Value::Object(o)
            });
            m.insert("workloads".into(), Value::Array(workloads.collect()));
        }
        let series = |f: fn(&models::data::report::AnomalyWindow) -> u32| {
            Value::Array(s.series.iter().map(|w| Value::from(f(w))).collect())
        };
        let mut by_window = Map::new();
        by_window.insert("stale_reads".into(), series(|w| w.stale_reads));
        by_window.insert("lost_writes".into(), series(|w| w.lost_writes));
        by_window.insert("overwritten".into(), series(|w| w.overwritten));
        m.insert("series".into(), Value::Object(by_window));
        all.insert(s.service.clone(), Value::Object(m));
    }
    Some(Value::Object(all))
}
