//! Gemini CLI: `gemini -p PROMPT --output-format stream-json`.

use super::{AgentEvent, Exit, LineParser, Turn, TurnUsage, json_line, summarize, text_at, u64_at};
use crate::classify::{classify, crash_message};
use maestro_protocol::ErrorClass;
use serde_json::Value;

pub(super) fn args(turn: &Turn) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if turn.interactive {
        if !turn.no_prompt() {
            args.extend(["-i".to_owned(), turn.prompt_with_persona()]);
        }
    } else {
        args.extend(["-p".to_owned(), turn.prompt_with_persona()]);
        args.extend(["--output-format", "stream-json", "--yolo"].map(String::from));
    }
    if let Some(m) = &turn.model {
        args.extend(["-m".to_owned(), m.clone()]);
    }
    if let Some(id) = &turn.session_id {
        args.extend(["--resume".to_owned(), id.clone()]);
    }
    args.extend(turn.extra_args.iter().cloned());
    args
}

#[derive(Default)]
pub(super) struct Parser {
    model: Option<String>,
    reply: String,
    last_error: Option<String>,
    ended: bool,
}

impl LineParser for Parser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let map = match json_line("gemini", line) {
            Ok(m) => m,
            Err(e) => return vec![e],
        };
        let v = Value::Object(map);
        match text_at(&v, "/type") {
            Some("init") => {
                self.model = text_at(&v, "/model").map(str::to_owned);
                text_at(&v, "/session_id")
                    .map(|id| AgentEvent::SessionStarted {
                        session_id: id.to_owned(),
                        model: self.model.clone(),
                    })
                    .into_iter()
                    .collect()
            }
            Some("message") if text_at(&v, "/role") != Some("user") => {
                let Some(text) = text_at(&v, "/content") else {
                    return Vec::new();
                };
                // `delta: true` marks a piece of a streamed message.
                if v.get("delta").and_then(Value::as_bool) != Some(true) {
                    self.reply.clear();
                }
                self.reply.push_str(text);
                vec![AgentEvent::Text {
                    text: text.to_owned(),
                }]
            }
            Some("tool_use") => vec![AgentEvent::ToolUse {
                tool: text_at(&v, "/tool_name").unwrap_or("tool").to_owned(),
                summary: summarize(v.get("parameters")),
            }],
            Some("error") => {
                let message = text_at(&v, "/message").unwrap_or("error").to_owned();
                self.last_error = Some(message.clone());
                vec![AgentEvent::Error {
                    class: classify(&message),
                    message: format!("gemini: {message}"),
                    fatal: false,
                }]
            }
            Some("result") => self.result(&v),
            _ => Vec::new(),
        }
    }

    fn exit(&mut self, exit: &Exit) -> Vec<AgentEvent> {
        if self.ended {
            return Vec::new();
        }
        // Gemini's documented exit codes.
        let (class, why) = match exit.code {
            Some(42) => (ErrorClass::Agent, "bad input (exit code 42)"),
            Some(53) => (ErrorClass::Agent, "turn limit reached (exit code 53)"),
            _ => {
                let text = format!(
                    "{}\n{}",
                    self.last_error.as_deref().unwrap_or(""),
                    exit.stderr_tail
                );
                return vec![AgentEvent::Error {
                    class: match classify(&text) {
                        ErrorClass::Agent => ErrorClass::Crash,
                        c => c,
                    },
                    message: crash_message("gemini", exit, "without a result"),
                    fatal: true,
                }];
            }
        };
        vec![AgentEvent::Error {
            class,
            message: format!("gemini stopped: {why}"),
            fatal: true,
        }]
    }
}

impl Parser {
    fn result(&mut self, v: &Value) -> Vec<AgentEvent> {
        self.ended = true;
        let usage = AgentEvent::Usage(TurnUsage {
            model: self.model.clone(),
            input_tokens: u64_at(v, "/stats/input_tokens"),
            output_tokens: u64_at(v, "/stats/output_tokens"),
            cache_read_tokens: u64_at(v, "/stats/cached"),
            cache_write_tokens: 0,
            cost_usd: None,
        });
        let outcome = if text_at(v, "/status") == Some("error") {
            // The error object is optional; fall back on the last `error` line.
            let message = text_at(v, "/error/message")
                .map(str::to_owned)
                .or_else(|| self.last_error.clone())
                .unwrap_or_else(|| "the turn ended in an error".to_owned());
            AgentEvent::Error {
                class: classify(&message),
                message: format!("gemini: {message}"),
                fatal: true,
            }
        } else {
            AgentEvent::Result {
                text: (!self.reply.is_empty()).then(|| std::mem::take(&mut self.reply)),
            }
        };
        vec![usage, outcome]
    }
}
