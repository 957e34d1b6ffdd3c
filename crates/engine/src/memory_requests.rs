//! The memory methods (`maestro/memory.*`): add, search, list, forget, status, import.
//!
//! `maestro/memory.add|search|list|forget|status|import`
//! with their checks (empty or
//! over-4 KiB query, k outside 1–100, unknown kind, since after until, empty or over-1 MiB note, a
//! forget without ids or workspace). Hover (`graph_requests`) appends up to three memories whose text
//! names the symbol (keyword search in the workspace, then an exact mention).

use crate::engine::{Engine, store_error, unix_now};
use crate::session::{Answer, Session};
use crate::workspace::{find_root, workspace_id};
use maestro_memory::service::{NewMemory, search};
use maestro_protocol::rpc::NoParams;
use maestro_protocol::{
    MemoryAddParams, MemoryAddResult, MemoryForgetParams, MemoryForgetResult, MemoryImportParams,
    MemoryImportResult, MemoryListParams, MemoryListResult, MemorySearchParams, MemorySearchResult,
    MemoryStatusResult, RpcError, memory_kind,
};
use maestro_store::{DataValue, params};
use std::path::Path;

/// The longest note accepted, in bytes (longer texts belong in files; chunks are cut from this).
const MAX_NOTE_BYTES: usize = 1 << 20;

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::new(maestro_protocol::code::INVALID_PARAMS, message.into())
}

/// The workspace id around `path`.
fn ws_of(path: &Path) -> Result<(String, std::path::PathBuf), RpcError> {
    let found = find_root(path).map_err(|e| RpcError::not_found(e.to_string()))?;
    Ok((workspace_id(&found.root), found.root))
}

fn check_kinds(kinds: &[String]) -> Result<(), RpcError> {
    for k in kinds {
        if !memory_kind::ALL.contains(&k.as_str()) {
            return Err(invalid(format!(
                "unknown memory kind {k:?}: the kinds are {}",
                memory_kind::ALL.join(", ")
            )));
        }
    }
    Ok(())
}

const LIST: &str = r#"
?[id, ws, kind, agent, source, at, text, count, unembedded] :=
    *memory{id, ws, kind, agent, source, at, text, count, vec},
    ($ws == '' || ws == $ws), ($agent == '' || agent == $agent), is_in(kind, $kinds),
    unembedded = is_null(vec)
:order -at
:limit $limit
"#;
const OF_AGENT: &str = "?[id] := *memory{id, ws, agent}, ws == $ws, agent == $agent";

pub(crate) fn add(s: &Session, mut p: MemoryAddParams) -> Answer<MemoryAddResult> {
    // An agent's note is its own, about its workspace: it cannot sign another's name.
    if let Some(agent) = s.agent() {
        p.agent = Some(agent.name.clone());
        p.path = agent.workspace_root.clone();
    }
    let engine = s.engine.clone();
    Answer::later(async move { engine.memory_add(p).await })
}

pub(crate) fn search(s: &Session, p: MemorySearchParams) -> Answer<MemorySearchResult> {
    let memory = s.engine.memory().clone();
    Answer::later(async move {
        let (query, k, filter, mode) = search_request(p)?;
        tokio::task::spawn_blocking(move || memory.search(&query, k, &filter, mode, unix_now()))
            .await
            .map_err(RpcError::internal)?
            .map_err(RpcError::internal)
    })
}

pub(crate) fn list(s: &Session, p: MemoryListParams) -> Answer<MemoryListResult> {
    Answer::Now(s.engine.memory_list(p))
}

pub(crate) fn forget(s: &Session, p: MemoryForgetParams) -> Answer<MemoryForgetResult> {
    let engine = s.engine.clone();
    Answer::later(async move { engine.memory_forget(p).await })
}

pub(crate) fn status(s: &Session, _: NoParams) -> Answer<MemoryStatusResult> {
    let memory = s.engine.memory().clone();
    Answer::later(async move {
        tokio::task::spawn_blocking(move || memory.status())
            .await
            .map_err(RpcError::internal)
    })
}

pub(crate) fn import(s: &Session, p: MemoryImportParams) -> Answer<MemoryImportResult> {
    let engine = s.engine.clone();
    Answer::later(async move { engine.memory_import(p).await })
}

/// A search request checked: the query, k, the filter and the mode.
pub(crate) fn search_request(
    p: MemorySearchParams,
) -> Result<(String, usize, search::Filter, search::Mode), RpcError> {
    let query = p.query.trim().to_owned();
    if query.is_empty() {
        return Err(invalid("the query is empty: say what to look for"));
    }
    if query.len() > search::MAX_QUERY_BYTES {
        return Err(invalid(format!(
            "the query is {} bytes; at most {} are searched — shorten it to what you look for",
            query.len(),
            search::MAX_QUERY_BYTES
        )));
    }
    let k = p.k.unwrap_or(10);
    if k == 0 || k > search::MAX_K {
        return Err(invalid(format!(
            "k is {k}: ask for 1 to {} hits",
            search::MAX_K
        )));
    }
    check_kinds(&p.kinds)?;
    if let (Some(s), Some(u)) = (p.since, p.until)
        && s > u
    {
        return Err(invalid("since is after until: nothing can match"));
    }
    let mode = search::Mode::parse(p.mode.as_deref()).map_err(invalid)?;
    let ws = match (&p.path, p.all_workspaces) {
        (Some(path), false) => Some(ws_of(path)?.0),
        _ => None,
    };
    Ok((
        query,
        k as usize,
        search::Filter {
            ws,
            agent: p.agent.filter(|a| !a.is_empty()),
            kinds: p.kinds,
            since: p.since,
            until: p.until,
        },
        mode,
    ))
}

impl Engine {
    async fn memory_add(&self, p: MemoryAddParams) -> Result<MemoryAddResult, RpcError> {
        let text = p.text.trim();
        if text.is_empty() {
            return Err(invalid("the note is empty: nothing to remember"));
        }
        if text.len() > MAX_NOTE_BYTES {
            return Err(invalid(format!(
                "the note is {} bytes; at most {} — remember a summary, or the file's path",
                text.len(),
                MAX_NOTE_BYTES
            )));
        }
        let kind = match p.kind.as_deref().unwrap_or(memory_kind::NOTE) {
            memory_kind::CODE => {
                return Err(invalid(
                    "code memories come from the code graph; add a note instead",
                ));
            }
            k => *memory_kind::ALL.iter().find(|x| **x == k).ok_or_else(|| {
                invalid(format!(
                    "unknown memory kind {k:?}: the kinds are {}",
                    memory_kind::ALL.join(", ")
                ))
            })?,
        };
        let (ws, _) = ws_of(&p.path)?;
        let item = NewMemory {
            ws,
            kind,
            agent: p.agent.unwrap_or_default(),
            source: p.source.unwrap_or_else(|| "note".into()),
            at: unix_now(),
            text: text.to_owned(),
        };
        let (ids, existed) = self.memory().remember(&[item]).await.map_err(store_error)?;
        Ok(MemoryAddResult { ids, existed })
    }

    fn memory_list(&self, p: MemoryListParams) -> Result<MemoryListResult, RpcError> {
        check_kinds(&p.kinds)?;
        let limit = p.limit.unwrap_or(20);
        if limit == 0 || limit > 1000 {
            return Err(invalid(format!(
                "limit is {limit}: list 1 to 1000 memories"
            )));
        }
        let ws = match &p.path {
            Some(path) => ws_of(path)?.0,
            None => String::new(),
        };
        let kinds: Vec<DataValue> = if p.kinds.is_empty() {
            memory_kind::BY_DEFAULT.map(DataValue::from).to_vec()
        } else {
            p.kinds
                .iter()
                .map(|k| DataValue::from(k.as_str()))
                .collect()
        };
        let rows = self
            .store()
            .read(
                LIST,
                params([
                    ("ws", DataValue::from(ws.as_str())),
                    ("agent", DataValue::from(p.agent.as_deref().unwrap_or(""))),
                    ("kinds", DataValue::List(kinds)),
                    ("limit", DataValue::from(i64::from(limit))),
                ]),
            )
            .map_err(store_error)?;
        Ok(MemoryListResult {
            memories: rows
                .rows
                .iter()
                .filter_map(|r| maestro_memory::service::row_to_memory(r))
                .collect(),
        })
    }

    async fn memory_forget(&self, p: MemoryForgetParams) -> Result<MemoryForgetResult, RpcError> {
        let mut ids = p.ids;
        match (&p.agent, &p.path) {
            (Some(agent), Some(path)) => {
                let (ws, _) = ws_of(path)?;
                let rows = self
                    .store()
                    .read(
                        OF_AGENT,
                        params([
                            ("ws", DataValue::from(ws.as_str())),
                            ("agent", DataValue::from(agent.as_str())),
                        ]),
                    )
                    .map_err(store_error)?;
                ids.extend(
                    rows.rows
                        .into_iter()
                        .filter_map(|r| r.first()?.get_str().map(str::to_owned)),
                );
            }
            (Some(_), None) => {
                return Err(invalid(
                    "forgetting an agent's memories needs the workspace (path)",
                ));
            }
            _ => {}
        }
        if ids.is_empty() && p.agent.is_none() {
            return Err(invalid(
                "nothing to forget: give memory ids, or an agent and its workspace",
            ));
        }
        let forgotten = self.memory().forget(ids).await.map_err(store_error)?;
        Ok(MemoryForgetResult { forgotten })
    }

    async fn memory_import(&self, p: MemoryImportParams) -> Result<MemoryImportResult, RpcError> {
        let (ws, root) = ws_of(&p.path)?;
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let claude_dir = p
            .claude_dir
            .or_else(|| home.as_ref().map(|h| h.join(".claude/projects")));
        let codex_dir = p
            .codex_dir
            .or_else(|| home.as_ref().map(|h| h.join(".codex/sessions")));
        for dir in [&claude_dir, &codex_dir].into_iter().flatten() {
            if dir.exists() && !dir.is_dir() {
                return Err(invalid(format!("{} is not a directory", dir.display())));
            }
        }
        let found = tokio::task::spawn_blocking(move || {
            let mut found = maestro_memory::service::import::Found::default();
            if let Some(d) = &claude_dir {
                maestro_memory::service::import::claude(d, &root, &mut found);
            }
            if let Some(d) = &codex_dir {
                maestro_memory::service::import::codex(d, &root, &mut found);
            }
            found
        })
        .await
        .map_err(RpcError::internal)?;
        let exchanges = found.exchanges.len() as u32;
        let items: Vec<NewMemory> = found
            .exchanges
            .into_iter()
            .map(|x| x.into_memory(&ws))
            .collect();
        // One at a time: each answer says whether that exchange was stored before.
        let mut added = 0;
        for item in items {
            let (_, existed) = self.memory().remember(&[item]).await.map_err(store_error)?;
            added += u32::from(!existed);
        }
        Ok(MemoryImportResult {
            files: found.files,
            exchanges,
            added,
            problems: found.problems,
        })
    }
}
