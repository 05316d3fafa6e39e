//! The HTML report's charts section: availability, p99 latency, queue depth and busy workers
//! per service and client, then the figures of the other rooms (endpoints, cascade timeline,
//! breakers, autoscaling, rollouts, functions, brokers, outboxes) in page order.

use super::*;

/// A line's availability points in percent: each the share of what finished in its windows
/// that succeeded; none where nothing finished.
pub(super) fn availability_points(
    page: &Page,
    windows: &[models::metrics::Window],
) -> Vec<Option<(f64, f64)>> {
    page.points(windows, |ws, _| {
        let ok: u64 = ws.iter().map(|w| w.ok).sum();
        let failed: u64 = ws.iter().map(|w| w.failed()).sum();
        (ok + failed > 0).then(|| ok as f64 * 100.0 / (ok + failed) as f64)
    })
}

/// A line's p99 points in ms: the highest window p99 of its windows; none where nothing
/// succeeded.
pub(super) fn p99_points(
    page: &Page,
    windows: &[models::metrics::Window],
) -> Vec<Option<(f64, f64)>> {
    page.points(windows, |ws, _| {
        ws.iter()
            .filter(|w| w.ok > 0)
            .map(|w| w.latency_ns_p99)
            .max()
            .map(|ns| ns as f64 / 1e6)
    })
}

/// The charts section.
pub(super) fn charts(out: &mut String, page: &Page) {
    out.push_str("<h2>Charts</h2>\n");
    let r = page.result;
    // What one point of a line stands for; `merged` says how windows are merged when a long
    // run has more windows than a line has points.
    let points_note = |merged: &str| {
        if page.group > 1 {
            format!(
                " Each point is {merged} {} consecutive windows of {}.",
                page.group, r.window
            )
        } else {
            format!(" One point per window of {}.", r.window)
        }
    };
    let shade_note = if page.faults_s.is_empty() {
        ""
    } else {
        " Grey bands: fault windows."
    };

    // a. Availability.
    let mut lines = Vec::new();
    let stats = r
        .services
        .iter()
        .map(|s| (&s.name, &s.stats))
        .chain(r.clients.iter().map(|c| (&c.name, &c.stats)));
    let mut extras = Extras::default();
    let kinds = r
        .services
        .iter()
        .map(|_| EntityKind::Service)
        .chain(r.clients.iter().map(|_| EntityKind::Client));
    for (i, ((name, st), kind)) in stats.clone().zip(kinds.clone()).enumerate() {
        if let Some(e) = page.entity(kind, name) {
            extras
                .objectives
                .push((e.availability_objective * 100.0, colour(i)));
        }
        lines.push(Line {
            name: name.clone(),
            colour: colour(i),
            points: availability_points(page, &st.windows),
        });
    }
    figure(
        out,
        &format!(
            "Availability per window (% of the requests that finished in the window and \
             succeeded), per service and client. Windows in which no request finished are left \
             out. Thin dashed lines: each one's availability objective, in its colour.{}\
             {shade_note}",
            points_note("the availability over")
        ),
        time_chart_with(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "availability (%)",
                max: 100.0,
                decimals: 0,
            },
            &extras,
            (CHART_WIDTH_PX, CHART_HEIGHT_PX),
        ),
        &lines,
        (Extreme::Min, 1, " %"),
    );

    // b. Latency p99.
    let mut lines = Vec::new();
    let mut extras = Extras::default();
    for (i, ((name, st), kind)) in stats.zip(kinds).enumerate() {
        if let Some(p99) = page
            .entity(kind, name)
            .and_then(|e| e.latency_p99_objective)
        {
            extras.objectives.push((p99.as_millis_f64(), colour(i)));
        }
        extras
            .undefined
            .push((colour(i), page.undefined_latency(&st.windows)));
        lines.push(Line {
            name: name.clone(),
            colour: colour(i),
            points: p99_points(page, &st.windows),
        });
    }
    let objectives_max = extras.objectives.iter().map(|o| o.0).fold(0.0, f64::max);
    let max = y_max(&lines, 1.0).max(objectives_max * 1.05);
    figure(
        out,
        &format!(
            "p99 latency of the successful requests per window (ms), per service and client; a \
             client's latency includes its retries. Thin dashed lines: each one's p99 \
             objective. Hatched along the top, in a line's colour: windows in which requests \
             finished but none succeeded, so there is no latency to show; windows in which \
             nothing finished are left out.{}{shade_note}",
            points_note("the highest window p99 of")
        ),
        time_chart_with(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "p99 latency (ms)",
                max,
                decimals: tick_decimals(max),
            },
            &extras,
            (CHART_WIDTH_PX, CHART_HEIGHT_PX),
        ),
        &lines,
        (Extreme::Max, 1, " ms"),
    );

    // c. Queue depth.
    let mut lines = Vec::new();
    for (i, s) in r.services.iter().enumerate() {
        lines.push(Line {
            name: s.name.clone(),
            colour: colour(i),
            points: page.points(&s.gauges.windows, |gs, _| {
                gs.iter().map(|g| f64::from(g.queue_max)).reduce(f64::max)
            }),
        });
    }
    let max = y_max(&lines, 1.0);
    figure(
        out,
        &format!(
            "Queue depth: the longest each service's queue got in the window (requests waiting \
             for a worker).{}{shade_note}",
            points_note("the maximum over")
        ),
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "queue length (max)",
                max,
                decimals: tick_decimals(max),
            },
        ),
        &lines,
        (Extreme::Max, 0, ""),
    );

    // d. Worker utilisation.
    let mut lines = Vec::new();
    for (i, s) in r.services.iter().enumerate() {
        let workers = f64::from(s.workers);
        lines.push(Line {
            name: s.name.clone(),
            colour: colour(i),
            points: page.points(&s.gauges.windows, |gs, span_ns| {
                let busy: u128 = gs.iter().map(|g| u128::from(g.busy_ns)).sum();
                (workers > 0.0 && span_ns > 0)
                    .then(|| busy as f64 * 100.0 / (workers * span_ns as f64))
            }),
        });
    }
    figure(
        out,
        &format!(
            "Busy workers: the mean number of busy workers in the window as a share of each \
             service's workers (utilisation; a worker held while waiting on a downstream call \
             counts as busy).{}{shade_note}",
            points_note("the utilisation over")
        ),
        time_chart(
            &page.axis(),
            &lines,
            &YAxis {
                desc: "busy workers (%)",
                max: 100.0,
                decimals: 0,
            },
        ),
        &lines,
        (Extreme::Max, 0, " %"),
    );

    endpoints::endpoint_figures(out, page, shade_note);

    // e. Cascade timeline.
    gantt_figure(out, page);

    // f. Circuit breakers.
    breaker_figure(out, page);

    // g. Autoscaled replicas.
    ops::autoscale_figure(out, page);
    rollout::rollout_figure(out, page);
    serverless::function_figure(out, page);
    // g. Brokers' queues.
    queues::queue_figures(out, page, shade_note);
    crate::outbox::html(out, page.result);
}
