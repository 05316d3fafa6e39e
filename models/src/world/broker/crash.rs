//! Crashes and restarts around brokers (issue 15): a consumer's pollers die with their
//! replica and start again with it; a broker refuses while down, loses its messages unless
//! durable, and delivers again what was in flight when it comes back.

use super::*;

impl World {
    /// A replica crashed: a consumer's pollers die with it (their messages come back after
    /// their visibility timeout); a broker's waiting receives are refused, and a broker that
    /// is not durable loses its messages.
    pub(in crate::world) fn broker_crashed<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        service: u32,
        replica: u32,
    ) {
        let now = s.now();
        if self.broker.is_none() {
            return;
        }
        self.topic_crashed::<TRACE>(s, service, replica);
        self.outbox_crashed::<TRACE>(s, service, replica);
        let b = self.brokers();
        let mut cancel = Vec::new();
        for p in &mut b.pollers {
            if (p.service, p.replica) == (service, replica) {
                p.generation += 1;
                p.batch.clear();
                if let Some((m, call, claimed)) = p.current.take() {
                    cancel.extend(call);
                    if claimed {
                        b.consumers[p.consumer as usize].seen.remove(&m.identity);
                    }
                }
            }
        }
        let mut retry = Vec::new();
        for q in b.queues.iter_mut().filter(|q| q.config.broker.0 == service) {
            for (poller, generation) in q.parked.drain(..) {
                let p = &mut b.pollers[poller as usize];
                if p.generation == generation {
                    p.generation += 1;
                    retry.push(poller);
                }
            }
            if !q.config.durable {
                for (_, m) in std::mem::take(&mut q.messages) {
                    if let Some(t) = m.timer {
                        s.cancel(t);
                    }
                    q.report.lost += 1;
                }
                q.visible.clear();
                q.in_flight = 0;
                if let Some(f) = &mut q.fifo {
                    f.clear(now);
                }
                q.changed(now);
            }
        }
        for poller in retry {
            self.poll_later(s, poller);
        }
        for (call, serial) in cancel {
            let c = &self.calls[call];
            if c.serial == serial && !c.finished {
                self.cancel_call::<TRACE>(s, call);
            }
        }
    }

    /// After an event that restarted replicas: a consumer's pollers start again; a broker
    /// delivers again every message that was in flight when it went down (RabbitMQ requeues
    /// unacked messages; their old receipts no longer delete them).
    pub(in crate::world) fn broker_wake(&mut self, s: &mut Scheduler<WorldEvent>) {
        let now = s.now();
        let b = self.brokers();
        let woken = std::mem::take(&mut b.woken);
        self.topic_wake(s, &woken);
        self.outbox_wake(s, &woken);
        let b = self.brokers();
        for &(service, replica) in &woken {
            for poller in 0..b.pollers.len() as u32 {
                let p = &b.pollers[poller as usize];
                if (p.service, p.replica) == (service, replica) && p.current.is_none() {
                    let generation = p.generation;
                    s.schedule_in(
                        SimDuration::ZERO,
                        WorldEvent::PollSend { poller, generation },
                    );
                }
            }
            for queue in 0..b.queues.len() {
                let q = &mut b.queues[queue];
                if q.config.broker.0 != service {
                    continue;
                }
                for (&id, m) in q.messages.iter_mut().filter(|(_, m)| m.in_flight) {
                    if let Some(t) = m.timer.take() {
                        s.cancel(t);
                    }
                    m.in_flight = false;
                    m.receipt += 1;
                    q.visible.insert(id);
                    if let Some(f) = &mut q.fifo {
                        f.in_flight(m.group, -1, now);
                        f.visible(m.group, id, now);
                    }
                }
                q.in_flight = 0;
                q.changed(now);
            }
        }
        for queue in 0..self.brokers().queues.len() as u16 {
            self.offer(s, queue);
        }
    }
}
