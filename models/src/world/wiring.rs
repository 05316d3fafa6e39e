//! Wiring: `World::new` turns a validated configuration into the running state: services and
//! their replicas, one edge per calling replica and call, clients, the fault schedule, the
//! network and the host clocks. Stream names are part of the determinism contract: changing a
//! key changes every draw made from it.

use super::*;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::publish_key::{KeyDraws, KeySpace};

/// What `World::new` builds up edge by edge: the edges, the reports they share, and the
/// replicas on each host.
struct Wiring<'a> {
    config: &'a WorldConfig,
    streams: RngStreams,
    edges: Vec<Edge>,
    edge_reports: Vec<EdgeReport>,
    host_replicas: Vec<Vec<(u32, u32)>>,
    /// Each publish step's key space, built once for all its edges.
    key_spaces: BTreeMap<u16, Arc<KeySpace>>,
}

impl World {
    /// Builds the world for one seed. The configuration must be valid (the scenario loader
    /// checks it); inconsistencies here are programming errors and panic.
    pub fn new(config: &WorldConfig, seed: u64) -> World {
        let topology = &config.topology;
        let mut w = Wiring {
            config,
            streams: RngStreams::new(seed),
            edges: Vec::new(),
            edge_reports: Vec::new(),
            host_replicas: vec![Vec::new(); topology.hosts.len()],
            key_spaces: BTreeMap::new(),
        };
        let mut services = Vec::with_capacity(config.services.len());
        for (sid, svc) in config.services.iter().enumerate() {
            services.push(w.service(sid as u32, svc));
        }
        let mut clients = Vec::with_capacity(config.clients.len());
        for client in &config.clients {
            clients.push(w.client(client));
        }
        let broker = self::broker::BrokerState::new(
            &config.brokers,
            config,
            &w.streams.clone(),
            |key, replica, host, to, from| w.delivery_edge(key, replica, host, to, from),
        );
        let schedule = faults::install(config, &w.streams, &mut services, &mut clients);
        let host_zone: Vec<usize> = topology.hosts.iter().map(|h| h.zone).collect();
        let zone_region: Vec<usize> = topology.zones.iter().map(|z| z.region).collect();
        let (net, uniform_latency) =
            transit::network(config, &host_zone, &zone_region, &schedule.link_faults);
        let mut world = World {
            faults: schedule.reports,
            window: config.window,
            name: config.name.clone(),
            seed,
            duration: config.duration,
            max_events: config.max_events,
            memory_limit_bytes: config.memory_limit_bytes,
            specs: config.services.iter().map(ServiceSpec::new).collect(),
            arrivals: config.clients.iter().map(|c| c.arrivals.clone()).collect(),
            services,
            clients,
            edges: w.edges,
            edge_reports: w.edge_reports,
            jobs: Slab::new(),
            calls: Slab::new(),
            attempts: Slab::new(),
            next_attempt: NO_ATTEMPT.0 + 1,
            next_serial: 1,
            net,
            host_down: vec![0; topology.hosts.len()],
            host_zone,
            zone_region,
            clocks: clocks(config),
            host_replicas: w.host_replicas,
            fault_specs: config.faults.clone(),
            chaos: schedule.chaos,
            crews: config
                .faults
                .iter()
                .map(|f| match f {
                    Fault::Chaos { crews: Some(n), .. } => Some((*n, VecDeque::new())),
                    _ => None,
                })
                .collect(),
            uniform_latency,
            link_faults: schedule.link_faults,
            eligible: Vec::new(),
            made: Vec::new(),
            spare_children: Vec::new(),
            resumes: Vec::new(),
            inline_retries: 0,
            chains_broken: false,
            tracer: None,
            changes: config.ops.changes.clone(),
            scalers: Vec::new(),
            rotation: Vec::new(),
            probers: Vec::new(),
            hung: Vec::new(),
            unready: Vec::new(),
            deploys: Vec::new(),
            stores: stores(config, &w.streams),
            broker,
            custom: None,
            sagas: None,
            functions: None,
            twopc: None,
            restarted: Vec::new(),
        };
        world.sagas = saga::Sagas::new(config, &world.services);
        world.twopc = twopc::TwoPhase::new(config, &w.streams);
        world.mirror_service_stats();
        world.install_changes(config);
        world.install_autoscalers(config);
        world.install_probes(config);
        world.install_rollouts(config, &w.streams);
        world.install_functions(config, &w.streams);
        world.install_workloads(config, &w.streams);
        if world.acts_mid_run(config) {
            world.record_every_sample();
        }
        world.mark_plain_edges();
        world.mark_plain_services(config);
        world
    }

    /// Gives the edges of each caller with a workload of its own its draws, on a stream per
    /// edge named after the caller, so that no other stream shifts.
    fn install_workloads(&mut self, config: &WorldConfig, streams: &RngStreams) {
        use crate::data::workload::{Draws, Origin};
        for (st, store) in config.stores.iter().enumerate() {
            for (index, w) in (0u32..).zip(&store.workloads) {
                self.stores[st].by_workload[index as usize].origin = match w.origin {
                    Origin::Client(c) => format!("client {}", config.clients[c].name),
                    Origin::Call {
                        service,
                        endpoint,
                        index,
                    } => {
                        let svc = &config.services[service];
                        match endpoint {
                            0 => format!("{} calls[{index}]", svc.name),
                            e => {
                                let ep = &svc.endpoints[e as usize - 1].name;
                                format!("{}/{ep} calls[{index}]", svc.name)
                            }
                        }
                    }
                };
                let edges: Vec<(EdgeId, Vec<String>)> = match w.origin {
                    Origin::Client(c) => self.clients[c]
                        .kinds
                        .iter()
                        .enumerate()
                        .map(|(k, kind)| {
                            let name = config.clients[c].name.clone();
                            (kind.edge, vec!["client".into(), name, k.to_string()])
                        })
                        .collect(),
                    Origin::Call {
                        service,
                        endpoint,
                        index,
                    } => self.services[service]
                        .replicas
                        .iter()
                        .enumerate()
                        .map(|(r, replica)| {
                            let edge = replica.call_edges[endpoint as usize][index as usize];
                            let name = config.services[service].name.clone();
                            let key = [endpoint.to_string(), index.to_string(), r.to_string()];
                            (edge, [vec!["service".into(), name], key.to_vec()].concat())
                        })
                        .collect(),
                };
                for (edge, key) in edges {
                    let mut key: Vec<&str> = key.iter().map(String::as_str).collect();
                    key.insert(0, "workload");
                    let rng = streams.stream(&key);
                    let draws = OriginDraws::Workload(Draws::new(w, index, rng));
                    self.edges[edge].draws = Some(Box::new(draws));
                }
            }
        }
    }

    /// A service's statistics record every attempt sent to it; an edge's record every attempt
    /// over it. When one edge report is the only one calling a service and its edges send every
    /// attempt they make (no breaker, bulkhead or throttle to stop one before it leaves), both
    /// receive the same samples at the same instants: the service's are not recorded but copied
    /// from the edge report's when the run ends.
    fn mirror_service_stats(&mut self) {
        let mut callers: Vec<Option<Option<u32>>> = vec![None; self.services.len()];
        for e in &self.edges {
            let p = &e.cold.policy;
            let sends_all = p.breaker.is_none() && p.bulkhead.is_none() && p.throttle.is_none();
            let only = &mut callers[e.to.0 as usize];
            *only = match *only {
                None if sends_all => Some(Some(e.report)),
                Some(Some(r)) if sends_all && r == e.report => Some(Some(r)),
                _ => Some(None),
            };
        }
        for (service, only) in self.services.iter_mut().zip(callers) {
            service.stats_mirror = only.flatten();
        }
    }

    /// Whether something changes the world while it runs (a mid-run change, an autoscaler, a
    /// probe, a hung replica) or answers calls its own way (a replicated store, a broker and its
    /// consumers): then an edge's
    /// calls may stop being single attempts, or a service stop receiving every attempt its
    /// caller counts, so nothing is mirrored.
    pub(super) fn acts_mid_run(&self, config: &WorldConfig) -> bool {
        let ops = &config.ops;
        !config.stores.is_empty()
            || !config.brokers.is_empty()
            || !ops.changes.is_empty()
            || !ops.autoscalers.is_empty()
            || !ops.probes.is_empty()
            || !ops.rollouts.is_empty()
            || !ops.functions.is_empty()
            || config
                .faults
                .iter()
                .any(|f| matches!(f, Fault::Hang { .. }))
    }

    /// Every statistics object records its own samples (no copies at the end).
    fn record_every_sample(&mut self) {
        for e in &mut self.edges {
            e.calls_mirror_attempts = false;
        }
        for s in &mut self.services {
            s.stats_mirror = None;
        }
    }
}

/// Each store's running state, on its service's replicas' hosts; its random streams are its
/// own, so a scenario without stores draws exactly as before.
fn stores(config: &WorldConfig, streams: &RngStreams) -> Vec<store::StoreState> {
    let mut heals: Vec<SimTime> = config
        .network
        .partitions
        .iter()
        .filter_map(|p| p.to)
        .collect();
    heals.sort_unstable();
    config
        .stores
        .iter()
        .map(|c| {
            let svc = &config.services[c.service];
            let hosts = svc
                .replicas
                .iter()
                .map(|&h| config.topology.hosts[h].name.clone())
                .collect();
            store::StoreState::new(c, streams, &svc.name, hosts, heals.clone())
        })
        .collect()
}

/// The hosts' clocks, or none when every clock is ideal (then no timer needs converting).
fn clocks(config: &WorldConfig) -> Vec<HostClock> {
    if config.clocks.iter().all(|c| *c == ClockConfig::ideal()) {
        return Vec::new();
    }
    (0..config.topology.hosts.len())
        .map(|h| HostClock::new(config.clocks.get(h).cloned().unwrap_or_default()))
        .collect()
}

impl Wiring<'_> {
    /// A fresh report for the edge `from -> to`, made from `from_endpoint` when a service's.
    fn edge_report(&self, from: String, from_endpoint: Option<&str>, to: &str) -> EdgeReport {
        let window = self.config.window;
        EdgeReport {
            from,
            from_endpoint: from_endpoint.map(str::to_owned),
            to: to.to_string(),
            stats: OutcomeStats::new(window),
            attempts: 0,
            retries: 0,
            hedges: 0,
            late_replies: 0,
            calls: OutcomeStats::new(window),
            fallbacks: 0,
            retries_refused: 0,
            breakers: Vec::new(),
            lost_messages: 0,
            ejections: 0,
        }
    }

    /// One calling replica's edge to `to` with its own policy state, drawing from streams named
    /// after `key`. Its endpoint and report are set by the caller.
    fn edge(&self, key: &[&str], caller_host: u32, to: ServiceId, policy: &CallPolicy) -> Edge {
        let (call_layers, attempt_layers) = layers(policy);
        let callee = &self.config.services[to.0 as usize];
        let replicas = callee.replicas.len();
        let health = match callee.health {
            Health::Active(c) => (0..replicas).map(|_| HealthState::new(&c)).collect(),
            _ => Vec::new(),
        };
        let stream = |purpose: &str| self.streams.stream(&[key, &[purpose]].concat());
        let cold = EdgeCold {
            policy: policy.clone(),
            call_layers,
            attempt_layers,
            retry_rng: stream("retry"),
            bulkhead: policy.bulkhead.map(BulkheadState::new),
            last_answer: None,
            breaker: policy.breaker.clone().map(CircuitBreaker::new),
            budget: policy
                .retry
                .as_ref()
                .and_then(|r| r.budget)
                .map(RetryBudget::new),
            throttle: policy.throttle.map(AdaptiveThrottle::new),
            throttle_rng: stream("throttle"),
            patience_rng: stream("patience"),
            health,
            role: EdgeRole::Call,
        };
        let mut edge = Edge {
            outstanding: vec![0; replicas].into_boxed_slice(),
            lb_rng: stream("lb"),
            network_rng: stream("network"),
            // A perfect registry lists only live replicas: no Envoy panic mode there.
            balancer: match callee.health {
                Health::Perfect => {
                    Balancer::new(callee.lb, replicas).with_panic_threshold_percent(0)
                }
                _ => Balancer::new(callee.lb, replicas),
            },
            to,
            timeout: PerTryTimeout::None,
            cold: Box::new(cold),
            draws: None,
            outlier: policy
                .outlier
                .map(|c| Box::new(OutlierDetector::new(c, replicas))),
            role_tag: RoleTag::Call,
            caller_host,
            report: 0,
            to_endpoint: 0,
            calls_mirror_attempts: false,
            plain: false,
            lean: false,
            per_try_deadline: false,
            remembers_answers: false,
        };
        // A mid-run change may give the edge a cached fallback.
        edge.summarise_policy(!self.config.ops.changes.is_empty());
        edge
    }

    /// A service, its replicas and their edges. Every replica gets its own edges (state that
    /// production keeps per client process); the replicas' edges of one call share a report.
    fn service(&mut self, sid: u32, svc: &ServiceConfig) -> ServiceState {
        assert!(svc.workers > 0, "service {} has no workers", svc.name);
        assert!(
            !svc.replicas.is_empty(),
            "service {} has no replicas",
            svc.name
        );
        // The plans of the endpoints: the service's own calls first.
        let plans: Vec<(&str, &Vec<CallConfig>)> =
            std::iter::once((svc.endpoint_name.as_str(), &svc.calls))
                .chain(svc.endpoints.iter().map(|e| (e.name.as_str(), &e.calls)))
                .collect();
        let mut first_reports = Vec::new();
        for (endpoint, calls) in &plans {
            first_reports.push(self.edge_reports.len() as u32);
            for call in calls.iter() {
                let to = &self.config.services[call.to.0 as usize].name;
                let report = self.edge_report(svc.name.clone(), Some(endpoint), to);
                self.edge_reports.push(report);
            }
        }
        let mut replicas = Vec::with_capacity(svc.replicas.len());
        for (r, &host) in svc.replicas.iter().enumerate() {
            self.host_replicas[host].push((sid, r as u32));
            let call_edges = plans
                .iter()
                .enumerate()
                .map(|(ep, &(ep_name, calls))| {
                    let plan = PlanEdges {
                        replica: r,
                        host,
                        endpoint: ep,
                        endpoint_name: ep_name,
                        first_report: first_reports[ep],
                    };
                    self.plan_edges(svc, calls, &plan)
                })
                .collect();
            let host_name = self.config.topology.hosts[host].name.clone();
            replicas.push(Replica::new(svc, host as u32, host_name, call_edges));
        }
        ServiceState::new(svc, replicas, &self.streams, self.config.window)
    }

    /// The edges of one replica's plan for one endpoint, in plan order.
    fn plan_edges(
        &mut self,
        svc: &ServiceConfig,
        calls: &[CallConfig],
        at: &PlanEdges,
    ) -> Vec<EdgeId> {
        let mut ep_edges = Vec::with_capacity(calls.len());
        for (index, call) in calls.iter().enumerate() {
            let to = &self.config.services[call.to.0 as usize].name;
            let index_s = index.to_string();
            // The first replica's first endpoint keeps the stream names of an unreplicated
            // service with one endpoint.
            let replica = format!("replica-{}", at.replica);
            let endpoint = format!("endpoint-{}", at.endpoint_name);
            let mut key = vec!["edge", "service", svc.name.as_str(), &index_s, to];
            if at.replica > 0 {
                key.push(&replica);
            }
            if at.endpoint > 0 {
                key.push(&endpoint);
            }
            let mut edge = self.edge(&key, at.host as u32, call.to, &call.policy);
            edge.to_endpoint = call.endpoint;
            edge.report = at.first_report + index as u32;
            edge.calls_mirror_attempts = one_attempt_per_call(&call.policy, svc.propagate_deadline);
            if let Some(p) = call.publish {
                edge.set_role(EdgeRole::Publish(p));
                if let Some(k) = p.key {
                    // A stream per step and replica of its own: no other stream shifts.
                    let r = at.replica.to_string();
                    let key = ["publish", "key", &svc.name, at.endpoint_name, &index_s, &r];
                    let config = &self.config.brokers.keys[usize::from(k)];
                    let space = self
                        .key_spaces
                        .entry(k)
                        .or_insert_with(|| Arc::new(KeySpace::new(config)));
                    let draws = KeyDraws::new(space.clone(), self.streams.stream(&key));
                    edge.draws = Some(Box::new(match p.write {
                        None => OriginDraws::PublishKey(draws),
                        Some(_) => OriginDraws::RecordKey(draws),
                    }));
                }
            }
            ep_edges.push(EdgeId(self.edges.len() as u32));
            self.edges.push(edge);
        }
        ep_edges
    }

    /// A client, with one edge per request type (their own policy state, one shared report).
    fn client(&mut self, client: &ClientConfig) -> ClientState {
        let to = &self.config.services[client.to.0 as usize].name;
        let key = ["edge", "client", &client.name, "0", to];
        let edge = EdgeId(self.edges.len() as u32);
        let mut policy = client.policy.clone();
        let (users, user_retry) = match &client.arrivals {
            // The users retry whole read-modify-write cycles; the single calls do not.
            Arrivals::ReadModifyWrite { users } => (*users, policy.retry.take()),
            Arrivals::ClosedLoop { users, .. } => (*users, None),
            _ => (0, None),
        };
        let mut e = self.edge(&key, client.host as u32, client.to, &policy);
        e.report = self.edge_reports.len() as u32;
        e.calls_mirror_attempts = one_attempt_per_call(&policy, false);
        let report = self.edge_report(format!("client:{}", client.name), None, to);
        self.edge_reports.push(report);
        self.edges.push(e);
        let mut kinds = vec![RequestKind {
            edge,
            endpoint: client.requests.first().map_or(0, |r| r.0),
            weight: 0.0,
        }];
        for (k, &(endpoint, weight)) in client.requests.iter().enumerate() {
            if k == 0 {
                kinds[0].weight = weight;
                continue;
            }
            let kind = format!("request-{k}");
            let key = ["edge", "client", &client.name, &kind, to];
            let mut e = self.edge(&key, client.host as u32, client.to, &policy);
            e.report = self.edges[edge].report;
            e.calls_mirror_attempts = self.edges[edge].calls_mirror_attempts;
            e.to_endpoint = endpoint;
            let edge = EdgeId(self.edges.len() as u32);
            kinds.push(RequestKind {
                edge,
                endpoint,
                weight,
            });
            self.edges.push(e);
        }
        self.edges[edge].to_endpoint = kinds[0].endpoint;
        ClientState::new(
            client,
            to,
            kinds,
            users,
            user_retry,
            &self.streams,
            self.config.window,
        )
    }
}

impl Wiring<'_> {
    /// A consumer replica's edge for the messages it receives from `broker`: no policy, and
    /// a report of its own (`broker -> consumer`).
    fn delivery_edge(
        &mut self,
        key: &[&str],
        replica: u32,
        host: u32,
        to: ServiceId,
        broker: &str,
    ) -> EdgeId {
        let callee = &self.config.services[to.0 as usize];
        let mut e = self.edge(key, host, to, &CallPolicy::default());
        e.set_role(EdgeRole::Deliver { replica });
        let name = callee.name.clone();
        let found = self
            .edge_reports
            .iter()
            .position(|r| r.from == broker && r.to == name);
        e.report = match found {
            Some(r) => r as u32,
            None => {
                let report = self.edge_report(broker.to_string(), None, &name);
                self.edge_reports.push(report);
                (self.edge_reports.len() - 1) as u32
            }
        };
        self.edges.push(e);
        EdgeId(self.edges.len() as u32 - 1)
    }
}

/// Where one replica's plan edges for one endpoint sit.
struct PlanEdges<'a> {
    replica: usize,
    host: usize,
    endpoint: usize,
    endpoint_name: &'a str,
    /// The report of the endpoint's first call; the others follow it.
    first_report: u32,
}
