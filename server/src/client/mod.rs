//! The client side of the daemon RPC: a connection that sends requests and notifications in call
//! order and routes responses and events back. Used by the CLI, by the LSP front, and (over an
//! in-memory pipe) by `maestro lsp --standalone`.

pub(crate) mod connect;

pub use connect::{
    ConnectOptions, Connected, EXIT_ALREADY_RUNNING, SpawnTurn, connect, connect_in_process,
    connect_raw, connect_socket, start_with_turn,
};

use crate::rpc::framing::MessageReader;
use crate::rpc::serve::write_loop;
use maestro_protocol::{
    HelloParams, HelloResult, Id, Message, Notification, PROTOCOL_VERSION, Request, RpcError, code,
    method,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

/// Why talking to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the maestro daemon is not running (no one listens on {})", .socket.display())]
    NotRunning { socket: PathBuf },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the maestro daemon failed to start: {detail}\n(its log: {})", .log.display())]
    StartFailed { detail: String, log: PathBuf },
    #[error(
        "the maestro daemon did not open {} within {secs} s (its log: {}); run `maestro doctor`",
        .socket.display(), .log.display()
    )]
    StartTimeout {
        socket: PathBuf,
        secs: u64,
        log: PathBuf,
    },
    #[error("{method}: {error}")]
    Rpc { method: String, error: RpcError },
    #[error("{method}: unexpected answer from the daemon: {detail}")]
    Decode { method: String, detail: String },
}

type Pending = Arc<Mutex<HashMap<i64, oneshot::Sender<Result<Value, RpcError>>>>>;

/// Notifications pushed by the daemon; the stream ends when the connection does.
pub type Events = mpsc::UnboundedReceiver<Notification>;

/// A connection to the daemon (or to an in-process engine). Cheap to clone.
#[derive(Clone)]
pub struct DaemonClient {
    outbox: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: Arc<AtomicI64>,
    closed: Arc<AtomicBool>,
}

impl DaemonClient {
    /// Starts reading and writing on a stream. Say hello with [`DaemonClient::hello`] before other
    /// requests.
    pub fn spawn<R, W>(read: R, write: W, max_frame: usize) -> (DaemonClient, Events)
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (outbox, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(write, queue));
        let (events_tx, events) = mpsc::unbounded_channel();
        let client = DaemonClient {
            outbox,
            pending: Pending::default(),
            next_id: Arc::new(AtomicI64::new(1)),
            closed: Arc::new(AtomicBool::new(false)),
        };
        // The reader holds only the shared state, not the outbox: when the last handle drops, the
        // writer ends and the connection closes.
        let shared = (client.pending.clone(), client.closed.clone());
        tokio::spawn(read_loop(
            MessageReader::new(read, max_frame),
            shared,
            events_tx,
        ));
        (client, events)
    }

    /// The protocol handshake.
    pub async fn hello(&self, params: &HelloParams) -> Result<HelloResult, ClientError> {
        debug_assert_eq!(params.protocol_version, PROTOCOL_VERSION);
        self.request(method::HELLO, params).await
    }

    /// Sends a request now (in call order with every other message) and returns its answer.
    pub fn call(
        &self,
        method: &str,
        params: Value,
    ) -> impl Future<Output = Result<Value, RpcError>> + Send + use<> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let message = Message::Request(Request {
            id: Id::Number(id),
            method: method.to_owned(),
            params,
        });
        let lost = self.closed.load(Ordering::SeqCst) || self.outbox.send(message).is_err();
        if lost {
            self.pending.lock().unwrap().remove(&id);
        }
        async move {
            if lost {
                return Err(connection_lost());
            }
            rx.await.unwrap_or_else(|_| Err(connection_lost()))
        }
    }

    /// [`DaemonClient::call`] with typed params and result.
    pub async fn request<P: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        params: P,
    ) -> Result<T, ClientError> {
        let params = serde_json::to_value(params).map_err(|e| ClientError::Decode {
            method: method.into(),
            detail: e.to_string(),
        })?;
        let value = self
            .call(method, params)
            .await
            .map_err(|error| ClientError::Rpc {
                method: method.into(),
                error,
            })?;
        serde_json::from_value(value).map_err(|e| ClientError::Decode {
            method: method.into(),
            detail: e.to_string(),
        })
    }

    /// Sends a notification now, in call order with every other message.
    pub fn notify(&self, method: &str, params: Value) {
        let _ = self.outbox.send(Message::Notification(Notification {
            method: method.to_owned(),
            params,
        }));
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

pub fn connection_lost() -> RpcError {
    RpcError::new(
        code::CONNECTION_LOST,
        "the connection to the maestro daemon was lost",
    )
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut reader: MessageReader<R>,
    (pending, closed): (Pending, Arc<AtomicBool>),
    events: mpsc::UnboundedSender<Notification>,
) {
    loop {
        match reader.next().await {
            Ok(Some(Ok(Message::Response(r)))) => {
                let waiter = match r.id {
                    Id::Number(n) => pending.lock().unwrap().remove(&n),
                    _ => None,
                };
                match waiter {
                    Some(tx) => {
                        let _ = tx.send(r.result);
                    }
                    None => {
                        tracing::debug!(id = %r.id, "response to no pending request: {:?}", r.result)
                    }
                }
            }
            Ok(Some(Ok(Message::Notification(n)))) => {
                let _ = events.send(n);
            }
            Ok(Some(Ok(Message::Request(r)))) => {
                tracing::debug!(method = r.method, "request from the daemon ignored")
            }
            Ok(Some(Err(invalid))) => {
                tracing::warn!("bad message from the daemon: {}", invalid.error)
            }
            Ok(None) => break,
            Err(e) => {
                tracing::debug!("daemon connection read failed: {e}");
                break;
            }
        }
    }
    // Set before draining, so a request registered after the drain sees it.
    closed.store(true, Ordering::SeqCst);
    for (_, waiter) in pending.lock().unwrap().drain() {
        let _ = waiter.send(Err(connection_lost()));
    }
}
