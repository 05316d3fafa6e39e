//! The one wall clock in faultline: `--max-wall`, which stops a run after a real-time limit
//! (for CI). The engine asks it only every `sim_core::POLL_EVERY` events, so it costs nothing,
//! and a run it does not stop is byte for byte the run without it.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The one read of the wall clock (tidy allows it in this file only).
fn now() -> Instant {
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

/// An interrupt that says "stop" once `limit` of real time has passed since now.
pub(crate) fn deadline(limit: Duration) -> sim_core::Interrupt {
    until(now(), limit)
}

fn until(start: Instant, limit: Duration) -> sim_core::Interrupt {
    Box::new(move || start.elapsed() >= limit)
}

/// The whole command's wall-clock limit (`check` and `compare`): its start and length.
static COMMAND: OnceLock<(Instant, Duration)> = OnceLock::new();

/// Starts the command's limit now: a run still going `limit` after this stops, and a run
/// starting later stops at its first poll, each with a partial report.
pub(crate) fn limit_command(limit: Duration) {
    let _ = COMMAND.set((now(), limit));
}

/// The interrupt of one run under the command's limit, if it has one.
pub(crate) fn command_interrupt() -> Option<sim_core::Interrupt> {
    COMMAND.get().map(|&(start, limit)| until(start, limit))
}

/// `--max-wall 30s`: a duration as in scenario files.
pub(crate) fn parse_max_wall(text: &str) -> Result<Duration, String> {
    scenarios::parse_duration(text).map(|d| Duration::from_nanos(d.as_nanos()))
}
