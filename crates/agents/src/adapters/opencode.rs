//! OpenCode: `opencode run --format json`.

use super::{AgentEvent, Exit, LineParser, Turn, TurnUsage, json_line, summarize, text_at, u64_at};
use crate::classify::classify;
use serde_json::Value;

pub(super) fn args(turn: &Turn) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if !turn.interactive {
        args.extend(["run", "--format", "json"].map(String::from));
    }
    if let Some(m) = &turn.model {
        args.extend(["-m".to_owned(), m.clone()]);
    }
    if let Some(id) = &turn.session_id {
        args.extend(["--session".to_owned(), id.clone()]);
    }
    args.extend(turn.extra_args.iter().cloned());
    if turn.interactive && !turn.no_prompt() {
        args.push(format!("--prompt={}", turn.prompt_with_persona()));
    }
    // Headless, the prompt goes on stdin (see `AgentCli::prompt_on_stdin`): never an option,
    // never quoted, any length.
    args
}

#[derive(Default)]
pub(super) struct Parser {
    session: Option<String>,
    reply: Option<String>,
    failed: bool,
    ended: bool,
}

impl LineParser for Parser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let map = match json_line("opencode", line) {
            Ok(m) => m,
            Err(e) => return vec![e],
        };
        let v = Value::Object(map);
        let mut events = Vec::new();
        if self.session.is_none()
            && let Some(id) = text_at(&v, "/sessionID")
        {
            self.session = Some(id.to_owned());
            events.push(AgentEvent::SessionStarted {
                session_id: id.to_owned(),
                model: None,
            });
        }
        match text_at(&v, "/type") {
            Some("text") => {
                if let Some(text) = text_at(&v, "/part/text") {
                    self.reply = Some(text.to_owned());
                    events.push(AgentEvent::Text {
                        text: text.to_owned(),
                    });
                }
            }
            Some("tool_use") => {
                let tool = text_at(&v, "/part/tool").unwrap_or("tool").to_owned();
                let summary = summarize(v.pointer("/part/state/input"));
                events.push(AgentEvent::ToolUse {
                    tool: tool.clone(),
                    summary: summary.clone(),
                });
                if text_at(&v, "/part/state/status") == Some("error") {
                    let detail = text_at(&v, "/part/state/error").unwrap_or("error");
                    events.push(AgentEvent::ToolFailed {
                        tool,
                        summary,
                        // Refusals by the permission rules read "…rule… prevents you…".
                        denied: detail.contains("rule") || detail.contains("permission"),
                        detail: detail.to_owned(),
                    });
                }
            }
            Some("step_finish") => events.push(AgentEvent::Usage(TurnUsage {
                model: None,
                input_tokens: u64_at(&v, "/part/tokens/input"),
                // Reasoning tokens are billed as output.
                output_tokens: u64_at(&v, "/part/tokens/output")
                    + u64_at(&v, "/part/tokens/reasoning"),
                cache_read_tokens: u64_at(&v, "/part/tokens/cache/read"),
                cache_write_tokens: u64_at(&v, "/part/tokens/cache/write"),
                // OpenCode reports $0 for a model it has no price for: unknown, not free.
                cost_usd: v
                    .pointer("/part/cost")
                    .and_then(Value::as_f64)
                    .filter(|c| *c > 0.0 || u64_at(&v, "/part/tokens/input") == 0),
            })),
            Some("error") => {
                self.failed = true;
                // The error's shape varies across versions.
                let message = [
                    "/error/data/message",
                    "/error/message",
                    "/part/error",
                    "/message",
                ]
                .into_iter()
                .find_map(|p| text_at(&v, p))
                .unwrap_or("error");
                events.push(AgentEvent::Error {
                    class: classify(message),
                    message: format!("opencode: {message}"),
                    fatal: true,
                });
            }
            // Newer versions end with `done`; older ones just exit.
            Some("done") if !self.failed => {
                self.ended = true;
                events.push(AgentEvent::Result {
                    text: self.reply.take(),
                });
            }
            _ => {}
        }
        events
    }

    fn exit(&mut self, exit: &Exit) -> Vec<AgentEvent> {
        if self.ended || self.failed {
            return Vec::new();
        }
        if exit.success() {
            self.ended = true;
            return vec![AgentEvent::Result {
                text: self.reply.take(),
            }];
        }
        super::structured_exit("opencode", false, exit)
    }
}
