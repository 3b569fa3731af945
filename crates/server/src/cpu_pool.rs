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
            _ => Err(ApiError::Busy),
        }
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
