//! Keys read on the writer connection, kept for exactly as long as nobody else has committed.
//!
//! `PRAGMA data_version` on a connection changes whenever another connection — of this process
//! or of another one, such as `prime-server keys revoke` — has committed since it was last
//! read, and only then (SQLite documents this; commits made on the same connection leave it
//! unchanged). The consume batches are the only commits made on the writer connection, and the
//! writer forgets what it knows after each of them ([`KnownKeys::forget`]). So while the value
//! is unchanged, a key read earlier is exactly what reading it again would return: an
//! authentication answered from here costs one pragma instead of a three-table read, and a
//! revocation, an expiry change or a new key from anywhere still bites on the next request.

use std::collections::HashMap;

use rusqlite::Connection;

use super::{StoreError, key_by_hash};
use crate::domain::keys::KeyHash;
use crate::store::KeyRecord;

/// Keys remembered at most; past it, everything is forgotten (a flood of distinct keys).
const CAPACITY: usize = 10_000;

/// Key records (or their absence) read on the writer connection at `version`.
#[derive(Debug, Default)]
pub(super) struct KnownKeys {
    version: Option<i64>,
    keys: HashMap<KeyHash, Option<KeyRecord>>,
}

impl KnownKeys {
    /// The key with this hash, whatever its state, as the database holds it now.
    pub(super) fn lookup(
        &mut self,
        conn: &Connection,
        hash: &KeyHash,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let version = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get::<_, i64>(0))?;
        if self.version != Some(version) {
            self.keys.clear();
            self.version = Some(version);
        }
        if let Some(known) = self.keys.get(hash) {
            return Ok(known.clone());
        }
        // Read after the pragma: if someone commits in between, the version read next time
        // differs and this entry is dropped, so it can only be newer than `version`, never older.
        let key = key_by_hash(conn, hash)?;
        if self.keys.len() >= CAPACITY {
            self.keys.clear();
        }
        self.keys.insert(*hash, key.clone());
        Ok(key)
    }

    /// Forget everything: the writer has committed (its own commits do not change
    /// `data_version`).
    pub(super) fn forget(&mut self) {
        self.keys.clear();
        self.version = None;
    }
}
