//! Name resolution at query time, from per-file facts (the stack-graphs insight: isolated per-file
//! data, global resolution on demand). A reference resolves to the candidates of the first of these
//! tiers that has any: local scope (for the file being edited, see `query`), same file, imported
//! module, same directory (package), workspace. Qualified names (`obj.m`, `a::b`, `pkg.F`) go
//! through the receiver: `self`/`this` → the enclosing type and its supertypes; an imported module →
//! its files; a type → its members; anything else → members of that name, nearest first.

use crate::facts::{FileFacts, Import, RefKind, SymbolKind};
use crate::lang::Lang;
use crate::workspace::{FileId, WorkspaceGraph};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// An editor's unsaved buffer, standing in for the stored file at the same path.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub path: PathBuf,
    pub facts: Arc<FileFacts>,
}

/// A file as the view sees it: stored, or an open buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileRef {
    Stored(FileId),
    Overlay(u32),
}

/// A symbol as the view sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymRef {
    pub file: FileRef,
    pub idx: u32,
}

/// A reference as the view sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefRef {
    pub file: FileRef,
    pub idx: u32,
}

/// What a name resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Symbol(SymRef),
    /// A module: the file itself.
    Module(FileRef),
}

/// Which tier answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    SameFile,
    Imported,
    SameDir,
    Workspace,
}

/// Candidates and the tier that found them.
type Ranked = (Tier, Vec<Target>);

/// A workspace's stored facts with the editor's buffers on top. Made for one question: it
/// remembers module lookups while it lives (a `references` resolves thousands of uses).
pub struct View<'a> {
    pub ws: &'a WorkspaceGraph,
    pub overlays: &'a [Overlay],
    /// Stored files that an overlay replaces.
    shadow: Vec<FileId>,
    /// `module_files` answers: (from, module) → files.
    modules: RefCell<HashMap<(FileRef, String), Vec<FileRef>>>,
    /// `members_ranked` answers: (from, "name\0owner") → members.
    members: RefCell<HashMap<(FileRef, String), Option<Ranked>>>,
    /// `supertypes` answers: (from, type) → the names it extends or implements.
    supers: RefCell<HashMap<(FileRef, String), Vec<String>>>,
}

/// A use of a name to resolve.
#[derive(Debug, Clone, Copy)]
pub struct Use<'a> {
    pub file: FileRef,
    pub name: &'a str,
    pub qualifier: Option<&'a str>,
    pub kind: RefKind,
    /// The innermost symbol (of `file`) around the use.
    pub enclosing: Option<u32>,
}

const SELF_NAMES: [&str; 5] = ["self", "this", "Self", "cls", "super()"];

impl<'a> View<'a> {
    pub fn new(ws: &'a WorkspaceGraph, overlays: &'a [Overlay]) -> View<'a> {
        View {
            ws,
            overlays,
            shadow: overlays
                .iter()
                .filter_map(|o| ws.file_id(&o.path))
                .collect(),
            modules: RefCell::default(),
            members: RefCell::default(),
            supers: RefCell::default(),
        }
    }

    pub fn facts(&self, f: FileRef) -> &'a FileFacts {
        match f {
            FileRef::Stored(id) => &self.ws.file(id).expect("a live file id").facts,
            FileRef::Overlay(i) => &self.overlays[i as usize].facts,
        }
    }

    pub fn path(&self, f: FileRef) -> &'a Path {
        match f {
            FileRef::Stored(id) => &self.ws.file(id).expect("a live file id").path,
            FileRef::Overlay(i) => &self.overlays[i as usize].path,
        }
    }

    pub(crate) fn shadowed(&self, id: FileId) -> bool {
        self.shadow.contains(&id)
    }

    /// The file at `path`: the open buffer if there is one.
    pub fn file_at(&self, path: &Path) -> Option<FileRef> {
        if let Some(i) = self.overlays.iter().position(|o| o.path == path) {
            return Some(FileRef::Overlay(i as u32));
        }
        self.ws.file_id(path).map(FileRef::Stored)
    }

    pub fn symbol(&self, s: SymRef) -> &'a crate::facts::Symbol {
        &self.facts(s.file).symbols[s.idx as usize]
    }

    /// Every symbol named `name`.
    pub fn symbols_named(&self, name: &str) -> Vec<SymRef> {
        let stored = self.ws.symbols_named(name).iter().map(|s| (s.file, s.idx));
        self.named(stored, |facts| {
            positions(facts.symbols.iter().map(|s| s.name == name))
        })
        .map(|(file, idx)| SymRef { file, idx })
        .collect()
    }

    /// Every reference named `name`.
    pub fn refs_named(&self, name: &str) -> Vec<RefRef> {
        let stored = self.ws.refs_named(name).iter().map(|r| (r.file, r.idx));
        self.named(stored, |facts| {
            positions(facts.references.iter().map(|r| r.name == name))
        })
        .map(|(file, idx)| RefRef { file, idx })
        .collect()
    }

    /// The stored facts named so (in files no overlay shadows), then the overlays' (`matching`
    /// gives the indexes of an overlay's facts with the name).
    fn named<'v>(
        &'v self,
        stored: impl Iterator<Item = (FileId, u32)> + 'v,
        matching: impl Fn(&FileFacts) -> Vec<u32> + 'v,
    ) -> impl Iterator<Item = (FileRef, u32)> + 'v {
        let stored = stored
            .filter(|(file, _)| !self.shadowed(*file))
            .map(|(file, idx)| (FileRef::Stored(file), idx));
        let overlaid = self.overlays.iter().enumerate().flat_map(move |(i, o)| {
            matching(&o.facts)
                .into_iter()
                .map(move |idx| (FileRef::Overlay(i as u32), idx))
        });
        stored.chain(overlaid)
    }

    fn files_in_dir(&self, dir: &Path) -> Vec<FileRef> {
        let mut out: Vec<FileRef> = self
            .ws
            .files_in_dir(dir)
            .iter()
            .filter(|id| !self.shadowed(**id))
            .map(|id| FileRef::Stored(*id))
            .collect();
        for (i, o) in self.overlays.iter().enumerate() {
            if o.path.parent().unwrap_or(Path::new("")) == dir {
                out.push(FileRef::Overlay(i as u32));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn files_with_stem(&self, stem: &str) -> Vec<FileRef> {
        let mut out: Vec<FileRef> = self
            .ws
            .files_with_stem(stem)
            .iter()
            .filter(|id| !self.shadowed(**id))
            .map(|id| FileRef::Stored(*id))
            .collect();
        for (i, o) in self.overlays.iter().enumerate() {
            if crate::workspace::module_stem(&o.path) == Some(stem) {
                out.push(FileRef::Overlay(i as u32));
            }
        }
        out
    }

    fn dir_of(&self, f: FileRef) -> &'a Path {
        self.path(f).parent().unwrap_or(Path::new(""))
    }

    /// Resolves a use to its definitions (the candidates of the best tier), or nothing.
    pub fn resolve(&self, u: &Use<'_>) -> Vec<Target> {
        self.resolve_tiered(u).map(|(_, t)| t).unwrap_or_default()
    }

    pub fn resolve_tiered(&self, u: &Use<'_>) -> Option<(Tier, Vec<Target>)> {
        // An imported name (`from m import x`, `import { x } from './m'`, `export { x } from`):
        // its qualifier is the module, not a receiver.
        if u.kind == RefKind::Import {
            if let Some(module) = u.qualifier {
                let lang = self.facts(u.file).lang;
                let files = self.module_files(u.file, module);
                let found = self.top_level_in(&files, u.name);
                if !found.is_empty() {
                    return Some((Tier::Imported, found));
                }
                let nested = self.module_files(u.file, &join_module(lang, module, u.name));
                if !nested.is_empty() {
                    return Some((
                        Tier::Imported,
                        nested.into_iter().map(Target::Module).collect(),
                    ));
                }
            }
            return self.resolve_plain(&Use {
                qualifier: None,
                ..*u
            });
        }
        match u.qualifier {
            None => self.resolve_plain(u),
            Some(q) => self.resolve_qualified(u, q),
        }
    }

    fn resolve_plain(&self, u: &Use<'_>) -> Option<(Tier, Vec<Target>)> {
        let facts = self.facts(u.file);
        let same: Vec<Target> = facts
            .symbols
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name == u.name && !s.kind.is_member())
            .map(|(idx, _)| {
                Target::Symbol(SymRef {
                    file: u.file,
                    idx: idx as u32,
                })
            })
            .collect();
        if !same.is_empty() {
            return Some((Tier::SameFile, same));
        }
        if let Some(t) = self.through_imports(u.file, u.name) {
            return Some((Tier::Imported, t));
        }
        // Members of the enclosing type, used bare (class bodies, Go methods of one package).
        if let Some(owner) = self.enclosing_type(u.file, u.enclosing) {
            let members = self.members_in(&[u.file], u.name, Some(&owner));
            if !members.is_empty() {
                return Some((Tier::SameFile, members));
            }
        }
        // Beyond its file and its imports a bare name is visible only where the language makes
        // it so: Go's package (its directory), Rust's macros (the crate). Elsewhere the name is
        // a builtin or a global (`len`, `Promise`), and a workspace symbol of that name is not
        // it, unless an import binds the name from a module that was not found, or a glob import
        // could not be followed: then nearest first. TypeScript's ambient declarations
        // (`.d.ts`) are global.
        let lang = facts.lang;
        let unresolved_import = facts.imports.iter().any(|i| {
            i.binding(lang) == u.name
                || matches!(i.name.as_deref(), Some("*"))
                || i.name.as_deref() == Some(u.name)
        });
        // Java classes of one package see each other without imports, as Go's files do.
        let package = matches!(lang, Lang::Go | Lang::Java);
        let crate_wide = lang == Lang::Rust && u.kind == RefKind::Macro;
        let ambient = matches!(lang, Lang::TypeScript | Lang::Tsx | Lang::JavaScript);
        // C's functions, types and globals are one namespace for the whole program: nearest first.
        // Ruby's constants and top-level methods are global too, and so are C#'s types (the
        // namespaces a file uses are not places on disk).
        let global = matches!(lang, Lang::C | Lang::Cpp | Lang::Ruby | Lang::CSharp);
        if !(package || crate_wide || unresolved_import || ambient || global) {
            return None;
        }
        let candidates = self.symbols_named(u.name);
        // C's enumerators are names of the program like its functions (C++'s unscoped ones too).
        let enumerators = matches!(lang, Lang::C | Lang::Cpp);
        let top = |s: &SymRef| {
            let kind = self.symbol(*s).kind;
            !kind.is_member() || (enumerators && kind == SymbolKind::EnumMember)
        };
        if ambient && !unresolved_import {
            let declared: Vec<Target> = candidates
                .iter()
                .filter(|s| top(s) && self.path(s.file).to_string_lossy().ends_with(".d.ts"))
                .map(|s| Target::Symbol(*s))
                .collect();
            return (!declared.is_empty()).then_some((Tier::Workspace, declared));
        }
        let dir = self.dir_of(u.file);
        let in_dir: Vec<Target> = candidates
            .iter()
            .filter(|s| s.file != u.file && top(s) && same_dir(self.dir_of(s.file), dir))
            .map(|s| Target::Symbol(*s))
            .collect();
        if !in_dir.is_empty() {
            return Some((Tier::SameDir, in_dir));
        }
        if package {
            // Java's `import a.b.*;`: the classes of that package.
            let wildcard: Vec<Target> = facts
                .imports
                .iter()
                .filter(|i| i.name.as_deref() == Some("*"))
                .flat_map(|i| {
                    let modules = self.module_files(u.file, &i.module);
                    self.top_level_in(&modules, u.name)
                })
                .collect();
            return (!wildcard.is_empty()).then_some((Tier::Imported, wildcard));
        }
        let anywhere: Vec<Target> = candidates
            .iter()
            .filter(|s| top(s))
            .map(|s| Target::Symbol(*s))
            .collect();
        if !anywhere.is_empty() {
            return Some((Tier::Workspace, anywhere));
        }
        None
    }

    /// What `binding` means through the imports of `file`.
    fn through_imports(&self, file: FileRef, binding: &str) -> Option<Vec<Target>> {
        let facts = self.facts(file);
        let lang = facts.lang;
        for import in facts.imports.iter().filter(|i| i.binding(lang) == binding) {
            match import.name.as_deref() {
                Some("*") | None => {
                    let modules = self.module_files(file, import.bound_module(lang));
                    if !modules.is_empty() {
                        return Some(modules.into_iter().map(Target::Module).collect());
                    }
                }
                Some(name) => {
                    let modules = self.module_files(file, &import.module);
                    let found = self.top_level_in(&modules, name);
                    if !found.is_empty() {
                        return Some(found);
                    }
                    // `from pkg import module`, `use crate::module;`
                    let nested = self.module_files(file, &join_module(lang, &import.module, name));
                    if !nested.is_empty() {
                        return Some(nested.into_iter().map(Target::Module).collect());
                    }
                }
            }
        }
        // Names brought in by wildcard imports.
        for import in facts
            .imports
            .iter()
            .filter(|i| i.name.as_deref() == Some("*"))
        {
            let modules = self.module_files(file, &import.module);
            let found = self.top_level_in(&modules, binding);
            if !found.is_empty() {
                return Some(found);
            }
        }
        None
    }

    fn top_level_in(&self, files: &[FileRef], name: &str) -> Vec<Target> {
        let mut out = Vec::new();
        for &f in files {
            for (idx, s) in self.facts(f).symbols.iter().enumerate() {
                if s.name == name && !s.kind.is_member() {
                    out.push(Target::Symbol(SymRef {
                        file: f,
                        idx: idx as u32,
                    }));
                }
            }
        }
        out
    }

    /// Members named `name` (of `owner`, if given) in `files`.
    fn members_in(&self, files: &[FileRef], name: &str, owner: Option<&str>) -> Vec<Target> {
        let mut out = Vec::new();
        for &f in files {
            for (idx, s) in self.facts(f).symbols.iter().enumerate() {
                if s.name == name
                    && s.kind.is_member()
                    && owner.is_none_or(|o| s.owner.as_deref() == Some(o))
                {
                    out.push(Target::Symbol(SymRef {
                        file: f,
                        idx: idx as u32,
                    }));
                }
            }
        }
        out
    }

    /// The type a use sits in: the nearest type-like container, or a Go method's receiver type.
    fn enclosing_type(&self, file: FileRef, enclosing: Option<u32>) -> Option<String> {
        let symbols = &self.facts(file).symbols;
        let mut at = enclosing;
        while let Some(i) = at {
            let s = &symbols[i as usize];
            if s.kind.is_type_like() {
                return Some(s.name.to_string());
            }
            if s.kind == SymbolKind::Method
                && let Some(owner) = &s.owner
            {
                return Some(owner.to_string());
            }
            at = s.container;
        }
        None
    }

    fn resolve_qualified(&self, u: &Use<'_>, qualifier: &str) -> Option<(Tier, Vec<Target>)> {
        let lang = self.facts(u.file).lang;
        let segments = split_qualifier(qualifier);
        let head = segments.first().copied().unwrap_or(qualifier);
        let last = segments.last().copied().unwrap_or(qualifier);

        // `self.x`, `this.x`, `Self::x`: the enclosing type, then its supertypes.
        let self_like =
            SELF_NAMES.contains(&qualifier) || (segments.len() == 1 && SELF_NAMES.contains(&head));
        if self_like && let Some(owner) = self.enclosing_type(u.file, u.enclosing) {
            let found = self.members_of(u.file, &owner, u.name, qualifier == "super()");
            if !found.is_empty() {
                return Some((Tier::SameFile, found));
            }
        }

        // An imported module (`os.path.join`, `pkg.F`, `module::f`).
        if let Some(import) = self
            .facts(u.file)
            .imports
            .iter()
            .find(|i| i.binding(lang) == head)
        {
            let base = match import.name.as_deref() {
                None | Some("*") => import.bound_module(lang).to_owned(),
                Some(name) => join_module(lang, &import.module, name),
            };
            let module = segments[1..]
                .iter()
                .fold(base, |m, s| join_module(lang, &m, s));
            let files = self.module_files(u.file, &module);
            let found = self.top_level_in(&files, u.name);
            if !found.is_empty() {
                return Some((Tier::Imported, found));
            }
            let members = self.members_in(&files, u.name, Some(last));
            if !members.is_empty() {
                return Some((Tier::Imported, members));
            }
            // A submodule: `errors` in `email.errors.HeaderDefect`.
            let nested = self.module_files(u.file, &join_module(lang, &module, u.name));
            if !nested.is_empty() {
                return Some((
                    Tier::Imported,
                    nested.into_iter().map(Target::Module).collect(),
                ));
            }
        }
        // Rust and friends: `crate::a::f`, `super::f` name modules without an import.
        if matches!(lang, Lang::Rust) && segments.len() > 1
            || matches!(head, "crate" | "super" | "self")
        {
            let files = self.module_files(u.file, qualifier);
            let found = self.top_level_in(&files, u.name);
            if !found.is_empty() {
                return Some((Tier::Imported, found));
            }
        }

        // A type (`Shape::Circle`, `Config.load`): its members, nearest first, then those it
        // inherits (`Base.__init__(self)` where `Base` defines none).
        let owned = self.members_ranked(u.file, u.name, Some(last));
        if let Some(found) = owned {
            return Some(found);
        }
        let inherited = self.members_of(u.file, last, u.name, true);
        if !inherited.is_empty() {
            return Some((Tier::Workspace, inherited));
        }
        // Anything else: members of that name, nearest first; then any symbol of that name.
        if let Some(found) = self.members_ranked(u.file, u.name, None) {
            return Some(found);
        }
        self.resolve_plain(&Use {
            qualifier: None,
            ..*u
        })
    }

    /// Members named `name` of `owner` or, failing that, of its supertypes (one level up, then
    /// their supertypes, up to a few levels).
    fn members_of(&self, file: FileRef, owner: &str, name: &str, skip_own: bool) -> Vec<Target> {
        let mut seen = HashSet::new();
        let mut level = vec![owner.to_owned()];
        for depth in 0..4 {
            let mut found = Vec::new();
            for t in &level {
                if depth == 0 && skip_own {
                    continue;
                }
                if let Some((_, f)) = self.members_ranked(file, name, Some(t)) {
                    found.extend(f);
                }
            }
            if !found.is_empty() {
                return found;
            }
            let mut next = Vec::new();
            for t in &level {
                if seen.insert(t.clone()) {
                    next.extend(self.supertypes(file, t));
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        Vec::new()
    }

    /// The names a type extends or implements, from the inheritance references inside it.
    fn supertypes(&self, file: FileRef, owner: &str) -> Vec<String> {
        let key = (file, owner.to_owned());
        if let Some(found) = self.supers.borrow().get(&key) {
            return found.clone();
        }
        let found = self.supertypes_uncached(file, owner);
        self.supers.borrow_mut().insert(key, found.clone());
        found
    }

    fn supertypes_uncached(&self, file: FileRef, owner: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut types: Vec<SymRef> = self
            .facts(file)
            .symbols
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name == owner && s.kind.is_type_like())
            .map(|(i, _)| SymRef {
                file,
                idx: i as u32,
            })
            .collect();
        if types.is_empty() {
            types = self
                .symbols_named(owner)
                .into_iter()
                .filter(|s| self.symbol(*s).kind.is_type_like())
                .collect();
        }
        for t in types {
            for r in &self.facts(t.file).references {
                if r.enclosing() == Some(t.idx)
                    && matches!(r.kind, RefKind::Inheritance | RefKind::Implementation)
                {
                    out.push(r.name.to_string());
                }
            }
        }
        out
    }

    /// Members named `name` (of `owner` if given), nearest first: same file, imported modules, same
    /// directory, workspace.
    pub(crate) fn members_ranked(
        &self,
        file: FileRef,
        name: &str,
        owner: Option<&str>,
    ) -> Option<(Tier, Vec<Target>)> {
        let key = (file, format!("{name}\0{}", owner.unwrap_or("")));
        if let Some(found) = self.members.borrow().get(&key) {
            return found.clone();
        }
        let found = self.members_ranked_uncached(file, name, owner);
        self.members.borrow_mut().insert(key, found.clone());
        found
    }

    fn members_ranked_uncached(
        &self,
        file: FileRef,
        name: &str,
        owner: Option<&str>,
    ) -> Option<(Tier, Vec<Target>)> {
        let same = self.members_in(&[file], name, owner);
        if !same.is_empty() {
            return Some((Tier::SameFile, same));
        }
        let all: Vec<SymRef> = self
            .symbols_named(name)
            .into_iter()
            .filter(|s| {
                let sym = self.symbol(*s);
                sym.kind.is_member() && owner.is_none_or(|o| sym.owner.as_deref() == Some(o))
            })
            .collect();
        if all.is_empty() {
            return None;
        }
        // Only imports that may name a candidate's module are resolved: their last segment is
        // the module stem of a candidate file (Go packages are directories: all of them).
        let facts = self.facts(file);
        let stems: HashSet<&str> = all
            .iter()
            .filter_map(|s| crate::workspace::module_stem(self.path(s.file)))
            .collect();
        let may_name_a_candidate = |module: &str| {
            matches!(facts.lang, Lang::Go | Lang::Java)
                || module
                    .rsplit(['.', '/', ':'])
                    .find(|s| !s.is_empty())
                    .is_none_or(|last| stems.contains(last))
        };
        let imported: HashSet<FileRef> = facts
            .imports
            .iter()
            .filter(|i| may_name_a_candidate(&i.module))
            .flat_map(|i| self.module_files(file, &i.module))
            .collect();
        let from_imports: Vec<Target> = all
            .iter()
            .filter(|s| imported.contains(&s.file))
            .map(|s| Target::Symbol(*s))
            .collect();
        if !from_imports.is_empty() {
            return Some((Tier::Imported, from_imports));
        }
        let dir = self.dir_of(file);
        let in_dir: Vec<Target> = all
            .iter()
            .filter(|s| same_dir(self.dir_of(s.file), dir))
            .map(|s| Target::Symbol(*s))
            .collect();
        if !in_dir.is_empty() {
            return Some((Tier::SameDir, in_dir));
        }
        Some((
            Tier::Workspace,
            all.into_iter().map(Target::Symbol).collect(),
        ))
    }

    /// The files of a module as `from` names it, by the conventions of its language.
    pub fn module_files(&self, from: FileRef, module: &str) -> Vec<FileRef> {
        let key = (from, module.to_owned());
        if let Some(files) = self.modules.borrow().get(&key) {
            return files.clone();
        }
        let lang = self.facts(from).lang;
        let dir = self.dir_of(from);
        let files = match lang {
            Lang::Python => self.python_module(dir, module),
            Lang::TypeScript | Lang::Tsx | Lang::JavaScript => self.js_module(dir, module),
            Lang::Rust => self.rust_module(dir, module),
            Lang::Go => self.go_package(module),
            Lang::Java => self.java_package(module),
            Lang::C | Lang::Cpp => self.named_file(dir, module),
            Lang::Ruby => self.ruby_require(dir, module),
            // A C# namespace is not a place on disk: its names are found as globals.
            Lang::CSharp => Vec::new(),
        };
        self.modules.borrow_mut().insert(key, files.clone());
        files
    }

    fn python_module(&self, dir: &Path, module: &str) -> Vec<FileRef> {
        let dots = module.chars().take_while(|c| *c == '.').count();
        let rest = &module[dots..];
        let segments: Vec<&str> = rest.split('.').filter(|s| !s.is_empty()).collect();
        if dots > 0 {
            let mut base = dir.to_path_buf();
            for _ in 1..dots {
                base.pop();
            }
            let mut path = base.clone();
            for s in &segments {
                path.push(s);
            }
            let candidates = if segments.is_empty() {
                vec![base.join("__init__.py")]
            } else {
                vec![path.with_extension("py"), path.join("__init__.py")]
            };
            return candidates.iter().filter_map(|p| self.file_at(p)).collect();
        }
        let Some(stem) = segments.last() else {
            return Vec::new();
        };
        self.by_suffix(stem, &segments)
    }

    fn js_module(&self, dir: &Path, module: &str) -> Vec<FileRef> {
        if !module.starts_with('.') {
            return Vec::new();
        }
        let base = normalize(&dir.join(module));
        const EXTS: [&str; 8] = ["ts", "tsx", "d.ts", "js", "jsx", "mjs", "cjs", "mts"];
        if let Some(f) = self.file_at(&base) {
            return vec![f];
        }
        let stemmed = base.to_string_lossy().trim_end_matches(".js").to_owned();
        for ext in EXTS {
            if let Some(f) = self.file_at(Path::new(&format!("{stemmed}.{ext}"))) {
                return vec![f];
            }
        }
        for ext in EXTS {
            if let Some(f) = self.file_at(&base.join(format!("index.{ext}"))) {
                return vec![f];
            }
        }
        Vec::new()
    }

    fn rust_module(&self, dir: &Path, module: &str) -> Vec<FileRef> {
        let mut segments: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        // `self`/`super` are relative to this file's directory; `crate` and crate names match by
        // suffix anywhere in the workspace.
        let mut base: Option<PathBuf> = None;
        while let Some(first) = segments.first() {
            match *first {
                "crate" => {
                    segments.remove(0);
                }
                "self" => {
                    base = Some(base.unwrap_or_else(|| dir.to_path_buf()));
                    segments.remove(0);
                }
                "super" => {
                    let mut b = base.unwrap_or_else(|| dir.to_path_buf());
                    b.pop();
                    base = Some(b);
                    segments.remove(0);
                }
                _ => break,
            }
        }
        if segments.is_empty() {
            let root = base.unwrap_or_default();
            return ["lib.rs", "main.rs", "mod.rs"]
                .iter()
                .filter_map(|f| self.file_at(&root.join(f)))
                .collect();
        }
        if let Some(b) = base {
            let mut path = b;
            for s in &segments {
                path.push(s);
            }
            return [path.with_extension("rs"), path.join("mod.rs")]
                .iter()
                .filter_map(|p| self.file_at(p))
                .collect();
        }
        let found = self.by_suffix(segments.last().expect("not empty"), &segments);
        if found.is_empty() && segments.len() > 1 {
            // The path may end in an item rather than a module (`a::Type::Variant`).
            return self.rust_module(dir, &segments[..segments.len() - 1].join("::"));
        }
        found
    }

    fn go_package(&self, import_path: &str) -> Vec<FileRef> {
        let segments: Vec<&str> = import_path.split('/').filter(|s| !s.is_empty()).collect();
        // The longest directory suffix of the import path that exists in the workspace.
        for start in 0..segments.len() {
            let dir: PathBuf = segments[start..].iter().collect();
            let files = self.files_in_dir(&dir);
            if !files.is_empty() {
                return files;
            }
        }
        Vec::new()
    }

    /// A C `#include "path"` (a Ruby `require` too): beside the including file first, as the
    /// compiler looks, else any file whose path ends with it (an include directory or a load path
    /// the build names).
    fn named_file(&self, dir: &Path, include: &str) -> Vec<FileRef> {
        let mut beside = PathBuf::new();
        for part in dir.join(include).components() {
            match part {
                std::path::Component::ParentDir => {
                    beside.pop();
                }
                std::path::Component::CurDir => {}
                other => beside.push(other),
            }
        }
        if let Some(f) = self.file_at(&beside) {
            return vec![f];
        }
        let stem = Path::new(include)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        self.files_with_stem(stem)
            .into_iter()
            .filter(|f| self.path(*f).ends_with(include))
            .collect()
    }

    /// A Ruby `require_relative "a/b"` (beside the file) or `require "a/b"` (under a load path:
    /// any file whose path ends with `a/b.rb`).
    fn ruby_require(&self, dir: &Path, feature: &str) -> Vec<FileRef> {
        let file = if feature.ends_with(".rb") {
            feature.to_owned()
        } else {
            format!("{feature}.rb")
        };
        self.named_file(dir, &file)
    }

    /// A Java package (`a.b`): the files of every directory whose path ends with `a/b`, wherever
    /// the source root is (`src/main/java/a/b`).
    fn java_package(&self, package: &str) -> Vec<FileRef> {
        let suffix: PathBuf = package.split('.').filter(|s| !s.is_empty()).collect();
        if suffix.as_os_str().is_empty() {
            return Vec::new();
        }
        let mut out: Vec<FileRef> = Vec::new();
        for dir in self.ws.dirs().filter(|d| d.ends_with(&suffix)) {
            out.extend(self.files_in_dir(dir));
        }
        for (i, o) in self.overlays.iter().enumerate() {
            if o.path.parent().is_some_and(|d| d.ends_with(&suffix)) {
                out.push(FileRef::Overlay(i as u32));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Files named `stem` whose path ends with `segments` (as `a/b.py`, `a/b/__init__.py`...).
    fn by_suffix(&self, stem: &str, segments: &[&str]) -> Vec<FileRef> {
        let mut found: Vec<(usize, FileRef)> = self
            .files_with_stem(stem)
            .into_iter()
            .filter_map(|f| {
                let path = self.path(f);
                let mut module: Vec<&str> = path
                    .parent()
                    .into_iter()
                    .flat_map(|p| p.iter())
                    .filter_map(|c| c.to_str())
                    .collect();
                let file_stem = crate::workspace::module_stem(path)?;
                if crate::workspace::is_package_file(path) {
                    // The package file stands for its directory, already in `module`.
                } else {
                    module.push(file_stem);
                }
                (module.len() >= segments.len()
                    && module[module.len() - segments.len()..] == *segments)
                    .then_some((module.len(), f))
            })
            .collect();
        // The shortest path: the module nearest the root (`json/decoder.py`, not `x/json/decoder.py`).
        found.sort();
        let best = found.first().map(|(l, _)| *l);
        found
            .into_iter()
            .filter(|(l, _)| Some(*l) == best)
            .map(|(_, f)| f)
            .collect()
    }
}

/// `a.b` + `c` → `a.b.c`; `.` + `x` → `.x`; `crate::a` + `b` → `crate::a::b`.
pub fn join_module(lang: Lang, module: &str, name: &str) -> String {
    match lang {
        Lang::Python if module.ends_with('.') || module.is_empty() => format!("{module}{name}"),
        Lang::Python => format!("{module}.{name}"),
        Lang::Rust if module.is_empty() => name.to_owned(),
        Lang::Rust => format!("{module}::{name}"),
        Lang::Go => format!("{module}/{name}"),
        Lang::Java => format!("{module}.{name}"),
        _ => format!("{module}/{name}"),
    }
}

/// `os.path` → [os, path]; `a::b` → [a, b]; `self.x.y` → [self, x, y].
pub fn split_qualifier(q: &str) -> Vec<&str> {
    q.split(['.', ':'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Resolves `.` and `..` without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A `use` of the import binding this reference names, if it is one (for `references` of modules).
pub fn import_binding<'f>(facts: &'f FileFacts, name: &str) -> Option<&'f Import> {
    facts.imports.iter().find(|i| i.binding(facts.lang) == name)
}

/// Directory equality on the graph's normalized relative paths: bytes, without `Path`'s
/// component-wise comparison.
fn same_dir(a: &Path, b: &Path) -> bool {
    a.as_os_str() == b.as_os_str()
}

/// The indexes of the `true`s.
fn positions(flags: impl Iterator<Item = bool>) -> Vec<u32> {
    flags
        .enumerate()
        .filter(|(_, yes)| *yes)
        .map(|(i, _)| i as u32)
        .collect()
}
