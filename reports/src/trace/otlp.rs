//! The replay trace as OpenTelemetry spans, in the OTLP/JSON encoding (the body of an OTLP/HTTP
//! `v1/traces` export), so Jaeger, Tempo or any OTLP receiver can open a simulated run.
//!
//! The spans, per logical request (one trace each, `traceId` = the request id in 32 hex
//! digits):
//! - a root span `request N` (kind `SERVER`, resource `client:NAME`) from the request's start to
//!   its end;
//! - per attempt a `CLIENT` span `call SERVICE` at the caller (resource `client:NAME` or the
//!   calling service) from sending to the reply, the timeout or the deadline that ended it; its
//!   parent is the request span, or the server span of the attempt that made the call;
//! - per attempt that reached a worker a `SERVER` span `SERVICE` at the callee from its arrival
//!   to its reply, with the queue wait and the work as attributes.
//!
//! Span ids: the request span is `8000000000000000 | request`, an attempt's client span its
//! attempt id, its server span `4000000000000000 | attempt`. Times are simulated nanoseconds,
//! so a run starts at the Unix epoch. Status: `OK`, or `ERROR` with the cause as message.
//! Spans still open at the end of the run end at the last record, without a status. With a
//! filter, a span is kept when its starting record passes every term but `t` and the span meets
//! the time range (as in the Chrome trace).

use std::collections::BTreeMap;

use models::{Outcome, TraceKind, TraceNames, TraceRecord};
use serde_json::{Map, Value, json};
use sim_core::SimTime;

use super::filter::Filter;
use super::format::outcome_str;

const REQUEST_SPAN: u64 = 0x8000_0000_0000_0000;
const SERVER_SPAN: u64 = 0x4000_0000_0000_0000;
/// OTLP span kinds.
const KIND_SERVER: u64 = 2;
const KIND_CLIENT: u64 = 3;

#[derive(Clone, Debug)]
struct Span {
    resource: String,
    request: u64,
    id: u64,
    parent: Option<u64>,
    name: String,
    kind: u64,
    start: TraceRecord,
    end: SimTime,
    outcome: Option<Outcome>,
    attributes: Vec<(&'static str, Value)>,
}

/// Builds the OTLP/JSON document from records fed in time order.
pub struct OtlpTrace {
    names: TraceNames,
    filter: Filter,
    /// Open spans by span id.
    open: BTreeMap<u64, Span>,
    /// When each attempt waiting at its callee arrived, by attempt id.
    waits: BTreeMap<u64, SimTime>,
    done: Vec<Span>,
    last: SimTime,
}

impl OtlpTrace {
    pub fn new(names: &TraceNames, filter: Filter) -> OtlpTrace {
        OtlpTrace {
            names: names.clone(),
            filter,
            open: BTreeMap::new(),
            waits: BTreeMap::new(),
            done: Vec::new(),
            last: SimTime::ZERO,
        }
    }

    fn caller(&self, edge: u32) -> String {
        self.names
            .edges
            .get(edge as usize)
            .map_or_else(|| "unknown".to_owned(), |(from, _)| from.clone())
    }

    fn close(&mut self, id: u64, end: SimTime, outcome: Option<Outcome>) {
        if let Some(mut span) = self.open.remove(&id) {
            span.end = end;
            span.outcome = outcome;
            let kept = self.filter.matches_except_time(&span.start)
                && self.filter.overlaps(span.start.time, end);
            if kept {
                self.done.push(span);
            }
        }
    }

    /// Feeds one record; records must come in time order.
    pub fn add(&mut self, r: &TraceRecord) {
        debug_assert!(r.time >= self.last, "records in time order");
        self.last = r.time;
        match r.kind {
            TraceKind::RequestStart => {
                let client = self.names.clients.get(r.client as usize);
                let span = Span {
                    resource: format!("client:{}", client.map_or("?", String::as_str)),
                    request: r.request,
                    id: REQUEST_SPAN | r.request,
                    parent: None,
                    name: format!("request {}", r.request),
                    kind: KIND_SERVER,
                    start: *r,
                    end: r.time,
                    outcome: None,
                    attributes: Vec::new(),
                };
                self.open.insert(span.id, span);
            }
            TraceKind::RequestFinished => {
                let id = REQUEST_SPAN | r.request;
                if let Some(span) = self.open.get_mut(&id) {
                    span.attributes
                        .push(("faultline.attempts", json!(r.number)));
                }
                self.close(id, r.time, r.outcome);
            }
            TraceKind::AttemptSent => {
                let callee = self
                    .names
                    .edges
                    .get(r.edge as usize)
                    .map_or("?", |(_, to)| to.as_str());
                let parent = if r.parent == 0 {
                    REQUEST_SPAN | r.request
                } else {
                    SERVER_SPAN | r.parent
                };
                let span = Span {
                    resource: self.caller(r.edge),
                    request: r.request,
                    id: r.attempt,
                    parent: Some(parent),
                    name: format!("call {callee}"),
                    kind: KIND_CLIENT,
                    start: *r,
                    end: r.time,
                    outcome: None,
                    attributes: vec![("faultline.attempt_number", json!(r.number))],
                };
                self.open.insert(span.id, span);
            }
            TraceKind::ReplyReceived => self.close(r.attempt, r.time, r.outcome),
            TraceKind::Timeout | TraceKind::Deadline => {
                // A deadline fails its attempts as timeouts do.
                let cause = models::metrics::FailureCause::Timeout;
                if let Some(span) = self.open.get_mut(&r.attempt) {
                    span.attributes
                        .push(("faultline.ended_by", json!(r.kind.as_str())));
                }
                self.close(r.attempt, r.time, Some(Outcome::Failed(cause)));
            }
            TraceKind::Delivered => {
                let span = Span {
                    resource: self.names.service(r.service).to_owned(),
                    request: r.request,
                    id: SERVER_SPAN | r.attempt,
                    parent: Some(r.attempt),
                    name: self.names.service(r.service).to_owned(),
                    kind: KIND_SERVER,
                    start: *r,
                    end: r.time,
                    outcome: None,
                    attributes: Vec::new(),
                };
                self.waits.insert(r.attempt, r.time);
                self.open.insert(span.id, span);
            }
            TraceKind::WorkStart => {
                let arrived = self.waits.remove(&r.attempt);
                if let Some(span) = self.open.get_mut(&(SERVER_SPAN | r.attempt)) {
                    if let Some(arrived) = arrived {
                        let waited = r.time.saturating_since(arrived).as_nanos();
                        span.attributes
                            .push(("faultline.queue_wait_ns", json!(waited)));
                    }
                    span.attributes
                        .push(("faultline.work_ns", json!(r.duration.as_nanos())));
                    span.attributes.push(("faultline.worker", json!(r.worker)));
                    if r.slowed_by != 1.0 {
                        span.attributes
                            .push(("faultline.slowed_by", json!(r.slowed_by)));
                    }
                }
            }
            TraceKind::ReplySent => {
                self.waits.remove(&r.attempt);
                self.close(SERVER_SPAN | r.attempt, r.time, r.outcome);
            }
            TraceKind::Rejected | TraceKind::Shed | TraceKind::Reneged => {
                self.waits.remove(&r.attempt);
                let cause = match r.kind {
                    TraceKind::Shed => models::metrics::FailureCause::Shed,
                    TraceKind::Reneged => models::metrics::FailureCause::Timeout,
                    _ => models::metrics::FailureCause::Rejected,
                };
                if let Some(span) = self.open.get_mut(&(SERVER_SPAN | r.attempt)) {
                    span.attributes
                        .push(("faultline.ended_by", json!(r.kind.as_str())));
                }
                self.close(
                    SERVER_SPAN | r.attempt,
                    r.time,
                    Some(Outcome::Failed(cause)),
                );
            }
            _ => {}
        }
    }

    /// The document as one line of JSON with a final newline (see [`OtlpTrace::document`]).
    pub fn finish(self) -> String {
        let mut text = serde_json::to_string(&self.document())
            .expect("a serde_json::Value with string keys always serialises");
        text.push('\n');
        text
    }

    /// The document: spans grouped by resource (clients and services by name, in order of
    /// their first finished span), each group in the order the spans ended.
    pub fn document(mut self) -> Value {
        let end = self.last;
        let open: Vec<u64> = self.open.keys().copied().collect();
        for id in open {
            self.close(id, end, None);
        }
        let mut order: Vec<String> = Vec::new();
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for span in &self.done {
            if !groups.contains_key(&span.resource) {
                order.push(span.resource.clone());
            }
            groups
                .entry(span.resource.clone())
                .or_default()
                .push(span_json(span));
        }
        let resource_spans: Vec<Value> = order
            .iter()
            .map(|resource| {
                json!({
                    "resource": {"attributes": [
                        {"key": "service.name", "value": {"stringValue": resource}}
                    ]},
                    "scopeSpans": [{
                        "scope": {"name": "faultline", "version": env!("CARGO_PKG_VERSION")},
                        "spans": groups.remove(resource).unwrap_or_default(),
                    }],
                })
            })
            .collect();
        json!({ "resourceSpans": resource_spans })
    }
}

fn attribute(key: &str, value: &Value) -> Value {
    let typed = match value {
        Value::String(s) => json!({"stringValue": s}),
        Value::Number(n) if n.is_u64() || n.is_i64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": typed})
}

fn span_json(span: &Span) -> Value {
    let mut m = Map::new();
    m.insert("traceId".into(), json!(format!("{:032x}", span.request)));
    m.insert("spanId".into(), json!(format!("{:016x}", span.id)));
    if let Some(parent) = span.parent {
        m.insert("parentSpanId".into(), json!(format!("{parent:016x}")));
    }
    m.insert("name".into(), json!(span.name));
    m.insert("kind".into(), json!(span.kind));
    m.insert(
        "startTimeUnixNano".into(),
        json!(span.start.time.as_nanos().to_string()),
    );
    m.insert(
        "endTimeUnixNano".into(),
        json!(span.end.as_nanos().to_string()),
    );
    let mut attributes = vec![attribute("faultline.request", &json!(span.request))];
    attributes.extend(span.attributes.iter().map(|(k, v)| attribute(k, v)));
    m.insert("attributes".into(), Value::Array(attributes));
    match span.outcome {
        Some(Outcome::Ok | Outcome::Degraded) => {
            m.insert("status".into(), json!({"code": 1}));
        }
        Some(o) => {
            m.insert(
                "status".into(),
                json!({"code": 2, "message": outcome_str(o)}),
            );
        }
        None => {}
    }
    Value::Object(m)
}
