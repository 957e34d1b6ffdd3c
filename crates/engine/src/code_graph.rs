//! The engine's side of the code graph: one [`WorkspaceIndex`] per open workspace, loaded from the
//! store, brought up to date by an index run on its own thread (reported as progress), then kept up
//! to date by a file watcher (debounced, batched). Queries read the graph while it is written in
//! batches, so they answer from what is indexed so far.
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
use crate::engine::Engine;
use maestro_graph::indexer::{self, ContentCache, IndexError, IndexOptions, IndexStats};
use maestro_graph::{FileMeta, Lang, WorkspaceGraph};
use maestro_protocol::WorkspaceInfo;
use notify::Watcher;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
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
    state: watch::Sender<IndexState>,
    /// Held during an index run: one at a time per workspace.
    running: Mutex<()>,
    /// Index passes finished (or failed) since the daemon started.
    passes: AtomicUsize,
    /// How long reading the graph from the store took.
    load_time: Mutex<Option<Duration>>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
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
    indexes: Mutex<HashMap<String, Arc<WorkspaceIndex>>>,
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

impl Engine {
    /// The workspace's index, created (loaded from the store, then indexed in the background)
    /// the first time it is asked for.
    pub fn ensure_index(&self, info: &WorkspaceInfo) -> Arc<WorkspaceIndex> {
        let mut indexes = self.graph().indexes.lock().unwrap();
        if let Some(existing) = indexes.get(&info.id) {
            return existing.clone();
        }
        let index = Arc::new(WorkspaceIndex {
            info: info.clone(),
            graph: RwLock::new(WorkspaceGraph::new(info.root.clone())),
            state: watch::channel(IndexState::Loading).0,
            running: Mutex::new(()),
            passes: AtomicUsize::new(0),
            load_time: Mutex::new(None),
            watcher: Mutex::new(None),
        });
        indexes.insert(info.id.clone(), index.clone());
        drop(indexes);
        let (engine, background) = (self.clone(), index.clone());
        std::thread::Builder::new()
            .name("maestro-index".into())
            .spawn(move || {
                let started = Instant::now();
                let loaded = indexer::load(engine.store(), &background.info.id, &background.info.root, &engine.graph().contents);
                *background.load_time.lock().unwrap() = Some(started.elapsed());
                match loaded {
                    Ok(graph) => *background.graph.write().unwrap() = graph,
                    Err(e) => tracing::warn!(root = %background.info.root.display(), "loading the graph failed: {e}"),
                }
                // Watch before the first pass: a change made while it runs is caught up after it,
                // and none falls between the pass and the watcher.
                if engine.config().settings().index.watch {
                    engine.watch(&background);
                }
                let _ = engine.run_index(&background, true);
            })
            .expect("spawning an index thread");
        index
    }

    /// Runs an index pass over the whole workspace; `announce` reports its progress to every
    /// client (the first run and explicit ones do; the watcher's small catch-up runs do not).
    pub fn run_index(
        &self,
        index: &WorkspaceIndex,
        announce: bool,
    ) -> Result<IndexStats, IndexError> {
        let _one_at_a_time = index.running.lock().unwrap();
        let _work = self.begin_work();
        let progress =
            announce.then(|| self.begin_progress(&format!("Indexing {}", index.info.name)));
        let last = Mutex::new(Instant::now());
        let report = |done: usize, total: usize| {
            index
                .state
                .send_replace(IndexState::Indexing { done, total });
            let mut last = last.lock().unwrap();
            if let Some(progress) = &progress
                && (last.elapsed() >= Duration::from_millis(200) || done == total)
            {
                *last = Instant::now();
                let percent = (done * 100).checked_div(total).unwrap_or(100) as u32;
                progress.report(Some(format!("{done}/{total} files")), Some(percent));
            }
        };
        let options = self.index_options(&index.info);
        let result = indexer::index(
            &index.graph,
            self.store(),
            &index.info.id,
            &self.graph().contents,
            &options,
            &report,
        );
        match &result {
            Ok(stats) => {
                let summary = format!(
                    "{} files, {} symbols, {} references in {:.1} s",
                    stats.files,
                    stats.symbols,
                    stats.references,
                    stats.elapsed.as_secs_f64()
                );
                // The watcher's catch-up passes come all day: they log at debug.
                if announce {
                    tracing::info!(root = %index.info.root.display(), parsed = stats.parsed, skipped = stats.skipped.len(), "{summary}");
                } else {
                    tracing::debug!(root = %index.info.root.display(), parsed = stats.parsed, skipped = stats.skipped.len(), "{summary}");
                }
                for s in &stats.skipped {
                    tracing::debug!(path = %s.path.display(), "skipped: {}", s.reason);
                }
                if let Some(p) = progress {
                    p.end(Some(summary));
                }
                index
                    .state
                    .send_replace(IndexState::Ready(Arc::new(stats.clone())));
                if stats.parsed > 0 {
                    crate::give_back_memory();
                }
                // Code chunks follow the graph.
                self.memory().nudge();
            }
            Err(e) => {
                tracing::warn!(root = %index.info.root.display(), "indexing failed: {e}");
                if let Some(p) = progress {
                    p.end(Some(format!("indexing failed: {e}")));
                }
                index.state.send_replace(IndexState::Failed(e.to_string()));
            }
        }
        index.passes.fetch_add(1, Ordering::SeqCst);
        result
    }

    fn index_options(&self, info: &WorkspaceInfo) -> IndexOptions {
        let config = self
            .config()
            .with_workspace(&info.root)
            .unwrap_or_else(|_| self.config().clone());
        IndexOptions {
            max_file_bytes: config.settings().index.max_file_bytes,
            threads: config.settings().index.threads,
            ..IndexOptions::default()
        }
    }

    /// Watches the workspace for changes made outside the editor (agents, git, builds) and
    /// re-indexes after a quiet moment. Renames, deletes and branch switches are all "some paths
    /// changed": the index pass finds out what.
    fn watch(&self, index: &Arc<WorkspaceIndex>) {
        let (tx, rx) = std::sync::mpsc::channel::<PathBuf>();
        let handler = move |event: notify::Result<notify::Event>| {
            // Reading a file is an event too (the index pass's own reads would wake it again).
            if let Ok(event) = event
                && !matches!(event.kind, notify::EventKind::Access(_))
            {
                for path in event.paths {
                    let _ = tx.send(path);
                }
            }
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(
                    "cannot watch files ({e}); changes outside the editor show after `maestro index`"
                );
                return;
            }
        };
        if let Err(e) = watcher.watch(&index.info.root, notify::RecursiveMode::Recursive) {
            tracing::warn!(root = %index.info.root.display(), "cannot watch ({e}); changes outside the editor show after `maestro index`");
            return;
        }
        *index.watcher.lock().unwrap() = Some(watcher);
        let (engine, weak) = (self.clone(), Arc::downgrade(index));
        std::thread::Builder::new()
            .name("maestro-watch".into())
            .spawn(move || {
                const QUIET: Duration = Duration::from_millis(150);
                const LONGEST: Duration = Duration::from_secs(2);
                while let Ok(first) = rx.recv() {
                    let mut changed = BTreeSet::from([first]);
                    let started = Instant::now();
                    // Let a burst (a branch switch, a build) settle into one batch.
                    while started.elapsed() < LONGEST {
                        match rx.recv_timeout(QUIET) {
                            Ok(p) => {
                                changed.insert(p);
                            }
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    let Some(index) = weak.upgrade() else { return };
                    let relevant = changed.iter().any(|p| !p.components().any(|c| c.as_os_str() == ".git"));
                    if relevant {
                        tracing::debug!(root = %index.info.root.display(), paths = changed.len(), "files changed");
                        let _ = engine.run_index(&index, false);
                    }
                }
            })
            .expect("spawning a watcher thread");
    }
}
