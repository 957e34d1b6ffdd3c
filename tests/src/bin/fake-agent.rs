//! A stand-in for the agent CLIs in tests: it speaks the headless line protocol of the CLI it is
//! named as (`claude`, `codex`, `gemini`, `opencode`, `aider`; by the name it was started under,
//! or `FAKE_AGENT_AS`), and does what its prompt's script says.
//!
//! The script is the prompt's lines (or `;`-separated parts) that start with a command:
//! `say TEXT`, `tool NAME ARG`, `write PATH TEXT` (in the working directory), `commit MESSAGE`,
//! `usage IN OUT`, `sleep MS`, `hang`, `crash CODE`, `fail MESSAGE` (the CLI's error shape),
//! `stderr TEXT`, `ask QUESTION` (prints it without a line break and waits for a line on
//! stdin), `spam LINES BYTES`, `env NAME` (says a variable's value); for playbook turns `tick`
//! (ticks the task of maestro's prompt, or `tick PATH LINE`), `halt REASON` (writes a `HALT:` line
//! under it) and `rewrite` (changes its text). Anything else is said back.
//! Every turn records its arguments in `$FAKE_AGENT_LOG` when that is set; `$FAKE_AGENT_RULES`
//! may give an agent its script by what its prompt contains (see `ruled`).
//!
//! Started in a terminal (stdin is a tty: an interactive agent's PTY), it is a small terminal UI
//! instead: the alternate screen, a header kept on the top row by a scroll region, a `> ` prompt,
//! and each line typed runs as a script (`say TEXT` shows `» TEXT`) with a few more commands: `size` (says the terminal's
//! rows×cols), `bracketed` (turns bracketed paste on), `exit`, `spam LINES BYTES` (plain lines).
//! A bracketed paste is read whole and said back as `pasted N lines: …`.

use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::process::Command;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flavor = std::env::var("FAKE_AGENT_AS").unwrap_or_else(|_| {
        std::path::Path::new(&args[0])
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    if let Ok(log) = std::env::var("FAKE_AGENT_LOG") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("FAKE_AGENT_LOG is writable");
        // One write: agents started together append whole lines.
        let line = format!("{}\n", json!({"flavor": flavor, "args": &args[1..]}));
        let _ = f.write_all(line.as_bytes());
    }
    let (prompt, resume) = read_args(&flavor, &args[1..]);
    if rustix::termios::isatty(std::io::stdin()) {
        return Tui::new(flavor).run(&prompt);
    }
    let session = resume
        .clone()
        .unwrap_or_else(|| format!("fake-{}", std::process::id()));
    let mut out = Speaker {
        flavor: flavor.clone(),
        session: session.clone(),
        usage: (0, 0),
        said: String::new(),
    };
    out.start();
    if let Some(id) = &resume {
        out.say(&format!("resumed session {id}"));
    }
    let script = ruled(&prompt).unwrap_or_else(|| prompt.clone());
    let script: Vec<String> = script
        .split(['\n', ';'])
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    for step in script {
        let (cmd, rest) = step.split_once(' ').unwrap_or((&step, ""));
        match cmd {
            "say" => out.say(rest),
            "tool" => {
                let (name, arg) = rest.split_once(' ').unwrap_or((rest, ""));
                out.tool(name, arg);
            }
            "write" => {
                let (path, text) = rest.split_once(' ').unwrap_or((rest, ""));
                std::fs::write(path, format!("{text}\n")).expect("write");
                out.tool("write", path);
            }
            "commit" => {
                git(&["add", "-A"]);
                git(&["commit", "-q", "-m", rest]);
                out.tool("shell", &format!("git commit -m {rest}"));
            }
            "usage" => {
                let mut n = rest
                    .split_whitespace()
                    .map(|x| x.parse::<u64>().unwrap_or(0));
                out.usage = (n.next().unwrap_or(0), n.next().unwrap_or(0));
            }
            "sleep" => std::thread::sleep(Duration::from_millis(rest.parse().unwrap_or(100))),
            "hang" => loop {
                std::thread::sleep(Duration::from_secs(60));
            },
            "crash" => {
                eprintln!("fake agent: crashing as asked");
                std::process::exit(rest.parse().unwrap_or(1));
            }
            "fail" => {
                out.fail(rest);
                std::process::exit(1);
            }
            "stderr" => eprintln!("{rest}"),
            "ask" => {
                print!("{rest} ");
                std::io::stdout().flush().unwrap();
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer).unwrap();
                out.say(&format!("got: {}", answer.trim()));
            }
            "spam" => {
                let mut n = rest
                    .split_whitespace()
                    .map(|x| x.parse::<usize>().unwrap_or(0));
                let (lines, bytes) = (n.next().unwrap_or(1), n.next().unwrap_or(80));
                let text = "x".repeat(bytes);
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                for _ in 0..lines {
                    out.say_to(&mut lock, &text);
                }
            }
            "env" => out.say(&format!(
                "{rest}={}",
                std::env::var(rest).unwrap_or_else(|_| "(unset)".into())
            )),
            "tick" | "halt" | "rewrite" => {
                let (path, line) = playbook_task(&prompt, rest, cmd == "tick");
                let text = std::fs::read_to_string(&path).expect("the playbook is readable");
                let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
                let i = line as usize - 1;
                match cmd {
                    "tick" => lines[i] = lines[i].replacen("[ ]", "[x]", 1),
                    "halt" => lines.insert(i + 1, format!("HALT: {rest}")),
                    _ => lines[i] = lines[i].replacen("] ", "] rewritten: ", 1),
                }
                std::fs::write(&path, lines.join("\n")).expect("write the playbook");
                out.tool("edit", &format!("{path}:{line} {cmd}"));
            }
            _ => out.say(&step),
        }
    }
    out.result();
}

/// The playbook and task line of a playbook turn: `tick PATH LINE` names them; otherwise (and for
/// `halt`/`rewrite`) they are read from maestro's default prompt ("… on line N:", "tick its box in
/// PATH (").
fn playbook_task(prompt: &str, rest: &str, explicit: bool) -> (String, u32) {
    if explicit && let Some((path, line)) = rest.split_once(' ') {
        return (
            path.to_owned(),
            line.trim().parse().expect("tick PATH LINE"),
        );
    }
    let line = prompt
        .split("on line ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("the prompt names the task's line");
    let path = prompt
        .split("tick its box in ")
        .nth(1)
        .and_then(|r| r.split(" (").next())
        .expect("the prompt names the playbook");
    (path.to_owned(), line)
}

/// The script `$FAKE_AGENT_RULES` (a JSON file) gives this agent (`$MAESTRO_AGENT`) for this
/// prompt: `{"name": [{"if": "text in the prompt", "then": "script"}, {"then": "…"}]}`, the
/// first rule whose `if` the prompt contains (a rule without one always applies); `None` when no
/// rule applies (the prompt is the script).
fn ruled(prompt: &str) -> Option<String> {
    let file = std::env::var("FAKE_AGENT_RULES").ok()?;
    let agent = std::env::var("MAESTRO_AGENT").ok()?;
    let rules: Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    rules[agent.as_str()]
        .as_array()?
        .iter()
        .find(|r| r["if"].as_str().is_none_or(|c| prompt.contains(c)))
        .and_then(|r| r["then"].as_str().map(str::to_owned))
}

/// The prompt and the session to resume, from each CLI's arguments.
fn read_args(flavor: &str, args: &[String]) -> (String, Option<String>) {
    // `--flag value` or `--flag=value`, as the real CLIs take them.
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
            .or_else(|| {
                let joined = format!("{flag}=");
                args.iter()
                    .find_map(|a| a.strip_prefix(&joined).map(str::to_owned))
            })
    };
    match flavor {
        "claude" => (after("--").unwrap_or_default(), after("--resume")),
        "codex" => (args.last().cloned().unwrap_or_default(), after("resume")),
        "gemini" => (
            after("--prompt")
                .or_else(|| after("--prompt-interactive"))
                .unwrap_or_default(),
            after("--resume"),
        ),
        "opencode" if !args.iter().any(|a| a == "run") => {
            (after("--prompt").unwrap_or_default(), after("--session"))
        }
        "opencode" => (args.last().cloned().unwrap_or_default(), after("--session")),
        "aider" => (after("--message").unwrap_or_default(), None),
        _ => (args.last().cloned().unwrap_or_default(), None),
    }
}

/// The terminal UI of an interactive start.
struct Tui {
    flavor: String,
    turns: u32,
}

impl Tui {
    fn new(flavor: String) -> Tui {
        Tui { flavor, turns: 0 }
    }

    fn size() -> (u16, u16) {
        rustix::termios::tcgetwinsize(std::io::stdout())
            .map(|w| (w.ws_row, w.ws_col))
            .unwrap_or((24, 80))
    }

    fn out(text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// The header on the top row, outside the scroll region, the cursor put back where it was.
    fn header(&self) {
        let (rows, cols) = Self::size();
        Self::out(&format!(
            "\x1b7\x1b[1;1H\x1b[7mfake {} tui · turn {} · {rows}x{cols}\x1b[0m\x1b[K\x1b8",
            self.flavor, self.turns
        ));
    }

    fn run(mut self, prompt: &str) {
        let (rows, _) = Self::size();
        Self::out(&format!("\x1b[?1049h\x1b[2J\x1b[2;{rows}r\x1b[2;1H"));
        self.header();
        if !prompt.is_empty() {
            self.script(prompt);
        }
        let stdin = std::io::stdin();
        let mut lines = stdin.lock();
        loop {
            Self::out("> ");
            let mut line = String::new();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let (start, end) = ("\x1b[200~", "\x1b[201~");
            if let Some(rest) = line.trim_end_matches('\n').strip_prefix(start) {
                // A paste is one prompt, however many lines it has.
                let mut pasted = vec![rest.to_owned()];
                while !pasted.last().is_some_and(|l| l.contains(end)) {
                    let mut more = String::new();
                    if lines.read_line(&mut more).unwrap_or(0) == 0 {
                        break;
                    }
                    pasted.push(more.trim_end_matches('\n').to_owned());
                }
                let text = pasted.join("\n").replace(end, "");
                Self::out(&format!(
                    "pasted {} lines: {}\n",
                    pasted.len(),
                    text.replace('\n', " / ")
                ));
                continue;
            }
            self.script(line.trim());
        }
    }

    fn script(&mut self, prompt: &str) {
        self.turns += 1;
        self.header();
        for step in prompt.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (cmd, rest) = step.split_once(' ').unwrap_or((step, ""));
            match cmd {
                "say" => Self::out(&format!("» {rest}\n")),
                "size" => {
                    let (rows, cols) = Self::size();
                    Self::out(&format!("size {rows}x{cols}\n"));
                    self.header();
                }
                "bracketed" => Self::out("\x1b[?2004hbracketed paste on\n"),
                "exit" => {
                    Self::out("\x1b[r\x1b[?1049l");
                    std::process::exit(0);
                }
                "crash" => std::process::exit(rest.parse().unwrap_or(1)),
                "sleep" => std::thread::sleep(Duration::from_millis(rest.parse().unwrap_or(100))),
                "write" => {
                    let (path, text) = rest.split_once(' ').unwrap_or((rest, ""));
                    std::fs::write(path, format!("{text}\n")).expect("write");
                    Self::out(&format!("wrote {path}\n"));
                }
                "commit" => {
                    git(&["add", "-A"]);
                    git(&["commit", "-q", "-m", rest]);
                    Self::out(&format!("committed {rest}\n"));
                }
                "spam" => {
                    let mut n = rest
                        .split_whitespace()
                        .map(|x| x.parse::<usize>().unwrap_or(0));
                    let (lines, bytes) = (n.next().unwrap_or(1), n.next().unwrap_or(80));
                    let line = format!("{}\n", "x".repeat(bytes));
                    let mut out = std::io::stdout().lock();
                    for _ in 0..lines {
                        let _ = out.write_all(line.as_bytes());
                    }
                    let _ = out.flush();
                }
                _ => Self::out(&format!("you said: {step}\n")),
            }
        }
    }
}

fn git(args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .env("GIT_AUTHOR_NAME", "fake agent")
        .env("GIT_AUTHOR_EMAIL", "fake@agent")
        .env("GIT_COMMITTER_NAME", "fake agent")
        .env("GIT_COMMITTER_EMAIL", "fake@agent")
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "git {args:?} failed");
}

struct Speaker {
    flavor: String,
    session: String,
    usage: (u64, u64),
    said: String,
}

impl Speaker {
    fn line(&self, v: Value) {
        println!("{v}");
    }

    fn start(&self) {
        let s = &self.session;
        match self.flavor.as_str() {
            "claude" => self.line(json!({"type":"system","subtype":"init","session_id":s,"cwd":".","tools":["Bash"],"mcp_servers":[],"model":"claude-sonnet-4-5-20250929","permissionMode":"acceptEdits"})),
            "codex" => {
                self.line(json!({"type":"thread.started","thread_id":s}));
                self.line(json!({"type":"turn.started"}));
            }
            "gemini" => self.line(json!({"type":"init","timestamp":"2026-01-01T00:00:00Z","session_id":s,"model":"gemini-2.5-pro"})),
            "opencode" => self.line(json!({"type":"step_start","timestamp":0,"sessionID":s,"part":{"type":"step-start"}})),
            _ => println!("Aider v0.86.1 (fake)"),
        }
    }

    fn say(&mut self, text: &str) {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        self.say_to(&mut lock, text);
    }

    fn say_to(&mut self, w: &mut impl Write, text: &str) {
        self.said = text.to_owned();
        let s = &self.session;
        let v = match self.flavor.as_str() {
            "claude" => {
                json!({"type":"assistant","message":{"content":[{"type":"text","text":text}]},"session_id":s,"parent_tool_use_id":null,"uuid":"u"})
            }
            "codex" => {
                json!({"type":"item.completed","item":{"id":"i","type":"agent_message","text":text}})
            }
            "gemini" => json!({"type":"message","role":"assistant","content":text}),
            "opencode" => {
                json!({"type":"text","timestamp":0,"sessionID":s,"part":{"type":"text","text":text}})
            }
            _ => {
                let _ = writeln!(w, "{text}");
                return;
            }
        };
        let _ = writeln!(w, "{v}");
    }

    fn tool(&self, name: &str, arg: &str) {
        let s = &self.session;
        match self.flavor.as_str() {
            "claude" => self.line(json!({"type":"assistant","message":{"content":[{"type":"tool_use","id":"t","name":name,"input":{"command":arg}}]},"session_id":s,"parent_tool_use_id":null,"uuid":"u"})),
            "codex" => self.line(json!({"type":"item.completed","item":{"id":"c","type":"command_execution","command":arg,"aggregated_output":"","exit_code":0,"status":"completed"}})),
            "gemini" => self.line(json!({"type":"tool_use","tool_name":name,"tool_id":"t","parameters":{"command":arg}})),
            "opencode" => self.line(json!({"type":"tool_use","timestamp":0,"sessionID":s,"part":{"type":"tool","tool":name,"state":{"status":"completed","input":{"command":arg}}}})),
            _ => println!("Running {name} {arg}"),
        }
    }

    fn fail(&self, message: &str) {
        let s = &self.session;
        match self.flavor.as_str() {
            "claude" => self.line(json!({"type":"result","subtype":"error_during_execution","is_error":true,"result":message,"session_id":s,"total_cost_usd":0.0,"usage":{"input_tokens":0,"output_tokens":0}})),
            "codex" => self.line(json!({"type":"turn.failed","error":{"message":message}})),
            "gemini" => {
                self.line(json!({"type":"error","severity":"error","message":message}));
                self.line(json!({"type":"result","status":"error","stats":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"cached":0,"duration_ms":1,"tool_calls":0}}));
            }
            "opencode" => self.line(json!({"type":"error","timestamp":0,"sessionID":s,"error":{"name":"APIError","data":{"message":message}}})),
            _ => eprintln!("{message}"),
        }
    }

    fn result(&self) {
        let (i, o) = self.usage;
        let s = &self.session;
        match self.flavor.as_str() {
            "claude" => self.line(json!({"type":"result","subtype":"success","is_error":false,"duration_ms":10,"duration_api_ms":5,"num_turns":1,"result":self.said,"session_id":s,"total_cost_usd":(i as f64 * 3.0 + o as f64 * 15.0) / 1e6,"usage":{"input_tokens":i,"output_tokens":o,"cache_creation_input_tokens":0,"cache_read_input_tokens":0},"modelUsage":{"claude-sonnet-4-5-20250929":{"costUSD":0.0}},"permission_denials":[]})),
            "codex" => self.line(json!({"type":"turn.completed","usage":{"input_tokens":i,"cached_input_tokens":0,"output_tokens":o}})),
            "gemini" => self.line(json!({"type":"result","status":"success","stats":{"total_tokens":i+o,"input_tokens":i,"output_tokens":o,"cached":0,"duration_ms":10,"tool_calls":0}})),
            "opencode" => self.line(json!({"type":"step_finish","timestamp":0,"sessionID":s,"part":{"type":"step-finish","cost":(i as f64 + o as f64) / 1e6,"tokens":{"input":i,"output":o,"reasoning":0,"cache":{"read":0,"write":0}}}})),
            _ => println!("Tokens: {i} sent, {o} received. Cost: $0.01 message, $0.01 session."),
        }
    }
}
