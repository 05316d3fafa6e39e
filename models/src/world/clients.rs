//! Clients: open-loop arrivals (rate, profile, spikes, request types), closed-loop users and
//! read-modify-write users.

use super::*;

/// A read-modify-write user.
#[derive(Clone, Copy)]
pub(super) struct User {
    pub(super) started: SimTime,
    /// Failed writes so far (k in the AWS experiment).
    pub(super) failures: u32,
    pub(super) last_backoff: SimDuration,
}

pub(super) struct ClientState {
    pub(super) edge: EdgeId,
    /// Request types; the first goes over `edge`.
    pub(super) kinds: Vec<RequestKind>,
    pub(super) kinds_rng: SimRng,
    /// (from, to, rate at from, rate at to) pieces of the load profile.
    pub(super) profile: Vec<(SimTime, SimTime, f64, f64)>,
    pub(super) host: u32,
    pub(super) arrivals_rng: SimRng,
    /// (from, to, factor) of the load spikes on this client.
    pub(super) spikes: Vec<(SimTime, SimTime, f64)>,
    /// The retry policy of a read-modify-write client's users (its edge has none).
    pub(super) user_retry: Option<Retry>,
    pub(super) users: Vec<User>,
    /// An open-loop client's requests are exactly its edges' calls (one call per request, same
    /// start, end and outcome), so its statistics are not recorded twice: they are copied from
    /// the calls' when the run ends. Users (closed loop, read-modify-write) record their own.
    pub(super) mirrors_calls: bool,
    pub(super) report: ClientReport,
}

/// One request type of a client: its own edge (policy state), the callee's endpoint, and its
/// weight among the client's types.
#[derive(Clone, Copy)]
pub(super) struct RequestKind {
    pub(super) edge: EdgeId,
    pub(super) endpoint: u16,
    pub(super) weight: f64,
}

impl ClientState {
    pub(super) fn new(
        client: &ClientConfig,
        to: &str,
        kinds: Vec<RequestKind>,
        users: u32,
        user_retry: Option<Retry>,
        streams: &RngStreams,
        window: SimDuration,
    ) -> ClientState {
        let user = User {
            started: SimTime::ZERO,
            failures: 0,
            last_backoff: SimDuration::ZERO,
        };
        ClientState {
            edge: kinds[0].edge,
            kinds,
            kinds_rng: streams.stream(&["client", &client.name, "requests"]),
            profile: client.profile.clone(),
            host: client.host as u32,
            arrivals_rng: streams.stream(&["client", &client.name, "arrivals"]),
            spikes: Vec::new(),
            user_retry,
            users: vec![user; users as usize],
            mirrors_calls: users == 0,
            report: ClientReport {
                name: client.name.clone(),
                stats: OutcomeStats::new(window),
                attempts: 0,
                retries: 0,
                to: to.to_string(),
                objective: client.objective,
                failed_by_root_cause: [0; crate::metrics::CAUSES],
            },
        }
    }
}

/// Candidates the thinning of one arrival rejects before it hands back to the engine: a
/// profile within a factor of 10 of its peak needs more with probability 0.9^1024, about
/// 10^-47; one a billion times below its peak costs an event per 1024 candidates.
const THINNING_PER_EVENT: u32 = 1 << 10;

impl World {
    /// The time to the client's next arrival, from `now`. A load spike multiplies the rate
    /// inside its window: Poisson arrivals are thinned from the highest rate (exact for a
    /// piecewise-constant rate); constant arrivals are spaced at the rate where they are.
    ///
    /// Thinning stops at the run's end (an arrival after it is never processed), and after
    /// [`THINNING_PER_EVENT`] rejected candidates it returns undecided (`false`): the caller
    /// schedules [`WorldEvent::ArrivalUndecided`] there to go on, so a profile whose rate is
    /// mostly far below its peak costs events, which the run's limits bound, and never an
    /// endless handler. In line in its one caller, `schedule_arrival`.
    #[inline(always)]
    pub(super) fn interarrival_at(&mut self, client: u32, now: SimTime) -> (SimDuration, bool) {
        let end = SimTime::ZERO + self.duration;
        let state = &mut self.clients[client as usize];
        if state.spikes.is_empty() && state.profile.is_empty() {
            // The common case: a constant rate.
            let gap = match self.arrivals[client as usize] {
                Arrivals::Poisson { rate_per_s } => SimDuration::from_nanos_f64(
                    sim_core::sample_exp(&mut state.arrivals_rng) * 1e9 / rate_per_s,
                ),
                Arrivals::Constant { rate_per_s } => SimDuration::from_nanos_f64(1e9 / rate_per_s),
                Arrivals::ReadModifyWrite { .. } | Arrivals::ClosedLoop { .. } => {
                    unreachable!("users have no arrivals")
                }
            };
            return (gap, true);
        }
        let profile = state.profile.clone();
        let spikes = state.spikes.clone();
        // The rate at `t` relative to the base rate: the load profile, times the spikes.
        let base = match self.arrivals[client as usize] {
            Arrivals::Poisson { rate_per_s } | Arrivals::Constant { rate_per_s } => rate_per_s,
            _ => 1.0,
        };
        let factor_at = |t: SimTime| {
            let spike = spikes
                .iter()
                .filter(|&&(from, to, _)| from <= t && t < to)
                .fold(1.0, |f, &(_, _, m)| f * m);
            let rate = match profile.iter().rev().find(|p| p.0 <= t) {
                None => base,
                Some(&(from, to, start, end)) if t < to => {
                    let done = (t - from).as_nanos() as f64 / (to - from).as_nanos() as f64;
                    start + (end - start) * done
                }
                Some(&(_, _, _, end)) => end,
            };
            spike * rate / base
        };
        match self.arrivals[client as usize] {
            Arrivals::Poisson { rate_per_s } => {
                // No rate exceeds the product of every spike above 1 times the highest rate of
                // the profile.
                let highest = state
                    .profile
                    .iter()
                    .fold(rate_per_s, |m, p| m.max(p.2).max(p.3));
                let peak: f64 = state.spikes.iter().map(|s| s.2.max(1.0)).product::<f64>()
                    * highest
                    / rate_per_s;
                let max_rate = rate_per_s * peak;
                let mut t = now;
                for _ in 0..THINNING_PER_EVENT {
                    let gap = sim_core::sample_exp(&mut state.arrivals_rng) * 1e9 / max_rate;
                    t += SimDuration::from_nanos_f64(gap);
                    if t >= end {
                        return (t - now, true);
                    }
                    let rate = rate_per_s * factor_at(t);
                    if state.arrivals_rng.uniform() * max_rate < rate {
                        return (t - now, true);
                    }
                }
                (t - now, false)
            }
            Arrivals::Constant { rate_per_s } => (
                SimDuration::from_nanos_f64(1e9 / (rate_per_s * factor_at(now))),
                true,
            ),
            Arrivals::ReadModifyWrite { .. } | Arrivals::ClosedLoop { .. } => {
                unreachable!("users have no arrivals")
            }
        }
    }

    /// Schedules the client's next arrival after `now`, or the event that goes on looking
    /// for it. In line in the arrival that schedules the next, so it pays no frame of its own.
    #[inline(always)]
    pub(super) fn schedule_arrival(&mut self, s: &mut Scheduler<WorldEvent>, client: u32) {
        let (next, decided) = self.interarrival_at(client, s.now());
        let event = if decided {
            WorldEvent::ClientArrival { client }
        } else {
            WorldEvent::ArrivalUndecided { client }
        };
        s.schedule_in(next, event);
    }

    /// A closed-loop user's think time.
    pub(super) fn think_time(&mut self, client: u32) -> SimDuration {
        let state = &mut self.clients[client as usize];
        match &self.arrivals[client as usize] {
            Arrivals::ClosedLoop { think_time, .. } => think_time.sample(&mut state.arrivals_rng),
            _ => unreachable!("only closed-loop users think"),
        }
    }

    pub(super) fn on_client_arrival<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        client: u32,
    ) {
        self.schedule_arrival(s, client);
        let state = &mut self.clients[client as usize];
        if !state.mirrors_calls {
            state.report.stats.requests += 1;
        }
        let edge = if state.kinds.len() == 1 {
            state.edge
        } else {
            // A weighted choice of the request type.
            let total: f64 = state.kinds.iter().map(|k| k.weight).sum();
            let mut x = state.kinds_rng.uniform() * total;
            let mut chosen = state.kinds[state.kinds.len() - 1].edge;
            for kind in &state.kinds {
                if x < kind.weight {
                    chosen = kind.edge;
                    break;
                }
                x -= kind.weight;
            }
            chosen
        };
        let owner = Owner::Client {
            client: ClientId(client),
            started: s.now(),
        };
        // Straight to the fast path where it applies (`start_call` would pass it on).
        if !TRACE && self.edges[edge].plain {
            self.plain_start_call(s, edge, owner, Op::Serve);
        } else if !TRACE && self.edges[edge].lean {
            self.lean_start_call(s, edge, owner, Op::Serve);
        } else {
            self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Serve);
        }
    }

    /// A read-modify-write user reads the record (again).
    pub(super) fn on_user_start<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        client: u32,
        user: u32,
    ) {
        let closed = matches!(self.arrivals[client as usize], Arrivals::ClosedLoop { .. });
        let state = &mut self.clients[client as usize];
        if closed {
            state.report.stats.requests += 1;
        }
        if closed || state.users[user as usize].failures == 0 {
            state.users[user as usize].started = s.now();
        }
        let edge = state.edge;
        let owner = Owner::User {
            client: ClientId(client),
            user,
        };
        let op = if closed { Op::Serve } else { Op::Read };
        self.start_call::<TRACE>(s, edge, owner, NEVER, op);
    }

    /// A read-modify-write user's read or write is over, with the root cause of a failure.
    pub(super) fn user_step<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        client: u32,
        user: u32,
        op: Op,
        value: u64,
        (outcome, root): (Outcome, FailureCause),
    ) {
        let now = s.now();
        let failed = |report: &mut ClientReport| report.failed_by_root_cause[root as usize] += 1;
        if op == Op::Serve {
            // A closed-loop user: record the request, think, send the next.
            let started = self.clients[client as usize].users[user as usize].started;
            let report = &mut self.clients[client as usize].report;
            report.stats.record(now, now - started, outcome);
            if !outcome.is_answer() {
                failed(report);
            }
            let think = self.think_time(client);
            let host = self.clients[client as usize].host;
            let think = self.local_delay(host, now, think);
            s.schedule_in(think, WorldEvent::UserStart { client, user });
            return;
        }
        let state = &mut self.clients[client as usize];
        let u = &mut state.users[user as usize];
        match (op, outcome.is_answer()) {
            (Op::Read, true) => {
                let edge = state.edge;
                let owner = Owner::User {
                    client: ClientId(client),
                    user,
                };
                self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Write(value));
            }
            (_, true) => {
                let latency = now - u.started;
                state.report.stats.record(now, latency, outcome);
            }
            (_, false) => {
                u.failures += 1;
                let Outcome::Failed(cause) = outcome else {
                    unreachable!("not an answer")
                };
                match &state.user_retry {
                    Some(retry) if u.failures < retry.max_attempts => {
                        let wait = backoff(
                            &retry.backoff,
                            u.failures,
                            u.last_backoff,
                            &mut state.arrivals_rng,
                        );
                        u.last_backoff = wait;
                        let wait = match self.clocks.get(state.host as usize) {
                            None => wait,
                            Some(clock) => clock.true_after(now, wait) - now,
                        };
                        s.schedule_in(wait, WorldEvent::UserStart { client, user });
                    }
                    _ => {
                        state.report.stats.record_failure(now, cause);
                        failed(&mut state.report);
                    }
                }
            }
        }
    }
}
