//! Checks the scripted faults and builds them: what each one hits (a service, an endpoint, a
//! link, a client, a crash or chaos target), its factors and its time window.

use std::collections::BTreeMap;

use models::ConfigError;
use models::config::{self as mc, ClientId, ServiceId};
use sim_core::{Distribution, SimDuration, SimTime};

use super::calls::endpoint_index;
use super::locate::{locate_item, quoted};
use super::{Checker, Known, topology};
use crate::Duration;
use crate::spec;

/// Every fault that names things that exist.
pub(super) fn faults(
    c: &mut Checker,
    known: &Known,
    clients: &BTreeMap<&str, ClientId>,
) -> Vec<mc::Fault> {
    let mut faults = Vec::new();
    for (i, f) in known.scenario.faults.iter().enumerate() {
        let mut fault = FaultChecker {
            c,
            known,
            clients,
            field: format!("faults[{i}]"),
            index: i,
        };
        faults.extend(fault.fault(f));
    }
    faults
}

/// Checks one fault, whose fields are named after `field` (`faults[i]`).
struct FaultChecker<'a, 'c, 's> {
    c: &'a mut Checker<'c>,
    known: &'a Known<'s>,
    clients: &'a BTreeMap<&'a str, ClientId>,
    field: String,
    /// The fault's place in the `faults` list.
    index: usize,
}

impl FaultChecker<'_, '_, '_> {
    fn fault(&mut self, f: &spec::Fault) -> Option<mc::Fault> {
        use spec::Fault as F;
        match f {
            F::Latency {
                service,
                endpoint,
                multiply,
                add,
                from,
                to,
            } => self.latency(service, endpoint.as_deref(), *multiply, *add, (from, to)),
            F::LinkLatency {
                a,
                b,
                one_way,
                multiply,
                add,
                from,
                to,
            } => Some(self.link_latency((a, b), *one_way, *multiply, *add, (from, to))),
            F::Errors {
                service,
                rate,
                from,
                to,
            } => self.errors(service, *rate, (from, to)),
            F::BlackHole { service, from, to } => self.black_hole(service, (from, to)),
            F::Hang {
                service,
                replica,
                at,
            } => self.hang(service, *replica, at),
            F::Crash {
                target,
                at,
                restart_after,
                cold_start,
            } => self.crash(target, *at, *restart_after, cold_start.as_ref()),
            F::Chaos {
                target,
                mttf,
                mttr,
                cold_start,
                crews,
            } => self.chaos(target, mttf, mttr, cold_start.as_ref(), *crews),
            F::Leak {
                service,
                growth_per_hour,
                crash_above,
                restart_after,
            } => self.leak(service, *growth_per_hour, *crash_above, *restart_after),
            F::LoadSpike {
                client,
                multiply,
                from,
                to,
            } => self.load_spike(client, *multiply, (from, to)),
        }
    }

    fn latency(
        &mut self,
        service: &str,
        endpoint: Option<&str>,
        multiply: Option<f64>,
        add: Option<Duration>,
        window: (&Duration, &Duration),
    ) -> Option<mc::Fault> {
        let q = quoted(service);
        let anchors = ["faults", q.as_str()];
        let id = self.service(&anchors, service);
        let multiply = multiply.unwrap_or(1.0);
        self.factor(&anchors, "multiply", multiply);
        let (from, to) = self.window(&anchors, window);
        let endpoint = match (id, endpoint) {
            (Some(s), Some(name)) => match endpoint_index(self.known.spec(s), name) {
                Ok(e) => Some(e),
                Err(e) => {
                    self.c
                        .report(&anchors, format!("{}.endpoint", self.field), e);
                    None
                }
            },
            _ => None,
        };
        id.map(|service| mc::Fault::Latency {
            service,
            endpoint,
            multiply,
            add: add.map_or(SimDuration::ZERO, |d| d.0),
            from,
            to,
        })
    }

    fn link_latency(
        &mut self,
        (a, b): (&[spec::Place], &[spec::Place]),
        one_way: bool,
        multiply: Option<f64>,
        add: Option<Duration>,
        window: (&Duration, &Duration),
    ) -> mc::Fault {
        let anchors = ["faults", "LinkLatency"];
        let multiply = multiply.unwrap_or(1.0);
        self.factor(&anchors, "multiply", multiply);
        let (from, to) = self.window(&anchors, window);
        let (a, b) = (self.side("a", a), self.side("b", b));
        mc::Fault::LinkLatency {
            a,
            b,
            one_way,
            multiply,
            add: add.map_or(SimDuration::ZERO, |d| d.0),
            from,
            to,
        }
    }

    fn errors(
        &mut self,
        service: &str,
        rate: f64,
        window: (&Duration, &Duration),
    ) -> Option<mc::Fault> {
        let q = quoted(service);
        let anchors = ["faults", q.as_str()];
        let id = self.service(&anchors, service);
        if !(0.0..=1.0).contains(&rate) {
            self.c.report(
                &[&anchors[..], &["rate"]].concat(),
                format!("{}.rate", self.field),
                format!("{rate} is not a probability; expected a number from 0 to 1"),
            );
        }
        let (from, to) = self.window(&anchors, window);
        id.map(|service| mc::Fault::Errors {
            service,
            rate,
            from,
            to,
        })
    }

    fn black_hole(&mut self, service: &str, window: (&Duration, &Duration)) -> Option<mc::Fault> {
        let q = quoted(service);
        let anchors = ["faults", q.as_str()];
        let id = self.service(&anchors, service);
        let (from, to) = self.window(&anchors, window);
        id.map(|service| mc::Fault::BlackHole { service, from, to })
    }

    fn hang(&mut self, service: &str, replica: u32, at: &Duration) -> Option<mc::Fault> {
        let q = quoted(service);
        let anchors = ["faults", q.as_str()];
        let id = self.service(&anchors, service)?;
        let replicas = self.known.spec(id).replicas;
        let scaled = self
            .known
            .spec(id)
            .autoscale
            .as_ref()
            .map_or(replicas, |a| a.max);
        if replica >= replicas.max(scaled) {
            self.c.report(
                &[&anchors[..], &["replica"]].concat(),
                format!("{}.replica", self.field),
                format!("service \"{service}\" has no replica {replica}; it has {replicas}"),
            );
            return None;
        }
        if at.0 >= self.known.scenario.duration.0 {
            self.after_the_end("at", at.0);
        }
        Some(mc::Fault::Hang {
            service: id,
            replica,
            at: SimTime::ZERO + at.0,
        })
    }

    fn crash(
        &mut self,
        target: &spec::Target,
        at: Duration,
        restart_after: Option<Duration>,
        cold_start: Option<&spec::ColdStart>,
    ) -> Option<mc::Fault> {
        let t = self.target(target);
        if at.0 >= self.known.scenario.duration.0 {
            self.after_the_end("at", at.0);
        }
        let cold = cold_start.map(|cs| {
            self.factor(
                &["faults", "cold_start"],
                "cold_start.multiply",
                cs.multiply,
            );
            mc::ColdStart {
                duration: cs.duration.0,
                multiply: cs.multiply,
            }
        });
        t.map(|target| mc::Fault::Crash {
            target,
            at: SimTime::ZERO + at.0,
            restart_after: restart_after.map(|d| d.0),
            cold_start: cold,
        })
    }

    fn chaos(
        &mut self,
        target: &spec::Target,
        mttf: &spec::Distribution,
        mttr: &spec::Distribution,
        cold_start: Option<&spec::ColdStart>,
        crews: Option<u32>,
    ) -> Option<mc::Fault> {
        let t = self.target(target);
        if crews == Some(0) {
            let field = format!("{}.crews", self.field);
            self.c.report(
                &["faults", "crews"],
                field,
                "0 crews would never repair anything; expected at least 1".into(),
            );
        }
        let field = self.field.clone();
        let mttf = self
            .c
            .dist(&["faults", "mttf"], format!("{field}.mttf"), mttf);
        let mttr = self
            .c
            .dist(&["faults", "mttr"], format!("{field}.mttr"), mttr);
        for (name, d) in [("mttf", &mttf), ("mttr", &mttr)] {
            if matches!(d, Distribution::Constant(x) if *x == SimDuration::ZERO) {
                self.c.report(
                    &["faults", name],
                    format!("{field}.{name}"),
                    "must be greater than 0 (a chaos process needs time between events)".into(),
                );
            }
        }
        let cold = cold_start.map(|cs| mc::ColdStart {
            duration: cs.duration.0,
            multiply: cs.multiply,
        });
        t.map(|target| mc::Fault::Chaos {
            target,
            mttf,
            mttr,
            cold_start: cold,
            crews,
        })
    }

    fn leak(
        &mut self,
        service: &str,
        growth_per_hour: f64,
        crash_above: Option<f64>,
        restart_after: Duration,
    ) -> Option<mc::Fault> {
        let q = quoted(service);
        let anchors = ["faults", q.as_str()];
        let id = self.service(&anchors, service);
        self.factor(&anchors, "growth_per_hour", growth_per_hour);
        if let Some(above) = crash_above
            && !(above.is_finite() && above > 1.0)
        {
            self.c.report(
                &[&anchors[..], &["crash_above"]].concat(),
                format!("{}.crash_above", self.field),
                format!("{above} is not a slowdown factor; expected a number above 1"),
            );
        }
        id.map(|service| mc::Fault::Leak {
            service,
            growth_per_hour,
            crash_above,
            restart_after: restart_after.0,
        })
    }

    fn load_spike(
        &mut self,
        client: &str,
        multiply: f64,
        window: (&Duration, &Duration),
    ) -> Option<mc::Fault> {
        let q = quoted(client);
        let anchors = ["faults", q.as_str()];
        let id = self.client(&anchors, client);
        if !(multiply.is_finite() && multiply > 0.0) {
            self.c.report(
                &[&anchors[..], &["multiply"]].concat(),
                format!("{}.multiply", self.field),
                format!("{multiply} is not a factor; expected a number above 0"),
            );
        }
        let (from, to) = self.window(&anchors, window);
        id.map(|client| mc::Fault::LoadSpike {
            client,
            multiply,
            from,
            to,
        })
    }

    /// The fault's time window, which must not be empty.
    fn window(
        &mut self,
        anchors: &[&str],
        (from, to): (&Duration, &Duration),
    ) -> (SimTime, SimTime) {
        if from >= to {
            self.c.report(
                &[anchors, &["from"]].concat(),
                format!("{}.from", self.field),
                format!(
                    "the fault must start ({}) before it ends ({})",
                    from.0, to.0
                ),
            );
        }
        let end = self.known.scenario.duration.0;
        if from.0 >= end {
            self.after_the_end("from", from.0);
        } else if to.0 > end {
            // Partly inside: it still acts, but its impact and recovery are cut at the end.
            let position = locate_item(self.c.source, &["faults"], self.index, &["to"]);
            self.c.warn_at(
                position,
                format!("{}.to", self.field),
                format!(
                    "the fault ends ({}) after the run ({end}); its end and any recovery are \
                     not simulated",
                    to.0
                ),
            );
        }
        (SimTime::ZERO + from.0, SimTime::ZERO + to.0)
    }

    /// A fault that starts at or after the run's end never happens: the report would say it
    /// had no impact, and an expectation about it would pass without testing anything.
    fn after_the_end(&mut self, name: &str, at: SimDuration) {
        let end = self.known.scenario.duration.0;
        let position = locate_item(self.c.source, &["faults"], self.index, &[name]);
        self.c.report_at(
            position,
            format!("{}.{name}", self.field),
            format!(
                "the fault starts ({at}) at or after the end of the run ({end}), so it never \
                 happens; start it earlier or lengthen duration"
            ),
        );
    }

    fn factor(&mut self, anchors: &[&str], name: &str, x: f64) {
        if !(x.is_finite() && x >= 0.0) {
            self.c.report(
                &[anchors, &[name]].concat(),
                format!("{}.{name}", self.field),
                format!("{x} is not a factor; expected a number >= 0"),
            );
        }
    }

    fn service(&mut self, anchors: &[&str], name: &str) -> Option<ServiceId> {
        let field = format!("{}.service", self.field);
        self.known.service(self.c, anchors, field, name)
    }

    fn client(&mut self, anchors: &[&str], name: &str) -> Option<ClientId> {
        let found = self.clients.get(name).copied();
        if found.is_none() {
            let known: Vec<&str> = self.clients.keys().copied().collect();
            self.c.report(
                anchors,
                format!("{}.client", self.field),
                format!(
                    "unknown client \"{name}\"; expected one of: {}",
                    known.join(", ")
                ),
            );
        }
        found
    }

    /// One side of a link: the places that exist.
    fn side(&mut self, name: &str, places: &[spec::Place]) -> Vec<models::network::Place> {
        places
            .iter()
            .enumerate()
            .filter_map(|(k, p)| {
                let field = format!("{}.{name}[{k}]", self.field);
                topology::place(self.c, &self.known.topology, &field, p)
            })
            .collect()
    }

    /// A crash or chaos target, resolved.
    fn target(&mut self, target: &spec::Target) -> Option<mc::Target> {
        let topo = &self.known.topology;
        match target {
            spec::Target::Replica {
                service: name,
                index,
            } => self.replica(name, *index),
            spec::Target::Instance {
                service: name,
                index,
            } => {
                let position = locate_item(self.c.source, &["faults"], self.index, &["Instance("]);
                self.c.warn_at(
                    position,
                    format!("{}.target", self.field),
                    "Instance(service: ..., index: ...) is deprecated; write \
                     Replica(service: ..., index: ...)"
                        .into(),
                );
                self.replica(name, *index)
            }
            spec::Target::Service(name) => self.target_service(name).map(mc::Target::Service),
            spec::Target::Host(n) => self.place(topo.host_index(n), n).map(mc::Target::Host),
            spec::Target::Zone(n) => self.place(topo.zone_index(n), n).map(mc::Target::Zone),
            spec::Target::Region(n) => self.place(topo.region_index(n), n).map(mc::Target::Region),
        }
    }

    fn replica(&mut self, name: &str, index: u32) -> Option<mc::Target> {
        let s = self.target_service(name)?;
        let replicas = self.known.spec(s).replicas;
        if index >= replicas {
            self.c.report(
                &["faults", &quoted(name)],
                format!("{}.target.index", self.field),
                format!("\"{name}\" has {replicas} replicas; expected an index below {replicas}"),
            );
            return None;
        }
        Some(mc::Target::Replica { service: s, index })
    }

    fn target_service(&mut self, name: &str) -> Option<ServiceId> {
        let field = format!("{}.target", self.field);
        self.known
            .service(self.c, &["faults", &quoted(name)], field, name)
    }

    fn place(&mut self, found: Result<usize, ConfigError>, name: &str) -> Option<usize> {
        found
            .map_err(|e| {
                self.c.report(
                    &["faults", &quoted(name)],
                    format!("{}.target", self.field),
                    e.to_string(),
                )
            })
            .ok()
    }
}
