//! Custom service behaviour: a [`Behaviour`] decides, per request, the work time, which of
//! the service's declared calls to make and the outcome, from the request's attributes and
//! the service's simulated state. It sees simulated time only and draws from the service's own
//! seeded stream ([`BehaviourRng`]), so a run stays a pure function of scenario and seed.
//!
//! The world asks the behaviour when a worker takes the request (`start_work`); latency faults,
//! cold starts and leaks then stretch the decided work as they stretch any service's; after
//! the work a `Failed` decision replies at once, otherwise the chosen calls are made in the
//! declared order (with their timeouts, retries and breakers) and the reply is `Ok` or
//! `Degraded` unless a call fails.

use std::time::Duration;

use sim_core::SimRng;

/// A service's behaviour, implemented by the user of the library. One instance serves one
/// service for one run (the library makes a fresh one per run from its factory), so it may
/// keep state across requests; it must not read the wall clock or global randomness.
pub trait Behaviour: Send {
    /// Decides what becomes of `request`, which a worker of `service` has just taken.
    fn decide(
        &mut self,
        request: &Request<'_>,
        service: &ServiceState,
        rng: &mut BehaviourRng,
    ) -> Decision;
}

/// The request a worker has taken.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The endpoint called (`default` unless the service names its endpoints).
    pub endpoint: &'a str,
    /// The caller's attempt of this call: 1 for the first, 2 for the first retry, ...
    pub attempt: u32,
    /// How long it waited in the queue.
    pub queued: Duration,
    /// The names of the services this endpoint may call, in the declared order (the indices
    /// [`Calls::Only`] refers to).
    pub calls: &'a [String],
}

/// The service's simulated state when the worker takes the request.
#[derive(Clone, Debug)]
pub struct ServiceState {
    /// Simulated time since the start of the run (never the wall clock).
    pub now: Duration,
    /// The replica serving the request, and how many the service has.
    pub replica: u32,
    /// Replicas of the service.
    pub replicas: u32,
    /// Workers per replica.
    pub workers: u32,
    /// Busy workers of this replica, this request's included.
    pub busy_workers: u32,
    /// Requests waiting in this replica's queue.
    pub queue_length: u32,
    /// Requests waiting in all the replicas' queues.
    pub queue_total: u32,
}

/// What becomes of a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The local work before any call (a latency fault on the service stretches it).
    pub work: Duration,
    /// Which declared calls to make after the work.
    pub calls: Calls,
    /// The answer, unless a call fails first.
    pub outcome: Answer,
}

impl Decision {
    /// `work` of local work, every declared call made, and a successful answer.
    pub fn ok(work: Duration) -> Decision {
        Decision {
            work,
            calls: Calls::All,
            outcome: Answer::Ok,
        }
    }

    /// The same decision with other calls.
    pub fn calls(mut self, calls: Calls) -> Decision {
        self.calls = calls;
        self
    }

    /// The same decision with another answer.
    pub fn answer(mut self, outcome: Answer) -> Decision {
        self.outcome = outcome;
        self
    }
}

/// Which of the endpoint's declared calls a request makes.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Calls {
    /// Every declared call, in order (a declared `probability` is not drawn: the behaviour
    /// decides).
    #[default]
    All,
    /// None: the answer comes from the local work alone (a cache hit).
    None,
    /// These declared calls, by index into [`Request::calls`], in the declared order; indices
    /// past the end are ignored.
    Only(Vec<usize>),
}

/// The answer of a request whose calls succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A full answer.
    Ok,
    /// An answer of lower quality: it counts as a success and as degraded, like a fallback's.
    Degraded,
    /// A failure after the work, without making any call.
    Failed(Cause),
}

/// Why a custom service fails a request; the report counts it under the same cause as the
/// built-in model's failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The service failed on its own (`error`).
    Error,
    /// It refused the request as overloaded (`shed`).
    Shed,
    /// It refused the request as unavailable (`unavailable`).
    Unavailable,
}

/// A seeded random stream of one custom service, derived from the run's seed and the
/// service's name; the only randomness a [`Behaviour`] gets.
#[derive(Clone, Debug)]
pub struct BehaviourRng {
    inner: SimRng,
}

impl BehaviourRng {
    pub(crate) fn new(inner: SimRng) -> BehaviourRng {
        BehaviourRng { inner }
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.inner.uniform()
    }

    /// True with probability `p` (clamped to 0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        self.inner.chance(p)
    }

    /// Uniform in `0..=max`, without bias.
    pub fn below_inclusive(&mut self, max: u64) -> u64 {
        self.inner.below_inclusive(max)
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}
