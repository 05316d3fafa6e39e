//! `faultline sweep`: every seed times every combination of parameter values, summarised per
//! run, aggregated per parameter point; shards and their merge give the same document.
//!
//! A sweep document holds the definition (scenario, its digest, seeds, parameters), the run
//! summaries sorted by run index, and, once every run is present, the aggregates. A shard's
//! partial document has the same layout with its shard and only its runs; merging all shards
//! of a definition yields byte for byte the document of the unsharded sweep.

use std::fmt::Write as _;

use models::RunResult;

use crate::analysis::{Analysis, Verdict};
use crate::common::round_to;

mod expect;
pub use expect::run_values;
mod formats;
pub use formats::CSV_METRIC_COLUMNS;
pub(crate) use formats::{metric_cells, number, seeds_cell};
mod json;
#[cfg(test)]
mod tests;
mod verify;

/// What a sweep runs. Two documents merge only if their definitions are equal.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// The scenario file as given on the command line (used in replay commands).
    pub scenario_path: String,
    pub scenario: String,
    /// A digest of the scenario file's bytes: a changed file does not merge or resume.
    pub digest: String,
    pub seeds: (u64, u64),
    /// `--set PATH=V1,V2,...`, in command-line order.
    pub sets: Vec<(String, Vec<String>)>,
    /// How the scenario's expectations are judged (empty: it has none); every run then keeps
    /// one value per expectation.
    pub expect: Vec<crate::check::Spec>,
}

/// The most seeds of one sweep, as `--seeds` allows.
pub const MAX_SEEDS: u64 = 10_000_000;

/// The most runs of one sweep document (seeds times points).
pub const MAX_RUNS: u64 = 1_000_000_000;

/// FNV-1a 64 of `bytes`, as 16 hex digits.
pub fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Definition {
    /// The seeds of the range, both ends included; [`check`](Self::check) has made sure the
    /// range is not reversed.
    pub fn seed_count(&self) -> u64 {
        assert!(self.seeds.0 <= self.seeds.1, "a checked definition");
        self.seeds.1 - self.seeds.0 + 1
    }

    /// Every combination of the parameter values, the first parameter varying slowest.
    pub fn points(&self) -> Vec<Vec<(String, String)>> {
        let mut points: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for (path, values) in &self.sets {
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((path.clone(), v.clone()));
                        q
                    })
                })
                .collect();
        }
        points
    }

    pub fn run_count(&self) -> u64 {
        self.points().len() as u64 * self.seed_count()
    }

    /// The parameter point and seed of run `index`: points in order, seeds in order within.
    pub fn run(&self, index: u64) -> (usize, u64) {
        let n = self.seed_count();
        ((index / n) as usize, self.seeds.0 + index % n)
    }

    /// The runs of shard `k` of `n` (1-based): every `n`th run starting at `k - 1`.
    pub fn shard_runs(&self, k: u32, n: u32) -> Vec<u64> {
        (u64::from(k - 1)..self.run_count())
            .step_by(n as usize)
            .collect()
    }

    /// `--set a=1 --set b=x`, to reproduce a point on the command line.
    pub fn point_flags(point: &[(String, String)]) -> String {
        point
            .iter()
            .map(|(p, v)| format!(" --set '{p}={v}'"))
            .collect()
    }

    /// `a=1, b=x`, or `(scenario as written)` for the only point of a sweep without `--set`.
    pub fn label(point: &[(String, String)]) -> String {
        if point.is_empty() {
            "(scenario as written)".into()
        } else {
            point
                .iter()
                .map(|(p, v)| format!("{p}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// The figures of one run that a sweep keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub index: u64,
    pub seed: u64,
    pub fingerprint: String,
    pub events: u64,
    /// Whether the run reached its end: false when a limit (`max_events`, ...) stopped it
    /// early, so its metrics describe only part of the scenario.
    pub complete: bool,
    /// `(name, value)` in a fixed order: per client availability, latency_ms_p99 and
    /// amplification; per service availability and latency_ms_p99; then `recovered` (1 when
    /// every fault with an impact recovered) and `blast_radius`.
    pub metrics: Vec<(String, f64)>,
    /// The scenario's expectations measured on this run alone, one per expectation of the
    /// definition (see [`expect`]).
    pub expect: Vec<f64>,
}

/// Keeps what a sweep needs of one run.
pub fn summarise(index: u64, result: &RunResult, analysis: &Analysis) -> RunSummary {
    let mut metrics = Vec::new();
    for c in &result.clients {
        metrics.push((
            format!("clients.{}.availability", c.name),
            c.stats.availability(),
        ));
        metrics.push((
            format!("clients.{}.latency_ms_p99", c.name),
            c.stats.latency.quantile(0.99).as_millis_f64(),
        ));
        metrics.push((
            format!("clients.{}.amplification", c.name),
            crate::common::amplification(c),
        ));
        // For read-modify-write users, who all start at 0: when the last one finished.
        metrics.push((
            format!("clients.{}.latency_ms_max", c.name),
            c.stats.latency.max().as_millis_f64(),
        ));
        let answered = c.stats.ok.max(1) as f64;
        metrics.push((
            format!("clients.{}.degraded", c.name),
            c.stats.degraded as f64 / answered,
        ));
    }
    for s in &result.services {
        metrics.push((
            format!("services.{}.availability", s.name),
            s.stats.availability(),
        ));
        metrics.push((
            format!("services.{}.latency_ms_p99", s.name),
            s.stats.latency.quantile(0.99).as_millis_f64(),
        ));
        metrics.push((
            format!("services.{}.attempts", s.name),
            s.stats.requests as f64,
        ));
        metrics.push((format!("services.{}.writes", s.name), s.writes as f64));
        metrics.push((
            format!("services.{}.duplicate_side_effects", s.name),
            s.duplicate_side_effects as f64,
        ));
    }
    let recovered = analysis
        .faults
        .iter()
        .all(|f| matches!(f.verdict, Verdict::NoImpact | Verdict::Recovered { .. }));
    metrics.push(("recovered".into(), if recovered { 1.0 } else { 0.0 }));
    metrics.push(("blast_radius".into(), analysis.blast_radius.len() as f64));
    // Rounded now, so a document read back from JSON aggregates to exactly the same numbers.
    for m in &mut metrics {
        m.1 = round_to(crate::common::finite(m.1), 9);
    }
    RunSummary {
        index,
        seed: result.seed,
        fingerprint: result.outcome.fingerprint.to_string(),
        events: result.outcome.events,
        complete: crate::common::is_complete(result),
        metrics,
        expect: Vec::new(),
    }
}

/// A sweep document: a shard's partial result or the whole sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub definition: Definition,
    /// `(k, n)` for a shard's partial document; `None` for the whole sweep.
    pub shard: Option<(u32, u32)>,
    /// Sorted by index, no duplicates.
    pub runs: Vec<RunSummary>,
}

/// Two-sided 95% quantiles of Student's t for 1..=30 degrees of freedom; 1.96 beyond.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// A parameter point (its `--set` values) and its metrics across seeds.
pub type PointAggregate = (Vec<(String, String)>, Vec<MetricAggregate>);

/// One metric at one parameter point, across seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricAggregate {
    pub name: String,
    pub n: usize,
    pub mean: f64,
    /// Standard error of the mean (sample standard deviation / sqrt(n)); 0 for one seed.
    pub std_error: f64,
    /// 95% confidence interval of the mean (Student's t).
    pub ci95: (f64, f64),
    pub min: (f64, u64),
    pub max: (f64, u64),
}

/// Mean, standard error, Student-t 95% interval, minimum and maximum of per-seed values, summed
/// in the order given (seed order); also `compare`'s and `tune`'s.
pub fn aggregate_metric(name: &str, values: &[(u64, f64)]) -> MetricAggregate {
    let n = values.len();
    // Sums in seed order: the same bits whatever the number of threads that made the runs.
    let mean = values.iter().map(|v| v.1).sum::<f64>() / n.max(1) as f64;
    let variance = if n > 1 {
        values.iter().map(|v| (v.1 - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let std_error = (variance / n.max(1) as f64).sqrt();
    let t = if n > 1 {
        T95.get(n - 2).copied().unwrap_or(1.96)
    } else {
        0.0
    };
    let mut min = (f64::INFINITY, 0);
    let mut max = (f64::NEG_INFINITY, 0);
    for &(seed, v) in values {
        if v < min.0 {
            min = (v, seed);
        }
        if v > max.0 {
            max = (v, seed);
        }
    }
    MetricAggregate {
        name: name.to_owned(),
        n,
        mean,
        std_error,
        ci95: (mean - t * std_error, mean + t * std_error),
        min,
        max,
    }
}

impl Document {
    /// Whether every run of the definition is present (after [`verify`](Self::verify): each
    /// index once, all in range).
    pub fn has_every_run(&self) -> bool {
        self.runs.len() as u64 == self.definition.run_count()
    }

    /// " · shard K/N: R runs done" for a shard's document, empty for a whole sweep: the
    /// headline suffix every format prints.
    pub fn shard_note(&self) -> String {
        match self.shard {
            Some((k, n)) => format!(" · shard {k}/{n}: {} runs done", self.runs.len()),
            None => String::new(),
        }
    }

    /// The runs that a limit stopped before their end.
    pub fn incomplete_runs(&self) -> impl Iterator<Item = &RunSummary> {
        self.runs.iter().filter(|r| !r.complete)
    }

    /// Per parameter point, per metric (matched by name), across its seeds (runs in index
    /// order).
    pub fn aggregates(&self) -> Vec<PointAggregate> {
        let n = self.definition.seed_count() as usize;
        self.definition
            .points()
            .into_iter()
            .enumerate()
            .map(|(p, point)| {
                let runs: Vec<&RunSummary> = self
                    .runs
                    .iter()
                    .filter(|r| self.definition.run(r.index).0 == p)
                    .collect();
                let names: Vec<String> = runs
                    .first()
                    .map(|r| r.metrics.iter().map(|m| m.0.clone()).collect())
                    .unwrap_or_default();
                let metrics = names
                    .iter()
                    .map(|name| {
                        let values: Vec<(u64, f64)> = runs
                            .iter()
                            .filter_map(|r| {
                                let m = r.metrics.iter().find(|m| &m.0 == name)?;
                                Some((r.seed, m.1))
                            })
                            .collect();
                        aggregate_metric(name, &values)
                    })
                    .collect();
                debug_assert!(runs.len() <= n);
                (point, metrics)
            })
            .collect()
    }

    /// The incomplete runs of one parameter point.
    fn incomplete_at<'a>(
        &'a self,
        point: &'a [(String, String)],
    ) -> impl Iterator<Item = &'a RunSummary> + 'a {
        let points = self.definition.points();
        let p = points.iter().position(|q| q == point);
        self.incomplete_runs()
            .filter(move |r| Some(self.definition.run(r.index).0) == p)
    }

    /// A readable summary: per point, the client metrics with mean, 95% interval, min and max,
    /// and the worst seeds with the command that reproduces each.
    pub fn text(&self) -> String {
        let d = &self.definition;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "faultline sweep · {} · seeds {}..{} · {} points x {} seeds = {} runs{}",
            d.scenario,
            d.seeds.0,
            d.seeds.1,
            d.points().len(),
            d.seed_count(),
            d.run_count(),
            self.shard_note()
        );
        let incomplete = self.incomplete_runs().count();
        if incomplete > 0 {
            let _ = writeln!(
                out,
                "INCOMPLETE: {incomplete} of {} runs stopped at a limit before their end; their \
                 metrics cover only part of the scenario (raise limits.max_events)",
                self.runs.len()
            );
        }
        if !self.has_every_run() {
            out.push_str("partial: aggregates appear once every shard is merged\n");
            return out;
        }
        let events: u64 = self.runs.iter().map(|r| r.events).sum();
        let _ = writeln!(out, "{events} events in all");
        for (point, metrics) in self.aggregates() {
            let _ = writeln!(out, "\n{}", Definition::label(&point));
            let width = metrics
                .iter()
                .map(|m| m.name.len())
                .max()
                .unwrap_or(0)
                .max(6);
            let _ = writeln!(
                out,
                "  {:<width$}  {:>12}  {:>25}  {:>22}  {:>22}",
                "metric", "mean", "95% interval", "min (seed)", "max (seed)"
            );
            for m in &metrics {
                let _ = writeln!(
                    out,
                    "  {:<width$}  {:>12.6}  {:>25}  {:>22}  {:>22}",
                    m.name,
                    m.mean,
                    format!("[{:.6}, {:.6}]", m.ci95.0, m.ci95.1),
                    format!("{:.6} ({})", m.min.0, m.min.1),
                    format!("{:.6} ({})", m.max.0, m.max.1),
                );
            }
            let cut: Vec<String> = self
                .incomplete_at(&point)
                .map(|r| r.seed.to_string())
                .collect();
            if !cut.is_empty() {
                let _ = writeln!(
                    out,
                    "  incomplete runs (stopped at a limit), seeds: {}",
                    cut.join(", ")
                );
            }
            // The worst seeds by the first client's availability, with their replays.
            if let Some(first) = metrics.iter().find(|m| m.name.ends_with(".availability")) {
                let p = d.points().iter().position(|q| q == &point).unwrap_or(0);
                let mut runs: Vec<&RunSummary> =
                    self.runs.iter().filter(|r| d.run(r.index).0 == p).collect();
                let value = |r: &RunSummary| {
                    r.metrics
                        .iter()
                        .find(|m| m.0 == first.name)
                        .map_or(1.0, |m| m.1)
                };
                runs.sort_by(|a, b| value(a).total_cmp(&value(b)).then(a.seed.cmp(&b.seed)));
                let _ = writeln!(out, "  worst seeds by {}:", first.name);
                for r in runs.iter().take(3) {
                    let _ = writeln!(
                        out,
                        "    seed {} ({:.6}): faultline replay {} --seed {}{}",
                        r.seed,
                        value(r),
                        d.scenario_path,
                        r.seed,
                        Definition::point_flags(&point)
                    );
                }
            }
        }
        out
    }
}
