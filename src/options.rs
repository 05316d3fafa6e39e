//! How a scenario is read and how far a run may go: the knobs a tool around faultline needs
//! (the `faultline` binary's `--set`, `--max-events` and `--max-wall` are built on them).

use std::num::NonZeroU64;

/// How [`Scenario::from_ron_with`](crate::Scenario::from_ron_with) reads a scenario.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `(PATH, VALUE)` overrides, applied in order before the scenario is checked, as
    /// `--set PATH=VALUE` applies them: an override may repair what the text leaves invalid.
    pub sets: Vec<(String, String)>,
    /// Refuse services of kind `Custom(name)` with an error at their line, as the binary does:
    /// for a tool that has no behaviour to register for them.
    pub builtin_only: bool,
}

/// Bounds on one run beyond the scenario's own `limits`. A run no bound stops is byte for
/// byte the run without them; a run one stops ends early, [`Run::complete`](crate::Run::complete)
/// is false and its reports say they are partial.
#[derive(Default)]
pub struct RunOptions {
    pub(crate) max_events: Option<NonZeroU64>,
    pub(crate) stop_when: Option<Box<dyn FnMut() -> bool>>,
}

impl RunOptions {
    /// Stop after this many events, instead of the scenario's `limits.max_events`.
    pub fn max_events(mut self, events: NonZeroU64) -> Self {
        self.max_events = Some(events);
        self
    }

    /// Asks `stop` every few thousand events whether to stop now: a bound from outside
    /// simulated time, such as a wall-clock deadline in CI (the binary's `--max-wall`). The
    /// simulation itself never reads a clock; whatever `stop` reads decides only where a run
    /// ends, never what happens in it.
    pub fn stop_when(mut self, stop: impl FnMut() -> bool + 'static) -> Self {
        self.stop_when = Some(Box::new(stop));
        self
    }
}
