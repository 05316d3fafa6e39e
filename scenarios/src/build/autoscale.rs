//! Autoscalers: each service's `autoscale` checked and built. The service is wired with
//! `max` replicas, placed like its first ones in turn (replica k on the host of replica
//! k mod `replicas`); those beyond the starting count wait out of rotation until the
//! autoscaler adds them.

use models::config::{ServiceId, WorldConfig};
use models::ops::hpa::{
    AutoscalerConfig, Flavor, Metric, ScalingPolicy, ScalingRules, SelectPolicy,
};
use sim_core::SimDuration;

use super::Checker;
use super::locate::named;
use crate::spec::{self, Scenario};

/// Most replicas an autoscaler may reach: every one is wired up front, with its edges.
pub const MAX_AUTOSCALED_REPLICAS: u32 = 1_000;

pub(super) fn autoscalers(c: &mut Checker, scenario: &Scenario, config: &mut WorldConfig) {
    for (i, s) in scenario.services.iter().enumerate() {
        let Some(a) = &s.autoscale else { continue };
        let q = named(&s.name);
        let field = |f: &str| format!("services[{i}].autoscale.{f}");
        let bad = |c: &mut Checker, f: &str, message: String| {
            c.report(&[&q, "autoscale", f], field(f), message);
        };
        if a.min == 0 {
            bad(c, "min", "must be at least 1".into());
        }
        if a.max < a.min || a.max > MAX_AUTOSCALED_REPLICAS {
            bad(
                c,
                "max",
                format!(
                    "{} is not a maximum; expected from min ({}) to {MAX_AUTOSCALED_REPLICAS}",
                    a.max, a.min
                ),
            );
        }
        if !(a.min..=a.max).contains(&s.replicas) {
            bad(
                c,
                "min",
                format!(
                    "the service starts with {} replicas, outside min {} and max {}",
                    s.replicas, a.min, a.max
                ),
            );
        }
        let metric = match a.metric {
            spec::AutoscaleMetric::Utilisation => Metric::Utilisation,
            spec::AutoscaleMetric::InFlight => Metric::InFlight,
            spec::AutoscaleMetric::QueueLength => Metric::QueueLength,
            spec::AutoscaleMetric::RequestRate => Metric::RequestRate,
        };
        let in_range = match metric {
            Metric::Utilisation => a.target > 0.0 && a.target <= 1.0,
            _ => a.target > 0.0 && a.target.is_finite(),
        };
        if !in_range {
            bad(
                c,
                "target",
                format!(
                    "{} is not a target for {}; expected a number above 0{}",
                    a.target,
                    metric.name(),
                    if metric == Metric::Utilisation {
                        " and at most 1"
                    } else {
                        ""
                    }
                ),
            );
        }
        let tolerance = a.tolerance.unwrap_or(0.1);
        if !(0.0..1.0).contains(&tolerance) {
            bad(
                c,
                "tolerance",
                format!("{tolerance} is not a tolerance; expected 0 to below 1"),
            );
        }
        let d = |x: Option<crate::Duration>, default: SimDuration| x.map_or(default, |d| d.0);
        let sync_period = d(a.sync_period, SimDuration::from_secs(15));
        if sync_period < SimDuration::from_millis(100) {
            bad(c, "sync_period", "must be at least 100ms".into());
        }
        let flavor = match &a.flavor {
            spec::AutoscaleFlavor::Kubernetes => Flavor::Kubernetes,
            spec::AutoscaleFlavor::TargetTracking {
                scale_out_cooldown,
                scale_in_cooldown,
            } => Flavor::TargetTracking {
                scale_out_cooldown: d(*scale_out_cooldown, SimDuration::from_secs(300)),
                scale_in_cooldown: d(*scale_in_cooldown, SimDuration::from_secs(300)),
            },
        };
        let scale_up = scaling_rules(c, (i, &q), "scale_up", &a.scale_up, &flavor);
        let scale_down = scaling_rules(c, (i, &q), "scale_down", &a.scale_down, &flavor);
        let svc = &mut config.services[i];
        if svc.replicas.is_empty() {
            continue; // reported by the placement
        }
        let placed = svc.replicas.clone();
        let max = a.max.clamp(1, MAX_AUTOSCALED_REPLICAS) as usize;
        svc.replicas = (0..max.max(placed.len()))
            .map(|k| placed[k % placed.len()])
            .collect();
        config.ops.autoscalers.push(AutoscalerConfig {
            service: ServiceId(i as u32),
            flavor,
            metric,
            target: a.target,
            min_replicas: a.min,
            max_replicas: a.max,
            initial: s.replicas,
            tolerance,
            sync_period,
            scale_up_stabilization: d(a.scale_up_stabilization, SimDuration::ZERO),
            scale_down_stabilization: d(a.scale_down_stabilization, SimDuration::from_secs(300)),
            provisioning: d(a.provisioning, SimDuration::ZERO),
            cold_start: d(a.cold_start, SimDuration::ZERO),
            scale_up,
            scale_down,
        });
    }
}

/// Longest period a scaling policy may have (Kubernetes' validation: 1800 s).
const MAX_POLICY_PERIOD_S: u64 = 1_800;

/// One direction's `behavior` policies checked, as Kubernetes validates them: at least one
/// policy unless scaling is disabled, each value at least 1, each period above 0 and at most
/// 1,800 s.
fn scaling_rules(
    c: &mut Checker,
    (i, q): (usize, &str),
    direction: &str,
    rules: &Option<spec::ScalingRules>,
    flavor: &Flavor,
) -> Option<ScalingRules> {
    let rules = rules.as_ref()?;
    let field = |f: &str| format!("services[{i}].autoscale.{direction}{f}");
    if *flavor != Flavor::Kubernetes {
        c.report(
            &[q, "autoscale", direction],
            field(""),
            "scaling policies are the Kubernetes flavor's; target tracking has cooldowns".into(),
        );
    }
    let select = match rules.select {
        spec::SelectPolicy::Max => SelectPolicy::Max,
        spec::SelectPolicy::Min => SelectPolicy::Min,
        spec::SelectPolicy::Disabled => SelectPolicy::Disabled,
    };
    if rules.policies.is_empty() && select != SelectPolicy::Disabled {
        c.report(
            &[q, "autoscale", direction],
            field(".policies"),
            "needs at least one policy, Pods(N, \"PERIOD\") or Percent(N, \"PERIOD\") (or select: Disabled)".into(),
        );
    }
    let policies = rules
        .policies
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let (name, value, period) = match p {
                spec::ScalingPolicy::Pods(n, d) => ("Pods", *n, d.0),
                spec::ScalingPolicy::Percent(n, d) => ("Percent", *n, d.0),
            };
            let at = field(&format!(".policies[{k}]"));
            if value == 0 {
                c.report(
                    &[q, "autoscale", direction, name],
                    at.clone(),
                    format!("{name}(0) changes nothing; expected at least 1"),
                );
            }
            if period == SimDuration::ZERO || period > SimDuration::from_secs(MAX_POLICY_PERIOD_S) {
                c.report(
                    &[q, "autoscale", direction, name],
                    at,
                    format!("a policy's period must be above 0 and at most {MAX_POLICY_PERIOD_S}s"),
                );
            }
            let period = period.max(SimDuration::from_nanos(1));
            match p {
                spec::ScalingPolicy::Pods(..) => ScalingPolicy::Pods(value.max(1), period),
                spec::ScalingPolicy::Percent(..) => ScalingPolicy::Percent(value.max(1), period),
            }
        })
        .collect();
    Some(ScalingRules { policies, select })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sim_core::SimDuration;

    const BASE: &str = r#"
Scenario(
    version: 1,
    name: "scaled",
    duration: "60s",
    services: [
        Service(name: "api", replicas: 2, workers: 4, service_time: Constant(value: "1ms"),
                OPS),
    ],
    clients: [Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 10.0))],
    faults: [FAULTS],
)
"#;

    fn load(ops: &str, faults: &str) -> Result<crate::Loaded, String> {
        let text = BASE.replace("OPS", ops).replace("FAULTS", faults);
        crate::load_str(Path::new("scaled.ron"), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn an_autoscaled_service_is_wired_with_its_maximum() {
        let loaded = load(
            "autoscale: (min: 1, max: 5, target: 0.5, provisioning: \"20s\")",
            "",
        )
        .unwrap();
        let c = &loaded.config;
        assert_eq!(c.services[0].replicas.len(), 5);
        let a = &c.ops.autoscalers[0];
        assert_eq!((a.initial, a.min_replicas, a.max_replicas), (2, 1, 5));
        assert_eq!(a.sync_period, SimDuration::from_secs(15));
        assert_eq!(a.scale_down_stabilization, SimDuration::from_secs(300));
        assert_eq!(a.tolerance, 0.1);
        assert_eq!(a.provisioning, SimDuration::from_secs(20));
    }

    #[test]
    fn bad_operations_say_where_and_what() {
        for (ops, faults, expected) in [
            (
                "autoscale: (min: 3, max: 2, target: 0.5)",
                "",
                "scaled.ron:8:37: services[0].autoscale.max: 2 is not a maximum",
            ),
            (
                "autoscale: (min: 1, max: 4, target: 1.5)",
                "",
                "services[0].autoscale.target: 1.5 is not a target for utilisation",
            ),
            (
                "autoscale: (min: 1, max: 4, target: 0.5, scale_up: (policies: [Pods(2, \"0s\")]))",
                "",
                "scaled.ron:8:80: services[0].autoscale.scale_up.policies[0]: a policy's period must be above 0",
            ),
            (
                "autoscale: (min: 1, max: 4, target: 0.5, scale_down: (policies: []))",
                "",
                "services[0].autoscale.scale_down.policies: needs at least one policy",
            ),
            (
                "autoscale: (min: 1, max: 4, target: 0.5, scale_down: (policies: [Percent(0, \"15s\")]))",
                "",
                "services[0].autoscale.scale_down.policies[0]: Percent(0) changes nothing",
            ),
            (
                "autoscale: (min: 1, max: 4, target: 0.5, flavor: TargetTracking(), scale_up: (select: Disabled))",
                "",
                "services[0].autoscale.scale_up: scaling policies are the Kubernetes flavor's",
            ),
            (
                "probes: (liveness: (failure_threshold: 0))",
                "",
                "services[0].probes.liveness.failure_threshold: must be at least 1",
            ),
            (
                "",
                "Hang(service: \"api\", replica: 2, at: \"10s\")",
                "faults[0].replica: service \"api\" has no replica 2; it has 2",
            ),
        ] {
            let err = load(ops, faults).expect_err(ops);
            assert!(err.contains(expected), "{ops} {faults}: {err}");
            assert!(err.starts_with("scaled.ron:"), "{err}");
        }
    }
}
