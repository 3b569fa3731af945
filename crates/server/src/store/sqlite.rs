//! SQLite backend: WAL, `synchronous = NORMAL` (committed transactions survive a process kill),
//! one writer connection (no `SQLITE_BUSY` thrash between our own writers) and a small reader pool.

use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::sqlite_batch::HotPath;
use super::{Consume, KeyRecord, KeyUpdate, NewKey, StoreError};
use crate::keys::KeyHash;
use crate::quota::{Period, QuotaState, Schedules};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The hot-path statement: authenticate by hash, check revocation and expiry, apply a due
/// reset lazily (for keys on the default schedule) and consume one unit — all in one atomic
/// statement. `$1` hash, `$2` now, `$3`/`$4` the default schedule's period containing now.
pub(crate) const CONSUME_SQL: &str = "UPDATE api_keys SET \
    used = CASE WHEN next_reset_at <= $2 THEN 1 ELSE used + 1 END, \
    period_start = CASE WHEN next_reset_at <= $2 THEN $3 ELSE period_start END, \
    next_reset_at = CASE WHEN next_reset_at <= $2 THEN $4 ELSE next_reset_at END \
    WHERE key_hash = $1 AND revoked = 0 AND (expires_at IS NULL OR expires_at > $2) \
    AND quota_limit > 0 \
    AND ((next_reset_at > $2 AND used < quota_limit) \
         OR (next_reset_at <= $2 AND reset_schedule IS NULL)) \
    RETURNING prefix, quota_limit, used, period_start, next_reset_at";

/// SQLite-backed store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    hot: std::sync::Arc<HotPath>,
}

pub(super) fn record(row: &SqliteRow) -> Result<KeyRecord, sqlx::Error> {
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
        revoked: row.try_get::<i64, _>("revoked")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn granted(row: &SqliteRow) -> Result<Consume, sqlx::Error> {
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

impl SqliteStore {
    /// Open (creating if missing) the SQLite file at `path` (`//` prefix allowed) and migrate.
    /// Both pools point at the same file, so in-memory databases are not supported.
    pub async fn connect(path: &str) -> Result<Self, StoreError> {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() || path.starts_with(":memory:") {
            // Several connections must see one database: a file is required.
            return Err(StoreError::UnsupportedUrl(format!("sqlite:{path}")));
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await?;
        // sqlx takes no lock for SQLite migrations: processes starting at once on a new file
        // can collide on the bookkeeping row. The loser's transaction rolls back; a second run
        // then finds the migration applied and does nothing.
        let mut attempt = 0;
        loop {
            match MIGRATOR.run(&writer).await {
                Ok(()) => break,
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "SQLite migration collided; retrying");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await?;
        let hot = std::sync::Arc::new(HotPath::start(&options).await?);
        Ok(SqliteStore {
            writer,
            reader,
            hot,
        })
    }

    /// One statement: SQLite takes the write lock before it evaluates the `NOT EXISTS`, so
    /// processes sharing the file cannot both insert.
    pub(crate) async fn create_first_key(&self, key: &NewKey) -> Result<Option<i64>, StoreError> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO api_keys (name, prefix, key_hash, quota_limit, used, reset_schedule, \
             period_start, next_reset_at, expires_at, revoked, created_at) \
             SELECT $1, $2, $3, $4, 0, $5, 0, 0, $6, 0, $7 \
             WHERE NOT EXISTS (SELECT 1 FROM api_keys) RETURNING id",
        )
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.hash.0[..])
        .bind(key.limit)
        .bind(key.reset_schedule.as_deref())
        .bind(key.expires_at)
        .bind(key.now)
        .fetch_optional(&self.writer)
        .await?;
        Ok(id)
    }

    /// The hot path: authenticate, lazily reset (default schedule) and consume in one atomic
    /// statement, batched with the other requests in flight. `None`: not granted by it.
    pub(crate) async fn try_consume(
        &self,
        hash: &KeyHash,
        now: i64,
        default: &Period,
    ) -> Result<Option<Consume>, StoreError> {
        let consumed = self
            .hot
            .consume(hash.0, now, default.start, default.end)
            .await
            .map_err(|e| StoreError::Hot(e.0))?;
        Ok(consumed.map(|c| Consume::Granted {
            prefix: c.prefix,
            state: c.state,
        }))
    }

    pub(crate) async fn authenticate(
        &self,
        hash: &KeyHash,
        now: i64,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let key = self
            .hot
            .lookup(hash.0)
            .await
            .map_err(|e| StoreError::Hot(e.0))?;
        Ok(key.filter(|k| k.is_active(now)))
    }

    shared_store_methods!();

    pub(crate) async fn health(&self) -> Result<(), StoreError> {
        let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE id = 0")
            .fetch_one(&self.reader)
            .await?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.hot.close().await;
        self.reader.close().await;
        self.writer.close().await;
    }
}
