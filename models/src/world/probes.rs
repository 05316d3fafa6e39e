//! Self-healing: hung processes and the Kubernetes probes that find them. A hung replica
//! (`Fault::Hang`) keeps accepting connections and never answers: what it was doing and what
//! reaches it is lost to its callers, who find out by their timeouts. Its kubelet probes it
//! every `period`; a probe fails when no answer comes within `timeout`. After
//! `failure_threshold` liveness failures in a row the container is killed and restarted (a
//! crash in the reports, attributed to the hang, back after `restart`); readiness failures
//! take the replica out of its callers' load balancers until a probe passes again.
//! Probes are answered by the process itself, not queued behind requests: an overloaded but
//! live replica passes them.

use super::*;

/// What a probe event does.
pub(super) const HANG: u32 = 0;
pub(super) const LIVENESS: u32 = 1;
pub(super) const READINESS: u32 = 2;
pub(super) const LIVENESS_FAILED: u32 = 3;
pub(super) const READINESS_FAILED: u32 = 4;

pub(super) struct Prober {
    config: crate::ops::ProbesConfig,
    live_failures: Vec<u32>,
    ready_failures: Vec<u32>,
}

impl World {
    /// The probes, and the hung and unready flags of the services that can need them.
    pub(super) fn install_probes(&mut self, config: &WorldConfig) {
        let n = self.services.len();
        self.hung = vec![Vec::new(); n];
        self.unready = vec![Vec::new(); n];
        for f in &config.faults {
            if let Fault::Hang { service, .. } = f {
                let s = service.0 as usize;
                self.hung[s] = vec![None; self.services[s].replicas.len()];
            }
        }
        for p in &config.ops.probes {
            let s = p.service.0 as usize;
            let replicas = self.services[s].replicas.len();
            if p.readiness.is_some() {
                self.unready[s] = vec![false; replicas];
                // Readiness removes a replica from the endpoints: Envoy's panic threshold,
                // which counts listed hosts, does not apply to it.
                for e in self.edges.iter_mut().filter(|e| e.to.0 as usize == s) {
                    e.balancer = e.balancer.clone().with_panic_threshold_percent(0);
                }
            }
            self.probers.push(Prober {
                config: p.clone(),
                live_failures: vec![0; replicas],
                ready_failures: vec![0; replicas],
            });
        }
    }

    pub(super) fn schedule_probes(&mut self, s: &mut Scheduler<WorldEvent>) {
        for (fault, spec) in self.fault_specs.iter().enumerate() {
            if let Fault::Hang {
                service,
                replica,
                at,
            } = *spec
            {
                // The fault's index rides above the low byte, where the kind is.
                s.schedule_at(
                    at,
                    WorldEvent::Probe {
                        service: service.0,
                        replica,
                        what: HANG | ((fault as u32) << 8),
                    },
                );
            }
        }
        for p in &self.probers {
            let service = p.config.service.0;
            for replica in 0..p.live_failures.len() as u32 {
                for (probe, what) in [
                    (p.config.liveness, LIVENESS),
                    (p.config.readiness, READINESS),
                ] {
                    if let Some(c) = probe {
                        s.schedule_in(
                            c.period,
                            WorldEvent::Probe {
                                service,
                                replica,
                                what,
                            },
                        );
                    }
                }
            }
        }
    }

    pub(super) fn on_probe<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        service: u32,
        replica: u32,
        what: u32,
    ) {
        let now = s.now();
        let (sid, r) = (service as usize, replica as usize);
        if what & 0xff == HANG {
            self.hang_replica::<TRACE>(now, service, replica, what >> 8);
            return;
        }
        let p = self
            .probers
            .iter()
            .position(|p| p.config.service.0 == service)
            .expect("a probed service");
        let inst = &self.services[sid].replicas[r];
        let hung = self.hung[sid].get(r).is_some_and(Option::is_some);
        let failing = |live: bool| hung || (!live && !inst.up());
        let config = &self.probers[p].config;
        match what {
            LIVENESS | READINESS => {
                let live = what == LIVENESS;
                let c = if live {
                    config.liveness
                } else {
                    config.readiness
                }
                .expect("a probe");
                s.schedule_in(
                    c.period,
                    WorldEvent::Probe {
                        service,
                        replica,
                        what,
                    },
                );
                if failing(live) {
                    let failed = if live {
                        LIVENESS_FAILED
                    } else {
                        READINESS_FAILED
                    };
                    s.schedule_in(
                        c.timeout,
                        WorldEvent::Probe {
                            service,
                            replica,
                            what: failed,
                        },
                    );
                } else if live {
                    self.probers[p].live_failures[r] = 0;
                } else {
                    self.probers[p].ready_failures[r] = 0;
                    self.unready[sid][r] = false;
                }
            }
            LIVENESS_FAILED => {
                if !failing(true) {
                    return; // restarted since
                }
                let c = config.liveness.expect("a liveness probe");
                let restart = config.restart;
                let failures = &mut self.probers[p].live_failures[r];
                *failures += 1;
                if *failures >= c.failure_threshold {
                    *failures = 0;
                    let fault = self.hung[sid][r].take().unwrap_or(NONE);
                    // The hang ends with its process: the reports judge the recovery from here.
                    if let Some(f) = self.faults.get_mut(fault as usize) {
                        f.to = now;
                    }
                    self.crash_replica::<TRACE>(s, service, replica, fault);
                    s.schedule_in(restart, WorldEvent::Restart { service, replica });
                }
            }
            READINESS_FAILED => {
                if !failing(false) {
                    return;
                }
                let c = config.readiness.expect("a readiness probe");
                let failures = &mut self.probers[p].ready_failures[r];
                *failures += 1;
                if *failures >= c.failure_threshold {
                    self.unready[sid][r] = true;
                }
            }
            _ => unreachable!("probe event {what}"),
        }
    }

    /// The process freezes: the work in hand and the queue are never answered, and what
    /// arrives from now on is swallowed (`on_deliver`). Its workers are lost with it.
    fn hang_replica<const TRACE: bool>(
        &mut self,
        now: SimTime,
        service: u32,
        replica: u32,
        fault: u32,
    ) {
        let (sid, r) = (service as usize, replica as usize);
        if self.hung[sid][r].is_some() || !self.services[sid].replicas[r].up() {
            return;
        }
        self.hung[sid][r] = Some(fault);
        let state = &mut self.services[sid];
        let inst = &mut state.replicas[r];
        inst.epoch += 1;
        let busy = inst.workers_busy;
        inst.workers_busy = 0;
        let queued = inst.queue.len() as u32;
        let lost: Vec<JobSlot> = inst
            .queue
            .drain(..)
            .chain(inst.cold.blocked.drain(..))
            .collect();
        state.busy_total -= busy;
        state.queue_total -= queued;
        state
            .report
            .gauges
            .set(now, state.busy_total, state.queue_total);
        for job in lost {
            self.discard_job(job);
        }
        self.release_workers::<TRACE>(now, service, replica);
    }

    /// Whether a replica is hung: what reaches it is swallowed.
    #[inline]
    pub(super) fn is_hung(&self, service: usize, replica: u32) -> bool {
        self.hung
            .get(service)
            .and_then(|h| h.get(replica as usize))
            .is_some_and(Option::is_some)
    }
}
