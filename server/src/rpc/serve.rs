//! The daemon side of a connection: frames in, engine session calls, frames out.
//!
//! Notifications are applied in the reader loop, in arrival order; each request's synchronous part runs
//! there too and only its remainder is spawned, so requests see every change sent before them.
//!
//! The connection's outbox is bounded: a request is read only once a place for its reply is
//! reserved, so a client that sends without reading stops being read (its writes block) instead of
//! making the daemon hold every unread reply; events for it wait, then lag.

use super::framing::{FrameBudget, MessageReader, write_message};
use maestro_engine::Engine;
use maestro_protocol::{CancelParams, Id, Message, Response, RpcError, code, method};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Replies and events a connection may have waiting to be written (requests in flight count).
pub const OUTBOX: usize = 256;

/// Serves one client until it disconnects.
pub async fn serve_connection<R, W>(
    read: R,
    write: W,
    engine: Engine,
    max_frame: usize,
    budget: FrameBudget,
    peer: Option<u32>,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (outbox, queue) = mpsc::channel::<Message>(OUTBOX);
    let writer = tokio::spawn(write_loop(write, queue));
    let session = engine.connect_from(outbox.clone(), peer);
    let in_flight: Arc<Mutex<HashMap<Id, Option<AbortHandle>>>> = Arc::default();
    let mut reader = MessageReader::new(read, max_frame).with_budget(budget);
    loop {
        let message = match reader.next().await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(session = session.id(), "connection read failed: {e}");
                break;
            }
        };
        match message {
            Err(invalid) => {
                tracing::warn!(
                    session = session.id(),
                    "bad message: {}",
                    invalid.error.message
                );
                let answer = Message::Response(Response {
                    id: invalid.id,
                    result: Err(invalid.error),
                });
                if outbox.send(answer).await.is_err() {
                    break;
                }
            }
            Ok(Message::Request(request)) => {
                let Ok(place) = outbox.clone().reserve_owned().await else {
                    break;
                };
                let reply = session.request(&request.method, request.params);
                let (in_flight_done, id) = (in_flight.clone(), request.id.clone());
                // Registered before the task runs: whoever removes the id answers, this task or a
                // cancellation that came first.
                in_flight.lock().unwrap().insert(request.id.clone(), None);
                let task = tokio::spawn(async move {
                    let result = reply.await;
                    if in_flight_done.lock().unwrap().remove(&id).is_some() {
                        place.send(Message::Response(Response { id, result }));
                    }
                });
                if let Some(entry) = in_flight.lock().unwrap().get_mut(&request.id) {
                    *entry = Some(task.abort_handle());
                }
            }
            Ok(Message::Notification(n)) if n.method == method::CANCEL_REQUEST => {
                let Ok(p) = maestro_protocol::parse_params::<CancelParams>(&n.method, n.params)
                else {
                    continue;
                };
                let cancelled = in_flight.lock().unwrap().remove(&p.id);
                if let Some(task) = cancelled {
                    task.into_iter().for_each(|t| t.abort());
                    let error = RpcError::new(code::REQUEST_CANCELLED, "request cancelled");
                    let answer = Message::Response(Response {
                        id: p.id,
                        result: Err(error),
                    });
                    if outbox.send(answer).await.is_err() {
                        break;
                    }
                }
            }
            Ok(Message::Notification(n)) => session.notify(&n.method, n.params),
            Ok(Message::Response(r)) => {
                tracing::debug!(session = session.id(), id = %r.id, "unexpected response from a client ignored");
            }
        }
    }
    for task in in_flight.lock().unwrap().drain().filter_map(|(_, t)| t) {
        task.abort();
    }
    drop(session);
    drop(outbox);
    let _ = writer.await;
    // What a connection that sent large messages held (its documents, buffers) is free now.
    if reader.bytes_read() > LARGE_MESSAGE as u64 {
        maestro_engine::give_back_memory_soon();
    }
}

/// Where [`write_loop`] takes its messages from.
pub trait Queue {
    fn next(&mut self) -> impl Future<Output = Option<Message>> + Send;
}

impl Queue for mpsc::Receiver<Message> {
    fn next(&mut self) -> impl Future<Output = Option<Message>> + Send {
        self.recv()
    }
}

impl Queue for mpsc::UnboundedReceiver<Message> {
    fn next(&mut self) -> impl Future<Output = Option<Message>> + Send {
        self.recv()
    }
}

/// Writes queued messages until every sender is gone or the peer stops reading.
pub async fn write_loop<W: AsyncWrite + Unpin>(mut write: W, mut queue: impl Queue) {
    while let Some(message) = queue.next().await {
        let written = write_message(&mut write, &message).await;
        drop(message);
        match written {
            Err(e) => {
                tracing::debug!("connection write failed: {e}");
                return;
            }
            // The message and its serialized copies were freed: give the pages back.
            Ok(size) if size > LARGE_MESSAGE => maestro_engine::give_back_memory_soon(),
            Ok(_) => {}
        }
    }
}

/// A message after which freed memory is worth giving back to the system.
const LARGE_MESSAGE: usize = 4 << 20;
