//! Test support for prime-api (not published).
//!
//! - [`TestEnv`]: a temporary directory and a real database (an SQLite file, or a fresh schema in
//!   the PostgreSQL named by `PRIME_TEST_POSTGRES_URL`), with keys made through the server's own
//!   library code.
//! - [`TestApp`]: the application built in-process by `Application::build` on port 0, its
//!   address read from `local_addr()`: the default for every HTTP test.
//! - [`ServerProcess`]: the real `prime-server` binary, for tests where the process itself is
//!   the point (`kill -9`, signals, the key CLI, what it prints and logs); its address comes
//!   from `--port-file`, never from its log.
//! - [`tls`]: the one set of TLS fixtures (a private CA, or a self-signed certificate).
//! - [`Target`]: the requests every test sends, to either kind of server.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod app;
mod env;
mod net;
mod process;
mod target;
pub mod tls;

pub use app::TestApp;
pub use env::{TestEnv, pg_exec, pg_i64};
pub use net::{ClosedPort, read_to_close, reset, stalled_request};
pub use process::{ServerProcess, server_binary, use_server_binary};
pub use reqwest::StatusCode;
pub use target::{Target, assert_problem, client, concurrent_checks, concurrent_posts, count};
