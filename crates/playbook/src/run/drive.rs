//! The sequential run — one turn at a time, in the checkout — and the steps both drivers share:
//! waiting while paused, review gates, skipped documents, readying an agent, a turn sent, waited
//! for and judged, and a verdict applied to the run.

use super::*;

impl<E: Executor> Runner<E> {
    /// Waits while paused; `Some(end)` when the run is to stop.
    pub(super) async fn obey(&self, run: &Run) -> Option<(RunStatus, String)> {
        loop {
            let notified = run.poke.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wanted = run.record.lock().unwrap().wanted;
            match wanted {
                Wanted::Run => return None,
                Wanted::Stop => return Some((RunStatus::Stopped, "stopped by request".into())),
                Wanted::Pause => {
                    let changed = {
                        let mut r = run.record.lock().unwrap();
                        let changed = r.info.status != RunStatus::Paused;
                        r.info.status = RunStatus::Paused;
                        changed
                    };
                    if changed {
                        self.emit_run(run, "paused", |e| {
                            e.message = Some("paused: `maestro playbook resume` goes on".into());
                        })
                        .await;
                    }
                    notified.await;
                }
            }
        }
    }

    /// The sequential run: one turn at a time, in the checkout.
    pub(super) async fn drive(&self, run: &Run) -> (RunStatus, String) {
        // A turn the daemon lost: the file says whether it finished.
        let lost: Vec<InFlight> = std::mem::take(&mut run.record.lock().unwrap().in_flight);
        if let Some(f) = lost.into_iter().next() {
            match self.read_docs(run) {
                Ok(docs) => {
                    let book = &docs[f.key.doc].book;
                    if f.key.find(book).is_some_and(|t| t.done) {
                        self.count(run, &docs);
                        run.record.lock().unwrap().info.tasks_done += 1;
                        let path = docs[f.key.doc].path.clone();
                        self.emit_run(run, "task_complete", |e| {
                            e.document = Some(path);
                            e.line = Some(f.line);
                            e.task = Some(f.key.text.clone());
                            e.agent = Some(f.agent.clone());
                            e.duration_secs = Some(unix_now() - f.started_at);
                            e.message =
                                Some("ticked before the daemon stopped; not run again".into());
                        })
                        .await;
                    }
                }
                Err(e) => return (RunStatus::Failed, e),
            }
        }
        loop {
            if let Some(end) = self.obey(run).await {
                return end;
            }
            {
                let mut r = run.record.lock().unwrap();
                if r.gate.is_none() {
                    r.info.status = RunStatus::Running;
                }
            }
            let docs = match self.read_docs(run) {
                Ok(d) => d,
                Err(e) => return (RunStatus::Failed, e),
            };
            self.count(run, &docs);
            let (state, order, limits, only, done_any) = {
                let r = run.record.lock().unwrap();
                (
                    r.state.plan(),
                    r.order.clone(),
                    Self::limits(&r),
                    r.params.only.is_some(),
                    r.info.turns > 0,
                )
            };
            if only && done_any {
                return (RunStatus::Finished, "the task's turn is over".into());
            }
            match plan::next(&docs, &order, &state, limits) {
                Next::Turn { doc, task } => {
                    if let Some(end) = self.turn(run, &docs, doc, &task).await {
                        return end;
                    }
                }
                Next::Review { doc, task } => self.wait_at_gate(run, &docs[doc], doc, &task).await,
                Next::Skip { doc, reason } => self.skip(run, doc, &docs[doc].path, reason).await,
                Next::LoopAgain => {
                    let resets = run.record.lock().unwrap().reset.clone();
                    let finished_loop = state.loop_number.max(1);
                    self.emit_run(run, "loop_complete", |e| {
                        e.loop_number = Some(finished_loop);
                    })
                    .await;
                    if !resets.iter().any(|r| *r) {
                        return (
                            RunStatus::Finished,
                            format!(
                                "every document is complete after loop {finished_loop}; none resets, so there is nothing left to loop over"
                            ),
                        );
                    }
                    let next = finished_loop + 1;
                    let (root, documents) = {
                        let r = run.record.lock().unwrap();
                        (r.info.workspace_root.clone(), r.info.documents.clone())
                    };
                    for (i, d) in documents.iter().enumerate() {
                        if resets[i] {
                            match copy_for_loop(&root, &d.path, &run.id, next) {
                                Ok(working) => {
                                    run.record.lock().unwrap().info.documents[i].working = working
                                }
                                Err(e) => return (RunStatus::Failed, e),
                            }
                        }
                    }
                    let mut r = run.record.lock().unwrap();
                    r.state.loop_number = next;
                    r.info.loop_number = next;
                    r.state.approved.clear();
                    r.state.stalls.clear();
                    r.started_docs.clear();
                }
                Next::Finished { complete, skipped } => {
                    if state.loop_number.max(1) > 1 || limits.looped {
                        let n = state.loop_number.max(1);
                        self.emit_run(run, "loop_complete", |e| e.loop_number = Some(n))
                            .await;
                    }
                    let done = run.record.lock().unwrap().info.tasks_done;
                    return (
                        RunStatus::Finished,
                        format!(
                            "{done} tasks done; {complete} documents complete, {skipped} skipped"
                        ),
                    );
                }
                Next::Halted(why) => return (RunStatus::Halted, why),
            }
        }
    }

    /// Waits at a review gate until a person approves it (or pauses or stops the run); the
    /// first time, tells `review_wait`.
    pub(super) async fn wait_at_gate(&self, run: &Run, d: &Doc, doc: usize, task: &Task) {
        let notified = run.poke.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let key = TaskKey::of(doc, &d.book, task);
        let first = {
            let mut r = run.record.lock().unwrap();
            let first = r.gate.as_ref() != Some(&key);
            r.gate = Some(key);
            r.info.status = RunStatus::Review;
            r.info.gate = Some(RunGate {
                path: r.info.documents[doc].path.clone(),
                line: task.line,
                task: task.text.clone(),
            });
            first
        };
        if first {
            let (path, id) = (d.path.clone(), run.id.clone());
            self.emit_run(run, "review_wait", |e| {
                e.document = Some(path);
                e.line = Some(task.line);
                e.task = Some(task.text.clone());
                e.message = Some(format!(
                    "waiting for a person: `maestro playbook approve {id}`"
                ));
            })
            .await;
        }
        let still = {
            let r = run.record.lock().unwrap();
            r.gate.is_some() && r.wanted == Wanted::Run
        };
        if still {
            notified.await;
        }
    }

    /// Gives up on a document, with the reason.
    pub(super) async fn skip(&self, run: &Run, doc: usize, path: &str, reason: String) {
        {
            let mut r = run.record.lock().unwrap();
            r.state.skipped.insert(path.to_owned(), reason.clone());
            r.info.documents[doc].skipped = Some(reason.clone());
        }
        let path = path.to_owned();
        self.emit_run(run, "document_skipped", |e| {
            e.document = Some(path);
            e.message = Some(reason);
        })
        .await;
    }

    /// Tells `document_start` for a document the first time this loop works on it.
    pub(super) async fn document_start(&self, run: &Run, doc: usize, path: &str) {
        let first = {
            let mut r = run.record.lock().unwrap();
            let first = !r.started_docs.contains(&doc);
            if first {
                r.started_docs.push(doc);
            }
            first
        };
        if first {
            let path = path.to_owned();
            self.emit_run(run, "document_start", |e| e.document = Some(path))
                .await;
        }
    }

    /// Makes sure the picked agent exists (spawning the run's own) and gives it a fresh session.
    pub(super) async fn ready_agent(
        &self,
        run: &Run,
        pick: &Pick,
        settings: &E::Settings,
        isolation: Isolation,
    ) -> Result<(), String> {
        let agents = self.exec();
        if agents.agent(&run.ws, &pick.name).is_err() {
            let spawn = AgentSpawnParams {
                name: pick.name.clone(),
                node: None,
                agent: pick.cli.clone(),
                path: run.ws.root.clone(),
                prompt: None,
                base: None,
                isolation: Some(isolation),
                mode: AgentMode::Headless,
                persona: None,
                model: None,
                silence_timeout_secs: None,
                turn_timeout_secs: None,
                // Every task ends in a commit, in the checkout too.
                may_commit: true,
                playbook_run: Some(run.record.lock().unwrap().info.id.clone()),
            };
            agents
                .spawn(&run.ws, spawn, settings.clone())
                .await
                .map_err(|e| format!("the run could not start agent `{}`: {e}", pick.name))?;
        }
        // A person's agent may be mid-turn: wait for it rather than fail the run.
        agents.wait_turn(&run.ws, &pick.name).await?;
        agents.forget_session(&run.ws, &pick.name)
    }

    /// One sequential turn on `task`; `Some(end)` when the run is to end.
    pub(super) async fn turn(
        &self,
        run: &Run,
        docs: &[Doc],
        doc: usize,
        task: &Task,
    ) -> Option<(RunStatus, String)> {
        let default = match self.exec().default_cli(&run.ws) {
            Ok(c) => c,
            Err(e) => return Some((RunStatus::Failed, e)),
        };
        let params = run.record.lock().unwrap().params.clone();
        let book = &docs[doc].book;
        let pick = match self.pick(&run.ws, &default, &params, book, task, &run.id) {
            Ok(p) => p,
            Err(e) => {
                return Some((
                    RunStatus::Failed,
                    format!("{} line {}: {e}", docs[doc].path, task.line),
                ));
            }
        };
        let settings = match self.exec().settings(&run.ws, &pick.cli, Isolation::None) {
            Ok(s) => s,
            Err(e) => return Some((RunStatus::Failed, e)),
        };
        self.document_start(run, doc, &docs[doc].path).await;
        if let Err(e) = self
            .ready_agent(run, &pick, &settings, Isolation::None)
            .await
        {
            return Some((RunStatus::Failed, e));
        }
        let (working, loop_number) = {
            let r = run.record.lock().unwrap();
            (r.info.documents[doc].working.clone(), r.info.loop_number)
        };
        let relative = working.strip_prefix(&run.ws.root).map_or_else(
            |_| working.display().to_string(),
            |p| p.display().to_string(),
        );
        let prompt = match render(
            template_of(book),
            &vars(
                &relative,
                task,
                loop_number,
                &branch_of(&run.ws.root),
                &pick.name,
            ),
        ) {
            Ok(p) => p,
            Err(e) => return Some((RunStatus::Failed, format!("{}: {e}", docs[doc].path))),
        };
        let at = At {
            doc,
            d: &docs[doc],
            task,
        };
        match self
            .run_turn(run, at, &pick, &prompt, settings, &working)
            .await
        {
            TurnEnd::Judged(verdict, info) => self.apply(run, at, &verdict, &info).await,
            TurnEnd::Failed(e) => Some((RunStatus::Failed, e)),
        }
    }

    /// Sends the turn, waits for its end, judges `working` against the task as `at` has it.
    /// Shared by both drivers.
    pub(super) async fn run_turn(
        &self,
        run: &Run,
        at: At<'_>,
        pick: &Pick,
        prompt: &str,
        settings: E::Settings,
        working: &Path,
    ) -> TurnEnd {
        let At { doc, d, task } = at;
        let (book, display) = (&d.book, d.path.as_str());
        let agents = self.exec();
        let before = match agents.agent(&run.ws, &pick.name) {
            Ok(i) => i,
            Err(e) => return TurnEnd::Failed(e),
        };
        let output_from = before.output_bytes;
        let started = unix_now();
        {
            let mut r = run.record.lock().unwrap();
            r.in_flight.push(InFlight {
                key: TaskKey::of(doc, book, task),
                line: task.line,
                agent: pick.name.clone(),
                started_at: started,
            });
            r.info.current.push(RunTask {
                document: display.to_owned(),
                line: task.line,
                task: task.text.clone(),
                agent: pick.name.clone(),
                started_at: started,
            });
            r.info.turns += 1;
        }
        let (path, text, agent) = (display.to_owned(), task.text.clone(), pick.name.clone());
        self.emit_run(run, "task_start", |e| {
            e.document = Some(path);
            e.line = Some(task.line);
            e.task = Some(text);
            e.agent = Some(agent);
        })
        .await;
        if let Err(e) = agents.send(&run.ws, &pick.name, prompt, settings) {
            return TurnEnd::Failed(format!(
                "agent `{}` could not take the task: {e}",
                pick.name
            ));
        }
        let info = match agents.wait_turn(&run.ws, &pick.name).await {
            Ok(i) => i,
            Err(e) => return TurnEnd::Failed(e),
        };
        let after = match std::fs::read(working) {
            Ok(b) => crate::parse(&b),
            Err(e) => {
                return TurnEnd::Judged(
                    Verdict::Tampered(format!("the document cannot be read after the turn ({e})")),
                    Box::new(TurnInfo::new(
                        info,
                        started,
                        String::new(),
                        before.usage.cost_usd,
                    )),
                );
            }
        };
        let last = agents.last_words(&run.ws, &pick.name, output_from);
        {
            let mut r = run.record.lock().unwrap();
            r.in_flight.retain(|f| f.agent != pick.name);
            r.info.current.retain(|c| c.agent != pick.name);
        }
        let verdict = judge(book, task, &after);
        let mut turn = TurnInfo::new(info, started, last, before.usage.cost_usd);
        turn.after = Some(after);
        TurnEnd::Judged(verdict, Box::new(turn))
    }

    /// A verdict applied to the run; `Some(end)` when the run is to end. `turn.after` is the
    /// person's document as the turn left it (sequential runs; a parallel run counts from its
    /// view instead), for its counts and `document_complete`.
    pub(super) async fn apply(
        &self,
        run: &Run,
        at: At<'_>,
        verdict: &Verdict,
        turn: &TurnInfo,
    ) -> Option<(RunStatus, String)> {
        let At { doc, d, task } = at;
        let why = {
            let mut r = run.record.lock().unwrap();
            let limits = Self::limits(&r);
            let mut state = r.state.plan();
            let why = plan::record(&mut state, d, task, verdict, limits);
            r.state.take(state);
            r.info.cost_usd += turn.cost;
            if let Some(why) = &why
                && matches!(verdict, Verdict::NotDone)
            {
                r.info.documents[doc].skipped = Some(why.clone());
            }
            why
        };
        let fill = |e: &mut PlaybookEvent| {
            e.document = Some(d.path.clone());
            e.line = Some(task.line);
            e.task = Some(task.text.clone());
            e.agent = Some(turn.agent.name.clone());
            e.duration_secs = Some(turn.duration);
            e.cost_usd = Some(turn.cost);
        };
        match verdict {
            Verdict::Done { unticked } => {
                run.record.lock().unwrap().info.tasks_done += 1;
                let mut message = turn.last.clone();
                if !unticked.is_empty() {
                    message.push_str(&format!(
                        " (note: the turn also unticked {})",
                        unticked.join(", ")
                    ));
                }
                self.exec().remember(
                    &run.ws,
                    &turn.agent.name,
                    format!(
                        "playbook:{}:{}",
                        run.ws.root.join(&d.path).display(),
                        task.line
                    ),
                    format!(
                        "Playbook task done: {}\nDocument: {} (line {}), by {} in {:.0} s\n{}",
                        task.text,
                        d.path,
                        task.line,
                        turn.agent.name,
                        turn.duration,
                        message.trim()
                    ),
                );
                self.emit_run(run, "task_complete", |e| {
                    fill(e);
                    e.message = Some(message);
                })
                .await;
                if let Some(after) = &turn.after {
                    set_counts(&mut run.record.lock().unwrap().info.documents[doc], after);
                    if after.next_open().is_none() {
                        let path = d.path.clone();
                        self.emit_run(run, "document_complete", |e| e.document = Some(path))
                            .await;
                    }
                }
                None
            }
            Verdict::NotDone => {
                let failed = turn.agent.state == AgentState::Failed;
                let mut message = if failed {
                    format!(
                        "the agent's turn failed: {}",
                        turn.agent.reason.clone().unwrap_or_default()
                    )
                } else {
                    format!("the task is still open after the turn. {}", turn.last)
                };
                if let Some(why) = &why {
                    message.push_str(&format!(" — {why}"));
                }
                self.emit_run(run, "task_stalled", |e| {
                    fill(e);
                    e.message = Some(message.trim().to_owned());
                })
                .await;
                if failed
                    && matches!(
                        turn.agent.error_class,
                        Some(ErrorClass::NotFound | ErrorClass::Auth)
                    )
                {
                    return Some((
                        RunStatus::Failed,
                        format!(
                            "agent `{}` cannot work: {}",
                            turn.agent.name,
                            turn.agent.reason.clone().unwrap_or_default()
                        ),
                    ));
                }
                if let Some(why) = why {
                    let path = d.path.clone();
                    self.emit_run(run, "document_skipped", |e| {
                        e.document = Some(path);
                        e.message = Some(why);
                    })
                    .await;
                }
                if run.record.lock().unwrap().wanted == Wanted::Stop {
                    return Some((RunStatus::Stopped, "stopped by request".into()));
                }
                None
            }
            Verdict::Halted { .. } | Verdict::Tampered(_) => {
                let why = why.unwrap_or_default();
                Some((RunStatus::Halted, why))
            }
        }
    }
}
