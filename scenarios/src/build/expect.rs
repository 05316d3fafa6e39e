//! Checks the expectations: each names a client or service that exists, and each number is in
//! the range where it means something (a quantile in (0, 1), an availability in [0, 1]).

use std::collections::BTreeMap;

use models::config::ClientId;

use super::locate::quoted;
use super::{Checker, Known};
use crate::spec;

/// Expectations name clients or services that exist (services only, for those about a
/// service's own behaviour).
pub(super) fn expectations(c: &mut Checker, known: &Known, clients: &BTreeMap<&str, ClientId>) {
    for (i, e) in known.scenario.expect.iter().enumerate() {
        use spec::Expectation as E;
        numbers(c, i, e);
        let (name, services_only) = match e {
            E::Availability { of, .. } | E::Latency { of, .. } | E::Amplification { of, .. } => {
                (of, false)
            }
            E::NoCascadeInto { service } | E::NoDuplicateSideEffects { service } => (service, true),
            E::RecoveryWithin { .. } => continue,
        };
        let is_service = known.services.contains_key(name.as_str());
        let is_client = clients.contains_key(name.as_str());
        if is_service || (is_client && !services_only) {
            continue;
        }
        let mut expected = known.service_names();
        if !services_only {
            let clients: Vec<&str> = clients.keys().copied().collect();
            expected = format!("{expected}, {}", clients.join(", "));
        }
        c.report(
            &["expect", &quoted(name)],
            format!("expect[{i}]"),
            format!(
                "unknown {} \"{name}\"; expected one of: {expected}",
                if services_only {
                    "service"
                } else {
                    "client or service"
                }
            ),
        );
    }
}

/// The numbers of expectation `i`: NaN, infinities and values outside their meaning would pass
/// or fail every seed for no reason, or reach the metrics as an impossible quantile.
fn numbers(c: &mut Checker, i: usize, e: &spec::Expectation) {
    use spec::Expectation as E;
    let mut out_of_range = |name: &str, value: f64, expected: &str| {
        c.report_at(
            super::locate::locate_item(c.source, &["expect"], i, &[name]),
            format!("expect[{i}].{name}"),
            format!("{value} is not {expected}"),
        );
    };
    match e {
        E::Availability { at_least, .. } if !(0.0..=1.0).contains(at_least) => out_of_range(
            "at_least",
            *at_least,
            "an availability; expected a number from 0 to 1",
        ),
        E::Latency { quantile, .. } if !(*quantile > 0.0 && *quantile < 1.0) => out_of_range(
            "quantile",
            *quantile,
            "a quantile; expected a number above 0 and below 1 (0.99 for p99)",
        ),
        E::Amplification { at_most, .. } if !(at_most.is_finite() && *at_most >= 0.0) => {
            out_of_range(
                "at_most",
                *at_most,
                "an amplification; expected a finite number >= 0 (attempts per request)",
            )
        }
        _ => {}
    }
}
