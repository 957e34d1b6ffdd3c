//! The engine: one per daemon (or per `maestro lsp --standalone`), shared by every connection.
//!
//! The store, the user config, the agents' supervisor, the open-workspace registry (reference-counted by sessions), an
//! event bus (`tokio::broadcast`), `Activity` (sessions, busy work) for the idle timer, progress reports,
//! and the shutdown request. `Session` is one connection: `request` runs a method's checks, snapshots and
//! registrations (an opened workspace) synchronously and defers the rest (store writes); `notify` applies
//! document sync synchronously. So every request sees what was read before it on its connection. Each session has its
//! own documents (two editors may hold different unsaved text).

use crate::config::Config;
use crate::connection::SessionState;
mod hosts;
mod mesh_host;

pub(crate) use mesh_host::as_person;

use crate::workspace::{default_name, find_root, workspace_id};
use hosts::{
    AttentionHost, ChatHost, ConsultHost, EngineHooks, MemoryHost, PlaybookHost, PostHost,
};
use maestro_protocol::{
    Event, HostMode, ProgressParams, ProgressValue, RpcError, StatusResult, StoreStatus,
    WorkspaceInfo, code,
};
use maestro_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{broadcast, watch};

/// What the process hosting the engine tells clients about itself.
#[derive(Debug, Clone)]
pub struct HostInfo {
    pub mode: HostMode,
    /// The socket clients connect to, if any.
    pub socket: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    /// The program agents' CLIs start as `<program> mcp` for maestro's tools (this daemon's own
    /// executable); `None`: agents get no tools (no socket to reach, or tests).
    pub tools_program: Option<PathBuf>,
}

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    File(PathBuf),
    Memory,
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub host: HostInfo,
    /// The user-level configuration (workspace files are read as workspaces open).
    pub config: Config,
    pub store: StoreLocation,
    /// Where agents' worktrees and logs go; `None` puts them in a temporary directory of this
    /// process (tests).
    pub paths: Option<crate::Paths>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("messages: {0}")]
    Messages(#[from] maestro_comms::MailError),
}

/// What keeps a daemon alive: connected clients and running work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    pub sessions: usize,
    pub busy: usize,
}

impl Activity {
    pub fn is_idle(&self) -> bool {
        self.sessions == 0 && self.busy == 0
    }
}

/// A handle to the engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    graph: crate::code_graph::CodeGraph,
    memory: Arc<maestro_memory::service::Memory>,
    agents: std::sync::OnceLock<maestro_agents::Supervisor>,
    playbooks: maestro_playbook::run::Runner<PlaybookHost>,
    post: maestro_comms::Post,
    chats: std::sync::OnceLock<Arc<maestro_comms::Chats>>,
    consults: Arc<maestro_comms::Consults>,
    attention: std::sync::OnceLock<Arc<maestro_agents::attention::Attention>>,
    /// Made at the first mesh request (or a daemon's rejoin); idle (no connection, no task)
    /// until joined.
    mesh: std::sync::OnceLock<Arc<maestro_mesh::Mesh>>,
    /// Whether this daemon joins the mesh when it starts (`None`: no data directory, tests).
    mesh_joined_file: Option<PathBuf>,
    /// Agents' snapshots: `<workspace id>/<agent>/<n>.maestro-agent` below it.
    snapshots_dir: PathBuf,
    /// Repositories' ids (root commits) by checkout root, found once.
    repo_ids: Mutex<std::collections::HashMap<PathBuf, Option<String>>>,
    /// The person's address (`person:<user>`).
    person: String,
    host: HostInfo,
    config: Config,
    store: Store,
    trust: crate::trust::Trust,
    started: Instant,
    events: broadcast::Sender<Event>,
    sessions: Mutex<BTreeMap<u64, Arc<SessionState>>>,
    next_id: AtomicU64,
    workspaces: Mutex<BTreeMap<String, OpenWorkspace>>,
    activity: watch::Sender<Activity>,
    shutdown: watch::Sender<Option<String>>,
}

struct OpenWorkspace {
    info: WorkspaceInfo,
    /// How many sessions have it open.
    users: usize,
}

/// Events buffered per subscriber before a slow one starts losing them.
const EVENT_BUFFER: usize = 4096;

impl Engine {
    /// Opens the store and starts the engine.
    pub fn start(options: EngineOptions) -> Result<Engine, EngineError> {
        let store = match &options.store {
            StoreLocation::File(path) => Store::open(path)?,
            StoreLocation::Memory => Store::open_in_memory()?,
        };
        let (worktrees, logs, keys, snapshots) = match &options.paths {
            Some(p) => (
                p.worktrees_dir(),
                p.agent_logs_dir(),
                p.keys_dir(),
                p.data_dir.join("snapshots"),
            ),
            None => {
                let tmp =
                    std::env::temp_dir().join(format!("maestro-agents-{}", std::process::id()));
                (
                    tmp.join("worktrees"),
                    tmp.join("logs"),
                    tmp.join("keys"),
                    tmp.join("snapshots"),
                )
            }
        };
        let mailboxes =
            maestro_comms::Mailboxes::open(store.clone(), &keys, maestro_store::unix_now_ms())?;
        let policy = options.config.settings().messages.clone();
        let socket = options.host.socket.clone();
        let output_buffer = options.config.settings().agents.output_buffer_bytes;
        let trust = crate::trust::Trust::load(&store)?;
        let engine = Engine {
            inner: Arc::new_cyclic(|inner| Inner {
                agents: std::sync::OnceLock::new(),
                chats: std::sync::OnceLock::new(),
                consults: maestro_comms::Consults::new(
                    store.clone(),
                    Arc::new(ConsultHost(inner.clone())),
                ),
                attention: std::sync::OnceLock::new(),
                mesh: std::sync::OnceLock::new(),
                mesh_joined_file: options.paths.as_ref().map(|p| p.mesh_joined_file()),
                snapshots_dir: snapshots,
                repo_ids: Mutex::default(),
                memory: Arc::new(maestro_memory::service::Memory::new(
                    store.clone(),
                    options.config.settings().memory.clone(),
                )),
                playbooks: maestro_playbook::run::Runner::new(
                    store.clone(),
                    PlaybookHost(inner.clone()),
                ),
                post: maestro_comms::Post::new(
                    mailboxes,
                    Arc::new(PostHost(inner.clone())),
                    policy,
                ),
                person: person_address(),
                graph: crate::code_graph::CodeGraph::default(),
                host: options.host,
                config: options.config,
                trust,
                store,
                started: Instant::now(),
                events: broadcast::channel(EVENT_BUFFER).0,
                sessions: Mutex::default(),
                next_id: AtomicU64::new(1),
                workspaces: Mutex::default(),
                activity: watch::channel(Activity::default()).0,
                shutdown: watch::channel(None).0,
            }),
        };
        let supervisor = maestro_agents::Supervisor::start(maestro_agents::SupervisorOptions {
            store: engine.inner.store.clone(),
            worktrees: maestro_agents::worktree::WorktreeManager::new(worktrees),
            logs_dir: logs,
            socket,
            output_buffer,
            hooks: Arc::new(EngineHooks(Arc::downgrade(&engine.inner))),
        })?;
        let _ = engine.inner.agents.set(supervisor);
        let weak = Arc::downgrade(&engine.inner);
        let chats = maestro_comms::Chats::load(
            engine.inner.store.clone(),
            Arc::new(ChatHost(weak.clone())),
        )?;
        let _ = engine.inner.chats.set(chats);
        let attention = maestro_agents::attention::Attention::load(
            engine.inner.store.clone(),
            Arc::new(AttentionHost(weak)),
        )?;
        let _ = engine.inner.attention.set(attention);
        engine
            .inner
            .memory
            .start(Arc::new(MemoryHost(Arc::downgrade(&engine.inner))));
        // The supervisor marked the turns the last daemon left as lost: runs judge them now.
        engine.inner.playbooks.resume();
        Ok(engine)
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Engine {
        Engine { inner }
    }

    /// Messages and their delivery.
    pub(crate) fn post(&self) -> &maestro_comms::Post {
        &self.inner.post
    }

    /// The person's address.
    pub(crate) fn person(&self) -> &str {
        &self.inner.person
    }

    pub(crate) fn memory(&self) -> &Arc<maestro_memory::service::Memory> {
        &self.inner.memory
    }

    /// Group chats.
    pub(crate) fn chats(&self) -> &Arc<maestro_comms::Chats> {
        self.inner.chats.get().expect("set at start")
    }

    /// Consult threads.
    pub(crate) fn consults(&self) -> &Arc<maestro_comms::Consults> {
        &self.inner.consults
    }

    /// Questions agents wait on.
    pub(crate) fn attention(&self) -> &Arc<maestro_agents::attention::Attention> {
        self.inner.attention.get().expect("set at start")
    }

    /// The agents' supervisor.
    /// The mesh service, made (idle) the first time.
    pub(crate) fn mesh(&self) -> &Arc<maestro_mesh::Mesh> {
        self.inner.mesh.get_or_init(|| {
            Arc::new(maestro_mesh::Mesh::new(Arc::new(mesh_host::MeshLink(
                Arc::downgrade(&self.inner),
            ))))
        })
    }

    /// The mesh service if anything made it.
    pub(crate) fn mesh_if_made(&self) -> Option<&Arc<maestro_mesh::Mesh>> {
        self.inner.mesh.get()
    }

    pub(crate) fn mesh_joined_file(&self) -> Option<&Path> {
        self.inner.mesh_joined_file.as_deref()
    }

    /// The id of the repository checked out at `root` (its root commit), found once per root.
    /// Reads git: call it off the async threads.
    pub(crate) fn snapshots_dir(&self) -> &Path {
        &self.inner.snapshots_dir
    }

    pub(crate) fn repo_id(&self, root: &Path) -> Option<String> {
        if let Some(id) = self.inner.repo_ids.lock().unwrap().get(root) {
            return id.clone();
        }
        let id = maestro_agents::worktree::repository_id(root);
        // A repository without commits may get one: only a found id is kept.
        if id.is_some() {
            self.inner
                .repo_ids
                .lock()
                .unwrap()
                .insert(root.to_owned(), id.clone());
        }
        id
    }

    pub fn agents(&self) -> &maestro_agents::Supervisor {
        self.inner.agents.get().expect("set at start")
    }

    /// Registers a new connection's state (it counts as activity until it disconnects).
    pub(crate) fn register_session(&self, peer: Option<u32>) -> Arc<SessionState> {
        let id = self.next_id();
        let state = Arc::new(SessionState::new(id, peer));
        self.inner
            .sessions
            .lock()
            .unwrap()
            .insert(id, state.clone());
        self.inner.activity.send_modify(|a| a.sessions += 1);
        state
    }

    pub(crate) fn disconnect(&self, state: &SessionState) {
        self.inner.sessions.lock().unwrap().remove(&state.id);
        for id in std::mem::take(&mut *state.workspaces.lock().unwrap()) {
            self.release_workspace(&id);
        }
        self.inner.activity.send_modify(|a| a.sessions -= 1);
    }

    fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn playbooks(&self) -> &maestro_playbook::run::Runner<PlaybookHost> {
        &self.inner.playbooks
    }

    pub(crate) fn graph(&self) -> &crate::code_graph::CodeGraph {
        &self.inner.graph
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn trust(&self) -> &crate::trust::Trust {
        &self.inner.trust
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn host(&self) -> &HostInfo {
        &self.inner.host
    }

    /// Changes whenever clients connect or leave and work starts or ends.
    pub fn activity(&self) -> watch::Receiver<Activity> {
        self.inner.activity.subscribe()
    }

    /// Becomes `Some(reason)` when a client asked the engine to stop.
    pub fn shutdown_requested(&self) -> watch::Receiver<Option<String>> {
        self.inner.shutdown.subscribe()
    }

    pub fn request_shutdown(&self, reason: String) {
        self.inner.shutdown.send_if_modified(|r| {
            let first = r.is_none();
            if first {
                *r = Some(reason);
            }
            first
        });
    }

    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Sends an event to every subscribed client.
    pub fn emit(&self, event: Event) {
        // No receivers is fine: nobody is listening.
        let _ = self.inner.events.send(event);
    }

    /// Marks work in progress until the guard drops: the daemon does not idle-exit meanwhile.
    pub fn begin_work(&self) -> WorkGuard {
        self.inner.activity.send_modify(|a| a.busy += 1);
        WorkGuard {
            engine: self.clone(),
        }
    }

    /// Starts a progress report visible to every subscribed client (editors show it as LSP
    /// work-done progress).
    pub fn begin_progress(&self, title: &str) -> Progress {
        let token = format!("maestro-{}-{}", std::process::id(), self.next_id());
        self.emit(Event::Progress(ProgressParams {
            token: token.clone(),
            value: ProgressValue::Begin {
                title: title.to_owned(),
                message: None,
                percentage: None,
            },
        }));
        Progress {
            engine: self.clone(),
            token,
            ended: false,
        }
    }

    /// Registers the workspace around `path` for a session, now: requests read after this one see
    /// it. Remembering it in the store is [`Engine::remember_workspace`].
    pub(crate) fn open_workspace(
        &self,
        session: &SessionState,
        path: &Path,
    ) -> Result<WorkspaceInfo, RpcError> {
        let found = find_root(path).map_err(|e| RpcError::not_found(e.to_string()))?;
        let id = workspace_id(&found.root);
        let (config, config_error) = match self.inner.config.with_workspace(&found.root) {
            Ok(c) => (c, None),
            Err(e) => {
                tracing::warn!(root = %found.root.display(), "workspace config ignored: {e}");
                (self.inner.config.clone(), Some(e.to_string()))
            }
        };
        let info = WorkspaceInfo {
            name: config
                .settings()
                .workspace_name
                .clone()
                .unwrap_or_else(|| default_name(&found.root)),
            id,
            root: found.root,
            kind: found.kind,
            config_error,
        };
        let newly_open = {
            let mut open = self.inner.workspaces.lock().unwrap();
            let created = !open.contains_key(&info.id);
            let entry = open
                .entry(info.id.clone())
                .or_insert_with(|| OpenWorkspace {
                    info: info.clone(),
                    users: 0,
                });
            entry.info = info.clone();
            if session.workspaces.lock().unwrap().insert(info.id.clone()) {
                entry.users += 1;
            }
            created
        };
        if newly_open {
            tracing::info!(root = %info.root.display(), id = %info.id, "workspace opened");
            self.emit(Event::WorkspaceOpened(info.clone()));
        }
        Ok(info)
    }

    /// Records an opened workspace in the store (first and last seen). If that fails, the session
    /// lets go of the workspace again, so that what is open is also remembered.
    pub(crate) async fn remember_workspace(
        &self,
        session: &SessionState,
        info: &WorkspaceInfo,
    ) -> Result<(), RpcError> {
        let root = info.root.to_string_lossy();
        let stored = self
            .inner
            .store
            .upsert_workspace(&info.id, &root, &info.name, info.kind, unix_now())
            .await;
        if let Err(e) = stored {
            if session.workspaces.lock().unwrap().remove(&info.id) {
                self.release_workspace(&info.id);
            }
            return Err(store_error(e));
        }
        Ok(())
    }

    pub(crate) fn release_workspace(&self, id: &str) {
        let mut open = self.inner.workspaces.lock().unwrap();
        if let Some(w) = open.get_mut(id) {
            w.users -= 1;
            if w.users == 0 {
                open.remove(id);
            }
        }
    }

    pub(crate) async fn status(&self) -> Result<StatusResult, RpcError> {
        let store = self.inner.store.clone();
        let known = tokio::task::spawn_blocking(move || store.workspaces().map(|w| w.len()))
            .await
            .map_err(RpcError::internal)?
            .map_err(store_error)?;
        let sessions = self
            .inner
            .sessions
            .lock()
            .unwrap()
            .values()
            .map(|s| s.status())
            .collect();
        let workspaces = self
            .inner
            .workspaces
            .lock()
            .unwrap()
            .values()
            .map(|w| w.info.clone())
            .collect();
        let host = &self.inner.host;
        Ok(StatusResult {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: maestro_protocol::PROTOCOL_VERSION,
            mode: host.mode,
            pid: std::process::id(),
            uptime_secs: self.inner.started.elapsed().as_secs_f64(),
            socket: host.socket.clone(),
            log_file: host.log_file.clone(),
            store: StoreStatus {
                path: self.inner.store.path().map(Path::to_path_buf),
                schema_version: self.inner.store.schema_version(),
                size_bytes: self.inner.store.size_bytes(),
            },
            idle_timeout_secs: self
                .inner
                .config
                .settings()
                .idle_timeout
                .map_or(0, |d| d.as_secs()),
            busy: self.inner.activity.borrow().busy,
            sessions,
            workspaces,
            known_workspaces: known,
        })
    }
}

pub(crate) fn store_error(e: StoreError) -> RpcError {
    RpcError::new(code::STORE_FAILED, e.to_string())
}

pub(crate) use maestro_store::unix_now;

/// Work in progress; see [`Engine::begin_work`].
pub struct WorkGuard {
    engine: Engine,
}

impl Drop for WorkGuard {
    fn drop(&mut self) {
        self.engine.inner.activity.send_modify(|a| a.busy -= 1);
    }
}

/// A progress report; see [`Engine::begin_progress`]. Dropping it ends the report.
pub struct Progress {
    engine: Engine,
    token: String,
    ended: bool,
}

impl Progress {
    pub fn report(&self, message: Option<String>, percentage: Option<u32>) {
        self.send(ProgressValue::Report {
            message,
            percentage,
        });
    }

    pub fn end(mut self, message: Option<String>) {
        self.ended = true;
        self.send(ProgressValue::End { message });
    }

    fn send(&self, value: ProgressValue) {
        self.engine.emit(Event::Progress(ProgressParams {
            token: self.token.clone(),
            value,
        }));
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.ended {
            self.send(ProgressValue::End { message: None });
        }
    }
}

/// `person:<login name>` (letters, digits, `-`, `_`, `.`; `person:me` when the name has others
/// or none is set).
fn person_address() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    let plain = !user.is_empty()
        && user.len() <= 64
        && !user.starts_with('.')
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    format!("person:{}", if plain { user.as_str() } else { "me" })
}
