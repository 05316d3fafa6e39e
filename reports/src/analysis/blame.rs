//! Which faults are blamed for what: a fault's reach along the call graph, the unhealthy
//! intervals each fault claims (shared by faults that start together), and the order of a
//! cascade with the path the damage took.

use std::collections::BTreeSet;

use models::{EdgeReport, FaultReport};
use sim_core::SimTime;

use super::{Analyser, CascadeStep, EntityHealth, EntityKind, Episode, Interval};

/// The services, clients, queues and consumer groups a fault can damage.
pub(super) struct Reach {
    pub(super) services: BTreeSet<String>,
    pub(super) clients: BTreeSet<String>,
    /// Queues and groups (`topic/group`) whose broker the fault acts on, or one of whose
    /// consumers is in the reach: a consumer that slows, stops or fails leaves messages
    /// waiting. A queue damages nothing further: its producers only publish.
    pub(super) queues: BTreeSet<String>,
    pub(super) groups: BTreeSet<String>,
}

impl Reach {
    pub(super) fn holds(&self, e: &EntityHealth) -> bool {
        match e.kind {
            EntityKind::Service => self.services.contains(&e.name),
            EntityKind::Client => self.clients.contains(&e.name),
            EntityKind::Edge => false,
            EntityKind::Queue => self.queues.contains(&e.name),
            EntityKind::ConsumerGroup => self.groups.contains(&e.name),
        }
    }
}

/// A fault blamed for one unhealthy interval: `entities[entity].unhealthy[interval]`.
#[derive(Clone, Copy, PartialEq)]
pub(super) struct Claim {
    pub(super) entity: usize,
    pub(super) interval: usize,
}

impl<'a> Analyser<'a> {
    /// What fault `index` can damage: the services and clients it acts on, and everything
    /// that calls them, transitively. A load spike also loads what its service calls, so that
    /// comes first (and what else calls those).
    pub(super) fn reach(&self, fault: &FaultReport) -> Reach {
        let mut reach = Reach {
            services: fault.services.iter().cloned().collect(),
            clients: fault.clients.iter().cloned().collect(),
            queues: BTreeSet::new(),
            groups: BTreeSet::new(),
        };
        let caller = |e: &'a EdgeReport| e.from.strip_prefix("client:");
        if fault.kind == "load_spike" {
            let mut frontier: Vec<String> = reach.services.iter().cloned().collect();
            while let Some(service) = frontier.pop() {
                for e in self.result.edges.iter().filter(|e| e.from == service) {
                    if reach.services.insert(e.to.clone()) {
                        frontier.push(e.to.clone());
                    }
                }
            }
        }
        let mut frontier: Vec<String> = reach.services.iter().cloned().collect();
        while let Some(service) = frontier.pop() {
            for e in self.result.edges.iter().filter(|e| e.to == service) {
                match caller(e) {
                    Some(client) => {
                        reach.clients.insert(client.to_owned());
                    }
                    None => {
                        if reach.services.insert(e.from.clone()) {
                            frontier.push(e.from.clone());
                        }
                    }
                }
            }
        }
        // A load spike's extra messages reach the broker its service publishes to.
        let broker_hit = |broker: &String| {
            fault.services.contains(broker)
                || (fault.kind == "load_spike" && reach.services.contains(broker))
        };
        let queues: BTreeSet<String> = self
            .result
            .queues
            .iter()
            .filter(|q| {
                broker_hit(&q.broker) || q.consumers.iter().any(|c| reach.services.contains(c))
            })
            .map(|q| q.name.clone())
            .collect();
        let groups: BTreeSet<String> = self
            .result
            .topics
            .iter()
            .flat_map(|t| t.groups.iter().map(move |g| (t, g)))
            .filter(|(t, g)| broker_hit(&t.broker) || reach.services.contains(&g.name))
            .map(|(t, g)| super::group_name(&t.name, &g.name))
            .collect();
        reach.queues = queues;
        reach.groups = groups;
        reach
    }

    /// The unhealthy intervals fault `index` is blamed for: per service or client it reaches,
    /// the first interval that starts in the fault's first window or later, and before the
    /// next fault that also reaches it starts. An interval already running when the fault
    /// began is not its doing; faults that start together and both reach an entity share its
    /// interval, whatever their order in the file. A chaos or leak fault also claims the first
    /// interval that began during one of its crash `episodes`.
    pub(super) fn claims(
        &self,
        index: usize,
        reach: &[Reach],
        episodes: &[Episode],
        entities: &[EntityHealth],
    ) -> Vec<Claim> {
        let faults = &self.result.faults;
        let start = |i: usize| self.window_start(faults[i].from);
        let mut out = Vec::new();
        for (entity, e) in entities.iter().enumerate() {
            if !reach[index].holds(e) {
                continue;
            }
            let until = (0..faults.len())
                .filter(|&j| start(j) > start(index) && reach[j].holds(e))
                .map(start)
                .min()
                .unwrap_or(SimTime::MAX);
            let in_episode = |iv: &Interval| episodes.iter().any(|ep| self.during(ep, iv));
            if let Some(interval) = e
                .unhealthy
                .iter()
                .position(|iv| (iv.from >= start(index) && iv.from < until) || in_episode(iv))
            {
                out.push(Claim { entity, interval });
            }
        }
        out
    }

    /// The start of the window holding `t`: an unhealthy interval starts at a window's start.
    pub(super) fn window_start(&self, t: SimTime) -> SimTime {
        let w = self.window.as_nanos();
        SimTime(t.as_nanos() / w * w)
    }

    /// Puts a cascade in order: earliest first; at the same window, callees before callers
    /// (what the fault acts on first), then file order; and names the path the damage took to
    /// each step the fault does not act on directly.
    pub(super) fn order(&self, fault: &FaultReport, steps: &mut [(CascadeStep, &Interval)]) {
        let direct = |step: &CascadeStep| match step.kind {
            EntityKind::Service => fault.services.contains(&step.name),
            EntityKind::Client => fault.clients.contains(&step.name),
            EntityKind::Edge | EntityKind::Queue | EntityKind::ConsumerGroup => false,
        };
        // A queue sits one step below the nearest of its broker and consumers.
        let depth = |step: &CascadeStep| match self.links(step.kind, &step.name) {
            Some(links) => std::iter::once(links.broker)
                .chain(links.consumers)
                .map(|n| self.depth_from(n, &fault.services))
                .min()
                .unwrap_or(usize::MAX)
                .saturating_add(1),
            None => self.depth_from(&step.name, &fault.services),
        };
        steps.sort_by_key(|(s, _)| (s.from, depth(s)));
        for k in 0..steps.len() {
            let (earlier, rest) = steps.split_at_mut(k);
            let step = &mut rest[0].0;
            if direct(step) {
                continue;
            }
            let earlier = earlier.iter().map(|(s, _)| s.name.as_str());
            step.via = match step.kind {
                EntityKind::Queue | EntityKind::ConsumerGroup => {
                    self.queue_via(step, &fault.services, earlier)
                }
                _ => self.edge_towards(&step.name, earlier),
            };
        }
    }

    /// Calls from `name` to the nearest of `targets` along the call graph (0 for a target
    /// itself, large if unreachable): callees sort before their callers.
    pub(super) fn depth_from(&self, name: &str, targets: &[String]) -> usize {
        let mut frontier = targets.to_vec();
        let mut seen = targets.to_vec();
        for depth in 0..=self.result.edges.len() + 1 {
            if frontier.iter().any(|n| n == name) {
                return depth;
            }
            let mut next = Vec::new();
            for e in &self.result.edges {
                let caller = e.from.strip_prefix("client:").unwrap_or(&e.from).to_owned();
                if frontier.contains(&e.to) && !seen.contains(&caller) {
                    seen.push(caller.clone());
                    next.push(caller);
                }
            }
            frontier = next;
        }
        usize::MAX
    }

    /// The edge from `name` to an entity that became unhealthy earlier.
    pub(super) fn edge_towards<'n>(
        &self,
        name: &str,
        earlier: impl Iterator<Item = &'n str> + Clone,
    ) -> Option<String> {
        let names = crate::common::edge_names(&self.result.edges);
        self.result.edges.iter().zip(names).find_map(|(e, edge)| {
            let caller = e.from.strip_prefix("client:").unwrap_or(&e.from);
            (caller == name && earlier.clone().any(|n| n == e.to)).then_some(edge)
        })
    }
}
