//! prime-server: the prime-api HTTP server — hashed API keys in a store, exact persistent
//! quotas reset on cron schedules, and primality checks off the async workers.
//!
//! Layers, each importing only those before it (docs/architecture.md; checked by a test):
//!
//! 1. [`domain`]: keys, schedules, the quota rule, numbers — no HTTP, no SQL;
//! 2. [`store`], [`cpu_pool`], [`metrics`], [`telemetry`], [`tls`]: infrastructure;
//! 3. [`http`]: routes, auth, the error mapping, middleware, OpenAPI;
//! 4. [`settings`], [`scheduler`]: validated settings, the reset scheduler;
//! 5. [`startup`]: build and run the application;
//! 6. [`args`], [`commands`]: the command line and what each subcommand does (`main.rs` calls
//!    these).

pub mod args;
pub mod commands;
pub mod cpu_pool;
pub mod domain;
pub mod http;
pub mod locks;
pub mod metrics;
pub mod scheduler;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;

#[cfg(test)]
mod architecture;
