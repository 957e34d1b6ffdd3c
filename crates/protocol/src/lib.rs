//! The one RPC vocabulary of maestro: method names, their params and results, the events the daemon
//! pushes, and the JSON-RPC envelope. Daemon methods are named like the LSP extension methods, so the
//! LSP front forwards custom requests verbatim.
//!
//! Architecture invariant: serde types and pure functions only, no I/O.
//!
//! ## How it behaves
//!
//! Method-name constants (`method::*` client→daemon, `notification::*` daemon→client), params and results
//! (camelCase on the wire, like LSP), the `Event` enum the daemon pushes, the JSON-RPC envelope (`Message`:
//! request, notification, response) with `Message::parse`, which maps every malformed body to the error that
//! answers it, `parse_params`, which names the offending field (`` `path`: invalid type ``), and the error
//! codes: JSON-RPC's, LSP's (`-32002` not initialized, `-32800` cancelled, `-32801` content modified), and
//! maestro's in the server range (`-32090` protocol mismatch, `-32091` not found, `-32092` store failed,
//! `-32093` config invalid, `-32094` connection lost, `-32095` conflict, `-32096` agent failed, `-32097` a
//! repository command not approved, with the command in `data`).
//!
//! `PROTOCOL_VERSION` is exchanged in `maestro/hello`; a daemon answers a client of another version with
//! `-32090` and a message that says to run `maestro daemon restart`. `maestro/shutdown` is accepted before
//! hello, so a client of any version can stop a daemon of any version.
//!
//! **Architecture invariant:** serde types and pure functions only; no I/O, no LSP types.

mod agents;
mod chat;
mod graph;
pub mod jsonrpc;
mod memory;
mod mesh;
mod messages;
mod playbooks;
mod portable;
pub mod rpc;
mod trust;
mod types;

pub use agents::*;
pub use chat::*;
pub use graph::*;
pub use jsonrpc::{
    Id, Invalid, Message, Notification, Request, Response, RpcError, code, parse_params,
};
pub use memory::*;
pub use mesh::*;
pub use messages::*;
pub use playbooks::*;
pub use portable::*;
pub use trust::*;
pub use types::*;

/// The version of this vocabulary, exchanged in `maestro/hello`. A daemon answers a client of a
/// different version with [`code::PROTOCOL_MISMATCH`]. Bump it on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// Requests and notifications sent by clients to the daemon.
pub mod method {
    /// Request, first on every connection: exchanges protocol versions. [`crate::HelloParams`].
    pub const HELLO: &str = "maestro/hello";
    /// Request: the daemon's state. No params; [`crate::StatusResult`].
    pub const STATUS: &str = "maestro/status";
    /// Request: stop the daemon. Accepted before `hello`, so that any client can stop a daemon of
    /// another protocol version. No params; result `null`.
    pub const SHUTDOWN: &str = "maestro/shutdown";
    /// Request: start receiving events as notifications. No params; result `null`.
    pub const SUBSCRIBE: &str = "maestro/subscribe";
    /// Request: register a workspace (a git repository root or a folder) for this connection.
    /// [`crate::WorkspaceOpenParams`]; [`crate::WorkspaceInfo`].
    pub const WORKSPACE_OPEN: &str = "maestro/workspace.open";
    /// Request: this connection no longer uses a workspace. [`crate::WorkspaceOpenParams`]; `null`.
    pub const WORKSPACE_CLOSE: &str = "maestro/workspace.close";
    /// Notification: an editor opened a document. [`crate::DocumentOpenParams`].
    pub const DOCUMENT_OPEN: &str = "maestro/document.open";
    /// Notification: incremental or full edits to an open document. [`crate::DocumentChangeParams`].
    pub const DOCUMENT_CHANGE: &str = "maestro/document.change";
    /// Notification: an editor closed a document. [`crate::DocumentUri`].
    pub const DOCUMENT_CLOSE: &str = "maestro/document.close";
    /// Request: the daemon's text of an open document. [`crate::DocumentUri`]; [`crate::DocumentText`].
    pub const DOCUMENT_TEXT: &str = "maestro/document.text";
    /// Request: write a consistent copy of the store to a file. [`crate::StoreBackupParams`];
    /// [`crate::StoreBackupResult`].
    pub const STORE_BACKUP: &str = "maestro/store.backup";
    /// Notification: cancel a request by id (LSP's). [`crate::CancelParams`].
    pub const CANCEL_REQUEST: &str = "$/cancelRequest";

    /// Request: index the workspace around a path now; answers when done, reporting progress
    /// meanwhile. [`crate::IndexParams`]; [`crate::IndexResult`].
    pub const INDEX: &str = "maestro/index";

    // The code graph. Params and results have the shapes of the LSP requests of the same meaning,
    // so the LSP front forwards them verbatim.
    /// [`crate::TextDocumentPositionParams`]; `Location[]`.
    pub const GRAPH_DEFINITION: &str = "maestro/graph.definition";
    /// [`crate::ReferenceParams`]; `Location[]`.
    pub const GRAPH_REFERENCES: &str = "maestro/graph.references";
    /// [`crate::TextDocumentPositionParams`]; [`crate::HoverResult`] or `null`.
    pub const GRAPH_HOVER: &str = "maestro/graph.hover";
    /// [`crate::TextDocumentPositionParams`]; `DocumentHighlight[]`.
    pub const GRAPH_HIGHLIGHT: &str = "maestro/graph.highlight";
    /// [`crate::DocumentUri`] (as `textDocument`); `DocumentSymbol[]` (hierarchical).
    pub const GRAPH_DOCUMENT_SYMBOLS: &str = "maestro/graph.documentSymbols";
    /// [`crate::WorkspaceSymbolParams`]; `WorkspaceSymbol[]`.
    pub const GRAPH_WORKSPACE_SYMBOLS: &str = "maestro/graph.workspaceSymbols";
    /// [`crate::TextDocumentPositionParams`]; `CallHierarchyItem[]`.
    pub const GRAPH_CALL_PREPARE: &str = "maestro/graph.callHierarchy.prepare";
    /// [`crate::CallHierarchyParams`]; `CallHierarchyIncomingCall[]`.
    pub const GRAPH_CALL_INCOMING: &str = "maestro/graph.callHierarchy.incoming";
    /// [`crate::CallHierarchyParams`]; `CallHierarchyOutgoingCall[]`.
    pub const GRAPH_CALL_OUTGOING: &str = "maestro/graph.callHierarchy.outgoing";
    /// Symbols by name for people and agents: [`crate::SymbolLookupParams`]; `WorkspaceSymbol[]`.
    pub const GRAPH_LOOKUP: &str = "maestro/graph.lookup";
    /// A read-only Datalog query on the store: [`crate::GraphQueryParams`]; [`crate::GraphQueryResult`].
    pub const GRAPH_QUERY: &str = "maestro/graph.query";

    // Agents. An agent is named by `name` plus any `path` inside its workspace.
    /// [`crate::AgentSpawnParams`]; [`crate::AgentInfo`].
    pub const AGENT_SPAWN: &str = "maestro/agent.spawn";
    /// A new turn, or input for a turn that waits for it. [`crate::AgentSendParams`]; [`crate::AgentInfo`].
    pub const AGENT_SEND: &str = "maestro/agent.send";
    /// A person's review of its changes as its next turn. [`crate::AgentReviewParams`];
    /// [`crate::AgentInfo`].
    pub const AGENT_REVIEW: &str = "maestro/agent.review";
    /// Kill the running turn (the process group); the agent becomes `done`. [`crate::AgentRef`];
    /// [`crate::AgentInfo`].
    pub const AGENT_STOP: &str = "maestro/agent.stop";
    /// [`crate::AgentListParams`]; [`crate::AgentInfo`]`[]`.
    pub const AGENT_LIST: &str = "maestro/agent.list";
    /// [`crate::AgentRef`]; [`crate::AgentInfo`].
    pub const AGENT_STATUS: &str = "maestro/agent.status";
    /// A range of the agent's output. [`crate::AgentOutputRequest`]; [`crate::AgentOutputResult`].
    pub const AGENT_OUTPUT: &str = "maestro/agent.output";
    /// [`crate::AgentRef`]; [`crate::AgentDiffResult`].
    pub const AGENT_DIFF: &str = "maestro/agent.diff";
    /// Merge the agent's branch into its base. [`crate::AgentRef`]; [`crate::AgentMergeResult`].
    pub const AGENT_MERGE: &str = "maestro/agent.merge";
    /// Forget the agent and remove its worktree. [`crate::AgentRemoveParams`];
    /// [`crate::AgentRemoveResult`].
    pub const AGENT_REMOVE: &str = "maestro/agent.remove";
    /// An agent's terminal for a client: its screen and the offset it stands for.
    /// [`crate::AgentAttachParams`]; [`crate::AgentAttachResult`].
    pub const AGENT_ATTACH: &str = "maestro/agent.attach";
    /// Keystrokes for an interactive agent. [`crate::AgentInputParams`]; `null`.
    pub const AGENT_INPUT: &str = "maestro/agent.input";
    /// The attached window's size. [`crate::AgentResizeParams`]; `null`.
    pub const AGENT_RESIZE: &str = "maestro/agent.resize";
    /// An agent name's colour and identicon. [`crate::AgentIconParams`]; [`crate::AgentIconResult`].
    pub const AGENT_ICON: &str = "maestro/agent.icon";
    /// An agent as an archive. [`crate::AgentExportParams`]; [`crate::AgentExportResult`].
    pub const AGENT_EXPORT: &str = "maestro/agent.export";
    /// An agent from an archive. [`crate::AgentImportParams`]; [`crate::AgentInfo`].
    pub const AGENT_IMPORT: &str = "maestro/agent.import";
    /// A new agent from another's current point. [`crate::AgentForkParams`]; [`crate::AgentInfo`].
    pub const AGENT_FORK: &str = "maestro/agent.fork";
    /// Keeps an agent's point. [`crate::AgentSnapshotParams`]; [`crate::SnapshotInfo`].
    pub const AGENT_SNAPSHOT: &str = "maestro/agent.snapshot";
    /// An agent's snapshots. [`crate::AgentRef`]; [`crate::SnapshotInfo`]`[]`.
    pub const AGENT_SNAPSHOTS: &str = "maestro/agent.snapshots";
    /// An agent back at a snapshot. [`crate::AgentRollbackParams`];
    /// [`crate::AgentRollbackResult`].
    pub const AGENT_ROLLBACK: &str = "maestro/agent.rollback";
    /// An agent moved to another node. [`crate::AgentTransferParams`]; [`crate::AgentInfo`].
    pub const AGENT_TRANSFER: &str = "maestro/agent.transfer";
    /// A task about a range of a document, given to an agent with its code and context.
    /// [`crate::DelegateParams`]; [`crate::DelegateResult`].
    pub const AGENT_DELEGATE: &str = "maestro/agent.delegate";
    /// The code actions at a range (LSP `textDocument/codeAction` params and answer).
    pub const CODE_ACTIONS: &str = "maestro/codeActions";
    /// Tokens and dollars. [`crate::UsageParams`]; [`crate::UsageResult`].
    pub const USAGE: &str = "maestro/usage";
    /// Starts a playbook run (or plans one). [`crate::PlaybookRunParams`];
    /// [`crate::PlaybookRunResult`].
    pub const PLAYBOOK_RUN: &str = "maestro/playbook.run";
    /// Runs, newest first. [`crate::PlaybookRunRef`]; [`crate::PlaybookStatusResult`].
    pub const PLAYBOOK_STATUS: &str = "maestro/playbook.status";
    /// Stops a run (its running turn is killed). [`crate::PlaybookRunRef`];
    /// [`crate::PlaybookRunInfo`].
    pub const PLAYBOOK_STOP: &str = "maestro/playbook.stop";
    /// Pauses a run after its running turn. [`crate::PlaybookRunRef`]; [`crate::PlaybookRunInfo`].
    pub const PLAYBOOK_PAUSE: &str = "maestro/playbook.pause";
    /// Resumes a paused, stopped, halted or failed run. [`crate::PlaybookRunRef`];
    /// [`crate::PlaybookRunInfo`].
    pub const PLAYBOOK_RESUME: &str = "maestro/playbook.resume";
    /// Approves the review gate a run waits at. [`crate::PlaybookRunRef`];
    /// [`crate::PlaybookRunInfo`].
    pub const PLAYBOOK_APPROVE: &str = "maestro/playbook.approve";
    /// A run's events. [`crate::PlaybookRunRef`]; [`crate::PlaybookHistoryResult`].
    pub const PLAYBOOK_HISTORY: &str = "maestro/playbook.history";
    /// Problems and open tasks of a markdown document. [`crate::PlaybookLintParams`];
    /// [`crate::PlaybookLintResult`].
    pub const PLAYBOOK_LINT: &str = "maestro/playbook.lint";
    /// Code lenses of a markdown document ("Run task", "Run from here" on each open task): LSP
    /// `textDocument/codeLens` params and answer.
    pub const PLAYBOOK_CODE_LENS: &str = "maestro/playbook.codeLens";
    /// Remembers a note. [`crate::MemoryAddParams`]; [`crate::MemoryAddResult`].
    pub const MEMORY_ADD: &str = "maestro/memory.add";
    /// Hybrid search (keywords fused with vectors). [`crate::MemorySearchParams`];
    /// [`crate::MemorySearchResult`].
    pub const MEMORY_SEARCH: &str = "maestro/memory.search";
    /// Newest memories. [`crate::MemoryListParams`]; [`crate::MemoryListResult`].
    pub const MEMORY_LIST: &str = "maestro/memory.list";
    /// Forgets memories. [`crate::MemoryForgetParams`]; [`crate::MemoryForgetResult`].
    pub const MEMORY_FORGET: &str = "maestro/memory.forget";
    /// The background worker's state and the model's. `null`; [`crate::MemoryStatusResult`].
    pub const MEMORY_STATUS: &str = "maestro/memory.status";
    /// Imports agent CLIs' transcripts. [`crate::MemoryImportParams`]; [`crate::MemoryImportResult`].
    pub const MEMORY_IMPORT: &str = "maestro/memory.import";
    /// Sends a message as the connection's owner. [`crate::MessageSendParams`];
    /// [`crate::MessageInfo`].
    pub const MESSAGE_SEND: &str = "maestro/message.send";
    /// The connection owner's messages. [`crate::MessageInboxParams`];
    /// [`crate::MessageInboxResult`].
    pub const MESSAGE_INBOX: &str = "maestro/message.inbox";
    /// One message, marked read for its recipient. [`crate::MessageRef`]; [`crate::MessageInfo`].
    pub const MESSAGE_READ: &str = "maestro/message.read";
    /// The thread of a message. [`crate::MessageRef`]; [`crate::MessageThreadResult`].
    pub const MESSAGE_THREAD: &str = "maestro/message.thread";
    /// Asks an agent about another's work, in a consult session of its own.
    /// [`crate::AgentConsultParams`]; [`crate::AgentConsultResult`].
    pub const AGENT_CONSULT: &str = "maestro/agent.consult";
    /// Starts a group chat. [`crate::ChatNewParams`]; [`crate::ChatInfo`].
    pub const CHAT_NEW: &str = "maestro/chat.new";
    /// The person's message to a chat's moderator. [`crate::ChatSayParams`]; [`crate::ChatLogResult`].
    pub const CHAT_SAY: &str = "maestro/chat.say";
    /// A chat's transcript. [`crate::ChatRef`]; [`crate::ChatLogResult`].
    pub const CHAT_LOG: &str = "maestro/chat.log";
    /// Chats, newest first. [`crate::ChatListParams`]; [`crate::ChatInfo`]`[]`.
    pub const CHAT_LIST: &str = "maestro/chat.list";
    /// Closes a chat (a running exchange is stopped). [`crate::ChatRef`]; [`crate::ChatInfo`].
    pub const CHAT_CLOSE: &str = "maestro/chat.close";
    /// An agent's permission prompt, decided by the policy or the person (answers once decided).
    /// [`crate::AttentionAskParams`]; [`crate::AttentionInfo`].
    pub const ATTENTION_ASK: &str = "maestro/attention.ask";
    /// The person's answer to an escalated question. [`crate::AttentionAnswerParams`];
    /// [`crate::AttentionInfo`].
    pub const ATTENTION_ANSWER: &str = "maestro/attention.answer";
    /// Decisions, newest first. [`crate::AttentionLogParams`]; [`crate::AttentionLogResult`].
    pub const ATTENTION_LOG: &str = "maestro/attention.log";
    /// Joins the mesh of `mesh.urls` (and joins again whenever the daemon starts, until
    /// `leave`). No params; [`crate::MeshMembership`].
    pub const MESH_JOIN: &str = "maestro/mesh.join";
    /// Leaves the mesh: this node's record and its agents' directory entries are removed at once.
    /// No params; [`crate::MeshMembership`].
    pub const MESH_LEAVE: &str = "maestro/mesh.leave";
    /// This node's membership. No params; [`crate::MeshMembership`].
    pub const MESH_STATUS: &str = "maestro/mesh.status";
    /// The nodes of the mesh, live and gone. No params; [`crate::NodeInfo`]`[]`.
    pub const MESH_NODES: &str = "maestro/mesh.nodes";
    /// Puts a playbook's open tasks on the mesh's work queue. [`crate::MeshRunParams`];
    /// [`crate::MeshRunInfo`].
    pub const MESH_RUN: &str = "maestro/mesh.run";
    /// The distributed runs this node started. No params; [`crate::MeshRunInfo`]`[]`.
    pub const MESH_RUNS: &str = "maestro/mesh.runs";
    /// Between nodes: an agent's archive to take in (a transfer). [`crate::MeshReceiveParams`];
    /// [`crate::AgentInfo`].
    pub const MESH_RECEIVE: &str = "maestro/mesh.receive";
    /// The commands a repository's config chooses and whether each is approved.
    /// [`crate::TrustListParams`]; [`crate::TrustListResult`].
    pub const TRUST_LIST: &str = "maestro/trust.list";
    /// Approves one, exactly as shown. [`crate::TrustApproveParams`]; [`crate::TrustListResult`].
    pub const TRUST_APPROVE: &str = "maestro/trust.approve";
    /// Forgets approvals. [`crate::TrustRevokeParams`]; [`crate::TrustListResult`].
    pub const TRUST_REVOKE: &str = "maestro/trust.revoke";

    /// Requests that change nothing: a client may send them again when the connection broke
    /// before the answer came (declared with each method in [`crate::rpc`]).
    pub use crate::rpc::READ_ONLY;
}

/// LSP commands the daemon names in its answers (most commands are the LSP front's own routing).
pub mod command {
    /// Runs a delegate code action: [`crate::DelegateParams`] as its one argument.
    pub const AGENT_DELEGATE: &str = "maestro.agent.delegate";
    /// Starts a playbook run: [`crate::PlaybookRunParams`] as its one argument (code lenses and
    /// the "Run this playbook" code action).
    pub const PLAYBOOK_RUN: &str = "maestro.playbook.run";
    /// Approves the review gate a run waits at: [`crate::PlaybookRunRef`] as its one argument
    /// (the "Approve" code lens on the gate's task).
    pub const PLAYBOOK_APPROVE: &str = "maestro.playbook.approve";
}

/// Notifications the daemon sends to subscribed clients. The LSP front relays them to the editor
/// under the same names (progress becomes LSP `$/progress`).
pub mod notification {
    /// A workspace was opened by some client. [`crate::WorkspaceInfo`].
    pub const WORKSPACE_OPENED: &str = "maestro/workspaceOpened";
    /// Long work began, advanced or ended. [`crate::ProgressParams`].
    pub const PROGRESS: &str = "maestro/progress";
    /// An agent changed state. [`crate::AgentStatusParams`].
    pub const AGENT_STATUS: &str = "maestro/agentStatus";
    /// An agent printed something (batched). [`crate::AgentOutputParams`].
    pub const AGENT_OUTPUT: &str = "maestro/agentOutput";
    /// Something happened in a playbook run. [`crate::PlaybookProgressParams`].
    pub const PLAYBOOK_PROGRESS: &str = "maestro/playbookProgress";
    /// A message was sent or read. [`crate::MessageEventParams`].
    pub const MESSAGE: &str = "maestro/message";
    /// A chat's entry, who is thinking, its end. [`crate::ChatEventParams`].
    pub const CHAT: &str = "maestro/chat";
    /// A question escalated to the person, or answered. [`crate::AttentionEventParams`].
    pub const ATTENTION: &str = "maestro/attention";
    /// The daemon is about to exit. [`crate::DaemonShutdownParams`].
    pub const DAEMON_SHUTDOWN: &str = "maestro/daemonShutdown";
}
