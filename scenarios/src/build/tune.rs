//! Checks the `tune` section where it is written, so a mistyped domain, cost or seed range is
//! reported at its line and column before `faultline tune` starts (the binary parses the same
//! texts again; `src/tune.rs` has a test that the two agree on the metric names).

use super::Checker;
use super::locate::locate_item;
use crate::spec::Scenario;

/// The metrics a `cost` may weigh, as `faultline tune --cost` names them.
pub const METRICS: [&str; 6] = [
    "workers",
    "replicas",
    "attempts",
    "degraded",
    "p99_ms",
    "unavailability",
];

pub(super) fn tune(c: &mut Checker, scenario: &Scenario) {
    let Some(tune) = &scenario.tune else { return };
    for (i, (path, domain)) in tune.params.iter().enumerate() {
        let field = format!("tune.params[{i}]");
        let at = locate_item(c.source, &["tune:", "params:"], i, &[]);
        if path.trim().is_empty() || path.contains('=') {
            c.report_at(at, field, format!("\"{path}\" is not a --set path"));
        } else if let Err(e) = domain_ok(domain) {
            c.report_at(at, field, e);
        }
    }
    if let Some(cost) = &tune.cost
        && let Err(e) = cost_ok(cost)
    {
        c.report(&["tune:", "cost:"], "tune.cost".into(), e);
    }
    if let Some(seeds) = &tune.seeds
        && let Err(e) = seeds_ok(seeds)
    {
        c.report(&["tune:", "seeds:"], "tune.seeds".into(), e);
    }
    for (name, value) in [("grid_max", tune.grid_max), ("samples", tune.samples)] {
        if value == Some(0) {
            c.report(
                &["tune:", &format!("{name}:")],
                format!("tune.{name}"),
                "must be at least 1".into(),
            );
        }
    }
}

fn domain_ok(domain: &str) -> Result<(), String> {
    if let Some((a, b)) = domain.split_once("..")
        && let (Ok(a), Ok(b)) = (a.trim().parse::<i64>(), b.trim().parse::<i64>())
    {
        return if b < a || b - a >= 10_000 {
            Err(format!(
                "\"{domain}\": expected A..B with A <= B and at most 10000 values"
            ))
        } else {
            Ok(())
        };
    }
    if domain.trim().is_empty() || domain.split(',').any(|v| v.trim().is_empty()) {
        return Err(format!(
            "\"{domain}\": expected values V1,V2,... or a range A..B, with no empty value"
        ));
    }
    Ok(())
}

fn cost_ok(cost: &str) -> Result<(), String> {
    for term in cost.split('+') {
        let term = term.trim();
        let (weight, name) = term.split_once('*').unwrap_or(("1", term));
        let weight_ok = weight
            .trim()
            .parse::<f64>()
            .is_ok_and(|w| w.is_finite() && w >= 0.0);
        if !weight_ok || !METRICS.contains(&name.trim()) {
            return Err(format!(
                "\"{term}\" is not WEIGHT*METRIC; metrics: {}",
                METRICS.join(", ")
            ));
        }
    }
    Ok(())
}

fn seeds_ok(seeds: &str) -> Result<(), String> {
    let (a, b) = seeds.split_once("..").unwrap_or((seeds, seeds));
    match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b && b - a < 10_000_000 => Ok(()),
        _ => Err(format!(
            "\"{seeds}\" is not a seed range; expected FIRST..LAST, e.g. \"1..5\""
        )),
    }
}
