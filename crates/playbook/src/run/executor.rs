//! What the run engine asks of the process it runs in: workspaces and their configuration, agents
//! that take turns, and the host's events, progress and memory. The daemon implements it with its
//! supervisor (`maestro-engine`); the tests of this crate with agents that edit files themselves.

use maestro_protocol::{
    AgentInfo, AgentMergeResult, AgentSpawnParams, Isolation, PlaybookProgressParams,
};
use std::future::Future;
use std::path::{Path, PathBuf};

/// A workspace a run works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: String,
    pub root: PathBuf,
}

/// A progress report the host shows (editors: LSP work-done progress); dropping it ends it.
pub trait Progress: Send {
    fn report(&self, message: Option<String>, percentage: Option<u32>);
    fn end(self: Box<Self>, message: Option<String>);
}

/// Turns for the run engine, and the host around it. Errors are messages for the person.
pub trait Executor: Send + Sync + 'static {
    /// How an agent CLI runs (program, arguments, limits), resolved by the host; the run engine
    /// only hands it back.
    type Settings: Clone + Send + Sync + 'static;

    /// The workspace around `path`; an error when its configuration cannot be read.
    fn workspace_of(&self, path: &Path) -> Result<Workspace, String>;
    /// The agent CLI a task without `@name` goes to (`agents.default`).
    fn default_cli(&self, ws: &Workspace) -> Result<String, String>;
    /// Whether `cli` names an agent CLI that can start here: the message says why not.
    fn check_cli(&self, ws: &Workspace, cli: &str) -> Result<(), String>;
    /// The settings of `cli` for an agent started with `isolation` (refused, for example, when a
    /// setup command the repository chose is not trusted).
    fn settings(
        &self,
        ws: &Workspace,
        cli: &str,
        isolation: Isolation,
    ) -> Result<Self::Settings, String>;
    /// Whether the file `relative` (to `root`) is committed as it is (`--parallel` branches from
    /// HEAD).
    fn committed_as_is(&self, root: &Path, relative: &str) -> Result<bool, String>;
    /// Whether `name` may name an agent.
    fn valid_name(&self, name: &str) -> bool;

    /// The agent `name` of the workspace, as it is now.
    fn agent(&self, ws: &Workspace, name: &str) -> Result<AgentInfo, String>;
    fn spawn(
        &self,
        ws: &Workspace,
        params: AgentSpawnParams,
        settings: Self::Settings,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Waits until the agent's turn (if one runs) is over; the agent as it ended.
    fn wait_turn(
        &self,
        ws: &Workspace,
        name: &str,
    ) -> impl Future<Output = Result<AgentInfo, String>> + Send;
    /// The next turn starts a new CLI session.
    fn forget_session(&self, ws: &Workspace, name: &str) -> Result<(), String>;
    /// Starts a turn with `prompt`.
    fn send(
        &self,
        ws: &Workspace,
        name: &str,
        prompt: &str,
        settings: Self::Settings,
    ) -> Result<(), String>;
    /// The last line the agent printed since output offset `from` (for the history).
    fn last_words(&self, ws: &Workspace, name: &str, from: u64) -> String;
    /// Stops the agent's turn (failures are the supervisor's to tell).
    fn stop(&self, ws: &Workspace, name: &str) -> impl Future<Output = ()> + Send;
    /// Commits `paths` on the agent's branch as they are on its base.
    fn restore_files(
        &self,
        ws: &Workspace,
        name: &str,
        paths: Vec<String>,
        message: String,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Merges the agent's branch into its base.
    fn merge(
        &self,
        ws: &Workspace,
        name: &str,
    ) -> impl Future<Output = Result<AgentMergeResult, String>> + Send;

    /// Keeps the host up (from idling out) while the guard lives.
    fn begin_work(&self) -> Box<dyn Send>;
    fn begin_progress(&self, title: &str) -> Box<dyn Progress>;
    /// Tells subscribers (editors, `playbook run --follow`) about a run's step.
    fn emit(&self, event: PlaybookProgressParams);
    /// Remembers what a finished task did (memory kind `summary`).
    fn remember(&self, ws: &Workspace, agent: &str, source: String, text: String);
}
