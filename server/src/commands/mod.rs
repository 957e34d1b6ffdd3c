//! The CLI's commands. Each talks to the daemon as a client (starting it when the command needs it),
//! prints text for people or JSON lines with `--json`, and returns the process exit code.

mod agent;
mod attach;
mod attention;
mod chat;
mod config;
mod daemon;
mod doctor;
mod follow;
pub(crate) mod graph;
mod memory;
mod mesh;
mod messages;
mod playbook;
mod portable;
mod status;
mod store;
mod trust;

use crate::cli::{Command, ConfigAction, DaemonAction, StoreAction};
use crate::client::{ConnectOptions, Connected, connect};
use maestro_engine::{Config, Paths};
use maestro_protocol::{ClientInfo, ClientKind, PositionEncoding};
use serde::Serialize;

/// Exit code of `maestro daemon status` when the daemon is not running (as `systemctl status`).
pub const EXIT_NOT_RUNNING: i32 = 3;

/// Runs a command other than `daemon` (foreground) and `lsp`, which own their process.
pub async fn run(command: Command, paths: Paths) -> anyhow::Result<i32> {
    match command {
        Command::Up(out) => status::status(&paths, out.json, true).await,
        Command::Status(out) => status::status(&paths, out.json, false).await,
        Command::Daemon {
            action: Some(action),
        } => match action {
            DaemonAction::Start(out) => daemon::start(&paths, out.json).await,
            DaemonAction::Stop(out) => daemon::stop(&paths, out.json).await,
            DaemonAction::Restart(out) => daemon::restart(&paths, out.json).await,
            DaemonAction::Status(out) => daemon::status(&paths, out.json).await,
            DaemonAction::Logs { lines, follow } => daemon::logs(&paths, lines, follow).await,
        },
        Command::Config {
            action: ConfigAction::Show(out),
        } => config::show(&paths, out.json),
        Command::Doctor(out) => doctor::run(&paths, out.json).await,
        Command::Index { path, output } => graph::index(&paths, path.as_deref(), output.json).await,
        Command::Graph { action } => graph::graph(&paths, action).await,
        Command::Agent { action, node } => agent::run(&paths, action, node).await,
        Command::Mesh { action } => mesh::run(&paths, action).await,
        Command::Playbook { action } => playbook::run(&paths, action).await,
        Command::Memory { action } => memory::run(&paths, action).await,
        Command::Search {
            query,
            k,
            all,
            output,
        } => memory::code_search(&paths, &query.join(" "), k, all, output.json).await,
        Command::Models { action } => memory::models(action).await,
        Command::Trust {
            path,
            yes,
            revoke,
            output,
        } => trust::run(&paths, path.as_deref(), yes, revoke, output.json).await,
        Command::Inbox { all, limit, output } => {
            messages::inbox(&paths, all, limit, output.json).await
        }
        Command::Msg { action } => messages::run(&paths, action).await,
        Command::Chat { action } => chat::run(&paths, action).await,
        Command::Attention { action, output } => attention::run(&paths, action, output.json).await,
        Command::Usage { by, all, output } => agent::usage(&paths, &by, all, output.json).await,
        Command::Store { action } => match action {
            StoreAction::Backup {
                file,
                force,
                output,
            } => store::backup(&paths, &file, force, output.json).await,
            StoreAction::Restore { file, output } => {
                store::restore(&paths, &file, output.json).await
            }
        },
        Command::Daemon { action: None }
        | Command::Lsp { .. }
        | Command::Mcp
        | Command::Completions { .. }
        | Command::QueryWorker => {
            unreachable!("handled by main")
        }
    }
}

/// How the CLI introduces itself to the daemon.
fn cli_options(paths: &Paths, autostart: bool) -> ConnectOptions {
    // A broken user config must not stop the CLI from reaching the daemon (or from saying why the
    // daemon cannot start): the frame limit falls back to its default.
    let config = Config::load_user(paths).unwrap_or_default();
    ConnectOptions {
        client: ClientInfo {
            name: "maestro-cli".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            kind: ClientKind::Cli,
            pid: Some(std::process::id()),
        },
        encoding: PositionEncoding::Utf16,
        autostart,
        max_frame: config.settings().max_frame_bytes,
        agent_token: None,
    }
}

async fn connect_cli(
    paths: &Paths,
    autostart: bool,
) -> Result<Connected, crate::client::ClientError> {
    connect(paths, &cli_options(paths, autostart)).await
}

fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string(value).expect("output always serializes")
    );
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_duration(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(52 * 1024 + 300), "52.3 KiB");
        assert_eq!(human_duration(59.9), "59s");
        assert_eq!(human_duration(3725.0), "1h 2m");
        assert_eq!(human_duration(90000.0), "1d 1h");
    }
}
