//! The playbook methods (`maestro/playbook.*`): runs started, steered and shown, and the
//! problems and open tasks of a markdown document for editors (diagnostics, code lenses).

use crate::agent_requests::{settings, workspace_of};
use crate::session::{Reply, Session, now, ok};
use crate::text::uri_to_path;
use futures::FutureExt;
use maestro_playbook::run::Control;
use maestro_protocol::{
    PlaybookHistoryResult, PlaybookLintParams, PlaybookLintResult, PlaybookLintTask,
    PlaybookProblem, PlaybookRunParams, PlaybookRunRef, PlaybookStatusResult, RpcError, code,
    command, method, parse_params,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// `{"textDocument": {"uri": …}}`, as LSP's document requests start.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentRef {
    text_document: UriOnly,
}

#[derive(Deserialize)]
struct UriOnly {
    uri: String,
}

/// A refusal of the run engine as an RPC error.
fn refused(message: String) -> RpcError {
    let code = if message.starts_with("no playbook run") || message.contains("cannot read it") {
        code::NOT_FOUND
    } else {
        code::INVALID_PARAMS
    };
    RpcError::new(code, message)
}

impl Session {
    pub(crate) fn playbook_request(&self, method: &str, params: Value) -> Option<Reply> {
        let engine = self.engine.clone();
        Some(match method {
            method::PLAYBOOK_RUN => match parse_params::<PlaybookRunParams>(method, params) {
                Ok(p) => {
                    async move { ok(engine.playbooks().start(p).await.map_err(refused)?) }.boxed()
                }
                Err(e) => now(Err(e)),
            },
            method::PLAYBOOK_STATUS => now(parse_params::<PlaybookRunRef>(method, params)
                .and_then(|p| {
                    ok(PlaybookStatusResult {
                        runs: engine.playbooks().list(p.id.as_deref()).map_err(refused)?,
                    })
                })),
            method::PLAYBOOK_HISTORY => now(parse_params::<PlaybookRunRef>(method, params)
                .and_then(|p| {
                    let (run, events) = engine
                        .playbooks()
                        .history(p.id.as_deref())
                        .map_err(refused)?;
                    ok(PlaybookHistoryResult { run, events })
                })),
            method::PLAYBOOK_STOP
            | method::PLAYBOOK_PAUSE
            | method::PLAYBOOK_RESUME
            | method::PLAYBOOK_APPROVE => {
                let what = match method {
                    method::PLAYBOOK_STOP => Control::Stop,
                    method::PLAYBOOK_PAUSE => Control::Pause,
                    method::PLAYBOOK_RESUME => Control::Resume,
                    _ => Control::Approve,
                };
                match parse_params::<PlaybookRunRef>(method, params) {
                    Ok(p) => async move {
                        ok(engine
                            .playbooks()
                            .control(p.id.as_deref(), what)
                            .await
                            .map_err(refused)?)
                    }
                    .boxed(),
                    Err(e) => now(Err(e)),
                }
            }
            method::PLAYBOOK_LINT => now(parse_params::<PlaybookLintParams>(method, params)
                .and_then(|p| ok(self.lint(&p.uri)?))),
            method::PLAYBOOK_CODE_LENS => now(parse_params::<DocumentRef>(method, params)
                .and_then(|p| ok(self.code_lenses(&p.text_document.uri)?))),
            _ => return None,
        })
    }

    /// "Run task" and "Run from here" above each open task of a playbook (none on other files).
    fn code_lenses(&self, uri: &str) -> Result<Vec<Value>, RpcError> {
        let markdown = uri_to_path(uri).is_some_and(|p| maestro_playbook::run::is_markdown(&p));
        if !markdown {
            return Ok(Vec::new());
        }
        let facts = self.lint(uri)?;
        if !facts.is_playbook {
            return Ok(Vec::new());
        }
        let lens = |line: u32, title: &str, at: &str| {
            let mut args = json!({"paths": [facts.path]});
            args[at] = json!({"path": facts.path, "line": line + 1});
            json!({
                "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}},
                "command": {"title": title, "command": command::PLAYBOOK_RUN, "arguments": [args]},
            })
        };
        Ok(facts
            .open_tasks
            .iter()
            .filter(|t| !t.review)
            .flat_map(|t| {
                [
                    lens(t.line, "▶ Run task", "only"),
                    lens(t.line, "Run from here", "from"),
                ]
            })
            .collect())
    }

    /// Problems (the parser's, and `@agents` that name no agent nor agent CLI) and open tasks of
    /// a markdown buffer open on this connection, or of the file.
    pub(crate) fn lint(&self, uri: &str) -> Result<PlaybookLintResult, RpcError> {
        let path = uri_to_path(uri).ok_or_else(|| {
            RpcError::invalid_params(method::PLAYBOOK_LINT, format!("{uri} is not a file URI"))
        })?;
        let open = self
            .state
            .documents
            .lock()
            .unwrap()
            .get(uri)
            .map(|d| d.text().into_bytes());
        let bytes = match open {
            Some(b) => b,
            None => std::fs::read(&path).map_err(|e| {
                RpcError::not_found(format!("{uri} is neither open nor readable: {e}"))
            })?,
        };
        let book = maestro_playbook::parse(&bytes);
        let mut problems: Vec<PlaybookProblem> = book
            .problems
            .iter()
            .map(|pr| PlaybookProblem {
                line: pr.line.saturating_sub(1),
                message: pr.message.clone(),
                severity: "warning".into(),
            })
            .collect();
        let named = book
            .tasks
            .iter()
            .filter_map(|t| t.agent.as_ref().map(|a| (t.line, a.clone())))
            .chain(book.options.agent.iter().map(|a| (1, a.clone())));
        if let Ok((ws, config)) = workspace_of(&self.engine, &path) {
            for (line, name) in named {
                let known = self.engine.agents().get(&ws.id, &name).is_ok()
                    || settings(&config, &name).is_ok();
                if !known {
                    problems.push(PlaybookProblem {
                        line: line.saturating_sub(1),
                        message: format!(
                            "unknown agent `@{name}`: not an agent of this workspace nor an agent CLI (claude, codex, gemini, opencode, aider, or one under [agents.custom])"
                        ),
                        severity: "error".into(),
                    });
                }
            }
        }
        problems.sort_by_key(|p| p.line);
        Ok(PlaybookLintResult {
            path,
            is_playbook: !book.tasks.is_empty(),
            problems,
            open_tasks: book
                .tasks
                .iter()
                .filter(|t| !t.done)
                .map(|t| PlaybookLintTask {
                    line: t.line - 1,
                    text: t.text.clone(),
                    review: t.review,
                })
                .collect(),
        })
    }
}
