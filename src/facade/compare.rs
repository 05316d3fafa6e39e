//! Two scenarios over the same seeds, side by side: [`compare`], and the [`Side`]s a tool
//! that makes its own runs (the binary's `compare`) folds them into.

use std::ops::RangeInclusive;

use crate::{Run, Scenario};

/// Runs two scenarios over the same seeds and sets them side by side, as `faultline compare`.
pub fn compare(a: &Scenario, b: &Scenario, seeds: RangeInclusive<u64>) -> Comparison {
    let side = |s: &Scenario| {
        let mut side = Side::new(s.name(), s);
        for run in s.runs(seeds.clone()) {
            side.add(&run);
        }
        side
    };
    Comparison::of(side(a), side(b))
}

/// Two scenarios over the same seeds.
pub struct Comparison {
    inner: reports::compare::Comparison,
}

/// One side of a comparison: the runs of one scenario, folded one by one. Fold them in seed
/// order and the comparison does not depend on how (or on how many threads) they were made.
///
/// ```
/// use faultline::{Comparison, Scenario, Side};
///
/// let a = Scenario::from_file(faultline::library("checkout.ron"))?;
/// let b = a.set("services.payments.workers", "64")?;
/// let (mut a_side, mut b_side) = (Side::new(a.name(), &a), Side::new(b.name(), &b));
/// for seed in 1..=2 {
///     a_side.add(&a.run(seed));
///     b_side.add(&b.run(seed));
/// }
/// assert!(a_side.incomplete_note().is_none());
/// let both = Comparison::of(a_side, b_side);
/// assert_eq!(both.json(), faultline::compare(&a, &b, 1..=2).json());
/// # Ok::<(), faultline::Error>(())
/// ```
pub struct Side {
    inner: reports::compare::Aggregate,
}

impl Side {
    /// An empty side labelled `label` (the scenario's name, or what changed), cut in the
    /// scenario's windows.
    pub fn new(label: &str, scenario: &Scenario) -> Side {
        Side {
            inner: reports::compare::Aggregate::new(label, scenario.loaded.config.window),
        }
    }

    /// Folds one more run in.
    pub fn add(&mut self, run: &Run) {
        self.inner.add(&run.result, run.analysis());
    }

    /// Runs folded in so far.
    pub fn runs(&self) -> usize {
        self.inner.runs()
    }

    /// When runs stopped at a limit before their end: which seeds, and what to raise (the
    /// binary prints it as a warning).
    pub fn incomplete_note(&self) -> Option<String> {
        self.inner.incomplete_sentence()
    }
}

impl Comparison {
    /// Sets two sides side by side; deltas are `b` minus `a`.
    pub fn of(a: Side, b: Side) -> Comparison {
        Comparison {
            inner: reports::compare::Comparison {
                a: a.inner,
                b: b.inner,
            },
        }
    }

    /// The side-by-side text, as `faultline compare` prints it.
    pub fn text(&self) -> String {
        reports::compare::compare_text(&self.inner)
    }

    /// The comparison as JSON.
    pub fn json(&self) -> String {
        reports::compare::compare_json_string(&self.inner)
    }

    /// The comparison in Markdown.
    pub fn markdown(&self) -> String {
        reports::compare::compare_markdown(&self.inner)
    }

    /// The comparison as one self-contained HTML page.
    pub fn html(&self) -> String {
        reports::html::compare_html(&self.inner)
    }
}
