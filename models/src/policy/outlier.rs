//! Envoy outlier detection (passive health checking) as seen by one caller over the N hosts
//! (replicas) of a callee: consecutive-error ejection, the ejection-percent cap, growing and
//! decaying ejection times, and un-ejection at interval sweeps.
//!
//! Followed: `shared/reference/resilience-semantics.md` §1.5 and Envoy's
//! `source/common/upstream/outlier_detection_impl.cc`. Where Envoy versions differ, the version
//! in the reference is followed and the difference noted on the item. Not modelled: the
//! success-rate and failure-percentage passes of the interval timer, local-origin split mode,
//! ejection-time jitter (`max_ejection_time_jitter`, default 0) and un-ejection by an active
//! health check.

use sim_core::{SimDuration, SimTime};

/// `envoy.config.cluster.v3.OutlierDetection`, the consecutive-error part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutlierConfig {
    /// Consecutive 5xx (any error, gateway errors included) that trigger an ejection; default 5.
    /// Envoy compares `++count == consecutive_5xx`, so 0 never triggers.
    pub consecutive_5xx: u32,
    /// Consecutive gateway errors (502/503/504, and timeouts and connect failures mapped to
    /// them) that trigger an ejection; default 5. Enforced only if
    /// `enforcing_consecutive_gateway_failure` is 100.
    pub consecutive_gateway_failure: u32,
    /// Time between sweeps; default 10 s.
    pub interval: SimDuration,
    /// Ejection time per step of the host's ejection multiplier; default 30 s.
    pub base_ejection_time: SimDuration,
    /// Integer percent of hosts that may be ejected at once, 0..=100; default 10.
    pub max_ejection_percent: u32,
    /// Cap on a single ejection's length; default 300 s. Envoy refuses a value below
    /// `base_ejection_time`.
    pub max_ejection_time: SimDuration,
    /// Percent chance of enforcing a consecutive-5xx ejection; default 100. Only 0 (detect but
    /// never eject) and 100 are supported: anything between needs a random draw.
    pub enforcing_consecutive_5xx: u32,
    /// As above for consecutive gateway failures; default 0 (off), as in Envoy.
    pub enforcing_consecutive_gateway_failure: u32,
}

impl OutlierConfig {
    /// Envoy's defaults (`outlier_detection.proto`).
    pub fn defaults() -> Self {
        OutlierConfig {
            consecutive_5xx: 5,
            consecutive_gateway_failure: 5,
            interval: SimDuration::from_secs(10),
            base_ejection_time: SimDuration::from_secs(30),
            max_ejection_percent: 10,
            max_ejection_time: SimDuration::from_secs(300),
            enforcing_consecutive_5xx: 100,
            enforcing_consecutive_gateway_failure: 0,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.interval == SimDuration::ZERO {
            return Err("interval must be > 0".to_string());
        }
        if self.base_ejection_time == SimDuration::ZERO {
            return Err("base_ejection_time must be > 0".to_string());
        }
        if self.max_ejection_percent > 100 {
            return Err(format!(
                "max_ejection_percent must be in 0..=100, got {}",
                self.max_ejection_percent
            ));
        }
        if self.max_ejection_time < self.base_ejection_time {
            return Err(format!(
                "max_ejection_time must be >= base_ejection_time ({}), got {}",
                self.base_ejection_time, self.max_ejection_time
            ));
        }
        for (name, value) in [
            ("enforcing_consecutive_5xx", self.enforcing_consecutive_5xx),
            (
                "enforcing_consecutive_gateway_failure",
                self.enforcing_consecutive_gateway_failure,
            ),
        ] {
            if value != 0 && value != 100 {
                return Err(format!(
                    "{name} must be 0 or 100, got {value} (a partial percentage needs a random \
                     draw, which this model does not make)"
                ));
            }
        }
        Ok(())
    }
}

/// Why a host was ejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EjectionCause {
    Consecutive5xx,
    ConsecutiveGatewayFailure,
}

/// An entry of the ejection timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutlierEvent {
    /// The host left the load-balancing set. `times` counts its ejections so far (Envoy's
    /// `num_ejections`, this one included); `ejection_time` is how long it stays out at least
    /// (it returns at the first sweep after that).
    Ejected {
        times: u32,
        cause: EjectionCause,
        ejection_time: SimDuration,
    },
    /// The host came back at a sweep.
    Unejected,
}

/// Envoy's `DetectorHostMonitorImpl` for one host.
#[derive(Clone, Debug, Default)]
struct HostMonitor {
    consecutive_5xx: u32,
    consecutive_gateway_failure: u32,
    ejected: bool,
    num_ejections: u32,
    /// `ejectTimeBackoff`: the multiplier of `base_ejection_time`.
    backoff: u32,
    last_ejection: Option<SimTime>,
    last_unejection: Option<SimTime>,
}

/// Envoy outlier detection for one caller over `hosts` replicas.
///
/// * `on_result` counts consecutive errors per host; when a count reaches its threshold the host
///   is ejected at once (Envoy posts it to the main thread, one hop, not to the interval timer),
///   subject to `max_ejection_percent`, and that counter restarts. A success resets both counts.
/// * The ejection lasts `min(base_ejection_time * multiplier, max_ejection_time)`; each ejection
///   raises the multiplier by one (while `multiplier * base < max + base`).
/// * `sweep`, called every `interval`, un-ejects hosts whose ejection time has elapsed (so the
///   real length is rounded up to the sweep grid) and lowers by one the multiplier of each
///   non-ejected host whose last un-ejection is at least `interval` ago.
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    config: OutlierConfig,
    hosts: Vec<HostMonitor>,
    /// `ejections_active`.
    ejected_count: usize,
    /// `ejections_overflow`: ejections refused by `max_ejection_percent`.
    overflow: u64,
    /// Ejections detected but not enforced (`enforcing_*` = 0).
    unenforced: u64,
    events: Vec<(SimTime, usize, OutlierEvent)>,
    last_now: SimTime,
}

impl OutlierDetector {
    pub fn new(config: OutlierConfig, hosts: usize) -> Self {
        if let Err(e) = config.validate() {
            panic!("invalid outlier config: {e}");
        }
        assert!(hosts >= 1, "outlier detection needs at least one host");
        OutlierDetector {
            config,
            hosts: vec![HostMonitor::default(); hosts],
            ejected_count: 0,
            overflow: 0,
            unenforced: 0,
            events: Vec::new(),
            last_now: SimTime::ZERO,
        }
    }

    fn advance(&mut self, now: SimTime) {
        assert!(
            now >= self.last_now,
            "time went backwards: {now} < {}",
            self.last_now
        );
        self.last_now = now;
    }

    /// The outcome of one call to `host`, at its completion. `ok == false` is a 5xx (or a
    /// local failure Envoy maps to one); `gateway_failure` marks 502/503/504, timeouts and
    /// connect failures, and implies `!ok`.
    ///
    /// Results for a host that is already ejected keep counting but cannot eject it again and
    /// do not restart the count (Envoy's main thread returns early for an ejected host), so a
    /// count that passed its threshold fires again only after a success or an un-ejection
    /// resets it.
    pub fn on_result(&mut self, now: SimTime, host: usize, ok: bool, gateway_failure: bool) {
        assert!(
            !(ok && gateway_failure),
            "a gateway failure is not a success"
        );
        assert!(
            host < self.hosts.len(),
            "host {host} out of {}",
            self.hosts.len()
        );
        self.advance(now);

        if ok {
            let m = &mut self.hosts[host];
            m.consecutive_5xx = 0;
            m.consecutive_gateway_failure = 0;
            return;
        }
        // Envoy's order: the gateway counter first, then the 5xx counter.
        let m = &mut self.hosts[host];
        if gateway_failure {
            m.consecutive_gateway_failure = m.consecutive_gateway_failure.saturating_add(1);
            if m.consecutive_gateway_failure == self.config.consecutive_gateway_failure {
                self.on_consecutive_error(now, host, EjectionCause::ConsecutiveGatewayFailure);
            }
        } else {
            m.consecutive_gateway_failure = 0;
        }
        let m = &mut self.hosts[host];
        m.consecutive_5xx = m.consecutive_5xx.saturating_add(1);
        if m.consecutive_5xx == self.config.consecutive_5xx {
            self.on_consecutive_error(now, host, EjectionCause::Consecutive5xx);
        }
    }

    /// `onConsecutiveErrorWorker`: ignore an ejected host; otherwise try to eject, then restart
    /// the counter that fired whether or not the ejection happened.
    fn on_consecutive_error(&mut self, now: SimTime, host: usize, cause: EjectionCause) {
        if self.hosts[host].ejected {
            return;
        }
        self.eject_host(now, host, cause);
        let m = &mut self.hosts[host];
        match cause {
            EjectionCause::Consecutive5xx => m.consecutive_5xx = 0,
            EjectionCause::ConsecutiveGatewayFailure => m.consecutive_gateway_failure = 0,
        }
    }

    /// `ejectHost`, in the version the reference documents: the cap is checked *before* adding
    /// the host, `ejected * 100 / hosts < max_ejection_percent`. Envoy computes the left side
    /// as a double (older code) or an integer division; both agree with the exact integer test
    /// `ejected * 100 < max_ejection_percent * hosts` used here. So the first ejection is always
    /// allowed when `max_ejection_percent > 0` (10 % of 3 hosts still ejects one), and none is
    /// when it is 0.
    ///
    /// Current Envoy (commit 00c7146d) differs: it checks after adding,
    /// `(ejected + 1) * 100 / hosts <= max_ejection_percent`, and allows a first ejection beyond
    /// that only with `always_eject_one_host` (default false), so with the defaults and fewer
    /// than 10 hosts it ejects nothing.
    fn eject_host(&mut self, now: SimTime, host: usize, cause: EjectionCause) {
        let hosts = self.hosts.len() as u64;
        let allowed =
            (self.ejected_count as u64) * 100 < u64::from(self.config.max_ejection_percent) * hosts;
        if !allowed {
            self.overflow += 1;
            return;
        }
        let enforcing = match cause {
            EjectionCause::Consecutive5xx => self.config.enforcing_consecutive_5xx,
            EjectionCause::ConsecutiveGatewayFailure => {
                self.config.enforcing_consecutive_gateway_failure
            }
        };
        if enforcing != 100 {
            self.unenforced += 1;
            return;
        }
        let base = self.config.base_ejection_time.0;
        let max = self.config.max_ejection_time.0;
        let m = &mut self.hosts[host];
        debug_assert!(!m.ejected);
        m.ejected = true;
        m.num_ejections += 1;
        m.last_ejection = Some(now);
        // Envoy stops growing the multiplier once it is past the cap.
        if u64::from(m.backoff).saturating_mul(base) < max.saturating_add(base) {
            m.backoff += 1;
        }
        let event = OutlierEvent::Ejected {
            times: m.num_ejections,
            cause,
            ejection_time: ejection_time(&self.config, m.backoff),
        };
        self.ejected_count += 1;
        self.events.push((now, host, event));
        assert!(self.ejected_count <= self.hosts.len());
    }

    /// The interval timer (`onIntervalTimer`), to be called every `interval`:
    ///
    /// 1. each ejected host whose `min(base * multiplier, max_ejection_time)` has elapsed since
    ///    its ejection is un-ejected, and both its error counts restart;
    /// 2. then each host that is not ejected and was un-ejected at least `interval` ago has its
    ///    multiplier lowered by one (never below 0). A host un-ejected in this sweep keeps it.
    pub fn sweep(&mut self, now: SimTime) {
        self.advance(now);
        let interval = self.config.interval;
        for host in 0..self.hosts.len() {
            let m = &self.hosts[host];
            if !m.ejected {
                continue;
            }
            let since = m
                .last_ejection
                .expect("an ejected host has an ejection time");
            if ejection_time(&self.config, m.backoff) <= now.saturating_since(since) {
                let m = &mut self.hosts[host];
                m.ejected = false;
                m.consecutive_5xx = 0;
                m.consecutive_gateway_failure = 0;
                m.last_unejection = Some(now);
                self.ejected_count -= 1;
                self.events.push((now, host, OutlierEvent::Unejected));
            }
        }
        for m in self.hosts.iter_mut().filter(|m| !m.ejected) {
            if let Some(unejected) = m.last_unejection
                && now.saturating_since(unejected) >= interval
            {
                m.backoff = m.backoff.saturating_sub(1);
            }
        }
        debug_assert_eq!(
            self.ejected_count,
            self.hosts.iter().filter(|m| m.ejected).count()
        );
    }

    /// Whether `host` is out of the load-balancing set.
    pub fn is_ejected(&self, host: usize) -> bool {
        self.hosts[host].ejected
    }

    /// How many hosts are ejected now.
    pub fn ejected_count(&self) -> usize {
        self.ejected_count
    }

    pub fn hosts(&self) -> usize {
        self.hosts.len()
    }

    /// How many times `host` has been ejected in all.
    pub fn times_ejected(&self, host: usize) -> u32 {
        self.hosts[host].num_ejections
    }

    /// The host's current multiplier of `base_ejection_time` (Envoy's `ejectTimeBackoff`).
    pub fn ejection_multiplier(&self, host: usize) -> u32 {
        self.hosts[host].backoff
    }

    /// Ejections refused by `max_ejection_percent` (Envoy's `ejections_overflow`).
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    /// Ejections detected but not enforced because `enforcing_*` is 0.
    pub fn unenforced(&self) -> u64 {
        self.unenforced
    }

    /// Every ejection and un-ejection as `(time, host, event)`, oldest first.
    pub fn events(&self) -> &[(SimTime, usize, OutlierEvent)] {
        &self.events
    }

    pub fn config(&self) -> &OutlierConfig {
        &self.config
    }
}

/// `min(base_ejection_time * multiplier, max_ejection_time)`.
fn ejection_time(config: &OutlierConfig, multiplier: u32) -> SimDuration {
    let scaled = config
        .base_ejection_time
        .0
        .saturating_mul(u64::from(multiplier));
    SimDuration(scaled.min(config.max_ejection_time.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> SimTime {
        SimTime(SimDuration::from_secs(n).0)
    }

    /// `n` 5xx (not gateway) results for `host` at time `at`.
    fn fail(d: &mut OutlierDetector, at: SimTime, host: usize, n: u32) {
        for _ in 0..n {
            d.on_result(at, host, false, false);
        }
    }

    /// Sweeps every `interval` from `from` (exclusive) to `to` (inclusive), in seconds.
    fn sweep_until(d: &mut OutlierDetector, from: u64, to: u64) {
        let step = d.config().interval.0 / SimDuration::SECOND.0;
        let mut t = from + step;
        while t <= to {
            d.sweep(secs(t));
            t += step;
        }
    }

    fn ejected(times: u32, ejection_secs: u64) -> OutlierEvent {
        OutlierEvent::Ejected {
            times,
            cause: EjectionCause::Consecutive5xx,
            ejection_time: SimDuration::from_secs(ejection_secs),
        }
    }

    #[test]
    fn defaults_validate_and_validation_names_the_field() {
        let ok = OutlierConfig::defaults();
        assert!(ok.validate().is_ok());
        assert_eq!(ok.enforcing_consecutive_gateway_failure, 0);
        let cases: [(OutlierConfig, &str); 6] = [
            (
                OutlierConfig {
                    interval: SimDuration::ZERO,
                    ..ok
                },
                "interval",
            ),
            (
                OutlierConfig {
                    base_ejection_time: SimDuration::ZERO,
                    ..ok
                },
                "base_ejection_time",
            ),
            (
                OutlierConfig {
                    max_ejection_percent: 101,
                    ..ok
                },
                "max_ejection_percent",
            ),
            (
                OutlierConfig {
                    max_ejection_time: SimDuration::from_secs(10),
                    ..ok
                },
                "max_ejection_time",
            ),
            (
                OutlierConfig {
                    enforcing_consecutive_5xx: 50,
                    ..ok
                },
                "enforcing_consecutive_5xx",
            ),
            (
                OutlierConfig {
                    enforcing_consecutive_gateway_failure: 1,
                    ..ok
                },
                "enforcing_consecutive_gateway_failure",
            ),
        ];
        for (config, field) in cases {
            let err = config.validate().unwrap_err();
            assert!(err.starts_with(field), "{config:?}: {err}");
        }
    }

    #[test]
    fn five_consecutive_errors_eject_at_once() {
        let mut d = OutlierDetector::new(OutlierConfig::defaults(), 20);
        fail(&mut d, secs(1), 3, 4);
        assert!(!d.is_ejected(3));
        fail(&mut d, secs(2), 3, 1);
        assert!(d.is_ejected(3), "no wait for the interval");
        assert_eq!(d.ejected_count(), 1);
        assert_eq!(d.events(), &[(secs(2), 3, ejected(1, 30))]);
        assert!(!d.is_ejected(2));
    }

    #[test]
    fn a_success_in_between_resets_the_count() {
        let mut d = OutlierDetector::new(OutlierConfig::defaults(), 20);
        fail(&mut d, secs(1), 0, 4);
        d.on_result(secs(1), 0, true, false);
        fail(&mut d, secs(1), 0, 4);
        assert!(!d.is_ejected(0));
        fail(&mut d, secs(1), 0, 1);
        assert!(d.is_ejected(0));
    }

    #[test]
    fn gateway_failures_count_as_5xx_and_eject_on_their_own_only_when_enforced() {
        // Default: gateway-failure ejection is detected but not enforced; the 5xx count still
        // ejects on the fifth.
        let mut d = OutlierDetector::new(OutlierConfig::defaults(), 20);
        for _ in 0..5 {
            d.on_result(secs(1), 1, false, true);
        }
        assert!(d.is_ejected(1));
        assert_eq!(d.unenforced(), 1);
        assert!(matches!(
            d.events()[0].2,
            OutlierEvent::Ejected {
                cause: EjectionCause::Consecutive5xx,
                ..
            }
        ));

        // Enforced with a lower threshold, the gateway count ejects first.
        let config = OutlierConfig {
            consecutive_gateway_failure: 3,
            enforcing_consecutive_gateway_failure: 100,
            ..OutlierConfig::defaults()
        };
        let mut d = OutlierDetector::new(config, 20);
        // A plain 5xx in between resets the gateway count but not the 5xx count.
        d.on_result(secs(1), 1, false, true);
        d.on_result(secs(1), 1, false, false);
        d.on_result(secs(1), 1, false, true);
        d.on_result(secs(1), 1, false, true);
        assert!(!d.is_ejected(1));
        d.on_result(secs(1), 1, false, true);
        assert!(d.is_ejected(1));
        assert!(matches!(
            d.events()[0].2,
            OutlierEvent::Ejected {
                cause: EjectionCause::ConsecutiveGatewayFailure,
                ..
            }
        ));
    }

    #[test]
    fn max_ejection_percent_blocks_a_second_ejection_among_few_hosts() {
        // 10 % of 3 hosts: 0 * 100 / 3 = 0 < 10 lets the first through (the reference's
        // pre-check); 1 * 100 / 3 = 33 is not < 10.
        let mut d = OutlierDetector::new(OutlierConfig::defaults(), 3);
        fail(&mut d, secs(1), 0, 5);
        fail(&mut d, secs(1), 1, 5);
        assert!(d.is_ejected(0));
        assert!(!d.is_ejected(1));
        assert_eq!((d.ejected_count(), d.overflow()), (1, 1));
        // The refused host's count restarted: four more errors are not enough.
        fail(&mut d, secs(2), 1, 4);
        assert_eq!(d.overflow(), 1);

        // With 20 hosts: 0 and 5 % pass, 10 % does not -> at most 2 ejected.
        let mut d = OutlierDetector::new(OutlierConfig::defaults(), 20);
        for host in 0..4 {
            fail(&mut d, secs(1), host, 5);
        }
        assert_eq!((d.ejected_count(), d.overflow()), (2, 2));

        // 0 % ejects nothing.
        let config = OutlierConfig {
            max_ejection_percent: 0,
            ..OutlierConfig::defaults()
        };
        let mut d = OutlierDetector::new(config, 20);
        fail(&mut d, secs(1), 0, 5);
        assert_eq!(d.ejected_count(), 0);
    }

    #[test]
    fn unejection_happens_only_at_a_sweep() {
        let mut d = OutlierDetector::new(OutlierConfig::defaults(), 20);
        fail(&mut d, secs(5), 0, 5);
        // 30 s elapse at t = 35 s, but sweeps come at 10, 20, 30, 40: out until 40 s.
        sweep_until(&mut d, 0, 30);
        assert!(d.is_ejected(0));
        d.on_result(secs(36), 0, true, false);
        assert!(d.is_ejected(0), "a success does not un-eject");
        sweep_until(&mut d, 30, 40);
        assert!(!d.is_ejected(0));
        assert_eq!(d.ejected_count(), 0);
        assert_eq!(
            d.events(),
            &[
                (secs(5), 0, ejected(1, 30)),
                (secs(40), 0, OutlierEvent::Unejected)
            ]
        );
    }

    #[test]
    fn results_while_ejected_do_not_re_eject_and_unejection_restarts_the_count() {
        let mut d = OutlierDetector::new(OutlierConfig::defaults(), 20);
        fail(&mut d, secs(1), 0, 5);
        // In-flight calls finishing after the ejection: counted, no second ejection.
        fail(&mut d, secs(2), 0, 7);
        assert_eq!(d.times_ejected(0), 1);
        sweep_until(&mut d, 0, 40);
        assert!(!d.is_ejected(0));
        fail(&mut d, secs(41), 0, 4);
        assert!(!d.is_ejected(0), "the count restarted at un-ejection");
        fail(&mut d, secs(41), 0, 1);
        assert!(d.is_ejected(0));
    }

    #[test]
    fn ejection_time_grows_with_repeat_ejections_and_is_capped() {
        let config = OutlierConfig {
            max_ejection_time: SimDuration::from_secs(100),
            ..OutlierConfig::defaults()
        };
        let mut d = OutlierDetector::new(config, 20);
        // Eject, wait for the un-ejecting sweep, fail again at once (no healthy interval in
        // between, so the multiplier never decays).
        let mut t = 0;
        let mut lengths = Vec::new();
        for _ in 0..6 {
            fail(&mut d, secs(t), 0, 5);
            let ejected_at = t;
            while d.is_ejected(0) {
                t += 10;
                d.sweep(secs(t));
            }
            lengths.push(t - ejected_at);
        }
        // 30, 60, 90 s, then capped at 100 s (rounded up to the 10 s sweeps: 100 s).
        assert_eq!(lengths, [30, 60, 90, 100, 100, 100]);
        // The multiplier stops growing once past the cap: 4 * 30 = 120 >= 100 + 30 is false,
        // so it reaches 5; 5 * 30 = 150 >= 130 stops it there.
        assert_eq!(d.ejection_multiplier(0), 5);
        assert_eq!(d.times_ejected(0), 6);
        let times: Vec<u32> = d
            .events()
            .iter()
            .filter_map(|e| match e.2 {
                OutlierEvent::Ejected { times, .. } => Some(times),
                OutlierEvent::Unejected => None,
            })
            .collect();
        assert_eq!(times, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn multiplier_decays_one_step_per_healthy_interval() {
        let mut d = OutlierDetector::new(OutlierConfig::defaults(), 20);
        // Two back-to-back ejections: multiplier 2.
        fail(&mut d, secs(0), 0, 5);
        sweep_until(&mut d, 0, 30);
        fail(&mut d, secs(30), 0, 5);
        assert_eq!(d.ejection_multiplier(0), 2);
        // Second ejection lasts 60 s: un-ejected at the 90 s sweep, which does not decay it.
        sweep_until(&mut d, 30, 90);
        assert!(!d.is_ejected(0));
        assert_eq!(d.ejection_multiplier(0), 2);
        // One healthy interval later: 1; another: 0; and it stays at 0.
        sweep_until(&mut d, 90, 100);
        assert_eq!(d.ejection_multiplier(0), 1);
        sweep_until(&mut d, 100, 130);
        assert_eq!(d.ejection_multiplier(0), 0);
        // Next ejection is back to the base time.
        fail(&mut d, secs(131), 0, 5);
        assert_eq!(d.events().last(), Some(&(secs(131), 0, ejected(3, 30))));
        // A host never ejected has nothing to decay.
        assert_eq!(d.ejection_multiplier(1), 0);
    }
}
