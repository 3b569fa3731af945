//! A bounded pool for CPU-heavy work (primality checks of large numbers), off the async workers.
//!
//! At most `threads` computations run at once (on tokio's blocking threads); at most `queue`
//! more wait, each for at most `queue_timeout`. Anything beyond that is refused
//! ([`PoolError::Saturated`]). The place in the queue is held by a guard, so a request that is
//! dropped while it waits (its client went away) gives its place back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why the pool could not run a computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every thread is busy and the queue is full, or the wait timed out.
    #[error("server busy: too many primality checks in progress; retry shortly")]
    Saturated,
    /// The computation panicked (a bug; the panic message is in the log).
    #[error("the computation failed")]
    Panicked,
}

/// The bounded CPU pool (cheap to clone).
#[derive(Debug, Clone)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    rejected: Arc<AtomicU64>,
    threads: usize,
    queue: usize,
    queue_timeout: Duration,
}

/// A reserved thread; run work with [`CpuSlot::run`].
#[derive(Debug)]
pub struct CpuSlot(OwnedSemaphorePermit);

/// A place in the wait queue, given back when dropped.
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl CpuPool {
    /// A pool of `threads` concurrent computations with a wait queue of `queue`.
    pub fn new(threads: usize, queue: usize, queue_timeout: Duration) -> Self {
        CpuPool {
            permits: Arc::new(Semaphore::new(threads.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            rejected: Arc::new(AtomicU64::new(0)),
            threads: threads.max(1),
            queue,
            queue_timeout,
        }
    }

    fn reject(&self) -> PoolError {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        PoolError::Saturated
    }

    /// Reserve a thread, waiting in the queue if need be.
    pub async fn reserve(&self) -> Result<CpuSlot, PoolError> {
        if let Ok(p) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(CpuSlot(p));
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(self.reject());
        }
        let _place = QueuePlace(&self.waiting);
        let acquired = tokio::time::timeout(
            self.queue_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await;
        match acquired {
            Ok(Ok(p)) => Ok(CpuSlot(p)),
            _ => Err(self.reject()),
        }
    }

    /// Computations waiting for a thread right now.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Threads running a computation right now.
    pub fn busy_threads(&self) -> usize {
        self.threads
            .saturating_sub(self.permits.available_permits())
    }

    /// Size of the pool.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Computations refused since the start.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

impl CpuSlot {
    /// Run `f` on a blocking thread while holding the slot.
    pub async fn run<T, F>(self, f: F) -> Result<T, PoolError>
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
        .map_err(|_| PoolError::Panicked)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_place_back() {
        let pool = CpuPool::new(1, 1, Duration::from_secs(10));
        let busy = pool.reserve().await.unwrap();
        // Queue one waiter, then drop it while it waits (a client that went away).
        let waiter = tokio::spawn({
            let pool = pool.clone();
            async move { pool.reserve().await.map(|_| ()) }
        });
        while pool.queue_depth() == 0 {
            tokio::task::yield_now().await;
        }
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(pool.queue_depth(), 0);
        // The place is free again: the next request may queue, and is served when the thread is.
        let next = tokio::spawn({
            let pool = pool.clone();
            async move { pool.reserve().await.map(|_| ()) }
        });
        while pool.queue_depth() == 0 {
            tokio::task::yield_now().await;
        }
        drop(busy);
        assert_eq!(next.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_counts() {
        let pool = CpuPool::new(1, 0, Duration::from_secs(10));
        let _busy = pool.reserve().await.unwrap();
        assert_eq!(pool.reserve().await.err(), Some(PoolError::Saturated));
        assert_eq!(pool.rejected(), 1);
    }

    #[tokio::test]
    async fn a_panic_is_an_error_not_a_crash() {
        let pool = CpuPool::new(1, 0, Duration::from_secs(1));
        let slot = pool.reserve().await.unwrap();
        let r: Result<(), _> = slot.run(|| panic!("boom")).await;
        assert_eq!(r, Err(PoolError::Panicked));
        // The thread is free again.
        assert!(pool.reserve().await.is_ok());
    }
}
