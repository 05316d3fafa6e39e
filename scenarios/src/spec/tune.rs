//! The `tune` section: what `faultline tune` searches when it is given this file, so a search
//! is written down beside the scenario instead of in a shell history. Flags given on the
//! command line override it field by field (`--param` replaces the whole list). The simulator
//! itself ignores the section: a run, `check` or `sweep` of the file is the same with or
//! without it.

use serde::Deserialize;

/// `tune: (params: [("services.api.workers", "2..8")], cost: "workers", seeds: "1..5")`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tune {
    /// `(PATH, DOMAIN)`: a `--set` path and its values, `"V1,V2,..."` or `"A..B"` (whole
    /// numbers, both ends included), as `--param PATH=DOMAIN`.
    #[serde(default)]
    pub params: Vec<(String, String)>,
    /// What to minimise, as `--cost`: `"workers + 10*attempts"`.
    #[serde(default)]
    pub cost: Option<String>,
    /// Seeds, both ends included, as `--seeds`: `"1..5"`.
    #[serde(default)]
    pub seeds: Option<String>,
    /// As `--grid-max`.
    #[serde(default)]
    pub grid_max: Option<usize>,
    /// As `--samples`.
    #[serde(default)]
    pub samples: Option<usize>,
    /// As `--search-seed`.
    #[serde(default)]
    pub search_seed: Option<u64>,
}
