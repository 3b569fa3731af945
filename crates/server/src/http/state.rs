//! What every handler shares.

use std::sync::Arc;

use super::auth::AuthThrottle;
use crate::cpu_pool::CpuPool;
use crate::metrics::Metrics;
use crate::store::Store;

/// Request limits the handlers enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted number, in bits.
    pub max_bits: u64,
    /// Largest accepted body, in bytes.
    pub max_body_bytes: usize,
}

/// Shared, read-only state of every worker.
#[derive(Debug)]
pub struct AppState {
    /// The key store.
    pub store: Store,
    /// Bounded pool for large primality checks.
    pub cpu: CpuPool,
    /// Failed-authentication throttle.
    pub throttle: Arc<AuthThrottle>,
    /// Request limits.
    pub limits: Limits,
    /// This application's metrics.
    pub metrics: Arc<Metrics>,
}
