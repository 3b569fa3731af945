//! PostgreSQL backend: the same schema, statements and semantics as the SQLite backend, for
//! several server instances sharing one database. Row locks make the conditional updates exact
//! across instances (READ COMMITTED re-evaluates the WHERE clause on the locked row).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{Consume, KeyRecord, KeyUpdate, NewKey, StoreError};
use crate::keys::KeyHash;
use crate::quota::{Period, QuotaState, Schedules};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The hot-path statement: authenticate by hash, check revocation and expiry, apply a due
/// reset lazily (for keys on the default schedule) and consume one unit — all in one atomic
/// statement. `$1` hash, `$2` now, `$3`/`$4` the default schedule's period containing now.
pub const CONSUME_SQL: &str = "UPDATE api_keys SET \
    used = CASE WHEN next_reset_at <= $2 THEN 1 ELSE used + 1 END, \
    period_start = CASE WHEN next_reset_at <= $2 THEN $3 ELSE period_start END, \
    next_reset_at = CASE WHEN next_reset_at <= $2 THEN $4 ELSE next_reset_at END \
    WHERE key_hash = $1 AND revoked = FALSE AND (expires_at IS NULL OR expires_at > $2) \
    AND quota_limit > 0 \
    AND ((next_reset_at > $2 AND used < quota_limit) \
         OR (next_reset_at <= $2 AND reset_schedule IS NULL)) \
    RETURNING prefix, quota_limit, used, period_start, next_reset_at";

/// PostgreSQL-backed store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    writer: PgPool,
    reader: PgPool,
    hot: HotPath,
    /// Bound on a health check, so `/healthz` answers `503` promptly even when the network to
    /// the database hangs instead of refusing.
    acquire_timeout: Duration,
}

fn record(row: &PgRow) -> Result<KeyRecord, sqlx::Error> {
    Ok(KeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        limit: row.try_get("quota_limit")?,
        used: row.try_get("used")?,
        reset_schedule: row.try_get("reset_schedule")?,
        period_start: row.try_get("period_start")?,
        next_reset_at: row.try_get("next_reset_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked: row.try_get("revoked")?,
        created_at: row.try_get("created_at")?,
    })
}

fn granted(row: &PgRow) -> Result<Consume, sqlx::Error> {
    Ok(Consume::Granted {
        prefix: row.try_get("prefix")?,
        state: QuotaState {
            limit: row.try_get("quota_limit")?,
            used: row.try_get("used")?,
            period_start: row.try_get("period_start")?,
            next_reset_at: row.try_get("next_reset_at")?,
        },
    })
}

/// Most consumes in one batch.
const MAX_BATCH: usize = 64;
/// Longest wait for more consumes before a batch is sent (see `consume_task`).
const LINGER: Duration = Duration::from_micros(500);

/// One consume waiting for the batcher.
struct ConsumeJob {
    hash: [u8; 32],
    now: i64,
    start: i64,
    end: i64,
    reply: oneshot::Sender<Result<Option<Consume>, String>>,
}

/// The batched hot path. Every metered request on PostgreSQL needs one commit, and a commit
/// waits for the WAL flush; one task therefore gathers the consumes that arrive while the
/// previous batch runs and sends them as ONE statement (`prime_consume_batch`, see
/// migrations/postgres). Each element applies the single-request consume statement's rules
/// under the key's row lock (requests for one key at one second are one element asking for
/// several units), in order inside one transaction, so exactness is unchanged; one round trip
/// and one WAL flush
/// serve the whole batch, and every answer is sent only after the batch has committed (a batch
/// that fails is rolled back as a whole: all its requests get `503`, nothing is charged).
/// Batches are sorted by key hash, so concurrent batches of several instances take row locks in
/// the same order and cannot deadlock.
#[derive(Debug, Clone)]
struct HotPath {
    tx: mpsc::Sender<ConsumeJob>,
    arrived: Arc<Notify>,
}

impl std::fmt::Debug for ConsumeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsumeJob")
    }
}

impl HotPath {
    fn start(pool: PgPool) -> HotPath {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let arrived = Arc::new(Notify::new());
        tokio::spawn(consume_task(pool, rx, Arc::clone(&arrived)));
        HotPath { tx, arrived }
    }

    /// Run the consume statement for `hash` (in a batch); the grant, or `None` when the
    /// statement matched no row.
    async fn consume(
        &self,
        hash: &KeyHash,
        now: i64,
        start: i64,
        end: i64,
    ) -> Result<Option<Consume>, StoreError> {
        let (reply, rx) = oneshot::channel();
        let job = ConsumeJob {
            hash: hash.0,
            now,
            start,
            end,
            reply,
        };
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::Hot("the consume batcher has stopped".into()))?;
        self.arrived.notify_one();
        rx.await
            .map_err(|_| StoreError::Hot("the consume batcher has stopped".into()))?
            .map_err(StoreError::Hot)
    }
}

async fn consume_task(pool: PgPool, mut rx: mpsc::Receiver<ConsumeJob>, arrived: Arc<Notify>) {
    let mut batch: Vec<ConsumeJob> = Vec::with_capacity(MAX_BATCH);
    // Requests in flight at the end of the previous batch: those it answered plus those that
    // queued meanwhile.
    let mut expected = 0usize;
    while let Some(first) = rx.recv().await {
        batch.push(first);
        // Linger briefly for the clients the previous batch just answered: they usually send
        // their next request within microseconds, and a commit costs a WAL flush (~1 ms on
        // ordinary disks) however many requests it carries. Without this, batches alternate
        // between two halves of the clients and each request waits for two flushes.
        let target = expected.min(MAX_BATCH);
        if batch.len() + rx.len() < target {
            let deadline = tokio::time::Instant::now() + LINGER;
            while batch.len() + rx.len() < target {
                if tokio::time::timeout_at(deadline, arrived.notified())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        batch.sort_by_key(|j| (j.hash, j.now));
        let result = run_batch(&pool, &batch).await;
        expected = batch.len() + rx.len();
        match result {
            Ok(mut results) => {
                for (job, r) in batch.drain(..).zip(results.drain(..)) {
                    let _ = job.reply.send(Ok(r));
                }
            }
            Err(e) => {
                expected = 0;
                let msg = e.to_string();
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(msg.clone()));
                }
            }
        }
    }
}

async fn run_batch(
    pool: &PgPool,
    batch: &[ConsumeJob],
) -> Result<Vec<Option<Consume>>, sqlx::Error> {
    let mut results: Vec<Option<Consume>> = vec![None; batch.len()];
    if let [job] = batch {
        // A batch of one is the plain statement.
        let row = sqlx::query(CONSUME_SQL)
            .bind(&job.hash[..])
            .bind(job.now)
            .bind(job.start)
            .bind(job.end)
            .fetch_optional(pool)
            .await?;
        results[0] = row.as_ref().map(granted).transpose()?;
        return Ok(results);
    }
    // Consecutive jobs for the same key at the same moment (the batch is sorted by hash, then
    // time) become one element asking for several units.
    let mut groups: Vec<(usize, usize)> = Vec::new(); // (first job, count)
    for (i, j) in batch.iter().enumerate() {
        match groups.last_mut() {
            Some((first, count))
                if batch[*first].hash == j.hash
                    && batch[*first].now == j.now
                    && batch[*first].start == j.start
                    && batch[*first].end == j.end =>
            {
                *count += 1;
            }
            _ => groups.push((i, 1)),
        }
    }
    let hashes: Vec<Vec<u8>> = groups.iter().map(|g| batch[g.0].hash.to_vec()).collect();
    let counts: Vec<i32> = groups
        .iter()
        .map(|g| i32::try_from(g.1).unwrap_or(i32::MAX))
        .collect();
    let nows: Vec<i64> = groups.iter().map(|g| batch[g.0].now).collect();
    let starts: Vec<i64> = groups.iter().map(|g| batch[g.0].start).collect();
    let ends: Vec<i64> = groups.iter().map(|g| batch[g.0].end).collect();
    let rows = sqlx::query(
        "SELECT o_idx, o_granted, o_prefix, o_quota_limit, o_used, o_period_start, \
         o_next_reset_at FROM prime_consume_batch($1, $2, $3, $4, $5)",
    )
    .bind(hashes)
    .bind(counts)
    .bind(nows)
    .bind(starts)
    .bind(ends)
    .fetch_all(pool)
    .await?;
    for row in &rows {
        let idx: i32 = row.try_get("o_idx")?;
        let granted: i64 = row.try_get("o_granted")?;
        let used_after: i64 = row.try_get("o_used")?;
        let &(first, count) = usize::try_from(idx)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| groups.get(i))
            .ok_or_else(|| sqlx::Error::Protocol(format!("batch index {idx} out of range")))?;
        let granted = usize::try_from(granted).unwrap_or(0).min(count);
        let prefix: String = row.try_get("o_prefix")?;
        let limit: i64 = row.try_get("o_quota_limit")?;
        let period_start: i64 = row.try_get("o_period_start")?;
        let next_reset_at: i64 = row.try_get("o_next_reset_at")?;
        // The first `granted` jobs of the group got units used_after - granted + 1 ..= used_after;
        // the others got nothing (the caller finds out whether that is 429 or 401).
        for (j, slot) in results[first..first + granted].iter_mut().enumerate() {
            *slot = Some(Consume::Granted {
                prefix: prefix.clone(),
                state: QuotaState {
                    limit,
                    used: used_after - granted as i64 + 1 + j as i64,
                    period_start,
                    next_reset_at,
                },
            });
        }
    }
    Ok(results)
}

/// Connection-pool settings for PostgreSQL (`serve --db-*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most connections this instance opens; every instance opens its own pool.
    pub max_connections: u32,
    /// Connections kept open even when idle.
    pub min_connections: u32,
    /// How long a request waits for a connection (including reconnect attempts while the
    /// database is down) before it is answered `503`.
    pub acquire_timeout: Duration,
    /// Server-side `statement_timeout` of every connection (0: none).
    pub statement_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this long.
    pub idle_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 16,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Advisory-lock id serialising "create the first key if there is none" across instances
/// ("prime_k1" in ASCII).
const FIRST_KEY_LOCK: i64 = 0x7072_696d_655f_6b31;

impl PostgresStore {
    /// Connect to `url` (`postgres://…`) with the default pool settings and migrate.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &PoolConfig::default()).await
    }

    /// Connect to `url` (`postgres://…`) and migrate. Safe when several instances start at
    /// once: sqlx's migrator holds a database-wide advisory lock while it runs, and the
    /// migrations themselves are idempotent (`IF NOT EXISTS`).
    pub async fn connect_with(url: &str, cfg: &PoolConfig) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url)?;
        let statement_ms = cfg.statement_timeout.as_millis();
        if statement_ms > 0 {
            options = options.options([("statement_timeout", statement_ms.to_string())]);
        }
        let acquire_timeout = cfg.acquire_timeout.max(Duration::from_millis(1));
        let pool = PgPoolOptions::new()
            .max_connections(cfg.max_connections.max(1))
            .min_connections(cfg.min_connections.min(cfg.max_connections.max(1)))
            .test_before_acquire(false)
            .acquire_timeout(acquire_timeout)
            .idle_timeout(Some(cfg.idle_timeout))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore {
            hot: HotPath::start(pool.clone()),
            writer: pool.clone(),
            reader: pool,
            acquire_timeout,
        })
    }

    /// Insert `key` only if the table holds no key at all. A transaction-scoped advisory lock
    /// serialises instances starting at the same moment, so exactly one of them creates it.
    pub(crate) async fn create_first_key(&self, key: &NewKey) -> Result<Option<i64>, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FIRST_KEY_LOCK)
            .execute(&mut *tx)
            .await?;
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys)")
            .fetch_one(&mut *tx)
            .await?;
        if any {
            tx.rollback().await?;
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(Self::INSERT_KEY_SQL)
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(&key.hash.0[..])
            .bind(key.limit)
            .bind(key.reset_schedule.as_deref())
            .bind(key.expires_at)
            .bind(key.now)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// The hot path: authenticate, lazily reset (default schedule) and consume, batched with
    /// the other requests in flight into one statement and one commit. `None`: not granted by it.
    pub(crate) async fn try_consume(
        &self,
        hash: &KeyHash,
        now: i64,
        default: &Period,
    ) -> Result<Option<Consume>, StoreError> {
        self.hot
            .consume(hash, now, default.start, default.end)
            .await
    }

    pub(crate) async fn authenticate(
        &self,
        hash: &KeyHash,
        now: i64,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, prefix, quota_limit, used, reset_schedule, period_start, \
             next_reset_at, expires_at, revoked, created_at FROM api_keys \
             WHERE key_hash = $1 AND revoked = FALSE AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(&hash.0[..])
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(record).transpose()?)
    }

    shared_store_methods!();

    pub(crate) async fn health(&self) -> Result<(), StoreError> {
        let probe = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM api_keys WHERE id = 0")
            .fetch_one(&self.reader);
        match tokio::time::timeout(self.acquire_timeout * 2, probe).await {
            Ok(r) => r.map(|_| ()).map_err(StoreError::from),
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
        }
    }

    pub(crate) async fn close(&self) {
        self.writer.close().await;
    }
}
