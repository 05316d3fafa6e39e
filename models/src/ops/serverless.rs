//! Serverless functions with AWS Lambda's semantics, as a pure state machine: which execution
//! environment (an *instance*) an invocation goes to, when a new one starts cold, when idle
//! ones are reclaimed, and when the concurrency limit throttles.
//!
//! What it follows (AWS Lambda Developer Guide):
//! - "Understanding Lambda function scaling" (docs.aws.amazon.com/lambda/latest/dg/
//!   lambda-concurrency.html): an execution environment serves one request at a time; a
//!   request that finds no free environment gets a new one, which first runs its init phase
//!   (the cold start), up to the function's concurrency limit.
//! - "Configuring reserved concurrency" (configuration-concurrency.html) and the `Invoke` API's
//!   `TooManyRequestsException` (HTTP 429, reasons `ConcurrentInvocationLimitExceeded` and
//!   `ReservedFunctionConcurrentInvocationLimitExceeded`): a synchronous request beyond the
//!   limit is refused at once, not queued; the caller may retry.
//! - "Configuring provisioned concurrency" (provisioned-concurrency.html): provisioned
//!   environments are initialised beforehand and stay warm; they count against the limit.
//! - "Lambda execution environment lifecycle" (lambda-runtime-environment.html): after an
//!   invocation the environment is frozen and reused by the next one; an idle environment is
//!   eventually shut down. AWS does not publish how long; `keep_warm` is that time here.
//!
//! `concurrency` above 1 is Cloud Run's per-instance concurrency (cloud.google.com/run/docs/
//! about-concurrency): a started instance takes requests until that many run on it at once.
//! Routing takes the lowest-numbered instance with a free slot, so provisioned instances
//! (numbered first) are used before on-demand ones, and the highest-numbered idle ones are
//! those left to be reclaimed.

use std::collections::BTreeSet;

use sim_core::{Distribution, SimDuration, SimTime};

use crate::config::ServiceId;

/// One serverless service, as the loader built it.
#[derive(Clone, Debug)]
pub struct FunctionConfig {
    pub service: ServiceId,
    /// Requests an instance serves at once (the service's `workers`; Lambda: 1).
    pub concurrency: u32,
    /// From a new instance's start until it serves (Lambda's init phase).
    pub cold_start: Distribution,
    /// How long an idle on-demand instance stays warm before it is reclaimed.
    pub keep_warm: SimDuration,
    /// Instances warm from the start and never reclaimed.
    pub provisioned: u32,
    /// Instances at once at most (reserved or account concurrency); beyond it, throttled.
    pub max_instances: u32,
}

/// Where one invocation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// A warm instance with a free slot serves it now.
    Warm(u32),
    /// An instance still starting has a free slot: the request waits for it.
    Join(u32),
    /// A new instance starts cold for it.
    Cold(u32),
    /// Every instance the limit allows is busy: refused (HTTP 429).
    Throttle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Absent,
    Starting,
    Warm,
    /// Its process crashed (a fault): unusable until it restarts, then absent.
    Down,
}

/// The instances of one function, their slots in use and the cost they run up.
#[derive(Clone, Debug)]
pub struct Pool {
    concurrency: u32,
    provisioned: u32,
    states: Vec<State>,
    /// Requests on each instance: running, or waiting for its cold start.
    in_use: Vec<u32>,
    /// Bumped whenever an instance is used or reclaimed, so that a reclaim timer set when it
    /// went idle is recognised as stale.
    generation: Vec<u32>,
    /// Bumped at each cold start, so that the ready event of a start a crash cut short is
    /// recognised as stale.
    starts: Vec<u32>,
    /// Warm instances with a free slot; starting ones with a free slot; absent ones.
    free: BTreeSet<u32>,
    joinable: BTreeSet<u32>,
    absent: BTreeSet<u32>,
    alive: u32,
    usage: Usage,
}

impl Pool {
    /// A pool at time 0: the provisioned instances warm, the rest absent. `window` and
    /// `windows` cut the instance count into the run's per-window series.
    pub fn new(config: &FunctionConfig, window: SimDuration, windows: usize) -> Pool {
        let n = config.max_instances;
        let p = config.provisioned.min(n);
        let concurrency = config.concurrency.max(1);
        Pool {
            concurrency,
            provisioned: p,
            states: (0..n)
                .map(|k| if k < p { State::Warm } else { State::Absent })
                .collect(),
            in_use: vec![0; n as usize],
            generation: vec![0; n as usize],
            starts: vec![0; n as usize],
            free: (0..p).collect(),
            joinable: BTreeSet::new(),
            absent: (p..n).collect(),
            alive: p,
            usage: Usage::new(window, windows, p),
        }
    }

    /// Instances alive (starting or warm) now.
    pub fn alive(&self) -> u32 {
        self.alive
    }

    pub fn in_use(&self, k: u32) -> u32 {
        self.in_use[k as usize]
    }

    pub fn generation(&self, k: u32) -> u32 {
        self.generation[k as usize]
    }

    /// The serial of instance `k`'s latest cold start, which its ready event carries.
    pub fn start_serial(&self, k: u32) -> u32 {
        self.starts[k as usize]
    }

    /// Takes a slot for one invocation arriving now.
    pub fn route(&mut self, now: SimTime) -> Route {
        let route = if let Some(&k) = self.free.iter().next() {
            Route::Warm(k)
        } else if let Some(&k) = self.joinable.iter().next() {
            Route::Join(k)
        } else if let Some(&k) = self.absent.iter().next() {
            self.absent.remove(&k);
            self.states[k as usize] = State::Starting;
            self.starts[k as usize] = self.starts[k as usize].wrapping_add(1);
            self.joinable.insert(k);
            self.set_alive(now, self.alive + 1);
            Route::Cold(k)
        } else {
            return Route::Throttle;
        };
        let k = match route {
            Route::Warm(k) | Route::Join(k) | Route::Cold(k) => k,
            Route::Throttle => unreachable!(),
        };
        let i = k as usize;
        self.in_use[i] += 1;
        self.generation[i] = self.generation[i].wrapping_add(1);
        if self.in_use[i] >= self.concurrency {
            self.free.remove(&k);
            self.joinable.remove(&k);
        }
        route
    }

    /// A starting instance's cold start (serial `start`) is over: true if that start is still
    /// under way, and the instance is now warm.
    pub fn ready(&mut self, k: u32, start: u32) -> bool {
        let i = k as usize;
        if !self.starting(k, start) {
            return false;
        }
        self.states[i] = State::Warm;
        self.joinable.remove(&k);
        if self.in_use[i] < self.concurrency {
            self.free.insert(k);
        }
        true
    }

    /// One invocation on instance `k` is over (or never ran). When that leaves an on-demand
    /// instance idle, returns the generation its reclaim timer must carry.
    pub fn release(&mut self, k: u32) -> Option<u32> {
        let i = k as usize;
        debug_assert!(self.in_use[i] > 0, "released a slot nobody held");
        self.in_use[i] = self.in_use[i].saturating_sub(1);
        match self.states[i] {
            State::Warm => {
                self.free.insert(k);
            }
            State::Starting => {
                self.joinable.insert(k);
                return None;
            }
            State::Absent | State::Down => return None,
        }
        if self.in_use[i] > 0 || k < self.provisioned {
            return None;
        }
        self.generation[i] = self.generation[i].wrapping_add(1);
        Some(self.generation[i])
    }

    /// An idle instance's keep-warm time is over: true if it was still idle since the timer
    /// was set, and it is now gone.
    pub fn reclaim(&mut self, now: SimTime, k: u32, generation: u32) -> bool {
        if !self.reclaim_live(k, generation) {
            return false;
        }
        let i = k as usize;
        self.states[i] = State::Absent;
        self.free.remove(&k);
        self.absent.insert(k);
        self.generation[i] = self.generation[i].wrapping_add(1);
        self.set_alive(now, self.alive - 1);
        true
    }

    /// Whether a reclaim timer of instance `k` would reclaim it.
    pub fn reclaim_live(&self, k: u32, generation: u32) -> bool {
        let i = k as usize;
        self.states[i] == State::Warm
            && self.in_use[i] == 0
            && self.generation[i] == generation
            && k >= self.provisioned
    }

    /// Whether instance `k` is under cold start number `start` (its ready event is live).
    pub fn starting(&self, k: u32, start: u32) -> bool {
        self.states[k as usize] == State::Starting && self.starts[k as usize] == start
    }

    /// Instance `k`'s process crashed: what ran or waited on it is lost (the world forgets
    /// those requests), it costs nothing and serves nothing until it restarts.
    pub fn crash(&mut self, now: SimTime, k: u32) {
        let i = k as usize;
        let was = self.states[i];
        if was == State::Down {
            return;
        }
        self.states[i] = State::Down;
        self.in_use[i] = 0;
        self.generation[i] = self.generation[i].wrapping_add(1);
        self.free.remove(&k);
        self.joinable.remove(&k);
        self.absent.remove(&k);
        if was != State::Absent {
            self.set_alive(now, self.alive - 1);
        }
    }

    /// A crashed instance's process may run again: the next request that needs it starts it
    /// cold (a provisioned one is initialised again at once, warm).
    pub fn restart(&mut self, now: SimTime, k: u32) {
        let i = k as usize;
        if self.states[i] != State::Down {
            return;
        }
        if k < self.provisioned {
            self.states[i] = State::Warm;
            self.free.insert(k);
            self.set_alive(now, self.alive + 1);
        } else {
            self.states[i] = State::Absent;
            self.absent.insert(k);
        }
    }

    fn set_alive(&mut self, now: SimTime, alive: u32) {
        self.usage.accrue(now, self.alive);
        self.alive = alive;
        self.usage.peak(now, alive);
    }

    /// The instance-seconds and per-window series up to `end`.
    pub fn usage(&mut self, end: SimTime) -> &Usage {
        self.usage.accrue(end, self.alive);
        &self.usage
    }
}

/// Instances alive over time: their integral (the cost), overall and per window, and peaks.
#[derive(Clone, Debug)]
pub struct Usage {
    window: SimDuration,
    since: SimTime,
    pub instance_seconds: f64,
    pub peak: u32,
    /// Per window: instance-seconds in it, and the most instances alive at once.
    pub windows: Vec<(f64, u32)>,
}

impl Usage {
    fn new(window: SimDuration, windows: usize, alive: u32) -> Usage {
        let mut w = vec![(0.0, 0); windows];
        if let Some(first) = w.first_mut() {
            first.1 = alive;
        }
        Usage {
            window,
            since: SimTime::ZERO,
            instance_seconds: 0.0,
            peak: alive,
            windows: w,
        }
    }

    fn index(&self, t: SimTime) -> usize {
        let w = self.window.as_nanos().max(1);
        ((t.as_nanos() / w) as usize).min(self.windows.len().saturating_sub(1))
    }

    /// `alive` instances from `since` to `now`, split at the window boundaries.
    fn accrue(&mut self, now: SimTime, alive: u32) {
        if now <= self.since {
            return;
        }
        self.instance_seconds += f64::from(alive) * (now - self.since).as_secs_f64();
        if alive > 0 && !self.windows.is_empty() {
            let w = self.window.as_nanos().max(1);
            let mut t = self.since;
            while t < now {
                let i = self.index(t);
                let boundary = SimTime((t.as_nanos() / w + 1).saturating_mul(w));
                let upto = if i + 1 == self.windows.len() {
                    now
                } else {
                    boundary.min(now)
                };
                self.windows[i].0 += f64::from(alive) * (upto - t).as_secs_f64();
                self.windows[i].1 = self.windows[i].1.max(alive);
                t = upto;
            }
        }
        self.since = now;
    }

    fn peak(&mut self, now: SimTime, alive: u32) {
        self.peak = self.peak.max(alive);
        if !self.windows.is_empty() {
            let i = self.index(now);
            self.windows[i].1 = self.windows[i].1.max(alive);
        }
    }
}

/// What a function did in a run.
#[derive(Clone, Debug)]
pub struct FunctionReport {
    pub service: String,
    pub concurrency: u32,
    pub provisioned: u32,
    pub max_instances: u32,
    pub keep_warm: SimDuration,
    /// Requests that reached the function (each attempt counts).
    pub invocations: u64,
    /// Instances started on demand (each paid a cold start).
    pub cold_starts: u64,
    /// Invocations that waited for a cold start (their own instance's or one they joined).
    pub waited_for_cold_start: u64,
    /// Invocations refused at the concurrency limit.
    pub throttled: u64,
    /// Instances alive (starting or warm, provisioned included) integrated over the run.
    pub instance_seconds: f64,
    pub peak_instances: u32,
    /// The width of `windows`: the run's window, coarsened as its own series are for the
    /// scenario's full length.
    pub window: SimDuration,
    /// Per window: mean instances alive, and the most at once.
    pub windows: Vec<(f64, u32)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(concurrency: u32, provisioned: u32, max: u32) -> FunctionConfig {
        FunctionConfig {
            service: ServiceId(0),
            concurrency,
            cold_start: Distribution::Constant(SimDuration::from_millis(100)),
            keep_warm: SimDuration::from_secs(60),
            provisioned,
            max_instances: max,
        }
    }

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn a_request_without_a_free_instance_starts_one_up_to_the_limit_then_is_throttled() {
        let mut p = Pool::new(&config(1, 0, 2), SimDuration::from_secs(1), 10);
        assert_eq!(p.route(at(0)), Route::Cold(0));
        assert_eq!(p.route(at(0)), Route::Cold(1));
        assert_eq!(p.route(at(0)), Route::Throttle);
        assert_eq!(p.alive(), 2);
        assert!(p.ready(0, 1));
        // Instance 0 is warm but busy: still throttled.
        assert_eq!(p.route(at(0)), Route::Throttle);
        assert_eq!(p.release(0), Some(p.generation(0)));
        assert_eq!(p.route(at(1)), Route::Warm(0));
    }

    #[test]
    fn provisioned_instances_are_used_first_and_never_reclaimed() {
        let mut p = Pool::new(&config(1, 2, 5), SimDuration::from_secs(1), 10);
        assert_eq!(p.alive(), 2);
        assert_eq!(p.route(at(0)), Route::Warm(0));
        assert_eq!(p.route(at(0)), Route::Warm(1));
        assert_eq!(p.route(at(0)), Route::Cold(2));
        assert_eq!(
            p.release(0),
            None,
            "a provisioned instance has no reclaim timer"
        );
        assert!(!p.reclaim(at(100), 0, p.generation(0)));
        assert_eq!(p.route(at(1)), Route::Warm(0));
    }

    #[test]
    fn an_idle_instance_is_reclaimed_unless_it_served_since() {
        let mut p = Pool::new(&config(1, 0, 5), SimDuration::from_secs(1), 10);
        assert_eq!(p.route(at(0)), Route::Cold(0));
        p.ready(0, 1);
        let g = p.release(0).unwrap();
        // Used again before its timer: the timer is stale.
        assert_eq!(p.route(at(1)), Route::Warm(0));
        assert!(!p.reclaim(at(2), 0, g));
        let g = p.release(0).unwrap();
        assert!(p.reclaim(at(3), 0, g));
        assert_eq!(p.alive(), 0);
        assert_eq!(p.route(at(4)), Route::Cold(0));
    }

    #[test]
    fn an_instance_with_concurrency_takes_requests_while_it_starts_and_when_warm() {
        let mut p = Pool::new(&config(3, 0, 2), SimDuration::from_secs(1), 10);
        assert_eq!(p.route(at(0)), Route::Cold(0));
        assert_eq!(p.route(at(0)), Route::Join(0));
        assert_eq!(p.route(at(0)), Route::Join(0));
        assert_eq!(p.route(at(0)), Route::Cold(1));
        p.ready(0, 1);
        p.release(0);
        assert_eq!(p.route(at(0)), Route::Warm(0));
        assert_eq!(p.in_use(0), 3);
    }

    #[test]
    fn a_crashed_instance_is_skipped_until_it_restarts_and_its_old_start_is_stale() {
        let mut p = Pool::new(&config(1, 0, 2), SimDuration::from_secs(1), 10);
        assert_eq!(p.route(at(0)), Route::Cold(0));
        let first = p.start_serial(0);
        p.crash(at(0), 0);
        assert_eq!(p.alive(), 0);
        assert_eq!(
            p.route(at(0)),
            Route::Cold(1),
            "the crashed one is not started"
        );
        assert_eq!(p.route(at(0)), Route::Throttle);
        p.restart(at(1), 0);
        assert_eq!(p.route(at(1)), Route::Cold(0));
        assert!(!p.ready(0, first), "the start the crash cut short");
        assert!(p.ready(0, p.start_serial(0)));
    }

    #[test]
    fn instance_seconds_integrate_the_instances_alive_window_by_window() {
        let mut p = Pool::new(&config(1, 1, 5), SimDuration::from_secs(10), 3);
        // One provisioned instance all along; a second alive from 5 s to 25 s.
        p.route(at(0));
        assert_eq!(p.route(at(5)), Route::Cold(1));
        p.ready(1, 1);
        let g = p.release(1).unwrap();
        assert!(p.reclaim(at(25), 1, g));
        let u = p.usage(at(30)).clone();
        assert!(
            (u.instance_seconds - 50.0).abs() < 1e-9,
            "{}",
            u.instance_seconds
        );
        assert_eq!(u.peak, 2);
        let secs: Vec<f64> = u.windows.iter().map(|w| w.0).collect();
        assert_eq!(secs, vec![15.0, 20.0, 15.0]);
        let peaks: Vec<u32> = u.windows.iter().map(|w| w.1).collect();
        assert_eq!(peaks, vec![2, 2, 2]);
    }
}
