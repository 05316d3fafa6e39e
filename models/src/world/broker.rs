//! Brokers and their consumers (issue 15): queues with SQS semantics held by a broker service,
//! publishes arriving as calls to it, consumer pollers receiving over the network, each message
//! processed as a request to the consumer service itself, acks, visibility timeouts,
//! redeliveries, dead letters, retention, and what crashes do to all of it.
//!
//! ```text
//!  producer ──publish (a call: timeout, retries)──▶ broker: queue ──receive──▶ consumer poller
//!      ▲            ack (reply)                       ▲   │ visibility timeout      │ a request
//!      └──────────────────────────────────────────────┘   ▼ redelivered, or DLQ     ▼ to itself
//!                                                    ◀──────────── ack ──────── processed
//! ```
//!
//! A poller long-polls: its receive waits at the broker until a message is visible (SQS
//! `WaitTimeSeconds`, renewed without a gap). The messages it receives travel back over the
//! network; it processes them one after another as local calls to its own replica (no network
//! hop, no policy: the consumer's workers, queue, service time and call plan); a success sends
//! an ack (`DeleteMessage` with the receipt) over the network; then it polls again. A receive or
//! ack lost to a partition or a down host is noticed by the poller after `poll_retry`.

mod consumer;
mod crash;
mod outbox;
mod topic;

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::broker::{
    BrokerConfig, ConsumerConfig, Level, MAX_TRACKED_KEYS, Publish, QueueConfig, QueueReport,
    QueueSeries,
};
use crate::fifo::{FifoState, GroupId};
use crate::outbox::WriteReport;
use crate::topic::TopicReport;

/// What an edge carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EdgeRole {
    Call,
    /// Publishes to a queue of its callee, a broker.
    Publish(Publish),
    /// A consumer replica's processing of the messages it received: a local call to itself.
    Deliver {
        replica: u32,
    },
}

struct Message {
    /// The message's identity: its publishing call's serial (retried publishes of one call
    /// share it) or its outbox record. A FIFO queue's deduplication ID and what a consumer's
    /// `dedupe` and the duplicate count recognise; never the step's business key.
    identity: u64,
    published: SimTime,
    receives: u32,
    /// Bumped at each receive; an ack must carry the latest.
    receipt: u32,
    in_flight: bool,
    poison: bool,
    timer: Option<TimerId>,
    /// Its message group (its step's key, or its identity hashed) and its place in it
    /// (meaningless without groups).
    group: GroupId,
    seq: u64,
}

/// A message as a receive hands it to a poller.
#[derive(Clone, Copy)]
struct Received {
    message: u64,
    receipt: u32,
    identity: u64,
    published: SimTime,
    poison: bool,
    group: GroupId,
    seq: u64,
}

struct QueueState {
    config: QueueConfig,
    /// Every message in the queue by id; ids grow with publish time, so the first is the oldest.
    messages: BTreeMap<u64, Message>,
    visible: BTreeSet<u64>,
    in_flight: u64,
    /// Pollers waiting in a long poll, with their generation.
    parked: VecDeque<(u32, u32)>,
    poison_rng: SimRng,
    /// Identities processed successfully and how often, oldest first (for the duplicate
    /// count).
    processed_keys: BTreeMap<u64, u32>,
    key_order: VecDeque<(SimTime, u64)>,
    report: QueueReport,
    /// Message groups, when written (`fifo.rs` of the crate).
    fifo: Option<FifoState>,
}

/// The message a poller is processing, its call once started, and whether it claimed the
/// message's identity (an idempotent consumer).
type Processing = (Received, Option<(CallSlot, CallSerial)>, bool);

struct Poller {
    consumer: u32,
    service: u32,
    replica: u32,
    queue: u16,
    /// Bumped when the poller's process or the broker it waits at crashes: older events are
    /// stale.
    generation: u32,
    edge: EdgeId,
    batch: VecDeque<Received>,
    current: Option<Processing>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    InProgress,
    /// Processed at this time.
    Done(SimTime),
}

struct ConsumerState {
    config: ConsumerConfig,
    /// An idempotent consumer's identities: claimed while processing, done for `dedupe` after.
    seen: BTreeMap<u64, Seen>,
    done_order: VecDeque<(SimTime, u64)>,
}

pub(super) struct BrokerState {
    queues: Vec<QueueState>,
    pollers: Vec<Poller>,
    consumers: Vec<ConsumerState>,
    next_message: u64,
    /// Replicas restarted during the current event (their pollers start, their queues requeue).
    pub(super) woken: Vec<(u32, u32)>,
    /// Kafka-like topics, their consumer groups and the groups' members (`topic.rs`); a
    /// member's processing is owned by `Owner::Delivery` with `pollers.len() + member`.
    topics: Vec<topic::TopicState>,
    groups: Vec<topic::GroupState>,
    members: Vec<topic::Member>,
    /// Write steps that publish: their records and outbox relays (`outbox.rs`).
    outbox: outbox::OutboxState,
}

impl BrokerState {
    /// The queues and pollers of a configuration, and the delivery edges they need (one per
    /// consumer replica), made by `edge` from a stream key, a caller host and a callee.
    pub(super) fn new(
        config: &BrokerConfig,
        world: &WorldConfig,
        streams: &RngStreams,
        mut edge: impl FnMut(&[&str], u32, u32, ServiceId, &str) -> EdgeId,
    ) -> Option<Box<BrokerState>> {
        if config.is_empty() {
            return None;
        }
        let window = world.window;
        let name = |id: ServiceId| world.services[id.0 as usize].name.clone();
        let queues = config
            .queues
            .iter()
            .map(|q| QueueState {
                config: q.clone(),
                messages: BTreeMap::new(),
                visible: BTreeSet::new(),
                in_flight: 0,
                parked: VecDeque::new(),
                poison_rng: streams.stream(&["broker", &q.name, "poison"]),
                processed_keys: BTreeMap::new(),
                key_order: VecDeque::new(),
                fifo: q.groups.map(|g| {
                    let salt = streams.stream(&["broker", &q.name, "groups"]).next_u64();
                    FifoState::new(g, salt)
                }),
                report: QueueReport {
                    name: q.name.clone(),
                    broker: name(q.broker),
                    consumers: config
                        .consumers
                        .iter()
                        .filter(|c| config.queues[c.queue as usize].name == q.name)
                        .map(|c| name(c.service))
                        .collect(),
                    visibility_timeout: q.visibility_timeout,
                    dead_letter: q
                        .dead_letter
                        .map(|d| (config.queues[d.queue as usize].name.clone(), d.max_receives)),
                    published: 0,
                    dead_letters_in: 0,
                    received: 0,
                    redelivered: 0,
                    acked: 0,
                    stale_acks: 0,
                    processed: 0,
                    failed: 0,
                    duplicates: 0,
                    deduplicated: 0,
                    dead_lettered: 0,
                    expired: 0,
                    lost: 0,
                    backlog: 0,
                    in_flight: 0,
                    oldest_age: SimDuration::ZERO,
                    end_to_end: OutcomeStats::new(window),
                    series: QueueSeries::new(window),
                    fifo: None,
                },
            })
            .collect();
        let (topics, groups, members) = topic::new(config, world, streams, &mut edge);
        let mut pollers = Vec::new();
        for (c, consumer) in config.consumers.iter().enumerate() {
            let svc = &world.services[consumer.service.0 as usize];
            let queue = &config.queues[consumer.queue as usize];
            for (r, &host) in svc.replicas.iter().enumerate() {
                let replica = format!("replica-{r}");
                let key = ["edge", "broker", &queue.name, &svc.name, &replica];
                let broker = name(queue.broker);
                let e = edge(&key, r as u32, host as u32, consumer.service, &broker);
                for _ in 0..consumer.concurrency {
                    pollers.push(Poller {
                        consumer: c as u32,
                        service: consumer.service.0,
                        replica: r as u32,
                        queue: consumer.queue,
                        generation: 0,
                        edge: e,
                        batch: VecDeque::new(),
                        current: None,
                    });
                }
            }
        }
        Some(Box::new(BrokerState {
            queues,
            pollers,
            consumers: config
                .consumers
                .iter()
                .map(|c| ConsumerState {
                    config: c.clone(),
                    seen: BTreeMap::new(),
                    done_order: VecDeque::new(),
                })
                .collect(),
            next_message: 0,
            woken: Vec::new(),
            topics,
            groups,
            members,
            outbox: outbox::new(config, world),
        }))
    }
}

impl BrokerState {
    /// What grows with the messages held: their entries and the keys remembered, at a
    /// generous cost per B-tree entry, so `limits.memory` stops a queue nobody drains.
    pub(super) fn footprint_bytes(&self) -> usize {
        const ENTRY: usize = 64;
        let queues: usize = self
            .queues
            .iter()
            .map(|q| {
                q.messages.len() * (std::mem::size_of::<Message>() + ENTRY)
                    + q.visible.len() * ENTRY
                    + q.processed_keys.len() * ENTRY
                    + q.key_order.len() * 16
                    + q.fifo.as_ref().map_or(0, FifoState::footprint_bytes)
            })
            .sum();
        let consumers: usize = self
            .consumers
            .iter()
            .map(|c| c.seen.len() * ENTRY + c.done_order.len() * 16)
            .sum();
        queues + consumers + topic::footprint_bytes(&self.topics) + self.outbox.footprint_bytes()
    }
}

impl QueueState {
    fn level(&self) -> Level {
        Level {
            backlog: self.visible.len() as u64,
            in_flight: self.in_flight,
            oldest: self.messages.first_key_value().map(|(_, m)| m.published),
        }
    }

    fn changed(&mut self, now: SimTime) {
        let level = self.level();
        self.report.series.set_level(now, level);
    }

    /// Takes a message out of the queue at `now`; returns it.
    fn take(&mut self, id: u64, now: SimTime) -> Message {
        let m = self.messages.remove(&id).expect("a message in its queue");
        if m.in_flight {
            self.in_flight -= 1;
            if let Some(f) = &mut self.fifo {
                f.in_flight(m.group, -1, now);
            }
        } else {
            self.visible.remove(&id);
            if let Some(f) = &mut self.fifo {
                f.gone(m.group, id, now);
            }
        }
        m
    }

    /// Whether a receive would take a message: one is visible, and in a FIFO queue its group
    /// has none in flight.
    fn receivable(&self) -> bool {
        match &self.fifo {
            Some(f) if f.strict() => f.receivable(),
            _ => !self.visible.is_empty(),
        }
    }

    /// The next message a receive takes (see `FifoState::take_next`), out of the visible set.
    fn next_visible(&mut self, same: Option<GroupId>, now: SimTime) -> Option<u64> {
        match &mut self.fifo {
            Some(f) if f.strict() => {
                let (id, _) = f.take_next(same, now)?;
                self.visible.remove(&id);
                Some(id)
            }
            _ => self.visible.pop_first(),
        }
    }
}

impl World {
    fn brokers(&mut self) -> &mut BrokerState {
        self.broker.as_deref_mut().expect("a broker")
    }

    /// Every poller sends its first receive at the start.
    pub(super) fn broker_start(&mut self, s: &mut Scheduler<WorldEvent>) {
        let Some(b) = &self.broker else { return };
        for poller in 0..b.pollers.len() as u32 {
            s.schedule_in(
                SimDuration::ZERO,
                WorldEvent::PollSend {
                    poller,
                    generation: 0,
                },
            );
        }
        self.topic_start(s);
        self.outbox_start(s);
    }

    /// A publish reached the broker and its work is done: the message is stored, and the
    /// reply that follows is the broker's ack to the producer.
    pub(super) fn broker_publish(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
    ) -> Outcome {
        let now = s.now();
        let EdgeRole::Publish(publish) = self.edges[self.jobs[job].edge].cold.role else {
            // A plain call to a broker (a health check of sorts): answered, nothing stored.
            return Outcome::Ok;
        };
        let call = &self.calls[self.jobs[job].call];
        let (mut identity, mut key) = (call.serial.0, call.drawn.publish_key());
        if publish.write.is_some() {
            (identity, key) = self.record_stored(now, identity);
        }
        if publish.topic {
            self.topic_publish(s, publish.queue, key);
            return Outcome::Ok;
        }
        let b = self.brokers();
        let q = &mut b.queues[usize::from(publish.queue)];
        let (mut group, mut seq) = (GroupId::Hashed(0), 0);
        if let Some(f) = &mut q.fifo {
            if f.duplicate_publish(now, identity) {
                // Acknowledged, not stored: the deduplication ID was accepted before.
                return Outcome::Ok;
            }
            group = f.group_of(identity, key);
            seq = f.next_seq(group);
        }
        let id = b.next_message;
        b.next_message += 1;
        let q = &mut b.queues[usize::from(publish.queue)];
        let poison = q.config.poison > 0.0 && q.poison_rng.chance(q.config.poison);
        q.messages.insert(
            id,
            Message {
                identity,
                published: now,
                receives: 0,
                receipt: 0,
                in_flight: false,
                poison,
                timer: None,
                group,
                seq,
            },
        );
        q.visible.insert(id);
        if let Some(f) = &mut q.fifo {
            f.visible(group, id, now);
        }
        q.report.published += 1;
        q.report.series.count(now, |w| w.published += 1);
        q.changed(now);
        self.offer(s, publish.queue);
        Outcome::Ok
    }

    /// A fire-and-forget publish: its step counts it as done at once, and the call goes on by
    /// itself (its outcome is for nobody), like an asynchronous producer's send.
    pub(super) fn publish_detached<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job: JobSlot,
        (call, serial): (CallSlot, CallSerial),
    ) {
        let c = &mut self.calls[call];
        if c.serial != serial || c.finished {
            // It ended at once (a breaker open, a deadline spent) and told the step already.
            return;
        }
        c.parent_attempt = NO_ATTEMPT;
        self.chain_broken();
        self.step_call_done::<TRACE>(s, job, Outcome::Ok);
    }

    /// Hands visible messages to the pollers waiting at the queue, first come first served.
    fn offer(&mut self, s: &mut Scheduler<WorldEvent>, queue: u16) {
        loop {
            let b = self.brokers();
            let q = &mut b.queues[usize::from(queue)];
            if !q.receivable() {
                return;
            }
            let Some((poller, generation)) = q.parked.pop_front() else {
                return;
            };
            if b.pollers[poller as usize].generation == generation {
                self.receive(s, poller);
            }
        }
    }

    /// A receive at the broker: up to `batch` visible messages become in flight for the
    /// visibility timeout and travel to the poller; with none, the poller waits (long poll).
    fn receive(&mut self, s: &mut Scheduler<WorldEvent>, poller: u32) {
        let now = s.now();
        let p = &self.broker.as_ref().expect("a broker").pollers[poller as usize];
        let (queue, consumer, edge, generation) = (p.queue, p.consumer, p.edge, p.generation);
        let batch = self.brokers().consumers[consumer as usize].config.batch;
        let broker_service = self.brokers().queues[usize::from(queue)].config.broker;
        let broker_host = self.services[broker_service.0 as usize].replicas[0].host;
        let timeout = self.brokers().queues[usize::from(queue)]
            .config
            .visibility_timeout;
        let timeout = self.local_delay(broker_host, now, timeout);
        let mut received = VecDeque::new();
        let b = self.broker.as_deref_mut().expect("a broker");
        let q = &mut b.queues[usize::from(queue)];
        let mut same = None;
        while received.len() < batch as usize {
            let Some(id) = q.next_visible(same, now) else {
                break;
            };
            let m = q
                .messages
                .get_mut(&id)
                .expect("a visible message is stored");
            same = Some(m.group);
            if now >= m.published + q.config.retention {
                let group = m.group;
                q.messages.remove(&id);
                if let Some(f) = &mut q.fifo {
                    f.in_flight(group, -1, now);
                }
                q.report.expired += 1;
                continue;
            }
            m.receives += 1;
            m.receipt += 1;
            m.in_flight = true;
            q.in_flight += 1;
            let again = m.receives > 1;
            let event = WorldEvent::VisibilityTimeout {
                queue,
                message: id,
                receipt: m.receipt,
            };
            m.timer = Some(s.timer_in(timeout, event));
            received.push_back(Received {
                message: id,
                receipt: m.receipt,
                identity: m.identity,
                published: m.published,
                poison: m.poison,
                group: m.group,
                seq: m.seq,
            });
            q.report.received += 1;
            q.report.redelivered += u64::from(again);
            q.report.series.count(now, |w| {
                w.received += 1;
                w.redelivered += u64::from(again);
            });
        }
        q.changed(now);
        if received.is_empty() {
            q.parked.push_back((poller, generation));
            return;
        }
        let p = &self.broker.as_ref().expect("a broker").pollers[poller as usize];
        let consumer_host = self.services[p.service as usize].replicas[p.replica as usize].host;
        self.brokers().pollers[poller as usize].batch = received;
        match self.transmit(edge, broker_host, consumer_host, now) {
            Transit::Arrives(latency) => {
                s.schedule_in(latency, WorldEvent::Receipts { poller, generation })
            }
            // The messages stay in flight until their visibility timeout; the poller's
            // receive failed and it tries again.
            Transit::Lost | Transit::Refused(_) => {
                self.brokers().pollers[poller as usize].batch.clear();
                self.poll_later(s, poller);
            }
        }
    }

    /// An ack reaches the broker: with the latest receipt it deletes the message.
    pub(super) fn on_ack_arrive(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        queue: u16,
        message: u64,
        receipt: u32,
    ) {
        let now = s.now();
        let broker = self.brokers().queues[usize::from(queue)].config.broker;
        if !self.services[broker.0 as usize].replicas[0].up() {
            return;
        }
        let q = &mut self.brokers().queues[usize::from(queue)];
        if q.messages
            .get(&message)
            .is_none_or(|m| m.receipt != receipt)
        {
            q.report.stale_acks += 1;
            return;
        }
        let m = q.take(message, now);
        if let Some(t) = m.timer {
            s.cancel(t);
        }
        q.report.acked += 1;
        q.report.series.count(now, |w| w.acked += 1);
        q.changed(now);
        if q.fifo.as_ref().is_some_and(FifoState::strict) {
            // The delete unlocks the message's group.
            self.offer(s, queue);
        }
    }

    /// A received message was not acked in time: it becomes visible again, or moves to the
    /// dead-letter queue after `max_receives` receives, or expires.
    pub(super) fn on_visibility_timeout(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        queue: u16,
        message: u64,
        receipt: u32,
    ) {
        let now = s.now();
        let b = self.brokers();
        let q = &mut b.queues[usize::from(queue)];
        let m = q
            .messages
            .get_mut(&message)
            .expect("a live visibility timer names a stored message");
        assert_eq!(
            m.receipt, receipt,
            "a live visibility timer has the receipt"
        );
        m.timer = None;
        m.in_flight = false;
        q.in_flight -= 1;
        q.visible.insert(message);
        let group = m.group;
        if let Some(f) = &mut q.fifo {
            f.in_flight(group, -1, now);
            f.visible(group, message, now);
        }
        let strict = q.fifo.as_ref().is_some_and(FifoState::strict);
        let m = &q.messages[&message];
        if now >= m.published + q.config.retention {
            q.take(message, now);
            q.report.expired += 1;
            q.changed(now);
            if strict {
                self.offer(s, queue);
            }
            return;
        }
        match q.config.dead_letter {
            Some(dl) if m.receives >= dl.max_receives => {
                let mut m = q.take(message, now);
                q.report.dead_lettered += 1;
                q.report.series.count(now, |w| w.dead_lettered += 1);
                q.changed(now);
                m.receives = 0;
                m.receipt = 0;
                let d = &mut b.queues[usize::from(dl.queue)];
                if let Some(f) = &mut d.fifo {
                    // It keeps its group and place: a FIFO dead-letter queue holds a group's
                    // dead letters in the order they were published.
                    f.visible(m.group, message, now);
                }
                d.messages.insert(message, m);
                d.visible.insert(message);
                d.report.dead_letters_in += 1;
                d.changed(now);
                self.offer(s, dl.queue);
                if strict {
                    // The dead letter's group is free again.
                    self.offer(s, queue);
                }
            }
            _ => {
                q.changed(now);
                self.offer(s, queue);
            }
        }
    }

    /// The queues' reports at the end of the run.
    pub(super) fn broker_finish(
        &mut self,
        end: SimTime,
    ) -> (Vec<QueueReport>, Vec<TopicReport>, Vec<WriteReport>) {
        let Some(mut b) = self.broker.take() else {
            return (Vec::new(), Vec::new(), Vec::new());
        };
        let writes = self.outbox_finish(std::mem::take(&mut b.outbox));
        let topics = Self::topic_finish(&mut b, end);
        let queues = b
            .queues
            .into_iter()
            .map(|mut q| {
                q.report.backlog = q.visible.len() as u64;
                q.report.in_flight = q.in_flight;
                q.report.oldest_age = q
                    .messages
                    .first_key_value()
                    .map_or(SimDuration::ZERO, |(_, m)| end - m.published);
                q.report.end_to_end.finish(end);
                q.report.series.finish(end);
                q.report.fifo = q.fifo.map(|f| f.finish(end));
                assert!(
                    q.report.conserved(),
                    "queue {}: messages not conserved",
                    q.report.name
                );
                q.report
            })
            .collect();
        (queues, topics, writes)
    }
}
