//! What one replica of a store holds: a replicated log (leader-follower) or, per key, the
//! versions it keeps (leaderless), with the pure merge rules of each resolution.

use super::Resolve;

/// One entry of a leader-follower log: position `index` (from 1) written in `term`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub term: u32,
    pub index: u64,
    pub key: u32,
    pub write: u32,
}

/// A leaderless value: the write it carries, the writer's local clock reading and replica
/// (last-writer-wins), or its version vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub write: u32,
    pub stamp: i128,
    pub node: u32,
    pub vector: Vec<u32>,
}

/// A leader-follower replica's log and the latest write of each key it has applied.
#[derive(Clone, Debug, Default)]
pub struct Log {
    pub entries: Vec<Entry>,
    /// Per key, the write of its latest applied entry (`u32::MAX`: none).
    pub latest: Vec<u32>,
    /// The highest term (fencing token) this replica has accepted.
    pub term_seen: u32,
    /// Entries that arrived before an earlier one, waiting for it.
    pub pending: std::collections::BTreeMap<u64, Entry>,
}

impl Log {
    pub fn new(keys: u32) -> Log {
        Log {
            entries: Vec::new(),
            latest: vec![u32::MAX; keys as usize],
            term_seen: 1,
            pending: std::collections::BTreeMap::new(),
        }
    }

    /// Entries applied so far; the next entry's index is one more.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Applies the entry if it is the next one, and then those that were waiting for it; an
    /// entry ahead of a gap waits (a lost one comes with the next catch-up). Returns whether
    /// anything was applied.
    pub fn apply(&mut self, e: Entry) -> bool {
        if e.index > self.len() + 1 {
            self.pending.insert(e.index, e);
            return false;
        }
        if e.index != self.len() + 1 {
            return false;
        }
        self.entries.push(e);
        self.latest[e.key as usize] = e.write;
        while let Some(next) = self.pending.remove(&(self.len() + 1)) {
            self.entries.push(next);
            self.latest[next.key as usize] = next.write;
        }
        self.pending.retain(|&i, _| i > self.entries.len() as u64);
        true
    }

    /// Makes this log a copy of `leader`'s: the longest common prefix stays, the rest of this
    /// log is discarded (returned) and the leader's entries after the prefix are copied.
    pub fn resync(&mut self, leader: &Log) -> Vec<Entry> {
        let common = self
            .entries
            .iter()
            .zip(&leader.entries)
            .take_while(|(a, b)| a == b)
            .count();
        self.pending.clear();
        let dropped = self.entries.split_off(common);
        self.entries.extend_from_slice(&leader.entries[common..]);
        if !dropped.is_empty() {
            self.latest.iter_mut().for_each(|l| *l = u32::MAX);
            for e in &self.entries {
                self.latest[e.key as usize] = e.write;
            }
        } else {
            for e in &leader.entries[common..] {
                self.latest[e.key as usize] = e.write;
            }
        }
        self.term_seen = self.term_seen.max(leader.term_seen);
        dropped
    }
}

/// True when `a` has seen everything `b` has (`a >= b` componentwise).
pub fn dominates(a: &[u32], b: &[u32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x >= y)
}

/// Merges `incoming` into the versions a replica keeps for one key. Returns the discards a
/// last-writer-wins comparison made, as (discarded write, kept write). Version vectors drop
/// only versions the other side dominates, and keep concurrent ones as siblings.
pub fn merge(kept: &mut Vec<Version>, incoming: &Version, resolve: Resolve) -> Vec<(u32, u32)> {
    let mut discards = Vec::new();
    match resolve {
        Resolve::LastWriterWins => match kept.first() {
            None => kept.push(incoming.clone()),
            Some(cur) if cur.write == incoming.write => {}
            Some(cur) => {
                if (incoming.stamp, incoming.node) > (cur.stamp, cur.node) {
                    discards.push((cur.write, incoming.write));
                    kept[0] = incoming.clone();
                } else {
                    discards.push((incoming.write, cur.write));
                }
            }
        },
        Resolve::VersionVectors => {
            if kept.iter().any(|v| dominates(&v.vector, &incoming.vector)) {
                return discards;
            }
            kept.retain(|v| !dominates(&incoming.vector, &v.vector));
            kept.push(incoming.clone());
            kept.sort_by_key(|v| v.write);
        }
    }
    discards
}

/// The vector a coordinator gives a new write: everything it holds for the key, merged, with
/// its own entry one higher (a server-side version vector, as Riak's vnode clocks).
pub fn next_vector(kept: &[Version], replicas: usize, me: usize) -> Vec<u32> {
    let mut v = vec![0; replicas];
    for k in kept {
        for (a, b) in v.iter_mut().zip(&k.vector) {
            *a = (*a).max(*b);
        }
    }
    v[me] += 1;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lww(write: u32, stamp: i128, node: u32) -> Version {
        Version {
            write,
            stamp,
            node,
            vector: Vec::new(),
        }
    }

    fn vv(write: u32, vector: &[u32]) -> Version {
        Version {
            write,
            stamp: 0,
            node: 0,
            vector: vector.to_vec(),
        }
    }

    #[test]
    fn last_writer_wins_keeps_the_highest_stamp_whatever_the_arrival_order() {
        let (a, b) = (lww(1, 100, 0), lww(2, 90, 1));
        let mut x = Vec::new();
        merge(&mut x, &a, Resolve::LastWriterWins);
        assert_eq!(merge(&mut x, &b, Resolve::LastWriterWins), vec![(2, 1)]);
        let mut y = Vec::new();
        merge(&mut y, &b, Resolve::LastWriterWins);
        assert_eq!(merge(&mut y, &a, Resolve::LastWriterWins), vec![(2, 1)]);
        assert_eq!(x, y);
        assert_eq!(x, vec![a]);
    }

    #[test]
    fn version_vectors_keep_concurrent_siblings_and_drop_dominated_ones() {
        let mut x = vec![vv(1, &[1, 0])];
        merge(&mut x, &vv(2, &[0, 1]), Resolve::VersionVectors);
        assert_eq!(x.len(), 2, "concurrent: siblings");
        let next = next_vector(&x, 2, 0);
        assert_eq!(next, vec![2, 1]);
        merge(&mut x, &vv(3, &next), Resolve::VersionVectors);
        assert_eq!(x, vec![vv(3, &[2, 1])]);
        // An old version arriving late changes nothing.
        merge(&mut x, &vv(1, &[1, 0]), Resolve::VersionVectors);
        assert_eq!(x, vec![vv(3, &[2, 1])]);
    }

    #[test]
    fn resync_keeps_the_common_prefix_and_returns_the_divergent_suffix() {
        let e = |term, index, write| Entry {
            term,
            index,
            key: 0,
            write,
        };
        let mut old = Log::new(1);
        for x in [e(1, 1, 10), e(1, 2, 11), e(1, 3, 12)] {
            assert!(old.apply(x));
        }
        let mut new = Log::new(1);
        for x in [e(1, 1, 10), e(2, 2, 20)] {
            assert!(new.apply(x));
        }
        assert!(!new.apply(e(2, 4, 99)), "an entry after a gap waits");
        assert_eq!(new.len(), 2);
        let dropped = old.resync(&new);
        assert_eq!(dropped, vec![e(1, 2, 11), e(1, 3, 12)]);
        assert_eq!(old.entries, new.entries);
        assert_eq!(old.latest, vec![20]);
    }
}
