//! `faultline tune` on many machines: the settings a search is made of (flags over the
//! scenario's `tune` section over the defaults), `--shard K/N` to run one part of its runs and
//! `--merge PART...` to fold the parts into the very report one machine would print.
//!
//! What a shard runs: every loadable point of the search on every seed, in (point, seed)
//! order, every Nth run starting at K-1. A grid search runs exactly these on one machine too.
//! Successive halving drops points between rungs by comparing every point's results, which no
//! shard has alone; so the shards run the sampled points on every seed, and the merge folds
//! only the runs halving keeps, rung by rung, dropping the same points one machine would. The
//! report is byte-identical; the price is the runs of the dropped points (at most
//! points x seeds in all, against about seeds x (1 + log2 points) on one machine).
//!
//! A part holds its runs' figures as the bits of their `f64`s (hex), so the merge folds
//! exactly the numbers the shard measured.

use std::path::Path;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::Seeds;
use crate::runs::Workers;
use crate::tune::{RunRecord, Space, TuneArgs};

/// What a search is: resolved from the flags, then the file's `tune` section, then defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `PATH=DOMAIN`, as `--param`.
    pub params: Vec<String>,
    pub cost: String,
    pub seeds: Seeds,
    pub grid_max: usize,
    pub samples: usize,
    pub search_seed: u64,
}

impl Settings {
    /// A flag wins over the file, field by field; `--param` replaces the file's whole list.
    pub fn resolve(args: &TuneArgs, file: Option<&scenarios::spec::Tune>) -> Result<Settings> {
        let shown = args.scenario.display();
        let params = match file {
            Some(file) if args.params.is_empty() => file
                .params
                .iter()
                .map(|(p, d)| format!("{p}={d}"))
                .collect(),
            _ => args.params.to_vec(),
        };
        let seeds = match (args.seeds, file.and_then(|f| f.seeds.as_deref())) {
            (Some(s), _) => s,
            (None, Some(text)) => {
                crate::parse_seeds(text).map_err(|e| anyhow::anyhow!("{shown}: tune.seeds: {e}"))?
            }
            (None, None) => Seeds { first: 1, last: 5 },
        };
        Ok(Settings {
            params,
            cost: args
                .cost
                .map(str::to_owned)
                .or_else(|| file.and_then(|f| f.cost.clone()))
                .unwrap_or_else(|| "workers".to_owned()),
            seeds,
            grid_max: args
                .grid_max
                .or(file.and_then(|f| f.grid_max))
                .unwrap_or(64),
            samples: args.samples.or(file.and_then(|f| f.samples)).unwrap_or(32),
            search_seed: args
                .search_seed
                .or(file.and_then(|f| f.search_seed))
                .unwrap_or(1),
        })
    }
}

/// What every part of one search shares: a part of another search (other flags, another
/// scenario text, another faultline) is refused by the merge.
fn definition(args: &TuneArgs, space: &Space) -> Result<Value> {
    let bytes = std::fs::read(args.scenario).map_err(|source| scenarios::ScenarioError::Io {
        path: args.scenario.to_owned(),
        source,
    })?;
    let s = &space.settings;
    Ok(json!({
        "faultline_version": env!("CARGO_PKG_VERSION"),
        "scenario": space.scenario,
        "digest": reports::sweep::digest(&bytes),
        "parameters": s.params,
        "cost": s.cost,
        "seeds": [s.seeds.first, s.seeds.last],
        "grid_max": s.grid_max,
        "samples": s.samples,
        "search_seed": s.search_seed,
        "points": space.points.iter().map(|p| p.index).collect::<Vec<_>>(),
    }))
}

/// The runs of shard `k` of `n` (1-based): every `n`th of [`Space::all_runs`] from `k - 1`.
fn shard_runs(space: &Space, (k, n): (u32, u32)) -> Vec<(usize, u64)> {
    space
        .all_runs()
        .into_iter()
        .skip((k - 1) as usize)
        .step_by(n as usize)
        .collect()
}

fn bits(x: f64) -> Value {
    Value::from(format!("{:016x}", x.to_bits()))
}

fn from_bits(v: &Value) -> Option<f64> {
    let text = v.as_str()?;
    (text.len() == 16)
        .then(|| u64::from_str_radix(text, 16).ok().map(f64::from_bits))
        .flatten()
}

/// Runs shard `k` of `n` and returns its part (JSON) for `--merge`.
pub fn run_shard(
    args: &TuneArgs,
    space: &Space,
    shard: (u32, u32),
    workers: &Workers,
) -> Result<String> {
    let items = shard_runs(space, shard);
    if !space.grid {
        eprintln!(
            "tune --shard {}/{}: successive halving is decided at the merge, so every shard runs \
             its sampled points on every seed ({} runs here)",
            shard.0,
            shard.1,
            items.len()
        );
    }
    let records: Vec<RunRecord> = workers
        .in_order(&items, |&(p, seed)| space.simulate(args.scenario, p, seed))
        .flatten()
        .collect();
    let runs: Vec<Value> = items
        .iter()
        .zip(&records)
        .map(|(&(p, seed), r)| {
            let (availability, p99_ms, cost) = r.figures();
            json!({
                "point": space.points[p].index,
                "seed": seed,
                "complete": r.complete(),
                "availability": bits(availability),
                "p99_ms": bits(p99_ms),
                "cost": bits(cost),
                "expectations": r.values().iter().map(|&v| bits(v)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "faultline_tune_part": 1,
        "definition": definition(args, space)?,
        "shard": [shard.0, shard.1],
        "runs": runs,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("a JSON value");
    text.push('\n');
    Ok(text)
}

/// A part as read back: its shard and its runs by (point position, seed).
struct Part {
    label: String,
    shard: (u32, u32),
    runs: Vec<((usize, u64), RunRecord)>,
}

fn read_part(path: &Path, def: &Value, space: &Space) -> Result<Part> {
    let label = path.display().to_string();
    let text = crate::files::read_input(path, "the tune part")?;
    let bad = |what: &str| anyhow::anyhow!("{label}: malformed tune part: {what}");
    let v: Value =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{label}: not JSON: {e}"))?;
    if v.get("faultline_tune_part") != Some(&Value::from(1)) {
        bail!("{label}: not a part of `faultline tune --shard K/N`");
    }
    let theirs = v.get("definition").ok_or_else(|| bad("definition"))?;
    if theirs != def {
        let key = def
            .as_object()
            .and_then(|o| o.iter().find(|(k, x)| theirs.get(k.as_str()) != Some(*x)))
            .map_or("definition", |(k, _)| k.as_str());
        bail!(
            "{label} is a part of another search: its field `{key}` differs ({} there, {} here); give \
             --merge the same scenario and flags as the shards",
            theirs.get(key).unwrap_or(&Value::Null),
            def.get(key).unwrap_or(&Value::Null)
        );
    }
    let shard = v
        .get("shard")
        .and_then(Value::as_array)
        .and_then(|a| Some((a.first()?.as_u64()?, a.get(1)?.as_u64()?)))
        .and_then(|(k, n)| Some((u32::try_from(k).ok()?, u32::try_from(n).ok()?)))
        .filter(|&(k, n)| k >= 1 && k <= n)
        .ok_or_else(|| bad("shard"))?;
    let position: std::collections::BTreeMap<u64, usize> = space
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| (p.index, i))
        .collect();
    let mut runs = Vec::new();
    for r in v
        .get("runs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("runs"))?
    {
        let num = |k: &str| r.get(k).and_then(Value::as_u64).ok_or_else(|| bad(k));
        let float = |k: &str| r.get(k).and_then(from_bits).ok_or_else(|| bad(k));
        let p = *position.get(&num("point")?).ok_or_else(|| bad("point"))?;
        let values = r
            .get("expectations")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("expectations"))?
            .iter()
            .map(|x| from_bits(x).ok_or_else(|| bad("expectations")))
            .collect::<Result<Vec<_>>>()?;
        let complete = r
            .get("complete")
            .and_then(Value::as_bool)
            .ok_or_else(|| bad("complete"))?;
        runs.push((
            (p, num("seed")?),
            RunRecord::new(
                float("availability")?,
                float("p99_ms")?,
                float("cost")?,
                complete,
                values,
            ),
        ));
    }
    Ok(Part { label, shard, runs })
}

/// Reads the parts of a sharded search: each of shards 1..=N exactly once, each with exactly
/// its runs; a missing, repeated or unfinished shard is named by its index, never merged
/// around.
pub fn read_parts(
    args: &TuneArgs,
    space: &Space,
) -> Result<std::collections::BTreeMap<(usize, u64), RunRecord>> {
    let def = definition(args, space)?;
    let parts = args
        .merge
        .iter()
        .map(|p| read_part(p, &def, space))
        .collect::<Result<Vec<_>>>()?;
    let n = parts[0].shard.1;
    if let Some(other) = parts.iter().find(|p| p.shard.1 != n) {
        bail!(
            "{} is shard {}/{} but {} is of {n}: the parts of one search share N",
            other.label,
            other.shard.0,
            other.shard.1,
            parts[0].label
        );
    }
    for k in 1..=n {
        let given: Vec<&str> = parts
            .iter()
            .filter(|p| p.shard.0 == k)
            .map(|p| p.label.as_str())
            .collect();
        if given.len() > 1 {
            bail!(
                "shard {k}/{n} is given {} times ({}); merge each shard once",
                given.len(),
                given.join(", ")
            );
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !parts.iter().any(|p| p.shard.0 == *k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard{} {} of {n} missing: the merge needs every part (`tune --shard K/{n}`)",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        );
    }
    let mut all = std::collections::BTreeMap::new();
    for part in parts {
        let expected = shard_runs(space, part.shard);
        let have: Vec<(usize, u64)> = part.runs.iter().map(|(key, _)| *key).collect();
        if have != expected {
            bail!(
                "{}: shard {}/{} holds {} runs, not the {} it should (unfinished, edited or of \
                 another faultline); run it again",
                part.label,
                part.shard.0,
                part.shard.1,
                have.len(),
                expected.len()
            );
        }
        all.extend(part.runs);
    }
    Ok(all)
}
