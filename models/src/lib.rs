//! faultline's world: services with workers and queues, clients, the network between them,
//! scripted faults and the per-call policies (timeout, retry), plus the metrics they record.
//!
//! [`config`] holds the validated description a scenario builds (the validators report
//! [`ConfigError`]s); [`World`] runs it on the `sim-core` engine and returns a [`RunResult`] that the reports crate turns into documents.

pub mod broker;
pub mod clock;
pub mod config;
pub mod custom;
pub mod data;
pub mod error;
pub mod fifo;
pub mod lb;
pub mod metrics;
pub mod network;
pub mod ops;
pub mod outbox;
pub mod policy;
pub mod publish_key;
pub mod report;
pub mod topic;
pub mod topology;
pub mod trace;
mod world;

pub use error::ConfigError;
pub use metrics::Outcome;
pub use report::{
    BreakerReport, ClientReport, EdgeReport, EndpointReport, FaultReport, Outage, ReplicaReport,
    RunResult, ServiceReport,
};
pub use trace::{RecordSink, TraceBuffer, TraceKind, TraceNames, TraceRecord};
pub use world::{RunOptions, World, WorldEvent};
