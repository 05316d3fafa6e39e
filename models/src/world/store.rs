//! Replicated stores: an operation at its coordinating replica (the replica the call
//! reached), the messages between replicas that replicate it, and its end, which answers the
//! call. Leadership, heartbeats and the end-of-run report are in `store_lead`.
//!
//! ```text
//!   caller ──call──▶ replica c (coordinator) ─Forward─▶ leader ─Entry─▶ followers
//!      ▲                    │  ▲                          ▲  └──EntryAck──┘
//!      └─────reply──────────┘  └──────────Done────────────┘
//!   leaderless: c ─LlWrite/LlRead─▶ all N replicas ─ack/values─▶ c (w or r of them), repairs
//! ```
//!
//! Store messages travel the network as calls do (latency by locality and link, loss,
//! partitions, down hosts) on their own random stream; a message to a process that is down
//! when it arrives is lost. Each operation has a timeout on its coordinator's clock: without
//! the replies it needs by then it fails as `unavailable`.

use std::collections::BTreeMap;

use super::*;
use crate::data::check::{ReadRec, WriteRec};
use crate::data::replica::{self, Entry, Log, Version};
use crate::data::report::{Divergence, LeaderSpan, StoreReplicaReport};
use crate::data::workload::WorkloadReport;
use crate::data::{KeyPicker, ReadFrom, Replication, Resolve, StoreConfig};

/// One operation at its coordinator.
pub(super) struct StoreOp {
    pub(super) serial: u32,
    pub(super) live: bool,
    pub(super) job: JobSlot,
    pub(super) coordinator: u32,
    pub(super) key: u32,
    /// The write's id, for a write.
    pub(super) write: Option<u32>,
    pub(super) invoked: SimTime,
    /// The session that sent it: its client, or a read-modify-write client's user.
    pub(super) session: Option<u32>,
    /// The caller's workload it came from ([`NO_WORKLOAD`]: the store's own draw).
    pub(super) workload: u32,
    /// Replies needed, and received.
    pub(super) needed: u32,
    pub(super) got: u32,
    /// Leader-follower: the leader handling it; leaderless reads: the merged values and the
    /// replicas that answered with something else (to repair).
    pub(super) leader: u32,
    pub(super) term: u32,
    pub(super) versions: Vec<Version>,
    pub(super) answers: Vec<(u32, Vec<Version>)>,
    pub(super) timer: Option<TimerId>,
    /// Leader-follower: the log position the answer stands for (a write's entry, the length
    /// of the log a read was served from), which a session's token takes.
    pub(super) index: u64,
}

/// What travels between replicas.
pub(super) enum Body {
    /// Coordinator to leader: take this operation.
    Forward {
        op: u32,
        serial: u32,
    },
    /// Leader to itself: the stream to follower `to` is free, ship this entry.
    Ship {
        entry: Entry,
        to: u32,
        work: SimDuration,
    },
    /// Leader to follower: one log entry.
    Entry {
        entry: Entry,
    },
    /// Leader to follower: the entries from the follower's end up to `upto`.
    CatchUp {
        upto: u64,
    },
    /// Follower to leader: applied up to this index.
    EntryAck {
        index: u64,
    },
    /// Leader to coordinator: the operation's result (a read's value).
    Done {
        op: u32,
        serial: u32,
        ok: bool,
        saw: u32,
    },
    LlWrite {
        op: u32,
        serial: u32,
        key: u32,
        version: Version,
    },
    LlAck {
        op: u32,
        serial: u32,
    },
    LlRead {
        op: u32,
        serial: u32,
    },
    LlValues {
        op: u32,
        serial: u32,
        versions: Vec<Version>,
    },
    Repair {
        key: u32,
        versions: Vec<Version>,
    },
}

pub(super) struct Envelope {
    pub(super) from: u32,
    pub(super) to: u32,
    pub(super) body: Body,
}

/// An operation the store drew itself, from no caller's workload.
pub(super) const NO_WORKLOAD: u32 = u32::MAX;

/// A store's running state.
pub(super) struct StoreState {
    pub(super) cfg: StoreConfig,
    pub(super) n: usize,
    pub(super) picker: KeyPicker,
    pub(super) key_rng: SimRng,
    pub(super) net_rng: SimRng,
    pub(super) apply_rng: SimRng,
    // Leader-follower.
    pub(super) logs: Vec<Log>,
    pub(super) believes_leader: Vec<bool>,
    pub(super) term: Vec<u32>,
    pub(super) known_leader: Vec<u32>,
    pub(super) last_heard: Vec<SimTime>,
    /// Per (leader, follower), when the replication stream is next free, and the highest
    /// index the follower has acknowledged to that leader.
    pub(super) ship_at: Vec<SimTime>,
    pub(super) acked: Vec<u64>,
    /// Each replica's log length at the last heartbeat (a follower that is behind, has not
    /// advanced for a heartbeat and has nothing on its way has lost entries: catch it up).
    pub(super) last_len: Vec<u64>,
    pub(super) lease_until: Vec<i128>,
    pub(super) newest_term: u32,
    pub(super) current: u32,
    pub(super) promoting: bool,
    pub(super) was_up: Vec<bool>,
    /// (leader, index) of a log entry to the operation waiting for its acknowledgements.
    pub(super) waiting: BTreeMap<(u32, u64), (u32, u32)>,
    // Leaderless: per replica, per key, the versions kept.
    pub(super) values: Vec<Vec<Vec<Version>>>,
    pub(super) ops: Vec<StoreOp>,
    pub(super) free_ops: Vec<u32>,
    pub(super) msgs: Vec<Option<Envelope>>,
    pub(super) free_msgs: Vec<u32>,
    // The history and what the report needs.
    pub(super) writes: Vec<WriteRec>,
    pub(super) reads: Vec<ReadRec>,
    pub(super) discards: Vec<(u32, u32)>,
    pub(super) next_write: u32,
    pub(super) recording: bool,
    pub(super) not_checked: u64,
    pub(super) per_replica: Vec<StoreReplicaReport>,
    pub(super) leaders: Vec<LeaderSpan>,
    pub(super) split: Vec<(SimTime, SimTime)>,
    pub(super) split_since: Option<SimTime>,
    pub(super) stale_leader_writes: u64,
    pub(super) divergence: Vec<Divergence>,
    pub(super) heals: Vec<SimTime>,
    pub(super) last_tick: SimTime,
    pub(super) siblings_max: u32,
    /// Per session, its tokens (last write's log position, position its last read saw), and
    /// reads forwarded to the leader because the replica reached was behind them.
    pub(super) tokens: BTreeMap<u32, (u64, u64)>,
    pub(super) session_forwards: u64,
    /// Per caller's workload, its operations; and per recorded read, its workload (kept
    /// only when the store has workloads).
    pub(super) by_workload: Vec<WorkloadReport>,
    pub(super) read_workloads: Vec<u32>,
    /// Each operation begun: its call's serial, key and kind (for the tests of retries).
    #[cfg(test)]
    pub(super) begun: Vec<(CallSerial, u32, bool)>,
}

impl StoreState {
    pub(super) fn new(
        cfg: &StoreConfig,
        streams: &RngStreams,
        name: &str,
        hosts: Vec<String>,
        heals: Vec<SimTime>,
    ) -> StoreState {
        let n = hosts.len();
        let stream = |purpose: &str| streams.stream(&["store", name, purpose]);
        let keys = cfg.keys as usize;
        let leaderless = cfg.replication.leaderless();
        StoreState {
            n,
            picker: KeyPicker::new(cfg.keys, &cfg.popularity),
            key_rng: stream("keys"),
            net_rng: stream("network"),
            apply_rng: stream("apply"),
            logs: if leaderless {
                Vec::new()
            } else {
                (0..n).map(|_| Log::new(cfg.keys)).collect()
            },
            believes_leader: (0..n).map(|r| r == 0 && !leaderless).collect(),
            term: vec![1; n],
            known_leader: vec![0; n],
            last_heard: vec![SimTime::ZERO; n],
            ship_at: vec![SimTime::ZERO; n * n],
            acked: vec![0; n * n],
            last_len: vec![0; n],
            lease_until: vec![i128::MIN; n],
            newest_term: 1,
            current: 0,
            promoting: false,
            was_up: vec![true; n],
            waiting: BTreeMap::new(),
            values: if leaderless {
                vec![vec![Vec::new(); keys]; n]
            } else {
                Vec::new()
            },
            ops: Vec::new(),
            free_ops: Vec::new(),
            msgs: Vec::new(),
            free_msgs: Vec::new(),
            writes: Vec::new(),
            reads: Vec::new(),
            discards: Vec::new(),
            next_write: 0,
            recording: true,
            not_checked: 0,
            per_replica: hosts
                .into_iter()
                .map(|host| StoreReplicaReport {
                    host,
                    ..StoreReplicaReport::default()
                })
                .collect(),
            leaders: if leaderless {
                Vec::new()
            } else {
                vec![LeaderSpan {
                    replica: 0,
                    term: 1,
                    from: SimTime::ZERO,
                    to: None,
                }]
            },
            split: Vec::new(),
            split_since: None,
            stale_leader_writes: 0,
            divergence: Vec::new(),
            heals,
            last_tick: SimTime::ZERO,
            siblings_max: 0,
            tokens: BTreeMap::new(),
            session_forwards: 0,
            by_workload: cfg
                .workloads
                .iter()
                .map(|_| WorkloadReport::default())
                .collect(),
            read_workloads: Vec::new(),
            #[cfg(test)]
            begun: Vec::new(),
            cfg: cfg.clone(),
        }
    }

    /// What grows while the run goes on: the logs, the history, operations and messages in
    /// flight (the `limits.memory` check counts it).
    pub(super) fn footprint_bytes(&self) -> usize {
        use std::mem::size_of;
        let logs: usize = self.logs.iter().map(|l| l.entries.capacity()).sum();
        logs * size_of::<Entry>()
            + self.writes.capacity() * size_of::<WriteRec>()
            + self.reads.capacity() * (size_of::<ReadRec>() + size_of::<u32>())
            + self.read_workloads.capacity() * size_of::<u32>()
            + self.discards.capacity() * size_of::<(u32, u32)>()
            + self.ops.capacity() * size_of::<StoreOp>()
            + self.msgs.capacity() * size_of::<Option<Envelope>>()
    }

    fn room(&self) -> bool {
        self.recording && self.writes.len() + self.reads.len() < self.cfg.history as usize
    }

    /// A follower applies entries in order: how many acknowledgements a write needs beyond
    /// the leader's own.
    pub(super) fn follower_acks(&self) -> u32 {
        let n = self.n as u32;
        let base = match self.cfg.replication {
            Replication::Async => 0,
            Replication::Sync => n - 1,
            Replication::SemiSync { acks } => acks.saturating_sub(1),
            Replication::Leaderless { .. } => 0,
        };
        if self.cfg.lease.as_ref().is_some_and(|l| l.fencing) {
            base.max(n / 2)
        } else {
            base
        }
    }
}

impl World {
    pub(super) fn store_of(&self, service: usize) -> usize {
        self.stores
            .iter()
            .position(|st| st.cfg.service == service)
            .expect("a store service has its store")
    }

    pub(super) fn store_host(&self, st: usize, replica: u32) -> u32 {
        self.services[self.stores[st].cfg.service].replicas[replica as usize].host
    }

    /// The replica's process and host both run.
    pub(super) fn store_up(&self, st: usize, replica: u32) -> bool {
        let inst = &self.services[self.stores[st].cfg.service].replicas[replica as usize];
        inst.up() && self.host_down[inst.host as usize] == 0
    }

    /// A message from `a` to `b` would get through now (no partition, both hosts up).
    pub(super) fn store_reach(&self, st: usize, a: u32, b: u32, now: SimTime) -> bool {
        let (ha, hb) = (
            self.store_host(st, a) as usize,
            self.store_host(st, b) as usize,
        );
        ha == hb
            || (self.host_down[ha] == 0
                && self.host_down[hb] == 0
                && self.net.cut(now, ha, hb).is_none())
    }

    /// The replica's local clock reading now.
    pub(super) fn store_local(&self, st: usize, replica: u32, now: SimTime) -> i128 {
        let host = self.store_host(st, replica) as usize;
        match self.clocks.get(host) {
            Some(c) => c.local_at(now),
            None => i128::from(now.as_nanos()),
        }
    }

    /// A leader takes writes: it runs, believes it leads, and its lease (if any) holds on its
    /// own clock.
    pub(super) fn store_accepting(&self, st: usize, r: u32, now: SimTime) -> bool {
        let state = &self.stores[st];
        self.store_up(st, r)
            && state.believes_leader[r as usize]
            && (state.cfg.lease.is_none()
                || self.store_local(st, r, now) < state.lease_until[r as usize])
    }

    /// Sends a store message; `extra` is work at the receiver before it is handled.
    pub(super) fn store_send(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        st: usize,
        from: u32,
        to: u32,
        body: Body,
        extra: SimDuration,
    ) {
        let now = s.now();
        let (hf, ht) = (
            self.store_host(st, from) as usize,
            self.store_host(st, to) as usize,
        );
        let delay = if from == to || hf == ht {
            Some(SimDuration::ZERO)
        } else if self.host_down[hf] > 0 || self.host_down[ht] > 0 {
            None
        } else if let Some(latency) = &self.uniform_latency {
            Some(latency.sample(&mut self.stores[st].net_rng))
        } else if self.net.cut(now, hf, ht).is_some()
            || self.net.lost(hf, ht, &mut self.stores[st].net_rng)
        {
            None
        } else {
            let mut latency = self.net.latency(hf, ht, &mut self.stores[st].net_rng);
            for lf in &self.link_faults {
                let matches =
                    (lf.in_a[hf] && lf.in_b[ht]) || (!lf.one_way && lf.in_b[hf] && lf.in_a[ht]);
                if matches && lf.from <= now && now < lf.to {
                    latency = latency.mul_f64(lf.multiply) + lf.add;
                }
            }
            Some(latency)
        };
        let Some(delay) = delay else { return };
        let state = &mut self.stores[st];
        let envelope = Envelope { from, to, body };
        let msg = match state.free_msgs.pop() {
            Some(m) => {
                state.msgs[m as usize] = Some(envelope);
                m
            }
            None => {
                state.msgs.push(Some(envelope));
                state.msgs.len() as u32 - 1
            }
        };
        s.schedule_in(
            delay + extra,
            WorldEvent::StoreMsg {
                store: st as u32,
                msg,
            },
        );
    }

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

    /// The leader takes an operation: a read answers from its log, a write is appended and
    /// replicated, and acknowledged once enough followers have applied it.
    pub(super) fn store_lead_op<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        st: usize,
        leader: u32,
        op_id: u32,
    ) {
        let now = s.now();
        let mut accepting = self.store_accepting(st, leader, now);
        let fencing = self.stores[st]
            .cfg
            .lease
            .as_ref()
            .is_some_and(|l| l.fencing);
        let is_read = self.stores[st].ops[op_id as usize].write.is_none();
        if accepting && fencing && is_read {
            // A fenced leader serves a read only after confirming its term with a majority
            // (Raft's ReadIndex); the confirmation's round trip is not modelled.
            let n = self.stores[st].n as u32;
            let up: Vec<bool> = (0..n).map(|r| self.store_up(st, r)).collect();
            let term = self.stores[st].term[leader as usize];
            let confirmed = (0..n)
                .filter(|&q| {
                    up[q as usize]
                        && self.stores[st].logs[q as usize].term_seen <= term
                        && self.store_reach(st, leader, q, now)
                        && self.store_reach(st, q, leader, now)
                })
                .count() as u32;
            accepting = confirmed > n / 2;
        }
        let state = &mut self.stores[st];
        let op = &state.ops[op_id as usize];
        let (key, write, serial, coordinator) = (op.key, op.write, op.serial, op.coordinator);
        let mut answer = (false, u32::MAX);
        if accepting {
            match write {
                None => {
                    let log = &state.logs[leader as usize];
                    answer = (true, log.latest[key as usize]);
                    state.ops[op_id as usize].index = log.len();
                }
                Some(id) => {
                    let log = &mut state.logs[leader as usize];
                    let entry = Entry {
                        term: state.term[leader as usize],
                        index: log.len() + 1,
                        key,
                        write: id,
                    };
                    log.apply(entry);
                    let needed = state.follower_acks();
                    let op = &mut state.ops[op_id as usize];
                    op.leader = leader;
                    op.term = entry.term;
                    op.needed = needed;
                    op.index = entry.index;
                    if needed > 0 {
                        state.waiting.insert((leader, entry.index), (op_id, serial));
                    }
                    let n = state.n as u32;
                    for f in 0..n {
                        if f != leader {
                            self.store_replicate(s, st, leader, f, entry);
                        }
                    }
                    if needed > 0 {
                        return;
                    }
                    answer = (true, id);
                }
            }
        }
        self.store_answer::<TRACE>(s, st, leader, coordinator, op_id, answer);
    }

    /// The leader's answer to the coordinator (directly when it is the coordinator).
    pub(super) fn store_answer<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        st: usize,
        leader: u32,
        coordinator: u32,
        op_id: u32,
        (ok, saw): (bool, u32),
    ) {
        let state = &mut self.stores[st];
        let serial = state.ops[op_id as usize].serial;
        if ok
            && state.ops[op_id as usize].write.is_some()
            && state.term[leader as usize] < state.newest_term
        {
            state.stale_leader_writes += 1;
        }
        if leader == coordinator {
            self.store_finish::<TRACE>(s, st, op_id, ok, saw);
        } else {
            let body = Body::Done {
                op: op_id,
                serial,
                ok,
                saw,
            };
            self.store_send(s, st, leader, coordinator, body, SimDuration::ZERO);
        }
    }

    /// Queues one entry on the leader's stream to a follower. The stream carries one entry at
    /// a time and the follower applies each (a draw of `apply`) before it takes the next, so
    /// the stream is a single-server queue: an entry waits for the ones before it, leaves the
    /// leader when the stream is free, and is applied a network delay plus its work later. A
    /// leader that crashes loses what it had not shipped yet; an entry that overtakes an
    /// earlier one on the network waits for it at the follower.
    pub(super) fn store_replicate(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        st: usize,
        leader: u32,
        follower: u32,
        entry: Entry,
    ) {
        let now = s.now();
        let state = &mut self.stores[st];
        let work = state.cfg.apply.sample(&mut state.apply_rng);
        let stream = leader as usize * state.n + follower as usize;
        let ship = state.ship_at[stream].max(now);
        state.ship_at[stream] = ship + work;
        let body = Body::Ship {
            entry,
            to: follower,
            work,
        };
        self.store_send(s, st, leader, leader, body, ship - now);
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
