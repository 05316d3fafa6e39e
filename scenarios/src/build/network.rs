//! Checks the network (latencies, loss, link overrides, partitions) and builds it.

use models::config::NetworkConfig;
use models::network::{Endpoint, LinkOverride, Partition};
use models::topology::Topology;
use sim_core::SimTime;

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
        let from = topology::endpoint(c, topo, &format!("{field}.from"), &l.from);
        let to = topology::endpoint(c, topo, &format!("{field}.to"), &l.to);
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
        let mut side = |name: &str, places: &[spec::Place]| -> Vec<Endpoint> {
            places
                .iter()
                .enumerate()
                .filter_map(|(k, pl)| {
                    topology::endpoint(c, topo, &format!("{field}.{name}[{k}]"), pl)
                })
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

/// The network module checks probabilities, ranges and overlapping sides.
fn validate(c: &mut Checker, topo: &Topology, network: &NetworkConfig) {
    let host_zone: Vec<usize> = topo.hosts.iter().map(|h| h.zone).collect();
    let zone_region: Vec<usize> = topo.zones.iter().map(|z| z.region).collect();
    let mut lc = models::network::LatencyConfig::new(
        network.latency.clone(),
        network.latency.clone(),
        network.latency.clone(),
    );
    lc.loss = network.loss;
    lc.links = network.links.clone();
    let mut nc = models::network::NetworkConfig::new(lc);
    nc.partitions = network.partitions.clone();
    if let Err(e) = nc.validate(&host_zone, &zone_region) {
        for line in e.split("; ") {
            c.report(&["network"], "network".into(), line.to_string());
        }
    }
}
