//! A consult turn: agent B answers a question in a session of its own (one per consult thread),
//! beside whatever B itself is doing — a headless turn of B's CLI in B's worktree, read-only
//! (Claude plans, Codex's sandbox is read-only, Gemini plans, OpenCode may not edit or run
//! commands, aider's edits are a dry run), that touches neither B's state nor its session. What it
//! costs is added to B's usage.

use super::*;
use crate::adapters::{AgentEvent, CommandSpec};
use crate::process::{AgentProcess, ProcessMsg, TermSize};

/// What a consult turn answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultReply {
    pub reply: String,
    /// The consult session, to continue the thread with.
    pub session_id: Option<String>,
    pub cost_usd: f64,
}

impl Supervisor {
    /// Runs one consult turn of agent `name` with `prompt`, continuing `session` (a consult
    /// thread's) when given; gives up after `timeout` (the process group is killed).
    pub async fn consult(
        &self,
        ws: &str,
        name: &str,
        prompt: &str,
        session: Option<String>,
        settings: AgentSettings,
        timeout: Duration,
    ) -> Result<ConsultReply, AgentError> {
        let slot = self.slot(ws, name)?;
        let (worktree, root, model, persona) = {
            let r = slot.record.lock().unwrap();
            (
                r.info.worktree.clone(),
                r.info.workspace_root.clone(),
                r.info.model.clone(),
                r.info.persona.clone(),
            )
        };
        let turn = crate::adapters::Turn {
            program: settings.program.clone(),
            prompt: prompt.to_owned(),
            session_id: session.filter(|_| settings.cli.resumes()),
            model: model.or_else(|| settings.model.clone()),
            persona,
            cwd: worktree,
            extra_args: settings.extra_args.clone(),
            interactive: false,
            access: Access::ReadOnly,
            tools: None,
        };
        let spec: CommandSpec = settings.cli.command(&turn);
        if let Some(problem) = settings.cli.problem(&turn, &spec) {
            return Err(AgentError::Failed(problem));
        }
        let env = [
            ("MAESTRO_AGENT".to_owned(), name.to_owned()),
            ("MAESTRO_WORKSPACE".to_owned(), root.display().to_string()),
        ];
        let (tx, mut rx) = mpsc::unbounded_channel();
        let process = AgentProcess::spawn(&spec, &env, TermSize::DEFAULT, tx).map_err(|e| {
            AgentError::Failed(format!(
                "{} could not start for a consult: {e}",
                settings.cli_name
            ))
        })?;
        let _work = self.inner.options.hooks.begin_work();
        let mut parser = settings.cli.parser();
        let mut events = Vec::new();
        let (mut line, mut stderr) = (Vec::new(), Vec::new());
        let read = async {
            while let Some(msg) = rx.recv().await {
                match msg {
                    ProcessMsg::Stdout(bytes) => {
                        line.extend_from_slice(&bytes);
                        while let Some(nl) = line.iter().position(|b| *b == b'\n') {
                            let text = String::from_utf8_lossy(&line[..nl]).into_owned();
                            line.drain(..=nl);
                            if !text.trim().is_empty() {
                                events.extend(parser.line(text.trim_end_matches('\r')));
                            }
                        }
                    }
                    ProcessMsg::Stderr(bytes) => {
                        stderr.extend_from_slice(&bytes);
                        let over = stderr.len().saturating_sub(4096);
                        stderr.drain(..over);
                    }
                    ProcessMsg::Exited { code, signal } => {
                        let rest = String::from_utf8_lossy(&line).into_owned();
                        if !rest.trim().is_empty() {
                            events.extend(parser.line(rest.trim()));
                        }
                        let exit = crate::process::Exit {
                            code,
                            signal,
                            stderr_tail: String::from_utf8_lossy(&stderr).into_owned(),
                        };
                        events.extend(parser.exit(&exit));
                        return;
                    }
                }
            }
        };
        if tokio::time::timeout(timeout, read).await.is_err() {
            process.kill();
            return Err(AgentError::Failed(format!(
                "the consult did not answer within {} s",
                timeout.as_secs()
            )));
        }
        let mut answer = ConsultReply {
            reply: String::new(),
            session_id: None,
            cost_usd: 0.0,
        };
        let (mut result, mut usage, mut failure) = (None, Vec::new(), None);
        for e in events {
            match e {
                AgentEvent::SessionStarted { session_id, .. } => {
                    answer.session_id = Some(session_id)
                }
                AgentEvent::Text { text } => {
                    if !answer.reply.is_empty() {
                        answer.reply.push('\n');
                    }
                    answer.reply.push_str(&text);
                }
                AgentEvent::Result { text } => result = text,
                AgentEvent::Usage(u) => usage.push(u),
                AgentEvent::Error {
                    message,
                    fatal: true,
                    ..
                } => failure = Some(message),
                _ => {}
            }
        }
        if let Some(message) = failure {
            return Err(AgentError::Failed(format!("the consult failed: {message}")));
        }
        if answer.reply.trim().is_empty() {
            answer.reply = result.unwrap_or_default();
        }
        // A CLI that reports running totals for a session reports the consult session's.
        let usage = match usage.last() {
            Some(last) if settings.cli.usage_is_cumulative() => vec![last.clone()],
            _ => usage,
        };
        let mut totals = UsageTotals::default();
        for u in &usage {
            totals.add(&super::turn::priced_usage(u, &settings.prices, turn.model.as_deref()).0);
        }
        answer.cost_usd = totals.cost_usd;
        {
            let mut r = slot.record.lock().unwrap();
            r.info.usage.add(&totals);
            checked(persist::save_agent(&self.inner.options.store, &r));
        }
        Ok(answer)
    }

    /// Adds a line to an agent's transcript (what another agent told it, attributed).
    pub fn note(&self, ws: &str, name: &str, text: &str) -> Result<(), AgentError> {
        let slot = self.slot(ws, name)?;
        let mut line = text.trim_end().to_owned();
        line.push('\n');
        slot.output.lock().unwrap().append(line.as_bytes());
        self.flush_output(&slot);
        Ok(())
    }
}
