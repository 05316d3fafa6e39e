//! Checks the `stores` section and builds each store, marking its service a store.

use models::config::ServiceId;
use models::config::{ServiceConfig, ServiceKind};
use models::data::workload::{self as wl, Origin};
use models::data::{self as md, StoreConfig};
use sim_core::{Distribution, SimDuration};

use super::locate::quoted;
use super::{Checker, Known};
use crate::spec;

/// The most keys a store may have: every replica holds a slot per key.
pub(super) const MAX_KEYS: u32 = 1_000_000;
/// The most operations a store's history may record.
pub(super) const MAX_HISTORY: u32 = 2_000_000;
/// The most keys times replicas: each replica holds a slot per key.
pub(super) const MAX_SLOTS: u64 = 2_000_000;

/// A workload written on a call or a client, waiting for its store to be known.
pub(super) struct PendingWorkload {
    pub(super) origin: Origin,
    /// The service called.
    pub(super) to: ServiceId,
    pub(super) workload: spec::Workload,
    /// Where it is written: the anchors leading to `workload`, and its field path.
    pub(super) anchors: Vec<String>,
    pub(super) field: String,
}

pub(super) fn stores(
    c: &mut Checker,
    known: &Known,
    services: &mut [ServiceConfig],
) -> Vec<StoreConfig> {
    let mut out: Vec<StoreConfig> = Vec::new();
    for (i, st) in known.scenario.stores.iter().enumerate() {
        let field = format!("stores[{i}]");
        let q = quoted(&st.service);
        let anchors = ["stores", &q];
        let at = |f: &'static str| [&anchors[..], &[f]].concat();
        let Some(id) = known.service(c, &anchors, format!("{field}.service"), &st.service) else {
            continue;
        };
        let sid = id.0 as usize;
        let spec = known.spec(id);
        if spec.kind != spec::ServiceKind::Worker || !spec.calls.is_empty() {
            c.report(
                &anchors,
                format!("{field}.service"),
                format!(
                    "service \"{}\" cannot hold a store: a store's service is a plain `Worker` \
                     with no calls (its replicas are the store's)",
                    st.service
                ),
            );
            continue;
        }
        if out.iter().any(|s| s.service == sid) {
            c.report(
                &anchors,
                format!("{field}.service"),
                format!("service \"{}\" already holds a store", st.service),
            );
            continue;
        }
        let n = services.get(sid).map_or(0, |s| s.replicas.len()) as u32;
        if st.keys == 0 || st.keys > MAX_KEYS {
            c.report(
                &at("keys"),
                format!("{field}.keys"),
                format!("{} keys; expected 1 to {MAX_KEYS}", st.keys),
            );
        }
        if u64::from(st.keys) * u64::from(n) > MAX_SLOTS {
            c.report(
                &at("keys"),
                format!("{field}.keys"),
                format!(
                    "{} keys on {n} replicas is {} slots; at most {MAX_SLOTS} (keys times replicas)",
                    st.keys,
                    u64::from(st.keys) * u64::from(n)
                ),
            );
        }
        if !(0.0..=1.0).contains(&st.writes) {
            c.report(
                &at("writes"),
                format!("{field}.writes"),
                format!(
                    "{} is not a share; expected a number from 0 to 1",
                    st.writes
                ),
            );
        }
        let popularity = match st.popularity {
            spec::Popularity::Uniform => md::Popularity::Uniform,
            spec::Popularity::Zipf(s) => {
                if !(s.is_finite() && s > 0.0 && s <= 10.0) {
                    c.report(
                        &at("Zipf"),
                        format!("{field}.popularity"),
                        format!("Zipf({s}): expected an exponent above 0 and at most 10"),
                    );
                }
                md::Popularity::Zipf { s }
            }
        };
        let quorum = |c: &mut Checker, name: &'static str, v: u32| {
            if v == 0 || v > n {
                c.report(
                    &at(name),
                    format!("{field}.replication.{name}"),
                    format!(
                        "{name}: {v}; expected 1 to {n}, the replicas of service \"{}\"",
                        st.service
                    ),
                );
            }
        };
        let replication = match st.replication {
            spec::Replication::Async => md::Replication::Async,
            spec::Replication::Sync => md::Replication::Sync,
            spec::Replication::SemiSync { acks } => {
                quorum(c, "acks", acks);
                md::Replication::SemiSync { acks }
            }
            spec::Replication::Leaderless {
                r,
                w,
                read_repair,
                resolve,
            } => {
                quorum(c, "r", r);
                quorum(c, "w", w);
                md::Replication::Leaderless {
                    r,
                    w,
                    read_repair,
                    resolve: match resolve {
                        spec::Resolve::LastWriterWins => md::Resolve::LastWriterWins,
                        spec::Resolve::VersionVectors => md::Resolve::VersionVectors,
                    },
                }
            }
        };
        if replication.leaderless()
            && (st.lease.is_some() || st.read_from != spec::ReadFrom::Leader)
        {
            c.report(
                &anchors,
                format!("{field}.replication"),
                "a leaderless store has no leader: `lease` and `read_from` do not apply".into(),
            );
        }
        let sessions = st
            .session
            .map_or(md::Sessions::default(), |x| md::Sessions {
                read_your_writes: x.read_your_writes,
                monotonic_reads: x.monotonic_reads,
            });
        if sessions.any() && (replication.leaderless() || st.read_from != spec::ReadFrom::Any) {
            c.report(
                &at("session"),
                format!("{field}.session"),
                "session guarantees apply to a leader-follower store with `read_from: Any` \
                 (reads at the leader keep them already; leaderless sessions are not modelled)"
                    .into(),
            );
        }
        let positive =
            |c: &mut Checker, name: &'static str, d: Option<&crate::duration::Duration>, or| {
                let d = d.map_or(or, |d| d.0);
                c.duration_positive(&at(name), format!("{field}.{name}"), d);
                d
            };
        let timeout = positive(c, "timeout", st.timeout.as_ref(), SimDuration::SECOND);
        let heartbeat = positive(
            c,
            "heartbeat",
            st.heartbeat.as_ref(),
            SimDuration::from_millis(100),
        );
        let failover_after = positive(
            c,
            "failover_after",
            st.failover_after.as_ref(),
            SimDuration::SECOND,
        );
        let promotion_delay = st.promotion_delay.map_or(SimDuration::SECOND, |d| d.0);
        let lease = st.lease.as_ref().map(|l| {
            c.duration_positive(
                &at("lease"),
                format!("{field}.lease.duration"),
                l.duration.0,
            );
            md::Lease {
                duration: l.duration.0,
                fencing: l.fencing,
            }
        });
        let apply = match &st.apply {
            Some(d) => c.dist(&at("apply"), format!("{field}.apply"), d),
            None => Distribution::Constant(SimDuration::from_millis(1)),
        };
        let history = st.history.unwrap_or(StoreConfig::HISTORY);
        if history == 0 || history > MAX_HISTORY {
            c.report(
                &at("history"),
                format!("{field}.history"),
                format!("{history} operations; expected 1 to {MAX_HISTORY}"),
            );
        }
        if let Some(svc) = services.get_mut(sid) {
            svc.kind = ServiceKind::Store;
        }
        out.push(StoreConfig {
            service: sid,
            keys: st.keys.clamp(1, MAX_KEYS),
            popularity,
            writes: st.writes,
            replication,
            read_from: match st.read_from {
                spec::ReadFrom::Leader => md::ReadFrom::Leader,
                spec::ReadFrom::Any => md::ReadFrom::Any,
            },
            sessions,
            timeout,
            apply,
            heartbeat,
            failover_after,
            promotion_delay,
            lease,
            history,
            workloads: Vec::new(),
        });
    }
    for p in std::mem::take(&mut c.workloads) {
        let found = (known.scenario.stores.iter())
            .find(|st| known.services.get(st.service.as_str()) == Some(&p.to));
        let at: Vec<&str> = p.anchors.iter().map(String::as_str).collect();
        let Some(st) = found else {
            c.report(
                &at,
                p.field,
                format!(
                    "service \"{}\" is not a store: a workload belongs to a call or a client \
                     of a service in `stores`",
                    known.spec(p.to).name
                ),
            );
            continue;
        };
        let workload = workload(c, st, &at, &p);
        if let Some(store) = out.iter_mut().find(|s| s.service == p.to.0 as usize) {
            store.workloads.push(workload);
        }
    }
    out
}

/// A caller's workload checked against its store's key space; what it leaves out is the
/// store's.
fn workload(c: &mut Checker, st: &spec::Store, at: &[&str], p: &PendingWorkload) -> wl::Workload {
    let w = &p.workload;
    let field = &p.field;
    let with = |name: &'static str| [at, &[name]].concat();
    let writes = w.writes.unwrap_or(st.writes);
    if !(0.0..=1.0).contains(&writes) {
        c.report(
            &with("writes"),
            format!("{field}.writes"),
            format!("{writes} is not a share; expected a number from 0 to 1"),
        );
    }
    let popularity = match w.popularity.unwrap_or(st.popularity) {
        spec::Popularity::Uniform => md::Popularity::Uniform,
        spec::Popularity::Zipf(s) => {
            if !(s.is_finite() && s > 0.0 && s <= 10.0) {
                c.report(
                    &with("Zipf"),
                    format!("{field}.popularity"),
                    format!("Zipf({s}): expected an exponent above 0 and at most 10"),
                );
            }
            md::Popularity::Zipf { s }
        }
    };
    let space = st.keys;
    let keys = match &w.keys {
        None => wl::Keys::Range {
            from: 0,
            count: space.max(1),
        },
        Some(spec::Keys::Range { from, count }) => {
            let end = u64::from(*from) + u64::from(*count);
            if *count == 0 || end > u64::from(space) {
                c.report(
                    &with("Range"),
                    format!("{field}.keys"),
                    format!(
                        "keys {from} to {end} (exclusive) are not within store \"{}\"'s {space} \
                         keys (0 to {}); expected a count of at least 1 ending by {space}",
                        st.service,
                        space.saturating_sub(1)
                    ),
                );
            }
            wl::Keys::Range {
                from: (*from).min(space.saturating_sub(1)),
                count: (*count).clamp(1, space.saturating_sub(*from).max(1)),
            }
        }
        Some(spec::Keys::Set(list)) => {
            let mut seen = std::collections::BTreeSet::new();
            let outside: Vec<u32> = list.iter().copied().filter(|&k| k >= space).collect();
            let twice: Vec<u32> = list.iter().copied().filter(|&k| !seen.insert(k)).collect();
            if list.is_empty() {
                c.report(
                    &with("Set"),
                    format!("{field}.keys"),
                    "an empty set of keys; expected at least one".into(),
                );
            } else if let Some(k) = outside.first() {
                c.report(
                    &with("Set"),
                    format!("{field}.keys"),
                    format!(
                        "key {k} is not within store \"{}\"'s {space} keys; expected 0 to {}",
                        st.service,
                        space.saturating_sub(1)
                    ),
                );
            } else if let Some(k) = twice.first() {
                c.report(
                    &with("Set"),
                    format!("{field}.keys"),
                    format!("key {k} is listed twice; expected distinct keys"),
                );
            }
            wl::Keys::Set(if list.is_empty() {
                vec![0]
            } else {
                list.clone()
            })
        }
    };
    wl::Workload {
        origin: p.origin,
        keys,
        popularity,
        writes: writes.clamp(0.0, 1.0),
    }
}
