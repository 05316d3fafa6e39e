//! Check results: JUnit, incomplete runs, tolerances and the baseline.

use super::*;

fn result(label: &str, passed: bool) -> ExpectationResult {
    ExpectationResult {
        label: label.into(),
        identity: label.into(),
        per_seed: vec![(1, 0.9), (2, 0.8)],
        worst_seed: 2,
        worst: 0.8,
        measured: 0.8,
        passed,
        bound: ">= 0.99".into(),
        better: Better::Higher,
        bound_value: 0.85,
        unit: "",
        decimals: 3,
    }
}

#[test]
fn failing_seeds_are_those_whose_own_value_misses_the_bound() {
    assert_eq!(result("x", false).failing_seeds(), vec![2]);
}

#[test]
fn junit_counts_and_escapes() {
    let checks = vec![ScenarioCheck {
        scenario: "a<b".into(),
        replay: "faultline replay x.ron".into(),
        seeds: (1, 2),
        results: vec![
            result("availability of x >= 0.99 & more", false),
            result("ok", true),
        ],
        regressions: vec![],
        incomplete: vec![],
        allow_incomplete: false,
    }];
    let xml = junit(&checks);
    assert!(xml.contains("tests=\"2\" failures=\"1\""));
    assert!(xml.contains("name=\"a&lt;b\""));
    assert!(xml.contains("&gt;= 0.99 &amp; more"));
    assert!(xml.contains("worst seed 2"));
    assert!(xml.contains("--seed 2"));
}

/// Issue 13: a run stopped at its event limit is never a pass.
#[test]
fn incomplete_runs_fail_unless_allowed() {
    let mut check = ScenarioCheck {
        scenario: "s".into(),
        replay: "faultline replay s.ron".into(),
        seeds: (1, 3),
        results: vec![result("ok", true)],
        regressions: vec![],
        incomplete: vec![IncompleteRun {
            seed: 2,
            events: 1000,
            stop: "max_events".into(),
        }],
        allow_incomplete: false,
    };
    assert!(check.failed());
    let message = check.incomplete_message().unwrap();
    assert!(message.starts_with("1 of 3 runs stopped"), "{message}");
    assert!(message.contains("--allow-incomplete"), "{message}");
    assert!(
        message.contains("replay: faultline replay s.ron --seed 2"),
        "{message}"
    );
    let xml = junit(std::slice::from_ref(&check));
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert!(xml.contains("name=\"complete runs\""));
    check.allow_incomplete = true;
    assert!(!check.failed());
    assert!(junit(&[check]).contains("failures=\"0\""));
}

#[test]
fn regressions_use_the_stated_tolerances() {
    let mut r = result("a", true);
    r.measured = 0.9985;
    assert!(!r.regressed(0.999, 0.001, 0.05));
    r.measured = 0.997;
    assert!(r.regressed(0.999, 0.001, 0.05));
    r.better = Better::Lower;
    r.measured = 104.0;
    assert!(!r.regressed(100.0, 0.001, 0.05));
    r.measured = 106.0;
    assert!(r.regressed(100.0, 0.001, 0.05));
}

#[test]
fn baseline_round_trips() {
    let checks = vec![ScenarioCheck {
        scenario: "s".into(),
        replay: String::new(),
        seeds: (1, 2),
        results: vec![result("a", true)],
        regressions: vec![],
        incomplete: vec![],
        allow_incomplete: false,
    }];
    let parsed = parse_baseline(&baseline_json(&checks)).unwrap();
    assert_eq!(parsed, vec![("s".into(), "a".into(), Some(0.8))]);
    assert!(parse_baseline("{}").is_err());
}

/// Two expectations that differ only in their bound measure the same thing: one identity, so a
/// baseline survives a tightened threshold; the label keeps the bound.
#[test]
fn an_expectation_is_identified_without_its_bound() {
    let expect = |text: &str| -> Vec<Expectation> { ron::from_str(text).expect("expectations") };
    let loose = expect(
        r#"[Availability(of: "users", at_least: 0.9), Latency(of: "users", quantile: 0.99, at_most: "1s", over: Mean)]"#,
    );
    let tight = expect(
        r#"[Availability(of: "users", at_least: 0.999), Latency(of: "users", quantile: 0.99, at_most: "200ms", over: Mean)]"#,
    );
    for (a, b) in loose.iter().zip(&tight) {
        let (a, b) = (spec_of(a), spec_of(b));
        assert_eq!(a.identity, b.identity);
        assert_ne!(a.label, b.label);
    }
    assert_eq!(
        spec_of(&loose[0]).identity,
        "availability of users (worst seed)"
    );
    assert_eq!(
        spec_of(&loose[1]).identity,
        "latency p99 of users (mean over seeds)"
    );
}

/// `check --format csv|md|html`: incomplete runs and regressions are rows too, every CSV row
/// has the header's columns, and the counts agree with the text's closing line.
#[test]
fn formats_show_incomplete_runs_regressions_and_failing_seeds() {
    let checks = vec![ScenarioCheck {
        scenario: "a,b".into(),
        replay: "faultline replay x.ron".into(),
        seeds: (1, 2),
        results: vec![result("availability of x", false), result("ok", true)],
        regressions: vec![("ok".into(), 0.95)],
        incomplete: vec![IncompleteRun {
            seed: 2,
            events: 10,
            stop: "max_events".into(),
        }],
        allow_incomplete: false,
    }];
    assert_eq!(tally(&checks), (4, 3));
    assert_eq!(
        summary_line(&checks),
        "check FAILED: 1 of 4 expectations met, 3 violated"
    );
    let csv = csv(&checks);
    let columns = CSV_HEADER.split(',').count();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    for row in &rows {
        // The scenario's name is quoted: its comma is not a separator.
        let row = row.replacen("\"a,b\"", "ab", 1);
        assert_eq!(row.split(',').count(), columns, "{row}");
    }
    assert!(rows[0].contains(",complete runs,complete runs,FAIL,1,"));
    assert!(rows[1].contains(",FAIL,0.8,,>= 0.99,2,0.8,1..2,2,false,"));
    assert!(rows[2].ends_with(",PASS,0.8,,>= 0.99,2,0.8,1..2,2,true,0.95"));
    let md = markdown(&checks, &["x.ron".to_owned()]);
    assert!(md.contains("> **FAIL** complete runs: 1 of 2 runs stopped"));
    assert!(md.contains("**FAIL** baseline: ok: 0.800 now, 0.950 in the baseline"));
    assert!(md.contains("- availability of x: `faultline replay x.ron --seed 2`"));
    assert!(md.ends_with("check FAILED: 1 of 4 expectations met, 3 violated\n"));
    let html = crate::html::check_html(&checks, &["x.ron".to_owned()]);
    assert!(html.contains("<h2>a,b</h2>"));
    assert!(html.contains("baseline: 0.800 now, 0.950 in the baseline"));
    assert!(!html.contains("http"), "no external resource");
}
