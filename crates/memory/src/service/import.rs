//! `maestro memory import`: exchanges (a person's prompt, the agent's reply, the tools it used) from
//! the agent CLIs' own transcripts of a workspace — Claude Code's `~/.claude/projects/*/*.jsonl` and
//! Codex's `~/.codex/sessions/**/rollout-*.jsonl`. Lines that cannot be read are reported and
//! skipped; the memory ids are hashes of file, line and text, so importing again adds only what is new.

use super::NewMemory;
use maestro_protocol::memory_kind;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One exchange found in a transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub cli: &'static str,
    pub file: PathBuf,
    /// 1-based line of the prompt.
    pub line: usize,
    pub at: f64,
    pub prompt: String,
    pub reply: String,
    pub tools: Vec<String>,
}

impl Exchange {
    pub fn into_memory(self, ws: &str) -> NewMemory {
        let mut text = format!("Prompt: {}\n", self.prompt.trim());
        if !self.reply.trim().is_empty() {
            text.push_str(&format!("Reply: {}\n", self.reply.trim()));
        }
        if !self.tools.is_empty() {
            text.push_str(&format!("Tools: {}\n", self.tools.join("; ")));
        }
        NewMemory {
            ws: ws.to_owned(),
            kind: memory_kind::IMPORT,
            agent: self.cli.to_owned(),
            source: format!("{}:{}:{}", self.cli, self.file.display(), self.line),
            at: self.at,
            text,
        }
    }
}

/// What one directory of transcripts gave.
#[derive(Debug, Default)]
pub struct Found {
    pub files: u32,
    pub exchanges: Vec<Exchange>,
    pub problems: Vec<String>,
}

/// Claude Code's transcripts whose `cwd` is inside `root`.
pub fn claude(projects: &Path, root: &Path, found: &mut Found) {
    // Claude Code names each project's directory after its path with `/` and `.` as `-`.
    let encoded = root.to_string_lossy().replace(['/', '.'], "-");
    let Ok(dirs) = std::fs::read_dir(projects) else {
        return;
    };
    for dir in dirs.flatten() {
        if !dir.file_name().to_string_lossy().starts_with(&encoded) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        let mut files: Vec<PathBuf> = files
            .flatten()
            .map(|f| f.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        for file in files {
            read_file(&file, root, found, "claude", claude_line);
        }
    }
}

/// Codex's session files whose `cwd` is inside `root`.
pub fn codex(sessions: &Path, root: &Path, found: &mut Found) {
    let mut files = Vec::new();
    let mut stack = vec![sessions.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                files.push(p);
            }
        }
    }
    files.sort();
    for file in files {
        read_file(&file, root, found, "codex", codex_line);
    }
}

/// What a transcript line says.
enum Line {
    Cwd(PathBuf),
    Prompt {
        text: String,
        at: Option<f64>,
        cwd: Option<PathBuf>,
    },
    Reply(String),
    Tool(String),
    Other,
}

fn read_file(
    file: &Path,
    root: &Path,
    found: &mut Found,
    cli: &'static str,
    parse: fn(&Value) -> Line,
) {
    let Ok(text) = std::fs::read_to_string(file) else {
        found
            .problems
            .push(format!("{}: cannot be read as UTF-8 text", file.display()));
        return;
    };
    let mut inside = false;
    let mut counted = false;
    let mut current: Option<Exchange> = None;
    let flush = |current: &mut Option<Exchange>, found: &mut Found| {
        if let Some(x) = current.take() {
            found.exchanges.push(x);
        }
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                found
                    .problems
                    .push(format!("{}:{}: not JSON ({e})", file.display(), i + 1));
                continue;
            }
        };
        let parsed = parse(&value);
        let is_inside = |cwd: &Path| cwd.starts_with(root);
        match parsed {
            Line::Cwd(cwd) => inside = is_inside(&cwd),
            Line::Prompt { text, at, cwd } => {
                if let Some(cwd) = cwd {
                    inside = is_inside(&cwd);
                }
                flush(&mut current, found);
                if inside && !text.trim().is_empty() {
                    if !counted {
                        found.files += 1;
                        counted = true;
                    }
                    current = Some(Exchange {
                        cli,
                        file: file.to_path_buf(),
                        line: i + 1,
                        at: at.unwrap_or(0.0),
                        prompt: text,
                        reply: String::new(),
                        tools: Vec::new(),
                    });
                }
            }
            Line::Reply(text) => {
                if let Some(x) = current.as_mut() {
                    if !x.reply.is_empty() {
                        x.reply.push('\n');
                    }
                    x.reply.push_str(&text);
                }
            }
            Line::Tool(t) => {
                if let Some(x) = current.as_mut()
                    && x.tools.len() < 50
                {
                    x.tools.push(t);
                }
            }
            Line::Other => {}
        }
    }
    flush(&mut current, found);
}

/// Text parts of a message's content (a string, or `[{type: text|input_text|output_text, text}]`).
fn texts(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| {
                matches!(
                    p["type"].as_str(),
                    Some("text" | "input_text" | "output_text")
                )
            })
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn tool_summary(name: &str, input: &Value) -> String {
    let detail = ["command", "file_path", "path", "pattern", "url", "query"]
        .iter()
        .find_map(|k| match &input[*k] {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        })
        .unwrap_or_default();
    let detail: String = detail.chars().take(200).collect();
    format!("{name} {detail}").trim().to_owned()
}

fn claude_line(v: &Value) -> Line {
    let at = v["timestamp"].as_str().and_then(parse_rfc3339);
    let cwd = v["cwd"].as_str().map(PathBuf::from);
    match v["type"].as_str() {
        Some("user") => {
            let content = &v["message"]["content"];
            // Tool results come back as user lines made only of tool_result parts.
            let text = texts(content);
            if text.trim().is_empty() {
                return Line::Other;
            }
            Line::Prompt { text, at, cwd }
        }
        Some("assistant") => {
            let content = &v["message"]["content"];
            if let Some(parts) = content.as_array()
                && let Some(tool) = parts.iter().find(|p| p["type"] == "tool_use")
            {
                return Line::Tool(tool_summary(
                    tool["name"].as_str().unwrap_or("tool"),
                    &tool["input"],
                ));
            }
            let text = texts(content);
            if text.trim().is_empty() {
                Line::Other
            } else {
                Line::Reply(text)
            }
        }
        _ => Line::Other,
    }
}

fn codex_line(v: &Value) -> Line {
    let payload = &v["payload"];
    match (v["type"].as_str(), payload["type"].as_str()) {
        (Some("session_meta"), _) => match payload["cwd"].as_str() {
            Some(cwd) => Line::Cwd(PathBuf::from(cwd)),
            None => Line::Other,
        },
        (Some("response_item"), Some("message")) => {
            let text = texts(&payload["content"]);
            // Codex sends its environment and instructions as user messages in angle brackets.
            if text.trim().is_empty() || text.trim_start().starts_with('<') {
                return Line::Other;
            }
            match payload["role"].as_str() {
                Some("user") => Line::Prompt {
                    text,
                    at: v["timestamp"].as_str().and_then(parse_rfc3339),
                    cwd: None,
                },
                Some("assistant") => Line::Reply(text),
                _ => Line::Other,
            }
        }
        (Some("response_item"), Some("function_call")) => {
            let args: Value = payload["arguments"]
                .as_str()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or(Value::Null);
            Line::Tool(tool_summary(
                payload["name"].as_str().unwrap_or("tool"),
                &args,
            ))
        }
        _ => Line::Other,
    }
}

/// `2025-06-01T12:34:56.789Z` (or with an offset) as Unix seconds.
fn parse_rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        frac = format!("0.{}", &r[..digits]).parse().unwrap_or(0.0);
        rest = &r[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o.get(1..3)?.parse::<i64>().ok()? * 3600
                + o.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) as f64 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_rfc3339("2025-06-01T12:00:00.5Z"),
            Some(1_748_779_200.5)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01T14:00:00+02:00"),
            Some(1_748_779_200.0)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn claude_and_codex_transcripts_give_exchanges_of_the_workspace_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Path::new("/work/app");
        let claude_dir = tmp.path().join("claude");
        let project = claude_dir.join("-work-app");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(claude_dir.join("-work-other")).unwrap();
        let lines = [
            r#"{"type":"user","cwd":"/work/app","timestamp":"2025-06-01T12:00:00Z","message":{"role":"user","content":"Why does login fail?"}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"cargo test auth"}}]}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"ok"}]}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"The token expiry check used seconds as milliseconds."}]}}"#,
            "not json",
            r#"{"type":"user","cwd":"/work/app","message":{"content":[{"type":"text","text":"Fix it"}]}}"#,
        ];
        std::fs::write(project.join("s1.jsonl"), lines.join("\n")).unwrap();
        std::fs::write(
            claude_dir.join("-work-other/s2.jsonl"),
            r#"{"type":"user","cwd":"/work/other","message":{"content":"elsewhere"}}"#,
        )
        .unwrap();
        let mut found = Found::default();
        claude(&claude_dir, root, &mut found);
        assert_eq!(found.files, 1);
        assert_eq!(found.exchanges.len(), 2);
        let x = &found.exchanges[0];
        assert_eq!(x.prompt, "Why does login fail?");
        assert_eq!(x.tools, vec!["Bash cargo test auth"]);
        assert!(x.reply.contains("seconds as milliseconds"));
        assert_eq!(x.line, 1);
        assert_eq!(x.at, 1_748_779_200.0);
        assert_eq!(found.problems.len(), 1);
        assert!(
            found.problems[0].ends_with(":5: not JSON (expected ident at line 1 column 2)"),
            "{:?}",
            found.problems
        );

        let codex_dir = tmp.path().join("codex/2025/06/01");
        std::fs::create_dir_all(&codex_dir).unwrap();
        let lines = [
            r#"{"timestamp":"2025-06-01T12:00:00Z","type":"session_meta","payload":{"cwd":"/work/app/sub"}}"#,
            r#"{"timestamp":"2025-06-01T12:00:01Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>x</environment_context>"}]}}"#,
            r#"{"timestamp":"2025-06-01T12:00:02Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"Add retries to the client"}]}}"#,
            r#"{"timestamp":"2025-06-01T12:00:03Z","type":"response_item","payload":{"type":"function_call","name":"shell","arguments":"{\"command\":[\"rg\",\"retry\"]}"}}"#,
            r#"{"timestamp":"2025-06-01T12:00:04Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Retries now back off exponentially."}]}}"#,
        ];
        std::fs::write(codex_dir.join("rollout-1.jsonl"), lines.join("\n")).unwrap();
        let mut found = Found::default();
        codex(&tmp.path().join("codex"), root, &mut found);
        assert_eq!(found.exchanges.len(), 1);
        let x = &found.exchanges[0];
        assert_eq!(
            (x.prompt.as_str(), x.line),
            ("Add retries to the client", 3)
        );
        assert_eq!(x.tools, vec!["shell rg retry"]);
        let m = x.clone().into_memory("ws1");
        assert_eq!(m.agent, "codex");
        assert!(m.text.starts_with("Prompt: Add retries"), "{}", m.text);
        assert!(m.source.ends_with("rollout-1.jsonl:3"));
    }
}
