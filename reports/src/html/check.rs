//! The check page (`check --format html`): the closing verdict, then per scenario a table of
//! its expectations with pass or fail, the measured value against the bound, the worst seed,
//! the failing seeds and the replay command of each failure.

use super::*;
use crate::check::ScenarioCheck;

const CHECK_CSS: &str = "\
.pass{color:#1a7f37;font-weight:600}
.fail{color:#c0392b;font-weight:600}
td.wrap{max-width:520px;overflow-wrap:anywhere}
p.verdict{font-size:1.1em;font-weight:600}
";

/// One self-contained HTML page for the results of `check` (inline CSS, the pages' small
/// script, no external URL, no wall clock); `paths` are the scenario files, in the order of
/// `checks`.
pub fn check_html(checks: &[ScenarioCheck], paths: &[String]) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let title = "faultline check";
    page_head(&mut out, title, CHECK_CSS);
    let (_, failed) = crate::check::tally(checks);
    let _ = writeln!(
        out,
        "<p class=\"verdict {}\">{}</p>",
        if failed == 0 { "pass" } else { "fail" },
        escape(&crate::check::summary_line(checks))
    );
    for (c, path) in checks.iter().zip(paths) {
        let _ = writeln!(
            out,
            "<h2>{}</h2>\n<p class=\"meta\"><code>{}</code> · seeds {}..{}</p>",
            escape(&c.scenario),
            escape(path),
            c.seeds.0,
            c.seeds.1
        );
        if let Some(message) = c.incomplete_message() {
            let _ = writeln!(
                out,
                "<p class=\"warning\"><strong>{}</strong> complete runs: {}</p>",
                if c.incomplete_fails() {
                    "FAIL"
                } else {
                    "Note (allowed):"
                },
                escape(&message)
            );
        }
        if c.results.is_empty() {
            out.push_str(
                "<p class=\"note\">No expectations (add an <code>expect: [...]</code> section \
                 to the scenario).</p>\n",
            );
            continue;
        }
        out.push_str(
            "<table>\n<thead><tr><th>verdict</th><th>expectation</th><th>measured</th>\
             <th>expected</th><th>worst seed</th><th>failing seeds</th></tr></thead>\n<tbody>\n",
        );
        crate::check::html_rows(&mut out, c);
        out.push_str("</tbody>\n</table>\n");
    }
    interact::script(&mut out);
    out.push_str("</body>\n</html>\n");
    out
}
