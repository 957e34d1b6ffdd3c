//! `maestro agent export|import|transfer|snapshot|snapshots|rollback|fork`.

use super::{human_bytes, print_json};
use crate::cli::AgentAction;
use crate::client::Connected;
use maestro_engine::text::printable;
use maestro_protocol::{
    AgentExportParams, AgentExportResult, AgentForkParams, AgentImportParams, AgentInfo,
    AgentRollbackParams, AgentRollbackResult, AgentSnapshotParams, AgentTransferParams,
    SnapshotInfo, method,
};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The passphrase of a sealed key: the first line of `file`, else `MAESTRO_PASSPHRASE`.
fn passphrase(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("--passphrase-file {}: {e}", file.display()))?;
        let line = text.lines().next().unwrap_or_default().to_owned();
        if line.is_empty() {
            anyhow::bail!(
                "--passphrase-file {}: its first line is empty",
                file.display()
            );
        }
        return Ok(Some(line));
    }
    Ok(std::env::var("MAESTRO_PASSPHRASE")
        .ok()
        .filter(|p| !p.is_empty()))
}

fn absolute(here: &Path, p: PathBuf) -> PathBuf {
    if p.is_absolute() { p } else { here.join(p) }
}

fn notes(notes: &[String]) {
    for n in notes {
        println!("  note: {}", printable(n));
    }
}

fn snapshot_line(s: &SnapshotInfo) -> String {
    format!(
        "  {:>3}  {}  {}  {}{}",
        s.id,
        maestro_agents::supervisor::day_of(s.at),
        s.commit.as_deref().map_or("-", |c| &c[..c.len().min(10)]),
        human_bytes(s.bytes),
        s.note
            .as_deref()
            .map_or(String::new(), |n| format!("  {}", printable(n)))
    )
}

/// Runs one of the portable agent actions (`agent.rs` hands only those here).
pub(super) async fn act(
    c: &mut Connected,
    path: &Path,
    action: AgentAction,
) -> anyhow::Result<i32> {
    let code = match action {
        AgentAction::Export {
            name,
            output,
            with_key,
            passphrase_file,
            output_format,
        } => {
            let file = absolute(
                path,
                output.unwrap_or_else(|| PathBuf::from(format!("{name}.maestro-agent"))),
            );
            let pass = if with_key {
                passphrase(passphrase_file.as_deref())?
            } else {
                None
            };
            let r: AgentExportResult = c
                .client
                .request(
                    method::AGENT_EXPORT,
                    AgentExportParams {
                        name: name.clone(),
                        path: path.to_owned(),
                        output: file,
                        with_key,
                        passphrase: pass,
                    },
                )
                .await?;
            if output_format.json {
                print_json(&r);
            } else {
                println!(
                    "exported {name} to {} ({}; {} uncompressed): {} memories, {} messages{}",
                    r.file.display(),
                    human_bytes(r.bytes),
                    human_bytes(r.raw_bytes),
                    r.memories,
                    r.messages,
                    if with_key { ", its key sealed" } else { "" }
                );
                notes(&r.notes);
            }
            0
        }
        AgentAction::Import {
            file,
            name,
            passphrase_file,
            output,
        } => {
            let info: AgentInfo = c
                .client
                .request(
                    method::AGENT_IMPORT,
                    AgentImportParams {
                        file: absolute(path, file),
                        path: path.to_owned(),
                        name,
                        passphrase: passphrase(passphrase_file.as_deref())?,
                    },
                )
                .await?;
            if output.json {
                print_json(&info);
            } else {
                println!(
                    "imported {} ({}) in {}{}",
                    info.name,
                    info.agent,
                    info.worktree.display(),
                    if info.session_id.is_some() {
                        ": its next turn resumes its session"
                    } else {
                        ""
                    }
                );
                notes(&info.notes);
            }
            0
        }
        AgentAction::Transfer { name, to, output } => {
            let info: AgentInfo = c
                .client
                .request(
                    method::AGENT_TRANSFER,
                    AgentTransferParams {
                        name,
                        path: path.to_owned(),
                        to,
                    },
                )
                .await?;
            if output.json {
                print_json(&info);
            } else {
                println!(
                    "{} is on node {} now, in {}",
                    info.name,
                    info.node.as_deref().unwrap_or("?"),
                    info.worktree.display()
                );
                notes(&info.notes);
            }
            0
        }
        AgentAction::Snapshot {
            name,
            message,
            output,
        } => {
            let s: SnapshotInfo = c
                .client
                .request(
                    method::AGENT_SNAPSHOT,
                    AgentSnapshotParams {
                        name,
                        path: path.to_owned(),
                        note: message,
                    },
                )
                .await?;
            if output.json {
                print_json(&s);
            } else {
                println!("snapshot {} of {}", s.id, s.agent);
                println!("{}", snapshot_line(&s));
            }
            0
        }
        AgentAction::Snapshots { name, output } => {
            let all: Vec<SnapshotInfo> = c
                .client
                .request(method::AGENT_SNAPSHOTS, json!({"name": name, "path": path}))
                .await?;
            if output.json {
                print_json(&all);
            } else if all.is_empty() {
                println!("{name} has no snapshots (`maestro agent snapshot {name}` takes one)");
            } else {
                for s in &all {
                    println!("{}", snapshot_line(s));
                }
            }
            0
        }
        AgentAction::Rollback {
            name,
            snapshot,
            output,
        } => {
            let r: AgentRollbackResult = c
                .client
                .request(
                    method::AGENT_ROLLBACK,
                    AgentRollbackParams {
                        name: name.clone(),
                        path: path.to_owned(),
                        snapshot,
                    },
                )
                .await?;
            if output.json {
                print_json(&r);
            } else {
                println!(
                    "{name} is back at snapshot {}; where it was is snapshot {} (`maestro agent rollback {name} {}` goes back there)",
                    r.restored.id, r.before.id, r.before.id
                );
            }
            0
        }
        AgentAction::Fork { name, new, output } => {
            let info: AgentInfo = c
                .client
                .request(
                    method::AGENT_FORK,
                    AgentForkParams {
                        name: name.clone(),
                        path: path.to_owned(),
                        new,
                    },
                )
                .await?;
            if output.json {
                print_json(&info);
            } else {
                println!(
                    "forked {name} as {} in {} (branch {})",
                    info.name,
                    info.worktree.display(),
                    info.branch.as_deref().unwrap_or("-")
                );
                notes(&info.notes);
            }
            0
        }
        _ => unreachable!("agent.rs hands only the portable actions here"),
    };
    Ok(code)
}
