//! Replicated stores, the messages: a store message arriving at its replica (a forwarded
//! operation, an entry shipped or applied, acknowledgements, leaderless writes, reads and
//! repairs), a follower's acknowledgement, a leaderless read's answers gathered.

use super::store::{Body, Envelope};
use super::*;
use crate::data::Replication;
use crate::data::replica::{self, Version};

impl World {
    fn op_alive(&self, st: usize, op: u32, serial: u32) -> bool {
        let o = &self.stores[st].ops[op as usize];
        o.live && o.serial == serial
    }

    /// A follower applied entries up to `upto`: it tells the leader, whose waiting writes
    /// count the acknowledgement.
    fn store_applied(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        st: usize,
        follower: u32,
        from: u64,
    ) {
        let state = &self.stores[st];
        let leader = state.known_leader[follower as usize];
        let upto = state.logs[follower as usize].len();
        let waits = state
            .waiting
            .range((leader, from)..=(leader, upto))
            .next()
            .is_some();
        if waits {
            self.store_send(
                s,
                st,
                follower,
                leader,
                Body::EntryAck { index: upto },
                SimDuration::ZERO,
            );
        }
    }

    pub(super) fn on_store_msg<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        st: usize,
        msg: u32,
    ) {
        let state = &mut self.stores[st];
        let Envelope { from, to, body } = state.msgs[msg as usize].take().expect("a message");
        state.free_msgs.push(msg);
        if !self.store_up(st, to) {
            return;
        }
        match body {
            Body::Forward { op, serial } => {
                if self.op_alive(st, op, serial) {
                    self.store_lead_op::<TRACE>(s, st, to, op);
                }
            }
            Body::Ship { entry, to: f, work } => {
                self.store_send(s, st, to, f, Body::Entry { entry }, work);
            }
            Body::Entry { entry } => {
                let state = &mut self.stores[st];
                let fenced = entry.term < state.logs[to as usize].term_seen
                    && state.cfg.lease.as_ref().is_some_and(|l| l.fencing);
                if state.known_leader[to as usize] != from || fenced {
                    return;
                }
                let log = &mut state.logs[to as usize];
                log.term_seen = log.term_seen.max(entry.term);
                if log.apply(entry) {
                    self.store_applied(s, st, to, entry.index);
                }
            }
            Body::CatchUp { upto } => {
                let state = &mut self.stores[st];
                if state.known_leader[to as usize] != from {
                    return;
                }
                let start = state.logs[to as usize].len();
                let (leader_log, log) = if (from as usize) < (to as usize) {
                    let (a, b) = state.logs.split_at_mut(to as usize);
                    (&a[from as usize], &mut b[0])
                } else {
                    let (a, b) = state.logs.split_at_mut(from as usize);
                    (&b[0], &mut a[to as usize])
                };
                let end = upto.min(leader_log.len());
                let mut applied = false;
                for i in start..end {
                    let e = leader_log.entries[i as usize];
                    applied |= log.apply(e);
                }
                if applied {
                    self.store_applied(s, st, to, start + 1);
                }
            }
            Body::EntryAck { index } => {
                // Each follower counts once per entry, however many acknowledgements cover it.
                let state = &mut self.stores[st];
                let stream = to as usize * state.n + from as usize;
                let before = state.acked[stream];
                if index <= before {
                    return;
                }
                state.acked[stream] = index;
                let done: Vec<(u64, u32, u32)> = state
                    .waiting
                    .range((to, before + 1)..=(to, index))
                    .map(|(&(_, i), &(op, serial))| (i, op, serial))
                    .collect();
                let mut finished = Vec::new();
                for (i, op, serial) in done {
                    let o = &mut state.ops[op as usize];
                    if !(o.live && o.serial == serial) {
                        state.waiting.remove(&(to, i));
                        continue;
                    }
                    o.got += 1;
                    if o.got >= o.needed {
                        state.waiting.remove(&(to, i));
                        finished.push((op, o.coordinator, o.write.unwrap_or(u32::MAX)));
                    }
                }
                for (op, coordinator, write) in finished {
                    self.store_answer::<TRACE>(s, st, to, coordinator, op, (true, write));
                }
            }
            Body::Done {
                op,
                serial,
                ok,
                saw,
            } => {
                if self.op_alive(st, op, serial) {
                    self.store_finish::<TRACE>(s, st, op, ok, saw);
                }
            }
            Body::LlWrite {
                op,
                serial,
                key,
                version,
            } => {
                self.store_merge_key(st, to, key, &version);
                self.store_send(
                    s,
                    st,
                    to,
                    from,
                    Body::LlAck { op, serial },
                    SimDuration::ZERO,
                );
            }
            Body::LlAck { op, serial } => {
                if self.op_alive(st, op, serial) {
                    let o = &mut self.stores[st].ops[op as usize];
                    o.got += 1;
                    if o.got >= o.needed {
                        let w = o.write.unwrap_or(u32::MAX);
                        self.store_finish::<TRACE>(s, st, op, true, w);
                    }
                }
            }
            Body::LlRead { op, serial } => {
                let key = self.stores[st].ops[op as usize].key;
                let versions = self.stores[st].values[to as usize][key as usize].clone();
                let body = Body::LlValues {
                    op,
                    serial,
                    versions,
                };
                self.store_send(s, st, to, from, body, SimDuration::ZERO);
            }
            Body::LlValues {
                op,
                serial,
                versions,
            } => {
                if self.op_alive(st, op, serial) {
                    self.store_read_answer::<TRACE>(s, st, op, from, versions);
                }
            }
            Body::Repair { key, versions } => {
                for v in &versions {
                    self.store_merge_key(st, to, key, v);
                }
            }
        }
    }

    /// A leaderless read gathers answers; at `r` of them it answers with their merge and,
    /// with read repair, sends the merge to the replicas that answered with something else.
    fn store_read_answer<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        st: usize,
        op: u32,
        from: u32,
        versions: Vec<Version>,
    ) {
        let state = &mut self.stores[st];
        let Replication::Leaderless {
            read_repair,
            resolve,
            ..
        } = state.cfg.replication
        else {
            unreachable!("leaderless only")
        };
        let o = &mut state.ops[op as usize];
        for v in &versions {
            replica::merge(&mut o.versions, v, resolve);
        }
        o.answers.push((from, versions));
        o.got += 1;
        if o.got < o.needed {
            return;
        }
        let (key, coordinator, merged) = (o.key, o.coordinator, o.versions.clone());
        let stale: Vec<u32> = o
            .answers
            .iter()
            .filter(|(_, v)| *v != merged)
            .map(|&(r, _)| r)
            .collect();
        self.store_finish::<TRACE>(s, st, op, true, u32::MAX);
        if read_repair && !merged.is_empty() {
            for r in stale {
                let body = Body::Repair {
                    key,
                    versions: merged.clone(),
                };
                self.store_send(s, st, coordinator, r, body, SimDuration::ZERO);
            }
        }
    }

    fn store_merge_key(&mut self, st: usize, replica: u32, key: u32, v: &Version) {
        let state = &mut self.stores[st];
        let Replication::Leaderless { resolve, .. } = state.cfg.replication else {
            return;
        };
        let kept = &mut state.values[replica as usize][key as usize];
        let discards = replica::merge(kept, v, resolve);
        state.siblings_max = state.siblings_max.max(kept.len() as u32);
        let bound = state.cfg.history as usize;
        for (lost, won) in discards {
            let recorded =
                (lost as usize) < state.writes.len() && (won as usize) < state.writes.len();
            if recorded && state.discards.len() < bound {
                state.discards.push((lost, won));
            }
        }
    }
}
