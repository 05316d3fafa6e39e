//! Nothing but the acceptance test in `tests/`: a project that checks its resilience policy in
//! its own `cargo test`.
