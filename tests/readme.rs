//! The README's examples run: every ```text block that starts with `$ faultline ...` is run (in a
//! directory of its own that sees the repository's `scenarios` and `tests`, `faultline` being
//! the binary under test) and its output compared with
//! the block; a block cut with a `...` line is compared up to there. Every complete scenario in
//! a ```ron block validates. A command that only illustrates (a file the reader would make) is
//! listed in ILLUSTRATIVE with the reason, so a new example cannot silently go unchecked.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// First lines of blocks that show what a reader's own file does, not a file in the repository.
const ILLUSTRATIVE: &[&str] = &[
    // A copy of checkout.ron with a typo, made by the reader.
    "$ faultline run checkout.ron",
];

fn blocks(readme: &str, language: &str) -> Vec<(usize, String)> {
    let fence = format!("```{language}\n");
    let mut out = Vec::new();
    let mut rest = readme;
    let mut offset = 0;
    while let Some(start) = rest.find(&fence) {
        let body_start = start + fence.len();
        let Some(len) = rest[body_start..].find("```") else {
            break;
        };
        let line = readme[..offset + start].lines().count() + 1;
        out.push((line, rest[body_start..body_start + len].to_owned()));
        offset += body_start + len + 3;
        rest = &readme[offset..];
    }
    out
}

fn has(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_command_shown_in_the_readme_prints_what_the_readme_says() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_faultline"));
    let bin_dir = binary.parent().expect("a directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Commands run in a directory of their own that sees the repository's scenarios, so what
    // they write (`shrink` writes its result to the current directory) stays out of the tree.
    let work = temp_dir("readme-commands");
    for dir in ["scenarios", "tests"] {
        std::os::unix::fs::symlink(root().join(dir), work.join(dir)).expect("symlink");
    }
    let mut ran = 0;
    for (line, block) in blocks(&readme, "text") {
        let Some(first) = block.lines().next() else {
            continue;
        };
        if !first.starts_with("$ faultline ") || ILLUSTRATIVE.contains(&first) {
            continue;
        }
        let command = &first[2..];
        if command.contains("| jq") && !has("jq") {
            eprintln!("README.md:{line}: skipped, jq is not installed: {command}");
            continue;
        }
        let expected: Vec<&str> = block.lines().skip(1).collect();
        let cut = expected.iter().position(|l| *l == "...");
        let out = Command::new("sh")
            .args(["-c", command])
            .current_dir(&work)
            .env("PATH", &path)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .expect("sh runs");
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        let printed: Vec<&str> = printed.lines().collect();
        match cut {
            Some(n) => assert_eq!(
                printed.get(..n),
                Some(&expected[..n]),
                "README.md:{line}: `{command}` prints something else (first {n} lines)"
            ),
            None => assert_eq!(
                printed, expected,
                "README.md:{line}: `{command}` prints something else"
            ),
        }
        ran += 1;
    }
    assert!(ran >= 4, "only {ran} README commands ran");
}

#[test]
fn every_scenario_snippet_in_the_readme_is_valid() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let dir = temp_dir("readme-scenarios");
    let mut checked = 0;
    for (line, block) in blocks(&readme, "ron") {
        // A whole scenario must validate; a fragment (a service, a field) must be RON.
        if block.trim_start().starts_with("Scenario(") {
            let file = dir.join(format!("readme-{line}.ron"));
            std::fs::write(&file, &block).expect("write");
            let out = faultline(&["validate", file.to_str().expect("utf-8")]);
            assert!(
                out.status.success(),
                "README.md:{line}: the scenario does not validate: {}",
                stderr(&out)
            );
        } else {
            let wrapped = format!("(\n{block}\n)");
            if let Err(e) = ron::from_str::<ron::Value>(&wrapped) {
                panic!("README.md:{line}: the snippet is not RON: {e}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} RON blocks in the README");
}
