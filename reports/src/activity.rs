//! What the resilience policies did in a run, counted the same way for both sides of a
//! compare: two scenarios with identical availability columns may differ only here (a breaker
//! that opened and refused calls, retries that were spent, requests shed), so the compare
//! reports show it side by side.

use models::RunResult;
use models::metrics::FailureCause;
use models::policy::breaker::BreakerState;

/// Policy activity, summed over the runs added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyActivity {
    /// Transitions of any breaker into open (from closed or half-open).
    pub breaker_opens: u64,
    /// Calls or attempts a breaker refused.
    pub breaker_refused: u64,
    pub retries: u64,
    /// Retries the retry budget refused.
    pub retries_refused: u64,
    pub hedges: u64,
    pub fallbacks: u64,
    /// Attempts failed as shed, rate limited or throttled, at services (load shedding, rate
    /// limiters) and at callers (client-side throttling).
    pub shed: u64,
    pub rate_limited: u64,
    pub throttled: u64,
}

impl PolicyActivity {
    pub fn add(&mut self, result: &RunResult) {
        for e in &result.edges {
            for b in &e.breakers {
                self.breaker_opens += b
                    .transitions
                    .iter()
                    .filter(|t| t.to == BreakerState::Open)
                    .count() as u64;
                self.breaker_refused += b.not_permitted;
            }
            self.retries += e.retries;
            self.retries_refused += e.retries_refused;
            self.hedges += e.hedges;
            self.fallbacks += e.fallbacks;
            self.throttled += e.stats.failed_by(FailureCause::Throttled);
        }
        for s in &result.services {
            self.shed += s.stats.failed_by(FailureCause::Shed);
            self.rate_limited += s.stats.failed_by(FailureCause::RateLimited);
        }
    }

    /// `(what, count)` in a fixed order: the rows of the compare reports' activity table.
    pub fn rows(&self) -> [(&'static str, u64); 9] {
        [
            ("breaker opens", self.breaker_opens),
            ("calls a breaker refused", self.breaker_refused),
            ("retries", self.retries),
            ("retries the budget refused", self.retries_refused),
            ("hedged copies", self.hedges),
            ("fallback answers", self.fallbacks),
            ("shed at services", self.shed),
            ("rate limited at services", self.rate_limited),
            ("throttled at callers", self.throttled),
        ]
    }
}

/// The rows where A or B did anything: `(what, A, B)`.
pub fn diff(a: &PolicyActivity, b: &PolicyActivity) -> Vec<(&'static str, u64, u64)> {
    a.rows()
        .iter()
        .zip(b.rows())
        .filter(|(x, y)| x.1 + y.1 > 0)
        .map(|(x, y)| (x.0, x.1, y.1))
        .collect()
}
