//! The causal story of one logical request, in words.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use models::metrics::FailureCause;
use models::trace::NONE;
use models::{Outcome, TraceKind, TraceNames, TraceRecord};
use sim_core::{SimDuration, SimTime};

use super::format::{factor, seconds};

/// What the story remembers of an attempt.
#[derive(Clone, Copy, Default)]
struct AttemptNote {
    depth: usize,
    number: u32,
    sent: SimTime,
    delivered: Option<SimTime>,
    queued: Option<SimTime>,
    work: Option<TraceRecord>,
    released: Option<SimTime>,
}

fn outcome_words(outcome: Option<Outcome>) -> String {
    match outcome {
        None => "no outcome".into(),
        Some(Outcome::Ok) => "ok".into(),
        Some(Outcome::Degraded) => "degraded (a fallback answered)".into(),
        Some(Outcome::Failed(FailureCause::Dependency)) => {
            "failed (dependency: a downstream call failed)".into()
        }
        Some(Outcome::Failed(FailureCause::Rejected)) => "failed (rejected: queue full)".into(),
        Some(Outcome::Failed(cause)) => format!("failed ({})", cause.as_str()),
    }
}

/// `1 attempt`, `3 attempts`.
fn attempts_words(n: u32) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

/// Whether a record tells the context of a request rather than its own steps: a fault window,
/// a crash or restart, a breaker transition (which may be judging another request).
fn is_context(kind: TraceKind) -> bool {
    matches!(
        kind,
        TraceKind::FaultStart
            | TraceKind::FaultEnd
            | TraceKind::ReplicaCrash
            | TraceKind::ReplicaRestart
            | TraceKind::BreakerTransition
    )
}

/// Whether [`explain`] of `request` may need record `r`: the request's own records and every
/// record of its possible context (fault windows, crashes, restarts, breaker transitions).
/// A caller that streams a run's records keeps those that pass and explains them afterwards.
pub fn explain_needs(r: &TraceRecord, request: u64) -> bool {
    r.request == request || is_context(r.kind)
}

/// The records the story of `request` tells, in their order: its own, and its context while it
/// lasts (from its first record to its last): the faults on when it starts and the fault windows
/// that begin or end, the crashes and restarts at the services it reaches, and the breaker
/// transitions on the edges it uses.
fn story_records(records: &[TraceRecord], request: u64) -> Vec<&TraceRecord> {
    let mut mine = records.iter().filter(|r| r.request == request).peekable();
    let Some(start) = mine.peek().map(|r| r.time) else {
        return Vec::new();
    };
    let mut end = start;
    let mut services = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for r in mine {
        end = r.time;
        services.insert(r.service);
        edges.insert(r.edge);
    }
    let mut on_at_start = BTreeSet::new();
    for r in records.iter().take_while(|r| r.time < start) {
        match r.kind {
            TraceKind::FaultStart => on_at_start.insert(r.fault),
            TraceKind::FaultEnd => on_at_start.remove(&r.fault),
            _ => false,
        };
    }
    records
        .iter()
        .filter(|r| {
            if r.request == request {
                return true;
            }
            let during = start <= r.time && r.time <= end;
            match r.kind {
                TraceKind::FaultStart => {
                    during || (r.time < start && on_at_start.contains(&r.fault))
                }
                TraceKind::FaultEnd => during,
                TraceKind::ReplicaCrash | TraceKind::ReplicaRestart => {
                    during && services.contains(&r.service)
                }
                TraceKind::BreakerTransition => during && edges.contains(&r.edge),
                _ => false,
            }
        })
        .collect()
}

/// What refused a shed attempt, in words.
fn shed_by_words(number: u32) -> &'static str {
    match number {
        0 => "the adaptive concurrency limit",
        1 => "the queue-length limit",
        2 => "CoDel",
        _ => "load shedding",
    }
}

/// The line of a record that tells the context of a request.
fn context_line(r: &TraceRecord, names: &TraceNames) -> String {
    let service = names.service(r.service);
    match r.kind {
        TraceKind::FaultStart => format!("fault {} begins", names.fault(r.fault)),
        TraceKind::FaultEnd => format!("fault {} ends", names.fault(r.fault)),
        TraceKind::ReplicaCrash => {
            let cause = if r.fault == NONE {
                "a leak used it up".to_string()
            } else {
                format!("fault {}", names.fault(r.fault))
            };
            format!(
                "{service}: replica {} crashes ({cause}); its queue and the work in progress \
                 are lost",
                r.number
            )
        }
        TraceKind::ReplicaRestart => format!("{service}: replica {} restarts", r.number),
        _ => {
            let (from, to) = names.edge(r.edge);
            let from = from.strip_prefix("client:").unwrap_or(from);
            let (was, now) = r.breaker.map_or(("?", "?"), |(a, b)| (a.name(), b.name()));
            format!("{from} -> {to}: circuit breaker {was} -> {now}")
        }
    }
}

/// The time column of a story line: the offset from the request's start, `+   12.345ms`, or
/// `-` before it (a fault that was already on).
fn offset_words(time: SimTime, start: SimTime) -> String {
    let (sign, ns) = if time >= start {
        ('+', (time - start).as_nanos())
    } else {
        ('-', (start - time).as_nanos())
    };
    format!("{sign}{:>12}", format!("{}ms", millis_short(ns)))
}

/// The causal story of logical request `request`: each attempt and hop, queue wait, work,
/// downstream call, timeout, deadline, retry with its backoff, hedged copy, shed, fallback,
/// late reply, and the outcome, in time order, indented by hop. Work slowed by a latency fault
/// names the fault. Around these steps, unindented, its context: the faults on when it starts
/// (at their start, before its first line) and those beginning or ending while it lasts, the
/// crashes and restarts of replicas of the services it reaches, and the breaker transitions on
/// the edges it uses. `records` may hold other requests' records too (see [`explain_needs`]).
pub fn explain(records: &[TraceRecord], request: u64, names: &TraceNames) -> String {
    let story = story_records(records, request);
    let mine: Vec<&TraceRecord> = story
        .iter()
        .copied()
        .filter(|r| r.request == request)
        .collect();
    let mut out = String::new();
    let Some(first) = mine.first() else {
        let _ = writeln!(out, "request {request} does not appear in the trace");
        return out;
    };
    let start = first.time;
    let mut notes: BTreeMap<u64, AttemptNote> = BTreeMap::new();
    let mut slowed_work = 0u32;
    let mut faults_seen = BTreeSet::new();
    let mut finished: Option<&TraceRecord> = None;
    let mut over = false;
    if first.kind == TraceKind::RequestStart && first.client == models::trace::NONE {
        let (from, to) = names.edge(first.edge);
        let _ = writeln!(
            out,
            "request {request}: a message {from} delivered to {to}, starting at {}s",
            seconds(start.as_nanos())
        );
    } else if first.kind == TraceKind::RequestStart {
        let (_, to) = names.edge(first.edge);
        let _ = writeln!(
            out,
            "request {request}: from client {} to {to}, starting at {}s",
            names.client(first.client),
            seconds(start.as_nanos())
        );
    } else {
        let _ = writeln!(
            out,
            "request {request}: its start is not in the trace; first record at {}s",
            seconds(start.as_nanos())
        );
    }
    out.push('\n');
    for (i, r) in story.iter().enumerate() {
        let depth_of = |attempt: u64| notes.get(&attempt).map_or(0, |n| n.depth);
        let (from, to) = names.edge(r.edge);
        let from = from.strip_prefix("client:").unwrap_or(from);
        let service = names.service(r.service);
        let note = notes.get(&r.attempt).copied().unwrap_or_default();
        let (depth, text) = match r.kind {
            TraceKind::RequestStart => continue,
            TraceKind::AttemptSent => {
                let depth = if r.parent == 0 {
                    0
                } else {
                    depth_of(r.parent) + 1
                };
                notes.insert(
                    r.attempt,
                    AttemptNote {
                        depth,
                        number: r.number,
                        sent: r.time,
                        ..AttemptNote::default()
                    },
                );
                let what = if r.number == 1 {
                    "attempt 1".to_string()
                } else {
                    format!("attempt {} (retry {})", r.number, r.number - 1)
                };
                (
                    depth,
                    format!("{from} -> {to}: {what} sent (#{})", r.attempt),
                )
            }
            TraceKind::Delivered => {
                if let Some(n) = notes.get_mut(&r.attempt) {
                    n.delivered = Some(r.time);
                }
                let network = r.time.saturating_since(note.sent);
                (
                    note.depth,
                    format!(
                        "{service}: #{} arrives after {network} on the network",
                        r.attempt
                    ),
                )
            }
            TraceKind::Queued => {
                if let Some(n) = notes.get_mut(&r.attempt) {
                    n.queued = Some(r.time);
                }
                let workers = names.workers.get(r.service as usize).copied().unwrap_or(0);
                (
                    note.depth,
                    format!(
                        "{service}: all {workers} workers busy; #{} waits in the queue \
                         (position {})",
                        r.attempt, r.number
                    ),
                )
            }
            TraceKind::Rejected => (
                note.depth,
                format!("{service}: queue full; #{} is rejected", r.attempt),
            ),
            TraceKind::Blocked => (
                note.depth,
                format!(
                    "{service}: queue full; #{} waits for a place ({} waiting)",
                    r.attempt, r.number
                ),
            ),
            TraceKind::Reneged => (
                note.depth,
                format!(
                    "{service}: #{} leaves the queue: its caller gave up",
                    r.attempt
                ),
            ),
            TraceKind::WorkStart => {
                if let Some(n) = notes.get_mut(&r.attempt) {
                    n.work = Some(**r);
                }
                let waited = match note.queued {
                    Some(q) => format!("after {} in the queue", r.time.saturating_since(q)),
                    None => "at once".to_string(),
                };
                (
                    note.depth,
                    format!(
                        "{service}: worker {service}/{} starts #{} {waited}",
                        r.worker, r.attempt
                    ),
                )
            }
            TraceKind::WorkDone => {
                let (took, slowed) = match note.work {
                    Some(w) => {
                        let slowed = if w.fault != NONE {
                            slowed_work += 1;
                            faults_seen.insert(w.fault);
                            format!(
                                " (slowed x{} by fault {})",
                                factor(w.slowed_by),
                                names.fault(w.fault)
                            )
                        } else {
                            String::new()
                        };
                        (r.time.saturating_since(w.time), slowed)
                    }
                    None => (SimDuration::ZERO, String::new()),
                };
                let error = if r.outcome == Some(Outcome::Failed(FailureCause::Error)) {
                    "; it fails with an error"
                } else {
                    ""
                };
                (
                    note.depth,
                    format!("work at {service} took {took}{slowed}{error}"),
                )
            }
            TraceKind::WorkerReleased => {
                if let Some(n) = notes.get_mut(&r.attempt) {
                    n.released = Some(r.time);
                }
                // At the reply, the reply's line says it; otherwise an async service lets go of
                // its worker while it waits for its calls.
                let replies_now = story[i + 1..]
                    .iter()
                    .find(|next| next.request == request)
                    .is_some_and(|next| {
                        next.kind == TraceKind::ReplySent && next.attempt == r.attempt
                    });
                if replies_now {
                    continue;
                }
                (
                    note.depth,
                    format!(
                        "{service}: #{} gives worker {service}/{} back while it waits",
                        r.attempt, r.worker
                    ),
                )
            }
            TraceKind::CallStart => (
                depth_of(r.parent) + 1,
                format!(
                    "{from} -> {to}: call {} of #{} begins",
                    r.number + 1,
                    r.parent
                ),
            ),
            // The rejection's line said it.
            TraceKind::ReplySent if r.outcome == Some(Outcome::Failed(FailureCause::Rejected)) => {
                continue;
            }
            TraceKind::ReplySent => {
                let held = match (note.work, note.released) {
                    (Some(w), Some(released)) if released == r.time => {
                        format!(", after holding its worker for {}", r.time - w.time)
                    }
                    _ => String::new(),
                };
                (
                    note.depth,
                    format!(
                        "{service}: replies {} to #{}{held}",
                        outcome_words(r.outcome),
                        r.attempt
                    ),
                )
            }
            TraceKind::ReplyReceived => (
                note.depth,
                format!(
                    "{from} <- {to}: reply to attempt {} (#{}): {} after {}",
                    note.number,
                    r.attempt,
                    outcome_words(r.outcome),
                    r.duration
                ),
            ),
            TraceKind::LateReply => (
                note.depth,
                format!(
                    "{from} <- {to}: late reply to attempt {} (#{}): {}, ignored: the caller \
                     had given up on it",
                    note.number,
                    r.attempt,
                    outcome_words(r.outcome)
                ),
            ),
            TraceKind::Timeout => (
                note.depth,
                format!(
                    "{from} -> {to}: attempt {} (#{}) timed out after {}",
                    note.number, r.attempt, r.duration
                ),
            ),
            TraceKind::Deadline => (
                if r.parent == 0 {
                    0
                } else {
                    depth_of(r.parent) + 1
                },
                format!(
                    "{from} -> {to}: the call's deadline passed after {}; its attempts in \
                     flight fail with it",
                    r.duration
                ),
            ),
            TraceKind::HedgeCopy => (
                note.depth,
                format!(
                    "{from} -> {to}: hedged copy {} (#{}) sent",
                    r.number, r.attempt
                ),
            ),
            TraceKind::Fallback => (
                if r.parent == 0 {
                    0
                } else {
                    depth_of(r.parent) + 1
                },
                format!("{from} -> {to}: the call failed; its fallback answered (degraded)"),
            ),
            TraceKind::Shed => (
                note.depth,
                format!(
                    "{service}: attempt {} (#{}) shed by {}",
                    note.number,
                    r.attempt,
                    shed_by_words(r.number)
                ),
            ),
            TraceKind::BreakerTransition
            | TraceKind::ReplicaCrash
            | TraceKind::ReplicaRestart
            | TraceKind::FaultStart
            | TraceKind::FaultEnd => (0, context_line(r, names)),
            TraceKind::RetryScheduled => (
                note.depth,
                format!(
                    "{from} -> {to}: attempt {} {}; retry (attempt {}) after a backoff of {}",
                    note.number,
                    outcome_words(r.outcome),
                    r.number,
                    r.duration
                ),
            ),
            TraceKind::CallFinished => (
                depth_of(r.parent) + 1,
                format!(
                    "{from} -> {to}: call {} after {}",
                    outcome_words(r.outcome),
                    attempts_words(r.number)
                ),
            ),
            TraceKind::RequestFinished => {
                finished = Some(r);
                (
                    0,
                    format!(
                        "request {request} finished: {} after {} ({} from the client)",
                        outcome_words(r.outcome),
                        r.duration,
                        attempts_words(r.number)
                    ),
                )
            }
        };
        if let Some(end) = finished
            && end.time < r.time
            && !over
        {
            over = true;
            out.push_str("    (the request is over; what follows is work nobody waits for)\n");
        }
        let _ = writeln!(
            out,
            "{:>16}s  {}  {}{}",
            seconds(r.time.as_nanos()),
            offset_words(r.time, start),
            "  ".repeat(depth),
            text
        );
    }
    out.push('\n');
    match finished {
        Some(r) => {
            let _ = writeln!(
                out,
                "outcome: {} after {}",
                outcome_words(r.outcome),
                r.duration
            );
        }
        None => {
            let _ = writeln!(
                out,
                "outcome: still in flight when the trace ends ({}s)",
                seconds(mine.last().map_or(start, |r| r.time).as_nanos())
            );
        }
    }
    let attempts = notes.len();
    let timeouts = mine.iter().filter(|r| r.kind == TraceKind::Timeout).count();
    let retries = mine
        .iter()
        .filter(|r| r.kind == TraceKind::RetryScheduled)
        .count();
    let late = mine
        .iter()
        .filter(|r| r.kind == TraceKind::LateReply)
        .count();
    let _ = writeln!(
        out,
        "attempts on every hop: {attempts}; timeouts: {timeouts}; retries: {retries}; late \
         replies: {late}"
    );
    if !faults_seen.is_empty() {
        let faults: Vec<&str> = faults_seen.iter().map(|&f| names.fault(f)).collect();
        let _ = writeln!(
            out,
            "faults: {} slowed {slowed_work} of its work spans",
            faults.join(", ")
        );
    }
    context_summary(&story, request, names, &mut out);
    out
}

/// The last line of a story when it has a context: the faults on while the request lasted,
/// and how many crashes, restarts and breaker transitions happened around it.
fn context_summary(story: &[&TraceRecord], request: u64, names: &TraceNames, out: &mut String) {
    let context = || story.iter().filter(|r| is_context(r.kind));
    let faults: BTreeSet<u32> = context()
        .filter(|r| matches!(r.kind, TraceKind::FaultStart | TraceKind::FaultEnd))
        .map(|r| r.fault)
        .collect();
    let count = |kind: TraceKind| context().filter(|r| r.kind == kind).count();
    let (crashes, restarts) = (
        count(TraceKind::ReplicaCrash),
        count(TraceKind::ReplicaRestart),
    );
    let transitions = count(TraceKind::BreakerTransition);
    if faults.is_empty() && crashes + restarts + transitions == 0 {
        return;
    }
    let faults: Vec<&str> = faults.iter().map(|&f| names.fault(f)).collect();
    let faults = if faults.is_empty() {
        "none".to_string()
    } else {
        faults.join(", ")
    };
    let own = story
        .iter()
        .filter(|r| r.kind == TraceKind::BreakerTransition && r.request == request)
        .count();
    let judging = if own > 0 {
        format!(" ({own} while judging it)")
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "around it: faults on: {faults}; replica crashes: {crashes}; restarts: {restarts}; \
         breaker transitions: {transitions}{judging}"
    );
}

/// Milliseconds with three decimals: `1509.123`.
fn millis_short(ns: u64) -> String {
    let us = ns / 1_000;
    format!("{}.{:03}", us / 1_000, us % 1_000)
}
