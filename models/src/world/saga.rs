//! Orchestrated sagas (issue 14): a job at a saga's endpoint walks `data::saga`'s machine
//! instead of its plan. Each step and each compensation is an ordinary call of that endpoint's
//! plan (`call::start_call`), so timeouts, retries, breakers and partitions apply to them
//! unchanged; compensations carry no deadline (the orchestrator owes them whatever its own
//! caller's patience). A step's extra executions at a non-idempotent callee are the saga's
//! duplicates. `World::sagas` is `None` without sagas: other runs take one `None` check per
//! plan step and per duplicate execution.
//!
//! With a saga log (`saga_log: true` on the orchestrating service) the sagas are this struct's
//! records, which outlive the replica's process as a database table does: when a crashed
//! replica restarts it resumes the sagas it was running ([`Saga::resume`]), as calls owned by
//! the saga ([`Owner::SagaLog`]) rather than by a job. Their caller was answered long ago (its
//! call failed with the crash, or timed out): a resumed saga answers nobody. The step it sends
//! again may have been done already; a second execution of a step at a non-idempotent callee
//! is a duplicate, counted through the step calls' serials (one more check per execution, only
//! in runs with a saga log).

use std::collections::BTreeMap;

use super::*;
use crate::data::saga::{Next, Saga, SagaConfig, SagaEnd, SagaReport, SagaStats};

/// One saga in progress, as the orchestrator's log records it.
struct Running {
    config: usize,
    saga: Saga,
    /// The orchestrating replica and its epoch when it last drove the saga (a crash bumps the
    /// epoch: the saga is then the restart's to resume).
    replica: u32,
    epoch: u32,
    /// The job driving it, by its attempt; `NO_ATTEMPT` once resumed from the log.
    attempt: AttemptId,
    recovered: bool,
    /// With a log: the steps executed at their callee (a bit per step, at most 64 steps), and
    /// the serials of the steps' calls (forgotten with the saga).
    executed: u64,
    serials: Vec<CallSerial>,
}

/// Every saga's configuration, the sagas running and their counts.
pub(super) struct Sagas {
    configs: Vec<SagaConfig>,
    /// The saga of each orchestrating (service, endpoint).
    by_endpoint: BTreeMap<(usize, usize), usize>,
    /// The (saga, step) whose call goes over each edge: a step's duplicates are counted there.
    steps_by_edge: BTreeMap<EdgeId, (usize, usize)>,
    /// The sagas running, by a serial of their own, and the job driving each, by the job's
    /// attempt (never reused, so a job slot freed by a crash and reused cannot inherit a saga).
    next_id: u64,
    running: BTreeMap<u64, Running>,
    by_attempt: BTreeMap<AttemptId, u64>,
    /// Whether any saga has a log; then the step calls of logged sagas, by serial.
    pub(super) logged: bool,
    step_calls: BTreeMap<CallSerial, (u64, usize)>,
    stats: Vec<SagaStats>,
    /// Compensation calls made and failed for good, per saga.
    compensations: Vec<(u64, u64)>,
    /// Sagas resumed from the log, per saga.
    recovered: Vec<u64>,
}

impl Sagas {
    /// The sagas of `config`, with the edges of each orchestrating replica; `None` without any.
    pub(super) fn new(config: &WorldConfig, services: &[ServiceState]) -> Option<Box<Sagas>> {
        if config.sagas.is_empty() {
            return None;
        }
        let mut by_endpoint = BTreeMap::new();
        let mut steps_by_edge = BTreeMap::new();
        for (i, saga) in config.sagas.iter().enumerate() {
            by_endpoint.insert((saga.service, saga.endpoint), i);
            for replica in &services[saga.service].replicas {
                let edges = &replica.call_edges[saga.endpoint];
                for (k, step) in saga.steps.iter().enumerate() {
                    steps_by_edge.insert(edges[step.call], (i, k));
                }
            }
        }
        let n = config.sagas.len();
        Some(Box::new(Sagas {
            configs: config.sagas.clone(),
            by_endpoint,
            steps_by_edge,
            next_id: 0,
            running: BTreeMap::new(),
            by_attempt: BTreeMap::new(),
            logged: config.sagas.iter().any(|c| c.log),
            step_calls: BTreeMap::new(),
            stats: vec![SagaStats::default(); n],
            compensations: vec![(0, 0); n],
            recovered: vec![0; n],
        }))
    }

    /// A call over `edge` executed once more at its callee (a retry or a copy after the first
    /// execution): a duplicate when the edge makes a saga's step at a non-idempotent callee.
    pub(super) fn duplicate(&mut self, edge: EdgeId) {
        if let Some(&(i, k)) = self.steps_by_edge.get(&edge) {
            let step = self.configs[i].steps[k];
            self.stats[i].executed(&step, 2);
        }
    }

    /// A call executed at its callee for the first time: with a log, when it is a logged
    /// saga's step and another call of that step (made before a crash, the step sent again
    /// after it) executed already, a duplicate at a non-idempotent callee.
    pub(super) fn first_execution(&mut self, serial: CallSerial) {
        let Some(&(id, k)) = self.step_calls.get(&serial) else {
            return;
        };
        let r = self.running.get_mut(&id).expect("a step call's saga runs");
        if r.executed & (1 << k) != 0 {
            let step = self.configs[r.config].steps[k];
            self.stats[r.config].executed(&step, 2);
        }
        r.executed |= 1 << k;
    }

    pub(super) fn footprint_bytes(&self) -> usize {
        // A B-tree entry costs about its key and value; a running saga also holds its serials.
        let serials: usize = (self.running.values()).map(|r| r.serials.capacity()).sum();
        self.running.len() * std::mem::size_of::<(u64, Running)>()
            + self.by_attempt.len() * std::mem::size_of::<(AttemptId, u64)>()
            + self.step_calls.len() * std::mem::size_of::<(CallSerial, (u64, usize))>()
            + serials * std::mem::size_of::<CallSerial>()
    }
}

impl World {
    /// A job at a saga's endpoint whose own work is done starts its saga: true when it did
    /// (the plan is then the saga's).
    pub(super) fn saga_start<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
    ) -> bool {
        let job = &self.jobs[job_id];
        let key = (job.service.0 as usize, usize::from(job.endpoint));
        let (attempt, replica, epoch) = (job.attempt, job.replica, job.epoch);
        let Some(sagas) = self.sagas.as_mut() else {
            return false;
        };
        let Some(&i) = sagas.by_endpoint.get(&key) else {
            return false;
        };
        let (saga, next) = Saga::start(&sagas.configs[i].steps, &mut sagas.stats[i]);
        let id = sagas.next_id;
        sagas.next_id += 1;
        let running = Running {
            config: i,
            saga,
            replica,
            epoch,
            attempt,
            recovered: false,
            executed: 0,
            serials: Vec::new(),
        };
        sagas.running.insert(id, running);
        sagas.by_attempt.insert(attempt, id);
        self.saga_follow::<TRACE>(s, id, Some(job_id), next);
        true
    }

    /// The job's current step or compensation was decided: true when the job runs a saga (the
    /// machine then says what comes next).
    pub(super) fn saga_step_done<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        ok: bool,
    ) -> bool {
        let attempt = self.jobs[job_id].attempt;
        let Some(sagas) = self.sagas.as_mut() else {
            return false;
        };
        let Some(&id) = sagas.by_attempt.get(&attempt) else {
            return false;
        };
        self.saga_advance::<TRACE>(s, id, Some(job_id), ok);
        true
    }

    /// A call of a saga resumed from its log ended: the saga goes on, unless the replica that
    /// made the call has crashed since (its restart resumes the saga again).
    pub(super) fn saga_log_call_done<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        id: u64,
        epoch: u32,
        ok: bool,
    ) {
        let sagas = self.sagas.as_ref().expect("a saga runs");
        let Some(r) = sagas.running.get(&id) else {
            return;
        };
        let service = sagas.configs[r.config].service;
        if r.epoch != epoch || self.services[service].replicas[r.replica as usize].epoch != epoch {
            return;
        }
        self.saga_advance::<TRACE>(s, id, None, ok);
    }

    /// The saga's current call ended, `ok` or failed for good: its machine says what next.
    fn saga_advance<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        id: u64,
        job: Option<JobSlot>,
        ok: bool,
    ) {
        let sagas = self.sagas.as_mut().expect("a saga runs");
        let r = sagas.running.get_mut(&id).expect("a saga runs");
        let i = r.config;
        if r.saga.compensating() {
            sagas.compensations[i].1 += u64::from(!ok);
        }
        let next = r
            .saga
            .done(&sagas.configs[i].steps, ok, &mut sagas.stats[i]);
        self.saga_follow::<TRACE>(s, id, job, next);
    }

    /// Makes the call the machine asked for, or ends the saga and answers its caller (a saga
    /// resumed from its log, `job` `None`, answers nobody).
    fn saga_follow<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        id: u64,
        job: Option<JobSlot>,
        next: Next,
    ) {
        let sagas = self.sagas.as_mut().expect("a saga runs");
        let r = &sagas.running[&id];
        let (i, replica, epoch) = (r.config, r.replica as usize, r.epoch);
        let (index, compensation, step) = match next {
            Next::Call(k) => (sagas.configs[i].steps[k].call, false, Some(k)),
            Next::Compensate(k) => {
                sagas.compensations[i].0 += 1;
                let c = sagas.configs[i].steps[k].compensate;
                (
                    c.expect("the machine compensates only steps that have one"),
                    true,
                    None,
                )
            }
            Next::End(end) => {
                let r = sagas.running.remove(&id).expect("a saga runs");
                sagas.by_attempt.remove(&r.attempt);
                for serial in &r.serials {
                    sagas.step_calls.remove(serial);
                }
                let Some(job_id) = job else {
                    return;
                };
                let outcome = match end {
                    SagaEnd::Completed if self.jobs[job_id].degraded => Outcome::Degraded,
                    SagaEnd::Completed => Outcome::Ok,
                    SagaEnd::Compensated | SagaEnd::Inconsistent => {
                        Outcome::Failed(FailureCause::Dependency)
                    }
                };
                self.reply::<TRACE>(s, job_id, outcome);
                return;
            }
        };
        let (service, endpoint) = (sagas.configs[i].service, sagas.configs[i].endpoint);
        if let (true, Some(k)) = (sagas.configs[i].log, step) {
            // Known before the call starts: its callee may execute it at once.
            let serial = CallSerial(self.next_serial);
            let r = sagas.running.get_mut(&id).expect("a saga runs");
            r.serials.push(serial);
            sagas.step_calls.insert(serial, (id, k));
        }
        match job {
            Some(job_id) => self.saga_job_call::<TRACE>(s, job_id, index, compensation),
            None => {
                let edge = self.services[service].replicas[replica].call_edges[endpoint][index];
                let owner = Owner::SagaLog { saga: id, epoch };
                // Nobody waits for it: no deadline but the call's own timeout.
                self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Serve);
            }
        }
    }

    /// The job makes its saga's call `index` of its plan.
    fn saga_job_call<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        index: usize,
        compensation: bool,
    ) {
        let job = &mut self.jobs[job_id];
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        let endpoint = usize::from(job.endpoint);
        job.next_call = index as u16 + 1;
        job.step += 1;
        job.step_calls = 1;
        job.step_ok = 0;
        job.step_failed = 0;
        job.step_join = Join::All;
        let deadline = if !compensation && self.specs[service].propagate_deadline {
            job.deadline
        } else {
            NEVER
        };
        if self.specs[service].execution == Execution::Async && job.holding_worker {
            self.release_worker::<TRACE>(s, job_id);
        }
        let edge = self.services[service].replicas[replica].call_edges[endpoint][index];
        self.start_call::<TRACE>(s, edge, Owner::Job(job_id), deadline, Op::Serve);
    }

    /// A replica of an orchestrator with a saga log restarted: it reads the log and resumes
    /// the sagas it was running when it crashed, each from the call that was in progress.
    pub(super) fn saga_recover<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        service: u32,
        replica: u32,
    ) {
        let epoch = self.services[service as usize].replicas[replica as usize].epoch;
        let sagas = self.sagas.as_mut().expect("sagas run");
        let resumed: Vec<u64> = (sagas.running.iter())
            .filter(|(_, r)| {
                let c = &sagas.configs[r.config];
                c.log && c.service == service as usize && r.replica == replica && r.epoch != epoch
            })
            .map(|(&id, _)| id)
            .collect();
        for id in resumed {
            let sagas = self.sagas.as_mut().expect("sagas run");
            let r = sagas.running.get_mut(&id).expect("listed");
            // Its job, if still alive, is an orphan of the crash: it never drives it again.
            sagas.by_attempt.remove(&r.attempt);
            r.attempt = NO_ATTEMPT;
            r.epoch = epoch;
            if !r.recovered {
                r.recovered = true;
                sagas.recovered[r.config] += 1;
            }
            // A compensation made again counts as one more made.
            let next = r.saga.resume();
            self.saga_follow::<TRACE>(s, id, None, next);
        }
    }

    /// Each saga's counts at the end; empty without sagas.
    pub(super) fn saga_reports(&self) -> Vec<SagaReport> {
        let Some(sagas) = &self.sagas else {
            return Vec::new();
        };
        let reports: Vec<SagaReport> = (sagas.configs.iter().enumerate())
            .map(|(i, cfg)| SagaReport {
                name: cfg.name.clone(),
                stats: sagas.stats[i],
                compensations: sagas.compensations[i].0,
                compensations_failed: sagas.compensations[i].1,
                in_flight: sagas.stats[i].in_flight(),
                recovered: cfg.log.then_some(sagas.recovered[i]),
            })
            .collect();
        let running = sagas.running.len() as u64;
        let in_flight: u64 = reports.iter().map(|r| r.in_flight).sum();
        assert_eq!(running, in_flight, "every saga started ends or is running");
        reports
    }
}
