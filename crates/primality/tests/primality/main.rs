//! The crate's integration tests, one module per subject, in one test binary (one link, and
//! one pool of test threads for their work). The time-budget test is `../factor_budget.rs`,
//! alone in its binary: these tests would take its cores while it watches the clock.
//!
//! - `tables`: published tables (Carmichael numbers, strong pseudoprimes, Mersenne numbers);
//! - `exhaustive`: every n below 10^6 against a sieve;
//! - `props`: property tests against independent references (`common`);
//! - `factor`: factorisations against published tables and PARI/GP;
//! - `ecpp`: certificates, their mutations, and PARI/GP interoperability.

mod common;
mod ecpp;
mod exhaustive;
mod factor;
mod factor_support;
mod props;
mod tables;
