//! The sweep document as CSV and Markdown (`sweep --format csv|md`, `merge --format csv|md`);
//! the HTML page is `crate::html::sweep_html`. Both are made from the document alone, so a
//! merged sweep prints the same bytes as the unsharded one.

use std::fmt::Write as _;

use super::{Definition, Document, MetricAggregate};
use crate::common::{finite, round_to};
use crate::markdown::{escape, table_header, table_row};

/// The columns of the sweep CSV after the parameters' (one per `--set` path, named by it).
pub const CSV_METRIC_COLUMNS: &str =
    "metric,n,mean,std_error,ci95_low,ci95_high,min,min_seed,max,max_seed,incomplete_runs";

/// A number as the JSON document writes it: rounded to nine decimals, never `-0`.
pub(crate) fn number(x: f64) -> String {
    format!("{}", round_to(finite(x), 9) + 0.0)
}

/// Failing seeds for a table cell: the first `shown`, then how many more.
pub(crate) fn seeds_cell(seeds: &[u64], shown: usize) -> String {
    if seeds.is_empty() {
        return "none".to_owned();
    }
    let mut cell: Vec<String> = seeds.iter().take(shown).map(u64::to_string).collect();
    if seeds.len() > shown {
        cell.push(format!("... ({} in all)", seeds.len()));
    }
    cell.join(", ")
}

impl Document {
    /// One row per parameter point and metric, its seeds aggregated: the point's number
    /// (from 1, in the document's order), the value of every `--set` parameter, then
    /// [`CSV_METRIC_COLUMNS`]: mean, standard error and Student-t 95% interval over the seeds,
    /// minimum and maximum with their seeds, and how many of the point's runs a limit stopped.
    /// Numbers as in the JSON document (nine decimals at most). A partial document (a shard)
    /// has no aggregates: only the header.
    pub fn csv(&self) -> String {
        let d = &self.definition;
        let mut out = String::from("point");
        for (path, _) in &d.sets {
            out.push(',');
            out.push_str(&crate::csv::quote(path));
        }
        out.push(',');
        out.push_str(CSV_METRIC_COLUMNS);
        out.push('\n');
        if !self.has_every_run() {
            return out;
        }
        for (p, (point, metrics)) in self.aggregates().iter().enumerate() {
            let incomplete = self.incomplete_at(point).count();
            let mut head = (p + 1).to_string();
            for (_, value) in point {
                head.push(',');
                head.push_str(&crate::csv::quote(value));
            }
            for m in metrics {
                let _ = writeln!(
                    out,
                    "{head},{},{},{},{},{},{},{},{},{},{},{incomplete}",
                    crate::csv::quote(&m.name),
                    m.n,
                    number(m.mean),
                    number(m.std_error),
                    number(m.ci95.0),
                    number(m.ci95.1),
                    number(m.min.0),
                    m.min.1,
                    number(m.max.0),
                    m.max.1,
                );
            }
        }
        out
    }

    /// A Markdown summary for a pull-request comment: the sweep's size, the points, per point
    /// a table of the metrics (mean, 95% interval, min and max with their seeds) and the worst
    /// seed's replay command, then the expectations judged at every point. No line ends with
    /// a space; the text ends with one newline.
    pub fn markdown(&self) -> String {
        let d = &self.definition;
        let mut out = String::new();
        let _ = writeln!(out, "### faultline sweep · {}\n", escape(&d.scenario));
        let _ = writeln!(
            out,
            "Seeds {}..{} · {} points × {} seeds = {} runs{}",
            d.seeds.0,
            d.seeds.1,
            d.points().len(),
            d.seed_count(),
            d.run_count(),
            self.shard_note()
        );
        let incomplete = self.incomplete_runs().count();
        if incomplete > 0 {
            let _ = writeln!(
                out,
                "\n> **Warning**\n> {incomplete} of {} runs stopped at a limit before their end; \
                 their metrics cover only part of the scenario (raise `limits.max_events`).",
                self.runs.len()
            );
        }
        if !self.has_every_run() {
            out.push_str("\nPartial: the aggregates appear once every shard is merged.\n");
            return out;
        }
        if !d.sets.is_empty() {
            out.push_str("\n#### Points\n\n");
            let mut header = vec!["point".to_owned()];
            header.extend(d.sets.iter().map(|(p, _)| p.clone()));
            let header: Vec<&str> = header.iter().map(String::as_str).collect();
            table_header(&mut out, &header);
            for (p, point) in d.points().iter().enumerate() {
                let mut cells = vec![format!("P{}", p + 1)];
                cells.extend(point.iter().map(|(_, v)| escape(v)));
                table_row(&mut out, &cells);
            }
        }
        let judged = self.judged();
        for (p, (point, metrics)) in self.aggregates().iter().enumerate() {
            let _ = writeln!(
                out,
                "\n#### P{}: {}\n",
                p + 1,
                escape(&Definition::label(point))
            );
            table_header(
                &mut out,
                &["metric", "mean", "95% interval", "min (seed)", "max (seed)"],
            );
            for m in metrics {
                table_row(&mut out, &metric_cells(m));
            }
            let cut: Vec<u64> = self.incomplete_at(point).map(|r| r.seed).collect();
            if !cut.is_empty() {
                let _ = writeln!(
                    out,
                    "\nIncomplete runs (stopped at a limit), seeds: {}",
                    seeds_cell(&cut, 20)
                );
            }
            if let Some((seed, metric, value)) = self.worst_seed(p, metrics) {
                let _ = writeln!(
                    out,
                    "\nWorst seed by {}: {seed} ({value:.6}): `faultline replay {} --seed \
                     {seed}{}`",
                    escape(metric),
                    d.scenario_path.replace('`', "'"),
                    Definition::point_flags(point).replace('`', "'")
                );
            }
        }
        if let Some(judged) = judged {
            out.push_str("\n#### Expectations\n\n");
            table_header(
                &mut out,
                &[
                    "point",
                    "expectation",
                    "verdict",
                    "measured",
                    "worst seed",
                    "failing seeds",
                ],
            );
            for (p, (_, results)) in judged.iter().enumerate() {
                for r in results {
                    table_row(
                        &mut out,
                        &[
                            format!("P{}", p + 1),
                            escape(&r.label),
                            if r.passed { "PASS" } else { "**FAIL**" }.to_owned(),
                            escape(&r.format(r.measured)),
                            format!("{} ({})", r.worst_seed, escape(&r.format(r.worst))),
                            seeds_cell(&r.failing_seeds(), 20),
                        ],
                    );
                }
            }
        }
        out
    }

    /// The worst seed of point `p` by its first availability metric: `(seed, metric, value)`;
    /// the lowest seed among equals, as in the text report.
    pub(crate) fn worst_seed<'a>(
        &self,
        p: usize,
        metrics: &'a [MetricAggregate],
    ) -> Option<(u64, &'a str, f64)> {
        let first = metrics.iter().find(|m| m.name.ends_with(".availability"))?;
        let d = &self.definition;
        self.runs
            .iter()
            .filter(|r| d.run(r.index).0 == p)
            .filter_map(|r| {
                let m = r.metrics.iter().find(|m| m.0 == first.name)?;
                Some((r.seed, m.1))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .map(|(seed, value)| (seed, first.name.as_str(), value))
    }
}

/// A metric's row: name, mean, interval, min and max with their seeds (six decimals, as the
/// text report).
pub(crate) fn metric_cells(m: &MetricAggregate) -> Vec<String> {
    vec![
        escape(&m.name),
        format!("{:.6}", m.mean + 0.0),
        format!("[{:.6}, {:.6}]", m.ci95.0 + 0.0, m.ci95.1 + 0.0),
        format!("{:.6} ({})", m.min.0 + 0.0, m.min.1),
        format!("{:.6} ({})", m.max.0 + 0.0, m.max.1),
    ]
}
