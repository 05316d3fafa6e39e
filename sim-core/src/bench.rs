//! The classic hold model, shared by the `hold` and `hold_baseline` examples and by a test that
//! checks both compute the same thing: the engine against a hand-written heap loop.
//!
//! Hold: start with `pending` events; each processed event schedules one at `now + Exp(1 ms)`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::{
    Event, Limits, Model, RunOutcome, Scheduler, SimDuration, SimRng, SimTime, Simulation,
    sample_exp,
};

const MEAN_NS: f64 = 1e6;

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
    checksum: u64,
}

impl HoldModel {
    #[inline]
    fn delay(&mut self) -> SimDuration {
        SimDuration((sample_exp(&mut self.rng) * MEAN_NS) as u64)
    }
}

impl Model for HoldModel {
    type Event = Hold;
    #[inline]
    fn handle(&mut self, s: &mut Scheduler<Hold>, e: Hold) {
        self.checksum = self.checksum.wrapping_add(u64::from(e.0));
        let d = self.delay();
        s.schedule_in(d, e);
    }
}

/// What a hold run computed: comparable between the engine and the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldResult {
    pub events: u64,
    /// Simulated time of the last processed event, in ns.
    pub last_time_ns: u64,
    /// Sum of the payloads of the processed events (checks the order of ties too).
    pub checksum: u64,
}

/// Sets up the hold model on the engine and returns the run as a closure, so a benchmark can
/// time the run alone.
pub fn hold_engine(
    pending: u32,
    events: u64,
    seed: u64,
) -> impl FnOnce() -> (HoldResult, RunOutcome) {
    let mut model = HoldModel {
        rng: SimRng::from_seed(seed),
        checksum: 0,
    };
    let mut sim = Simulation::new(Limits {
        end: SimTime::MAX,
        max_events: events,
    });
    for i in 0..pending {
        let d = model.delay();
        sim.scheduler().schedule_in(d, Hold(i));
    }
    move || {
        let out = sim.run(&mut model);
        let result = HoldResult {
            events: out.events,
            last_time_ns: out.now.as_nanos(),
            checksum: model.checksum,
        };
        (result, out)
    }
}

/// The same model hand-written over `BinaryHeap<Reverse<(time, seq, payload)>>`: the yardstick
/// for the engine's overhead. Returns a closure so a benchmark can time the loop alone.
pub fn hold_baseline(pending: u32, events: u64, seed: u64) -> impl FnOnce() -> HoldResult {
    let mut rng = SimRng::from_seed(seed);
    let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::with_capacity(1024);
    let mut seq = 0u64;
    for i in 0..pending {
        let d = (sample_exp(&mut rng) * MEAN_NS) as u64;
        heap.push(Reverse((d, seq, i)));
        seq += 1;
    }
    move || {
        let mut last = 0;
        let mut checksum = 0u64;
        let mut done = 0;
        while done < events {
            let Some(Reverse((t, _, payload))) = heap.pop() else {
                break;
            };
            done += 1;
            last = t;
            checksum = checksum.wrapping_add(u64::from(payload));
            let d = (sample_exp(&mut rng) * MEAN_NS) as u64;
            heap.push(Reverse((t + d, seq, payload)));
            seq += 1;
        }
        HoldResult {
            events: done,
            last_time_ns: last,
            checksum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_and_baseline_compute_the_same_hold_run() {
        for pending in [1, 10, 1000] {
            let (engine, out) = hold_engine(pending, 20_000, 5)();
            let baseline = hold_baseline(pending, 20_000, 5)();
            assert_eq!(engine, baseline, "pending {pending}");
            assert_eq!(out.events, 20_000);
        }
    }
}
