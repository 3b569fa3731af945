//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use primality::{BigInt, Verdict};

use super::auth::AuthThrottle;
use super::key_cache::KeyCache;
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
    /// Longest wait for a request's body once its head has arrived (then `408`).
    pub body_timeout: Duration,
}

/// The primality check the server runs: `primality::check_signed`, unless a test replaces it to
/// see how the server copes with a failure inside it.
#[derive(Clone, Copy)]
pub struct Check(pub fn(&BigInt) -> Verdict);

impl Default for Check {
    fn default() -> Self {
        Check(primality::check_signed)
    }
}

impl PartialEq for Check {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::fn_addr_eq(self.0, other.0)
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Check")
    }
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
    /// Keys seen valid moments ago (admission before the body).
    pub keys: KeyCache,
    /// The primality check.
    pub check: Check,
    /// This application's metrics.
    pub metrics: Arc<Metrics>,
}
