//! Checks the brokers (issue 15): each broker service's queues, their dead-letter queues, and
//! the services consuming them; builds the world's [`BrokerConfig`]. The `publish` steps of call
//! plans are checked with the calls (`calls.rs`), against the queue names found here.

use std::collections::BTreeMap;

use models::broker::{
    BrokerConfig, ConsumerConfig, DEFAULT_POLL_RETRY, DEFAULT_RETENTION,
    DEFAULT_VISIBILITY_TIMEOUT, DeadLetter, QueueConfig,
};
use models::config::ServiceId;
use models::fifo::FifoConfig;

use super::locate::{named, quoted};
use super::{Checker, Known};
use crate::spec;

/// SQS returns at most 10 messages per receive.
const MAX_BATCH: u32 = 10;
/// Pollers per consumer replica at most: a runaway number would only make events.
const MAX_CONCURRENCY: u32 = 10_000;
/// Message groups per queue at most.
const MAX_GROUPS: u32 = 1_000_000;

/// The queues of every broker by name, with their broker and their index in the run; a
/// duplicate name is reported.
pub(super) fn queue_names<'s>(
    c: &mut Checker,
    services: &'s [spec::Service],
) -> BTreeMap<&'s str, (ServiceId, u16)> {
    let mut queues = BTreeMap::new();
    let mut index = 0u16;
    for (i, s) in services.iter().enumerate() {
        for (k, q) in s.queues.iter().enumerate() {
            if queues
                .insert(q.name.as_str(), (ServiceId(i as u32), index))
                .is_some()
            {
                c.report(
                    &[&named(&s.name), "queues", &quoted(&q.name)],
                    format!("services[{i}].queues[{k}].name"),
                    format!("duplicate queue name \"{}\"", q.name),
                );
            }
            index = index.saturating_add(1);
        }
    }
    queues
}

/// The queue called `name`, or a report naming the queues there are.
pub(super) fn queue(
    c: &mut Checker,
    known: &Known,
    anchors: &[&str],
    field: String,
    name: &str,
) -> Option<(ServiceId, u16)> {
    let found = known.queues.get(name).copied();
    if found.is_none() {
        let names: Vec<&str> = known.queues.keys().copied().collect();
        let expected = if names.is_empty() {
            "no service has `queues` (a broker: kind: Broker, queues: [(name: \"orders\")])"
                .to_string()
        } else {
            format!("expected one of: {}", names.join(", "))
        };
        c.report(
            anchors,
            field,
            format!("unknown queue \"{name}\"; {expected}"),
        );
    }
    found
}

/// Every queue and consumer, checked.
pub(super) fn brokers(c: &mut Checker, known: &Known) -> BrokerConfig {
    let mut config = BrokerConfig::default();
    for (i, s) in known.scenario.services.iter().enumerate() {
        let q = named(&s.name);
        let broker = s.kind == spec::ServiceKind::Broker;
        if broker && s.queues.is_empty() && s.topics.is_empty() {
            c.report(
                &[&q, "Broker"],
                format!("services[{i}].queues"),
                "a broker needs queues: [(name: \"orders\")] or topics: [(name: \"orders\")]"
                    .into(),
            );
        }
        if !broker && !s.queues.is_empty() {
            c.report(
                &[&q, "queues"],
                format!("services[{i}].kind"),
                "only a broker holds queues; write kind: Broker".into(),
            );
        }
        if broker && s.replicas != 1 {
            c.report(
                &[&q, "replicas"],
                format!("services[{i}].replicas"),
                format!(
                    "a broker has one replica (replicated brokers are not modelled), not {}",
                    s.replicas
                ),
            );
        }
        if broker && s.consume.is_some() {
            c.report(
                &[&q, "consume"],
                format!("services[{i}].consume"),
                "a broker does not consume a queue".into(),
            );
        }
        for (k, queue) in s.queues.iter().enumerate() {
            let field = format!("services[{i}].queues[{k}]");
            let anchors = [q.as_str(), "queues", &quoted(&queue.name)];
            config
                .queues
                .push(one_queue(c, known, &anchors, &field, queue, i));
        }
        if let Some(consume) = &s.consume {
            let field = format!("services[{i}].consume");
            let anchors = [q.as_str(), "consume"];
            if let Some(consumer) = consumer(c, known, &anchors, &field, consume, i) {
                config.consumers.push(consumer);
            }
        }
    }
    dead_letters_match(c, known, &config);
    config
}

fn one_queue(
    c: &mut Checker,
    known: &Known,
    anchors: &[&str],
    field: &str,
    queue: &spec::broker::Queue,
    service: usize,
) -> QueueConfig {
    let visibility_timeout = queue
        .visibility_timeout
        .map_or(DEFAULT_VISIBILITY_TIMEOUT, |d| d.0);
    c.duration_positive(
        &[anchors, &["visibility_timeout"]].concat(),
        format!("{field}.visibility_timeout"),
        visibility_timeout,
    );
    let retention = queue.retention.map_or(DEFAULT_RETENTION, |d| d.0);
    c.duration_positive(
        &[anchors, &["retention"]].concat(),
        format!("{field}.retention"),
        retention,
    );
    if !(0.0..=1.0).contains(&queue.poison) {
        c.report(
            &[anchors, &["poison"]].concat(),
            format!("{field}.poison"),
            format!(
                "{} is not a share of messages; expected a number from 0 to 1",
                queue.poison
            ),
        );
    }
    let dead_letter = queue.dead_letter.as_ref().and_then(|d| {
        let at = [anchors, &["dead_letter"]].concat();
        if d.max_receives == 0 {
            c.report(
                &[&at[..], &["max_receives"]].concat(),
                format!("{field}.dead_letter.max_receives"),
                "must be at least 1".into(),
            );
        }
        let (_, index) = queue_of(
            c,
            known,
            &at,
            &format!("{field}.dead_letter.queue"),
            &d.queue,
        )?;
        if d.queue == queue.name {
            c.report(
                &at,
                format!("{field}.dead_letter.queue"),
                "a queue cannot be its own dead-letter queue".into(),
            );
        }
        Some(DeadLetter {
            queue: index,
            max_receives: d.max_receives.max(1),
        })
    });
    let groups = fifo_groups(c, anchors, field, queue);
    QueueConfig {
        name: queue.name.clone(),
        broker: ServiceId(service as u32),
        visibility_timeout,
        retention,
        dead_letter,
        poison: queue.poison.clamp(0.0, 1.0),
        durable: queue.durable,
        groups,
    }
}

/// A queue's message groups: `fifo` and `groups` checked.
fn fifo_groups(
    c: &mut Checker,
    anchors: &[&str],
    field: &str,
    queue: &spec::broker::Queue,
) -> Option<FifoConfig> {
    if let Some(n) = queue.groups
        && !(1..=MAX_GROUPS).contains(&n)
    {
        c.report(
            &[anchors, &["groups"]].concat(),
            format!("{field}.groups"),
            format!("{n} message groups; expected 1 to {MAX_GROUPS}"),
        );
    }
    let groups = queue.groups.map(|n| n.clamp(1, MAX_GROUPS));
    match (queue.fifo, groups) {
        (false, None) => None,
        (strict, groups) => Some(FifoConfig {
            strict,
            groups: groups.unwrap_or(1),
            // Set once the plans are known (`mark_keyed`).
            keyed: false,
        }),
    }
}

/// A FIFO queue's dead-letter queue must be a FIFO queue, and a standard queue's a standard
/// one (SQS: "The dead-letter queue of a FIFO queue must also be a FIFO queue").
fn dead_letters_match(c: &mut Checker, known: &Known, config: &BrokerConfig) {
    let strict = |q: &QueueConfig| q.groups.is_some_and(|g| g.strict);
    let mut index = 0usize;
    for (i, s) in known.scenario.services.iter().enumerate() {
        for (k, queue) in s.queues.iter().enumerate() {
            let q = &config.queues[index];
            index += 1;
            let Some(dl) = q.dead_letter else { continue };
            let d = &config.queues[usize::from(dl.queue)];
            if strict(q) != strict(d) {
                let kind = |fifo: bool| if fifo { "a FIFO" } else { "a standard" };
                c.report(
                    &[
                        &named(&s.name),
                        "queues",
                        &quoted(&queue.name),
                        "dead_letter",
                    ],
                    format!("services[{i}].queues[{k}].dead_letter.queue"),
                    format!(
                        "\"{}\" is {} queue and its dead-letter queue \"{}\" is {} queue; \
                         both must be FIFO or both standard, as in SQS",
                        q.name,
                        kind(strict(q)),
                        d.name,
                        kind(strict(d))
                    ),
                );
            }
        }
    }
}

fn queue_of(
    c: &mut Checker,
    known: &Known,
    anchors: &[&str],
    field: &str,
    name: &str,
) -> Option<(ServiceId, u16)> {
    queue(c, known, anchors, field.to_string(), name)
}

fn consumer(
    c: &mut Checker,
    known: &Known,
    anchors: &[&str],
    field: &str,
    consume: &spec::broker::Consume,
    service: usize,
) -> Option<ConsumerConfig> {
    let concurrency = consume.concurrency.unwrap_or(1);
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        c.report(
            &[anchors, &["concurrency"]].concat(),
            format!("{field}.concurrency"),
            format!("{concurrency} pollers; expected 1 to {MAX_CONCURRENCY}"),
        );
    }
    let batch = consume.batch.unwrap_or(1);
    if !(1..=MAX_BATCH).contains(&batch) {
        c.report(
            &[anchors, &["batch"]].concat(),
            format!("{field}.batch"),
            format!("{batch} messages per receive; expected 1 to {MAX_BATCH}, as SQS"),
        );
    }
    if let Some(d) = consume.dedupe {
        c.duration_positive(
            &[anchors, &["dedupe"]].concat(),
            format!("{field}.dedupe"),
            d.0,
        );
    }
    let poll_retry = consume.poll_retry.map_or(DEFAULT_POLL_RETRY, |d| d.0);
    c.duration_positive(
        &[anchors, &["poll_retry"]].concat(),
        format!("{field}.poll_retry"),
        poll_retry,
    );
    let queue_q = quoted(&consume.queue);
    let at = [anchors, &[queue_q.as_str()]].concat();
    let (_, queue) = queue_of(c, known, &at, &format!("{field}.queue"), &consume.queue)?;
    Some(ConsumerConfig {
        service: ServiceId(service as u32),
        queue,
        concurrency: concurrency.clamp(1, MAX_CONCURRENCY),
        batch: batch.clamp(1, MAX_BATCH),
        dedupe: consume.dedupe.map(|d| d.0),
        poll_retry,
    })
}
