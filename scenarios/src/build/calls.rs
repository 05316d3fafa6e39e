//! Checks a service's call plans (its own and its endpoints'): each call's callee, endpoint,
//! probability and policy, and the parallel steps with their joins.

use models::config::{self as mc, CallConfig, ServiceId};
use petgraph::graph::{DiGraph, NodeIndex};

use super::locate::quoted;
use super::publish_key::{Target, publish_key};
use super::store::PendingWorkload;
use super::{Checker, Known};
use crate::spec;
use models::data::workload::Origin;

/// Builds the plans of one service: numbers its parallel steps (across all its plans) and
/// records its calls as edges of the call graph.
pub(super) struct Plans<'a, 's> {
    known: &'a Known<'s>,
    /// The service's index, and node in `graph`.
    service: usize,
    /// The anchor of the service's definition.
    q: &'a str,
    /// The last parallel step's group id.
    group_id: u16,
    /// The calls being built are choices of a `one_of` with several members.
    choosing: bool,
    /// Edge weight: the call is always made (not optional, not one of several choices).
    graph: &'a mut DiGraph<(), bool>,
    /// The endpoint whose plan is being built (0: the service's own).
    endpoint: u16,
}

impl<'a, 's> Plans<'a, 's> {
    pub(super) fn new(
        known: &'a Known<'s>,
        service: usize,
        q: &'a str,
        graph: &'a mut DiGraph<(), bool>,
    ) -> Self {
        Plans {
            known,
            service,
            q,
            group_id: 0,
            choosing: false,
            graph,
            endpoint: 0,
        }
    }

    /// The calls of the plan `list` of `endpoint`, written at `services[i].{prefix}calls`.
    pub(super) fn plan(
        &mut self,
        c: &mut Checker,
        list: &[spec::Call],
        prefix: &str,
        endpoint: u16,
    ) -> Vec<CallConfig> {
        self.endpoint = endpoint;
        let mut calls = Vec::new();
        for (k, call) in list.iter().enumerate() {
            let field = format!("services[{}].{prefix}calls[{k}]", self.service);
            if call.key.is_some() && (!call.one_of.is_empty() || !call.parallel.is_empty()) {
                c.report(
                    &[self.q, "key:"],
                    format!("{field}.key"),
                    "a key belongs to one publish step, not to a parallel or routing step".into(),
                );
            }
            if call.workload.is_some() && (!call.one_of.is_empty() || !call.parallel.is_empty()) {
                c.report(
                    &[self.q, "workload"],
                    format!("{field}.workload"),
                    "a workload belongs to one call to a store, not to a parallel or routing step"
                        .into(),
                );
            }
            if !call.one_of.is_empty() {
                self.one_of(c, &field, call, &mut calls);
                continue;
            }
            if call.weight.is_some() {
                c.report(
                    &[self.q, "weight"],
                    format!("{field}.weight"),
                    "weight belongs to a member of one_of: (one_of: [Call(to: \"a\", weight: 3.0), ...])"
                        .into(),
                );
            }
            if call.parallel.is_empty() {
                if call.join.is_some() {
                    c.report(
                        &[self.q, "join"],
                        format!("{field}.join"),
                        "join belongs to a parallel step: (parallel: [...], join: All)".into(),
                    );
                }
                if let Some(made) = self.one_call(c, &field, call, None, calls.len()) {
                    calls.push(made);
                }
                continue;
            }
            self.parallel(c, &field, call, &mut calls);
        }
        calls
    }

    /// A parallel step: its calls share a group.
    fn parallel(
        &mut self,
        c: &mut Checker,
        field: &str,
        call: &spec::Call,
        calls: &mut Vec<CallConfig>,
    ) {
        self.group_id += 1;
        let n = call.parallel.len() as u16;
        let join = match call.join.unwrap_or(spec::Join::All) {
            spec::Join::All => mc::Join::All,
            spec::Join::First => mc::Join::First,
            spec::Join::Quorum(k) => {
                if k == 0 || k > n {
                    c.report(
                        &[self.q, "Quorum"],
                        format!("{field}.join"),
                        format!("a quorum of {k} out of {n} calls; expected 1 to {n}"),
                    );
                }
                mc::Join::Quorum(k.clamp(1, n.max(1)))
            }
        };
        if call.to.is_some() || call.probability.is_some() || call.endpoint.is_some() {
            c.report(
                &[self.q, "parallel"],
                field.to_string(),
                "a step has either `to` or `parallel`, not both".into(),
            );
        }
        let group = mc::Group {
            id: self.group_id,
            join,
        };
        for (m, member) in call.parallel.iter().enumerate() {
            let mfield = format!("{field}.parallel[{m}]");
            if !member.parallel.is_empty() {
                c.report(
                    &[self.q, "parallel"],
                    mfield,
                    "parallel steps do not nest".into(),
                );
                continue;
            }
            if let Some(made) = self.one_call(c, &mfield, member, Some(group), calls.len()) {
                calls.push(made);
            }
        }
    }

    /// A routing step: one of its calls, chosen by weight.
    fn one_of(
        &mut self,
        c: &mut Checker,
        field: &str,
        call: &spec::Call,
        calls: &mut Vec<CallConfig>,
    ) {
        self.group_id += 1;
        if call.to.is_some()
            || call.probability.is_some()
            || call.endpoint.is_some()
            || !call.parallel.is_empty()
            || call.join.is_some()
        {
            c.report(
                &[self.q, "one_of"],
                field.to_string(),
                "a routing step has only `one_of` (and `weight` if it is itself a member)".into(),
            );
        }
        let group = mc::Group {
            id: self.group_id,
            join: mc::Join::OneOf,
        };
        let choices = call.one_of.len();
        for (m, member) in call.one_of.iter().enumerate() {
            let mfield = format!("{field}.one_of[{m}]");
            if !member.parallel.is_empty() || !member.one_of.is_empty() {
                c.report(
                    &[self.q, "one_of"],
                    mfield,
                    "a member of one_of is a single call".into(),
                );
                continue;
            }
            if member.probability.is_some() {
                c.report(
                    &[self.q, "one_of", "probability"],
                    format!("{mfield}.probability"),
                    "a member of one_of has a weight, not a probability".into(),
                );
            }
            let weight = member.weight.unwrap_or(1.0);
            if !(weight.is_finite() && weight > 0.0) {
                c.report(
                    &[self.q, "one_of", "weight"],
                    format!("{mfield}.weight"),
                    format!("{weight} is not a weight; expected a number greater than 0"),
                );
            }
            self.choosing = choices > 1;
            let made = self.one_call(c, &mfield, member, Some(group), calls.len());
            self.choosing = false;
            if let Some(mut made) = made {
                made.probability = weight;
                calls.push(made);
            }
        }
    }

    /// One call of a plan, resolved and with its policy, and its edge in the call graph;
    /// `index` is its place in the flattened plan.
    fn one_call(
        &mut self,
        c: &mut Checker,
        field: &str,
        call: &spec::Call,
        group: Option<mc::Group>,
        index: usize,
    ) -> Option<CallConfig> {
        let q = self.q;
        if let Some(queue) = &call.publish {
            if call.workload.is_some() {
                c.report(
                    &[q, "workload"],
                    format!("{field}.workload"),
                    "a workload belongs to a call to a store, not to a publish step".into(),
                );
            }
            return self.publish(c, field, call, queue, group);
        }
        if call.after_write.is_some() || call.write_time.is_some() {
            c.report(
                &[q, "after_write"],
                format!("{field}.after_write"),
                "after_write belongs to a publish step: (publish: \"orders\", after_write: DualWrite)"
                    .into(),
            );
        }
        if call.key.is_some() {
            c.report(
                &[q, "key:"],
                format!("{field}.key"),
                "a message key belongs to a publish step: (publish: \"orders\", key: (keys: \
                 Set([\"k\"])))"
                    .into(),
            );
        }
        if call.ack.is_some() {
            c.report(
                &[q, "ack"],
                format!("{field}.ack"),
                "ack belongs to a publish step: (publish: \"orders\", ack: false)".into(),
            );
        }
        let Some(to_name) = call.to.as_deref() else {
            c.report(
                &[q, "calls"],
                field.to_string(),
                "a call needs `to` (or `parallel` for a parallel step)".into(),
            );
            return None;
        };
        let to_q = quoted(to_name);
        let anchors = [q, "calls", to_q.as_str()];
        let to = self
            .known
            .service(c, &anchors, format!("{field}.to"), to_name);
        let default = &self.known.scenario.policies.default;
        let policy = c.policy(&anchors, field, &call.policy().or(default));
        let probability = call.probability.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&probability) {
            c.report(
                &[&anchors[..], &["probability"]].concat(),
                format!("{field}.probability"),
                format!("{probability} is not a probability; expected a number from 0 to 1"),
            );
        }
        let to = to?;
        let endpoint = match &call.endpoint {
            None => 0,
            Some(name) => endpoint_index(self.known.spec(to), name).unwrap_or_else(|e| {
                c.report(&anchors, format!("{field}.endpoint"), e);
                0
            }),
        };
        self.edge(to, probability >= 1.0 && !self.choosing);
        if let Some(w) = &call.workload {
            c.workloads.push(PendingWorkload {
                origin: Origin::Call {
                    service: self.service,
                    endpoint: self.endpoint,
                    index: index as u32,
                },
                to,
                workload: w.clone(),
                anchors: [&anchors[..], &["workload"]]
                    .concat()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                field: format!("{field}.workload"),
            });
        }
        Some(CallConfig {
            to,
            endpoint,
            policy,
            probability,
            group,
            publish: None,
        })
    }

    /// A step publishing to a queue: a call to its broker with the step's policy.
    fn publish(
        &mut self,
        c: &mut Checker,
        field: &str,
        call: &spec::Call,
        queue: &str,
        group: Option<mc::Group>,
    ) -> Option<CallConfig> {
        let q = self.q;
        let queue_q = quoted(queue);
        let anchors = [q, "publish", queue_q.as_str()];
        if call.to.is_some() || call.endpoint.is_some() {
            c.report(
                &anchors,
                field.to_string(),
                "a step has either `to` or `publish`, not both".into(),
            );
        }
        let default = &self.known.scenario.policies.default;
        let policy = c.policy(&anchors, field, &call.policy().or(default));
        let probability = call.probability.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&probability) {
            c.report(
                &[&anchors[..], &["probability"]].concat(),
                format!("{field}.probability"),
                format!("{probability} is not a probability; expected a number from 0 to 1"),
            );
        }
        let (to, index, topic) = match self.known.topics.get(queue) {
            Some(&(to, index)) => (to, index, true),
            None => {
                let field = format!("{field}.publish");
                let (to, index) = super::broker::queue(c, self.known, &anchors, field, queue)?;
                (to, index, false)
            }
        };
        self.edge(to, probability >= 1.0 && !self.choosing);
        let key = call.key.as_ref().and_then(|k| {
            let target = match topic {
                true => Target::Topic,
                false => Target::Queue(queue),
            };
            publish_key(c, self.known, field, &anchors, k, target)
        });
        Some(CallConfig {
            to,
            endpoint: 0,
            policy,
            probability,
            group,
            publish: Some(models::broker::Publish {
                queue: index,
                topic,
                ack: call.ack.unwrap_or(true),
                write: self.write_step(c, field, call, &anchors, group),
                key,
            }),
        })
    }

    /// A publish step's `after_write`: a dual write or an outbox, never in a parallel step.
    fn write_step(
        &self,
        c: &mut Checker,
        field: &str,
        call: &spec::Call,
        anchors: &[&str],
        group: Option<mc::Group>,
    ) -> Option<models::outbox::WriteStep> {
        use models::outbox::{DEFAULT_WRITE_TIME, WriteMode, WriteStep};
        let Some(after) = &call.after_write else {
            if call.write_time.is_some() {
                c.report(
                    &[anchors, &["write_time"]].concat(),
                    format!("{field}.write_time"),
                    "write_time belongs with after_write: DualWrite or Outbox(poll: \"100ms\")"
                        .into(),
                );
            }
            return None;
        };
        let at = [anchors, &["after_write"]].concat();
        if group.is_some() || self.choosing {
            c.report(
                &at,
                format!("{field}.after_write"),
                "a write step stands alone: not in `parallel` or `one_of`".into(),
            );
        }
        let mode = match after {
            spec::broker::AfterWrite::DualWrite => WriteMode::DualWrite,
            spec::broker::AfterWrite::Outbox { poll } => {
                if poll.0.as_nanos() == 0 {
                    c.report(
                        &[&at[..], &["poll"]].concat(),
                        format!("{field}.after_write.poll"),
                        "the relay's poll interval must be positive, e.g. \"100ms\"".into(),
                    );
                }
                WriteMode::Outbox { poll: poll.0 }
            }
        };
        Some(WriteStep {
            mode,
            write_time: call.write_time.map_or(DEFAULT_WRITE_TIME, |d| d.0),
        })
    }

    fn edge(&mut self, to: ServiceId, always: bool) {
        self.graph.add_edge(
            NodeIndex::new(self.service),
            NodeIndex::new(to.0 as usize),
            always,
        );
    }
}

/// The index of a service's endpoint by name: its own endpoint first, then `endpoints`.
pub(super) fn endpoint_index(service: &spec::Service, name: &str) -> Result<u16, String> {
    let own = service.endpoint.as_deref().unwrap_or("default");
    if name == own {
        return Ok(0);
    }
    match service.endpoints.iter().position(|e| e.name == name) {
        Some(i) => Ok(i as u16 + 1),
        None => {
            let mut known = vec![own.to_string()];
            known.extend(service.endpoints.iter().map(|e| e.name.clone()));
            Err(format!(
                "\"{}\" has no endpoint \"{name}\"; expected one of: {}",
                service.name,
                known.join(", ")
            ))
        }
    }
}
