//! `maestro lsp`: the thin LSP front. It speaks LSP on stdio, forwards to the daemon (starting it when
//! needed) or to an in-process engine with `--standalone`, and relays daemon events as notifications.
//! It logs to stderr only: stdout carries the protocol.

mod attention;
mod backend;
mod delegate;
mod link;
mod playbook;
mod transport;
mod trust;

pub use backend::{COMMANDS, FORWARDED_REQUESTS, LSP_TO_DAEMON};

use backend::{Backend, Options};
use maestro_engine::{Config, Paths};
use tower_lsp_server::LspService;

/// Runs the language server on stdin/stdout; returns the process exit code (0 when the client sent
/// `shutdown` before `exit`, 1 otherwise, as LSP says).
pub async fn run(paths: Paths, standalone: bool) -> i32 {
    let (config, config_error) = match Config::load_user(&paths) {
        Ok(c) => (c, None),
        Err(e) => {
            tracing::warn!("{e}; using defaults");
            (Config::default(), Some(format!("{e}; using the defaults")))
        }
    };
    let max_frame = config.settings().max_frame_bytes;
    let options = Options {
        paths,
        standalone,
        config,
        config_error,
    };
    let (service, socket) = LspService::new(|client| Backend::new(client, options));
    let clean = transport::serve(
        tokio::io::stdin(),
        tokio::io::stdout(),
        service,
        socket,
        max_frame,
    )
    .await;
    if clean { 0 } else { 1 }
}
