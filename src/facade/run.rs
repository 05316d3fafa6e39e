//! One run's figures and reports.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One run of a scenario with one seed: its figures, fingerprint and reports.
pub struct Run {
    pub(crate) result: models::RunResult,
    /// Made at the first figure or report that needs it (or by [`Run::analyse`]).
    pub(crate) analysis: OnceLock<reports::Analysis>,
}

/// How requests of one client or service ended over a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Requests started.
    pub requests: u64,
    /// Answered (degraded answers included).
    pub ok: u64,
    /// Failed, all causes.
    pub failed: u64,
    /// Failures by cause (`timeout`, `rejected`, `circuit_open`, ...), causes that occurred only.
    pub failed_by_cause: BTreeMap<String, u64>,
    /// ok / (ok + failed); 1 when nothing finished.
    pub availability: f64,
    /// Latency quantiles of the successful requests (zero when none succeeded).
    pub p50: std::time::Duration,
    /// The 99th percentile.
    pub p99: std::time::Duration,
    /// The 99.9th percentile.
    pub p999: std::time::Duration,
}

impl Figures {
    fn of(stats: &models::metrics::OutcomeStats) -> Figures {
        let quantile = |q: f64| std::time::Duration::from_nanos(stats.latency.quantile(q).0);
        Figures {
            requests: stats.requests,
            ok: stats.ok,
            failed: stats.failed(),
            failed_by_cause: models::metrics::FailureCause::ALL
                .into_iter()
                .filter(|&c| stats.failed_by(c) > 0)
                .map(|c| (c.as_str().to_owned(), stats.failed_by(c)))
                .collect(),
            availability: stats.availability(),
            p50: quantile(0.5),
            p99: quantile(0.99),
            p999: quantile(0.999),
        }
    }
}

impl Run {
    /// Analyses the run now (fault impact, cascades, recovery) rather than at the first report
    /// that needs it: a tool that times the simulation apart from the analysis, or attributes a
    /// crash to one or the other (the binary does), calls it.
    pub fn analyse(&self) -> &Self {
        self.analysis();
        self
    }

    pub(crate) fn analysis(&self) -> &reports::Analysis {
        self.analysis.get_or_init(|| reports::analyse(&self.result))
    }

    /// Why the run stopped: `end_time` or `queue_empty` for a complete run; `max_events`,
    /// `memory` or `interrupted` for one a limit stopped (the JSON report's `stop`).
    pub fn stop_reason(&self) -> &'static str {
        self.result.outcome.stop.as_str()
    }

    /// For a run a limit stopped: which limit, after how many events, at what simulated time,
    /// and what to raise, as the binary warns (`stopped at the event limit (1000 events) at
    /// ...`); `None` for a complete run.
    pub fn partial_note(&self) -> Option<String> {
        reports::partial_note(&self.result)
    }

    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.result.seed
    }

    /// The run's fingerprint, 16 hex digits, as `faultline replay` prints it.
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", self.result.outcome.fingerprint.value())
    }

    /// Events processed.
    pub fn events(&self) -> u64 {
        self.result.outcome.events
    }

    /// Whether the run reached the scenario's end (no limit stopped it).
    pub fn complete(&self) -> bool {
        reports::is_complete(&self.result)
    }

    /// A client's figures, end to end.
    pub fn client(&self, name: &str) -> Option<Figures> {
        let c = self.result.clients.iter().find(|c| c.name == name)?;
        Some(Figures::of(&c.stats))
    }

    /// A service's figures, as its callers saw it.
    pub fn service(&self, name: &str) -> Option<Figures> {
        let s = self.result.services.iter().find(|s| s.name == name)?;
        Some(Figures::of(&s.stats))
    }

    /// The services that became unhealthy after a fault, in cascade order, per fault.
    pub fn cascades(&self) -> Vec<Vec<String>> {
        self.analysis()
            .faults
            .iter()
            .map(|f| f.cascade.iter().map(|s| s.name.clone()).collect())
            .collect()
    }

    /// The JSON report, as `faultline run --format json` prints it.
    pub fn json(&self) -> String {
        reports::json_string_with(&self.result, self.analysis())
    }

    /// The text report, without colour.
    pub fn text(&self) -> String {
        reports::text(&self.result, self.analysis(), false)
    }

    /// The text report with ANSI colours, for a terminal.
    pub fn text_in_colour(&self) -> String {
        reports::text(&self.result, self.analysis(), true)
    }

    /// The time series as CSV: one row per window per service, client and edge.
    pub fn csv(&self) -> String {
        reports::csv::csv(&self.result)
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        reports::markdown::markdown(&self.result, self.analysis())
    }

    /// The HTML report: one self-contained page.
    pub fn html(&self) -> String {
        reports::html::html(&self.result, self.analysis())
    }
}
