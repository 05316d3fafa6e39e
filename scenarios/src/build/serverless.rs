//! Serverless functions: each service's `serverless` checked and built. The service is wired
//! with `max_instances` replicas, its possible instances, placed like its first replica's host
//! (a function's instances run wherever the platform puts them; their place only decides the
//! network latency to them).

use models::config::{ServiceId, WorldConfig};
use models::ops::serverless::FunctionConfig;
use sim_core::SimDuration;

use super::Checker;
use super::locate::named;
use crate::spec::{self, Scenario};

/// Most instances a function may have: every one is wired up front, with its edges.
pub const MAX_FUNCTION_INSTANCES: u32 = 1_000;

/// Lambda's default account concurrency quota.
const DEFAULT_MAX_INSTANCES: u32 = 1_000;

/// How long an idle instance stays warm when the scenario does not say: AWS publishes no
/// figure; observed Lambda environments and Cloud Run's idle instances last minutes.
const DEFAULT_KEEP_WARM: SimDuration = SimDuration::from_secs(600);

pub(super) fn functions(c: &mut Checker, scenario: &Scenario, config: &mut WorldConfig) {
    for (i, s) in scenario.services.iter().enumerate() {
        let Some(f) = &s.serverless else { continue };
        let q = named(&s.name);
        let field = |f: &str| format!("services[{i}].serverless.{f}");
        let bad = |c: &mut Checker, f: &str, message: String| {
            c.report(&[&q, "serverless", f], field(f), message);
        };
        // What the platform decides for a function, or what is not modelled with one.
        let conflicts = [
            (
                s.replicas != 1,
                "replicas",
                "instances come and go; limit them with serverless.max_instances",
            ),
            (
                !matches!(s.queue, spec::QueueSize::Places(0)),
                "queue",
                "a function has no queue: a request finds an instance or is throttled",
            ),
            (
                s.autoscale.is_some(),
                "autoscale",
                "a function scales itself",
            ),
            (
                s.rollout.is_some() || !s.versions.is_empty(),
                "versions",
                "versions of a function are not modelled",
            ),
            (
                s.probes.is_some(),
                "probes",
                "the platform replaces a function's instances",
            ),
            (
                s.inbound.rate_limit.is_some() || s.inbound.shed.is_some(),
                "inbound",
                "inbound protections on a function are not modelled",
            ),
            (
                s.consume.is_some() || s.subscribe.is_some(),
                "consume",
                "a function as a consumer is not modelled",
            ),
            (
                !matches!(s.kind, spec::ServiceKind::Worker),
                "kind",
                "a function is a Worker",
            ),
            (
                matches!(s.when_full, spec::WhenFull::Backpressure),
                "when_full",
                "a function has no queue to wait for",
            ),
        ];
        for (conflict, what, why) in conflicts {
            if conflict {
                c.report(
                    &[&q, "serverless"],
                    format!("services[{i}].{what}"),
                    format!("a serverless service cannot set `{what}`: {why}"),
                );
            }
        }
        let max = f.max_instances.unwrap_or(DEFAULT_MAX_INSTANCES);
        if max == 0 || max > MAX_FUNCTION_INSTANCES {
            bad(
                c,
                "max_instances",
                format!("{max} is not a limit; expected 1 to {MAX_FUNCTION_INSTANCES}"),
            );
        }
        if f.provisioned > max {
            bad(
                c,
                "provisioned",
                format!(
                    "{} provisioned instances exceed max_instances ({max})",
                    f.provisioned
                ),
            );
        }
        let cold_start = c.dist(
            &[&q, "serverless", "cold_start"],
            field("cold_start"),
            &f.cold_start,
        );
        let svc = &mut config.services[i];
        if svc.replicas.is_empty() {
            continue; // reported by the placement
        }
        let host = svc.replicas[0];
        let max = max.clamp(1, MAX_FUNCTION_INSTANCES);
        svc.replicas = vec![host; max as usize];
        config.ops.functions.push(FunctionConfig {
            service: ServiceId(i as u32),
            concurrency: s.workers,
            cold_start,
            keep_warm: f.keep_warm.map_or(DEFAULT_KEEP_WARM, |d| d.0),
            provisioned: f.provisioned.min(max),
            max_instances: max,
        });
    }
}
