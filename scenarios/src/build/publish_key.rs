//! Checks a publish step's own `key` (issue 15): its keys and popularity in the stores'
//! workload spelling, and a target it can act on (a FIFO queue, a queue measuring order, or a
//! topic), into a `models::publish_key::PublishKey` kept by the checker.

use models::data::Popularity;
use models::publish_key::{MAX_KEYS, MessageKey, MessageKeys, PublishKey};

use super::{Checker, Known};
use crate::spec;
use crate::spec::broker::{KeyName, MessageKeys as SpecKeys};

/// Where a publish step publishes, as far as its key is concerned.
pub(super) enum Target<'s> {
    Topic,
    /// A queue and its broker's spec of it.
    Queue(&'s str),
}

/// The step's key checked; its index in the checker's list of publish keys.
pub(super) fn publish_key(
    c: &mut Checker,
    known: &Known,
    field: &str,
    anchors: &[&str],
    key: &spec::broker::PublishKey,
    target: Target,
) -> Option<u16> {
    let field = format!("{field}.key");
    let at = [anchors, &["key:"]].concat();
    let with = |name: &'static str| [&at[..], &[name]].concat();
    if let Target::Queue(name) = target {
        let queue = known
            .scenario
            .services
            .iter()
            .flat_map(|s| &s.queues)
            .find(|q| q.name == name);
        if queue.is_some_and(|q| !q.fifo && q.groups.is_none()) {
            c.report(
                &at,
                field.clone(),
                format!(
                    "a message key orders messages only on a FIFO queue or one that measures \
                     order; queue \"{name}\" has neither: write `fifo: true` or `groups: N` on \
                     it, or leave the key out"
                ),
            );
        }
    }
    let popularity = match key.popularity.unwrap_or_default() {
        spec::Popularity::Uniform => Popularity::Uniform,
        spec::Popularity::Zipf(s) => {
            if !(s.is_finite() && s > 0.0 && s <= 10.0) {
                c.report(
                    &with("Zipf"),
                    format!("{field}.popularity"),
                    format!("Zipf({s}): expected an exponent above 0 and at most 10"),
                );
            }
            Popularity::Zipf { s }
        }
    };
    let keys = match &key.keys {
        SpecKeys::Range { from, count } => {
            let end = u64::from(*from) + u64::from(*count);
            if *count == 0 || *count > MAX_KEYS || end > u64::from(u32::MAX) + 1 {
                c.report(
                    &with("Range"),
                    format!("{field}.keys"),
                    format!(
                        "keys {from} to {end} (exclusive): expected a count of 1 to {MAX_KEYS} \
                         ending by {}",
                        u64::from(u32::MAX) + 1
                    ),
                );
                return None;
            }
            MessageKeys::Range {
                from: *from,
                count: *count,
            }
        }
        SpecKeys::Set(list) => {
            let mut seen = std::collections::BTreeSet::new();
            let twice = list.iter().find(|k| !seen.insert(*k));
            let problem = if list.is_empty() {
                Some("an empty set of keys; expected at least one".to_string())
            } else if list.len() > MAX_KEYS as usize {
                Some(format!("{} keys; expected at most {MAX_KEYS}", list.len()))
            } else {
                twice.map(|k| {
                    let k = match k {
                        KeyName::Number(n) => n.to_string(),
                        KeyName::Name(s) => format!("\"{s}\""),
                    };
                    format!("key {k} is in the set twice; expected distinct keys")
                })
            };
            if let Some(problem) = problem {
                c.report(&with("Set"), format!("{field}.keys"), problem);
                return None;
            }
            MessageKeys::Set(
                list.iter()
                    .map(|k| match k {
                        KeyName::Number(n) => MessageKey::number(*n),
                        KeyName::Name(s) => MessageKey::name(s),
                    })
                    .collect(),
            )
        }
    };
    let index = u16::try_from(c.publish_keys.len()).ok();
    if index.is_none() {
        c.report(
            &at,
            field,
            format!("more than {} publish steps with a key", u16::MAX),
        );
    }
    c.publish_keys.push(PublishKey { keys, popularity });
    index
}
