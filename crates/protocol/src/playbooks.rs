//! Playbook runs on the wire: what clients ask of the run engine and what it tells them.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A task of a document, by file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRef {
    pub path: PathBuf,
    pub line: u32,
}

/// `maestro/playbook.run`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookRunParams {
    /// The documents, absolute (clients resolve relative paths), in the order given; all in one
    /// workspace.
    pub paths: Vec<PathBuf>,
    /// The agent for tasks and documents that name none: an agent CLI or an existing agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Start again when every document is complete (also a document option).
    #[serde(default)]
    pub looped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_loops: Option<u32>,
    /// Spread tasks over this many agents, each in its own worktree, merged at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<u32>,
    /// Work on copies that are reset at each completion (also a document option).
    #[serde(default)]
    pub reset_on_completion: bool,
    /// Plan only: what would run, by whom, and every problem; nothing is started.
    #[serde(default)]
    pub dry_run: bool,
    /// Start at this task (earlier open tasks of its document are passed over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<TaskRef>,
    /// Run this one task and stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<TaskRef>,
    /// Turns in a row that leave a task open before its document is skipped (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_turns: Option<u32>,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Waits between turns until resumed.
    Paused,
    /// Waits at a review gate for `approve`.
    Review,
    /// Every document complete (or skipped).
    Finished,
    /// A `HALT:` line, or a document the run cannot trust.
    Halted,
    /// Stopped by a person.
    Stopped,
    /// The run could not go on (an agent CLI missing, a merge failed, …): see `reason`.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Review => "review",
            RunStatus::Finished => "finished",
            RunStatus::Halted => "halted",
            RunStatus::Stopped => "stopped",
            RunStatus::Failed => "failed",
        }
    }

    /// The run is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Halted | RunStatus::Stopped | RunStatus::Failed
        )
    }
}

/// A document of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDocument {
    /// The document as given (absolute).
    pub path: PathBuf,
    /// Relative to the workspace root.
    pub display: String,
    /// The file agents work on: the document, or its copy for this loop when it resets.
    pub working: PathBuf,
    pub tasks: usize,
    pub done: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The task a run is on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunTask {
    pub document: String,
    pub line: u32,
    pub task: String,
    pub agent: String,
    pub started_at: f64,
}

/// A review gate a run waits at: the task, in the person's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunGate {
    /// The document as given (absolute).
    pub path: PathBuf,
    /// 1-based.
    pub line: u32,
    pub task: String,
}

/// A run, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookRunInfo {
    pub id: String,
    pub workspace: String,
    pub workspace_root: PathBuf,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub documents: Vec<RunDocument>,
    pub loop_number: u32,
    pub looped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_loops: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<u32>,
    /// Tasks in flight (one, or up to `parallel`).
    #[serde(default)]
    pub current: Vec<RunTask>,
    /// The review gate the run waits at (status `review`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<RunGate>,
    /// Tasks this run completed (all loops).
    pub tasks_done: u32,
    pub turns: u32,
    pub cost_usd: f64,
    pub started_at: f64,
    pub updated_at: f64,
}

/// What happened in a run. Kinds: `start`, `document_start`, `task_start`, `task_complete`,
/// `task_stalled`, `document_complete`, `document_skipped`, `review_wait`, `approved`,
/// `loop_complete`, `paused`, `resumed`, `merge`, `halted`, `stopped`, `complete`, `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookEvent {
    pub run: String,
    /// 1-based, per run.
    pub seq: u64,
    pub at: f64,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_number: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// For a task: the agent's last words; for the rest: what happened, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `maestro/playbookProgress`: an event of a run, with the run as it is after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookProgressParams {
    pub run: PlaybookRunInfo,
    pub event: PlaybookEvent,
}

/// A step of a dry run's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedTask {
    pub document: String,
    pub line: u32,
    pub task: String,
    pub agent: String,
    pub review: bool,
}

/// The answer to `maestro/playbook.run`: the run started, or with `dryRun` its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookRunResult {
    pub run: PlaybookRunInfo,
    /// Dry run: the open tasks in the order they would run (one loop).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<PlannedTask>,
    /// Problems of the documents (line-numbered); they do not stop a run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `maestro/playbook.stop|pause|resume|approve|history|status` name a run (or, for status and
/// history, none: the runs of every workspace, newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookRunRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `maestro/playbook.status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookStatusResult {
    pub runs: Vec<PlaybookRunInfo>,
}

/// `maestro/playbook.history`: a run and its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookHistoryResult {
    pub run: PlaybookRunInfo,
    pub events: Vec<PlaybookEvent>,
}

/// `maestro/playbook.lint`: a markdown buffer (open in the session) or file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookLintParams {
    pub uri: String,
}

/// A problem of a playbook document, 0-based line as LSP counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookProblem {
    pub line: u32,
    pub message: String,
    /// `error` or `warning`.
    pub severity: String,
}

/// An open task of a playbook document (0-based line), where the code lenses go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookLintTask {
    pub line: u32,
    pub text: String,
    pub review: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookLintResult {
    /// The file the URI names.
    pub path: PathBuf,
    /// Whether the document has tasks at all (a markdown file without any is not a playbook).
    pub is_playbook: bool,
    pub problems: Vec<PlaybookProblem>,
    pub open_tasks: Vec<PlaybookLintTask>,
}
