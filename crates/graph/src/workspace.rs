//! The in-memory graph of one workspace: its files (by path, relative to the root) with their facts,
//! and the indexes that name lookups and module resolution need. Facts are shared (`Arc`) between
//! workspaces holding the same content, such as worktrees of one repository.

use crate::facts::{FileFacts, Symbol};
use crate::lang::Lang;
use crate::name::Name;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A content hash: xxh3-128 of the bytes, seeded with the language (the same bytes in a `.js` and
/// a `.ts` file, an empty file say, have different facts).
pub type ContentHash = u128;

/// The hash of some content read as `lang`.
pub fn content_hash(lang: Lang, bytes: &[u8]) -> ContentHash {
    xxhash_rust::xxh3::xxh3_128_with_seed(bytes, lang as u64 + 1)
}

/// The hash as shown in messages: 32 hex digits (the store keeps its 16 bytes).
pub fn hash_hex(hash: ContentHash) -> String {
    format!("{hash:032x}")
}

/// What the indexer knows of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileMeta {
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
}

/// A file of the workspace.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// Relative to the workspace root.
    pub path: PathBuf,
    pub hash: ContentHash,
    pub meta: FileMeta,
    pub facts: Arc<FileFacts>,
}

impl FileEntry {
    pub fn lang(&self) -> Lang {
        self.facts.lang
    }

    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}

/// A file's id within one workspace graph; stable while the file exists.
pub type FileId = u32;

/// A symbol of the workspace: its file and index in that file's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymbolId {
    pub file: FileId,
    pub idx: u32,
}

/// A reference of the workspace: its file and index in that file's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefId {
    pub file: FileId,
    pub idx: u32,
}

/// One workspace's files and indexes.
#[derive(Debug)]
pub struct WorkspaceGraph {
    pub root: PathBuf,
    files: Vec<Option<FileEntry>>,
    free: Vec<FileId>,
    by_path: HashMap<PathBuf, FileId>,
    symbols_by_name: HashMap<Name, Vec<SymbolId>>,
    refs_by_name: HashMap<Name, Vec<RefId>>,
    by_dir: HashMap<PathBuf, Vec<FileId>>,
    /// Files by module stem: `b` for `a/b.py`, `a/b/__init__.py`, `a/b.rs`, `a/b/mod.rs`,
    /// `a/b/index.ts`.
    by_stem: HashMap<Box<str>, Vec<FileId>>,
    symbol_count: usize,
    ref_count: usize,
    /// The distinct symbol names in one buffer, for fuzzy search: scanning them is a walk through
    /// contiguous memory instead of a pointer chase per name. Built on first use after a change.
    name_list: OnceLock<NameList>,
}

/// Distinct names, concatenated.
#[derive(Debug, Default)]
pub struct NameList {
    text: String,
    ends: Vec<u32>,
}

impl NameList {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let name = &self.text[start..end as usize];
            start = end as usize;
            name
        })
    }
}

impl WorkspaceGraph {
    pub fn new(root: PathBuf) -> WorkspaceGraph {
        WorkspaceGraph {
            root,
            files: Vec::new(),
            free: Vec::new(),
            by_path: HashMap::new(),
            symbols_by_name: HashMap::new(),
            refs_by_name: HashMap::new(),
            by_dir: HashMap::new(),
            by_stem: HashMap::new(),
            symbol_count: 0,
            ref_count: 0,
            name_list: OnceLock::new(),
        }
    }

    pub fn file_count(&self) -> usize {
        self.by_path.len()
    }

    pub fn symbol_count(&self) -> usize {
        self.symbol_count
    }

    pub fn ref_count(&self) -> usize {
        self.ref_count
    }

    pub fn file(&self, id: FileId) -> Option<&FileEntry> {
        self.files.get(id as usize).and_then(Option::as_ref)
    }

    pub fn file_id(&self, path: &Path) -> Option<FileId> {
        self.by_path.get(path).copied()
    }

    pub fn file_by_path(&self, path: &Path) -> Option<&FileEntry> {
        self.file_id(path).and_then(|id| self.file(id))
    }

    /// Every file, in no particular order.
    pub fn files(&self) -> impl Iterator<Item = (FileId, &FileEntry)> {
        self.files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((i as FileId, f.as_ref()?)))
    }

    pub fn symbol(&self, id: SymbolId) -> Option<&Symbol> {
        self.file(id.file)?.facts.symbols.get(id.idx as usize)
    }

    /// Symbols with this exact name.
    pub fn symbols_named(&self, name: &str) -> &[SymbolId] {
        Name::existing(name)
            .and_then(|name| self.symbols_by_name.get(&name))
            .map_or(&[], Vec::as_slice)
    }

    /// References with this exact name.
    pub fn refs_named(&self, name: &str) -> &[RefId] {
        Name::existing(name)
            .and_then(|name| self.refs_by_name.get(&name))
            .map_or(&[], Vec::as_slice)
    }

    /// Every distinct symbol name, packed for a fast scan; [`WorkspaceGraph::symbols_named`]
    /// gives each one's symbols.
    pub fn name_list(&self) -> &NameList {
        self.name_list.get_or_init(|| {
            let mut list = NameList::default();
            for name in self.symbols_by_name.keys() {
                list.text.push_str(name);
                list.ends.push(list.text.len() as u32);
            }
            list
        })
    }

    pub fn files_in_dir(&self, dir: &Path) -> &[FileId] {
        self.by_dir.get(dir).map_or(&[], Vec::as_slice)
    }

    /// Every directory holding a file, relative to the root.
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.by_dir.keys().map(PathBuf::as_path)
    }

    pub fn files_with_stem(&self, stem: &str) -> &[FileId] {
        self.by_stem.get(stem).map_or(&[], Vec::as_slice)
    }

    /// Adds or replaces the file at `path` (relative to the root).
    pub fn upsert(
        &mut self,
        path: PathBuf,
        hash: ContentHash,
        meta: FileMeta,
        facts: Arc<FileFacts>,
    ) {
        if let Some(id) = self.by_path.get(&path).copied() {
            let same = self.file(id).is_some_and(|f| f.hash == hash);
            if same {
                if let Some(Some(f)) = self.files.get_mut(id as usize) {
                    f.meta = meta;
                }
                return;
            }
            self.remove(&path);
        }
        self.name_list = OnceLock::new();
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.files.push(None);
                (self.files.len() - 1) as FileId
            }
        };
        for (idx, s) in facts.symbols.iter().enumerate() {
            self.symbols_by_name
                .entry(s.name)
                .or_default()
                .push(SymbolId {
                    file: id,
                    idx: idx as u32,
                });
        }
        for (idx, r) in facts.references.iter().enumerate() {
            self.refs_by_name.entry(r.name).or_default().push(RefId {
                file: id,
                idx: idx as u32,
            });
        }
        self.symbol_count += facts.symbols.len();
        self.ref_count += facts.references.len();
        let entry = FileEntry {
            path: path.clone(),
            hash,
            meta,
            facts,
        };
        self.by_dir
            .entry(entry.dir().to_path_buf())
            .or_default()
            .push(id);
        if let Some(stem) = module_stem(&path) {
            self.by_stem.entry(stem.into()).or_default().push(id);
        }
        self.by_path.insert(path, id);
        self.files[id as usize] = Some(entry);
    }

    /// Drops the spare capacity the name indexes grew while files were added one by one (a
    /// quarter of their size on average); for after a load or a large pass.
    pub fn shrink_to_fit(&mut self) {
        for v in self.symbols_by_name.values_mut() {
            v.shrink_to_fit();
        }
        for v in self.refs_by_name.values_mut() {
            v.shrink_to_fit();
        }
        self.symbols_by_name.shrink_to_fit();
        self.refs_by_name.shrink_to_fit();
    }

    /// Removes the file at `path`; returns it.
    pub fn remove(&mut self, path: &Path) -> Option<FileEntry> {
        self.name_list = OnceLock::new();
        let id = self.by_path.remove(path)?;
        let entry = self.files.get_mut(id as usize)?.take()?;
        for s in &entry.facts.symbols {
            remove_from(&mut self.symbols_by_name, &s.name, |x| x.file == id);
        }
        for r in &entry.facts.references {
            remove_from(&mut self.refs_by_name, &r.name, |x| x.file == id);
        }
        self.symbol_count -= entry.facts.symbols.len();
        self.ref_count -= entry.facts.references.len();
        if let Some(v) = self.by_dir.get_mut(entry.dir()) {
            v.retain(|f| *f != id);
            if v.is_empty() {
                self.by_dir.remove(entry.dir());
            }
        }
        if let Some(stem) = module_stem(path) {
            remove_from(&mut self.by_stem, stem, |f| *f == id);
        }
        self.free.push(id);
        Some(entry)
    }
}

fn remove_from<K, Q, T>(map: &mut HashMap<K, Vec<T>>, key: &Q, gone: impl Fn(&T) -> bool)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if let Some(v) = map.get_mut(key) {
        v.retain(|x| !gone(x));
        if v.is_empty() {
            map.remove(key);
        }
    }
}

/// The name a module file is imported by: the file stem, or the directory's name for the package
/// files of its language (`__init__.py`, `mod.rs`, `index.ts`); Python's `mod.py` is `mod`.
pub fn module_stem(path: &Path) -> Option<&str> {
    let stem = path.file_stem()?.to_str()?;
    let stem = stem.strip_suffix(".d").unwrap_or(stem);
    if is_package_file(path) {
        return path.parent()?.file_name()?.to_str();
    }
    Some(stem)
}

/// Whether the file stands for its directory: `__init__.py`, `mod.rs`, `index.ts` (`.js`, ...).
pub fn is_package_file(path: &Path) -> bool {
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
        return false;
    };
    let stem = stem.strip_suffix(".d").unwrap_or(stem);
    match crate::Lang::of_path(path) {
        Some(crate::Lang::Python) => stem == "__init__",
        Some(crate::Lang::Rust) => stem == "mod",
        Some(crate::Lang::TypeScript | crate::Lang::Tsx | crate::Lang::JavaScript) => {
            stem == "index"
        }
        _ => false,
    }
}
