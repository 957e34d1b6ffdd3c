//! Code actions (delegate a fix, a selection or tests to an agent; run a playbook) and the code
//! context a delegated task carries (the lines, the definition around them, its callers).

use super::*;

pub(crate) fn code_actions(s: &Session, p: CodeActionParams) -> Answer<Vec<CodeAction>> {
    s.code_actions(p)
}

impl Session {
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
}

/// Kinds worth writing tests for: functions, methods, macros and types.
fn testable(kind: SymbolKind) -> bool {
    kind.is_callable() || kind.is_type_like()
}

/// A symbol's name with its owner: `Greeter.greet`.
fn qualified(symbol: &maestro_graph::Symbol) -> String {
    match &symbol.owner {
        Some(owner) => format!("{owner}.{}", symbol.name),
        None => symbol.name.to_string(),
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
        signature: symbol.signature.to_string(),
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
