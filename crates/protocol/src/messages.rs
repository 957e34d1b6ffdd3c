//! Messages between agents and the person: what a client sends and gets back (the envelope and
//! its signing live in `maestro-comms`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

/// How urgent a message is; `high` and `urgent` wake an idle agent by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessagePriority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

/// What a message is (AMP's types); a `request` asks for an answer and wakes an idle agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Request,
    Response,
    #[default]
    Notification,
    Alert,
    Task,
    Status,
    Handoff,
    Ack,
}

/// `maestro/message.send`. The sender is the connection's owner: an agent's tools speak for that
/// agent, any other connection for the person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSendParams {
    /// The workspace around this path names the recipient (an agent's own when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// An agent's name in that workspace, `person`, or a full address
    /// (`agent:<workspace id>/<name>`, `person:<name>`).
    pub to: String,
    #[serde(default)]
    pub subject: String,
    /// The message's text (its payload is `{"text": …}`), unless `payload` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(default)]
    pub priority: MessagePriority,
    /// Default `notification`; a reply defaults to `response`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageKind>,
    /// A message the sender received or sent: this one answers it, in its thread (and goes to
    /// its other party when `to` is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
}

/// A message as a client shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageInfo {
    pub id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub priority: MessagePriority,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Unix milliseconds.
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The text of the payload (`payload.text`, a string payload, else the payload as JSON).
    pub text: String,
    pub payload: Value,
    /// Unix seconds, once its recipient read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<f64>,
    /// Unix seconds, once a turn of its recipient carried it and ended well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<f64>,
    /// The sender's signature was checked against its key (every message shown is).
    pub verified: bool,
}

/// `maestro/message.inbox`: what was sent to the connection's owner, newest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageInboxParams {
    /// Read ones too.
    #[serde(default)]
    pub all: bool,
    /// At most this many (default 20, at most 200), after `offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(default)]
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageInboxResult {
    /// Who the inbox is of.
    pub owner: String,
    pub messages: Vec<MessageInfo>,
    /// How many matched before `limit` and `offset`.
    pub total: usize,
    pub unread: usize,
}

/// `maestro/message.read` (marks it read for its recipient) and `maestro/message.thread` (the
/// thread it belongs to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRef {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageThreadResult {
    pub thread_id: String,
    pub messages: Vec<MessageInfo>,
}

/// `maestro/message`: a message was sent or read (a read receipt), to subscribed clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEventParams {
    /// `sent` or `read`.
    pub event: String,
    pub message: MessageInfo,
}
