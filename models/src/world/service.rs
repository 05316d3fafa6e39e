//! A service's running state: its replicas (workers, queue, inbound protections, epoch), the
//! configuration it needs while running, the jobs it serves, and forgetting a job that will
//! never answer.

use super::*;

/// One attempt being served at its callee.
pub(super) struct Job {
    pub(super) service: ServiceId,
    pub(super) endpoint: u16,
    /// The parallel step under way: bumped when a step starts and when it is decided, so that
    /// calls of a decided step are ignored when they end.
    pub(super) step: u32,
    pub(super) step_calls: u16,
    pub(super) step_ok: u16,
    pub(super) step_failed: u16,
    pub(super) step_join: Join,
    /// The calls of the parallel step under way (call slot, serial).
    pub(super) children: Vec<(CallSlot, CallSerial)>,
    /// The replica serving it, and that replica's epoch when the job arrived.
    pub(super) replica: u32,
    pub(super) epoch: u32,
    /// The edge the attempt came over; replies go back over it.
    pub(super) edge: EdgeId,
    /// The caller's call (alive while the job is) and the attempt this job serves.
    pub(super) call: CallSlot,
    pub(super) slot: AttemptSlot,
    pub(super) attempt: AttemptId,
    /// Index of the next downstream call in the service's plan.
    pub(super) next_call: u16,
    pub(super) holding_worker: bool,
    /// A downstream call was answered by a fallback: the reply is degraded.
    pub(super) degraded: bool,
    /// The deadline the request carries ([`NEVER`] without one).
    pub(super) deadline: SimTime,
    /// This job claimed the call's idempotency key, and whether it executed the work.
    pub(super) owns_key: bool,
    pub(super) executed: bool,
    /// When it reached the service (queueing delay, the concurrency limit's rtt).
    pub(super) arrived: SimTime,
    /// Its place under the service's adaptive concurrency limit.
    pub(super) permit: Option<Permit>,
    /// The root cause of the last downstream call that failed: what a `dependency` failure of
    /// this job goes back to.
    pub(super) root: FailureCause,
    /// When its own work began, while it is under way (the worker is then busy, not blocked).
    pub(super) work_started: Option<SimTime>,
}

impl Job {
    /// A request that has just arrived at its callee's replica: no step, worker or permit yet.
    #[inline(always)]
    pub(super) fn arriving(
        service: ServiceId,
        endpoint: u16,
        edge: EdgeId,
        call: CallSlot,
        slot: AttemptSlot,
        attempt: AttemptId,
        now: SimTime,
    ) -> Job {
        Job {
            service,
            endpoint,
            step: 0,
            step_calls: 0,
            step_ok: 0,
            step_failed: 0,
            step_join: Join::All,
            children: Vec::new(),
            replica: 0,
            epoch: 0,
            edge,
            call,
            slot,
            attempt,
            next_call: 0,
            holding_worker: false,
            degraded: false,
            deadline: NEVER,
            owns_key: false,
            executed: false,
            arrived: now,
            permit: None,
            root: FailureCause::Dependency,
            work_started: None,
        }
    }
}

/// A latency fault on a service's work: inside `[from, to)`, work takes `multiply` times as
/// long plus `add`, on one endpoint or all.
#[derive(Clone, Copy)]
pub(super) struct LatencyFault {
    pub(super) from: SimTime,
    pub(super) to: SimTime,
    pub(super) multiply: f64,
    pub(super) add: SimDuration,
    /// Its index among the scenario's faults (traces name it).
    pub(super) fault: u32,
    pub(super) endpoint: Option<u16>,
}

impl LatencyFault {
    pub(super) fn active_at(&self, now: SimTime) -> bool {
        self.from <= now && now < self.to
    }
}

/// One replica of a service, laid out for the request path (issue 11): admitting a request,
/// starting and ending its work read the first cache line, the call plan and the crash and
/// restart times the second, and the inbound protections, blocked senders and report (read
/// only on the general path or at the end) are out of line in [`ReplicaCold`].
/// `layout::replica_is_two_cache_lines` pins the size.
#[repr(C, align(64))]
pub(super) struct Replica {
    // First line: admission and work.
    pub(super) queue: VecDeque<JobSlot>,
    pub(super) host: u32,
    /// Requests served at once and places in the queue: the service's, or its version's
    /// during a rollout (`rollout.rs`).
    pub(super) workers: u32,
    pub(super) queue_capacity: u32,
    pub(super) workers_busy: u32,
    /// Crashes holding the process down (a host crash and a chaos failure may overlap).
    pub(super) down: u32,
    /// Bumped at each crash: jobs of an older epoch died with their process.
    pub(super) epoch: u32,
    /// Slower until then after a restart.
    pub(super) cold_until: SimTime,
    // Second line.
    /// Per endpoint, the edge ids of its call plan for this replica, in order.
    pub(super) call_edges: CallEdges,
    pub(super) cold_multiply: f64,
    pub(super) up_since: SimTime,
    pub(super) down_since: SimTime,
    /// A database's throughput: no operation starts before this.
    pub(super) next_start: SimTime,
    pub(super) cold: Box<ReplicaCold>,
}

/// A replica's state that a plain service's requests never touch.
pub(super) struct ReplicaCold {
    /// Senders waiting for a place in the full queue (backpressure), longest-waiting first.
    pub(super) blocked: VecDeque<JobSlot>,
    /// Inbound rate limiting and shedding, per replica as a sidecar would.
    pub(super) rate_limiter: Option<RateLimiter>,
    pub(super) codel: Option<Codel>,
    pub(super) limiter: Option<Limiter>,
    pub(super) report: ReplicaReport,
}

impl Replica {
    /// Whether the process runs (its host may still be down).
    pub(super) fn up(&self) -> bool {
        self.down == 0
    }
}

pub(super) struct ServiceState {
    pub(super) replicas: Vec<Replica>,
    /// Over all replicas, for the gauges.
    pub(super) busy_total: u32,
    pub(super) queue_total: u32,
    /// Replicas running now, and since when that count holds.
    pub(super) up_count: u32,
    pub(super) up_count_since: SimTime,
    pub(super) shed_queue: Option<u32>,
    pub(super) service_time_rng: SimRng,
    pub(super) error_rng: SimRng,
    /// Draws whether optional calls are made.
    pub(super) plan_rng: SimRng,
    /// The latency faults on this service.
    pub(super) latency_faults: Vec<LatencyFault>,
    /// (from, to, rate) of the error faults.
    pub(super) error_faults: Vec<(SimTime, SimTime, f64)>,
    /// (from, to) of the black holes.
    pub(super) black_holes: Vec<(SimTime, SimTime)>,
    /// (growth per hour, crash above, restart after) of a leak.
    pub(super) leak: Option<(f64, Option<f64>, SimDuration)>,
    /// The record's version, for [`ServiceKind::Record`].
    pub(super) version: u64,
    /// The one edge report whose attempt statistics this service's statistics would repeat
    /// sample for sample (see `World::mirror_service_stats`): they are copied at the end.
    pub(super) stats_mirror: Option<u32>,
    pub(super) report: ServiceReport,
}

/// Per service, what the world needs of its configuration while running.
pub(super) struct ServiceSpec {
    pub(super) endpoints: Vec<EndpointSpec>,
    /// Operations started per second at most, per replica (a database's throughput).
    pub(super) min_gap: Option<SimDuration>,
    pub(super) execution: Execution,
    pub(super) kind: ServiceKind,
    pub(super) idempotent: bool,
    pub(super) idempotency_keys: bool,
    pub(super) propagate_deadline: bool,
    /// A queued request leaves the queue when its caller gives up.
    pub(super) renege: bool,
    /// A request finding the queue full waits for a place.
    pub(super) backpressure: bool,
    pub(super) health: Health,
    /// Per replica, its endpoints once a mid-run change reached it (`changes.rs`); empty
    /// until then.
    pub(super) by_replica: Vec<Option<Vec<EndpointSpec>>>,
    /// Nothing acts on its requests beyond workers, queue, work and plan: they take the short
    /// path (`plain_service.rs`) in untraced runs.
    pub(super) plain: bool,
    /// Plain, and every step of every plan one call made for certain (`plain_service.rs`).
    pub(super) plain_plans: bool,
}

impl ServiceSpec {
    /// The endpoint as `replica` runs it.
    #[inline]
    pub(super) fn endpoint(&self, replica: usize, endpoint: usize) -> &EndpointSpec {
        match self.by_replica.get(replica) {
            Some(Some(changed)) => &changed[endpoint],
            _ => &self.endpoints[endpoint],
        }
    }
}

/// One endpoint: its work, and per call of its plan the probability and parallel group.
#[derive(Clone)]
pub(super) struct EndpointSpec {
    pub(super) service_time: Distribution,
    pub(super) error_rate: f64,
    pub(super) plan: Vec<(f64, Option<Group>)>,
}

impl Replica {
    /// A replica on `host`, running from the start, with its own inbound protections.
    pub(super) fn new(
        svc: &ServiceConfig,
        host: u32,
        host_name: String,
        call_edges: Vec<Vec<EdgeId>>,
    ) -> Replica {
        Replica {
            queue: VecDeque::new(),
            host,
            workers: svc.workers,
            queue_capacity: svc.queue,
            workers_busy: 0,
            down: 0,
            epoch: 0,
            cold_until: SimTime::ZERO,
            call_edges: CallEdges::new(call_edges),
            cold_multiply: 1.0,
            up_since: SimTime::ZERO,
            down_since: SimTime::ZERO,
            next_start: SimTime::ZERO,
            cold: Box::new(ReplicaCold {
                blocked: VecDeque::new(),
                rate_limiter: svc
                    .inbound
                    .rate_limit
                    .map(|c| RateLimiter::new(c, SimTime::ZERO)),
                codel: match &svc.inbound.shed {
                    Some(Shed::Codel(c)) => Some(Codel::new(*c, SimTime::ZERO)),
                    _ => None,
                },
                limiter: match &svc.inbound.shed {
                    Some(Shed::Concurrency(c)) => Some(Limiter::new(ConcurrencyLimit::new(*c))),
                    _ => None,
                },
                report: ReplicaReport {
                    host: host_name,
                    crashes: 0,
                    down: SimDuration::ZERO,
                    outages: Vec::new(),
                },
            }),
        }
    }
}

impl ServiceState {
    /// The statistics of one endpoint, when the service has several (see
    /// [`ServiceReport::endpoints`]).
    #[inline]
    pub(super) fn endpoint_stats(&mut self, endpoint: u16) -> Option<&mut OutcomeStats> {
        self.report
            .endpoints
            .get_mut(usize::from(endpoint))
            .map(|e| &mut e.stats)
    }

    /// A service with all its replicas running and no faults installed yet.
    pub(super) fn new(
        svc: &ServiceConfig,
        replicas: Vec<Replica>,
        streams: &RngStreams,
        window: SimDuration,
    ) -> ServiceState {
        let count = replicas.len() as u32;
        ServiceState {
            replicas,
            busy_total: 0,
            queue_total: 0,
            up_count: count,
            up_count_since: SimTime::ZERO,
            shed_queue: match svc.inbound.shed {
                Some(Shed::QueueLength { max }) => Some(max),
                _ => None,
            },
            service_time_rng: streams.stream(&["service", &svc.name, "service_time"]),
            error_rng: streams.stream(&["service", &svc.name, "errors"]),
            plan_rng: streams.stream(&["service", &svc.name, "plan"]),
            latency_faults: Vec::new(),
            error_faults: Vec::new(),
            black_holes: Vec::new(),
            leak: None,
            version: 0,
            stats_mirror: None,
            report: ServiceReport {
                name: svc.name.clone(),
                workers: svc.workers * count,
                workers_per_replica: svc.workers,
                queue_capacity: svc.queue.saturating_mul(count),
                queue_per_replica: svc.queue,
                stats: OutcomeStats::new(window),
                wasted_work: 0,
                work_ns: 0,
                queue_max: 0,
                gauges: Gauges::new(window),
                objective: svc.objective,
                duplicate_side_effects: 0,
                deduplicated: 0,
                expired: 0,
                reneged: (svc.abandonment == crate::config::Abandonment::Renege).then_some(0),
                backpressured: svc.backpressure.then_some(0),
                writes: 0,
                write_conflicts: 0,
                concurrency_limit: Vec::new(),
                concurrency_limit_initial: 0,
                replicas: Vec::new(),
                up_time_by_count: vec![SimDuration::ZERO; count as usize + 1],
                black_holed: 0,
                endpoints: if svc.endpoints.is_empty() {
                    Vec::new()
                } else {
                    std::iter::once(&svc.endpoint_name)
                        .chain(svc.endpoints.iter().map(|e| &e.name))
                        .map(|name| EndpointReport {
                            name: name.clone(),
                            stats: OutcomeStats::new(window),
                        })
                        .collect()
                },
            },
        }
    }
}

impl ServiceSpec {
    pub(super) fn new(s: &ServiceConfig) -> ServiceSpec {
        let endpoint =
            |service_time: &Distribution, error_rate: f64, calls: &[CallConfig]| EndpointSpec {
                service_time: service_time.clone(),
                error_rate,
                plan: calls.iter().map(|c| (c.probability, c.group)).collect(),
            };
        ServiceSpec {
            endpoints: std::iter::once(endpoint(&s.service_time, s.error_rate, &s.calls))
                .chain(
                    s.endpoints
                        .iter()
                        .map(|e| endpoint(&e.service_time, e.error_rate, &e.calls)),
                )
                .collect(),
            min_gap: s
                .max_throughput_per_s
                .map(|r| SimDuration::from_nanos_f64(1e9 / r)),
            execution: s.execution,
            kind: s.kind,
            idempotent: s.idempotent,
            idempotency_keys: s.idempotency_keys,
            propagate_deadline: s.propagate_deadline,
            renege: s.abandonment == crate::config::Abandonment::Renege,
            backpressure: s.backpressure,
            health: s.health,
            by_replica: Vec::new(),
            plain: false,
            plain_plans: false,
        }
    }
}

impl World {
    /// Whether the job's process died since it arrived (its work and its reply are lost).
    pub(super) fn orphan(&self, job: JobSlot) -> bool {
        let j = &self.jobs[job];
        self.services[j.service.0 as usize].replicas[j.replica as usize].epoch != j.epoch
    }

    /// Whether someone still waits for a job's result: the attempt it serves is live, and so,
    /// up the chain, is the job whose call sent it (still on that call's step) and the attempt
    /// that one serves, up to a client or user. Work done for nobody is wasted work.
    ///
    /// A link of a chain breaks only where [`World::chain_broken`] is called (an attempt let go
    /// while its job works, a call ended or a job gone while work it started goes on, a
    /// detached publish); until the first such event every job is awaited, so a run where no
    /// caller gives up walks no chain (a ten-service chain walked 55 links per request). Debug
    /// builds check the shortcut against the walk.
    #[inline]
    pub(super) fn awaited(&self, job: JobSlot) -> bool {
        if !self.chains_broken {
            debug_assert!(self.awaited_by_walk(job), "a broken chain was not flagged");
            return true;
        }
        self.awaited_by_walk(job)
    }

    /// Notes that some job may now work for a caller that gave up (see [`World::awaited`]).
    #[inline]
    pub(super) fn chain_broken(&mut self) {
        self.chains_broken = true;
    }

    /// [`World::awaited`], by walking the chain up to its client.
    fn awaited_by_walk(&self, job: JobSlot) -> bool {
        let mut job = job;
        // A chain never holds more jobs than there are: the bound only guards against a cycle.
        for _ in 0..=self.jobs.capacity() {
            let j = &self.jobs[job];
            if j.attempt == NO_ATTEMPT || !self.attempt_awaited(j.slot, j.attempt) {
                return false;
            }
            let call = &self.calls[j.call];
            match call.owner {
                Owner::Job(parent) => {
                    let p = &self.jobs[parent];
                    if call.parent_attempt == NO_ATTEMPT
                        || (p.attempt, p.step) != (call.parent_attempt, call.step)
                    {
                        return false;
                    }
                    job = parent;
                }
                Owner::Client { .. }
                | Owner::User { .. }
                | Owner::Delivery { .. }
                | Owner::Decision { .. }
                | Owner::SagaLog { .. } => {
                    return !call.finished;
                }
            }
        }
        unreachable!("a chain of jobs longer than the jobs there are")
    }

    /// Forgets a job that will never answer (its process crashed, a black hole swallowed it, its
    /// host is gone). Its caller finds out by its timeout, if it has one.
    pub(super) fn discard_job(&mut self, job_id: JobSlot) {
        assert!(
            !self.jobs[job_id].holding_worker || self.orphan(job_id),
            "a discarded job holds a worker of a live process"
        );
        let job = &mut self.jobs[job_id];
        let (call_id, service, replica) = (job.call, job.service.0 as usize, job.replica);
        if job.step_calls > job.step_ok + job.step_failed || !job.children.is_empty() {
            // Calls it made may still have work under way, now for nobody.
            self.chain_broken();
        }
        if let Some(permit) = self.jobs[job_id].permit.take() {
            let inst = &mut self.services[service].replicas[replica as usize];
            inst.cold
                .limiter
                .as_mut()
                .expect("a limiter")
                .ignore(permit);
        }
        // A removed job's attempt is none: calls it made recognise that it is gone.
        self.jobs[job_id].attempt = NO_ATTEMPT;
        self.jobs.remove(job_id);
        let call = &mut self.calls[call_id];
        call.jobs -= 1;
        if call.finished && call.jobs == 0 {
            self.calls.remove(call_id);
        }
    }
}

#[cfg(test)]
mod layout {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// A plain service's request reads both lines of its replica and nothing of its cold part
    /// (issue 11): a field that grows `Replica` past two lines belongs in `ReplicaCold`.
    #[test]
    fn replica_is_two_cache_lines() {
        assert_eq!(align_of::<Replica>(), 64);
        assert_eq!(size_of::<Replica>(), 128);
        // Admission and work read the first line only.
        assert!(offset_of!(Replica, cold_until) + size_of::<SimTime>() <= 64);
        assert!(offset_of!(Replica, epoch) < 64 && offset_of!(Replica, queue) < 64);
    }
}
