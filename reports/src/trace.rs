//! Domain traces as documents: JSON Lines, a record filter, Chrome trace-event JSON for Perfetto
//! and the causal story of one logical request.
//!
//! Everything here reads [`TraceRecord`]s (see `models::trace`) and the [`TraceNames`] behind
//! their ids, and writes deterministic bytes: keys in a fixed (alphabetical) order, times as
//! integers of nanoseconds or as fixed decimals computed with integer arithmetic.
//!
//! # Chrome trace layout
//!
//! The Chrome trace is one JSON object `{"displayTimeUnit": "ms", "traceEvents": [...]}`, one
//! event per line, which Perfetto (ui.perfetto.dev) and `chrome://tracing` open:
//!
//! - one process per client (`client shoppers`) and per service (`service payments`), clients
//!   first, then services in scenario order;
//! - a service has one thread per worker slot (`payments/3`, the `worker` of the filter). Each
//!   attempt that holds a worker is a complete event (`ph: "X"`) named `request N` (Perfetto
//!   colours by name, so one request has one colour on every service), from the moment it takes
//!   the worker to the moment it gives it back. Nested inside it: its local `work` and, for a
//!   thread-per-request service, each downstream `call S` it waits on. An async service gives
//!   its worker back before its calls, so its calls have no span;
//! - a client's requests overlap, so a client has *lanes*: each request is a complete event on
//!   the lowest lane free when it starts (`shoppers lane 0`, ...), so spans never overlap on a
//!   lane and the number of lanes is the most requests in flight at once;
//! - instant events (`ph: "i"`) mark `timeout`, `retry`, `rejected` and `late reply`. Timeouts,
//!   retries and late replies are drawn at the caller: on the client lane of the request or on
//!   the worker of the calling attempt (`s: "t"`), or process-wide (`s: "p"`, `tid` 0) when the
//!   caller holds no track any more; rejections are process-wide at the callee. Circuit breakers
//!   do not exist yet; their state changes will be process-wide instant events of the caller.
//!
//! Every event has `name`, `cat`, `ph`, `ts` and `pid`/`tid`; complete events have `dur`; times
//! are microseconds with three decimals (exact nanoseconds). Metadata events (`ph: "M"`) name the
//! processes and threads and order them; they carry `ts: 0`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::{self, Write as _};
use std::io::{self, Write};

use models::metrics::FailureCause;
use models::trace::NONE;
use models::{Outcome, TraceKind, TraceNames, TraceRecord};
use sim_core::{SimDuration, SimTime};

// ---------------------------------------------------------------------------------------------
// Formatting helpers

/// Nanoseconds as seconds with nine decimals: `120.000000001`.
fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// Nanoseconds as microseconds with three decimals: `120000000.001`.
fn micros(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

/// Nanoseconds as milliseconds with six decimals: `12.345678`.
fn millis(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000, ns % 1_000_000)
}

/// A string as a JSON string literal.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

/// `ok`, or the failure cause: `timeout`, `rejected`, `error`, `dependency`.
pub fn outcome_str(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Degraded => "degraded",
        Outcome::Failed(cause) => cause.as_str(),
    }
}

/// A multiplier as written in scenarios: `10`, `2.5`.
fn factor(x: f64) -> String {
    format!("{x}")
}

/// The names of a trace, quoted once for JSON.
struct Quoted {
    services: Vec<String>,
    clients: Vec<String>,
    /// `"from -> to"`.
    edges: Vec<String>,
    faults: Vec<String>,
    /// Per service, per worker slot: `"payments/3"`.
    instances: Vec<Vec<String>>,
}

impl Quoted {
    fn new(names: &TraceNames) -> Quoted {
        Quoted {
            services: names.services.iter().map(|s| quoted(s)).collect(),
            clients: names.clients.iter().map(|c| quoted(c)).collect(),
            edges: names
                .edges
                .iter()
                .map(|(from, to)| quoted(&format!("{from} -> {to}")))
                .collect(),
            faults: names.faults.iter().map(|f| quoted(f)).collect(),
            instances: names
                .services
                .iter()
                .zip(&names.workers)
                .map(|(s, &w)| (0..w).map(|i| quoted(&format!("{s}/{i}"))).collect())
                .collect(),
        }
    }

    fn get(list: &[String], id: u32) -> &str {
        list.get(id as usize).map_or("\"?\"", String::as_str)
    }

    fn service(&self, id: u32) -> &str {
        Quoted::get(&self.services, id)
    }

    fn client(&self, id: u32) -> &str {
        Quoted::get(&self.clients, id)
    }

    fn edge(&self, id: u32) -> &str {
        Quoted::get(&self.edges, id)
    }

    fn fault(&self, id: u32) -> &str {
        Quoted::get(&self.faults, id)
    }

    fn instance(&self, service: u32, slot: u32) -> &str {
        self.instances
            .get(service as usize)
            .and_then(|s| s.get(slot as usize))
            .map_or("\"?\"", String::as_str)
    }
}

/// Appends `,"key":value` (or `"key":value` first) to a JSON object being written.
struct Object<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut String) -> Object<'a> {
        out.push('{');
        Object { out, first: true }
    }

    /// Adds a key with a value that is already JSON.
    fn raw(&mut self, key: &str, value: &str) -> &mut Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
        self.out.push_str(value);
        self
    }

    fn num(&mut self, key: &str, value: impl fmt::Display) -> &mut Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        let _ = write!(self.out, "\"{key}\":{value}");
        self
    }

    fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.raw(key, &quoted(value))
    }

    fn close(&mut self) {
        self.out.push('}');
    }
}

// ---------------------------------------------------------------------------------------------
// JSON Lines

/// Writes records as JSON Lines: one `{"type": KIND, "data": {...}}` object per line, with names
/// instead of ids. `data` holds `t` (seconds, nine decimals), `t_ns`, `request` and, where they
/// apply, `attempt`, `parent_attempt`, `client`, `service`, `edge` (`"from -> to"`), `worker`
/// (its index in the service; the deprecated `instance`, `"payments/3"`, says the same),
/// `outcome`, and the kind's own numbers: `attempt_number`, `queue_length`, `call_index`,
/// `attempts`, `next_attempt_number`, `work_s`, `waited_s`, `latency_s`, `backoff_s`,
/// `slowed_by` and `fault`. Keys are in alphabetical order.
pub struct JsonLines {
    names: Quoted,
    line: String,
}

impl JsonLines {
    pub fn new(names: &TraceNames) -> JsonLines {
        JsonLines {
            names: Quoted::new(names),
            line: String::new(),
        }
    }

    /// One record as a line, without the newline.
    pub fn line(&mut self, r: &TraceRecord) -> &str {
        let names = &self.names;
        let line = &mut self.line;
        line.clear();
        line.push_str("{\"data\":");
        let mut data = Object::open(line);
        let number_key = match r.kind {
            TraceKind::AttemptSent => Some("attempt_number"),
            TraceKind::Queued => Some("queue_length"),
            TraceKind::RetryScheduled => Some("next_attempt_number"),
            TraceKind::CallStart => Some("call_index"),
            TraceKind::CallFinished | TraceKind::RequestFinished => Some("attempts"),
            _ => None,
        };
        let duration_key = match r.kind {
            TraceKind::WorkStart => Some("work_s"),
            TraceKind::Timeout | TraceKind::Deadline => Some("waited_s"),
            TraceKind::ReplyReceived | TraceKind::RequestFinished => Some("latency_s"),
            TraceKind::RetryScheduled => Some("backoff_s"),
            _ => None,
        };
        // The fault that slowed the work, began or ended, or crashed the replica.
        let slowed = r.fault != NONE
            && matches!(
                r.kind,
                TraceKind::WorkStart
                    | TraceKind::FaultStart
                    | TraceKind::FaultEnd
                    | TraceKind::ReplicaCrash
            );
        let number = |key: &str| number_key == Some(key);
        let duration = |key: &str| duration_key == Some(key);
        // Keys in alphabetical order.
        if r.attempt != 0 {
            data.num("attempt", r.attempt);
        }
        if number("attempt_number") {
            data.num("attempt_number", r.number);
        }
        if number("attempts") {
            data.num("attempts", r.number);
        }
        if duration("backoff_s") {
            data.num("backoff_s", seconds(r.duration.as_nanos()));
        }
        if number("call_index") {
            data.num("call_index", r.number);
        }
        if r.client != NONE {
            data.raw("client", names.client(r.client));
        }
        if r.edge != NONE {
            data.raw("edge", names.edge(r.edge));
        }
        if slowed {
            data.raw("fault", names.fault(r.fault));
        }
        if r.worker != NONE {
            data.raw("instance", names.instance(r.service, r.worker));
        }
        if duration("latency_s") {
            data.num("latency_s", seconds(r.duration.as_nanos()));
        }
        if number("next_attempt_number") {
            data.num("next_attempt_number", r.number);
        }
        if let Some(outcome) = r.outcome {
            data.str("outcome", outcome_str(outcome));
        }
        if r.parent != 0 {
            data.num("parent_attempt", r.parent);
        }
        if number("queue_length") {
            data.num("queue_length", r.number);
        }
        // Crashes, restarts and fault windows belong to no request.
        if r.request != 0 {
            data.num("request", r.request);
        }
        if r.service != NONE {
            data.raw("service", names.service(r.service));
        }
        if slowed {
            data.num("slowed_by", factor(r.slowed_by));
        }
        data.num("t", seconds(r.time.as_nanos()));
        data.num("t_ns", r.time.as_nanos());
        if duration("waited_s") {
            data.num("waited_s", seconds(r.duration.as_nanos()));
        }
        if duration("work_s") {
            data.num("work_s", seconds(r.duration.as_nanos()));
        }
        if r.worker != NONE {
            data.num("worker", r.worker);
        }
        data.close();
        line.push_str(",\"type\":\"");
        line.push_str(r.kind.as_str());
        line.push_str("\"}");
        &self.line
    }

    /// Writes one record and a newline.
    pub fn write(&mut self, out: &mut impl Write, r: &TraceRecord) -> io::Result<()> {
        self.line(r);
        self.line.push('\n');
        out.write_all(self.line.as_bytes())
    }
}

/// The records that pass `filter` as JSON Lines.
pub fn json_lines(records: &[TraceRecord], names: &TraceNames, filter: &Filter) -> String {
    let mut writer = JsonLines::new(names);
    let mut out = String::new();
    for r in records.iter().filter(|r| filter.matches(r)) {
        out.push_str(writer.line(r));
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Filter

/// A problem with a filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterError {
    /// A term is not `key=value`.
    NotKeyValue(String),
    UnknownKey(String),
    /// A key appears twice; terms are combined with AND, so that would select nothing.
    RepeatedKey(String),
    BadValue {
        key: String,
        value: String,
        message: String,
    },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::NotKeyValue(term) => write!(
                f,
                "filter term \"{term}\" is not key=value; expected for example \
                 service=payments,t=120s..130s"
            ),
            FilterError::UnknownKey(key) => write!(
                f,
                "unknown filter key \"{key}\"; expected request, service, worker, kind or t"
            ),
            FilterError::RepeatedKey(key) => write!(
                f,
                "filter key \"{key}\" is given twice; terms are combined with AND, so write \
                 {key}=A|B to select either value"
            ),
            FilterError::BadValue {
                key,
                value,
                message,
            } => write!(f, "filter {key}={value}: {message}"),
        }
    }
}

impl std::error::Error for FilterError {}

/// Selects trace records: a comma-separated AND of `key=value` terms, where a value may list
/// alternatives separated by `|`:
///
/// - `request=42`: records of logical request 42;
/// - `service=payments`: records at payments or about attempts and calls sent to it (see
///   `models::trace::TraceKind` for which service a record names);
/// - `worker=payments/3`: records of worker 3 of payments (work start and end, worker
///   release); `instance=` is its deprecated spelling, still accepted ([`Filter::warnings`]);
/// - `kind=timeout|retry_scheduled`: records of these kinds ([`TraceKind::as_str`]);
/// - `t=120s..130s`: records at `120 s <= t < 130 s`; either end may be left out (`t=120s..`).
///
/// An empty filter ([`Filter::all`]) selects everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    requests: Vec<u64>,
    services: Vec<u32>,
    workers: Vec<(u32, u32)>,
    kinds: Vec<TraceKind>,
    from: Option<SimTime>,
    to: Option<SimTime>,
}

impl Filter {
    /// Selects every record.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Parses `expression`, resolving names with `names`; `parse_duration` reads the ends of a
    /// time range (the CLI passes `scenarios::parse_duration`, so `120s`, `2m`, `1.5s` work).
    pub fn parse(
        expression: &str,
        names: &TraceNames,
        parse_duration: impl Fn(&str) -> Result<SimDuration, String>,
    ) -> Result<Filter, FilterError> {
        let mut filter = Filter::all();
        let mut seen = BTreeSet::new();
        for term in expression.split(',') {
            let term = term.trim();
            let Some((key, value)) = term.split_once('=') else {
                return Err(FilterError::NotKeyValue(term.to_string()));
            };
            let (key, value) = (key.trim(), value.trim());
            // `instance` is the deprecated spelling of `worker`; messages keep the user's word.
            let canonical = if key == "instance" { "worker" } else { key };
            let bad = |message: String| FilterError::BadValue {
                key: key.to_string(),
                value: value.to_string(),
                message,
            };
            if !["request", "service", "worker", "kind", "t"].contains(&canonical) {
                return Err(FilterError::UnknownKey(key.to_string()));
            }
            if !seen.insert(canonical) {
                return Err(FilterError::RepeatedKey(key.to_string()));
            }
            if value.is_empty() {
                return Err(bad("the value is empty".into()));
            }
            let alternatives = || value.split('|').map(str::trim);
            let service = |name: &str| {
                names.service_id(name).ok_or_else(|| {
                    bad(format!(
                        "unknown service \"{name}\"; the services are {}",
                        names.services.join(", ")
                    ))
                })
            };
            match canonical {
                "request" => {
                    for v in alternatives() {
                        let id = v.parse::<u64>().ok().filter(|&id| id > 0).ok_or_else(|| {
                            bad(format!(
                                "\"{v}\" is not a request id; expected a whole number from 1"
                            ))
                        })?;
                        filter.requests.push(id);
                    }
                }
                "service" => {
                    for v in alternatives() {
                        filter.services.push(service(v)?);
                    }
                }
                "worker" => {
                    for v in alternatives() {
                        let Some((name, worker)) = v.rsplit_once('/') else {
                            return Err(bad(format!(
                                "\"{v}\" is not a worker; expected SERVICE/WORKER such as \
                                 payments/3"
                            )));
                        };
                        let id = service(name)?;
                        let workers = names.workers.get(id as usize).copied().unwrap_or(0);
                        let worker = worker
                            .parse::<u32>()
                            .ok()
                            .filter(|&s| s < workers)
                            .ok_or_else(|| {
                                bad(format!(
                                    "{name} has {workers} workers, {name}/0 to {name}/{}",
                                    workers.saturating_sub(1)
                                ))
                            })?;
                        filter.workers.push((id, worker));
                    }
                }
                "kind" => {
                    for v in alternatives() {
                        let kind = TraceKind::parse(v).ok_or_else(|| {
                            let all: Vec<&str> =
                                TraceKind::ALL.iter().map(|k| k.as_str()).collect();
                            bad(format!(
                                "unknown kind \"{v}\"; the kinds are {}",
                                all.join(", ")
                            ))
                        })?;
                        filter.kinds.push(kind);
                    }
                }
                "t" => {
                    let Some((from, to)) = value.split_once("..") else {
                        return Err(bad(
                            "expected a time range such as 120s..130s (either end may be left \
                             out)"
                                .into(),
                        ));
                    };
                    let time = |text: &str| -> Result<Option<SimTime>, FilterError> {
                        let text = text.trim();
                        if text.is_empty() {
                            return Ok(None);
                        }
                        let d = parse_duration(text).map_err(&bad)?;
                        Ok(Some(SimTime::ZERO + d))
                    };
                    filter.from = time(from)?;
                    filter.to = time(to)?;
                    if let (Some(a), Some(b)) = (filter.from, filter.to)
                        && b <= a
                    {
                        return Err(bad(
                            "the range is empty: its end must come after its start".into()
                        ));
                    }
                }
                _ => unreachable!("keys are checked above"),
            }
        }
        Ok(filter)
    }

    /// The deprecated spellings `expression` uses, one sentence each (the binary prints them as
    /// warnings); [`Filter::parse`] accepts them all the same.
    pub fn warnings(expression: &str) -> Vec<String> {
        expression
            .split(',')
            .filter_map(|term| term.split_once('='))
            .filter(|(key, _)| key.trim() == "instance")
            .map(|(_, value)| {
                let value = value.trim();
                format!("instance={value} is deprecated; write worker={value}")
            })
            .collect()
    }

    /// Whether the record passes every term.
    pub fn matches(&self, r: &TraceRecord) -> bool {
        self.matches_except_time(r) && self.overlaps(r.time, r.time)
    }

    /// Whether the record passes every term but the time range.
    pub fn matches_except_time(&self, r: &TraceRecord) -> bool {
        (self.requests.is_empty() || self.requests.contains(&r.request))
            && (self.services.is_empty() || self.services.contains(&r.service))
            && (self.workers.is_empty() || self.workers.contains(&(r.service, r.worker)))
            && (self.kinds.is_empty() || self.kinds.contains(&r.kind))
    }

    /// Whether `[start, end]` meets the time range (`[from, to)`).
    pub fn overlaps(&self, start: SimTime, end: SimTime) -> bool {
        self.from.is_none_or(|from| end >= from) && self.to.is_none_or(|to| start < to)
    }
}

// ---------------------------------------------------------------------------------------------
// Chrome trace

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
    /// A marker at one instant; `scope` is `t` (its thread) or `p` (its process).
    Instant { scope: char },
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
            TraceKind::Rejected | TraceKind::Shed => {
                let track = (self.service_pid(r.service), 0, 'p');
                self.instant(r, track);
            }
            TraceKind::ReplicaCrash
            | TraceKind::ReplicaRestart
            | TraceKind::FaultStart
            | TraceKind::FaultEnd => {
                if r.service != NONE {
                    let track = (self.service_pid(r.service), 0, 'p');
                    self.instant(r, track);
                }
            }
            TraceKind::AttemptSent
            | TraceKind::Delivered
            | TraceKind::Queued
            | TraceKind::WorkDone
            | TraceKind::ReplyReceived => {}
        }
    }

    /// Closes what is still open at the end of the run (requests and attempts in flight), with
    /// no outcome, at the time of the last record.
    fn close_open(&mut self) {
        let end = self.last;
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
            Shape::Instant { .. } => self.filter.matches(&e.record),
            _ => {
                self.filter.matches_except_time(&e.record)
                    && self
                        .filter
                        .overlaps(e.record.time, SimTime(e.ts_ns.saturating_add(e.dur_ns)))
            }
        }
    }

    fn event_json(&self, e: &ChromeEvent, out: &mut String) {
        let q = &self.quoted;
        let r = &e.record;
        let (name, cat) = match e.shape {
            Shape::Request | Shape::Hold => (quoted(&format!("request {}", r.request)), {
                if e.shape == Shape::Request {
                    "request"
                } else {
                    "attempt"
                }
            }),
            Shape::Work if r.fault != NONE => (
                quoted(&format!("work (slowed x{})", factor(r.slowed_by))),
                "work",
            ),
            Shape::Work => ("\"work\"".to_string(), "work"),
            Shape::Call => (
                quoted(&format!("call {}", self.names.service(r.service))),
                "call",
            ),
            Shape::Instant { .. } => {
                let name = match r.kind {
                    TraceKind::Timeout => "timeout",
                    TraceKind::RetryScheduled => "retry",
                    TraceKind::Rejected => "rejected",
                    TraceKind::LateReply => "late reply",
                    other => other.as_str(),
                };
                (quoted(name), r.kind.as_str())
            }
        };
        let mut event = Object::open(out);
        event.raw("name", &name).str("cat", cat);
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
        let mut args = Object::open(event.out);
        if r.attempt != 0 {
            args.num("attempt", r.attempt);
        }
        match e.shape {
            Shape::Request | Shape::Call if e.outcome.is_some() => {
                args.num("attempts", e.number);
            }
            Shape::Instant { .. } if r.kind == TraceKind::RetryScheduled => {
                args.num("backoff_ms", millis(r.duration.as_nanos()));
            }
            _ => {}
        }
        if r.edge != NONE && e.shape != Shape::Work {
            args.raw("edge", q.edge(r.edge));
        }
        if r.fault != NONE && matches!(e.shape, Shape::Hold | Shape::Work) {
            args.raw("fault", q.fault(r.fault));
        }
        if matches!(e.shape, Shape::Hold | Shape::Work) {
            args.raw("instance", q.instance(r.service, r.worker));
        }
        if r.kind == TraceKind::RetryScheduled {
            args.num("next_attempt_number", r.number);
        }
        let outcome = match e.outcome {
            Some(o) => outcome_str(o),
            None if matches!(e.shape, Shape::Instant { .. } | Shape::Work) => "",
            None => "in flight at the end",
        };
        if !outcome.is_empty() {
            args.str("outcome", outcome);
        }
        if r.parent != 0 {
            args.num("parent_attempt", r.parent);
        }
        args.num("request", r.request);
        if r.fault != NONE && matches!(e.shape, Shape::Hold | Shape::Work) {
            args.num("slowed_by", factor(r.slowed_by));
        }
        if r.kind == TraceKind::Timeout {
            args.num("waited_ms", millis(r.duration.as_nanos()));
        }
        if matches!(e.shape, Shape::Hold | Shape::Work) {
            args.num("work_ms", millis(r.duration.as_nanos()));
        }
        args.close();
        out.push('}');
    }

    fn metadata(out: &mut String, name: &str, pid: u32, tid: u32, key: &str, value: &str) {
        let _ = write!(
            out,
            "{{\"name\":\"{name}\",\"cat\":\"__metadata\",\"ph\":\"M\",\"ts\":0,\"pid\":{pid},\
             \"tid\":{tid},\"args\":{{\"{key}\":{value}}}}}"
        );
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
            let n_clients = self.names.clients.len() as u32;
            let name = if pid <= n_clients {
                quoted(&format!("client {}", self.names.client(pid - 1)))
            } else {
                quoted(&format!(
                    "service {}",
                    self.names.service(pid - 1 - n_clients)
                ))
            };
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
            let n_clients = self.names.clients.len() as u32;
            let name = if pid <= n_clients {
                quoted(&format!("{} lane {}", self.names.client(pid - 1), tid - 1))
            } else {
                self.quoted
                    .instance(pid - 1 - n_clients, tid - 1)
                    .to_string()
            };
            line.clear();
            ChromeTrace::metadata(&mut line, "thread_name", pid, tid, "name", &name);
            emit(&line, out)?;
            line.clear();
            let index = tid.to_string();
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
        for e in &events {
            line.clear();
            self.event_json(e, &mut line);
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

// ---------------------------------------------------------------------------------------------
// Explain

/// What the story remembers of an attempt.
#[derive(Clone, Copy, Default)]
struct AttemptNote {
    depth: usize,
    number: u32,
    sent: SimTime,
    delivered: Option<SimTime>,
    queued: Option<SimTime>,
    work: Option<TraceRecord>,
    released: Option<SimTime>,
}

fn outcome_words(outcome: Option<Outcome>) -> String {
    match outcome {
        None => "no outcome".into(),
        Some(Outcome::Ok) => "ok".into(),
        Some(Outcome::Degraded) => "degraded (a fallback answered)".into(),
        Some(Outcome::Failed(FailureCause::Dependency)) => {
            "failed (dependency: a downstream call failed)".into()
        }
        Some(Outcome::Failed(FailureCause::Rejected)) => "failed (rejected: queue full)".into(),
        Some(Outcome::Failed(cause)) => format!("failed ({})", cause.as_str()),
    }
}

/// `1 attempt`, `3 attempts`.
fn attempts_words(n: u32) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

/// The causal story of logical request `request`: each attempt and hop, queue wait, work,
/// downstream call, timeout, retry with its backoff, late reply, and the outcome, in time order,
/// indented by hop. Work slowed by a latency fault names the fault. `records` may hold other
/// requests' records too; they are skipped.
pub fn explain(records: &[TraceRecord], request: u64, names: &TraceNames) -> String {
    let mine: Vec<&TraceRecord> = records.iter().filter(|r| r.request == request).collect();
    let mut out = String::new();
    let Some(first) = mine.first() else {
        let _ = writeln!(out, "request {request} does not appear in the trace");
        return out;
    };
    let start = first.time;
    let mut notes: BTreeMap<u64, AttemptNote> = BTreeMap::new();
    let mut slowed_work = 0u32;
    let mut faults_seen = BTreeSet::new();
    let mut finished: Option<&TraceRecord> = None;
    let mut over = false;
    if first.kind == TraceKind::RequestStart {
        let (_, to) = names.edge(first.edge);
        let _ = writeln!(
            out,
            "request {request}: from client {} to {to}, starting at {}s",
            names.client(first.client),
            seconds(start.as_nanos())
        );
    } else {
        let _ = writeln!(
            out,
            "request {request}: its start is not in the trace; first record at {}s",
            seconds(start.as_nanos())
        );
    }
    out.push('\n');
    for (i, r) in mine.iter().enumerate() {
        let depth_of = |attempt: u64| notes.get(&attempt).map_or(0, |n| n.depth);
        let (from, to) = names.edge(r.edge);
        let from = from.strip_prefix("client:").unwrap_or(from);
        let service = names.service(r.service);
        let note = notes.get(&r.attempt).copied().unwrap_or_default();
        let (depth, text) = match r.kind {
            TraceKind::RequestStart => continue,
            TraceKind::AttemptSent => {
                let depth = if r.parent == 0 {
                    0
                } else {
                    depth_of(r.parent) + 1
                };
                notes.insert(
                    r.attempt,
                    AttemptNote {
                        depth,
                        number: r.number,
                        sent: r.time,
                        ..AttemptNote::default()
                    },
                );
                let what = if r.number == 1 {
                    "attempt 1".to_string()
                } else {
                    format!("attempt {} (retry {})", r.number, r.number - 1)
                };
                (
                    depth,
                    format!("{from} -> {to}: {what} sent (#{})", r.attempt),
                )
            }
            TraceKind::Delivered => {
                if let Some(n) = notes.get_mut(&r.attempt) {
                    n.delivered = Some(r.time);
                }
                let network = r.time.saturating_since(note.sent);
                (
                    note.depth,
                    format!(
                        "{service}: #{} arrives after {network} on the network",
                        r.attempt
                    ),
                )
            }
            TraceKind::Queued => {
                if let Some(n) = notes.get_mut(&r.attempt) {
                    n.queued = Some(r.time);
                }
                let workers = names.workers.get(r.service as usize).copied().unwrap_or(0);
                (
                    note.depth,
                    format!(
                        "{service}: all {workers} workers busy; #{} waits in the queue \
                         (position {})",
                        r.attempt, r.number
                    ),
                )
            }
            TraceKind::Rejected => (
                note.depth,
                format!("{service}: queue full; #{} is rejected", r.attempt),
            ),
            TraceKind::WorkStart => {
                if let Some(n) = notes.get_mut(&r.attempt) {
                    n.work = Some(**r);
                }
                let waited = match note.queued {
                    Some(q) => format!("after {} in the queue", r.time.saturating_since(q)),
                    None => "at once".to_string(),
                };
                (
                    note.depth,
                    format!(
                        "{service}: worker {service}/{} starts #{} {waited}",
                        r.worker, r.attempt
                    ),
                )
            }
            TraceKind::WorkDone => {
                let (took, slowed) = match note.work {
                    Some(w) => {
                        let slowed = if w.fault != NONE {
                            slowed_work += 1;
                            faults_seen.insert(w.fault);
                            format!(
                                " (slowed x{} by fault {})",
                                factor(w.slowed_by),
                                names.fault(w.fault)
                            )
                        } else {
                            String::new()
                        };
                        (r.time.saturating_since(w.time), slowed)
                    }
                    None => (SimDuration::ZERO, String::new()),
                };
                let error = if r.outcome == Some(Outcome::Failed(FailureCause::Error)) {
                    "; it fails with an error"
                } else {
                    ""
                };
                (
                    note.depth,
                    format!("work at {service} took {took}{slowed}{error}"),
                )
            }
            TraceKind::WorkerReleased => {
                if let Some(n) = notes.get_mut(&r.attempt) {
                    n.released = Some(r.time);
                }
                // At the reply, the reply's line says it; otherwise an async service lets go of
                // its worker while it waits for its calls.
                let replies_now = mine.get(i + 1).is_some_and(|next| {
                    next.kind == TraceKind::ReplySent && next.attempt == r.attempt
                });
                if replies_now {
                    continue;
                }
                (
                    note.depth,
                    format!(
                        "{service}: #{} gives worker {service}/{} back while it waits",
                        r.attempt, r.worker
                    ),
                )
            }
            TraceKind::CallStart => (
                depth_of(r.parent) + 1,
                format!(
                    "{from} -> {to}: call {} of #{} begins",
                    r.number + 1,
                    r.parent
                ),
            ),
            // The rejection's line said it.
            TraceKind::ReplySent if r.outcome == Some(Outcome::Failed(FailureCause::Rejected)) => {
                continue;
            }
            TraceKind::ReplySent => {
                let held = match (note.work, note.released) {
                    (Some(w), Some(released)) if released == r.time => {
                        format!(", after holding its worker for {}", r.time - w.time)
                    }
                    _ => String::new(),
                };
                (
                    note.depth,
                    format!(
                        "{service}: replies {} to #{}{held}",
                        outcome_words(r.outcome),
                        r.attempt
                    ),
                )
            }
            TraceKind::ReplyReceived => (
                note.depth,
                format!(
                    "{from} <- {to}: reply to attempt {} (#{}): {} after {}",
                    note.number,
                    r.attempt,
                    outcome_words(r.outcome),
                    r.duration
                ),
            ),
            TraceKind::LateReply => (
                note.depth,
                format!(
                    "{from} <- {to}: late reply to attempt {} (#{}): {}, ignored: the caller \
                     had given up on it",
                    note.number,
                    r.attempt,
                    outcome_words(r.outcome)
                ),
            ),
            TraceKind::Timeout => (
                note.depth,
                format!(
                    "{from} -> {to}: attempt {} (#{}) timed out after {}",
                    note.number, r.attempt, r.duration
                ),
            ),
            TraceKind::Deadline => (
                if r.parent == 0 {
                    0
                } else {
                    depth_of(r.parent) + 1
                },
                format!(
                    "{from} -> {to}: the call's deadline passed after {}; its attempts in \
                     flight fail with it",
                    r.duration
                ),
            ),
            TraceKind::HedgeCopy => (
                note.depth,
                format!(
                    "{from} -> {to}: hedged copy {} (#{}) sent",
                    r.number, r.attempt
                ),
            ),
            TraceKind::Fallback => (
                if r.parent == 0 {
                    0
                } else {
                    depth_of(r.parent) + 1
                },
                format!("{from} -> {to}: the call failed; its fallback answered (degraded)"),
            ),
            TraceKind::BreakerTransition => {
                let (was, now) = r.breaker.map_or(("?", "?"), |(a, b)| (a.name(), b.name()));
                (0, format!("{from} -> {to}: circuit breaker {was} -> {now}"))
            }
            TraceKind::Shed => (
                note.depth,
                format!(
                    "{service}: attempt {} (#{}) shed by load shedding",
                    note.number, r.attempt
                ),
            ),
            TraceKind::ReplicaCrash
            | TraceKind::ReplicaRestart
            | TraceKind::FaultStart
            | TraceKind::FaultEnd => continue,
            TraceKind::RetryScheduled => (
                note.depth,
                format!(
                    "{from} -> {to}: attempt {} {}; retry (attempt {}) after a backoff of {}",
                    note.number,
                    outcome_words(r.outcome),
                    r.number,
                    r.duration
                ),
            ),
            TraceKind::CallFinished => (
                depth_of(r.parent) + 1,
                format!(
                    "{from} -> {to}: call {} after {}",
                    outcome_words(r.outcome),
                    attempts_words(r.number)
                ),
            ),
            TraceKind::RequestFinished => {
                finished = Some(r);
                (
                    0,
                    format!(
                        "request {request} finished: {} after {} ({} from the client)",
                        outcome_words(r.outcome),
                        r.duration,
                        attempts_words(r.number)
                    ),
                )
            }
        };
        if let Some(end) = finished
            && end.time < r.time
            && !over
        {
            over = true;
            out.push_str("    (the request is over; what follows is work nobody waits for)\n");
        }
        let _ = writeln!(
            out,
            "{:>16}s  +{:>12}  {}{}",
            seconds(r.time.as_nanos()),
            format!(
                "{}ms",
                millis_short(r.time.saturating_since(start).as_nanos())
            ),
            "  ".repeat(depth),
            text
        );
    }
    out.push('\n');
    match finished {
        Some(r) => {
            let _ = writeln!(
                out,
                "outcome: {} after {}",
                outcome_words(r.outcome),
                r.duration
            );
        }
        None => {
            let _ = writeln!(
                out,
                "outcome: still in flight when the trace ends ({}s)",
                seconds(mine.last().map_or(start, |r| r.time).as_nanos())
            );
        }
    }
    let attempts = notes.len();
    let timeouts = mine.iter().filter(|r| r.kind == TraceKind::Timeout).count();
    let retries = mine
        .iter()
        .filter(|r| r.kind == TraceKind::RetryScheduled)
        .count();
    let late = mine
        .iter()
        .filter(|r| r.kind == TraceKind::LateReply)
        .count();
    let _ = writeln!(
        out,
        "attempts on every hop: {attempts}; timeouts: {timeouts}; retries: {retries}; late \
         replies: {late}"
    );
    if !faults_seen.is_empty() {
        let faults: Vec<&str> = faults_seen.iter().map(|&f| names.fault(f)).collect();
        let _ = writeln!(
            out,
            "faults: {} slowed {slowed_work} of its work spans",
            faults.join(", ")
        );
    }
    out
}

/// Milliseconds with three decimals: `1509.123`.
fn millis_short(ns: u64) -> String {
    let us = ns / 1_000;
    format!("{}.{:03}", us / 1_000, us % 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::config::{
        Arrivals, Backoff, CallConfig, CallPolicy, ClientConfig, Execution, Fault, NetworkConfig,
        Objective, Retry, ServiceConfig, ServiceId, WorldConfig,
    };
    use models::{RunOptions, TraceBuffer, World};
    use serde_json::Value;
    use sim_core::Distribution;

    fn service(name: &str, workers: u32, queue: u32, ms: u64) -> ServiceConfig {
        ServiceConfig {
            name: name.into(),
            workers,
            queue,
            service_time: Distribution::exponential(SimDuration::from_millis(ms))
                .expect("valid mean"),
            error_rate: 0.0,
            execution: Execution::ThreadPerRequest,
            calls: vec![],
            objective: Objective::default(),
            kind: models::config::ServiceKind::Worker,
            idempotent: true,
            idempotency_keys: false,
            propagate_deadline: false,
            inbound: Default::default(),
            replicas: vec![0],
            lb: models::lb::LbPolicy::RoundRobin,
            health: Default::default(),
            endpoint_name: "default".into(),
            endpoints: Vec::new(),
            max_throughput_per_s: None,
        }
    }

    /// front -> back, back slowed x10 from 1 s to 2 s, 20 ms timeouts with 3 attempts.
    fn config() -> WorldConfig {
        let policy = CallPolicy {
            timeout: Some(SimDuration::from_millis(20)),
            retry: Some(Retry {
                max_attempts: 3,
                backoff: Backoff::FullJitter {
                    base: SimDuration::from_millis(2),
                    cap: SimDuration::from_millis(50),
                },
                retry_on: models::config::Causes::ALL,
                budget: None,
            }),
            ..CallPolicy::default()
        };
        let mut front = service("front", 8, 16, 1);
        front.calls = vec![CallConfig {
            to: ServiceId(1),
            endpoint: 0,
            probability: 1.0,
            group: None,
            policy: policy.clone(),
        }];
        WorldConfig {
            name: "tiny".into(),
            duration: SimDuration::from_secs(3),
            services: vec![front, service("back", 4, 4, 3)],
            clients: vec![ClientConfig {
                name: "users".into(),
                host: 0,
                requests: Vec::new(),
                profile: Vec::new(),
                to: ServiceId(0),
                arrivals: Arrivals::Poisson { rate_per_s: 300.0 },
                policy: CallPolicy {
                    timeout: Some(SimDuration::from_millis(100)),
                    ..CallPolicy::default()
                },
                objective: Objective::default(),
            }],
            network: NetworkConfig {
                latency: Distribution::Constant(SimDuration::from_micros(500)),
                ..NetworkConfig::default()
            },
            faults: vec![Fault::Latency {
                service: ServiceId(1),
                endpoint: None,
                multiply: 10.0,
                add: SimDuration::ZERO,
                from: SimTime(1_000_000_000),
                to: SimTime(2_000_000_000),
            }],
            window: SimDuration::SECOND,
            max_events: u64::MAX,
            topology: Default::default(),
            clocks: Vec::new(),
        }
    }

    fn run() -> (TraceNames, Vec<TraceRecord>) {
        let buffer = TraceBuffer::new();
        let world = World::new(&config(), 7);
        let names = world.trace_names();
        world.run(RunOptions {
            trace: Some(Box::new(buffer.clone())),
            ..RunOptions::default()
        });
        (names, buffer.take())
    }

    fn parse(expression: &str, names: &TraceNames) -> Result<Filter, FilterError> {
        Filter::parse(expression, names, scenarios::parse_duration)
    }

    #[test]
    fn json_lines_have_a_type_and_named_data() {
        let (names, records) = run();
        let text = json_lines(&records, &names, &Filter::all());
        assert_eq!(text.lines().count(), records.len());
        for (line, r) in text.lines().zip(&records) {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            assert_eq!(v["type"], r.kind.as_str());
            let data = &v["data"];
            assert_eq!(data["t_ns"], r.time.as_nanos());
            if r.request == 0 {
                assert!(data.get("request").is_none(), "{line}");
            } else {
                assert_eq!(data["request"], r.request);
            }
            let keys: Vec<&String> = data.as_object().unwrap().keys().collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "keys in order: {line}");
        }
        let timeout = text
            .lines()
            .find(|l| l.contains("\"type\":\"timeout\""))
            .unwrap();
        assert!(timeout.contains("\"edge\":\"front -> back\""), "{timeout}");
        let slowed = text
            .lines()
            .find(|l| l.contains("\"slowed_by\":10"))
            .unwrap();
        assert!(
            slowed.contains("\"fault\":\"back latency x10\""),
            "{slowed}"
        );
        assert!(slowed.contains("\"instance\":\"back/"), "{slowed}");
        let start = text.lines().next().unwrap();
        assert!(
            start.starts_with("{\"data\":{\"client\":\"users\""),
            "{start}"
        );
        // The same records give the same bytes.
        assert_eq!(text, json_lines(&run().1, &names, &Filter::all()));
    }

    #[test]
    fn filters_select_what_they_say() {
        let (names, records) = run();
        let count = |expression: &str, pred: &dyn Fn(&TraceRecord) -> bool| {
            let filter = parse(expression, &names).unwrap();
            let selected: Vec<&TraceRecord> =
                records.iter().filter(|r| filter.matches(r)).collect();
            let expected: Vec<&TraceRecord> = records.iter().filter(|r| pred(r)).collect();
            assert_eq!(selected, expected, "{expression}");
            assert!(!selected.is_empty(), "{expression} selects something");
            selected.len()
        };
        count("service=back", &|r| r.service == 1);
        count("request=42", &|r| r.request == 42);
        count("request=42|43", &|r| r.request == 42 || r.request == 43);
        count("kind=timeout", &|r| r.kind == TraceKind::Timeout);
        count("worker=back/2", &|r| r.service == 1 && r.worker == 2);
        // `instance=` is the deprecated spelling of `worker=`: the same filter, and a warning.
        assert_eq!(
            parse("instance=back/2", &names),
            parse("worker=back/2", &names)
        );
        assert_eq!(
            Filter::warnings("instance=back/2, t=1s.."),
            ["instance=back/2 is deprecated; write worker=back/2"]
        );
        assert!(Filter::warnings("worker=back/2,t=1s..").is_empty());
        let window =
            |r: &TraceRecord| r.time >= SimTime(1_200_000_000) && r.time < SimTime(1_300_000_000);
        count(" service = back , t=1.2s..1300ms", &|r| {
            r.service == 1 && window(r)
        });
        count("kind=retry_scheduled|late_reply,t=1s..", &|r| {
            matches!(r.kind, TraceKind::RetryScheduled | TraceKind::LateReply)
                && r.time >= SimTime(1_000_000_000)
        });
        count("t=..1s", &|r| r.time < SimTime(1_000_000_000));
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        let (names, _) = run();
        let error = |expression: &str| parse(expression, &names).unwrap_err().to_string();
        let cases = [
            (
                "colour=red",
                "unknown filter key \"colour\"; expected request, service",
            ),
            ("payments", "filter term \"payments\" is not key=value"),
            ("service=front,", "filter term \"\" is not key=value"),
            (
                "service=pay",
                "unknown service \"pay\"; the services are front, back",
            ),
            ("service=front,service=back", "given twice"),
            ("request=x", "\"x\" is not a request id"),
            ("request=0", "\"0\" is not a request id"),
            (
                "kind=timeot",
                "unknown kind \"timeot\"; the kinds are request_start",
            ),
            ("instance=back", "expected SERVICE/WORKER"),
            ("instance=back/4", "back has 4 workers, back/0 to back/3"),
            ("worker=back/4", "back has 4 workers, back/0 to back/3"),
            ("instance=back/1,worker=back/2", "given twice"),
            ("t=5s", "expected a time range such as 120s..130s"),
            ("t=5s..2s", "the range is empty"),
            ("t=5..6s", "\"5\" has no unit"),
            ("request=", "the value is empty"),
        ];
        for (expression, expected) in cases {
            let message = error(expression);
            assert!(message.contains(expected), "{expression}: {message}");
        }
    }

    #[test]
    fn chrome_trace_is_valid_and_keeps_spans_nested_per_worker() {
        let (names, records) = run();
        let text = chrome_trace(&records, &names, Filter::all());
        let doc: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(doc["displayTimeUnit"], "ms");
        let events = doc["traceEvents"].as_array().unwrap();
        for e in events {
            for key in ["name", "ph", "ts", "pid", "tid", "cat", "args"] {
                assert!(e.get(key).is_some(), "{key} missing in {e}");
            }
        }
        let phase = |ph: &'static str| events.iter().filter(move |e| e["ph"] == ph);
        assert!(phase("X").all(|e| e["dur"].is_number()));
        let names_of = |ph: &'static str| {
            phase(ph)
                .map(|e| e["name"].as_str().unwrap().to_string())
                .collect::<BTreeSet<_>>()
        };
        let instants = names_of("i");
        for name in ["timeout", "retry", "late reply"] {
            assert!(instants.contains(name), "{name} in {instants:?}");
        }
        let threads = phase("M")
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>();
        assert!(threads.contains("back/0") && threads.contains("front/7"));
        assert!(threads.contains("users lane 0"));
        assert!(names_of("X").contains("work (slowed x10)"));
        // On every track, spans nest: each one ends before its enclosing span does. Times are
        // whole nanoseconds, written as microseconds with three decimals.
        let ns = |v: &Value| (v.as_f64().unwrap() * 1e3).round() as u64;
        let mut tracks: BTreeMap<(u64, u64), Vec<(u64, u64)>> = BTreeMap::new();
        for e in phase("X") {
            let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            let ts = ns(&e["ts"]);
            tracks
                .entry(key)
                .or_default()
                .push((ts, ts + ns(&e["dur"])));
        }
        for spans in tracks.values() {
            let mut stack: Vec<u64> = Vec::new();
            for &(start, end) in spans {
                while stack.last().is_some_and(|&top| top <= start) {
                    stack.pop();
                }
                if let Some(&top) = stack.last() {
                    assert!(
                        end <= top,
                        "span {start}..{end} overlaps its parent ending at {top}"
                    );
                }
                stack.push(end);
            }
        }
        // A filter keeps the spans that start with a matching record and meet the range.
        let filter = parse("request=42", &names).unwrap();
        let one: Value = serde_json::from_str(&chrome_trace(&records, &names, filter)).unwrap();
        let one = one["traceEvents"].as_array().unwrap();
        assert!(
            one.iter()
                .filter(|e| e["ph"] != "M")
                .all(|e| e["args"]["request"] == 42)
        );
        assert!(
            one.iter()
                .any(|e| e["name"] == "request 42" && e["cat"] == "request")
        );
    }

    #[test]
    fn explain_tells_the_story_of_a_request_that_timed_out() {
        let (names, records) = run();
        // A request in the fault window whose call to back timed out and was retried.
        let request = records
            .iter()
            .find(|r| {
                r.kind == TraceKind::RetryScheduled
                    && r.parent != 0
                    && r.time > SimTime(1_100_000_000)
            })
            .unwrap()
            .request;
        let story = explain(&records, request, &names);
        assert!(story.starts_with(&format!("request {request}: from client users to front")));
        for needle in [
            "users -> front: attempt 1 sent",
            "front -> back: call 1 of #",
            "timed out after 20ms",
            "retry (attempt 2) after a backoff of",
            "(slowed x10 by fault back latency x10)",
            "outcome: ",
            "faults: back latency x10 slowed",
        ] {
            assert!(story.contains(needle), "{needle:?} missing in\n{story}");
        }
        // Hops are indented under their caller.
        assert!(
            story.contains("ms    front -> back: attempt 1 sent"),
            "{story}"
        );
        assert_eq!(story, explain(&records, request, &names));
        assert_eq!(
            explain(&records, 1_000_000, &names),
            "request 1000000 does not appear in the trace\n"
        );
    }
}
