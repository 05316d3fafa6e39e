//! The running world: clients send requests over the network to services, services queue them
//! for a worker, do their local work, make their downstream calls in order and reply. Callers
//! wrap each call in their edge's policies.
//!
//! ```text
//!   client ──attempt──▶ [queue]──▶ worker: local work ──▶ call 1 ──▶ call 2 ──▶ reply
//!      ▲   (network)       │ full: rejected                 (each call is itself a logical
//!      └──────reply────────┘                                 call with attempts and policies)
//! ```
//!
//! A *call* is one logical call over an edge at its caller; each try is an *attempt*; an
//! attempt that reaches its callee is a *job* there. A caller that gives up on an attempt
//! (timeout, deadline, a hedge that lost) forgets it; the callee keeps working on it (wasted
//! work), and its reply, when it comes, is a late reply that changes nothing.
//!
//! The policies of an edge are layers in an [`Order`]: layers outside `Retry` act once per call,
//! layers inside act per attempt. A call or attempt walks its layers outermost first (`stage`),
//! and may stop at a bulkhead to wait for a permit; a freed permit resumes it where it stopped.
//!
//! A call stays in its slot until every job of it is gone, so a callee can always reach the
//! call's idempotency key and count the side effects its attempts execute.
//!
//! The rooms, in the order a request meets them:
//!
//! | module | what it owns |
//! |---|---|
//! | `wiring` | `World::new`: configuration to running state |
//! | `clients` | arrivals, closed-loop and read-modify-write users |
//! | `call` | the logical call: call-level layers, deadline, fallback, its end |
//! | `bulkhead` | permits and waiting lines of callers' bulkheads |
//! | `attempt` | one try: attempt-level layers, send, reply or timeout, retry and hedge |
//! | `edge` | per-caller edge state: replica choice, health checks, outlier sweeps |
//! | `plain`, `lean` | the fast paths of edges without policies and of those with only a timeout and retries |
//! | `transit` | what the network does to a message |
//! | `service` | a service's replicas and jobs, and the configuration it runs with |
//! | `admission` | a request at a replica: idempotency key, inbound protections, queue |
//! | `work` | a job's work and result, the worker freed, the reply sent back |
//! | `plain_service` | the short path of a service nothing beyond workers, queue and plan acts on |
//! | `plan` | call plans and the joins of parallel steps |
//! | `faults` | crashes, restarts and chaos of replicas and hosts |
//! | `finish` | the run's reports and the conservation check |
//! | `broker` | brokers' queues, publishes, consumer pollers, acks and redeliveries |
//! | `tracing` | the trace points for `replay` |
//! | `events`, `slab` | the event type; the slot vectors calls, attempts and jobs live in |

mod admission;
mod attempt;
mod autoscale;
mod broker;
mod bulkhead;
mod call;
mod call_edges;
mod changes;
mod clients;
mod custom;
mod edge;
mod events;
mod fault_reports;
mod faults;
mod fingerprint;
mod finish;
mod lean;
mod plain;
mod plain_service;
mod plan;
mod probes;
mod rollout;
mod saga;
mod serverless;
mod service;
mod slab;
mod store;
mod store_coord;
mod store_lead;
mod store_msgs;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lean;
#[cfg(test)]
mod tests_plain_edge;
#[cfg(test)]
mod tests_plain_service;
#[cfg(test)]
mod tests_store;
mod tracing;
mod transit;
mod twopc;
mod wiring;
mod work;

use std::collections::VecDeque;

use sim_core::{
    Distribution, Event, Limits, Model, RngStreams, RunOutcome, Scheduler, SimDuration, SimRng,
    SimTime, Simulation, TimerId, TraceSink,
};

use crate::clock::{ClockConfig, HostClock};
use crate::config::{
    Arrivals, CallConfig, CallPolicy, ClientConfig, ClientId, ColdStart, Execution, Fallback,
    Fault, Group, Health, Join, Layer, Retry, ServiceConfig, ServiceId, ServiceKind, Shed, Target,
    WorldConfig,
};
use crate::lb::{Balancer, HealthState};
use crate::metrics::{FailureCause, Gauges, Outcome, OutcomeStats};
use crate::network::{CutMode, Direction, Network, Partition, Place};
use crate::policy::backoff::backoff;
use crate::policy::breaker::{CircuitBreaker, Transition};
use crate::policy::budget::{AdaptiveThrottle, RetryBudget, RetryPermit};
use crate::policy::bulkhead::{Admission, BulkheadState};
use crate::policy::outlier::OutlierDetector;
use crate::policy::ratelimit::RateLimiter;
use crate::policy::shed::{Codel, ConcurrencyLimit, Limiter, Permit};
use crate::report::{
    BreakerReport, ClientReport, EdgeReport, EndpointReport, FaultReport, Outage, ReplicaReport,
    RunResult, ServiceReport,
};
use crate::topology::Topology;
use crate::trace::{NONE, RecordSink, TraceKind, TraceNames, TraceRecord};

use self::attempt::Attempt;
use self::broker::EdgeRole;
use self::bulkhead::{Enter, Waiter};
use self::call::{Call, Drawn, Key, LoneAttempt, Op, Owner};
use self::call_edges::CallEdges;
use self::clients::{ClientState, RequestKind};
use self::edge::{
    Edge, EdgeCold, OriginDraws, PerTryTimeout, RoleTag, layers, one_attempt_per_call,
};
pub use self::events::WorldEvent;
use self::faults::Unit;
use self::plain::Carried;
use self::service::{EndpointSpec, Job, LatencyFault, Replica, ServiceSpec, ServiceState};
pub use self::slab::{AttemptId, CallSerial, EdgeId};
use self::slab::{AttemptSlot, CallSlot, JobSlot, Slab};
use self::tracing::Tracer;
use self::transit::{LinkFault, Transit};

/// No attempt has id 0.
const NO_ATTEMPT: AttemptId = AttemptId::NONE;
/// No deadline.
const NEVER: SimTime = SimTime(u64::MAX);
/// Copies of one hedged call in flight at once.
const MAX_LIVE: usize = crate::config::Hedge::MAX_ATTEMPTS as usize;

/// Options of one run that are not part of the world.
#[derive(Default)]
pub struct RunOptions {
    /// Receives the domain trace: every step of every logical request (see [`crate::trace`]).
    /// Without it, a run pays one branch per event and runs handlers without trace points.
    pub trace: Option<Box<dyn RecordSink>>,
    /// Receives every event the engine processes.
    pub event_trace: Option<Box<dyn TraceSink<WorldEvent>>>,
    /// Asked every [`sim_core::POLL_EVERY`] events whether to stop (the binary's `--max-wall`);
    /// a run it stops ends with [`sim_core::StopReason::Interrupted`] and a partial report.
    pub interrupt: Option<sim_core::Interrupt>,
}

/// A world ready to run: configuration plus state.
pub struct World {
    faults: Vec<FaultReport>,
    window: SimDuration,
    name: String,
    seed: u64,
    duration: SimDuration,
    max_events: u64,
    memory_limit_bytes: u64,
    specs: Vec<ServiceSpec>,
    arrivals: Vec<Arrivals>,
    services: Vec<ServiceState>,
    clients: Vec<ClientState>,
    edges: Vec<Edge>,
    edge_reports: Vec<EdgeReport>,
    jobs: Slab<JobSlot, Job>,
    calls: Slab<CallSlot, Call>,
    attempts: Slab<AttemptSlot, Attempt>,
    next_attempt: u64,
    next_serial: u64,
    /// Hosts: their network, how many host-level crashes hold each down, their clocks (empty
    /// when every clock is ideal), and the replicas on each.
    net: Network,
    host_down: Vec<u32>,
    host_zone: Vec<usize>,
    zone_region: Vec<usize>,
    clocks: Vec<HostClock>,
    host_replicas: Vec<Vec<(u32, u32)>>,
    /// The faults as configured (crash and chaos events refer to them), and per chaos fault
    /// its replicas with their streams.
    fault_specs: Vec<Fault>,
    chaos: Vec<Vec<(Unit, SimRng)>>,
    /// Per chaos fault with limited crews: crews free, and the failed units waiting for one.
    crews: Vec<Option<(u32, VecDeque<u32>)>>,
    /// The one latency of a network without partitions, loss, link overrides or differences
    /// between zones and regions.
    uniform_latency: Option<Distribution>,
    /// Latency faults on links.
    link_faults: Vec<LinkFault>,
    /// Scratch space for load balancing and for the calls of a plan step.
    eligible: Vec<bool>,
    made: Vec<EdgeId>,
    /// Emptied lists of a parallel step's calls (`Job::children`), kept with their capacity so
    /// the next parallel step takes one instead of allocating.
    spare_children: Vec<Vec<(CallSlot, CallSerial)>>,
    /// Bulkhead waiters handed a permit, to carry on at the next `ResumeWaiters` event.
    resumes: Vec<Waiter>,
    /// Retries without backoff made inline in the current event's handler (see
    /// `INLINE_RETRIES_PER_EVENT`).
    inline_retries: u32,
    /// Whether any job may have been working for a caller that gave up (see
    /// [`World::awaited`]): until then every job is awaited, and no chain is walked.
    chains_broken: bool,
    tracer: Option<Box<Tracer>>,
    /// Mid-run changes (`changes.rs`); empty for most scenarios.
    changes: Vec<crate::ops::Change>,
    /// Autoscalers (`autoscale.rs`), and per service which replicas callers may send to
    /// (empty: all; only autoscaled services keep replicas out of rotation).
    scalers: Vec<autoscale::Scaler>,
    rotation: Vec<Vec<bool>>,
    /// Probes (`probes.rs`), and per service which replicas hang (with the fault) and which
    /// failed their readiness probes (empty for services that cannot).
    probers: Vec<probes::Prober>,
    hung: Vec<Vec<Option<u32>>>,
    unready: Vec<Vec<bool>>,
    /// Rollouts of new versions (`rollout.rs`); empty for most scenarios.
    deploys: Vec<rollout::Deploy>,
    /// Replicated stores (empty unless the scenario has some).
    stores: Vec<store::StoreState>,
    /// Queues and consumer pollers (none without a broker).
    broker: Option<Box<self::broker::BrokerState>>,
    /// Custom behaviours (`custom.rs`); none unless the library registered some.
    custom: Option<Box<custom::Custom>>,
    /// Orchestrated sagas (`saga.rs`); none without sagas.
    sagas: Option<Box<saga::Sagas>>,
    /// Serverless functions (`serverless.rs`); none without them.
    functions: Option<Box<serverless::Functions>>,
    /// Two-phase commits (`twopc.rs`); none without 2PC.
    twopc: Option<Box<twopc::TwoPhase>>,
    /// Replicas restarted during the current event whose logs (2PC's, a saga log) are read
    /// after it; only filled when the scenario has such logs.
    restarted: Vec<(u32, u32)>,
}

impl World {
    /// Runs the world to its end time or event limit.
    pub fn run(mut self, options: RunOptions) -> RunResult {
        let mut sim = Simulation::new(Limits {
            end: SimTime::ZERO + self.duration,
            max_events: self.max_events,
        });
        sim.set_memory_limit(self.memory_limit_bytes);
        if let Some(trace) = options.event_trace {
            sim.set_trace(trace);
        }
        if let Some(interrupt) = options.interrupt {
            sim.set_interrupt(interrupt);
        }
        if let Some(sink) = options.trace {
            self.tracer = Some(Box::new(self.new_tracer(sink)));
        }
        self.schedule_first_events(sim.scheduler());
        let outcome = sim.run(&mut self);
        if self.tracer.is_some() && outcome.stop.is_complete() {
            // The windows that open or close after the last event, before the end.
            self.trace_fault_windows(SimTime::ZERO + self.duration, true);
        }
        self.finish(outcome)
    }

    /// What a traced run needs beyond the world: request ids, worker slots, fault windows.
    fn new_tracer(&self, sink: Box<dyn RecordSink>) -> Tracer {
        Tracer {
            sink,
            next_request: 1,
            attempts: Vec::new(),
            call_requests: Vec::new(),
            job_workers: Vec::new(),
            free_workers: self
                .services
                .iter()
                .map(|s| (0..s.report.workers).rev().collect())
                .collect(),
            fault_windows: self.fault_windows(),
            windows_recorded: 0,
        }
    }

    /// The first arrivals and users, the scripted crashes and chaos processes, the health
    /// probes and outlier sweeps.
    fn schedule_first_events(&mut self, s: &mut Scheduler<WorldEvent>) {
        for client in 0..self.clients.len() as u32 {
            let first = match self.arrivals[client as usize] {
                // The first Poisson arrival is one inter-arrival time after 0, like every other.
                Arrivals::Poisson { .. } => {
                    self.schedule_arrival(s, client);
                    continue;
                }
                Arrivals::Constant { .. } => SimDuration::ZERO,
                Arrivals::ReadModifyWrite { users } => {
                    self.clients[client as usize].report.stats.requests += u64::from(users);
                    for user in 0..users {
                        s.schedule_in(SimDuration::ZERO, WorldEvent::UserStart { client, user });
                    }
                    continue;
                }
                Arrivals::ClosedLoop { users, .. } => {
                    // Each user thinks first, so that they do not all start at once.
                    for user in 0..users {
                        let think = self.think_time(client);
                        s.schedule_in(think, WorldEvent::UserStart { client, user });
                    }
                    continue;
                }
            };
            s.schedule_in(first, WorldEvent::ClientArrival { client });
        }
        for (fault, spec) in self.fault_specs.clone().iter().enumerate() {
            let fault = fault as u32;
            match spec {
                Fault::Crash { at, .. } => s.schedule_at(*at, WorldEvent::Crash { fault }),
                Fault::Chaos { .. } => {
                    for unit in 0..self.chaos[fault as usize].len() as u32 {
                        let first = self.chaos_draw(fault, unit, false);
                        s.schedule_in(first, WorldEvent::ChaosFail { fault, unit });
                    }
                }
                _ => {}
            }
        }
        self.schedule_changes(s);
        self.schedule_autoscalers(s);
        self.schedule_probes(s);
        self.schedule_rollouts(s);
        for st in 0..self.stores.len() {
            self.store_start(st);
            let store = st as u32;
            s.schedule_in(
                self.stores[st].cfg.heartbeat,
                WorldEvent::StoreTick { store },
            );
        }
        self.broker_start(s);
        for edge in (0..self.edges.len() as u32).map(EdgeId) {
            let e = &self.edges[edge];
            if !e.cold.health.is_empty() {
                for replica in 0..e.cold.health.len() as u32 {
                    s.schedule_in(SimDuration::ZERO, WorldEvent::HealthProbe { edge, replica });
                }
            }
            if let Some(o) = &e.outlier {
                let first = self.local_delay(e.caller_host, SimTime::ZERO, o.config().interval);
                s.schedule_in(first, WorldEvent::OutlierSweep { edge });
            }
        }
    }

    /// The true time a timer of `delay` on `host`'s clock takes, set now (ideal clocks: the
    /// delay itself). Every timer the world sets is a duration timer measured by the host's
    /// clock rate; clock steps do not move it (see [`crate::clock`]).
    #[inline]
    pub(super) fn local_delay(&self, host: u32, now: SimTime, delay: SimDuration) -> SimDuration {
        match self.clocks.get(host as usize) {
            None => delay,
            Some(clock) => clock.true_after(now, delay) - now,
        }
    }

    #[inline]
    pub(super) fn dispatch<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        event: WorldEvent,
    ) {
        if TRACE && self.fault_window_due(s.now()) {
            self.trace_fault_windows(s.now(), false);
        }
        match event {
            WorldEvent::ClientArrival { client } => self.on_client_arrival::<TRACE>(s, client),
            WorldEvent::ArrivalUndecided { client } => self.schedule_arrival(s, client),
            WorldEvent::Deliver { job } => self.on_deliver::<TRACE>(s, job),
            WorldEvent::WorkDone { job } => self.on_work_done::<TRACE>(s, job),
            WorldEvent::Reply {
                slot,
                edge,
                attempt,
                outcome,
            } => self.on_reply::<TRACE>(s, slot, edge, attempt, outcome),
            WorldEvent::Timeout { slot, attempt } => self.on_timeout::<TRACE>(s, slot, attempt),
            WorldEvent::RetryDue { call, serial } => self.on_retry_due::<TRACE>(s, call, serial),
            WorldEvent::HedgeDue { call, serial } => self.on_hedge_due::<TRACE>(s, call, serial),
            WorldEvent::Deadline { call, serial } => self.on_deadline::<TRACE>(s, call, serial),
            WorldEvent::AttemptWaitOver { slot, attempt } => {
                self.on_attempt_wait_over::<TRACE>(s, slot, attempt)
            }
            WorldEvent::CallWaitOver { call, serial } => {
                self.on_call_wait_over::<TRACE>(s, call, serial)
            }
            WorldEvent::UserStart { client, user } => self.on_user_start::<TRACE>(s, client, user),
            WorldEvent::Admitted { job } => self.admit::<TRACE>(s, job),
            WorldEvent::Crash { fault } => self.on_crash::<TRACE>(s, fault),
            WorldEvent::RestartTargets { fault } => self.on_restart_targets(s.now(), fault),
            WorldEvent::Restart { service, replica } => {
                self.restart_replica(s.now(), service, replica, None)
            }
            WorldEvent::ChaosFail { fault, unit } => self.on_chaos::<TRACE>(s, fault, unit, true),
            WorldEvent::ChaosRepair { fault, unit } => {
                self.on_chaos::<TRACE>(s, fault, unit, false)
            }
            WorldEvent::HealthProbe { edge, replica } => self.on_health_probe(s, edge, replica),
            WorldEvent::HealthResult { edge, replica, ok } => {
                self.on_health_result(s, edge, replica, ok)
            }
            WorldEvent::OutlierSweep { edge } => self.on_outlier_sweep(s, edge),
            WorldEvent::ResumeWaiters => self.resume_waiters::<TRACE>(s),
            WorldEvent::Change {
                change,
                action,
                replica,
            } => self.on_change(s.now(), change, action, replica),
            WorldEvent::Autoscale {
                scaler,
                replica,
                generation,
            } => self.on_autoscale(s, scaler, replica, generation),
            WorldEvent::Function {
                function,
                instance,
                generation,
            } => self.on_function::<TRACE>(s, function, instance, generation),
            WorldEvent::Probe {
                service,
                replica,
                what,
            } => self.on_probe::<TRACE>(s, service, replica, what),
            WorldEvent::RateLimited { job } => {
                self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::RateLimited))
            }
            WorldEvent::StoreMsg { store, msg } => {
                self.on_store_msg::<TRACE>(s, store as usize, msg)
            }
            WorldEvent::StoreTimeout { store, op, serial } => {
                self.on_store_timeout::<TRACE>(s, store as usize, op, serial)
            }
            WorldEvent::StoreTick { store } => self.on_store_tick(s, store as usize),
            WorldEvent::StorePromote { store, replica } => {
                self.on_store_promote(s.now(), store as usize, replica)
            }
            WorldEvent::PollSend { poller, generation } => self.on_poll_send(s, poller, generation),
            WorldEvent::PollArrive { poller, generation } => {
                self.on_poll_arrive(s, poller, generation)
            }
            WorldEvent::Receipts { poller, generation } => {
                self.on_receipts::<TRACE>(s, poller, generation)
            }
            WorldEvent::AckArrive {
                queue,
                message,
                receipt,
            } => self.on_ack_arrive(s, queue, message, receipt),
            WorldEvent::VisibilityTimeout {
                queue,
                message,
                receipt,
            } => self.on_visibility_timeout(s, queue, message, receipt),
            WorldEvent::Rollout {
                rollout,
                replica,
                generation,
            } => self.on_rollout(s, rollout, replica, generation),
            WorldEvent::FetchSend { member, generation } => self.fetch_send(s, member, generation),
            WorldEvent::FetchArrive { member, generation } => {
                self.on_fetch_arrive(s, member, generation)
            }
            WorldEvent::Records { member, generation } => {
                self.on_records::<TRACE>(s, member, generation)
            }
            WorldEvent::SessionExpired { member, generation } => {
                self.on_session_expired(s, member, generation)
            }
            WorldEvent::RebalanceOver { group, generation } => {
                self.on_rebalance_over(s, group, generation)
            }
            WorldEvent::WriteAcked { job, record } => self.on_write_acked::<TRACE>(s, job, record),
            WorldEvent::RelayPoll { relay, generation } => {
                self.on_relay_poll::<TRACE>(s, relay, generation)
            }
            WorldEvent::DecisionResend { txn, participant } => {
                self.on_decision_resend::<TRACE>(s, txn, participant)
            }
        }
        if self.broker.as_ref().is_some_and(|b| !b.woken.is_empty()) {
            self.broker_wake(s);
        }
        if !self.restarted.is_empty() {
            self.recover::<TRACE>(s);
        }
    }
}

impl Model for World {
    type Event = WorldEvent;

    #[inline]
    fn handle(&mut self, s: &mut Scheduler<WorldEvent>, event: WorldEvent) {
        self.inline_retries = 0;
        // One branch per event picks the handlers with or without the trace points.
        if self.tracer.is_some() {
            self.dispatch::<true>(s, event);
        } else {
            self.dispatch::<false>(s, event);
        }
    }

    #[inline]
    fn fingerprint_word(&self, event: &WorldEvent) -> Option<u64> {
        self.domain_word(event)
    }

    /// What grows with the requests in flight: their slots and the scratch lists.
    fn footprint_bytes(&self) -> usize {
        self.calls.footprint_bytes()
            + self.attempts.footprint_bytes()
            + self.jobs.footprint_bytes()
            + self.resumes.capacity() * std::mem::size_of::<Waiter>()
            + self
                .stores
                .iter()
                .map(|s| s.footprint_bytes())
                .sum::<usize>()
            + self.broker.as_ref().map_or(0, |b| b.footprint_bytes())
            + self.sagas.as_ref().map_or(0, |s| s.footprint_bytes())
            + self.twopc.as_ref().map_or(0, |t| t.footprint_bytes())
    }
}
