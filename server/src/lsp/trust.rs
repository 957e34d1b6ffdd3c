//! A daemon request refused because the repository's config chooses a command the person has not
//! approved (`NOT_TRUSTED`) is answered by asking them with `window/showMessageRequest`, showing
//! the exact command; once allowed, that command is approved and the request sent again.

use super::link::Link;
use maestro_engine::text::{shell_words, visible};
use maestro_protocol::{RpcError, UntrustedCommand, code, method};
use serde_json::{Value, json};
use std::future::Future;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{MessageActionItem, MessageType};

const ALLOW: &str = "Allow and continue";
const NOT_NOW: &str = "Not now";

/// Sends `method` now (in order with everything read before it) and handles a refusal for trust.
pub fn call(
    client: Client,
    link: Link,
    method: &str,
    params: Value,
) -> impl Future<Output = Result<Value, RpcError>> + Send + use<> {
    let first = link.call(method, params.clone());
    let method = method.to_owned();
    async move {
        let refusal = match first.await {
            Err(e) if e.code == code::NOT_TRUSTED => e,
            other => return other,
        };
        let Some(untrusted) = refusal
            .data
            .clone()
            .and_then(|d| serde_json::from_value::<UntrustedCommand>(d).ok())
        else {
            return Err(refusal);
        };
        if !ask(&client, &untrusted).await {
            return Err(refusal);
        }
        link.call(
            method::TRUST_APPROVE,
            json!({"path": untrusted.root, "key": untrusted.key, "command": untrusted.command}),
        )
        .await?;
        link.call(&method, params).await
    }
}

/// Whether the person allowed the command.
async fn ask(client: &Client, c: &UntrustedCommand) -> bool {
    let question = format!(
        "maestro: the repository {} asks to run `{}` {} ({} in {}). Allow this command for this repository?",
        visible(&c.root.display().to_string()),
        shell_words(&c.command),
        c.when,
        c.key,
        visible(&c.file.display().to_string()),
    );
    let item = |title: &str| MessageActionItem {
        title: title.to_owned(),
        properties: Default::default(),
    };
    match client
        .show_message_request(
            MessageType::WARNING,
            question,
            Some(vec![item(ALLOW), item(NOT_NOW)]),
        )
        .await
    {
        Ok(Some(choice)) => choice.title == ALLOW,
        Ok(None) => false,
        Err(e) => {
            tracing::debug!("window/showMessageRequest failed: {e}");
            false
        }
    }
}
