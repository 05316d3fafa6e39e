//! A scenario as the commands run it: read once, and for a swarm scenario (values drawn per
//! seed, `scenarios::swarm`) drawn again for every seed. `run --print-scenario` prints the
//! concrete scenario a seed draws.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use scenarios::Loaded;
use scenarios::swarm::{self, Draw};

/// A scenario file with its `--set` values: loaded once when it is plain, drawn per seed when
/// it is a swarm.
pub struct Source {
    pub path: PathBuf,
    text: String,
    settings: Vec<(String, String)>,
    /// The loaded scenario of a plain file.
    plain: Option<Loaded>,
    /// The same, through the library's facade (`run` and `check` run it).
    plain_scenario: Option<faultline::Scenario>,
    /// The deprecated spellings the file uses (of the probe's draw for a swarm file).
    pub warnings: Vec<String>,
}

impl Source {
    /// Reads and checks the file (its warnings are in `warnings`, not printed). A swarm file is checked by drawing `probe_seed` (the first
    /// seed the command runs), so a malformed swarm value is an error before any run.
    pub fn read(path: &Path, settings: &[(String, String)], probe_seed: u64) -> Result<Source> {
        let text = scenarios::read_source(path)?;
        let mut source = Source {
            path: path.to_owned(),
            settings: settings.to_vec(),
            plain: None,
            plain_scenario: None,
            text,
            warnings: Vec::new(),
        };
        if swarm::is_swarm(&source.text) {
            source.warnings = source.load(probe_seed)?.warnings.clone();
        } else {
            let loaded = scenarios::load_source_with(path, &source.text, settings)?;
            source.warnings = loaded.warnings.clone();
            source.plain = Some(loaded);
            source.plain_scenario = Some(faultline::Scenario::from_ron_with(
                path,
                &source.text,
                &source.load_options(),
            )?);
        }
        Ok(source)
    }

    /// The file's text as read (once: standard input cannot be read twice).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_swarm(&self) -> bool {
        self.plain.is_none()
    }

    /// The scenario as run with `seed`.
    pub fn load(&self, seed: u64) -> Result<Cow<'_, Loaded>> {
        if let Some(loaded) = &self.plain {
            return Ok(Cow::Borrowed(loaded));
        }
        let drawn = swarm::draw(&self.path, &self.text, seed)?;
        let loaded = scenarios::load_source_with(&self.path, &drawn.text, &self.settings)
            .with_context(|| self.drawn_note(seed))?;
        Ok(Cow::Owned(loaded))
    }

    /// The scenario as run with `seed`, through the library's facade. Custom kinds are refused,
    /// as the binary has no behaviour to run them with.
    pub fn scenario(&self, seed: u64) -> Result<Cow<'_, faultline::Scenario>> {
        if let Some(scenario) = &self.plain_scenario {
            return Ok(Cow::Borrowed(scenario));
        }
        let drawn = swarm::draw(&self.path, &self.text, seed)?;
        let scenario =
            faultline::Scenario::from_ron_with(&self.path, &drawn.text, &self.load_options())
                .with_context(|| self.drawn_note(seed))?;
        Ok(Cow::Owned(scenario))
    }

    fn load_options(&self) -> faultline::LoadOptions {
        faultline::LoadOptions {
            sets: self.settings.clone(),
            builtin_only: true,
        }
    }

    /// What seed `seed` drew, in file order (nothing for a plain file).
    pub fn draws(&self, seed: u64) -> Vec<Draw> {
        if self.is_swarm() {
            swarm::draw(&self.path, &self.text, seed).map_or_else(|_| Vec::new(), |d| d.draws)
        } else {
            Vec::new()
        }
    }

    /// The concrete scenario of `seed`, as a file of its own, with a first line saying where it
    /// comes from.
    pub fn concrete(&self, seed: u64) -> Result<String> {
        let drawn = swarm::draw(&self.path, &self.text, seed)?;
        Ok(format!(
            "// The scenario {} draws for seed {seed} (faultline run --print-scenario); run it \
             with --seed {seed} for the same run.\n{}",
            self.path.display(),
            drawn.text
        ))
    }

    /// Says where a problem in a drawn scenario comes from.
    fn drawn_note(&self, seed: u64) -> String {
        format!(
            "in the scenario drawn for seed {seed} (see it with: faultline run {} --seed {seed} \
             --print-scenario)",
            self.path.display()
        )
    }

    /// One line of what a seed drew: `multiply=13.2 (line 14), element left out (line 16)`.
    pub fn draws_line(&self, seed: u64) -> String {
        self.draws(seed)
            .iter()
            .map(|d| match d.value.as_str() {
                "kept" | "left out" => format!("{} {} (line {})", d.field, d.value, d.line),
                _ => format!("{}={} (line {})", d.field, d.value, d.line),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_file_is_loaded_once_and_a_swarm_file_per_seed() {
        let dir = std::env::temp_dir().join(format!("faultline-swarm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/library/checkout.ron");
        let plain = Source::read(&library, &[], 1).unwrap();
        assert!(!plain.is_swarm());
        assert!(matches!(plain.load(5).unwrap(), Cow::Borrowed(_)));
        let text = std::fs::read_to_string(&library)
            .unwrap()
            .replace("multiply: 10.0", "multiply: Between(2.0, 20.0)");
        let path = dir.join("swarm.ron");
        std::fs::write(&path, text).unwrap();
        let swarm = Source::read(&path, &[("duration".into(), "5m".into())], 1).unwrap();
        assert!(swarm.is_swarm());
        let one = swarm.load(1).unwrap();
        assert_eq!(one.config.duration, sim_core::SimDuration::from_secs(300));
        assert_ne!(swarm.draws_line(1), swarm.draws_line(2));
        assert!(swarm.draws_line(1).starts_with("multiply="));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
