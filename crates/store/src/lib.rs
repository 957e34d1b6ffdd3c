//! maestro's one embedded database: cozo 0.7 on its SQLite backend.
//!
//! Architecture invariant: scripts are `&'static str` constants with `$params`, never strings built
//! from data; every write goes through the one writer thread; a file that is not a maestro store of a
//! version this build understands is refused, with its name, before anything in it changes.
//!
//! API boundary: [`Store`] (open, read, write, backup, typed queries such as
//! [`Store::upsert_workspace`]), [`restore`] for offline restores, [`inspect`] for read-only checks.
//!
//! ## How it behaves
//!
//! cozo 0.7 on its SQLite backend (`storage-sqlite`, `storage-sqlite-src`, `graph-algo`), in WAL mode.
//!
//! * **Opening** (`Store::open`): the file is looked at before cozo touches it, because cozo's backend panics
//!   on a file that is not a database and silently adds its table to any other SQLite file. The header must
//!   be SQLite's, the only table must be cozo's, and a cozo database must hold `maestro_meta`; anything else
//!   is `StoreError::{NotSqlite, Foreign, Corrupt}`, naming the file, with the file unchanged. cozo's open is
//!   also wrapped in `catch_unwind`.
//! * **Schema** is a list of forward migrations (`schema.rs`). Each runs as one chained cozo script together
//!   with the `schema_version` bump, so a failed migration changes nothing. A store newer than the build is
//!   refused (`TooNew`) rather than touched.
//! * **Writes** go through one writer thread (`Store::write`, `on_writer`): the serialization point of every
//!   change. A panic inside cozo fails that write only. **Reads** run on the caller's thread
//!   (`Store::read`; async code calls it from `spawn_blocking`).
//! * **Scripts** are `&'static str` constants with `$params`; the API does not accept a built string.
//! * **Backup** (`Store::backup`) runs on the writer, so it is a consistent copy; it is written beside the
//!   destination and renamed into place. **Restore** (`restore`) is offline: it validates the backup
//!   read-only (`check_backup`: header, tables, `quick_check`, version), migrates a copy, moves the current
//!   store (with `-wal`/`-shm`) to `data/backups/maestro-before-restore-<UTC time>.db` (never over an earlier one), and renames the copy
//!   into place. The caller holds the instance lock.
//!
//! * **Bulk writes** (`Store::queue_import`, `queue_write`) are queued on the writer and return a
//!   `WriteTicket` at once, so the indexer parses while earlier batches are written.
//! * **A store is never replaced by an empty one.** A new store's header carries maestro's
//!   `application_id`, written into the file before the write-ahead log takes over; a file that
//!   says it was a store but has no tables (its log lost or damaged) and a 0-byte file are refused
//!   (`StoreError::Emptied`, naming what was found, nothing changed) instead of becoming a fresh store.
//!   A clean stop of the daemon checkpoints (`Store::checkpoint`, after every queued write), so the
//!   database file alone holds the store.
//! * **The write-ahead log is checkpointed by the writer** (`file::Checkpointer`): once it passes
//!   32 MiB after a write, a connection of the writer's own runs `wal_checkpoint(TRUNCATE)`. SQLite's
//!   automatic checkpoints did not keep up while the indexer read and wrote at once: the log grew to
//!   1.1 GB (the database file stayed at 4 KiB) for 160 MB of Rust.
//! * **User queries** (`Store::query_user`, behind `maestro graph query`) run in a process of their
//!   own: the daemon starts its own binary as `maestro query-worker` (`QueryWorker`), hands it the
//!   store's path, the script and its parameters on stdin, and reads the answer as JSON on stdout
//!   (cut at 10,000 rows, `truncated` says how many more, and refused past 64 MiB). The worker opens
//!   the file with a cozo instance of its own (checked as the daemon checks it, never migrated or
//!   created: SQLite's WAL lets it read beside the writer), so a long read never holds the daemon's
//!   instances, and the daemon kills it (SIGKILL) after 10 s or as soon as the request is dropped
//!   (its client went away): cozo checks its own kill flag only between evaluation steps, and a join
//!   of 187k symbols with themselves ran for minutes past it, a core busy. Starting a worker costs
//!   16 ms. A store without a worker (in memory, the unit tests, a binary replaced on disk by an
//!   upgrade) runs the script in-process on a second cozo instance under a watchdog that `::kill`s it
//!   between steps. Scripts naming `CsvReader`/`JsonReader` (they read files and URLs) are refused
//!   before anything runs. Underneath, `run_read_only`: the one place a script comes from outside.
//!   It runs with cozo's `ScriptMutability::Immutable`, so `:put`, `:rm`, `::remove`,
//!   `::index create`, `::compact` are refused (`StoreError::ReadOnly`), and inside `catch_unwind`,
//!   because cozo's parser panics on some malformed scripts.
//!
//! Relations (schema version 11; `?` marks a nullable column):
//!
//! | relation | key → values | written by |
//! |---|---|---|
//! | `maestro_meta` | `key: String` → `value: Any` | migrations (`schema_version`) |
//! | `workspace` | `id: String` → `root: String, name: String, kind: String, first_seen: Float, last_seen: Float` | `Store::upsert_workspace` (id bound first: a key lookup) |
//! | `file` (+ index `file:by_hash {hash, ws, path}`) | `ws: String, path: String` → `hash: Bytes, lang: String, size: Int, mtime_ns: Int` | the indexer: a workspace's source files, `path` relative to its root |
//! | `content` | `hash: Bytes` → `lang: String, facts: Bytes, symbols: Int, refs: Int, imports: Int, parse_errors: Int` | the indexer: every fact of one content as one blob (`maestro_graph::codec`) |
//! | `symbol` | `hash: Bytes, idx: Int` → `name, kind: String, container: Int?, owner: String?, line, col, start_line, end_line: Int, signature: String` | the indexer |
//! | `reference` | `hash: Bytes, idx: Int` → `name, kind: String, qualifier: String?, enclosing: Int?, line, col: Int` | the indexer: calls, macros, types, inheritance, implementations, imports |
//! | `import` | `hash: Bytes, idx: Int` → `module: String, name: String?, alias: String?, line: Int` | the indexer |
//! | `agent` | `ws: String, name: String` → `state: String, updated: Float, record: String` | the supervisor: the agent as JSON (`maestro_agents::persist::AgentRecord`), its state as a column for queries |
//! | `agent_turn` | `ws: String, agent: String, turn: Int` → `prompt: String, started: Float, ended: Float?, outcome: String?, error_class: String?, message: String?, session_id: String?` | the supervisor, at a turn's start and end (`ok`, `warned`, `failed`, `stopped`, `lost`) |
//! | `agent_usage` | `ws: String, agent: String, turn: Int` → `model: String, input, output, cache_read, cache_write: Int, cost_usd: Float?, priced: Bool, day: String, at: Float` | the supervisor, at a turn's end; kept when the agent is removed |
//! | `playbook_run` | `id: String` → `ws: String, status: String, updated: Float, record: String` | the playbook run engine: the run as JSON (options, documents, `RunState`, the task in flight), its status as a column |
//! | `playbook_event` | `run: String, seq: Int` → `at: Float, kind: String, event: String` | the run engine: every event of a run (`PlaybookEvent` as JSON), the history |
//! | `memory` (+ FTS index `memory:fts` on `text`: Simple tokenizer, lowercase, English stemmer, Lucene's 33 stopwords; + index `memory:by_ws {ws, at, id}`) | `id: String` → `ws, kind, agent, source: String, at: Float, text: String, count: Int, vec: Bytes?, model: String?` | the memory service: a memory is written without a vector, the worker adds it (`vec` is little-endian f32s, `model` names who made it); `count` grows as near-duplicates merge in |
//! | `memory_pending` (+ index `memory_pending:by_at {at, id}`, the order it is taken in) | `id: String` → `at: Float` | the embedding queue: written with the memory, removed with the vector (what survives a kill is embedded after the restart) |
//! | `memory_code` | `ws: String, path: String` → `hash: String, ids: [String]` | the worker: which content each file's code chunks were made from (the chunk format, then the hash in base64), and their ids |
//! | `message` (+ indexes `message:by_recipient {recipient, created_at, id}`, `message:by_thread {thread, created_at, id}`) | `id: String` → `sender, recipient, thread: String, created_at: Int, expires_at: Int?, signed: String, read_at: Float?` | `maestro_comms::Mailboxes`: a verified, signed envelope as JSON (`Signed`), its addresses and times as columns, when its recipient read it |
//! | `chat` | `id: String` → `ws, state: String, updated: Float, record: String` | `maestro_comms::chat::Chats`: the chat as JSON (title, moderator, participants, limits, spending), its state (`open`, `closed`) as a column |
//! | `chat_entry` | `chat: String, seq: Int` → `at: Float, author, kind: String, round: Int, text: String` | the chat service: what the person, the moderator and the participants said, and its notes (a participant that failed, the cap, the budget) |
//! | `attention` (+ index `attention:by_at {at, id}`) | `id: String` → `ws, agent: String, at: Float, question: String, decision: String, by: String, reason: String, answered: Float?` | the attention manager: every question an agent waited on, what decided it (`rule`, `person`) and why |
//! | `consult` | `thread: String, consultant: String` → `ws, asker: String, session: String?, at: Float, turns: Int` | `maestro_comms::consult::Consults`: the consultant's own CLI session for a consult thread, so a follow-up continues it |
//! | `trusted_command` | `root: String, key: String` → `command: String, file: String, at: Float` | `maestro trust` / `maestro/trust.approve`: the exact command (a JSON array) the person approved for a repository's config key |
//!
//! Facts are keyed by the content's hash (xxh3-128 of the bytes, seeded by the language; its 16 bytes
//! big-endian), never by path:
//! worktrees and copies of a file share one set of rows, and `file` maps each workspace's paths to hashes.
//! `idx` is the position in the content's facts, so `reference.enclosing` and `symbol.container` name a
//! `symbol.idx` of the same hash. Lines and columns are 0-based, columns in bytes.
//!
//! * **Private files** (`private`): the store, its backups and the kept stores live in 0700
//!   directories as 0600 files (SQLite gives its log the database's mode), and the other crates use
//!   the same helpers for logs, transcripts and the worktrees' parent directories, whatever the umask.
//!
//! **Architecture invariant:** never change a file that is not a maestro store of a known version; never run
//! a script built from data with write access (user scripts go through `run_read_only` only).
//! **API boundary:** `Store`, `WriteTicket`, `inspect`, `check_backup`, `restore`, `StoreError`; re-exports
//! cozo's `DataValue`/`NamedRows` for the typed queries of later crates.

mod backup;
mod error;
mod file;
pub mod private;
mod schema;
mod trust;
mod user_query;
mod workspaces;

pub use backup::{RestoreReport, check_backup, restore, utc_date};

/// Seconds since the Unix epoch: how every time in the store is written.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Milliseconds since the Unix epoch: how messages are timed.
pub fn unix_now_ms() -> u64 {
    (unix_now() * 1000.0) as u64
}
pub use cozo::{DataValue, NamedRows};
pub use error::StoreError;
pub use schema::{MIGRATIONS, Migration, SCHEMA_VERSION};
pub use trust::TrustedRow;
pub use user_query::{QueryLimits, QueryWorker, UserRows, serve_query_worker};
pub use workspaces::WorkspaceRow;

use cozo::{DbInstance, ScriptMutability};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Parameters of a script, bound to its `$names`.
pub type Params = BTreeMap<String, DataValue>;

/// Script parameters from `(name, value)` pairs.
pub fn params<const N: usize>(pairs: [(&str, DataValue); N]) -> Params {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

type Job = Box<dyn FnOnce(&DbInstance) + Send + 'static>;

/// A handle to the open store. Cheap to clone; the database closes when the last clone drops.
#[derive(Clone)]
pub struct Store {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    db: DbInstance,
    /// A second cozo instance on the same file for scripts from outside: cozo's SQLite backend
    /// guards each instance with one lock that a writer waits on, so a long read on the main
    /// instance held every later read and write behind it. Here it holds only other user
    /// scripts, and can be killed (see `user_query`). `None` in memory.
    user_db: Option<DbInstance>,
    /// Where user scripts run, when not in this process.
    query_worker: std::sync::Mutex<Option<QueryWorker>>,
    path: Option<PathBuf>,
    schema_version: u32,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer after the jobs already queued.
        self.jobs.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// What a read-only look at a store file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFileInfo {
    /// `None` when the file does not exist yet or is empty.
    pub schema_version: Option<u32>,
    /// The file plus its write-ahead log.
    pub size_bytes: u64,
}

impl Store {
    /// Opens (creating if needed) the store file at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, MIGRATIONS)
    }

    /// Like [`Store::open`] with another migration list: for testing migration paths.
    #[doc(hidden)]
    pub fn open_with(path: &Path, migrations: &[Migration]) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private::create_dir(dir).map_err(StoreError::io(dir))?;
        }
        let preparing = match file::check(path)? {
            file::FileState::Fresh => Some(file::prepare(path)?),
            file::FileState::Cozo => None,
        };
        // SQLite gives the log and shared-memory files the database's mode.
        if path.exists() {
            private::restrict(path, 0o600).map_err(StoreError::io(path))?;
        }
        let db = open_cozo(path)?;
        drop(preparing);
        let from = schema::read_version(&db, path)?.unwrap_or(0);
        let supported = migrations.last().map_or(0, |m| m.version);
        if from > supported {
            return Err(StoreError::TooNew {
                path: path.into(),
                found: from,
                supported,
            });
        }
        let version = schema::migrate(&db, path, from, migrations)?;
        let mut store = Self::start(db, Some(path.to_owned()), version);
        match open_cozo(path) {
            Ok(user_db) => {
                std::sync::Arc::get_mut(&mut store.inner)
                    .expect("the store was just made")
                    .user_db = Some(user_db);
            }
            Err(e) => tracing::warn!("no separate instance for user queries: {e}"),
        }
        Ok(store)
    }

    /// A store that lives in memory only, with the current schema.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let db = DbInstance::new("mem", "", "").map_err(StoreError::query)?;
        let version = schema::migrate(&db, Path::new(":memory:"), 0, MIGRATIONS)?;
        Ok(Self::start(db, None, version))
    }

    fn start(db: DbInstance, path: Option<PathBuf>, schema_version: u32) -> Store {
        let (jobs, queue) = mpsc::channel::<Job>();
        let writer_db = db.clone();
        let mut checkpoints = path
            .clone()
            .map(|p| file::Checkpointer::new(p, file::Checkpointer::LIMIT));
        let writer = std::thread::Builder::new()
            .name("maestro-store-writer".into())
            .spawn(move || {
                loop {
                    let job = match queue.recv_timeout(file::Checkpointer::IDLE) {
                        Ok(job) => job,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            // Nothing to write for a moment: the log goes into the file, so
                            // the store on disk is not its size plus up to 32 MiB of log.
                            if let Some(c) = checkpoints.as_mut() {
                                c.when_idle();
                            }
                            match queue.recv() {
                                Ok(job) => job,
                                Err(_) => break,
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    };
                    // A panic inside cozo fails that one job (its reply channel drops) and the
                    // writer goes on with the next.
                    if catch_unwind(AssertUnwindSafe(|| job(&writer_db))).is_err() {
                        tracing::error!("a store write panicked; it was not applied");
                    }
                    if let Some(c) = checkpoints.as_mut() {
                        c.after_write();
                    }
                }
                if let Some(c) = checkpoints.as_mut() {
                    c.finish();
                }
            })
            .expect("spawning the store writer thread");
        Store {
            inner: std::sync::Arc::new(Inner {
                db,
                user_db: None,
                query_worker: std::sync::Mutex::new(None),
                path,
                schema_version,
                jobs: Some(jobs),
                writer: Some(writer),
            }),
        }
    }

    /// The file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    pub fn schema_version(&self) -> u32 {
        self.inner.schema_version
    }

    /// Bytes on disk: the file plus its write-ahead log.
    pub fn size_bytes(&self) -> Option<u64> {
        self.inner.path.as_deref().map(disk_size)
    }

    /// Runs a read-only script on the calling thread. Blocks: call it from `spawn_blocking` in async
    /// code. Readers wait while a write commits.
    pub fn read(&self, script: &'static str, params: Params) -> Result<NamedRows, StoreError> {
        self.read_script(script, params)
    }

    /// Runs a script given at run time (`maestro graph query`: the script is the user's) that may
    /// not change anything: a mutation (`:put`, `:rm`, `::remove`, `::index create`, …) is
    /// [`StoreError::ReadOnly`].
    pub fn query_read_only(&self, script: &str, params: Params) -> Result<NamedRows, StoreError> {
        run_read_only(&self.inner.db, script, params)
    }

    /// cozo's plan of a read-only script: one row per step (`op` says whether a stored relation is
    /// scanned by key prefix). For tests that keep hot queries on their keys.
    pub fn explain(&self, script: &'static str, params: Params) -> Result<NamedRows, StoreError> {
        self.read_script(&format!("::explain {{ {script} }}"), params)
    }

    fn read_script(&self, script: &str, params: Params) -> Result<NamedRows, StoreError> {
        self.inner
            .db
            .run_script(script, params, ScriptMutability::Immutable)
            .map_err(StoreError::query)
    }

    /// Runs a script on the writer thread, after every write queued before it.
    pub async fn write(
        &self,
        script: &'static str,
        params: Params,
    ) -> Result<NamedRows, StoreError> {
        self.queue_write(script, params).done().await
    }

    /// Queues a script on the writer thread and returns at once.
    pub fn queue_write(&self, script: &'static str, params: Params) -> WriteTicket<NamedRows> {
        self.submit(move |db| {
            db.run_script(script, params, ScriptMutability::Mutable)
                .map_err(StoreError::query)
        })
    }

    /// Queues rows for `import_relations` on the writer thread: puts into each named relation, or
    /// removes by key from a relation named with a leading `-`. All relations change in one
    /// transaction. Much faster than `:put` scripts for many rows.
    pub fn queue_import(&self, relations: Vec<(&'static str, NamedRows)>) -> WriteTicket<()> {
        self.submit(move |db| {
            let data = relations
                .into_iter()
                .map(|(name, rows)| (name.to_owned(), rows))
                .collect();
            db.import_relations(data).map_err(StoreError::query)
        })
    }

    /// Runs `job` on the writer thread: the serialization point of every change to the store.
    /// Copies the write-ahead log into the database file and empties it, after every write
    /// queued before; for a clean stop, so that the database file alone holds the store. Returns
    /// whether the log is empty now (readers in the way leave part of it).
    pub async fn checkpoint(&self) -> Result<bool, StoreError> {
        let Some(path) = self.inner.path.clone() else {
            return Ok(true);
        };
        self.on_writer(move |_| Ok(file::checkpoint_now(&path)))
            .await
    }

    pub(crate) async fn on_writer<T: Send + 'static>(
        &self,
        job: impl FnOnce(&DbInstance) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(job).done().await
    }

    fn submit<T: Send + 'static>(
        &self,
        job: impl FnOnce(&DbInstance) -> Result<T, StoreError> + Send + 'static,
    ) -> WriteTicket<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |db| {
            let _ = reply.send(job(db));
        });
        match self.inner.jobs.as_ref().map(|q| q.send(job)) {
            Some(Ok(())) => WriteTicket {
                answer: Some(answer),
            },
            _ => WriteTicket { answer: None },
        }
    }
}

/// A write queued on the writer thread: await it from async code, or wait for it from a thread.
#[must_use = "a write's outcome must be checked"]
pub struct WriteTicket<T> {
    /// `None` when the writer had stopped before the write was queued.
    answer: Option<oneshot::Receiver<Result<T, StoreError>>>,
}

impl<T> WriteTicket<T> {
    pub async fn done(self) -> Result<T, StoreError> {
        match self.answer {
            Some(answer) => answer.await.unwrap_or_else(|_| Err(write_panicked())),
            None => Err(StoreError::WriterGone),
        }
    }

    /// Blocks until the write is done, also on a thread that runs async tasks: the writer is a
    /// thread of its own, so this cannot deadlock; it holds that thread for the write, so keep
    /// it for small writes whose order matters to what is shown next.
    pub fn wait_in_place(self) -> Result<T, StoreError> {
        match self.answer {
            Some(answer) => {
                futures::executor::block_on(answer).unwrap_or_else(|_| Err(write_panicked()))
            }
            None => Err(StoreError::WriterGone),
        }
    }

    /// Blocks until the write is done. Not for async code.
    pub fn wait(self) -> Result<T, StoreError> {
        match self.answer {
            Some(answer) => answer
                .blocking_recv()
                .unwrap_or_else(|_| Err(write_panicked())),
            None => Err(StoreError::WriterGone),
        }
    }
}

fn write_panicked() -> StoreError {
    StoreError::Query {
        detail: "the write panicked inside cozo".into(),
    }
}

/// Looks at a store file without changing it: its schema version and size. Refuses files that are
/// not maestro stores, as [`Store::open`] would.
pub fn inspect(path: &Path, deep: bool) -> Result<StoreFileInfo, StoreError> {
    let size_bytes = disk_size(path);
    if file::check(path)? == file::FileState::Fresh {
        return Ok(StoreFileInfo {
            schema_version: None,
            size_bytes,
        });
    }
    if deep {
        file::quick_check(path)?;
    }
    let db = open_cozo(path)?;
    let schema_version = schema::read_version(&db, path)?;
    Ok(StoreFileInfo {
        schema_version,
        size_bytes,
    })
}

/// Runs a script from outside on `db`, read-only.
pub(crate) fn run_read_only(
    db: &DbInstance,
    script: &str,
    params: Params,
) -> Result<NamedRows, StoreError> {
    // cozo's parser panics on some malformed scripts (`?[x] := ` with nothing after).
    let run = catch_unwind(AssertUnwindSafe(|| {
        db.run_script(script, params, ScriptMutability::Immutable)
    }));
    match run {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => {
            let detail = e.to_string();
            if detail.contains("read-only") {
                Err(StoreError::ReadOnly { detail })
            } else {
                Err(StoreError::Query { detail })
            }
        }
        Err(_) => Err(StoreError::Query {
            detail: "cozo could not parse the script (its parser gave up); check for an \
                     unfinished rule"
                .into(),
        }),
    }
}

fn open_cozo(path: &Path) -> Result<DbInstance, StoreError> {
    match catch_unwind(|| DbInstance::new("sqlite", path, "")) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(StoreError::Corrupt {
            path: path.into(),
            detail: e.to_string(),
        }),
        Err(_) => Err(StoreError::Corrupt {
            path: path.into(),
            detail: "cozo could not open it".into(),
        }),
    }
}

/// A store's bytes on disk: the file plus its write-ahead log.
fn disk_size(path: &Path) -> u64 {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    len(path) + len(&sibling(path, "-wal"))
}

/// `maestro.db` → `maestro.db-wal` and the like: SQLite's companion files.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests;
