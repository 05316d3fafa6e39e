//! Deployments: each service's `versions`, `stable` and `rollout` checked and built. A
//! service with a rollout is wired with twice its replicas (twice its autoscaler's maximum),
//! placed like its first ones in turn (replica k on the host of replica k mod `replicas`): the
//! first half runs the stable version, the second the new one, out of rotation until the
//! rollout starts them.

use models::config::ServiceConfig;
use models::config::{ServiceId, WorldConfig};
use models::ops::rollout::{AnalysisConfig, RolloutConfig, Step, Strategy};
use models::ops::{Deployment, EndpointWork, VersionConfig};
use sim_core::SimDuration;

use super::Checker;
use super::locate::{named, quoted};
use crate::spec::{self, Scenario};

/// Most replicas a rolled-out service may have: twice as many are wired.
pub const MAX_ROLLOUT_REPLICAS: usize = 500;

pub(super) fn rollouts(c: &mut Checker, scenario: &Scenario, config: &mut WorldConfig) {
    for (i, s) in scenario.services.iter().enumerate() {
        if s.versions.is_empty() && s.stable.is_none() && s.rollout.is_none() {
            continue;
        }
        let q = named(&s.name);
        let at = |f: &str| format!("services[{i}].{f}");
        let mut versions = Vec::new();
        for (k, v) in s.versions.iter().enumerate() {
            if s.versions[..k].iter().any(|o| o.name == v.name) {
                c.report(
                    &[q.as_str(), "versions", &named(&v.name)],
                    at(&format!("versions[{k}].name")),
                    format!("version \"{}\" is declared twice", v.name),
                );
            }
            versions.push(version(c, (i, &q), k, v, &config.services[i]));
        }
        let known = |c: &mut Checker, name: &str, field: &str| -> Option<usize> {
            let found = s.versions.iter().position(|v| v.name == name);
            if found.is_none() {
                let names: Vec<String> = s.versions.iter().map(|v| quoted(&v.name)).collect();
                c.report(
                    &[&q, field, &quoted(name)],
                    at(field),
                    format!(
                        "service \"{}\" has no version \"{name}\"; it has {}",
                        s.name,
                        if names.is_empty() {
                            "none (declare them in `versions`)".into()
                        } else {
                            names.join(", ")
                        }
                    ),
                );
            }
            found
        };
        let stable = match &s.stable {
            Some(name) => known(c, name, "stable"),
            None => (!s.versions.is_empty()).then_some(0),
        };
        if let Some(k) = stable {
            let v: &VersionConfig = &versions[k];
            let svc = &mut config.services[i];
            svc.service_time = v.endpoints[0].service_time.clone();
            svc.error_rate = v.endpoints[0].error_rate;
            for (e, work) in svc.endpoints.iter_mut().zip(&v.endpoints[1..]) {
                e.service_time = work.service_time.clone();
                e.error_rate = work.error_rate;
            }
            svc.workers = v.workers;
            svc.queue = v.queue;
        }
        let Some(r) = &s.rollout else { continue };
        let field = |f: &str| format!("services[{i}].rollout.{f}");
        let bad = |c: &mut Checker, f: &str, message: String| {
            c.report(&[&q, "rollout", f], field(f), message);
        };
        let Some(new) = known(c, &r.version, "rollout") else {
            continue;
        };
        if Some(new) == stable {
            bad(
                c,
                "version",
                format!(
                    "\"{}\" is already the stable version; roll out another",
                    r.version
                ),
            );
        }
        if r.at.0 >= scenario.duration.0 {
            bad(
                c,
                "at",
                format!(
                    "the rollout starts at or after the end of the run ({})",
                    scenario.duration.0
                ),
            );
        }
        let d = |x: Option<crate::Duration>, default: SimDuration| x.map_or(default, |d| d.0);
        // An autoscaled service is already wired with its maximum: each version may reach it,
        // starting from the service's `replicas`.
        let wired = config.services[i].replicas.len();
        let desired = if s.autoscale.is_some() {
            (s.replicas as usize).clamp(1, wired.max(1))
        } else {
            wired
        };
        if wired == 0 {
            continue; // reported by the placement
        }
        if wired > MAX_ROLLOUT_REPLICAS {
            bad(
                c,
                "version",
                format!("{wired} replicas; a rollout handles at most {MAX_ROLLOUT_REPLICAS}"),
            );
            continue;
        }
        let strategy = match &r.strategy {
            spec::rollout::Strategy::RollingUpdate {
                max_surge,
                max_unavailable,
            } => {
                // Kubernetes: 25 % each, surge rounded up and unavailable down.
                let max_surge = max_surge.unwrap_or((desired as u32).div_ceil(4));
                let max_unavailable = max_unavailable.unwrap_or(desired as u32 / 4);
                if max_surge == 0 && max_unavailable == 0 {
                    bad(
                        c,
                        "max_surge",
                        "max_surge and max_unavailable cannot both be 0".into(),
                    );
                }
                if max_surge as usize > desired {
                    bad(
                        c,
                        "max_surge",
                        format!("{max_surge} is more than the {desired} replicas"),
                    );
                }
                Strategy::RollingUpdate {
                    max_surge: max_surge.min(desired as u32),
                    max_unavailable: max_unavailable
                        .min(desired as u32)
                        .max(u32::from(max_surge == 0)),
                }
            }
            spec::rollout::Strategy::BlueGreen {
                auto_promotion_after,
                scale_down_delay,
            } => Strategy::BlueGreen {
                auto_promotion_after: d(*auto_promotion_after, SimDuration::ZERO),
                scale_down_delay: d(*scale_down_delay, SimDuration::from_secs(30)),
            },
            spec::rollout::Strategy::Canary {
                steps,
                scale_down_delay,
            } => {
                if steps.is_empty() {
                    bad(c, "steps", "a canary needs at least one step".into());
                }
                let steps = steps
                    .iter()
                    .map(|st| match st {
                        spec::rollout::Step::SetWeight(w) => {
                            if *w > 100 {
                                bad(
                                    c,
                                    "SetWeight",
                                    format!(
                                        "{w} is not a weight; expected a percent from 0 to 100"
                                    ),
                                );
                            }
                            Step::SetWeight((*w).min(100))
                        }
                        spec::rollout::Step::Pause(p) => Step::Pause(p.0),
                    })
                    .collect();
                Strategy::Canary {
                    steps,
                    scale_down_delay: d(*scale_down_delay, SimDuration::from_secs(30)),
                }
            }
        };
        let analysis = r.analysis.as_ref().map(|a| {
            let bad = |c: &mut Checker, f: &str, message: String| {
                c.report(&[&q, "rollout", "analysis", f], field(&format!("analysis.{f}")), message);
            };
            if a.interval.0 < SimDuration::from_millis(100) {
                bad(c, "interval", "must be at least 100ms".into());
            }
            for (name, v) in [("availability", a.availability), ("max_availability_drop", a.max_availability_drop)] {
                if v.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                    bad(c, name, format!("{} is not a fraction; expected a number from 0 to 1", v.unwrap_or_default()));
                }
            }
            if a.max_p99_ratio.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
                bad(c, "max_p99_ratio", "expected a number above 0".into());
            }
            if a.p99.is_some_and(|p| p.0 == SimDuration::ZERO) {
                bad(c, "p99", "must be greater than 0".into());
            }
            if a.availability.is_none() && a.p99.is_none() && a.max_availability_drop.is_none() && a.max_p99_ratio.is_none() {
                bad(c, "interval", "an analysis needs a threshold: availability, p99, max_availability_drop or max_p99_ratio".into());
            }
            AnalysisConfig {
                interval: a.interval.0.max(SimDuration::from_millis(100)),
                availability: a.availability,
                p99: a.p99.map(|p| p.0),
                max_availability_drop: a.max_availability_drop,
                max_p99_ratio: a.max_p99_ratio,
                failure_limit: a.failure_limit,
                min_requests: a.min_requests.unwrap_or(1),
            }
        });
        let svc = &mut config.services[i];
        let placed = svc.replicas.clone();
        svc.replicas = (0..2 * wired).map(|k| placed[k % wired]).collect();
        config.ops.rollouts.push(Deployment {
            rollout: RolloutConfig {
                service: ServiceId(i as u32),
                stable: s.versions[stable.unwrap_or(0)].name.clone(),
                version: r.version.clone(),
                at: sim_core::SimTime::ZERO + r.at.0,
                desired: desired as u32,
                ready_after: d(r.ready_after, SimDuration::from_secs(10)),
                strategy,
                analysis,
            },
            new: versions[new].clone(),
        });
    }
}

/// One version checked: its work on each endpoint and its replicas' resources, the service's
/// where it says nothing.
fn version(
    c: &mut Checker,
    (i, q): (usize, &str),
    k: usize,
    v: &spec::rollout::Version,
    svc: &ServiceConfig,
) -> VersionConfig {
    let anchors = [q, "versions", &named(&v.name)];
    let at = |f: &str| format!("services[{i}].versions[{k}].{f}");
    let own = work(
        c,
        (&anchors, &at("")),
        (&v.service_time, v.error_rate),
        (&svc.service_time, svc.error_rate),
    );
    let mut endpoints = vec![own];
    endpoints.extend(svc.endpoints.iter().map(|e| EndpointWork {
        service_time: e.service_time.clone(),
        error_rate: e.error_rate,
    }));
    for (j, e) in v.endpoints.iter().enumerate() {
        let name = named(&e.name);
        let anchors = [&anchors[..], &["endpoints", &name]].concat();
        let field = at(&format!("endpoints[{j}]."));
        if v.endpoints[..j].iter().any(|o| o.name == e.name) {
            let message = format!("endpoint \"{}\" is set twice in this version", e.name);
            c.report(&anchors, format!("{field}name"), message);
            continue;
        }
        let Some(index) = svc.endpoints.iter().position(|o| o.name == e.name) else {
            let names: Vec<String> = svc.endpoints.iter().map(|o| quoted(&o.name)).collect();
            let has = if names.is_empty() {
                format!(
                    "no endpoint but its own (\"{}\", set by the version's service_time)",
                    svc.endpoint_name
                )
            } else {
                names.join(", ")
            };
            let message = format!(
                "service \"{}\" has no other endpoint \"{}\"; it has {has}",
                svc.name, e.name
            );
            c.report(&anchors, format!("{field}name"), message);
            continue;
        };
        let base = &svc.endpoints[index];
        endpoints[index + 1] = work(
            c,
            (&anchors, &field),
            (&e.service_time, e.error_rate),
            (&base.service_time, base.error_rate),
        );
    }
    if v.workers == Some(0) {
        c.report(
            &[&anchors[..], &["workers"]].concat(),
            at("workers"),
            "must be at least 1".into(),
        );
    }
    VersionConfig {
        endpoints,
        workers: v.workers.unwrap_or(svc.workers).max(1),
        queue: match v.queue {
            Some(spec::QueueSize::Places(n)) => n,
            Some(spec::QueueSize::Unbounded) => ServiceConfig::UNBOUNDED,
            None => svc.queue,
        },
    }
}

/// One endpoint's work in a version: its own service time and error rate, or the endpoint's.
fn work(
    c: &mut Checker,
    (anchors, field): (&[&str], &str),
    (service_time, error_rate): (&Option<spec::Distribution>, Option<f64>),
    (base_time, base_rate): (&sim_core::Distribution, f64),
) -> EndpointWork {
    let service_time = match service_time {
        Some(d) => c.dist(
            &[anchors, &["service_time"]].concat(),
            format!("{field}service_time"),
            d,
        ),
        None => base_time.clone(),
    };
    let error_rate = error_rate.unwrap_or(base_rate);
    if !(0.0..=1.0).contains(&error_rate) {
        c.report(
            &[anchors, &["error_rate"]].concat(),
            format!("{field}error_rate"),
            format!("{error_rate} is not a probability; expected a number from 0 to 1"),
        );
    }
    EndpointWork {
        service_time,
        error_rate: error_rate.clamp(0.0, 1.0),
    }
}
