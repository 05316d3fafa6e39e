//! The sweep document as JSON: written sorted and pretty, read back and verified.

use serde_json::{Map, Value};

use super::{Definition, Document, RunSummary};
use crate::common::round_to;

impl Document {
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
        // Only a scenario with expectations writes them: other documents are as they were.
        if !d.expect.is_empty() {
            def.insert(
                "expectations".into(),
                Value::Array(d.expect.iter().map(super::expect::spec_json).collect()),
            );
        }
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
                if !r.expect.is_empty() {
                    let values = r.expect.iter().map(|&v| super::expect::value_json(v));
                    m.insert("expectations".into(), Value::Array(values.collect()));
                }
                Value::Object(m)
            })
            .collect();
        doc.insert("runs".into(), Value::Array(runs));
        doc.insert(
            "incomplete_runs".into(),
            Value::from(self.incomplete_runs().count()),
        );
        if self.has_every_run() {
            let judged = self.judged();
            let points: Vec<Value> = self
                .aggregates()
                .iter()
                .enumerate()
                .map(|(p, (point, metrics))| {
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
                    if let Some(judged) = &judged {
                        m.insert("expectations".into(), Document::verdicts_json(&judged[p].1));
                    }
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
        let expect = match def.get("expectations") {
            None => Vec::new(),
            Some(list) => list
                .as_array()
                .ok_or_else(|| bad("expectations"))?
                .iter()
                .map(|e| super::expect::spec_from(e).ok_or_else(|| bad("expectations")))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let definition = Definition {
            scenario_path: text_of(def, "scenario_path")?,
            scenario: text_of(def, "scenario")?,
            digest: text_of(def, "digest")?,
            seeds: (seed(0)?, seed(1)?),
            sets,
            expect,
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
            let expect = match r.get("expectations") {
                None => Vec::new(),
                Some(list) => list
                    .as_array()
                    .ok_or_else(|| bad("expectations"))?
                    .iter()
                    .map(|v| super::expect::value_from(v).ok_or_else(|| bad("expectations")))
                    .collect::<Result<Vec<_>, _>>()?,
            };
            runs.push(RunSummary {
                index: num("index")?,
                seed: num("seed")?,
                fingerprint: text_of(r, "fingerprint")?,
                events: num("events")?,
                complete,
                metrics,
                expect,
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
}
