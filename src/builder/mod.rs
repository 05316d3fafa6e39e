//! A typed builder for scenarios, with the words of the RON format: what it builds is RON text,
//! read and checked by the same loader as a file, so a builder scenario runs exactly as the
//! equivalent file and a mistake gets the same message (placed in [`ScenarioBuilder::ron`]).
//!
//! Covered: topology (regions of zones of hosts) and placement (`Spread` across hosts, zones or
//! regions, within a place, strict; `Hosts`), services (workers, queue, replicas, service time,
//! error rate, execution, health checks, load balancing, calls, endpoints, custom behaviour),
//! calls and clients with the policy fields `timeout`, `retry` with backoff, `breaker`,
//! `bulkhead`, `fallback` and `outlier` (and a client's host), the default call policy, the
//! network's latency within a zone, across zones and regions, loss and partitions (both ways or
//! one, a fraction of the pairs, dropping or refusing), faults (latency multiplied or added,
//! errors, black hole, crash of a replica, service, host, zone or region with restart and cold
//! start, load spike, link latency), and expectations. Not covered (write RON with
//! [`Scenario::from_ron`] for them; the README lists them, most used first): stores, brokers,
//! clocks, autoscaling, shedding, rate limiters, hedging, deadlines, probes, databases,
//! records, changes, swarm values, parallel and `one_of` call groups, clients' endpoint mixes
//! and load profiles, chaos, leak and hang faults, links.

use std::fmt::Write;

use crate::{Error, Expect, Scenario};
use scenarios::spec::{Expectation, Over};

mod parts;
mod policy;
mod world;

pub use parts::{Call, Client, Dist, Endpoint, Service};
pub use policy::{Backoff, Breaker, Bulkhead, Fallback, Outlier, Policy, Retry};
pub use world::{
    Across, Crash, Direction, Fault, Health, Lb, Partition, Place, Placement, Region, Target,
};

/// A RON string literal.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A RON float: always with a point or an exponent, as the format wants.
fn float(x: f64) -> String {
    format!("{x:?}")
}

/// A scenario written in Rust: `ScenarioBuilder::new("shop", "10m").service(...).build()`.
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    name: String,
    duration: String,
    services: Vec<Service>,
    clients: Vec<Client>,
    faults: Vec<Fault>,
    /// The network's fields but `latency` and `partitions`, in the order given.
    network: Vec<String>,
    latency: Option<Dist>,
    partitions: Vec<Partition>,
    regions: Vec<Region>,
    /// Top-level sections the builder has no method for, in the format's words.
    sections: Vec<String>,
    default_policy: Option<Policy>,
    expect: Vec<Expect>,
}

impl ScenarioBuilder {
    /// A scenario named `name` that runs `duration` of simulated time (`"10m"`).
    pub fn new(name: &str, duration: &str) -> ScenarioBuilder {
        ScenarioBuilder {
            name: name.to_owned(),
            duration: duration.to_owned(),
            services: Vec::new(),
            clients: Vec::new(),
            faults: Vec::new(),
            network: Vec::new(),
            latency: None,
            partitions: Vec::new(),
            regions: Vec::new(),
            sections: Vec::new(),
            default_policy: None,
            expect: Vec::new(),
        }
    }

    /// Adds a service.
    pub fn service(mut self, service: Service) -> ScenarioBuilder {
        self.services.push(service);
        self
    }

    /// Adds a client.
    pub fn client(mut self, client: Client) -> ScenarioBuilder {
        self.clients.push(client);
        self
    }

    /// Adds a fault: a [`Fault`], or a [`Crash`] with its restart and cold start.
    pub fn fault(mut self, fault: impl Into<Fault>) -> ScenarioBuilder {
        self.faults.push(fault.into());
        self
    }

    /// Adds a region of the topology (`topology: (regions: [...])`), in order: placement
    /// spreads over regions, zones and hosts in the order they are added.
    pub fn region(mut self, region: Region) -> ScenarioBuilder {
        self.regions.push(region);
        self
    }

    /// The one-way latency of every message within a zone, and on one host (default: none).
    pub fn network_latency(mut self, latency: Dist) -> ScenarioBuilder {
        self.latency = Some(latency);
        self
    }

    /// The latency between zones of a region (default: the network latency).
    pub fn cross_zone_latency(mut self, latency: Dist) -> ScenarioBuilder {
        self.network.push(format!("cross_zone: {}", latency.0));
        self
    }

    /// The latency between regions (default: the cross-zone latency).
    pub fn cross_region_latency(mut self, latency: Dist) -> ScenarioBuilder {
        self.network.push(format!("cross_region: {}", latency.0));
        self
    }

    /// A top-level section the builder has no method for, written as RON (`ron_section(
    /// "clocks", "[(host: \"a1\", drift_ppm: 500)]")`): the way to combine the builder with
    /// what only the format says (stores, brokers, clocks, autoscaling, ...). The loader checks
    /// it as in a file, and its errors point into [`ScenarioBuilder::ron`].
    pub fn ron_section(mut self, section: &str, ron: &str) -> ScenarioBuilder {
        self.sections.push(format!("{section}: {ron}"));
        self
    }

    /// Adds a network partition.
    pub fn partition(mut self, partition: Partition) -> ScenarioBuilder {
        self.partitions.push(partition);
        self
    }

    /// The probability that a message is lost.
    pub fn network_loss(mut self, loss: f64) -> ScenarioBuilder {
        self.network.push(format!("loss: {}", float(loss)));
        self
    }

    /// The policy of every call that sets no field of its own (`policies: (default: ...)`).
    pub fn default_policy(mut self, policy: Policy) -> ScenarioBuilder {
        self.default_policy = Some(policy);
        self
    }

    /// Adds an expectation, judged by [`crate::check`].
    pub fn expect(mut self, expect: Expect) -> ScenarioBuilder {
        self.expect.push(expect);
        self
    }

    /// The scenario as RON text, what a file with the same scenario would hold.
    pub fn ron(&self) -> Result<String, Error> {
        let mut out = String::new();
        let list = |items: Vec<String>| format!("[\n        {},\n    ]", items.join(",\n        "));
        let _ = writeln!(out, "Scenario(");
        let _ = writeln!(out, "    version: 1,");
        let _ = writeln!(out, "    name: {},", quoted(&self.name));
        let _ = writeln!(out, "    duration: {},", quoted(&self.duration));
        if !self.regions.is_empty() {
            let regions = self.regions.iter().map(Region::ron).collect();
            let _ = writeln!(out, "    topology: (regions: {}),", list(regions));
        }
        let services = self.services.iter().map(Service::ron).collect();
        let _ = writeln!(out, "    services: {},", list(services));
        let clients = self.clients.iter().map(Client::ron).collect();
        let _ = writeln!(out, "    clients: {},", list(clients));
        if self.latency.is_some() || !self.network.is_empty() || !self.partitions.is_empty() {
            // The format wants a latency once there is a network section; none is zero.
            let latency = self.latency.clone().unwrap_or(Dist::constant("0s"));
            let mut network = vec![format!("latency: {}", latency.0)];
            network.extend(self.network.iter().cloned());
            if !self.partitions.is_empty() {
                let partitions: Vec<String> = self.partitions.iter().map(Partition::ron).collect();
                network.push(format!("partitions: [{}]", partitions.join(", ")));
            }
            let _ = writeln!(out, "    network: ({}),", network.join(", "));
        }
        if let Some(p) = &self.default_policy {
            let _ = writeln!(out, "    policies: (default: ({})),", p.fields().join(", "));
        }
        if !self.faults.is_empty() {
            let faults = self.faults.iter().map(|f| f.0.clone()).collect();
            let _ = writeln!(out, "    faults: {},", list(faults));
        }
        if !self.expect.is_empty() {
            let expect = self
                .expect
                .iter()
                .map(|e| e.expectation.clone().map(|e| expectation_ron(&e)))
                .collect::<Result<Vec<String>, String>>()
                .map_err(Error::new)?;
            let _ = writeln!(out, "    expect: {},", list(expect));
        }
        for s in &self.sections {
            let _ = writeln!(out, "    {s},");
        }
        out.push_str(")\n");
        Ok(out)
    }

    /// Reads and checks the scenario as the loader reads a file named `NAME.ron`: errors name
    /// a line and column of [`ScenarioBuilder::ron`].
    pub fn build(&self) -> Result<Scenario, Error> {
        Scenario::from_ron(format!("{}.ron", self.name), &self.ron()?)
    }
}

fn over(over: Over) -> &'static str {
    match over {
        Over::Worst => "Worst",
        Over::Mean => "Mean",
    }
}

fn expectation_ron(e: &Expectation) -> String {
    match e {
        Expectation::Availability {
            of,
            at_least,
            over: o,
        } => format!(
            "Availability(of: {}, at_least: {}, over: {})",
            quoted(of),
            float(*at_least),
            over(*o)
        ),
        Expectation::Latency {
            of,
            quantile,
            at_most,
            over: o,
        } => format!(
            "Latency(of: {}, quantile: {}, at_most: \"{}ns\", over: {})",
            quoted(of),
            float(*quantile),
            at_most.0.as_nanos(),
            over(*o)
        ),
        Expectation::Amplification {
            of,
            at_most,
            over: o,
        } => format!(
            "Amplification(of: {}, at_most: {}, over: {})",
            quoted(of),
            float(*at_most),
            over(*o)
        ),
        Expectation::NoCascadeInto { service } => {
            format!("NoCascadeInto(service: {})", quoted(service))
        }
        Expectation::RecoveryWithin { within } => {
            format!("RecoveryWithin(within: \"{}ns\")", within.0.as_nanos())
        }
        Expectation::NoDuplicateSideEffects { service } => {
            format!("NoDuplicateSideEffects(service: {})", quoted(service))
        }
    }
}
