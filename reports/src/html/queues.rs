//! The brokers' charts (issue 15): per queue, the messages waiting and in flight, and the age
//! of the oldest message; drawn only when the run has queues.

use super::{Extreme, Line, Page, YAxis, colour, figure, tick_decimals, time_chart, y_max};

/// A chart of one figure of every queue's windows, merged by `merge` over a point's windows.
fn queue_chart(
    out: &mut String,
    page: &Page,
    caption: &str,
    desc: &'static str,
    value: impl Fn(&models::broker::QueueWindow) -> f64,
) {
    let lines: Vec<Line> = page
        .result
        .queues
        .iter()
        .enumerate()
        .map(|(i, q)| Line {
            name: q.name.clone(),
            colour: colour(i),
            points: page.points(&q.series.windows, |ws, _| {
                ws.iter().map(&value).reduce(f64::max)
            }),
        })
        .collect();
    draw(out, page, caption, desc, &lines);
}

/// One time chart of `lines` under `caption`, its axis from 0 to their largest value.
fn draw(out: &mut String, page: &Page, caption: &str, desc: &'static str, lines: &[Line]) {
    let max = y_max(lines, 1.0);
    let svg = time_chart(
        &page.axis(),
        lines,
        &YAxis {
            desc,
            max,
            decimals: tick_decimals(max),
        },
    );
    figure(out, caption, svg, lines, (Extreme::Max, 1, ""));
}

/// A chart of one figure of every consumer group's windows, one line per topic and group.
fn group_chart(
    out: &mut String,
    page: &Page,
    caption: &str,
    desc: &'static str,
    value: impl Fn(&models::broker::QueueWindow) -> f64,
) {
    let lines: Vec<Line> = page
        .result
        .topics
        .iter()
        .flat_map(|t| t.groups.iter().map(move |g| (t, g)))
        .enumerate()
        .map(|(i, (t, g))| Line {
            name: format!("{}/{}", t.name, g.name),
            colour: colour(i),
            points: page.points(&g.series.windows, |ws, _| {
                ws.iter().map(&value).reduce(f64::max)
            }),
        })
        .collect();
    if !lines.is_empty() {
        draw(out, page, caption, desc, &lines);
    }
}

/// The consumer groups' lag (the end offsets minus the committed ones) and the age of their
/// oldest uncommitted record, per window at its largest.
fn topic_figures(out: &mut String, page: &Page, merged: &str, shade_note: &str) {
    let caption = format!(
        "Consumer lag: per window, the records published to each topic and not yet committed by \
         each consumer group, at its largest. A crashed member's partitions wait for its \
         session timeout, then the whole group pauses for the rebalance.{merged}{shade_note}"
    );
    group_chart(out, page, &caption, "records of lag (max)", |w| {
        w.backlog_max as f64
    });
    let caption = format!(
        "Age of the oldest record each consumer group has not committed (s), at its largest \
         in the window: how far the group lags behind in time.{merged}{shade_note}"
    );
    group_chart(out, page, &caption, "oldest record age (s)", |w| {
        w.oldest_age_ns_max as f64 / 1e9
    });
}

/// The queues' backlog and oldest message, and the topics' lag, after the other charts.
pub(super) fn queue_figures(out: &mut String, page: &Page, shade_note: &str) {
    if page.result.queues.is_empty() && page.result.topics.is_empty() {
        return;
    }
    let merged = if page.group > 1 {
        format!(" Each point is the maximum over {} windows.", page.group)
    } else {
        String::new()
    };
    topic_figures(out, page, &merged, shade_note);
    if page.result.queues.is_empty() {
        return;
    }
    let merged = if page.group > 1 {
        format!(" Each point is the maximum over {} windows.", page.group)
    } else {
        String::new()
    };
    queue_chart(
        out,
        page,
        &format!(
            "Queue backlog: per window, the most messages waiting in each queue plus the most \
             in flight (received, not yet acked). A consumer that cannot keep up shows here as a \
             growing backlog, not as failed requests upstream.{merged}{shade_note}"
        ),
        "messages (max)",
        |w| (w.backlog_max + w.in_flight_max) as f64,
    );
    queue_chart(
        out,
        page,
        &format!(
            "Age of the oldest message in each queue (s), at its largest in the window: how \
             far the consumers lag behind.{merged}{shade_note}"
        ),
        "oldest message age (s)",
        |w| w.oldest_age_ns_max as f64 / 1e9,
    );
}
