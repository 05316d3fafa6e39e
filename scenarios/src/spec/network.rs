//! The network section as written in the file: latency, loss, per-link overrides and
//! partitions.

use serde::Deserialize;

use super::{Distribution, Place, yes};
use crate::duration::Duration;

/// The network between every caller and callee.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// One-way latency within a zone, drawn for the request and again for the reply.
    pub latency: Distribution,
    /// Between zones of a region (default: `latency`).
    #[serde(default)]
    pub cross_zone: Option<Distribution>,
    /// Between regions (default: `cross_zone`).
    #[serde(default)]
    pub cross_region: Option<Distribution>,
    /// Probability that a one-way message is lost (default 0).
    #[serde(default)]
    pub loss: f64,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub partitions: Vec<Partition>,
}

/// A latency (and loss) override between two places; the most specific one wins.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub from: Place,
    pub to: Place,
    pub latency: Distribution,
    #[serde(default)]
    pub loss: Option<f64>,
    /// Also from `to` to `from` (default true).
    #[serde(default = "yes")]
    pub symmetric: bool,
}

/// A network partition between two sets of places.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub from: Duration,
    /// When it heals (default: never).
    #[serde(default)]
    pub to: Option<Duration>,
    pub a: Vec<Place>,
    pub b: Vec<Place>,
    /// `Both` (default), or only `AToB` or `BToA`.
    #[serde(default)]
    pub direction: Direction,
    /// Cut only this share of the host pairs (always the same ones).
    #[serde(default)]
    pub fraction: Option<f64>,
    /// `Drop` (default: messages vanish, callers wait for their timeouts) or `Refuse`
    /// (connections are refused: callers fail fast).
    #[serde(default)]
    pub mode: CutMode,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum Direction {
    #[default]
    Both,
    AToB,
    BToA,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum CutMode {
    #[default]
    Drop,
    Refuse,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency: Distribution::Constant {
                value: Duration(sim_core::SimDuration::ZERO),
            },
            cross_zone: None,
            cross_region: None,
            loss: 0.0,
            links: Vec::new(),
            partitions: Vec::new(),
        }
    }
}
