//! prime-server: the prime-api HTTP server — hashed API keys in a store, exact persistent
//! quotas reset on cron schedules, and primality checks off the async workers.

pub mod auth;
pub mod cli;
pub mod config;
pub mod cpu_pool;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod number;
pub mod openapi;
pub mod quota;
pub mod routes;
pub mod scheduler;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
