//! faultline's engine: simulated time, a totally ordered event queue with cheap timer
//! cancellation, seeded per-component random streams, owned samplers, run limits, an optional
//! trace sink and the run fingerprint.
//!
//! The engine knows nothing of services, files or the command line. A model implements
//! [`Model`], receives each event in order, and schedules new ones through the [`Scheduler`].
//!
//! # Ordering guarantee
//!
//! Events are processed in increasing `(time, seq)` order, where `seq` is the order in which they
//! were scheduled. Two events at the same simulated time are therefore processed in the order
//! they were scheduled, never in an order that depends on memory addresses or hashing.

pub mod bench;
mod dist;
mod engine;
mod fingerprint;
mod queue;
mod rng;
mod time;

pub use dist::{DistError, Distribution, Z_P99, sample_exp};
pub use engine::{
    Event, Interrupt, Limits, Model, POLL_EVERY, RunOutcome, Scheduler, Simulation, StopReason,
    TraceSink,
};
pub use fingerprint::Fingerprint;
pub use queue::{EventQueue, TimerId};
pub use rng::{RngStreams, SimRng};
pub use time::{SimDuration, SimTime};
