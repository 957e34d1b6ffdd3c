//! The run engine without a daemon: a fake [`Executor`] whose agents edit the documents themselves
//! (tick their task, leave it, write a halt line, fail), a real store in memory, real files.

use super::*;
use maestro_protocol::{AgentMergeResult, UsageTotals};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What a fake agent does with a turn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Does {
    /// Ticks its task.
    Tick,
    /// Leaves the document as it is.
    Nothing,
    /// Writes `HALT:` under its task.
    Halt,
    /// Fails as a CLI that is not logged in does.
    FailAuth,
    /// Ticks its task, then never ends its turn (a daemon that dies mid-turn).
    TickAndHang,
}

struct FakeAgent {
    info: AgentInfo,
    does: Does,
}

struct Fake {
    root: PathBuf,
    /// What the agents of each CLI do.
    clis: BTreeMap<String, Does>,
    agents: Mutex<BTreeMap<String, FakeAgent>>,
    /// Every turn sent: (agent, prompt).
    sent: Mutex<Vec<(String, String)>>,
    events: Mutex<Vec<PlaybookEvent>>,
    remembered: Mutex<Vec<(String, String)>>,
    restored: Mutex<Vec<String>>,
    merged: Mutex<Vec<String>>,
    committed: AtomicBool,
    hang: tokio::sync::Notify,
}

impl Fake {
    fn new(root: &Path, clis: &[(&str, Does)]) -> Fake {
        Fake {
            root: root.to_owned(),
            clis: clis.iter().map(|(c, d)| ((*c).to_owned(), *d)).collect(),
            agents: Mutex::default(),
            sent: Mutex::default(),
            events: Mutex::default(),
            remembered: Mutex::default(),
            restored: Mutex::default(),
            merged: Mutex::default(),
            committed: AtomicBool::new(true),
            hang: tokio::sync::Notify::new(),
        }
    }

    fn ws(&self) -> Workspace {
        Workspace {
            id: "ws".into(),
            root: self.root.clone(),
        }
    }

    /// Does what the agent does to `path:line` (the prompt of the tests' documents).
    fn work(&self, does: Does, worktree: &Path, prompt: &str) {
        let (path, line) = prompt.trim().rsplit_once(':').expect("path:line prompts");
        let line: u32 = line.parse().expect("a line");
        let file = worktree.join(path);
        let bytes = std::fs::read(&file).expect("the document");
        let book = crate::parse(&bytes);
        let task = book
            .tasks
            .iter()
            .find(|t| t.line == line)
            .expect("the task");
        let after = match does {
            Does::Tick | Does::TickAndHang => crate::set_done(&bytes, task, true).expect("ticked"),
            Does::Halt => {
                let text = String::from_utf8(bytes.clone()).unwrap();
                let mut lines: Vec<&str> = text.lines().collect();
                lines.insert(line as usize, "HALT: the fake cannot do this");
                (lines.join("\n") + "\n").into_bytes()
            }
            Does::Nothing | Does::FailAuth => bytes,
        };
        std::fs::write(&file, after).unwrap();
    }

    fn kinds(&self) -> Vec<String> {
        self.kinds_of(None)
    }

    /// The kinds of the events told, of one run or all.
    fn kinds_of(&self, run: Option<&str>) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| run.is_none_or(|r| e.run == r))
            .map(|e| e.kind.clone())
            .collect()
    }

    /// The task lines each turn was given, in order.
    fn lines_sent(&self) -> Vec<u32> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(_, p)| p.trim().rsplit_once(':').unwrap().1.parse().unwrap())
            .collect()
    }
}

/// A shared fake (the runner owns its executor; the test keeps reading it).
#[derive(Clone)]
struct Shared(Arc<Fake>);

impl Executor for Shared {
    type Settings = ();

    fn workspace_of(&self, path: &Path) -> Result<Workspace, String> {
        if path.starts_with(&self.0.root) {
            Ok(self.0.ws())
        } else {
            Err(format!("{} is in no workspace", path.display()))
        }
    }

    fn default_cli(&self, _: &Workspace) -> Result<String, String> {
        Ok("fake".into())
    }

    fn check_cli(&self, _: &Workspace, cli: &str) -> Result<(), String> {
        if self.0.clis.contains_key(cli) {
            Ok(())
        } else {
            Err(format!("unknown agent `{cli}`"))
        }
    }

    fn settings(&self, _: &Workspace, _: &str, _: Isolation) -> Result<(), String> {
        Ok(())
    }

    fn committed_as_is(&self, _: &Path, _: &str) -> Result<bool, String> {
        Ok(self.0.committed.load(Ordering::SeqCst))
    }

    fn valid_name(&self, name: &str) -> bool {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    }

    fn agent(&self, _: &Workspace, name: &str) -> Result<AgentInfo, String> {
        self.0
            .agents
            .lock()
            .unwrap()
            .get(name)
            .map(|a| a.info.clone())
            .ok_or_else(|| format!("no agent `{name}`"))
    }

    async fn spawn(&self, ws: &Workspace, p: AgentSpawnParams, _: ()) -> Result<(), String> {
        let isolation = p.isolation.unwrap_or(Isolation::None);
        let worktree = match isolation {
            Isolation::Worktree => {
                // The worker's branch starts from the person's committed documents.
                let dir = ws.root.join(".worktrees").join(&p.name);
                std::fs::create_dir_all(&dir).unwrap();
                for entry in std::fs::read_dir(&ws.root).unwrap() {
                    let path = entry.unwrap().path();
                    if path.extension().is_some_and(|e| e == "md") {
                        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
                    }
                }
                dir
            }
            _ => ws.root.clone(),
        };
        let info = AgentInfo {
            name: p.name.clone(),
            node: None,
            workspace: ws.id.clone(),
            workspace_root: ws.root.clone(),
            agent: p.agent.clone(),
            state: AgentState::Idle,
            mode: p.mode,
            isolation,
            worktree,
            branch: (isolation == Isolation::Worktree).then(|| p.name.clone()),
            base: None,
            session_id: None,
            model: None,
            persona: None,
            reason: None,
            error_class: None,
            turns: 0,
            usage: UsageTotals::default(),
            color: String::new(),
            pid: None,
            created_at: 0.0,
            updated_at: 0.0,
            output_bytes: 0,
            warnings: Vec::new(),
            notes: Vec::new(),
            playbook_run: p.playbook_run.clone(),
            program: None,
            merged: None,
        };
        let does = self.0.clis[&p.agent];
        self.0
            .agents
            .lock()
            .unwrap()
            .insert(p.name, FakeAgent { info, does });
        Ok(())
    }

    async fn wait_turn(&self, ws: &Workspace, name: &str) -> Result<AgentInfo, String> {
        let hangs =
            self.0.agents.lock().unwrap().get(name).is_some_and(|a| {
                a.does == Does::TickAndHang && a.info.state == AgentState::Working
            });
        if hangs {
            self.0.hang.notified().await;
        }
        self.agent(ws, name)
    }

    fn forget_session(&self, _: &Workspace, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn send(&self, _: &Workspace, name: &str, prompt: &str, _: ()) -> Result<(), String> {
        self.0
            .sent
            .lock()
            .unwrap()
            .push((name.to_owned(), prompt.to_owned()));
        let (does, worktree) = {
            let agents = self.0.agents.lock().unwrap();
            let a = &agents[name];
            (a.does, a.info.worktree.clone())
        };
        self.0.work(does, &worktree, prompt);
        let mut agents = self.0.agents.lock().unwrap();
        let a = &mut agents.get_mut(name).unwrap().info;
        a.turns += 1;
        a.output_bytes += 100;
        a.usage.cost_usd += 0.25;
        (a.state, a.reason, a.error_class) = match does {
            Does::FailAuth => (
                AgentState::Failed,
                Some("not logged in".into()),
                Some(ErrorClass::Auth),
            ),
            Does::TickAndHang => (AgentState::Working, None, None),
            _ => (AgentState::Idle, None, None),
        };
        Ok(())
    }

    fn last_words(&self, _: &Workspace, name: &str, _: u64) -> String {
        format!("{name} says done")
    }

    async fn stop(&self, _: &Workspace, name: &str) {
        if let Some(a) = self.0.agents.lock().unwrap().get_mut(name) {
            a.info.state = AgentState::Done;
        }
    }

    async fn restore_files(
        &self,
        ws: &Workspace,
        name: &str,
        paths: Vec<String>,
        _: String,
    ) -> Result<(), String> {
        let worktree = self.agent(ws, name)?.worktree;
        for p in paths {
            // As on the base: the person's document before the run ticks it.
            std::fs::copy(ws.root.join(&p), worktree.join(&p)).map_err(|e| e.to_string())?;
        }
        self.0.restored.lock().unwrap().push(name.to_owned());
        Ok(())
    }

    async fn merge(&self, _: &Workspace, name: &str) -> Result<AgentMergeResult, String> {
        self.0.merged.lock().unwrap().push(name.to_owned());
        Ok(AgentMergeResult {
            into: "main".into(),
            commit: None,
            fast_forward: true,
            up_to_date: false,
            conflicts: Vec::new(),
        })
    }

    fn begin_work(&self) -> Box<dyn Send> {
        Box::new(())
    }

    fn begin_progress(&self, _: &str) -> Box<dyn Progress> {
        struct Quiet;
        impl Progress for Quiet {
            fn report(&self, _: Option<String>, _: Option<u32>) {}
            fn end(self: Box<Self>, _: Option<String>) {}
        }
        Box::new(Quiet)
    }

    fn emit(&self, event: PlaybookProgressParams) {
        self.0.events.lock().unwrap().push(event.event);
    }

    fn remember(&self, _: &Workspace, agent: &str, _: String, text: String) {
        self.0
            .remembered
            .lock()
            .unwrap()
            .push((agent.to_owned(), text));
    }
}

/// The tests' documents: each turn's prompt is `path:line`.
fn document(tasks: &str) -> String {
    format!("---\nprompt: {{{{DOCUMENT_PATH}}}}:{{{{TASK_LINE}}}}\n---\n{tasks}")
}

struct Bench {
    dir: tempfile::TempDir,
    fake: Arc<Fake>,
    runner: Runner<Shared>,
    store: Store,
}

fn bench(clis: &[(&str, Does)]) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake::new(dir.path(), clis));
    let store = Store::open_in_memory().unwrap();
    let runner = Runner::new(store.clone(), Shared(fake.clone()));
    Bench {
        dir,
        fake,
        runner,
        store,
    }
}

impl Bench {
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn params(&self, paths: &[&Path]) -> PlaybookRunParams {
        PlaybookRunParams {
            paths: paths.iter().map(|p| p.to_path_buf()).collect(),
            ..PlaybookRunParams::default()
        }
    }

    /// Waits until the run's driver has told its end (or is `status`, e.g. at a gate).
    async fn until(&self, id: &str, done: impl Fn(&PlaybookRunInfo, &[String]) -> bool) {
        for _ in 0..1000 {
            let info = self.runner.list(Some(id)).unwrap().remove(0);
            if done(&info, &self.fake.kinds_of(Some(id))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!(
            "the run never got there: {:?} {:?}",
            self.runner.list(Some(id)).unwrap()[0].status,
            self.fake.kinds()
        );
    }

    async fn finished(&self, id: &str) -> PlaybookRunInfo {
        self.until(id, |_, kinds| kinds.last().is_some_and(|k| k == "complete"))
            .await;
        self.runner.list(Some(id)).unwrap().remove(0)
    }
}

fn ticked(path: &Path) -> Vec<bool> {
    crate::parse(&std::fs::read(path).unwrap())
        .tasks
        .iter()
        .map(|t| t.done)
        .collect()
}

#[tokio::test]
async fn a_run_ticks_each_task_in_order_tells_every_step_and_stores_it() {
    let b = bench(&[("fake", Does::Tick)]);
    let doc = b.write(
        "tasks.md",
        &document("- [ ] one\n- [ ] two\n- [x] done before\n- [ ] three\n"),
    );
    let started = b.runner.start(b.params(&[&doc])).await.unwrap();
    let id = started.run.id.clone();
    let info = b.finished(&id).await;

    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(info.tasks_done, 3);
    assert_eq!(info.turns, 3);
    assert!((info.cost_usd - 0.75).abs() < 1e-9, "{}", info.cost_usd);
    assert_eq!(ticked(&doc), vec![true; 4]);
    assert_eq!(b.fake.lines_sent(), vec![4, 5, 7]);
    assert_eq!(
        b.fake.kinds(),
        [
            "start",
            "document_start",
            "task_start",
            "task_complete",
            "task_start",
            "task_complete",
            "task_start",
            "task_complete",
            "document_complete",
            "complete"
        ]
    );
    // One agent of the run, named after it, did every task; each is remembered.
    let agents: Vec<String> = b
        .fake
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0.clone())
        .collect();
    assert_eq!(agents, vec![format!("fake-{id}"); 3]);
    let remembered = b.fake.remembered.lock().unwrap().clone();
    assert_eq!(remembered.len(), 3);
    assert!(
        remembered[0]
            .1
            .starts_with("Playbook task done: one\nDocument: tasks.md (line 4)")
    );
    // The store has what was told, in order.
    let (stored, events) = b.runner.history(Some(&id)).unwrap();
    assert_eq!(stored.status, RunStatus::Finished);
    let told = |e: &PlaybookEvent| (e.seq, e.kind.clone(), e.line, e.message.clone());
    assert_eq!(
        events.iter().map(told).collect::<Vec<_>>(),
        b.fake
            .events
            .lock()
            .unwrap()
            .iter()
            .map(told)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_task_left_open_stalls_and_its_document_is_skipped_untouched() {
    let b = bench(&[("lazy", Does::Nothing)]);
    let text = document("- [ ] never done\n- [ ] after it\n");
    let doc = b.write("lazy.md", &text);
    let mut p = b.params(&[&doc]);
    p.agent = Some("lazy".into());
    p.stall_turns = Some(2);
    let id = b.runner.start(p).await.unwrap().run.id;
    let info = b.finished(&id).await;

    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(
        info.reason.as_deref(),
        Some("0 tasks done; 0 documents complete, 1 skipped")
    );
    assert_eq!(std::fs::read_to_string(&doc).unwrap(), text);
    assert_eq!(b.fake.lines_sent(), vec![4, 4]);
    let kinds = b.fake.kinds();
    assert_eq!(kinds.iter().filter(|k| *k == "task_stalled").count(), 2);
    assert!(kinds.contains(&"document_skipped".to_owned()));
    assert!(info.documents[0].skipped.is_some());
}

#[tokio::test]
async fn a_halt_line_halts_and_an_agent_that_cannot_log_in_fails_the_run() {
    let b = bench(&[
        ("fake", Does::Tick),
        ("halts", Does::Halt),
        ("nologin", Does::FailAuth),
    ]);
    let doc = b.write("halt.md", &document("- [ ] @halts blocked\n- [ ] next\n"));
    let id = b.runner.start(b.params(&[&doc])).await.unwrap().run.id;
    let info = b.finished(&id).await;
    assert_eq!(info.status, RunStatus::Halted);
    assert!(
        info.reason
            .as_deref()
            .unwrap()
            .contains("the fake cannot do this")
    );
    assert_eq!(b.fake.lines_sent(), vec![4]);

    let other = b.write("auth.md", &document("- [ ] @nologin anything\n"));
    let id = b.runner.start(b.params(&[&other])).await.unwrap().run.id;
    let info = b.finished(&id).await;
    assert_eq!(info.status, RunStatus::Failed);
    assert_eq!(
        info.reason.as_deref(),
        Some(format!("agent `nologin-{id}` cannot work: not logged in").as_str())
    );
}

#[tokio::test]
async fn a_review_gate_waits_for_a_person_and_stop_ends_a_waiting_run() {
    let b = bench(&[("fake", Does::Tick)]);
    let doc = b.write(
        "gate.md",
        &document("- [ ] build\n- [ ] REVIEW: look at it\n- [ ] ship\n"),
    );
    let id = b.runner.start(b.params(&[&doc])).await.unwrap().run.id;
    b.until(&id, |i, _| i.status == RunStatus::Review).await;
    assert_eq!(ticked(&doc), vec![true, false, false]);
    assert_eq!(
        b.runner
            .control(Some(&id), Control::Resume)
            .await
            .unwrap_err(),
        format!("run {id} is review, not paused: nothing to resume")
    );
    b.runner.control(Some(&id), Control::Approve).await.unwrap();
    let info = b.finished(&id).await;
    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(ticked(&doc), vec![true; 3]);
    assert_eq!(b.fake.lines_sent(), vec![4, 6]);
    assert!(b.fake.kinds().contains(&"approved".to_owned()));

    // A second run waits at its gate until stopped; the gate stays open.
    let doc = b.write("gate2.md", &document("- [ ] REVIEW: first\n- [ ] then\n"));
    let id = b.runner.start(b.params(&[&doc])).await.unwrap().run.id;
    b.until(&id, |i, _| i.status == RunStatus::Review).await;
    b.runner.control(None, Control::Stop).await.unwrap();
    b.until(&id, |i, k| {
        i.status == RunStatus::Stopped && k.last().is_some_and(|k| k == "complete")
    })
    .await;
    assert_eq!(ticked(&doc), vec![false, false]);
    assert_eq!(
        b.runner
            .control(Some(&id), Control::Stop)
            .await
            .unwrap_err(),
        format!("run {id} is already stopped")
    );
}

#[tokio::test]
async fn a_runner_started_again_judges_the_lost_turn_from_the_file_and_goes_on() {
    let b = bench(&[("fake", Does::TickAndHang)]);
    let doc = b.write("resume.md", &document("- [ ] first\n- [ ] second\n"));
    let id = b.runner.start(b.params(&[&doc])).await.unwrap().run.id;
    // The agent ticked its task, and the "daemon" dies before the turn ends.
    b.until(&id, |_, _| !b.fake.sent.lock().unwrap().is_empty())
        .await;
    assert_eq!(ticked(&doc), vec![true, false]);

    // A new runner on the same store, with agents that finish their turns.
    let fake = Arc::new(Fake::new(b.dir.path(), &[("fake", Does::Tick)]));
    let again = Runner::new(b.store.clone(), Shared(fake.clone()));
    again.resume();
    for _ in 0..1000 {
        if fake.kinds().last().is_some_and(|k| k == "complete") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let info = again.list(Some(&id)).unwrap().remove(0);
    assert_eq!(info.status, RunStatus::Finished, "{:?}", fake.kinds());
    assert_eq!(info.tasks_done, 2);
    assert_eq!(ticked(&doc), vec![true, true]);
    // The first task was not given again.
    assert_eq!(fake.lines_sent(), vec![5]);
    assert_eq!(fake.kinds()[..2], ["resumed", "task_complete"]);
    let (_, events) = again.history(Some(&id)).unwrap();
    assert!(
        events[1..].windows(2).all(|w| w[0].seq < w[1].seq),
        "events keep their order across the restart"
    );
}

#[tokio::test]
async fn a_parallel_run_works_on_branches_and_ticks_what_merged() {
    let b = bench(&[("fake", Does::Tick)]);
    let doc = b.write("par.md", &document("- [ ] a\n- [ ] b\n- [ ] c\n- [ ] d\n"));
    let mut p = b.params(&[&doc]);
    p.parallel = Some(2);
    let id = b.runner.start(p).await.unwrap().run.id;
    let info = b.finished(&id).await;

    assert_eq!(info.status, RunStatus::Finished, "{:?}", info.reason);
    assert_eq!(
        info.reason.as_deref(),
        Some("4 tasks done on 2 branches, all merged")
    );
    // Each task went to one worker, once; the person's document is ticked after the merges.
    let mut lines = b.fake.lines_sent();
    lines.sort();
    assert_eq!(lines, vec![4, 5, 6, 7]);
    assert_eq!(ticked(&doc), vec![true; 4]);
    let workers = vec![format!("fake-{id}-w1"), format!("fake-{id}-w2")];
    assert_eq!(*b.fake.restored.lock().unwrap(), workers);
    assert_eq!(*b.fake.merged.lock().unwrap(), workers);
    assert_eq!(b.fake.kinds().iter().filter(|k| *k == "merge").count(), 2);
    // The workers are the run's: clients show them under it.
    for w in &workers {
        let run = b.fake.agents.lock().unwrap()[w].info.playbook_run.clone();
        assert_eq!(run.as_deref(), Some(id.as_str()), "{w}");
    }
}

#[tokio::test]
async fn a_run_that_cannot_start_names_every_problem_and_a_dry_run_starts_nothing() {
    let b = bench(&[("fake", Does::Tick)]);
    let empty = b.write("empty.md", "# nothing to do\n");
    let unknown = b.write("who.md", &document("- [ ] @nobody do it\n"));
    let bad = b.write("bad.md", "---\nprompt: {{NOPE}}\n---\n- [ ] x\n");
    let err = b
        .runner
        .start(b.params(&[&empty, &unknown, &bad]))
        .await
        .unwrap_err();
    assert!(err.contains("empty.md has no tasks"), "{err}");
    assert!(
        err.contains("who.md line 4: unknown agent `nobody`"),
        "{err}"
    );
    assert!(
        err.contains("bad.md: the prompt template uses {{NOPE}}"),
        "{err}"
    );

    let outside = b
        .runner
        .start(b.params(&[Path::new("/elsewhere/x.md")]))
        .await;
    assert!(outside.unwrap_err().contains("cannot read it"));

    b.fake.committed.store(false, Ordering::SeqCst);
    let doc = b.write("plan.md", &document("- [ ] one\n- [ ] REVIEW: two\n"));
    let mut p = b.params(&[&doc]);
    p.parallel = Some(2);
    let err = b.runner.start(p.clone()).await.unwrap_err();
    assert!(err.contains("has changes that are not committed"), "{err}");

    p.parallel = None;
    p.dry_run = true;
    let plan = b.runner.start(p).await.unwrap();
    assert_eq!(plan.run.id, "dry-run");
    let who: Vec<(u32, &str)> = plan
        .plan
        .iter()
        .map(|t| (t.line, t.agent.as_str()))
        .collect();
    assert_eq!(who, vec![(4, "a new fake agent"), (5, "(a person)")]);
    assert!(b.runner.list(None).unwrap().is_empty());
    assert!(b.fake.sent.lock().unwrap().is_empty());
}
