//! The mesh: daemons on many machines, one set of agents, over NATS JetStream.
//!
//! A daemon *joins* a mesh by connecting to the servers of `mesh.urls` with its credentials
//! (user and password, or an nkey seed; TLS when a URL says `tls://`). Joined, it runs four tasks:
//!
//! * **the heartbeat**: every `heartbeat` it puts its [`NodeInfo`] (load, agents, the CLIs it
//!   has, the repositories it has checkouts of) under its name in the JetStream KV bucket
//!   [`NODES_BUCKET`], whose entries expire after the TTL: a node that stops beating drops out of
//!   the bucket by itself, and readers also count a record whose beat is older than the TTL as
//!   gone. The same beat keeps the agent directory ([`AGENTS_BUCKET`]: `<repo>.<agent>` → node)
//!   up to date.
//! * **the call server**: requests on `maestro.rpc.<node>` ([`Call`]: a daemon method and its
//!   params, the repository by its root commit) are answered by the host, the daemon's own method
//!   table, so a remote agent takes the same vocabulary as a local one. Only the methods of
//!   [`REMOTE_METHODS`] are served.
//! * **the event publisher**: the host's events about its own agents (status and output) go out on
//!   `maestro.events.<node>`;
//! * **the event relay**: other nodes' events come in and go to the host's clients, marked with
//!   their node, so editors see remote agents through their local daemon.
//!
//! Nothing of this starts on a daemon that never joined: no connection, no task.

mod transfer;
mod wire;
mod work;

pub use transfer::TRANSFERS_BUCKET;
pub use wire::{Call, CallReply};
pub use work::{RESULTS_STREAM, WORK_STREAM, WorkItem, WorkResult, run_id, tally};

use async_nats::jetstream;
use futures::StreamExt;
use futures::future::BoxFuture;
use maestro_protocol::{
    Event, MeshMembership, NodeAgent, NodeInfo, NodeState, RpcError, code, method,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The KV bucket of node records.
pub const NODES_BUCKET: &str = "maestro_nodes";
/// The KV bucket of the agent directory: `<repo>.<agent name>` → the node it runs on.
pub const AGENTS_BUCKET: &str = "maestro_agents";
/// The KV bucket of senders' public keys: `<node>.<owner>` → the key (hex) that node signs
/// `owner`'s messages with.
pub const KEYS_BUCKET: &str = "maestro_keys";
/// The JetStream stream of messages between nodes (`maestro.msg.<node>`, one durable consumer
/// per node).
pub const MESSAGES_STREAM: &str = "MAESTRO_MESSAGES";
/// The subject prefix of every maestro subject.
pub(crate) const PREFIX: &str = "maestro";

/// The daemon methods another node may call here: the agents' vocabulary.
pub const REMOTE_METHODS: &[&str] = &[
    method::AGENT_SPAWN,
    method::AGENT_SEND,
    method::AGENT_REVIEW,
    method::AGENT_STOP,
    method::AGENT_LIST,
    method::AGENT_STATUS,
    method::AGENT_OUTPUT,
    method::AGENT_DIFF,
    method::AGENT_MERGE,
    method::AGENT_REMOVE,
    method::AGENT_ATTACH,
    method::AGENT_INPUT,
    method::AGENT_RESIZE,
    method::MESH_RECEIVE,
];

/// How a node proves who it is to the servers.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    UserPassword {
        user: String,
        password: String,
    },
    /// An nkey seed (`SU…`), read from the user's seed file.
    Nkey(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never a secret in a log line.
        match self {
            Auth::None => f.write_str("none"),
            Auth::UserPassword { user, .. } => write!(f, "user {user}"),
            Auth::Nkey(_) => f.write_str("nkey"),
        }
    }
}

/// What joining needs: the user's `mesh.*` keys, resolved.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    pub urls: Vec<String>,
    pub name: String,
    pub auth: Auth,
    /// A CA certificate for the servers' TLS (PEM), beside the system's roots.
    pub ca_file: Option<PathBuf>,
    pub heartbeat: Duration,
    pub ttl: Duration,
    pub labels: Vec<String>,
    /// Distributed tasks this node works on at once.
    pub workers: usize,
    /// A distributed task whose node has not said it is still at it for this long goes back to
    /// the queue.
    pub task_deadline: Duration,
}

/// What the mesh asks of the daemon around it (the engine implements it).
pub trait MeshHost: Send + Sync + 'static {
    /// This node's record now (the mesh fills in name, labels, beat time and state).
    fn beat(&self) -> BoxFuture<'static, NodeInfo>;
    /// Answers a method another node called here (one of [`REMOTE_METHODS`]), as the person.
    fn call(&self, from: &str, call: Call) -> BoxFuture<'static, Result<Value, RpcError>>;
    /// The daemon's events; the mesh publishes those about its own agents.
    fn events(&self) -> broadcast::Receiver<Event>;
    /// Hands another node's event (already marked with its node) to this daemon's clients.
    fn relay(&self, event: Event);
    /// The senders of this node, by key owner, with their public keys (hex): published for the
    /// nodes that receive their messages.
    fn keys(&self) -> BoxFuture<'static, Vec<(String, String)>>;
    /// A message from node `from` for a recipient here: `body` as [`Mesh::post`] sent it.
    fn deliver(&self, from: String, body: Value) -> BoxFuture<'static, Delivery>;
    /// Whether this node can do `item` (it knows the repository, it has the CLI): the message
    /// says why not, and the task is left for another node.
    fn can_work(&self, item: &WorkItem) -> Result<(), String>;
    /// Does `item` here (an agent in a worktree from its base) and says how it went.
    fn work(&self, item: WorkItem) -> BoxFuture<'static, WorkResult>;
    /// A result of a run this node owns: its work applied and its task ticked.
    fn apply(&self, result: WorkResult) -> BoxFuture<'static, Delivery>;
    /// Keeps the daemon up while held (a member serves other nodes whether or not a client of
    /// its own is connected).
    fn hold(&self) -> Option<Box<dyn Send + Sync>>;
}

/// What became of a message that came from another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Stored for its recipient (or it was already): taken off the stream.
    Stored,
    /// It will never be taken (a bad signature, no such recipient): taken off, with the reason
    /// logged.
    Refused(String),
    /// Not now (the sender's key not yet known, the store busy): delivered again later.
    Later(String),
}

/// Why joining or a mesh request failed.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("{0}")]
    Config(String),
    #[error("cannot reach the mesh at {urls}: {detail}")]
    Connect { urls: String, detail: String },
    #[error("the mesh's servers refused this node's credentials ({auth:?}): {detail}")]
    Refused { auth: Auth, detail: String },
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error("this node is not in a mesh: run `maestro mesh join` (with `mesh.urls` set)")]
    NotJoined,
    #[error("{0}")]
    Node(String),
}

impl From<MeshError> for RpcError {
    fn from(e: MeshError) -> RpcError {
        let code = match &e {
            MeshError::Config(_) => code::CONFIG_INVALID,
            MeshError::NotJoined | MeshError::Node(_) => code::NOT_FOUND,
            MeshError::Connect { .. } | MeshError::Refused { .. } | MeshError::JetStream(_) => {
                code::CONNECTION_LOST
            }
        };
        RpcError::new(code, e.to_string())
    }
}

/// The mesh service: one per daemon, idle until [`Mesh::join`].
pub struct Mesh {
    host: Arc<dyn MeshHost>,
    joined: tokio::sync::Mutex<Option<Joined>>,
    /// What `status` reports without waiting for the lock above.
    summary: Mutex<Summary>,
    /// The buckets as watched since joining: reads never wait for the servers (nor fail while
    /// they fail over).
    registry: Arc<Mutex<Registry>>,
    /// The distributed runs this node started.
    runs: Arc<Mutex<work::Runs>>,
}

#[derive(Default)]
struct Summary {
    options: Option<MeshOptions>,
    since_ms: Option<u64>,
    error: Option<String>,
    client: Option<async_nats::Client>,
}

/// What the watched buckets hold.
#[derive(Default)]
struct Registry {
    /// Node records by name, and whether the node left (its record was deleted).
    nodes: BTreeMap<String, (NodeInfo, bool)>,
    /// `<repo>.<agent>` → node.
    directory: BTreeMap<String, String>,
    /// `<node>.<owner>` → public key (hex).
    keys: BTreeMap<String, String>,
}

struct Joined {
    name: String,
    client: async_nats::Client,
    js: jetstream::Context,
    /// The runs' tallies kept ([`work::RUNS_BUCKET`]).
    kept: jetstream::kv::Store,
    nodes: jetstream::kv::Store,
    directory: jetstream::kv::Store,
    ttl: Duration,
    tasks: Vec<JoinHandle<()>>,
    /// The directory keys this node wrote, removed when it leaves.
    written: Arc<Mutex<BTreeSet<String>>>,
    _hold: Option<Box<dyn Send + Sync>>,
}

impl Drop for Joined {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A node's name: letters, digits, `-` and `_` (it is a NATS subject token and a KV key).
pub fn check_node_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "node name {name:?} must be 1 to 64 characters long"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "node name {name:?} has {c:?}: only letters, digits, '-' and '_' are allowed"
        ));
    }
    Ok(())
}

/// The directory key of an agent: its repository and its name (agent names are letters, digits
/// and `-`, valid in a key as they are).
pub fn directory_key(repo: &str, name: &str) -> String {
    format!("{repo}.{name}")
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Mesh {
    pub fn new(host: Arc<dyn MeshHost>) -> Mesh {
        Mesh {
            host,
            joined: tokio::sync::Mutex::new(None),
            summary: Mutex::default(),
            registry: Arc::default(),
            runs: Arc::default(),
        }
    }

    /// This node's name when joined.
    pub async fn name(&self) -> Option<String> {
        self.joined.lock().await.as_ref().map(|j| j.name.clone())
    }

    /// This node's name when joined, without waiting.
    pub fn name_now(&self) -> Option<String> {
        let s = self.summary.lock().unwrap();
        s.client.as_ref()?;
        s.options.as_ref().map(|o| o.name.clone())
    }

    /// Connects, checks JetStream, makes the buckets, takes this node's name and starts the
    /// tasks. Joining again first leaves.
    pub async fn join(&self, options: MeshOptions) -> Result<MeshMembership, MeshError> {
        let mut joined = self.joined.lock().await;
        if let Some(old) = joined.take() {
            leave_now(old).await;
        }
        let result = self.connect(&options).await;
        let mut summary = self.summary.lock().unwrap();
        summary.options = Some(options.clone());
        match result {
            Ok(j) => {
                summary.since_ms = Some(now_ms());
                summary.error = None;
                summary.client = Some(j.client.clone());
                *joined = Some(j);
            }
            Err(e) => {
                summary.since_ms = None;
                summary.error = Some(e.to_string());
                summary.client = None;
                return Err(e);
            }
        }
        drop(summary);
        Ok(self.status())
    }

    async fn connect(&self, o: &MeshOptions) -> Result<Joined, MeshError> {
        check_node_name(&o.name).map_err(MeshError::Config)?;
        if o.urls.is_empty() {
            return Err(MeshError::Config(
                "mesh.urls is empty: set the NATS servers to join in the user's config.toml, e.g. mesh.urls = [\"nats://build-server:4222\"]".into(),
            ));
        }
        if o.ttl < o.heartbeat * 2 {
            return Err(MeshError::Config(format!(
                "mesh.ttl_secs ({}) must be at least twice mesh.heartbeat_secs ({}): one late beat would mark the node gone",
                o.ttl.as_secs(),
                o.heartbeat.as_secs()
            )));
        }
        let (client, reconnects) = connect_client(o).await?;
        let js = jetstream::new(client.clone());
        let replicas = replicas(&client);
        let nodes = kv_bucket(
            &js,
            NODES_BUCKET,
            o.ttl,
            replicas,
            "maestro's nodes and their heartbeats",
        )
        .await?;
        let directory = kv_bucket(
            &js,
            AGENTS_BUCKET,
            Duration::ZERO,
            replicas,
            "maestro's agent directory: repository.agent → node",
        )
        .await?;
        let keys = kv_bucket(
            &js,
            KEYS_BUCKET,
            Duration::ZERO,
            replicas,
            "maestro's senders' public keys: node.owner → key",
        )
        .await?;
        let messages = message_stream(&js, replicas).await?;
        let (work_stream, results) = work::streams(&js, replicas).await?;
        let kept = kv_bucket(
            &js,
            work::RUNS_BUCKET,
            Duration::from_secs(30 * 24 * 3600),
            replicas,
            "maestro's distributed runs' tallies: owner.run → tally",
        )
        .await?;
        // The runs this node started before a restart: their results go on coming here.
        work::load(&kept, &o.name, &self.runs).await;
        // A live node of this name elsewhere keeps it: two nodes beating under one name would
        // each see the other's agents as its own.
        if let Some(entry) = nodes
            .entry(o.name.clone())
            .await
            .map_err(|e| MeshError::JetStream(e.to_string()))?
            && entry.operation == jetstream::kv::Operation::Put
            && let Ok(other) = serde_json::from_slice::<NodeInfo>(&entry.value)
        {
            let fresh = now_ms().saturating_sub(other.beat_at_ms) < o.ttl.as_millis() as u64;
            // This machine's record of a daemon that is no longer running (a restart within
            // the TTL) is this node's to take.
            let ours = other.host == host_name()
                && (other.pid == std::process::id() || !process_runs(other.pid));
            if fresh && !ours {
                return Err(MeshError::Config(format!(
                    "node name {} is taken by a live node on {} (pid {}): set another mesh.name",
                    o.name, other.host, other.pid
                )));
            }
        }
        let written = Arc::new(Mutex::new(BTreeSet::new()));
        let mut j = Joined {
            name: o.name.clone(),
            client: client.clone(),
            js: js.clone(),
            kept: kept.clone(),
            nodes: nodes.clone(),
            directory: directory.clone(),
            ttl: o.ttl,
            tasks: Vec::new(),
            written: written.clone(),
            _hold: self.host.hold(),
        };
        j.tasks.push(tokio::spawn(watch(
            nodes.clone(),
            self.registry.clone(),
            reconnects.clone(),
            |r, e| match e.operation {
                jetstream::kv::Operation::Put => match serde_json::from_slice::<NodeInfo>(&e.value)
                {
                    Ok(n) if n.name == e.key => {
                        r.nodes.insert(e.key, (n, false));
                    }
                    _ => tracing::warn!(key = %e.key, "a node record that is not one; ignored"),
                },
                _ => {
                    if let Some((_, left)) = r.nodes.get_mut(&e.key) {
                        *left = true;
                    }
                }
            },
        )));
        j.tasks.push(tokio::spawn(watch(
            keys.clone(),
            self.registry.clone(),
            reconnects.clone(),
            |r, e| keep(&mut r.keys, e),
        )));
        if o.workers > 0 {
            j.tasks.push(tokio::spawn(work::work(
                js.clone(),
                work_stream,
                work::Worker {
                    labels: o.labels.clone(),
                    slots: o.workers,
                    deadline: o.task_deadline,
                },
                self.host.clone(),
                reconnects.clone(),
            )));
        }
        j.tasks.push(tokio::spawn(work::collect(
            results,
            kept.clone(),
            o.name.clone(),
            self.runs.clone(),
            self.host.clone(),
            reconnects.clone(),
        )));
        j.tasks.push(tokio::spawn(receive(
            messages,
            o.name.clone(),
            self.host.clone(),
            reconnects.clone(),
        )));
        j.tasks.push(tokio::spawn(watch(
            directory.clone(),
            self.registry.clone(),
            reconnects.clone(),
            |r, e| keep(&mut r.directory, e),
        )));
        // The first beat before answering: `nodes` on any node lists this one at once.
        let kick = Arc::new(tokio::sync::Notify::new());
        let beater = Beater {
            keys,
            keys_written: Mutex::default(),
            kick: kick.clone(),
            host: self.host.clone(),
            options: o.clone(),
            nodes,
            directory,
            written,
            started_at_ms: now_ms(),
        };
        beater.beat().await?;
        j.tasks.push(tokio::spawn(beater.run()));
        let rpc = client
            .subscribe(format!("{PREFIX}.rpc.{}", o.name))
            .await
            .map_err(|e| MeshError::JetStream(e.to_string()))?;
        j.tasks
            .push(tokio::spawn(serve(client.clone(), rpc, self.host.clone())));
        let events = client
            .subscribe(format!("{PREFIX}.events.*"))
            .await
            .map_err(|e| MeshError::JetStream(e.to_string()))?;
        j.tasks.push(tokio::spawn(relay(
            events,
            o.name.clone(),
            self.host.clone(),
        )));
        j.tasks.push(tokio::spawn(publish(
            client.clone(),
            o.name.clone(),
            self.host.events(),
            kick,
        )));
        client
            .flush()
            .await
            .map_err(|e| MeshError::JetStream(e.to_string()))?;
        tracing::info!(node = %o.name, urls = ?o.urls, "joined the mesh");
        Ok(j)
    }

    /// Leaves: the tasks stop, this node's record and directory entries are deleted, the
    /// connection is drained.
    pub async fn leave(&self) -> MeshMembership {
        if let Some(j) = self.joined.lock().await.take() {
            leave_now(j).await;
        }
        {
            let mut s = self.summary.lock().unwrap();
            s.since_ms = None;
            s.error = None;
            s.client = None;
        }
        *self.registry.lock().unwrap() = Registry::default();
        self.status()
    }

    /// This node's membership.
    pub fn status(&self) -> MeshMembership {
        let s = self.summary.lock().unwrap();
        let o = s.options.as_ref();
        let (server, down) = match &s.client {
            Some(c) if c.connection_state() == async_nats::connection::State::Connected => {
                (Some(server_of(c)), None)
            }
            Some(_) => (
                None,
                Some("the connection to the mesh is down: reconnecting".to_owned()),
            ),
            None => (None, None),
        };
        MeshMembership {
            joined: s.client.is_some(),
            node: o.map(|o| o.name.clone()).unwrap_or_default(),
            urls: o.map(|o| o.urls.clone()).unwrap_or_default(),
            server,
            since_ms: s.since_ms,
            heartbeat_secs: o.map_or(0, |o| o.heartbeat.as_secs()),
            ttl_secs: o.map_or(0, |o| o.ttl.as_secs()),
            error: down.or_else(|| s.error.clone()),
        }
    }

    /// Every node seen since joining: live, or gone (it left, or its last beat is older than
    /// the TTL), with its last record.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, MeshError> {
        let (name, ttl) = {
            let j = self.joined.lock().await;
            let j = j.as_ref().ok_or(MeshError::NotJoined)?;
            (j.name.clone(), j.ttl)
        };
        let now = now_ms();
        let registry = self.registry.lock().unwrap();
        let mut all: Vec<NodeInfo> = registry
            .nodes
            .values()
            .map(|(n, left)| {
                let mut n = n.clone();
                // A clock ahead of ours aside, an older beat is a node that stopped.
                if *left || now.saturating_sub(n.beat_at_ms) > ttl.as_millis() as u64 {
                    n.state = NodeState::Gone;
                    n.running = 0;
                }
                n.this = n.name == name;
                n
            })
            .collect();
        all.sort_by(|a, b| (!a.this, &a.name).cmp(&(!b.this, &b.name)));
        Ok(all)
    }

    /// The node an agent of `repo` named `name` runs on, from the directory.
    pub async fn locate(&self, repo: &str, name: &str) -> Result<Option<String>, MeshError> {
        if self.joined.lock().await.is_none() {
            return Err(MeshError::NotJoined);
        }
        let registry = self.registry.lock().unwrap();
        Ok(registry.directory.get(&directory_key(repo, name)).cloned())
    }

    /// Sends a message to node `node` on the messages stream: stored by the servers (a
    /// replicated stream) when this answers, and taken by that node's consumer whenever it is
    /// up, at least once; `id` deduplicates copies sent again within the stream's window.
    pub async fn post(&self, node: &str, id: &str, body: &Value) -> Result<(), MeshError> {
        check_node_name(node).map_err(MeshError::Node)?;
        let (js, from) = {
            let j = self.joined.lock().await;
            let j = j.as_ref().ok_or(MeshError::NotJoined)?;
            (j.js.clone(), j.name.clone())
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        let body = serde_json::json!({"from": from, "body": body});
        let ack = js
            .publish_with_headers(
                format!("{PREFIX}.msg.{node}"),
                headers,
                serde_json::to_vec(&body).unwrap_or_default().into(),
            )
            .await
            .map_err(|e| MeshError::JetStream(e.to_string()))?;
        ack.await.map_err(|e| MeshError::JetStream(e.to_string()))?;
        Ok(())
    }

    /// Notes that agent `name` of `repo` runs on `node` (this node spawned it there), before the
    /// directory says so: the next request about it goes there at once.
    pub fn note_location(&self, repo: &str, name: &str, node: &str) {
        let mut registry = self.registry.lock().unwrap();
        registry
            .directory
            .insert(directory_key(repo, name), node.to_owned());
    }

    /// Starts a distributed run: `items` on the work queue, tallied as `info` from here.
    pub async fn distribute(
        &self,
        items: Vec<WorkItem>,
        info: maestro_protocol::MeshRunInfo,
    ) -> Result<maestro_protocol::MeshRunInfo, MeshError> {
        let (js, kept, owner) = {
            let j = self.joined.lock().await;
            let j = j.as_ref().ok_or(MeshError::NotJoined)?;
            (j.js.clone(), j.kept.clone(), j.name.clone())
        };
        self.runs.lock().unwrap().start(info.clone());
        work::keep(&kept, &owner, &self.runs, &info.run).await;
        work::enqueue(&js, &items).await?;
        Ok(info)
    }

    /// The distributed runs this node started (kept across its restarts).
    pub fn runs(&self) -> Vec<maestro_protocol::MeshRunInfo> {
        self.runs.lock().unwrap().all()
    }

    /// The key node `node` published for `owner`'s messages.
    pub fn key_of(&self, node: &str, owner: &str) -> Option<String> {
        let registry = self.registry.lock().unwrap();
        registry.keys.get(&format!("{node}.{owner}")).cloned()
    }

    /// The node (not this one, and not one that left) whose agents include `name` of workspace
    /// `workspace`, from the last heartbeats. A node that stopped beating still counts: a
    /// message for it waits on the stream until it is back.
    pub fn node_of_agent(&self, workspace: &str, name: &str) -> Option<String> {
        self.elsewhere(|a| a.workspace == workspace && a.name == name)
            .map(|(node, _)| node)
    }

    /// An agent `name` in repository `repo` on another node, with the workspace it has there,
    /// from the last heartbeats.
    pub fn agent_elsewhere(&self, repo: &str, name: &str) -> Option<(String, String)> {
        self.elsewhere(|a| a.name == name && a.repo.as_deref() == Some(repo))
    }

    /// The first agent of another node (not one that left) that `wanted` picks: its node and
    /// workspace.
    fn elsewhere(&self, wanted: impl Fn(&NodeAgent) -> bool) -> Option<(String, String)> {
        let me = self.name_now()?;
        let registry = self.registry.lock().unwrap();
        registry
            .nodes
            .values()
            .filter(|(n, left)| !left && n.name != me)
            .find_map(|(n, _)| {
                n.agents
                    .iter()
                    .find(|a| wanted(a))
                    .map(|a| (n.name.clone(), a.workspace.clone()))
            })
    }

    /// Calls `call.method` on node `node` and waits (at most `timeout`) for its answer.
    pub async fn call(
        &self,
        node: &str,
        call: &Call,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        let client = {
            let j = self.joined.lock().await;
            j.as_ref().ok_or(MeshError::NotJoined)?.client.clone()
        };
        check_node_name(node).map_err(|e| RpcError::invalid_params(&call.method, e))?;
        let payload = serde_json::to_vec(call).map_err(RpcError::internal)?;
        // Nobody answering may be interest not yet spread through a cluster (a node that just
        // joined, or moved to another server): asked again for a second before it counts.
        let mut attempt = 0;
        let reply = loop {
            let request = async_nats::Request::new()
                .payload(payload.clone().into())
                .timeout(Some(timeout));
            match client
                .send_request(format!("{PREFIX}.rpc.{node}"), request)
                .await
            {
                Ok(reply) => break reply,
                Err(e)
                    if e.kind() == async_nats::RequestErrorKind::NoResponders && attempt < 10 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    use async_nats::RequestErrorKind as K;
                    let detail = match e.kind() {
                        K::NoResponders => {
                            format!("node {node} is not in the mesh (nobody answers for it)")
                        }
                        K::TimedOut => format!(
                            "node {node} did not answer {} within {} s",
                            call.method,
                            timeout.as_secs()
                        ),
                        _ => format!("calling node {node}: {e}"),
                    };
                    return Err(RpcError::new(code::CONNECTION_LOST, detail));
                }
            }
        };
        let reply: CallReply = serde_json::from_slice(&reply.payload).map_err(|e| {
            RpcError::internal(format!("node {node} answered something unreadable: {e}"))
        })?;
        reply.into_result()
    }
}

async fn leave_now(mut j: Joined) {
    // Stopped before the deletes: a beat under way is sent first, and the deletes after it.
    for t in std::mem::take(&mut j.tasks) {
        t.abort();
        let _ = t.await;
    }
    let _ = j.nodes.delete(&j.name).await;
    let keys: Vec<String> = j.written.lock().unwrap().iter().cloned().collect();
    for k in keys {
        delete_if_ours(&j.directory, &k, &j.name).await;
    }
    let _ = j.client.flush().await;
    let _ = j.client.drain().await;
    tracing::info!(node = %j.name, "left the mesh");
}

/// Deletes directory entry `key` while it still names node `me`: an agent that moved to
/// another node (a transfer) is that node's entry now.
async fn delete_if_ours(directory: &jetstream::kv::Store, key: &str, me: &str) {
    if let Ok(Some(entry)) = directory.entry(key).await
        && entry.operation == jetstream::kv::Operation::Put
        && entry.value.as_ref() == me.as_bytes()
    {
        let _ = directory
            .delete_expect_revision(key, Some(entry.revision))
            .await;
    }
}

fn server_of(c: &async_nats::Client) -> String {
    let info = c.server_info();
    // An unnamed server's name is its 56-character id: noise to a person.
    if info.server_name.is_empty() || info.server_name == info.server_id {
        format!("nats-server {}", info.version)
    } else {
        format!("{} (nats-server {})", info.server_name, info.version)
    }
}

/// Whether process `pid` runs on this machine (a thread's id is not a process).
fn process_runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Tgid:"))
            .is_some_and(|t| t.trim() == pid.to_string())
    })
}

/// This machine's name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Counts the connection's reconnections: consumers and watches living on the servers are made
/// again after one (the server that held them may be the one that died).
pub(crate) type Reconnects = tokio::sync::watch::Receiver<u64>;

async fn connect_client(o: &MeshOptions) -> Result<(async_nats::Client, Reconnects), MeshError> {
    let (count, reconnects) = tokio::sync::watch::channel(0u64);
    let count = Arc::new(count);
    let mut opts = match &o.auth {
        Auth::None => async_nats::ConnectOptions::new(),
        Auth::UserPassword { user, password } => {
            async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
        Auth::Nkey(seed) => async_nats::ConnectOptions::with_nkey(seed.clone()),
    };
    if o.urls.iter().any(|u| u.starts_with("tls://")) {
        opts = opts.require_tls(true);
    }
    if let Some(ca) = &o.ca_file {
        opts = opts.add_root_certificates(ca.clone());
    }
    opts = opts
        .event_callback(move |event| {
            let count = count.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        count.send_modify(|n| *n += 1);
                    }
                    other => tracing::debug!("mesh connection: {other}"),
                }
            }
        })
        .name(format!("maestro {}", o.name))
        .connection_timeout(Duration::from_secs(5))
        // Keep trying for ever once joined; the first connection must succeed (or say why).
        .max_reconnects(None);
    let addrs: Vec<async_nats::ServerAddr> = o
        .urls
        .iter()
        .map(|u| {
            u.parse()
                .map_err(|e| MeshError::Config(format!("mesh.urls: {u:?} is not a NATS URL: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let client = opts.connect(addrs.as_slice()).await.map_err(|e| {
        let detail = e.to_string();
        if matches!(
            e.kind(),
            async_nats::ConnectErrorKind::AuthorizationViolation
        ) {
            MeshError::Refused {
                auth: o.auth.clone(),
                detail,
            }
        } else {
            MeshError::Connect {
                urls: o.urls.join(", "),
                detail,
            }
        }
    })?;
    Ok((client, reconnects))
}

/// How many copies of the mesh's buckets and streams the servers keep: one per server of a
/// cluster, up to three (a cluster of three survives one server's death), one on a lone server.
fn replicas(client: &async_nats::Client) -> usize {
    let info = client.server_info();
    if info.cluster.is_some() {
        info.connect_urls.len().clamp(1, 3)
    } else {
        1
    }
}

async fn kv_bucket(
    js: &jetstream::Context,
    bucket: &str,
    max_age: Duration,
    replicas: usize,
    description: &str,
) -> Result<jetstream::kv::Store, MeshError> {
    // A cluster that has just started may not place a replicated bucket yet ("no suitable
    // peers"): a few more tries, for 5 s.
    let mut tries = 0;
    loop {
        if let Ok(kv) = js.get_key_value(bucket).await {
            return Ok(kv);
        }
        let made = js
            .create_key_value(jetstream::kv::Config {
                bucket: bucket.to_owned(),
                description: description.to_owned(),
                history: 1,
                max_age,
                num_replicas: replicas,
                ..Default::default()
            })
            .await;
        match made {
            Ok(kv) => return Ok(kv),
            // Another node made it meanwhile.
            Err(_) if let Ok(kv) = js.get_key_value(bucket).await => return Ok(kv),
            Err(e) if tries < 10 => {
                tracing::debug!("making the KV bucket {bucket}: {e}; trying again");
                tries += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(MeshError::JetStream(format!(
                    "the KV bucket {bucket} (is JetStream enabled on the servers?): {e}"
                )));
            }
        }
    }
}

/// The stream of messages between nodes, made by the first node that needs it.
async fn message_stream(
    js: &jetstream::Context,
    replicas: usize,
) -> Result<jetstream::stream::Stream, MeshError> {
    let config = jetstream::stream::Config {
        name: MESSAGES_STREAM.to_owned(),
        description: Some("maestro's signed messages between nodes".to_owned()),
        subjects: vec![format!("{PREFIX}.msg.*")],
        // As long as a message can be accepted (the replay window).
        max_age: Duration::from_secs(7 * 24 * 3600),
        duplicate_window: Duration::from_secs(600),
        num_replicas: replicas,
        ..Default::default()
    };
    stream(js, config).await
}

/// The stream of `config`, made by the first node that needs it (a cluster that has just
/// started may not place it yet: a few more tries, for 5 s).
pub(crate) async fn stream(
    js: &jetstream::Context,
    config: jetstream::stream::Config,
) -> Result<jetstream::stream::Stream, MeshError> {
    let mut tries = 0;
    loop {
        match js.get_or_create_stream(config.clone()).await {
            Ok(s) => return Ok(s),
            Err(e) if tries < 10 => {
                tracing::debug!("making the stream {}: {e}; trying again", config.name);
                tries += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(MeshError::JetStream(format!(
                    "the stream {}: {e}",
                    config.name
                )));
            }
        }
    }
}

/// Takes this node's messages off the stream (its durable consumer: what came while it was down
/// comes now), each handed to the host and acknowledged once stored or refused.
async fn receive(
    stream: jetstream::stream::Stream,
    name: String,
    host: Arc<dyn MeshHost>,
    reconnects: Reconnects,
) {
    use jetstream::AckKind;
    let filter = format!("{PREFIX}.msg.{name}");
    consume(
        stream,
        format!("msg-{name}"),
        filter,
        Duration::from_secs(30),
        reconnects,
        |m| {
            let host = host.clone();
            async move {
                let tries = m.info().map_or(1, |i| i.delivered);
                let v: Value = serde_json::from_slice(&m.payload).unwrap_or_default();
                let from = v["from"].as_str().unwrap_or_default().to_owned();
                let outcome = if check_node_name(&from).is_err() {
                    Delivery::Refused("it names no sending node".into())
                } else {
                    host.deliver(from.clone(), v["body"].clone()).await
                };
                let ack = match outcome {
                    Delivery::Stored => AckKind::Ack,
                    Delivery::Refused(why) => {
                        tracing::warn!(%from, "a message from the mesh refused: {why}");
                        AckKind::Term
                    }
                    Delivery::Later(why) if tries < 60 => {
                        tracing::debug!(%from, tries, "a message from the mesh, later: {why}");
                        AckKind::Nak(Some(Duration::from_secs(1)))
                    }
                    Delivery::Later(why) => {
                        tracing::warn!(%from, tries, "a message from the mesh given up: {why}");
                        AckKind::Term
                    }
                };
                if let Err(e) = m.ack_with(ack).await {
                    tracing::debug!("acknowledging a message: {e}");
                }
            }
        },
    )
    .await
}

/// Hands each message of durable consumer `durable` (made when missing, on `filter`) to
/// `handle`, one after the other, for ever: the consumer is asked again after an error or a
/// reconnection.
pub(crate) async fn consume<F, Fut>(
    stream: jetstream::stream::Stream,
    durable: String,
    filter: String,
    ack_wait: Duration,
    mut reconnects: Reconnects,
    mut handle: F,
) where
    F: FnMut(jetstream::Message) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use jetstream::consumer::pull;
    let config = pull::Config {
        durable_name: Some(durable.clone()),
        filter_subject: filter,
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait,
        ..Default::default()
    };
    loop {
        reconnects.borrow_and_update();
        let messages = match stream
            .get_or_create_consumer::<pull::Config>(&durable, config.clone())
            .await
        {
            Ok(c) => c.messages().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match messages {
            Ok(mut messages) => loop {
                let m = tokio::select! {
                    m = messages.next() => m,
                    _ = reconnects.changed() => break,
                };
                match m {
                    Some(Ok(m)) => handle(m).await,
                    Some(Err(e)) => {
                        tracing::debug!("{durable}: {e}");
                        break;
                    }
                    None => break,
                }
            },
            Err(e) => tracing::debug!("{durable}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A bucket of strings as a map: a put sets its key, a delete or purge takes it out.
fn keep(map: &mut BTreeMap<String, String>, e: jetstream::kv::Entry) {
    match e.operation {
        jetstream::kv::Operation::Put => {
            map.insert(e.key, String::from_utf8_lossy(&e.value).into_owned());
        }
        _ => {
            map.remove(&e.key);
        }
    }
}

/// Keeps `registry` as `kv` holds it: every key's value, then each change. A watch broken by a
/// failover or a lost connection starts again (from every key's current value).
async fn watch(
    kv: jetstream::kv::Store,
    registry: Arc<Mutex<Registry>>,
    mut reconnects: Reconnects,
    apply: fn(&mut Registry, jetstream::kv::Entry),
) {
    loop {
        reconnects.borrow_and_update();
        // Every key's last value first (`watch_all` gives only the changes after it starts).
        match kv.watch_with_history(">").await {
            Ok(mut changes) => loop {
                let change = tokio::select! {
                    change = changes.next() => change,
                    _ = reconnects.changed() => break,
                };
                match change {
                    Some(Ok(entry)) => {
                        tracing::trace!(bucket = %kv.name, key = %entry.key, "watched");
                        apply(&mut registry.lock().unwrap(), entry)
                    }
                    Some(Err(e)) => {
                        tracing::debug!("watching {}: {e}", kv.name);
                        break;
                    }
                    None => break,
                }
            },
            Err(e) => tracing::debug!("watching {}: {e}", kv.name),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The heartbeat task's state.
struct Beater {
    keys: jetstream::kv::Store,
    /// The `<node>.<owner>` keys this node published, with their values.
    keys_written: Mutex<BTreeMap<String, String>>,
    /// An agent changed state: beat now (the directory and the agents' states stay current
    /// between beats).
    kick: Arc<tokio::sync::Notify>,
    host: Arc<dyn MeshHost>,
    options: MeshOptions,
    nodes: jetstream::kv::Store,
    directory: jetstream::kv::Store,
    written: Arc<Mutex<BTreeSet<String>>>,
    started_at_ms: u64,
}

impl Beater {
    async fn run(self) {
        let mut tick = tokio::time::interval(self.options.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.kick.notified() => {
                    // Changes that come together make one beat.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    tick.reset();
                }
            }
            if let Err(e) = self.beat().await {
                tracing::warn!("mesh heartbeat: {e}");
            }
        }
    }

    async fn beat(&self) -> Result<(), MeshError> {
        let mut info = self.host.beat().await;
        info.name = self.options.name.clone();
        info.labels = self.options.labels.clone();
        info.beat_at_ms = now_ms();
        info.started_at_ms = self.started_at_ms;
        info.state = NodeState::Live;
        info.this = false;
        let body = serde_json::to_vec(&info).map_err(|e| MeshError::JetStream(e.to_string()))?;
        self.nodes
            .put(&self.options.name, body.into())
            .await
            .map_err(|e| MeshError::JetStream(e.to_string()))?;
        // The directory: this node's agents in, the ones it no longer has out.
        let now: BTreeSet<String> = info
            .agents
            .iter()
            .filter_map(|a| a.repo.as_deref().map(|r| directory_key(r, &a.name)))
            .collect();
        let before = self.written.lock().unwrap().clone();
        for k in now.difference(&before) {
            self.directory
                .put(k, self.options.name.clone().into_bytes().into())
                .await
                .map_err(|e| MeshError::JetStream(e.to_string()))?;
            self.written.lock().unwrap().insert(k.clone());
        }
        for k in before.difference(&now) {
            delete_if_ours(&self.directory, k, &self.options.name).await;
            self.written.lock().unwrap().remove(k);
        }
        // The senders' keys, once each (again when one changes).
        for (owner, public) in self.host.keys().await {
            let key = format!("{}.{owner}", self.options.name);
            if self.keys_written.lock().unwrap().get(&key) == Some(&public) {
                continue;
            }
            self.keys
                .put(&key, public.clone().into_bytes().into())
                .await
                .map_err(|e| MeshError::JetStream(e.to_string()))?;
            tracing::debug!(%key, "published a sender's key");
            self.keys_written.lock().unwrap().insert(key, public);
        }
        Ok(())
    }
}

/// Answers calls from other nodes, each in a task of its own.
async fn serve(
    client: async_nats::Client,
    mut rpc: async_nats::Subscriber,
    host: Arc<dyn MeshHost>,
) {
    while let Some(msg) = rpc.next().await {
        let Some(reply_to) = msg.reply.clone() else {
            continue;
        };
        let host = host.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let answer = match serde_json::from_slice::<Call>(&msg.payload) {
                Err(e) => Err(RpcError::invalid_request(format!("a mesh call: {e}"))),
                Ok(call) if !REMOTE_METHODS.contains(&call.method.as_str()) => Err(RpcError::new(
                    code::METHOD_NOT_FOUND,
                    format!("{} is not served to other nodes of the mesh", call.method),
                )),
                Ok(call) => {
                    let from = call.from.clone();
                    host.call(&from, call).await
                }
            };
            let body = serde_json::to_vec(&CallReply::from_result(answer))
                .unwrap_or_else(|_| b"{}".to_vec());
            if let Err(e) = client.publish(reply_to, body.into()).await {
                tracing::warn!("answering a mesh call: {e}");
            }
        });
    }
}

/// Publishes this node's agent events (not the ones relayed from other nodes).
async fn publish(
    client: async_nats::Client,
    name: String,
    mut events: broadcast::Receiver<Event>,
    kick: Arc<tokio::sync::Notify>,
) {
    let subject = format!("{PREFIX}.events.{name}");
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "the mesh's event publisher missed events");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let ours = match &event {
            Event::AgentStatus(s) => s.agent.node.as_ref().is_none_or(|n| *n == name),
            Event::AgentOutput(o) => o.node.is_none(),
            _ => false,
        };
        if !ours {
            continue;
        }
        if matches!(event, Event::AgentStatus(_)) {
            kick.notify_one();
        }
        let body = serde_json::json!({"method": event.method(), "params": event.params()});
        let body = serde_json::to_vec(&body).unwrap_or_default();
        if let Err(e) = client.publish(subject.clone(), body.into()).await {
            tracing::debug!("publishing an event to the mesh: {e}");
        }
    }
}

/// Hands other nodes' events to the host, marked with their node.
async fn relay(mut events: async_nats::Subscriber, name: String, host: Arc<dyn MeshHost>) {
    let own = format!("{PREFIX}.events.{name}");
    while let Some(msg) = events.next().await {
        if msg.subject.as_str() == own {
            continue;
        }
        let Some(node) = msg.subject.as_str().rsplit('.').next().map(str::to_owned) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&msg.payload) else {
            continue;
        };
        let method = v["method"].as_str().unwrap_or_default();
        match Event::from_notification(method, v["params"].clone()) {
            Some(Ok(Event::AgentStatus(mut s))) => {
                s.agent.node = Some(node);
                host.relay(Event::AgentStatus(s));
            }
            Some(Ok(Event::AgentOutput(mut o))) => {
                o.node = Some(node);
                host.relay(Event::AgentOutput(o));
            }
            _ => tracing::debug!(%node, method, "an event from the mesh ignored"),
        }
    }
}
