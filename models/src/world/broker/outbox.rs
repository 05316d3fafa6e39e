//! Writes that publish (issue 15; the configuration and the order modelled are in
//! `crate::outbox`): each write's record from its commit to the broker's first store, the
//! dual write's publish call sent once the commit is acknowledged, and the outbox relays that
//! poll their replica's outbox and publish its rows in commit order.
//!
//! A relay's publish is owned by `Owner::Delivery` with `pollers + members + relay`.

use super::*;
use crate::outbox::{WriteConfig, WriteMode, WriteReport};
use crate::publish_key::MessageKey;

/// A stored message's identity for a record: above every call serial, so never another message's.
const RECORD_IDENTITY: u64 = 1 << 63;

struct Record {
    write: u16,
    service: u32,
    replica: u32,
    committed: SimTime,
    /// The job that wrote it and the step it was on (to recognise it at the acknowledgement).
    attempt: AttemptId,
    step: u32,
    edge: EdgeId,
    deadline: SimTime,
    /// Times the broker stored it.
    stored: u32,
    /// A dual write's publish call, once sent.
    call: Option<(CallSlot, CallSerial)>,
    /// A dual write whose replica died before it sent the publish.
    unsent: bool,
    /// The step's own message key, drawn when the write committed: every publish of the
    /// record carries it.
    key: Option<MessageKey>,
}

struct Relay {
    write: u16,
    service: u32,
    replica: u32,
    generation: u32,
    /// The outbox's rows in commit order: record and the edge to publish it on.
    rows: VecDeque<(u64, EdgeId)>,
    /// The row being published and its call once started.
    busy: Option<(u64, Option<(CallSlot, CallSerial)>)>,
}

#[derive(Default)]
pub(super) struct OutboxState {
    writes: Vec<(WriteConfig, WriteReport)>,
    records: BTreeMap<u64, Record>,
    /// Every publish call of a record by its serial (a dual write's, or a relay's).
    by_call: BTreeMap<u64, u64>,
    relays: Vec<Relay>,
    next: u64,
}

/// The write steps of every service's plans, in service then plan order.
fn gather(config: &BrokerConfig, world: &WorldConfig) -> Vec<WriteConfig> {
    let mut writes: Vec<WriteConfig> = Vec::new();
    for (s, svc) in world.services.iter().enumerate() {
        let plans = std::iter::once(&svc.calls).chain(svc.endpoints.iter().map(|e| &e.calls));
        for call in plans.flatten() {
            let Some(p) = call.publish else { continue };
            let Some(step) = p.write else { continue };
            let w = WriteConfig {
                service: ServiceId(s as u32),
                target: (p.queue, p.topic),
                to: if p.topic {
                    config.topics[usize::from(p.queue)].name.clone()
                } else {
                    config.queues[usize::from(p.queue)].name.clone()
                },
                step,
            };
            if !writes.contains(&w) {
                writes.push(w);
            }
        }
    }
    writes
}

pub(super) fn new(config: &BrokerConfig, world: &WorldConfig) -> OutboxState {
    let gathered = gather(config, world);
    let writes = gathered
        .iter()
        .map(|w| {
            let report = WriteReport {
                service: world.services[w.service.0 as usize].name.clone(),
                to: w.to.clone(),
                mode: w.step.mode,
                write_time: w.step.write_time,
                written: 0,
                published: 0,
                lost: 0,
                duplicated: 0,
                pending: 0,
                delay: Default::default(),
            };
            (w.clone(), report)
        })
        .collect();
    let mut relays = Vec::new();
    for (i, w) in gathered.iter().enumerate() {
        if let WriteMode::Outbox { .. } = w.step.mode {
            for r in 0..world.services[w.service.0 as usize].replicas.len() {
                relays.push(Relay {
                    write: i as u16,
                    service: w.service.0,
                    replica: r as u32,
                    generation: 0,
                    rows: VecDeque::new(),
                    busy: None,
                });
            }
        }
    }
    OutboxState {
        writes,
        records: BTreeMap::new(),
        by_call: BTreeMap::new(),
        relays,
        next: 0,
    }
}

impl OutboxState {
    pub(super) fn footprint_bytes(&self) -> usize {
        const ENTRY: usize = 64;
        self.records.len() * (std::mem::size_of::<Record>() + ENTRY)
            + self.by_call.len() * ENTRY
            + self.relays.iter().map(|r| r.rows.len() * 16).sum::<usize>()
    }

    fn relay_of(&self, write: u16, replica: u32) -> usize {
        self.relays
            .iter()
            .position(|r| r.write == write && r.replica == replica)
            .expect("an outbox step has a relay per replica")
    }
}

impl World {
    fn outbox(&mut self) -> &mut OutboxState {
        &mut self.brokers().outbox
    }

    /// Every relay polls its outbox first after one poll interval.
    pub(in crate::world) fn outbox_start(&mut self, s: &mut Scheduler<WorldEvent>) {
        for relay in 0..self.brokers().outbox.relays.len() as u32 {
            self.relay_sleep(s, relay);
        }
    }

    /// The job's step writes and publishes after (`edge`'s `Publish::write`): the write
    /// commits now; the replica learns it after the write time.
    pub(in crate::world) fn write_step(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
        edge: EdgeId,
        deadline: SimTime,
    ) {
        let now = s.now();
        let EdgeRole::Publish(p) = self.edges[edge].cold.role else {
            unreachable!("a write step publishes")
        };
        let j = &self.jobs[job];
        let (service, replica, attempt, step) = (j.service.0, j.replica, j.attempt, j.step);
        let this = WriteConfig {
            service: ServiceId(service),
            target: (p.queue, p.topic),
            to: String::new(),
            step: p.write.expect("a write step"),
        };
        let write = self
            .brokers()
            .outbox
            .writes
            .iter()
            .position(|(w, _)| {
                (w.service, w.target, w.step) == (this.service, this.target, this.step)
            })
            .expect("a write step gathered") as u16;
        let host = self.services[service as usize].replicas[replica as usize].host;
        let key = match self.edges[edge].draws.as_deref_mut() {
            Some(OriginDraws::RecordKey(k)) => Some(k.draw()),
            _ => None,
        };
        let o = self.outbox();
        let id = o.next;
        o.next += 1;
        let (config, report) = &mut o.writes[usize::from(write)];
        report.written += 1;
        let (mode, write_time) = (config.step.mode, config.step.write_time);
        o.records.insert(
            id,
            Record {
                write,
                service,
                replica,
                committed: now,
                attempt,
                step,
                edge,
                deadline,
                stored: 0,
                call: None,
                unsent: false,
                key,
            },
        );
        if let WriteMode::Outbox { .. } = mode {
            let relay = o.relay_of(write, replica);
            o.relays[relay].rows.push_back((id, edge));
        }
        let delay = self.local_delay(host, now, write_time);
        s.schedule_in(delay, WorldEvent::WriteAcked { job, record: id });
    }

    /// The replica learns its write committed: a dual write now sends the publish; an outbox
    /// step is done (the relay publishes). A replica that died meanwhile sends nothing.
    pub(in crate::world) fn on_write_acked<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
        record: u64,
    ) {
        let r = &self.brokers().outbox.records[&record];
        let (attempt, step, edge, deadline, write) =
            (r.attempt, r.step, r.edge, r.deadline, r.write);
        let j = &self.jobs[job];
        let same = j.attempt == attempt && j.step == step;
        let dual = self.outbox().writes[usize::from(write)].0.step.mode == WriteMode::DualWrite;
        if !same || self.orphan(job) {
            if same {
                self.discard_job(job);
            }
            if dual {
                self.outbox()
                    .records
                    .get_mut(&record)
                    .expect("a record")
                    .unsent = true;
            }
            return;
        }
        if !dual {
            self.step_call_done::<TRACE>(s, job, Outcome::Ok);
            return;
        }
        let child = self.start_call::<TRACE>(s, edge, Owner::Job(job), deadline, Op::Serve);
        let o = self.outbox();
        o.by_call.insert(child.1.0, record);
        o.records.get_mut(&record).expect("a record").call = Some(child);
        if let EdgeRole::Publish(p) = self.edges[edge].cold.role
            && !p.ack
        {
            self.publish_detached::<TRACE>(s, job, child);
        }
    }

    /// The broker stores a publish of a record (the call with this serial): the message's
    /// identity and the step's key.
    pub(in crate::world) fn record_stored(
        &mut self,
        now: SimTime,
        serial: u64,
    ) -> (u64, Option<MessageKey>) {
        let o = self.outbox();
        let id = *o.by_call.get(&serial).expect("a record's publish call");
        let r = o.records.get_mut(&id).expect("a record");
        r.stored += 1;
        let (first, committed, key) = (r.stored == 1, r.committed, r.key);
        let report = &mut o.writes[usize::from(r.write)].1;
        if first {
            report.published += 1;
            report.delay.record(now - committed);
        } else {
            report.duplicated += 1;
        }
        (RECORD_IDENTITY | id, key)
    }

    fn relay_sleep(&mut self, s: &mut Scheduler<WorldEvent>, relay: u32) {
        let o = &self.broker.as_ref().expect("a broker").outbox;
        let r = &o.relays[relay as usize];
        let WriteMode::Outbox { poll } = o.writes[usize::from(r.write)].0.step.mode else {
            unreachable!("a relay's step is an outbox")
        };
        let generation = r.generation;
        let host = self.services[r.service as usize].replicas[r.replica as usize].host;
        let delay = self.local_delay(host, s.now(), poll);
        s.schedule_in(delay, WorldEvent::RelayPoll { relay, generation });
    }

    /// Whether a relay's poll is for its current run (its replica did not crash since).
    pub(in crate::world) fn relay_poll_live(&self, relay: u32, generation: u32) -> bool {
        let b = self.broker.as_ref().expect("a broker");
        b.outbox.relays[relay as usize].generation == generation
    }

    /// The write step a record belongs to (its place among the scenario's write steps).
    pub(in crate::world) fn record_write(&self, record: u64) -> Option<u16> {
        let b = self.broker.as_ref()?;
        b.outbox.records.get(&record).map(|r| r.write)
    }

    /// The (service, replica) a relay runs on.
    pub(in crate::world) fn relay_place(&self, relay: u32) -> (u32, u32) {
        let r = &self.broker.as_ref().expect("a broker").outbox.relays[relay as usize];
        (r.service, r.replica)
    }

    pub(in crate::world) fn on_relay_poll<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        relay: u32,
        generation: u32,
    ) {
        let r = &self.brokers().outbox.relays[relay as usize];
        if r.generation != generation || r.busy.is_some() {
            return;
        }
        self.relay_next::<TRACE>(s, relay);
    }

    /// The relay publishes its outbox's oldest row, or sleeps for a poll interval.
    fn relay_next<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, relay: u32) {
        let b = self.brokers();
        let base = (b.pollers.len() + b.members.len()) as u32;
        let r = &mut b.outbox.relays[relay as usize];
        let Some(&(id, edge)) = r.rows.front() else {
            self.relay_sleep(s, relay);
            return;
        };
        r.busy = Some((id, None));
        let generation = r.generation;
        let owner = Owner::Delivery {
            poller: base + relay,
            generation,
        };
        let call = self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Serve);
        let o = self.outbox();
        o.by_call.insert(call.1.0, id);
        let r = &mut o.relays[relay as usize];
        if r.generation == generation
            && let Some((busy, slot)) = &mut r.busy
            && *busy == id
        {
            *slot = Some(call);
        }
    }

    /// A relay's publish ended: an acked row leaves the outbox and the next goes; after a
    /// failure the relay tries again at its next poll.
    pub(in crate::world) fn relay_done<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        relay: u32,
        generation: u32,
        outcome: Outcome,
    ) {
        let r = &mut self.outbox().relays[relay as usize];
        if r.generation != generation {
            return;
        }
        let (id, _) = r.busy.take().expect("a relay's publish ended");
        if !outcome.is_answer() {
            self.relay_sleep(s, relay);
            return;
        }
        let front = r.rows.pop_front();
        debug_assert_eq!(front.map(|(f, _)| f), Some(id));
        self.relay_next::<TRACE>(s, relay);
    }

    /// A replica crashed: its relays stop (their rows stay in the outbox) and its dual
    /// writes' publish calls end with the process.
    pub(in crate::world) fn outbox_crashed<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        service: u32,
        replica: u32,
    ) {
        let o = self.outbox();
        let mut cancel = Vec::new();
        for r in &mut o.relays {
            if (r.service, r.replica) == (service, replica) {
                r.generation += 1;
                if let Some((_, call)) = r.busy.take() {
                    cancel.extend(call);
                }
            }
        }
        for r in o.records.values() {
            if (r.service, r.replica) == (service, replica) && r.stored == 0 {
                cancel.extend(r.call);
            }
        }
        for (call, serial) in cancel {
            let c = &self.calls[call];
            if c.serial == serial && !c.finished {
                self.cancel_call::<TRACE>(s, call);
            }
        }
    }

    /// A replica restarted: its relays poll again at once.
    pub(in crate::world) fn outbox_wake(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        woken: &[(u32, u32)],
    ) {
        let o = self.outbox();
        for (relay, r) in o.relays.iter().enumerate() {
            if woken.contains(&(r.service, r.replica)) && r.busy.is_none() {
                let (relay, generation) = (relay as u32, r.generation);
                s.schedule_in(
                    SimDuration::ZERO,
                    WorldEvent::RelayPoll { relay, generation },
                );
            }
        }
    }

    /// The write steps' reports: each record published, lost or still pending.
    pub(super) fn outbox_finish(&self, o: OutboxState) -> Vec<WriteReport> {
        let mut writes = o.writes;
        for r in o.records.values() {
            if r.stored > 0 {
                continue;
            }
            let running = match (writes[usize::from(r.write)].0.step.mode, r.call) {
                (WriteMode::Outbox { .. }, _) => true,
                (WriteMode::DualWrite, None) => !r.unsent,
                (WriteMode::DualWrite, Some((call, serial))) => {
                    let c = &self.calls[call];
                    c.serial == serial && !c.finished
                }
            };
            let report = &mut writes[usize::from(r.write)].1;
            if running {
                report.pending += 1;
            } else {
                report.lost += 1;
            }
        }
        writes
            .into_iter()
            .map(|(_, report)| {
                assert!(
                    report.conserved(),
                    "{}: records not conserved",
                    report.service
                );
                report
            })
            .collect()
    }
}
