//! The schema as a list of forward migrations. A store records the version it has reached in
//! `maestro_meta`; opening runs the missing migrations in order, each in one cozo transaction together
//! with the version bump, so a failed migration leaves the store as it was.

use crate::{Params, StoreError};
use cozo::{DataValue, DbInstance, ScriptMutability};
use std::path::Path;

/// One step of the schema: a chained cozo script (`{...} {...}`) run as a single transaction.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub summary: &'static str,
    pub script: &'static str,
}

/// The schema, oldest first. Never edit a released entry: add a new one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        summary: "maestro_meta (schema version) and workspace registry",
        script: r#"
{:create maestro_meta {key: String => value: Any}}
{:create workspace {id: String => root: String, name: String, kind: String, first_seen: Float, last_seen: Float}}
"#,
    },
    Migration {
        version: 2,
        summary: "code graph: files per workspace, facts per content hash",
        script: r#"
{:create file {ws: String, path: String => hash: String, lang: String, size: Int, mtime_ns: Int}}
{::index create file:by_hash {hash, ws, path}}
{:create content {hash: String => lang: String, facts: Bytes, symbols: Int, refs: Int, imports: Int, parse_errors: Int}}
{:create symbol {hash: String, idx: Int =>
    name: String, kind: String, container: Int?, owner: String?,
    line: Int, col: Int, start_line: Int, end_line: Int, signature: String}}
{:create reference {hash: String, idx: Int =>
    name: String, kind: String, qualifier: String?, enclosing: Int?, line: Int, col: Int}}
{:create import {hash: String, idx: Int => module: String, name: String?, alias: String?, line: Int}}
"#,
    },
    Migration {
        version: 3,
        summary: "agents, their turns and their usage",
        script: r#"
{:create agent {ws: String, name: String => state: String, updated: Float, record: String}}
{:create agent_turn {ws: String, agent: String, turn: Int =>
    prompt: String, started: Float, ended: Float?, outcome: String?,
    error_class: String?, message: String?, session_id: String?}}
{:create agent_usage {ws: String, agent: String, turn: Int =>
    model: String, input: Int, output: Int, cache_read: Int, cache_write: Int,
    cost_usd: Float?, priced: Bool, day: String, at: Float}}
"#,
    },
    Migration {
        version: 4,
        summary: "playbook runs and their events",
        script: r#"
{:create playbook_run {id: String => ws: String, status: String, updated: Float, record: String}}
{:create playbook_event {run: String, seq: Int => at: Float, kind: String, event: String}}
"#,
    },
    Migration {
        version: 5,
        summary: "memory: remembered texts with their vectors, a full-text index, the embedding queue",
        // Lucene's English stopwords: cozo's `Stopwords('en')` is a 1,298-word list that drops
        // "test", "auth", "http", "fix", "value", "name", … — words people search code memory for.
        script: r#"
{:create memory {id: String =>
    ws: String, kind: String, agent: String, source: String, at: Float, text: String,
    count: Int, vec: Bytes?, model: String?}}
{::fts create memory:fts {extractor: text, tokenizer: Simple,
    filters: [Lowercase, Stemmer('english'), Stopwords(['a', 'an', 'and', 'are', 'as', 'at', 'be',
        'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not', 'of', 'on', 'or', 'such',
        'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was', 'will',
        'with'])]}}
{::index create memory:by_ws {ws, at, id}}
{:create memory_pending {id: String => at: Float}}
{:create memory_code {ws: String, path: String => hash: String, ids: [String]}}
"#,
    },
    Migration {
        version: 6,
        summary: "trusted_command: repository commands the person approved",
        script: r#"
{:create trusted_command {root: String, key: String => command: String, file: String, at: Float}}
"#,
    },
    Migration {
        version: 7,
        summary: "the embedding queue in the order it is taken: memory_pending:by_at",
        // Taking the oldest entries first was a sort of the whole queue joined with every
        // memory's text, for each batch: quadratic in a repository's code chunks.
        script: r#"
{::index create memory_pending:by_at {at, id}}
"#,
    },
    Migration {
        version: 8,
        summary: "facts keyed by the content hash's 16 bytes instead of 32 hex characters",
        // The hash leads the key of every fact row: 45 bytes of a 64-byte reference key as text,
        // 19 as bytes (the cargo registry's store: 540 → about 480 MB). Facts are derived, so they
        // are parsed again rather than converted; `memory_code` names the hashes as text, so it
        // starts over too: the code chunks are made again with the same ids, their vectors kept.
        script: r#"
{::index drop file:by_hash}
{::remove file, content, symbol, reference, import, memory_code}
{:create file {ws: String, path: String => hash: Bytes, lang: String, size: Int, mtime_ns: Int}}
{::index create file:by_hash {hash, ws, path}}
{:create content {hash: Bytes => lang: String, facts: Bytes, symbols: Int, refs: Int, imports: Int, parse_errors: Int}}
{:create symbol {hash: Bytes, idx: Int =>
    name: String, kind: String, container: Int?, owner: String?,
    line: Int, col: Int, start_line: Int, end_line: Int, signature: String}}
{:create reference {hash: Bytes, idx: Int =>
    name: String, kind: String, qualifier: String?, enclosing: Int?, line: Int, col: Int}}
{:create import {hash: Bytes, idx: Int => module: String, name: String?, alias: String?, line: Int}}
{:create memory_code {ws: String, path: String => hash: String, ids: [String]}}
"#,
    },
    Migration {
        version: 9,
        summary: "messages: signed envelopes by recipient and by thread",
        script: r#"
{:create message {id: String => sender: String, recipient: String, thread: String, created_at: Int, expires_at: Int?, signed: String, read_at: Float?}}
{::index create message:by_recipient {recipient, created_at, id}}
{::index create message:by_thread {thread, created_at, id}}
"#,
    },
    Migration {
        version: 10,
        summary: "messages: when each became part of its recipient's turn; by creation time",
        script: r#"
{:create message_delivered {id: String => at: Float}}
{::index create message:by_created {created_at, id}}
"#,
    },
    Migration {
        version: 11,
        summary: "group chats and their entries; attention decisions; consult threads",
        script: r#"
{:create chat {id: String => ws: String, state: String, updated: Float, record: String}}
{:create chat_entry {chat: String, seq: Int => at: Float, author: String, kind: String, round: Int, text: String}}
{:create attention {id: String => ws: String, agent: String, at: Float, question: String, decision: String, by: String, reason: String, answered: Float?}}
{::index create attention:by_at {at, id}}
{:create consult {thread: String, consultant: String => ws: String, asker: String, session: String?, at: Float, turns: Int}}
"#,
    },
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The relation that marks a cozo database as a maestro store.
pub(crate) const META_RELATION: &str = "maestro_meta";

const SET_VERSION: &str =
    "{?[key, value] <- [['schema_version', $version]] :put maestro_meta {key => value}}";
const GET_VERSION: &str = "?[value] := *maestro_meta{key: 'schema_version', value}";
const LIST_RELATIONS: &str = "::relations";

/// Names of the stored relations (indices included, as `rel:index`).
pub(crate) fn relations(db: &DbInstance) -> Result<Vec<String>, StoreError> {
    let rows = db
        .run_script(LIST_RELATIONS, Params::new(), ScriptMutability::Immutable)
        .map_err(StoreError::query)?;
    Ok(rows
        .rows
        .iter()
        .filter_map(|r| r.first()?.get_str().map(str::to_owned))
        .collect())
}

/// The schema version of an opened cozo database: `None` when it has no relations at all (a new
/// store), an error when it has relations but is not a maestro store.
pub(crate) fn read_version(db: &DbInstance, path: &Path) -> Result<Option<u32>, StoreError> {
    let rels = relations(db)?;
    if rels.is_empty() {
        return Ok(None);
    }
    if !rels.iter().any(|r| r == META_RELATION) {
        return Err(StoreError::Foreign {
            path: path.into(),
            detail: format!("a cozo database without maestro's {META_RELATION} relation"),
        });
    }
    let rows = db
        .run_script(GET_VERSION, Params::new(), ScriptMutability::Immutable)
        .map_err(StoreError::query)?;
    let version = rows.rows.first().and_then(|r| r.first()?.get_int());
    match version {
        Some(v) if (0..=i64::from(u32::MAX)).contains(&v) => Ok(Some(v as u32)),
        _ => Err(StoreError::Corrupt {
            path: path.into(),
            detail: format!("{META_RELATION} holds no valid schema_version"),
        }),
    }
}

/// Runs every migration newer than `from`; returns the version reached.
pub(crate) fn migrate(
    db: &DbInstance,
    path: &Path,
    from: u32,
    migrations: &[Migration],
) -> Result<u32, StoreError> {
    let mut version = from;
    for m in migrations.iter().filter(|m| m.version > from) {
        let script = format!("{}\n{SET_VERSION}", m.script);
        let params = Params::from([("version".to_owned(), DataValue::from(i64::from(m.version)))]);
        db.run_script(&script, params, ScriptMutability::Mutable)
            .map_err(|e| StoreError::Migration {
                path: path.into(),
                version: m.version,
                detail: e.to_string(),
            })?;
        tracing::info!(store = %path.display(), version = m.version, summary = m.summary, "store migrated");
        version = m.version;
    }
    Ok(version)
}
