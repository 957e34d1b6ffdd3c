//! The command line itself: help everywhere, completions, doctor.

use maestro_tests::{TestEnv, text};
use serde_json::Value;

#[test]
fn every_command_has_help() {
    let env = TestEnv::new();
    let commands: &[&[&str]] = &[
        &[],
        &["up"],
        &["status"],
        &["daemon"],
        &["daemon", "start"],
        &["daemon", "stop"],
        &["daemon", "restart"],
        &["daemon", "status"],
        &["daemon", "logs"],
        &["lsp"],
        &["config"],
        &["config", "show"],
        &["doctor"],
        &["store"],
        &["store", "backup"],
        &["store", "restore"],
        &["completions"],
        &["agent"],
        &["agent", "spawn"],
        &["agent", "send"],
        &["agent", "review"],
        &["agent", "list"],
        &["agent", "status"],
        &["agent", "stop"],
        &["agent", "diff"],
        &["agent", "merge"],
        &["agent", "remove"],
        &["agent", "logs"],
        &["usage"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = env.run(&args);
        assert!(out.status.success(), "maestro {args:?}");
        assert!(
            text(&out.stdout).contains("Usage: maestro"),
            "maestro {args:?}: {}",
            text(&out.stdout)
        );
    }
    assert!(env.daemon_pid().is_none(), "help starts nothing");
}

#[test]
fn completions_are_printed_for_each_shell() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = env.run(&["completions", shell]);
        assert!(out.status.success());
        assert!(text(&out.stdout).contains("restore"), "{shell}");
    }
    let out = env.run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value 'tcsh'"));
}

#[test]
fn doctor_checks_the_machine_and_says_how_to_fix_what_is_missing() {
    let env = TestEnv::new();
    let repo = env.git_repo("doc");
    let out = env
        .command()
        .current_dir(&repo)
        .args(["doctor", "--json"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let checks: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let get = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check"))
    };
    assert_eq!(get("git")["status"], "ok");
    assert_eq!(get("claude")["status"], "warn");
    assert!(
        get("claude")["fix"]
            .as_str()
            .unwrap()
            .contains("npm install -g @anthropic-ai/claude-code")
    );
    for name in [
        "codex",
        "gemini",
        "opencode",
        "aider",
        "embedding runtime",
        "embedding model",
        "nats-server",
    ] {
        get(name);
    }
    // This installation has no models: keyword search only, and doctor names the fix.
    assert_eq!(get("embedding runtime")["status"], "warn");
    assert_eq!(get("embedding runtime")["fix"], "maestro models install");
    assert_eq!(get("embedding model")["status"], "skip");
    assert_eq!(get("store")["status"], "ok");
    assert_eq!(get("daemon")["status"], "ok");
    assert!(out.status.success(), "{checks:?}");
    assert!(env.daemon_pid().is_none(), "doctor starts nothing");
    let human = env.ok(&repo, &["doctor"]);
    assert!(human.contains("✓ git"), "{human}");
}

#[test]
fn up_prints_status_and_editor_setup() {
    let env = TestEnv::new();
    let repo = env.git_repo("uprepo");
    let out = env.run_in(&repo, &["up"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("uprepo (git)"), "{stdout}");
    assert!(stdout.contains("maestro lsp"), "{stdout}");
    assert!(
        stdout.contains("indexed uprepo") && stdout.contains("1 file (1 parsed"),
        "up indexes the repository: {stdout}"
    );
    let json = env.json(&repo, &["up", "--json"]);
    assert_eq!(json["index"]["files"], 1, "{json}");
    assert!(text(&out.stderr).contains("started the maestro daemon"));
    // `status` registers the repository it runs in but does not index it; `up` does.
    let quiet = env.git_repo("quiet");
    env.ok(&quiet, &["status"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = std::fs::read_to_string(env.log_file()).unwrap();
    assert!(
        !log.lines()
            .any(|l| l.contains("symbols") && l.contains(quiet.to_str().unwrap())),
        "status indexed: {log}"
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let env = TestEnv::new();
    for args in [&["config", "show"][..], &["completions", "bash"][..]] {
        let mut child = env
            .command()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the first byte is read (`| head -0`).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            !text(&out.stderr).contains("panicked"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_repository_cannot_print_control_characters_through_its_name() {
    let env = TestEnv::new();
    let dir = env.git_repo("named");
    std::fs::create_dir_all(dir.join(".maestro")).unwrap();
    std::fs::write(
        dir.join(".maestro/config.toml"),
        "[workspace]\nname = \"ok\\u001b]0;owned\\u0007\\u001b[2J\"\n",
    )
    .unwrap();
    let out = env.run_in(&dir, &["status"]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains('\u{1b}'), "{all:?}");
    assert!(all.contains("workspace.name"), "the key is named: {all}");
}

/// File names, symbols and playbook tasks come from the repository: printed for people, their
/// control characters are written out (`\u{1b}`), never sent to the terminal.
#[test]
fn repository_strings_reach_the_terminal_with_control_characters_written_out() {
    let env = crate::agents::agents_env("");
    let dir = env.git_repo("hostile");
    let evil = "e\u{1b}]0;owned\u{7}\u{1b}[2Jvil";
    std::fs::write(dir.join(format!("{evil}.py")), "def planted():\n    pass\n").unwrap();
    std::fs::write(
        dir.join("tasks.md"),
        format!("- [ ] fix the {evil} thing\n"),
    )
    .unwrap();
    let indexed = env.run_in(&dir, &["index"]);
    let symbols = env.run_in(&dir, &["graph", "symbols", "planted"]);
    let plan = env.run_in(&dir, &["playbook", "run", "tasks.md", "--dry-run"]);
    for out in [&indexed, &symbols, &plan] {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains('\u{1b}') && !all.contains('\u{7}'), "{all:?}");
    }
    assert!(
        text(&symbols.stdout).contains("e\\u{1b}]0;owned\\u{7}\\u{1b}[2Jvil.py"),
        "{:?} {:?} {:?}",
        text(&symbols.stdout),
        text(&symbols.stderr),
        text(&indexed.stdout)
    );
    assert!(
        text(&plan.stdout).contains("fix the e\\u{1b}]0;owned"),
        "{}",
        text(&plan.stdout)
    );
    // Machines get the exact name, percent-encoded in the URI.
    let json = env.ok(&dir, &["graph", "symbols", "planted", "--json"]);
    assert!(json.contains("e%1B%5D0;owned%07"), "{json}");
}
