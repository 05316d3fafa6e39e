//! What can be wrong in a model configuration (network, topology, placement, clocks): one
//! [`ConfigError`] per problem, saying what is wrong and where in the configuration it is.
//!
//! The validators return every problem they find, so a caller (the scenario loader) can place
//! each one at its own spot in the file instead of splitting one message apart.

use std::fmt;

use sim_core::{Distribution, SimTime};

use crate::network::Place;
use crate::topology::{SpreadLevel, Within};

/// A problem in a model configuration.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A probability outside `[0, 1]`, or NaN.
    NotAProbability { field: NetworkField, value: f64 },
    /// A latency distribution whose parameters are not finite, or negative.
    BadDistribution {
        field: NetworkField,
        distribution: Distribution,
    },
    /// A link's or a partition side's place beyond the topology, which has `count` of its
    /// kind.
    PlaceOutOfRange {
        field: NetworkField,
        place: Place,
        count: usize,
    },
    /// A host of the network's topology in a zone beyond its `zones` zones.
    HostZoneOutOfRange {
        host: usize,
        zone: usize,
        zones: usize,
    },
    /// A partition that heals at or before its start.
    HealsBeforeStart {
        partition: usize,
        from: SimTime,
        to: SimTime,
    },
    /// A partition side that names no place.
    EmptySide { partition: usize, side: Side },
    /// A host that is on both sides of a partition.
    HostOnBothSides { partition: usize, host: usize },
    /// A topology without hosts.
    NoHosts,
    /// Two regions, zones or hosts with one name.
    DuplicateName { kind: PlaceKind, name: String },
    /// A zone whose region index is beyond the `regions` regions.
    ZoneInMissingRegion {
        zone: String,
        region: usize,
        regions: usize,
    },
    /// A host whose zone index is beyond the `zones` zones.
    HostInMissingZone {
        host: String,
        zone: usize,
        zones: usize,
    },
    /// A region without zones.
    RegionWithoutZones { region: String },
    /// A zone without hosts.
    ZoneWithoutHosts { zone: String },
    /// A name that is not in the topology; `known` lists the names of its kind.
    UnknownPlace {
        kind: PlaceKind,
        name: String,
        known: Vec<String>,
    },
    /// An explicit placement that lists no host.
    EmptyPlacement,
    /// A spread placement of zero replicas.
    NoReplicas,
    /// A spread across a level within one unit of that level or a coarser one (across zones
    /// within a zone): it would place everything on one unit.
    SpreadWithinOneUnit { across: SpreadLevel, within: Within },
    /// A strict spread of more replicas than there are units to take one each.
    TooFewUnits {
        replicas: u32,
        across: SpreadLevel,
        units: usize,
        within: Option<Within>,
    },
    /// A clock drift that would stop the clock or run it backwards.
    DriftOutOfRange { drift_ppm: i64 },
    /// A clock jump at or before the previous one (`jump - 1`).
    JumpsOutOfOrder {
        jump: usize,
        at: SimTime,
        previous: SimTime,
    },
}

/// Where in a network configuration a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkField {
    /// The latency within a zone.
    Latency,
    CrossZone,
    CrossRegion,
    /// The global loss probability.
    Loss,
    LinkFrom {
        link: usize,
    },
    LinkTo {
        link: usize,
    },
    LinkLatency {
        link: usize,
    },
    LinkLoss {
        link: usize,
    },
    PartitionFraction {
        partition: usize,
    },
    /// The `index`-th place of a partition side.
    PartitionSide {
        partition: usize,
        side: Side,
        index: usize,
    },
}

/// A side of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// What a name in the topology names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceKind {
    Region,
    Zone,
    Host,
}

impl ConfigError {
    /// What is wrong, without where: the message for a reader who is shown the place
    /// separately (the [`Display`](fmt::Display) form starts with the place when it has one).
    pub fn problem(&self) -> String {
        use ConfigError as E;
        match self {
            E::NotAProbability { value, .. } => {
                format!("must be a probability in [0, 1], got {value}")
            }
            E::BadDistribution { distribution, .. } => distribution_problem(distribution),
            E::PlaceOutOfRange { place, count, .. } => {
                let (kind, index) = match *place {
                    Place::Host(h) => ("host", h),
                    Place::Zone(z) => ("zone", z),
                    Place::Region(r) => ("region", r),
                };
                format!("{kind} {index} out of range 0..{count} ({count} {kind}s)")
            }
            E::HostZoneOutOfRange { zone, zones, .. } => {
                format!("zone {zone} out of range 0..{zones}")
            }
            E::HealsBeforeStart { from, to, .. } => {
                format!("the heal time must be after the start {from}, got {to}")
            }
            E::EmptySide { .. } => "must name at least one host, zone or region".into(),
            E::HostOnBothSides { host, .. } => {
                format!("host {host} is on both side_a and side_b; a host may be on one side only")
            }
            E::JumpsOutOfOrder { jump, at, previous } => format!(
                "must be after jumps[{}].at = {} (sorted, strictly increasing), got {}",
                jump - 1,
                previous.as_nanos(),
                at.as_nanos()
            ),
            E::DriftOutOfRange { drift_ppm } => {
                format!("must be in -999999..=999999, got {drift_ppm}")
            }
            _ => self.topology_problem(),
        }
    }

    /// The topology's and the placements' problems, which have no field to name.
    fn topology_problem(&self) -> String {
        use ConfigError as E;
        match self {
            E::NoHosts => "a topology needs at least one host".into(),
            E::DuplicateName { kind, name } => {
                format!("{kind} name '{name}' is used more than once")
            }
            E::ZoneInMissingRegion {
                zone,
                region,
                regions,
            } => format!("zone '{zone}' is in region {region} but there are {regions} regions"),
            E::HostInMissingZone { host, zone, zones } => {
                format!("host '{host}' is in zone {zone} but there are {zones} zones")
            }
            E::RegionWithoutZones { region } => format!("region '{region}' has no zones"),
            E::ZoneWithoutHosts { zone } => format!("zone '{zone}' has no hosts"),
            E::UnknownPlace { kind, name, known } => {
                format!(
                    "unknown {kind} '{name}'; known {kind}s: {}",
                    known.join(", ")
                )
            }
            E::EmptyPlacement => "an explicit placement needs at least one host".into(),
            E::NoReplicas => "a placement needs at least one replica".into(),
            E::SpreadWithinOneUnit { across, within } => spread_within(*across, within),
            E::TooFewUnits {
                replicas,
                across,
                units,
                within,
            } => format!(
                "{replicas} replicas at most one per {} need {replicas} {}, but there {} {units}{}",
                level_singular(*across),
                level_name(*across),
                if *units == 1 { "is" } else { "are" },
                scope_text(within.as_ref()),
            ),
            _ => unreachable!("problem() answers the other errors"),
        }
    }

    /// The field the problem is in, as the configuration names it, when it has one.
    fn field(&self) -> Option<String> {
        use ConfigError as E;
        match self {
            E::NotAProbability { field, .. }
            | E::BadDistribution { field, .. }
            | E::PlaceOutOfRange { field, .. } => Some(field.to_string()),
            E::HostZoneOutOfRange { host, .. } => Some(format!("host_zone[{host}]")),
            E::HealsBeforeStart { partition, .. } => Some(format!("partitions[{partition}].to")),
            E::EmptySide { partition, side } => Some(format!("partitions[{partition}].{side}")),
            E::HostOnBothSides { partition, .. } => Some(format!("partitions[{partition}]")),
            E::DriftOutOfRange { .. } => Some("drift_ppm".into()),
            E::JumpsOutOfOrder { jump, .. } => Some(format!("jumps[{jump}].at")),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field() {
            Some(field) => write!(f, "{field}: {}", self.problem()),
            None => f.write_str(&self.problem()),
        }
    }
}

impl std::error::Error for ConfigError {}

impl fmt::Display for NetworkField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use NetworkField as N;
        match self {
            N::Latency => f.write_str("latency"),
            N::CrossZone => f.write_str("cross_zone"),
            N::CrossRegion => f.write_str("cross_region"),
            N::Loss => f.write_str("loss"),
            N::LinkFrom { link } => write!(f, "links[{link}].from"),
            N::LinkTo { link } => write!(f, "links[{link}].to"),
            N::LinkLatency { link } => write!(f, "links[{link}].latency"),
            N::LinkLoss { link } => write!(f, "links[{link}].loss"),
            N::PartitionFraction { partition } => write!(f, "partitions[{partition}].fraction"),
            N::PartitionSide {
                partition,
                side,
                index,
            } => write!(f, "partitions[{partition}].{side}[{index}]"),
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::A => "side_a",
            Side::B => "side_b",
        })
    }
}

impl fmt::Display for PlaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlaceKind::Region => "region",
            PlaceKind::Zone => "zone",
            PlaceKind::Host => "host",
        })
    }
}

fn distribution_problem(distribution: &Distribution) -> String {
    match *distribution {
        Distribution::Constant(_) => "a constant is always valid".into(),
        Distribution::Exponential { mean_ns } => {
            format!("exponential mean_ns must be finite and > 0, got {mean_ns}")
        }
        Distribution::LogNormal { mu, sigma } => format!(
            "lognormal mu must be finite and sigma finite and >= 0, got mu {mu}, sigma {sigma}"
        ),
        Distribution::FoldedNormal { mean_ns, sd_ns } => format!(
            "folded normal mean_ns must be finite and sd_ns finite and >= 0, got mean_ns {mean_ns}, \
             sd_ns {sd_ns}"
        ),
    }
}

fn spread_within(across: SpreadLevel, within: &Within) -> String {
    match within {
        Within::Region(name) => format!(
            "spreading across regions within region '{name}' is one region; \
             spread across zones or hosts instead"
        ),
        Within::Zone(name) => format!(
            "spreading across {} within zone '{name}' is one zone; spread across hosts instead",
            level_name(across)
        ),
    }
}

pub(crate) fn level_name(level: SpreadLevel) -> &'static str {
    match level {
        SpreadLevel::Hosts => "hosts",
        SpreadLevel::Zones => "zones",
        SpreadLevel::Regions => "regions",
    }
}

fn level_singular(level: SpreadLevel) -> &'static str {
    match level {
        SpreadLevel::Hosts => "host",
        SpreadLevel::Zones => "zone",
        SpreadLevel::Regions => "region",
    }
}

fn scope_text(within: Option<&Within>) -> String {
    match within {
        None => String::new(),
        Some(Within::Region(name)) => format!(" in region '{name}'"),
        Some(Within::Zone(name)) => format!(" in zone '{name}'"),
    }
}
