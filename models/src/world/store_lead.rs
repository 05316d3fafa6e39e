//! Replicated stores, the leadership side: heartbeats, leases on local clocks, failover with a
//! promotion delay, old leaders stepping down and resynchronising (their divergent entries
//! discarded), split-brain intervals, divergence after a partition heals, and the report.
//!
//! Leadership is judged at each heartbeat (`heartbeat`, true time), so crashes and split-brain
//! intervals are seen to within one heartbeat. A follower *hears* the leader at a heartbeat
//! when both run and messages pass both ways; it suspects the leader once its own clock says
//! `failover_after` (or the lease's `duration`) has passed since it last heard it. The
//! follower with the longest log among those that suspect it and can reach a majority is
//! promoted after `promotion_delay` on its clock. A leader with a lease renews it at each
//! heartbeat at which it reaches a majority, and takes writes only while its own clock says
//! the lease holds: a clock stepped back keeps an old leader taking writes after the others
//! have promoted a new one. Nothing prevents two leaders: the model counts them.

use super::*;
use crate::data::check::{self, History, Rule, Survival};
use crate::data::report::{AnomalyWindow, Divergence, LeaderSpan, StoreReport};
use crate::data::{ReadFrom, Replication, Resolve};

use super::store::Body;

impl World {
    fn store_majority(&self, st: usize, r: u32, up: &[bool], now: SimTime) -> bool {
        let n = self.stores[st].n as u32;
        let reach = (0..n)
            .filter(|&q| {
                up[q as usize] && self.store_reach(st, r, q, now) && self.store_reach(st, q, r, now)
            })
            .count() as u32;
        reach > n / 2
    }

    fn store_close_span(&mut self, st: usize, r: u32, now: SimTime) {
        if let Some(span) = self.stores[st]
            .leaders
            .iter_mut()
            .rev()
            .find(|l| l.replica == r && l.to.is_none())
        {
            span.to = Some(now);
        }
    }

    fn store_split_check(&mut self, st: usize, now: SimTime) {
        let n = self.stores[st].n as u32;
        let accepting = (0..n).filter(|&r| self.store_accepting(st, r, now)).count();
        let state = &mut self.stores[st];
        match (accepting >= 2, state.split_since) {
            (true, None) => state.split_since = Some(now),
            (false, Some(from)) => {
                state.split.push((from, now));
                state.split_since = None;
            }
            _ => {}
        }
    }

    /// Keys on which the running replicas do not all hold the same values.
    fn store_divergent_keys(&self, st: usize, up: &[bool]) -> u32 {
        let state = &self.stores[st];
        let running: Vec<usize> = (0..state.n).filter(|&r| up[r]).collect();
        let Some((&first, rest)) = running.split_first() else {
            return 0;
        };
        (0..state.cfg.keys as usize)
            .filter(|&k| {
                if state.cfg.replication.leaderless() {
                    rest.iter()
                        .any(|&r| state.values[r][k] != state.values[first][k])
                } else {
                    rest.iter()
                        .any(|&r| state.logs[r].latest[k] != state.logs[first].latest[k])
                }
            })
            .count() as u32
    }

    /// The first leader (replica 0) starts with a fresh lease on its own clock.
    pub(super) fn store_start(&mut self, st: usize) {
        if let Some(lease) = &self.stores[st].cfg.lease {
            let until =
                self.store_local(st, 0, SimTime::ZERO) + i128::from(lease.duration.as_nanos());
            self.stores[st].lease_until[0] = until;
        }
    }

    pub(super) fn on_store_tick(&mut self, s: &mut Scheduler<WorldEvent>, st: usize) {
        let now = s.now();
        let n = self.stores[st].n as u32;
        let up: Vec<bool> = (0..n).map(|r| self.store_up(st, r)).collect();
        for r in 0..n {
            let state = &mut self.stores[st];
            if state.was_up[r as usize] && !up[r as usize] && state.believes_leader[r as usize] {
                // A crashed process forgets that it led; it comes back as a follower.
                state.believes_leader[r as usize] = false;
                self.store_close_span(st, r, now);
            }
            self.stores[st].was_up[r as usize] = up[r as usize];
        }
        if !self.stores[st].cfg.replication.leaderless() {
            self.store_leadership(s, st, &up);
            self.store_split_check(st, now);
        }
        self.store_divergence(st, &up, now);
        let state = &mut self.stores[st];
        state.last_tick = now;
        s.schedule_in(
            state.cfg.heartbeat,
            WorldEvent::StoreTick { store: st as u32 },
        );
    }

    fn store_leadership(&mut self, s: &mut Scheduler<WorldEvent>, st: usize, up: &[bool]) {
        let now = s.now();
        let n = self.stores[st].n as u32;
        let l = self.stores[st].current;
        let sees = |w: &World, r: u32| {
            up[l as usize] && w.store_reach(st, r, l, now) && w.store_reach(st, l, r, now)
        };
        if up[l as usize] {
            self.stores[st].last_heard[l as usize] = now;
        }
        for r in (0..n).filter(|&r| r != l && up[r as usize]) {
            if !sees(self, r) {
                continue;
            }
            let state = &mut self.stores[st];
            state.last_heard[r as usize] = now;
            state.known_leader[r as usize] = l;
            if state.term[r as usize] < state.newest_term || state.believes_leader[r as usize] {
                if state.believes_leader[r as usize] {
                    state.believes_leader[r as usize] = false;
                    self.store_close_span(st, r, now);
                }
                // It learns the newer term and makes its log the leader's: whatever it holds
                // that the leader lacks is discarded.
                let state = &mut self.stores[st];
                let leader_log = state.logs[l as usize].clone();
                state.logs[r as usize].resync(&leader_log);
                state.term[r as usize] = state.newest_term;
            } else if state.logs[r as usize].len() < state.logs[l as usize].len()
                && state.logs[r as usize].len() == state.last_len[r as usize]
                && state.ship_at[l as usize * state.n + r as usize] < now
            {
                let upto = state.logs[l as usize].len();
                let work = state.cfg.apply.sample(&mut state.apply_rng);
                self.store_send(s, st, l, r, Body::CatchUp { upto }, work);
            }
        }
        let lease = self.stores[st].cfg.lease.clone();
        if let Some(lease) = &lease {
            for r in 0..n {
                if up[r as usize]
                    && self.stores[st].believes_leader[r as usize]
                    && self.store_majority(st, r, up, now)
                {
                    let local = self.store_local(st, r, now);
                    self.stores[st].lease_until[r as usize] =
                        local + i128::from(lease.duration.as_nanos());
                }
            }
        }
        let state = &mut self.stores[st];
        for (last, log) in state.last_len.iter_mut().zip(&state.logs) {
            *last = log.len();
        }
        if state.promoting {
            return;
        }
        let wait = match &lease {
            Some(lease) => lease.duration,
            None => self.stores[st].cfg.failover_after,
        };
        let candidate = (0..n)
            .filter(|&r| r != l && up[r as usize] && !sees(self, r))
            .filter(|&r| self.store_majority(st, r, up, now))
            .max_by_key(|&r| (self.stores[st].logs[r as usize].len(), std::cmp::Reverse(r)));
        if let Some(r) = candidate {
            let heard = self.stores[st].last_heard[r as usize];
            let waited = self.store_local(st, r, now) - self.store_local(st, r, heard);
            if waited >= i128::from(wait.as_nanos()) {
                self.stores[st].promoting = true;
                let host = self.store_host(st, r);
                let delay = self.local_delay(host, now, self.stores[st].cfg.promotion_delay);
                s.schedule_in(
                    delay,
                    WorldEvent::StorePromote {
                        store: st as u32,
                        replica: r,
                    },
                );
            }
        }
    }

    /// The promotion decided a `promotion_delay` ago takes effect, if the replica still runs:
    /// a new term, its lease, and the replicas it reaches follow it.
    pub(super) fn on_store_promote(&mut self, now: SimTime, st: usize, r: u32) {
        self.stores[st].promoting = false;
        if !self.store_up(st, r) {
            return;
        }
        let local = self.store_local(st, r, now);
        let n = self.stores[st].n as u32;
        let reached: Vec<u32> = (0..n)
            .filter(|&q| q != r && self.store_up(st, q) && self.store_reach(st, r, q, now))
            .collect();
        let state = &mut self.stores[st];
        state.newest_term += 1;
        let term = state.newest_term;
        let streams = r as usize * state.n..(r as usize + 1) * state.n;
        state.acked[streams].fill(0);
        state.term[r as usize] = term;
        state.believes_leader[r as usize] = true;
        state.current = r;
        state.known_leader[r as usize] = r;
        state.logs[r as usize].term_seen = term;
        if let Some(lease) = &state.cfg.lease {
            state.lease_until[r as usize] = local + i128::from(lease.duration.as_nanos());
        }
        state.leaders.push(LeaderSpan {
            replica: r,
            term,
            from: now,
            to: None,
        });
        for q in reached {
            state.known_leader[q as usize] = r;
            state.last_heard[q as usize] = now;
            let log = &mut state.logs[q as usize];
            log.term_seen = log.term_seen.max(term);
        }
        self.store_split_check(st, now);
    }

    fn store_divergence(&mut self, st: usize, up: &[bool], now: SimTime) {
        let state = &self.stores[st];
        let last = state.last_tick;
        let healed: Vec<SimTime> = state
            .heals
            .iter()
            .copied()
            .filter(|&h| last < h && h <= now)
            .collect();
        let open = state.divergence.iter().any(|d| d.converged_after.is_none());
        if healed.is_empty() && !open {
            return;
        }
        let keys = self.store_divergent_keys(st, up);
        let state = &mut self.stores[st];
        for d in &mut state.divergence {
            if d.converged_after.is_none() && keys == 0 {
                d.converged_after = Some(now - d.healed_at);
            }
        }
        for h in healed {
            state.divergence.push(Divergence {
                healed_at: h,
                keys,
                converged_after: (keys == 0).then_some(SimDuration::ZERO),
            });
        }
    }

    /// The stores' reports: the history checked, the series binned by `window`.
    pub(super) fn store_reports(&mut self, end: SimTime, window: SimDuration) -> Vec<StoreReport> {
        let mut out = Vec::new();
        for st in 0..self.stores.len() {
            if let Some(from) = self.stores[st].split_since.take() {
                self.stores[st].split.push((from, end));
            }
            let service = self.services[self.stores[st].cfg.service]
                .report
                .name
                .clone();
            let state = &mut self.stores[st];
            let survival = match state.cfg.replication {
                Replication::Leaderless { resolve, .. } => {
                    let mut values: Vec<u32> = state
                        .values
                        .iter()
                        .flatten()
                        .flatten()
                        .map(|v| v.write)
                        .filter(|&w| (w as usize) < state.writes.len())
                        .collect();
                    values.sort_unstable();
                    values.dedup();
                    let rule = match resolve {
                        Resolve::LastWriterWins => Rule::LastWriterWins,
                        Resolve::VersionVectors => Rule::VersionVectors,
                    };
                    Survival::Resolved { values, rule }
                }
                _ => {
                    let mut present = vec![false; state.writes.len()];
                    for log in &state.logs {
                        for e in &log.entries {
                            if let Some(p) = present.get_mut(e.write as usize) {
                                *p = true;
                            }
                        }
                    }
                    Survival::Present(present)
                }
            };
            let history = History {
                writes: std::mem::take(&mut state.writes),
                reads: std::mem::take(&mut state.reads),
                discards: std::mem::take(&mut state.discards),
                survival,
            };
            let found = check::check(&history);
            let w = window.as_nanos().max(1);
            let windows = end.as_nanos().div_ceil(w).max(1) as usize;
            let mut series = vec![AnomalyWindow::default(); windows];
            let bin = |t: SimTime| ((t.as_nanos() / w) as usize).min(windows - 1);
            for r in &found.stale {
                series[bin(r.at)].stale_reads += 1;
            }
            for &t in &found.lost {
                series[bin(t)].lost_writes += 1;
            }
            for &t in &found.overwritten {
                series[bin(t)].overwritten += 1;
            }
            let mut workloads = state.by_workload.clone();
            for r in &found.stale {
                let w = state.read_workloads.get(r.read as usize);
                if let Some(w) = w.and_then(|&w| workloads.get_mut(w as usize)) {
                    w.stale_reads += 1;
                }
            }
            let stale = found.stale.len() as u64;
            let mean = |sum: u128| {
                if stale == 0 {
                    0
                } else {
                    (sum / u128::from(stale)) as u64
                }
            };
            let versions_sum: u128 = found.stale.iter().map(|r| u128::from(r.versions)).sum();
            let behind_sum: u128 = found
                .stale
                .iter()
                .map(|r| u128::from(r.behind.as_nanos()))
                .sum();
            out.push(StoreReport {
                service,
                design: design(&state.cfg),
                replicas: state.per_replica.clone(),
                checked_reads: history.reads.len() as u64,
                checked_writes: history.writes.len() as u64,
                history_bound: state.cfg.history,
                not_checked: state.not_checked,
                stale_reads: stale,
                staleness_versions_max: found.stale.iter().map(|r| r.versions).max().unwrap_or(0),
                staleness_versions_mean: if stale == 0 {
                    0.0
                } else {
                    versions_sum as f64 / stale as f64
                },
                staleness_max: found
                    .stale
                    .iter()
                    .map(|r| r.behind)
                    .max()
                    .unwrap_or(SimDuration::ZERO),
                staleness_mean: SimDuration::from_nanos(mean(behind_sum)),
                lost_writes: found.lost.len() as u64,
                overwritten: found.overwritten.len() as u64,
                read_your_writes: found.read_your_writes.len() as u64,
                monotonic: found.monotonic.len() as u64,
                session_forwards: state.cfg.sessions.any().then_some(state.session_forwards),
                split_brain: state.split.clone(),
                stale_leader_writes: state.stale_leader_writes,
                leaders: state.leaders.clone(),
                divergence: state.divergence.clone(),
                siblings_max: state.siblings_max,
                series,
                workloads,
            });
        }
        out
    }
}

/// The design in words, for the reports.
fn design(cfg: &crate::data::StoreConfig) -> String {
    let reads = match cfg.read_from {
        ReadFrom::Leader => "reads at the leader",
        ReadFrom::Any => "reads at any replica",
    };
    let mut d = match &cfg.replication {
        Replication::Async => format!("leader-follower, asynchronous, {reads}"),
        Replication::Sync => format!("leader-follower, synchronous, {reads}"),
        Replication::SemiSync { acks } => {
            format!("leader-follower, semi-synchronous ({acks} acks), {reads}")
        }
        Replication::Leaderless {
            r,
            w,
            read_repair,
            resolve,
        } => format!(
            "leaderless, R={r} W={w}{}, {}",
            if *read_repair { ", read repair" } else { "" },
            match resolve {
                Resolve::LastWriterWins => "last writer wins",
                Resolve::VersionVectors => "version vectors",
            }
        ),
    };
    let guarantees = match (cfg.sessions.read_your_writes, cfg.sessions.monotonic_reads) {
        (true, true) => ", read-your-writes and monotonic-read tokens",
        (true, false) => ", read-your-writes tokens",
        (false, true) => ", monotonic-read tokens",
        (false, false) => "",
    };
    d.push_str(guarantees);
    if let Some(lease) = &cfg.lease {
        d.push_str(&format!(", lease {}s", lease.duration.as_secs_f64()));
        if lease.fencing {
            d.push_str(" with fencing");
        }
    }
    d
}
