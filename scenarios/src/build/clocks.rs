//! Checks the hosts' clocks (offset, drift, jumps) and builds one per host.

use models::clock::{ClockConfig, ClockJump};
use models::topology::Topology;
use sim_core::SimTime;

use super::Checker;
use super::locate::quoted;
use crate::spec;

/// Every host's clock: ideal unless the scenario sets it.
pub(super) fn clocks(c: &mut Checker, topo: &Topology, specs: &[spec::Clock]) -> Vec<ClockConfig> {
    let mut clocks = vec![ClockConfig::ideal(); topo.hosts.len()];
    for (i, clock) in specs.iter().enumerate() {
        let field = format!("clocks[{i}]");
        let q = quoted(&clock.host);
        match topo.host_index(&clock.host) {
            Err(e) => c.report(&["clocks", &q], format!("{field}.host"), e.to_string()),
            Ok(h) => {
                let config = ClockConfig {
                    offset: clock.offset.map_or(0, |o| o.0),
                    drift_ppm: clock.drift_ppm,
                    jumps: clock
                        .jumps
                        .iter()
                        .map(|j| ClockJump {
                            at: SimTime::ZERO + j.at.0,
                            by: j.by.0,
                        })
                        .collect(),
                };
                if let Err(problems) = config.validate() {
                    for e in problems {
                        c.report(&["clocks", &q], field.clone(), e.to_string());
                    }
                }
                clocks[h] = config;
            }
        }
    }
    clocks
}
