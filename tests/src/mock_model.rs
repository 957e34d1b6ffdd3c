//! Mock model servers on 127.0.0.1 for the real agent CLIs: Anthropic Messages (SSE), OpenAI
//! Responses (SSE) and Chat Completions (streamed or not), Gemini `generateContent` and
//! `streamGenerateContent`. One server answers all four APIs by path.
//!
//! What the model does is written in the prompt, one step per line, so a test says what it wants
//! where it says it to the agent:
//!
//! ```text
//! MOCK: write notes/hello.txt hello world     a file-writing tool call (aider: a whole-file edit)
//! MOCK: run git add -A && git commit -qm hi   a shell tool call
//! MOCK: tool send_message {"to": "bob"}       a call of a tool by name (an MCP tool matches by
//!                                             its last part: `mcp__maestro__send_message`);
//!                                             `$MESSAGE_ID` is the first message id in the prompt
//! MOCK: say all done                          the final reply (default: "done")
//! ```
//!
//! The server is stateless about conversations: each request's history says which step comes
//! next (the tool calls answered since the last prompt that holds `MOCK:` lines). A request without
//! such a prompt (a title, a commit message, a routing question) gets a short plain answer. Every
//! request is recorded with the tokens it was served, so tests compare them with what maestro
//! stored.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Tokens reported for every answer. Responses (Codex) answers report part of the input as
/// cached, included in `input_tokens` as OpenAI counts them.
pub const INPUT_TOKENS: u64 = 1000;
pub const OUTPUT_TOKENS: u64 = 50;
pub const CACHED_TOKENS: u64 = 400;

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct Served {
    /// `anthropic`, `responses`, `chat` or `gemini`.
    pub api: &'static str,
    pub path: String,
    pub model: String,
    /// The prompt with `MOCK:` lines this request continued, if any.
    pub prompt: Option<String>,
    /// Every user text in the request's history, in order.
    pub user_texts: Vec<String>,
    /// What was answered: `tool NAME`, `text`, or `side` (a request outside the scenario).
    pub answer: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub body: Value,
}

/// A running mock; it stops serving when dropped.
pub struct MockModel {
    pub port: u16,
    served: Arc<Mutex<Vec<Served>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl MockModel {
    /// Listens on a free port of 127.0.0.1.
    pub fn start() -> MockModel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the mock model's port");
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log, halt) = (served.clone(), stop.clone());
        std::thread::Builder::new()
            .name("mock-model".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if halt.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let log = log.clone();
                    std::thread::spawn(move || {
                        let _ = serve(conn, &log);
                    });
                }
            })
            .expect("mock model thread");
        MockModel { port, served, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request answered so far.
    pub fn served(&self) -> Vec<Served> {
        self.served.lock().unwrap().clone()
    }

    /// The requests that continued a prompt containing `needle`.
    pub fn served_for(&self, needle: &str) -> Vec<Served> {
        self.served()
            .into_iter()
            .filter(|s| s.prompt.as_deref().is_some_and(|p| p.contains(needle)))
            .collect()
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One connection: requests until the client closes it (keep-alive).
fn serve(conn: TcpStream, log: &Mutex<Vec<Served>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                } else if name == "transfer-encoding" && value.contains("chunked") {
                    chunked = true;
                }
            }
        }
        let body = if chunked {
            read_chunked(&mut reader)?
        } else {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            body
        };
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let path = target.split('?').next().unwrap_or("").to_owned();
        let (status, content_type, payload, record) = answer(&method, &target, &path, &body);
        if let Some(record) = record {
            log.lock().unwrap().push(record);
        }
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\ncache-control: no-cache\r\n\r\n",
            payload.len()
        );
        out.write_all(head.as_bytes())?;
        out.write_all(&payload)?;
        out.flush()?;
    }
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size =
            usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

type Answer = (&'static str, &'static str, Vec<u8>, Option<Served>);

fn answer(method: &str, target: &str, path: &str, body: &Value) -> Answer {
    if method == "GET" {
        // Model lists and the like: an empty list satisfies the CLIs that look.
        return ok_json(json!({"data": [], "models": [], "object": "list"}));
    }
    if path.ends_with("/count_tokens") {
        return ok_json(json!({"input_tokens": INPUT_TOKENS}));
    }
    if path.ends_with(":countTokens") {
        return ok_json(json!({"totalTokens": INPUT_TOKENS}));
    }
    if path.ends_with("/messages") {
        return anthropic(path, body);
    }
    if path.ends_with("/responses") {
        return responses(path, body);
    }
    if path.ends_with("/chat/completions") {
        return chat(path, body);
    }
    if path.contains(":generateContent") || path.contains(":streamGenerateContent") {
        return gemini(target, path, body);
    }
    (
        "404 Not Found",
        "application/json",
        json!({"error": {"message": format!("the mock model has no {method} {path}")}})
            .to_string()
            .into_bytes(),
        None,
    )
}

fn ok_json(v: Value) -> Answer {
    (
        "200 OK",
        "application/json",
        v.to_string().into_bytes(),
        None,
    )
}

/// A step of a scenario.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Write { path: String, text: String },
    Run(String),
    Tool { name: String, args: Value },
}

/// The scenario of a prompt: its tool steps and its final reply.
fn scenario(prompt: &str) -> (Vec<Step>, String) {
    let mut steps = Vec::new();
    let mut say = None;
    for line in prompt.lines() {
        let Some(rest) = line.trim().strip_prefix("MOCK:") else {
            continue;
        };
        let rest = rest.trim();
        let (verb, arg) = rest.split_once(' ').unwrap_or((rest, ""));
        match verb {
            "write" => {
                let (path, text) = arg.split_once(' ').unwrap_or((arg, ""));
                steps.push(Step::Write {
                    path: path.to_owned(),
                    text: text.to_owned(),
                });
            }
            "run" => steps.push(Step::Run(arg.to_owned())),
            "tool" => {
                let (name, args) = arg.split_once(' ').unwrap_or((arg, "{}"));
                let args = match first_message_id(prompt) {
                    Some(id) => args.replace("$MESSAGE_ID", &id),
                    None => args.to_owned(),
                };
                steps.push(Step::Tool {
                    name: name.to_owned(),
                    args: serde_json::from_str(&args).unwrap_or_else(|_| json!({})),
                });
            }
            // `\n` in a reply is a line break (a reply that scripts the next reader).
            "say" => say = Some(arg.replace("\\n", "\n")),
            _ => {}
        }
    }
    (steps, say.unwrap_or_else(|| "done".to_owned()))
}

fn has_script(text: &str) -> bool {
    text.lines().any(|l| l.trim().starts_with("MOCK:"))
}

/// What the history says: the prompt with a script, the tool calls made since it, every user
/// text. `messages` are (role, texts, tool calls) in order.
/// `text` as API `api`'s model reads it: `MOCK[api]:` lines are its `MOCK:` lines, other APIs'
/// `MOCK[…]:` lines are not there (one prompt can script the CLIs of a chat differently).
fn for_api(text: &str, api: &str) -> String {
    if !text.contains("MOCK[") {
        return text.to_owned();
    }
    text.lines()
        .filter_map(|l| {
            let t = l.trim();
            match t.strip_prefix("MOCK[").and_then(|r| r.split_once("]:")) {
                Some((which, rest)) if which == api => Some(format!("MOCK:{rest}")),
                Some(_) => None,
                None => Some(l.to_owned()),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn position(
    messages: &[(String, Vec<String>, usize)],
    api: &str,
) -> (Option<String>, usize, Vec<String>) {
    let user_texts: Vec<String> = messages
        .iter()
        .filter(|(role, _, _)| role == "user")
        .flat_map(|(_, texts, _)| texts.iter().cloned())
        .collect();
    let start = messages.iter().rposition(|(role, texts, _)| {
        role == "user" && texts.iter().any(|t| has_script(&for_api(t, api)))
    });
    let Some(start) = start else {
        return (None, 0, user_texts);
    };
    let prompt = messages[start]
        .1
        .iter()
        .map(|t| for_api(t, api))
        .find(|t| has_script(t))
        .unwrap_or_default();
    let calls = messages[start + 1..]
        .iter()
        .filter(|(role, _, _)| role != "user")
        .map(|(_, _, calls)| *calls)
        .sum();
    (Some(prompt), calls, user_texts)
}

/// The tools a request offers: (name, its parameters' JSON schema).
type Tools = Vec<(String, Value)>;

/// The tools listed in `list`, their names and schemas at the JSON pointers `name` and `schema`.
fn tools_in(list: &Value, name: &str, schema: &str) -> Tools {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t.pointer(name)?.as_str()?.to_owned(),
                t.pointer(schema).cloned().unwrap_or(Value::Null),
            ))
        })
        .collect()
}

/// A history in `messages` (each with `role` and `content`) as (role, texts, tool calls), the
/// calls of a message counted by `calls`.
fn history(
    messages: &Value,
    calls: impl Fn(&str, &Value) -> usize,
) -> Vec<(String, Vec<String>, usize)> {
    messages
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let role = m["role"].as_str().unwrap_or("");
            (
                role.to_owned(),
                texts_of(&m["content"], &["text"]),
                calls(role, m),
            )
        })
        .collect()
}

/// What to answer next: a tool call (name, arguments) or text.
enum Reply {
    Tool(String, Value),
    Text(String),
}

impl Reply {
    /// The scenario called a tool the request does not offer: its name.
    fn missing(&self) -> Option<&str> {
        match self {
            Reply::Text(t) => t.strip_prefix("no tool `")?.strip_suffix("` offered"),
            Reply::Tool(..) => None,
        }
    }
}

/// The full name of a deferred tool called `name` (or `…__name`) that a request mentions in
/// any of its texts.
fn deferred_name(body: &Value, name: &str) -> Option<String> {
    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(body, &mut all);
    let suffix = format!("__{name}");
    all.iter()
        .flat_map(|s| s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')))
        .find(|word| word.ends_with(&suffix))
        .map(str::to_owned)
}

/// The next move of the scenario, with the tools this CLI offers.
fn next_reply(prompt: Option<&str>, calls: usize, tools: &Tools, cwd: Option<&str>) -> Reply {
    let Some(prompt) = prompt else {
        return Reply::Text("ok".into());
    };
    let (steps, say) = scenario(prompt);
    let Some(step) = steps.get(calls) else {
        return Reply::Text(say);
    };
    match step {
        Step::Write { path, text } => {
            let content = format!("{text}\n");
            if let Some((name, schema)) = pick(tools, &["Write", "write_file", "write"]) {
                let props = schema.get("properties").cloned().unwrap_or(Value::Null);
                let key = ["file_path", "filePath", "absolute_path", "path"]
                    .into_iter()
                    .find(|k| props.get(*k).is_some())
                    .unwrap_or("file_path");
                // Tools that want absolute paths get one when the prompt's context names the
                // working directory.
                let full = match cwd {
                    Some(cwd) if !path.starts_with('/') => format!("{cwd}/{path}"),
                    _ => path.clone(),
                };
                return Reply::Tool(name, json!({ key: full, "content": content }));
            }
            shell_reply(
                tools,
                &format!("mkdir -p \"$(dirname '{path}')\" && printf '%s\\n' '{text}' > '{path}'"),
            )
        }
        Step::Run(command) => shell_reply(tools, command),
        Step::Tool { name, args } => {
            // MCP tools are `mcp__<server>__<tool>` (Claude, Codex) or `<server>_<tool>`
            // (OpenCode).
            let (double, single) = (format!("__{name}"), format!("_{name}"));
            let found = tools
                .iter()
                .find(|(n, _)| n == name || n.ends_with(&double))
                .or_else(|| tools.iter().find(|(n, _)| n.ends_with(&single)));
            match found {
                Some((full, _)) => Reply::Tool(full.clone(), args.clone()),
                None => Reply::Text(format!("no tool `{name}` offered")),
            }
        }
    }
}

/// The first maestro message id (`msg_` and 32 hex digits) in `text`.
fn first_message_id(text: &str) -> Option<String> {
    let mut from = 0;
    while let Some(at) = text[from..].find("msg_") {
        let start = from + at;
        let hex = &text[start + 4..];
        let n = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
        if n == 32 {
            return Some(text[start..start + 36].to_owned());
        }
        from = start + 4;
    }
    None
}

fn shell_reply(tools: &Tools, command: &str) -> Reply {
    let Some((name, schema)) = pick(
        tools,
        &[
            "Bash",
            "run_shell_command",
            "bash",
            "shell",
            "shell_command",
            "exec_command",
        ],
    ) else {
        return Reply::Text(format!("no shell tool offered to run `{command}`"));
    };
    let props = schema.get("properties").cloned().unwrap_or(Value::Null);
    let key = ["command", "cmd"]
        .into_iter()
        .find(|k| props.get(*k).is_some())
        .unwrap_or("command");
    let value = if props.pointer(&format!("/{key}/type")) == Some(&json!("array")) {
        json!(["bash", "-lc", command])
    } else {
        json!(command)
    };
    let mut args = json!({ key: value });
    if props.get("description").is_some() {
        args["description"] = json!("run a command");
    }
    Reply::Tool(name, args)
}

fn pick(tools: &Tools, names: &[&str]) -> Option<(String, Value)> {
    names
        .iter()
        .find_map(|n| tools.iter().find(|(name, _)| name == n).cloned())
}

/// The working directory a CLI states in its system prompt or context, if any: the system
/// prompt's first (it is this run's), else the newest the history states (a resumed session
/// moved to another worktree has its old one in its history).
fn working_dir(body: &Value) -> Option<String> {
    if let Some(system) = body.get("system")
        && let Some(dir) = stated_dir(&system.to_string(), false)
    {
        return Some(dir);
    }
    stated_dir(&body.to_string(), true)
}

fn stated_dir(text: &str, newest: bool) -> Option<String> {
    let mut found: Option<(usize, String)> = None;
    for marker in [
        "Primary working directory: ",
        "Working directory: ",
        "working directory: ",
        "current working directory is: ",
    ] {
        let at = if newest {
            text.rfind(marker)
        } else {
            text.find(marker)
        };
        if let Some(at) = at {
            let rest = &text[at + marker.len()..];
            let end = rest
                .find(|c: char| c == '\\' || c == '"' || c.is_whitespace())
                .unwrap_or(rest.len());
            let dir = rest[..end].trim_end_matches(['.', ',']);
            let better = found
                .as_ref()
                .is_none_or(|(was, _)| if newest { at > *was } else { at < *was });
            if dir.starts_with('/') && better {
                found = Some((at, dir.to_owned()));
            }
        }
    }
    found.map(|(_, dir)| dir)
}

fn texts_of(content: &Value, kinds: &[&str]) -> Vec<String> {
    match content {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter(|i| {
                i.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| kinds.contains(&t))
            })
            .filter_map(|i| i.get("text").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn record(
    api: &'static str,
    path: &str,
    body: &Value,
    model: String,
    position: (Option<String>, usize, Vec<String>),
    reply: &Reply,
    cached: u64,
) -> Served {
    let answer = match reply {
        Reply::Tool(name, _) => format!("tool {name}"),
        Reply::Text(_) if position.0.is_none() => "side".to_owned(),
        Reply::Text(_) => "text".to_owned(),
    };
    Served {
        api,
        path: path.to_owned(),
        model,
        prompt: position.0,
        user_texts: position.2,
        answer,
        input_tokens: INPUT_TOKENS,
        output_tokens: OUTPUT_TOKENS,
        cached_tokens: cached,
        body: body.clone(),
    }
}

fn sse(events: &[(Option<&str>, Value)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, data) in events {
        if let Some(name) = name {
            out.push_str(&format!("event: {name}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    }
    out.into_bytes()
}

fn call_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("call_{:06}", NEXT.fetch_add(1, Ordering::Relaxed))
}

// ---- Anthropic Messages ----

fn anthropic(path: &str, body: &Value) -> Answer {
    let model = body["model"].as_str().unwrap_or("claude").to_owned();
    // Looking a deferred tool up (ToolSearch) is not a step of the scenario.
    let messages = history(&body["messages"], |_, m| {
        m["content"].as_array().map_or(0, |c| {
            c.iter()
                .filter(|i| i["type"] == "tool_use" && i["name"] != "ToolSearch")
                .count()
        })
    });
    let tools = tools_in(&body["tools"], "/name", "/input_schema");
    let at = position(&messages, "anthropic");
    // Side requests (titles, summaries) offer no tools.
    let at = if tools.is_empty() {
        (None, 0, at.2)
    } else {
        at
    };
    let mut reply = next_reply(at.0.as_deref(), at.1, &tools, working_dir(body).as_deref());
    // A tool Claude defers (its MCP tools) is looked up first, by its full name as the request
    // lists it, as a model does.
    if let Some(wanted) = reply.missing()
        && tools.iter().any(|(n, _)| n == "ToolSearch")
        && let Some(full) = deferred_name(body, wanted)
        && !body.to_string().contains(&format!("select:{full}"))
    {
        // Once found, the tool is in the next request's list and called from there; a search
        // that found nothing is not made again (the turn ends saying the tool is missing).
        reply = Reply::Tool(
            "ToolSearch".into(),
            json!({"query": format!("select:{full}")}),
        );
    }
    let served = record("anthropic", path, body, model.clone(), at, &reply, 0);
    let (block, stop) = match &reply {
        Reply::Tool(name, input) => (
            json!({"type": "tool_use", "id": format!("toolu_{}", call_id()), "name": name, "input": input}),
            "tool_use",
        ),
        Reply::Text(text) => (json!({"type": "text", "text": text}), "end_turn"),
    };
    let usage = json!({"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS,
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0});
    // Every response its own id, as the API gives: Claude Code rebuilding a resumed session
    // merges the entries of one message id into one message.
    let message_id = format!("msg_{}", call_id());
    if body["stream"] != json!(true) {
        let message = json!({"id": message_id, "type": "message", "role": "assistant",
            "model": model, "content": [block], "stop_reason": stop, "stop_sequence": null,
            "usage": usage});
        return (
            "200 OK",
            "application/json",
            message.to_string().into_bytes(),
            Some(served),
        );
    }
    let (start, delta) = match &reply {
        Reply::Tool(_, input) => {
            let mut start = block.clone();
            start["input"] = json!({});
            (
                start,
                json!({"type": "input_json_delta", "partial_json": input.to_string()}),
            )
        }
        Reply::Text(text) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": text}),
        ),
    };
    let events = [
        (
            Some("message_start"),
            json!({"type": "message_start", "message": {"id": message_id, "type": "message",
                "role": "assistant", "model": model, "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
        ),
        (
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 0, "content_block": start}),
        ),
        (
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        (
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            Some("message_delta"),
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": {"output_tokens": OUTPUT_TOKENS}}),
        ),
        (Some("message_stop"), json!({"type": "message_stop"})),
    ];
    ("200 OK", "text/event-stream", sse(&events), Some(served))
}

// ---- OpenAI Responses ----

fn responses(path: &str, body: &Value) -> Answer {
    let model = body["model"].as_str().unwrap_or("gpt").to_owned();
    let mut messages: Vec<(String, Vec<String>, usize)> = Vec::new();
    for item in body["input"].as_array().into_iter().flatten() {
        let kind = item["type"].as_str().unwrap_or("message");
        match kind {
            "message" => messages.push((
                item["role"].as_str().unwrap_or("").to_owned(),
                texts_of(&item["content"], &["input_text", "output_text", "text"]),
                0,
            )),
            "function_call" | "custom_tool_call" | "local_shell_call" => {
                messages.push(("assistant".into(), Vec::new(), 1));
            }
            _ => {}
        }
    }
    let mut tools = tools_in(&body["tools"], "/name", "/parameters");
    // A namespace (Codex's MCP servers) holds its tools: `<namespace>__<tool>` here, called
    // with the namespace apart.
    for ns in body["tools"].as_array().into_iter().flatten() {
        if let (Some(space), Some(inner)) = (ns["name"].as_str(), ns["tools"].as_array()) {
            for t in inner {
                if let Some(name) = t["name"].as_str() {
                    tools.push((format!("{space}__{name}"), t["parameters"].clone()));
                }
            }
        }
    }
    let at = position(&messages, "responses");
    let reply = next_reply(at.0.as_deref(), at.1, &tools, working_dir(body).as_deref());
    let served = record(
        "responses",
        path,
        body,
        model.clone(),
        at,
        &reply,
        CACHED_TOKENS,
    );
    let item = match &reply {
        Reply::Tool(name, args) => {
            let mut call = json!({"type": "function_call", "id": format!("fc_{}", call_id()),
            "call_id": call_id(), "name": name, "arguments": args.to_string(), "status": "completed"});
            let namespaced = body["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|ns| {
                    let space = ns["name"].as_str()?;
                    let inner = name.strip_prefix(space)?.strip_prefix("__")?;
                    ns["tools"].as_array()?;
                    Some((space.to_owned(), inner.to_owned()))
                });
            if let Some((space, inner)) = namespaced {
                call["namespace"] = json!(space);
                call["name"] = json!(inner);
            }
            call
        }
        Reply::Text(text) => {
            json!({"type": "message", "id": format!("msg_{}", call_id()), "role": "assistant",
            "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]})
        }
    };
    let mut events = vec![(
        Some("response.created"),
        json!({"type": "response.created", "response": {"id": "resp_mock", "status": "in_progress"}}),
    )];
    events.push((
        Some("response.output_item.added"),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
    ));
    if let Reply::Text(text) = &reply {
        events.push((
            Some("response.output_text.delta"),
            json!({"type": "response.output_text.delta", "item_id": "msg_mock", "output_index": 0,
                "content_index": 0, "delta": text}),
        ));
    }
    events.push((
        Some("response.output_item.done"),
        json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
    ));
    events.push((
        Some("response.completed"),
        json!({"type": "response.completed", "response": {"id": "resp_mock", "status": "completed",
            "model": model, "output": [item],
            "usage": {"input_tokens": INPUT_TOKENS,
                "input_tokens_details": {"cached_tokens": CACHED_TOKENS},
                "output_tokens": OUTPUT_TOKENS, "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}}}),
    ));
    ("200 OK", "text/event-stream", sse(&events), Some(served))
}

// ---- OpenAI Chat Completions ----

fn chat(path: &str, body: &Value) -> Answer {
    let model = body["model"].as_str().unwrap_or("gpt").to_owned();
    let messages = history(&body["messages"], |role, m| {
        match m["tool_calls"].as_array().map_or(0, Vec::len) {
            // Aider edits without tools: an answer of the assistant is a step taken.
            0 if role == "assistant" => 1,
            n => n,
        }
    });
    let tools = tools_in(&body["tools"], "/function/name", "/function/parameters");
    let at = position(&messages, "chat");
    // Requests beside the conversation: a title for the session (OpenCode), a commit message
    // (aider). They quote the prompt, but are not its next step.
    let system = body["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "system"))
        .map(|m| m["content"].to_string().to_lowercase())
        .unwrap_or_default();
    let at = if tools.is_empty() && (system.contains("commit message") || system.contains("title"))
    {
        (None, 0, at.2)
    } else {
        at
    };
    let reply = if at.0.is_none() {
        Reply::Text("Add the requested files".into())
    } else if tools.is_empty() {
        // Aider: no tools, files are edited from the reply's whole-file blocks.
        text_edits(at.0.as_deref(), at.1)
    } else {
        next_reply(at.0.as_deref(), at.1, &tools, working_dir(body).as_deref())
    };
    let served = record("chat", path, body, model.clone(), at, &reply, 0);
    let usage = json!({"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
        "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS});
    let (message, finish) = match &reply {
        Reply::Tool(name, args) => (
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": call_id(),
                "type": "function", "function": {"name": name, "arguments": args.to_string()}}]}),
            "tool_calls",
        ),
        Reply::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
    };
    if body["stream"] != json!(true) {
        let v = json!({"id": "chatcmpl-mock", "object": "chat.completion", "created": 0,
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage});
        return (
            "200 OK",
            "application/json",
            v.to_string().into_bytes(),
            Some(served),
        );
    }
    let chunk = |delta: Value, finish: Value, usage: Value| {
        (
            None,
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
                "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                "usage": usage}),
        )
    };
    let mut events = vec![
        chunk(message, Value::Null, Value::Null),
        chunk(json!({}), json!(finish), Value::Null),
    ];
    events.push((
        None,
        json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [], "usage": usage}),
    ));
    let mut bytes = sse(&events);
    bytes.extend_from_slice(b"data: [DONE]\n\n");
    ("200 OK", "text/event-stream", bytes, Some(served))
}

/// Aider's turn: every `write` step as a whole-file edit in one reply, then the final words.
fn text_edits(prompt: Option<&str>, answered: usize) -> Reply {
    let Some(prompt) = prompt else {
        return Reply::Text("update files".into());
    };
    let (steps, say) = scenario(prompt);
    if answered > 0 {
        return Reply::Text(say);
    }
    let mut reply = String::new();
    for step in &steps {
        if let Step::Write { path, text } = step {
            reply.push_str(&format!("{path}\n```\n{text}\n```\n\n"));
        }
    }
    reply.push_str(&say);
    Reply::Text(reply)
}

// ---- Gemini ----

fn gemini(target: &str, path: &str, body: &Value) -> Answer {
    let model = path
        .rsplit('/')
        .next()
        .and_then(|m| m.split(':').next())
        .unwrap_or("gemini")
        .to_owned();
    let messages: Vec<(String, Vec<String>, usize)> = body["contents"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|m| {
                    let parts = m["parts"].as_array().cloned().unwrap_or_default();
                    let texts = parts
                        .iter()
                        .filter_map(|p| p["text"].as_str().map(str::to_owned))
                        .collect();
                    let calls = parts
                        .iter()
                        .filter(|p| p.get("functionCall").is_some())
                        .count();
                    let has_response = parts.iter().any(|p| p.get("functionResponse").is_some());
                    let role = m["role"].as_str().unwrap_or("user");
                    let role = if role == "user" && has_response {
                        "tool"
                    } else {
                        role
                    };
                    (role.to_owned(), texts, calls)
                })
                .collect()
        })
        .unwrap_or_default();
    let tools: Tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| {
            t["functionDeclarations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|f| {
            let schema = f
                .get("parametersJsonSchema")
                .or_else(|| f.get("parameters"))
                .cloned()
                .unwrap_or(Value::Null);
            Some((f["name"].as_str()?.to_owned(), schema))
        })
        .collect();
    let at = position(&messages, "gemini");
    let at = if tools.is_empty() {
        (None, 0, at.2)
    } else {
        at
    };
    let reply = next_reply(at.0.as_deref(), at.1, &tools, working_dir(body).as_deref());
    let side = at.0.is_none();
    let served = record("gemini", path, body, model.clone(), at, &reply, 0);
    let part = match &reply {
        Reply::Tool(name, args) => json!({"functionCall": {"name": name, "args": args}}),
        // Side questions (routing, next speaker) ask for JSON; a plain object answers them.
        Reply::Text(_) if side => {
            json!({"text": json!({"reasoning": "mock", "model_choice": "flash", "next_speaker": "user",
                "complexity_reasoning": "mock", "complexity_score": 10}).to_string()})
        }
        Reply::Text(text) => json!({"text": text}),
    };
    let v = json!({"candidates": [{"content": {"role": "model", "parts": [part]},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": INPUT_TOKENS, "candidatesTokenCount": OUTPUT_TOKENS,
            "totalTokenCount": INPUT_TOKENS + OUTPUT_TOKENS},
        "modelVersion": model});
    if path.contains(":streamGenerateContent") && target.contains("alt=sse") {
        return (
            "200 OK",
            "text/event-stream",
            sse(&[(None, v)]),
            Some(served),
        );
    }
    if path.contains(":streamGenerateContent") {
        return (
            "200 OK",
            "application/json",
            json!([v]).to_string().into_bytes(),
            Some(served),
        );
    }
    (
        "200 OK",
        "application/json",
        v.to_string().into_bytes(),
        Some(served),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_scripted_for_an_api_are_that_apis_only() {
        let text = "ask\nMOCK[anthropic]: say one\nMOCK[gemini]: say two\\nMOCK[anthropic]: say x\nMOCK: run ls";
        assert_eq!(
            for_api(text, "anthropic"),
            "ask\nMOCK: say one\nMOCK: run ls"
        );
        let gemini = for_api(text, "gemini");
        assert_eq!(scenario(&gemini).1, "two\nMOCK[anthropic]: say x");
        assert_eq!(for_api("no script", "chat"), "no script");
    }

    #[test]
    fn scenarios_come_from_mock_lines() {
        let (steps, say) =
            scenario("do it\nMOCK: write a/b.txt hi there\nMOCK: run git commit\nMOCK: say ok");
        assert_eq!(
            steps,
            vec![
                Step::Write {
                    path: "a/b.txt".into(),
                    text: "hi there".into()
                },
                Step::Run("git commit".into())
            ]
        );
        assert_eq!(say, "ok");
    }

    #[test]
    fn the_history_says_which_step_is_next() {
        let m = |role: &str, text: &str, calls| {
            (
                role.to_owned(),
                if text.is_empty() {
                    vec![]
                } else {
                    vec![text.to_owned()]
                },
                calls,
            )
        };
        let history = [
            m("user", "MOCK: run a", 0),
            m("assistant", "", 1),
            m("user", "", 0),
            m("assistant", "", 1),
        ];
        let (prompt, calls, _) = position(&history, "anthropic");
        assert_eq!(prompt.as_deref(), Some("MOCK: run a"));
        assert_eq!(calls, 2);
    }
}
