//! The Chrome trace-event document for Perfetto (its layout is in the `trace` module's doc).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::Write as _;
use std::io::{self, Write};

use models::trace::NONE;
use models::{Outcome, TraceKind, TraceNames, TraceRecord};
use sim_core::SimTime;

use super::filter::Filter;
use super::format::{Fields, Object, Quoted, factor, micros, millis, outcome_str, quoted};
use super::jsonl::shed_by_str;

/// What a Chrome event shows.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// A client's logical request on its lane; `number` is its attempts.
    Request,
    /// An attempt holding a worker.
    Hold,
    /// An attempt's local work.
    Work,
    /// A downstream call the holding attempt waits on; `number` is its attempts.
    Call,
    /// A scripted fault's window, on its own track.
    Fault,
    /// A marker at one instant; `scope` is `t` (its thread) or `p` (its process).
    Instant { scope: char },
    /// One end of the arrow from an attempt's sending (at its caller) to the worker that takes
    /// it up (at its callee): Perfetto's flow events, bound to the enclosing spans.
    Flow { start: bool },
}

#[derive(Clone, Copy, Debug)]
struct ChromeEvent {
    ts_ns: u64,
    dur_ns: u64,
    pid: u32,
    tid: u32,
    shape: Shape,
    /// The record that starts the span, or the instant's record.
    record: TraceRecord,
    outcome: Option<Outcome>,
    number: u32,
}

/// Who calls over an edge.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Client(u32),
    Service(u32),
}

struct OpenRequest {
    start: TraceRecord,
    lane: u32,
}

struct OpenHold {
    start: TraceRecord,
    /// When the worker was given back, if it was.
    released: Option<SimTime>,
}

/// Builds a Chrome trace-event document from records fed in time order (see the module
/// documentation for the layout). With a filter, a span is kept when its starting record
/// passes every term but `t` and the span meets the time range; an instant is kept when its
/// record passes.
pub struct ChromeTrace {
    names: TraceNames,
    quoted: Quoted,
    filter: Filter,
    callers: Vec<Caller>,
    requests: BTreeMap<u64, OpenRequest>,
    /// Per client, its free lanes (lowest first) and how many lanes it has used.
    free_lanes: Vec<BinaryHeap<Reverse<u32>>>,
    lanes: Vec<u32>,
    /// Attempts holding (or having held) a worker, until they reply; by attempt id.
    holds: BTreeMap<u64, OpenHold>,
    /// Downstream calls a holding attempt waits on, by that attempt's id.
    calls: BTreeMap<u64, (TraceRecord, u32, u32)>,
    /// Fault windows begun and not yet ended, by fault index.
    faults: BTreeMap<u32, TraceRecord>,
    events: Vec<ChromeEvent>,
    last: SimTime,
}

impl ChromeTrace {
    pub fn new(names: &TraceNames, filter: Filter) -> ChromeTrace {
        let callers = names
            .edges
            .iter()
            .map(|(from, _)| match from.strip_prefix("client:") {
                Some(client) => Caller::Client(
                    names.clients.iter().position(|c| c == client).unwrap_or(0) as u32,
                ),
                None => Caller::Service(names.service_id(from).unwrap_or(0)),
            })
            .collect();
        ChromeTrace {
            names: names.clone(),
            quoted: Quoted::new(names),
            filter,
            callers,
            requests: BTreeMap::new(),
            free_lanes: vec![BinaryHeap::new(); names.clients.len()],
            lanes: vec![0; names.clients.len()],
            holds: BTreeMap::new(),
            calls: BTreeMap::new(),
            faults: BTreeMap::new(),
            events: Vec::new(),
            last: SimTime::ZERO,
        }
    }

    fn client_pid(&self, client: u32) -> u32 {
        1 + client
    }

    fn service_pid(&self, service: u32) -> u32 {
        1 + self.names.clients.len() as u32 + service
    }

    /// The process of the faults that show at no service, after the services.
    fn faults_pid(&self) -> u32 {
        1 + (self.names.clients.len() + self.names.services.len()) as u32
    }

    /// The track of a fault's window: in the process of the service where it shows first, one
    /// thread per fault after the worker slots (or in the faults process when at no service).
    /// A fault has one window, so its spans never overlap.
    fn fault_track(&self, r: &TraceRecord) -> (u32, u32) {
        match self.names.workers.get(r.service as usize) {
            Some(&workers) => (self.service_pid(r.service), workers + 1 + r.fault),
            None => (self.faults_pid(), 1 + r.fault),
        }
    }

    fn caller_pid(&self, edge: u32) -> u32 {
        match self.callers.get(edge as usize) {
            Some(Caller::Client(c)) => self.client_pid(*c),
            Some(Caller::Service(s)) => self.service_pid(*s),
            None => 0,
        }
    }

    /// Keeps `event` if the filter selects it; only kept events take memory.
    fn push(&mut self, event: ChromeEvent) {
        if self.kept(&event) {
            self.events.push(event);
        }
    }

    /// A span from its starting record to `end`, on track (`pid`, `tid`); `end` carries the
    /// outcome and a count (attempts) when there is one.
    fn span(
        &mut self,
        shape: Shape,
        start: &TraceRecord,
        end: (SimTime, Option<Outcome>, u32),
        pid: u32,
        tid: u32,
    ) {
        let (end, outcome, number) = end;
        self.push(ChromeEvent {
            ts_ns: start.time.as_nanos(),
            dur_ns: end.saturating_since(start.time).as_nanos(),
            pid,
            tid,
            shape,
            record: *start,
            outcome,
            number,
        });
    }

    /// Where the caller of `r` (a caller-side record) is drawn: its thread, or its process.
    fn caller_track(&self, r: &TraceRecord) -> (u32, u32, char) {
        if r.parent == 0 {
            if let Some(open) = self.requests.get(&r.request) {
                return (self.client_pid(open.start.client), open.lane + 1, 't');
            }
        } else if let Some(hold) = self.holds.get(&r.parent)
            && hold.released.is_none()
        {
            let start = &hold.start;
            return (self.service_pid(start.service), start.worker + 1, 't');
        }
        (self.caller_pid(r.edge), 0, 'p')
    }

    /// An end of an attempt's flow arrow, on a thread (process-wide flows bind to nothing).
    fn flow(&mut self, r: &TraceRecord, pid: u32, tid: u32, start: bool) {
        if tid == 0 {
            return;
        }
        self.push(ChromeEvent {
            ts_ns: r.time.as_nanos(),
            dur_ns: 0,
            pid,
            tid,
            shape: Shape::Flow { start },
            record: *r,
            outcome: None,
            number: 0,
        });
    }

    fn instant(&mut self, r: &TraceRecord, track: (u32, u32, char)) {
        let (pid, tid, scope) = track;
        self.push(ChromeEvent {
            ts_ns: r.time.as_nanos(),
            dur_ns: 0,
            pid,
            tid,
            shape: Shape::Instant { scope },
            record: *r,
            outcome: r.outcome,
            number: r.number,
        });
    }

    /// Feeds one record; records must come in time order.
    pub fn add(&mut self, r: &TraceRecord) {
        debug_assert!(r.time >= self.last, "records in time order");
        self.last = r.time;
        match r.kind {
            TraceKind::RequestStart => {
                let client = r.client as usize;
                if client >= self.free_lanes.len() {
                    // A consumer's processing of a message a broker delivered: no client's
                    // lane; its work and calls show on the consumer's workers.
                    return;
                }
                let lane = match self.free_lanes[client].pop() {
                    Some(Reverse(lane)) => lane,
                    None => {
                        self.lanes[client] += 1;
                        self.lanes[client] - 1
                    }
                };
                self.requests
                    .insert(r.request, OpenRequest { start: *r, lane });
            }
            TraceKind::RequestFinished => {
                if let Some(open) = self.requests.remove(&r.request) {
                    let pid = self.client_pid(open.start.client);
                    let end = (r.time, r.outcome, r.number);
                    self.span(Shape::Request, &open.start, end, pid, open.lane + 1);
                    self.free_lanes[open.start.client as usize].push(Reverse(open.lane));
                }
            }
            TraceKind::WorkStart => {
                self.holds.insert(
                    r.attempt,
                    OpenHold {
                        start: *r,
                        released: None,
                    },
                );
                let (pid, tid) = (self.service_pid(r.service), r.worker + 1);
                self.span(Shape::Work, r, (r.time + r.duration, None, 0), pid, tid);
                self.flow(r, pid, tid, false);
            }
            TraceKind::AttemptSent => {
                let (pid, tid, _) = self.caller_track(r);
                self.flow(r, pid, tid, true);
            }
            TraceKind::WorkerReleased => {
                if let Some(hold) = self.holds.get_mut(&r.attempt) {
                    hold.released = Some(r.time);
                }
            }
            TraceKind::ReplySent => {
                if let Some(hold) = self.holds.remove(&r.attempt) {
                    let end = hold.released.unwrap_or(r.time);
                    let start = hold.start;
                    let (pid, tid) = (self.service_pid(start.service), start.worker + 1);
                    self.span(Shape::Hold, &start, (end, r.outcome, 0), pid, tid);
                }
            }
            TraceKind::CallStart => {
                if let Some(hold) = self.holds.get(&r.parent)
                    && hold.released.is_none()
                {
                    let (pid, tid) = (self.service_pid(hold.start.service), hold.start.worker + 1);
                    self.calls.insert(r.parent, (*r, pid, tid));
                }
            }
            TraceKind::CallFinished => {
                if let Some((start, pid, tid)) = self.calls.remove(&r.parent) {
                    self.span(Shape::Call, &start, (r.time, r.outcome, r.number), pid, tid);
                }
            }
            TraceKind::Timeout
            | TraceKind::Deadline
            | TraceKind::RetryScheduled
            | TraceKind::HedgeCopy
            | TraceKind::Fallback
            | TraceKind::LateReply => {
                let track = self.caller_track(r);
                self.instant(r, track);
            }
            TraceKind::BreakerTransition => {
                let track = (self.caller_pid(r.edge), 0, 'p');
                self.instant(r, track);
            }
            TraceKind::Rejected | TraceKind::Shed | TraceKind::Reneged | TraceKind::Blocked => {
                let track = (self.service_pid(r.service), 0, 'p');
                self.instant(r, track);
            }
            TraceKind::ReplicaCrash | TraceKind::ReplicaRestart => {
                if r.service != NONE {
                    let track = (self.service_pid(r.service), 0, 'p');
                    self.instant(r, track);
                }
            }
            TraceKind::FaultStart => {
                self.faults.insert(r.fault, *r);
            }
            TraceKind::FaultEnd => {
                if let Some(start) = self.faults.remove(&r.fault) {
                    let (pid, tid) = self.fault_track(&start);
                    self.span(Shape::Fault, &start, (r.time, None, 0), pid, tid);
                }
            }
            TraceKind::Delivered
            | TraceKind::Queued
            | TraceKind::WorkDone
            | TraceKind::ReplyReceived => {}
        }
    }

    /// Closes what is still open at the end of the run (requests and attempts in flight, fault
    /// windows), with no outcome, at the time of the last record.
    fn close_open(&mut self) {
        let end = self.last;
        for (_, start) in std::mem::take(&mut self.faults) {
            let (pid, tid) = self.fault_track(&start);
            self.span(Shape::Fault, &start, (end, None, 0), pid, tid);
        }
        for (_, open) in std::mem::take(&mut self.requests) {
            let pid = self.client_pid(open.start.client);
            self.span(
                Shape::Request,
                &open.start,
                (end, None, 0),
                pid,
                open.lane + 1,
            );
        }
        for (_, (start, pid, tid)) in std::mem::take(&mut self.calls) {
            self.span(Shape::Call, &start, (end, None, 0), pid, tid);
        }
        for (_, hold) in std::mem::take(&mut self.holds) {
            let start = hold.start;
            let (pid, tid) = (self.service_pid(start.service), start.worker + 1);
            let released = hold.released.unwrap_or(end);
            self.span(Shape::Hold, &start, (released, None, 0), pid, tid);
        }
    }

    fn kept(&self, e: &ChromeEvent) -> bool {
        match e.shape {
            Shape::Instant { .. } | Shape::Flow { .. } => self.filter.matches(&e.record),
            _ => {
                self.filter.matches_except_time(&e.record)
                    && self
                        .filter
                        .overlaps(e.record.time, SimTime(e.ts_ns.saturating_add(e.dur_ns)))
            }
        }
    }

    /// The event's name and category.
    fn event_name(&self, e: &ChromeEvent) -> (String, &'static str) {
        let r = &e.record;
        match e.shape {
            Shape::Request => (format!("request {}", r.request), "request"),
            Shape::Hold => (format!("request {}", r.request), "attempt"),
            Shape::Work if r.fault != NONE => {
                (format!("work (slowed x{})", factor(r.slowed_by)), "work")
            }
            Shape::Work => ("work".to_string(), "work"),
            Shape::Call => (format!("call {}", self.names.service(r.service)), "call"),
            Shape::Fault => (format!("fault: {}", self.names.fault(r.fault)), "fault"),
            Shape::Flow { .. } => ("attempt".to_string(), "flow"),
            Shape::Instant { .. } => {
                let name = match r.kind {
                    TraceKind::RetryScheduled => "retry".to_string(),
                    TraceKind::LateReply => "late reply".to_string(),
                    TraceKind::HedgeCopy => format!("hedge copy {}", r.number),
                    TraceKind::BreakerTransition => {
                        let (from, to) =
                            r.breaker.map_or(("?", "?"), |(a, b)| (a.name(), b.name()));
                        format!("breaker {from} -> {to}")
                    }
                    TraceKind::ReplicaCrash => format!("crash replica {}", r.number),
                    TraceKind::ReplicaRestart => format!("restart replica {}", r.number),
                    other => other.as_str().to_string(),
                };
                (name, r.kind.as_str())
            }
        }
    }

    fn event_json(&self, e: &ChromeEvent, args: &mut Fields, out: &mut String) {
        let q = &self.quoted;
        let r = &e.record;
        let (name, cat) = self.event_name(e);
        let mut event = Object::open(out);
        event.str("name", &name).str("cat", cat);
        if let Shape::Flow { start } = e.shape {
            // Flow ends are paired by the attempt id; the finish binds to the span that encloses
            // it (the worker's hold starting at the same instant).
            event.str("ph", if start { "s" } else { "f" });
            if !start {
                event.str("bp", "e");
            }
            event
                .num("id", r.attempt)
                .num("ts", micros(e.ts_ns))
                .num("pid", e.pid)
                .num("tid", e.tid);
            event.out.push_str(",\"args\":");
            args.clear();
            args.num("attempt", r.attempt);
            if r.request != 0 {
                args.num("request", r.request);
            }
            args.write(event.out);
            out.push('}');
            return;
        }
        match e.shape {
            Shape::Instant { scope } => {
                event.str("ph", "i").str("s", &scope.to_string());
            }
            _ => {
                event.str("ph", "X");
            }
        }
        event.num("ts", micros(e.ts_ns));
        if !matches!(e.shape, Shape::Instant { .. }) {
            event.num("dur", micros(e.dur_ns));
        }
        event.num("pid", e.pid).num("tid", e.tid);
        event.out.push_str(",\"args\":");
        args.clear();
        if r.attempt != 0 {
            args.num("attempt", r.attempt);
        }
        if matches!(e.shape, Shape::Request | Shape::Call) && e.outcome.is_some() {
            args.num("attempts", e.number);
        }
        if r.edge != NONE && e.shape != Shape::Work {
            args.raw("edge", q.edge(r.edge));
        }
        let held = matches!(e.shape, Shape::Hold | Shape::Work);
        if held {
            args.raw("instance", q.instance(r.service, r.worker));
            args.num("work_ms", millis(r.duration.as_nanos()));
            if r.fault != NONE {
                args.raw("fault", q.fault(r.fault));
                args.num("slowed_by", factor(r.slowed_by));
            }
        }
        let outcome = match e.outcome {
            Some(o) => outcome_str(o),
            None if matches!(e.shape, Shape::Instant { .. } | Shape::Work | Shape::Fault) => "",
            None => "in flight at the end",
        };
        if !outcome.is_empty() {
            args.str("outcome", outcome);
        }
        if r.parent != 0 {
            args.num("parent_attempt", r.parent);
        }
        // Crashes, restarts and fault windows belong to no request.
        if r.request != 0 {
            args.num("request", r.request);
        }
        if e.shape == Shape::Fault {
            args.raw("fault", q.fault(r.fault));
        } else if matches!(e.shape, Shape::Instant { .. }) {
            ChromeTrace::instant_args(q, args, r);
        }
        args.write(event.out);
        out.push('}');
    }

    /// The arguments an instant has because of its kind.
    fn instant_args(q: &Quoted, args: &mut Fields, r: &TraceRecord) {
        match r.kind {
            TraceKind::RetryScheduled => {
                args.num("backoff_ms", millis(r.duration.as_nanos()));
                args.num("next_attempt_number", r.number);
            }
            TraceKind::Timeout | TraceKind::Deadline => {
                args.num("waited_ms", millis(r.duration.as_nanos()));
            }
            TraceKind::HedgeCopy => args.num("copy_number", r.number),
            TraceKind::BreakerTransition => {
                if let Some((from, to)) = r.breaker {
                    args.str("from", from.name());
                    args.str("to", to.name());
                }
            }
            TraceKind::Shed => args.str("shed_by", shed_by_str(r.number)),
            TraceKind::ReplicaCrash | TraceKind::ReplicaRestart => {
                args.num("replica", r.number);
                if r.fault != NONE {
                    args.raw("fault", q.fault(r.fault));
                }
            }
            _ => {}
        }
    }

    fn metadata(out: &mut String, name: &str, pid: u32, tid: u32, key: &str, value: &str) {
        let _ = write!(
            out,
            "{{\"name\":\"{name}\",\"cat\":\"__metadata\",\"ph\":\"M\",\"ts\":0,\"pid\":{pid},\
             \"tid\":{tid},\"args\":{{\"{key}\":{value}}}}}"
        );
    }

    /// `client shoppers`, `service payments`, or `faults` for the faults at no service.
    fn process_name(&self, pid: u32) -> String {
        let n_clients = self.names.clients.len() as u32;
        if pid <= n_clients {
            format!("client {}", self.names.client(pid - 1))
        } else if pid < self.faults_pid() {
            format!("service {}", self.names.service(pid - 1 - n_clients))
        } else {
            "faults".to_string()
        }
    }

    /// A thread's name and sort index: a client's lane, a worker slot (`payments/3`), or a
    /// fault's track, named by the fault and sorted before the workers (index 0).
    fn thread_name(&self, pid: u32, tid: u32) -> (String, u32) {
        let n_clients = self.names.clients.len() as u32;
        if pid <= n_clients {
            return (
                format!("{} lane {}", self.names.client(pid - 1), tid - 1),
                tid,
            );
        }
        let (workers, service) = match pid.checked_sub(1 + n_clients) {
            Some(service) if pid < self.faults_pid() => {
                (self.names.workers[service as usize], service)
            }
            _ => (0, NONE),
        };
        if tid <= workers {
            let name = format!("{}/{}", self.names.service(service), tid - 1);
            (name, tid)
        } else {
            (format!("fault: {}", self.names.fault(tid - 1 - workers)), 0)
        }
    }

    /// Writes the document.
    pub fn finish(mut self, out: &mut impl Write) -> io::Result<()> {
        self.close_open();
        let mut events = std::mem::take(&mut self.events);
        // By start, longest first, so a span comes before the spans nested in it; the sort is
        // stable, so ties keep the order of the records.
        events.sort_by_key(|e| (e.ts_ns, Reverse(e.dur_ns)));
        let tracks: BTreeSet<(u32, u32)> = events.iter().map(|e| (e.pid, e.tid)).collect();
        let mut line = String::new();
        out.write_all(b"{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n")?;
        let mut first = true;
        let mut emit = |line: &str, out: &mut dyn Write| -> io::Result<()> {
            if !first {
                out.write_all(b",\n")?;
            }
            first = false;
            out.write_all(line.as_bytes())
        };
        let pids: BTreeSet<u32> = tracks.iter().map(|&(pid, _)| pid).collect();
        for &pid in &pids {
            let name = quoted(&self.process_name(pid));
            line.clear();
            ChromeTrace::metadata(&mut line, "process_name", pid, 0, "name", &name);
            emit(&line, out)?;
            line.clear();
            let index = pid.to_string();
            ChromeTrace::metadata(
                &mut line,
                "process_sort_index",
                pid,
                0,
                "sort_index",
                &index,
            );
            emit(&line, out)?;
        }
        for &(pid, tid) in &tracks {
            if tid == 0 {
                continue;
            }
            let (name, index) = self.thread_name(pid, tid);
            line.clear();
            ChromeTrace::metadata(&mut line, "thread_name", pid, tid, "name", &quoted(&name));
            emit(&line, out)?;
            line.clear();
            let index = index.to_string();
            ChromeTrace::metadata(
                &mut line,
                "thread_sort_index",
                pid,
                tid,
                "sort_index",
                &index,
            );
            emit(&line, out)?;
        }
        let mut args = Fields::default();
        for e in &events {
            line.clear();
            self.event_json(e, &mut args, &mut line);
            emit(&line, out)?;
        }
        out.write_all(b"\n]}\n")
    }
}

/// The Chrome trace of `records` (in time order), filtered as [`ChromeTrace`] says.
pub fn chrome_trace(records: &[TraceRecord], names: &TraceNames, filter: Filter) -> String {
    let mut trace = ChromeTrace::new(names, filter);
    for r in records {
        trace.add(r);
    }
    let mut out = Vec::new();
    trace.finish(&mut out).expect("writing to memory");
    String::from_utf8(out).expect("JSON is UTF-8")
}
