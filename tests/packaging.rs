//! Issue 19 (publishable): every crate of the workspace carries the metadata a registry shows,
//! the same keywords and categories, and a README of its own that `cargo package` ships.

use std::process::Command;

#[test]
fn every_crate_has_consistent_registry_metadata() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let names: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "faultline",
        "faultline-sim-core",
        "faultline-models",
        "faultline-scenarios",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let first = &packages[0];
    for p in packages {
        let name = p["name"].as_str().unwrap();
        assert!(
            name.starts_with("faultline"),
            "{name}: every crate is faultline's"
        );
        for field in ["description", "license", "documentation", "readme"] {
            assert!(
                p[field].as_str().is_some_and(|v| !v.is_empty()),
                "{name}: no {field}"
            );
        }
        let keywords = p["keywords"].as_array().unwrap();
        assert!(
            (1..=5).contains(&keywords.len()),
            "{name}: crates.io takes 1 to 5 keywords"
        );
        assert_eq!(p["keywords"], first["keywords"], "{name}: keywords differ");
        assert_eq!(
            p["categories"], first["categories"],
            "{name}: categories differ"
        );
        let manifest = std::path::Path::new(p["manifest_path"].as_str().unwrap());
        let readme = manifest
            .parent()
            .unwrap()
            .join(p["readme"].as_str().unwrap());
        assert!(readme.is_file(), "{name}: {} is missing", readme.display());
    }
}
