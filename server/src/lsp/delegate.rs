//! The `maestro.agent.delegate` command of the code actions: when agents of the workspace could
//! take the task, the editor's person chooses one (or a new agent) with
//! `window/showMessageRequest`; then the daemon builds the prompt and hands it over.

use super::link::Link;
use maestro_engine::text::uri_to_path;
use maestro_protocol::{AgentInfo, AgentMode, DelegateResult, RpcError, method};
use serde_json::{Value, json};
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{MessageActionItem, MessageType};

/// The command the delegate code actions run.
pub const COMMAND: &str = maestro_protocol::command::AGENT_DELEGATE;

/// The choice that spawns a new agent.
const NEW_AGENT: &str = "New agent";

/// At most this many agents are offered (the most recently active).
const MAX_CHOICES: usize = 8;

pub async fn run(client: Client, link: Link, mut args: Value) -> Result<Value, RpcError> {
    // `newAgent: true`: the editor asked the person already (VS Code's quick pick) and they
    // chose a new agent. A key of this front only: the daemon does not see it.
    let new_agent = args
        .as_object_mut()
        .and_then(|a| a.remove("newAgent"))
        .and_then(|v| v.as_bool())
        == Some(true);
    let chosen_already = new_agent || args.get("agent").is_some() || args.get("name").is_some();
    let path = args
        .pointer("/textDocument/uri")
        .and_then(Value::as_str)
        .and_then(uri_to_path);
    if !chosen_already && let Some(path) = path {
        let agents: Vec<AgentInfo> =
            serde_json::from_value(link.call(method::AGENT_LIST, json!({"path": path})).await?)
                .map_err(RpcError::internal)?;
        let mut free: Vec<AgentInfo> = agents
            .into_iter()
            .filter(|a| !a.state.is_running() || a.mode == AgentMode::Interactive)
            .collect();
        free.sort_by(|a, b| b.updated_at.total_cmp(&a.updated_at));
        free.truncate(MAX_CHOICES);
        if !free.is_empty() {
            let what = match args.get("task").and_then(Value::as_str) {
                Some("fix") => "fix this",
                Some("tests") => "write these tests",
                _ => "take this",
            };
            let item = |title: &str| MessageActionItem {
                title: title.to_owned(),
                properties: Default::default(),
            };
            let mut actions: Vec<MessageActionItem> = free.iter().map(|a| item(&a.name)).collect();
            actions.push(item(NEW_AGENT));
            let answer = client
                .show_message_request(
                    MessageType::INFO,
                    format!("maestro: which agent should {what}?"),
                    Some(actions),
                )
                .await;
            match answer {
                Ok(Some(choice)) if choice.title != NEW_AGENT => {
                    if !free.iter().any(|a| a.name == choice.title) {
                        return Err(RpcError::invalid_params(
                            COMMAND,
                            format!("`{}` was not one of the choices", choice.title),
                        ));
                    }
                    args["agent"] = json!(choice.title);
                }
                Ok(Some(_)) => {}
                // Dismissed: nothing is delegated.
                Ok(None) => return Ok(Value::Null),
                // An editor that cannot ask: a new agent, as when there is no choice.
                Err(e) => tracing::debug!("window/showMessageRequest failed: {e}"),
            }
        }
    }
    let result = super::trust::call(client.clone(), link, method::AGENT_DELEGATE, args).await?;
    if let Ok(r) = serde_json::from_value::<DelegateResult>(result.clone()) {
        let how = if r.spawned {
            "was spawned for it"
        } else {
            "took it"
        };
        client
            .show_message(
                MessageType::INFO,
                format!(
                    "maestro: agent {} {how} ({})",
                    r.agent.name,
                    r.agent.state.as_str()
                ),
            )
            .await;
    }
    Ok(result)
}
