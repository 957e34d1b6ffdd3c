//! A run checked before it starts: its documents, options and agents, every problem that stops
//! it named at once, and the record (or, for a dry run, the plan) it starts with.

use super::*;

impl<E: Executor> Runner<E> {
    /// Checks a run's documents and options and builds its record, refusing with one message
    /// that names every problem that stops it.
    pub(super) fn prepare(&self, p: &PlaybookRunParams) -> Result<Prepared, Refusal> {
        if p.paths.is_empty() {
            return Err("no playbook given: name one or more markdown files".into());
        }
        let mut docs = Vec::new();
        let mut root: Option<Workspace> = None;
        for path in &p.paths {
            if !path.is_absolute() {
                return Err(format!(
                    "{} is not an absolute path (clients resolve paths first)",
                    path.display()
                ));
            }
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
            if !meta.is_file() {
                return Err(format!("{} is not a file", path.display()));
            }
            if !is_markdown(path) {
                return Err(format!(
                    "{} is not a markdown file: playbooks are `.md` files of `- [ ]` tasks",
                    path.display()
                ));
            }
            let ws = self.exec().workspace_of(path)?;
            match &root {
                Some(r) if r.id != ws.id => {
                    return Err(format!(
                        "{} is in {}, not in {} like {}: one run works in one workspace",
                        path.display(),
                        ws.root.display(),
                        r.root.display(),
                        p.paths[0].display()
                    ));
                }
                Some(_) => {}
                None => root = Some(ws.clone()),
            }
            let bytes = std::fs::read(path)
                .map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
            let display = path
                .strip_prefix(&ws.root)
                .map_or_else(|_| path.display().to_string(), |r| r.display().to_string());
            docs.push((
                path.clone(),
                Doc {
                    path: display,
                    book: crate::parse(&bytes),
                },
            ));
        }
        let ws = root.expect("one path at least");
        let default = self.exec().default_cli(&ws)?;
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        for (_, d) in &docs {
            for problem in &d.book.problems {
                warnings.push(format!(
                    "{} line {}: {}",
                    d.path, problem.line, problem.message
                ));
            }
            if d.book.tasks.is_empty() {
                errors.push(format!(
                    "{} has no tasks: a playbook is a list of `- [ ] task` lines",
                    d.path
                ));
            } else if d.book.next_open().is_none() {
                warnings.push(format!("{}: every task is already done", d.path));
            }
            if let Err(e) = render(template_of(&d.book), &crate::PromptVars::default()) {
                errors.push(format!("{}: {e}", d.path));
            }
        }
        let plain: Vec<Doc> = docs.iter().map(|(_, d)| d.clone()).collect();
        let order = plan::order(&plain).map_err(|e| e.to_string())?;
        let looped = p.looped || plain.iter().any(|d| d.book.options.looped);
        let max_loops = p
            .max_loops
            .or_else(|| plain.iter().filter_map(|d| d.book.options.max_loops).min());
        if max_loops == Some(0) {
            errors.push("--max-loops must be at least 1".into());
        }
        let reset: Vec<bool> = plain
            .iter()
            .map(|d| p.reset_on_completion || d.book.options.reset)
            .collect();
        if let Some(k) = p.parallel {
            if !(1..=MAX_PARALLEL).contains(&k) {
                errors.push(format!(
                    "--parallel takes 1 to {MAX_PARALLEL} agents, not {k}"
                ));
            }
            if looped || reset.iter().any(|r| *r) {
                errors.push(
                    "--parallel runs each task once: it does not loop or reset documents (run those without --parallel)".into(),
                );
            }
            if p.from.is_some() || p.only.is_some() {
                errors.push("--parallel runs whole documents, not from or only one task".into());
            }
            for (_, d) in &docs {
                for t in d.book.tasks.iter().filter(|t| !t.done && t.agent.is_some()) {
                    warnings.push(format!(
                        "{} line {}: --parallel gives every task to its own workers; `@{}` is not used",
                        d.path,
                        t.line,
                        t.agent.as_deref().unwrap_or_default()
                    ));
                }
            }
            for (_, d) in &docs {
                match self.exec().committed_as_is(&ws.root, &d.path) {
                    Ok(true) => {}
                    Ok(false) => errors.push(format!(
                        "{} has changes that are not committed: --parallel agents work on branches from HEAD, so commit the document first",
                        d.path
                    )),
                    Err(e) => errors.push(format!("{}: {e}", d.path)),
                }
            }
        }
        // Where to start, and whether to stop after one task.
        let mut from = None;
        if let Some(at) = p.only.as_ref().or(p.from.as_ref()) {
            let Some((_, d)) = docs.iter().find(|(path, _)| *path == at.path) else {
                return Err(format!(
                    "{} is not one of the run's documents",
                    at.path.display()
                ));
            };
            match d.book.tasks.iter().find(|t| t.line == at.line) {
                Some(t) if !t.done => from = Some((d.path.clone(), t.line)),
                Some(_) => {
                    return Err(format!(
                        "{} line {}: that task is already done",
                        d.path, at.line
                    ));
                }
                None => {
                    return Err(format!(
                        "{} line {}: there is no task there",
                        d.path, at.line
                    ));
                }
            }
        }
        // Who does each task: every name must be an agent or an agent CLI that can start.
        let mut checked: BTreeMap<String, Result<(), String>> = BTreeMap::new();
        let mut plan_rows = Vec::new();
        for &i in &order {
            let d = &plain[i];
            let first = match &from {
                Some((path, line)) if *path == d.path => *line,
                Some(_) if p.only.is_some() => u32::MAX,
                _ => 0,
            };
            for t in d.book.tasks.iter().filter(|t| !t.done && t.line >= first) {
                let who = if t.review {
                    "(a person)".to_owned()
                } else {
                    // Each CLI a task names is checked once (it reads the configuration).
                    let picked = self
                        .choose(&ws, &default, p, &d.book, t, "")
                        .and_then(|pick| {
                            if !pick.new {
                                return Ok(pick.name);
                            }
                            checked
                                .entry(pick.cli.clone())
                                .or_insert_with(|| self.exec().check_cli(&ws, &pick.cli))
                                .clone()
                                .map(|()| format!("a new {} agent", pick.cli))
                        });
                    match picked {
                        Ok(who) => who,
                        Err(e) => {
                            errors.push(format!("{} line {}: {e}", d.path, t.line));
                            continue;
                        }
                    }
                };
                plan_rows.push(PlannedTask {
                    document: d.path.clone(),
                    line: t.line,
                    task: t.text.clone(),
                    agent: who,
                    review: t.review,
                });
                if p.only.is_some() {
                    break;
                }
            }
        }
        if !errors.is_empty() {
            errors.dedup();
            return Err(errors.join("\n"));
        }
        let now = unix_now();
        let documents = docs
            .iter()
            .map(|(path, d)| RunDocument {
                path: path.clone(),
                display: d.path.clone(),
                working: path.clone(),
                tasks: d.book.tasks.len(),
                done: d.book.tasks.iter().filter(|t| t.done).count(),
                skipped: None,
            })
            .collect();
        let info = PlaybookRunInfo {
            id: String::new(),
            workspace: ws.id.clone(),
            workspace_root: ws.root.clone(),
            status: RunStatus::Running,
            reason: None,
            documents,
            loop_number: 1,
            looped,
            max_loops,
            parallel: p.parallel,
            current: Vec::new(),
            gate: None,
            tasks_done: 0,
            turns: 0,
            cost_usd: 0.0,
            started_at: now,
            updated_at: now,
        };
        let mut params = p.clone();
        params.looped = looped;
        params.max_loops = max_loops;
        let record = RunRecord {
            info: info.clone(),
            params,
            order,
            state: SavedState {
                loop_number: 1,
                from,
                ..SavedState::default()
            },
            reset: reset.clone(),
            in_flight: Vec::new(),
            wanted: Wanted::Run,
            gate: None,
            workers: Vec::new(),
            on_branch: Vec::new(),
            started_docs: Vec::new(),
            next_seq: 1,
        };
        Ok(Prepared {
            record,
            ws,
            result: PlaybookRunResult {
                run: PlaybookRunInfo {
                    id: "dry-run".into(),
                    ..info
                },
                plan: plan_rows,
                warnings,
            },
            reset_copies: reset,
        })
    }

    /// The agent for `task` (see [`Runner::choose`]), its CLI checked when the run is to start it.
    pub(super) fn pick(
        &self,
        ws: &Workspace,
        default: &str,
        p: &PlaybookRunParams,
        book: &Playbook,
        task: &Task,
        run_id: &str,
    ) -> Result<Pick, String> {
        let pick = self.choose(ws, default, p, book, task, run_id)?;
        if pick.new {
            self.exec().check_cli(ws, &pick.cli)?;
        }
        Ok(pick)
    }

    /// The agent for `task`: `@name` > the document's `agent:` > the run's `--agent` >
    /// `default` (`agents.default`). A CLI's name gets the run's own agent, named after the run
    /// (`new`: its CLI is not checked here).
    fn choose(
        &self,
        ws: &Workspace,
        default: &str,
        p: &PlaybookRunParams,
        book: &Playbook,
        task: &Task,
        run_id: &str,
    ) -> Result<Pick, String> {
        let wanted = task
            .agent
            .clone()
            .or_else(|| book.options.agent.clone())
            .or_else(|| p.agent.clone())
            .unwrap_or_else(|| default.to_owned());
        if let Ok(existing) = self.exec().agent(ws, &wanted) {
            if existing.isolation == Isolation::Worktree && p.parallel.is_none() {
                return Err(format!(
                    "agent `{wanted}` works in its own worktree, but this run works in the checkout: name an agent CLI (claude, codex, …) or an agent spawned with --isolation none"
                ));
            }
            return Ok(Pick {
                name: wanted,
                cli: existing.agent,
                new: false,
            });
        }
        let id = if run_id.is_empty() { "run" } else { run_id };
        let name = format!("{wanted}-{id}");
        let name = if self.exec().valid_name(&name) {
            name
        } else {
            format!("agent-{id}")
        };
        Ok(Pick {
            name,
            cli: wanted,
            new: true,
        })
    }

    /// The one CLI of a parallel run's workers (the run's agent, else the default).
    pub(super) fn parallel_cli(
        &self,
        ws: &Workspace,
        record: &RunRecord,
    ) -> Result<String, Refusal> {
        let default = self.exec().default_cli(ws)?;
        let cli = record.params.agent.clone().unwrap_or(default);
        self.exec().settings(ws, &cli, Isolation::Worktree)?;
        if !self.exec().valid_name(&cli) {
            return Err(format!(
                "--parallel names its agents after the CLI, and `{cli}` is not a valid agent name part"
            ));
        }
        Ok(cli)
    }
}
