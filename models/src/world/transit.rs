//! What the network does to one message: a down host, a partition or loss swallow it, a
//! refusing partition refuses it, link faults slow it.

use super::*;

/// A latency fault on the links from hosts in `a` to hosts in `b` (and back unless one-way).
pub(super) struct LinkFault {
    pub(super) in_a: Vec<bool>,
    pub(super) in_b: Vec<bool>,
    pub(super) one_way: bool,
    pub(super) multiply: f64,
    pub(super) add: SimDuration,
    pub(super) from: SimTime,
    pub(super) to: SimTime,
}

/// What the network did with a message.
pub(super) enum Transit {
    Arrives(SimDuration),
    /// Lost, dropped by a partition, or sent to or from a host that is down.
    Lost,
    /// A partition refuses the connection; the sender learns it after this long.
    Refused(SimDuration),
}

impl World {
    /// What the network does to one message from `from` to `to` now, drawing from the edge's
    /// stream: a down host, a partition or loss swallow it; a refusing partition refuses it.
    /// Inline in every caller: on a uniform network (the common case) it is a few tests and
    /// the latency's draw.
    #[inline(always)]
    pub(super) fn transmit(
        &mut self,
        edge_id: EdgeId,
        from: u32,
        to: u32,
        now: SimTime,
    ) -> Transit {
        if let Some(latency) = &self.uniform_latency {
            let edge = &mut self.edges[edge_id];
            // A consumer's processing of a message it received is a call within its process:
            // `transmit_through` sees to it.
            if !matches!(edge.role_tag, RoleTag::Deliver { .. })
                && self.host_down[from as usize] == 0
                && self.host_down[to as usize] == 0
            {
                // No partitions, no loss, no overrides and one latency everywhere: no lookups
                // (and a constant draws nothing).
                return Transit::Arrives(match latency {
                    Distribution::Constant(d) => *d,
                    _ => latency.sample(&mut edge.network_rng),
                });
            }
        }
        self.transmit_through(edge_id, from, to, now)
    }

    /// `transmit` over a network that is not uniform, from or to a host that is down, or of a
    /// consumer's message to its own process.
    #[inline(never)]
    fn transmit_through(&mut self, edge_id: EdgeId, from: u32, to: u32, now: SimTime) -> Transit {
        if matches!(self.edges[edge_id].role_tag, RoleTag::Deliver { .. }) && from == to {
            return Transit::Arrives(SimDuration::ZERO);
        }
        if let Some(latency) = &self.uniform_latency
            && self.host_down[from as usize] == 0
            && self.host_down[to as usize] == 0
        {
            return Transit::Arrives(match latency {
                Distribution::Constant(d) => *d,
                _ => latency.sample(&mut self.edges[edge_id].network_rng),
            });
        }
        let edge = &mut self.edges[edge_id];
        let (f, t) = (from as usize, to as usize);
        let cut = if self.host_down[f] > 0 || self.host_down[t] > 0 {
            Some(CutMode::Drop)
        } else {
            self.net.cut(now, f, t)
        };
        let outcome = match cut {
            Some(CutMode::Drop) => Transit::Lost,
            Some(CutMode::Refuse) => {
                Transit::Refused(self.net.latency(t, f, &mut edge.network_rng))
            }
            None if self.net.lost(f, t, &mut edge.network_rng) => Transit::Lost,
            None => {
                let mut latency = self.net.latency(f, t, &mut edge.network_rng);
                for lf in &self.link_faults {
                    let matches =
                        (lf.in_a[f] && lf.in_b[t]) || (!lf.one_way && lf.in_b[f] && lf.in_a[t]);
                    if matches && lf.from <= now && now < lf.to {
                        latency = latency.mul_f64(lf.multiply) + lf.add;
                    }
                }
                Transit::Arrives(latency)
            }
        };
        if matches!(outcome, Transit::Lost) {
            self.edge_reports[edge.report as usize].lost_messages += 1;
        }
        outcome
    }
}

/// The network's runtime state, and its one latency when the network is uniform (no
/// partitions, loss, link overrides or link faults, and the same latency within and across
/// zones and regions): then a message needs no lookups.
pub(super) fn network(
    config: &WorldConfig,
    host_zone: &[usize],
    zone_region: &[usize],
    link_faults: &[LinkFault],
) -> (Network, Option<Distribution>) {
    let n = &config.network;
    let net = Network::new(n.clone(), host_zone, zone_region)
        .expect("WorldConfig::network is validated against the topology when it is built");
    let uniform = n.partitions.is_empty()
        && link_faults.is_empty()
        && n.links.is_empty()
        && n.loss == 0.0
        && n.cross_zone.as_ref().is_none_or(|d| *d == n.latency)
        && n.cross_region.as_ref().is_none_or(|d| *d == n.latency);
    (net, uniform.then(|| n.latency.clone()))
}
