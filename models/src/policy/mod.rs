//! Resilience policies as pure state machines: each takes the simulated time (and, where the
//! library it follows draws random numbers, a seeded [`sim_core::SimRng`]) and answers what the
//! library would do. The world decides where a policy sits (edge, client, inbound side) and
//! calls it; nothing here schedules events.
//!
//! Where libraries give the same word different meanings, a policy takes a [`Flavor`] whose
//! defaults and quirks are that library's (see `shared/reference/resilience-semantics.md`).

pub mod backoff;
pub mod breaker;
pub mod bucket;
pub mod budget;
pub mod bulkhead;
pub mod outlier;
pub mod ratelimit;
pub mod shed;

/// The library or proxy whose semantics a policy follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flavor {
    Resilience4j,
    Polly,
    Hystrix,
    Envoy,
    Grpc,
    Finagle,
    Aws,
}

impl Flavor {
    /// Every flavor, in the order of the enum.
    pub const ALL: [Flavor; 7] = [
        Flavor::Resilience4j,
        Flavor::Polly,
        Flavor::Hystrix,
        Flavor::Envoy,
        Flavor::Grpc,
        Flavor::Finagle,
        Flavor::Aws,
    ];

    /// The name used in scenarios: `resilience4j`, `polly`, ...
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Resilience4j => "resilience4j",
            Flavor::Polly => "polly",
            Flavor::Hystrix => "hystrix",
            Flavor::Envoy => "envoy",
            Flavor::Grpc => "grpc",
            Flavor::Finagle => "finagle",
            Flavor::Aws => "aws",
        }
    }
}
