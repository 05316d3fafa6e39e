//! Per-endpoint statistics of a service with several endpoints, end to end: the endpoints add
//! up to their service in every format, and a saturated dependency of one endpoint shows on
//! that endpoint, not on its neighbour.

mod common;

use common::{faultline, library, stdout};
use serde_json::Value;

fn run(format: &str, duration: &str) -> String {
    let path = library("database-bottleneck.ron");
    let out = faultline(&[
        "run",
        path.to_str().expect("a UTF-8 path"),
        "--seed",
        "3",
        "--set",
        &format!("duration={duration}"),
        "--format",
        format,
    ]);
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
}

#[test]
fn endpoints_add_up_to_their_service_and_single_endpoint_services_have_none() {
    let doc: Value = serde_json::from_str(&run("json", "150s")).expect("JSON");
    let services = doc["services"].as_object().expect("services");
    let api = &services["api"];
    let endpoints = api["endpoints"].as_object().expect("api has endpoints");
    assert_eq!(
        endpoints.keys().collect::<Vec<_>>(),
        ["browse", "checkout"],
        "named as the scenario names them"
    );
    for key in ["requests", "ok", "failed", "cancelled", "in_flight"] {
        let sum: u64 = endpoints
            .values()
            .map(|e| e[key].as_u64().expect(key))
            .sum();
        assert_eq!(sum, api[key].as_u64().expect(key), "{key}");
    }
    for (name, s) in services {
        if name != "api" {
            assert!(s.get("endpoints").is_none(), "{name} has one endpoint");
        }
    }
    // Only checkout calls the saturated database: its failures are all checkout's.
    assert_eq!(endpoints["browse"]["failed"], 0);
    assert_eq!(endpoints["checkout"]["failed"], api["failed"]);
    assert!(api["failed"].as_u64().expect("failed") > 0);
}

#[test]
fn text_markdown_csv_and_html_show_each_endpoint() {
    let text = run("text", "50s");
    assert!(text.contains("\n  api/browse "), "{text}");
    assert!(text.contains("\n  api/checkout "), "{text}");
    let md = run("md", "50s");
    assert!(md.contains("| ↳ api/checkout |"), "{md}");
    let csv = run("csv", "50s");
    let windows = csv.lines().filter(|l| l.contains(",service,api,")).count();
    assert!(windows > 0);
    for endpoint in ["api/browse", "api/checkout"] {
        let rows = csv
            .lines()
            .filter(|l| l.contains(&format!(",endpoint,{endpoint},")))
            .count();
        assert_eq!(
            rows, windows,
            "{endpoint}: one row per window, as its service"
        );
    }
    let html = run("html", "50s");
    assert!(html.contains("<h3>Endpoints</h3>"));
    assert!(html.contains("Availability per window and endpoint"));
    assert!(html.contains("api/checkout"));
}

/// Edges without policies take the fast path (`world/plain.rs`): the endpoints add up there too
/// (every run also asserts it at its end).
#[test]
fn endpoints_add_up_on_plain_edges() {
    let out = faultline(&[
        "run",
        "tests/scenarios/endpoints-plain.ron",
        "--seed",
        "2",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let api = &doc["services"]["api"];
    let endpoints = api["endpoints"].as_object().expect("endpoints");
    for key in ["requests", "ok", "failed"] {
        let sum: u64 = endpoints
            .values()
            .map(|e| e[key].as_u64().expect(key))
            .sum();
        assert_eq!(sum, api[key].as_u64().expect(key), "{key}");
    }
    // Browse has the error rate; checkout only the queue's rejections.
    assert!(endpoints["browse"]["failed"].as_u64() > endpoints["checkout"]["failed"].as_u64());
}
