//! The brokers' topics in every format (issue 15): a JSON `topics` object (per topic, per
//! consumer group, per partition), a text and a Markdown section, and a CSV table of each
//! group's per-window lag. Each appears only when the run has topics, so the reports of other
//! scenarios are unchanged.

use std::fmt::Write as _;

use models::RunResult;
use models::topic::{GroupReport, PartitionReport, TopicReport};
use serde_json::{Map, Value};

use crate::common::{finite, fmt_ms};
use crate::json::float;

const SECONDS_DECIMALS: i32 = 3;
const MS_DECIMALS: i32 = 3;

fn ms(ns: u64) -> Value {
    float(ns as f64 / 1e6, MS_DECIMALS)
}

fn counts(p: &PartitionReport) -> [(&'static str, u64); 11] {
    [
        ("published", p.published),
        ("consumed", p.consumed),
        ("failed", p.failed),
        ("duplicates", p.duplicates),
        ("redelivered", p.redelivered),
        ("lost", p.lost),
        ("unprocessed", p.unprocessed),
        ("committed", p.committed),
        ("lag", p.lag),
        ("max_lag", p.max_lag),
        ("out_of_order", p.out_of_order),
    ]
}

/// The `topics` object, or none when the run has no topic.
pub(crate) fn json(result: &RunResult) -> Option<Value> {
    if result.topics.is_empty() {
        return None;
    }
    let topics: Map<String, Value> = result
        .topics
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                topic_json(t, result.outcome.now.as_secs_f64()),
            )
        })
        .collect();
    Some(Value::Object(topics))
}

/// A topic's object; `seconds` is the simulated time the rates are taken over.
fn topic_json(t: &TopicReport, seconds: f64) -> Value {
    let mut m = Map::new();
    m.insert("broker".into(), Value::from(t.broker.as_str()));
    m.insert("partitions".into(), Value::from(t.partitions));
    m.insert("keys".into(), t.keys.map_or(Value::Null, Value::from));
    if t.keyed {
        m.insert("keyed".into(), Value::from(true));
    }
    m.insert(
        "published".into(),
        Value::Array(t.published.iter().map(|&n| Value::from(n)).collect()),
    );
    let groups: Map<String, Value> = t
        .groups
        .iter()
        .map(|g| (g.name.clone(), group_json(g, seconds)))
        .collect();
    m.insert("groups".into(), Value::Object(groups));
    Value::Object(m)
}

fn group_json(g: &GroupReport, seconds: f64) -> Value {
    let mut m = Map::new();
    // Records appended and records fetched (deliveries, redeliveries included) per second.
    let rate = |n: u64| {
        float(
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            },
            3,
        )
    };
    let fetched: u64 = g.series.windows.iter().map(|w| w.received).sum();
    m.insert("publish_rate_per_s".into(), rate(g.total(|p| p.published)));
    m.insert("delivery_rate_per_s".into(), rate(fetched));
    m.insert("commit".into(), Value::from(g.commit.name()));
    m.insert("members".into(), Value::from(g.members));
    m.insert("rebalances".into(), Value::from(g.rebalances));
    m.insert(
        "rebalancing_s".into(),
        float(g.rebalancing.as_secs_f64(), SECONDS_DECIMALS),
    );
    m.insert(
        "oldest_age_s".into(),
        float(g.oldest_age.as_secs_f64(), SECONDS_DECIMALS),
    );
    let oldest_max = g.series.windows.iter().map(|w| w.oldest_age_ns_max).max();
    m.insert(
        "oldest_age_s_max".into(),
        float(oldest_max.unwrap_or(0) as f64 / 1e9, SECONDS_DECIMALS),
    );
    let zero = PartitionReport::default();
    for (key, _) in counts(&zero) {
        let total = match key {
            // The group's largest lag is its windows' peak (partitions peak apart).
            "max_lag" => g
                .series
                .windows
                .iter()
                .map(|w| w.backlog_max)
                .max()
                .unwrap_or(0),
            _ => g.total(|p| {
                counts(p)
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(0, |(_, v)| *v)
            }),
        };
        m.insert(key.into(), Value::from(total));
    }
    m.insert(
        "conserved".into(),
        Value::from(g.partitions.iter().all(PartitionReport::conserved)),
    );
    let h = &g.end_to_end.latency;
    let mut e2e = Map::new();
    e2e.insert("count".into(), Value::from(h.count()));
    if h.count() > 0 {
        e2e.insert("p50".into(), ms(h.quantile(0.5).as_nanos()));
        e2e.insert("p99".into(), ms(h.quantile(0.99).as_nanos()));
        e2e.insert("max".into(), ms(h.max().as_nanos()));
        e2e.insert("mean".into(), float(finite(h.mean_ns() / 1e6), MS_DECIMALS));
    }
    m.insert("end_to_end_ms".into(), Value::Object(e2e));
    let parts: Vec<Value> = g
        .partitions
        .iter()
        .map(|p| {
            let mut o = Map::new();
            for (k, v) in counts(p) {
                o.insert(k.into(), Value::from(v));
            }
            Value::Object(o)
        })
        .collect();
    m.insert("per_partition".into(), Value::Array(parts));
    Value::Object(m)
}

/// One line of figures per group, for the text and Markdown sections.
fn figures(g: &GroupReport) -> [(&'static str, String); 12] {
    let h = &g.end_to_end.latency;
    let e2e = |p: f64| {
        if h.count() == 0 {
            "-".to_string()
        } else {
            fmt_ms(h.quantile(p).as_nanos())
        }
    };
    let max_lag = g.series.windows.iter().map(|w| w.backlog_max).max();
    [
        ("commit", g.commit.name().to_string()),
        ("published", g.total(|p| p.published).to_string()),
        ("consumed", g.total(|p| p.consumed + p.failed).to_string()),
        ("duplicates", g.total(|p| p.duplicates).to_string()),
        ("lost", g.total(|p| p.lost).to_string()),
        ("lag", g.total(|p| p.lag).to_string()),
        ("max lag", max_lag.unwrap_or(0).to_string()),
        ("oldest", format!("{:.3}s", g.oldest_age.as_secs_f64())),
        ("rebalances", g.rebalances.to_string()),
        ("paused", format!("{:.3}s", g.rebalancing.as_secs_f64())),
        ("e2e p50", e2e(0.5)),
        ("e2e p99", e2e(0.99)),
    ]
}

fn rows(result: &RunResult) -> Vec<(String, [(&'static str, String); 12])> {
    result
        .topics
        .iter()
        .flat_map(|t| {
            t.groups
                .iter()
                .map(move |g| (format!("{}/{}", t.name, g.name), figures(g)))
        })
        .collect()
}

/// The groups' table for text and Markdown: the header (only the first column's without
/// groups) and a row of figures per group.
fn table(result: &RunResult) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = rows(result);
    let mut header = vec!["topic/group"];
    if let Some((_, first)) = rows.first() {
        header.extend(first.iter().map(|&(k, _)| k));
    }
    let table = rows
        .into_iter()
        .map(|(name, f)| {
            std::iter::once(name)
                .chain(f.into_iter().map(|(_, v)| v))
                .collect()
        })
        .collect();
    (header, table)
}

/// The text section: one aligned table of the topics' groups, and a line per partition.
pub(crate) fn text(out: &mut String, result: &RunResult) {
    if result.topics.is_empty() {
        return;
    }
    let (header, table) = table(result);
    out.push('\n');
    crate::section::text_table(out, "", 1, &header, &table);
    for t in &result.topics {
        let keys = keys_phrase(t);
        let _ = writeln!(
            out,
            "  {}: on {}, {} partitions ({keys}), published per partition {:?}",
            t.name, t.broker, t.partitions, t.published
        );
        for g in &t.groups {
            let per: Vec<String> = g
                .partitions
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    format!(
                        "p{i} lag {} (max {}), dup {}, lost {}",
                        p.lag, p.max_lag, p.duplicates, p.lost
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "    group {} ({} members): {}",
                g.name,
                g.members,
                per.join("; ")
            );
        }
    }
}

/// How a topic's records find their partition.
fn keys_phrase(t: &TopicReport) -> String {
    match (t.keys, t.keyed) {
        (None, false) => "round-robin".to_string(),
        (Some(k), false) => format!("{k} keys hashed"),
        (None, true) => "the publish steps' keys hashed".to_string(),
        (Some(k), true) => format!("the publish steps' keys, or one of {k}, hashed"),
    }
}

/// The Markdown section: a table of the topics' groups.
pub(crate) fn markdown(out: &mut String, result: &RunResult) {
    let (header, rows) = table(result);
    if rows.is_empty() {
        return;
    }
    out.push_str("\n#### Topics\n\n");
    crate::section::markdown_table(out, &header, &rows);
    // A keyed publish step's skew over the partitions (other topics keep their table alone).
    for t in result.topics.iter().filter(|t| t.keyed) {
        let _ = writeln!(
            out,
            "\n{} ({}): published per partition {:?}",
            crate::markdown::escape(&t.name),
            keys_phrase(t),
            t.published
        );
    }
}

/// The header of the topics' CSV table.
pub const TOPIC_HEADER: &str = "window_start_s,window_end_s,kind,name,group,published,fetched,\
consumed,duplicates,lost,lag_max,end_to_end_ms_p50,end_to_end_ms_p99,oldest_age_s_max";

/// The groups' series as a further CSV table, after an empty line; empty without topics.
pub(crate) fn csv(out: &mut String, result: &RunResult, quote: fn(&str) -> String) {
    if result.topics.is_empty() {
        return;
    }
    out.push('\n');
    out.push_str(TOPIC_HEADER);
    out.push('\n');
    let window_ns = result.window.as_nanos();
    let end = result.outcome.now.as_nanos();
    for t in &result.topics {
        let name = quote(&t.name);
        for g in &t.groups {
            let group = quote(&g.name);
            for (i, (w, e)) in g
                .series
                .windows
                .iter()
                .zip(&g.end_to_end.windows)
                .enumerate()
            {
                let (start, stop) = crate::csv::window_span_ns(i, window_ns, end);
                let (p50, p99) = crate::csv::p50_p99_cells(e);
                let _ = writeln!(
                    out,
                    "{:.3},{:.3},topic,{name},{group},{},{},{},{},{},{},{p50},{p99},{:.3}",
                    start as f64 / 1e9,
                    stop as f64 / 1e9,
                    w.published,
                    w.received,
                    w.acked,
                    w.duplicates,
                    w.dead_lettered,
                    w.backlog_max,
                    w.oldest_age_ns_max as f64 / 1e9,
                );
            }
        }
    }
}
