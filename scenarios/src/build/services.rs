//! Checks the services and builds them: names, workers, service times, endpoints, placement,
//! health checks, inbound protection, and the call graph (which must have no cycle).

use std::collections::BTreeMap;

use models::config::{self as mc, ServiceConfig, ServiceId};
use petgraph::graph::DiGraph;

use super::calls::Plans;
use super::locate::named;
use super::{Checker, Known, topology};
use crate::spec;

/// The services' ids by name; a duplicate name is reported and keeps its last id.
pub(super) fn names<'s>(
    c: &mut Checker,
    services: &'s [spec::Service],
) -> BTreeMap<&'s str, ServiceId> {
    let mut ids = BTreeMap::new();
    for (i, s) in services.iter().enumerate() {
        if ids.insert(s.name.as_str(), ServiceId(i as u32)).is_some() {
            let q = named(&s.name);
            c.report(
                &[&q, &q],
                format!("services[{i}].name"),
                format!("duplicate service name \"{}\"", s.name),
            );
        }
    }
    ids
}

/// Every service, then the cycles of the call graph.
pub(super) fn services(c: &mut Checker, known: &Known) -> Vec<ServiceConfig> {
    let scenario = known.scenario;
    // Node i is service i: the graph is built from vectors, so its order is the file's order.
    let mut graph: DiGraph<(), bool> = DiGraph::new();
    for _ in &scenario.services {
        graph.add_node(());
    }
    let services = scenario
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| service(c, known, &mut graph, i, s))
        .collect();
    cycles(c, scenario, &graph);
    services
}

/// One service, its calls added to `graph`.
fn service(
    c: &mut Checker,
    known: &Known,
    graph: &mut DiGraph<(), bool>,
    i: usize,
    s: &spec::Service,
) -> ServiceConfig {
    let q = named(&s.name);
    let at = |field: &str| format!("services[{i}].{field}");
    if s.workers == 0 {
        c.report(&[&q, "workers"], at("workers"), "must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&s.error_rate) {
        c.report(
            &[&q, "error_rate"],
            at("error_rate"),
            format!(
                "{} is not a probability; expected a number from 0 to 1",
                s.error_rate
            ),
        );
    }
    let service_time = c.dist(&[&q, "service_time"], at("service_time"), &s.service_time);
    let mut plans = Plans::new(known, i, &q, graph);
    let calls = plans.plan(c, &s.calls, "", 0);
    let endpoints = endpoints(c, &mut plans, &q, i, s);
    let objective = c.objective(&[&q], &format!("services[{i}]"), s.objective.as_ref());
    let replicas = topology::placement(c, &known.topology, &q, &at("placement"), s);
    let health = health(c, &q, &at("health"), &s.health);
    let max_throughput_per_s = max_throughput(c, &q, &at("kind.max_throughput_per_s"), &s.kind);
    super::custom::check(c, &q, &at("kind"), s);
    let inbound = inbound(c, &q, &format!("services[{i}]"), &s.inbound);
    ServiceConfig {
        endpoint_name: s.endpoint.clone().unwrap_or_else(|| "default".into()),
        endpoints,
        max_throughput_per_s,
        replicas,
        lb: match s.lb {
            spec::Lb::RoundRobin => models::lb::LbPolicy::RoundRobin,
            spec::Lb::Random => models::lb::LbPolicy::Random,
            spec::Lb::LeastRequest => models::lb::LbPolicy::LeastRequest,
            spec::Lb::PowerOfTwoChoices => models::lb::LbPolicy::PowerOfTwoChoices,
        },
        health,
        objective,
        name: s.name.clone(),
        workers: s.workers.max(1),
        queue: match s.queue {
            spec::QueueSize::Places(n) => n,
            spec::QueueSize::Unbounded => mc::ServiceConfig::UNBOUNDED,
        },
        service_time,
        error_rate: s.error_rate.clamp(0.0, 1.0),
        execution: match s.execution {
            spec::Execution::ThreadPerRequest => mc::Execution::ThreadPerRequest,
            spec::Execution::Async => mc::Execution::Async,
        },
        calls,
        kind: match s.kind {
            spec::ServiceKind::Worker
            | spec::ServiceKind::Database { .. }
            | spec::ServiceKind::Custom(_) => mc::ServiceKind::Worker,
            spec::ServiceKind::Record => mc::ServiceKind::Record,
            spec::ServiceKind::Broker => mc::ServiceKind::Broker,
        },
        idempotent: s.idempotent,
        idempotency_keys: s.idempotency_keys,
        propagate_deadline: s.propagate_deadline,
        backpressure: s.when_full == spec::WhenFull::Backpressure,
        abandonment: match s.abandonment {
            spec::Abandonment::AtDequeue => mc::Abandonment::AtDequeue,
            spec::Abandonment::Renege => mc::Abandonment::Renege,
        },
        inbound,
    }
}

/// A service's further endpoints, with their plans; then duplicate endpoint names.
fn endpoints(
    c: &mut Checker,
    plans: &mut Plans,
    q: &str,
    i: usize,
    s: &spec::Service,
) -> Vec<mc::EndpointConfig> {
    let at = |field: &str| format!("services[{i}].{field}");
    let mut endpoints = Vec::new();
    for (e, ep) in s.endpoints.iter().enumerate() {
        let calls = plans.plan(c, &ep.calls, &format!("endpoints[{e}]."), e as u16 + 1);
        if !(0.0..=1.0).contains(&ep.error_rate) {
            c.report(
                &[q, &named(&ep.name), "error_rate"],
                at(&format!("endpoints[{e}].error_rate")),
                format!(
                    "{} is not a probability; expected a number from 0 to 1",
                    ep.error_rate
                ),
            );
        }
        endpoints.push(mc::EndpointConfig {
            name: ep.name.clone(),
            service_time: c.dist(
                &[q, &named(&ep.name), "service_time"],
                at(&format!("endpoints[{e}].service_time")),
                &ep.service_time,
            ),
            error_rate: ep.error_rate.clamp(0.0, 1.0),
            calls,
        });
    }
    let mut names: Vec<&str> = vec![s.endpoint.as_deref().unwrap_or("default")];
    for ep in &s.endpoints {
        if names.contains(&ep.name.as_str()) {
            c.report(
                &[q, &named(&ep.name)],
                at("endpoints"),
                format!("duplicate endpoint name \"{}\"", ep.name),
            );
        }
        names.push(&ep.name);
    }
    endpoints
}

fn health(c: &mut Checker, q: &str, field: &str, health: &spec::HealthCheck) -> mc::Health {
    match health {
        spec::HealthCheck::Unchecked => mc::Health::Unchecked,
        spec::HealthCheck::Perfect => mc::Health::Perfect,
        spec::HealthCheck::Active {
            interval,
            timeout,
            unhealthy_threshold,
            healthy_threshold,
        } => {
            let mut check = models::lb::HealthCheckConfig::new(interval.0, timeout.0);
            if let Some(n) = unhealthy_threshold {
                check.unhealthy_threshold = *n;
            }
            if let Some(n) = healthy_threshold {
                check.healthy_threshold = *n;
            }
            if let Err(e) = check.validate() {
                for line in e.lines() {
                    c.report(&[q, "health"], field.to_string(), line.to_string());
                }
            }
            mc::Health::Active(check)
        }
    }
}

fn inbound(c: &mut Checker, q: &str, field: &str, inbound: &spec::Inbound) -> mc::Inbound {
    mc::Inbound {
        rate_limit: inbound
            .rate_limit
            .as_ref()
            .and_then(|r| c.rate_limit(&[q, "rate_limit"], field, r)),
        shed: inbound
            .shed
            .as_ref()
            .and_then(|sh| c.shed(&[q, "shed"], field, sh)),
    }
}

/// A database's throughput limit; other kinds have none.
fn max_throughput(c: &mut Checker, q: &str, field: &str, kind: &spec::ServiceKind) -> Option<f64> {
    let spec::ServiceKind::Database {
        max_throughput_per_s,
    } = *kind
    else {
        return None;
    };
    if !(max_throughput_per_s.is_finite() && max_throughput_per_s > 0.0) {
        c.report(
            &[q, "max_throughput_per_s"],
            field.to_string(),
            format!("{max_throughput_per_s} is not a rate; expected a number greater than 0"),
        );
    }
    Some(max_throughput_per_s)
}

/// A cycle of calls that are always made never ends: every request would call back into the
/// cycle forever. A cycle with an optional call (`probability` < 1) or a routing choice
/// (`one_of`) on it ends with probability 1 (a retry-to-self, a re-check loop): allowed.
fn cycles(c: &mut Checker, scenario: &spec::Scenario, graph: &DiGraph<(), bool>) {
    let always = graph.filter_map(|_, &()| Some(()), |_, &always| always.then_some(()));
    for component in petgraph::algo::tarjan_scc(&always) {
        let self_loop = component.len() == 1 && always.contains_edge(component[0], component[0]);
        if component.len() > 1 || self_loop {
            let mut names: Vec<&str> = component
                .iter()
                .map(|n| scenario.services[n.index()].name.as_str())
                .collect();
            names.sort_unstable();
            let first = named(names[0]);
            c.report(
                &[&first],
                "services".into(),
                format!(
                    "the calls form a cycle through {} that never ends (every call on it is \
                     always made); make one optional with `probability` below 1, or one of \
                     several in `one_of`",
                    names.join(" -> ")
                ),
            );
        }
    }
}
