use super::*;
use proptest::prelude::*;

#[test]
fn ties_pop_in_scheduling_order() {
    let mut q = EventQueue::new();
    for i in 0..10 {
        q.push(SimTime(5), i);
    }
    q.push(SimTime(1), 100);
    assert_eq!(q.pop(), Some((SimTime(1), 100)));
    for i in 0..10 {
        assert_eq!(q.pop(), Some((SimTime(5), i)));
    }
    assert_eq!(q.pop(), None);
}

#[test]
fn cancelled_timers_never_fire_and_stale_handles_are_harmless() {
    let mut q = EventQueue::new();
    let a = q.push_timer(SimTime(10), 'a');
    let b = q.push_timer(SimTime(20), 'b');
    assert!(q.cancel(a));
    assert!(!q.cancel(a), "second cancel is a no-op");
    assert_eq!(q.len(), 1);
    // The slot of `a` is reused by `c`; the old handle must not cancel `c`.
    let c = q.push_timer(SimTime(30), 'c');
    assert!(!q.cancel(a));
    assert_eq!(q.pop(), Some((SimTime(20), 'b')));
    assert!(!q.cancel(b), "fired timers cannot be cancelled");
    assert_eq!(q.pop(), Some((SimTime(30), 'c')));
    assert!(!q.cancel(c));
    assert_eq!(q.pop(), None);
    assert!(q.is_empty());
}

#[test]
fn a_popped_root_waits_for_the_next_push_and_is_never_seen() {
    let mut q = EventQueue::new();
    for (time, event) in [
        (30, 'c'),
        (10, 'a'),
        (20, 'b'),
        (40, 'd'),
        (50, 'e'),
        (60, 'f'),
    ] {
        q.push(SimTime(time), event);
    }
    assert_eq!(q.pop(), Some((SimTime(10), 'a')));
    // The popped entry still sits at the root, marked taken: nothing may report it.
    assert!(q.heap.root_taken);
    assert_eq!(q.peek_time(), Some(SimTime(20)));
    assert_eq!(q.len(), 5);
    assert_eq!(q.heap_len(), 5);
    // A push takes the root's place in one pass, wherever it belongs.
    q.push(SimTime(15), 'x');
    assert!(!q.heap.root_taken);
    assert_eq!(q.pop(), Some((SimTime(15), 'x')));
    q.push(SimTime(45), 'y');
    // Two pops in a row: the second fills the root from the last entry first.
    assert_eq!(q.pop(), Some((SimTime(20), 'b')));
    assert_eq!(q.pop(), Some((SimTime(30), 'c')));
    let rest: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
    assert_eq!(rest, vec!['d', 'y', 'e', 'f']);
    assert_eq!(q.peek_time(), None);
    assert!(q.is_empty());
}

#[test]
fn slots_are_bounded_by_live_timers() {
    let mut q = EventQueue::new();
    for t in 0..10_000u64 {
        let id = q.push_timer(SimTime(t + 1_000), t);
        q.cancel(id);
        q.push(SimTime(t), t);
        q.pop();
    }
    assert!(q.slots.len() <= 1, "slots grew to {}", q.slots.len());
}

#[test]
fn compaction_bounds_the_heap_and_keeps_the_order() {
    let mut q = EventQueue::new();
    let mut live = Vec::new();
    let mut state = 12345u64;
    for i in 0..20_000u64 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let time = (state >> 33) % 1_000;
        let id = q.push_timer(SimTime(time), i);
        if i % 10 < 8 {
            assert!(q.cancel(id));
        } else {
            live.push((time, i));
        }
        assert!(q.heap_len() <= 2 * q.len() + COMPACT_MIN_CANCELLED);
    }
    live.sort();
    let popped: Vec<(u64, u64)> = std::iter::from_fn(|| q.pop().map(|(t, e)| (t.0, e))).collect();
    assert_eq!(popped, live);
}

#[test]
fn lanes_hold_timers_of_one_delay_and_pop_in_order_with_the_heap() {
    let mut q = EventQueue::new();
    let a = q.push_timer_at(SimTime(0), SimTime(100), 'a');
    q.push(SimTime(100), 'x');
    let b = q.push_timer_at(SimTime(10), SimTime(110), 'b');
    let c = q.push_timer_at(SimTime(10), SimTime(60), 'c');
    assert_eq!(q.lanes.len(), 2, "one lane per delay");
    assert_eq!(q.markers, 2, "one marker per lane");
    assert_eq!(q.heap.len(), 3, "timers never enter the heap, only markers");
    assert!(q.cancel(c));
    assert!(!q.cancel(c));
    assert_eq!(q.len(), 3);
    // 'a' was set before 'x' at the same time: it pops first.
    assert_eq!(q.pop(), Some((SimTime(100), 'a')));
    assert!(!q.cancel(a));
    assert_eq!(q.pop(), Some((SimTime(100), 'x')));
    assert!(q.cancel(b));
    assert_eq!(q.pop(), None);
    assert!(q.is_empty());
    assert_eq!(q.heap_len(), 0);
}

#[test]
fn cancelled_lane_timers_are_compacted_and_freed() {
    let mut q = EventQueue::new();
    for t in 0..100_000u64 {
        let id = q.push_timer_at(SimTime(t), SimTime(t + 1_000_000), t);
        q.cancel(id);
    }
    assert!(
        q.heap_len() <= COMPACT_MIN_CANCELLED,
        "{} held",
        q.heap_len()
    );
    assert!(q.is_empty());
    assert_eq!(q.pop(), None);
}

#[test]
fn a_lane_emptied_by_compaction_never_delays_an_earlier_timer() {
    let mut q = EventQueue::new();
    // Timers of delay 1,000 all cancelled: the lane compacts to nothing, but its marker,
    // keyed at time 1,000, stays in the heap until it pops.
    for _ in 0..COMPACT_MIN_CANCELLED {
        let id = q.push_timer_at(SimTime(0), SimTime(1_000), 'x');
        assert!(q.cancel(id));
    }
    assert_eq!(q.lanes[0].items.len(), 0);
    assert_eq!(q.markers, 1);
    // A shorter delay must not join the emptied lane behind the marker.
    q.push_timer_at(SimTime(0), SimTime(10), 'a');
    q.push_timer_at(SimTime(0), SimTime(1_000), 'b');
    q.push(SimTime(500), 'p');
    assert_eq!(q.len(), 3);
    let popped: Vec<(u64, char)> = std::iter::from_fn(|| q.pop().map(|(t, e)| (t.0, e))).collect();
    assert_eq!(popped, vec![(10, 'a'), (500, 'p'), (1_000, 'b')]);
    assert_eq!(q.markers, 0);
    assert_eq!(q.heap_len(), 0);
}

#[test]
fn a_marker_keyed_by_a_cancelled_front_waits_for_the_live_one() {
    let mut q = EventQueue::new();
    let first = q.push_timer_at(SimTime(0), SimTime(100), 'a');
    q.push_timer_at(SimTime(5), SimTime(105), 'b');
    q.push(SimTime(102), 'p');
    assert!(q.cancel(first));
    // The marker pops at 100, finds 'a' cancelled and goes back keyed by 'b'.
    assert_eq!(q.pop_before(SimTime(101)), None);
    assert_eq!(q.len(), 2);
    assert_eq!(q.pop(), Some((SimTime(102), 'p')));
    assert_eq!(q.pop(), Some((SimTime(105), 'b')));
    assert_eq!(q.pop(), None);
}

#[test]
fn a_lane_front_is_handed_out_from_the_root_and_its_next_marker_goes_behind() {
    let mut q = EventQueue::new();
    q.push_timer_at(SimTime(0), SimTime(10), 'a');
    q.push_timer_at(SimTime(1), SimTime(11), 'b');
    q.push(SimTime(20), 'x');
    assert!(q.advance(SimTime::MAX));
    assert_eq!(q.taken(), (SimTime(10), 'a'));
    assert!(
        q.heap.root_taken,
        "the front waits at the root, read in place"
    );
    assert_eq!(q.markers, 1, "the next front's marker is in the heap");
    assert_eq!(q.len(), 2);
    // A push takes the root's place; the marker behind it keeps its order.
    q.push(SimTime(10), 'y');
    q.heap.check();
    let rest: Vec<(SimTime, char)> = std::iter::from_fn(|| q.pop()).collect();
    assert_eq!(
        rest,
        vec![(SimTime(10), 'y'), (SimTime(11), 'b'), (SimTime(20), 'x')]
    );
}

proptest! {
    /// Against a reference model, timers in lanes (a few delays, set at a clock that only
    /// goes forward) and in the heap pop in the same `(time, seq)` order.
    #[test]
    fn lanes_match_reference_model(
        ops in proptest::collection::vec((0u8..8, 0u64..40, any::<prop::sample::Index>()), 1..2000)
    ) {
        let mut q = EventQueue::new();
        let mut reference: Vec<(u64, u64, u32)> = Vec::new();
        let mut timers: Vec<(TimerId, u64)> = Vec::new();
        let (mut seq, mut payload, mut now) = (0u64, 0u32, 0u64);
        for (op, t, index) in ops {
            match op {
                0 => { q.push(SimTime(now + t), payload); reference.push((now + t, seq, payload)); seq += 1; payload += 1; }
                1..=3 => {
                    // Eleven delays for eight lanes: some timers go to the heap.
                    let time = now + (t % 11) * 7;
                    let id = q.push_timer_at(SimTime(now), SimTime(time), payload);
                    timers.push((id, seq)); reference.push((time, seq, payload)); seq += 1; payload += 1;
                }
                4..=5 => if !timers.is_empty() {
                    let (id, s) = timers.swap_remove(index.index(timers.len()));
                    let live = reference.iter().any(|e| e.1 == s);
                    prop_assert_eq!(q.cancel(id), live);
                    reference.retain(|e| e.1 != s);
                },
                _ => {
                    reference.sort();
                    let expected = if reference.is_empty() { None } else { let e = reference.remove(0); Some((SimTime(e.0), e.2)) };
                    let popped = q.pop();
                    if let Some((time, _)) = popped { now = time.0; }
                    prop_assert_eq!(popped, expected);
                }
            }
            prop_assert_eq!(q.len(), reference.len());
            q.heap.check();
        }
    }

    /// Against a reference model (a sorted vector), any mix of pushes, timers, cancels and
    /// pops yields the same sequence.
    #[test]
    fn matches_reference_model(ops in proptest::collection::vec((0u8..4, 0u64..50), 1..300)) {
        let mut q = EventQueue::new();
        let mut reference: Vec<(u64, u64, u32)> = Vec::new(); // (time, seq, payload)
        let mut timers: Vec<(TimerId, u64)> = Vec::new(); // handle, seq
        let mut seq = 0u64;
        let mut payload = 0u32;
        for (op, t) in ops {
            match op {
                0 => { q.push(SimTime(t), payload); reference.push((t, seq, payload)); seq += 1; payload += 1; }
                1 => { let id = q.push_timer(SimTime(t), payload); timers.push((id, seq)); reference.push((t, seq, payload)); seq += 1; payload += 1; }
                2 => if let Some((id, s)) = timers.pop() {
                    let live = reference.iter().any(|e| e.1 == s);
                    prop_assert_eq!(q.cancel(id), live);
                    reference.retain(|e| e.1 != s);
                },
                _ => {
                    reference.sort();
                    let expected = if reference.is_empty() { None } else { let e = reference.remove(0); Some((SimTime(e.0), e.2)) };
                    prop_assert_eq!(q.pop(), expected);
                }
            }
            prop_assert_eq!(q.len(), reference.len());
            q.heap.check();
        }
    }

    /// Many timers, cancelled in any order: compaction runs often and pops stay in order.
    #[test]
    fn matches_reference_model_through_compactions(
        ops in proptest::collection::vec((0u8..8, 0u64..200, any::<prop::sample::Index>()), 1..3000)
    ) {
        let mut q = EventQueue::new();
        let mut reference: Vec<(u64, u64, u32)> = Vec::new();
        let mut timers: Vec<(TimerId, u64)> = Vec::new();
        let (mut seq, mut payload) = (0u64, 0u32);
        for (op, t, index) in ops {
            match op {
                0 => { q.push(SimTime(t), payload); reference.push((t, seq, payload)); seq += 1; payload += 1; }
                1..=3 => { let id = q.push_timer(SimTime(t), payload); timers.push((id, seq)); reference.push((t, seq, payload)); seq += 1; payload += 1; }
                4..=6 => if !timers.is_empty() {
                    let (id, s) = timers.swap_remove(index.index(timers.len()));
                    let live = reference.iter().any(|e| e.1 == s);
                    prop_assert_eq!(q.cancel(id), live);
                    reference.retain(|e| e.1 != s);
                },
                _ => {
                    reference.sort();
                    let expected = if reference.is_empty() { None } else { let e = reference.remove(0); Some((SimTime(e.0), e.2)) };
                    prop_assert_eq!(q.pop(), expected);
                }
            }
            prop_assert_eq!(q.len(), reference.len());
            q.heap.check();
            prop_assert!(q.heap_len() <= 2 * q.len() + COMPACT_MIN_CANCELLED);
        }
    }
}
