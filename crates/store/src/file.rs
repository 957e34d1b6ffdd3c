//! Looking at a store file before cozo touches it. cozo's sqlite backend panics on a file that is not a
//! database and silently adds its table to any other SQLite file, so the header and the table list are
//! read here first, read-only, and anything unexpected is refused with the file's name.

use crate::StoreError;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The `application_id` maestro writes into a new store's header (`maes`), in the database file
/// itself, before the write-ahead log takes over: a store whose data is gone (its log lost)
/// still says it was one.
const APPLICATION_ID: i64 = 0x6d61_6573;

/// What a path holds, as far as can be told without cozo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    /// Nothing yet (no file, or a SQLite file without tables that maestro did not make): a new
    /// store goes here.
    Fresh,
    /// A SQLite file holding exactly cozo's key-value table.
    Cozo,
}

pub(crate) fn check(path: &Path) -> Result<FileState, StoreError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(FileState::Fresh),
        Err(e) => return Err(StoreError::io(path)(e)),
    };
    if file.metadata().map_err(StoreError::io(path))?.is_dir() {
        return Err(StoreError::NotSqlite {
            path: path.into(),
            head: "a directory".into(),
        });
    }
    let mut head = Vec::with_capacity(16);
    (&mut file)
        .take(16)
        .read_to_end(&mut head)
        .map_err(StoreError::io(path))?;
    if head.is_empty() {
        // Something truncated it: the store it was is not silently replaced by an empty one.
        return Err(StoreError::Emptied {
            path: path.into(),
            detail: "the file is empty (0 bytes)".into(),
        });
    }
    if head.as_slice() != SQLITE_MAGIC {
        return Err(StoreError::NotSqlite {
            path: path.into(),
            head: format!("{:?}", String::from_utf8_lossy(&head)),
        });
    }
    drop(file);

    let corrupt = damaged(path);
    let conn = sqlite::Connection::open_with_flags(path, sqlite::OpenFlags::new().with_read_only())
        .map_err(corrupt)?;
    let mut tables = Vec::new();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .map_err(corrupt)?;
    while stmt.next().map_err(corrupt)? == sqlite::State::Row {
        tables.push(stmt.read::<String, _>(0).map_err(corrupt)?);
    }
    drop(stmt);
    match tables.as_slice() {
        [] if application_id(&conn) == Some(APPLICATION_ID) => Err(StoreError::Emptied {
            path: path.into(),
            detail: format!(
                "no tables: its write-ahead log {}-wal is missing or damaged",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
        }),
        [] => Ok(FileState::Fresh),
        [only] if only == "cozo" => Ok(FileState::Cozo),
        _ => Err(StoreError::Foreign {
            path: path.into(),
            detail: format!("it has tables {}", tables.join(", ")),
        }),
    }
}

/// Runs SQLite's page-level consistency check, read-only. Slow on big files: for `maestro doctor`.
pub(crate) fn quick_check(path: &Path) -> Result<(), StoreError> {
    let corrupt = damaged(path);
    let conn = sqlite::Connection::open_with_flags(path, sqlite::OpenFlags::new().with_read_only())
        .map_err(&corrupt)?;
    let mut stmt = conn.prepare("PRAGMA quick_check").map_err(&corrupt)?;
    let mut problems = Vec::new();
    while stmt.next().map_err(&corrupt)? == sqlite::State::Row {
        let line = stmt.read::<String, _>(0).map_err(&corrupt)?;
        if line != "ok" {
            problems.push(line);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            path: path.into(),
            detail: problems.join("; "),
        })
    }
}

/// Prepares a store file for cozo: marked as maestro's, in write-ahead logging (persistent in the
/// file: cozo's connections then commit with one WAL append instead of a rollback journal), and
/// with cozo's one table made before cozo makes it, `WITHOUT ROWID`. cozo reads and writes that
/// table by key only (`k = ?`, `k >= ? and k < ?`, upserts on `k`), which a table clustered on its
/// key answers the same; cozo's own `k BLOB primary key` makes a rowid table plus an index holding
/// every key a second time (a quarter of the cargo registry's store).
///
/// The table is made in the log, after the mark: a copy of the file without its log has no table
/// and is refused as emptied. The connection is returned to be closed after cozo opened the file,
/// since the last connection to close checkpoints the log into the file.
pub(crate) fn prepare(path: &Path) -> Result<sqlite::Connection, StoreError> {
    let corrupt = damaged(path);
    let conn = sqlite::Connection::open(path).map_err(&corrupt)?;
    conn.execute(format!("PRAGMA application_id = {APPLICATION_ID}"))
        .map_err(&corrupt)?;
    // SQLite gives the log and shared-memory files the database's mode.
    crate::private::restrict(path, 0o600).map_err(StoreError::io(path))?;
    let mut stmt = conn.prepare("PRAGMA journal_mode=WAL").map_err(&corrupt)?;
    while stmt.next().map_err(&corrupt)? == sqlite::State::Row {}
    drop(stmt);
    conn.execute("CREATE TABLE IF NOT EXISTS cozo (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
        .map_err(&corrupt)?;
    Ok(conn)
}

fn application_id(conn: &sqlite::Connection) -> Option<i64> {
    let mut stmt = conn.prepare("PRAGMA application_id").ok()?;
    (stmt.next().ok()? == sqlite::State::Row)
        .then(|| stmt.read::<i64, _>(0).ok())
        .flatten()
}

fn damaged(path: &Path) -> impl Fn(sqlite::Error) -> StoreError + Copy + '_ {
    move |e| StoreError::Corrupt {
        path: path.into(),
        detail: e.message.unwrap_or_else(|| "unreadable SQLite file".into()),
    }
}

/// Checkpoints `path`'s log into it through a connection of its own, waiting up to a second for
/// readers; whether the log is empty afterwards.
pub(crate) fn checkpoint_now(path: &Path) -> bool {
    let mut checkpoints = Checkpointer::new(path.to_owned(), 0);
    checkpoints.busy_ms = 1000;
    checkpoints.checkpoint();
    std::fs::metadata(&checkpoints.wal).map_or(true, |m| m.len() == 0)
}

/// Keeps the write-ahead log small. SQLite checkpoints on its own only when no reader overlaps
/// the commit; the indexer reads while it writes, and the log then grew to the size of every
/// write ever made (1.1 GB for 160 MB of Rust). The writer thread checkpoints through a connection
/// of its own once the log passes [`Checkpointer::LIMIT`], when no write came for
/// [`Checkpointer::IDLE`] and the log holds more than [`Checkpointer::IDLE_LIMIT`], and when it
/// stops.
pub(crate) struct Checkpointer {
    path: PathBuf,
    wal: PathBuf,
    limit: u64,
    /// How long a checkpoint waits for readers.
    busy_ms: u32,
    conn: Option<sqlite::Connection>,
}

impl Checkpointer {
    pub(crate) const LIMIT: u64 = 32 << 20;
    /// How long the writer waits with nothing to write before it empties the log.
    pub(crate) const IDLE: std::time::Duration = std::time::Duration::from_millis(500);
    /// A log this small is left for later: a checkpoint is a sync of the database file.
    pub(crate) const IDLE_LIMIT: u64 = 1 << 20;

    pub(crate) fn new(path: PathBuf, limit: u64) -> Checkpointer {
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        Checkpointer {
            path,
            wal: PathBuf::from(wal),
            limit,
            busy_ms: 200,
            conn: None,
        }
    }

    pub(crate) fn after_write(&mut self) {
        self.checkpoint_past(self.limit);
    }

    pub(crate) fn when_idle(&mut self) {
        self.checkpoint_past(Self::IDLE_LIMIT);
    }

    /// Checkpoints when the log holds more than `limit` bytes.
    fn checkpoint_past(&mut self, limit: u64) {
        let size = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if size > limit {
            self.checkpoint();
        }
    }

    pub(crate) fn finish(&mut self) {
        self.checkpoint();
    }

    /// Copies the log into the database and truncates it; readers in the way make it partial,
    /// and the next write tries again.
    fn checkpoint(&mut self) {
        let started = std::time::Instant::now();
        if self.conn.is_none() {
            match sqlite::Connection::open(&self.path) {
                Ok(conn) => {
                    let _ = conn.execute(format!("PRAGMA busy_timeout = {}", self.busy_ms));
                    self.conn = Some(conn);
                }
                Err(e) => {
                    tracing::warn!("cannot open the store to checkpoint it: {e}");
                    return;
                }
            }
        }
        let conn = self.conn.as_ref().expect("opened above");
        let outcome = conn
            .prepare("PRAGMA wal_checkpoint(TRUNCATE)")
            .and_then(|mut stmt| {
                let mut out = Vec::new();
                while stmt.next()? == sqlite::State::Row {
                    out = (0..3)
                        .map(|i| stmt.read::<i64, _>(i).unwrap_or(-1))
                        .collect();
                }
                Ok(out)
            });
        match outcome {
            Ok(v) => tracing::debug!(
                busy = v.first(),
                frames = v.get(1),
                copied = v.get(2),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "store checkpoint"
            ),
            Err(e) => tracing::debug!("store checkpoint failed: {e}"),
        }
    }
}
