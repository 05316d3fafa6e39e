//! The HTML report's opening sections: what happened after each fault (its cascade as one
//! arrow chain, the timings, the verdict, the blast radius) and what the policies did.

use super::*;
use crate::analysis::Verdict;
use crate::text::{blast_radius, fault_head, recovery_phrase, step_phrase, verdict_phrase};

/// The "what happened" section: per fault its cascade as one arrow chain, then the timings and
/// the verdict; the blast radius last.
pub(super) fn what_happened(out: &mut String, analysis: &Analysis) {
    out.push_str("<h2>What happened</h2>\n");
    if analysis.faults.is_empty() {
        out.push_str("<p>No faults were scripted in this scenario.</p>\n");
        return;
    }
    let esc = |s: &str| escape(s);
    let code = |s: &str| format!("<code>{}</code>", escape(s));
    let numbered = analysis.faults.len() > 1;
    for (k, f) in analysis.faults.iter().enumerate() {
        out.push_str("<div class=\"fault\">\n");
        let head = fault_head(f, &esc);
        let mut chain = vec![if numbered {
            format!("<strong>Fault {}:</strong> {head}", k + 1)
        } else {
            head
        }];
        if f.cascade.is_empty() {
            chain.push("nothing became unhealthy".to_owned());
        }
        chain.extend(f.cascade.iter().map(|s| step_phrase(s, &esc, &code)));
        let _ = writeln!(out, "<p class=\"chain\">{}</p>", chain.join(" → "));
        out.push_str("<ul>\n");
        let _ = writeln!(
            out,
            "<li>Fault active from {} to {}</li>",
            seconds(f.from.as_nanos()),
            seconds(f.to.as_nanos())
        );
        match f.time_to_detect {
            Some(detect) => {
                let _ = writeln!(
                    out,
                    "<li>Time to detect: {}</li>",
                    seconds(detect.as_nanos())
                );
            }
            None => out.push_str("<li>Time to detect: not detected</li>\n"),
        }
        if !f.cascade.is_empty() {
            let _ = writeln!(
                out,
                "<li>Time to recover: {}</li>",
                escape(&recovery_phrase(f))
            );
        }
        let (word, rest) = verdict_phrase(&f.verdict);
        let _ = write!(
            out,
            "<li>Verdict: <strong>{}</strong>{}",
            escape(word),
            escape(&rest)
        );
        if let Verdict::DidNotRecover { sustained_by } = &f.verdict
            && !sustained_by.is_empty()
        {
            out.push_str(", sustained by:\n<ul>\n");
            for cause in sustained_by {
                let _ = writeln!(out, "<li>{}</li>", escape(cause));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</li>\n");
        if let Some(summary) = crate::text::episodes_summary(f) {
            let _ = write!(out, "<li>{}", escape(&summary));
            let (listed, more) = crate::text::episodes_listed(f);
            if !listed.is_empty() {
                out.push_str("\n<ul>\n");
                for e in listed {
                    let phrase = crate::text::episode_phrase(e, &esc);
                    match crate::text::episode_hurt(e, &esc) {
                        Some(hurt) => {
                            let _ = writeln!(out, "<li>{phrase} ({hurt})</li>");
                        }
                        None => {
                            let _ = writeln!(out, "<li>{phrase}</li>");
                        }
                    }
                }
                if more > 0 {
                    let _ = writeln!(out, "<li>and {more} more with impact</li>");
                }
                out.push_str("</ul>\n");
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n</div>\n");
    }
    let total = analysis
        .entities
        .iter()
        .filter(|e| e.kind != EntityKind::Edge)
        .count();
    let _ = writeln!(
        out,
        "<p><strong>Blast radius</strong> ({} of {} services and clients{}): {}</p>",
        analysis.blast_radius.len(),
        total,
        if analysis
            .entities
            .iter()
            .any(|e| matches!(e.kind, EntityKind::Queue | EntityKind::ConsumerGroup))
        {
            ", queues and consumer groups"
        } else {
            ""
        },
        blast_radius(analysis, &esc)
    );
}

/// What the resilience policies did, when they did anything.
pub(super) fn policies(out: &mut String, result: &RunResult) {
    let facts = crate::common::policy_facts(result);
    if facts.is_empty() {
        return;
    }
    out.push_str("<h2>Policies</h2>\n<ul>\n");
    for f in &facts {
        out.push_str(&format!(
            "<li><strong>{}</strong>: {}</li>\n",
            crate::common::escape_markup(&f.subject),
            crate::common::escape_markup(&f.facts.join("; "))
        ));
    }
    out.push_str("</ul>\n");
}
