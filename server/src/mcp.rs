//! `maestro mcp`: maestro's tools for an agent, over MCP on stdin/stdout (the `rmcp` SDK), as a
//! client of the daemon like `maestro lsp`. The agent's CLI starts it with the agent's token and
//! the daemon's socket in its environment (ARCHITECTURE.md, "Messages"); the daemon decides whose
//! connection it is, so every tool acts as that agent. Paths are the agent's: relative to its
//! worktree (or inside it); the code graph answers for the workspace's checkout, and its answers
//! come back as paths relative to the worktree. Results are small: lists are paged, with totals.

use crate::client::{ClientError, ConnectOptions, Connected, connect, connect_socket};
use crate::commands::graph::kind_name;
use maestro_engine::Paths;
use maestro_engine::text::{path_to_uri, uri_to_path};
use maestro_protocol::{
    ClientInfo, ClientKind, DocumentSymbol, Location, PositionEncoding, WorkspaceSymbol, method,
};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Mutex;

/// Items in one page of a list, unless the call asks for fewer (at most [`MAX_PAGE`]).
const PAGE: usize = 50;
const MAX_PAGE: usize = 200;

/// Serves MCP on stdin/stdout until the agent's CLI closes it.
pub async fn run(paths: Paths) -> i32 {
    let server = Maestro {
        link: Arc::new(Mutex::new(None)),
        paths,
        token: std::env::var("MAESTRO_AGENT_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        socket: std::env::var_os("MAESTRO_SOCKET").map(PathBuf::from),
    };
    let running = match server.serve(rmcp::transport::stdio()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("maestro mcp: {e}");
            return 1;
        }
    };
    match running.waiting().await {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("maestro mcp: {e}");
            1
        }
    }
}

#[derive(Clone)]
struct Maestro {
    link: Arc<Mutex<Option<Link>>>,
    paths: Paths,
    token: Option<String>,
    socket: Option<PathBuf>,
}

/// The daemon connection and who it speaks for.
struct Link {
    c: Connected,
    /// The workspace the graph answers for, and where the caller's files are.
    root: PathBuf,
    here: PathBuf,
}

/// A tool's failure, as the model reads it.
struct ToolError(String);

impl From<ClientError> for ToolError {
    fn from(e: ClientError) -> ToolError {
        ToolError(match e {
            ClientError::Rpc { error, .. } => error.message,
            other => other.to_string(),
        })
    }
}

type Answer = Result<Value, ToolError>;

impl Maestro {
    async fn link(&self) -> Result<tokio::sync::MappedMutexGuard<'_, Link>, ToolError> {
        let mut guard = self.link.lock().await;
        if guard.as_ref().is_some_and(|l| l.c.client.is_closed()) {
            *guard = None;
        }
        if guard.is_none() {
            *guard = Some(self.connect().await?);
        }
        Ok(tokio::sync::MutexGuard::map(guard, |l| {
            l.as_mut().expect("just set")
        }))
    }

    async fn connect(&self) -> Result<Link, ToolError> {
        let options = ConnectOptions {
            client: ClientInfo {
                name: "maestro-mcp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
                kind: ClientKind::Other,
                pid: Some(std::process::id()),
            },
            // Columns count characters, as a model counts them.
            encoding: PositionEncoding::Utf32,
            autostart: self.socket.is_none(),
            max_frame: maestro_engine::Config::load_user(&self.paths)
                .unwrap_or_default()
                .settings()
                .max_frame_bytes,
            agent_token: self.token.clone(),
        };
        let c = match &self.socket {
            Some(socket) => connect_socket(socket, &options).await?,
            None => connect(&self.paths, &options).await?,
        };
        let (root, here) = match &c.hello.agent {
            Some(a) => (a.workspace_root.clone(), a.worktree.clone()),
            None => {
                let cwd = std::env::current_dir().map_err(|e| ToolError(e.to_string()))?;
                (cwd.clone(), cwd)
            }
        };
        let _ = c
            .client
            .request::<_, Value>(method::WORKSPACE_OPEN, json!({"path": root}))
            .await;
        Ok(Link { c, root, here })
    }

    async fn call(&self, name: &str, args: &Map<String, Value>) -> Answer {
        let link = self.link().await?;
        let a = Args(args);
        match name {
            "definition" => definition(&link, &a).await,
            "references" => references(&link, &a).await,
            "callers" => calls(&link, &a, true).await,
            "callees" => calls(&link, &a, false).await,
            "symbols" => symbols(&link, &a).await,
            "query" => query(&link, &a).await,
            "search" => search(&link, &a).await,
            "remember" => {
                // A note of this agent's (the daemon signs it with the agent's name).
                let mut params = json!({"path": link.root, "text": a.str("text")?});
                if let Some(source) = a.opt_str("source")? {
                    params["source"] = json!(source);
                }
                rpc(&link, method::MEMORY_ADD, params).await
            }
            "send_message" => {
                let mut params = json!({
                    "to": a.str("to")?,
                    "text": a.str("text")?,
                    "subject": a.opt_str("subject")?.unwrap_or(""),
                    "priority": a.opt_str("priority")?.unwrap_or("normal"),
                });
                if let Some(kind) = a.opt_str("type")? {
                    params["type"] = json!(kind);
                }
                message(rpc(&link, method::MESSAGE_SEND, params).await?)
            }
            "reply" => {
                let params = json!({
                    "to": "",
                    "inReplyTo": a.str("id")?,
                    "text": a.str("text")?,
                    "priority": a.opt_str("priority")?.unwrap_or("normal"),
                });
                message(rpc(&link, method::MESSAGE_SEND, params).await?)
            }
            "inbox" => {
                let (limit, offset) = a.page()?;
                let params = json!({"all": a.bool("all")?, "limit": limit, "offset": offset});
                rpc(&link, method::MESSAGE_INBOX, params).await
            }
            "read_message" => rpc(&link, method::MESSAGE_READ, json!({"id": a.str("id")?})).await,
            "thread" => rpc(&link, method::MESSAGE_THREAD, json!({"id": a.str("id")?})).await,
            "list_agents" => {
                let list = rpc(&link, method::AGENT_LIST, json!({"path": link.root})).await?;
                let agents: Vec<Value> = list
                    .as_array()
                    .map(|l| l.iter().map(agent_summary).collect())
                    .unwrap_or_default();
                Ok(json!({"total": agents.len(), "agents": agents}))
            }
            "agent_status" => {
                let params = json!({"path": link.root, "name": a.str("name")?});
                Ok(agent_summary(
                    &rpc(&link, method::AGENT_STATUS, params).await?,
                ))
            }
            "playbook_status" => {
                let params = match a.opt_str("id")? {
                    Some(id) => json!({"id": id}),
                    None => json!({}),
                };
                rpc(&link, method::PLAYBOOK_STATUS, params).await
            }
            "permission" => permission(&link, &a).await,
            "consult" => {
                let mut params = json!({"name": a.str("agent")?, "question": a.str("question")?});
                if let Some(thread) = a.opt_str("thread")? {
                    params["thread"] = json!(thread);
                }
                let c = rpc(&link, method::AGENT_CONSULT, params).await?;
                // The answer is here: its message is not given again at the next turn.
                if let Some(id) = c["message"].as_str() {
                    let _ = rpc(&link, method::MESSAGE_READ, json!({"id": id})).await;
                }
                Ok(json!({"thread": c["thread"], "from": c["consultant"], "answer": c["reply"]}))
            }
            other => Err(ToolError(format!("no tool `{other}`"))),
        }
    }
}

/// Claude Code's `--permission-prompt-tool`: what the CLI would ask a person goes to maestro's
/// attention policy (answered by rule, or by the person, which may take a while), and the
/// answer is Claude's `{"behavior": "allow", "updatedInput": …}` or `{"behavior": "deny",
/// "message": …}`.
async fn permission(link: &Link, a: &Args<'_>) -> Answer {
    let tool = a.str("tool_name")?;
    let input = a.0.get("input").cloned().unwrap_or_else(|| json!({}));
    let decided = rpc(
        link,
        method::ATTENTION_ASK,
        json!({"tool": tool, "input": input}),
    )
    .await?;
    Ok(match decided["decision"].as_str() {
        Some("Allow") => json!({"behavior": "allow", "updatedInput": input}),
        other => {
            let by = if decided["by"] == "person" {
                "the person denied it".to_owned()
            } else {
                format!("not answered ({})", other.unwrap_or("no decision"))
            };
            json!({
                "behavior": "deny",
                "message": format!("{by}: {}", decided["reason"].as_str().unwrap_or_default()),
            })
        }
    })
}

async fn rpc(link: &Link, method: &str, params: Value) -> Answer {
    Ok(link.c.client.request::<_, Value>(method, params).await?)
}

/// A message as a tool answers it: what the sender needs, not the whole envelope.
fn message(m: Value) -> Answer {
    Ok(json!({
        "id": m["id"], "to": m["to"], "threadId": m["threadId"], "sent": true,
    }))
}

fn agent_summary(a: &Value) -> Value {
    let mut out = json!({
        "name": a["name"], "cli": a["agent"], "state": a["state"], "turns": a["turns"],
    });
    for key in ["branch", "reason", "playbookRun"] {
        if !a[key].is_null() {
            out[key] = a[key].clone();
        }
    }
    out
}

/// A tool's arguments, each read with an error naming it.
struct Args<'a>(&'a Map<String, Value>);

impl Args<'_> {
    fn str(&self, key: &str) -> Result<&str, ToolError> {
        self.opt_str(key)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ToolError(format!("`{key}` is required (a string)")))
    }

    fn opt_str(&self, key: &str) -> Result<Option<&str>, ToolError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ToolError(format!("`{key}` must be a string"))),
        }
    }

    fn int(&self, key: &str) -> Result<Option<u64>, ToolError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| ToolError(format!("`{key}` must be a whole number ≥ 0"))),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, ToolError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ToolError(format!("`{key}` must be true or false"))),
        }
    }

    /// `limit` (1..=200, default 50) and `offset`.
    fn page(&self) -> Result<(usize, usize), ToolError> {
        let limit = self.int("limit")?.unwrap_or(PAGE as u64) as usize;
        if limit == 0 || limit > MAX_PAGE {
            return Err(ToolError(format!("`limit` must be 1 to {MAX_PAGE}")));
        }
        Ok((limit, self.int("offset")?.unwrap_or(0) as usize))
    }
}

/// The file a tool names, in the caller's files: relative to its worktree, or absolute inside
/// it (or inside the workspace's checkout).
fn resolve(link: &Link, file: &str) -> Result<PathBuf, ToolError> {
    let given = Path::new(file);
    let path = if given.is_absolute() {
        given.to_owned()
    } else {
        link.here.join(given)
    };
    let path = normalize(&path);
    let inside = |base: &Path| path.strip_prefix(normalize(base)).ok().map(Path::to_owned);
    let relative = inside(&link.here)
        .or_else(|| inside(&link.root))
        .ok_or_else(|| ToolError(format!("{file}: outside your worktree")))?;
    let in_checkout = link.root.join(&relative);
    if !link.here.join(&relative).exists() && !in_checkout.exists() {
        return Err(ToolError(format!("{file}: no such file")));
    }
    Ok(in_checkout)
}

/// `path` with `.` and `..` taken out (lexically: nothing is followed).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A location as the caller names files: relative to its worktree when it is in the checkout.
fn place(link: &Link, uri: &str, line: u32, character: u32) -> Value {
    let shown = uri_to_path(uri).map_or_else(
        || uri.to_owned(),
        |p| match p.strip_prefix(&link.root) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => p.display().to_string(),
        },
    );
    json!({"path": shown, "line": line + 1, "column": character + 1})
}

fn location(link: &Link, l: &Location) -> Value {
    place(link, &l.uri, l.range.start.line, l.range.start.character)
}

/// Where a tool points: `path` + `line` (+ `column`), or a `symbol` name (each definition).
async fn targets(link: &Link, a: &Args<'_>) -> Result<Vec<Value>, ToolError> {
    if let Some(file) = a.opt_str("path")? {
        let line = a
            .int("line")?
            .filter(|l| *l >= 1)
            .ok_or_else(|| ToolError("`line` (1-based) is required with `path`".into()))?;
        let column = a.int("column")?.unwrap_or(1).max(1);
        let uri = path_to_uri(&resolve(link, file)?);
        return Ok(vec![json!({
            "textDocument": {"uri": uri},
            "position": {"line": line - 1, "character": column - 1},
        })]);
    }
    let Some(symbol) = a.opt_str("symbol")? else {
        return Err(ToolError(
            "give a `symbol` name, or a `path` and `line` (and `column`)".into(),
        ));
    };
    let found: Vec<WorkspaceSymbol> = link
        .c
        .client
        .request(
            method::GRAPH_LOOKUP,
            json!({"name": symbol, "workspace": link.root, "exact": true, "limit": 20}),
        )
        .await?;
    if found.is_empty() {
        return Err(ToolError(format!(
            "no symbol named `{symbol}` in this workspace (try the `symbols` tool with a `query`)"
        )));
    }
    Ok(found
        .iter()
        .map(|s| {
            json!({"textDocument": {"uri": s.location.uri}, "position": s.location.range.start})
        })
        .collect())
}

fn paged(a: &Args<'_>, key: &str, all: Vec<Value>) -> Answer {
    let (limit, offset) = a.page()?;
    let total = all.len();
    let items: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    let mut out = json!({"total": total, "offset": offset});
    if offset + items.len() < total {
        out["next_offset"] = json!(offset + items.len());
    }
    out[key] = Value::Array(items);
    Ok(out)
}

async fn definition(link: &Link, a: &Args<'_>) -> Answer {
    let by_name = a.opt_str("path")?.is_none();
    let mut found = Vec::new();
    for at in targets(link, a).await? {
        if by_name {
            // A name's definitions are where its symbols are.
            let uri = at["textDocument"]["uri"].as_str().unwrap_or_default();
            let p = &at["position"];
            found.push(place(
                link,
                uri,
                p["line"].as_u64().unwrap_or(0) as u32,
                p["character"].as_u64().unwrap_or(0) as u32,
            ));
            continue;
        }
        let locations: Vec<Location> = link.c.client.request(method::GRAPH_DEFINITION, at).await?;
        found.extend(locations.iter().map(|l| location(link, l)));
    }
    paged(a, "definitions", found)
}

async fn references(link: &Link, a: &Args<'_>) -> Answer {
    let mut found: Vec<Location> = Vec::new();
    for mut at in targets(link, a).await? {
        at["context"] = json!({"includeDeclaration": false});
        let refs: Vec<Location> = link.c.client.request(method::GRAPH_REFERENCES, at).await?;
        found.extend(refs);
    }
    found.sort();
    found.dedup();
    let all = found.iter().map(|l| location(link, l)).collect();
    paged(a, "references", all)
}

async fn calls(link: &Link, a: &Args<'_>, incoming: bool) -> Answer {
    let mut rows = Vec::new();
    for at in targets(link, a).await? {
        let items: Vec<Value> = link
            .c
            .client
            .request(method::GRAPH_CALL_PREPARE, at)
            .await?;
        for item in items {
            let (m, key) = if incoming {
                (method::GRAPH_CALL_INCOMING, "from")
            } else {
                (method::GRAPH_CALL_OUTGOING, "to")
            };
            let calls: Vec<Value> = link.c.client.request(m, json!({"item": item})).await?;
            for call in calls {
                let other = &call[key];
                let start = &other["selectionRange"]["start"];
                let mut row = place(
                    link,
                    other["uri"].as_str().unwrap_or_default(),
                    start["line"].as_u64().unwrap_or(0) as u32,
                    start["character"].as_u64().unwrap_or(0) as u32,
                );
                row["name"] = other["name"].clone();
                row["calls"] = json!(call["fromRanges"].as_array().map_or(0, Vec::len));
                rows.push(row);
            }
        }
    }
    paged(a, if incoming { "callers" } else { "callees" }, rows)
}

async fn symbols(link: &Link, a: &Args<'_>) -> Answer {
    let rows: Vec<Value> = if let Some(file) = a.opt_str("path")? {
        let uri = path_to_uri(&resolve(link, file)?);
        let tree: Vec<DocumentSymbol> = link
            .c
            .client
            .request(
                method::GRAPH_DOCUMENT_SYMBOLS,
                json!({"textDocument": {"uri": uri}}),
            )
            .await?;
        let mut out = Vec::new();
        outline(&tree, None, &mut out);
        out
    } else {
        let query = a.str("query").map_err(|_| {
            ToolError("give a `query` (a name, or part of one) or a `path` to outline".into())
        })?;
        let found: Vec<WorkspaceSymbol> = link
            .c
            .client
            .request(
                method::GRAPH_LOOKUP,
                json!({"name": query, "workspace": link.root, "exact": false, "limit": MAX_PAGE}),
            )
            .await?;
        found
            .iter()
            .map(|s| {
                let mut row = location(link, &s.location);
                row["name"] = json!(s.name);
                row["kind"] = json!(kind_name(s.kind));
                if let Some(c) = &s.container_name {
                    row["in"] = json!(c);
                }
                row
            })
            .collect()
    };
    paged(a, "symbols", rows)
}

fn outline(tree: &[DocumentSymbol], container: Option<&str>, out: &mut Vec<Value>) {
    for s in tree {
        let mut row = json!({
            "name": s.name, "kind": kind_name(s.kind),
            "line": s.selection_range.start.line + 1, "end_line": s.range.end.line + 1,
        });
        if let Some(c) = container {
            row["in"] = json!(c);
        }
        out.push(row);
        outline(&s.children, Some(&s.name), out);
    }
}

async fn query(link: &Link, a: &Args<'_>) -> Answer {
    let script = a.str("script")?;
    let params = match a.0.get("params") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(o)) => Value::Object(o.clone()),
        Some(_) => return Err(ToolError("`params` must be an object".into())),
    };
    let r = rpc(
        link,
        method::GRAPH_QUERY,
        json!({"script": script, "params": params}),
    )
    .await?;
    let rows: Vec<Value> = r["rows"].as_array().cloned().unwrap_or_default();
    let cut = r["truncated"].as_u64().unwrap_or(0) as usize;
    let mut out = paged(a, "rows", rows)?;
    out["headers"] = r["headers"].clone();
    if cut > 0 {
        out["total"] = json!(out["total"].as_u64().unwrap_or(0) as usize + cut);
        out["note"] = json!(format!("{cut} rows past the daemon's limit are not here"));
    }
    Ok(out)
}

async fn search(link: &Link, a: &Args<'_>) -> Answer {
    let k = a.int("k")?.unwrap_or(10).clamp(1, 50);
    let mut params = json!({"query": a.str("query")?, "path": link.root, "k": k});
    if a.bool("code")? {
        params["kinds"] = json!(["code"]);
    }
    let r = rpc(link, method::MEMORY_SEARCH, params).await?;
    // A hit is the memory's fields and its score, side by side.
    let hits: Vec<Value> = r["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .map(|h| {
                    let mut row = json!({
                        "text": cut(h["text"].as_str().unwrap_or_default(), 1200),
                        "kind": h["kind"], "score": h["score"],
                    });
                    for key in ["agent", "source", "file", "line"] {
                        let v = &h[key];
                        if !v.is_null() && v != "" {
                            row[key] = v.clone();
                        }
                    }
                    row
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = json!({"total": hits.len(), "mode": r["mode"], "hits": hits});
    if let Some(w) = r["warning"].as_str() {
        out["warning"] = json!(w);
    }
    Ok(out)
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl ServerHandler for Maestro {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("maestro", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "maestro's tools: the code graph of this repository (definition, references, \
                 callers, callees, symbols, query), its memory (search, remember), messages \
                 to the other agents and the person (send_message, inbox, read_message, reply, \
                 thread), the agents (list_agents, agent_status, consult) and playbooks \
                 (playbook_status). Paths are relative to your working directory.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let empty = Map::new();
        let args = request.arguments.as_ref().unwrap_or(&empty);
        let result = match self.call(&request.name, args).await {
            Ok(v) => CallToolResult::success(vec![ContentBlock::text(v.to_string())]),
            Err(ToolError(e)) => CallToolResult::error(vec![ContentBlock::text(e)]),
        };
        Ok(result.into())
    }
}

/// The tools, with their input schemas.
fn tools() -> Vec<Tool> {
    let at = json!({
        "symbol": {"type": "string", "description": "A name, or Owner.member / Owner::member"},
        "path": {"type": "string", "description": "A file, relative to your working directory"},
        "line": {"type": "integer", "minimum": 1, "description": "1-based, with path"},
        "column": {"type": "integer", "minimum": 1, "description": "1-based, with path (default 1)"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        "offset": {"type": "integer", "minimum": 0},
    });
    let page = json!({
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        "offset": {"type": "integer", "minimum": 0},
    });
    let priority = json!({"type": "string", "enum": ["low", "normal", "high", "urgent"]});
    let kinds = json!({"type": "string", "enum": ["request", "response", "notification", "alert", "task", "status", "handoff", "ack"]});
    let spec: Vec<(&str, &str, Value, &[&str], bool)> = vec![
        (
            "definition",
            "Where a symbol is defined: by name, or by the position of a use (path, line, column).",
            at.clone(),
            &[],
            true,
        ),
        (
            "references",
            "Where a symbol is used (by name or position), paged.",
            at.clone(),
            &[],
            true,
        ),
        (
            "callers",
            "Who calls a function or method (by name or position): look before you change its signature.",
            at.clone(),
            &[],
            true,
        ),
        (
            "callees",
            "What a function or method calls (by name or position).",
            at.clone(),
            &[],
            true,
        ),
        (
            "symbols",
            "The outline of a file (path), or the symbols whose names match a query.",
            json!({
                "path": {"type": "string"}, "query": {"type": "string"},
                "limit": page["limit"], "offset": page["offset"],
            }),
            &[],
            true,
        ),
        (
            "query",
            "A read-only CozoScript (Datalog) query over the code graph's relations (file, symbol, reference, import, content).",
            json!({
                "script": {"type": "string"}, "params": {"type": "object"},
                "limit": page["limit"], "offset": page["offset"],
            }),
            &["script"],
            true,
        ),
        (
            "search",
            "Search this repository's memory (what agents and people found out) by meaning and keywords; `code: true` searches code definitions instead.",
            json!({
                "query": {"type": "string"}, "k": {"type": "integer", "minimum": 1, "maximum": 50},
                "code": {"type": "boolean"},
            }),
            &["query"],
            true,
        ),
        (
            "remember",
            "Remember a finding for this repository (other agents and later turns can search it), as a note of yours.",
            json!({
                "text": {"type": "string"},
                "source": {"type": "string", "description": "where it comes from: a file, a URL, a ticket"},
            }),
            &["text"],
            false,
        ),
        (
            "send_message",
            "Send a signed message to another agent of this repository (by name) or to `person`. A `request` wakes an idle agent, as does high or urgent priority.",
            json!({
                "to": {"type": "string"}, "text": {"type": "string"}, "subject": {"type": "string"},
                "priority": priority, "type": kinds,
            }),
            &["to", "text"],
            false,
        ),
        (
            "inbox",
            "Your messages, newest first: unread ones (or all), paged.",
            json!({
                "all": {"type": "boolean"}, "limit": page["limit"], "offset": page["offset"],
            }),
            &[],
            true,
        ),
        (
            "read_message",
            "One of your messages, whole; marks it read (its sender sees that).",
            json!({"id": {"type": "string"}}),
            &["id"],
            false,
        ),
        (
            "reply",
            "Answer a message, in its thread, to whoever sent it.",
            json!({
                "id": {"type": "string"}, "text": {"type": "string"}, "priority": priority,
            }),
            &["id", "text"],
            false,
        ),
        (
            "thread",
            "A conversation: every message of the thread a message belongs to that you sent or got.",
            json!({"id": {"type": "string"}}),
            &["id"],
            true,
        ),
        (
            "list_agents",
            "The agents of this repository: name, CLI, state, branch.",
            json!({}),
            &[],
            true,
        ),
        (
            "agent_status",
            "One agent's state, branch, turns and last error.",
            json!({"name": {"type": "string"}}),
            &["name"],
            true,
        ),
        (
            "consult",
            "Asks another agent of this repository about your work (it sees the end of your transcript) and waits for its answer; give the thread it returns to follow up in the same conversation.",
            json!({
                "agent": {"type": "string", "description": "The agent to ask"},
                "question": {"type": "string"},
                "thread": {"type": "string", "description": "A consult thread to continue"},
            }),
            &["agent", "question"],
            false,
        ),
        (
            "permission",
            "Asks maestro whether a tool use may go ahead (your CLI calls it for its permission prompts; answered by the person's rules or by the person).",
            json!({
                "tool_name": {"type": "string"},
                "input": {"type": "object"},
                "tool_use_id": {"type": "string"},
            }),
            &["tool_name"],
            false,
        ),
        (
            "playbook_status",
            "Playbook runs (newest first), or one run by id.",
            json!({"id": {"type": "string"}}),
            &[],
            true,
        ),
    ];
    spec.into_iter()
        .map(|(name, description, properties, required, read_only)| {
            let schema = json!({"type": "object", "properties": properties, "required": required});
            let Value::Object(schema) = schema else {
                unreachable!()
            };
            let mut hints = ToolAnnotations::new();
            hints.read_only_hint = Some(read_only);
            hints.open_world_hint = Some(false);
            Tool::new(name, description, Arc::new(schema)).with_annotations(hints)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema_and_a_handler_name() {
        let names: Vec<String> = tools().iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names.len(), 18);
        for t in tools() {
            assert_eq!(t.input_schema["type"], "object", "{}", t.name);
            // Claude allows `[a-zA-Z0-9_-]{1,64}` names.
            assert!(
                t.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            );
        }
    }

    #[test]
    fn paths_stay_inside_the_worktree() {
        assert_eq!(
            normalize(Path::new("/w/a/../b/./c")),
            PathBuf::from("/w/b/c")
        );
        assert_eq!(normalize(Path::new("/w/../../etc")), PathBuf::from("/etc"));
    }
}
