//! The simulation loop: pops events in order, hands them to the model, enforces limits, keeps
//! the fingerprint and feeds an optional trace sink.

use crate::fingerprint::Fingerprint;
use crate::queue::{EventQueue, TimerId};
use crate::time::{SimDuration, SimTime};

/// What the engine needs to know of a model's events: a stable kind and target for the
/// fingerprint and the trace. Both must come from stable identifiers (enum discriminants,
/// dense ids), never from addresses or hashes.
pub trait Event: Copy {
    /// A small number naming the kind of event.
    fn kind(&self) -> u16;
    /// The id of the component the event is addressed to.
    fn target(&self) -> u32;
}

/// A model receives every event in `(time, seq)` order.
pub trait Model {
    type Event: Event;
    fn handle(&mut self, scheduler: &mut Scheduler<Self::Event>, event: Self::Event);

    /// What the run's fingerprint absorbs of `event`, asked just before it is handled: a word
    /// naming what happens in the model's own terms, or `None` for bookkeeping that nothing
    /// observable depends on. A model that names events by what they mean (not by enum order
    /// or slot numbers) keeps its fingerprints when its internals are refactored. The default
    /// names every event by its kind and target.
    #[inline]
    fn fingerprint_word(&self, event: &Self::Event) -> Option<u64> {
        Some(Fingerprint::word(event.kind(), event.target()))
    }

    /// Bytes the model's state holds on the heap beyond what it had at the start, roughly:
    /// what grows while it runs (requests in flight, their timers' payloads). The engine
    /// stops the run when this plus its queue passes the memory limit.
    fn footprint_bytes(&self) -> usize {
        0
    }
}

/// Asked every [`POLL_EVERY`] events whether to stop the run now (a wall-clock deadline, a
/// signal): the one way something outside simulated time stops a run. The engine knows nothing
/// of clocks; whoever sets it does, and a run it stops is marked [`StopReason::Interrupted`].
pub type Interrupt = Box<dyn FnMut() -> bool>;

/// How many events pass between two checks of the memory limit and the interrupt: rare enough
/// to cost nothing, often enough (well under a millisecond) to stop promptly. A power of two.
pub const POLL_EVERY: u64 = 1 << 12;

/// Receives every processed event when tracing is on.
pub trait TraceSink<E> {
    fn record(&mut self, time: SimTime, event: &E);
}

/// Where models schedule events: the queue plus the current time.
pub struct Scheduler<E> {
    queue: EventQueue<E>,
    now: SimTime,
}

impl<E: Copy> Scheduler<E> {
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time`, which must not be in the past.
    #[inline]
    pub fn schedule_at(&mut self, time: SimTime, event: E) {
        debug_assert!(time >= self.now, "event scheduled in the past");
        self.queue.push(time.max(self.now), event);
    }

    /// Schedules `event` after `delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        self.queue.push(self.now + delay, event);
    }

    /// Schedules a cancellable timer after `delay`.
    #[inline]
    pub fn timer_in(&mut self, delay: SimDuration, event: E) -> TimerId {
        self.queue.push_timer_at(self.now, self.now + delay, event)
    }

    /// Schedules a cancellable timer at `time`, which must not be in the past.
    #[inline]
    pub fn timer_at(&mut self, time: SimTime, event: E) -> TimerId {
        debug_assert!(time >= self.now, "timer set in the past");
        self.queue
            .push_timer_at(self.now, time.max(self.now), event)
    }

    /// Cancels a timer; `false` if it already fired or was cancelled.
    #[inline]
    pub fn cancel(&mut self, timer: TimerId) -> bool {
        self.queue.cancel(timer)
    }

    /// Live pending events.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

/// When a run stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events at or after this time are not processed.
    pub end: SimTime,
    /// At most this many events are processed.
    pub max_events: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            end: SimTime::MAX,
            max_events: u64::MAX,
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// No event was left to process.
    QueueEmpty,
    /// The next event was at or after the end time.
    EndTime,
    /// The event limit was reached; later events were not processed.
    MaxEvents,
    /// The queue and the model's state grew past the memory limit.
    MemoryLimit,
    /// The [`Interrupt`] asked to stop (e.g. a wall-clock limit).
    Interrupted,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::QueueEmpty => "queue_empty",
            StopReason::EndTime => "end_time",
            StopReason::MaxEvents => "max_events",
            StopReason::MemoryLimit => "memory",
            StopReason::Interrupted => "interrupted",
        }
    }

    /// Whether the run reached its end (the end time, or nothing left to do): a run stopped by
    /// a limit covers only part of its duration.
    pub fn is_complete(self) -> bool {
        matches!(self, StopReason::QueueEmpty | StopReason::EndTime)
    }
}

/// The engine's account of a finished run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    pub stop: StopReason,
    /// Events processed.
    pub events: u64,
    /// Simulated time when the run stopped: the end time if it was reached, otherwise the time
    /// of the last processed event.
    pub now: SimTime,
    pub fingerprint: Fingerprint,
}

/// The engine: a scheduler, limits, a fingerprint and an optional trace sink.
pub struct Simulation<E> {
    scheduler: Scheduler<E>,
    limits: Limits,
    events: u64,
    fingerprint: Fingerprint,
    trace: Option<Box<dyn TraceSink<E>>>,
    /// Bytes the queue and the model may hold before the run stops.
    memory_limit_bytes: usize,
    interrupt: Option<Interrupt>,
}

impl<E: Event + Copy> Simulation<E> {
    pub fn new(limits: Limits) -> Self {
        Simulation {
            scheduler: Scheduler {
                queue: EventQueue::with_capacity(1024),
                now: SimTime::ZERO,
            },
            limits,
            events: 0,
            fingerprint: Fingerprint::default(),
            trace: None,
            memory_limit_bytes: usize::MAX,
            interrupt: None,
        }
    }

    /// Stops the run when the queue and the model's [`Model::footprint_bytes`] pass `bytes`,
    /// checked every [`POLL_EVERY`] events.
    pub fn set_memory_limit(&mut self, bytes: u64) {
        self.memory_limit_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    }

    /// Asks `interrupt` every [`POLL_EVERY`] events whether to stop. Until it says so, the run
    /// is exactly the run without it.
    pub fn set_interrupt(&mut self, interrupt: Interrupt) {
        self.interrupt = Some(interrupt);
    }

    /// Records every processed event into `sink`.
    pub fn set_trace(&mut self, sink: Box<dyn TraceSink<E>>) {
        self.trace = Some(sink);
    }

    /// The scheduler, for seeding initial events before [`run`](Self::run).
    pub fn scheduler(&mut self) -> &mut Scheduler<E> {
        &mut self.scheduler
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Processes events until the queue is empty or a limit is hit.
    pub fn run<M: Model<Event = E>>(&mut self, model: &mut M) -> RunOutcome {
        // The next count at which the loop stops to look at the limits: the event limit or the
        // next poll, whichever comes first; one comparison per event instead of two tests.
        let mut next_poll = if self.events > 0 && self.events % POLL_EVERY == 0 {
            self.events
        } else {
            (self.events / POLL_EVERY + 1) * POLL_EVERY
        };
        let mut look_at = next_poll.min(self.limits.max_events);
        let stop = loop {
            if self.events >= look_at {
                if self.events >= self.limits.max_events {
                    break StopReason::MaxEvents;
                }
                if self.events == next_poll {
                    next_poll += POLL_EVERY;
                    let bytes = self
                        .scheduler
                        .queue
                        .footprint_bytes()
                        .saturating_add(model.footprint_bytes());
                    if bytes > self.memory_limit_bytes {
                        break StopReason::MemoryLimit;
                    }
                    if self.interrupt.as_mut().is_some_and(|stop| stop()) {
                        break StopReason::Interrupted;
                    }
                }
                look_at = next_poll.min(self.limits.max_events);
            }
            if !self.scheduler.queue.advance(self.limits.end) {
                if self.scheduler.queue.is_empty() {
                    break StopReason::QueueEmpty;
                }
                self.scheduler.now = self.limits.end;
                break StopReason::EndTime;
            }
            let (time, event) = self.scheduler.queue.taken();
            debug_assert!(time >= self.scheduler.now, "time went backwards");
            self.scheduler.now = time;
            self.events += 1;
            if let Some(word) = model.fingerprint_word(&event) {
                self.fingerprint.absorb_word(time.0, word);
            }
            if let Some(trace) = self.trace.as_mut() {
                trace.record(time, &event);
            }
            model.handle(&mut self.scheduler, event);
        };
        RunOutcome {
            stop,
            events: self.events,
            now: self.scheduler.now,
            fingerprint: self.fingerprint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Tick(u32);
    impl Event for Tick {
        fn kind(&self) -> u16 {
            0
        }
        fn target(&self) -> u32 {
            self.0
        }
    }

    /// Reschedules every tick 10 ns later and cancels a far timer each time.
    struct Ticker {
        seen: Vec<(SimTime, u32)>,
    }
    impl Model for Ticker {
        type Event = Tick;
        fn handle(&mut self, s: &mut Scheduler<Tick>, e: Tick) {
            self.seen.push((s.now(), e.0));
            let far = s.timer_in(SimDuration(1_000_000), Tick(99));
            assert!(s.cancel(far));
            s.schedule_in(SimDuration(10), e);
        }
    }

    struct Recorder(Rc<RefCell<Vec<u64>>>);
    impl TraceSink<Tick> for Recorder {
        fn record(&mut self, time: SimTime, _: &Tick) {
            self.0.borrow_mut().push(time.0);
        }
    }

    #[test]
    fn end_time_is_exclusive_and_reported() {
        let mut sim = Simulation::new(Limits {
            end: SimTime(100),
            max_events: u64::MAX,
        });
        sim.scheduler().schedule_at(SimTime(0), Tick(1));
        sim.scheduler().schedule_at(SimTime(0), Tick(2));
        let mut m = Ticker { seen: vec![] };
        let out = sim.run(&mut m);
        assert_eq!(out.stop, StopReason::EndTime);
        assert_eq!(out.now, SimTime(100));
        assert_eq!(out.events, 20);
        assert_eq!(
            &m.seen[..3],
            &[(SimTime(0), 1), (SimTime(0), 2), (SimTime(10), 1)]
        );
        assert!(m.seen.iter().all(|&(t, _)| t < SimTime(100)));
    }

    #[test]
    fn max_events_stops_the_run() {
        let mut sim = Simulation::new(Limits {
            end: SimTime::MAX,
            max_events: 7,
        });
        sim.scheduler().schedule_at(SimTime(0), Tick(1));
        let out = sim.run(&mut Ticker { seen: vec![] });
        assert_eq!(out.stop, StopReason::MaxEvents);
        assert_eq!(out.events, 7);
        assert_eq!(out.now, SimTime(60));
    }

    #[test]
    fn empty_queue_stops_and_trace_sees_everything() {
        struct Once;
        impl Model for Once {
            type Event = Tick;
            fn handle(&mut self, _: &mut Scheduler<Tick>, _: Tick) {}
        }
        let log = Rc::new(RefCell::new(vec![]));
        let mut sim = Simulation::new(Limits::default());
        sim.set_trace(Box::new(Recorder(log.clone())));
        sim.scheduler().schedule_at(SimTime(5), Tick(1));
        sim.scheduler().schedule_at(SimTime(3), Tick(1));
        let out = sim.run(&mut Once);
        assert_eq!(out.stop, StopReason::QueueEmpty);
        assert_eq!(*log.borrow(), vec![3, 5]);
    }

    /// Keeps every tick and schedules two for each: its state and queue grow without bound.
    struct Hoarder(Vec<u64>);
    impl Model for Hoarder {
        type Event = Tick;
        fn handle(&mut self, s: &mut Scheduler<Tick>, e: Tick) {
            self.0.push(s.now().0);
            s.schedule_in(SimDuration(1), e);
            s.schedule_in(SimDuration(2), e);
        }
        fn footprint_bytes(&self) -> usize {
            self.0.capacity() * 8
        }
    }

    #[test]
    fn memory_limit_stops_a_growing_run() {
        let mut sim = Simulation::new(Limits::default());
        sim.set_memory_limit(1 << 20);
        sim.scheduler().schedule_at(SimTime(0), Tick(1));
        let mut model = Hoarder(Vec::new());
        let out = sim.run(&mut model);
        assert_eq!(out.stop, StopReason::MemoryLimit);
        assert!(!out.stop.is_complete());
        assert_eq!(out.events % POLL_EVERY, 0);
        // Stopped within one poll of the limit, far below what an unlimited run would take.
        assert!(model.0.len() < (1 << 20), "{} events", model.0.len());
    }

    #[test]
    fn an_interrupt_stops_the_run_and_changes_nothing_before() {
        let run = |interrupt_after_polls: Option<u32>| {
            let mut sim = Simulation::new(Limits {
                end: SimTime(1_000_000),
                max_events: u64::MAX,
            });
            if let Some(n) = interrupt_after_polls {
                let mut polls = 0;
                sim.set_interrupt(Box::new(move || {
                    polls += 1;
                    polls > n
                }));
            }
            sim.scheduler().schedule_at(SimTime(0), Tick(1));
            sim.run(&mut Ticker { seen: vec![] })
        };
        let whole = run(None);
        assert_eq!(whole.stop, StopReason::EndTime);
        assert_eq!(run(Some(u32::MAX)), whole);
        let cut = run(Some(3));
        assert_eq!(cut.stop, StopReason::Interrupted);
        assert_eq!(cut.events, 4 * POLL_EVERY);
        // The same events up to the stop: the first 4 * POLL_EVERY of a shorter run.
        let mut sim = Simulation::new(Limits {
            end: SimTime(1_000_000),
            max_events: 4 * POLL_EVERY,
        });
        sim.scheduler().schedule_at(SimTime(0), Tick(1));
        let same = sim.run(&mut Ticker { seen: vec![] });
        assert_eq!(same.fingerprint, cut.fingerprint);
    }

    #[test]
    fn fingerprint_is_reproducible_and_sensitive() {
        let run = |first: u32| {
            let mut sim = Simulation::new(Limits {
                end: SimTime(1_000),
                max_events: u64::MAX,
            });
            sim.scheduler().schedule_at(SimTime(0), Tick(first));
            sim.run(&mut Ticker { seen: vec![] }).fingerprint
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
