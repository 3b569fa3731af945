//! Keys read from the database, kept for exactly as long as nobody has committed since.
//!
//! In WAL mode, SQLite publishes every commit — by any connection of any process: this
//! server's consume batches, another instance, `prime-server keys revoke` — by rewriting the
//! wal-index header at the start of the `-shm` file before the committing connection lets go
//! of the write lock, and each commit changes it (its `iChange` counter, its last frame's
//! checksum; <https://www.sqlite.org/walformat.html>). A reader's own transaction begins by
//! comparing that header with the one it saw last, to learn whether anything changed
//! (`walIndexTryHdr` in SQLite). We make the same comparison with one `pread(2)` instead of a
//! read transaction: while the header is what it was when a key was read, reading the key again
//! would return the same row. A revocation, an expiry or limit change or a new key from
//! anywhere still bites on the next request; an authentication answered from here costs a
//! 96-byte read instead of SQLite's locks on the `-shm` file and a three-table select.
//!
//! A header that cannot be read, is half-written (its two copies differ) or fails its checksum
//! counts as changed: the key is read from the database, as it would be without this module.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use rusqlite::Connection;

use super::StoreError;
use crate::domain::keys::KeyHash;
use crate::store::KeyRecord;

/// Keys remembered at most; past it, everything is forgotten (a flood of distinct keys).
const CAPACITY: usize = 10_000;

/// Bytes in one copy of the wal-index header; the file starts with two copies.
const HEADER: usize = 48;

/// The wal-index format this module understands (`WALINDEX_MAX_VERSION`, since SQLite 3.7.0).
const WAL_INDEX_VERSION: u32 = 3_007_000;

/// A consistent wal-index header, as read from the `-shm` file.
type Header = [u8; HEADER];

/// Key records (or their absence) read since the wal-index header was last seen to change.
#[derive(Debug)]
pub(super) struct KnownKeys {
    /// The database's `-shm` file; `None` when it could not be opened (nothing is remembered).
    shm: Option<File>,
    /// The header when the remembered keys were read; `None` when nothing may be remembered.
    header: Option<Header>,
    keys: HashMap<KeyHash, Option<KeyRecord>>,
}

impl KnownKeys {
    /// Keys of the database `conn` has open in WAL mode. The `-shm` file is named after the
    /// path SQLite resolved (symbolic links followed), not the one it was given: a stale file
    /// beside a link would never change.
    pub(super) fn new(conn: &Connection) -> Self {
        let shm = conn
            .path()
            .filter(|p| !p.is_empty())
            .and_then(|p| File::open(format!("{p}-shm")).ok());
        KnownKeys {
            shm,
            header: None,
            keys: HashMap::new(),
        }
    }

    /// The key with this hash, whatever its state, as the database holds it now: remembered
    /// while nobody has committed since it was read, else `read` from the database.
    pub(super) fn lookup(
        &mut self,
        hash: &KeyHash,
        read: impl FnOnce() -> Result<Option<KeyRecord>, StoreError>,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let header = self.shm.as_ref().and_then(read_header);
        if header.is_none() || header != self.header {
            self.keys.clear();
            self.header = header;
        }
        if let Some(known) = self.keys.get(hash) {
            return Ok(known.clone());
        }
        // Read after the header: if someone commits in between, the header read next time
        // differs and this entry is dropped, so it is never older than `self.header`.
        let key = read()?;
        if self.header.is_some() {
            if self.keys.len() >= CAPACITY {
                self.keys.clear();
            }
            self.keys.insert(*hash, key.clone());
        }
        Ok(key)
    }
}

/// The wal-index header, if both copies agree and its checksum holds (SQLite's own test for a
/// clean read: a writer updates the second copy, then the first).
fn read_header(shm: &File) -> Option<Header> {
    let mut both = [0u8; 2 * HEADER];
    shm.read_exact_at(&mut both, 0).ok()?;
    let (first, second) = both.split_at(HEADER);
    let header: Header = first.try_into().ok()?;
    let word = |i: usize| {
        u32::from_ne_bytes([
            header[4 * i],
            header[4 * i + 1],
            header[4 * i + 2],
            header[4 * i + 3],
        ])
    };
    let initialised = header[12] == 1;
    if first != second || !initialised || word(0) != WAL_INDEX_VERSION {
        return None;
    }
    // SQLite's `walChecksumBytes` over the ten words before the checksum, native byte order.
    let (mut s1, mut s2) = (0u32, 0u32);
    for pair in (0..10).step_by(2) {
        s1 = s1.wrapping_add(word(pair)).wrapping_add(s2);
        s2 = s2.wrapping_add(word(pair + 1)).wrapping_add(s1);
    }
    (s1 == word(10) && s2 == word(11)).then_some(header)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::cell::Cell;

    use super::*;
    use crate::store::sqlite::open_connection;

    fn database() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let conn = open_connection(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        (dir, path, conn)
    }

    /// Looks `hash` up, counting the reads that reached the database.
    fn lookup(known: &mut KnownKeys, reads: &Cell<u32>) {
        let hash = KeyHash::of("k");
        known
            .lookup(&hash, || {
                reads.set(reads.get() + 1);
                Ok(None)
            })
            .unwrap();
    }

    #[test]
    fn every_commit_from_any_connection_is_seen() {
        let (_dir, path, writer) = database();
        let other = open_connection(&path).unwrap();
        let mut known = KnownKeys::new(&writer);
        let reads = Cell::new(0);
        lookup(&mut known, &reads);
        lookup(&mut known, &reads);
        assert_eq!(reads.get(), 1, "no commit in between: remembered");
        // Reads, and transactions that change nothing, leave it remembered.
        let v: i64 = other
            .query_row("SELECT v FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
        other.execute_batch("BEGIN IMMEDIATE; COMMIT;").unwrap();
        lookup(&mut known, &reads);
        assert_eq!(reads.get(), 1);
        // A commit from another connection, then from the first one, then many in a row.
        for (conn, commits) in [(&other, 1), (&writer, 1), (&other, 300)] {
            for _ in 0..commits {
                conn.execute("UPDATE t SET v = v + 1", []).unwrap();
            }
            let before = reads.get();
            lookup(&mut known, &reads);
            lookup(&mut known, &reads);
            assert_eq!(reads.get(), before + 1, "a commit forgets, once");
        }
        // A checkpoint that restarts the WAL, then a commit into the restarted WAL.
        other
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
            .unwrap();
        lookup(&mut known, &reads);
        let before = reads.get();
        writer.execute("UPDATE t SET v = v + 1", []).unwrap();
        lookup(&mut known, &reads);
        assert_eq!(reads.get(), before + 1);
    }

    #[test]
    fn a_database_opened_through_a_link_is_watched_where_it_lives() {
        let (dir, path, _conn) = database();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        // A stale `-shm` beside the link, which no commit will ever change.
        std::fs::copy(
            format!("{}-shm", path.display()),
            format!("{}-shm", link.display()),
        )
        .unwrap();
        let through_link = open_connection(&link).unwrap();
        let mut known = KnownKeys::new(&through_link);
        let reads = Cell::new(0);
        lookup(&mut known, &reads);
        through_link.execute("UPDATE t SET v = v + 1", []).unwrap();
        lookup(&mut known, &reads);
        assert_eq!(reads.get(), 2);
    }

    #[test]
    fn an_unreadable_or_torn_header_remembers_nothing() {
        let (dir, path, _conn) = database();
        let reads = Cell::new(0);
        let mut in_memory = KnownKeys::new(&Connection::open_in_memory().unwrap());
        lookup(&mut in_memory, &reads);
        lookup(&mut in_memory, &reads);
        assert_eq!(reads.get(), 2);
        // A copy of the header with one copy changed: as a writer leaves it mid-update.
        let shm = std::fs::read(format!("{}-shm", path.display())).unwrap();
        assert!(read_header(&File::open(format!("{}-shm", path.display())).unwrap()).is_some());
        let mut torn = shm.clone();
        torn[8] ^= 1; // iChange of the first copy
        let torn_path = dir.path().join("torn-shm");
        std::fs::write(&torn_path, &torn).unwrap();
        assert!(read_header(&File::open(&torn_path).unwrap()).is_none());
        // Both copies changed alike, checksum not: refused too.
        let mut forged = shm;
        forged[8] ^= 1;
        forged[HEADER + 8] ^= 1;
        std::fs::write(&torn_path, &forged).unwrap();
        assert!(read_header(&File::open(&torn_path).unwrap()).is_none());
    }
}
