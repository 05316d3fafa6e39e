//! The sentences "what happened" is told in (a fault's head, a cascade step, the recovery,
//! the verdict, crash episodes, the blast radius), one place for the text, Markdown and HTML
//! reports.

use std::fmt::Write as _;

use crate::analysis::{Analysis, CascadeStep, Episode, FaultImpact, Verdict};

/// Simulated seconds with at least one decimal and at most three (rounded to the nearest
/// millisecond with integer arithmetic): `120.0 s`, `0.25 s`.
pub(crate) fn seconds(ns: u64) -> String {
    let ms = ns / 1_000_000 + u64::from(ns % 1_000_000 >= 500_000);
    let digits = format!("{:03}", ms % 1_000);
    let frac = digits.trim_end_matches('0');
    let frac = if frac.is_empty() { "0" } else { frac };
    format!("{}.{frac} s", ms / 1_000)
}

/// The start of a fault's chain: `payments latency x10 at 120.0 s`.
pub(crate) fn fault_head(f: &FaultImpact, text: &dyn Fn(&str) -> String) -> String {
    format!("{} at {}", text(&f.description), seconds(f.from.as_nanos()))
}

/// One step of a cascade: `checkout timeouts from 120.0 s (via checkout -> payments)`, with
/// `; also ship errors 0.3` when other faults are blamed for it too. Names and the other
/// faults' descriptions go through `name` and the edge through `edge`, so that Markdown can
/// escape them.
pub(crate) fn step_phrase(
    step: &CascadeStep,
    name: &dyn Fn(&str) -> String,
    edge: &dyn Fn(&str) -> String,
) -> String {
    let mut s = format!(
        "{} {} from {}",
        name(&step.name),
        step.symptom.phrase(),
        seconds(step.from.as_nanos())
    );
    let mut notes = Vec::new();
    if let Some(via) = &step.via {
        notes.push(format!("via {}", edge(via)));
    }
    if !step.shared_with.is_empty() {
        let others: Vec<String> = step.shared_with.iter().map(|d| name(d)).collect();
        notes.push(format!("also {}", others.join(", ")));
    }
    if !notes.is_empty() {
        let _ = write!(s, " ({})", notes.join("; "));
    }
    s
}

/// The time to recover: `12.0 s after the fault ended at 180.0 s`, `did not recover`, or why
/// it cannot be judged.
pub(crate) fn recovery_phrase(f: &FaultImpact) -> String {
    match (&f.verdict, f.time_to_recover) {
        (Verdict::FaultStillActive, _) => {
            "not judged, the fault lasted until the end of the run".to_owned()
        }
        (_, Some(d)) => format!(
            "{} after the fault ended at {}",
            seconds(d.as_nanos()),
            seconds(f.to.as_nanos())
        ),
        (_, None) => format!(
            "did not recover (the fault ended at {})",
            seconds(f.to.as_nanos())
        ),
    }
}

/// The verdict's words and what follows them: (`recovered`, ` at 192.0 s`).
pub(crate) fn verdict_phrase(v: &Verdict) -> (&'static str, String) {
    let rest = match v {
        Verdict::Recovered { at } => format!(" at {}", seconds(at.as_nanos())),
        _ => String::new(),
    };
    (v.as_str(), rest)
}

/// The most crash episodes with an impact listed one by one under a fault; the summary counts
/// them all.
pub(crate) const EPISODES_LISTED: usize = 5;

/// The crash episodes of a chaos or leak fault in one line, or `None` for other faults:
/// `crash episodes: 6, 2 with impact: 2 recovered (at most 1.0 s after the restart)`.
pub(crate) fn episodes_summary(f: &FaultImpact) -> Option<String> {
    if f.episodes.is_empty() {
        return None;
    }
    let count = |word: &str| {
        f.episodes
            .iter()
            .filter(|e| e.verdict.as_str() == word)
            .count()
    };
    let hit = f.episodes.len() - count("no impact");
    let mut s = format!("crash episodes: {}, {hit} with impact", f.episodes.len());
    let mut parts = Vec::new();
    let recovered = count("recovered");
    if recovered > 0 {
        let worst = f.episodes.iter().filter_map(|e| match e.verdict {
            Verdict::Recovered { .. } => e.time_to_recover,
            _ => None,
        });
        let worst = worst.max().unwrap_or_default();
        parts.push(format!(
            "{recovered} recovered (at most {} after the restart)",
            seconds(worst.as_nanos())
        ));
    }
    for (word, phrase) in [
        ("did not recover", "did not recover"),
        ("fault still active", "still down at the end"),
    ] {
        let n = count(word);
        if n > 0 {
            parts.push(format!("{n} {phrase}"));
        }
    }
    if !parts.is_empty() {
        let _ = write!(s, ": {}", parts.join(", "));
    }
    Some(s)
}

/// One crash episode: `store/1 down 30.2 s to 33.1 s: recovered 1.0 s after the restart`.
/// Names go through `name`.
pub(crate) fn episode_phrase(e: &Episode, name: &dyn Fn(&str) -> String) -> String {
    let replicas: Vec<String> = e.replicas.iter().map(|r| name(r)).collect();
    let mut s = format!(
        "{} down {}",
        replicas.join(", "),
        seconds(e.from.as_nanos())
    );
    match e.to {
        Some(to) => {
            let _ = write!(s, " to {}", seconds(to.as_nanos()));
        }
        None => s.push_str(" to the end"),
    }
    let _ = write!(s, ": {}", e.verdict.as_str());
    if let (Verdict::Recovered { .. }, Some(t)) = (&e.verdict, e.time_to_recover) {
        let _ = write!(s, " {} after the restart", seconds(t.as_nanos()));
    }
    s
}

/// What a crash episode hurt, with the other faults blamed for it too: `api, agents, batch;
/// also store errors 0.05`; `None` without impact. Names and descriptions go through `name`.
pub(crate) fn episode_hurt(e: &Episode, name: &dyn Fn(&str) -> String) -> Option<String> {
    if e.cascade.is_empty() {
        return None;
    }
    let hurt: Vec<String> = e.cascade.iter().map(|c| name(&c.name)).collect();
    let mut also: Vec<String> = Vec::new();
    for d in e.cascade.iter().flat_map(|c| &c.shared_with) {
        if !also.contains(&name(d)) {
            also.push(name(d));
        }
    }
    let mut s = hurt.join(", ");
    if !also.is_empty() {
        let _ = write!(s, "; also {}", also.join(", "));
    }
    Some(s)
}

/// The crash episodes with an impact that are listed one by one: the first
/// [`EPISODES_LISTED`], and how many more there are.
pub(crate) fn episodes_listed(f: &FaultImpact) -> (Vec<&Episode>, usize) {
    let hit: Vec<&Episode> = f
        .episodes
        .iter()
        .filter(|e| e.verdict != Verdict::NoImpact)
        .collect();
    let more = hit.len().saturating_sub(EPISODES_LISTED);
    (hit.into_iter().take(EPISODES_LISTED).collect(), more)
}

/// The services and clients hurt by any fault, or `none`.
pub(crate) fn blast_radius(analysis: &Analysis, name: &dyn Fn(&str) -> String) -> String {
    if analysis.blast_radius.is_empty() {
        "none".to_owned()
    } else {
        let names: Vec<String> = analysis.blast_radius.iter().map(|n| name(n)).collect();
        names.join(", ")
    }
}
