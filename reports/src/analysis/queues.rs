//! Queues and consumer groups as entities of the health analysis: a queue (or a group's lag)
//! is degraded in a window when more messages wait than its consumers normally leave waiting,
//! so a slow consumer shows as a growing backlog rather than as failed requests upstream.
//!
//! The rule, from the windows before the first fault (the whole run without faults), with
//! `DEFAULT_P99_FACTOR` = 3 as for a service's latency: a queue receives `rate` messages a
//! second, the median window's end-to-end p99 (publish to processed) is `p99`, and the median
//! window's largest backlog is `peak`. Its *backlog objective* is the larger of
//! `ceil(rate x 3 x p99)` (Little's law, messages waiting = arrival rate x wait: the messages
//! that would be waiting if each waited three usual p99 trips) and `3 x peak` (three times the
//! usual peak: publishers that send in bursts, such as an outbox relay, leave more waiting
//! than a steady stream), and at least 1. A window whose largest backlog (visible messages for
//! a queue, end offset minus committed offset for a group) exceeds it is degraded.
//! The backlog counts waiting messages, not the time each is processed, so consumers that are
//! slower but keep up stay healthy while consumers that fall behind do not. A queue without
//! consumers (a dead-letter queue waiting for a person) and one without a baseline (no window
//! of at least `MIN_REQUESTS_PER_WINDOW` processed messages before the fault) are not judged.

use models::RunResult;
use models::broker::QueueSeries;
use models::metrics::OutcomeStats;
use sim_core::{SimDuration, SimTime};

use super::{
    Analyser, CascadeStep, DEFAULT_P99_FACTOR, EntityHealth, EntityKind, Interval,
    MIN_REQUESTS_PER_WINDOW, Symptom, baseline_p99,
};

/// Where a queue or a consumer group lives and who consumes it: what a fault must reach to
/// damage it.
pub(super) struct Links<'a> {
    pub(super) broker: &'a str,
    pub(super) consumers: Vec<&'a str>,
}

/// A consumer group's entity name: `topic/group` (the group is named after its service, so
/// the topic keeps it apart from the service's own name).
pub fn group_name(topic: &str, group: &str) -> String {
    format!("{topic}/{group}")
}

/// The backlog objective of one queue or group, or `None` when it cannot be derived.
pub(super) fn backlog_objective(
    series: &QueueSeries,
    end_to_end: &OutcomeStats,
    baseline_end: SimTime,
) -> Option<u64> {
    let w_ns = series.window().as_nanos();
    let windows = (baseline_end.as_nanos() / w_ns) as usize;
    let windows = windows.min(series.windows.len());
    if windows == 0 {
        return None;
    }
    let baseline = &series.windows[..windows];
    let published: u64 = baseline.iter().map(|w| w.published).sum();
    let baseline_s = windows as f64 * series.window().as_secs_f64();
    let e2e_windows = (baseline_end.as_nanos() / end_to_end.window().as_nanos()) as usize;
    let p99 = baseline_p99(&end_to_end.windows, e2e_windows)?;
    let waiting = published as f64 / baseline_s * DEFAULT_P99_FACTOR as f64 * p99.as_secs_f64();
    let mut peaks: Vec<u64> = baseline
        .iter()
        .filter(|w| w.published >= MIN_REQUESTS_PER_WINDOW)
        .map(|w| w.backlog_max)
        .collect();
    peaks.sort_unstable();
    let peak = peaks.get(peaks.len() / 2).copied().unwrap_or(0);
    Some(
        (waiting.ceil() as u64)
            .max(DEFAULT_P99_FACTOR * peak)
            .max(1),
    )
}

/// The degraded intervals of a backlog series against its objective: consecutive windows whose
/// largest backlog exceeds it, each interval with its peak backlog and the highest end-to-end
/// p99 of its windows.
pub(super) fn backlog_intervals(
    series: &QueueSeries,
    end_to_end: &OutcomeStats,
    objective: u64,
    end: SimTime,
) -> Vec<Interval> {
    let w_ns = series.window().as_nanos();
    let e2e_ns = end_to_end.window().as_nanos();
    let mut out: Vec<Interval> = Vec::new();
    let mut open: Option<Interval> = None;
    for (i, w) in series.windows.iter().enumerate() {
        let start = SimTime(i as u64 * w_ns);
        let stop = SimTime(((i as u64 + 1) * w_ns).min(end.as_nanos()));
        if w.backlog_max <= objective {
            out.extend(open.take());
            continue;
        }
        // The end-to-end windows inside this one (the two series share a width unless one
        // was coarsened differently).
        let p99 = end_to_end
            .windows
            .iter()
            .enumerate()
            .filter(|&(j, e)| {
                let t = j as u64 * e2e_ns;
                e.ok > 0 && t >= start.as_nanos() && t < stop.as_nanos()
            })
            .map(|(_, e)| e.latency_ns_p99)
            .max()
            .unwrap_or(0);
        let iv = open.get_or_insert(Interval {
            from: start,
            to: stop,
            symptom: Symptom::Backlog,
            availability_min: 1.0,
            latency_p99_max: SimDuration::ZERO,
            backlog_max: 0,
            open_at_end: false,
        });
        iv.to = stop;
        iv.backlog_max = iv.backlog_max.max(w.backlog_max);
        iv.latency_p99_max = iv.latency_p99_max.max(SimDuration(p99));
    }
    if let Some(mut iv) = open {
        iv.open_at_end = true;
        out.push(iv);
    }
    out
}

/// The health of every queue (file order), then every consumer group (topic order).
pub(super) fn entities(result: &RunResult, baseline_end: SimTime) -> Vec<EntityHealth> {
    let end = result.outcome.now;
    let judge = |kind, name: String, series: &QueueSeries, e2e: &OutcomeStats, consumed: bool| {
        let objective = consumed
            .then(|| backlog_objective(series, e2e, baseline_end))
            .flatten();
        EntityHealth {
            kind,
            name,
            availability_objective: 1.0,
            latency_p99_objective: None,
            latency_objective_set: false,
            backlog_objective: objective,
            unhealthy: objective.map_or_else(Vec::new, |o| backlog_intervals(series, e2e, o, end)),
        }
    };
    let mut out = Vec::new();
    for q in &result.queues {
        let consumed = !q.consumers.is_empty();
        out.push(judge(
            EntityKind::Queue,
            q.name.clone(),
            &q.series,
            &q.end_to_end,
            consumed,
        ));
    }
    for t in &result.topics {
        for g in &t.groups {
            out.push(judge(
                EntityKind::ConsumerGroup,
                group_name(&t.name, &g.name),
                &g.series,
                &g.end_to_end,
                true,
            ));
        }
    }
    out
}

impl<'a> Analyser<'a> {
    /// The broker and the consumers of the queue or group `name`.
    pub(super) fn links(&self, kind: EntityKind, name: &str) -> Option<Links<'a>> {
        let result: &'a RunResult = self.result;
        match kind {
            EntityKind::Queue => result
                .queues
                .iter()
                .find(|q| q.name == name)
                .map(|q| Links {
                    broker: q.broker.as_str(),
                    consumers: q.consumers.iter().map(String::as_str).collect(),
                }),
            EntityKind::ConsumerGroup => result.topics.iter().find_map(|t| {
                t.groups
                    .iter()
                    .find(|g| group_name(&t.name, &g.name) == name)
                    .map(|g| Links {
                        broker: t.broker.as_str(),
                        consumers: vec![g.name.as_str()],
                    })
            }),
            _ => None,
        }
    }

    /// A queue step's path: `None` when the fault acts on its broker (the queue lives there),
    /// else the delivery edge (`broker -> consumer`) to a consumer the fault acts on or that
    /// became unhealthy earlier, or to its first consumer in the fault's reach (`reached`).
    pub(super) fn queue_via<'n>(
        &self,
        step: &CascadeStep,
        direct: &[String],
        earlier: impl Iterator<Item = &'n str> + Clone,
    ) -> Option<String> {
        let links = self.links(step.kind, &step.name)?;
        if direct.iter().any(|s| s == links.broker) {
            return None;
        }
        let hit = links
            .consumers
            .iter()
            .find(|c| direct.iter().any(|s| s == *c) || earlier.clone().any(|n| n == **c))
            .or(links.consumers.first())?;
        let names = crate::common::edge_names(&self.result.edges);
        self.result
            .edges
            .iter()
            .zip(names)
            .find(|(e, _)| e.from == links.broker && e.to == *hit)
            .map(|(_, name)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::broker::Level;

    const S: u64 = 1_000_000_000;

    /// A queue publishing `rate` messages a second, processed in 20 ms, whose backlog is
    /// `backlog[i]` in second i.
    fn queue(rate: u64, backlog: &[u64]) -> (QueueSeries, OutcomeStats) {
        let mut series = QueueSeries::new(SimDuration::SECOND);
        let mut e2e = OutcomeStats::new(SimDuration::SECOND);
        for (i, &b) in backlog.iter().enumerate() {
            let t = SimTime(i as u64 * S + 1);
            for _ in 0..rate {
                series.count(t, |w| w.published += 1);
                e2e.record_ok(t, SimDuration::from_millis(20));
            }
            let level = Level {
                backlog: b,
                in_flight: 0,
                oldest: None,
            };
            series.set_level(t, level);
        }
        let end = SimTime(backlog.len() as u64 * S);
        series.finish(end);
        e2e.finish(end);
        (series, e2e)
    }

    #[test]
    fn the_objective_is_the_backlog_of_three_p99s_at_the_baseline_rate() {
        // 40 a second, p99 20 ms (within the histogram's 1/256): 40 x 3 x 0.02 = 2.4, so 3.
        let (series, e2e) = queue(40, &[0, 1, 0, 0, 1, 0]);
        assert_eq!(backlog_objective(&series, &e2e, SimTime(4 * S)), Some(3));
        // Slower: 10 a second gives 0.6, at least one message.
        let (series, e2e) = queue(10, &[0, 0, 0, 0]);
        assert_eq!(backlog_objective(&series, &e2e, SimTime(4 * S)), Some(1));
        // Bursts: the level of second i carries into second i + 1, so the peaks are 5, 5, 6,
        // 6; the (upper) median 6 makes it 3 x 6, above Little's 3.
        let (series, e2e) = queue(40, &[5, 0, 6, 1, 0]);
        assert_eq!(backlog_objective(&series, &e2e, SimTime(4 * S)), Some(18));
        // No whole window before the fault, or no busy one: no objective.
        assert_eq!(backlog_objective(&series, &e2e, SimTime(S / 2)), None);
        let (series, e2e) = queue(5, &[0, 0, 0]);
        assert_eq!(backlog_objective(&series, &e2e, SimTime(3 * S)), None);
    }

    #[test]
    fn a_growing_backlog_is_one_interval_with_its_peak() {
        // A level holds until it changes, so 80 is also the largest backlog of second 6.
        let (series, e2e) = queue(50, &[0, 1, 2, 9, 40, 80, 3, 1]);
        let iv = backlog_intervals(&series, &e2e, 4, SimTime(8 * S));
        assert_eq!(iv.len(), 1, "{iv:?}");
        assert_eq!((iv[0].from, iv[0].to), (SimTime(3 * S), SimTime(7 * S)));
        assert_eq!(iv[0].symptom, Symptom::Backlog);
        assert_eq!(iv[0].backlog_max, 80);
        assert!(!iv[0].open_at_end);
        assert!(iv[0].latency_p99_max >= SimDuration::from_millis(19));
        // At the objective itself the window is healthy.
        assert!(backlog_intervals(&series, &e2e, 80, SimTime(8 * S)).is_empty());
    }

    #[test]
    fn a_backlog_still_high_at_the_end_is_open() {
        let (series, e2e) = queue(50, &[0, 1, 30, 60]);
        let iv = backlog_intervals(&series, &e2e, 4, SimTime(4 * S));
        assert_eq!(iv.len(), 1);
        assert!(iv[0].open_at_end);
        assert_eq!(iv[0].to, SimTime(4 * S));
    }
}
