//! Parameter overrides (`--set PATH=VALUE`): typed edits of a parsed scenario, checked again by
//! the same validation as the file itself.
//!
//! Paths name things the way the scenario does:
//!
//! | path | value |
//! |---|---|
//! | `duration`, `window` | a duration: `10m` |
//! | `limits.max_events` | an integer |
//! | `limits.memory` | a size: `4GiB` |
//! | `network.latency` | a distribution: `LogNormal(median: "1ms", p99: "5ms")` |
//! | `policies.default.timeout` | a duration |
//! | `policies.default.retry` | a retry: `(max_attempts: 3, backoff: Immediate)` |
//! | `policies.default.retry.max_attempts` | an integer |
//! | `policies.default.retry.backoff` | a backoff: `FullJitter(base: "20ms", cap: "1s")` |
//! | `services.NAME.workers`, `.queue` | an integer (`.queue` also `Unbounded`) |
//! | `services.NAME.abandonment` | `AtDequeue` or `Renege` |
//! | `services.NAME.when_full` | `Reject` or `Backpressure` |
//! | `services.NAME.error_rate` | a number |
//! | `services.NAME.service_time` | a distribution |
//! | `services.NAME.execution` | `ThreadPerRequest` or `Async` |
//! | `edges.FROM->TO.timeout`, `.retry`, `.retry.max_attempts`, `.retry.backoff` | as above, for service FROM's call to TO, or client FROM's calls when FROM is `client:NAME` |
//! | `edges.FROM->TO.probability` | a probability: service FROM makes its call to TO this often (0: turned off) |
//! | `clients.NAME.arrivals.rate_per_s` | a number |
//! | `clients.NAME.arrivals`, `.timeout`, `.retry`, `.retry.max_attempts`, `.retry.backoff` | as above |
//! | `queues.NAME.visibility_timeout`, `.retention` | a duration |
//! | `queues.NAME.poison` | a number; `.durable` `true` or `false`; `.max_receives` an integer |
//! | `services.NAME.consume.concurrency`, `.batch` | an integer; `.dedupe` a duration |
//! | `faults[I].multiply` | a number |
//! | `faults[I].from`, `faults[I].to` | a duration |
//!
//! An edge or client that has no retry of its own starts from `policies.default.retry` (or no
//! backoff) when one of its retry fields is set.

use serde::de::DeserializeOwned;

use crate::duration::{Duration, parse_duration};
use crate::spec::{self, Retry, Scenario};

fn ron_value<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, String> {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str::<T>(text)
        .map_err(|e| format!("\"{text}\" is not {what}: {}", e.code))
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("\"{text}\" is not {what}"))
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text.trim().trim_matches('"')).map(Duration)
}

/// A timeout or deadline: a duration, or a distribution such as `Exponential(mean: "2s")`.
fn patience(text: &str) -> Result<spec::Patience, String> {
    match duration(text) {
        Ok(d) => Ok(spec::Patience::Fixed(d)),
        Err(e) if !text.contains('(') => Err(e),
        Err(_) => ron_value(text, "a duration or a distribution"),
    }
}

/// Sets a retry or one of its fields; `rest` is what follows `retry` in the path.
fn set_retry(
    retry: &mut Option<Retry>,
    default: Option<&Retry>,
    rest: &[&str],
    value: &str,
) -> Result<(), String> {
    if rest.is_empty() {
        *retry = Some(ron_value(value, "a retry such as (max_attempts: 3)")?);
        return Ok(());
    }
    let r = retry.get_or_insert_with(|| default.cloned().unwrap_or_default());
    match rest {
        ["max_attempts"] => {
            r.max_attempts = Some(number(value, "a whole number of attempts")?);
            r.max_retries = None;
        }
        ["max_retries"] => {
            r.max_retries = Some(number(value, "a whole number of retries")?);
            r.max_attempts = None;
        }
        ["flavor"] => r.flavor = Some(ron_value(value, "a flavor such as envoy")?),
        ["budget"] => {
            r.budget = Some(ron_value(
                value,
                "a budget such as Envoy(budget_percent: 20.0)",
            )?);
        }
        ["retry_on"] => r.retry_on = Some(ron_value(value, "a list such as [Timeout, Error]")?),
        ["backoff"] => {
            r.backoff = Some(ron_value(
                value,
                "a backoff such as FullJitter(base: \"20ms\", cap: \"1s\")",
            )?);
        }
        _ => return Err(format!("unknown retry field {}", rest.join("."))),
    }
    Ok(())
}

/// The policy fields of a call or a client, to set one of them.
struct PolicyMut<'a> {
    timeout: &'a mut Option<spec::Patience>,
    deadline: &'a mut Option<spec::Patience>,
    deadline_sent: &'a mut Option<spec::DeadlineSent>,
    retry: &'a mut Option<Retry>,
    hedge: &'a mut Option<spec::Hedge>,
    bulkhead: &'a mut Option<spec::Bulkhead>,
    breaker: &'a mut Option<spec::Breaker>,
    throttle: &'a mut Option<spec::Throttle>,
    fallback: &'a mut Option<spec::Fallback>,
}

macro_rules! policy_mut {
    ($x:expr) => {
        PolicyMut {
            timeout: &mut $x.timeout,
            deadline: &mut $x.deadline,
            deadline_sent: &mut $x.deadline_sent,
            retry: &mut $x.retry,
            hedge: &mut $x.hedge,
            bulkhead: &mut $x.bulkhead,
            breaker: &mut $x.breaker,
            throttle: &mut $x.throttle,
            fallback: &mut $x.fallback,
        }
    };
}

/// Sets a policy field of a call or client; `Ok(false)` when `field` is not one.
fn set_policy(
    p: PolicyMut,
    default_retry: Option<&Retry>,
    field: &[&str],
    value: &str,
) -> Result<bool, String> {
    match field {
        ["timeout"] => *p.timeout = Some(patience(value)?),
        ["deadline"] => *p.deadline = Some(patience(value)?),
        ["deadline_sent"] => *p.deadline_sent = Some(ron_value(value, "Call or PerTry")?),
        ["retry", rest @ ..] => set_retry(p.retry, default_retry, rest, value)?,
        ["hedge"] => *p.hedge = Some(ron_value(value, "a hedge such as (max_attempts: 2)")?),
        ["bulkhead"] => {
            *p.bulkhead = Some(ron_value(
                value,
                "a bulkhead such as Semaphore(max_concurrent_calls: 10)",
            )?);
        }
        ["throttle"] => *p.throttle = Some(ron_value(value, "a throttle such as (k: 2.0)")?),
        ["breaker"] => {
            *p.breaker = Some(ron_value(
                value,
                "a breaker such as (flavor: resilience4j, failure_rate_threshold: 50)",
            )?);
        }
        ["fallback"] => *p.fallback = Some(ron_value(value, "Static, Skip or Cached(ttl: ..)")?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies one override. The result must still be checked with [`crate::build`].
pub fn apply(scenario: &mut Scenario, path: &str, value: &str) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let default_retry = scenario.policies.default.retry.clone();
    let unknown = || format!("unknown parameter path \"{path}\" (see the README's list of paths)");
    match parts.as_slice() {
        ["duration"] => scenario.duration = duration(value)?,
        ["window"] => scenario.window = Some(duration(value)?),
        ["limits", "max_events"] => {
            scenario.limits.max_events = number(value, "a whole number of events")?;
        }
        ["limits", "memory"] => scenario.limits.memory = crate::ByteSize(crate::parse_size(value)?),
        ["network", "latency"] => scenario.network.latency = ron_value(value, "a distribution")?,
        ["policies", "default", field @ ..] => {
            if !set_policy(policy_mut!(scenario.policies.default), None, field, value)? {
                return Err(unknown());
            }
        }
        ["queues", name, field] => {
            let queue = scenario
                .services
                .iter_mut()
                .flat_map(|s| s.queues.iter_mut())
                .find(|q| q.name == *name)
                .ok_or_else(|| format!("no queue named \"{name}\" in \"{path}\""))?;
            match *field {
                "visibility_timeout" => queue.visibility_timeout = Some(duration(value)?),
                "retention" => queue.retention = Some(duration(value)?),
                "poison" => queue.poison = number(value, "a share of messages")?,
                "durable" => queue.durable = ron_value(value, "true or false")?,
                "max_receives" => {
                    let dead_letter = queue
                        .dead_letter
                        .as_mut()
                        .ok_or_else(|| format!("queue \"{name}\" has no dead_letter to change"))?;
                    dead_letter.max_receives = number(value, "a whole number of receives")?;
                }
                _ => return Err(unknown()),
            }
        }
        ["services", name, field @ ..] => {
            let service = scenario
                .services
                .iter_mut()
                .find(|s| s.name == *name)
                .ok_or_else(|| format!("no service named \"{name}\" in \"{path}\""))?;
            match field {
                ["workers"] => service.workers = number(value, "a whole number of workers")?,
                ["consume", consume_field] => {
                    let consume = service.consume.as_mut().ok_or_else(|| {
                        format!("service \"{name}\" consumes no queue (in \"{path}\")")
                    })?;
                    match *consume_field {
                        "concurrency" => {
                            consume.concurrency = Some(number(value, "a whole number of pollers")?);
                        }
                        "batch" => {
                            consume.batch = Some(number(value, "a whole number of messages")?)
                        }
                        "dedupe" => consume.dedupe = Some(duration(value)?),
                        _ => return Err(unknown()),
                    }
                }
                ["queue"] => {
                    service.queue = match value.trim() {
                        "Unbounded" => spec::QueueSize::Unbounded,
                        n => spec::QueueSize::Places(number(n, "a whole number of places")?),
                    };
                }
                ["abandonment"] => {
                    service.abandonment = ron_value(value, "AtDequeue or Renege")?;
                }
                ["when_full"] => service.when_full = ron_value(value, "Reject or Backpressure")?,
                ["error_rate"] => service.error_rate = number(value, "a probability")?,
                ["service_time"] => service.service_time = ron_value(value, "a distribution")?,
                ["execution"] => {
                    service.execution = ron_value(value, "ThreadPerRequest or Async")?;
                }
                ["idempotent"] => service.idempotent = ron_value(value, "true or false")?,
                ["idempotency_keys"] => {
                    service.idempotency_keys = ron_value(value, "true or false")?;
                }
                ["propagate_deadline"] => {
                    service.propagate_deadline = ron_value(value, "true or false")?;
                }
                ["inbound", "shed"] => {
                    service.inbound.shed = Some(ron_value(value, "a shedder such as Codel()")?);
                }
                ["inbound", "rate_limit"] => {
                    service.inbound.rate_limit = Some(ron_value(
                        value,
                        "a rate limit such as Resilience4j(limit_for_period: 100)",
                    )?);
                }
                _ => return Err(unknown()),
            }
        }
        ["edges", edge, field @ ..] => {
            let (from, to) = edge
                .split_once("->")
                .ok_or_else(|| format!("\"{edge}\" is not an edge; expected FROM->TO"))?;
            let policy = if let Some(client) = from.strip_prefix("client:") {
                let c = scenario
                    .clients
                    .iter_mut()
                    .find(|c| c.name == client && c.to == to)
                    .ok_or_else(|| format!("no client \"{client}\" calling \"{to}\""))?;
                policy_mut!(c)
            } else {
                let s = scenario
                    .services
                    .iter_mut()
                    .find(|s| s.name == from)
                    .ok_or_else(|| format!("no service named \"{from}\" in \"{path}\""))?;
                let call = s
                    .calls
                    .iter_mut()
                    .find(|c| c.to.as_deref() == Some(to))
                    .ok_or_else(|| format!("service \"{from}\" makes no call to \"{to}\""))?;
                if field == ["probability"] {
                    call.probability = Some(number(value, "a probability")?);
                    return Ok(());
                }
                policy_mut!(call)
            };
            if !set_policy(policy, default_retry.as_ref(), field, value)? {
                return Err(unknown());
            }
        }
        ["clients", name, field @ ..] => {
            let client = scenario
                .clients
                .iter_mut()
                .find(|c| c.name == *name)
                .ok_or_else(|| format!("no client named \"{name}\" in \"{path}\""))?;
            match field {
                ["arrivals"] => client.arrivals = ron_value(value, "an arrival process")?,
                ["arrivals", "rate_per_s"] => {
                    let rate = number(value, "a rate")?;
                    client.arrivals = match client.arrivals {
                        spec::Arrivals::Poisson { .. } => {
                            spec::Arrivals::Poisson { rate_per_s: rate }
                        }
                        spec::Arrivals::Constant { .. } => {
                            spec::Arrivals::Constant { rate_per_s: rate }
                        }
                        spec::Arrivals::ReadModifyWrite { .. }
                        | spec::Arrivals::ClosedLoop { .. } => {
                            return Err(format!("client \"{name}\" has users, not a rate"));
                        }
                    };
                }
                ["arrivals", "users"] => {
                    let users = number(value, "a whole number of users")?;
                    match &mut client.arrivals {
                        spec::Arrivals::ReadModifyWrite { users: u }
                        | spec::Arrivals::ClosedLoop { users: u, .. } => *u = users,
                        _ => {
                            return Err(format!(
                                "client \"{name}\" has an arrival rate, not read-modify-write users"
                            ));
                        }
                    }
                }
                _ => {
                    if !set_policy(policy_mut!(client), default_retry.as_ref(), field, value)? {
                        return Err(unknown());
                    }
                }
            }
        }
        [fault, field] if fault.starts_with("faults[") && fault.ends_with(']') => {
            let index: usize = number(&fault[7..fault.len() - 1], "a fault index")?;
            let count = scenario.faults.len();
            let f = scenario
                .faults
                .get_mut(index)
                .ok_or_else(|| format!("there is no faults[{index}]; the scenario has {count}"))?;
            match (f, *field) {
                (spec::Fault::Latency { multiply, .. }, "multiply") => {
                    *multiply = Some(number(value, "a factor")?);
                }
                (spec::Fault::Latency { from, .. }, "from") => *from = duration(value)?,
                (spec::Fault::Latency { to, .. }, "to") => *to = duration(value)?,
                _ => return Err(unknown()),
            }
        }
        _ => return Err(unknown()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn checkout() -> (Scenario, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("library/checkout.ron");
        let text = std::fs::read_to_string(&path).expect("library scenario");
        (crate::parse(&path, &text).expect("parses"), text)
    }

    #[test]
    fn queues_patience_and_abandonment_can_be_overridden() {
        let (mut s, text) = checkout();
        apply(&mut s, "services.payments.queue", "Unbounded").unwrap();
        apply(&mut s, "services.payments.abandonment", "Renege").unwrap();
        apply(
            &mut s,
            "clients.shoppers.deadline",
            "Exponential(mean: \"3s\")",
        )
        .unwrap();
        apply(&mut s, "edges.checkout->payments.timeout", "\"300ms\"").unwrap();
        let err = apply(&mut s, "clients.shoppers.deadline", "3 parsecs").unwrap_err();
        assert!(err.contains("duration"), "{err}");
        let cfg = crate::build(&s, &text).expect("still valid");
        let payments = &cfg.services[2];
        assert_eq!(payments.queue, models::config::ServiceConfig::UNBOUNDED);
        assert_eq!(payments.abandonment, models::config::Abandonment::Renege);
        assert_eq!(
            cfg.clients[0].policy.deadline,
            Some(sim_core::Distribution::Exponential { mean_ns: 3e9 })
        );
        assert_eq!(
            cfg.services[1].calls[0].policy.timeout,
            Some(sim_core::Distribution::Constant(
                sim_core::SimDuration::from_millis(300)
            ))
        );
    }

    #[test]
    fn overrides_reach_the_built_world() {
        let (mut s, text) = checkout();
        apply(&mut s, "edges.checkout->payments.retry.max_attempts", "5").unwrap();
        apply(&mut s, "edges.checkout->payments.timeout", "250ms").unwrap();
        apply(&mut s, "services.payments.workers", "32").unwrap();
        apply(&mut s, "clients.shoppers.arrivals.rate_per_s", "300").unwrap();
        apply(&mut s, "faults[0].multiply", "4").unwrap();
        apply(&mut s, "duration", "3m").unwrap();
        apply(
            &mut s,
            "policies.default.retry.backoff",
            "Exponential(base: \"10ms\", cap: \"100ms\")",
        )
        .unwrap();
        let cfg = crate::build(&s, &text).expect("still valid");
        let checkout = &cfg.services[1];
        let payments_call = &checkout.calls[0].policy;
        assert_eq!(
            payments_call.retry.as_ref().map(|r| r.max_attempts),
            Some(5)
        );
        // The edge took the default retry's backoff when it got its own retry; later changes
        // to the default no longer reach it.
        assert_eq!(
            payments_call.retry.as_ref().map(|r| r.backoff.clone()),
            Some(models::config::Backoff::FullJitter {
                base: sim_core::SimDuration::from_millis(20),
                cap: sim_core::SimDuration::from_secs(1),
            })
        );
        assert_eq!(
            payments_call.timeout,
            Some(sim_core::Distribution::Constant(
                sim_core::SimDuration::from_millis(250)
            ))
        );
        assert_eq!(cfg.services[2].workers, 32);
        assert_eq!(
            cfg.clients[0].arrivals,
            models::config::Arrivals::Poisson { rate_per_s: 300.0 }
        );
        assert_eq!(cfg.duration, sim_core::SimDuration::from_secs(180));
        // Other edges still follow the (changed) default.
        assert_eq!(
            checkout.calls[1]
                .policy
                .retry
                .as_ref()
                .map(|r| r.backoff.clone()),
            Some(models::config::Backoff::Exponential {
                base: sim_core::SimDuration::from_millis(10),
                cap: sim_core::SimDuration::from_millis(100),
            })
        );
    }

    #[test]
    fn bad_paths_and_values_say_what_is_wrong() {
        let (mut s, _) = checkout();
        for (path, value, expected) in [
            (
                "services.paymnts.workers",
                "3",
                "no service named \"paymnts\"",
            ),
            ("services.payments.wrokers", "3", "unknown parameter path"),
            (
                "edges.checkout->frontend.timeout",
                "1s",
                "makes no call to \"frontend\"",
            ),
            ("edges.checkout.timeout", "1s", "not an edge"),
            ("services.payments.workers", "many", "not a whole number"),
            ("duration", "5 parsecs", "unknown unit"),
            ("faults[3].multiply", "2", "there is no faults[3]"),
            (
                "network.latency",
                "Gaussian(mean: \"1ms\")",
                "not a distribution",
            ),
        ] {
            let err = apply(&mut s, path, value).expect_err(path);
            assert!(err.contains(expected), "{path}: {err}");
        }
    }
}
