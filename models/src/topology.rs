//! Where things run: regions contain zones, zones contain hosts, and a service's replicas are
//! placed on hosts by an explicit list or a deterministic spread rule.
//!
//! Everything is a `Vec` indexed by dense ids (a region, zone or host is its index in the
//! topology's list), and every order is the order of those lists, so a placement depends only
//! on the description, never on hashing or creation order.
//!
//! ```text
//!   region r0 ──┬── zone r0z0 ──┬── host r0z0h0
//!               │               └── host r0z0h1
//!               └── zone r0z1 ──── host r0z1h0
//!   region r1 ───── zone r1z0 ──── host r1z0h0
//! ```

use crate::error::{ConfigError, PlaceKind};

/// A region: a set of zones far enough apart to fail independently of each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub name: String,
}

/// An availability zone, inside the region with index `region`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub region: usize,
}

/// A host (machine), inside the zone with index `zone`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub zone: usize,
}

/// Regions > zones > hosts. A valid topology (see [`Topology::validate`]) has unique names at
/// each level, parents that exist, and no empty region or zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    pub regions: Vec<Region>,
    pub zones: Vec<Zone>,
    pub hosts: Vec<Host>,
}

/// How far apart two hosts are, from nearest to farthest (the order of the variants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Locality {
    SameHost,
    SameZone,
    CrossZone,
    CrossRegion,
}

/// The level a [`Placement::Spread`] spreads replicas over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpreadLevel {
    Hosts,
    Zones,
    Regions,
}

/// The part of the topology a [`Placement::Spread`] is confined to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Within {
    Region(String),
    Zone(String),
}

/// Where a service's replicas run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// One replica per listed host name, in the order given; a name may repeat (co-located
    /// replicas).
    Explicit(Vec<String>),
    /// `replicas` replicas spread round-robin over the hosts, zones or regions (optionally only
    /// those `within` one region or zone); see [`Topology::place`] for the exact order.
    Spread {
        replicas: u32,
        across: SpreadLevel,
        within: Option<Within>,
        /// At most one replica per unit of `across` (host, zone or region): placing more
        /// replicas than there are units is an error instead of wrapping around.
        strict: bool,
    },
}

impl Topology {
    /// The name of the region, zone and host of [`Topology::single_host`].
    pub const SINGLE_HOST_REGION: &'static str = "region-0";
    pub const SINGLE_HOST_ZONE: &'static str = "zone-0";
    pub const SINGLE_HOST_HOST: &'static str = "host-0";

    /// The topology of a scenario that does not describe one: one region `region-0` holding one
    /// zone `zone-0` holding one host `host-0`. Every replica placed on it shares that host, so
    /// every pair of replicas is [`Locality::SameHost`].
    pub fn single_host() -> Topology {
        Topology {
            regions: vec![Region {
                name: Self::SINGLE_HOST_REGION.to_string(),
            }],
            zones: vec![Zone {
                name: Self::SINGLE_HOST_ZONE.to_string(),
                region: 0,
            }],
            hosts: vec![Host {
                name: Self::SINGLE_HOST_HOST.to_string(),
                zone: 0,
            }],
        }
    }

    /// A regular topology with generated names: `regions` regions `r0, r1, ...`, each with
    /// `zones_per_region` zones `r0z0, r0z1, ...`, each with `hosts_per_zone` hosts
    /// `r0z0h0, r0z0h1, ...`, listed region by region, zone by zone.
    pub fn uniform(regions: usize, zones_per_region: usize, hosts_per_zone: usize) -> Topology {
        assert!(
            regions > 0 && zones_per_region > 0 && hosts_per_zone > 0,
            "a uniform topology needs at least one region, zone and host"
        );
        let mut topology = Topology {
            regions: Vec::with_capacity(regions),
            zones: Vec::with_capacity(regions * zones_per_region),
            hosts: Vec::with_capacity(regions * zones_per_region * hosts_per_zone),
        };
        for r in 0..regions {
            topology.regions.push(Region {
                name: format!("r{r}"),
            });
            for z in 0..zones_per_region {
                let zone = topology.zones.len();
                topology.zones.push(Zone {
                    name: format!("r{r}z{z}"),
                    region: r,
                });
                for h in 0..hosts_per_zone {
                    topology.hosts.push(Host {
                        name: format!("r{r}z{z}h{h}"),
                        zone,
                    });
                }
            }
        }
        debug_assert!(topology.validate().is_ok());
        topology
    }

    /// Checks the invariants the lookups and [`Topology::place`] rely on; returns every
    /// problem found.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Vec::new();
        if self.hosts.is_empty() {
            problems.push(ConfigError::NoHosts);
        }
        duplicate_names(
            PlaceKind::Region,
            self.regions.iter().map(|r| &r.name),
            &mut problems,
        );
        duplicate_names(
            PlaceKind::Zone,
            self.zones.iter().map(|z| &z.name),
            &mut problems,
        );
        duplicate_names(
            PlaceKind::Host,
            self.hosts.iter().map(|h| &h.name),
            &mut problems,
        );
        for zone in &self.zones {
            if zone.region >= self.regions.len() {
                problems.push(ConfigError::ZoneInMissingRegion {
                    zone: zone.name.clone(),
                    region: zone.region,
                    regions: self.regions.len(),
                });
            }
        }
        for host in &self.hosts {
            if host.zone >= self.zones.len() {
                problems.push(ConfigError::HostInMissingZone {
                    host: host.name.clone(),
                    zone: host.zone,
                    zones: self.zones.len(),
                });
            }
        }
        for (r, region) in self.regions.iter().enumerate() {
            if !self.zones.iter().any(|z| z.region == r) {
                problems.push(ConfigError::RegionWithoutZones {
                    region: region.name.clone(),
                });
            }
        }
        for (z, zone) in self.zones.iter().enumerate() {
            if !self.hosts.iter().any(|h| h.zone == z) {
                problems.push(ConfigError::ZoneWithoutHosts {
                    zone: zone.name.clone(),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The index of the region named `name`; the error lists the known regions.
    pub fn region_index(&self, name: &str) -> Result<usize, ConfigError> {
        lookup(
            PlaceKind::Region,
            name,
            self.regions.iter().map(|r| r.name.as_str()),
        )
    }

    /// The index of the zone named `name`; the error lists the known zones.
    pub fn zone_index(&self, name: &str) -> Result<usize, ConfigError> {
        lookup(
            PlaceKind::Zone,
            name,
            self.zones.iter().map(|z| z.name.as_str()),
        )
    }

    /// The index of the host named `name`; the error lists the known hosts.
    pub fn host_index(&self, name: &str) -> Result<usize, ConfigError> {
        lookup(
            PlaceKind::Host,
            name,
            self.hosts.iter().map(|h| h.name.as_str()),
        )
    }

    /// The zone of `host`.
    pub fn zone_of(&self, host: usize) -> usize {
        self.hosts[host].zone
    }

    /// The region of `host`.
    pub fn region_of(&self, host: usize) -> usize {
        self.zones[self.hosts[host].zone].region
    }

    /// How far apart hosts `a` and `b` are: the same host, another host in the same zone,
    /// another zone of the same region, or another region.
    pub fn locality(&self, a: usize, b: usize) -> Locality {
        if a == b {
            Locality::SameHost
        } else if self.zone_of(a) == self.zone_of(b) {
            Locality::SameZone
        } else if self.region_of(a) == self.region_of(b) {
            Locality::CrossZone
        } else {
            Locality::CrossRegion
        }
    }

    /// The hosts of `zone`, in the order of the host list.
    pub fn hosts_in_zone(&self, zone: usize) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|&h| self.hosts[h].zone == zone)
            .collect()
    }

    /// The zones of `region`, in the order of the zone list.
    pub fn zones_in_region(&self, region: usize) -> Vec<usize> {
        (0..self.zones.len())
            .filter(|&z| self.zones[z].region == region)
            .collect()
    }

    /// The host of each replica, replica 0 first.
    ///
    /// `Explicit` resolves each name. `Spread` is a nested round robin, each level in the
    /// order of the topology's lists:
    /// - across `Hosts`: replica `i` goes to candidate host `i mod H`;
    /// - across `Zones`: replica `i` goes to candidate zone `i mod Z`; the `k`-th replica a zone
    ///   receives goes to its host `k mod H_zone`;
    /// - across `Regions`: replica `i` goes to candidate region `i mod R`; the `k`-th replica a
    ///   region receives goes to its zone `k mod Z_region`, and the `j`-th replica that zone
    ///   receives to its host `j mod H_zone`.
    ///
    /// The candidates are all of them, or those inside `within`. So 5 replicas across the
    /// zones `a, b` (hosts `a0, a1` and `b0`) land on `a0, b0, a1, b0, a0`.
    ///
    /// Errors: zero replicas (or an empty explicit list), unknown names (the error lists the
    /// known ones), a `within` that is not narrower than `across` (spreading across zones
    /// within one zone is a single zone), and with `strict` more replicas than candidate units.
    /// The topology must be valid ([`Topology::validate`]).
    pub fn place(&self, placement: &Placement) -> Result<Vec<usize>, ConfigError> {
        let hosts = match placement {
            Placement::Explicit(names) => {
                if names.is_empty() {
                    return Err(ConfigError::EmptyPlacement);
                }
                names
                    .iter()
                    .map(|name| self.host_index(name))
                    .collect::<Result<Vec<_>, _>>()?
            }
            Placement::Spread {
                replicas,
                across,
                within,
                strict,
            } => self.spread(*replicas, *across, within.as_ref(), *strict)?,
        };
        debug_assert!(hosts.iter().all(|&h| h < self.hosts.len()));
        Ok(hosts)
    }

    fn spread(
        &self,
        replicas: u32,
        across: SpreadLevel,
        within: Option<&Within>,
        strict: bool,
    ) -> Result<Vec<usize>, ConfigError> {
        if replicas == 0 {
            return Err(ConfigError::NoReplicas);
        }
        // Candidate regions and zones, narrowed by `within`.
        let (regions, zones): (Vec<usize>, Vec<usize>) = match within {
            None => (
                (0..self.regions.len()).collect(),
                (0..self.zones.len()).collect(),
            ),
            Some(Within::Region(name)) => {
                let region = self.region_index(name)?;
                if across == SpreadLevel::Regions {
                    return Err(ConfigError::SpreadWithinOneUnit {
                        across,
                        within: Within::Region(name.clone()),
                    });
                }
                (vec![region], self.zones_in_region(region))
            }
            Some(Within::Zone(name)) => {
                let zone = self.zone_index(name)?;
                if across != SpreadLevel::Hosts {
                    return Err(ConfigError::SpreadWithinOneUnit {
                        across,
                        within: Within::Zone(name.clone()),
                    });
                }
                (vec![self.zones[zone].region], vec![zone])
            }
        };
        let candidate_hosts: Vec<usize> = (0..self.hosts.len())
            .filter(|&h| zones.contains(&self.hosts[h].zone))
            .collect();
        let units = match across {
            SpreadLevel::Hosts => candidate_hosts.len(),
            SpreadLevel::Zones => zones.len(),
            SpreadLevel::Regions => regions.len(),
        };
        assert!(units > 0, "a valid topology has no empty region or zone");
        if strict && replicas as usize > units {
            return Err(ConfigError::TooFewUnits {
                replicas,
                across,
                units,
                within: within.cloned(),
            });
        }
        let zone_hosts: Vec<Vec<usize>> = zones.iter().map(|&z| self.hosts_in_zone(z)).collect();
        let mut placed = Vec::with_capacity(replicas as usize);
        match across {
            SpreadLevel::Hosts => {
                for i in 0..replicas as usize {
                    placed.push(candidate_hosts[i % candidate_hosts.len()]);
                }
            }
            SpreadLevel::Zones => {
                for i in 0..replicas as usize {
                    let hosts = &zone_hosts[i % zones.len()];
                    let k = i / zones.len();
                    placed.push(hosts[k % hosts.len()]);
                }
            }
            SpreadLevel::Regions => {
                let region_zones: Vec<Vec<usize>> = regions
                    .iter()
                    .map(|&r| {
                        // Positions in `zones` (and so in `zone_hosts`) of this region's zones.
                        (0..zones.len())
                            .filter(|&p| self.zones[zones[p]].region == r)
                            .collect()
                    })
                    .collect();
                for i in 0..replicas as usize {
                    let in_region = &region_zones[i % regions.len()];
                    let k = i / regions.len();
                    let hosts = &zone_hosts[in_region[k % in_region.len()]];
                    let j = k / in_region.len();
                    placed.push(hosts[j % hosts.len()]);
                }
            }
        }
        assert_eq!(placed.len(), replicas as usize);
        Ok(placed)
    }
}

impl Default for Topology {
    /// [`Topology::single_host`].
    fn default() -> Self {
        Topology::single_host()
    }
}

fn lookup<'a>(
    kind: PlaceKind,
    name: &str,
    names: impl Iterator<Item = &'a str>,
) -> Result<usize, ConfigError> {
    let names: Vec<&str> = names.collect();
    names
        .iter()
        .position(|&n| n == name)
        .ok_or_else(|| ConfigError::UnknownPlace {
            kind,
            name: name.to_string(),
            known: names.iter().map(|n| n.to_string()).collect(),
        })
}

fn duplicate_names<'a>(
    kind: PlaceKind,
    names: impl Iterator<Item = &'a String>,
    problems: &mut Vec<ConfigError>,
) {
    let mut seen = std::collections::BTreeSet::new();
    let mut reported = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name) && reported.insert(name) {
            problems.push(ConfigError::DuplicateName {
                kind,
                name: name.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Region `eu` with zones `a` (hosts a0, a1) and `b` (host b0); region `us` with zone `c`
    /// (hosts c0, c1, c2).
    fn sample() -> Topology {
        let topology = Topology {
            regions: vec![Region { name: "eu".into() }, Region { name: "us".into() }],
            zones: vec![
                Zone {
                    name: "a".into(),
                    region: 0,
                },
                Zone {
                    name: "b".into(),
                    region: 0,
                },
                Zone {
                    name: "c".into(),
                    region: 1,
                },
            ],
            hosts: ["a0", "a1", "b0", "c0", "c1", "c2"]
                .iter()
                .map(|name| Host {
                    name: name.to_string(),
                    zone: match &name[..1] {
                        "a" => 0,
                        "b" => 1,
                        _ => 2,
                    },
                })
                .collect(),
        };
        topology.validate().unwrap();
        topology
    }

    fn names(topology: &Topology, hosts: &[usize]) -> Vec<String> {
        hosts
            .iter()
            .map(|&h| topology.hosts[h].name.clone())
            .collect()
    }

    fn spread(
        replicas: u32,
        across: SpreadLevel,
        within: Option<Within>,
        strict: bool,
    ) -> Placement {
        Placement::Spread {
            replicas,
            across,
            within,
            strict,
        }
    }

    /// The problems, one per line.
    fn lines(problems: Vec<ConfigError>) -> String {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        lines.join("\n")
    }

    /// Places and returns the host names, or the error text.
    fn check(topology: &Topology, placement: Placement) -> Result<Vec<String>, String> {
        topology
            .place(&placement)
            .map(|hosts| names(topology, &hosts))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn lookups_by_name_and_errors_list_known_names() {
        let t = sample();
        assert_eq!(t.region_index("us"), Ok(1));
        assert_eq!(t.zone_index("b"), Ok(1));
        assert_eq!(t.host_index("c1"), Ok(4));
        assert_eq!(
            t.zone_index("z").map_err(|e| e.to_string()),
            Err("unknown zone 'z'; known zones: a, b, c".to_string())
        );
        assert_eq!(
            t.region_index("ap").map_err(|e| e.to_string()),
            Err("unknown region 'ap'; known regions: eu, us".to_string())
        );
        assert_eq!(
            t.host_index("x").map_err(|e| e.to_string()),
            Err("unknown host 'x'; known hosts: a0, a1, b0, c0, c1, c2".to_string())
        );
    }

    #[test]
    fn locality_orders_hosts_by_distance() {
        let t = sample();
        let h = |name: &str| t.host_index(name).unwrap();
        assert_eq!(t.locality(h("a0"), h("a0")), Locality::SameHost);
        assert_eq!(t.locality(h("a0"), h("a1")), Locality::SameZone);
        assert_eq!(t.locality(h("a1"), h("b0")), Locality::CrossZone);
        assert_eq!(t.locality(h("b0"), h("c2")), Locality::CrossRegion);
        assert_eq!(t.locality(h("c2"), h("b0")), Locality::CrossRegion);
        assert!(Locality::SameHost < Locality::SameZone);
        assert!(Locality::CrossZone < Locality::CrossRegion);
    }

    #[test]
    fn single_host_is_the_default_and_takes_every_replica() {
        let t = Topology::default();
        assert_eq!(t, Topology::single_host());
        assert_eq!(t.validate(), Ok(()));
        assert_eq!(t.host_index(Topology::SINGLE_HOST_HOST), Ok(0));
        for across in [SpreadLevel::Hosts, SpreadLevel::Zones, SpreadLevel::Regions] {
            assert_eq!(t.place(&spread(3, across, None, false)), Ok(vec![0, 0, 0]));
        }
        assert_eq!(t.locality(0, 0), Locality::SameHost);
    }

    #[test]
    fn spread_across_zones_is_round_robin_over_zones_then_hosts() {
        let t = sample();
        assert_eq!(
            check(&t, spread(7, SpreadLevel::Zones, None, false)),
            Ok(vec!["a0", "b0", "c0", "a1", "b0", "c1", "a0"]
                .into_iter()
                .map(String::from)
                .collect())
        );
        assert_eq!(
            check(
                &t,
                spread(
                    5,
                    SpreadLevel::Zones,
                    Some(Within::Region("eu".into())),
                    false
                )
            ),
            Ok(vec!["a0", "b0", "a1", "b0", "a0"]
                .into_iter()
                .map(String::from)
                .collect())
        );
    }

    #[test]
    fn spread_across_hosts_and_regions() {
        let t = sample();
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check(&t, spread(7, SpreadLevel::Hosts, None, false)),
            Ok(owned(&["a0", "a1", "b0", "c0", "c1", "c2", "a0"]))
        );
        assert_eq!(
            check(
                &t,
                spread(4, SpreadLevel::Hosts, Some(Within::Zone("c".into())), true)
            )
            .unwrap_err(),
            "4 replicas at most one per host need 4 hosts, but there are 3 in zone 'c'"
        );
        assert_eq!(
            check(
                &t,
                spread(3, SpreadLevel::Hosts, Some(Within::Zone("c".into())), true)
            ),
            Ok(owned(&["c0", "c1", "c2"]))
        );
        // Regions first, then zones inside a region, then hosts inside a zone.
        assert_eq!(
            check(&t, spread(6, SpreadLevel::Regions, None, false)),
            Ok(owned(&["a0", "c0", "b0", "c1", "a1", "c2"]))
        );
    }

    #[test]
    fn uniform_topology_spreads_evenly_over_regions_and_zones() {
        let t = Topology::uniform(2, 3, 2);
        assert_eq!(t.hosts.len(), 12);
        let hosts = t
            .place(&spread(12, SpreadLevel::Regions, None, false))
            .unwrap();
        let mut seen = hosts.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen.len(),
            12,
            "12 replicas over 12 hosts use each host once"
        );
        let zones = t.place(&spread(6, SpreadLevel::Zones, None, true)).unwrap();
        let mut zone_ids: Vec<usize> = zones.iter().map(|&h| t.zone_of(h)).collect();
        zone_ids.sort_unstable();
        assert_eq!(zone_ids, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn explicit_placement_resolves_names_in_order() {
        let t = sample();
        let placement = Placement::Explicit(vec!["c2".into(), "a0".into(), "c2".into()]);
        assert_eq!(t.place(&placement), Ok(vec![5, 0, 5]));
        let unknown = Placement::Explicit(vec!["a0".into(), "zz".into()]);
        assert_eq!(
            t.place(&unknown).unwrap_err().to_string(),
            "unknown host 'zz'; known hosts: a0, a1, b0, c0, c1, c2"
        );
        assert_eq!(
            t.place(&Placement::Explicit(Vec::new()))
                .unwrap_err()
                .to_string(),
            "an explicit placement needs at least one host"
        );
    }

    #[test]
    fn impossible_spreads_are_errors() {
        let t = sample();
        let cases = [
            (
                spread(0, SpreadLevel::Zones, None, false),
                "a placement needs at least one replica",
            ),
            (
                spread(
                    3,
                    SpreadLevel::Zones,
                    Some(Within::Region("eu".into())),
                    true,
                ),
                "3 replicas at most one per zone need 3 zones, but there are 2 in region 'eu'",
            ),
            (
                spread(3, SpreadLevel::Regions, None, true),
                "3 replicas at most one per region need 3 regions, but there are 2",
            ),
            (
                spread(
                    2,
                    SpreadLevel::Zones,
                    Some(Within::Region("mars".into())),
                    false,
                ),
                "unknown region 'mars'; known regions: eu, us",
            ),
            (
                spread(2, SpreadLevel::Hosts, Some(Within::Zone("q".into())), false),
                "unknown zone 'q'; known zones: a, b, c",
            ),
            (
                spread(2, SpreadLevel::Zones, Some(Within::Zone("a".into())), false),
                "spreading across zones within zone 'a' is one zone; spread across hosts instead",
            ),
            (
                spread(
                    2,
                    SpreadLevel::Regions,
                    Some(Within::Region("eu".into())),
                    false,
                ),
                "spreading across regions within region 'eu' is one region; spread across zones or hosts instead",
            ),
        ];
        for (placement, error) in cases {
            assert_eq!(
                t.place(&placement).map_err(|e| e.to_string()),
                Err(error.to_string()),
                "{placement:?}"
            );
        }
        // The same spreads without `strict` wrap around instead.
        assert!(
            t.place(&spread(3, SpreadLevel::Regions, None, false))
                .is_ok()
        );
    }

    #[test]
    fn validate_reports_every_problem() {
        let mut t = sample();
        t.hosts.push(Host {
            name: "a0".into(),
            zone: 9,
        });
        t.zones.push(Zone {
            name: "empty".into(),
            region: 0,
        });
        t.regions.push(Region {
            name: "lonely".into(),
        });
        assert_eq!(
            lines(t.validate().unwrap_err()),
            "host name 'a0' is used more than once\n\
             host 'a0' is in zone 9 but there are 4 zones\n\
             region 'lonely' has no zones\n\
             zone 'empty' has no hosts"
        );
        let empty = Topology {
            regions: Vec::new(),
            zones: Vec::new(),
            hosts: Vec::new(),
        };
        assert_eq!(
            lines(empty.validate().unwrap_err()),
            "a topology needs at least one host"
        );
    }
}
