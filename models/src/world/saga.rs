//! Orchestrated sagas (issue 14): a job at a saga's endpoint walks `data::saga`'s machine
//! instead of its plan. Each step and each compensation is an ordinary call of that endpoint's
//! plan (`call::start_call`), so timeouts, retries, breakers and partitions apply to them
//! unchanged; compensations carry no deadline (the orchestrator owes them whatever its own
//! caller's patience). A step's extra executions at a non-idempotent callee are the saga's
//! duplicates. `World::sagas` is `None` without sagas: other runs take one `None` check per
//! plan step and per duplicate execution.

use std::collections::BTreeMap;

use super::*;
use crate::data::saga::{Next, Saga, SagaConfig, SagaEnd, SagaReport, SagaStats};

/// Every saga's configuration, the sagas running and their counts.
pub(super) struct Sagas {
    configs: Vec<SagaConfig>,
    /// The saga of each orchestrating (service, endpoint).
    by_endpoint: BTreeMap<(usize, usize), usize>,
    /// The (saga, step) whose call goes over each edge: a step's duplicates are counted there.
    steps_by_edge: BTreeMap<EdgeId, (usize, usize)>,
    /// The sagas running, by the orchestrating job's attempt (never reused, so a job slot freed
    /// by a crash and reused cannot inherit a saga).
    running: BTreeMap<AttemptId, (usize, Saga)>,
    stats: Vec<SagaStats>,
    /// Compensation calls made and failed for good, per saga.
    compensations: Vec<(u64, u64)>,
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
        Some(Box::new(Sagas {
            configs: config.sagas.clone(),
            by_endpoint,
            steps_by_edge,
            running: BTreeMap::new(),
            stats: vec![SagaStats::default(); config.sagas.len()],
            compensations: vec![(0, 0); config.sagas.len()],
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
        let attempt = job.attempt;
        let Some(sagas) = self.sagas.as_mut() else {
            return false;
        };
        let Some(&i) = sagas.by_endpoint.get(&key) else {
            return false;
        };
        let (saga, next) = Saga::start(&sagas.configs[i].steps, &mut sagas.stats[i]);
        sagas.running.insert(attempt, (i, saga));
        self.saga_follow::<TRACE>(s, job_id, i, next);
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
        let Some((i, saga)) = sagas.running.get_mut(&attempt) else {
            return false;
        };
        let i = *i;
        if saga.compensating() {
            sagas.compensations[i].1 += u64::from(!ok);
        }
        let next = saga.done(&sagas.configs[i].steps, ok, &mut sagas.stats[i]);
        self.saga_follow::<TRACE>(s, job_id, i, next);
        true
    }

    /// Makes the call the machine asked for, or ends the saga and answers its caller.
    fn saga_follow<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        i: usize,
        next: Next,
    ) {
        let sagas = self.sagas.as_mut().expect("a saga runs");
        let (index, compensation) = match next {
            Next::Call(k) => (sagas.configs[i].steps[k].call, false),
            Next::Compensate(k) => {
                sagas.compensations[i].0 += 1;
                let c = sagas.configs[i].steps[k].compensate;
                (
                    c.expect("the machine compensates only steps that have one"),
                    true,
                )
            }
            Next::End(end) => {
                sagas.running.remove(&self.jobs[job_id].attempt);
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

    /// Each saga's counts at the end; empty without sagas.
    pub(super) fn saga_reports(&self) -> Vec<SagaReport> {
        let Some(sagas) = &self.sagas else {
            return Vec::new();
        };
        let reports: Vec<SagaReport> = sagas
            .configs
            .iter()
            .zip(&sagas.stats)
            .zip(&sagas.compensations)
            .map(|((cfg, stats), &(made, failed))| SagaReport {
                name: cfg.name.clone(),
                stats: *stats,
                compensations: made,
                compensations_failed: failed,
                in_flight: stats.in_flight(),
            })
            .collect();
        let running = sagas.running.len() as u64;
        let in_flight: u64 = reports.iter().map(|r| r.in_flight).sum();
        assert_eq!(running, in_flight, "every saga started ends or is running");
        reports
    }
}
