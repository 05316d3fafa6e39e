//! End-to-end tests of the workflows at scale: sweep (threads, shards, merge, resume), check
//! (exit codes, JUnit, baselines) and parameter overrides.

mod common;

use common::*;

const STORM: &str = "scenarios/library/metastable-retry-storm.ron";
const FIXED: &str = "scenarios/library/metastable-fixed.ron";
const SET: &str = "clients.users.retry.max_attempts=1,4";

#[test]
fn sweep_output_does_not_depend_on_threads() {
    let sweep = |jobs: &str| {
        ok(&[
            "sweep", STORM, "--seeds", "1..4", "--set", SET, "--jobs", jobs, "--format", "json",
        ])
    };
    let one = sweep("1");
    assert_eq!(one, sweep("2"));
    let doc: serde_json::Value = serde_json::from_str(&one).expect("json");
    assert_eq!(doc["runs"].as_array().expect("runs").len(), 8);
    let points = doc["aggregates"].as_array().expect("aggregates");
    assert_eq!(points.len(), 2);
    // Without retries the storm never starts; with four attempts the system stays down.
    let availability = |p: usize| {
        points[p]["metrics"]["clients.users.availability"]["mean"]
            .as_f64()
            .expect("mean")
    };
    assert!(availability(0) > 0.85 && availability(1) < 0.5);
}

#[test]
fn shards_merge_into_the_unsharded_sweep_and_interrupted_sweeps_resume() {
    let dir = temp_dir("sweep");
    let path = |name: &str| dir.join(name).to_str().expect("utf-8").to_owned();
    let whole = path("whole.json");
    ok(&[
        "sweep", STORM, "--seeds", "1..5", "--set", SET, "--out", &whole,
    ]);
    let parts: Vec<String> = (1..=3).map(|k| path(&format!("part{k}.json"))).collect();
    for (k, part) in parts.iter().enumerate() {
        let shard = format!("{}/3", k + 1);
        ok(&[
            "sweep", STORM, "--seeds", "1..5", "--set", SET, "--shard", &shard, "--out", part,
        ]);
    }
    let merged = path("merged.json");
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(["--out", &merged]);
    ok(&args);
    let read = |p: &str| std::fs::read_to_string(p).expect("written");
    assert_eq!(
        read(&merged),
        read(&whole),
        "merged shards equal the unsharded sweep"
    );

    // A missing shard is an error, not a silently smaller sweep.
    let missing = faultline(&["merge", &parts[0], &parts[1]]);
    assert_eq!(missing.status.code(), Some(2));

    // An interrupted sweep: its checkpoint holds only some runs. Started again with the same
    // --out, it runs the rest and ends with the same document.
    let mut doc: serde_json::Value = serde_json::from_str(&read(&whole)).expect("json");
    let runs = doc["runs"].as_array_mut().expect("runs");
    runs.truncate(3);
    doc.as_object_mut().expect("object").remove("aggregates");
    let resumed = path("resumed.json");
    std::fs::write(&resumed, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
    let out = faultline(&[
        "sweep", STORM, "--seeds", "1..5", "--set", SET, "--out", &resumed,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("resuming: 3 runs already"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&resumed), read(&whole));

    // Another sweep's document, or any other file, is never overwritten.
    let other = faultline(&["sweep", STORM, "--seeds", "1..2", "--out", &whole]);
    assert_eq!(other.status.code(), Some(2));
    assert!(stderr(&other).contains("refusing to overwrite"));
    assert_eq!(read(&whole), read(&merged));
}

#[test]
fn worst_seeds_come_with_their_replay_command() {
    let text = ok(&["sweep", STORM, "--seeds", "1..3", "--set", SET]);
    assert!(text.contains("worst seeds by clients.users.availability"));
    assert!(text.contains(&format!("faultline replay {STORM} --seed")));
    assert!(text.contains("--set 'clients.users.retry.max_attempts=4'"));
}

#[test]
fn check_passes_fails_and_writes_junit() {
    let dir = temp_dir("check");
    let junit = dir.join("check.xml");
    let junit_s = junit.to_str().expect("utf-8");
    let pass = faultline(&["check", FIXED, "--seeds", "1..3", "--junit", junit_s]);
    assert_eq!(pass.status.code(), Some(0), "{}", stdout(&pass));
    assert!(stdout(&pass).contains("PASS recovery within 30s"));

    let fail = faultline(&["check", FIXED, STORM, "--seeds", "1..3", "--junit", junit_s]);
    assert_eq!(fail.status.code(), Some(1));
    let text = stdout(&fail);
    assert!(text.contains("FAIL recovery within 30s"), "{text}");
    assert!(
        text.contains(&format!("replay: faultline replay {STORM} --seed")),
        "{text}"
    );

    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let doc = roxmltree::Document::parse(&xml).expect("JUnit is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("4"));
    assert_eq!(root.attribute("failures"), Some("2"));
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2);
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert_eq!(failures, 2);
    let message = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .and_then(|n| n.attribute("message"))
        .expect("message");
    assert!(message.contains("measured") && message.contains("expected"));
    // Every test case carries its measured values as properties.
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        let property = |name: &str| {
            case.descendants()
                .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
                .and_then(|n| n.attribute("value"))
                .map(str::to_owned)
        };
        if case.attribute("name") == Some("complete runs") {
            continue;
        }
        for name in [
            "measured",
            "expected",
            "worst_seed",
            "worst",
            "seeds",
            "identity",
        ] {
            assert!(property(name).is_some(), "{name} missing in {case:?}");
        }
        assert_eq!(property("seeds").as_deref(), Some("1..3"));
    }
}

#[test]
fn baseline_regressions_are_detected() {
    let dir = temp_dir("baseline");
    let baseline = dir.join("baseline.json");
    let b = baseline.to_str().expect("utf-8");
    ok(&[
        "check",
        FIXED,
        "--seeds",
        "1..3",
        "--baseline",
        b,
        "--update-baseline",
    ]);
    // The baseline holds what the check measured: both expectations, today's values, keyed by
    // what they measure (not their bounds, so tightening a bound keeps the stored value).
    let text = std::fs::read_to_string(&baseline).expect("baseline");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let recovery = "recovery within 30s after each fault";
    let recovery_key = "recovery time after each fault";
    let measured = &v["scenarios"]["metastable-fixed"];
    assert_eq!(measured.as_object().expect("values").len(), 2, "{text}");
    assert_eq!(measured[recovery_key], 10.0, "{text}");
    assert_eq!(
        measured["amplification of users (worst seed)"], 1.0,
        "{text}"
    );
    // A baseline written before identities, keyed by the whole label, still counts.
    let old_style = serde_json::json!({
        "faultline_baseline": 1,
        "scenarios": {"metastable-fixed": {recovery: 1.0}},
    });
    std::fs::write(&baseline, old_style.to_string()).expect("write");
    let out = faultline(&["check", FIXED, "--seeds", "1..3", "--baseline", b]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("FAIL baseline: recovery within 30s"),
        "{}",
        stdout(&out)
    );
    let mut check_against = |recovery_s: f64| {
        v["scenarios"]["metastable-fixed"][recovery_key] = serde_json::Value::from(recovery_s);
        std::fs::write(&baseline, v.to_string()).expect("write");
        faultline(&["check", FIXED, "--seeds", "1..3", "--baseline", b])
    };
    // Against its own baseline nothing regresses: exit 0, every expectation met, no baseline
    // failure; nor against a baseline that recovered in 9.6 s (today's 10 s is 4.2 % more,
    // within the 5 % relative tolerance).
    for recovery_s in [10.0, 9.6] {
        let out = check_against(recovery_s);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{recovery_s}: {text}");
        assert!(
            text.ends_with("check ok: 2 of 2 expectations met, 0 violated\n"),
            "{recovery_s}: {text}"
        );
        assert!(!text.contains("FAIL"), "{recovery_s}: {text}");
    }
    // Against 9.4 s (6.4 % more, beyond the tolerance) and 1 s, today's recovery time is a
    // regression, shown with both values.
    for recovery_s in [9.4, 1.0] {
        let line =
            format!("FAIL baseline: {recovery}: 10.000 s now, {recovery_s:.3} s in the baseline");
        let out = check_against(recovery_s);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{recovery_s}: {text}");
        assert!(text.contains(&line), "{recovery_s}: {text}");
        assert!(
            text.contains("check FAILED: 2 of 3 expectations met, 1 violated"),
            "{recovery_s}: {text}"
        );
    }
}

#[test]
fn run_accepts_overrides_and_rejects_bad_ones() {
    let json =
        |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok(args)).expect("json") };
    let base = json(&["run", STORM, "--format", "json"]);
    let fixed = json(&[
        "run",
        STORM,
        "--format",
        "json",
        "--set",
        "clients.users.retry.max_attempts=1",
    ]);
    assert_eq!(base["faults"][0]["verdict"], "did not recover");
    assert_eq!(fixed["faults"][0]["verdict"], "recovered");
    for bad in [
        "clients.nobody.retry.max_attempts=1",
        "services.api.workers=many",
        "no-equals-sign",
        "services.api.workers=0",
    ] {
        let out = faultline(&["run", STORM, "--set", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
}
