//! The message methods (`maestro/message.*`): the connection's owner (an agent, or the person)
//! sends, reads and lists its own messages through the post. Store work runs off the request
//! loop.

use crate::agent_settings::workspace_of;
use crate::engine::Engine;
use crate::session::{Answer, Session};
use maestro_comms::{Draft, MailError, PostError};
use maestro_protocol::{
    MessageInboxParams, MessageInboxResult, MessageInfo, MessageKind, MessageRef,
    MessageSendParams, MessageThreadResult, RpcError, code,
};
use maestro_store::{unix_now, unix_now_ms as now_ms};

/// Inbox pages hold this many by default, and at most [`MAX_PAGE`].
const PAGE: usize = 20;
const MAX_PAGE: usize = 200;

fn post_error(e: PostError) -> RpcError {
    let code = match &e {
        PostError::NoRecipient(_) | PostError::Mail(MailError::Unknown(_)) => code::NOT_FOUND,
        PostError::Mail(MailError::Store(_) | MailError::Damaged { .. }) => code::STORE_FAILED,
        PostError::Mail(MailError::Key(_)) => code::INTERNAL_ERROR,
        PostError::Invalid(_)
        | PostError::Mail(MailError::Refused(_) | MailError::NotYours { .. }) => {
            code::INVALID_PARAMS
        }
    };
    RpcError::new(code, e.to_string())
}

/// Runs `f` on a blocking thread (the post waits for store writes).
fn off_loop<T: Send + 'static>(
    engine: &Engine,
    f: impl FnOnce(&Engine) -> Result<T, PostError> + Send + 'static,
) -> Answer<T> {
    let engine = engine.clone();
    Answer::later(async move {
        tokio::task::spawn_blocking(move || f(&engine).map_err(post_error))
            .await
            .map_err(RpcError::internal)?
    })
}

pub(crate) fn send(s: &Session, p: MessageSendParams) -> Answer<MessageInfo> {
    let from = s.address();
    let to = match recipient(s, &p) {
        Ok(to) => to,
        Err(e) => return Answer::Now(Err(e)),
    };
    let payload = match (p.payload, p.text) {
        (Some(payload), _) => payload,
        (None, Some(text)) if !text.trim().is_empty() => serde_json::json!({ "text": text }),
        _ => {
            return Answer::Now(Err(RpcError::new(
                code::INVALID_PARAMS,
                "a message needs a `text` (or a `payload`)",
            )));
        }
    };
    let kind = p.kind.unwrap_or(if p.in_reply_to.is_some() {
        MessageKind::Response
    } else {
        MessageKind::Notification
    });
    let mut draft = Draft {
        to: to.unwrap_or_default(),
        subject: p.subject,
        payload,
        priority: p.priority,
        kind,
        in_reply_to: p.in_reply_to,
        expires_in: p.expires_in_secs.map(|s| s.saturating_mul(1000)),
    };
    off_loop(&s.engine, move |engine| {
        if draft.to.is_empty()
            && let Some(id) = &draft.in_reply_to
        {
            // A reply with no `to` goes to the other party of the message answered (read
            // here, off the request loop: it is a store read).
            let answered = engine
                .post()
                .mailboxes()
                .message(&from, id)?
                .signed
                .envelope;
            draft.to = if answered.from == from {
                answered.to
            } else {
                answered.from
            };
        }
        let signed = engine.post().send(&from, draft, now_ms())?;
        Ok(maestro_comms::Delivered::from(signed).info())
    })
}

/// The address `p` sends to: a name in the workspace around `path` (the calling agent's own
/// when absent), the person, or a full address; `None` for a reply with no `to`, which goes to
/// the other party of the message answered.
fn recipient(s: &Session, p: &MessageSendParams) -> Result<Option<String>, RpcError> {
    let to = p.to.trim();
    let bad = |detail: String| RpcError::new(code::INVALID_PARAMS, detail);
    if to.is_empty() {
        return match &p.in_reply_to {
            Some(_) => Ok(None),
            None => Err(bad(
                "`to` is empty: name an agent, `person`, or reply to a message".into(),
            )),
        };
    }
    let person = s.engine.person();
    if matches!(to, "person" | "me") || to == person {
        return Ok(Some(person.to_owned()));
    }
    if to.starts_with("person:") {
        return Err(bad(format!(
            "`{to}`: the person here is `{person}` (or just `person`)"
        )));
    }
    if let Some((ws, name)) = maestro_comms::agent_of(to) {
        maestro_agents::identity::validate_name(name).map_err(bad)?;
        if ws.is_empty() {
            return Err(bad(format!("`{to}` names no workspace")));
        }
        return Ok(Some(to.to_owned()));
    }
    maestro_agents::identity::validate_name(to).map_err(|e| bad(format!("`to`: {e}")))?;
    let (ws, root) = match (&p.path, s.agent()) {
        (Some(path), _) => {
            let ws = workspace_of(s.engine.config(), path)?.0;
            (ws.id, ws.root)
        }
        (None, Some(agent)) => (agent.workspace.clone(), agent.workspace_root.clone()),
        (None, None) => {
            return Err(bad(format!(
                "which workspace is `{to}` in? Give a `path` inside it"
            )));
        }
    };
    // Not here: an agent of the same repository on another node of the mesh.
    if s.engine.agents().get(&ws, to).is_err()
        && let Some(mesh) = s.engine.mesh_if_made()
        && let Some(repo) = s.engine.repo_id(&root)
        && let Some((_, there)) = mesh.agent_elsewhere(&repo, to)
    {
        return Ok(Some(maestro_comms::agent_address(&there, to)));
    }
    Ok(Some(maestro_comms::agent_address(&ws, to)))
}

pub(crate) fn inbox(s: &Session, p: MessageInboxParams) -> Answer<MessageInboxResult> {
    let owner = s.address();
    off_loop(&s.engine, move |engine| {
        let limit = p.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
        let page =
            engine
                .post()
                .mailboxes()
                .inbox_page(&owner, !p.all, p.offset, limit, now_ms())?;
        Ok(MessageInboxResult {
            owner,
            messages: page.messages.iter().map(|d| d.info()).collect(),
            total: page.total,
            unread: page.unread,
        })
    })
}

pub(crate) fn read(s: &Session, p: MessageRef) -> Answer<MessageInfo> {
    let reader = s.address();
    off_loop(&s.engine, move |engine| {
        Ok(engine.post().read(&reader, &p.id, unix_now())?.info())
    })
}

pub(crate) fn thread(s: &Session, p: MessageRef) -> Answer<MessageThreadResult> {
    let reader = s.address();
    off_loop(&s.engine, move |engine| {
        let mail = engine.post().mailboxes();
        let one = mail.message(&reader, &p.id)?;
        let thread_id = one
            .signed
            .envelope
            .thread_id
            .clone()
            .unwrap_or_else(|| one.signed.envelope.id.clone());
        let messages = mail
            .thread(&reader, &thread_id)?
            .iter()
            .map(|d| d.info())
            .collect();
        Ok(MessageThreadResult {
            thread_id,
            messages,
        })
    })
}
