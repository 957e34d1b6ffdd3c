//! Harness for the end-to-end tests and benchmarks: the real `maestro` binary, a temporary
//! `MAESTRO_HOME` per test, and a small JSON-RPC client of its own (written independently of the
//! server's code, so that the framing is checked from the outside).
//!
//! ## How it behaves
//!
//! `maestro-tests` drives the real binary: `TestEnv` makes a temporary `MAESTRO_HOME` (its daemon is killed
//! on drop), git repositories, raw socket connections and `maestro lsp` processes, all through a JSON-RPC peer
//! written independently of the server's framing that fails on any stray byte on stdout. The binary is
//! built on first use for the test's profile (`MAESTRO_BIN` overrides); its `git` helper (a fixed test
//! author) also serves `crates/agents/tests` as a dev-dependency.
//!
//! **The real agent CLIs** are what `e2e/real_agents.rs` drives: Claude Code, Codex, Gemini CLI,
//! OpenCode (npm) and aider (PyPI), pinned in `tests/agent-clis` and installed by `scripts/test` into
//! `~/.cache/maestro/test-tools`, each pointed at `mock_model::MockModel`, a server of the tests' own on
//! 127.0.0.1 that answers Anthropic Messages (SSE), OpenAI Responses (SSE), Chat Completions and Gemini
//! `generateContent`/`streamGenerateContent` by path. It keeps no conversation state: each request's
//! history says which step of the prompt's `MOCK:` script comes next (the tool calls answered since the
//! prompt), picking the tool by the names each CLI offers (`Write`/`Bash`, `exec_command`,
//! `write_file`/`run_shell_command`, `write`/`bash`; whole-file edits in the reply for aider); side
//! requests (titles, commit messages, routing) get plain answers. It records what it served, so tests
//! compare the tokens maestro stored with those served and see that a resumed turn carried the first
//! prompt. `real_clis::real_env` gives the daemon a home of its own with each CLI's configuration for the
//! mock (harness facts, not product: Claude's onboarding flag and approved key, a Codex provider,
//! Gemini's auth type, an OpenCode provider, aider's base URL and local price map), the person's git
//! identity in `~/.gitconfig` (as people keep it) and a `PWD` that is not a checkout. Covered per CLI: spawn → tool calls → a commit on `maestro/<name>` → the result;
//! `send` resumes; tokens equal (Codex's dollars from the table, cached input once); diff, merge into
//! the checkout, remove; Claude denied a commit (in place, cautious) and allowed it
//! (`--allow-commit`); Codex's failed command and uncommitted draft; unpriced usage; 3-task playbooks
//! with Claude and with Codex; interactive Claude and Codex in the PTY, attached from a real terminal,
//! exited, resumed and stopped with no process left; an editor hearing a warned turn; `doctor` with
//! configured paths. `benches/real_agents.rs` times them standalone and under maestro.
//!
//! `e2e/agents.rs` runs `fake-agent` (`tests/src/bin`, a test program speaking each CLI's line
//! protocol from a script in its prompt) for what a real CLI does not do on demand and what does not
//! depend on the CLI: the watchdog, crashes and auth errors, stop, a SIGKILLed
//! daemon (lost, orphan killed, resumed by session id), 20 agents at once, needs-input answered, an
//! editor driving an agent over LSP, bad names, missing CLIs, taken paths and a dirty checkout, an
//! interactive agent attached from a real terminal (a PTY read through a vt100 screen), attach/input/
//! resize bad requests, and the delegate code actions with `window/showMessageRequest` answered.
//! `e2e/playbooks.rs` gives playbook tasks to `fake-agent` (the task's text is its script; `tick`
//! ticks the task maestro's prompt names, `halt` writes a `HALT:` line, `rewrite` changes the task):
//! five tasks ticked in order with one commit each and only the checkbox bytes changed, a stalled
//! document skipped and a halt honoured, a review gate that waits for `approve`, a daemon SIGKILLed
//! mid-run that resumes with each task ticked and committed once, two parallel agents merged, loops on
//! fresh copies, pause/resume/stop, bad input (missing, non-markdown, empty, unknown agent, bad
//! template, a rewritten task: the run stops and the file keeps the agent's bytes), and an editor
//! (diagnostics, code lenses, the code action, a lens run with progress).
//! `e2e/graph.rs` builds a repository
//! with Python, Rust and TypeScript and checks navigation over the LSP (both modes, unsaved buffers, bad
//! positions), the CLI, the watcher (edits, renames, deletes, a 1,000-file branch switch) and a restart.
//! `crates/graph/tests/` holds the per-language fixtures (`extract.rs`), resolution (`resolve.rs`) and the
//! indexer against a real store (`indexer.rs`). The benchmarks are programs that print figures
//! (`scripts/bench` installs universal-ctags and runs them all): `benches/foundation.rs` (daemon and LSP
//! start-up, status latency, memory), `benches/agents.rs` (spawn → first output, 100 fake agents
//! streaming: daemon RSS and CPU, definition latency through `maestro lsp` against idle; one agent's
//! output throughput), `benches/playbooks.rs` (a 1,000-task playbook of instant ticks: tasks per
//! minute, the gap between tasks against the agent process's floor, daemon RSS; daemon restart → run
//! resumed), `benches/hardening.rs` (daemon RSS through 100k unread replies, ten half-sent 60 MB
//! frames and 50 MB / symbol-dense buffers; a runaway query's answer time, writes beside it and the
//! daemon's CPU after it; a clean stop's checkpoint on a 1 GB store; `MAESTRO_BIN` runs it on
//! another build for before/after) and `benches/graph.rs` (cold index against the tree-sitter floor
//! and `ctags -R` on the same files, warm start, `didChange` until `definition` answers from the new
//! text, definition / references / workspace-symbol latency at 1,000 random names, store size, RSS).
//! `scripts/agreement` measures how often `definition` agrees with pyright and
//! typescript-language-server (installed pinned into `target/agreement`) on a stdlib package and on
//! rxjs's sources.

pub mod mock_model;
pub mod nats;
pub mod real_clis;

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long any single expectation waits before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The `maestro` binary of this build profile, built on first use (`MAESTRO_BIN` overrides).
pub fn maestro_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("MAESTRO_BIN") {
            return PathBuf::from(bin);
        }
        // target/<profile>/deps/<test binary> → target/<profile>
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_owned();
        let target_dir = profile_dir.parent().expect("target dir").to_owned();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "maestro",
                "--bin",
                "maestro",
                "--target-dir",
            ])
            .arg(&target_dir)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("running cargo build");
        assert!(status.success(), "building the maestro binary failed");
        profile_dir.join("maestro")
    })
}

/// A private maestro installation: its own `MAESTRO_HOME`, and repositories to work in. Dropping it
/// kills the daemon it started.
pub struct TestEnv {
    pub home: TempDir,
    /// Variables given to every program this installation starts (its daemon among them, so
    /// also to the agents the daemon starts).
    pub vars: Vec<(String, String)>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// With a user config that lets a forgotten daemon exit after a minute.
    pub fn new() -> TestEnv {
        Self::with_config("[daemon]\nidle_timeout_secs = 60\n")
    }

    pub fn with_config(config: &str) -> TestEnv {
        let home = tempfile::Builder::new()
            .prefix("mh")
            .tempdir()
            .expect("temp dir");
        let env = TestEnv {
            home,
            vars: Vec::new(),
        };
        env.write_config(config);
        env
    }

    pub fn write_config(&self, config: &str) {
        let dir = self.home.path().join("config");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), config).unwrap();
    }

    /// Gives this installation the machine's embedding runtime and model (what `maestro models
    /// install` put in MAESTRO_MODELS_DIR, else ~/.cache/maestro/models) by linking
    /// `MAESTRO_HOME/models` to them. Without this a test's daemon has no model: keyword search only.
    pub fn link_models(&self) {
        let dir = std::env::var_os("MAESTRO_MODELS_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("maestro/models"))
            })
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/maestro/models"))
            })
            .expect("HOME is set");
        assert!(
            dir.join("manifest.json").exists(),
            "no embedding model in {}: run scripts/test (or `maestro models install`) first",
            dir.display()
        );
        std::os::unix::fs::symlink(&dir, self.home.path().join("models")).unwrap();
    }

    pub fn socket(&self) -> PathBuf {
        self.home.path().join("run/daemon.sock")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.home.path().join("run/daemon.lock")
    }
    pub fn store_file(&self) -> PathBuf {
        self.home.path().join("data/maestro.db")
    }
    pub fn log_file(&self) -> PathBuf {
        self.home.path().join("state/logs/daemon.log")
    }

    /// `maestro` with this environment.
    pub fn command(&self) -> Command {
        let mut c = Command::new(maestro_bin());
        self.apply(&mut c).current_dir(self.home.path());
        c
    }

    /// Gives any program (an editor that starts `maestro lsp`, say) this installation's
    /// environment: its MAESTRO_HOME, and none of the test process's maestro variables.
    pub fn apply<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        c.env("MAESTRO_HOME", self.home.path())
            .env_remove("MAESTRO_LOG")
            // The models are MAESTRO_HOME/models: none unless the test links them.
            .env_remove("MAESTRO_MODELS_DIR")
            .env_remove("MAESTRO_ORT_DYLIB")
            .env_remove("ORT_DYLIB_PATH")
            .env_remove("MAESTRO_EMBED_MODEL")
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
    }

    /// Runs `maestro ARGS` in `dir` and waits.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.command()
            .current_dir(dir)
            .args(args)
            .output()
            .expect("running maestro")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("running maestro")
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run_in(dir, args);
        assert!(
            out.status.success(),
            "maestro {args:?} failed: {}\n{}\n{}",
            out.status,
            text(&out.stderr),
            self.daemon_logs()
        );
        text(&out.stdout)
    }

    /// The tail of the daemon's logs, for failure messages.
    pub fn daemon_logs(&self) -> String {
        let tail = |p: PathBuf| {
            let t = std::fs::read_to_string(&p).unwrap_or_default();
            let lines: Vec<&str> = t.lines().collect();
            format!(
                "--- {} ---\n{}",
                p.display(),
                lines[lines.len().saturating_sub(30)..].join("\n")
            )
        };
        let logs = self.home.path().join("state/logs");
        format!(
            "{}\n{}",
            tail(logs.join("daemon.log")),
            tail(logs.join("daemon-stderr.log"))
        )
    }

    /// Runs a `--json` command that must succeed and parses its (single-line) output.
    pub fn json(&self, dir: &Path, args: &[&str]) -> Value {
        let stdout = self.ok(dir, args);
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("maestro {args:?}: not JSON ({e}): {stdout}"))
    }

    /// The pid in the lock file, if that process is alive.
    pub fn daemon_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.lock_file()).ok()?;
        let (pid, role) = text.trim().split_once(' ')?;
        let pid: u32 = pid.parse().ok()?;
        (role == "daemon" && alive(pid)).then_some(pid)
    }

    /// A git repository with one commit's worth of files.
    pub fn git_repo(&self, name: &str) -> PathBuf {
        let dir = self.home.path().join("repos").join(name);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/lib.rs"), "pub fn hello() {}\n").unwrap();
        git(&dir, &["init", "-q"]);
        dir.canonicalize().unwrap()
    }

    /// A raw connection to the daemon's socket (no hello sent).
    pub fn connect(&self) -> Rpc {
        let stream = UnixStream::connect(self.socket()).expect("connecting to the daemon socket");
        let read = stream.try_clone().unwrap();
        Rpc::new(read, Box::new(stream))
    }

    /// A connection that has said hello.
    pub fn connect_hello(&self) -> Rpc {
        let mut rpc = self.connect();
        let r = rpc.request(
            "maestro/hello",
            json!({"protocolVersion": 1, "client": {"name": "test", "kind": "other"}}),
        );
        assert!(r.get("result").is_some(), "hello failed: {r}");
        rpc
    }

    /// Starts `maestro mcp` in `dir` as an agent's CLI would (with its token, if any) and
    /// initializes it.
    pub fn mcp(&self, dir: &Path, token: Option<&str>) -> Mcp {
        Mcp::start(self, dir, token)
    }

    /// Starts `maestro lsp ARGS` in `dir`.
    pub fn lsp(&self, dir: &Path, args: &[&str]) -> Lsp {
        self.lsp_with(dir, args, &[])
    }

    /// Starts `maestro lsp ARGS` in `dir` with extra environment variables.
    pub fn lsp_with(&self, dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Lsp {
        let mut child = self
            .command()
            .envs(vars.iter().copied())
            .current_dir(dir)
            .arg("lsp")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting maestro lsp");
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Lsp {
            rpc: Rpc::new(stdout, Box::new(stdin)),
            child,
            stderr: log,
        }
    }
}

/// `maestro mcp` as an agent's CLI starts it: MCP over its stdio, the token and the socket in its
/// environment.
pub struct Mcp {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
    next: u64,
}

impl Mcp {
    fn start(env: &TestEnv, dir: &Path, token: Option<&str>) -> Mcp {
        let mut c = env.command();
        c.current_dir(dir)
            .arg("mcp")
            .env("MAESTRO_SOCKET", env.socket())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        if let Some(t) = token {
            c.env("MAESTRO_AGENT_TOKEN", t);
        }
        let mut child = c.spawn().expect("starting maestro mcp");
        let input = child.stdin.take().unwrap();
        let output = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut mcp = Mcp {
            child,
            input,
            output,
            next: 1,
        };
        mcp.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}),
        );
        mcp.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        mcp
    }

    pub fn send(&mut self, v: &Value) {
        use std::io::Write;
        writeln!(self.input, "{v}").unwrap();
        self.input.flush().unwrap();
    }

    pub fn request(&mut self, method: &str, params: Value) -> Value {
        use std::io::BufRead;
        let id = self.next;
        self.next += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            assert!(
                self.output.read_line(&mut line).unwrap() > 0,
                "maestro mcp exited"
            );
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    /// A tool's answer: whether it is an error, and its text.
    pub fn call(&mut self, tool: &str, args: Value) -> (bool, String) {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let result = &r["result"];
        (
            result["isError"] == json!(true),
            result["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }

    pub fn ok(&mut self, tool: &str, args: Value) -> Value {
        let (error, text) = self.call(tool, args.clone());
        assert!(!error, "{tool} {args}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{tool}: {e}: {text}"))
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some(pid) = self.daemon_pid() {
            kill(pid, rustix::process::Signal::KILL);
        }
    }
}

/// The token maestro gave agent `name`'s CLI for its tools, from the fake agent's record of its
/// arguments (`$FAKE_AGENT_LOG`).
pub fn agent_token(log: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let args: Vec<String> = serde_json::from_value(v["args"].clone()).unwrap_or_default();
        if let Some(at) = args.iter().position(|a| a == "--mcp-config") {
            let config: Value = serde_json::from_str(&args[at + 1]).unwrap();
            let token = config["mcpServers"]["maestro"]["env"]["MAESTRO_AGENT_TOKEN"]
                .as_str()
                .unwrap();
            if token.ends_with(&format!("/{name}")) {
                return token.to_owned();
            }
        }
    }
    panic!("no token of {name} in {text}")
}

/// Runs `git ARGS` in `dir` as a fixed test author; panics with git's stderr when it fails.
/// Returns its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .expect("running git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn alive(pid: u32) -> bool {
    // A zombie still answers kill(0); its state in /proc says it is gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

pub fn kill(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Waits until `cond` holds, or fails the test with `what`.
pub fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Frames `body` with a correct `Content-Length`.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// A JSON-RPC peer over any byte stream. A reader thread parses frames strictly: anything on the
/// stream that is not a well-formed frame fails the test.
pub struct Rpc {
    write: Box<dyn Write + Send>,
    incoming: Receiver<Result<Value, String>>,
    stash: VecDeque<Value>,
    next_id: i64,
}

impl Rpc {
    pub fn new(read: impl Read + Send + 'static, write: Box<dyn Write + Send>) -> Rpc {
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut read = BufReader::new(read);
            loop {
                match read_frame(&mut read) {
                    Ok(Some(v)) => {
                        if tx.send(Ok(v)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        Rpc {
            write,
            incoming,
            stash: VecDeque::new(),
            next_id: 1000,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.write.write_all(bytes).expect("writing to maestro");
        self.write.flush().unwrap();
    }

    pub fn send(&mut self, message: &Value) {
        self.send_raw(&frame(&serde_json::to_vec(message).unwrap()));
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its id without waiting.
    pub fn send_request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Sends a request and waits for its response (the whole response object).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        self.response(id)
    }

    /// Waits for the response with this id, keeping other messages for later.
    pub fn response(&mut self, id: i64) -> Value {
        self.wait_for(&format!("the response to request {id}"), |m| {
            m["id"] == id && m.get("method").is_none()
        })
    }

    /// The next message, from those kept back first.
    pub fn next(&mut self, within: Duration) -> Option<Value> {
        if let Some(m) = self.stash.pop_front() {
            return Some(m);
        }
        match self.incoming.recv_timeout(within) {
            Ok(Ok(m)) => Some(m),
            Ok(Err(e)) => panic!("malformed output from maestro: {e}"),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for a message matching `pred`; others are kept for later, in order.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.stash.iter().position(&pred) {
            return self.stash.remove(i).unwrap();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(Ok(m)) if pred(&m) => return m,
                Ok(Ok(m)) => self.stash.push_back(m),
                Ok(Err(e)) => panic!("malformed output from maestro while waiting for {what}: {e}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; got meanwhile: {:?}",
                    self.stash
                ),
            }
        }
    }

    /// As [`Rpc::wait_for`], answering the server's `window/workDoneProgress/create` requests
    /// meanwhile, as editors do.
    pub fn wait_accepting_progress(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let create = |m: &Value| m["method"] == "window/workDoneProgress/create";
        loop {
            let m = self.wait_for(what, |m| create(m) || pred(m));
            if pred(&m) {
                return m;
            }
            self.send(&json!({"jsonrpc": "2.0", "id": m["id"], "result": null}));
        }
    }

    /// Removes and returns the messages kept back so far that match `pred`.
    pub fn take_kept(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let (taken, kept): (Vec<Value>, Vec<Value>) = std::mem::take(&mut self.stash)
            .into_iter()
            .partition(|m| pred(m));
        self.stash = kept.into();
        taken
    }

    /// Whether the peer closed the stream.
    pub fn closed(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(Ok(m)) => self.stash.push_back(m),
                Ok(Err(e)) => panic!("malformed output from maestro: {e}"),
                Err(RecvTimeoutError::Disconnected) => return true,
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }
}

/// Reads one frame strictly: `Content-Length` (and optionally `Content-Type`) headers, a blank line,
/// a JSON body.
fn read_frame(read: &mut impl BufRead) -> Result<Option<Value>, String> {
    let mut length = None;
    let mut first = true;
    loop {
        let mut line = String::new();
        let n = read.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return if first {
                Ok(None)
            } else {
                Err("end of stream inside a header".into())
            };
        }
        first = false;
        let line = line
            .strip_suffix("\r\n")
            .ok_or_else(|| format!("header line without CRLF: {line:?}"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("not a header: {line:?}"))?;
        match name {
            "Content-Length" => length = Some(value.parse::<usize>().map_err(|e| e.to_string())?),
            "Content-Type" => {}
            other => return Err(format!("unexpected header {other:?}")),
        }
    }
    let length = length.ok_or("frame without Content-Length")?;
    let mut body = vec![0; length];
    read.read_exact(&mut body).map_err(|e| e.to_string())?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| format!("body is not JSON: {e}"))?;
    if value["jsonrpc"] != "2.0" {
        return Err(format!("not JSON-RPC 2.0: {value}"));
    }
    Ok(Some(value))
}

/// A `maestro lsp` process and its stdio.
pub struct Lsp {
    pub rpc: Rpc,
    pub child: Child,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Lsp {
    /// `initialize` with `root` as the workspace folder; `utf8` offers UTF-8 positions. Returns the
    /// result and sends `initialized`.
    pub fn initialize(&mut self, root: &Path, utf8: bool, progress: bool) -> Value {
        let encodings = if utf8 {
            json!(["utf-8", "utf-16"])
        } else {
            json!(["utf-16"])
        };
        let uri = file_uri(root);
        let r = self.rpc.request(
            "initialize",
            json!({
                "processId": std::process::id(),
                "clientInfo": {"name": "e2e-editor", "version": "1"},
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": "root"}],
                "capabilities": {
                    "general": {"positionEncodings": encodings},
                    "window": {"workDoneProgress": progress}
                }
            }),
        );
        let result = r
            .get("result")
            .unwrap_or_else(|| panic!("initialize failed: {r}\n{}", self.stderr()))
            .clone();
        self.rpc.notify("initialized", json!({}));
        result
    }

    /// `shutdown` then `exit`; returns the exit code.
    pub fn shutdown_and_exit(mut self) -> i32 {
        let r = self.rpc.request("shutdown", Value::Null);
        assert_eq!(r["result"], Value::Null, "shutdown: {r}");
        self.rpc.notify("exit", Value::Null);
        self.wait_exit()
    }

    pub fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "maestro lsp did not exit; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn stdin(&mut self) -> Option<&mut ChildStdin> {
        self.child.stdin.as_mut()
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `file://` URI of an absolute path (percent-encoding the few characters test paths can hold).
pub fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for c in path.to_str().expect("UTF-8 test path").chars() {
        match c {
            ' ' => uri.push_str("%20"),
            '#' => uri.push_str("%23"),
            '%' => uri.push_str("%25"),
            c => uri.push(c),
        }
    }
    uri
}

/// A deterministic generator (xorshift), so a failing test or a benchmark run replays.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// What the benchmark programs share: timing, percentiles, memory.
pub mod bench {
    use std::time::{Duration, Instant};

    pub fn time(f: impl FnOnce()) -> Duration {
        let started = Instant::now();
        f();
        started.elapsed()
    }

    /// The `q` quantile (0..=1) of sorted samples, nearest rank.
    pub fn quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }

    /// Prints the header of [`row`]'s table.
    pub fn header(width: usize) {
        println!(
            "{:<width$} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "figure", "min", "p50", "p90", "p99", "max"
        );
    }

    /// One line of figures: min, p50, p90, p99, max in milliseconds.
    pub fn row(name: &str, width: usize, samples: &[Duration]) {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "{name:<width$} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms",
            ms[0],
            quantile(&ms, 0.5),
            quantile(&ms, 0.9),
            quantile(&ms, 0.99),
            ms[ms.len() - 1]
        );
    }

    /// Resident memory of a process, in KiB.
    pub fn rss_kib(pid: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// An installation whose `claude` is the fake agent at `fake` (a bench's
    /// `env!("CARGO_BIN_EXE_fake-agent")`), its daemon kept up 10 minutes; `extra` is appended to
    /// its config.
    pub fn fake_claude_env(fake: &str, extra: &str) -> super::TestEnv {
        let env = super::TestEnv::new();
        let bin = env.home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(fake, bin.join("claude")).unwrap();
        env.write_config(&format!(
            "[daemon]\nidle_timeout_secs = 600\n[agents.claude]\npath = \"{}\"\n{extra}",
            bin.join("claude").display()
        ));
        env
    }

    /// A git repository `name` holding a Python package of 40 modules of 50 functions, each
    /// calling the one before it (and the first of a module the previous module's first): the
    /// 0-based line `3 f + 1` of `mod{m}.py` (`+ 2` past `mod0.py`, for its import) holds the
    /// call in `f{m}_{f}`, for definition queries.
    pub fn python_package(env: &super::TestEnv, name: &str) -> std::path::PathBuf {
        let dir = env.git_repo(name);
        for m in 0..40 {
            let mut text = String::new();
            if m > 0 {
                text.push_str(&format!("from mod{} import *\n\n", m - 1));
            }
            for f in 0..50 {
                text.push_str(&format!("def f{m}_{f}(x):\n"));
                if f > 0 {
                    text.push_str(&format!("    return f{m}_{}(x) + 1\n\n", f - 1));
                } else if m > 0 {
                    text.push_str(&format!("    return f{}_0(x)\n\n", m - 1));
                } else {
                    text.push_str("    return x\n\n");
                }
            }
            std::fs::write(dir.join(format!("mod{m}.py")), text).unwrap();
        }
        super::git(&dir, &["add", "."]);
        super::git(&dir, &["commit", "-qm", "bench"]);
        dir
    }

    /// The Python standard library's directory (python3 must be installed).
    pub fn python_stdlib() -> std::path::PathBuf {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
            ])
            .output()
            .expect("python3 (for the stdlib corpus)");
        std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    }

    /// Bytes of the files under `dir`.
    pub fn dir_bytes(dir: &std::path::Path) -> u64 {
        let mut total = 0;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            total += if meta.is_dir() {
                dir_bytes(&entry.path())
            } else {
                meta.len()
            };
        }
        total
    }
}

/// Floods of the daemon socket, shared by the flood tests and the hardening benchmark.
pub mod flood {
    use super::{bench::rss_kib, frame};
    use serde_json::json;
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    pub const MIB: u64 = 1024;

    /// A framed `maestro/hello`.
    pub fn hello() -> Vec<u8> {
        frame(
            json!({"jsonrpc": "2.0", "id": 0, "method": "maestro/hello",
                   "params": {"protocolVersion": 1, "client": {"name": "flood", "kind": "other"}}})
            .to_string()
            .as_bytes(),
        )
    }

    /// A hello and `n` status requests, as one client would send them without reading.
    pub fn unread_requests(n: usize) -> Vec<u8> {
        let mut flood = hello();
        let status = frame(br#"{"jsonrpc":"2.0","id":1,"method":"maestro/status"}"#);
        for _ in 0..n {
            flood.extend_from_slice(&status);
        }
        flood
    }

    /// A hello and the first `sent` bytes of a `length`-byte frame.
    pub fn partial_frame(length: usize, sent: usize) -> Vec<u8> {
        let mut partial = hello();
        partial.extend(format!("Content-Length: {length}\r\n\r\n").into_bytes());
        partial.extend(std::iter::repeat_n(b' ', sent));
        partial
    }

    /// Writes `bytes` until done or until the daemon stops reading for `stall` (it applies back
    /// pressure); returns how many bytes went out.
    pub fn write_until_stalled(stream: &mut UnixStream, bytes: &[u8], stall: Duration) -> usize {
        stream.set_write_timeout(Some(stall)).unwrap();
        let mut sent = 0;
        while sent < bytes.len() {
            match stream.write(&bytes[sent..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
        sent
    }

    /// `n` clients that each write `bytes` to `socket` until the daemon stops reading, kept open.
    pub fn stalled_clients(socket: &std::path::Path, bytes: &[u8], n: usize) -> Vec<UnixStream> {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    s.spawn(|| {
                        let mut stream = UnixStream::connect(socket).unwrap();
                        write_until_stalled(&mut stream, bytes, Duration::from_secs(3));
                        stream
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    /// A query that runs for hours: every symbol with every other, twice.
    pub const RUNAWAY_QUERY: &str =
        "?[count(a)] := *symbol{name: a}, *symbol{name: b}, *symbol{name: c}";

    /// A repository of 640 Python functions: enough for [`RUNAWAY_QUERY`] to run away.
    pub fn runaway_repo(env: &super::TestEnv, name: &str) -> std::path::PathBuf {
        let dir = env.git_repo(name);
        for f in 0..8 {
            let text: String = (0..80)
                .map(|i| format!("def g{f}_{i}(x):\n    return x\n\n"))
                .collect();
            std::fs::write(dir.join(format!("m{f}.py")), text).unwrap();
        }
        dir
    }

    /// A process's RSS (KiB) once it has settled: two readings half a second apart within 2 MiB.
    pub fn settled_rss(pid: u32) -> u64 {
        let mut last = rss_kib(pid);
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(500));
            let now = rss_kib(pid);
            if now.abs_diff(last) < 2 * MIB {
                return now;
            }
            last = now;
        }
        last
    }
}

/// An agent archive of raw tar entries (name bytes, type, data) in an LZ4 frame, as a hostile
/// tool would write one (a symbolic link points at `/etc/passwd`).
pub fn raw_archive(entries: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut out = lz4_flex::frame::FrameEncoder::new(Vec::new());
    {
        let mut tar = tar::Builder::new(&mut out);
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.as_gnu_mut().expect("a GNU header").name[..name.len()].copy_from_slice(name);
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("/etc/passwd").expect("a short link name");
            }
            h.set_cksum();
            tar.append(&h, *data).expect("writing to memory");
        }
        tar.finish().expect("writing to memory");
    }
    out.finish().expect("writing to memory")
}
