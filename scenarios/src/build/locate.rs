//! Finds where a diagnostic belongs in the scenario's text, from anchors written in it.

/// Finds where a problem is in the text: each anchor is searched for after the previous one,
/// so `[named("checkout"), "\"paymnts\""]` finds the bad call inside the checkout service. A
/// space in an anchor matches any whitespace, or none (`name:"x"` matches `name: "x"`).
/// Returns the 1-based line and column of the last anchor.
pub(super) fn locate(source: &str, anchors: &[&str]) -> Option<(usize, usize)> {
    let mut at = 0;
    let mut found = 0;
    for anchor in anchors {
        let (start, end) = find_spaced(&source[at..], anchor)?;
        found = at + start;
        at += end;
    }
    let before = &source[..found];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(found, |nl| found - nl - 1) + 1;
    Some((line, column))
}

/// The first match of `pattern` in `text`, where each space in the pattern matches any run of
/// whitespace (including none); returns its byte range.
fn find_spaced(text: &str, pattern: &str) -> Option<(usize, usize)> {
    let mut parts = pattern.split(' ').filter(|p| !p.is_empty());
    let first = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let mut from = 0;
    while let Some(offset) = text[from..].find(first) {
        let start = from + offset;
        let mut end = start + first.len();
        let matched = rest.iter().all(|part| {
            let skipped = text[end..].len() - text[end..].trim_start().len();
            if text[end + skipped..].starts_with(part) {
                end += skipped + part.len();
                true
            } else {
                false
            }
        });
        if matched {
            return Some((start, end));
        }
        from = start + first.len();
    }
    None
}

/// The anchor of a named item's definition (`name: "x"`), as opposed to a mere mention.
pub(super) fn named(name: &str) -> String {
    format!("name: \"{name}\"")
}

/// A name as it is written when it is mentioned (`"x"`).
pub(super) fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

#[cfg(test)]
mod tests {
    use super::{locate, named};

    #[test]
    fn locate_follows_anchors_in_order() {
        let text = "a: \"x\"\nb: \"y\",\n  c: \"x\"";
        assert_eq!(locate(text, &["\"x\""]), Some((1, 4)));
        assert_eq!(locate(text, &["b", "\"x\""]), Some((3, 6)));
        assert_eq!(locate(text, &["zzz"]), None);
        assert_eq!(locate("x\n  name:\t\"a\"", &[&named("a")]), Some((2, 3)));
        assert_eq!(
            locate("name: \"ab\", name: \"a\"", &[&named("a")]),
            Some((1, 13))
        );
    }
}
