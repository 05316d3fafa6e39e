//! How callers and queues wait, as written in the file: a timeout or deadline that may be drawn
//! from a distribution (`Patience`), a queue's size, what a full queue does to a sender, what
//! becomes of a queued request whose caller gives up, and which deadline a caller sends.

use serde::Deserialize;

use super::Distribution;
use crate::duration::Duration;

/// How long a caller waits: a fixed duration (`"250ms"`) or a distribution drawn per wait
/// (`Exponential(mean: "250ms")`).
#[derive(Clone, Debug)]
pub enum Patience {
    Fixed(Duration),
    Drawn(Distribution),
}

impl<'de> Deserialize<'de> for Patience {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A string is parsed here so that a bad duration keeps its own message.
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a duration like \"250ms\" or a distribution like Exponential(mean: \"250ms\")"
        )]
        enum Raw {
            Fixed(String),
            Drawn(Distribution),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Fixed(text) => crate::duration::parse_duration(&text)
                .map(|d| Patience::Fixed(Duration(d)))
                .map_err(serde::de::Error::custom),
            Raw::Drawn(d) => Ok(Patience::Drawn(d)),
        }
    }
}

/// A queue's size: a number of places, or `Unbounded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueSize {
    Places(u32),
    Unbounded,
}

impl Default for QueueSize {
    fn default() -> Self {
        QueueSize::Places(0)
    }
}

impl<'de> Deserialize<'de> for QueueSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        enum Word {
            Unbounded,
        }
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a number of places or Unbounded")]
        enum Raw {
            Places(u32),
            Word(Word),
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::Places(n) => QueueSize::Places(n),
            Raw::Word(Word::Unbounded) => QueueSize::Unbounded,
        })
    }
}

/// The deadline a caller sends with each attempt.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum DeadlineSent {
    /// What is left of the call's deadline (gRPC).
    #[default]
    Call,
    /// The sooner of that and the attempt's per-try timeout (Envoy).
    PerTry,
}

/// What a request finds when its callee's queue is full.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum WhenFull {
    /// Refused at once (HTTP 503, gRPC RESOURCE_EXHAUSTED): `rejected`.
    #[default]
    Reject,
    /// Its sender waits until a place frees, first come first served (a bounded channel, TCP
    /// flow control).
    Backpressure,
}

/// What becomes of a queued request whose caller gives up.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum Abandonment {
    /// It stays queued until a worker reaches it (thread pools, most HTTP servers).
    #[default]
    AtDequeue,
    /// It leaves the queue the moment its caller gives up, freeing its place (gRPC servers
    /// cancel a call whose client cancelled or whose deadline passed; a caller who hangs up).
    Renege,
}
