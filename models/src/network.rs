//! The network between hosts: one-way latency by locality, packet loss, and partitions.
//!
//! Hosts sit in zones and zones in regions. A message between two hosts of one zone pays the
//! `latency`, between zones of one region `cross_zone`, between regions
//! `cross_region`; [`LinkOverride`]s replace that for chosen hosts, zones or regions (a slow
//! link, a lossy cross-region pipe). Every one-way message may be lost with a probability, and
//! [`Partition`]s cut the network between two sides for a window of simulated time.
//!
//! What an operator would recognise:
//!
//! - **A silent drop** ([`CutMode::Drop`], and every lost message) looks like a timeout: the
//!   request vanishes, nothing comes back, and the caller only finds out when its own timer
//!   fires. Latency percentiles jump to the timeout value and retries pile up behind it.
//! - **A refused connection** ([`CutMode::Refuse`]) fails fast: the sender gets an error at once
//!   (think `ECONNREFUSED` or a reset from a firewall that rejects instead of dropping), so
//!   errors rise while latency stays low and retries are spent quickly.
//! - **An asymmetric partition** ([`Direction::AToB`], [`Direction::BToA`]) cuts one direction
//!   only: requests arrive but replies never leave, or the other way round. The receiving side
//!   may do all the work while the caller still sees timeouts.
//! - **A partial partition** ([`Partition::fraction`]) cuts only some host pairs, and always the
//!   same ones while it lasts: some callers see a dead peer that others reach fine, the classic
//!   "works from my machine" split.
//!
//! Nothing here schedules events or keeps state that changes during a run: [`Network`] answers
//! questions ("how long does this message take", "is it lost", "is this pair cut now") and the
//! world acts on the answers. The only randomness is the caller's [`SimRng`] stream, drawn from
//! only when a draw is needed, so a configuration with zero loss and constant latencies never
//! perturbs the stream it is given.

use sim_core::{Distribution, SimDuration, SimRng, SimTime};

use crate::error::{ConfigError, NetworkField, Side as SideName};

/// A place in the topology a link override or a partition side names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// One host, by host index.
    Host(usize),
    /// Every host of a zone, by zone index.
    Zone(usize),
    /// Every host of every zone of a region, by region index.
    Region(usize),
}

impl Place {
    /// How specific the place is: a host (2) over a zone (1) over a region (0).
    fn rank(self) -> u8 {
        match self {
            Place::Host(_) => 2,
            Place::Zone(_) => 1,
            Place::Region(_) => 0,
        }
    }
}

/// A latency (and optionally loss) that replaces the locality default for messages from one
/// place to another.
///
/// Directional by default: it applies to messages `from -> to` only. With `symmetric: true` it
/// also applies to messages `to -> from`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkOverride {
    /// Where the message leaves.
    pub from: Place,
    /// Where the message arrives.
    pub to: Place,
    /// The one-way latency of a message on this link.
    pub latency: Distribution,
    /// The loss probability on this link, in `[0, 1]`; `None` keeps the global
    /// [`NetworkConfig::loss`]. The override decides as a whole: a less specific override that
    /// also matches is not consulted for the loss.
    pub loss: Option<f64>,
    /// Whether the override also applies to messages `to -> from`.
    pub symmetric: bool,
}

/// Which messages a partition cuts, by the side they leave from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Messages from A to B and from B to A.
    Both,
    /// Only messages from a host of side A to a host of side B.
    AToB,
    /// Only messages from a host of side B to a host of side A.
    BToA,
}

/// What the sender of a cut message experiences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutMode {
    /// The message vanishes silently; the sender finds out only by its own timeout.
    Drop,
    /// The connection is refused; the sender gets an immediate failure.
    Refuse,
}

/// A network partition between two sides, active from `from` until it heals at `to`.
///
/// A host is on a side when one of the side's places contains it (the host itself, its zone
/// or its region). Hosts on neither side are not affected. A host may not be on both sides.
#[derive(Clone, Debug, PartialEq)]
pub struct Partition {
    /// When the partition starts (inclusive).
    pub from: SimTime,
    /// When it heals (exclusive); `None` never heals. Must be after `from`.
    pub to: Option<SimTime>,
    /// One side.
    pub side_a: Vec<Place>,
    /// The other side.
    pub side_b: Vec<Place>,
    /// Which directions are cut.
    pub direction: Direction,
    /// A partial partition: only this share, in `[0, 1]`, of the host pairs `(a, b)` with `a` in
    /// side A and `b` in side B is cut; `None` cuts every pair.
    ///
    /// The pairs are chosen by a hash, not by the random stream, so the same pairs stay cut for
    /// the whole partition and every run with the same `seed`: the pair is cut when
    /// [`pair_hash`]`(seed, a, b)` is below `fraction * 2^64` (every pair when `fraction` is 1).
    /// The pair is always written with the side-A host first, so with [`Direction::Both`] a pair
    /// is cut in both directions or in neither.
    pub fraction: Option<f64>,
    /// The seed of the pair hash for `fraction`. The world derives it from the run seed and the
    /// partition's identity; two partial partitions with the same seed and fraction over the
    /// same sides cut the same pairs.
    pub seed: u64,
    /// What the sender of a cut message experiences.
    pub mode: CutMode,
}

impl Partition {
    /// Whether the partition is active at `t`: `from <= t < to`.
    pub fn active_at(&self, t: SimTime) -> bool {
        self.from <= t && self.to.is_none_or(|heal| t < heal)
    }
}

/// Everything about the network a scenario configures: one-way latency by locality, the
/// global loss probability, the link overrides and the partitions.
///
/// This is the one network configuration: the scenario loader builds it and checks it against
/// the topology once ([`NetworkConfig::validate`]); the world binds it as it is
/// ([`Network::new`]).
///
/// # Which latency applies
///
/// Among the overrides that match a message (directionally, or either way when symmetric), the
/// most specific wins. A pair of places is as specific as its coarser end, then its finer end,
/// so from most to least specific: host-host, zone-host (either way round), zone-zone,
/// region-host, region-zone, region-region. Ties (two matching overrides equally specific, for
/// example `Zone(0) -> Host(5)` and `Host(4) -> Zone(1)`, or a duplicate) go to the first in list
/// order. With no matching override, the locality decides: same zone, same region, or neither.
///
/// A message from a host to itself counts as same zone unless an override says otherwise (for
/// example `Host(h) -> Host(h)` with a zero constant for a loopback that costs nothing).
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfig {
    /// Latency within a zone (and from a host to itself), drawn independently for the request
    /// and for the reply.
    pub latency: Distribution,
    /// Latency between zones of a region (default: `latency`).
    pub cross_zone: Option<Distribution>,
    /// Latency between regions (default: `cross_zone`, then `latency`).
    pub cross_region: Option<Distribution>,
    /// Probability in `[0, 1]` that a one-way message is lost, where no override sets its own.
    pub loss: f64,
    /// Overrides for chosen links; see the type's docs for precedence.
    pub links: Vec<LinkOverride>,
    /// Partitions; when several active ones cut the same message, the first in list order
    /// decides the [`CutMode`].
    pub partitions: Vec<Partition>,
}

impl Default for NetworkConfig {
    /// A network with no latency, no loss, no overrides and no partitions.
    fn default() -> Self {
        NetworkConfig {
            latency: Distribution::Constant(SimDuration::ZERO),
            cross_zone: None,
            cross_region: None,
            loss: 0.0,
            links: Vec::new(),
            partitions: Vec::new(),
        }
    }
}

impl NetworkConfig {
    /// The latency between zones of a region: `cross_zone`, else `latency`.
    pub fn cross_zone_latency(&self) -> &Distribution {
        self.cross_zone.as_ref().unwrap_or(&self.latency)
    }

    /// The latency between regions: `cross_region`, else `cross_zone`, else `latency`.
    pub fn cross_region_latency(&self) -> &Distribution {
        self.cross_region
            .as_ref()
            .or(self.cross_zone.as_ref())
            .unwrap_or(&self.latency)
    }

    /// Checks the configuration against a topology (`host_zone[h]` is host `h`'s zone,
    /// `zone_region[z]` zone `z`'s region; regions are numbered `0..=max(zone_region)`).
    ///
    /// Returns every problem, each naming where it is: probabilities in `[0, 1]`, distribution
    /// parameters finite and non-negative, places in range, heal after start, non-empty
    /// sides, no host on both sides, and the topology's own indices in range.
    pub fn validate(
        &self,
        host_zone: &[usize],
        zone_region: &[usize],
    ) -> Result<(), Vec<ConfigError>> {
        let mut problems = Vec::new();
        let topology = Topology::new(host_zone, zone_region, &mut problems);
        check_distribution(NetworkField::Latency, &self.latency, &mut problems);
        if let Some(d) = &self.cross_zone {
            check_distribution(NetworkField::CrossZone, d, &mut problems);
        }
        if let Some(d) = &self.cross_region {
            check_distribution(NetworkField::CrossRegion, d, &mut problems);
        }
        check_probability(NetworkField::Loss, self.loss, &mut problems);
        for (link, l) in self.links.iter().enumerate() {
            topology.check_place(NetworkField::LinkFrom { link }, l.from, &mut problems);
            topology.check_place(NetworkField::LinkTo { link }, l.to, &mut problems);
            check_distribution(
                NetworkField::LinkLatency { link },
                &l.latency,
                &mut problems,
            );
            if let Some(loss) = l.loss {
                check_probability(NetworkField::LinkLoss { link }, loss, &mut problems);
            }
        }
        for (i, partition) in self.partitions.iter().enumerate() {
            topology.check_partition(i, partition, &mut problems);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The topology's indices, checked, and the number of regions.
struct Topology<'a> {
    host_zone: &'a [usize],
    zone_region: &'a [usize],
    region_count: usize,
    /// Whether every host's zone and every zone's region is in range.
    valid: bool,
}

impl<'a> Topology<'a> {
    fn new(
        host_zone: &'a [usize],
        zone_region: &'a [usize],
        problems: &mut Vec<ConfigError>,
    ) -> Self {
        let zone_count = zone_region.len();
        let region_count = zone_region.iter().max().map_or(0, |&r| r + 1);
        let mut valid = true;
        for (host, &zone) in host_zone.iter().enumerate() {
            if zone >= zone_count {
                valid = false;
                problems.push(ConfigError::HostZoneOutOfRange {
                    host,
                    zone,
                    zones: zone_count,
                });
            }
        }
        Topology {
            host_zone,
            zone_region,
            region_count,
            valid,
        }
    }

    fn check_place(&self, field: NetworkField, place: Place, problems: &mut Vec<ConfigError>) {
        let (index, count) = match place {
            Place::Host(h) => (h, self.host_zone.len()),
            Place::Zone(z) => (z, self.zone_region.len()),
            Place::Region(r) => (r, self.region_count),
        };
        if index >= count {
            problems.push(ConfigError::PlaceOutOfRange {
                field,
                place,
                count,
            });
        }
    }

    /// Checks partition `i`: its window, its fraction, its sides and that they do not overlap.
    fn check_partition(&self, i: usize, partition: &Partition, problems: &mut Vec<ConfigError>) {
        // Not a let chain: the crate's rust-version (1.85) predates them.
        if let Some(heal) = partition.to.filter(|&heal| heal <= partition.from) {
            problems.push(ConfigError::HealsBeforeStart {
                partition: i,
                from: partition.from,
                to: heal,
            });
        }
        if let Some(fraction) = partition.fraction {
            let field = NetworkField::PartitionFraction { partition: i };
            check_probability(field, fraction, problems);
        }
        for (side, places) in [
            (SideName::A, &partition.side_a),
            (SideName::B, &partition.side_b),
        ] {
            if places.is_empty() {
                problems.push(ConfigError::EmptySide { partition: i, side });
            }
            for (index, &place) in places.iter().enumerate() {
                let field = NetworkField::PartitionSide {
                    partition: i,
                    side,
                    index,
                };
                self.check_place(field, place, problems);
            }
        }
        if self.valid {
            for host in 0..self.host_zone.len() {
                let in_a = partition.side_a.iter().any(|&e| self.contains(e, host));
                let in_b = partition.side_b.iter().any(|&e| self.contains(e, host));
                if in_a && in_b {
                    problems.push(ConfigError::HostOnBothSides { partition: i, host });
                }
            }
        }
    }

    /// Whether `place` contains `host`; the topology must be valid.
    fn contains(&self, place: Place, host: usize) -> bool {
        let zone = self.host_zone[host];
        match place {
            Place::Host(h) => h == host,
            Place::Zone(z) => z == zone,
            Place::Region(r) => r == self.zone_region[zone],
        }
    }
}

fn check_probability(field: NetworkField, p: f64, problems: &mut Vec<ConfigError>) {
    // NaN fails `contains`, so it is reported too.
    if !(0.0..=1.0).contains(&p) {
        problems.push(ConfigError::NotAProbability { field, value: p });
    }
}

fn check_distribution(
    field: NetworkField,
    distribution: &Distribution,
    problems: &mut Vec<ConfigError>,
) {
    let finite_non_negative = |x: f64| x.is_finite() && x >= 0.0;
    let valid = match *distribution {
        Distribution::Constant(_) => true,
        Distribution::Exponential { mean_ns } => mean_ns.is_finite() && mean_ns > 0.0,
        Distribution::LogNormal { mu, sigma } => mu.is_finite() && finite_non_negative(sigma),
        Distribution::FoldedNormal { mean_ns, sd_ns } => {
            mean_ns.is_finite() && finite_non_negative(sd_ns)
        }
    };
    if !valid {
        problems.push(ConfigError::BadDistribution {
            field,
            distribution: distribution.clone(),
        });
    }
}

/// SplitMix64: add the golden gamma, then its finaliser (a bijective avalanche of 64 bits).
fn splitmix64(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The hash that picks the cut pairs of a partial partition:
/// `splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b)`, with `a` the side-A host and `b` the
/// side-B host as `u64`, and `splitmix64(z)` SplitMix64's output for state `z` (add
/// `0x9E3779B97F4A7C15`, then its finaliser). The pair is cut when the hash is below
/// `fraction * 2^64`.
pub fn pair_hash(seed: u64, a: usize, b: usize) -> u64 {
    splitmix64(splitmix64(splitmix64(seed) ^ a as u64) ^ b as u64)
}

/// Which side of a partition a host is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Neither,
    A,
    B,
}

/// Which host pairs across a partition it cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PairShare {
    All,
    /// Pairs whose [`pair_hash`] is below this.
    HashBelow(u64),
}

impl PairShare {
    fn of(fraction: Option<f64>) -> Self {
        match fraction {
            None => PairShare::All,
            Some(f) if f >= 1.0 => PairShare::All,
            // f < 1, so f * 2^64 (an exact product: a power-of-two scale) is below 2^64 and
            // the truncating conversion stays in range.
            Some(f) => PairShare::HashBelow((f * 18_446_744_073_709_551_616.0) as u64),
        }
    }
}

/// A validated [`NetworkConfig`] bound to a topology, answering per-message questions.
#[derive(Clone, Debug)]
pub struct Network {
    config: NetworkConfig,
    host_zone: Vec<usize>,
    zone_region: Vec<usize>,
    /// `sides[p][h]`: the side of partition `p` host `h` is on.
    sides: Vec<Vec<Side>>,
    /// `shares[p]`: which pairs partition `p` cuts.
    shares: Vec<PairShare>,
}

impl Network {
    /// Validates `config` against the topology (see [`NetworkConfig::validate`]) and binds it.
    pub fn new(
        config: NetworkConfig,
        host_zone: &[usize],
        zone_region: &[usize],
    ) -> Result<Self, Vec<ConfigError>> {
        config.validate(host_zone, zone_region)?;
        let mut unused = Vec::new();
        let topology = Topology::new(host_zone, zone_region, &mut unused);
        assert!(topology.valid && unused.is_empty());
        let sides = config
            .partitions
            .iter()
            .map(|p| {
                (0..host_zone.len())
                    .map(|h| {
                        let in_a = p.side_a.iter().any(|&e| topology.contains(e, h));
                        let in_b = p.side_b.iter().any(|&e| topology.contains(e, h));
                        assert!(!(in_a && in_b), "validated: host {h} on both sides");
                        match (in_a, in_b) {
                            (true, _) => Side::A,
                            (_, true) => Side::B,
                            _ => Side::Neither,
                        }
                    })
                    .collect()
            })
            .collect();
        let shares = config
            .partitions
            .iter()
            .map(|p| PairShare::of(p.fraction))
            .collect();
        Ok(Network {
            config,
            host_zone: host_zone.to_vec(),
            zone_region: zone_region.to_vec(),
            sides,
            shares,
        })
    }

    /// The configuration this network was built from.
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// The number of hosts in the topology.
    pub fn host_count(&self) -> usize {
        self.host_zone.len()
    }

    fn contains(&self, place: Place, host: usize) -> bool {
        let zone = self.host_zone[host];
        match place {
            Place::Host(h) => h == host,
            Place::Zone(z) => z == zone,
            Place::Region(r) => r == self.zone_region[zone],
        }
    }

    /// The index in [`NetworkConfig::links`] of the override that decides messages
    /// `from_host -> to_host`, if any: the most specific match, ties to the first in list order
    /// (see [`NetworkConfig`]).
    pub fn link_override(&self, from_host: usize, to_host: usize) -> Option<usize> {
        self.check_hosts(from_host, to_host);
        let mut best: Option<(usize, (u8, u8))> = None;
        for (i, link) in self.config.links.iter().enumerate() {
            let forward = self.contains(link.from, from_host) && self.contains(link.to, to_host);
            let backward = link.symmetric
                && self.contains(link.to, from_host)
                && self.contains(link.from, to_host);
            if !(forward || backward) {
                continue;
            }
            let (x, y) = (link.from.rank(), link.to.rank());
            let specificity = (x.min(y), x.max(y));
            // Strictly greater: an equally specific later override does not displace an earlier.
            if best.is_none_or(|(_, s)| specificity > s) {
                best = Some((i, specificity));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Draws the one-way latency of a message `from_host -> to_host`. Draws from `rng` only as
    /// the chosen [`Distribution`] needs (a constant draws nothing).
    pub fn latency(&self, from_host: usize, to_host: usize, rng: &mut SimRng) -> SimDuration {
        let config = &self.config;
        let distribution = match self.link_override(from_host, to_host) {
            Some(i) => &config.links[i].latency,
            None => {
                let (zone_from, zone_to) = (self.host_zone[from_host], self.host_zone[to_host]);
                if zone_from == zone_to {
                    &config.latency
                } else if self.zone_region[zone_from] == self.zone_region[zone_to] {
                    config.cross_zone_latency()
                } else {
                    config.cross_region_latency()
                }
            }
        };
        distribution.sample(rng)
    }

    /// The loss probability of a message `from_host -> to_host`: the deciding override's, or
    /// the global one.
    pub fn loss_probability(&self, from_host: usize, to_host: usize) -> f64 {
        let config = &self.config;
        self.link_override(from_host, to_host)
            .and_then(|i| config.links[i].loss)
            .unwrap_or(config.loss)
    }

    /// Whether a message `from_host -> to_host` is lost. Draws one value from `rng` only when
    /// the loss probability is above zero, so a zero-loss network never perturbs the stream.
    pub fn lost(&self, from_host: usize, to_host: usize, rng: &mut SimRng) -> bool {
        let p = self.loss_probability(from_host, to_host);
        debug_assert!((0.0..=1.0).contains(&p));
        p > 0.0 && rng.chance(p)
    }

    /// Whether a message `from_host -> to_host` sent at `t` is cut by a partition, and how.
    ///
    /// A partition cuts the message when it is active at `t` (`from <= t < to`), the hosts are
    /// on opposite sides in a cut direction, and (for a partial partition) the pair is among
    /// the cut ones. When several partitions cut the message, the first in list order decides
    /// the mode. A message from a host to itself is never cut (a host is on one side only).
    pub fn cut(&self, t: SimTime, from_host: usize, to_host: usize) -> Option<CutMode> {
        self.check_hosts(from_host, to_host);
        for (p, partition) in self.config.partitions.iter().enumerate() {
            if !partition.active_at(t) {
                continue;
            }
            let sides = &self.sides[p];
            let (a, b) = match (sides[from_host], sides[to_host], partition.direction) {
                (Side::A, Side::B, Direction::Both | Direction::AToB) => (from_host, to_host),
                (Side::B, Side::A, Direction::Both | Direction::BToA) => (to_host, from_host),
                _ => continue,
            };
            let pair_cut = match self.shares[p] {
                PairShare::All => true,
                PairShare::HashBelow(threshold) => pair_hash(partition.seed, a, b) < threshold,
            };
            if pair_cut {
                return Some(partition.mode);
            }
        }
        None
    }

    fn check_hosts(&self, from_host: usize, to_host: usize) {
        let n = self.host_zone.len();
        assert!(
            from_host < n && to_host < n,
            "host out of range 0..{n}: {from_host} -> {to_host}"
        );
    }
}

#[cfg(test)]
mod tests;
