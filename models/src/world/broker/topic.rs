//! Topics and consumer groups (issue 15), after Kafka (see [`crate::topic`] for the semantics
//! and their sources): publishes appended to a partition's log, group members fetching over
//! the network from the partitions the range assignor gave them, processing each record as a
//! local call to their own replica, committing before or after, and the rebalances a crash
//! (noticed after the session timeout), a restart or a leave start.
//!
//! One owner per partition at a time: a crashed member keeps its partitions until its session
//! expires (nobody consumes them meanwhile), and a rebalance completes only when its pause is
//! over and no live member is still processing a batch. So a record is processed again only
//! when its member crashed after processing it and before committing it. Kafka's logs are
//! durable: a broker crash refuses fetches while down and loses nothing. Commits reach the
//! group coordinator at once (their round trip is not modelled), and a member cut off from the
//! broker by a network partition keeps its partitions (heartbeats are not modelled).

use super::*;
use crate::publish_key::MessageKey;
use crate::topic::{
    Commit, GroupConfig, GroupReport, PartitionReport, TopicConfig, TopicReport, partition_of,
    range_assignment,
};

pub(super) struct TopicState {
    config: TopicConfig,
    broker: String,
    /// Per partition: the publish time of each record from `base[p]` on (records every group
    /// committed are dropped).
    log: Vec<VecDeque<SimTime>>,
    base: Vec<u64>,
    published: Vec<u64>,
    round_robin: u32,
    key_rng: SimRng,
    groups: Vec<u32>,
}

#[derive(Clone, Copy, Default)]
struct Part {
    /// The next offset the owner fetches.
    position: u64,
    committed: u64,
    /// The first offset never processed (nor skipped as lost).
    processed: u64,
    report: PartitionReport,
}

pub(super) struct GroupState {
    config: GroupConfig,
    /// Its members, one per replica of the consuming service, in replica order.
    members: Vec<u32>,
    parts: Vec<Part>,
    generation: u32,
    /// Since when the group is rebalancing, and whether the pause is over.
    rebalancing: Option<SimTime>,
    pause_over: bool,
    report: GroupReport,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Idle,
    /// A fetch is on its way, waiting at the broker or due again.
    Fetching,
    /// Waiting at the broker for a record (a long poll).
    Parked,
    /// Holding a batch: on its way or being processed.
    Busy,
}

#[derive(Clone, Copy)]
struct Record {
    partition: u32,
    offset: u64,
    published: SimTime,
}

pub(super) struct Member {
    group: u32,
    service: u32,
    replica: u32,
    edge: EdgeId,
    generation: u32,
    in_group: bool,
    assigned: std::ops::Range<u32>,
    rotate: u32,
    state: State,
    batch: VecDeque<Record>,
    /// Per partition in the batch, the offset after the last record processed.
    done: Vec<(u32, u64)>,
    current: Option<(Record, Option<(CallSlot, CallSerial)>)>,
    session: Option<TimerId>,
}

/// The topics, groups and members of a configuration, with one delivery edge per member.
pub(super) fn new(
    config: &BrokerConfig,
    world: &WorldConfig,
    streams: &RngStreams,
    edge: &mut impl FnMut(&[&str], u32, u32, ServiceId, &str) -> EdgeId,
) -> (Vec<TopicState>, Vec<GroupState>, Vec<Member>) {
    let name = |id: ServiceId| world.services[id.0 as usize].name.clone();
    let mut topics: Vec<TopicState> = config
        .topics
        .iter()
        .map(|t| TopicState {
            config: t.clone(),
            broker: name(t.broker),
            log: vec![VecDeque::new(); t.partitions as usize],
            base: vec![0; t.partitions as usize],
            published: vec![0; t.partitions as usize],
            round_robin: 0,
            key_rng: streams.stream(&["broker", "topic", &t.name, "key"]),
            groups: Vec::new(),
        })
        .collect();
    let mut groups = Vec::new();
    let mut members = Vec::new();
    for (g, gc) in config.groups.iter().enumerate() {
        let topic = &config.topics[usize::from(gc.topic)];
        topics[usize::from(gc.topic)].groups.push(g as u32);
        let svc = &world.services[gc.service.0 as usize];
        let mut ids = Vec::new();
        for (r, &host) in svc.replicas.iter().enumerate() {
            let replica = format!("replica-{r}");
            let key = ["edge", "topic", &topic.name, &svc.name, &replica];
            let e = edge(&key, r as u32, host as u32, gc.service, &name(topic.broker));
            ids.push(members.len() as u32);
            members.push(Member {
                group: g as u32,
                service: gc.service.0,
                replica: r as u32,
                edge: e,
                generation: 0,
                in_group: true,
                assigned: 0..0,
                rotate: 0,
                state: State::Idle,
                batch: VecDeque::new(),
                done: Vec::new(),
                current: None,
                session: None,
            });
        }
        groups.push(GroupState {
            config: gc.clone(),
            members: ids,
            parts: vec![Part::default(); topic.partitions as usize],
            generation: 0,
            rebalancing: None,
            pause_over: false,
            report: GroupReport {
                name: svc.name.clone(),
                commit: gc.commit,
                members: svc.replicas.len() as u32,
                partitions: Vec::new(),
                rebalances: 0,
                rebalancing: SimDuration::ZERO,
                oldest_age: SimDuration::ZERO,
                end_to_end: OutcomeStats::new(world.window),
                series: QueueSeries::new(world.window),
            },
        });
    }
    (topics, groups, members)
}

/// What grows with the records held: one publish time each.
pub(super) fn footprint_bytes(topics: &[TopicState]) -> usize {
    topics
        .iter()
        .flat_map(|t| &t.log)
        .map(|l| l.len() * 8)
        .sum()
}

impl GroupState {
    fn lag(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| p.report.published - p.committed)
            .sum()
    }

    /// When the oldest record the group has not committed was published (`log` and `base` are
    /// its topic's): the age a consumer group is behind, as a queue's oldest message.
    fn oldest(&self, log: &[VecDeque<SimTime>], base: &[u64]) -> Option<SimTime> {
        self.parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.committed < p.report.published)
            .filter_map(|(i, p)| {
                let at = p.committed.checked_sub(base[i])?;
                log[i].get(usize::try_from(at).ok()?).copied()
            })
            .min()
    }

    fn changed(&mut self, now: SimTime, log: &[VecDeque<SimTime>], base: &[u64]) {
        let level = Level {
            backlog: self.lag(),
            in_flight: 0,
            oldest: self.oldest(log, base),
        };
        self.report.series.set_level(now, level);
    }
}

impl World {
    fn member_host(&self, m: u32) -> u32 {
        let b = self.broker.as_ref().expect("a broker");
        let mb = &b.members[m as usize];
        self.services[mb.service as usize].replicas[mb.replica as usize].host
    }

    fn topic_broker_host(&self, m: u32) -> (u32, bool) {
        let b = self.broker.as_ref().expect("a broker");
        let g = &b.groups[b.members[m as usize].group as usize];
        let broker = b.topics[usize::from(g.config.topic)].config.broker;
        let r = &self.services[broker.0 as usize].replicas[0];
        (r.host, r.up())
    }

    /// Whether a member's event is still of its generation (not from before a crash).
    pub(in crate::world) fn member_event_live(&self, m: u32, generation: u32) -> bool {
        let b = self.broker.as_ref().expect("a broker");
        b.members[m as usize].generation == generation
    }

    /// Whether a rebalance pause event is of the group's current rebalance.
    pub(in crate::world) fn rebalance_event_live(&self, g: u32, generation: u32) -> bool {
        let b = self.broker.as_ref().expect("a broker");
        b.groups[g as usize].generation == generation
    }

    /// A member's replica runs and it is in its group.
    fn member_live(&self, m: u32) -> bool {
        let b = self.broker.as_ref().expect("a broker");
        let mb = &b.members[m as usize];
        mb.in_group && self.services[mb.service as usize].replicas[mb.replica as usize].up()
    }

    /// The groups take their first assignment (the initial join is not counted as a
    /// rebalance) and every member fetches.
    pub(super) fn topic_start(&mut self, s: &mut Scheduler<WorldEvent>) {
        let groups = self.brokers().groups.len() as u32;
        for g in 0..groups {
            self.assign(s, g);
        }
    }

    /// A publish to a topic: the record is appended to its key's partition (the step's own
    /// key, or one drawn here from the topic's `keys`; round-robin without keys), and a member
    /// waiting for it is answered.
    pub(super) fn topic_publish(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        topic: u16,
        key: Option<MessageKey>,
    ) {
        let now = s.now();
        let b = self.brokers();
        let t = &mut b.topics[usize::from(topic)];
        let partitions = t.config.partitions;
        let p = match (key, t.config.keys) {
            (Some(key), _) => partition_of(key.0, partitions),
            (None, Some(keys)) => {
                let key = t.key_rng.below_inclusive(u64::from(keys) - 1);
                partition_of(key, partitions)
            }
            (None, None) => {
                let p = t.round_robin;
                t.round_robin = (p + 1) % partitions;
                p
            }
        };
        t.log[p as usize].push_back(now);
        t.published[p as usize] += 1;
        let mut waiting = Vec::new();
        for &g in &t.groups {
            let group = &mut b.groups[g as usize];
            let part = &mut group.parts[p as usize];
            part.report.published += 1;
            let lag = part.report.published - part.committed;
            part.report.max_lag = part.report.max_lag.max(lag);
            group.report.series.count(now, |w| w.published += 1);
            group.changed(now, &t.log, &t.base);
            waiting.extend(group.members.iter().copied().filter(|&m| {
                let mb = &b.members[m as usize];
                mb.state == State::Parked && mb.assigned.contains(&p)
            }));
        }
        if t.groups.is_empty() {
            trim(b, topic);
        }
        for m in waiting {
            self.serve_fetch(s, m);
        }
    }

    /// A member sends a fetch to the broker, unless its group is rebalancing.
    pub(in crate::world) fn fetch_send(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        member: u32,
        generation: u32,
    ) {
        let b = self.brokers();
        let mb = &b.members[member as usize];
        if mb.generation != generation || !self.member_live(member) {
            return;
        }
        let b = self.brokers();
        let mb = &mut b.members[member as usize];
        if b.groups[mb.group as usize].rebalancing.is_some() || mb.assigned.is_empty() {
            mb.state = State::Idle;
            return;
        }
        mb.state = State::Fetching;
        let edge = mb.edge;
        let from = self.member_host(member);
        let (to, _) = self.topic_broker_host(member);
        match self.transmit(edge, from, to, s.now()) {
            Transit::Arrives(latency) => {
                s.schedule_in(latency, WorldEvent::FetchArrive { member, generation })
            }
            Transit::Lost | Transit::Refused(_) => self.fetch_later(s, member),
        }
    }

    fn fetch_later(&mut self, s: &mut Scheduler<WorldEvent>, member: u32) {
        let b = self.brokers();
        let mb = &mut b.members[member as usize];
        mb.state = State::Fetching;
        let generation = mb.generation;
        let retry = b.groups[mb.group as usize].config.poll_retry;
        s.schedule_in(retry, WorldEvent::FetchSend { member, generation });
    }

    /// A fetch reaches the broker.
    pub(in crate::world) fn on_fetch_arrive(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        member: u32,
        generation: u32,
    ) {
        let b = self.brokers();
        if b.members[member as usize].generation != generation {
            return;
        }
        let group = b.members[member as usize].group;
        if !self.topic_broker_host(member).1 {
            // The broker's process is down: the connection is refused.
            self.fetch_later(s, member);
            return;
        }
        if self.brokers().groups[group as usize].rebalancing.is_some() {
            // The member learns of the rebalance and rejoins; it fetches when it is over.
            self.brokers().members[member as usize].state = State::Idle;
            self.try_complete(s, group);
            return;
        }
        self.serve_fetch(s, member);
    }

    /// The broker answers a fetch with up to `max_poll_records` records from the member's
    /// partitions (taken in turn, each in offset order), or parks it until one comes.
    fn serve_fetch(&mut self, s: &mut Scheduler<WorldEvent>, member: u32) {
        let now = s.now();
        let b = self.broker.as_deref_mut().expect("a broker");
        let mb = &mut b.members[member as usize];
        let group = &mut b.groups[mb.group as usize];
        let t = &b.topics[usize::from(group.config.topic)];
        let max = group.config.max_poll_records as usize;
        let mut batch = VecDeque::new();
        let n = mb.assigned.len() as u32;
        for k in 0..n {
            let p = mb.assigned.start + (mb.rotate + k) % n;
            let part = &mut group.parts[p as usize];
            while batch.len() < max && part.position < part.report.published {
                let at = (part.position - t.base[p as usize]) as usize;
                batch.push_back(Record {
                    partition: p,
                    offset: part.position,
                    published: t.log[p as usize][at],
                });
                part.position += 1;
            }
        }
        mb.rotate = (mb.rotate + 1) % n.max(1);
        if batch.is_empty() {
            mb.state = State::Parked;
            return;
        }
        let count = batch.len() as u64;
        group.report.series.count(now, |w| w.received += count);
        mb.state = State::Busy;
        mb.batch = batch;
        let (edge, generation) = (mb.edge, mb.generation);
        let (from, _) = self.topic_broker_host(member);
        let to = self.member_host(member);
        match self.transmit(edge, from, to, now) {
            Transit::Arrives(latency) => {
                s.schedule_in(latency, WorldEvent::Records { member, generation })
            }
            Transit::Lost | Transit::Refused(_) => {
                // The member never saw them: it fetches them again from the same position.
                let b = self.brokers();
                let mb = &mut b.members[member as usize];
                let group = &mut b.groups[mb.group as usize];
                for r in mb.batch.drain(..).rev() {
                    group.parts[r.partition as usize].position = r.offset;
                }
                self.fetch_later(s, member);
            }
        }
    }

    /// A batch reaches its member: at-most-once commits it now; then its records are
    /// processed in order.
    pub(in crate::world) fn on_records<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        member: u32,
        generation: u32,
    ) {
        let b = self.brokers();
        if b.members[member as usize].generation != generation || !self.member_live(member) {
            return;
        }
        let now = s.now();
        let b = self.brokers();
        let mb = &b.members[member as usize];
        let group = &mut b.groups[mb.group as usize];
        if group.config.commit == Commit::Before {
            for r in &mb.batch {
                let part = &mut group.parts[r.partition as usize];
                part.committed = part.committed.max(r.offset + 1);
            }
            let topic = group.config.topic;
            let t = &b.topics[usize::from(topic)];
            group.changed(now, &t.log, &t.base);
            trim(b, topic);
        }
        self.process_record::<TRACE>(s, member);
    }

    fn process_record<const TRACE: bool>(&mut self, s: &mut Scheduler<WorldEvent>, member: u32) {
        let b = self.brokers();
        let base = b.pollers.len() as u32;
        let mb = &mut b.members[member as usize];
        let Some(r) = mb.batch.pop_front() else {
            self.batch_done(s, member);
            return;
        };
        mb.current = Some((r, None));
        let (edge, generation) = (mb.edge, mb.generation);
        let owner = Owner::Delivery {
            poller: base + member,
            generation,
        };
        let call = self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Serve);
        let mb = &mut self.brokers().members[member as usize];
        if let Some((current, slot)) = &mut mb.current
            && mb.generation == generation
            && current.offset == r.offset
            && current.partition == r.partition
        {
            *slot = Some(call);
        }
    }

    /// A member's processing of a record ended (the caller checked the member's id).
    pub(super) fn member_done<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        member: u32,
        generation: u32,
        outcome: Outcome,
    ) {
        let now = s.now();
        let b = self.brokers();
        let mb = &mut b.members[member as usize];
        if mb.generation != generation {
            return;
        }
        let (r, _) = mb.current.take().expect("a member's processing ended");
        let ok = outcome.is_answer();
        let group = &mut b.groups[mb.group as usize];
        let part = &mut group.parts[r.partition as usize];
        match mb.done.iter_mut().find(|(p, _)| *p == r.partition) {
            Some((_, upto)) => {
                part.report.out_of_order += u64::from(*upto != r.offset);
                *upto = r.offset + 1;
            }
            None => mb.done.push((r.partition, r.offset + 1)),
        }
        if r.offset < part.processed {
            part.report.duplicates += 1;
            group.report.series.count(now, |w| w.duplicates += 1);
        } else {
            part.report.out_of_order += u64::from(r.offset != part.processed);
            part.processed = r.offset + 1;
            if ok {
                part.report.consumed += 1;
                group.report.series.count(now, |w| w.acked += 1);
            } else {
                part.report.failed += 1;
            }
        }
        if ok {
            group.report.end_to_end.record_ok(now, now - r.published);
        }
        self.process_record::<TRACE>(s, member);
    }

    /// A member processed its whole batch: at-least-once commits it now; it fetches again,
    /// or lets its group's rebalance complete.
    fn batch_done(&mut self, s: &mut Scheduler<WorldEvent>, member: u32) {
        let now = s.now();
        let b = self.brokers();
        let mb = &mut b.members[member as usize];
        let (g, generation) = (mb.group, mb.generation);
        let group = &mut b.groups[g as usize];
        if group.config.commit == Commit::After {
            for &(p, upto) in &mb.done {
                let part = &mut group.parts[p as usize];
                part.committed = part.committed.max(upto);
            }
            let topic = group.config.topic;
            let t = &b.topics[usize::from(topic)];
            group.changed(now, &t.log, &t.base);
            trim(b, topic);
        }
        let mb = &mut self.brokers().members[member as usize];
        mb.done.clear();
        mb.state = State::Idle;
        self.fetch_send(s, member, generation);
        self.try_complete(s, g);
    }

    /// A replica crashed: its members lose their batch (records processed and not committed
    /// come again: at-least-once), their current call is cancelled, and their session starts
    /// to run out. Members parked at a crashed broker fetch again later.
    pub(super) fn topic_crashed<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        service: u32,
        replica: u32,
    ) {
        let mut cancel = Vec::new();
        let mut refetch = Vec::new();
        let mut groups = Vec::new();
        let b = self.brokers();
        for m in 0..b.members.len() {
            let mb = &mut b.members[m];
            let group = &mut b.groups[mb.group as usize];
            let broker = b.topics[usize::from(group.config.topic)].config.broker;
            if broker.0 == service && mb.state == State::Parked {
                refetch.push(m as u32);
            }
            if (mb.service, mb.replica) != (service, replica) {
                continue;
            }
            mb.generation += 1;
            if let Some((_, call)) = mb.current.take() {
                cancel.extend(call);
            }
            for &(p, upto) in &mb.done {
                let part = &mut group.parts[p as usize];
                part.report.redelivered += upto.saturating_sub(part.committed);
            }
            mb.done.clear();
            mb.batch.clear();
            mb.state = State::Idle;
            if mb.in_group {
                let event = WorldEvent::SessionExpired {
                    member: m as u32,
                    generation: mb.generation,
                };
                mb.session = Some(s.timer_in(group.config.session_timeout, event));
            }
            groups.push(mb.group);
        }
        for m in refetch {
            self.fetch_later(s, m);
        }
        for (call, serial) in cancel {
            let c = &self.calls[call];
            if c.serial == serial && !c.finished {
                self.cancel_call::<TRACE>(s, call);
            }
        }
        for g in groups {
            self.try_complete(s, g);
        }
    }

    /// A crashed member's session ran out: the group notices it left and rebalances.
    pub(in crate::world) fn on_session_expired(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        member: u32,
        generation: u32,
    ) {
        let b = self.brokers();
        let mb = &mut b.members[member as usize];
        if mb.generation != generation || !mb.in_group {
            return;
        }
        mb.session = None;
        mb.in_group = false;
        let g = mb.group;
        self.start_rebalance(s, g);
    }

    /// Restarted replicas: their members join their group again, which rebalances.
    pub(super) fn topic_wake(&mut self, s: &mut Scheduler<WorldEvent>, woken: &[(u32, u32)]) {
        for &(service, replica) in woken {
            for m in 0..self.brokers().members.len() {
                let mb = &mut self.brokers().members[m];
                if (mb.service, mb.replica) != (service, replica) {
                    continue;
                }
                if let Some(t) = mb.session.take() {
                    s.cancel(t);
                }
                mb.in_group = true;
                let g = mb.group;
                self.start_rebalance(s, g);
            }
        }
    }

    fn start_rebalance(&mut self, s: &mut Scheduler<WorldEvent>, g: u32) {
        let now = s.now();
        let b = self.brokers();
        let group = &mut b.groups[g as usize];
        group.generation += 1;
        group.report.rebalances += 1;
        group.rebalancing.get_or_insert(now);
        group.pause_over = false;
        let event = WorldEvent::RebalanceOver {
            group: g,
            generation: group.generation,
        };
        s.schedule_in(group.config.rebalance, event);
        for &m in &group.members {
            let mb = &mut b.members[m as usize];
            if mb.state == State::Parked {
                mb.state = State::Idle;
            }
        }
    }

    pub(in crate::world) fn on_rebalance_over(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        g: u32,
        generation: u32,
    ) {
        let group = &mut self.brokers().groups[g as usize];
        if group.generation == generation {
            group.pause_over = true;
            self.try_complete(s, g);
        }
    }

    /// A rebalance completes once its pause is over and no live member holds a batch.
    fn try_complete(&mut self, s: &mut Scheduler<WorldEvent>, g: u32) {
        let b = self.broker.as_ref().expect("a broker");
        let group = &b.groups[g as usize];
        if group.rebalancing.is_none() || !group.pause_over {
            return;
        }
        let busy = group
            .members
            .iter()
            .any(|&m| b.members[m as usize].state == State::Busy && self.member_live(m));
        if busy {
            return;
        }
        let group = &mut self.brokers().groups[g as usize];
        let since = group.rebalancing.take().expect("rebalancing");
        group.report.rebalancing += s.now() - since;
        self.assign(s, g);
    }

    /// The range assignor over the live members; every partition's owner starts from its
    /// committed offset (records committed and never processed are lost), and the idle
    /// members fetch.
    fn assign(&mut self, s: &mut Scheduler<WorldEvent>, g: u32) {
        let ids = self.brokers().groups[g as usize].members.clone();
        let live: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&m| self.member_live(m))
            .collect();
        let b = self.brokers();
        let group = &mut b.groups[g as usize];
        let partitions = group.parts.len() as u32;
        for &m in &ids {
            b.members[m as usize].assigned = 0..0;
        }
        for (i, &m) in live.iter().enumerate() {
            let mb = &mut b.members[m as usize];
            mb.assigned = range_assignment(partitions, live.len() as u32, i as u32);
            mb.rotate = 0;
        }
        let now = s.now();
        for part in &mut group.parts {
            part.position = part.committed;
            if part.committed > part.processed {
                let lost = part.committed - part.processed;
                part.report.lost += lost;
                group.report.series.count(now, |w| w.dead_lettered += lost);
                part.processed = part.committed;
            }
        }
        for m in live {
            let mb = &mut self.brokers().members[m as usize];
            if mb.state == State::Idle {
                mb.state = State::Fetching;
                let generation = mb.generation;
                s.schedule_in(
                    SimDuration::ZERO,
                    WorldEvent::FetchSend {
                        member: m,
                        generation,
                    },
                );
            }
        }
    }

    /// The topics' reports at the end of the run.
    pub(super) fn topic_finish(b: &mut BrokerState, end: SimTime) -> Vec<TopicReport> {
        let mut groups: Vec<Option<GroupState>> = std::mem::take(&mut b.groups)
            .into_iter()
            .map(Some)
            .collect();
        std::mem::take(&mut b.topics)
            .into_iter()
            .map(|t| TopicReport {
                name: t.config.name.clone(),
                broker: t.broker.clone(),
                partitions: t.config.partitions,
                keys: t.config.keys,
                keyed: t.config.keyed,
                published: t.published.clone(),
                groups: t
                    .groups
                    .iter()
                    .map(|&g| {
                        let mut group = groups[g as usize].take().expect("a group of one topic");
                        if let Some(since) = group.rebalancing {
                            group.report.rebalancing += end - since;
                        }
                        group.report.partitions = group
                            .parts
                            .iter()
                            .map(|p| PartitionReport {
                                committed: p.committed,
                                unprocessed: p.report.published - p.processed,
                                lag: p.report.published - p.committed,
                                ..p.report
                            })
                            .collect();
                        for p in &group.report.partitions {
                            assert!(
                                p.conserved(),
                                "topic {}: records not conserved",
                                t.config.name
                            );
                        }
                        group.report.oldest_age = group
                            .oldest(&t.log, &t.base)
                            .map_or(SimDuration::ZERO, |o| end - o);
                        group.report.end_to_end.finish(end);
                        group.report.series.finish(end);
                        group.report
                    })
                    .collect(),
            })
            .collect()
    }
}

/// Drops the records every group of `topic` committed.
fn trim(b: &mut BrokerState, topic: u16) {
    let t = &mut b.topics[usize::from(topic)];
    for p in 0..t.log.len() {
        let keep = t
            .groups
            .iter()
            .map(|&g| b.groups[g as usize].parts[p].committed)
            .min()
            .unwrap_or(t.published[p]);
        while t.base[p] < keep && t.log[p].pop_front().is_some() {
            t.base[p] += 1;
        }
    }
}
