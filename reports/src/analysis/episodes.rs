//! The crash episodes of chaos and leak faults: faults that last the whole run, so their own
//! verdict is always "fault still active", while each crash (replicas down together until their
//! restart) is a fault of its own that the system does or does not recover from.

use sim_core::{SimDuration, SimTime};

use super::{Analyser, CascadeStep, Claim, EntityHealth, EntityKind, Interval, Reach, Verdict};

/// One crash episode: the replicas a chaos or leak fault took down at one instant, and what
/// that did.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    /// When the replicas went down.
    pub from: SimTime,
    /// When the last of them ran again; `None` if one was still down at the end of the run.
    pub to: Option<SimTime>,
    /// `service/replica` of each replica down, in file order.
    pub replicas: Vec<String>,
    /// Services and clients in the fault's reach whose unhealthy interval began while the
    /// replicas were down, in cascade order, each with the other faults blamed for it too.
    pub cascade: Vec<CascadeStep>,
    /// From the last restart until every step was healthy again; `Some(0)` without impact.
    pub time_to_recover: Option<SimDuration>,
    /// `NoImpact`, `Recovered`, `DidNotRecover` (still unhealthy at the end although the
    /// replicas ran again) or `FaultStillActive` (a replica still down at the end).
    pub verdict: Verdict,
}

impl Analyser<'_> {
    /// The crash episodes of fault `index` if it is a chaos or leak fault, not yet judged: its
    /// replicas' outages (a leak's are those of its service that no scripted fault caused),
    /// those that overlap merged into one (a host's replicas go down together).
    pub(super) fn episodes(&self, index: usize) -> Vec<Episode> {
        let fault = &self.result.faults[index];
        let ours = |service: &str, outage: &models::Outage| match fault.kind {
            "chaos" => outage.fault == Some(index as u32),
            "leak" => outage.fault.is_none() && service == fault.service,
            _ => false,
        };
        let mut outages: Vec<(SimTime, Option<SimTime>, String)> = Vec::new();
        for s in &self.result.services {
            for (r, replica) in s.replicas.iter().enumerate() {
                for o in replica.outages.iter().filter(|o| ours(&s.name, o)) {
                    outages.push((o.from, o.to, format!("{}/{r}", s.name)));
                }
            }
        }
        // Stable: replicas stay in file order within an instant.
        outages.sort_by_key(|&(from, _, _)| from);
        let mut episodes: Vec<Episode> = Vec::new();
        for (from, to, replica) in outages {
            match episodes.last_mut() {
                // Down while the episode's replicas are: the same episode.
                Some(e) if e.to.is_none_or(|end| from < end) => {
                    e.to = e.to.zip(to).map(|(a, b)| a.max(b));
                    if !e.replicas.contains(&replica) {
                        e.replicas.push(replica);
                    }
                }
                _ => episodes.push(Episode {
                    from,
                    to,
                    replicas: vec![replica],
                    cascade: Vec::new(),
                    time_to_recover: None,
                    verdict: Verdict::NoImpact,
                }),
            }
        }
        episodes
    }

    /// Whether an unhealthy interval began during an episode: in the crash's window or later,
    /// and no later than the restart (the end of the run if none).
    pub(super) fn during(&self, episode: &Episode, iv: &Interval) -> bool {
        let until = episode.to.unwrap_or(self.end);
        iv.from >= self.window_start(episode.from) && iv.from <= until
    }

    /// An episode's cascade: per entity in the reach, its first unhealthy interval that began
    /// during the episode, with the other faults blamed for it too; then the verdict as for a
    /// fault that ended at the restart.
    pub(super) fn judge_episode(
        &self,
        index: usize,
        reach: &Reach,
        claims: &[Vec<Claim>],
        entities: &[EntityHealth],
        episode: &mut Episode,
    ) {
        let until = episode.to.unwrap_or(self.end);
        let mut steps: Vec<(CascadeStep, &Interval)> = entities
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind != EntityKind::Edge && reach.holds(e))
            .filter_map(|(entity, e)| {
                let interval = e.unhealthy.iter().position(|iv| self.during(episode, iv))?;
                let claim = Claim { entity, interval };
                Some(self.claimed_step(index, &claim, claims, entities))
            })
            .collect();
        self.order(&self.result.faults[index], &mut steps);
        episode.verdict = match episode.to {
            _ if steps.is_empty() => Verdict::NoImpact,
            None => Verdict::FaultStillActive,
            Some(_) if steps.iter().any(|(_, iv)| iv.open_at_end) => Verdict::DidNotRecover {
                sustained_by: self.sustained_by(until, reach),
            },
            Some(to) => Verdict::Recovered {
                at: steps
                    .iter()
                    .map(|(_, iv)| iv.to)
                    .max()
                    .unwrap_or(to)
                    .max(to),
            },
        };
        episode.time_to_recover = match episode.verdict {
            Verdict::Recovered { at } => Some(at.saturating_since(until)),
            Verdict::NoImpact => Some(SimDuration::ZERO),
            _ => None,
        };
        episode.cascade = steps.into_iter().map(|(s, _)| s).collect();
    }
}
