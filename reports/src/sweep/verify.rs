//! What a sweep document read from a file must hold before it is resumed or merged: a sane
//! definition, runs where their indices say, and parts that join without overlap or gap.

use super::{Definition, Document, MAX_RUNS, MAX_SEEDS, RunSummary};

impl Definition {
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
        .or_else(|| {
            let labels = |d: &Definition| {
                let labels: Vec<&str> = d.expect.iter().map(|e| e.label.as_str()).collect();
                format!("[{}]", labels.join("; "))
            };
            (self.expect != other.expect).then(|| {
                format!(
                    "the expectations differ ({} vs {})",
                    labels(self),
                    labels(other)
                )
            })
        })
    }
}

impl Document {
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
            if r.expect.len() != d.expect.len() {
                return Err(format!(
                    "{run} has {} expectation values; the sweep's scenario has {} expectations",
                    r.expect.len(),
                    d.expect.len()
                ));
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
}
