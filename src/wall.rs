//! The one wall clock in faultline: `--max-wall`, which stops a run after a real-time limit
//! (for CI). The engine asks it only every `sim_core::POLL_EVERY` events, so it costs nothing,
//! and a run it does not stop is byte for byte the run without it.

use std::time::{Duration, Instant};

/// An interrupt that says "stop" once `limit` of real time has passed since now.
pub(crate) fn deadline(limit: Duration) -> sim_core::Interrupt {
    // tidy allows this line, and only this one: the deliberate wall clock of --max-wall.
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    Box::new(move || start.elapsed() >= limit)
}

/// `--max-wall 30s`: a duration as in scenario files.
pub(crate) fn parse_max_wall(text: &str) -> Result<Duration, String> {
    scenarios::parse_duration(text).map(|d| Duration::from_nanos(d.as_nanos()))
}
