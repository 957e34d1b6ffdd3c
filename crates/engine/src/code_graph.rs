//! The engine's side of the code graph: one [`WorkspaceIndex`] per open workspace, loaded from the
//! store, brought up to date by an index run on its own thread (reported as progress), then kept up
//! to date by a file watcher (debounced, batched). Queries read the graph while it is written in
//! batches; during the first pass, those that need the whole workspace wait for it
//! ([`WorkspaceIndex::first_pass`], see `graph_requests`).
//!
//! One `WorkspaceIndex` per open workspace (shared by every session that opens it): the
//! `WorkspaceGraph` behind a `RwLock`, its state (`Loading`, `Indexing`, `Ready`, `Failed`) on a `watch`
//! channel, and its watcher. Opening a workspace to index it (`maestro/workspace.open` with `index`,
//! the default: editors, `maestro index`, the graph commands; `maestro status` only registers) starts
//! a thread that loads the graph from the store,
//! starts the `notify` watcher, then runs the first index pass, announced as progress ("Indexing
//! `<name>`", with file counts). Watching starts before that pass, so a change made while it runs is
//! caught by the next one. Watcher events (reads and `.git/` ignored) are gathered until 150 ms pass
//! quietly (at most 2 s), then one unannounced pass reconciles the whole workspace: renames, deletes and
//! branch switches of thousands of files are all "some paths changed", and the pass finds out which.
//! Passes of a workspace take turns (a mutex). `maestro/index` returns the first pass when it is still
//! running (with the time the load took), else runs a new one. An index lives until the daemon exits
//! (the idle timeout bounds that); there is no eviction of unused workspaces yet.

use crate::document::Syntax;
use maestro_graph::indexer::{ContentCache, IndexStats};
use maestro_graph::{FileMeta, Lang, WorkspaceGraph};
use maestro_protocol::WorkspaceInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// Where a workspace's index stands.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexState {
    /// Reading the graph from the store.
    Loading,
    /// Loaded; an index run is going.
    Indexing {
        done: usize,
        total: usize,
    },
    Ready(Arc<IndexStats>),
    Failed(String),
}

impl IndexState {
    pub fn loaded(&self) -> bool {
        !matches!(self, IndexState::Loading)
    }
}

/// A workspace's graph and its upkeep.
pub struct WorkspaceIndex {
    pub info: WorkspaceInfo,
    pub graph: RwLock<WorkspaceGraph>,
    pub(crate) state: watch::Sender<IndexState>,
    /// Held during an index run: one at a time per workspace.
    pub(crate) running: Mutex<()>,
    /// Index passes finished (or failed) since the daemon started.
    pub(crate) passes: AtomicUsize,
    /// How long reading the graph from the store took.
    pub(crate) load_time: Mutex<Option<Duration>>,
    pub(crate) watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

impl WorkspaceIndex {
    pub fn state(&self) -> IndexState {
        self.state.borrow().clone()
    }

    /// Waits (up to `within`) until the graph is loaded from the store.
    pub async fn loaded(&self, within: Duration) -> bool {
        let mut rx = self.state.subscribe();
        tokio::time::timeout(within, rx.wait_for(IndexState::loaded))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether the first index pass (started with the index) has finished.
    pub fn first_pass_done(&self) -> bool {
        self.passes.load(Ordering::SeqCst) > 0
    }

    /// Waits (up to `within`) for the first index pass to finish; whether it has.
    pub async fn first_pass(&self, within: Duration) -> bool {
        let mut rx = self.state.subscribe();
        tokio::time::timeout(within, rx.wait_for(|_| self.first_pass_done()))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    pub fn load_time(&self) -> Option<Duration> {
        *self.load_time.lock().unwrap()
    }

    /// Waits (up to `within`) until an index run has finished.
    pub async fn settled(&self, within: Duration) -> IndexState {
        let mut rx = self.state.subscribe();
        let _ = tokio::time::timeout(
            within,
            rx.wait_for(|s| matches!(s, IndexState::Ready(_) | IndexState::Failed(_))),
        )
        .await;
        self.state()
    }
}

/// Every workspace index of the engine, and the facts they share.
#[derive(Default)]
pub struct CodeGraph {
    pub contents: ContentCache,
    pub(crate) indexes: Mutex<HashMap<String, Arc<WorkspaceIndex>>>,
    /// Parses of files asked about without being open (agents and the CLI ask that way).
    pub disk: DiskParses,
}

/// The last few files parsed from disk, checked against their size and mtime before reuse.
#[derive(Default)]
pub struct DiskParses {
    /// Most recently used last.
    entries: Mutex<Vec<(PathBuf, FileMeta, Arc<Syntax>)>>,
}

/// What [`DiskParses::get`] found.
pub enum DiskParse {
    Parsed(Arc<Syntax>),
    UnknownLanguage,
    /// Over the size limit, with its size: not read.
    TooLarge(u64),
}

impl DiskParses {
    const CAPACITY: usize = 32;
    /// Source bytes the kept parses may add up to (a parse holds many times its text).
    const BYTES: usize = 8 << 20;

    /// The parse of the file at `path` as it is on disk now, if it has at most `max_bytes`.
    pub fn get(&self, path: &Path, max_bytes: u64) -> std::io::Result<DiskParse> {
        let Some(lang) = Lang::of_path(path) else {
            return Ok(DiskParse::UnknownLanguage);
        };
        let meta = maestro_graph::indexer::meta_of(&std::fs::metadata(path)?);
        if meta.size > max_bytes {
            return Ok(DiskParse::TooLarge(meta.size));
        }
        {
            let mut entries = self.entries.lock().unwrap();
            if let Some(i) = entries.iter().position(|(p, m, _)| p == path && *m == meta) {
                let entry = entries.remove(i);
                let syntax = entry.2.clone();
                entries.push(entry);
                return Ok(DiskParse::Parsed(syntax));
            }
        }
        let text = std::fs::read(path)?;
        if text.len() as u64 > max_bytes {
            return Ok(DiskParse::TooLarge(text.len() as u64));
        }
        let Some(tree) = maestro_graph::parse(lang, &text, None) else {
            return Ok(DiskParse::UnknownLanguage);
        };
        let analysis = maestro_graph::analyze(lang, &tree, &text);
        let syntax = Arc::new(Syntax {
            lang,
            version: 0,
            tree,
            text,
            analysis,
        });
        let mut entries = self.entries.lock().unwrap();
        entries.retain(|(p, _, _)| p != path);
        entries.push((path.to_path_buf(), meta, syntax.clone()));
        let mut bytes: usize = entries.iter().map(|(_, _, s)| s.text.len()).sum();
        while entries.len() > 1 && (entries.len() > Self::CAPACITY || bytes > Self::BYTES) {
            bytes -= entries.remove(0).2.text.len();
        }
        Ok(DiskParse::Parsed(syntax))
    }
}

impl CodeGraph {
    /// The index whose root holds `path` (the deepest one), if any.
    pub fn index_for(&self, path: &Path) -> Option<Arc<WorkspaceIndex>> {
        self.indexes
            .lock()
            .unwrap()
            .values()
            .filter(|i| path.starts_with(&i.info.root))
            .max_by_key(|i| i.info.root.as_os_str().len())
            .cloned()
    }

    pub fn get(&self, id: &str) -> Option<Arc<WorkspaceIndex>> {
        self.indexes.lock().unwrap().get(id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<WorkspaceIndex>> {
        self.indexes.lock().unwrap().values().cloned().collect()
    }
}
