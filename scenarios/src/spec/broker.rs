//! Brokers as written in the file (issue 15): a broker service's `queues`, a consumer's
//! `consume`, and the `publish` step of a call plan (in `Call`) with its own `key`.

use serde::Deserialize;

use crate::duration::Duration;

/// A queue of a broker service: `(name: "orders", visibility_timeout: "30s",
/// dead_letter: (queue: "orders-dlq", max_receives: 5))`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub name: String,
    /// How long a received message stays invisible before it is delivered again unless acked
    /// (default 30 s, SQS's).
    #[serde(default)]
    pub visibility_timeout: Option<Duration>,
    /// Messages older than this are deleted (default 4 days, SQS's).
    #[serde(default)]
    pub retention: Option<Duration>,
    /// Where a message goes after `max_receives` receives (SQS redrive policy).
    #[serde(default)]
    pub dead_letter: Option<DeadLetter>,
    /// The share of published messages every consumer fails on (default 0).
    #[serde(default)]
    pub poison: f64,
    /// Whether messages survive a crash of the broker (default true).
    #[serde(default = "yes")]
    pub durable: bool,
    /// An SQS FIFO queue: ordered message groups, a group locked while one of its messages
    /// is in flight, publishes deduplicated over 5 minutes (default false).
    #[serde(default)]
    pub fifo: bool,
    /// Message groups the publishes' keys hash to (default 1 on a FIFO queue); on a standard
    /// queue they only measure order.
    #[serde(default)]
    pub groups: Option<u32>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    pub queue: String,
    pub max_receives: u32,
}

/// A service consuming a queue: `(queue: "orders", concurrency: 4, batch: 1)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consume {
    pub queue: String,
    /// Pollers per replica, each processing one message at a time (default 1).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Messages one receive returns at most, 1 to 10 as SQS (default 1).
    #[serde(default)]
    pub batch: Option<u32>,
    /// An idempotent consumer: remembers processed message keys this long.
    #[serde(default)]
    pub dedupe: Option<Duration>,
    /// How long a poller waits before it polls again after a receive was lost (default 1 s).
    #[serde(default)]
    pub poll_retry: Option<Duration>,
}

/// A Kafka-like topic of a broker service: `(name: "orders", partitions: 6, keys: 1000)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub name: String,
    /// Partitions (default 1).
    #[serde(default)]
    pub partitions: Option<u32>,
    /// Publishes carry a key drawn uniformly from this many, hashed to a partition; without,
    /// they go round-robin.
    #[serde(default)]
    pub keys: Option<u32>,
}

/// When a group member commits its offsets.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Commit {
    /// After processing each polled batch: at-least-once (default).
    After,
    /// As soon as a batch is fetched: at-most-once.
    Before,
}

/// A service consuming a topic as one consumer group, one member per replica:
/// `(topic: "orders", commit: After, max_poll_records: 10, session_timeout: "10s")`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    pub topic: String,
    #[serde(default)]
    pub commit: Option<Commit>,
    /// Kafka's `max.poll.records` (default 500).
    #[serde(default)]
    pub max_poll_records: Option<u32>,
    /// Kafka's `session.timeout.ms`: how long a crashed member goes unnoticed (default 45 s).
    #[serde(default)]
    pub session_timeout: Option<Duration>,
    /// How long a rebalance consumes nothing (default 3 s).
    #[serde(default)]
    pub rebalance: Option<Duration>,
    /// How long a member waits before it fetches again after a lost fetch (default 1 s).
    #[serde(default)]
    pub poll_retry: Option<Duration>,
}

/// How a publish step ties itself to a write of the service's store (`after_write`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum AfterWrite {
    /// Commit the write, then send the publish: a crash in between loses the message.
    DualWrite,
    /// Commit the write with an outbox row; a relay polling every `poll` publishes it.
    Outbox { poll: Duration },
}

/// A publish step's own message key, in the stores' workload spelling:
/// `(keys: Range(from: 0, count: 100), popularity: Zipf(1.1))`, or one fixed key
/// `(keys: Set(["k"]))`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishKey {
    pub keys: MessageKeys,
    /// Over the keys in rank order (default `Uniform`).
    #[serde(default)]
    pub popularity: Option<super::store::Popularity>,
}

/// The keys a publish step draws from, in rank order (the first is the most popular under Zipf).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum MessageKeys {
    /// `count` consecutive numbers from `from`.
    Range { from: u32, count: u32 },
    /// These distinct keys: numbers or names.
    Set(Vec<KeyName>),
}

/// One key of a set: `7` or `"customer-7"`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyName {
    Number(u32),
    Name(String),
}

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = KeyName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key: a whole number from 0 to 4294967295, or a string like \"k\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<KeyName, E> {
                u32::try_from(n)
                    .map(KeyName::Number)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(n), &self))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<KeyName, E> {
                u32::try_from(n)
                    .map(KeyName::Number)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(n), &self))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<KeyName, E> {
                Ok(KeyName::Name(s.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}
