//! The SQLite hot path: consumes batched per thread, run synchronously on the caller's thread.
//!
//! An actix worker is a single-threaded runtime. The first consume on a thread becomes the
//! batch's leader: it yields once, so that the other requests this worker has ready reach their
//! consume too and queue behind it, then runs them all in one `BEGIN IMMEDIATE … COMMIT` on the
//! writer connection and answers them. No request crosses to another thread, and one commit
//! serves the whole batch. The leader's work happens in a drop guard, so a leader whose client
//! goes away still runs the batch for the others; a request whose client has gone before its
//! batch runs is not charged. On a multi-threaded runtime (the key CLI, tests) a consume runs
//! alone, at once.

use std::cell::RefCell;

use rusqlite::{Connection, TransactionBehavior};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::oneshot;

use super::{SqliteStore, StoreError, key_by_hash, sqlite_text};
use crate::domain::schedule::Schedules;
use crate::store::batch::{ConsumeJob, Holder, Locked, MAX_BATCH, answer, distinct_hashes, settle};
use crate::store::sql::{HISTORY_ADD, HISTORY_TAKE, UPDATE_GROUP_QUOTA, UPDATE_KEY_QUOTA, stored};
use crate::store::{Consumed, Policies};

type Reply = oneshot::Sender<Result<Consumed, StoreError>>;

/// The consumes waiting on this thread for one store.
struct Queue {
    store: u64,
    jobs: Vec<(ConsumeJob, Reply)>,
    has_leader: bool,
}

thread_local! {
    static QUEUES: RefCell<Vec<Queue>> = const { RefCell::new(Vec::new()) };
}

/// Queue `job` on this thread; `true` when the caller is to lead the batch.
fn enqueue(store: u64, job: ConsumeJob, reply: Reply) -> bool {
    QUEUES.with_borrow_mut(|queues| {
        let queue = match queues.iter().position(|q| q.store == store) {
            Some(i) => &mut queues[i],
            None => {
                queues.push(Queue {
                    store,
                    jobs: Vec::new(),
                    has_leader: false,
                });
                let last = queues.len() - 1;
                &mut queues[last]
            }
        };
        queue.jobs.push((job, reply));
        !std::mem::replace(&mut queue.has_leader, true)
    })
}

/// Take this thread's waiting consumes for `store` (the leader's turn is over).
fn take_queue(store: u64) -> Vec<(ConsumeJob, Reply)> {
    QUEUES.with_borrow_mut(
        |queues| match queues.iter_mut().find(|q| q.store == store) {
            Some(queue) => {
                queue.has_leader = false;
                std::mem::take(&mut queue.jobs)
            }
            None => Vec::new(),
        },
    )
}

/// Runs the batch when dropped: after the leader's yield, or when the leader is cancelled.
struct Leader<'a> {
    store: &'a SqliteStore,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let mut waiting = take_queue(self.store.inner.id);
        waiting.retain(|(_, reply)| !reply.is_closed());
        while !waiting.is_empty() {
            let rest = waiting.split_off(waiting.len().min(MAX_BATCH));
            let jobs: Vec<ConsumeJob> = waiting.iter().map(|(job, _)| *job).collect();
            let result = self.store.run_batch(&jobs);
            answer(&mut waiting, result);
            waiting = rest;
        }
    }
}

/// One batch in one transaction on `conn`: read each presented key with the quota it uses,
/// settle, write the changed quotas and the history, commit.
fn run_batch_on(
    conn: &mut Connection,
    jobs: &[ConsumeJob],
    schedules: &Schedules,
    policies: &Policies,
) -> Result<Vec<Consumed>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut locked = Locked::default();
    for hash in distinct_hashes(jobs) {
        locked.insert(hash, key_by_hash(&tx, &hash)?);
    }
    let results = settle(jobs, &mut locked, schedules, policies);
    for (holder, row) in locked.changed() {
        let (sql, id) = match holder {
            Holder::Key(id) => (UPDATE_KEY_QUOTA, id),
            Holder::Group(id) => (UPDATE_GROUP_QUOTA, id),
        };
        tx.prepare_cached(&sqlite_text(sql))?.execute((
            id,
            stored(row.used)?,
            row.period.start,
            row.period.end,
            row.tat_us,
        ))?;
    }
    for (key, day, units) in locked.history_rows() {
        let sql = if units > 0 { HISTORY_ADD } else { HISTORY_TAKE };
        tx.prepare_cached(&sqlite_text(sql))?
            .execute((key, day, units.abs()))?;
    }
    tx.commit()?;
    Ok(results)
}

impl SqliteStore {
    fn run_batch(&self, jobs: &[ConsumeJob]) -> Result<Vec<Consumed>, StoreError> {
        self.with_writer(|conn| {
            run_batch_on(conn, jobs, &self.inner.schedules, &self.inner.policies)
        })
    }

    /// Run `job` in a batch with this thread's other consumes; committed before it returns.
    pub(crate) async fn consume(&self, job: ConsumeJob) -> Result<Consumed, StoreError> {
        let single_threaded =
            Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread);
        if !single_threaded {
            return self
                .run_batch(&[job])?
                .pop()
                .ok_or_else(|| StoreError::Corrupt("a batch lost its result".to_owned()));
        }
        let (reply, answer) = oneshot::channel();
        if enqueue(self.inner.id, job, reply) {
            let leader = Leader { store: self };
            tokio::task::yield_now().await;
            drop(leader);
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }
}
