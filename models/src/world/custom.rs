//! Custom behaviours in the world: a service registered with a [`Behaviour`] asks it, when a
//! worker takes a request, for the work time, the calls and the answer (see
//! [`crate::custom`]). Services without one never reach this module, and a world without any
//! has `custom: None`: the built-in model and its streams are untouched.

use super::*;
use crate::custom::{Answer, Behaviour, BehaviourRng, Calls, Cause, Decision, Request};

/// The custom services of a run and the decisions of their jobs under way.
pub(super) struct Custom {
    /// Per service: its behaviour, or none (built-in).
    services: Vec<Option<CustomService>>,
    /// Per job slot: the answer decided and the calls chosen (bit i: declared call i), valid
    /// while a job of a custom service that started work holds the slot.
    pending: Vec<(Answer, u64)>,
}

struct CustomService {
    behaviour: Box<dyn Behaviour>,
    rng: BehaviourRng,
    workers: u32,
    /// Per endpoint: its name and the names of the services its declared calls go to.
    endpoints: Vec<(String, Vec<String>)>,
}

impl World {
    /// Hands services their custom behaviours (by service index, as in `config`), each with
    /// its own stream named after the service. Call before [`World::run`].
    pub fn with_behaviours(
        mut self,
        config: &WorldConfig,
        behaviours: Vec<(ServiceId, Box<dyn Behaviour>)>,
    ) -> World {
        if behaviours.is_empty() {
            return self;
        }
        let streams = RngStreams::new(self.seed);
        let mut services: Vec<Option<CustomService>> =
            (0..config.services.len()).map(|_| None).collect();
        for (id, behaviour) in behaviours {
            let svc = &config.services[id.0 as usize];
            let names = |calls: &[CallConfig]| -> Vec<String> {
                calls
                    .iter()
                    .map(|c| config.services[c.to.0 as usize].name.clone())
                    .collect()
            };
            let mut endpoints = vec![(svc.endpoint_name.clone(), names(&svc.calls))];
            for e in &svc.endpoints {
                endpoints.push((e.name.clone(), names(&e.calls)));
            }
            // Its requests ask the behaviour: not a plain service's short path.
            self.specs[id.0 as usize].plain = false;
            self.specs[id.0 as usize].plain_plans = false;
            services[id.0 as usize] = Some(CustomService {
                behaviour,
                rng: BehaviourRng::new(streams.stream(&["custom", &svc.name])),
                workers: svc.workers,
                endpoints,
            });
        }
        self.custom = Some(Box::new(Custom {
            services,
            pending: Vec::new(),
        }));
        self
    }

    /// Asks a custom service's behaviour about the job a worker has just taken: the work time
    /// it decides, or `None` for a built-in service.
    pub(super) fn custom_work(&mut self, job_id: JobSlot, now: SimTime) -> Option<SimDuration> {
        let custom = self.custom.as_mut()?;
        let job = &self.jobs[job_id];
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        let svc = custom.services[service].as_mut()?;
        let state = &self.services[service];
        let (endpoint, calls) = &svc.endpoints[usize::from(job.endpoint)];
        let request = Request {
            endpoint,
            attempt: self.calls[job.call].attempts.max(1),
            queued: std::time::Duration::from_nanos((now - job.arrived).as_nanos()),
            calls,
        };
        let view = crate::custom::ServiceState {
            now: std::time::Duration::from_nanos((now - SimTime::ZERO).as_nanos()),
            replica: replica as u32,
            replicas: state.replicas.len() as u32,
            workers: svc.workers,
            busy_workers: state.replicas[replica].workers_busy,
            queue_length: state.replicas[replica].queue.len() as u32,
            queue_total: state.queue_total,
        };
        let Decision {
            work,
            calls: chosen,
            outcome,
        } = svc.behaviour.decide(&request, &view, &mut svc.rng);
        let mask = match chosen {
            Calls::All => u64::MAX,
            Calls::None => 0,
            Calls::Only(indices) => indices
                .iter()
                .filter(|&&i| i < 64)
                .fold(0, |m, &i| m | (1 << i)),
        };
        let slot = job_id.0 as usize;
        if custom.pending.len() <= slot {
            custom.pending.resize(slot + 1, (Answer::Ok, 0));
        }
        custom.pending[slot] = (outcome, mask);
        let nanos = u64::try_from(work.as_nanos()).unwrap_or(u64::MAX);
        Some(SimDuration::from_nanos(nanos))
    }

    /// The answer decided for a custom service's job, or `None` for a built-in service.
    pub(super) fn custom_answer(&self, job_id: JobSlot) -> Option<Answer> {
        let service = self.jobs[job_id].service.0 as usize;
        let custom = self.custom.as_ref()?;
        custom.services[service].as_ref()?;
        Some(custom.pending[job_id.0 as usize].0)
    }

    /// The calls a custom service's job makes (bit i: declared call i), or `None` for a
    /// built-in service, whose optional calls are drawn.
    pub(super) fn custom_calls(&self, job_id: JobSlot) -> Option<u64> {
        let service = self.jobs[job_id].service.0 as usize;
        let custom = self.custom.as_ref()?;
        custom.services[service].as_ref()?;
        Some(custom.pending[job_id.0 as usize].1)
    }
}

/// The failure cause a custom answer is counted under.
pub(super) fn cause(cause: Cause) -> FailureCause {
    match cause {
        Cause::Error => FailureCause::Error,
        Cause::Shed => FailureCause::Shed,
        Cause::Unavailable => FailureCause::Unavailable,
    }
}
