//! prime-server's integration tests: one test binary, one module per concern. HTTP tests run
//! the application in-process on port 0 (`testkit::TestApp`); the real binary runs only where
//! the process itself is the point (`kill -9`, signals, the key CLI, what it prints and logs).
#![allow(clippy::unwrap_used)]

mod common {
    pub use testkit::*;

    /// The binary under test (also found by `testkit::server_binary`).
    pub const BIN: &str = env!("CARGO_BIN_EXE_prime-server");
}

mod api;
mod batch;
mod cli;
mod factors;
mod hardening;
mod multi_instance;
mod nginx;
mod operations;
mod pg_outage;
mod policies;
mod proofs;
mod quota;
mod store;
