//! The ids of the world's running state, each its own type so that one cannot be passed where
//! another is expected, and `Slab`: a vector of reusable slots for calls, attempts and jobs.
//!
//! Slots are reused, so a slot id alone may name a newer occupant by the time an event about
//! an older one arrives. The ids that are never reused, [`AttemptId`] and [`CallSerial`],
//! travel beside slot ids in events and are compared on arrival to recognise stale ones.

use std::marker::PhantomData;

/// An id that indexes a [`Slab`].
pub trait SlotId: Copy {
    fn from_slot(slot: u32) -> Self;
    fn slot(self) -> u32;
}

macro_rules! slot_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl SlotId for $name {
            #[inline]
            fn from_slot(slot: u32) -> Self {
                $name(slot)
            }
            #[inline]
            fn slot(self) -> u32 {
                self.0
            }
        }
    };
}

slot_id!(
    /// The slot of a logical call at its caller (reused once the call and its jobs are gone).
    CallSlot
);
slot_id!(
    /// The slot of an attempt at its caller (reused once the attempt is over).
    AttemptSlot
);
slot_id!(
    /// The slot of a job, an attempt being served at its callee.
    JobSlot
);

impl AttemptSlot {
    /// The bit that marks a slot naming a call whose one attempt the call keeps itself (a plain
    /// edge's call, `plain.rs`): the rest of the slot is the call's.
    const LONE: u32 = 1 << 31;

    /// The slot under which a job and a reply name the one attempt `call` keeps itself.
    #[inline(always)]
    pub(super) fn lone(call: CallSlot) -> AttemptSlot {
        assert!(call.0 < Self::LONE, "fewer than 2^31 calls at once");
        AttemptSlot(call.0 | Self::LONE)
    }

    /// The call that keeps this attempt itself, or `None` for an attempt of the `attempts` slab.
    #[inline(always)]
    pub(super) fn lone_call(self) -> Option<CallSlot> {
        (self.0 & Self::LONE != 0).then_some(CallSlot(self.0 & !Self::LONE))
    }
}

/// An edge: one calling replica's (or client request type's) policy state for one call of its
/// plan. Edges live for the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EdgeId(pub u32);

/// An attempt's id, unique over the run (from 1; 0 is none). Traces use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttemptId(pub u64);

/// A logical call's serial, unique over the run: its idempotency key, and the check for stale
/// events about a reused call slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallSerial(pub u64);

impl AttemptId {
    /// No attempt: a removed job's attempt, a client's parent.
    pub const NONE: AttemptId = AttemptId(0);
}

impl<T> std::ops::Index<EdgeId> for Vec<T> {
    type Output = T;
    #[inline]
    fn index(&self, e: EdgeId) -> &T {
        &self[e.0 as usize]
    }
}

impl<T> std::ops::IndexMut<EdgeId> for Vec<T> {
    #[inline]
    fn index_mut(&mut self, e: EdgeId) -> &mut T {
        &mut self[e.0 as usize]
    }
}

/// A vector of reusable slots; freed slots are reused last-in first-out, which is
/// deterministic.
pub(super) struct Slab<K, T> {
    items: Vec<T>,
    free: Vec<u32>,
    key: PhantomData<K>,
}

impl<K: SlotId, T> Slab<K, T> {
    pub(super) fn new() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
            key: PhantomData,
        }
    }

    /// Bytes the slab holds on the heap (its capacity, free slots included).
    pub(super) fn footprint_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>() + self.free.capacity() * 4
    }

    /// The key the next `insert` returns (a record that names a later one can be built first).
    #[inline(always)]
    pub(super) fn vacant_key(&self) -> K {
        K::from_slot(match self.free.last() {
            Some(&i) => i,
            None => u32::try_from(self.items.len()).expect("fewer than 2^32 slots"),
        })
    }

    #[inline(always)]
    pub(super) fn insert(&mut self, value: T) -> K {
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = value;
                K::from_slot(i)
            }
            None => {
                self.items.push(value);
                K::from_slot(u32::try_from(self.items.len() - 1).expect("fewer than 2^32 slots"))
            }
        }
    }

    #[inline(always)]
    pub(super) fn remove(&mut self, key: K) {
        let i = key.slot();
        // A slot freed twice would be handed out twice. `live` checks every slot at the end of
        // each run (the conservation check calls it), so release builds pay nothing per free.
        debug_assert!((i as usize) < self.items.len(), "slot {i} out of bounds");
        debug_assert!(
            self.free.len() < self.items.len(),
            "more slots freed than taken"
        );
        self.free.push(i);
    }

    /// How many slots were ever used, live or free.
    pub(super) fn capacity(&self) -> usize {
        self.items.len()
    }

    /// Every slot ever used, live or free.
    pub(super) fn slots(&self) -> impl Iterator<Item = (K, &T)> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, item)| (K::from_slot(i as u32), item))
    }

    /// The live items, in slot order. Panics if a slot was freed twice.
    pub(super) fn live(&self) -> impl Iterator<Item = &T> {
        let mut is_free = vec![false; self.items.len()];
        for &i in &self.free {
            assert!(!is_free[i as usize], "slot {i} freed twice");
            is_free[i as usize] = true;
        }
        self.items
            .iter()
            .zip(is_free)
            .filter(|(_, free)| !free)
            .map(|(item, _)| item)
    }
}

impl<K: SlotId, T> std::ops::Index<K> for Slab<K, T> {
    type Output = T;
    #[inline]
    fn index(&self, key: K) -> &T {
        &self.items[key.slot() as usize]
    }
}

impl<K: SlotId, T> std::ops::IndexMut<K> for Slab<K, T> {
    #[inline]
    fn index_mut(&mut self, key: K) -> &mut T {
        &mut self.items[key.slot() as usize]
    }
}
