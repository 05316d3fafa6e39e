//! An orchestrated saga as a pure state machine: ordered steps, each with an optional
//! compensation; a step that fails makes the orchestrator run the compensations of the steps
//! already done, in reverse order. A compensation that finally fails (after the caller's
//! retry policy gave up) leaves the saga *inconsistent*; the orchestrator still runs the
//! remaining compensations, as Garcia-Molina and Salem's backward recovery does ("Sagas",
//! SIGMOD 1987) and as the orchestration pattern in Richardson, *Microservices Patterns*
//! (2018), ch. 4, describes. A step that failed is not compensated: the orchestrator assumes
//! it had no effect (a step that timed out after its work was done leaves that work behind,
//! which is the pattern's known hazard, not something this machine hides).
//!
//! With a saga log ([`SagaConfig::log`]) the orchestrator's progress survives a crash of its
//! replica: at the restart the saga resumes where it stood ([`Saga::resume`]), forward
//! recovery for a saga still in its forward phase (the step in progress is sent again, its
//! effect unknown) and backward recovery for one compensating (the compensation in progress
//! is made again), as Garcia-Molina and Salem describe both and as Temporal, Eventuate Tram
//! and Camunda replay a workflow from their log.
//!
//! The machine schedules nothing and calls nothing: it says which call comes next
//! ([`Next`]), and its caller (the world) makes that call with the normal policies and tells
//! the machine how it ended. The world's side is `world/saga.rs`: a job at a saga's endpoint
//! walks this machine instead of its plan.

/// One step: the call it makes and its compensation, by index into the caller's call list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SagaStep {
    pub call: usize,
    pub compensate: Option<usize>,
    /// A non-idempotent step executed more than once (retries after a lost reply) is a
    /// duplicate; an idempotent one (an idempotency key) is not.
    pub idempotent: bool,
}

/// A saga as a run knows it: the orchestrating service's endpoint, whose call plan holds the
/// steps' calls and then the compensations' calls; [`SagaStep::call`] and
/// [`SagaStep::compensate`] index that plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaConfig {
    /// The orchestrator as the reports name it: `service` or `service/endpoint`.
    pub name: String,
    pub service: usize,
    pub endpoint: usize,
    pub steps: Vec<SagaStep>,
    /// Whether the orchestrating service keeps a durable saga log: its replicas resume the
    /// sagas they were running when they restart after a crash.
    pub log: bool,
}

/// What a run reports per saga.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaReport {
    pub name: String,
    pub stats: SagaStats,
    /// Compensation calls made, and those that failed for good (after their retries).
    pub compensations: u64,
    pub compensations_failed: u64,
    /// Sagas started and not ended when the run stopped (still running, or abandoned by an
    /// orchestrator that crashed: without a saga log nobody resumes them; with one, only
    /// those of a replica that has not restarted yet).
    pub in_flight: u64,
    /// With a saga log: the sagas resumed from it after their orchestrator's crash (each
    /// counted once, however many crashes it lived through); `None` without a log.
    pub recovered: Option<u64>,
}

/// What the orchestrator does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Make step `i`'s call.
    Call(usize),
    /// Make step `i`'s compensation.
    Compensate(usize),
    /// The saga is over.
    End(SagaEnd),
}

/// How a saga ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaEnd {
    /// Every step succeeded.
    Completed,
    /// A step failed and every compensation due succeeded.
    Compensated,
    /// A step failed and at least one compensation failed for good (or a done step had
    /// none): the effects of that step remain.
    Inconsistent,
}

/// One saga in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saga {
    /// The step being called, or (compensating) the step being compensated.
    at: usize,
    compensating: bool,
    left_behind: bool,
}

/// Counts over many sagas; `started = completed + compensated + inconsistent + in flight`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SagaStats {
    pub started: u64,
    pub completed: u64,
    pub compensated: u64,
    pub inconsistent: u64,
    /// Extra executions of non-idempotent steps.
    pub duplicates: u64,
}

impl SagaStats {
    pub fn ended(&mut self, end: SagaEnd) {
        match end {
            SagaEnd::Completed => self.completed += 1,
            SagaEnd::Compensated => self.compensated += 1,
            SagaEnd::Inconsistent => self.inconsistent += 1,
        }
    }

    pub fn in_flight(&self) -> u64 {
        self.started - self.completed - self.compensated - self.inconsistent
    }

    /// A step's call executed `times` at its callee (attempts that did the work).
    pub fn executed(&mut self, step: &SagaStep, times: u64) {
        if !step.idempotent {
            self.duplicates += times.saturating_sub(1);
        }
    }
}

impl Saga {
    /// Starts a saga of `steps` (at least one): its first call.
    pub fn start(steps: &[SagaStep], stats: &mut SagaStats) -> (Saga, Next) {
        assert!(!steps.is_empty(), "a saga has steps");
        stats.started += 1;
        let saga = Saga {
            at: 0,
            compensating: false,
            left_behind: false,
        };
        (saga, Next::Call(0))
    }

    /// The call in progress, to make again when the saga resumes from its log after its
    /// orchestrator's crash: the step being called (forward recovery: its effect is unknown,
    /// so it is sent again) or the compensation being made (backward recovery goes on).
    pub fn resume(&self) -> Next {
        if self.compensating {
            Next::Compensate(self.at)
        } else {
            Next::Call(self.at)
        }
    }

    /// Whether the current call is a compensation.
    pub fn compensating(&self) -> bool {
        self.compensating
    }

    /// The current call (a step or a compensation) ended, `ok` or failed for good.
    pub fn done(&mut self, steps: &[SagaStep], ok: bool, stats: &mut SagaStats) -> Next {
        let next = if !self.compensating {
            if ok {
                self.at += 1;
                if self.at == steps.len() {
                    Next::End(SagaEnd::Completed)
                } else {
                    Next::Call(self.at)
                }
            } else {
                self.compensating = true;
                self.back(steps)
            }
        } else {
            self.left_behind |= !ok;
            self.back(steps)
        };
        if let Next::End(end) = next {
            stats.ended(end);
        }
        next
    }

    /// The next compensation below `at`, skipping (and counting as left behind) done steps
    /// that have none.
    fn back(&mut self, steps: &[SagaStep]) -> Next {
        while self.at > 0 {
            self.at -= 1;
            match steps[self.at].compensate {
                Some(_) => return Next::Compensate(self.at),
                None => self.left_behind = true,
            }
        }
        Next::End(if self.left_behind {
            SagaEnd::Inconsistent
        } else {
            SagaEnd::Compensated
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(compensated: &[bool]) -> Vec<SagaStep> {
        compensated
            .iter()
            .enumerate()
            .map(|(i, &c)| SagaStep {
                call: i,
                compensate: c.then_some(100 + i),
                idempotent: false,
            })
            .collect()
    }

    /// Runs a saga with the outcomes given in order; returns the calls made and the end.
    fn drive(plan: &[SagaStep], outcomes: &[bool], stats: &mut SagaStats) -> (Vec<Next>, Next) {
        let (mut saga, mut next) = Saga::start(plan, stats);
        let mut calls = Vec::new();
        let mut outcomes = outcomes.iter();
        while !matches!(next, Next::End(_)) {
            calls.push(next);
            next = saga.done(plan, *outcomes.next().expect("an outcome per call"), stats);
        }
        assert!(outcomes.next().is_none(), "every outcome used");
        (calls, next)
    }

    #[test]
    fn every_step_succeeding_completes_in_order() {
        let mut st = SagaStats::default();
        let plan = steps(&[true, true, true]);
        let (calls, end) = drive(&plan, &[true, true, true], &mut st);
        assert_eq!(calls, vec![Next::Call(0), Next::Call(1), Next::Call(2)]);
        assert_eq!(end, Next::End(SagaEnd::Completed));
        assert_eq!((st.started, st.completed, st.in_flight()), (1, 1, 0));
    }

    #[test]
    fn a_failing_third_step_compensates_the_second_then_the_first() {
        // The checkout: reserve inventory, charge payment, ship; shipping fails.
        let mut st = SagaStats::default();
        let plan = steps(&[true, true, true]);
        let (calls, end) = drive(&plan, &[true, true, false, true, true], &mut st);
        assert_eq!(
            calls,
            vec![
                Next::Call(0),
                Next::Call(1),
                Next::Call(2),
                Next::Compensate(1),
                Next::Compensate(0)
            ]
        );
        assert_eq!(end, Next::End(SagaEnd::Compensated));
        assert_eq!(st.compensated, 1);
    }

    #[test]
    fn a_failing_first_step_has_nothing_to_compensate() {
        let mut st = SagaStats::default();
        let (calls, end) = drive(&steps(&[true, true]), &[false], &mut st);
        assert_eq!(calls, vec![Next::Call(0)]);
        assert_eq!(end, Next::End(SagaEnd::Compensated));
    }

    #[test]
    fn a_compensation_that_fails_for_good_leaves_it_inconsistent_but_the_rest_still_run() {
        let mut st = SagaStats::default();
        let plan = steps(&[true, true, true]);
        let (calls, end) = drive(&plan, &[true, true, false, false, true], &mut st);
        assert_eq!(calls[3..], [Next::Compensate(1), Next::Compensate(0)]);
        assert_eq!(end, Next::End(SagaEnd::Inconsistent));
        assert_eq!((st.inconsistent, st.compensated), (1, 0));
    }

    #[test]
    fn a_done_step_without_a_compensation_is_left_behind() {
        // Payment fails after inventory was reserved, and the plan has no release.
        let mut st = SagaStats::default();
        let (calls, end) = drive(&steps(&[false, true]), &[true, false], &mut st);
        assert_eq!(calls, vec![Next::Call(0), Next::Call(1)]);
        assert_eq!(end, Next::End(SagaEnd::Inconsistent));
    }

    #[test]
    fn the_books_balance_over_every_outcome_sequence() {
        // Every sequence of outcomes for a four-step plan with a missing compensation.
        let plan = steps(&[true, false, true, true]);
        let mut st = SagaStats::default();
        for bits in 0u32..1 << 8 {
            let (mut saga, mut next) = Saga::start(&plan, &mut st);
            let mut i = 0;
            while !matches!(next, Next::End(_)) {
                next = saga.done(&plan, bits >> i & 1 == 1, &mut st);
                i += 1;
                assert!(i <= 7, "at most four calls and three compensations");
            }
        }
        assert_eq!(st.started, 256);
        assert_eq!(st.in_flight(), 0);
        assert!(st.completed > 0 && st.compensated > 0 && st.inconsistent > 0);
    }

    #[test]
    fn a_resumed_saga_makes_again_the_call_in_progress_and_ends_as_usual() {
        let mut st = SagaStats::default();
        let plan = steps(&[true, true, true]);
        // Forward: crashed while calling step 1; step 1 is sent again, then step 2.
        let (mut saga, _) = Saga::start(&plan, &mut st);
        saga.done(&plan, true, &mut st);
        assert_eq!(saga.resume(), Next::Call(1));
        assert_eq!(saga.done(&plan, true, &mut st), Next::Call(2));
        assert_eq!(
            saga.done(&plan, true, &mut st),
            Next::End(SagaEnd::Completed)
        );
        // Backward: crashed while compensating step 1; that compensation is made again,
        // then step 0's.
        let (mut saga, _) = Saga::start(&plan, &mut st);
        saga.done(&plan, true, &mut st);
        saga.done(&plan, true, &mut st);
        assert_eq!(saga.done(&plan, false, &mut st), Next::Compensate(1));
        assert_eq!(saga.resume(), Next::Compensate(1));
        assert_eq!(
            saga.resume(),
            Next::Compensate(1),
            "resuming changes nothing"
        );
        assert_eq!(saga.done(&plan, true, &mut st), Next::Compensate(0));
        assert_eq!(
            saga.done(&plan, true, &mut st),
            Next::End(SagaEnd::Compensated)
        );
        assert_eq!((st.started, st.completed, st.compensated), (2, 1, 1));
    }

    #[test]
    fn only_non_idempotent_steps_count_duplicates() {
        let mut st = SagaStats::default();
        let mut plan = steps(&[true]);
        st.executed(&plan[0], 3);
        st.executed(&plan[0], 1);
        st.executed(&plan[0], 0);
        plan[0].idempotent = true;
        st.executed(&plan[0], 5);
        assert_eq!(st.duplicates, 2);
    }
}
