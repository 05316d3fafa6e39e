//! Writes that publish (issue 15): a service step that writes to the replica's own store and
//! publishes a message about it, either as a **dual write** or through a **transactional
//! outbox** (Chris Richardson, microservices.io, "Pattern: Transactional outbox" and "Pattern:
//! Polling publisher"). The world's side is `world/broker/outbox.rs`.
//!
//! The order modelled, for both: the write commits at the store when the step starts (counted
//! `written`); the replica learns it after `write_time` (the commit's round trip).
//! - Dual write: only then does the replica send the publish, a call with the step's policy.
//!   A crash of the replica before that (while the step is in progress) leaves the write
//!   standing and the message never sent: **lost**. A publish call that gives up (timeouts,
//!   retries spent, the broker down) loses it too; a crash while the call runs ends the call
//!   (the producer's process is gone: no more retries), though an attempt already on the wire
//!   may still be stored.
//! - Outbox: the message is a row committed in the same transaction as the write, so a crash
//!   cannot separate them. A relay per replica polls the outbox every `poll`, publishes its rows
//!   one after another in commit order (each a call with the step's policy) and deletes a row
//!   once the broker acked it. A crash stops the relay until the restart and only delays the
//!   rows; a row whose publish was stored but not acked before a crash is published again
//!   after it (at-least-once: counted `duplicated`).

use sim_core::SimDuration;

use crate::config::ServiceId;
use crate::metrics::Histogram;

/// How a write and its publish are tied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    DualWrite,
    Outbox { poll: SimDuration },
}

/// The default time a write takes to be acknowledged to the replica (a local commit).
pub const DEFAULT_WRITE_TIME: SimDuration = SimDuration(1_000_000);

/// How a publish step writes first (`Publish::write`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteStep {
    pub mode: WriteMode,
    pub write_time: SimDuration,
}

/// The write steps of one service publishing to one queue or topic in one way: what one
/// [`WriteReport`] counts (the world gathers them from the services' plans).
#[derive(Clone, Debug, PartialEq)]
pub struct WriteConfig {
    pub service: ServiceId,
    /// The queue's or topic's index, and whether it is a topic.
    pub target: (u16, bool),
    /// Its name (for reports).
    pub to: String,
    pub step: WriteStep,
}

/// What a run did with one write step's records. `written = published + lost + pending`.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteReport {
    pub service: String,
    pub to: String,
    pub mode: WriteMode,
    pub write_time: SimDuration,
    /// Writes committed (each with its message to publish).
    pub written: u64,
    /// Records the broker stored at least once.
    pub published: u64,
    /// Written but never published: the dual write's producer crashed or gave up.
    pub lost: u64,
    /// Stores of a record after its first (a retried publish, or a relay publishing again).
    pub duplicated: u64,
    /// At the end: written, not yet published, and still on their way (an outbox row, or a
    /// dual write's publish call still running).
    pub pending: u64,
    /// From the commit to the broker's first store of the record.
    pub delay: Histogram,
}

impl WriteReport {
    pub fn conserved(&self) -> bool {
        self.written == self.published + self.lost + self.pending
    }

    /// `dual_write` or `outbox`, as the reports name the mode.
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            WriteMode::DualWrite => "dual_write",
            WriteMode::Outbox { .. } => "outbox",
        }
    }
}
