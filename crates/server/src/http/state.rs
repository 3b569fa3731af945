//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use super::auth::AuthThrottle;
use super::key_cache::KeyCache;
use crate::cpu_pool::CpuPool;
use crate::domain::check::Work;
use crate::metrics::Metrics;
use crate::store::Store;

/// Request limits the handlers enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted number, in bits.
    pub max_bits: u64,
    /// Largest accepted body, in bytes.
    pub max_body_bytes: usize,
    /// Longest wait for a request's body once its head has arrived (then `408`); for an
    /// NDJSON stream, the longest wait for its next bytes.
    pub body_timeout: Duration,
    /// Most numbers in one JSON batch.
    pub max_batch: usize,
    /// Largest JSON batch body, in bytes.
    pub max_batch_body_bytes: usize,
    /// Most work units of one request (`domain::check::cost`).
    pub max_request_work: u64,
    /// Largest number a proof is made for, or a certificate verified for, in bits.
    pub max_proof_bits: u64,
    /// Largest `/verify-certificate` body, in bytes.
    pub max_certificate_bytes: usize,
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
    /// How checks are done (the primality check, the factorisation and proof budgets).
    pub work: Work,
    /// This application's metrics.
    pub metrics: Arc<Metrics>,
}
