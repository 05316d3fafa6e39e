//! Serverless functions: the world's side of [`crate::ops::serverless`]. A function is wired
//! with `max_instances` replicas (its possible instances); the function's frontend, not the
//! caller's balancer, decides which one serves a request when it is admitted: a warm one with a
//! free slot, else one still starting, else a new one that pays a cold start drawn from the
//! function's own stream, else the request is throttled (Lambda's 429, which the caller's
//! policy sees as `rate_limited` and may retry). Idle on-demand instances are reclaimed after
//! `keep_warm`.

use super::*;
use crate::ops::serverless::{FunctionReport, Pool, Route};

pub(super) struct Functions {
    /// Per service, its function's index (none for ordinary services).
    by_service: Vec<Option<u32>>,
    functions: Vec<Function>,
}

impl Functions {
    /// The service a function serves, for the fingerprint.
    pub(super) fn service_of(&self, function: u32) -> u32 {
        self.functions[function as usize].service as u32
    }
}

struct Function {
    service: usize,
    pool: Pool,
    /// Per instance, the requests waiting for its cold start.
    parked: Vec<Vec<JobSlot>>,
    cold_start: Distribution,
    keep_warm: SimDuration,
    rng: SimRng,
    report: FunctionReport,
    window: SimDuration,
}

impl World {
    /// The functions and their pools; `None` without any, so ordinary runs pay one branch.
    pub(super) fn install_functions(&mut self, config: &WorldConfig, streams: &RngStreams) {
        let fs = &config.ops.functions;
        if fs.is_empty() {
            return;
        }
        let end = SimTime::ZERO + self.duration;
        let window = crate::metrics::coarsened_window(self.window, end);
        let windows = crate::metrics::windows_to(end, window.as_nanos().max(1));
        let mut by_service = vec![None; self.services.len()];
        let functions = fs
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let service = f.service.0 as usize;
                by_service[service] = Some(i as u32);
                let name = &config.services[service].name;
                Function {
                    service,
                    pool: Pool::new(f, window, windows),
                    parked: vec![Vec::new(); f.max_instances as usize],
                    cold_start: f.cold_start.clone(),
                    keep_warm: f.keep_warm,
                    rng: streams.stream(&["serverless", name, "cold_start"]),
                    window,
                    report: FunctionReport {
                        service: name.clone(),
                        concurrency: f.concurrency,
                        provisioned: f.provisioned,
                        max_instances: f.max_instances,
                        keep_warm: f.keep_warm,
                        invocations: 0,
                        cold_starts: 0,
                        waited_for_cold_start: 0,
                        throttled: 0,
                        instance_seconds: 0.0,
                        peak_instances: 0,
                        window,
                        windows: Vec::new(),
                    },
                }
            })
            .collect();
        self.functions = Some(Box::new(Functions {
            by_service,
            functions,
        }));
    }

    /// Whether `service` is a function (its requests are routed by [`World::route_invocation`]).
    #[inline]
    pub(super) fn is_function(&self, service: usize) -> bool {
        self.functions
            .as_ref()
            .is_some_and(|fs| fs.by_service[service].is_some())
    }

    /// An admitted request at a function: a warm instance serves it now (the job's replica is
    /// then that instance), or it waits for a cold start, or it is throttled.
    pub(super) fn route_invocation<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
    ) {
        let service = self.jobs[job].service.0 as usize;
        let Some(fs) = self.functions.as_mut() else {
            return;
        };
        let Some(i) = fs.by_service[service] else {
            return;
        };
        let now = s.now();
        let f = &mut fs.functions[i as usize];
        f.report.invocations += 1;
        let route = f.pool.route(now);
        let instance = match route {
            Route::Throttle => {
                f.report.throttled += 1;
                let refused = Outcome::Failed(FailureCause::RateLimited);
                if TRACE {
                    self.trace_job(now, TraceKind::Rejected, job, 0, Some(refused));
                }
                self.reply::<TRACE>(s, job, refused);
                return;
            }
            Route::Warm(k) | Route::Join(k) | Route::Cold(k) => k,
        };
        if let Route::Cold(k) = route {
            f.report.cold_starts += 1;
            let delay = f.cold_start.sample(&mut f.rng);
            let event = WorldEvent::Function {
                function: i,
                instance: k,
                generation: f.pool.start_serial(k),
            };
            s.schedule_in(delay, event);
        }
        if route != Route::Warm(instance) {
            f.report.waited_for_cold_start += 1;
            f.parked[instance as usize].push(job);
        }
        let epoch = self.services[service].replicas[instance as usize].epoch;
        let j = &mut self.jobs[job];
        j.replica = instance;
        j.epoch = epoch;
        if route == Route::Warm(instance) && !self.start_work::<TRACE>(s, job) {
            self.function_slot_freed(s, service, instance);
        }
    }

    /// A function's instance is ready (its cold start is over), or an idle one's keep-warm
    /// time is over.
    pub(super) fn on_function<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        function: u32,
        instance: u32,
        generation: u32,
    ) {
        let now = s.now();
        let Some(fs) = self.functions.as_mut() else {
            return;
        };
        let f = &mut fs.functions[function as usize];
        if f.pool.ready(instance, generation) {
            let parked = std::mem::take(&mut f.parked[instance as usize]);
            let service = f.service;
            for job in parked {
                let started = if self.orphan(job) {
                    self.discard_job(job);
                    false
                } else {
                    self.start_work::<TRACE>(s, job)
                };
                if !started {
                    self.function_slot_freed(s, service, instance);
                }
            }
        } else {
            f.pool.reclaim(now, instance, generation);
        }
    }

    /// A function instance's worker is free: its slot in the pool too.
    #[inline]
    pub(super) fn function_released(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        service: usize,
        replica: usize,
    ) {
        if self.functions.is_some() {
            self.function_slot_freed(s, service, replica as u32);
        }
    }

    fn function_slot_freed(&mut self, s: &mut Scheduler<WorldEvent>, service: usize, k: u32) {
        let Some(fs) = self.functions.as_mut() else {
            return;
        };
        let Some(i) = fs.by_service[service] else {
            return;
        };
        let f = &mut fs.functions[i as usize];
        let Some(generation) = f.pool.release(k) else {
            return;
        };
        if f.keep_warm == SimDuration::ZERO {
            f.pool.reclaim(s.now(), k, generation);
        } else {
            let event = WorldEvent::Function {
                function: i,
                instance: k,
                generation,
            };
            s.schedule_in(f.keep_warm, event);
        }
    }

    /// Whether a function event does something (a cold start ending, or a reclaim that
    /// reclaims): the fingerprint names only those.
    pub(super) fn function_event_live(
        &self,
        function: u32,
        instance: u32,
        generation: u32,
    ) -> bool {
        self.functions.as_ref().is_some_and(|fs| {
            let pool = &fs.functions[function as usize].pool;
            pool.starting(instance, generation) || pool.reclaim_live(instance, generation)
        })
    }

    /// A function instance's process crashed: the requests waiting for its cold start are
    /// forgotten with it (those it ran are, by the crash), and the pool skips it until it
    /// restarts.
    pub(super) fn function_crashed(&mut self, now: SimTime, service: u32, replica: u32) {
        let Some(fs) = self.functions.as_mut() else {
            return;
        };
        let Some(i) = fs.by_service[service as usize] else {
            return;
        };
        let f = &mut fs.functions[i as usize];
        f.pool.crash(now, replica);
        let parked = std::mem::take(&mut f.parked[replica as usize]);
        for job in parked {
            self.discard_job(job);
        }
    }

    pub(super) fn function_restarted(&mut self, now: SimTime, service: u32, replica: u32) {
        if let Some(fs) = self.functions.as_mut()
            && let Some(i) = fs.by_service[service as usize]
        {
            fs.functions[i as usize].pool.restart(now, replica);
        }
    }

    /// The functions' reports at the end of the run.
    pub(super) fn function_reports(&mut self, end: SimTime) -> Vec<FunctionReport> {
        let Some(fs) = self.functions.as_mut() else {
            return Vec::new();
        };
        fs.functions
            .iter_mut()
            .map(|f| {
                let window = f.window;
                let usage = f.pool.usage(end);
                let mut report = f.report.clone();
                report.instance_seconds = usage.instance_seconds;
                report.peak_instances = usage.peak;
                let covered = crate::metrics::windows_to(end, window.as_nanos().max(1));
                report.windows = usage
                    .windows
                    .iter()
                    .take(covered)
                    .enumerate()
                    .map(|(k, &(seconds, peak))| {
                        let start = window.as_nanos().saturating_mul(k as u64);
                        let stop = start.saturating_add(window.as_nanos()).min(end.as_nanos());
                        let length = SimDuration(stop.saturating_sub(start)).as_secs_f64();
                        let mean = if length > 0.0 { seconds / length } else { 0.0 };
                        (mean, peak)
                    })
                    .collect();
                report
            })
            .collect()
    }
}
