//! The operations sections of a scenario: mid-run changes.

use serde::Deserialize;

use crate::duration::Duration;

/// A `--set PATH=VALUE` made at a simulated time:
/// `(at: "60s", set: "edges.checkout->recommendations.probability", to: 0)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub at: Duration,
    /// A `--set` path (README, "Parameter overrides").
    pub set: String,
    /// Its value, as `--set` would take it: a string, or a number or `true`/`false`.
    pub to: ChangeValue,
    /// Spread the change over the replicas that hold its state: the first gets it at `at`,
    /// the last at `at + rollout` (default: all at once).
    #[serde(default)]
    pub rollout: Option<Duration>,
}

/// A change's value: written as a string, a number or a boolean.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ChangeValue {
    Flag(bool),
    Number(f64),
    Text(String),
}

impl ChangeValue {
    /// The value as `--set` takes it.
    pub fn text(&self) -> String {
        match self {
            ChangeValue::Flag(b) => b.to_string(),
            ChangeValue::Number(n) => n.to_string(),
            ChangeValue::Text(t) => t.clone(),
        }
    }
}
