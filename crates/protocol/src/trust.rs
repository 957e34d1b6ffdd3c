//! Approving the commands a repository chooses (`maestro trust`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `maestro/trust.list`: the repository around `path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustListParams {
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustListResult {
    pub root: PathBuf,
    /// Every command the repository's config chooses, approved or not.
    pub commands: Vec<RepositoryCommand>,
}

/// A command a repository's config file chooses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryCommand {
    /// The config key, e.g. `agents.setup_command`.
    pub key: String,
    /// When it runs, in words.
    pub when: String,
    /// The argument vector, exactly as it would run (no shell).
    pub command: Vec<String>,
    /// The config file that sets it.
    pub file: PathBuf,
    pub state: TrustState,
    /// What was approved before, when the command changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TrustState {
    Approved,
    /// Never approved for this repository.
    Unapproved,
    /// Approved once, but the file now says something else.
    Changed,
}

/// `maestro/trust.approve`: the command exactly as the person was shown it; refused when the
/// file says something else by now. Answers the updated [`TrustListResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustApproveParams {
    pub path: PathBuf,
    pub key: String,
    pub command: Vec<String>,
}

/// `maestro/trust.revoke`: one key's approval, or all of the repository's. Answers the updated
/// [`TrustListResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustRevokeParams {
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The `data` of a `NOT_TRUSTED` error: what would have run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntrustedCommand {
    pub root: PathBuf,
    pub key: String,
    pub when: String,
    pub command: Vec<String>,
    pub file: PathBuf,
}
