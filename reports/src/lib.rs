//! faultline's reports: a terminal summary and the versioned JSON document of a run.
//!
//! Both are pure functions of a [`RunResult`], so the same run always gives byte-identical
//! output: the JSON holds only `serde_json::Map` objects (sorted keys), every float is rounded
//! to a fixed number of decimals and nothing depends on the wall clock.

pub mod analysis;
mod common;
pub mod csv;
pub mod html;
pub mod markdown;
mod json;
mod text;

pub use analysis::{Analysis, analyse};
pub use json::{SCHEMA_VERSION, json, json_string};
pub use text::text;

#[cfg(test)]
mod tests;
