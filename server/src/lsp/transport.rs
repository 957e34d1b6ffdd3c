//! stdio transport of `maestro lsp`, in place of tower-lsp-server's own: it reads with maestro's
//! defensive framing (size limit, resynchronisation, precise errors), and it applies document sync and
//! forwards daemon-bound requests synchronously in read order. Everything else goes to the tower
//! service, whose futures are first polled in arrival order; a handler that calls the daemon does so
//! at its first poll, so after every notification read before it.

use super::backend::{Backend, Shared};
use crate::rpc::framing::MessageReader;
use crate::rpc::serve::write_loop;
use futures::StreamExt;
use futures::future::BoxFuture;
use maestro_protocol::{Message, Response};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tower::{Service, ServiceExt};
use tower_lsp_server::{ClientSocket, LspService, jsonrpc};

/// How many tower requests run at once; more wait, in order.
const CONCURRENCY: usize = 64;

/// Serves LSP until `exit` or the end of input. Returns whether `shutdown` came before: the
/// process exit code is 0 only then.
pub async fn serve<I, O>(
    stdin: I,
    stdout: O,
    mut service: LspService<Backend>,
    socket: ClientSocket,
    max_frame: usize,
) -> bool
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let shared: Arc<Shared> = service.inner().0.clone();
    let (out, queue) = mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(write_loop(stdout, queue));

    // Requests and notifications the server sends to the editor.
    let (mut to_editor, mut from_editor) = socket.split();
    let out_editor = out.clone();
    let relay = tokio::spawn(async move {
        while let Some(request) = to_editor.next().await {
            if let Some(m) = to_message(&request) {
                let _ = out_editor.send(m);
            }
        }
    });

    // Tower's futures, first polled in the order they were read.
    let (tasks, task_queue) =
        futures::channel::mpsc::unbounded::<BoxFuture<'static, Option<jsonrpc::Response>>>();
    let out_tasks = out.clone();
    let runner = tokio::spawn(
        task_queue
            .buffer_unordered(CONCURRENCY)
            .for_each(move |response| {
                if let Some(m) = response.as_ref().and_then(to_message) {
                    let _ = out_tasks.send(m);
                }
                futures::future::ready(())
            }),
    );

    let mut reader = MessageReader::new(stdin, max_frame);
    loop {
        let message = match reader.next().await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("reading stdin failed: {e}");
                break;
            }
        };
        let is_exit = matches!(&message, Ok(Message::Notification(n)) if n.method == "exit");
        match message {
            Err(invalid) => {
                tracing::warn!("bad message: {}", invalid.error.message);
                let _ = out.send(Message::Response(Response {
                    id: invalid.id,
                    result: Err(invalid.error),
                }));
                continue;
            }
            Ok(Message::Response(r)) => {
                if let Some(response) = from_message::<jsonrpc::Response>(&Message::Response(r)) {
                    let _ = futures::SinkExt::send(&mut from_editor, response).await;
                }
                continue;
            }
            Ok(Message::Request(r)) => {
                if let Some(reply) = shared.intercept_request(&r.method, &r.params) {
                    let out = out.clone();
                    tokio::spawn(async move {
                        let result = reply.await;
                        let _ = out.send(Message::Response(Response { id: r.id, result }));
                    });
                    continue;
                }
                let Some(request) = from_message::<jsonrpc::Request>(&Message::Request(r)) else {
                    continue;
                };
                if !submit(&mut service, &tasks, request).await {
                    break;
                }
            }
            Ok(Message::Notification(n)) => {
                if shared.intercept_notification(&n.method, &n.params) {
                    continue;
                }
                let Some(request) = from_message::<jsonrpc::Request>(&Message::Notification(n))
                else {
                    continue;
                };
                if !submit(&mut service, &tasks, request).await {
                    break;
                }
            }
        }
        if is_exit {
            tracing::debug!("exit received");
            break;
        }
    }
    tasks.close_channel();
    // The relay of server→editor messages lives as long as the service: it ends here, or the
    // writer below would wait for it for ever (a front whose editor is gone must exit).
    relay.abort();
    // Requests still waiting (on a daemon that went away, say) do not hold up the exit for long.
    let runner_abort = runner.abort_handle();
    if tokio::time::timeout(std::time::Duration::from_secs(2), runner)
        .await
        .is_err()
    {
        runner_abort.abort();
    }
    drop(out);
    // What is queued goes out; answers still being made for requests that will never be read
    // are not waited for.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
    shared.shut_down()
}

/// Hands a message to the tower service; false once the service has exited.
async fn submit(
    service: &mut LspService<Backend>,
    tasks: &futures::channel::mpsc::UnboundedSender<BoxFuture<'static, Option<jsonrpc::Response>>>,
    request: jsonrpc::Request,
) -> bool {
    let Ok(ready) = service.ready().await else {
        return false;
    };
    let call = ready.call(request);
    let _ = tasks.unbounded_send(Box::pin(async move { call.await.unwrap_or(None) }));
    true
}

fn to_message<T: serde::Serialize>(value: &T) -> Option<Message> {
    let value = serde_json::to_value(value).ok()?;
    Message::from_value(value)
        .map_err(|e| tracing::warn!("unsendable message: {}", e.error.message))
        .ok()
}

fn from_message<T: serde::de::DeserializeOwned>(message: &Message) -> Option<T> {
    serde_json::from_value(message.to_value())
        .map_err(|e| tracing::warn!("message tower cannot take: {e}"))
        .ok()
}
