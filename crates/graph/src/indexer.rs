//! Indexing: discover a workspace's files (gitignore-aware, in parallel), find what changed since
//! the store last saw it, extract the facts of new contents on worker threads, and write them behind
//! the parsing in batches through the store's writer. Contents already known (in memory or in the
//! store, from another worktree say) are not parsed again.

use crate::facts::FileFacts;
use crate::lang::Lang;
use crate::persist::{self, Batch};
use crate::workspace::{ContentHash, FileMeta, WorkspaceGraph, content_hash};
use maestro_store::{Store, StoreError, WriteTicket};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Facts by content, shared by every workspace of the process.
#[derive(Default)]
pub struct ContentCache {
    map: Mutex<HashMap<ContentHash, Weak<FileFacts>>>,
}

impl ContentCache {
    pub fn get(&self, hash: ContentHash) -> Option<Arc<FileFacts>> {
        self.map.lock().unwrap().get(&hash).and_then(Weak::upgrade)
    }

    /// Keeps `facts` for `hash`, or returns the copy already kept.
    pub fn share(&self, hash: ContentHash, facts: FileFacts) -> Arc<FileFacts> {
        let mut map = self.map.lock().unwrap();
        if let Some(existing) = map.get(&hash).and_then(Weak::upgrade) {
            return existing;
        }
        let facts = Arc::new(facts);
        map.insert(hash, Arc::downgrade(&facts));
        if map.len() > 4096 && map.len().is_power_of_two() {
            map.retain(|_, w| w.strong_count() > 0);
        }
        facts
    }
}

#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Larger files are skipped.
    pub max_file_bytes: u64,
    /// Extraction threads.
    pub threads: usize,
    /// Rows per store transaction.
    pub batch_rows: usize,
    /// Files with more symbols and references together are skipped (generated tables of
    /// one-line definitions): what one file may add to the graph's memory stays bounded.
    pub max_file_facts: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            max_file_bytes: 2 << 20,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            batch_rows: 20_000,
            max_file_facts: 200_000,
        }
    }
}

/// A file left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// What an indexing run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Source files in the workspace after the run.
    pub files: usize,
    /// Files whose content was parsed.
    pub parsed: usize,
    /// Files whose content was known already (another path, worktree or run).
    pub reused: usize,
    /// Files untouched since the last run (same size and time).
    pub unchanged: usize,
    pub removed: usize,
    pub skipped: Vec<Skipped>,
    pub bytes_parsed: u64,
    /// Symbols and references in the workspace after the run.
    pub symbols: usize,
    pub references: usize,
    pub elapsed: Duration,
}

/// Progress callback: files handled so far, files to handle.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{}: {message}", .path.display())]
    Root { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads a workspace's graph as the store last saw it.
pub fn load(
    store: &Store,
    ws: &str,
    root: &Path,
    contents: &ContentCache,
) -> Result<WorkspaceGraph, IndexError> {
    let files = persist::stored_files(store, ws)?;
    let mut graph = WorkspaceGraph::new(root.to_path_buf());
    let mut loaded: HashMap<ContentHash, Arc<FileFacts>> = HashMap::new();
    let mut wanted: Vec<ContentHash> = Vec::new();
    for f in &files {
        if let Entry::Vacant(slot) = loaded.entry(f.hash) {
            match contents.get(f.hash) {
                Some(shared) => {
                    slot.insert(shared);
                }
                None => wanted.push(f.hash),
            }
        }
    }
    // A page of blobs at a time: every blob of a large repository read at once (the cargo
    // registry's: 107 MB) would leave the heap that much larger after they are decoded.
    wanted.sort_unstable();
    wanted.dedup();
    for page in wanted.chunks(LOAD_PAGE) {
        for (hash, facts) in persist::facts_of_hashes(store, page)? {
            loaded.insert(hash, contents.share(hash, facts));
        }
    }
    for f in files {
        // Facts lost (an interrupted write): the next index run parses the file again.
        if let Some(shared) = loaded.get(&f.hash) {
            graph.upsert(f.path, f.hash, f.meta, shared.clone());
        }
    }
    graph.shrink_to_fit();
    Ok(graph)
}

/// Contents whose facts are read from the store in one query when a workspace is loaded.
const LOAD_PAGE: usize = 512;

struct Found {
    rel: PathBuf,
    lang: Lang,
    meta: FileMeta,
}

/// Lists the source files under `root`, honouring `.gitignore`, `.ignore` and hidden files.
fn discover(root: &Path, options: &IndexOptions) -> (Vec<Found>, Vec<Skipped>) {
    let found = Mutex::new(Vec::new());
    let skipped = Mutex::new(Vec::new());
    let walker = ignore::WalkBuilder::new(root)
        .threads(options.threads)
        .require_git(false)
        .filter_entry(|e| {
            e.file_name() != "node_modules" || !e.file_type().is_some_and(|t| t.is_dir())
        })
        .build_parallel();
    walker.run(|| {
        Box::new(|entry| {
            let Ok(entry) = entry else {
                return ignore::WalkState::Continue;
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return ignore::WalkState::Continue;
            }
            let Some(lang) = Lang::of_path(entry.path()) else {
                return ignore::WalkState::Continue;
            };
            let Ok(rel) = entry.path().strip_prefix(root).map(Path::to_path_buf) else {
                return ignore::WalkState::Continue;
            };
            match entry.metadata() {
                Ok(m) if m.len() > options.max_file_bytes => {
                    skipped.lock().unwrap().push(Skipped {
                        path: rel,
                        reason: format!(
                            "over {} bytes ({} bytes)",
                            options.max_file_bytes,
                            m.len()
                        ),
                    })
                }
                Ok(m) => found.lock().unwrap().push(Found {
                    rel,
                    lang,
                    meta: meta_of(&m),
                }),
                Err(e) => skipped.lock().unwrap().push(Skipped {
                    path: rel,
                    reason: e.to_string(),
                }),
            }
            ignore::WalkState::Continue
        })
    });
    let mut found = found.into_inner().unwrap();
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    (found, skipped.into_inner().unwrap())
}

pub fn meta_of(m: &std::fs::Metadata) -> FileMeta {
    let mtime_ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64);
    FileMeta {
        size: m.len(),
        mtime_ns,
    }
}

/// Why a file that has a source extension is not source: binary, or minified/generated.
pub fn not_source(bytes: &[u8]) -> Option<String> {
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Some("binary (NUL bytes)".into());
    }
    let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
    let average = bytes.len() / lines;
    let longest = bytes
        .split(|b| *b == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    if (bytes.len() > 20_000 && average > 300) || longest > 20_000 {
        return Some(format!(
            "minified or generated (lines of {average} bytes on average, longest {longest})"
        ));
    }
    None
}

enum Outcome {
    /// Parsed now: store its facts.
    Parsed {
        facts: Arc<FileFacts>,
        bytes: u64,
    },
    /// Known content: only the file row changes.
    Known(Arc<FileFacts>),
    Skipped(String),
    Unreadable(String),
}

/// A pass that added or removed this many files gives the name indexes' spare room back.
const SHRINK_AFTER: usize = 256;

/// Brings the graph and the store up to date with the files under the graph's root.
pub fn index(
    graph: &RwLock<WorkspaceGraph>,
    store: &Store,
    ws: &str,
    contents: &ContentCache,
    options: &IndexOptions,
    progress: Progress<'_>,
) -> Result<IndexStats, IndexError> {
    let started = Instant::now();
    let root = graph.read().unwrap().root.clone();
    if !root.is_dir() {
        return Err(IndexError::Root {
            path: root,
            message: "not a directory".into(),
        });
    }
    let (found, skipped) = discover(&root, options);
    let present: HashSet<&Path> = found.iter().map(|f| f.rel.as_path()).collect();
    let (todo, unchanged, gone): (Vec<Found>, usize, Vec<PathBuf>) = {
        let g = graph.read().unwrap();
        let gone = g
            .files()
            .map(|(_, f)| f.path.clone())
            .filter(|p| !present.contains(p.as_path()))
            .collect();
        let mut todo = Vec::new();
        let mut unchanged = 0;
        for f in found {
            match g.file_by_path(&f.rel) {
                Some(entry) if entry.meta == f.meta && entry.lang() == f.lang => unchanged += 1,
                _ => todo.push(f),
            }
        }
        (todo, unchanged, gone)
    };
    let mut stats = IndexStats {
        unchanged,
        skipped,
        ..IndexStats::default()
    };
    let mut stale: Vec<ContentHash> = Vec::new();
    let total = todo.len();
    progress(0, total);

    let mut tickets: Vec<WriteTicket<()>> = Vec::new();
    let mut batch = Batch::default();
    if !gone.is_empty() {
        let mut g = graph.write().unwrap();
        for path in &gone {
            if let Some(old) = g.remove(path) {
                stale.push(old.hash);
            }
            batch.remove_file(ws, path);
            stats.removed += 1;
        }
    }

    let next = AtomicUsize::new(0);
    let (sender, results) = std::sync::mpsc::sync_channel::<(usize, ContentHash, Outcome)>(256);
    std::thread::scope(|scope| -> Result<(), IndexError> {
        for _ in 0..options.threads.max(1) {
            let sender = sender.clone();
            let (todo, next, root, graph) = (&todo, &next, &root, graph);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = todo.get(i) else { break };
                    let (hash, outcome) =
                        examine(&root.join(&f.rel), f, graph, store, contents, options);
                    if sender.send((i, hash, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut pending: Vec<(usize, ContentHash, Arc<FileFacts>)> = Vec::new();
        let mut new_hashes: HashSet<ContentHash> = HashSet::new();
        let mut done = 0usize;
        let mut last_report = Instant::now();
        for (i, hash, outcome) in results {
            let f = &todo[i];
            done += 1;
            match outcome {
                Outcome::Parsed { facts, bytes } => {
                    stats.parsed += 1;
                    stats.bytes_parsed += bytes;
                    if new_hashes.insert(hash) {
                        batch.add_content(hash, &facts);
                    }
                    batch.put_file(ws, &f.rel, hash, f.lang, f.meta);
                    pending.push((i, hash, facts));
                }
                Outcome::Known(facts) => {
                    stats.reused += 1;
                    batch.put_file(ws, &f.rel, hash, f.lang, f.meta);
                    pending.push((i, hash, facts));
                }
                Outcome::Skipped(reason) | Outcome::Unreadable(reason) => {
                    stats.skipped.push(Skipped {
                        path: f.rel.clone(),
                        reason,
                    });
                    let mut g = graph.write().unwrap();
                    if let Some(old) = g.remove(&f.rel) {
                        stale.push(old.hash);
                        batch.remove_file(ws, &f.rel);
                    }
                }
            }
            if batch.len() >= options.batch_rows {
                flush(
                    graph,
                    &mut pending,
                    &todo,
                    &mut stale,
                    &mut batch,
                    store,
                    &mut tickets,
                );
            }
            if last_report.elapsed() > Duration::from_millis(100) || done == total {
                progress(done, total);
                last_report = Instant::now();
            }
        }
        flush(
            graph,
            &mut pending,
            &todo,
            &mut stale,
            &mut batch,
            store,
            &mut tickets,
        );
        Ok(())
    })?;
    if !batch.is_empty() {
        tickets.push(std::mem::take(&mut batch).write(store));
    }
    for t in tickets {
        t.wait()?;
    }
    if !stale.is_empty() {
        stale.sort_unstable();
        stale.dedup();
        persist::collect_garbage(store, &stale).wait()?;
    }
    if stats.parsed + stats.reused + stats.removed >= SHRINK_AFTER {
        graph.write().unwrap().shrink_to_fit();
    }
    let g = graph.read().unwrap();
    stats.files = g.file_count();
    stats.symbols = g.symbol_count();
    stats.references = g.ref_count();
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// Applies pending files to the graph and queues the batch on the store's writer.
fn flush(
    graph: &RwLock<WorkspaceGraph>,
    pending: &mut Vec<(usize, ContentHash, Arc<FileFacts>)>,
    todo: &[Found],
    stale: &mut Vec<ContentHash>,
    batch: &mut Batch,
    store: &Store,
    tickets: &mut Vec<WriteTicket<()>>,
) {
    if !pending.is_empty() {
        let mut g = graph.write().unwrap();
        for (i, hash, facts) in pending.drain(..) {
            let f = &todo[i];
            if let Some(old) = g
                .file_by_path(&f.rel)
                .map(|e| e.hash)
                .filter(|old| *old != hash)
            {
                stale.push(old);
            }
            g.upsert(f.rel.clone(), hash, f.meta, facts);
        }
    }
    if !batch.is_empty() {
        tickets.push(std::mem::take(batch).write(store));
    }
}

/// Reads one file and decides what it needs.
fn examine(
    path: &Path,
    f: &Found,
    graph: &RwLock<WorkspaceGraph>,
    store: &Store,
    contents: &ContentCache,
    options: &IndexOptions,
) -> (ContentHash, Outcome) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return (0, Outcome::Unreadable(e.to_string())),
    };
    if let Some(reason) = not_source(&bytes) {
        return (0, Outcome::Skipped(reason));
    }
    let hash = content_hash(f.lang, &bytes);
    if let Some(facts) = graph
        .read()
        .unwrap()
        .file_by_path(&f.rel)
        .filter(|e| e.hash == hash)
        .map(|e| e.facts.clone())
    {
        return (hash, Outcome::Known(facts));
    }
    if let Some(facts) = contents.get(hash) {
        return (hash, Outcome::Known(facts));
    }
    if let Ok(mut stored) = persist::facts_of_hashes(store, &[hash])
        && let Some(facts) = stored.remove(&hash)
    {
        return (hash, Outcome::Known(contents.share(hash, facts)));
    }
    let facts = crate::extract::extract(f.lang, &bytes);
    let count = facts.symbols.len() + facts.references.len();
    if count > options.max_file_facts {
        return (
            0,
            Outcome::Skipped(format!(
                "{} symbols and {} references, over the limit of {} per file (generated?)",
                facts.symbols.len(),
                facts.references.len(),
                options.max_file_facts
            )),
        );
    }
    (
        hash,
        Outcome::Parsed {
            facts: contents.share(hash, facts),
            bytes: bytes.len() as u64,
        },
    )
}
