//! The agent methods (`maestro/agent.*`, `maestro/usage`): the workspace and configuration of
//! each request resolved into the supervisor's terms.
//!
//! The agent methods (`maestro/agent.*`, `maestro/usage`). Each request resolves
//! its workspace (the repository around `path`) and that workspace's configuration into
//! `AgentSettings`: which program (`agents.<cli>.path`, user-only, so a cloned repository cannot
//! choose what runs), extra arguments, model, timeouts, setup, isolation, prices. A repository
//! config with problems is an error here (it may be what says how to set up). Errors map to codes:
//! `-32602` bad names and bases, `-32091` unknown agents, `-32095` conflicts (a name or path taken,
//! a busy agent, uncommitted work, a merge conflict with a checkout), `-32096` a missing CLI.

use crate::agent_settings::{settings, spawn_settings, workspace_of};
use crate::delegate;
use crate::engine::Engine;
use crate::session::{Answer, Session};
use crate::text::uri_to_path;
use maestro_agents::identity;
use maestro_agents::process::TermSize;
use maestro_agents::worktree::WorktreeError;
use maestro_agents::{AgentError, DayZone, Supervisor};
use maestro_protocol::{
    AgentAttachParams, AgentAttachResult, AgentConsultParams, AgentConsultResult, AgentDiffResult,
    AgentIconParams, AgentIconResult, AgentInfo, AgentInputParams, AgentListParams,
    AgentMergeResult, AgentOutputRequest, AgentOutputResult, AgentRef, AgentRemoveParams,
    AgentRemoveResult, AgentResizeParams, AgentReviewParams, AgentSendParams, AgentSpawnParams,
    DelegateParams, DelegateResult, DelegateTask, RpcError, UsageParams, UsageResult, code, method,
};
use std::future::Future;
use std::path::{Path, PathBuf};

/// The RPC error of an agent error: the code says what kind of problem it is.
pub(crate) fn agent_error(e: AgentError) -> RpcError {
    let code = match &e {
        AgentError::InvalidName(_) | AgentError::Invalid(_) => code::INVALID_PARAMS,
        AgentError::NotFound { .. } => code::NOT_FOUND,
        AgentError::Exists(_) | AgentError::Busy { .. } => code::CONFLICT,
        AgentError::CliMissing(_) | AgentError::Unsupported(_) | AgentError::Failed(_) => {
            code::AGENT_FAILED
        }
        AgentError::Store(_) => code::STORE_FAILED,
        AgentError::Worktree(w) => match w {
            WorktreeError::PathExists(_)
            | WorktreeError::BranchExists { .. }
            | WorktreeError::Dirty { .. }
            | WorktreeError::CheckoutBlocked { .. } => code::CONFLICT,
            WorktreeError::NotARepository(_)
            | WorktreeError::NoCommits(_)
            | WorktreeError::BadBase { .. }
            | WorktreeError::BaseNotBranch(_)
            | WorktreeError::UnsafeSetupFile { .. } => code::INVALID_PARAMS,
            WorktreeError::Git { .. } | WorktreeError::Io { .. } => code::AGENT_FAILED,
        },
    };
    RpcError::new(code, e.to_string())
}

pub(crate) fn spawn(s: &Session, p: AgentSpawnParams) -> Answer<AgentInfo> {
    let engine = &s.engine;
    let prepared = workspace_of(engine.config(), &p.path).and_then(|(ws, config)| {
        let cli = if p.agent.is_empty() {
            config.settings().agents.default.clone()
        } else {
            p.agent.clone()
        };
        let settings = spawn_settings(engine.trust(), &ws.root, &config, &cli, p.isolation)?;
        Ok((ws, settings))
    });
    let agents = engine.agents().clone();
    let engine = engine.clone();
    match prepared {
        Ok((ws, settings)) => Answer::later(async move {
            let info = agents.spawn(&ws, &p, settings).await.map_err(agent_error)?;
            if let Some(prompt) = &p.prompt {
                consult_mentioned(&engine, &ws.id, &p.name, prompt);
            }
            Ok(info)
        }),
        Err(e) => Answer::Now(Err(e)),
    }
}

pub(crate) fn send(s: &Session, p: AgentSendParams) -> Answer<AgentInfo> {
    Answer::Now(
        next_turn(s, &p.path, &p.name).and_then(|(ws, _, settings)| {
            let info = s
                .engine
                .agents()
                .send(&ws, &p.name, &p.prompt, settings)
                .map_err(agent_error)?;
            consult_mentioned(&s.engine, &ws, &p.name, &p.prompt);
            Ok(info)
        }),
    )
}

/// The other agents of the workspace that a person's prompt to `asker` mentions (`@name`) are
/// consulted about it, each in the background: their answers reach `asker` as messages.
fn consult_mentioned(engine: &Engine, ws: &str, asker: &str, prompt: &str) {
    if !prompt.contains('@') {
        return;
    }
    let names: Vec<String> = engine
        .agents()
        .list(Some(ws))
        .into_iter()
        .map(|a| a.name)
        .filter(|n| n != asker)
        .collect();
    for consultant in maestro_comms::consult::mentioned(prompt, &names) {
        let (engine, ws, asker, question) = (
            engine.clone(),
            ws.to_owned(),
            asker.to_owned(),
            prompt.to_owned(),
        );
        tokio::spawn(async move {
            let asked = engine
                .consults()
                .ask(&ws, &asker, &consultant, &question, None)
                .await;
            if let Err(e) = asked {
                tracing::warn!(%asker, %consultant, "a consult failed: {e}");
                let note = format!("✗ consulting @{consultant} failed: {e}");
                let _ = engine.agents().note(&ws, &asker, &note);
            }
        });
    }
}

/// `maestro/agent.consult`: an agent's tools ask for themselves; the person names the asker.
pub(crate) fn consult(s: &Session, p: AgentConsultParams) -> Answer<AgentConsultResult> {
    let (ws, asker) = match (s.agent(), &p.asker, &p.path) {
        (Some(agent), _, _) => (agent.workspace.clone(), agent.name.clone()),
        (None, Some(asker), Some(path)) => match workspace_of(s.engine.config(), path) {
            Ok((ws, _)) => (ws.id, asker.clone()),
            Err(e) => return Answer::Now(Err(e)),
        },
        (None, _, _) => {
            return Answer::Now(Err(RpcError::invalid_params(
                method::AGENT_CONSULT,
                "name the agent whose work the question is about (`asker`) and a `path` in its workspace",
            )));
        }
    };
    for name in [&asker, &p.name] {
        if let Err(e) = s.engine.agents().get(&ws, name) {
            return Answer::Now(Err(agent_error(e)));
        }
    }
    let engine = s.engine.clone();
    Answer::later(async move {
        let c = engine
            .consults()
            .ask(&ws, &asker, &p.name, &p.question, p.thread.as_deref())
            .await
            .map_err(|e| match e {
                maestro_comms::ConsultError::Invalid(_) => {
                    RpcError::invalid_params(method::AGENT_CONSULT, e)
                }
                maestro_comms::ConsultError::Busy(_) => {
                    RpcError::new(code::CONFLICT, e.to_string())
                }
                maestro_comms::ConsultError::Failed(_) => {
                    RpcError::new(code::AGENT_FAILED, e.to_string())
                }
                maestro_comms::ConsultError::Store(e) => crate::engine::store_error(e),
            })?;
        Ok(AgentConsultResult {
            thread: c.thread,
            consultant: c.consultant,
            asker: c.asker,
            reply: c.reply,
            message: c.message,
        })
    })
}

/// The review's prompt needs the agent's diff (a blocking git read), then it is sent as `send`.
pub(crate) fn review(s: &Session, p: AgentReviewParams) -> Answer<AgentInfo> {
    let (ws, info, settings) = match next_turn(s, &p.path, &p.name) {
        Ok(prepared) => prepared,
        Err(e) => return Answer::Now(Err(e)),
    };
    let agents = s.engine.agents().clone();
    Answer::later(async move {
        let diff = agents.diff(&ws, &p.name).await.map_err(agent_error)?;
        let prompt = maestro_agents::review::prompt(&diff.patch, &info.worktree, &p.comments)
            .map_err(|e| RpcError::invalid_params(method::AGENT_REVIEW, e))?;
        agents
            .send(&ws, &p.name, &prompt, settings)
            .map_err(agent_error)
    })
}

/// What a next turn of agent `name` needs: its workspace's id, the agent, and its CLI's
/// settings as configured now.
fn next_turn(
    s: &Session,
    path: &Path,
    name: &str,
) -> Result<(String, AgentInfo, maestro_agents::AgentSettings), RpcError> {
    let (ws, config) = workspace_of(s.engine.config(), path)?;
    let info = s.engine.agents().get(&ws.id, name).map_err(agent_error)?;
    let settings = settings(&config, &info.agent)?;
    Ok((ws.id, info, settings))
}

pub(crate) fn stop(s: &Session, p: AgentRef) -> Answer<AgentInfo> {
    later_on_agent(s, p, |agents, ws, name| async move {
        agents.stop(&ws, &name).await
    })
}

/// An answer computed later from the supervisor, for the agent `p` names.
fn later_on_agent<T, F, Fut>(s: &Session, p: AgentRef, f: F) -> Answer<T>
where
    F: FnOnce(Supervisor, String, String) -> Fut,
    Fut: Future<Output = Result<T, AgentError>> + Send + 'static,
{
    match agent_ref(&s.engine, p) {
        Ok((ws, name)) => {
            let answer = f(s.engine.agents().clone(), ws, name);
            Answer::later(async move { answer.await.map_err(agent_error) })
        }
        Err(e) => Answer::Now(Err(e)),
    }
}

pub(crate) fn status(s: &Session, p: AgentRef) -> Answer<AgentInfo> {
    Answer::Now(
        agent_ref(&s.engine, p)
            .and_then(|(ws, name)| s.engine.agents().get(&ws, &name).map_err(agent_error)),
    )
}

pub(crate) fn list(s: &Session, p: AgentListParams) -> Answer<Vec<AgentInfo>> {
    Answer::Now(
        workspace_id_of(&s.engine, p.path.as_deref())
            .map(|ws| s.engine.agents().list(ws.as_deref())),
    )
}

pub(crate) fn output(s: &Session, p: AgentOutputRequest) -> Answer<AgentOutputResult> {
    Answer::Now(
        workspace_of(s.engine.config(), &p.path).and_then(|(ws, _)| {
            s.engine
                .agents()
                .output(&ws.id, &p.name, p.offset, p.limit)
                .map_err(agent_error)
        }),
    )
}

pub(crate) fn attach(s: &Session, p: AgentAttachParams) -> Answer<AgentAttachResult> {
    Answer::Now(
        workspace_of(s.engine.config(), &p.path).and_then(|(ws, _)| {
            let size = match (p.rows, p.cols) {
                (Some(rows), Some(cols)) => Some(TermSize { rows, cols }),
                (None, None) => None,
                _ => {
                    return Err(RpcError::invalid_params(
                        method::AGENT_ATTACH,
                        "give both `rows` and `cols`, or neither",
                    ));
                }
            };
            s.engine
                .agents()
                .attach(&ws.id, &p.name, size)
                .map_err(agent_error)
        }),
    )
}

pub(crate) fn input(s: &Session, p: AgentInputParams) -> Answer<()> {
    Answer::Now(
        workspace_of(s.engine.config(), &p.path).and_then(|(ws, _)| {
            s.engine
                .agents()
                .input(&ws.id, &p.name, p.data.as_bytes())
                .map_err(agent_error)
        }),
    )
}

pub(crate) fn resize(s: &Session, p: AgentResizeParams) -> Answer<()> {
    Answer::Now(
        workspace_of(s.engine.config(), &p.path).and_then(|(ws, _)| {
            let size = TermSize {
                rows: p.rows,
                cols: p.cols,
            };
            s.engine
                .agents()
                .resize(&ws.id, &p.name, size)
                .map_err(agent_error)
        }),
    )
}

pub(crate) fn diff(s: &Session, p: AgentRef) -> Answer<AgentDiffResult> {
    later_on_agent(s, p, |agents, ws, name| async move {
        agents.diff(&ws, &name).await
    })
}

pub(crate) fn merge(s: &Session, p: AgentRef) -> Answer<AgentMergeResult> {
    later_on_agent(s, p, |agents, ws, name| async move {
        agents.merge(&ws, &name).await
    })
}

/// Forgets an agent, its worktree and its snapshots (a new agent of the name starts with none).
pub(crate) fn remove(s: &Session, p: AgentRemoveParams) -> Answer<AgentRemoveResult> {
    let engine = s.engine.clone();
    match workspace_of(s.engine.config(), &p.path) {
        Ok((ws, _)) => Answer::later(async move {
            let mut removed = engine
                .agents()
                .remove(&ws.id, &p.name, p.force)
                .await
                .map_err(agent_error)?;
            let (e, name) = (engine.clone(), p.name.clone());
            removed.snapshots_deleted = tokio::task::spawn_blocking(move || {
                crate::portable_requests::drop_snapshots(&e, &ws, &name)
            })
            .await
            .unwrap_or(0);
            Ok(removed)
        }),
        Err(e) => Answer::Now(Err(e)),
    }
}

pub(crate) fn icon(_: &Session, p: AgentIconParams) -> Answer<AgentIconResult> {
    if let Err(e) = identity::validate_name(&p.name) {
        return Answer::Now(Err(RpcError::invalid_params(method::AGENT_ICON, e)));
    }
    Answer::Now(Ok(AgentIconResult {
        color: identity::color(&p.name),
        svg: identity::identicon_svg(&p.name),
        path: identity::name_path(&p.name)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        name: p.name,
    }))
}

pub(crate) fn delegate(s: &Session, p: DelegateParams) -> Answer<DelegateResult> {
    s.delegate(p)
}

pub(crate) fn usage(s: &Session, p: UsageParams) -> Answer<UsageResult> {
    let by = p.by.as_deref().unwrap_or("agent");
    if !matches!(by, "agent" | "model" | "day") {
        return Answer::Now(Err(RpcError::invalid_params(
            method::USAGE,
            format!("`by` must be `agent`, `model` or `day`, got `{by}`"),
        )));
    }
    let zone = match p.time_zone.as_deref() {
        None => DayZone::Local,
        Some(name) => match DayZone::named(name) {
            Some(zone) => zone,
            None => {
                return Answer::Now(Err(RpcError::invalid_params(
                    method::USAGE,
                    format!(
                        "`timeZone` must be an IANA time zone name such as `Europe/Berlin`, got `{name}`"
                    ),
                )));
            }
        },
    };
    Answer::Now(
        workspace_id_of(&s.engine, p.path.as_deref()).and_then(|ws| {
            s.engine
                .agents()
                .usage(ws.as_deref(), by, &zone)
                .map_err(agent_error)
        }),
    )
}

/// The id of the workspace around `path`, when one is given.
fn workspace_id_of(engine: &Engine, path: Option<&Path>) -> Result<Option<String>, RpcError> {
    path.map(|path| workspace_of(engine.config(), path).map(|(ws, _)| ws.id))
        .transpose()
}

impl Session {
    /// A task about a range of a document, given to an agent: the prompt is built from the code
    /// and its context in the graph, then sent to the named agent or to a new one.
    fn delegate(&self, p: DelegateParams) -> Answer<DelegateResult> {
        let m = method::AGENT_DELEGATE;
        if p.task == DelegateTask::Fix && p.diagnostic.is_none() {
            return Answer::Now(Err(RpcError::invalid_params(
                m,
                "a `fix` needs the `diagnostic` to fix",
            )));
        }
        let Some(path) = uri_to_path(&p.text_document.uri) else {
            return Answer::Now(Err(RpcError::invalid_params(
                m,
                format!(
                    "{} is not a file: agents work on files of a workspace",
                    p.text_document.uri
                ),
            )));
        };
        let context = self.code_context(&p.text_document.uri, p.range);
        let engine = self.engine.clone();
        Answer::later(async move { delegate_to_agent(engine, p, path, context.await?).await })
    }
}

async fn delegate_to_agent(
    engine: Engine,
    p: DelegateParams,
    path: PathBuf,
    ctx: delegate::CodeContext,
) -> Result<DelegateResult, RpcError> {
    let prompt = delegate::prompt(
        p.task,
        &ctx,
        p.diagnostic.as_ref(),
        p.instructions.as_deref(),
    );
    let agents = engine.agents().clone();
    let (ws, config) = workspace_of(engine.config(), &path)?;
    if let Some(name) = &p.agent {
        let cli = agents.get(&ws.id, name).map_err(agent_error)?.agent;
        let settings = settings(&config, &cli)?;
        let info = agents
            .send(&ws.id, name, &prompt, settings)
            .map_err(agent_error)?;
        return Ok(DelegateResult {
            agent: info,
            prompt,
            spawned: false,
        });
    }
    let about = ctx.symbol.as_ref().map_or_else(
        || {
            Path::new(&ctx.file)
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        },
        |s| s.name.clone(),
    );
    let name = match &p.name {
        Some(n) => n.clone(),
        None => delegate::agent_name(p.task, &about, |n| agents.get(&ws.id, n).is_ok()),
    };
    let cli = p
        .cli
        .clone()
        .unwrap_or_else(|| config.settings().agents.default.clone());
    let settings = spawn_settings(engine.trust(), &ws.root, &config, &cli, None)?;
    let params = AgentSpawnParams {
        name,
        node: None,
        agent: cli,
        path,
        prompt: Some(prompt.clone()),
        ..AgentSpawnParams::default()
    };
    let info = agents
        .spawn(&ws, &params, settings)
        .await
        .map_err(agent_error)?;
    Ok(DelegateResult {
        agent: info,
        prompt,
        spawned: true,
    })
}

fn agent_ref(engine: &Engine, p: AgentRef) -> Result<(String, String), RpcError> {
    let (ws, _) = workspace_of(engine.config(), &p.path)?;
    Ok((ws.id, p.name))
}
