//! The per-caller edge state: its policy objects, replica choice (load balancing over the
//! replicas the caller believes healthy), active health checks and outlier sweeps.

use super::*;

/// An edge's record, laid out for the request path: what a request reads or writes on the
/// lean and plain paths (the balancer's pick, the network's draw, the per-try timeout, the
/// callee, the flags) fills two cache lines, and everything else (the policy, its layers and
/// objects, the streams of rarer draws, active health) is out of line in [`EdgeCold`]. A
/// topology of thousands of edges touches two lines per edge per request instead of a dozen
/// (issue 11); `layout::edge_is_two_cache_lines` pins the size.
#[repr(C, align(64))]
pub(super) struct Edge {
    // First line: choosing the replica and crossing the network.
    /// The attempts in flight to each of the callee's replicas from this caller (power of two
    /// choices and least request read them).
    pub(super) outstanding: Box<[u32]>,
    /// Load balancing over the callee's replicas: the balancer's draws and the balancer.
    pub(super) lb_rng: SimRng,
    pub(super) network_rng: SimRng,
    pub(super) balancer: Balancer,
    pub(super) to: ServiceId,
    // Second line.
    /// The per-try timeout as an attempt needs it (the policy's, summarised).
    pub(super) timeout: PerTryTimeout,
    /// The rest of the edge, out of line.
    pub(super) cold: Box<EdgeCold>,
    /// What each call over the edge draws when it starts (a store operation, a message key).
    pub(super) draws: Option<Box<OriginDraws>>,
    /// Envoy outlier detection, as this caller sees the replicas.
    pub(super) outlier: Option<Box<OutlierDetector>>,
    /// The role's part the request path asks about; the role itself is `cold.role`.
    pub(super) role_tag: RoleTag,
    /// The calling replica that owns this edge's policy state: state that production
    /// keeps per client process is per calling replica here.
    pub(super) caller_host: u32,
    /// Index into the world's edge reports: the replicas of a caller share one report.
    pub(super) report: u32,
    /// The callee's endpoint.
    pub(super) to_endpoint: u16,
    /// Every call is exactly one attempt, sent when the call starts and ended when the call
    /// ends with the same outcome, so the call-level statistics would receive the attempt
    /// statistics' samples one for one: they are not recorded, but copied when the run ends.
    pub(super) calls_mirror_attempts: bool,
    /// No policy acts on its calls at all (see `plain.rs`): its attempts end on the fast path.
    pub(super) plain: bool,
    /// Its only policies are a per-try timeout and retries without a budget (see `lean.rs`):
    /// its attempts are made and ended on the lean path.
    pub(super) lean: bool,
    /// The policy's `per_try_deadline`.
    pub(super) per_try_deadline: bool,
    /// A cached fallback may read `cold.last_answer` (one is configured, or a mid-run change
    /// may configure one): otherwise the time of the last answer is not kept.
    pub(super) remembers_answers: bool,
}

/// An edge's state that the lean and plain paths do not touch per request.
pub(super) struct EdgeCold {
    pub(super) policy: CallPolicy,
    /// The layers outside `Retry` (per call) and inside (per attempt), outermost first.
    pub(super) call_layers: Vec<Layer>,
    pub(super) attempt_layers: Vec<Layer>,
    pub(super) retry_rng: SimRng,
    /// The edge's bulkhead: permits in use and waiters (FIFO).
    pub(super) bulkhead: Option<BulkheadState<Waiter>>,
    /// When the last good answer arrived (cached fallbacks serve it for their ttl); kept only
    /// when `Edge::remembers_answers`.
    pub(super) last_answer: Option<SimTime>,
    pub(super) breaker: Option<CircuitBreaker>,
    pub(super) budget: Option<RetryBudget>,
    pub(super) throttle: Option<AdaptiveThrottle>,
    pub(super) throttle_rng: SimRng,
    /// Draws timeouts and deadlines given as distributions (a constant draws nothing).
    pub(super) patience_rng: SimRng,
    /// Envoy active health checks, as this caller sees the replicas.
    pub(super) health: Vec<HealthState>,
    /// A plain call, a publish to a broker's queue, or a consumer's local processing.
    pub(super) role: EdgeRole,
}

/// What the request path needs to know of an edge's role.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RoleTag {
    Call,
    Publish,
    /// A consumer replica's processing of its messages: always to that replica, in-process.
    Deliver {
        replica: u32,
    },
}

/// An edge's per-try timeout: none, a constant (drawn without the stream), or a distribution
/// drawn from `cold.patience_rng`.
#[derive(Clone, Copy)]
pub(super) enum PerTryTimeout {
    None,
    Fixed(SimDuration),
    Drawn,
}

/// What a caller draws when a call starts, for every attempt of the call to carry.
pub(super) enum OriginDraws {
    /// Its own workload on the store it calls: the operation.
    Workload(crate::data::workload::Draws),
    /// A publish step's own message key.
    PublishKey(crate::publish_key::KeyDraws),
    /// A write step's key: drawn per record when its write commits (`broker/outbox.rs`), so
    /// that every publish of the record carries it; its publish calls draw nothing.
    RecordKey(crate::publish_key::KeyDraws),
}

impl OriginDraws {
    pub(super) fn draw(&mut self) -> Drawn {
        match self {
            OriginDraws::Workload(w) => Drawn::Operation(w.draw()),
            OriginDraws::PublishKey(k) => Drawn::PublishKey(k.draw()),
            OriginDraws::RecordKey(_) => Drawn::Nothing,
        }
    }
}

/// Whether every call over an edge with `policy` is one attempt sent at once whose outcome is
/// the call's: no retry or hedge (one attempt), no bulkhead or throttle (sent when the call
/// starts, never refused before), no fallback (same outcome), no breaker, and no deadline,
/// own or inherited (a call whose deadline has passed fails without an attempt). A timeout
/// ends the one attempt and its call at the same instant with the same cause.
pub(super) fn one_attempt_per_call(policy: &CallPolicy, inherits_deadline: bool) -> bool {
    let CallPolicy {
        timeout: _,
        deadline,
        per_try_deadline: _,
        retry,
        hedge,
        bulkhead,
        breaker,
        fallback,
        outlier: _,
        throttle,
        order: _,
    } = policy;
    !inherits_deadline
        && deadline.is_none()
        && retry.is_none()
        && hedge.is_none()
        && bulkhead.is_none()
        && breaker.is_none()
        && fallback.is_none()
        && throttle.is_none()
}

impl Edge {
    /// Copies what the request path reads of `cold.policy` into the hot part: call it after
    /// the policy changes. `always` keeps the last answer whatever the policy.
    pub(super) fn summarise_policy(&mut self, always: bool) {
        let policy = &self.cold.policy;
        self.timeout = match policy.timeout {
            None => PerTryTimeout::None,
            Some(Distribution::Constant(d)) => PerTryTimeout::Fixed(d),
            Some(_) => PerTryTimeout::Drawn,
        };
        self.per_try_deadline = policy.per_try_deadline;
        self.remembers_answers = always
            || matches!(
                policy.fallback,
                Some(crate::config::Fallback::Cached { .. })
            );
    }

    /// Sets the role (and its tag).
    pub(super) fn set_role(&mut self, role: EdgeRole) {
        self.role_tag = match role {
            EdgeRole::Call => RoleTag::Call,
            EdgeRole::Publish(_) => RoleTag::Publish,
            EdgeRole::Deliver { replica } => RoleTag::Deliver { replica },
        };
        self.cold.role = role;
    }

    /// A good answer arrived now (a cached fallback may serve it later).
    #[inline]
    pub(super) fn remember_answer(&mut self, now: SimTime) {
        if self.remembers_answers {
            self.cold.last_answer = Some(now);
        }
    }

    /// The next attempt's timeout, in the caller's local time.
    #[inline]
    pub(super) fn draw_timeout(&mut self) -> Option<SimDuration> {
        match self.timeout {
            PerTryTimeout::None => None,
            PerTryTimeout::Fixed(d) => Some(d),
            PerTryTimeout::Drawn => {
                let cold = &mut *self.cold;
                let t = cold.policy.timeout.as_ref().expect("a drawn timeout");
                Some(t.sample(&mut cold.patience_rng))
            }
        }
    }

    /// The next call's deadline, in the caller's local time.
    #[inline]
    pub(super) fn draw_deadline(&mut self) -> Option<SimDuration> {
        let cold = &mut *self.cold;
        let d = cold.policy.deadline.as_ref()?;
        Some(d.sample(&mut cold.patience_rng))
    }
}

/// Splits an edge's layers into those acting per call and per attempt, outermost first,
/// keeping only the layers the policy configures.
pub(super) fn layers(policy: &CallPolicy) -> (Vec<Layer>, Vec<Layer>) {
    let configured = |l: &Layer| match l {
        Layer::Retry => false,
        Layer::Breaker => policy.breaker.is_some(),
        Layer::Bulkhead => policy.bulkhead.is_some(),
        Layer::Timeout => policy.timeout.is_some(),
    };
    let order = policy.order.0;
    let retry = order
        .iter()
        .position(|l| *l == Layer::Retry)
        .expect("an order names Retry");
    let call: Vec<Layer> = order[..retry].iter().copied().filter(configured).collect();
    let attempt: Vec<Layer> = order[retry + 1..]
        .iter()
        .copied()
        .filter(configured)
        .collect();
    (call, attempt)
}

impl World {
    /// The replica an attempt over `edge` goes to: the only one, or the balancer's choice among
    /// those the caller believes healthy and has not ejected.
    #[inline]
    pub(super) fn pick_replica(&mut self, edge_id: EdgeId) -> u32 {
        if self.deploys.is_empty() && self.edges[edge_id].outstanding.len() == 1 {
            // The only replica (a rollout still draws its split first).
            return 0;
        }
        self.pick_among_replicas(edge_id)
    }

    /// `pick_replica` over more than one replica, or during a rollout.
    fn pick_among_replicas(&mut self, edge_id: EdgeId) -> u32 {
        let version = if self.deploys.is_empty() {
            None
        } else {
            self.rollout_route(self.edges[edge_id].to.0 as usize)
        };
        let edge = &mut self.edges[edge_id];
        let n = edge.outstanding.len();
        if n == 1 {
            return 0;
        }
        if let RoleTag::Deliver { replica } = edge.role_tag {
            return replica;
        }
        let service = edge.to.0 as usize;
        let rotation = self.rotation.get(service).map_or(&[][..], |r| &r[..]);
        let unready = self.unready.get(service).map_or(&[][..], |r| &r[..]);
        let rotates = !rotation.is_empty() || !unready.is_empty();
        if matches!(self.specs[service].health, Health::Unchecked)
            && edge.outlier.is_none()
            && !rotates
        {
            // Every replica is eligible: no flags to build, no scan.
            return edge
                .balancer
                .pick_all_eligible(&edge.outstanding, &mut edge.lb_rng)
                .unwrap_or(0) as u32;
        }
        let state = &self.services[service];
        self.eligible.clear();
        for i in 0..n {
            let healthy = match self.specs[service].health {
                Health::Unchecked => true,
                Health::Perfect => {
                    let inst = &state.replicas[i];
                    inst.up() && self.host_down[inst.host as usize] == 0
                }
                Health::Active(_) => edge.cold.health[i].is_healthy(),
            };
            let ejected = edge.outlier.as_ref().is_some_and(|o| o.is_ejected(i));
            let serving = !rotates
                || (rotation.get(i).is_none_or(|&on| on) && !unready.get(i).is_some_and(|&u| u));
            self.eligible.push(healthy && !ejected && serving);
        }
        // A rollout's split: only the drawn version's replicas, unless it has none to offer.
        if let Some((split, new)) = version
            && (0..n).any(|i| self.eligible[i] && (i >= split) == new)
        {
            for i in 0..n {
                self.eligible[i] &= (i >= split) == new;
            }
        }
        edge.balancer
            .pick(&self.eligible, &edge.outstanding, &mut edge.lb_rng)
            .unwrap_or(0) as u32
    }

    /// A caller probes a replica: the probe crosses the network and back; it passes if the
    /// replica's process runs and both trips arrive within the check's timeout.
    pub(super) fn on_health_probe(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: EdgeId,
        replica: u32,
    ) {
        let now = s.now();
        let edge = &self.edges[edge_id];
        let Health::Active(check) = self.specs[edge.to.0 as usize].health else {
            unreachable!("probes only for actively checked services")
        };
        let caller = edge.caller_host;
        let inst = &self.services[edge.to.0 as usize].replicas[replica as usize];
        let (host, up) = (inst.host, inst.up());
        let there = self.transmit(edge_id, caller, host, now);
        let back = self.transmit(edge_id, host, caller, now);
        let (ok, after) = match (there, back) {
            (Transit::Arrives(a), Transit::Arrives(b)) if up && a + b <= check.timeout => {
                (true, a + b)
            }
            // A refused connection fails as soon as it comes back.
            (Transit::Refused(a), _) | (Transit::Arrives(a), Transit::Refused(_))
                if a < check.timeout =>
            {
                (false, a)
            }
            (Transit::Arrives(a), Transit::Arrives(b)) if !up && a + b <= check.timeout => {
                (false, a + b)
            }
            _ => (false, check.timeout),
        };
        let event = WorldEvent::HealthResult {
            edge: edge_id,
            replica,
            ok,
        };
        s.schedule_in(self.local_delay(caller, now, after), event);
    }

    pub(super) fn on_health_result(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        edge_id: EdgeId,
        replica: u32,
        ok: bool,
    ) {
        let now = s.now();
        let edge = &mut self.edges[edge_id];
        edge.cold.health[replica as usize].on_check(ok);
        let Health::Active(check) = self.specs[edge.to.0 as usize].health else {
            unreachable!("results only for actively checked services")
        };
        // Envoy schedules the next probe one interval after the result.
        let host = edge.caller_host;
        let event = WorldEvent::HealthProbe {
            edge: edge_id,
            replica,
        };
        s.schedule_in(self.local_delay(host, now, check.interval), event);
    }

    pub(super) fn on_outlier_sweep(&mut self, s: &mut Scheduler<WorldEvent>, edge_id: EdgeId) {
        let now = s.now();
        let edge = &mut self.edges[edge_id];
        let outlier = edge.outlier.as_mut().expect("a sweep needs a detector");
        outlier.sweep(now);
        let interval = outlier.config().interval;
        let host = edge.caller_host;
        s.schedule_in(
            self.local_delay(host, now, interval),
            WorldEvent::OutlierSweep { edge: edge_id },
        );
    }
}

#[cfg(test)]
mod layout {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// The request path reads both lines of an edge and nothing of its cold part (issue 11): a
    /// field added to `Edge` that grows it past two lines belongs in `EdgeCold`.
    #[test]
    fn edge_is_two_cache_lines() {
        assert_eq!(align_of::<Edge>(), 64);
        assert_eq!(size_of::<Edge>(), 128);
        // Picking a replica and crossing the network read the first line only.
        for end in [
            offset_of!(Edge, outstanding) + size_of::<Box<[u32]>>(),
            offset_of!(Edge, lb_rng) + size_of::<SimRng>(),
            offset_of!(Edge, network_rng) + size_of::<SimRng>(),
            offset_of!(Edge, balancer) + size_of::<Balancer>(),
            offset_of!(Edge, to) + size_of::<ServiceId>(),
        ] {
            assert!(end <= 64, "a first-line field ends at byte {end}");
        }
        assert_eq!(size_of::<Balancer>(), 12);
    }
}
