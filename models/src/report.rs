//! What a run returns: per service, client and edge, the outcomes and what the policies did,
//! the faults as the reports describe them, and the engine's outcome. The reports crate turns a
//! [`RunResult`] into documents.

use sim_core::{RunOutcome, SimDuration, SimTime};

use crate::config::Objective;
use crate::metrics::{Gauges, OutcomeStats};
use crate::policy::breaker::Transition;

/// Per service, outcomes of the attempts sent to it as its callers saw them, plus what the
/// service itself observed.
#[derive(Clone, Debug)]
pub struct ServiceReport {
    pub name: String,
    /// Workers over all replicas (`workers_per_replica` times the replicas).
    pub workers: u32,
    pub workers_per_replica: u32,
    /// Queue places over all replicas (`queue_per_replica` times the replicas).
    pub queue_capacity: u32,
    pub queue_per_replica: u32,
    /// Attempts sent to this service and how they ended for their callers.
    pub stats: OutcomeStats,
    /// Jobs that did their work for nobody: their caller, or a caller up the chain, had given
    /// up (timed out, cancelled, its step decided) by the time they finished.
    pub wasted_work: u64,
    /// The longest the queue got.
    pub queue_max: u32,
    /// Busy workers and queue length per window.
    pub gauges: Gauges,
    /// Worker-nanoseconds spent on the service's own work (its service time), out of those
    /// the workers were held: the rest a thread-per-request worker spent blocked on its calls.
    pub work_ns: u128,
    pub objective: Objective,
    /// Executions of a logical call's work beyond its first, on a non-idempotent service.
    pub duplicate_side_effects: u64,
    /// Repeats answered from an idempotency key without executing again.
    pub deduplicated: u64,
    /// Queued requests dropped because their propagated deadline had passed.
    pub expired: u64,
    /// Queued requests that left the queue when their caller gave up; `None` for a service
    /// whose queue keeps them (`abandonment: AtDequeue`).
    pub reneged: Option<u64>,
    /// Requests that found the queue full and waited for a place; `None` for a service that
    /// rejects them (`when_full: Reject`).
    pub backpressured: Option<u64>,
    /// For a record: conditional writes received, and how many found a newer version.
    pub writes: u64,
    pub write_conflicts: u64,
    /// The adaptive concurrency limit's changes, when the service has one (of its first
    /// replica).
    pub concurrency_limit: Vec<(SimTime, u32)>,
    /// That limit before its first change (0 without one).
    pub concurrency_limit_initial: u32,
    /// Replicas, and what happened to each.
    pub replicas: Vec<ReplicaReport>,
    /// Index j: the time during which exactly j replicas were running.
    pub up_time_by_count: Vec<SimDuration>,
    /// Requests a black hole swallowed.
    pub black_holed: u64,
    /// Per endpoint, in the order the scenario names them, the attempts sent to it as `stats`
    /// counts them; empty for a service with one endpoint (its `stats` are that endpoint's).
    pub endpoints: Vec<EndpointReport>,
}

/// The attempts sent to one endpoint of a service with several, and how they ended for their
/// callers: the service's figures split by request type.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointReport {
    pub name: String,
    pub stats: OutcomeStats,
}

/// One replica of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaReport {
    /// The host it runs on.
    pub host: String,
    pub crashes: u64,
    /// Time it was not running.
    pub down: SimDuration,
    /// Each time it stopped running, in order: a crash, chaos or leak episode.
    pub outages: Vec<Outage>,
}

/// One time a replica was down: from its crash to its restart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outage {
    pub from: SimTime,
    /// `None` when it was still down at the end of the run.
    pub to: Option<SimTime>,
    /// The index in `RunResult::faults` of the crash or chaos fault that took it down; `None`
    /// for a leak's crash (the leak of its service).
    pub fault: Option<u32>,
}

impl ServiceReport {
    /// Worker-nanoseconds spent holding requests.
    pub fn busy_ns(&self) -> u128 {
        self.gauges
            .windows
            .iter()
            .map(|g| u128::from(g.busy_ns))
            .sum()
    }

    /// Share of worker time spent on the service's own work over `duration`: `utilisation`
    /// less the time held while blocked on downstream calls.
    pub fn work_utilisation(&self, duration: SimDuration) -> f64 {
        let capacity = u128::from(self.workers) * u128::from(duration.as_nanos());
        if capacity == 0 {
            0.0
        } else {
            self.work_ns as f64 / capacity as f64
        }
    }

    /// Share of worker time in use over `duration`.
    pub fn utilisation(&self, duration: SimDuration) -> f64 {
        let capacity = u128::from(self.workers) * u128::from(duration.as_nanos());
        if capacity == 0 {
            0.0
        } else {
            self.busy_ns() as f64 / capacity as f64
        }
    }
}

/// Per client, the logical requests end to end (retries included in their latency).
#[derive(Clone, Debug)]
pub struct ClientReport {
    pub name: String,
    pub stats: OutcomeStats,
    /// Attempts made, first tries and retries.
    pub attempts: u64,
    pub retries: u64,
    /// The service the client calls.
    pub to: String,
    /// Failed requests by the cause at the failure's origin: a `dependency` failure counts
    /// under the cause that started it down the chain (a timeout, a rejection, an error, an
    /// open circuit...), as the failure reply carried it back; other causes count as
    /// themselves. Indexed like `FailureCause::ALL`; sums to `stats.failed()`.
    pub failed_by_root_cause: [u64; crate::metrics::CAUSES],
    pub objective: Objective,
}

/// Per call edge (caller -> callee).
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeReport {
    /// `client:NAME` or the calling service's name.
    pub from: String,
    /// The calling service's endpoint whose plan makes the call (`None` for a client).
    pub from_endpoint: Option<String>,
    pub to: String,
    /// Attempts over this edge and how they ended for the caller (including those the caller's
    /// own policies failed before sending: circuit open, bulkhead full, throttled).
    pub stats: OutcomeStats,
    pub attempts: u64,
    pub retries: u64,
    /// Extra copies sent by hedging.
    pub hedges: u64,
    /// Replies that arrived after their attempt had been given up.
    pub late_replies: u64,
    /// Logical calls and how they ended for the caller, fallbacks applied.
    pub calls: OutcomeStats,
    /// Calls a fallback answered.
    pub fallbacks: u64,
    /// Retries the policy wanted but the retry budget refused.
    pub retries_refused: u64,
    /// Per calling replica, its circuit breaker's flavor and every transition, when the edge
    /// has one.
    pub breakers: Vec<BreakerReport>,
    /// Messages of this edge that a partition or loss swallowed (requests and replies).
    pub lost_messages: u64,
    /// Envoy outlier ejections of callee replicas, over the calling replicas.
    pub ejections: u64,
}

/// What an edge's circuit breaker did.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerReport {
    /// The calling replica whose breaker this is.
    pub replica: u32,
    /// `resilience4j`, `polly`, `hystrix`.
    pub flavor: &'static str,
    /// Calls or attempts refused while open (or half-open without a probe left).
    pub not_permitted: u64,
    pub transitions: Vec<Transition>,
}

/// A scripted fault, as the reports describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultReport {
    /// `latency`, ...
    pub kind: &'static str,
    /// The service it shows at first (the first it acts on).
    pub service: String,
    /// The services it acts on directly, in file order: its service, those with a replica on
    /// its target, those called across a link fault or partition (a caller on one side, a
    /// replica on the other). Its damage can reach only these and what calls them.
    pub services: Vec<String>,
    /// The clients it acts on directly: a load spike's client.
    pub clients: Vec<String>,
    /// A short human description: `payments latency x10`.
    pub description: String,
    pub from: SimTime,
    pub to: SimTime,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub scenario: String,
    pub seed: u64,
    pub duration: SimDuration,
    pub max_events: u64,
    pub outcome: RunOutcome,
    pub services: Vec<ServiceReport>,
    pub clients: Vec<ClientReport>,
    pub edges: Vec<EdgeReport>,
    pub faults: Vec<FaultReport>,
    /// The width of the windows of every time series: the configured one, doubled as often as
    /// needed to keep at most [`crate::metrics::MAX_WINDOWS`] per series.
    pub window: SimDuration,
    /// The window the scenario asked for; wider `window` means the run was long enough for the
    /// series to coarsen.
    pub window_configured: SimDuration,
    /// What autoscalers did (empty without operations).
    pub ops: crate::ops::OpsReport,
    /// Replicated stores (empty unless the scenario has some).
    pub stores: Vec<crate::data::report::StoreReport>,
    /// Orchestrated sagas (empty unless the scenario has some).
    pub sagas: Vec<crate::data::saga::SagaReport>,
    /// Two-phase commits (empty unless the scenario has some).
    pub two_phase: Vec<crate::data::twopc::TwoPcReport>,
    /// The brokers' queues (empty without brokers).
    pub queues: Vec<crate::broker::QueueReport>,
    /// The brokers' topics and their consumer groups (empty without topics).
    pub topics: Vec<crate::topic::TopicReport>,
    /// Publish steps tied to a write: dual writes and outboxes (empty without them).
    pub writes: Vec<crate::outbox::WriteReport>,
}
