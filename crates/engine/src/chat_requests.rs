//! The chat methods (`maestro/chat.*`): a chat's members are checked (or started) here, the
//! exchange runs in `maestro_comms::Chats`.

use crate::agent_requests::agent_error;
use crate::agent_settings::{spawn_settings, workspace_of};
use crate::config;
use crate::engine::store_error;
use crate::session::{Answer, Session};
use maestro_comms::{ChatError, NewChat};
use maestro_protocol::{
    AgentMode, AgentSpawnParams, ChatInfo, ChatListParams, ChatLogResult, ChatMember,
    ChatNewParams, ChatRef, ChatSayParams, RpcError, code,
};
use std::time::Duration;

fn chat_error(e: ChatError) -> RpcError {
    match e {
        ChatError::NotFound(_) => RpcError::not_found(e.to_string()),
        ChatError::Closed(_) | ChatError::Busy(_) => RpcError::new(code::CONFLICT, e.to_string()),
        ChatError::Invalid(_) => RpcError::new(code::INVALID_PARAMS, e.to_string()),
        ChatError::Store(e) => store_error(e),
    }
}

/// The bounds the configuration registry gives an integer key.
fn integer_bounds(key: &str) -> (i64, i64) {
    match config::def(key).map(|d| d.kind) {
        Some(config::Kind::Integer { min, max }) => (min, max),
        _ => unreachable!("{key} is an integer key of the registry"),
    }
}

pub(crate) fn new(s: &Session, p: ChatNewParams) -> Answer<ChatInfo> {
    let engine = s.engine.clone();
    let (ws, config) = match workspace_of(engine.config(), &p.path) {
        Ok(found) => found,
        Err(e) => return Answer::Now(Err(e)),
    };
    let bad = |m: String| RpcError::new(code::INVALID_PARAMS, m);
    let defaults = config.settings().chat.clone();
    let limits = p.limits;
    let max_rounds = limits.max_rounds.unwrap_or(defaults.max_rounds);
    let timeout = limits
        .turn_timeout_secs
        .map_or(defaults.turn_timeout, Duration::from_secs);
    let budget = limits.budget_usd.unwrap_or(defaults.budget_usd);
    // One chat's limits are bound as the configuration's are.
    let (lo, hi) = integer_bounds(config::CHAT_MAX_ROUNDS);
    if !(lo..=hi).contains(&i64::from(max_rounds)) {
        return Answer::Now(Err(bad(format!(
            "a chat's round cap is from {lo} to {hi}, got {max_rounds}"
        ))));
    }
    let (lo, hi) = integer_bounds(config::CHAT_TURN_TIMEOUT_SECS);
    let secs = i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX);
    if !(lo..=hi).contains(&secs) {
        return Answer::Now(Err(bad(format!(
            "a chat's turn timeout is from {lo} to {hi} s, got {secs}"
        ))));
    }
    if !budget.is_finite() || budget < 0.0 {
        return Answer::Now(Err(bad(format!(
            "a chat's budget is dollars, 0 or more, got {budget}"
        ))));
    }
    let members: Vec<ChatMember> = std::iter::once(p.moderator.clone())
        .chain(p.participants.iter().cloned())
        .collect();
    for m in &members {
        if let Err(e) = maestro_agents::identity::validate_name(&m.name) {
            return Answer::Now(Err(bad(format!("chat member `{}`: {e}", m.name))));
        }
    }
    Answer::later(async move {
        let agents = engine.agents().clone();
        for m in &members {
            match agents.get(&ws.id, &m.name) {
                Ok(info) if info.mode == AgentMode::Interactive => {
                    return Err(bad(format!(
                        "`{}` runs its terminal UI (interactive): a chat takes headless agents",
                        m.name
                    )));
                }
                Ok(_) => {}
                Err(_) => {
                    let Some(cli) = &m.agent else {
                        return Err(RpcError::not_found(format!(
                            "no agent `{}` in this workspace: name one of `maestro agent list`, or give a CLI to start it with (`{}:claude`)",
                            m.name, m.name
                        )));
                    };
                    let settings = spawn_settings(engine.trust(), &ws.root, &config, cli, None)?;
                    let params = AgentSpawnParams {
                        name: m.name.clone(),
                        node: None,
                        agent: cli.clone(),
                        path: ws.root.clone(),
                        ..AgentSpawnParams::default()
                    };
                    agents
                        .spawn(&ws, &params, settings)
                        .await
                        .map_err(agent_error)?;
                }
            }
        }
        engine
            .chats()
            .create(NewChat {
                ws: ws.id.clone(),
                title: p.title.trim().to_owned(),
                moderator: p.moderator.name,
                participants: p.participants.into_iter().map(|m| m.name).collect(),
                max_rounds,
                turn_timeout: timeout,
                budget_usd: budget,
            })
            .await
            .map_err(chat_error)
    })
}

pub(crate) fn say(s: &Session, p: ChatSayParams) -> Answer<ChatLogResult> {
    let chats = s.engine.chats().clone();
    Answer::later(async move {
        let id = chats.resolve(&p.chat).map_err(chat_error)?;
        let entry = chats.say(&id, &p.text).await.map_err(chat_error)?;
        if p.wait {
            chats.wait(&id).await.map_err(chat_error)?;
        }
        chats.log(&id, entry.seq - 1).map_err(chat_error)
    })
}

/// The transcript is a store read: off the request loop.
pub(crate) fn log(s: &Session, p: ChatRef) -> Answer<ChatLogResult> {
    let chats = s.engine.chats().clone();
    Answer::later(async move {
        tokio::task::spawn_blocking(move || {
            chats
                .resolve(&p.chat)
                .and_then(|id| chats.log(&id, p.after.unwrap_or(0)))
                .map_err(chat_error)
        })
        .await
        .map_err(RpcError::internal)?
    })
}

pub(crate) fn list(s: &Session, p: ChatListParams) -> Answer<Vec<ChatInfo>> {
    let ws = match &p.path {
        Some(path) => match workspace_of(s.engine.config(), path) {
            Ok((ws, _)) => Some(ws.id),
            Err(e) => return Answer::Now(Err(e)),
        },
        None => None,
    };
    Answer::Now(Ok(s.engine.chats().list(ws.as_deref(), p.closed)))
}

pub(crate) fn close(s: &Session, p: ChatRef) -> Answer<ChatInfo> {
    let chats = s.engine.chats().clone();
    Answer::later(async move {
        let id = chats.resolve(&p.chat).map_err(chat_error)?;
        chats.close(&id).await.map_err(chat_error)
    })
}
