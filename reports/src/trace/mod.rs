//! Domain traces as documents: JSON Lines, a record filter, Chrome trace-event JSON for Perfetto
//! and the causal story of one logical request.
//!
//! Everything here reads [`TraceRecord`](models::TraceRecord)s (see `models::trace`) and the [`TraceNames`](models::TraceNames) behind
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
//! - flow arrows (`ph: "s"` and `"f"`, category `flow`, `id` the attempt) lead from the moment
//!   an attempt leaves its caller (on the client lane or the calling worker) to the worker that
//!   takes it up at the callee (`bp: "e"`, bound to the attempt's span there), so Perfetto
//!   draws who called whom.
//!
//! Every event has `name`, `cat`, `ph`, `ts` and `pid`/`tid`; complete events have `dur`; times
//! are microseconds with three decimals (exact nanoseconds). `args` hold the record's data as
//! the JSON Lines name it (durations in milliseconds: `waited_ms`, `backoff_ms`, `work_ms`), in
//! alphabetical order; `request` is absent for the records of no request. Metadata events
//! (`ph: "M"`) name the processes and threads and order them; they carry `ts: 0`.
//!
//! One room per job: [`format`] (the shared number and JSON writers), [`jsonl`] (JSON Lines),
//! [`filter`] (the record filter), [`chrome`] (the Chrome trace), [`otlp`] (OpenTelemetry
//! spans, OTLP/JSON) and [`explain`] (the story of one request); their public items are
//! re-exported here.

mod chrome;
mod explain;
mod filter;
mod format;
mod jsonl;
mod otlp;
#[cfg(test)]
mod tests;

pub use chrome::{ChromeTrace, chrome_trace};
pub use explain::{explain, explain_needs};
pub use filter::{Filter, FilterError};
pub use format::outcome_str;
pub use jsonl::{JsonLines, json_lines, shed_by_str};
pub use otlp::OtlpTrace;
