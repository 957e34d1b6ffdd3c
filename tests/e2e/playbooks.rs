//! Playbook runs end to end: the real daemon handing tasks of real markdown files to fake agents
//! (their script is the task's text: `write`, `tick`, `commit`, `halt`, …) in real repositories.

use crate::agents::{agents_env, repo};
use maestro_tests::{TestEnv, alive, git, kill, text, wait_until};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// The JSON events of a `playbook run --json`.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Runs `maestro playbook run ARGS --json`, which must finish well, and returns its events.
pub(crate) fn run_ok(env: &TestEnv, dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["playbook", "run"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = env.run_in(dir, &all);
    assert!(
        out.status.success(),
        "{}\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr),
        env.daemon_logs()
    );
    events(&text(&out.stdout))
}

/// The run `id` as `playbook status` shows it.
fn run_status(env: &TestEnv, dir: &Path, id: &str) -> Value {
    env.json(dir, &["playbook", "status", id, "--json"])["runs"][0].clone()
}

fn wait_run(
    env: &TestEnv,
    dir: &Path,
    id: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    wait_until(what, Duration::from_secs(60), || {
        last = run_status(env, dir, id);
        pred(&last)
    });
    last
}

fn start_detached(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["playbook", "run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--detach", "--json"]);
    let run = env.json(dir, &all);
    run["id"].as_str().unwrap().to_owned()
}

/// Commit subjects of `dir`'s HEAD, oldest first.
fn subjects(dir: &Path) -> Vec<String> {
    git(dir, &["log", "--reverse", "--format=%s"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_five_task_document_is_ticked_in_order_with_one_commit_each() {
    let env = agents_env("");
    let dir = repo(&env, "five");
    let original: String = (1..=5)
        .map(|i| format!("- [ ] write f{i}.txt {i}; tick; commit task {i}\n"))
        .collect::<String>();
    let original = format!("# Five\n\nSome prose.\n\n{original}\n```\n- [ ] not a task\n```\n");
    std::fs::write(dir.join("PLAN.md"), &original).unwrap();
    let events = run_ok(&env, &dir, &["PLAN.md", "--agent", "claude"]);
    let k = kinds(&events);
    for want in [
        "start",
        "document_start",
        "task_start",
        "task_complete",
        "document_complete",
        "complete",
    ] {
        assert!(k.contains(&want.to_owned()), "no {want} in {k:?}");
    }
    let done: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "task_complete")
        .map(|e| e["task"].as_str().unwrap())
        .collect();
    assert_eq!(done.len(), 5, "{k:?}");
    for (i, task) in done.iter().enumerate() {
        assert!(
            task.starts_with(&format!("write f{}.txt", i + 1)),
            "{done:?}"
        );
    }
    // One commit per task, in order, and each box ticked once: only the checkbox bytes changed.
    assert_eq!(
        subjects(&dir)[1..],
        (1..=5).map(|i| format!("task {i}")).collect::<Vec<_>>()
    );
    let after = std::fs::read_to_string(dir.join("PLAN.md")).unwrap();
    assert_eq!(after, original.replacen("- [ ] write", "- [x] write", 5));
    assert!(
        after.contains("- [ ] not a task"),
        "code blocks are not tasks"
    );
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
    for i in 1..=5 {
        assert!(dir.join(format!("f{i}.txt")).exists());
    }
    // The history says who did what, how long it took and what it cost.
    let id = events[0]["run"].as_str().unwrap();
    let h = env.json(&dir, &["playbook", "history", id, "--json"]);
    assert_eq!(h["run"]["status"], "finished", "{h}");
    assert_eq!(h["run"]["tasksDone"], 5);
    let completed: Vec<&Value> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task_complete")
        .collect();
    assert_eq!(completed.len(), 5);
    assert_eq!(completed[0]["agent"], format!("claude-{id}"));
    assert!(completed[0]["durationSecs"].as_f64().unwrap() > 0.0);
    assert!(completed[0]["costUsd"].is_number());
    let shown = env.ok(&dir, &["playbook", "history", id]);
    assert!(shown.contains("✓ PLAN.md:5 write f1.txt 1"), "{shown}");
    // Every turn was a fresh session: the fake agent never said it resumed one.
    let logs = env.ok(&dir, &["agent", "logs", &format!("claude-{id}")]);
    assert!(!logs.contains("resumed session"), "{logs}");
}

#[test]
fn a_stalled_document_is_skipped_and_a_halt_stops_the_run() {
    let env = agents_env("");
    let dir = repo(&env, "stall");
    std::fs::write(
        dir.join("a.md"),
        "- [ ] say I will not tick this\n- [ ] write never.txt x; tick\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.md"),
        "- [ ] write b1.txt 1; tick; commit b1\n- [ ] halt the schema is wrong\n- [ ] write b3.txt 3; tick\n",
    )
    .unwrap();
    let out = env.run_in(
        &dir,
        &[
            "playbook",
            "run",
            "a.md",
            "b.md",
            "--stall-turns",
            "2",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let events = events(&text(&out.stdout));
    let k = kinds(&events);
    assert_eq!(
        k.iter().filter(|k| *k == "task_stalled").count(),
        2,
        "{k:?}"
    );
    let skipped = events
        .iter()
        .find(|e| e["event"] == "document_skipped")
        .unwrap();
    assert_eq!(skipped["document"], "a.md");
    assert!(
        skipped["message"]
            .as_str()
            .unwrap()
            .contains("2 turns in a row left"),
        "{skipped}"
    );
    let halted = events.iter().find(|e| e["event"] == "halted").unwrap();
    assert!(
        halted["message"]
            .as_str()
            .unwrap()
            .contains("the schema is wrong"),
        "{halted}"
    );
    assert_eq!(k.last().unwrap(), "complete");
    assert!(!dir.join("never.txt").exists());
    assert!(!dir.join("b3.txt").exists(), "nothing runs after a halt");
    let b = std::fs::read_to_string(dir.join("b.md")).unwrap();
    assert!(b.starts_with("- [x] write b1.txt"), "{b}");
    assert!(b.contains("HALT: the schema is wrong"), "{b}");
}

#[test]
fn a_review_gate_waits_for_approve() {
    let env = agents_env("");
    let dir = repo(&env, "review");
    let plan = "- [ ] write a.txt a; tick; commit a\n- [ ] REVIEW: look at a.txt\n- [ ] write b.txt b; tick; commit b\n";
    std::fs::write(dir.join("plan.md"), plan).unwrap();
    let id = start_detached(&env, &dir, &["plan.md"]);
    let waiting = wait_run(&env, &dir, &id, "the run waits at the gate", |r| {
        r["status"] == "review"
    });
    assert_eq!(waiting["tasksDone"], 1, "{waiting}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!dir.join("b.txt").exists(), "nothing passes the gate");
    assert_eq!(waiting["gate"]["line"], 2, "{waiting}");
    assert_eq!(
        waiting["gate"]["task"], "REVIEW: look at a.txt",
        "{waiting}"
    );
    let refused = env.run_in(&dir, &["playbook", "approve", "nope"]);
    assert!(text(&refused.stderr).contains("no playbook run `nope`"));
    // The editor shows "Approve" on the gate's task, and its command approves.
    let mut lsp = env.lsp(&dir, &[]);
    lsp.initialize(&dir, false, false);
    let uri = maestro_tests::file_uri(&dir.join("plan.md"));
    let lenses = lsp.rpc.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    let approve = lenses["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["command"]["command"] == "maestro.playbook.approve")
        .unwrap_or_else(|| panic!("no Approve lens: {lenses}"))
        .clone();
    assert_eq!(approve["range"]["start"]["line"], 1, "{approve}");
    assert!(
        approve["command"]["title"]
            .as_str()
            .unwrap()
            .starts_with("✓ Approve"),
        "{approve}"
    );
    let approved = lsp.rpc.request(
        "workspace/executeCommand",
        json!({"command": approve["command"]["command"], "arguments": approve["command"]["arguments"]}),
    );
    assert_eq!(approved["result"]["status"], "running", "{approved}");
    assert!(approved["result"].get("gate").is_none(), "{approved}");
    let done = wait_run(&env, &dir, &id, "the run finishes", |r| {
        r["status"] == "finished"
    });
    assert_eq!(done["tasksDone"], 2);
    let after = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert_eq!(after, plan.replace("[ ]", "[x]"));
    let again = env.run_in(&dir, &["playbook", "approve", &id]);
    assert!(
        text(&again.stderr).contains("not waiting at a review gate"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn a_daemon_killed_mid_run_resumes_and_ticks_each_task_once() {
    let env = agents_env("");
    let dir = repo(&env, "durable");
    let plan: String = (1..=5)
        .map(|i| format!("- [ ] sleep 400; write d{i}.txt {i}; tick; commit task {i}\n"))
        .collect();
    std::fs::write(dir.join("plan.md"), &plan).unwrap();
    let id = start_detached(&env, &dir, &["plan.md"]);
    wait_run(&env, &dir, &id, "two tasks done", |r| {
        r["tasksDone"].as_u64() >= Some(2) && !r["current"].as_array().unwrap().is_empty()
    });
    let daemon = env.daemon_pid().unwrap();
    kill(daemon, rustix::process::Signal::KILL);
    wait_until("the daemon is gone", Duration::from_secs(10), || {
        !alive(daemon)
    });
    // Any command starts a new daemon, which picks the run up.
    let done = wait_run(&env, &dir, &id, "the resumed run finishes", |r| {
        r["status"] == "finished"
    });
    assert_eq!(done["tasksDone"], 5, "{done}");
    assert_eq!(
        std::fs::read_to_string(dir.join("plan.md")).unwrap(),
        plan.replace("[ ]", "[x]")
    );
    assert_eq!(
        subjects(&dir)[1..],
        (1..=5).map(|i| format!("task {i}")).collect::<Vec<_>>(),
        "one commit per task, none twice"
    );
    let h = env.json(&dir, &["playbook", "history", &id, "--json"]);
    let k: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(k.contains(&"resumed"), "{k:?}");
    assert_eq!(
        k.iter().filter(|k| **k == "task_complete").count(),
        5,
        "{k:?}"
    );
}

#[test]
fn parallel_mode_spreads_tasks_over_two_agents_and_merges_them() {
    let env = agents_env("");
    let dir = repo(&env, "parallel");
    let plan: String = (1..=4)
        .map(|i| format!("- [ ] sleep 200; write p{i}.txt {i}; tick; commit task {i}\n"))
        .collect();
    std::fs::write(dir.join("plan.md"), &plan).unwrap();
    let uncommitted = env.run_in(&dir, &["playbook", "run", "plan.md", "--parallel", "2"]);
    assert!(
        text(&uncommitted.stderr).contains("commit the document first"),
        "{}",
        text(&uncommitted.stderr)
    );
    git(&dir, &["add", "plan.md"]);
    git(&dir, &["commit", "-qm", "the plan"]);
    let events = run_ok(&env, &dir, &["plan.md", "--parallel", "2"]);
    let workers: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|e| e["event"] == "task_complete")
        .map(|e| e["agent"].as_str().unwrap())
        .collect();
    assert_eq!(workers.len(), 2, "both agents worked: {workers:?}");
    assert_eq!(
        events.iter().filter(|e| e["event"] == "merge").count(),
        2,
        "{:?}",
        kinds(&events)
    );
    for i in 1..=4 {
        assert_eq!(
            std::fs::read_to_string(dir.join(format!("p{i}.txt"))).unwrap(),
            format!("{i}\n")
        );
    }
    // The run ticked the person's document itself once the branches merged.
    assert_eq!(
        std::fs::read_to_string(dir.join("plan.md")).unwrap(),
        plan.replace("[ ]", "[x]")
    );
}

#[test]
fn bad_playbooks_and_agents_get_clear_messages_and_files_stay_whole() {
    let env = agents_env("");
    let dir = repo(&env, "bad");
    let err = |args: &[&str]| {
        let out = env.run_in(&dir, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        text(&out.stderr)
    };
    assert!(err(&["playbook", "run", "missing.md"]).contains("missing.md: cannot read it"));
    std::fs::write(dir.join("notes.txt"), "- [ ] a\n").unwrap();
    assert!(err(&["playbook", "run", "notes.txt"]).contains("is not a markdown file"));
    std::fs::write(dir.join("empty.md"), "# Nothing\n\nJust prose.\n").unwrap();
    assert!(err(&["playbook", "run", "empty.md"]).contains("empty.md has no tasks"));
    std::fs::write(dir.join("who.md"), "- [ ] one @nobody\n").unwrap();
    let e = err(&["playbook", "run", "who.md"]);
    assert!(e.contains("who.md line 1: unknown agent `nobody`"), "{e}");
    std::fs::write(
        dir.join("tmpl.md"),
        "---\nprompt: do {{TSK}}\n---\n- [ ] one\n",
    )
    .unwrap();
    assert!(err(&["playbook", "run", "tmpl.md"]).contains("{{TSK}}"));
    std::fs::write(dir.join("ok.md"), "- [ ] one\n- [x] two\n- [] three\n").unwrap();
    let plan = env.ok(&dir, &["playbook", "run", "ok.md", "--dry-run"]);
    assert!(plan.contains("warning: ok.md line 3"), "{plan}");
    assert!(
        plan.contains("ok.md:1  one  (a new claude agent)"),
        "{plan}"
    );
    // An agent that rewrites a task stops the run; the file keeps what the agent wrote, and
    // maestro writes nothing to it.
    let tampered = "- [ ] rewrite\n- [ ] write t.txt; tick\n";
    std::fs::write(dir.join("t.md"), tampered).unwrap();
    let out = env.run_in(&dir, &["playbook", "run", "t.md", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let halted = events(&text(&out.stdout))
        .into_iter()
        .find(|e| e["event"] == "halted")
        .unwrap();
    assert!(
        halted["message"]
            .as_str()
            .unwrap()
            .contains("deleted, rewritten or moved"),
        "{halted}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        "- [ ] rewritten: rewrite\n- [ ] write t.txt; tick\n"
    );
    assert!(!dir.join("t.txt").exists());
}

#[test]
fn loops_work_on_fresh_copies_and_runs_pause_resume_and_stop() {
    let env = agents_env("");
    let dir = repo(&env, "loops");
    let plan =
        "- [ ] write l1.txt one; tick; commit one\n- [ ] write l2.txt two; tick; commit two\n";
    std::fs::write(dir.join("plan.md"), plan).unwrap();
    let events = run_ok(
        &env,
        &dir,
        &[
            "plan.md",
            "--loop",
            "--max-loops",
            "2",
            "--reset-on-completion",
        ],
    );
    let id = events[0]["run"].as_str().unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "loop_complete")
            .count(),
        2,
        "{:?}",
        kinds(&events)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("plan.md")).unwrap(),
        plan,
        "the original is never written"
    );
    for n in 1..=2 {
        let copy = dir.join(format!(".maestro/playbooks/Runs/plan-{id}-loop{n}.md"));
        assert_eq!(
            std::fs::read_to_string(&copy).unwrap(),
            plan.replace("[ ]", "[x]"),
            "loop {n}"
        );
    }

    // Pause lets the running turn finish and starts no other; resume goes on; stop kills.
    let slow: String = (1..=4)
        .map(|i| format!("- [ ] sleep 600; write s{i}.txt {i}; tick; commit slow {i}\n"))
        .collect();
    std::fs::write(dir.join("slow.md"), &slow).unwrap();
    let id = start_detached(&env, &dir, &["slow.md"]);
    wait_run(&env, &dir, &id, "a turn running", |r| {
        !r["current"].as_array().unwrap().is_empty()
    });
    env.ok(&dir, &["playbook", "pause", &id]);
    let paused = wait_run(&env, &dir, &id, "paused", |r| r["status"] == "paused");
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(
        run_status(&env, &dir, &id)["tasksDone"],
        paused["tasksDone"],
        "nothing runs while paused"
    );
    env.ok(&dir, &["playbook", "resume", &id]);
    wait_run(&env, &dir, &id, "working again", |r| {
        r["status"] == "running" && !r["current"].as_array().unwrap().is_empty()
    });
    let twice = env.run_in(&dir, &["playbook", "resume", &id]);
    assert!(
        text(&twice.stderr).contains("not paused: nothing to resume"),
        "{}",
        text(&twice.stderr)
    );
    env.ok(&dir, &["playbook", "stop", &id]);
    let stopped = wait_run(&env, &dir, &id, "stopped", |r| r["status"] == "stopped");
    assert!(stopped["tasksDone"].as_u64().unwrap() < 4, "{stopped}");
    let again = env.run_in(&dir, &["playbook", "stop", &id]);
    assert!(
        text(&again.stderr).contains("already stopped"),
        "{}",
        text(&again.stderr)
    );
    // A stopped run resumes at its first open task.
    env.ok(&dir, &["playbook", "resume", &id]);
    let done = wait_run(&env, &dir, &id, "finished after resume", |r| {
        r["status"] == "finished"
    });
    assert_eq!(
        std::fs::read_to_string(dir.join("slow.md")).unwrap(),
        slow.replace("[ ]", "[x]"),
        "{done}"
    );
}

#[test]
fn an_editor_sees_problems_lenses_and_runs_a_task_with_progress() {
    let env = agents_env("");
    let dir = repo(&env, "editor");
    let text_of = "- [ ] write e1.txt 1; tick; commit e1\n- [] nearly a task\n- [ ] second @nobody\n- [ ] REVIEW: a person looks\n";
    std::fs::write(dir.join("plan.md"), text_of).unwrap();
    let mut lsp = env.lsp(&dir, &[]);
    lsp.initialize(&dir, true, true);
    let uri = maestro_tests::file_uri(&dir.join("plan.md"));
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": text_of}}),
    );
    let published = lsp.rpc.wait_accepting_progress("diagnostics", |m| {
        m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
    });
    let diags = published["params"]["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 2, "{published}");
    assert_eq!(diags[0]["range"]["start"]["line"], 1);
    assert_eq!(diags[0]["severity"], 2);
    assert!(
        diags[1]["message"]
            .as_str()
            .unwrap()
            .contains("unknown agent `@nobody`")
    );
    assert_eq!(diags[1]["severity"], 1);

    let lenses = lsp.rpc.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    let lenses = lenses["result"].as_array().unwrap().clone();
    let titles: Vec<(u64, &str)> = lenses
        .iter()
        .map(|l| {
            (
                l["range"]["start"]["line"].as_u64().unwrap(),
                l["command"]["title"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        titles,
        [
            (0, "▶ Run task"),
            (0, "Run from here"),
            (2, "▶ Run task"),
            (2, "Run from here")
        ],
        "no lenses on review gates"
    );
    let actions = lsp.rpc.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}}),
    );
    let run_all = actions["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Run this playbook")
        .unwrap_or_else(|| panic!("{actions}"))
        .clone();
    assert_eq!(run_all["command"]["command"], "maestro.playbook.run");

    // The first lens runs only its task; the editor hears progress and the run's events.
    let started = lsp
        .rpc
        .request("workspace/executeCommand", lenses[0]["command"].clone());
    assert_eq!(started["result"]["run"]["status"], "running", "{started}");
    let complete = lsp.rpc.wait_accepting_progress("the run completes", |m| {
        m["method"] == "maestro/playbookProgress" && m["params"]["event"]["kind"] == "complete"
    });
    assert_eq!(
        complete["params"]["run"]["status"], "finished",
        "{complete}"
    );
    assert_eq!(complete["params"]["run"]["tasksDone"], 1);
    let kept = lsp.rpc.take_kept(|m| m["method"] == "$/progress");
    assert!(
        kept.iter().any(|m| m["params"]["value"]["kind"] == "begin"
            && m["params"]["value"]["title"] == "Playbook plan.md"),
        "{kept:?}"
    );
    let after = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(after.starts_with("- [x] write e1.txt"), "{after}");
    assert!(
        after.contains("- [ ] second @nobody"),
        "only the one task ran: {after}"
    );
}
