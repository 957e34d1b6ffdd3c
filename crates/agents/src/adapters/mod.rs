//! One adapter per agent CLI: a task becomes a [`CommandSpec`] (program, arguments, environment;
//! never a shell string), and the CLI's output lines become [`AgentEvent`]s. Parsers never fail:
//! unknown event types and fields are ignored, and a line that cannot be read becomes a non-fatal
//! [`AgentEvent::Error`].

mod aider;
mod claude;
mod codex;
mod custom;
mod gemini;
mod opencode;

pub use custom::{CustomAgent, CustomOutput, FieldMap};

use crate::classify::{classify, crash_message};
pub use crate::process::{CommandSpec, Exit};
use maestro_protocol::ErrorClass;
use serde_json::Value;
use std::path::PathBuf;

/// The agent CLIs maestro knows how to drive.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentCli {
    Claude,
    Codex,
    Gemini,
    OpenCode,
    Aider,
    Custom(Box<CustomAgent>),
}

/// The built-in CLIs' names (each is also the program it runs by default).
pub const BUILT_IN: &[&str] = &["claude", "codex", "gemini", "opencode", "aider"];

impl AgentCli {
    /// A built-in CLI by its name.
    pub fn built_in(name: &str) -> Option<AgentCli> {
        Some(match name {
            "claude" => AgentCli::Claude,
            "codex" => AgentCli::Codex,
            "gemini" => AgentCli::Gemini,
            "opencode" => AgentCli::OpenCode,
            "aider" => AgentCli::Aider,
            _ => return None,
        })
    }

    /// The program run when the config names none.
    pub fn default_program(&self) -> &str {
        match self {
            AgentCli::Claude => "claude",
            AgentCli::Codex => "codex",
            AgentCli::Gemini => "gemini",
            AgentCli::OpenCode => "opencode",
            AgentCli::Aider => "aider",
            AgentCli::Custom(c) => &c.program,
        }
    }

    /// The command of one turn.
    pub fn command(&self, turn: &Turn) -> CommandSpec {
        let args = match self {
            AgentCli::Claude => claude::args(turn),
            AgentCli::Codex => codex::args(turn),
            AgentCli::Gemini => gemini::args(turn),
            AgentCli::OpenCode => opencode::args(turn),
            AgentCli::Aider => aider::args(turn),
            AgentCli::Custom(c) => c.args(turn),
        };
        let mut env = Vec::new();
        if matches!(self, AgentCli::OpenCode) && (!turn.interactive || turn.tools.is_some()) {
            // Headless, without permissions opencode asks on stdin before running tools; a
            // cautious agent runs no commands. Its terminal UI asks the person itself.
            let mut config = match (turn.interactive, &turn.access) {
                (true, _) => serde_json::json!({}),
                (false, Access::Commit { .. }) => {
                    serde_json::json!({"permission": {"*": "allow"}})
                }
                (false, Access::Cautious) => {
                    serde_json::json!({"permission": {"*": "allow", "bash": "deny"}})
                }
                (false, Access::ReadOnly) => serde_json::json!({"permission": {
                    "*": "allow", "bash": "deny", "edit": "deny", "write": "deny", "patch": "deny",
                }}),
            };
            if let Some(tools) = &turn.tools {
                let command: Vec<String> = std::iter::once(tools.program.display().to_string())
                    .chain(tools.args.iter().cloned())
                    .collect();
                let env = tools.env_json();
                config["mcp"] = serde_json::json!({tools.name.as_str(): {
                    "type": "local", "command": command, "environment": env, "enabled": true,
                }});
            }
            env.push(("OPENCODE_CONFIG_CONTENT".to_owned(), config.to_string()));
        }
        let mut prepare = Vec::new();
        if let (AgentCli::Gemini, Some(tools)) = (self, &turn.tools) {
            // Gemini reads MCP servers from settings files only (and refuses system layers not
            // owned by root): its home for the run is one of the agent's own, where every entry
            // of the user's `~/.gemini` is a link to the real one (sessions, credentials) but
            // `settings.json`, the user's with maestro's server added.
            let home = tools.dir.join("gemini-home");
            prepare = gemini::home(tools, &home);
            env.push(("GEMINI_CLI_HOME".to_owned(), home.display().to_string()));
        }
        let input = self.prompt_on_stdin(turn).then(|| match self {
            AgentCli::Claude => turn.prompt.clone(),
            _ => turn.prompt_with_persona(),
        });
        CommandSpec {
            program: turn.program.clone(),
            args,
            env,
            cwd: turn.cwd.clone(),
            pty: turn.interactive,
            stdin: self.reads_answers() || input.is_some(),
            input,
            prepare,
        }
    }

    /// Whether the prompt goes to the CLI on stdin rather than as an argument: a headless turn
    /// whose prompt is longer than one argument may be, for CLIs that read it there (`claude -p`
    /// without a prompt argument, `codex exec -`); OpenCode's always is.
    pub(crate) fn prompt_on_stdin(&self, turn: &Turn) -> bool {
        // `opencode run` quotes each message argument that holds a space (`"…"`, its own
        // quotes escaped), and the model sees that; what it reads on stdin it takes as it is.
        if matches!(self, AgentCli::OpenCode) {
            return !turn.interactive;
        }
        let prompt = match self {
            AgentCli::Claude => turn.prompt.len(),
            AgentCli::Codex => turn.prompt_with_persona().len(),
            _ => return false,
        };
        !turn.interactive && prompt > ARG_MAX_BYTES - 64
    }

    /// Why this turn cannot be started as built, if it cannot: an argument longer than the
    /// system takes, or a prompt its CLI would read as an option.
    pub fn problem(&self, turn: &Turn, spec: &CommandSpec) -> Option<String> {
        let name = match self {
            AgentCli::Custom(c) => c.name.as_str(),
            other => other.default_program(),
        };
        if let Some(long) = spec.args.iter().find(|a| a.len() > ARG_MAX_BYTES) {
            return Some(format!(
                "the prompt is too long for {name}: an argument of {} KiB, and the system takes at most 128 KiB in one; {name} cannot be given it on stdin — shorten it, or put the text in a file and name the file in the prompt",
                long.len() / 1024
            ));
        }
        if let AgentCli::Custom(c) = self {
            return c.prompt_problem(turn);
        }
        None
    }

    /// Whether a headless turn keeps its stdin open for answers to questions it prints. The
    /// structured CLIs ask nothing on stdin, and `codex exec` and `opencode run` read a stdin
    /// that is not a terminal to its end before they start (Claude waits 3 s for it): they get
    /// none. Text agents (aider, custom text CLIs) may ask `Proceed? [y/n]`.
    pub fn reads_answers(&self) -> bool {
        match self {
            AgentCli::Aider => true,
            AgentCli::Custom(c) => matches!(c.output, CustomOutput::Text),
            _ => false,
        }
    }

    /// The session id a terminal UI printed on its way out for resuming it (Claude: `claude
    /// --resume <id>`, Codex: `codex resume <id>`), read from its last screen.
    pub fn resume_hint(&self, screen: &str) -> Option<String> {
        let markers: &[&str] = match self {
            AgentCli::Claude | AgentCli::Gemini => &["--resume "],
            AgentCli::Codex => &["codex resume ", "--resume "],
            AgentCli::OpenCode => &["--session "],
            _ => return None,
        };
        markers.iter().find_map(|m| {
            // The last mention with an id: prose may follow it ("Or run codex resume and
            // select …").
            screen.rmatch_indices(m).find_map(|(at, _)| {
                let id: String = screen[at + m.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                // An id, not a placeholder such as `<id>` or a word of prose.
                (id.len() >= 8 && id.chars().any(|c| c.is_ascii_digit())).then_some(id)
            })
        })
    }

    /// Whether the CLI runs its shell commands without the user's global git configuration
    /// (Gemini sets `GIT_CONFIG_GLOBAL=/dev/null`): its commits then need the git identity from
    /// the environment.
    pub fn hides_git_config(&self) -> bool {
        matches!(self, AgentCli::Gemini)
    }

    /// Files the CLI keeps for itself in the directory it works in (which its own set-up would
    /// have git ignore): not the agent's work, so not "uncommitted work" either.
    pub fn own_files(&self) -> &'static [&'static str] {
        match self {
            // Its chat and input history and its repository map's cache; maestro passes
            // --no-gitignore, since aider would otherwise edit the repository's .gitignore.
            AgentCli::Aider => &[".aider"],
            _ => &[],
        }
    }

    /// Whether the CLI's usage events count the whole session rather than the turn (Codex after
    /// `exec resume`).
    pub fn usage_is_cumulative(&self) -> bool {
        matches!(self, AgentCli::Codex)
    }

    /// The model a session used, where the CLI records it outside its output (Codex writes it
    /// in its session file, never in `exec --json`).
    pub fn session_model(&self, session_id: &str) -> Option<String> {
        match self {
            AgentCli::Codex => codex::session_model(session_id),
            _ => None,
        }
    }

    /// A fresh parser for one turn's output.
    pub fn parser(&self) -> Box<dyn LineParser> {
        match self {
            AgentCli::Claude => Box::<claude::Parser>::default(),
            AgentCli::Codex => Box::<codex::Parser>::default(),
            AgentCli::Gemini => Box::<gemini::Parser>::default(),
            AgentCli::OpenCode => Box::<opencode::Parser>::default(),
            AgentCli::Aider => Box::<aider::Parser>::default(),
            AgentCli::Custom(c) => c.parser(),
        }
    }

    /// Whether the CLI's terminal UI takes a first prompt as an argument (aider's does not: it is
    /// typed in once the UI is up).
    pub fn takes_prompt_interactively(&self) -> bool {
        !matches!(self, AgentCli::Aider)
    }

    /// Whether the CLI is given maestro's tools (an MCP server for its run): Claude Code, Codex,
    /// Gemini CLI and OpenCode. The others read their messages in their prompt and answer in
    /// their reply.
    pub fn takes_tools(&self) -> bool {
        matches!(
            self,
            AgentCli::Claude | AgentCli::Codex | AgentCli::Gemini | AgentCli::OpenCode
        )
    }

    /// Whether the CLI has session ids to resume (aider has not).
    pub fn resumes(&self) -> bool {
        match self {
            AgentCli::Aider => false,
            AgentCli::Custom(c) => !c.resume_args.is_empty(),
            _ => true,
        }
    }
}

/// What one turn is asked to do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Turn {
    /// The program to run: the configured path, else the CLI's name (looked up on PATH).
    pub program: PathBuf,
    pub prompt: String,
    /// The CLI's session to resume.
    pub session_id: Option<String>,
    pub model: Option<String>,
    /// Appended to the system prompt (or, for CLIs without that option, put before the prompt).
    pub persona: Option<String>,
    pub cwd: PathBuf,
    /// Extra arguments from the config, placed before the prompt.
    pub extra_args: Vec<String>,
    /// The CLI's own terminal UI in a PTY instead of its headless protocol.
    pub interactive: bool,
    /// What the agent may do without asking.
    pub access: Access,
    /// maestro's tools for the agent (an MCP server on stdio), for CLIs that take one, headless
    /// or in their terminal UI.
    pub tools: Option<ToolServer>,
}

/// An MCP server on stdio, as a CLI is told to start it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolServer {
    /// What the server is called (its tools are `mcp__<name>__<tool>` to Claude).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Its environment (the agent's token among it): given to the server only, not to the CLI.
    pub env: Vec<(String, String)>,
    /// A directory of the agent's own where a CLI's configuration for the run may be made
    /// (Gemini's home), kept 0700.
    pub dir: PathBuf,
    /// The server's tool that answers the CLI's permission prompts (Claude's
    /// `--permission-prompt-tool`), for an agent that may work unasked in its worktree.
    pub permission_tool: Option<String>,
    /// The CLI's tools the attention policy allows whole: used without asking at all.
    pub unasked: Vec<String>,
}

impl ToolServer {
    /// Its environment as a JSON object, as the CLIs' configurations write it.
    pub fn env_json(&self) -> serde_json::Map<String, Value> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect()
    }
}

/// What an agent may do without asking, decided per CLI from the flags each one has.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Access {
    /// Edit files where it works; running commands needs a person (a person's agent in the
    /// checkout).
    #[default]
    Cautious,
    /// Edit, run commands and commit where it works: an agent in its own worktree, or a
    /// playbook's agent. `git_dirs` are the git metadata its commits write (for a worktree:
    /// its own admin directory and the repository's objects, refs and logs), made writable for
    /// CLIs that sandbox their commands.
    Commit { git_dirs: Vec<PathBuf> },
    /// Read and answer, change nothing: a consult (another agent's question) beside the
    /// agent's own work in the same worktree. Custom CLIs have no such flag: they run as they
    /// are configured.
    ReadOnly,
}

impl Turn {
    /// An interactive start without a prompt: the terminal UI opens empty.
    fn no_prompt(&self) -> bool {
        self.interactive && self.prompt.is_empty()
    }

    /// The prompt with the persona in front, for CLIs that take no system prompt.
    fn prompt_with_persona(&self) -> String {
        match &self.persona {
            Some(p) if !p.trim().is_empty() => format!("{}\n\n{}", p.trim(), self.prompt),
            _ => self.prompt.clone(),
        }
    }
}

/// The most bytes one argument may hold (Linux's `MAX_ARG_STRLEN`, 128 KiB, less its NUL).
pub const ARG_MAX_BYTES: usize = 128 * 1024 - 1;

/// Tokens and dollars reported during a turn. Usage events add up: a CLI that reports per step
/// sends several, one that reports per turn sends one.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TurnUsage {
    pub model: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Dollars as the CLI reported them; `None` when it reports none (priced from the table).
    pub cost_usd: Option<f64>,
}

impl TurnUsage {
    /// What this report adds to an earlier one of the same session (for CLIs whose reports are
    /// running totals); never negative.
    pub fn since(&self, earlier: &TurnUsage) -> TurnUsage {
        TurnUsage {
            model: self.model.clone(),
            input_tokens: self.input_tokens.saturating_sub(earlier.input_tokens),
            output_tokens: self.output_tokens.saturating_sub(earlier.output_tokens),
            cache_read_tokens: self
                .cache_read_tokens
                .saturating_sub(earlier.cache_read_tokens),
            cache_write_tokens: self
                .cache_write_tokens
                .saturating_sub(earlier.cache_write_tokens),
            cost_usd: match (self.cost_usd, earlier.cost_usd) {
                (Some(now), Some(then)) => Some((now - then).max(0.0)),
                (now, _) => now,
            },
        }
    }
}

/// What an agent's output means.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// The CLI's session id (to resume with), and its model when it says.
    SessionStarted {
        session_id: String,
        model: Option<String>,
    },
    /// Text the agent wrote for the person.
    Text {
        text: String,
    },
    /// The agent used a tool: a shell command, an edit, an MCP call.
    ToolUse {
        tool: String,
        summary: String,
    },
    Usage(TurnUsage),
    /// A tool call that did not do its work: refused by the CLI's permissions (`denied`), or a
    /// command that failed. The turn goes on; its end says so.
    ToolFailed {
        tool: String,
        summary: String,
        denied: bool,
        /// Why, in the CLI's words (an exit code, the refusal); only its first line is shown.
        detail: String,
    },
    /// The turn ended well, with the agent's final reply when it gives one.
    Result {
        text: Option<String>,
    },
    /// Something went wrong. A fatal error ends the turn as failed; a non-fatal one (an unreadable
    /// line, a retried request) is recorded and the turn goes on.
    Error {
        class: ErrorClass,
        message: String,
        fatal: bool,
    },
}

/// Turns one turn's output lines into events.
pub trait LineParser: Send {
    /// One line of output, without its line break.
    fn line(&mut self, line: &str) -> Vec<AgentEvent>;
    /// The process exited: the events its exit implies (a result for text agents, an error
    /// when a structured agent ended without a result).
    fn exit(&mut self, exit: &Exit) -> Vec<AgentEvent>;
}

/// The last lines of a text agent, which become its reply when it exits.
#[derive(Debug, Default)]
struct TextTail {
    lines: Vec<String>,
}

impl TextTail {
    const KEEP: usize = 20;

    fn push(&mut self, line: &str) {
        if self.lines.len() == Self::KEEP {
            self.lines.remove(0);
        }
        self.lines.push(line.to_owned());
    }

    /// A text agent's turn ends with its process: a result on success, else an error whose class
    /// comes from what it printed last.
    fn exit(&self, cli: &str, exit: &Exit) -> Vec<AgentEvent> {
        let reply = self.lines.join("\n").trim().to_owned();
        if exit.success() {
            return vec![AgentEvent::Result {
                text: (!reply.is_empty()).then_some(reply),
            }];
        }
        let class = match classify(&format!("{reply}\n{}", exit.stderr_tail)) {
            ErrorClass::Agent => ErrorClass::Crash,
            c => c,
        };
        vec![AgentEvent::Error {
            class,
            message: crash_message(cli, exit, "with an error"),
            fatal: true,
        }]
    }
}

/// Parses a JSON object line; anything else is a non-fatal error naming the CLI.
fn json_line(cli: &str, line: &str) -> Result<serde_json::Map<String, Value>, AgentEvent> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(malformed(
            cli,
            line,
            &format!("a JSON {}, not an object", crate::classify::kind_of(&other)),
        )),
        Err(e) => Err(malformed(cli, line, &e.to_string())),
    }
}

fn malformed(cli: &str, line: &str, why: &str) -> AgentEvent {
    let shown: String = line.chars().take(200).collect();
    AgentEvent::Error {
        class: ErrorClass::Agent,
        message: format!("unreadable line from {cli} ({why}): {shown}"),
        fatal: false,
    }
}

/// The ending shared by the structured CLIs: a turn that saw its result is over; otherwise the
/// exit is explained from stderr (or called a crash).
fn structured_exit(cli: &str, ended: bool, exit: &Exit) -> Vec<AgentEvent> {
    if ended {
        return Vec::new();
    }
    let class = match classify(&exit.stderr_tail) {
        ErrorClass::Agent => ErrorClass::Crash,
        other => other,
    };
    vec![AgentEvent::Error {
        class,
        message: crash_message(cli, exit, "without a result"),
        fatal: true,
    }]
}

/// A string field, by JSON pointer.
fn text_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// A short, one-line rendering of a tool's input for summaries.
fn summarize(input: Option<&Value>) -> String {
    let Some(input) = input else {
        return String::new();
    };
    let text = match input {
        Value::Object(map) => {
            // The fields that say what a tool did, in the CLIs' own names.
            let key = [
                "command",
                "file_path",
                "path",
                "pattern",
                "query",
                "url",
                "description",
            ]
            .into_iter()
            .find_map(|k| map.get(k).and_then(Value::as_str));
            match key {
                Some(s) => s.to_owned(),
                None => input.to_string(),
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() > 120 {
        let cut: String = one_line.chars().take(119).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}
