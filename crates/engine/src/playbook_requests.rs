//! The playbook methods (`maestro/playbook.*`): runs started, steered and shown, and the
//! problems and open tasks of a markdown document for editors (diagnostics, code lenses).
//!
//! The `maestro/playbook.*` methods; `lint` gives a markdown buffer's problems
//! (the parser's, as warnings with their lines; `@agents` that are neither an agent of the
//! workspace nor an agent CLI, as errors) and its open tasks, from the session's buffer or the
//! file; `codeLens` puts "▶ Run task" and "Run from here" on each open task that is not a review
//! gate (commands `maestro.playbook.run` with `only` / `from`); `maestro/codeActions` adds "Run
//! this playbook" (kind `source`) on a markdown document with open tasks.

use crate::agent_settings::{settings, workspace_of};
use crate::session::{Answer, Session};
use crate::text::uri_to_path;
use maestro_playbook::run::Control;
use maestro_protocol::{
    DocumentSymbolParams, PlaybookHistoryResult, PlaybookLintParams, PlaybookLintResult,
    PlaybookLintTask, PlaybookProblem, PlaybookRunInfo, PlaybookRunParams, PlaybookRunRef,
    PlaybookRunResult, PlaybookStatusResult, RpcError, RunStatus, code, command, method,
};
use serde_json::{Value, json};

/// A refusal of the run engine as an RPC error.
fn refused(message: String) -> RpcError {
    let code = if message.starts_with("no playbook run") || message.contains("cannot read it") {
        code::NOT_FOUND
    } else {
        code::INVALID_PARAMS
    };
    RpcError::new(code, message)
}

pub(crate) fn run(s: &Session, p: PlaybookRunParams) -> Answer<PlaybookRunResult> {
    let engine = s.engine.clone();
    Answer::later(async move { engine.playbooks().start(p).await.map_err(refused) })
}

pub(crate) fn status(s: &Session, p: PlaybookRunRef) -> Answer<PlaybookStatusResult> {
    Answer::Now(
        s.engine
            .playbooks()
            .list(p.id.as_deref())
            .map(|runs| PlaybookStatusResult { runs })
            .map_err(refused),
    )
}

pub(crate) fn history(s: &Session, p: PlaybookRunRef) -> Answer<PlaybookHistoryResult> {
    Answer::Now(
        s.engine
            .playbooks()
            .history(p.id.as_deref())
            .map(|(run, events)| PlaybookHistoryResult { run, events })
            .map_err(refused),
    )
}

pub(crate) fn stop(s: &Session, p: PlaybookRunRef) -> Answer<PlaybookRunInfo> {
    control(s, p, Control::Stop)
}

pub(crate) fn pause(s: &Session, p: PlaybookRunRef) -> Answer<PlaybookRunInfo> {
    control(s, p, Control::Pause)
}

pub(crate) fn resume(s: &Session, p: PlaybookRunRef) -> Answer<PlaybookRunInfo> {
    control(s, p, Control::Resume)
}

pub(crate) fn approve(s: &Session, p: PlaybookRunRef) -> Answer<PlaybookRunInfo> {
    control(s, p, Control::Approve)
}

fn control(s: &Session, p: PlaybookRunRef, what: Control) -> Answer<PlaybookRunInfo> {
    let engine = s.engine.clone();
    Answer::later(async move {
        engine
            .playbooks()
            .control(p.id.as_deref(), what)
            .await
            .map_err(refused)
    })
}

pub(crate) fn lint(s: &Session, p: PlaybookLintParams) -> Answer<PlaybookLintResult> {
    Answer::Now(s.lint(&p.uri))
}

pub(crate) fn code_lens(s: &Session, p: DocumentSymbolParams) -> Answer<Vec<Value>> {
    Answer::Now(s.code_lenses(&p.text_document.uri))
}

impl Session {
    /// "Run task" and "Run from here" above each open task of a playbook (none on other files),
    /// and "Approve" on a review gate a run of it waits at.
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
        // "Approve" on each review gate a run of this document waits at.
        let runs = self.engine.playbooks().list(None).unwrap_or_default();
        let gates = runs.iter().filter_map(|run| {
            let gate = run
                .gate
                .as_ref()
                .filter(|g| run.status == RunStatus::Review && g.path == facts.path)?;
            let line = gate.line.saturating_sub(1);
            Some(json!({
                "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}},
                "command": {
                    "title": format!("✓ Approve (run {} waits here)", run.id),
                    "command": command::PLAYBOOK_APPROVE,
                    "arguments": [{"id": run.id}],
                },
            }))
        });
        Ok(gates
            .chain(facts.open_tasks.iter().filter(|t| !t.review).flat_map(|t| {
                [
                    lens(t.line, "▶ Run task", "only"),
                    lens(t.line, "Run from here", "from"),
                ]
            }))
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
        if let Ok((ws, config)) = workspace_of(self.engine.config(), &path) {
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
