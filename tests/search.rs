//! End to end: the search commands (swarm draws, spof, shrink) of the binary.

mod common;

use common::{faultline, root, stderr, stdout, temp_dir};

const SWARM: &str = "tests/scenarios/swarm-small.ron";

#[test]
fn a_printed_swarm_scenario_reruns_byte_identically() {
    let dir = temp_dir("swarm-print");
    for seed in ["2", "5"] {
        let printed = faultline(&["run", SWARM, "--seed", seed, "--print-scenario"]);
        assert!(printed.status.success(), "{}", stderr(&printed));
        let text = stdout(&printed);
        assert!(!text.contains("Between("), "{text}");
        // The same seed prints the same scenario; another seed another one.
        assert_eq!(
            text,
            stdout(&faultline(&[
                "run",
                SWARM,
                "--seed",
                seed,
                "--print-scenario"
            ]))
        );
        let concrete = dir.join(format!("seed-{seed}.ron"));
        std::fs::write(&concrete, &text).unwrap();
        let concrete = concrete.to_str().unwrap();
        let swarm = faultline(&["run", SWARM, "--seed", seed, "--format", "json"]);
        let again = faultline(&["run", concrete, "--seed", seed, "--format", "json"]);
        assert!(
            swarm.status.success() && again.status.success(),
            "{}",
            stderr(&again)
        );
        assert_eq!(stdout(&swarm), stdout(&again), "seed {seed}");
    }
    let two = stdout(&faultline(&[
        "run",
        SWARM,
        "--seed",
        "2",
        "--print-scenario",
    ]));
    let five = stdout(&faultline(&[
        "run",
        SWARM,
        "--seed",
        "5",
        "--print-scenario",
    ]));
    assert_ne!(two, five);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_over_a_swarm_names_failing_seeds_the_same_for_any_jobs() {
    let one = faultline(&["check", SWARM, "--seeds", "1..12", "--jobs", "1"]);
    let two = faultline(&["check", SWARM, "--seeds", "1..12", "--jobs", "3"]);
    assert_eq!(stdout(&one), stdout(&two));
    let text = stdout(&one);
    // Some draws break the expectation and some do not: the line lists the failing ones.
    assert_eq!(one.status.code(), Some(1), "{text}");
    let failing = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("failing seeds ("))
        .unwrap_or_else(|| panic!("{text}"));
    let (count, seeds) = failing.split_once(" of 12): ").expect(failing);
    let count: usize = count.parse().unwrap();
    assert!(count > 0 && count < 12, "{text}");
    assert_eq!(seeds.split(", ").count(), count);
    assert!(text.contains("--print-scenario"), "{text}");
    // Each failing seed's concrete scenario fails on its own, and a passing one passes.
    let dir = temp_dir("swarm-check");
    let first: u64 = seeds.split(", ").next().unwrap().parse().unwrap();
    let passing = (1..=12u64)
        .find(|s| !seeds.split(", ").any(|f| f == s.to_string()))
        .unwrap();
    for (seed, code) in [(first, 1), (passing, 0)] {
        let seed = seed.to_string();
        let text = stdout(&faultline(&[
            "run",
            SWARM,
            "--seed",
            &seed,
            "--print-scenario",
        ]));
        let file = dir.join(format!("{seed}.ron"));
        std::fs::write(&file, text).unwrap();
        let alone = faultline(&["check", file.to_str().unwrap(), "--seeds", &seed]);
        assert_eq!(
            alone.status.code(),
            Some(code),
            "seed {seed}: {}",
            stdout(&alone)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_swarm_value_is_an_error_with_its_place() {
    let dir = temp_dir("swarm-bad");
    let text = std::fs::read_to_string(root().join(SWARM))
        .unwrap()
        .replace("Between(2.0, 30.0)", "Between(30.0, 2.0)");
    let file = dir.join("bad.ron");
    std::fs::write(&file, text).unwrap();
    let out = faultline(&["check", file.to_str().unwrap(), "--seeds", "1..2"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.ron:14:"), "{err}");
    assert!(err.contains("the first end is above the second"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn spof_finds_the_one_unreplicated_service_the_same_for_any_jobs() {
    let args = |jobs| {
        let o = faultline(&[
            "spof",
            "scenarios/search/spof.ron",
            "--seeds",
            "1..2",
            "--format",
            "json",
            "--jobs",
            jobs,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let text = args("1");
    assert_eq!(text, args("3"));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ranked = doc["ranked"].as_array().unwrap();
    let spof_services: Vec<&str> = ranked
        .iter()
        .filter(|c| c["kind"] == "service" && c["verdict"] == "single point of failure")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(spof_services, ["ledger"]);
    // The ledger's host and zone are single points too; the other zone is not.
    let verdict = |kind: &str, name: &str| {
        ranked
            .iter()
            .find(|c| c["kind"] == kind && c["name"] == name)
            .map(|c| c["verdict"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(verdict("host", "a1"), "single point of failure");
    assert_eq!(verdict("zone", "eu-a"), "single point of failure");
    assert_ne!(verdict("zone", "eu-b"), "single point of failure");
    assert_ne!(verdict("service", "web"), "single point of failure");
    // Ranked: every single point of failure before every other component.
    let first_other = ranked
        .iter()
        .position(|c| c["verdict"] != "single point of failure")
        .unwrap();
    assert!(
        ranked[first_other..]
            .iter()
            .all(|c| c["verdict"] != "single point of failure")
    );
    assert!(
        doc["baseline"]["expectations_broken"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn spof_refuses_a_crash_after_the_end() {
    let o = faultline(&["spof", "scenarios/search/spof.ron", "--at", "10m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("before the scenario's end"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn shrink_finds_the_minimal_failing_core_the_same_for_any_jobs() {
    let dir = temp_dir("shrink");
    let shrunk = |jobs: &str| {
        let out = dir.join(format!("jobs{jobs}.ron"));
        let o = faultline(&[
            "shrink",
            "tests/scenarios/shrink-core.ron",
            "--seed",
            "3",
            "--jobs",
            jobs,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let file = std::fs::read_to_string(&out).unwrap();
        (stdout(&o), file, out)
    };
    let (report, file, out) = shrunk("1");
    let (report3, file3, _) = shrunk("3");
    assert_eq!(file.replace("jobs1", "jobs3"), file3);
    assert_eq!(report.replace("jobs1", "jobs3"), report3);
    // The noise faults are gone; the black hole on db is the one fault left, narrower.
    assert!(report.contains("removed faults[0] Errors"), "{report}");
    assert!(report.contains("removed faults[1] LoadSpike"), "{report}");
    assert!(report.contains("the result is minimal"), "{report}");
    let body: String = file
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    assert_eq!(
        body.matches("BlackHole(service: \"db\"").count(),
        1,
        "{file}"
    );
    assert!(
        !body.contains("Errors(") && !body.contains("LoadSpike("),
        "{file}"
    );
    // Only the failing expectation is kept, and the file fails it at the seed.
    assert!(!body.contains("Latency(of:"), "{file}");
    let check = faultline(&["check", out.to_str().unwrap(), "--seeds", "3"]);
    assert_eq!(check.status.code(), Some(1), "{}", stdout(&check));
    assert!(stdout(&check).contains("FAIL availability of users >= 0.95"));
    // A shrunk file is never written over.
    let again = faultline(&[
        "shrink",
        "tests/scenarios/shrink-core.ron",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("never overwrites"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), file);
    // A budget stops it early, and says so.
    let small = dir.join("small.ron");
    let o = faultline(&[
        "shrink",
        "tests/scenarios/shrink-core.ron",
        "--seed",
        "3",
        "--max-runs",
        "3",
        "--out",
        small.to_str().unwrap(),
    ]);
    assert!(
        stdout(&o).contains("3 runs; stopped at --max-runs"),
        "{}",
        stdout(&o)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// tune.ron: each attempt fails with probability q = 0.2, independently, with immediate
/// retries. With n attempts a request fails with probability q^n, so the fewest attempts for
/// availability >= 0.999 is n = 5 (0.2^4 = 0.0016, 0.2^5 = 0.00032), and the attempts per
/// request are (1 - q^n) / (1 - q).
#[test]
fn tune_finds_the_analytic_optimum_the_same_for_any_jobs() {
    let tune = |jobs: &str, extra: &[&str]| {
        let seeds = if extra.is_empty() { "1..3" } else { "1..4" };
        let mut args = vec![
            "tune",
            "scenarios/search/tune.ron",
            "--param",
            "clients.users.retry.max_attempts=1..8",
            "--cost",
            "attempts",
            "--seeds",
            seeds,
            "--format",
            "json",
            "--jobs",
            jobs,
        ];
        args.extend_from_slice(extra);
        let o = faultline(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let text = tune("1", &[]);
    assert_eq!(text, tune("3", &[]));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["method"], "grid");
    assert_eq!(doc["points"].as_array().unwrap().len(), 8);
    let best = &doc["best"];
    assert_eq!(best["set"], "--set 'clients.users.retry.max_attempts=5'");
    // The simulator against the closed forms, within 4 standard errors of the requests
    // counted: about 100/s x 120 s x 3 seeds = 36,000 requests.
    let requests = 36_000.0_f64;
    let q: f64 = 0.2;
    let p_fail = q.powi(5);
    let availability = best["availability"]["mean"].as_f64().unwrap();
    let se = (p_fail * (1.0 - p_fail) / requests).sqrt();
    assert!(
        (availability - (1.0 - p_fail)).abs() < 4.0 * se,
        "{availability} vs {}",
        1.0 - p_fail
    );
    // Attempts per request: a geometric number cut at 5, variance below q / (1 - q)^2.
    let attempts = best["cost"]["mean"].as_f64().unwrap();
    let expected = (1.0 - p_fail) / (1.0 - q);
    let se = (q / (1.0 - q).powi(2) / requests).sqrt();
    assert!(
        (attempts - expected).abs() < 4.0 * se,
        "{attempts} vs {expected}"
    );
    // n = 4 misses the bound, as 1 - 0.2^4 = 0.9984 says.
    let four = &doc["points"][3];
    assert_eq!(four["meets_expectations"], false);
    // Successive halving on the same space (forced by --grid-max) finds it too.
    let halving = tune("2", &["--grid-max", "4", "--samples", "8"]);
    let doc: serde_json::Value = serde_json::from_str(&halving).unwrap();
    assert_eq!(doc["method"], "successive_halving");
    assert_eq!(doc["rungs"], serde_json::json!([1, 2, 4]));
    assert_eq!(
        doc["best"]["set"],
        "--set 'clients.users.retry.max_attempts=5'"
    );
    // Every point evaluated is recorded, with the seeds it ran.
    let seeds: Vec<usize> = doc["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["seeds"].as_array().unwrap().len())
        .collect();
    assert_eq!(seeds.iter().filter(|&&n| n == 4).count(), 2, "{seeds:?}");
    assert_eq!(seeds.len(), 8);
}

#[test]
fn a_sweep_over_a_swarm_draws_per_seed_the_same_for_any_jobs() {
    let sweep = |jobs| {
        let o = faultline(&[
            "sweep",
            SWARM,
            "--seeds",
            "1..4",
            "--set",
            "duration=60s,90s",
            "--jobs",
            jobs,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let text = sweep("1");
    assert_eq!(text, sweep("2"));
    assert!(text.contains("--print-scenario"), "{text}");
}

#[test]
fn tune_writes_a_self_contained_html_scatter() {
    let o = faultline(&[
        "tune",
        "scenarios/search/tune.ron",
        "--param",
        "clients.users.retry.max_attempts=3..6",
        "--cost",
        "attempts",
        "--seeds",
        "1..2",
        "--format",
        "html",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert_eq!(page.matches("<circle").count(), 4);
    assert!(page.contains("<polyline"));
    // Self-contained: no script, no URL but the SVG namespace.
    assert!(!page.contains("<script"));
    assert_eq!(
        page.matches("http").count(),
        page.matches("http://www.w3.org/2000/svg").count()
    );
}

#[test]
fn a_sweep_judges_the_expectations_at_every_point() {
    let o = faultline(&[
        "sweep",
        "scenarios/search/tune.ron",
        "--seeds",
        "1..2",
        "--set",
        "clients.users.retry.max_attempts=4,5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let section = text
        .split("expectations per point:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    // 1 - 0.2^4 = 0.9984 misses 0.999; 1 - 0.2^5 = 0.99968 meets it.
    assert!(
        section.starts_with(
            "  --set 'clients.users.retry.max_attempts=4': 0 of 1 met\n    FAIL availability"
        ),
        "{section}"
    );
    assert!(
        section.contains("--set 'clients.users.retry.max_attempts=5': 1 of 1 met\n    PASS"),
        "{section}"
    );
}

#[test]
fn sweep_verdicts_are_in_the_json_and_survive_a_merge() {
    let dir = temp_dir("sweep-verdicts");
    let flags = [
        "scenarios/search/tune.ron",
        "--seeds",
        "1..2",
        "--set",
        "clients.users.retry.max_attempts=4,5",
    ];
    let sweep = |extra: &[&str]| {
        let mut args = vec!["sweep"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(extra);
        let o = faultline(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let whole = sweep(&["--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&whole).unwrap();
    // 1 - 0.2^4 = 0.9984 misses 0.999; 1 - 0.2^5 = 0.99968 meets it.
    let verdict = |p: usize| doc["aggregates"][p]["expectations"][0].clone();
    assert_eq!(verdict(0)["passed"], false, "{whole}");
    assert_eq!(verdict(0)["failing_seeds"], serde_json::json!([1, 2]));
    assert_eq!(verdict(1)["passed"], true, "{whole}");
    assert_eq!(
        verdict(1)["expectation"],
        "availability of users >= 0.999 (worst seed)"
    );
    let parts: Vec<String> = (1..=2)
        .map(|k| {
            let part = dir.join(format!("{k}.json")).display().to_string();
            sweep(&["--shard", &format!("{k}/2"), "--out", &part]);
            part
        })
        .collect();
    let merged = faultline(&["merge", &parts[0], &parts[1], "--format", "json"]);
    assert_eq!(stdout(&merged), whole);
    let merged_text = faultline(&["merge", &parts[0], &parts[1]]);
    assert_eq!(stdout(&merged_text), sweep(&[]));
    assert!(stdout(&merged_text).contains("expectations per point:"));
    // A scenario without expectations writes no verdicts, nor their definitions.
    let plain = dir.join("plain.ron");
    let text = std::fs::read_to_string("scenarios/search/tune.ron").unwrap();
    let line = "    expect: [Availability(of: \"users\", at_least: 0.999)],\n";
    assert!(text.contains(line));
    std::fs::write(&plain, text.replace(line, "")).unwrap();
    let o = faultline(&[
        "sweep",
        plain.to_str().unwrap(),
        "--seeds",
        "1..1",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("expectations"), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_sweep_over_a_swarm_prints_each_failing_seeds_scenario_command() {
    let o = faultline(&["sweep", SWARM, "--seeds", "1..12"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let section = text
        .split("failing seeds: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    let lines: Vec<&str> = section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  faultline run"))
        .collect();
    assert!(!lines.is_empty(), "{text}");
    // The same seeds `check` names as failing.
    let check = stdout(&faultline(&["check", SWARM, "--seeds", "1..12"]));
    let failing = check
        .lines()
        .find_map(|l| l.trim().strip_prefix("failing seeds ("))
        .unwrap_or_else(|| panic!("{check}"));
    let seeds: Vec<&str> = failing.split_once("): ").unwrap().1.split(", ").collect();
    assert_eq!(lines.len(), seeds.len().min(10), "{text}");
    for (line, seed) in lines.iter().zip(&seeds) {
        assert_eq!(
            *line,
            format!("  faultline run {SWARM} --seed {seed} --print-scenario")
        );
    }
}
