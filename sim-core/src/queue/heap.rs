//! The event queue's heap: a 4-ary min-heap of entries keyed by `(time, seq)`, padded so that
//! every family of four children is whole.

/// A key no entry has: `(u64::MAX, u64::MAX)`. It pads the heap's last family, and since no
/// entry is after it, a padding entry never moves up.
pub(super) const PAD: u128 = u128::MAX;

#[derive(Clone, Copy)]
pub(super) struct Entry<E> {
    /// `(time, seq)` as one number, stored rather than built at each comparison: one wide
    /// comparison without branches.
    pub(super) key: u128,
    pub(super) slot: u32,
    pub(super) event: E,
}

impl<E> Entry<E> {
    #[inline(always)]
    pub(super) fn new(time: u64, seq: u64, slot: u32, event: E) -> Self {
        Entry {
            key: (u128::from(time) << 64) | u128::from(seq),
            slot,
            event,
        }
    }

    #[inline(always)]
    pub(super) fn time(&self) -> u64 {
        (self.key >> 64) as u64
    }

    #[inline(always)]
    pub(super) fn seq(&self) -> u64 {
        self.key as u64
    }

    #[inline(always)]
    pub(super) fn key(&self) -> u128 {
        self.key
    }

    #[inline(always)]
    fn before(&self, other: &Self) -> bool {
        self.key() < other.key()
    }
}

/// The place of the earliest of a family: a tournament of three comparisons.
#[inline(always)]
fn least<E>(kids: &[Entry<E>; 4]) -> usize {
    let a = usize::from(kids[1].before(&kids[0]));
    let b = 2 + usize::from(kids[3].before(&kids[2]));
    if kids[b].before(&kids[a]) { b } else { a }
}

/// A 4-ary min-heap on `(time, seq)`. Four children per node halve the depth of a binary heap,
/// and the children of a node share a cache line or two; measured faster than
/// `std::collections::BinaryHeap` with 100k pending events (see the `hold` example).
///
/// Popping leaves the popped entry at the root, marked taken, instead of filling the root at
/// once: the event loop pops one event and its handler usually schedules one, which then takes
/// the root's place with a single pass down the heap, where a pop and a push would take two.
/// Nothing else sees the taken root: a peek or a pop first fills it from the last entry.
///
/// The entries are `items[..len]`; beyond them, up to the end of the last family that holds
/// one, the items are padding keyed [`PAD`]. So a node either has no family in `items` or a
/// whole one: a pass down the heap takes a node's four children as one slice, whose presence
/// is the only test of the level, and needs no case for a family cut short.
pub(super) struct QuadHeap<E> {
    items: Vec<Entry<E>>,
    /// Entries held, a taken root included.
    len: usize,
    /// `items[0]` was popped and awaits a replacement.
    pub(super) root_taken: bool,
}

impl<E: Copy> QuadHeap<E> {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        QuadHeap {
            items: Vec::with_capacity(capacity),
            len: 0,
            root_taken: false,
        }
    }

    #[inline]
    pub(super) fn push(&mut self, entry: Entry<E>) {
        if self.root_taken {
            self.root_taken = false;
            // A new event usually belongs near the top (handlers mostly schedule the short
            // delays of network hops and work), so it goes down from the root, not up from a
            // leaf as `fill_root` does with the last entry. Written in place by the caller, so
            // the pass down reads it from the root rather than from a copy on the stack.
            self.items[0] = entry;
            self.sift_root();
        } else {
            self.push_last(entry);
        }
    }

    /// Moves the root's entry down to its place.
    #[inline(never)]
    fn sift_root(&mut self) {
        let entry = self.items[0];
        self.sift_down(0, entry);
    }

    /// Adds `entry` after the last one and moves it up to its place.
    #[inline(never)]
    fn push_last(&mut self, entry: Entry<E>) {
        let mut hole = self.len;
        if hole == self.items.len() {
            // A new family, padded; or the root of an empty heap.
            let pad = Entry { key: PAD, ..entry };
            let new = if hole == 0 { 1 } else { 4 };
            self.items.resize(hole + new, pad);
        }
        self.len += 1;
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

    /// The earliest entry, after filling a taken root.
    #[inline]
    pub(super) fn peek(&mut self) -> Option<&Entry<E>> {
        if self.root_taken {
            self.drop_root();
        }
        self.items[..self.len].first()
    }

    /// Fills a taken root with the last entry.
    #[inline]
    fn drop_root(&mut self) {
        debug_assert!(self.root_taken);
        self.root_taken = false;
        let last = self.remove_last();
        if self.len > 0 {
            self.fill_root(last);
        }
    }

    /// Takes the last entry out, leaving padding in its place, and drops the last family if
    /// it no longer holds an entry.
    #[inline]
    fn remove_last(&mut self) -> Entry<E> {
        self.len -= 1;
        let last = self.items[self.len];
        self.items[self.len].key = PAD;
        if self.len % 4 == 1 || self.len == 0 {
            self.items.truncate(self.len);
        }
        last
    }

    /// Puts `entry` in place of the root. Walks the hole down to a leaf along the smallest
    /// children, then sifts `entry` up from there: fewer comparisons than stopping early, since
    /// `entry` (the heap's last one) usually belongs low. No family is all padding, so the
    /// smallest child is an entry.
    #[inline]
    fn fill_root(&mut self, entry: Entry<E>) {
        let mut hole = 0;
        while let Some(kids) = self.family(hole) {
            let best = least(kids);
            self.items[hole] = kids[best];
            hole = 4 * hole + 1 + best;
        }
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

    /// Entries held, a taken root excluded.
    pub(super) fn len(&self) -> usize {
        self.len - usize::from(self.root_taken)
    }

    /// Moves `entry`, whose place is `hole`, down until no child is before it.
    #[inline(always)]
    fn sift_down(&mut self, mut hole: usize, entry: Entry<E>) {
        while let Some(kids) = self.family(hole) {
            let best = least(kids);
            if !kids[best].before(&entry) {
                break;
            }
            self.items[hole] = kids[best];
            hole = 4 * hole + 1 + best;
        }
        self.items[hole] = entry;
    }

    /// The four children of `node`, if it has any.
    #[inline(always)]
    fn family(&self, node: usize) -> Option<&[Entry<E>; 4]> {
        self.items.get(4 * node + 1..)?.first_chunk()
    }
    /// Keeps only the entries `keep` accepts and restores the heap order (Floyd's bottom-up
    /// construction, O(n)). The order in which entries pop is unchanged: `(time, seq)` is a
    /// total order, so any valid heap of the same entries pops them in the same sequence.
    pub(super) fn retain(&mut self, keep: impl FnMut(&Entry<E>) -> bool) {
        if self.root_taken {
            self.drop_root();
        }
        self.items.truncate(self.len);
        self.items.retain(keep);
        self.len = self.items.len();
        if let Some(&last) = self.items.last() {
            let whole = if self.len <= 1 {
                self.len
            } else {
                1 + (self.len - 1).div_ceil(4) * 4
            };
            self.items.resize(whole, Entry { key: PAD, ..last });
        }
        if self.len > 1 {
            for node in (0..=(self.len - 2) / 4).rev() {
                let entry = self.items[node];
                self.sift_down(node, entry);
            }
        }
    }

    /// The earliest time held, without filling a taken root: then the earliest is one of the
    /// root's children.
    pub(super) fn min_time(&self) -> Option<u64> {
        self.entries().iter().take(4).map(Entry::time).min()
    }

    /// The entries held, a taken root excluded.
    pub(super) fn entries(&self) -> &[Entry<E>] {
        &self.items[usize::from(self.root_taken)..self.len]
    }

    /// Bytes allocated.
    pub(super) fn footprint_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<Entry<E>>()
    }

    /// Checks the layout: entries in heap order, padding after them up to a whole family.
    #[cfg(test)]
    pub(super) fn check(&self) {
        let whole = if self.len <= 1 {
            self.len
        } else {
            1 + (self.len - 1).div_ceil(4) * 4
        };
        assert_eq!(self.items.len(), whole, "{} entries", self.len);
        assert!(self.items[self.len..].iter().all(|e| e.key == PAD));
        let from = usize::from(self.root_taken).max(1);
        for i in from..self.len {
            let parent = (i - 1) / 4;
            if parent > 0 || !self.root_taken {
                assert!(!self.items[i].before(&self.items[parent]), "order at {i}");
            }
        }
        assert!(self.items[..self.len].iter().all(|e| e.key != PAD));
    }
}
