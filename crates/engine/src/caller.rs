//! Who a connection speaks for (ARCHITECTURE.md, "Messages"): an agent, when its hello carries a
//! token the daemon made for that agent or when the process at the other end of the socket was
//! started by that agent's CLI; else the person. The two must agree: a process of agent A cannot
//! speak for agent B with B's token, and a token whose address was changed is not one.

use crate::engine::Engine;
use maestro_protocol::{AgentInfo, CallerAgent, RpcError, code};
use std::collections::HashMap;

/// How many parents are followed from a peer process looking for an agent's CLI.
const MAX_DEPTH: usize = 64;

pub(crate) fn identify(
    engine: &Engine,
    peer: Option<u32>,
    token: Option<&str>,
) -> Result<Option<CallerAgent>, RpcError> {
    let agents = engine.agents().list(None);
    let by_process = peer.and_then(|pid| agent_of_process(pid, &agents));
    let by_token = match token {
        None => None,
        Some(token) => {
            let address = engine
                .post()
                .mailboxes()
                .keys()
                .identify(token)
                .map_err(|e| RpcError::internal(format!("the daemon's key: {e}")))?
                .ok_or_else(|| {
                    RpcError::new(
                        code::INVALID_PARAMS,
                        "refused: the agent token is not one this daemon made (changed, or from \
                         another maestro home)",
                    )
                })?;
            let found = maestro_comms::agent_of(&address)
                .and_then(|(ws, name)| engine.agents().get(ws, name).ok());
            Some(found.ok_or_else(|| {
                RpcError::not_found(format!(
                    "the agent of this token ({address}) no longer exists"
                ))
            })?)
        }
    };
    let agent = match (by_process, by_token) {
        (Some(p), Some(t)) if (&p.workspace, &p.name) != (&t.workspace, &t.name) => {
            return Err(RpcError::new(
                code::INVALID_PARAMS,
                format!(
                    "refused: this connection comes from agent `{}`'s process but presents agent \
                     `{}`'s token",
                    p.name, t.name
                ),
            ));
        }
        (p, t) => p.or(t),
    };
    Ok(agent.map(|a| CallerAgent {
        address: maestro_comms::agent_address(&a.workspace, &a.name),
        name: a.name,
        workspace: a.workspace,
        workspace_root: a.workspace_root,
        worktree: a.worktree,
    }))
}

/// The running agent whose CLI process is `pid` or one of its ancestors.
fn agent_of_process(pid: u32, agents: &[AgentInfo]) -> Option<AgentInfo> {
    let by_pid: HashMap<u32, &AgentInfo> = agents
        .iter()
        .filter_map(|a| a.pid.map(|p| (p, a)))
        .collect();
    if by_pid.is_empty() {
        return None;
    }
    let mut current = pid;
    for _ in 0..MAX_DEPTH {
        if let Some(a) = by_pid.get(&current) {
            return Some((*a).clone());
        }
        current = parent_of(current)?;
        if current <= 1 {
            return None;
        }
    }
    None
}

/// A process's parent, from `/proc/<pid>/stat` (after the command name, which may hold spaces
/// and parentheses: the last `)` ends it).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_parent_is_read_past_a_command_name_with_parentheses() {
        let me = std::process::id();
        let parent = parent_of(me).unwrap();
        assert_eq!(parent, std::os::unix::process::parent_id());
        assert_eq!(parent_of(u32::MAX), None);
    }
}
