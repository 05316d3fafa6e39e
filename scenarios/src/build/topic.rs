//! Checks the topics (issue 15): each broker service's Kafka-like `topics` and the services
//! that `subscribe` to them as consumer groups, into the world's [`BrokerConfig`]. A `publish`
//! step names a queue or a topic (`calls.rs` looks in both).

use std::collections::BTreeMap;

use models::broker::{BrokerConfig, DEFAULT_POLL_RETRY};
use models::config::ServiceId;
use models::topic::{
    Commit, DEFAULT_MAX_POLL_RECORDS, DEFAULT_REBALANCE, DEFAULT_SESSION_TIMEOUT, GroupConfig,
    TopicConfig,
};

use super::locate::{named, quoted};
use super::{Checker, Known};
use crate::spec;

/// Partitions per topic at most: each costs a log and per-group state.
const MAX_PARTITIONS: u32 = 10_000;

/// The topics of every broker by name, with their broker and their index in the run; a name
/// used twice, or by a queue too, is reported.
pub(super) fn topic_names<'s>(
    c: &mut Checker,
    services: &'s [spec::Service],
) -> BTreeMap<&'s str, (ServiceId, u16)> {
    let queues: Vec<&str> = services
        .iter()
        .flat_map(|s| s.queues.iter().map(|q| q.name.as_str()))
        .collect();
    let mut topics = BTreeMap::new();
    let mut index = 0u16;
    for (i, s) in services.iter().enumerate() {
        for (k, t) in s.topics.iter().enumerate() {
            let twice = topics
                .insert(t.name.as_str(), (ServiceId(i as u32), index))
                .is_some();
            if twice || queues.contains(&t.name.as_str()) {
                c.report(
                    &[&named(&s.name), "topics", &quoted(&t.name)],
                    format!("services[{i}].topics[{k}].name"),
                    format!("duplicate topic or queue name \"{}\"", t.name),
                );
            }
            index = index.saturating_add(1);
        }
    }
    topics
}

/// Every topic and consumer group, checked, added to `config`.
pub(super) fn topics(c: &mut Checker, known: &Known, config: &mut BrokerConfig) {
    for (i, s) in known.scenario.services.iter().enumerate() {
        let q = named(&s.name);
        let broker = s.kind == spec::ServiceKind::Broker;
        if !broker && !s.topics.is_empty() {
            c.report(
                &[&q, "topics"],
                format!("services[{i}].kind"),
                "only a broker holds topics; write kind: Broker".into(),
            );
        }
        if broker && s.subscribe.is_some() {
            c.report(
                &[&q, "subscribe"],
                format!("services[{i}].subscribe"),
                "a broker does not consume a topic".into(),
            );
        }
        if s.subscribe.is_some() && s.consume.is_some() {
            c.report(
                &[&q, "subscribe"],
                format!("services[{i}].subscribe"),
                "a service consumes a queue or a topic, not both".into(),
            );
        }
        for (k, t) in s.topics.iter().enumerate() {
            let field = format!("services[{i}].topics[{k}]");
            let anchors = [q.as_str(), "topics", &quoted(&t.name)];
            let partitions = t.partitions.unwrap_or(1);
            if !(1..=MAX_PARTITIONS).contains(&partitions) {
                c.report(
                    &[&anchors[..], &["partitions"]].concat(),
                    format!("{field}.partitions"),
                    format!("{partitions} partitions; expected 1 to {MAX_PARTITIONS}"),
                );
            }
            if t.keys == Some(0) {
                c.report(
                    &[&anchors[..], &["keys"]].concat(),
                    format!("{field}.keys"),
                    "must be at least 1 (leave it out to publish round-robin)".into(),
                );
            }
            config.topics.push(TopicConfig {
                name: t.name.clone(),
                broker: ServiceId(i as u32),
                partitions: partitions.clamp(1, MAX_PARTITIONS),
                keys: t.keys.map(|k| k.max(1)),
                // Set once the plans are known (`mark_keyed`).
                keyed: false,
            });
        }
        if let Some(sub) = &s.subscribe {
            let field = format!("services[{i}].subscribe");
            let anchors = [q.as_str(), "subscribe"];
            if let Some(group) = group(c, known, &anchors, &field, sub, i) {
                config.groups.push(group);
            }
        }
    }
}

fn group(
    c: &mut Checker,
    known: &Known,
    anchors: &[&str],
    field: &str,
    sub: &spec::broker::Subscribe,
    service: usize,
) -> Option<GroupConfig> {
    let max_poll_records = sub.max_poll_records.unwrap_or(DEFAULT_MAX_POLL_RECORDS);
    if max_poll_records == 0 {
        c.report(
            &[anchors, &["max_poll_records"]].concat(),
            format!("{field}.max_poll_records"),
            "must be at least 1".into(),
        );
    }
    let mut duration = |name: &str, value: Option<crate::duration::Duration>, default| {
        let d = value.map_or(default, |d| d.0);
        c.duration_positive(&[anchors, &[name]].concat(), format!("{field}.{name}"), d);
        d
    };
    let session_timeout = duration(
        "session_timeout",
        sub.session_timeout,
        DEFAULT_SESSION_TIMEOUT,
    );
    let rebalance = duration("rebalance", sub.rebalance, DEFAULT_REBALANCE);
    let poll_retry = duration("poll_retry", sub.poll_retry, DEFAULT_POLL_RETRY);
    let topic_q = quoted(&sub.topic);
    let at = [anchors, &[topic_q.as_str()]].concat();
    let Some(&(_, topic)) = known.topics.get(sub.topic.as_str()) else {
        let names: Vec<&str> = known.topics.keys().copied().collect();
        let expected = if names.is_empty() {
            "no service has `topics` (a broker: kind: Broker, topics: [(name: \"orders\")])"
                .to_string()
        } else {
            format!("expected one of: {}", names.join(", "))
        };
        c.report(
            &at,
            format!("{field}.topic"),
            format!("unknown topic \"{}\"; {expected}", sub.topic),
        );
        return None;
    };
    Some(GroupConfig {
        service: ServiceId(service as u32),
        topic,
        commit: match sub.commit.unwrap_or(spec::broker::Commit::After) {
            spec::broker::Commit::After => Commit::After,
            spec::broker::Commit::Before => Commit::Before,
        },
        max_poll_records: max_poll_records.max(1),
        session_timeout,
        rebalance,
        poll_retry,
    })
}
