//! The `maestro` binary's library: CLI, daemon, LSP front and the client of the daemon RPC. The only
//! crate that knows LSP types and transports; `main.rs` only calls [`run`].

pub mod cli;
pub mod client;
mod commands;
pub mod daemon;
pub mod instance;
pub mod logging;
pub mod lsp;
pub mod rpc;

use clap::CommandFactory;
use cli::{Cli, Command};
use maestro_engine::Paths;
use std::time::Duration;

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let paths = Paths::from_env()?;
    match cli.command {
        Command::Daemon { action: None } => daemon::run(&paths),
        Command::Lsp { standalone, .. } => {
            logging::init_stderr("warn");
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("maestro-lsp")
                .enable_all()
                .build()?;
            let code = runtime.block_on(lsp::run(paths, standalone));
            // Connections and the standalone engine (and its store writer) close before the exit.
            runtime.shutdown_timeout(Duration::from_secs(5));
            Ok(code)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "maestro",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        command => {
            logging::init_stderr("warn");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(commands::run(command, paths))
        }
    }
}
