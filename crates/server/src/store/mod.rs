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
mod policy;
pub mod postgres;
mod sql;
pub mod sqlite;
mod url;

use std::sync::Arc;

use crate::domain::burst::{BurstState, Rate};
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
    /// The group whose quota the key uses (`None`: its own, or the one it was rotated to).
    pub group: Option<GroupRef>,
    /// After a rotation: the key whose quota this one shares until its grace ends.
    pub quota_key_id: Option<i64>,
    /// The burst limit of what holds the key's quota (`None`: the server's default, if any).
    pub rate: Option<Rate>,
    /// The burst limit's state (GCRA theoretical arrival time, Unix microseconds).
    pub burst_tat_us: i64,
    /// After a rotation: when the key stops being accepted (Unix seconds).
    pub grace_ends_at: Option<i64>,
}

impl KeyRecord {
    /// The quota as of `now` (a period that has ended counts as reset). `state` holds the quota
    /// of what the key uses: its group's, the key it was rotated to, or its own.
    pub fn quota_at(&self, now: i64, schedules: &Schedules) -> QuotaState {
        self.state.quota_at(now, schedules)
    }

    /// Why the key may not be used at `now` (revoked, expired, grace over), if it may not.
    pub fn refusal(&self, now: i64) -> Option<Refusal> {
        match self.state.refusal(now) {
            None if self.grace_ends_at.is_some_and(|g| g <= now) => Some(Refusal::Expired),
            other => other,
        }
    }

    /// What holds the key's quota and burst state.
    pub(crate) fn holder(&self) -> batch::Holder {
        match (&self.group, self.quota_key_id) {
            (Some(g), _) => batch::Holder::Group(g.id),
            (None, Some(k)) => batch::Holder::Key(k),
            (None, None) => batch::Holder::Key(self.id),
        }
    }
}

/// A key's group: its id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
}

/// A quota group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// Row id.
    pub id: i64,
    /// Unique name (what `groups update` and `keys create --group` take).
    pub name: String,
    /// The shared quota: limit, usage, period, schedule (no expiry, never revoked).
    pub state: KeyState,
    /// The shared burst limit.
    pub rate: Option<Rate>,
    /// Keys in the group that are not revoked.
    pub keys: u64,
    /// Creation time (Unix seconds).
    pub created_at: i64,
}

/// What a new group is created with.
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// Unique name.
    pub name: String,
    /// Units per period, shared by its keys.
    pub limit: u64,
    /// Own reset schedule (`None`: the server's default).
    pub reset_schedule: Option<String>,
    /// Burst limit shared by its keys.
    pub rate: Option<Rate>,
}

/// Changes made by `groups update`; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    /// New limit.
    pub limit: Option<u64>,
    /// As [`KeyUpdate::reset_schedule`].
    pub reset_schedule: Option<Option<String>>,
    /// `Some(Some(rate))` sets a burst limit, `Some(None)` removes it.
    pub rate: Option<Option<Rate>>,
}

/// The policies of a new key besides [`NewKey`]'s quota terms.
#[derive(Debug, Clone, Default)]
pub struct KeyPolicy {
    /// Use this group's quota (by name) instead of an own one.
    pub group: Option<String>,
    /// Own burst limit (keys without a group).
    pub rate: Option<Rate>,
}

/// The outcome of `keys rotate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The new key's id.
    Rotated(i64),
    /// No key has that id.
    NoSuchKey,
    /// The key is revoked.
    Revoked,
    /// The key was rotated already (to this key): rotate the newer one.
    AlreadyRotated(i64),
}

/// Metered units of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayUsage {
    /// Days since 1970-01-01.
    pub day: i64,
    /// Units counted that day.
    pub used: u64,
}

/// Days `first..=last` in order, with the units of `rows` (0 for days without any).
pub fn fill_days(first: i64, last: i64, rows: &[DayUsage]) -> Vec<DayUsage> {
    (first..=last)
        .map(|day| DayUsage {
            day,
            used: rows.iter().find(|r| r.day == day).map_or(0, |r| r.used),
        })
        .collect()
}

/// The UTC day (days since 1970-01-01) of Unix time `now`.
pub fn day_of(now: i64) -> i64 {
    batch::day_of(now)
}

/// Server-wide policies the store applies with every consume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policies {
    /// Burst limit of keys and groups without their own (`serve --default-rate`).
    pub default_rate: Option<Rate>,
    /// Days of usage history kept (`serve --usage-retention-days`); 0 keeps none.
    pub retention_days: u32,
}

/// Days of usage history kept by default.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

impl Default for Policies {
    fn default() -> Self {
        Policies {
            default_rate: None,
            retention_days: DEFAULT_RETENTION_DAYS,
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
    /// `Some(Some(rate))` sets an own burst limit, `Some(None)` removes it.
    pub rate: Option<Option<Rate>>,
}

/// The outcome of a consume: the rule's decision, the key's display prefix for the log line
/// when the key exists, and the burst limit's state when one applies.
///
/// A request refused by the burst limit has `decision` [`Decision::Exhausted`] (nothing was
/// charged) and `burst` with [`BurstState::limited`] true: see [`Consumed::burst_limited`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// The key's display prefix (`None` for an unknown key).
    pub prefix: Option<String>,
    /// Granted, exhausted or refused.
    pub decision: Decision,
    /// The burst limit after this request (`None`: the key has none).
    pub burst: Option<BurstState>,
}

impl Consumed {
    pub(crate) fn new(
        prefix: Option<String>,
        decision: Decision,
        burst: Option<BurstState>,
    ) -> Self {
        Consumed {
            prefix,
            decision,
            burst,
        }
    }

    /// Whether the request was refused by the burst limit (not by the quota).
    pub fn burst_limited(&self) -> bool {
        self.burst.is_some_and(|b| b.limited())
    }
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL pool settings (SQLite opens its connections as it needs them).
    pub pool: PoolOptions,
    /// The reset schedules: the server default and the cache of keys' own.
    pub schedules: Arc<Schedules>,
    /// Default burst limit and history retention.
    pub policies: Policies,
}

/// The store: one interface, one variant per backend.
#[derive(Debug, Clone)]
pub enum Store {
    /// Embedded SQLite (`sqlite://PATH`).
    Sqlite(sqlite::SqliteStore),
    /// PostgreSQL (`postgres://…`), for several instances sharing one database.
    Postgres(postgres::PostgresStore),
}

/// The current Unix time in microseconds when it falls within second `now`, else the start of
/// that second (a caller's own clock).
pub fn micros_within(now: i64) -> i64 {
    let real = chrono::Utc::now().timestamp_micros();
    if real.div_euclid(1_000_000) == now {
        real
    } else {
        now.saturating_mul(1_000_000)
    }
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
            DatabaseUrl::Sqlite(path) => Ok(Store::Sqlite(sqlite::SqliteStore::open(
                path,
                schedules,
                options.policies,
            )?)),
            DatabaseUrl::Postgres(url) => Ok(Store::Postgres(
                postgres::PostgresStore::connect(url, options, schedules).await?,
            )),
        }
    }

    /// The hot path: authenticate by hash, apply the burst limit and take `demand` units
    /// atomically, batched with the other consumes in flight; the units are added to the key's
    /// usage history in the same transaction. Durable before it returns.
    ///
    /// `now` is Unix seconds; the burst limit reads the clock's microseconds within that second
    /// (see [`Store::consume_at`] to give them).
    pub async fn consume(
        &self,
        hash: &KeyHash,
        demand: Demand,
        now: i64,
    ) -> Result<Consumed, StoreError> {
        self.consume_at(hash, demand, micros_within(now)).await
    }

    /// [`Store::consume`] at `now_us` (Unix microseconds).
    pub async fn consume_at(
        &self,
        hash: &KeyHash,
        demand: Demand,
        now_us: i64,
    ) -> Result<Consumed, StoreError> {
        self.run_job(hash, demand, now_us, batch::Pacing::Pace)
            .await
    }

    /// [`Store::consume_at`] for a later charge of a request that took its place in the burst
    /// limit with an earlier one (the chunks of an NDJSON stream after the first): the units
    /// only, no burst place (the outcome's `burst` is `None`).
    pub async fn consume_more(
        &self,
        hash: &KeyHash,
        demand: Demand,
        now_us: i64,
    ) -> Result<Consumed, StoreError> {
        self.run_job(hash, demand, now_us, batch::Pacing::Skip)
            .await
    }

    /// Take a place in the burst limit only (the routes that are not metered): the decision is
    /// `Granted { units: 0, .. }` with the current quota, `Refused`, or — over the burst limit —
    /// `Exhausted` with [`Consumed::burst_limited`].
    pub async fn pace(&self, hash: &KeyHash, now_us: i64) -> Result<Consumed, StoreError> {
        self.run_job(hash, Demand::Exactly(0), now_us, batch::Pacing::Only)
            .await
    }

    /// One consume job at `now_us` (Unix microseconds; its second is derived here, once).
    async fn run_job(
        &self,
        hash: &KeyHash,
        demand: Demand,
        now_us: i64,
        pacing: batch::Pacing,
    ) -> Result<Consumed, StoreError> {
        let job = batch::ConsumeJob {
            hash: *hash,
            demand,
            now: now_us.div_euclid(1_000_000),
            now_us,
            pacing,
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
            Some(k) => match k.refusal(now) {
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

    /// Insert a key with its policies (group, own burst limit); its id, or `None` when the
    /// group named does not exist.
    pub async fn create_key_with(
        &self,
        key: &NewKey,
        policy: &KeyPolicy,
    ) -> Result<Option<i64>, StoreError> {
        in_tx!(self, Write, |tx| admin::create_key_with(tx, key, policy))
    }

    /// Create a quota group; its id, or `None` when the name is taken.
    pub async fn create_group(
        &self,
        group: &NewGroup,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        in_tx!(self, Write, |tx| policy::create_group(tx, group, now))
    }

    /// Every group, by id.
    pub async fn list_groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        in_tx!(self, Read, |tx| policy::list_groups(tx))
    }

    /// One group by name.
    pub async fn get_group(&self, name: &str) -> Result<Option<GroupRecord>, StoreError> {
        in_tx!(self, Read, |tx| policy::get_group(tx, name))
    }

    /// Change a group; `false` if there is no such group.
    pub async fn update_group(
        &self,
        name: &str,
        update: &GroupUpdate,
        now: i64,
    ) -> Result<bool, StoreError> {
        let schedules = self.schedules();
        in_tx!(self, Write, |tx| policy::update_group(
            tx, name, update, schedules, now
        ))
    }

    /// Set a group's usage in the current period to 0; `false` if there is no such group.
    pub async fn reset_group_usage(&self, name: &str) -> Result<bool, StoreError> {
        in_tx!(self, Write, |tx| policy::reset_group_usage(tx, name))
    }

    /// Rotate key `id` to a new key with `secret`'s hash and prefix (`secret.name` and
    /// `secret.state` are not used: the old key's are copied); the old key is accepted until
    /// `grace_ends_at`.
    pub async fn rotate_key(
        &self,
        id: i64,
        secret: &NewKey,
        grace_ends_at: i64,
    ) -> Result<Rotation, StoreError> {
        in_tx!(self, Write, |tx| policy::rotate(
            tx,
            id,
            secret,
            grace_ends_at
        ))
    }

    /// Key `key_id`'s metered units per UTC day, from day `from_day` on (days without use are
    /// absent).
    pub async fn key_history(
        &self,
        key_id: i64,
        from_day: i64,
    ) -> Result<Vec<DayUsage>, StoreError> {
        in_tx!(self, Read, |tx| policy::key_history(tx, key_id, from_day))
    }

    /// The units per UTC day of a group's keys together, from day `from_day` on.
    pub async fn group_history(
        &self,
        group_id: i64,
        from_day: i64,
    ) -> Result<Vec<DayUsage>, StoreError> {
        in_tx!(self, Read, |tx| policy::group_history(
            tx, group_id, from_day
        ))
    }

    /// Delete the usage history older than the retention (`--usage-retention-days`) as of
    /// `now`; how many rows.
    pub async fn prune_history(&self, now: i64) -> Result<u64, StoreError> {
        let first_kept = batch::day_of(now) - i64::from(self.policies().retention_days) + 1;
        in_tx!(self, Write, |tx| policy::prune_history(tx, first_kept))
    }

    /// The server-wide policies the store applies.
    pub fn policies(&self) -> Policies {
        match self {
            Store::Sqlite(s) => s.policies(),
            Store::Postgres(s) => s.policies(),
        }
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
