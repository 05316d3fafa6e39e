//! `sweep`, `merge` and `check` in CSV, Markdown and HTML (and `check` in JSON), end to end:
//! every CSV row has the header's columns and the aggregates of the JSON document, the HTML page
//! has a chart per metric, and no output depends on the number of threads or on sharding.

mod common;

use common::*;

const HEDGING: &str = "scenarios/library/hedging.ron";
const STORM: &str = "scenarios/library/metastable-retry-storm.ron";

fn sweep(format: &str, jobs: &str) -> String {
    ok(&[
        "sweep",
        HEDGING,
        "--seeds",
        "1..3",
        "--set",
        "services.orders.workers=50,400",
        "--set",
        "services.payments.idempotency_keys=false,true",
        "--jobs",
        jobs,
        "--format",
        format,
    ])
}

/// Splits a CSV line at commas outside quotes (RFC 4180).
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().expect("one field").push(c),
        }
    }
    out
}

#[test]
fn sweep_csv_has_a_row_per_point_and_metric_matching_the_json_aggregates() {
    let csv = sweep("csv", "1");
    let json: serde_json::Value = serde_json::from_str(&sweep("json", "2")).expect("JSON");
    let aggregates = json["aggregates"].as_array().expect("aggregates");
    let mut lines = csv.lines();
    let header = fields(lines.next().expect("a header"));
    assert_eq!(
        header[..3],
        [
            "point",
            "services.orders.workers",
            "services.payments.idempotency_keys"
        ]
    );
    assert_eq!(
        header.len(),
        3 + reports::sweep::CSV_METRIC_COLUMNS.split(',').count()
    );
    let rows: Vec<Vec<String>> = lines.map(fields).collect();
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
    }
    let metrics: usize = aggregates
        .iter()
        .map(|a| a["metrics"].as_object().expect("metrics").len())
        .sum();
    assert_eq!(rows.len(), metrics);
    assert_eq!(aggregates.len(), 4, "2 x 2 points");
    // Every row is the JSON's aggregate of its point and metric.
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    for row in &rows {
        let point: usize = row[0].parse().expect("a point number");
        let m = &aggregates[point - 1]["metrics"][&row[column("metric")]];
        for (csv_name, json_name) in [("mean", "mean"), ("min", "min"), ("max", "max")] {
            let value: f64 = row[column(csv_name)].parse().expect("a number");
            assert_eq!(value, m[json_name].as_f64().expect("a number"), "{row:?}");
        }
        let low: f64 = row[column("ci95_low")].parse().expect("a number");
        let high: f64 = row[column("ci95_high")].parse().expect("a number");
        assert_eq!(low, m["ci95"][0].as_f64().expect("a number"));
        assert_eq!(high, m["ci95"][1].as_f64().expect("a number"));
        assert!(low <= high);
        assert_eq!(row[column("n")], "3");
    }
    let first = &rows[0];
    assert_eq!((first[1].as_str(), first[2].as_str()), ("50", "false"));
}

#[test]
fn sweep_pages_do_not_depend_on_the_number_of_threads() {
    for format in ["csv", "md", "html"] {
        assert_eq!(sweep(format, "1"), sweep(format, "2"), "--format {format}");
    }
}

#[test]
fn the_sweep_page_has_a_chart_of_every_metric_and_no_external_resource() {
    let html = sweep("html", "2");
    let json: serde_json::Value = serde_json::from_str(&sweep("json", "1")).expect("JSON");
    let metrics = json["aggregates"][0]["metrics"]
        .as_object()
        .expect("metrics");
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    assert_eq!(html.matches("<svg").count(), metrics.len());
    assert_eq!(html.matches("<figure>").count(), metrics.len());
    for name in metrics.keys() {
        assert!(
            html.contains(&format!("<figcaption>{name}</figcaption>")),
            "{name}"
        );
    }
    // Each chart draws its points' means and intervals: 4 points, two labelled parameters.
    let chart = &html[html.find("<svg").expect("a chart")..];
    let chart = &chart[..chart.find("</svg>").expect("closed")];
    assert_eq!(chart.matches("<circle").count(), 4, "a dot per point");
    assert!(chart.contains("<polygon"), "the interval's band");
    for needle in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!html.contains(needle), "{needle}");
    }
    assert!(html.contains("<h2>Points</h2>") && html.contains("<h2>Expectations</h2>"));
    assert!(html.contains("faultline replay scenarios/library/hedging.ron --seed"));
}

#[test]
fn sweep_markdown_has_a_table_per_point_and_the_expectations() {
    let md = sweep("md", "2");
    assert!(md.starts_with("### faultline sweep · hedging\n"));
    for p in 1..=4 {
        assert!(md.contains(&format!("\n#### P{p}: services.orders.workers=")));
    }
    assert!(md.contains("#### Expectations"));
    // Every table row has as many cells as its header.
    let mut cells = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = line.matches(" | ").count();
            assert_eq!(*cells.get_or_insert(n), n, "{line}");
        } else {
            cells = None;
        }
        assert!(!line.ends_with(' '), "{line:?}");
    }
}

#[test]
fn merged_shards_print_what_the_whole_sweep_prints_in_every_format() {
    let dir = temp_dir("formats-merge");
    let mut parts = Vec::new();
    for k in 1..=2 {
        let part = dir.join(format!("part{k}.json"));
        ok(&[
            "sweep",
            HEDGING,
            "--seeds",
            "1..3",
            "--set",
            "services.orders.workers=50,400",
            "--shard",
            &format!("{k}/2"),
            "--out",
            part.to_str().expect("utf-8"),
        ]);
        parts.push(part.to_str().expect("utf-8").to_owned());
    }
    for format in ["csv", "md", "html"] {
        let whole = ok(&[
            "sweep",
            HEDGING,
            "--seeds",
            "1..3",
            "--set",
            "services.orders.workers=50,400",
            "--format",
            format,
        ]);
        let mut args = vec!["merge", parts[0].as_str(), parts[1].as_str()];
        args.extend(["--format", format]);
        assert_eq!(ok(&args), whole, "--format {format}");
    }
    // A shard alone has no aggregates to chart: refused before any run, with the way out.
    let out = faultline(&[
        "sweep", HEDGING, "--seeds", "1..3", "--shard", "1/2", "--format", "html",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("faultline merge PARTS --format html"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn check(format: &str, jobs: &str) -> (Option<i32>, String) {
    let out = faultline(&[
        "check", HEDGING, STORM, "--seeds", "1..2", "--jobs", jobs, "--format", format,
    ]);
    (out.status.code(), stdout(&out))
}

#[test]
fn check_formats_carry_the_verdicts_and_exit_as_the_text_does() {
    let (code, text) = check("text", "2");
    assert_eq!(code, Some(1), "the storm fails its expectations");
    let summary = text.lines().last().expect("a summary line");
    let (code, csv) = check("csv", "1");
    assert_eq!(code, Some(1));
    let mut lines = csv.lines();
    let header = fields(lines.next().expect("a header"));
    assert_eq!(header.join(","), reports::check::CSV_HEADER);
    let rows: Vec<Vec<String>> = lines.map(fields).collect();
    let fails = text.lines().filter(|l| l.starts_with("  FAIL ")).count();
    let passes = text.lines().filter(|l| l.starts_with("  PASS ")).count();
    assert_eq!(rows.len(), fails + passes);
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        // A failed expectation names its failing seeds; a met one has none of a worst bound.
        if row[3] == "FAIL" {
            assert!(!row[10].is_empty(), "{row:?}");
        }
    }
    assert_eq!(rows.iter().filter(|r| r[3] == "FAIL").count(), fails);
    assert!(
        rows.iter().any(|r| r[0] == "hedging")
            && rows.iter().any(|r| r[0] == "metastable-retry-storm")
    );
    let (code, md) = check("md", "2");
    assert_eq!(code, Some(1));
    assert!(md.trim_end().ends_with(summary), "{md}");
    assert_eq!(md.matches("| **FAIL** |").count(), fails);
    let (code, html) = check("html", "1");
    assert_eq!(code, Some(1));
    assert!(html.contains(summary));
    assert_eq!(html.matches("<td class=\"fail\">FAIL</td>").count(), fails);
    assert_eq!(html.matches("<td class=\"pass\">PASS</td>").count(), passes);
    assert!(
        html.contains(
            "replay: faultline replay scenarios/library/metastable-retry-storm.ron --seed"
        )
    );
    let (code, json) = check("json", "2");
    assert_eq!(code, Some(1));
    let doc: serde_json::Value = serde_json::from_str(&json).expect("check --format json parses");
    assert_eq!(doc["faultline_check"], 1);
    assert_eq!(doc["summary"]["verdict"], "fail");
    assert_eq!(doc["summary"]["violated"].as_u64(), Some(fails as u64));
    let expectations: Vec<&serde_json::Value> = doc["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .flat_map(|s| s["expectations"].as_array().expect("expectations"))
        .collect();
    assert_eq!(expectations.len(), fails + passes);
    for (e, row) in expectations.iter().zip(&rows) {
        // The same verdicts, in the same order, as the CSV; every seed has a value.
        assert_eq!(e["verdict"], row[3].to_lowercase(), "{e}");
        assert_eq!(e["identity"], row[2].as_str());
        assert_eq!(e["per_seed"].as_array().map(Vec::len), Some(2));
        let failing: Vec<String> = e["failing_seeds"]
            .as_array()
            .expect("failing seeds")
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(failing.join(" "), row[10]);
    }
    for format in ["json", "csv", "md", "html"] {
        assert_eq!(check(format, "1"), check(format, "2"), "--format {format}");
    }
}
