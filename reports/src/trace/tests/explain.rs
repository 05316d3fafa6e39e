//! Tests of the stories of requests.

use super::*;

#[test]
fn explain_tells_the_faults_crashes_and_breaker_transitions_around_a_request() {
    use models::policy::breaker::BreakerState;
    let names = names();
    let transition = |t_ms, request, edge, to| {
        record(t_ms, TraceKind::BreakerTransition, request, |r| {
            r.edge = edge;
            r.breaker = Some((BreakerState::Closed, to));
        })
    };
    let crash = |t_ms, service| {
        record(t_ms, TraceKind::ReplicaCrash, 0, |r| {
            (r.service, r.number, r.fault) = (service, 1, NONE);
        })
    };
    let records = [
        record(500, TraceKind::FaultStart, 0, |r| {
            (r.service, r.fault) = (1, 0)
        }),
        record(1000, TraceKind::RequestStart, 3, |r| {
            (r.client, r.edge, r.service) = (0, 1, 0);
        }),
        record(1000, TraceKind::AttemptSent, 3, |r| {
            (r.attempt, r.edge, r.service, r.number) = (6, 1, 0, 1);
        }),
        // Around it: a crash at front (reached) and one at back (not reached), a transition
        // on its edge judging another request and one on an edge it does not use.
        crash(1010, 0),
        crash(1020, 1),
        transition(1030, 4, 1, BreakerState::Open),
        transition(1040, 4, 0, BreakerState::HalfOpen),
        record(1050, TraceKind::FaultEnd, 0, |r| {
            (r.service, r.fault) = (1, 0)
        }),
        record(1100, TraceKind::Shed, 3, |r| {
            (r.attempt, r.edge, r.service, r.number) = (6, 1, 0, 2);
        }),
        record(1100, TraceKind::RequestFinished, 3, |r| {
            (r.client, r.edge, r.service, r.number) = (0, 1, 0, 1);
            r.outcome = Some(Outcome::Failed(FailureCause::Shed));
            r.duration = SimDuration::from_millis(100);
        }),
        // After its last record: not its story.
        crash(1200, 0),
    ];
    let story = explain(&records, 3, &names);
    let expected = "\
request 3: from client users to front, starting at 1.000000000s

     0.500000000s  -   500.000ms  fault back latency x10 begins
     1.000000000s  +     0.000ms  users -> front: attempt 1 sent (#6)
     1.010000000s  +    10.000ms  front: replica 1 crashes (a leak used it up); its queue and the work in progress are lost
     1.030000000s  +    30.000ms  users -> front: circuit breaker closed -> open
     1.050000000s  +    50.000ms  fault back latency x10 ends
     1.100000000s  +   100.000ms  front: attempt 1 (#6) shed by CoDel
     1.100000000s  +   100.000ms  request 3 finished: failed (shed) after 100ms (1 attempt from the client)

outcome: failed (shed) after 100ms
attempts on every hop: 1; timeouts: 0; retries: 0; late replies: 0
around it: faults on: back latency x10; replica crashes: 1; restarts: 0; breaker transitions: 1
";
    assert_eq!(story, expected);
    // The replay keeps what the story may need, and nothing of other requests' steps.
    let kept: Vec<TraceRecord> = records
        .iter()
        .filter(|r| explain_needs(r, 3))
        .copied()
        .collect();
    assert_eq!(kept.len(), records.len());
    assert!(!explain_needs(&records[2], 4));
    assert_eq!(explain(&kept, 3, &names), story);
}

#[test]
fn explain_tells_the_story_of_a_request_that_timed_out() {
    let (names, records) = run();
    // A request in the fault window whose call to back timed out and was retried.
    let request = records
        .iter()
        .find(|r| {
            r.kind == TraceKind::RetryScheduled && r.parent != 0 && r.time > SimTime(1_100_000_000)
        })
        .unwrap()
        .request;
    let story = explain(&records, request, &names);
    assert!(story.starts_with(&format!("request {request}: from client users to front")));
    for needle in [
        "users -> front: attempt 1 sent",
        "front -> back: call 1 of #",
        "timed out after 20ms",
        "retry (attempt 2) after a backoff of",
        "(slowed x10 by fault back latency x10)",
        "outcome: ",
        "faults: back latency x10 slowed",
        // It started in the fault's window: the window's start comes first, before it.
        "1.000000000s  -",
        "ms  fault back latency x10 begins\n",
        "around it: faults on: back latency x10; replica crashes: 0",
    ] {
        assert!(story.contains(needle), "{needle:?} missing in\n{story}");
    }
    // Hops are indented under their caller.
    assert!(
        story.contains("ms    front -> back: attempt 1 sent"),
        "{story}"
    );
    assert_eq!(story, explain(&records, request, &names));
    assert_eq!(
        explain(&records, 1_000_000, &names),
        "request 1000000 does not appear in the trace\n"
    );
}
