//! Following an agent from the CLI: its status and output events, the transcript from an
//! offset, and how they are printed (shared by `maestro agent … --wait`, `agent logs -f` and
//! `agent attach`).

use super::print_json;
use crate::client::{ClientError, Connected};
use maestro_agents::output::Plain;
use maestro_engine::text::printable;
use maestro_protocol::{
    AgentInfo, AgentMode, AgentOutputParams, AgentOutputResult, AgentState, AgentStatusParams,
    Event, method,
};
use serde_json::{Value, json};

/// An error as the person should read it: the daemon's message, without the method's name.
pub(super) fn plain(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<ClientError>() {
        Ok(ClientError::Rpc { error, .. }) => anyhow::anyhow!("{}", error.message),
        Ok(other) => other.into(),
        Err(e) => e,
    }
}

pub(super) async fn subscribe(c: &Connected) -> anyhow::Result<()> {
    c.client
        .request::<_, Value>(method::SUBSCRIBE, json!({}))
        .await?;
    Ok(())
}

/// Exit code of `--wait` for a turn that ended with warnings (denied tools, failed commands,
/// uncommitted work); 1 is a failed or lost turn.
pub(super) const EXIT_WARNED: i32 = 3;

/// Prints the agent's output until its turn ends; exit code 1 when it failed, 3 when it ended
/// with warnings.
pub(super) async fn follow_turn(
    c: &mut Connected,
    info: &AgentInfo,
    from: u64,
    json: bool,
) -> anyhow::Result<i32> {
    // The state first, then the output: a turn's output is all written before its state leaves
    // `working`, so a turn already over is fully in what is fetched next.
    let now = status_of(c, info).await?;
    // Output written before the subscription took effect is fetched, not lost.
    let early = output_of(c, info, 0, None).await?;
    let early_text = split_at_offset(&early, from).1;
    match plain_for(info, json) {
        Some(mut p) => emit_text(&p.push(early_text), json),
        None => emit_text(early_text, json),
    }
    let end = early.end.max(from);
    let last = if now.state.is_running() {
        stream(c, info, end, json, false).await?
    } else {
        now
    };
    if json {
        print_json(&json!({"event": "turn_end", "agent": last}));
    } else {
        println!("{}: {}", last.name, printable(&state_text(&last)));
    }
    Ok(match last.state {
        AgentState::Failed | AgentState::Lost => 1,
        _ if !last.warnings.is_empty() => EXIT_WARNED,
        _ => 0,
    })
}

pub(super) fn split_at_offset(out: &AgentOutputResult, from: u64) -> (u64, &str) {
    let skip = from.saturating_sub(out.offset) as usize;
    let mut at = skip.min(out.data.len());
    while !out.data.is_char_boundary(at) {
        at += 1;
    }
    (from, &out.data[at..])
}

/// The params naming `info`'s agent: its name, its workspace and, in a mesh, its node.
pub(super) fn agent_at(info: &AgentInfo) -> Value {
    let mut at = json!({"name": info.name, "path": info.workspace_root});
    if let Some(node) = &info.node {
        at["node"] = json!(node);
    }
    at
}

/// The agent's state now.
pub(super) async fn status_of(c: &Connected, info: &AgentInfo) -> anyhow::Result<AgentInfo> {
    Ok(c.client
        .request(method::AGENT_STATUS, agent_at(info))
        .await?)
}

/// The agent's output from `offset` (at most `limit` bytes).
pub(super) async fn output_of(
    c: &Connected,
    info: &AgentInfo,
    offset: u64,
    limit: Option<u64>,
) -> anyhow::Result<AgentOutputResult> {
    let mut params = agent_at(info);
    params["offset"] = json!(offset);
    if let Some(limit) = limit {
        params["limit"] = json!(limit);
    }
    Ok(c.client.request(method::AGENT_OUTPUT, params).await?)
}

/// Where a client is in one agent's output: a batch past it means a gap (a slow client missed a
/// batch), fetched from the daemon's buffer first; what a batch repeats is cut.
pub(super) struct Follow {
    pub offset: u64,
}

impl Follow {
    /// Hands `out` the new part of the batch at `at` (after the gap before it, if any).
    pub async fn batch(
        &mut self,
        c: &Connected,
        info: &AgentInfo,
        at: u64,
        data: &str,
        out: &mut impl FnMut(&str),
    ) -> anyhow::Result<()> {
        if at > self.offset {
            let gap = output_of(c, info, self.offset, Some(at - self.offset)).await?;
            out(&gap.data);
        }
        if at + data.len() as u64 > self.offset {
            let mut cut = (self.offset.saturating_sub(at) as usize).min(data.len());
            while !data.is_char_boundary(cut) {
                cut += 1;
            }
            out(&data[cut..]);
            self.offset = at + data.len() as u64;
        }
        Ok(())
    }

    /// Hands `out` everything after the offset (output batched just before the end).
    pub async fn rest(
        &mut self,
        c: &Connected,
        info: &AgentInfo,
        out: &mut impl FnMut(&str),
    ) -> anyhow::Result<()> {
        let rest = output_of(c, info, self.offset, None).await?;
        out(&rest.data);
        self.offset = rest.end;
        Ok(())
    }
}

/// An event about this agent: its output or its state.
pub(super) enum AgentEvent {
    Output { at: u64, data: String },
    Status(Box<AgentInfo>),
}

/// `n` if it is about `info`'s agent.
pub(super) fn event_of(info: &AgentInfo, n: maestro_protocol::Notification) -> Option<AgentEvent> {
    match Event::from_notification(&n.method, n.params)? {
        Ok(Event::AgentOutput(AgentOutputParams {
            workspace,
            name,
            offset,
            data,
            node,
        })) if workspace == info.workspace
            && name == info.name
            && (node.is_none() || node == info.node) =>
        {
            Some(AgentEvent::Output { at: offset, data })
        }
        Ok(Event::AgentStatus(s))
            if s.agent.workspace == info.workspace
                && s.agent.name == info.name
                && (s.agent.node.is_none() || s.agent.node == info.node) =>
        {
            let AgentStatusParams { agent, .. } = *s;
            Some(AgentEvent::Status(Box::new(agent)))
        }
        _ => None,
    }
}

/// Prints the agent's output events from `offset`; returns the agent when its turn is over
/// (or, with `forever`, when the connection ends).
pub(super) async fn stream(
    c: &mut Connected,
    info: &AgentInfo,
    offset: u64,
    json: bool,
    forever: bool,
) -> anyhow::Result<AgentInfo> {
    let mut last = info.clone();
    let mut follow = Follow { offset };
    let mut plain = plain_for(info, json);
    let mut print = |text: &str| match &mut plain {
        Some(p) => emit_text(&p.push(text), json),
        None => emit_text(text, json),
    };
    while let Some(n) = c.events.recv().await {
        match event_of(info, n) {
            Some(AgentEvent::Output { at, data }) => {
                follow.batch(c, info, at, &data, &mut print).await?;
            }
            Some(AgentEvent::Status(agent)) => {
                if json {
                    print_json(&json!({"event": "status", "agent": agent}));
                }
                let over = !agent.state.is_running();
                last = *agent;
                if over && !forever {
                    follow.rest(c, info, &mut print).await?;
                    return Ok(last);
                }
            }
            None => {}
        }
    }
    Ok(last)
}

/// The filter of an interactive agent's output printed for people (JSON gets it as it is).
pub(super) fn plain_for(info: &AgentInfo, json: bool) -> Option<Plain> {
    (info.mode == AgentMode::Interactive && !json).then(Plain::default)
}

pub(super) fn emit_text(text: &str, json: bool) {
    if text.is_empty() {
        return;
    }
    if json {
        print_json(&json!({"event": "output", "data": text}));
    } else {
        use std::io::Write;
        print!("{text}");
        let _ = std::io::stdout().flush();
    }
}

pub(super) fn last_lines(text: &str, n: usize) -> &str {
    let mut count = 0;
    for (i, b) in text.bytes().enumerate().rev() {
        if b == b'\n' && i + 1 < text.len() {
            count += 1;
            if count == n {
                return &text[i + 1..];
            }
        }
    }
    text
}

pub(super) fn state_text(info: &AgentInfo) -> String {
    match &info.reason {
        Some(r) => format!("{} — {r}", info.state.as_str()),
        None => info.state.as_str().to_owned(),
    }
}
