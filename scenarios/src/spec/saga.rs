//! A service's (or an endpoint's) `saga`: ordered steps, each a call with an optional
//! compensation, run by the service as an orchestrator.

use serde::Deserialize;

use super::Call;

/// One step: `(call: (to: "inventory", endpoint: "reserve"), compensate: (to: "inventory",
/// endpoint: "release"))`. Both are ordinary calls with their own policies (`timeout`,
/// `retry`, ...); a step without `compensate` cannot be undone.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagaStep {
    pub call: Call,
    #[serde(default)]
    pub compensate: Option<Call>,
}
