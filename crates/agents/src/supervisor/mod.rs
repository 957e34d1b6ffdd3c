//! The supervisor: every agent of every workspace, their turns, watchdogs and output.
//!
//! A turn is one process (the CLI in headless mode, on pipes, in its own process group) driven by
//! a task; an interactive agent's process is its CLI's terminal UI in a PTY, alive across the
//! prompts typed into it. Headless output is split into lines for the adapter's parser, rendered
//! into the agent's transcript; an interactive agent's goes to the transcript as it is and onto a
//! model of its screen for attaching clients.
//!
//! For headless turns: output is split into lines for the adapter's parser, rendered into the agent's
//! transcript (ring buffer + log file, batched to clients), and the events move the agent's
//! state. The watchdog kills a turn that is silent or too long; a stop kills it on request.
//! State changes are written to the store before clients hear of them.
//!
//! This module is the registry and its API (spawn, send, stop, list, output, attach, merge, …);
//! `turn.rs` drives one turn's process; `machine.rs` is the pure core — the turn's clock
//! (watchdogs, needs-input, the typed prompt, SIGTERM then SIGKILL) and the state a turn's outcome
//! leaves the agent in — unit-tested over event sequences.

use crate::adapters::{Access, AgentCli, AgentEvent, Exit, LineParser, Turn, TurnUsage};
use crate::classify::describe_exit;
use crate::identity;
use crate::output::OutputLog;
use crate::persist::{self, AgentRecord, SessionUsage, TurnRow, UsageRecord};
use crate::prices::PriceTable;
use crate::process::{AgentProcess, ProcessMsg, TermSize, kill_group};
use crate::worktree::{WorktreeError, WorktreeManager};
use maestro_protocol::{
    AgentAttachResult, AgentDiffResult, AgentInfo, AgentMergeResult, AgentMerged, AgentMode,
    AgentOutputParams, AgentOutputResult, AgentProgram, AgentRemoveResult, AgentSpawnParams,
    AgentState, AgentStatusParams, ErrorClass, Isolation, UsageResult, UsageRow, UsageTotals,
};
use maestro_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the supervisor tells its host.
pub trait Hooks: Send + Sync + 'static {
    fn status(&self, params: AgentStatusParams);
    fn output(&self, params: AgentOutputParams);
    /// Held while a turn runs, so the host (the daemon) does not exit as idle.
    fn begin_work(&self) -> Box<dyn Send>;
    /// A headless turn ended (well or not): what it was asked, what it answered, what it used.
    fn turn_finished(&self, _turn: FinishedTurn) {}
    /// The prompt a headless turn of `agent` is given, from the one it was asked: the host may
    /// put what waits for the agent (its messages) in front.
    fn turn_prompt(&self, _ws: &str, _agent: &str, prompt: String) -> String {
        prompt
    }
    /// A headless turn is over and the agent can take the next one (`state` is where it is now).
    fn turn_over(&self, _ws: &str, _agent: &str, _state: AgentState) {}
    /// The tool server (`maestro mcp`) given to `agent`'s CLI for its turns, if any.
    fn tools(&self, _ws: &str, _agent: &str) -> Option<crate::adapters::ToolServer> {
        None
    }
    /// A headless turn printed `question` on an unfinished line and went quiet: it is
    /// `needs_input`, and the host may answer it (`Supervisor::send` writes the answer).
    fn needs_input(&self, _ws: &str, _agent: &str, _question: &str) {}
}

/// A headless turn as it ended, for memory.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedTurn {
    pub ws: String,
    pub agent: String,
    pub turn: u32,
    pub prompt: String,
    /// What the agent wrote (its text events, else its result), cut at [`REPLY_KEPT`] bytes.
    pub reply: String,
    /// Tool uses, `tool summary`, at most [`TOOLS_KEPT`].
    pub tools: Vec<String>,
    /// `ok`, `warned` (ended well, with warnings), `failed` or `stopped`.
    pub outcome: &'static str,
    pub ended: f64,
}

/// How much of a turn's reply and how many tool uses go to [`Hooks::turn_finished`].
pub const REPLY_KEPT: usize = 16 * 1024;
pub const TOOLS_KEPT: usize = 40;

/// What a turn's events left to report at its end.
#[derive(Debug, Default)]
struct TurnLog {
    usage: Vec<TurnUsage>,
    reply: String,
    result: Option<String>,
    tools: Vec<String>,
    /// Tool calls denied, commands failed: what the turn's end warns about.
    denied: Vec<String>,
    failed: Vec<String>,
}

impl TurnLog {
    fn text(&mut self, text: &str) {
        if self.reply.len() < REPLY_KEPT {
            if !self.reply.is_empty() {
                self.reply.push('\n');
            }
            let room = REPLY_KEPT - self.reply.len();
            let mut cut = text.len().min(room);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            self.reply.push_str(&text[..cut]);
        }
    }
}

pub struct SupervisorOptions {
    pub store: Store,
    pub worktrees: WorktreeManager,
    /// Agents' log files go under `<logs_dir>/<workspace id>/<name>.log`.
    pub logs_dir: PathBuf,
    /// Given to agents as `MAESTRO_SOCKET`.
    pub socket: Option<PathBuf>,
    /// Output kept in memory per agent loaded at start (`agents.output_buffer_bytes`).
    pub output_buffer: usize,
    pub hooks: Arc<dyn Hooks>,
}

/// An agent's settings, resolved from the configuration for one spawn or turn.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// `claude`, `codex`, …, or a custom agent's name.
    pub cli_name: String,
    pub cli: AgentCli,
    pub program: PathBuf,
    /// `program` comes from `agents.<cli>.path` (or a custom agent's `program`), not the default.
    pub program_configured: bool,
    /// The config key that sets the program, for messages.
    pub program_key: String,
    pub extra_args: Vec<String>,
    pub model: Option<String>,
    pub silence_timeout: Option<Duration>,
    pub turn_timeout: Option<Duration>,
    pub needs_input_after: Duration,
    pub setup_files: Vec<String>,
    pub setup_command: Vec<String>,
    pub isolation: Isolation,
    pub output_buffer: usize,
    pub prices: PriceTable,
}

/// The workspace an agent belongs to.
#[derive(Debug, Clone)]
pub struct WorkspaceRef {
    pub id: String,
    pub root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    InvalidName(String),
    #[error("no agent `{name}` in {workspace}: `maestro agent list` shows the agents")]
    NotFound { name: String, workspace: String },
    #[error(
        "an agent named `{0}` already exists in this workspace: pick another name, or `maestro agent remove {0}` first"
    )]
    Exists(String),
    #[error("agent `{name}` is {state}: {hint}")]
    Busy {
        name: String,
        state: &'static str,
        hint: String,
    },
    #[error("{0}")]
    CliMissing(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Invalid(String),
    /// A consult that did not answer.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Handle to the supervisor; cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    options: SupervisorOptions,
    agents: Mutex<BTreeMap<(String, String), Arc<Slot>>>,
}

struct Slot {
    record: Mutex<AgentRecord>,
    output: Mutex<OutputLog>,
    /// The running turn, if any.
    control: Mutex<Option<Control>>,
    /// An interactive agent's next quiet spell is news (it follows a prompt, not keystrokes).
    alert_when_quiet: AtomicBool,
    /// Told when a turn ends (`control` became `None`).
    turn_ended: tokio::sync::Notify,
}

impl Slot {
    fn new(record: AgentRecord, output: OutputLog) -> Arc<Slot> {
        Arc::new(Slot {
            record: Mutex::new(record),
            output: Mutex::new(output),
            control: Mutex::new(None),
            alert_when_quiet: AtomicBool::new(true),
            turn_ended: tokio::sync::Notify::new(),
        })
    }

    fn interactive(&self) -> bool {
        self.record.lock().unwrap().info.mode == AgentMode::Interactive
    }

    /// Runs `f` on the live process, if there is one.
    fn with_process<T>(&self, f: impl FnOnce(&AgentProcess) -> T) -> Option<T> {
        self.control
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|c| c.process.as_ref())
            .map(f)
    }
}

struct Control {
    process: Option<AgentProcess>,
    stop: mpsc::UnboundedSender<String>,
}

/// How a turn ended.
#[derive(Debug, Clone)]
enum Outcome {
    Ok,
    Failed { class: ErrorClass, message: String },
    Stopped(String),
}

const FLUSH_EVERY: Duration = Duration::from_millis(50);

mod adopt;
mod consult;
mod machine;
mod turn;

pub use adopt::Adopted;
pub use consult::ConsultReply;

use machine::KILL_GRACE;
use turn::{not_found_message, typed};

impl Supervisor {
    /// Loads the stored agents. Those whose turn was running belong to a daemon that is gone:
    /// they become `lost` (their leftover processes are killed) and a `send` resumes them.
    pub fn start(options: SupervisorOptions) -> Result<Supervisor, StoreError> {
        let records = persist::load_agents(&options.store)?;
        let sup = Supervisor {
            inner: Arc::new(Inner {
                options,
                agents: Mutex::default(),
            }),
        };
        for mut record in records {
            let was = record.info.state;
            if was.is_running() {
                sup.kill_orphans(&record.info.name, &record.info.workspace_root);
                record.info.state = AgentState::Lost;
                record.info.reason = Some(format!(
                    "the daemon stopped while turn {} was {}; `maestro agent send {}` resumes{}",
                    record.info.turns,
                    was.as_str().replace('_', " "),
                    record.info.name,
                    if record.info.session_id.is_some() {
                        " its session"
                    } else {
                        " it"
                    }
                ));
                record.info.pid = None;
                record.info.updated_at = unix_now();
                checked(persist::save_agent(&sup.inner.options.store, &record));
                let turn = TurnRow {
                    ws: record.info.workspace.clone(),
                    agent: record.info.name.clone(),
                    turn: record.info.turns,
                    prompt: String::new(),
                    started: record.info.updated_at,
                    ended: Some(record.info.updated_at),
                    outcome: Some("lost".into()),
                    error_class: None,
                    message: record.info.reason.clone(),
                    session_id: record.info.session_id.clone(),
                };
                checked(persist::save_turn(&sup.inner.options.store, &turn));
                tracing::warn!(agent = %record.info.name, "agent lost: {:?}", record.info.reason);
            }
            let output = OutputLog::open(&record.log_file, sup.inner.options.output_buffer);
            let key = (record.info.workspace.clone(), record.info.name.clone());
            sup.inner
                .agents
                .lock()
                .unwrap()
                .insert(key, Slot::new(record, output));
        }
        Ok(sup)
    }

    /// Kills what is left of an agent's turn (a lost one's, or one that ended): the process
    /// groups of processes whose environment names the agent, its workspace and this daemon's
    /// socket. Found by scanning
    /// `/proc` rather than by the stored pid, which a daemon killed right after starting the turn
    /// may not have written yet.
    fn kill_orphans(&self, name: &str, root: &Path) {
        let wanted = [
            Some(format!("MAESTRO_AGENT={name}")),
            Some(format!("MAESTRO_WORKSPACE={}", root.display())),
            self.inner
                .options
                .socket
                .as_ref()
                .map(|s| format!("MAESTRO_SOCKET={}", s.display())),
        ];
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for pid in procs.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            let ours = wanted
                .iter()
                .flatten()
                .all(|w| environ.split(|b| *b == 0).any(|v| v == w.as_bytes()));
            // The group is the turn's: the CLI leads it, its children are in it.
            let group = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    stat.rsplit(')')
                        .next()?
                        .split_whitespace()
                        .nth(2)?
                        .parse::<u32>()
                        .ok()
                });
            if ours && let Some(group) = group {
                tracing::warn!(
                    pid,
                    group,
                    agent = name,
                    "killing the leftover process group of a lost agent"
                );
                kill_group(group, rustix::process::Signal::KILL);
            }
        }
    }

    fn slot(&self, ws: &str, name: &str) -> Result<Arc<Slot>, AgentError> {
        self.inner
            .agents
            .lock()
            .unwrap()
            .get(&(ws.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| AgentError::NotFound {
                name: name.to_owned(),
                workspace: ws.to_owned(),
            })
    }

    /// Turns running now.
    pub fn running(&self) -> usize {
        self.inner
            .agents
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.control.lock().unwrap().is_some())
            .count()
    }

    /// Creates an agent: checks its name and CLI, makes its worktree (copying setup files), and
    /// starts its setup command and first turn in the background.
    pub async fn spawn(
        &self,
        ws: &WorkspaceRef,
        params: &AgentSpawnParams,
        settings: AgentSettings,
    ) -> Result<AgentInfo, AgentError> {
        identity::validate_name(&params.name).map_err(AgentError::InvalidName)?;
        let key = (ws.id.clone(), params.name.clone());
        if self.inner.agents.lock().unwrap().contains_key(&key) {
            return Err(AgentError::Exists(params.name.clone()));
        }
        let Some(program) = program_of(&settings) else {
            return Err(AgentError::CliMissing(not_found_message(&settings)));
        };
        let isolation = params.isolation.unwrap_or(settings.isolation);
        let (worktree, branch, base, base_commit, notes) = match isolation {
            Isolation::Worktree => {
                let manager = self.inner.options.worktrees.clone();
                let (root, name, base) =
                    (ws.root.clone(), params.name.clone(), params.base.clone());
                let files = settings.setup_files.clone();
                let made = tokio::task::spawn_blocking(move || {
                    let wt = manager.create(&root, &name, base.as_deref())?;
                    let copied = manager.copy_files(&root, &wt.path, &files);
                    Ok::<_, WorktreeError>((wt, copied))
                })
                .await
                .expect("worktree creation does not panic")?;
                let (wt, copied) = made;
                let mut notes = wt.notes.clone();
                match copied {
                    Ok((_, missing)) if !missing.is_empty() => notes.push(format!(
                        "setup files not found in the repository, not copied: {}",
                        missing.join(", ")
                    )),
                    Ok(_) => {}
                    Err(e) => notes.push(format!("setup files not copied: {e}")),
                }
                (
                    wt.path,
                    Some(wt.branch),
                    Some(wt.base),
                    Some(wt.base_commit),
                    notes,
                )
            }
            Isolation::None => (ws.root.clone(), None, None, None, Vec::new()),
        };
        let now = unix_now();
        let log_file = self
            .inner
            .options
            .logs_dir
            .join(&ws.id)
            .join(format!("{}.log", params.name));
        let record = AgentRecord {
            info: AgentInfo {
                name: params.name.clone(),
                node: None,
                workspace: ws.id.clone(),
                workspace_root: ws.root.clone(),
                agent: settings.cli_name.clone(),
                state: AgentState::Idle,
                mode: params.mode,
                isolation,
                worktree,
                branch,
                base,
                session_id: None,
                model: params.model.clone().or_else(|| settings.model.clone()),
                persona: params.persona.clone(),
                reason: None,
                error_class: None,
                turns: 0,
                usage: UsageTotals::default(),
                color: identity::color(&params.name),
                pid: None,
                created_at: now,
                updated_at: now,
                output_bytes: 0,
                warnings: Vec::new(),
                notes: Vec::new(),
                playbook_run: params.playbook_run.clone(),
                program: Some(program),
                merged: None,
            },
            base_commit,
            silence_timeout_secs: params.silence_timeout_secs,
            turn_timeout_secs: params.turn_timeout_secs,
            log_file: log_file.clone(),
            may_commit: params.may_commit,
            session_usage: None,
        };
        // A log left by an earlier agent of the same name is not this one's.
        let _ = std::fs::remove_file(&log_file);
        let mut output = OutputLog::open(&log_file, settings.output_buffer);
        for note in &notes {
            output.append(format!("note: {note}\n").as_bytes());
        }
        let slot = Slot::new(record, output);
        {
            // Taken in the map before the row is stored, so that a second spawn of the same
            // name cannot overwrite this one's row.
            let mut agents = self.inner.agents.lock().unwrap();
            if agents.contains_key(&key) {
                return Err(AgentError::Exists(params.name.clone()));
            }
            agents.insert(key.clone(), slot.clone());
        }
        let ticket = persist::save_agent(&self.inner.options.store, &slot.record.lock().unwrap());
        if let Err(e) = ticket.done().await {
            self.inner.agents.lock().unwrap().remove(&key);
            return Err(e.into());
        }
        let setup = (!settings.setup_command.is_empty() && isolation == Isolation::Worktree)
            .then(|| settings.setup_command.clone());
        // An interactive agent's terminal UI starts at once, with or without a prompt.
        if setup.is_some() || params.prompt.is_some() || params.mode == AgentMode::Interactive {
            self.start_turn(&slot, params.prompt.clone(), setup, settings);
        } else {
            self.emit(&slot, None);
        }
        let mut info = self.info(&slot);
        info.notes = notes;
        Ok(info)
    }

    /// A directory of agent `name`'s own (next to its log), for its CLI's configuration of a
    /// run.
    pub fn tools_dir(&self, ws: &str, name: &str) -> PathBuf {
        self.inner
            .options
            .logs_dir
            .join(ws)
            .join(format!("{name}.tools"))
    }

    /// A new turn, or input for a turn that waits for it.
    pub fn send(
        &self,
        ws: &str,
        name: &str,
        prompt: &str,
        settings: AgentSettings,
    ) -> Result<AgentInfo, AgentError> {
        let slot = self.slot(ws, name)?;
        let state = slot.record.lock().unwrap().info.state;
        // The state moves to `working` before the input goes out: the turn may end as soon as the
        // process has it, and its end must not be overwritten.
        let closed = |hint: &str| AgentError::Busy {
            name: name.to_owned(),
            state: state.as_str(),
            hint: hint.to_owned(),
        };
        if slot.interactive() && slot.control.lock().unwrap().is_some() {
            // Typed into its terminal UI, whatever it is doing (they queue what they are sent).
            if slot.with_process(|_| ()).is_none() {
                return Err(closed("its terminal is starting; send again in a moment"));
            }
            {
                let mut r = slot.record.lock().unwrap();
                r.info.turns += 1;
                r.info.merged = None;
                checked(persist::save_agent(&self.inner.options.store, &r));
            }
            slot.alert_when_quiet.store(true, Ordering::Relaxed);
            if state == AgentState::NeedsInput {
                self.set_state(&slot, AgentState::Working, None);
            }
            let bracketed = slot.output.lock().unwrap().bracketed_paste();
            return match slot.with_process(|p| p.write(&typed(prompt, bracketed))) {
                Some(Ok(())) => Ok(self.info(&slot)),
                _ => Err(closed("its terminal is closing; send again once it has")),
            };
        }
        match state {
            AgentState::NeedsInput => {
                if slot.with_process(|_| ()).is_none() {
                    return Err(closed(
                        "its input is closed; `maestro agent stop` it and send again",
                    ));
                }
                slot.output
                    .lock()
                    .unwrap()
                    .append(format!("› {prompt}\n").as_bytes());
                self.set_state(&slot, AgentState::Working, None);
                if !matches!(slot.with_process(|p| p.write_line(prompt)), Some(Ok(()))) {
                    slot.output
                        .lock()
                        .unwrap()
                        .append("✗ the answer was not delivered: its input closed\n".as_bytes());
                    return Err(closed(
                        "its input is closed; `maestro agent stop` it and send again",
                    ));
                }
            }
            AgentState::Starting | AgentState::Working => {
                return Err(AgentError::Busy {
                    name: name.to_owned(),
                    state: state.as_str(),
                    hint: format!(
                        "wait for its turn to end (`maestro agent status {name}`), or `maestro agent stop {name}`"
                    ),
                });
            }
            _ => {
                if find_program(&settings.program).is_none() {
                    return Err(AgentError::CliMissing(not_found_message(&settings)));
                }
                self.start_turn(&slot, Some(prompt.to_owned()), None, settings);
            }
        }
        Ok(self.info(&slot))
    }

    /// Stops the running turn (killing its process group) and marks the agent `done`.
    pub async fn stop(&self, ws: &str, name: &str) -> Result<AgentInfo, AgentError> {
        let slot = self.slot(ws, name)?;
        let stopper = slot
            .control
            .lock()
            .unwrap()
            .as_ref()
            .map(|c| c.stop.clone());
        match stopper {
            Some(stop) => {
                let _ = stop.send("stopped by request".into());
                // Wait for the turn to wind down, so the answer shows the final state.
                let deadline = Instant::now() + KILL_GRACE + Duration::from_secs(3);
                while slot.control.lock().unwrap().is_some() && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            None => self.set_state(&slot, AgentState::Done, Some("stopped by request".into())),
        }
        Ok(self.info(&slot))
    }

    /// Waits until the agent runs no turn (at once when it runs none) and returns its state.
    pub async fn wait_turn(&self, ws: &str, name: &str) -> Result<AgentInfo, AgentError> {
        let slot = self.slot(ws, name)?;
        loop {
            let ended = slot.turn_ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if slot.control.lock().unwrap().is_none() {
                return Ok(self.info(&slot));
            }
            ended.await;
        }
    }

    /// Forgets the CLI's session id of an agent that runs no turn, so its next turn starts a fresh
    /// session (playbook turns: one task, one session).
    pub fn forget_session(&self, ws: &str, name: &str) -> Result<(), AgentError> {
        let slot = self.slot(ws, name)?;
        if slot.control.lock().unwrap().is_some() {
            let state = slot.record.lock().unwrap().info.state;
            return Err(AgentError::Busy {
                name: name.to_owned(),
                state: state.as_str(),
                hint: "its session is in use by a running turn".into(),
            });
        }
        let mut r = slot.record.lock().unwrap();
        if r.info.session_id.take().is_some() {
            r.session_usage = None;
            checked(persist::save_agent(&self.inner.options.store, &r));
        }
        Ok(())
    }

    /// A working agent's CLI waits for a person (`Some`: the question, its `needs_input`
    /// reason), or works again (`None`). Its turn goes on either way: this is what it shows.
    pub fn waiting(&self, ws: &str, name: &str, question: Option<String>) {
        let Ok(slot) = self.slot(ws, name) else {
            return;
        };
        let state = slot.record.lock().unwrap().info.state;
        match (state, question) {
            (AgentState::Working, Some(q)) => {
                let reason = format!("waiting for your answer: {q}");
                self.set_state(&slot, AgentState::NeedsInput, Some(reason));
            }
            (AgentState::NeedsInput, None) if slot.with_process(|_| ()).is_some() => {
                self.set_state(&slot, AgentState::Working, None);
            }
            _ => {}
        }
    }

    pub fn get(&self, ws: &str, name: &str) -> Result<AgentInfo, AgentError> {
        let slot = self.slot(ws, name)?;
        Ok(self.info(&slot))
    }

    /// The agents of a workspace (or all), by workspace then name.
    pub fn list(&self, ws: Option<&str>) -> Vec<AgentInfo> {
        let slots: Vec<Arc<Slot>> = self
            .inner
            .agents
            .lock()
            .unwrap()
            .iter()
            .filter(|((w, _), _)| ws.is_none_or(|ws| ws == w))
            .map(|(_, s)| s.clone())
            .collect();
        slots.iter().map(|s| self.info(s)).collect()
    }

    pub fn output(
        &self,
        ws: &str,
        name: &str,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<AgentOutputResult, AgentError> {
        let slot = self.slot(ws, name)?;
        let out = slot.output.lock().unwrap();
        let (offset, data) = out.read(offset, limit);
        Ok(AgentOutputResult {
            offset,
            data,
            end: out.end(),
            log_file: Some(out.path().to_owned()),
        })
    }

    /// What a client needs to show the agent's terminal: its screen (for an interactive agent
    /// that ran since the daemon started) and the output offset it stands for. With `size` the
    /// PTY takes the client's size first.
    pub fn attach(
        &self,
        ws: &str,
        name: &str,
        size: Option<TermSize>,
    ) -> Result<AgentAttachResult, AgentError> {
        let slot = self.slot(ws, name)?;
        let interactive = slot.interactive();
        if let Some(size) = size
            && interactive
        {
            self.resize_slot(&slot, size)?;
        }
        let running = slot.with_process(|_| ()).is_some();
        let out = slot.output.lock().unwrap();
        Ok(match out.screen() {
            Some(screen) => AgentAttachResult {
                interactive,
                running,
                screen: Some(screen.formatted),
                offset: screen.offset,
                rows: screen.rows,
                cols: screen.cols,
            },
            None => {
                let size = size.unwrap_or(TermSize::DEFAULT);
                AgentAttachResult {
                    interactive,
                    running,
                    screen: None,
                    offset: out.end(),
                    rows: size.rows,
                    cols: size.cols,
                }
            }
        })
    }

    /// Keystrokes for an interactive agent's terminal.
    pub fn input(&self, ws: &str, name: &str, data: &[u8]) -> Result<(), AgentError> {
        let slot = self.slot(ws, name)?;
        if !slot.interactive() {
            return Err(AgentError::Unsupported(format!(
                "agent `{name}` is headless: it takes prompts (`maestro agent send {name} PROMPT`), not keystrokes"
            )));
        }
        match slot.with_process(|p| p.write(data)) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(AgentError::Busy {
                name: name.to_owned(),
                state: slot.record.lock().unwrap().info.state.as_str(),
                hint: format!("its terminal is closing ({e})"),
            }),
            None => Err(AgentError::Busy {
                name: name.to_owned(),
                state: slot.record.lock().unwrap().info.state.as_str(),
                hint: format!(
                    "its terminal UI is not running: `maestro agent send {name} PROMPT` starts it again"
                ),
            }),
        }
    }

    /// The attached client's window changed size.
    pub fn resize(&self, ws: &str, name: &str, size: TermSize) -> Result<(), AgentError> {
        let slot = self.slot(ws, name)?;
        if slot.interactive() {
            self.resize_slot(&slot, size)?;
        }
        Ok(())
    }

    fn resize_slot(&self, slot: &Slot, size: TermSize) -> Result<(), AgentError> {
        if !(1..=1000).contains(&size.rows) || !(1..=1000).contains(&size.cols) {
            return Err(AgentError::Invalid(format!(
                "a terminal of {} rows × {} columns: both must be between 1 and 1000",
                size.rows, size.cols
            )));
        }
        // The screen model first, under the output lock, so output drawn for the new size
        // lands on a screen of that size.
        slot.output
            .lock()
            .unwrap()
            .resize_screen(size.rows, size.cols);
        if let Some(Err(e)) = slot.with_process(|p| p.resize(size)) {
            tracing::warn!("resizing an agent's PTY failed: {e}");
        }
        Ok(())
    }

    fn worktree_of(&self, ws: &str, name: &str) -> Result<(AgentRecord, Arc<Slot>), AgentError> {
        let slot = self.slot(ws, name)?;
        let record = slot.record.lock().unwrap().clone();
        Ok((record, slot))
    }

    fn isolated(record: &AgentRecord, what: &str) -> Result<String, AgentError> {
        match (&record.info.isolation, &record.info.base) {
            (Isolation::Worktree, Some(base)) => Ok(base.clone()),
            _ => Err(AgentError::Unsupported(format!(
                "agent `{}` works in place (isolation none): there is no branch to {what}",
                record.info.name
            ))),
        }
    }

    pub async fn diff(&self, ws: &str, name: &str) -> Result<AgentDiffResult, AgentError> {
        let (record, _) = self.worktree_of(ws, name)?;
        let base = Self::isolated(&record, "diff")?;
        let manager = self.inner.options.worktrees.clone();
        let info = record.info;
        Ok(tokio::task::spawn_blocking(move || {
            let own = own_files(&info.agent);
            manager.diff(&info.workspace_root, &info.worktree, &info.name, &base, own)
        })
        .await
        .expect("diff does not panic")?)
    }

    pub async fn merge(&self, ws: &str, name: &str) -> Result<AgentMergeResult, AgentError> {
        let (record, slot) = self.worktree_of(ws, name)?;
        let base = Self::isolated(&record, "merge")?;
        if record.info.state.is_running() {
            return Err(AgentError::Busy {
                name: name.to_owned(),
                state: record.info.state.as_str(),
                hint: "merge when its turn has ended, so that its commits are complete".into(),
            });
        }
        let manager = self.inner.options.worktrees.clone();
        let info = record.info;
        let merged = tokio::task::spawn_blocking(move || {
            manager.merge(&info.workspace_root, &info.name, &base)
        })
        .await
        .expect("merge does not panic")?;
        let line = match (&merged.commit, merged.conflicts.is_empty()) {
            (_, false) => format!(
                "merge into {} refused: conflicts in {}\n",
                merged.into,
                merged.conflicts.join(", ")
            ),
            (Some(c), true) => {
                format!("merged into {} at {}\n", merged.into, &c[..c.len().min(12)])
            }
            (None, true) => format!("nothing to merge: {} has every commit\n", merged.into),
        };
        slot.output.lock().unwrap().append(line.as_bytes());
        self.flush_output(&slot);
        if let Some(commit) = merged
            .commit
            .clone()
            .filter(|_| merged.conflicts.is_empty())
        {
            {
                let mut r = slot.record.lock().unwrap();
                r.info.merged = Some(AgentMerged {
                    into: merged.into.clone(),
                    commit,
                    at: unix_now(),
                });
                r.info.updated_at = unix_now();
                stored(persist::save_agent(&self.inner.options.store, &r));
            }
            self.emit(&slot, None);
        }
        Ok(merged)
    }

    /// Commits `files` of an agent's worktree back to how they are at its base commit (see
    /// [`WorktreeManager::restore_files`]); whether a commit was made.
    pub async fn restore_files(
        &self,
        ws: &str,
        name: &str,
        files: Vec<String>,
        message: String,
    ) -> Result<bool, AgentError> {
        let (record, _) = self.worktree_of(ws, name)?;
        Self::isolated(&record, "restore files")?;
        let Some(base_commit) = record.base_commit.clone() else {
            return Err(AgentError::Invalid(format!(
                "agent `{name}` has no recorded base commit"
            )));
        };
        let manager = self.inner.options.worktrees.clone();
        let worktree = record.info.worktree.clone();
        Ok(tokio::task::spawn_blocking(move || {
            manager.restore_files(&worktree, &base_commit, &files, &message)
        })
        .await
        .expect("restoring files does not panic")?)
    }

    /// Forgets an agent: removes its worktree (refusing uncommitted changes unless `force`)
    /// and its row; its turns and usage stay for `maestro usage`.
    pub async fn remove(
        &self,
        ws: &str,
        name: &str,
        force: bool,
    ) -> Result<AgentRemoveResult, AgentError> {
        let (record, slot) = self.worktree_of(ws, name)?;
        if slot.control.lock().unwrap().is_some() {
            return Err(AgentError::Busy {
                name: name.to_owned(),
                state: record.info.state.as_str(),
                hint: format!("`maestro agent stop {name}` first"),
            });
        }
        let result = match (&record.info.isolation, &record.info.base) {
            (Isolation::Worktree, Some(base)) => {
                let manager = self.inner.options.worktrees.clone();
                let (info, base) = (record.info.clone(), base.clone());
                tokio::task::spawn_blocking(move || {
                    manager.remove(
                        &info.workspace_root,
                        &info.worktree,
                        &info.name,
                        &base,
                        force,
                        own_files(&info.agent),
                    )
                })
                .await
                .expect("remove does not panic")?
            }
            _ => AgentRemoveResult {
                worktree_removed: None,
                branch_kept: None,
                branch_deleted: None,
                snapshots_deleted: 0,
            },
        };
        persist::remove_agent(&self.inner.options.store, ws, name).await?;
        self.inner
            .agents
            .lock()
            .unwrap()
            .remove(&(ws.to_owned(), name.to_owned()));
        let mut info = self.info(&slot);
        info.state = AgentState::Done;
        info.reason = Some("removed".into());
        self.inner.options.hooks.status(AgentStatusParams {
            agent: info,
            previous: Some(record.info.state),
            attention: false,
            removed: true,
        });
        Ok(result)
    }

    /// Tokens and dollars by agent, model or day (the person's day: in `zone`).
    pub fn usage(
        &self,
        ws: Option<&str>,
        by: &str,
        zone: &DayZone,
    ) -> Result<UsageResult, AgentError> {
        let rows = persist::load_usage(&self.inner.options.store, ws)?;
        let mut groups: BTreeMap<String, UsageRow> = BTreeMap::new();
        let mut total = UsageTotals::default();
        for line in rows {
            let (totals, priced) = (line.totals, line.priced);
            let key = match by {
                "model" => line.model,
                "day" => zone.day_of(line.at),
                _ => line.agent,
            };
            let row = groups.entry(key.clone()).or_insert_with(|| UsageRow {
                key,
                turns: 0,
                totals: UsageTotals::default(),
                priced_turns: 0,
            });
            row.turns += 1;
            row.totals.add(&totals);
            row.priced_turns += u64::from(priced);
            total.add(&totals);
        }
        let mut rows: Vec<UsageRow> = groups.into_values().collect();
        if by != "day" {
            rows.sort_by(|a, b| b.totals.cost_usd.total_cmp(&a.totals.cost_usd));
        }
        Ok(UsageResult {
            by: by.to_owned(),
            rows,
            total,
        })
    }

    fn info(&self, slot: &Slot) -> AgentInfo {
        let mut info = slot.record.lock().unwrap().info.clone();
        info.output_bytes = slot.output.lock().unwrap().end();
        info
    }

    fn emit(&self, slot: &Slot, previous: Option<AgentState>) {
        let info = self.info(slot);
        let attention = match info.state {
            // A TUI goes quiet after each answer and while a person types into it: only the
            // first quiet spell after a prompt is news.
            AgentState::NeedsInput if info.mode == AgentMode::Interactive => {
                slot.alert_when_quiet.swap(false, Ordering::Relaxed)
            }
            AgentState::NeedsInput | AgentState::Failed | AgentState::Lost => true,
            // A turn that ended with warnings (denied tools, failed commands, uncommitted
            // work) is one a person should look at.
            AgentState::Idle => {
                previous.is_some_and(|p| p.is_running()) && !info.warnings.is_empty()
            }
            _ => false,
        };
        self.inner.options.hooks.status(AgentStatusParams {
            agent: info,
            previous,
            attention,
            removed: false,
        });
    }

    /// Moves the agent to `state`, stores it, and tells clients. The record stays locked until
    /// the row is stored, so nobody sees a state (or, after a crash, misses one) that the store
    /// does not have.
    fn set_state(&self, slot: &Slot, state: AgentState, reason: Option<String>) {
        let previous = {
            let mut r = slot.record.lock().unwrap();
            let previous = r.info.state;
            r.info.state = state;
            r.info.reason = reason;
            if !matches!(state, AgentState::Failed) {
                r.info.error_class = None;
            }
            r.info.updated_at = unix_now();
            stored(persist::save_agent(&self.inner.options.store, &r));
            previous
        };
        self.emit(slot, Some(previous));
    }

    fn flush_output(&self, slot: &Slot) {
        let batch = slot.output.lock().unwrap().take_batch();
        if let Some((offset, data)) = batch {
            let r = slot.record.lock().unwrap();
            self.inner.options.hooks.output(AgentOutputParams {
                workspace: r.info.workspace.clone(),
                node: None,
                name: r.info.name.clone(),
                offset,
                data,
            });
        }
    }

    fn start_turn(
        &self,
        slot: &Arc<Slot>,
        prompt: Option<String>,
        setup: Option<Vec<String>>,
        settings: AgentSettings,
    ) {
        let (stop_tx, stop_rx) = mpsc::unbounded_channel();
        *slot.control.lock().unwrap() = Some(Control {
            process: None,
            stop: stop_tx,
        });
        let turn = {
            let mut r = slot.record.lock().unwrap();
            if prompt.is_some() {
                r.info.turns += 1;
                // New work: what was merged is no longer all of it.
                r.info.merged = None;
            }
            r.info.warnings.clear();
            r.info.turns
        };
        slot.alert_when_quiet.store(true, Ordering::Relaxed);
        self.set_state(slot, AgentState::Starting, None);
        let work = self.inner.options.hooks.begin_work();
        let (sup, slot) = (self.clone(), slot.clone());
        tokio::spawn(async move {
            let _work = work;
            sup.run(slot.clone(), turn, prompt, setup, settings, stop_rx)
                .await;
            *slot.control.lock().unwrap() = None;
            slot.turn_ended.notify_waiters();
            if !slot.interactive() {
                let (ws, name, state) = {
                    let r = slot.record.lock().unwrap();
                    (r.info.workspace.clone(), r.info.name.clone(), r.info.state)
                };
                sup.inner.options.hooks.turn_over(&ws, &name, state);
            }
        });
    }
}

/// Waits for a write, also from async code (see `WriteTicket::wait_in_place`), logging a failure.
fn stored(ticket: maestro_store::WriteTicket<maestro_store::NamedRows>) {
    if let Err(e) = ticket.wait_in_place() {
        tracing::error!("storing agent state failed: {e}");
    }
}

/// Lets a queued write finish on its own, logging a failure (the state in memory stays right; the
/// next write of the same row carries it again).
fn checked(ticket: maestro_store::WriteTicket<maestro_store::NamedRows>) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(async move {
                if let Err(e) = ticket.done().await {
                    tracing::error!("storing agent state failed: {e}");
                }
            });
        }
        Err(_) => {
            if let Err(e) = ticket.wait() {
                tracing::error!("storing agent state failed: {e}");
            }
        }
    }
}

/// The files a built-in CLI keeps for itself in its worktree (see [`AgentCli::own_files`]).
fn own_files(cli_name: &str) -> &'static [&'static str] {
    AgentCli::built_in(cli_name).map_or(&[], |c| c.own_files())
}

/// Finds a program as `Command` would: a path with a `/` as is, else on PATH.
/// The binary `settings` name, found, and where it came from.
pub(crate) fn program_of(settings: &AgentSettings) -> Option<AgentProgram> {
    Some(AgentProgram {
        path: find_program(&settings.program)?,
        from: if settings.program_configured {
            settings.program_key.clone()
        } else {
            "PATH".into()
        },
    })
}

pub fn find_program(program: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.components().count() > 1 || program.is_absolute() {
        return executable(program).then(|| program.to_owned());
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| executable(p))
    })
}

/// `text` on one line (runs of whitespace made one space), cut to `max` characters with `…`.
pub fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max - 1).collect::<String>())
    } else {
        flat
    }
}

pub(crate) use maestro_store::unix_now;

/// Where days begin and end for `usage` by day: the person's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayZone {
    /// The daemon's own (`TZ`, else `/etc/localtime`): the person's, on their machine.
    Local,
    /// A zone the client named (an editor elsewhere, a CLI with its own `TZ`).
    Named(chrono_tz::Tz),
}

impl DayZone {
    /// A client's IANA zone name (`Europe/Berlin`, `UTC`).
    pub fn named(name: &str) -> Option<DayZone> {
        name.parse().ok().map(DayZone::Named)
    }

    /// `YYYY-MM-DD` of a unix time in this zone (daylight saving included).
    pub fn day_of(&self, unix: f64) -> String {
        use chrono::TimeZone;
        let secs = unix.max(0.0) as i64;
        let day = match self {
            DayZone::Local => chrono::Local
                .timestamp_opt(secs, 0)
                .single()
                .map(|t| t.date_naive()),
            DayZone::Named(tz) => tz.timestamp_opt(secs, 0).single().map(|t| t.date_naive()),
        };
        day.map_or_else(|| day_of(unix), |d| d.format("%Y-%m-%d").to_string())
    }
}

/// `YYYY-MM-DD` (UTC) of a unix time.
pub fn day_of(unix: f64) -> String {
    let (y, m, d) = maestro_store::utc_date(unix.max(0.0) as u64);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_civil_dates() {
        assert_eq!(day_of(0.0), "1970-01-01");
        assert_eq!(day_of(1_763_700_000.0), "2025-11-21");
        assert_eq!(day_of(951_782_400.0), "2000-02-29");
    }

    #[test]
    fn days_are_counted_in_the_persons_zone() {
        // 2025-11-21 23:30 UTC is already the 22nd in Berlin, still the 21st in New York.
        let at = 1_763_767_800.0;
        assert_eq!(day_of(at), "2025-11-21");
        let day = |zone: &str| DayZone::named(zone).unwrap().day_of(at);
        assert_eq!(day("Europe/Berlin"), "2025-11-22");
        assert_eq!(day("America/New_York"), "2025-11-21");
        assert_eq!(day("UTC"), "2025-11-21");
        // Summer time: 2025-07-01 22:30 UTC is 00:30 on the 2nd in Berlin (UTC+2), the 1st in
        // winter's offset.
        assert_eq!(
            DayZone::named("Europe/Berlin")
                .unwrap()
                .day_of(1_751_409_000.0),
            "2025-07-02"
        );
        assert!(DayZone::named("Mars/Olympus").is_none());
    }
}
