//! Owned samplers for durations, with platform-independent math.
//!
//! The standard exponential and the standard normal come from a 256-layer ziggurat
//! ([`ziggurat`]): one 64-bit draw, a multiplication and a comparison for about 98 % of samples,
//! with constant tables written as literals that a unit test regenerates bit for bit. Every
//! logarithm and exponential, in the ziggurat's rare paths and in the lognormal, comes from the
//! `libm` crate, called explicitly, so the same seed gives the same bits whatever else is linked
//! into the build (see STYLE.md: `rand_distr` switches math back-ends with the build). Every
//! sample is rounded to an integer number of nanoseconds at once.

use std::fmt;

use crate::rng::SimRng;
use crate::time::{SimDuration, quantise_ns};

mod ziggurat;
mod ziggurat_tables;
#[cfg(test)]
mod ziggurat_tests;

pub use ziggurat::sample_exp;
use ziggurat::sample_standard_normal;

/// The standard normal quantile at 0.99: a lognormal's p99 is `exp(mu + Z_P99 * sigma)`.
pub const Z_P99: f64 = 2.326_347_874_040_840_8;

/// A distribution of non-negative durations.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// Always the same value.
    Constant(SimDuration),
    /// Exponential with the given mean in nanoseconds (a standard exponential from the ziggurat,
    /// scaled).
    Exponential { mean_ns: f64 },
    /// `exp(N(mu, sigma))` nanoseconds (one ziggurat normal and one `libm::exp`); build it from a
    /// median and a p99 with [`Distribution::lognormal`].
    LogNormal { mu: f64, sigma: f64 },
    /// `|N(mean, sd)|` nanoseconds: a normal folded at zero, so it is never negative.
    FoldedNormal { mean_ns: f64, sd_ns: f64 },
}

/// A distribution whose parameters make no sense.
#[derive(Clone, Debug, PartialEq)]
pub struct DistError(pub String);

impl fmt::Display for DistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DistError {}

impl Distribution {
    pub fn exponential(mean: SimDuration) -> Result<Self, DistError> {
        if mean.0 == 0 {
            return Err(DistError("exponential mean must be greater than 0".into()));
        }
        Ok(Distribution::Exponential {
            mean_ns: mean.0 as f64,
        })
    }

    /// A lognormal described the way people describe latency: its median and its p99.
    pub fn lognormal(median: SimDuration, p99: SimDuration) -> Result<Self, DistError> {
        if median.0 == 0 {
            return Err(DistError("lognormal median must be greater than 0".into()));
        }
        if p99 < median {
            return Err(DistError(format!(
                "lognormal p99 ({p99}) must be at least the median ({median})"
            )));
        }
        let mu = libm::log(median.0 as f64);
        let sigma = (libm::log(p99.0 as f64) - mu) / Z_P99;
        Ok(Distribution::LogNormal { mu, sigma })
    }

    pub fn folded_normal(mean: SimDuration, sd: SimDuration) -> Self {
        Distribution::FoldedNormal {
            mean_ns: mean.0 as f64,
            sd_ns: sd.0 as f64,
        }
    }

    /// Draws one duration.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        SimDuration(match *self {
            Distribution::Constant(d) => return d,
            Distribution::Exponential { mean_ns } => quantise_ns(sample_exp(rng) * mean_ns),
            Distribution::LogNormal { mu, sigma } => {
                quantise_ns(libm::exp(mu + sigma * sample_standard_normal(rng)))
            }
            Distribution::FoldedNormal { mean_ns, sd_ns } => {
                quantise_ns((mean_ns + sd_ns * sample_standard_normal(rng)).abs())
            }
        })
    }

    /// The distribution's mean in nanoseconds (before rounding to whole nanoseconds).
    pub fn mean_ns(&self) -> f64 {
        match *self {
            Distribution::Constant(d) => d.0 as f64,
            Distribution::Exponential { mean_ns } => mean_ns,
            Distribution::LogNormal { mu, sigma } => libm::exp(mu + sigma * sigma / 2.0),
            Distribution::FoldedNormal { mean_ns, sd_ns } => {
                if sd_ns == 0.0 {
                    return mean_ns.abs();
                }
                // Mean of a folded normal.
                let a = mean_ns / sd_ns;
                sd_ns * (2.0 / std::f64::consts::PI).sqrt() * libm::exp(-a * a / 2.0)
                    + mean_ns * libm::erf(a / std::f64::consts::SQRT_2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of(d: &Distribution, n: u32) -> f64 {
        let mut rng = SimRng::from_seed(3);
        (0..n).map(|_| d.sample(&mut rng).0 as f64).sum::<f64>() / f64::from(n)
    }

    #[test]
    fn pinned_first_samples() {
        // Pins sampler + math: a change here changes golden fingerprints. On purpose only.
        let mut rng = SimRng::from_seed(1);
        let e = Distribution::exponential(SimDuration::from_millis(20)).unwrap();
        let l = Distribution::lognormal(SimDuration::from_millis(4), SimDuration::from_millis(30))
            .unwrap();
        let got = [
            e.sample(&mut rng).0,
            e.sample(&mut rng).0,
            l.sample(&mut rng).0,
            l.sample(&mut rng).0,
        ];
        assert_eq!(got, PINNED);
    }
    const PINNED: [u64; 4] = [50_291_582, 5_982_035, 4_582_810, 7_193_322];

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let l = Distribution::lognormal(SimDuration::from_millis(4), SimDuration::from_millis(30))
            .unwrap();
        let mut rng = SimRng::from_seed(11);
        let mut xs: Vec<u64> = (0..200_000).map(|_| l.sample(&mut rng).0).collect();
        xs.sort_unstable();
        let median = xs[xs.len() / 2] as f64;
        let p99 = xs[xs.len() * 99 / 100] as f64;
        // With n = 200k the sample quantiles' relative standard errors are well under 1%.
        assert!((median / 4e6 - 1.0).abs() < 0.02, "median {median}");
        assert!((p99 / 30e6 - 1.0).abs() < 0.04, "p99 {p99}");
    }

    #[test]
    fn exponential_mean_within_five_standard_errors() {
        let n = 100_000;
        let e = Distribution::exponential(SimDuration::from_millis(1)).unwrap();
        let m = mean_of(&e, n);
        // sd of an exponential = its mean, so the standard error is mean / sqrt(n).
        let se = 1e6 / f64::from(n).sqrt();
        assert!((m - 1e6).abs() < 5.0 * se, "mean {m}");
    }

    #[test]
    fn folded_normal_is_never_negative_and_has_folded_mean() {
        // Means of 0 and half a standard deviation: half and a third of the normal draws are
        // negative, so the fold decides the mean.
        let n = 100_000;
        let sd_ns = 2e6;
        for mean_ns in [0.0, 1e6] {
            let d =
                Distribution::folded_normal(SimDuration(mean_ns as u64), SimDuration(sd_ns as u64));
            // E|X| for X ~ N(mu, sd^2): sd sqrt(2/pi) exp(-mu^2 / 2sd^2) + mu (1 - 2 Phi(-mu/sd)),
            // with Phi(x) = erfc(-x / sqrt 2) / 2.
            let a = mean_ns / sd_ns;
            let phi = |x: f64| libm::erfc(-x / std::f64::consts::SQRT_2) / 2.0;
            let folded = sd_ns * (2.0 / std::f64::consts::PI).sqrt() * libm::exp(-a * a / 2.0)
                + mean_ns * (1.0 - 2.0 * phi(-a));
            assert!(
                (d.mean_ns() / folded - 1.0).abs() < 1e-12,
                "mean_ns {mean_ns}"
            );
            // Var|X| = E[X^2] - (E|X|)^2 = mu^2 + sd^2 - (E|X|)^2.
            let se = ((mean_ns * mean_ns + sd_ns * sd_ns - folded * folded) / f64::from(n)).sqrt();
            let m = mean_of(&d, n);
            assert!(
                (m - folded).abs() < 5.0 * se,
                "mean_ns {mean_ns}: sample mean {m}, E|X| {folded}, se {se}"
            );
            // What a folding bug would give is more than 20 standard errors away, so the check
            // above tells them apart: no fold (mu), and clamping at zero (E max(0, X)).
            let clamped = mean_ns * phi(a)
                + sd_ns * libm::exp(-a * a / 2.0) / (2.0 * std::f64::consts::PI).sqrt();
            for wrong in [mean_ns, clamped] {
                assert!((wrong - folded).abs() > 20.0 * se, "mean_ns {mean_ns}");
            }
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(Distribution::exponential(SimDuration::ZERO).is_err());
        assert!(Distribution::lognormal(SimDuration(10), SimDuration(5)).is_err());
        assert!(Distribution::lognormal(SimDuration(0), SimDuration(5)).is_err());
    }
}
