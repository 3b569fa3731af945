//! What both backends share: statement parameters and rows in one neutral form, the transaction
//! interface ([`Tx`]) the key-administration code is written against, and the decoding of a
//! key row.
//!
//! Statements are written once, with PostgreSQL's `$1` placeholders; the SQLite backend rewrites
//! them to SQLite's numbered `?1` form. Booleans appear only as literals (`TRUE`, `NOT revoked`),
//! which both dialects accept (SQLite stores them as 1 and 0).

use std::future::Future;

use super::{KeyRecord, StoreError};
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

/// `SELECT <the columns of a key row> FROM api_keys <tail>`, the columns in the order
/// [`key_record`] decodes them; `select_keys!(with_hash, tail)` puts `key_hash` first (decode
/// the key from column 1).
macro_rules! select_keys {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, prefix, quota_limit, used, reset_schedule, period_start, \
             next_reset_at, expires_at, revoked, created_at FROM api_keys ",
            $tail
        )
    };
    (with_hash, $tail:literal) => {
        concat!(
            "SELECT key_hash, id, name, prefix, quota_limit, used, reset_schedule, period_start, \
             next_reset_at, expires_at, revoked, created_at FROM api_keys ",
            $tail
        )
    };
}
pub(crate) use select_keys;

/// The key with a given hash (`$1`), whatever its state.
pub(crate) const KEY_BY_HASH: &str = select_keys!("WHERE key_hash = $1");

/// Decode a row selected with [`select_keys`] (its columns starting at column `at`).
pub(crate) fn key_record(row: &Row, at: usize) -> Result<KeyRecord, StoreError> {
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
    })
}

/// A count or limit as the database stores it (a signed 64-bit integer).
pub(crate) fn stored(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} does not fit the database")))
}
