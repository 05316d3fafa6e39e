//! `Slab`: a vector of reusable slots for calls, attempts and jobs.

/// A vector of reusable slots; freed indices are reused last-in first-out, which is
/// deterministic.
pub(super) struct Slab<T> {
    pub(super) items: Vec<T>,
    pub(super) free: Vec<u32>,
}

impl<T> Slab<T> {
    pub(super) fn new() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }

    pub(super) fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = value;
                i
            }
            None => {
                self.items.push(value);
                u32::try_from(self.items.len() - 1).expect("fewer than 2^32 live items")
            }
        }
    }

    pub(super) fn remove(&mut self, i: u32) {
        self.free.push(i);
    }

    /// The live items, in slot order.
    pub(super) fn live(&self) -> impl Iterator<Item = &T> {
        let mut is_free = vec![false; self.items.len()];
        for &i in &self.free {
            is_free[i as usize] = true;
        }
        self.items
            .iter()
            .zip(is_free)
            .filter(|(_, free)| !free)
            .map(|(item, _)| item)
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    fn index(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.items[i as usize]
    }
}
