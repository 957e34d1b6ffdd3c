//! Memory on the wire: what agents and people remembered, and searching it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Kinds of memory: an agent's turn (prompt, reply, tools used), a person's note, a playbook task's
/// summary, an imported transcript exchange, and a code symbol (semantic code search).
pub mod memory_kind {
    pub const TURN: &str = "turn";
    pub const NOTE: &str = "note";
    pub const SUMMARY: &str = "summary";
    pub const IMPORT: &str = "import";
    pub const CODE: &str = "code";
    /// What was said in a group chat.
    pub const CHAT: &str = "chat";
    pub const ALL: [&str; 6] = [TURN, NOTE, SUMMARY, IMPORT, CODE, CHAT];
    /// What a search or list without kinds covers: everything but code (`maestro search` asks
    /// for code).
    pub const BY_DEFAULT: [&str; 5] = [TURN, NOTE, SUMMARY, IMPORT, CHAT];
}

/// `maestro/memory.add`: a note (or any kind but code) for the workspace around `path`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryAddParams {
    pub path: PathBuf,
    pub text: String,
    /// Default `note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Where it comes from (a URL, a file, a ticket); default `note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryAddResult {
    /// One id per chunk (a long text is split).
    pub ids: Vec<String>,
    /// Already remembered (the same text from the same source): nothing new was stored.
    #[serde(default)]
    pub existed: bool,
}

/// `maestro/memory.search`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemorySearchParams {
    pub query: String,
    /// The workspace around this path; with neither `path` nor `allWorkspaces`, every workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub all_workspaces: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Only these kinds (default: every kind but `code`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Unix seconds: only memories at or after / before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<f64>,
    /// How many hits (default 10, at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
    /// `hybrid` (default), `keyword` or `semantic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// One remembered thing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub id: String,
    pub kind: String,
    /// The workspace's id.
    pub workspace: String,
    /// The agent it is about ("" when none).
    pub agent: String,
    /// Where it comes from: `agent:NAME#turnN`, `note`, `playbook:PATH:LINE`, `file:PATH:LINE`, ….
    pub source: String,
    /// A file and 1-based line it links to, when it has one (code, playbook tasks, imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Unix seconds (the latest time it was remembered).
    pub at: f64,
    pub text: String,
    /// How many times it was remembered (near-duplicates merge into one memory).
    pub count: u32,
    /// Whether it has its vector yet (semantic search finds it only then).
    pub embedded: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryHit {
    #[serde(flatten)]
    pub memory: Memory,
    /// The fused score (higher is better).
    pub score: f64,
    /// Rank in the keyword and in the vector list, from 1, when in them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword_rank: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_rank: Option<u32>,
    /// Cosine similarity to the query, when the vector search found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemorySearchResult {
    pub hits: Vec<MemoryHit>,
    /// The mode used: `hybrid`, `keyword` or `semantic`.
    pub mode: String,
    /// Why the search was less than asked (no model: keyword only), with the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    pub took_ms: f64,
}

/// `maestro/memory.list`: newest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Default 20, at most 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryListResult {
    pub memories: Vec<Memory>,
}

/// `maestro/memory.forget`: by ids, or everything of an agent in a workspace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryForgetParams {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryForgetResult {
    pub forgotten: u32,
}

/// `maestro/memory.status`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStatusResult {
    /// Memories stored, by kind.
    pub by_kind: BTreeMap<String, u64>,
    pub total: u64,
    /// Waiting for their vector.
    pub queued: u64,
    /// Vectors in the in-process index.
    pub indexed: u64,
    /// Age of the oldest memory waiting for its vector, seconds.
    pub lag_secs: f64,
    /// Memories merged into an earlier near-duplicate since the daemon started.
    pub merged: u64,
    /// Vectors made since the daemon started, and how fast (texts per second of embedding time).
    pub embedded: u64,
    pub embed_per_sec: f64,
    /// `loading`, `ready`, `keyword-only` (no model: the warning says why) or `off` (memory.enabled).
    pub semantic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub dim: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// How long loading the vectors took at start, ms.
    pub load_ms: f64,
}

/// `maestro/memory.import`: agent CLIs' own transcripts of the workspace around `path`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryImportParams {
    pub path: PathBuf,
    /// Claude Code's projects directory (default `~/.claude/projects`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_dir: Option<PathBuf>,
    /// Codex's sessions directory (default `~/.codex/sessions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryImportResult {
    /// Transcript files of this workspace read.
    pub files: u32,
    /// Exchanges (a prompt and what followed) found, and how many were new.
    pub exchanges: u32,
    pub added: u32,
    /// Lines that could not be read, with file and line (the rest was imported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}
