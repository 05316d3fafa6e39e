//! Client-side load balancing over a service's hosts (replicas) and active health checking of
//! each host, following Envoy.
//!
//! Followed: `shared/reference/resilience-semantics.md` §6 and §1.5 (panic threshold), Envoy's
//! `docs/.../load_balancing/load_balancers.rst`, `panic_threshold.rst`,
//! `source/common/upstream/load_balancer_impl.cc` (`isHostSetInPanic`, the round-robin and
//! least-request pickers) and `source/common/upstream/health_checker_impl.cc`
//! (`ActiveHealthCheckSession::handleSuccess` / `handleFailure`). Where we differ from Envoy the
//! item says so. Not modelled: host weights, priorities and locality-weighted balancing, degraded
//! hosts, ring hash and Maglev, slow start, health-check jitter and the `unhealthy_interval` /
//! `no_traffic_interval` variants.
//!
//! Nothing here schedules events: the world decides which hosts are eligible (healthy and not
//! outlier-ejected), counts the outstanding requests at pick time, sends the probes and reports
//! their outcomes.

use sim_core::{SimDuration, SimRng};

/// How a [`Balancer`] picks among the eligible hosts. All policies treat hosts as equally
/// weighted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LbPolicy {
    /// Envoy `ROUND_ROBIN`: the next eligible host after the last one picked, by host index.
    /// Draws no random numbers.
    RoundRobin,
    /// Envoy `RANDOM`: a uniformly random eligible host. Draws one random number per pick.
    Random,
    /// A full scan of the eligible hosts for the fewest outstanding requests, ties to the
    /// lowest host index. Draws no random numbers.
    ///
    /// This is *not* what Envoy's `LEAST_REQUEST` does by default: with equal weights and the
    /// default `choice_count` 2, Envoy's `LEAST_REQUEST` is power of two choices, which is
    /// [`LbPolicy::PowerOfTwoChoices`] here. The full scan is the limit of a large
    /// `choice_count` without the random sampling (a "join the shortest queue" balancer).
    LeastRequest,
    /// Power of two choices: Envoy `LEAST_REQUEST` with equal weights and the default
    /// `choice_count` 2. Draws two distinct eligible hosts uniformly and takes the one with
    /// fewer outstanding requests, ties to the first drawn (Envoy replaces its candidate only
    /// on strictly fewer requests). With a single eligible host it is picked without a draw.
    ///
    /// Envoy draws its `choice_count` hosts independently (`random() % size`), so it may draw
    /// the same host twice; here the two draws are distinct, the textbook form.
    PowerOfTwoChoices,
}

impl LbPolicy {
    /// Every policy, in the order of the enum.
    pub const ALL: [LbPolicy; 4] = [
        LbPolicy::RoundRobin,
        LbPolicy::Random,
        LbPolicy::LeastRequest,
        LbPolicy::PowerOfTwoChoices,
    ];

    /// The name used in scenarios: `round_robin`, `random`, `least_request`,
    /// `power_of_two_choices`.
    pub fn name(self) -> &'static str {
        match self {
            LbPolicy::RoundRobin => "round_robin",
            LbPolicy::Random => "random",
            LbPolicy::LeastRequest => "least_request",
            LbPolicy::PowerOfTwoChoices => "power_of_two_choices",
        }
    }
}

/// Envoy's default `healthy_panic_threshold`: 50 %.
pub const DEFAULT_PANIC_THRESHOLD_PERCENT: u32 = 50;

/// One caller's balancer over the `hosts` hosts of one callee (Envoy keeps one per cluster per
/// worker; its round-robin position is the only state).
#[derive(Clone, Debug)]
pub struct Balancer {
    policy: LbPolicy,
    /// In `0..=100`: a byte (a world's edges carry one balancer each, and the request path
    /// reads it next to the edge's other hot fields, all in one cache line).
    panic_threshold_percent: u8,
    host_count: u32,
    /// The host index round robin tries first on its next pick.
    next: u32,
}

impl Balancer {
    /// A balancer over `hosts` hosts with Envoy's default panic threshold (50 %), round robin
    /// starting at host 0.
    pub fn new(policy: LbPolicy, hosts: usize) -> Balancer {
        Balancer {
            policy,
            panic_threshold_percent: DEFAULT_PANIC_THRESHOLD_PERCENT as u8,
            host_count: u32::try_from(hosts).expect("fewer than 2^32 hosts"),
            next: 0,
        }
    }

    /// Envoy's `common_lb_config.healthy_panic_threshold`, an integer percent in 0..=100: when
    /// fewer than this share of the hosts are eligible, the balancer is in panic and balances
    /// over *all* hosts, eligible or not, as Envoy does ("assume all hosts are healthy", on the
    /// theory that overloading the few healthy ones is worse). 0 disables panic: with no
    /// eligible host, [`Balancer::pick`] returns `None` (Envoy's "no healthy upstream").
    pub fn with_panic_threshold_percent(mut self, percent: u32) -> Balancer {
        assert!(
            percent <= 100,
            "panic threshold is a percent, got {percent}"
        );
        self.panic_threshold_percent = percent as u8;
        self
    }

    /// Where round robin starts. Envoy starts each worker's round robin at a random index so
    /// that proxies do not all hit the first host together; a world that wants this passes a
    /// draw from the caller's seeded stream. Reduced modulo the host count.
    pub fn with_round_robin_start(mut self, start: usize) -> Balancer {
        self.next = if self.hosts() == 0 {
            0
        } else {
            (start % self.hosts()) as u32
        };
        self
    }

    pub fn policy(&self) -> LbPolicy {
        self.policy
    }

    pub fn hosts(&self) -> usize {
        self.host_count as usize
    }

    pub fn panic_threshold_percent(&self) -> u32 {
        u32::from(self.panic_threshold_percent)
    }

    /// Whether the balancer would ignore eligibility: the eligible share of the hosts is below
    /// the panic threshold. Envoy's `isHostSetInPanic` compares `100 * healthy / hosts <
    /// threshold` in floating point; `100 * eligible < threshold * hosts` in integers is the
    /// same comparison, exactly.
    pub fn in_panic(&self, eligible: &[bool]) -> bool {
        assert_eq!(
            eligible.len(),
            self.hosts(),
            "one eligibility flag per host"
        );
        let count = eligible.iter().filter(|&&e| e).count() as u64;
        count * 100 < u64::from(self.panic_threshold_percent()) * self.hosts() as u64
    }

    /// The host the next request goes to, or `None` when there is no host, or no eligible host
    /// and panic is disabled (threshold 0).
    ///
    /// `eligible[h]` says whether host `h` may take traffic (healthy and not ejected);
    /// `outstanding[h]` is the number of requests the caller has in flight to it, read at pick
    /// time. Out of panic the result is always an eligible host; in panic (see
    /// [`Balancer::in_panic`]) every host is a candidate. Random numbers drawn: see
    /// [`LbPolicy`].
    pub fn pick(
        &mut self,
        eligible: &[bool],
        outstanding: &[u32],
        rng: &mut SimRng,
    ) -> Option<usize> {
        assert_eq!(
            eligible.len(),
            self.hosts(),
            "one eligibility flag per host"
        );
        assert_eq!(
            outstanding.len(),
            self.hosts(),
            "one outstanding count per host"
        );
        let panic = self.in_panic(eligible);
        let candidate = |h: usize| panic || eligible[h];
        let count = (0..self.hosts()).filter(|&h| candidate(h)).count();
        if count == 0 {
            return None;
        }
        let picked = match self.policy {
            LbPolicy::RoundRobin => {
                let picked = (0..self.hosts())
                    .map(|step| (self.next as usize + step) % self.hosts())
                    .find(|&h| candidate(h))
                    .expect("count > 0");
                self.next = ((picked + 1) % self.hosts()) as u32;
                picked
            }
            LbPolicy::Random => {
                let k = rng.below_inclusive(count as u64 - 1) as usize;
                nth_candidate(self.hosts(), candidate, k)
            }
            LbPolicy::LeastRequest => (0..self.hosts())
                .filter(|&h| candidate(h))
                .min_by_key(|&h| (outstanding[h], h))
                .expect("count > 0"),
            LbPolicy::PowerOfTwoChoices => {
                if count == 1 {
                    nth_candidate(self.hosts(), candidate, 0)
                } else {
                    let (a, b) = draw_two_distinct(rng, count);
                    let first = nth_candidate(self.hosts(), candidate, a);
                    let second = nth_candidate(self.hosts(), candidate, b);
                    if outstanding[second] < outstanding[first] {
                        second
                    } else {
                        first
                    }
                }
            }
        };
        debug_assert!(picked < self.hosts() && candidate(picked));
        Some(picked)
    }
}

impl Balancer {
    /// [`Balancer::pick`] when every host is eligible (no health checks, no outlier detection),
    /// in O(1) for every policy but least request: the same random draws and the same host,
    /// without building or scanning the eligibility flags.
    pub fn pick_all_eligible(&mut self, outstanding: &[u32], rng: &mut SimRng) -> Option<usize> {
        debug_assert_eq!(
            outstanding.len(),
            self.hosts(),
            "one outstanding count per host"
        );
        // Every host is a candidate, in panic or not, so the k-th candidate is host k.
        let count = self.hosts();
        if count == 0 {
            return None;
        }
        let picked = match self.policy {
            LbPolicy::RoundRobin => {
                let picked = self.next as usize % count;
                self.next = ((picked + 1) % count) as u32;
                picked
            }
            LbPolicy::Random => rng.below_inclusive(count as u64 - 1) as usize,
            LbPolicy::LeastRequest => (0..count)
                .min_by_key(|&h| (outstanding[h], h))
                .expect("count > 0"),
            LbPolicy::PowerOfTwoChoices => {
                if count == 1 {
                    0
                } else {
                    let (first, second) = draw_two_distinct(rng, count);
                    if outstanding[second] < outstanding[first] {
                        second
                    } else {
                        first
                    }
                }
            }
        };
        Some(picked)
    }
}

/// Two distinct uniform positions in `0..count` (`count >= 2`), the first uniform over all and
/// the second uniform over the rest; draws exactly two numbers.
fn draw_two_distinct(rng: &mut SimRng, count: usize) -> (usize, usize) {
    assert!(count >= 2);
    let a = rng.below_inclusive(count as u64 - 1) as usize;
    let b = rng.below_inclusive(count as u64 - 2) as usize;
    (a, if b >= a { b + 1 } else { b })
}

/// The host index of the `k`-th (from 0) candidate in index order.
fn nth_candidate(hosts: usize, candidate: impl Fn(usize) -> bool, k: usize) -> usize {
    (0..hosts)
        .filter(|&h| candidate(h))
        .nth(k)
        .expect("k is below the candidate count")
}

/// Envoy's active health check (`envoy.config.core.v3.HealthCheck`), the part that decides
/// health. The world sends a probe to each host every `interval`; a probe with no answer within
/// `timeout` is a failure (the world measures that). Envoy re-arms the interval timer when a
/// probe's result arrives (`handleSuccess` / `handleFailure`), so successive probes to one host
/// are `interval` plus the probe's response time (or `timeout`) apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// Time between a probe's result and the next probe.
    pub interval: SimDuration,
    /// How long a probe waits for an answer before it counts as a failure.
    pub timeout: SimDuration,
    /// Consecutive failed probes that make a healthy host unhealthy.
    pub unhealthy_threshold: u32,
    /// Consecutive passed probes that make an unhealthy host healthy (except the very first
    /// probe of a host, see [`HealthState::new`]).
    pub healthy_threshold: u32,
}

impl HealthCheckConfig {
    /// Envoy has no default: `unhealthy_threshold` is a required field. 3 is our choice, a
    /// common value in published configurations.
    pub const DEFAULT_UNHEALTHY_THRESHOLD: u32 = 3;
    /// Envoy has no default: `healthy_threshold` is a required field. 2 is our choice.
    pub const DEFAULT_HEALTHY_THRESHOLD: u32 = 2;

    /// A config with the given timing and our default thresholds (3 failures, 2 successes).
    pub fn new(interval: SimDuration, timeout: SimDuration) -> HealthCheckConfig {
        HealthCheckConfig {
            interval,
            timeout,
            unhealthy_threshold: Self::DEFAULT_UNHEALTHY_THRESHOLD,
            healthy_threshold: Self::DEFAULT_HEALTHY_THRESHOLD,
        }
    }

    /// Every problem, one per line: zero interval or timeout, zero thresholds (Envoy compares
    /// `++count == threshold`, so 0 would never trigger).
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.interval == SimDuration::ZERO {
            problems.push("health check interval must be greater than zero");
        }
        if self.timeout == SimDuration::ZERO {
            problems.push("health check timeout must be greater than zero");
        }
        if self.unhealthy_threshold == 0 {
            problems.push("health check unhealthy_threshold must be at least 1");
        }
        if self.healthy_threshold == 0 {
            problems.push("health check healthy_threshold must be at least 1");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

/// The outcome of one probe, in Envoy's terms (`envoy.data.core.v3.HealthCheckFailureType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckResult {
    /// The host answered as expected.
    Pass,
    /// No answer within the timeout, a refused connection, or a retriable status: counts
    /// towards `unhealthy_threshold`.
    NetworkFailure,
    /// The host answered that it is unhealthy (an HTTP status outside the expected and
    /// retriable ones): a healthy host becomes unhealthy at once, whatever the threshold.
    ActiveFailure,
}

/// A change of a host's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transition {
    ToHealthy,
    ToUnhealthy,
}

/// One checker's view of one host's health (Envoy's `ActiveHealthCheckSession`; each proxy
/// checks independently, so N callers keep N states per host).
///
/// Counting is Envoy's: a pass resets the failure count and, on an unhealthy host, counts
/// towards `healthy_threshold`; a failure resets the pass count and, on a healthy host, counts
/// towards `unhealthy_threshold`. A host reaching a threshold switches, and the count that got
/// it there is kept until the opposite outcome resets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthState {
    healthy: bool,
    /// No probe result yet: one pass makes the host healthy, whatever `healthy_threshold`.
    first_check: bool,
    consecutive_failures: u32,
    consecutive_passes: u32,
    unhealthy_threshold: u32,
    healthy_threshold: u32,
}

impl HealthState {
    /// Envoy's start: a host of a cluster with active health checking starts unhealthy
    /// (`FAILED_ACTIVE_HC`) and the result of its *first* probe decides at once, whatever the
    /// thresholds: a pass makes it healthy ("this makes startup faster", `handleSuccess`), a
    /// failure leaves it unhealthy. We follow Envoy (reference §6: "at startup one success
    /// marks healthy"); until the first probe answers, the balancer's panic threshold keeps
    /// traffic flowing to all hosts. Use [`HealthState::new_healthy`] for a host that should
    /// count as healthy before any probe.
    pub fn new(config: &HealthCheckConfig) -> HealthState {
        assert!(config.unhealthy_threshold > 0 && config.healthy_threshold > 0);
        HealthState {
            healthy: false,
            first_check: true,
            consecutive_failures: 0,
            consecutive_passes: 0,
            unhealthy_threshold: config.unhealthy_threshold,
            healthy_threshold: config.healthy_threshold,
        }
    }

    /// A host that counts as healthy before any probe (not Envoy's start; for scenarios where
    /// health checking is added to a fleet already serving). It needs `unhealthy_threshold`
    /// failures to become unhealthy like any healthy host.
    pub fn new_healthy(config: &HealthCheckConfig) -> HealthState {
        HealthState {
            healthy: true,
            first_check: false,
            ..HealthState::new(config)
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// Consecutive failures counted towards `unhealthy_threshold` (Envoy's `num_unhealthy_`).
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Consecutive passes counted towards `healthy_threshold` (Envoy's `num_healthy_`).
    pub fn consecutive_passes(&self) -> u32 {
        self.consecutive_passes
    }

    /// One probe's outcome: `ok` is a [`CheckResult::Pass`], anything else (no answer within
    /// the timeout, the usual case in the world) a [`CheckResult::NetworkFailure`].
    pub fn on_check(&mut self, ok: bool) -> Option<Transition> {
        self.on_check_result(if ok {
            CheckResult::Pass
        } else {
            CheckResult::NetworkFailure
        })
    }

    /// One probe's outcome; returns the transition it causes, if any.
    pub fn on_check_result(&mut self, result: CheckResult) -> Option<Transition> {
        let first_check = std::mem::replace(&mut self.first_check, false);
        let transition = match result {
            CheckResult::Pass => {
                self.consecutive_failures = 0;
                if self.healthy {
                    None
                } else {
                    self.consecutive_passes += 1;
                    if first_check || self.consecutive_passes == self.healthy_threshold {
                        self.healthy = true;
                        Some(Transition::ToHealthy)
                    } else {
                        None
                    }
                }
            }
            CheckResult::NetworkFailure | CheckResult::ActiveFailure => {
                self.consecutive_passes = 0;
                if self.healthy {
                    self.consecutive_failures += 1;
                    if result == CheckResult::ActiveFailure
                        || self.consecutive_failures == self.unhealthy_threshold
                    {
                        self.healthy = false;
                        Some(Transition::ToUnhealthy)
                    } else {
                        None
                    }
                } else {
                    None
                }
            }
        };
        debug_assert!(self.consecutive_failures <= self.unhealthy_threshold);
        debug_assert!(self.consecutive_passes <= self.healthy_threshold);
        transition
    }
}

#[cfg(test)]
mod tests;
