//! Agents: adapters that drive each agent CLI headless, the supervisor that runs them, their git
//! worktrees, names and identities, and what they cost.
//!
//! Architecture invariant: no LSP types and no transport; processes are started from argument
//! vectors, never shell strings; nothing here touches a user's checkout except `merge`, which moves
//! the base branch only when that cannot disturb uncommitted work.

pub mod adapters;
pub mod classify;
pub mod identity;
pub mod output;
pub mod persist;
pub mod prices;
pub mod process;
pub mod supervisor;
pub mod worktree;

pub use adapters::{AgentCli, AgentEvent, CommandSpec, Exit, LineParser, Turn, TurnUsage};
pub use supervisor::{
    AgentError, AgentSettings, FinishedTurn, Hooks, Supervisor, SupervisorOptions, WorkspaceRef,
};
