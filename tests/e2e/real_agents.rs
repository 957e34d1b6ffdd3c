//! The five real agent CLIs (pinned, installed by scripts/test) driven through maestro against the
//! project's mock model servers: each one works in its own worktree, calls tools, commits on
//! `maestro/<name>`, resumes its session, and the tokens maestro stores are the ones the mock
//! served. The fake agent cannot show any of this: it speaks the protocols as we read them.

use crate::agents::{Terminal, repo, status};
use maestro_tests::mock_model::{MockModel, Served};
use maestro_tests::real_clis::real_env;
use maestro_tests::{TestEnv, git, text};
use serde_json::Value;
use std::path::Path;

/// The last line of a `--wait --json` run: the agent at the end of its turn.
pub(crate) fn turn_end(stdout: &str) -> Value {
    let last = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["event"], "turn_end", "{stdout}");
    v["agent"].clone()
}

/// Runs `maestro ARGS --wait --json` in `dir`; its exit code and the agent at the end.
pub(crate) fn waited(env: &TestEnv, dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--wait", "--json"]);
    let out = env.run_in(dir, &all);
    let stdout = text(&out.stdout);
    if stdout
        .lines()
        .last()
        .is_none_or(|l| !l.contains("turn_end"))
    {
        panic!(
            "maestro {all:?} gave no turn end ({}): {stdout}\n{}\n{}",
            out.status,
            text(&out.stderr),
            env.daemon_logs()
        );
    }
    (out.status.code().unwrap_or(-1), turn_end(&stdout), stdout)
}

/// The content of `file` as committed on `branch`, if it is.
fn committed(dir: &Path, branch: &str, file: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["show", &format!("{branch}:{file}")])
        .current_dir(dir)
        .output()
        .expect("running git");
    out.status.success().then(|| text(&out.stdout))
}

/// A prompt the mock model follows: write `file`, commit it, then say `words`.
fn commit_prompt(cli: &str, file: &str, words: &str) -> String {
    format!(
        "Add {file} and commit it.\n\
         MOCK: write {file} written by {cli}\n\
         MOCK: run git add -A && git commit -qm 'add {file}'\n\
         MOCK: say {words}"
    )
}

/// Tokens the mock served, as maestro stores them: input without the cached part (OpenAI and
/// Gemini count cached tokens inside input; maestro apart, as Anthropic does).
fn served_tokens(served: &[Served]) -> (u64, u64, u64) {
    served.iter().fold((0, 0, 0), |(i, o, c), s| {
        (
            i + s.input_tokens - s.cached_tokens,
            o + s.output_tokens,
            c + s.cached_tokens,
        )
    })
}

fn stored_tokens(env: &TestEnv, dir: &Path, agent: &str) -> (u64, u64, u64) {
    let usage = env.ok(dir, &["usage", "--json"]);
    let row: Value = usage
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["key"] == agent)
        .unwrap_or_else(|| panic!("no usage of {agent}: {usage}"));
    let n = |k: &str| row[k].as_u64().unwrap_or(0);
    (n("inputTokens"), n("outputTokens"), n("cacheReadTokens"))
}

/// Spawn → tool calls → a commit on `maestro/<name>` → its words; then `send` resumes the session
/// (the mock saw the first prompt in the second turn's history) and commits again; the tokens
/// stored are those the mock served.
fn works_commits_and_resumes(cli: &str) {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, &format!("{cli}-repo"));
    let name = format!("{cli}-worker");
    let first = commit_prompt(cli, "notes/first.txt", "first task done");
    let (code, agent, stdout) = waited(
        &env,
        &dir,
        &["agent", "spawn", &name, &first, "--agent", cli],
    );
    let logs = env.ok(&dir, &["agent", "logs", &name]);
    assert_eq!(code, 0, "{stdout}\n{logs}");
    assert_eq!(agent["state"], "idle", "{agent}\n{logs}");
    assert!(agent.get("warnings").is_none(), "{agent}\n{logs}");
    assert!(logs.contains("first task done"), "{logs}");
    let branch = format!("maestro/{name}");
    assert_eq!(
        committed(&dir, &branch, "notes/first.txt").as_deref(),
        Some(format!("written by {cli}\n").as_str()),
        "{logs}"
    );
    assert_eq!(
        git(&dir, &["status", "--porcelain"]),
        "",
        "the checkout is untouched"
    );
    // Made as the person whose global git configuration names them (Gemini's shell does not
    // read that file: maestro passes the identity on; aider adds "(aider)").
    let author = git(&dir, &["log", "-1", "--format=%an <%ae>", &branch]);
    assert!(
        author.starts_with("Agent Person") && author.contains("<person@example.com>"),
        "{author}"
    );

    let second = commit_prompt(cli, "notes/second.txt", "second task done");
    let (code, agent, stdout) = waited(&env, &dir, &["agent", "send", &name, &second]);
    let logs = env.ok(&dir, &["agent", "logs", &name]);
    assert_eq!(code, 0, "{stdout}\n{logs}");
    assert_eq!(agent["state"], "idle", "{agent}");
    assert!(logs.contains("second task done"), "{logs}");
    assert_eq!(
        committed(&dir, &branch, "notes/second.txt").as_deref(),
        Some(format!("written by {cli}\n").as_str()),
        "{logs}"
    );
    assert_eq!(
        git(&dir, &["rev-list", "--count", &format!("main..{branch}")]).trim(),
        "2",
        "one commit per turn"
    );
    let resumed = mock.served_for("notes/second.txt");
    assert!(!resumed.is_empty(), "the second turn reached the model");
    if cli != "aider" {
        // aider has no sessions: each turn starts from the files.
        assert!(
            resumed[0]
                .user_texts
                .iter()
                .any(|t| t.contains("notes/first.txt")),
            "{cli}'s second turn carries the first in its history: {:?}",
            resumed[0].user_texts
        );
    }
    // aider and OpenCode report the tokens of the conversation, not of what they ask on the
    // side (a commit message, a title); Claude and Gemini count theirs too.
    let served: Vec<Served> = mock
        .served()
        .into_iter()
        .filter(|s| !matches!(cli, "aider" | "opencode") || s.prompt.is_some())
        .collect();
    let stored = stored_tokens(&env, &dir, &name);
    assert_eq!(
        stored,
        served_tokens(&served),
        "tokens stored (input, output, cache read) are what the mock served: {:?}",
        served
            .iter()
            .map(|s| (
                &s.answer,
                s.body.to_string().chars().take(300).collect::<String>()
            ))
            .collect::<Vec<_>>()
    );
    if cli == "codex" {
        // Its model came from its session file, and the table prices it (gpt-5: $1.25, $10 and
        // $0.125 per million input, output and cached input tokens), cached input once.
        let agent = status(&env, &dir, &name);
        let (input, output, cached) = stored;
        let expected = (input as f64 * 1.25 + output as f64 * 10.0 + cached as f64 * 0.125) / 1e6;
        let cost = agent["usage"]["costUsd"].as_f64().unwrap();
        assert!(
            (cost - expected).abs() < 1e-9,
            "{cost} ≠ {expected}: {agent}"
        );
    }

    // Its work merges into the checkout, and it is removed with its worktree and branch.
    let diff = env.json(&dir, &["agent", "diff", &name, "--json"]);
    assert_eq!(diff["commits"], 2, "{diff}");
    assert_eq!(diff["uncommitted"], false, "{diff}");
    let merged = env.json(&dir, &["agent", "merge", &name, "--json"]);
    assert_eq!(merged["fastForward"], true, "{merged}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes/second.txt")).unwrap(),
        format!("written by {cli}\n")
    );
    let worktree = std::path::PathBuf::from(agent["worktree"].as_str().unwrap());
    let removed = env.json(&dir, &["agent", "remove", &name, "--json"]);
    assert_eq!(removed["branchDeleted"], branch.as_str(), "{removed}");
    assert!(!worktree.exists());
}

#[test]
fn claude_works_commits_and_resumes() {
    works_commits_and_resumes("claude");
}

#[test]
fn codex_works_commits_and_resumes() {
    works_commits_and_resumes("codex");
}

#[test]
fn gemini_works_in_a_fresh_worktree_commits_and_resumes() {
    works_commits_and_resumes("gemini");
}

#[test]
fn opencode_works_commits_and_resumes() {
    works_commits_and_resumes("opencode");
}

#[test]
fn aider_works_and_commits_each_turn() {
    works_commits_and_resumes("aider");
}

/// A person's review comment on the agent's change reaches the model in the agent's next turn,
/// with the file, the line and the hunk it is about.
fn a_review_reaches_the_model_with_its_hunk(cli: &str) {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, &format!("{cli}-review"));
    let name = format!("{cli}-reviewed");
    let first = commit_prompt(cli, "notes/first.txt", "first task done");
    let (code, _, stdout) = waited(
        &env,
        &dir,
        &["agent", "spawn", &name, &first, "--agent", cli],
    );
    assert_eq!(code, 0, "{stdout}");
    let comment = "Say who wrote this file, and why.";
    let (code, agent, stdout) = waited(
        &env,
        &dir,
        &[
            "agent",
            "review",
            &name,
            "-c",
            &format!("notes/first.txt:1 {comment}"),
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(agent["state"], "idle", "{agent}");
    let seen: Vec<String> = mock
        .served()
        .into_iter()
        .flat_map(|s| s.user_texts)
        .filter(|t| t.contains(comment))
        .collect();
    let review = seen
        .first()
        .unwrap_or_else(|| panic!("the review never reached the model: {stdout}"));
    assert!(
        review.contains("## Comment 1 — notes/first.txt, line 1"),
        "{review}"
    );
    assert!(
        review.contains(&format!("+written by {cli}")),
        "the hunk came with it: {review}"
    );
    // A comment outside the repository is refused before anything runs.
    let out = env.run_in(
        &dir,
        &[
            "agent",
            "review",
            &name,
            "-c",
            "../../etc/passwd:1 read this",
        ],
    );
    assert!(
        text(&out.stderr).contains("leaves the worktree"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_review_reaches_claude_with_its_hunk() {
    a_review_reaches_the_model_with_its_hunk("claude");
}

#[test]
fn a_review_reaches_codex_with_its_hunk() {
    a_review_reaches_the_model_with_its_hunk("codex");
}

#[test]
fn a_cautious_claude_in_the_checkout_is_denied_its_commit_and_the_turn_says_so() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "careful");
    let prompt = "Commit the notes.\n\
                  MOCK: write notes.txt careful\n\
                  MOCK: run git add -A && git commit -qm notes\n\
                  MOCK: say committed";
    let (code, agent, stdout) = waited(
        &env,
        &dir,
        &[
            "agent",
            "spawn",
            "careful",
            prompt,
            "--agent",
            "claude",
            "--in-place",
        ],
    );
    assert_eq!(code, 3, "a turn with warnings exits 3: {stdout}");
    assert_eq!(agent["state"], "idle");
    let warnings = agent["warnings"].to_string();
    assert!(
        warnings.contains("1 tool call denied") && warnings.contains("Bash git add -A"),
        "{agent}"
    );
    assert!(
        agent["reason"]
            .as_str()
            .unwrap()
            .contains("ended with warnings")
    );
    let logs = env.ok(&dir, &["agent", "logs", "careful"]);
    assert!(logs.contains("✗ denied: Bash git add -A"), "{logs}");
    assert!(logs.contains("⚠ turn 1 done with warnings"), "{logs}");
    // The edit was allowed (acceptEdits), the commit was not: the person's checkout has it
    // uncommitted, and maestro did not claim otherwise.
    assert_eq!(git(&dir, &["status", "--porcelain"]).trim(), "?? notes.txt");
    assert_eq!(git(&dir, &["rev-list", "--count", "HEAD"]).trim(), "1");
    let shown = env.ok(&dir, &["agent", "status", "careful"]);
    assert!(shown.contains("warning"), "{shown}");

    // Allowed to commit in place, the same request commits.
    let (code, agent, stdout) = waited(
        &env,
        &dir,
        &[
            "agent",
            "spawn",
            "trusted",
            prompt,
            "--agent",
            "claude",
            "--in-place",
            "--allow-commit",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(agent.get("warnings").is_none(), "{agent}");
    assert_eq!(git(&dir, &["log", "-1", "--format=%s"]).trim(), "notes");
}

#[test]
fn codex_failed_commands_and_uncommitted_work_are_warnings_and_its_model_is_found() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "failing");
    let prompt = "Look around, leave a draft.\n\
                  MOCK: run ls /no/such/dir\n\
                  MOCK: write draft.txt half done\n\
                  MOCK: say left a draft";
    let (code, agent, stdout) = waited(
        &env,
        &dir,
        &["agent", "spawn", "drafty", prompt, "--agent", "codex"],
    );
    assert_eq!(code, 3, "{stdout}");
    let warnings: Vec<String> = agent["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("1 command failed: shell ls /no/such/dir (exit code 2"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with("1 file left uncommitted in its worktree: draft.txt"),
        "{warnings:?}"
    );
    // Codex's JSON names no model: maestro read it from the session file.
    assert_eq!(
        status(&env, &dir, "drafty")["model"],
        maestro_tests::real_clis::CODEX_MODEL
    );
    let by_model = env.ok(&dir, &["usage", "--by", "model"]);
    assert!(
        by_model.contains(maestro_tests::real_clis::CODEX_MODEL),
        "{by_model}"
    );
    // A new turn that commits clears them.
    let (code, agent, stdout) = waited(
        &env,
        &dir,
        &[
            "agent",
            "send",
            "drafty",
            "Commit it.\nMOCK: run git add -A && git commit -qm draft\nMOCK: say done",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(agent.get("warnings").is_none(), "{agent}");
}

#[test]
fn unknown_prices_show_as_unpriced_never_as_zero() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "prices");
    let prompt = "Say hi.\nMOCK: say hi";
    let (code, agent, stdout) = waited(
        &env,
        &dir,
        &["agent", "spawn", "cheap", prompt, "--agent", "opencode"],
    );
    assert_eq!(code, 0, "{stdout}");
    // OpenCode reports $0 for a model it has no price for; maestro's table has none either.
    assert_eq!(agent["usage"]["unpricedTurns"], 1, "{agent}");
    let list = env.ok(&dir, &["agent", "list"]);
    assert!(list.contains("unpriced"), "{list}");
    let usage = env.ok(&dir, &["usage"]);
    assert!(usage.contains("unpriced"), "{usage}");
    assert!(!usage.contains("$0.0000"), "{usage}");
}

/// A playbook of three tasks, each of which ticks its own box and commits (as the mock model is
/// told in the task), worked by `cli` in the checkout.
fn playbook_ticks_and_commits_every_task(cli: &str) {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, &format!("{cli}-plan"));
    let plan = maestro_tests::real_clis::three_task_playbook(cli);
    std::fs::write(dir.join("plan.md"), &plan).unwrap();
    git(&dir, &["add", "plan.md"]);
    git(&dir, &["commit", "-qm", "plan"]);
    let events = crate::playbooks::run_ok(&env, &dir, &["plan.md"]);
    let done = events
        .iter()
        .filter(|e| e["event"] == "task_complete")
        .count();
    assert_eq!(done, 3, "{events:?}");
    let plan = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert_eq!(plan.matches("- [x] ").count(), 3, "{plan}");
    assert_eq!(
        git(&dir, &["log", "--reverse", "--format=%s", "-3"]).trim(),
        "one\ntwo\nthree"
    );
    assert_eq!(git(&dir, &["status", "--porcelain"]).trim(), "");
}

#[test]
fn a_playbook_with_claude_ticks_and_commits_every_task() {
    playbook_ticks_and_commits_every_task("claude");
}

#[test]
fn a_playbook_with_codex_ticks_and_commits_every_task() {
    playbook_ticks_and_commits_every_task("codex");
}

#[test]
fn doctor_checks_the_configured_agent_programs() {
    let env = TestEnv::new();
    let codex = maestro_tests::real_clis::program("codex");
    env.write_config(&format!(
        "[agents.codex]\npath = \"{}\"\n[agents.claude]\npath = \"/nowhere/claude\"\n",
        codex.display()
    ));
    let out = env.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1), "a broken configured path fails");
    let checks: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |name: &str| checks.iter().find(|c| c["check"] == name).unwrap().clone();
    assert_eq!(of("codex")["status"], "ok", "{checks:?}");
    assert!(
        of("codex")["detail"]
            .as_str()
            .unwrap()
            .ends_with("(from agents.codex.path)")
    );
    assert_eq!(of("claude")["status"], "fail");
    assert!(
        of("claude")["detail"]
            .as_str()
            .unwrap()
            .contains("/nowhere/claude (from agents.claude.path) does not exist")
    );
}

/// Waits until the attached terminal shows `what` twice (the prompt's echo, then the answer),
/// answering the CLI's questions on the way the
/// way a person at a fresh worktree would (trust this folder: yes; allow this edit: yes).
fn wait_screen(term: &mut Terminal, what: &str, answers: &[(&str, &str)]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut answered = 0;
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        last = term.contents();
        if last.matches(what).count() >= 2 {
            return;
        }
        if let Some((q, keys)) = answers.iter().find(|(q, _)| last.contains(*q)) {
            answered += 1;
            assert!(answered < 20, "{q:?} asked again and again:\n{last}");
            term.type_in(keys);
            std::thread::sleep(std::time::Duration::from_millis(700));
            continue;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("`{what}` never showed; the screen:\n{last}");
}

/// An interactive agent of `cli`: its terminal UI comes up in maestro's PTY with the prompt,
/// a terminal attaches and sees it; after the UI exits, `send` resumes its session (the mock
/// sees the first prompt again); stop leaves none of its processes behind.
fn interactive_comes_up_resumes_and_ends_whole(cli: &str, exit_keys: &str) {
    let mock = MockModel::start();
    let env = real_env(&mock, "[agents]\nneeds_input_secs = 2\n");
    let dir = repo(&env, &format!("{cli}-tui"));
    let name = format!("{cli}-tui");
    let first = format!("Greet.\nMOCK: say hello from the {cli} ui");
    env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            &name,
            &first,
            "--agent",
            cli,
            "--interactive",
        ],
    );
    // Claude: "No, exit" is the default of its trust question; Codex: "Trust and continue" is.
    let answers = [
        ("Yes, I trust this folder", "\x1b[B\r"),
        ("1. Trust and continue", "\r"),
    ];
    let mut term = Terminal::attach(&env, &dir, &name, 40, 120);
    wait_screen(&mut term, &format!("hello from the {cli} ui"), &answers);
    let logs = env.ok(&dir, &["agent", "logs", &name]);
    assert!(
        logs.contains(&format!("hello from the {cli} ui")),
        "the log reads as the screen did: {logs}"
    );

    // The person leaves the UI: the agent is idle, knowing its session.
    term.type_in(exit_keys);
    let ended = crate::agents::wait_state(&env, &dir, &name, "idle");
    let session = ended["sessionId"].as_str().map(str::to_owned);
    assert!(
        session.is_some(),
        "no session id after exit: {ended}\n{}",
        term.contents()
    );
    let _ = term.child.wait();
    assert!(
        crate::agents::agent_processes(&env, &name).is_empty(),
        "its processes ended with its UI"
    );

    // The next prompt starts the UI again on that session.
    let second = format!("Again.\nMOCK: say back in the {cli} ui");
    env.ok(&dir, &["agent", "send", &name, &second]);
    let mut term = Terminal::attach(&env, &dir, &name, 40, 120);
    wait_screen(&mut term, &format!("back in the {cli} ui"), &answers);
    let resumed = mock.served_for("back in the");
    assert!(
        resumed[0]
            .user_texts
            .iter()
            .any(|t| t.contains("hello from the")),
        "the resumed session carries the first prompt: {:?}",
        resumed[0].user_texts
    );
    let stopped = env.json(&dir, &["agent", "stop", &name, "--json"]);
    assert_eq!(stopped["state"], "done");
    maestro_tests::wait_until(
        "every process of the agent ended",
        std::time::Duration::from_secs(10),
        || crate::agents::agent_processes(&env, &name).is_empty(),
    );
}

#[test]
fn interactive_claude_comes_up_resumes_and_ends_whole() {
    interactive_comes_up_resumes_and_ends_whole("claude", "/exit\r");
}

#[test]
fn interactive_codex_comes_up_resumes_and_ends_whole() {
    interactive_comes_up_resumes_and_ends_whole("codex", "\x03\x03");
}

#[test]
fn an_editor_hears_of_a_turn_that_ended_with_warnings() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "editor-warned");
    let mut lsp = env.lsp(&dir, &[]);
    lsp.initialize(&dir, true, false);
    let prompt = "Commit.\nMOCK: run git commit --allow-empty -qm nothing\nMOCK: say tried";
    let spawned = lsp.rpc.request(
        "workspace/executeCommand",
        serde_json::json!({
            "command": "maestro.agent.spawn",
            "arguments": [{"name": "careful", "agent": "claude", "path": dir, "prompt": prompt,
                "isolation": "none"}]
        }),
    );
    assert_eq!(spawned["result"]["name"], "careful", "{spawned}");
    let idle = lsp.rpc.wait_for("agentStatus idle", |m| {
        m["method"] == "maestro/agentStatus" && m["params"]["agent"]["state"] == "idle"
    });
    assert_eq!(idle["params"]["attention"], true, "{idle}");
    let warnings = idle["params"]["agent"]["warnings"].to_string();
    assert!(warnings.contains("denied"), "{idle}");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn prompts_that_look_like_options_stay_prompts_and_long_ones_get_through() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "flags");
    for cli in maestro_tests::real_clis::CLIS {
        let prompt =
            format!("--dangerously-bypass-approvals-and-sandbox\nMOCK: say {cli} kept it a prompt");
        let name = format!("flag-{cli}");
        // (maestro's own command line takes it after `--` too.)
        let out = env.run_in(
            &dir,
            &[
                "agent", "spawn", &name, "--agent", cli, "--wait", "--json", "--", &prompt,
            ],
        );
        let logs = env.ok(&dir, &["agent", "logs", &name]);
        assert!(out.status.success(), "{cli}: {}\n{logs}", text(&out.stdout));
        assert!(
            logs.contains(&format!("{cli} kept it a prompt")),
            "{cli}: {logs}"
        );
        let asked = mock.served_for(&format!("{cli} kept it a prompt"));
        assert!(
            asked[0]
                .prompt
                .as_deref()
                .is_some_and(|p| p.contains("--dangerously-bypass")),
            "{cli}: the model got the prompt as it was written"
        );
    }
    // Over one argument's 128 KiB (given to maestro on its stdin): on stdin for the CLIs that
    // read it there.
    let long = |env: &TestEnv, name: &str, cli: &str, prompt: &str| -> (i32, Value, String) {
        use std::io::Write as _;
        let mut child = env
            .command()
            .current_dir(&dir)
            .args([
                "agent", "spawn", name, "-", "--agent", cli, "--wait", "--json",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(prompt.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = text(&out.stdout);
        (out.status.code().unwrap_or(-1), turn_end(&stdout), stdout)
    };
    for cli in ["claude", "codex"] {
        let prompt = format!("MOCK: say {cli} read it all\n{}", "context ".repeat(25_000));
        let (code, _, stdout) = long(&env, &format!("long-{cli}"), cli, &prompt);
        assert_eq!(code, 0, "{cli}: {stdout}");
        let asked = mock.served_for(&format!("{cli} read it all"));
        assert!(
            asked[0]
                .prompt
                .as_deref()
                .is_some_and(|p| p.len() >= 200_000),
            "{cli}: the whole prompt reached the model"
        );
    }
    // Elsewhere a clear refusal.
    let prompt = format!("MOCK: say never\n{}", "context ".repeat(25_000));
    let (code, agent, _) = long(&env, "long-gemini", "gemini", &prompt);
    assert_eq!(code, 1);
    assert!(
        agent["reason"]
            .as_str()
            .unwrap()
            .contains("the prompt is too long for gemini"),
        "{agent}"
    );
}
