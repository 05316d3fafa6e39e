//! faultline's scenario language: RON files read into [`spec`] types, checked all at once
//! (every problem reported, each with file, line and column), and built into a
//! [`models::config::WorldConfig`].

mod build;
mod duration;
pub mod overrides;
pub mod shrink;
mod size;
pub mod spec;
pub mod swarm;

use std::fmt;
use std::path::{Path, PathBuf};

pub use build::tune::METRICS as TUNE_METRICS;
pub use build::{build, build_allowing_custom, build_with_warnings};
pub use duration::{Duration, parse_duration};
pub use size::{ByteSize, parse_size};

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

/// The largest scenario file read: far above any real scenario (the library's largest is a few
/// kilobytes), far below what would strain memory.
pub const MAX_SCENARIO_BYTES: u64 = 8 * 1024 * 1024;

/// Reads, parses, checks and builds the scenario at `path` (`-` is standard input).
pub fn load(path: &Path) -> Result<Loaded, ScenarioError> {
    let source = read_source(path)?;
    load_str(path, &source)
}

/// Reads the scenario at `path` (`-` is standard input), applies `settings` (`(PATH, VALUE)`
/// pairs, in order; see [`overrides`]), then checks and builds it.
pub fn load_with(path: &Path, settings: &[(String, String)]) -> Result<Loaded, ScenarioError> {
    load_source_with(path, &read_source(path)?, settings)
}

/// [`load_with`] for a text already read (a swarm scenario drawn for a seed, see [`swarm`]).
pub fn load_source_with(
    path: &Path,
    source: &str,
    settings: &[(String, String)],
) -> Result<Loaded, ScenarioError> {
    let scenario = parsed_with(path, source, settings)?;
    checked(path, scenario, source)
}

/// [`load_source_with`] for the `faultline` library: services of kind `Custom(name)` are
/// accepted (the library runs them with its registered behaviours; the binary refuses them).
pub fn load_library(
    path: &Path,
    source: &str,
    settings: &[(String, String)],
) -> Result<Loaded, ScenarioError> {
    let scenario = parsed_with(path, source, settings)?;
    let built = build_allowing_custom(&scenario, source);
    loaded(path, scenario, built)
}

/// The text of the scenario at `path`, or of standard input for `-`. Only a regular file is
/// opened (a FIFO would block, a device such as `/dev/zero` never ends), and no more than
/// [`MAX_SCENARIO_BYTES`] are read from either.
pub fn read_source(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read;
    let io = |source: std::io::Error| ScenarioError::Io {
        path: path.to_owned(),
        source,
    };
    let other = |message: String| io(std::io::Error::other(message));
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_SCENARIO_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    } else {
        let kind = std::fs::metadata(path).map_err(io)?.file_type();
        if !kind.is_file() {
            let what = if kind.is_dir() {
                "a directory"
            } else {
                "not a regular file (a device, FIFO or socket)"
            };
            return Err(other(format!(
                "it is {what}; expected a scenario file, or - for standard input"
            )));
        }
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_SCENARIO_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    }
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(other(format!(
            "it is larger than {} MiB, the most a scenario file may be",
            MAX_SCENARIO_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        other(format!(
            "it is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parses, checks and builds a scenario from text; `path` only names it in errors.
pub fn load_str(path: &Path, source: &str) -> Result<Loaded, ScenarioError> {
    checked(path, parse(path, source)?, source)
}

/// Checks and builds a parsed scenario; `source` locates the problems.
/// The scenario parsed from `source` with `settings` applied in order, not yet checked.
fn parsed_with(
    path: &Path,
    source: &str,
    settings: &[(String, String)],
) -> Result<spec::Scenario, ScenarioError> {
    let mut scenario = parse(path, source)?;
    for (setting, value) in settings {
        overrides::apply(&mut scenario, setting, value).map_err(|message| {
            ScenarioError::Override {
                path: path.to_owned(),
                setting: format!("{setting}={value}"),
                message,
            }
        })?;
    }
    Ok(scenario)
}

fn checked(path: &Path, scenario: spec::Scenario, source: &str) -> Result<Loaded, ScenarioError> {
    let built = build_with_warnings(&scenario, source);
    loaded(path, scenario, built)
}

fn loaded(
    path: &Path,
    scenario: spec::Scenario,
    built: Result<(models::config::WorldConfig, Vec<Diagnostic>), Vec<Diagnostic>>,
) -> Result<Loaded, ScenarioError> {
    let (config, warnings) = built.map_err(|diagnostics| ScenarioError::Invalid {
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

/// How deeply brackets and parentheses may nest: ron's own limit, which keeps a hostile file
/// from overflowing the stack.
pub const MAX_NESTING: usize = 128;

/// Parses the RON text of a scenario.
pub fn parse(path: &Path, source: &str) -> Result<spec::Scenario, ScenarioError> {
    let options = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .with_recursion_limit(MAX_NESTING);
    options.from_str::<spec::Scenario>(source).map_err(|e| {
        let (line, column) = (e.span.start.line, e.span.start.col);
        let (column, message) = match decimal_at(source, line, column) {
            // ron read the whole part of `64.5` as an integer and stops at the point.
            Some((start, number)) => (
                start,
                format!("{number} is not a whole number; expected an integer"),
            ),
            None => (column, describe(&e.code)),
        };
        ScenarioError::Parse {
            path: path.to_owned(),
            line,
            column,
            message: clip_names(&message),
        }
    })
}

/// When the parse stopped at the point of a decimal number (`64.5` where an integer belongs),
/// the column where the number starts and the number.
fn decimal_at(source: &str, line: usize, column: usize) -> Option<(usize, String)> {
    let text = source.lines().nth(line.checked_sub(1)?)?;
    let chars: Vec<char> = text.chars().collect();
    let at = column.checked_sub(1)?;
    let digit = |i: usize| chars.get(i).is_some_and(|c| c.is_ascii_digit());
    if chars.get(at) != Some(&'.') || !digit(at.checked_sub(1)?) || !digit(at + 1) {
        return None;
    }
    let start = (0..at)
        .rev()
        .take_while(|&i| digit(i) || chars[i] == '-')
        .last()?;
    let end = (at + 1..chars.len())
        .find(|&i| !digit(i))
        .unwrap_or(chars.len());
    Some((start + 1, chars[start..end].iter().collect()))
}

/// ron's messages, reworded where they would puzzle someone writing a scenario.
fn describe(code: &ron::Error) -> String {
    match code {
        ron::Error::ExceededRecursionLimit => {
            return format!(
                "brackets and parentheses nest more than {MAX_NESTING} levels deep here; a \
                 scenario may nest at most {MAX_NESTING}: flatten this part of the file (for \
                 one, a parallel step's calls can sit side by side in one parallel list)"
            );
        }
        ron::Error::InvalidIntegerDigit { .. } | ron::Error::ExpectedInteger => {
            return "expected an integer (a whole number such as 64)".into();
        }
        ron::Error::IntegerOutOfBounds => {
            return "the integer is out of range for this field (negative, or too large)".into();
        }
        _ => {}
    }
    let text = code.to_string();
    let text = text.strip_suffix('.').unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "invalid scenario".into(),
    }
}

/// The most characters of a name a message repeats: a bad name 10,000 characters long is
/// shown by its start.
pub const MAX_NAME_SHOWN: usize = 80;

/// `message` with every quoted name (`"..."` or `` `...` ``) and every unbroken word longer
/// than [`MAX_NAME_SHOWN`] characters cut to that length, with `...` after it.
pub fn clip_names(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    let mut run = 0usize;
    let mut quote: Option<char> = None;
    let mut clipped = false;
    for ch in message.chars() {
        let boundary = match quote {
            Some(q) => ch == q,
            None => ch.is_whitespace() || ch == ',' || ch == '"' || ch == '`',
        };
        if boundary {
            if quote.is_none() && (ch == '"' || ch == '`') {
                quote = Some(ch);
            } else if quote == Some(ch) {
                quote = None;
            }
            run = 0;
            clipped = false;
            out.push(ch);
            continue;
        }
        run += 1;
        if run <= MAX_NAME_SHOWN {
            out.push(ch);
        } else if !clipped {
            out.push_str("...");
            clipped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;
