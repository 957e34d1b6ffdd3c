//! `maestro lsp` over stdio, in daemon and standalone modes.

use maestro_tests::{TestEnv, alive, file_uri, kill, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

fn lifecycle(standalone: bool) {
    let env = TestEnv::new();
    let repo = env.git_repo("life");
    let args: &[&str] = if standalone { &["--standalone"] } else { &[] };
    let mut lsp = env.lsp(&repo, args);
    let result = lsp.initialize(&repo, false, false);
    let caps = &result["capabilities"];
    assert_eq!(
        caps["positionEncoding"], "utf-16",
        "UTF-16 unless the client offers UTF-8"
    );
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    assert_eq!(caps["textDocumentSync"]["openClose"], true);
    let commands = caps["executeCommandProvider"]["commands"]
        .as_array()
        .unwrap();
    assert!(commands.contains(&json!("maestro.status")), "{commands:?}");
    assert_eq!(result["serverInfo"]["name"], "maestro");
    // Only what is implemented is advertised.
    let advertised: Vec<&String> = caps.as_object().unwrap().keys().collect();
    assert_eq!(
        advertised,
        [
            "callHierarchyProvider",
            "codeActionProvider",
            "codeLensProvider",
            "definitionProvider",
            "documentHighlightProvider",
            "documentSymbolProvider",
            "executeCommandProvider",
            "experimental",
            "hoverProvider",
            "positionEncoding",
            "referencesProvider",
            "textDocumentSync",
            "workspace",
            "workspaceSymbolProvider"
        ],
        "{caps}"
    );
    let mode = if standalone { "standalone" } else { "daemon" };
    assert_eq!(caps["experimental"]["maestro"]["mode"], mode);

    let status = lsp.rpc.request(
        "workspace/executeCommand",
        json!({"command": "maestro.status"}),
    );
    let status = &status["result"];
    assert_eq!(status["mode"], mode);
    assert_eq!(status["workspaces"][0]["root"], json!(repo), "{status}");
    assert!(
        status["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["client"]["name"] == "e2e-editor")
    );
    if standalone {
        assert!(
            env.daemon_pid().is_none(),
            "standalone mode starts no daemon"
        );
    } else {
        assert!(env.daemon_pid().is_some());
    }
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn initialize_shutdown_exit_with_the_daemon() {
    lifecycle(false);
}

#[test]
fn initialize_shutdown_exit_standalone() {
    lifecycle(true);
}

#[test]
fn exit_without_shutdown_is_exit_code_one_and_requests_after_shutdown_are_refused() {
    let env = TestEnv::new();
    let repo = env.git_repo("exit");
    let mut lsp = env.lsp(&repo, &["--standalone"]);
    lsp.initialize(&repo, false, false);
    lsp.rpc.notify("exit", Value::Null);
    assert_eq!(lsp.wait_exit(), 1);

    let mut lsp = env.lsp(&repo, &["--standalone"]);
    lsp.initialize(&repo, false, false);
    assert_eq!(
        lsp.rpc.request("shutdown", Value::Null)["result"],
        Value::Null
    );
    let r = lsp.rpc.request("maestro/status", json!({}));
    assert_eq!(r["error"]["code"], -32600, "{r}");
    lsp.rpc.notify("exit", Value::Null);
    assert_eq!(lsp.wait_exit(), 0);
}

#[test]
fn utf8_positions_are_negotiated_when_offered() {
    let env = TestEnv::new();
    let repo = env.git_repo("utf8");
    let mut lsp = env.lsp(&repo, &[]);
    let result = lsp.initialize(&repo, true, false);
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-8");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn requests_before_initialize_are_refused_and_notifications_dropped() {
    let env = TestEnv::new();
    let repo = env.git_repo("early");
    let mut lsp = env.lsp(&repo, &[]);
    let uri = file_uri(&repo.join("src/lib.rs"));
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": "x"}}),
    );
    for method in [
        "maestro/status",
        "workspace/executeCommand",
        "textDocument/hover",
    ] {
        let r = lsp
            .rpc
            .request(method, json!({"command": "maestro.status"}));
        assert_eq!(r["error"]["code"], -32002, "{method}: {r}");
    }
    lsp.initialize(&repo, false, false);
    let r = lsp
        .rpc
        .request("maestro/document.text", json!({"uri": uri}));
    assert_eq!(
        r["error"]["code"], -32091,
        "the didOpen before initialize was dropped: {r}"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn daemon_work_shows_as_work_done_progress() {
    let env = TestEnv::new();
    let repo = env.git_repo("progress");
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, true);
    let dest = env.home.path().join("backup.db");
    let id = lsp.rpc.send_request(
        "workspace/executeCommand",
        json!({"command": "maestro.store.backup", "arguments": [{"path": dest}]}),
    );
    // The workspace's first index has progress of its own: follow the backup's.
    let begin = lsp.rpc.wait_accepting_progress("the backup's begin", |m| {
        m["method"] == "$/progress"
            && m["params"]["value"]["title"] == "Backing up the maestro store"
    });
    let token = begin["params"]["token"].clone();
    let end = lsp.rpc.wait_accepting_progress("progress end", |m| {
        m["method"] == "$/progress"
            && m["params"]["token"] == token
            && m["params"]["value"]["kind"] == "end"
    });
    assert_eq!(end["params"]["token"], token);
    let r = lsp.rpc.response(id);
    assert!(r["result"]["sizeBytes"].as_u64().unwrap() > 0, "{r}");
    assert!(dest.exists());
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn daemon_events_are_relayed_as_maestro_notifications() {
    let env = TestEnv::new();
    let repo = env.git_repo("events");
    let other = env.git_repo("other");
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    // Another client opens a workspace: the editor hears of it.
    env.ok(&other, &["status"]);
    let n = lsp.rpc.wait_for("maestro/workspaceOpened", |m| {
        m["method"] == "maestro/workspaceOpened" && m["params"]["root"] == json!(other)
    });
    assert_eq!(n["params"]["kind"], "git");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn unknown_commands_and_bad_command_arguments_are_named() {
    let env = TestEnv::new();
    let repo = env.git_repo("cmds");
    let mut lsp = env.lsp(&repo, &["--standalone"]);
    lsp.initialize(&repo, false, false);
    let r = lsp.rpc.request(
        "workspace/executeCommand",
        json!({"command": "maestro.nope"}),
    );
    assert_eq!(r["error"]["code"], -32602);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown command \"maestro.nope\""),
        "{r}"
    );
    let r = lsp.rpc.request(
        "workspace/executeCommand",
        json!({"command": "maestro.store.backup", "arguments": [{"path": 3}]}),
    );
    assert_eq!(r["error"]["code"], -32602);
    assert!(
        r["error"]["message"].as_str().unwrap().contains("`path`"),
        "{r}"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn the_front_reconnects_to_a_new_daemon_and_loses_no_edit() {
    let env = TestEnv::new();
    let repo = env.git_repo("reconnect");
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    let uri = file_uri(&repo.join("src/lib.rs"));
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": "one\n"}}),
    );
    let first = env.daemon_pid().unwrap();
    kill(first, rustix::process::Signal::KILL);
    wait_until("the daemon is gone", Duration::from_secs(10), || {
        !alive(first)
    });
    // Edits made while the daemon is down reach the next one.
    lsp.rpc.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}}, "text": "two\n"}
        ]}),
    );
    let r = lsp
        .rpc
        .request("maestro/document.text", json!({"uri": uri}));
    assert_eq!(
        r["result"],
        json!({"uri": uri, "version": 2, "text": "one\ntwo\n"}),
        "{r}\n{}",
        lsp.stderr()
    );
    let second = env.daemon_pid().unwrap();
    assert_ne!(first, second);
    let status = lsp.rpc.request("maestro/status", json!({}));
    assert_eq!(
        status["result"]["workspaces"][0]["root"],
        json!(repo),
        "the workspace was reopened"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn standalone_beside_a_running_daemon_keeps_its_state_in_memory_and_says_so() {
    let env = TestEnv::new();
    let repo = env.git_repo("beside");
    env.ok(&repo, &["status"]);
    let mut lsp = env.lsp(&repo, &["--standalone"]);
    lsp.initialize(&repo, false, false);
    let warning = lsp
        .rpc
        .wait_for("a warning", |m| m["method"] == "window/showMessage");
    let text = warning["params"]["message"].as_str().unwrap();
    assert!(
        text.contains("in use by the maestro daemon") && text.contains("memory"),
        "{text}"
    );
    let status = lsp.rpc.request("maestro/status", json!({}));
    assert!(status["result"]["store"].get("path").is_none(), "{status}");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn logs_go_to_stderr_and_never_to_stdout() {
    let env = TestEnv::new();
    let repo = env.git_repo("logs");
    // The harness parses stdout strictly: a log line there fails the test.
    let mut lsp = env.lsp_with(&repo, &["--standalone"], &[("MAESTRO_LOG", "debug")]);
    lsp.initialize(&repo, false, false);
    let r = lsp.rpc.request("maestro/status", json!({}));
    assert!(r.get("result").is_some());
    let stderr = lsp.stderr.clone();
    assert_eq!(lsp.shutdown_and_exit(), 0);
    let stderr = stderr.lock().unwrap();
    assert!(
        stderr.contains("DEBUG"),
        "MAESTRO_LOG=debug logs to stderr: {stderr}"
    );
}

#[test]
fn a_standalone_editor_holding_the_store_is_named_when_a_daemon_cannot_start() {
    let env = TestEnv::new();
    let repo = env.git_repo("held");
    let mut lsp = env.lsp(&repo, &["--standalone"]);
    lsp.initialize(&repo, false, false);
    let out = env.run_in(&repo, &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = maestro_tests::text(&out.stderr);
    assert!(
        stderr.contains("the store is in use by `maestro lsp --standalone` (pid"),
        "{stderr}"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
    // Once the editor is gone the daemon starts.
    assert_eq!(env.json(&repo, &["status", "--json"])["started"], true);
}

#[test]
fn restart_and_restore_with_an_editor_connected() {
    let env = TestEnv::new();
    let repo = env.git_repo("busy");
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    let uri = file_uri(&repo.join("src/lib.rs"));
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": "kept"}}),
    );

    // Restart: the editor does not race a daemon in between; it follows the new one.
    let restarted = env.json(&repo, &["daemon", "restart", "--json"]);
    let new_pid = restarted["pid"].clone();
    assert_ne!(restarted["stopped"], new_pid);
    let status = lsp.rpc.request("maestro/status", json!({}));
    assert_eq!(status["result"]["pid"], new_pid, "{status}");

    // Restore: the editor's reconnection waits for it, then uses the restored store.
    let backup = env.home.path().join("b.db");
    env.ok(&repo, &["store", "backup", backup.to_str().unwrap()]);
    let other = env.git_repo("after-backup");
    env.ok(&other, &["status"]);
    let out = env.json(
        &repo,
        &["store", "restore", backup.to_str().unwrap(), "--json"],
    );
    assert_eq!(out["stoppedDaemon"], new_pid);
    let r = lsp
        .rpc
        .request("maestro/document.text", json!({"uri": uri}));
    assert_eq!(r["result"]["text"], "kept", "{r}\n{}", lsp.stderr());
    let status = lsp.rpc.request("maestro/status", json!({}));
    assert_eq!(
        status["result"]["knownWorkspaces"], 1,
        "the restored store does not know after-backup: {status}"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn a_broken_repository_config_is_shown_to_the_user_and_the_server_still_works() {
    let env = TestEnv::new();
    let repo = env.git_repo("badrepo");
    std::fs::create_dir_all(repo.join(".maestro")).unwrap();
    std::fs::write(repo.join(".maestro/config.toml"), "[workspace]\nname = 7\n").unwrap();
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    let shown = lsp
        .rpc
        .wait_for("a message", |m| m["method"] == "window/showMessage");
    let text = shown["params"]["message"].as_str().unwrap();
    assert!(
        text.contains(".maestro/config.toml:2: `workspace.name`: must be a string, got an integer"),
        "{text}"
    );
    assert_eq!(shown["params"]["type"], 2, "a warning");
    let status = lsp.rpc.request("maestro/status", json!({}));
    assert_eq!(status["result"]["workspaces"][0]["name"], "badrepo");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn a_front_exits_at_the_end_of_its_input_and_when_its_editor_dies() {
    let env = TestEnv::new();
    let dir = env.git_repo("gone");
    // No input at all: both modes end at once, with 1 (no `shutdown` came).
    for args in [&["--standalone"][..], &[][..]] {
        let started = std::time::Instant::now();
        let out = env
            .command()
            .current_dir(&dir)
            .arg("lsp")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "{args:?}: {:?}",
            started.elapsed()
        );
    }
    // Its input stays open, but the editor named in `initialize` dies.
    let mut editor = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let mut lsp = env.lsp(&dir, &[]);
    let uri = maestro_tests::file_uri(&dir);
    let r = lsp.rpc.request(
        "initialize",
        serde_json::json!({"processId": editor.id(), "rootUri": uri, "capabilities": {}}),
    );
    assert!(r.get("result").is_some(), "{r}");
    editor.kill().unwrap();
    editor.wait().unwrap();
    assert_eq!(lsp.wait_exit(), 1, "{}", lsp.stderr());
}
