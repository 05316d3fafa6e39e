//! Using faultline from Rust the way a team's own test suite would: check that a retry policy
//! keeps the checkout available through its payments fault, and compare it with a variant.
//!
//! Run: `cargo run --release --example embed`

use faultline::{Expect, Scenario};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = Scenario::from_file(faultline::library("checkout.ron"))?;

    // One seed, read as typed figures.
    let run = scenario.run(1);
    let shoppers = run.client("shoppers").expect("checkout has shoppers");
    println!(
        "seed 1: availability {:.4}, p99 {:?}, fingerprint {}",
        shoppers.availability,
        shoppers.p99,
        run.fingerprint()
    );

    // The same expectation a CI job would hold the policy to, over ten seeds.
    let verdict = faultline::check(&scenario)
        .seeds(1..=10)
        .expect(Expect::availability("shoppers").at_least(0.95))
        .run();
    match verdict {
        Ok(passed) => println!("check passed: {} expectations", passed.verdicts.len()),
        Err(failure) => println!("{failure}"),
    }

    // A variant without retries on the payments call, side by side.
    let variant = scenario.set("edges.checkout->payments.retry.max_attempts", "1")?;
    print!("{}", faultline::compare(&scenario, &variant, 1..=5).text());
    Ok(())
}
