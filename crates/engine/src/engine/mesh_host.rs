//! How the mesh service sees this daemon (`MeshLink`): its heartbeat's record, the calls other
//! nodes make here (answered through the method table as the person), the events it publishes
//! and relays, the senders' keys, messages from other nodes, and the distributed tasks it does
//! (`do_task`) or owns (`apply_result`).

use crate::engine::{Engine, Inner};
use futures::FutureExt;
use futures::future::BoxFuture;
use maestro_mesh::{Call, Delivery, MeshHost, WorkItem, WorkResult};
use maestro_protocol::{
    AgentDiffResult, AgentState, Event, NodeAgent, NodeInfo, NodeRepo, NodeState, RpcError, method,
};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Weak;
use std::time::Duration;

/// `method` through the method table, on a connection of the person's of its own (routing
/// happens once, before).
pub(crate) async fn as_person(e: &Engine, method: &str, params: Value) -> Result<Value, RpcError> {
    let (outbox, _inbox) = tokio::sync::mpsc::channel(1);
    let session = e.connect(outbox);
    session.request_here(method, params).await
}

/// Does a distributed task here: an agent (`<run>-<n>`) in a worktree from the run's base with
/// the task's prompt; once its turn is over, the task must be ticked in its copy of the
/// document; the document is put back as on the base, and its commits are the result, as a
/// patch. The agent is removed either way.
async fn do_task(engine: &Engine, item: &WorkItem) -> Result<(String, String), String> {
    let root = {
        let (e, repo) = (engine.clone(), item.repo.clone());
        tokio::task::spawn_blocking(move || checkout_of(&e, &repo))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no checkout of the repository here")?
    };
    let name = format!("{}-{}", item.run, item.index + 1);
    let at = serde_json::json!({"name": name, "path": root});
    // An earlier attempt here (its result lost, the task given out again) leaves nothing behind.
    clean_up(engine, &root, &name, &at).await;
    let spawn = serde_json::json!({
        "name": name, "agent": item.cli, "path": root, "prompt": item.prompt,
        "base": item.base, "playbookRun": item.run,
    });
    as_person(engine, method::AGENT_SPAWN, spawn)
        .await
        .map_err(|e| e.message)?;
    let ws = crate::workspace::workspace_id(&root);
    let outcome = async {
        let info = loop {
            let info = engine.agents().get(&ws, &name).map_err(|e| e.to_string())?;
            if !info.state.is_running() {
                break info;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if info.state != AgentState::Idle {
            return Err(format!(
                "the agent's turn ended {}: {}",
                info.state.as_str(),
                info.reason.unwrap_or_default()
            ));
        }
        let copy = std::fs::read(info.worktree.join(&item.document)).map_err(|e| e.to_string())?;
        let ticked = maestro_playbook::parse(&copy)
            .tasks
            .iter()
            .any(|t| t.line == item.line && t.text == item.text && t.done);
        if !ticked {
            return Err("the agent's turn ended with the task still open".into());
        }
        engine
            .agents()
            .restore_files(
                &ws,
                &name,
                vec![item.document.clone()],
                format!(
                    "maestro: distributed run {}: the document as on its base",
                    item.run
                ),
            )
            .await
            .map_err(|e| e.to_string())?;
        let diff: AgentDiffResult = serde_json::from_value(
            as_person(engine, method::AGENT_DIFF, at.clone())
                .await
                .map_err(|e| e.message)?,
        )
        .map_err(|e| e.to_string())?;
        Ok((format!("{} commit(s)", diff.commits), diff.patch))
    }
    .await;
    clean_up(engine, &root, &name, &at).await;
    outcome
}

/// Removes a distributed task's agent `name` and its branch, if there are (its work, if any,
/// is in the result).
async fn clean_up(engine: &Engine, root: &std::path::Path, name: &str, at: &Value) {
    let ws = crate::workspace::workspace_id(root);
    if engine.agents().get(&ws, name).is_ok() {
        let mut remove = at.clone();
        remove["force"] = Value::Bool(true);
        if let Err(e) = as_person(engine, method::AGENT_REMOVE, remove).await {
            tracing::warn!(%name, "removing a distributed task's agent: {}", e.message);
        }
    }
    let (root, branch) = (root.to_owned(), maestro_agents::worktree::branch_name(name));
    let deleted = tokio::task::spawn_blocking(move || {
        maestro_agents::worktree::delete_branch(&root, &branch)
    })
    .await;
    if let Ok(Err(e)) = deleted {
        tracing::warn!(%name, "deleting a distributed task's branch: {e}");
    }
}

/// A result of a run this node owns: the work committed on the run's branch, the task ticked in
/// the document here.
fn apply_result(engine: &Engine, r: &WorkResult) -> Delivery {
    let item = &r.item;
    let Some(root) = checkout_of(engine, &item.repo) else {
        return Delivery::Refused("this node no longer has the run's checkout".into());
    };
    if !r.patch.trim().is_empty() {
        let message = format!(
            "{}\n\nmaestro: distributed run {}, task at line {}, done on node {}",
            item.text, item.run, item.line, r.node
        );
        if let Err(e) = maestro_agents::worktree::apply_on_branch(
            &root,
            &format!("maestro/{}", item.run),
            &r.patch,
            &message,
        ) {
            return Delivery::Refused(format!("its work was not applied: {e}"));
        }
    }
    let file = root.join(&item.document);
    let ticked = std::fs::read(&file).ok().and_then(|bytes| {
        let book = maestro_playbook::parse(&bytes);
        let task = book
            .tasks
            .iter()
            .find(|t| t.line == item.line && t.text == item.text)
            .or_else(|| book.tasks.iter().find(|t| t.text == item.text && !t.done))?;
        maestro_playbook::set_done(&bytes, task, true)
    });
    match ticked {
        Some(bytes) => match std::fs::write(&file, bytes) {
            Ok(()) => Delivery::Stored,
            Err(e) => Delivery::Later(format!("{}: {e}", file.display())),
        },
        None => Delivery::Refused(format!(
            "`{}` is no longer an open task of {}",
            item.text,
            file.display()
        )),
    }
}

/// How the mesh service sees this daemon.
pub(crate) struct MeshLink(pub(crate) Weak<Inner>);

impl MeshLink {
    fn engine(&self) -> Result<Engine, RpcError> {
        self.0
            .upgrade()
            .map(Engine::from_inner)
            .ok_or_else(|| RpcError::internal("the daemon is stopping"))
    }
}

/// The repositories this daemon knows (every workspace it ever opened that is still a checkout
/// with commits).
fn known_repos(engine: &Engine) -> Vec<NodeRepo> {
    let Ok(rows) = engine.store().workspaces() else {
        return Vec::new();
    };
    rows.into_iter()
        .filter_map(|w| {
            let root = PathBuf::from(&w.root);
            let repo = engine.repo_id(&root)?;
            Some(NodeRepo {
                repo,
                name: w.name,
                root,
            })
        })
        .collect()
}

/// This node's checkout of repository `repo`.
fn checkout_of(engine: &Engine, repo: &str) -> Option<PathBuf> {
    known_repos(engine)
        .into_iter()
        .find(|r| r.repo == repo)
        .map(|r| r.root)
}

/// The agent CLIs found on this node (the configured program, or the CLI's name on PATH), and
/// the custom ones configured.
fn clis_here(engine: &Engine) -> Vec<String> {
    let settings = engine.config().settings();
    maestro_agents::adapters::BUILT_IN
        .iter()
        .filter(|cli| {
            let program = settings.agents.built_in[**cli]
                .path
                .clone()
                .unwrap_or_else(|| PathBuf::from(cli));
            maestro_agents::supervisor::find_program(&program).is_some()
        })
        .map(|c| (*c).to_owned())
        .chain(settings.agents.custom.keys().cloned())
        .collect()
}

fn load_and_cores() -> (f64, u32) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    (load / f64::from(cores), cores)
}

impl MeshHost for MeshLink {
    fn beat(&self) -> BoxFuture<'static, NodeInfo> {
        let engine = self.engine().ok();
        async move {
            let (load, cores) = load_and_cores();
            let mut info = NodeInfo {
                name: String::new(),
                host: maestro_mesh::host_name(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                pid: std::process::id(),
                load,
                cores,
                running: 0,
                agents: Vec::new(),
                clis: Vec::new(),
                labels: Vec::new(),
                repos: Vec::new(),
                beat_at_ms: 0,
                started_at_ms: 0,
                state: NodeState::Live,
                this: false,
            };
            let Some(engine) = engine else {
                return info;
            };
            let found = tokio::task::spawn_blocking(move || {
                let agents = engine.agents().list(None);
                let running = agents.iter().filter(|a| a.state.is_running()).count() as u32;
                let agents = agents
                    .into_iter()
                    .map(|a| NodeAgent {
                        repo: engine.repo_id(&a.workspace_root),
                        name: a.name,
                        workspace: a.workspace,
                        workspace_root: a.workspace_root,
                        agent: a.agent,
                        state: a.state,
                        branch: a.branch,
                        turns: a.turns,
                    })
                    .collect();
                (running, agents, clis_here(&engine), known_repos(&engine))
            })
            .await;
            if let Ok((running, agents, clis, repos)) = found {
                info.running = running;
                info.agents = agents;
                info.clis = clis;
                info.repos = repos;
            }
            info
        }
        .boxed()
    }

    fn call(&self, from: &str, call: Call) -> BoxFuture<'static, Result<Value, RpcError>> {
        let engine = self.engine();
        let from = from.to_owned();
        async move {
            let engine = engine?;
            let Call {
                method,
                mut params,
                repo,
                ..
            } = call;
            if let Some(repo) = repo {
                let e = engine.clone();
                let wanted = repo.clone();
                let root = tokio::task::spawn_blocking(move || {
                    known_repos(&e).into_iter().find(|r| r.repo == wanted)
                })
                .await
                .map_err(RpcError::internal)?
                .ok_or_else(|| {
                    RpcError::not_found(format!(
                        "node {} has no checkout of this repository (root commit {}): clone it there and run `maestro up` in it",
                        engine.mesh_if_made().and_then(|m| m.name_now()).unwrap_or_default(),
                        &repo[..repo.len().min(12)]
                    ))
                })?
                .root;
                params["path"] = Value::String(root.to_string_lossy().into_owned());
            } else if let Some(path) = params.get("path").and_then(Value::as_str) {
                // Only inside the repositories this node knows (a path of this machine that
                // the caller had from an answer of this node).
                let shown = path.to_owned();
                let (e, path) = (engine.clone(), PathBuf::from(path));
                let known = tokio::task::spawn_blocking(move || {
                    known_repos(&e).iter().any(|r| path.starts_with(&r.root))
                })
                .await
                .map_err(RpcError::internal)?;
                if !known {
                    return Err(RpcError::not_found(format!(
                        "node {} has no repository at {shown}",
                        engine.mesh_if_made().and_then(|m| m.name_now()).unwrap_or_default()
                    )));
                }
            }
            tracing::debug!(%from, %method, "a call from the mesh");
            as_person(&engine, &method, params).await
        }
        .boxed()
    }

    fn events(&self) -> tokio::sync::broadcast::Receiver<Event> {
        match self.engine() {
            Ok(e) => e.events(),
            Err(_) => tokio::sync::broadcast::channel(1).1,
        }
    }

    fn relay(&self, event: Event) {
        if let Ok(e) = self.engine() {
            e.emit(event);
        }
    }

    fn keys(&self) -> BoxFuture<'static, Vec<(String, String)>> {
        let engine = self.engine().ok();
        async move {
            let Some(engine) = engine else {
                return Vec::new();
            };
            tokio::task::spawn_blocking(move || {
                let keys = engine.post().mailboxes().keys();
                let person = engine.person().to_owned();
                std::iter::once(person)
                    .chain(
                        engine
                            .agents()
                            .list(None)
                            .iter()
                            .map(|a| maestro_comms::agent_address(&a.workspace, &a.name)),
                    )
                    .filter_map(|address| {
                        let owner = maestro_comms::owner_of(&address);
                        let public = keys.public(&owner).ok()?;
                        Some((owner, public))
                    })
                    .collect()
            })
            .await
            .unwrap_or_default()
        }
        .boxed()
    }

    fn deliver(&self, from: String, body: Value) -> BoxFuture<'static, Delivery> {
        let engine = self.engine().ok();
        async move {
            let Some(engine) = engine else {
                return Delivery::Later("the daemon is stopping".into());
            };
            let signed: maestro_comms::Signed = match serde_json::from_value(body) {
                Ok(s) => s,
                Err(e) => return Delivery::Refused(format!("not a signed message: {e}")),
            };
            let owner = maestro_comms::owner_of(&signed.envelope.from);
            let Some(public) = engine.mesh_if_made().and_then(|m| m.key_of(&from, &owner)) else {
                return Delivery::Later(format!(
                    "node {from} has not published the key of {} yet",
                    signed.envelope.from
                ));
            };
            tokio::task::spawn_blocking(move || {
                use maestro_comms::{MailError, PostError};
                let now = maestro_store::unix_now_ms();
                match engine.post().receive(&signed, &public, &from, now) {
                    Ok(_) => Delivery::Stored,
                    Err(PostError::Mail(MailError::Store(e))) => Delivery::Later(e.to_string()),
                    Err(e) => Delivery::Refused(format!(
                        "message {} from {} (node {from}): {e}",
                        signed.envelope.id, signed.envelope.from
                    )),
                }
            })
            .await
            .unwrap_or_else(|e| Delivery::Later(e.to_string()))
        }
        .boxed()
    }

    fn can_work(&self, item: &WorkItem) -> Result<(), String> {
        let engine = self.engine().map_err(|e| e.message)?;
        if checkout_of(&engine, &item.repo).is_none() {
            return Err("no checkout of the repository here".into());
        }
        if !clis_here(&engine).contains(&item.cli) {
            return Err(format!("no {} here", item.cli));
        }
        Ok(())
    }

    fn work(&self, item: WorkItem) -> BoxFuture<'static, WorkResult> {
        let engine = self.engine();
        async move {
            let node = engine
                .as_ref()
                .ok()
                .and_then(|e| e.mesh_if_made())
                .and_then(|m| m.name_now())
                .unwrap_or_default();
            let mut result = WorkResult {
                item,
                node,
                done: false,
                summary: String::new(),
                patch: String::new(),
            };
            match engine {
                Ok(engine) => match do_task(&engine, &result.item).await {
                    Ok((summary, patch)) => {
                        result.done = true;
                        result.summary = summary;
                        result.patch = patch;
                    }
                    Err(why) => result.summary = why,
                },
                Err(e) => result.summary = e.message,
            }
            result
        }
        .boxed()
    }

    fn apply(&self, r: WorkResult) -> BoxFuture<'static, Delivery> {
        let engine = self.engine();
        async move {
            let Ok(engine) = engine else {
                return Delivery::Later("the daemon is stopping".into());
            };
            tokio::task::spawn_blocking(move || apply_result(&engine, &r))
                .await
                .unwrap_or_else(|e| Delivery::Later(e.to_string()))
        }
        .boxed()
    }

    fn hold(&self) -> Option<Box<dyn Send + Sync>> {
        let guard = self.engine().ok()?.begin_work();
        Some(Box::new(guard))
    }
}
