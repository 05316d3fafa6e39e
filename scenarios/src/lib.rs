//! faultline's scenario language: RON files read into [`spec`] types, checked all at once
//! (every problem reported, each with file, line and column), and built into a
//! [`models::config::WorldConfig`].

mod build;
mod duration;
pub mod overrides;
pub mod spec;

use std::fmt;
use std::path::{Path, PathBuf};

pub use build::{build, build_with_warnings};
pub use duration::{Duration, parse_duration};

/// A problem found while checking a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line and column of the offending text, when it could be found.
    pub position: Option<(usize, usize)>,
    /// Where in the document, e.g. `services[1].calls[0].to`.
    pub field: String,
    pub message: String,
}

impl Diagnostic {
    /// `file:line:column: field: message`, or `file: field: message` without a position.
    pub fn in_file(&self, path: &Path) -> String {
        match self.position {
            Some((line, column)) => format!(
                "{}:{line}:{column}: {}: {}",
                path.display(),
                self.field,
                self.message
            ),
            None => format!("{}: {}: {}", path.display(), self.field, self.message),
        }
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The text is not a scenario (syntax, unknown or missing field, wrong type).
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// The scenario parses but is inconsistent; every problem is listed.
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
    /// A `--set PATH=VALUE` override could not be applied.
    Override {
        path: PathBuf,
        setting: String,
        message: String,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Io { path, source } => {
                write!(f, "{}: cannot read scenario: {source}", path.display())
            }
            ScenarioError::Parse {
                path,
                line,
                column,
                message,
            } => write!(f, "{}:{line}:{column}: {message}", path.display()),
            ScenarioError::Override {
                path,
                setting,
                message,
            } => write!(f, "{}: --set {setting}: {message}", path.display()),
            ScenarioError::Invalid { path, diagnostics } => {
                for (i, d) in diagnostics.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    f.write_str(&d.in_file(path))?;
                }
                Ok(())
            }
        }
    }
}

// The IO error's text is already part of the message, so it is not also returned as a
// `source` (error chains would print it twice).
impl std::error::Error for ScenarioError {}

/// A scenario read and checked, with the text it came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub scenario: spec::Scenario,
    pub config: models::config::WorldConfig,
    /// Deprecated spellings the file uses, one line each (`file:line:column: field: message`);
    /// the binary prints them on stderr as `warning: ...`.
    pub warnings: Vec<String>,
}

/// Reads, parses, checks and builds the scenario at `path`.
pub fn load(path: &Path) -> Result<Loaded, ScenarioError> {
    let source = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.to_owned(),
        source,
    })?;
    load_str(path, &source)
}

/// Reads the scenario at `path`, applies `settings` (`(PATH, VALUE)` pairs, in order; see
/// [`overrides`]), then checks and builds it.
pub fn load_with(path: &Path, settings: &[(String, String)]) -> Result<Loaded, ScenarioError> {
    let source = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut scenario = parse(path, &source)?;
    for (setting, value) in settings {
        overrides::apply(&mut scenario, setting, value).map_err(|message| {
            ScenarioError::Override {
                path: path.to_owned(),
                setting: format!("{setting}={value}"),
                message,
            }
        })?;
    }
    checked(path, scenario, &source)
}

/// Parses, checks and builds a scenario from text; `path` only names it in errors.
pub fn load_str(path: &Path, source: &str) -> Result<Loaded, ScenarioError> {
    checked(path, parse(path, source)?, source)
}

/// Checks and builds a parsed scenario; `source` locates the problems.
fn checked(path: &Path, scenario: spec::Scenario, source: &str) -> Result<Loaded, ScenarioError> {
    let (config, warnings) =
        build_with_warnings(&scenario, source).map_err(|diagnostics| ScenarioError::Invalid {
            path: path.to_owned(),
            diagnostics,
        })?;
    Ok(Loaded {
        path: path.to_owned(),
        scenario,
        config,
        warnings: warnings.iter().map(|w| w.in_file(path)).collect(),
    })
}

/// Parses the RON text of a scenario.
pub fn parse(path: &Path, source: &str) -> Result<spec::Scenario, ScenarioError> {
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    options
        .from_str::<spec::Scenario>(source)
        .map_err(|e| ScenarioError::Parse {
            path: path.to_owned(),
            line: e.span.start.line,
            column: e.span.start.col,
            message: describe(&e.code),
        })
}

/// ron's messages, reworded where they would puzzle someone writing a scenario.
fn describe(code: &ron::Error) -> String {
    let text = code.to_string();
    let text = text.strip_suffix('.').unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "invalid scenario".into(),
    }
}

#[cfg(test)]
mod tests;
