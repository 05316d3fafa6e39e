//! Checks the expectations: each names a client or service that exists.

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
