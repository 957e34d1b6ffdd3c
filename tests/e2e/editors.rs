//! The editor clients of `editors/` against the real server: a headless Neovim running the plugin,
//! the Helix configuration checked against the server's commands, and the packaged VS Code
//! extension in code-server opened by headless Chromium. `scripts/test` installs Neovim,
//! Chromium, code-server and the extension's npm packages, and builds the extension first.

use crate::agents::{agents_env, repo};
use maestro_tests::{TestEnv, git, maestro_bin, wait_until};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn editors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors")
}

/// A repository with a Rust call across lines (`helper()` on line 6 is defined on line 1).
fn fixture(env: &TestEnv, name: &str) -> PathBuf {
    let dir = env.git_repo(name);
    std::fs::write(
        dir.join("src/main.rs"),
        "fn helper() -> u32 {\n    41\n}\n\nfn main() {\n    helper();\n}\n",
    )
    .unwrap();
    git(&dir, &["checkout", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "init"]);
    dir
}

/// PATH with the maestro binary's directory first.
fn path_with_maestro() -> String {
    let bin = maestro_bin().parent().unwrap().display().to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Runs a program to its end within `limit`, killing it after; returns (exit code, stderr).
fn run_bounded(mut command: Command, limit: Duration) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            return (status.code(), err);
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            return (None, format!("killed after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the plugin's e2e script in a headless Neovim on `dir`; returns what it recorded.
fn neovim(env: &TestEnv, dir: &Path, case: &str) -> Value {
    let nvim = which("nvim").expect("nvim is not installed: scripts/test installs it (apt neovim)");
    let out = env.home.path().join(format!("nvim-{case}.json"));
    let mut c = Command::new(nvim);
    c.args(["--headless", "--clean", "--cmd"])
        .arg(format!(
            "set rtp^={}",
            editors_dir().join("neovim").display()
        ))
        .arg("-c")
        .arg(format!(
            "luafile {}",
            editors_dir().join("neovim/tests/e2e.lua").display()
        ))
        .env("MAESTRO_NVIM_OUT", &out)
        .env("MAESTRO_NVIM_CASE", case)
        .env("MAESTRO_NVIM_REPO", dir)
        .env("PATH", path_with_maestro())
        .env("XDG_STATE_HOME", env.home.path().join("nvim-state"))
        .env("XDG_DATA_HOME", env.home.path().join("nvim-data"))
        .current_dir(dir);
    env.apply(&mut c);
    let (code, stderr) = run_bounded(c, Duration::from_secs(120));
    let recorded = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("nvim ({case}) wrote nothing ({e}); exit {code:?}: {stderr}"));
    let v: Value = serde_json::from_str(&recorded).unwrap();
    assert!(v.get("error").is_none(), "the nvim script failed: {v:#}");
    v
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[test]
fn neovim_plugin_navigates_lists_agents_and_hears_their_status() {
    let env = agents_env("[agents]\nneeds_input_secs = 1\n");
    let dir = fixture(&env, "nv");
    std::fs::write(dir.join("README.md"), "# nv\n\nA fixture.\n").unwrap();
    // An agent the plugin should list.
    env.ok(&dir, &["agent", "spawn", "fixer", "say on it", "--wait"]);

    let v = neovim(&env, &dir, "main");
    assert_eq!(v["started"], true, "{v:#}");
    assert_eq!(
        v["server_version"],
        env!("CARGO_PKG_VERSION"),
        "the server's version: {v:#}"
    );
    // Go-to-definition landed on `fn helper` (1-based line 1) in the same file.
    assert_eq!(v["definition"], json!([1, 3]), "{v:#}");
    assert_eq!(v["definition_file"], "main.rs");
    // A Markdown buffer: its outline is empty, not an error.
    assert_eq!(v["markdown_answers"], 1, "{v:#}");
    assert!(v.get("markdown_error").is_none(), "{v:#}");
    assert_eq!(v["markdown_symbols"], 0, "{v:#}");
    let agents = v["agents"].to_string();
    assert!(agents.contains("fixer") && agents.contains("idle"), "{v:#}");
    assert!(
        v["remote_agent_line"]
            .as_str()
            .is_some_and(|l| l.starts_with("far ") && l.ends_with("maestro/far  on build")),
        "{v:#}"
    );
    // Snapshot, the list of snapshots, a fork: from the plugin's commands.
    assert_eq!(v["snapshot"], true, "{v:#}");
    assert!(
        v["snapshots"].to_string().contains("before the refactor"),
        "{v:#}"
    );
    assert_eq!(v["forked"], true, "{v:#}");
    assert_eq!(
        env.json(&dir, &["agent", "status", "fixer-b", "--json"])["state"],
        "idle"
    );
    // The agent spawned from Neovim asked a question: the status notification reached the handler.
    assert_eq!(v["attention"], true, "{v:#}");
    assert_eq!(v["asker_state"], "needs_input", "{v:#}");
    assert_eq!(v["statusline"], "maestro: 1 needs input", "{v:#}");
    // A crash was told once and the server came back for the next buffer.
    assert!(v["lsp_pid"].is_u64(), "no maestro lsp child found: {v:#}");
    assert_eq!(v["crash_told"], true, "{v:#}");
    assert_eq!(v["crash_notes"], 1, "{v:#}");
    assert_eq!(v["restarted"], true, "{v:#}");
}

/// Waits for `agent`'s second turn (the review) to end, and finds each of `parts` in its log.
fn review_turn_has(env: &TestEnv, dir: &Path, agent: &str, parts: &[&str]) {
    wait_until("the review turn ends", Duration::from_secs(30), || {
        let s = env.json(dir, &["agent", "status", agent, "--json"]);
        s["turns"] == 2 && s["state"] == "idle"
    });
    let logs = env.ok(dir, &["agent", "logs", agent]);
    for part in parts {
        assert!(
            logs.contains(part),
            "{part} missing from the review turn:\n{logs}"
        );
    }
}

#[test]
fn neovim_shows_an_agents_diff_and_sends_review_comments_from_the_quickfix_list() {
    let env = agents_env("");
    let dir = fixture(&env, "nvr");
    env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            "reviewed",
            "write notes.txt hello; commit add notes",
            "--wait",
        ],
    );
    let v = neovim(&env, &dir, "review");
    assert_eq!(v["diff_filetype"], "diff", "{v:#}");
    assert_eq!(v["hunks"], 1, "{v:#}");
    assert_eq!(v["jumped_to"], "notes.txt", "{v:#}");
    assert_eq!(v["sent"], true, "{v:#}");
    // The agent's next turn is the review: the comment, its file and line, and the hunk.
    review_turn_has(
        &env,
        &dir,
        "reviewed",
        &["say who wrote this", "notes.txt, line 1", "+hello"],
    );
}

#[test]
fn neovim_shows_a_group_chat_in_a_buffer_as_it_goes() {
    let files = tempfile::tempdir().unwrap();
    let rules = files.path().join("rules.json");
    std::fs::write(
        &rules,
        json!({
            "chat-lead": [
                {"if": "[@chat-alice]", "then": "say Synthesis: sqlite"},
                {"then": "say @chat-alice @chat-bob which store?"},
            ],
            "chat-alice": [{"then": "say alice: sqlite"}],
            "chat-bob": [{"then": "say bob: sqlite too"}],
        })
        .to_string(),
    )
    .unwrap();
    let mut env = agents_env("");
    env.vars
        .push(("FAKE_AGENT_RULES".into(), rules.display().to_string()));
    let dir = fixture(&env, "nvchat");
    let v = neovim(&env, &dir, "chat");
    assert_eq!(v["synthesis"], true, "{v:#}");
    let lines: Vec<&str> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(lines[0].starts_with("# which store (chat_"), "{v:#}");
    assert!(lines.contains(&"you: which store should we use?"), "{v:#}");
    assert!(
        lines.contains(&"@chat-lead: @chat-alice @chat-bob which store?"),
        "{v:#}"
    );
    assert!(lines.contains(&"@chat-alice: alice: sqlite"), "{v:#}");
    assert!(lines.contains(&"@chat-bob: bob: sqlite too"), "{v:#}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("@chat-lead (synthesis): ")),
        "{v:#}"
    );
    assert_eq!(v["closed"], true, "{v:#}");
}

#[test]
fn neovim_hears_an_agents_message_reads_and_answers_it_and_writes_to_the_agent() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("args.jsonl");
    let mut env = agents_env("");
    env.vars
        .push(("FAKE_AGENT_LOG".into(), log.display().to_string()));
    let dir = fixture(&env, "nvm");
    env.ok(&dir, &["agent", "spawn", "asker", "say ready", "--wait"]);
    let token = crate::messages::token_of(&log, "asker");
    let ready = env.home.path().join("nvim-ready");
    env.vars
        .push(("MAESTRO_NVIM_READY".into(), ready.display().to_string()));
    let v = std::thread::scope(|s| {
        // Once Neovim has its server, the agent asks the person through its tools.
        s.spawn(|| {
            wait_until("neovim ready", Duration::from_secs(60), || ready.exists());
            env.mcp(&dir, Some(&token)).ok(
                "send_message",
                json!({"to": "person", "type": "request", "text": "Which branch, person?"}),
            );
        });
        neovim(&env, &dir, "messages")
    });
    assert_eq!(v["told"], true, "{v:#}");
    assert_eq!(v["unread"], 1, "{v:#}");
    let inbox = v["inbox"].as_array().unwrap();
    assert!(inbox[0].as_str().unwrap().starts_with("1 unread"), "{v:#}");
    assert!(inbox[1].as_str().unwrap().contains("asker"), "{v:#}");
    let message: Vec<&str> = v["message"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(message[0].starts_with("## asker → you · request"), "{v:#}");
    assert!(message.contains(&"Which branch, person?"), "{v:#}");
    assert_eq!(v["replied"], true, "{v:#}");
    assert_eq!(v["sent"], true, "{v:#}");
    assert_eq!(v["unread_after"], 0, "read: no longer unread: {v:#}");
    // The reply is in the thread, after the question, which the person read.
    let id = v["id"].as_str().unwrap();
    let thread = env.json(&dir, &["msg", "thread", id, "--json"]);
    let texts: Vec<&str> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Which branch, person?", "main, please"], "{thread}");
    assert!(thread["messages"][0]["readAt"].is_number(), "{thread}");
    // The message to the agent woke it with the message in its prompt.
    wait_until("asker woken", Duration::from_secs(20), || {
        crate::messages::prompts(&log)
            .last()
            .is_some_and(|p| p.contains("are you done?"))
    });
}

#[test]
fn neovim_plugin_says_once_when_the_server_is_missing_or_speaks_another_protocol() {
    let env = TestEnv::new();
    let dir = fixture(&env, "nvbad");
    let missing = neovim(&env, &dir, "missing");
    assert_eq!(
        missing["missing"], 1,
        "told once for two buffers: {missing:#}"
    );
    assert_eq!(missing["client"], false);
    let text = missing["notes"][0]["msg"].as_str().unwrap();
    assert!(
        text.contains("./install.sh") && text.contains("cmd"),
        "{text}"
    );

    let version = neovim(&env, &dir, "version");
    assert_eq!(version["version"], 1, "told once: {version:#}");
    assert_eq!(version["client"], false, "the mismatched client stopped");
}

/// The `maestro.*` commands `maestro lsp` advertises.
fn server_commands(env: &TestEnv, dir: &Path) -> Vec<String> {
    let mut lsp = env.lsp(dir, &[]);
    let init = lsp.initialize(dir, false, false);
    let commands = init["capabilities"]["executeCommandProvider"]["commands"]
        .as_array()
        .expect("executeCommandProvider.commands")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    lsp.shutdown_and_exit();
    commands
}

/// Every `maestro.x` word of a text.
fn named_commands(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in text.match_indices("maestro.") {
        let word: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            .collect();
        let word = word.trim_end_matches('.').to_owned();
        if word.split('.').count() > 1 && !found.contains(&word) {
            found.push(word);
        }
    }
    found
}

#[test]
fn helix_configuration_names_only_commands_the_server_has() {
    let env = TestEnv::new();
    let dir = repo(&env, "hx");
    let commands = server_commands(&env, &dir);
    let helix = editors_dir().join("helix");
    let languages = std::fs::read_to_string(helix.join("languages.toml")).unwrap();
    let config = std::fs::read_to_string(helix.join("config.toml")).unwrap();
    let readme = std::fs::read_to_string(helix.join("README.md")).unwrap();

    // languages.toml: maestro is a server running `maestro lsp`, added to every language.
    let parsed = parse_toml(&languages);
    assert_eq!(parsed["language-server"]["maestro"]["command"], "maestro");
    assert_eq!(parsed["language-server"]["maestro"]["args"], json!(["lsp"]));
    let languages: Vec<&str> = parsed["language"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let servers = l["language-servers"].as_array().unwrap();
            assert_eq!(
                servers.last().unwrap(),
                "maestro",
                "maestro comes last: {l}"
            );
            l["name"].as_str().unwrap()
        })
        .collect();
    for name in [
        "rust",
        "python",
        "typescript",
        "tsx",
        "javascript",
        "jsx",
        "go",
        "java",
        "c",
        "cpp",
        "ruby",
        "c-sharp",
        "markdown",
    ] {
        assert!(
            languages.contains(&name),
            "{name} missing from {languages:?}"
        );
    }

    // config.toml: every key runs `:lsp-workspace-command` on a command the server has.
    let keys = parse_toml(&config);
    let bound = keys["keys"]["normal"]["space"]["m"].as_object().unwrap();
    assert!(bound.len() >= 8, "{bound:?}");
    for (key, action) in bound {
        let action = action.as_str().unwrap();
        let name = action
            .strip_prefix(":lsp-workspace-command ")
            .unwrap_or_else(|| panic!("{key}: {action}"));
        assert!(
            commands.iter().any(|c| c == name),
            "{key}: {name} is not a server command"
        );
    }
    for name in named_commands(&readme) {
        assert!(
            commands.contains(&name),
            "editors/helix/README.md names {name}, which the server does not have"
        );
    }
}

fn parse_toml(src: &str) -> Value {
    let table: toml::Table = toml::from_str(src).unwrap_or_else(|e| panic!("not TOML: {e}"));
    serde_json::to_value(table).unwrap()
}

/// code-server 4.100.3 (VS Code 1.100.3), as scripts/test installs it.
fn code_server() -> PathBuf {
    let bin = std::env::var_os("MAESTRO_CODE_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
            cache.join("maestro/test-tools/code-server-4.100.3/node_modules/.bin/code-server")
        });
    assert!(
        bin.exists(),
        "code-server is not at {}: scripts/test installs it",
        bin.display()
    );
    bin
}

/// A process group killed when dropped (code-server's extension hosts outlive its page).
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        // SAFETY-free: rustix sends the signal to the whole group.
        if let Some(group) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn read_report(file: &Path) -> Value {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

/// What one code-server session saw: the extension's report, whether the page said done, and
/// the driver's stderr.
struct VsCodeRun {
    report: Value,
    done: bool,
    driver_err: String,
}

/// Installs the packaged extension into a fresh code-server, opens `dir` in headless Chromium and
/// waits for the extension's report to say done (its screenshot goes to
/// `target/<profile>/editor-artifacts/NAME.png`). `maestro_path` is the `maestro.path` setting;
/// `on_started` runs once the extension reports that the server started.
fn vscode_session(
    env: &TestEnv,
    dir: &Path,
    name: &str,
    maestro_path: &Path,
    expect_agents: &str,
    review: &str,
    on_started: impl FnOnce(),
) -> VsCodeRun {
    use std::os::unix::process::CommandExt;
    let vscode = editors_dir().join("vscode");
    let vsix = vscode.join("dist/maestro.vsix");
    assert!(
        vsix.exists() && vscode.join("node_modules/playwright-core").exists(),
        "{} is not built: scripts/test builds it (npm ci && npm run package in editors/vscode)",
        vsix.display()
    );
    let code_server = code_server();
    let home = env.home.path().join(format!("vscode-{name}"));
    let user = home.join("user");
    let extensions = home.join("extensions");
    std::fs::create_dir_all(user.join("User")).unwrap();
    // maestro.path: the extension host resolves PATH from a login shell, where an installed
    // maestro may come before this build's.
    let settings = json!({
        "workbench.startupEditor": "none",
        "security.workspace.trust.enabled": false,
        "telemetry.telemetryLevel": "off",
        "extensions.autoUpdate": false,
        "workbench.tips.enabled": false,
        "maestro.path": maestro_path,
    });
    std::fs::write(user.join("User/settings.json"), settings.to_string()).unwrap();
    let tmp = home.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let report = home.join("report.json");
    let with_env = |c: &mut Command| {
        env.apply(c)
            .env("PATH", path_with_maestro())
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("TMPDIR", &tmp);
    };

    let mut install = Command::new(&code_server);
    install
        .arg("--install-extension")
        .arg(&vsix)
        .arg("--extensions-dir")
        .arg(&extensions)
        .arg("--user-data-dir")
        .arg(&user);
    with_env(&mut install);
    let (code, stderr) = run_bounded(install, Duration::from_secs(120));
    assert_eq!(code, Some(0), "installing the vsix: {stderr}");

    let port = free_port();
    let log_file = home.join("code-server.log");
    let log = std::fs::File::create(&log_file).unwrap();
    let mut serve = Command::new(&code_server);
    serve
        .arg("--bind-addr")
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "--auth",
            "none",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
        ])
        .arg("--extensions-dir")
        .arg(&extensions)
        .arg("--user-data-dir")
        .arg(&user)
        .arg(dir)
        .env("MAESTRO_VSCODE_REPORT", &report)
        .env("MAESTRO_VSCODE_PROBE", "src/main.rs:6:5")
        .env("MAESTRO_VSCODE_EXPECT_AGENTS", expect_agents)
        .env("MAESTRO_VSCODE_REVIEW", review)
        .env("MAESTRO_VSCODE_ANSWERS", "Merge,Approve,Read")
        .env(
            "MAESTRO_VSCODE_EXPECT_MESSAGE",
            if review.is_empty() { "" } else { "1" },
        )
        .env(
            "MAESTRO_VSCODE_PLAYBOOK",
            if review.is_empty() { "" } else { "plan.md" },
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0);
    with_env(&mut serve);
    let server = Group(serve.spawn().expect("starting code-server"));
    let code_server_log = || std::fs::read_to_string(&log_file).unwrap_or_default();
    let up = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "code-server did not listen: {}",
            code_server_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let artifacts = maestro_bin().parent().unwrap().join("editor-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&screenshot);
    let mut drive = Command::new("node");
    drive
        .arg(vscode.join("e2e/drive.cjs"))
        .arg(format!("http://127.0.0.1:{port}/?folder={}", dir.display()))
        .arg(&report)
        .arg(&screenshot)
        .arg(home.join("chromium-profile"))
        .arg("90")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    with_env(&mut drive);
    let mut driver = drive.spawn().expect("starting node");

    let started = Instant::now();
    while read_report(&report)["started"].is_null() && started.elapsed() < Duration::from_secs(90) {
        if driver.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if read_report(&report)["started"] == true {
        on_started();
    }
    let status = driver.wait().unwrap();
    let mut driver_err = String::new();
    use std::io::Read;
    driver
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut driver_err)
        .ok();
    drop(server);
    let report = read_report(&report);
    assert!(
        report.get("started").is_some(),
        "the extension never reported: {driver_err}\ncode-server log:\n{}",
        code_server_log()
    );
    assert!(
        screenshot.exists(),
        "no screenshot at {}",
        screenshot.display()
    );
    VsCodeRun {
        report,
        done: status.success(),
        driver_err,
    }
}

#[test]
fn vscode_extension_in_code_server_starts_the_server_navigates_and_shows_agents() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("args.jsonl");
    let mut env = agents_env("[agents]\nneeds_input_secs = 1\n");
    env.vars
        .push(("FAKE_AGENT_LOG".into(), log.display().to_string()));
    // A group chat made in the extension: its moderator and participants answer by rules.
    let rules = logs.path().join("rules.json");
    std::fs::write(
        &rules,
        json!({
            "chat-lead": [
                {"if": "[@chat-alice]", "then": "say Synthesis: sqlite, both say"},
                {"then": "say @chat-alice @chat-bob which store?"},
            ],
            "chat-alice": [{"then": "sleep 300; say alice: sqlite"}],
            "chat-bob": [{"then": "sleep 300; say bob: sqlite too"}],
        })
        .to_string(),
    )
    .unwrap();
    env.vars
        .push(("FAKE_AGENT_RULES".into(), rules.display().to_string()));
    env.vars.push((
        "MAESTRO_VSCODE_CHAT".into(),
        "chat-lead:claude;chat-alice:codex,chat-bob:gemini".into(),
    ));
    let dir = fixture(&env, "vsc");
    std::fs::write(dir.join("README.md"), "# vsc\n\nA fixture.\n").unwrap();
    env.ok(&dir, &["agent", "spawn", "fixer", "say on it", "--wait"]);
    // An agent waiting for an answer: the view's badge and the status bar count it.
    env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            "asker",
            "--agent",
            "aider",
            "ask Proceed? [y/n]",
        ],
    );
    wait_until("asker needs input", Duration::from_secs(30), || {
        env.ok(&dir, &["agent", "status", "asker", "--json"])
            .contains("needs_input")
    });
    // Once the extension has the server, an agent spawned from a terminal must reach its tree
    // through `maestro/agentStatus`.
    // An agent with a 50-file change, to review in the diff editor.
    let fifty: Vec<String> = (1..=50)
        .map(|i| format!("write f{i}.txt line {i}"))
        .collect();
    env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            "changer",
            &format!("{}; commit fifty files", fifty.join("; ")),
            "--wait",
        ],
    );
    let review = "changer:f1.txt";
    std::fs::write(
        dir.join("plan.md"),
        "- [ ] write a.txt a; tick; commit a\n- [ ] REVIEW: look at a.txt\n- [ ] write b.txt b; tick; commit b\n",
    )
    .unwrap();
    let run = vscode_session(
        &env,
        &dir,
        "vscode",
        maestro_bin(),
        "fixer,second",
        review,
        || {
            env.ok(&dir, &["agent", "spawn", "second", "say hello"]);
            // An agent asks the person: told with Read, opened, marked read.
            let token = crate::messages::token_of(&log, "fixer");
            env.mcp(&dir, Some(&token)).ok(
                "send_message",
                json!({"to": "person", "type": "request", "text": "fixer wonders: which branch?"}),
            );
        },
    );
    let seen = &run.report;
    assert_eq!(
        seen["messages"],
        json!([{"from": seen["messages"][0]["from"], "text": "fixer wonders: which branch?"}]),
        "{seen:#}"
    );
    assert!(
        seen["messages"][0]["from"]
            .as_str()
            .is_some_and(|f| f.ends_with("/fixer")),
        "{seen:#}"
    );
    let read = seen["messageRead"]
        .as_str()
        .unwrap_or_else(|| panic!("{seen:#}"));
    let thread = env.json(&dir, &["msg", "thread", read, "--json"]);
    assert!(
        thread["messages"][0]["readAt"].is_number(),
        "read in VS Code: {thread}"
    );
    assert!(
        run.done,
        "the page never reported done: {}\n{seen:#}",
        run.driver_err
    );
    assert_eq!(seen["started"], true, "{seen:#}");
    assert_eq!(seen["serverVersion"], env!("CARGO_PKG_VERSION"), "{seen:#}");
    // Every command the server has is in the palette.
    assert_eq!(seen["missingFromPalette"], json!([]), "{seen:#}");
    // The chat's panel: the exchange drawn as it came, both participants seen thinking at once.
    let chat = &seen["chat"];
    let kinds: Vec<&str> = chat["kinds"]
        .as_array()
        .unwrap_or_else(|| panic!("{seen:#}"))
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(kinds[..2], ["person:say", "chat-lead:route"], "{chat}");
    assert!(
        kinds.contains(&"chat-alice:answer") && kinds.contains(&"chat-bob:answer"),
        "{chat}"
    );
    assert_eq!(kinds.last(), Some(&"chat-lead:synthesis"), "{chat}");
    assert!(
        chat["synthesis"]
            .as_str()
            .is_some_and(|t| t.ends_with("Synthesis: sqlite, both say")),
        "{chat}"
    );
    assert_eq!(
        chat["seenThinking"],
        json!(["chat-alice", "chat-bob", "chat-lead"]),
        "{chat}"
    );
    assert_eq!(chat["title"], "chat: which store", "{chat}");
    let commands = seen["serverCommands"].as_array().unwrap();
    assert!(commands.len() >= 25, "{seen:#}");
    // Go-to-definition through VS Code's own provider API, from `helper()` to `fn helper`.
    assert_eq!(
        seen["definition"],
        json!({"file": "src/main.rs", "line": 1}),
        "{seen:#}"
    );
    let agents: Vec<&str> = seen["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        // The playbook run's own agent (`claude-r<run>`) comes and goes with the run; the
        // chat's are started for it.
        .filter(|n| !n.starts_with("claude-r") && !n.starts_with("chat-"))
        .collect();
    assert_eq!(agents, ["asker", "changer", "fixer", "second"], "{seen:#}");
    assert!(
        seen["statusBar"].as_str().unwrap().starts_with("$(hubot)"),
        "{seen:#}"
    );
    assert!(
        seen["statusBar"]
            .as_str()
            .unwrap()
            .contains("$(bell-dot) 1"),
        "{seen:#}"
    );
    assert_eq!(
        seen["badge"], 1,
        "the view's badge counts the waiting agent: {seen:#}"
    );
    // A Markdown file opened: no request failed (the graph does not index it; it answers empty).
    assert_eq!(seen["markdownOpened"], true, "{seen:#}");
    assert_eq!(seen["failedRequests"], json!([]), "{seen:#}");
    // The attach terminal showed fixer's transcript.
    assert!(
        seen["attached"].as_str().unwrap().contains("on it"),
        "{seen:#}"
    );
    assert_eq!(seen["told"], json!([]), "no error was shown: {seen:#}");
    // fixer's transcript panel: its turn, its words, how it ended.
    let turn = seen["transcript"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["n"] == 1))
        .unwrap_or_else(|| panic!("no turn 1 in the transcript: {seen:#}"));
    assert_eq!(turn["end"], "done", "{seen:#}");
    assert!(
        turn["items"].as_array().unwrap().contains(&json!("text")),
        "{seen:#}"
    );
    // The 50-file change opened in the multi-file diff editor, and a comment on it went to the
    // agent as its next turn, with the hunk.
    assert!(
        seen["diffTab"]
            .as_str()
            .is_some_and(|t| t.contains("agent changer") && t.contains("50 files")),
        "{seen:#}"
    );
    println!(
        "diff editor shown {} ms after the command (50 files): {}; the second time {} ms; activation {} ms",
        seen["diffShownMs"], seen["diffOpen"], seen["diffShownAgainMs"], seen["activationMs"]
    );
    assert_eq!(seen["reviewSent"], true, "{seen:#}");
    review_turn_has(
        &env,
        &dir,
        "changer",
        &["say who wrote this file", "f1.txt, line 1", "+line 1"],
    );
    // Merge asked first, then merged; the view says so.
    let questions = seen["questions"].as_array().cloned().unwrap_or_default();
    assert!(
        questions.iter().any(|q| q["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Merge agent changer into"))
            && q["answer"] == "Merge"),
        "{seen:#}"
    );
    assert_eq!(seen["merged"], json!(["changer"]), "{seen:#}");
    assert!(
        git(&dir, &["show", "main:f50.txt"]).contains("line 50"),
        "the merge reached main: {seen:#}"
    );
    // The playbook's review gate asked with Approve, and approving let the run go on.
    assert!(
        questions.iter().any(|q| q["message"]
            .as_str()
            .is_some_and(|m| m.contains("waits for your review") && m.contains("plan.md:2"))
            && q["answer"] == "Approve"),
        "{seen:#}"
    );
    assert_eq!(seen["approvedRun"], "running", "{seen:#}");
}

#[test]
fn vscode_extension_says_once_when_the_binary_is_missing() {
    let env = TestEnv::new();
    let dir = fixture(&env, "vscbad");
    let missing = env.home.path().join("no-such/maestro");
    let run = vscode_session(&env, &dir, "vscode-missing", &missing, "", "", || {});
    let seen = &run.report;
    assert!(run.done, "{}\n{seen:#}", run.driver_err);
    assert_eq!(seen["started"], false, "{seen:#}");
    let told = seen["told"].as_array().unwrap();
    assert_eq!(told.len(), 1, "one error: {seen:#}");
    let message = told[0].as_str().unwrap();
    assert!(
        message.contains(&missing.display().to_string()) && message.contains("maestro.path"),
        "{message}"
    );
    // Nothing started a daemon for it.
    assert!(!env.socket().exists(), "a daemon was started");
}
