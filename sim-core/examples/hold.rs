//! The classic hold model through the real engine API: pop the earliest event, schedule one at
//! now + Exp(1 ms). Compare with `hold_baseline`, the same loop over a bare `BinaryHeap`.
//!
//! cargo run --release -p sim-core --example hold -- --pending 1000 --events 10000000

use sim_core::{
    Event, Limits, Model, Scheduler, SimDuration, SimRng, SimTime, Simulation, StopReason,
};

#[derive(Clone, Copy)]
struct Hold(u32);

impl Event for Hold {
    fn kind(&self) -> u16 {
        0
    }
    fn target(&self) -> u32 {
        self.0
    }
}

struct HoldModel {
    rng: SimRng,
}

const MEAN_NS: f64 = 1e6;

impl HoldModel {
    fn delay(&mut self) -> SimDuration {
        SimDuration((sim_core::sample_exp(&mut self.rng) * MEAN_NS) as u64)
    }
}

impl Model for HoldModel {
    type Event = Hold;
    #[inline]
    fn handle(&mut self, s: &mut Scheduler<Hold>, e: Hold) {
        let d = self.delay();
        s.schedule_in(d, e);
    }
}

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
    let pending = arg("--pending", 1000);
    let events = arg("--events", 10_000_000);
    let mut model = HoldModel {
        rng: SimRng::from_seed(1),
    };
    let mut sim = Simulation::new(Limits {
        end: SimTime::MAX,
        max_events: events,
    });
    for i in 0..pending {
        let d = model.delay();
        sim.scheduler().schedule_in(d, Hold(i as u32));
    }
    let start = std::time::Instant::now();
    let out = sim.run(&mut model);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(out.stop, StopReason::MaxEvents);
    println!("fingerprint {} at {}", out.fingerprint, out.now);
    println!(
        "hold: {} events in {:.3} s = {:.0} events/s ({:.1} ns/event, {} pending)",
        out.events,
        secs,
        out.events as f64 / secs,
        secs * 1e9 / out.events as f64,
        pending
    );
}
