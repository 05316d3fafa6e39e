//! The HTML report's "how to read this report" section: what a window is and the objectives
//! every entity was judged against, with where each came from.

use super::*;

/// What a window is and what each entity's objectives are.
pub(super) fn explanations(out: &mut String, page: &Page) {
    let a = page.analysis;
    out.push_str("<h2>How to read this report</h2>\n");
    let _ = writeln!(
        out,
        "<p>A <em>window</em> is {} of simulated time: the time series are counted per window \
         (a request counts in the window in which its outcome became known), and health is \
         judged per window. A window with fewer than {} finished requests is pooled with the \
         windows after it until they hold that many, and the pool is judged as one; a last \
         pool that never gets there is not judged. An entity is <em>unhealthy</em> in a \
         window when its availability is below its objective (the symptom is then the most \
         frequent failure cause) or when its p99 latency is above its objective (high \
         latency). The baseline ends at {}, when the first fault starts.</p>",
        escape(&page.result.window.to_string()),
        crate::analysis::MIN_REQUESTS_PER_WINDOW,
        seconds(a.baseline_end.as_nanos()),
    );
    if a.entities.is_empty() {
        out.push_str("<p class=\"note\">No objectives: nothing was simulated.</p>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th>name</th><th>kind</th><th>availability objective %</th>\
         <th>p99 objective ms</th><th>p99 objective from</th><th>unhealthy spans</th></tr>\
         </thead>\n<tbody>\n",
    );
    for e in &a.entities {
        if matches!(e.kind, EntityKind::Queue | EntityKind::ConsumerGroup) {
            let (objective, source) = match e.backlog_objective {
                Some(n) => (
                    format!("backlog ≤ {n}"),
                    format!(
                        "messages arriving in {}× the median end-to-end p99, at the rate before {}",
                        crate::analysis::DEFAULT_P99_FACTOR,
                        seconds(a.baseline_end.as_nanos())
                    ),
                ),
                None => (
                    "-".to_owned(),
                    "none: no consumer, or too few messages before the first fault".to_owned(),
                ),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">-</td><td class=\"num\">{}</td>\
                 <td>{}</td><td class=\"num\">{}</td></tr>",
                escape(&e.name),
                e.kind.as_str(),
                escape(&objective),
                escape(&source),
                e.unhealthy.len()
            );
            continue;
        }
        let (p99, source) = match e.latency_p99_objective {
            Some(d) if e.latency_objective_set => (ms_cell(1, d.as_nanos()), "scenario".to_owned()),
            Some(d) => (
                ms_cell(1, d.as_nanos()),
                format!(
                    "{}× the median window p99 before {}",
                    crate::analysis::DEFAULT_P99_FACTOR,
                    seconds(a.baseline_end.as_nanos())
                ),
            ),
            None => (
                "-".to_owned(),
                "none: no successful request before the first fault".to_owned(),
            ),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td class=\"num\">{}</td></tr>",
            escape(&e.name),
            e.kind.as_str(),
            percent(e.availability_objective),
            p99,
            escape(&source),
            e.unhealthy.len()
        );
    }
    out.push_str("</tbody>\n</table>\n");
}
