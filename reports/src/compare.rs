//! Two scenarios side by side across the same seeds: availability, latency, amplification,
//! recovery and blast radius, with the deltas (B minus A).
//!
//! Each run is folded into an [`Aggregate`] as soon as it is done, so memory is bounded by the
//! entities and windows of one scenario, not by the number of seeds. Folding happens in seed
//! order, so the result does not depend on how runs were spread over threads.

use std::fmt::Write as _;

use models::RunResult;
use models::metrics::Histogram;
use serde_json::{Map, Value};
use sim_core::SimDuration;

use crate::analysis::{Analysis, EntityKind, Verdict};
use crate::common::{finite, fmt_ms, percent, round_to};
use crate::sweep::{MetricAggregate, aggregate_metric};

/// One service or client of a scenario, summed over seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateEntity {
    pub kind: EntityKind,
    pub name: String,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    /// Attempts sent (clients) or received (services).
    pub attempts: u64,
    /// Latencies of every successful request of every seed.
    pub latency: Histogram,
    /// Per window, summed over seeds: (ok, failed).
    pub windows: Vec<(u64, u64)>,
    /// Per window, the sum over seeds of the window's p99 (ns) and the seeds that had a
    /// success in it: the compare page charts their mean.
    pub p99_windows: Vec<(u128, u32)>,
    /// Per seed, in seed order: (seed, availability, p99 in ms), for intervals on the
    /// differences B - A paired by seed.
    pub per_seed: Vec<(u64, f64, f64)>,
}

impl AggregateEntity {
    /// Pooled availability: all ok over all finished requests (1 when none finished).
    pub fn availability(&self) -> f64 {
        let done = self.ok + self.failed;
        if done == 0 {
            1.0
        } else {
            self.ok as f64 / done as f64
        }
    }
}

/// One scenario's figures over its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub scenario: String,
    pub window: SimDuration,
    pub seeds: Vec<u64>,
    /// Services in file order, then clients.
    pub entities: Vec<AggregateEntity>,
    /// Logical requests entering from all clients, over all seeds.
    pub entry_requests: u64,
    /// Runs that had at least one fault with an impact.
    pub runs_impacted: u32,
    /// Impacted runs whose every fault ended with a recovery.
    pub runs_recovered: u32,
    /// Impacted runs where some fault's verdict was "did not recover".
    pub runs_not_recovered: u32,
    /// Sum and maximum, over faults that recovered, of the time to recover.
    pub recovery_ns_sum: u128,
    pub recoveries: u32,
    pub recovery_max: SimDuration,
    /// Sum and maximum of the blast radius (services and clients affected) per run.
    pub blast_radius_sum: u64,
    pub blast_radius_max: usize,
    /// Seeds whose run a limit stopped before the scenario's end: their figures are partial.
    pub incomplete_seeds: Vec<u64>,
    /// What the policies did, over every seed.
    pub activity: crate::activity::PolicyActivity,
    /// The scripted faults' `[from, to)` in seconds, of the first seed (the same in every
    /// seed unless a fault is random).
    pub faults_s: Vec<(f64, f64)>,
}

impl Aggregate {
    pub fn new(scenario: &str, window: SimDuration) -> Self {
        Aggregate {
            scenario: scenario.to_owned(),
            window,
            seeds: Vec::new(),
            entities: Vec::new(),
            entry_requests: 0,
            runs_impacted: 0,
            runs_recovered: 0,
            runs_not_recovered: 0,
            recovery_ns_sum: 0,
            recoveries: 0,
            recovery_max: SimDuration::ZERO,
            blast_radius_sum: 0,
            blast_radius_max: 0,
            incomplete_seeds: Vec::new(),
            activity: Default::default(),
            faults_s: Vec::new(),
        }
    }

    fn entity(&mut self, kind: EntityKind, name: &str) -> &mut AggregateEntity {
        let i = match self
            .entities
            .iter()
            .position(|e| e.kind == kind && e.name == name)
        {
            Some(i) => i,
            None => {
                self.entities.push(AggregateEntity {
                    kind,
                    name: name.to_owned(),
                    requests: 0,
                    ok: 0,
                    failed: 0,
                    attempts: 0,
                    latency: Histogram::new(),
                    windows: Vec::new(),
                    p99_windows: Vec::new(),
                    per_seed: Vec::new(),
                });
                self.entities.len() - 1
            }
        };
        &mut self.entities[i]
    }

    /// Folds one run in. Call in seed order.
    pub fn add(&mut self, result: &RunResult, analysis: &Analysis) {
        if self.seeds.is_empty() {
            self.faults_s = analysis
                .faults
                .iter()
                .map(|f| (f.from.as_secs_f64(), f.to.as_secs_f64()))
                .collect();
        }
        self.seeds.push(result.seed);
        self.activity.add(result);
        if !crate::common::is_complete(result) {
            self.incomplete_seeds.push(result.seed);
        }
        let seed = result.seed;
        let add_stats = |e: &mut AggregateEntity, stats: &models::metrics::OutcomeStats| {
            e.per_seed.push((
                seed,
                stats.availability(),
                stats.latency.quantile(0.99).as_millis_f64(),
            ));
            e.requests += stats.requests;
            e.ok += stats.ok;
            e.failed += stats.failed();
            e.latency.merge(&stats.latency);
            if e.windows.len() < stats.windows.len() {
                e.windows.resize(stats.windows.len(), (0, 0));
            }
            for (sum, w) in e.windows.iter_mut().zip(&stats.windows) {
                sum.0 += w.ok;
                sum.1 += w.failed();
            }
            if e.p99_windows.len() < stats.windows.len() {
                e.p99_windows.resize(stats.windows.len(), (0, 0));
            }
            for (sum, w) in e.p99_windows.iter_mut().zip(&stats.windows) {
                if w.ok > 0 {
                    sum.0 += u128::from(w.latency_ns_p99);
                    sum.1 += 1;
                }
            }
        };
        for s in &result.services {
            let e = self.entity(EntityKind::Service, &s.name);
            add_stats(e, &s.stats);
            e.attempts += s.stats.requests;
        }
        for c in &result.clients {
            let e = self.entity(EntityKind::Client, &c.name);
            add_stats(e, &c.stats);
            e.attempts += c.attempts;
            self.entry_requests += c.stats.requests;
        }
        let impacted: Vec<&Verdict> = analysis
            .faults
            .iter()
            .map(|f| &f.verdict)
            .filter(|v| !matches!(v, Verdict::NoImpact))
            .collect();
        if !impacted.is_empty() {
            self.runs_impacted += 1;
            if impacted
                .iter()
                .any(|v| matches!(v, Verdict::DidNotRecover { .. }))
            {
                self.runs_not_recovered += 1;
            } else if impacted
                .iter()
                .all(|v| matches!(v, Verdict::Recovered { .. }))
            {
                self.runs_recovered += 1;
            }
        }
        for f in &analysis.faults {
            if let (Verdict::Recovered { .. }, Some(t)) = (&f.verdict, f.time_to_recover) {
                self.recovery_ns_sum += u128::from(t.as_nanos());
                self.recoveries += 1;
                self.recovery_max = self.recovery_max.max(t);
            }
        }
        self.blast_radius_sum += analysis.blast_radius.len() as u64;
        self.blast_radius_max = self.blast_radius_max.max(analysis.blast_radius.len());
    }

    pub fn runs(&self) -> usize {
        self.seeds.len()
    }

    /// The warning about runs that a limit stopped early, shared by every format; `None` when
    /// every run reached its end.
    pub fn incomplete_sentence(&self) -> Option<String> {
        if self.incomplete_seeds.is_empty() {
            return None;
        }
        let seeds: Vec<String> = self
            .incomplete_seeds
            .iter()
            .take(10)
            .map(u64::to_string)
            .collect();
        Some(format!(
            "INCOMPLETE: {} of {} runs of {} stopped at a limit before the scenario's end (seeds \
             {}{}); their figures cover only part of it (raise limits.max_events)",
            self.incomplete_seeds.len(),
            self.runs(),
            self.scenario,
            seeds.join(", "),
            if self.incomplete_seeds.len() > seeds.len() {
                ", ..."
            } else {
                ""
            }
        ))
    }

    /// Mean time to recover over the faults that recovered.
    pub fn recovery_mean(&self) -> Option<SimDuration> {
        (self.recoveries > 0)
            .then(|| SimDuration((self.recovery_ns_sum / u128::from(self.recoveries)) as u64))
    }

    pub fn blast_radius_mean(&self) -> f64 {
        if self.seeds.is_empty() {
            0.0
        } else {
            self.blast_radius_sum as f64 / self.seeds.len() as f64
        }
    }

    /// Attempts per logical request entering the system, for a service or client.
    pub fn amplification(&self, e: &AggregateEntity) -> f64 {
        let base = match e.kind {
            EntityKind::Client => e.requests,
            _ => self.entry_requests,
        };
        if base == 0 {
            0.0
        } else {
            e.attempts as f64 / base as f64
        }
    }
}

/// Scenario A and scenario B over the same seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub a: Aggregate,
    pub b: Aggregate,
}

/// A row of the comparison: the same entity in A and B (either may lack it).
pub struct Pair<'a> {
    pub kind: EntityKind,
    pub name: &'a str,
    pub a: Option<&'a AggregateEntity>,
    pub b: Option<&'a AggregateEntity>,
}

impl Comparison {
    /// Entities of A in order, then those only in B.
    pub fn pairs(&self) -> Vec<Pair<'_>> {
        let find = |agg: &'_ Aggregate, kind, name: &str| {
            agg.entities
                .iter()
                .position(|e| e.kind == kind && e.name == name)
        };
        let mut out: Vec<Pair<'_>> = self
            .a
            .entities
            .iter()
            .map(|e| Pair {
                kind: e.kind,
                name: &e.name,
                a: Some(e),
                b: find(&self.b, e.kind, &e.name).map(|i| &self.b.entities[i]),
            })
            .collect();
        for e in &self.b.entities {
            if find(&self.a, e.kind, &e.name).is_none() {
                out.push(Pair {
                    kind: e.kind,
                    name: &e.name,
                    a: None,
                    b: Some(e),
                });
            }
        }
        out
    }
}

/// The differences B - A of one entity, paired by seed (the same seed drives the same arrivals
/// and faults in both, so pairing removes most of the noise the two share): availability in
/// percentage points and p99 in ms, each with its Student-t 95% interval.
pub struct PairedDelta {
    pub availability_pp: MetricAggregate,
    pub p99_ms: MetricAggregate,
}

impl Pair<'_> {
    /// The paired differences, when both sides have the entity and share seeds.
    pub fn paired(&self) -> Option<PairedDelta> {
        let (a, b) = (self.a?, self.b?);
        let mut availability = Vec::new();
        let mut p99 = Vec::new();
        // Both sides were folded in the same seed order, so they pair up in place.
        for (&(seed, avail_a, p99_a), &(seed_b, avail_b, p99_b)) in
            a.per_seed.iter().zip(&b.per_seed)
        {
            if seed == seed_b {
                availability.push((seed, (avail_b - avail_a) * 100.0));
                p99.push((seed, p99_b - p99_a));
            }
        }
        (!availability.is_empty()).then(|| PairedDelta {
            availability_pp: aggregate_metric("availability_pp", &availability),
            p99_ms: aggregate_metric("latency_ms_p99", &p99),
        })
    }
}

/// `± x` for an interval's half-width.
fn half_width(m: &MetricAggregate, decimals: usize) -> String {
    format!("±{:.decimals$}", finite((m.ci95.1 - m.ci95.0) / 2.0) + 0.0)
}

/// The verdict lines: per client, whether B's availability and p99 differ from A's beyond
/// the 95% interval of the paired differences.
pub fn verdicts(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    for p in c.pairs().iter().filter(|p| p.kind == EntityKind::Client) {
        let Some(d) = p.paired() else { continue };
        let n = d.availability_pp.n;
        let seeds = if n == 1 {
            "1 seed".to_owned()
        } else {
            format!("{n} seeds")
        };
        let a = &d.availability_pp;
        let half = (a.ci95.1 - a.ci95.0) / 2.0;
        let line = if n < 2 {
            format!(
                "{}: availability {} points with B on {seeds} (too few seeds for an interval)",
                p.name,
                signed(a.mean, 2)
            )
        } else if a.ci95.0 > 0.0 {
            format!(
                "B improves {} availability by {:.2} ± {half:.2} points over {seeds}",
                p.name, a.mean
            )
        } else if a.ci95.1 < 0.0 {
            format!(
                "B worsens {} availability by {:.2} ± {half:.2} points over {seeds}",
                p.name, -a.mean
            )
        } else {
            format!(
                "no clear difference in {} availability: {} ± {half:.2} points over {seeds}",
                p.name,
                signed(a.mean, 2)
            )
        };
        out.push(line);
        let l = &d.p99_ms;
        let half = (l.ci95.1 - l.ci95.0) / 2.0;
        if n >= 2 && l.ci95.1 < 0.0 {
            out.push(format!(
                "B lowers {} p99 by {:.3} ± {half:.3} ms over {seeds}",
                p.name, -l.mean
            ));
        } else if n >= 2 && l.ci95.0 > 0.0 {
            out.push(format!(
                "B raises {} p99 by {:.3} ± {half:.3} ms over {seeds}",
                p.name, l.mean
            ));
        }
    }
    out
}

fn signed(x: f64, decimals: usize) -> String {
    let x = finite(x) + 0.0;
    if x > 0.0 {
        format!("+{x:.decimals$}")
    } else {
        format!("{x:.decimals$}")
    }
}

fn p99_ms(e: &AggregateEntity) -> f64 {
    e.latency.quantile(0.99).as_millis_f64()
}

fn recovery_text(agg: &Aggregate) -> String {
    match agg.recovery_mean() {
        Some(mean) => format!("mean {mean}, max {}", agg.recovery_max),
        None if agg.runs_not_recovered > 0 => "never".into(),
        None => "-".into(),
    }
}

/// The comparison as plain text.
pub fn compare_text(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "faultline {} · compare A = {} with B = {} · {} seeds ({}..{})",
        env!("CARGO_PKG_VERSION"),
        c.a.scenario,
        c.b.scenario,
        c.a.runs(),
        c.a.seeds.first().copied().unwrap_or(0),
        c.a.seeds.last().copied().unwrap_or(0),
    );
    out.push('\n');
    let mut rows: Vec<[String; 9]> = vec![[
        "".into(),
        "avail % A".into(),
        "avail % B".into(),
        "delta pp".into(),
        "95% ci".into(),
        "p99 A".into(),
        "p99 B".into(),
        "ampl A".into(),
        "ampl B".into(),
    ]];
    for p in c.pairs() {
        let cell = |e: Option<&AggregateEntity>, f: &dyn Fn(&AggregateEntity) -> String| {
            e.map_or_else(|| "-".to_owned(), f)
        };
        rows.push([
            format!("{} {}", p.kind.as_str(), p.name),
            cell(p.a, &|e| percent(e.availability())),
            cell(p.b, &|e| percent(e.availability())),
            match (p.a, p.b) {
                (Some(a), Some(b)) => signed((b.availability() - a.availability()) * 100.0, 3),
                _ => "-".into(),
            },
            p.paired()
                .map_or_else(|| "-".into(), |d| half_width(&d.availability_pp, 3)),
            cell(p.a, &|e| fmt_ms(e.latency.quantile(0.99).as_nanos())),
            cell(p.b, &|e| fmt_ms(e.latency.quantile(0.99).as_nanos())),
            cell(p.a, &|e| format!("{:.3}", c.a.amplification(e))),
            cell(p.b, &|e| format!("{:.3}", c.b.amplification(e))),
        ]);
    }
    let mut widths = [0usize; 9];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in &rows {
        let mut line = String::new();
        for (i, (cell, &w)) in r.iter().zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(line, "{cell:<w$}");
            } else {
                let _ = write!(line, "  {cell:>w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    for line in verdicts(c) {
        let _ = writeln!(out, "verdict: {line}");
    }
    out.push_str(
        "(delta pp: pooled; 95% ci and verdicts: per-seed differences paired by seed)\n\n",
    );
    let activity = crate::activity::diff(&c.a.activity, &c.b.activity);
    if !activity.is_empty() {
        let width = activity.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let _ = writeln!(out, "policy activity over all seeds (A / B):");
        for (what, a, b) in &activity {
            let _ = writeln!(out, "  {what:<width$}  {a:>9} / {b}");
        }
        out.push('\n');
    }
    for (label, agg) in [("A", &c.a), ("B", &c.b)] {
        let _ = writeln!(
            out,
            "{label} {}: recovered in {} of {} impacted runs, did not recover in {}; recovery {}; blast radius mean {:.2}, max {}",
            agg.scenario,
            agg.runs_recovered,
            agg.runs_impacted,
            agg.runs_not_recovered,
            recovery_text(agg),
            agg.blast_radius_mean(),
            agg.blast_radius_max,
        );
    }
    for agg in [&c.a, &c.b] {
        if let Some(sentence) = agg.incomplete_sentence() {
            let _ = writeln!(out, "{sentence}");
        }
    }
    out
}

fn ratio(x: f64) -> Value {
    Value::from(finite(round_to(x, 6)) + 0.0)
}

fn ms3(x: f64) -> Value {
    Value::from(finite(round_to(x, 3)) + 0.0)
}

fn aggregate_json(agg: &Aggregate) -> Value {
    let mut m = Map::new();
    m.insert("scenario".into(), Value::from(agg.scenario.as_str()));
    m.insert("runs".into(), Value::from(agg.runs()));
    m.insert(
        "incomplete_runs".into(),
        Value::from(agg.incomplete_seeds.len()),
    );
    m.insert(
        "incomplete_seeds".into(),
        Value::Array(
            agg.incomplete_seeds
                .iter()
                .map(|&s| Value::from(s))
                .collect(),
        ),
    );
    m.insert("runs_impacted".into(), Value::from(agg.runs_impacted));
    m.insert("runs_recovered".into(), Value::from(agg.runs_recovered));
    m.insert(
        "runs_not_recovered".into(),
        Value::from(agg.runs_not_recovered),
    );
    m.insert(
        "time_to_recover_s_mean".into(),
        agg.recovery_mean()
            .map_or(Value::Null, |d| ratio(d.as_secs_f64())),
    );
    m.insert(
        "time_to_recover_s_max".into(),
        if agg.recoveries > 0 {
            ratio(agg.recovery_max.as_secs_f64())
        } else {
            Value::Null
        },
    );
    m.insert("blast_radius_mean".into(), ratio(agg.blast_radius_mean()));
    m.insert("blast_radius_max".into(), Value::from(agg.blast_radius_max));
    Value::Object(m)
}

fn side_json(agg: &Aggregate, e: &AggregateEntity) -> Value {
    let mut m = Map::new();
    m.insert("requests".into(), Value::from(e.requests));
    m.insert("ok".into(), Value::from(e.ok));
    m.insert("failed".into(), Value::from(e.failed));
    m.insert("availability".into(), ratio(e.availability()));
    m.insert(
        "latency_ms_p50".into(),
        ms3(e.latency.quantile(0.5).as_millis_f64()),
    );
    m.insert("latency_ms_p99".into(), ms3(p99_ms(e)));
    m.insert("amplification".into(), ratio(agg.amplification(e)));
    Value::Object(m)
}

/// The comparison as JSON: `a` and `b` summaries, and per entity (`services`, `clients`)
/// `a`, `b` and `delta` (B minus A: availability, latency_ms_p99, amplification).
pub fn compare_json(c: &Comparison) -> Value {
    let mut doc = Map::new();
    doc.insert(
        "faultline_version".into(),
        Value::from(env!("CARGO_PKG_VERSION")),
    );
    doc.insert("schema_version".into(), Value::from(crate::SCHEMA_VERSION));
    doc.insert(
        "seeds".into(),
        Value::Array(c.a.seeds.iter().map(|&s| Value::from(s)).collect()),
    );
    doc.insert("a".into(), aggregate_json(&c.a));
    doc.insert("b".into(), aggregate_json(&c.b));
    let mut services = Map::new();
    let mut clients = Map::new();
    for p in c.pairs() {
        let mut m = Map::new();
        m.insert("a".into(), p.a.map_or(Value::Null, |e| side_json(&c.a, e)));
        m.insert("b".into(), p.b.map_or(Value::Null, |e| side_json(&c.b, e)));
        let delta = match (p.a, p.b) {
            (Some(a), Some(b)) => {
                let mut d = Map::new();
                d.insert(
                    "availability".into(),
                    ratio(b.availability() - a.availability()),
                );
                d.insert("latency_ms_p99".into(), ms3(p99_ms(b) - p99_ms(a)));
                d.insert(
                    "amplification".into(),
                    ratio(c.b.amplification(b) - c.a.amplification(a)),
                );
                if let Some(paired) = p.paired() {
                    let interval = |m: &MetricAggregate, scale: f64, round: fn(f64) -> Value| {
                        Value::Array(vec![round(m.ci95.0 / scale), round(m.ci95.1 / scale)])
                    };
                    d.insert(
                        "availability_ci95".into(),
                        interval(&paired.availability_pp, 100.0, ratio),
                    );
                    d.insert(
                        "latency_ms_p99_ci95".into(),
                        interval(&paired.p99_ms, 1.0, ms3),
                    );
                }
                Value::Object(d)
            }
            _ => Value::Null,
        };
        m.insert("delta".into(), delta);
        let target = if p.kind == EntityKind::Client {
            &mut clients
        } else {
            &mut services
        };
        target.insert(p.name.to_owned(), Value::Object(m));
    }
    doc.insert("services".into(), Value::Object(services));
    doc.insert("clients".into(), Value::Object(clients));
    Value::Object(doc)
}

/// The comparison as Markdown for a pull-request comment.
pub fn compare_markdown(c: &Comparison) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### faultline · compare `{}` (A) with `{}` (B)\n",
        esc(&c.a.scenario),
        esc(&c.b.scenario)
    );
    let _ = writeln!(
        out,
        "{} seeds ({}..{}); deltas are B minus A.\n",
        c.a.runs(),
        c.a.seeds.first().copied().unwrap_or(0),
        c.a.seeds.last().copied().unwrap_or(0)
    );
    out.push_str(
        "| | avail % A | avail % B | delta pp | 95% ci | p99 A | p99 B | ampl A | ampl B |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for p in c.pairs() {
        let cell = |e: Option<&AggregateEntity>, f: &dyn Fn(&AggregateEntity) -> String| {
            e.map_or_else(|| "-".to_owned(), f)
        };
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            p.kind.as_str(),
            esc(p.name),
            cell(p.a, &|e| percent(e.availability())),
            cell(p.b, &|e| percent(e.availability())),
            match (p.a, p.b) {
                (Some(a), Some(b)) => signed((b.availability() - a.availability()) * 100.0, 3),
                _ => "-".into(),
            },
            p.paired()
                .map_or_else(|| "-".into(), |d| half_width(&d.availability_pp, 3)),
            cell(p.a, &|e| fmt_ms(e.latency.quantile(0.99).as_nanos())),
            cell(p.b, &|e| fmt_ms(e.latency.quantile(0.99).as_nanos())),
            cell(p.a, &|e| format!("{:.3}", c.a.amplification(e))),
            cell(p.b, &|e| format!("{:.3}", c.b.amplification(e))),
        );
    }
    out.push('\n');
    for line in verdicts(c) {
        let _ = writeln!(out, "- **{}**", esc(&line));
    }
    let activity = crate::activity::diff(&c.a.activity, &c.b.activity);
    if !activity.is_empty() {
        out.push_str("\n| policy activity, all seeds | A | B |\n|---|---:|---:|\n");
        for (what, a, b) in &activity {
            let _ = writeln!(out, "| {what} | {a} | {b} |");
        }
    }
    out.push_str("\n_delta pp is pooled over seeds; the 95% interval and the verdicts come from the per-seed differences, paired by seed._\n\n");
    out.push_str(
        "| | runs impacted | recovered | did not recover | recovery | blast radius mean | max |\n",
    );
    out.push_str("|---|---:|---:|---:|---|---:|---:|\n");
    for (label, agg) in [("A", &c.a), ("B", &c.b)] {
        let _ = writeln!(
            out,
            "| {label} `{}` | {} | {} | {} | {} | {:.2} | {} |",
            esc(&agg.scenario),
            agg.runs_impacted,
            agg.runs_recovered,
            agg.runs_not_recovered,
            recovery_text(agg),
            agg.blast_radius_mean(),
            agg.blast_radius_max
        );
    }
    for agg in [&c.a, &c.b] {
        if let Some(sentence) = agg.incomplete_sentence() {
            let _ = writeln!(out, "\n**{}**", esc(&sentence));
        }
    }
    out
}

/// [`compare_json`] pretty-printed, ending with a newline.
pub fn compare_json_string(c: &Comparison) -> String {
    let mut out = serde_json::to_string_pretty(&compare_json(c))
        .expect("a serde_json::Value with string keys always serialises");
    out.push('\n');
    out
}
