//! One connection's view of the engine: the method table of the daemon RPC.
//!
//! Ordering: notifications (document sync) are applied synchronously, in the order the connection
//! reads them; a request's synchronous part (checks, params, snapshots, registrations such as an
//! opened workspace) runs when it is read, and only the rest (store writes) is deferred. So a request
//! observes every notification and registration that arrived before it.

use crate::connection::SessionState;
use crate::document::Document;
use crate::engine::{Engine, store_error};
use futures::FutureExt;
use futures::future::BoxFuture;
use maestro_protocol::rpc::NoParams;
use maestro_protocol::{
    DocumentChangeParams, DocumentOpenParams, DocumentText, DocumentUri, HelloParams, HelloResult,
    Message, Notification, PROTOCOL_VERSION, RpcError, StatusResult, StoreBackupParams,
    StoreBackupResult, WorkspaceInfo, WorkspaceOpenParams, code, method, parse_params,
};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{broadcast, mpsc};

/// The answer to a request, possibly still being computed.
pub type Reply = BoxFuture<'static, Result<Value, RpcError>>;

/// A document whose closing is worth giving freed memory back to the system for.
const LARGE_DOCUMENT: usize = 256 << 10;

/// A connected client. Dropping it disconnects: its documents close and its workspaces are released.
pub struct Session {
    pub(crate) engine: Engine,
    pub(crate) state: Arc<SessionState>,
    outbox: mpsc::Sender<Message>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.state.ended.send_replace(true);
        self.engine.disconnect(&self.state);
    }
}

/// A method's answer as JSON.
pub(crate) fn ok<T: Serialize>(value: T) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(RpcError::internal)
}

/// An answer that is ready now.
pub(crate) fn now(result: Result<Value, RpcError>) -> Reply {
    futures::future::ready(result).boxed()
}

/// A handler's answer: ready now (checks failed, or nothing to wait for), or computed later. The
/// synchronous part of a handler runs when the request is read, in order with the connection's
/// other messages; see `session.rs`.
pub(crate) enum Answer<T> {
    Now(Result<T, RpcError>),
    Later(BoxFuture<'static, Result<T, RpcError>>),
}

impl<T> Answer<T> {
    pub(crate) fn later(f: impl Future<Output = Result<T, RpcError>> + Send + 'static) -> Self {
        Answer::Later(f.boxed())
    }
}

impl<T> From<Result<T, RpcError>> for Answer<T> {
    fn from(result: Result<T, RpcError>) -> Self {
        Answer::Now(result)
    }
}

impl Session {
    pub(crate) fn new(
        engine: Engine,
        state: Arc<SessionState>,
        outbox: mpsc::Sender<Message>,
    ) -> Session {
        Session {
            engine,
            state,
            outbox,
        }
    }

    pub fn id(&self) -> u64 {
        self.state.id
    }

    /// The agent this connection speaks for, if it is an agent's.
    pub(crate) fn agent(&self) -> Option<&maestro_protocol::CallerAgent> {
        self.state.agent.get()
    }

    /// Who this connection speaks for: an agent's address, else the person's.
    pub(crate) fn address(&self) -> String {
        self.agent()
            .map_or_else(|| self.engine.person().to_owned(), |a| a.address.clone())
    }

    pub(crate) fn shutdown(&self, _: NoParams) -> Answer<()> {
        let who = self
            .state
            .hello
            .get()
            .map_or("a client".to_owned(), |h| h.client.name.clone());
        self.engine.request_shutdown(format!("requested by {who}"));
        Answer::Now(Ok(()))
    }

    pub(crate) fn status(&self, _: NoParams) -> Answer<StatusResult> {
        let engine = self.engine.clone();
        Answer::later(async move { engine.status().await })
    }

    pub(crate) fn subscribe(&self, _: NoParams) -> Answer<()> {
        self.forward_events();
        Answer::Now(Ok(()))
    }

    pub(crate) fn workspace_open(&self, p: WorkspaceOpenParams) -> Answer<WorkspaceInfo> {
        let info = match self.engine.open_workspace(&self.state, &p.path) {
            Ok(info) => info,
            Err(e) => return Answer::Now(Err(e)),
        };
        if p.index {
            self.engine.ensure_index(&info);
        }
        let (engine, state) = (self.engine.clone(), self.state.clone());
        Answer::later(async move {
            engine.remember_workspace(&state, &info).await?;
            Ok(info)
        })
    }

    pub(crate) fn workspace_close(&self, p: WorkspaceOpenParams) -> Answer<()> {
        let closed = crate::workspace::find_root(&p.path)
            .map_err(|e| RpcError::not_found(e.to_string()))
            .map(|root| {
                let id = crate::workspace::workspace_id(&root.root);
                if self.state.workspaces.lock().unwrap().remove(&id) {
                    self.engine.release_workspace(&id);
                }
            });
        Answer::Now(closed)
    }

    pub(crate) fn document_text(&self, p: DocumentUri) -> Answer<DocumentText> {
        let docs = self.state.documents.lock().unwrap();
        Answer::Now(
            docs.get(&p.uri)
                .map(|doc| DocumentText {
                    uri: p.uri.clone(),
                    version: doc.version(),
                    text: doc.text(),
                })
                .ok_or_else(|| {
                    RpcError::not_found(format!("{} is not open on this connection", p.uri))
                }),
        )
    }

    pub(crate) fn store_backup(&self, p: StoreBackupParams) -> Answer<StoreBackupResult> {
        if !p.path.is_absolute() {
            return Answer::Now(Err(RpcError::invalid_params(
                method::STORE_BACKUP,
                format!("`path` must be absolute, got {}", p.path.display()),
            )));
        }
        let engine = self.engine.clone();
        Answer::later(async move {
            let _work = engine.begin_work();
            let progress = engine.begin_progress("Backing up the maestro store");
            let size = engine
                .store()
                .backup(&p.path, p.overwrite)
                .await
                .map_err(store_error)?;
            progress.end(Some(format!(
                "{} bytes written to {}",
                size,
                p.path.display()
            )));
            Ok(StoreBackupResult {
                path: p.path,
                size_bytes: size,
                schema_version: engine.store().schema_version(),
            })
        })
    }

    /// Applies a notification now. Notifications get no answer, so problems are logged.
    pub fn notify(&self, method: &str, params: Value) {
        if self.state.hello.get().is_none() {
            tracing::warn!(
                session = self.state.id,
                method,
                "notification before maestro/hello dropped"
            );
            return;
        }
        let result = match method {
            method::DOCUMENT_OPEN => parse_params::<DocumentOpenParams>(method, params).map(|p| {
                let doc = Document::new(p.uri.clone(), p.language_id, p.version, &p.text);
                self.state.documents.lock().unwrap().insert(p.uri, doc);
            }),
            method::DOCUMENT_CHANGE => parse_params::<DocumentChangeParams>(method, params)
                .and_then(|p| {
                    let mut docs = self.state.documents.lock().unwrap();
                    let doc = docs.get_mut(&p.uri).ok_or_else(|| {
                        RpcError::not_found(format!("change to {}, which is not open", p.uri))
                    })?;
                    doc.apply(p.version, &p.content_changes, self.state.encoding())
                        .map_err(|e| RpcError::invalid_params(method, e))
                }),
            method::DOCUMENT_CLOSE => parse_params::<DocumentUri>(method, params).map(|p| {
                let closed = self.state.documents.lock().unwrap().remove(&p.uri);
                // A large document's text and parse were freed: give the pages back.
                if closed.is_some_and(|d| d.len_bytes() > LARGE_DOCUMENT) {
                    crate::give_back_memory_soon();
                }
            }),
            m if m.starts_with("$/") => Ok(()),
            _ => Err(RpcError::method_not_found(method)),
        };
        if let Err(e) = result {
            tracing::warn!(
                session = self.state.id,
                "notification {method}: {}",
                e.message
            );
        }
    }

    pub(crate) fn hello(&self, p: HelloParams) -> Answer<HelloResult> {
        Answer::Now(self.say_hello(p))
    }

    fn say_hello(&self, p: HelloParams) -> Result<HelloResult, RpcError> {
        let version = env!("CARGO_PKG_VERSION");
        if p.protocol_version != PROTOCOL_VERSION {
            return Err(RpcError::new(
                code::PROTOCOL_MISMATCH,
                format!(
                    "the running maestro daemon (version {version}) speaks protocol {PROTOCOL_VERSION} and this \
                     client speaks protocol {}: run `maestro daemon restart` to start the installed version",
                    p.protocol_version
                ),
            )
            .with_data(serde_json::json!({"daemonVersion": version, "protocolVersion": PROTOCOL_VERSION})));
        }
        tracing::debug!(session = self.state.id, client = %p.client.name, kind = ?p.client.kind, "hello");
        if self.state.hello.get().is_some() {
            return Err(RpcError::invalid_request(
                "maestro/hello was already sent on this connection",
            ));
        }
        let agent =
            crate::caller::identify(&self.engine, self.state.peer, p.agent_token.as_deref())?;
        self.state.hello.set(p).map_err(|_| {
            RpcError::invalid_request("maestro/hello was already sent on this connection")
        })?;
        if let Some(a) = &agent {
            tracing::debug!(session = self.state.id, agent = %a.address, "speaks for an agent");
            let _ = self.state.agent.set(a.clone());
        }
        Ok(HelloResult {
            protocol_version: PROTOCOL_VERSION,
            version: version.to_owned(),
            pid: std::process::id(),
            session_id: self.state.id,
            mode: self.engine.host().mode,
            agent,
        })
    }

    /// Forwards engine events to this connection until it closes.
    fn forward_events(&self) {
        if self.state.subscribed.swap(true, Ordering::Relaxed) {
            return;
        }
        let mut events = self.engine.events();
        let outbox = self.outbox.clone();
        let mut ended = self.state.ended.subscribe();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = ended.wait_for(|&e| e) => return,
                    () = outbox.closed() => return,
                };
                match event {
                    Ok(event) => {
                        let n = Notification {
                            method: event.method().to_owned(),
                            params: event.params(),
                        };
                        // A client that does not read makes this wait (the outbox is bounded)
                        // and then miss events, rather than make the daemon hold them all.
                        if outbox.send(Message::Notification(n)).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a slow client missed events");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
}

impl Engine {
    /// A new connection. Messages the engine pushes to it (events) go to `outbox`; it ends when the
    /// returned session is dropped.
    pub fn connect(&self, outbox: mpsc::Sender<Message>) -> Session {
        self.connect_from(outbox, None)
    }

    /// A new connection from process `peer` (the socket's peer): a process an agent started
    /// speaks for that agent, whatever it says.
    pub fn connect_from(&self, outbox: mpsc::Sender<Message>, peer: Option<u32>) -> Session {
        Session::new(self.clone(), self.register_session(peer), outbox)
    }
}
