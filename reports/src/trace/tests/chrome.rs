//! Tests of the Chrome trace.

use super::*;

#[test]
fn chrome_trace_shows_fault_windows_crashes_and_breaker_transitions() {
    use models::policy::breaker::BreakerState;
    let names = names();
    let records = [
        record(1000, TraceKind::FaultStart, 0, |r| {
            (r.service, r.fault) = (1, 0)
        }),
        record(1200, TraceKind::BreakerTransition, 0, |r| {
            (r.edge, r.service) = (0, 1);
            r.breaker = Some((BreakerState::Closed, BreakerState::Open));
        }),
        record(1300, TraceKind::ReplicaCrash, 0, |r| {
            (r.service, r.number, r.fault) = (1, 0, 0);
        }),
        record(1400, TraceKind::ReplicaRestart, 0, |r| {
            (r.service, r.number) = (1, 0)
        }),
        record(1500, TraceKind::Shed, 4, |r| {
            (r.attempt, r.edge, r.service, r.number) = (8, 0, 1, 0);
        }),
        record(2000, TraceKind::FaultEnd, 0, |r| {
            (r.service, r.fault) = (1, 0)
        }),
    ];
    let doc: Value =
        serde_json::from_str(&chrome_trace(&records, &names, Filter::all())).expect("valid JSON");
    let events: Vec<String> = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect();
    // front is process 2 and back process 3 (users is 1); back's fault track comes after
    // its 4 workers.
    let expected = [
        r#"{"args":{"name":"service front"},"cat":"__metadata","name":"process_name","ph":"M","pid":2,"tid":0,"ts":0}"#,
        r#"{"args":{"sort_index":2},"cat":"__metadata","name":"process_sort_index","ph":"M","pid":2,"tid":0,"ts":0}"#,
        r#"{"args":{"name":"service back"},"cat":"__metadata","name":"process_name","ph":"M","pid":3,"tid":0,"ts":0}"#,
        r#"{"args":{"sort_index":3},"cat":"__metadata","name":"process_sort_index","ph":"M","pid":3,"tid":0,"ts":0}"#,
        r#"{"args":{"name":"fault: back latency x10"},"cat":"__metadata","name":"thread_name","ph":"M","pid":3,"tid":5,"ts":0}"#,
        r#"{"args":{"sort_index":0},"cat":"__metadata","name":"thread_sort_index","ph":"M","pid":3,"tid":5,"ts":0}"#,
        r#"{"args":{"fault":"back latency x10"},"cat":"fault","dur":1000000.0,"name":"fault: back latency x10","ph":"X","pid":3,"tid":5,"ts":1000000.0}"#,
        r#"{"args":{"edge":"front -> back","from":"closed","to":"open"},"cat":"breaker_transition","name":"breaker closed -> open","ph":"i","pid":2,"s":"p","tid":0,"ts":1200000.0}"#,
        r#"{"args":{"fault":"back latency x10","replica":0},"cat":"replica_crash","name":"crash replica 0","ph":"i","pid":3,"s":"p","tid":0,"ts":1300000.0}"#,
        r#"{"args":{"replica":0},"cat":"replica_restart","name":"restart replica 0","ph":"i","pid":3,"s":"p","tid":0,"ts":1400000.0}"#,
        r#"{"args":{"attempt":8,"edge":"front -> back","request":4,"shed_by":"concurrency_limit"},"cat":"shed","name":"shed","ph":"i","pid":3,"s":"p","tid":0,"ts":1500000.0}"#,
    ];
    assert_eq!(events, expected);
    // A fault still on at the end of the trace ends with its last record.
    let open = chrome_trace(&records[..5], &names, Filter::all());
    assert!(
        open.contains(r#""name":"fault: back latency x10","cat":"fault","ph":"X","ts":1000000.000,"dur":500000.000"#),
        "{open}"
    );
    // A span is kept when its first record passes the filter and it meets the range.
    let filter = parse("service=back,t=1.9s..", &names).unwrap();
    let late = chrome_trace(&records, &names, filter);
    assert!(
        late.contains("\"name\":\"fault: back latency x10\""),
        "{late}"
    );
    assert!(!late.contains("crash replica"), "{late}");
}

#[test]
fn chrome_trace_is_valid_and_keeps_spans_nested_per_worker() {
    let (names, records) = run();
    let text = chrome_trace(&records, &names, Filter::all());
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["displayTimeUnit"], "ms");
    let events = doc["traceEvents"].as_array().unwrap();
    for e in events {
        for key in ["name", "ph", "ts", "pid", "tid", "cat", "args"] {
            assert!(e.get(key).is_some(), "{key} missing in {e}");
        }
    }
    let phase = |ph: &'static str| events.iter().filter(move |e| e["ph"] == ph);
    assert!(phase("X").all(|e| e["dur"].is_number()));
    let names_of = |ph: &'static str| {
        phase(ph)
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>()
    };
    let instants = names_of("i");
    for name in ["timeout", "retry", "late reply"] {
        assert!(instants.contains(name), "{name} in {instants:?}");
    }
    let threads = phase("M")
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap().to_string())
        .collect::<BTreeSet<_>>();
    assert!(threads.contains("back/0") && threads.contains("front/7"));
    assert!(threads.contains("users lane 0"));
    assert!(names_of("X").contains("work (slowed x10)"));
    // On every track, spans nest: each one ends before its enclosing span does. Times are
    // whole nanoseconds, written as microseconds with three decimals.
    let ns = |v: &Value| (v.as_f64().unwrap() * 1e3).round() as u64;
    let mut tracks: BTreeMap<(u64, u64), Vec<(u64, u64)>> = BTreeMap::new();
    for e in phase("X") {
        let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        let ts = ns(&e["ts"]);
        tracks
            .entry(key)
            .or_default()
            .push((ts, ts + ns(&e["dur"])));
    }
    for spans in tracks.values() {
        let mut stack: Vec<u64> = Vec::new();
        for &(start, end) in spans {
            while stack.last().is_some_and(|&top| top <= start) {
                stack.pop();
            }
            if let Some(&top) = stack.last() {
                assert!(
                    end <= top,
                    "span {start}..{end} overlaps its parent ending at {top}"
                );
            }
            stack.push(end);
        }
    }
    // A filter keeps the spans that start with a matching record and meet the range.
    let filter = parse("request=42", &names).unwrap();
    let one: Value = serde_json::from_str(&chrome_trace(&records, &names, filter)).unwrap();
    let one = one["traceEvents"].as_array().unwrap();
    assert!(
        one.iter()
            .filter(|e| e["ph"] != "M")
            .all(|e| e["args"]["request"] == 42)
    );
    assert!(
        one.iter()
            .any(|e| e["name"] == "request 42" && e["cat"] == "request")
    );
}
