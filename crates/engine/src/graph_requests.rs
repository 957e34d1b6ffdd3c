//! The code-graph methods of the daemon RPC: LSP-shaped params in, LSP-shaped answers out. The
//! synchronous part snapshots this session's open documents (reparsing those edited since), so a
//! question sees every edit sent before it; the rest runs on a blocking thread against the
//! workspace's graph with those buffers on top.

use crate::code_graph::{DiskParse, IndexState, WorkspaceIndex};
use crate::delegate::{CodeContext, ContextSymbol, MAX_CALLERS, MAX_LINES};
use crate::document::Syntax;
use crate::engine::Engine;
use crate::requests::Answer;
use crate::session::Session;
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

/// How long a question waits for a workspace's graph to load from the store.
const LOAD_WAIT: Duration = Duration::from_secs(60);
/// How long `maestro/index` waits for a workspace's first pass (a large repository, cold).
const FIRST_PASS_WAIT: Duration = Duration::from_secs(3600);
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

pub(crate) fn definition(s: &Session, p: TextDocumentPositionParams) -> Answer<Vec<Location>> {
    s.at_position(p, |view, cur, pos, byte| {
        view.definition(cur, byte)
            .into_iter()
            .map(|l| pos.location(view, l))
            .collect()
    })
}

pub(crate) fn hover(s: &Session, p: TextDocumentPositionParams) -> Answer<Option<HoverResult>> {
    let memory = s.engine.memory().clone();
    s.at_position(p, move |view, cur, pos, byte| {
        let mut answer = hover_at(view, cur, pos, byte);
        if let Some(a) = answer.as_mut()
            && let Some(h) = view.hover(cur, byte)
            && h.kind != "local"
        {
            let ws = crate::workspace::workspace_id(pos.root);
            append_memories(&memory, &ws, &h.name, &mut a.contents.value);
        }
        answer
    })
}

pub(crate) fn highlight(
    s: &Session,
    p: TextDocumentPositionParams,
) -> Answer<Vec<DocumentHighlight>> {
    s.at_position(p, |view, cur, pos, byte| {
        view.highlights(cur, byte)
            .into_iter()
            .take(REPLY_LIMIT)
            .map(|(span, written)| DocumentHighlight {
                range: pos.range(view, cur.file, span),
                kind: if written { 3 } else { 2 },
            })
            .collect()
    })
}

pub(crate) fn call_prepare(
    s: &Session,
    p: TextDocumentPositionParams,
) -> Answer<Vec<CallHierarchyItem>> {
    s.at_position(p, |view, cur, pos, byte| {
        let ws = pos.root.to_path_buf();
        view.symbols_at(cur, byte)
            .into_iter()
            .map(|s| call_item(view, pos, &ws, s))
            .collect()
    })
}

pub(crate) fn references(s: &Session, p: ReferenceParams) -> Answer<Vec<Location>> {
    let include = p.context.include_declaration;
    let at = TextDocumentPositionParams {
        text_document: p.text_document,
        position: p.position,
    };
    s.at_position(at, move |view, cur, pos, byte| {
        view.references(cur, byte, include)
            .into_iter()
            .take(REPLY_LIMIT)
            .map(|l| pos.location(view, l))
            .collect()
    })
}

pub(crate) fn document_symbols(
    s: &Session,
    p: DocumentSymbolParams,
) -> Answer<Vec<DocumentSymbol>> {
    let at = TextDocumentPositionParams {
        text_document: p.text_document,
        position: Position {
            line: 0,
            character: 0,
        },
    };
    s.at_position(at, |view, cur, pos, _| symbols_of_document(view, cur, pos))
}

pub(crate) fn workspace_symbols(
    s: &Session,
    p: WorkspaceSymbolParams,
) -> Answer<Vec<WorkspaceSymbol>> {
    let (engine, buffers, indexes) = (s.engine.clone(), s.buffers(), s.open_indexes());
    Answer::later(async move {
        engine
            .workspace_symbols(indexes, buffers, move |view| {
                view.workspace_symbols(&p.query, SYMBOL_LIMIT)
            })
            .await
    })
}

pub(crate) fn lookup(s: &Session, p: SymbolLookupParams) -> Answer<Vec<WorkspaceSymbol>> {
    let indexes = match &p.workspace {
        Some(path) => match s.engine.open_workspace(&s.state, path) {
            Ok(info) => vec![s.engine.ensure_index(&info)],
            Err(e) => return Answer::Now(Err(e)),
        },
        None => s.open_indexes(),
    };
    let (engine, buffers) = (s.engine.clone(), s.buffers());
    Answer::later(async move {
        engine
            .workspace_symbols(indexes, buffers, move |view| lookup_in(view, &p))
            .await
    })
}

pub(crate) fn calls_incoming(
    s: &Session,
    p: CallHierarchyParams,
) -> Answer<Vec<CallHierarchyIncomingCall>> {
    let (engine, buffers) = (s.engine.clone(), s.buffers());
    Answer::later(async move {
        engine
            .calls(p.item, buffers, |view, symbol, pos, root| {
                view.incoming_calls(symbol)
                    .into_iter()
                    .take(REPLY_LIMIT)
                    .map(|c| CallHierarchyIncomingCall {
                        from: match c.symbol {
                            Some(s) => call_item(view, pos, root, s),
                            None => file_item(view, pos, root, c.file),
                        },
                        from_ranges: c
                            .ranges
                            .iter()
                            .map(|r| pos.range(view, c.file, *r))
                            .collect(),
                    })
                    .collect()
            })
            .await
    })
}

pub(crate) fn calls_outgoing(
    s: &Session,
    p: CallHierarchyParams,
) -> Answer<Vec<CallHierarchyOutgoingCall>> {
    let (engine, buffers) = (s.engine.clone(), s.buffers());
    Answer::later(async move {
        engine
            .calls(p.item, buffers, |view, symbol, pos, root| {
                view.outgoing_calls(symbol)
                    .into_iter()
                    .take(REPLY_LIMIT)
                    .filter_map(|c| {
                        let callee = c.symbol?;
                        Some(CallHierarchyOutgoingCall {
                            to: call_item(view, pos, root, callee),
                            from_ranges: c
                                .ranges
                                .iter()
                                .map(|r| pos.range(view, symbol.file, *r))
                                .collect(),
                        })
                    })
                    .collect()
            })
            .await
    })
}

pub(crate) fn code_actions(s: &Session, p: CodeActionParams) -> Answer<Vec<CodeAction>> {
    s.code_actions(p)
}

pub(crate) fn query(s: &Session, p: GraphQueryParams) -> Answer<GraphQueryResult> {
    let store = s.engine.store().clone();
    Answer::later(async move {
        // Set when this request is dropped (its client went away or cancelled it): the query is
        // stopped then, not left running for nobody.
        struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for CancelOnDrop {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::Release);
            }
        }
        let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _cancel = CancelOnDrop(cancelled.clone());
        tokio::task::spawn_blocking(move || {
            let params = p
                .params
                .into_iter()
                .map(|(k, v)| (k, maestro_store::DataValue::from(v)))
                .collect();
            let limits = maestro_store::QueryLimits::default();
            match store.query_user(&p.script, params, limits, cancelled) {
                Ok(answer) => Ok(GraphQueryResult {
                    headers: answer.headers,
                    rows: answer.rows,
                    truncated: answer.truncated,
                }),
                Err(e) => Err(RpcError::new(code::INVALID_PARAMS, e.to_string())),
            }
        })
        .await
        .map_err(RpcError::internal)?
    })
}

pub(crate) fn index(s: &Session, p: IndexParams) -> Answer<IndexResult> {
    let engine = s.engine.clone();
    let info = match engine.open_workspace(&s.state, &p.path) {
        Ok(info) => info,
        Err(e) => return Answer::Now(Err(e)),
    };
    let index = engine.ensure_index(&info);
    // The workspace's first pass (started when it was opened) is the answer when it had not
    // finished as the request came: a second pass right after it would report nothing done.
    let first = !index.first_pass_done();
    let state = s.state.clone();
    Answer::later(async move {
        engine.remember_workspace(&state, &info).await?;
        if !index.loaded(LOAD_WAIT).await {
            return Err(RpcError::internal(
                "the workspace's graph did not load in time",
            ));
        }
        let (stats, load) = if !first {
            let (engine2, index2) = (engine.clone(), index.clone());
            let stats = tokio::task::spawn_blocking(move || engine2.run_index(&index2, true))
                .await
                .map_err(RpcError::internal)?
                .map_err(|e| RpcError::new(code::NOT_FOUND, e.to_string()))?;
            (stats, None)
        } else {
            match index.settled(FIRST_PASS_WAIT).await {
                IndexState::Ready(stats) => ((*stats).clone(), index.load_time()),
                IndexState::Failed(e) => return Err(RpcError::new(code::NOT_FOUND, e)),
                _ => {
                    return Err(RpcError::internal(
                        "the workspace's first index pass did not finish in time",
                    ));
                }
            }
        };
        Ok(IndexResult {
            workspace: info,
            files: stats.files,
            parsed: stats.parsed,
            reused: stats.reused,
            unchanged: stats.unchanged,
            removed: stats.removed,
            skipped: stats
                .skipped
                .into_iter()
                .map(|s| SkippedFile {
                    path: s.path,
                    reason: s.reason,
                })
                .collect(),
            symbols: stats.symbols,
            references: stats.references,
            elapsed_secs: stats.elapsed.as_secs_f64(),
            load_secs: load.map(|d| d.as_secs_f64()),
        })
    })
}

impl Session {
    /// Every open document of this session, parsed as of now.
    fn buffers(&self) -> Buffers {
        let max_bytes = self.engine.config().max_index_file_bytes();
        let mut docs = self.state.documents.lock().unwrap();
        let (mut snapshot, mut too_large) = (Vec::new(), Vec::new());
        for d in docs.values_mut() {
            let path = uri_to_path(&d.uri).unwrap_or_else(|| PathBuf::from(&d.uri));
            match d.syntax(max_bytes) {
                Some(s) => snapshot.push((path, d.uri.clone(), s)),
                None if d.lang().is_some() && d.len_bytes() as u64 > max_bytes => {
                    too_large.push((path, d.len_bytes()));
                }
                None => {}
            }
        }
        Buffers {
            encoding: self.state.encoding(),
            docs: snapshot,
            too_large,
            max_bytes,
        }
    }

    /// Handles a code-graph method, or returns `None` for another method.
    /// Answers a question about a position of a document from the graph, on a blocking thread.
    fn at_position<T: Send + 'static>(
        &self,
        p: TextDocumentPositionParams,
        answer: impl FnOnce(&View<'_>, &Current<'_>, &mut Positions<'_>, usize) -> T + Send + 'static,
    ) -> Answer<T> {
        let (engine, buffers) = (self.engine.clone(), self.buffers());
        Answer::later(async move {
            engine
                .at_position(
                    &p.text_document.uri,
                    p.position,
                    buffers,
                    move |view, cur, pos, byte| Ok(answer(view, cur, pos, byte)),
                )
                .await
        })
    }

    /// `maestro/codeActions`: the delegate actions at a range. "Write tests for" needs the graph;
    /// in a file it cannot read the other actions are still offered.
    fn code_actions(&self, p: CodeActionParams) -> Answer<Vec<CodeAction>> {
        let buffers = self.buffers();
        let engine = self.engine.clone();
        // A markdown document with open tasks is a playbook that can run.
        let playbook = crate::text::uri_to_path(&p.text_document.uri)
            .filter(|path| maestro_playbook::run::is_markdown(path))
            .and_then(|_| self.lint(&p.text_document.uri).ok())
            .filter(|f| f.is_playbook && !f.open_tasks.is_empty())
            .map(|f| f.path);
        Answer::later(async move {
            let wants = |kind: &str| {
                p.context.only.as_ref().is_none_or(|only| {
                    only.iter()
                        .any(|o| kind == o || kind.starts_with(&format!("{o}.")))
                })
            };
            let doc = json!({"uri": p.text_document.uri});
            let action = |title: String, kind: &str, task: &str, range: &Range, extra: Value| {
                let mut args = json!({"textDocument": doc, "range": range, "task": task});
                if let (Value::Object(a), Value::Object(e)) = (&mut args, extra) {
                    a.extend(e);
                }
                CodeAction {
                    title: title.clone(),
                    kind: kind.to_owned(),
                    diagnostics: Vec::new(),
                    command: LspCommand {
                        title,
                        command: maestro_protocol::command::AGENT_DELEGATE.to_owned(),
                        arguments: vec![args],
                    },
                }
            };
            let mut actions = Vec::new();
            if wants("quickfix") {
                for d in &p.context.diagnostics {
                    let Some(range) = d
                        .get("range")
                        .and_then(|r| serde_json::from_value::<Range>(r.clone()).ok())
                    else {
                        continue;
                    };
                    let message = d.get("message").and_then(Value::as_str).unwrap_or("");
                    let mut a = action(
                        format!(
                            "Ask an agent to fix: {}",
                            maestro_agents::supervisor::one_line(message, 60)
                        ),
                        "quickfix",
                        "fix",
                        &range,
                        json!({"diagnostic": d}),
                    );
                    a.diagnostics = vec![d.clone()];
                    actions.push(a);
                }
            }
            if wants("refactor") {
                if p.range.start != p.range.end {
                    actions.push(action(
                        "Delegate to agent…".into(),
                        "refactor",
                        "selection",
                        &p.range,
                        json!({}),
                    ));
                }
                let target = engine
                    .at_position(
                        &p.text_document.uri,
                        p.range.start,
                        buffers,
                        |view, cur, pos, byte| Ok(test_target(view, cur, pos, byte)),
                    )
                    .await
                    .ok()
                    .flatten();
                if let Some((name, uri, range)) = target {
                    let mut a = action(
                        format!("Write tests for `{name}`"),
                        "refactor",
                        "tests",
                        &range,
                        json!({}),
                    );
                    a.command.arguments[0]["textDocument"] = json!({"uri": uri});
                    actions.push(a);
                }
            }
            if wants("source")
                && let Some(path) = playbook
            {
                let title = "Run this playbook".to_owned();
                actions.push(CodeAction {
                    title: title.clone(),
                    kind: "source".into(),
                    diagnostics: Vec::new(),
                    command: LspCommand {
                        title,
                        command: maestro_protocol::command::PLAYBOOK_RUN.to_owned(),
                        arguments: vec![json!({"paths": [path]})],
                    },
                });
            }
            Ok(actions)
        })
    }

    /// The code of a delegated task and its context from the graph.
    pub(crate) fn code_context(
        &self,
        uri: &str,
        range: Range,
    ) -> impl Future<Output = Result<CodeContext, RpcError>> + Send + 'static {
        let buffers = self.buffers();
        let engine = self.engine.clone();
        let uri = uri.to_owned();
        async move {
            let end = range.end;
            let graph = engine
                .at_position(
                    &uri,
                    range.start,
                    buffers.clone(),
                    move |view, cur, _, byte| Ok(context_at(view, cur, byte, end)),
                )
                .await;
            match graph {
                Ok(ctx) => Ok(ctx),
                // A file the graph does not read (a language it does not know): the text alone.
                Err(e) if e.code == code::NOT_FOUND => {
                    let path = uri_to_path(&uri).ok_or_else(|| {
                        RpcError::not_found(format!("{uri} is not open and not a file"))
                    })?;
                    let text = match buffers.get(&path) {
                        Some(s) => String::from_utf8_lossy(&s.text).into_owned(),
                        None => std::fs::read_to_string(&path).map_err(|err| {
                            RpcError::not_found(format!("{}: {err}", path.display()))
                        })?,
                    };
                    let root = engine.index_of(&path).map(|i| i.info.root.clone());
                    let file = root
                        .as_deref()
                        .and_then(|r| path.strip_prefix(r).ok())
                        .unwrap_or(&path)
                        .display()
                        .to_string();
                    Ok(text_context(
                        file,
                        String::new(),
                        &text,
                        range.start.line,
                        end,
                    ))
                }
                Err(e) => Err(e),
            }
        }
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
        if let Some(index) = &index
            && !index.loaded(LOAD_WAIT).await
        {
            return Err(RpcError::internal(
                "the workspace's graph did not load in time",
            ));
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
        Ok(DiskParse::UnknownLanguage) => Err(RpcError::not_found(format!(
            "{}: not a language the code graph knows",
            path.display()
        ))),
        Ok(DiskParse::TooLarge(size)) => Err(too_large(path, size, max_bytes)),
        Err(e) => Err(RpcError::not_found(format!("{}: {e}", path.display()))),
    }
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

/// Memories that mention `name` (keyword search, then an exact mention), as a hover section.
fn append_memories(
    memory: &maestro_memory::service::Memory,
    ws: &str,
    name: &str,
    value: &mut String,
) {
    if name.len() < 3 {
        return;
    }
    let filter = maestro_memory::service::search::Filter {
        ws: Some(ws.to_owned()),
        ..Default::default()
    };
    let Ok(found) = memory.search(
        name,
        20,
        &filter,
        maestro_memory::service::search::Mode::Keyword,
        crate::engine::unix_now(),
    ) else {
        return;
    };
    let mentions: Vec<_> = found
        .hits
        .iter()
        .filter(|h| h.memory.text.contains(name))
        .take(3)
        .collect();
    if mentions.is_empty() {
        return;
    }
    value.push_str("\n\n---\n**Memories**");
    for h in mentions {
        let m = &h.memory;
        let line = m
            .text
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_default()
            .trim();
        let line: String = line.chars().take(160).collect();
        let who = if m.agent.is_empty() {
            m.kind.clone()
        } else {
            format!("{} · {}", m.kind, m.agent)
        };
        value.push_str(&format!("\n- {line} *({who})*"));
    }
}

fn hover_at(
    view: &View<'_>,
    cur: &Current<'_>,
    pos: &mut Positions<'_>,
    byte: usize,
) -> Option<HoverResult> {
    let h = view.hover(cur, byte)?;
    let lang = cur.analysis.facts.lang.name();
    let mut value = format!("```{lang}\n{}\n```", h.signature);
    if !h.doc.is_empty() {
        value.push_str(&format!("\n\n{}", h.doc));
    }
    if h.kind == "local" {
        value.push_str("\n\n*local variable*");
    } else if h.callers + h.callees > 0 || matches!(h.kind.as_str(), "function" | "method") {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("1 {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        value.push_str(&format!(
            "\n\n*{} · {}*",
            plural(h.callers, "caller"),
            plural(h.callees, "callee")
        ));
    }
    Some(HoverResult {
        contents: MarkupContent {
            kind: "markdown".into(),
            value,
        },
        range: Some(pos.range(view, cur.file, h.range)),
    })
}

fn symbols_of_document(
    view: &View<'_>,
    cur: &Current<'_>,
    pos: &mut Positions<'_>,
) -> Vec<DocumentSymbol> {
    let all = &cur.analysis.facts.symbols;
    // A container comes before what it holds, so the first symbols keep their containers.
    let symbols = &all[..all.len().min(REPLY_LIMIT)];
    let mut nodes: Vec<Option<DocumentSymbol>> = symbols
        .iter()
        .map(|s| {
            Some(DocumentSymbol {
                name: s.name.clone(),
                detail: (!s.signature.is_empty()).then(|| s.signature.clone()),
                kind: lsp_symbol_kind(s.kind),
                range: pos.range(view, cur.file, s.span),
                selection_range: pos.range(view, cur.file, s.name_span),
                children: Vec::new(),
            })
        })
        .collect();
    // Children come after their container: attach from the end (each parent's children then
    // come in reverse; they are put back in order below).
    for i in (0..symbols.len()).rev() {
        if let Some(c) = symbols[i].container {
            let child = nodes[i].take().expect("each symbol is attached once");
            if let Some(parent) = nodes[c as usize].as_mut() {
                parent.children.push(child);
            }
        }
    }
    let mut roots: Vec<DocumentSymbol> = nodes.into_iter().flatten().collect();
    let mut stack: Vec<&mut DocumentSymbol> = roots.iter_mut().collect();
    while let Some(node) = stack.pop() {
        node.children.reverse();
        stack.extend(node.children.iter_mut());
    }
    roots
}

fn workspace_symbol(view: &View<'_>, pos: &mut Positions<'_>, s: SymRef) -> WorkspaceSymbol {
    let symbol = view.symbol(s);
    let container = symbol.owner.clone().or_else(|| {
        symbol
            .container
            .map(|c| view.facts(s.file).symbols[c as usize].name.clone())
    });
    WorkspaceSymbol {
        name: symbol.name.clone(),
        kind: lsp_symbol_kind(symbol.kind),
        location: pos.location(
            view,
            GraphLocation {
                file: s.file,
                span: symbol.name_span,
            },
        ),
        container_name: container,
    }
}

fn call_item(
    view: &View<'_>,
    pos: &mut Positions<'_>,
    root: &Path,
    s: SymRef,
) -> CallHierarchyItem {
    let symbol = view.symbol(s);
    let abs = root.join(view.path(s.file));
    CallHierarchyItem {
        name: symbol.name.clone(),
        kind: lsp_symbol_kind(symbol.kind),
        detail: (!symbol.signature.is_empty()).then(|| symbol.signature.clone()),
        uri: pos.buffers.uri_of(&abs),
        range: pos.range(view, s.file, symbol.span),
        selection_range: pos.range(view, s.file, symbol.name_span),
        data: Some(json!({
            "root": root,
            "path": view.path(s.file),
            "line": symbol.name_span.start.line,
            "col": symbol.name_span.start.col,
        })),
    }
}

/// Calls at a file's top level come from the file itself.
fn file_item(
    view: &View<'_>,
    pos: &mut Positions<'_>,
    root: &Path,
    file: FileRef,
) -> CallHierarchyItem {
    let abs = root.join(view.path(file));
    let whole = Span::default();
    CallHierarchyItem {
        name: view.path(file).display().to_string(),
        kind: 1,
        detail: Some("top level".into()),
        uri: pos.buffers.uri_of(&abs),
        range: pos.range(view, file, whole),
        selection_range: pos.range(view, file, whole),
        data: None,
    }
}

/// Symbols named `Owner.member`, `Owner::member` or `name`, exact or fuzzy.
fn lookup_in(view: &View<'_>, p: &SymbolLookupParams) -> Vec<SymRef> {
    let limit = p.limit.unwrap_or(SYMBOL_LIMIT);
    let (owner, name) = match p.name.rsplit_once("::").or_else(|| p.name.rsplit_once('.')) {
        Some((o, n)) if !o.is_empty() && !n.is_empty() => {
            (Some(o.rsplit(['.', ':']).next().unwrap_or(o)), n)
        }
        _ => (None, p.name.as_str()),
    };
    let mut found: Vec<SymRef> = if p.exact || owner.is_some() {
        view.symbols_named(name)
            .into_iter()
            .filter(|s| owner.is_none_or(|o| view.symbol(*s).owner.as_deref() == Some(o)))
            .collect()
    } else {
        view.workspace_symbols(name, limit)
    };
    if p.exact || owner.is_some() {
        found.sort_by(|a, b| {
            (view.path(a.file), view.symbol(*a).name_span)
                .cmp(&(view.path(b.file), view.symbol(*b).name_span))
        });
    }
    found.truncate(limit);
    found
}

/// Kinds worth writing tests for: functions, methods, macros and types.
fn testable(kind: SymbolKind) -> bool {
    kind.is_callable() || kind.is_type_like()
}

/// A symbol's name with its owner: `Greeter.greet`.
fn qualified(symbol: &maestro_graph::Symbol) -> String {
    match &symbol.owner {
        Some(owner) => format!("{owner}.{}", symbol.name),
        None => symbol.name.clone(),
    }
}

/// The innermost definition of the current file around `at` that `want` takes.
fn enclosing(cur: &Current<'_>, at: Pos, want: impl Fn(SymbolKind) -> bool) -> Option<u32> {
    let symbols = &cur.analysis.facts.symbols;
    let mut found = maestro_graph::extract::enclosing(symbols, at);
    while let Some(i) = found {
        let symbol = &symbols[i as usize];
        if want(symbol.kind) {
            return Some(i);
        }
        found = symbol.container;
    }
    None
}

/// What "Write tests for" is about: the definition named at the cursor, else the one around it.
fn test_target(
    view: &View<'_>,
    cur: &Current<'_>,
    pos: &mut Positions<'_>,
    byte: usize,
) -> Option<(String, String, Range)> {
    let named = view
        .symbols_at(cur, byte)
        .into_iter()
        .find(|s| testable(view.symbol(*s).kind));
    let target = named.or_else(|| {
        enclosing(cur, pos_of(cur.src, byte), testable).map(|idx| SymRef {
            file: cur.file,
            idx,
        })
    })?;
    let symbol = view.symbol(target);
    let abs = pos.root.join(view.path(target.file));
    Some((
        qualified(symbol),
        pos.buffers.uri_of(&abs),
        pos.range(view, target.file, symbol.span),
    ))
}

/// The code between `byte` and `end`, the definition around it and that definition's callers.
fn context_at(view: &View<'_>, cur: &Current<'_>, byte: usize, end: Position) -> CodeContext {
    let text = String::from_utf8_lossy(cur.src);
    let file = view.path(cur.file).display().to_string();
    let at = pos_of(cur.src, byte);
    let mut ctx = text_context(
        file,
        cur.analysis.facts.lang.name().to_owned(),
        &text,
        at.line,
        end,
    );
    let Some(idx) = enclosing(cur, at, |_| true) else {
        return ctx;
    };
    let here = SymRef {
        file: cur.file,
        idx,
    };
    let symbol = view.symbol(here);
    ctx.symbol = Some(ContextSymbol {
        name: qualified(symbol),
        kind: symbol.kind.name().replace('_', " "),
        signature: symbol.signature.clone(),
        start_line: symbol.span.start.line + 1,
        end_line: symbol.span.end.line + 1,
    });
    let calls = view.incoming_calls(here);
    ctx.more_callers = calls.len().saturating_sub(MAX_CALLERS);
    for c in calls.into_iter().take(MAX_CALLERS) {
        let path = view.path(c.file).display().to_string();
        let line = c.ranges.first().map_or(0, |r| r.start.line + 1);
        ctx.callers.push(match c.symbol {
            Some(s) => format!("`{}` in {path}:{line}", qualified(view.symbol(s))),
            None => format!("the top level of {path}:{line}"),
        });
    }
    ctx
}

/// The whole lines from `start` (0-based) to `end` (a range's end: a line it ends at column 0 is
/// not part of it), at most [`MAX_LINES`] of them.
fn text_context(
    file: String,
    language: String,
    text: &str,
    start: u32,
    end: Position,
) -> CodeContext {
    let last = if end.character == 0 && end.line > start {
        end.line - 1
    } else {
        end.line.max(start)
    };
    let shown_last = last.min(start + MAX_LINES - 1);
    let body: Vec<&str> = text
        .split_inclusive('\n')
        .skip(start as usize)
        .take((shown_last - start + 1) as usize)
        .collect();
    CodeContext {
        file,
        language,
        start_line: start + 1,
        end_line: last + 1,
        text: body.concat(),
        cut_lines: last - shown_last,
        ..CodeContext::default()
    }
}
