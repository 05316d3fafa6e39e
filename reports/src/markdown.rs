//! The Markdown summary of a run, fit for a pull-request comment: what happened after each
//! fault, then GitHub tables of the clients, the services and the failures by cause.

use std::fmt::Write as _;

use models::RunResult;

use crate::analysis::{Analysis, Verdict};
use crate::common::{
    amplification, coarsened_windows, finite, is_complete, partial_reason, percent,
    utilisation_window,
};
use crate::text::{
    blast_radius, fault_head, latency, outcome_cells, recovery_phrase, seconds, step_phrase,
    verdict_phrase,
};

/// A Markdown summary fit for a pull-request comment.
///
/// A heading naming the scenario and seed, the fingerprint, what happened after each fault (the
/// cascade as one arrow chain, time to detect and to recover, the verdict and what sustains a
/// failure that outlived its fault, the blast radius), then tables of the clients, the
/// services and the services' failures by cause, numeric columns right-aligned. The same run
/// always gives the same bytes; no line ends with a space and the text ends with one newline.
pub fn markdown(result: &RunResult, analysis: &Analysis) -> String {
    let outcome = &result.outcome;
    let window = utilisation_window(result);
    let mut out = String::new();

    let _ = writeln!(
        out,
        "### faultline · {} · seed {}",
        escape(&result.scenario),
        result.seed
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "Fingerprint `{}` · {} simulated · {} events",
        outcome.fingerprint, outcome.now, outcome.events
    );
    if !is_complete(result) {
        out.push('\n');
        out.push_str("> **Warning**\n");
        let reason = partial_reason(result);
        let _ = writeln!(
            out,
            "> S{}; this report is partial.",
            reason.strip_prefix('s').unwrap_or(&reason)
        );
    }
    if let Some(note) = coarsened_windows(result) {
        let _ = writeln!(out, "\n> N{}.", note.strip_prefix('n').unwrap_or(&note));
    }

    out.push_str("\n#### What happened\n\n");
    what_happened(&mut out, analysis);

    out.push_str("\n#### Clients\n\n");
    table_header(
        &mut out,
        &[
            "client",
            "requests",
            "ok",
            "failed",
            "availability %",
            "p50",
            "p99",
            "p999",
            "retries",
            "amplification",
        ],
    );
    for c in &result.clients {
        let s = &c.stats;
        let h = &s.latency;
        table_row(
            &mut out,
            &[
                escape(&c.name),
                s.requests.to_string(),
                s.ok.to_string(),
                s.failed().to_string(),
                percent(s.availability()),
                latency(h, h.quantile(0.5)),
                latency(h, h.quantile(0.99)),
                latency(h, h.quantile(0.999)),
                c.retries.to_string(),
                format!("{:.3}", finite(amplification(c))),
            ],
        );
    }

    out.push_str("\n#### Services\n\n");
    table_header(
        &mut out,
        &[
            "service",
            "requests",
            "ok",
            "failed",
            "availability %",
            "p50",
            "p99",
            "max",
            "utilisation %",
            "queue max/capacity",
            "wasted work",
        ],
    );
    for s in &result.services {
        let cells: Vec<String> = std::iter::once(escape(&s.name))
            .chain(outcome_cells(&s.stats))
            .chain([
                percent(s.utilisation(window)),
                crate::common::queue_fill(s),
                s.wasted_work.to_string(),
            ])
            .collect();
        table_row(&mut out, &cells);
        // A service with several endpoints: each one's share underneath, as its callers saw it.
        for e in &s.endpoints {
            let name = format!("↳ {}", escape(&format!("{}/{}", s.name, e.name)));
            let cells: Vec<String> = std::iter::once(name)
                .chain(outcome_cells(&e.stats))
                .chain([String::new(), String::new(), String::new()])
                .collect();
            table_row(&mut out, &cells);
        }
    }

    let roots = crate::common::root_causes_shown(result);
    if !roots.is_empty() {
        // Behind every `dependency`, the cause where the failure began down the chain.
        out.push_str("\n#### Why clients failed (root causes)\n\n");
        let mut header = vec!["client"];
        header.extend(roots.iter().map(|c| c.as_str()));
        table_header(&mut out, &header);
        for c in &result.clients {
            let mut cells = vec![escape(&c.name)];
            cells.extend(
                roots
                    .iter()
                    .map(|&r| c.failed_by_root_cause[r as usize].to_string()),
            );
            table_row(&mut out, &cells);
        }
    }

    out.push_str("\n#### Failures by cause\n\n");
    let shown = crate::common::failure_causes_shown(result);
    let cancelled = crate::common::any_cancelled(result);
    let mut header = vec!["service"];
    header.extend(shown.iter().map(|c| c.as_str()));
    header.extend(cancelled.then_some("cancelled"));
    header.push("in flight");
    table_header(&mut out, &header);
    for s in &result.services {
        let st = &s.stats;
        let mut cells = vec![escape(&s.name)];
        cells.extend(shown.iter().map(|&c| st.failed_by(c).to_string()));
        cells.extend(cancelled.then(|| st.cancelled.to_string()));
        cells.push(st.in_flight().to_string());
        table_row(&mut out, &cells);
    }

    let facts = crate::common::policy_facts(result);
    if !facts.is_empty() {
        out.push_str("\n#### Policies\n\n");
        for f in &facts {
            out.push_str(&format!(
                "- **{}**: {}\n",
                escape(&f.subject),
                escape(&f.facts.join("; "))
            ));
        }
    }
    crate::stores::markdown(&mut out, result);
    crate::sagas::markdown(&mut out, result);
    crate::twopc::markdown(&mut out, result);

    out.push_str(&crate::ops::markdown(result, escape));
    out.push_str(&crate::rollout::markdown(result, escape));
    crate::serverless::markdown(&mut out, result, escape);
    crate::broker::markdown(&mut out, result, escape);
    crate::topic::markdown(&mut out, result);
    crate::outbox::markdown(&mut out, result, escape);
    debug_assert!(out.ends_with('\n') && !out.ends_with("\n\n"));
    out
}

/// Per fault: the cascade as one arrow chain, then a list of the timings and the verdict; the
/// blast radius last.
fn what_happened(out: &mut String, analysis: &Analysis) {
    if analysis.faults.is_empty() {
        out.push_str("No faults scripted.\n");
        return;
    }
    let code = |s: &str| code_span(s);
    for f in &analysis.faults {
        let mut chain = vec![fault_head(f, &escape)];
        if f.cascade.is_empty() {
            chain.push("nothing became unhealthy".to_owned());
        }
        chain.extend(f.cascade.iter().map(|s| step_phrase(s, &escape, &code)));
        let _ = writeln!(out, "{}", chain.join(" → "));
        out.push('\n');
        if let Some(detect) = f.time_to_detect {
            let _ = writeln!(out, "- Time to detect: {}", seconds(detect.as_nanos()));
        }
        if !f.cascade.is_empty() {
            let _ = writeln!(out, "- Time to recover: {}", recovery_phrase(f));
        }
        let (word, rest) = verdict_phrase(&f.verdict);
        match &f.verdict {
            Verdict::DidNotRecover { sustained_by } if !sustained_by.is_empty() => {
                let _ = writeln!(out, "- Verdict: **{word}**{rest}, sustained by:");
                for cause in sustained_by {
                    let _ = writeln!(out, "  - {}", escape(cause));
                }
            }
            _ => {
                let _ = writeln!(out, "- Verdict: **{word}**{rest}");
            }
        }
        if let Some(summary) = crate::text::episodes_summary(f) {
            let _ = writeln!(out, "- {}", escape(&upper_first(&summary)));
            let (listed, more) = crate::text::episodes_listed(f);
            for e in listed {
                let phrase = crate::text::episode_phrase(e, &escape);
                match crate::text::episode_hurt(e, &escape) {
                    Some(hurt) => {
                        let _ = writeln!(out, "  - {phrase} ({hurt})");
                    }
                    None => {
                        let _ = writeln!(out, "  - {phrase}");
                    }
                }
            }
            if more > 0 {
                let _ = writeln!(out, "  - and {more} more with impact");
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "**Blast radius:** {}", blast_radius(analysis, &escape));
}

/// `crash episodes: ...` as `Crash episodes: ...`, the way the other list items start.
fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// `| a | b |` then `| --- | ---: |`: the first column left-aligned, the others right-aligned.
pub(crate) fn table_header(out: &mut String, header: &[&str]) {
    let cells: Vec<String> = header.iter().map(|h| escape(h)).collect();
    table_row(out, &cells);
    let align: Vec<String> = (0..header.len())
        .map(|i| if i == 0 { "---" } else { "---:" }.to_owned())
        .collect();
    table_row(out, &align);
}

pub(crate) fn table_row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// `s` with the characters Markdown would read as formatting, and `|` (a table cell
/// separator), escaped with a backslash. Line breaks become spaces so a name cannot break a
/// table row.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// `s` as an inline code span (used outside tables only); backticks inside get a longer fence.
fn code_span(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if longest > 0 { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use models::{RunOptions, World};

    use super::*;
    use crate::analysis::analyse;
    use crate::text::tests::{faulted_config, faulted_run};

    #[test]
    fn markdown_tells_what_happened_and_tabulates() {
        let r = faulted_run(1);
        let a = analyse(&r);
        let md = markdown(&r, &a);
        assert!(md.starts_with("### faultline · cascade · seed 1\n"), "{md}");
        assert!(
            md.contains(&format!(
                "Fingerprint `{}` · 6s simulated · ",
                r.outcome.fingerprint
            )),
            "{md}"
        );
        assert!(
            md.contains("\n#### What happened\n\nback latency x20 at 2.0 s → back "),
            "{md}"
        );
        assert!(md.contains(" (via `front -> back`)"), "{md}");
        assert!(md.contains("\n- Time to detect: "), "{md}");
        assert!(
            md.contains(&format!(
                "\n- Verdict: **{}**",
                a.faults[0].verdict.as_str()
            )),
            "{md}"
        );
        assert!(
            md.contains("\n**Blast radius:** back, front, users\n"),
            "{md}"
        );
        assert!(md.contains("\n| --- | ---: | ---: |"), "{md}");
        assert!(md.contains("\n| users | "), "{md}");
        assert!(md.contains("\n| back | "), "{md}");
        assert!(!md.contains("Warning"), "{md}");
        assert!(md.ends_with("|\n") && !md.ends_with("\n\n"), "{md}");
        for line in md.lines() {
            assert_eq!(line, line.trim_end(), "trailing space: {line:?}");
        }
        // Every table row has as many cells as its header.
        for table in md.split("\n\n").filter(|b| b.starts_with('|')) {
            let cells = |line: &str| line.matches(" | ").count();
            let header = table.lines().next().expect("a header");
            assert!(table.lines().all(|l| cells(l) == cells(header)), "{table}");
        }
        assert_eq!(md, markdown(&faulted_run(1), &analyse(&faulted_run(1))));
    }

    #[test]
    fn names_are_escaped_and_partial_runs_warned_about() {
        let mut config = faulted_config();
        config.services[0].name = "front|end".into();
        config.max_events = 500;
        let r = World::new(&config, 1).run(RunOptions::default());
        let md = markdown(&r, &analyse(&r));
        assert!(md.contains("\n| front\\|end | "), "{md}");
        assert!(!md.contains("front|end"), "{md}");
        assert!(
            md.contains("\n\n> **Warning**\n> Stopped at the event limit (500 events) at "),
            "{md}"
        );
    }

    #[test]
    fn a_failure_that_outlives_its_fault_lists_what_sustains_it() {
        let r = faulted_run(1);
        let mut a = analyse(&r);
        a.faults[0].verdict = Verdict::DidNotRecover {
            sustained_by: vec![
                "retries: users sends 2.00 attempts per request".into(),
                "queues: back queue full".into(),
            ],
        };
        a.faults[0].time_to_recover = None;
        let md = markdown(&r, &a);
        assert!(
            md.contains(
                "- Time to recover: did not recover (the fault ended at 3.0 s)\n\
                 - Verdict: **did not recover**, sustained by:\n  \
                 - retries: users sends 2.00 attempts per request\n  \
                 - queues: back queue full\n"
            ),
            "{md}"
        );
    }

    #[test]
    fn without_faults_it_says_so() {
        let mut config = faulted_config();
        config.faults.clear();
        let r = World::new(&config, 1).run(RunOptions::default());
        let md = markdown(&r, &analyse(&r));
        assert!(
            md.contains("\n#### What happened\n\nNo faults scripted.\n\n"),
            "{md}"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a|b*c_d"), "a\\|b\\*c\\_d");
        assert_eq!(escape("plain -name"), "plain -name");
        assert_eq!(code_span("a -> b"), "`a -> b`");
        assert_eq!(code_span("a`b"), "`` a`b ``");
    }
}
