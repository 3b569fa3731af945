//! The one way this crate takes a mutex.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Lock `m`, also after a holder panicked. Every mutex in this crate guards data that a panic
/// cannot leave half-changed in a way that matters (caches, queues of whole lines, idle SQLite
/// connections, which SQLite rolls back when a transaction is abandoned), so the next holder
/// carries on; the panic itself is reported where it happened.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
