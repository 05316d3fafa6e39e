//! Checks a service of kind `Custom(name)`: only the `faultline` library, which holds a
//! registry of behaviours, can run one; the binary knows none and says so at the `kind`.

use super::Checker;
use crate::spec;

/// The most declared calls a custom service's endpoint may have: a behaviour's choice of calls
/// is a 64-bit set over them.
pub(crate) const MAX_CUSTOM_CALLS: usize = 64;

/// Reports a custom kind the binary cannot run, an empty name, and calls a behaviour cannot
/// choose among (`one_of` routes are drawn by the model, not chosen).
pub(super) fn check(c: &mut Checker, q: &str, field: &str, s: &spec::Service) {
    let spec::ServiceKind::Custom(name) = &s.kind else {
        return;
    };
    if name.trim().is_empty() {
        c.report(
            &[q, "Custom"],
            field.to_string(),
            "an empty behaviour name; expected the name a behaviour is registered under".into(),
        );
        return;
    }
    if !c.custom_allowed {
        c.report(
            &[q, "Custom"],
            field.to_string(),
            format!(
                "custom behaviour '{name}' is not registered; the binary knows none \u{2014} use the \
                 library (faultline::Scenario::with_behaviour)"
            ),
        );
        return;
    }
    let plans = std::iter::once(&s.calls).chain(s.endpoints.iter().map(|e| &e.calls));
    for calls in plans {
        let flat: usize = calls.iter().map(|c| c.parallel.len().max(1)).sum();
        if calls.iter().any(|c| !c.one_of.is_empty()) {
            c.report(
                &[q, "one_of"],
                format!("{field}.calls"),
                format!(
                    "custom behaviour '{name}' chooses its calls itself; `one_of` is not allowed \
                     on a custom service"
                ),
            );
        } else if flat > MAX_CUSTOM_CALLS {
            c.report(
                &[q, "calls"],
                format!("{field}.calls"),
                format!(
                    "{flat} calls; a custom service has at most {MAX_CUSTOM_CALLS} per endpoint"
                ),
            );
        }
    }
}
