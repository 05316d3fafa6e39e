//! The record filter: `key=value` terms combined with AND, and a time range.

use std::collections::BTreeSet;
use std::fmt;

use models::{TraceKind, TraceNames, TraceRecord};
use sim_core::{SimDuration, SimTime};

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
