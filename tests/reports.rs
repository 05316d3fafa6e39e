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
    // Availability, latency, queue depth, busy workers, the cascade timeline, then the
    // traffic: throughput, the shoppers' latency band, amplification, retries and one small
    // chart per edge (four).
    assert_eq!(page.matches("<svg").count(), 13);
    for figure in page.split("<figure").skip(1) {
        let figure = &figure[..figure.find("</figure>").expect("closed figure")];
        assert_eq!(figure.matches("<svg").count(), 1, "one chart per figure");
    }
    let namespace = "http://www.w3.org/2000/svg";
    let without_namespace = page.replace(namespace, "");
    assert!(!without_namespace.contains("http://") && !without_namespace.contains("https://"));
    // The one inline script only adds interaction (tests/browser.rs runs it).
    assert_eq!(page.matches("<script").count(), 1);
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

/// The text failure table shows every cause that occurred, so each service's row adds up to
/// its failures: a service failing only `unavailable` (no repair crew free) or `conflict` (an
/// optimistic-concurrency loss) does not show a row of zeros; the quorum copies nobody waited
/// for show as `cancelled`, so requests = ok + the row.
#[test]
fn text_failure_tables_show_every_cause_that_occurred() {
    for (scenario, cause) in [
        ("on-call-crews.ron", "unavailable"),
        ("occ-backoff.ron", "conflict"),
        ("database-bottleneck.ron", "cancelled"),
    ] {
        let text = report(&library(scenario), 1, "text");
        let header = text
            .lines()
            .find(|l| l.starts_with("failures "))
            .expect("a failure table");
        let columns: Vec<&str> = header
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert!(columns.contains(&cause), "{scenario}: {header}");
        let json = json(scenario, 1);
        for (name, service) in json["services"].as_object().expect("services") {
            let row = text
                .lines()
                .skip_while(|l| !l.starts_with("failures "))
                .find(|l| l.split_whitespace().next() == Some(name))
                .expect("a row per service");
            let cells: Vec<u64> = row
                .split_whitespace()
                .skip(1)
                .map(|c| c.parse().expect("a count"))
                .collect();
            let in_flight = cells.last().copied().expect("in flight");
            let failed_or_cancelled: u64 = cells[..cells.len() - 1].iter().sum();
            let count = |key: &str| service[key].as_u64().expect("a count");
            assert_eq!(
                failed_or_cancelled,
                count("failed") + count("cancelled"),
                "{scenario} {name}"
            );
            // Every request is accounted for on the row.
            assert_eq!(
                count("requests"),
                count("ok") + failed_or_cancelled + in_flight,
                "{scenario} {name}"
            );
            assert_eq!(
                in_flight,
                service["in_flight"].as_u64().expect("in flight"),
                "{scenario} {name}"
            );
        }
    }
}

/// A service that calls one callee from two endpoints, and twice from one plan, gets an edge
/// name per call in every format, and JSON's `health.edges` keeps all of them.
#[test]
fn edges_of_one_caller_and_callee_are_named_apart_everywhere() {
    let dir = temp_dir("edge-names");
    let path = dir.join("twice.ron");
    std::fs::write(
        &path,
        r#"Scenario(
    version: 1,
    name: "twice",
    duration: "2s",
    services: [
        Service(name: "api", workers: 8, service_time: Constant(value: "1ms"), endpoint: "read",
            calls: [Call(to: "db")],
            endpoints: [(name: "write", service_time: Constant(value: "1ms"),
                         calls: [Call(to: "db"), Call(to: "db")])]),
        Service(name: "db", workers: 8, service_time: Constant(value: "1ms")),
    ],
    clients: [
        Client(name: "users", to: "api", arrivals: Poisson(rate_per_s: 100.0),
               requests: [(endpoint: "read", weight: 1.0), (endpoint: "write", weight: 1.0)]),
    ],
)"#,
    )
    .expect("write the scenario");
    let expected = [
        "api (read) -> db",
        "api (write) -> db #1",
        "api (write) -> db #2",
        "client:users -> api",
    ];
    let json: Value = serde_json::from_str(&report(&path, 1, "json")).expect("valid JSON");
    let names: Vec<&str> = json["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names, expected);
    let health = json["health"]["edges"].as_object().expect("health.edges");
    assert_eq!(health.len(), 4, "{health:?}");
    let text = report(&path, 1, "text");
    let csv = report(&path, 1, "csv");
    for name in expected {
        assert!(health.contains_key(name), "{name}");
        assert!(
            text.contains(&format!("  {name}: attempts")),
            "{name}: {text}"
        );
        assert!(csv.contains(name), "{name}");
    }
}

/// `compare` puts a 95% interval on the availability difference, paired by seed, and says in a
/// verdict line whether B is better, worse or not clearly different: a scenario compared with
/// itself differs by exactly zero, the metastability fix improves the users' availability.
#[test]
fn compare_gives_intervals_and_a_verdict_line() {
    let fixed = library("metastable-fixed.ron");
    let storm = library("metastable-retry-storm.ron");
    let (fixed, storm) = (
        fixed.to_str().expect("utf-8"),
        storm.to_str().expect("utf-8"),
    );
    let same = ok(&["compare", fixed, fixed, "--seeds", "1..3"]);
    assert!(
        same.contains(
            "verdict: no clear difference in users availability: 0.00 ± 0.00 points over 3 seeds"
        ),
        "{same}"
    );
    let better = ok(&["compare", storm, fixed, "--seeds", "1..3"]);
    assert!(
        better.contains("verdict: B improves users availability by "),
        "{better}"
    );
    let worse = ok(&["compare", fixed, storm, "--seeds", "1..3"]);
    assert!(
        worse.contains("verdict: B worsens users availability by "),
        "{worse}"
    );
    let json: Value = serde_json::from_str(&ok(&[
        "compare", storm, fixed, "--seeds", "1..3", "--format", "json",
    ]))
    .expect("json");
    let delta = &json["clients"]["users"]["delta"];
    let ci = delta["availability_ci95"].as_array().expect("an interval");
    let (lo, hi) = (ci[0].as_f64().expect("lo"), ci[1].as_f64().expect("hi"));
    assert!(0.0 < lo && lo <= hi, "{ci:?}");
    let md = ok(&["compare", storm, fixed, "--seeds", "1..3", "--format", "md"]);
    assert!(md.contains("- **B improves users availability by "), "{md}");
    // A file against its own variant: B is A with the override, named so.
    let variant = ok(&[
        "compare",
        storm,
        "--set",
        "services.api.workers=64",
        "--seeds",
        "1..3",
    ]);
    assert!(
        variant.contains("with B = metastable-retry-storm with services.api.workers=64"),
        "{variant}"
    );
    // metastable-fixed.ron runs for 3m: setting what it already has changes nothing.
    let unchanged = ok(&[
        "compare",
        fixed,
        "--set",
        "duration=\"3m\"",
        "--seeds",
        "1..2",
    ]);
    assert!(unchanged.contains("0.00 ± 0.00 points"), "{unchanged}");
    let neither = faultline(&["compare", storm]);
    assert_eq!(neither.status.code(), Some(2));
    assert!(
        stderr(&neither).contains("or --set"),
        "{}",
        stderr(&neither)
    );
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
    assert_eq!(v["a"]["scenario"], "metastable-retry-storm");
    assert_eq!(v["b"]["scenario"], "metastable-fixed");
    assert_eq!(v["seeds"], serde_json::json!([1, 2, 3, 4]));
    assert_eq!(v["a"]["runs_not_recovered"], 4);
    assert_eq!(v["b"]["runs_recovered"], 4);
    let users = &v["clients"]["users"];
    let figure = |side: &str, key: &str| users[side][key].as_f64().expect(key);
    // Each side's availability is ok / (ok + failed) over all its seeds (README), and the same
    // users arrive on both.
    for side in ["a", "b"] {
        let availability = figure(side, "ok") / (figure(side, "ok") + figure(side, "failed"));
        assert!(
            (figure(side, "availability") - availability).abs() < 1e-6,
            "{side}: {availability}"
        );
    }
    assert_eq!(users["a"]["requests"], users["b"]["requests"]);
    // The fix: B answers most users (0.89), A barely a third (0.34), and the deltas are B - A.
    let (a_availability, b_availability) =
        (figure("a", "availability"), figure("b", "availability"));
    assert!(
        a_availability < 0.5 && b_availability > 0.85,
        "A {a_availability}, B {b_availability}"
    );
    // Each figure is rounded on its own (6 decimals, latencies 3), so B - A may differ from
    // the delta by up to three half units of the last decimal.
    for (key, decimals) in [
        ("availability", 6),
        ("amplification", 6),
        ("latency_ms_p99", 3),
    ] {
        let delta = figure("delta", key);
        let difference = figure("b", key) - figure("a", key);
        let rounding = 1.5 * 10f64.powi(-decimals) + 1e-12;
        assert!(
            (delta - difference).abs() <= rounding,
            "{key}: {delta} against {difference}"
        );
    }
    assert!(figure("a", "amplification") > 2.0 && figure("b", "amplification") == 1.0);
    // The other formats' row for the users shows the same figures, to their three decimals:
    // availability A and B in percent, the delta in points, p99 A and B, amplification A and
    // B, each with the unit of the JSON's last decimal.
    let expected = [
        (100.0 * a_availability, 1e-4),
        (100.0 * b_availability, 1e-4),
        (100.0 * figure("delta", "availability"), 1e-4),
        (figure("a", "latency_ms_p99"), 1e-3),
        (figure("b", "latency_ms_p99"), 1e-3),
        (figure("a", "amplification"), 1e-6),
        (figure("b", "amplification"), 1e-6),
    ];
    for format in ["text", "md", "html"] {
        let report = run("2", format);
        assert!(report.contains("metastable-fixed"), "{format}");
        let row = report
            .lines()
            .find(|l| l.contains("client users"))
            .unwrap_or_else(|| panic!("{format}: no row for the users in\n{report}"));
        // The interval's half-width (`±0.181`) is checked elsewhere; here the figures.
        let mut figures = String::new();
        let mut chars = row.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '±' {
                while chars.next_if(|c| c.is_ascii_digit() || *c == '.').is_some() {}
            } else {
                figures.push(c);
            }
        }
        let shown: Vec<f64> = figures
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
            .filter_map(|t| t.parse().ok())
            .collect();
        assert_eq!(shown.len(), expected.len(), "{format}: {row}");
        for (&value, &(json, unit)) in shown.iter().zip(&expected) {
            // Half a unit of the three printed decimals, half a unit of the JSON's.
            let rounding = 0.0005 + unit / 2.0 + 1e-9;
            assert!(
                (value - json).abs() <= rounding,
                "{format}: {value} against {json} in {row}"
            );
        }
        let gain = format!("+{:.3}", shown[2]);
        assert!(
            row.contains(&gain),
            "{format}: the delta shows its sign: {row}"
        );
    }
    let bad = faultline(&["compare", a, b, "--seeds", "9..3"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// A scenario with a breaker gets a sixth chart: the breaker's states, with the transitions
/// the run recorded (open at about 61 s, closed again after the fault).
#[test]
fn html_charts_the_breaker_states() {
    let page = report(&library("metastable-breaker.ron"), 1, "html");
    assert!(page.contains("<h3>Circuit breakers</h3>\n<figure>"));
    assert!(page.contains("Circuit breaker states over time"));
    assert!(!page.contains("No circuit breakers are configured"));
    for state in ["closed", "half_open", "open"] {
        assert!(page.contains(&format!("</span>{state}</li>")), "{state}");
    }
    let plain = report(&library("checkout.ron"), 1, "html");
    assert!(plain.contains("No circuit breakers are configured"));
}

/// A rollout gets its own chart: the weight on the new version, up to 10 % and back to 0 when
/// the canary is rolled back; the text and JSON carry the timeline and the verdicts.
#[test]
fn a_rollout_is_charted_and_its_timeline_reported_in_every_format() {
    let path = library("release-canary-rollback.ron");
    let page = report(&path, 1, "html");
    assert!(page.contains("Percent of requests to the new version over time"));
    assert!(page.contains("payments weight on v2"));
    assert!(!report(&library("checkout.ron"), 1, "html").contains("Percent of requests"));
    let text = report(&path, 1, "text");
    assert!(text.contains("payments: canary of v2 over v1 from 60.0 s, 4 replicas: aborted"));
    assert!(text.contains("aborted after 2 failed measurements, traffic back on v1"));
    let v = json("release-canary-rollback.ron", 1);
    let r = &v["rollouts"]["payments"];
    assert_eq!(r["phase"], "aborted");
    let verdicts: Vec<&str> = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["verdict"].as_str())
        .collect();
    assert_eq!(verdicts.last(), Some(&"failed"));
    assert_eq!(
        r["weights"].as_array().unwrap().last().unwrap()["weight"],
        0.0
    );
    assert!(json("checkout.ron", 1).get("rollouts").is_none());
}

/// One step of a cascade: the entity's name and the other faults blamed for it.
type Step = (String, Vec<String>);

/// The cascades of a JSON report, by fault description: the steps' names, sorted, each with the
/// other faults blamed for it.
fn blame(v: &Value) -> Vec<(String, Vec<Step>)> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|s| s.as_str().expect("string").to_owned())
            .collect()
    };
    let mut out: Vec<(String, Vec<Step>)> = v["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .map(|f| {
            let mut steps: Vec<Step> = f["cascade"]
                .as_array()
                .expect("cascade")
                .iter()
                .map(|s| {
                    let name = s["name"].as_str().expect("name").to_owned();
                    (name, strings(&s["shared_with"]))
                })
                .collect();
            steps.sort();
            (
                f["description"].as_str().expect("description").to_owned(),
                steps,
            )
        })
        .collect();
    out.sort();
    out
}

/// Issue 12: two faults starting together on disjoint subgraphs (`ship` errors, `store-2`
/// slow) are each blamed for what calls their service, never for the other's subgraph; the
/// `gateway` over both, and its client, are blamed on both. Swapping the faults in the file
/// changes nothing.
#[test]
fn concurrent_faults_are_blamed_along_the_call_graph_whatever_their_order() {
    let path = root().join("tests/scenarios/concurrent-faults.ron");
    let text = std::fs::read_to_string(&path).expect("scenario");
    let ship = r#"        Errors(service: "ship", rate: 0.3, from: "60s", to: "90s"),"#;
    let store = r#"        Latency(service: "store-2", multiply: 20.0, from: "60s", to: "90s"),"#;
    let both = format!("{ship}\n{store}");
    assert!(text.contains(&both), "the faults as the test swaps them");
    let swapped_path = temp_dir("concurrent-faults").join("swapped.ron");
    std::fs::write(
        &swapped_path,
        text.replace(&both, &format!("{store}\n{ship}")),
    )
    .expect("write");
    let shared = |other: &str| vec![other.to_owned()];
    for seed in 1..=3 {
        let v: Value = serde_json::from_str(&report(&path, seed, "json")).expect("JSON");
        let blamed = blame(&v);
        let step = |name: &str, also: Vec<String>| (name.to_owned(), also);
        assert_eq!(
            blamed,
            vec![
                (
                    "ship errors 0.3".to_owned(),
                    vec![
                        step("gateway", shared("store-2 latency x20")),
                        step("orders", vec![]),
                        step("portal", shared("store-2 latency x20")),
                        step("saga", vec![]),
                        step("ship", vec![]),
                    ]
                ),
                (
                    "store-2 latency x20".to_owned(),
                    vec![
                        step("gateway", shared("ship errors 0.3")),
                        step("portal", shared("ship errors 0.3")),
                        step("reader", vec![]),
                        step("readers", vec![]),
                        step("store-2", vec![]),
                    ]
                ),
            ],
            "seed {seed}"
        );
        for f in v["faults"].as_array().expect("faults") {
            assert_eq!(f["verdict"], "recovered", "seed {seed}: {f}");
        }
        let swapped: Value =
            serde_json::from_str(&report(&swapped_path, seed, "json")).expect("JSON");
        assert_eq!(
            blame(&swapped),
            blamed,
            "seed {seed}: the order in the file matters"
        );
    }
}

/// Issue 12: a retry storm between two services (the gateway retries at once, its users do not)
/// is named in the verdict beside the full queue it keeps full.
#[test]
fn a_service_to_service_retry_storm_is_named() {
    let path = root().join("tests/scenarios/service-retry-storm.ron");
    for seed in 1..=2 {
        let v: Value = serde_json::from_str(&report(&path, seed, "json")).expect("JSON");
        let f = &v["faults"][0];
        assert_eq!(f["verdict"], "did not recover", "seed {seed}");
        let sustained: Vec<&str> = f["sustained_by"]
            .as_array()
            .expect("sustained_by")
            .iter()
            .map(|s| s.as_str().expect("sentence"))
            .collect();
        assert!(
            sustained
                .iter()
                .any(|s| s.starts_with("retries: gateway sends ")
                    && s.contains(" attempts per call to backend (1.00 before the fault)")),
            "seed {seed}: {sustained:?}"
        );
        assert!(
            sustained.iter().any(|s| s.starts_with("queues: backend ")),
            "seed {seed}: {sustained:?}"
        );
    }
}

/// Issue 12: a client sees the failures below it as `dependency`; the failure reply carries the
/// cause where it began, so the report says why the users failed: the `ship` errors two calls
/// down for `orders` and `portal`; timeouts and rejections in checkout. Every failure has one
/// root cause, and none is `dependency`.
#[test]
fn clients_report_the_root_causes_behind_dependency_failures() {
    let concurrent = root().join("tests/scenarios/concurrent-faults.ron");
    let v: Value = serde_json::from_str(&report(&concurrent, 1, "json")).expect("JSON");
    for name in ["orders", "portal"] {
        let c = &v["clients"][name];
        let failed = c["failed"].as_u64().expect("failed");
        assert!(failed > 100, "{name}: {failed}");
        assert_eq!(c["failed_by_cause"]["dependency"], failed, "{name}");
        assert_eq!(c["failed_by_root_cause"]["error"], failed, "{name}");
    }
    let text = report(&concurrent, 1, "text");
    assert!(
        text.contains("\nwhy clients failed (root causes)\n  orders: ")
            && text.contains(" error\n  portal: "),
        "{text}"
    );
    let v = json("checkout.ron", 1);
    let c = &v["clients"]["shoppers"];
    let roots = c["failed_by_root_cause"].as_object().expect("root causes");
    let sum: u64 = roots.values().map(|n| n.as_u64().expect("count")).sum();
    assert_eq!(sum, c["failed"].as_u64().expect("failed"));
    assert_eq!(roots["dependency"], 0);
    assert!(roots["timeout"].as_u64() > Some(0) && roots["rejected"].as_u64() > Some(0));
}

/// Issue 12: chaos and leak faults last the whole run, so their own verdict is always "fault
/// still active"; each crash episode gets its own. In gray-failures the leak takes all four api
/// replicas down around 125 s (one episode, the outages overlap) and the system recovers about
/// a second after they restart; the other faults keep their episodes empty.
#[test]
fn crash_episodes_of_chaos_and_leaks_get_their_own_verdicts() {
    let v = json("gray-failures.ron", 1);
    let faults = v["faults"].as_array().expect("faults");
    let by = |d: &str| {
        faults
            .iter()
            .find(|f| f["description"] == d)
            .unwrap_or_else(|| panic!("fault {d}"))
    };
    for f in faults {
        let kind_has_episodes =
            ["api leak", "store chaos"].contains(&f["description"].as_str().expect("d"));
        assert_eq!(!f["episodes"].is_null(), kind_has_episodes, "{f}");
    }
    let leak = &by("api leak")["episodes"];
    let counted: u64 = leak["by_verdict"]
        .as_object()
        .expect("by verdict")
        .values()
        .map(|n| n.as_u64().expect("count"))
        .sum();
    assert_eq!(counted, leak["count"].as_u64().expect("count"));
    let hit = &leak["with_impact"][0];
    assert_eq!(
        hit["replicas"].as_array().expect("replicas").len(),
        4,
        "{hit}"
    );
    assert_eq!(hit["verdict"], "recovered", "{hit}");
    assert!(
        hit["time_to_recover_s"].as_f64().expect("recovered") < 2.0,
        "{hit}"
    );
    assert_eq!(hit["cascade"][0], "api", "{hit}");
    let chaos = &by("store chaos")["episodes"];
    for e in chaos["with_impact"].as_array().expect("episodes") {
        assert!(e["to_s"].as_f64() >= e["from_s"].as_f64(), "{e}");
        assert_eq!(e["verdict"], "recovered", "{e}");
    }
    let text = report(&library("gray-failures.ron"), 1, "text");
    assert!(
        text.contains("  crash episodes: ") && text.contains(" down 125.0"),
        "{text}"
    );
}

/// Issue 12: a busy adaptive concurrency limit changes over a hundred thousand times in two
/// minutes; the JSON stays small: per window its lowest, highest and last value, the sampled
/// `concurrency_limit` (one entry per window at most, where the limit moved), and the number
/// of changes.
#[test]
fn the_concurrency_limit_is_summarised_per_window() {
    let path = root().join("tests/scenarios/adaptive-limit.ron");
    let doc = report(&path, 1, "json");
    assert!(doc.len() < 100_000, "{} bytes", doc.len());
    let v: Value = serde_json::from_str(&doc).expect("JSON");
    let api = &v["services"]["api"];
    assert!(
        api["concurrency_limit_changes"].as_u64() > Some(100_000),
        "{api}"
    );
    assert_eq!(api["concurrency_limit_initial"], 40);
    let windows = api["concurrency_limit_windows"]
        .as_array()
        .expect("windows");
    assert_eq!(windows.len(), 120, "one per 1 s window");
    let sampled = api["concurrency_limit"].as_array().expect("sampled");
    assert!(!sampled.is_empty() && sampled.len() <= windows.len());
    let mut before = 40;
    let mut k = 0;
    for (i, w) in windows.iter().enumerate() {
        let (min, max, end) = (&w["min"], &w["max"], &w["end"]);
        assert!(
            min.as_u64() <= end.as_u64() && end.as_u64() <= max.as_u64(),
            "{w}"
        );
        assert!(min.as_u64() >= Some(10) && max.as_u64() <= Some(200), "{w}");
        if end.as_u64() != Some(before) {
            // The sampled log names the same value at the window's end.
            assert_eq!(sampled[k]["limit"], *end, "window {i}");
            assert_eq!(
                sampled[k]["at_s"].as_f64(),
                Some((i + 1) as f64),
                "window {i}"
            );
            before = end.as_u64().expect("limit");
            k += 1;
        }
    }
    assert_eq!(k, sampled.len());
}

/// A run with more windows than a series keeps says so in every format that shows windows:
/// mm1 over 20 s in 1 ms windows (20,000 > 12,288) is charted in merged 2 ms windows.
#[test]
fn merged_windows_are_announced_in_every_format() {
    let mm1 = library("mm1.ron");
    let path = mm1.to_str().expect("utf-8");
    for (format, needle) in [
        ("text", "note: the time series keep at most"),
        ("md", "> Note: the time series keep at most"),
        (
            "html",
            "<p class=\"meta\">Note: the time series keep at most",
        ),
        ("json", "\"window_configured_s\""),
    ] {
        let out = faultline(&[
            "run",
            path,
            "--set",
            "duration=20s",
            "--set",
            "window=1ms",
            "--format",
            format,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains(needle), "{format} lacks {needle:?}");
    }
}

/// Two scenarios can look alike in the availability columns and differ in what their
/// policies did: compare lists it per side. The retry storm has no breaker and retries
/// much; its breaker twin opens the breaker and retries far less.
#[test]
fn compare_shows_the_policy_activity_of_both_sides() {
    let storm = library("metastable-retry-storm.ron");
    let breaker = library("metastable-breaker.ron");
    let (a, b) = (
        storm.to_str().expect("utf-8"),
        breaker.to_str().expect("utf-8"),
    );
    let text = ok(&["compare", a, b, "--seeds", "1..2"]);
    let row = |what: &str| -> (u64, u64) {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(what))
            .unwrap_or_else(|| panic!("no {what} row in\n{text}"));
        let numbers: Vec<u64> = line[line.find(what).expect("row") + what.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|t| t.parse().ok())
            .collect();
        (numbers[0], numbers[1])
    };
    assert!(text.contains("policy activity over all seeds (A / B):"));
    let (opens_a, opens_b) = row("breaker opens");
    assert_eq!(opens_a, 0, "the storm has no breaker");
    assert!(opens_b > 0, "the breaker opened");
    let (retries_a, retries_b) = row("retries");
    assert!(retries_a > 2 * retries_b, "{retries_a} vs {retries_b}");
    let md = ok(&["compare", a, b, "--seeds", "1..2", "--format", "md"]);
    assert!(
        md.contains(&format!("| breaker opens | 0 | {opens_b} |")),
        "{md}"
    );
    let html = ok(&["compare", a, b, "--seeds", "1..2", "--format", "html"]);
    assert!(html.contains("<h2>Policy activity</h2>"));
    assert!(html.contains(&format!(
        "<tr><td>breaker opens</td><td class=\"num\">0</td><td class=\"num\">{opens_b}</td>"
    )));
    // A scenario against itself: the same activity on both sides.
    let same = ok(&["compare", a, a, "--seeds", "1..2"]);
    let line = same
        .lines()
        .find(|l| l.trim_start().starts_with("retries "))
        .expect("a retries row");
    assert!(
        line.ends_with(&format!(" {retries_a} / {retries_a}")),
        "{line}"
    );
}
