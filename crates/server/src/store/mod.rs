//! The key store: one interface ([`Store`]) over the backends.
//!
//! Every quota change is a single conditional statement, so counting is exact under any
//! concurrency (one server or several sharing a database), and the lazy period check lives in
//! the same statement as the consume: a late or missed scheduler run can neither grant nor
//! withhold quota wrongly.

#[macro_use]
mod shared;
pub mod postgres;
pub mod sqlite;
mod sqlite_batch;

use crate::keys::KeyHash;
use crate::quota::{Period, QuotaState, Schedules};
pub use postgres::PoolConfig;

/// Store failures. Every one of them makes the API fail closed (`503`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no supported backend.
    #[error("unsupported database URL '{0}' (expected sqlite://PATH or postgres://...)")]
    UnsupportedUrl(String),
    /// The database could not be reached or refused a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The batched hot path failed.
    #[error("database error: {0}")]
    Hot(String),
    /// The schema could not be migrated.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A key as stored (never the secret; the hash is not exposed either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Row id: what `revoke`, `update` and `reset-usage` take.
    pub id: i64,
    /// Human-readable name.
    pub name: String,
    /// Non-secret display prefix.
    pub prefix: String,
    /// Requests per period.
    pub limit: i64,
    /// Units used in the stored period (see [`KeyRecord::effective_used`]).
    pub used: i64,
    /// The key's own reset schedule; `None` means the server default.
    pub reset_schedule: Option<String>,
    /// Start of the stored period (Unix seconds).
    pub period_start: i64,
    /// End of the stored period (Unix seconds); 0 when no period has been opened yet.
    pub next_reset_at: i64,
    /// Expiry (Unix seconds), if any.
    pub expires_at: Option<i64>,
    /// Revoked keys are refused.
    pub revoked: bool,
    /// Creation time (Unix seconds).
    pub created_at: i64,
}

impl KeyRecord {
    /// Units used as of `now`: 0 when the stored period has already ended.
    pub fn effective_used(&self, now: i64) -> i64 {
        if self.next_reset_at <= now {
            0
        } else {
            self.used
        }
    }

    /// Whether the key may be used at `now` (not revoked, not expired).
    pub fn is_active(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| e > now)
    }

    /// The quota state as of `now` (period recomputed from the schedule if it has ended).
    pub fn quota_state(&self, schedules: &Schedules, now: i64) -> QuotaState {
        if self.next_reset_at <= now {
            let p = schedules.period_for(self.reset_schedule.as_deref(), now);
            QuotaState {
                limit: self.limit,
                used: 0,
                period_start: p.start,
                next_reset_at: p.end,
            }
        } else {
            QuotaState {
                limit: self.limit,
                used: self.used,
                period_start: self.period_start,
                next_reset_at: self.next_reset_at,
            }
        }
    }
}

/// What a new key is created with.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Human-readable name.
    pub name: String,
    /// Display prefix.
    pub prefix: String,
    /// SHA-256 of the secret.
    pub hash: KeyHash,
    /// Requests per period.
    pub limit: i64,
    /// Own schedule, `None` for the server default.
    pub reset_schedule: Option<String>,
    /// Expiry (Unix seconds).
    pub expires_at: Option<i64>,
    /// Creation time (Unix seconds).
    pub now: i64,
}

/// Changes made by `keys update`; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// New name.
    pub name: Option<String>,
    /// New limit.
    pub limit: Option<i64>,
    /// `Some(Some(cron))` sets an own schedule (and opens a period on it from now),
    /// `Some(None)` returns to the server default (the current period runs to its end).
    pub reset_schedule: Option<Option<String>>,
    /// `Some(Some(t))` sets an expiry, `Some(None)` removes it.
    pub expires_at: Option<Option<i64>>,
}

/// The outcome of an attempt to consume one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consume {
    /// One unit was consumed; the state after it.
    Granted {
        /// The key's display prefix (for logs).
        prefix: String,
        /// Quota state after the consume.
        state: QuotaState,
    },
    /// The quota is used up; nothing was consumed.
    Exhausted {
        /// The key's display prefix (for logs).
        prefix: String,
        /// Current quota state.
        state: QuotaState,
    },
    /// Unknown, revoked or expired key.
    Unauthorized,
}

/// The store: one interface, one variant per backend.
#[derive(Debug, Clone)]
pub enum Store {
    /// Embedded SQLite (`sqlite://PATH`).
    Sqlite(sqlite::SqliteStore),
    /// PostgreSQL (`postgres://…`), for several instances sharing one database.
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// Connect to the database named by `url` (`sqlite://PATH`, a bare path, or
    /// `postgres://…`), creating an SQLite file if missing, and migrate its schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &PoolConfig::default()).await
    }

    /// [`Store::connect`] with explicit PostgreSQL pool settings (ignored for SQLite, whose
    /// single writer and small reader pool are fixed).
    pub async fn connect_with(url: &str, pool: &PoolConfig) -> Result<Self, StoreError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            Ok(Store::Sqlite(sqlite::SqliteStore::connect(rest).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(
                postgres::PostgresStore::connect_with(url, pool).await?,
            ))
        } else if url.contains("://") {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        } else {
            // A bare path is an SQLite file.
            Ok(Store::Sqlite(sqlite::SqliteStore::connect(url).await?))
        }
    }

    /// Insert a key; returns its id.
    pub async fn create_key(&self, key: &NewKey) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => s.create_key(key).await,
            Store::Postgres(s) => s.create_key(key).await,
        }
    }

    /// Insert `key` only if the store holds no key at all (revoked ones included); its id, or
    /// `None` when some key already exists. Atomic across processes sharing the database, so
    /// instances starting at the same moment on an empty store create exactly one first key.
    pub async fn create_first_key(&self, key: &NewKey) -> Result<Option<i64>, StoreError> {
        match self {
            Store::Sqlite(s) => s.create_first_key(key).await,
            Store::Postgres(s) => s.create_first_key(key).await,
        }
    }

    /// Number of keys (revoked ones included).
    pub async fn count_keys(&self) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => s.count_keys().await,
            Store::Postgres(s) => s.count_keys().await,
        }
    }

    /// Authenticate by hash and consume one unit atomically.
    ///
    /// The backend's one-statement hot path grants almost every request. When it does not, one
    /// read of the key tells why (unknown, revoked or expired → 401; exhausted → 429), or finds
    /// a key on its own schedule whose period has ended, which a compare-and-set statement
    /// reopens; a row changed in between by another request is simply tried again.
    pub async fn consume(
        &self,
        hash: &KeyHash,
        schedules: &Schedules,
        now: i64,
    ) -> Result<Consume, StoreError> {
        let default = schedules.default_period(now);
        // Bounded: each retry means another request changed the row in between.
        for _ in 0..8 {
            if let Some(granted) = self.try_consume(hash, now, &default).await? {
                return Ok(granted);
            }
            // Not granted: find out why (this read never changes anything).
            let Some(key) = self.by_hash(hash).await? else {
                return Ok(Consume::Unauthorized);
            };
            if !key.is_active(now) {
                return Ok(Consume::Unauthorized);
            }
            if key.next_reset_at <= now && key.limit > 0 {
                let Some(own) = key.reset_schedule.as_deref() else {
                    continue; // the default-schedule statement will handle it
                };
                let period = schedules.period_for(Some(own), now);
                if let Some(granted) = self.consume_new_period(&key, &period, now).await? {
                    return Ok(granted);
                }
                continue;
            }
            if key.used < key.limit && key.next_reset_at > now {
                continue; // someone reset or raised the limit in between: try again
            }
            return Ok(Consume::Exhausted {
                state: key.quota_state(schedules, now),
                prefix: key.prefix,
            });
        }
        // Persistent contention: refuse rather than over-grant.
        match self.by_hash(hash).await? {
            Some(key) if key.is_active(now) => Ok(Consume::Exhausted {
                state: key.quota_state(schedules, now),
                prefix: key.prefix,
            }),
            _ => Ok(Consume::Unauthorized),
        }
    }

    async fn try_consume(
        &self,
        hash: &KeyHash,
        now: i64,
        default: &Period,
    ) -> Result<Option<Consume>, StoreError> {
        match self {
            Store::Sqlite(s) => s.try_consume(hash, now, default).await,
            Store::Postgres(s) => s.try_consume(hash, now, default).await,
        }
    }

    async fn by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.by_hash(hash).await,
            Store::Postgres(s) => s.by_hash(hash).await,
        }
    }

    async fn consume_new_period(
        &self,
        key: &KeyRecord,
        period: &Period,
        now: i64,
    ) -> Result<Option<Consume>, StoreError> {
        match self {
            Store::Sqlite(s) => s.consume_new_period(key, period, now).await,
            Store::Postgres(s) => s.consume_new_period(key, period, now).await,
        }
    }

    /// Authenticate by hash without consuming: the key if it is active at `now`.
    pub async fn authenticate(
        &self,
        hash: &KeyHash,
        now: i64,
    ) -> Result<Option<KeyRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.authenticate(hash, now).await,
            Store::Postgres(s) => s.authenticate(hash, now).await,
        }
    }

    /// Every key, by id.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.list_keys().await,
            Store::Postgres(s) => s.list_keys().await,
        }
    }

    /// One key by id.
    pub async fn get_key(&self, id: i64) -> Result<Option<KeyRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.get_key(id).await,
            Store::Postgres(s) => s.get_key(id).await,
        }
    }

    /// Revoke a key; `false` if there is no such id.
    pub async fn revoke(&self, id: i64) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.revoke(id).await,
            Store::Postgres(s) => s.revoke(id).await,
        }
    }

    /// Update a key; `false` if there is no such id.
    pub async fn update(
        &self,
        id: i64,
        update: &KeyUpdate,
        schedules: &Schedules,
        now: i64,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.update(id, update, schedules, now).await,
            Store::Postgres(s) => s.update(id, update, schedules, now).await,
        }
    }

    /// Set a key's usage in the current period to 0; `false` if there is no such id.
    pub async fn reset_usage(&self, id: i64) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.reset_usage(id).await,
            Store::Postgres(s) => s.reset_usage(id).await,
        }
    }

    /// Reset every key whose period has ended by `now`; returns how many were reset.
    pub async fn apply_due_resets(
        &self,
        schedules: &Schedules,
        now: i64,
    ) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.apply_due_resets(schedules, now).await,
            Store::Postgres(s) => s.apply_due_resets(schedules, now).await,
        }
    }

    /// The distinct own schedules of keys.
    pub async fn distinct_schedules(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sqlite(s) => s.distinct_schedules().await,
            Store::Postgres(s) => s.distinct_schedules().await,
        }
    }

    /// Whether the store answers.
    pub async fn health(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.health().await,
            Store::Postgres(s) => s.health().await,
        }
    }

    /// Close all connections cleanly.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }
}
