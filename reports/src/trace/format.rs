//! The shared writers of the trace documents: times as fixed decimals, quoted names, and JSON
//! objects with keys in a fixed order.

use std::fmt::{self, Write as _};

use models::{Outcome, TraceNames};

/// Nanoseconds as seconds with nine decimals: `120.000000001`.
pub(super) fn seconds(ns: u64) -> String {
    Seconds(ns).to_string()
}

/// Nanoseconds shown as seconds with nine decimals, written without an allocation.
pub(super) struct Seconds(u64);

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
pub(super) fn micros(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

/// Nanoseconds as milliseconds with six decimals: `12.345678`.
pub(super) fn millis(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000, ns % 1_000_000)
}

/// A string as a JSON string literal.
pub(super) fn quoted(s: &str) -> String {
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
pub(super) fn factor(x: f64) -> String {
    format!("{x}")
}

/// The names of a trace, quoted once for JSON.
pub(super) struct Quoted {
    services: Vec<String>,
    clients: Vec<String>,
    /// `"from -> to"`.
    edges: Vec<String>,
    faults: Vec<String>,
    /// Per service, per worker slot: `"payments/3"`.
    instances: Vec<Vec<String>>,
}

impl Quoted {
    pub(super) fn new(names: &TraceNames) -> Quoted {
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

    pub(super) fn service(&self, id: u32) -> &str {
        Quoted::get(&self.services, id)
    }

    pub(super) fn client(&self, id: u32) -> &str {
        Quoted::get(&self.clients, id)
    }

    pub(super) fn edge(&self, id: u32) -> &str {
        Quoted::get(&self.edges, id)
    }

    pub(super) fn fault(&self, id: u32) -> &str {
        Quoted::get(&self.faults, id)
    }

    pub(super) fn instance(&self, service: u32, slot: u32) -> &str {
        self.instances
            .get(service as usize)
            .and_then(|s| s.get(slot as usize))
            .map_or("\"?\"", String::as_str)
    }
}

/// Appends `,"key":value` (or `"key":value` first) to a JSON object being written.
pub(super) struct Object<'a> {
    pub(super) out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    pub(super) fn open(out: &'a mut String) -> Object<'a> {
        out.push('{');
        Object { out, first: true }
    }

    /// Adds a key with a value that is already JSON.
    pub(super) fn raw(&mut self, key: &str, value: &str) -> &mut Self {
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

    pub(super) fn num(&mut self, key: &str, value: impl fmt::Display) -> &mut Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        let _ = write!(self.out, "\"{key}\":{value}");
        self
    }

    pub(super) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.raw(key, &quoted(value))
    }

    pub(super) fn close(&mut self) {
        self.out.push('}');
    }
}

/// The keys and values of one JSON object, written in any order and emitted sorted by key.
#[derive(Default)]
pub(super) struct Fields {
    /// Each key with the range of its value (JSON) in `values`.
    keys: Vec<(&'static str, std::ops::Range<usize>)>,
    values: String,
}

impl Fields {
    pub(super) fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
    }

    /// Adds a key with a value that is already JSON.
    pub(super) fn raw(&mut self, key: &'static str, value: &str) {
        self.num(key, value);
    }

    pub(super) fn num(&mut self, key: &'static str, value: impl fmt::Display) {
        let start = self.values.len();
        let _ = write!(self.values, "{value}");
        self.keys.push((key, start..self.values.len()));
    }

    pub(super) fn str(&mut self, key: &'static str, value: &str) {
        self.raw(key, &quoted(value));
    }

    /// Nanoseconds as seconds with nine decimals.
    pub(super) fn seconds(&mut self, key: &'static str, ns: u64) {
        self.num(key, Seconds(ns));
    }

    /// Appends the object, keys in alphabetical order.
    pub(super) fn write(&mut self, out: &mut String) {
        self.keys.sort_unstable_by_key(|(key, _)| *key);
        debug_assert!(self.keys.windows(2).all(|w| w[0].0 != w[1].0), "a key once");
        let mut object = Object::open(out);
        for (key, range) in &self.keys {
            object.raw(key, &self.values[range.clone()]);
        }
        object.close();
    }
}
