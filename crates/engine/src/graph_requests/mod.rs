//! The code-graph methods of the daemon RPC: LSP-shaped params in, LSP-shaped answers out. The
//! synchronous part snapshots this session's open documents (reparsing those edited since), so a
//! question sees every edit sent before it; the rest runs on a blocking thread against the
//! workspace's graph with those buffers on top.
//!
//! This module holds what every question shares (the buffers, positions, the graph of a
//! position's file); [`navigation`] answers definitions, references, symbols, calls, lookups,
//! queries and indexing, [`hover`] the hover with memories, [`actions`] the code actions and the
//! context of a delegated task.
//!
//! The code-graph methods (`maestro/graph.*`, `maestro/index`). The synchronous part
//! snapshots the session's open documents, reparsing those edited since, so an answer reflects every
//! edit sent before the question; the rest runs on a blocking thread: the asked file is parsed from its
//! buffer (or read from disk), every buffer of the workspace becomes an overlay, and positions are
//! converted between the client's encoding and bytes. Files asked about without being open (by
//! agents, by the CLI) are parsed from disk and the last 32 parses kept (at most 8 MiB of source
//! between them), checked against size and mtime (`DiskParses`). Work per document is bounded: a
//! buffer or file over `index.max_file_bytes` is kept as text but never parsed (the answer says so:
//! a 50 MB buffer had taken the daemon to 10 GB); an answer holds at most `REPLY_LIMIT` (20,000)
//! locations, symbols or calls, the first in order (the CLI says when it was cut); columns are
//! converted through a per-file line table (`text::Lines`), not a scan from the top per position.
//! Memory freed after large work goes back to the system (`give_back_memory`, glibc's
//! `malloc_trim`, on a blocking thread: after an index pass that parsed, a large document's close,
//! a reply over 4 MiB and the end of a connection that sent over 4 MiB; 1 MB of one-line
//! definitions had left 424 MB resident), and a thread's
//! tree-sitter parser is dropped after a source over 256 KiB (it keeps the stack it grew). A file
//! outside every workspace is answered from itself; a line past the end of the file is `-32602` naming the file and its length; a URI that is
//! neither open nor a file is `-32091`; a document in a language the graph does not know
//! (markdown, TOML, shell) answers empty, as LSP expects, not an error. Answers wait for the workspace's graph to be loaded. During
//! its first index pass, an answer that what is not indexed yet could change waits for the pass
//! (at most 30 s; editors show the pass as progress) and is asked again: a definition or hover
//! found already is given at once, an empty one waits; references, workspace symbols, lookups and
//! call hierarchies wait (a list from half an index would miss the rest); the document's own
//! highlights, outline and call items never wait. On stdlib, 50 of 200 definitions asked as the
//! editor opened a cold workspace came back empty though the finished index resolved them; none do
//! now.

use crate::code_graph::{DiskParse, IndexState, WorkspaceIndex};
use crate::delegate::{CodeContext, ContextSymbol, MAX_CALLERS, MAX_LINES};
use crate::document::Syntax;
use crate::engine::Engine;
use crate::session::{Answer, Session};
use crate::text::{Lines, column_from_bytes, column_to_bytes, line_of, path_to_uri, uri_to_path};
use maestro_graph::query::{Current, Location as GraphLocation, pos_of};
use maestro_graph::resolve::{FileRef, Overlay, SymRef, View};
use maestro_graph::{Pos, Span, SymbolKind, WorkspaceGraph};
use maestro_protocol::{
    CallHierarchyIncomingCall, CallHierarchyItem, CallHierarchyOutgoingCall, CallHierarchyParams,
    CodeAction, CodeActionParams, DocumentHighlight, DocumentSymbol, DocumentSymbolParams,
    GraphQueryParams, GraphQueryResult, HoverResult, IndexParams, IndexResult, Location,
    LspCommand, MarkupContent, Position, PositionEncoding, Range, ReferenceParams, RpcError,
    SkippedFile, SymbolLookupParams, TextDocumentPositionParams, WorkspaceSymbol,
    WorkspaceSymbolParams, code,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod actions;
mod hover;
mod navigation;

pub(crate) use actions::code_actions;
pub(crate) use hover::hover;
use navigation::workspace_symbol;
pub(crate) use navigation::{
    call_prepare, calls_incoming, calls_outgoing, definition, document_symbols, highlight, index,
    lookup, query, references, workspace_symbols,
};

/// How long a question waits for a workspace's graph to load from the store.
const LOAD_WAIT: Duration = Duration::from_secs(60);
/// How long `maestro/index` waits for a workspace's first pass (a large repository, cold).
const FIRST_PASS_WAIT: Duration = Duration::from_secs(3600);
/// How long a question that needs the whole workspace waits for its first index pass.
const FIRST_PASS_ANSWER_WAIT: Duration = Duration::from_secs(30);
/// Most answers of a fuzzy symbol search.
const SYMBOL_LIMIT: usize = 256;
/// The most locations, symbols or calls one answer holds (a generated file of 300k one-line
/// definitions would otherwise answer hundreds of megabytes of JSON); the first ones in order.
pub const REPLY_LIMIT: usize = 20_000;

/// LSP's `SymbolKind` number for a graph symbol kind.
pub fn lsp_symbol_kind(kind: SymbolKind) -> u32 {
    match kind {
        SymbolKind::Module => 2,
        SymbolKind::Class => 5,
        SymbolKind::Method => 6,
        SymbolKind::Field => 8,
        SymbolKind::Enum => 10,
        SymbolKind::Interface | SymbolKind::Trait => 11,
        SymbolKind::Function | SymbolKind::Macro => 12,
        SymbolKind::Variable => 13,
        SymbolKind::Constant => 14,
        SymbolKind::Impl => 19,
        SymbolKind::EnumMember => 22,
        SymbolKind::Struct => 23,
        SymbolKind::Type => 26,
    }
}

/// A session's open documents as they are now.
#[derive(Clone)]
struct Buffers {
    encoding: PositionEncoding,
    /// Path (absolute, or the URI for documents without one) → syntax.
    docs: Vec<(PathBuf, String, Arc<Syntax>)>,
    /// Open documents of a known language left unparsed for their size, with it.
    too_large: Vec<(PathBuf, usize)>,
    /// Open documents in a language the graph does not know (markdown, TOML, shell, ...).
    unknown: Vec<PathBuf>,
    /// `index.max_file_bytes`, for open documents and files read from disk alike.
    max_bytes: u64,
}

impl Buffers {
    /// The open documents under `root` as overlays (paths relative to it), but `except`.
    fn overlays_in(&self, root: &Path, except: Option<&Path>) -> Vec<Overlay> {
        self.docs
            .iter()
            .filter(|(p, _, _)| Some(p.as_path()) != except)
            .filter_map(|(p, _, s)| {
                Some(Overlay {
                    path: p.strip_prefix(root).ok()?.to_path_buf(),
                    facts: s.analysis.facts.clone(),
                })
            })
            .collect()
    }

    /// The URI of a path: the editor's own for an open document (which may not be a file).
    fn uri_of(&self, path: &Path) -> String {
        self.docs
            .iter()
            .find(|(p, _, _)| p == path)
            .map_or_else(|| path_to_uri(path), |(_, uri, _)| uri.clone())
    }

    fn get(&self, path: &Path) -> Option<&Arc<Syntax>> {
        self.docs
            .iter()
            .find(|(p, _, _)| p == path)
            .map(|(_, _, s)| s)
    }
}

/// The file a question is about: where it is and its parse.
struct Asked {
    path: PathBuf,
    syntax: Arc<Syntax>,
}

/// Converts between client positions and graph positions for the files of one answer.
struct Positions<'a> {
    encoding: PositionEncoding,
    root: &'a Path,
    buffers: &'a Buffers,
    /// Texts read for converting columns, once per file of an answer.
    texts: HashMap<PathBuf, Option<Arc<Lines>>>,
}

impl Positions<'_> {
    fn text_of(&mut self, abs: &Path) -> Option<Arc<Lines>> {
        let buffers = self.buffers;
        self.texts
            .entry(abs.to_path_buf())
            .or_insert_with(|| {
                let text = match buffers.get(abs) {
                    Some(s) => String::from_utf8_lossy(&s.text).into_owned(),
                    None => std::fs::read_to_string(abs).ok()?,
                };
                Some(Arc::new(Lines::new(text)))
            })
            .clone()
    }

    fn range(&mut self, view: &View<'_>, file: FileRef, span: Span) -> Range {
        let abs = self.root.join(view.path(file));
        let facts = view.facts(file);
        // Only the lines with non-ASCII bytes need the text.
        let encoding = self.encoding;
        let convert = |line: u32| encoding != PositionEncoding::Utf8 && !facts.line_is_ascii(line);
        let text = if convert(span.start.line) || convert(span.end.line) {
            self.text_of(&abs)
        } else {
            None
        };
        let col = |line: u32, col: u32| match &text {
            Some(t) if convert(line) => column_from_bytes(t.line(line), col, encoding),
            _ => col,
        };
        Range {
            start: Position {
                line: span.start.line,
                character: col(span.start.line, span.start.col),
            },
            end: Position {
                line: span.end.line,
                character: col(span.end.line, span.end.col),
            },
        }
    }

    fn location(&mut self, view: &View<'_>, l: GraphLocation) -> Location {
        let abs = self.root.join(view.path(l.file));
        Location {
            uri: self.buffers.uri_of(&abs),
            range: self.range(view, l.file, l.span),
        }
    }
}

impl Session {
    /// Every open document of this session, parsed as of now.
    fn buffers(&self) -> Buffers {
        let max_bytes = self.engine.config().settings().index.max_file_bytes;
        let mut docs = self.state.documents.lock().unwrap();
        let (mut snapshot, mut too_large, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
        for d in docs.values_mut() {
            let path = uri_to_path(&d.uri).unwrap_or_else(|| PathBuf::from(&d.uri));
            match d.syntax(max_bytes) {
                Some(s) => snapshot.push((path, d.uri.clone(), s)),
                None if d.lang().is_none() => unknown.push(path),
                None if d.len_bytes() as u64 > max_bytes => {
                    too_large.push((path, d.len_bytes()));
                }
                None => {}
            }
        }
        Buffers {
            encoding: self.state.encoding(),
            docs: snapshot,
            too_large,
            unknown,
            max_bytes,
        }
    }

    /// Answers a question about a position of a document from the graph, on a blocking thread.
    /// While the workspace's first index pass runs, an answer `sure` does not accept (an empty
    /// one, where what is not indexed yet could be the answer) waits for the pass, up to
    /// [`FIRST_PASS_ANSWER_WAIT`], and is asked again: never an empty answer that would be
    /// different a moment later. Editors show the pass as progress meanwhile. A document in a
    /// language the graph does not know has nothing to answer: the empty answer, not an error
    /// (an editor shows an error of `documentSymbol` on every markdown file it opens).
    fn at_position<T: Default + Send + 'static>(
        &self,
        p: TextDocumentPositionParams,
        sure: fn(&T) -> bool,
        answer: impl Fn(&View<'_>, &Current<'_>, &mut Positions<'_>, usize) -> T + Send + Sync + 'static,
    ) -> Answer<T> {
        let (engine, buffers) = (self.engine.clone(), self.buffers());
        let answer = Arc::new(answer);
        Answer::later(async move {
            let uri = &p.text_document.uri;
            let ask = |buffers: Buffers| {
                let answer = answer.clone();
                engine.at_position(uri, p.position, buffers, move |view, cur, pos, byte| {
                    Ok(answer(view, cur, pos, byte))
                })
            };
            let first = match ask(buffers.clone()).await {
                Err(e) if is_unknown_language(&e) => return Ok(T::default()),
                answer => answer?,
            };
            if sure(&first) {
                return Ok(first);
            }
            match engine.first_pass_of(uri) {
                Some(index) if index.first_pass(FIRST_PASS_ANSWER_WAIT).await => ask(buffers).await,
                _ => Ok(first),
            }
        })
    }

    /// The indexes of the workspaces this session opened.
    fn open_indexes(&self) -> Vec<Arc<WorkspaceIndex>> {
        let ids: Vec<String> = self
            .state
            .workspaces
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect();
        ids.iter()
            .filter_map(|id| self.engine.graph().get(id))
            .collect()
    }
}

impl Engine {
    /// The index a file belongs to: an open workspace's, or none.
    fn index_of(&self, path: &Path) -> Option<Arc<WorkspaceIndex>> {
        self.graph().index_for(path)
    }

    /// The index of the document `uri`, while its first pass has not finished.
    fn first_pass_of(&self, uri: &str) -> Option<Arc<WorkspaceIndex>> {
        let path = uri_to_path(uri)?;
        self.index_of(&path).filter(|i| !i.first_pass_done())
    }

    /// Answers a question about a position in a document.
    async fn at_position<F, T>(
        &self,
        uri: &str,
        position: Position,
        buffers: Buffers,
        answer: F,
    ) -> Result<T, RpcError>
    where
        F: FnOnce(&View<'_>, &Current<'_>, &mut Positions<'_>, usize) -> Result<T, RpcError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let path = uri_to_path(uri);
        let key = path.clone().unwrap_or_else(|| PathBuf::from(uri));
        let index = path.as_deref().and_then(|p| self.index_of(p));
        if let Some(index) = &index
            && !index.loaded(LOAD_WAIT).await
        {
            return Err(RpcError::internal(
                "the workspace's graph did not load in time",
            ));
        }
        let uri = uri.to_owned();
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Some((_, size)) = buffers.too_large.iter().find(|(p, _)| *p == key) {
                return Err(too_large(&key, *size as u64, buffers.max_bytes));
            }
            if buffers.unknown.contains(&key) {
                return Err(unknown_language(&key));
            }
            let asked = match buffers.get(&key) {
                Some(s) => Asked {
                    path: key.clone(),
                    syntax: s.clone(),
                },
                None => {
                    let Some(path) = path.clone() else {
                        return Err(RpcError::not_found(format!(
                            "{uri} is not open and not a file"
                        )));
                    };
                    Asked {
                        syntax: parse_from_disk(&engine, &path, buffers.max_bytes)?,
                        path,
                    }
                }
            };
            let empty;
            let guard;
            let (graph, root): (&WorkspaceGraph, PathBuf) = match &index {
                Some(index) => {
                    guard = index.graph.read().unwrap();
                    (&guard, index.info.root.clone())
                }
                None => {
                    let root = asked
                        .path
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_default();
                    empty = WorkspaceGraph::new(root.clone());
                    (&empty, root)
                }
            };
            let (overlays, current) = overlays(&root, &buffers, &asked);
            let view = View::new(graph, &overlays);
            let cur = Current {
                file: FileRef::Overlay(current),
                tree: &asked.syntax.tree,
                src: &asked.syntax.text,
                analysis: &asked.syntax.analysis,
            };
            let text = String::from_utf8_lossy(&asked.syntax.text);
            let last_line = text.matches('\n').count();
            if position.line as usize > last_line {
                return Err(RpcError::new(
                    code::INVALID_PARAMS,
                    format!(
                        "line {} is past the end of {} ({} lines)",
                        position.line,
                        asked.path.display(),
                        last_line + 1
                    ),
                ));
            }
            let line = line_of(&text, position.line);
            let byte = byte_offset(&text, position.line)
                + column_to_bytes(line, position.character, buffers.encoding) as usize;
            let mut positions = Positions {
                encoding: buffers.encoding,
                root: &root,
                buffers: &buffers,
                texts: HashMap::new(),
            };
            answer(&view, &cur, &mut positions, byte)
        })
        .await
        .map_err(RpcError::internal)?
    }

    /// Runs a symbol search over several workspaces.
    async fn workspace_symbols<F>(
        &self,
        indexes: Vec<Arc<WorkspaceIndex>>,
        buffers: Buffers,
        search: F,
    ) -> Result<Vec<WorkspaceSymbol>, RpcError>
    where
        F: Fn(&View<'_>) -> Vec<SymRef> + Send + 'static,
    {
        for index in &indexes {
            if !index.loaded(LOAD_WAIT).await {
                return Err(RpcError::internal(
                    "a workspace's graph did not load in time",
                ));
            }
            // A list from a pass halfway through would miss what comes later in it.
            index.first_pass(FIRST_PASS_ANSWER_WAIT).await;
        }
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for index in &indexes {
                let graph = index.graph.read().unwrap();
                let root = &index.info.root;
                let overlays = buffers.overlays_in(root, None);
                let view = View::new(&graph, &overlays);
                let mut pos = Positions {
                    encoding: buffers.encoding,
                    root,
                    buffers: &buffers,
                    texts: HashMap::new(),
                };
                for s in search(&view) {
                    out.push(workspace_symbol(&view, &mut pos, s));
                }
            }
            out.truncate(SYMBOL_LIMIT);
            Ok(out)
        })
        .await
        .map_err(RpcError::internal)?
    }

    /// `callHierarchy/incomingCalls` and `outgoingCalls`: the item's `data` says where its symbol
    /// is; `answer` gets the symbol, positions and the workspace root on a blocking thread.
    async fn calls<T: Send + 'static>(
        &self,
        item: CallHierarchyItem,
        buffers: Buffers,
        answer: impl FnOnce(&View<'_>, SymRef, &mut Positions<'_>, &Path) -> T + Send + 'static,
    ) -> Result<T, RpcError> {
        let stale = || {
            RpcError::new(
                code::CONTENT_MODIFIED,
                "the symbol moved or changed since; ask again",
            )
        };
        let data = item.data.clone().unwrap_or(Value::Null);
        let (Some(root), Some(rel), Some(line), Some(col)) = (
            data.get("root").and_then(Value::as_str).map(PathBuf::from),
            data.get("path").and_then(Value::as_str).map(PathBuf::from),
            data.get("line").and_then(Value::as_u64),
            data.get("col").and_then(Value::as_u64),
        ) else {
            return Err(RpcError::invalid_params(
                "callHierarchy",
                "`item.data` is not one of maestro's",
            ));
        };
        let index = self.index_of(&root.join(&rel));
        if let Some(index) = &index {
            if !index.loaded(LOAD_WAIT).await {
                return Err(RpcError::internal(
                    "the workspace's graph did not load in time",
                ));
            }
            // Callers and callees from a pass halfway through would miss what comes later.
            index.first_pass(FIRST_PASS_ANSWER_WAIT).await;
        }
        tokio::task::spawn_blocking(move || {
            let empty;
            let guard;
            let graph: &WorkspaceGraph = match &index {
                Some(index) => {
                    guard = index.graph.read().unwrap();
                    &guard
                }
                None => {
                    empty = WorkspaceGraph::new(root.clone());
                    &empty
                }
            };
            let overlays = buffers.overlays_in(&root, None);
            let view = View::new(graph, &overlays);
            let file = view.file_at(&rel).ok_or_else(stale)?;
            let idx = view
                .facts(file)
                .symbols
                .iter()
                .position(|s| {
                    s.name == item.name
                        && u64::from(s.name_span.start.line) == line
                        && u64::from(s.name_span.start.col) == col
                })
                .ok_or_else(stale)?;
            let symbol = SymRef {
                file,
                idx: idx as u32,
            };
            let mut pos = Positions {
                encoding: buffers.encoding,
                root: &root,
                buffers: &buffers,
                texts: HashMap::new(),
            };
            Ok(answer(&view, symbol, &mut pos, &root))
        })
        .await
        .map_err(RpcError::internal)?
    }
}

/// A file's parse when no editor has it open (cached while the file stays the same).
fn parse_from_disk(engine: &Engine, path: &Path, max_bytes: u64) -> Result<Arc<Syntax>, RpcError> {
    match engine.graph().disk.get(path, max_bytes) {
        Ok(DiskParse::Parsed(syntax)) => Ok(syntax),
        Ok(DiskParse::UnknownLanguage) => Err(unknown_language(path)),
        Ok(DiskParse::TooLarge(size)) => Err(too_large(path, size, max_bytes)),
        Err(e) => Err(RpcError::not_found(format!("{}: {e}", path.display()))),
    }
}

/// `-32091` with `data.reason = "language"`: the document is in no language the graph knows.
fn unknown_language(path: &Path) -> RpcError {
    let mut e = RpcError::not_found(format!(
        "{}: not a language the code graph knows",
        path.display()
    ));
    e.data = Some(json!({"reason": "language"}));
    e
}

fn is_unknown_language(e: &RpcError) -> bool {
    e.code == code::NOT_FOUND && e.data.as_ref().is_some_and(|d| d["reason"] == "language")
}

fn too_large(path: &Path, size: u64, max_bytes: u64) -> RpcError {
    RpcError::not_found(format!(
        "{}: {size} bytes, over index.max_file_bytes ({max_bytes}); the code graph leaves it out",
        path.display()
    ))
}

/// The buffers inside `root` as overlays, with the asked file among them; returns its index.
fn overlays(root: &Path, buffers: &Buffers, asked: &Asked) -> (Vec<Overlay>, u32) {
    let mut out = buffers.overlays_in(root, Some(&asked.path));
    // The asked file is in the view even outside the root (answered from itself).
    out.push(Overlay {
        path: asked
            .path
            .strip_prefix(root)
            .map_or_else(|_| asked.path.clone(), Path::to_path_buf),
        facts: asked.syntax.analysis.facts.clone(),
    });
    let current = (out.len() - 1) as u32;
    (out, current)
}

/// The byte offset where line `line` starts.
fn byte_offset(text: &str, line: u32) -> usize {
    if line == 0 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line as usize - 1)
        .map_or(text.len(), |(i, _)| i + 1)
}
