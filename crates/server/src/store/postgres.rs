//! PostgreSQL backend, for several server instances sharing one database: the same schema and
//! the same rule as SQLite, through sqlx.
//!
//! Consumes are batched by one task ([`Batcher`]): one transaction per batch locks the batch's
//! key rows (`SELECT … FOR UPDATE`, in hash order so that instances cannot deadlock), applies
//! the rule ([`settle`]), writes the changed rows in one statement and commits. Row locks make
//! it exact across instances.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Column, Postgres, Row as _, Transaction, TypeInfo};

use super::batch::{Batcher, ConsumeJob, Holder, Locked, distinct_hashes, settle};
use super::sql::{
    Access, HISTORY_TAKE, KEY_BY_HASH, Outcome, Param, Row, Sql, Tx, Value, key_record,
    quota_columns, quota_row, select_keys, stored,
};
use super::{Consumed, KeyRecord, Policies, StoreError, StoreOptions};
use crate::domain::keys::KeyHash;
use crate::domain::schedule::Schedules;

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

/// Write back the changed quotas of one table in one statement.
fn update_quotas(table: Table) -> &'static str {
    match table {
        Table::Keys => {
            "UPDATE api_keys AS k SET used = v.used, period_start = v.period_start, \
             next_reset_at = v.next_reset_at, burst_tat_us = v.tat \
             FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[]) \
             AS v(id, used, period_start, next_reset_at, tat) WHERE k.id = v.id"
        }
        Table::Groups => {
            "UPDATE quota_groups AS k SET used = v.used, period_start = v.period_start, \
             next_reset_at = v.next_reset_at, burst_tat_us = v.tat \
             FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[]) \
             AS v(id, used, period_start, next_reset_at, tat) WHERE k.id = v.id"
        }
    }
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

/// Write the changed quotas of `table`.
async fn write_quotas(
    tx: &mut Transaction<'static, Postgres>,
    locked: &Locked,
    table: Table,
) -> Result<(), StoreError> {
    let rows: Vec<_> = locked
        .changed()
        .into_iter()
        .filter_map(|(h, r)| match (h, table) {
            (Holder::Key(id), Table::Keys) | (Holder::Group(id), Table::Groups) => Some((id, r)),
            _ => None,
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let used = rows
        .iter()
        .map(|(_, r)| stored(r.used))
        .collect::<Result<Vec<_>, _>>()?;
    sqlx::query(update_quotas(table))
        .bind(rows.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(used)
        .bind(rows.iter().map(|(_, r)| r.period.start).collect::<Vec<_>>())
        .bind(rows.iter().map(|(_, r)| r.period.end).collect::<Vec<_>>())
        .bind(rows.iter().map(|(_, r)| r.tat_us).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Add the batch's units to the usage history (units given back one by one: rare).
async fn write_history(
    tx: &mut Transaction<'static, Postgres>,
    locked: &Locked,
) -> Result<(), StoreError> {
    let rows = locked.history_rows();
    let (added, taken): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, _, n)| *n > 0);
    if !added.is_empty() {
        sqlx::query(HISTORY_ADD_MANY)
            .bind(added.iter().map(|r| r.0).collect::<Vec<_>>())
            .bind(added.iter().map(|r| r.1).collect::<Vec<_>>())
            .bind(added.iter().map(|r| r.2).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
    }
    for (key, day, units) in taken {
        sqlx::query(HISTORY_TAKE)
            .bind(key)
            .bind(day)
            .bind(-units)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

const HISTORY_ADD_MANY: &str = "INSERT INTO usage_history (key_id, day, used) \
    SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) \
    ON CONFLICT (key_id, day) DO UPDATE SET used = usage_history.used + excluded.used";

/// Attempts of a batch whose key was rotated while it ran.
const BATCH_ATTEMPTS: usize = 3;

/// One batch in one transaction (run again when a key was rotated under it).
async fn run_batch(
    pool: &PgPool,
    schedules: &Schedules,
    policies: &Policies,
    jobs: &[ConsumeJob],
) -> Result<Vec<Consumed>, StoreError> {
    for _ in 0..BATCH_ATTEMPTS {
        if let Some(results) = try_batch(pool, schedules, policies, jobs).await? {
            return Ok(results);
        }
    }
    Err(StoreError::Database(
        "the batch's keys kept being rotated while it ran".to_owned(),
    ))
}

/// One batch in one transaction: read the keys, lock and read the quotas they use, decide,
/// write, commit; `None` (rolled back) when a key was rotated between the read and the lock.
async fn try_batch(
    pool: &PgPool,
    schedules: &Schedules,
    policies: &Policies,
    jobs: &[ConsumeJob],
) -> Result<Option<Vec<Consumed>>, StoreError> {
    const KEYS: &str = select_keys!(with_hash, "WHERE k.key_hash = ANY($1)");
    let hashes = distinct_hashes(jobs);
    let wanted: Vec<&[u8]> = hashes.iter().map(|h| &h.0[..]).collect();
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(KEYS).bind(wanted).fetch_all(&mut *tx).await?;
    let mut locked = Locked::default();
    for hash in &hashes {
        locked.insert(*hash, None);
    }
    for row in &rows {
        let row = neutral_row(row)?;
        let hash = KeyHash::from_slice(&row.blob(0)?)
            .ok_or_else(|| StoreError::Corrupt("a key hash is not 32 bytes".to_owned()))?;
        locked.insert(hash, Some(key_record(&row, 1)?));
    }
    lock_holders(&mut tx, &mut locked, Table::Groups).await?;
    if !lock_holders(&mut tx, &mut locked, Table::Keys).await? {
        return Ok(None);
    }
    let results = settle(jobs, &mut locked, schedules, policies);
    write_quotas(&mut tx, &locked, Table::Groups).await?;
    write_quotas(&mut tx, &locked, Table::Keys).await?;
    write_history(&mut tx, &locked).await?;
    tx.commit().await?;
    Ok(Some(results))
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
            Batcher::start(move |jobs: Vec<ConsumeJob>| {
                let (pool, schedules) = (pool.clone(), Arc::clone(&schedules));
                async move { run_batch(&pool, &schedules, &policies, &jobs).await }
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
