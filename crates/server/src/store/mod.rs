//! The key store: one interface ([`Store`]) over two backends that only run statements.
//!
//! - The quota rule is not here: every consume reads the key's row under the backend's write
//!   lock, asks [`crate::domain::quota::decide`], writes back what it granted and commits
//!   before anyone is answered ([`batch`] holds that one shared step).
//! - Key administration is written once, against the [`sql::Tx`] transaction interface
//!   ([`admin`]); each backend only says how to run a statement.
//! - SQLite (the embedded default) is driven synchronously on the calling thread (no thread
//!   hop per request); PostgreSQL (several instances) through sqlx.

mod admin;
mod batch;
pub mod postgres;
mod sql;
pub mod sqlite;
mod url;

use std::sync::Arc;

use crate::domain::keys::KeyHash;
use crate::domain::quota::{Decision, Demand, KeyState, QuotaState, Refusal};
use crate::domain::schedule::Schedules;
pub use postgres::PoolOptions;
pub use url::{DatabaseUrl, redact};

/// Store failures. Every one of them makes the API fail closed (`503`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no supported backend (shown without its password).
    #[error("unsupported database URL '{0}' (expected sqlite://PATH or postgres://...)")]
    UnsupportedUrl(String),
    /// The database could not be reached, or refused a statement.
    #[error("database error: {0}")]
    Database(String),
    /// A row holds something the schema does not allow.
    #[error("unexpected data in the database: {0}")]
    Corrupt(String),
    /// The schema could not be created or migrated.
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// The store has been closed.
    #[error("the store is closed")]
    Closed,
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
    /// What the quota rule needs: limit, usage, period, schedule, expiry, revocation.
    pub state: KeyState,
    /// Creation time (Unix seconds).
    pub created_at: i64,
}

impl KeyRecord {
    /// The quota as of `now` (a period that has ended counts as reset).
    pub fn quota_at(&self, now: i64, schedules: &Schedules) -> QuotaState {
        self.state.quota_at(now, schedules)
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
    /// Its quota terms (limit, own schedule, expiry), as [`KeyState::new`] makes them.
    pub state: KeyState,
    /// Creation time (Unix seconds).
    pub now: i64,
}

/// Changes made by `keys update`; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// New name.
    pub name: Option<String>,
    /// New limit.
    pub limit: Option<u64>,
    /// `Some(Some(cron))` sets an own schedule (and opens a period on it from now),
    /// `Some(None)` returns to the server default (the current period runs to its end).
    pub reset_schedule: Option<Option<String>>,
    /// `Some(Some(t))` sets an expiry, `Some(None)` removes it.
    pub expires_at: Option<Option<i64>>,
}

/// The outcome of a consume: the rule's decision, and the key's display prefix for the log
/// line when the key exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// The key's display prefix (`None` for an unknown key).
    pub prefix: Option<String>,
    /// Granted, exhausted or refused.
    pub decision: Decision,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL pool settings (SQLite opens its connections as it needs them).
    pub pool: PoolOptions,
    /// The reset schedules: the server default and the cache of keys' own.
    pub schedules: Arc<Schedules>,
}

/// The store: one interface, one variant per backend.
#[derive(Debug, Clone)]
pub enum Store {
    /// Embedded SQLite (`sqlite://PATH`).
    Sqlite(sqlite::SqliteStore),
    /// PostgreSQL (`postgres://…`), for several instances sharing one database.
    Postgres(postgres::PostgresStore),
}

/// Run `$body` (an admin function taking the transaction by value) in a transaction of
/// whichever backend `$store` is.
macro_rules! in_tx {
    ($store:expr, $access:expr, |$tx:ident| $body:expr) => {
        match $store {
            Store::Sqlite(s) => {
                let $tx = s.begin($access).await?;
                $body.await
            }
            Store::Postgres(s) => {
                let $tx = s.begin($access).await?;
                $body.await
            }
        }
    };
}

use sql::Access::{Read, Write};

impl Store {
    /// Open the database named by `url`, creating an SQLite file (mode 0600) if missing, and
    /// bring its schema up to date.
    pub async fn connect(url: &DatabaseUrl, options: &StoreOptions) -> Result<Self, StoreError> {
        let schedules = Arc::clone(&options.schedules);
        match url {
            DatabaseUrl::Sqlite(path) => {
                Ok(Store::Sqlite(sqlite::SqliteStore::open(path, schedules)?))
            }
            DatabaseUrl::Postgres(url) => Ok(Store::Postgres(
                postgres::PostgresStore::connect(url, &options.pool, schedules).await?,
            )),
        }
    }

    /// The hot path: authenticate by hash and take `demand` units atomically, batched with the
    /// other consumes in flight. Durable before it returns.
    pub async fn consume(
        &self,
        hash: &KeyHash,
        demand: Demand,
        now: i64,
    ) -> Result<Consumed, StoreError> {
        let job = batch::ConsumeJob {
            hash: *hash,
            demand,
            now,
        };
        match self {
            Store::Sqlite(s) => s.consume(job).await,
            Store::Postgres(s) => s.consume(job).await,
        }
    }

    /// Authenticate without consuming: the key, or why it may not be used at `now`.
    pub async fn authenticate(
        &self,
        hash: &KeyHash,
        now: i64,
    ) -> Result<Result<KeyRecord, Refusal>, StoreError> {
        let key = match self {
            Store::Sqlite(s) => s.find_by_hash(hash)?,
            Store::Postgres(s) => s.find_by_hash(hash).await?,
        };
        Ok(match key {
            None => Err(Refusal::UnknownKey),
            Some(k) => match k.state.refusal(now) {
                Some(refusal) => Err(refusal),
                None => Ok(k),
            },
        })
    }

    /// Insert a key; its id.
    pub async fn create_key(&self, key: &NewKey) -> Result<i64, StoreError> {
        in_tx!(self, Write, |tx| admin::create_key(tx, key))
    }

    /// Insert `key` only if the store holds no key at all (revoked ones included); its id, or
    /// `None` when some key already exists. Atomic across processes sharing the database.
    pub async fn create_first_key(&self, key: &NewKey) -> Result<Option<i64>, StoreError> {
        in_tx!(self, Write, |tx| admin::create_first_key(tx, key))
    }

    /// Number of keys (revoked ones included).
    pub async fn count_keys(&self) -> Result<u64, StoreError> {
        in_tx!(self, Read, |tx| admin::count_keys(tx))
    }

    /// Every key, by id.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        in_tx!(self, Read, |tx| admin::list_keys(tx))
    }

    /// One key by id.
    pub async fn get_key(&self, id: i64) -> Result<Option<KeyRecord>, StoreError> {
        in_tx!(self, Read, |tx| admin::get_key(tx, id))
    }

    /// Revoke a key; `false` if there is no such id.
    pub async fn revoke(&self, id: i64) -> Result<bool, StoreError> {
        in_tx!(self, Write, |tx| admin::revoke(tx, id))
    }

    /// Update a key; `false` if there is no such id.
    pub async fn update(&self, id: i64, update: &KeyUpdate, now: i64) -> Result<bool, StoreError> {
        let schedules = self.schedules();
        in_tx!(self, Write, |tx| admin::update(
            tx, id, update, schedules, now
        ))
    }

    /// Set a key's usage in the current period to 0; `false` if there is no such id.
    pub async fn reset_usage(&self, id: i64) -> Result<bool, StoreError> {
        in_tx!(self, Write, |tx| admin::reset_usage(tx, id))
    }

    /// Reset every key whose period has ended by `now`; how many were reset.
    pub async fn apply_due_resets(&self, now: i64) -> Result<u64, StoreError> {
        let schedules = self.schedules();
        in_tx!(self, Write, |tx| admin::apply_due_resets(
            tx, schedules, now
        ))
    }

    /// The distinct own schedules of active keys.
    pub async fn distinct_schedules(&self) -> Result<Vec<String>, StoreError> {
        in_tx!(self, Read, |tx| admin::distinct_schedules(tx))
    }

    /// Whether the store answers.
    pub async fn health(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.health(),
            Store::Postgres(s) => s.health().await,
        }
    }

    /// The reset schedules the store applies.
    pub fn schedules(&self) -> &Schedules {
        match self {
            Store::Sqlite(s) => s.schedules(),
            Store::Postgres(s) => s.schedules(),
        }
    }

    /// Close all connections cleanly (pending consumes are finished first).
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close(),
            Store::Postgres(s) => s.close().await,
        }
    }
}
