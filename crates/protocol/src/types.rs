//! Params and results of the daemon methods, and the events it pushes.

use crate::notification;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// A `maestro` command run by a person or a script.
    Cli,
    /// A `maestro lsp` front serving an editor.
    Lsp,
    /// A `maestro mcp` server serving an agent.
    Mcp,
    Other,
}

/// A client's self-description, sent in `maestro/hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    /// e.g. `maestro-cli`, or the editor's name as the LSP `clientInfo` gave it.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub kind: ClientKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

/// How `Position::character` counts: LSP's negotiated `positionEncoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PositionEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    /// LSP's default.
    #[default]
    #[serde(rename = "utf-16")]
    Utf16,
    #[serde(rename = "utf-32")]
    Utf32,
}

impl PositionEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            PositionEncoding::Utf8 => "utf-8",
            PositionEncoding::Utf16 => "utf-16",
            PositionEncoding::Utf32 => "utf-32",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloParams {
    pub protocol_version: u32,
    pub client: ClientInfo,
    /// The encoding of every position this connection sends.
    #[serde(default)]
    pub position_encoding: PositionEncoding,
    /// An agent's token (its tools' `MAESTRO_AGENT_TOKEN`): the connection speaks for that agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_token: Option<String>,
}

/// Whether the engine runs in the per-user daemon or inside one `maestro lsp --standalone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostMode {
    Daemon,
    Standalone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloResult {
    pub protocol_version: u32,
    /// The daemon's package version.
    pub version: String,
    pub pid: u32,
    pub session_id: u64,
    pub mode: HostMode,
    /// The agent this connection speaks for (from `agentToken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<CallerAgent>,
}

/// The agent a connection speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallerAgent {
    pub address: String,
    pub name: String,
    pub workspace: String,
    pub workspace_root: PathBuf,
    /// Where it works (its worktree, or the checkout).
    pub worktree: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceKind {
    /// The root of a git repository or worktree (it holds `.git`).
    Git,
    /// A folder outside any git repository.
    Folder,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceOpenParams {
    /// Any path inside the workspace; the daemon finds the repository root.
    pub path: PathBuf,
    /// Index the workspace (and watch it) if that has not started yet. Editors and the graph
    /// commands do; `maestro status` only registers.
    #[serde(default = "yes")]
    pub index: bool,
}

fn yes() -> bool {
    true
}

impl WorkspaceOpenParams {
    /// Opens (and indexes) the workspace around `path`.
    pub fn new(path: PathBuf) -> WorkspaceOpenParams {
        WorkspaceOpenParams { path, index: true }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInfo {
    /// Stable id derived from the root path.
    pub id: String,
    pub root: PathBuf,
    pub name: String,
    pub kind: WorkspaceKind,
    /// Why `<root>/.maestro/config.toml` was not applied, if it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
}

/// A position in a document, counted in the connection's [`PositionEncoding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentOpenParams {
    pub uri: String,
    #[serde(default)]
    pub language_id: String,
    pub version: i32,
    pub text: String,
}

/// One edit: replace `range` with `text`, or the whole document when `range` is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentChangeParams {
    pub uri: String,
    /// Must be greater than the document's current version; stale changes are refused.
    pub version: i32,
    pub content_changes: Vec<TextChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentUri {
    pub uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentText {
    pub uri: String,
    pub version: i32,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreBackupParams {
    /// Absolute path of the backup file to write.
    pub path: PathBuf,
    /// Replace an existing file at `path`.
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreBackupResult {
    pub path: PathBuf,
    pub size_bytes: u64,
    pub schema_version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelParams {
    pub id: crate::Id,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStatus {
    /// `None` for an in-memory store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStatus {
    pub session_id: u64,
    pub client: ClientInfo,
    pub connected_secs: f64,
    pub documents: usize,
    /// Ids of the workspaces this session opened.
    pub workspaces: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResult {
    pub version: String,
    pub protocol_version: u32,
    pub mode: HostMode,
    pub pid: u32,
    pub uptime_secs: f64,
    /// The socket clients connect to (`None` in standalone mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<PathBuf>,
    pub store: StoreStatus,
    /// Seconds without clients or work before the daemon exits; 0 = never.
    pub idle_timeout_secs: u64,
    /// Work in progress that keeps the daemon alive.
    pub busy: usize,
    pub sessions: Vec<SessionStatus>,
    /// Workspaces some connected client has open.
    pub workspaces: Vec<WorkspaceInfo>,
    /// Workspaces the store remembers, open or not.
    pub known_workspaces: usize,
}

/// The phases of a piece of long work, shaped like LSP's `WorkDoneProgress` values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProgressValue {
    Begin {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        percentage: Option<u32>,
    },
    Report {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        percentage: Option<u32>,
    },
    End {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressParams {
    /// Unique per piece of work for the daemon's lifetime.
    pub token: String,
    pub value: ProgressValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonShutdownParams {
    pub reason: String,
}

/// Everything the daemon pushes to subscribed clients.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    WorkspaceOpened(WorkspaceInfo),
    Progress(ProgressParams),
    DaemonShutdown(DaemonShutdownParams),
    AgentStatus(Box<crate::AgentStatusParams>),
    AgentOutput(crate::AgentOutputParams),
    PlaybookProgress(Box<crate::PlaybookProgressParams>),
    Message(Box<crate::MessageEventParams>),
    Chat(Box<crate::ChatEventParams>),
    Attention(Box<crate::AttentionEventParams>),
}

impl Event {
    /// The notification method this event travels as.
    pub fn method(&self) -> &'static str {
        match self {
            Event::WorkspaceOpened(_) => notification::WORKSPACE_OPENED,
            Event::Progress(_) => notification::PROGRESS,
            Event::DaemonShutdown(_) => notification::DAEMON_SHUTDOWN,
            Event::AgentStatus(_) => notification::AGENT_STATUS,
            Event::AgentOutput(_) => notification::AGENT_OUTPUT,
            Event::PlaybookProgress(_) => notification::PLAYBOOK_PROGRESS,
            Event::Message(_) => notification::MESSAGE,
            Event::Chat(_) => notification::CHAT,
            Event::Attention(_) => notification::ATTENTION,
        }
    }

    pub fn params(&self) -> Value {
        let v = match self {
            Event::WorkspaceOpened(p) => serde_json::to_value(p),
            Event::Progress(p) => serde_json::to_value(p),
            Event::DaemonShutdown(p) => serde_json::to_value(p),
            Event::AgentStatus(p) => serde_json::to_value(p),
            Event::AgentOutput(p) => serde_json::to_value(p),
            Event::PlaybookProgress(p) => serde_json::to_value(p),
            Event::Message(p) => serde_json::to_value(p),
            Event::Chat(p) => serde_json::to_value(p),
            Event::Attention(p) => serde_json::to_value(p),
        };
        v.expect("event params always serialize")
    }

    /// Reads an event back from a notification. `None` when the method is not an event;
    /// `Some(Err)` when it is but its params are malformed.
    pub fn from_notification(
        method: &str,
        params: Value,
    ) -> Option<Result<Event, serde_json::Error>> {
        Some(match method {
            notification::WORKSPACE_OPENED => {
                serde_json::from_value(params).map(Event::WorkspaceOpened)
            }
            notification::PROGRESS => serde_json::from_value(params).map(Event::Progress),
            notification::DAEMON_SHUTDOWN => {
                serde_json::from_value(params).map(Event::DaemonShutdown)
            }
            notification::AGENT_STATUS => {
                serde_json::from_value(params).map(|p| Event::AgentStatus(Box::new(p)))
            }
            notification::AGENT_OUTPUT => serde_json::from_value(params).map(Event::AgentOutput),
            notification::PLAYBOOK_PROGRESS => {
                serde_json::from_value(params).map(|p| Event::PlaybookProgress(Box::new(p)))
            }
            notification::MESSAGE => {
                serde_json::from_value(params).map(|p| Event::Message(Box::new(p)))
            }
            notification::CHAT => serde_json::from_value(params).map(|p| Event::Chat(Box::new(p))),
            notification::ATTENTION => {
                serde_json::from_value(params).map(|p| Event::Attention(Box::new(p)))
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hello_uses_lsp_style_names_and_defaults_to_utf16() {
        let p: HelloParams = serde_json::from_value(json!({
            "protocolVersion": 1,
            "client": {"name": "vim", "kind": "lsp"}
        }))
        .unwrap();
        assert_eq!(p.position_encoding, PositionEncoding::Utf16);
        let p: HelloParams = serde_json::from_value(json!({
            "protocolVersion": 1,
            "client": {"name": "vim", "kind": "lsp"},
            "positionEncoding": "utf-8"
        }))
        .unwrap();
        assert_eq!(p.position_encoding, PositionEncoding::Utf8);
    }

    #[test]
    fn progress_values_look_like_lsp_work_done_progress() {
        let v = serde_json::to_value(ProgressValue::Begin {
            title: "Backing up".into(),
            message: None,
            percentage: Some(0),
        })
        .unwrap();
        assert_eq!(
            v,
            json!({"kind": "begin", "title": "Backing up", "percentage": 0})
        );
    }

    #[test]
    fn events_round_trip_through_notifications() {
        let events = [
            Event::Progress(ProgressParams {
                token: "t1".into(),
                value: ProgressValue::End {
                    message: Some("done".into()),
                },
            }),
            Event::DaemonShutdown(DaemonShutdownParams {
                reason: "idle".into(),
            }),
            Event::WorkspaceOpened(WorkspaceInfo {
                id: "ab".into(),
                root: "/r".into(),
                name: "r".into(),
                kind: WorkspaceKind::Git,
                config_error: None,
            }),
        ];
        for e in events {
            let back = Event::from_notification(e.method(), e.params())
                .unwrap()
                .unwrap();
            assert_eq!(back, e);
        }
        assert!(Event::from_notification("textDocument/didOpen", Value::Null).is_none());
        assert!(
            Event::from_notification(notification::PROGRESS, json!({"token": 1}))
                .unwrap()
                .is_err()
        );
    }
}
