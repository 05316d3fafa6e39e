//! Message brokers (issue 15): the configuration of queues and of the services that consume
//! them, and what a run reports of each queue. The world's side is `world/broker.rs`.
//!
//! The queues follow Amazon SQS standard queues (Developer Guide, "Amazon SQS visibility
//! timeout", "Using dead-letter queues", "Amazon SQS message retention"): a received message
//! stays in the queue, invisible for the visibility timeout; a delete (ack) with the receipt of
//! its latest receive removes it; otherwise it becomes visible again when the timeout passes;
//! once received `max_receives` times (the redrive policy's `maxReceiveCount`) it moves to the
//! dead-letter queue instead; a message older than the retention period is deleted.

use sim_core::{SimDuration, SimTime};

use crate::config::ServiceId;
use crate::metrics::{MAX_WINDOWS, OutcomeStats, merge_pairs, windows_to};

/// The queues of the run's brokers and their consumers; empty when the scenario has none.
#[derive(Clone, Debug, Default)]
pub struct BrokerConfig {
    pub queues: Vec<QueueConfig>,
    pub consumers: Vec<ConsumerConfig>,
    /// Kafka-like topics and the consumer groups reading them ([`crate::topic`]).
    pub topics: Vec<crate::topic::TopicConfig>,
    pub groups: Vec<crate::topic::GroupConfig>,
    /// The publish steps' own keys, each named by its step's [`Publish::key`].
    pub keys: Vec<crate::publish_key::PublishKey>,
}

impl BrokerConfig {
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty() && self.topics.is_empty()
    }
}

/// SQS's defaults: 30 s visibility timeout, 4 days retention.
pub const DEFAULT_VISIBILITY_TIMEOUT: SimDuration = SimDuration(30_000_000_000);
pub const DEFAULT_RETENTION: SimDuration = SimDuration(4 * 24 * 3600 * 1_000_000_000);
/// How long a consumer whose receive was lost or refused waits before it polls again.
pub const DEFAULT_POLL_RETRY: SimDuration = SimDuration(1_000_000_000);
/// Message keys the duplicate count remembers at most per queue (oldest forgotten first).
pub const MAX_TRACKED_KEYS: usize = 1 << 20;

/// One queue, held by a broker service (one replica on one host).
#[derive(Clone, Debug)]
pub struct QueueConfig {
    pub name: String,
    pub broker: ServiceId,
    pub visibility_timeout: SimDuration,
    pub retention: SimDuration,
    pub dead_letter: Option<DeadLetter>,
    /// The share of messages published here that every consumer fails on (poison messages).
    pub poison: f64,
    /// Messages survive a broker crash (default); otherwise a crash loses every one.
    pub durable: bool,
    /// Message groups: a FIFO queue's ordering (`crate::fifo`), or on a standard queue only
    /// measured; `None` for a standard queue that does not measure order.
    pub groups: Option<crate::fifo::FifoConfig>,
}

/// The redrive policy: after `max_receives` receives a message moves to `queue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub queue: u16,
    pub max_receives: u32,
}

/// A service that pulls a queue: `concurrency` pollers per replica, each receiving up to
/// `batch` messages and processing them one after another as requests to the service itself
/// (its workers, service time and call plan); a success is acked.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub service: ServiceId,
    pub queue: u16,
    pub concurrency: u32,
    pub batch: u32,
    /// An idempotent consumer: it remembers each message key it processed for this long and
    /// acks a repeat without processing it again.
    pub dedupe: Option<SimDuration>,
    pub poll_retry: SimDuration,
}

/// A call step that publishes to a queue of the callee (a broker) instead of serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    /// The queue's index, or the topic's when `topic`.
    pub queue: u16,
    pub topic: bool,
    /// Wait for the broker's ack (default); without, the step goes on at once and the publish
    /// runs its policy (timeout, retries) in the background, like an asynchronous producer.
    pub ack: bool,
    /// A step that writes first and publishes after (a dual write or an outbox).
    pub write: Option<crate::outbox::WriteStep>,
    /// The step's own message key (an index into [`BrokerConfig::keys`]), drawn once per
    /// publishing call (per record for a write step): a FIFO queue's message group, a topic's
    /// partition. Without, a queue message's group is its call hashed, a topic's key its draw.
    pub key: Option<u16>,
}

/// What happened in one window of a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueWindow {
    pub published: u64,
    pub received: u64,
    pub redelivered: u64,
    pub acked: u64,
    pub dead_lettered: u64,
    pub duplicates: u64,
    /// The most messages visible (waiting) and in flight (received, not acked) at once.
    pub backlog_max: u64,
    pub in_flight_max: u64,
    /// The age of the oldest message in the queue, at its largest in the window.
    pub oldest_age_ns_max: u64,
}

impl QueueWindow {
    fn merged(self, o: QueueWindow) -> QueueWindow {
        QueueWindow {
            published: self.published + o.published,
            received: self.received + o.received,
            redelivered: self.redelivered + o.redelivered,
            acked: self.acked + o.acked,
            dead_lettered: self.dead_lettered + o.dead_lettered,
            duplicates: self.duplicates + o.duplicates,
            backlog_max: self.backlog_max.max(o.backlog_max),
            in_flight_max: self.in_flight_max.max(o.in_flight_max),
            oldest_age_ns_max: self.oldest_age_ns_max.max(o.oldest_age_ns_max),
        }
    }
}

/// A queue's level: what its windows' maxima are made of between changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    pub backlog: u64,
    pub in_flight: u64,
    /// When the oldest message still in the queue was published.
    pub oldest: Option<SimTime>,
}

/// A queue's windows, coarsened like every other series of the run (see [`MAX_WINDOWS`]).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSeries {
    pub windows: Vec<QueueWindow>,
    window_ns: u64,
    level: Level,
}

impl QueueSeries {
    pub fn new(window: SimDuration) -> Self {
        assert!(window.as_nanos() > 0, "window must be positive");
        QueueSeries {
            windows: vec![QueueWindow::default()],
            window_ns: window.as_nanos(),
            level: Level::default(),
        }
    }

    pub fn window(&self) -> SimDuration {
        SimDuration(self.window_ns)
    }

    /// Accounts the level held since the last change up to `now` (exclusive when `end`), and
    /// returns the window of `now`.
    fn advance(&mut self, now: SimTime, end: bool) -> usize {
        let t = now.as_nanos();
        let index = |w: u64| if end { t.saturating_sub(1) / w } else { t / w } as usize;
        while index(self.window_ns) >= MAX_WINDOWS {
            merge_pairs(&mut self.windows, QueueWindow::merged);
            self.window_ns = self.window_ns.saturating_mul(2);
        }
        let i = index(self.window_ns);
        let first = self.windows.len() - 1;
        if i >= self.windows.len() {
            self.windows.resize(i + 1, QueueWindow::default());
        }
        let level = self.level;
        for (w, window) in self.windows.iter_mut().enumerate().take(i + 1).skip(first) {
            let until = if w == i {
                t
            } else {
                (w as u64 + 1) * self.window_ns
            };
            window.backlog_max = window.backlog_max.max(level.backlog);
            window.in_flight_max = window.in_flight_max.max(level.in_flight);
            if let Some(oldest) = level.oldest {
                let age = until.saturating_sub(oldest.as_nanos());
                window.oldest_age_ns_max = window.oldest_age_ns_max.max(age);
            }
        }
        i
    }

    /// Counts something that happened at `now`.
    pub fn count(&mut self, now: SimTime, f: impl FnOnce(&mut QueueWindow)) {
        let i = self.advance(now, false);
        f(&mut self.windows[i]);
    }

    /// The queue's level changed at `now`.
    pub fn set_level(&mut self, now: SimTime, level: Level) {
        let i = self.advance(now, false);
        self.level = level;
        let w = &mut self.windows[i];
        w.backlog_max = w.backlog_max.max(level.backlog);
        w.in_flight_max = w.in_flight_max.max(level.in_flight);
    }

    /// Accounts up to the end of the run: one window per window of `[0, end)`.
    pub fn finish(&mut self, end: SimTime) {
        if end > SimTime::ZERO {
            self.advance(end, true);
        }
        while windows_to(end, self.window_ns) > MAX_WINDOWS {
            merge_pairs(&mut self.windows, QueueWindow::merged);
            self.window_ns = self.window_ns.saturating_mul(2);
        }
        self.windows
            .resize(windows_to(end, self.window_ns), QueueWindow::default());
    }
}

/// What a run did with one queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueReport {
    pub name: String,
    pub broker: String,
    /// The consuming services.
    pub consumers: Vec<String>,
    pub visibility_timeout: SimDuration,
    /// The dead-letter queue's name and the receives that send a message there.
    pub dead_letter: Option<(String, u32)>,
    /// Messages the broker accepted from publishers (a retried publish counts again).
    pub published: u64,
    /// Messages moved here as another queue's dead letters.
    pub dead_letters_in: u64,
    /// Receives, and of those the receives of a message received before.
    pub received: u64,
    pub redelivered: u64,
    /// Messages deleted by an ack carrying their latest receipt, and acks that came too late.
    pub acked: u64,
    pub stale_acks: u64,
    /// Consumer processings that succeeded, that failed (poison, errors, failed calls,
    /// refused), and successes of a message key processed before (a redelivery or a retried
    /// publish processed again).
    pub processed: u64,
    pub failed: u64,
    pub duplicates: u64,
    /// Deliveries an idempotent consumer recognised and acked without processing.
    pub deduplicated: u64,
    pub dead_lettered: u64,
    /// Deleted by the retention period, and lost with a broker that is not durable.
    pub expired: u64,
    pub lost: u64,
    /// At the end: messages waiting, in flight (received, not acked), and the oldest's age.
    pub backlog: u64,
    pub in_flight: u64,
    pub oldest_age: SimDuration,
    /// Publish (accepted by the broker) to processed: one `ok` per successful processing.
    pub end_to_end: OutcomeStats,
    pub series: QueueSeries,
    /// A FIFO queue's groups, deduplicated publishes and blocking, or a standard queue's
    /// measured order; `None` without `fifo` or `groups` written.
    pub fifo: Option<crate::fifo::FifoReport>,
}

impl QueueReport {
    /// Every message that entered the queue left it one way or is still there.
    pub fn conserved(&self) -> bool {
        self.published + self.dead_letters_in
            == self.acked
                + self.dead_lettered
                + self.expired
                + self.lost
                + self.backlog
                + self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn the_series_carries_levels_and_ages_across_quiet_windows() {
        let mut q = QueueSeries::new(SimDuration(S));
        q.count(SimTime(S / 2), |w| w.published += 1);
        let level = Level {
            backlog: 3,
            in_flight: 1,
            oldest: Some(SimTime(S / 2)),
        };
        q.set_level(SimTime(S / 2), level);
        q.set_level(SimTime(3 * S + 1), Level::default());
        q.finish(SimTime(5 * S));
        assert_eq!(q.windows.len(), 5);
        assert_eq!(q.windows[0].published, 1);
        for w in &q.windows[..4] {
            assert_eq!((w.backlog_max, w.in_flight_max), (3, 1));
        }
        assert_eq!(q.windows[0].oldest_age_ns_max, S / 2);
        assert_eq!(q.windows[2].oldest_age_ns_max, 5 * S / 2);
        assert_eq!(q.windows[3].oldest_age_ns_max, 5 * S / 2 + 1);
        assert_eq!(q.windows[4], QueueWindow::default());
    }

    #[test]
    fn a_long_series_coarsens_and_keeps_its_counts() {
        let mut q = QueueSeries::new(SimDuration(1));
        for t in 0..(MAX_WINDOWS as u64 * 3) {
            q.count(SimTime(t), |w| w.acked += 1);
        }
        q.finish(SimTime(MAX_WINDOWS as u64 * 3));
        assert!(q.windows.len() <= MAX_WINDOWS);
        assert_eq!(q.window(), SimDuration(4));
        let total: u64 = q.windows.iter().map(|w| w.acked).sum();
        assert_eq!(total, MAX_WINDOWS as u64 * 3);
    }
}
