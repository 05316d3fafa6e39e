//! The terminal summary of a run.

use std::fmt::Write as _;

use models::RunResult;
use models::metrics::{FailureCause, Histogram};
use sim_core::SimDuration;

use crate::common::{amplification, finite, fmt_ms, is_complete, percent, utilisation_window};

/// A plain-text summary for a terminal: a header, a clients table, a services table, the
/// services' failures by cause and the call edges. No colour, fixed precision, columns aligned
/// to their widest cell.
pub fn text(result: &RunResult) -> String {
    let outcome = &result.outcome;
    let window = utilisation_window(result);
    let mut out = String::new();

    let _ = writeln!(
        out,
        "faultline {} · scenario {} · seed {}",
        env!("CARGO_PKG_VERSION"),
        result.scenario,
        result.seed
    );
    let _ = writeln!(
        out,
        "simulated {} in {} events · fingerprint {}",
        outcome.now, outcome.events, outcome.fingerprint
    );
    if !is_complete(result) {
        let _ = writeln!(
            out,
            "warning: stopped at the event limit ({} events) at {}; this report is partial",
            result.max_events, outcome.now
        );
    }

    out.push('\n');
    let mut clients = Table::new([
        "clients", "requests", "ok", "failed", "avail %", "p50", "p99", "p999", "mean", "retries",
        "ampl",
    ]);
    for c in &result.clients {
        let s = &c.stats;
        let h = &s.latency;
        clients.row([
            c.name.clone(),
            s.requests.to_string(),
            s.ok.to_string(),
            s.failed().to_string(),
            percent(s.availability()),
            latency(h, h.quantile(0.5)),
            latency(h, h.quantile(0.99)),
            latency(h, h.quantile(0.999)),
            mean_latency(h),
            c.retries.to_string(),
            format!("{:.3}", finite(amplification(c))),
        ]);
    }
    clients.render(&mut out);

    out.push('\n');
    let mut services = Table::new([
        "services", "requests", "ok", "failed", "avail %", "p50", "p99", "max", "util %", "queue",
        "wasted",
    ]);
    for s in &result.services {
        let st = &s.stats;
        let h = &st.latency;
        services.row([
            s.name.clone(),
            st.requests.to_string(),
            st.ok.to_string(),
            st.failed().to_string(),
            percent(st.availability()),
            latency(h, h.quantile(0.5)),
            latency(h, h.quantile(0.99)),
            latency(h, h.max()),
            percent(s.utilisation(window)),
            format!("{}/{}", s.queue_max, s.queue_capacity),
            s.wasted_work.to_string(),
        ]);
    }
    services.render(&mut out);

    out.push('\n');
    let mut failures = Table::new([
        "failures",
        FailureCause::ALL[0].as_str(),
        FailureCause::ALL[1].as_str(),
        FailureCause::ALL[2].as_str(),
        FailureCause::ALL[3].as_str(),
        "in flight",
    ]);
    for s in &result.services {
        let st = &s.stats;
        failures.row([
            s.name.clone(),
            st.failed_by(FailureCause::ALL[0]).to_string(),
            st.failed_by(FailureCause::ALL[1]).to_string(),
            st.failed_by(FailureCause::ALL[2]).to_string(),
            st.failed_by(FailureCause::ALL[3]).to_string(),
            st.in_flight().to_string(),
        ]);
    }
    failures.render(&mut out);

    out.push('\n');
    if result.edges.is_empty() {
        out.push_str("edges: none\n");
    } else {
        out.push_str("edges:\n");
        for e in &result.edges {
            let _ = writeln!(
                out,
                "  {} -> {}: attempts {}, retries {}, late replies {}",
                e.from, e.to, e.attempts, e.retries, e.late_replies
            );
        }
    }
    out
}

/// A latency of `h`, or `-` if it recorded nothing.
fn latency(h: &Histogram, d: SimDuration) -> String {
    if h.count() == 0 {
        "-".into()
    } else {
        fmt_ms(d.as_nanos())
    }
}

fn mean_latency(h: &Histogram) -> String {
    if h.count() == 0 {
        "-".into()
    } else {
        // `as` saturates and maps NaN to 0; the mean is finite and non-negative anyway.
        fmt_ms(finite(h.mean_ns()).round() as u64)
    }
}

/// A text table: the first column left-aligned, the others right-aligned, each as wide as its
/// widest cell, separated by two spaces.
struct Table<const N: usize> {
    header: [String; N],
    rows: Vec<[String; N]>,
}

impl<const N: usize> Table<N> {
    fn new(header: [&str; N]) -> Self {
        Table {
            header: header.map(str::to_owned),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let mut widths = [0usize; N];
        for cells in std::iter::once(&self.header).chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(cells) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for cells in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, &w)) in cells.iter().zip(&widths).enumerate() {
                if i == 0 {
                    let _ = write!(line, "{cell:<w$}");
                } else {
                    let _ = write!(line, "  {cell:>w$}");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}
