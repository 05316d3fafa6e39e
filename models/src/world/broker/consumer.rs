//! A consumer's pollers (issue 15): receives sent to the broker and answered, the received
//! messages processed one after another as local calls, successes acked, an idempotent
//! consumer's message identities. The queues themselves are in the parent, `broker.rs`.

use super::*;

impl World {
    /// The poller's receive failed: it polls again after its `poll_retry`.
    pub(super) fn poll_later(&mut self, s: &mut Scheduler<WorldEvent>, poller: u32) {
        let b = self.brokers();
        let p = &b.pollers[poller as usize];
        let retry = b.consumers[p.consumer as usize].config.poll_retry;
        let generation = p.generation;
        s.schedule_in(retry, WorldEvent::PollSend { poller, generation });
    }

    /// Whether a poller's event is current and its process runs.
    pub(super) fn poller_live(&self, poller: u32, generation: u32) -> bool {
        let p = &self.broker.as_ref().expect("a broker").pollers[poller as usize];
        let inst = &self.services[p.service as usize].replicas[p.replica as usize];
        p.generation == generation && inst.up()
    }

    /// A poller sends a receive to the broker.
    pub(in crate::world) fn on_poll_send(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        poller: u32,
        generation: u32,
    ) {
        if !self.poller_live(poller, generation) {
            return;
        }
        let now = s.now();
        let b = self.broker.as_ref().expect("a broker");
        let p = &b.pollers[poller as usize];
        let from = self.services[p.service as usize].replicas[p.replica as usize].host;
        let broker = b.queues[usize::from(p.queue)].config.broker;
        let to = self.services[broker.0 as usize].replicas[0].host;
        match self.transmit(p.edge, from, to, now) {
            Transit::Arrives(latency) => {
                s.schedule_in(latency, WorldEvent::PollArrive { poller, generation })
            }
            Transit::Lost | Transit::Refused(_) => self.poll_later(s, poller),
        }
    }

    /// A receive reaches the broker.
    pub(in crate::world) fn on_poll_arrive(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        poller: u32,
        generation: u32,
    ) {
        let b = self.broker.as_ref().expect("a broker");
        let p = &b.pollers[poller as usize];
        if p.generation != generation {
            return;
        }
        let broker = b.queues[usize::from(p.queue)].config.broker;
        if !self.services[broker.0 as usize].replicas[0].up() {
            // The broker's process is down: the connection is refused.
            self.poll_later(s, poller);
            return;
        }
        self.receive(s, poller);
    }

    /// Received messages reach their poller, which processes them in order.
    pub(in crate::world) fn on_receipts<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        poller: u32,
        generation: u32,
    ) {
        if self.poller_live(poller, generation) {
            self.process_next::<TRACE>(s, poller);
        }
    }

    /// The poller's next received message is processed; with none left, it polls again.
    pub(super) fn process_next<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        poller: u32,
    ) {
        let now = s.now();
        loop {
            let b = self.brokers();
            let p = &mut b.pollers[poller as usize];
            let Some(m) = p.batch.pop_front() else {
                let generation = p.generation;
                self.on_poll_send(s, poller, generation);
                return;
            };
            let (consumer, queue, edge, generation) = (p.consumer, p.queue, p.edge, p.generation);
            let c = &mut b.consumers[consumer as usize];
            let mut claimed = false;
            if c.config.dedupe.is_some() {
                forget_keys(c, now);
                match c.seen.get(&m.identity) {
                    Some(Seen::Done(_)) => {
                        b.queues[usize::from(queue)].report.deduplicated += 1;
                        self.send_ack(s, poller, m);
                        continue;
                    }
                    // Another delivery of it is being processed: leave this one unacked.
                    Some(Seen::InProgress) => continue,
                    None => {
                        c.seen.insert(m.identity, Seen::InProgress);
                        claimed = true;
                    }
                }
            }
            self.brokers().pollers[poller as usize].current = Some((m, None, claimed));
            let owner = Owner::Delivery { poller, generation };
            let call = self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Serve);
            let p = &mut self.brokers().pollers[poller as usize];
            if let Some((current, slot, _)) = &mut p.current
                && p.generation == generation
                && current.message == m.message
            {
                *slot = Some(call);
            }
            return;
        }
    }

    /// Whether a consumer's job processes a poison message (it fails, whatever the work).
    pub(in crate::world) fn poisoned(&self, job: JobSlot) -> bool {
        let Some(b) = &self.broker else { return false };
        match self.calls[self.jobs[job].call].owner {
            Owner::Delivery { poller, .. } => b
                .pollers
                .get(poller as usize)
                .is_some_and(|p| p.current.is_some_and(|(m, _, _)| m.poison)),
            _ => false,
        }
    }

    /// A poller's processing of a message ended: a success is counted and acked.
    pub(in crate::world) fn delivery_done<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        poller: u32,
        generation: u32,
        outcome: Outcome,
    ) {
        let now = s.now();
        let b = self.brokers();
        let members = b.pollers.len() as u32;
        let relays = members + b.members.len() as u32;
        if poller >= relays {
            self.relay_done::<TRACE>(s, poller - relays, generation, outcome);
            return;
        }
        if poller >= members {
            self.member_done::<TRACE>(s, poller - members, generation, outcome);
            return;
        }
        let p = &mut b.pollers[poller as usize];
        if p.generation != generation {
            return;
        }
        let (m, _, claimed) = p.current.take().expect("a poller's delivery ended");
        let (consumer, queue) = (p.consumer as usize, usize::from(p.queue));
        let ok = outcome.is_answer();
        let c = &mut b.consumers[consumer];
        if claimed {
            if ok {
                c.seen.insert(m.identity, Seen::Done(now));
                c.done_order.push_back((now, m.identity));
            } else {
                c.seen.remove(&m.identity);
            }
        }
        let q = &mut b.queues[queue];
        if ok {
            q.report.processed += 1;
            q.report.end_to_end.record_ok(now, now - m.published);
            let horizon = q.config.retention;
            while let Some(&(at, key)) = q.key_order.front() {
                if now - at < horizon && q.key_order.len() < MAX_TRACKED_KEYS {
                    break;
                }
                q.key_order.pop_front();
                q.processed_keys.remove(&key);
            }
            if let Some(f) = &mut q.fifo {
                f.processed(m.group, m.seq);
            }
            let count = q.processed_keys.entry(m.identity).or_insert(0);
            *count += 1;
            if *count == 1 {
                q.key_order.push_back((now, m.identity));
            } else {
                q.report.duplicates += 1;
                q.report.series.count(now, |w| w.duplicates += 1);
            }
            self.send_ack(s, poller, m);
        } else {
            q.report.failed += 1;
            if q.fifo.as_ref().is_some_and(crate::fifo::FifoState::strict) {
                // The rest of the batch's messages of this group wait for their visibility
                // timeout behind it, so that the group stays in order.
                let p = &mut self.brokers().pollers[poller as usize];
                p.batch.retain(|r| r.group != m.group);
            }
        }
        self.process_next::<TRACE>(s, poller);
    }

    /// The consumer deletes a message it processed: the ack crosses the network.
    pub(super) fn send_ack(&mut self, s: &mut Scheduler<WorldEvent>, poller: u32, m: Received) {
        let now = s.now();
        let b = self.broker.as_ref().expect("a broker");
        let p = &b.pollers[poller as usize];
        let queue = p.queue;
        let from = self.services[p.service as usize].replicas[p.replica as usize].host;
        let broker = b.queues[usize::from(queue)].config.broker;
        let to = self.services[broker.0 as usize].replicas[0].host;
        if let Transit::Arrives(latency) = self.transmit(p.edge, from, to, now) {
            let event = WorldEvent::AckArrive {
                queue,
                message: m.message,
                receipt: m.receipt,
            };
            s.schedule_in(latency, event);
        }
    }
}

/// An idempotent consumer forgets identities older than its `dedupe` retention.
fn forget_keys(c: &mut ConsumerState, now: SimTime) {
    let Some(keep) = c.config.dedupe else { return };
    while let Some(&(at, key)) = c.done_order.front() {
        if now - at < keep {
            break;
        }
        c.done_order.pop_front();
        if c.seen.get(&key) == Some(&Seen::Done(at)) {
            c.seen.remove(&key);
        }
    }
}
