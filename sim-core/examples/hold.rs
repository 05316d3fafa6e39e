//! The classic hold model through the real engine API: pop the earliest event, schedule one at
//! now + Exp(1 ms). Compare with `hold_baseline`, the same loop over a bare `BinaryHeap`.
//!
//! cargo run --release -p faultline-sim-core --example hold -- --pending 1000 --events 10000000

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.replace('_', "").parse().expect("a number"))
        .unwrap_or(default)
}

#[allow(clippy::disallowed_methods)] // a benchmark measures wall time; the run itself does not
fn main() {
    let pending = arg("--pending", 1000) as u32;
    let events = arg("--events", 10_000_000);
    let prepared = sim_core::bench::hold_engine(pending, events, 1);
    let start = std::time::Instant::now();
    let (result, out) = prepared();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fingerprint {} at {} ns, checksum {}",
        out.fingerprint, result.last_time_ns, result.checksum
    );
    println!(
        "hold: {} events in {:.3} s = {:.0} events/s ({:.1} ns/event, {} pending)",
        result.events,
        secs,
        result.events as f64 / secs,
        secs * 1e9 / result.events as f64,
        pending
    );
}
