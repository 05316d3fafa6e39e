//! Helpers shared by the report formats.

use models::{ClientReport, RunResult};
use sim_core::{SimDuration, SimTime, StopReason};

/// Rounds `x` to `decimals` decimal places (half away from zero).
/// The longest queue seen over its capacity: `185/2000`, or `185/∞` for an unbounded queue.
pub(crate) fn queue_fill(s: &models::ServiceReport) -> String {
    if s.queue_per_replica == models::config::ServiceConfig::UNBOUNDED {
        format!("{}/∞", s.queue_max)
    } else {
        format!("{}/{}", s.queue_max, s.queue_capacity)
    }
}

pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    (x * 10f64.powi(decimals)).round() / 10f64.powi(decimals)
}

/// `x`, or 0 if it is NaN or infinite.
pub(crate) fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// Whether the run covered its whole duration: it reached its end (no event left, or the
/// scenario's duration). Any other stop is a limit (`max_events`, `limits.memory`,
/// `--max-wall`, or one added later), so its figures are partial.
pub fn is_complete(result: &RunResult) -> bool {
    result.outcome.stop.is_complete()
}

/// The warning for a run a limit stopped before its end, without the scenario's name: which
/// limit, after how many events, at what simulated time, and what to raise; `None` for a
/// complete run. The binary prints it as `warning: FILE: NOTE`.
pub fn partial_note(result: &RunResult) -> Option<String> {
    let outcome = &result.outcome;
    let (limit, raise) = match outcome.stop {
        StopReason::QueueEmpty | StopReason::EndTime => return None,
        StopReason::MaxEvents => ("the event limit", "raise limits.max_events or --max-events"),
        StopReason::MemoryLimit => (
            "the memory limit",
            "the pending events and requests in flight outgrew limits.memory; look for a load \
             the services cannot serve, or raise it with --set limits.memory=8GiB",
        ),
        StopReason::Interrupted => ("the wall-clock limit", "raise --max-wall"),
    };
    Some(format!(
        "stopped at {limit} ({} events) at simulated time {}; the report is partial ({raise})",
        outcome.events, outcome.now
    ))
}

/// Why a partial run stopped, and when: "stopped at the event limit (N events) at T".
pub(crate) fn partial_reason(result: &RunResult) -> String {
    let outcome = &result.outcome;
    match outcome.stop {
        StopReason::MemoryLimit => format!(
            "stopped at the memory limit (limits.memory) after {} events at {}",
            outcome.events, outcome.now
        ),
        StopReason::Interrupted => format!(
            "stopped by the wall-clock limit (--max-wall) after {} events at {}",
            outcome.events, outcome.now
        ),
        StopReason::MaxEvents | StopReason::QueueEmpty | StopReason::EndTime => format!(
            "stopped at the event limit ({} events) at {}",
            result.max_events, outcome.now
        ),
    }
}

/// The span utilisation is measured over: the configured duration, or the simulated time
/// actually covered if the run stopped before the end and covered some time.
/// One sentence when the run was long enough for its time series to coarsen (see
/// `models::metrics::MAX_WINDOWS`), `None` otherwise.
pub(crate) fn coarsened_windows(result: &RunResult) -> Option<String> {
    (result.window != result.window_configured).then(|| {
        format!(
            "note: the time series keep at most {} windows, so windows of {} were merged pairwise \
             into windows of {}; a merged window's p50 and p99 are the larger of its halves' (an \
             upper bound)",
            models::metrics::MAX_WINDOWS,
            result.window_configured,
            result.window
        )
    })
}

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
/// The root causes some client's failures go back to, in `FailureCause::ALL` order: the
/// columns of the "why clients failed" tables (none when no client failed).
pub(crate) fn root_causes_shown(result: &RunResult) -> Vec<models::metrics::FailureCause> {
    models::metrics::FailureCause::ALL
        .into_iter()
        .filter(|&c| {
            result
                .clients
                .iter()
                .any(|client| client.failed_by_root_cause[c as usize] > 0)
        })
        .collect()
}

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

/// What the policies did to one edge or service, in words, for the reports. Only what
/// happened is listed.
pub(crate) struct PolicyFacts {
    /// `edge checkout -> payments`, `service payments`.
    pub subject: String,
    pub facts: Vec<String>,
}

/// The policy facts of a run: edges first, then services, in report order.
pub(crate) fn policy_facts(result: &RunResult) -> Vec<PolicyFacts> {
    use models::metrics::FailureCause as C;
    let mut all = Vec::new();
    let count = |facts: &mut Vec<String>, n: u64, what: &str| {
        if n > 0 {
            facts.push(format!("{n} {what}"));
        }
    };
    for (e, name) in result.edges.iter().zip(edge_names(&result.edges)) {
        let mut facts = Vec::new();
        let replicated = e.breakers.len() > 1;
        for b in &e.breakers {
            const SHOWN: usize = 6;
            let steps: Vec<String> = b
                .transitions
                .iter()
                .take(SHOWN)
                .map(|t| format!("{} at {:.1} s", t.to.name(), t.at.as_secs_f64()))
                .collect();
            let whose = if replicated {
                format!(" (caller replica {})", b.replica)
            } else {
                String::new()
            };
            let mut line = format!(
                "{} breaker{whose}: {} transitions",
                b.flavor,
                b.transitions.len()
            );
            if !steps.is_empty() {
                line.push_str(&format!(" ({}", steps.join(", ")));
                if b.transitions.len() > SHOWN {
                    line.push_str(&format!(", and {} more", b.transitions.len() - SHOWN));
                }
                line.push(')');
            }
            line.push_str(&format!(", {} calls not permitted", b.not_permitted));
            facts.push(line);
        }
        count(
            &mut facts,
            e.stats.failed_by(C::BulkheadFull),
            "attempts refused by the bulkhead",
        );
        count(
            &mut facts,
            e.calls.failed_by(C::BulkheadFull),
            "calls refused by the bulkhead",
        );
        count(
            &mut facts,
            e.stats.failed_by(C::Throttled),
            "attempts throttled by the client",
        );
        count(
            &mut facts,
            e.retries_refused,
            "retries refused by the retry budget",
        );
        count(&mut facts, e.hedges, "hedged copies");
        count(
            &mut facts,
            e.stats.cancelled,
            "copies abandoned after another answered",
        );
        count(&mut facts, e.fallbacks, "fallback answers (degraded)");
        count(
            &mut facts,
            e.lost_messages,
            "messages lost in the network or a partition",
        );
        count(
            &mut facts,
            e.ejections,
            "replicas ejected by outlier detection",
        );
        if !facts.is_empty() {
            all.push(PolicyFacts {
                subject: format!("edge {name}"),
                facts,
            });
        }
    }
    for s in &result.services {
        let mut facts = Vec::new();
        count(
            &mut facts,
            s.stats.failed_by(C::RateLimited),
            "requests rate limited",
        );
        count(&mut facts, s.stats.failed_by(C::Shed), "requests shed");
        count(
            &mut facts,
            s.expired,
            "queued requests dropped after their deadline",
        );
        count(
            &mut facts,
            s.reneged.unwrap_or(0),
            "queued requests left when their caller gave up",
        );
        count(
            &mut facts,
            s.backpressured.unwrap_or(0),
            "requests waited for a place in the full queue",
        );
        count(
            &mut facts,
            s.duplicate_side_effects,
            "duplicate side effects",
        );
        count(
            &mut facts,
            s.deduplicated,
            "repeats answered from idempotency keys",
        );
        count(&mut facts, s.stats.failed_by(C::Conflict), "conflicts");
        if s.writes > 0 {
            facts.push(format!(
                "{} conditional writes, {} of them conflicts",
                s.writes, s.write_conflicts
            ));
        }
        if let (Some(min), Some(last)) = (
            s.concurrency_limit.iter().map(|&(_, l)| l).min(),
            s.concurrency_limit.last(),
        ) {
            facts.push(format!(
                "concurrency limit changed {} times, lowest {min}, last {}",
                s.concurrency_limit.len(),
                last.1
            ));
        }
        count(&mut facts, s.stats.degraded, "degraded answers");
        count(
            &mut facts,
            s.black_holed,
            "requests swallowed by a black hole",
        );
        let crashes: u64 = s.replicas.iter().map(|i| i.crashes).sum();
        if crashes > 0 {
            let down: f64 = s.replicas.iter().map(|i| i.down.as_secs_f64()).sum();
            facts.push(format!(
                "{crashes} replica crashes, {down:.1} s of replica downtime in all"
            ));
        }
        if !facts.is_empty() {
            all.push(PolicyFacts {
                subject: format!("service {}", s.name),
                facts,
            });
        }
    }
    all
}

/// The failure causes a per-service table shows: the four a service can see always, the
/// policies' causes when any service had them, so a row's failures add up whatever the cause.
pub(crate) fn failure_causes_shown(result: &RunResult) -> Vec<models::metrics::FailureCause> {
    use models::metrics::FailureCause;
    FailureCause::ALL
        .into_iter()
        .filter(|&c| {
            c <= FailureCause::Dependency
                || result.services.iter().any(|s| s.stats.failed_by(c) > 0)
        })
        .collect()
}

/// Whether any service had requests its caller cancelled (quorum copies no longer needed, hedges
/// that lost the race): then the failure tables show them, so requests = ok + failed +
/// cancelled + in flight can be read off a row.
pub(crate) fn any_cancelled(result: &RunResult) -> bool {
    result.services.iter().any(|s| s.stats.cancelled > 0)
}

/// Every edge's name, unique within the run, in the order of `result.edges`: `from -> to`; when
/// a caller calls one callee from two endpoints, `from (endpoint) -> to`; when one plan calls it
/// twice, also `#1`, `#2` in plan order. Every format names edges this way, so a JSON key, a CSV
/// series and a text line of one edge agree, and none hides another.
pub fn edge_names(edges: &[models::EdgeReport]) -> Vec<String> {
    fn occurrences(names: &[String]) -> std::collections::BTreeMap<&str, usize> {
        let mut seen = std::collections::BTreeMap::new();
        for n in names {
            *seen.entry(n.as_str()).or_insert(0) += 1;
        }
        seen
    }
    let plain: Vec<String> = edges
        .iter()
        .map(|e| format!("{} -> {}", e.from, e.to))
        .collect();
    let plain_seen = occurrences(&plain);
    let with_endpoint: Vec<String> = edges
        .iter()
        .zip(&plain)
        .map(|(e, name)| match &e.from_endpoint {
            Some(endpoint) if plain_seen[name.as_str()] > 1 => {
                format!("{} ({endpoint}) -> {}", e.from, e.to)
            }
            _ => name.clone(),
        })
        .collect();
    let seen = occurrences(&with_endpoint);
    let mut numbered = std::collections::BTreeMap::<&str, usize>::new();
    with_endpoint
        .iter()
        .map(|name| {
            if seen[name.as_str()] == 1 {
                return name.clone();
            }
            let k = numbered.entry(name.as_str()).or_insert(0);
            *k += 1;
            format!("{name} #{k}")
        })
        .collect()
}
