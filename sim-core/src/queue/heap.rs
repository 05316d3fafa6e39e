//! The event queue's heap: a 4-ary min-heap of entries keyed by `(time, seq)`.

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

/// A 4-ary min-heap on `(time, seq)`. Four children per node halve the depth of a binary heap,
/// and the children of a node share a cache line or two; measured faster than
/// `std::collections::BinaryHeap` with 100k pending events (see the `hold` example).
///
/// Popping leaves the popped entry at the root, marked taken, instead of filling the root at
/// once: the event loop pops one event and its handler usually schedules one, which then takes
/// the root's place with a single pass down the heap, where a pop and a push would take two.
/// Nothing else sees the taken root: a peek or a pop first fills it from the last entry.
pub(super) struct QuadHeap<E> {
    items: Vec<Entry<E>>,
    /// `items[0]` was popped and awaits a replacement.
    pub(super) root_taken: bool,
}

impl<E: Copy> QuadHeap<E> {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        QuadHeap {
            items: Vec::with_capacity(capacity),
            root_taken: false,
        }
    }

    #[inline]
    pub(super) fn push(&mut self, entry: Entry<E>) {
        if self.root_taken {
            self.root_taken = false;
            // A new event usually belongs near the top (handlers mostly schedule the short
            // delays of network hops and work), so it goes down from the root, not up from a
            // leaf as `fill_root` does with the last entry.
            self.items[0] = entry;
            self.sift_down(0);
            return;
        }
        self.push_last(entry);
    }

    /// Adds `entry` after the last entry and moves it up to its place. With the root taken,
    /// `entry` must not be before the root's entry: it then never reaches the root.
    #[inline]
    pub(super) fn push_last(&mut self, entry: Entry<E>) {
        debug_assert!(!self.root_taken || !entry.before(&self.items[0]));
        let hole = self.items.len();
        self.items.push(entry);
        self.sift_up(hole, entry);
    }

    /// Moves the hole at `hole` up while `entry` is before its parent, then puts `entry` in it.
    #[inline(always)]
    fn sift_up(&mut self, mut hole: usize, entry: Entry<E>) {
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

    /// The taken root's entry: the event the queue hands out last.
    #[inline(always)]
    pub(super) fn taken(&self) -> &Entry<E> {
        debug_assert!(self.root_taken);
        &self.items[0]
    }

    /// Puts `entry` at the taken root, to be handed out from there. It must be before every
    /// entry held.
    #[inline]
    pub(super) fn set_taken(&mut self, entry: Entry<E>) {
        debug_assert!(self.root_taken);
        self.items[0] = entry;
    }

    /// The earliest entry, after filling a taken root.
    #[inline]
    pub(super) fn peek(&mut self) -> Option<&Entry<E>> {
        if self.root_taken {
            self.drop_root();
        }
        self.items.first()
    }

    /// Fills a taken root with the last entry.
    #[inline]
    fn drop_root(&mut self) {
        debug_assert!(self.root_taken);
        self.root_taken = false;
        let last = self.items.pop().expect("a taken root is an entry");
        if !self.items.is_empty() {
            self.fill_root(last);
        }
    }

    /// Puts `entry` in place of the root. Walks the hole down to a leaf along the smallest
    /// children, then sifts `entry` up from there: fewer comparisons than stopping early, since
    /// `entry` (the heap's last one) usually belongs low.
    #[inline]
    fn fill_root(&mut self, entry: Entry<E>) {
        let len = self.items.len();
        let mut hole = 0;
        loop {
            let first = 4 * hole + 1;
            if first >= len {
                break;
            }
            let best = self.least_child(first, len);
            self.items[hole] = self.items[best];
            hole = best;
        }
        self.sift_up(hole, entry);
    }

    /// Entries held, a taken root excluded.
    pub(super) fn len(&self) -> usize {
        self.items.len() - usize::from(self.root_taken)
    }

    /// Moves the entry at `hole` down until no child is before it.
    #[inline]
    fn sift_down(&mut self, mut hole: usize) {
        let len = self.items.len();
        let entry = self.items[hole];
        loop {
            let first = 4 * hole + 1;
            if first >= len {
                break;
            }
            let best = self.least_child(first, len);
            if !self.items[best].before(&entry) {
                break;
            }
            self.items[hole] = self.items[best];
            hole = best;
        }
        self.items[hole] = entry;
    }

    /// The earliest of the children `first..first + 4` (fewer at the end of `len` entries).
    #[inline(always)]
    fn least_child(&self, first: usize, len: usize) -> usize {
        if first + 4 <= len {
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
        }
    }

    /// Keeps only the entries `keep` accepts and restores the heap order (Floyd's bottom-up
    /// construction, O(n)). The order in which entries pop is unchanged: `(time, seq)` is a
    /// total order, so any valid heap of the same entries pops them in the same sequence.
    pub(super) fn retain(&mut self, keep: impl FnMut(&Entry<E>) -> bool) {
        if self.root_taken {
            self.drop_root();
        }
        self.items.retain(keep);
        let len = self.items.len();
        if len > 1 {
            for node in (0..=(len - 2) / 4).rev() {
                self.sift_down(node);
            }
        }
    }

    /// The earliest time held, without filling a taken root: then the earliest is one of the
    /// root's children.
    pub(super) fn min_time(&self) -> Option<u64> {
        if self.root_taken {
            self.items.iter().skip(1).take(4).map(Entry::time).min()
        } else {
            self.items.first().map(Entry::time)
        }
    }

    /// The entries held, a taken root excluded.
    pub(super) fn entries(&self) -> &[Entry<E>] {
        &self.items[usize::from(self.root_taken)..]
    }

    /// Bytes allocated.
    pub(super) fn footprint_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<Entry<E>>()
    }

    /// Checks the heap order (a taken root excluded).
    #[cfg(test)]
    pub(super) fn check(&self) {
        for i in 1..self.items.len() {
            let parent = (i - 1) / 4;
            if parent > 0 || !self.root_taken {
                assert!(!self.items[i].before(&self.items[parent]), "order at {i}");
            }
        }
    }
}
