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
/// Makes a closed stdout (`maestro config show | head`) end the process quietly, as it would
/// end any Unix tool, instead of a panic from `println!`: Rust ignores SIGPIPE, so writes fail
/// with EPIPE, and the print macros panic on that.
pub fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // Output is written on the main thread; a broken pipe elsewhere (an agent's input, a
        // socket) is a bug to report, not the reader of stdout going away.
        let main = std::thread::current().name() == Some("main");
        if main && (text.contains("Broken pipe") || text.contains("BrokenPipe")) {
            std::process::exit(0);
        }
        default(info);
    }));
}

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let paths = Paths::from_env()?;
    match cli.command {
        Command::Daemon { action: None } => daemon::run(&paths),
        Command::Lsp { standalone, .. } => {
            logging::init_stderr("warn");
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(daemon::BLOCKING_THREADS)
                .thread_name("maestro-lsp")
                .enable_all()
                .build()?;
            let code = runtime.block_on(lsp::run(paths, standalone));
            // Connections and the standalone engine (and its store writer) close before the exit.
            runtime.shutdown_timeout(Duration::from_secs(5));
            Ok(code)
        }
        Command::QueryWorker => Ok(maestro_store::serve_query_worker(
            std::io::stdin().lock(),
            std::io::stdout().lock(),
        )),
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

/// This binary as the store's query worker (`maestro query-worker`): user queries run in a
/// process the daemon can kill.
pub(crate) fn query_worker() -> Option<maestro_store::QueryWorker> {
    let program = std::env::current_exe().ok()?;
    Some(maestro_store::QueryWorker {
        program,
        args: vec!["query-worker".to_owned()],
    })
}
