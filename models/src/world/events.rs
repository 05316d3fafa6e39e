//! The world's events: what can happen next, and the names traces give them.

use super::*;

/// The world's events. Payloads are slab indices plus an id (attempt id or call serial) that
/// makes stale references detectable after a slot is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorldEvent {
    /// The next request of an open-loop client.
    ClientArrival {
        client: u32,
    },
    /// An open-loop client's arrivals are thinned on from here: no request yet.
    ArrivalUndecided {
        client: u32,
    },
    /// An attempt reaches its callee.
    Deliver {
        job: JobSlot,
    },
    /// A job's local work is finished.
    WorkDone {
        job: JobSlot,
    },
    /// A reply reaches its caller.
    Reply {
        /// The attempt's slot at the caller.
        slot: AttemptSlot,
        /// The edge the attempt travelled, to account a late reply after its attempt is gone.
        edge: EdgeId,
        attempt: AttemptId,
        outcome: Outcome,
    },
    /// A per-attempt timeout fired.
    Timeout {
        slot: AttemptSlot,
        attempt: AttemptId,
    },
    /// A retry's backoff elapsed.
    RetryDue {
        call: CallSlot,
        serial: CallSerial,
    },
    /// A hedged call's next copy is due.
    HedgeDue {
        call: CallSlot,
        serial: CallSerial,
    },
    /// A call's overall deadline passed.
    Deadline {
        call: CallSlot,
        serial: CallSerial,
    },
    /// An attempt's wait for a bulkhead permit ran out.
    AttemptWaitOver {
        slot: AttemptSlot,
        attempt: AttemptId,
    },
    /// A call's wait for a bulkhead permit ran out.
    CallWaitOver {
        call: CallSlot,
        serial: CallSerial,
    },
    /// A read-modify-write user starts (again) with a read.
    UserStart {
        client: u32,
        user: u32,
    },
    /// A request's wait for its rate-limit permission is over: it goes on to the queue.
    Admitted {
        job: JobSlot,
    },
    /// A request waited the rate limiter's whole timeout and is refused.
    RateLimited {
        job: JobSlot,
    },
    /// A scripted crash (fault index) happens, or its targets restart.
    Crash {
        fault: u32,
    },
    RestartTargets {
        fault: u32,
    },
    /// A replica comes back (after a leak crash, or a chaos repair).
    Restart {
        service: u32,
        replica: u32,
    },
    /// A chaos process's unit fails, or is repaired.
    ChaosFail {
        fault: u32,
        unit: u32,
    },
    ChaosRepair {
        fault: u32,
        unit: u32,
    },
    /// A caller's active health check probes a replica, and learns the result.
    HealthProbe {
        edge: EdgeId,
        replica: u32,
    },
    HealthResult {
        edge: EdgeId,
        replica: u32,
        ok: bool,
    },
    /// A caller's outlier detector sweeps (Envoy's `interval`).
    OutlierSweep {
        edge: EdgeId,
    },
    /// Bulkhead waiters handed a permit carry on (see `World::resume_waiters`).
    ResumeWaiters,
    /// A mid-run change's action reaches a replica (`changes.rs`).
    Change {
        change: u32,
        action: u32,
        replica: u32,
    },
    /// Self-healing (`probes.rs`): a replica hangs, is probed, or a probe's timeout passed.
    Probe {
        service: u32,
        replica: u32,
        what: u32,
    },
    /// An autoscaler samples its metric, syncs, or a replica it started is ready
    /// (`autoscale.rs`; `replica` is `SAMPLE`, `SYNC` or the replica).
    Autoscale {
        scaler: u32,
        replica: u32,
        generation: u32,
    },
    /// A store message arrives at its replica (`store` indexes the world's stores).
    StoreMsg {
        store: u32,
        msg: u32,
    },
    /// A store operation's coordinator gives up waiting for replies.
    StoreTimeout {
        store: u32,
        op: u32,
        serial: u32,
    },
    /// A store's heartbeat: leadership, leases, failover, divergence.
    StoreTick {
        store: u32,
    },
    /// A promotion decided `promotion_delay` ago takes effect.
    StorePromote {
        store: u32,
        replica: u32,
    },
    /// A consumer's poller sends a receive, which reaches its broker, whose messages reach
    /// the poller (`generation` recognises a poller that crashed since).
    PollSend {
        poller: u32,
        generation: u32,
    },
    PollArrive {
        poller: u32,
        generation: u32,
    },
    Receipts {
        poller: u32,
        generation: u32,
    },
    /// A consumer's ack reaches the broker.
    AckArrive {
        queue: u16,
        message: u64,
        receipt: u32,
    },
    /// A received message's visibility timeout passed.
    VisibilityTimeout {
        queue: u16,
        message: u64,
        receipt: u32,
    },
    /// A rollout's controller ticks, measures, or a replica it started is ready
    /// (`rollout.rs`; `replica` is `TICK`, `MEASURE` or the replica).
    Rollout {
        rollout: u32,
        replica: u32,
        generation: u32,
    },
    /// A topic's group member sends a fetch, which reaches the broker, whose records reach
    /// the member (`generation` recognises a member that crashed since).
    FetchSend {
        member: u32,
        generation: u32,
    },
    FetchArrive {
        member: u32,
        generation: u32,
    },
    Records {
        member: u32,
        generation: u32,
    },
    /// A crashed member's session timeout passed: the group notices it left.
    SessionExpired {
        member: u32,
        generation: u32,
    },
    /// A consumer group's rebalance pause is over.
    RebalanceOver {
        group: u32,
        generation: u32,
    },
    /// A write step's replica learns its write committed (`broker/outbox.rs`).
    WriteAcked {
        job: JobSlot,
        record: u64,
    },
    /// An outbox relay polls its outbox.
    RelayPoll {
        relay: u32,
        generation: u32,
    },
    /// A function's new instance is ready, or an idle one's keep-warm time is over
    /// (`serverless.rs`; `generation` recognises an instance used since it went idle).
    Function {
        function: u32,
        instance: u32,
        generation: u32,
    },
    /// A two-phase commit's decision to participant `participant` is sent again (`twopc.rs`).
    DecisionResend {
        txn: u64,
        participant: u16,
    },
}

impl WorldEvent {
    /// The names used in traces, indexed by [`Event::kind`].
    pub const KIND_NAMES: [&'static str; 45] = [
        "client_arrival",
        "deliver",
        "work_done",
        "reply",
        "timeout",
        "retry_due",
        "hedge_due",
        "deadline",
        "attempt_wait_over",
        "call_wait_over",
        "user_start",
        "admitted",
        "rate_limited",
        "crash",
        "restart_targets",
        "restart",
        "chaos_fail",
        "chaos_repair",
        "health_probe",
        "health_result",
        "outlier_sweep",
        "resume_waiters",
        "arrival_undecided",
        "change",
        "autoscale",
        "probe",
        "store_msg",
        "store_timeout",
        "store_tick",
        "store_promote",
        "poll_send",
        "poll_arrive",
        "receipts",
        "ack_arrive",
        "visibility_timeout",
        "rollout",
        "fetch_send",
        "fetch_arrive",
        "records",
        "session_expired",
        "rebalance_over",
        "write_acked",
        "relay_poll",
        "function",
        "decision_resend",
    ];
}

impl Event for WorldEvent {
    #[inline]
    fn kind(&self) -> u16 {
        match self {
            WorldEvent::ClientArrival { .. } => 0,
            WorldEvent::Deliver { .. } => 1,
            WorldEvent::WorkDone { .. } => 2,
            WorldEvent::Reply { .. } => 3,
            WorldEvent::Timeout { .. } => 4,
            WorldEvent::RetryDue { .. } => 5,
            WorldEvent::HedgeDue { .. } => 6,
            WorldEvent::Deadline { .. } => 7,
            WorldEvent::AttemptWaitOver { .. } => 8,
            WorldEvent::CallWaitOver { .. } => 9,
            WorldEvent::UserStart { .. } => 10,
            WorldEvent::Admitted { .. } => 11,
            WorldEvent::RateLimited { .. } => 12,
            WorldEvent::Crash { .. } => 13,
            WorldEvent::RestartTargets { .. } => 14,
            WorldEvent::Restart { .. } => 15,
            WorldEvent::ChaosFail { .. } => 16,
            WorldEvent::ChaosRepair { .. } => 17,
            WorldEvent::HealthProbe { .. } => 18,
            WorldEvent::HealthResult { .. } => 19,
            WorldEvent::OutlierSweep { .. } => 20,
            WorldEvent::ResumeWaiters => 21,
            WorldEvent::ArrivalUndecided { .. } => 22,
            WorldEvent::Change { .. } => 23,
            WorldEvent::Autoscale { .. } => 24,
            WorldEvent::Probe { .. } => 25,
            WorldEvent::StoreMsg { .. } => 26,
            WorldEvent::StoreTimeout { .. } => 27,
            WorldEvent::StoreTick { .. } => 28,
            WorldEvent::StorePromote { .. } => 29,
            WorldEvent::PollSend { .. } => 30,
            WorldEvent::PollArrive { .. } => 31,
            WorldEvent::Receipts { .. } => 32,
            WorldEvent::AckArrive { .. } => 33,
            WorldEvent::VisibilityTimeout { .. } => 34,
            WorldEvent::Rollout { .. } => 35,
            WorldEvent::FetchSend { .. } => 36,
            WorldEvent::FetchArrive { .. } => 37,
            WorldEvent::Records { .. } => 38,
            WorldEvent::SessionExpired { .. } => 39,
            WorldEvent::RebalanceOver { .. } => 40,
            WorldEvent::WriteAcked { .. } => 41,
            WorldEvent::RelayPoll { .. } => 42,
            WorldEvent::Function { .. } => 43,
            WorldEvent::DecisionResend { .. } => 44,
        }
    }

    #[inline]
    fn target(&self) -> u32 {
        match *self {
            WorldEvent::ClientArrival { client }
            | WorldEvent::ArrivalUndecided { client }
            | WorldEvent::UserStart { client, .. } => client,
            WorldEvent::Deliver { job }
            | WorldEvent::WorkDone { job }
            | WorldEvent::Admitted { job }
            | WorldEvent::RateLimited { job } => job.0,
            WorldEvent::Reply { slot, .. }
            | WorldEvent::Timeout { slot, .. }
            | WorldEvent::AttemptWaitOver { slot, .. } => slot.0,
            WorldEvent::RetryDue { call, .. }
            | WorldEvent::HedgeDue { call, .. }
            | WorldEvent::Deadline { call, .. }
            | WorldEvent::CallWaitOver { call, .. } => call.0,
            WorldEvent::Crash { fault }
            | WorldEvent::RestartTargets { fault }
            | WorldEvent::ChaosFail { fault, .. }
            | WorldEvent::ChaosRepair { fault, .. } => fault,
            WorldEvent::Restart { service, .. } => service,
            WorldEvent::HealthProbe { edge, .. }
            | WorldEvent::HealthResult { edge, .. }
            | WorldEvent::OutlierSweep { edge } => edge.0,
            WorldEvent::ResumeWaiters => 0,
            WorldEvent::Change { change, .. } => change,
            WorldEvent::Autoscale { scaler, .. } => scaler,
            WorldEvent::Probe { service, .. } => service,
            WorldEvent::StoreMsg { msg, .. } => msg,
            WorldEvent::StoreTimeout { op, .. } => op,
            WorldEvent::StoreTick { store } | WorldEvent::StorePromote { store, .. } => store,
            WorldEvent::PollSend { poller, .. }
            | WorldEvent::PollArrive { poller, .. }
            | WorldEvent::Receipts { poller, .. } => poller,
            WorldEvent::AckArrive { message, .. }
            | WorldEvent::VisibilityTimeout { message, .. } => message as u32,
            WorldEvent::Rollout { rollout, .. } => rollout,
            WorldEvent::FetchSend { member, .. }
            | WorldEvent::FetchArrive { member, .. }
            | WorldEvent::Records { member, .. }
            | WorldEvent::SessionExpired { member, .. } => member,
            WorldEvent::RebalanceOver { group, .. } => group,
            WorldEvent::WriteAcked { job, .. } => job.0,
            WorldEvent::RelayPoll { relay, .. } => relay,
            WorldEvent::Function { function, .. } => function,
            WorldEvent::DecisionResend { txn, .. } => txn as u32,
        }
    }
}
