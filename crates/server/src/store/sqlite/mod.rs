//! SQLite backend (the embedded default), driven synchronously through rusqlite on the calling
//! thread: a statement costs microseconds, far less than handing it to another thread and back.
//!
//! WAL journal, `synchronous = NORMAL` (a committed transaction survives a process kill),
//! busy timeout 5 s. One writer connection for the hot path ([`hot`]), a pool of idle
//! connections for reads and key administration. The database file is created `0600` (SQLite
//! gives its `-wal` and `-shm` files the database's mode).

mod hot;
mod known;
mod migrate;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, ToSql};

use super::sql::{Access, Outcome, Param, Row, Sql, Tx, Value, key_record, select_keys};
use super::{KeyRecord, Policies, StoreError};
use crate::domain::keys::KeyHash;
use crate::domain::schedule::Schedules;
use crate::locks::lock;

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept for reads and administration.
const MAX_IDLE: usize = 8;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// The SQLite store (cheap to clone: all clones share the connections).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tells this store's per-thread batch queues apart from other stores' (see [`hot`]).
    id: u64,
    path: PathBuf,
    /// The hot path's connection; `None` once closed.
    writer: Mutex<Option<Connection>>,
    /// Keys read since anyone last committed.
    known: Mutex<known::KnownKeys>,
    idle: Mutex<Vec<Connection>>,
    schedules: Arc<Schedules>,
    policies: Policies,
    closed: AtomicBool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

static STORE_IDS: AtomicU64 = AtomicU64::new(0);

/// Create `path` readable and writable by its owner only, unless it exists.
fn create_private(path: &Path) -> Result<(), StoreError> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

pub(super) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(32);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "{} cannot use WAL journaling (journal mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// A statement written with `$1` placeholders, in SQLite's `?1` form.
pub(crate) fn sqlite_text(sql: &str) -> String {
    sql.replace('$', "?")
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Int(v) => v.to_sql(),
            Param::OptInt(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
            Param::OptText(v) => v.to_sql(),
            Param::Blob(v) => v.to_sql(),
        }
    }
}

fn neutral_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let n = row.as_ref().column_count();
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        values.push(match row.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Real(v) => Value::Text(v.to_string()),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        });
    }
    Ok(Row(values))
}

/// The key with this hash on `conn`, whatever its state.
fn key_by_hash(conn: &Connection, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
    const SQL: &str = select_keys!("WHERE k.key_hash = ?1");
    let mut stmt = conn.prepare_cached(SQL)?;
    let row = stmt.query_row([&hash.0[..]], neutral_row).optional()?;
    row.map(|r| key_record(&r, 0)).transpose()
}

impl SqliteStore {
    /// Open (creating if missing) the SQLite file at `path` and migrate its schema.
    pub fn open(
        path: &Path,
        schedules: Arc<Schedules>,
        policies: Policies,
    ) -> Result<Self, StoreError> {
        create_private(path)?;
        let mut writer = open_connection(path)?;
        migrate::migrate(&mut writer)?;
        let known = known::KnownKeys::new(&writer);
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                id: STORE_IDS.fetch_add(1, Ordering::Relaxed),
                path: path.to_owned(),
                writer: Mutex::new(Some(writer)),
                known: Mutex::new(known),
                idle: Mutex::new(Vec::new()),
                schedules,
                policies,
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(crate) fn schedules(&self) -> &Schedules {
        &self.inner.schedules
    }

    pub(crate) fn policies(&self) -> Policies {
        self.inner.policies
    }

    /// An idle connection, or a new one.
    fn take_connection(&self) -> Result<Connection, StoreError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let pooled = lock(&self.inner.idle).pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => open_connection(&self.inner.path),
        }
    }

    fn return_connection(&self, conn: Connection) {
        let mut idle = lock(&self.inner.idle);
        if idle.len() < MAX_IDLE && !self.inner.closed.load(Ordering::Acquire) {
            idle.push(conn);
        }
    }

    /// Run `f` (a consume batch) on the hot path's writer connection.
    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut writer = lock(&self.inner.writer);
        f(writer.as_mut().ok_or(StoreError::Closed)?)
    }

    pub(crate) async fn begin(&self, access: Access) -> Result<SqliteTx, StoreError> {
        let conn = self.take_connection()?;
        conn.execute_batch(match access {
            Access::Read => "BEGIN",
            Access::Write => "BEGIN IMMEDIATE",
        })?;
        Ok(SqliteTx {
            conn: Some(conn),
            store: self.clone(),
            committed: false,
        })
    }

    /// The key with this hash, whatever its state, as the database holds it now: remembered
    /// while nobody has committed since it was read ([`known`]), else read on an idle
    /// connection (never the writer's: a consume batch may hold it while it waits for another
    /// process's write lock).
    pub(crate) fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        lock(&self.inner.known).lookup(hash, || {
            let conn = self.take_connection()?;
            let key = key_by_hash(&conn, hash);
            self.return_connection(conn);
            key
        })
    }

    pub(crate) fn health(&self) -> Result<(), StoreError> {
        let conn = self.take_connection()?;
        let probe = conn.query_row("SELECT COUNT(*) FROM api_keys WHERE id = 0", [], |r| {
            r.get::<_, i64>(0)
        });
        self.return_connection(conn);
        probe.map(|_| ()).map_err(StoreError::from)
    }

    /// Close every connection (the last one to close checkpoints the WAL into the database).
    pub(crate) fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        lock(&self.inner.idle).clear();
        lock(&self.inner.writer).take();
    }
}

/// An SQLite transaction on a connection of its own; rolled back if dropped uncommitted.
pub(crate) struct SqliteTx {
    conn: Option<Connection>,
    store: SqliteStore,
    committed: bool,
}

impl SqliteTx {
    fn conn(&self) -> Result<&Connection, StoreError> {
        self.conn.as_ref().ok_or(StoreError::Closed)
    }
}

impl Tx for SqliteTx {
    async fn run(&mut self, sql: Sql, params: &[Param<'_>]) -> Result<Outcome, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&sqlite_text(sql))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), neutral_row)?
            .collect::<Result<_, _>>()?;
        Ok(Outcome {
            rows,
            changed: conn.changes(),
        })
    }

    async fn lock_exclusive(&mut self, _lock_id: i64) -> Result<(), StoreError> {
        // A write transaction holds SQLite's one write lock from its `BEGIN IMMEDIATE` on.
        Ok(())
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        self.conn()?.execute_batch("COMMIT")?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.committed && conn.execute_batch("ROLLBACK").is_err() {
                return; // a connection in an unknown state is not reused
            }
            self.store.return_connection(conn);
        }
    }
}
