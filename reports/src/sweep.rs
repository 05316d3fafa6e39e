//! `faultline sweep`: every seed times every combination of parameter values, summarised per
//! run, aggregated per parameter point; shards and their merge give the same document.
//!
//! A sweep document holds the definition (scenario, its digest, seeds, parameters), the run
//! summaries sorted by run index, and, once every run is present, the aggregates. A shard's
//! partial document has the same layout with its shard and only its runs; merging all shards
//! of a definition yields byte for byte the document of the unsharded sweep.

use std::fmt::Write as _;

use models::RunResult;
use serde_json::{Map, Value};

use crate::analysis::{Analysis, Verdict};
use crate::common::round_to;

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

    /// Refuses what no sweep writes: a reversed or huge seed range, a point count that does
    /// not fit, an empty value list.
    pub fn check(&self) -> Result<(), String> {
        let (first, last) = self.seeds;
        if last < first {
            return Err(format!(
                "seeds [{first}, {last}]: the last seed is below the first"
            ));
        }
        if last - first >= MAX_SEEDS {
            return Err(format!(
                "seeds [{first}, {last}]: more than {MAX_SEEDS} seeds"
            ));
        }
        let mut points: u64 = 1;
        for (path, values) in &self.sets {
            if values.is_empty() {
                return Err(format!("--set {path} has no values"));
            }
            points = points
                .checked_mul(values.len() as u64)
                .filter(|&p| p.saturating_mul(last - first + 1) <= MAX_RUNS)
                .ok_or_else(|| format!("more than {MAX_RUNS} runs"))?;
        }
        Ok(())
    }

    /// What differs between two definitions, in words, with each side's value.
    pub fn difference(&self, other: &Definition) -> Option<String> {
        let field = |name: &str, a: String, b: String| {
            (a != b).then(|| format!("the {name} differs ({a} vs {b})"))
        };
        let sets = |d: &Definition| {
            d.sets
                .iter()
                .map(|(p, vs)| format!("--set {p}={}", vs.join(",")))
                .collect::<Vec<_>>()
                .join(" ")
        };
        field(
            "scenario path",
            self.scenario_path.clone(),
            other.scenario_path.clone(),
        )
        .or_else(|| {
            field(
                "scenario name",
                self.scenario.clone(),
                other.scenario.clone(),
            )
        })
        .or_else(|| {
            field(
                "scenario file's digest (the file changed)",
                self.digest.clone(),
                other.digest.clone(),
            )
        })
        .or_else(|| {
            field(
                "seed range",
                format!("{}..{}", self.seeds.0, self.seeds.1),
                format!("{}..{}", other.seeds.0, other.seeds.1),
            )
        })
        .or_else(|| field("--set list", sets(self), sets(other)))
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

    fn label(point: &[(String, String)]) -> String {
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

fn aggregate_metric(name: &str, values: &[(u64, f64)]) -> MetricAggregate {
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

    /// The runs that a limit stopped before their end.
    pub fn incomplete_runs(&self) -> impl Iterator<Item = &RunSummary> {
        self.runs.iter().filter(|r| !r.complete)
    }

    /// Checks what a document read from a file claims: its definition, and for every run an
    /// index inside the sweep (and inside its shard), the seed that index runs, a fingerprint of
    /// 16 hexadecimal digits, metrics named once each and the same names as the other runs of
    /// its point. The runs must be sorted by index without duplicates.
    pub fn verify(&self) -> Result<(), String> {
        let d = &self.definition;
        d.check()?;
        if let Some((k, n)) = self.shard
            && (k == 0 || k > n)
        {
            return Err(format!("shard {k}/{n}: expected K/N with 1 <= K <= N"));
        }
        let count = d.run_count();
        let mut names_of_point: Vec<Option<(u64, Vec<&str>)>> = vec![None; d.points().len()];
        let mut previous: Option<u64> = None;
        for r in &self.runs {
            let run = format!("run {} (seed {})", r.index, r.seed);
            if previous == Some(r.index) {
                return Err(format!("run {} appears twice", r.index));
            }
            previous = Some(r.index);
            if r.index >= count {
                return Err(format!(
                    "{run}: the sweep has runs 0 to {}",
                    count.saturating_sub(1)
                ));
            }
            if let Some((k, n)) = self.shard
                && r.index % u64::from(n) != u64::from(k - 1)
            {
                return Err(format!("{run} is not a run of shard {k}/{n}"));
            }
            let (point, seed) = d.run(r.index);
            if r.seed != seed {
                return Err(format!("{run}: run {} has seed {seed}", r.index));
            }
            if r.fingerprint.len() != 16 || !r.fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "{run}: fingerprint \"{}\" is not 16 hexadecimal digits",
                    r.fingerprint
                ));
            }
            if r.metrics.is_empty() {
                return Err(format!("{run} has no metrics"));
            }
            let mut names: Vec<&str> = r.metrics.iter().map(|m| m.0.as_str()).collect();
            names.sort_unstable();
            if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
                return Err(format!("{run}: metric {} appears twice", twice[0]));
            }
            match &names_of_point[point] {
                None => names_of_point[point] = Some((r.index, names)),
                Some((other, expected)) if *expected != names => {
                    let missing = expected
                        .iter()
                        .find(|n| !names.contains(n))
                        .map(|n| format!("lacks {n}"))
                        .or_else(|| {
                            names
                                .iter()
                                .find(|n| !expected.contains(n))
                                .map(|n| format!("has {n}"))
                        })
                        .unwrap_or_default();
                    return Err(format!(
                        "{run}: its metrics differ from run {other}'s of the same point (it \
                         {missing})"
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
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

    /// Merges shards, each labelled by its file: the same definition, no run in two parts, and
    /// together every run of the sweep. Each part must have passed [`verify`](Self::verify).
    pub fn merge(parts: Vec<(String, Document)>) -> Result<Document, String> {
        let mut parts = parts.into_iter();
        let (first_label, first) = parts.next().ok_or("nothing to merge")?;
        let definition = first.definition.clone();
        // Where each run came from, to name both files of an overlap.
        let mut runs: Vec<(RunSummary, usize)> = first.runs.into_iter().map(|r| (r, 0)).collect();
        let mut labels = vec![first_label];
        for (label, p) in parts {
            if let Some(difference) = definition.difference(&p.definition) {
                return Err(format!(
                    "cannot merge {} with {label}: {difference}; the parts of one sweep share \
                     it",
                    labels[0]
                ));
            }
            labels.push(label);
            runs.extend(p.runs.into_iter().map(|r| (r, labels.len() - 1)));
        }
        runs.sort_by_key(|(r, _)| r.index);
        if let Some(w) = runs.windows(2).find(|w| w[0].0.index == w[1].0.index) {
            return Err(format!(
                "run {} (seed {}) is in both {} and {}; merge each shard once",
                w[0].0.index, w[0].0.seed, labels[w[0].1], labels[w[1].1]
            ));
        }
        let doc = Document {
            definition,
            shard: None,
            runs: runs.into_iter().map(|(r, _)| r).collect(),
        };
        if !doc.has_every_run() {
            let mut missing = Vec::new();
            let mut have = doc.runs.iter().map(|r| r.index).peekable();
            for i in 0..doc.definition.run_count() {
                if have.peek() == Some(&i) {
                    have.next();
                } else {
                    missing.push(i);
                }
            }
            let shown: Vec<String> = missing.iter().take(10).map(u64::to_string).collect();
            return Err(format!(
                "the parts hold {} of the sweep's {} runs; missing runs {}{} (a shard is missing \
                 or unfinished: resume it with its sweep command)",
                doc.runs.len(),
                doc.definition.run_count(),
                shown.join(", "),
                if missing.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ));
        }
        doc.verify()?;
        Ok(doc)
    }

    /// The document as pretty JSON ending with a newline. Aggregates are included when the
    /// document is complete.
    pub fn to_json(&self) -> String {
        let d = &self.definition;
        let mut def = Map::new();
        def.insert("scenario".into(), Value::from(d.scenario.as_str()));
        def.insert(
            "scenario_path".into(),
            Value::from(d.scenario_path.as_str()),
        );
        def.insert("digest".into(), Value::from(d.digest.as_str()));
        def.insert(
            "seeds".into(),
            Value::Array(vec![Value::from(d.seeds.0), Value::from(d.seeds.1)]),
        );
        def.insert(
            "sets".into(),
            Value::Array(
                d.sets
                    .iter()
                    .map(|(p, vs)| {
                        let mut m = Map::new();
                        m.insert("path".into(), Value::from(p.as_str()));
                        m.insert(
                            "values".into(),
                            Value::Array(vs.iter().map(|v| Value::from(v.as_str())).collect()),
                        );
                        Value::Object(m)
                    })
                    .collect(),
            ),
        );
        let mut doc = Map::new();
        doc.insert("faultline_sweep".into(), Value::from(1));
        doc.insert(
            "faultline_version".into(),
            Value::from(env!("CARGO_PKG_VERSION")),
        );
        doc.insert("definition".into(), Value::Object(def));
        doc.insert(
            "shard".into(),
            self.shard.map_or(Value::Null, |(k, n)| {
                Value::Array(vec![Value::from(k), Value::from(n)])
            }),
        );
        let runs: Vec<Value> = self
            .runs
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("index".into(), Value::from(r.index));
                m.insert("seed".into(), Value::from(r.seed));
                m.insert("fingerprint".into(), Value::from(r.fingerprint.as_str()));
                m.insert("events".into(), Value::from(r.events));
                m.insert("complete".into(), Value::from(r.complete));
                // An array keeps the metrics' order, which the aggregates follow.
                let metrics: Vec<Value> = r
                    .metrics
                    .iter()
                    .map(|(k, v)| Value::Array(vec![Value::from(k.as_str()), Value::from(*v)]))
                    .collect();
                m.insert("metrics".into(), Value::Array(metrics));
                Value::Object(m)
            })
            .collect();
        doc.insert("runs".into(), Value::Array(runs));
        doc.insert(
            "incomplete_runs".into(),
            Value::from(self.incomplete_runs().count()),
        );
        if self.has_every_run() {
            let points: Vec<Value> = self
                .aggregates()
                .iter()
                .map(|(point, metrics)| {
                    let mut m = Map::new();
                    m.insert("point".into(), Value::from(Definition::label(point)));
                    m.insert(
                        "incomplete_runs".into(),
                        Value::from(self.incomplete_at(point).count()),
                    );
                    let ms: Map<String, Value> = metrics
                        .iter()
                        .map(|a| {
                            let mut o = Map::new();
                            let num =
                                |x: f64| Value::from(round_to(crate::common::finite(x), 9) + 0.0);
                            o.insert("n".into(), Value::from(a.n));
                            o.insert("mean".into(), num(a.mean));
                            o.insert("std_error".into(), num(a.std_error));
                            o.insert(
                                "ci95".into(),
                                Value::Array(vec![num(a.ci95.0), num(a.ci95.1)]),
                            );
                            o.insert("min".into(), num(a.min.0));
                            o.insert("min_seed".into(), Value::from(a.min.1));
                            o.insert("max".into(), num(a.max.0));
                            o.insert("max_seed".into(), Value::from(a.max.1));
                            (a.name.clone(), Value::Object(o))
                        })
                        .collect();
                    m.insert("metrics".into(), Value::Object(ms));
                    Value::Object(m)
                })
                .collect();
            doc.insert("aggregates".into(), Value::Array(points));
        }
        let mut out = serde_json::to_string_pretty(&Value::Object(doc))
            .expect("a serde_json::Value with string keys always serialises");
        out.push('\n');
        out
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

    /// Reads a document written by [`to_json`](Self::to_json) and [`verify`](Self::verify)s
    /// it.
    pub fn from_json(text: &str) -> Result<Document, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if v.get("faultline_sweep") != Some(&Value::from(1)) {
            return Err("not a faultline sweep document".into());
        }
        let bad = |what: &str| format!("malformed sweep document: {what}");
        let def = v.get("definition").ok_or_else(|| bad("definition"))?;
        let text_of = |o: &Value, k: &str| {
            o.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(k))
        };
        let seeds = def
            .get("seeds")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("seeds"))?;
        let seed = |i: usize| {
            seeds
                .get(i)
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("seeds"))
        };
        let mut sets = Vec::new();
        for s in def
            .get("sets")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("sets"))?
        {
            let values = s
                .get("values")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("sets.values"))?
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("sets.values"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            sets.push((text_of(s, "path")?, values));
        }
        let definition = Definition {
            scenario_path: text_of(def, "scenario_path")?,
            scenario: text_of(def, "scenario")?,
            digest: text_of(def, "digest")?,
            seeds: (seed(0)?, seed(1)?),
            sets,
        };
        let shard = match v.get("shard") {
            Some(Value::Array(a)) => {
                let k = a
                    .first()
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("shard"))?;
                let n = a
                    .get(1)
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("shard"))?;
                let k = u32::try_from(k).map_err(|_| bad("shard"))?;
                let n = u32::try_from(n).map_err(|_| bad("shard"))?;
                Some((k, n))
            }
            _ => None,
        };
        let mut runs = Vec::new();
        for r in v
            .get("runs")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("runs"))?
        {
            let num = |k: &str| r.get(k).and_then(Value::as_u64).ok_or_else(|| bad(k));
            let metrics = r
                .get("metrics")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("metrics"))?
                .iter()
                .map(|m| {
                    let name = m
                        .get(0)
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("metric"))?;
                    let value = m
                        .get(1)
                        .and_then(Value::as_f64)
                        .ok_or_else(|| bad("metric"))?;
                    Ok((name.to_owned(), value))
                })
                .collect::<Result<Vec<_>, String>>()?;
            // Documents written before runs said whether they were complete had no such field.
            let complete = match r.get("complete") {
                None => true,
                Some(v) => v.as_bool().ok_or_else(|| bad("complete"))?,
            };
            runs.push(RunSummary {
                index: num("index")?,
                seed: num("seed")?,
                fingerprint: text_of(r, "fingerprint")?,
                events: num("events")?,
                complete,
                metrics,
            });
        }
        runs.sort_by_key(|r| r.index);
        let doc = Document {
            definition,
            shard,
            runs,
        };
        doc.verify()?;
        Ok(doc)
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
            match self.shard {
                Some((k, n)) => format!(" · shard {k}/{n}: {} runs done", self.runs.len()),
                None => String::new(),
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn definition() -> Definition {
        Definition {
            scenario_path: "s.ron".into(),
            scenario: "s".into(),
            digest: digest(b"x"),
            seeds: (3, 5),
            sets: vec![
                ("a".into(), vec!["1".into(), "2".into()]),
                ("b".into(), vec!["x".into(), "y".into()]),
            ],
        }
    }

    #[test]
    fn points_runs_and_shards_cover_everything_once() {
        let d = definition();
        assert_eq!(d.points().len(), 4);
        assert_eq!(
            d.points()[1],
            vec![("a".into(), "1".into()), ("b".into(), "y".into())]
        );
        assert_eq!(d.run_count(), 12);
        assert_eq!(d.run(0), (0, 3));
        assert_eq!(d.run(5), (1, 5));
        let mut all: Vec<u64> = (1..=3).flat_map(|k| d.shard_runs(k, 3)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn documents_round_trip_and_merge() {
        let d = definition();
        let run = |index: u64| RunSummary {
            index,
            seed: d.run(index).1,
            fingerprint: format!("{index:016x}"),
            events: 10 + index,
            complete: index != 4,
            metrics: vec![("clients.u.availability".into(), 0.5 + index as f64 / 100.0)],
        };
        let shards: Vec<Document> = (1..=2)
            .map(|k| Document {
                definition: d.clone(),
                shard: Some((k, 2)),
                runs: d.shard_runs(k, 2).into_iter().map(run).collect(),
            })
            .collect();
        let whole = Document {
            definition: d.clone(),
            shard: None,
            runs: (0..12).map(run).collect(),
        };
        for s in &shards {
            assert_eq!(&Document::from_json(&s.to_json()).unwrap(), s);
        }
        let labelled = |docs: &[Document]| -> Vec<(String, Document)> {
            docs.iter()
                .enumerate()
                .map(|(i, d)| (format!("part{i}.json"), d.clone()))
                .collect()
        };
        let merged = Document::merge(labelled(&shards)).unwrap();
        assert_eq!(merged.to_json(), whole.to_json());
        assert_eq!(merged.incomplete_runs().count(), 1);
        assert!(whole.to_json().contains("\"complete\": false"));
        let missing = Document::merge(labelled(&shards[..1])).unwrap_err();
        assert!(missing.contains("missing runs 1, 3, 5"), "{missing}");
        let overlap = Document::merge(labelled(&[shards[0].clone(), shards[0].clone()]));
        assert!(
            overlap
                .unwrap_err()
                .contains("is in both part0.json and part1.json"),
            "an overlap names both files"
        );
        let mut other = shards[1].clone();
        other.definition.digest = digest(b"y");
        let changed = Document::merge(labelled(&[shards[0].clone(), other])).unwrap_err();
        assert!(changed.contains("digest"), "{changed}");
        let mut moved = shards[1].clone();
        moved.definition.scenario_path = "./s.ron".into();
        let moved = Document::merge(labelled(&[shards[0].clone(), moved])).unwrap_err();
        assert!(
            moved.contains("scenario path differs (s.ron vs ./s.ron)"),
            "{moved}"
        );
    }

    /// Issue 13: every lie a part can tell is refused with what is wrong.
    #[test]
    fn documents_that_lie_are_refused() {
        let d = definition();
        let run = |index: u64| RunSummary {
            index,
            seed: d.run(index).1,
            fingerprint: format!("{index:016x}"),
            events: 1,
            complete: true,
            metrics: vec![("a".into(), 1.0), ("b".into(), 2.0)],
        };
        let doc = |runs: Vec<RunSummary>, shard| Document {
            definition: d.clone(),
            shard,
            runs,
        };
        let refused = |doc: Document, expected: &str| {
            let error = Document::from_json(&doc.to_json()).unwrap_err();
            assert!(error.contains(expected), "{error} lacks {expected}");
        };
        assert!(Document::from_json(&doc(vec![run(0), run(1)], None).to_json()).is_ok());
        let mut index = run(2);
        index.index = 99;
        refused(
            doc(vec![run(0), index], None),
            "run 99 (seed 5): the sweep has runs 0 to 11",
        );
        let mut seed = run(2);
        seed.seed = 3;
        refused(doc(vec![seed], None), "run 2 has seed 5");
        refused(doc(vec![run(1)], Some((1, 2))), "not a run of shard 1/2");
        let mut empty = run(0);
        empty.metrics.clear();
        refused(doc(vec![empty], None), "run 0 (seed 3) has no metrics");
        let mut renamed = run(1);
        renamed.metrics[1].0 = "c".into();
        refused(doc(vec![run(0), renamed], None), "it lacks b");
        let mut fingerprint = run(0);
        fingerprint.fingerprint = "zz".into();
        refused(doc(vec![fingerprint], None), "not 16 hexadecimal digits");
        let mut reversed: Value = serde_json::from_str(&doc(vec![], None).to_json()).unwrap();
        reversed["definition"]["seeds"] = serde_json::json!([6, 1]);
        let error = Document::from_json(&reversed.to_string()).unwrap_err();
        assert!(
            error.contains("the last seed is below the first"),
            "{error}"
        );
    }

    /// Issue 13: metrics are matched by name, not by position.
    #[test]
    fn aggregates_match_metrics_by_name() {
        let mut d = definition();
        d.sets.clear();
        let mut first = RunSummary {
            index: 0,
            seed: 3,
            fingerprint: "0".repeat(16),
            events: 1,
            complete: true,
            metrics: vec![("a".into(), 1.0), ("b".into(), 10.0)],
        };
        let mut second = first.clone();
        second.index = 1;
        second.seed = 4;
        second.metrics = vec![("b".into(), 20.0), ("a".into(), 3.0)];
        let mut third = first.clone();
        third.index = 2;
        third.seed = 5;
        first.metrics[0].1 = 2.0;
        let doc = Document {
            definition: d,
            shard: None,
            runs: vec![first, second, third],
        };
        doc.verify().unwrap();
        let aggregates = doc.aggregates();
        let a = &aggregates[0].1;
        assert_eq!(a[0].name, "a");
        assert_eq!(a[0].mean, 2.0);
        assert_eq!(a[1].name, "b");
        assert_eq!(a[1].mean, 40.0 / 3.0);
    }

    #[test]
    fn aggregate_uses_student_t() {
        let a = aggregate_metric("m", &[(1, 1.0), (2, 2.0), (3, 3.0)]);
        assert_eq!(a.mean, 2.0);
        assert!((a.std_error - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((a.ci95.1 - (2.0 + 4.303 * a.std_error)).abs() < 1e-12);
        assert_eq!(a.min, (1.0, 1));
        assert_eq!(a.max, (3.0, 3));
    }
}
