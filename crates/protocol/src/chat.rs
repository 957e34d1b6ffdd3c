//! Group chats and the attention manager: what a client sends and gets back (the orchestration
//! lives in `maestro-comms`, the policy in `maestro-agents`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A chat's participant: an existing agent, or one to start for the chat with `agent` (a CLI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMember {
    pub name: String,
    /// The CLI to start it with when no agent has that name (`claude`, `codex`, …); an existing
    /// agent keeps its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// A chat's bounds; absent ones come from `chat.*` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rounds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_timeout_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
}

/// `maestro/chat.new`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatNewParams {
    /// Any path inside the workspace.
    pub path: PathBuf,
    #[serde(default)]
    pub title: String,
    pub moderator: ChatMember,
    pub participants: Vec<ChatMember>,
    #[serde(default)]
    pub limits: ChatLimits,
}

/// A chat as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatInfo {
    pub id: String,
    pub workspace: String,
    pub title: String,
    pub moderator: String,
    pub participants: Vec<String>,
    /// `open` (idle), `talking` (an exchange runs), `closed`.
    pub state: String,
    pub max_rounds: u32,
    pub turn_timeout_secs: u64,
    pub budget_usd: f64,
    /// Dollars the chat's turns cost so far (turns of unpriced models count nothing).
    pub spent_usd: f64,
    pub created: f64,
    pub entries: u32,
}

/// One thing said in a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatEntry {
    pub seq: u32,
    pub at: f64,
    /// `person`, an agent's name, or `maestro` (its notes).
    pub author: String,
    /// `say` (the person), `route` (the moderator mentioning), `answer` (a participant),
    /// `synthesis` (the moderator's last word), `failed` (a participant that failed or timed
    /// out), `note` (the cap, the budget).
    pub kind: String,
    pub round: u32,
    pub text: String,
}

/// `maestro/chat.say`: the person's message; the answer comes once the exchange started (its
/// entries follow as `maestro/chat` notifications; `wait` answers once it ended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatSayParams {
    pub chat: String,
    pub text: String,
    #[serde(default)]
    pub wait: bool,
}

/// `maestro/chat.log`, `maestro/chat.close`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatRef {
    pub chat: String,
    /// For `log`: entries after this `seq` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatLogResult {
    pub chat: ChatInfo,
    pub entries: Vec<ChatEntry>,
    /// Who is answering now.
    pub thinking: Vec<String>,
}

/// `maestro/chat.list`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatListParams {
    /// The workspace around this path; every workspace's without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub closed: bool,
}

/// `maestro/chat`: an entry was added, who is thinking changed, or the exchange ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatEventParams {
    pub chat: String,
    /// `entry`, `thinking`, `done`, `closed`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<ChatEntry>,
    pub thinking: Vec<String>,
}

/// A question an agent waits on, and how it was decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttentionInfo {
    pub id: String,
    pub workspace: String,
    pub agent: String,
    pub at: f64,
    /// What the agent asks, one line: `Bash: cargo test`, `Edit: src/lib.rs`, or its question.
    pub question: String,
    /// The answers it takes (`Allow`, `Deny`; or the prompt's own).
    pub choices: Vec<String>,
    /// `pending`, `allow`, `deny`, or the answer given.
    pub decision: String,
    /// `rule`, `person`, or empty while pending.
    pub by: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<f64>,
}

/// `maestro/attention.ask` (an agent's tools, for its CLI's permission prompt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttentionAskParams {
    /// The tool the agent wants to use (`Bash`, `Edit`, …).
    pub tool: String,
    /// Its input as the CLI gives it.
    #[serde(default)]
    pub input: serde_json::Value,
}

/// `maestro/attention.answer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttentionAnswerParams {
    pub id: String,
    /// One of the question's choices.
    pub choice: String,
}

/// `maestro/attention.log`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttentionLogParams {
    /// The workspace around this path; every workspace's without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Only the questions still waiting.
    #[serde(default)]
    pub pending: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttentionLogResult {
    pub decisions: Vec<AttentionInfo>,
}

/// `maestro/attention`: a question escalated to the person (`ask`), or answered (`answered`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttentionEventParams {
    pub event: String,
    pub attention: AttentionInfo,
}

/// `maestro/agent.consult`: agent `name` answers a question about an asker's work, in a consult
/// session of its own; the answer also goes to the asker as a message from `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentConsultParams {
    /// Any path inside the workspace (an agent's connection: its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The agent consulted.
    pub name: String,
    pub question: String,
    /// A consult thread to continue (its session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
    /// Whose work it is about (an agent's connection: itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentConsultResult {
    pub thread: String,
    pub consultant: String,
    pub asker: String,
    pub reply: String,
    /// The message that carried the answer to the asker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
