//! A mutation fuzzer over the library scenarios (issue 13): each input is a library file with a
//! few deterministic mutations (byte flips, token swaps, extreme numbers, deleted and doubled
//! lines), loaded, checked, run for a few thousand events, analysed, reported and checked
//! against its expectations. Bad input must give an error, never a panic, an abort or a hang.
//!
//! `cargo test` runs a bounded number of inputs (well under 30 s). A longer run, in release with
//! overflow checks, writes each crash to `target/fuzz-crashes/` and the input being tried to
//! `target/fuzz-current.ron` (what an abort leaves behind):
//!
//! ```text
//! CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true \
//! FAULTLINE_FUZZ_SECONDS=600 FAULTLINE_FUZZ_SEED=1 \
//!   cargo test --release --test fuzz mutation_fuzz -- --nocapture
//! ```
//!
//! Every crash found is kept in `tests/fuzz_regressions/` (with a comment saying what it found)
//! and [`fuzz_regressions_never_panic`] runs them all.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Inputs `cargo test` tries, from seed 1.
const CI_INPUTS: u64 = 800;
/// Events a fuzzed run may process: enough to reach faults, retries and reports.
const MAX_EVENTS: u64 = 20_000;
/// The memory a fuzzed run may use: a scenario asking for more is reported, not run.
const MEMORY_BYTES: u64 = 256 << 20;
/// A run taking this long in real time is stopped (it counts as slow, not as a hang).
const SLOW_RUN: Duration = Duration::from_secs(20);
/// No input may take this long at all (parse, check, run, reports): the watchdog aborts.
const HANG: Duration = Duration::from_secs(120);

/// SplitMix64: a small deterministic generator, so an input is reproduced from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Numbers at the edges of every range: zero, negative, huge, not numbers at all.
const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "-0.5",
    "0.5",
    "1.5",
    "64.5",
    "1e300",
    "-1e300",
    "NaN",
    "inf",
    "-inf",
    "2147483647",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "1000000000.0",
    "0.000000001",
];

/// Durations at the edges: nothing, a nanosecond, centuries.
const EXTREME_DURATIONS: &[&str] = &[
    "\"0s\"",
    "\"1ns\"",
    "\"1us\"",
    "\"100000h\"",
    "\"5000000h\"",
    "\"-1s\"",
    "\"1.5ns\"",
];

/// Pieces of scenario syntax to insert: they make inputs that parse more often than bytes do.
const FRAGMENTS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    ",",
    "\"",
    ":",
    "Some(",
    "None",
    "true",
    "false",
    "replicas: 1000000,",
    "window: \"1ns\",",
    "users: 4294967295",
    "parallel: [",
    "retry: (max_attempts: 100, backoff: \
     Immediate),",
    "timeout: \"0s\",",
    "limits: (max_events: 1),",
];

/// The tokens of a text: words, numbers, strings and single punctuation characters, as byte
/// ranges.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if b == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += 1;
            }
            i = (i + 1).min(bytes.len());
        } else if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'-' | b'.'))
            {
                i += 1;
            }
        } else {
            i += 1;
        }
        if text.is_char_boundary(start) && text.is_char_boundary(i) {
            out.push((start, i));
        }
    }
    out
}

fn is_number(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_digit() || c == '-') && token.len() < 40
}

/// One mutation of `text`.
fn mutate_once(rng: &mut Rng, text: &str) -> String {
    let toks = tokens(text);
    let replace =
        |(s, e): (usize, usize), with: &str| format!("{}{with}{}", &text[..s], &text[e..]);
    match rng.below(8) {
        // A byte flipped to another printable one, or to anything.
        0 => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let at = rng.below(bytes.len());
                bytes[at] = if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    b' ' + rng.below(95) as u8
                };
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        // A number replaced by an extreme one.
        1 | 2 => {
            let numbers: Vec<_> = toks
                .iter()
                .copied()
                .filter(|&(s, e)| is_number(&text[s..e]))
                .collect();
            if numbers.is_empty() {
                text.to_owned()
            } else {
                let at = *rng.pick(&numbers);
                let with = EXTREME_NUMBERS[rng.below(EXTREME_NUMBERS.len())];
                replace(at, with)
            }
        }
        // A duration replaced by an extreme one.
        3 => {
            let durations: Vec<_> = toks
                .iter()
                .copied()
                .filter(|&(s, e)| {
                    let t = &text[s..e];
                    t.starts_with('"') && t.ends_with("s\"") && t.len() < 12
                })
                .collect();
            if durations.is_empty() {
                text.to_owned()
            } else {
                let at = *rng.pick(&durations);
                let with = EXTREME_DURATIONS[rng.below(EXTREME_DURATIONS.len())];
                replace(at, with)
            }
        }
        // Two tokens swapped.
        4 if toks.len() >= 2 => {
            let (mut a, mut b) = (*rng.pick(&toks), *rng.pick(&toks));
            if a.0 > b.0 {
                std::mem::swap(&mut a, &mut b);
            }
            if a.1 > b.0 {
                return text.to_owned();
            }
            format!(
                "{}{}{}{}{}",
                &text[..a.0],
                &text[b.0..b.1],
                &text[a.1..b.0],
                &text[a.0..a.1],
                &text[b.1..]
            )
        }
        // A line deleted or doubled.
        5 => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let at = rng.below(lines.len());
                if rng.below(2) == 0 {
                    lines.remove(at);
                } else {
                    lines.insert(at, lines[at]);
                }
            }
            lines.join("\n")
        }
        // A token copied over another.
        6 if !toks.is_empty() => {
            let from = *rng.pick(&toks);
            replace(*rng.pick(&toks), &text[from.0..from.1])
        }
        // A fragment of syntax inserted before a token.
        _ if !toks.is_empty() => {
            let at = rng.pick(&toks).0;
            format!("{}{}{}", &text[..at], *rng.pick(FRAGMENTS), &text[at..])
        }
        _ => text.to_owned(),
    }
}

/// Input `n` of the run from `seed`: which library file, with how many mutations.
fn input(library: &[(PathBuf, String)], seed: u64, n: u64) -> (String, String) {
    let mut rng = Rng(seed.wrapping_mul(0x1000_0000_01b3) ^ n.wrapping_mul(0x9e37_79b9));
    let (path, text) = rng.pick(library);
    let mut text = text.clone();
    for _ in 0..1 + rng.below(4) {
        text = mutate_once(&mut rng, &text);
    }
    let name = path
        .file_stem()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    (name, text)
}

/// What became of one input.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// Rejected with an error (parse or check).
    Rejected,
    /// Loaded and run (to its end, or stopped by a limit).
    Ran,
    /// A panic, with its message.
    Panicked(String),
}

/// Loads, checks, runs, analyses and reports one scenario text, as the binary's commands do.
fn exercise(text: &str) -> Fate {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let path = Path::new("fuzz.ron");
        let Ok(mut scenario) = scenarios::parse(path, text) else {
            return false;
        };
        scenario.limits.memory.0 = scenario.limits.memory.0.min(MEMORY_BYTES);
        let Ok((mut config, _warnings)) = scenarios::build_with_warnings(&scenario, text) else {
            return false;
        };
        config.max_events = config.max_events.min(MAX_EVENTS);
        let seed = text.len() as u64;
        let options = models::RunOptions {
            interrupt: Some(slow_run_stop()),
            ..models::RunOptions::default()
        };
        let result = models::World::new(&config, seed).run(options);
        let analysis = reports::analyse(&result);
        let _ = reports::json_string_with(&result, &analysis);
        let _ = reports::text(&result, &analysis, false);
        let _ = reports::markdown::markdown(&result, &analysis);
        let mut evaluator = reports::check::Evaluator::new(&scenario.expect);
        evaluator.add(&result, &analysis);
        let _ = evaluator.finish();
        true
    }));
    match outcome {
        Ok(true) => Fate::Ran,
        Ok(false) => Fate::Rejected,
        Err(payload) => Fate::Panicked(
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".into()),
        ),
    }
}

/// Stops a run that is slow in real time (a test may read the clock; the simulator may not).
fn slow_run_stop() -> sim_core::Interrupt {
    #[allow(clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    Box::new(move || start.elapsed() > SLOW_RUN)
}

fn library() -> Vec<(PathBuf, String)> {
    common::library_scenarios()
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("library scenario");
            (p, text)
        })
        .collect()
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Aborts the process, naming the input, when one input takes longer than [`HANG`].
fn watchdog(progress: Arc<AtomicU64>, current: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut last = u64::MAX;
        let mut still = Duration::ZERO;
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let now = progress.load(Ordering::Relaxed);
            if now == last {
                still += Duration::from_secs(1);
            } else {
                (last, still) = (now, Duration::ZERO);
            }
            if still >= HANG {
                let input = current.lock().map(|s| s.clone()).unwrap_or_default();
                eprintln!("fuzz: input {now} hangs (over {HANG:?}):\n{input}");
                std::process::abort();
            }
        }
    });
}

#[test]
fn mutation_fuzz_never_panics_aborts_or_hangs() {
    let library = library();
    assert!(
        library.len() >= 10,
        "found {} library scenarios",
        library.len()
    );
    let seed = env_u64("FAULTLINE_FUZZ_SEED").unwrap_or(1);
    let seconds = env_u64("FAULTLINE_FUZZ_SECONDS");
    let inputs = env_u64("FAULTLINE_FUZZ_INPUTS").unwrap_or(if seconds.is_some() {
        u64::MAX
    } else {
        CI_INPUTS
    });
    let long_run = seconds.is_some();
    let target = common::root().join("target");
    let crashes_dir = target.join("fuzz-crashes");
    #[allow(clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    let progress = Arc::new(AtomicU64::new(0));
    let current = Arc::new(Mutex::new(String::new()));
    watchdog(progress.clone(), current.clone());
    let (mut rejected, mut ran, mut crashes) = (0u64, 0u64, Vec::new());
    let mut n = env_u64("FAULTLINE_FUZZ_FIRST").unwrap_or(0);
    while n < inputs && seconds.is_none_or(|s| start.elapsed() < Duration::from_secs(s)) {
        let (name, text) = input(&library, seed, n);
        progress.store(n, Ordering::Relaxed);
        *current.lock().expect("lock") = text.clone();
        if long_run {
            // What an abort (out of memory, stack overflow) leaves behind to reproduce it.
            let _ = std::fs::write(target.join("fuzz-current.ron"), &text);
        }
        match exercise(&text) {
            Fate::Rejected => rejected += 1,
            Fate::Ran => ran += 1,
            Fate::Panicked(message) => {
                let file = crashes_dir.join(format!("{name}-seed{seed}-input{n}.ron"));
                let _ = std::fs::create_dir_all(&crashes_dir);
                let _ = std::fs::write(&file, &text);
                crashes.push(format!("{}: {message}", file.display()));
            }
        }
        n += 1;
        if long_run && n % 1000 == 0 {
            eprintln!(
                "fuzz: {n} inputs, {ran} ran, {rejected} rejected, {} crashes, {:?}",
                crashes.len(),
                start.elapsed()
            );
        }
    }
    eprintln!(
        "fuzz: seed {seed}: {n} inputs, {ran} ran, {rejected} rejected, {} crashes in {:.0?}",
        crashes.len(),
        start.elapsed()
    );
    assert!(
        crashes.is_empty(),
        "{} inputs panicked:\n{}",
        crashes.len(),
        crashes.join("\n")
    );
    // The mutations must leave enough inputs valid to reach the engine and the reports.
    assert!(ran * 10 >= n, "only {ran} of {n} inputs ran");
}

/// Every input a fuzzer ever crashed, kept in `tests/fuzz_regressions/`: each is rejected
/// with an error or runs, and none panics.
#[test]
fn fuzz_regressions_never_panic() {
    let dir = common::root().join("tests/fuzz_regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fuzz_regressions")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    for file in &files {
        let text = String::from_utf8_lossy(&std::fs::read(file).expect("read")).into_owned();
        if let Fate::Panicked(message) = exercise(&text) {
            panic!("{} panics again: {message}", file.display());
        }
    }
}

#[test]
fn mutations_are_deterministic_and_varied() {
    let library = library();
    let a: Vec<_> = (0..20).map(|n| input(&library, 7, n)).collect();
    let b: Vec<_> = (0..20).map(|n| input(&library, 7, n)).collect();
    assert_eq!(a, b);
    let originals: Vec<&str> = library.iter().map(|(_, t)| t.as_str()).collect();
    let changed = a
        .iter()
        .filter(|(_, t)| !originals.contains(&t.as_str()))
        .count();
    assert!(
        changed >= 15,
        "only {changed} of 20 inputs differ from the library"
    );
}
