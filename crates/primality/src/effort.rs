//! How much work a long computation (factorisation, primality proof) may do before it gives up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A budget for a long computation: an optional deadline and an optional cancellation flag.
///
/// Long-running functions of this crate (factorisation, primality proofs) poll [`Effort::is_exhausted`] between steps of
/// bounded cost, so they return within a small margin of the deadline, or soon after the flag
/// is raised (a server raises it when the client goes away).
///
/// ```
/// use std::time::Duration;
/// use primality::Effort;
///
/// let unlimited = Effort::unlimited();
/// assert!(!unlimited.is_exhausted());
///
/// let spent = Effort::with_timeout(Duration::ZERO);
/// assert!(spent.is_exhausted());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Effort {
    deadline: Option<Instant>,
    cancel: Option<Arc<AtomicBool>>,
}

impl Effort {
    /// No deadline, no cancellation: run to the end.
    ///
    /// ```
    /// assert!(!primality::Effort::unlimited().is_exhausted());
    /// ```
    pub fn unlimited() -> Self {
        Effort::default()
    }

    /// Give up `timeout` from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = primality::Effort::with_timeout(Duration::from_secs(60));
    /// assert!(!e.is_exhausted());
    /// ```
    pub fn with_timeout(timeout: Duration) -> Self {
        Effort::until(Instant::now().checked_add(timeout))
    }

    /// Give up at `deadline` (`None`: never).
    ///
    /// ```
    /// use std::time::Instant;
    /// let e = primality::Effort::until(Some(Instant::now()));
    /// assert!(e.is_exhausted());
    /// ```
    pub fn until(deadline: Option<Instant>) -> Self {
        Effort {
            deadline,
            cancel: None,
        }
    }

    /// Also give up as soon as `flag` is set (by another thread).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use primality::Effort;
    ///
    /// let flag = Arc::new(AtomicBool::new(false));
    /// let e = Effort::unlimited().cancelled_by(Arc::clone(&flag));
    /// assert!(!e.is_exhausted());
    /// flag.store(true, Ordering::Relaxed);
    /// assert!(e.is_exhausted());
    /// ```
    pub fn cancelled_by(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// The deadline, if any.
    ///
    /// ```
    /// assert!(primality::Effort::unlimited().deadline().is_none());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the deadline has passed or the cancellation flag is set.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(primality::Effort::with_timeout(Duration::ZERO).is_exhausted());
    /// ```
    pub fn is_exhausted(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}
