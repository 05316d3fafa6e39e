//! Checks the network (latencies, loss, link overrides, partitions) and builds it.

use models::ConfigError;
use models::config::NetworkConfig;
use models::error::{NetworkField, Side};
use models::network::{LinkOverride, Partition, Place};
use models::topology::Topology;
use sim_core::SimTime;

use super::locate::{locate, locate_item};
use super::{Checker, topology};
use crate::spec;

/// The network between the hosts of `topo`.
pub(super) fn network(c: &mut Checker, topo: &Topology, n: &spec::Network) -> NetworkConfig {
    let latency = c.dist(
        &["network", "latency"],
        "network.latency".into(),
        &n.latency,
    );
    let cross_zone = n
        .cross_zone
        .as_ref()
        .map(|d| c.dist(&["network", "cross_zone"], "network.cross_zone".into(), d));
    let cross_region = n.cross_region.as_ref().map(|d| {
        c.dist(
            &["network", "cross_region"],
            "network.cross_region".into(),
            d,
        )
    });
    let before_network = c.diagnostics.len();
    let links = links(c, topo, &n.links);
    let partitions = partitions(c, topo, &n.partitions);
    let network = NetworkConfig {
        latency,
        cross_zone,
        cross_region,
        loss: n.loss,
        links,
        partitions,
    };
    if c.diagnostics.len() > before_network {
        // Places that do not exist were reported; their consequences would repeat them.
    } else {
        validate(c, topo, &network);
    }
    network
}

/// The link overrides between places that exist.
fn links(c: &mut Checker, topo: &Topology, specs: &[spec::Link]) -> Vec<LinkOverride> {
    let mut links = Vec::new();
    for (i, l) in specs.iter().enumerate() {
        let field = format!("network.links[{i}]");
        let from = topology::place(c, topo, &format!("{field}.from"), &l.from);
        let to = topology::place(c, topo, &format!("{field}.to"), &l.to);
        let latency = c.dist(
            &["links", "latency"],
            format!("{field}.latency"),
            &l.latency,
        );
        if let (Some(from), Some(to)) = (from, to) {
            links.push(LinkOverride {
                from,
                to,
                latency,
                loss: l.loss,
                symmetric: l.symmetric,
            });
        }
    }
    links
}

fn partitions(c: &mut Checker, topo: &Topology, specs: &[spec::Partition]) -> Vec<Partition> {
    let mut partitions = Vec::new();
    for (i, p) in specs.iter().enumerate() {
        let field = format!("network.partitions[{i}]");
        let mut side = |name: &str, places: &[spec::Place]| -> Vec<Place> {
            places
                .iter()
                .enumerate()
                .filter_map(|(k, pl)| topology::place(c, topo, &format!("{field}.{name}[{k}]"), pl))
                .collect()
        };
        let side_a = side("a", &p.a);
        let side_b = side("b", &p.b);
        partitions.push(Partition {
            from: SimTime::ZERO + p.from.0,
            to: p.to.map(|t| SimTime::ZERO + t.0),
            side_a,
            side_b,
            direction: match p.direction {
                spec::Direction::Both => models::network::Direction::Both,
                spec::Direction::AToB => models::network::Direction::AToB,
                spec::Direction::BToA => models::network::Direction::BToA,
            },
            fraction: p.fraction,
            // Which pairs a partial partition cuts depends on the partition, not on the seed.
            seed: i as u64,
            mode: match p.mode {
                spec::CutMode::Drop => models::network::CutMode::Drop,
                spec::CutMode::Refuse => models::network::CutMode::Refuse,
            },
        });
    }
    partitions
}

/// The network module checks probabilities, ranges and overlapping sides; each problem it
/// finds is reported at its place in the file.
fn validate(c: &mut Checker, topo: &Topology, network: &NetworkConfig) {
    let host_zone: Vec<usize> = topo.hosts.iter().map(|h| h.zone).collect();
    let zone_region: Vec<usize> = topo.zones.iter().map(|z| z.region).collect();
    if let Err(problems) = network.validate(&host_zone, &zone_region) {
        for e in problems {
            report(c, topo, &e);
        }
    }
}

/// One of the network module's problems, as a diagnostic at the offending element.
fn report(c: &mut Checker, topo: &Topology, e: &ConfigError) {
    use ConfigError as E;
    let partition = |c: &Checker, p: usize, inner: &[&str]| {
        locate_item(c.source, &["network", "partitions"], p, inner)
    };
    let (position, field, message) = match *e {
        E::NotAProbability { field, .. }
        | E::BadDistribution { field, .. }
        | E::PlaceOutOfRange { field, .. } => {
            let (position, field) = place(c, field);
            (position, field, e.problem())
        }
        E::HealsBeforeStart { partition: p, .. } => (
            partition(c, p, &["to :"]),
            format!("network.partitions[{p}].to"),
            e.problem(),
        ),
        E::EmptySide { partition: p, side } => {
            let name = side_name(side);
            (
                partition(c, p, &[&format!("{name} :")]),
                format!("network.partitions[{p}].{name}"),
                e.problem(),
            )
        }
        // The model numbers hosts; the file names them.
        E::HostOnBothSides { partition: p, host } => (
            partition(c, p, &[]),
            format!("network.partitions[{p}]"),
            format!(
                "host \"{}\" is on both sides (a and b); a host may be on one side only",
                topo.hosts[host].name
            ),
        ),
        _ => (
            locate(c.source, &["network"]),
            "network".into(),
            e.to_string(),
        ),
    };
    c.report_at(position, field, message);
}

/// Where a field of the network is in the file, and its name there.
fn place(c: &Checker, field: NetworkField) -> (Option<(usize, usize)>, String) {
    use NetworkField as N;
    let top = |key: &str| {
        (
            locate(c.source, &["network", key]),
            format!("network.{key}"),
        )
    };
    let link = |link: usize, key: &str| {
        (
            locate_item(
                c.source,
                &["network", "links"],
                link,
                &[&format!("{key} :")],
            ),
            format!("network.links[{link}].{key}"),
        )
    };
    match field {
        N::Latency => top("latency"),
        N::CrossZone => top("cross_zone"),
        N::CrossRegion => top("cross_region"),
        N::Loss => top("loss"),
        N::LinkFrom { link: l } => link(l, "from"),
        N::LinkTo { link: l } => link(l, "to"),
        N::LinkLatency { link: l } => link(l, "latency"),
        N::LinkLoss { link: l } => link(l, "loss"),
        N::PartitionFraction { partition } => (
            locate_item(
                c.source,
                &["network", "partitions"],
                partition,
                &["fraction"],
            ),
            format!("network.partitions[{partition}].fraction"),
        ),
        N::PartitionSide {
            partition,
            side,
            index,
        } => {
            let name = side_name(side);
            (
                locate_item(
                    c.source,
                    &["network", "partitions"],
                    partition,
                    &[&format!("{name} :")],
                ),
                format!("network.partitions[{partition}].{name}[{index}]"),
            )
        }
        _ => (locate(c.source, &["network"]), "network".into()),
    }
}

/// A partition side as the file names it.
fn side_name(side: Side) -> &'static str {
    match side {
        Side::A => "a",
        Side::B => "b",
    }
}
