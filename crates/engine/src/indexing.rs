//! Indexing a workspace on behalf of the engine: opening its index (load from the store, start
//! the watcher, run the first pass), passes on request, and the watcher's debounced passes.

use crate::code_graph::*;
use crate::engine::Engine;
use maestro_graph::WorkspaceGraph;
use maestro_graph::indexer::{self, IndexError, IndexOptions, IndexStats};
use maestro_protocol::WorkspaceInfo;
use notify::Watcher;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

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
                // Counted before it is told: whoever wakes on the state sees the pass as done.
                index.passes.fetch_add(1, Ordering::SeqCst);
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
                index.passes.fetch_add(1, Ordering::SeqCst);
                index.state.send_replace(IndexState::Failed(e.to_string()));
            }
        }
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
