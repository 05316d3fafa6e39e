//! Where things run and how they fail: topology, placement, health checks, load balancing,
//! network partitions and scripted faults.

use super::{float, quoted};

/// A scripted fault (`faults:`); times are from the start of the run (`"2m"`).
#[derive(Clone, Debug)]
pub struct Fault(pub(super) String);

impl Fault {
    /// The service's work takes `multiply` times as long from `from` to `to`.
    pub fn latency(service: &str, multiply: f64, from: &str, to: &str) -> Fault {
        Fault(format!(
            "Latency(service: {}, multiply: {}, from: {}, to: {})",
            quoted(service),
            float(multiply),
            quoted(from),
            quoted(to)
        ))
    }

    /// A share `rate` of the service's requests fail from `from` to `to`.
    pub fn errors(service: &str, rate: f64, from: &str, to: &str) -> Fault {
        Fault(format!(
            "Errors(service: {}, rate: {}, from: {}, to: {})",
            quoted(service),
            float(rate),
            quoted(from),
            quoted(to)
        ))
    }

    /// The service swallows requests without answering from `from` to `to`.
    pub fn black_hole(service: &str, from: &str, to: &str) -> Fault {
        Fault(format!(
            "BlackHole(service: {}, from: {}, to: {})",
            quoted(service),
            quoted(from),
            quoted(to)
        ))
    }

    /// The client's arrival rate is `multiply` times its rate from `from` to `to` (a flash
    /// crowd, a batch job, a retrying fleet elsewhere).
    pub fn load_spike(client: &str, multiply: f64, from: &str, to: &str) -> Fault {
        Fault(format!(
            "LoadSpike(client: {}, multiply: {}, from: {}, to: {})",
            quoted(client),
            float(multiply),
            quoted(from),
            quoted(to)
        ))
    }

    /// Every replica of the service crashes at `at` and restarts `restart_after` later.
    pub fn crash(service: &str, at: &str, restart_after: &str) -> Fault {
        Fault(format!(
            "Crash(target: Service({}), at: {}, restart_after: {})",
            quoted(service),
            quoted(at),
            quoted(restart_after)
        ))
    }

    /// Replica `index` (from 0) of the service crashes at `at` and restarts `restart_after`
    /// later: one process of several, the others keep serving.
    pub fn crash_replica(service: &str, index: u32, at: &str, restart_after: &str) -> Fault {
        Crash::of(Target::replica(service, index), at)
            .restart_after(restart_after)
            .into()
    }

    /// The service's work takes `add` longer from `from` to `to` (`Latency(add: ...)`).
    pub fn added_latency(service: &str, add: &str, from: &str, to: &str) -> Fault {
        Fault(format!(
            "Latency(service: {}, add: {}, from: {}, to: {})",
            quoted(service),
            quoted(add),
            quoted(from),
            quoted(to)
        ))
    }

    /// Messages between the places of `a` and of `b`, both ways, sent from `from` to `to`, take
    /// `add` longer (`LinkLatency`): a congested or rerouted link.
    pub fn link_latency(a: &[Place], b: &[Place], add: &str, from: &str, to: &str) -> Fault {
        Fault(format!(
            "LinkLatency(a: {}, b: {}, add: {}, from: {}, to: {})",
            places(a),
            places(b),
            quoted(add),
            quoted(from),
            quoted(to)
        ))
    }
}

/// A named part of the topology, as a placement's scope, a partition's side or a link's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// `Host("a1")`.
    Host(String),
    /// `Zone("eu-a")`.
    Zone(String),
    /// `Region("eu")`.
    Region(String),
}

impl Place {
    /// `Host(name)`.
    pub fn host(name: &str) -> Place {
        Place::Host(name.to_owned())
    }

    /// `Zone(name)`.
    pub fn zone(name: &str) -> Place {
        Place::Zone(name.to_owned())
    }

    /// `Region(name)`.
    pub fn region(name: &str) -> Place {
        Place::Region(name.to_owned())
    }

    fn ron(&self) -> String {
        match self {
            Place::Host(n) => format!("Host({})", quoted(n)),
            Place::Zone(n) => format!("Zone({})", quoted(n)),
            Place::Region(n) => format!("Region({})", quoted(n)),
        }
    }
}

fn places(places: &[Place]) -> String {
    let p: Vec<String> = places.iter().map(Place::ron).collect();
    format!("[{}]", p.join(", "))
}

/// What a crash hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One replica of a service, by index: its process dies, its host stays up (callers
    /// sending there get refused connections).
    Replica(String, u32),
    /// Every replica of the service.
    Service(String),
    /// A machine: messages to it vanish.
    Host(String),
    /// Every host of a zone.
    Zone(String),
    /// Every host of a region.
    Region(String),
}

impl Target {
    /// `Replica(service: ..., index: ...)`.
    pub fn replica(service: &str, index: u32) -> Target {
        Target::Replica(service.to_owned(), index)
    }

    /// `Service(name)`.
    pub fn service(name: &str) -> Target {
        Target::Service(name.to_owned())
    }

    /// `Host(name)`.
    pub fn host(name: &str) -> Target {
        Target::Host(name.to_owned())
    }

    /// `Zone(name)`.
    pub fn zone(name: &str) -> Target {
        Target::Zone(name.to_owned())
    }

    /// `Region(name)`.
    pub fn region(name: &str) -> Target {
        Target::Region(name.to_owned())
    }

    fn ron(&self) -> String {
        match self {
            Target::Replica(s, i) => format!("Replica(service: {}, index: {i})", quoted(s)),
            Target::Service(n) => format!("Service({})", quoted(n)),
            Target::Host(n) => format!("Host({})", quoted(n)),
            Target::Zone(n) => format!("Zone({})", quoted(n)),
            Target::Region(n) => format!("Region({})", quoted(n)),
        }
    }
}

/// A crash (`Crash(target: ..., at: ...)`): down at `at`, back `restart_after` later (default:
/// never), optionally slower for a while after (a cold start). Becomes a [`Fault`].
///
/// ```
/// use faultline::{Client, Crash, Dist, Fault, ScenarioBuilder, Service, Target};
///
/// let scenario = ScenarioBuilder::new("crash", "30s")
///     .service(Service::new("api", Dist::exponential("2ms")).workers(8).queue(16).replicas(2))
///     .client(Client::poisson("users", "api", 200.0))
///     // One replica of two, from 10 s to 20 s: about a quarter of the requests find it gone.
///     .fault(Fault::crash_replica("api", 0, "10s", "10s"))
///     // The whole service, later, back three times slower for 2 s.
///     .fault(Crash::of(Target::service("api"), "25s").restart_after("1s").cold_start("2s", 3.0))
///     .build()?;
/// let users = scenario.run(1).client("users").unwrap();
/// assert!(users.failed_by_cause["unavailable"] > 300, "{users:?}");
/// assert!(users.availability > 0.7 && users.availability < 0.9, "{users:?}");
/// # Ok::<(), faultline::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Crash {
    target: Target,
    at: String,
    restart_after: Option<String>,
    cold_start: Option<(String, f64)>,
}

impl Crash {
    /// `target` crashes at `at` and stays down.
    pub fn of(target: Target, at: &str) -> Crash {
        Crash {
            target,
            at: at.to_owned(),
            restart_after: None,
            cold_start: None,
        }
    }

    /// It restarts this long after the crash.
    pub fn restart_after(mut self, d: &str) -> Crash {
        self.restart_after = Some(d.to_owned());
        self
    }

    /// After the restart its work takes `multiply` times as long for `duration`.
    pub fn cold_start(mut self, duration: &str, multiply: f64) -> Crash {
        self.cold_start = Some((duration.to_owned(), multiply));
        self
    }
}

impl From<Crash> for Fault {
    fn from(c: Crash) -> Fault {
        let mut fields = vec![
            format!("target: {}", c.target.ron()),
            format!("at: {}", quoted(&c.at)),
        ];
        if let Some(r) = &c.restart_after {
            fields.push(format!("restart_after: {}", quoted(r)));
        }
        if let Some((d, m)) = &c.cold_start {
            fields.push(format!(
                "cold_start: (duration: {}, multiply: {})",
                quoted(d),
                float(*m)
            ));
        }
        Fault(format!("Crash({})", fields.join(", ")))
    }
}

/// A region of zones (`topology: (regions: [...])`).
#[derive(Clone, Debug)]
pub struct Region {
    name: String,
    zones: Vec<String>,
}

impl Region {
    /// A region named `name`, without zones yet.
    pub fn new(name: &str) -> Region {
        Region {
            name: name.to_owned(),
            zones: Vec::new(),
        }
    }

    /// Adds a zone of these hosts.
    pub fn zone(mut self, name: &str, hosts: &[&str]) -> Region {
        let hosts: Vec<String> = hosts.iter().map(|h| quoted(h)).collect();
        self.zones.push(format!(
            "(name: {}, hosts: [{}])",
            quoted(name),
            hosts.join(", ")
        ));
        self
    }

    pub(super) fn ron(&self) -> String {
        format!(
            "(name: {}, zones: [{}])",
            quoted(&self.name),
            self.zones.join(", ")
        )
    }
}

/// The level a [`Placement::spread`] goes round robin over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Across {
    /// One replica per host in turn.
    Hosts,
    /// One per zone in turn, then over each zone's hosts.
    Zones,
    /// One per region in turn.
    Regions,
}

/// Where a service's replicas run (`placement:`).
#[derive(Clone, Debug)]
pub struct Placement {
    ron: String,
    strict: bool,
    within: Option<Place>,
    across: Option<Across>,
}

impl Placement {
    /// `Spread(across: ...)`: round robin over the units of the topology, in its order.
    pub fn spread(across: Across) -> Placement {
        Placement {
            ron: String::new(),
            strict: false,
            within: None,
            across: Some(across),
        }
    }

    /// `Hosts([...])`: replica i on the i-th host.
    pub fn hosts(hosts: &[&str]) -> Placement {
        let hosts: Vec<String> = hosts.iter().map(|h| quoted(h)).collect();
        Placement {
            ron: format!("Hosts([{}])", hosts.join(", ")),
            strict: false,
            within: None,
            across: None,
        }
    }

    /// Spread only within this zone or region.
    pub fn within(mut self, place: Place) -> Placement {
        self.within = Some(place);
        self
    }

    /// At most one replica per unit: an error when there are too few.
    pub fn strict(mut self) -> Placement {
        self.strict = true;
        self
    }

    pub(super) fn ron(&self) -> String {
        let Some(across) = self.across else {
            return self.ron.clone();
        };
        let mut fields = vec![format!("across: {across:?}")];
        if let Some(p) = &self.within {
            fields.push(format!("within: {}", p.ron()));
        }
        if self.strict {
            fields.push("strict: true".into());
        }
        format!("Spread({})", fields.join(", "))
    }
}

/// What callers know of a service's replicas (`health:`).
#[derive(Clone, Debug)]
pub enum Health {
    /// Nothing: a crashed replica keeps receiving its share (the default).
    Unchecked,
    /// Exactly which replicas run, at once: a perfect registry.
    Perfect,
    /// Envoy active health checking by each caller: a probe every `interval`, failed after
    /// `timeout`, with Envoy's default thresholds (3 failures, 2 passes).
    Active {
        /// Between a probe's result and the next probe (`"1s"`).
        interval: String,
        /// A probe without an answer this long fails.
        timeout: String,
    },
}

impl Health {
    /// Active health checks every `interval`, with `timeout`.
    pub fn active(interval: &str, timeout: &str) -> Health {
        Health::Active {
            interval: interval.to_owned(),
            timeout: timeout.to_owned(),
        }
    }

    pub(super) fn ron(&self) -> String {
        match self {
            Health::Unchecked => "Unchecked".into(),
            Health::Perfect => "Perfect".into(),
            Health::Active { interval, timeout } => format!(
                "Active(interval: {}, timeout: {})",
                quoted(interval),
                quoted(timeout)
            ),
        }
    }
}

/// How each caller picks one of a service's replicas (`lb:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lb {
    /// In turn (Envoy's default).
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// The fewest requests outstanding from this caller.
    LeastRequest,
    /// The less loaded of two random replicas (Envoy `LEAST_REQUEST`, `choice_count` 2).
    PowerOfTwoChoices,
}

impl Lb {
    pub(super) fn ron(self) -> &'static str {
        match self {
            Lb::RoundRobin => "RoundRobin",
            Lb::Random => "Random",
            Lb::LeastRequest => "LeastRequest",
            Lb::PowerOfTwoChoices => "PowerOfTwoChoices",
        }
    }
}

/// Which way a partition cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Both ways (the default).
    Both,
    /// Only messages from side `a` to side `b`.
    AToB,
    /// Only messages from side `b` to side `a`: requests arrive, replies are lost.
    BToA,
}

/// A network partition between two sets of places (`network: (partitions: [...])`), from
/// `from` until it heals.
///
/// ```
/// use faultline::{Across, Call, Client, Dist, Partition, Place, Placement, Region};
/// use faultline::{ScenarioBuilder, Service};
///
/// let scenario = ScenarioBuilder::new("split", "20s")
///     .region(Region::new("eu").zone("eu-a", &["a1"]).zone("eu-b", &["b1"]))
///     .network_latency(Dist::constant("200us"))
///     .cross_zone_latency(Dist::constant("1ms"))
///     .service(Service::new("web", Dist::constant("1ms")).workers(32).queue(32)
///         .placement(Placement::hosts(&["a1"]))
///         .call(Call::to("db").timeout("50ms")))
///     .service(Service::new("db", Dist::constant("1ms")).workers(32).queue(32).replicas(2)
///         .placement(Placement::spread(Across::Zones)))
///     .client(Client::poisson("users", "web", 100.0).host("a1"))
///     // eu-b is cut off from 5 s to 15 s: half the calls go to its db replica and time out.
///     .partition(Partition::between(&[Place::zone("eu-a")], &[Place::zone("eu-b")], "5s")
///         .until("15s"))
///     .build()?;
/// let users = scenario.run(1).client("users").unwrap();
/// assert_eq!(users.failed, users.failed_by_cause["dependency"]);
/// assert!(users.availability > 0.7 && users.availability < 0.8, "{users:?}");
/// # Ok::<(), faultline::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Partition {
    a: Vec<Place>,
    b: Vec<Place>,
    from: String,
    to: Option<String>,
    direction: Direction,
    fraction: Option<f64>,
    refuse: bool,
}

impl Partition {
    /// Cuts every message between the hosts of `a` and those of `b`, both ways, from `from`
    /// on; messages vanish (callers wait for their timeouts).
    pub fn between(a: &[Place], b: &[Place], from: &str) -> Partition {
        Partition {
            a: a.to_vec(),
            b: b.to_vec(),
            from: from.to_owned(),
            to: None,
            direction: Direction::Both,
            fraction: None,
            refuse: false,
        }
    }

    /// When it heals (default: never).
    pub fn until(mut self, to: &str) -> Partition {
        self.to = Some(to.to_owned());
        self
    }

    /// Cuts one direction only.
    pub fn direction(mut self, direction: Direction) -> Partition {
        self.direction = direction;
        self
    }

    /// Cuts only this share of the host pairs, always the same ones.
    pub fn fraction(mut self, fraction: f64) -> Partition {
        self.fraction = Some(fraction);
        self
    }

    /// Connections are refused (callers fail fast with `unavailable`) instead of messages
    /// vanishing (`mode: Refuse`).
    pub fn refuse(mut self) -> Partition {
        self.refuse = true;
        self
    }

    pub(super) fn ron(&self) -> String {
        let mut fields = vec![format!("from: {}", quoted(&self.from))];
        if let Some(to) = &self.to {
            fields.push(format!("to: {}", quoted(to)));
        }
        fields.push(format!("a: {}", places(&self.a)));
        fields.push(format!("b: {}", places(&self.b)));
        fields.push(format!("direction: {:?}", self.direction));
        if let Some(f) = self.fraction {
            fields.push(format!("fraction: {}", float(f)));
        }
        if self.refuse {
            fields.push("mode: Refuse".into());
        }
        format!("({})", fields.join(", "))
    }
}
