//! Agents that come from elsewhere (an archive, a fork, another machine) and agents put back to
//! an earlier point (a rollback): the supervisor's side of portable agents. What the record,
//! the turns, the usage, the worktree and the transcript need; memories and messages are their
//! services'.

use super::*;

/// An agent as it comes back: its record as it was (paths and state are made again here), the
/// tip of its branch (already in the repository), its transcript, turns and usage.
#[derive(Debug, Clone)]
pub struct Adopted {
    pub record: AgentRecord,
    /// Its name here (`--as`, a fork's).
    pub name: String,
    /// The branch's tip; `None` for an agent working in place.
    pub tip: Option<String>,
    pub log: Vec<u8>,
    pub turns: Vec<TurnRow>,
    pub usage: Vec<UsageRecord>,
    /// A line for its transcript saying where it came from.
    pub note: String,
}

impl Supervisor {
    /// An agent's stored record.
    pub fn record(&self, ws: &str, name: &str) -> Result<AgentRecord, AgentError> {
        let slot = self.slot(ws, name)?;
        let mut record = slot.record.lock().unwrap().clone();
        record.info.output_bytes = slot.output.lock().unwrap().end();
        Ok(record)
    }

    /// Refuses when agent `name` runs a turn (an archive or a snapshot of it would be of no
    /// one point).
    pub fn quiet(&self, ws: &str, name: &str, what: &str) -> Result<AgentInfo, AgentError> {
        let slot = self.slot(ws, name)?;
        let info = self.info(&slot);
        if slot.control.lock().unwrap().is_some() || info.state.is_running() {
            return Err(AgentError::Busy {
                name: name.to_owned(),
                state: info.state.as_str(),
                hint: format!(
                    "wait for its turn (`maestro agent send {name} --wait`) or `maestro agent stop {name}`, then {what}"
                ),
            });
        }
        Ok(info)
    }

    /// Makes agent `a.name` of `ws` from what it was: its worktree on its branch at `a.tip`,
    /// its transcript, turns and usage, its record (idle, its session kept, so the next turn
    /// resumes it). Refuses a taken name; leaves nothing made behind when a step fails.
    pub async fn adopt(&self, ws: &WorkspaceRef, a: Adopted) -> Result<AgentInfo, AgentError> {
        identity::validate_name(&a.name).map_err(AgentError::InvalidName)?;
        let key = (ws.id.clone(), a.name.clone());
        if self.inner.agents.lock().unwrap().contains_key(&key) {
            return Err(AgentError::Exists(a.name.clone()));
        }
        let old = a.record.info.clone();
        let (worktree, branch, base, base_commit) = match (old.isolation, &a.tip) {
            (Isolation::Worktree, Some(tip)) => {
                let manager = self.inner.options.worktrees.clone();
                let (root, name, tip) = (ws.root.clone(), a.name.clone(), tip.clone());
                // The base by name when this repository has it, else by commit.
                let bases = [old.base.clone(), a.record.base_commit.clone()];
                let wt = tokio::task::spawn_blocking(move || {
                    let mut last = None;
                    for base in bases.iter().flatten() {
                        match manager.create_at(&root, &name, Some(base), Some(&tip)) {
                            Err(e @ WorktreeError::BadBase { .. }) => last = Some(e),
                            other => return other,
                        }
                    }
                    match last {
                        Some(e) => Err(e),
                        None => manager.create_at(&root, &name, None, Some(&tip)),
                    }
                })
                .await
                .expect("worktree creation does not panic")?;
                (
                    wt.path,
                    Some(wt.branch),
                    Some(wt.base),
                    Some(wt.base_commit),
                )
            }
            _ => (ws.root.clone(), None, None, None),
        };
        let now = unix_now();
        let log_file = self
            .inner
            .options
            .logs_dir
            .join(&ws.id)
            .join(format!("{}.log", a.name));
        let mut record = a.record.clone();
        record.info = AgentInfo {
            name: a.name.clone(),
            node: None,
            workspace: ws.id.clone(),
            workspace_root: ws.root.clone(),
            isolation: if branch.is_some() {
                Isolation::Worktree
            } else {
                Isolation::None
            },
            worktree,
            branch,
            base,
            state: AgentState::Idle,
            reason: None,
            error_class: None,
            color: identity::color(&a.name),
            pid: None,
            updated_at: now,
            warnings: Vec::new(),
            notes: Vec::new(),
            playbook_run: None,
            program: None,
            merged: None,
            ..old
        };
        record.base_commit = base_commit.or(record.base_commit);
        record.log_file = log_file.clone();
        let _ = std::fs::remove_file(&log_file);
        let mut output = OutputLog::open(&log_file, self.inner.options.output_buffer);
        output.append(&a.log);
        output.append(format!("note: {}\n", a.note).as_bytes());
        let slot = Slot::new(record, output);
        let taken = {
            let mut agents = self.inner.agents.lock().unwrap();
            let taken = agents.contains_key(&key);
            if !taken {
                agents.insert(key.clone(), slot.clone());
            }
            taken
        };
        if taken {
            self.undo_worktree(&slot).await;
            return Err(AgentError::Exists(a.name.clone()));
        }
        let store = &self.inner.options.store;
        let mut tickets = Vec::new();
        for t in &a.turns {
            let t = TurnRow {
                ws: ws.id.clone(),
                agent: a.name.clone(),
                ..t.clone()
            };
            tickets.push(persist::save_turn(store, &t));
        }
        for u in &a.usage {
            let u = UsageRecord {
                ws: ws.id.clone(),
                agent: a.name.clone(),
                ..u.clone()
            };
            tickets.push(persist::save_usage(store, &u));
        }
        tickets.push(persist::save_agent(store, &slot.record.lock().unwrap()));
        for ticket in tickets {
            if let Err(e) = ticket.done().await {
                self.inner.agents.lock().unwrap().remove(&key);
                let _ = persist::remove_agent(store, &ws.id, &a.name).await;
                self.undo_worktree(&slot).await;
                return Err(e.into());
            }
        }
        self.emit(&slot, None);
        Ok(self.info(&slot))
    }

    /// Removes the worktree (and branch) an adoption made, when it failed after.
    async fn undo_worktree(&self, slot: &Slot) {
        let info = slot.record.lock().unwrap().info.clone();
        if let (Isolation::Worktree, Some(base)) = (info.isolation, info.base.clone()) {
            let manager = self.inner.options.worktrees.clone();
            let _ = tokio::task::spawn_blocking(move || {
                manager.remove(
                    &info.workspace_root,
                    &info.worktree,
                    &info.name,
                    &base,
                    true,
                    &[],
                )
            })
            .await;
        }
    }

    /// Puts agent `name` back at a snapshot: its branch at `tip` (the worktree reset to it),
    /// its CLI session `session_id` with `session_usage`; a line in its transcript says so.
    /// Refuses a running agent.
    pub async fn rewind(
        &self,
        ws: &str,
        name: &str,
        tip: Option<String>,
        session_id: Option<String>,
        session_usage: Option<SessionUsage>,
        note: &str,
    ) -> Result<AgentInfo, AgentError> {
        self.quiet(ws, name, "roll it back")?;
        let slot = self.slot(ws, name)?;
        let info = self.info(&slot);
        if let (Some(tip), Isolation::Worktree) = (tip, info.isolation) {
            let worktree = info.worktree.clone();
            tokio::task::spawn_blocking(move || crate::worktree::reset_to(&worktree, &tip))
                .await
                .expect("a reset does not panic")?;
        }
        let previous = info.state;
        {
            let mut record = slot.record.lock().unwrap();
            record.info.session_id = session_id;
            record.session_usage = session_usage;
            record.info.state = AgentState::Idle;
            record.info.reason = None;
            record.info.merged = None;
            record.info.warnings.clear();
            record.info.updated_at = unix_now();
        }
        slot.output
            .lock()
            .unwrap()
            .append(format!("note: {note}\n").as_bytes());
        let ticket = persist::save_agent(&self.inner.options.store, &slot.record.lock().unwrap());
        ticket.done().await?;
        self.emit(&slot, Some(previous));
        Ok(self.info(&slot))
    }
}
