//! Helpers shared by the report formats.

use models::{ClientReport, RunResult};
use sim_core::{SimDuration, SimTime, StopReason};

/// Rounds `x` to `decimals` decimal places (half away from zero).
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    (x * 10f64.powi(decimals)).round() / 10f64.powi(decimals)
}

/// `x`, or 0 if it is NaN or infinite.
pub(crate) fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// Whether the run covered its whole duration (it did not hit the event limit).
pub(crate) fn is_complete(result: &RunResult) -> bool {
    result.outcome.stop != StopReason::MaxEvents
}

/// The span utilisation is measured over: the configured duration, or the simulated time
/// actually covered if the run stopped before the end and covered some time.
pub(crate) fn utilisation_window(result: &RunResult) -> SimDuration {
    let covered = result.outcome.now.saturating_since(SimTime::ZERO);
    if covered > SimDuration::ZERO && covered < result.duration {
        covered
    } else {
        result.duration
    }
}

/// `part / whole`, or 0 when `whole` is 0.
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Attempts per logical request; 0 when there were no requests.
pub(crate) fn amplification(c: &ClientReport) -> f64 {
    ratio(c.attempts, c.stats.requests)
}

/// Attempts arriving at `s` per logical request entering the system from all clients.
pub(crate) fn service_amplification(result: &RunResult, s: &models::ServiceReport) -> f64 {
    ratio(
        s.stats.requests,
        result.clients.iter().map(|c| c.stats.requests).sum(),
    )
}

/// A duration in milliseconds with three decimals, rounded to the nearest microsecond with
/// integer arithmetic: `12.345ms`.
pub(crate) fn fmt_ms(ns: u64) -> String {
    let us = ns / 1_000 + u64::from(ns % 1_000 >= 500);
    format!("{}.{:03}ms", us / 1_000, us % 1_000)
}

/// A ratio as a percentage with three decimals: `99.313`.
pub(crate) fn percent(ratio: f64) -> String {
    format!("{:.3}", finite(ratio * 100.0) + 0.0)
}

/// `s` with the characters HTML and XML read as markup escaped, and the control characters
/// XML 1.0 cannot carry replaced by `?`.
pub(crate) fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}
