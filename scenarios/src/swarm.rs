//! Swarm scenarios: fault parameters drawn per seed, as TigerBeetle's VOPR and FoundationDB's
//! BUGGIFY do, so that a range of seeds explores many fault schedules instead of one.
//!
//! A swarm scenario is a scenario file in which a value may be
//!
//! - `Between(A, B)`: a number drawn uniformly in `[A, B]` (whole numbers when both ends are
//!   whole, else rounded to 4 significant digits), or a duration when both ends are durations
//!   (`Between("1m", "5m")`, whole milliseconds when both ends are);
//! - `OneOf([X, Y, ...])`: one of the values, each as likely (any RON value: a name, a target,
//!   a distribution, another swarm value);
//! - `Maybe(P, X)`, as an element of a list: the element `X` with probability `P`, else nothing;
//! - and, in a fault or partition with a `from` and no `to`, a `duration: D` field, which
//!   becomes `to: from + D`.
//!
//! The draws are a text transformation done before the file is parsed: the result, the
//! *concrete* scenario, is an ordinary scenario file (comments kept, a left-out element kept as
//! a comment) that `run --print-scenario` prints and that gives the same run when loaded
//! itself. The `k`-th swarm value of the file (in reading order, counting those inside choices
//! not taken) draws from its own stream `["swarm", k]` of the run's seed, so a seed names one
//! concrete scenario, the model's streams are untouched, and nothing depends on threads.

use std::path::Path;

use sim_core::{RngStreams, SimDuration};

use crate::ScenarioError;
use crate::duration::parse_duration;

/// The names of the swarm constructs, each followed by `(`.
const CONSTRUCTS: [&str; 3] = ["Between", "OneOf", "Maybe"];

/// The most swarm values one file may hold: far above any real use, a bound for hostile files.
pub const MAX_DRAWS: usize = 10_000;

/// One value drawn for a seed: where it stands in the file and what it became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draw {
    /// 1-based line and column of the swarm value in the swarm file.
    pub line: usize,
    pub column: usize,
    /// The field it is the value of (`multiply`), or for a `Maybe` the element's name
    /// (`Crash`).
    pub field: String,
    /// What it became: `13.21`, `"2m 3s"`, `left out`, `kept`.
    pub value: String,
}

/// A swarm scenario drawn for one seed.
#[derive(Clone, Debug)]
pub struct Drawn {
    /// The concrete scenario text.
    pub text: String,
    /// Every value drawn, in file order (choices not taken are not listed).
    pub draws: Vec<Draw>,
}

/// Whether the text uses swarm syntax (`Between(`, `OneOf(` or `Maybe(` outside strings and
/// comments). A file without it is read exactly as before.
pub fn is_swarm(source: &str) -> bool {
    let mut lexer = Lexer::new(source);
    while let Some(token) = lexer.next_token() {
        if let Kind::Ident(name) = token.kind
            && CONSTRUCTS.contains(&name)
            && lexer.peek_is(b'(')
        {
            return true;
        }
    }
    false
}

/// The concrete scenario drawn from `source` for `seed`; `path` only names the file in errors.
/// A text without swarm syntax comes back unchanged.
pub fn draw(path: &Path, source: &str, seed: u64) -> Result<Drawn, ScenarioError> {
    if !is_swarm(source) {
        return Ok(Drawn {
            text: source.to_owned(),
            draws: Vec::new(),
        });
    }
    let error = |at: usize, message: String| {
        let (line, column) = line_column(source, at);
        ScenarioError::Parse {
            path: path.to_owned(),
            line,
            column,
            message: crate::clip_names(&message),
        }
    };
    let mut parser = Parser {
        lexer: Lexer::new(source),
        next_ordinal: 0,
    };
    let root = match parser.document() {
        Ok(root) => root,
        Err(_) if parser.next_ordinal > MAX_DRAWS => {
            return Err(error(
                0,
                format!(
                    "more than {MAX_DRAWS} swarm values; a scenario may draw at most {MAX_DRAWS}"
                ),
            ));
        }
        // Not even balanced: ron's own parser says where, in its words.
        Err(_) => {
            return Ok(Drawn {
                text: source.to_owned(),
                draws: Vec::new(),
            });
        }
    };
    let mut drawer = Drawer {
        source,
        streams: RngStreams::new(seed),
        draws: Vec::new(),
    };
    let text = drawer
        .render(&root, None, false)
        .map_err(|(at, message)| error(at, message))?;
    Ok(Drawn {
        text,
        draws: drawer.draws,
    })
}

/// The file's values as a tree with their spans (`None` when the text is not balanced), for
/// the text edits of [`crate::shrink`].
pub(crate) fn outline(source: &str) -> Option<Node<'_>> {
    Parser {
        lexer: Lexer::new(source),
        next_ordinal: 0,
    }
    .document()
    .ok()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(source: &str, at: usize) -> (usize, usize) {
    let before = &source[..at.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// A duration as the shortest exact text `parse_duration` reads back: `"83.456s"`, `"250ms"`.
pub fn exact_duration(d: SimDuration) -> String {
    let ns = d.0;
    if ns == 0 {
        return "0s".into();
    }
    let (whole, fraction, unit) = if ns % 1_000_000_000 == 0 || ns >= 1_000_000_000 {
        (ns / 1_000_000_000, ns % 1_000_000_000, "s")
    } else if ns >= 1_000_000 {
        (ns / 1_000_000, ns % 1_000_000, "ms")
    } else {
        return format!("{ns}ns");
    };
    let digits = if unit == "s" { 9 } else { 6 };
    if fraction == 0 {
        format!("{whole}{unit}")
    } else {
        let f = format!("{fraction:0digits$}");
        format!("{whole}.{}{unit}", f.trim_end_matches('0'))
    }
}

// ---------------------------------------------------------------------------------------------
// A skimming lexer and parser: enough of RON to find values, lists and fields with their spans.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind<'a> {
    Ident(&'a str),
    /// A number, string, char or other word: copied as it is.
    Atom,
    Open(u8),
    Close(u8),
    Comma,
    Colon,
    /// A byte that is none of the above (`#`, `!`): copied as it is.
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Tok<'a> {
    kind: Kind<'a>,
    start: usize,
    end: usize,
}

struct Lexer<'a> {
    source: &'a str,
    at: usize,
}

impl<'a> Lexer<'a> {
    fn new(source: &'a str) -> Self {
        Lexer { source, at: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.source.as_bytes()
    }

    /// Skips whitespace and comments (`//` lines, nested `/* */` blocks).
    fn skip_trivia(&mut self) {
        let b = self.bytes();
        loop {
            while self.at < b.len() && b[self.at].is_ascii_whitespace() {
                self.at += 1;
            }
            if b[self.at..].starts_with(b"//") {
                while self.at < b.len() && b[self.at] != b'\n' {
                    self.at += 1;
                }
            } else if b[self.at..].starts_with(b"/*") {
                let mut depth = 0usize;
                while self.at < b.len() {
                    if b[self.at..].starts_with(b"/*") {
                        depth += 1;
                        self.at += 2;
                    } else if b[self.at..].starts_with(b"*/") {
                        depth -= 1;
                        self.at += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        self.at += 1;
                    }
                }
            } else {
                return;
            }
        }
    }

    fn peek_is(&mut self, byte: u8) -> bool {
        self.skip_trivia();
        self.bytes().get(self.at) == Some(&byte)
    }

    fn next_token(&mut self) -> Option<Tok<'a>> {
        self.skip_trivia();
        let b = self.bytes();
        let start = self.at;
        let &c = b.get(start)?;
        let kind = match c {
            b'(' | b'[' | b'{' => {
                self.at += 1;
                Kind::Open(c)
            }
            b')' | b']' | b'}' => {
                self.at += 1;
                Kind::Close(c)
            }
            b',' => {
                self.at += 1;
                Kind::Comma
            }
            b':' => {
                self.at += 1;
                Kind::Colon
            }
            b'"' | b'\'' => {
                self.at += 1;
                while self.at < b.len() && b[self.at] != c {
                    self.at += if b[self.at] == b'\\' { 2 } else { 1 };
                }
                self.at = (self.at + 1).min(b.len());
                Kind::Atom
            }
            b'r' if matches!(b.get(start + 1), Some(b'"' | b'#')) => {
                let hashes = b[start + 1..].iter().take_while(|&&h| h == b'#').count();
                let mut close = vec![b'"'];
                close.extend(std::iter::repeat_n(b'#', hashes));
                self.at = start + 2 + hashes;
                while self.at < b.len() && !b[self.at..].starts_with(&close) {
                    self.at += 1;
                }
                self.at = (self.at + close.len()).min(b.len());
                Kind::Atom
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while self.at < b.len()
                    && (b[self.at].is_ascii_alphanumeric() || b[self.at] == b'_')
                {
                    self.at += 1;
                }
                Kind::Ident(&self.source[start..self.at])
            }
            c if c.is_ascii_digit() || c == b'-' || c == b'+' || c == b'.' => {
                while self.at < b.len()
                    && (b[self.at].is_ascii_alphanumeric() || b"._+-".contains(&b[self.at]))
                {
                    self.at += 1;
                }
                Kind::Atom
            }
            _ => {
                // One whole character, so a slice never cuts a UTF-8 sequence.
                self.at += self.source[start..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
                Kind::Other
            }
        };
        Some(Tok {
            kind,
            start,
            end: self.at,
        })
    }
}

/// A value of the file with its span.
#[derive(Debug)]
pub(crate) enum Node<'a> {
    /// A word, number or string; `ident` when it is a bare identifier.
    Atom { start: usize, end: usize },
    /// `Name(...)`, `(...)`, `[...]` or `{...}`.
    Group {
        name: Option<&'a str>,
        open: u8,
        start: usize,
        end: usize,
        items: Vec<Item<'a>>,
        /// For a swarm construct: its place in reading order.
        ordinal: Option<usize>,
    },
}

impl Node<'_> {
    pub(crate) fn span(&self) -> (usize, usize) {
        match self {
            Node::Atom { start, end } | Node::Group { start, end, .. } => (*start, *end),
        }
    }
}

/// An element of a group: `value` or `key: value`, and where its trailing comma ends.
#[derive(Debug)]
pub(crate) struct Item<'a> {
    pub(crate) key: Option<&'a str>,
    pub(crate) start: usize,
    pub(crate) value: Node<'a>,
    /// The end of the comma after it, if there is one.
    pub(crate) comma_end: Option<usize>,
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    next_ordinal: usize,
}

/// Why the skim stopped: the file is not balanced RON; ron will say where.
struct Unbalanced;

impl<'a> Parser<'a> {
    /// The whole file: its values one after another (`#![enable(...)]`, then the scenario).
    fn document(&mut self) -> Result<Node<'a>, Unbalanced> {
        let mut items = Vec::new();
        loop {
            self.lexer.skip_trivia();
            let start = self.lexer.at;
            if start >= self.lexer.source.len() {
                return Ok(Node::Group {
                    name: None,
                    open: 0,
                    start: 0,
                    end: start,
                    items,
                    ordinal: None,
                });
            }
            let value = self.value(0)?;
            items.push(Item {
                key: None,
                start,
                value,
                comma_end: None,
            });
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, Unbalanced> {
        if depth > crate::MAX_NESTING {
            return Err(Unbalanced);
        }
        let token = self.lexer.next_token().ok_or(Unbalanced)?;
        match token.kind {
            Kind::Open(open) => self.group(None, open, token.start, None, depth),
            Kind::Ident(name) if self.lexer.peek_is(b'(') => {
                let ordinal = if CONSTRUCTS.contains(&name) {
                    self.next_ordinal += 1;
                    if self.next_ordinal > MAX_DRAWS {
                        return Err(Unbalanced);
                    }
                    Some(self.next_ordinal - 1)
                } else {
                    None
                };
                // The `(` itself.
                self.lexer.next_token().ok_or(Unbalanced)?;
                self.group(Some(name), b'(', token.start, ordinal, depth)
            }
            Kind::Ident(_) | Kind::Atom | Kind::Other => Ok(Node::Atom {
                start: token.start,
                end: token.end,
            }),
            Kind::Close(_) | Kind::Comma | Kind::Colon => Err(Unbalanced),
        }
    }

    fn group(
        &mut self,
        name: Option<&'a str>,
        open: u8,
        start: usize,
        ordinal: Option<usize>,
        depth: usize,
    ) -> Result<Node<'a>, Unbalanced> {
        let close = match open {
            b'(' => b')',
            b'[' => b']',
            _ => b'}',
        };
        let mut items = Vec::new();
        loop {
            self.lexer.skip_trivia();
            let at = self.lexer.at;
            if self.lexer.bytes().get(at) == Some(&close) {
                self.lexer.at += 1;
                return Ok(Node::Group {
                    name,
                    open,
                    start,
                    end: self.lexer.at,
                    items,
                    ordinal,
                });
            }
            let first = self.value(depth + 1)?;
            let (key, value) = if self.lexer.peek_is(b':') {
                self.lexer.next_token();
                let key = match first {
                    Node::Atom { start, end } => Some(&self.lexer.source[start..end]),
                    Node::Group { .. } => None,
                };
                (key, self.value(depth + 1)?)
            } else {
                (None, first)
            };
            let comma_end = if self.lexer.peek_is(b',') {
                self.lexer.next_token().map(|t| t.end)
            } else {
                None
            };
            let ends = comma_end.is_some();
            items.push(Item {
                key,
                start: at,
                value,
                comma_end,
            });
            if !ends && !self.lexer.peek_is(close) {
                return Err(Unbalanced);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Drawing: the tree rendered back to text with every swarm value replaced by its draw.

type DrawError = (usize, String);

struct Drawer<'a> {
    source: &'a str,
    streams: RngStreams,
    draws: Vec<Draw>,
}

/// A number as written: whole or not.
enum Number {
    Whole(i64),
    Real(f64),
}

fn number(text: &str) -> Option<Number> {
    let text = text.replace('_', "");
    if let Ok(n) = text.parse::<i64>() {
        return Some(Number::Whole(n));
    }
    text.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(Number::Real)
}

impl<'a> Drawer<'a> {
    fn text(&self, node: &Node) -> &'a str {
        let (start, end) = node.span();
        &self.source[start..end]
    }

    fn note(&mut self, at: usize, field: Option<&str>, value: String) {
        let (line, column) = line_column(self.source, at);
        self.draws.push(Draw {
            line,
            column,
            field: field.unwrap_or("element").to_owned(),
            value,
        });
    }

    /// The node's text with its swarm values drawn. `field` is the key it is the value of;
    /// `in_list` whether it is an element of a `[...]` list (where `Maybe` may stand).
    fn render(
        &mut self,
        node: &Node,
        field: Option<&str>,
        in_list: bool,
    ) -> Result<String, DrawError> {
        let Node::Group {
            name,
            open,
            start,
            end,
            items,
            ordinal,
        } = node
        else {
            return Ok(self.text(node).to_owned());
        };
        if let (Some(name), Some(ordinal)) = (name, ordinal) {
            return self.construct(name, *ordinal, *start, items, field, in_list);
        }
        // The group itself: the source between its elements, each element rendered.
        let mut out = String::new();
        let mut at = *start;
        let mut rewrite_duration = None;
        if name.is_some() {
            let has = |k: &str| items.iter().any(|i| i.key == Some(k));
            if has("from") && has("duration") && !has("to") {
                rewrite_duration = Some(());
            }
        }
        let mut from_value = None;
        for item in items {
            let (value_start, value_end) = item.value.span();
            // Whether this element is a `Maybe(...)` left out by the draw.
            let rendered = self.render(&item.value, item.key, *open == b'[')?;
            if item.key == Some("from") {
                from_value = Some((rendered.clone(), value_start));
            }
            if rendered == LEFT_OUT {
                out.push_str(&self.source[at..item.start]);
                let end = item.comma_end.unwrap_or(value_end);
                let original = &self.source[item.start..end];
                out.push_str("/* left out by the draw: ");
                out.push_str(&original.replace("*/", "* /").replace("/*", "/ *"));
                out.push_str(" */");
                at = end;
                continue;
            }
            if rewrite_duration.is_some() && item.key == Some("duration") {
                let (from, from_at) = from_value.clone().ok_or((
                    item.start,
                    "`duration` must come after `from` in the same fault".to_owned(),
                ))?;
                let d = |text: &str, at: usize| {
                    parse_duration(text.trim().trim_matches('"')).map_err(|e| (at, e))
                };
                let sum = d(&from, from_at)? + d(&rendered, value_start)?;
                out.push_str(&self.source[at..item.start]);
                out.push_str(&format!("to: \"{}\"", exact_duration(sum)));
                at = value_end;
                continue;
            }
            out.push_str(&self.source[at..value_start]);
            out.push_str(&rendered);
            at = value_end;
        }
        out.push_str(&self.source[at..*end]);
        Ok(out)
    }

    fn construct(
        &mut self,
        name: &str,
        ordinal: usize,
        start: usize,
        items: &[Item],
        field: Option<&str>,
        in_list: bool,
    ) -> Result<String, DrawError> {
        let mut rng = self.streams.stream(&["swarm", &ordinal.to_string()]);
        let args: Vec<&Node> = items.iter().map(|i| &i.value).collect();
        if let Some(keyed) = items.iter().find(|i| i.key.is_some()) {
            return Err((
                keyed.start,
                format!("{name}(...) takes its arguments without names"),
            ));
        }
        match name {
            "Between" => {
                let [a, b] = args.as_slice() else {
                    return Err((
                        start,
                        "Between takes two values: Between(2.0, 20.0) or Between(\"1m\", \"5m\")"
                            .into(),
                    ));
                };
                let (ta, tb) = (self.text(a), self.text(b));
                let value = if ta.starts_with('"') && tb.starts_with('"') {
                    let parse = |t: &str, node: &Node| {
                        parse_duration(t.trim_matches('"')).map_err(|e| (node.span().0, e))
                    };
                    let (lo, hi) = (parse(ta, a)?, parse(tb, b)?);
                    if lo > hi {
                        return Err((
                            start,
                            format!("Between({ta}, {tb}): the first end is above the second"),
                        ));
                    }
                    let ms = 1_000_000;
                    let drawn = if lo.0 % ms == 0 && hi.0 % ms == 0 {
                        SimDuration((lo.0 / ms + rng.below_inclusive(hi.0 / ms - lo.0 / ms)) * ms)
                    } else {
                        SimDuration(lo.0 + rng.below_inclusive(hi.0 - lo.0))
                    };
                    format!("\"{}\"", exact_duration(drawn))
                } else {
                    let bad = || {
                        (
                            start,
                            format!(
                                "Between({ta}, {tb}): expected two numbers (Between(2.0, 20.0)) \
                                 or two durations (Between(\"1m\", \"5m\"))"
                            ),
                        )
                    };
                    match (number(ta).ok_or_else(bad)?, number(tb).ok_or_else(bad)?) {
                        (Number::Whole(lo), Number::Whole(hi)) => {
                            if lo > hi {
                                return Err((
                                    start,
                                    format!(
                                        "Between({ta}, {tb}): the first end is above the second"
                                    ),
                                ));
                            }
                            let span = hi.abs_diff(lo);
                            let drawn = i128::from(lo) + i128::from(rng.below_inclusive(span));
                            drawn.to_string()
                        }
                        (lo, hi) => {
                            let real = |n: Number| match n {
                                Number::Whole(w) => w as f64,
                                Number::Real(r) => r,
                            };
                            let (lo, hi) = (real(lo), real(hi));
                            if lo > hi {
                                return Err((
                                    start,
                                    format!(
                                        "Between({ta}, {tb}): the first end is above the second"
                                    ),
                                ));
                            }
                            let x = lo + (hi - lo) * rng.uniform();
                            // Four significant digits: readable, and exact once printed.
                            let rounded: f64 = format!("{x:.3e}").parse().unwrap_or(x);
                            format!("{:?}", rounded.clamp(lo, hi))
                        }
                    }
                };
                self.note(start, field, value.clone());
                Ok(value)
            }
            "OneOf" => {
                let choices = match args.as_slice() {
                    [
                        Node::Group {
                            name: None,
                            open: b'[',
                            items,
                            ..
                        },
                    ] if !items.is_empty() => items,
                    _ => {
                        return Err((
                            start,
                            "OneOf takes one non-empty list: OneOf([\"payments\", \"inventory\"])"
                                .into(),
                        ));
                    }
                };
                let pick = rng.below_inclusive(choices.len() as u64 - 1) as usize;
                let chosen = &choices[pick];
                if let Some(key) = chosen.key {
                    return Err((
                        chosen.start,
                        format!("OneOf's choices are values, not fields (`{key}:`)"),
                    ));
                }
                let value = self.render(&chosen.value, field, false)?;
                self.note(start, field, value.clone());
                Ok(value)
            }
            _ => {
                let [p, element] = args.as_slice() else {
                    return Err((
                        start,
                        "Maybe takes a probability and an element: Maybe(0.5, Crash(...))".into(),
                    ));
                };
                if !in_list {
                    return Err((start, "Maybe(...) may only stand for an element of a list, such as a fault in `faults: [...]`".into()));
                }
                let p = match number(self.text(p)) {
                    Some(Number::Whole(w)) if (0..=1).contains(&w) => w as f64,
                    Some(Number::Real(r)) if (0.0..=1.0).contains(&r) => r,
                    _ => {
                        return Err((
                            p.span().0,
                            format!(
                                "Maybe's probability {} is not a number between 0 and 1",
                                self.text(p)
                            ),
                        ));
                    }
                };
                let what = match element {
                    Node::Group { name: Some(n), .. } => *n,
                    _ => "element",
                };
                if rng.chance(p) {
                    self.note(start, Some(what), "kept".into());
                    self.render(element, field, false)
                } else {
                    self.note(start, Some(what), "left out".into());
                    Ok(LEFT_OUT.to_owned())
                }
            }
        }
    }
}

/// What a `Maybe` left out renders as, for its list to replace with a comment.
const LEFT_OUT: &str = "\u{0}left out\u{0}";

#[cfg(test)]
#[path = "swarm_tests.rs"]
mod tests;
