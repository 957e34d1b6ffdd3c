//! Agents: adapters that drive each agent CLI headless, the supervisor that runs them, their git
//! worktrees, names and identities, and what they cost.
//!
//! Architecture invariant: no LSP types and no transport; processes are started from argument
//! vectors, never shell strings; nothing here touches a user's checkout except `merge`, which moves
//! the base branch only when that cannot disturb uncommitted work.
//!
//! ## How it behaves
//!
//! Coding agents, from a prompt to a supervised process and back. No LSP types, no transport.
//!
//! * `adapters`: one per CLI (`claude`, `codex`, `gemini`, `opencode`, `aider`, and `custom` from the
//!   config: an argument template with `{prompt}`, `{session_id}`, `{model}`, and `text` or `jsonl`
//!   output read through JSON pointers). `AgentCli::command(&Turn)` builds a `CommandSpec` (program,
//!   argument vector, environment; never a shell string); `parser()` gives a fresh `LineParser` per turn
//!   that turns lines into `AgentEvent`s (session started, text, tool use, a tool call denied or
//!   failed, usage, result, error) and,
//!   at `exit`, says what the exit means (a result for text agents; for structured ones an error, its
//!   class read from stderr, when no result came). Unknown types and fields are ignored; a line that
//!   is not JSON is a non-fatal error event. Usage events add up (OpenCode reports per step, the others
//!   per turn; Claude's per-message usage is ignored in favour of the result's, which would otherwise
//!   count twice; input tokens never include cached ones, as Anthropic counts them). A `Turn` carries
//!   its `Access`: `Commit { git_dirs }` (an agent in its worktree, a playbook's agent, `--allow-commit`)
//!   or `Cautious` (a person's agent in place), which each adapter turns into its CLI's flags (see
//!   README "What an agent may do"). The adapter also says whether a headless turn keeps a stdin
//!   (`reads_answers`: only text agents), whether its usage is a session total (`usage_is_cumulative`:
//!   Codex), where its session's model is when its output has none (`session_model`: Codex's session
//!   file), how its terminal UI says to resume (`resume_hint`) and which files in the worktree are its
//!   own (`own_files`: aider's). A prompt never becomes an option: it follows `--`, or is the value in
//!   one argument (`--prompt=…`, `--message=…`); one longer than an argument may be goes on stdin
//!   (`CommandSpec::input`, written then closed: `claude -p`, `codex exec -`), and `problem` refuses
//!   the rest before anything starts, as it refuses a custom template with a bare `{prompt}` for a
//!   prompt starting with `-` (templates are filled in one pass, so a prompt naming `{model}` stays
//!   as written). Fixtures are the line shapes of `shared/agent-protocols.md` and output
//!   captured from the real CLIs (`tests/fixtures/`).
//! * `classify`: error classes from the words providers use (auth, rate limit, token exhaustion,
//!   network; crash when a process ends without a result; timeout from the watchdog; not found from
//!   the spawn), and for each what to do.
//! * `worktree` (git2, no network features): `create` (outside the repository, branch `maestro/<name>`
//!   from HEAD or a base; a leftover branch or path is an error with the way out; a dirty checkout is a
//!   note, never touched), `copy_files`, `diff` (against the merge base, untracked files included),
//!   `merge` (fast-forward or a merge commit made in memory; conflicts are listed and nothing is
//!   written; when the base branch is checked out — in the main checkout or a linked worktree — that
//!   checkout is updated with a safe checkout *before* the branch moves, so uncommitted changes the
//!   merge would overwrite stop it whole), `remove` (refuses uncommitted changes unless forced; the
//!   branch is deleted only when merged), `prune`.
//! * `process`: a turn's process on pipes in its own process group (`process_group(0)`; stdin
//!   `/dev/null` unless the adapter keeps one; `PWD` set to its directory), or in a PTY,
//!   read by threads into a channel; after the process exits, its output may drain for 2 s before the group is
//!   killed (children that kept the pipes open would otherwise hold the turn forever). Stop is SIGTERM
//!   to the group, SIGKILL 3 s later.
//! * `supervisor`: every agent of every workspace. A turn is a tokio task that selects over the
//!   process's output, the stop channel, a 50 ms flush tick and the next due time (silence and total
//!   watchdogs, needs-input, kill escalation). Stdout is split into lines for the parser; events are
//!   rendered into the transcript (`OutputLog`: a ring buffer addressed by absolute byte offsets in front
//!   of a log file, so clients fill gaps with `maestro/agent.output`, and batches never split a UTF-8
//!   character), the raw protocol lines are not kept. `needs_input` is a running turn whose output
//!   stopped on an unfinished line (a prompt) for `agents.needs_input_secs` (or whose CLI waits for
//!   the person through the attention manager, `Supervisor::waiting`; the silence watchdog does not
//!   count while it waits, the turn limit does); `send` then moves it to
//!   `working` and writes the answer to its stdin, in that order (the turn may end as soon as it has it). Every state change and session id is stored before anyone can see it (the record stays locked
//!   while `WriteTicket::wait_in_place` waits for the writer; a few per turn) and then sent
//!   through `Hooks` (the engine turns them into events and holds a work guard while a turn runs, so
//!   the daemon does not idle out). A turn's end also kills what is left of it: processes whose
//!   environment names the agent (below), wherever their process group or session is. A turn that
//!   ended well but had tool calls denied, commands failed or left uncommitted work in its worktree
//!   ends `idle` with `AgentInfo::warnings` (turn outcome `warned`, an attention alert); usage that a CLI
//!   reports as session totals is stored as the difference from the session's last report
//!   (`AgentRecord::session_usage`); a turn whose dollars are unknown counts in
//!   `UsageTotals::unpriced_turns` and is stored with a null cost. At start, agents whose state says a turn was running become
//!   `lost`, and the process groups of processes whose environment carries `MAESTRO_AGENT=<name>`, its
//!   `MAESTRO_WORKSPACE` and this daemon's socket are killed (found in `/proc`, not by the stored pid,
//!   which a daemon killed right after starting a turn may not have written); the next `send` resumes the CLI's session id.
//! * Interactive mode (`spawn --interactive`): the CLI's own terminal UI in a PTY (portable-pty; the
//!   child is a session leader with the PTY as its controlling terminal, so the group kill still
//!   reaches everything it started). One process lives across prompts: the first prompt is its
//!   argument (or, for CLIs without one, typed when it first goes quiet), later `send`s are typed into
//!   it (in bracketed-paste brackets when the program turned that mode on, then Enter). The PTY's raw
//!   bytes go to the `OutputLog` unchanged and into a `vt100::Parser` of the PTY's size (no
//!   scrollback of its own: the ring buffer and the log are the scrollback). For people, `output`
//!   turns such a stream into text two ways: `terminal_text` replays a whole log through a terminal
//!   model (`agent logs`: what scrolled off, a full-screen UI's last picture, the last screen), and
//!   `Plain` drops escape sequences and control characters from pieces as they stream (`--wait`,
//!   `logs -f`, and crash messages made from stderr). `working` while it
//!   prints, `needs_input` after `agents.needs_input_secs` of quiet (a TUI that stops printing waits
//!   for its person); the watchdogs apply only when given for the agent, since a TUI waiting for a
//!   person is not hung; its exit ends the process (`idle`, or `failed` with the exit code), and the
//!   session id it printed for resuming (read from the screen model) becomes the agent's, so the next
//!   `send` starts it on that session. Attach
//!   is three requests: `maestro/agent.attach` resizes the PTY to the client and answers the screen
//!   (`state_formatted`: escape codes that redraw it and restore its input modes) with the output
//!   offset it stands for, both taken under the output lock, so the client applies
//!   `maestro/agentOutput` from that offset with nothing lost or doubled; `maestro/agent.input`
//!   writes keystrokes and `maestro/agent.resize` follows the client's window. Input goes through a
//!   writer thread per process, so a program that stops reading cannot block the daemon. On a
//!   headless agent attach follows the transcript and typed lines become turns.
//! * For the playbook run engine the supervisor also says when a turn ends (`wait_turn`, a per-agent
//!   `Notify` told after the turn's control is cleared), forgets an idle agent's CLI session so that
//!   its next turn is a fresh one (`forget_session`), and commits files of an agent's worktree back to
//!   their state at its base commit (`restore_files`, git2).
//! * `prices`: list prices of common models (longest-prefix match on the model name, provider prefix
//!   ignored), extended by `[prices."<model>"]`; dollars reported by the CLI always win.
//! * `identity`: names (`[a-z][a-z0-9]*` parts joined by `-`, at most 64 bytes; an invalid name's error
//!   suggests a valid one), their tree, a colour and a 5×5 identicon from an FNV-1a hash.
//!
//! **Architecture invariant:** processes from argument vectors only; the user's checkout is written
//! only by `merge`, through a safe checkout. **API boundary:** `Supervisor`, `AgentSettings`, `Hooks`,
//! `AgentCli`, `WorktreeManager`, `PriceTable`.

pub mod adapters;
pub mod attention;
pub mod classify;
pub mod identity;
pub mod output;
pub mod persist;
pub mod prices;
pub mod process;
pub mod review;
pub mod supervisor;
pub mod worktree;

pub use adapters::{AgentCli, AgentEvent, CommandSpec, Exit, LineParser, Turn, TurnUsage};
pub use supervisor::{
    Adopted, AgentError, AgentSettings, DayZone, FinishedTurn, Hooks, Supervisor,
    SupervisorOptions, WorkspaceRef,
};
