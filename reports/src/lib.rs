//! faultline's reports: what broke, when, why, how far it spread, and whether it recovered.
//!
//! [`analysis`] judges every window of every service, client and edge against its objectives
//! and links the damage to the scripted faults; the formats (terminal [`text`], versioned
//! [`json`], [`csv`] time series, [`markdown`], self-contained [`html`]) and the side-by-side
//! [`compare`] are pure functions of a [`models::RunResult`] and its analysis, so the same run
//! always gives byte-identical output: JSON objects have sorted keys, floats are rounded to
//! fixed decimals, and nothing depends on the wall clock.

pub mod activity;
pub mod analysis;
mod broker;
pub mod check;
mod common;
pub mod compare;
pub mod csv;
pub mod html;
mod json;
pub mod markdown;
mod ops;
mod outbox;
mod phrases;
mod rollout;
mod sagas;
mod section;
mod serverless;
mod stores;
pub mod sweep;
mod text;
mod topic;
pub mod trace;
mod twopc;

pub use analysis::{Analysis, analyse};
pub use broker::QUEUE_HEADER;
pub use common::edge_names;
pub use common::{is_complete, partial_note};
pub use json::{SCHEMA_VERSION, json, json_string, json_string_with, json_with};
pub use text::text;
pub use topic::TOPIC_HEADER;

#[cfg(test)]
mod tests;
