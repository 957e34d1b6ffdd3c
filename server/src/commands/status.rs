//! `maestro status` and `maestro up`.

use super::graph::{Shown, index_with_progress};
use super::{connect_cli, human_bytes, human_duration, print_json};
use maestro_engine::Paths;
use maestro_engine::text::printable;
use maestro_engine::workspace::find_root;
use maestro_protocol::{
    ClientKind, IndexResult, StatusResult, WorkspaceInfo, WorkspaceKind, WorkspaceOpenParams,
    method,
};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusOutput<'a> {
    /// Whether this command started the daemon.
    started: bool,
    /// The workspace of the current directory, as registered.
    workspace: Option<&'a WorkspaceInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workspace_error: Option<String>,
    /// `up`: the index run of the workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<&'a IndexResult>,
    #[serde(flatten)]
    status: &'a StatusResult,
}

/// Starts the daemon if needed, registers the current directory's workspace, prints the state.
pub async fn status(paths: &Paths, json: bool, up: bool) -> anyhow::Result<i32> {
    let mut c = connect_cli(paths, true).await?;
    if c.started && !json {
        eprintln!("started the maestro daemon (pid {})", c.hello.pid);
    }
    // `up` registers whatever directory it runs in; `status` only a git repository, so that asking
    // for the status in, say, the home directory does not make it a workspace.
    let here = std::env::current_dir()
        .map_err(|e| e.to_string())
        .and_then(|cwd| {
            let root = find_root(&cwd).map_err(|e| e.to_string())?;
            Ok((cwd, root.kind))
        });
    let opened = match here {
        Ok((cwd, kind)) if up || kind == WorkspaceKind::Git => c
            .client
            .request::<_, WorkspaceInfo>(
                method::WORKSPACE_OPEN,
                // `up` indexes below; `status` only registers.
                WorkspaceOpenParams {
                    path: cwd,
                    index: false,
                },
            )
            .await
            .map(Some)
            .map_err(|e| e.to_string()),
        Ok(_) => Ok(None),
        Err(e) => Err(e),
    };
    // `up` indexes the workspace (or waits for the pass its opening started), with a bar.
    let index = match (&opened, up) {
        (Ok(Some(w)), true) => {
            let shown = if json { Shown::Nothing } else { Shown::Bar };
            match index_with_progress(&mut c, w.root.clone(), shown).await {
                Ok(result) => Some(result),
                // The status is still worth printing.
                Err(e) => {
                    eprintln!("maestro: indexing {} failed: {e:#}", w.root.display());
                    None
                }
            }
        }
        _ => None,
    };
    let status: StatusResult = c
        .client
        .request(method::STATUS, serde_json::json!({}))
        .await?;
    let (workspace, workspace_error) = match &opened {
        Ok(w) => (w.as_ref(), None),
        Err(e) => (None, Some(e.clone())),
    };
    if json {
        print_json(&StatusOutput {
            started: c.started,
            workspace,
            workspace_error,
            index: index.as_ref(),
            status: &status,
        });
    } else {
        print!("{}", printable(&render(&status, workspace)));
        if let Some(index) = &index {
            print!("{}", printable(&super::graph::summary(index)));
        }
        match (&opened, workspace_error) {
            (_, Some(e)) => println!("  ! this directory is not a workspace: {e}"),
            (Ok(None), _) => println!(
                "  (this directory is not in a git repository; `maestro up` registers it anyway)"
            ),
            _ => {}
        }
        if up {
            print!("{}", editor_hints());
        }
    }
    Ok(0)
}

/// The status as people read it.
pub fn render(s: &StatusResult, current: Option<&WorkspaceInfo>) -> String {
    let mut out = format!(
        "maestro {} — {} running, pid {}, up {}\n",
        s.version,
        match s.mode {
            maestro_protocol::HostMode::Daemon => "daemon",
            maestro_protocol::HostMode::Standalone => "standalone engine",
        },
        s.pid,
        human_duration(s.uptime_secs)
    );
    let mut line = |label: &str, value: String| out.push_str(&format!("  {label:<10} {value}\n"));
    if let Some(socket) = &s.socket {
        line("socket", socket.display().to_string());
    }
    let store = match (&s.store.path, s.store.size_bytes) {
        (Some(p), Some(size)) => format!(
            "{} (schema {}, {})",
            p.display(),
            s.store.schema_version,
            human_bytes(size)
        ),
        (Some(p), None) => format!("{} (schema {})", p.display(), s.store.schema_version),
        (None, _) => format!("in memory (schema {})", s.store.schema_version),
    };
    line("store", store);
    if let Some(log) = &s.log_file {
        line("log", log.display().to_string());
    }
    line(
        "idle exit",
        match s.idle_timeout_secs {
            0 => "never (daemon.idle_timeout_secs = 0)".to_owned(),
            n => format!(
                "after {} with no clients and no work",
                human_duration(n as f64)
            ),
        },
    );
    let clients: Vec<String> = s
        .sessions
        .iter()
        .map(|c| {
            let kind = match c.client.kind {
                ClientKind::Cli => "cli",
                ClientKind::Lsp => "editor",
                ClientKind::Mcp => "agent",
                ClientKind::Other => "other",
            };
            match c.documents {
                0 => format!("{} ({kind})", c.client.name),
                n => format!("{} ({kind}, {n} open documents)", c.client.name),
            }
        })
        .collect();
    line(
        "clients",
        format!("{}: {}", clients.len(), clients.join(", ")),
    );
    for w in &s.workspaces {
        let kind = match w.kind {
            WorkspaceKind::Git => "git",
            WorkspaceKind::Folder => "folder",
        };
        let marker = if current.is_some_and(|c| c.id == w.id) {
            "  ← here"
        } else {
            ""
        };
        line(
            "workspace",
            format!("{} ({kind}) {}{marker}", w.name, w.root.display()),
        );
        if let Some(e) = &w.config_error {
            for problem in e.lines() {
                line("", format!("! {problem}"));
            }
        }
    }
    line(
        "known",
        format!("{} in the store", plural(s.known_workspaces, "workspace")),
    );
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// How to point an editor at `maestro lsp`: the clients of the checkout this binary was built
/// from (absolute paths while that checkout is still there).
fn editor_hints() -> String {
    let built_from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors");
    let editors = match built_from.canonicalize() {
        Ok(dir) if dir.join("neovim/lua/maestro/init.lua").exists() => dir.display().to_string(),
        _ => "editors".to_owned(),
    };
    format!(
        "\nEditors (the clients are in the maestro checkout's editors/):\n\
         \x20 VS Code  code --install-extension {editors}/vscode/dist/maestro.vsix   (./install.sh builds it)\n\
         \x20 Neovim   vim.opt.runtimepath:prepend('{editors}/neovim'); require('maestro').setup{{}}\n\
         \x20 Helix    merge {editors}/helix/languages.toml (and config.toml: commands on space m)\n\
         \x20 Zed      zed: install dev extension → {editors}/zed\n\
         \x20 Other    any LSP client can run `maestro lsp` (stdio)\n\
         \x20 Check    maestro doctor\n"
    )
}
