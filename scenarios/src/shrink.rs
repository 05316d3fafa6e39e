//! Smaller variants of a scenario, for `faultline shrink`: each a text edit of the file (so the
//! file written at the end keeps its comments and layout, and is exactly what was run). The
//! binary runs them and keeps the first that still fails the same way, as property-testing
//! tools shrink a failing case.
//!
//! A round proposes, in this order: each fault removed; each fault window halved (its end
//! earlier, then its start later); each crash's downtime halved; each multiplier halfway to 1
//! and each error rate halved; each client's rate (or users) halved, then cut by a quarter; the
//! run halved, then cut by a quarter; each call of a call plan removed; each service nothing
//! refers to removed. A variant that does not load is simply not a candidate.

use sim_core::SimDuration;

use crate::duration::parse_duration;
use crate::swarm::{Item, Node, exact_duration, outline};

/// One smaller variant: the whole new text and what changed, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub change: String,
    pub text: String,
}

/// The scenario's group (`Scenario(...)`) and its items.
fn scenario<'t, 'a>(root: &'t Node<'a>) -> Option<&'t [Item<'a>]> {
    let Node::Group { items, .. } = root else {
        return None;
    };
    items.iter().find_map(|i| match &i.value {
        Node::Group {
            open: b'(', items, ..
        } => Some(items.as_slice()),
        _ => None,
    })
}

fn field<'t, 'a>(items: &'t [Item<'a>], key: &str) -> Option<&'t Item<'a>> {
    items.iter().find(|i| i.key == Some(key))
}

fn elements<'t, 'a>(item: Option<&'t Item<'a>>) -> &'t [Item<'a>] {
    match item.map(|i| &i.value) {
        Some(Node::Group {
            open: b'[', items, ..
        }) => items,
        _ => &[],
    }
}

fn group_items<'t, 'a>(node: &'t Node<'a>) -> (&'a str, &'t [Item<'a>]) {
    match node {
        Node::Group { name, items, .. } => (name.unwrap_or(""), items),
        Node::Atom { .. } => ("", &[]),
    }
}

/// `source` with `[start, end)` replaced.
fn replaced(source: &str, start: usize, end: usize, with: &str) -> String {
    format!("{}{with}{}", &source[..start], &source[end..])
}

/// `source` without a list element, its comma and, when it has its own line, that line.
fn without(source: &str, item: &Item) -> String {
    let b = source.as_bytes();
    let mut end = item.comma_end.unwrap_or(item.value.span().1);
    let mut start = item.start;
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    if source[line_start..start].trim().is_empty() {
        let mut e = end;
        while e < b.len() && (b[e] == b' ' || b[e] == b'\t') {
            e += 1;
        }
        if e < b.len() && b[e] == b'\n' {
            start = line_start;
            end = e + 1;
        }
    }
    replaced(source, start, end, "")
}

fn text<'a>(source: &'a str, node: &Node) -> &'a str {
    let (s, e) = node.span();
    &source[s..e]
}

fn duration_of(source: &str, item: Option<&Item>) -> Option<(SimDuration, usize, usize)> {
    let node = &item?.value;
    let d = parse_duration(text(source, node).trim_matches('"')).ok()?;
    let (s, e) = node.span();
    Some((d, s, e))
}

fn number_of(source: &str, item: Option<&Item>) -> Option<(f64, usize, usize)> {
    let node = &item?.value;
    let x: f64 = text(source, node).replace('_', "").parse().ok()?;
    let (s, e) = node.span();
    Some((x, s, e))
}

/// A real with 4 significant digits, written so RON reads a float.
fn real(x: f64) -> String {
    let rounded: f64 = format!("{x:.3e}").parse().unwrap_or(x);
    format!("{rounded:?}")
}

fn quoted(d: SimDuration) -> String {
    format!("\"{}\"", exact_duration(d))
}

/// A short name of a node for messages: its first line, at most 60 characters.
fn short(source: &str, node: &Node) -> String {
    let t = text(source, node);
    let first = t.lines().next().unwrap_or("");
    let cut: String = first.chars().take(60).collect();
    if cut.len() < t.len() {
        format!("{}...", cut.trim_end())
    } else {
        cut
    }
}

/// Every smaller variant of `source`, in the order a shrink tries them.
pub fn candidates(source: &str) -> Vec<Candidate> {
    let Some(root) = outline(source) else {
        return Vec::new();
    };
    let Some(top) = scenario(&root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |change: String, text: String| out.push(Candidate { change, text });
    let faults = elements(field(top, "faults"));
    for (i, f) in faults.iter().enumerate() {
        push(
            format!("removed faults[{i}] {}", short(source, &f.value)),
            without(source, f),
        );
    }
    for (i, f) in faults.iter().enumerate() {
        let (kind, items) = group_items(&f.value);
        let from = duration_of(source, field(items, "from"));
        let to = duration_of(source, field(items, "to"));
        if let (Some((from, fs, fe)), Some((to, ts, te))) = (from, to)
            && to.0 > from.0 + 1_000_000
        {
            let half = SimDuration((to.0 - from.0) / 2);
            push(
                format!("faults[{i}] {kind} ends at {} instead of {to}", from + half),
                replaced(source, ts, te, &quoted(from + half)),
            );
            push(
                format!(
                    "faults[{i}] {kind} starts at {} instead of {from}",
                    from + half
                ),
                replaced(source, fs, fe, &quoted(from + half)),
            );
        }
        if let Some((d, s, e)) = duration_of(source, field(items, "restart_after"))
            && d.0 > 1_000_000
        {
            let half = SimDuration(d.0 / 2);
            push(
                format!("faults[{i}] {kind} restarts after {half} instead of {d}"),
                replaced(source, s, e, &quoted(half)),
            );
        }
        if let Some((m, s, e)) = number_of(source, field(items, "multiply"))
            && m > 1.05
        {
            let smaller = real(1.0 + (m - 1.0) / 2.0);
            push(
                format!("faults[{i}] {kind} multiplies by {smaller} instead of {m}"),
                replaced(source, s, e, &smaller),
            );
        }
        if let Some((r, s, e)) = number_of(source, field(items, "rate"))
            && r > 0.001
        {
            let smaller = real(r / 2.0);
            push(
                format!("faults[{i}] {kind} rate {smaller} instead of {r}"),
                replaced(source, s, e, &smaller),
            );
        }
    }
    for c in elements(field(top, "clients")) {
        let (_, items) = group_items(&c.value);
        let name = field(items, "name").map_or(String::new(), |n| text(source, &n.value).into());
        let Some(arrivals) = field(items, "arrivals") else {
            continue;
        };
        let (_, arrival_items) = group_items(&arrivals.value);
        if let Some((r, s, e)) = number_of(source, field(arrival_items, "rate_per_s")) {
            for (factor, words) in [(0.5, "halved"), (0.75, "cut by a quarter")] {
                let smaller = real(r * factor);
                push(
                    format!("client {name}'s rate {words}: {smaller} per second instead of {r}"),
                    replaced(source, s, e, &smaller),
                );
            }
        }
        if let Some((u, s, e)) = number_of(source, field(arrival_items, "users"))
            && u >= 2.0
        {
            let fewer = ((u as u64) / 2).to_string();
            push(
                format!("client {name}'s users halved: {fewer} instead of {u}"),
                replaced(source, s, e, &fewer),
            );
        }
    }
    if let Some((d, s, e)) = duration_of(source, field(top, "duration")) {
        for (num, den, words) in [(1, 2, "halved"), (3, 4, "cut by a quarter")] {
            // Whole milliseconds, so the file stays readable.
            let shorter = SimDuration(d.0 / den * num / 1_000_000 * 1_000_000);
            if shorter.0 > 0 {
                push(
                    format!("run {words}: {shorter} instead of {d}"),
                    replaced(source, s, e, &quoted(shorter)),
                );
            }
        }
    }
    let services = elements(field(top, "services"));
    for s in services {
        let (_, items) = group_items(&s.value);
        let name = field(items, "name").map_or(String::new(), |n| text(source, &n.value).into());
        for call in elements(field(items, "calls")) {
            push(
                format!("removed {name}'s call {}", short(source, &call.value)),
                without(source, call),
            );
        }
    }
    for s in services {
        let (_, items) = group_items(&s.value);
        let Some(name) = field(items, "name").map(|n| text(source, &n.value)) else {
            continue;
        };
        // Referred to anywhere else (a call, a client, a fault, an expectation): keep it.
        let (start, end) = s.value.span();
        let elsewhere = source[..start].matches(name).count() + source[end..].matches(name).count();
        if elsewhere == 0 {
            push(format!("removed service {name}"), without(source, s));
        }
    }
    out
}

/// `source` with only the `index`-th expectation kept: what a shrunk file checks.
pub fn keep_expectation(source: &str, index: usize) -> String {
    let Some(root) = outline(source) else {
        return source.to_owned();
    };
    let Some(top) = scenario(&root) else {
        return source.to_owned();
    };
    let expect = elements(field(top, "expect"));
    let mut text = source.to_owned();
    // From the last, so the earlier spans stay valid.
    for (i, e) in expect.iter().enumerate().rev() {
        if i != index {
            text = without(&text, e);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"// a comment stays
Scenario(
    version: 1,
    name: "s",
    duration: "4m",
    services: [
        Service(name: "api", workers: 4, queue: 8, service_time: Exponential(mean: "5ms"),
                calls: [Call(to: "db")]),
        Service(name: "db", workers: 4, queue: 8, service_time: Exponential(mean: "5ms")),
        Service(name: "idle", workers: 1, queue: 1, service_time: Exponential(mean: "5ms")),
    ],
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 100.0))],
    faults: [
        Latency(service: "db", multiply: 9.0, from: "1m", to: "3m"),
        Errors(service: "api", rate: 0.2, from: "1m", to: "2m"),
    ],
    expect: [
        Availability(of: "users", at_least: 0.99),
        RecoveryWithin(within: "30s"),
    ],
)
"#;

    #[test]
    fn every_candidate_is_a_loadable_smaller_scenario() {
        let path = std::path::Path::new("s.ron");
        crate::load_str(path, FILE).expect("the file loads");
        let cs = candidates(FILE);
        let changes: Vec<&str> = cs.iter().map(|c| c.change.as_str()).collect();
        for expected in [
            "removed faults[0] Latency(service: \"db\", multiply: 9.0, from: \"1m\", to: \"3m\")",
            "faults[0] Latency ends at 120s instead of 180s",
            "faults[0] Latency starts at 120s instead of 60s",
            "faults[0] Latency multiplies by 5.0 instead of 9",
            "faults[1] Errors rate 0.1 instead of 0.2",
            "client \"users\"'s rate halved: 50.0 per second instead of 100",
            "run halved: 120s instead of 240s",
            "removed \"api\"'s call Call(to: \"db\")",
            "removed service \"idle\"",
        ] {
            assert!(
                changes.contains(&expected),
                "{expected} not in {changes:#?}"
            );
        }
        for c in &cs {
            assert!(c.text.starts_with("// a comment stays"), "{}", c.change);
            assert_ne!(c.text, FILE);
        }
        let removed = &cs[0].text;
        let loaded = crate::load_str(path, removed).expect("loads");
        assert_eq!(loaded.scenario.faults.len(), 1);
        assert_eq!(removed.lines().count(), FILE.lines().count() - 1);
    }

    #[test]
    fn one_expectation_is_kept() {
        let one = keep_expectation(FILE, 1);
        let loaded = crate::load_str(std::path::Path::new("s"), &one).expect("loads");
        assert_eq!(loaded.scenario.expect.len(), 1);
        assert!(matches!(
            loaded.scenario.expect[0],
            crate::spec::Expectation::RecoveryWithin { .. }
        ));
    }
}
