//! A service's (or an endpoint's) `two_phase`: the participants of a two-phase commit the
//! service coordinates.

use serde::Deserialize;

use super::Call;
use crate::duration::Duration;

/// `two_phase: (participants: [(to: "inventory", timeout: "200ms"), (to: "payment")],
/// resources: 1000)`. Each participant is an ordinary call (its `endpoint`, `timeout`,
/// `retry`, ... apply to the prepare and to the decision alike); each transaction locks one of
/// `resources` at every participant until the decision reaches it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoPhase {
    pub participants: Vec<Call>,
    pub resources: u32,
    /// How long after a decision call failed for good the coordinator sends it again
    /// (default 1 s).
    #[serde(default)]
    pub decision_retry: Option<Duration>,
}
