//! Agents end to end with `fake-agent` (speaking each CLI's line protocol) in real worktrees of
//! real repositories: what the real CLIs (`real_agents.rs`) cannot do on demand — hang, crash, fail
//! with a given error, ask for input, twenty at once, a fake terminal UI — and what does not depend
//! on the CLI (names, bad input, the daemon killed mid-turn, delegate code actions).

use maestro_tests::{TestEnv, alive, git, kill, text, wait_until};
use serde_json::{Value, json};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CLIS: [&str; 5] = ["claude", "codex", "gemini", "opencode", "aider"];

/// An environment whose agent CLIs are the fake agent, under their own names.
pub(crate) fn agents_env(extra: &str) -> TestEnv {
    let env = TestEnv::new();
    let bin = env.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mut config = String::from("[daemon]\nidle_timeout_secs = 60\n");
    for cli in CLIS {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fake-agent"), bin.join(cli)).unwrap();
        config.push_str(&format!(
            "[agents.{cli}]\npath = \"{}\"\n",
            bin.join(cli).display()
        ));
    }
    config.push_str(extra);
    env.write_config(&config);
    env
}

pub(crate) fn repo(env: &TestEnv, name: &str) -> PathBuf {
    let dir = env.git_repo(name);
    git(&dir, &["checkout", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "init"]);
    dir
}

/// `maestro agent status NAME --json`.
pub(crate) fn status(env: &TestEnv, dir: &Path, name: &str) -> Value {
    env.json(dir, &["agent", "status", name, "--json"])
}

pub(crate) fn wait_state(env: &TestEnv, dir: &Path, name: &str, state: &str) -> Value {
    let mut last = Value::Null;
    wait_until(&format!("{name} {state}"), Duration::from_secs(20), || {
        last = status(env, dir, name);
        last["state"] == state
    });
    last
}

/// The last line of a `--wait --json` run: the agent at the end of its turn.
fn turn_end(stdout: &str) -> Value {
    let last = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["event"], "turn_end", "{stdout}");
    v["agent"].clone()
}

/// Processes of this environment whose environment names this agent.
pub(crate) fn agent_processes(env: &TestEnv, name: &str) -> Vec<u32> {
    let needle = format!("MAESTRO_AGENT={name}");
    let home = format!("MAESTRO_HOME={}", env.home.path().display());
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|vars| {
                    let has = |want: &str| vars.split(|b| *b == 0).any(|v| v == want.as_bytes());
                    has(&needle) && has(&home)
                })
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn the_watchdog_kills_a_silent_agent_and_says_why() {
    let env = agents_env("");
    let dir = repo(&env, "hangs");
    let out = env.run_in(
        &dir,
        &[
            "agent",
            "spawn",
            "sleepy",
            "say starting; hang",
            "--silence-timeout",
            "1",
            "--wait",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let agent = turn_end(&text(&out.stdout));
    assert_eq!(agent["state"], "failed");
    assert_eq!(agent["errorClass"], "timeout");
    let reason = agent["reason"].as_str().unwrap();
    assert!(
        reason.contains("no output for 1 s") && reason.contains("silence_timeout_secs"),
        "{reason}"
    );
    wait_until(
        "the hung agent's processes are gone",
        Duration::from_secs(10),
        || agent_processes(&env, "sleepy").is_empty(),
    );

    // A crash is classified too, and a new turn can follow a failed one.
    let out = env.run_in(
        &dir,
        &["agent", "send", "sleepy", "crash 3", "--wait", "--json"],
    );
    let agent = turn_end(&text(&out.stdout));
    assert_eq!(agent["errorClass"], "crash", "{agent}");
    assert!(
        agent["reason"].as_str().unwrap().contains("code 3"),
        "{agent}"
    );
    let out = env.run_in(
        &dir,
        &[
            "agent",
            "send",
            "sleepy",
            "fail Invalid API key · Please run /login",
            "--wait",
            "--json",
        ],
    );
    let agent = turn_end(&text(&out.stdout));
    assert_eq!(agent["errorClass"], "auth", "{agent}");
    assert!(
        agent["reason"].as_str().unwrap().contains("log in"),
        "{agent}"
    );

    // Stop kills a running turn.
    env.ok(&dir, &["agent", "send", "sleepy", "say again; hang"]);
    wait_state(&env, &dir, "sleepy", "working");
    let stopped = env.json(&dir, &["agent", "stop", "sleepy", "--json"]);
    assert_eq!(stopped["state"], "done", "{stopped}");
    wait_until(
        "the stopped agent's processes are gone",
        Duration::from_secs(10),
        || agent_processes(&env, "sleepy").is_empty(),
    );
}

#[test]
fn a_killed_daemon_leaves_its_agents_lost_and_a_new_turn_resumes_the_session() {
    let env = agents_env("");
    let dir = repo(&env, "lost");
    env.ok(&dir, &["agent", "spawn", "worker", "say first; hang"]);
    // Working, and its CLI has said which session it is (the line after it started).
    let mut before = Value::Null;
    wait_until(
        "worker working in a session",
        Duration::from_secs(20),
        || {
            before = status(&env, &dir, "worker");
            before["state"] == "working" && before["sessionId"].is_string()
        },
    );
    let session = before["sessionId"].as_str().unwrap().to_owned();
    assert!(!agent_processes(&env, "worker").is_empty());
    let daemon = env.daemon_pid().unwrap();
    kill(daemon, rustix::process::Signal::KILL);
    wait_until("the daemon is gone", Duration::from_secs(10), || {
        !alive(daemon)
    });

    let after = status(&env, &dir, "worker");
    assert_eq!(after["state"], "lost", "{after}");
    assert!(
        after["reason"].as_str().unwrap().contains("daemon stopped"),
        "{after}"
    );
    wait_until(
        "the orphaned turn is killed",
        Duration::from_secs(10),
        || agent_processes(&env, "worker").is_empty(),
    );
    let out = env.run_in(&dir, &["agent", "send", "worker", "say back", "--wait"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains(&format!("resumed session {session}")),
        "{printed}"
    );
    assert_eq!(status(&env, &dir, "worker")["state"], "idle");
}

#[test]
fn twenty_agents_work_at_once_each_on_its_own_branch() {
    let env = agents_env("");
    let dir = repo(&env, "crowd");
    let names: Vec<String> = (0..20).map(|i| format!("crowd-a{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        env.ok(
            &dir,
            &[
                "agent",
                "spawn",
                name,
                &format!("sleep 300; write f{i}.txt {i}; commit work {i}"),
            ],
        );
    }
    for name in &names {
        wait_state(&env, &dir, name, "idle");
    }
    let list: Vec<Value> = env
        .ok(&dir, &["agent", "list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(list.len(), 20);
    for (i, a) in list.iter().enumerate() {
        let wt = PathBuf::from(a["worktree"].as_str().unwrap());
        let name = a["name"].as_str().unwrap();
        let n: usize = name.trim_start_matches("crowd-a").parse().unwrap();
        assert_eq!(
            git(&wt, &["log", "-1", "--format=%s"]),
            format!("work {n}"),
            "{i}"
        );
        assert!(wt.join(format!("f{n}.txt")).exists());
    }
    let tree = env.ok(&dir, &["agent", "list"]);
    assert!(tree.starts_with("crowd\n"), "{tree}");
}

#[test]
fn an_agent_waiting_for_input_is_flagged_and_answered() {
    let env = agents_env("[agents]\nneeds_input_secs = 1\n");
    let dir = repo(&env, "asks");
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
    let waiting = wait_state(&env, &dir, "asker", "needs_input");
    assert!(
        waiting["reason"].as_str().unwrap().contains("Proceed?"),
        "{waiting}"
    );
    let out = env.run_in(&dir, &["agent", "send", "asker", "yes", "--wait"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(status(&env, &dir, "asker")["state"], "idle");
    let logs = env.ok(&dir, &["agent", "logs", "asker"]);
    assert!(logs.contains("got: yes"), "{logs}");
}

#[test]
fn bad_names_missing_clis_taken_paths_and_dirty_checkouts_are_clear() {
    let env = agents_env("");
    let dir = repo(&env, "bad");
    let fails = |args: &[&str]| {
        let out = env.run_in(&dir, args);
        assert!(!out.status.success(), "maestro {args:?} succeeded");
        text(&out.stderr)
    };
    let err = fails(&["agent", "spawn", "Shop_API", "hi"]);
    assert!(err.contains("lowercase letter"), "{err}");
    let err = fails(&["agent", "spawn", "shop_api", "hi"]);
    assert!(err.contains("`shop-api`"), "{err}");
    let err = fails(&["agent", "spawn", "x", "hi", "--agent", "copilot"]);
    assert!(
        err.contains("`copilot` is not an agent CLI") && err.contains("claude"),
        "{err}"
    );
    let err = fails(&["agent", "status", "ghost"]);
    assert!(err.contains("no agent `ghost`"), "{err}");

    // A CLI that is not installed: nothing is created, and the message says what to set.
    env.write_config("[daemon]\nidle_timeout_secs = 60\n");
    env.ok(&dir, &["daemon", "restart"]);
    let out = env
        .command()
        .current_dir(&dir)
        .env("PATH", "/usr/bin:/bin")
        .args(["agent", "spawn", "nope", "hi", "--agent", "gemini"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(
        err.contains("gemini not found on PATH: set agents.gemini.path"),
        "{err}"
    );
    assert_eq!(git(&dir, &["branch", "--list", "maestro/*"]), "");

    let env = agents_env("");
    let dir = repo(&env, "bad2");
    env.ok(
        &dir,
        &["agent", "spawn", "one", "write x.txt 1; commit one"],
    );
    let one = wait_state(&env, &dir, "one", "idle");
    let err = {
        let out = env.run_in(&dir, &["agent", "spawn", "one", "hi"]);
        text(&out.stderr)
    };
    assert!(err.contains("already exists"), "{err}");
    // Somebody's directory where the next worktree would go.
    let taken = PathBuf::from(one["worktree"].as_str().unwrap())
        .parent()
        .unwrap()
        .join("two");
    std::fs::create_dir_all(&taken).unwrap();
    let out = env.run_in(&dir, &["agent", "spawn", "two", "hi"]);
    let err = text(&out.stderr);
    assert!(
        err.contains(&taken.display().to_string()) && err.contains("already exists"),
        "{err}"
    );
    // The removed agent's unmerged branch stays, and blocks the name with a way out.
    let removed = env.json(&dir, &["agent", "remove", "one", "--json"]);
    assert_eq!(removed["branchKept"], "maestro/one");
    let out = env.run_in(&dir, &["agent", "spawn", "one", "hi"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("branch maestro/one already exists (1 commits"),
        "{err}"
    );

    // A dirty checkout: the agent starts from HEAD, the user's work stays where it is, and a
    // merge that would overwrite it is refused whole.
    std::fs::write(dir.join("src/lib.rs"), "pub fn mine() {}\n").unwrap();
    let out = env.run_in(
        &dir,
        &[
            "agent",
            "spawn",
            "three",
            "write src/lib.rs pub fn theirs() {}; commit theirs",
            "--wait",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("note: 1 uncommitted change(s)"),
        "{}",
        text(&out.stdout)
    );
    let head = git(&dir, &["rev-parse", "HEAD"]);
    let out = env.run_in(&dir, &["agent", "merge", "three"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("would overwrite uncommitted changes"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), head);
    assert!(
        status(&env, &dir, "three").get("merged").is_none(),
        "a refused merge is not a merge"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
        "pub fn mine() {}\n"
    );
    // Removing an agent with uncommitted work needs --force.
    let wt = PathBuf::from(status(&env, &dir, "three")["worktree"].as_str().unwrap());
    std::fs::write(wt.join("scratch.txt"), "wip").unwrap();
    let out = env.run_in(&dir, &["agent", "remove", "three"]);
    assert!(text(&out.stderr).contains("scratch.txt") && text(&out.stderr).contains("--force"));
    env.ok(&dir, &["agent", "remove", "three", "--force"]);
    assert!(!wt.exists());
}

#[test]
fn an_editor_spawns_an_agent_and_hears_its_status_and_output() {
    let env = agents_env("");
    let dir = repo(&env, "editor");
    let mut lsp = env.lsp(&dir, &[]);
    lsp.initialize(&dir, true, false);
    let spawned = lsp.rpc.request(
        "workspace/executeCommand",
        serde_json::json!({
            "command": "maestro.agent.spawn",
            "arguments": [{"name": "ui-helper", "agent": "codex", "path": dir, "prompt": "say from the editor; usage 10 5"}]
        }),
    );
    assert_eq!(spawned["result"]["name"], "ui-helper", "{spawned}");
    let idle = lsp.rpc.wait_for("agentStatus idle", |m| {
        m["method"] == "maestro/agentStatus" && m["params"]["agent"]["state"] == "idle"
    });
    assert_eq!(idle["params"]["previous"], "working", "{idle}");
    assert_eq!(idle["params"]["attention"], false);
    let output = lsp.rpc.wait_for("agentOutput", |m| {
        m["method"] == "maestro/agentOutput"
            && m["params"]["data"]
                .as_str()
                .is_some_and(|d| d.contains("from the editor"))
    });
    assert_eq!(output["params"]["name"], "ui-helper");
    let list = lsp
        .rpc
        .request("maestro/agent.list", serde_json::json!({"path": dir}));
    assert_eq!(list["result"][0]["usage"]["outputTokens"], 5, "{list}");
    // Which binary ran, and what chose it (the config here; an editor's PATH may differ).
    let program = &list["result"][0]["program"];
    assert_eq!(program["from"], "agents.codex.path", "{list}");
    assert!(
        program["path"].as_str().unwrap().ends_with("/bin/codex"),
        "{list}"
    );
    // Days of usage are the person's: UTC+14 and UTC-11 are never on the same day.
    let day_in = |lsp: &mut maestro_tests::Lsp, zone: &str| {
        lsp.rpc.request(
            "maestro/usage",
            serde_json::json!({"by": "day", "path": dir, "timeZone": zone}),
        )
    };
    let east = day_in(&mut lsp, "Pacific/Kiritimati");
    let west = day_in(&mut lsp, "Pacific/Pago_Pago");
    for day in [&east, &west] {
        assert_eq!(day["result"]["rows"][0]["outputTokens"], 5, "{day}");
    }
    let (e, w) = (
        east["result"]["rows"][0]["key"].as_str().unwrap(),
        west["result"]["rows"][0]["key"].as_str().unwrap(),
    );
    assert!(
        e > w,
        "the turn's day in UTC+14 ({e}) is after its day in UTC-11 ({w})"
    );
    let bad = day_in(&mut lsp, "Mars/Olympus");
    assert!(
        bad["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("IANA time zone name") && m.contains("Mars/Olympus")),
        "{bad}"
    );
    // A failing turn is an attention alert.
    lsp.rpc.request(
        "workspace/executeCommand",
        serde_json::json!({
            "command": "maestro.agent.send",
            "arguments": [{"name": "ui-helper", "path": dir, "prompt": "fail rate limit exceeded (429)"}]
        }),
    );
    let failed = lsp.rpc.wait_for("agentStatus failed", |m| {
        m["method"] == "maestro/agentStatus" && m["params"]["agent"]["state"] == "failed"
    });
    assert_eq!(failed["params"]["attention"], true);
    assert_eq!(failed["params"]["agent"]["errorClass"], "rate_limit");
    let out = lsp.rpc.request(
        "maestro/agent.output",
        serde_json::json!({"name": "ui-helper", "path": dir, "offset": 0}),
    );
    assert!(
        out["result"]["data"].as_str().unwrap().contains("✗"),
        "{out}"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn a_repository_command_runs_only_once_approved_exactly_and_asks_again_when_changed() {
    let env = agents_env("");
    let dir = repo(&env, "hostile");
    let marker = env.home.path().join("marker");
    let config = |word: &str| {
        format!(
            "[agents]\nsetup_command = [\"sh\", \"-c\", \"echo {word} >> '{}'\"]\n",
            marker.display()
        )
    };
    std::fs::create_dir_all(dir.join(".maestro")).unwrap();
    std::fs::write(dir.join(".maestro/config.toml"), config("one")).unwrap();

    // Refused before anything runs or exists, naming exactly what would run.
    let out = env.run_in(&dir, &["agent", "spawn", "first", "say hi", "--wait"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("asks to run sh -c 'echo one >> '\\''")
            && err.contains("agents.setup_command")
            && err.contains("maestro trust"),
        "{err}"
    );
    assert!(!marker.exists(), "the command ran unapproved");
    assert!(!env.ok(&dir, &["agent", "list"]).contains("first"));

    // `trust` shows it; without a terminal it does not approve.
    let listed = env.run_in(&dir, &["trust", "--json"]);
    assert_eq!(listed.status.code(), Some(1));
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list["commands"][0]["state"], "unapproved", "{list}");
    assert_eq!(list["commands"][0]["command"][0], "sh");
    let asked = env.run_in(&dir, &["trust"]);
    assert_eq!(asked.status.code(), Some(1));
    assert!(
        text(&asked.stderr).contains("--yes"),
        "{}",
        text(&asked.stderr)
    );
    assert!(text(&asked.stdout).contains("not approved"));

    let approved = env.ok(&dir, &["trust", "--yes"]);
    assert!(
        approved.contains("approved agents.setup_command"),
        "{approved}"
    );
    env.ok(&dir, &["agent", "spawn", "first", "say hi", "--wait"]);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "one\n");

    // A changed command asks again; the old approval does not carry over.
    std::fs::write(dir.join(".maestro/config.toml"), config("two")).unwrap();
    let out = env.run_in(&dir, &["agent", "spawn", "second", "say hi", "--wait"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("It changed since it was approved"),
        "{}",
        text(&out.stderr)
    );
    let listed = env.run_in(&dir, &["trust", "--json"]);
    assert_eq!(listed.status.code(), Some(1), "not everything is approved");
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list["commands"][0]["state"], "changed", "{list}");
    assert!(
        list["commands"][0]["approved"][2]
            .as_str()
            .unwrap()
            .starts_with("echo one"),
        "{list}"
    );
    // Approving what was shown before is refused: the file says something else now.
    let mut rpc = env.connect_hello();
    let r = rpc.request(
        "maestro/trust.approve",
        json!({"path": dir, "key": "agents.setup_command",
               "command": list["commands"][0]["approved"]}),
    );
    assert_eq!(r["error"]["code"], -32095, "{r}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "one\n");

    // Revoked: asked again.
    env.ok(&dir, &["trust", "--yes"]);
    env.ok(&dir, &["trust", "--revoke"]);
    let out = env.run_in(&dir, &["agent", "spawn", "third", "say hi", "--wait"]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "one\n");

    // The same key in the person's own config needs no approval.
    let user = std::fs::read_to_string(env.home.path().join("config/config.toml")).unwrap();
    env.write_config(&format!("{user}{}", config("mine")));
    std::fs::remove_file(dir.join(".maestro/config.toml")).unwrap();
    env.ok(&dir, &["daemon", "restart"]);
    env.ok(&dir, &["agent", "spawn", "fourth", "say hi", "--wait"]);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "one\nmine\n");
}

/// The editor's person is asked, shown the exact command; "Not now" leaves the spawn refused
/// and nothing run, "Allow" approves it and the spawn goes through.
#[test]
fn the_editor_asks_before_a_repository_command_runs() {
    let env = agents_env("");
    let dir = repo(&env, "asked");
    let marker = env.home.path().join("marker");
    std::fs::create_dir_all(dir.join(".maestro")).unwrap();
    std::fs::write(
        dir.join(".maestro/config.toml"),
        format!(
            "[agents]\nsetup_command = [\"sh\", \"-c\", \"echo ran > '{}'\"]\n",
            marker.display()
        ),
    )
    .unwrap();
    let mut lsp = env.lsp(&dir, &[]);
    lsp.initialize(&dir, false, false);
    let spawn = |lsp: &mut maestro_tests::Lsp, name: &str, answer: &str| {
        let id = lsp.rpc.send_request(
            "workspace/executeCommand",
            json!({"command": "maestro.agent.spawn",
                   "arguments": [{"name": name, "agent": "claude", "path": dir, "prompt": "say hi"}]}),
        );
        let question = lsp.rpc.wait_for("the question", |m| {
            m["method"] == "window/showMessageRequest"
        });
        let message = question["params"]["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains("asks to run `sh -c 'echo ran > '")
                && message.contains("agents.setup_command"),
            "{message}"
        );
        lsp.rpc
            .send(&json!({"jsonrpc": "2.0", "id": question["id"], "result": {"title": answer}}));
        lsp.rpc.response(id)
    };
    let refused = spawn(&mut lsp, "declined", "Not now");
    assert_eq!(refused["error"]["code"], -32097, "{refused}");
    assert!(!marker.exists());
    let spawned = spawn(&mut lsp, "allowed", "Allow and continue");
    assert_eq!(spawned["result"]["name"], "allowed", "{spawned}");
    wait_until("the setup command ran", Duration::from_secs(20), || {
        marker.exists()
    });
    let list = env.json(&dir, &["trust", "--json"]);
    assert_eq!(list["commands"][0]["state"], "approved", "{list}");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn setup_copies_untracked_files_and_runs_its_command_before_the_first_turn() {
    let env = agents_env("");
    let dir = repo(&env, "setup");
    std::fs::write(dir.join(".gitignore"), ".env\n").unwrap();
    git(&dir, &["add", ".gitignore"]);
    git(&dir, &["commit", "-qm", "ignore .env"]);
    std::fs::write(dir.join(".env"), "TOKEN=1\n").unwrap();
    std::fs::create_dir_all(dir.join(".maestro")).unwrap();
    std::fs::write(
        dir.join(".maestro/config.toml"),
        "[agents]\nsetup_files = [\".env\", \"missing.json\"]\nsetup_command = [\"git\", \"tag\", \"set-up\"]\n",
    )
    .unwrap();
    env.ok(&dir, &["trust", "--yes"]);
    let out = env.run_in(
        &dir,
        &["agent", "spawn", "prepared", "env MAESTRO_AGENT", "--wait"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("note: setup files not found in the repository, not copied: missing.json"),
        "{printed}"
    );
    assert!(
        printed.contains("$ git tag set-up") && printed.contains("MAESTRO_AGENT=prepared"),
        "{printed}"
    );
    let wt = PathBuf::from(status(&env, &dir, "prepared")["worktree"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(wt.join(".env")).unwrap(),
        "TOKEN=1\n"
    );
    assert_eq!(
        git(&dir, &["tag", "--list", "set-up"]),
        "set-up",
        "the setup command ran"
    );

    // A setup command that fails fails the agent before any turn, and says which command.
    std::fs::write(
        dir.join(".maestro/config.toml"),
        "[agents]\nsetup_command = [\"git\", \"no-such-subcommand\"]\n",
    )
    .unwrap();
    env.ok(&dir, &["trust", "--yes"]);
    let out = env.run_in(
        &dir,
        &[
            "agent",
            "spawn",
            "unprepared",
            "say never",
            "--wait",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let agent = turn_end(&text(&out.stdout));
    assert_eq!(agent["state"], "failed");
    assert!(
        agent["reason"]
            .as_str()
            .unwrap()
            .contains("setup command `git no-such-subcommand` exited with code 1"),
        "{agent}"
    );
    let logs = env.ok(&dir, &["agent", "logs", "unprepared"]);
    assert!(!logs.contains("never"), "{logs}");
}

/// `maestro agent attach` in a real terminal of `rows` × `cols`, read through a screen model.
pub(crate) struct Terminal {
    pub(crate) screen: std::sync::Arc<std::sync::Mutex<vt100::Parser>>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    input: Box<dyn std::io::Write + Send>,
    pub(crate) child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Terminal {
    pub(crate) fn attach(env: &TestEnv, dir: &Path, name: &str, rows: u16, cols: u16) -> Terminal {
        Terminal::run(env, dir, &["agent", "attach", name], rows, cols)
    }

    /// `maestro ARGS` in a real terminal.
    pub(crate) fn run(env: &TestEnv, dir: &Path, args: &[&str], rows: u16, cols: u16) -> Terminal {
        use portable_pty::{CommandBuilder, PtySize, native_pty_system};
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(maestro_tests::maestro_bin());
        cmd.args(args);
        cmd.cwd(dir);
        cmd.env("MAESTRO_HOME", env.home.path());
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let screen = std::sync::Arc::new(std::sync::Mutex::new(vt100::Parser::new(
            rows.try_into().unwrap(),
            cols.try_into().unwrap(),
            0,
        )));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let feed = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                feed.lock().unwrap().process(&buf[..n]);
            }
        });
        let input = pair.master.take_writer().unwrap();
        Terminal {
            screen,
            master: pair.master,
            input,
            child,
        }
    }

    pub(crate) fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    pub(crate) fn wait_for(&self, what: &str) {
        let mut last = String::new();
        let found = (0..400).any(|_| {
            last = self.contents();
            last.contains(what) || {
                std::thread::sleep(Duration::from_millis(25));
                false
            }
        });
        assert!(found, "`{what}` never showed; the screen:\n{last}");
    }

    pub(crate) fn type_in(&mut self, keys: &str) {
        self.input.write_all(keys.as_bytes()).unwrap();
        self.input.flush().unwrap();
    }

    fn resize(&self, rows: u16, cols: u16) {
        self.screen
            .lock()
            .unwrap()
            .set_size(rows.try_into().unwrap(), cols.try_into().unwrap());
        self.master
            .resize(portable_pty::PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
    }
}

/// The agent's output so far, through the daemon.
pub(crate) fn output_of(env: &TestEnv, dir: &Path, name: &str) -> String {
    let mut rpc = env.connect_hello();
    let out = rpc.request(
        "maestro/agent.output",
        serde_json::json!({"name": name, "path": dir, "offset": 0}),
    );
    out["result"]["data"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits for `what` in the agent's output (the fake UI says `» TEXT`, which is not the echo of the
/// typed `say TEXT`).
fn wait_output(env: &TestEnv, dir: &Path, name: &str, what: &str) {
    let mut last = String::new();
    let found = (0..400).any(|_| {
        last = output_of(env, dir, name);
        last.contains(what) || {
            std::thread::sleep(Duration::from_millis(50));
            false
        }
    });
    assert!(found, "{name} never printed {what:?}; its output: {last:?}");
}

#[test]
fn an_interactive_agent_runs_its_terminal_ui_and_a_terminal_attaches_to_it() {
    use std::io::Write as _;
    let env = agents_env("[agents]\nneeds_input_secs = 1\n");
    let dir = repo(&env, "tui");
    let spawned = env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            "tui",
            "say hello from the tui",
            "--interactive",
        ],
    );
    assert!(spawned.contains("maestro agent attach tui"), "{spawned}");
    // Quiet at its prompt: it waits for its person.
    let waiting = wait_state(&env, &dir, "tui", "needs_input");
    assert_eq!(waiting["mode"], "interactive");
    assert!(
        waiting["reason"]
            .as_str()
            .unwrap()
            .contains("maestro agent attach tui"),
        "{waiting}"
    );
    // A prompt is typed into the running UI, not a new process.
    let pid = waiting["pid"].as_u64().unwrap();
    env.ok(&dir, &["agent", "send", "tui", "say second prompt"]);
    wait_output(&env, &dir, "tui", "» second prompt\r\n");
    assert_eq!(status(&env, &dir, "tui")["pid"].as_u64(), Some(pid));
    assert_eq!(status(&env, &dir, "tui")["turns"], 2);

    // A real terminal attaches: the screen is drawn from the daemon's model of it, at the
    // terminal's size.
    let mut term = Terminal::attach(&env, &dir, "tui", 30, 100);
    term.wait_for("fake claude tui · turn 2");
    term.wait_for("hello from the tui");
    assert!(term.screen.lock().unwrap().screen().alternate_screen());
    term.type_in("size\r");
    term.wait_for("size 30x100");
    // The window changes: the agent's terminal follows.
    term.resize(20, 90);
    // The resize reaches the agent through a signal to attach: ask until it has.
    let resized = (0..20).any(|_| {
        term.type_in("size\r");
        std::thread::sleep(Duration::from_millis(250));
        term.contents().contains("size 20x90")
    });
    assert!(resized, "the agent never saw 20x90:\n{}", term.contents());
    // The header is on the top row, where the program keeps it.
    let top = term
        .contents()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        top.starts_with("fake claude tui · turn ") && top.ends_with(" · 20x90"),
        "{top}"
    );
    // Detaching gives the terminal back and leaves the agent running.
    term.type_in("\x1d");
    let exit = term.child.wait().unwrap();
    assert!(exit.success(), "attach exited with {exit:?}");
    // (Its last bytes may still be on their way through the terminal.)
    term.wait_for("detached from tui");
    assert!(!term.screen.lock().unwrap().screen().alternate_screen());
    assert!(
        status(&env, &dir, "tui")["state"]
            .as_str()
            .is_some_and(|s| s == "needs_input" || s == "working")
    );
    assert!(alive(pid as u32));

    // Its log, for people, is the text without the terminal's codes.
    let logs = env.ok(&dir, &["agent", "logs", "tui"]);
    assert!(logs.contains("» hello from the tui\n"), "{logs}");
    assert!(!logs.contains('\x1b') && !logs.contains('\r'), "{logs:?}");

    // Attaching again restores the screen as the last client left it.
    let mut again = Terminal::attach(&env, &dir, "tui", 20, 90);
    again.wait_for("size 20x90");
    again.wait_for("fake claude tui · turn ");
    // Its UI exits: the session is over, the attached terminal is told and given back.
    again.type_in("exit\r");
    let exit = again.child.wait().unwrap();
    assert!(exit.success());
    again.wait_for("tui: idle");
    let ended = wait_state(&env, &dir, "tui", "idle");
    assert!(
        ended["reason"]
            .as_str()
            .unwrap()
            .contains("starts it again"),
        "{ended}"
    );
    assert!(agent_processes(&env, "tui").is_empty());
    // Attaching to it now shows its last screen (the UI left its alternate screen) and how to
    // start it again.
    let late = env.run_in(&dir, &["agent", "attach", "tui"]);
    assert_eq!(late.status.code(), Some(1));
    assert!(
        text(&late.stdout).contains("■ claude exited"),
        "{}",
        text(&late.stdout)
    );
    assert!(
        text(&late.stderr).contains("`maestro agent send tui PROMPT` starts its terminal UI again"),
        "{}",
        text(&late.stderr)
    );

    // A new prompt starts its terminal UI again; stop kills it.
    env.ok(&dir, &["agent", "send", "tui", "say back again"]);
    wait_output(&env, &dir, "tui", "» back again\r\n");
    let back = status(&env, &dir, "tui");
    assert_ne!(back["pid"].as_u64(), Some(pid));
    let stopped = env.json(&dir, &["agent", "stop", "tui", "--json"]);
    assert_eq!(stopped["state"], "done");
    wait_until("its UI killed", Duration::from_secs(10), || {
        agent_processes(&env, "tui").is_empty()
    });
    let _ = std::io::stdout().flush();
}

#[test]
fn attach_input_and_resize_answer_bad_requests_and_headless_agents_take_lines() {
    let env = agents_env("[agents]\nneeds_input_secs = 1\n");
    let dir = repo(&env, "attach");
    env.ok(
        &dir,
        &["agent", "spawn", "plain", "say first turn", "--wait"],
    );
    // Aider's terminal UI takes no prompt argument: the prompt is typed once it is up.
    env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            "typed",
            "say typed in later",
            "--agent",
            "aider",
            "--interactive",
        ],
    );
    wait_output(&env, &dir, "typed", "» typed in later\r\n");
    let log = output_of(&env, &dir, "typed");
    assert!(log.contains("fake aider tui"), "{log}");

    let mut rpc = env.connect_hello();
    let headless = rpc.request(
        "maestro/agent.input",
        serde_json::json!({"name": "plain", "path": dir, "data": "x"}),
    );
    let message = headless["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("is headless") && message.contains("maestro agent send plain"),
        "{headless}"
    );
    let zero = rpc.request(
        "maestro/agent.resize",
        serde_json::json!({"name": "typed", "path": dir, "rows": 0, "cols": 80}),
    );
    assert_eq!(zero["error"]["code"], -32602, "{zero}");
    assert!(
        zero["error"]["message"]
            .as_str()
            .unwrap()
            .contains("0 rows"),
        "{zero}"
    );
    let half = rpc.request(
        "maestro/agent.attach",
        serde_json::json!({"name": "typed", "path": dir, "rows": 10}),
    );
    assert!(
        half["error"]["message"]
            .as_str()
            .unwrap()
            .contains("both `rows` and `cols`"),
        "{half}"
    );
    let missing = rpc.request(
        "maestro/agent.attach",
        serde_json::json!({"name": "nobody", "path": dir}),
    );
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no agent `nobody`"),
        "{missing}"
    );
    // An editor shows an agent by its colour and identicon, the same for a name everywhere.
    let icon = rpc.request(
        "maestro/agent.icon",
        serde_json::json!({"name": "shop-backend-api"}),
    );
    let icon = &icon["result"];
    assert!(icon["svg"].as_str().unwrap().starts_with("<svg"), "{icon}");
    assert!(
        icon["svg"]
            .as_str()
            .unwrap()
            .contains(icon["color"].as_str().unwrap())
    );
    assert_eq!(icon["path"], serde_json::json!(["shop", "backend", "api"]));
    let bad = rpc.request(
        "maestro/agent.icon",
        serde_json::json!({"name": "Shop API"}),
    );
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    // An editor attaches through the same request: the screen and its offset.
    let att = rpc.request(
        "maestro/agent.attach",
        serde_json::json!({"name": "typed", "path": dir, "rows": 24, "cols": 80}),
    );
    let att = &att["result"];
    assert_eq!(att["interactive"], true, "{att}");
    assert_eq!(att["running"], true);
    assert_eq!(
        (att["rows"].as_u64(), att["cols"].as_u64()),
        (Some(24), Some(80))
    );
    assert!(
        att["screen"].as_str().unwrap().contains("typed in later"),
        "{att}"
    );
    let keys = rpc.request(
        "maestro/agent.input",
        serde_json::json!({"name": "typed", "path": dir, "data": "say keys from an editor\r"}),
    );
    assert!(keys.get("error").is_none(), "{keys}");
    wait_output(&env, &dir, "typed", "» keys from an editor\r\n");
    // Bracketed paste, once the program asks for it, keeps a multi-line prompt whole.
    env.ok(&dir, &["agent", "send", "typed", "bracketed"]);
    wait_output(&env, &dir, "typed", "bracketed paste on");
    env.ok(&dir, &["agent", "send", "typed", "one\ntwo"]);
    wait_output(&env, &dir, "typed", "pasted 2 lines: one / two");

    // A headless agent attached from a pipe: its transcript, and a typed line is its next turn.
    let mut attach = env
        .command()
        .current_dir(&dir)
        .args(["agent", "attach", "plain"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    let mut stdin = attach.stdin.take().unwrap();
    stdin.write_all(b"say through attach\n").unwrap();
    wait_until("the typed turn", Duration::from_secs(20), || {
        output_of(&env, &dir, "plain").contains("through attach\n")
            && status(&env, &dir, "plain")["state"] == "idle"
    });
    drop(stdin);
    let out = attach.wait_with_output().unwrap();
    assert!(out.status.success());
    let shown = text(&out.stdout);
    assert!(
        shown.contains("first turn") && shown.contains("through attach"),
        "{shown}"
    );
    assert!(
        text(&out.stderr).contains("detached from plain"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(status(&env, &dir, "plain")["turns"], 2);
    env.ok(&dir, &["agent", "stop", "typed"]);
}

const APP_PY: &str =
    "def greet(name):\n    return \"hello \" + nam\n\n\ndef main():\n    print(greet(\"world\"))\n";

fn titles(actions: &Value) -> Vec<String> {
    actions["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{actions}"))
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn code_actions_delegate_selections_diagnostics_and_tests_with_their_graph_context() {
    use serde_json::json;
    let env = agents_env("");
    let dir = repo(&env, "delegating");
    std::fs::write(dir.join("app.py"), APP_PY).unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "app"]);
    let mut lsp = env.lsp(&dir, &[]);
    lsp.initialize(&dir, true, false);
    let uri = maestro_tests::file_uri(&dir.join("app.py"));
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": APP_PY}}),
    );
    let diagnostic = json!({
        "range": {"start": {"line": 1, "character": 24}, "end": {"line": 1, "character": 27}},
        "message": "\"nam\" is not defined", "source": "pyright", "severity": 1
    });
    let selection =
        json!({"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 27}});
    let actions = lsp.rpc.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": selection, "context": {"diagnostics": [diagnostic]}}),
    );
    assert_eq!(
        titles(&actions),
        [
            "Ask an agent to fix: \"nam\" is not defined",
            "Delegate to agent…",
            "Write tests for `greet`"
        ]
    );
    let all = actions["result"].as_array().unwrap().clone();
    assert_eq!(all[0]["kind"], "quickfix");
    assert_eq!(all[0]["diagnostics"][0], diagnostic);
    assert_eq!(all[1]["kind"], "refactor");
    // The editor's filter is honoured; an empty range offers no "Delegate".
    let only = lsp.rpc.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": selection, "context": {"diagnostics": [diagnostic], "only": ["quickfix"]}}),
    );
    assert_eq!(
        titles(&only),
        ["Ask an agent to fix: \"nam\" is not defined"]
    );
    let caret = json!({"start": {"line": 5, "character": 12}, "end": {"line": 5, "character": 12}});
    let on_call = lsp.rpc.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": caret, "context": {"diagnostics": []}}),
    );
    assert_eq!(
        titles(&on_call),
        ["Write tests for `greet`"],
        "the name at the caret wins over `main` around it"
    );

    // No agent yet: the fix goes to a new one, with the problem, the code and its callers.
    let execute = |action: &Value| json!({"command": action["command"]["command"], "arguments": action["command"]["arguments"]});
    let fixed = lsp
        .rpc
        .request("workspace/executeCommand", execute(&all[0]));
    let r = &fixed["result"];
    assert_eq!(r["spawned"], true, "{fixed}");
    assert_eq!(r["agent"]["name"], "fix-greet");
    let prompt = r["prompt"].as_str().unwrap();
    for part in [
        "Fix this problem in app.py (line 2, in `greet`):",
        "    \"nam\" is not defined (pyright)",
        "```python\n    return \"hello \" + nam\n```",
        "`greet` is defined at lines 1-2: `def greet(name)`",
        "Called by (from the code graph):\n- `main` in app.py:6\n",
    ] {
        assert!(prompt.contains(part), "`{part}` not in:\n{prompt}");
    }
    lsp.rpc.wait_for("the spawn reported", |m| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|t| t.contains("agent fix-greet was spawned for it"))
    });
    lsp.rpc.wait_for("fix-greet idle", |m| {
        m["method"] == "maestro/agentStatus"
            && m["params"]["agent"]["name"] == "fix-greet"
            && m["params"]["agent"]["state"] == "idle"
    });

    // An idle agent could take the tests: the editor's person is asked, and picks it.
    let asked = |lsp: &mut maestro_tests::Lsp, action: &Value| {
        let id = lsp
            .rpc
            .send_request("workspace/executeCommand", execute(action));
        let question = lsp.rpc.wait_for("the question", |m| {
            m["method"] == "window/showMessageRequest"
        });
        (id, question)
    };
    let (id, question) = asked(&mut lsp, &all[2]);
    assert!(
        question["params"]["message"]
            .as_str()
            .unwrap()
            .contains("which agent should write these tests?"),
        "{question}"
    );
    let offered: Vec<&str> = question["params"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["fix-greet", "New agent"]);
    lsp.rpc
        .send(&json!({"jsonrpc": "2.0", "id": question["id"], "result": {"title": "fix-greet"}}));
    let tests = lsp.rpc.response(id);
    let r = &tests["result"];
    assert_eq!(r["spawned"], false, "{tests}");
    assert_eq!(r["agent"]["name"], "fix-greet");
    assert_eq!(r["agent"]["turns"], 2);
    assert!(
        r["prompt"]
            .as_str()
            .unwrap()
            .starts_with("Write tests for the function `greet` in app.py (lines 1-2)."),
        "{tests}"
    );
    lsp.rpc.wait_for("fix-greet idle again", |m| {
        m["method"] == "maestro/agentStatus"
            && m["params"]["agent"]["name"] == "fix-greet"
            && m["params"]["agent"]["state"] == "idle"
            && m["params"]["agent"]["turns"] == 2
    });

    // Dismissing the question delegates nothing.
    let (id, question) = asked(&mut lsp, &all[1]);
    lsp.rpc
        .send(&json!({"jsonrpc": "2.0", "id": question["id"], "result": null}));
    assert_eq!(lsp.rpc.response(id)["result"], Value::Null);
    assert_eq!(status(&env, &dir, "fix-greet")["turns"], 2);
    // "New agent" spawns one, named after the task and the symbol.
    let (id, question) = asked(&mut lsp, &all[1]);
    lsp.rpc
        .send(&json!({"jsonrpc": "2.0", "id": question["id"], "result": {"title": "New agent"}}));
    let task = lsp.rpc.response(id);
    assert_eq!(task["result"]["agent"]["name"], "task-greet", "{task}");
    assert!(
        task["result"]["prompt"]
            .as_str()
            .unwrap()
            .contains("Task: review it;")
    );
    // An editor that asked its person already (VS Code's quick pick) says "a new agent" and is
    // not asked again; the daemon never sees the front's key.
    let mut asked_before = execute(&all[2]);
    asked_before["arguments"][0]["newAgent"] = json!(true);
    asked_before["arguments"][0]["instructions"] = json!("cover the empty name too");
    let tests = lsp.rpc.request("workspace/executeCommand", asked_before);
    assert_eq!(tests["result"]["spawned"], true, "{tests}");
    assert!(
        tests["result"]["prompt"]
            .as_str()
            .unwrap()
            .contains("cover the empty name too"),
        "{tests}"
    );

    // Bad requests are refused with the reason.
    let no_diagnostic = lsp.rpc.request(
        "maestro/agent.delegate",
        json!({"textDocument": {"uri": uri}, "range": selection, "task": "fix"}),
    );
    assert!(
        no_diagnostic["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a `fix` needs the `diagnostic`"),
        "{no_diagnostic}"
    );
    let unknown = lsp.rpc.request(
        "maestro/agent.delegate",
        json!({"textDocument": {"uri": uri}, "range": selection, "task": "tests", "agent": "nobody"}),
    );
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no agent `nobody`"),
        "{unknown}"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn a_cloned_repository_cannot_have_setup_files_written_outside_it() {
    let env = agents_env("");
    let dir = repo(&env, "hostile");
    // Files of the person's, outside the repository.
    let away = env.home.path().join("keys");
    std::fs::create_dir_all(&away).unwrap();
    std::fs::write(away.join("id_rsa"), "PRIVATE KEY\n").unwrap();
    // The repository as cloned: a committed link to them, and a config asking for it.
    std::os::unix::fs::symlink(&away, dir.join("secrets")).unwrap();
    std::fs::create_dir_all(dir.join(".maestro")).unwrap();
    std::fs::write(
        dir.join(".maestro/config.toml"),
        "[agents]\nsetup_files = [\"secrets\"]\n",
    )
    .unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "hostile"]);
    let out = env.run_in(&dir, &["agent", "spawn", "victim", "say hi", "--wait"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("setup file `secrets` refused") && printed.contains("symbolic link"),
        "{printed}"
    );
    assert_eq!(
        std::fs::read_to_string(away.join("id_rsa")).unwrap(),
        "PRIVATE KEY\n",
        "nothing outside the repository was written"
    );
}

/// A merged agent says so (every client shows it) until it works again.
#[test]
fn a_merged_agent_says_so_until_its_next_turn() {
    let env = agents_env("");
    let dir = repo(&env, "merged");
    env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            "done-fix",
            "write fix.txt fixed; commit fix",
            "--wait",
        ],
    );
    env.ok(&dir, &["agent", "merge", "done-fix"]);
    let merged = status(&env, &dir, "done-fix");
    assert_eq!(merged["merged"]["into"], "main", "{merged}");
    assert_eq!(
        merged["merged"]["commit"].as_str().unwrap(),
        git(&dir, &["rev-parse", "main"]).trim(),
        "{merged}"
    );
    env.ok(
        &dir,
        &["agent", "send", "done-fix", "say more to do", "--wait"],
    );
    let again = status(&env, &dir, "done-fix");
    assert!(again.get("merged").is_none(), "new work since: {again}");
}
