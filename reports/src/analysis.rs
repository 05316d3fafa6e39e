//! Health and cascade analysis: which services, clients and edges breached their objectives,
//! when, in what order after which fault, through which edges, and whether the system returned
//! to its pre-fault behaviour once the fault ended.
//!
//! Everything is computed from the per-window time series of a [`RunResult`]; the analysis
//! never drives the engine.

use models::RunResult;
use models::metrics::{FailureCause, OutcomeStats, Window};
use sim_core::{SimDuration, SimTime};

mod blame;
mod episodes;
mod queues;
use blame::{Claim, Reach};
pub use episodes::Episode;
pub use queues::group_name;

/// Health is judged on at least this many finished requests: consecutive windows with fewer
/// are pooled with the following ones until they reach it, so one stray failure in a quiet
/// second is not an outage, and short windows still give verdicts. A last pool that never
/// reaches it is not judged.
pub const MIN_REQUESTS_PER_WINDOW: u64 = 10;

/// The default latency objective is this many times the p99 seen before the first fault.
pub const DEFAULT_P99_FACTOR: u64 = 3;

/// What kind of thing an [`EntityHealth`] describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntityKind {
    Service,
    Client,
    Edge,
    /// A broker's queue, judged on its backlog (`analysis/queues.rs`).
    Queue,
    /// A topic's consumer group (`topic/group`), judged on its lag.
    ConsumerGroup,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Service => "service",
            EntityKind::Client => "client",
            EntityKind::Edge => "edge",
            EntityKind::Queue => "queue",
            EntityKind::ConsumerGroup => "consumer_group",
        }
    }
}

/// Why a window was unhealthy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Symptom {
    /// Availability below the objective; the most frequent failure cause in the window.
    Failures { cause: FailureCause },
    /// p99 latency above the objective.
    Latency,
    /// A queue's or a consumer group's backlog above its objective: consumers falling behind.
    Backlog,
}

impl Symptom {
    /// A short phrase: `timeouts`, `rejections`, `errors`, `dependency failures`,
    /// `high latency`.
    pub fn phrase(self) -> &'static str {
        match self {
            Symptom::Failures {
                cause: FailureCause::Timeout,
            } => "timeouts",
            Symptom::Failures {
                cause: FailureCause::Rejected,
            } => "rejections",
            Symptom::Failures {
                cause: FailureCause::Error,
            } => "errors",
            Symptom::Failures {
                cause: FailureCause::Dependency,
            } => "dependency failures",
            Symptom::Failures {
                cause: FailureCause::CircuitOpen,
            } => "open circuit",
            Symptom::Failures {
                cause: FailureCause::BulkheadFull,
            } => "bulkhead full",
            Symptom::Failures {
                cause: FailureCause::RateLimited,
            } => "rate limiting",
            Symptom::Failures {
                cause: FailureCause::Shed,
            } => "load shedding",
            Symptom::Failures {
                cause: FailureCause::Throttled,
            } => "client throttling",
            Symptom::Failures {
                cause: FailureCause::Conflict,
            } => "conflicts",
            Symptom::Failures {
                cause: FailureCause::Unavailable,
            } => "refused connections",
            Symptom::Latency => "high latency",
            Symptom::Backlog => "backlog",
        }
    }
}

/// A maximal run of unhealthy windows: `[from, to)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    pub from: SimTime,
    pub to: SimTime,
    /// The symptom of the first window.
    pub symptom: Symptom,
    /// The lowest availability of a judged window in the interval.
    pub availability_min: f64,
    /// The highest window p99 in the interval (a queue's: end to end).
    pub latency_p99_max: SimDuration,
    /// A queue's or group's largest backlog in the interval; 0 for other entities.
    pub backlog_max: u64,
    /// Whether the interval lasts until the end of the run.
    pub open_at_end: bool,
}

/// The health of one service, client or edge over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityHealth {
    pub kind: EntityKind,
    /// A service or client name, or `from -> to` for an edge.
    pub name: String,
    pub availability_objective: f64,
    /// The p99 objective, set or derived; `None` when it could not be derived (no successful
    /// request before the first fault).
    pub latency_p99_objective: Option<SimDuration>,
    /// Whether the latency objective came from the scenario (true) or was derived.
    pub latency_objective_set: bool,
    /// A queue's or group's backlog objective in messages (`analysis/queues.rs`); `None` for
    /// other entities and for a queue that cannot be judged (no consumer, no baseline).
    pub backlog_objective: Option<u64>,
    pub unhealthy: Vec<Interval>,
}

/// One step of a cascade: an entity that became unhealthy after a fault started.
#[derive(Clone, Debug, PartialEq)]
pub struct CascadeStep {
    pub kind: EntityKind,
    pub name: String,
    /// Start of its first unhealthy interval after the fault started.
    pub from: SimTime,
    pub symptom: Symptom,
    /// The edge from this entity to an entity that was already unhealthy: the path the damage
    /// took (`checkout -> payments`); `None` for what the fault acts on directly.
    pub via: Option<String>,
    /// The descriptions of the other faults blamed for the same unhealthy interval: both reach
    /// it through the call graph and started together (in file order).
    pub shared_with: Vec<String>,
}

/// What the system did after one scripted fault.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultImpact {
    pub description: String,
    /// The service it shows at first.
    pub service: String,
    /// The services and clients it acts on directly: its cascade holds only these and what
    /// calls them.
    pub services: Vec<String>,
    pub clients: Vec<String>,
    pub from: SimTime,
    pub to: SimTime,
    /// Services and clients that became unhealthy, in order.
    pub cascade: Vec<CascadeStep>,
    /// Time from the fault's start to the first symptom.
    pub time_to_detect: Option<SimDuration>,
    /// Time from the fault's end until every affected entity was healthy again; `None` if
    /// something was still unhealthy when the run ended.
    pub time_to_recover: Option<SimDuration>,
    pub verdict: Verdict,
    /// For chaos and leak faults, which last the whole run: each crash episode (replicas down
    /// together) with its own cascade and verdict, in time order. Empty for other faults.
    pub episodes: Vec<Episode>,
}

/// Did the system return to its pre-fault behaviour after the trigger ended?
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Nothing became unhealthy.
    NoImpact,
    /// Every affected entity was healthy again before the run ended.
    Recovered { at: SimTime },
    /// Still unhealthy at the end of the run although the fault had ended: a metastable
    /// failure, with what sustains it.
    DidNotRecover { sustained_by: Vec<String> },
    /// The fault lasted until the end of the run, so recovery cannot be judged.
    FaultStillActive,
}

impl Verdict {
    /// `no impact`, `recovered`, `did not recover`, `fault still active`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::NoImpact => "no impact",
            Verdict::Recovered { .. } => "recovered",
            Verdict::DidNotRecover { .. } => "did not recover",
            Verdict::FaultStillActive => "fault still active",
        }
    }
}

/// The whole analysis of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub window: SimDuration,
    /// The end of the baseline period: the first fault's start, or the end of the run.
    pub baseline_end: SimTime,
    /// Services (file order), then clients, then edges, then queues and consumer groups.
    pub entities: Vec<EntityHealth>,
    /// One per scripted fault, in start order (file order for faults that start together).
    pub faults: Vec<FaultImpact>,
    /// Services, clients, queues and consumer groups unhealthy at some time after a fault
    /// started.
    pub blast_radius: Vec<String>,
}

/// Judges every window of every entity and links what broke to the faults.
pub fn analyse(result: &RunResult) -> Analysis {
    Analyser::new(result).run()
}

struct Series<'a> {
    kind: EntityKind,
    name: String,
    stats: &'a OutcomeStats,
    availability_objective: f64,
    latency_p99_objective: Option<SimDuration>,
    latency_objective_set: bool,
}

struct Analyser<'a> {
    result: &'a RunResult,
    window: SimDuration,
    baseline_end: SimTime,
    end: SimTime,
}

/// The median of the window p99s with enough requests before `baseline_end`.
fn baseline_p99(windows: &[Window], baseline_windows: usize) -> Option<SimDuration> {
    let mut p99s: Vec<u64> = windows
        .iter()
        .take(baseline_windows)
        .filter(|w| w.ok >= MIN_REQUESTS_PER_WINDOW)
        .map(|w| w.latency_ns_p99)
        .collect();
    if p99s.is_empty() {
        return None;
    }
    p99s.sort_unstable();
    Some(SimDuration(p99s[p99s.len() / 2]))
}

impl<'a> Analyser<'a> {
    fn new(result: &'a RunResult) -> Self {
        let end = result.outcome.now;
        let baseline_end = result
            .faults
            .iter()
            .map(|f| f.from)
            .min()
            .unwrap_or(end)
            .min(end);
        Analyser {
            result,
            window: result.window,
            baseline_end,
            end,
        }
    }

    fn series(&self) -> Vec<Series<'a>> {
        let baseline_windows = (self.baseline_end.as_nanos() / self.window.as_nanos()) as usize;
        let derive = |stats: &OutcomeStats, set: Option<SimDuration>| match set {
            Some(p99) => (Some(p99), true),
            None => (
                baseline_p99(&stats.windows, baseline_windows)
                    .map(|p| SimDuration(p.as_nanos() * DEFAULT_P99_FACTOR)),
                false,
            ),
        };
        let mut out = Vec::new();
        for s in &self.result.services {
            let (p99, set) = derive(&s.stats, s.objective.latency_p99);
            out.push(Series {
                kind: EntityKind::Service,
                name: s.name.clone(),
                stats: &s.stats,
                availability_objective: s.objective.availability,
                latency_p99_objective: p99,
                latency_objective_set: set,
            });
        }
        for c in &self.result.clients {
            let (p99, set) = derive(&c.stats, c.objective.latency_p99);
            out.push(Series {
                kind: EntityKind::Client,
                name: c.name.clone(),
                stats: &c.stats,
                availability_objective: c.objective.availability,
                latency_p99_objective: p99,
                latency_objective_set: set,
            });
        }
        let names = crate::common::edge_names(&self.result.edges);
        for (e, name) in self.result.edges.iter().zip(names) {
            // An edge is held to its callee's availability objective.
            let availability = self
                .result
                .services
                .iter()
                .find(|s| s.name == e.to)
                .map_or(0.99, |s| s.objective.availability);
            let (p99, set) = derive(&e.stats, None);
            out.push(Series {
                kind: EntityKind::Edge,
                name,
                stats: &e.stats,
                availability_objective: availability,
                latency_p99_objective: p99,
                latency_objective_set: set,
            });
        }
        out
    }

    fn intervals(&self, series: &Series) -> Vec<Interval> {
        intervals(self.window, self.end, series)
    }

    fn run(self) -> Analysis {
        let series = self.series();
        let mut entities: Vec<EntityHealth> = series
            .iter()
            .map(|s| EntityHealth {
                kind: s.kind,
                name: s.name.clone(),
                availability_objective: s.availability_objective,
                latency_p99_objective: s.latency_p99_objective,
                latency_objective_set: s.latency_objective_set,
                backlog_objective: None,
                unhealthy: self.intervals(s),
            })
            .collect();
        entities.extend(queues::entities(self.result, self.baseline_end));
        let mut order: Vec<usize> = (0..self.result.faults.len()).collect();
        order.sort_by_key(|&i| (self.result.faults[i].from, i));
        let reach: Vec<Reach> = self.result.faults.iter().map(|f| self.reach(f)).collect();
        let episodes: Vec<Vec<Episode>> = (0..self.result.faults.len())
            .map(|i| self.episodes(i))
            .collect();
        let claims: Vec<Vec<Claim>> = (0..self.result.faults.len())
            .map(|i| self.claims(i, &reach, &episodes[i], &entities))
            .collect();
        let faults: Vec<FaultImpact> = order
            .iter()
            .map(|&i| {
                let mut impact = self.impact(i, &reach, &claims, &entities);
                impact.episodes = episodes[i].clone();
                for e in &mut impact.episodes {
                    self.judge_episode(i, &reach[i], &claims, &entities, e);
                }
                impact
            })
            .collect();
        let mut blast_radius: Vec<String> = Vec::new();
        for f in &faults {
            for step in &f.cascade {
                if !blast_radius.contains(&step.name) {
                    blast_radius.push(step.name.clone());
                }
            }
        }
        Analysis {
            window: self.window,
            baseline_end: self.baseline_end,
            entities,
            faults,
            blast_radius,
        }
    }

    /// The step of fault `index`'s cascade that `claim` names (its path not yet known), with
    /// the other faults that claim it too.
    fn claimed_step<'e>(
        &self,
        index: usize,
        claim: &Claim,
        claims: &[Vec<Claim>],
        entities: &'e [EntityHealth],
    ) -> (CascadeStep, &'e Interval) {
        let e = &entities[claim.entity];
        let iv = &e.unhealthy[claim.interval];
        let shared_with = (0..claims.len())
            .filter(|&j| j != index && claims[j].contains(claim))
            .map(|j| self.result.faults[j].description.clone())
            .collect();
        let step = CascadeStep {
            kind: e.kind,
            name: e.name.clone(),
            from: iv.from,
            symptom: iv.symptom,
            via: None,
            shared_with,
        };
        (step, iv)
    }

    /// The cascade of fault `index` from its claims, ordered, with the path the damage took,
    /// the other faults blamed for the same steps, the timings and the verdict.
    fn impact(
        &self,
        index: usize,
        reach: &[Reach],
        claims: &[Vec<Claim>],
        entities: &[EntityHealth],
    ) -> FaultImpact {
        let fault = &self.result.faults[index];
        let mut steps: Vec<(CascadeStep, &Interval)> = claims[index]
            .iter()
            .map(|claim| self.claimed_step(index, claim, claims, entities))
            .collect();
        self.order(fault, &mut steps);
        let time_to_detect = steps
            .first()
            .map(|(s, _)| s.from.saturating_since(fault.from));
        let still_active = fault.to >= self.end;
        let open_at_end = steps.iter().any(|(_, iv)| iv.open_at_end);
        let recovered_at = steps.iter().map(|(_, iv)| iv.to).max();
        let verdict = if steps.is_empty() {
            Verdict::NoImpact
        } else if still_active {
            Verdict::FaultStillActive
        } else if open_at_end {
            Verdict::DidNotRecover {
                sustained_by: self.sustained_by(fault.to, &reach[index]),
            }
        } else {
            Verdict::Recovered {
                at: recovered_at.expect("steps exist").max(fault.to),
            }
        };
        let time_to_recover = match verdict {
            Verdict::Recovered { at } => Some(at.saturating_since(fault.to)),
            Verdict::NoImpact => Some(SimDuration::ZERO),
            _ => None,
        };
        FaultImpact {
            description: fault.description.clone(),
            service: fault.service.clone(),
            services: fault.services.clone(),
            clients: fault.clients.clone(),
            from: fault.from,
            to: fault.to,
            cascade: steps.into_iter().map(|(s, _)| s).collect(),
            time_to_detect,
            time_to_recover,
            verdict,
            episodes: Vec::new(),
        }
    }

    /// What keeps the system degraded after `fault_end`, within the fault's reach: retries that
    /// multiply the load on any edge into it (a client's or a service's), and services whose
    /// queues stay full or whose workers stay saturated.
    fn sustained_by(&self, fault_end: SimTime, reach: &Reach) -> Vec<String> {
        let w_ns = self.window.as_nanos();
        let after = (fault_end.as_nanos().div_ceil(w_ns)) as usize;
        let before = (self.baseline_end.as_nanos() / w_ns) as usize;
        let mut out = Vec::new();
        // Every edge, a client's or a service's: attempts per logical call after the fault
        // against before it.
        let finished = |stats: &OutcomeStats, range: std::ops::Range<usize>| -> u64 {
            let windows = stats.windows.get(range).unwrap_or(&[]);
            windows.iter().map(|w| w.ok + w.failed()).sum()
        };
        for edge in self
            .result
            .edges
            .iter()
            .filter(|e| reach.services.contains(&e.to))
        {
            let ratio = |range: std::ops::Range<usize>| {
                let calls = finished(&edge.calls, range.clone());
                (calls > 0).then(|| finished(&edge.stats, range) as f64 / calls as f64)
            };
            let now = ratio(after..edge.stats.windows.len());
            let then = ratio(0..before).unwrap_or(1.0);
            let Some(now) = now.filter(|&now| now > then * 1.5) else {
                continue;
            };
            out.push(match edge.from.strip_prefix("client:") {
                Some(client) => format!(
                    "retries: {client} sends {now:.2} attempts per request ({then:.2} before the \
                     fault)"
                ),
                None => format!(
                    "retries: {} sends {now:.2} attempts per call to {} ({then:.2} before the \
                     fault)",
                    edge.from, edge.to
                ),
            });
        }
        for s in self
            .result
            .services
            .iter()
            .filter(|s| reach.services.contains(&s.name))
        {
            let windows = s.gauges.windows.get(after..).unwrap_or(&[]);
            if windows.is_empty() {
                continue;
            }
            let full = windows
                .iter()
                .filter(|g| s.queue_capacity > 0 && g.queue_max >= s.queue_capacity)
                .count();
            let busy: u128 = windows.iter().map(|g| u128::from(g.busy_ns)).sum();
            let capacity = u128::from(s.workers) * u128::from(w_ns) * windows.len() as u128;
            let utilisation = busy as f64 / capacity as f64;
            if full * 2 >= windows.len() {
                out.push(format!(
                    "queues: {} queue at its capacity of {} in {} of {} windows after the fault, \
                     workers {:.0}% busy",
                    s.name,
                    s.queue_capacity,
                    full,
                    windows.len(),
                    utilisation * 100.0
                ));
            } else if utilisation > 0.95 {
                out.push(format!(
                    "saturation: {} workers {:.0}% busy after the fault",
                    s.name,
                    utilisation * 100.0
                ));
            }
        }
        out
    }
}

/// The symptom of a pool of windows, or `None` if it is healthy. The pool's p99 is the
/// largest p99 of its windows (percentiles do not add up; this errs towards unhealthy).
fn judge(series: &Series, pool: &Window) -> Option<Symptom> {
    let availability = pool.availability().unwrap_or(1.0);
    if availability < series.availability_objective {
        let (i, _) = pool
            .failed_by_cause
            .iter()
            .enumerate()
            .max_by_key(|&(i, &n)| (n, std::cmp::Reverse(i)))
            .expect("four causes");
        return Some(Symptom::Failures {
            cause: FailureCause::ALL[i],
        });
    }
    if let Some(objective) = series.latency_p99_objective
        && pool.ok > 0
        && pool.latency_ns_p99 > objective.as_nanos()
    {
        return Some(Symptom::Latency);
    }
    None
}

/// The unhealthy intervals of one series: windows pooled until they hold enough finished
/// requests, each pool judged as one.
fn intervals(window: SimDuration, end: SimTime, series: &Series) -> Vec<Interval> {
    let w_ns = window.as_nanos();
    let windows = &series.stats.windows;

    let mut out: Vec<Interval> = Vec::new();
    let mut open: Option<Interval> = None;
    let mut next = 0;
    while next < windows.len() {
        let first = next;
        let mut pool = Window::default();
        while next < windows.len() && pool.ok + pool.failed() < MIN_REQUESTS_PER_WINDOW {
            let w = &windows[next];
            pool.ok += w.ok;
            for (sum, n) in pool.failed_by_cause.iter_mut().zip(w.failed_by_cause) {
                *sum += n;
            }
            if w.ok > 0 {
                pool.latency_ns_p99 = pool.latency_ns_p99.max(w.latency_ns_p99);
            }
            next += 1;
        }
        if pool.ok + pool.failed() < MIN_REQUESTS_PER_WINDOW {
            break;
        }
        let start = SimTime(first as u64 * w_ns);
        let stop = SimTime((next as u64 * w_ns).min(end.as_nanos()));
        match judge(series, &pool) {
            Some(symptom) => {
                let iv = open.get_or_insert(Interval {
                    from: start,
                    to: stop,
                    symptom,
                    availability_min: 1.0,
                    latency_p99_max: SimDuration::ZERO,
                    backlog_max: 0,
                    open_at_end: false,
                });
                iv.to = stop;
                iv.availability_min = iv.availability_min.min(pool.availability().unwrap_or(1.0));
                iv.latency_p99_max = iv.latency_p99_max.max(SimDuration(pool.latency_ns_p99));
            }
            None => {
                if let Some(iv) = open.take() {
                    out.push(iv);
                }
            }
        }
    }
    // Still unhealthy at the last judged pool.
    if let Some(mut iv) = open {
        iv.open_at_end = true;
        out.push(iv);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::metrics::OutcomeStats;

    const S: u64 = 1_000_000_000;

    fn series(stats: &OutcomeStats, p99: Option<SimDuration>) -> Series<'_> {
        Series {
            kind: EntityKind::Service,
            name: "s".into(),
            stats,
            availability_objective: 0.99,
            latency_p99_objective: p99,
            latency_objective_set: p99.is_some(),
        }
    }

    /// `per_second[i]` = (ok, failed) finished in second i, each ok taking 1 ms.
    fn stats(per_second: &[(u64, u64)]) -> OutcomeStats {
        let mut o = OutcomeStats::new(SimDuration::SECOND);
        for (i, &(ok, failed)) in per_second.iter().enumerate() {
            let t = SimTime(i as u64 * S + 1);
            for _ in 0..ok {
                o.record_ok(t, SimDuration::from_millis(1));
            }
            for _ in 0..failed {
                o.record_failure(t, FailureCause::Timeout);
            }
        }
        o.finish(SimTime(per_second.len() as u64 * S));
        o
    }

    #[test]
    fn an_outage_is_one_interval_with_its_symptom() {
        let o = stats(&[(50, 0), (50, 0), (10, 40), (0, 50), (50, 0)]);
        let iv = intervals(SimDuration::SECOND, SimTime(5 * S), &series(&o, None));
        assert_eq!(iv.len(), 1);
        assert_eq!((iv[0].from, iv[0].to), (SimTime(2 * S), SimTime(4 * S)));
        assert_eq!(
            iv[0].symptom,
            Symptom::Failures {
                cause: FailureCause::Timeout
            }
        );
        assert_eq!(iv[0].availability_min, 0.0);
        assert!(!iv[0].open_at_end);
    }

    #[test]
    fn sparse_windows_are_pooled_not_carried_over() {
        // Four requests a second: pools of three seconds (12 requests) are judged as one.
        // Seconds 3..6 fail; afterwards the quiet seconds are healthy again, not stuck.
        let mut per_second = vec![(4, 0); 3];
        per_second.extend([(0, 4); 3]);
        per_second.extend([(4, 0); 6]);
        let o = stats(&per_second);
        let iv = intervals(SimDuration::SECOND, SimTime(12 * S), &series(&o, None));
        assert_eq!(iv.len(), 1, "{iv:?}");
        assert_eq!((iv[0].from, iv[0].to), (SimTime(3 * S), SimTime(6 * S)));
        assert!(!iv[0].open_at_end);
    }

    #[test]
    fn a_trailing_pool_too_small_is_not_judged_and_open_means_last_judged() {
        // Unhealthy to the last judged pool, then two requests that cannot be judged.
        let o = stats(&[(50, 0), (0, 50), (0, 50), (2, 0)]);
        let iv = intervals(SimDuration::SECOND, SimTime(4 * S), &series(&o, None));
        assert_eq!(iv.len(), 1);
        assert_eq!(iv[0].to, SimTime(3 * S));
        assert!(
            iv[0].open_at_end,
            "still unhealthy when the run stopped being judgeable"
        );
    }

    #[test]
    fn latency_objective_is_judged_on_the_window_p99() {
        let mut o = OutcomeStats::new(SimDuration::SECOND);
        for i in 0..3u64 {
            let latency = if i == 1 { 50 } else { 1 };
            for _ in 0..20 {
                o.record_ok(SimTime(i * S + 1), SimDuration::from_millis(latency));
            }
        }
        o.finish(SimTime(3 * S));
        let objective = Some(SimDuration::from_millis(10));
        let iv = intervals(SimDuration::SECOND, SimTime(3 * S), &series(&o, objective));
        assert_eq!(iv.len(), 1);
        assert_eq!(iv[0].symptom, Symptom::Latency);
        assert_eq!((iv[0].from, iv[0].to), (SimTime(S), SimTime(2 * S)));
        // Without a latency objective the same series is healthy.
        assert!(intervals(SimDuration::SECOND, SimTime(3 * S), &series(&o, None)).is_empty());
    }

    #[test]
    fn baseline_p99_is_the_median_of_busy_windows() {
        let w = |ok, p99| Window {
            ok,
            latency_ns_p99: p99,
            ..Window::default()
        };
        let windows = [w(20, 5), w(20, 9), w(20, 7), w(2, 1000), w(20, 100)];
        // Only the first four windows are before the fault; the sparse one is ignored.
        assert_eq!(baseline_p99(&windows, 4), Some(SimDuration(7)));
        assert_eq!(baseline_p99(&windows, 0), None);
    }
}
