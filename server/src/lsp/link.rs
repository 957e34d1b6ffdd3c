//! The LSP front's line to the engine: a daemon connection (or an in-process engine), plus a mirror of
//! what this editor has open so that a restarted daemon gets it all back.
//!
//! Every document change goes through the mirror first, under its lock; the replay after a reconnect
//! holds the same lock while it re-sends everything, so no change is lost or sent twice.

use crate::client::{
    ClientError, ConnectOptions, Connected, DaemonClient, Events, connect, connect_in_process,
};
use maestro_engine::document::Document;
use maestro_engine::{Engine, Paths};
use maestro_protocol::{
    ClientInfo, DocumentChangeParams, DocumentOpenParams, DocumentUri, HelloResult, Notification,
    PositionEncoding, RpcError, WorkspaceInfo, WorkspaceOpenParams, code, method,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// What the front talks to.
#[derive(Clone)]
pub enum Target {
    Daemon(Paths),
    Standalone(Engine),
}

/// How long a request waits for a lost daemon connection to come back.
const RECONNECT_WAIT: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct Link {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    client: ClientInfo,
    encoding: PositionEncoding,
    max_frame: usize,
    conn: Mutex<Option<DaemonClient>>,
    up: watch::Sender<bool>,
    mirror: Mutex<Mirror>,
    events: mpsc::UnboundedSender<Notification>,
    reconnecting: AtomicBool,
    closed: AtomicBool,
}

#[derive(Default)]
struct Mirror {
    documents: BTreeMap<String, Document>,
    workspaces: Vec<PathBuf>,
}

impl Link {
    /// Connects (starting the daemon if needed). Events of this and every later connection arrive
    /// on the returned stream.
    pub async fn connect(
        target: Target,
        client: ClientInfo,
        encoding: PositionEncoding,
        max_frame: usize,
    ) -> Result<(Link, mpsc::UnboundedReceiver<Notification>, HelloResult), ClientError> {
        let (events, relay) = mpsc::unbounded_channel();
        let link = Link {
            inner: Arc::new(Inner {
                target,
                client,
                encoding,
                max_frame,
                conn: Mutex::new(None),
                up: watch::channel(false).0,
                mirror: Mutex::default(),
                events,
                reconnecting: AtomicBool::new(false),
                closed: AtomicBool::new(false),
            }),
        };
        let hello = link.establish().await?;
        Ok((link, relay, hello))
    }

    /// Opens a connection, subscribes, replays the mirror, and makes it current.
    async fn establish(&self) -> Result<HelloResult, ClientError> {
        let inner = &self.inner;
        let options = ConnectOptions {
            client: inner.client.clone(),
            encoding: inner.encoding,
            autostart: true,
            max_frame: inner.max_frame,
            agent_token: None,
        };
        let Connected {
            client,
            events,
            hello,
            ..
        } = match &inner.target {
            Target::Daemon(paths) => connect(paths, &options).await?,
            Target::Standalone(engine) => connect_in_process(engine, &options).await?,
        };
        let subscribed = client.call(method::SUBSCRIBE, Value::Null);
        {
            let mirror = inner.mirror.lock().unwrap();
            for path in &mirror.workspaces {
                // Answers are not awaited: a workspace that fails to reopen was reported when it
                // was first opened.
                drop(client.call(method::WORKSPACE_OPEN, serde_json::json!({ "path": path })));
            }
            for doc in mirror.documents.values() {
                let params = DocumentOpenParams {
                    uri: doc.uri.clone(),
                    language_id: doc.language_id.clone(),
                    version: doc.version(),
                    text: doc.text(),
                };
                client.notify(method::DOCUMENT_OPEN, to_value(&params));
            }
            *inner.conn.lock().unwrap() = Some(client);
        }
        subscribed.await.map_err(|error| ClientError::Rpc {
            method: method::SUBSCRIBE.into(),
            error,
        })?;
        inner.up.send_replace(true);
        self.pump(events);
        Ok(hello)
    }

    /// Relays one connection's events; when it ends, starts reconnecting.
    fn pump(&self, mut events: Events) {
        let link = self.clone();
        tokio::spawn(async move {
            while let Some(n) = events.recv().await {
                let _ = link.inner.events.send(n);
            }
            link.inner.conn.lock().unwrap().take();
            link.inner.up.send_replace(false);
            if !link.inner.closed.load(Ordering::SeqCst) {
                tracing::warn!("lost the connection to the maestro daemon; reconnecting");
                link.reconnect();
            }
        });
    }

    fn reconnect(&self) {
        if self.inner.reconnecting.swap(true, Ordering::SeqCst) {
            return;
        }
        let link = self.clone();
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(50);
            while !link.inner.closed.load(Ordering::SeqCst) {
                match link.establish().await {
                    Ok(hello) => {
                        tracing::info!(pid = hello.pid, "reconnected to the maestro daemon");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("reconnecting to the maestro daemon failed: {e}");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(5));
                    }
                }
            }
            link.inner.reconnecting.store(false, Ordering::SeqCst);
        });
    }

    /// Stops using the engine (after LSP `shutdown`).
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.conn.lock().unwrap().take();
    }

    /// Sends a request in order with every other message. While the connection is down it waits for
    /// it to come back; a read-only request whose connection broke before the answer is sent again.
    pub fn call(
        &self,
        method: &str,
        params: Value,
    ) -> impl Future<Output = Result<Value, RpcError>> + Send + use<> {
        let now = self.current().map(|c| c.call(method, params.clone()));
        let (link, method) = (self.clone(), method.to_owned());
        async move {
            if let Some(answer) = now {
                match answer.await {
                    Err(e)
                        if e.code == code::CONNECTION_LOST
                            && method::READ_ONLY.contains(&method.as_str()) => {}
                    other => return other,
                }
            }
            let client = link.wait_for_connection().await?;
            client.call(&method, params).await
        }
    }

    fn current(&self) -> Option<DaemonClient> {
        self.inner
            .conn
            .lock()
            .unwrap()
            .clone()
            .filter(|c| !c.is_closed())
    }

    async fn wait_for_connection(&self) -> Result<DaemonClient, RpcError> {
        let unreachable = || {
            RpcError::new(
                code::CONNECTION_LOST,
                "the maestro daemon is unreachable; see `maestro daemon logs`",
            )
        };
        let mut up = self.inner.up.subscribe();
        let deadline = tokio::time::Instant::now() + RECONNECT_WAIT;
        loop {
            if self.inner.closed.load(Ordering::SeqCst) {
                return Err(unreachable());
            }
            if let Some(client) = self.current() {
                return Ok(client);
            }
            // Wake on any change of the connection state, or give up at the deadline.
            if tokio::time::timeout_at(deadline, up.changed())
                .await
                .is_err()
            {
                return Err(unreachable());
            }
        }
    }

    fn notify(&self, method: &str, params: Value) {
        if let Some(c) = self.inner.conn.lock().unwrap().as_ref() {
            c.notify(method, params);
        }
    }

    /// Opens a workspace now and after every reconnect.
    pub async fn open_workspace(&self, path: PathBuf) -> Result<WorkspaceInfo, RpcError> {
        {
            let mut mirror = self.inner.mirror.lock().unwrap();
            if !mirror.workspaces.contains(&path) {
                mirror.workspaces.push(path.clone());
            }
        }
        let info = self
            .call(
                method::WORKSPACE_OPEN,
                to_value(&WorkspaceOpenParams::new(path)),
            )
            .await?;
        serde_json::from_value(info).map_err(RpcError::internal)
    }

    pub async fn close_workspace(&self, path: PathBuf) -> Result<(), RpcError> {
        self.inner
            .mirror
            .lock()
            .unwrap()
            .workspaces
            .retain(|p| *p != path);
        self.call(
            method::WORKSPACE_CLOSE,
            to_value(&WorkspaceOpenParams::new(path)),
        )
        .await
        .map(drop)
    }

    pub fn did_open(&self, params: DocumentOpenParams) {
        let mut mirror = self.inner.mirror.lock().unwrap();
        let doc = Document::new(
            params.uri.clone(),
            params.language_id.clone(),
            params.version,
            &params.text,
        );
        mirror.documents.insert(params.uri.clone(), doc);
        self.notify(method::DOCUMENT_OPEN, to_value(&params));
    }

    pub fn did_change(&self, params: DocumentChangeParams) {
        let mut mirror = self.inner.mirror.lock().unwrap();
        let Some(doc) = mirror.documents.get_mut(&params.uri) else {
            tracing::warn!(
                uri = params.uri,
                "didChange for a document that is not open; ignored"
            );
            return;
        };
        if let Err(e) = doc.apply(params.version, &params.content_changes, self.inner.encoding) {
            tracing::warn!("didChange refused: {e}");
            return;
        }
        self.notify(method::DOCUMENT_CHANGE, to_value(&params));
    }

    pub fn did_close(&self, uri: String) {
        let mut mirror = self.inner.mirror.lock().unwrap();
        mirror.documents.remove(&uri);
        self.notify(method::DOCUMENT_CLOSE, to_value(&DocumentUri { uri }));
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("protocol params always serialize")
}
