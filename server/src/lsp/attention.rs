//! A question an agent waits on, escalated to the person (`maestro/attention` with `ask`): the
//! front asks with `window/showMessageRequest`, the question's choices as the buttons, and
//! answers with the one picked. Every editor asks; the first answer counts, the others find it
//! answered. A question with no choices (a printed prompt that names none) is only shown: its
//! answer is text, given with `maestro attention answer ID TEXT`.

use super::link::Link;
use maestro_engine::text::visible;
use maestro_protocol::{AttentionInfo, method};
use serde_json::json;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{MessageActionItem, MessageType};

pub fn ask(client: Client, link: Link, q: AttentionInfo) {
    tokio::spawn(async move {
        let question = format!(
            "maestro: agent {} asks: {} ({})",
            visible(&q.agent),
            visible(&q.question),
            visible(&q.reason)
        );
        if q.choices.is_empty() {
            let told = format!(
                "{question}. Answer it with `maestro attention answer {} TEXT`.",
                q.id
            );
            client.show_message(MessageType::WARNING, told).await;
            return;
        }
        let items = q
            .choices
            .iter()
            .map(|c| MessageActionItem {
                title: c.clone(),
                properties: Default::default(),
            })
            .collect();
        let choice = match client
            .show_message_request(MessageType::WARNING, question, Some(items))
            .await
        {
            Ok(Some(choice)) => choice.title,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!("window/showMessageRequest failed: {e}");
                return;
            }
        };
        let answered = link
            .call(
                method::ATTENTION_ANSWER,
                json!({"id": q.id, "choice": choice}),
            )
            .await;
        if let Err(e) = answered {
            // Another editor (or the terminal) answered first.
            tracing::debug!(id = q.id, "the answer was not taken: {}", e.message);
        }
    });
}
