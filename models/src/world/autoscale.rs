//! Autoscaling: the world's side of [`crate::ops::hpa`]. A scaled service is wired with its
//! maximum of replicas; the autoscaler keeps those it does not want out of the load balancers'
//! rotation. It samples its metric over the ready replicas every second (a metrics pipeline
//! scraping), decides every sync period, starts replicas (ready after provisioning and cold
//! start) and drains the ones it removes: out of rotation at once, gone when their workers
//! and queue are empty. A draining replica's process keeps running, so nothing in flight is
//! lost.

use super::*;
use crate::ops::hpa::{Autoscaler, Flavor, Metric};
use crate::ops::{AutoscaleReport, MAX_DECISIONS, OpsReport};

/// The autoscaler event's `replica` for a metric sample and for a sync.
pub(super) const SAMPLE: u32 = u32::MAX;
pub(super) const SYNC: u32 = u32::MAX - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Absent,
    Starting,
    Ready,
    Draining,
}

pub(super) struct Scaler {
    hpa: Autoscaler,
    service: usize,
    slots: Vec<Slot>,
    /// Bumped when a starting replica is cancelled, so its ready event is recognised as stale.
    generation: Vec<u32>,
    /// Metric samples since the last sync, and the service's requests then.
    sum: f64,
    samples: u32,
    requests_at_sync: u64,
    last_sync: SimTime,
    /// Replicas paid for since `paid_since`.
    paid: u32,
    paid_since: SimTime,
    /// The rollout of the same service, which then owns the replicas (`rollout.rs`): the
    /// autoscaler sets its desired count instead of starting and draining replicas itself.
    pub(super) deploy: Option<usize>,
    report: AutoscaleReport,
}

impl Scaler {
    pub(super) fn service(&self) -> usize {
        self.service
    }

    pub(super) fn config(&self) -> &crate::ops::hpa::AutoscalerConfig {
        self.hpa.config()
    }

    fn count(&self, slot: Slot) -> u32 {
        self.slots.iter().filter(|&&s| s == slot).count() as u32
    }

    fn paid(&self) -> u32 {
        self.slots.iter().filter(|&&s| s != Slot::Absent).count() as u32
    }
}

impl World {
    /// The scaled service's replicas: (ready, starting, paid for), its rollout's when it has one.
    fn scaler_counts(&self, i: usize) -> (u32, u32, u32) {
        let sc = &self.scalers[i];
        match sc.deploy {
            Some(d) => self.deploys[d].counts(),
            None => (sc.count(Slot::Ready), sc.count(Slot::Starting), sc.paid()),
        }
    }

    /// Whether replica `k` of the scaled service is ready.
    fn scaled_ready(&self, i: usize, k: usize) -> bool {
        let sc = &self.scalers[i];
        match sc.deploy {
            Some(d) => self.deploys[d].ready(k),
            None => sc.slots[k] == Slot::Ready,
        }
    }

    /// The replica counts changed: the cost integrated up to now, the counts logged.
    pub(super) fn account_scaler(&mut self, now: SimTime, i: usize) {
        let (ready, _, paid) = self.scaler_counts(i);
        let sc = &mut self.scalers[i];
        sc.report.replica_seconds += f64::from(sc.paid) * (now - sc.paid_since).as_secs_f64();
        sc.paid_since = now;
        sc.paid = paid;
        let counts = (now, ready, paid);
        match sc.report.replicas.last_mut() {
            Some(last) if last.0 == now => *last = counts,
            _ => sc.report.replicas.push(counts),
        }
    }
}

impl World {
    /// The autoscalers, and the rotation of their services: only the starting replicas serve.
    pub(super) fn install_autoscalers(&mut self, config: &WorldConfig) {
        self.rotation = vec![Vec::new(); self.services.len()];
        for a in &config.ops.autoscalers {
            let service = a.service.0 as usize;
            let n = self.services[service].replicas.len();
            let initial = a.initial as usize;
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
            // The registry lists only the replicas in rotation: Envoy's panic threshold, which
            // counts the listed hosts, would count the absent ones as unhealthy here.
            for e in self.edges.iter_mut().filter(|e| e.to.0 as usize == service) {
                e.balancer = e.balancer.clone().with_panic_threshold_percent(0);
            }
            self.scalers.push(Scaler {
                hpa: Autoscaler::new(a.clone()),
                service,
                generation: vec![0; n],
                slots,
                sum: 0.0,
                samples: 0,
                requests_at_sync: 0,
                last_sync: SimTime::ZERO,
                paid: a.initial,
                paid_since: SimTime::ZERO,
                deploy: None,
                report: AutoscaleReport {
                    service: config.services[service].name.clone(),
                    flavor: match a.flavor {
                        Flavor::Kubernetes => "kubernetes",
                        Flavor::TargetTracking { .. } => "target_tracking",
                    },
                    metric: a.metric.name(),
                    target: a.target,
                    min: a.min_replicas,
                    max: a.max_replicas,
                    decisions: Vec::new(),
                    decisions_dropped: 0,
                    replicas: vec![(SimTime::ZERO, a.initial, a.initial)],
                    replica_seconds: 0.0,
                    under_provisioned: SimDuration::ZERO,
                    over_provisioned: SimDuration::ZERO,
                },
            });
        }
    }

    /// The sampling sets the pace: every second, or every sync period if that is shorter.
    fn sample_every(&self, scaler: usize) -> SimDuration {
        self.scalers[scaler]
            .hpa
            .config()
            .sync_period
            .min(SimDuration::SECOND)
    }

    pub(super) fn schedule_autoscalers(&mut self, s: &mut Scheduler<WorldEvent>) {
        for scaler in 0..self.scalers.len() {
            let sync = self.scalers[scaler].hpa.config().sync_period;
            let scaler = scaler as u32;
            let sample = self.sample_every(scaler as usize);
            let event = |replica| WorldEvent::Autoscale {
                scaler,
                replica,
                generation: 0,
            };
            s.schedule_in(sample, event(SAMPLE));
            s.schedule_in(sync, event(SYNC));
        }
    }

    pub(super) fn on_autoscale(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        scaler: u32,
        replica: u32,
        generation: u32,
    ) {
        let now = s.now();
        let i = scaler as usize;
        match replica {
            SAMPLE => {
                self.sample(i);
                match self.scalers[i].deploy {
                    Some(d) => self.finish_rollout_draining(now, d),
                    None => self.finish_draining(now, i),
                }
                let every = self.sample_every(i);
                s.schedule_in(
                    every,
                    WorldEvent::Autoscale {
                        scaler,
                        replica,
                        generation,
                    },
                );
            }
            SYNC => {
                self.sync(s, i);
                let every = self.scalers[i].hpa.config().sync_period;
                s.schedule_in(
                    every,
                    WorldEvent::Autoscale {
                        scaler,
                        replica,
                        generation,
                    },
                );
            }
            r => {
                let sc = &self.scalers[i];
                let r = r as usize;
                if sc.generation[r] != generation || sc.slots[r] != Slot::Starting {
                    return; // cancelled before it was ready
                }
                let service = sc.service;
                self.set_slot(now, i, r, Slot::Ready);
                self.rotation[service][r] = true;
            }
        }
    }

    /// One sample of the metric, averaged over the ready replicas.
    fn sample(&mut self, i: usize) {
        let sc = &self.scalers[i];
        let metric = sc.hpa.config().metric;
        if metric == Metric::RequestRate {
            return; // measured from the requests counted between syncs
        }
        let state = &self.services[sc.service];
        let (mut sum, mut ready) = (0.0, 0u32);
        for (k, inst) in state.replicas.iter().enumerate() {
            if !self.scaled_ready(i, k) {
                continue;
            }
            ready += 1;
            sum += match metric {
                Metric::Utilisation => f64::from(inst.workers_busy) / f64::from(inst.workers),
                Metric::InFlight => {
                    f64::from(inst.workers_busy)
                        + (inst.queue.len() + inst.cold.blocked.len()) as f64
                }
                Metric::QueueLength => inst.queue.len() as f64,
                Metric::RequestRate => 0.0,
            };
        }
        if ready > 0 {
            let sc = &mut self.scalers[i];
            sc.sum += sum / f64::from(ready);
            sc.samples += 1;
        }
    }

    /// Draining replicas with nothing left to do leave.
    fn finish_draining(&mut self, now: SimTime, i: usize) {
        let service = self.scalers[i].service;
        for r in 0..self.scalers[i].slots.len() {
            if self.scalers[i].slots[r] != Slot::Draining {
                continue;
            }
            let inst = &self.services[service].replicas[r];
            if inst.workers_busy == 0 && inst.queue.is_empty() && inst.cold.blocked.is_empty() {
                self.set_slot(now, i, r, Slot::Absent);
            }
        }
    }

    fn sync(&mut self, s: &mut Scheduler<WorldEvent>, i: usize) {
        let now = s.now();
        let requests = self.services[self.scalers[i].service].report.stats.requests;
        let (ready, unready, _) = self.scaler_counts(i);
        let deploy = self.scalers[i].deploy;
        // With a rollout the scale target's count is the rollout's desired one; the canary's
        // pods are measured but not counted in it.
        let current = deploy.map_or(ready + unready, |d| self.deploys[d].desired());
        let sc = &mut self.scalers[i];
        let period = now - sc.last_sync;
        let metric = if sc.hpa.config().metric == Metric::RequestRate {
            let arrived = (requests - sc.requests_at_sync) as f64;
            if ready == 0 || period == SimDuration::ZERO {
                0.0
            } else {
                arrived / period.as_secs_f64() / f64::from(ready)
            }
        } else if sc.samples == 0 {
            0.0
        } else {
            sc.sum / f64::from(sc.samples)
        };
        sc.sum = 0.0;
        sc.samples = 0;
        sc.requests_at_sync = requests;
        sc.last_sync = now;
        let decision = sc.hpa.sync_replicas(now, current, ready, unready, metric);
        let c = sc.hpa.config();
        if ready > 0 && metric > c.target * (1.0 + c.tolerance) {
            sc.report.under_provisioned += period;
        } else if ready > 0 && metric < c.target * (1.0 - c.tolerance) && current > c.min_replicas {
            sc.report.over_provisioned += period;
        }
        let desired = decision.desired;
        if desired != current || decision.recommended != current {
            if sc.report.decisions.len() < MAX_DECISIONS {
                sc.report.decisions.push(decision);
            } else {
                sc.report.decisions_dropped += 1;
            }
        }
        let ready_after = c.provisioning + c.cold_start;
        let service = sc.service;
        if let Some(d) = deploy {
            if desired != current {
                self.deploys[d].set_desired(desired);
                self.reconcile(s, d);
            }
            return;
        }
        if desired > current {
            let mut wanted = desired - current;
            for r in 0..self.scalers[i].slots.len() {
                if wanted == 0 {
                    break;
                }
                if self.scalers[i].slots[r] != Slot::Absent {
                    continue;
                }
                wanted -= 1;
                self.set_slot(now, i, r, Slot::Starting);
                let generation = self.scalers[i].generation[r];
                s.schedule_in(
                    ready_after,
                    WorldEvent::Autoscale {
                        scaler: i as u32,
                        replica: r as u32,
                        generation,
                    },
                );
            }
        } else if desired < current {
            let mut extra = current - desired;
            // Replicas not ready yet go first, then the newest ready ones.
            for wanted in [Slot::Starting, Slot::Ready] {
                for r in (0..self.scalers[i].slots.len()).rev() {
                    if extra == 0 || self.scalers[i].slots[r] != wanted {
                        continue;
                    }
                    extra -= 1;
                    if wanted == Slot::Starting {
                        self.scalers[i].generation[r] += 1;
                        self.set_slot(now, i, r, Slot::Absent);
                    } else {
                        self.rotation[service][r] = false;
                        self.set_slot(now, i, r, Slot::Draining);
                    }
                }
            }
            self.finish_draining(now, i);
        }
    }

    /// A replica's slot changes: the cost integrated up to now, the counts logged.
    fn set_slot(&mut self, now: SimTime, i: usize, r: usize, slot: Slot) {
        self.scalers[i].slots[r] = slot;
        self.account_scaler(now, i);
    }

    pub(super) fn ops_report(&mut self, end: SimTime) -> OpsReport {
        for sc in &mut self.scalers {
            sc.report.replica_seconds += f64::from(sc.paid) * (end - sc.paid_since).as_secs_f64();
            sc.paid_since = end;
        }
        OpsReport {
            autoscalers: self.scalers.iter().map(|s| s.report.clone()).collect(),
            rollouts: self.rollout_reports(),
            functions: self.function_reports(end),
        }
    }
}
