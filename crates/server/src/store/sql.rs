//! What both backends share: statement parameters and rows in one neutral form, the transaction
//! interface ([`Tx`]) the key-administration code is written against, and the decoding of a
//! key row.
//!
//! Statements are written once, with PostgreSQL's `$1` placeholders; the SQLite backend rewrites
//! them to SQLite's numbered `?1` form. Booleans appear only as literals (`TRUE`, `NOT revoked`),
//! which both dialects accept (SQLite stores them as 1 and 0).

use std::future::Future;

use super::batch::QuotaRow;
use super::{GroupRef, KeyRecord, StoreError};
use crate::domain::burst::Rate;
use crate::domain::quota::KeyState;
use crate::domain::schedule::Period;

/// A value bound to a statement parameter. NULLs are typed: PostgreSQL infers a parameter's type
/// from the value bound to it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    /// A 64-bit integer.
    Int(i64),
    /// An integer or NULL.
    OptInt(Option<i64>),
    /// Text.
    Text(&'a str),
    /// Text or NULL.
    OptText(Option<&'a str>),
    /// Bytes.
    Blob(&'a [u8]),
}

/// A value read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// SQL NULL.
    Null,
    /// Any integer column (and SQLite's booleans).
    Int(i64),
    /// PostgreSQL's booleans.
    Bool(bool),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// One row, its values in the statement's column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row(pub Vec<Value>);

fn corrupt(column: usize, what: &str) -> StoreError {
    StoreError::Corrupt(format!("column {column} is not {what}"))
}

impl Row {
    /// Column `i`, read by `pick`; `what` names the expected kind in the error.
    fn get<T>(
        &self,
        i: usize,
        what: &str,
        pick: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<T, StoreError> {
        self.0.get(i).and_then(pick).ok_or_else(|| corrupt(i, what))
    }

    /// Column `i` read by `read`, or `None` when it is NULL.
    fn nullable<T>(
        &self,
        i: usize,
        read: impl FnOnce(&Self, usize) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match self.0.get(i) {
            Some(Value::Null) => Ok(None),
            _ => read(self, i).map(Some),
        }
    }

    pub(crate) fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.get(i, "an integer", |v| match v {
            Value::Int(v) => Some(*v),
            _ => None,
        })
    }

    pub(crate) fn unsigned(&self, i: usize) -> Result<u64, StoreError> {
        u64::try_from(self.int(i)?).map_err(|_| corrupt(i, "a non-negative integer"))
    }

    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.nullable(i, Self::int)
    }

    pub(crate) fn text(&self, i: usize) -> Result<String, StoreError> {
        self.get(i, "text", |v| match v {
            Value::Text(v) => Some(v.clone()),
            _ => None,
        })
    }

    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.nullable(i, Self::text)
    }

    pub(crate) fn boolean(&self, i: usize) -> Result<bool, StoreError> {
        self.get(i, "a boolean", |v| match v {
            Value::Bool(v) => Some(*v),
            Value::Int(v) => Some(*v != 0),
            _ => None,
        })
    }

    pub(crate) fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.get(i, "bytes", |v| match v {
            Value::Blob(v) => Some(v.clone()),
            _ => None,
        })
    }
}

/// What a statement did: the rows it returned and the rows it changed.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Rows returned (`SELECT`, `… RETURNING`).
    pub rows: Vec<Row>,
    /// Rows inserted, updated or deleted.
    pub changed: u64,
}

/// Whether a transaction only reads (SQLite then takes no write lock up front).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads only.
    Read,
    /// Writes: SQLite takes the write lock at `BEGIN` (`BEGIN IMMEDIATE`), so a transaction
    /// that reads and then writes cannot fail halfway on a lock upgrade.
    Write,
}

/// A statement's text, written once with `$1` placeholders.
pub(crate) type Sql = &'static str;

/// A transaction of either backend. Dropping it without [`Tx::commit`] rolls it back.
pub(crate) trait Tx: Send {
    /// Run one statement.
    fn run(
        &mut self,
        sql: Sql,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Outcome, StoreError>> + Send;

    /// Serialise this transaction with every other one that calls this (PostgreSQL: a
    /// transaction-scoped advisory lock; SQLite: the write lock it already holds).
    fn lock_exclusive(
        &mut self,
        lock_id: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Make the changes durable.
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// `SELECT <the columns of a key row> FROM api_keys k <joins> <tail>`, the columns in the order
/// [`key_record`] decodes them; `select_keys!(with_hash, tail)` puts `key_hash` first (decode
/// the key from column 1). The quota columns (limit, usage, schedule, period, rate, burst state)
/// are those of what holds the key's quota: its group, the key it was rotated to, or itself.
macro_rules! select_keys {
    ($tail:literal) => {
        concat!("SELECT ", crate::store::sql::key_columns!(), $tail)
    };
    (with_hash, $tail:literal) => {
        concat!(
            "SELECT k.key_hash, ",
            crate::store::sql::key_columns!(),
            $tail
        )
    };
}
pub(crate) use select_keys;

/// The columns of a key row and the joins they need (see [`select_keys`]).
macro_rules! key_columns {
    () => {
        "k.id, k.name, k.prefix, \
         CASE WHEN g.id IS NOT NULL THEN g.quota_limit WHEN h.id IS NOT NULL THEN h.quota_limit \
              ELSE k.quota_limit END, \
         CASE WHEN g.id IS NOT NULL THEN g.used WHEN h.id IS NOT NULL THEN h.used ELSE k.used END, \
         CASE WHEN g.id IS NOT NULL THEN g.reset_schedule WHEN h.id IS NOT NULL THEN h.reset_schedule \
              ELSE k.reset_schedule END, \
         CASE WHEN g.id IS NOT NULL THEN g.period_start WHEN h.id IS NOT NULL THEN h.period_start \
              ELSE k.period_start END, \
         CASE WHEN g.id IS NOT NULL THEN g.next_reset_at WHEN h.id IS NOT NULL THEN h.next_reset_at \
              ELSE k.next_reset_at END, \
         k.expires_at, k.revoked, k.created_at, k.group_id, g.name, k.quota_key_id, \
         CASE WHEN g.id IS NOT NULL THEN g.rate_count WHEN h.id IS NOT NULL THEN h.rate_count \
              ELSE k.rate_count END, \
         CASE WHEN g.id IS NOT NULL THEN g.rate_period_secs WHEN h.id IS NOT NULL \
              THEN h.rate_period_secs ELSE k.rate_period_secs END, \
         CASE WHEN g.id IS NOT NULL THEN g.burst_tat_us WHEN h.id IS NOT NULL THEN h.burst_tat_us \
              ELSE k.burst_tat_us END, \
         k.grace_ends_at \
         FROM api_keys k LEFT JOIN quota_groups g ON g.id = k.group_id \
         LEFT JOIN api_keys h ON h.id = k.quota_key_id "
    };
}
pub(crate) use key_columns;

/// The key with a given hash (`$1`), whatever its state.
pub(crate) const KEY_BY_HASH: &str = select_keys!("WHERE k.key_hash = $1");

/// Decode a row selected with [`select_keys`] (its columns starting at column `at`).
pub(crate) fn key_record(row: &Row, at: usize) -> Result<KeyRecord, StoreError> {
    let group = match row.opt_int(at + 11)? {
        Some(id) => Some(GroupRef {
            id,
            name: row.text(at + 12)?,
        }),
        None => None,
    };
    Ok(KeyRecord {
        id: row.int(at)?,
        name: row.text(at + 1)?,
        prefix: row.text(at + 2)?,
        state: KeyState {
            limit: row.unsigned(at + 3)?,
            used: row.unsigned(at + 4)?,
            reset_schedule: row.opt_text(at + 5)?,
            period: Period {
                start: row.int(at + 6)?,
                end: row.int(at + 7)?,
            },
            expires_at: row.opt_int(at + 8)?,
            revoked: row.boolean(at + 9)?,
        },
        created_at: row.int(at + 10)?,
        group,
        quota_key_id: row.opt_int(at + 13)?,
        rate: Rate::from_stored(row.opt_int(at + 14)?, row.opt_int(at + 15)?),
        burst_tat_us: row.int(at + 16)?,
        grace_ends_at: row.opt_int(at + 17)?,
    })
}

/// The quota columns of a row that holds a quota (a key or a group), as [`quota_row`] decodes
/// them.
macro_rules! quota_columns {
    () => {
        "id, quota_limit, used, reset_schedule, period_start, next_reset_at, rate_count, \
         rate_period_secs, burst_tat_us"
    };
}
pub(crate) use quota_columns;

/// Decode a row of [`quota_columns`]: its id and the quota it holds.
pub(crate) fn quota_row(row: &Row) -> Result<(i64, QuotaRow), StoreError> {
    let period = Period {
        start: row.int(4)?,
        end: row.int(5)?,
    };
    Ok((
        row.int(0)?,
        QuotaRow {
            limit: row.unsigned(1)?,
            used: row.unsigned(2)?,
            reset_schedule: row.opt_text(3)?,
            period,
            rate: Rate::from_stored(row.opt_int(6)?, row.opt_int(7)?),
            tat_us: row.int(8)?,
            changed: false,
            stored_period: period,
        },
    ))
}

/// Write back one key's quota after a batch (`$1` id, `$2` used, `$3`/`$4` period, `$5` TAT).
pub(crate) const UPDATE_KEY_QUOTA: &str = "UPDATE api_keys SET used = $2, period_start = $3, \
    next_reset_at = $4, burst_tat_us = $5 WHERE id = $1";

/// Write back one group's quota after a batch (parameters as [`UPDATE_KEY_QUOTA`]).
pub(crate) const UPDATE_GROUP_QUOTA: &str = "UPDATE quota_groups SET used = $2, \
    period_start = $3, next_reset_at = $4, burst_tat_us = $5 WHERE id = $1";

/// Write back one key's usage after a batch that left its period as stored (`$1` id, `$2`
/// used, `$3` TAT). Without the period's columns in its `SET` list, SQLite leaves the
/// `next_reset_at` index alone: one WAL page fewer per batch.
pub(crate) const UPDATE_KEY_USAGE: &str =
    "UPDATE api_keys SET used = $2, burst_tat_us = $3 WHERE id = $1";

/// Write back one group's usage (parameters as [`UPDATE_KEY_USAGE`]).
pub(crate) const UPDATE_GROUP_USAGE: &str =
    "UPDATE quota_groups SET used = $2, burst_tat_us = $3 WHERE id = $1";

/// Add `$3` units to key `$1`'s history of day `$2`.
pub(crate) const HISTORY_ADD: &str = "INSERT INTO usage_history (key_id, day, used) \
    VALUES ($1, $2, $3) \
    ON CONFLICT (key_id, day) DO UPDATE SET used = usage_history.used + excluded.used";

/// Take `$3` units given back from key `$1`'s history of day `$2` (never below 0).
pub(crate) const HISTORY_TAKE: &str = "UPDATE usage_history \
    SET used = CASE WHEN used > $3 THEN used - $3 ELSE 0 END WHERE key_id = $1 AND day = $2";

/// A count or limit as the database stores it (a signed 64-bit integer).
pub(crate) fn stored(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} does not fit the database")))
}
