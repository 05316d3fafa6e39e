//! Replicated stores, the coordinator's side: an operation begins at the replica the call
//! reached (a key and read or write drawn, the history told, a timeout set on the coordinator's
//! clock), is served there, forwarded to the leader or sent to every replica when leaderless,
//! and ends there, which records it in the history and answers the call.

use super::store::{Body, NO_WORKLOAD, StoreOp};
use super::*;
use crate::data::check::{ReadRec, WriteRec};
use crate::data::replica::{self, Version};
use crate::data::{ReadFrom, Replication, Resolve};

impl World {
    /// A call reached a store replica and its local work is done: the operation begins.
    pub(super) fn store_begin<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
    ) {
        let now = s.now();
        let (service, coordinator) = (self.jobs[job].service.0 as usize, self.jobs[job].replica);
        let st = self.store_of(service);
        let session = match self.calls[self.jobs[job].call].owner {
            Owner::Client { client, .. } => Some(client.0),
            Owner::User { client, user } => Some(0x8000_0000 | (client.0 << 16) | (user & 0xffff)),
            // A job's call, or a broker's delivery: no client session to hold it to.
            Owner::Job(_)
            | Owner::Delivery { .. }
            | Owner::Decision { .. }
            | Owner::SagaLog { .. } => None,
        };
        let operation = self.calls[self.jobs[job].call].drawn.operation();
        let state = &mut self.stores[st];
        // Drawn at the origin when the caller has a workload of its own (every attempt of the
        // call carries it); otherwise here, per attempt, from the store's stream.
        let (key, is_write, workload) = match operation {
            Some(op) => (op.key, op.write, op.workload),
            None => {
                let key = state.picker.pick(&mut state.key_rng);
                (key, state.key_rng.chance(state.cfg.writes), NO_WORKLOAD)
            }
        };
        #[cfg(test)]
        state
            .begun
            .push((self.calls[self.jobs[job].call].serial, key, is_write));
        let write = is_write.then(|| {
            let id = state.next_write;
            state.next_write += 1;
            if state.room() && id as usize == state.writes.len() {
                state.writes.push(WriteRec {
                    key,
                    invoked: now,
                    acked: None,
                    vector: Vec::new(),
                    session,
                });
            } else {
                state.recording = false;
                state.not_checked += 1;
            }
            id
        });
        let op = StoreOp {
            serial: 0,
            live: true,
            job,
            coordinator,
            key,
            write,
            invoked: now,
            session,
            workload,
            needed: 0,
            got: 0,
            leader: coordinator,
            term: 0,
            versions: Vec::new(),
            answers: Vec::new(),
            timer: None,
            index: 0,
        };
        let op_id = match state.free_ops.pop() {
            Some(i) => {
                let serial = state.ops[i as usize].serial + 1;
                state.ops[i as usize] = StoreOp { serial, ..op };
                i
            }
            None => {
                state.ops.push(op);
                state.ops.len() as u32 - 1
            }
        };
        let serial = state.ops[op_id as usize].serial;
        let host = self.store_host(st, coordinator);
        let timeout = self.local_delay(host, now, self.stores[st].cfg.timeout);
        let timer = s.timer_in(
            timeout,
            WorldEvent::StoreTimeout {
                store: st as u32,
                op: op_id,
                serial,
            },
        );
        self.stores[st].ops[op_id as usize].timer = Some(timer);
        match self.stores[st].cfg.replication.clone() {
            Replication::Leaderless { r, w, resolve, .. } => {
                let n = self.stores[st].n as u32;
                let body_for = |this: &mut World| -> (u32, Option<Version>) {
                    let Some(id) = write else { return (r, None) };
                    let state = &this.stores[st];
                    let kept = &state.values[coordinator as usize][key as usize];
                    let version = match resolve {
                        Resolve::LastWriterWins => Version {
                            write: id,
                            stamp: this.store_local(st, coordinator, now),
                            node: coordinator,
                            vector: Vec::new(),
                        },
                        Resolve::VersionVectors => Version {
                            write: id,
                            stamp: 0,
                            node: coordinator,
                            vector: replica::next_vector(kept, state.n, coordinator as usize),
                        },
                    };
                    (w, Some(version))
                };
                let (needed, version) = body_for(self);
                if let (Some(v), Some(id)) = (&version, write) {
                    let state = &mut self.stores[st];
                    if let Some(rec) = state.writes.get_mut(id as usize) {
                        rec.vector = v.vector.clone();
                    }
                }
                self.stores[st].ops[op_id as usize].needed = needed;
                for to in 0..n {
                    let body = match &version {
                        Some(v) => Body::LlWrite {
                            op: op_id,
                            serial,
                            key,
                            version: v.clone(),
                        },
                        None => Body::LlRead { op: op_id, serial },
                    };
                    self.store_send(s, st, coordinator, to, body, SimDuration::ZERO);
                }
            }
            _ => {
                let state = &mut self.stores[st];
                let mut read_here = write.is_none() && state.cfg.read_from == ReadFrom::Any;
                if read_here && state.cfg.sessions.any() {
                    let tokens = session.and_then(|x| state.tokens.get(&x).copied());
                    let needed = state.cfg.sessions.needed(tokens.unwrap_or((0, 0)));
                    if state.logs[coordinator as usize].len() < needed {
                        read_here = false;
                        state.session_forwards += 1;
                    }
                }
                if read_here {
                    let log = &state.logs[coordinator as usize];
                    let saw = log.latest[key as usize];
                    state.ops[op_id as usize].index = log.len();
                    self.store_finish::<TRACE>(s, st, op_id, true, saw);
                    return;
                }
                let leader = if state.believes_leader[coordinator as usize] {
                    coordinator
                } else {
                    state.known_leader[coordinator as usize]
                };
                if leader == coordinator {
                    self.store_lead_op::<TRACE>(s, st, leader, op_id);
                } else {
                    let body = Body::Forward { op: op_id, serial };
                    self.store_send(s, st, coordinator, leader, body, SimDuration::ZERO);
                }
            }
        }
    }

    /// An operation ends at its coordinator: the history records it and the call is answered.
    pub(super) fn store_finish<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        st: usize,
        op_id: u32,
        ok: bool,
        saw: u32,
    ) {
        let now = s.now();
        let state = &mut self.stores[st];
        let op = &mut state.ops[op_id as usize];
        if !op.live {
            return;
        }
        op.live = false;
        if let Some(t) = op.timer.take() {
            s.cancel(t);
        }
        let (job, coordinator, key, write, invoked, session, workload) = (
            op.job,
            op.coordinator,
            op.key,
            op.write,
            op.invoked,
            op.session,
            op.workload,
        );
        let saw: Vec<u32> = if state.cfg.replication.leaderless() {
            op.versions.iter().map(|v| v.write).collect()
        } else if saw == u32::MAX {
            Vec::new()
        } else {
            vec![saw]
        };
        if ok && state.cfg.sessions.any() && !state.cfg.replication.leaderless() {
            if let Some(x) = session {
                let index = state.ops[op_id as usize].index;
                let t = state.tokens.entry(x).or_insert((0, 0));
                if write.is_some() {
                    t.0 = t.0.max(index);
                } else {
                    t.1 = t.1.max(index);
                }
            }
        }
        state.free_ops.push(op_id);
        state.waiting.retain(|_, &mut (o, _)| o != op_id);
        let rep = &mut state.per_replica[coordinator as usize];
        let counts = [
            &mut rep.writes_ok,
            &mut rep.writes_failed,
            &mut rep.reads_ok,
            &mut rep.reads_failed,
        ];
        let which = usize::from(write.is_none()) * 2 + usize::from(!ok);
        *counts[which] += 1;
        if let Some(w) = state.by_workload.get_mut(workload as usize) {
            let counts = [
                &mut w.writes_ok,
                &mut w.writes_failed,
                &mut w.reads_ok,
                &mut w.reads_failed,
            ];
            *counts[which] += 1;
        }
        match write {
            Some(id) if ok => {
                if let Some(rec) = state.writes.get_mut(id as usize) {
                    rec.acked = Some(now);
                }
            }
            Some(_) => {}
            None if ok => {
                let recorded = saw.iter().all(|&w| (w as usize) < state.writes.len());
                if state.room() && recorded {
                    if !state.by_workload.is_empty() {
                        state.read_workloads.push(workload);
                    }
                    state.reads.push(ReadRec {
                        key,
                        invoked,
                        returned: now,
                        saw,
                        session,
                    });
                } else {
                    state.not_checked += 1;
                }
            }
            None => {}
        }
        let outcome = if ok {
            Outcome::Ok
        } else {
            Outcome::Failed(FailureCause::Unavailable)
        };
        self.reply::<TRACE>(s, job, outcome);
    }

    pub(super) fn on_store_timeout<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        st: usize,
        op: u32,
        serial: u32,
    ) {
        let o = &mut self.stores[st].ops[op as usize];
        if o.serial == serial && o.live {
            o.timer = None;
            self.store_finish::<TRACE>(s, st, op, false, u32::MAX);
        }
    }
}
