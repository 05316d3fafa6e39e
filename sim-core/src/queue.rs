//! The event queue: a 4-ary min-heap keyed by `(time, seq)` with O(1) timer cancellation, and
//! FIFO lanes for timers that share a delay, each standing in the heap as one marker.

use std::collections::VecDeque;

use crate::time::SimTime;

mod heap;

use heap::{Entry, QuadHeap};

/// Marks an entry that was scheduled without a cancellation slot.
const NO_SLOT: u32 = u32::MAX;
/// Slots from here up name a lane's marker in the heap (`LANE_MARK + lane`), not a timer.
const LANE_MARK: u32 = NO_SLOT - MAX_LANES as u32;
/// Marks a slot that no pending timer owns.
const FREE: u64 = u64::MAX;

/// A handle to a cancellable timer, returned by [`EventQueue::push_timer`].
///
/// Handles stay valid forever: cancelling one whose timer already fired or was cancelled is a
/// harmless no-op that returns `false`, even after its slot was reused by a newer timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId {
    slot: u32,
    /// The lane holding the timer, or [`NO_LANE`] for the heap.
    lane: u16,
    seq: u64,
}

/// Marks a timer held in the heap rather than a lane.
const NO_LANE: u16 = u16::MAX;
/// At most this many lanes; a timer whose delay has no lane and finds none free goes to the heap.
const MAX_LANES: usize = 8;

/// Timers set with one delay, in the order they were set. Time never goes back, so the expiry
/// times of one delay are non-decreasing, and so are the `seq`s: the lane is sorted by
/// `(time, seq)` without any comparison, its front is its earliest entry, and a push is O(1).
/// A cancelled entry stays until it reaches the front (or the lane compacts), but it never
/// deepens the heap.
///
/// A lane that holds entries has one *marker* in the heap: an entry keyed by the `(time, seq)`
/// of a front the lane had, never later than its front now (fronts only move later). When the
/// marker pops, the lane's live front pops if the key is its own; otherwise (that front was
/// cancelled) the marker goes back keyed by the front now. So the heap alone decides every
/// pop, and a pop pays nothing for the lanes until a marker reaches the top.
struct Lane<E> {
    delay: u64,
    items: VecDeque<Entry<E>>,
    /// Cancelled entries still held.
    dead: usize,
    /// The key of the lane's marker in the heap, if it has one. A lane emptied by compaction
    /// keeps its marker until it pops; until then it only takes timers that are not earlier.
    marker: Option<u128>,
}

impl<E> Lane<E> {
    /// Whether a timer at `time` may join: not before the back, nor before the marker.
    fn takes(&self, time: u64) -> bool {
        self.items.back().is_none_or(|b| b.time() <= time)
            && self.marker.is_none_or(|key| (key >> 64) as u64 <= time)
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
    /// Cancelled entries still in the heap.
    cancelled_pending: usize,
    lanes: Vec<Lane<E>>,
    /// Entries held in lanes, cancelled ones included.
    lane_entries: usize,
    /// Cancelled entries held in lanes.
    lane_dead: usize,
    /// Lane markers in the heap.
    markers: usize,
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
            heap: QuadHeap::with_capacity(capacity),
            next_seq: 0,
            slots: Vec::new(),
            free_slots: Vec::new(),
            cancelled_pending: 0,
            lanes: Vec::new(),
            lane_entries: 0,
            lane_dead: 0,
            markers: 0,
        }
    }

    /// Schedules `event` at `time`; it cannot be cancelled.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry::new(time.0, seq, NO_SLOT, event));
    }

    /// Schedules `event` at `time` and returns a handle that can cancel it.
    pub fn push_timer(&mut self, time: SimTime, event: E) -> TimerId {
        let (slot, seq) = self.take_slot();
        self.heap.push(Entry::new(time.0, seq, slot, event));
        TimerId {
            slot,
            lane: NO_LANE,
            seq,
        }
    }

    /// Schedules a cancellable `event` at `time`, set at `now` (time never goes back between
    /// calls). Timers set with the same delay share a FIFO lane: O(1) to set, and a cancelled
    /// one never weighs on the heap. The pop order is the same as [`EventQueue::push_timer`]'s.
    pub fn push_timer_at(&mut self, now: SimTime, time: SimTime, event: E) -> TimerId {
        let delay = time.0.saturating_sub(now.0);
        let lane = match self.lanes.iter().position(|l| l.delay == delay) {
            Some(i) if self.lanes[i].takes(time.0) => Some(i),
            // A clock that went back (only the queue's own tests do that): the heap orders it.
            Some(_) => None,
            None => match self
                .lanes
                .iter()
                .position(|l| l.items.is_empty() && l.takes(time.0))
            {
                Some(i) => {
                    self.lanes[i].delay = delay;
                    Some(i)
                }
                None if self.lanes.len() < MAX_LANES => {
                    self.lanes.push(Lane {
                        delay,
                        items: VecDeque::new(),
                        dead: 0,
                        marker: None,
                    });
                    Some(self.lanes.len() - 1)
                }
                None => None,
            },
        };
        let Some(lane) = lane else {
            return self.push_timer(time, event);
        };
        let (slot, seq) = self.take_slot();
        let entry = Entry::new(time.0, seq, slot, event);
        if self.lanes[lane].marker.is_none() {
            // The lane was empty: its new front needs a marker.
            self.arm(lane, entry);
        }
        self.lanes[lane].items.push_back(entry);
        self.lane_entries += 1;
        TimerId {
            slot,
            lane: lane as u16,
            seq,
        }
    }

    /// A free cancellation slot, owned by the next `seq`.
    #[inline]
    fn take_slot(&mut self) -> (u32, u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.slots.len()).expect("more than 2^32 live timers");
                assert!(slot < LANE_MARK, "more than 2^32 - 10 live timers");
                self.slots.push(FREE);
                slot
            }
        };
        self.slots[slot as usize] = seq;
        (slot, seq)
    }

    /// Cancels a pending timer. Returns `false` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        let owner = &mut self.slots[id.slot as usize];
        if *owner != id.seq {
            return false;
        }
        *owner = FREE;
        self.free_slots.push(id.slot);
        if id.lane != NO_LANE {
            let lane = &mut self.lanes[usize::from(id.lane)];
            lane.dead += 1;
            self.lane_dead += 1;
            if lane.dead >= COMPACT_MIN_CANCELLED && 2 * lane.dead > lane.items.len() {
                self.compact_lane(usize::from(id.lane));
            }
            return true;
        }
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
            .retain(|entry| entry.slot >= LANE_MARK || slots[entry.slot as usize] == entry.seq());
        self.cancelled_pending = 0;
        debug_assert!(
            self.heap
                .entries()
                .iter()
                .all(|e| e.slot >= LANE_MARK || slots[e.slot as usize] == e.seq())
        );
    }

    /// Drops a lane's cancelled entries (its order is kept), so that a lane holds at most
    /// twice its live timers, as the heap does.
    #[cold]
    fn compact_lane(&mut self, lane: usize) {
        let slots = &self.slots;
        let lane = &mut self.lanes[lane];
        let before = lane.items.len();
        // Copies the live entries forward in one slice: `VecDeque::retain` swaps each kept
        // entry through the ring's index arithmetic, at twice the cost.
        let items = lane.items.make_contiguous();
        let mut kept = 0;
        let mut next = 0;
        while next < items.len() {
            let entry = items[next];
            if slots[entry.slot as usize] == entry.seq() {
                items[kept] = entry;
                kept += 1;
            }
            next += 1;
        }
        lane.items.truncate(kept);
        self.lane_entries -= before - kept;
        self.lane_dead -= lane.dead;
        lane.dead = 0;
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
        self.advance(end).then(|| self.taken())
    }

    /// Takes the earliest live event off the queue if its time is before `end`, and leaves it
    /// at the heap's taken root, where [`taken`](Self::taken) reads it until the next push or
    /// pop. The engine's loop pops this way: the event is copied once, from the root, where
    /// returning it from two paths (an event, a timer or a lane's front) copied it three times.
    #[inline]
    pub(crate) fn advance(&mut self, end: SimTime) -> bool {
        let Some(entry) = self.heap.peek() else {
            return false;
        };
        if entry.time() >= end.0 {
            return false;
        }
        let slot = entry.slot;
        // Taken: it stays at the root until a push replaces it or a peek fills it.
        self.heap.root_taken = true;
        slot == NO_SLOT || self.advance_slotted(end)
    }

    /// The time and event [`advance`](Self::advance) took off last.
    #[inline(always)]
    pub(crate) fn taken(&self) -> (SimTime, E) {
        let entry = self.heap.taken();
        (SimTime(entry.time()), entry.event)
    }

    /// `advance` after it took a timer or a lane's marker off the heap: out of line, so that
    /// the loop's common case (an event that is not a timer) stays short.
    #[inline(never)]
    fn advance_slotted(&mut self, end: SimTime) -> bool {
        loop {
            let entry = *self.heap.taken();
            if self.fire_slotted(entry) {
                return true;
            }
            let Some(next) = self.heap.peek() else {
                return false;
            };
            if next.time() >= end.0 {
                return false;
            }
            let slot = next.slot;
            self.heap.root_taken = true;
            if slot == NO_SLOT {
                return true;
            }
        }
    }

    /// A timer or a lane's marker taken off the heap: whether an event is due, left at the
    /// taken root (the timer itself if it is live, its slot freed; the lane's front if the
    /// marker is its key).
    #[inline]
    fn fire_slotted(&mut self, entry: Entry<E>) -> bool {
        if entry.slot >= LANE_MARK {
            return self.lane_due((entry.slot - LANE_MARK) as usize, entry.key());
        }
        let owner = &mut self.slots[entry.slot as usize];
        if *owner == entry.seq() {
            *owner = FREE;
            self.free_slots.push(entry.slot);
            return true;
        }
        self.cancelled_pending -= 1;
        false
    }

    /// Puts `lane`'s marker in the heap, keyed by `front`.
    #[inline]
    fn arm(&mut self, lane: usize, front: Entry<E>) {
        self.heap.push(Entry {
            slot: LANE_MARK + lane as u32,
            ..front
        });
        self.lanes[lane].marker = Some(front.key());
        self.markers += 1;
    }

    /// `lane`'s marker popped with `key`: drops the cancelled entries at the lane's front, pops
    /// the front if `key` is its own, and arms the marker again for the front after it.
    #[inline(never)]
    fn lane_due(&mut self, lane: usize, key: u128) -> bool {
        self.markers -= 1;
        let held = &mut self.lanes[lane];
        debug_assert_eq!(held.marker, Some(key));
        held.marker = None;
        while let Some(front) = held.items.front() {
            if self.slots[front.slot as usize] == front.seq() {
                break;
            }
            held.items.pop_front();
            held.dead -= 1;
            self.lane_dead -= 1;
            self.lane_entries -= 1;
        }
        let Some(&front) = self.lanes[lane].items.front() else {
            return false;
        };
        if front.key() != key {
            // The front the marker was keyed by was cancelled: wait for the live one.
            self.arm(lane, front);
            return false;
        }
        self.lanes[lane].items.pop_front();
        self.lane_entries -= 1;
        // The front is handed out from the taken root, its marker's place; the marker of the
        // next front goes in behind it (a later key never reaches the root).
        self.heap.set_taken(front);
        if let Some(&next) = self.lanes[lane].items.front() {
            self.heap.push_last(Entry {
                slot: LANE_MARK + lane as u32,
                ..next
            });
            self.lanes[lane].marker = Some(next.key());
            self.markers += 1;
        }
        self.slots[front.slot as usize] = FREE;
        self.free_slots.push(front.slot);
        true
    }

    /// The time of the earliest pending entry (possibly a cancelled timer), if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        let lanes = self.lanes.iter().filter_map(|l| l.items.front());
        self.heap
            .min_time()
            .into_iter()
            .chain(lanes.map(Entry::time))
            .map(SimTime)
            .min()
    }

    /// Bytes the queue holds on the heap (its allocations' capacity, not only what is live).
    pub fn footprint_bytes(&self) -> usize {
        self.heap.footprint_bytes()
            + self.slots.capacity() * std::mem::size_of::<u64>()
            + self.free_slots.capacity() * std::mem::size_of::<u32>()
            + self
                .lanes
                .iter()
                .map(|l| l.items.capacity() * std::mem::size_of::<Entry<E>>())
                .sum::<usize>()
    }

    /// Live (not cancelled) pending events.
    pub fn len(&self) -> usize {
        self.heap.len() - self.markers - self.cancelled_pending + self.lane_entries - self.lane_dead
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries physically held, including cancelled timers not yet skipped.
    pub fn heap_len(&self) -> usize {
        self.heap.len() - self.markers + self.lane_entries
    }
}

#[cfg(test)]
mod tests;
