//! Deployments: the world's side of [`crate::ops::rollout`]. A rolled-out service is wired
//! with twice its replicas: the first half runs the stable version, the second half the new
//! one (each replica's work set once, as a change would set it). Replicas not wanted are out
//! of the load balancers' rotation; a started one joins it after its readiness delay; a
//! removed one drains (out of rotation at once, gone when idle, nothing in flight lost).
//! Requests are split between the versions by the rollout's weight, drawn from its own
//! stream `["rollout", service, "split"]`; each attempt's outcome at a replica counts for that
//! replica's version, and the analysis measures the versions' own requests every interval.
//! The controller reconciles every second, when a replica becomes ready and after each
//! measurement.

use super::*;
use crate::metrics::Histogram;
use crate::ops::rollout::{Entry, Phase, Rollout, Route, Sample, Status, Target};
use crate::ops::{RolloutReport, VersionReport};

/// The rollout event's `replica` for the controller's tick and for a measurement.
pub(super) const TICK: u32 = u32::MAX;
pub(super) const MEASURE: u32 = u32::MAX - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Absent,
    Starting,
    Ready,
    Draining,
}

/// One version's requests over an analysis interval.
#[derive(Default)]
struct Tally {
    requests: u64,
    failed: u64,
    latency: Histogram,
}

impl Tally {
    fn take(&mut self) -> Sample {
        let sample = Sample {
            requests: self.requests,
            failed: self.failed,
            p99: (self.latency.count() > 0).then(|| self.latency.quantile(0.99)),
        };
        self.requests = 0;
        self.failed = 0;
        self.latency.clear();
        sample
    }
}

pub(super) struct Deploy {
    rollout: Rollout,
    service: usize,
    /// Replicas `0..split` run the stable version, `split..` the new one.
    split: usize,
    slots: Vec<Slot>,
    /// Bumped when a starting replica is drained, so its ready event is recognised as stale.
    generation: Vec<u32>,
    /// The traffic split's own stream.
    rng: SimRng,
    /// This interval's requests, [stable, new].
    tally: [Tally; 2],
    /// From a replica's start until it is ready: the rollout's `ready_after`, after the
    /// autoscaler's provisioning and cold start on an autoscaled service.
    start_delay: SimDuration,
    /// The autoscaler of the same service, told of every change of the replicas' counts.
    scaler: Option<usize>,
    report: RolloutReport,
}

impl Deploy {
    fn status(&self) -> Status {
        let count = |range: std::ops::Range<usize>, f: &dyn Fn(Slot) -> bool| {
            self.slots[range].iter().filter(|&&s| f(s)).count() as u32
        };
        let present = |s: Slot| matches!(s, Slot::Starting | Slot::Ready);
        let ready = |s: Slot| s == Slot::Ready;
        let n = self.slots.len();
        Status {
            old_present: count(0..self.split, &present),
            old_ready: count(0..self.split, &ready),
            new_present: count(self.split..n, &present),
            new_ready: count(self.split..n, &ready),
        }
    }

    /// (ready, starting, paid for: starting, ready or draining) over both versions.
    pub(super) fn counts(&self) -> (u32, u32, u32) {
        let count = |f: &dyn Fn(Slot) -> bool| self.slots.iter().filter(|&&s| f(s)).count() as u32;
        (
            count(&|s| s == Slot::Ready),
            count(&|s| s == Slot::Starting),
            count(&|s| s != Slot::Absent),
        )
    }

    pub(super) fn ready(&self, k: usize) -> bool {
        self.slots[k] == Slot::Ready
    }

    pub(super) fn desired(&self) -> u32 {
        self.rollout.config().desired
    }

    /// The autoscaler's new count of replicas.
    pub(super) fn set_desired(&mut self, desired: u32) {
        self.rollout.set_desired(desired.min(self.split as u32));
    }

    /// The share of requests the new version takes now, in percent.
    fn weight(&self) -> f64 {
        let s = self.status();
        match self.rollout.route() {
            _ if s.new_ready == 0 => 0.0,
            _ if s.old_ready == 0 => 100.0,
            Route::Weight(w) => f64::from(w),
            Route::Ready => 100.0 * f64::from(s.new_ready) / f64::from(s.old_ready + s.new_ready),
        }
    }
}

impl World {
    /// The rollouts: each version's work on its replicas, the stable ones in rotation.
    pub(super) fn install_rollouts(&mut self, config: &WorldConfig, streams: &RngStreams) {
        if config.ops.rollouts.is_empty() {
            return;
        }
        if self.rotation.is_empty() {
            self.rotation = vec![Vec::new(); self.services.len()];
        }
        for d in &config.ops.rollouts {
            let c = &d.rollout;
            let service = c.service.0 as usize;
            let n = self.services[service].replicas.len();
            // Each version may reach the autoscaler's maximum, else the service's replicas.
            let split = n / 2;
            assert!(
                n % 2 == 0 && split >= c.desired as usize,
                "a rolled-out service is wired with twice its replicas"
            );
            let scaler = self.scalers.iter().position(|sc| sc.service() == service);
            let start_delay = scaler.map_or(c.ready_after, |sc| {
                let a = self.scalers[sc].config();
                a.provisioning + a.cold_start + c.ready_after
            });
            for r in split..n {
                let endpoints = self.replica_endpoints(c.service, r as u32);
                assert_eq!(
                    endpoints.len(),
                    d.new.endpoints.len(),
                    "a version's endpoints"
                );
                for (ep, work) in endpoints.iter_mut().zip(&d.new.endpoints) {
                    ep.service_time = work.service_time.clone();
                    ep.error_rate = work.error_rate;
                }
                let inst = &mut self.services[service].replicas[r];
                inst.workers = d.new.workers;
                inst.queue_capacity = d.new.queue;
            }
            let svc = &config.services[service];
            let state = &mut self.services[service].report;
            let half = split as u32;
            // The capacities count both halves, each with its version's resources.
            state.workers = (svc.workers.saturating_add(d.new.workers)).saturating_mul(half);
            state.queue_capacity = svc
                .queue
                .saturating_mul(half)
                .saturating_add(d.new.queue.saturating_mul(half));
            let initial = c.desired as usize;
            let slots: Vec<Slot> = (0..n)
                .map(|k| {
                    if k < initial {
                        Slot::Ready
                    } else {
                        Slot::Absent
                    }
                })
                .collect();
            self.rotation[service] = slots.iter().map(|&s| s == Slot::Ready).collect();
            for e in self.edges.iter_mut().filter(|e| e.to.0 as usize == service) {
                e.balancer = e.balancer.clone().with_panic_threshold_percent(0);
            }
            let name = &config.services[service].name;
            self.deploys.push(Deploy {
                rollout: Rollout::new(c.clone()),
                service,
                split,
                generation: vec![0; n],
                rng: streams.stream(&["rollout", name, "split"]),
                tally: Default::default(),
                start_delay,
                scaler,
                report: RolloutReport {
                    service: name.clone(),
                    strategy: c.strategy.name(),
                    at: c.at,
                    desired: c.desired,
                    versions: [
                        (&c.stable, svc.workers, svc.queue),
                        (&c.version, d.new.workers, d.new.queue),
                    ]
                    .map(|(v, workers, queue)| VersionReport {
                        name: v.clone(),
                        workers,
                        queue,
                        ..VersionReport::default()
                    }),
                    weights: vec![(SimTime::ZERO, 0.0, c.desired, 0)],
                    timeline: Vec::new(),
                    phase: "pending",
                    failed_before_rollback: 0,
                },
                slots,
            });
            if let Some(sc) = scaler {
                self.scalers[sc].deploy = Some(self.deploys.len() - 1);
            }
        }
    }

    pub(super) fn schedule_rollouts(&mut self, s: &mut Scheduler<WorldEvent>) {
        for (i, d) in self.deploys.iter().enumerate() {
            let at = d.rollout.config().at;
            let rollout = i as u32;
            s.schedule_at(
                at,
                WorldEvent::Rollout {
                    rollout,
                    replica: TICK,
                    generation: 0,
                },
            );
            if let Some(a) = &d.rollout.config().analysis {
                s.schedule_at(
                    at + a.interval,
                    WorldEvent::Rollout {
                        rollout,
                        replica: MEASURE,
                        generation: 0,
                    },
                );
            }
        }
    }

    /// Whether a rollout event still means something: a replica's ready event is stale once
    /// that replica was drained while starting.
    pub(super) fn rollout_event_live(&self, rollout: u32, replica: u32, generation: u32) -> bool {
        if replica == TICK || replica == MEASURE {
            return true;
        }
        let d = &self.deploys[rollout as usize];
        let r = replica as usize;
        d.generation[r] == generation && d.slots[r] == Slot::Starting
    }

    pub(super) fn on_rollout(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        rollout: u32,
        replica: u32,
        generation: u32,
    ) {
        let now = s.now();
        let i = rollout as usize;
        let event = |replica| WorldEvent::Rollout {
            rollout,
            replica,
            generation: 0,
        };
        match replica {
            TICK => {
                self.finish_rollout_draining(now, i);
                self.reconcile(s, i);
                let d = &self.deploys[i];
                if !d.rollout.settled() || d.slots.contains(&Slot::Draining) {
                    s.schedule_in(SimDuration::SECOND, event(TICK));
                }
            }
            MEASURE => {
                let d = &mut self.deploys[i];
                let [stable, new] = &mut d.tally;
                let (stable, new) = (stable.take(), new.take());
                let analysing = d.rollout.analysing();
                d.rollout.judge(now, new, stable);
                let interval = d.rollout.config().analysis.as_ref().map(|a| a.interval);
                if analysing {
                    self.reconcile(s, i);
                }
                if let Some(every) = interval
                    && !self.deploys[i].rollout.settled()
                {
                    s.schedule_in(every, event(MEASURE));
                }
            }
            r => {
                let d = &self.deploys[i];
                let r = r as usize;
                if d.generation[r] != generation || d.slots[r] != Slot::Starting {
                    return; // drained before it was ready
                }
                self.set_rollout_slot(now, i, r, Slot::Ready);
                self.reconcile(s, i);
            }
        }
    }

    /// Asks the controller what it wants and moves the replicas towards it, until it wants
    /// nothing more of the replicas as they are.
    pub(super) fn reconcile(&mut self, s: &mut Scheduler<WorldEvent>, i: usize) {
        let now = s.now();
        for _ in 0..=self.deploys[i].slots.len() {
            let status = self.deploys[i].status();
            let target = self.deploys[i].rollout.reconcile(now, status);
            if !self.apply(s, i, target) {
                break;
            }
        }
        let d = &mut self.deploys[i];
        let timeline = d.rollout.timeline();
        d.report.timeline = timeline.to_vec();
        d.report.phase = match d.rollout.phase() {
            Phase::Pending => "pending",
            Phase::Progressing | Phase::Promoting { .. } => "progressing",
            Phase::Completed => "completed",
            Phase::Aborted => "aborted",
        };
        self.log_weight(now, i);
    }

    /// Starts or drains replicas of each version towards the target; whether anything moved.
    fn apply(&mut self, s: &mut Scheduler<WorldEvent>, i: usize, target: Target) -> bool {
        let now = s.now();
        let (split, n) = (self.deploys[i].split, self.deploys[i].slots.len());
        let mut moved = false;
        for (range, wanted) in [(0..split, target.old), (split..n, target.new)] {
            let slots = &self.deploys[i].slots;
            let present = slots[range.clone()]
                .iter()
                .filter(|&&s| matches!(s, Slot::Starting | Slot::Ready))
                .count() as u32;
            if present < wanted {
                let mut more = wanted - present;
                for r in range.clone() {
                    if more == 0 {
                        break;
                    }
                    if self.deploys[i].slots[r] != Slot::Absent {
                        continue;
                    }
                    more -= 1;
                    moved = true;
                    self.set_rollout_slot(now, i, r, Slot::Starting);
                    let d = &self.deploys[i];
                    let event = WorldEvent::Rollout {
                        rollout: i as u32,
                        replica: r as u32,
                        generation: d.generation[r],
                    };
                    s.schedule_in(d.start_delay, event);
                }
            } else if present > wanted {
                let mut extra = present - wanted;
                // Replicas not ready yet go first, then the newest ready ones.
                for state in [Slot::Starting, Slot::Ready] {
                    for r in range.clone().rev() {
                        if extra == 0 || self.deploys[i].slots[r] != state {
                            continue;
                        }
                        extra -= 1;
                        moved = true;
                        self.deploys[i].generation[r] += 1;
                        self.set_rollout_slot(now, i, r, Slot::Draining);
                    }
                }
            }
        }
        self.finish_rollout_draining(now, i);
        moved
    }

    /// Draining replicas with nothing left to do leave.
    pub(super) fn finish_rollout_draining(&mut self, now: SimTime, i: usize) {
        let service = self.deploys[i].service;
        for r in 0..self.deploys[i].slots.len() {
            if self.deploys[i].slots[r] != Slot::Draining {
                continue;
            }
            let inst = &self.services[service].replicas[r];
            if inst.workers_busy == 0 && inst.queue.is_empty() && inst.cold.blocked.is_empty() {
                self.set_rollout_slot(now, i, r, Slot::Absent);
            }
        }
    }

    fn set_rollout_slot(&mut self, now: SimTime, i: usize, r: usize, slot: Slot) {
        let d = &mut self.deploys[i];
        d.slots[r] = slot;
        self.rotation[d.service][r] = slot == Slot::Ready;
        if let Some(sc) = d.scaler {
            self.account_scaler(now, sc);
        }
        self.log_weight(now, i);
    }

    /// The weights and ready counts over time, one entry per instant that changed them.
    fn log_weight(&mut self, now: SimTime, i: usize) {
        let d = &mut self.deploys[i];
        let st = d.status();
        let entry = (now, d.weight(), st.old_ready, st.new_ready);
        match d.report.weights.last_mut() {
            Some(last) if (last.1, last.2, last.3) == (entry.1, entry.2, entry.3) => {}
            Some(last) if last.0 == now => *last = entry,
            _ => d.report.weights.push(entry),
        }
    }

    /// The version a request to `service` goes to, when a rollout splits its traffic:
    /// (the first replica of the new version, whether this request goes to it).
    pub(super) fn rollout_route(&mut self, service: usize) -> Option<(usize, bool)> {
        let d = self.deploys.iter_mut().find(|d| d.service == service)?;
        let new = match d.rollout.route() {
            Route::Ready => return None,
            Route::Weight(0) => false,
            Route::Weight(w) if w >= 100 => true,
            Route::Weight(w) => d.rng.chance(f64::from(w) / 100.0),
        };
        Some((d.split, new))
    }

    /// An attempt sent to `replica` of `service` ended: it counts for the replica's version.
    pub(super) fn rollout_observe(
        &mut self,
        service: usize,
        replica: u32,
        latency: SimDuration,
        outcome: Outcome,
    ) {
        let Some(d) = self.deploys.iter_mut().find(|d| d.service == service) else {
            return;
        };
        let v = usize::from(replica as usize >= d.split);
        let failed = matches!(outcome, Outcome::Failed(_));
        let tally = &mut d.tally[v];
        tally.requests += 1;
        tally.failed += u64::from(failed);
        tally.latency.record(latency);
        let version = &mut d.report.versions[v];
        version.requests += 1;
        version.failed += u64::from(failed);
        if v == 1 && failed && d.rollout.phase() != Phase::Aborted {
            d.report.failed_before_rollback += 1;
        }
    }

    pub(super) fn rollout_reports(&mut self) -> Vec<RolloutReport> {
        self.deploys.iter().map(|d| d.report.clone()).collect()
    }
}

/// A rollout as the analysis sees a fault: the release is what changed, so a cascade can start
/// at it. Its window runs from its start until the traffic settled on one version (completed,
/// or back on the stable one after an abort), or to the end of the run while still under way;
/// `None` for a rollout that never started.
pub(super) fn rollout_fault(r: &RolloutReport, end: SimTime) -> Option<FaultReport> {
    if r.at >= end {
        return None;
    }
    let settled = r
        .timeline
        .iter()
        .find(|(_, e)| matches!(e, Entry::Completed | Entry::Aborted { .. }))
        .map(|&(at, _)| at);
    let to = match settled {
        // Replicas may still start or drain after the decision: the split settles with them.
        Some(at) => r.weights.last().map_or(at, |w| w.0.max(at)).min(end),
        None => end,
    };
    Some(FaultReport {
        kind: "rollout",
        service: r.service.clone(),
        services: vec![r.service.clone()],
        clients: Vec::new(),
        description: format!(
            "{} {} of {}",
            r.service,
            r.strategy.replace('_', " "),
            r.versions[1].name
        ),
        from: r.at,
        to: to.max(r.at),
    })
}
