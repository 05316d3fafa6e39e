//! The brokers' queues in every format (issue 15): a JSON `queues` object, a text and a
//! Markdown section, and a CSV table of per-window series. Each appears only when the run has
//! queues, so the reports of other scenarios are unchanged.

use std::fmt::Write as _;

use models::RunResult;
use models::broker::QueueReport;
use models::fifo::FifoReport;
use serde_json::{Map, Value};

use crate::common::{finite, fmt_ms};
use crate::json::float;

const RATE_DECIMALS: i32 = 3;
const SECONDS_DECIMALS: i32 = 3;
const MS_DECIMALS: i32 = 3;

fn ms(ns: u64) -> Value {
    float(ns as f64 / 1e6, MS_DECIMALS)
}

/// Messages per second of simulated time.
fn rate(count: u64, result: &RunResult) -> f64 {
    let s = result.outcome.now.as_secs_f64();
    if s > 0.0 { count as f64 / s } else { 0.0 }
}

/// The `queues` object, or none when the run has no broker.
pub(crate) fn json(result: &RunResult) -> Option<Value> {
    if result.queues.is_empty() {
        return None;
    }
    let queues: Map<String, Value> = result
        .queues
        .iter()
        .map(|q| (q.name.clone(), queue_json(result, q)))
        .collect();
    Some(Value::Object(queues))
}

fn queue_json(result: &RunResult, q: &QueueReport) -> Value {
    let mut m = Map::new();
    m.insert("broker".into(), Value::from(q.broker.as_str()));
    m.insert(
        "consumers".into(),
        Value::Array(
            q.consumers
                .iter()
                .map(|c| Value::from(c.as_str()))
                .collect(),
        ),
    );
    m.insert(
        "visibility_timeout_s".into(),
        float(q.visibility_timeout.as_secs_f64(), SECONDS_DECIMALS),
    );
    m.insert(
        "dead_letter".into(),
        match &q.dead_letter {
            None => Value::Null,
            Some((name, max)) => {
                let mut d = Map::new();
                d.insert("queue".into(), Value::from(name.as_str()));
                d.insert("max_receives".into(), Value::from(*max));
                Value::Object(d)
            }
        },
    );
    for (key, value) in [
        ("published", q.published),
        ("dead_letters_in", q.dead_letters_in),
        ("received", q.received),
        ("redelivered", q.redelivered),
        ("acked", q.acked),
        ("stale_acks", q.stale_acks),
        ("processed", q.processed),
        ("failed", q.failed),
        ("duplicates", q.duplicates),
        ("deduplicated", q.deduplicated),
        ("dead_lettered", q.dead_lettered),
        ("expired", q.expired),
        ("lost", q.lost),
        ("backlog", q.backlog),
        ("in_flight", q.in_flight),
    ] {
        m.insert(key.into(), Value::from(value));
    }
    m.insert("conserved".into(), Value::from(q.conserved()));
    m.insert(
        "oldest_age_s".into(),
        float(q.oldest_age.as_secs_f64(), SECONDS_DECIMALS),
    );
    m.insert(
        "publish_rate_per_s".into(),
        float(rate(q.published, result), RATE_DECIMALS),
    );
    m.insert(
        "delivery_rate_per_s".into(),
        float(rate(q.received, result), RATE_DECIMALS),
    );
    let h = &q.end_to_end.latency;
    let mut e2e = Map::new();
    e2e.insert("count".into(), Value::from(h.count()));
    if h.count() > 0 {
        e2e.insert("p50".into(), ms(h.quantile(0.5).as_nanos()));
        e2e.insert("p99".into(), ms(h.quantile(0.99).as_nanos()));
        e2e.insert("max".into(), ms(h.max().as_nanos()));
        e2e.insert("mean".into(), float(finite(h.mean_ns() / 1e6), MS_DECIMALS));
    }
    m.insert("end_to_end_ms".into(), Value::Object(e2e));
    // The per-window series are in the CSV; the document keeps their peaks.
    let peak = |f: fn(&models::broker::QueueWindow) -> u64| {
        q.series.windows.iter().map(f).max().unwrap_or(0)
    };
    m.insert("backlog_max".into(), Value::from(peak(|w| w.backlog_max)));
    m.insert(
        "in_flight_max".into(),
        Value::from(peak(|w| w.in_flight_max)),
    );
    m.insert(
        "oldest_age_s_max".into(),
        float(peak(|w| w.oldest_age_ns_max) as f64 / 1e9, SECONDS_DECIMALS),
    );
    if let Some(f) = &q.fifo {
        m.insert("fifo".into(), fifo_json(f));
    }
    Value::Object(m)
}

/// A queue's message groups: only for a queue with `fifo` or `groups` written.
fn fifo_json(f: &FifoReport) -> Value {
    let mut m = Map::new();
    m.insert("strict".into(), Value::from(f.strict));
    m.insert("groups".into(), Value::from(f.groups));
    m.insert(
        "deduplicated_publishes".into(),
        Value::from(f.deduplicated_publishes),
    );
    m.insert("out_of_order".into(), Value::from(f.out_of_order));
    m.insert(
        "blocked_group_s".into(),
        float(f.blocked.as_secs_f64(), SECONDS_DECIMALS),
    );
    m.insert(
        "longest_blocked_s".into(),
        float(f.longest_blocked.as_secs_f64(), SECONDS_DECIMALS),
    );
    m.insert("blocked_at_end".into(), Value::from(f.blocked_at_end));
    if f.keyed {
        m.insert("keyed".into(), Value::from(true));
        m.insert("groups_used".into(), Value::from(f.groups_used));
        m.insert(
            "busiest_group_messages".into(),
            Value::from(f.busiest_group_messages),
        );
    }
    Value::Object(m)
}

/// One sentence on a queue's groups, for the text and Markdown sections.
fn fifo_line(name: &str, f: &FifoReport, published: u64) -> String {
    // A keyed step's groups are its keys: how many, and the busiest's share of the messages.
    let groups = if f.keyed {
        let share = 100.0 * f.busiest_group_messages as f64 / published.max(1) as f64;
        format!(
            "{} groups by key (the busiest holds {} of {published} messages, {share:.1}%)",
            f.groups_used, f.busiest_group_messages
        )
    } else {
        format!("{} groups", f.groups)
    };
    if f.strict {
        format!(
            "{name}: FIFO, {groups}; {} publishes deduplicated, {} processed out of order; \
             groups blocked behind an in-flight message {:.3}s in all (longest {:.3}s, {} at \
             the end)",
            f.deduplicated_publishes,
            f.out_of_order,
            f.blocked.as_secs_f64(),
            f.longest_blocked.as_secs_f64(),
            f.blocked_at_end
        )
    } else {
        format!(
            "{name}: standard, order measured over {groups}; {} processed out of order",
            f.out_of_order
        )
    }
}

/// One line of figures per queue, for the text and Markdown sections.
fn figures(q: &QueueReport) -> [(&'static str, String); 12] {
    let h = &q.end_to_end.latency;
    let e2e = |p: f64| {
        if h.count() == 0 {
            "-".to_string()
        } else {
            fmt_ms(h.quantile(p).as_nanos())
        }
    };
    [
        ("published", (q.published + q.dead_letters_in).to_string()),
        ("processed", q.processed.to_string()),
        ("acked", q.acked.to_string()),
        ("redelivered", q.redelivered.to_string()),
        ("duplicates", q.duplicates.to_string()),
        ("dead-lettered", q.dead_lettered.to_string()),
        ("expired+lost", (q.expired + q.lost).to_string()),
        ("backlog", q.backlog.to_string()),
        ("in flight", q.in_flight.to_string()),
        ("oldest", format!("{:.3}s", q.oldest_age.as_secs_f64())),
        ("e2e p50", e2e(0.5)),
        ("e2e p99", e2e(0.99)),
    ]
}

/// The queues' table for text and Markdown: the header (`first` over the names) and a row of
/// figures per queue. There is at least one queue.
fn table(result: &RunResult, first: &'static str) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = std::iter::once(first)
        .chain(figures(&result.queues[0]).iter().map(|&(k, _)| k))
        .collect();
    let rows = result
        .queues
        .iter()
        .map(|q| {
            std::iter::once(q.name.clone())
                .chain(figures(q).into_iter().map(|(_, v)| v))
                .collect()
        })
        .collect();
    (header, rows)
}

/// The text section: one aligned table of the queues.
pub(crate) fn text(out: &mut String, result: &RunResult) {
    if result.queues.is_empty() {
        return;
    }
    let (header, rows) = table(result, "queues");
    out.push('\n');
    crate::section::text_table(out, "", 1, &header, &rows);
    for q in &result.queues {
        let consumers = if q.consumers.is_empty() {
            "no consumer".to_string()
        } else {
            format!("consumed by {}", q.consumers.join(", "))
        };
        let _ = writeln!(
            out,
            "  {}: on {}, {consumers}; visibility timeout {:.3}s; {} receives, {} stale acks, \
             {} failed processings, {} deduplicated",
            q.name,
            q.broker,
            q.visibility_timeout.as_secs_f64(),
            q.received,
            q.stale_acks,
            q.failed,
            q.deduplicated
        );
        if let Some(f) = &q.fifo {
            let _ = writeln!(out, "  {}", fifo_line(&q.name, f, q.published));
        }
    }
}

/// The Markdown section: a table of the queues.
pub(crate) fn markdown(out: &mut String, result: &RunResult, escape: fn(&str) -> String) {
    if result.queues.is_empty() {
        return;
    }
    out.push_str("\n#### Queues\n\n");
    let (header, rows) = table(result, "queue");
    crate::section::markdown_table(out, &header, &rows);
    let groups: Vec<String> = result
        .queues
        .iter()
        .filter_map(|q| {
            let f = q.fifo.as_ref()?;
            Some(fifo_line(&escape(&q.name), f, q.published))
        })
        .collect();
    if !groups.is_empty() {
        out.push('\n');
        for line in groups {
            let _ = writeln!(out, "- {line}");
        }
    }
}

/// The header of the queues' CSV table.
pub const QUEUE_HEADER: &str = "window_start_s,window_end_s,kind,name,published,received,\
redelivered,acked,dead_lettered,duplicates,processed,backlog_max,in_flight_max,\
oldest_age_s_max,end_to_end_ms_p50,end_to_end_ms_p99";

/// The queues' series as a second CSV table, after an empty line; empty without queues.
pub(crate) fn csv(out: &mut String, result: &RunResult, quote: fn(&str) -> String) {
    if result.queues.is_empty() {
        return;
    }
    out.push('\n');
    out.push_str(QUEUE_HEADER);
    out.push('\n');
    let window_ns = result.window.as_nanos();
    let end = result.outcome.now.as_nanos();
    for q in &result.queues {
        let name = quote(&q.name);
        for (i, (w, e)) in q
            .series
            .windows
            .iter()
            .zip(&q.end_to_end.windows)
            .enumerate()
        {
            let (start, stop) = crate::csv::window_span_ns(i, window_ns, end);
            let (p50, p99) = crate::csv::p50_p99_cells(e);
            let _ = writeln!(
                out,
                "{:.3},{:.3},queue,{name},{},{},{},{},{},{},{},{},{},{:.3},{p50},{p99}",
                start as f64 / 1e9,
                stop as f64 / 1e9,
                w.published,
                w.received,
                w.redelivered,
                w.acked,
                w.dead_lettered,
                w.duplicates,
                e.ok,
                w.backlog_max,
                w.in_flight_max,
                w.oldest_age_ns_max as f64 / 1e9,
            );
        }
    }
}
