//! The mesh's requests (`maestro/mesh.*`, distributed runs started here) and how an agent
//! request reaches the node the agent runs on. How this daemon answers other nodes is the mesh
//! service's host, `engine/mesh_host.rs`.
//!
//! Routing (`route`), only while joined and only for the person's connections: an agent method
//! whose params name another `node` goes there; one naming no node goes where the agent directory
//! says the agent runs when this node has no such agent; `maestro/agent.list` without a node asks
//! every live node and adds the agents of gone nodes as lost. A request crosses as the method and
//! its params with the repository named by its root commit; the node called puts the path of its
//! own checkout of that repository in the params and answers through its method table, never
//! routing again (a call cannot bounce between nodes).

use crate::agent_settings::workspace_of;
use crate::config::Config;
use crate::engine::Engine;
use crate::session::{Answer, Reply, Session};
use crate::workspace::find_root;
use futures::FutureExt;
use maestro_mesh::{Auth, Call, Mesh, MeshOptions, REMOTE_METHODS, WorkItem};
use maestro_protocol::rpc::NoParams;
use maestro_protocol::{
    AgentInfo, AgentState, AgentTransferParams, MeshMembership, MeshReceiveParams, MeshRunInfo,
    MeshRunParams, NodeInfo, NodeState, RpcError, code, method,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The mesh service of this engine (made, idle, at the first use).
fn mesh(engine: &Engine) -> &Arc<Mesh> {
    engine.mesh()
}

/// This node's name, or the error of a node that is not in the mesh.
async fn joined_name(mesh: &Mesh) -> Result<String, RpcError> {
    mesh.name()
        .await
        .ok_or_else(|| RpcError::from(maestro_mesh::MeshError::NotJoined))
}

/// A daemon starting: it joins again when it was a member when it stopped. Failures are logged
/// and shown by `maestro mesh status`; the daemon keeps trying every 10 s until it joins or
/// the person leaves.
pub fn start_mesh(engine: &Engine) {
    let Some(marker) = engine.mesh_joined_file() else {
        return;
    };
    if !marker.exists() || engine.config().settings().mesh.urls.is_empty() {
        return;
    }
    let engine = engine.clone();
    tokio::spawn(async move {
        loop {
            let options = match options(engine.config()) {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!("not joining the mesh: {}", e.message);
                    return;
                }
            };
            match mesh(&engine).join(options).await {
                Ok(_) => return,
                Err(e) => tracing::warn!("joining the mesh: {e}; again in 10 s"),
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
            if engine.mesh_joined_file().is_none_or(|m| !m.exists()) {
                return;
            }
        }
    });
}

/// A daemon stopping: its node leaves the mesh at once (its record and directory entries are
/// removed), and joins again when it starts.
pub async fn stop_mesh(engine: &Engine) {
    if let Some(mesh) = engine.mesh_if_made() {
        mesh.leave().await;
    }
}

/// The user's `mesh.*` keys as joining needs them: credentials read from their files.
fn options(config: &Config) -> Result<MeshOptions, RpcError> {
    let m = &config.settings().mesh;
    let invalid = |detail: String| RpcError::new(code::CONFIG_INVALID, detail);
    let secret = |key: &str, file: &str| -> Result<String, RpcError> {
        let path = expand(file).map_err(|e| invalid(format!("{key}: {e}")))?;
        check_private(&path).map_err(|e| invalid(format!("{key}: {e}")))?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid(format!("{key}: cannot read {}: {e}", path.display())))?;
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Err(invalid(format!("{key}: {} is empty", path.display())));
        }
        Ok(text)
    };
    let auth = match (
        m.user.is_empty(),
        m.password_file.is_empty(),
        m.nkey_seed_file.is_empty(),
    ) {
        (true, true, true) => Auth::None,
        (false, false, true) => Auth::UserPassword {
            user: m.user.clone(),
            password: secret(crate::config::MESH_PASSWORD_FILE, &m.password_file)?,
        },
        (true, true, false) => {
            let seed = secret(crate::config::MESH_NKEY_SEED_FILE, &m.nkey_seed_file)?;
            // The seed file may hold more than the seed (`nsc` writes comments): its `SU…` line.
            let seed = seed
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("SU"))
                .ok_or_else(|| {
                    invalid(format!(
                        "{}: {} holds no user nkey seed (a line starting with SU)",
                        crate::config::MESH_NKEY_SEED_FILE,
                        m.nkey_seed_file
                    ))
                })?
                .to_owned();
            Auth::Nkey(seed)
        }
        (false, true, _) => {
            return Err(invalid(format!(
                "{} is set but {} is not: set both, or neither",
                crate::config::MESH_USER,
                crate::config::MESH_PASSWORD_FILE
            )));
        }
        (true, false, _) => {
            return Err(invalid(format!(
                "{} is set but {} is not: set both, or neither",
                crate::config::MESH_PASSWORD_FILE,
                crate::config::MESH_USER
            )));
        }
        (false, false, false) => {
            return Err(invalid(format!(
                "both a user ({}) and an nkey seed ({}) are set: choose one",
                crate::config::MESH_USER,
                crate::config::MESH_NKEY_SEED_FILE
            )));
        }
    };
    let ca_file = (!m.ca_file.is_empty())
        .then(|| expand(&m.ca_file))
        .transpose()
        .map_err(|e| invalid(format!("{}: {e}", crate::config::MESH_CA_FILE)))?;
    let name = if m.name.is_empty() {
        // A host name may hold dots or other characters a node name may not.
        let host: String = maestro_mesh::host_name()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        host
    } else {
        m.name.clone()
    };
    Ok(MeshOptions {
        urls: m.urls.clone(),
        name,
        auth,
        ca_file,
        heartbeat: m.heartbeat,
        ttl: m.ttl,
        labels: m.labels.clone(),
        workers: m.workers,
        task_deadline: m.task_deadline,
    })
}

/// `~/x` or an absolute path.
fn expand(file: &str) -> Result<PathBuf, String> {
    if let Some(rest) = file.strip_prefix("~/") {
        let home = std::env::var_os("HOME").ok_or("HOME is not set to expand ~/")?;
        return Ok(PathBuf::from(home).join(rest));
    }
    let p = PathBuf::from(file);
    if p.is_absolute() {
        Ok(p)
    } else {
        Err(format!(
            "{file:?} is relative: write an absolute path or ~/…"
        ))
    }
}

/// A credentials file others can read is refused, as ssh refuses such a key.
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} can be read by other users (mode {:o}): chmod 600 it",
            path.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    Ok(())
}

pub(crate) fn join(s: &Session, _: NoParams) -> Answer<MeshMembership> {
    let engine = s.engine.clone();
    Answer::later(async move {
        let options = options(engine.config())?;
        let status = mesh(&engine).join(options).await?;
        if let Some(marker) = engine.mesh_joined_file() {
            std::fs::write(marker, format!("{}\n", status.node))
                .map_err(|e| RpcError::internal(format!("{}: {e}", marker.display())))?;
        }
        Ok(status)
    })
}

pub(crate) fn leave(s: &Session, _: NoParams) -> Answer<MeshMembership> {
    let engine = s.engine.clone();
    Answer::later(async move {
        if let Some(marker) = engine.mesh_joined_file() {
            let _ = std::fs::remove_file(marker);
        }
        Ok(mesh(&engine).leave().await)
    })
}

pub(crate) fn status(s: &Session, _: NoParams) -> Answer<MeshMembership> {
    let mut status = mesh(&s.engine).status();
    if status.urls.is_empty() {
        // Never joined since the daemon started: what joining would use.
        let m = &s.engine.config().settings().mesh;
        status.urls = m.urls.clone();
        status.heartbeat_secs = m.heartbeat.as_secs();
        status.ttl_secs = m.ttl.as_secs();
        status.node = options(s.engine.config())
            .map(|o| o.name)
            .unwrap_or_default();
    }
    Answer::Now(Ok(status))
}

pub(crate) fn nodes(s: &Session, _: NoParams) -> Answer<Vec<NodeInfo>> {
    let mesh = mesh(&s.engine).clone();
    Answer::later(async move { Ok(mesh.nodes().await?) })
}

/// A distributed run: the document's open tasks on the mesh's work queue, each with the prompt
/// its template makes, the CLI it names (or the run's), from this checkout's HEAD; the work
/// lands on branch `maestro/<run>` here, and the tasks are ticked here as results come.
pub(crate) fn run(s: &Session, p: MeshRunParams) -> Answer<MeshRunInfo> {
    let engine = s.engine.clone();
    Answer::later(async move {
        let mesh = mesh(&engine).clone();
        let me = joined_name(&mesh).await?;
        let bad = |detail: String| RpcError::new(code::INVALID_PARAMS, detail);
        let (ws, config) = workspace_of(engine.config(), &p.path)?;
        let file = p
            .path
            .canonicalize()
            .map_err(|e| bad(format!("{}: {e}", p.path.display())))?;
        let document = file
            .strip_prefix(&ws.root)
            .map_err(|_| {
                bad(format!(
                    "{} is not inside {}",
                    file.display(),
                    ws.root.display()
                ))
            })?
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&file).map_err(|e| bad(format!("{}: {e}", file.display())))?;
        let book = maestro_playbook::parse(&bytes);
        let root = ws.root.clone();
        let (repo, base) = {
            let (e, root, document) = (engine.clone(), root.clone(), document.clone());
            tokio::task::spawn_blocking(move || {
                let as_is = maestro_agents::worktree::committed_as_is(&root, &document)
                    .map_err(|e| e.to_string())?;
                if !as_is {
                    return Err(format!(
                        "{document} has changes that are not committed: commit it first (the workers start from this checkout's HEAD)"
                    ));
                }
                let repo = e.repo_id(&root).ok_or("this repository has no commits")?;
                let base = maestro_agents::worktree::head_commit(&root).map_err(|e| e.to_string())?;
                Ok::<_, String>((repo, base))
            })
            .await
            .map_err(RpcError::internal)?
            .map_err(bad)?
        };
        let default = p
            .agent
            .clone()
            .unwrap_or_else(|| config.settings().agents.default.clone());
        let id = maestro_mesh::run_id();
        let branch = format!("maestro/{id}");
        let template = book
            .options
            .prompt
            .as_deref()
            .unwrap_or(maestro_playbook::DEFAULT_PROMPT);
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".md").to_owned())
            .unwrap_or_default();
        let mut items = Vec::new();
        let settings = config.settings();
        for task in book.tasks.iter().filter(|t| !t.done && !t.review) {
            let index = items.len() as u32;
            let cli = task.agent.clone().unwrap_or_else(|| default.clone());
            // A worker starts a new agent of the task's CLI: `@name` names a CLI here.
            if !maestro_agents::adapters::BUILT_IN.contains(&cli.as_str())
                && !settings.agents.custom.contains_key(&cli)
            {
                return Err(bad(format!(
                    "{document}:{}: `{cli}` is not an agent CLI (claude, codex, gemini, opencode, aider or a custom one): a distributed task starts a new agent",
                    task.line
                )));
            }
            let vars = maestro_playbook::PromptVars {
                document_path: document.clone(),
                document_name: name.clone(),
                task: task.text.clone(),
                task_line: task.line,
                loop_number: 1,
                branch: format!("maestro/{id}-{}", index + 1),
                agent: format!("{id}-{}", index + 1),
            };
            let prompt = maestro_playbook::render(template, &vars)
                .map_err(|e| bad(format!("{document}: {e}")))?;
            items.push(WorkItem {
                run: id.clone(),
                owner: me.clone(),
                index,
                repo: repo.clone(),
                base: base.clone(),
                document: document.clone(),
                line: task.line,
                text: task.text.clone(),
                cli,
                prompt,
                labels: p.labels.clone(),
            });
        }
        {
            let (root, branch, base) = (root.clone(), branch.clone(), base.clone());
            tokio::task::spawn_blocking(move || {
                maestro_agents::worktree::make_branch(&root, &branch, &base)
            })
            .await
            .map_err(RpcError::internal)?
            .map_err(|e| bad(e.to_string()))?;
        }
        let info = maestro_mesh::tally(&id, file, branch, items.len() as u32);
        Ok(mesh.distribute(items, info).await?)
    })
}

pub(crate) fn runs(s: &Session, _: NoParams) -> Answer<Vec<MeshRunInfo>> {
    Answer::Now(Ok(s
        .engine
        .mesh_if_made()
        .map(|m| m.runs())
        .unwrap_or_default()))
}

/// Where an agent request goes when this daemon is in a mesh; `Err(params)` gives the request
/// back to the local table.
pub(crate) fn route(s: &Session, method: &str, params: Value) -> Result<Reply, Value> {
    let Some(mesh) = s.engine.mesh_if_made().cloned() else {
        return Err(params);
    };
    // An agent's own connection acts on its own node (its tools are scoped to its worktree).
    if !REMOTE_METHODS.contains(&method) || s.agent().is_some() {
        return Err(params);
    }
    let Some(me) = mesh.name_now() else {
        return Err(params);
    };
    let node = params
        .get("node")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let method = method.to_owned();
    let e = s.engine.clone();
    Ok(async move {
        match node {
            Some(node) if node != me => forward(&e, &mesh, &node, &method, params).await,
            Some(_) => local(&e, &me, &method, params).await,
            None if method == method::AGENT_LIST => list_all(&e, &mesh, &me, params).await,
            None => match located(&e, &mesh, &me, &method, &params).await? {
                Some(node) => {
                    let name = params["name"].as_str().unwrap_or_default().to_owned();
                    let repo = repo_of(&e, &params).await;
                    match forward(&e, &mesh, &node, &method, params).await {
                        // The status of an agent whose node is gone: lost, as it last was.
                        Err(err)
                            if err.code == code::CONNECTION_LOST
                                && method == method::AGENT_STATUS =>
                        {
                            last_known(&mesh, &node, repo.as_deref(), &name)
                                .await
                                .ok_or(err)
                        }
                        answer => answer,
                    }
                }
                None => local(&e, &me, &method, params).await,
            },
        }
    }
    .boxed())
}

/// The local answer, its agents marked with this node.
async fn local(e: &Engine, me: &str, method: &str, params: Value) -> Result<Value, RpcError> {
    Ok(mark(crate::engine::as_person(e, method, params).await?, me))
}

/// Sets `node` on an agent (or a list of agents) in a result.
fn mark(mut v: Value, node: &str) -> Value {
    fn one(v: &mut Value, node: &str) {
        if let Some(o) = v.as_object_mut()
            && o.contains_key("workspaceRoot")
            && o.contains_key("state")
        {
            o.insert("node".into(), node.into());
        }
    }
    match &mut v {
        Value::Array(items) => items.iter_mut().for_each(|i| one(i, node)),
        _ => one(&mut v, node),
    }
    v
}

/// The repository of the path in `params`, when it is a checkout on this machine.
async fn repo_of(engine: &Engine, params: &Value) -> Option<String> {
    let path = PathBuf::from(params.get("path")?.as_str()?);
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || {
        let root = find_root(&path).ok()?.root;
        engine.repo_id(&root)
    })
    .await
    .ok()
    .flatten()
}

/// How long a node may take to answer a method.
fn timeout_of(method: &str) -> Duration {
    match method {
        // A worktree, setup files and the first turn's start.
        method::AGENT_SPAWN | method::AGENT_MERGE | method::AGENT_REMOVE => {
            Duration::from_secs(120)
        }
        _ => Duration::from_secs(30),
    }
}

async fn forward(
    e: &Engine,
    mesh: &Mesh,
    node: &str,
    method: &str,
    mut params: Value,
) -> Result<Value, RpcError> {
    let repo = repo_of(e, &params).await;
    if let Some(o) = params.as_object_mut() {
        o.remove("node");
    }
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let call = Call {
        from: mesh.name().await.unwrap_or_default(),
        method: method.to_owned(),
        params,
        repo,
    };
    let result = mesh.call(node, &call, timeout_of(method)).await?;
    if method == method::AGENT_SPAWN
        && let (Some(repo), Some(name)) = (&call.repo, name)
    {
        mesh.note_location(repo, &name, node);
    }
    Ok(mark(result, node))
}

/// The node that runs the agent a name-based request is about, when it is another one: this
/// node has no such agent and the directory names another node. A spawn of a name the directory
/// gives to another live node is refused.
async fn located(
    e: &Engine,
    mesh: &Mesh,
    me: &str,
    method: &str,
    params: &Value,
) -> Result<Option<String>, RpcError> {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Ok(None);
    };
    let here = params
        .get("path")
        .and_then(Value::as_str)
        .and_then(|p| workspace_of(e.config(), Path::new(p)).ok())
        .is_some_and(|(ws, _)| e.agents().get(&ws.id, name).is_ok());
    if here {
        return Ok(None);
    }
    let found = match repo_of(e, params).await {
        Some(repo) => mesh.locate(&repo, name).await?,
        // Not a checkout here: the root another node answered with (an editor acting on an
        // agent of the list), known by the workspace it makes there.
        None => params
            .get("path")
            .and_then(Value::as_str)
            .and_then(|p| mesh.node_of_agent(&crate::workspace::workspace_id(Path::new(p)), name)),
    };
    let Some(node) = found else {
        return Ok(None);
    };
    if node == me {
        return Ok(None);
    }
    if method == method::AGENT_SPAWN {
        let live = mesh
            .nodes()
            .await?
            .iter()
            .any(|n| n.name == node && n.state == NodeState::Live);
        if live {
            return Err(RpcError::new(
                code::CONFLICT,
                format!(
                    "an agent named {name} already runs in this repository on node {node}: choose another name, or stop and remove it there (`maestro agent remove {name}`)"
                ),
            ));
        }
        return Ok(None);
    }
    Ok(Some(node))
}

/// Every node's agents: this one's, each live node's (asked at once), and the last known agents
/// of gone nodes, lost.
async fn list_all(e: &Engine, mesh: &Mesh, me: &str, params: Value) -> Result<Value, RpcError> {
    let mut all: Vec<AgentInfo> =
        serde_json::from_value(local(e, me, method::AGENT_LIST, params.clone()).await?)
            .map_err(RpcError::internal)?;
    let repo = repo_of(e, &params).await;
    let nodes = mesh.nodes().await?;
    let asks = nodes
        .iter()
        .filter(|n| !n.this && n.state == NodeState::Live)
        .map(|n| {
            let call = Call {
                from: me.to_owned(),
                method: method::AGENT_LIST.to_owned(),
                params: params.clone(),
                repo: repo.clone(),
            };
            async move {
                let answer = mesh.call(&n.name, &call, Duration::from_secs(5)).await;
                (n, answer)
            }
        });
    for (n, answer) in futures::future::join_all(asks).await {
        match answer.and_then(|v| {
            serde_json::from_value::<Vec<AgentInfo>>(mark(v, &n.name)).map_err(RpcError::internal)
        }) {
            Ok(agents) => all.extend(agents),
            // A node without this repository has no agents in it.
            Err(e) if e.code == code::NOT_FOUND => {}
            Err(e) => {
                let why = format!("node {} did not answer: {}", n.name, e.message);
                all.extend(heard_of(n, repo.as_deref(), None, &why));
            }
        }
    }
    for n in nodes.iter().filter(|n| n.state == NodeState::Gone) {
        let why = format!(
            "node {} stopped beating (its last beat at {} ms)",
            n.name, n.beat_at_ms
        );
        all.extend(heard_of(n, repo.as_deref(), Some(AgentState::Lost), &why));
    }
    serde_json::to_value(all).map_err(RpcError::internal)
}

/// Agent `name` of a node that does not answer, lost, as its last heartbeat listed it.
async fn last_known(mesh: &Mesh, node: &str, repo: Option<&str>, name: &str) -> Option<Value> {
    let n = mesh
        .nodes()
        .await
        .ok()?
        .into_iter()
        .find(|n| n.name == node)?;
    let why = format!("node {node} does not answer: its agents are lost until it is back");
    let agent = heard_of(&n, repo, Some(AgentState::Lost), &why)
        .into_iter()
        .find(|a| a.name == name)?;
    serde_json::to_value(agent).ok()
}

/// A node's agents as its last heartbeat listed them (in `repo` when one is asked for).
fn heard_of(
    n: &NodeInfo,
    repo: Option<&str>,
    state: Option<AgentState>,
    why: &str,
) -> Vec<AgentInfo> {
    n.agents
        .iter()
        .filter(|a| repo.is_none_or(|r| a.repo.as_deref() == Some(r)))
        .map(|a| AgentInfo {
            name: a.name.clone(),
            node: Some(n.name.clone()),
            workspace: a.workspace.clone(),
            workspace_root: a.workspace_root.clone(),
            agent: a.agent.clone(),
            state: state.unwrap_or(a.state),
            mode: Default::default(),
            isolation: maestro_protocol::Isolation::Worktree,
            worktree: a.workspace_root.clone(),
            branch: a.branch.clone(),
            base: None,
            session_id: None,
            model: None,
            persona: None,
            reason: Some(why.to_owned()),
            error_class: None,
            turns: a.turns,
            usage: Default::default(),
            color: maestro_agents::identity::color(&a.name),
            pid: None,
            created_at: 0.0,
            updated_at: n.beat_at_ms as f64 / 1000.0,
            output_bytes: 0,
            warnings: Vec::new(),
            notes: Vec::new(),
            playbook_run: None,
            program: None,
            merged: None,
        })
        .collect()
}

/// `maestro/agent.transfer`: the agent stops here, its archive goes to node `to` through the
/// object store, `to` takes it in and answers; only then is it removed here (its worktree, and
/// its memories: they went with it; its turns and usage stay, as history of this machine). Any
/// failure before that answer leaves it here, stopped.
pub(crate) fn transfer(s: &Session, p: AgentTransferParams) -> Answer<AgentInfo> {
    let engine = s.engine.clone();
    Answer::later(async move {
        let mesh = mesh(&engine).clone();
        let me = joined_name(&mesh).await?;
        if p.to == me {
            return Err(RpcError::invalid_params(
                method::AGENT_TRANSFER,
                format!("agent `{}` is on node {me} already", p.name),
            ));
        }
        let target = mesh
            .nodes()
            .await?
            .into_iter()
            .find(|n| n.name == p.to && n.state == NodeState::Live)
            .ok_or_else(|| {
                RpcError::not_found(format!(
                    "node {} is not a live node of the mesh (`maestro mesh nodes` lists them)",
                    p.to
                ))
            })?;
        let (ws, config) = workspace_of(engine.config(), &p.path)?;
        let repo = engine.repo_id(&ws.root).ok_or_else(|| {
            RpcError::invalid_params(method::AGENT_TRANSFER, "this repository has no commits")
        })?;
        let agents = engine.agents().clone();
        let info = agents
            .get(&ws.id, &p.name)
            .map_err(crate::agent_requests::agent_error)?;
        // Refused before anything stops: the agent could not run there.
        if !target.clis.contains(&info.agent) {
            return Err(RpcError::new(
                code::AGENT_FAILED,
                format!(
                    "node {} has no {} CLI (it has: {}): agent `{}` stays here",
                    p.to,
                    info.agent,
                    if target.clis.is_empty() {
                        "none".to_owned()
                    } else {
                        target.clis.join(", ")
                    },
                    p.name
                ),
            ));
        }
        if !target.repos.iter().any(|r| r.repo == repo) {
            return Err(RpcError::not_found(format!(
                "node {} has no clone of this repository: clone it there and run `maestro up` in it; agent `{}` stays here",
                p.to, p.name
            )));
        }
        if info.state.is_running() {
            agents
                .stop(&ws.id, &p.name)
                .await
                .map_err(crate::agent_requests::agent_error)?;
        }
        let (e, w, name) = (engine.clone(), ws.clone(), p.name.clone());
        let bytes = tokio::task::spawn_blocking(move || {
            let c = crate::portable_requests::capture(
                &e,
                &w,
                &name,
                crate::portable_requests::CaptureOptions {
                    bundle: true,
                    ..Default::default()
                },
            )?;
            c.archive
                .to_bytes(c.head)
                .map_err(|e| RpcError::internal(format!("making the archive: {e}")))
        })
        .await
        .map_err(RpcError::internal)??;
        let object = mesh.put_archive(&p.to, &p.name, &bytes).await?;
        let call = Call {
            from: me.clone(),
            method: method::MESH_RECEIVE.to_owned(),
            params: serde_json::to_value(MeshReceiveParams {
                object: object.clone(),
                repository: repo.clone(),
                from: me.clone(),
                path: PathBuf::new(),
            })
            .expect("params are JSON"),
            repo: Some(repo.clone()),
        };
        let timeout = config.settings().mesh.transfer_timeout;
        let answer = mesh.call(&p.to, &call, timeout).await;
        mesh.drop_archive(&object).await;
        let arrived = answer.map_err(|e| {
            RpcError::new(
                e.code,
                format!(
                    "agent `{}` stays on node {me} (stopped): node {} did not take it in: {}",
                    p.name, p.to, e.message
                ),
            )
        })?;
        let info: AgentInfo = serde_json::from_value(arrived).map_err(RpcError::internal)?;
        mesh.note_location(&repo, &p.name, &p.to);
        if let Err(e) = agents.remove(&ws.id, &p.name, true).await {
            tracing::warn!(agent = %p.name, "transferred, but removing it here failed: {e}");
        }
        if let Err(e) = engine.memory().forget_agent(&ws.id, &p.name).await {
            tracing::warn!(agent = %p.name, "transferred, but forgetting its memories here failed: {e}");
        }
        Ok(AgentInfo {
            node: Some(p.to.clone()),
            ..info
        })
    })
}

/// `maestro/mesh.receive` (another node's transfer): the archive from the object store, taken in
/// as an agent of this node's checkout of the repository.
pub(crate) fn receive(s: &Session, p: MeshReceiveParams) -> Answer<AgentInfo> {
    let engine = s.engine.clone();
    Answer::later(async move {
        let mesh = mesh(&engine).clone();
        let limits = maestro_portable::Limits::default();
        let bytes = mesh.get_archive(&p.object, limits.total_bytes).await?;
        let (ws, _) = workspace_of(engine.config(), &p.path)?;
        let label = PathBuf::from(format!("transfer {}", p.object));
        let contents = tokio::task::spawn_blocking(move || {
            maestro_portable::read_bytes(&bytes, &label, limits)
        })
        .await
        .map_err(RpcError::internal)?
        .map_err(|e| RpcError::invalid_params(method::MESH_RECEIVE, e))?;
        let name = contents.manifest.agent.clone();
        // The person's messages in its inbox were signed on that node: with the key it
        // published (the mesh's members are the same person), they verify here.
        let person = maestro_comms::owner_of(engine.person());
        if let Some(key) = mesh.key_of(&p.from, &person)
            && let Err(e) = engine
                .post()
                .mailboxes()
                .keys()
                .learn(&person, &p.from, &key)
        {
            tracing::warn!("keeping node {}'s key of the person: {e}", p.from);
        }
        crate::portable_requests::restore(
            &engine,
            &ws,
            contents,
            crate::portable_requests::RestoreOptions {
                name,
                passphrase: None,
                fork: false,
                note: format!("transferred here from node {}", p.from),
            },
        )
        .await
    })
}
