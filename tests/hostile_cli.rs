//! Issue 13, the command line's half: what a hostile user or a broken machine does to the
//! binary. Bad input gets a clear error and exit 2, never a panic; a partial run is never a
//! pass; nothing the user has is overwritten or lost.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

/// mm1 cut to two simulated seconds: about 1,800 events, quick.
fn short_scenario(dir: &Path) -> PathBuf {
    scenario_with(dir, "short.ron", "duration: \"2s\"")
}

/// The same, stopped by its event limit long before its end.
fn cut_scenario(dir: &Path) -> PathBuf {
    scenario_with(
        dir,
        "cut.ron",
        "duration: \"2s\", limits: (max_events: 300)",
    )
}

fn scenario_with(dir: &Path, name: &str, duration: &str) -> PathBuf {
    let text = std::fs::read_to_string(library("mm1.ron")).expect("read");
    let path = dir.join(name);
    std::fs::write(&path, text.replace("duration: \"11112s\"", duration)).expect("write");
    path
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Fails unless the binary exited with `code` and said `needle` on stderr.
fn fails_with(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert!(!err.contains("panicked"), "a panic: {err}");
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ---- 1. panics ----------------------------------------------------------------------------

/// Runs the binary with standard output on `/dev/full`.
fn to_full_disk(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::from(full))
        .output()
        .expect("the binary runs")
}

#[test]
fn a_full_standard_output_is_exit_2_for_every_command() {
    let dir = temp_dir("hostile-stdout");
    let short = short_scenario(&dir);
    let part = dir.join("part.json");
    ok(&["sweep", s(&short), "--seeds", "1..2", "--out", s(&part)]);
    let commands: Vec<Vec<&str>> = vec![
        vec!["validate", s(&short)],
        vec!["replay", s(&short), "--seed", "1"],
        vec!["check", s(&short), "--seeds", "1..1"],
        vec!["run", s(&short)],
        vec!["sweep", s(&short), "--seeds", "1..1"],
        vec!["compare", s(&short), s(&short), "--seeds", "1..1"],
        vec!["merge", s(&part)],
    ];
    for args in commands {
        let out = to_full_disk(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("standard output"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// A sweep document's JSON, edited by `edit`, written to `dir/name`.
fn tampered(dir: &Path, from: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(from).expect("read")).expect("json");
    edit(&mut doc);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
    path
}

#[test]
fn merge_verifies_every_run_it_joins() {
    let dir = temp_dir("hostile-merge");
    let short = short_scenario(&dir);
    let part = |k: u32| {
        let path = dir.join(format!("part{k}.json"));
        let shard = format!("{k}/2");
        ok(&[
            "sweep",
            s(&short),
            "--seeds",
            "1..4",
            "--shard",
            &shard,
            "--out",
            s(&path),
        ]);
        path
    };
    let (one, two) = (part(1), part(2));
    ok(&["merge", s(&one), s(&two)]);

    // `"metrics": []` used to index out of bounds.
    let empty = tampered(&dir, &two, "empty.json", |d| {
        d["runs"][0]["metrics"] = serde_json::json!([]);
    });
    fails_with(
        &faultline(&["merge", s(&one), s(&empty)]),
        2,
        "empty.json: run 1 (seed 2) has no metrics",
    );
    // Metrics are matched by name: a renamed one is refused, a reordered one is the same.
    let renamed = tampered(&dir, &two, "renamed.json", |d| {
        d["runs"][1]["metrics"][0][0] = serde_json::json!("clients.nobody.availability");
    });
    fails_with(
        &faultline(&["merge", s(&one), s(&renamed)]),
        2,
        "renamed.json: run 3 (seed 4): its metrics differ from run 1's",
    );
    let reordered = tampered(&dir, &two, "reordered.json", |d| {
        for r in d["runs"].as_array_mut().expect("runs") {
            r["metrics"].as_array_mut().expect("metrics").reverse();
        }
    });
    let aggregates = |part: &Path| {
        let json = ok(&["merge", s(&one), s(part), "--format", "json"]);
        let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
        doc["aggregates"].clone()
    };
    assert_eq!(aggregates(&reordered), aggregates(&two));
    // An index that is not the shard's, or beyond the sweep, or a seed that is not its run's.
    let index = tampered(&dir, &two, "index.json", |d| {
        d["runs"][1]["index"] = serde_json::json!(99);
    });
    fails_with(
        &faultline(&["merge", s(&one), s(&index)]),
        2,
        "index.json: run 99 (seed 4): the sweep has runs 0 to 3",
    );
    let seed = tampered(&dir, &two, "seed.json", |d| {
        d["runs"][0]["seed"] = serde_json::json!(3);
    });
    fails_with(
        &faultline(&["merge", s(&one), s(&seed)]),
        2,
        "seed.json: run 1 (seed 3): run 1 has seed 2",
    );
    let fingerprint = tampered(&dir, &two, "fingerprint.json", |d| {
        d["runs"][0]["fingerprint"] = serde_json::json!("not a fingerprint");
    });
    fails_with(
        &faultline(&["merge", s(&one), s(&fingerprint)]),
        2,
        "not 16 hexadecimal digits",
    );
    // Seeds [6, 1] used to claim 18446744073709551612 runs.
    let reversed = tampered(&dir, &two, "reversed.json", |d| {
        d["definition"]["seeds"] = serde_json::json!([6, 1]);
    });
    fails_with(
        &faultline(&["merge", s(&reversed)]),
        2,
        "reversed.json: seeds [6, 1]: the last seed is below the first",
    );
    // Overlaps and gaps name the files and the runs.
    fails_with(
        &faultline(&["merge", s(&one), s(&one), s(&two)]),
        2,
        &format!("is in both {} and {}", s(&one), s(&one)),
    );
    fails_with(&faultline(&["merge", s(&one)]), 2, "missing runs 1, 3");
    // The same scenario under another path: the path is what differs.
    let moved = tampered(&dir, &two, "moved.json", |d| {
        d["definition"]["scenario_path"] = serde_json::json!("elsewhere/short.ron");
    });
    fails_with(
        &faultline(&["merge", s(&one), s(&moved)]),
        2,
        "the scenario path differs",
    );
}

#[test]
fn resume_verifies_the_checkpoint() {
    let dir = temp_dir("hostile-resume");
    let short = short_scenario(&dir);
    let out = dir.join("sweep.json");
    ok(&["sweep", s(&short), "--seeds", "1..3", "--out", s(&out)]);
    let before = std::fs::read_to_string(&out).expect("read");
    let bad = tampered(&dir, &out, "sweep.json", |d| {
        d["runs"][1]["index"] = serde_json::json!(99);
    });
    let tampered_text = std::fs::read_to_string(&bad).expect("read");
    fails_with(
        &faultline(&["sweep", s(&short), "--seeds", "1..3", "--out", s(&out)]),
        2,
        "run 99",
    );
    assert_eq!(
        std::fs::read_to_string(&out).expect("read"),
        tampered_text,
        "a checkpoint it cannot trust is left as it is"
    );
    // An edited value: the checkpoint's last run is run again and does not reproduce.
    tampered(&dir, &out, "sweep.json", |d| {
        d["runs"] = serde_json::json!([before_doc(&before)["runs"][0].clone()]);
        d["runs"][0]["metrics"][0][1] = serde_json::json!(0.5);
    });
    fails_with(
        &faultline(&["sweep", s(&short), "--seeds", "1..3", "--out", s(&out)]),
        2,
        "run 0 (seed 1) does not reproduce",
    );
    std::fs::write(&out, &before).expect("restore");
    fails_with(
        &faultline(&["sweep", s(&short), "--seeds", "1..4", "--out", s(&out)]),
        2,
        "the seed range differs (1..3 vs 1..4)",
    );
}

fn before_doc(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("json")
}

// ---- 2. partial runs are never a pass ------------------------------------------------------

#[test]
fn check_fails_on_an_incomplete_run_unless_allowed() {
    let dir = temp_dir("hostile-check");
    let cut = cut_scenario(&dir);
    let out = faultline(&["check", s(&cut), "--seeds", "1..2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("FAIL complete runs: 2 of 2 runs stopped at a limit"),
        "{text}"
    );
    assert!(
        text.contains("stopped by max_events after 300 events"),
        "{text}"
    );
    let junit = dir.join("check.xml");
    let out = faultline(&["check", s(&cut), "--seeds", "1..2", "--junit", s(&junit)]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("name=\"complete runs\""), "{xml}");

    // The JUnit file may not replace the scenario.
    let before = std::fs::read_to_string(&cut).expect("read");
    fails_with(
        &faultline(&["check", s(&cut), "--junit", s(&cut)]),
        2,
        "refusing to write over the scenario file",
    );
    assert_eq!(std::fs::read_to_string(&cut).expect("read"), before);

    let allowed = faultline(&["check", s(&cut), "--seeds", "1..2", "--allow-incomplete"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
    assert!(stdout(&allowed).contains("NOTE complete runs"));
    // A complete run is not flagged.
    let short = short_scenario(&dir);
    assert!(!ok(&["check", s(&short), "--seeds", "1..2"]).contains("complete runs"));

    // Partial runs never become the baseline: the old one is kept.
    let baseline = dir.join("baseline.json");
    ok(&[
        "check",
        s(&short),
        "--seeds",
        "1..2",
        "--baseline",
        s(&baseline),
        "--update-baseline",
    ]);
    let stored = std::fs::read_to_string(&baseline).expect("baseline");
    let refused = faultline(&[
        "check",
        s(&cut),
        "--seeds",
        "1..2",
        "--baseline",
        s(&baseline),
        "--update-baseline",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("baseline not written"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(&baseline).expect("baseline"),
        stored
    );
}

#[test]
fn sweep_merge_and_compare_flag_incomplete_runs() {
    let dir = temp_dir("hostile-incomplete");
    let cut = cut_scenario(&dir);
    let short = short_scenario(&dir);
    let json = ok(&["sweep", s(&cut), "--seeds", "1..2", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    for r in doc["runs"].as_array().expect("runs") {
        assert_eq!(r["complete"], false);
    }
    assert_eq!(doc["incomplete_runs"], 2);
    assert_eq!(doc["aggregates"][0]["incomplete_runs"], 2);
    let text = faultline(&["sweep", s(&cut), "--seeds", "1..2"]);
    assert!(stdout(&text).contains("INCOMPLETE: 2 of 2 runs"));
    assert!(stdout(&text).contains("incomplete runs (stopped at a limit), seeds: 1, 2"));
    assert!(stderr(&text).contains("warning"));
    let complete: serde_json::Value = serde_json::from_str(&ok(&[
        "sweep",
        s(&short),
        "--seeds",
        "1..1",
        "--format",
        "json",
    ]))
    .expect("json");
    assert_eq!(complete["runs"][0]["complete"], true);
    assert_eq!(complete["incomplete_runs"], 0);

    let parts: Vec<PathBuf> = (1..=2)
        .map(|k| {
            let path = dir.join(format!("cut{k}.json"));
            let shard = format!("{k}/2");
            ok(&[
                "sweep",
                s(&cut),
                "--seeds",
                "1..2",
                "--shard",
                &shard,
                "--out",
                s(&path),
            ]);
            path
        })
        .collect();
    let merged = faultline(&["merge", s(&parts[0]), s(&parts[1])]);
    assert!(merged.status.success());
    assert!(stdout(&merged).contains("INCOMPLETE: 2 of 2 runs"));

    let compared = faultline(&["compare", s(&cut), s(&short), "--seeds", "1..2"]);
    assert!(compared.status.success());
    assert!(
        stdout(&compared).contains("INCOMPLETE: 2 of 2 runs of mm1"),
        "{}",
        stdout(&compared)
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "compare",
        s(&cut),
        s(&short),
        "--seeds",
        "1..2",
        "--format",
        "json",
    ]))
    .expect("json");
    assert_eq!(json["a"]["incomplete_seeds"], serde_json::json!([1, 2]));
    assert_eq!(json["b"]["incomplete_runs"], 0);
}

// ---- 3. numbers on the command line --------------------------------------------------------

#[test]
fn tolerances_must_be_finite_and_not_negative() {
    for flag in ["--availability-tolerance", "--relative-tolerance"] {
        for bad in ["NaN", "-0.1", "inf", "x"] {
            let arg = format!("{flag}={bad}");
            let out = faultline(&["check", "scenarios/library/mm1.ron", &arg]);
            fails_with(&out, 2, "expected a finite number >= 0");
        }
    }
}

#[test]
fn jobs_out_of_range_fail_at_once() {
    for command in ["sweep", "compare", "check"] {
        for jobs in ["0", "100000"] {
            let mut args = vec![command, "scenarios/library/mm1.ron"];
            if command == "compare" {
                args.push("scenarios/library/mm1.ron");
            }
            args.extend(["--seeds", "1..1", "--jobs", jobs]);
            fails_with(&faultline(&args), 2, "expected 1 to");
        }
    }
}

// ---- 4. outputs that never lose data -------------------------------------------------------

#[test]
fn outputs_refuse_what_is_not_a_regular_file() {
    let dir = temp_dir("hostile-kinds");
    let short = short_scenario(&dir);
    let run = |out: &Path| faultline(&["run", s(&short), "--out", s(out)]);
    fails_with(&run(&dir), 2, "is a directory");
    fails_with(&run(Path::new("/dev/null")), 2, "not a regular file");
    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        fails_with(&run(&fifo), 2, "not a regular file");
    }
    let kept = dir.join("kept.txt");
    std::fs::write(&kept, "the user's file").expect("write");
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&kept, &link).expect("symlink");
    fails_with(&run(&link), 2, "is a symbolic link");
    assert_eq!(
        std::fs::read_to_string(&kept).expect("read"),
        "the user's file"
    );
    assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
    let trace = faultline(&["replay", s(&short), "--seed", "1", "--trace", s(&link)]);
    fails_with(&trace, 2, "--trace");
}

#[test]
fn a_second_writer_is_refused_and_a_stale_lock_is_taken_over() {
    let dir = temp_dir("hostile-lock");
    let short = short_scenario(&dir);
    let out = dir.join("out.json");
    let lock = dir.join(".out.json.faultline-lock");
    // A live holder: this test process.
    std::fs::write(&lock, format!("{}\n", std::process::id())).expect("lock");
    for args in [
        vec!["run", s(&short), "--out", s(&out)],
        vec!["replay", s(&short), "--seed", "1", "--trace", s(&out)],
        vec!["sweep", s(&short), "--seeds", "1..1", "--out", s(&out)],
    ] {
        let refused = faultline(&args);
        fails_with(&refused, 2, "another faultline");
        assert!(stderr(&refused).contains(".out.json.faultline-lock"));
    }
    assert!(!out.exists());
    // A holder that is gone (a pid above Linux's largest) and an old temporary of a killed
    // writer, of this version's naming and of the old fixed name.
    std::fs::write(&lock, "4294967295\n").expect("lock");
    std::fs::write(dir.join(".out.json.123-0.faultline-tmp"), "half").expect("tmp");
    std::fs::write(dir.join(".out.json.faultline-tmp"), "half").expect("tmp");
    let taken = faultline(&["run", s(&short), "--out", s(&out)]);
    assert!(taken.status.success(), "{}", stderr(&taken));
    assert!(stderr(&taken).contains("taking over the lock"));
    assert_eq!(names_in(&dir), vec!["out.json", "short.ron"]);
}

#[test]
fn two_shards_given_one_out_do_not_both_succeed() {
    let dir = temp_dir("hostile-shards");
    let short = short_scenario(&dir);
    let out = dir.join("shared.json");
    let start = |k: &str| {
        Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args([
                "sweep",
                s(&short),
                "--seeds",
                "1..40",
                "--shard",
                k,
                "--out",
                s(&out),
                "--jobs",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let first = start("1/2");
    let second = start("2/2");
    let first = first.wait_with_output().expect("wait");
    let second = second.wait_with_output().expect("wait");
    let succeeded = [&first, &second]
        .iter()
        .filter(|o| o.status.success())
        .count();
    assert!(
        succeeded <= 1,
        "both shards wrote {}; one's runs would be lost",
        out.display()
    );
    for o in [&first, &second] {
        if !o.status.success() {
            assert_eq!(o.status.code(), Some(2));
            let err = stderr(o);
            assert!(
                err.contains("another faultline") || err.contains("the shard differs"),
                "{err}"
            );
        }
    }
}

#[test]
fn an_interrupted_trace_leaves_no_temporary_and_no_lock() {
    let dir = temp_dir("hostile-sigterm");
    let trace = dir.join("trace.jsonl");
    std::fs::write(&trace, "the old trace\n").expect("write");
    // checkout traces for a long time: it is still writing when the signal comes.
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["replay", "scenarios/library/checkout.ron", "--seed", "1"])
        .args(["--trace", s(&trace)])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let tmp_present = || names_in(&dir).iter().any(|n| n.ends_with(".faultline-tmp"));
    for _ in 0..400 {
        if tmp_present() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(tmp_present(), "the replay started writing");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(names_in(&dir), vec!["trace.jsonl"]);
    assert_eq!(
        std::fs::read_to_string(&trace).expect("read"),
        "the old trace\n",
        "the old file is intact"
    );
}

// ---- 6. messages ---------------------------------------------------------------------------

/// A file that cannot grow (a full disk, here a file size limit of 1 KiB with SIGXFSZ ignored
/// so that the write fails instead of killing the process) is named in the error.
#[test]
fn a_write_that_fails_names_the_file() {
    let dir = temp_dir("hostile-full");
    let short = short_scenario(&dir);
    let out = dir.join("report.json");
    let script = format!(
        "trap '' XFSZ; ulimit -f 1; exec '{}' run '{}' --format json --out '{}'",
        env!("CARGO_BIN_EXE_faultline"),
        s(&short),
        s(&out)
    );
    let result = Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("sh");
    fails_with(&result, 2, &format!("cannot write {}", s(&out)));
    assert_eq!(names_in(&dir), vec!["short.ron"], "nothing left behind");
}

/// The JSON inputs the binary reads back (a baseline, sweep parts) are read only from regular
/// files: a FIFO would block forever and a device never end.
#[test]
fn json_inputs_must_be_regular_files() {
    let dir = temp_dir("hostile-inputs");
    let short = short_scenario(&dir);
    fails_with(
        &faultline(&["merge", "/dev/zero"]),
        2,
        "the sweep part /dev/zero: not a regular file",
    );
    fails_with(
        &faultline(&[
            "check",
            s(&short),
            "--seeds",
            "1..1",
            "--baseline",
            "/dev/zero",
        ]),
        2,
        "the baseline /dev/zero: not a regular file",
    );
    let fifo = dir.join("part.json");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        fails_with(&faultline(&["merge", s(&fifo)]), 2, "not a regular file");
    }
}
