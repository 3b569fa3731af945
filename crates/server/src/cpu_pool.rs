//! A bounded pool for CPU-heavy primality checks, off the async workers.
//!
//! At most `threads` checks run at once (on tokio's blocking threads); at most `queue` more
//! wait, each for at most `queue_timeout`. Anything beyond that is refused with `503`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The bounded CPU pool.
#[derive(Debug, Clone)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    threads: usize,
    queue: usize,
    queue_timeout: Duration,
}

/// A reserved slot in the pool; run work with [`CpuSlot::run`].
#[derive(Debug)]
pub struct CpuSlot(OwnedSemaphorePermit);

impl CpuPool {
    /// A pool of `threads` concurrent checks with a wait queue of `queue`.
    pub fn new(threads: usize, queue: usize, queue_timeout: Duration) -> Self {
        CpuPool {
            permits: Arc::new(Semaphore::new(threads.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            threads: threads.max(1),
            queue,
            queue_timeout,
        }
    }

    /// Reserve a slot, waiting briefly; `503` when the pool stays saturated.
    pub async fn reserve(&self) -> Result<CpuSlot, ApiError> {
        if let Ok(p) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(CpuSlot(p));
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            crate::metrics::record_cpu_pool_rejection();
            return Err(ApiError::Busy);
        }
        let acquired = tokio::time::timeout(
            self.queue_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match acquired {
            Ok(Ok(p)) => Ok(CpuSlot(p)),
            _ => {
                crate::metrics::record_cpu_pool_rejection();
                Err(ApiError::Busy)
            }
        }
    }

    /// Checks waiting for a thread right now.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Threads running a check right now.
    pub fn busy_threads(&self) -> usize {
        self.threads
            .saturating_sub(self.permits.available_permits())
    }

    /// Size of the pool.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

impl CpuSlot {
    /// Run `f` on a blocking thread while holding the slot.
    pub async fn run<T, F>(self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.0;
        tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "primality check panicked");
            ApiError::Internal
        })
    }
}
