//! The library's modules whose names the binary's own modules (also in `src/`) already take:
//! a run's figures, expectations and `check`, `compare`. `sweep.rs` is the public
//! `faultline::sweep`.

pub(crate) mod compare;
pub(crate) mod expect;
pub(crate) mod run;
