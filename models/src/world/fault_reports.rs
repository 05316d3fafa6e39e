//! The faults as the reports see them: a short description, the service each shows at first,
//! and the services and clients each acts on directly (where its damage can start).

use super::faults::{holds, replicas_of};
use super::*;

/// The services (by name, in file order) and clients a fault acts on directly: its service;
/// every service with a replica on a crashed or chaotic target; every service called across a
/// link fault or partition; a load spike's client and the service it calls. The reports blame
/// a fault only for what reaches these through the call graph.
pub(super) struct ActsOn {
    pub(super) services: Vec<String>,
    pub(super) clients: Vec<String>,
}

impl ActsOn {
    fn services(config: &WorldConfig, keep: impl Fn(usize) -> bool) -> Vec<String> {
        (0..config.services.len())
            .filter(|&s| keep(s))
            .map(|s| config.services[s].name.clone())
            .collect()
    }

    fn of_service(config: &WorldConfig, service: ServiceId) -> Self {
        ActsOn {
            services: vec![config.services[service.0 as usize].name.clone()],
            clients: Vec::new(),
        }
    }

    /// The services a cut between places `a` and `b` acts on: those called across it, by a
    /// service or client on one side, with a replica on the other. Their callers see the
    /// damage at them first, as with a fault of the service itself.
    fn across(config: &WorldConfig, a: &[Place], b: &[Place]) -> Self {
        let topology = &config.topology;
        let side = |places: &[Place], hosts: &[usize]| {
            hosts
                .iter()
                .any(|&h| places.iter().any(|p| holds(topology, p, h)))
        };
        let crosses = |from: &[usize], to: &[usize]| {
            (side(a, from) && side(b, to)) || (side(b, from) && side(a, to))
        };
        let called_across = |callee: usize| {
            let to = &config.services[callee].replicas;
            let by_service = config.services.iter().any(|caller| {
                let plans =
                    std::iter::once(&caller.calls).chain(caller.endpoints.iter().map(|e| &e.calls));
                plans.flatten().any(|c| c.to.0 as usize == callee) && crosses(&caller.replicas, to)
            });
            let by_client = config
                .clients
                .iter()
                .any(|c| c.to.0 as usize == callee && crosses(&[c.host], to));
            by_service || by_client
        };
        ActsOn {
            services: Self::services(config, called_across),
            clients: Vec::new(),
        }
    }

    pub(super) fn fault(config: &WorldConfig, fault: &Fault) -> Self {
        match fault {
            Fault::Latency { service, .. }
            | Fault::Errors { service, .. }
            | Fault::BlackHole { service, .. }
            | Fault::Hang { service, .. }
            | Fault::Leak { service, .. } => Self::of_service(config, *service),
            Fault::Crash { target, .. } | Fault::Chaos { target, .. } => {
                let hit = replicas_of(config, target);
                ActsOn {
                    services: Self::services(config, |s| hit.iter().any(|&(h, _)| h as usize == s)),
                    clients: Vec::new(),
                }
            }
            Fault::LinkLatency { a, b, .. } => Self::across(config, a, b),
            Fault::LoadSpike { client, .. } => {
                let c = &config.clients[client.0 as usize];
                ActsOn {
                    services: vec![config.services[c.to.0 as usize].name.clone()],
                    clients: vec![c.name.clone()],
                }
            }
        }
    }

    pub(super) fn partition(config: &WorldConfig, p: &Partition) -> Self {
        Self::across(config, &p.side_a, &p.side_b)
    }
}

/// The service a fault shows at first (for the cascade) and a short description of it.
pub(super) fn describe(config: &WorldConfig, fault: &Fault) -> (String, String) {
    let topology = &config.topology;
    let name = |s: ServiceId| config.services[s.0 as usize].name.clone();
    let target_name = |t: &Target| match *t {
        Target::Replica { service, index } => format!("{} replica {index}", name(service)),
        Target::Service(service) => name(service),
        Target::Host(h) => format!("host {}", topology.hosts[h].name),
        Target::Zone(z) => format!("zone {}", topology.zones[z].name),
        Target::Region(r) => format!("region {}", topology.regions[r].name),
    };
    // The service a fault hits first, for the cascade: the first one it touches.
    let first_service = |t: &Target| -> String {
        replicas_of(config, t)
            .first()
            .map_or_else(String::new, |&(s, _)| {
                config.services[s as usize].name.clone()
            })
    };
    let scaled = |mut d: String, multiply: f64, add: SimDuration| {
        if multiply != 1.0 {
            d.push_str(&format!(" x{multiply}"));
        }
        if add > SimDuration::ZERO {
            d.push_str(&format!(" +{add}"));
        }
        d
    };
    match fault {
        Fault::Latency {
            service,
            endpoint,
            multiply,
            add,
            ..
        } => {
            let svc = &config.services[service.0 as usize];
            let d = match endpoint {
                None => format!("{} latency", name(*service)),
                Some(0) if svc.endpoints.is_empty() => format!("{} latency", name(*service)),
                Some(0) => format!("{}/{} latency", name(*service), svc.endpoint_name),
                Some(e) => format!(
                    "{}/{} latency",
                    name(*service),
                    svc.endpoints[usize::from(*e) - 1].name
                ),
            };
            (name(*service), scaled(d, *multiply, *add))
        }
        Fault::LinkLatency {
            b, multiply, add, ..
        } => {
            let service = config
                .services
                .iter()
                .find(|s| {
                    s.replicas
                        .iter()
                        .any(|&h| b.iter().any(|p| holds(topology, p, h)))
                })
                .map_or_else(String::new, |s| s.name.clone());
            (service, scaled("link latency".to_string(), *multiply, *add))
        }
        Fault::Errors { service, rate, .. } => {
            (name(*service), format!("{} errors {rate}", name(*service)))
        }
        Fault::BlackHole { service, .. } => {
            (name(*service), format!("{} black hole", name(*service)))
        }
        Fault::Hang {
            service, replica, ..
        } => (
            name(*service),
            format!("{} replica {replica} hangs", name(*service)),
        ),
        Fault::Crash { target, .. } => (
            first_service(target),
            format!("{} crash", target_name(target)),
        ),
        Fault::Chaos { target, .. } => (
            first_service(target),
            format!("{} chaos", target_name(target)),
        ),
        Fault::Leak { service, .. } => (name(*service), format!("{} leak", name(*service))),
        Fault::LoadSpike {
            client, multiply, ..
        } => {
            let c = &config.clients[client.0 as usize];
            (name(c.to), format!("{} load x{multiply}", c.name))
        }
    }
}

/// A partition as the reports describe it: the first service with a replica on side b (else
/// a) is where it shows first.
pub(super) fn partition_report(config: &WorldConfig, p: &Partition, end: SimTime) -> FaultReport {
    let topology = &config.topology;
    let place = |e: &Place| match *e {
        Place::Host(h) => topology.hosts[h].name.clone(),
        Place::Zone(z) => topology.zones[z].name.clone(),
        Place::Region(r) => topology.regions[r].name.clone(),
    };
    let side = |s: &[Place]| s.iter().map(place).collect::<Vec<_>>().join("+");
    let arrow = match p.direction {
        Direction::Both => "<->",
        Direction::AToB => "->",
        Direction::BToA => "<-",
    };
    let mut description = format!("partition {} {arrow} {}", side(&p.side_a), side(&p.side_b));
    if let Some(f) = p.fraction {
        description.push_str(&format!(" ({}% of pairs)", f * 100.0));
    }
    if p.mode == CutMode::Refuse {
        description.push_str(" refusing");
    }
    let on_side = |side: &[Place]| {
        config.services.iter().find(|s| {
            s.replicas
                .iter()
                .any(|&h| side.iter().any(|p| holds(topology, p, h)))
        })
    };
    let service = on_side(&p.side_b)
        .or_else(|| on_side(&p.side_a))
        .map_or_else(String::new, |s| s.name.clone());
    let acts_on = ActsOn::partition(config, p);
    FaultReport {
        kind: "partition",
        service,
        services: acts_on.services,
        clients: acts_on.clients,
        description,
        from: p.from,
        to: p.to.unwrap_or(end).min(end),
    }
}
