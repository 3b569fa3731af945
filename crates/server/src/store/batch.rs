//! Consumes in batches: the one step both backends share ([`settle`]: the quota rule applied
//! to every request of a batch, in order, on the rows read under the write lock), and the
//! collector that gathers concurrent requests into batches for a backend that runs them on
//! its own task ([`Batcher`], PostgreSQL).
//!
//! A batch is one transaction: the rows are read under the lock, every request is decided by
//! [`decide`], the changed rows are written, and nobody is answered before the commit. A batch
//! that fails is rolled back as a whole and every request in it gets the error (nothing is
//! charged).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use super::{Consumed, KeyRecord, StoreError};
use crate::domain::keys::KeyHash;
use crate::domain::quota::{Decision, Demand, KeyState, decide};
use crate::domain::schedule::Schedules;

/// One consume: the presented key's hash, what it asks for, and when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConsumeJob {
    pub hash: KeyHash,
    pub demand: Demand,
    pub now: i64,
}

/// A key row read under the write lock for a batch, and whether the batch changed it.
#[derive(Debug, Clone)]
pub(crate) struct LockedKey {
    pub id: i64,
    pub prefix: String,
    pub state: KeyState,
    pub changed: bool,
}

impl From<KeyRecord> for LockedKey {
    fn from(k: KeyRecord) -> Self {
        LockedKey {
            id: k.id,
            prefix: k.prefix,
            state: k.state,
            changed: false,
        }
    }
}

/// The rows of a batch by key hash (`None`: no key has that hash).
pub(crate) type LockedKeys = HashMap<KeyHash, Option<LockedKey>>;

/// Decide every job, in order, against `keys`, updating the rows in memory; the backend then
/// writes the rows marked `changed` and commits.
pub(crate) fn settle<'a>(
    jobs: impl IntoIterator<Item = &'a ConsumeJob>,
    keys: &mut LockedKeys,
    schedules: &Schedules,
) -> Vec<Consumed> {
    jobs.into_iter()
        .map(|job| {
            let key = keys.get_mut(&job.hash).and_then(Option::as_mut);
            let decision = decide(
                key.as_ref().map(|k| &k.state),
                job.demand,
                job.now,
                schedules,
            );
            match (key, &decision) {
                (
                    Some(key),
                    Decision::Granted { quota, .. } | Decision::GivenBack { quota, .. },
                ) => {
                    key.state.used = quota.used;
                    key.state.period = quota.period;
                    key.changed = true;
                    Consumed {
                        prefix: Some(key.prefix.clone()),
                        decision,
                    }
                }
                (key, _) => Consumed {
                    prefix: key.map(|k| k.prefix.clone()),
                    decision,
                },
            }
        })
        .collect()
}

/// The distinct hashes of `jobs`, sorted (row locks are then always taken in the same order,
/// so concurrent batches of several instances cannot deadlock).
pub(crate) fn distinct_hashes<'a>(jobs: impl IntoIterator<Item = &'a ConsumeJob>) -> Vec<KeyHash> {
    let mut hashes: Vec<KeyHash> = jobs.into_iter().map(|j| j.hash).collect();
    hashes.sort_unstable_by_key(|h| h.0);
    hashes.dedup();
    hashes
}

/// Most consumes in one batch.
pub(crate) const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Consumed, StoreError>>;

/// Gathers the consumes that arrive while the previous batch runs and hands them to the
/// backend's `run` as one batch, on one task. A commit costs a WAL flush however many requests it
/// carries, so one flush then serves everyone who was waiting.
#[derive(Debug, Clone)]
pub(crate) struct Batcher {
    tx: mpsc::Sender<(ConsumeJob, Reply)>,
    arrived: Arc<Notify>,
}

/// Longest wait for more consumes before a batch is sent (see [`Batcher::start`]).
const LINGER: Duration = Duration::from_micros(500);

impl Batcher {
    /// Start the collecting task; `run` executes one batch and answers each job in order.
    pub(crate) fn start<R, F>(run: R) -> Batcher
    where
        R: Fn(Vec<ConsumeJob>) -> F + Send + 'static,
        F: Future<Output = Result<Vec<Consumed>, StoreError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let arrived = Arc::new(Notify::new());
        tokio::spawn(collect(rx, Arc::clone(&arrived), run));
        Batcher { tx, arrived }
    }

    /// Queue one consume and wait for its batch to commit.
    pub(crate) async fn consume(&self, job: ConsumeJob) -> Result<Consumed, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((job, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        self.arrived.notify_one();
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn collect<R, F>(mut rx: mpsc::Receiver<(ConsumeJob, Reply)>, arrived: Arc<Notify>, run: R)
where
    R: Fn(Vec<ConsumeJob>) -> F,
    F: Future<Output = Result<Vec<Consumed>, StoreError>>,
{
    let mut batch: Vec<(ConsumeJob, Reply)> = Vec::with_capacity(MAX_BATCH);
    // Requests in flight when the previous batch ended: those it answered plus those queued.
    let mut expected = 0usize;
    while let Some(first) = rx.recv().await {
        batch.push(first);
        // Linger briefly for the clients the previous batch just answered: they usually send
        // their next request within microseconds, and without this, batches alternate between
        // two halves of the clients and each request waits for two commits.
        let target = expected.min(MAX_BATCH);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() + rx.len() < target
            && tokio::time::timeout_at(deadline, arrived.notified())
                .await
                .is_ok()
        {}
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A request whose client has gone is not charged.
        batch.retain(|(_, reply)| !reply.is_closed());
        let jobs = batch.iter().map(|(job, _)| *job).collect();
        let result = if batch.is_empty() {
            Ok(Vec::new())
        } else {
            run(jobs).await
        };
        expected = batch.len() + rx.len();
        answer(&mut batch, result);
    }
}

/// Send each waiting request its result (or the batch's error).
pub(crate) fn answer(
    batch: &mut Vec<(ConsumeJob, Reply)>,
    result: Result<Vec<Consumed>, StoreError>,
) {
    match result {
        Ok(results) => {
            for ((_, reply), consumed) in batch.drain(..).zip(results) {
                let _ = reply.send(Ok(consumed));
            }
        }
        Err(e) => {
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
