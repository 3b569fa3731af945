//! PostgreSQL backend, for several server instances sharing one database: the same schema and
//! the same rule as SQLite, through sqlx.
//!
//! Consumes are batched by one task ([`Batcher`]): one transaction per batch locks the rows
//! that hold the batch's quotas, applies the rule ([`settle`]), writes the changed rows and the
//! usage history in one statement ([`WRITE_OWN`], [`WRITE_BATCH`]) and commits. Row locks make
//! it exact across instances. A batch whose keys all hold their own quota (the common case) is
//! four round trips: `BEGIN`, the locking read of its keys by hash ([`Batch::own_keys`]), the
//! write, `COMMIT`; a batch with a grouped or rotated key reads its keys first, then locks
//! groups and keys by id ([`Batch::general`]): five or six.
//!
//! Lock order, the same on every path: quota groups by id, then `api_keys` rows by id, then
//! `usage_history` rows. Batches of every instance follow it ([`lock_holders`]; the common case
//! takes only key rows, in one statement, and gives them back without waiting for anything
//! else when the batch needs more), and so do the scheduled resets (`admin.rs: DUE_RESETS`).

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Column, Postgres, Row as _, Transaction, TypeInfo};

use super::batch::{Batcher, ConsumeJob, Holder, Locked, distinct_hashes, settle};
use super::sql::{
    Access, KEY_BY_HASH, Outcome, Param, Row, Sql, Tx, Value, key_record, quota_columns, quota_row,
    select_keys, stored,
};
use super::{Consumed, KeyRecord, Policies, StoreError, StoreOptions};
use crate::domain::keys::KeyHash;
use crate::domain::schedule::Schedules;
use crate::locks::lock;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Connection-pool settings (`serve --db-*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections this instance opens; every instance opens its own pool.
    pub max_connections: u32,
    /// Connections kept open even when idle.
    pub min_connections: u32,
    /// How long a request waits for a connection (including reconnect attempts while the
    /// database is down) before it is answered `503`.
    pub acquire_timeout: Duration,
    /// Server-side `statement_timeout` of every connection (zero: none).
    pub statement_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this long.
    pub idle_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 16,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// The PostgreSQL store (cheap to clone).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    batcher: Batcher,
    schedules: Arc<Schedules>,
    policies: Policies,
    /// Bound on a health check, so `/healthz` answers `503` promptly even when the network to
    /// the database hangs instead of refusing.
    acquire_timeout: Duration,
}

fn bind<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    params: &[Param<'q>],
) -> Query<'q, Postgres, PgArguments> {
    for p in params {
        query = match *p {
            Param::Int(v) => query.bind(v),
            Param::OptInt(v) => query.bind(v),
            Param::Text(v) => query.bind(v),
            Param::OptText(v) => query.bind(v),
            Param::Blob(v) => query.bind(v),
        };
    }
    query
}

fn neutral_row(row: &PgRow) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match column.type_info().name() {
            "INT8" => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
            "INT4" => row
                .try_get::<Option<i32>, _>(i)?
                .map(|v| Value::Int(v.into())),
            "BOOL" => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
            "BYTEA" => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Blob),
            _ => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

/// The quota-holding tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Keys,
    Groups,
}

/// Lock the quota rows of `table` with these ids (id order: groups first, then keys, in every
/// batch of every instance, so batches cannot deadlock) and read them again under the lock;
/// `false` when a key row no longer holds its own quota (it was rotated between the batch's
/// first read and the lock: the batch is to be run again).
async fn lock_holders(
    tx: &mut Transaction<'static, Postgres>,
    locked: &mut Locked,
    table: Table,
) -> Result<bool, StoreError> {
    let ids: Vec<i64> = {
        let mut ids: Vec<i64> = locked
            .holders
            .keys()
            .filter_map(|h| match (h, table) {
                (Holder::Key(id), Table::Keys) | (Holder::Group(id), Table::Groups) => Some(*id),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids
    };
    if ids.is_empty() {
        return Ok(true);
    }
    let sql = match table {
        Table::Keys => LOCK_KEYS,
        Table::Groups => LOCK_GROUPS,
    };
    for row in sqlx::query(sql).bind(ids).fetch_all(&mut **tx).await? {
        let row = neutral_row(&row)?;
        let (id, quota) = quota_row(&row)?;
        let holder = match table {
            Table::Keys if row.boolean(9)? => return Ok(false),
            Table::Keys => Holder::Key(id),
            Table::Groups => Holder::Group(id),
        };
        locked.holders.insert(holder, quota);
    }
    Ok(true)
}

const LOCK_KEYS: &str = concat!(
    "SELECT ",
    quota_columns!(),
    ", (quota_key_id IS NOT NULL OR group_id IS NOT NULL) \
     FROM api_keys WHERE id = ANY($1) ORDER BY id FOR UPDATE"
);
const LOCK_GROUPS: &str = concat!(
    "SELECT ",
    quota_columns!(),
    " FROM quota_groups WHERE id = ANY($1) ORDER BY id FOR UPDATE"
);

/// The parts of [`WRITE_OWN`] and [`WRITE_BATCH`] (data-modifying CTEs): the changed quotas
/// of keys (`$1`…`$5`: id, used, period start and end, burst TAT), the history increments
/// (`$6`…`$8`: key, day, units), the changed quotas of groups (`$9`…`$13`) and the units given
/// back (`$14`…`$16`, never below 0). Empty arrays change nothing.
macro_rules! write_parts {
    (keys) => {
        "k AS (UPDATE api_keys AS t SET used = v.used, period_start = v.period_start, \
         next_reset_at = v.next_reset_at, burst_tat_us = v.tat \
         FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[]) \
         AS v(id, used, period_start, next_reset_at, tat) WHERE t.id = v.id), \
         added AS (INSERT INTO usage_history (key_id, day, used) \
         SELECT * FROM unnest($6::BIGINT[], $7::BIGINT[], $8::BIGINT[]) \
         ON CONFLICT (key_id, day) DO UPDATE SET used = usage_history.used + excluded.used)"
    };
    (groups) => {
        "g AS (UPDATE quota_groups AS t SET used = v.used, period_start = v.period_start, \
         next_reset_at = v.next_reset_at, burst_tat_us = v.tat \
         FROM unnest($9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[]) \
         AS v(id, used, period_start, next_reset_at, tat) WHERE t.id = v.id), \
         taken AS (UPDATE usage_history AS t \
         SET used = CASE WHEN t.used > v.units THEN t.used - v.units ELSE 0 END \
         FROM unnest($14::BIGINT[], $15::BIGINT[], $16::BIGINT[]) AS v(key_id, day, units) \
         WHERE t.key_id = v.key_id AND t.day = v.day)"
    };
}

/// Everything a batch writes, in one statement (one round trip, while the rows are locked),
/// when no group's quota changed and no unit was given back: the common case, without the
/// parts that would only open tables and indexes to change nothing.
const WRITE_OWN: &str = concat!("WITH ", write_parts!(keys), " SELECT 1");

/// Everything a batch writes, in one statement (see [`write_parts`]).
const WRITE_BATCH: &str = concat!(
    "WITH ",
    write_parts!(keys),
    ", ",
    write_parts!(groups),
    " SELECT 1"
);

/// The changed quotas of `table` as [`write_parts`] binds them: ids, used, period starts,
/// period ends, burst TATs.
fn quota_arrays(locked: &Locked, table: Table) -> Result<[Vec<i64>; 5], StoreError> {
    let mut arrays: [Vec<i64>; 5] = Default::default();
    for (holder, row) in locked.changed() {
        match (holder, table) {
            (Holder::Key(id), Table::Keys) | (Holder::Group(id), Table::Groups) => {
                arrays[0].push(id);
                arrays[1].push(stored(row.used)?);
                arrays[2].push(row.period.start);
                arrays[3].push(row.period.end);
                arrays[4].push(row.tat_us);
            }
            _ => {}
        }
    }
    Ok(arrays)
}

/// The history rows as [`write_parts`] binds them: keys, days, units.
fn history_arrays(rows: &[(i64, i64, i64)]) -> [Vec<i64>; 3] {
    [
        rows.iter().map(|r| r.0).collect(),
        rows.iter().map(|r| r.1).collect(),
        rows.iter().map(|r| r.2.abs()).collect(),
    ]
}

/// Write the batch's changed quotas and history ([`WRITE_OWN`] or [`WRITE_BATCH`]); nothing
/// when nothing changed (every request refused or over its limit).
async fn write_batch(
    tx: &mut Transaction<'static, Postgres>,
    locked: &Locked,
) -> Result<(), StoreError> {
    let history = locked.history_rows();
    if history.is_empty() && locked.changed().is_empty() {
        return Ok(());
    }
    // Added and given back apart (a `(key, day)` is in one of them: the rows are net sums).
    let (added, taken): (Vec<_>, Vec<_>) = history.into_iter().partition(|r| r.2 > 0);
    let groups = quota_arrays(locked, Table::Groups)?;
    let own = groups[0].is_empty() && taken.is_empty();
    let mut query = sqlx::query(if own { WRITE_OWN } else { WRITE_BATCH });
    let mut arrays = Vec::from(quota_arrays(locked, Table::Keys)?);
    arrays.extend(history_arrays(&added));
    if !own {
        arrays.extend(groups);
        arrays.extend(history_arrays(&taken));
    }
    for array in arrays {
        query = query.bind(array);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Attempts of a batch whose key was rotated while it ran.
const BATCH_ATTEMPTS: usize = 3;

/// Hashes of the keys this instance has seen with a quota held elsewhere (a group, or the key
/// they were rotated to): a batch with one of them goes straight to [`Batch::general`] instead of
/// trying [`Batch::own_keys`] first. A key's group is set when it is created and a rotation is
/// never undone, so an entry does not go stale (and a stale one would only cost the longer
/// path). A hash that matched no row at all lands here too (a key deleted under a batch), so
/// the set is emptied past [`POLICY_KEYS_CAP`] rather than grown without bound: forgetting
/// costs one rolled-back attempt per key, never a wrong count.
type PolicyKeys = Arc<Mutex<HashSet<KeyHash>>>;

/// Entries of [`PolicyKeys`] kept at most (32 bytes each: about 3 MiB).
const POLICY_KEYS_CAP: usize = 100_000;

/// Remember that these keys' quotas are held elsewhere (or that they matched no row).
fn remember_policy_keys(policy_keys: &PolicyKeys, hashes: impl IntoIterator<Item = KeyHash>) {
    let mut known = lock(policy_keys);
    known.extend(hashes);
    if known.len() > POLICY_KEYS_CAP {
        known.clear();
    }
}

/// Whether any of `hashes` is known to have its quota held elsewhere.
fn any_policy_key(policy_keys: &PolicyKeys, hashes: &[KeyHash]) -> bool {
    let known = lock(policy_keys);
    !known.is_empty() && hashes.iter().any(|h| known.contains(h))
}

/// One batch in one transaction: the common case's four round trips when it applies, else
/// the general path (run again when a key was rotated under it).
async fn run_batch(
    pool: &PgPool,
    settings: (&Schedules, &Policies),
    policy_keys: &PolicyKeys,
    jobs: &[ConsumeJob],
) -> Result<Vec<Consumed>, StoreError> {
    let batch = Batch {
        pool,
        settings,
        policy_keys,
        jobs,
        hashes: distinct_hashes(jobs),
    };
    if !any_policy_key(policy_keys, &batch.hashes)
        && let Some(results) = batch.own_keys().await?
    {
        return Ok(results);
    }
    for _ in 0..BATCH_ATTEMPTS {
        if let Some(results) = batch.general().await? {
            return Ok(results);
        }
    }
    Err(StoreError::Database(
        "the batch's keys kept being rotated while it ran".to_owned(),
    ))
}

/// The batch's keys as `ANY($1)` binds them.
fn hash_array(hashes: &[KeyHash]) -> Vec<&[u8]> {
    hashes.iter().map(|h| &h.0[..]).collect()
}

/// Decode a row of `select_keys!(with_hash, …)`: the hash and the key.
fn hashed_key(row: &PgRow) -> Result<(KeyHash, KeyRecord), StoreError> {
    let row = neutral_row(row)?;
    let hash = KeyHash::from_slice(&row.blob(0)?)
        .ok_or_else(|| StoreError::Corrupt("a key hash is not 32 bytes".to_owned()))?;
    Ok((hash, key_record(&row, 1)?))
}

/// Begin a batch's transaction and read its keys with `sql` (columns as
/// `select_keys!(with_hash, …)`, `$1` the batch's hashes): the transaction and each key found
/// with its hash.
async fn begin_with_keys(
    pool: &PgPool,
    sql: &'static str,
    hashes: &[KeyHash],
) -> Result<(Transaction<'static, Postgres>, Vec<(KeyHash, KeyRecord)>), StoreError> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(sql)
        .bind(hash_array(hashes))
        .fetch_all(&mut *tx)
        .await?;
    let keys = rows.iter().map(hashed_key).collect::<Result<_, _>>()?;
    Ok((tx, keys))
}

/// One batch of consumes and what running it needs.
struct Batch<'a> {
    pool: &'a PgPool,
    settings: (&'a Schedules, &'a Policies),
    policy_keys: &'a PolicyKeys,
    jobs: &'a [ConsumeJob],
    /// The keys the jobs present, each once.
    hashes: Vec<KeyHash>,
}

impl Batch<'_> {
    /// Decide the jobs on the locked rows, write what changed, commit.
    async fn settle_and_commit(
        &self,
        mut tx: Transaction<'static, Postgres>,
        mut locked: Locked,
    ) -> Result<Option<Vec<Consumed>>, StoreError> {
        let (schedules, policies) = self.settings;
        let results = settle(self.jobs, &mut locked, schedules, policies);
        write_batch(&mut tx, &locked).await?;
        tx.commit().await?;
        Ok(Some(results))
    }

    /// The common case: lock and read, in one statement, the keys of the batch that hold their own
    /// quota (by id, as [`Batch::general`] locks key rows, and nothing else before them), decide,
    /// write, commit. `None` (rolled back, having waited for no other lock) when a key of the batch
    /// is not among them: unknown, in a group, or rotated (then remembered in `policy_keys`); the
    /// batch then takes the general path. This takes a subset of the locks the general path would
    /// take, in the same order, so the deadlock argument of [`lock_holders`] covers it.
    async fn own_keys(&self) -> Result<Option<Vec<Consumed>>, StoreError> {
        // The columns of `select_keys!(with_hash, …)` for keys that hold their own quota: their
        // group (and its name) and the key they were rotated to are NULL, so no join is needed.
        const LOCK_OWN_KEYS: &str = "SELECT k.key_hash, k.id, k.name, k.prefix, k.quota_limit, \
        k.used, k.reset_schedule, k.period_start, k.next_reset_at, k.expires_at, k.revoked, \
        k.created_at, k.group_id, NULL, k.quota_key_id, k.rate_count, k.rate_period_secs, \
        k.burst_tat_us, k.grace_ends_at FROM api_keys k \
        WHERE k.key_hash = ANY($1) AND k.group_id IS NULL AND k.quota_key_id IS NULL \
        ORDER BY k.id FOR UPDATE";
        let hashes = &self.hashes;
        let (tx, keys) = begin_with_keys(self.pool, LOCK_OWN_KEYS, hashes).await?;
        let mut locked = Locked::default();
        for (hash, key) in keys {
            locked.insert(hash, Some(key));
        }
        if locked.keys.len() < hashes.len() {
            // Released at once: an instance whose batch waits for these rows must not wait for
            // this connection's next use.
            tx.rollback().await?;
            let missing = hashes.iter().filter(|h| !locked.keys.contains_key(*h));
            remember_policy_keys(self.policy_keys, missing.copied());
            return Ok(None);
        }
        self.settle_and_commit(tx, locked).await
    }

    /// The general path, one batch in one transaction: read the keys, lock and read the quotas
    /// they use, decide, write, commit; `None` (rolled back) when a key was rotated between the
    /// read and the lock.
    async fn general(&self) -> Result<Option<Vec<Consumed>>, StoreError> {
        const KEYS: &str = select_keys!(with_hash, "WHERE k.key_hash = ANY($1)");
        let (mut tx, keys) = begin_with_keys(self.pool, KEYS, &self.hashes).await?;
        let mut locked = Locked::default();
        for hash in &self.hashes {
            locked.insert(*hash, None);
        }
        let mut policy = Vec::new();
        for (hash, key) in keys {
            if key.holder() != Holder::Key(key.id) {
                policy.push(hash);
            }
            locked.insert(hash, Some(key));
        }
        remember_policy_keys(self.policy_keys, policy);
        lock_holders(&mut tx, &mut locked, Table::Groups).await?;
        if !lock_holders(&mut tx, &mut locked, Table::Keys).await? {
            return Ok(None);
        }
        self.settle_and_commit(tx, locked).await
    }
}

impl PostgresStore {
    /// Connect to `url` (`postgres://…`) and migrate. Safe when several instances start at
    /// once: sqlx's migrator holds a database-wide advisory lock while it runs.
    pub async fn connect(
        url: &str,
        store_options: &StoreOptions,
        schedules: Arc<Schedules>,
    ) -> Result<Self, StoreError> {
        let options = &store_options.pool;
        let policies = store_options.policies;
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::UnsupportedUrl(format!("{}: {e}", super::redact(url))))?;
        // Generic plans for the prepared statements: the batch's statements take arrays, and
        // with custom plans PostgreSQL planned them again on every execution (a third of a
        // millisecond of its CPU per batch for the write, measured with
        // `log_min_duration_statement = 0`: the `bind` step).
        connect = connect.options([("plan_cache_mode", "force_generic_plan")]);
        let statement_ms = options.statement_timeout.as_millis();
        if statement_ms > 0 {
            connect = connect.options([("statement_timeout", statement_ms.to_string())]);
        }
        let acquire_timeout = options.acquire_timeout.max(Duration::from_millis(1));
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections.min(options.max_connections.max(1)))
            .test_before_acquire(false)
            .acquire_timeout(acquire_timeout)
            .idle_timeout(Some(options.idle_timeout))
            .connect_with(connect)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        let batcher = {
            let (pool, schedules) = (pool.clone(), Arc::clone(&schedules));
            let policy_keys = PolicyKeys::default();
            Batcher::start(move |jobs: Vec<ConsumeJob>| {
                let (pool, schedules) = (pool.clone(), Arc::clone(&schedules));
                let policy_keys = Arc::clone(&policy_keys);
                async move { run_batch(&pool, (&schedules, &policies), &policy_keys, &jobs).await }
            })
        };
        Ok(PostgresStore {
            pool,
            batcher,
            schedules,
            policies,
            acquire_timeout,
        })
    }

    pub(crate) fn schedules(&self) -> &Schedules {
        &self.schedules
    }

    pub(crate) fn policies(&self) -> Policies {
        self.policies
    }

    pub(crate) async fn begin(&self, _access: Access) -> Result<PgTx, StoreError> {
        Ok(PgTx(self.pool.begin().await?))
    }

    /// Run `job` in a batch; committed before it returns.
    pub(crate) async fn consume(&self, job: ConsumeJob) -> Result<Consumed, StoreError> {
        self.batcher.consume(job).await
    }

    /// The key with this hash, whatever its state.
    pub(crate) async fn find_by_hash(
        &self,
        hash: &KeyHash,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(KEY_BY_HASH)
            .bind(&hash.0[..])
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| key_record(&neutral_row(&r)?, 0)).transpose()
    }

    pub(crate) async fn health(&self) -> Result<(), StoreError> {
        let probe = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM api_keys WHERE id = 0")
            .fetch_one(&self.pool);
        match tokio::time::timeout(self.acquire_timeout * 2, probe).await {
            Ok(r) => r.map(|_| ()).map_err(StoreError::from),
            Err(_) => Err(StoreError::Database(
                "the database did not answer in time".to_owned(),
            )),
        }
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether a statement returns rows (a query, or a change with `RETURNING`).
fn returns_rows(sql: &str) -> bool {
    sql.trim_start().starts_with("SELECT") || sql.contains("RETURNING")
}

/// A PostgreSQL transaction; rolled back if dropped uncommitted.
pub(crate) struct PgTx(Transaction<'static, Postgres>);

impl Tx for PgTx {
    async fn run(&mut self, sql: Sql, params: &[Param<'_>]) -> Result<Outcome, StoreError> {
        let query = bind(sqlx::query(sql), params);
        if !returns_rows(sql) {
            let done = query.execute(&mut *self.0).await?;
            return Ok(Outcome {
                rows: Vec::new(),
                changed: done.rows_affected(),
            });
        }
        let rows = query
            .fetch_all(&mut *self.0)
            .await?
            .iter()
            .map(neutral_row)
            .collect::<Result<Vec<_>, _>>()?;
        let changed = if sql.trim_start().starts_with("SELECT") {
            0
        } else {
            rows.len() as u64 // `… RETURNING` returns one row per changed row
        };
        Ok(Outcome { rows, changed })
    }

    async fn lock_exclusive(&mut self, lock_id: i64) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock_id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }
}
