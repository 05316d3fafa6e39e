//! The domain trace: what happened to every logical request, attempt by attempt and hop by hop,
//! as small [`TraceRecord`]s handed to a [`RecordSink`] while the world runs.
//!
//! A *logical request* is one client arrival. Its id (1, 2, ... in order of arrival) is carried
//! by every call and job made on its behalf, so each attempt, hop, retry and downstream call can
//! be attributed to it. Attempts have their own ids (the world's attempt ids, never reused), and
//! an attempt made by a service records the attempt that service was serving as its `parent`:
//! the attempts of one request form a tree rooted at the client's attempts.
//!
//! Records hold ids only; [`TraceNames`] turns them into names. Tracing never changes the run:
//! it draws no random numbers and schedules no events, so the fingerprint is the same with and
//! without it.

use std::cell::RefCell;
use std::rc::Rc;

use sim_core::{SimDuration, SimTime};

use crate::metrics::Outcome;
use crate::policy::breaker::BreakerState;
use crate::report::RunResult;

/// What a [`TraceRecord`] reports. Callee-side records (`Delivered` to `ReplySent`, `Shed`)
/// happen at the record's `service`; caller-side records (`AttemptSent`, `ReplyReceived`,
/// `LateReply`, `Timeout`, `Deadline`, `RetryScheduled`, `HedgeCopy`, `CallStart`,
/// `CallFinished`, `Fallback`, `BreakerTransition`) happen at the caller of the record's edge,
/// the client or the service serving the `parent` attempt. `ReplicaCrash`, `ReplicaRestart`,
/// `FaultStart` and `FaultEnd` belong to no request (`request` 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TraceKind {
    /// A client's logical request begins (`client`, `edge`; `service` is the service it calls).
    RequestStart,
    /// An attempt leaves its caller over `edge` (`number`: 1 for the first try).
    AttemptSent,
    /// An attempt reaches its callee.
    Delivered,
    /// The attempt waits for a worker (`number`: queue length with it).
    Queued,
    /// The callee's queue was full; the attempt is refused.
    Rejected,
    /// A `worker` starts the attempt's local work (`duration`: its length; `slowed_by` and
    /// `fault` when a latency fault multiplied it).
    WorkStart,
    /// The local work is over (`outcome`: an error when the service failed on its own).
    WorkDone,
    /// The attempt gives its `worker` back: at the reply for thread-per-request services,
    /// at the first downstream call for async ones.
    WorkerReleased,
    /// The service serving `parent` begins a downstream call over `edge` (`number`: its index in
    /// the service's call plan).
    CallStart,
    /// The callee sends its reply (`outcome`).
    ReplySent,
    /// The caller receives the reply of the attempt it awaits (`duration`: the attempt's latency).
    ReplyReceived,
    /// A reply arrives after its attempt timed out or its call ended; it changes nothing.
    LateReply,
    /// The caller's timeout fired (`duration`: the timeout).
    Timeout,
    /// The attempt failed (`outcome`) and the caller will retry after `duration` (`number`: the
    /// next attempt's number).
    RetryScheduled,
    /// A downstream call is over (`outcome`; `number`: attempts made).
    CallFinished,
    /// The logical request is over (`outcome`; `duration`: its latency, retries included).
    RequestFinished,
    /// A call's overall deadline passed (`duration`: how long the call had run); its attempts
    /// in flight fail with it.
    Deadline,
    /// The caller sends another hedged copy of a call (`attempt`: the copy; `number`: its
    /// copy number, 2 for the first extra copy).
    HedgeCopy,
    /// The edge's circuit breaker changed state (`breaker`: from and to). `request` is the
    /// request whose call or attempt the breaker was judging when it changed, or 0.
    BreakerTransition,
    /// A call failed and its edge's fallback answered instead (`outcome`: degraded).
    Fallback,
    /// The callee's load shedding refused the attempt (`number`: 0 the adaptive concurrency
    /// limit, 1 the queue-length limit, 2 CoDel at dequeue).
    Shed,
    /// A replica's process died (`service`; `number`: the replica; `fault`: the scripted fault,
    /// or [`NONE`] for a leak). `request` is 0: it concerns every request there.
    ReplicaCrash,
    /// A replica's process runs again (`service`; `number`: the replica).
    ReplicaRestart,
    /// A scripted fault or a partition begins (`fault`; `service`: where it shows first).
    FaultStart,
    /// A scripted fault or a partition ends.
    FaultEnd,
    /// A queued attempt left its callee's queue because its caller gave up
    /// (`abandonment: Renege`).
    Reneged,
    /// The callee's queue was full; the attempt's sender waits for a place (`when_full:
    /// Backpressure`; `number`: senders waiting with it).
    Blocked,
}

impl TraceKind {
    pub const ALL: [TraceKind; 27] = [
        TraceKind::RequestStart,
        TraceKind::AttemptSent,
        TraceKind::Delivered,
        TraceKind::Queued,
        TraceKind::Rejected,
        TraceKind::WorkStart,
        TraceKind::WorkDone,
        TraceKind::WorkerReleased,
        TraceKind::CallStart,
        TraceKind::ReplySent,
        TraceKind::ReplyReceived,
        TraceKind::LateReply,
        TraceKind::Timeout,
        TraceKind::RetryScheduled,
        TraceKind::CallFinished,
        TraceKind::RequestFinished,
        TraceKind::Deadline,
        TraceKind::HedgeCopy,
        TraceKind::BreakerTransition,
        TraceKind::Fallback,
        TraceKind::Shed,
        TraceKind::ReplicaCrash,
        TraceKind::ReplicaRestart,
        TraceKind::FaultStart,
        TraceKind::FaultEnd,
        TraceKind::Reneged,
        TraceKind::Blocked,
    ];

    /// The name used in trace files and filters: `request_start`, `timeout`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            TraceKind::RequestStart => "request_start",
            TraceKind::AttemptSent => "attempt_sent",
            TraceKind::Delivered => "delivered",
            TraceKind::Queued => "queued",
            TraceKind::Rejected => "rejected",
            TraceKind::WorkStart => "work_start",
            TraceKind::WorkDone => "work_done",
            TraceKind::WorkerReleased => "worker_released",
            TraceKind::CallStart => "call_start",
            TraceKind::ReplySent => "reply_sent",
            TraceKind::ReplyReceived => "reply_received",
            TraceKind::LateReply => "late_reply",
            TraceKind::Timeout => "timeout",
            TraceKind::RetryScheduled => "retry_scheduled",
            TraceKind::CallFinished => "call_finished",
            TraceKind::RequestFinished => "request_finished",
            TraceKind::Deadline => "deadline",
            TraceKind::HedgeCopy => "hedge_copy",
            TraceKind::BreakerTransition => "breaker_transition",
            TraceKind::Fallback => "fallback",
            TraceKind::Shed => "shed",
            TraceKind::ReplicaCrash => "replica_crash",
            TraceKind::ReplicaRestart => "replica_restart",
            TraceKind::FaultStart => "fault_start",
            TraceKind::FaultEnd => "fault_end",
            TraceKind::Reneged => "reneged",
            TraceKind::Blocked => "blocked",
        }
    }

    /// The kind named `name` (as [`as_str`](Self::as_str) prints it).
    pub fn parse(name: &str) -> Option<TraceKind> {
        TraceKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Marks an absent id in the `u32` fields of a [`TraceRecord`].
pub const NONE: u32 = u32::MAX;

/// One thing that happened to one logical request. Fields that do not apply to the record's
/// kind hold [`NONE`] (ids), 0 (attempt ids), [`SimDuration::ZERO`] or `None`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceRecord {
    pub time: SimTime,
    pub kind: TraceKind,
    /// The logical request, from 1 in order of client arrivals.
    pub request: u64,
    /// The attempt the record is about; 0 for `RequestStart`, `RequestFinished`, `CallStart` and
    /// `CallFinished`.
    pub attempt: u64,
    /// The attempt served by the service that makes the call (caller-side records and
    /// `CallStart`/`CallFinished`); 0 when the caller is a client.
    pub parent: u64,
    /// Index of the service (see the kinds for which one).
    pub service: u32,
    /// Index of the client, for `RequestStart` and `RequestFinished`.
    pub client: u32,
    /// Index of the edge, in [`RunResult::edges`] order.
    pub edge: u32,
    /// The worker of `service` (0..workers), for `WorkStart`, `WorkDone` and `WorkerReleased`.
    pub worker: u32,
    /// A count whose meaning depends on the kind (attempt number, queue length, call index).
    pub number: u32,
    /// Index of the first latency fault that slowed the work (`WorkStart`), or [`NONE`].
    pub fault: u32,
    /// The factor by which latency faults multiplied the work (`WorkStart`); 1 when none did.
    pub slowed_by: f64,
    /// A duration whose meaning depends on the kind (work, timeout, backoff, latency).
    pub duration: SimDuration,
    pub outcome: Option<Outcome>,
    /// A circuit breaker's change of state, from and to (`BreakerTransition`).
    pub breaker: Option<(BreakerState, BreakerState)>,
}

impl TraceRecord {
    /// A record with every optional field empty.
    pub fn new(time: SimTime, kind: TraceKind, request: u64) -> TraceRecord {
        TraceRecord {
            time,
            kind,
            request,
            attempt: 0,
            parent: 0,
            service: NONE,
            client: NONE,
            edge: NONE,
            worker: NONE,
            number: 0,
            fault: NONE,
            slowed_by: 1.0,
            duration: SimDuration::ZERO,
            outcome: None,
            breaker: None,
        }
    }
}

/// Receives the records of a run, in time order (ties in the order they happened).
pub trait RecordSink {
    fn record(&mut self, record: &TraceRecord);
}

impl RecordSink for Vec<TraceRecord> {
    fn record(&mut self, record: &TraceRecord) {
        self.push(*record);
    }
}

impl<F: FnMut(&TraceRecord)> RecordSink for F {
    fn record(&mut self, record: &TraceRecord) {
        self(record)
    }
}

/// Collects every record; clone it, give one clone to the run and [`take`](Self::take) the
/// records from the other afterwards.
#[derive(Clone, Default)]
pub struct TraceBuffer(Rc<RefCell<Vec<TraceRecord>>>);

impl TraceBuffer {
    pub fn new() -> TraceBuffer {
        TraceBuffer::default()
    }

    /// The records collected so far, leaving the buffer empty.
    pub fn take(&self) -> Vec<TraceRecord> {
        std::mem::take(&mut self.0.borrow_mut())
    }
}

impl RecordSink for TraceBuffer {
    fn record(&mut self, record: &TraceRecord) {
        self.0.borrow_mut().push(*record);
    }
}

/// The names behind the ids of [`TraceRecord`]s.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceNames {
    pub services: Vec<String>,
    /// Workers per service, so workers (`payments/3`) can be checked.
    pub workers: Vec<u32>,
    pub clients: Vec<String>,
    /// Per edge, the caller (`client:NAME` or a service name) and the callee.
    pub edges: Vec<(String, String)>,
    /// Per fault, its description (`payments latency x10`).
    pub faults: Vec<String>,
}

impl TraceNames {
    /// The names of a finished run (the same as [`crate::World::trace_names`] before it).
    pub fn of(result: &RunResult) -> TraceNames {
        TraceNames {
            services: result.services.iter().map(|s| s.name.clone()).collect(),
            workers: result.services.iter().map(|s| s.workers).collect(),
            clients: result.clients.iter().map(|c| c.name.clone()).collect(),
            edges: result
                .edges
                .iter()
                .map(|e| (e.from.clone(), e.to.clone()))
                .collect(),
            faults: result
                .faults
                .iter()
                .map(|f| f.description.clone())
                .collect(),
        }
    }

    /// The service's name, or `?` for an id that is not one.
    pub fn service(&self, id: u32) -> &str {
        self.services.get(id as usize).map_or("?", String::as_str)
    }

    pub fn client(&self, id: u32) -> &str {
        self.clients.get(id as usize).map_or("?", String::as_str)
    }

    /// The edge's caller and callee.
    pub fn edge(&self, id: u32) -> (&str, &str) {
        self.edges
            .get(id as usize)
            .map_or(("?", "?"), |(a, b)| (a.as_str(), b.as_str()))
    }

    pub fn fault(&self, id: u32) -> &str {
        self.faults.get(id as usize).map_or("?", String::as_str)
    }

    /// The service an id names.
    pub fn service_id(&self, name: &str) -> Option<u32> {
        self.services
            .iter()
            .position(|s| s == name)
            .map(|i| i as u32)
    }
}
