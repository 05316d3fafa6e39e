//! End-to-end tests of the reports: snapshots of every library scenario, the cascade and the
//! metastability verdicts they must find, and the shape of each format.

mod common;

use common::*;
use serde_json::Value;

fn json(scenario: &str, seed: u64) -> Value {
    serde_json::from_str(&report(&library(scenario), seed, "json")).expect("valid JSON")
}

#[test]
fn json_and_markdown_snapshots_of_every_library_scenario() {
    // Reviewed one by one; a change here is a behaviour change to explain in its commit.
    for path in library_scenarios() {
        let name = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        insta::assert_snapshot!(format!("{name}_json"), report(&path, 1, "json"));
        insta::assert_snapshot!(format!("{name}_md"), report(&path, 1, "md"));
    }
}

/// payments slows down tenfold: the damage must travel payments -> checkout -> frontend ->
/// shoppers, through the edges that carry it, from the injected fault, on every seed; and the
/// system recovers once the fault ends.
#[test]
fn checkout_cascade_is_found_in_order_with_its_root_cause() {
    for seed in 1..=4 {
        let v = json("checkout.ron", seed);
        let faults = v["faults"].as_array().expect("faults");
        assert_eq!(faults.len(), 1);
        let f = &faults[0];
        assert_eq!(f["description"], "payments latency x10", "seed {seed}");
        let steps: Vec<(&str, Option<&str>)> = f["cascade"]
            .as_array()
            .expect("cascade")
            .iter()
            .map(|s| (s["name"].as_str().expect("name"), s["via"].as_str()))
            .collect();
        assert_eq!(
            steps,
            vec![
                ("payments", None),
                ("checkout", Some("checkout -> payments")),
                ("frontend", Some("frontend -> checkout")),
                ("shoppers", Some("client:shoppers -> frontend")),
            ],
            "seed {seed}"
        );
        let first = f["cascade"][0]["from_s"].as_f64().expect("time");
        assert!(
            (120.0..122.0).contains(&first),
            "seed {seed}: onset {first}"
        );
        assert_eq!(f["verdict"], "recovered", "seed {seed}");
        let recover = f["time_to_recover_s"].as_f64().expect("recovered");
        assert!(recover < 10.0, "seed {seed}: recovery took {recover} s");
        let blast: Vec<&str> = v["blast_radius"]
            .as_array()
            .expect("blast radius")
            .iter()
            .map(|n| n.as_str().expect("name"))
            .collect();
        assert!(!blast.contains(&"inventory"), "inventory is never hurt");
        assert!(
            v["health"]["services"]["inventory"]["unhealthy"]
                .as_array()
                .expect("intervals")
                .is_empty()
        );
    }
}

/// A retry storm keeps the system down after its trigger ends; the same world without
/// retries recovers. Checked on several seeds, with what sustains the bad state.
#[test]
fn metastable_failure_does_not_recover_and_its_fixed_twin_does() {
    for seed in 1..=3 {
        let storm = json("metastable-retry-storm.ron", seed);
        let f = &storm["faults"][0];
        assert_eq!(f["verdict"], "did not recover", "seed {seed}");
        assert!(f["time_to_recover_s"].is_null());
        let sustained: Vec<&str> = f["sustained_by"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|s| s.as_str().expect("text"))
            .collect();
        assert!(
            sustained.iter().any(|s| s.starts_with("retries: users")),
            "{sustained:?}"
        );
        assert!(
            sustained.iter().any(|s| s.starts_with("queues: api")),
            "{sustained:?}"
        );
        let open = &storm["health"]["clients"]["users"]["unhealthy"][0];
        assert_eq!(open["open_at_end"], true);

        let fixed = json("metastable-fixed.ron", seed);
        let f = &fixed["faults"][0];
        assert_eq!(f["verdict"], "recovered", "seed {seed}");
        assert!(f["time_to_recover_s"].as_f64().expect("time") < 30.0);
    }
}

#[test]
fn html_is_self_contained_with_one_svg_per_chart() {
    let page = report(&library("checkout.ron"), 1, "html");
    assert!(page.starts_with("<!DOCTYPE html>") || page.starts_with("<!doctype html>"));
    for tag in ["html", "head", "body", "svg", "figure", "table"] {
        let open = page.matches(&format!("<{tag}")).count();
        let close = page.matches(&format!("</{tag}>")).count();
        assert_eq!(
            open, close,
            "<{tag}> opened {open} times, closed {close} times"
        );
    }
    // Availability, latency, queue depth, busy workers and the cascade timeline.
    assert_eq!(page.matches("<svg").count(), 5);
    for figure in page.split("<figure").skip(1) {
        let figure = &figure[..figure.find("</figure>").expect("closed figure")];
        assert_eq!(figure.matches("<svg").count(), 1, "one chart per figure");
    }
    let namespace = "http://www.w3.org/2000/svg";
    let without_namespace = page.replace(namespace, "");
    assert!(!without_namespace.contains("http://") && !without_namespace.contains("https://"));
    assert!(!page.contains("<script"), "no script needed");
    assert!(page.contains("payments latency x10"));
    assert_eq!(
        page,
        report(&library("checkout.ron"), 1, "html"),
        "deterministic"
    );
}

#[test]
fn csv_has_one_row_per_window_per_series() {
    let csv = report(&library("checkout.ron"), 1, "csv");
    let mut lines = csv.lines();
    let header = lines.next().expect("header");
    assert!(header.starts_with("window_start_s,window_end_s,kind,name,"));
    let fields = header.split(',').count();
    let rows: Vec<&str> = lines.collect();
    // 600 one-second windows for 4 services, 1 client and 4 edges.
    assert_eq!(rows.len(), 600 * 9);
    assert!(rows.iter().all(|r| r.split(',').count() == fields));
    assert!(rows[0].starts_with("0.000,1.000,service,frontend,"));
}

#[test]
fn text_has_no_colour_when_not_a_terminal() {
    let text = report(&library("checkout.ron"), 1, "text");
    assert!(!text.contains('\u{1b}'));
    assert!(text.contains("payments latency x10"));
}

#[test]
fn compare_shows_the_fix_and_does_not_depend_on_threads() {
    let a = library("metastable-retry-storm.ron");
    let b = library("metastable-fixed.ron");
    let (a, b) = (a.to_str().expect("utf-8"), b.to_str().expect("utf-8"));
    let run = |jobs: &str, format: &str| {
        let out = faultline(&[
            "compare", a, b, "--seeds", "1..4", "--jobs", jobs, "--format", format,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let one = run("1", "json");
    assert_eq!(one, run("2", "json"), "--jobs must not change the result");
    let v: Value = serde_json::from_str(&one).expect("json");
    assert_eq!(v["a"]["runs_not_recovered"], 4);
    assert_eq!(v["b"]["runs_recovered"], 4);
    let delta = v["clients"]["users"]["delta"]["availability"]
        .as_f64()
        .expect("delta");
    assert!(
        delta > 0.2,
        "the fix must raise availability a lot: {delta}"
    );
    let amplification = v["clients"]["users"]["delta"]["amplification"]
        .as_f64()
        .expect("delta");
    assert!(
        amplification < -1.0,
        "the fix removes the retry amplification: {amplification}"
    );
    for format in ["text", "md", "html"] {
        assert!(run("2", format).contains("metastable-fixed"), "{format}");
    }
    let bad = faultline(&["compare", a, b, "--seeds", "9..3"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// A scenario with a breaker gets a sixth chart: the breaker's states, with the transitions
/// the run recorded (open at about 61 s, closed again after the fault).
#[test]
fn html_charts_the_breaker_states() {
    let page = report(&library("metastable-breaker.ron"), 1, "html");
    assert_eq!(page.matches("<svg").count(), 6);
    assert!(page.contains("Circuit breaker states over time"));
    assert!(!page.contains("No circuit breakers are configured"));
    for state in ["closed", "half_open", "open"] {
        assert!(page.contains(&format!("</span>{state}</li>")), "{state}");
    }
    let plain = report(&library("checkout.ron"), 1, "html");
    assert!(plain.contains("No circuit breakers are configured"));
}
