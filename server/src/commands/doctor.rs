//! `maestro doctor`: what this machine has and lacks, each with the fix to apply. Read-only: it starts
//! nothing and changes nothing.

use super::{cli_options, human_bytes, print_json};
use crate::client::{ClientError, connect};
use crate::instance::{self, Role};
use maestro_engine::workspace::find_root;
use maestro_engine::{Config, Paths};
use serde::Serialize;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
    /// Not needed by what this build does.
    Skip,
}

#[derive(Debug, Serialize)]
struct Check {
    check: String,
    status: Status,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

fn check(name: &str, status: Status, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        check: name.to_owned(),
        status,
        detail: detail.into(),
        fix: fix.map(str::to_owned),
    }
}

/// The embedding runtime and model: found where, and whether they load (a real load, ~0.3 s).
async fn embedding() -> Vec<Check> {
    use maestro_memory::{EmbedError, Embedder, FastEmbedder, ModelPaths};
    const FIX: &str = "maestro models install";
    let paths = ModelPaths::from_env();
    let runtime = match &paths.runtime {
        Some(p) => check(
            "embedding runtime",
            Status::Ok,
            p.display().to_string(),
            None,
        ),
        None => check(
            "embedding runtime",
            Status::Warn,
            format!(
                "no ONNX Runtime in {}; memory search is by keywords only",
                paths.models_dir.join("onnxruntime").display()
            ),
            Some(FIX),
        ),
    };
    let loaded = {
        let paths = paths.clone();
        tokio::task::spawn_blocking(move || FastEmbedder::load(&paths, 1)).await
    };
    let model = match loaded {
        Ok(Ok(e)) => check(
            "embedding model",
            Status::Ok,
            format!(
                "{} ({}-d) in {}",
                e.model(),
                e.dim(),
                paths.model_dir.display()
            ),
            None,
        ),
        Ok(Err(EmbedError::NoRuntime { .. })) => check(
            "embedding model",
            Status::Skip,
            "needs the runtime first",
            None,
        ),
        Ok(Err(e)) => check("embedding model", Status::Warn, e.to_string(), Some(FIX)),
        Err(e) => check("embedding model", Status::Fail, e.to_string(), Some(FIX)),
    };
    vec![runtime, model]
}

/// Agent CLIs maestro drives, with how to install each.
const AGENT_CLIS: &[(&str, &str)] = &[
    ("claude", "npm install -g @anthropic-ai/claude-code"),
    ("codex", "npm install -g @openai/codex"),
    ("gemini", "npm install -g @google/gemini-cli"),
    ("opencode", "npm install -g opencode-ai"),
    (
        "aider",
        "python3 -m pip install aider-install && aider-install",
    ),
];

pub async fn run(paths: &Paths, json: bool) -> anyhow::Result<i32> {
    let mut checks = vec![git()];
    // Program paths are user-only keys: the user's config says which program runs.
    let user = Config::load_user(paths).unwrap_or_default();
    for (program, install) in AGENT_CLIS {
        let key = format!("agents.{program}.path");
        let configured = user
            .settings()
            .agents
            .built_in
            .get(*program)
            .and_then(|c| c.path.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        checks.push(if !configured.is_empty() {
            match on_path(&configured) {
                Some(p) => check(
                    program,
                    Status::Ok,
                    format!("{} (from {key})", p.display()),
                    None,
                ),
                None => check(
                    program,
                    Status::Fail,
                    format!("{configured} (from {key}) does not exist or is not executable"),
                    Some(&format!(
                        "fix {key}, or remove it to use {program} from PATH"
                    )),
                ),
            }
        } else {
            match on_path(program) {
                Some(p) => check(program, Status::Ok, format!("{}", p.display()), None),
                None => check(
                    program,
                    Status::Warn,
                    format!("not on PATH; agents of this kind cannot run (or set {key})"),
                    Some(install),
                ),
            }
        });
    }
    checks.extend(embedding().await);
    checks.push(match on_path("nats-server") {
        Some(p) => check("nats-server", Status::Ok, format!("{}", p.display()), None),
        None => check(
            "nats-server",
            Status::Skip,
            "not on PATH; only the multi-machine mesh needs it, and it is not part of this build",
            Some("for the mesh later: sudo apt-get install nats-server"),
        ),
    });
    checks.extend(config_checks(paths));
    checks.push(runtime_dir(&paths.runtime_dir));
    checks.push(store(&paths.store_file()));
    checks.push(daemon(paths).await);

    let failed = checks.iter().any(|c| c.status == Status::Fail);
    if json {
        for c in &checks {
            print_json(c);
        }
    } else {
        let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
        for c in &checks {
            let mark = match c.status {
                Status::Ok => "✓",
                Status::Warn => "!",
                Status::Fail => "✗",
                Status::Skip => "-",
            };
            println!("{mark} {:<width$}  {}", c.check, c.detail);
            if let Some(fix) = &c.fix {
                println!("  {:<width$}  fix: {fix}", "");
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn on_path(program: &str) -> Option<PathBuf> {
    maestro_agents::supervisor::find_program(std::path::Path::new(program))
}

fn git() -> Check {
    match std::process::Command::new("git").arg("--version").output() {
        Ok(out) if out.status.success() => check(
            "git",
            Status::Ok,
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            None,
        ),
        _ => check(
            "git",
            Status::Fail,
            "git is not on PATH; workspaces and agent worktrees need it",
            Some("install git (Debian/Ubuntu: sudo apt-get install git)"),
        ),
    }
}

fn config_checks(paths: &Paths) -> Vec<Check> {
    let mut checks = Vec::new();
    let user = match Config::load_user(paths) {
        Ok(c) => {
            let detail = match c.user_layer() {
                Some(layer) => format!("{} is valid", layer.file.display()),
                None => format!("no {} (defaults apply)", paths.user_config_file().display()),
            };
            checks.push(check("user config", Status::Ok, detail, None));
            c
        }
        Err(e) => {
            checks.push(check(
                "user config",
                Status::Fail,
                e.to_string(),
                Some("correct the file; `maestro config show` lists the keys"),
            ));
            Config::default()
        }
    };
    if let Some(root) = std::env::current_dir()
        .ok()
        .and_then(|d| find_root(&d).ok())
    {
        let file = maestro_engine::paths::workspace_config_file(&root.root);
        match user.with_workspace(&root.root) {
            Ok(c) if c.workspace_layer().is_some() => checks.push(check(
                "repository config",
                Status::Ok,
                format!("{} is valid", file.display()),
                None,
            )),
            Ok(_) => {}
            Err(e) => checks.push(check(
                "repository config",
                Status::Fail,
                e.to_string(),
                Some("correct the file; `maestro config show` lists the keys"),
            )),
        }
    }
    checks
}

fn runtime_dir(dir: &Path) -> Check {
    let name = "socket directory";
    let Ok(meta) = std::fs::metadata(dir) else {
        return check(
            name,
            Status::Ok,
            format!("{} (created with mode 0700 on first start)", dir.display()),
            None,
        );
    };
    let me = rustix::process::getuid().as_raw();
    if meta.uid() != me {
        return check(
            name,
            Status::Fail,
            format!(
                "{} belongs to uid {}, not to you (uid {me})",
                dir.display(),
                meta.uid()
            ),
            Some("set MAESTRO_HOME or XDG_RUNTIME_DIR to a directory of yours"),
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode != 0o700 {
        return check(
            name,
            Status::Warn,
            format!(
                "{} has mode {mode:o}; others may reach the daemon's socket",
                dir.display()
            ),
            Some(&format!("chmod 700 {}", dir.display())),
        );
    }
    let socket = dir.join("daemon.sock");
    match std::fs::symlink_metadata(&socket) {
        Ok(m) if !m.file_type().is_socket() => check(
            name,
            Status::Fail,
            format!("{} is not a socket", socket.display()),
            Some(&format!("move {} away", socket.display())),
        ),
        Ok(m) if m.permissions().mode() & 0o077 != 0 => check(
            name,
            Status::Warn,
            format!(
                "{} has mode {:o}",
                socket.display(),
                m.permissions().mode() & 0o777
            ),
            Some(&format!("chmod 600 {}", socket.display())),
        ),
        _ => check(
            name,
            Status::Ok,
            format!("{} (mode 0700, socket 0600)", dir.display()),
            None,
        ),
    }
}

fn store(file: &Path) -> Check {
    match maestro_store::inspect(file, true) {
        Ok(info) => match info.schema_version {
            Some(v) => check(
                "store",
                Status::Ok,
                format!(
                    "{} (schema {v}, {}, consistent)",
                    file.display(),
                    human_bytes(info.size_bytes)
                ),
                None,
            ),
            None => check(
                "store",
                Status::Ok,
                format!("{} (created on first start)", file.display()),
                None,
            ),
        },
        Err(e) => check(
            "store",
            Status::Fail,
            e.to_string(),
            Some("restore a backup with `maestro store restore FILE`, or move the file away"),
        ),
    }
}

async fn daemon(paths: &Paths) -> Check {
    match connect(paths, &cli_options(paths, false)).await {
        Ok(c) => check(
            "daemon",
            Status::Ok,
            format!("running, pid {}, version {}", c.hello.pid, c.hello.version),
            None,
        ),
        Err(ClientError::NotRunning { .. }) => match instance::owner(paths) {
            Some(o) if o.role != Role::Daemon => check(
                "daemon",
                Status::Ok,
                format!("not running; the store is held by {o}"),
                None,
            ),
            Some(o) => check(
                "daemon",
                Status::Fail,
                format!("{o} holds the store but does not answer on its socket"),
                Some("maestro daemon restart"),
            ),
            None => check(
                "daemon",
                Status::Ok,
                "not running (any maestro command starts it)",
                None,
            ),
        },
        Err(e) => check(
            "daemon",
            Status::Fail,
            e.to_string(),
            Some("maestro daemon restart"),
        ),
    }
}
