//! The SQLite hot path, batched: one task owns a dedicated writer connection and runs every
//! pending consume in one round trip (`BEGIN IMMEDIATE; <consume>; <consume>; …; COMMIT`), and a
//! few reader tasks answer pending key lookups with one `WHERE key_hash IN (…)` query each.
//!
//! Each consume is still its own atomic conditional statement (exactness is unchanged), answers
//! are sent only after the batch has committed (durability is unchanged), and a batch of one is
//! a plain autocommit statement. Batching only removes per-statement round trips and commits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Either, Executor, Row};
use tokio::sync::{mpsc, oneshot};

use super::KeyRecord;
use super::sqlite::{CONSUME_SQL, record};
use crate::quota::QuotaState;

/// Most statements in one batch.
const MAX_BATCH: usize = 64;
/// Reader tasks (connections) for key lookups.
const READERS: usize = 1;

/// What the consume statement returns.
#[derive(Debug, Clone)]
pub(crate) struct Consumed {
    pub prefix: String,
    pub state: QuotaState,
}

struct ConsumeJob {
    hash: [u8; 32],
    now: i64,
    start: i64,
    end: i64,
    reply: oneshot::Sender<Result<Option<Consumed>, String>>,
}

struct LookupJob {
    hash: [u8; 32],
    reply: oneshot::Sender<Result<Option<KeyRecord>, String>>,
}

enum Msg<J> {
    Job(J),
    Close(oneshot::Sender<()>),
}

/// Handles to the hot-path tasks.
#[derive(Debug)]
pub(crate) struct HotPath {
    id: usize,
    options: SqliteConnectOptions,
    consume: mpsc::Sender<Msg<ConsumeJob>>,
    lookups: Vec<mpsc::Sender<Msg<LookupJob>>>,
    /// Lookup tasks started on the callers' own single-threaded runtimes (actix workers): a
    /// lookup then never crosses to another runtime thread and back. Closed with the rest.
    local_lookups: std::sync::Mutex<Vec<mpsc::Sender<Msg<LookupJob>>>>,
    next: AtomicUsize,
}

static HOT_PATH_IDS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's lookup task per hot path (by id).
    static LOCAL_LOOKUP: std::cell::RefCell<Vec<(usize, mpsc::Sender<Msg<LookupJob>>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl<J> std::fmt::Debug for Msg<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

fn consume_sqls() -> Vec<Arc<str>> {
    // The single statement with its parameters renumbered per position: $1..$4, $5..$8, …
    let one = |i: usize| {
        let base = 4 * i;
        let mut sql = CONSUME_SQL.to_owned();
        for p in 1..=4 {
            sql = sql.replace(&format!("${p}"), &format!("\u{1}{p}\u{1}"));
        }
        for p in 1..=4 {
            sql = sql.replace(&format!("\u{1}{p}\u{1}"), &format!("${}", base + p));
        }
        sql
    };
    (1..=MAX_BATCH)
        .map(|n| {
            if n == 1 {
                Arc::from(one(0))
            } else {
                let mut sql = String::from("BEGIN IMMEDIATE;\n");
                for i in 0..n {
                    sql.push_str(&one(i));
                    sql.push_str(";\n");
                }
                sql.push_str("COMMIT;");
                Arc::from(sql)
            }
        })
        .collect()
}

fn lookup_sqls() -> Vec<Arc<str>> {
    (1..=MAX_BATCH)
        .map(|n| {
            let params: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
            Arc::from(format!(
                "SELECT key_hash, id, name, prefix, quota_limit, used, reset_schedule, period_start, \
                 next_reset_at, expires_at, revoked, created_at FROM api_keys WHERE key_hash IN ({})",
                params.join(", ")
            ))
        })
        .collect()
}

fn consumed(row: &SqliteRow) -> Result<Consumed, sqlx::Error> {
    Ok(Consumed {
        prefix: row.try_get("prefix")?,
        state: QuotaState {
            limit: row.try_get("quota_limit")?,
            used: row.try_get("used")?,
            period_start: row.try_get("period_start")?,
            next_reset_at: row.try_get("next_reset_at")?,
        },
    })
}

/// Drain up to MAX_BATCH jobs (the first awaited). `None`: channel closed;
/// `Some(Some(ack))`: asked to close after this batch.
async fn next_batch<J>(
    rx: &mut mpsc::Receiver<Msg<J>>,
    batch: &mut Vec<J>,
) -> Option<Option<oneshot::Sender<()>>> {
    match rx.recv().await? {
        Msg::Job(j) => batch.push(j),
        Msg::Close(ack) => return Some(Some(ack)),
    }
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(Msg::Job(j)) => batch.push(j),
            Ok(Msg::Close(ack)) => return Some(Some(ack)),
            Err(_) => break,
        }
    }
    Some(None)
}

async fn run_consumes(
    conn: &mut SqliteConnection,
    batch: &[ConsumeJob],
    sqls: &[Arc<str>],
) -> Result<Vec<Option<Consumed>>, sqlx::Error> {
    let n = batch.len();
    let mut query = sqlx::query(AssertSqlSafe(Arc::clone(&sqls[n - 1])));
    for j in batch {
        query = query
            .bind(&j.hash[..])
            .bind(j.now)
            .bind(j.start)
            .bind(j.end);
    }
    let offset = usize::from(n > 1); // BEGIN comes first in a batch
    let mut results = vec![None; n];
    let mut done = 0usize;
    let mut stream = conn.fetch_many(query);
    while let Some(item) = stream.try_next().await? {
        match item {
            Either::Left(_) => done += 1,
            Either::Right(row) => {
                if let Some(slot) = done.checked_sub(offset).and_then(|i| results.get_mut(i)) {
                    *slot = Some(consumed(&row)?);
                }
            }
        }
    }
    Ok(results)
}

async fn consume_task(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Msg<ConsumeJob>>) {
    let sqls = consume_sqls();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let closing: Option<oneshot::Sender<()>> =
            next_batch(&mut rx, &mut batch).await.unwrap_or_default();
        if !batch.is_empty() {
            match run_consumes(&mut conn, &batch, &sqls).await {
                Ok(results) => {
                    for (job, r) in batch.drain(..).zip(results) {
                        let _ = job.reply.send(Ok(r));
                    }
                }
                Err(e) => {
                    if batch.len() > 1 {
                        let _ = conn.execute(sqlx::raw_sql("ROLLBACK")).await;
                    }
                    let msg = e.to_string();
                    for job in batch.drain(..) {
                        let _ = job.reply.send(Err(msg.clone()));
                    }
                }
            }
        }
        if let Some(ack) = closing {
            let _ = conn.close().await;
            let _ = ack.send(());
            return;
        }
        if rx.is_closed() && rx.is_empty() {
            let _ = conn.close().await;
            return;
        }
    }
}

async fn run_lookups(
    conn: &mut SqliteConnection,
    batch: &[LookupJob],
    sqls: &[Arc<str>],
) -> Result<Vec<Option<KeyRecord>>, sqlx::Error> {
    let mut distinct: Vec<&[u8; 32]> = Vec::with_capacity(batch.len());
    for j in batch {
        if !distinct.contains(&&j.hash) {
            distinct.push(&j.hash);
        }
    }
    let mut query = sqlx::query(AssertSqlSafe(Arc::clone(&sqls[distinct.len() - 1])));
    for h in &distinct {
        query = query.bind(&h[..]);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut found: Vec<(Vec<u8>, KeyRecord)> = Vec::with_capacity(rows.len());
    for row in &rows {
        found.push((row.try_get("key_hash")?, record(row)?));
    }
    Ok(batch
        .iter()
        .map(|j| {
            found
                .iter()
                .find(|(h, _)| h.as_slice() == j.hash.as_slice())
                .map(|(_, r)| r.clone())
        })
        .collect())
}

async fn lookup_task(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Msg<LookupJob>>) {
    let sqls = lookup_sqls();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let closing: Option<oneshot::Sender<()>> =
            next_batch(&mut rx, &mut batch).await.unwrap_or_default();
        if !batch.is_empty() {
            match run_lookups(&mut conn, &batch, &sqls).await {
                Ok(results) => {
                    for (job, r) in batch.drain(..).zip(results) {
                        let _ = job.reply.send(Ok(r));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for job in batch.drain(..) {
                        let _ = job.reply.send(Err(msg.clone()));
                    }
                }
            }
        }
        if let Some(ack) = closing {
            let _ = conn.close().await;
            let _ = ack.send(());
            return;
        }
        if rx.is_closed() && rx.is_empty() {
            let _ = conn.close().await;
            return;
        }
    }
}

/// Answer every job with `error` (the task's connection could not be opened).
async fn fail_all(mut rx: mpsc::Receiver<Msg<LookupJob>>, error: &str) {
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Job(job) => {
                let _ = job.reply.send(Err(error.to_owned()));
            }
            Msg::Close(ack) => {
                let _ = ack.send(());
                return;
            }
        }
    }
}

/// The store's hot path failed (connection lost, database error, tasks gone).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HotPathError(pub String);

impl HotPath {
    /// Open the dedicated connections and start the tasks.
    pub(crate) async fn start(options: &SqliteConnectOptions) -> Result<Self, sqlx::Error> {
        let (tx, rx) = mpsc::channel(4096);
        let conn = options.connect().await?;
        tokio::spawn(consume_task(conn, rx));
        let mut lookups = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let (tx, rx) = mpsc::channel(4096);
            let conn = options.connect().await?;
            tokio::spawn(lookup_task(conn, rx));
            lookups.push(tx);
        }
        Ok(HotPath {
            id: HOT_PATH_IDS.fetch_add(1, Ordering::Relaxed),
            options: options.clone(),
            consume: tx,
            lookups,
            local_lookups: std::sync::Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        })
    }

    /// Run the consume statement for one key (batched with concurrent ones).
    pub(crate) async fn consume(
        &self,
        hash: [u8; 32],
        now: i64,
        start: i64,
        end: i64,
    ) -> Result<Option<Consumed>, HotPathError> {
        let (reply, rx) = oneshot::channel();
        self.consume
            .send(Msg::Job(ConsumeJob {
                hash,
                now,
                start,
                end,
                reply,
            }))
            .await
            .map_err(|_| HotPathError("store is closed".into()))?;
        rx.await
            .map_err(|_| HotPathError("store task stopped".into()))?
            .map_err(HotPathError)
    }

    /// This thread's lookup task, started on first use, when the caller runs on a
    /// single-threaded runtime (each actix worker has one); `None` elsewhere.
    fn local_lookup(&self) -> Option<mpsc::Sender<Msg<LookupJob>>> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
            return None;
        }
        if self.consume.is_closed() {
            return None;
        }
        LOCAL_LOOKUP.with(|local| {
            let mut local = local.borrow_mut();
            // Tasks of runtimes that have since stopped are gone: forget them.
            local.retain(|(_, tx)| !tx.is_closed());
            if let Some((_, tx)) = local.iter().find(|(id, _)| *id == self.id) {
                return Some(tx.clone());
            }
            let mut registry = self.local_lookups.lock().ok()?;
            let (tx, rx) = mpsc::channel(4096);
            let options = self.options.clone();
            handle.spawn(async move {
                match options.connect().await {
                    Ok(conn) => lookup_task(conn, rx).await,
                    Err(e) => fail_all(rx, &e.to_string()).await,
                }
            });
            registry.retain(|tx| !tx.is_closed());
            registry.push(tx.clone());
            local.push((self.id, tx.clone()));
            Some(tx)
        })
    }

    /// Look a key up by hash (batched with concurrent lookups).
    pub(crate) async fn lookup(&self, hash: [u8; 32]) -> Result<Option<KeyRecord>, HotPathError> {
        let (reply, rx) = oneshot::channel();
        let job = Msg::Job(LookupJob { hash, reply });
        let job = match self.local_lookup() {
            Some(tx) => match tx.send(job).await {
                Ok(()) => None,
                Err(mpsc::error::SendError(job)) => Some(job),
            },
            None => Some(job),
        };
        if let Some(job) = job {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.lookups.len();
            self.lookups[i]
                .send(job)
                .await
                .map_err(|_| HotPathError("store is closed".into()))?;
        }
        rx.await
            .map_err(|_| HotPathError("store task stopped".into()))?
            .map_err(HotPathError)
    }

    /// Finish pending work and close the dedicated connections.
    pub(crate) async fn close(&self) {
        let mut acks = Vec::new();
        let local: Vec<_> = self
            .local_lookups
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        let senders = std::iter::once(None)
            .chain(self.lookups.iter().map(Some))
            .chain(local.iter().map(Some));
        for s in senders {
            let (ack, rx) = oneshot::channel();
            let sent = match s {
                None => self.consume.send(Msg::Close(ack)).await.is_ok(),
                Some(s) => s.send(Msg::Close(ack)).await.is_ok(),
            };
            if sent {
                acks.push(rx);
            }
        }
        for a in acks {
            let _ = a.await;
        }
    }
}
