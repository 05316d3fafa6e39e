//! End to end: `tune` from the scenario's `tune` section, and a search sharded with
//! `tune --shard K/N` and folded with `tune --merge`.

mod common;

use common::{faultline, stderr, stdout, temp_dir};

const TUNE: &str = "scenarios/search/tune.ron";

fn ok(args: &[&str]) -> String {
    let o = faultline(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

/// Runs every shard of `flags` into `dir` and returns the parts' paths.
fn shards(dir: &std::path::Path, flags: &[&str], n: u32) -> Vec<String> {
    (1..=n)
        .map(|k| {
            let part = dir.join(format!("part-{k}.json")).display().to_string();
            let shard = format!("{k}/{n}");
            let mut args = vec!["tune", TUNE, "--shard", &shard, "--out", &part];
            args.extend_from_slice(flags);
            ok(&args);
            part
        })
        .collect()
}

fn merged(flags: &[&str], parts: &[&str], format: &str) -> std::process::Output {
    let mut args = vec!["tune", TUNE, "--format", format];
    args.extend_from_slice(flags);
    args.push("--merge");
    args.extend_from_slice(parts);
    faultline(&args)
}

#[test]
fn the_tune_section_is_the_flags_and_flags_override_it() {
    // The section says params 1..8, cost attempts, seeds 1..3.
    let from_file = ok(&["tune", TUNE, "--format", "json"]);
    let from_flags = ok(&[
        "tune",
        TUNE,
        "--param",
        "clients.users.retry.max_attempts=1..8",
        "--cost",
        "attempts",
        "--seeds",
        "1..3",
        "--format",
        "json",
    ]);
    assert_eq!(from_file, from_flags);
    // --seeds and --param override the file's, the file's cost stays.
    let over = ok(&[
        "tune",
        TUNE,
        "--param",
        "clients.users.retry.max_attempts=4,5",
        "--seeds",
        "2..3",
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&over).unwrap();
    assert_eq!(doc["seeds"], serde_json::json!([2, 3]));
    assert_eq!(doc["cost"], "attempts");
    assert_eq!(doc["points"].as_array().unwrap().len(), 2);
}

#[test]
fn a_bad_tune_section_is_an_error_at_its_place() {
    let dir = temp_dir("tune-section-bad");
    let text = std::fs::read_to_string(TUNE).unwrap();
    for (from, to, expected) in [
        (
            "cost: \"attempts\"",
            "cost: \"atempts\"",
            ":21:9: tune.cost",
        ),
        ("\"1..8\"", "\"8..1\"", ":20:18: tune.params[0]"),
        ("seeds: \"1..3\"", "seeds: \"3..1\"", ":22:9: tune.seeds"),
    ] {
        assert!(text.contains(from));
        let bad = dir.join("bad.ron");
        std::fs::write(&bad, text.replace(from, to)).unwrap();
        let o = faultline(&["tune", bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
}

#[test]
fn a_sharded_tune_merges_byte_identical_to_one_machine() {
    let dir = temp_dir("tune-shard");
    // A grid, and successive halving (forced by --grid-max) whose rungs the merge replays.
    let grid: &[&str] = &["--seeds", "1..2"];
    let halving: &[&str] = &[
        "--param",
        "clients.users.retry.max_attempts=1..8",
        "--param",
        "services.api.workers=1..4",
        "--grid-max",
        "4",
        "--samples",
        "8",
        "--seeds",
        "1..4",
    ];
    for (flags, n) in [(grid, 3), (halving, 4)] {
        let parts = shards(&dir, flags, n);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        for format in ["text", "json", "md"] {
            let mut whole = vec!["tune", TUNE, "--format", format];
            whole.extend_from_slice(flags);
            let one = ok(&whole);
            let o = merged(flags, &parts, format);
            assert!(o.status.success(), "{}", stderr(&o));
            assert_eq!(stdout(&o), one, "{flags:?} {format}");
        }
        // Parts given in any order merge the same.
        let reversed: Vec<&str> = parts.iter().rev().copied().collect();
        assert_eq!(
            stdout(&merged(flags, &reversed, "json")),
            stdout(&merged(flags, &parts, "json"))
        );
        // A missing shard is named by its index, never merged around.
        let without_2: Vec<&str> = parts
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != 1)
            .map(|(_, p)| *p)
            .collect();
        let o = merged(flags, &without_2, "text");
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains(&format!("shard 2 of {n} missing")),
            "{}",
            stderr(&o)
        );
        // So is a shard given twice.
        let mut twice = parts.clone();
        twice.push(parts[1]);
        let o = merged(flags, &twice, "text");
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains(&format!("shard 2/{n} is given 2 times")),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn a_part_of_another_search_or_an_edited_part_is_refused() {
    let dir = temp_dir("tune-shard-refused");
    let parts = shards(&dir, &["--seeds", "1..2"], 2);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let o = merged(&["--seeds", "1..3"], &parts, "text");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("field `seeds` differs"),
        "{}",
        stderr(&o)
    );
    // A part with a run removed is unfinished.
    let text = std::fs::read_to_string(parts[1]).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["runs"].as_array_mut().unwrap().pop();
    std::fs::write(parts[1], doc.to_string()).unwrap();
    let o = merged(&["--seeds", "1..2"], &parts, "text");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("shard 2/2 holds"), "{}", stderr(&o));
    // --shard and --merge together are refused.
    let o = faultline(&["tune", TUNE, "--shard", "1/2", "--merge", parts[0]]);
    assert_eq!(o.status.code(), Some(2));
}
