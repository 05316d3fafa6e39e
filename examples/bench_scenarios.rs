//! The performance yardstick of issue 11: events and CPU nanoseconds per event for library
//! scenarios and generated topologies, and peak memory of `mm1` as its simulated length grows.
//!
//! ```text
//! cargo run --release --example bench_scenarios              # the CPU table
//! cargo run --release --example bench_scenarios -- memory    # peak memory at 1x, 10x, 100x
//! cargo run --release --example bench_scenarios -- memory 1111s   # the same from a shorter base
//! ```
//!
//! CPU time is the process's own (`/proc/self/schedstat`), not the wall clock, so a loaded
//! machine slows it less; instruction counts from `bench/callgrind.sh` do not depend on load
//! at all. Peak memory is each child process's `VmHWM`: the parent runs itself once per length,
//! so one length's allocations never inflate another's peak.

use std::path::Path;
use std::process::Command;

use models::{RunOptions, World};

/// `--set` style overrides: `(path, value)`.
type Settings = &'static [(&'static str, &'static str)];

/// `(name, file, overrides)`; the durations keep one row under a few seconds.
const LIBRARY: &[(&str, &str, Settings)] = &[
    ("mm1", "scenarios/library/mm1.ron", &[("duration", "1111s")]),
    ("checkout", "scenarios/library/checkout.ron", &[]),
    (
        "database-bottleneck",
        "scenarios/library/database-bottleneck.ron",
        &[],
    ),
];

/// A generated topology: `services / 10` chains of ten services, each replica behind power of
/// two choices, every call with a timeout and one retry; one client per chain, the total
/// request rate the same whatever the size, so CPU per event compares topologies alone.
fn topology(services: u32, replicas: u32) -> String {
    assert!(
        services % 10 == 0 && services > 0,
        "services come in chains of ten"
    );
    let chains = services / 10;
    let total_rate_per_s = 2_000.0;
    let mut text = format!(
        "Scenario(version: 1, name: \"topology-{services}x{replicas}\", duration: \"20s\",\n services: [\n"
    );
    for chain in 0..chains {
        for step in 0..10 {
            let calls = if step < 9 {
                format!("calls: [Call(to: \"c{chain}s{}\")], ", step + 1)
            } else {
                String::new()
            };
            text += &format!(
                "  Service(name: \"c{chain}s{step}\", workers: 4, queue: 64, replicas: {replicas}, \
                 lb: PowerOfTwoChoices, {calls}service_time: Exponential(mean: \"1ms\")),\n"
            );
        }
    }
    text += " ],\n network: (latency: Exponential(mean: \"500us\")),\n";
    text += " policies: (default: (timeout: \"500ms\", retry: (max_attempts: 2, backoff: FullJitter(base: \"10ms\", cap: \"100ms\")))),\n";
    text += " clients: [\n";
    for chain in 0..chains {
        text += &format!(
            "  Client(name: \"users{chain}\", to: \"c{chain}s0\", arrivals: Poisson(rate_per_s: {:.1})),\n",
            total_rate_per_s / f64::from(chains)
        );
    }
    text += " ],\n)\n";
    text
}

/// The CPU time this process has used so far, in nanoseconds (Linux only).
fn cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/self/schedstat").expect("/proc/self/schedstat");
    text.split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .expect("schedstat's first field is the CPU time in ns")
}

/// Loads a scenario (from a file or generated text), applying `--set` style overrides.
fn load(file: &str, text: Option<&str>, settings: &[(&str, &str)]) -> models::config::WorldConfig {
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let loaded = match text {
        Some(text) => {
            assert!(
                settings.is_empty(),
                "a generated scenario takes no overrides"
            );
            scenarios::load_str(Path::new(file), text)
        }
        None => scenarios::load_with(Path::new(file), &settings),
    };
    loaded.unwrap_or_else(|e| panic!("{file}: {e}")).config
}

/// One run: `(events, CPU ns)`.
fn run(config: &models::config::WorldConfig) -> (u64, u64) {
    let start = cpu_ns();
    let result = World::new(config, 1).run(RunOptions::default());
    let elapsed = cpu_ns() - start;
    (result.outcome.events, elapsed)
}

fn cpu_table() {
    println!(
        "{:<24} {:>12} {:>10} {:>12}",
        "run", "events", "CPU ms", "CPU ns/event"
    );
    let mut rows: Vec<(String, models::config::WorldConfig)> = LIBRARY
        .iter()
        .map(|(name, file, settings)| (name.to_string(), load(file, None, settings)))
        .collect();
    for (services, replicas) in [(20, 10), (200, 40)] {
        let text = topology(services, replicas);
        let name = format!("topology {services}x{replicas}");
        rows.push((name.clone(), load(&name, Some(&text), &[])));
    }
    for (name, config) in &rows {
        let (events, ns) = run(config);
        println!(
            "{name:<24} {events:>12} {:>10.0} {:>12.1}",
            ns as f64 / 1e6,
            ns as f64 / events as f64
        );
    }
}

/// The peak resident memory of this process so far, in kB.
fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// Runs mm1 for `duration` in this process and prints its peak memory.
fn memory_child(duration: &str) {
    // The budget's estimate counts every window of the run, but time series keep at most
    // `MAX_WINDOWS` of them: raised here so the longest runs are measured, not refused.
    let config = load(
        "scenarios/library/mm1.ron",
        None,
        &[("duration", duration), ("limits.memory", "64GiB")],
    );
    let (events, _) = run(&config);
    println!("{events} {}", peak_kb());
}

fn memory_table(base: &str) {
    let base_s: u64 = base
        .strip_suffix('s')
        .and_then(|s| s.parse().ok())
        .expect("the base duration in whole seconds, e.g. 11112s");
    println!(
        "{:<8} {:>12} {:>14} {:>12}",
        "length", "duration", "events", "peak MB"
    );
    for factor in [1, 10, 100] {
        let duration = format!("{}s", base_s * factor);
        let output = Command::new(std::env::current_exe().expect("current exe"))
            .args(["memory-child", &duration])
            .output()
            .expect("spawn the child run");
        assert!(output.status.success(), "child failed: {output:?}");
        let text = String::from_utf8(output.stdout).expect("utf-8");
        let mut fields = text.split_whitespace();
        let events: u64 = fields.next().and_then(|s| s.parse().ok()).expect("events");
        let kb: u64 = fields.next().and_then(|s| s.parse().ok()).expect("peak kB");
        println!(
            "{:<8} {duration:>12} {events:>14} {:>12.1}",
            format!("{factor}x"),
            kb as f64 / 1024.0
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => cpu_table(),
        ["memory"] => memory_table("11112s"),
        ["memory", base] => memory_table(base),
        ["memory-child", duration] => memory_child(duration),
        ["topology", services, replicas] => print!(
            "{}",
            topology(
                services.parse().expect("services"),
                replicas.parse().expect("replicas")
            )
        ),
        _ => {
            eprintln!(
                "usage: bench_scenarios [memory [BASE_DURATION] | topology SERVICES REPLICAS]"
            );
            std::process::exit(2);
        }
    }
}
