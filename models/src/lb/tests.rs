//! Tests of the balancer and the health check state.

use super::*;
use proptest::prelude::*;

const ALL: [bool; 4] = [true; 4];

/// `n` picks with all-zero outstanding counts.
fn picks(balancer: &mut Balancer, eligible: &[bool], n: usize, seed: u64) -> Vec<usize> {
    let mut rng = SimRng::from_seed(seed);
    let outstanding = vec![0; eligible.len()];
    (0..n)
        .map(|_| balancer.pick(eligible, &outstanding, &mut rng).unwrap())
        .collect()
}

/// The O(1) pick is the full pick with every host eligible: same host, same draws after.
#[test]
fn pick_all_eligible_matches_pick() {
    for policy in LbPolicy::ALL {
        for hosts in 1..7usize {
            for threshold in [0, 50, 100] {
                let mut full = Balancer::new(policy, hosts)
                    .with_panic_threshold_percent(threshold)
                    .with_round_robin_start(hosts / 2);
                let mut fast = full.clone();
                let (mut rng_full, mut rng_fast) = (SimRng::from_seed(9), SimRng::from_seed(9));
                let eligible = vec![true; hosts];
                let mut outstanding = vec![0u32; hosts];
                for i in 0..200u32 {
                    for (h, o) in outstanding.iter_mut().enumerate() {
                        *o = (i * 7 + h as u32 * 3) % 5;
                    }
                    let a = full.pick(&eligible, &outstanding, &mut rng_full);
                    let b = fast.pick_all_eligible(&outstanding, &mut rng_fast);
                    assert_eq!(a, b, "{policy:?} with {hosts} hosts, pick {i}");
                }
                assert_eq!(rng_full.uniform(), rng_fast.uniform(), "the same draws");
            }
        }
    }
}

#[test]
fn round_robin_cycles_in_index_order() {
    let mut b = Balancer::new(LbPolicy::RoundRobin, 4);
    assert_eq!(picks(&mut b, &ALL, 6, 1), vec![0, 1, 2, 3, 0, 1]);
    let mut b = Balancer::new(LbPolicy::RoundRobin, 4).with_round_robin_start(6);
    assert_eq!(picks(&mut b, &ALL, 5, 1), vec![2, 3, 0, 1, 2]);
}

#[test]
fn round_robin_skips_ineligible_hosts_and_keeps_its_position() {
    let mut b = Balancer::new(LbPolicy::RoundRobin, 4);
    assert_eq!(picks(&mut b, &ALL, 2, 1), vec![0, 1]);
    // Host 2 goes away: the cycle skips it.
    let without_2 = [true, true, false, true];
    assert_eq!(picks(&mut b, &without_2, 4, 1), vec![3, 0, 1, 3]);
    // Host 2 is back: the cycle continues after host 3, the last one picked.
    assert_eq!(picks(&mut b, &ALL, 4, 1), vec![0, 1, 2, 3]);
}

#[test]
fn random_is_uniform_over_eligible_hosts() {
    // 5 eligible hosts of 6; host 2 must never be picked.
    let eligible = [true, true, false, true, true, true];
    let mut b = Balancer::new(LbPolicy::Random, 6);
    let samples: u64 = 50_000;
    let mut counts = [0u64; 6];
    for h in picks(&mut b, &eligible, samples as usize, 7) {
        counts[h] += 1;
    }
    assert_eq!(counts[2], 0, "{counts:?}");
    let k: u64 = 5;
    let expected = samples / k;
    let deviations: Vec<u64> = [0, 1, 3, 4, 5]
        .iter()
        .map(|&h| counts[h].abs_diff(expected).pow(2))
        .collect();
    // Each count is binomial(samples, 1/k): 5 standard deviations is
    // (c - E)^2 <= 25 * samples * (1/k) * (1 - 1/k), i.e. k (c - E)^2 <= 25 E (k - 1).
    for (&d, h) in deviations.iter().zip([0, 1, 3, 4, 5]) {
        assert!(k * d <= 25 * expected * (k - 1), "host {h}: {counts:?}");
    }
    // Pearson's statistic sum (c - E)^2 / E has k - 1 = 4 degrees of freedom (mean 4,
    // standard deviation sqrt(8) < 3); 4 + 6 * 3 = 22 is far in its tail.
    let chi_square_times_expected: u64 = deviations.iter().sum();
    assert!(
        chi_square_times_expected <= 22 * expected,
        "chi-square {} over {counts:?}",
        chi_square_times_expected as f64 / expected as f64
    );
}

#[test]
fn power_of_two_never_picks_the_more_loaded_draw() {
    let mut rng = SimRng::from_seed(11);
    let mut b = Balancer::new(LbPolicy::PowerOfTwoChoices, 5);
    let eligible = [true, false, true, true, true];
    let candidates = [0, 2, 3, 4];
    for round in 0..2_000u32 {
        let outstanding: Vec<u32> = (0..5).map(|h| (round * 7 + h * 13) % 5).collect();
        // Replay the two draws the balancer will make.
        let (a, c) = draw_two_distinct(&mut rng.clone(), candidates.len());
        let (first, second) = (candidates[a], candidates[c]);
        assert_ne!(first, second);
        let want = if outstanding[second] < outstanding[first] {
            second
        } else {
            first
        };
        let got = b.pick(&eligible, &outstanding, &mut rng).unwrap();
        assert_eq!(
            got, want,
            "round {round}: draws {first},{second} {outstanding:?}"
        );
        assert!(outstanding[got] <= outstanding[first].min(outstanding[second]));
    }
}

#[test]
fn power_of_two_choice_frequencies_follow_load_rank() {
    // Distinct draws over loads 0 < 1 < 2 < 3: host i wins the pairs it has with more
    // loaded hosts, 3 - i of the 6 pairs; the most loaded host never wins.
    let outstanding = [0, 1, 2, 3];
    let mut b = Balancer::new(LbPolicy::PowerOfTwoChoices, 4);
    let mut rng = SimRng::from_seed(3);
    let samples = 60_000u64;
    let mut counts = [0u64; 4];
    for _ in 0..samples {
        counts[b.pick(&ALL, &outstanding, &mut rng).unwrap()] += 1;
    }
    assert_eq!(counts[3], 0, "{counts:?}");
    for (h, &c) in counts.iter().enumerate().take(3) {
        let expected = samples * (3 - h as u64) / 6;
        assert!(
            c.abs_diff(expected) <= samples / 100,
            "host {h}: {counts:?}"
        );
    }
}

#[test]
fn power_of_two_ties_go_to_the_first_draw_and_a_single_host_needs_no_draw() {
    let mut b = Balancer::new(LbPolicy::PowerOfTwoChoices, 4);
    let mut rng = SimRng::from_seed(5);
    for _ in 0..200 {
        let (a, _) = draw_two_distinct(&mut rng.clone(), 4);
        assert_eq!(b.pick(&ALL, &[2; 4], &mut rng), Some(a));
    }
    // One eligible host (and panic off so the others stay out): it, with no draw.
    let mut b = Balancer::new(LbPolicy::PowerOfTwoChoices, 4).with_panic_threshold_percent(0);
    let before = rng.clone();
    assert_eq!(
        b.pick(&[false, false, true, false], &[0, 0, 9, 0], &mut rng),
        Some(2)
    );
    assert_eq!(rng.next_u64(), before.clone().next_u64(), "no draw made");
}

#[test]
fn least_request_scans_all_eligible_hosts_ties_to_lowest_index() {
    let mut b = Balancer::new(LbPolicy::LeastRequest, 5);
    let mut rng = SimRng::from_seed(1);
    let all = [true; 5];
    assert_eq!(b.pick(&all, &[4, 2, 3, 2, 5], &mut rng), Some(1));
    assert_eq!(b.pick(&all, &[4, 3, 3, 1, 5], &mut rng), Some(3));
    // The least loaded host is ineligible: the next least among the eligible.
    let eligible = [true, true, true, false, true];
    assert_eq!(b.pick(&eligible, &[4, 3, 3, 1, 5], &mut rng), Some(1));
    assert_eq!(b.pick(&all, &[0; 5], &mut rng), Some(0));
}

#[test]
fn panic_threshold_balances_over_all_hosts() {
    // 1 of 4 eligible = 25 % < 50 %: panic, every host is a candidate.
    let one_of_four = [false, true, false, false];
    let mut b = Balancer::new(LbPolicy::RoundRobin, 4);
    assert!(b.in_panic(&one_of_four));
    assert_eq!(picks(&mut b, &one_of_four, 4, 1), vec![0, 1, 2, 3]);
    // 2 of 4 = 50 % is not below 50 %: no panic, only eligible hosts.
    let two_of_four = [false, true, false, true];
    assert!(!b.in_panic(&two_of_four));
    assert_eq!(picks(&mut b, &two_of_four, 4, 1), vec![1, 3, 1, 3]);
    // No eligible host at all: panic still balances over everyone.
    let mut b = Balancer::new(LbPolicy::LeastRequest, 3);
    let mut rng = SimRng::from_seed(1);
    assert_eq!(b.pick(&[false; 3], &[3, 1, 2], &mut rng), Some(1));
    // Threshold 0 disables panic: nothing eligible, nothing picked.
    let mut b = b.with_panic_threshold_percent(0);
    assert!(!b.in_panic(&[false; 3]));
    assert_eq!(b.pick(&[false; 3], &[3, 1, 2], &mut rng), None);
    // A threshold of 100 panics as soon as one host is out.
    let b = Balancer::new(LbPolicy::Random, 3).with_panic_threshold_percent(100);
    assert!(b.in_panic(&[true, true, false]));
    assert!(!b.in_panic(&[true; 3]));
    // No hosts: nothing to pick.
    let mut b = Balancer::new(LbPolicy::Random, 0);
    assert_eq!(b.pick(&[], &[], &mut rng), None);
}

fn config(unhealthy_threshold: u32, healthy_threshold: u32) -> HealthCheckConfig {
    HealthCheckConfig {
        unhealthy_threshold,
        healthy_threshold,
        ..HealthCheckConfig::new(SimDuration::from_secs(5), SimDuration::from_secs(1))
    }
}

/// Feeds `results` (`+` pass, `-` network failure, `!` active failure) and writes the
/// health after each as `H`/`u`, with `*` after a probe that caused a transition.
fn run(state: &mut HealthState, results: &str) -> String {
    let mut out = String::new();
    for c in results.chars() {
        let result = match c {
            '+' => CheckResult::Pass,
            '-' => CheckResult::NetworkFailure,
            '!' => CheckResult::ActiveFailure,
            _ => panic!("unknown probe result {c:?}"),
        };
        let transition = state.on_check_result(result);
        out.push(if state.is_healthy() { 'H' } else { 'u' });
        match transition {
            Some(Transition::ToHealthy) => assert!(state.is_healthy()),
            Some(Transition::ToUnhealthy) => assert!(!state.is_healthy()),
            None => {}
        }
        if transition.is_some() {
            out.push('*');
        }
    }
    out
}

#[test]
fn unhealthy_after_n_consecutive_failures() {
    let mut s = HealthState::new_healthy(&config(3, 2));
    assert!(s.is_healthy());
    assert_eq!(run(&mut s, "---"), "HHu*");
    assert_eq!(s.consecutive_failures(), 3);
    assert_eq!(run(&mut s, "--"), "uu");
    let mut s = HealthState::new_healthy(&config(1, 1));
    assert_eq!(run(&mut s, "-"), "u*");
}

#[test]
fn healthy_after_m_consecutive_passes() {
    let mut s = HealthState::new_healthy(&config(3, 2));
    assert_eq!(run(&mut s, "---"), "HHu*");
    assert_eq!(run(&mut s, "+-+++"), "uuuH*H");
    let mut s = HealthState::new_healthy(&config(1, 4));
    assert_eq!(run(&mut s, "-++++"), "u*uuuH*");
}

#[test]
fn a_pass_resets_the_failure_count() {
    let mut s = HealthState::new_healthy(&config(3, 2));
    assert_eq!(run(&mut s, "--+--+--"), "HHHHHHHH");
    assert_eq!(s.consecutive_failures(), 2);
    assert_eq!(run(&mut s, "-"), "u*");
}

#[test]
fn active_failure_is_immediate() {
    let mut s = HealthState::new_healthy(&config(3, 2));
    assert_eq!(run(&mut s, "-!"), "Hu*");
    assert_eq!(run(&mut s, "!++"), "uuH*");
}

#[test]
fn envoy_start_is_unhealthy_until_the_first_probe_passes() {
    let mut s = HealthState::new(&config(3, 2));
    assert!(!s.is_healthy());
    // The first probe's pass is enough, whatever healthy_threshold.
    assert_eq!(run(&mut s, "+"), "H*");
    // A failed first probe leaves it unhealthy; then the threshold applies.
    let mut s = HealthState::new(&config(3, 2));
    assert_eq!(run(&mut s, "-+-+++"), "uuuuH*H");
    // on_check(bool) is Pass / NetworkFailure.
    let mut s = HealthState::new(&config(1, 2));
    assert_eq!(s.on_check(true), Some(Transition::ToHealthy));
    assert_eq!(s.on_check(false), Some(Transition::ToUnhealthy));
}

#[test]
fn health_check_config_validation() {
    let good = HealthCheckConfig::new(SimDuration::from_secs(5), SimDuration::from_secs(1));
    assert_eq!(good.unhealthy_threshold, 3);
    assert_eq!(good.healthy_threshold, 2);
    assert_eq!(good.validate(), Ok(()));
    let bad = HealthCheckConfig {
        interval: SimDuration::ZERO,
        timeout: SimDuration::ZERO,
        unhealthy_threshold: 0,
        healthy_threshold: 0,
    };
    assert_eq!(
        bad.validate().unwrap_err(),
        "health check interval must be greater than zero\n\
         health check timeout must be greater than zero\n\
         health check unhealthy_threshold must be at least 1\n\
         health check healthy_threshold must be at least 1"
    );
}

fn policy() -> impl Strategy<Value = LbPolicy> {
    proptest::sample::select(LbPolicy::ALL.to_vec())
}

proptest! {
    /// Out of panic every pick is an eligible host; in panic every pick is some host; the
    /// balancer returns None only when there is nothing to pick from.
    #[test]
    fn pick_returns_only_eligible_hosts_out_of_panic(
        policy in policy(),
        hosts in proptest::collection::vec((any::<bool>(), 0u32..8), 1..12),
        threshold in 0u32..=100,
        start in 0usize..12,
        seed in any::<u64>(),
    ) {
        let eligible: Vec<bool> = hosts.iter().map(|h| h.0).collect();
        let outstanding: Vec<u32> = hosts.iter().map(|h| h.1).collect();
        let mut b = Balancer::new(policy, hosts.len())
            .with_panic_threshold_percent(threshold)
            .with_round_robin_start(start);
        let mut rng = SimRng::from_seed(seed);
        let panic = b.in_panic(&eligible);
        let any_eligible = eligible.iter().any(|&e| e);
        for _ in 0..20 {
            match b.pick(&eligible, &outstanding, &mut rng) {
                Some(h) => {
                    prop_assert!(h < hosts.len());
                    prop_assert!(panic || eligible[h], "picked ineligible host {} {:?}", h, eligible);
                }
                None => prop_assert!(!panic && !any_eligible),
            }
        }
    }

    /// With every host eligible, round robin visits each host once per cycle.
    #[test]
    fn round_robin_visits_every_host_once_per_cycle(hosts in 1usize..10, start in 0usize..20) {
        let mut b = Balancer::new(LbPolicy::RoundRobin, hosts).with_round_robin_start(start);
        let mut cycle = picks(&mut b, &vec![true; hosts], hosts, 0);
        cycle.sort_unstable();
        prop_assert_eq!(cycle, (0..hosts).collect::<Vec<_>>());
    }
}
