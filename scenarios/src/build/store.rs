//! Checks the `stores` section and builds each store, marking its service a store.

use models::config::{ServiceConfig, ServiceKind};
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
        });
    }
    out
}
