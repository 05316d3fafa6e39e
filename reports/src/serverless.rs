//! What the serverless functions did, for the JSON, text and Markdown reports: invocations,
//! cold starts (and the share of requests that waited for one), throttles, instance-seconds
//! (the cost figure), the peak of instances and, in JSON, the instances per window. Nothing is
//! written for a run without functions.

use std::fmt::Write as _;

use models::RunResult;
use models::ops::serverless::FunctionReport;
use serde_json::{Map, Value};

use crate::json::float;
use crate::phrases::seconds;

/// A count over the invocations, as a ratio (0 without invocations).
fn share(n: u64, f: &FunctionReport) -> f64 {
    if f.invocations == 0 {
        0.0
    } else {
        n as f64 / f.invocations as f64
    }
}

/// The `serverless` object of the JSON report, by service; `None` without functions.
pub(crate) fn json(result: &RunResult) -> Option<Value> {
    if result.ops.functions.is_empty() {
        return None;
    }
    let mut all = Map::new();
    for f in &result.ops.functions {
        let mut m = Map::new();
        m.insert("concurrency".into(), Value::from(f.concurrency));
        m.insert("provisioned".into(), Value::from(f.provisioned));
        m.insert("max_instances".into(), Value::from(f.max_instances));
        m.insert("keep_warm_s".into(), float(f.keep_warm.as_secs_f64(), 3));
        m.insert("invocations".into(), Value::from(f.invocations));
        m.insert("cold_starts".into(), Value::from(f.cold_starts));
        m.insert(
            "waited_for_cold_start".into(),
            Value::from(f.waited_for_cold_start),
        );
        m.insert(
            "cold_start_share".into(),
            float(share(f.waited_for_cold_start, f), 6),
        );
        m.insert("throttled".into(), Value::from(f.throttled));
        m.insert("throttled_share".into(), float(share(f.throttled, f), 6));
        m.insert("instance_seconds".into(), float(f.instance_seconds, 3));
        m.insert("peak_instances".into(), Value::from(f.peak_instances));
        m.insert("window_s".into(), float(f.window.as_secs_f64(), 6));
        let windows = f.windows.iter().map(|&(mean, peak)| {
            let mut w = Map::new();
            w.insert("mean".into(), float(mean, 3));
            w.insert("peak".into(), Value::from(peak));
            Value::Object(w)
        });
        m.insert("instances".into(), Value::Array(windows.collect()));
        all.insert(f.service.clone(), Value::Object(m));
    }
    Some(Value::Object(all))
}

/// `thumbnails (1 request per instance, 0 provisioned, at most 50 instances, warm 300 s)`.
fn head(f: &FunctionReport) -> String {
    format!(
        "{} ({} request{} per instance, {} provisioned, at most {} instances, kept warm {})",
        f.service,
        f.concurrency,
        if f.concurrency == 1 { "" } else { "s" },
        f.provisioned,
        f.max_instances,
        seconds(f.keep_warm.as_nanos())
    )
}

/// The figures, one phrase each.
fn lines(f: &FunctionReport) -> [String; 3] {
    [
        format!(
            "{} invocations; {} cold starts, {} requests ({:.2} %) waited for one",
            f.invocations,
            f.cold_starts,
            f.waited_for_cold_start,
            100.0 * share(f.waited_for_cold_start, f)
        ),
        format!(
            "{} throttled ({:.2} %) at the limit of {} instances",
            f.throttled,
            100.0 * share(f.throttled, f),
            f.max_instances
        ),
        format!(
            "{} instances at the peak; {:.1} instance-seconds ({:.3} instance-hours)",
            f.peak_instances,
            f.instance_seconds,
            f.instance_seconds / 3600.0
        ),
    ]
}

/// The text report's `serverless` section; empty without functions.
pub(crate) fn text(out: &mut String, result: &RunResult) {
    if result.ops.functions.is_empty() {
        return;
    }
    out.push_str("\nserverless:\n");
    for f in &result.ops.functions {
        let _ = writeln!(out, "  {}", head(f));
        for line in lines(f) {
            let _ = writeln!(out, "    {line}");
        }
    }
}

/// The Markdown report's `Serverless` section; empty without functions.
pub(crate) fn markdown(out: &mut String, result: &RunResult, escape: impl Fn(&str) -> String) {
    if result.ops.functions.is_empty() {
        return;
    }
    out.push_str("\n#### Serverless\n\n");
    for f in &result.ops.functions {
        let [a, b, c] = lines(f);
        let _ = writeln!(
            out,
            "- **{}**: {}; {}; {}",
            escape(&head(f)),
            escape(&a),
            escape(&b),
            escape(&c)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::SimDuration;

    #[test]
    fn the_phrases_give_the_shares_of_the_invocations() {
        let f = FunctionReport {
            service: "fn".into(),
            concurrency: 1,
            provisioned: 0,
            max_instances: 10,
            keep_warm: SimDuration::from_secs(300),
            invocations: 200,
            cold_starts: 5,
            waited_for_cold_start: 5,
            throttled: 50,
            instance_seconds: 7200.0,
            peak_instances: 10,
            window: SimDuration::SECOND,
            windows: Vec::new(),
        };
        assert_eq!(
            head(&f),
            "fn (1 request per instance, 0 provisioned, at most 10 instances, kept warm 300.0 s)"
        );
        let [a, b, c] = lines(&f);
        assert_eq!(
            a,
            "200 invocations; 5 cold starts, 5 requests (2.50 %) waited for one"
        );
        assert_eq!(b, "50 throttled (25.00 %) at the limit of 10 instances");
        assert_eq!(
            c,
            "10 instances at the peak; 7200.0 instance-seconds (2.000 instance-hours)"
        );
    }
}
