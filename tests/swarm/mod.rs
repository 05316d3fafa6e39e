//! The swarm generator of `tests/property.rs`: a [`Swarm`] (sizes, features switched on, a
//! seed) written out as a valid scenario in RON. Each service, client and fault draws from its
//! own stream, named after it, so switching one feature off leaves the others' draws alone.

mod places;
mod policy;

use std::fmt::Write as _;

use places::Topo;

/// What a case may use; a swarm switches each on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    Topology,
    Replicas,
    Placement,
    Health,
    Endpoints,
    Parallel,
    Optional,
    Timeout,
    Deadline,
    Retry,
    Budget,
    Hedge,
    Breaker,
    Bulkhead,
    Fallback,
    Throttle,
    Outlier,
    Order,
    Defaults,
    Inbound,
    Idempotency,
    PropagateDeadline,
    Async,
    Database,
    Record,
    ClosedLoop,
    Profile,
    Objectives,
    NetworkExtras,
    Partitions,
    Clocks,
    Expect,
}

pub const FEATURES: [Feature; 32] = {
    use Feature::*;
    [
        Topology,
        Replicas,
        Placement,
        Health,
        Endpoints,
        Parallel,
        Optional,
        Timeout,
        Deadline,
        Retry,
        Budget,
        Hedge,
        Breaker,
        Bulkhead,
        Fallback,
        Throttle,
        Outlier,
        Order,
        Defaults,
        Inbound,
        Idempotency,
        PropagateDeadline,
        Async,
        Database,
        Record,
        ClosedLoop,
        Profile,
        Objectives,
        NetworkExtras,
        Partitions,
        Clocks,
        Expect,
    ]
};

/// One generated case: sizes, the features switched on, a generator seed and a run seed.
#[derive(Clone, Debug)]
pub struct Swarm {
    pub seed: u64,
    pub run_seed: u64,
    pub services: usize,
    pub clients: usize,
    pub faults: usize,
    pub features: Vec<Feature>,
}

impl Swarm {
    fn on(&self, f: Feature) -> bool {
        self.features.contains(&f)
    }
}

/// SplitMix64: the generator's own randomness, one stream per named purpose.
struct Rng(u64);

impl Rng {
    fn stream(seed: u64, key: &str) -> Rng {
        // FNV-1a of the key, so a stream depends on its name, not on creation order.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Rng(seed ^ h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi);
        lo + self.next() % (hi - lo + 1)
    }

    fn index(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent / 100`.
    fn percent(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// A number in `[lo, hi]`, written with three decimals.
    fn real(&mut self, lo: f64, hi: f64) -> String {
        let steps = ((hi - lo) * 1000.0) as u64;
        format!("{:.3}", lo + self.range(0, steps) as f64 / 1000.0)
    }
}

fn ms(n: u64) -> String {
    format!("\"{n}ms\"")
}

fn us(n: u64) -> String {
    format!("\"{n}us\"")
}

/// A duration distribution with a typical value from `lo_us` to `hi_us` microseconds.
fn dist(r: &mut Rng, lo_us: u64, hi_us: u64) -> String {
    let typical = r.range(lo_us, hi_us);
    match r.index(4) {
        0 => format!("Constant(value: {})", us(typical)),
        1 => format!("Exponential(mean: {})", us(typical.max(1))),
        2 => format!(
            "LogNormal(median: {}, p99: {})",
            us(typical.max(1)),
            us(typical.max(1) * r.range(1, 8))
        ),
        _ => format!(
            "FoldedNormal(mean: {}, sd: {})",
            us(typical),
            us(r.range(0, typical))
        ),
    }
}

const CAUSES: [&str; 11] = [
    "Timeout",
    "Rejected",
    "Error",
    "Dependency",
    "CircuitOpen",
    "BulkheadFull",
    "RateLimited",
    "Shed",
    "Throttled",
    "Conflict",
    "Unavailable",
];

/// A non-empty random subset of the failure causes.
fn causes(r: &mut Rng) -> String {
    let mut picked: Vec<&str> = CAUSES.iter().copied().filter(|_| r.percent(40)).collect();
    if picked.is_empty() {
        picked.push(*r.pick(&CAUSES));
    }
    format!("[{}]", picked.join(", "))
}

/// One service as the generator planned it, before it is written out.
struct ServicePlan {
    replicas: u64,
    /// Its endpoint names, its own first.
    endpoints: Vec<String>,
    record: bool,
}

struct Gen<'a> {
    swarm: &'a Swarm,
    topo: Topo,
    services: Vec<ServicePlan>,
    /// The fields of `policies.default`.
    defaults: Vec<String>,
    /// `policies.default` has a retry: then no edge may hedge (retry and hedge exclude).
    default_retry: bool,
    duration_s: u64,
}

impl Gen<'_> {
    fn on(&self, f: Feature) -> bool {
        self.swarm.on(f)
    }

    /// One call from service `from` to a later service (so the plan is a DAG).
    fn call(&self, r: &mut Rng, from: usize) -> String {
        let to = r.range(from as u64 + 1, self.services.len() as u64 - 1) as usize;
        let mut fields = vec![format!("to: \"s{to}\"")];
        let endpoints = &self.services[to].endpoints;
        if endpoints.len() > 1 && r.percent(60) {
            fields.push(format!("endpoint: \"{}\"", r.pick(endpoints)));
        }
        if self.on(Feature::Optional) && r.percent(40) {
            fields.push(format!("probability: {}", r.real(0.0, 1.0)));
        }
        fields.extend(self.policy(r, !self.default_retry));
        format!("({})", fields.join(", "))
    }

    /// A call plan of service `from`: steps of one call or a parallel group.
    fn plan(&self, r: &mut Rng, from: usize) -> String {
        if from + 1 >= self.services.len() || self.services[from].record {
            return "[]".into();
        }
        let steps: Vec<String> = (0..r.range(0, 3))
            .map(|_| {
                if self.on(Feature::Parallel) && r.percent(40) {
                    let n = r.range(2, 3);
                    let members: Vec<String> = (0..n).map(|_| self.call(r, from)).collect();
                    let join = match r.index(3) {
                        0 => "All".to_string(),
                        1 => "First".to_string(),
                        _ => format!("Quorum({})", r.range(1, n)),
                    };
                    format!("(parallel: [{}], join: {join})", members.join(", "))
                } else {
                    self.call(r, from)
                }
            })
            .collect();
        format!("[{}]", steps.join(", "))
    }

    fn inbound(r: &mut Rng) -> String {
        let mut fields = Vec::new();
        if r.percent(60) {
            fields.push(if r.percent(50) {
                format!(
                    "rate_limit: Resilience4j(limit_for_period: {}, limit_refresh_period: {}, \
                     timeout_duration: {})",
                    r.range(1, 50),
                    ms(r.range(1, 1000)),
                    ms(r.range(0, 200))
                )
            } else {
                format!(
                    "rate_limit: Envoy(max_tokens: {}, tokens_per_fill: {}, fill_interval: {})",
                    r.range(1, 50),
                    r.range(1, 10),
                    ms(r.range(50, 1000))
                )
            });
        }
        if r.percent(60) {
            let min = r.range(1, 10);
            let max = min + r.range(0, 50);
            let initial = r.range(min, max);
            fields.push(match r.index(4) {
                0 => format!("shed: QueueLength(max: {})", r.range(0, 20)),
                1 => {
                    let target = r.range(1, 20);
                    format!(
                        "shed: Codel(target_delay: {}, interval: {})",
                        ms(target),
                        ms(target + r.range(1, 200))
                    )
                }
                2 => format!(
                    "shed: Aimd(initial_limit: {initial}, min_limit: {min}, max_limit: {max}, \
                     backoff_ratio: {}, timeout: {})",
                    r.real(0.5, 0.99),
                    ms(r.range(1, 1000))
                ),
                _ => format!(
                    "shed: Gradient2(initial_limit: {initial}, min_limit: {min}, \
                     max_concurrency: {max}, smoothing: {}, long_window: {}, rtt_tolerance: {})",
                    r.real(0.0, 1.0),
                    r.range(1, 600),
                    r.real(1.0, 3.0)
                ),
            });
        }
        format!("inbound: ({}), ", fields.join(", "))
    }

    fn objective(r: &mut Rng) -> String {
        let mut fields = Vec::new();
        if r.percent(70) {
            fields.push(format!("availability: {}", r.real(0.5, 1.0)));
        }
        if r.percent(70) {
            fields.push(format!("p99: {}", ms(r.range(1, 2000))));
        }
        format!("objective: ({}), ", fields.join(", "))
    }

    fn service(&self, i: usize) -> String {
        let mut r = Rng::stream(self.swarm.seed, &format!("service/{i}"));
        let plan = &self.services[i];
        let mut s = format!(
            "Service(name: \"s{i}\", workers: {}, queue: {}, service_time: {}, ",
            r.range(1, 8),
            r.range(0, 20),
            dist(&mut r, 100, 20_000)
        );
        if r.percent(40) {
            let _ = write!(s, "error_rate: {}, ", r.real(0.0, 0.3));
        }
        if plan.record {
            s.push_str("kind: Record, ");
        } else if self.on(Feature::Database) && r.percent(40) {
            let _ = write!(
                s,
                "kind: Database(max_throughput_per_s: {}), ",
                r.real(10.0, 500.0)
            );
        }
        if self.on(Feature::Async) && r.percent(50) {
            s.push_str("execution: Async, ");
        }
        if self.on(Feature::Idempotency) && r.percent(60) {
            let _ = write!(
                s,
                "idempotent: {}, idempotency_keys: {}, ",
                r.percent(30),
                r.percent(50)
            );
        }
        if self.on(Feature::PropagateDeadline) && r.percent(60) {
            s.push_str("propagate_deadline: true, ");
        }
        if self.on(Feature::Inbound) && r.percent(60) {
            s.push_str(&Self::inbound(&mut r));
        }
        if self.on(Feature::Objectives) && r.percent(50) {
            s.push_str(&Self::objective(&mut r));
        }
        self.replicas(&mut r, plan.replicas, &mut s);
        if plan.endpoints[0] != "default" {
            let _ = write!(s, "endpoint: \"{}\", ", plan.endpoints[0]);
        }
        let extra: Vec<String> = plan.endpoints[1..]
            .iter()
            .map(|name| {
                let mut er = Rng::stream(self.swarm.seed, &format!("service/{i}/{name}"));
                format!(
                    "(name: \"{name}\", service_time: {}, error_rate: {}, calls: {})",
                    dist(&mut er, 100, 20_000),
                    er.real(0.0, 0.2),
                    self.plan(&mut er, i)
                )
            })
            .collect();
        if !extra.is_empty() {
            let _ = write!(s, "endpoints: [{}], ", extra.join(", "));
        }
        let _ = write!(s, "calls: {})", self.plan(&mut r, i));
        s
    }

    fn client(&self, i: usize) -> String {
        let mut r = Rng::stream(self.swarm.seed, &format!("client/{i}"));
        let to = r.index(self.services.len());
        let target = &self.services[to];
        let mut c = format!("Client(name: \"c{i}\", to: \"s{to}\", ");
        let mut rate = false;
        let arrivals = if target.record {
            format!("ReadModifyWrite(users: {})", r.range(1, 10))
        } else if self.on(Feature::ClosedLoop) && r.percent(40) {
            format!(
                "ClosedLoop(users: {}, think_time: {})",
                r.range(1, 20),
                dist(&mut r, 10_000, 1_000_000)
            )
        } else {
            rate = true;
            let kind = r.pick(&["Poisson", "Constant"]);
            format!("{kind}(rate_per_s: {})", r.real(1.0, 200.0))
        };
        let _ = write!(c, "arrivals: {arrivals}, ");
        if rate && self.on(Feature::Profile) && r.percent(60) {
            let mut t = 0;
            let pieces: Vec<String> = (0..r.range(1, 3))
                .map(|_| {
                    t += r.range(0, self.duration_s * 1000 / 3);
                    let rate = r.real(1.0, 150.0);
                    if r.percent(50) {
                        format!("Step(at: {}, rate_per_s: {rate})", ms(t))
                    } else {
                        let from = t;
                        t += r.range(0, 5000);
                        format!(
                            "Ramp(from: {}, to: {}, rate_per_s: {rate})",
                            ms(from),
                            ms(t)
                        )
                    }
                })
                .collect();
            let _ = write!(c, "profile: [{}], ", pieces.join(", "));
        }
        if target.endpoints.len() > 1 && r.percent(70) {
            let mut requests = Vec::new();
            for e in &target.endpoints {
                if r.percent(70) {
                    requests.push(format!(
                        "(endpoint: \"{e}\", weight: {})",
                        r.real(0.1, 10.0)
                    ));
                }
            }
            let _ = write!(c, "requests: [{}], ", requests.join(", "));
        }
        if self.topo.explicit && r.percent(50) {
            let _ = write!(c, "host: \"{}\", ", r.pick(&self.topo.hosts()));
        }
        if self.on(Feature::Objectives) && r.percent(50) {
            c.push_str(&Self::objective(&mut r));
        }
        for field in self.policy(&mut r, !self.default_retry) {
            let _ = write!(c, "{field}, ");
        }
        c.push(')');
        c
    }

    fn expect(&self) -> String {
        let mut r = Rng::stream(self.swarm.seed, "expect");
        let c = format!("\"c{}\"", r.index(self.swarm.clients));
        let s = format!("\"s{}\"", r.index(self.services.len()));
        let all = [
            format!(
                "Availability(of: {c}, at_least: {}, over: Mean)",
                r.real(0.0, 1.0)
            ),
            format!(
                "Latency(of: {s}, quantile: 0.9, at_most: {})",
                ms(r.range(1, 1000))
            ),
            format!("Amplification(of: {c}, at_most: {})", r.real(1.0, 10.0)),
            format!("NoCascadeInto(service: {s})"),
            format!("RecoveryWithin(within: {})", ms(r.range(1, 30_000))),
            format!("NoDuplicateSideEffects(service: {s})"),
        ];
        let picked: Vec<&str> = all
            .iter()
            .filter(|_| r.percent(50))
            .map(String::as_str)
            .collect();
        format!("expect: [{}],", picked.join(", "))
    }
}

/// The scenario a swarm describes, as RON text.
pub fn scenario(swarm: &Swarm) -> String {
    let mut r = Rng::stream(swarm.seed, "scenario");
    let topo = Topo::new(swarm);
    let n = swarm.services;
    // Only the last service may be a record: it has no calls, and only its users call it.
    let record_at = (swarm.on(Feature::Record) && r.percent(60)).then_some(n - 1);
    let services = (0..n)
        .map(|i| {
            let mut sr = Rng::stream(swarm.seed, &format!("plan/{i}"));
            let replicas = if swarm.on(Feature::Replicas) {
                sr.range(1, 3)
            } else {
                1
            };
            let mut endpoints = vec![if sr.percent(20) {
                "main".to_string()
            } else {
                "default".into()
            }];
            let record = record_at == Some(i);
            if swarm.on(Feature::Endpoints) && !record {
                endpoints.extend((0..sr.range(0, 2)).map(|e| format!("e{e}")));
            }
            ServicePlan {
                replicas,
                endpoints,
                record,
            }
        })
        .collect();
    let mut g = Gen {
        swarm,
        topo,
        services,
        defaults: Vec::new(),
        default_retry: false,
        duration_s: r.range(5, 30),
    };
    if swarm.on(Feature::Defaults) {
        g.defaults = g.default_policy();
        g.default_retry = g.defaults.iter().any(|f| f.starts_with("retry:"));
    }

    let mut text = String::new();
    let _ = writeln!(text, "Scenario(version: 1, name: \"property\",");
    if r.percent(30) {
        let _ = writeln!(text, "description: \"generated from {:#x}\",", swarm.seed);
    }
    let _ = writeln!(text, "duration: \"{}s\",", g.duration_s);
    let window = r.pick(&["", "500ms", "1s", "2s", "3s"]);
    if !window.is_empty() {
        let _ = writeln!(text, "window: \"{window}\",");
    }
    let _ = writeln!(text, "limits: (max_events: {}),", r.range(20_000, 300_000));
    if g.topo.explicit {
        let _ = writeln!(text, "{}", g.topo.ron());
    }
    if swarm.on(Feature::Clocks) {
        let _ = writeln!(text, "{}", g.clocks());
    }
    let _ = writeln!(text, "{}", g.network());
    if swarm.on(Feature::Defaults) {
        let _ = writeln!(text, "policies: (default: ({})),", g.defaults.join(", "));
    }
    let _ = writeln!(text, "services: [");
    for i in 0..n {
        let _ = writeln!(text, "    {},", g.service(i));
    }
    let _ = writeln!(text, "],\nclients: [");
    for i in 0..swarm.clients {
        let _ = writeln!(text, "    {},", g.client(i));
    }
    let _ = writeln!(text, "],\nfaults: [");
    for k in 0..swarm.faults {
        let _ = writeln!(text, "    {},", g.fault(k));
    }
    let _ = writeln!(text, "],");
    if swarm.on(Feature::Expect) {
        let _ = writeln!(text, "{}", g.expect());
    }
    text.push_str(")\n");
    text
}
