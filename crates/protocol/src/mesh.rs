//! The mesh: this daemon's membership of a NATS JetStream mesh, and the nodes it sees.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `maestro/mesh.status` (and the answer to `join` and `leave`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshMembership {
    /// Connected and beating.
    pub joined: bool,
    /// This node's name in the mesh (`mesh.name`, default the host's name).
    pub node: String,
    /// The configured servers (`mesh.urls`); empty means local only.
    pub urls: Vec<String>,
    /// The server this node is connected to now, when joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Joined since (Unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
    pub heartbeat_secs: u64,
    /// A node that has not beaten for this long is gone.
    pub ttl_secs: u64,
    /// Why the last join failed or the connection is down, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether a node beats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Live,
    /// It stopped beating (its record expired, or its last beat is older than the TTL); its
    /// agents are lost.
    Gone,
}

/// A repository a node has a checkout of, known by its first commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRepo {
    /// The id of the repository's root commit (the same in every clone).
    pub repo: String,
    pub name: String,
    /// Where the checkout is on that node.
    pub root: PathBuf,
}

/// An agent as its node's heartbeat lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAgent {
    pub name: String,
    /// The repository (root commit id) it works in, when it has commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub workspace: String,
    pub workspace_root: PathBuf,
    /// Its CLI.
    pub agent: String,
    pub state: crate::AgentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default)]
    pub turns: u32,
}

/// One node of the mesh: what its last heartbeat said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub name: String,
    pub host: String,
    /// maestro's version there.
    pub version: String,
    pub pid: u32,
    /// The one-minute load average divided by the cores.
    pub load: f64,
    pub cores: u32,
    /// Its agents with a process running now.
    pub running: u32,
    pub agents: Vec<NodeAgent>,
    /// The agent CLIs found there.
    pub clis: Vec<String>,
    /// `mesh.labels` there: what a distributed task may ask for.
    pub labels: Vec<String>,
    pub repos: Vec<NodeRepo>,
    /// Its last beat and its start (Unix milliseconds, its clock).
    pub beat_at_ms: u64,
    pub started_at_ms: u64,
    pub state: NodeState,
    /// This node.
    #[serde(default)]
    pub this: bool,
}

/// `maestro/mesh.run`: a playbook's open tasks put on the mesh's work queue, for any node's
/// workers to take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshRunParams {
    /// The document (one, committed as it is: the workers start from this checkout's HEAD).
    pub path: PathBuf,
    /// The agent CLI of tasks that name none (default `agents.default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Only nodes with every one of these `mesh.labels` take the tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// A task of a distributed run that did not get done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshTaskFailure {
    /// 1-based line of the task in the document.
    pub line: u32,
    pub node: String,
    pub reason: String,
}

/// A distributed run as its owner (the node that started it) tallies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshRunInfo {
    pub run: String,
    pub document: PathBuf,
    /// Where the work lands: the run's branch, from the commit the run started at.
    pub branch: String,
    pub total: u32,
    pub done: u32,
    pub failed: Vec<MeshTaskFailure>,
    /// Tasks done per node.
    pub by_node: std::collections::BTreeMap<String, u32>,
    /// Results that came twice (a task redone after its node stopped answering): ignored.
    pub duplicates: u32,
    pub started_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<u64>,
}
