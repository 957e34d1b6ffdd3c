//! Portable agents: export, import, fork, snapshots and rollback, transfer between nodes.

use crate::AgentInfo;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `maestro/agent.export`: agent `name` as an archive written to `output`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentExportParams {
    pub name: String,
    pub path: PathBuf,
    /// The archive to write (absolute; replaced if it is there).
    pub output: PathBuf,
    /// Put the agent's secret key in, sealed with `passphrase`.
    #[serde(default)]
    pub with_key: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// An entry of an archive and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveEntry {
    pub name: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentExportResult {
    pub file: PathBuf,
    /// The archive's size.
    pub bytes: u64,
    /// What it holds, uncompressed.
    pub raw_bytes: u64,
    pub entries: Vec<ArchiveEntry>,
    pub memories: usize,
    pub messages: usize,
    /// What was left out, and why (uncommitted work, a session not carried).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `maestro/agent.import`: the agent of archive `file` into the repository around `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentImportParams {
    pub file: PathBuf,
    pub path: PathBuf,
    /// Its name here (default: the archive's).
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Opens a sealed key (an archive made `--with-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// `maestro/agent.fork`: a new agent `new` from `name`'s current point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentForkParams {
    pub name: String,
    pub path: PathBuf,
    pub new: String,
}

/// `maestro/agent.snapshot`: keeps agent `name`'s present point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSnapshotParams {
    pub name: String,
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A kept point of an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotInfo {
    /// Its number among the agent's snapshots (1, 2, …).
    pub id: String,
    pub agent: String,
    /// Unix seconds.
    pub at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The branch's tip it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub bytes: u64,
}

/// `maestro/agent.rollback`: agent `name` back at snapshot `snapshot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRollbackParams {
    pub name: String,
    pub path: PathBuf,
    pub snapshot: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRollbackResult {
    pub agent: AgentInfo,
    /// The snapshot of the point it was at before.
    pub before: SnapshotInfo,
    pub restored: SnapshotInfo,
}

/// `maestro/agent.transfer`: agent `name` moves to node `to` of the mesh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentTransferParams {
    pub name: String,
    pub path: PathBuf,
    pub to: String,
}

/// `maestro/mesh.receive` (between nodes): take the archive `object` of the transfer bucket as
/// an agent of the repository whose root commit is `repository`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshReceiveParams {
    pub object: String,
    pub repository: String,
    /// The node it comes from (whose published keys verify its messages).
    #[serde(default)]
    pub from: String,
    /// Filled in by the receiving node: its checkout of the repository.
    #[serde(default)]
    pub path: PathBuf,
}
