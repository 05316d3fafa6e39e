//! The anomaly checker: a pure function of one store's bounded history, so that it can be
//! tested on histories written by hand and reused by anything that records one.
//!
//! # Definitions
//!
//! Times are true (simulated) times, which no replica can read: the checker is the omniscient
//! observer that a real system lacks. A write `w` *precedes* a write `v` in real time when `w`
//! was acknowledged before `v` was invoked (`w.acked < v.invoked`); an unacknowledged write
//! precedes nothing.
//!
//! - **Stale read**: a read `r` of key `k` is stale when some write of `k` acknowledged before
//!   `r` was invoked is *missed*: every value `r` returned precedes it in real time (a read that
//!   returned nothing misses every such write). This is "a value older than the latest
//!   acknowledged write" made exact for siblings and for writes that overlap the read (an
//!   overlapping write may or may not be seen; either is allowed). Staleness in *versions* is
//!   the number of writes missed; in *time*, how long before `r` the oldest missed write had
//!   been acknowledged.
//! - **Lost write**: an acknowledged write that the store no longer holds at the end of the
//!   run. With a replicated log ([`Survival::Present`]) it is in no replica's log. With
//!   leaderless replicas ([`Survival::Resolved`]) no value left on any replica accounts for it:
//!   under version vectors a value accounts for `w` when it is `w` or its vector dominates
//!   `w`'s (it was written knowing `w`); under last-writer-wins when it is `w` or a write that
//!   `w` precedes in real time (a later write legitimately replaced it).
//! - **Read-your-writes violation**: a stale read that missed a write of its own session (the
//!   client, or the user of a read-modify-write client, that sent it).
//! - **Monotonic-read violation**: a read that returned only values preceding a value an
//!   earlier read of the same key in the same session had returned (the earlier read had
//!   ended before this one began): the session saw the key go back in time.
//! - **Silently overwritten** (last-writer-wins only): an acknowledged write that a replica
//!   discarded in favour of one that did *not* follow it in real time: a concurrent write, or
//!   an earlier one whose writer's clock read later. Counted once per write.
//!
//! # The bound
//!
//! The world records at most a store's `history` operations (reads plus writes); later ones
//! are served but not recorded, and the report counts them as `not_checked`. A read of a key
//! whose writes were cut off is still checked against the writes that were recorded.

use sim_core::{SimDuration, SimTime};

/// An index into [`History::writes`].
pub type WriteId = u32;

/// One write as the observer saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteRec {
    pub key: u32,
    pub invoked: SimTime,
    /// When its coordinator acknowledged it; `None` if it failed or never answered.
    pub acked: Option<SimTime>,
    /// Its version vector (empty unless the store resolves with version vectors).
    pub vector: Vec<u32>,
    /// The session that sent it (`None`: a service's call, no session).
    pub session: Option<u32>,
}

/// One successful read: the values it returned (several with siblings, none for a key never
/// written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRec {
    pub key: u32,
    pub invoked: SimTime,
    /// When it answered.
    pub returned: SimTime,
    pub saw: Vec<WriteId>,
    pub session: Option<u32>,
}

/// How conflicting values are resolved, which decides what accounts for a write at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    LastWriterWins,
    VersionVectors,
}

/// What the store holds at the end of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Survival {
    /// Per write, whether some replica's log still holds it.
    Present(Vec<bool>),
    /// Every value (siblings included) left on any replica, and how they were resolved.
    Resolved { values: Vec<WriteId>, rule: Rule },
}

/// A store's history, bounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub writes: Vec<WriteRec>,
    pub reads: Vec<ReadRec>,
    /// Last-writer-wins discards: (the write discarded, the write kept), at any replica.
    pub discards: Vec<(WriteId, WriteId)>,
    pub survival: Survival,
}

/// A stale read, found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleRead {
    /// Its index in [`History::reads`].
    pub read: u32,
    pub at: SimTime,
    pub versions: u32,
    pub behind: SimDuration,
}

/// What the checker found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub stale: Vec<StaleRead>,
    /// Lost writes: their acknowledgement times, in write order.
    pub lost: Vec<SimTime>,
    /// Silently overwritten writes: their acknowledgement times.
    pub overwritten: Vec<SimTime>,
    /// Reads violating read-your-writes and monotonic reads: their invocation times.
    pub read_your_writes: Vec<SimTime>,
    pub monotonic: Vec<SimTime>,
}

fn precedes(w: &WriteRec, v: &WriteRec) -> bool {
    w.acked.is_some_and(|a| a < v.invoked)
}

fn dominates(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x >= y)
}

/// Checks a history; see the module's definitions.
pub fn check(h: &History) -> Found {
    let mut found = Found::default();
    // Per key, its acknowledged writes by acknowledgement time.
    let keys = h
        .writes
        .iter()
        .map(|w| w.key as usize + 1)
        .max()
        .unwrap_or(0);
    let mut by_key: Vec<Vec<WriteId>> = vec![Vec::new(); keys];
    for (id, w) in h.writes.iter().enumerate() {
        if w.acked.is_some() {
            by_key[w.key as usize].push(id as WriteId);
        }
    }
    for list in &mut by_key {
        list.sort_by_key(|&id| (h.writes[id as usize].acked, id));
    }
    for (index, r) in h.reads.iter().enumerate() {
        let Some(list) = by_key.get(r.key as usize) else {
            continue;
        };
        // The latest acknowledgement among the values seen: a write is missed only if it was
        // invoked after it (an unacknowledged value seen hides nothing: it may be the newest).
        let mut seen_ack = Some(SimTime::ZERO);
        let mut none_seen = true;
        for &f in &r.saw {
            none_seen = false;
            seen_ack = match (seen_ack, h.writes[f as usize].acked) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        let Some(seen_ack) = seen_ack else { continue };
        let end = list.partition_point(|&id| h.writes[id as usize].acked < Some(r.invoked));
        let (mut versions, mut oldest, mut own) = (0u32, None, false);
        for &id in list[..end].iter().rev() {
            let w = &h.writes[id as usize];
            let acked = w.acked.expect("acknowledged");
            if !none_seen && acked <= seen_ack {
                break; // every earlier one was invoked before the newest value seen was acked
            }
            if none_seen || w.invoked > seen_ack {
                versions += 1;
                oldest = Some(acked);
                own |= r.session.is_some() && w.session == r.session;
            }
        }
        if own {
            found.read_your_writes.push(r.invoked);
        }
        if let Some(oldest) = oldest {
            found.stale.push(StaleRead {
                read: index as u32,
                at: r.invoked,
                versions,
                behind: r.invoked - oldest,
            });
        }
    }
    match &h.survival {
        Survival::Present(present) => {
            for (id, w) in h.writes.iter().enumerate() {
                if let Some(acked) = w.acked
                    && !present.get(id).copied().unwrap_or(true)
                {
                    found.lost.push(acked);
                }
            }
        }
        Survival::Resolved { values, rule } => {
            let mut finals: Vec<Vec<WriteId>> = vec![Vec::new(); keys];
            for &v in values {
                finals[h.writes[v as usize].key as usize].push(v);
            }
            for (id, w) in h.writes.iter().enumerate() {
                let Some(acked) = w.acked else { continue };
                let kept = finals[w.key as usize].iter().any(|&f| {
                    let fv = &h.writes[f as usize];
                    f as usize == id
                        || match rule {
                            Rule::LastWriterWins => precedes(w, fv),
                            Rule::VersionVectors => dominates(&fv.vector, &w.vector),
                        }
                });
                if !kept {
                    found.lost.push(acked);
                }
            }
        }
    }
    monotonic(h, &mut found);
    let mut counted = vec![false; h.writes.len()];
    for &(loser, winner) in &h.discards {
        let (l, w) = (&h.writes[loser as usize], &h.writes[winner as usize]);
        if let Some(acked) = l.acked
            && !precedes(l, w)
            && !counted[loser as usize]
        {
            counted[loser as usize] = true;
            found.overwritten.push(acked);
        }
    }
    found
}

/// Per session and key, each read against the reads that ended before it began: it goes back
/// in time when every value it returned precedes some value one of those returned.
fn monotonic(h: &History, found: &mut Found) {
    let mut groups: std::collections::BTreeMap<(u32, u32), Vec<usize>> = Default::default();
    for (i, r) in h.reads.iter().enumerate() {
        if let Some(s) = r.session {
            groups.entry((s, r.key)).or_default().push(i);
        }
    }
    for reads in groups.values() {
        let mut by_start = reads.clone();
        by_start.sort_by_key(|&i| (h.reads[i].invoked, i));
        let mut by_end = reads.clone();
        by_end.sort_by_key(|&i| (h.reads[i].returned, i));
        // The latest invocation among the values returned by the reads ended so far.
        let (mut next, mut newest) = (0, None::<SimTime>);
        for &i in &by_start {
            let r = &h.reads[i];
            while next < by_end.len() && h.reads[by_end[next]].returned < r.invoked {
                for &f in &h.reads[by_end[next]].saw {
                    let t = h.writes[f as usize].invoked;
                    newest = Some(newest.map_or(t, |n| n.max(t)));
                }
                next += 1;
            }
            let Some(newest) = newest else { continue };
            // Every value this read returned was acknowledged before that value was invoked.
            let back = r
                .saw
                .iter()
                .all(|&f| h.writes[f as usize].acked.is_some_and(|a| a < newest));
            if back {
                found.monotonic.push(r.invoked);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    fn w(key: u32, invoked: u64, acked: Option<u64>) -> WriteRec {
        WriteRec {
            key,
            invoked: t(invoked),
            acked: acked.map(t),
            vector: Vec::new(),
            session: None,
        }
    }

    fn read(key: u32, invoked: u64, saw: &[WriteId]) -> ReadRec {
        ReadRec {
            key,
            invoked: t(invoked),
            returned: t(invoked + 1),
            saw: saw.to_vec(),
            session: None,
        }
    }

    fn history(writes: Vec<WriteRec>, reads: Vec<ReadRec>) -> History {
        let n = writes.len();
        History {
            writes,
            reads,
            discards: Vec::new(),
            survival: Survival::Present(vec![true; n]),
        }
    }

    #[test]
    fn a_read_of_the_latest_write_is_fresh_and_one_of_an_older_is_stale() {
        let h = history(
            vec![w(0, 0, Some(10)), w(0, 20, Some(30)), w(0, 40, Some(50))],
            vec![read(0, 60, &[2]), read(0, 60, &[1]), read(0, 60, &[0])],
        );
        let f = check(&h);
        assert_eq!(
            f.stale,
            vec![
                StaleRead {
                    read: 1,
                    at: t(60),
                    versions: 1,
                    behind: SimDuration::from_millis(10)
                },
                StaleRead {
                    read: 2,
                    at: t(60),
                    versions: 2,
                    behind: SimDuration::from_millis(30)
                },
            ]
        );
    }

    #[test]
    fn overlapping_writes_may_or_may_not_be_seen() {
        // Write 1 is acknowledged at 30 but was invoked at 5, before write 0 was acknowledged
        // at 10: the two overlap, so a read at 40 may return either.
        let h = history(
            vec![w(0, 0, Some(10)), w(0, 5, Some(30))],
            vec![read(0, 40, &[0]), read(0, 40, &[1]), read(0, 20, &[])],
        );
        let f = check(&h);
        // Only the empty read is stale: it missed write 0 (write 1 was not yet acknowledged).
        assert_eq!(f.stale.len(), 1);
        assert_eq!(f.stale[0].versions, 1);
    }

    #[test]
    fn writes_still_in_flight_and_unacknowledged_values_are_not_staleness() {
        let h = history(
            vec![w(0, 0, Some(10)), w(0, 15, None), w(0, 50, Some(70))],
            // At 60 write 2 is not acknowledged yet; the read returning the failed write 1
            // hides nothing, since it may be the newest.
            vec![read(0, 60, &[0]), read(0, 80, &[1])],
        );
        assert!(check(&h).stale.is_empty());
    }

    #[test]
    fn other_keys_do_not_matter() {
        let h = history(
            vec![w(0, 0, Some(10)), w(1, 20, Some(30))],
            vec![read(0, 40, &[0])],
        );
        assert!(check(&h).stale.is_empty());
    }

    #[test]
    fn a_write_missing_from_every_log_is_lost_only_if_it_was_acknowledged() {
        let mut h = history(
            vec![w(0, 0, Some(10)), w(0, 20, None), w(1, 0, Some(5))],
            vec![],
        );
        h.survival = Survival::Present(vec![false, false, true]);
        assert_eq!(check(&h).lost, vec![t(10)]);
    }

    #[test]
    fn last_writer_wins_keeps_a_later_write_but_loses_a_concurrent_or_misordered_one() {
        // Write 1 follows 0 in real time and legitimately replaced it. Write 2 came after 1 in
        // real time, but its writer's clock was behind: the replicas kept 1 and discarded 2.
        let mut h = history(
            vec![w(0, 0, Some(10)), w(0, 20, Some(30)), w(0, 40, Some(50))],
            vec![],
        );
        h.survival = Survival::Resolved {
            values: vec![1],
            rule: Rule::LastWriterWins,
        };
        h.discards = vec![(0, 1), (2, 1), (2, 1)];
        let f = check(&h);
        assert_eq!(f.lost, vec![t(50)]);
        // 0 was replaced by a write that followed it: not silently overwritten. 2 counted once.
        assert_eq!(f.overwritten, vec![t(50)]);
    }

    #[test]
    fn version_vectors_keep_siblings_and_dominated_versions_are_accounted_for() {
        let mut a = w(0, 0, Some(10));
        a.vector = vec![1, 0];
        let mut b = w(0, 5, Some(15));
        b.vector = vec![0, 1];
        let mut c = w(0, 30, Some(40));
        c.vector = vec![2, 1]; // written knowing both
        let mut d = w(1, 30, Some(40));
        d.vector = vec![0, 1];
        let mut h = history(vec![a, b, c, d], vec![read(0, 20, &[0, 1])]);
        h.survival = Survival::Resolved {
            values: vec![2],
            rule: Rule::VersionVectors,
        };
        let f = check(&h);
        assert!(f.stale.is_empty(), "siblings are both current");
        // Key 1's write is on no replica.
        assert_eq!(f.lost, vec![t(40)]);
    }

    #[test]
    fn a_session_that_misses_its_own_write_or_goes_back_in_time_is_counted() {
        let mut mine = w(0, 0, Some(10));
        mine.session = Some(1);
        let theirs = w(0, 20, Some(30));
        let mut a = read(0, 40, &[]); // misses both: stale, and its own write
        a.session = Some(1);
        let mut b = read(0, 40, &[]); // another session: stale only
        b.session = Some(2);
        let mut c = read(0, 50, &[1]); // session 3 sees write 1 ...
        c.session = Some(3);
        let mut d = read(0, 60, &[0]); // ... then write 0, which precedes it: back in time
        d.session = Some(3);
        let mut e = read(0, 50, &[0]); // session 4 reads 0 while a read seeing 1 overlaps it
        e.session = Some(4);
        e.returned = t(70);
        let mut f = read(0, 60, &[1]);
        f.session = Some(4);
        let h = history(vec![mine, theirs], vec![a, b, c, d, e, f]);
        let found = check(&h);
        assert_eq!(found.stale.len(), 4, "a, b, d and e");
        assert_eq!(found.read_your_writes, vec![t(40)]);
        assert_eq!(
            found.monotonic,
            vec![t(60)],
            "d only: e had not ended when f began"
        );
    }
}
