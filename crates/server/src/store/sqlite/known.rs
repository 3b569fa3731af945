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
//!
//! The `-shm` file is opened once per process and never closed ([`shm_file`]): closing any
//! descriptor of a file drops every POSIX record lock the process holds on it (fcntl(2)),
//! SQLite's included. SQLite's lock on the `-shm` file is what tells another process that this
//! one uses the wal-index; without it, the next process to open the database takes the index
//! for abandoned and truncates it under this process's mapping (SIGBUS) or rebuilds it while
//! this process reads it. SQLite never closes a descriptor of a file it has locks on while a
//! connection uses it; neither do we.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::StoreError;
use crate::domain::keys::KeyHash;
use crate::locks::lock;
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
    shm: Option<Arc<File>>,
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
            .and_then(|p| shm_file(&format!("{p}-shm")));
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
        let header = self.shm.as_deref().and_then(read_header);
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

/// The `-shm` file at `path`, opened at most once per process (by device and inode) and never
/// closed: see the module's documentation. An open descriptor keeps its inode from being reused,
/// so a file's identity stays unique while it is held here. `None` if it cannot be opened.
fn shm_file(path: &str) -> Option<Arc<File>> {
    static OPENED: Mutex<Vec<Arc<File>>> = Mutex::new(Vec::new());
    let identity = |m: std::fs::Metadata| (m.dev(), m.ino());
    let wanted = identity(std::fs::metadata(path).ok()?);
    let mut opened = lock(&OPENED);
    let is_wanted = |f: &File| f.metadata().ok().map(identity) == Some(wanted);
    if let Some(file) = opened.iter().find(|f| is_wanted(f)) {
        return Some(Arc::clone(file));
    }
    // Kept even if the path now names another file (replaced since the `stat`): dropping it
    // would close it.
    let file = Arc::new(File::open(path).ok()?);
    opened.push(Arc::clone(&file));
    is_wanted(&file).then_some(file)
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

    /// Both copies of the wal-index header of the database at `path`, read through the kept
    /// descriptor (opening and closing another would drop SQLite's locks); checked as valid.
    fn live_header(path: &std::path::Path) -> Vec<u8> {
        let file = shm_file(&format!("{}-shm", path.display())).unwrap();
        assert!(read_header(&file).is_some());
        let mut both = vec![0u8; 2 * HEADER];
        file.read_exact_at(&mut both, 0).unwrap();
        both
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
        std::fs::write(format!("{}-shm", link.display()), live_header(&path)).unwrap();
        let through_link = open_connection(&link).unwrap();
        let mut known = KnownKeys::new(&through_link);
        let reads = Cell::new(0);
        lookup(&mut known, &reads);
        through_link.execute("UPDATE t SET v = v + 1", []).unwrap();
        lookup(&mut known, &reads);
        assert_eq!(reads.get(), 2);
    }

    /// Whether this process holds a POSIX record lock on the file at `path`, per `/proc/locks`
    /// (`N: POSIX ADVISORY READ|WRITE PID MAJOR:MINOR:INODE START END`, device numbers in hex).
    fn this_process_locks(path: &str) -> bool {
        let m = std::fs::metadata(path).unwrap();
        let dev = m.dev();
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        let file = format!("{major:02x}:{minor:02x}:{}", m.ino());
        let pid = std::process::id().to_string();
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .any(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                f.get(1) == Some(&"POSIX")
                    && f.get(4) == Some(&pid.as_str())
                    && f.get(5) == Some(&file.as_str())
            })
    }

    #[test]
    fn a_dropped_watcher_leaves_sqlite_its_locks() {
        let (_dir, path, conn) = database();
        let shm = format!("{}-shm", path.display());
        assert!(
            this_process_locks(&shm),
            "SQLite locks the -shm file of an open database"
        );
        for _ in 0..2 {
            let other = open_connection(&path).unwrap();
            let mut known = KnownKeys::new(&other);
            lookup(&mut known, &Cell::new(0));
            drop((known, other));
            assert!(
                this_process_locks(&shm),
                "closing a descriptor would have dropped the locks of `conn`"
            );
        }
        conn.execute("UPDATE t SET v = v + 1", []).unwrap();
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
        let shm = live_header(&path);
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
