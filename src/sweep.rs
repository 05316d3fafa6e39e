//! `faultline sweep` and `faultline merge`: seeds times parameter points over every core,
//! shards, checkpoints and resumption, through the library's facade (`faultline::sweep`: the
//! document, its definition and each run's summary); this module adds files and threads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use faultline::sweep::{Definition, Document};

use crate::files::Target;
use crate::runs::{self, RunId, Workers};
use crate::{DocFormat, Seeds, refuse_to_overwrite};

/// Splits `V1,V2,...` at commas outside parentheses, brackets and quotes, so a value can be a
/// RON structure: `FullJitter(base: "20ms", cap: "1s"),Immediate`.
pub fn split_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' | '[' if !quoted => depth += 1,
            ')' | ']' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(std::mem::take(&mut current).trim().to_owned());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_owned());
    out
}

/// `PATH=V1,V2,...` into the path and its values.
pub fn parse_set(text: &str) -> Result<(String, Vec<String>)> {
    let Some((path, values)) = text.split_once('=') else {
        bail!("--set {text}: expected PATH=VALUE or PATH=V1,V2,...");
    };
    let values = split_values(values);
    if values.iter().any(String::is_empty) {
        bail!("--set {text}: an empty value");
    }
    Ok((path.trim().to_owned(), values))
}

/// `K/N` with 1 <= K <= N.
pub fn parse_shard(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("\"{text}\" is not a shard; expected K/N with 1 <= K <= N, e.g. 2/8");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (u32, u32) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

pub struct SweepArgs<'a> {
    pub scenario: &'a Path,
    pub seeds: Seeds,
    pub sets: &'a [String],
    pub jobs: Option<usize>,
    pub shard: Option<(u32, u32)>,
    pub out: Option<&'a Path>,
    pub format: DocFormat,
}

/// What `format` prints of a document: the text summary adds the expectations per point.
fn report(doc: &Document, format: DocFormat) -> String {
    match format {
        DocFormat::Text => doc.text() + &doc.expectations_text(),
        DocFormat::Json => doc.to_json(),
        DocFormat::Csv => doc.csv(),
        DocFormat::Md => doc.markdown(),
        DocFormat::Html => faultline::sweep::html(doc),
    }
}

pub fn sweep(args: SweepArgs) -> Result<ExitCode> {
    let digest = faultline::sweep::file_digest(args.scenario)?;
    let sets = args
        .sets
        .iter()
        .map(|s| parse_set(s))
        .collect::<Result<Vec<_>>>()?;
    let workers = Workers::new(args.jobs)?;
    if args.shard.is_some() && !matches!(args.format, DocFormat::Text | DocFormat::Json) {
        bail!(
            "--shard with --format {}: a shard has no aggregates; write each part with --out,              then `faultline merge PARTS --format {0}`",
            args.format.name()
        );
    }
    // Every point must load before any run starts.
    let probe = Definition {
        scenario_path: args.scenario.display().to_string(),
        scenario: String::new(),
        digest,
        seeds: (args.seeds.first, args.seeds.last),
        sets,
        expect: Vec::new(),
    };
    let mut configs = Vec::new();
    // The points share one file: each warning is printed once.
    let mut warnings: Vec<String> = Vec::new();
    for point in probe.points() {
        // A swarm scenario is drawn again for every seed (`crate::swarm`).
        let source = crate::swarm::Source::read(args.scenario, &point, args.seeds.first)?;
        for w in &source.warnings {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
        configs.push(source);
    }
    crate::print_warnings(&warnings);
    let first = match configs.first() {
        Some(source) => Some(source.scenario(args.seeds.first)?),
        None => None,
    };
    let definition = Definition {
        scenario: first
            .as_ref()
            .map_or(String::new(), |s| s.name().to_owned()),
        expect: first
            .as_ref()
            .map_or(Vec::new(), |s| faultline::sweep::expectations(s)),
        ..probe
    };
    if let Some(out) = args.out {
        refuse_to_overwrite(out, args.scenario)?;
    }
    // Held until the sweep ends: a second sweep (another shard) given the same --out is
    // refused instead of overwriting this one's runs.
    let target = args.out.map(|p| Target::claim(p, "--out")).transpose()?;
    let wanted: Vec<u64> = match args.shard {
        Some((k, n)) => definition.shard_runs(k, n),
        None => (0..definition.run_count()).collect(),
    };
    let points = definition.points();
    let run_index = |index: u64| -> Result<_> {
        let (point, seed) = definition.run(index);
        let run = RunId {
            scenario: args.scenario.to_owned(),
            seed,
            sets: points[point].clone(),
            max_events: None,
        };
        let scenario = configs[point].scenario(seed)?;
        let done = runs::simulate_scenario(run, &scenario);
        // With the expectations' values of this run, judged per point at the end.
        Ok(faultline::sweep::summarise(index, &scenario, &done))
    };
    // Resume from the checkpoint at --out if it is this very sweep; never clobber anything else.
    let mut doc = Document {
        definition: definition.clone(),
        shard: args.shard,
        runs: Vec::new(),
    };
    if let Some(out) = args.out
        && out.exists()
    {
        let text = crate::files::read_input(out, "the sweep checkpoint")?;
        // from_json verifies every run: its index, seed, fingerprint and metric names.
        let previous = Document::from_json(&text).map_err(|e| {
            anyhow::anyhow!(
                "{} exists and is not a sweep checkpoint of this faultline ({e}); refusing to \
                 overwrite it",
                out.display()
            )
        })?;
        if let Some(difference) = previous.definition.difference(&definition) {
            bail!(
                "{} holds a different sweep: {difference} (its value first); refusing to \
                 overwrite it",
                out.display()
            );
        }
        if previous.shard != args.shard {
            let shard =
                |s: Option<(u32, u32)>| s.map_or("none".into(), |(k, n)| format!("{k}/{n}"));
            bail!(
                "{} holds a different sweep: the shard differs ({} vs {}); refusing to overwrite \
                 it",
                out.display(),
                shard(previous.shard),
                shard(args.shard)
            );
        }
        // Its last run is run again: a checkpoint edited by hand, or written by a faultline
        // whose runs differ, is refused rather than joined to new runs.
        if let Some(last) = previous.runs.last() {
            let again = run_index(last.index)?;
            if &again != last {
                bail!(
                    "{}: run {} (seed {}) does not reproduce (fingerprint {} in the file, {} \
                     now, or other metrics): the checkpoint was edited or written by another \
                     faultline; move it away to start the sweep over",
                    out.display(),
                    last.index,
                    last.seed,
                    last.fingerprint,
                    again.fingerprint
                );
            }
        }
        doc.runs = previous.runs;
    }
    let done: Vec<u64> = doc.runs.iter().map(|r| r.index).collect();
    let pending: Vec<u64> = wanted
        .into_iter()
        .filter(|i| done.binary_search(i).is_err())
        .collect();
    if !done.is_empty() {
        eprintln!(
            "resuming: {} runs already in {}, {} to go",
            done.len(),
            args.out.map_or(PathBuf::new(), Path::to_path_buf).display(),
            pending.len()
        );
    }
    let bar = runs::progress((done.len() + pending.len()) as u64, done.len() as u64);
    let summaries = workers.in_order(&pending, |&index| {
        let summary = run_index(index);
        bar.inc(1);
        summary
    });
    // A checkpoint after every chunk of runs, which arrive in index order.
    for chunk in summaries {
        for run in chunk {
            doc.runs.push(run?);
        }
        doc.runs.sort_by_key(|r| r.index);
        if let Some(target) = &target {
            target.write(doc.to_json().as_bytes())?;
        }
    }
    bar.finish_and_clear();
    let incomplete: Vec<String> = doc.incomplete_runs().map(|r| r.seed.to_string()).collect();
    if !incomplete.is_empty() {
        eprintln!(
            "warning: {}: {} of {} runs stopped at a limit before their end (seeds {}); their \
             metrics are partial (raise limits.max_events)",
            args.scenario.display(),
            incomplete.len(),
            doc.runs.len(),
            incomplete.join(", ")
        );
    }
    if args.shard.is_none() {
        debug_assert!(doc.has_every_run());
    }
    let json = args.format == DocFormat::Json;
    // The text's expectations section is empty unless the scenario has expectations and
    // every run is in.
    let mut report = report(&doc, args.format);
    if args.format == DocFormat::Text && configs.first().is_some_and(crate::swarm::Source::is_swarm)
    {
        report.push_str(&format!(
            "swarm scenario: every seed draws its own values; the concrete scenario of a seed: \
             faultline run {} --seed N --print-scenario\n",
            args.scenario.display()
        ));
        report.push_str(&swarm_failures(&doc, args.scenario));
    }
    if let Some(target) = &target {
        target.write(doc.to_json().as_bytes())?;
        if !json {
            crate::print_stdout(&report)?;
        }
    } else {
        crate::print_stdout(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// For a swarm scenario, the command that prints the concrete scenario of each seed that broke
/// an expectation, per point (the JSON has them as `aggregates[].expectations[].failing_seeds`).
fn swarm_failures(doc: &Document, scenario: &Path) -> String {
    const SHOWN: usize = 10;
    let mut out = String::new();
    for (point, results) in doc.judged().unwrap_or_default() {
        let mut seeds: Vec<u64> = results.iter().flat_map(|r| r.failing_seeds()).collect();
        seeds.sort_unstable();
        seeds.dedup();
        if seeds.is_empty() {
            continue;
        }
        let flags = Definition::point_flags(&point);
        out.push_str(&format!(
            "failing seeds{}: {} of {}\n",
            if flags.is_empty() {
                String::new()
            } else {
                format!(" at{flags}")
            },
            seeds.len(),
            doc.definition.seed_count()
        ));
        for seed in seeds.iter().take(SHOWN) {
            out.push_str(&format!(
                "  faultline run {} --seed {seed}{flags} --print-scenario\n",
                scenario.display()
            ));
        }
        if seeds.len() > SHOWN {
            out.push_str(&format!("  ... and {} more\n", seeds.len() - SHOWN));
        }
    }
    out
}

pub fn merge(parts: &[PathBuf], out: Option<&Path>, format: DocFormat) -> Result<ExitCode> {
    let mut docs = Vec::new();
    for p in parts {
        let text = crate::files::read_input(p, "the sweep part")?;
        let doc =
            Document::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        docs.push((p.display().to_string(), doc));
    }
    let merged = Document::merge(docs).map_err(|e| anyhow::anyhow!("merge: {e}"))?;
    let incomplete = merged.incomplete_runs().count();
    if incomplete > 0 {
        eprintln!(
            "warning: {incomplete} of {} merged runs stopped at a limit before their end; see \
             the summary's seeds",
            merged.runs.len()
        );
    }
    if let Some(out) = out {
        if parts
            .iter()
            .any(|p| p.canonicalize().ok() == out.canonicalize().ok() && out.exists())
        {
            bail!("refusing to write the merged sweep over one of its parts");
        }
        crate::write_atomically(out, "--out", merged.to_json().as_bytes())?;
    }
    let report = report(&merged, format);
    if out.is_none() || format != DocFormat::Json {
        crate::print_stdout(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_split_outside_structures_only() {
        assert_eq!(split_values("1,3,5"), vec!["1", "3", "5"]);
        assert_eq!(
            split_values("FullJitter(base: \"20ms\", cap: \"1s\"), Immediate"),
            vec!["FullJitter(base: \"20ms\", cap: \"1s\")", "Immediate"]
        );
        assert_eq!(split_values("\"a,b\",c"), vec!["\"a,b\"", "c"]);
        assert!(parse_set("no-equals").is_err());
        assert!(parse_set("a=1,,2").is_err());
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
        for bad in ["0/3", "4/3", "x/3", "3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
