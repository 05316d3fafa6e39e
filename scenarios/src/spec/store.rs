//! The `stores` section: replicated stores on services' replicas.

use serde::Deserialize;

use super::Distribution;
use crate::duration::Duration;

/// One replicated store: `(service: "db", replication: Async, keys: 100, writes: 0.3)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// The service whose replicas hold the data; its callers' calls are the operations.
    pub service: String,
    /// Keys, numbered from 0 (default 100).
    #[serde(default = "default_keys")]
    pub keys: u32,
    /// `Uniform` (default) or `Zipf(s)`: key `i` weighs `1 / (i + 1)^s`.
    #[serde(default)]
    pub popularity: Popularity,
    /// The share of operations that are writes (default 0.5).
    #[serde(default = "half")]
    pub writes: f64,
    pub replication: Replication,
    /// Leader-follower only: `Leader` (default) or `Any`.
    #[serde(default)]
    pub read_from: ReadFrom,
    /// With `read_from: Any`: session guarantees kept by version tokens (default none).
    #[serde(default)]
    pub session: Option<Session>,
    /// How long a coordinator waits for the replies it needs (default 1 s).
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// A follower's work to apply one replicated write (default 1 ms constant).
    #[serde(default)]
    pub apply: Option<Distribution>,
    /// Heartbeat interval (default 100 ms).
    #[serde(default)]
    pub heartbeat: Option<Duration>,
    /// Without a lease: how long followers go without hearing the leader before promoting
    /// one (default 1 s).
    #[serde(default)]
    pub failover_after: Option<Duration>,
    /// From the decision to promote to the new leader taking writes (default 1 s).
    #[serde(default)]
    pub promotion_delay: Option<Duration>,
    #[serde(default)]
    pub lease: Option<Lease>,
    /// The most operations recorded for the anomaly checker (default 200,000).
    #[serde(default)]
    pub history: Option<u32>,
}

fn default_keys() -> u32 {
    100
}

fn half() -> f64 {
    0.5
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
pub enum Popularity {
    #[default]
    Uniform,
    Zipf(f64),
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum ReadFrom {
    #[default]
    Leader,
    Any,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Resolve {
    LastWriterWins,
    VersionVectors,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub enum Replication {
    Async,
    Sync,
    SemiSync {
        acks: u32,
    },
    Leaderless {
        r: u32,
        w: u32,
        #[serde(default)]
        read_repair: bool,
        resolve: Resolve,
    },
}

/// `(read_your_writes: true, monotonic_reads: true)`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    #[serde(default)]
    pub read_your_writes: bool,
    #[serde(default)]
    pub monotonic_reads: bool,
}

/// `(duration: "2s", fencing: true)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    pub duration: Duration,
    #[serde(default)]
    pub fencing: bool,
}

/// A caller's own workload on a store: `(keys: Range(from: 0, count: 10), popularity:
/// Zipf(1.2), writes: 1.0)`. A field left out takes the store's (its whole key space, its
/// popularity, its writes).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    #[serde(default)]
    pub keys: Option<Keys>,
    #[serde(default)]
    pub popularity: Option<Popularity>,
    #[serde(default)]
    pub writes: Option<f64>,
}

/// The keys of a workload, in rank order (the first is the most popular under Zipf).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Keys {
    /// `count` consecutive keys from `from`.
    Range { from: u32, count: u32 },
    /// These distinct keys.
    Set(Vec<u32>),
}
