//! JSON Lines: one record per line, with names instead of ids.

use std::io::{self, Write};

use models::trace::NONE;
use models::{TraceKind, TraceNames, TraceRecord};

use super::filter::Filter;
use super::format::{Fields, Quoted, factor, outcome_str};

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
            TraceKind::Blocked => data.num("senders_waiting", r.number),
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
            | TraceKind::Reneged
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
