//! Two-phase commit (issue 14): a job at a 2PC endpoint coordinates a transaction with
//! `data::twopc`'s machines. Its prepares are ordinary calls of the endpoint's plan, one per
//! participant, made together; the step's `All` join is the vote (every call answered: all
//! yes; the first failure, a timeout included: a no). The decision is forced to the
//! coordinator's log (this struct, which outlives the replica's process) and sent to every
//! participant over the same edges, as calls owned by the transaction ([`Owner::Decision`]),
//! not by the job: the coordinator answers its caller once it has decided, and the decisions
//! travel on.
//!
//! A participant's job holds its resource's lock from its yes vote until the decision reaches
//! it. A prepare that finds the resource held by another transaction waits for it, holding its
//! worker, as a database session waits on a row lock: workers fill, the queue fills, and the
//! participant's callers see the latency and the rejections. A coordinator replica that
//! crashes before deciding leaves its participants uncertain, locks held, until it restarts
//! and, finding no decision in its log, presumes abort (Mohan et al., R*, 1986).
//!
//! `World::twopc` is `None` without 2PC: other runs take one `None` check per plan step.

use std::collections::BTreeMap;

use sim_core::SimRng;

use super::*;
use crate::data::twopc::{
    Acquire, Coordinator, Decision, LockTable, TwoPcConfig, TwoPcReport, TwoPcStats,
};

/// A 2PC message a call carries: the prepare of participant `k`, or the decision to it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Msg {
    Prepare(u16),
    Decide(u16),
}

/// A participant job waiting for a lock: its slot, the attempt it serves (a slot freed and
/// reused cannot be woken by mistake), its participant index in its transaction and since
/// when it waits.
type Waiter = (JobSlot, AttemptId, u16, SimTime);

/// One transaction, from its start until every decision call ended and no lock is left.
struct Txn {
    config: usize,
    /// The coordinating replica and its epoch at the start (a crash bumps the epoch).
    replica: u32,
    epoch: u32,
    coordinator: Coordinator,
    decision: Option<Decision>,
    resource: u32,
    /// Per participant: since when it holds the lock (voted yes), and whether the decision
    /// reached it.
    prepared: Vec<Option<SimTime>>,
    learned: Vec<bool>,
    /// The calls carrying its messages (forgotten with it).
    serials: Vec<CallSerial>,
    /// Decision calls not acknowledged yet (in flight, or waiting to be sent again).
    pending: u32,
    /// When the decision was logged.
    decided_at: SimTime,
    /// Per participant: a decision call to it failed for good (it was sent again), and a
    /// re-send waits for the coordinator's restart.
    resent: Vec<bool>,
    paused: Vec<bool>,
    /// When its coordinator crashed before deciding (known at the restart).
    crashed: Option<SimTime>,
    /// The longest a participant stayed uncertain because of that crash.
    blocked: Option<SimDuration>,
}

/// Every 2PC endpoint's configuration, the transactions alive, the participants' locks.
pub(super) struct TwoPhase {
    configs: Vec<TwoPcConfig>,
    by_endpoint: BTreeMap<(usize, usize), usize>,
    /// Per configuration, the stream its transactions' resources are drawn from.
    rngs: Vec<SimRng>,
    next_txn: u64,
    txns: BTreeMap<u64, Txn>,
    /// The coordinating job's attempt of each transaction still collecting votes.
    by_attempt: BTreeMap<AttemptId, u64>,
    msgs: BTreeMap<CallSerial, (u64, Msg)>,
    /// Per participant service, its locks (shared by every 2PC endpoint that uses it).
    locks: BTreeMap<usize, LockTable<Waiter>>,
    stats: Vec<TwoPcStats>,
    /// Per configuration: lock waits, their longest and their total.
    waits: Vec<(u64, SimDuration, SimDuration)>,
}

impl TwoPhase {
    /// The 2PC endpoints of `config`; `None` without any.
    pub(super) fn new(config: &WorldConfig, streams: &RngStreams) -> Option<Box<TwoPhase>> {
        if config.two_phase.is_empty() {
            return None;
        }
        let n = config.two_phase.len();
        Some(Box::new(TwoPhase {
            configs: config.two_phase.clone(),
            by_endpoint: (config.two_phase.iter().enumerate())
                .map(|(i, c)| ((c.service, c.endpoint), i))
                .collect(),
            rngs: (config.two_phase.iter())
                .map(|c| streams.stream(&["two_phase", &c.name, "resource"]))
                .collect(),
            next_txn: 0,
            txns: BTreeMap::new(),
            by_attempt: BTreeMap::new(),
            msgs: BTreeMap::new(),
            locks: BTreeMap::new(),
            stats: vec![TwoPcStats::default(); n],
            waits: vec![(0, SimDuration::ZERO, SimDuration::ZERO); n],
        }))
    }

    /// The bytes its transactions, messages and lock tables hold (for the memory estimate).
    pub(super) fn footprint_bytes(&self) -> usize {
        use std::mem::size_of;
        let txns: usize = (self.txns.values())
            .map(|t| {
                size_of::<(u64, Txn)>()
                    + t.prepared.capacity() * size_of::<Option<SimTime>>()
                    + t.learned.capacity()
                    + t.resent.capacity()
                    + t.paused.capacity()
                    + t.serials.capacity() * size_of::<CallSerial>()
            })
            .sum();
        txns + self.by_attempt.len() * size_of::<(AttemptId, u64)>()
            + self.msgs.len() * size_of::<(CallSerial, (u64, Msg))>()
            + (self.locks.values())
                .map(|l| l.footprint_bytes())
                .sum::<usize>()
    }

    /// Forgets a transaction once nothing of it is left anywhere.
    fn maybe_forget(&mut self, txn: u64) {
        let Some(t) = self.txns.get(&txn) else {
            return;
        };
        let locked = (t.prepared.iter().zip(&t.learned)).any(|(p, l)| p.is_some() && !l);
        // A prepare still waiting for its lock (its decision never reached it) keeps the
        // transaction too: it will hold the lock, uncertain, once granted.
        let cfg = &self.configs[t.config];
        let waiting = (cfg.participants.iter())
            .any(|p| self.locks.get(p).is_some_and(|l| l.waits(txn, t.resource)));
        if t.decision.is_none() || t.pending > 0 || locked || waiting {
            return;
        }
        let t = self.txns.remove(&txn).expect("present");
        if let Some(d) = t.blocked {
            self.stats[t.config].block(d);
        }
        for serial in t.serials {
            self.msgs.remove(&serial);
        }
    }
}

impl World {
    /// A job whose own work is done, at a 2PC endpoint or carrying a 2PC message: true when
    /// this room took it over (the coordinator's prepares were sent, or the participant's
    /// prepare waits for its lock or was refused).
    pub(super) fn twopc_job<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
    ) -> bool {
        let job = &self.jobs[job_id];
        if job.step != 0 {
            return false;
        }
        let serial = self.calls[job.call].serial;
        let key = (job.service.0 as usize, usize::from(job.endpoint));
        let tp = self.twopc.as_mut().expect("2PC runs");
        if let Some(&(txn, msg)) = tp.msgs.get(&serial) {
            return self.twopc_participant::<TRACE>(s, job_id, txn, msg);
        }
        match tp.by_endpoint.get(&key) {
            Some(&i) => {
                self.twopc_begin::<TRACE>(s, job_id, i);
                true
            }
            None => false,
        }
    }

    /// The coordinator starts a transaction: logs it and sends every participant its prepare.
    fn twopc_begin<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        i: usize,
    ) {
        let tp = self.twopc.as_mut().expect("2PC runs");
        let cfg = &tp.configs[i];
        let n = cfg.participants.len();
        let resource = if cfg.resources > 1 {
            tp.rngs[i].below_inclusive(u64::from(cfg.resources) - 1) as u32
        } else {
            0
        };
        let txn = tp.next_txn;
        tp.next_txn += 1;
        tp.stats[i].started += 1;
        let job = &mut self.jobs[job_id];
        tp.txns.insert(
            txn,
            Txn {
                config: i,
                replica: job.replica,
                epoch: job.epoch,
                coordinator: Coordinator::new(n as u32),
                decision: None,
                resource,
                prepared: vec![None; n],
                learned: vec![false; n],
                serials: Vec::new(),
                pending: 0,
                decided_at: SimTime::ZERO,
                resent: vec![false; n],
                paused: vec![false; n],
                crashed: None,
                blocked: None,
            },
        );
        tp.by_attempt.insert(job.attempt, txn);
        let (service, replica) = (job.service.0 as usize, job.replica as usize);
        let endpoint = usize::from(job.endpoint);
        // The prepare step: every participant's call at once, decided by `All`.
        job.next_call = n as u16;
        job.step += 1;
        job.step_calls = n as u16;
        job.step_ok = 0;
        job.step_failed = 0;
        job.step_join = Join::All;
        let step = job.step;
        let deadline = if self.specs[service].propagate_deadline {
            job.deadline
        } else {
            NEVER
        };
        if self.specs[service].execution == Execution::Async && job.holding_worker {
            self.release_worker::<TRACE>(s, job_id);
        }
        for k in 0..n {
            // A prepare that failed at once (an open breaker) decided the vote already.
            let j = &self.jobs[job_id];
            if j.attempt == NO_ATTEMPT || j.step != step {
                break;
            }
            let edge = self.services[service].replicas[replica].call_edges[endpoint][k];
            let child = self.start_call::<TRACE>(s, edge, Owner::Job(job_id), deadline, Op::Serve);
            let tp = self.twopc.as_mut().expect("2PC runs");
            tp.msgs.insert(child.1, (txn, Msg::Prepare(k as u16)));
            if let Some(t) = tp.txns.get_mut(&txn) {
                t.serials.push(child.1);
            }
            let j = &self.jobs[job_id];
            if j.attempt != NO_ATTEMPT && j.step == step {
                self.push_child(job_id, child);
            }
        }
    }

    /// The coordinator's prepare step was decided: true when the job coordinates a
    /// transaction (it then decides, sends the decision and answers its caller).
    pub(super) fn twopc_votes<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        all_yes: bool,
    ) -> bool {
        let attempt = self.jobs[job_id].attempt;
        let tp = self.twopc.as_mut().expect("2PC runs");
        let Some(txn) = tp.by_attempt.remove(&attempt) else {
            return false;
        };
        let t = tp
            .txns
            .get_mut(&txn)
            .expect("a transaction collecting votes");
        let n = t.prepared.len();
        let decision = if all_yes {
            (0..n).find_map(|_| t.coordinator.vote(true))
        } else {
            t.coordinator.vote(false)
        }
        .expect("the last vote decides");
        self.twopc_decide::<TRACE>(s, txn, decision);
        let outcome = match decision {
            Decision::Commit if self.jobs[job_id].degraded => Outcome::Degraded,
            Decision::Commit => Outcome::Ok,
            Decision::Abort => Outcome::Failed(FailureCause::Dependency),
        };
        self.reply::<TRACE>(s, job_id, outcome);
        true
    }

    /// The decision is logged; it goes to every participant from the coordinating replica.
    fn twopc_decide<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        txn: u64,
        decision: Decision,
    ) {
        let tp = self.twopc.as_mut().expect("2PC runs");
        let t = tp.txns.get_mut(&txn).expect("a transaction deciding");
        t.decision = Some(decision);
        t.decided_at = s.now();
        let n = t.prepared.len();
        // One more than the calls: a call that ends at once cannot forget the transaction
        // while the others are being sent.
        t.pending = n as u32 + 1;
        tp.stats[t.config].ended(decision);
        for k in 0..n {
            self.twopc_send_decision::<TRACE>(s, txn, k);
        }
        let tp = self.twopc.as_mut().expect("2PC runs");
        if let Some(t) = tp.txns.get_mut(&txn) {
            t.pending -= 1;
        }
        tp.maybe_forget(txn);
    }

    /// Sends the logged decision of `txn` to participant `k`, from the coordinating replica.
    fn twopc_send_decision<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        txn: u64,
        k: usize,
    ) {
        let tp = self.twopc.as_ref().expect("2PC runs");
        let t = &tp.txns[&txn];
        let (i, replica) = (t.config, t.replica as usize);
        let (service, endpoint) = (tp.configs[i].service, tp.configs[i].endpoint);
        let edge = self.services[service].replicas[replica].call_edges[endpoint][k];
        let owner = Owner::Decision {
            txn,
            participant: k as u16,
        };
        // Its message is known before it can arrive: delivery is an event of its own.
        let (_, serial) = self.start_call::<TRACE>(s, edge, owner, NEVER, Op::Serve);
        let tp = self.twopc.as_mut().expect("2PC runs");
        tp.msgs.insert(serial, (txn, Msg::Decide(k as u16)));
        if let Some(t) = tp.txns.get_mut(&txn) {
            t.serials.push(serial);
        }
    }

    /// A decision call to participant `k` ended: acknowledged, or failed for good (its
    /// retries spent, a partition, a crashed participant), and then sent again after the
    /// endpoint's `decision_retry`, as the coordinator re-sends its logged decision until every
    /// participant acknowledges it (Gray and Reuter, ch. 10).
    pub(super) fn twopc_decision_ended(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        txn: u64,
        k: u16,
        outcome: Outcome,
    ) {
        let now = s.now();
        let tp = self.twopc.as_mut().expect("2PC runs");
        let t = tp
            .txns
            .get_mut(&txn)
            .expect("a transaction awaits its acknowledgements");
        if outcome.is_answer() {
            t.pending -= 1;
            tp.maybe_forget(txn);
            return;
        }
        t.resent[usize::from(k)] = true;
        let (service, replica) = (tp.configs[t.config].service, t.replica as usize);
        let retry = tp.configs[t.config].decision_retry;
        let host = self.services[service].replicas[replica].host;
        let delay = self.local_delay(host, now, retry);
        let resend = WorldEvent::DecisionResend {
            txn,
            participant: k,
        };
        s.schedule_in(delay, resend);
    }

    /// A decision's re-send is due: sent, unless the coordinating replica is down (then its
    /// restart resumes it from the log).
    pub(super) fn on_decision_resend<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        txn: u64,
        k: u16,
    ) {
        let tp = self.twopc.as_mut().expect("2PC runs");
        let t = tp
            .txns
            .get_mut(&txn)
            .expect("a re-send keeps its transaction");
        let (service, replica) = (tp.configs[t.config].service, t.replica as usize);
        if self.services[service].replicas[replica].down > 0 {
            t.paused[usize::from(k)] = true;
            return;
        }
        tp.stats[t.config].decision_resends += 1;
        self.twopc_send_decision::<TRACE>(s, txn, usize::from(k));
    }

    /// A participant's job carrying message `msg` of `txn` finished its work.
    fn twopc_participant<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        txn: u64,
        msg: Msg,
    ) -> bool {
        let now = s.now();
        let attempt = self.jobs[job_id].attempt;
        let tp = self.twopc.as_mut().expect("2PC runs");
        match msg {
            Msg::Prepare(k) => {
                let k = usize::from(k);
                let Some(t) = tp.txns.get_mut(&txn) else {
                    // Its abort came and went first (a transaction is forgotten only once
                    // decided and every participant learned it): vote no.
                    self.reply::<TRACE>(s, job_id, Outcome::Failed(FailureCause::Error));
                    return true;
                };
                if t.learned[k] {
                    self.reply::<TRACE>(s, job_id, Outcome::Failed(FailureCause::Error));
                    return true;
                }
                let participant = tp.configs[t.config].participants[k];
                let waiter = (job_id, attempt, k as u16, now);
                let locks = tp.locks.entry(participant).or_default();
                match locks.acquire(txn, t.resource, now, waiter) {
                    Acquire::Granted => {
                        t.prepared[k].get_or_insert(now);
                        false
                    }
                    Acquire::Waiting => {
                        tp.waits[t.config].0 += 1;
                        true
                    }
                }
            }
            Msg::Decide(k) => {
                let k = usize::from(k);
                let Some(t) = tp.txns.get_mut(&txn) else {
                    return false;
                };
                if t.learned[k] {
                    return false;
                }
                t.learned[k] = true;
                let (participant, resource) = (tp.configs[t.config].participants[k], t.resource);
                let config = t.config;
                let since = t.prepared[k];
                // Uncertain since the vote, blocked from the crash or (decided, but the decision
                // did not get through) from the decision.
                let from = match t.crashed {
                    Some(crash) => Some(crash),
                    None => t.resent[k].then_some(t.decided_at),
                };
                if let (Some(from), Some(since)) = (from, since) {
                    let d = now - from.max(since);
                    t.blocked = Some(t.blocked.map_or(d, |b| b.max(d)));
                }
                let locks = tp.locks.entry(participant).or_default();
                let withdrawn = locks.withdraw(txn, resource);
                let next = locks.release(txn, resource, now).and_then(|(_, next)| next);
                for (job, attempt, _, asked) in withdrawn {
                    self.twopc_waited(config, now - asked);
                    // Its prepare waited; the abort arrived first: it votes no.
                    if self.jobs[job].attempt == attempt {
                        self.reply::<TRACE>(s, job, Outcome::Failed(FailureCause::Error));
                    }
                }
                if let Some((holder, (job, attempt, kk, _), waited)) = next {
                    let tp = self.twopc.as_mut().expect("2PC runs");
                    let h = tp.txns.get_mut(&holder).expect("a waiter's transaction");
                    h.prepared[usize::from(kk)].get_or_insert(now);
                    let config = h.config;
                    self.twopc_waited(config, waited);
                    if self.jobs[job].attempt == attempt {
                        // Its plan goes on: the lock is its, the vote yes.
                        self.next_downstream::<TRACE>(s, job);
                    }
                }
                self.twopc.as_mut().expect("2PC runs").maybe_forget(txn);
                false
            }
        }
    }

    /// A prepare of a transaction of `config` waited `waited` for its lock (granted or given
    /// up).
    fn twopc_waited(&mut self, config: usize, waited: SimDuration) {
        let w = &mut self.twopc.as_mut().expect("2PC runs").waits[config];
        w.1 = w.1.max(waited);
        w.2 += waited;
    }

    /// A coordinating replica that restarted finds its undecided transactions in the log
    /// without a decision: presumed abort, sent to every participant; and it resumes the
    /// re-sends of logged decisions that its crash paused.
    pub(super) fn twopc_recover<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        restarted: &[(u32, u32)],
    ) {
        for &(service, replica) in restarted {
            let inst = &self.services[service as usize].replicas[replica as usize];
            let (epoch, crashed) = (inst.epoch, inst.down_since);
            let tp = self.twopc.as_mut().expect("2PC runs");
            let undecided: Vec<u64> = (tp.txns.iter())
                .filter(|(_, t)| {
                    tp.configs[t.config].service == service as usize
                        && t.replica == replica
                        && t.epoch != epoch
                        && t.decision.is_none()
                })
                .map(|(&txn, _)| txn)
                .collect();
            for txn in undecided {
                let tp = self.twopc.as_mut().expect("2PC runs");
                let t = tp.txns.get_mut(&txn).expect("listed");
                t.crashed = Some(crashed);
                let decision = t.coordinator.recover();
                tp.by_attempt.retain(|_, &mut x| x != txn);
                self.twopc_decide::<TRACE>(s, txn, decision);
            }
            let tp = self.twopc.as_mut().expect("2PC runs");
            let paused: Vec<(u64, usize)> = (tp.txns.iter())
                .filter(|(_, t)| {
                    tp.configs[t.config].service == service as usize && t.replica == replica
                })
                .flat_map(|(&txn, t)| {
                    (t.paused.iter().enumerate())
                        .filter(|(_, p)| **p)
                        .map(move |(k, _)| (txn, k))
                })
                .collect();
            for (txn, k) in paused {
                let tp = self.twopc.as_mut().expect("2PC runs");
                let t = tp.txns.get_mut(&txn).expect("listed");
                t.paused[k] = false;
                tp.stats[t.config].decision_resends += 1;
                self.twopc_send_decision::<TRACE>(s, txn, k);
            }
        }
    }

    /// Each 2PC endpoint's counts at the end; empty without 2PC.
    pub(super) fn twopc_reports(&self) -> Vec<TwoPcReport> {
        let Some(tp) = &self.twopc else {
            return Vec::new();
        };
        let mut held = vec![0u64; tp.configs.len()];
        for locks in tp.locks.values() {
            for h in locks.holders() {
                held[tp.txns[&h].config] += 1;
            }
        }
        let reports: Vec<TwoPcReport> = (tp.configs.iter().enumerate())
            .map(|(i, cfg)| {
                let s = tp.stats[i];
                TwoPcReport {
                    name: cfg.name.clone(),
                    stats: s,
                    in_flight: s.in_flight(),
                    lock_waits: tp.waits[i].0,
                    lock_wait_max: tp.waits[i].1,
                    lock_wait_total: tp.waits[i].2,
                    locks_held: held[i],
                }
            })
            .collect();
        let undecided = tp.txns.values().filter(|t| t.decision.is_none()).count() as u64;
        let in_flight: u64 = reports.iter().map(|r| r.in_flight).sum();
        assert_eq!(
            undecided, in_flight,
            "every transaction started is decided or undecided"
        );
        reports
    }
}
