//! Mid-run changes: a `--set` made at a simulated time ("we changed the timeout at 10:02"),
//! reaching the replicas that hold the state it changes one by one over its rollout. Each
//! change is also a [`FaultReport`] of kind `change`, so the analysis can start a cascade at it.

use super::*;
use crate::ops::ChangeAction;

impl World {
    /// Each change as the reports see it, after the faults: what it acts on directly is the
    /// service whose replicas hold the changed state, or the client.
    pub(super) fn install_changes(&mut self, config: &WorldConfig) {
        for change in &config.ops.changes {
            let mut services: Vec<usize> = Vec::new();
            let mut clients: Vec<String> = Vec::new();
            for action in &change.actions {
                match action {
                    ChangeAction::Client { client, .. } => {
                        let c = &config.clients[client.0 as usize];
                        if !clients.contains(&c.name) {
                            clients.push(c.name.clone());
                        }
                        services.push(c.to.0 as usize);
                    }
                    _ => services.extend(action.service().map(|s| s.0 as usize)),
                }
            }
            services.sort_unstable();
            services.dedup();
            let names: Vec<String> = services
                .iter()
                .map(|&s| config.services[s].name.clone())
                .collect();
            // The last replica reached ends the change's window.
            let to = services
                .iter()
                .map(|&s| {
                    let n = config.services[s].replicas.len() as u32;
                    change.at_replica(n.saturating_sub(1), n)
                })
                .max()
                .unwrap_or(change.at);
            self.faults.push(FaultReport {
                kind: "change",
                service: names.first().cloned().unwrap_or_default(),
                services: names,
                clients,
                description: format!("change {}", change.description),
                from: change.at,
                to,
            });
        }
    }

    /// One event per action and replica reached, at its rollout time.
    pub(super) fn schedule_changes(&mut self, s: &mut Scheduler<WorldEvent>) {
        for (c, change) in self.changes.iter().enumerate() {
            for (a, action) in change.actions.iter().enumerate() {
                let n = action
                    .service()
                    .map_or(1, |s| self.services[s.0 as usize].replicas.len() as u32);
                for replica in 0..n {
                    let event = WorldEvent::Change {
                        change: c as u32,
                        action: a as u32,
                        replica,
                    };
                    s.schedule_at(change.at_replica(replica, n), event);
                }
            }
        }
    }

    /// A change's action reaches one replica (or a client): its state is replaced; what is in
    /// flight carries on, and meets the new state at its next decision (the next attempt's
    /// timeout, the next retry decision, the next plan step, the next arrival at the limiter).
    pub(super) fn on_change(&mut self, now: SimTime, change: u32, action: u32, replica: u32) {
        let action = self.changes[change as usize].actions[action as usize].clone();
        match action {
            ChangeAction::Call {
                service,
                endpoint,
                call,
                policy,
                probability,
            } => {
                let inst = &self.services[service.0 as usize].replicas[replica as usize];
                let edge = inst.call_edges[usize::from(endpoint)][usize::from(call)];
                self.set_policy(edge, &policy);
                let plan =
                    &mut self.replica_endpoints(service, replica)[usize::from(endpoint)].plan;
                plan[usize::from(call)].0 = probability;
            }
            ChangeAction::Client { client, mut policy } => {
                if let Arrivals::ReadModifyWrite { .. } = self.arrivals[client.0 as usize] {
                    // The users retry whole cycles, with the retry they were given at wiring.
                    policy.retry = None;
                }
                let edges: Vec<EdgeId> = self.clients[client.0 as usize]
                    .kinds
                    .iter()
                    .map(|k| k.edge)
                    .collect();
                for edge in edges {
                    self.set_policy(edge, &policy);
                }
            }
            ChangeAction::Work {
                service,
                endpoint,
                service_time,
                error_rate,
            } => {
                let ep = &mut self.replica_endpoints(service, replica)[usize::from(endpoint)];
                ep.service_time = service_time;
                ep.error_rate = error_rate;
            }
            ChangeAction::RateLimit {
                service,
                rate_limit,
            } => {
                let inst = &mut self.services[service.0 as usize].replicas[replica as usize];
                inst.cold.rate_limiter = rate_limit.map(|c| RateLimiter::new(c, now));
            }
        }
    }

    /// The edge's policy replaced. The build allows only changes whose state carries over
    /// (the same breaker, bulkhead, budget, throttle, outlier detection, hedge and order), so
    /// the edge's policy objects stay as they are.
    fn set_policy(&mut self, edge: EdgeId, policy: &CallPolicy) {
        let e = &mut self.edges[edge];
        e.cold.policy = policy.clone();
        let (call_layers, attempt_layers) = layers(policy);
        e.cold.call_layers = call_layers;
        e.cold.attempt_layers = attempt_layers;
        e.summarise_policy(true);
    }

    /// The endpoints `replica` runs, its own copy from the first change that reaches it.
    pub(super) fn replica_endpoints(
        &mut self,
        service: ServiceId,
        replica: u32,
    ) -> &mut Vec<EndpointSpec> {
        let n = self.services[service.0 as usize].replicas.len();
        let ServiceSpec {
            by_replica,
            endpoints,
            ..
        } = &mut self.specs[service.0 as usize];
        if by_replica.len() < n {
            by_replica.resize_with(n, || None);
        }
        by_replica[replica as usize].get_or_insert_with(|| endpoints.clone())
    }
}
