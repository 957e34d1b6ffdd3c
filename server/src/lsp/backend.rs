//! The language server: LSP lifecycle through tower-lsp-server, everything else forwarded to the engine.
//!
//! Document sync and forwarded requests are not handled by tower's handlers but by
//! [`Shared::intercept_notification`] and [`Shared::intercept_request`], which the transport calls
//! synchronously in read order; see `transport.rs`.

use super::link::{Link, Target};
use crate::instance::{InstanceLock, Role};
use futures::FutureExt;
use futures::future::BoxFuture;
use maestro_engine::{Config, Engine, EngineOptions, HostInfo, Paths, StoreLocation};
use maestro_protocol::{
    ClientInfo, ClientKind, DocumentChangeParams, DocumentOpenParams, Event, HostMode,
    Notification, PositionEncoding, ProgressParams, ProgressValue, RpcError, TextChange, code,
    method,
};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;
use tower::Service;
use tower_lsp_server::jsonrpc::{self, ErrorCode};
use tower_lsp_server::ls_types::notification::Progress;
use tower_lsp_server::ls_types::request::WorkDoneProgressCreate;
use tower_lsp_server::ls_types::{
    CallHierarchyServerCapability, CodeActionKind, CodeActionOptions, CodeActionProviderCapability,
    DidChangeTextDocumentParams, DidChangeWorkspaceFoldersParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, ExecuteCommandOptions, ExecuteCommandParams,
    HoverProviderCapability, InitializeParams, InitializeResult, InitializedParams, MessageType,
    NumberOrString, OneOf, PositionEncodingKind, ProgressParamsValue, ServerCapabilities,
    ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions, Uri,
    WorkDoneProgress, WorkDoneProgressBegin, WorkDoneProgressCreateParams, WorkDoneProgressEnd,
    WorkDoneProgressReport, WorkspaceFoldersServerCapabilities, WorkspaceServerCapabilities,
};
use tower_lsp_server::{Client, LanguageServer, ls_types};

/// `workspace/executeCommand` routing: each command calls the daemon method of the same name
/// (`maestro.x.y` → `maestro/x.y`) with the command's first argument as params.
pub const COMMANDS: &[(&str, &str)] = &[
    ("maestro.status", method::STATUS),
    ("maestro.store.backup", method::STORE_BACKUP),
    ("maestro.agent.spawn", method::AGENT_SPAWN),
    ("maestro.agent.send", method::AGENT_SEND),
    ("maestro.agent.review", method::AGENT_REVIEW),
    ("maestro.agent.stop", method::AGENT_STOP),
    ("maestro.agent.list", method::AGENT_LIST),
    ("maestro.agent.status", method::AGENT_STATUS),
    ("maestro.agent.output", method::AGENT_OUTPUT),
    ("maestro.agent.diff", method::AGENT_DIFF),
    ("maestro.agent.merge", method::AGENT_MERGE),
    ("maestro.agent.remove", method::AGENT_REMOVE),
    ("maestro.agent.attach", method::AGENT_ATTACH),
    ("maestro.agent.input", method::AGENT_INPUT),
    ("maestro.agent.resize", method::AGENT_RESIZE),
    (super::delegate::COMMAND, method::AGENT_DELEGATE),
    ("maestro.agent.icon", method::AGENT_ICON),
    ("maestro.usage", method::USAGE),
    (
        maestro_protocol::command::PLAYBOOK_RUN,
        method::PLAYBOOK_RUN,
    ),
    ("maestro.playbook.status", method::PLAYBOOK_STATUS),
    ("maestro.playbook.stop", method::PLAYBOOK_STOP),
    ("maestro.playbook.pause", method::PLAYBOOK_PAUSE),
    ("maestro.playbook.resume", method::PLAYBOOK_RESUME),
    (
        maestro_protocol::command::PLAYBOOK_APPROVE,
        method::PLAYBOOK_APPROVE,
    ),
    ("maestro.playbook.history", method::PLAYBOOK_HISTORY),
    ("maestro.memory.search", method::MEMORY_SEARCH),
    ("maestro.memory.add", method::MEMORY_ADD),
    ("maestro.memory.list", method::MEMORY_LIST),
    ("maestro.memory.forget", method::MEMORY_FORGET),
    ("maestro.memory.status", method::MEMORY_STATUS),
    ("maestro.trust.list", method::TRUST_LIST),
    ("maestro.trust.approve", method::TRUST_APPROVE),
    ("maestro.trust.revoke", method::TRUST_REVOKE),
    ("maestro.message.send", method::MESSAGE_SEND),
    ("maestro.message.inbox", method::MESSAGE_INBOX),
    ("maestro.message.read", method::MESSAGE_READ),
    ("maestro.message.thread", method::MESSAGE_THREAD),
    ("maestro.agent.consult", method::AGENT_CONSULT),
    ("maestro.chat.new", method::CHAT_NEW),
    ("maestro.chat.say", method::CHAT_SAY),
    ("maestro.chat.log", method::CHAT_LOG),
    ("maestro.chat.list", method::CHAT_LIST),
    ("maestro.chat.close", method::CHAT_CLOSE),
    ("maestro.attention.log", method::ATTENTION_LOG),
    ("maestro.attention.answer", method::ATTENTION_ANSWER),
    ("maestro.agent.export", method::AGENT_EXPORT),
    ("maestro.agent.import", method::AGENT_IMPORT),
    ("maestro.agent.fork", method::AGENT_FORK),
    ("maestro.agent.snapshot", method::AGENT_SNAPSHOT),
    ("maestro.agent.snapshots", method::AGENT_SNAPSHOTS),
    ("maestro.agent.rollback", method::AGENT_ROLLBACK),
    ("maestro.agent.transfer", method::AGENT_TRANSFER),
];

/// Daemon requests that belong to the front's own connection (its hello, workspaces, events and
/// shutdown): an editor does not send them.
const CONNECTION_ONLY: &[&str] = &[
    method::HELLO,
    method::SHUTDOWN,
    method::SUBSCRIBE,
    method::WORKSPACE_OPEN,
    method::WORKSPACE_CLOSE,
];

/// Requests the editor may send that are forwarded to the daemon verbatim: every declared daemon
/// request (`maestro_protocol::rpc`) but the connection's own and those the editor asks in LSP's
/// terms (`LSP_TO_DAEMON`).
pub static FORWARDED_REQUESTS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    maestro_protocol::rpc::ALL
        .iter()
        .copied()
        .filter(|m| !CONNECTION_ONLY.contains(m))
        .filter(|m| !LSP_TO_DAEMON.iter().any(|(_, daemon)| daemon == m))
        .collect()
});

/// LSP requests answered by the daemon's code graph: the params and answers have the same shapes,
/// so they go through verbatim under the daemon's method name.
pub const LSP_TO_DAEMON: &[(&str, &str)] = &[
    ("textDocument/definition", method::GRAPH_DEFINITION),
    ("textDocument/references", method::GRAPH_REFERENCES),
    ("textDocument/hover", method::GRAPH_HOVER),
    ("textDocument/documentHighlight", method::GRAPH_HIGHLIGHT),
    (
        "textDocument/documentSymbol",
        method::GRAPH_DOCUMENT_SYMBOLS,
    ),
    ("workspace/symbol", method::GRAPH_WORKSPACE_SYMBOLS),
    (
        "textDocument/prepareCallHierarchy",
        method::GRAPH_CALL_PREPARE,
    ),
    ("callHierarchy/incomingCalls", method::GRAPH_CALL_INCOMING),
    ("callHierarchy/outgoingCalls", method::GRAPH_CALL_OUTGOING),
    ("textDocument/codeAction", method::CODE_ACTIONS),
    ("textDocument/codeLens", method::PLAYBOOK_CODE_LENS),
];

/// What the front was started with.
pub struct Options {
    pub paths: Paths,
    pub standalone: bool,
    pub config: Config,
    /// A problem with the user's config, shown to the user once initialized.
    pub config_error: Option<String>,
}

/// State shared by the tower service and the transport.
pub struct Shared {
    client: Client,
    options: Options,
    link: OnceLock<Link>,
    initialized: AtomicBool,
    shut_down: AtomicBool,
    progress: AtomicBool,
    /// The editor asks for code lenses again on `workspace/codeLens/refresh`.
    lens_refresh: AtomicBool,
    encoding: OnceLock<PositionEncoding>,
    notices: Mutex<Vec<(MessageType, String)>>,
    /// Set by the editor's `initialized`: from then on the server may send it requests (such as
    /// `window/workDoneProgress/create`); events wait in their channel until then.
    editor_ready: tokio::sync::watch::Sender<bool>,
    /// Held in standalone mode: this process owns the store.
    _instance: Mutex<Option<InstanceLock>>,
}

pub struct Backend(pub Arc<Shared>);

impl Backend {
    pub fn new(client: Client, options: Options) -> Backend {
        let notices = options
            .config_error
            .iter()
            .map(|e| (MessageType::WARNING, format!("maestro: {e}")))
            .collect();
        Backend(Arc::new(Shared {
            client,
            options,
            link: OnceLock::new(),
            initialized: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
            progress: AtomicBool::new(false),
            lens_refresh: AtomicBool::new(false),
            encoding: OnceLock::new(),
            notices: Mutex::new(notices),
            editor_ready: tokio::sync::watch::channel(false).0,
            _instance: Mutex::new(None),
        }))
    }
}

type Reply = BoxFuture<'static, Result<Value, RpcError>>;

impl Shared {
    /// Whether `shutdown` was received: the exit code is 0 only then.
    pub fn shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    /// Handles a request that goes to the daemon, or returns `None` to let tower handle it.
    pub fn intercept_request(&self, method: &str, params: &Value) -> Option<Reply> {
        let target = if FORWARDED_REQUESTS.contains(&method) {
            Some(method)
        } else {
            LSP_TO_DAEMON
                .iter()
                .find(|(lsp, _)| *lsp == method)
                .map(|(_, daemon)| *daemon)
        };
        if target.is_none() && method != "workspace/executeCommand" {
            return None;
        }
        if let Some(refusal) = self.refuse() {
            return Some(futures::future::ready(Err(refusal)).boxed());
        }
        let link = self.link.get()?;
        if let Some(target) = target {
            return Some(
                super::trust::call(self.client.clone(), link.clone(), target, params.clone())
                    .boxed(),
            );
        }
        let p = match ExecuteCommandParams::deserialize(params) {
            Ok(p) => p,
            Err(e) => {
                return Some(
                    futures::future::ready(Err(RpcError::invalid_params(method, e))).boxed(),
                );
            }
        };
        let Some((_, target)) = COMMANDS.iter().find(|(c, _)| *c == p.command) else {
            let known: Vec<_> = COMMANDS.iter().map(|(c, _)| *c).collect();
            let e = RpcError::invalid_params(
                method,
                format!(
                    "unknown command {:?}; maestro offers {}",
                    p.command,
                    known.join(", ")
                ),
            );
            return Some(futures::future::ready(Err(e)).boxed());
        };
        let args = p.arguments.into_iter().next().unwrap_or(Value::Null);
        if p.command == super::delegate::COMMAND {
            return Some(super::delegate::run(self.client.clone(), link.clone(), args).boxed());
        }
        Some(super::trust::call(self.client.clone(), link.clone(), target, args).boxed())
    }

    /// Applies document sync now; returns false to let tower handle the notification.
    pub fn intercept_notification(&self, method: &str, params: &Value) -> bool {
        let sync = matches!(
            method,
            "textDocument/didOpen" | "textDocument/didChange" | "textDocument/didClose"
        );
        if !sync {
            return false;
        }
        if self.refuse().is_some() {
            tracing::warn!(method, "notification outside the initialized state dropped");
            return true;
        }
        let Some(link) = self.link.get() else {
            return true;
        };
        let result = match method {
            "textDocument/didOpen" => DidOpenTextDocumentParams::deserialize(params).map(|p| {
                link.did_open(DocumentOpenParams {
                    uri: p.text_document.uri.to_string(),
                    language_id: p.text_document.language_id,
                    version: p.text_document.version,
                    text: p.text_document.text,
                })
            }),
            "textDocument/didChange" => DidChangeTextDocumentParams::deserialize(params).map(|p| {
                let content_changes = p
                    .content_changes
                    .into_iter()
                    .map(|c| TextChange {
                        range: c.range.map(range),
                        text: c.text,
                    })
                    .collect();
                link.did_change(DocumentChangeParams {
                    uri: p.text_document.uri.to_string(),
                    version: p.text_document.version,
                    content_changes,
                });
            }),
            _ => DidCloseTextDocumentParams::deserialize(params)
                .map(|p| link.did_close(p.text_document.uri.to_string())),
        };
        if let Err(e) = result {
            tracing::warn!(method, "malformed notification ignored: {e}");
        }
        if let Some(uri) = params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .filter(|u| u.ends_with(".md") || u.ends_with(".markdown"))
        {
            super::playbook::lint_later(
                self.client.clone(),
                link.clone(),
                uri.to_owned(),
                method == "textDocument/didClose",
            );
        }
        true
    }

    /// The error for a request outside the initialized state, as LSP wants it.
    fn refuse(&self) -> Option<RpcError> {
        if !self.initialized.load(Ordering::SeqCst) {
            return Some(RpcError::new(
                code::SERVER_NOT_INITIALIZED,
                "the server is not initialized yet",
            ));
        }
        if self.shut_down.load(Ordering::SeqCst) {
            return Some(RpcError::invalid_request("the server is shutting down"));
        }
        None
    }

    fn target(&self) -> Result<Target, jsonrpc::Error> {
        let options = &self.options;
        if !options.standalone {
            return Ok(Target::Daemon(options.paths.clone()));
        }
        // The store belongs to one process; if a daemon has it, this editor works on a private one.
        let lock = InstanceLock::acquire(&options.paths, Duration::ZERO).map_err(internal)?;
        let store = match lock {
            Some(mut lock) => {
                lock.set_owner(Role::Standalone).map_err(internal)?;
                *self._instance.lock().unwrap() = Some(lock);
                StoreLocation::File(options.paths.store_file())
            }
            None => {
                let holder = crate::instance::owner(&options.paths)
                    .map_or_else(|| "another maestro process".to_owned(), |o| o.to_string());
                self.notices.lock().unwrap().push((
                    MessageType::WARNING,
                    format!("maestro: the store is in use by {holder}; this session keeps its state in memory only"),
                ));
                StoreLocation::Memory
            }
        };
        let engine = Engine::start(EngineOptions {
            host: HostInfo {
                mode: HostMode::Standalone,
                socket: None,
                log_file: None,
                tools_program: None,
            },
            config: options.config.clone(),
            store,
            paths: Some(options.paths.clone()),
        })
        .map_err(internal)?;
        if let Some(worker) = crate::query_worker() {
            engine.store().set_query_worker(worker);
        }
        Ok(Target::Standalone(engine))
    }
}

fn internal(e: impl std::fmt::Display) -> jsonrpc::Error {
    jsonrpc::Error {
        code: ErrorCode::InternalError,
        message: format!("maestro: {e}").into(),
        data: None,
    }
}

fn range(r: ls_types::Range) -> maestro_protocol::Range {
    let position = |p: ls_types::Position| maestro_protocol::Position {
        line: p.line,
        character: p.character,
    };
    maestro_protocol::Range {
        start: position(r.start),
        end: position(r.end),
    }
}

fn negotiate(params: &InitializeParams) -> PositionEncoding {
    let offered = params
        .capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref());
    if offered.is_some_and(|o| o.contains(&PositionEncodingKind::UTF8)) {
        PositionEncoding::Utf8
    } else {
        PositionEncoding::Utf16
    }
}

fn workspace_paths(params: &InitializeParams) -> Vec<PathBuf> {
    #[allow(deprecated)]
    let uris: Vec<&Uri> = match (&params.workspace_folders, &params.root_uri) {
        (Some(folders), _) if !folders.is_empty() => folders.iter().map(|f| &f.uri).collect(),
        (_, Some(root)) => vec![root],
        _ => Vec::new(),
    };
    uris.into_iter()
        .filter_map(|u| u.to_file_path().map(|p| p.into_owned()))
        .collect()
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> jsonrpc::Result<InitializeResult> {
        let shared = &self.0;
        if let Some(editor) = params.process_id {
            watch_editor(editor);
        }
        let encoding = negotiate(&params);
        let _ = shared.encoding.set(encoding);
        shared.progress.store(
            params
                .capabilities
                .window
                .as_ref()
                .and_then(|w| w.work_done_progress)
                .unwrap_or(false),
            Ordering::SeqCst,
        );
        shared.lens_refresh.store(
            params
                .capabilities
                .workspace
                .as_ref()
                .and_then(|w| w.code_lens.as_ref())
                .and_then(|c| c.refresh_support)
                .unwrap_or(false),
            Ordering::SeqCst,
        );
        let client = ClientInfo {
            name: params
                .client_info
                .as_ref()
                .map_or_else(|| "LSP client".to_owned(), |c| c.name.clone()),
            version: params.client_info.as_ref().and_then(|c| c.version.clone()),
            kind: ClientKind::Lsp,
            pid: Some(std::process::id()),
        };
        let target = shared.target()?;
        let (link, events, hello) = Link::connect(
            target,
            client,
            encoding,
            shared.options.config.settings().max_frame_bytes,
        )
        .await
        .map_err(internal)?;
        tracing::info!(pid = hello.pid, mode = ?hello.mode, encoding = encoding.as_str(), "connected to the engine");
        for path in workspace_paths(&params) {
            if let Some(problem) = open_workspace(&link, path).await {
                // Shown once the editor is initialized.
                shared
                    .notices
                    .lock()
                    .unwrap()
                    .push((MessageType::WARNING, problem));
            }
        }
        let _ = shared.link.set(link);
        tokio::spawn(relay(shared.clone(), events));
        shared.initialized.store(true, Ordering::SeqCst);

        let position_encoding = match encoding {
            PositionEncoding::Utf8 => PositionEncodingKind::UTF8,
            _ => PositionEncodingKind::UTF16,
        };
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(position_encoding),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        ..Default::default()
                    },
                )),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                document_highlight_provider: Some(OneOf::Left(true)),
                document_symbol_provider: Some(OneOf::Left(true)),
                workspace_symbol_provider: Some(OneOf::Left(true)),
                call_hierarchy_provider: Some(CallHierarchyServerCapability::Simple(true)),
                code_lens_provider: Some(ls_types::CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(vec![
                            CodeActionKind::QUICKFIX,
                            CodeActionKind::REFACTOR,
                            CodeActionKind::SOURCE,
                        ]),
                        ..Default::default()
                    },
                )),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: COMMANDS.iter().map(|(c, _)| (*c).to_owned()).collect(),
                    ..Default::default()
                }),
                workspace: Some(WorkspaceServerCapabilities {
                    workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                        supported: Some(true),
                        change_notifications: Some(OneOf::Left(true)),
                    }),
                    file_operations: None,
                }),
                experimental: Some(serde_json::json!({
                    "maestro": {
                        "protocolVersion": maestro_protocol::PROTOCOL_VERSION,
                        "mode": hello.mode,
                        "requests": *FORWARDED_REQUESTS,
                    }
                })),
                ..Default::default()
            },
            server_info: Some(ServerInfo {
                name: "maestro".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        self.0.editor_ready.send_replace(true);
        let notices = std::mem::take(&mut *self.0.notices.lock().unwrap());
        for (kind, message) in notices {
            self.0.client.show_message(kind, message).await;
        }
    }

    async fn shutdown(&self) -> jsonrpc::Result<()> {
        self.0.shut_down.store(true, Ordering::SeqCst);
        if let Some(link) = self.0.link.get() {
            link.close();
        }
        Ok(())
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        let Some(link) = self.0.link.get() else {
            return;
        };
        for folder in params.event.removed {
            if let Some(path) = folder.uri.to_file_path() {
                let _ = link.close_workspace(path.into_owned()).await;
            }
        }
        for folder in params.event.added {
            let Some(path) = folder.uri.to_file_path().map(|p| p.into_owned()) else {
                continue;
            };
            if let Some(problem) = open_workspace(link, path).await {
                self.0
                    .client
                    .show_message(MessageType::WARNING, problem)
                    .await;
            }
        }
    }

    async fn execute_command(
        &self,
        params: ExecuteCommandParams,
    ) -> jsonrpc::Result<Option<Value>> {
        // Commands are intercepted before tower sees them; this answers only if that ever changes.
        Err(jsonrpc::Error::invalid_params(format!(
            "unknown command {}",
            params.command
        )))
    }
}

/// Opens a workspace; returns what the user should be told about it (a broken repository config, or
/// why it could not be opened).
async fn open_workspace(link: &Link, path: PathBuf) -> Option<String> {
    match link.open_workspace(path.clone()).await {
        Ok(info) => info.config_error.map(|e| format!("maestro: {e}")),
        Err(e) => Some(format!(
            "maestro: cannot open workspace {}: {}",
            path.display(),
            e.message
        )),
    }
}

/// How long the relay waits for the editor to accept a progress token.
const PROGRESS_CREATE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Relays daemon events to the editor: progress as LSP work-done progress, the rest verbatim.
async fn relay(
    shared: Arc<Shared>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<Notification>,
) {
    let mut created: HashSet<String> = HashSet::new();
    // The workspace's first index starts during `initialize`; its progress waits for the editor.
    let mut ready = shared.editor_ready.subscribe();
    if ready.wait_for(|r| *r).await.is_err() {
        return;
    }
    while let Some(n) = events.recv().await {
        match Event::from_notification(&n.method, n.params.clone()) {
            Some(Ok(Event::Progress(p))) => relay_progress(&shared, &mut created, p).await,
            Some(Ok(Event::DaemonShutdown(p))) => {
                let message = format!("maestro: the daemon stopped ({}); reconnecting", p.reason);
                shared.client.log_message(MessageType::INFO, message).await;
            }
            Some(Ok(Event::Attention(p))) if p.event == "ask" => {
                if let Some(link) = shared.link.get() {
                    super::attention::ask(shared.client.clone(), link.clone(), p.attention.clone());
                }
                relay_verbatim(&shared, n).await;
            }
            event => {
                // The "Approve" lens appears on a gate's task once a run waits there, and goes
                // once it is passed or the run ends.
                let gate = matches!(&event, Some(Ok(Event::PlaybookProgress(p))) if matches!(
                    p.event.kind.as_str(),
                    "review_wait" | "approved" | "stopped" | "halted" | "complete" | "error"
                ));
                relay_verbatim(&shared, n).await;
                if gate && shared.lens_refresh.load(Ordering::SeqCst) {
                    let client = shared.client.clone();
                    tokio::spawn(async move { client.code_lens_refresh().await });
                }
            }
        }
    }
}

/// A daemon notification sent on to the editor under its own name.
async fn relay_verbatim(shared: &Shared, n: Notification) {
    let request = jsonrpc::Request::build(n.method).params(n.params).finish();
    let mut client = shared.client.clone();
    if let Err(e) = client.call(request).await {
        tracing::debug!("relaying a notification failed: {e}");
    }
}

async fn relay_progress(shared: &Shared, created: &mut HashSet<String>, p: ProgressParams) {
    if !shared.progress.load(Ordering::SeqCst) {
        return;
    }
    let token = NumberOrString::String(p.token.clone());
    let value = match p.value {
        ProgressValue::Begin {
            title,
            message,
            percentage,
        } => {
            // Other events wait behind this answer: an editor that does not give it loses this
            // progress, not the rest.
            let made = tokio::time::timeout(
                PROGRESS_CREATE_WAIT,
                shared.client.send_request::<WorkDoneProgressCreate>(
                    WorkDoneProgressCreateParams {
                        token: token.clone(),
                    },
                ),
            )
            .await;
            if !matches!(made, Ok(Ok(()))) {
                return;
            }
            created.insert(p.token);
            WorkDoneProgress::Begin(WorkDoneProgressBegin {
                title,
                cancellable: Some(false),
                message,
                percentage,
            })
        }
        ProgressValue::Report {
            message,
            percentage,
        } if created.contains(&p.token) => WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: None,
            message,
            percentage,
        }),
        ProgressValue::End { message } if created.remove(&p.token) => {
            WorkDoneProgress::End(WorkDoneProgressEnd { message })
        }
        _ => return,
    };
    shared
        .client
        .send_notification::<Progress>(tower_lsp_server::ls_types::ProgressParams {
            token,
            value: ProgressParamsValue::WorkDone(value),
        })
        .await;
}

/// Exits this front when the editor that started it (the `processId` of `initialize`) is gone:
/// an editor that crashed sends no `exit`, and a front left behind would keep the daemon alive.
fn watch_editor(pid: u32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            // ESRCH: no such process. (EPERM means it exists, as another user's.)
            if let Err(rustix::io::Errno::SRCH) = rustix::process::test_kill_process(pid) {
                tracing::warn!(
                    pid = pid.as_raw_nonzero().get(),
                    "the editor is gone: exiting"
                );
                std::process::exit(1);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editors_reach_every_daemon_request_but_the_connections_own() {
        for m in [
            method::STATUS,
            method::INDEX,
            method::GRAPH_LOOKUP,
            method::PLAYBOOK_LINT,
            method::TRUST_APPROVE,
        ] {
            assert!(FORWARDED_REQUESTS.contains(&m), "{m}");
        }
        for m in CONNECTION_ONLY {
            assert!(!FORWARDED_REQUESTS.contains(m), "{m}");
        }
        // Asked in LSP's terms, not by the daemon's name.
        for (_, daemon) in LSP_TO_DAEMON {
            assert!(!FORWARDED_REQUESTS.contains(daemon), "{daemon}");
        }
        // Every command calls a request the editor may send.
        for (command, target) in COMMANDS {
            assert!(FORWARDED_REQUESTS.contains(target), "{command} → {target}");
        }
    }
}
