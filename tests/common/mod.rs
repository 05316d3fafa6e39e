//! Helpers shared by the end-to-end tests: run the binary, find library scenarios.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn library(name: &str) -> PathBuf {
    root().join("scenarios/library").join(name)
}

pub fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8")
}

/// Runs a scenario and returns its JSON report.
pub fn check(scenario: &Path, seed: u64) -> String {
    report(scenario, seed, "json")
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Every scenario of the library, sorted.
pub fn library_scenarios() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios/library"))
        .expect("library")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    paths.sort();
    paths
}

/// Runs `faultline run SCENARIO --seed N --format F` and returns stdout; fails with the
/// command that reproduces it.
pub fn report(scenario: &Path, seed: u64, format: &str) -> String {
    let seed = seed.to_string();
    let path = scenario.to_str().expect("utf-8 path");
    ok(&["run", path, "--seed", &seed, "--format", format])
}

/// Runs the binary, which must succeed, and returns stdout; fails with the command.
pub fn ok(args: &[&str]) -> String {
    let out = faultline(args);
    assert!(
        out.status.success(),
        "faultline {} failed: {}",
        args.join(" "),
        stderr(&out)
    );
    stdout(&out)
}
