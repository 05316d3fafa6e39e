//! An adaptive cache, a behaviour no built-in kind describes: its hit ratio falls as its
//! workers fill up (under pressure it has less room and time to keep entries warm), so a
//! latency fault on the database behind it sends it more misses, which slow it further.
//! A static model with the same hit ratio predicts a mild fault; this one shows the spiral.
//!
//! `cargo run --release --example adaptive_cache` compares the two over ten seeds.

use std::time::Duration;

use faultline::{
    Backoff, Behaviour, BehaviourRng, Call, Calls, Client, Decision, Dist, Fault, Request, Retry,
    Scenario, ScenarioBuilder, Service, ServiceState,
};

/// A cache in front of `db`: a hit answers from memory, a miss calls `db`.
#[derive(Clone, Debug)]
pub struct AdaptiveCache {
    /// The hit ratio of an idle cache.
    pub base_hit_ratio: f64,
    /// Whether the hit ratio falls with load (`base * (1 - busy / workers)`); false is the
    /// static twin, always at `base_hit_ratio`.
    pub adaptive: bool,
}

impl Behaviour for AdaptiveCache {
    fn decide(
        &mut self,
        _request: &Request<'_>,
        service: &ServiceState,
        rng: &mut BehaviourRng,
    ) -> Decision {
        let hit_ratio = if self.adaptive {
            let load = f64::from(service.busy_workers) / f64::from(service.workers);
            self.base_hit_ratio * (1.0 - load).max(0.0)
        } else {
            self.base_hit_ratio
        };
        let lookup = Decision::ok(Duration::from_micros(500));
        if rng.chance(hit_ratio) {
            lookup.calls(Calls::None)
        } else {
            lookup
        }
    }
}

/// Users -> cache -> db, and from 20 s to 40 s the database takes ten times longer.
pub fn scenario(adaptive: bool) -> Scenario {
    ScenarioBuilder::new("adaptive-cache", "60s")
        .service(
            Service::new("cache", Dist::constant("500us"))
                .workers(32)
                .queue(64)
                .custom("adaptive-cache")
                .call(
                    Call::to("db")
                        .timeout("250ms")
                        .retry(Retry::attempts(2).backoff(Backoff::Constant("10ms".into()))),
                ),
        )
        .service(
            Service::new("db", Dist::exponential("5ms"))
                .workers(8)
                .queue(32),
        )
        .client(Client::poisson("users", "cache", 400.0))
        .network_latency(Dist::constant("500us"))
        .fault(Fault::latency("db", 10.0, "20s", "40s"))
        .build()
        .expect("the example scenario is valid")
        .with_behaviour("adaptive-cache", move || AdaptiveCache {
            base_hit_ratio: 0.8,
            adaptive,
        })
}

#[allow(dead_code)]
fn main() {
    for adaptive in [false, true] {
        let runs = scenario(adaptive).runs(1..=10);
        let n = runs.len() as f64;
        let users: Vec<_> = runs.iter().map(|r| r.client("users").unwrap()).collect();
        let db: f64 = runs
            .iter()
            .map(|r| r.service("db").unwrap().requests as f64)
            .sum::<f64>()
            / n;
        let availability = users.iter().map(|u| u.availability).sum::<f64>() / n;
        let p99 = users.iter().map(|u| u.p99.as_secs_f64()).sum::<f64>() / n;
        println!(
            "{:<8} availability {:.4}  p99 {:>6.1} ms  db requests {:>7.0}   (mean of 10 seeds)",
            if adaptive { "adaptive" } else { "static" },
            availability,
            p99 * 1e3,
            db
        );
    }
}
