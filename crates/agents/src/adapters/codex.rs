//! Codex CLI: `codex exec --json`.

use super::{
    Access, AgentCli, AgentEvent, Exit, LineParser, Turn, TurnUsage, json_line, summarize, text_at,
    u64_at,
};
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
                if turn.access == Access::ReadOnly {
                    "read-only"
                } else {
                    "workspace-write"
                },
                "--skip-git-repo-check",
            ]
            .map(String::from),
        );
        // The sandbox keeps commands to the working directory, and keeps a worktree's git
        // metadata (in the main repository's `.git`) read-only even when that directory is
        // added: the worktree's own admin directory has to be added by name.
        if let Access::Commit { git_dirs } = &turn.access {
            for dir in git_dirs {
                args.extend(["--add-dir".to_owned(), dir.display().to_string()]);
            }
        }
    }
    if let Some(tools) = &turn.tools {
        // Configuration overrides for this run only: the user's `config.toml` is untouched.
        let key = format!("mcp_servers.{}", tools.name);
        let env: Vec<String> = tools
            .env
            .iter()
            .map(|(k, v)| format!("{} = {}", toml_string(k), toml_string(v)))
            .collect();
        let list: Vec<String> = tools.args.iter().map(|a| toml_string(a)).collect();
        for value in [
            format!(
                "{key}.command={}",
                toml_string(&tools.program.display().to_string())
            ),
            format!("{key}.args=[{}]", list.join(", ")),
            format!("{key}.env={{ {} }}", env.join(", ")),
            // `codex exec` cannot ask: a tool that is not read-only would be refused
            // ("requires approval, but approval policy is never"); in its terminal UI nobody
            // needs to. maestro's tools act only as this agent, on its own messages and
            // workspace.
            format!("{key}.default_tools_approval_mode=\"approve\""),
        ] {
            args.extend(["-c".to_owned(), value]);
        }
    }
    if let Some(m) = &turn.model {
        args.extend(["-m".to_owned(), m.clone()]);
    }
    args.extend(turn.extra_args.iter().cloned());
    // Flags go before `resume`.
    if let Some(id) = &turn.session_id {
        args.extend(["resume".to_owned(), id.clone()]);
    }
    // After `--`, a prompt is never an option; one too long for an argument goes on stdin (`-`).
    if !turn.no_prompt() {
        args.push("--".to_owned());
        if AgentCli::Codex.prompt_on_stdin(turn) {
            args.push("-".to_owned());
        } else {
            args.push(turn.prompt_with_persona());
        }
    }
    args
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
                // OpenAI's input tokens include the cached ones; maestro counts them apart, as
                // Anthropic does. After `exec resume` these are the session's running totals
                // (see `AgentCli::usage_is_cumulative`).
                let cached = u64_at(&v, "/usage/cached_input_tokens");
                vec![
                    AgentEvent::Usage(TurnUsage {
                        model: None,
                        input_tokens: u64_at(&v, "/usage/input_tokens").saturating_sub(cached),
                        output_tokens: u64_at(&v, "/usage/output_tokens"),
                        cache_read_tokens: cached,
                        cache_write_tokens: u64_at(&v, "/usage/cache_write_input_tokens"),
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

/// A command as Codex ran it, without its `/bin/bash -lc '…'` wrapper.
fn shell_command(command: Option<&Value>) -> String {
    let full = summarize(command);
    for shell in ["/bin/bash -lc ", "bash -lc ", "/bin/sh -c ", "sh -c "] {
        if let Some(rest) = full.strip_prefix(shell) {
            let rest = rest.trim();
            return match rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
                Some(inner) => inner.replace("'\"'\"'", "'"),
                None => rest.to_owned(),
            };
        }
    }
    full
}

/// The model of a Codex session: the last `turn_context` of its session file,
/// `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-…-<id>.jsonl` (`~/.codex` by default). The id is a
/// UUIDv7, whose first 48 bits are the session's start in Unix milliseconds: that names the
/// day's directory (the day before and after are looked at too, for local time).
pub(super) fn session_model(session_id: &str) -> Option<String> {
    let home = std::env::var_os("CODEX_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".codex")))?;
    let hex: String = session_id.chars().filter(|c| *c != '-').take(12).collect();
    let millis = u64::from_str_radix(&hex, 16).ok()?;
    let day = millis / 1000 / 86_400;
    for d in [day, day.saturating_sub(1), day + 1] {
        let (y, m, dd) = maestro_store::utc_date(d * 86_400);
        let dir = home.join(format!("sessions/{y:04}/{m:02}/{dd:02}"));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let suffix = format!("{session_id}.jsonl");
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().ends_with(&suffix) {
                let text = std::fs::read_to_string(entry.path()).ok()?;
                return text
                    .lines()
                    .rev()
                    .filter(|l| l.contains("\"turn_context\""))
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .find_map(|v| text_at(&v, "/payload/model").map(str::to_owned));
            }
        }
    }
    None
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
            Some("command_execution") => {
                let command = shell_command(item.get("command"));
                let status = text_at(item, "/status").unwrap_or("completed");
                let code = item.get("exit_code").and_then(Value::as_i64);
                let mut events = tool("shell", command.clone());
                if status == "declined" || status == "failed" || code.is_some_and(|c| c != 0) {
                    let output = text_at(item, "/aggregated_output").unwrap_or_default();
                    let last = output.lines().rev().find(|l| !l.trim().is_empty());
                    let detail = match (code, last) {
                        (Some(c), Some(l)) => format!("exit code {c}: {}", l.trim()),
                        (Some(c), None) => format!("exit code {c}"),
                        (None, Some(l)) => format!("{status}: {}", l.trim()),
                        (None, None) => status.to_owned(),
                    };
                    events.push(AgentEvent::ToolFailed {
                        tool: "shell".into(),
                        summary: command,
                        denied: status == "declined",
                        detail,
                    });
                }
                events
            }
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
