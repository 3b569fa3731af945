//! The SQLite schema's migrations, tracked in `PRAGMA user_version`.
//!
//! Each migration runs in the same `BEGIN IMMEDIATE` transaction as the version check, so
//! processes starting at once on a new file apply it exactly once. Stores made by release 0.1.0
//! (migrated by sqlx, `user_version` 0) hold exactly migration 1, whose statements are
//! idempotent (`IF NOT EXISTS`): they are adopted without change; sqlx's bookkeeping table stays.

use rusqlite::{Connection, TransactionBehavior};

use crate::store::StoreError;

/// `(version, SQL)`, in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/sqlite/0001_api_keys.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_policies.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_usage_in_key_row.sql"),
    ),
];

/// Bring the schema of the database behind `conn` up to date.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let failed = |e: rusqlite::Error| StoreError::Migrate(e.to_string());
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let current: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(failed)?;
    let latest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > latest {
        return Err(StoreError::Migrate(format!(
            "the database's schema version {current} is newer than this prime-server's ({latest}); \
             use a newer prime-server"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Migrate(format!("migration {version}: {e}")))?;
    }
    tx.pragma_update(None, "user_version", latest)
        .map_err(failed)?;
    tx.commit().map_err(failed)
}
