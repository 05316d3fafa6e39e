//! Call plans: a job walks its endpoint's plan step by step; a parallel step starts its calls
//! together and is decided by its join (`All`, `First`, `Quorum(k)`).

use super::*;

impl World {
    /// Starts the job's next step of its endpoint's call plan: one call, or a parallel group of
    /// calls (each optional call made with its probability); replies when the plan is done.
    pub(super) fn next_downstream<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
    ) {
        if self.orphan(job_id) {
            self.discard_job(job_id);
            return;
        }
        if self.twopc.is_some() && self.twopc_job::<TRACE>(s, job_id) {
            return;
        }
        if self.sagas.is_some() && self.saga_start::<TRACE>(s, job_id) {
            return;
        }
        loop {
            let job = &self.jobs[job_id];
            let (service, replica) = (job.service.0 as usize, job.replica as usize);
            let endpoint = usize::from(job.endpoint);
            let first = usize::from(job.next_call);
            let plan = &self.specs[service].endpoint(replica, endpoint).plan;
            let Some(&(_, group)) = plan.get(first) else {
                let outcome = if job.degraded {
                    Outcome::Degraded
                } else {
                    Outcome::Ok
                };
                self.reply::<TRACE>(s, job_id, outcome);
                return;
            };
            // The step: this call, or the run of calls in its group.
            let end = match group {
                None => first + 1,
                Some(g) => {
                    first
                        + plan[first..]
                            .iter()
                            .take_while(|(_, other)| other.is_some_and(|o| o.id == g.id))
                            .count()
                }
            };
            // A reused buffer: most steps are one call, and the hot path allocates nothing.
            let mut made = std::mem::take(&mut self.made);
            made.clear();
            // A custom behaviour chose the calls (`custom.rs`): none is drawn.
            let chosen = if self.custom.is_some() {
                self.custom_calls(job_id)
            } else {
                None
            };
            let state = &mut self.services[service];
            let edges = &state.replicas[replica].call_edges[endpoint];
            if group.is_some_and(|g| g.join == Join::OneOf) {
                // One draw picks the route: the weights' cumulative sums cut [0, total).
                let step = &plan[first..end];
                let total: f64 = step.iter().map(|&(w, _)| w).sum();
                let mut u = state.plan_rng.uniform() * total;
                let mut chosen = end - 1;
                for (i, &(w, _)) in step.iter().enumerate() {
                    if u < w {
                        chosen = first + i;
                        break;
                    }
                    u -= w;
                }
                made.push(edges[chosen]);
            } else {
                for (i, &(p, _)) in plan.iter().enumerate().take(end).skip(first) {
                    let make = match chosen {
                        Some(mask) => i < 64 && mask & (1 << i) != 0,
                        None => p >= 1.0 || state.plan_rng.chance(p),
                    };
                    if make {
                        made.push(edges[i]);
                    }
                }
            }
            let job = &mut self.jobs[job_id];
            job.next_call = end as u16;
            job.step += 1;
            job.step_calls = made.len() as u16;
            job.step_ok = 0;
            job.step_failed = 0;
            job.step_join = group.map_or(Join::All, |g| g.join);
            if made.is_empty() {
                // Every call of the step was optional and not made.
                self.made = made;
                continue;
            }
            let deadline = if self.specs[service].propagate_deadline {
                job.deadline
            } else {
                NEVER
            };
            if self.specs[service].execution == Execution::Async && job.holding_worker {
                self.release_worker::<TRACE>(s, job_id);
            }
            let step = self.jobs[job_id].step;
            let parallel = made.len() > 1;
            for &edge in &made {
                // A call of this step may have decided it already (a failure under All).
                let j = &self.jobs[job_id];
                if j.attempt == NO_ATTEMPT || j.step != step {
                    break;
                }
                if self.edges[edge].role_tag == RoleTag::Publish
                    && let EdgeRole::Publish(p) = self.edges[edge].cold.role
                    && p.write.is_some()
                {
                    // Writes first, publishes after (`broker/outbox.rs`): never in a parallel step.
                    self.write_step(s, job_id, edge, deadline);
                    continue;
                }
                let child =
                    self.start_call::<TRACE>(s, edge, Owner::Job(job_id), deadline, Op::Serve);
                if self.edges[edge].role_tag == RoleTag::Publish
                    && let EdgeRole::Publish(p) = self.edges[edge].cold.role
                    && !p.ack
                {
                    self.publish_detached::<TRACE>(s, job_id, child);
                    continue;
                }
                let j = &self.jobs[job_id];
                if parallel && j.attempt != NO_ATTEMPT && j.step == step {
                    self.push_child(job_id, child);
                }
            }
            self.made = made;
            return;
        }
    }

    /// Records a call of the job's parallel step, in a list from `spare_children` when the job
    /// has none yet: parallel steps are common (a fan-out per request), and the list's
    /// allocation and free cost more than the rest of the bookkeeping.
    pub(super) fn push_child(&mut self, job_id: JobSlot, child: (CallSlot, CallSerial)) {
        let children = &mut self.jobs[job_id].children;
        if children.capacity() == 0
            && let Some(spare) = self.spare_children.pop()
        {
            *children = spare;
        }
        children.push(child);
    }

    /// A call of the job's current step is over: decide the step when its join says so.
    pub(super) fn step_call_done<const TRACE: bool>(
        &mut self,
        s: &mut Scheduler<WorldEvent>,
        job_id: JobSlot,
        outcome: Outcome,
    ) {
        if !TRACE && self.specs[self.jobs[job_id].service.0 as usize].plain_plans {
            return self.plain_call_done(s, job_id, outcome);
        }
        if self.orphan(job_id) {
            self.discard_job(job_id);
            return;
        }
        let job = &mut self.jobs[job_id];
        match outcome {
            Outcome::Ok => job.step_ok += 1,
            Outcome::Degraded => {
                job.step_ok += 1;
                job.degraded = true;
            }
            Outcome::Failed(_) => job.step_failed += 1,
        }
        let (n, ok, failed) = (job.step_calls, job.step_ok, job.step_failed);
        let need = match job.step_join {
            Join::All => n,
            Join::First => 1.min(n),
            Join::Quorum(k) => k.min(n),
            // The one call made is the step.
            Join::OneOf => n,
        };
        let decided = if ok >= need {
            Some(true)
        } else if failed > n - need {
            Some(false)
        } else {
            None
        };
        let Some(success) = decided else {
            return;
        };
        job.step += 1;
        // The calls still running are for nobody now: abandon them.
        let mut children = std::mem::take(&mut job.children);
        for &(call, serial) in &children {
            let c = &self.calls[call];
            if c.serial == serial && !c.finished {
                self.cancel_call::<TRACE>(s, call);
            }
        }
        if children.capacity() > 0 {
            children.clear();
            self.spare_children.push(children);
        }
        if self.twopc.is_some() && self.twopc_votes::<TRACE>(s, job_id, success) {
            return;
        }
        if self.sagas.is_some() && self.saga_step_done::<TRACE>(s, job_id, success) {
            return;
        }
        if success {
            self.next_downstream::<TRACE>(s, job_id);
        } else {
            self.reply::<TRACE>(s, job_id, Outcome::Failed(FailureCause::Dependency));
        }
    }
}
