//! Each service's `probes` checked and built (Kubernetes defaults: period 10 s, timeout 1 s,
//! failure threshold 3; a restart takes 5 s here).

use models::config::{ServiceId, WorldConfig};
use models::ops::{ProbeConfig, ProbesConfig};
use sim_core::SimDuration;

use super::Checker;
use super::locate::named;
use crate::spec::{self, Scenario};

pub(super) fn probes(c: &mut Checker, scenario: &Scenario, config: &mut WorldConfig) {
    for (i, s) in scenario.services.iter().enumerate() {
        let Some(p) = &s.probes else { continue };
        let q = named(&s.name);
        let mut probe = |kind: &str, spec: Option<&spec::Probe>| {
            let spec = spec?;
            let period = spec.period.map_or(SimDuration::from_secs(10), |d| d.0);
            let timeout = spec.timeout.map_or(SimDuration::from_secs(1), |d| d.0);
            let failure_threshold = spec.failure_threshold.unwrap_or(3);
            let field = |f: &str| format!("services[{i}].probes.{kind}.{f}");
            if period < SimDuration::from_millis(100) {
                c.report(
                    &[&q, kind, "period"],
                    field("period"),
                    "must be at least 100ms".into(),
                );
            }
            if timeout == SimDuration::ZERO {
                c.report(
                    &[&q, kind, "timeout"],
                    field("timeout"),
                    "must be greater than 0".into(),
                );
            }
            if failure_threshold == 0 {
                c.report(
                    &[&q, kind, "failure_threshold"],
                    field("failure_threshold"),
                    "must be at least 1".into(),
                );
            }
            Some(ProbeConfig {
                period,
                timeout,
                failure_threshold,
            })
        };
        let liveness = probe("liveness", p.liveness.as_ref());
        let readiness = probe("readiness", p.readiness.as_ref());
        config.ops.probes.push(ProbesConfig {
            service: ServiceId(i as u32),
            liveness,
            readiness,
            restart: p.restart.map_or(SimDuration::from_secs(5), |d| d.0),
        });
    }
}
