//! Codex CLI: `codex exec --json`.

use super::{AgentEvent, Exit, LineParser, Turn, TurnUsage, json_line, summarize, text_at, u64_at};
use crate::classify::classify;
use serde_json::Value;

pub(super) fn args(turn: &Turn) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if !turn.interactive {
        args.extend(
            [
                "exec",
                "--json",
                "--sandbox",
                "workspace-write",
                "--skip-git-repo-check",
            ]
            .map(String::from),
        );
    }
    if let Some(m) = &turn.model {
        args.extend(["-m".to_owned(), m.clone()]);
    }
    args.extend(turn.extra_args.iter().cloned());
    // Flags go before `resume`.
    if let Some(id) = &turn.session_id {
        args.extend(["resume".to_owned(), id.clone()]);
    }
    if !turn.no_prompt() {
        args.push(turn.prompt_with_persona());
    }
    args
}

#[derive(Default)]
pub(super) struct Parser {
    last_message: Option<String>,
    ended: bool,
}

impl LineParser for Parser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let map = match json_line("codex", line) {
            Ok(m) => m,
            Err(e) => return vec![e],
        };
        let v = Value::Object(map);
        match text_at(&v, "/type") {
            Some("thread.started") => session(text_at(&v, "/thread_id")),
            // Older builds.
            Some("session_meta") => session(text_at(&v, "/payload/id")),
            Some("item.completed") => self.item(&v["item"]),
            Some("turn.completed") => {
                self.ended = true;
                vec![
                    AgentEvent::Usage(TurnUsage {
                        model: None,
                        input_tokens: u64_at(&v, "/usage/input_tokens"),
                        output_tokens: u64_at(&v, "/usage/output_tokens"),
                        cache_read_tokens: u64_at(&v, "/usage/cached_input_tokens"),
                        cache_write_tokens: 0,
                        cost_usd: None,
                    }),
                    AgentEvent::Result {
                        text: self.last_message.take(),
                    },
                ]
            }
            Some("turn.failed") => {
                self.ended = true;
                let message = text_at(&v, "/error/message").unwrap_or("turn failed");
                vec![AgentEvent::Error {
                    class: classify(message),
                    message: format!("codex: {message}"),
                    fatal: true,
                }]
            }
            // Transient errors (a reconnect) come as `error` too; `turn.failed` ends the turn.
            Some("error") => {
                let message = text_at(&v, "/message").unwrap_or("error");
                vec![AgentEvent::Error {
                    class: classify(message),
                    message: format!("codex: {message}"),
                    fatal: false,
                }]
            }
            _ => Vec::new(),
        }
    }

    fn exit(&mut self, exit: &Exit) -> Vec<AgentEvent> {
        super::structured_exit("codex", self.ended, exit)
    }
}

fn session(id: Option<&str>) -> Vec<AgentEvent> {
    id.map(|id| AgentEvent::SessionStarted {
        session_id: id.to_owned(),
        model: None,
    })
    .into_iter()
    .collect()
}

impl Parser {
    fn item(&mut self, item: &Value) -> Vec<AgentEvent> {
        let tool = |tool: &str, summary: String| {
            vec![AgentEvent::ToolUse {
                tool: tool.to_owned(),
                summary,
            }]
        };
        match text_at(item, "/type") {
            Some("agent_message") => {
                let Some(text) = text_at(item, "/text") else {
                    return Vec::new();
                };
                self.last_message = Some(text.to_owned());
                vec![AgentEvent::Text {
                    text: text.to_owned(),
                }]
            }
            Some("command_execution") => tool("shell", summarize(item.get("command"))),
            Some("file_change") => {
                let paths: Vec<&str> = item
                    .get("changes")
                    .and_then(Value::as_array)
                    .map(|c| c.iter().filter_map(|c| text_at(c, "/path")).collect())
                    .unwrap_or_default();
                tool("edit", paths.join(", "))
            }
            Some("mcp_tool_call") => tool(
                &format!(
                    "{}.{}",
                    text_at(item, "/server").unwrap_or("mcp"),
                    text_at(item, "/tool").unwrap_or("tool")
                ),
                summarize(item.get("arguments")),
            ),
            Some("web_search") => tool("web_search", summarize(item.get("query"))),
            Some("error") => {
                let message = text_at(item, "/message").unwrap_or("error");
                vec![AgentEvent::Error {
                    class: classify(message),
                    message: format!("codex: {message}"),
                    fatal: false,
                }]
            }
            // reasoning, todo_list and newer item types.
            _ => Vec::new(),
        }
    }
}
