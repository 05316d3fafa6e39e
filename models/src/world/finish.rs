//! The end of a run: the reports assembled, and the conservation check.

use super::*;
use crate::metrics::coarsened_window;

impl World {
    /// Closes the books at the end of the run and turns the state into its reports.
    pub(super) fn finish(mut self, outcome: RunOutcome) -> RunResult {
        // Call statistics not recorded because they mirror the attempts' (edges share a report
        // only with edges of the same policy); clients mirror their calls' in turn.
        for e in &self.edges {
            if e.calls_mirror_attempts {
                let report = &mut self.edge_reports[e.report as usize];
                if report.calls.requests == 0 && report.stats.requests > 0 {
                    report.calls = report.stats.clone();
                }
            }
        }
        for s in &mut self.services {
            if let Some(report) = s.stats_mirror {
                s.report.stats = self.edge_reports[report as usize].stats.clone();
            }
        }
        for c in &mut self.clients {
            if c.mirrors_calls {
                let report = self.edges[c.edge].report as usize;
                c.report.stats = self.edge_reports[report].calls.clone();
            }
        }
        self.check_conservation();
        let end = outcome.now;
        // Work under way at the end counts up to the end, as the busy gauge does.
        let working: Vec<JobSlot> = self
            .jobs
            .slots()
            .filter(|(_, j)| j.holding_worker && j.work_started.is_some())
            .map(|(j, _)| j)
            .collect();
        for job in working {
            self.work_ended(job, end);
        }
        for s in &mut self.services {
            s.report.up_time_by_count[s.up_count as usize] += end - s.up_count_since;
            s.up_count_since = end;
            for inst in &mut s.replicas {
                if !inst.up() {
                    inst.cold.report.down += end - inst.down_since;
                    inst.down_since = end;
                }
            }
            s.report.replicas = s.replicas.iter().map(|i| i.cold.report.clone()).collect();
            if let Some(l) = s.replicas.first().and_then(|i| i.cold.limiter.as_ref()) {
                s.report.concurrency_limit = l.concurrency_limit().limit_log().to_vec();
                s.report.concurrency_limit_initial = l.concurrency_limit().initial_limit();
            }
        }
        for s in &mut self.services {
            s.report.stats.finish(end);
            for e in &mut s.report.endpoints {
                e.stats.finish(end);
            }
            s.report.gauges.finish(end);
            // A worker does its own work only while it is held.
            assert!(
                s.report.work_ns <= s.report.busy_ns(),
                "{}: more work than worker time held",
                s.report.name
            );
        }
        for c in &mut self.clients {
            c.report.stats.finish(end);
        }
        for r in &mut self.edge_reports {
            r.stats.finish(end);
            r.calls.finish(end);
        }
        let window = coarsened_window(self.window, end);
        debug_assert!(
            self.services
                .iter()
                .all(|s| s.report.stats.window() == window && s.report.gauges.window() == window),
            "every series coarsens alike"
        );
        // The edges of one call are the caller's replicas, in replica order.
        let mut replica_of_report = vec![0u32; self.edge_reports.len()];
        for e in &mut self.edges {
            let replica = replica_of_report[e.report as usize];
            replica_of_report[e.report as usize] += 1;
            if let Some(b) = &mut e.cold.breaker {
                b.advance(end);
                self.edge_reports[e.report as usize]
                    .breakers
                    .push(BreakerReport {
                        replica,
                        flavor: b.config().flavor.name(),
                        not_permitted: b.not_permitted(),
                        transitions: b.transitions().to_vec(),
                    });
            }
        }
        let ops = self.ops_report(end);
        // Releases join the faults after the scripted ones, so their indices do not move.
        self.faults.extend(
            ops.rollouts
                .iter()
                .filter_map(|r| rollout::rollout_fault(r, end)),
        );
        let stores = self.store_reports(end, coarsened_window(self.window, end));
        let (queues, topics, writes) = self.broker_finish(end);
        let sagas = self.saga_reports();
        let two_phase = self.twopc_reports();
        RunResult {
            ops,
            stores,
            sagas,
            two_phase,
            queues,
            topics,
            writes,
            scenario: self.name,
            seed: self.seed,
            duration: self.duration,
            max_events: self.max_events,
            outcome,
            services: self.services.into_iter().map(|s| s.report).collect(),
            clients: self.clients.into_iter().map(|c| c.report).collect(),
            edges: self.edge_reports,
            faults: self.faults,
            window: coarsened_window(self.window, end),
            window_configured: self.window,
        }
    }

    /// Every attempt sent is ok, failed or still in flight; every logical request likewise.
    pub(super) fn check_conservation(&self) {
        let attempts_in_flight: u64 = self
            .services
            .iter()
            .map(|s| s.report.stats.in_flight())
            .sum();
        // A plain edge's call keeps its one attempt, always sent, itself.
        let lone_live = self
            .calls
            .live()
            .filter(|c| c.lone.id != NO_ATTEMPT)
            .count() as u64;
        let sent_live = self.attempts.live().filter(|a| a.sent).count() as u64 + lone_live;
        assert_eq!(
            attempts_in_flight, sent_live,
            "attempts in flight do not match attempts awaiting a reply"
        );
        for s in self
            .services
            .iter()
            .filter(|s| !s.report.endpoints.is_empty())
        {
            let sum = |f: fn(&OutcomeStats) -> u64| -> u64 {
                s.report.endpoints.iter().map(|e| f(&e.stats)).sum()
            };
            let st = &s.report.stats;
            assert_eq!(
                [
                    sum(|e| e.requests),
                    sum(|e| e.ok),
                    sum(|e| e.failed()),
                    sum(|e| e.cancelled)
                ],
                [st.requests, st.ok, st.failed(), st.cancelled],
                "{}'s endpoints do not add up to the service",
                s.report.name
            );
        }
        let edge_in_flight: u64 = self.edge_reports.iter().map(|r| r.stats.in_flight()).sum();
        assert_eq!(
            edge_in_flight,
            self.attempts.live().count() as u64 + lone_live,
            "attempts not conserved on their edges"
        );
        for c in &self.clients {
            assert_eq!(
                c.report.failed_by_root_cause.iter().sum::<u64>(),
                c.report.stats.failed(),
                "every failed request of {} has one root cause",
                c.report.name
            );
        }
        let client_in_flight: u64 = self
            .clients
            .iter()
            .map(|c| c.report.stats.in_flight())
            .sum();
        let live_calls = || self.calls.live().filter(|c| !c.finished);
        let client_calls = live_calls()
            .filter(|c| matches!(c.owner, Owner::Client { .. }))
            .count() as u64;
        // Users' requests are in flight while a user waits for a call or a backoff.
        let users_active: u64 = self
            .clients
            .iter()
            .map(|c| c.report.stats.in_flight())
            .zip(&self.arrivals)
            .filter(|(_, a)| {
                matches!(
                    a,
                    Arrivals::ReadModifyWrite { .. } | Arrivals::ClosedLoop { .. }
                )
            })
            .map(|(n, _)| n)
            .sum();
        assert_eq!(
            client_in_flight,
            client_calls + users_active,
            "client requests not conserved"
        );
        let jobs_of_calls: u64 = self.calls.live().map(|c| u64::from(c.jobs)).sum();
        assert_eq!(
            jobs_of_calls,
            self.jobs.live().count() as u64,
            "jobs not conserved: the calls count other jobs than the slab holds"
        );
        let calls_in_flight: u64 = self.edge_reports.iter().map(|r| r.calls.in_flight()).sum();
        assert_eq!(
            calls_in_flight,
            live_calls().count() as u64,
            "calls not conserved"
        );
    }
}
