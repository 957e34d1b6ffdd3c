//! The attention methods (`maestro/attention.*`): an agent's tools ask (its CLI's permission
//! prompt), the person answers, anyone reads the log.

use crate::agent_settings::workspace_of;
use crate::engine::store_error;
use crate::session::{Answer, Session};
use maestro_agents::attention::{AttentionError, Question};
use maestro_protocol::{
    AttentionAnswerParams, AttentionAskParams, AttentionInfo, AttentionLogParams,
    AttentionLogResult, RpcError, code,
};

/// Log pages hold this many by default, and at most [`MAX_LOG`].
const LOG: usize = 50;
const MAX_LOG: usize = 1000;

pub(crate) fn ask(s: &Session, p: AttentionAskParams) -> Answer<AttentionInfo> {
    let Some(agent) = s.agent().cloned() else {
        return Answer::Now(Err(RpcError::new(
            code::INVALID_REQUEST,
            "only an agent's tools ask for permission (its CLI's prompt); a person answers with maestro/attention.answer",
        )));
    };
    if p.tool.trim().is_empty() {
        return Answer::Now(Err(RpcError::new(
            code::INVALID_PARAMS,
            "`tool`: name the tool the agent wants to use",
        )));
    }
    let engine = s.engine.clone();
    Answer::later(async move {
        let config = engine
            .config()
            .with_workspace(&agent.workspace_root)
            .map_err(|e| RpcError::new(code::CONFIG_INVALID, e.to_string()))?;
        let policy = config.settings().attention.clone();
        let question = Question::Tool {
            tool: p.tool,
            input: p.input,
        };
        engine
            .attention()
            .ask(
                &agent.workspace,
                &agent.name,
                &agent.worktree,
                question,
                &policy,
            )
            .await
            .map_err(store_error)
    })
}

pub(crate) fn answer(s: &Session, p: AttentionAnswerParams) -> Answer<AttentionInfo> {
    if let Some(agent) = s.agent() {
        return Answer::Now(Err(RpcError::new(
            code::INVALID_REQUEST,
            format!(
                "only the person answers what an agent asks (this connection is agent `{}`)",
                agent.name
            ),
        )));
    }
    Answer::Now(
        s.engine
            .attention()
            .answer(p.id.trim(), &p.choice)
            .map_err(|e| match e {
                AttentionError::NotPending(_) => RpcError::not_found(e.to_string()),
                AttentionError::BadChoice { .. } => {
                    RpcError::new(code::INVALID_PARAMS, e.to_string())
                }
                AttentionError::Store(e) => store_error(e),
            }),
    )
}

pub(crate) fn log(s: &Session, p: AttentionLogParams) -> Answer<AttentionLogResult> {
    let ws = match (&p.path, s.agent()) {
        (Some(path), _) => match workspace_of(s.engine.config(), path) {
            Ok((ws, _)) => Some(ws.id),
            Err(e) => return Answer::Now(Err(e)),
        },
        // An agent sees its workspace's.
        (None, Some(agent)) => Some(agent.workspace.clone()),
        (None, None) => None,
    };
    let limit = p.limit.unwrap_or(LOG).clamp(1, MAX_LOG);
    let attention = s.engine.attention();
    if p.pending {
        let decisions = attention
            .pending()
            .into_iter()
            .filter(|i| ws.as_deref().is_none_or(|w| i.workspace == w))
            .take(limit)
            .collect();
        return Answer::Now(Ok(AttentionLogResult { decisions }));
    }
    let attention = attention.clone();
    Answer::later(async move {
        tokio::task::spawn_blocking(move || attention.log(ws.as_deref(), limit))
            .await
            .map_err(RpcError::internal)?
            .map(|decisions| AttentionLogResult { decisions })
            .map_err(store_error)
    })
}
