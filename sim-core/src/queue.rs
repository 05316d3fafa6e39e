//! The event queue: a 4-ary min-heap keyed by `(time, seq)` with O(1) timer cancellation.

use crate::time::SimTime;

/// Marks an entry that was scheduled without a cancellation slot.
const NO_SLOT: u32 = u32::MAX;
/// Marks a slot that no pending timer owns.
const FREE: u64 = u64::MAX;

/// A handle to a cancellable timer, returned by [`EventQueue::push_timer`].
///
/// Handles stay valid forever: cancelling one whose timer already fired or was cancelled is a
/// harmless no-op that returns `false`, even after its slot was reused by a newer timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId {
    slot: u32,
    seq: u64,
}

#[derive(Clone, Copy)]
struct Entry<E> {
    time: u64,
    seq: u64,
    slot: u32,
    event: E,
}

impl<E> Entry<E> {
    #[inline(always)]
    fn before(&self, other: &Self) -> bool {
        (self.time, self.seq) < (other.time, other.seq)
    }
}

/// A 4-ary min-heap on `(time, seq)`. Four children per node halve the depth of a binary heap,
/// and the children of a node share a cache line or two; measured faster than
/// `std::collections::BinaryHeap` with 100k pending events (see the `hold` example).
struct QuadHeap<E> {
    items: Vec<Entry<E>>,
}

impl<E: Copy> QuadHeap<E> {
    #[inline]
    fn push(&mut self, entry: Entry<E>) {
        let mut hole = self.items.len();
        self.items.push(entry);
        while hole > 0 {
            let parent = (hole - 1) / 4;
            if !entry.before(&self.items[parent]) {
                break;
            }
            self.items[hole] = self.items[parent];
            hole = parent;
        }
        self.items[hole] = entry;
    }

    #[inline]
    fn peek(&self) -> Option<&Entry<E>> {
        self.items.first()
    }

    #[inline]
    fn pop(&mut self) -> Option<Entry<E>> {
        let last = self.items.pop()?;
        let len = self.items.len();
        if len == 0 {
            return Some(last);
        }
        let top = self.items[0];
        // Walk the hole down to a leaf along the smallest children, then sift `last` up from
        // there: fewer comparisons than stopping early, since `last` usually belongs low.
        let mut hole = 0;
        loop {
            let first = 4 * hole + 1;
            if first >= len {
                break;
            }
            let best = if first + 4 <= len {
                // Full family: a tournament of three comparisons over one bounds-checked slice.
                let kids = &self.items[first..first + 4];
                let a = usize::from(kids[1].before(&kids[0]));
                let b = 2 + usize::from(kids[3].before(&kids[2]));
                first + if kids[b].before(&kids[a]) { b } else { a }
            } else {
                let mut best = first;
                for child in first + 1..len {
                    if self.items[child].before(&self.items[best]) {
                        best = child;
                    }
                }
                best
            };
            self.items[hole] = self.items[best];
            hole = best;
        }
        while hole > 0 {
            let parent = (hole - 1) / 4;
            if !last.before(&self.items[parent]) {
                break;
            }
            self.items[hole] = self.items[parent];
            hole = parent;
        }
        self.items[hole] = last;
        Some(top)
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    /// Moves the entry at `hole` down until no child is before it.
    fn sift_down(&mut self, mut hole: usize) {
        let len = self.items.len();
        let entry = self.items[hole];
        loop {
            let first = 4 * hole + 1;
            if first >= len {
                break;
            }
            let mut best = first;
            for child in first + 1..(first + 4).min(len) {
                if self.items[child].before(&self.items[best]) {
                    best = child;
                }
            }
            if !self.items[best].before(&entry) {
                break;
            }
            self.items[hole] = self.items[best];
            hole = best;
        }
        self.items[hole] = entry;
    }

    /// Keeps only the entries `keep` accepts and restores the heap order (Floyd's bottom-up
    /// construction, O(n)). The order in which entries pop is unchanged: `(time, seq)` is a
    /// total order, so any valid heap of the same entries pops them in the same sequence.
    fn retain(&mut self, keep: impl FnMut(&Entry<E>) -> bool) {
        self.items.retain(keep);
        let len = self.items.len();
        if len > 1 {
            for node in (0..=(len - 2) / 4).rev() {
                self.sift_down(node);
            }
        }
    }
}

/// Compaction waits for at least this many cancelled entries, so small heaps never compact.
const COMPACT_MIN_CANCELLED: usize = 64;

/// Pending events in `(time, seq)` order.
///
/// Cancellation is lazy: a cancelled timer stays in the heap and is skipped when it reaches the
/// top, unless more than half of the heap is cancelled timers: then the heap drops them all at
/// once (O(n) for at least n/2 cancellations, so O(1) amortised per cancel). Most timeouts are
/// cancelled long before they expire, and without compaction the heap would grow to hold every
/// one of them, making every push and pop deeper. Each cancellable timer owns a slot holding the `seq` of the entry it belongs to;
/// cancelling frees the slot at once (O(1)), and an entry whose slot no longer names it is
/// stale. Slots are recycled, so their number is bounded by the timers live at once, and in
/// steady state neither scheduling nor cancelling allocates.
pub struct EventQueue<E> {
    heap: QuadHeap<E>,
    next_seq: u64,
    slots: Vec<u64>,
    free_slots: Vec<u32>,
    cancelled_pending: usize,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: QuadHeap {
                items: Vec::with_capacity(capacity),
            },
            next_seq: 0,
            slots: Vec::new(),
            free_slots: Vec::new(),
            cancelled_pending: 0,
        }
    }

    /// Schedules `event` at `time`; it cannot be cancelled.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            time: time.0,
            seq,
            slot: NO_SLOT,
            event,
        });
    }

    /// Schedules `event` at `time` and returns a handle that can cancel it.
    pub fn push_timer(&mut self, time: SimTime, event: E) -> TimerId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.slots.len()).expect("more than 2^32 live timers");
                assert!(slot != NO_SLOT, "more than 2^32 - 1 live timers");
                self.slots.push(FREE);
                slot
            }
        };
        self.slots[slot as usize] = seq;
        self.heap.push(Entry {
            time: time.0,
            seq,
            slot,
            event,
        });
        TimerId { slot, seq }
    }

    /// Cancels a pending timer. Returns `false` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        let owner = &mut self.slots[id.slot as usize];
        if *owner != id.seq {
            return false;
        }
        *owner = FREE;
        self.free_slots.push(id.slot);
        self.cancelled_pending += 1;
        if self.cancelled_pending >= COMPACT_MIN_CANCELLED
            && 2 * self.cancelled_pending > self.heap.len()
        {
            self.compact();
        }
        true
    }

    /// Drops every cancelled timer from the heap.
    #[cold]
    fn compact(&mut self) {
        let slots = &self.slots;
        self.heap
            .retain(|entry| entry.slot == NO_SLOT || slots[entry.slot as usize] == entry.seq);
        self.cancelled_pending = 0;
        debug_assert!(
            self.heap
                .items
                .iter()
                .all(|e| e.slot == NO_SLOT || slots[e.slot as usize] == e.seq)
        );
    }

    /// Removes and returns the earliest live event, skipping cancelled timers.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_before(SimTime::MAX)
    }

    /// Removes and returns the earliest live event if its time is before `end` (exclusive);
    /// otherwise leaves the queue as it is. An event at `SimTime::MAX` is never returned.
    #[inline]
    pub fn pop_before(&mut self, end: SimTime) -> Option<(SimTime, E)> {
        loop {
            if self.heap.peek()?.time >= end.0 {
                return None;
            }
            let entry = self.heap.pop()?;
            if entry.slot == NO_SLOT {
                return Some((SimTime(entry.time), entry.event));
            }
            let owner = &mut self.slots[entry.slot as usize];
            if *owner == entry.seq {
                *owner = FREE;
                self.free_slots.push(entry.slot);
                return Some((SimTime(entry.time), entry.event));
            }
            self.cancelled_pending -= 1;
        }
    }

    /// The time of the earliest pending entry (possibly a cancelled timer), if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| SimTime(e.time))
    }

    /// Live (not cancelled) pending events.
    /// Bytes the queue holds on the heap (its allocations' capacity, not only what is live).
    pub fn footprint_bytes(&self) -> usize {
        self.heap.items.capacity() * std::mem::size_of::<Entry<E>>()
            + self.slots.capacity() * std::mem::size_of::<u64>()
            + self.free_slots.capacity() * std::mem::size_of::<u32>()
    }

    pub fn len(&self) -> usize {
        self.heap.len() - self.cancelled_pending
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries physically held, including cancelled timers not yet skipped.
    pub fn heap_len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
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
        let popped: Vec<(u64, u64)> =
            std::iter::from_fn(|| q.pop().map(|(t, e)| (t.0, e))).collect();
        assert_eq!(popped, live);
    }

    proptest! {
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
                prop_assert!(q.heap_len() <= 2 * q.len() + COMPACT_MIN_CANCELLED);
            }
        }
    }
}
