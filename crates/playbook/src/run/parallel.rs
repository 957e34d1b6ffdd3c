//! Parallel runs: K agents in their own worktrees, each taking the next open task nobody holds,
//! judged on its worktree's copy; at the end the documents are restored on each branch, the
//! branches merged, and the tasks of the branches that merged ticked in the person's documents.

use super::*;

impl<E: Executor> Runner<E> {
    /// The parallel run: K agents in worktrees, each taking the next open task nobody holds;
    /// the branches merged at the end.
    pub(super) async fn drive_parallel(&self, run: &Arc<Run>) -> (RunStatus, String) {
        let (workers, params) = {
            let mut r = run.record.lock().unwrap();
            // Turns lost with the daemon are simply run again (their worktree copy says if
            // they finished: the worker's own tick is judged with the rest below).
            r.in_flight.clear();
            r.info.current.clear();
            (r.workers.clone(), r.params.clone())
        };
        let default = match self.exec().default_cli(&run.ws) {
            Ok(c) => c,
            Err(e) => return (RunStatus::Failed, e),
        };
        let cli = params.agent.clone().unwrap_or(default);
        let settings = match self.exec().settings(&run.ws, &cli, Isolation::Worktree) {
            Ok(s) => s,
            Err(e) => return (RunStatus::Failed, e),
        };
        for w in &workers {
            let pick = Pick {
                name: w.clone(),
                cli: cli.clone(),
                new: true,
            };
            if let Err(e) = self
                .ready_agent(run, &pick, &settings, Isolation::Worktree)
                .await
            {
                return (RunStatus::Failed, e);
            }
        }
        // Tasks a worker ticked on its branch before a restart but that were never recorded.
        for w in &workers {
            if let Ok(docs) = self.worker_docs(run, w) {
                let recorded: Vec<TaskKey> = run.done_by(w);
                let main = match self.read_docs(run) {
                    Ok(d) => d,
                    Err(e) => return (RunStatus::Failed, e),
                };
                for (i, d) in docs.iter().enumerate() {
                    for t in d.book.tasks.iter().filter(|t| t.done) {
                        let key = TaskKey::of(i, &d.book, t);
                        let was_open = key.find(&main[i].book).is_some_and(|m| !m.done);
                        if was_open && !recorded.contains(&key) {
                            let mut r = run.record.lock().unwrap();
                            r.on_branch.push((w.clone(), key));
                            r.info.tasks_done += 1;
                        }
                    }
                }
            }
        }
        let (tx, mut rx) =
            tokio::sync::mpsc::unbounded_channel::<(String, Option<(RunStatus, String)>)>();
        let mut busy: BTreeMap<String, TaskKey> = BTreeMap::new();
        let mut ending: Option<(RunStatus, String)> = None;
        loop {
            if ending.is_none()
                && let Some(end) = self.parallel_control(run, &busy).await
            {
                ending = Some(end);
            }
            // Paused with turns running: they end, nothing new starts.
            let pausing = run.record.lock().unwrap().wanted == Wanted::Pause;
            if ending.is_none() && !pausing {
                let main = match self.read_docs(run) {
                    Ok(d) => d,
                    Err(e) => {
                        ending = Some((RunStatus::Failed, e));
                        continue;
                    }
                };
                // The run's view: the person's documents with the tasks done on branches and
                // the tasks being worked on marked done, so the plan hands out the next one.
                let mut view = main.clone();
                let (done_keys, state, order, limits) = {
                    let r = run.record.lock().unwrap();
                    (
                        r.on_branch
                            .iter()
                            .map(|(_, k)| k.clone())
                            .collect::<Vec<_>>(),
                        r.state.plan(),
                        r.order.clone(),
                        Self::limits(&r),
                    )
                };
                for key in done_keys.iter().chain(busy.values()) {
                    if let Some(t) = key.find(&view[key.doc].book).map(|t| t.checkbox) {
                        for task in view[key.doc].book.tasks.iter_mut() {
                            if task.checkbox == t {
                                task.done = true;
                            }
                        }
                    }
                }
                self.count(run, &view);
                let idle = workers.iter().find(|w| !busy.contains_key(*w)).cloned();
                match plan::next(&view, &order, &state, limits) {
                    Next::Turn { doc, task } if idle.is_some() => {
                        let worker = idle.expect("checked");
                        let key = TaskKey::of(doc, &view[doc].book, &task);
                        busy.insert(worker.clone(), key);
                        self.document_start(run, doc, &view[doc].path).await;
                        let (runner, run2, tx, settings) =
                            (self.clone(), run.clone(), tx.clone(), settings.clone());
                        let pick = Pick {
                            name: worker,
                            cli: cli.clone(),
                            new: true,
                        };
                        let doc_view = view[doc].clone();
                        tokio::spawn(async move {
                            let end = runner
                                .worker_turn(&run2, &pick, doc, &doc_view, &task, settings)
                                .await;
                            let _ = tx.send((pick.name, end));
                        });
                        continue;
                    }
                    Next::Turn { .. } => {}
                    Next::Review { doc, task } if busy.is_empty() => {
                        self.wait_at_gate(run, &view[doc], doc, &task).await;
                        continue;
                    }
                    Next::Review { .. } => {}
                    Next::Skip { doc, reason } => {
                        self.skip(run, doc, &view[doc].path, reason).await;
                        continue;
                    }
                    Next::Halted(why) => ending = Some((RunStatus::Halted, why)),
                    Next::LoopAgain | Next::Finished { .. } if busy.is_empty() => break,
                    Next::LoopAgain | Next::Finished { .. } => {}
                }
            }
            if busy.is_empty() {
                break;
            }
            if ending.is_some() {
                for w in busy.keys() {
                    self.exec().stop(&run.ws, w).await;
                }
            }
            // Wait for a worker (or a person: pause, stop, approve).
            let notified = run.poke.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            tokio::select! {
                Some((worker, end)) = rx.recv() => {
                    busy.remove(&worker);
                    if ending.is_none() {
                        ending = end;
                    }
                }
                _ = &mut notified => {}
            }
        }
        let merged = self.merge_workers(run, &workers).await;
        match (ending, merged) {
            (Some(end), Ok(_)) => end,
            (Some((status, why)), Err(e)) => (status, format!("{why}; {e}")),
            (None, Ok(summary)) => (RunStatus::Finished, summary),
            (None, Err(e)) => (RunStatus::Failed, e),
        }
    }

    /// Pause and stop for a parallel run: a pause lets running turns end and starts none.
    pub(super) async fn parallel_control(
        &self,
        run: &Run,
        busy: &BTreeMap<String, TaskKey>,
    ) -> Option<(RunStatus, String)> {
        let wanted = run.record.lock().unwrap().wanted;
        match wanted {
            Wanted::Run => {
                let mut r = run.record.lock().unwrap();
                if r.info.status == RunStatus::Paused {
                    r.info.status = RunStatus::Running;
                }
                None
            }
            Wanted::Stop => Some((RunStatus::Stopped, "stopped by request".into())),
            Wanted::Pause if busy.is_empty() => self.obey(run).await,
            Wanted::Pause => None,
        }
    }

    /// The run's documents as a worker's worktree has them.
    pub(super) fn worker_docs(&self, run: &Run, worker: &str) -> Result<Vec<Doc>, String> {
        let info = self.exec().agent(&run.ws, worker)?;
        let displays: Vec<String> = run.displays();
        displays
            .into_iter()
            .map(|display| {
                let file = info.worktree.join(&display);
                let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                Ok(Doc {
                    path: display,
                    book: crate::parse(&bytes),
                })
            })
            .collect()
    }

    /// One task on a worker's branch, judged on the worker's copy of the document.
    pub(super) async fn worker_turn(
        &self,
        run: &Run,
        pick: &Pick,
        doc: usize,
        view: &Doc,
        task: &Task,
        settings: E::Settings,
    ) -> Option<(RunStatus, String)> {
        let worker = pick.name.as_str();
        if let Err(e) = self
            .ready_agent(run, pick, &settings, Isolation::Worktree)
            .await
        {
            return Some((RunStatus::Failed, e));
        }
        let mine = match self.worker_docs(run, worker) {
            Ok(d) => d,
            Err(e) => return Some((RunStatus::Failed, e)),
        };
        let key = TaskKey::of(doc, &view.book, task);
        let Some(own) = key.find(&mine[doc].book).cloned() else {
            return Some((
                RunStatus::Halted,
                format!(
                    "{}: `{}` is not in {}'s copy of the document",
                    view.path, task.text, worker
                ),
            ));
        };
        let info = self.exec().agent(&run.ws, worker).ok()?;
        let working = info.worktree.join(&view.path);
        let loop_number = run.record.lock().unwrap().info.loop_number;
        let prompt = match render(
            template_of(&mine[doc].book),
            &vars(
                &view.path,
                &own,
                loop_number,
                info.branch.as_deref().unwrap_or(""),
                worker,
            ),
        ) {
            Ok(p) => p,
            Err(e) => return Some((RunStatus::Failed, format!("{}: {e}", view.path))),
        };
        // The worker's copy, under the document's name in the run.
        let d = Doc {
            path: view.path.clone(),
            book: mine[doc].book.clone(),
        };
        let at = At {
            doc,
            d: &d,
            task: &own,
        };
        match self
            .run_turn(run, at, pick, &prompt, settings, &working)
            .await
        {
            TurnEnd::Judged(verdict, mut turn) => {
                if matches!(verdict, Verdict::Done { .. }) {
                    run.record
                        .lock()
                        .unwrap()
                        .on_branch
                        .push((worker.to_owned(), key));
                }
                // The person's documents are counted from the run's view, not the worker's.
                turn.after = None;
                self.apply(run, at, &verdict, &turn).await
            }
            TurnEnd::Failed(e) => Some((RunStatus::Failed, e)),
        }
    }

    /// Restores the documents on each worker's branch, merges it, and ticks in the person's
    /// documents the tasks of each branch that merged.
    pub(super) async fn merge_workers(
        &self,
        run: &Run,
        workers: &[String],
    ) -> Result<String, String> {
        let displays: Vec<String> = run.displays();
        let agents = self.exec();
        let mut merged = 0;
        let mut problems = Vec::new();
        for w in workers {
            if agents.agent(&run.ws, w).is_err() {
                continue;
            }
            let tasks: Vec<TaskKey> = run.done_by(w);
            if let Err(e) = agents
                .restore_files(
                    &run.ws,
                    w,
                    displays.clone(),
                    format!(
                        "maestro: playbook run {}: documents as on the base (the run ticks them)",
                        run.id
                    ),
                )
                .await
            {
                problems.push(format!("{w}: {e}"));
                continue;
            }
            let result = match agents.merge(&run.ws, w).await {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{w}: {e}"));
                    continue;
                }
            };
            let message = if !result.conflicts.is_empty() {
                problems.push(format!(
                    "{w}: its branch conflicts in {} and was not merged; its tasks stay open (`maestro agent diff {w}`)",
                    result.conflicts.join(", ")
                ));
                format!("conflicts in {}", result.conflicts.join(", "))
            } else {
                merged += 1;
                let mut by_doc: BTreeMap<usize, Vec<TaskKey>> = BTreeMap::new();
                for k in tasks.iter() {
                    by_doc.entry(k.doc).or_default().push(k.clone());
                }
                for (doc, keys) in by_doc {
                    let path = run.record.lock().unwrap().info.documents[doc]
                        .working
                        .clone();
                    if let Err(e) = tick_all(&path, &keys) {
                        problems.push(e);
                    }
                }
                format!("merged into {} ({} tasks)", result.into, tasks.len())
            };
            let (agent, message) = (w.clone(), message);
            self.emit_run(run, "merge", |e| {
                e.agent = Some(agent);
                e.message = Some(message);
            })
            .await;
        }
        if let Ok(docs) = self.read_docs(run) {
            self.count(run, &docs);
        }
        if problems.is_empty() {
            let done = run.record.lock().unwrap().info.tasks_done;
            Ok(format!(
                "{done} tasks done on {merged} branches, all merged"
            ))
        } else {
            Err(problems.join("; "))
        }
    }
}
