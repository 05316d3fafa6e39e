//! The ziggurat samplers against their exact laws: Kolmogorov-Smirnov over the whole CDF, the
//! mass of the tail and of a few layers, mean and variance, and the normal's symmetry. Every
//! bound is a 99.9 % one (Bonferroni-corrected where a test makes several checks), so a correct
//! sampler fails one of these tests for a given seed with probability at most 0.1 %, and the
//! seeds are fixed: a failure here is a broken table, tail or wedge, not bad luck.

use std::f64::consts::SQRT_2;

use super::ziggurat::{EXP_R, NORM_R, sample_exp, sample_standard_normal};
use super::ziggurat_tables::{EXP_X, NORM_X};
use crate::rng::SimRng;

const N: usize = 1_000_000;

/// The 99.9 % critical value of the Kolmogorov-Smirnov statistic for large `n`.
fn ks_critical(n: usize) -> f64 {
    1.9495 / (n as f64).sqrt()
}

/// The standard normal CDF.
fn phi(x: f64) -> f64 {
    libm::erfc(-x / SQRT_2) / 2.0
}

/// The two-sided normal quantile `z` with `P(|Z| > z) = alpha`, by bisection.
fn z_two_sided(alpha: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 10.0);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if libm::erfc(mid / SQRT_2) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// The Kolmogorov-Smirnov distance between the sample and `cdf`.
fn ks_distance(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    let mut d: f64 = 0.0;
    for (i, &x) in xs.iter().enumerate() {
        let f = cdf(x);
        d = d.max(f - i as f64 / n).max((i + 1) as f64 / n - f);
    }
    d
}

/// Asserts that `count` of `n` Bernoulli trials is within `z` standard deviations of `n p`.
fn assert_binomial(what: &str, count: usize, n: usize, p: f64, z: f64) {
    let expected = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (count as f64 - expected).abs() < z * sd,
        "{what}: {count} of {n}, expected {expected:.1} +- {:.1}",
        z * sd
    );
}

fn exp_draws(seed: u64) -> Vec<f64> {
    let mut rng = SimRng::from_seed(seed);
    (0..N).map(|_| sample_exp(&mut rng)).collect()
}

fn normal_draws(seed: u64) -> Vec<f64> {
    let mut rng = SimRng::from_seed(seed);
    (0..N).map(|_| sample_standard_normal(&mut rng)).collect()
}

/// Layers whose mass the tests check: the base layer's rectangle, two low ones, the middle and
/// the two at the top (the last is all wedge).
const LAYERS: [usize; 5] = [1, 2, 128, 254, 255];

#[test]
fn exponential_follows_its_cdf() {
    let d = ks_distance(exp_draws(101), |x| -libm::expm1(-x));
    assert!(d < ks_critical(N), "D {d}, critical {}", ks_critical(N));
}

#[test]
fn exponential_tail_and_layers_have_their_mass() {
    let xs = exp_draws(102);
    // One check for the tail and one per layer.
    let z = z_two_sided(0.001 / (1 + LAYERS.len()) as f64);
    let tail = xs.iter().filter(|&&x| x > EXP_R).count();
    assert_binomial("P(X > r)", tail, N, libm::exp(-EXP_R), z);
    for i in LAYERS {
        let (lo, hi) = (EXP_X[i + 1], EXP_X[i]);
        let count = xs.iter().filter(|&&x| lo <= x && x < hi).count();
        // P(lo <= X < hi) = e^-lo - e^-hi.
        let p = libm::exp(-lo) - libm::exp(-hi);
        assert_binomial(&format!("layer {i} [{lo}, {hi})"), count, N, p, z);
    }
}

#[test]
fn exponential_mean_and_variance() {
    let xs = exp_draws(103);
    let n = N as f64;
    let z = z_two_sided(0.001 / 2.0);
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    // Exp(1): mean 1, variance 1, fourth central moment 9, so Var(s^2) ~ (9 - 1) / n.
    assert!((mean - 1.0).abs() < z / n.sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < z * (8.0 / n).sqrt(), "variance {var}");
}

#[test]
fn normal_follows_its_cdf() {
    let d = ks_distance(normal_draws(201), phi);
    assert!(d < ks_critical(N), "D {d}, critical {}", ks_critical(N));
}

#[test]
fn normal_tail_layers_and_symmetry() {
    let xs = normal_draws(202);
    // The tail, the layers, the sign balance and P(|Z| > 3).
    let z = z_two_sided(0.001 / (3 + LAYERS.len()) as f64);
    let tail = xs.iter().filter(|x| x.abs() > NORM_R).count();
    assert_binomial("P(|Z| > r)", tail, N, libm::erfc(NORM_R / SQRT_2), z);
    for i in LAYERS {
        let (lo, hi) = (NORM_X[i + 1], NORM_X[i]);
        let count = xs.iter().filter(|x| lo <= x.abs() && x.abs() < hi).count();
        let p = 2.0 * (phi(hi) - phi(lo));
        assert_binomial(&format!("layer {i} [{lo}, {hi})"), count, N, p, z);
    }
    let negative = xs.iter().filter(|&&x| x < 0.0).count();
    assert_binomial("Z < 0", negative, N, 0.5, z);
    let beyond_3 = xs.iter().filter(|x| x.abs() > 3.0).count();
    assert_binomial("|Z| > 3", beyond_3, N, libm::erfc(3.0 / SQRT_2), z);
    // The tail's own sign balance: the tail draws are a separate code path.
    let negative_tail = xs.iter().filter(|&&x| x < -NORM_R).count();
    assert_binomial("Z < -r given |Z| > r", negative_tail, tail, 0.5, z);
}

#[test]
fn normal_mean_and_variance() {
    let xs = normal_draws(203);
    let n = N as f64;
    let z = z_two_sided(0.001 / 2.0);
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    // N(0, 1): fourth central moment 3, so Var(s^2) ~ (3 - 1) / n.
    assert!(mean.abs() < z / n.sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < z * (2.0 / n).sqrt(), "variance {var}");
}

#[test]
fn the_tails_are_exact_beyond_r() {
    // Conditioned on the tail, the exponential's excess over r is again Exp(1) and the normal's
    // |Z| follows Phi's tail: KS on the tail draws alone, which the tests above see too rarely
    // (about 450 and 260 per million) to judge their shape.
    const TAIL_N: usize = 5_000;
    let mut rng = SimRng::from_seed(301);
    let mut excess = Vec::new();
    while excess.len() < TAIL_N {
        let x = sample_exp(&mut rng);
        if x > EXP_R {
            excess.push(x - EXP_R);
        }
    }
    let mut beyond = Vec::new();
    while beyond.len() < TAIL_N {
        let z = sample_standard_normal(&mut rng).abs();
        if z > NORM_R {
            beyond.push(z);
        }
    }
    let d = ks_distance(excess, |x| -libm::expm1(-x));
    assert!(d < ks_critical(TAIL_N), "exponential tail D {d}");
    let tail = libm::erfc(NORM_R / SQRT_2);
    let d = ks_distance(beyond, |x| 1.0 - libm::erfc(x / SQRT_2) / tail);
    assert!(d < ks_critical(TAIL_N), "normal tail D {d}");
}

#[test]
fn z_two_sided_matches_the_tables() {
    assert!((z_two_sided(0.001) - 3.290_527).abs() < 1e-6);
    assert!((z_two_sided(0.05) - 1.959_964).abs() < 1e-6);
}
