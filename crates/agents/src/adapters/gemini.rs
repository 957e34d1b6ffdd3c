//! Gemini CLI: `gemini -p PROMPT --output-format stream-json`.

use super::{
    Access, AgentEvent, Exit, LineParser, Turn, TurnUsage, json_line, summarize, text_at, u64_at,
};
use crate::classify::{classify, crash_message};
use maestro_protocol::ErrorClass;
use serde_json::Value;

pub(super) fn args(turn: &Turn) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if turn.interactive {
        if !turn.no_prompt() {
            // One argument: a prompt starting with `-` stays the option's value.
            args.push(format!(
                "--prompt-interactive={}",
                turn.prompt_with_persona()
            ));
        }
    } else {
        args.push(format!("--prompt={}", turn.prompt_with_persona()));
        args.extend(["--output-format", "stream-json"].map(String::from));
        // Headless, tools that need approval are not offered at all: `--yolo` gives an agent
        // that may commit its shell; a cautious one may edit only.
        match turn.access {
            Access::Commit { .. } => args.push("--yolo".to_owned()),
            Access::Cautious => args.extend(["--approval-mode", "auto_edit"].map(String::from)),
            Access::ReadOnly => args.extend(["--approval-mode", "plan"].map(String::from)),
        }
    }
    // Every fresh worktree is a folder Gemini has not been told to trust: without this it exits
    // with code 55 on every turn. maestro chose the folder, the person chose the agent.
    args.push("--skip-trust".to_owned());
    if let Some(m) = &turn.model {
        args.extend(["-m".to_owned(), m.clone()]);
    }
    if let Some(id) = &turn.session_id {
        args.extend(["--resume".to_owned(), id.clone()]);
    }
    args.extend(turn.extra_args.iter().cloned());
    args
}

/// Gemini's home for a run with maestro's tools, at `home`: `.gemini/settings.json` is the
/// user's (`$HOME/.gemini/settings.json`, if any) with maestro's server added, trusted (a
/// headless turn cannot confirm a tool call); every other entry of the user's `.gemini` is a
/// link to it, so sessions, credentials and history stay the user's.
pub(super) fn home(
    tools: &super::ToolServer,
    home: &std::path::Path,
) -> Vec<crate::process::Prepare> {
    use crate::process::Prepare;
    let user = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".gemini"))
        .unwrap_or_default();
    let dir = home.join(".gemini");
    let mut prepare = Vec::new();
    for entry in std::fs::read_dir(&user).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name != "settings.json" {
            prepare.push(Prepare::Link {
                path: dir.join(&name),
                target: entry.path(),
            });
        }
    }
    let mut settings = std::fs::read_to_string(user.join("settings.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    let env = tools.env_json();
    if !settings["mcpServers"].is_object() {
        settings["mcpServers"] = serde_json::json!({});
    }
    settings["mcpServers"][tools.name.as_str()] = serde_json::json!({
        "command": tools.program.display().to_string(),
        "args": tools.args,
        "env": env,
        "trust": true,
    });
    prepare.push(Prepare::File {
        path: dir.join("settings.json"),
        text: settings.to_string(),
    });
    prepare
}

#[derive(Default)]
pub(super) struct Parser {
    model: Option<String>,
    reply: String,
    /// A message streamed in `delta` pieces, shown whole once it ends.
    streaming: String,
    last_error: Option<String>,
    ended: bool,
    /// Tool uses by id: name and summary, for failed results.
    tools: std::collections::HashMap<String, (String, String)>,
}

impl LineParser for Parser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let map = match json_line("gemini", line) {
            Ok(m) => m,
            Err(e) => return vec![e],
        };
        let v = Value::Object(map);
        let kind = text_at(&v, "/type");
        let continues = kind == Some("message")
            && text_at(&v, "/role") != Some("user")
            && v.get("delta").and_then(Value::as_bool) == Some(true);
        let mut events = if continues { Vec::new() } else { self.flush() };
        events.extend(self.event(kind, &v));
        events
    }

    fn exit(&mut self, exit: &Exit) -> Vec<AgentEvent> {
        let mut events = self.flush();
        events.extend(self.ending(exit));
        events
    }
}

impl Parser {
    /// The streamed message so far, as one text event.
    fn flush(&mut self) -> Vec<AgentEvent> {
        if self.streaming.is_empty() {
            return Vec::new();
        }
        vec![AgentEvent::Text {
            text: std::mem::take(&mut self.streaming),
        }]
    }

    fn event(&mut self, kind: Option<&str>, v: &Value) -> Vec<AgentEvent> {
        match kind {
            Some("init") => {
                // `auto` is a routing mode, not a model: the models used come with the result.
                self.model = text_at(v, "/model")
                    .filter(|m| *m != "auto")
                    .map(str::to_owned);
                text_at(v, "/session_id")
                    .map(|id| AgentEvent::SessionStarted {
                        session_id: id.to_owned(),
                        model: self.model.clone(),
                    })
                    .into_iter()
                    .collect()
            }
            Some("message") if text_at(v, "/role") != Some("user") => {
                let Some(text) = text_at(v, "/content") else {
                    return Vec::new();
                };
                // `delta: true` marks a piece of a streamed message.
                if v.get("delta").and_then(Value::as_bool) == Some(true) {
                    if self.streaming.is_empty() {
                        self.reply.clear();
                    }
                    self.reply.push_str(text);
                    self.streaming.push_str(text);
                    return Vec::new();
                }
                self.reply = text.to_owned();
                vec![AgentEvent::Text {
                    text: text.to_owned(),
                }]
            }
            Some("tool_use") => {
                let tool = text_at(v, "/tool_name").unwrap_or("tool").to_owned();
                let summary = summarize(v.get("parameters"));
                if let Some(id) = text_at(v, "/tool_id") {
                    self.tools
                        .insert(id.to_owned(), (tool.clone(), summary.clone()));
                }
                vec![AgentEvent::ToolUse { tool, summary }]
            }
            Some("tool_result") if text_at(v, "/status") == Some("error") => {
                let (tool, summary) = text_at(v, "/tool_id")
                    .and_then(|id| self.tools.get(id).cloned())
                    .unwrap_or_else(|| ("tool".to_owned(), String::new()));
                let detail = text_at(v, "/error/message")
                    .or_else(|| text_at(v, "/output"))
                    .unwrap_or("error");
                vec![AgentEvent::ToolFailed {
                    tool,
                    summary,
                    denied: text_at(v, "/error/type").is_some_and(|t| t.contains("denied")),
                    detail: detail.to_owned(),
                }]
            }
            Some("error") => {
                let message = text_at(v, "/message").unwrap_or("error").to_owned();
                self.last_error = Some(message.clone());
                vec![AgentEvent::Error {
                    class: classify(&message),
                    message: format!("gemini: {message}"),
                    fatal: false,
                }]
            }
            Some("result") => self.result(v),
            _ => Vec::new(),
        }
    }

    fn ending(&mut self, exit: &Exit) -> Vec<AgentEvent> {
        if self.ended {
            return Vec::new();
        }
        // Gemini's documented exit codes.
        let (class, why) = match exit.code {
            Some(42) => (ErrorClass::Agent, "bad input (exit code 42)"),
            Some(53) => (ErrorClass::Agent, "turn limit reached (exit code 53)"),
            Some(55) => (
                ErrorClass::Agent,
                "it does not trust the folder (exit code 55): trust it in `gemini`, or set GEMINI_CLI_TRUST_WORKSPACE=true",
            ),
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

    fn result(&mut self, v: &Value) -> Vec<AgentEvent> {
        self.ended = true;
        // Gemini counts cached tokens inside its input tokens, as OpenAI does; maestro counts
        // them apart.
        let usage_of = |model: Option<String>, stats: &Value| {
            let cached = u64_at(stats, "/cached");
            AgentEvent::Usage(TurnUsage {
                model,
                input_tokens: u64_at(stats, "/input_tokens").saturating_sub(cached),
                output_tokens: u64_at(stats, "/output_tokens"),
                cache_read_tokens: cached,
                cache_write_tokens: 0,
                cost_usd: None,
            })
        };
        // Per model when the result says (newer versions; a turn may use a router model and
        // a worker model), else the totals.
        let mut events: Vec<AgentEvent> =
            match v.pointer("/stats/models").and_then(Value::as_object) {
                Some(models) if !models.is_empty() => models
                    .iter()
                    .map(|(model, stats)| usage_of(Some(model.clone()), stats))
                    .collect(),
                _ => vec![usage_of(
                    self.model.clone(),
                    v.get("stats").unwrap_or(&Value::Null),
                )],
            };
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
        events.push(outcome);
        events
    }
}
