//! How the services see the engine that composes them: the memory worker (alive, busy), the
//! supervisor's hooks (agent events, remembered turns) and the playbook runner's [`Executor`]
//! (workspaces, configuration and agents' turns). Each holds the engine weakly: a service outliving
//! the engine finds it gone and stops, rather than keeping it alive.

use crate::agent_settings::{settings, spawn_settings, workspace_of};
use crate::config::Config;
use crate::engine::{Engine, Inner};
use futures::future::BoxFuture;
use maestro_agents::adapters::ToolServer;
use maestro_agents::attention::Question;
use maestro_agents::{AgentSettings, WorkspaceRef, supervisor::find_program};
use maestro_comms::{Delivered, Draft, News, Presence, agent_address, agent_of};
use maestro_memory::service::NewMemory;
use maestro_playbook::run::{Executor, Workspace};
use maestro_protocol::{
    AgentInfo, AgentMergeResult, AgentMode, AgentSpawnParams, AgentState, Event, Isolation,
    MessageEventParams, PlaybookProgressParams,
};
use maestro_store::{unix_now, unix_now_ms as now_ms};
use std::path::Path;
use std::sync::Weak;

/// How the memory worker sees the engine: whether it still runs, and work that keeps it alive.
pub(crate) struct MemoryHost(pub(crate) Weak<Inner>);

impl maestro_memory::service::Host for MemoryHost {
    fn alive(&self) -> bool {
        self.0.strong_count() > 0
    }

    fn busy(&self) -> Option<Box<dyn Send>> {
        let inner = self.0.upgrade()?;
        Some(Box::new(Engine::from_inner(inner).begin_work()))
    }
}

/// How the supervisor reaches the engine: events to clients, and work that keeps it alive.
pub(crate) struct EngineHooks(pub(crate) Weak<Inner>);

impl maestro_agents::Hooks for EngineHooks {
    fn status(&self, params: maestro_protocol::AgentStatusParams) {
        if let Some(inner) = self.0.upgrade() {
            Engine::from_inner(inner).emit(Event::AgentStatus(Box::new(params)));
        }
    }

    fn output(&self, params: maestro_protocol::AgentOutputParams) {
        if let Some(inner) = self.0.upgrade() {
            Engine::from_inner(inner).emit(Event::AgentOutput(params));
        }
    }

    fn turn_finished(&self, turn: maestro_agents::FinishedTurn) {
        if let Some(inner) = self.0.upgrade() {
            // An agent whose CLI has no tools answers a request in its reply.
            let no_tools = inner
                .agents
                .get()
                .and_then(|a| a.get(&turn.ws, &turn.agent).ok());
            if no_tools.is_some_and(|a| {
                maestro_agents::AgentCli::built_in(&a.agent).is_none_or(|c| !c.takes_tools())
            }) {
                inner
                    .post
                    .turn_answered(&agent_address(&turn.ws, &turn.agent), &turn.reply);
            }
            if let Some(chats) = inner.chats.get() {
                // A turn that ended with warnings (files left uncommitted, a denied tool) answered.
                let answered = matches!(turn.outcome, "ok" | "warned");
                chats.turn_finished(&turn.ws, &turn.agent, answered, &turn.reply);
            }
            let engine = Engine::from_inner(inner);
            if engine.memory().settings.remember_turns {
                engine.memory().remember_later(vec![turn_memory(turn)]);
            }
        }
    }

    fn begin_work(&self) -> Box<dyn Send> {
        match self.0.upgrade() {
            Some(inner) => Box::new(Engine::from_inner(inner).begin_work()),
            None => Box::new(()),
        }
    }

    fn turn_prompt(&self, ws: &str, agent: &str, prompt: String) -> String {
        match self.0.upgrade() {
            Some(inner) => {
                let address = agent_address(ws, agent);
                inner.post.turn_prompt(&address, &prompt, now_ms())
            }
            None => prompt,
        }
    }

    fn turn_over(&self, ws: &str, agent: &str, state: AgentState) {
        if let Some(inner) = self.0.upgrade() {
            let ok = state == AgentState::Idle;
            inner
                .post
                .turn_ended(&agent_address(ws, agent), ok, now_ms());
            if let Some(chats) = inner.chats.get() {
                chats.turn_over(ws, agent, state.as_str());
            }
            if let Some(attention) = inner.attention.get() {
                attention.forget(ws, agent);
            }
        }
    }

    fn tools(&self, ws: &str, agent: &str) -> Option<ToolServer> {
        let inner = self.0.upgrade()?;
        let program = inner.host.tools_program.clone()?;
        let socket = inner.host.socket.clone()?;
        let token = match inner
            .post
            .mailboxes()
            .keys()
            .token(&agent_address(ws, agent))
        {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(%agent, "no tools for the agent: its token: {e}");
                return None;
            }
        };
        let agents = inner.agents.get()?;
        let dir = agents.tools_dir(ws, agent);
        // What the CLI may do without asking: the attention policy of the agent's workspace.
        let unasked = agents
            .get(ws, agent)
            .ok()
            .and_then(|a| inner.config.with_workspace(&a.workspace_root).ok())
            .map(|c| c.settings().attention.unasked())
            .unwrap_or_default();
        Some(ToolServer {
            name: "maestro".into(),
            program,
            dir,
            args: vec!["mcp".into()],
            env: vec![
                ("MAESTRO_AGENT_TOKEN".into(), token),
                ("MAESTRO_SOCKET".into(), socket.display().to_string()),
            ],
            permission_tool: Some("permission".into()),
            unasked,
        })
    }

    fn needs_input(&self, ws: &str, agent: &str, question: &str) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        let engine = Engine::from_inner(inner);
        let (ws, agent, text) = (ws.to_owned(), agent.to_owned(), question.to_owned());
        tokio::spawn(async move {
            if let Err(e) = answer_prompt(&engine, &ws, &agent, text).await {
                tracing::warn!(%agent, "a question of the agent was not answered: {e}");
            }
        });
    }
}

/// The engine a host holds weakly; an error once the daemon is stopping.
fn engine_of(inner: &Weak<Inner>) -> Result<Engine, String> {
    inner
        .upgrade()
        .map(Engine::from_inner)
        .ok_or_else(|| "the daemon is stopping".to_owned())
}

/// Agent `agent` as it is, its workspace's configuration and its CLI's settings: what a turn
/// the engine starts for it needs.
fn agent_turn_settings(
    engine: &Engine,
    ws: &str,
    agent: &str,
) -> Result<(AgentInfo, Config, AgentSettings), String> {
    let info = engine.agents().get(ws, agent).map_err(|e| e.to_string())?;
    let config = engine
        .config()
        .with_workspace(&info.workspace_root)
        .map_err(|e| e.to_string())?;
    let settings = settings(&config, &info.agent).map_err(|e| e.message)?;
    Ok((info, config, settings))
}

/// A printed question of a headless agent: decided by the workspace's attention policy (or the
/// person), the answer written to the agent.
async fn answer_prompt(engine: &Engine, ws: &str, agent: &str, text: String) -> Result<(), String> {
    let (info, config, settings) = agent_turn_settings(engine, ws, agent)?;
    let policy = config.settings().attention.clone();
    let decided = engine
        .attention()
        .ask(
            ws,
            agent,
            &info.worktree,
            Question::Prompt { text },
            &policy,
        )
        .await
        .map_err(|e| e.to_string())?;
    if decided.decision == "lost" {
        return Ok(());
    }
    engine
        .agents()
        .send(ws, agent, &decided.decision, settings)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// How group chats reach agents, their spending, the memory and the editors.
pub(crate) struct ChatHost(pub(crate) Weak<Inner>);

impl ChatHost {
    fn engine(&self) -> Result<Engine, String> {
        engine_of(&self.0)
    }
}

impl maestro_comms::ChatHost for ChatHost {
    fn wait_idle(&self, ws: &str, agent: &str) -> BoxFuture<'_, Result<(), String>> {
        let (ws, agent) = (ws.to_owned(), agent.to_owned());
        Box::pin(async move {
            let engine = self.engine()?;
            engine
                .agents()
                .wait_turn(&ws, &agent)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }

    fn send(&self, ws: &str, agent: &str, prompt: &str) -> Result<(), String> {
        let engine = self.engine()?;
        let (_, _, settings) = agent_turn_settings(&engine, ws, agent)?;
        engine
            .agents()
            .send(ws, agent, prompt, settings)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn stop_turn(&self, ws: &str, agent: &str) -> BoxFuture<'_, ()> {
        let (ws, agent) = (ws.to_owned(), agent.to_owned());
        Box::pin(async move {
            if let Ok(engine) = self.engine() {
                let _ = engine.agents().stop(&ws, &agent).await;
            }
        })
    }

    fn spent(&self, ws: &str, agent: &str) -> f64 {
        self.engine()
            .ok()
            .and_then(|e| e.agents().get(ws, agent).ok())
            .map_or(0.0, |a| a.usage.cost_usd)
    }

    fn remember(
        &self,
        ws: &str,
        chat: &maestro_protocol::ChatInfo,
        entries: &[maestro_protocol::ChatEntry],
    ) {
        let Ok(engine) = self.engine() else { return };
        let title = if chat.title.is_empty() {
            chat.id.as_str()
        } else {
            chat.title.as_str()
        };
        let memories = entries
            .iter()
            .map(|entry| {
                let who = match entry.author.as_str() {
                    maestro_comms::chat::PERSON => "the person".to_owned(),
                    a => format!("@{a}"),
                };
                NewMemory {
                    ws: ws.to_owned(),
                    kind: maestro_protocol::memory_kind::CHAT,
                    agent: entry.author.clone(),
                    source: format!("chat:{}#{}", chat.id, entry.seq),
                    at: entry.at,
                    text: format!("Chat \"{title}\" ({}) — {who}: {}", entry.kind, entry.text),
                }
            })
            .collect();
        engine.memory().remember_later(memories);
    }

    fn told(&self, event: maestro_protocol::ChatEventParams) {
        if let Ok(engine) = self.engine() {
            engine.emit(Event::Chat(Box::new(event)));
        }
    }
}

/// How consults reach the agents: the asker's transcript, the consultant's turn, the answer.
pub(crate) struct ConsultHost(pub(crate) Weak<Inner>);

impl ConsultHost {
    fn engine(&self) -> Result<Engine, String> {
        engine_of(&self.0)
    }
}

impl maestro_comms::ConsultHost for ConsultHost {
    fn transcript(&self, ws: &str, agent: &str, max: usize) -> String {
        let Ok(engine) = self.engine() else {
            return String::new();
        };
        let agents = engine.agents();
        let end = agents
            .output(ws, agent, u64::MAX, None)
            .map_or(0, |o| o.end);
        let from = end.saturating_sub(max as u64);
        agents
            .output(ws, agent, from, None)
            .map(|o| maestro_comms::consult::transcript_end(&o.data, max))
            .unwrap_or_default()
    }

    fn turn(
        &self,
        ws: &str,
        consultant: &str,
        prompt: String,
        session: Option<String>,
    ) -> BoxFuture<'_, Result<(String, Option<String>), String>> {
        let (ws, consultant) = (ws.to_owned(), consultant.to_owned());
        Box::pin(async move {
            let engine = self.engine()?;
            let (_, config, settings) = agent_turn_settings(&engine, &ws, &consultant)?;
            let timeout = config.settings().chat.turn_timeout;
            let reply = engine
                .agents()
                .consult(&ws, &consultant, &prompt, session, settings, timeout)
                .await
                .map_err(|e| e.to_string())?;
            Ok((reply.reply, reply.session_id))
        })
    }

    fn answer(&self, a: &maestro_comms::Consulted) -> BoxFuture<'_, Result<String, String>> {
        let a = a.clone();
        Box::pin(async move {
            let engine = self.engine()?;
            let mut note = format!("↩ @{} answers (consult {}):", a.consultant, a.thread);
            for line in a.reply.lines() {
                note.push_str(&format!("\n  {line}"));
            }
            let _ = engine.agents().note(&a.ws, &a.asker, &note);
            let draft = Draft {
                to: agent_address(&a.ws, &a.asker),
                subject: format!(
                    "consult: {}",
                    maestro_agents::supervisor::one_line(&a.question, 80)
                ),
                payload: serde_json::json!({
                    "text": a.reply,
                    "consult": a.thread,
                    "question": a.question,
                }),
                // The asker asked: an idle one wakes for the answer.
                priority: maestro_comms::Priority::High,
                kind: maestro_comms::Kind::Response,
                in_reply_to: None,
                expires_in: None,
            };
            let from = agent_address(&a.ws, &a.consultant);
            let sent =
                tokio::task::spawn_blocking(move || engine.post().send(&from, draft, now_ms()))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
            Ok(sent.envelope.id.clone())
        })
    }
}

/// How long the attention decider agent may take before the question goes to the person.
const DECIDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// How the attention manager shows a question: the agent's state, the editors, the inbox.
pub(crate) struct AttentionHost(pub(crate) Weak<Inner>);

impl maestro_agents::attention::AttentionHost for AttentionHost {
    fn told(&self, event: maestro_protocol::AttentionEventParams) {
        if let Some(inner) = self.0.upgrade() {
            Engine::from_inner(inner).emit(Event::Attention(Box::new(event)));
        }
    }

    fn waiting(&self, ws: &str, agent: &str, question: Option<String>) {
        if let Some(agents) = self.0.upgrade().and_then(|i| i.agents.get().cloned()) {
            agents.waiting(ws, agent, question);
        }
    }

    fn ask_agent(
        &self,
        ws: &str,
        decider: &str,
        q: &maestro_protocol::AttentionInfo,
    ) -> BoxFuture<'_, Option<(bool, String)>> {
        let (ws, decider, q) = (ws.to_owned(), decider.to_owned(), q.clone());
        Box::pin(async move {
            let engine = engine_of(&self.0).ok()?;
            let (_, _, settings) = agent_turn_settings(&engine, &ws, &decider).ok()?;
            let prompt = format!(
                "Agent @{} asks to go ahead with: {}\n(maestro's rules left it open: {}.)\n\n\
                 Decide for the person: reply with ALLOW or DENY as your first word, then one line \
                 saying why. Only decide: do not run or change anything.",
                q.agent, q.question, q.reason
            );
            let reply = engine
                .agents()
                .consult(&ws, &decider, &prompt, None, settings, DECIDER_TIMEOUT)
                .await
                .map_err(|e| tracing::warn!(%decider, "the decider did not answer: {e}"))
                .ok()?;
            let text = reply.reply.trim();
            let first: String = text
                .chars()
                .take_while(|c| c.is_alphabetic())
                .collect::<String>()
                .to_uppercase();
            let why = maestro_agents::supervisor::one_line(text, 200);
            match first.as_str() {
                "ALLOW" => Some((true, format!("@{decider}: {why}"))),
                "DENY" => Some((false, format!("@{decider}: {why}"))),
                _ => None,
            }
        })
    }

    fn escalated(&self, q: &maestro_protocol::AttentionInfo) -> BoxFuture<'_, ()> {
        let q = q.clone();
        Box::pin(async move {
            let Some(inner) = self.0.upgrade() else {
                return;
            };
            let engine = Engine::from_inner(inner);
            let answers = if q.choices.is_empty() {
                format!("`maestro attention answer {} TEXT`", q.id)
            } else {
                format!(
                    "`maestro attention answer {} {}`",
                    q.id,
                    q.choices.join("|")
                )
            };
            let draft = Draft {
                to: engine.person().to_owned(),
                subject: format!("{} needs your answer", q.agent),
                payload: serde_json::json!({
                    "text": format!("{} asks: {}\n({})\nAnswer with {answers}.", q.agent, q.question, q.reason),
                    "attention": q.id,
                }),
                priority: maestro_comms::Priority::High,
                kind: maestro_comms::Kind::Alert,
                in_reply_to: None,
                expires_in: None,
            };
            let from = agent_address(&q.workspace, &q.agent);
            let sent =
                tokio::task::spawn_blocking(move || engine.post().send(&from, draft, now_ms()))
                    .await;
            if let Ok(Err(e)) = sent {
                tracing::warn!("the question did not reach the inbox: {e}");
            }
        })
    }
}

/// How the post sees agents: their state, a turn to wake them, and the editors to tell.
pub(crate) struct PostHost(pub(crate) Weak<Inner>);

impl maestro_comms::Host for PostHost {
    fn presence(&self, address: &str) -> Presence {
        let Some(inner) = self.0.upgrade() else {
            return Presence::Unknown;
        };
        let Some((ws, name)) = agent_of(address) else {
            return if address == inner.person {
                Presence::Away
            } else {
                Presence::Unknown
            };
        };
        let Some(agents) = inner.agents.get() else {
            return Presence::Unknown;
        };
        match agents.get(ws, name) {
            // An agent of another node of the mesh, as its heartbeat lists it.
            Err(_) => match Engine::from_inner(inner.clone())
                .mesh_if_made()
                .and_then(|m| m.node_of_agent(ws, name))
            {
                Some(_) => Presence::Remote,
                None => Presence::Unknown,
            },
            // A terminal UI is a person's to type into: its messages wait in the inbox.
            Ok(info) if info.mode == AgentMode::Interactive => Presence::Away,
            Ok(info) => match info.state {
                AgentState::Starting | AgentState::Working | AgentState::NeedsInput => {
                    Presence::Busy
                }
                AgentState::Idle => Presence::Idle,
                AgentState::Done | AgentState::Failed | AgentState::Lost => Presence::Away,
            },
        }
    }

    fn wake(&self, address: &str) -> Result<(), String> {
        let engine = engine_of(&self.0)?;
        let (ws, name) = agent_of(address).ok_or("not an agent")?;
        let (_, _, settings) = agent_turn_settings(&engine, ws, name)?;
        engine
            .agents()
            .send(ws, name, maestro_comms::WAKE_PROMPT, settings)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn told(&self, news: News) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        let (event, message) = match news {
            News::Sent(signed) => ("sent", Delivered::from(signed)),
            News::Read { message, at } => {
                let mut d = Delivered::from(message);
                d.read_at = Some(at);
                ("read", d)
            }
        };
        Engine::from_inner(inner).emit(Event::Message(Box::new(MessageEventParams {
            event: event.into(),
            message: message.info(),
        })));
    }

    fn forward(&self, signed: &maestro_comms::Signed) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        let engine = Engine::from_inner(inner);
        let Some(mesh) = engine.mesh_if_made().cloned() else {
            return;
        };
        let Some((ws, name)) = agent_of(&signed.envelope.to) else {
            return;
        };
        let Some(node) = mesh.node_of_agent(ws, name) else {
            tracing::warn!(to = %signed.envelope.to, "no node of the mesh has the recipient any more: the message stays here");
            return;
        };
        let id = signed.envelope.id.clone();
        let body = serde_json::to_value(signed).expect("a signed message is JSON");
        // The stream stores it once accepted; until then, a few tries (a failover takes seconds).
        tokio::spawn(async move {
            let mut wait = std::time::Duration::from_millis(250);
            for attempt in 1..=6 {
                match mesh.post(&node, &id, &body).await {
                    Ok(()) => return,
                    Err(e) if attempt == 6 => {
                        tracing::warn!(%id, %node, "a message for another node not sent: {e}");
                    }
                    Err(e) => {
                        tracing::debug!(%id, %node, attempt, "sending a message to the mesh: {e}");
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
            }
        });
    }
}

/// How playbook runs reach agents, the configuration and the editors.
pub(crate) struct PlaybookHost(pub(crate) Weak<Inner>);

impl PlaybookHost {
    fn engine(&self) -> Result<Engine, String> {
        engine_of(&self.0)
    }

    /// The engine and the workspace's configuration.
    fn config(&self, ws: &Workspace) -> Result<(Engine, Config), String> {
        let engine = self.engine()?;
        let config = engine
            .config()
            .with_workspace(&ws.root)
            .map_err(|e| e.to_string())?;
        Ok((engine, config))
    }
}

fn agents_ws(ws: &Workspace) -> WorkspaceRef {
    WorkspaceRef {
        id: ws.id.clone(),
        root: ws.root.clone(),
    }
}

impl Executor for PlaybookHost {
    type Settings = AgentSettings;

    fn workspace_of(&self, path: &Path) -> Result<Workspace, String> {
        let (ws, _) = workspace_of(self.engine()?.config(), path).map_err(|e| e.message)?;
        Ok(Workspace {
            id: ws.id,
            root: ws.root,
        })
    }

    fn default_cli(&self, ws: &Workspace) -> Result<String, String> {
        let (_, config) = self.config(ws)?;
        Ok(config.settings().agents.default.clone())
    }

    fn check_cli(&self, ws: &Workspace, cli: &str) -> Result<(), String> {
        let (_, config) = self.config(ws)?;
        let s = settings(&config, cli).map_err(|e| {
            format!(
                "unknown agent `{cli}`: not an agent of this workspace, and {}",
                e.message
                    .trim_start_matches('`')
                    .split_once("` ")
                    .map_or(e.message.as_str(), |(_, rest)| rest)
            )
        })?;
        if find_program(&s.program).is_none() {
            return Err(format!(
                "agent CLI `{cli}` is not installed: {} was not found (set {})",
                s.program.display(),
                s.program_key
            ));
        }
        Ok(())
    }

    fn settings(
        &self,
        ws: &Workspace,
        cli: &str,
        isolation: Isolation,
    ) -> Result<AgentSettings, String> {
        let (engine, config) = self.config(ws)?;
        spawn_settings(engine.trust(), &ws.root, &config, cli, Some(isolation))
            .map_err(|e| e.message)
    }

    fn committed_as_is(&self, root: &Path, relative: &str) -> Result<bool, String> {
        maestro_agents::worktree::committed_as_is(root, relative).map_err(|e| e.to_string())
    }

    fn valid_name(&self, name: &str) -> bool {
        maestro_agents::identity::validate_name(name).is_ok()
    }

    fn agent(&self, ws: &Workspace, name: &str) -> Result<AgentInfo, String> {
        self.engine()?
            .agents()
            .get(&ws.id, name)
            .map_err(|e| e.to_string())
    }

    async fn spawn(
        &self,
        ws: &Workspace,
        params: AgentSpawnParams,
        settings: AgentSettings,
    ) -> Result<(), String> {
        self.engine()?
            .agents()
            .spawn(&agents_ws(ws), &params, settings)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn wait_turn(&self, ws: &Workspace, name: &str) -> Result<AgentInfo, String> {
        self.engine()?
            .agents()
            .wait_turn(&ws.id, name)
            .await
            .map_err(|e| e.to_string())
    }

    fn forget_session(&self, ws: &Workspace, name: &str) -> Result<(), String> {
        self.engine()?
            .agents()
            .forget_session(&ws.id, name)
            .map_err(|e| e.to_string())
    }

    fn send(
        &self,
        ws: &Workspace,
        name: &str,
        prompt: &str,
        settings: AgentSettings,
    ) -> Result<(), String> {
        self.engine()?
            .agents()
            .send(&ws.id, name, prompt, settings)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn last_words(&self, ws: &Workspace, name: &str, from: u64) -> String {
        let Ok(engine) = self.engine() else {
            return String::new();
        };
        let Ok(output) = engine.agents().output(&ws.id, name, from, None) else {
            return String::new();
        };
        let line = output
            .data
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with('›'))
            .unwrap_or("");
        maestro_agents::supervisor::one_line(line, 200)
    }

    async fn stop(&self, ws: &Workspace, name: &str) {
        if let Ok(engine) = self.engine() {
            let _ = engine.agents().stop(&ws.id, name).await;
        }
    }

    async fn restore_files(
        &self,
        ws: &Workspace,
        name: &str,
        paths: Vec<String>,
        message: String,
    ) -> Result<(), String> {
        self.engine()?
            .agents()
            .restore_files(&ws.id, name, paths, message)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn merge(&self, ws: &Workspace, name: &str) -> Result<AgentMergeResult, String> {
        self.engine()?
            .agents()
            .merge(&ws.id, name)
            .await
            .map_err(|e| e.to_string())
    }

    fn begin_work(&self) -> Box<dyn Send> {
        match self.engine() {
            Ok(engine) => Box::new(engine.begin_work()),
            Err(_) => Box::new(()),
        }
    }

    fn begin_progress(&self, title: &str) -> Box<dyn maestro_playbook::run::Progress> {
        match self.engine() {
            Ok(engine) => Box::new(engine.begin_progress(title)),
            Err(_) => Box::new(NoProgress),
        }
    }

    fn emit(&self, event: PlaybookProgressParams) {
        if let Ok(engine) = self.engine() {
            engine.emit(Event::PlaybookProgress(Box::new(event)));
        }
    }

    fn remember(&self, ws: &Workspace, agent: &str, source: String, text: String) {
        let Ok(engine) = self.engine() else { return };
        if engine.memory().settings.remember_turns {
            engine.memory().remember_later(vec![NewMemory {
                ws: ws.id.clone(),
                kind: maestro_protocol::memory_kind::SUMMARY,
                agent: agent.to_owned(),
                source,
                at: unix_now(),
                text,
            }]);
        }
    }
}

impl maestro_playbook::run::Progress for crate::engine::Progress {
    fn report(&self, message: Option<String>, percentage: Option<u32>) {
        crate::engine::Progress::report(self, message, percentage);
    }

    fn end(self: Box<Self>, message: Option<String>) {
        crate::engine::Progress::end(*self, message);
    }
}

/// Progress of an engine that is gone: nobody to tell.
struct NoProgress;

impl maestro_playbook::run::Progress for NoProgress {
    fn report(&self, _: Option<String>, _: Option<u32>) {}
    fn end(self: Box<Self>, _: Option<String>) {}
}

/// An agent's headless turn as a memory.
fn turn_memory(t: maestro_agents::FinishedTurn) -> NewMemory {
    let mut text = format!("Prompt: {}\n", t.prompt.trim());
    if !t.reply.trim().is_empty() {
        text.push_str(&format!("Reply: {}\n", t.reply.trim()));
    }
    if !t.tools.is_empty() {
        text.push_str(&format!("Tools: {}\n", t.tools.join("; ")));
    }
    if t.outcome != "ok" {
        text.push_str(&format!("Outcome: {}\n", t.outcome));
    }
    NewMemory {
        ws: t.ws,
        kind: maestro_protocol::memory_kind::TURN,
        source: format!("agent:{}#turn{}", t.agent, t.turn),
        agent: t.agent,
        at: t.ended,
        text,
    }
}
