//! Checks the topology (regions, zones, hosts) and builds it, and resolves what names places in
//! it: a service's replica placement, a network place (a link end, a partition side).

use models::topology::{Placement, SpreadLevel, Topology, Within};

use super::Checker;
use super::locate::quoted;
use crate::spec;

/// The topology a scenario describes, or a single host.
pub(super) fn topology(c: &mut Checker, spec: Option<&spec::Topology>) -> Topology {
    use models::topology::{Host, Region, Zone};
    let Some(spec) = spec else {
        return Topology::single_host();
    };
    let mut t = Topology {
        regions: Vec::new(),
        zones: Vec::new(),
        hosts: Vec::new(),
    };
    for r in &spec.regions {
        t.regions.push(Region {
            name: r.name.clone(),
        });
        for z in &r.zones {
            t.zones.push(Zone {
                name: z.name.clone(),
                region: t.regions.len() - 1,
            });
            for h in &z.hosts {
                t.hosts.push(Host {
                    name: h.clone(),
                    zone: t.zones.len() - 1,
                });
            }
        }
    }
    if let Err(problems) = t.validate() {
        for e in problems {
            c.report(&["topology"], "topology".into(), e.to_string());
        }
        return Topology::single_host();
    }
    t
}

/// The hosts of a service's replicas; `q` anchors the service's definition.
pub(super) fn placement(
    c: &mut Checker,
    topo: &Topology,
    q: &str,
    field: &str,
    s: &spec::Service,
) -> Vec<usize> {
    if s.replicas == 0 {
        c.report(
            &[q, "replicas"],
            field.to_string(),
            "replicas must be at least 1".into(),
        );
        return vec![0];
    }
    let placement = match &s.placement {
        Some(spec::Placement::Hosts(hosts)) => {
            if hosts.len() != s.replicas as usize {
                c.report(
                    &[q, "placement"],
                    field.to_string(),
                    format!(
                        "{} hosts for {} replicas; name one host per replica",
                        hosts.len(),
                        s.replicas
                    ),
                );
            }
            Placement::Explicit(hosts.clone())
        }
        Some(spec::Placement::Spread {
            across,
            within: place,
            strict,
        }) => Placement::Spread {
            replicas: s.replicas,
            across: match across {
                spec::SpreadLevel::Hosts => SpreadLevel::Hosts,
                spec::SpreadLevel::Zones => SpreadLevel::Zones,
                spec::SpreadLevel::Regions => SpreadLevel::Regions,
            },
            within: place.as_ref().and_then(|p| within(c, q, field, p)),
            strict: *strict,
        },
        None => Placement::Spread {
            replicas: s.replicas,
            across: if topo.zones.len() > 1 {
                SpreadLevel::Zones
            } else {
                SpreadLevel::Hosts
            },
            within: None,
            strict: false,
        },
    };
    match topo.place(&placement) {
        Ok(hosts) => hosts,
        Err(e) => {
            c.report(&[q, "placement"], field.to_string(), e.to_string());
            vec![0; s.replicas as usize]
        }
    }
}

/// Where a spread placement stays: a zone or a region, not a host.
fn within(c: &mut Checker, q: &str, field: &str, place: &spec::Place) -> Option<Within> {
    match place {
        spec::Place::Zone(z) => Some(Within::Zone(z.clone())),
        spec::Place::Region(r) => Some(Within::Region(r.clone())),
        spec::Place::Host(h) => {
            c.report(
                &[q, "within"],
                field.to_string(),
                format!("cannot spread within host \"{h}\"; expected Zone(..) or Region(..)"),
            );
            None
        }
    }
}

/// A named place of the topology as a network place.
pub(super) fn place(
    c: &mut Checker,
    topo: &Topology,
    field: &str,
    place: &spec::Place,
) -> Option<models::network::Place> {
    use models::network::Place;
    let (found, name) = match place {
        spec::Place::Host(n) => (topo.host_index(n).map(Place::Host), n),
        spec::Place::Zone(n) => (topo.zone_index(n).map(Place::Zone), n),
        spec::Place::Region(n) => (topo.region_index(n).map(Place::Region), n),
    };
    found
        .map_err(|e| c.report(&[&quoted(name)], field.to_string(), e.to_string()))
        .ok()
}
