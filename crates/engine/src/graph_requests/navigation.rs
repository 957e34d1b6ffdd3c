//! Navigation: definitions, references, highlights, document and workspace symbols, call
//! hierarchies, symbol lookups by name, read-only store queries, and indexing on request.

use super::*;
use maestro_graph::indexer::IndexStats;

pub(crate) fn definition(s: &Session, p: TextDocumentPositionParams) -> Answer<Vec<Location>> {
    s.at_position(
        p,
        |found| !found.is_empty(),
        |view, cur, pos, byte| {
            view.definition(cur, byte)
                .into_iter()
                .map(|l| pos.location(view, l))
                .collect()
        },
    )
}

pub(crate) fn highlight(
    s: &Session,
    p: TextDocumentPositionParams,
) -> Answer<Vec<DocumentHighlight>> {
    // Highlights are of the document itself: nothing to wait for.
    s.at_position(
        p,
        |_| true,
        |view, cur, pos, byte| {
            view.highlights(cur, byte)
                .into_iter()
                .take(REPLY_LIMIT)
                .map(|(span, written)| DocumentHighlight {
                    range: pos.range(view, cur.file, span),
                    kind: if written { 3 } else { 2 },
                })
                .collect()
        },
    )
}

pub(crate) fn call_prepare(
    s: &Session,
    p: TextDocumentPositionParams,
) -> Answer<Vec<CallHierarchyItem>> {
    s.at_position(
        p,
        |_| true,
        |view, cur, pos, byte| {
            let ws = pos.root.to_path_buf();
            view.symbols_at(cur, byte)
                .into_iter()
                .map(|s| call_item(view, pos, &ws, s))
                .collect()
        },
    )
}

pub(crate) fn references(s: &Session, p: ReferenceParams) -> Answer<Vec<Location>> {
    let include = p.context.include_declaration;
    let at = TextDocumentPositionParams {
        text_document: p.text_document,
        position: p.position,
    };
    // References from a pass halfway through would miss those in files not indexed yet.
    s.at_position(
        at,
        |_| false,
        move |view, cur, pos, byte| {
            view.references(cur, byte, include)
                .into_iter()
                .take(REPLY_LIMIT)
                .map(|l| pos.location(view, l))
                .collect()
        },
    )
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
    s.at_position(
        at,
        |_| true,
        |view, cur, pos, _| symbols_of_document(view, cur, pos),
    )
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

pub(crate) fn query(s: &Session, p: GraphQueryParams) -> Answer<GraphQueryResult> {
    if s.agent().is_some()
        && let Some(relation) = beyond_the_code_graph(&p.script)
    {
        return Answer::Now(Err(RpcError::new(
            code::INVALID_PARAMS,
            format!(
                "an agent's query reads the code graph only ({}); `{relation}` is not one of \
                 its relations",
                CODE_RELATIONS.join(", ")
            ),
        )));
    }
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
    // finished as the request came, with a catch-up pass for what changed while it ran (it may
    // have listed the files before some were written): the answer covers every file on disk
    // when it came.
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
            let first = match index.settled(FIRST_PASS_WAIT).await {
                IndexState::Ready(stats) => (*stats).clone(),
                IndexState::Failed(e) => return Err(RpcError::new(code::NOT_FOUND, e)),
                _ => {
                    return Err(RpcError::internal(
                        "the workspace's first index pass did not finish in time",
                    ));
                }
            };
            let (engine2, index2) = (engine.clone(), index.clone());
            let after = tokio::task::spawn_blocking(move || engine2.run_index(&index2, false))
                .await
                .map_err(RpcError::internal)?
                .map_err(|e| RpcError::new(code::NOT_FOUND, e.to_string()))?;
            (caught_up(first, after), index.load_time())
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
                name: s.name.to_string(),
                detail: (!s.signature.is_empty()).then(|| s.signature.to_string()),
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

pub(super) fn workspace_symbol(
    view: &View<'_>,
    pos: &mut Positions<'_>,
    s: SymRef,
) -> WorkspaceSymbol {
    let symbol = view.symbol(s);
    let container = symbol.owner.or_else(|| {
        symbol
            .container
            .map(|c| view.facts(s.file).symbols[c as usize].name)
    });
    WorkspaceSymbol {
        name: symbol.name.to_string(),
        kind: lsp_symbol_kind(symbol.kind),
        location: pos.location(
            view,
            GraphLocation {
                file: s.file,
                span: symbol.name_span,
            },
        ),
        container_name: container.map(String::from),
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
        name: symbol.name.to_string(),
        kind: lsp_symbol_kind(symbol.kind),
        detail: (!symbol.signature.is_empty()).then(|| symbol.signature.to_string()),
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

/// A first pass with the catch-up pass that followed it, as one: what both did, and the workspace
/// as the second left it.
fn caught_up(first: IndexStats, after: IndexStats) -> IndexStats {
    if after.parsed + after.reused + after.removed == 0 {
        return first;
    }
    let (parsed, reused) = (first.parsed + after.parsed, first.reused + after.reused);
    IndexStats {
        files: after.files,
        parsed,
        reused,
        unchanged: after.files.saturating_sub(parsed + reused),
        removed: first.removed + after.removed,
        skipped: after.skipped,
        bytes_parsed: first.bytes_parsed + after.bytes_parsed,
        symbols: after.symbols,
        references: after.references,
        elapsed: first.elapsed + after.elapsed,
    }
}

/// The relations an agent's query may read: the code graph (its messages, memories and the
/// other agents' rows are read through their own tools, as their owner).
const CODE_RELATIONS: &[&str] = &["file", "content", "symbol", "reference", "import"];

/// The first stored relation (`*name`) or system command (`::`) a script names that is not the
/// code graph's. Read lexically, so a name inside a string counts too: refused, never let by.
fn beyond_the_code_graph(script: &str) -> Option<String> {
    if script.contains("::") {
        return Some("::".into());
    }
    let bytes = script.as_bytes();
    let mut i = 0;
    // `*name` reads a stored relation, `~name:index` searches one (`<~` applies a fixed rule).
    while let Some(at) = script[i..].find(['*', '~']) {
        let start = i + at + 1;
        if bytes[start - 1] == b'~' && start >= 2 && bytes[start - 2] == b'<' {
            i = start;
            continue;
        }
        let end = start
            + script[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(script.len() - start);
        let name = &script[start..end];
        let relation = name.split(':').next().unwrap_or_default();
        if !relation.is_empty() && !CODE_RELATIONS.contains(&relation) {
            return Some(relation.to_owned());
        }
        i = end.max(start);
        if i >= bytes.len() {
            break;
        }
    }
    None
}

#[cfg(test)]
mod agent_query_tests {
    use super::beyond_the_code_graph;

    #[test]
    fn an_agents_query_reads_the_code_graph_only() {
        assert_eq!(
            beyond_the_code_graph("?[n] := *symbol{name: n}, *file{path}"),
            None
        );
        assert_eq!(
            beyond_the_code_graph("?[n] := *symbol:by_name{name: n}"),
            None
        );
        assert_eq!(
            beyond_the_code_graph("?[s] := *message{signed: s}").as_deref(),
            Some("message")
        );
        assert_eq!(
            beyond_the_code_graph("?[x] := *memory {text: x}").as_deref(),
            Some("memory")
        );
        assert_eq!(beyond_the_code_graph("::relations").as_deref(), Some("::"));
        assert_eq!(
            beyond_the_code_graph("?[x] := ~memory_vec:hnsw{id: x | query: $q, k: 3}").as_deref(),
            Some("memory_vec")
        );
        assert_eq!(
            beyond_the_code_graph("?[x] <~ PageRank(*reference[])"),
            None
        );
        // Multiplication is not a relation.
        assert_eq!(beyond_the_code_graph("?[x] := x = 2 * 3"), None);
    }
}
