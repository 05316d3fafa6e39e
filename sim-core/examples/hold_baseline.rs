//! The hold model hand-written over `BinaryHeap<Reverse<(time, seq, payload)>>` with the same
//! sampler: the yardstick for the engine's overhead (see `hold`). Both print the same final
//! time and checksum for the same arguments.
//!
//! cargo run --release -p faultline-sim-core --example hold_baseline -- --pending 1000 --events 10000000

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.replace('_', "").parse().expect("a number"))
        .unwrap_or(default)
}

#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
fn main() {
    let pending = arg("--pending", 1000) as u32;
    let events = arg("--events", 10_000_000);
    let prepared = sim_core::bench::hold_baseline(pending, events, 1);
    let start = std::time::Instant::now();
    let result = prepared();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "at {} ns, checksum {}",
        result.last_time_ns, result.checksum
    );
    println!(
        "hold_baseline: {} events in {:.3} s = {:.0} events/s ({:.1} ns/event, {} pending)",
        result.events,
        secs,
        result.events as f64 / secs,
        secs * 1e9 / result.events as f64,
        pending
    );
}
