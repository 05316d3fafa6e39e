//! Where the swarm's scenario runs and what goes wrong there: the topology, replicas and
//! placement, the network, host clocks and the faults.

use std::fmt::Write as _;

use super::{Feature, Gen, Rng, Swarm, dist, ms};

/// Regions of zones of hosts, named `r0`, `z0`, `h0`, ... (or the single default host).
pub(super) struct Topo {
    /// Per region, per zone, its hosts.
    pub(super) regions: Vec<Vec<Vec<String>>>,
    pub(super) explicit: bool,
}

impl Topo {
    pub(super) fn new(swarm: &Swarm) -> Topo {
        if !swarm.on(Feature::Topology) {
            return Topo {
                regions: vec![vec![vec!["host-0".into()]]],
                explicit: false,
            };
        }
        let mut r = Rng::stream(swarm.seed, "topology");
        let mut host = 0;
        let regions = (0..r.range(1, 2))
            .map(|_| {
                (0..r.range(1, 2))
                    .map(|_| {
                        (0..r.range(1, 2))
                            .map(|_| {
                                host += 1;
                                format!("h{}", host - 1)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Topo {
            regions,
            explicit: true,
        }
    }

    pub(super) fn hosts(&self) -> Vec<&str> {
        self.regions
            .iter()
            .flatten()
            .flatten()
            .map(|h| h.as_str())
            .collect()
    }

    pub(super) fn zone_names(&self) -> Vec<String> {
        (0..self.regions.iter().map(Vec::len).sum::<usize>())
            .map(|z| format!("z{z}"))
            .collect()
    }

    pub(super) fn ron(&self) -> String {
        let mut zone = 0;
        let regions: Vec<String> = self
            .regions
            .iter()
            .enumerate()
            .map(|(i, zones)| {
                let zones: Vec<String> = zones
                    .iter()
                    .map(|hosts| {
                        zone += 1;
                        let hosts: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
                        format!("(name: \"z{}\", hosts: [{}])", zone - 1, hosts.join(", "))
                    })
                    .collect();
                format!("(name: \"r{i}\", zones: [{}])", zones.join(", "))
            })
            .collect();
        format!("topology: (regions: [{}]),", regions.join(", "))
    }

    /// Any place: a host, a zone or a region.
    pub(super) fn place(&self, r: &mut Rng) -> String {
        match r.index(3) {
            0 => format!("Host(\"{}\")", r.pick(&self.hosts())),
            1 => format!("Zone(\"{}\")", r.pick(&self.zone_names())),
            _ => format!("Region(\"r{}\")", r.index(self.regions.len())),
        }
    }

    /// Two disjoint non-empty sides, or `None` with a single host.
    pub(super) fn sides(&self, r: &mut Rng) -> Option<(String, String)> {
        let hosts = self.hosts();
        if hosts.len() < 2 {
            return None;
        }
        let zones = self.zone_names();
        Some(match r.index(3) {
            0 if self.regions.len() >= 2 => ("Region(\"r0\")".into(), "Region(\"r1\")".into()),
            1 if zones.len() >= 2 => {
                let a = r.index(zones.len());
                let b = (a + 1 + r.index(zones.len() - 1)) % zones.len();
                (
                    format!("Zone(\"{}\")", zones[a]),
                    format!("Zone(\"{}\")", zones[b]),
                )
            }
            _ => {
                let split = r.range(1, hosts.len() as u64 - 1) as usize;
                let side = |hs: &[&str]| {
                    hs.iter()
                        .map(|h| format!("Host(\"{h}\")"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                (side(&hosts[..split]), side(&hosts[split..]))
            }
        })
    }
}

impl Gen<'_> {
    /// Replicas, placement, load balancing and health checks.
    pub(super) fn replicas(&self, r: &mut Rng, replicas: u64, out: &mut String) {
        if replicas > 1 {
            let _ = write!(out, "replicas: {replicas}, ");
            let lb = r.pick(&["RoundRobin", "Random", "LeastRequest", "PowerOfTwoChoices"]);
            let _ = write!(out, "lb: {lb}, ");
        }
        if self.on(Feature::Placement) && self.topo.explicit && r.percent(70) {
            let _ = write!(out, "placement: {}, ", self.placement(r, replicas));
        }
        if self.on(Feature::Health) && r.percent(70) {
            let health = match r.index(3) {
                0 => "Perfect".to_string(),
                1 => "Unchecked".to_string(),
                _ => format!(
                    "Active(interval: {}, timeout: {}, unhealthy_threshold: {}, \
                     healthy_threshold: {})",
                    ms(r.range(50, 2000)),
                    ms(r.range(1, 500)),
                    r.range(1, 4),
                    r.range(1, 3)
                ),
            };
            let _ = write!(out, "health: {health}, ");
        }
    }

    pub(super) fn placement(&self, r: &mut Rng, replicas: u64) -> String {
        if r.percent(30) {
            let hosts = self.topo.hosts();
            let named: Vec<String> = (0..replicas)
                .map(|_| format!("\"{}\"", r.pick(&hosts)))
                .collect();
            return format!("Hosts([{}])", named.join(", "));
        }
        let zones = self.topo.zone_names();
        // (across, within, units in scope)
        let (across, within, units) = match r.index(5) {
            0 => ("Hosts", None, self.topo.hosts().len()),
            1 => ("Zones", None, zones.len()),
            2 => ("Regions", None, self.topo.regions.len()),
            3 => {
                let region = r.index(self.topo.regions.len());
                let zones_in = &self.topo.regions[region];
                if r.percent(50) {
                    (
                        "Zones",
                        Some(format!("Region(\"r{region}\")")),
                        zones_in.len(),
                    )
                } else {
                    let hosts = zones_in.iter().map(Vec::len).sum();
                    ("Hosts", Some(format!("Region(\"r{region}\")")), hosts)
                }
            }
            _ => {
                let zone = r.index(zones.len());
                let hosts = self
                    .topo
                    .regions
                    .iter()
                    .flatten()
                    .nth(zone)
                    .map_or(0, Vec::len);
                ("Hosts", Some(format!("Zone(\"z{zone}\")")), hosts)
            }
        };
        let strict = replicas as usize <= units && r.percent(50);
        let mut s = format!("Spread(across: {across}");
        if let Some(w) = within {
            let _ = write!(s, ", within: {w}");
        }
        if strict {
            s.push_str(", strict: true");
        }
        s.push(')');
        s
    }

    /// A window `[from, to)` inside (or just past) the run.
    pub(super) fn window(&self, r: &mut Rng) -> (String, String) {
        let end = self.duration_s * 1000;
        let from = r.range(0, end - 1);
        let to = from + r.range(1, end);
        (ms(from), ms(to))
    }

    pub(super) fn target(&self, r: &mut Rng) -> String {
        let s = r.index(self.services.len());
        match r.index(if self.topo.explicit { 5 } else { 3 }) {
            0 => format!(
                "Replica(service: \"s{s}\", index: {})",
                r.range(0, self.services[s].replicas - 1)
            ),
            1 | 2 => format!("Service(\"s{s}\")"),
            3 => format!("Host(\"{}\")", r.pick(&self.topo.hosts())),
            _ => self.topo.place(r),
        }
    }

    pub(super) fn cold_start(r: &mut Rng) -> String {
        if r.percent(50) {
            format!(
                ", cold_start: (duration: {}, multiply: {})",
                ms(r.range(1, 5000)),
                r.real(0.0, 5.0)
            )
        } else {
            String::new()
        }
    }

    pub(super) fn fault(&self, k: usize) -> String {
        let mut r = Rng::stream(self.swarm.seed, &format!("fault/{k}"));
        let s = r.index(self.services.len());
        let (from, to) = self.window(&mut r);
        match r.index(if self.topo.explicit { 8 } else { 7 }) {
            0 => {
                let mut f = format!("Latency(service: \"s{s}\", from: {from}, to: {to}");
                if r.percent(60) {
                    let _ = write!(f, ", multiply: {}", r.real(0.0, 20.0));
                }
                if r.percent(50) {
                    let _ = write!(f, ", add: {}", ms(r.range(0, 200)));
                }
                if self.services[s].endpoints.len() > 1 && r.percent(50) {
                    let _ = write!(f, ", endpoint: \"{}\"", r.pick(&self.services[s].endpoints));
                }
                f + ")"
            }
            1 => format!(
                "Errors(service: \"s{s}\", rate: {}, from: {from}, to: {to})",
                r.real(0.0, 1.0)
            ),
            2 => format!("BlackHole(service: \"s{s}\", from: {from}, to: {to})"),
            3 => {
                let mut f = format!("Crash(target: {}, at: {from}", self.target(&mut r));
                if r.percent(70) {
                    let _ = write!(f, ", restart_after: {}", ms(r.range(0, 10_000)));
                }
                f + &Self::cold_start(&mut r) + ")"
            }
            4 => format!(
                "Chaos(target: {}, mttf: {}, mttr: {}{})",
                self.target(&mut r),
                dist(&mut r, 500_000, 10_000_000),
                dist(&mut r, 10_000, 3_000_000),
                Self::cold_start(&mut r)
            ),
            5 => {
                let mut f = format!(
                    "Leak(service: \"s{s}\", growth_per_hour: {}, restart_after: {}",
                    r.real(0.0, 5000.0),
                    ms(r.range(0, 5000))
                );
                if r.percent(70) {
                    let _ = write!(f, ", crash_above: {}", r.real(1.01, 4.0));
                }
                f + ")"
            }
            6 => format!(
                "LoadSpike(client: \"c{}\", multiply: {}, from: {from}, to: {to})",
                r.index(self.swarm.clients),
                r.real(0.1, 5.0)
            ),
            _ => format!(
                "LinkLatency(a: [{}], b: [{}], one_way: {}, multiply: {}, add: {}, from: {from}, \
                 to: {to})",
                self.topo.place(&mut r),
                self.topo.place(&mut r),
                r.percent(50),
                r.real(0.0, 10.0),
                ms(r.range(0, 100))
            ),
        }
    }

    pub(super) fn network(&self) -> String {
        let mut r = Rng::stream(self.swarm.seed, "network");
        let mut n = format!("network: (latency: {}", dist(&mut r, 0, 2000));
        if self.on(Feature::NetworkExtras) {
            if r.percent(50) {
                let _ = write!(n, ", loss: {}", r.real(0.0, 0.05));
            }
            if self.topo.explicit {
                let _ = write!(n, ", cross_zone: {}", dist(&mut r, 100, 5000));
                if r.percent(50) {
                    let _ = write!(n, ", cross_region: {}", dist(&mut r, 1000, 50_000));
                }
                let links: Vec<String> = (0..r.range(0, 2))
                    .map(|_| {
                        let mut l = format!(
                            "(from: {}, to: {}, latency: {}, symmetric: {}",
                            self.topo.place(&mut r),
                            self.topo.place(&mut r),
                            dist(&mut r, 0, 10_000),
                            r.percent(50)
                        );
                        if r.percent(50) {
                            let _ = write!(l, ", loss: {}", r.real(0.0, 0.2));
                        }
                        l + ")"
                    })
                    .collect();
                let _ = write!(n, ", links: [{}]", links.join(", "));
            }
        }
        if self.on(Feature::Partitions) {
            let mut partitions = Vec::new();
            for _ in 0..r.range(1, 2) {
                let Some((a, b)) = self.topo.sides(&mut r) else {
                    break;
                };
                let (from, to) = self.window(&mut r);
                let mut p = format!("(from: {from}, a: [{a}], b: [{b}]");
                if r.percent(70) {
                    let _ = write!(p, ", to: {to}");
                }
                let direction = r.pick(&["Both", "AToB", "BToA"]);
                let mode = r.pick(&["Drop", "Refuse"]);
                let _ = write!(p, ", direction: {direction}, mode: {mode}");
                if r.percent(50) {
                    let _ = write!(p, ", fraction: {}", r.real(0.0, 1.0));
                }
                partitions.push(p + ")");
            }
            let _ = write!(n, ", partitions: [{}]", partitions.join(", "));
        }
        n + "),"
    }

    pub(super) fn clocks(&self) -> String {
        let mut r = Rng::stream(self.swarm.seed, "clocks");
        let hosts: Vec<&str> = self.topo.hosts();
        let hosts: Vec<&str> = hosts.into_iter().filter(|_| r.percent(50)).collect();
        let clocks: Vec<String> = hosts
            .iter()
            .map(|h| {
                let sign = if r.percent(50) { "-" } else { "" };
                let mut at = 0;
                let jumps: Vec<String> = (0..r.range(0, 2))
                    .map(|_| {
                        at += r.range(1, 10_000);
                        let sign = if r.percent(50) { "-" } else { "" };
                        format!("(at: {}, by: \"{sign}{}ms\")", ms(at), r.range(0, 3000))
                    })
                    .collect();
                format!(
                    "(host: \"{h}\", offset: \"{sign}{}ms\", drift_ppm: {}, jumps: [{}])",
                    r.range(0, 5000),
                    r.range(0, 2000) as i64 - 1000,
                    jumps.join(", ")
                )
            })
            .collect();
        format!("clocks: [{}],", clocks.join(", "))
    }
}
