//! The simulator against queueing theory, with tolerances derived from the run itself.

use std::path::Path;

use sim_core::SimDuration;

/// Two-sided 99.9% quantile of Student's t with 29 degrees of freedom.
const T_29_999: f64 = 3.659;

/// M/M/1 with lambda = 900/s and mu = 1000/s: the mean time in system is 1/(mu - lambda) =
/// 10 ms. Successive sojourn times are strongly correlated at rho = 0.9, so the error of the
/// sample mean is estimated by batch means: 30 batches of 400 s (about 360,000 customers each,
/// hundreds of times the queue's relaxation time of about 0.4 s) after a 100 s warm-up. The test
/// fails if the theoretical mean lies outside the 99.9% confidence interval, or if the run was
/// too short for the interval to mean anything (half-width above 4% of the mean).
#[test]
fn mm1_mean_time_in_system_matches_theory() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/library/mm1.ron");
    let mut loaded = scenarios::load(&path).expect("mm1 loads");
    let warmup_s = 100;
    let batches = 30;
    let batch_s = 400;
    loaded.config.duration = SimDuration::from_secs(warmup_s + batches * batch_s);
    loaded.config.window = SimDuration::SECOND;
    let result = models::World::new(&loaded.config, 2024).run(models::RunOptions::default());
    let windows = &result.clients[0].stats.windows;
    assert!(windows.len() as u64 >= warmup_s + batches * batch_s - 1);

    let mut means = Vec::new();
    let (mut total_ns, mut total_n) = (0u128, 0u64);
    for b in 0..batches {
        let start = (warmup_s + b * batch_s) as usize;
        let batch = &windows[start..(start + batch_s as usize).min(windows.len())];
        let sum: u128 = batch.iter().map(|w| u128::from(w.ok_latency_ns_sum)).sum();
        let n: u64 = batch.iter().map(|w| w.ok).sum();
        assert!(n > 300_000, "batch {b} has only {n} customers");
        means.push(sum as f64 / n as f64);
        total_ns += sum;
        total_n += n;
    }
    let grand = total_ns as f64 / total_n as f64;
    let k = means.len() as f64;
    let mean_of_means = means.iter().sum::<f64>() / k;
    let variance = means
        .iter()
        .map(|m| (m - mean_of_means).powi(2))
        .sum::<f64>()
        / (k - 1.0);
    let half_width = T_29_999 * (variance / k).sqrt();
    let theory_ns = 1e9 / (1000.0 - 900.0);
    assert!(
        half_width < 0.04 * theory_ns,
        "run too short: 99.9% half-width {half_width:.0} ns"
    );
    eprintln!(
        "M/M/1: mean {grand:.0} ns, theory {theory_ns:.0} ns, 99.9% half-width {half_width:.0} ns"
    );
    assert!(
        (grand - theory_ns).abs() <= half_width,
        "mean time in system {grand:.0} ns, theory {theory_ns:.0} ns, 99.9% half-width {half_width:.0} ns"
    );

    // Utilisation is rho = 0.9; over 12,100 s its standard error is far below 1%.
    let utilisation = result.services[0].utilisation(loaded.config.duration);
    assert!(
        (utilisation - 0.9).abs() < 0.01,
        "utilisation {utilisation}"
    );
}
