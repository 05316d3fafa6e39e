//! The hold model hand-written over `BinaryHeap<Reverse<(time, seq, payload)>>` with the same
//! sampler: the yardstick for the engine's overhead (see `hold`).
//!
//! cargo run --release -p sim-core --example hold_baseline -- --pending 1000 --events 10000000

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sim_core::SimRng;

const MEAN_NS: f64 = 1e6;

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
    let pending = arg("--pending", 1000);
    let events = arg("--events", 10_000_000);
    let mut rng = SimRng::from_seed(1);
    let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::with_capacity(1024);
    let mut seq = 0u64;
    for i in 0..pending {
        let d = (sim_core::sample_exp(&mut rng) * MEAN_NS) as u64;
        heap.push(Reverse((d, seq, i as u32)));
        seq += 1;
    }
    let start = std::time::Instant::now();
    let mut now = 0;
    let mut checksum = 0u64;
    for _ in 0..events {
        let Reverse((t, _, payload)) = heap.pop().expect("hold keeps the heap full");
        now = t;
        checksum = checksum.wrapping_add(u64::from(payload));
        let d = (sim_core::sample_exp(&mut rng) * MEAN_NS) as u64;
        heap.push(Reverse((t + d, seq, payload)));
        seq += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("checksum {checksum} at {now} ns");
    println!(
        "hold_baseline: {} events in {:.3} s = {:.0} events/s ({:.1} ns/event, {} pending)",
        events,
        secs,
        events as f64 / secs,
        secs * 1e9 / events as f64,
        pending
    );
}
