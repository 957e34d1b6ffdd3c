//! The daemon's life: started on demand, one per user, replaced after a crash, idle exit, stop and
//! restart, permissions, bad configuration.

use maestro_tests::{TestEnv, alive, kill, text, wait_until};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn status_starts_the_daemon_on_demand_in_a_repository_and_reports_it() {
    let env = TestEnv::new();
    let repo = env.git_repo("shop");
    let nested = repo.join("src");
    let first = env.json(&nested, &["status", "--json"]);
    assert_eq!(first["started"], true);
    assert_eq!(first["mode"], "daemon");
    assert_eq!(first["workspace"]["root"], json!(repo));
    assert_eq!(first["workspace"]["kind"], "git");
    assert_eq!(first["workspace"]["name"], "shop");
    assert_eq!(
        first["store"]["schemaVersion"],
        maestro_store::SCHEMA_VERSION
    );
    let pid = first["pid"].as_u64().unwrap() as u32;
    assert_eq!(env.daemon_pid(), Some(pid));

    let second = env.json(&repo, &["status", "--json"]);
    assert_eq!(
        (second["started"].clone(), second["pid"].clone()),
        (json!(false), json!(pid))
    );

    let human = env.ok(&repo, &["status"]);
    assert!(
        human.contains(&format!("daemon running, pid {pid}")),
        "{human}"
    );
    assert!(
        human.contains("shop (git)") && human.contains("← here"),
        "{human}"
    );

    assert_eq!(mode(env.socket().parent().unwrap()), 0o700);
    assert_eq!(mode(&env.socket()), 0o600);
    let log = std::fs::read_to_string(env.log_file()).unwrap();
    assert!(log.contains("daemon listening"), "{log}");
}

#[test]
fn two_clients_starting_at_once_start_exactly_one_daemon() {
    let env = TestEnv::new();
    let repo = env.git_repo("race");
    let children: Vec<_> = (0..6)
        .map(|_| {
            env.command()
                .current_dir(&repo)
                .args(["status", "--json"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut pids = Vec::new();
    let mut started = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        pids.push(v["pid"].as_u64().unwrap());
        started += usize::from(v["started"] == true);
    }
    pids.dedup();
    assert_eq!(pids.len(), 1, "every client reached the same daemon");
    assert_eq!(
        started, 1,
        "one client started the daemon, the others found it"
    );
    assert_eq!(
        daemons_of(&env),
        vec![pids[0] as u32],
        "exactly one daemon process runs"
    );
}

/// Every live `maestro daemon` process started with this environment's MAESTRO_HOME.
fn daemons_of(env: &TestEnv) -> Vec<u32> {
    let home = format!("MAESTRO_HOME={}", env.home.path().display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if args.len() < 2 || args[1] != b"daemon" || !args[0].ends_with(b"maestro") {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.split(|&b| b == 0).any(|v| v == home.as_bytes()) && alive(pid) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_daemon_killed_mid_write_is_replaced_by_the_next_client_and_the_store_is_intact() {
    let env = TestEnv::new();
    let repos: Vec<_> = (0..3).map(|i| env.git_repo(&format!("r{i}"))).collect();
    for repo in &repos {
        env.ok(repo, &["status"]);
    }
    let first = env.daemon_pid().unwrap();
    // Pipeline workspace writes and kill the daemon while they land.
    let mut rpc = env.connect_hello();
    for i in 0..40 {
        let dir = env.home.path().join(format!("extra{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        rpc.send_request("maestro/workspace.open", json!({"path": dir}));
    }
    kill(first, rustix::process::Signal::KILL);
    wait_until("the daemon is gone", Duration::from_secs(10), || {
        !alive(first)
    });
    assert!(
        env.socket().exists(),
        "a killed daemon leaves its socket behind"
    );

    let status = env.json(&repos[0], &["status", "--json"]);
    assert_eq!(
        status["started"], true,
        "the next client started a new daemon"
    );
    assert_ne!(status["pid"], json!(first));
    let known = status["knownWorkspaces"].as_u64().unwrap();
    assert!(
        (3..=43).contains(&known),
        "the three workspaces survive, and whole writes only: {known}"
    );
    let doctor = env.run(&["doctor", "--json"]);
    let store_check = text(&doctor.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|c| c["check"] == "store")
        .unwrap();
    assert_eq!(store_check["status"], "ok", "{store_check}");
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.socket().parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(env.socket()).unwrap());
    assert!(env.socket().exists());
    let status = env.json(env.home.path(), &["status", "--json"]);
    assert_eq!(status["started"], true);
}

#[test]
fn an_idle_daemon_exits_but_not_while_an_editor_is_connected() {
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 1\n");
    let repo = env.git_repo("idle");
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    let pid = env.daemon_pid().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(alive(pid), "a connected editor keeps the daemon up");
    assert_eq!(lsp.shutdown_and_exit(), 0);
    wait_until("the idle daemon exits", Duration::from_secs(10), || {
        !alive(pid)
    });
    assert!(!env.socket().exists(), "it removes its socket");
    let log = std::fs::read_to_string(env.log_file()).unwrap();
    assert!(log.contains("idle for 1 s"), "{log}");
}

#[test]
fn stop_start_restart_and_status_of_the_daemon() {
    let env = TestEnv::new();
    let home = env.home.path().to_path_buf();
    let out = env.run(&["daemon", "status"]);
    assert_eq!(out.status.code(), Some(3), "not running is exit code 3");
    assert!(text(&out.stdout).contains("not running"));
    assert!(env.ok(&home, &["daemon", "stop"]).contains("not running"));

    let started = env.json(&home, &["daemon", "start", "--json"]);
    assert_eq!(started["started"], true);
    let again = env.json(&home, &["daemon", "start", "--json"]);
    assert_eq!(
        (again["started"].clone(), again["pid"].clone()),
        (json!(false), started["pid"].clone())
    );
    assert!(
        env.ok(&home, &["daemon", "status"])
            .contains("daemon running")
    );

    let restarted = env.json(&home, &["daemon", "restart", "--json"]);
    assert_eq!(restarted["stopped"], started["pid"]);
    assert_ne!(restarted["pid"], started["pid"]);
    let old = started["pid"].as_u64().unwrap() as u32;
    assert!(!alive(old));

    let stopped = env.json(&home, &["daemon", "stop", "--json"]);
    assert_eq!(stopped["stopped"], true);
    assert!(!alive(restarted["pid"].as_u64().unwrap() as u32));
    assert!(!env.socket().exists());

    let logs = env.ok(&home, &["daemon", "logs", "-n", "3"]);
    assert_eq!(logs.lines().count(), 3, "{logs}");
    assert!(logs.contains("daemon stopping"), "{logs}");
}

#[test]
fn a_client_of_another_protocol_version_is_told_to_restart_the_daemon() {
    let env = TestEnv::new();
    env.ok(env.home.path(), &["daemon", "start"]);
    let mut rpc = env.connect();
    let r = rpc.request(
        "maestro/hello",
        json!({"protocolVersion": 99, "client": {"name": "future", "kind": "cli"}}),
    );
    assert_eq!(r["error"]["code"], -32090);
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("protocol 1") && message.contains("maestro daemon restart"),
        "{message}"
    );
    assert_eq!(r["error"]["data"]["protocolVersion"], 1);
    // Shutdown works across versions, so `maestro daemon restart` of any version can stop this one.
    let pid = env.daemon_pid().unwrap();
    assert_eq!(
        rpc.request("maestro/shutdown", Value::Null)["result"],
        Value::Null
    );
    wait_until("the daemon stops", Duration::from_secs(10), || !alive(pid));
}

#[test]
fn a_bad_user_config_is_a_clear_error_naming_key_and_file() {
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 60\nidle_timout = 5\n");
    let repo = env.git_repo("badconfig");
    let out = env.run_in(&repo, &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let file = env.home.path().join("config/config.toml");
    assert!(
        stderr.contains(&format!(
            "{}:3: `daemon.idle_timout`: unknown key",
            file.display()
        )),
        "{stderr}"
    );
    let out = env.run_in(&repo, &["config", "show"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("daemon.idle_timout"));

    // A repository's config may not set daemon keys; the editor still works and is told.
    env.write_config("");
    std::fs::create_dir_all(repo.join(".maestro")).unwrap();
    std::fs::write(
        repo.join(".maestro/config.toml"),
        "[daemon]\nidle_timeout_secs = 1\n",
    )
    .unwrap();
    let status = env.json(&repo, &["status", "--json"]);
    let err = status["workspace"]["configError"].as_str().unwrap();
    assert!(
        err.contains("can only be set in the user's config file"),
        "{err}"
    );
}

#[test]
fn config_show_reports_each_value_and_its_source() {
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 42\n");
    let repo = env.git_repo("cfg");
    std::fs::create_dir_all(repo.join(".maestro")).unwrap();
    std::fs::write(
        repo.join(".maestro/config.toml"),
        "[workspace]\nname = \"storefront\"\n",
    )
    .unwrap();
    let out = env.ok(&repo, &["config", "show", "--json"]);
    let entries: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let get = |key: &str| entries.iter().find(|e| e["key"] == key).unwrap().clone();
    assert_eq!(get("daemon.idle_timeout_secs")["value"], 42);
    assert_eq!(
        get("daemon.idle_timeout_secs")["source"],
        json!(env.home.path().join("config/config.toml"))
    );
    assert_eq!(get("workspace.name")["value"], "storefront");
    assert_eq!(
        get("workspace.name")["source"],
        json!(repo.join(".maestro/config.toml"))
    );
    assert_eq!(get("rpc.max_frame_bytes")["source"], "default");
    assert_eq!(get("rpc.max_frame_bytes")["default"], 67108864);
    let human = env.ok(&repo, &["config", "show"]);
    assert!(human.contains("workspace.name = \"storefront\""), "{human}");
    // The name reaches the daemon too.
    assert_eq!(
        env.json(&repo, &["status", "--json"])["workspace"]["name"],
        "storefront"
    );
}

#[test]
fn status_outside_a_repository_registers_nothing_and_up_registers_the_folder() {
    let env = TestEnv::new();
    let folder = env.home.path().join("notes");
    std::fs::create_dir_all(&folder).unwrap();
    let status = env.json(&folder, &["status", "--json"]);
    assert_eq!(status["workspace"], Value::Null);
    assert_eq!(status["knownWorkspaces"], 0);
    assert!(
        env.ok(&folder, &["status"])
            .contains("not in a git repository")
    );
    let up = env.json(&folder, &["up", "--json"]);
    assert_eq!(up["workspace"]["kind"], "folder");
    assert_eq!(up["knownWorkspaces"], 1);
}
