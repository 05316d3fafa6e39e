//! Checks a parsed scenario and builds the model configuration. Every problem is collected, so
//! a user fixes them all in one pass instead of one per run.
//!
//! Each section of the file has its checker module; [`build`] calls them in the order of their
//! diagnostics (settings, topology, services, clients, faults, expectations, network, clocks),
//! and every checker reports into one [`Checker`].

mod autoscale;
mod broker;
mod budget;
mod calls;
mod changes;
mod clients;
mod clocks;
mod custom;
mod expect;
mod faults;
mod inbound;
mod locate;
mod network;
mod policy;
mod probes;
mod publish_key;
mod retry;
mod rollout;
mod saga;
mod serverless;
mod services;
mod store;
mod topic;
mod topology;
pub mod tune;
mod twopc;

use std::collections::BTreeMap;

use models::config::{self as mc, ServiceId, WorldConfig};
use sim_core::{Distribution, SimDuration};

use crate::Diagnostic;
use crate::spec::{self, Scenario};
use locate::locate;

/// Checks `scenario` (read from `source`) and builds its world configuration, or returns every
/// problem found.
pub fn build(scenario: &Scenario, source: &str) -> Result<WorldConfig, Vec<Diagnostic>> {
    build_with_warnings(scenario, source).map(|(config, _)| config)
}

/// Like [`build`], and also returns the warnings: the deprecated spellings the scenario uses,
/// each at its place, which still build as their new spelling does.
pub fn build_with_warnings(
    scenario: &Scenario,
    source: &str,
) -> Result<(WorldConfig, Vec<Diagnostic>), Vec<Diagnostic>> {
    build_checked(scenario, source, false)
}

/// Like [`build_with_warnings`], for the `faultline` library: services of kind
/// `Custom(name)` are accepted, and the library runs them with the behaviours registered.
pub fn build_allowing_custom(
    scenario: &Scenario,
    source: &str,
) -> Result<(WorldConfig, Vec<Diagnostic>), Vec<Diagnostic>> {
    build_checked(scenario, source, true)
}

fn build_checked(
    scenario: &Scenario,
    source: &str,
    custom_allowed: bool,
) -> Result<(WorldConfig, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut c = Checker {
        source,
        diagnostics: Vec::new(),
        warnings: Vec::new(),
        custom_allowed,
        workloads: Vec::new(),
        publish_keys: Vec::new(),
    };
    let window = settings(&mut c, scenario);
    let (desugared, sagas) = saga::desugar(&mut c, scenario);
    let (desugared, two_phase) = twopc::desugar(&mut c, desugared);
    let scenario = &*desugared;
    if !budget::within_budget(&mut c, scenario) {
        return Err(c.diagnostics);
    }
    let topology = topology::topology(&mut c, scenario.topology.as_ref());
    let known = Known {
        scenario,
        services: services::names(&mut c, &scenario.services),
        queues: broker::queue_names(&mut c, &scenario.services),
        topics: topic::topic_names(&mut c, &scenario.services),
        topology,
    };
    let mut services = services::services(&mut c, &known);
    let mut brokers = broker::brokers(&mut c, &known);
    topic::topics(&mut c, &known, &mut brokers);
    mark_keyed(&services, &mut brokers);
    brokers.keys = std::mem::take(&mut c.publish_keys);
    let (clients, client_names) = clients::clients(&mut c, &known);
    let faults = faults::faults(&mut c, &known, &client_names);
    expect::expectations(&mut c, &known, &client_names);
    let network = network::network(&mut c, &known.topology, &scenario.network);
    let clocks = clocks::clocks(&mut c, &known.topology, &scenario.clocks);
    let stores = store::stores(&mut c, &known, &mut services);
    tune::tune(&mut c, scenario);
    if !c.diagnostics.is_empty() {
        return Err(c.diagnostics);
    }
    let mut config = WorldConfig {
        name: scenario.name.clone(),
        duration: scenario.duration.0,
        services,
        clients,
        network,
        faults,
        window,
        max_events: scenario.limits.max_events,
        memory_limit_bytes: scenario.limits.memory.0,
        topology: known.topology,
        clocks,
        ops: Default::default(),
        stores,
        brokers,
        sagas,
        two_phase,
    };
    autoscale::autoscalers(&mut c, scenario, &mut config);
    probes::probes(&mut c, scenario, &mut config);
    rollout::rollouts(&mut c, scenario, &mut config);
    serverless::functions(&mut c, scenario, &mut config);
    if !c.diagnostics.is_empty() {
        return Err(c.diagnostics);
    }
    if !scenario.changes.is_empty() {
        config.ops.changes = changes::changes(&mut c, scenario, &config);
        if !c.diagnostics.is_empty() {
            return Err(c.diagnostics);
        }
    }
    Ok((config, c.warnings))
}

/// The scenario's own settings (version, duration, window, limits) and the lists it cannot do
/// without; returns the metrics window.
fn settings(c: &mut Checker, scenario: &Scenario) -> SimDuration {
    if scenario.version != 1 {
        c.report(
            &["version"],
            "version".into(),
            format!("unsupported version {}; expected 1", scenario.version),
        );
    }
    c.duration_positive(&["duration"], "duration".into(), scenario.duration.0);
    let window = scenario.window.map_or(SimDuration::SECOND, |w| w.0);
    c.duration_positive(&["window"], "window".into(), window);
    if scenario.limits.max_events == 0 {
        c.report(
            &["max_events"],
            "limits.max_events".into(),
            "must be at least 1".into(),
        );
    }
    if scenario.services.is_empty() {
        c.report(
            &["services"],
            "services".into(),
            "a scenario needs at least one service".into(),
        );
    }
    if scenario.clients.is_empty() {
        c.report(
            &["clients"],
            "clients".into(),
            "a scenario needs at least one client".into(),
        );
    }
    window
}

/// What the sections after the topology look names up in.
struct Known<'s> {
    scenario: &'s Scenario,
    /// Service ids by name, in name order (the order of "expected one of" lists).
    services: BTreeMap<&'s str, ServiceId>,
    /// Queue names: their broker and index among all queues.
    queues: BTreeMap<&'s str, (ServiceId, u16)>,
    /// Topic names: their broker and index among all topics.
    topics: BTreeMap<&'s str, (ServiceId, u16)>,
    topology: models::topology::Topology,
}

impl Known<'_> {
    /// The service called `name`, or a report that there is none.
    fn service(
        &self,
        c: &mut Checker,
        anchors: &[&str],
        field: String,
        name: &str,
    ) -> Option<ServiceId> {
        let found = self.services.get(name).copied();
        if found.is_none() {
            c.report(
                anchors,
                field,
                format!(
                    "unknown service \"{name}\"; expected one of: {}",
                    self.service_names()
                ),
            );
        }
        found
    }

    /// Every service's name, in name order, joined by commas.
    fn service_names(&self) -> String {
        self.services.keys().copied().collect::<Vec<_>>().join(", ")
    }

    /// The scenario's description of a service.
    fn spec(&self, id: ServiceId) -> &spec::Service {
        &self.scenario.services[id.0 as usize]
    }
}

/// Collects the diagnostics and the warnings, each placed in the source text.
struct Checker<'a> {
    source: &'a str,
    diagnostics: Vec<Diagnostic>,
    /// Deprecated spellings: accepted, built as their new spelling, and reported.
    warnings: Vec<Diagnostic>,
    /// `kind: Custom(..)` is accepted (the library, which has a registry of behaviours).
    custom_allowed: bool,
    /// Workloads written on calls and clients, checked against their stores by
    /// `store::stores` once every store is known.
    workloads: Vec<store::PendingWorkload>,
    /// The publish steps' own keys, in the order their steps were checked.
    publish_keys: Vec<models::publish_key::PublishKey>,
}

/// Marks the queues and topics a keyed publish step publishes to, for their reports.
fn mark_keyed(services: &[mc::ServiceConfig], brokers: &mut models::broker::BrokerConfig) {
    let plans = services
        .iter()
        .flat_map(|s| std::iter::once(&s.calls).chain(s.endpoints.iter().map(|e| &e.calls)));
    for call in plans.flatten() {
        let Some(p) = call.publish.filter(|p| p.key.is_some()) else {
            continue;
        };
        let index = usize::from(p.queue);
        if p.topic {
            if let Some(t) = brokers.topics.get_mut(index) {
                t.keyed = true;
            }
        } else if let Some(groups) = brokers
            .queues
            .get_mut(index)
            .and_then(|q| q.groups.as_mut())
        {
            groups.keyed = true;
        }
    }
}

impl Checker<'_> {
    /// A warning, placed like a diagnostic; it does not stop the build.
    fn warn(&mut self, anchors: &[&str], field: String, message: String) {
        let position = locate(self.source, anchors);
        self.warn_at(position, field, message);
    }

    fn warn_at(&mut self, position: Option<(usize, usize)>, field: String, message: String) {
        self.warnings.push(Diagnostic {
            position,
            field,
            message: crate::clip_names(&message),
        });
    }

    fn report(&mut self, anchors: &[&str], field: String, message: String) {
        let position = locate(self.source, anchors);
        self.report_at(position, field, message);
    }

    /// A diagnostic at a position found otherwise than by [`locate`].
    fn report_at(&mut self, position: Option<(usize, usize)>, field: String, message: String) {
        self.diagnostics.push(Diagnostic {
            position,
            field,
            message: crate::clip_names(&message),
        });
    }

    fn duration_positive(&mut self, anchors: &[&str], field: String, d: SimDuration) {
        if d == SimDuration::ZERO {
            self.report(anchors, field, "must be greater than 0".into());
        }
    }

    fn dist(&mut self, anchors: &[&str], field: String, dist: &spec::Distribution) -> Distribution {
        let built = match dist {
            spec::Distribution::Constant { value } => Ok(Distribution::Constant(value.0)),
            spec::Distribution::Exponential { mean } => Distribution::exponential(mean.0),
            spec::Distribution::LogNormal { median, p99 } => {
                Distribution::lognormal(median.0, p99.0)
            }
            spec::Distribution::FoldedNormal { mean, sd } => {
                Ok(Distribution::folded_normal(mean.0, sd.0))
            }
            spec::Distribution::Normal { mean, sd } => {
                // The last anchor is the field, whose value follows it.
                let anchors = [anchors, &["Normal("]].concat();
                self.warn(
                    &anchors,
                    field.clone(),
                    "Normal(mean: ..., sd: ...) is deprecated; write FoldedNormal(mean: ..., \
                     sd: ...), the distribution it has always sampled (a normal folded at zero)"
                        .into(),
                );
                Ok(Distribution::folded_normal(mean.0, sd.0))
            }
        };
        built.unwrap_or_else(|e| {
            self.report(anchors, field, e.to_string());
            Distribution::Constant(SimDuration::ZERO)
        })
    }

    fn objective(
        &mut self,
        anchors: &[&str],
        field: &str,
        spec: Option<&spec::Objective>,
    ) -> mc::Objective {
        let mut objective = mc::Objective::default();
        let Some(spec) = spec else {
            return objective;
        };
        if let Some(a) = spec.availability {
            if a > 0.0 && a <= 1.0 {
                objective.availability = a;
            } else {
                self.report(
                    &[anchors, &["availability"]].concat(),
                    format!("{field}.objective.availability"),
                    format!("{a} is not an availability; expected a number above 0 and at most 1"),
                );
            }
        }
        if let Some(p99) = spec.p99 {
            self.duration_positive(anchors, format!("{field}.objective.p99"), p99.0);
            objective.latency_p99 = Some(p99.0);
        }
        objective
    }
}
