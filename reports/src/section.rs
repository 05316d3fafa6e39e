//! The tables that the optional report sections (sagas, two-phase commits, stores) share:
//! one row of cells per item, written as aligned text, a Markdown table or an HTML table.

use std::fmt::Write as _;

use crate::common::escape_markup;

/// An aligned text table: the first `left` columns left-aligned, the others right-aligned, two
/// spaces apart, every line after `indent` and without trailing blanks. Widths count
/// characters, as the padding does, so a name outside ASCII keeps its column aligned.
pub(crate) fn text_table<R: AsRef<[String]>>(
    out: &mut String,
    indent: &str,
    left: usize,
    header: &[&str],
    rows: &[R],
) {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r.as_ref()[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let parts: Vec<String> = cells
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < left {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        let line = format!("{indent}{}", parts.join("  "));
        let _ = writeln!(out, "{}", line.trim_end());
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.as_ref().iter().map(String::as_str));
    }
}

/// A Markdown table, numbers (every column but the first) right-aligned, cells escaped.
pub(crate) fn markdown_table<R: AsRef<[String]>>(out: &mut String, header: &[&str], rows: &[R]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "| --- |{}", " ---: |".repeat(header.len() - 1));
    for r in rows {
        let cells: Vec<String> = r
            .as_ref()
            .iter()
            .map(|c| crate::markdown::escape(c))
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// An HTML table under an `<h2>` title, cells escaped.
pub(crate) fn html_table<R: AsRef<[String]>>(
    out: &mut String,
    title: &str,
    header: &[&str],
    rows: &[R],
) {
    let _ = write!(out, "<h2>{title}</h2>\n<table>\n<tr>");
    for h in header {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r.as_ref() {
            let _ = write!(out, "<td>{}</td>", escape_markup(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_table_aligns_by_characters_and_trims_trailing_blanks() {
        let rows = [
            vec!["café".to_owned(), "1".to_owned(), String::new()],
            vec!["tea".to_owned(), "22".to_owned(), String::new()],
        ];
        let mut out = String::new();
        text_table(&mut out, "  ", 1, &["name", "n", "x"], &rows);
        assert_eq!(out, "  name   n  x\n  café   1\n  tea   22\n");
    }
}
