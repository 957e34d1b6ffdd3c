//! The turn driver: one turn's process from start to end — the setup command, the CLI's command
//! line, its output split into lines for the adapter's parser, state changes, the watchdogs and
//! stop requests (decided by [`super::machine`]), and the turn's end: usage, cost, warnings and the
//! state it leaves the agent in, stored before clients hear of it.

use super::machine::{Act, End, Limits, Watch, end_of_turn};
use super::*;

impl Supervisor {
    pub(super) async fn run(
        &self,
        slot: Arc<Slot>,
        turn: u32,
        prompt: Option<String>,
        setup: Option<Vec<String>>,
        settings: AgentSettings,
        mut stop_rx: mpsc::UnboundedReceiver<String>,
    ) {
        let (worktree, name) = {
            let r = slot.record.lock().unwrap();
            (r.info.worktree.clone(), r.info.name.clone())
        };
        if let Some(command) = setup {
            let spec = crate::adapters::CommandSpec {
                program: PathBuf::from(&command[0]),
                args: command[1..].to_vec(),
                env: Vec::new(),
                cwd: worktree.clone(),
                pty: false,
                stdin: false,
                input: None,
                prepare: Vec::new(),
            };
            slot.output
                .lock()
                .unwrap()
                .append(format!("$ {}\n", command.join(" ")).as_bytes());
            let outcome = self
                .drive(&slot, &spec, None, &settings, &mut stop_rx, None)
                .await;
            let failed = match outcome.0 {
                Outcome::Ok if outcome.1.success() => None,
                Outcome::Ok => Some(Outcome::Failed {
                    class: ErrorClass::Agent,
                    message: format!(
                        "setup command `{}` {}: see `maestro agent logs {name}`",
                        command.join(" "),
                        describe_exit(&outcome.1)
                    ),
                }),
                other => Some(other),
            };
            if let Some(outcome) = failed {
                self.finish(&slot, turn, None, outcome, TurnLog::default(), &settings);
                return;
            }
            if prompt.is_none() {
                self.finish(
                    &slot,
                    turn,
                    None,
                    Outcome::Ok,
                    TurnLog::default(),
                    &settings,
                );
                return;
            }
        }
        let (session_id, model, persona, mode, may_commit) = {
            let r = slot.record.lock().unwrap();
            (
                r.info.session_id.clone(),
                r.info.model.clone(),
                r.info.persona.clone(),
                r.info.mode,
                r.info.isolation == Isolation::Worktree || r.may_commit,
            )
        };
        let interactive = mode == AgentMode::Interactive;
        let prompt = match prompt {
            Some(p) if !interactive => {
                let ws = slot.record.lock().unwrap().info.workspace.clone();
                self.inner.options.hooks.turn_prompt(&ws, &name, p)
            }
            Some(p) => p,
            None if interactive => String::new(),
            None => return,
        };
        // A CLI whose terminal UI takes no prompt argument gets it typed once it is up.
        let (argument, pending) = if interactive && !settings.cli.takes_prompt_interactively() {
            (
                String::new(),
                Some(prompt.clone()).filter(|p| !p.is_empty()),
            )
        } else {
            (prompt.clone(), None)
        };
        let started = unix_now();
        let row = TurnRow {
            ws: slot.record.lock().unwrap().info.workspace.clone(),
            agent: name.clone(),
            turn,
            prompt: if prompt.is_empty() {
                "(interactive session)".to_owned()
            } else {
                prompt.clone()
            },
            started,
            ended: None,
            outcome: None,
            error_class: None,
            message: None,
            session_id: session_id.clone(),
        };
        checked(persist::save_turn(&self.inner.options.store, &row));
        // Out of the box an agent in its own worktree edits, runs commands and commits there
        // (and writes its worktree's git metadata), and no more; see README "Agents".
        let access = if may_commit {
            let dir = worktree.clone();
            Access::Commit {
                git_dirs: tokio::task::spawn_blocking(move || crate::worktree::git_dirs(&dir))
                    .await
                    .unwrap_or_default(),
            }
        } else {
            Access::Cautious
        };
        let asked = Turn {
            program: settings.program.clone(),
            prompt: argument,
            session_id: session_id.filter(|_| settings.cli.resumes()),
            model,
            persona,
            cwd: worktree,
            extra_args: settings.extra_args.clone(),
            interactive,
            access,
            tools: {
                let ws = slot.record.lock().unwrap().info.workspace.clone();
                self.inner.options.hooks.tools(&ws, &name)
            },
        };
        let spec = settings.cli.command(&asked);
        if let Some(message) = settings.cli.problem(&asked, &spec) {
            let outcome = Outcome::Failed {
                class: ErrorClass::Agent,
                message,
            };
            self.finish(
                &slot,
                turn,
                Some(row),
                outcome,
                TurnLog::default(),
                &settings,
            );
            return;
        }
        let header = if interactive {
            format!(
                "── {} in a terminal{}\r\n",
                settings.cli_name,
                if prompt.is_empty() {
                    String::new()
                } else {
                    format!(": {}", one_line(&prompt, 200))
                }
            )
        } else {
            format!("── turn {turn}: {}\n", one_line(&prompt, 200))
        };
        slot.output.lock().unwrap().append(header.as_bytes());
        let parser = (!interactive).then(|| settings.cli.parser());
        let (outcome, exit, log) = self
            .drive(&slot, &spec, parser, &settings, &mut stop_rx, pending)
            .await;
        if interactive {
            // A terminal UI that exited says how to resume its session: the next `send`
            // starts it again on that session instead of a fresh one.
            let screen = slot.output.lock().unwrap().screen_text();
            if let Some(id) = screen.and_then(|s| settings.cli.resume_hint(&s)) {
                let mut r = slot.record.lock().unwrap();
                r.info.session_id = Some(id);
                stored(persist::save_agent(&self.inner.options.store, &r));
            }
        }
        let outcome = match outcome {
            Outcome::Ok if interactive && !exit.success() => Outcome::Failed {
                class: ErrorClass::Crash,
                message: crate::classify::crash_message(
                    &settings.cli_name,
                    &exit,
                    "in its terminal",
                ),
            },
            other => other,
        };
        self.finish(&slot, turn, Some(row), outcome, log, &settings);
    }

    /// Runs one process to its end: output, parsing, state, watchdog, stop requests; `pending` is
    /// typed into a PTY when it first goes quiet.
    async fn drive(
        &self,
        slot: &Arc<Slot>,
        spec: &crate::adapters::CommandSpec,
        mut parser: Option<Box<dyn LineParser>>,
        settings: &AgentSettings,
        stop_rx: &mut mpsc::UnboundedReceiver<String>,
        mut pending: Option<String>,
    ) -> (Outcome, Exit, TurnLog) {
        let interactive = spec.pty;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (name, root) = {
            let r = slot.record.lock().unwrap();
            (r.info.name.clone(), r.info.workspace_root.clone())
        };
        let mut env = vec![
            ("MAESTRO_AGENT".to_owned(), name.clone()),
            ("MAESTRO_WORKSPACE".to_owned(), root.display().to_string()),
        ];
        if let Some(socket) = &self.inner.options.socket {
            env.push(("MAESTRO_SOCKET".to_owned(), socket.display().to_string()));
        }
        // A CLI that hides the user's git configuration from its commands (Gemini) gets the
        // identity from it, unless the daemon's environment sets one.
        if settings.cli.hides_git_config() && std::env::var_os("GIT_AUTHOR_NAME").is_none() {
            let dir = spec.cwd.clone();
            env.extend(
                tokio::task::spawn_blocking(move || crate::worktree::identity_vars(&dir))
                    .await
                    .unwrap_or_default(),
            );
        }
        let no_exit = Exit {
            code: None,
            signal: None,
            stderr_tail: String::new(),
        };
        let size = slot
            .output
            .lock()
            .unwrap()
            .screen_size()
            .unwrap_or(TermSize::DEFAULT);
        let process = match AgentProcess::spawn(spec, &env, size, tx) {
            Ok(p) => p,
            Err(e) => {
                let (class, message) = if e.kind() == std::io::ErrorKind::NotFound {
                    (ErrorClass::NotFound, not_found_message(settings))
                } else {
                    (
                        ErrorClass::Crash,
                        format!("cannot start {}: {e}", spec.program.display()),
                    )
                };
                return (
                    Outcome::Failed { class, message },
                    no_exit,
                    TurnLog::default(),
                );
            }
        };
        let pid = process.pid;
        if interactive {
            slot.output
                .lock()
                .unwrap()
                .start_screen(size.rows, size.cols);
        }
        if let Some(c) = slot.control.lock().unwrap().as_mut() {
            c.process = Some(process);
        }
        let program = super::program_of(settings);
        {
            let mut r = slot.record.lock().unwrap();
            r.info.pid = Some(pid);
            if program.is_some() {
                r.info.program = program;
            }
            checked(persist::save_agent(&self.inner.options.store, &r));
        }
        let record = slot.record.lock().unwrap().clone();
        // A terminal UI waiting for its person is not hung: the configured watchdogs are for
        // headless turns; an interactive agent has them only when it was given its own.
        let (default_silence, default_total) = if interactive {
            (None, None)
        } else {
            (settings.silence_timeout, settings.turn_timeout)
        };
        let silence = record
            .silence_timeout_secs
            .map(|s| (s > 0).then(|| Duration::from_secs(s)))
            .unwrap_or(default_silence);
        let total = record
            .turn_timeout_secs
            .map(|s| (s > 0).then(|| Duration::from_secs(s)))
            .unwrap_or(default_total);

        let mut watch = Watch::new(
            Limits {
                silence,
                total,
                needs_input_after: settings.needs_input_after,
            },
            interactive,
            pending.is_some(),
            Instant::now(),
        );
        let mut line = Vec::new();
        let mut stderr_tail = String::new();
        let mut log = TurnLog::default();
        let mut outcome: Option<Outcome> = None;
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let exit = loop {
            let state = slot.record.lock().unwrap().info.state;
            let mut wake = watch
                .next_due(state, !line.is_empty())
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            if state == AgentState::NeedsInput {
                // Answered elsewhere (the attention manager): the watchdogs resume soon after.
                wake = wake.min(Instant::now() + Duration::from_secs(5));
            }
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(ProcessMsg::Stdout(bytes)) => {
                        if let Some(next) = watch.stdout(Instant::now(), state) {
                            self.set_state(slot, next, None);
                        }
                        self.stdout(slot, &bytes, &mut line, parser.as_deref_mut(), &mut log, &mut outcome);
                    }
                    Some(ProcessMsg::Stderr(bytes)) => {
                        if let Some(next) = watch.stderr(Instant::now(), state) {
                            self.set_state(slot, next, None);
                        }
                        stderr_tail.push_str(&String::from_utf8_lossy(&bytes));
                        if stderr_tail.len() > 4096 {
                            let cut = stderr_tail.len() - 4096;
                            let cut = (cut..stderr_tail.len()).find(|i| stderr_tail.is_char_boundary(*i)).unwrap_or(cut);
                            stderr_tail.drain(..cut);
                        }
                        slot.output.lock().unwrap().append(&bytes);
                    }
                    Some(ProcessMsg::Exited { code, signal }) => {
                        break Exit { code, signal, stderr_tail: stderr_tail.clone() };
                    }
                    None => break no_exit.clone(),
                },
                reason = stop_rx.recv(), if watch.stoppable() => {
                    let reason = reason.unwrap_or_else(|| "stopped".into());
                    outcome.get_or_insert(Outcome::Stopped(reason));
                    if watch.stop(Instant::now()) {
                        self.signal(slot, false);
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    // As it is now: it may have started waiting for a person meanwhile.
                    let state = slot.record.lock().unwrap().info.state;
                    match watch.tick(Instant::now(), state, !line.is_empty()) {
                        Act::Wait => {}
                        Act::Kill => self.signal(slot, true),
                        Act::TimedOut(message) => {
                            slot.output.lock().unwrap().append(format!("✗ {message}\n").as_bytes());
                            outcome.get_or_insert(Outcome::Failed { class: ErrorClass::Timeout, message });
                            self.signal(slot, false);
                        }
                        Act::TypePrompt => {
                            // Its terminal UI is up and waiting: the prompt it could not take as
                            // an argument.
                            let prompt = pending.take().unwrap_or_default();
                            let bracketed = slot.output.lock().unwrap().bracketed_paste();
                            slot.with_process(|p| p.write(&typed(&prompt, bracketed)));
                        }
                        Act::NeedsInput => {
                            let reason = if interactive {
                                format!(
                                    "quiet for {} s: its terminal waits for you (`maestro agent attach {name}`)",
                                    settings.needs_input_after.as_secs()
                                )
                            } else {
                                format!("waiting for an answer: {}", one_line(&String::from_utf8_lossy(&line), 200))
                            };
                            self.flush_output(slot);
                            self.set_state(slot, AgentState::NeedsInput, Some(reason));
                            if !interactive {
                                let question = String::from_utf8_lossy(&line);
                                let ws = slot.record.lock().unwrap().info.workspace.clone();
                                self.inner.options.hooks.needs_input(&ws, &name, question.trim());
                            }
                        }
                    }
                }
                _ = flush.tick() => self.flush_output(slot),
            }
        };
        // Everything the agent started ends with its turn, also what left the process group
        // (Codex's terminal UI starts `codex app-server` in a session of its own).
        self.kill_orphans(&name, &root);
        // What is left of the last line.
        if !line.is_empty() {
            self.stdout(
                slot,
                b"\n",
                &mut line,
                parser.as_deref_mut(),
                &mut log,
                &mut outcome,
            );
        }
        if let Some(p) = parser.as_mut() {
            for event in p.exit(&exit) {
                self.event(slot, event, &mut log, &mut outcome);
            }
        }
        self.flush_output(slot);
        let outcome = outcome.unwrap_or_else(|| {
            if exit.success() || parser.is_none() {
                Outcome::Ok
            } else {
                Outcome::Failed {
                    class: ErrorClass::Crash,
                    message: crate::classify::crash_message(
                        &settings.cli_name,
                        &exit,
                        "without a result",
                    ),
                }
            }
        });
        (outcome, exit, log)
    }

    /// SIGTERM (then, when `hard`, SIGKILL) to the running process group.
    fn signal(&self, slot: &Slot, hard: bool) {
        slot.with_process(|p| if hard { p.kill() } else { p.terminate() });
    }

    fn stdout(
        &self,
        slot: &Slot,
        bytes: &[u8],
        line: &mut Vec<u8>,
        parser: Option<&mut (dyn LineParser + '_)>,
        log: &mut TurnLog,
        outcome: &mut Option<Outcome>,
    ) {
        let Some(p) = parser else {
            slot.output.lock().unwrap().append(bytes);
            return;
        };
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            line.extend_from_slice(&rest[..nl]);
            rest = &rest[nl + 1..];
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches('\r');
            if !text.trim().is_empty() {
                for event in p.line(text) {
                    self.event(slot, event, log, outcome);
                }
            }
            line.clear();
        }
        line.extend_from_slice(rest);
    }

    fn event(
        &self,
        slot: &Slot,
        event: AgentEvent,
        log: &mut TurnLog,
        outcome: &mut Option<Outcome>,
    ) {
        let rendered = match &event {
            AgentEvent::SessionStarted { session_id, model } => {
                let mut r = slot.record.lock().unwrap();
                r.info.session_id = Some(session_id.clone());
                if r.info.model.is_none() {
                    r.info.model = model.clone();
                }
                // The session id is what resumes the agent after a crash: stored before it shows.
                stored(persist::save_agent(&self.inner.options.store, &r));
                None
            }
            AgentEvent::Text { text } => {
                log.text(text);
                Some(format!("{text}\n"))
            }
            AgentEvent::ToolUse { tool, summary } => {
                if log.tools.len() < TOOLS_KEPT {
                    log.tools
                        .push(format!("{tool} {summary}").trim().to_owned());
                }
                Some(format!("▸ {tool} {summary}\n"))
            }
            AgentEvent::Usage(u) => {
                log.usage.push(u.clone());
                None
            }
            AgentEvent::ToolFailed {
                tool,
                summary,
                denied,
                detail,
            } => {
                let what = one_line(&format!("{tool} {summary}"), 120);
                // The first line says it (the rest is output, a stack, a hint).
                let detail = one_line(detail.lines().next().unwrap_or_default(), 160);
                let (list, verb) = if *denied {
                    (&mut log.denied, "denied")
                } else {
                    (&mut log.failed, "failed")
                };
                list.push(if detail.is_empty() {
                    what.clone()
                } else {
                    format!("{what} ({detail})")
                });
                Some(format!(
                    "✗ {verb}: {what}{}\n",
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" — {detail}")
                    }
                ))
            }
            AgentEvent::Result { text } => {
                if log.result.is_none() {
                    log.result = text.clone();
                }
                if outcome.is_none() {
                    *outcome = Some(Outcome::Ok);
                }
                None
            }
            AgentEvent::Error {
                class,
                message,
                fatal,
            } => {
                if *fatal && outcome.is_none() {
                    *outcome = Some(Outcome::Failed {
                        class: *class,
                        message: message.clone(),
                    });
                }
                Some(format!("✗ {message}\n"))
            }
        };
        if let Some(text) = rendered {
            slot.output.lock().unwrap().append(text.as_bytes());
        }
    }

    /// This turn's usage from what the CLI reported: a CLI that reports its session's running
    /// totals gets the difference from the last report of the same session.
    fn turn_usage(&self, slot: &Slot, settings: &AgentSettings, log: &TurnLog) -> Vec<TurnUsage> {
        if !settings.cli.usage_is_cumulative() {
            return log.usage.clone();
        }
        let Some(running) = log.usage.last() else {
            return Vec::new();
        };
        let mut r = slot.record.lock().unwrap();
        let Some(session) = r.info.session_id.clone() else {
            return vec![running.clone()];
        };
        let earlier = r
            .session_usage
            .as_ref()
            .filter(|s| s.session_id == session)
            .map(|s| s.reported.clone())
            .unwrap_or_default();
        r.session_usage = Some(SessionUsage {
            session_id: session,
            reported: running.clone(),
        });
        vec![running.since(&earlier)]
    }

    /// What the person should know about a turn that ended: denied tools, failed commands,
    /// work left uncommitted in its worktree.
    fn warnings(
        &self,
        slot: &Slot,
        log: &TurnLog,
        check_worktree: bool,
        settings: &AgentSettings,
        name: &str,
    ) -> Vec<String> {
        fn listed(items: &[String]) -> String {
            let mut shown: Vec<String> = items.iter().take(3).cloned().collect();
            if items.len() > 3 {
                shown.push(format!("and {} more", items.len() - 3));
            }
            shown.join("; ")
        }
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        let mut warnings = Vec::new();
        if !log.denied.is_empty() {
            warnings.push(format!(
                "{} denied by the CLI's permissions: {}",
                plural(log.denied.len(), "tool call", "tool calls"),
                listed(&log.denied)
            ));
        }
        if !log.failed.is_empty() {
            warnings.push(format!(
                "{} failed: {}",
                plural(log.failed.len(), "command", "commands"),
                listed(&log.failed)
            ));
        }
        let (isolated, worktree) = {
            let r = slot.record.lock().unwrap();
            (
                r.info.isolation == Isolation::Worktree,
                r.info.worktree.clone(),
            )
        };
        if check_worktree && isolated {
            match crate::worktree::uncommitted(&worktree, settings.cli.own_files()) {
                Ok(files) if !files.is_empty() => warnings.push(format!(
                    "{} left uncommitted in its worktree: {} (`maestro agent diff {name}`)",
                    plural(files.len(), "file", "files"),
                    listed(&files)
                )),
                Ok(_) => {}
                Err(e) => tracing::warn!(agent = name, "checking for uncommitted work: {e}"),
            }
        }
        warnings
    }

    fn finish(
        &self,
        slot: &Slot,
        turn: u32,
        row: Option<TurnRow>,
        outcome: Outcome,
        log: TurnLog,
        settings: &AgentSettings,
    ) {
        let name = slot.record.lock().unwrap().info.name.clone();
        let name = name.as_str();
        let usage = self.turn_usage(slot, settings, &log);
        let now = unix_now();
        let interactive = slot.interactive();
        // CLIs that name no model in their output may say it elsewhere (Codex: its session file).
        let (mut model, session) = {
            let r = slot.record.lock().unwrap();
            (r.info.model.clone(), r.info.session_id.clone())
        };
        if model.is_none()
            && usage.iter().any(|u| u.model.is_none())
            && let Some(found) = session.and_then(|s| settings.cli.session_model(&s))
        {
            slot.record.lock().unwrap().info.model = Some(found.clone());
            model = Some(found);
        }
        let mut totals = UsageTotals::default();
        let (mut known, mut priced) = (!usage.is_empty(), false);
        let mut used_model = model.clone();
        for u in &usage {
            let (add, from_table) = priced_usage(u, &settings.prices, model.as_deref());
            known &= add.unpriced_turns == 0;
            priced |= from_table;
            used_model = u.model.clone().or(used_model);
            totals.add(&UsageTotals {
                unpriced_turns: 0,
                ..add
            });
        }
        // A turn that ran and whose dollars nobody knows is counted as such, never as $0: its
        // CLI reported usage of a model the table lacks, or (a terminal UI) no usage at all.
        let ran = row.is_some() && (matches!(outcome, Outcome::Ok) || !usage.is_empty());
        if !known {
            // Part of a price is no price: the turn is unpriced as a whole (as it is stored).
            totals.cost_usd = 0.0;
            totals.unpriced_turns = u64::from(ran);
        }
        let ws = slot.record.lock().unwrap().info.workspace.clone();
        if ran {
            checked(persist::save_usage(
                &self.inner.options.store,
                &UsageRecord {
                    ws: ws.clone(),
                    agent: name.to_owned(),
                    turn,
                    model: used_model.clone().unwrap_or_else(|| "unknown".into()),
                    totals,
                    priced,
                    day: day_of(now),
                    at: now,
                },
            ));
        }
        let warnings = if row.is_some() && !interactive {
            self.warnings(slot, &log, matches!(outcome, Outcome::Ok), settings, name)
        } else {
            Vec::new()
        };
        let End {
            state,
            reason,
            class,
            label,
        } = end_of_turn(
            &outcome,
            interactive,
            row.is_some(),
            &warnings,
            turn,
            name,
            &settings.cli_name,
        );
        let tokens = if usage.is_empty() {
            " · usage not reported".to_owned()
        } else {
            format!(
                " · {} in / {} out tokens · {}",
                totals.input_tokens,
                totals.output_tokens,
                if known {
                    format!("${:.4}", totals.cost_usd)
                } else {
                    format!(
                        "unpriced (no price for {})",
                        used_model.as_deref().unwrap_or("an unknown model")
                    )
                }
            )
        };
        let mut summary = match &outcome {
            Outcome::Ok if row.is_none() => "✓ setup done\n".to_owned(),
            Outcome::Ok if interactive => format!("\r\n■ {} exited\r\n", settings.cli_name),
            Outcome::Ok if !warnings.is_empty() => {
                format!("⚠ turn {turn} done with warnings{tokens}\n")
            }
            Outcome::Ok => format!("✓ turn {turn} done{tokens}\n"),
            Outcome::Failed { message, .. } => format!("✗ turn {turn} failed: {message}\n"),
            Outcome::Stopped(why) => format!("■ turn {turn} {why}\n"),
        };
        for w in &warnings {
            summary.push_str(&format!("  ⚠ {w}\n"));
        }
        slot.output.lock().unwrap().append(summary.as_bytes());
        self.flush_output(slot);
        if let Some(mut row) = row {
            row.ended = Some(now);
            row.outcome = Some(label.into());
            row.error_class = class.map(|c| c.as_str().to_owned());
            row.message = reason.clone();
            row.session_id = slot.record.lock().unwrap().info.session_id.clone();
            checked(persist::save_turn(&self.inner.options.store, &row));
            if !interactive {
                let reply = if log.reply.trim().is_empty() {
                    log.result.clone().unwrap_or_default()
                } else {
                    log.reply.clone()
                };
                self.inner.options.hooks.turn_finished(FinishedTurn {
                    ws: row.ws.clone(),
                    agent: row.agent.clone(),
                    turn: row.turn,
                    prompt: row.prompt.clone(),
                    reply,
                    tools: log.tools.clone(),
                    outcome: label,
                    ended: now,
                });
            }
        }
        {
            let mut r = slot.record.lock().unwrap();
            if ran {
                r.info.usage.add(&totals);
            }
            r.info.pid = None;
            r.info.error_class = class;
            r.info.warnings = warnings;
        }
        self.set_state(slot, state, reason);
    }
}

/// One usage report as totals: its dollars as reported, else from the price table (whether the
/// table priced it); a report nobody could price counts one unpriced turn.
pub(super) fn priced_usage(
    u: &TurnUsage,
    prices: &crate::prices::PriceTable,
    model: Option<&str>,
) -> (UsageTotals, bool) {
    let (cost, from_table) = prices.cost(u, model);
    let totals = UsageTotals {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_tokens,
        cache_write_tokens: u.cache_write_tokens,
        cost_usd: cost.unwrap_or(0.0),
        unpriced_turns: u64::from(cost.is_none()),
    };
    (totals, from_table)
}

pub(super) fn not_found_message(settings: &AgentSettings) -> String {
    if settings.program_configured {
        format!(
            "{} (from {}) does not exist or is not executable: fix {}",
            settings.program.display(),
            settings.program_key,
            settings.program_key
        )
    } else {
        format!(
            "{} not found on PATH: set {}",
            settings.program.display(),
            settings.program_key
        )
    }
}

/// A prompt as typed into a terminal UI, ending with Enter: inside bracketed-paste brackets when
/// the program asked for them (its newlines then stay part of the prompt), else on one line.
pub(super) fn typed(prompt: &str, bracketed: bool) -> Vec<u8> {
    if bracketed {
        format!("\x1b[200~{prompt}\x1b[201~\r").into_bytes()
    } else {
        format!("{}\r", prompt.replace(['\r', '\n'], " ")).into_bytes()
    }
}
