//! The sweep document: points and shards, JSON round trips, merges and refusals.

use serde_json::Value;

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
        expect: Vec::new(),
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
        expect: Vec::new(),
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
        expect: Vec::new(),
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
        expect: Vec::new(),
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
