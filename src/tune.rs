//! `faultline tune`: search a space of `--set` values for the cheapest settings that meet the
//! scenario's `expect`. A small space is searched whole (grid); a large one by seeded random
//! sampling and successive halving across seeds (Jamieson and Talwalkar, 2016): every sampled
//! point runs on a few seeds, the better half goes on with twice the seeds, until the last
//! ones run on them all. Every evaluated point is recorded. Runs are folded in (point, seed)
//! order, so nothing depends on `--jobs`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use reports::check::Evaluator;
use reports::sweep::{MetricAggregate, aggregate_metric};
use serde_json::{Value, json};
use sim_core::RngStreams;

use crate::Seeds;
use crate::runs::{self, RunId, Workers};

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum TuneFormat {
    Text,
    Json,
    Md,
    /// One self-contained page with the scatter of cost against availability.
    Html,
}

/// The command line; `None` (and no `--param`) takes the file's `tune` section, then the
/// defaults.
pub struct TuneArgs<'a> {
    pub scenario: &'a Path,
    pub params: &'a [String],
    pub cost: Option<&'a str>,
    pub seeds: Option<Seeds>,
    pub grid_max: Option<usize>,
    pub samples: Option<usize>,
    pub search_seed: Option<u64>,
    pub jobs: Option<usize>,
    pub format: TuneFormat,
    pub out: Option<&'a Path>,
    /// Run only part K of N of the search's runs and print that part (JSON).
    pub shard: Option<(u32, u32)>,
    /// Fold the parts written by `--shard` instead of running.
    pub merge: &'a [std::path::PathBuf],
}

/// A parameter: a `--set` path and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub path: String,
    pub values: Vec<String>,
}

/// The most runs one search may ask for: a bound for a mistyped flag.
const MAX_RUNS: u64 = 10_000_000;

/// The most values one integer range may expand to.
const MAX_RANGE: i64 = 10_000;

/// `PATH=V1,V2,...` or `PATH=A..B` (whole numbers, both ends included).
pub fn parse_param(text: &str) -> Result<Param> {
    let (path, values) = crate::sweep::parse_set(text)?;
    if let [one] = values.as_slice()
        && let Some((a, b)) = one.split_once("..")
        && let (Ok(a), Ok(b)) = (a.trim().parse::<i64>(), b.trim().parse::<i64>())
    {
        if b < a || b - a >= MAX_RANGE {
            bail!("--param {text}: expected A..B with A <= B and at most {MAX_RANGE} values");
        }
        return Ok(Param {
            path,
            values: (a..=b).map(|v| v.to_string()).collect(),
        });
    }
    Ok(Param { path, values })
}

/// What a cost term counts, per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Workers of every service, over all replicas: capacity paid for.
    Workers,
    /// Replicas of every service.
    Replicas,
    /// Attempts per client request (retries and hedges cost load).
    Attempts,
    /// Share of answers that were fallbacks.
    Degraded,
    /// The worst client's p99 latency in milliseconds.
    P99,
    /// One minus the worst client's availability.
    Unavailability,
}

const METRICS: [(&str, Metric); 6] = [
    ("workers", Metric::Workers),
    ("replicas", Metric::Replicas),
    ("attempts", Metric::Attempts),
    ("degraded", Metric::Degraded),
    ("p99_ms", Metric::P99),
    ("unavailability", Metric::Unavailability),
];

/// `workers + 10*attempts`: a weighted sum of metrics.
pub fn parse_cost(text: &str) -> Result<Vec<(f64, Metric)>> {
    let names: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
    text.split('+')
        .map(|term| {
            let term = term.trim();
            let (weight, name) = match term.split_once('*') {
                Some((w, n)) => (
                    w.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|w| w.is_finite() && *w >= 0.0),
                    n.trim(),
                ),
                None => (Some(1.0), term),
            };
            let metric = METRICS.iter().find(|m| m.0 == name).map(|m| m.1);
            match (weight, metric) {
                (Some(w), Some(m)) => Ok((w, m)),
                _ => bail!(
                    "--cost {text}: \"{term}\" is not WEIGHT*METRIC; metrics: {}",
                    names.join(", ")
                ),
            }
        })
        .collect()
}

/// What one run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunMetrics {
    availability: f64,
    p99_ms: f64,
    cost: f64,
}

fn measure(
    config: &models::config::WorldConfig,
    result: &models::RunResult,
    cost: &[(f64, Metric)],
) -> RunMetrics {
    let clients = &result.clients;
    let availability = clients
        .iter()
        .filter(|c| c.stats.requests > 0)
        .map(|c| c.stats.ok as f64 / c.stats.requests as f64)
        .fold(1.0, f64::min);
    let p99_ms = clients
        .iter()
        .map(|c| c.stats.latency.quantile(0.99).as_millis_f64())
        .fold(0.0, f64::max);
    let requests: u64 = clients.iter().map(|c| c.stats.requests).sum();
    let per_request = |n: u64| {
        if requests == 0 {
            0.0
        } else {
            n as f64 / requests as f64
        }
    };
    let value = |m: Metric| match m {
        Metric::Workers => config
            .services
            .iter()
            .map(|s| f64::from(s.workers) * s.replicas.len() as f64)
            .sum(),
        Metric::Replicas => config
            .services
            .iter()
            .map(|s| s.replicas.len() as f64)
            .sum(),
        Metric::Attempts => per_request(clients.iter().map(|c| c.attempts).sum()),
        Metric::Degraded => per_request(clients.iter().map(|c| c.stats.degraded).sum()),
        Metric::P99 => p99_ms,
        Metric::Unavailability => 1.0 - availability,
    };
    RunMetrics {
        availability,
        p99_ms,
        cost: cost.iter().map(|&(w, m)| w * value(m)).sum(),
    }
}

/// One point of the space and what its runs so far measured.
#[derive(Clone, Debug)]
pub struct Evaluated {
    pub index: u64,
    pub settings: Vec<(String, String)>,
    /// Why the point does not load, if it does not.
    pub invalid: Option<String>,
    /// Per seed, in seed order.
    runs: Vec<(u64, RunMetrics)>,
    /// The expectations failed over the seeds run so far.
    pub failed: Vec<String>,
    pub incomplete: usize,
}

impl Evaluated {
    pub fn feasible(&self) -> bool {
        self.invalid.is_none() && self.failed.is_empty() && self.incomplete == 0
    }

    fn metric(&self, name: &str, f: impl Fn(&RunMetrics) -> f64) -> MetricAggregate {
        let values: Vec<(u64, f64)> = self.runs.iter().map(|(s, m)| (*s, f(m))).collect();
        aggregate_metric(name, &values)
    }

    pub fn cost(&self) -> MetricAggregate {
        self.metric("cost", |m| m.cost)
    }

    pub fn availability(&self) -> MetricAggregate {
        self.metric("availability", |m| m.availability)
    }

    pub fn p99(&self) -> MetricAggregate {
        self.metric("p99_ms", |m| m.p99_ms)
    }

    /// Feasible first, then cheaper, then the lower index: the order of the search.
    fn rank_key(&self) -> (bool, f64, u64) {
        (!self.feasible(), self.cost().mean, self.index)
    }
}

fn by_rank(a: &Evaluated, b: &Evaluated) -> std::cmp::Ordering {
    let (ka, kb) = (a.rank_key(), b.rank_key());
    ka.0.cmp(&kb.0)
        .then(ka.1.total_cmp(&kb.1))
        .then(ka.2.cmp(&kb.2))
}

/// The settings of point `index`: mixed radix, the first parameter slowest (as `sweep`).
pub fn settings_of(params: &[Param], mut index: u64) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), String::new()); params.len()];
    for (i, p) in params.iter().enumerate().rev() {
        let n = p.values.len() as u64;
        out[i] = (p.path.clone(), p.values[(index % n) as usize].clone());
        index /= n;
    }
    out
}

/// `count` distinct indices below `size`, drawn from the search's own stream, sorted.
pub fn sample(size: u64, count: usize, search_seed: u64) -> Vec<u64> {
    if count as u64 >= size {
        return (0..size).collect();
    }
    let mut rng = RngStreams::new(search_seed).stream(&["tune", "sample"]);
    let mut chosen = std::collections::BTreeSet::new();
    while chosen.len() < count {
        chosen.insert(rng.below_inclusive(size - 1));
    }
    chosen.into_iter().collect()
}

/// The rungs of successive halving: how many seeds each rung's points have run, doubling up
/// to all of them, as many rungs as halvings bring `points` down to one.
pub fn rungs(points: usize, seeds: usize) -> Vec<usize> {
    let halvings = usize::BITS - points.max(1).leading_zeros() - 1;
    let mut first = seeds >> halvings;
    first = first.max(1);
    let mut out = vec![first];
    while *out.last().expect("one rung") < seeds {
        out.push((out.last().expect("one rung") * 2).min(seeds));
    }
    out
}

/// The points no other beats on availability, p99 and cost at once, cheapest first. After
/// successive halving, points dropped early count with their fewer seeds (the table says how
/// many).
pub fn pareto<'a>(points: &[&'a Evaluated]) -> Vec<&'a Evaluated> {
    let key = |e: &Evaluated| (e.availability().mean, e.p99().mean, e.cost().mean);
    let mut front: Vec<&Evaluated> = points
        .iter()
        .copied()
        .filter(|p| p.invalid.is_none())
        .filter(|p| {
            let (a, l, c) = key(p);
            !points.iter().any(|q| {
                let (qa, ql, qc) = key(q);
                q.invalid.is_none() && qa >= a && ql <= l && qc <= c && (qa > a || ql < l || qc < c)
            })
        })
        .collect();
    front.sort_by(|a, b| {
        a.cost()
            .mean
            .total_cmp(&b.cost().mean)
            .then(a.index.cmp(&b.index))
    });
    front
}

/// One run of one point, as the search folds it (and as a shard's part records it).
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    metrics: RunMetrics,
    complete: bool,
    /// The scenario's expectations measured on this run alone, one per expectation.
    values: Vec<f64>,
}

impl RunRecord {
    pub fn new(
        availability: f64,
        p99_ms: f64,
        cost: f64,
        complete: bool,
        values: Vec<f64>,
    ) -> Self {
        RunRecord {
            metrics: RunMetrics {
                availability,
                p99_ms,
                cost,
            },
            complete,
            values,
        }
    }

    /// `(availability, p99_ms, cost)`.
    pub fn figures(&self) -> (f64, f64, f64) {
        (
            self.metrics.availability,
            self.metrics.p99_ms,
            self.metrics.cost,
        )
    }

    pub fn complete(&self) -> bool {
        self.complete
    }

    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// The whole search before any run: the points, their configurations and the rungs.
pub struct Space {
    pub scenario: String,
    pub params: Vec<Param>,
    pub cost_text: String,
    cost: Vec<(f64, Metric)>,
    pub seeds: Vec<u64>,
    pub settings: crate::tune_shard::Settings,
    pub grid: bool,
    pub size: u64,
    pub plan: Vec<usize>,
    pub points: Vec<Evaluated>,
    configs: Vec<Option<models::config::WorldConfig>>,
    expect: Vec<scenarios::spec::Expectation>,
}

impl Space {
    /// Every run a shard may be given: each loadable point on every seed, in (point, seed)
    /// order. Successive halving runs a subset of these; which one depends on every point's
    /// results, so shards run them all and the merge folds only the ones halving keeps.
    pub fn all_runs(&self) -> Vec<(usize, u64)> {
        (0..self.points.len())
            .filter(|&p| self.configs[p].is_some())
            .flat_map(|p| self.seeds.iter().map(move |&s| (p, s)))
            .collect()
    }

    /// Runs point `p` (its position among the points) on `seed`.
    pub fn simulate(&self, scenario: &Path, p: usize, seed: u64) -> RunRecord {
        let config = self.configs[p].as_ref().expect("a valid point");
        let run = RunId {
            scenario: scenario.to_owned(),
            seed,
            sets: self.points[p].settings.clone(),
            max_events: None,
        };
        let (result, analysis) = runs::simulate(run, config);
        let metrics = measure(config, &result, &self.cost);
        let mut one = Evaluator::new(&self.expect);
        one.add(&result, &analysis);
        RunRecord {
            metrics,
            complete: reports::is_complete(&result),
            values: one.finish().iter().map(|r| r.measured).collect(),
        }
    }
}

/// Reads the scenario and lays out the search: flags over the file's `tune` section.
pub fn space(args: &TuneArgs) -> Result<Space> {
    let base = scenarios::load(args.scenario)?;
    crate::print_warnings(&base.warnings);
    let settings = crate::tune_shard::Settings::resolve(args, base.scenario.tune.as_ref())?;
    if settings.params.is_empty() {
        bail!(
            "tune needs at least one --param PATH=V1,V2,... or PATH=A..B, or a `tune: (params: \
             [...])` section in {}",
            args.scenario.display()
        );
    }
    let params = settings
        .params
        .iter()
        .map(|p| parse_param(p))
        .collect::<Result<Vec<_>>>()?;
    let cost = parse_cost(&settings.cost)?;
    let size = params
        .iter()
        .try_fold(1u64, |n, p| n.checked_mul(p.values.len() as u64))
        .filter(|&n| n <= 1 << 40)
        .ok_or_else(|| anyhow::anyhow!("the parameter space is too large"))?;
    if base.scenario.expect.is_empty() {
        bail!(
            "{} has no `expect`: tune minimises the cost subject to the expectations",
            args.scenario.display()
        );
    }
    let seeds: Vec<u64> = (settings.seeds.first..=settings.seeds.last).collect();
    let grid = size <= settings.grid_max as u64;
    let points_run = if grid { size } else { settings.samples as u64 };
    if points_run.saturating_mul(seeds.len() as u64) > MAX_RUNS {
        bail!(
            "{points_run} points times {} seeds is more than {MAX_RUNS} runs; lower --grid-max, \
             --samples or the seeds",
            seeds.len()
        );
    }
    let indices: Vec<u64> = if grid {
        (0..size).collect()
    } else {
        sample(size, settings.samples.max(1), settings.search_seed)
    };
    let mut points: Vec<Evaluated> = Vec::new();
    let mut configs = Vec::new();
    for &index in &indices {
        let point_settings = settings_of(&params, index);
        let (invalid, config) = match scenarios::load_with(args.scenario, &point_settings) {
            Ok(l) => (None, Some(l.config)),
            Err(e) => (Some(e.to_string()), None),
        };
        points.push(Evaluated {
            index,
            settings: point_settings,
            invalid,
            runs: Vec::new(),
            failed: Vec::new(),
            incomplete: 0,
        });
        configs.push(config);
    }
    let plan = if grid {
        vec![seeds.len()]
    } else {
        rungs(points.len(), seeds.len())
    };
    Ok(Space {
        scenario: base.config.name.clone(),
        params,
        cost_text: settings.cost.clone(),
        cost,
        seeds,
        settings,
        grid,
        size,
        plan,
        points,
        configs,
        expect: base.scenario.expect.clone(),
    })
}

pub fn tune(args: TuneArgs) -> Result<ExitCode> {
    if args.shard.is_some() && !args.merge.is_empty() {
        bail!("--shard runs one part of a search and --merge joins the parts: give one of them");
    }
    if let Some(out) = args.out {
        crate::refuse_to_overwrite(out, args.scenario)?;
    }
    let mut space = space(&args)?;
    let target = args
        .out
        .map(|p| crate::files::Target::claim(p, "--out"))
        .transpose()?;
    let workers = Workers::new(args.jobs)?;
    if let Some(shard) = args.shard {
        let part = crate::tune_shard::run_shard(&args, &space, shard, &workers)?;
        crate::emit(&part, target.as_ref())?;
        return Ok(ExitCode::SUCCESS);
    }
    let recorded = if args.merge.is_empty() {
        None
    } else {
        Some(crate::tune_shard::read_parts(&args, &space)?)
    };
    let plan = space.plan.clone();
    let mut alive: Vec<usize> = (0..space.points.len()).collect();
    let mut evaluators: Vec<Evaluator> = space
        .points
        .iter()
        .map(|_| Evaluator::new(&space.expect))
        .collect();
    let mut done_seeds = 0;
    for (rung, &n) in plan.iter().enumerate() {
        let items: Vec<(usize, u64)> = alive
            .iter()
            .filter(|&&p| space.configs[p].is_some())
            .flat_map(|&p| space.seeds[done_seeds..n].iter().map(move |&s| (p, s)))
            .collect();
        let records: Vec<RunRecord> = match &recorded {
            Some(runs) => items
                .iter()
                .map(|key| {
                    runs.get(key)
                        .cloned()
                        .expect("read_parts checked every run")
                })
                .collect(),
            None => workers
                .in_order(&items, |&(p, seed)| space.simulate(args.scenario, p, seed))
                .flatten()
                .collect(),
        };
        // Folded in (point, seed) order.
        for (&(p, seed), record) in items.iter().zip(records) {
            let point = &mut space.points[p];
            point.runs.push((seed, record.metrics));
            if !record.complete {
                point.incomplete += 1;
            }
            evaluators[p].add_values(seed, &record.values);
        }
        for &p in &alive {
            space.points[p].failed = evaluators[p]
                .clone()
                .finish()
                .into_iter()
                .filter(|r| !r.passed)
                .map(|r| r.label)
                .collect();
        }
        done_seeds = n;
        if rung + 1 < plan.len() {
            let mut order = alive.clone();
            order.sort_by(|&a, &b| by_rank(&space.points[a], &space.points[b]));
            order.truncate(alive.len().div_ceil(2));
            order.sort_unstable();
            alive = order;
        }
    }
    let finalists: Vec<&Evaluated> = alive.iter().map(|&p| &space.points[p]).collect();
    let report = Report {
        scenario: &space.scenario,
        params: &space.params,
        cost: &space.cost_text,
        seeds: space.settings.seeds,
        grid: space.grid,
        size: space.size,
        rungs: &plan,
        points: &space.points,
        finalists,
    };
    let text = match args.format {
        TuneFormat::Text => report.text(),
        TuneFormat::Json => report.json(),
        TuneFormat::Md => report.markdown(),
        TuneFormat::Html => crate::tune_html::html(&report),
    };
    crate::emit(&text, target.as_ref())?;
    Ok(ExitCode::SUCCESS)
}

/// The search's result, for the three formats.
pub struct Report<'a> {
    pub scenario: &'a str,
    pub params: &'a [Param],
    pub cost: &'a str,
    pub seeds: Seeds,
    pub grid: bool,
    pub size: u64,
    pub rungs: &'a [usize],
    pub points: &'a [Evaluated],
    /// The points run on every seed.
    pub finalists: Vec<&'a Evaluated>,
}

/// `--set 'PATH=V' ...`, quoted for a POSIX shell.
pub fn set_line(settings: &[(String, String)]) -> String {
    settings
        .iter()
        .map(|(p, v)| format!("--set '{}'", format!("{p}={v}").replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn ci(m: &MetricAggregate, decimals: usize) -> String {
    format!(
        "{:.*} (95% CI {:.*}..{:.*})",
        decimals, m.mean, decimals, m.ci95.0, decimals, m.ci95.1
    )
}

impl Report<'_> {
    fn best(&self) -> Option<&Evaluated> {
        let mut f: Vec<&Evaluated> = self
            .finalists
            .iter()
            .copied()
            .filter(|e| e.feasible())
            .collect();
        f.sort_by(|a, b| by_rank(a, b));
        f.first().copied()
    }

    fn headline(&self) -> String {
        let method = if self.grid {
            format!("grid of {} points", self.size)
        } else {
            format!(
                "{} of {} points sampled, successive halving over {} seeds per rung",
                self.points.len(),
                self.size,
                self.rungs
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!(
            "tune {}: {method}; seeds {}..{}; cost = {}",
            self.scenario, self.seeds.first, self.seeds.last, self.cost
        )
    }

    fn best_lines(&self) -> Vec<String> {
        match self.best() {
            None => {
                vec!["no point meets every expectation on every seed; widen the domains".to_owned()]
            }
            Some(b) => vec![
                format!("best: {}", set_line(&b.settings)),
                format!("  cost {}", ci(&b.cost(), 4)),
                format!("  availability {}", ci(&b.availability(), 6)),
                format!("  p99 {} ms", ci(&b.p99(), 3)),
                format!("  every expectation met on {} seeds", b.runs.len()),
            ],
        }
    }

    fn row(e: &Evaluated) -> [String; 6] {
        let settings = e
            .settings
            .iter()
            .map(|(p, v)| format!("{p}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(why) = &e.invalid {
            let first = why.lines().next().unwrap_or("");
            return [
                settings,
                "0".into(),
                format!("invalid: {first}"),
                "-".into(),
                "-".into(),
                "-".into(),
            ];
        }
        [
            settings,
            e.runs.len().to_string(),
            if e.feasible() {
                "meets".into()
            } else if e.incomplete > 0 {
                "incomplete runs".into()
            } else {
                format!("fails {}", e.failed.join("; "))
            },
            format!("{:.4}", e.cost().mean),
            format!("{:.6}", e.availability().mean),
            format!("{:.3}", e.p99().mean),
        ]
    }

    const HEADER: [&'static str; 6] = [
        "settings",
        "seeds",
        "expectations",
        "cost",
        "availability",
        "p99 ms",
    ];

    fn table(rows: &[[String; 6]]) -> String {
        let mut widths = Self::HEADER.map(str::len);
        for r in rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let header = Self::HEADER.map(str::to_owned);
        for r in std::iter::once(&header).chain(rows) {
            let mut line = String::from("  ");
            for (c, w) in r.iter().zip(widths) {
                let _ = write!(line, "{c:<w$}  ");
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }

    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.headline());
        for l in self.best_lines() {
            let _ = writeln!(out, "{l}");
        }
        let all: Vec<&Evaluated> = self.points.iter().collect();
        let front: Vec<[String; 6]> = pareto(&all).into_iter().map(Self::row).collect();
        let _ = writeln!(
            out,
            "Pareto front (availability, p99, cost), cheapest first:"
        );
        out.push_str(&Self::table(&front));
        let _ = writeln!(out, "every point evaluated ({}):", self.points.len());
        let rows: Vec<[String; 6]> = self.points.iter().map(Self::row).collect();
        out.push_str(&Self::table(&rows));
        out
    }

    pub fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = format!("### {}\n\n", esc(&self.headline()));
        for l in self.best_lines() {
            let _ = writeln!(out, "{}  ", esc(l.trim()));
        }
        let table = |out: &mut String, rows: Vec<[String; 6]>| {
            let _ = writeln!(out, "\n| {} |", Self::HEADER.join(" | "));
            let _ = writeln!(out, "|{}", "---|".repeat(6));
            for r in rows {
                let cells: Vec<String> = r.iter().map(|c| esc(c)).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        };
        let _ = writeln!(out, "\n**Pareto front** (availability, p99, cost):");
        let all: Vec<&Evaluated> = self.points.iter().collect();
        table(&mut out, pareto(&all).into_iter().map(Self::row).collect());
        let _ = writeln!(out, "\n**Every point evaluated**:");
        table(&mut out, self.points.iter().map(Self::row).collect());
        out
    }

    pub fn json(&self) -> String {
        let agg =
            |m: MetricAggregate| json!({"mean": m.mean, "ci95": [m.ci95.0, m.ci95.1], "n": m.n});
        let point = |e: &Evaluated| {
            json!({
                "index": e.index,
                "settings": e.settings.iter().map(|(p, v)| json!([p, v])).collect::<Vec<_>>(),
                "set": set_line(&e.settings),
                "invalid": e.invalid,
                "seeds": e.runs.iter().map(|r| r.0).collect::<Vec<_>>(),
                "meets_expectations": e.feasible(),
                "expectations_failed": e.failed,
                "incomplete_runs": e.incomplete,
                "cost": agg(e.cost()),
                "availability": agg(e.availability()),
                "p99_ms": agg(e.p99()),
            })
        };
        let doc = json!({
            "scenario": self.scenario,
            "parameters": self.params.iter().map(|p| json!({"path": p.path, "values": p.values})).collect::<Vec<_>>(),
            "cost": self.cost,
            "seeds": [self.seeds.first, self.seeds.last],
            "method": if self.grid { "grid" } else { "successive_halving" },
            "space": self.size,
            "rungs": self.rungs,
            "best": self.best().map_or(Value::Null, point),
            "pareto": pareto(&self.points.iter().collect::<Vec<_>>()).into_iter().map(point).collect::<Vec<_>>(),
            "points": self.points.iter().map(point).collect::<Vec<_>>(),
        });
        let mut text = serde_json::to_string_pretty(&doc).expect("a JSON value");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_costs_and_points() {
        let p = parse_param("services.a.workers=2..5").unwrap();
        assert_eq!(p.values, ["2", "3", "4", "5"]);
        let q = parse_param("x.backoff=Immediate,FullJitter(base: \"1ms\", cap: \"1s\")").unwrap();
        assert_eq!(q.values.len(), 2);
        assert!(parse_param("a=5..1").is_err());
        assert_eq!(
            settings_of(&[p.clone(), q.clone()], 3),
            vec![
                ("services.a.workers".to_owned(), "3".to_owned()),
                ("x.backoff".to_owned(), q.values[1].clone())
            ]
        );
        assert_eq!(
            parse_cost("workers + 10*attempts").unwrap(),
            vec![(1.0, Metric::Workers), (10.0, Metric::Attempts)]
        );
        assert!(parse_cost("workers + bananas").is_err());
        assert!(parse_cost("-1*workers").is_err());
    }

    #[test]
    fn samples_are_distinct_seeded_and_rungs_double_to_every_seed() {
        let a = sample(1000, 16, 7);
        assert_eq!(a, sample(1000, 16, 7));
        assert_ne!(a, sample(1000, 16, 8));
        assert_eq!(a.len(), 16);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample(5, 16, 1), vec![0, 1, 2, 3, 4]);
        // 16 points halve 4 times: 16 -> 8 -> 4 -> 2 -> 1.
        assert_eq!(rungs(16, 32), vec![2, 4, 8, 16, 32]);
        assert_eq!(rungs(16, 3), vec![1, 2, 3]);
        assert_eq!(rungs(1, 5), vec![5]);
    }

    #[test]
    fn the_files_cost_check_knows_the_same_metrics() {
        let ours: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
        assert_eq!(ours, scenarios::TUNE_METRICS);
    }

    #[test]
    fn set_lines_quote_for_the_shell() {
        let s = vec![("a.b".to_owned(), "it's".to_owned())];
        assert_eq!(set_line(&s), r"--set 'a.b=it'\''s'");
    }
}
