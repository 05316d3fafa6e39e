//! What a user's test looks like: a scenario built in code, with one service whose behaviour
//! no built-in kind describes, checked over 50 seeds with the documented API only.

use std::time::Duration;

use faultline::{
    Answer, Backoff, Behaviour, BehaviourRng, Breaker, Call, Calls, Client, Decision, Dist, Expect,
    Fault, Request, Retry, ScenarioBuilder, Service, ServiceState,
};

/// A recommendations service that degrades under pressure: when half its workers are busy it
/// skips the ranking model and answers a degraded, popular-items list from memory.
struct Recommendations;

impl Behaviour for Recommendations {
    fn decide(&mut self, _: &Request<'_>, s: &ServiceState, rng: &mut BehaviourRng) -> Decision {
        let work = Duration::from_micros(300 + rng.below_inclusive(400));
        if s.busy_workers * 2 > s.workers || s.queue_length > 0 {
            Decision::ok(work)
                .calls(Calls::None)
                .answer(Answer::Degraded)
        } else {
            Decision::ok(work)
        }
    }
}

#[test]
fn recommendations_stay_available_when_the_ranking_model_slows_down() {
    let scenario = ScenarioBuilder::new("recommendations", "30s")
        .service(
            Service::new("frontend", Dist::log_normal("2ms", "10ms"))
                .workers(32)
                .queue(64)
                .call(Call::to("recommendations").timeout("300ms")),
        )
        .service(
            Service::new("recommendations", Dist::constant("1ms"))
                .workers(16)
                .queue(32)
                .custom("degrade-under-pressure")
                .call(
                    Call::to("ranking")
                        .timeout("100ms")
                        .retry(Retry::attempts(2).backoff(Backoff::Constant("5ms".into())))
                        .breaker(
                            Breaker::new()
                                .sliding_window_size(50)
                                .minimum_number_of_calls(20)
                                .wait_duration_in_open_state("2s"),
                        ),
                ),
        )
        .service(
            Service::new("ranking", Dist::exponential("8ms"))
                .workers(8)
                .queue(16),
        )
        .client(Client::poisson("shoppers", "frontend", 150.0))
        .network_latency(Dist::log_normal("500us", "2ms"))
        .fault(Fault::latency("ranking", 5.0, "10s", "20s"))
        .build()
        .expect("a valid scenario")
        .with_behaviour("degrade-under-pressure", || Recommendations);

    let passed = faultline::check(&scenario)
        .seeds(1..=50)
        .expect(Expect::availability("shoppers").at_least(0.95))
        .expect(Expect::latency("shoppers").quantile(0.5).at_most("50ms"))
        .run()
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(passed.verdicts.len(), 2);

    // The same seed gives the same run, here as from the command line's point of view.
    assert_eq!(scenario.run(7).fingerprint(), scenario.run(7).fingerprint());
}

/// Zone redundancy written in code: three replicas spread over three zones behind a perfect
/// registry, a client that retries once; a whole zone going dark for 10 s costs only the
/// requests in flight there at the crash, and the client's retry answers those too. (With
/// `Health::Unchecked` instead, callers keep sending a third of the traffic into the dark zone:
/// availability 0.96 and amplification 1.11 on the worst seed, and this check fails.)
#[test]
fn a_zone_outage_is_invisible_behind_replicas_spread_over_zones() {
    use faultline::{Across, Crash, Health, Placement, Region, Target};

    let scenario = ScenarioBuilder::new("zones", "30s")
        .region(
            Region::new("eu")
                .zone("eu-a", &["a1"])
                .zone("eu-b", &["b1"])
                .zone("eu-c", &["c1"]),
        )
        .network_latency(Dist::constant("200us"))
        .cross_zone_latency(Dist::log_normal("1ms", "3ms"))
        .service(
            Service::new("api", Dist::exponential("4ms"))
                .workers(16)
                .queue(64)
                .replicas(3)
                .placement(Placement::spread(Across::Zones).strict())
                .health(Health::Perfect),
        )
        .client(
            Client::poisson("users", "api", 300.0)
                .timeout("200ms")
                .retry(Retry::attempts(2).backoff(Backoff::Constant("10ms".into()))),
        )
        .fault(Crash::of(Target::zone("eu-c"), "10s").restart_after("10s"))
        .build()
        .expect("a valid scenario");
    faultline::check(&scenario)
        .seeds(1..=10)
        .expect(Expect::availability("users").at_least(0.999))
        .expect(Expect::amplification("users", 1.01))
        .run()
        .unwrap_or_else(|failure| panic!("{failure}"));
}
