//! Tests of the JSON Lines.

use super::*;

#[test]
fn new_kinds_have_named_keys_in_json_lines() {
    use models::policy::breaker::BreakerState;
    let names = names();
    let cases = [
        (
            record(1000, TraceKind::BreakerTransition, 5, |r| {
                r.edge = 0;
                r.service = 1;
                r.breaker = Some((BreakerState::Closed, BreakerState::Open));
            }),
            r#"{"data":{"edge":"front -> back","from":"closed","request":5,"service":"back","t":1.000000000,"t_ns":1000000000,"to":"open"},"type":"breaker_transition"}"#,
        ),
        (
            record(1000, TraceKind::HedgeCopy, 5, |r| {
                (r.attempt, r.parent, r.edge, r.service, r.number) = (9, 3, 0, 1, 2);
            }),
            r#"{"data":{"attempt":9,"copy_number":2,"edge":"front -> back","parent_attempt":3,"request":5,"service":"back","t":1.000000000,"t_ns":1000000000},"type":"hedge_copy"}"#,
        ),
        (
            record(1000, TraceKind::Shed, 5, |r| {
                (r.attempt, r.edge, r.service, r.number) = (9, 0, 1, 1);
                r.outcome = Some(Outcome::Failed(FailureCause::Shed));
            }),
            r#"{"data":{"attempt":9,"edge":"front -> back","outcome":"shed","request":5,"service":"back","shed_by":"queue_length","t":1.000000000,"t_ns":1000000000},"type":"shed"}"#,
        ),
        (
            record(1000, TraceKind::Deadline, 5, |r| {
                (r.edge, r.service) = (1, 0);
                r.duration = SimDuration::from_millis(250);
            }),
            r#"{"data":{"edge":"client:users -> front","request":5,"service":"front","t":1.000000000,"t_ns":1000000000,"waited_s":0.250000000},"type":"deadline"}"#,
        ),
        (
            record(1000, TraceKind::Fallback, 5, |r| {
                (r.edge, r.service, r.parent) = (0, 1, 3);
                r.outcome = Some(Outcome::Degraded);
            }),
            r#"{"data":{"edge":"front -> back","outcome":"degraded","parent_attempt":3,"request":5,"service":"back","t":1.000000000,"t_ns":1000000000},"type":"fallback"}"#,
        ),
        (
            record(1500, TraceKind::ReplicaCrash, 0, |r| {
                (r.service, r.number, r.fault) = (1, 2, 0);
            }),
            r#"{"data":{"fault":"back latency x10","replica":2,"service":"back","t":1.500000000,"t_ns":1500000000},"type":"replica_crash"}"#,
        ),
        // A leak crashes a replica without a scripted fault.
        (
            record(1500, TraceKind::ReplicaCrash, 0, |r| {
                (r.service, r.number) = (1, 2);
            }),
            r#"{"data":{"replica":2,"service":"back","t":1.500000000,"t_ns":1500000000},"type":"replica_crash"}"#,
        ),
        (
            record(1600, TraceKind::ReplicaRestart, 0, |r| {
                (r.service, r.number) = (1, 2);
            }),
            r#"{"data":{"replica":2,"service":"back","t":1.600000000,"t_ns":1600000000},"type":"replica_restart"}"#,
        ),
        (
            record(1000, TraceKind::FaultStart, 0, |r| {
                (r.service, r.fault) = (1, 0)
            }),
            r#"{"data":{"fault":"back latency x10","service":"back","t":1.000000000,"t_ns":1000000000},"type":"fault_start"}"#,
        ),
        // A partition between clients only shows at no service.
        (
            record(2000, TraceKind::FaultEnd, 0, |r| r.fault = 0),
            r#"{"data":{"fault":"back latency x10","t":2.000000000,"t_ns":2000000000},"type":"fault_end"}"#,
        ),
    ];
    let mut writer = JsonLines::new(&names);
    for (r, expected) in cases {
        assert_eq!(writer.line(&r), expected, "{r:?}");
    }
}

#[test]
fn json_lines_have_a_type_and_named_data() {
    let (names, records) = run();
    let text = json_lines(&records, &names, &Filter::all());
    assert_eq!(text.lines().count(), records.len());
    for (line, r) in text.lines().zip(&records) {
        let v: Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(v["type"], r.kind.as_str());
        let data = &v["data"];
        assert_eq!(data["t_ns"], r.time.as_nanos());
        if r.request == 0 {
            assert!(data.get("request").is_none(), "{line}");
        } else {
            assert_eq!(data["request"], r.request);
        }
        let keys: Vec<&String> = data.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "keys in order: {line}");
    }
    let timeout = text
        .lines()
        .find(|l| l.contains("\"type\":\"timeout\""))
        .unwrap();
    assert!(timeout.contains("\"edge\":\"front -> back\""), "{timeout}");
    let slowed = text
        .lines()
        .find(|l| l.contains("\"slowed_by\":10"))
        .unwrap();
    assert!(
        slowed.contains("\"fault\":\"back latency x10\""),
        "{slowed}"
    );
    assert!(slowed.contains("\"instance\":\"back/"), "{slowed}");
    let start = text.lines().next().unwrap();
    assert!(
        start.starts_with("{\"data\":{\"client\":\"users\""),
        "{start}"
    );
    // The fault's window, at no request and not slowing anything itself.
    let windows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"type\":\"fault_"))
        .collect();
    assert_eq!(
        windows,
        [
            r#"{"data":{"fault":"back latency x10","service":"back","t":1.000000000,"t_ns":1000000000},"type":"fault_start"}"#,
            r#"{"data":{"fault":"back latency x10","service":"back","t":2.000000000,"t_ns":2000000000},"type":"fault_end"}"#,
        ]
    );
    // The same records give the same bytes.
    assert_eq!(text, json_lines(&run().1, &names, &Filter::all()));
}
