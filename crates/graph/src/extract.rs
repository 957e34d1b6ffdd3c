//! Extraction: a pure function from (language, bytes) to [`FileFacts`], driven by the language's
//! `tags.scm` and `locals.scm`.
//!
//! Capture vocabulary of `tags.scm` (the tree-sitter tags conventions plus our own):
//! `@definition.<kind>` with `@name` (and optional `@receiver` for Go methods, `@doc`);
//! `@reference.<kind>` with `@name` and optional `@qualifier`; `@reference.import` with `@module`,
//! optional `@name` and `@alias`; `@ignore` for identifiers that are neither (keyword arguments,
//! labels). A catch-all `(identifier) @name @reference.read` per language collects plain uses; uses
//! of local variables are dropped with the help of `locals.scm`.

use crate::facts::{FileFacts, Import, Pos, RefKind, Reference, Span, Symbol, SymbolKind};
use crate::grammar::{Grammar, Role};
use crate::lang::Lang;
use crate::name::Name;
use crate::scope::Locals;
use std::collections::HashMap;
use std::sync::Arc;
use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, Parser, QueryCursor, Tree};

/// A file's facts together with its local scopes (for answering queries on that file).
pub struct Analysis {
    /// Shared, so that a question can put them in a view without copying them.
    pub facts: Arc<FileFacts>,
    pub locals: Locals,
}

/// Extracts the facts of one file. Never fails: a file with syntax errors yields the facts of its
/// valid parts and counts the errors.
pub fn extract(lang: Lang, src: &[u8]) -> FileFacts {
    match parse(lang, src, None) {
        Some(tree) => {
            let mut facts = extract_tree(lang, &tree, src);
            facts.shrink_to_fit();
            facts
        }
        None => FileFacts::empty(lang),
    }
}

/// Parses `src`, reusing `old` (edited to match) for an incremental parse.
pub fn parse(lang: Lang, src: &[u8], old: Option<&Tree>) -> Option<Tree> {
    thread_local! {
        static PARSERS: std::cell::RefCell<HashMap<Lang, Parser>> = std::cell::RefCell::new(HashMap::new());
    }
    PARSERS.with(|parsers| {
        let mut parsers = parsers.borrow_mut();
        let parser = parsers.entry(lang).or_insert_with(|| {
            let mut p = Parser::new();
            p.set_language(&lang.grammar().language)
                .expect("grammar ABI checked by tests");
            p
        });
        let tree = parser.parse(src, old);
        if src.len() > KEEP_PARSER_BELOW {
            // A parser keeps the stack it grew: 125 MB after 1 MB of one-line definitions.
            parsers.remove(&lang);
        }
        tree
    })
}

/// Sources up to this size leave their thread's parser for the next one; larger ones free it.
const KEEP_PARSER_BELOW: usize = 256 << 10;

/// Extracts the facts of an already parsed file.
pub fn extract_tree(lang: Lang, tree: &Tree, src: &[u8]) -> FileFacts {
    Arc::into_inner(analyze(lang, tree, src).facts).expect("facts not shared yet")
}

/// Extracts the facts of an already parsed file and keeps its local scopes.
pub fn analyze(lang: Lang, tree: &Tree, src: &[u8]) -> Analysis {
    let grammar = lang.grammar();
    let root = tree.root_node();
    let mut raw = Raw::default();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(&grammar.query, root, src);
    while let Some(m) = matches.next() {
        raw.add_match(grammar, m.captures(), src);
    }
    finish(lang, root, raw, src)
}

/// What one extraction found, kept per unit of the text (a top-level item with the comments and
/// attributes before it) so that the next extraction of an edited text queries only the units
/// that changed: see [`analyze_incremental`].
#[derive(Clone)]
pub struct Units {
    list: Vec<Unit>,
}

#[derive(Clone)]
struct Unit {
    start: usize,
    end: usize,
    /// Where the unit starts: its results are kept in absolute positions, and moved by the bytes
    /// and lines that the text before it gained or lost.
    row: usize,
    col: usize,
    raw: Raw,
}

/// How an incremental extraction went, for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reuse {
    /// Units whose results were kept.
    pub kept: usize,
    /// Units queried again.
    pub queried: usize,
    /// Whether the whole text was queried (first extraction, many units changed, or a match the
    /// cut into units cannot own).
    pub full: bool,
}

/// Above this share of changed units, one query over the whole text costs less than one per
/// unit (each walks the root's children up to its own).
const MAX_DIRTY_SHARE: usize = 4;

/// The extraction before an edit, for [`analyze_incremental`].
pub struct Previous<'a> {
    /// The text before the edit.
    pub text: &'a [u8],
    /// Its tree, with the edits given to it (`Tree::edit`): its nodes are where the edits
    /// moved them, which tells which unit of the new text was which unit of the old one.
    pub tree: &'a Tree,
    pub units: Units,
}

/// [`analyze`] for a text edited since an earlier extraction. Facts and locals are the same as
/// [`analyze`]'s; the units are for the next edit (`None` when the text cannot be cut so that
/// every match belongs to one unit).
pub fn analyze_incremental(
    lang: Lang,
    tree: &Tree,
    src: &[u8],
    previous: Option<Previous<'_>>,
) -> (Analysis, Option<Units>, Reuse) {
    let grammar = lang.grammar();
    let root = tree.root_node();
    let (cut, children) = cut(root);
    let mut raws: Vec<Option<Raw>> = (0..cut.len()).map(|_| None).collect();
    let mut reuse = Reuse::default();
    if let Some(previous) = previous {
        // The old units where the edits moved them, in the same order as `previous.units`.
        let (moved, _) = self::cut(previous.tree.root_node());
        if moved.len() == previous.units.list.len() {
            let changed: Vec<tree_sitter::Range> = previous.tree.changed_ranges(tree).collect();
            let by_place: HashMap<(usize, usize), usize> = moved
                .iter()
                .enumerate()
                .map(|(j, m)| ((m.start, m.end), j))
                .collect();
            let mut old: Vec<Option<Unit>> = previous.units.list.into_iter().map(Some).collect();
            for (i, u) in cut.iter().enumerate() {
                // Reused only when it is the same node, moved, with its text and structure
                // unchanged: equal text elsewhere may have parsed otherwise (error recovery).
                let Some(&j) = by_place.get(&(u.start, u.end)) else {
                    continue;
                };
                let touched = changed
                    .iter()
                    .any(|r| r.start_byte <= u.end && u.start <= r.end_byte);
                // Nor a unit with a syntax error: how a text recovers from one may change with
                // text elsewhere without `changed_ranges` saying so.
                let broken = children[u.children.clone()].iter().any(|c| c.has_error());
                let Some(mut kept) = old[j].take_if(|k| {
                    !touched
                        && !broken
                        && k.col == u.col
                        && previous.text.get(k.start..k.end) == Some(&src[u.start..u.end])
                }) else {
                    continue;
                };
                kept.raw.shift(
                    u.start as isize - kept.start as isize,
                    u.row as isize - kept.row as isize,
                );
                raws[i] = Some(kept.raw);
            }
        }
    }
    let dirty: Vec<usize> = (0..cut.len()).filter(|&i| raws[i].is_none()).collect();
    reuse.kept = cut.len() - dirty.len();
    let mut spanning = Raw::default();
    let mut whole = dirty.len() * MAX_DIRTY_SHARE > cut.len() || reuse.kept == 0;
    let mut cursor = QueryCursor::new();
    if !whole {
        'units: for &i in &dirty {
            let mut raw = Raw::default();
            for &child in &children[cut[i].children.clone()] {
                // A query from the item leaves out a zero-width node at its end (a missing
                // name): an item with one (a syntax error) is queried from the root, over its
                // bytes and one more each side, which costs a walk over the items before it.
                let from = if child.has_error() {
                    cursor
                        .set_byte_range(child.start_byte().saturating_sub(1)..child.end_byte() + 1);
                    root
                } else {
                    cursor.set_byte_range(0..usize::MAX);
                    child
                };
                let mut matches = cursor.matches(&grammar.item_query, from, src);
                while let Some(m) = matches.next() {
                    match owner(&cut, &children, root, m.captures()) {
                        Some(j) if j == i => raw.add_match(grammar, m.captures(), src),
                        // From the root, another item's match (it has its own results).
                        Some(_) if from == root => {}
                        _ => {
                            whole = true;
                            break 'units;
                        }
                    }
                }
            }
            raws[i] = Some(raw);
        }
        reuse.queried = dirty.len();
    }
    let mut incremental = true;
    if whole {
        reuse = Reuse {
            kept: 0,
            queried: cut.len(),
            full: true,
        };
        raws = (0..cut.len()).map(|_| Some(Raw::default())).collect();
        cursor.set_byte_range(0..usize::MAX);
        let mut matches = cursor.matches(&grammar.item_query, root, src);
        while let Some(m) = matches.next() {
            match owner(&cut, &children, root, m.captures()) {
                Some(i) => raws[i].as_mut().expect("every unit has results").add_match(
                    grammar,
                    m.captures(),
                    src,
                ),
                None => {
                    incremental = false;
                    spanning.add_match(grammar, m.captures(), src);
                }
            }
        }
    }
    // The patterns that start at the root see every item: queried every time, never kept.
    cursor.set_byte_range(0..usize::MAX);
    cursor.set_max_start_depth(Some(0));
    let mut matches = cursor.matches(&grammar.root_query, root, src);
    while let Some(m) = matches.next() {
        spanning.add_match(grammar, m.captures(), src);
    }
    let mut merged = Raw::default();
    let raws: Vec<Raw> = raws
        .into_iter()
        .map(|r| r.expect("every unit has results"))
        .collect();
    for r in &raws {
        merged.append(r);
    }
    merged.append(&spanning);
    let units = incremental.then(|| Units {
        list: cut
            .iter()
            .zip(raws)
            .map(|(c, raw)| Unit {
                start: c.start,
                end: c.end,
                row: c.row,
                col: c.col,
                raw,
            })
            .collect(),
    });
    (finish(lang, root, merged, src), units, reuse)
}

/// A unit's place in the text.
struct UnitSpan {
    start: usize,
    end: usize,
    row: usize,
    col: usize,
    /// Its nodes, among the root's children.
    children: std::ops::Range<usize>,
}

/// Cuts a text into units: spans of the root's children, each ending at a named child that is
/// not a comment, an attribute or a decorator (those belong to the item after them: its doc).
/// Returns them with the root's children.
fn cut(root: Node<'_>) -> (Vec<UnitSpan>, Vec<Node<'_>>) {
    let mut walk = root.walk();
    let children: Vec<Node<'_>> = root.children(&mut walk).collect();
    let mut out = Vec::with_capacity(children.len());
    let mut first = 0;
    for (i, child) in children.iter().enumerate() {
        let leads = !child.is_named()
            || child.kind().contains("comment")
            || matches!(child.kind(), "attribute_item" | "decorator");
        if !leads || i + 1 == children.len() {
            let at = children[first].start_position();
            out.push(UnitSpan {
                start: children[first].start_byte(),
                end: child.end_byte(),
                row: at.row,
                col: at.column,
                children: first..i + 1,
            });
            first = i + 1;
        }
    }
    (out, children)
}

/// The unit every capture of a match lies in; `None` for a match that spans units or captures
/// the root.
fn owner(
    cut: &[UnitSpan],
    children: &[Node<'_>],
    root: Node<'_>,
    captures: &[tree_sitter::QueryCapture<'_>],
) -> Option<usize> {
    let lo = captures.iter().map(|c| c.node.start_byte()).min()?;
    let hi = captures.iter().map(|c| c.node.end_byte()).max()?;
    if captures.iter().any(|c| c.node.id() == root.id()) {
        return None;
    }
    if lo == hi {
        // Zero-width (a missing name) where one unit may end and the next begin: the unit of
        // the root's child it is in.
        let child = root.child_with_descendant(captures[0].node)?;
        let from = children.partition_point(|c| c.start_byte() < child.start_byte());
        let at = from + children[from..].iter().position(|c| c.id() == child.id())?;
        let i = cut.partition_point(|u| u.children.end <= at);
        return (i < cut.len()).then_some(i);
    }
    // The first unit ending at or after the match's end.
    let i = cut.partition_point(|u| u.end < hi);
    (cut.get(i)?.start <= lo).then_some(i)
}

/// The file-wide passes over a text's query results.
fn finish(lang: Lang, root: Node<'_>, mut raw: Raw, src: &[u8]) -> Analysis {
    let locals = Locals::build(
        src.len(),
        std::mem::take(&mut raw.scopes),
        std::mem::take(&mut raw.local_defs),
    );
    let symbols = raw.symbols(lang, src);
    let references = raw.references(&symbols, &locals, src);
    let facts = FileFacts {
        lang,
        symbols,
        references,
        imports: raw.imports,
        parse_errors: count_errors(root),
        non_ascii_lines: crate::facts::non_ascii_lines(src),
    };
    Analysis {
        facts: Arc::new(facts),
        locals,
    }
}

#[derive(Default, Clone)]
struct Raw {
    symbols: Vec<RawSymbol>,
    references: Vec<RawRef>,
    imports: Vec<Import>,
    /// Byte ranges of import statements and `@ignore` captures: plain uses inside are not uses.
    import_ranges: Vec<(usize, usize)>,
    ignored: Vec<(usize, usize)>,
    /// Modules of import references, by the name's start byte.
    import_refs: Vec<(usize, String)>,
    /// `locals.scm` captures.
    scopes: Vec<(usize, usize)>,
    local_defs: Vec<(usize, usize, String)>,
}

#[derive(Clone)]
struct RawSymbol {
    symbol: Symbol,
    name_byte: usize,
}

/// A reference before filtering: text is read only for the ones kept.
#[derive(Clone, Copy)]
struct RawRef {
    kind: RefKind,
    start_byte: usize,
    end_byte: usize,
    span: Span,
    qualifier: Option<(usize, usize)>,
}

fn text(node: Node<'_>, src: &[u8]) -> String {
    String::from_utf8_lossy(&src[node.byte_range()]).into_owned()
}

pub(crate) fn span(node: Node<'_>) -> Span {
    let (s, e) = (node.start_position(), node.end_position());
    Span {
        start: Pos {
            line: s.row as u32,
            col: s.column as u32,
        },
        end: Pos {
            line: e.row as u32,
            col: e.column as u32,
        },
    }
}

/// A qualifier as one short line: `self`, `os.path`, `a::b`.
fn one_line(bytes: &[u8]) -> String {
    let t = String::from_utf8_lossy(bytes);
    let mut out: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.len() > 100 {
        let cut = (0..=100)
            .rev()
            .find(|i| out.is_char_boundary(*i))
            .unwrap_or(0);
        out.truncate(cut);
    }
    out
}

fn unquote(s: &str) -> String {
    s.trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_owned()
}

impl Raw {
    /// Moves every position by `bytes` and `rows` (a unit whose text did not change, after the
    /// text before it did). Columns stay: a unit starting on the same column keeps them.
    fn shift(&mut self, bytes: isize, rows: isize) {
        if bytes == 0 && rows == 0 {
            return;
        }
        let b = |at: &mut usize| *at = at.wrapping_add_signed(bytes);
        let line = |at: &mut u32| *at = (*at as isize + rows) as u32;
        let span = |s: &mut Span| {
            line(&mut s.start.line);
            line(&mut s.end.line);
        };
        for s in &mut self.symbols {
            span(&mut s.symbol.span);
            span(&mut s.symbol.name_span);
            b(&mut s.name_byte);
        }
        for r in &mut self.references {
            b(&mut r.start_byte);
            b(&mut r.end_byte);
            span(&mut r.span);
            if let Some((s, e)) = &mut r.qualifier {
                b(s);
                b(e);
            }
        }
        for i in &mut self.imports {
            line(&mut i.line);
        }
        for (s, e) in self
            .import_ranges
            .iter_mut()
            .chain(&mut self.ignored)
            .chain(&mut self.scopes)
        {
            b(s);
            b(e);
        }
        for (at, _) in &mut self.import_refs {
            b(at);
        }
        for (s, e, _) in &mut self.local_defs {
            b(s);
            b(e);
        }
    }

    fn append(&mut self, other: &Raw) {
        self.symbols.extend_from_slice(&other.symbols);
        self.references.extend_from_slice(&other.references);
        self.imports.extend_from_slice(&other.imports);
        self.import_ranges.extend_from_slice(&other.import_ranges);
        self.ignored.extend_from_slice(&other.ignored);
        self.import_refs.extend_from_slice(&other.import_refs);
        self.scopes.extend_from_slice(&other.scopes);
        self.local_defs.extend_from_slice(&other.local_defs);
    }

    fn add_match(
        &mut self,
        grammar: &Grammar,
        captures: &[tree_sitter::QueryCapture<'_>],
        src: &[u8],
    ) {
        let mut role = None;
        let (mut name, mut qualifier, mut module, mut alias, mut receiver, mut doc) =
            (None, None, None, None, None, Vec::new());
        for c in captures {
            match grammar.roles[c.index as usize] {
                r @ (Role::Definition(_) | Role::Reference(_) | Role::Import) => {
                    role = Some((r, c.node))
                }
                Role::Name => name = Some(c.node),
                Role::Qualifier => qualifier = Some(c.node),
                Role::Module => module = Some(c.node),
                Role::Alias => alias = Some(c.node),
                Role::Receiver => receiver = Some(c.node),
                Role::Doc => doc.push(c.node),
                Role::Ignore => self.ignored.push((c.node.start_byte(), c.node.end_byte())),
                Role::LocalScope => self.scopes.push((c.node.start_byte(), c.node.end_byte())),
                Role::LocalDefinition => {
                    if matches!(grammar.lang, Lang::C | Lang::Cpp) && c_macro_before_name(c.node) {
                        continue;
                    }
                    let name = String::from_utf8_lossy(&src[c.node.byte_range()]).into_owned();
                    self.local_defs
                        .push((c.node.start_byte(), c.node.end_byte(), name));
                }
                Role::MacroBody => self.macro_body(c.node, src),
                Role::Other => {}
            }
        }
        let Some((role, node)) = role else { return };
        match role {
            Role::Definition(kind) => {
                let Some(name) = name else { return };
                if kind == SymbolKind::Variable
                    && matches!(grammar.lang, Lang::C | Lang::Cpp)
                    && !c_global_definition(node, src)
                {
                    return;
                }
                let doc = if doc.is_empty() {
                    doc_of(grammar.lang, node, src)
                } else {
                    clean_comments(&doc, src)
                };
                self.symbols.push(RawSymbol {
                    symbol: Symbol {
                        name: Name::new(&text(name, src)),
                        kind,
                        span: span(node),
                        name_span: span(name),
                        container: None,
                        owner: receiver.map(|r| Name::new(&text(r, src))),
                        signature: if kind == SymbolKind::Macro
                            && matches!(grammar.lang, Lang::C | Lang::Cpp)
                            && let Some(guard) = c_guard(node, src)
                        {
                            format!("{} /* #if {guard} */", signature_of(node, src)).into()
                        } else {
                            signature_of(node, src).into()
                        },
                        doc: doc.into(),
                    },
                    name_byte: name.start_byte(),
                });
            }
            Role::Reference(kind) => {
                let Some(name) = name else { return };
                let kind = if kind == RefKind::Read
                    && matches!(grammar.lang, Lang::C | Lang::Cpp)
                    && c_type_read_as_identifier(name)
                {
                    RefKind::Type
                } else {
                    kind
                };
                self.references.push(RawRef {
                    kind,
                    start_byte: name.start_byte(),
                    end_byte: name.end_byte(),
                    span: span(name),
                    qualifier: qualifier.map(|q| (q.start_byte(), q.end_byte())),
                });
            }
            Role::Import => {
                self.import_ranges
                    .push((node.start_byte(), node.end_byte()));
                let Some(module) = module else { return };
                if grammar.lang == Lang::Rust {
                    self.add_rust_use(module, String::new(), src);
                    return;
                }
                let module_text = unquote(&text(module, src));
                let line = node.start_position().row as u32;
                if let Some(name) = name {
                    self.import_ref(name, &module_text, src);
                }
                self.imports.push(Import {
                    module: module_text,
                    name: name.map(|n| text(n, src)),
                    alias: alias.map(|a| text(a, src)),
                    line,
                });
            }
            _ => {}
        }
    }

    /// The identifiers of a macro's replacement text (`body`, a `preproc_arg`) as uses: not its
    /// parameters, keywords, names pasted or stringified (`#x`, `a##b`), members after `.` or
    /// `->`, or what is in comments, strings and characters.
    fn macro_body(&mut self, body: Node<'_>, src: &[u8]) {
        let params: Vec<&[u8]> = body
            .parent()
            .and_then(|def| def.child_by_field_name("parameters"))
            .map(|p| {
                let mut cursor = p.walk();
                p.named_children(&mut cursor)
                    .filter(|n| n.kind() == "identifier")
                    .map(|n| &src[n.byte_range()])
                    .collect()
            })
            .unwrap_or_default();
        let start = body.start_byte();
        let text = &src[body.byte_range()];
        let (mut line, mut col) = (
            body.start_position().row as u32,
            body.start_position().column as u32,
        );
        let mut i = 0;
        // The last token's last character, for `.`, `->`, `#` before a name.
        let mut before: u8 = b' ';
        while i < text.len() {
            let b = text[i];
            let advance = |n: usize, line: &mut u32, col: &mut u32| {
                for &c in &text[i..(i + n).min(text.len())] {
                    if c == b'\n' {
                        *line += 1;
                        *col = 0;
                    } else {
                        *col += 1;
                    }
                }
            };
            let skip = if b == b'/' && text.get(i + 1) == Some(&b'/') {
                text[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .unwrap_or(text.len() - i)
            } else if b == b'/' && text.get(i + 1) == Some(&b'*') {
                text[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(text.len() - i, |p| p + 4)
            } else if b == b'"' || b == b'\'' {
                let mut j = i + 1;
                while j < text.len() && text[j] != b {
                    j += if text[j] == b'\\' { 2 } else { 1 };
                }
                (j + 1).min(text.len()) - i
            } else if b.is_ascii_alphanumeric() || b == b'_' {
                let n = text[i..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .unwrap_or(text.len() - i);
                let word = &text[i..i + n];
                let after = text[i + n..].iter().find(|c| !c.is_ascii_whitespace());
                let member = before == b'.'
                    || (before == b'>' && i >= 2 && text[..i].trim_ascii_end().ends_with(b"->"));
                let pasted = before == b'#' || after == Some(&b'#');
                if !b.is_ascii_digit()
                    && !member
                    && !pasted
                    && !params.contains(&word)
                    && !C_WORDS.contains(&word)
                {
                    self.references.push(RawRef {
                        kind: if after == Some(&b'(') {
                            RefKind::Call
                        } else {
                            RefKind::Read
                        },
                        start_byte: start + i,
                        end_byte: start + i + n,
                        span: Span {
                            start: Pos { line, col },
                            end: Pos {
                                line,
                                col: col + n as u32,
                            },
                        },
                        qualifier: None,
                    });
                }
                n
            } else {
                1
            };
            if !b.is_ascii_whitespace() && b != b'\\' {
                before = text[i + skip - 1];
            }
            advance(skip, &mut line, &mut col);
            i += skip;
        }
    }

    /// The imported name is a use of what it names; its qualifier is the module.
    fn import_ref(&mut self, name: Node<'_>, module: &str, src: &[u8]) {
        if &src[name.byte_range()] == b"*" {
            return;
        }
        self.import_refs
            .push((name.start_byte(), module.to_owned()));
        self.references.push(RawRef {
            kind: RefKind::Import,
            start_byte: name.start_byte(),
            end_byte: name.end_byte(),
            span: span(name),
            qualifier: None,
        });
    }

    /// Expands a Rust use tree (`a::{b::c, d as e, *}`) into imports.
    fn add_rust_use(&mut self, node: Node<'_>, prefix: String, src: &[u8]) {
        let join = |prefix: &str, path: &str| {
            if prefix.is_empty() {
                path.to_owned()
            } else if path.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}::{path}")
            }
        };
        let line = node.start_position().row as u32;
        match node.kind() {
            "scoped_identifier" => {
                let path = node
                    .child_by_field_name("path")
                    .map(|p| text(p, src))
                    .unwrap_or_default();
                let Some(name) = node.child_by_field_name("name") else {
                    return;
                };
                let module = join(&prefix, &path);
                self.import_ref(name, &module, src);
                self.imports.push(Import {
                    module,
                    name: Some(text(name, src)),
                    alias: None,
                    line,
                });
            }
            "identifier" | "crate" | "self" | "super" => {
                let name = text(node, src);
                if prefix.is_empty() {
                    self.imports.push(Import {
                        module: name,
                        name: None,
                        alias: None,
                        line,
                    });
                } else if name == "self" {
                    self.imports.push(Import {
                        module: prefix,
                        name: None,
                        alias: None,
                        line,
                    });
                } else {
                    self.import_ref(node, &prefix, src);
                    self.imports.push(Import {
                        module: prefix,
                        name: Some(name),
                        alias: None,
                        line,
                    });
                }
            }
            "use_as_clause" => {
                let alias = node.child_by_field_name("alias").map(|a| text(a, src));
                let before = self.imports.len();
                if let Some(path) = node.child_by_field_name("path") {
                    self.add_rust_use(path, prefix, src);
                }
                for import in &mut self.imports[before..] {
                    import.alias.clone_from(&alias);
                }
            }
            "scoped_use_list" => {
                let path = node
                    .child_by_field_name("path")
                    .map(|p| text(p, src))
                    .unwrap_or_default();
                if let Some(list) = node.child_by_field_name("list") {
                    self.add_rust_use(list, join(&prefix, &path), src);
                }
            }
            "use_list" => {
                let mut walk = node.walk();
                for child in node.named_children(&mut walk) {
                    self.add_rust_use(child, prefix.clone(), src);
                }
            }
            "use_wildcard" => {
                let path = node
                    .named_child(0)
                    .map(|p| text(p, src))
                    .unwrap_or_default();
                self.imports.push(Import {
                    module: join(&prefix, &path),
                    name: Some("*".into()),
                    alias: None,
                    line,
                });
            }
            _ => {}
        }
    }

    fn symbols(&mut self, lang: Lang, _src: &[u8]) -> Vec<Symbol> {
        // One symbol per name: the most specific kind wins (`const f = () => {}` is a function).
        let mut by_name: HashMap<usize, usize> = HashMap::new();
        let mut raw: Vec<RawSymbol> = Vec::with_capacity(self.symbols.len());
        for s in self.symbols.drain(..) {
            match by_name.get(&s.name_byte) {
                Some(&i) if kind_rank(raw[i].symbol.kind) >= kind_rank(s.symbol.kind) => {}
                Some(&i) => raw[i] = s,
                None => {
                    by_name.insert(s.name_byte, raw.len());
                    raw.push(s);
                }
            }
        }
        let mut symbols: Vec<Symbol> = raw.into_iter().map(|r| r.symbol).collect();
        symbols.sort_by(|a, b| {
            a.span
                .start
                .cmp(&b.span.start)
                .then(b.span.end.cmp(&a.span.end))
        });
        let mut stack: Vec<usize> = Vec::new();
        for i in 0..symbols.len() {
            while let Some(&top) = stack.last() {
                if symbols[top].span.encloses(&symbols[i].span) {
                    break;
                }
                stack.pop();
            }
            symbols[i].container = stack.last().map(|&c| c as u32);
            stack.push(i);
        }
        for i in 0..symbols.len() {
            let container = symbols[i].container.map(|c| c as usize);
            let s = &symbols[i];
            // `self.x = ...` inside a method defines a field of the class.
            if s.kind == SymbolKind::Field
                && let Some(c) = container
                && symbols[c].kind.is_callable()
            {
                let mut up = symbols[c].container.map(|c| c as usize);
                while let Some(u) = up {
                    if symbols[u].kind.is_type_like() {
                        break;
                    }
                    up = symbols[u].container.map(|c| c as usize);
                }
                symbols[i].container = up.map(|u| u as u32);
            }
            let container = symbols[i].container.map(|c| c as usize);
            let in_type = container.is_some_and(|c| symbols[c].kind.is_type_like());
            if symbols[i].kind == SymbolKind::Function && in_type {
                symbols[i].kind = SymbolKind::Method;
            }
            if symbols[i].kind == SymbolKind::Variable && is_constant_name(&symbols[i].name) {
                symbols[i].kind = SymbolKind::Constant;
            }
            if symbols[i].owner.is_none()
                && let Some(c) = container.filter(|_| in_type)
            {
                symbols[i].owner = Some(symbols[c].name);
            }
        }
        let _ = lang;
        dedup_members(symbols)
    }

    fn references(&mut self, symbols: &[Symbol], locals: &Locals, src: &[u8]) -> Vec<Reference> {
        let definition_names: HashMap<(u32, u32), SymbolKind> = symbols
            .iter()
            .map(|s| ((s.name_span.start.line, s.name_span.start.col), s.kind))
            .collect();
        // One reference per name: the most specific use wins, and of two as specific the one
        // with a qualifier (`Self::Error` over `Error`), whatever order the matches came in.
        let mut raw = std::mem::take(&mut self.references);
        raw.sort_unstable_by(|a, b| {
            a.start_byte
                .cmp(&b.start_byte)
                .then(b.kind.priority().cmp(&a.kind.priority()))
                .then(b.qualifier.is_some().cmp(&a.qualifier.is_some()))
        });
        raw.dedup_by_key(|r| r.start_byte);
        let ignored = Ranges::new(std::mem::take(&mut self.ignored));
        let imports = Ranges::new(std::mem::take(&mut self.import_ranges));
        let import_modules: HashMap<usize, String> =
            std::mem::take(&mut self.import_refs).into_iter().collect();
        let mut out = Vec::with_capacity(raw.len() / 2);
        for r in raw {
            let at = r.start_byte;
            // A definition's own name is not a use of it (but an impl's type is).
            if definition_names
                .get(&(r.span.start.line, r.span.start.col))
                .is_some_and(|k| *k != SymbolKind::Impl)
            {
                continue;
            }
            if r.kind != RefKind::Import && ignored.contains(at) {
                continue;
            }
            if matches!(r.kind, RefKind::Read | RefKind::Type | RefKind::Field)
                && imports.contains(at)
            {
                continue;
            }
            let name_bytes = &src[r.start_byte..r.end_byte];
            let name = String::from_utf8_lossy(name_bytes);
            // Uses of local variables (and type parameters) are not stored.
            let local_candidate = r.qualifier.is_none()
                && matches!(r.kind, RefKind::Read | RefKind::Call | RefKind::Type);
            if local_candidate && locals.resolve(&name, at).is_some() {
                continue;
            }
            let qualifier = match r.kind {
                RefKind::Import => import_modules
                    .get(&at)
                    .filter(|m| !m.is_empty())
                    .map(Name::from),
                _ => r.qualifier.map(|(s, e)| Name::new(&one_line(&src[s..e]))),
            };
            out.push(Reference::new(
                Name::new(&name),
                r.kind,
                r.span,
                qualifier,
                enclosing(symbols, r.span.start),
            ));
        }
        out
    }
}

/// Byte ranges merged into disjoint, sorted intervals, for point queries.
struct Ranges(Vec<(usize, usize)>);

impl Ranges {
    fn new(mut ranges: Vec<(usize, usize)>) -> Ranges {
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        Ranges(merged)
    }

    fn contains(&self, at: usize) -> bool {
        let i = self.0.partition_point(|(s, _)| *s <= at);
        i > 0 && at < self.0[i - 1].1
    }
}

/// The innermost symbol whose span contains `pos` (symbols are sorted by start).
pub fn enclosing(symbols: &[Symbol], pos: Pos) -> Option<u32> {
    let mut i = symbols
        .partition_point(|s| s.span.start <= pos)
        .checked_sub(1)?;
    loop {
        if symbols[i].span.contains(pos) {
            return Some(i as u32);
        }
        i = symbols[i].container? as usize;
    }
}

fn kind_rank(kind: SymbolKind) -> u8 {
    match kind {
        SymbolKind::Variable => 0,
        SymbolKind::Type => 1,
        SymbolKind::Field => 2,
        SymbolKind::Constant => 3,
        _ => 4,
    }
}

fn is_constant_name(name: &str) -> bool {
    name.len() > 1
        && name.chars().any(|c| c.is_ascii_uppercase())
        && !name.chars().any(|c| c.is_lowercase())
}

/// Whether a C or C++ declaration matched as a global is one: not inside a function (a local,
/// or in an `#if` block in a body), not an `extern` declaration (the
/// definition is elsewhere; a header's `extern int x;` would otherwise come before it), and not
/// a misparse (`API_MACRO BOOL_MACRO f(...)` read as a variable `BOOL_MACRO` and a missing `;`).
/// Words of C and C++ a macro's body holds that name nothing of the program.
const C_WORDS: &[&[u8]] = &[
    b"auto",
    b"break",
    b"case",
    b"char",
    b"const",
    b"continue",
    b"default",
    b"do",
    b"double",
    b"else",
    b"enum",
    b"extern",
    b"float",
    b"for",
    b"goto",
    b"if",
    b"inline",
    b"int",
    b"long",
    b"register",
    b"restrict",
    b"return",
    b"short",
    b"signed",
    b"sizeof",
    b"static",
    b"struct",
    b"switch",
    b"typedef",
    b"union",
    b"unsigned",
    b"void",
    b"volatile",
    b"while",
    b"_Bool",
    b"bool",
    b"true",
    b"false",
    b"NULL",
    b"nullptr",
    b"defined",
    b"__VA_ARGS__",
    b"__VA_OPT__",
    b"__FILE__",
    b"__LINE__",
    b"__func__",
    b"class",
    b"namespace",
    b"template",
    b"typename",
    b"this",
    b"new",
    b"delete",
    b"static_cast",
    b"reinterpret_cast",
    b"const_cast",
    b"dynamic_cast",
    b"decltype",
    b"noexcept",
    b"constexpr",
    b"operator",
];

fn c_global_definition(declaration: Node<'_>, src: &[u8]) -> bool {
    if declaration.has_error() {
        return false;
    }
    let mut up = declaration.parent();
    while let Some(n) = up {
        if matches!(n.kind(), "function_definition" | "lambda_expression") {
            return false;
        }
        up = n.parent();
    }
    let mut cursor = declaration.walk();
    let is_extern = declaration
        .children(&mut cursor)
        .any(|c| c.kind() == "storage_class_specifier" && &src[c.byte_range()] == b"extern");
    !is_extern
}

/// Fields assigned in several places (`self.x = ...` in `__init__` and elsewhere) are one field,
/// defined where first assigned.
fn dedup_members(symbols: Vec<Symbol>) -> Vec<Symbol> {
    let mut seen: HashMap<(Option<u32>, Name), usize> = HashMap::new();
    let mut keep = vec![true; symbols.len()];
    for (i, s) in symbols.iter().enumerate() {
        if s.kind != SymbolKind::Field {
            continue;
        }
        match seen.get(&(s.container, s.name)) {
            Some(_) => keep[i] = false,
            None => {
                seen.insert((s.container, s.name), i);
            }
        }
    }
    if keep.iter().all(|k| *k) {
        return symbols;
    }
    let mut remap = vec![None; symbols.len()];
    let mut next = 0u32;
    for (i, k) in keep.iter().enumerate() {
        if *k {
            remap[i] = Some(next);
            next += 1;
        }
    }
    symbols
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep[*i])
        .map(|(_, mut s)| {
            s.container = s.container.and_then(|c| remap[c as usize]);
            s
        })
        .collect()
}

/// Whether `name`, a C parameter's name as the parser read it, is a macro before the real name:
/// in `const int* RESTRICT data` the parser takes `RESTRICT` for the name and leaves `data` in an
/// error right after the parameter (locals.scm makes that the parameter).
fn c_macro_before_name(name: Node<'_>) -> bool {
    let mut n = name;
    while let Some(parent) = n.parent() {
        match parent.kind() {
            "pointer_declarator" | "array_declarator" => n = parent,
            "parameter_declaration" => {
                return parent.next_sibling().is_some_and(|next| {
                    next.is_error()
                        && next.named_child_count() == 1
                        && next
                            .named_child(0)
                            .is_some_and(|c| c.kind() == "identifier")
                });
            }
            _ => return false,
        }
    }
    false
}

/// Whether `name`, an identifier, is a C parameter's type the parser read as a plain identifier.
fn c_type_read_as_identifier(name: Node<'_>) -> bool {
    name.parent().is_some_and(|p| {
        p.kind() == "parameter_declaration" && c_type_as_identifier(p) == Some(name)
    })
}

/// The type of a C declaration as a plain identifier: after a macro the parser could not read
/// (`API void f(alloc_func f)`) it recovers with the parameters' type names so, the first named
/// child of a declaration that has a declarator after it.
pub(crate) fn c_type_as_identifier(declaration: Node<'_>) -> Option<Node<'_>> {
    let first = declaration.named_child(0)?;
    (first.kind() == "identifier" && declaration.named_child_count() > 1).then_some(first)
}

/// The longest guard kept beside a macro's signature.
const MAX_GUARD: usize = 400;

/// The condition under which a C definition inside `#if` / `#ifdef` / `#elif` / `#else` blocks is
/// compiled, as one expression (`(defined(A)) && (!(B > 2))`); what a definition of a macro named
/// twice evaluates (cond.rs). `None` outside any, or when it is longer than [`MAX_GUARD`].
fn c_guard(node: Node<'_>, src: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    let mut child = node;
    while let Some(parent) = child.parent() {
        if is_c_branch(parent)
            && parent.child_by_field_name("alternative") != Some(child)
            && !c_include_guard(parent, src)
        {
            parts.push(c_branch_condition(parent, src)?);
        }
        child = parent;
    }
    let guard = parts
        .iter()
        .rev()
        .map(|p| format!("({p})"))
        .collect::<Vec<_>>()
        .join(" && ");
    (!guard.is_empty() && guard.len() <= MAX_GUARD).then_some(guard)
}

/// Whether `branch` is a header's include guard: `#ifndef X` whose first line defines `X`.
fn c_include_guard(branch: Node<'_>, src: &[u8]) -> bool {
    let name = |n: Node<'_>| n.child_by_field_name("name").map(|n| text(n, src));
    branch.kind() == "preproc_ifdef"
        && branch.child(0).is_some_and(|t| t.kind() == "#ifndef")
        && branch
            .named_child(1)
            .is_some_and(|d| d.kind() == "preproc_def" && name(d) == name(branch))
}

fn is_c_branch(n: Node<'_>) -> bool {
    matches!(
        n.kind(),
        "preproc_if" | "preproc_ifdef" | "preproc_elif" | "preproc_elifdef" | "preproc_else"
    )
}

/// When the code right inside `branch` is compiled: its own condition, and none of the earlier
/// branches' of its chain (`#else` is the alternative of the `#elif` before it, and so on).
fn c_branch_condition(branch: Node<'_>, src: &[u8]) -> Option<String> {
    let mut terms = Vec::new();
    if let Some(own) = c_own_condition(branch, src) {
        terms.push(own);
    }
    let mut b = branch;
    while let Some(earlier) = b
        .parent()
        .filter(|p| is_c_branch(*p) && p.child_by_field_name("alternative") == Some(b))
    {
        terms.push(format!("!({})", c_own_condition(earlier, src)?));
        b = earlier;
    }
    (!terms.is_empty()).then(|| terms.join(" && "))
}

/// A branch's own condition: `#if`'s and `#elif`'s expression (comments and line continuations
/// out), `defined(X)` for `#ifdef X`, `!defined(X)` for `#ifndef X`; `None` for `#else`.
fn c_own_condition(branch: Node<'_>, src: &[u8]) -> Option<String> {
    match branch.kind() {
        "preproc_if" | "preproc_elif" => {
            let condition = branch.child_by_field_name("condition")?;
            // Its text around the comments the tree found in it.
            let mut comments = Vec::new();
            comments_in(condition, &mut comments);
            let mut text = Vec::new();
            let mut at = condition.start_byte();
            for c in comments {
                text.extend_from_slice(&src[at..c.start_byte()]);
                at = c.end_byte();
            }
            text.extend_from_slice(&src[at..condition.end_byte()]);
            Some(
                String::from_utf8_lossy(&text)
                    .replace('\\', " ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        "preproc_ifdef" | "preproc_elifdef" => {
            let name = text(branch.child_by_field_name("name")?, src);
            let negated = branch
                .child(0)
                .is_some_and(|t| matches!(t.kind(), "#ifndef" | "#elifndef"));
            Some(if negated {
                format!("!defined({name})")
            } else {
                format!("defined({name})")
            })
        }
        _ => None,
    }
}

/// The comments under `node`, in order.
fn comments_in<'t>(node: Node<'t>, out: &mut Vec<Node<'t>>) {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if child.kind() == "comment" {
            out.push(child);
        } else {
            comments_in(child, out);
        }
    }
}

/// The head of a definition: its text up to the body, on one line.
fn signature_of(node: Node<'_>, src: &[u8]) -> String {
    let end = match node.child_by_field_name("body") {
        Some(body) => body.start_byte(),
        None => {
            let t = &src[node.byte_range()];
            node.start_byte() + t.iter().position(|b| *b == b'\n').unwrap_or(t.len())
        }
    };
    let raw = String::from_utf8_lossy(&src[node.start_byte()..end.max(node.start_byte())]);
    let mut sig = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    while sig.ends_with(['{', ':', '=']) {
        sig.pop();
        sig.truncate(sig.trim_end().len());
    }
    if sig.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|i| sig.is_char_boundary(*i))
            .unwrap_or(0);
        sig.truncate(cut);
        sig.push('…');
    }
    sig
}

/// The doc of a definition: a Python docstring, or the comments right before it.
fn doc_of(lang: Lang, node: Node<'_>, src: &[u8]) -> String {
    if lang == Lang::Python {
        return python_docstring(node, src);
    }
    // Comments sit before the statement that wraps a declaration (`export function`, `type T ...`).
    let mut anchor = node;
    while let Some(parent) = anchor.parent() {
        let wraps = matches!(
            parent.kind(),
            "export_statement"
                | "type_declaration"
                | "const_declaration"
                | "var_declaration"
                | "lexical_declaration"
                | "variable_declaration"
                | "ambient_declaration"
        );
        if !wraps {
            break;
        }
        anchor = parent;
    }
    let mut comments = Vec::new();
    let mut next_row = anchor.start_position().row;
    let mut prev = anchor.prev_named_sibling();
    while let Some(p) = prev {
        let kind = p.kind();
        if kind == "attribute_item" || kind == "decorator" {
            next_row = p.start_position().row;
            prev = p.prev_named_sibling();
            continue;
        }
        if !kind.contains("comment") || p.end_position().row + 1 < next_row {
            break;
        }
        next_row = p.start_position().row;
        comments.push(p);
        prev = p.prev_named_sibling();
    }
    comments.reverse();
    clean_comments(&comments, src)
}

fn clean_comments(nodes: &[Node<'_>], src: &[u8]) -> String {
    let mut lines = Vec::new();
    for n in nodes {
        for line in text(*n, src).lines() {
            let mut l = line.trim();
            for marker in ["///", "//!", "//", "/**", "/*!", "/*", "#"] {
                if let Some(rest) = l.strip_prefix(marker) {
                    l = rest;
                    break;
                }
            }
            l = l.strip_suffix("*/").unwrap_or(l);
            let l = l.trim_start_matches('*').trim();
            lines.push(l.to_owned());
        }
    }
    cap(lines.join("\n").trim().to_owned())
}

fn python_docstring(node: Node<'_>, src: &[u8]) -> String {
    let Some(first) = node
        .child_by_field_name("body")
        .and_then(|b| b.named_child(0))
    else {
        return String::new();
    };
    if first.kind() != "expression_statement" {
        return String::new();
    }
    let Some(string) = first.named_child(0).filter(|s| s.kind() == "string") else {
        return String::new();
    };
    let raw = text(string, src);
    let body = raw.trim_start_matches(['r', 'R', 'u', 'U', 'b', 'B', 'f', 'F']);
    let body = ["\"\"\"", "'''", "\"", "'"]
        .iter()
        .find_map(|q| body.strip_prefix(q).and_then(|b| b.strip_suffix(q)))
        .unwrap_or(body);
    // Dedent: the first line starts right after the quotes, the rest share an indentation.
    let mut lines = body.lines();
    let first_line = lines.next().unwrap_or("").trim().to_owned();
    let rest: Vec<&str> = lines.collect();
    let indent = rest
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = vec![first_line];
    out.extend(
        rest.iter()
            .map(|l| l.get(indent..).unwrap_or(l.trim()).trim_end().to_owned()),
    );
    cap(out.join("\n").trim().to_owned())
}

fn cap(mut s: String) -> String {
    const MAX: usize = 2000;
    if s.len() > MAX {
        let cut = (0..=MAX)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn count_errors(root: Node<'_>) -> u32 {
    if !root.has_error() {
        return 0;
    }
    let mut count = 0;
    let mut cursor = root.walk();
    let mut descend = true;
    loop {
        let node = cursor.node();
        if descend {
            if node.is_error() || node.is_missing() {
                count += 1;
            }
            if node.has_error() && !node.is_error() && cursor.goto_first_child() {
                continue;
            }
        }
        if cursor.goto_next_sibling() {
            descend = true;
            continue;
        }
        if !cursor.goto_parent() {
            break;
        }
        descend = false;
    }
    count
}
