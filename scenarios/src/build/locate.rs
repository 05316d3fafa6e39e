//! Finds where a diagnostic belongs in the scenario's text, from anchors written in it.

/// Finds where a problem is in the text: each anchor is searched for after the previous one,
/// so `[named("checkout"), "\"paymnts\""]` finds the bad call inside the checkout service. A
/// space in an anchor matches any whitespace, or none (`name:"x"` matches `name: "x"`).
/// Returns the 1-based line and column of the last anchor.
pub(super) fn locate(source: &str, anchors: &[&str]) -> Option<(usize, usize)> {
    find(source, 0, anchors).map(|(start, _)| position(source, start))
}

/// Like [`locate`], inside the `index`-th element of the list that follows the `list` anchors
/// (`partitions: [(...), (...)]`): the `inner` anchors are searched from that element's start;
/// when there are none, or they are not found, the element itself is the place.
pub(super) fn locate_item(
    source: &str,
    list: &[&str],
    index: usize,
    inner: &[&str],
) -> Option<(usize, usize)> {
    let (_, after) = find(source, 0, list)?;
    let open = after + source[after..].find('[')?;
    let start = element(source.as_bytes(), open, index)?;
    let found = match find(source, start, inner) {
        Some((found, _)) if !inner.is_empty() => found,
        _ => start,
    };
    Some(position(source, found))
}

/// The byte range of the last anchor, each searched for after the previous one, from `from`.
fn find(source: &str, from: usize, anchors: &[&str]) -> Option<(usize, usize)> {
    let mut at = from;
    let mut found = from;
    for anchor in anchors {
        let (start, end) = find_spaced(&source[at..], anchor)?;
        found = at + start;
        at += end;
    }
    Some((found, at))
}

/// The 1-based line and column of a byte offset.
fn position(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// Where the `index`-th element of the list opened at `open` (a `[`) starts: elements are
/// separated by the commas outside brackets, parentheses, braces, strings and comments.
fn element(text: &[u8], open: usize, index: usize) -> Option<usize> {
    let (mut depth, mut count, mut expecting) = (0usize, 0usize, true);
    let mut i = open + 1;
    while i < text.len() {
        let b = text[i];
        if b == b'/' && text.get(i + 1) == Some(&b'/') {
            i += text[i..]
                .iter()
                .position(|&c| c == b'\n')
                .unwrap_or(text.len() - i);
            continue;
        }
        if depth == 0 && expecting && !b.is_ascii_whitespace() && !matches!(b, b',' | b']') {
            if count == index {
                return Some(i);
            }
            count += 1;
            expecting = false;
        }
        match b {
            b'"' => i = string_end(text, i),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => return None,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => expecting = true,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset of the quote that closes the string opened at `start`.
fn string_end(text: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < text.len() && text[i] != b'"' {
        i += if text[i] == b'\\' { 2 } else { 1 };
    }
    i
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
    use super::{locate, locate_item, named};

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

    #[test]
    fn locate_item_counts_the_elements_of_a_list() {
        let text = "x: [(a: \"p,q\"), // one, two\n  (a: [1, 2], b: 3), (b: 4)]\nb: 5";
        assert_eq!(locate_item(text, &["x"], 0, &[]), Some((1, 5)));
        assert_eq!(locate_item(text, &["x"], 1, &["b"]), Some((2, 15)));
        assert_eq!(locate_item(text, &["x"], 2, &["b"]), Some((2, 23)));
        assert_eq!(locate_item(text, &["x"], 2, &["zzz"]), Some((2, 22)));
        assert_eq!(locate_item(text, &["x"], 3, &[]), None);
    }
}
