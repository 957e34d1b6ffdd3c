//! The `maestro` binary's library: CLI, daemon, LSP front and the client of the daemon RPC. The only
//! crate that knows LSP types and transports; `main.rs` only calls [`run`].
//!
//! ## How it behaves
//!
//! * `rpc::framing`: LSP's base protocol read defensively, for the socket and for `maestro lsp`'s stdin
//!   alike. A frame over `rpc.max_frame_bytes` is answered (`-32600`) as soon as its header is read and its
//!   body skipped; lines that cannot be headers are skipped up to the next `Content-Length:` and reported once
//!   (`-32700`, "skipped N bytes"); a body that fails to parse and contains the start of another frame (a
//!   `Content-Length` that was too long) gives that frame back to the reader. Every error to a message whose
//!   id cannot be read goes out with `"id": null`. Memory is bounded: a body larger than one read goes
//!   into a buffer of its own size (the read buffer shrinks back after one), and the daemon's
//!   connections share a `FrameBudget` of twice `rpc.max_frame_bytes` for such bodies while they
//!   arrive. A body waits at most 30 s for budget (then it is skipped and answered `-32600`, "send it
//!   again") and, holding budget, may not go 30 s without a byte (the connection ends): ten clients
//!   stopping halfway through 60 MB frames hold 128 MiB, not 600 MB.
//! * `rpc::serve`: the daemon side of a connection. Reader loop: notifications are applied and requests'
//!   synchronous parts run in arrival order; the rest of each request is a task, cancellable by
//!   `$/cancelRequest` (answered `-32800`). One writer task per connection, fed by a bounded outbox
//!   (256 messages): a request is read only once a place for its reply is reserved, so a client that
//!   writes without reading is no longer read (its writes block) instead of making the daemon hold
//!   every unread reply; events wait for room and then lag (the forwarder of the engine's broadcast
//!   misses them, with a warning). The daemon's runtime keeps at most 32 threads for blocking work
//!   (store reads, git): tokio's default 512 let one flood of cheap requests start 512 threads.
//! * `client`: the client side, used by the CLI, the LSP front and standalone mode. `DaemonClient::call`
//!   enqueues synchronously, so calls and notifications reach the daemon in call order. `connect` starts the
//!   daemon when nobody listens: clients take turns through `run/spawn.lock` (`SpawnTurn`; `daemon restart`
//!   and `store restore` hold it from stop to start, so a reconnecting editor cannot start a daemon in
//!   between), the first one spawns
//!   `maestro daemon` in a new session (`setsid`, stdio on `/dev/null` and `state/logs/daemon-stderr.log`,
//!   cwd `/`) and waits for the socket; if the daemon exits instead, its stderr becomes the client's error.
//! * `instance`: the single-instance lock, an `flock` on `run/daemon.lock` that also records the holder
//!   (`<pid> daemon|lsp-standalone|restore`). The kernel releases it when the holder dies, so a SIGKILLed
//!   daemon never blocks the next; whoever holds it may delete a stale socket. `run/` is kept 0700, the
//!   socket 0600, and a runtime dir owned by another user is refused.
//! * `daemon`: takes the lock (waiting 300 ms for an exiting predecessor; exit code 3 when another holds it),
//!   logs to `state/logs/daemon.log` (rotated past 8 MiB at start; also the terminal when run from one),
//!   opens the store, binds the socket, serves until `maestro/shutdown`, SIGTERM/SIGINT or idleness, then
//!   removes its socket, broadcasts `maestro/daemonShutdown`, and lets the store's writer drain.
//! * `lsp`: the front. tower-lsp-server provides the lifecycle (initialize, shutdown, exit states) and the
//!   `Client` for server→editor requests, but not the transport: `lsp::transport` reads stdin with the
//!   framing above and **applies document sync and forwards daemon-bound requests (`maestro/*`,
//!   `workspace/executeCommand`) synchronously in read order**; other messages go to the tower service, whose
//!   futures are first polled in arrival order (so a handler's daemon call is enqueued after every
//!   notification read before it). `lsp::link` holds the connection plus a mirror of this editor's documents
//!   and workspaces: when the daemon goes away (restart, crash) it reconnects, starting a daemon, and replays
//!   the mirror under the same lock that document changes take, so no edit is lost or doubled; requests wait
//!   up to 15 s for the connection to come back. `initialize` negotiates `positionEncoding` (UTF-8 when
//!   offered, else UTF-16), advertises only incremental sync, the command table (`COMMANDS`: `maestro.x.y` →
//!   `maestro/x.y`), workspace folders and `experimental.maestro`; daemon events are relayed as `maestro/...`
//!   notifications and `maestro/progress` as LSP work-done progress, once the editor has sent
//!   `initialized` (the relay waits for it, then up to 5 s for the editor to accept each progress token).
//!   The navigation requests (`textDocument/definition`, `references`, `hover`, `documentHighlight`,
//!   `documentSymbol`, `workspace/symbol`, `textDocument/prepareCallHierarchy`,
//!   `callHierarchy/incomingCalls|outgoingCalls`) are advertised and forwarded verbatim, in read order, to
//!   their `maestro/graph.*` methods (`LSP_TO_DAEMON`): the daemon answers in LSP's shapes, and so is
//!   `textDocument/codeAction` (to `maestro/codeActions`) and `textDocument/codeLens` (to
//!   `maestro/playbook.codeLens`). After `didOpen`/`didChange` of a `.md` buffer, `lsp::playbook`
//!   waits until it has been unchanged for 150 ms, asks `maestro/playbook.lint` and publishes the
//!   problems as diagnostics (cleared on `didClose`). The agent
//!   commands (`maestro.agent.*`, `maestro.usage`) route to their methods like every command, except
//!   `maestro.agent.delegate` (`lsp::delegate`): when agents of the workspace could take the task (not
//!   running, or interactive) the front asks the editor's person with `window/showMessageRequest`
//!   (the agents, most recent first, and "New agent"; dismissing delegates nothing; an editor that
//!   cannot ask gets a new agent), then calls `maestro/agent.delegate` and says who took it; agent
//!   events reach the editor as `maestro/agentStatus` and `maestro/agentOutput` (every subscribed
//!   front gets every workspace's; filtering per editor is not done yet). A front ends at the end of its input (the relay of server→editor messages is
//!   stopped and what is queued is written within 2 s, so nothing holds it) and when the editor named
//!   by `initialize`'s `processId` is gone (looked at every 2 s): a crashed editor leaves no front
//!   keeping the daemon alive. Logs go to
//!   stderr only. In standalone
//!   mode the front takes the instance lock; if a daemon holds it, it runs on an in-memory store and tells
//!   the user.
//! * `commands`: the CLI (`cli.rs` is the clap definition). Every command is a daemon client (starting it
//!   when the command needs it), prints text or JSON lines (`--json`), and returns its exit code.
//!   `config show` and `doctor` read files themselves so that they work, and explain, when the daemon cannot
//!   start. `index` follows the daemon's progress events with an `indicatif` bar (JSON lines with
//!   `--json`); `graph` counts columns in characters (`utf-32`) and takes 1-based `FILE:LINE:COL` or a
//!   symbol's name. `agent … --wait` and `agent logs -f` subscribe before asking, print the
//!   transcript from the offset the turn started at, fill any gap from `maestro/agent.output`, and end
//!   on the agent's status event (exit code 1 for `failed` or `lost`); `agent list` prints names as a
//!   tree of their `-` parts. `playbook run` resolves paths, subscribes, starts the run and follows
//!   its `maestro/playbookProgress` events to `complete` (an `indicatif` bar of tasks on a terminal,
//!   a line per outcome otherwise, each event as a JSON line with `--json`; exit 1 unless the run
//!   finished). Text a repository or an agent chose (file names, symbols, tasks, memories, agents'
//!   reasons and warnings, config values) goes to the terminal through `text::visible`/`printable`,
//!   which write control characters out (`\u{1b}`), so a file name cannot clear the screen or set
//!   the terminal's title; `--json` keeps the exact strings (JSON escapes them), and `agent diff`
//!   prints the patch as git does. `maestro trust` shows commands with `text::shell_words`.
//!
//! **Architecture invariant:** the only crate that knows LSP and transports; nothing writes to stdout in
//! `maestro lsp` but the protocol. **API boundary:** `maestro::run(Cli)`.

pub mod cli;
pub mod client;
mod commands;
pub mod daemon;
pub mod instance;
pub mod logging;
pub mod lsp;
pub mod mcp;
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
        Command::Mcp => {
            // stdout is the protocol's: logs go to stderr, which agent CLIs keep.
            logging::init_stderr("warn");
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("maestro-mcp")
                .enable_all()
                .build()?;
            let code = runtime.block_on(mcp::run(paths));
            runtime.shutdown_timeout(Duration::from_secs(2));
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
