//! Agents on the wire: what clients ask of the supervisor and what it tells them.

use crate::{Range, TextDocumentIdentifier};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

/// Where an agent is in its life. `starting → working → idle ⇄ working`, `needs_input` while a
/// running turn waits for a person, and one of `done`, `failed`, `lost` at the end of a turn that
/// did not leave it idle (`send` starts a new turn from any of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// The process is being started; nothing came out of it yet.
    Starting,
    /// A turn is running.
    Working,
    /// The last turn ended well; the agent waits for the next `send`.
    Idle,
    /// A running turn has been quiet on what looks like a question: a person should answer.
    NeedsInput,
    /// Stopped by a person.
    Done,
    /// The last turn ended in an error (see `reason` and `errorClass`).
    Failed,
    /// The daemon stopped while the agent ran; its process is gone.
    Lost,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Starting => "starting",
            AgentState::Working => "working",
            AgentState::Idle => "idle",
            AgentState::NeedsInput => "needs_input",
            AgentState::Done => "done",
            AgentState::Failed => "failed",
            AgentState::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<AgentState> {
        [
            AgentState::Starting,
            AgentState::Working,
            AgentState::Idle,
            AgentState::NeedsInput,
            AgentState::Done,
            AgentState::Failed,
            AgentState::Lost,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// A turn is running (a process is alive).
    pub fn is_running(self) -> bool {
        matches!(
            self,
            AgentState::Starting | AgentState::Working | AgentState::NeedsInput
        )
    }
}

/// Why a turn failed, so that the message can say what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The CLI is not installed or not on PATH.
    NotFound,
    /// Not logged in, bad or expired credentials.
    Auth,
    /// The provider throttled the agent.
    RateLimit,
    /// Out of tokens, credits, quota or context.
    TokenExhaustion,
    /// The agent could not reach its provider.
    Network,
    /// The process died or exited with an error the agent did not explain.
    Crash,
    /// The watchdog stopped a silent or over-long turn.
    Timeout,
    /// The agent reported an error of another kind.
    Agent,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::NotFound => "not_found",
            ErrorClass::Auth => "auth",
            ErrorClass::RateLimit => "rate_limit",
            ErrorClass::TokenExhaustion => "token_exhaustion",
            ErrorClass::Network => "network",
            ErrorClass::Crash => "crash",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Agent => "agent",
        }
    }
}

/// How an agent's worktree relates to the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Its own git worktree on branch `maestro/<name>` (the default).
    #[default]
    Worktree,
    /// The workspace itself, in place.
    None,
}

/// How the agent's process is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentMode {
    /// One process per turn through the CLI's structured headless protocol, on pipes.
    #[default]
    Headless,
    /// The CLI's own terminal UI in a PTY, for `maestro agent attach`.
    Interactive,
}

/// `maestro/agent.spawn`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSpawnParams {
    /// Hierarchical name, `-` separated: `shop-backend-api`.
    pub name: String,
    /// The mesh node to run it on (default this one). Every agent method takes `node` the same
    /// way: when it names another node, the request goes there (see `maestro/mesh.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `claude`, `codex`, `gemini`, `opencode`, `aider`, or a custom agent's name from the config.
    pub agent: String,
    /// Any path inside the workspace.
    pub path: PathBuf,
    /// The first turn's prompt; without it the agent waits idle for `send`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Branch, tag or commit to start from; default the workspace's HEAD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
    #[serde(default)]
    pub mode: AgentMode,
    /// A system prompt appended on every turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Overrides `agents.silence_timeout_secs` for this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_timeout_secs: Option<u64>,
    /// Overrides `agents.turn_timeout_secs` for this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_timeout_secs: Option<u64>,
    /// An agent working in place (isolation none) may run commands and commit there without
    /// asking, as an agent in its own worktree always may; otherwise it keeps its CLI's
    /// cautious defaults. Playbook runs set it: their tasks end in a commit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_commit: bool,
    /// The playbook run that starts this agent for its tasks (set by the run): clients show it
    /// under the run rather than by its generated name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_run: Option<String>,
}

/// `maestro/agent.review`: a person's comments on the agent's changes, sent as its next turn
/// with the hunk of its diff each one is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentReviewParams {
    pub name: String,
    pub path: PathBuf,
    pub comments: Vec<ReviewComment>,
}

/// One comment of a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewComment {
    /// Relative to the agent's worktree (and so to the repository).
    pub file: String,
    /// 1-based, in the agent's version of the file.
    pub line: u32,
    /// The last line of a range; the comment is on `line` alone without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    pub body: String,
}

/// Names one agent: its name and any path inside its workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRef {
    pub name: String,
    pub path: PathBuf,
}

/// `maestro/agent.send`: a new turn (resuming the CLI's session), or, when the agent needs input,
/// a line to its running process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSendParams {
    pub name: String,
    pub path: PathBuf,
    pub prompt: String,
}

/// `maestro/agent.attach`: what a client needs to show the agent's terminal. With `rows` and
/// `cols` the agent's PTY takes the client's size first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentAttachParams {
    pub name: String,
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cols: Option<u16>,
}

/// The answer to `maestro/agent.attach`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentAttachResult {
    /// The agent runs its CLI's terminal UI (input is keystrokes); otherwise it is headless (input
    /// is prompts, through `maestro/agent.send`).
    pub interactive: bool,
    /// Its process is alive.
    pub running: bool,
    /// Escape codes that redraw its screen (interactive agents that ran since the daemon started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen: Option<String>,
    /// The output offset `screen` stands for: apply `maestro/agentOutput` from here on.
    pub offset: u64,
    pub rows: u16,
    pub cols: u16,
}

/// `maestro/agent.input`: keystrokes (or pasted text) for an interactive agent's terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInputParams {
    pub name: String,
    pub path: PathBuf,
    pub data: String,
}

/// `maestro/agent.resize`: the attached client's window changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentResizeParams {
    pub name: String,
    pub path: PathBuf,
    pub rows: u16,
    pub cols: u16,
}

/// What a delegated task asks of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DelegateTask {
    /// Work on the selected code ("Delegate to agent…").
    Selection,
    /// Fix the problem a diagnostic reports.
    Fix,
    /// Write tests for the symbol at the range.
    Tests,
}

/// `maestro/agent.delegate` (and the `maestro.agent.delegate` command of the code actions): a task
/// about a range of a document, its prompt built with the code and its context from the graph,
/// sent to `agent` or to a new agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelegateParams {
    pub text_document: TextDocumentIdentifier,
    pub range: Range,
    pub task: DelegateTask,
    /// The LSP diagnostic to fix (`Fix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<Value>,
    /// What the person wants done, in their words (`Selection`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// An existing agent to send it to; without it a new agent is spawned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The new agent's name; default from the task and symbol (`fix-parse-config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new agent's CLI; default `agents.default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<String>,
}

/// The answer to `maestro/agent.delegate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelegateResult {
    pub agent: AgentInfo,
    /// The prompt it was given.
    pub prompt: String,
    /// A new agent was spawned for it.
    pub spawned: bool,
}

/// `textDocument/codeAction`'s params (as `maestro/codeActions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeActionParams {
    pub text_document: TextDocumentIdentifier,
    pub range: Range,
    #[serde(default)]
    pub context: CodeActionContext,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeActionContext {
    /// The editor's diagnostics at the range (from any server).
    #[serde(default)]
    pub diagnostics: Vec<Value>,
    /// Kinds the editor asks for; absent means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Vec<String>>,
}

/// A code action that runs a command (LSP `CodeAction`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeAction {
    pub title: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Value>,
    pub command: LspCommand,
}

/// LSP `Command`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LspCommand {
    pub title: String,
    pub command: String,
    pub arguments: Vec<Value>,
}

/// `maestro/agent.icon`: an agent name's identity for a client to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentIconParams {
    pub name: String,
}

/// The answer to `maestro/agent.icon`: derived from the name alone, the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentIconResult {
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
    /// A 5×5 symmetric identicon in that colour, as an SVG document.
    pub svg: String,
    /// The name's levels: `shop-backend-api` → `shop`, `backend`, `api`.
    pub path: Vec<String>,
}

/// `maestro/agent.remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRemoveParams {
    pub name: String,
    pub path: PathBuf,
    /// Remove even with uncommitted changes in the worktree (they are lost).
    #[serde(default)]
    pub force: bool,
}

/// `maestro/agent.list`: the agents of the workspace around `path`, or of every workspace.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// Tokens and dollars.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageTotals {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Dollars of the turns whose cost is known; see `unpriced_turns`.
    pub cost_usd: f64,
    /// Turns whose dollars are not known (the CLI reported none and its model is not in the
    /// price table, or it reported no usage at all, as terminal UIs do): `cost_usd` leaves
    /// them out, and shows must say so rather than print a zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unpriced_turns: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl UsageTotals {
    pub fn add(&mut self, other: &UsageTotals) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cost_usd += other.cost_usd;
        self.unpriced_turns += other.unpriced_turns;
    }

    /// `$1.2345`, `$1.2345 + 2 unpriced turns`, or `unpriced` when no turn's dollars are known.
    pub fn dollars(&self) -> String {
        match self.unpriced_turns {
            0 => format!("${:.4}", self.cost_usd),
            _ if self.cost_usd == 0.0 => "unpriced".to_owned(),
            1 => format!("${:.4} + 1 unpriced turn", self.cost_usd),
            n => format!("${:.4} + {n} unpriced turns", self.cost_usd),
        }
    }
}

/// An agent as clients see it (`maestro/agent.list`, `maestro/agentStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    pub name: String,
    /// The mesh node it runs on: set when this daemon is in a mesh (see `maestro/mesh.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The workspace's id and root.
    pub workspace: String,
    pub workspace_root: PathBuf,
    /// Which CLI: `claude`, `codex`, … or a custom agent's name.
    pub agent: String,
    pub state: AgentState,
    pub mode: AgentMode,
    pub isolation: Isolation,
    /// Where it works: its worktree, or the workspace root without isolation.
    pub worktree: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The branch (or commit) it started from and merges into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The CLI's own session id, used to resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<String>,
    /// Why it is failed, lost, done or needs input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    /// Turns started so far.
    pub turns: u32,
    pub usage: UsageTotals,
    /// `#rrggbb`, derived from the name.
    pub color: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Unix seconds.
    pub created_at: f64,
    pub updated_at: f64,
    /// Bytes of output so far (the end offset for `maestro/agent.output`).
    pub output_bytes: u64,
    /// What went wrong in its last turn although the turn ended: tool calls denied by the CLI's
    /// permissions, commands that failed, work left uncommitted in its worktree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the person should know about a spawn (uncommitted work left out of the worktree,
    /// setup files not found); only in the answer to `maestro/agent.spawn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The playbook run that started it for its tasks; none for an agent a person started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_run: Option<String>,
    /// The CLI binary it runs (its last turn's, or found at spawn) and where that came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<AgentProgram>,
    /// Its work was merged, and nothing new came since (a new turn clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<AgentMerged>,
}

/// Where and when an agent's branch was merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentMerged {
    pub into: String,
    pub commit: String,
    /// Unix seconds.
    pub at: f64,
}

/// Which binary an agent runs: editors may start the daemon with another PATH than a shell's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentProgram {
    /// Absolute, as found.
    pub path: PathBuf,
    /// The config key that names it (`agents.claude.path`), or `PATH` (the daemon's, searched
    /// for the CLI's default name).
    pub from: String,
}

/// `maestro/agentStatus`: an agent changed state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatusParams {
    pub agent: AgentInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<AgentState>,
    /// A person should look: it needs input, failed or was lost.
    pub attention: bool,
    /// The agent was removed (`agent` is its last state).
    #[serde(default)]
    pub removed: bool,
}

/// `maestro/agentOutput`: bytes the agent printed, batched. `offset` counts bytes of the agent's
/// whole output, so a client that missed a batch asks `maestro/agent.output` for the gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentOutputParams {
    pub workspace: String,
    pub name: String,
    pub offset: u64,
    /// UTF-8 (a multi-byte character is never split between batches; invalid bytes become U+FFFD).
    pub data: String,
    /// The mesh node the agent runs on, when it is another one (its events are relayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// `maestro/agent.output`: a range of an agent's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentOutputRequest {
    pub name: String,
    pub path: PathBuf,
    /// First byte wanted; before the oldest kept byte means from there.
    #[serde(default)]
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentOutputResult {
    /// Where `data` starts (later than asked when older output was dropped from the buffer).
    pub offset: u64,
    pub data: String,
    /// The output's end: ask from here for what comes next.
    pub end: u64,
    /// The log file holding all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<PathBuf>,
}

/// One file of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffFile {
    pub path: String,
    /// Where a renamed file was at the base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// `added`, `deleted`, `modified`, `renamed`, …
    pub status: String,
    pub insertions: u32,
    pub deletions: u32,
}

/// `maestro/agent.diff`: the agent's work against its base, committed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentDiffResult {
    pub base: String,
    /// The commit the agent's work is compared with (where its branch left the base): the
    /// original side of a diff editor.
    #[serde(default)]
    pub fork: String,
    pub files: Vec<DiffFile>,
    pub patch: String,
    /// Commits on the agent's branch that the base does not have.
    pub commits: u32,
    /// The worktree has changes that are not committed (a merge takes commits only).
    pub uncommitted: bool,
}

/// `maestro/agent.merge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentMergeResult {
    /// The branch merged into.
    pub into: String,
    /// The base's new head, when it moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub fast_forward: bool,
    /// Nothing to merge: the base already has every commit.
    pub up_to_date: bool,
    /// Files that conflict; when not empty nothing was changed.
    pub conflicts: Vec<String>,
}

/// `maestro/agent.remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRemoveResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree_removed: Option<PathBuf>,
    /// The branch is kept when it has commits the base does not: nothing committed is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_kept: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_deleted: Option<String>,
    /// Its snapshots, deleted with it (`maestro agent snapshot`).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub snapshots_deleted: u32,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// `maestro/usage`: sums grouped by agent, model or day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageParams {
    /// `agent` (default), `model` or `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The workspace around this path; all workspaces without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// For `by: day`: the person's time zone, an IANA name (`Europe/Berlin`); the daemon's own
    /// zone without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    /// The agent's name, the model, or the day (`YYYY-MM-DD`, in the asked time zone).
    pub key: String,
    pub turns: u64,
    #[serde(flatten)]
    pub totals: UsageTotals,
    /// Turns whose dollars came from the price table rather than from the agent.
    pub priced_turns: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageResult {
    pub by: String,
    pub rows: Vec<UsageRow>,
    pub total: UsageTotals,
}

#[cfg(test)]
mod usage_tests {
    use super::UsageTotals;

    #[test]
    fn unknown_dollars_are_never_shown_as_zero() {
        let mut t = UsageTotals {
            cost_usd: 0.5,
            ..UsageTotals::default()
        };
        assert_eq!(t.dollars(), "$0.5000");
        t.unpriced_turns = 2;
        assert_eq!(t.dollars(), "$0.5000 + 2 unpriced turns");
        t.cost_usd = 0.0;
        assert_eq!(t.dollars(), "unpriced");
        let old: UsageTotals = serde_json::from_str(
            r#"{"inputTokens":1,"outputTokens":2,"cacheReadTokens":0,"cacheWriteTokens":0,"costUsd":0.1}"#,
        )
        .unwrap();
        assert_eq!(old.unpriced_turns, 0, "records of older builds still read");
    }
}
