//! The playbook run engine (Auto Run): documents worked task by task by agents, judged from the
//! files, with every step stored before it is shown so that a restarted daemon goes on where it
//! stopped. The decisions are [`crate::plan`]'s; this module reads files, asks its [`Executor`] for
//! turns and records. This file holds the records, the store and the API; `drive.rs` the
//! sequential driver and the steps both drivers share; `parallel.rs` the parallel driver;
//! `prepare.rs` the checks before a run starts.
//!
//! **A run** (`maestro/playbook.run`) is one tokio task that loops: read every document from disk,
//! ask `plan::next`, act, record. A turn goes to an agent chosen per task (`@name` in the task >
//! the document's `agent:` > the run's `--agent` > `agents.default`); a name is an existing agent
//! that works in place, or an agent CLI, for which the run spawns its own agent (`<cli>-<run id>`,
//! in place). Every turn starts a fresh session (the executor forgets the CLI's session id first),
//! its prompt is the rendered template, and the run waits for the turn to end, re-reads the file
//! and judges it; the reply is never read for the verdict. A failed turn is a stall; a CLI that is
//! missing or not logged in stops the run. Review gates wait for `approve` (which ticks the gate,
//! byte-exact); pause waits between turns; stop kills the running turn.
//!
//! **Loops.** Reset-on-completion documents are worked on copies under
//! `.maestro/playbooks/Runs/<name>-<run>-loop<N>.md` ([`RUNS_DIR`]), a new copy per loop (the
//! audit trail); the original is never written.
//!
//! **Parallel** (`--parallel K`, `parallel.rs`) gives K agents their own worktrees (the documents
//! must be committed as they are, since the branches start at HEAD); each idle agent takes the
//! next open task nobody holds, judged on its worktree's copy; at the end each branch gets a
//! commit restoring the documents to the base (ticks in K copies of adjacent lines would conflict
//! in every merge), is merged, and the tasks of each branch that merged are ticked in the person's
//! document; a branch that conflicts is reported with its files and its tasks stay open.
//! `--parallel` does not loop or reset, and does not take `from`/`only` (refused with the reason);
//! its workers all run the run's CLI, so `@agent` is not used there (a warning says so).
//!
//! **Durable.** A run is a `RunRecord` (options, documents, `RunState`, the task in flight) in the
//! store's `playbook_run` relation, stored before each step is shown; every event is a row of
//! `playbook_event`. [`Runner::resume`] goes on with running runs: the task that was in flight is
//! judged from the file first (ticked before the kill: counted done, no second turn).
//!
//! **Events** (`start`, `document_start`, `task_start`, `task_complete`, `task_stalled`,
//! `document_complete`, `document_skipped`, `review_wait`, `approved`, `loop_complete`, `paused`,
//! `resumed`, `merge`, `halted`, `stopped`, `error`, and `complete` last) are stored, then go to
//! the executor (`maestro/playbookProgress` with the run as it is after the event), and to its
//! progress report ("done/total · what"). A run holds the executor's work guard, so the daemon
//! does not exit as idle under it.

use crate::plan::{self, Doc, Limits, Next, RunState};
use crate::{Playbook, Task, Verdict, judge, render};
use maestro_protocol::{
    AgentInfo, AgentMode, AgentSpawnParams, AgentState, ErrorClass, Isolation, PlannedTask,
    PlaybookEvent, PlaybookProgressParams, PlaybookRunInfo, PlaybookRunParams, PlaybookRunResult,
    RunDocument, RunGate, RunStatus, RunTask,
};
use maestro_store::{DataValue, Params, Store, params, unix_now};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod drive;
mod executor;
mod parallel;
mod prepare;
#[cfg(test)]
mod tests;

pub use executor::{Executor, Progress, Workspace};

/// Where copies of documents that reset live, relative to the workspace root.
pub const RUNS_DIR: &str = ".maestro/playbooks/Runs";
/// The most agents a parallel run may use.
pub const MAX_PARALLEL: u32 = 16;

/// What a person asks of a run that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Stop,
    Pause,
    Resume,
    Approve,
}

/// What a person asked of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Wanted {
    Run,
    Pause,
    Stop,
}

/// [`RunState`] as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SavedState {
    loop_number: u32,
    stalls: BTreeMap<String, u32>,
    skipped: BTreeMap<String, String>,
    approved: Vec<(String, String)>,
    halted: Option<String>,
    from: Option<(String, u32)>,
}

impl SavedState {
    fn plan(&self) -> RunState {
        RunState {
            loop_number: self.loop_number,
            stalls: self.stalls.clone(),
            skipped: self.skipped.clone(),
            approved: self.approved.clone(),
            halted: self.halted.clone(),
            from: self.from.clone(),
        }
    }

    fn take(&mut self, s: RunState) {
        self.loop_number = s.loop_number;
        self.stalls = s.stalls;
        self.skipped = s.skipped;
        self.approved = s.approved;
        self.halted = s.halted;
        self.from = s.from;
    }
}

/// A task by its text and which occurrence of that text it is (lines move when agents add
/// tasks; texts do not, and a rewritten text is tampering anyway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskKey {
    doc: usize,
    text: String,
    occurrence: usize,
}

impl TaskKey {
    fn of(doc: usize, book: &Playbook, task: &Task) -> TaskKey {
        let occurrence = book
            .tasks
            .iter()
            .take_while(|t| t.checkbox != task.checkbox)
            .filter(|t| t.text == task.text)
            .count();
        TaskKey {
            doc,
            text: task.text.clone(),
            occurrence,
        }
    }

    fn find<'b>(&self, book: &'b Playbook) -> Option<&'b Task> {
        book.tasks
            .iter()
            .filter(|t| t.text == self.text)
            .nth(self.occurrence)
    }
}

/// A turn that was running when the record was stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InFlight {
    key: TaskKey,
    line: u32,
    agent: String,
    started_at: f64,
}

/// A run as stored: everything a restarted daemon needs to decide the same way.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunRecord {
    info: PlaybookRunInfo,
    params: PlaybookRunParams,
    order: Vec<usize>,
    state: SavedState,
    /// Per document: it is worked on a copy per loop.
    reset: Vec<bool>,
    in_flight: Vec<InFlight>,
    wanted: Wanted,
    /// The review gate the run waits at.
    #[serde(default)]
    gate: Option<TaskKey>,
    /// Parallel: the agents, and the tasks each completed on its branch.
    #[serde(default)]
    workers: Vec<String>,
    #[serde(default)]
    on_branch: Vec<(String, TaskKey)>,
    /// Documents whose `document_start` was told in this loop.
    #[serde(default)]
    started_docs: Vec<usize>,
    next_seq: u64,
}

/// A run in memory.
struct Run {
    id: String,
    ws: Workspace,
    record: Mutex<RunRecord>,
    poke: tokio::sync::Notify,
    progress: Mutex<Option<Box<dyn Progress>>>,
    /// A driver task is running the run (until its last event is out).
    driving: std::sync::atomic::AtomicBool,
}

impl Run {
    fn new(record: RunRecord) -> Arc<Run> {
        Arc::new(Run {
            id: record.info.id.clone(),
            ws: Workspace {
                id: record.info.workspace.clone(),
                root: record.info.workspace_root.clone(),
            },
            record: Mutex::new(record),
            poke: tokio::sync::Notify::new(),
            progress: Mutex::new(None),
            driving: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The tasks a parallel worker completed on its branch.
    fn done_by(&self, worker: &str) -> Vec<TaskKey> {
        self.record
            .lock()
            .unwrap()
            .on_branch
            .iter()
            .filter(|(who, _)| who == worker)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// The documents' paths relative to the workspace root (as in a worktree too).
    fn displays(&self) -> Vec<String> {
        self.record
            .lock()
            .unwrap()
            .info
            .documents
            .iter()
            .map(|d| d.display.clone())
            .collect()
    }
}

/// The Auto Run service: every run the daemon knows, finished ones included (they are small),
/// and the executor that gives their turns. Cheap to clone (driver tasks hold a clone).
pub struct Runner<E: Executor> {
    inner: Arc<Shared<E>>,
}

impl<E: Executor> Clone for Runner<E> {
    fn clone(&self) -> Self {
        Runner {
            inner: self.inner.clone(),
        }
    }
}

struct Shared<E> {
    exec: E,
    store: Store,
    runs: Mutex<BTreeMap<String, Arc<Run>>>,
}

const PUT_RUN: &str = r#"
?[id, ws, status, updated, record] <- [[$id, $ws, $status, $updated, $record]]
:put playbook_run {id => ws, status, updated, record}
"#;
const PUT_EVENT: &str = r#"
?[run, seq, at, kind, event] <- [[$run, $seq, $at, $kind, $event]]
:put playbook_event {run, seq => at, kind, event}
"#;
const ALL_RUNS: &str = "?[record] := *playbook_run{record}";
const EVENTS_OF_RUN: &str = r#"
?[seq, event] := run = $run, *playbook_event{run, seq, event}
:order seq
"#;

/// Why a run cannot start (or go on): a message for the person.
pub type Refusal = String;

/// An agent a task goes to.
#[derive(Debug, Clone)]
struct Pick {
    /// The agent's name in the workspace.
    name: String,
    /// Its CLI (for the settings).
    cli: String,
    /// The run starts it (the task named a CLI, not an agent).
    new: bool,
}

impl<E: Executor> Runner<E> {
    /// A runner with no runs yet; [`Runner::resume`] loads the stored ones.
    pub fn new(store: Store, exec: E) -> Runner<E> {
        Runner {
            inner: Arc::new(Shared {
                exec,
                store,
                runs: Mutex::default(),
            }),
        }
    }

    fn exec(&self) -> &E {
        &self.inner.exec
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Loads the stored runs; those that were running go on (their in-flight turn is judged from
    /// the file first). Called once the executor's agents know their old turns were lost.
    pub fn resume(&self) {
        let rows = match self.store().read(ALL_RUNS, Params::new()) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("reading playbook runs failed: {e}");
                return;
            }
        };
        for row in &rows.rows {
            let Some(json) = row.first().and_then(DataValue::get_str) else {
                continue;
            };
            let record: RunRecord = match serde_json::from_str(json) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("unreadable playbook run skipped: {e}");
                    continue;
                }
            };
            let run = Run::new(record);
            let live = !run.record.lock().unwrap().info.status.is_final();
            self.inner
                .runs
                .lock()
                .unwrap()
                .insert(run.id.clone(), run.clone());
            if live {
                tracing::info!(run = %run.id, "playbook run resumes");
                self.start_driver(run, true);
            }
        }
    }

    /// Starts a run (or plans it, with `dry_run`).
    pub async fn start(&self, p: PlaybookRunParams) -> Result<PlaybookRunResult, Refusal> {
        let prepared = self.prepare(&p)?;
        if p.dry_run {
            return Ok(prepared.result);
        }
        let Prepared {
            mut record,
            ws,
            result,
            reset_copies,
        } = prepared;
        let id = self.new_run_id();
        record.info.id = id.clone();
        for (i, needed) in reset_copies.into_iter().enumerate() {
            if needed {
                let working = copy_for_loop(&ws.root, &record.info.documents[i].path, &id, 1)?;
                record.info.documents[i].working = working;
            }
        }
        if let Some(k) = p.parallel {
            let cli = self.parallel_cli(&ws, &record)?;
            record.workers = (1..=k).map(|i| format!("{cli}-{id}-w{i}")).collect();
        }
        let run = Run::new(record);
        self.inner
            .runs
            .lock()
            .unwrap()
            .insert(id.clone(), run.clone());
        self.save(&run).await;
        self.start_driver(run.clone(), false);
        let info = run.record.lock().unwrap().info.clone();
        Ok(PlaybookRunResult {
            run: info,
            plan: Vec::new(),
            warnings: result.warnings,
        })
    }

    fn new_run_id(&self) -> String {
        let runs = self.inner.runs.lock().unwrap();
        let random = std::collections::hash_map::RandomState::new();
        (0u64..)
            .map(|n| {
                format!(
                    "r{:06x}",
                    std::hash::BuildHasher::hash_one(&random, n) & 0xff_ffff
                )
            })
            .find(|id| !runs.contains_key(id))
            .expect("a free id among 16 million")
    }

    fn start_driver(&self, run: Arc<Run>, resumed: bool) {
        use std::sync::atomic::Ordering;
        if run.driving.swap(true, Ordering::SeqCst) {
            tracing::warn!(run = %run.id, "a second driver for the run was not started");
            return;
        }
        let engine = self.clone();
        let work = self.exec().begin_work();
        tokio::spawn(async move {
            let _work = work;
            let title = {
                let r = run.record.lock().unwrap();
                format!(
                    "Playbook {}",
                    r.info
                        .documents
                        .iter()
                        .map(|d| d.display.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            *run.progress.lock().unwrap() = Some(engine.exec().begin_progress(&title));
            if !resumed {
                engine
                    .emit_run(&run, "start", |e| {
                        e.message = Some(title.clone());
                    })
                    .await;
            } else {
                engine
                    .emit_run(&run, "resumed", |e| {
                        e.message = Some("the daemon restarted; the run goes on".into());
                    })
                    .await;
            }
            let parallel = run.record.lock().unwrap().params.parallel.is_some();
            let end = if parallel {
                engine.drive_parallel(&run).await
            } else {
                engine.drive(&run).await
            };
            engine.finish(&run, end).await;
            run.driving.store(false, Ordering::SeqCst);
        });
    }

    /// Stores the run (awaited: what follows may be shown).
    async fn save(&self, run: &Run) {
        let (json, status, ws, updated) = {
            let mut r = run.record.lock().unwrap();
            r.info.updated_at = unix_now();
            (
                serde_json::to_string(&*r).expect("records serialize"),
                r.info.status,
                r.info.workspace.clone(),
                r.info.updated_at,
            )
        };
        let ticket = self.store().queue_write(
            PUT_RUN,
            params([
                ("id", DataValue::from(run.id.as_str())),
                ("ws", DataValue::from(ws.as_str())),
                ("status", DataValue::from(status.as_str())),
                ("updated", DataValue::from(updated)),
                ("record", DataValue::from(json.as_str())),
            ]),
        );
        if let Err(e) = ticket.done().await {
            tracing::error!(run = %run.id, "storing the playbook run failed: {e}");
        }
    }

    /// Records an event (with the run as it is now), then tells subscribers.
    async fn emit_run(&self, run: &Run, kind: &str, fill: impl FnOnce(&mut PlaybookEvent)) {
        let event = {
            let mut r = run.record.lock().unwrap();
            let mut e = PlaybookEvent {
                run: run.id.clone(),
                seq: r.next_seq,
                at: unix_now(),
                kind: kind.to_owned(),
                document: None,
                line: None,
                task: None,
                agent: None,
                loop_number: Some(r.info.loop_number),
                duration_secs: None,
                cost_usd: None,
                message: None,
            };
            fill(&mut e);
            r.next_seq += 1;
            e
        };
        let json = serde_json::to_string(&event).expect("events serialize");
        let ticket = self.store().queue_write(
            PUT_EVENT,
            params([
                ("run", DataValue::from(run.id.as_str())),
                ("seq", DataValue::from(event.seq as i64)),
                ("at", DataValue::from(event.at)),
                ("kind", DataValue::from(kind)),
                ("event", DataValue::from(json.as_str())),
            ]),
        );
        self.save(run).await;
        if let Err(e) = ticket.done().await {
            tracing::error!(run = %run.id, "storing a playbook event failed: {e}");
        }
        let info = run.record.lock().unwrap().info.clone();
        if let Some(p) = run.progress.lock().unwrap().as_ref() {
            let (total, done): (usize, usize) = info
                .documents
                .iter()
                .fold((0, 0), |(t, d), doc| (t + doc.tasks, d + doc.done));
            let what = match (&event.task, &event.message) {
                (Some(task), _) => format!("{}: {}", event.kind.replace('_', " "), task),
                (None, Some(m)) => m.clone(),
                (None, None) => event.kind.replace('_', " "),
            };
            p.report(
                Some(format!("{done}/{total} · {what}")),
                (total > 0).then(|| (done * 100 / total) as u32),
            );
        }
        self.exec()
            .emit(PlaybookProgressParams { run: info, event });
    }

    async fn finish(&self, run: &Run, end: (RunStatus, String)) {
        let (status, reason) = end;
        {
            let mut r = run.record.lock().unwrap();
            r.info.status = status;
            r.info.reason = Some(reason.clone());
            r.info.current.clear();
        }
        let kind = match status {
            RunStatus::Halted => "halted",
            RunStatus::Stopped => "stopped",
            RunStatus::Failed => "error",
            _ => "complete",
        };
        self.emit_run(run, kind, |e| e.message = Some(reason.clone()))
            .await;
        if kind != "complete" {
            self.emit_run(run, "complete", |e| {
                e.message = Some(format!("{}: {reason}", status.as_str()));
            })
            .await;
        }
        if let Some(p) = run.progress.lock().unwrap().take() {
            p.end(Some(format!("{}: {reason}", status.as_str())));
        }
    }

    /// Reads the run's documents (their working files) as they are now.
    fn read_docs(&self, run: &Run) -> Result<Vec<Doc>, String> {
        let files: Vec<(PathBuf, String)> = run
            .record
            .lock()
            .unwrap()
            .info
            .documents
            .iter()
            .map(|d| (d.working.clone(), d.display.clone()))
            .collect();
        files
            .into_iter()
            .map(|(file, display)| {
                let bytes = std::fs::read(&file).map_err(|e| {
                    format!(
                        "{} cannot be read any more ({e}): the run stops; restore it and `maestro playbook resume`",
                        file.display()
                    )
                })?;
                Ok(Doc {
                    path: display,
                    book: crate::parse(&bytes),
                })
            })
            .collect()
    }

    fn limits(record: &RunRecord) -> Limits {
        Limits {
            stall_turns: record.params.stall_turns.unwrap_or(3).max(1),
            looped: record.params.looped,
            max_loops: record.params.max_loops,
        }
    }

    /// Counts of each document, as read.
    fn count(&self, run: &Run, docs: &[Doc]) {
        let mut r = run.record.lock().unwrap();
        for (d, doc) in r.info.documents.iter_mut().zip(docs) {
            set_counts(d, &doc.book);
        }
    }

    /// Stops, pauses, resumes or approves the run `id` (the one going on when `None`).
    pub async fn control(
        &self,
        id: Option<&str>,
        what: Control,
    ) -> Result<PlaybookRunInfo, Refusal> {
        let run = self.find_run(id, what == Control::Resume)?;
        let status = run.record.lock().unwrap().info.status;
        match what {
            Control::Stop => {
                if status.is_final() {
                    return Err(format!("run {} is already {}", run.id, status.as_str()));
                }
                let agents: Vec<String> = {
                    let mut r = run.record.lock().unwrap();
                    r.wanted = Wanted::Stop;
                    r.in_flight.iter().map(|f| f.agent.clone()).collect()
                };
                run.poke.notify_waiters();
                for a in agents {
                    self.exec().stop(&run.ws, &a).await;
                }
            }
            Control::Pause => {
                if status.is_final() {
                    return Err(format!(
                        "run {} is {}: nothing to pause",
                        run.id,
                        status.as_str()
                    ));
                }
                run.record.lock().unwrap().wanted = Wanted::Pause;
                run.poke.notify_waiters();
                self.save(&run).await;
            }
            Control::Resume => {
                if status.is_final() {
                    if status == RunStatus::Finished {
                        return Err(format!("run {} is finished: start a new run", run.id));
                    }
                    // Its driver may still be telling its end: let it finish first.
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                    while run.driving.load(std::sync::atomic::Ordering::SeqCst) {
                        if std::time::Instant::now() > deadline {
                            return Err(format!(
                                "run {} is still winding down; resume it again in a moment",
                                run.id
                            ));
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    // A stopped, halted or failed run goes on from where it is (a halt line
                    // the person removed no longer halts).
                    {
                        let mut r = run.record.lock().unwrap();
                        r.wanted = Wanted::Run;
                        r.state.halted = None;
                        r.info.status = RunStatus::Running;
                        r.info.reason = None;
                    }
                    self.save(&run).await;
                    self.start_driver(run.clone(), false);
                } else {
                    let paused = {
                        let mut r = run.record.lock().unwrap();
                        let paused = r.wanted == Wanted::Pause;
                        if paused {
                            r.wanted = Wanted::Run;
                        }
                        paused
                    };
                    if !paused {
                        return Err(format!(
                            "run {} is {}, not paused: nothing to resume",
                            run.id,
                            status.as_str()
                        ));
                    }
                    run.poke.notify_waiters();
                    self.emit_run(&run, "resumed", |e| {
                        e.message = Some("resumed by request".into())
                    })
                    .await;
                }
            }
            Control::Approve => {
                let gate = run.record.lock().unwrap().gate.clone();
                let Some(gate) = gate.filter(|_| status == RunStatus::Review) else {
                    return Err(format!(
                        "run {} is {}, not waiting at a review gate",
                        run.id,
                        status.as_str()
                    ));
                };
                let (working, display) = {
                    let r = run.record.lock().unwrap();
                    let d = &r.info.documents[gate.doc];
                    (d.working.clone(), d.display.clone())
                };
                tick_all(&working, std::slice::from_ref(&gate))?;
                {
                    let mut r = run.record.lock().unwrap();
                    r.state.approved.push((display.clone(), gate.text.clone()));
                    r.gate = None;
                    r.info.gate = None;
                    r.info.status = RunStatus::Running;
                }
                self.emit_run(&run, "approved", |e| {
                    e.document = Some(display);
                    e.task = Some(gate.text.clone());
                    e.message = Some("approved by a person".into());
                })
                .await;
                run.poke.notify_waiters();
            }
        }
        Ok(run.record.lock().unwrap().info.clone())
    }

    /// The run `id`; without one, the run going on, or (`latest`) the newest when none is.
    fn find_run(&self, id: Option<&str>, latest: bool) -> Result<Arc<Run>, Refusal> {
        let runs = self.inner.runs.lock().unwrap();
        match id {
            Some(id) => runs.get(id).cloned().ok_or_else(|| {
                format!("no playbook run `{id}`: `maestro playbook status` lists the runs")
            }),
            None => {
                let live: Vec<&Arc<Run>> = runs
                    .values()
                    .filter(|r| !r.record.lock().unwrap().info.status.is_final())
                    .collect();
                match live.as_slice() {
                    [one] => Ok((*one).clone()),
                    [] if latest => runs
                        .values()
                        .max_by(|a, b| {
                            let (a, b) = (a.record.lock().unwrap(), b.record.lock().unwrap());
                            a.info.started_at.total_cmp(&b.info.started_at)
                        })
                        .cloned()
                        .ok_or_else(|| "there are no playbook runs".to_owned()),
                    [] => Err("no playbook run is going on".into()),
                    many => Err(format!(
                        "{} runs are going on ({}): name one",
                        many.len(),
                        many.iter()
                            .map(|r| r.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
        }
    }

    /// Every run, newest first.
    pub fn list(&self, id: Option<&str>) -> Result<Vec<PlaybookRunInfo>, Refusal> {
        if let Some(id) = id {
            return Ok(vec![
                self.find_run(Some(id), false)?
                    .record
                    .lock()
                    .unwrap()
                    .info
                    .clone(),
            ]);
        }
        let mut all: Vec<PlaybookRunInfo> = self
            .inner
            .runs
            .lock()
            .unwrap()
            .values()
            .map(|r| r.record.lock().unwrap().info.clone())
            .collect();
        all.sort_by(|a, b| b.started_at.total_cmp(&a.started_at));
        Ok(all)
    }

    /// A run and its stored events.
    pub fn history(
        &self,
        id: Option<&str>,
    ) -> Result<(PlaybookRunInfo, Vec<PlaybookEvent>), Refusal> {
        let run = self.find_run(id, true)?;
        let rows = self
            .store()
            .read(
                EVENTS_OF_RUN,
                params([("run", DataValue::from(run.id.as_str()))]),
            )
            .map_err(|e| e.to_string())?;
        let events = rows
            .rows
            .iter()
            .filter_map(|r| r.get(1).and_then(DataValue::get_str))
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect();
        let info = run.record.lock().unwrap().info.clone();
        Ok((info, events))
    }
}

struct Prepared {
    record: RunRecord,
    ws: Workspace,
    result: PlaybookRunResult,
    /// Per document: it is worked on a copy.
    reset_copies: Vec<bool>,
}

/// A task of one of the run's documents (`d`, the run's `doc`-th), as a turn works on it.
#[derive(Clone, Copy)]
struct At<'a> {
    doc: usize,
    d: &'a Doc,
    task: &'a Task,
}

enum TurnEnd {
    Judged(Verdict, Box<TurnInfo>),
    Failed(String),
}

struct TurnInfo {
    agent: AgentInfo,
    duration: f64,
    cost: f64,
    last: String,
    /// The document the turn was judged on, as read after it.
    after: Option<Playbook>,
}

impl TurnInfo {
    fn new(agent: AgentInfo, started: f64, last: String, cost_before: f64) -> TurnInfo {
        let cost = (agent.usage.cost_usd - cost_before).max(0.0);
        TurnInfo {
            agent,
            duration: unix_now() - started,
            cost,
            last,
            after: None,
        }
    }
}

/// A document's task counts, from how it reads now.
fn set_counts(d: &mut RunDocument, book: &Playbook) {
    d.tasks = book.tasks.len();
    d.done = book.tasks.iter().filter(|t| t.done).count();
}

pub fn is_markdown(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("md" | "markdown")
    )
}

fn template_of(book: &Playbook) -> &str {
    book.options
        .prompt
        .as_deref()
        .unwrap_or(crate::DEFAULT_PROMPT)
}

fn vars(path: &str, task: &Task, loop_number: u32, branch: &str, agent: &str) -> crate::PromptVars {
    let file = path.rsplit('/').next().unwrap_or(path);
    crate::PromptVars {
        document_path: path.to_owned(),
        document_name: file.trim_end_matches(".md").to_owned(),
        task: task.text.clone(),
        task_line: task.line,
        loop_number,
        branch: branch.to_owned(),
        agent: agent.to_owned(),
    }
}

/// The branch checked out at `root` (empty when detached or not a repository).
fn branch_of(root: &Path) -> String {
    std::fs::read_to_string(root.join(".git/HEAD"))
        .ok()
        .and_then(|h| h.trim().strip_prefix("ref: refs/heads/").map(str::to_owned))
        .unwrap_or_default()
}

/// A copy of `doc` for loop `n` of run `id`, under [`RUNS_DIR`].
fn copy_for_loop(root: &Path, doc: &Path, id: &str, n: u32) -> Result<PathBuf, String> {
    let dir = root.join(RUNS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let stem = doc
        .file_stem()
        .map_or("playbook".into(), |s| s.to_string_lossy());
    let copy = dir.join(format!("{stem}-{id}-loop{n}.md"));
    std::fs::copy(doc, &copy).map_err(|e| {
        format!(
            "copying {} to {} failed: {e}",
            doc.display(),
            copy.display()
        )
    })?;
    Ok(copy)
}

/// Ticks the tasks `keys` in the file, byte-exact (each box only), written atomically.
fn tick_all(path: &Path, keys: &[TaskKey]) -> Result<(), String> {
    let mut bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for key in keys {
        let book = crate::parse(&bytes);
        let Some(task) = key.find(&book) else {
            return Err(format!(
                "{}: `{}` is no longer in the document; not ticked",
                path.display(),
                key.text
            ));
        };
        if let Some(next) = crate::set_done(&bytes, task, true) {
            bytes = next;
        }
    }
    let tmp = path.with_extension("md.maestro-tmp");
    std::fs::write(&tmp, &bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
