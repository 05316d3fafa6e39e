//! Tests of the record filter.

use super::*;

#[test]
fn filters_select_what_they_say() {
    let (names, records) = run();
    let count = |expression: &str, pred: &dyn Fn(&TraceRecord) -> bool| {
        let filter = parse(expression, &names).unwrap();
        let selected: Vec<&TraceRecord> = records.iter().filter(|r| filter.matches(r)).collect();
        let expected: Vec<&TraceRecord> = records.iter().filter(|r| pred(r)).collect();
        assert_eq!(selected, expected, "{expression}");
        assert!(!selected.is_empty(), "{expression} selects something");
        selected.len()
    };
    count("service=back", &|r| r.service == 1);
    count("request=42", &|r| r.request == 42);
    count("request=42|43", &|r| r.request == 42 || r.request == 43);
    count("kind=timeout", &|r| r.kind == TraceKind::Timeout);
    count("worker=back/2", &|r| r.service == 1 && r.worker == 2);
    // `instance=` is the deprecated spelling of `worker=`: the same filter, and a warning.
    assert_eq!(
        parse("instance=back/2", &names),
        parse("worker=back/2", &names)
    );
    assert_eq!(
        Filter::warnings("instance=back/2, t=1s.."),
        ["instance=back/2 is deprecated; write worker=back/2"]
    );
    assert!(Filter::warnings("worker=back/2,t=1s..").is_empty());
    let window =
        |r: &TraceRecord| r.time >= SimTime(1_200_000_000) && r.time < SimTime(1_300_000_000);
    count(" service = back , t=1.2s..1300ms", &|r| {
        r.service == 1 && window(r)
    });
    count("kind=retry_scheduled|late_reply,t=1s..", &|r| {
        matches!(r.kind, TraceKind::RetryScheduled | TraceKind::LateReply)
            && r.time >= SimTime(1_000_000_000)
    });
    count("t=..1s", &|r| r.time < SimTime(1_000_000_000));
    // The records of no request: by kind, service and time, never by request.
    let windows = count("kind=fault_start|fault_end", &|r| {
        matches!(r.kind, TraceKind::FaultStart | TraceKind::FaultEnd)
    });
    assert_eq!(windows, 2);
    count("service=back,kind=fault_end,t=2s..", &|r| {
        r.kind == TraceKind::FaultEnd
    });
    let filter = parse("request=1|2|3", &names).unwrap();
    assert!(!records.iter().any(|r| r.request == 0 && filter.matches(r)));
}

#[test]
fn bad_filters_say_what_is_wrong() {
    let (names, _) = run();
    let error = |expression: &str| parse(expression, &names).unwrap_err().to_string();
    let cases = [
        (
            "colour=red",
            "unknown filter key \"colour\"; expected request, service",
        ),
        ("payments", "filter term \"payments\" is not key=value"),
        ("service=front,", "filter term \"\" is not key=value"),
        (
            "service=pay",
            "unknown service \"pay\"; the services are front, back",
        ),
        ("service=front,service=back", "given twice"),
        ("request=x", "\"x\" is not a request id"),
        ("request=0", "\"0\" is not a request id"),
        (
            "kind=timeot",
            "unknown kind \"timeot\"; the kinds are request_start",
        ),
        ("instance=back", "expected SERVICE/WORKER"),
        ("instance=back/4", "back has 4 workers, back/0 to back/3"),
        ("worker=back/4", "back has 4 workers, back/0 to back/3"),
        ("instance=back/1,worker=back/2", "given twice"),
        ("t=5s", "expected a time range such as 120s..130s"),
        ("t=5s..2s", "the range is empty"),
        ("t=5..6s", "\"5\" has no unit"),
        ("request=", "the value is empty"),
    ];
    for (expression, expected) in cases {
        let message = error(expression);
        assert!(message.contains(expected), "{expression}: {message}");
    }
}
