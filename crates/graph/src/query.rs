//! The questions editors and agents ask, answered on a [`View`]: definition, references, highlights,
//! hover, call hierarchy, workspace symbols. The file being asked about is parsed from its current
//! text and sits in the view as an overlay, so everything works on unsaved buffers; its local scopes
//! come from that parse.

use crate::extract::Analysis;
use crate::facts::{Pos, RefKind, Span, Symbol, SymbolKind};
use crate::lang::Lang;
use crate::resolve::{FileRef, RefRef, SymRef, Target, Use, View};
use crate::scope::LocalDef;
use std::collections::{BTreeMap, HashMap, HashSet};
use tree_sitter::{Node, Tree};

/// The file a question is about.
pub struct Current<'a> {
    /// Its place in the view (the overlay holding `analysis.facts`).
    pub file: FileRef,
    pub tree: &'a Tree,
    pub src: &'a [u8],
    pub analysis: &'a Analysis,
}

/// A place in a file of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: FileRef,
    pub span: Span,
}

/// What the name under the cursor is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    /// The name of a definition.
    Definition(SymRef),
    /// A local variable (its definition or a use).
    Local { name: String, def: LocalDef },
    /// A segment of a module path in an import (`email.mime` at `mime` in
    /// `from email.mime.text import X`).
    Module(String),
    /// A use of a name.
    Use {
        name: String,
        qualifier: Option<String>,
        kind: RefKind,
        enclosing: Option<u32>,
        /// Its first byte in the current file.
        at: usize,
    },
}

/// What hover shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hover {
    pub symbol: Option<SymRef>,
    pub kind: String,
    pub name: String,
    pub signature: String,
    pub doc: String,
    pub callers: usize,
    pub callees: usize,
    /// The name's span in the current file.
    pub range: Span,
}

/// Calls into or out of a symbol, grouped by the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calls {
    /// The caller (incoming) or callee (outgoing); `None` for calls at a file's top level.
    pub symbol: Option<SymRef>,
    /// The file of `symbol`, or holding the top-level calls.
    pub file: FileRef,
    /// Where the calls are: in the caller's file (incoming) or in the symbol's own file (outgoing).
    pub ranges: Vec<Span>,
}

/// Kinds of nodes that name things.
fn is_name(node: &Node<'_>) -> bool {
    node.is_named()
        && node.child_count() == 0
        && (node.kind().ends_with("identifier") || node.kind() == "constant")
}

/// The name node at (or just before) a byte offset.
fn name_node_at<'t>(tree: &'t Tree, byte: usize) -> Option<Node<'t>> {
    let root = tree.root_node();
    let candidates = [byte, byte.saturating_sub(1)];
    candidates
        .into_iter()
        .find_map(|b| root.descendant_for_byte_range(b, b).filter(is_name))
}

impl View<'_> {
    /// Sorts locations by path, then position, and drops repeats.
    fn sort_locations(&self, locations: &mut Vec<Location>) {
        locations.sort_by(|a, b| (self.path(a.file), a.span).cmp(&(self.path(b.file), b.span)));
        locations.dedup();
    }

    /// What the name at `byte` in the current file is.
    pub fn site(&self, cur: &Current<'_>, byte: usize) -> Option<(Site, Span)> {
        if matches!(cur.analysis.facts.lang, Lang::C | Lang::Cpp)
            && let Some((path, span)) = include_at(cur.tree, cur.src, byte)
        {
            return Some((Site::Module(path), span));
        }
        let Some(node) = name_node_at(cur.tree, byte) else {
            return self.macro_body_site(cur, byte);
        };
        let span = crate::extract::span(node);
        let name = String::from_utf8_lossy(&cur.src[node.byte_range()]).into_owned();
        let facts = &cur.analysis.facts;
        if let Some(module) = import_path_prefix(&node, cur.src) {
            return Some((Site::Module(module), span));
        }
        if let Some(idx) = facts
            .symbols
            .iter()
            .position(|s| s.name_span.start == span.start && s.kind != SymbolKind::Impl)
        {
            return Some((
                Site::Definition(SymRef {
                    file: cur.file,
                    idx: idx as u32,
                }),
                span,
            ));
        }
        // The name after a receiver (`self.x`, `this.x`, `a::x`, `pkg.X`) is never a local.
        let qualifier = receiver_of(&node, cur.src);
        if qualifier.is_none()
            && let Some(def) = cur.analysis.locals.resolve(&name, node.start_byte())
        {
            return Some((Site::Local { name, def }, span));
        }
        let i = facts
            .references
            .partition_point(|r| r.span().start < span.start);
        if let Some(r) = facts
            .references
            .get(i)
            .filter(|r| r.span().start == span.start)
        {
            return Some((
                Site::Use {
                    name,
                    qualifier: r.qualifier.map(String::from),
                    kind: r.kind,
                    enclosing: r.enclosing(),
                    at: node.start_byte(),
                },
                span,
            ));
        }
        // Not a stored use (a path segment, a builtin): read it from the tree.
        let enclosing = crate::extract::enclosing(&facts.symbols, span.start);
        Some((
            Site::Use {
                name,
                qualifier,
                kind: RefKind::Read,
                enclosing,
                at: node.start_byte(),
            },
            span,
        ))
    }

    /// A name in a C/C++ macro's replacement text, which has no tree: the use extraction read
    /// there (see `extract.rs`, `macro_body`), if `byte` is on one.
    fn macro_body_site(&self, cur: &Current<'_>, byte: usize) -> Option<(Site, Span)> {
        if !matches!(cur.analysis.facts.lang, Lang::C | Lang::Cpp) || byte > cur.src.len() {
            return None;
        }
        let before = &cur.src[..byte];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u32;
        let col = (byte
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1)) as u32;
        let r = cur.analysis.facts.references.iter().find(|r| {
            let s = r.span();
            s.start.line == line && s.start.col <= col && col <= s.end.col
        })?;
        Some((
            Site::Use {
                name: r.name.to_string(),
                qualifier: r.qualifier.map(String::from),
                kind: r.kind,
                enclosing: r.enclosing(),
                at: byte,
            },
            r.span(),
        ))
    }

    /// What a site refers to.
    pub fn targets(&self, cur: &Current<'_>, site: &Site) -> Vec<Target> {
        match site {
            Site::Definition(s) => vec![Target::Symbol(*s)],
            Site::Local { .. } => Vec::new(),
            Site::Module(module) => self
                .module_files(cur.file, module)
                .into_iter()
                .map(Target::Module)
                .collect(),
            Site::Use {
                name,
                qualifier,
                kind,
                enclosing,
                at,
            } => {
                if matches!(cur.analysis.facts.lang, Lang::C | Lang::Cpp)
                    && matches!(kind, RefKind::Field | RefKind::Call)
                    && let Some(q) = qualifier
                    && let Some(found) = self.c_member(cur, *at, q, name)
                {
                    return found;
                }
                self.resolve(&Use {
                    file: cur.file,
                    name,
                    qualifier: qualifier.as_deref(),
                    kind: *kind,
                    enclosing: *enclosing,
                })
            }
        }
    }

    fn target_location(&self, t: &Target) -> Location {
        match t {
            Target::Symbol(s) => Location {
                file: s.file,
                span: self.symbol(*s).name_span,
            },
            Target::Module(f) => Location {
                file: *f,
                span: Span::default(),
            },
        }
    }

    /// The name of the first symbol among `targets` (modules have none).
    fn symbol_name(&self, targets: &[Target]) -> Option<String> {
        targets.iter().find_map(|t| match t {
            Target::Symbol(s) => Some(self.symbol(*s).name.to_string()),
            Target::Module(_) => None,
        })
    }

    /// `textDocument/definition`.
    pub fn definition(&self, cur: &Current<'_>, byte: usize) -> Vec<Location> {
        let Some((site, at)) = self.site(cur, byte) else {
            return Vec::new();
        };
        if let Site::Local { def, .. } = &site {
            return vec![Location {
                file: cur.file,
                span: byte_span(cur.src, def.start, def.end),
            }];
        }
        // A TypeScript overload signature is defined by the implementation after it.
        if let Site::Definition(s) = &site
            && matches!(cur.analysis.facts.lang, Lang::TypeScript | Lang::Tsx)
        {
            let sym = self.symbol(*s);
            let symbols = &cur.analysis.facts.symbols;
            if sym.kind.is_callable()
                && let Some(last) = (s.idx as usize + 1..symbols.len()).rev().find(|&i| {
                    let o = &symbols[i];
                    o.name == sym.name && o.kind == sym.kind && o.container == sym.container
                })
            {
                return vec![Location {
                    file: cur.file,
                    span: symbols[last].name_span,
                }];
            }
        }
        let mut targets = self.targets(cur, &site);
        if matches!(cur.analysis.facts.lang, Lang::C | Lang::Cpp) {
            self.prefer_typedefs(cur, byte, &mut targets);
        }
        let mut out: Vec<Location> = targets.iter().map(|t| self.target_location(t)).collect();
        self.sort_locations(&mut out);
        if matches!(cur.analysis.facts.lang, Lang::C | Lang::Cpp)
            && let Site::Use { name, .. } = &site
        {
            let macros: HashMap<Location, SymRef> = targets
                .iter()
                .filter_map(|t| match t {
                    Target::Symbol(s) if self.symbol(*s).kind == SymbolKind::Macro => {
                        Some((self.target_location(t), *s))
                    }
                    _ => None,
                })
                .collect();
            // A definition a default build does not compile goes after the others.
            if macros.len() > 1 {
                let cpp = cur.analysis.facts.lang == Lang::Cpp;
                out.sort_by_cached_key(|l| {
                    macros
                        .get(l)
                        .is_some_and(|s| self.c_macro_left_out(*s, cpp))
                });
            }
            if let Some(i) = macro_in_effect(&out, &macros, cur.file, cur.src, name, at.start) {
                let first = out.remove(i);
                out.insert(0, first);
            }
        }
        out
    }

    /// Whether a default build leaves a C macro's definition out: the condition extraction kept
    /// beside its signature is false (cond.rs) — the compiler's names are defined, a name no file
    /// of the workspace defines as a macro is not, and any other is not known.
    fn c_macro_left_out(&self, s: SymRef, cpp: bool) -> bool {
        let Some(guard) = self
            .symbol(s)
            .signature
            .rsplit_once(" /* #if ")
            .and_then(|(_, g)| g.strip_suffix(" */"))
        else {
            return false;
        };
        let defined = |name: &str| {
            if crate::cond::PREDEFINED.contains(&name) || (cpp && name == "__cplusplus") {
                Some(true)
            } else if self
                .symbols_named(name)
                .iter()
                .any(|m| self.symbol(*m).kind == SymbolKind::Macro)
            {
                None
            } else {
                Some(false)
            }
        };
        crate::cond::evaluate(guard, &defined) == crate::cond::Truth::False
    }

    /// C/C++: the members `name` of the struct that `qualifier` (`s`, `s->params`, `a.b`: names
    /// only) has by its declarations — the variable's (a local or parameter, else a global), then
    /// each field's along the chain. `None` when a step is not known (the caller then ranks every
    /// member of that name).
    fn c_member(
        &self,
        cur: &Current<'_>,
        at: usize,
        qualifier: &str,
        name: &str,
    ) -> Option<Vec<Target>> {
        let mut steps = qualifier
            .split("->")
            .flat_map(|s| s.split('.'))
            .map(str::trim);
        let head = steps.next()?;
        let is_name = |s: &str| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_alphanumeric() || c == '_')
        };
        if !is_name(head) {
            return None;
        }
        let declared = match cur.analysis.locals.resolve(head, at) {
            Some(def) => c_declared_type(cur.tree, cur.src, def.start)?,
            None => {
                let global = self
                    .symbols_named(head)
                    .into_iter()
                    .find(|s| self.symbol(*s).kind == SymbolKind::Variable)?;
                c_type_in_declaration(&self.symbol(global).signature)?
            }
        };
        let mut owner = self.c_struct_of(&declared)?;
        for step in steps {
            if !is_name(step) {
                return None;
            }
            let field = self.c_fields(&owner, step).into_iter().next()?;
            let declared = c_type_in_declaration(&self.symbol(field).signature)?;
            owner = self.c_struct_of(&declared)?;
        }
        if let CStruct::Tag(tag) = &owner {
            let (_, found) = self.members_ranked(cur.file, name, Some(tag))?;
            return Some(found);
        }
        let found = self.c_fields(&owner, name);
        (!found.is_empty()).then(|| found.into_iter().map(Target::Symbol).collect())
    }

    /// The struct (or union) a C type name stands for: a struct of that name, else the struct a
    /// typedef of that name declares (anonymous: the typedef's own braces), else the tag a typedef
    /// names (`typedef struct S T;`).
    fn c_struct_of(&self, type_name: &str) -> Option<CStruct> {
        let named = self.symbols_named(type_name);
        if named
            .iter()
            .any(|s| self.symbol(*s).kind == SymbolKind::Struct)
        {
            return Some(CStruct::Tag(type_name.to_owned()));
        }
        let typedef = named
            .into_iter()
            .find(|s| self.symbol(*s).kind == SymbolKind::Type)?;
        let span = self.symbol(typedef).span;
        let declared = self
            .facts(typedef.file)
            .symbols
            .iter()
            .find(|s| s.kind == SymbolKind::Struct && span.encloses(&s.span));
        if let Some(s) = declared {
            return Some(CStruct::Tag(s.name.to_string()));
        }
        let signature = &self.symbol(typedef).signature;
        let mut words = signature.split(|c: char| !(c.is_alphanumeric() || c == '_'));
        if words.any(|w| matches!(w, "struct" | "union"))
            && let Some(tag) = words.find(|w| !w.is_empty())
            && tag != type_name
            && !signature.contains('{')
        {
            return Some(CStruct::Tag(tag.to_owned()));
        }
        Some(CStruct::Anonymous(typedef))
    }

    /// The fields `name` of a C struct.
    fn c_fields(&self, owner: &CStruct, name: &str) -> Vec<SymRef> {
        match owner {
            CStruct::Tag(tag) => self
                .symbols_named(name)
                .into_iter()
                .filter(|s| self.symbol(*s).owner.as_deref() == Some(tag.as_str()))
                .collect(),
            CStruct::Anonymous(typedef) => {
                let span = self.symbol(*typedef).span;
                self.facts(typedef.file)
                    .symbols
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        s.name == name && s.kind == SymbolKind::Field && span.encloses(&s.span)
                    })
                    .map(|(idx, _)| SymRef {
                        file: typedef.file,
                        idx: idx as u32,
                    })
                    .collect()
            }
        }
    }

    /// C's `typedef struct X { ... } X;` names a type twice: a plain `X` is the typedef, and
    /// `struct X` (or `enum`, `union`) the tag.
    fn prefer_typedefs(&self, cur: &Current<'_>, byte: usize, targets: &mut Vec<Target>) {
        let tagged = name_node_at(cur.tree, byte)
            .and_then(|n| n.parent())
            .is_some_and(|p| {
                matches!(
                    p.kind(),
                    "struct_specifier" | "enum_specifier" | "union_specifier"
                )
            });
        let kind_of = |t: &Target| match t {
            Target::Symbol(s) => Some(self.symbol(*s).kind),
            Target::Module(_) => None,
        };
        let is_tag = |t: &Target| matches!(kind_of(t), Some(SymbolKind::Struct | SymbolKind::Enum));
        let is_typedef = |t: &Target| kind_of(t) == Some(SymbolKind::Type);
        if tagged && targets.iter().any(is_tag) {
            targets.retain(|t| !is_typedef(t));
        } else if !tagged && targets.iter().any(is_typedef) {
            targets.retain(|t| !is_tag(t));
        }
    }

    /// Every reference of `targets`.
    fn uses_of(&self, name: &str, targets: &[Target], calls_only: bool) -> Vec<RefRef> {
        let wanted: HashSet<&Target> = targets.iter().collect();
        // Uses with the same inputs resolve alike (a method called ten times in one function).
        let mut known: HashMap<UseKey<'_>, bool> = HashMap::new();
        self.refs_named(name)
            .into_iter()
            .filter(|r| {
                let reference = &self.facts(r.file).references[r.idx as usize];
                if calls_only && !matches!(reference.kind, RefKind::Call | RefKind::Macro) {
                    return false;
                }
                let key = (
                    r.file,
                    reference.qualifier.as_deref(),
                    reference.kind,
                    reference.enclosing(),
                );
                *known.entry(key).or_insert_with(|| {
                    let resolved = self.resolve(&Use {
                        file: r.file,
                        name: &reference.name,
                        qualifier: reference.qualifier.as_deref(),
                        kind: reference.kind,
                        enclosing: reference.enclosing(),
                    });
                    resolved.iter().any(|t| wanted.contains(t))
                })
            })
            .collect()
    }

    /// `textDocument/references`.
    pub fn references(
        &self,
        cur: &Current<'_>,
        byte: usize,
        include_declaration: bool,
    ) -> Vec<Location> {
        let Some((site, _)) = self.site(cur, byte) else {
            return Vec::new();
        };
        if let Site::Local { name, def } = &site {
            let mut out = self.local_occurrences(cur, name, def);
            if !include_declaration {
                let decl = byte_span(cur.src, def.start, def.end);
                out.retain(|l| l.span != decl);
            }
            return out;
        }
        let targets = self.targets(cur, &site);
        let Some(name) = self.symbol_name(&targets) else {
            return Vec::new();
        };
        let mut out: Vec<Location> = self
            .uses_of(&name, &targets, false)
            .into_iter()
            .map(|r| Location {
                file: r.file,
                span: self.facts(r.file).references[r.idx as usize].span(),
            })
            .collect();
        if include_declaration {
            out.extend(
                targets
                    .iter()
                    .filter(|t| matches!(t, Target::Symbol(_)))
                    .map(|t| self.target_location(t)),
            );
        }
        self.sort_locations(&mut out);
        out
    }

    /// Uses of a local variable within its scope, its definitions included.
    fn local_occurrences(&self, cur: &Current<'_>, name: &str, def: &LocalDef) -> Vec<Location> {
        let mut out = Vec::new();
        let root = cur.tree.root_node();
        let Some(scope) = root.descendant_for_byte_range(def.scope_start, def.scope_end) else {
            return out;
        };
        let mut stack = vec![scope];
        while let Some(node) = stack.pop() {
            if is_name(&node) && &cur.src[node.byte_range()] == name.as_bytes() {
                if cur.analysis.locals.resolve(name, node.start_byte()) == Some(*def)
                    || cur
                        .analysis
                        .locals
                        .definitions_in_scope(def, name)
                        .contains(&(node.start_byte(), node.end_byte()))
                {
                    out.push(Location {
                        file: cur.file,
                        span: crate::extract::span(node),
                    });
                }
                continue;
            }
            let mut walk = node.walk();
            stack.extend(node.children(&mut walk));
        }
        out.sort();
        out
    }

    /// `textDocument/documentHighlight`: the same thing, in this file. The bool says "written"
    /// (a definition) rather than read.
    pub fn highlights(&self, cur: &Current<'_>, byte: usize) -> Vec<(Span, bool)> {
        let Some((site, _)) = self.site(cur, byte) else {
            return Vec::new();
        };
        if let Site::Local { name, def } = &site {
            let sites = cur.analysis.locals.definitions_in_scope(def, name);
            return self
                .local_occurrences(cur, name, def)
                .into_iter()
                .map(|l| {
                    let written = sites
                        .iter()
                        .any(|(s, e)| byte_span(cur.src, *s, *e) == l.span);
                    (l.span, written)
                })
                .collect();
        }
        let targets = self.targets(cur, &site);
        let Some(name) = self.symbol_name(&targets) else {
            return Vec::new();
        };
        let wanted: HashSet<&Target> = targets.iter().collect();
        let facts = &cur.analysis.facts;
        let mut out: Vec<(Span, bool)> = facts
            .references
            .iter()
            .filter(|r| r.name == name)
            .filter(|r| {
                let resolved = self.resolve(&Use {
                    file: cur.file,
                    name: &r.name,
                    qualifier: r.qualifier.as_deref(),
                    kind: r.kind,
                    enclosing: r.enclosing(),
                });
                resolved.iter().any(|t| wanted.contains(t))
            })
            .map(|r| (r.span(), false))
            .collect();
        for t in &targets {
            if let Target::Symbol(s) = t
                && s.file == cur.file
            {
                out.push((self.symbol(*s).name_span, true));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The symbol a call hierarchy starts from: the definition under the cursor, or what the name
    /// under it resolves to.
    pub fn symbols_at(&self, cur: &Current<'_>, byte: usize) -> Vec<SymRef> {
        let Some((site, _)) = self.site(cur, byte) else {
            return Vec::new();
        };
        self.targets(cur, &site)
            .into_iter()
            .filter_map(|t| match t {
                Target::Symbol(s) => Some(s),
                Target::Module(_) => None,
            })
            .collect()
    }

    /// `callHierarchy/incomingCalls`: who calls `target`, grouped by caller.
    pub fn incoming_calls(&self, target: SymRef) -> Vec<Calls> {
        let name = self.symbol(target).name;
        let mut groups: BTreeMap<(FileRef, Option<u32>), Vec<Span>> = BTreeMap::new();
        for r in self.uses_of(&name, &[Target::Symbol(target)], true) {
            let reference = &self.facts(r.file).references[r.idx as usize];
            let caller = self.callable_around(r.file, reference.enclosing());
            groups
                .entry((r.file, caller))
                .or_default()
                .push(reference.span());
        }
        let mut calls: Vec<Calls> = groups
            .into_iter()
            .map(|((file, caller), ranges)| Calls {
                symbol: caller.map(|idx| SymRef { file, idx }),
                file,
                ranges,
            })
            .collect();
        calls.sort_by(|a, b| {
            (self.path(a.file), a.ranges.first()).cmp(&(self.path(b.file), b.ranges.first()))
        });
        calls
    }

    /// `callHierarchy/outgoingCalls`: what `source` calls, grouped by callee.
    pub fn outgoing_calls(&self, source: SymRef) -> Vec<Calls> {
        let facts = self.facts(source.file);
        let mut groups: BTreeMap<SymRef, Vec<Span>> = BTreeMap::new();
        for r in &facts.references {
            if !matches!(r.kind, RefKind::Call | RefKind::Macro)
                || self.callable_around(source.file, r.enclosing()) != Some(source.idx)
            {
                continue;
            }
            let targets = self.resolve(&Use {
                file: source.file,
                name: &r.name,
                qualifier: r.qualifier.as_deref(),
                kind: r.kind,
                enclosing: r.enclosing(),
            });
            if let Some(Target::Symbol(callee)) = targets.first() {
                groups.entry(*callee).or_default().push(r.span());
            }
        }
        let mut calls: Vec<Calls> = groups
            .into_iter()
            .map(|(callee, ranges)| Calls {
                symbol: Some(callee),
                file: callee.file,
                ranges,
            })
            .collect();
        calls.sort_by(|a, b| a.ranges.first().cmp(&b.ranges.first()));
        calls
    }

    /// The innermost callable (function, method) around a use; calls in a class body belong to
    /// the class.
    fn callable_around(&self, file: FileRef, enclosing: Option<u32>) -> Option<u32> {
        let symbols = &self.facts(file).symbols;
        let mut at = enclosing;
        while let Some(i) = at {
            let s = &symbols[i as usize];
            if s.kind.is_callable() || s.kind.is_type_like() {
                return Some(i);
            }
            at = s.container;
        }
        None
    }

    /// `textDocument/hover`.
    pub fn hover(&self, cur: &Current<'_>, byte: usize) -> Option<Hover> {
        let (site, range) = self.site(cur, byte)?;
        if let Site::Local { name, def } = &site {
            let line = line_of(cur.src, def.start);
            return Some(Hover {
                symbol: None,
                kind: "local".into(),
                name: name.clone(),
                signature: line.trim().to_owned(),
                doc: String::new(),
                callers: 0,
                callees: 0,
                range,
            });
        }
        let target = self.targets(cur, &site).into_iter().find_map(|t| match t {
            Target::Symbol(s) => Some(s),
            Target::Module(_) => None,
        })?;
        let symbol: &Symbol = self.symbol(target);
        let (callers, callees) = if symbol.kind.is_callable() || symbol.kind.is_type_like() {
            let callers: HashSet<(FileRef, Option<SymRef>)> = self
                .incoming_calls(target)
                .iter()
                .map(|c| (c.file, c.symbol))
                .collect();
            (callers.len(), self.outgoing_calls(target).len())
        } else {
            (0, 0)
        };
        Some(Hover {
            symbol: Some(target),
            kind: symbol.kind.name().into(),
            name: symbol.name.to_string(),
            signature: symbol.signature.to_string(),
            doc: symbol.doc.to_string(),
            callers,
            callees,
            range,
        })
    }

    /// `workspace/symbol`: fuzzy, ranked, at most `limit`.
    pub fn workspace_symbols(&self, query: &str, limit: usize) -> Vec<SymRef> {
        let fuzzy = Fuzzy::new(query);
        let mut scored: Vec<(i64, SymRef)> = Vec::new();
        let mut consider = |score: i64, symbols: &mut dyn Iterator<Item = SymRef>| {
            for s in symbols {
                let kind = self.symbol(s).kind;
                let bonus = if kind.is_type_like() || kind.is_callable() {
                    10
                } else if kind.is_member() {
                    -5
                } else {
                    0
                };
                scored.push((score + bonus, s));
            }
        };
        for name in self.ws.name_list().iter() {
            let Some(score) = fuzzy.score(name) else {
                continue;
            };
            let mut it = self
                .ws
                .symbols_named(name)
                .iter()
                .filter(|id| !self.shadowed(id.file))
                .map(|id| SymRef {
                    file: FileRef::Stored(id.file),
                    idx: id.idx,
                });
            consider(score, &mut it);
        }
        for (i, o) in self.overlays.iter().enumerate() {
            for (idx, s) in o.facts.symbols.iter().enumerate() {
                let Some(score) = fuzzy.score(&s.name) else {
                    continue;
                };
                let mut it = std::iter::once(SymRef {
                    file: FileRef::Overlay(i as u32),
                    idx: idx as u32,
                });
                consider(score, &mut it);
            }
        }
        let order = |a: &(i64, SymRef), b: &(i64, SymRef)| {
            b.0.cmp(&a.0)
                .then_with(|| {
                    self.symbol(a.1)
                        .name
                        .len()
                        .cmp(&self.symbol(b.1).name.len())
                })
                .then_with(|| self.path(a.1.file).cmp(self.path(b.1.file)))
                .then_with(|| a.1.idx.cmp(&b.1.idx))
        };
        // A short query matches thousands: order only the best `limit`.
        if scored.len() > limit && limit > 0 {
            scored.select_nth_unstable_by(limit - 1, order);
            scored.truncate(limit);
        }
        scored.sort_by(order);
        scored.truncate(limit);
        scored.into_iter().map(|(_, s)| s).collect()
    }
}

/// The module a segment of a Python import's module path names: the path up to and including
/// the segment (`..pkg.mod` at `pkg` → `..pkg`).
/// The path of the C or C++ `#include` at `byte` (`"a.h"` or `<dir/a.h>`, without the quotes or
/// brackets): the header it names is the file whose path ends with it, the includer's
/// neighbour first.
fn include_at(tree: &Tree, src: &[u8], byte: usize) -> Option<(String, Span)> {
    let mut node = tree.root_node().descendant_for_byte_range(byte, byte)?;
    while node.kind() != "preproc_include" {
        node = node.parent()?;
    }
    let path = node.child_by_field_name("path")?;
    if !(path.start_byte()..=path.end_byte()).contains(&byte) {
        return None;
    }
    let text = String::from_utf8_lossy(&src[path.byte_range()]);
    let inner = text
        .trim()
        .trim_start_matches(['"', '<'])
        .trim_end_matches(['"', '>']);
    (!inner.is_empty()).then(|| (inner.to_owned(), crate::extract::span(path)))
}

fn import_path_prefix(node: &tree_sitter::Node<'_>, src: &[u8]) -> Option<String> {
    let dotted = node.parent().filter(|p| p.kind() == "dotted_name")?;
    let mut path = dotted;
    if let Some(p) = dotted.parent().filter(|p| p.kind() == "relative_import") {
        path = p;
    }
    let statement = path.parent()?;
    let is_module_path = match statement.kind() {
        "import_from_statement" => statement.child_by_field_name("module_name")?.id() == path.id(),
        "import_statement" => true,
        "aliased_import" => statement.parent()?.kind() == "import_statement",
        _ => false,
    };
    is_module_path
        .then(|| String::from_utf8_lossy(&src[path.start_byte()..node.end_byte()]).into_owned())
}

/// What resolving a use depends on: its file, qualifier, kind and enclosing symbol (the name is
/// the same for all uses of one query).
type UseKey<'a> = (FileRef, Option<&'a str>, RefKind, Option<u32>);

/// Member accesses of the languages: (node kind, receiver field, member field).
const MEMBER_ACCESS: &[(&str, &str, &str)] = &[
    ("attribute", "object", "attribute"),
    ("member_expression", "object", "property"),
    // Rust's field_expression names its receiver `value`, C's and C++'s `argument`.
    ("field_expression", "value", "field"),
    ("field_expression", "argument", "field"),
    ("scoped_identifier", "path", "name"),
    ("scoped_type_identifier", "path", "name"),
    ("selector_expression", "operand", "field"),
    ("qualified_type", "package", "name"),
    ("field_access", "object", "field"),
    ("method_invocation", "object", "name"),
    ("member_access_expression", "expression", "name"),
    ("qualified_identifier", "scope", "name"),
    ("call", "receiver", "method"),
    ("scope_resolution", "scope", "name"),
];

/// The receiver's text when `node` is the member of a member access (`x` in `a.x`, `a::x`).
fn receiver_of(node: &tree_sitter::Node<'_>, src: &[u8]) -> Option<String> {
    let parent = node.parent()?;
    let receiver = MEMBER_ACCESS
        .iter()
        .filter(|(kind, _, _)| *kind == parent.kind())
        .find_map(|(_, receiver, member)| {
            (parent.child_by_field_name(member)?.id() == node.id())
                .then(|| parent.child_by_field_name(receiver))?
        })?;
    Some(String::from_utf8_lossy(&src[receiver.byte_range()]).into_owned())
}

/// A compiled fuzzy query. Scores: exact beats case-insensitive equal beats prefix beats word
/// starts (`fb` → `foo_bar`, `FooBar`) beats substring beats subsequence; `None` when the query's
/// characters do not all appear in order. Names that do not match cost no allocation.
pub struct Fuzzy {
    query: String,
    /// The query, case-folded.
    folded: Vec<char>,
}

fn fold(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

impl Fuzzy {
    pub fn new(query: &str) -> Fuzzy {
        Fuzzy {
            query: query.to_owned(),
            folded: query.chars().map(fold).collect(),
        }
    }

    pub fn score(&self, name: &str) -> Option<i64> {
        if self.folded.is_empty() {
            return Some(0);
        }
        if name == self.query {
            return Some(1000);
        }
        // Identifiers are nearly always ASCII: index their bytes; other names pay for a copy.
        if name.is_ascii() {
            let b = name.as_bytes();
            self.score_units(b.len(), |i| b[i] as char)
        } else {
            let chars: Vec<char> = name.chars().collect();
            self.score_units(chars.len(), |i| chars[i])
        }
    }

    /// Scores a name of `n` characters, `at(i)` being the `i`th.
    fn score_units(&self, n: usize, at: impl Fn(usize) -> char) -> Option<i64> {
        let q = &self.folded;
        // A subsequence (the weakest match) or nothing: most names stop here.
        let mut gaps = 0i64;
        let mut i = 0;
        for &c in q {
            let start = i;
            while i < n && fold(at(i)) != c {
                i += 1;
            }
            if i == n {
                return None;
            }
            gaps += (i - start) as i64;
            i += 1;
        }
        let matches_at = |from: usize| (0..q.len()).all(|j| fold(at(from + j)) == q[j]);
        if matches_at(0) {
            return Some(if n == q.len() {
                900
            } else {
                800 - (n - q.len()) as i64
            });
        }
        // The first word starts spell the query (`fb` → `foo_bar`).
        let (mut starts, mut matched) = (0usize, 0usize);
        let mut prev: Option<char> = None;
        for i in 0..n {
            let c = at(i);
            if is_word_start(prev, c) {
                if matched == starts && matched < q.len() && fold(c) == q[matched] {
                    matched += 1;
                }
                starts += 1;
            }
            prev = Some(c);
        }
        if matched == q.len() {
            return Some(600 - (starts - q.len()) as i64);
        }
        if let Some(at) = (1..=n - q.len()).find(|&i| matches_at(i)) {
            return Some(500 - at as i64);
        }
        Some(300 - gaps.min(250))
    }
}

/// Whether `c` starts a word of an identifier (`fooBar_baz`: `f`, `B`, `b`), given the character
/// before it.
fn is_word_start(prev: Option<char>, c: char) -> bool {
    match prev {
        None => c.is_alphanumeric(),
        Some(p) => {
            (c.is_uppercase() && !p.is_uppercase()) || (!p.is_alphanumeric() && c.is_alphanumeric())
        }
    }
}

/// Of `locations` (sorted), the index of the macro definition in effect at `at` in `file`, whose
/// text is `src`, when the file took an earlier one back (`#define FN(X) X ## Literal` ... `#undef
/// FN`, `#define FN(X) X ## Command`): the first `#define` after the last `#undef name` above the
/// use. Otherwise the order stays (between an `#if`'s alternatives their conditions decide, and
/// the nearest is no likelier than the first).
fn macro_in_effect(
    locations: &[Location],
    macros: &HashMap<Location, SymRef>,
    file: FileRef,
    src: &[u8],
    name: &str,
    at: Pos,
) -> Option<usize> {
    if !macros.keys().any(|l| l.file == file && l.span.start < at) {
        return None;
    }
    let undone = src
        .split(|&b| b == b'\n')
        .take(at.line as usize)
        .enumerate()
        .filter(|(_, line)| undefines(line, name))
        .map(|(i, _)| i as u32)
        .last()?;
    locations.iter().position(|l| {
        macros.contains_key(l) && l.file == file && l.span.start.line > undone && l.span.start < at
    })
}

/// Whether `line` is `#undef name`.
fn undefines(line: &[u8], name: &str) -> bool {
    let line = String::from_utf8_lossy(line);
    let Some(rest) = line.trim_start().strip_prefix('#') else {
        return false;
    };
    let Some(rest) = rest.trim_start().strip_prefix("undef") else {
        return false;
    };
    rest.starts_with([' ', '\t'])
        && rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .find(|w| !w.is_empty())
            == Some(name)
}

/// A C struct as its fields know it: by its tag (their owner), or an anonymous one by the typedef
/// around it.
enum CStruct {
    Tag(String),
    Anonymous(SymRef),
}

/// The type name a C declaration whose name starts at `byte` is declared with: `State` of `State*
/// s`, `Dict` of `struct Dict d` (a parameter, a local or a field).
fn c_declared_type(tree: &Tree, src: &[u8], byte: usize) -> Option<String> {
    let mut n = tree.root_node().descendant_for_byte_range(byte, byte)?;
    while !matches!(
        n.kind(),
        "parameter_declaration" | "declaration" | "field_declaration"
    ) {
        n = n.parent()?;
    }
    let ty = n
        .child_by_field_name("type")
        .or_else(|| crate::extract::c_type_as_identifier(n))?;
    let ty = match ty.kind() {
        "struct_specifier" | "union_specifier" => ty.child_by_field_name("name")?,
        "type_identifier" | "identifier" => ty,
        _ => return None,
    };
    Some(String::from_utf8_lossy(&src[ty.byte_range()]).into_owned())
}

/// The type name of a C declaration's text (`const Params* p;` → `Params`): its first word that is
/// not a qualifier, a storage class or `struct`.
fn c_type_in_declaration(declaration: &str) -> Option<String> {
    declaration
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .find(|w| {
            !w.is_empty()
                && !matches!(
                    *w,
                    "const"
                        | "volatile"
                        | "static"
                        | "extern"
                        | "register"
                        | "struct"
                        | "union"
                        | "typedef"
                )
        })
        .map(str::to_owned)
}

fn byte_span(src: &[u8], start: usize, end: usize) -> Span {
    Span {
        start: pos_of(src, start),
        end: pos_of(src, end),
    }
}

/// The line and byte column of a byte offset.
pub fn pos_of(src: &[u8], byte: usize) -> Pos {
    let byte = byte.min(src.len());
    let line_start = src[..byte]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = src[..line_start].iter().filter(|b| **b == b'\n').count();
    Pos {
        line: line as u32,
        col: (byte - line_start) as u32,
    }
}

fn line_of(src: &[u8], byte: usize) -> String {
    let start = src[..byte.min(src.len())]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let end = src[start..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(src.len(), |i| start + i);
    String::from_utf8_lossy(&src[start..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::Fuzzy;

    #[test]
    fn fuzzy_ranks_exact_prefix_word_starts_substring_subsequence() {
        let f = Fuzzy::new("fb");
        let scores: Vec<Option<i64>> =
            ["fb", "FB", "fbx", "foo_bar", "FooBar", "xfbx", "fxxb", "bf"]
                .iter()
                .map(|n| f.score(n))
                .collect();
        assert_eq!(scores[0], Some(1000), "exact");
        assert_eq!(scores[1], Some(900), "equal but for case");
        assert_eq!(scores[2], Some(799), "prefix, one character more");
        assert_eq!(scores[3], Some(600), "word starts");
        assert_eq!(scores[4], Some(600), "word starts, camel case");
        assert_eq!(scores[5], Some(499), "substring at 1");
        assert_eq!(scores[6], Some(298), "subsequence with two skipped");
        assert_eq!(scores[7], None, "out of order");
        assert_eq!(Fuzzy::new("").score("anything"), Some(0));
        assert_eq!(Fuzzy::new("grtr").score("Greeter"), Some(297));
        assert_eq!(
            Fuzzy::new("é").score("CAFÉ"),
            Some(497),
            "non-ASCII folds too"
        );
    }
}
