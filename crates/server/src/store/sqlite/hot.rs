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
use crate::store::sql::{
    HISTORY_ADD, HISTORY_TAKE, UPDATE_GROUP_QUOTA, UPDATE_GROUP_USAGE, UPDATE_KEY_QUOTA,
    UPDATE_KEY_USAGE, stored,
};
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
        let (id, quota, usage) = match holder {
            Holder::Key(id) => (id, UPDATE_KEY_QUOTA, UPDATE_KEY_USAGE),
            Holder::Group(id) => (id, UPDATE_GROUP_QUOTA, UPDATE_GROUP_USAGE),
        };
        let used = stored(row.used)?;
        if row.period_changed() {
            let (start, end) = (row.period.start, row.period.end);
            tx.prepare_cached(&sqlite_text(quota))?
                .execute((id, used, start, end, row.tat_us))?;
        } else {
            tx.prepare_cached(&sqlite_text(usage))?
                .execute((id, used, row.tat_us))?;
        }
    }
    for (key, day, units) in locked.history_rows() {
        count_usage(&tx, key, day, units)?;
    }
    tx.commit()?;
    Ok(results)
}

/// Add `$3` units (negative: given back, never below 0) to key `$1`'s count in its own row, if
/// that count is of day `$2`.
const USAGE_IN_ROW: &str = "UPDATE api_keys SET usage_day_used = MAX(usage_day_used + ?3, 0) \
    WHERE id = ?1 AND usage_day = ?2";

/// Move key `$1`'s count in its row into `usage_history`, if it is of a day before `$2`.
const USAGE_ROW_FLUSH: &str = "INSERT INTO usage_history (key_id, day, used) \
    SELECT id, usage_day, usage_day_used FROM api_keys \
    WHERE id = ?1 AND usage_day < ?2 AND usage_day_used > 0 \
    ON CONFLICT (key_id, day) DO UPDATE SET used = usage_history.used + excluded.used";

/// Start key `$1`'s count in its row at day `$2` with `$3` units, if it was of an earlier day.
const USAGE_ROW_START: &str = "UPDATE api_keys SET usage_day = ?2, usage_day_used = ?3 \
    WHERE id = ?1 AND usage_day < ?2";

/// Count `units` (negative: given back) for key `key` on UTC day `day`: in the key's own row
/// while it counts that day (the batch writes that page anyway, where a `usage_history` row
/// costs a second WAL page); a later day moves the row's count into `usage_history` first;
/// units of an earlier day go to `usage_history` directly. Readers see both (`usage_days`).
fn count_usage(
    tx: &rusqlite::Transaction<'_>,
    key: i64,
    day: i64,
    units: i64,
) -> Result<(), StoreError> {
    if tx
        .prepare_cached(USAGE_IN_ROW)?
        .execute((key, day, units))?
        == 1
    {
        return Ok(());
    }
    if units > 0 {
        tx.prepare_cached(USAGE_ROW_FLUSH)?.execute((key, day))?;
        if tx
            .prepare_cached(USAGE_ROW_START)?
            .execute((key, day, units))?
            == 1
        {
            return Ok(());
        }
    }
    let sql = if units > 0 { HISTORY_ADD } else { HISTORY_TAKE };
    tx.prepare_cached(&sqlite_text(sql))?
        .execute((key, day, units.abs()))?;
    Ok(())
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
