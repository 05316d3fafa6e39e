//! The fault schedule's effects on processes: crashes and restarts of replicas and hosts,
//! chaos processes (failure and repair draws), and what each target covers.

use super::fault_reports::{ActsOn, describe, partition_report};
use super::*;

/// The replicas a fault target covers, as (service, replica), in service then replica order.
pub(super) fn replicas_of(config: &WorldConfig, target: &Target) -> Vec<(u32, u32)> {
    let on_hosts = |keep: &dyn Fn(usize) -> bool| {
        let mut v = Vec::new();
        for (s, svc) in config.services.iter().enumerate() {
            for (r, &h) in svc.replicas.iter().enumerate() {
                if keep(h) {
                    v.push((s as u32, r as u32));
                }
            }
        }
        v
    };
    let topology = &config.topology;
    match *target {
        Target::Replica { service, index } => vec![(service.0, index)],
        Target::Service(service) => (0..config.services[service.0 as usize].replicas.len())
            .map(|r| (service.0, r as u32))
            .collect(),
        Target::Host(host) => on_hosts(&|h| h == host),
        Target::Zone(zone) => on_hosts(&|h| topology.hosts[h].zone == zone),
        Target::Region(region) => on_hosts(&|h| topology.region_of(h) == region),
    }
}

/// The hosts a host-, zone- or region-level target covers (none for a service target).
pub(super) fn hosts_of(topology: &crate::topology::Topology, target: &Target) -> Vec<usize> {
    (0..topology.hosts.len())
        .filter(|&h| match *target {
            Target::Host(host) => h == host,
            Target::Zone(zone) => topology.hosts[h].zone == zone,
            Target::Region(region) => topology.region_of(h) == region,
            Target::Replica { .. } | Target::Service(_) => false,
        })
        .collect()
}

/// What one chaos process fails: a replica's process, or a whole host.
#[derive(Clone, Copy)]
pub(super) enum Unit {
    Replica(u32, u32),
    Host(u32),
}

impl World {
    /// A replica's process dies: its queue and the work in progress are lost (their callers
    /// find out by their timeouts), and it takes no requests until it restarts.
    pub(super) fn crash_replica<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        service: u32,
        replica: u32,
        fault: u32,
    ) {
        let now = s.now();
        let state = &mut self.services[service as usize];
        let inst = &mut state.replicas[replica as usize];
        inst.down += 1;
        if inst.down > 1 {
            return;
        }
        if TRACE {
            self.trace_replica(now, TraceKind::ReplicaCrash, service, replica, fault);
        }
        let state = &mut self.services[service as usize];
        let inst = &mut state.replicas[replica as usize];
        inst.epoch += 1;
        inst.cold.report.crashes += 1;
        inst.cold.report.outages.push(Outage {
            from: now,
            to: None,
            fault: (fault != NONE).then_some(fault),
        });
        inst.down_since = now;
        let busy = inst.workers_busy;
        inst.workers_busy = 0;
        let queued: Vec<JobSlot> = inst.queue.drain(..).collect();
        let blocked: Vec<JobSlot> = inst.cold.blocked.drain(..).collect();
        state.busy_total -= busy;
        state.queue_total -= queued.len() as u32;
        state.report.up_time_by_count[state.up_count as usize] += now - state.up_count_since;
        state.up_count -= 1;
        state.up_count_since = now;
        state
            .report
            .gauges
            .set(now, state.busy_total, state.queue_total);
        for job in queued.into_iter().chain(blocked) {
            self.discard_job(job);
        }
        self.release_workers::<TRACE>(now, service, replica);
        if self.functions.is_some() {
            self.function_crashed(now, service, replica);
        }
        if self.broker.is_some() {
            self.broker_crashed::<TRACE>(s, service, replica);
        }
    }

    /// The jobs a replica was working on hold no worker any more (its process died or was
    /// killed); they are discarded when their next step comes (their work ends, or their
    /// downstream call returns).
    pub(super) fn release_workers<const TRACE: bool>(
        &mut self,
        now: SimTime,
        service: u32,
        replica: u32,
    ) {
        let holding: Vec<JobSlot> = self
            .jobs
            .slots()
            .filter(|(_, job)| {
                job.holding_worker
                    && job.service.0 == service
                    && job.replica == replica
                    && job.attempt != NO_ATTEMPT
            })
            .map(|(j, _)| j)
            .collect();
        for job in holding {
            if TRACE {
                self.trace_worker_released(now, job);
            }
            self.work_ended(job, now);
            self.jobs[job].holding_worker = false;
        }
    }

    /// A replica's process runs again, cold for a while.
    pub(super) fn restart_replica(
        &mut self,
        now: SimTime,
        service: u32,
        replica: u32,
        cold: Option<ColdStart>,
    ) {
        let state = &mut self.services[service as usize];
        let inst = &mut state.replicas[replica as usize];
        assert!(inst.down > 0, "restarting a running replica");
        inst.down -= 1;
        if inst.down > 0 {
            return;
        }
        inst.cold.report.down += now - inst.down_since;
        if let Some(outage) = inst.cold.report.outages.last_mut() {
            outage.to = Some(now);
        }
        inst.up_since = now;
        if self.functions.is_some() {
            self.function_restarted(now, service, replica);
        }
        if self.tracer.is_some() {
            // Restarts are rare: a run-time check instead of a traced copy of every caller.
            self.trace_replica(now, TraceKind::ReplicaRestart, service, replica, NONE);
        }
        let state = &mut self.services[service as usize];
        let inst = &mut state.replicas[replica as usize];
        if let Some(c) = cold {
            inst.cold_until = now + c.duration;
            inst.cold_multiply = c.multiply;
        }
        state.report.up_time_by_count[state.up_count as usize] += now - state.up_count_since;
        state.up_count += 1;
        state.up_count_since = now;
        if let Some(b) = self.broker.as_deref_mut() {
            b.woken.push((service, replica));
        }
        if self.twopc.is_some() || self.sagas.as_ref().is_some_and(|s| s.logged) {
            self.restarted.push((service, replica));
        }
    }

    /// Replicas that restarted during the event read their logs: 2PC coordinators first, then
    /// saga orchestrators.
    pub(super) fn recover<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>) {
        let restarted = std::mem::take(&mut self.restarted);
        if self.twopc.is_some() {
            self.twopc_recover::<TRACE>(s, &restarted);
        }
        if self.sagas.as_ref().is_some_and(|x| x.logged) {
            for &(service, replica) in &restarted {
                self.saga_recover::<TRACE>(s, service, replica);
            }
        }
    }

    /// The replicas and hosts a crash or chaos target takes down.
    pub(super) fn target_units(&self, target: &Target) -> (Vec<(u32, u32)>, Vec<u32>) {
        let hosts: Vec<u32> = match *target {
            Target::Replica { .. } | Target::Service(_) => Vec::new(),
            _ => (0..self.host_down.len() as u32)
                .filter(|&h| self.host_in(h as usize, target))
                .collect(),
        };
        let replicas = match *target {
            Target::Replica { service, index } => vec![(service.0, index)],
            Target::Service(service) => (0..self.services[service.0 as usize].replicas.len())
                .map(|r| (service.0, r as u32))
                .collect(),
            _ => hosts
                .iter()
                .flat_map(|&h| self.host_replicas[h as usize].iter().copied())
                .collect(),
        };
        (replicas, hosts)
    }

    pub(super) fn host_in(&self, host: usize, target: &Target) -> bool {
        let zone = self.net_zone(host);
        match *target {
            Target::Host(h) => h == host,
            Target::Zone(z) => z == zone,
            Target::Region(r) => r == self.zone_region[zone],
            Target::Replica { .. } | Target::Service(_) => false,
        }
    }

    pub(super) fn net_zone(&self, host: usize) -> usize {
        self.host_zone[host]
    }

    pub(super) fn on_crash<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        fault: u32,
    ) {
        let Fault::Crash {
            target,
            restart_after,
            ..
        } = self.fault_specs[fault as usize].clone()
        else {
            unreachable!("a crash event names a crash fault")
        };
        let (replicas, hosts) = self.target_units(&target);
        for h in hosts {
            self.host_down[h as usize] += 1;
        }
        for (service, replica) in replicas {
            self.crash_replica::<TRACE>(s, service, replica, fault);
        }
        if let Some(after) = restart_after {
            s.schedule_in(after, WorldEvent::RestartTargets { fault });
        }
    }

    pub(super) fn on_restart_targets(&mut self, now: SimTime, fault: u32) {
        let Fault::Crash {
            target, cold_start, ..
        } = self.fault_specs[fault as usize].clone()
        else {
            unreachable!("a restart event names a crash fault")
        };
        let (replicas, hosts) = self.target_units(&target);
        for h in hosts {
            self.host_down[h as usize] -= 1;
        }
        for (service, replica) in replicas {
            self.restart_replica(now, service, replica, cold_start);
        }
    }

    /// Draws from a chaos fault's distribution (mttf or mttr) on a unit's stream.
    pub(super) fn chaos_draw(&mut self, fault: u32, unit: u32, repair: bool) -> SimDuration {
        let (mttf, mttr) = match &self.fault_specs[fault as usize] {
            Fault::Chaos { mttf, mttr, .. } => (mttf, mttr),
            _ => unreachable!("a chaos event names a chaos fault"),
        };
        let rng = &mut self.chaos[fault as usize][unit as usize].1;
        if repair {
            mttr.sample(rng)
        } else {
            mttf.sample(rng)
        }
    }

    pub(super) fn on_chaos<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        fault: u32,
        unit: u32,
        fail: bool,
    ) {
        let cold = match &self.fault_specs[fault as usize] {
            Fault::Chaos { cold_start, .. } => *cold_start,
            _ => None,
        };
        let now = s.now();
        let which = self.chaos[fault as usize][unit as usize].0;
        let replicas: Vec<(u32, u32)> = match which {
            Unit::Replica(service, replica) => vec![(service, replica)],
            Unit::Host(h) => {
                if fail {
                    self.host_down[h as usize] += 1;
                } else {
                    self.host_down[h as usize] -= 1;
                }
                self.host_replicas[h as usize].clone()
            }
        };
        for (service, replica) in replicas {
            if fail {
                self.crash_replica::<TRACE>(s, service, replica, fault);
            } else {
                self.restart_replica(now, service, replica, cold);
            }
        }
        let f = fault as usize;
        if fail {
            if let Some((free, waiting)) = &mut self.crews[f] {
                if *free == 0 {
                    // Every crew is busy: the repair starts when one comes free.
                    waiting.push_back(unit);
                    return;
                }
                *free -= 1;
            }
            let repair = self.chaos_draw(fault, unit, true);
            s.schedule_in(repair, WorldEvent::ChaosRepair { fault, unit });
        } else {
            if let Some((free, waiting)) = &mut self.crews[f] {
                // The crew moves on to the longest-waiting failed unit, if any.
                match waiting.pop_front() {
                    Some(next) => {
                        let repair = self.chaos_draw(fault, next, true);
                        s.schedule_in(repair, WorldEvent::ChaosRepair { fault, unit: next });
                    }
                    None => *free += 1,
                }
            }
            let up = self.chaos_draw(fault, unit, false);
            s.schedule_in(up, WorldEvent::ChaosFail { fault, unit });
        }
    }
}

/// What the fault schedule sets up before the run: the faults as the reports describe them
/// (partitions last), per fault its chaos units with their streams, and the link faults.
pub(super) struct Schedule {
    pub(super) reports: Vec<FaultReport>,
    pub(super) chaos: Vec<Vec<(Unit, SimRng)>>,
    pub(super) link_faults: Vec<LinkFault>,
}

/// Installs the scripted faults on the services and clients they act on.
pub(super) fn install(
    config: &WorldConfig,
    streams: &RngStreams,
    services: &mut [ServiceState],
    clients: &mut [ClientState],
) -> Schedule {
    let end = SimTime::ZERO + config.duration;
    let mut schedule = Schedule {
        reports: Vec::with_capacity(config.faults.len() + config.network.partitions.len()),
        chaos: Vec::with_capacity(config.faults.len()),
        link_faults: Vec::new(),
    };
    for (index, fault) in config.faults.iter().enumerate() {
        let index = index as u32;
        let units = match fault {
            Fault::Chaos { target, .. } => chaos_units(config, streams, index, target),
            _ => Vec::new(),
        };
        schedule.chaos.push(units);
        if let Some(link) = install_one(config, fault, index, services, clients) {
            schedule.link_faults.push(link);
        }
        let (service, description) = describe(config, fault);
        let acts_on = ActsOn::fault(config, fault);
        let (from, to) = fault.active(end);
        schedule.reports.push(FaultReport {
            kind: fault.kind(),
            service,
            services: acts_on.services,
            clients: acts_on.clients,
            description,
            from,
            to,
        });
    }
    // Partitions are faults of the network; the reports analyse them like the others.
    for p in &config.network.partitions {
        schedule.reports.push(partition_report(config, p, end));
    }
    schedule
}

/// Puts a fault's windows on the service or client it acts on; a link fault is returned for
/// the network. Crashes and chaos act through events instead.
fn install_one(
    config: &WorldConfig,
    fault: &Fault,
    index: u32,
    services: &mut [ServiceState],
    clients: &mut [ClientState],
) -> Option<LinkFault> {
    match fault {
        Fault::Latency {
            service,
            endpoint,
            multiply,
            add,
            from,
            to,
        } => services[service.0 as usize]
            .latency_faults
            .push(LatencyFault {
                from: *from,
                to: *to,
                multiply: *multiply,
                add: *add,
                fault: index,
                endpoint: *endpoint,
            }),
        Fault::LinkLatency {
            a,
            b,
            one_way,
            multiply,
            add,
            from,
            to,
        } => {
            let topology = &config.topology;
            let members = |side: &[Place]| -> Vec<bool> {
                (0..topology.hosts.len())
                    .map(|h| side.iter().any(|p| holds(topology, p, h)))
                    .collect()
            };
            return Some(LinkFault {
                in_a: members(a),
                in_b: members(b),
                one_way: *one_way,
                multiply: *multiply,
                add: *add,
                from: *from,
                to: *to,
            });
        }
        Fault::Errors {
            service,
            rate,
            from,
            to,
        } => services[service.0 as usize]
            .error_faults
            .push((*from, *to, *rate)),
        Fault::BlackHole { service, from, to } => {
            services[service.0 as usize].black_holes.push((*from, *to))
        }
        // Scheduled and acted on by `probes.rs`.
        Fault::Hang { .. } => {}
        Fault::Leak {
            service,
            growth_per_hour,
            crash_above,
            restart_after,
        } => {
            services[service.0 as usize].leak =
                Some((*growth_per_hour, *crash_above, *restart_after))
        }
        Fault::LoadSpike {
            client,
            multiply,
            from,
            to,
        } => clients[client.0 as usize]
            .spikes
            .push((*from, *to, *multiply)),
        Fault::Crash { .. } | Fault::Chaos { .. } => {}
    }
    None
}

/// A chaos fault's units (replicas, or whole hosts for host-level targets), each with its own
/// stream so that adding a unit does not change the others' draws.
fn chaos_units(
    config: &WorldConfig,
    streams: &RngStreams,
    index: u32,
    target: &Target,
) -> Vec<(Unit, SimRng)> {
    let i = index.to_string();
    let topology = &config.topology;
    match *target {
        Target::Replica { .. } | Target::Service(_) => replicas_of(config, target)
            .into_iter()
            .map(|(s, r)| {
                let svc = &config.services[s as usize].name;
                let key = ["chaos", &i, svc, &r.to_string()];
                (Unit::Replica(s, r), streams.stream(&key))
            })
            .collect(),
        _ => hosts_of(topology, target)
            .into_iter()
            .map(|h| {
                let key = ["chaos", &i, "host", &topology.hosts[h].name];
                (Unit::Host(h as u32), streams.stream(&key))
            })
            .collect(),
    }
}

/// Whether a place (host, zone or region) holds host `h`.
pub(super) fn holds(topology: &Topology, place: &Place, h: usize) -> bool {
    match *place {
        Place::Host(x) => x == h,
        Place::Zone(z) => topology.hosts[h].zone == z,
        Place::Region(r) => topology.region_of(h) == r,
    }
}
