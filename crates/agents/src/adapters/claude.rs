//! Claude Code: `claude -p --verbose --output-format stream-json`.

use super::{
    Access, AgentCli, AgentEvent, Exit, LineParser, Turn, TurnUsage, json_line, summarize, text_at,
    u64_at,
};
use crate::classify::classify;
use maestro_protocol::ErrorClass;
use serde_json::Value;

pub(super) fn args(turn: &Turn) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if !turn.interactive {
        args.extend(["-p", "--verbose", "--output-format", "stream-json"].map(String::from));
        // Headless turns cannot answer permission prompts. Edits are accepted (Claude keeps its
        // edit tools inside the working directory); commands need `Bash` allowed, which
        // `acceptEdits` alone denies (`git commit` among them). Bypass mode would allow the
        // same and more, and Claude refuses it as root.
        // A read-only turn (a consult) plans: it reads and answers, and changes nothing.
        let mode = if turn.access == Access::ReadOnly {
            "plan"
        } else {
            "acceptEdits"
        };
        args.extend(["--permission-mode".to_owned(), mode.to_owned()]);
        let mut allowed = Vec::new();
        let own_worktree = matches!(turn.access, Access::Commit { .. });
        match &turn.tools {
            // What it would ask a person goes to maestro's attention policy (answered by rule,
            // or by the person): only the tools the policy allows whole are allowed outright.
            Some(tools) if own_worktree && tools.permission_tool.is_some() => {
                let tool = tools.permission_tool.as_deref().unwrap_or_default();
                args.extend([
                    "--permission-prompt-tool".to_owned(),
                    format!("mcp__{}__{tool}", tools.name),
                ]);
                allowed.extend(tools.unasked.iter().cloned());
            }
            _ if own_worktree => allowed.push("Bash".to_owned()),
            _ => {}
        }
        if let Some(tools) = &turn.tools {
            // maestro's tools are the agent's own (scoped to it by the daemon): all allowed.
            allowed.push(format!("mcp__{}", tools.name));
            args.extend(["--mcp-config".to_owned(), mcp_config(tools)]);
        }
        if !allowed.is_empty() {
            args.push("--allowedTools".to_owned());
            args.extend(allowed);
        }
    } else if let Some(tools) = &turn.tools {
        // In its terminal UI too, maestro's tools need no question.
        args.extend(["--mcp-config".to_owned(), mcp_config(tools)]);
        args.extend(["--allowedTools".to_owned(), format!("mcp__{}", tools.name)]);
    }
    if let Some(id) = &turn.session_id {
        args.extend(["--resume".to_owned(), id.clone()]);
    }
    if let Some(m) = &turn.model {
        args.extend(["--model".to_owned(), m.clone()]);
    }
    if let Some(p) = turn.persona.as_ref().filter(|p| !p.trim().is_empty()) {
        // One argument: a persona starting with `-` stays a value.
        args.push(format!("--append-system-prompt={p}"));
    }
    args.extend(turn.extra_args.iter().cloned());
    // After `--`, a prompt is never an option; one too long for an argument goes on stdin.
    if !turn.no_prompt() && !AgentCli::Claude.prompt_on_stdin(turn) {
        args.push("--".to_owned());
        args.push(turn.prompt.clone());
    }
    args
}

/// `--mcp-config` as JSON (not a file: nothing of the agent's is written where the user's
/// configuration lives, and the user's own servers still load beside it). A call may wait for a
/// person (a permission prompt escalated to them): the server's calls may take a day.
fn mcp_config(tools: &super::ToolServer) -> String {
    let env = tools.env_json();
    serde_json::json!({"mcpServers": {tools.name.as_str(): {
        "type": "stdio",
        "command": tools.program.display().to_string(),
        "args": tools.args,
        "env": env,
        "timeout": TOOL_CALL_TIMEOUT_MS,
    }}})
    .to_string()
}

/// How long one call of maestro's tools may take in Claude Code (its per-server `timeout`).
const TOOL_CALL_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;

#[derive(Default)]
pub(super) struct Parser {
    model: Option<String>,
    ended: bool,
    /// Tool uses by id: their name and summary, for the failures reported later by id.
    tools: std::collections::HashMap<String, (String, String)>,
    /// Tool uses already reported as denied or failed.
    reported: std::collections::HashSet<String>,
}

impl LineParser for Parser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let map = match json_line("claude", line) {
            Ok(m) => m,
            Err(e) => return vec![e],
        };
        let v = Value::Object(map);
        match text_at(&v, "/type") {
            Some("system") if text_at(&v, "/subtype") == Some("init") => {
                self.model = text_at(&v, "/model").map(str::to_owned);
                match text_at(&v, "/session_id") {
                    Some(id) => vec![AgentEvent::SessionStarted {
                        session_id: id.to_owned(),
                        model: self.model.clone(),
                    }],
                    None => Vec::new(),
                }
            }
            Some("system") if text_at(&v, "/subtype") == Some("permission_denied") => {
                let id = text_at(&v, "/tool_use_id").unwrap_or_default().to_owned();
                let detail = text_at(&v, "/message").unwrap_or("denied").to_owned();
                self.failed(&id, text_at(&v, "/tool_name"), None, true, detail)
            }
            Some("assistant") => self.content(&v),
            // Tool results: the failed ones are reported.
            Some("user") => self.tool_errors(&v),
            Some("result") => self.result(&v),
            // `stream_event`, `rate_limit_event` and anything newer.
            _ => Vec::new(),
        }
    }

    fn exit(&mut self, exit: &Exit) -> Vec<AgentEvent> {
        if !self.ended && exit.stderr_tail.contains("cannot be used with root/sudo") {
            // Bypass mode (from agents.claude.args) as root: Claude refuses it before starting.
            return vec![AgentEvent::Error {
                class: ErrorClass::Agent,
                message: "claude refuses to bypass its permissions as root: drop \
                          --dangerously-skip-permissions / --permission-mode bypassPermissions \
                          from agents.claude.args (an agent in its worktree may run commands and \
                          commit without it), or set IS_SANDBOX=1 in the daemon's environment \
                          if it runs in a sandbox"
                    .to_owned(),
                fatal: true,
            }];
        }
        super::structured_exit("claude", self.ended, exit)
    }
}

impl Parser {
    /// An assistant message's text and tool uses; the tool uses are remembered by id, for the
    /// failures reported later by id.
    fn content(&mut self, v: &Value) -> Vec<AgentEvent> {
        let Some(items) = v.pointer("/message/content").and_then(Value::as_array) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| match text_at(item, "/type") {
                Some("text") => {
                    text_at(item, "/text").map(|t| AgentEvent::Text { text: t.to_owned() })
                }
                Some("tool_use") => {
                    let tool = text_at(item, "/name").unwrap_or("tool").to_owned();
                    let summary = summarize(item.get("input"));
                    if let Some(id) = text_at(item, "/id") {
                        self.tools
                            .insert(id.to_owned(), (tool.clone(), summary.clone()));
                    }
                    Some(AgentEvent::ToolUse { tool, summary })
                }
                _ => None,
            })
            .collect()
    }

    /// A tool use that was denied or failed, once per tool use id.
    fn failed(
        &mut self,
        id: &str,
        tool: Option<&str>,
        input: Option<&Value>,
        denied: bool,
        detail: String,
    ) -> Vec<AgentEvent> {
        if !id.is_empty() && !self.reported.insert(id.to_owned()) {
            return Vec::new();
        }
        let known = self.tools.get(id);
        let tool = tool
            .map(str::to_owned)
            .or_else(|| known.map(|k| k.0.clone()))
            .unwrap_or_else(|| "tool".to_owned());
        let summary = match input {
            Some(input) => summarize(Some(input)),
            None => known.map(|k| k.1.clone()).unwrap_or_default(),
        };
        vec![AgentEvent::ToolFailed {
            tool,
            summary,
            denied,
            detail,
        }]
    }

    /// Tool results marked as errors: a command that failed (denials come first as their own
    /// event, and are not counted twice).
    fn tool_errors(&mut self, v: &Value) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        for item in v
            .pointer("/message/content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if text_at(item, "/type") != Some("tool_result")
                || item.get("is_error").and_then(Value::as_bool) != Some(true)
            {
                continue;
            }
            let id = text_at(item, "/tool_use_id").unwrap_or_default().to_owned();
            let detail = match item.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| text_at(p, "/text"))
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            };
            events.extend(self.failed(&id, None, None, false, detail));
        }
        events
    }

    fn result(&mut self, v: &Value) -> Vec<AgentEvent> {
        self.ended = true;
        let mut events = Vec::new();
        // Denials the stream did not report on their own (optional: newer versions only).
        for denial in v
            .get("permission_denials")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = text_at(denial, "/tool_use_id")
                .unwrap_or_default()
                .to_owned();
            events.extend(self.failed(
                &id,
                text_at(denial, "/tool_name"),
                denial.get("tool_input"),
                true,
                "denied by its permission mode".to_owned(),
            ));
        }
        // `modelUsage` names the model that did the work; optional in older versions.
        let model = v
            .get("modelUsage")
            .and_then(Value::as_object)
            .and_then(|m| m.keys().next().cloned())
            .or_else(|| self.model.clone());
        if v.get("usage").is_some() || v.get("total_cost_usd").is_some() {
            events.push(AgentEvent::Usage(TurnUsage {
                model,
                input_tokens: u64_at(v, "/usage/input_tokens"),
                output_tokens: u64_at(v, "/usage/output_tokens"),
                cache_read_tokens: u64_at(v, "/usage/cache_read_input_tokens"),
                cache_write_tokens: u64_at(v, "/usage/cache_creation_input_tokens"),
                cost_usd: v.get("total_cost_usd").and_then(Value::as_f64),
            }));
        }
        let subtype = text_at(v, "/subtype").unwrap_or("success");
        let is_error = v.get("is_error").and_then(Value::as_bool).unwrap_or(false);
        let text = text_at(v, "/result").map(str::to_owned);
        if subtype == "success" && !is_error {
            events.push(AgentEvent::Result { text });
        } else {
            let detail = text.unwrap_or_default();
            let (class, message) = match subtype {
                "error_max_turns" => (
                    ErrorClass::Agent,
                    "claude stopped at its turn limit (--max-turns)".to_owned(),
                ),
                _ => (
                    classify(&detail),
                    format!("claude reported an error ({subtype}): {}", detail.trim()),
                ),
            };
            events.push(AgentEvent::Error {
                class,
                message,
                fatal: true,
            });
        }
        events
    }
}
