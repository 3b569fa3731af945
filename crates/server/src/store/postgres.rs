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

use super::batch::{Batcher, ConsumeJob, LockedKeys, distinct_hashes, settle};
use super::sql::{
    Access, KEY_BY_HASH, Outcome, Param, Row, Sql, Tx, Value, key_record, select_keys, stored,
};
use super::{Consumed, KeyRecord, StoreError};
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

const UPDATE_USAGE: &str = "UPDATE api_keys AS k SET used = v.used, period_start = v.period_start, \
    next_reset_at = v.next_reset_at \
    FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[]) \
         AS v(id, used, period_start, next_reset_at) \
    WHERE k.id = v.id";

/// One batch in one transaction: lock the rows, decide, write, commit.
async fn run_batch(
    pool: &PgPool,
    schedules: &Schedules,
    jobs: &[ConsumeJob],
) -> Result<Vec<Consumed>, StoreError> {
    const LOCK: &str = select_keys!(
        with_hash,
        "WHERE key_hash = ANY($1) ORDER BY key_hash FOR UPDATE"
    );
    let hashes = distinct_hashes(jobs);
    let wanted: Vec<&[u8]> = hashes.iter().map(|h| &h.0[..]).collect();
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(LOCK).bind(wanted).fetch_all(&mut *tx).await?;
    let mut keys: LockedKeys = hashes.iter().map(|h| (*h, None)).collect();
    for row in &rows {
        let row = neutral_row(row)?;
        let hash = KeyHash::from_slice(&row.blob(0)?)
            .ok_or_else(|| StoreError::Corrupt("a key hash is not 32 bytes".to_owned()))?;
        keys.insert(hash, Some(key_record(&row, 1)?.into()));
    }
    let results = settle(jobs, &mut keys, schedules);
    let changed: Vec<_> = keys.values().flatten().filter(|k| k.changed).collect();
    if !changed.is_empty() {
        let used = changed
            .iter()
            .map(|k| stored(k.state.used))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(UPDATE_USAGE)
            .bind(changed.iter().map(|k| k.id).collect::<Vec<_>>())
            .bind(used)
            .bind(
                changed
                    .iter()
                    .map(|k| k.state.period.start)
                    .collect::<Vec<_>>(),
            )
            .bind(
                changed
                    .iter()
                    .map(|k| k.state.period.end)
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(results)
}

impl PostgresStore {
    /// Connect to `url` (`postgres://…`) and migrate. Safe when several instances start at
    /// once: sqlx's migrator holds a database-wide advisory lock while it runs.
    pub async fn connect(
        url: &str,
        options: &PoolOptions,
        schedules: Arc<Schedules>,
    ) -> Result<Self, StoreError> {
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
                async move { run_batch(&pool, &schedules, &jobs).await }
            })
        };
        Ok(PostgresStore {
            pool,
            batcher,
            schedules,
            acquire_timeout,
        })
    }

    pub(crate) fn schedules(&self) -> &Schedules {
        &self.schedules
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
