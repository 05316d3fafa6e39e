//! Banned patterns in the simulation crates: the determinism rules as a test (STYLE.md).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn simulation_code_has_no_banned_patterns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "sim-core/src",
        "models/src",
        "scenarios/src",
        "reports/src",
        "src",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() >= 10, "found only {} files", files.len());
    // Split so this file does not match itself.
    let banned = [
        ["Hash", "Map"].concat(),
        ["Hash", "Set"].concat(),
        ["Instant", "::now"].concat(),
        ["SystemTime", "::now"].concat(),
        ["thread", "_rng"].concat(),
        ["rand::", "random"].concat(),
        ["from_", "entropy"].concat(),
        ["todo", "!("].concat(),
        ["unimplemented", "!("].concat(),
        ["#[", "ignore"].concat(),
        ["should", "_panic"].concat(),
        ["par_iter().", "sum"].concat(),
    ];
    let mut hits = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("utf-8 source");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            // The one deliberate wall clock: --max-wall (src/wall.rs), which stops a run
            // between events and changes nothing before it does.
            let wall_clock_allowed = file.ends_with("src/wall.rs");
            for pattern in &banned {
                if line.contains(pattern.as_str())
                    && !(wall_clock_allowed && pattern.starts_with("Instant"))
                {
                    hits.push(format!("{}:{}: {pattern}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(hits.is_empty(), "banned patterns:\n{}", hits.join("\n"));
}

/// Issue 13: the binary writes standard output only through `print_stdout`, which turns a
/// write error into exit 2; `println!` and `print!` panic on a full disk.
#[test]
fn the_binary_never_prints_with_a_panicking_macro() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    // Split so this file does not match itself; `eprintln!` is preceded by an `e`.
    let banned = [["print", "ln!("].concat(), ["print", "!("].concat()];
    let mut hits = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("utf-8 source");
        for (n, line) in text.lines().enumerate() {
            for pattern in &banned {
                let found = line.match_indices(pattern.as_str()).any(|(i, _)| {
                    !line[..i].ends_with('e')
                        && !line[..i].ends_with(|c: char| c == '_' || c.is_alphanumeric())
                });
                if found {
                    hits.push(format!("{}:{}: {pattern}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(hits.is_empty(), "use print_stdout:\n{}", hits.join("\n"));
}
