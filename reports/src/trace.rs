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
//! - a scripted fault's window (a partition's too) is a complete event `fault: payments latency
//!   x10` with category `fault`, from its start to its end (or to the last record when it is
//!   still on), on a track of its own in the process of the service where it shows first (a
//!   thread after the worker slots, named like the span and sorted before them), or in a last
//!   process `faults` when it shows at no service. A fault has one window, so one track each;
//! - instant events (`ph: "i"`) mark `timeout`, `deadline`, `retry`, `hedge copy N`, `fallback`,
//!   `late reply`, `rejected`, `shed`, `breaker closed -> open`, `crash replica N` and `restart
//!   replica N`; their category is the record's kind. Timeouts, deadlines, retries, hedge copies,
//!   fallbacks and late replies are drawn at the caller: on the client lane of the request or on
//!   the worker of the calling attempt (`s: "t"`), or process-wide (`s: "p"`, `tid` 0) when the
//!   caller holds no track any more. Rejections and sheds are process-wide at the callee, breaker
//!   transitions process-wide at the caller of the edge, crashes and restarts process-wide at
//!   the replica's service.
//!
//! Every event has `name`, `cat`, `ph`, `ts` and `pid`/`tid`; complete events have `dur`; times
//! are microseconds with three decimals (exact nanoseconds). `args` hold the record's data as
//! the JSON Lines name it (durations in milliseconds: `waited_ms`, `backoff_ms`, `work_ms`), in
//! alphabetical order; `request` is absent for the records of no request. Metadata events
//! (`ph: "M"`) name the processes and threads and order them; they carry `ts: 0`.

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
    Seconds(ns).to_string()
}

/// Nanoseconds shown as seconds with nine decimals, written without an allocation.
struct Seconds(u64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
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
/// instead of ids. `data` holds `t` (seconds, nine decimals), `t_ns`, `request` (absent for the
/// records of no request: `replica_crash`, `replica_restart`, `fault_start`, `fault_end`) and,
/// where they apply, `attempt`, `parent_attempt`, `client`, `service`, `edge` (`"from -> to"`),
/// `worker` (its index in the service; the deprecated `instance`, `"payments/3"`, says the
/// same), `outcome`, and the kind's own data:
///
/// - `attempt_sent`: `attempt_number`; `queued`: `queue_length`; `call_start`: `call_index`;
///   `call_finished`, `request_finished`: `attempts`; `retry_scheduled`: `next_attempt_number`
///   and `backoff_s`;
/// - `work_start`: `work_s`, and `fault` and `slowed_by` when a latency fault slowed it;
/// - `reply_received`, `request_finished`: `latency_s`; `timeout`, `deadline`: `waited_s`;
/// - `hedge_copy`: `copy_number` (2 for the first extra copy);
/// - `breaker_transition`: `from` and `to` (`closed`, `open`, `half_open`);
/// - `shed`: `shed_by` (`concurrency_limit`, `queue_length` or `codel`);
/// - `replica_crash`: `replica` and the `fault` that crashed it (absent for a leak);
///   `replica_restart`: `replica`;
/// - `fault_start`, `fault_end`: `fault` (its description) and `service` (where it shows
///   first, absent when at no service).
///
/// Keys are in alphabetical order.
pub struct JsonLines {
    names: Quoted,
    fields: Fields,
    line: String,
}

/// The keys and values of one JSON object, written in any order and emitted sorted by key.
#[derive(Default)]
struct Fields {
    /// Each key with the range of its value (JSON) in `values`.
    keys: Vec<(&'static str, std::ops::Range<usize>)>,
    values: String,
}

impl Fields {
    fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
    }

    /// Adds a key with a value that is already JSON.
    fn raw(&mut self, key: &'static str, value: &str) {
        self.num(key, value);
    }

    fn num(&mut self, key: &'static str, value: impl fmt::Display) {
        let start = self.values.len();
        let _ = write!(self.values, "{value}");
        self.keys.push((key, start..self.values.len()));
    }

    fn str(&mut self, key: &'static str, value: &str) {
        self.raw(key, &quoted(value));
    }

    /// Nanoseconds as seconds with nine decimals.
    fn seconds(&mut self, key: &'static str, ns: u64) {
        self.num(key, Seconds(ns));
    }

    /// Appends the object, keys in alphabetical order.
    fn write(&mut self, out: &mut String) {
        self.keys.sort_unstable_by_key(|(key, _)| *key);
        debug_assert!(self.keys.windows(2).all(|w| w[0].0 != w[1].0), "a key once");
        let mut object = Object::open(out);
        for (key, range) in &self.keys {
            object.raw(key, &self.values[range.clone()]);
        }
        object.close();
    }
}

/// `shed_by`: what refused a shed attempt (`number` of a `shed` record).
pub fn shed_by_str(number: u32) -> &'static str {
    match number {
        0 => "concurrency_limit",
        1 => "queue_length",
        2 => "codel",
        _ => "?",
    }
}

impl JsonLines {
    pub fn new(names: &TraceNames) -> JsonLines {
        JsonLines {
            names: Quoted::new(names),
            fields: Fields::default(),
            line: String::new(),
        }
    }

    /// One record as a line, without the newline.
    pub fn line(&mut self, r: &TraceRecord) -> &str {
        let names = &self.names;
        let data = &mut self.fields;
        data.clear();
        if r.attempt != 0 {
            data.num("attempt", r.attempt);
        }
        if r.client != NONE {
            data.raw("client", names.client(r.client));
        }
        if r.edge != NONE {
            data.raw("edge", names.edge(r.edge));
        }
        if r.worker != NONE {
            data.raw("instance", names.instance(r.service, r.worker));
            data.num("worker", r.worker);
        }
        if let Some(outcome) = r.outcome {
            data.str("outcome", outcome_str(outcome));
        }
        if r.parent != 0 {
            data.num("parent_attempt", r.parent);
        }
        // Crashes, restarts and fault windows belong to no request.
        if r.request != 0 {
            data.num("request", r.request);
        }
        if r.service != NONE {
            data.raw("service", names.service(r.service));
        }
        data.seconds("t", r.time.as_nanos());
        data.num("t_ns", r.time.as_nanos());
        JsonLines::kind_data(names, data, r);
        let line = &mut self.line;
        line.clear();
        line.push_str("{\"data\":");
        data.write(line);
        line.push_str(",\"type\":\"");
        line.push_str(r.kind.as_str());
        line.push_str("\"}");
        &self.line
    }

    /// The keys a record has because of its kind.
    fn kind_data(names: &Quoted, data: &mut Fields, r: &TraceRecord) {
        let duration = r.duration.as_nanos();
        match r.kind {
            TraceKind::AttemptSent => data.num("attempt_number", r.number),
            TraceKind::Queued => data.num("queue_length", r.number),
            TraceKind::CallStart => data.num("call_index", r.number),
            TraceKind::CallFinished => data.num("attempts", r.number),
            TraceKind::RequestFinished => {
                data.num("attempts", r.number);
                data.seconds("latency_s", duration);
            }
            TraceKind::RetryScheduled => {
                data.num("next_attempt_number", r.number);
                data.seconds("backoff_s", duration);
            }
            TraceKind::WorkStart => {
                data.seconds("work_s", duration);
                if r.fault != NONE {
                    data.raw("fault", names.fault(r.fault));
                    data.num("slowed_by", factor(r.slowed_by));
                }
            }
            TraceKind::ReplyReceived => data.seconds("latency_s", duration),
            TraceKind::Timeout | TraceKind::Deadline => data.seconds("waited_s", duration),
            TraceKind::HedgeCopy => data.num("copy_number", r.number),
            TraceKind::BreakerTransition => {
                if let Some((from, to)) = r.breaker {
                    data.str("from", from.name());
                    data.str("to", to.name());
                }
            }
            TraceKind::Shed => data.str("shed_by", shed_by_str(r.number)),
            TraceKind::ReplicaCrash | TraceKind::ReplicaRestart => {
                data.num("replica", r.number);
                if r.fault != NONE {
                    data.raw("fault", names.fault(r.fault));
                }
            }
            TraceKind::FaultStart | TraceKind::FaultEnd => {
                if r.fault != NONE {
                    data.raw("fault", names.fault(r.fault));
                }
            }
            TraceKind::RequestStart
            | TraceKind::Delivered
            | TraceKind::Rejected
            | TraceKind::WorkDone
            | TraceKind::WorkerReleased
            | TraceKind::ReplySent
            | TraceKind::LateReply
            | TraceKind::Fallback => {}
        }
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
/// The records of no request (`replica_crash`, `replica_restart`, `fault_start`, `fault_end`)
/// are selected by `service` (a crash's or restart's service, the service where a fault shows
/// first), `kind` and `t` like the others; `request=N` never selects them, nor does `instance`
/// (they name no worker). To see a request with the faults around it, use `--explain`, or
/// select them separately: `kind=fault_start|fault_end|replica_crash`.
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
    /// A scripted fault's window, on its own track.
    Fault,
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
            TraceKind::AttemptSent
            | TraceKind::Delivered
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
            Shape::Instant { .. } => self.filter.matches(&e.record),
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

/// Whether a record tells the context of a request rather than its own steps: a fault window,
/// a crash or restart, a breaker transition (which may be judging another request).
fn is_context(kind: TraceKind) -> bool {
    matches!(
        kind,
        TraceKind::FaultStart
            | TraceKind::FaultEnd
            | TraceKind::ReplicaCrash
            | TraceKind::ReplicaRestart
            | TraceKind::BreakerTransition
    )
}

/// Whether [`explain`] of `request` may need record `r`: the request's own records and every
/// record of its possible context (fault windows, crashes, restarts, breaker transitions).
/// A caller that streams a run's records keeps those that pass and explains them afterwards.
pub fn explain_needs(r: &TraceRecord, request: u64) -> bool {
    r.request == request || is_context(r.kind)
}

/// The records the story of `request` tells, in their order: its own, and its context while it
/// lasts (from its first record to its last): the faults on when it starts and the fault windows
/// that begin or end, the crashes and restarts at the services it reaches, and the breaker
/// transitions on the edges it uses.
fn story_records(records: &[TraceRecord], request: u64) -> Vec<&TraceRecord> {
    let mut mine = records.iter().filter(|r| r.request == request).peekable();
    let Some(start) = mine.peek().map(|r| r.time) else {
        return Vec::new();
    };
    let mut end = start;
    let mut services = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for r in mine {
        end = r.time;
        services.insert(r.service);
        edges.insert(r.edge);
    }
    let mut on_at_start = BTreeSet::new();
    for r in records.iter().take_while(|r| r.time < start) {
        match r.kind {
            TraceKind::FaultStart => on_at_start.insert(r.fault),
            TraceKind::FaultEnd => on_at_start.remove(&r.fault),
            _ => false,
        };
    }
    records
        .iter()
        .filter(|r| {
            if r.request == request {
                return true;
            }
            let during = start <= r.time && r.time <= end;
            match r.kind {
                TraceKind::FaultStart => {
                    during || (r.time < start && on_at_start.contains(&r.fault))
                }
                TraceKind::FaultEnd => during,
                TraceKind::ReplicaCrash | TraceKind::ReplicaRestart => {
                    during && services.contains(&r.service)
                }
                TraceKind::BreakerTransition => during && edges.contains(&r.edge),
                _ => false,
            }
        })
        .collect()
}

/// What refused a shed attempt, in words.
fn shed_by_words(number: u32) -> &'static str {
    match number {
        0 => "the adaptive concurrency limit",
        1 => "the queue-length limit",
        2 => "CoDel",
        _ => "load shedding",
    }
}

/// The line of a record that tells the context of a request.
fn context_line(r: &TraceRecord, names: &TraceNames) -> String {
    let service = names.service(r.service);
    match r.kind {
        TraceKind::FaultStart => format!("fault {} begins", names.fault(r.fault)),
        TraceKind::FaultEnd => format!("fault {} ends", names.fault(r.fault)),
        TraceKind::ReplicaCrash => {
            let cause = if r.fault == NONE {
                "a leak used it up".to_string()
            } else {
                format!("fault {}", names.fault(r.fault))
            };
            format!(
                "{service}: replica {} crashes ({cause}); its queue and the work in progress \
                 are lost",
                r.number
            )
        }
        TraceKind::ReplicaRestart => format!("{service}: replica {} restarts", r.number),
        _ => {
            let (from, to) = names.edge(r.edge);
            let from = from.strip_prefix("client:").unwrap_or(from);
            let (was, now) = r.breaker.map_or(("?", "?"), |(a, b)| (a.name(), b.name()));
            format!("{from} -> {to}: circuit breaker {was} -> {now}")
        }
    }
}

/// The time column of a story line: the offset from the request's start, `+   12.345ms`, or
/// `-` before it (a fault that was already on).
fn offset_words(time: SimTime, start: SimTime) -> String {
    let (sign, ns) = if time >= start {
        ('+', (time - start).as_nanos())
    } else {
        ('-', (start - time).as_nanos())
    };
    format!("{sign}{:>12}", format!("{}ms", millis_short(ns)))
}

/// The causal story of logical request `request`: each attempt and hop, queue wait, work,
/// downstream call, timeout, deadline, retry with its backoff, hedged copy, shed, fallback,
/// late reply, and the outcome, in time order, indented by hop. Work slowed by a latency fault
/// names the fault. Around these steps, unindented, its context: the faults on when it starts
/// (at their start, before its first line) and those beginning or ending while it lasts, the
/// crashes and restarts of replicas of the services it reaches, and the breaker transitions on
/// the edges it uses. `records` may hold other requests' records too (see [`explain_needs`]).
pub fn explain(records: &[TraceRecord], request: u64, names: &TraceNames) -> String {
    let story = story_records(records, request);
    let mine: Vec<&TraceRecord> = story
        .iter()
        .copied()
        .filter(|r| r.request == request)
        .collect();
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
    for (i, r) in story.iter().enumerate() {
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
                let replies_now = story[i + 1..]
                    .iter()
                    .find(|next| next.request == request)
                    .is_some_and(|next| {
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
            TraceKind::Shed => (
                note.depth,
                format!(
                    "{service}: attempt {} (#{}) shed by {}",
                    note.number,
                    r.attempt,
                    shed_by_words(r.number)
                ),
            ),
            TraceKind::BreakerTransition
            | TraceKind::ReplicaCrash
            | TraceKind::ReplicaRestart
            | TraceKind::FaultStart
            | TraceKind::FaultEnd => (0, context_line(r, names)),
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
            "{:>16}s  {}  {}{}",
            seconds(r.time.as_nanos()),
            offset_words(r.time, start),
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
    context_summary(&story, request, names, &mut out);
    out
}

/// The last line of a story when it has a context: the faults on while the request lasted,
/// and how many crashes, restarts and breaker transitions happened around it.
fn context_summary(story: &[&TraceRecord], request: u64, names: &TraceNames, out: &mut String) {
    let context = || story.iter().filter(|r| is_context(r.kind));
    let faults: BTreeSet<u32> = context()
        .filter(|r| matches!(r.kind, TraceKind::FaultStart | TraceKind::FaultEnd))
        .map(|r| r.fault)
        .collect();
    let count = |kind: TraceKind| context().filter(|r| r.kind == kind).count();
    let (crashes, restarts) = (
        count(TraceKind::ReplicaCrash),
        count(TraceKind::ReplicaRestart),
    );
    let transitions = count(TraceKind::BreakerTransition);
    if faults.is_empty() && crashes + restarts + transitions == 0 {
        return;
    }
    let faults: Vec<&str> = faults.iter().map(|&f| names.fault(f)).collect();
    let faults = if faults.is_empty() {
        "none".to_string()
    } else {
        faults.join(", ")
    };
    let own = story
        .iter()
        .filter(|r| r.kind == TraceKind::BreakerTransition && r.request == request)
        .count();
    let judging = if own > 0 {
        format!(" ({own} while judging it)")
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "around it: faults on: {faults}; replica crashes: {crashes}; restarts: {restarts}; \
         breaker transitions: {transitions}{judging}"
    );
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

    /// The names of `run()` without running it: front (8 workers), back (4); users; edges
    /// front -> back (0) and users -> front (1), services' first; the fault `back latency x10`.
    fn names() -> TraceNames {
        World::new(&config(), 7).trace_names()
    }

    /// A record of `kind` at `t_ms`, for `request`, with the fields `set` gives it.
    fn record(
        t_ms: u64,
        kind: TraceKind,
        request: u64,
        set: impl FnOnce(&mut TraceRecord),
    ) -> TraceRecord {
        let mut r = TraceRecord::new(SimTime(t_ms * 1_000_000), kind, request);
        set(&mut r);
        r
    }

    #[test]
    fn new_kinds_have_named_keys_in_json_lines() {
        use models::policy::breaker::BreakerState;
        let names = names();
        let cases = [
            (
                record(1000, TraceKind::BreakerTransition, 5, |r| {
                    r.edge = 0;
                    r.service = 1;
                    r.breaker = Some((BreakerState::Closed, BreakerState::Open));
                }),
                r#"{"data":{"edge":"front -> back","from":"closed","request":5,"service":"back","t":1.000000000,"t_ns":1000000000,"to":"open"},"type":"breaker_transition"}"#,
            ),
            (
                record(1000, TraceKind::HedgeCopy, 5, |r| {
                    (r.attempt, r.parent, r.edge, r.service, r.number) = (9, 3, 0, 1, 2);
                }),
                r#"{"data":{"attempt":9,"copy_number":2,"edge":"front -> back","parent_attempt":3,"request":5,"service":"back","t":1.000000000,"t_ns":1000000000},"type":"hedge_copy"}"#,
            ),
            (
                record(1000, TraceKind::Shed, 5, |r| {
                    (r.attempt, r.edge, r.service, r.number) = (9, 0, 1, 1);
                    r.outcome = Some(Outcome::Failed(FailureCause::Shed));
                }),
                r#"{"data":{"attempt":9,"edge":"front -> back","outcome":"shed","request":5,"service":"back","shed_by":"queue_length","t":1.000000000,"t_ns":1000000000},"type":"shed"}"#,
            ),
            (
                record(1000, TraceKind::Deadline, 5, |r| {
                    (r.edge, r.service) = (1, 0);
                    r.duration = SimDuration::from_millis(250);
                }),
                r#"{"data":{"edge":"client:users -> front","request":5,"service":"front","t":1.000000000,"t_ns":1000000000,"waited_s":0.250000000},"type":"deadline"}"#,
            ),
            (
                record(1000, TraceKind::Fallback, 5, |r| {
                    (r.edge, r.service, r.parent) = (0, 1, 3);
                    r.outcome = Some(Outcome::Degraded);
                }),
                r#"{"data":{"edge":"front -> back","outcome":"degraded","parent_attempt":3,"request":5,"service":"back","t":1.000000000,"t_ns":1000000000},"type":"fallback"}"#,
            ),
            (
                record(1500, TraceKind::ReplicaCrash, 0, |r| {
                    (r.service, r.number, r.fault) = (1, 2, 0);
                }),
                r#"{"data":{"fault":"back latency x10","replica":2,"service":"back","t":1.500000000,"t_ns":1500000000},"type":"replica_crash"}"#,
            ),
            // A leak crashes a replica without a scripted fault.
            (
                record(1500, TraceKind::ReplicaCrash, 0, |r| {
                    (r.service, r.number) = (1, 2);
                }),
                r#"{"data":{"replica":2,"service":"back","t":1.500000000,"t_ns":1500000000},"type":"replica_crash"}"#,
            ),
            (
                record(1600, TraceKind::ReplicaRestart, 0, |r| {
                    (r.service, r.number) = (1, 2);
                }),
                r#"{"data":{"replica":2,"service":"back","t":1.600000000,"t_ns":1600000000},"type":"replica_restart"}"#,
            ),
            (
                record(1000, TraceKind::FaultStart, 0, |r| {
                    (r.service, r.fault) = (1, 0)
                }),
                r#"{"data":{"fault":"back latency x10","service":"back","t":1.000000000,"t_ns":1000000000},"type":"fault_start"}"#,
            ),
            // A partition between clients only shows at no service.
            (
                record(2000, TraceKind::FaultEnd, 0, |r| r.fault = 0),
                r#"{"data":{"fault":"back latency x10","t":2.000000000,"t_ns":2000000000},"type":"fault_end"}"#,
            ),
        ];
        let mut writer = JsonLines::new(&names);
        for (r, expected) in cases {
            assert_eq!(writer.line(&r), expected, "{r:?}");
        }
    }

    #[test]
    fn chrome_trace_shows_fault_windows_crashes_and_breaker_transitions() {
        use models::policy::breaker::BreakerState;
        let names = names();
        let records = [
            record(1000, TraceKind::FaultStart, 0, |r| {
                (r.service, r.fault) = (1, 0)
            }),
            record(1200, TraceKind::BreakerTransition, 0, |r| {
                (r.edge, r.service) = (0, 1);
                r.breaker = Some((BreakerState::Closed, BreakerState::Open));
            }),
            record(1300, TraceKind::ReplicaCrash, 0, |r| {
                (r.service, r.number, r.fault) = (1, 0, 0);
            }),
            record(1400, TraceKind::ReplicaRestart, 0, |r| {
                (r.service, r.number) = (1, 0)
            }),
            record(1500, TraceKind::Shed, 4, |r| {
                (r.attempt, r.edge, r.service, r.number) = (8, 0, 1, 0);
            }),
            record(2000, TraceKind::FaultEnd, 0, |r| {
                (r.service, r.fault) = (1, 0)
            }),
        ];
        let doc: Value = serde_json::from_str(&chrome_trace(&records, &names, Filter::all()))
            .expect("valid JSON");
        let events: Vec<String> = doc["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.to_string())
            .collect();
        // front is process 2 and back process 3 (users is 1); back's fault track comes after
        // its 4 workers.
        let expected = [
            r#"{"args":{"name":"service front"},"cat":"__metadata","name":"process_name","ph":"M","pid":2,"tid":0,"ts":0}"#,
            r#"{"args":{"sort_index":2},"cat":"__metadata","name":"process_sort_index","ph":"M","pid":2,"tid":0,"ts":0}"#,
            r#"{"args":{"name":"service back"},"cat":"__metadata","name":"process_name","ph":"M","pid":3,"tid":0,"ts":0}"#,
            r#"{"args":{"sort_index":3},"cat":"__metadata","name":"process_sort_index","ph":"M","pid":3,"tid":0,"ts":0}"#,
            r#"{"args":{"name":"fault: back latency x10"},"cat":"__metadata","name":"thread_name","ph":"M","pid":3,"tid":5,"ts":0}"#,
            r#"{"args":{"sort_index":0},"cat":"__metadata","name":"thread_sort_index","ph":"M","pid":3,"tid":5,"ts":0}"#,
            r#"{"args":{"fault":"back latency x10"},"cat":"fault","dur":1000000.0,"name":"fault: back latency x10","ph":"X","pid":3,"tid":5,"ts":1000000.0}"#,
            r#"{"args":{"edge":"front -> back","from":"closed","to":"open"},"cat":"breaker_transition","name":"breaker closed -> open","ph":"i","pid":2,"s":"p","tid":0,"ts":1200000.0}"#,
            r#"{"args":{"fault":"back latency x10","replica":0},"cat":"replica_crash","name":"crash replica 0","ph":"i","pid":3,"s":"p","tid":0,"ts":1300000.0}"#,
            r#"{"args":{"replica":0},"cat":"replica_restart","name":"restart replica 0","ph":"i","pid":3,"s":"p","tid":0,"ts":1400000.0}"#,
            r#"{"args":{"attempt":8,"edge":"front -> back","request":4,"shed_by":"concurrency_limit"},"cat":"shed","name":"shed","ph":"i","pid":3,"s":"p","tid":0,"ts":1500000.0}"#,
        ];
        assert_eq!(events, expected);
        // A fault still on at the end of the trace ends with its last record.
        let open = chrome_trace(&records[..5], &names, Filter::all());
        assert!(
            open.contains(r#""name":"fault: back latency x10","cat":"fault","ph":"X","ts":1000000.000,"dur":500000.000"#),
            "{open}"
        );
        // A span is kept when its first record passes the filter and it meets the range.
        let filter = parse("service=back,t=1.9s..", &names).unwrap();
        let late = chrome_trace(&records, &names, filter);
        assert!(
            late.contains("\"name\":\"fault: back latency x10\""),
            "{late}"
        );
        assert!(!late.contains("crash replica"), "{late}");
    }

    #[test]
    fn explain_tells_the_faults_crashes_and_breaker_transitions_around_a_request() {
        use models::policy::breaker::BreakerState;
        let names = names();
        let transition = |t_ms, request, edge, to| {
            record(t_ms, TraceKind::BreakerTransition, request, |r| {
                r.edge = edge;
                r.breaker = Some((BreakerState::Closed, to));
            })
        };
        let crash = |t_ms, service| {
            record(t_ms, TraceKind::ReplicaCrash, 0, |r| {
                (r.service, r.number, r.fault) = (service, 1, NONE);
            })
        };
        let records = [
            record(500, TraceKind::FaultStart, 0, |r| {
                (r.service, r.fault) = (1, 0)
            }),
            record(1000, TraceKind::RequestStart, 3, |r| {
                (r.client, r.edge, r.service) = (0, 1, 0);
            }),
            record(1000, TraceKind::AttemptSent, 3, |r| {
                (r.attempt, r.edge, r.service, r.number) = (6, 1, 0, 1);
            }),
            // Around it: a crash at front (reached) and one at back (not reached), a transition
            // on its edge judging another request and one on an edge it does not use.
            crash(1010, 0),
            crash(1020, 1),
            transition(1030, 4, 1, BreakerState::Open),
            transition(1040, 4, 0, BreakerState::HalfOpen),
            record(1050, TraceKind::FaultEnd, 0, |r| {
                (r.service, r.fault) = (1, 0)
            }),
            record(1100, TraceKind::Shed, 3, |r| {
                (r.attempt, r.edge, r.service, r.number) = (6, 1, 0, 2);
            }),
            record(1100, TraceKind::RequestFinished, 3, |r| {
                (r.client, r.edge, r.service, r.number) = (0, 1, 0, 1);
                r.outcome = Some(Outcome::Failed(FailureCause::Shed));
                r.duration = SimDuration::from_millis(100);
            }),
            // After its last record: not its story.
            crash(1200, 0),
        ];
        let story = explain(&records, 3, &names);
        let expected = "\
request 3: from client users to front, starting at 1.000000000s

     0.500000000s  -   500.000ms  fault back latency x10 begins
     1.000000000s  +     0.000ms  users -> front: attempt 1 sent (#6)
     1.010000000s  +    10.000ms  front: replica 1 crashes (a leak used it up); its queue and the work in progress are lost
     1.030000000s  +    30.000ms  users -> front: circuit breaker closed -> open
     1.050000000s  +    50.000ms  fault back latency x10 ends
     1.100000000s  +   100.000ms  front: attempt 1 (#6) shed by CoDel
     1.100000000s  +   100.000ms  request 3 finished: failed (shed) after 100ms (1 attempt from the client)

outcome: failed (shed) after 100ms
attempts on every hop: 1; timeouts: 0; retries: 0; late replies: 0
around it: faults on: back latency x10; replica crashes: 1; restarts: 0; breaker transitions: 1
";
        assert_eq!(story, expected);
        // The replay keeps what the story may need, and nothing of other requests' steps.
        let kept: Vec<TraceRecord> = records
            .iter()
            .filter(|r| explain_needs(r, 3))
            .copied()
            .collect();
        assert_eq!(kept.len(), records.len());
        assert!(!explain_needs(&records[2], 4));
        assert_eq!(explain(&kept, 3, &names), story);
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
        // The fault's window, at no request and not slowing anything itself.
        let windows: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("\"type\":\"fault_"))
            .collect();
        assert_eq!(
            windows,
            [
                r#"{"data":{"fault":"back latency x10","service":"back","t":1.000000000,"t_ns":1000000000},"type":"fault_start"}"#,
                r#"{"data":{"fault":"back latency x10","service":"back","t":2.000000000,"t_ns":2000000000},"type":"fault_end"}"#,
            ]
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
        // The records of no request: by kind, service and time, never by request.
        let windows = count("kind=fault_start|fault_end", &|r| {
            matches!(r.kind, TraceKind::FaultStart | TraceKind::FaultEnd)
        });
        assert_eq!(windows, 2);
        count("service=back,kind=fault_end,t=2s..", &|r| {
            r.kind == TraceKind::FaultEnd
        });
        let filter = parse("request=1|2|3", &names).unwrap();
        assert!(!records.iter().any(|r| r.request == 0 && filter.matches(r)));
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
            // It started in the fault's window: the window's start comes first, before it.
            "1.000000000s  -",
            "ms  fault back latency x10 begins\n",
            "around it: faults on: back latency x10; replica crashes: 0",
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
