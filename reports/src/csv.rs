//! The time series of a run as CSV: one row per window per service, client and edge.

use std::fmt::Write as _;

use models::RunResult;
use models::metrics::{FailureCause, Gauge, OutcomeStats, Window};
use sim_core::SimTime;

use crate::common::finite;

/// The header row, without its line break.
pub const HEADER: &str = "window_start_s,window_end_s,kind,name,requests_finished,ok,failed,\
timeout,rejected,error,dependency,availability,latency_ms_p50,latency_ms_p99,latency_ms_max,\
busy_workers_mean,queue_max,degraded,circuit_open,bulkhead_full,rate_limited,shed,throttled,\
conflict,unavailable";

/// The time series: one row per window per service, client and edge.
///
/// Columns as in [`HEADER`]. `kind` is `service`, `client`, `edge` or `endpoint`; an edge's
/// name is `from -> to`, an endpoint's `service/endpoint` (only services with several
/// endpoints have endpoint rows). Rows go by kind (services, clients, edges, endpoints, each in
/// the run's order), then by window. `availability` is empty when nothing finished in the window, the latencies when
/// nothing succeeded in it, `busy_workers_mean` and `queue_max` for anything but a service.
/// Seconds have three decimals, ratios six, milliseconds three; names are quoted as RFC 4180
/// says when they hold a comma, a quote or a line break. Lines end with `\n`.
pub fn csv(result: &RunResult) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push('\n');
    let window_ns = result.window.as_nanos();
    let end = result.outcome.now;
    for s in &result.services {
        rows(
            &mut out,
            "service",
            &s.name,
            &s.stats,
            Some(&s.gauges.windows),
            window_ns,
            end,
        );
    }
    for c in &result.clients {
        rows(&mut out, "client", &c.name, &c.stats, None, window_ns, end);
    }
    for (e, name) in result
        .edges
        .iter()
        .zip(crate::common::edge_names(&result.edges))
    {
        rows(&mut out, "edge", &name, &e.stats, None, window_ns, end);
    }
    for s in &result.services {
        for e in &s.endpoints {
            let name = format!("{}/{}", s.name, e.name);
            rows(&mut out, "endpoint", &name, &e.stats, None, window_ns, end);
        }
    }
    crate::broker::csv(&mut out, result, quote);
    crate::topic::csv(&mut out, result, quote);
    crate::stores::csv(&mut out, result, quote);
    out
}

/// The rows of one entity; `gauges` only for a service.
fn rows(
    out: &mut String,
    kind: &str,
    name: &str,
    stats: &OutcomeStats,
    gauges: Option<&[Gauge]>,
    window_ns: u64,
    end: SimTime,
) {
    assert!(window_ns > 0, "windows have a width");
    let name = quote(name);
    for (i, w) in stats.windows.iter().enumerate() {
        let (start, stop) = window_span_ns(i, window_ns, end.as_nanos());
        let failed = w.failed();
        let availability = w
            .availability()
            .map_or_else(String::new, |a| format!("{:.6}", finite(a) + 0.0));
        let (p50, p99, max) = if w.ok == 0 {
            (String::new(), String::new(), String::new())
        } else {
            (
                ms(w.latency_ns_p50),
                ms(w.latency_ns_p99),
                ms(w.latency_ns_max),
            )
        };
        let (busy, queue) = match gauges.map(|g| g.get(i)) {
            Some(Some(g)) if stop > start => (
                format!(
                    "{:.3}",
                    finite(g.busy_ns as f64 / (stop - start) as f64) + 0.0
                ),
                g.queue_max.to_string(),
            ),
            Some(Some(g)) => ("0.000".to_owned(), g.queue_max.to_string()),
            _ => (String::new(), String::new()),
        };
        let by = |c: FailureCause| w.failed_by_cause[c as usize];
        // The policies' causes follow the original columns, so that scripts reading columns
        // by position keep working.
        let policy_causes: Vec<String> = FailureCause::ALL[4..]
            .iter()
            .map(|&c| by(c).to_string())
            .collect();
        let _ = writeln!(
            out,
            "{},{},{kind},{name},{},{},{failed},{},{},{},{},{availability},{p50},{p99},{max},{busy},{queue},{},{}",
            secs(start),
            secs(stop),
            w.ok + failed,
            w.ok,
            by(FailureCause::Timeout),
            by(FailureCause::Rejected),
            by(FailureCause::Error),
            by(FailureCause::Dependency),
            w.degraded,
            policy_causes.join(","),
        );
    }
}

/// `[start, stop)` of the `i`th window in nanoseconds: the last window stops where the run
/// stopped (`end_ns`), and never before it starts.
pub(crate) fn window_span_ns(i: usize, window_ns: u64, end_ns: u64) -> (u64, u64) {
    let start = i as u64 * window_ns;
    (start, ((i as u64 + 1) * window_ns).min(end_ns).max(start))
}

/// A window's p50 and p99 latencies in milliseconds with three decimals, both empty when
/// nothing in it succeeded (the queues' and topics' end-to-end columns).
pub(crate) fn p50_p99_cells(w: &Window) -> (String, String) {
    if w.ok == 0 {
        (String::new(), String::new())
    } else {
        (
            format!("{:.3}", w.latency_ns_p50 as f64 / 1e6),
            format!("{:.3}", w.latency_ns_p99 as f64 / 1e6),
        )
    }
}

/// Nanoseconds as seconds with three decimals, rounded to the millisecond with integer
/// arithmetic: `120.500`.
fn secs(ns: u64) -> String {
    let ms = ns / 1_000_000 + u64::from(ns % 1_000_000 >= 500_000);
    format!("{}.{:03}", ms / 1_000, ms % 1_000)
}

/// Nanoseconds as milliseconds with three decimals, rounded to the microsecond: `12.345`.
fn ms(ns: u64) -> String {
    let us = ns / 1_000 + u64::from(ns % 1_000 >= 500);
    format!("{}.{:03}", us / 1_000, us % 1_000)
}

/// A field quoted as RFC 4180 says when it holds a comma, a quote or a line break.
pub(crate) fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use models::{RunOptions, World};

    use super::*;
    use crate::text::tests::{faulted_config, faulted_run};

    /// The fields of a CSV line (RFC 4180 quoting, no line breaks inside fields).
    fn fields(line: &str) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    chars.next();
                    out.last_mut().expect("a field").push('"');
                }
                '"' => quoted = !quoted,
                ',' if !quoted => out.push(String::new()),
                _ => out.last_mut().expect("a field").push(c),
            }
        }
        out
    }

    #[test]
    fn one_row_per_window_per_entity() {
        let r = faulted_run(1);
        let text = csv(&r);
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "window_start_s,window_end_s,kind,name,requests_finished,ok,failed,timeout,\
                 rejected,error,dependency,availability,latency_ms_p50,latency_ms_p99,\
                 latency_ms_max,busy_workers_mean,queue_max,degraded,circuit_open,\
                 bulkhead_full,rate_limited,shed,throttled,conflict,unavailable"
            )
        );
        let rows: Vec<Vec<String>> = lines.map(fields).collect();
        let expected: usize = r
            .services
            .iter()
            .map(|s| s.stats.windows.len())
            .sum::<usize>()
            + r.clients
                .iter()
                .map(|c| c.stats.windows.len())
                .sum::<usize>()
            + r.edges.iter().map(|e| e.stats.windows.len()).sum::<usize>();
        assert_eq!(rows.len(), expected);
        let columns = HEADER.split(',').count();
        let n = |row: &[String], i: usize| row[i].parse::<u64>().expect("an integer");
        for row in &rows {
            assert_eq!(row.len(), columns, "{row:?}");
            let (ok, failed) = (n(row, 5), n(row, 6));
            assert_eq!(n(row, 4), ok + failed, "{row:?}");
            let causes = (7..11).chain(18..25).map(|i| n(row, i)).sum::<u64>();
            assert_eq!(failed, causes, "{row:?}");
            assert!(n(row, 17) <= ok, "{row:?}");
            assert_eq!(row[11].is_empty(), ok + failed == 0, "{row:?}");
            assert_eq!(row[12].is_empty(), ok == 0, "{row:?}");
            assert_eq!(row[15].is_empty(), row[2] != "service", "{row:?}");
            assert_eq!(row[16].is_empty(), row[2] != "service", "{row:?}");
        }
        // Services in order, then clients, then edges; windows in order within each.
        let kinds: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
        let mut sorted = kinds.clone();
        sorted.sort_by_key(|k| ["service", "client", "edge"].iter().position(|x| x == k));
        assert_eq!(kinds, sorted);
        assert_eq!(rows[0][..4], ["0.000", "0.500", "service", "front"]);
        assert_eq!(rows[1][..4], ["0.500", "1.000", "service", "front"]);
        assert!(rows.iter().any(|r| r[3] == "client:users -> front"));
        // Back is the faulted service: its windows during the fault are not all well.
        assert!(
            rows.iter()
                .any(|r| r[3] == "back" && r[0] == "2.000" && r[11] != "1.000000"),
            "{text}"
        );
        assert_eq!(text, csv(&faulted_run(1)));
    }

    #[test]
    fn names_with_commas_are_quoted() {
        let mut config = faulted_config();
        config.services[1].name = "a,b".into();
        config.clients[0].name = "say \"hi\"".into();
        let r = World::new(&config, 1).run(RunOptions::default());
        let text = csv(&r);
        assert!(text.contains(",service,\"a,b\","), "{text}");
        assert!(text.contains(",edge,\"front -> a,b\","), "{text}");
        assert!(text.contains(",client,\"say \"\"hi\"\"\","), "{text}");
        for line in text.lines() {
            assert_eq!(fields(line).len(), HEADER.split(',').count(), "{line}");
        }
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn fixed_decimals() {
        assert_eq!(secs(0), "0.000");
        assert_eq!(secs(120_499_999), "0.120");
        assert_eq!(secs(120_500_000), "0.121");
        assert_eq!(ms(12_345_500), "12.346");
    }
}
