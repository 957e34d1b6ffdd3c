//! Agents working together (issue 22): group chats (a moderator routes by mentions, the
//! participants answer in parallel, the synthesis ends the exchange; the round cap, a hanging
//! participant, bad input), consults and the attention manager. Fake agents (by rules of their
//! own) for what a real CLI cannot do on demand (hang, always mention); the real CLIs for one
//! path of each: a chat of Claude Code, Codex and Gemini CLI, Claude consulting Codex, Claude's
//! permission prompts answered by rule and by the person in the editor.

use crate::agents::{agents_env, repo, status};
use maestro_tests::{TestEnv, wait_until};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Fake agents whose scripts come from `rules` (see the fake agent's `ruled`).
fn chat_env(rules: Value) -> (TestEnv, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("rules.json");
    std::fs::write(&path, rules.to_string()).unwrap();
    let mut env = agents_env("");
    env.vars
        .push(("FAKE_AGENT_RULES".into(), path.display().to_string()));
    (env, files)
}

/// The JSON lines a `--json` command printed.
fn lines(env: &TestEnv, dir: &Path, args: &[&str]) -> Vec<Value> {
    env.ok(dir, args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn kinds(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["author"].as_str().unwrap(),
                e["kind"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_moderator_routes_by_mentions_answers_come_in_parallel_and_a_hang_is_reported() {
    let (env, _rules) = chat_env(json!({
        "lead": [
            {"if": "[@alice]", "then": "say Synthesis: sqlite, as alice and bob say"},
            {"then": "say @alice @bob @carol which store should we use?"},
        ],
        // A turn that leaves a file uncommitted ends with a warning: it answered all the same.
        "alice": [{"then": "sleep 1500; write scratch.txt notes; say alice: sqlite"}],
        "bob": [{"then": "sleep 1500; say bob: sqlite too"}],
        "carol": [{"then": "hang"}],
        "dave": [{"then": "say dave was not asked"}],
    }));
    let dir = repo(&env, "chat");
    // One existing agent; the others are started for the chat, each with its CLI.
    env.ok(&dir, &["agent", "spawn", "dave", "--agent", "aider"]);
    let chat = env.json(
        &dir,
        &[
            "chat",
            "new",
            "the",
            "store",
            "--moderator",
            "lead:claude",
            "--with",
            "alice:codex,bob:gemini",
            "--with",
            "carol:opencode",
            "--with",
            "dave",
            "--timeout",
            "5",
            "--json",
        ],
    );
    let id = chat["id"].as_str().unwrap().to_owned();
    assert_eq!(
        chat["participants"],
        json!(["alice", "bob", "carol", "dave"])
    );
    assert_eq!(chat["title"], "the store");
    for (name, cli) in [
        ("lead", "claude"),
        ("alice", "codex"),
        ("carol", "opencode"),
    ] {
        assert_eq!(status(&env, &dir, name)["agent"], cli);
    }

    // Who is thinking, as editors see it.
    let mut events = env.connect_hello();
    events.request("maestro/subscribe", json!({}));
    let said = lines(
        &env,
        &dir,
        &["chat", "say", &id[..9], "which", "store?", "--json"],
    );
    assert_eq!(
        kinds(&said)[..2],
        ["person:say".to_owned(), "lead:route".to_owned()]
    );
    let k = kinds(&said);
    assert!(
        k.contains(&"alice:answer".to_owned()) && k.contains(&"bob:answer".to_owned()),
        "{k:?}"
    );
    let failed = said.iter().find(|e| e["kind"] == "failed").unwrap();
    assert!(
        failed["text"]
            .as_str()
            .unwrap()
            .starts_with("@carol did not answer within 5 s"),
        "{failed}"
    );
    let last = said.last().unwrap();
    assert_eq!(last["kind"], "synthesis", "{said:?}");
    // The moderator resumed its own session (the fake agent says so first).
    assert!(
        last["text"]
            .as_str()
            .unwrap()
            .ends_with("\nSynthesis: sqlite, as alice and bob say"),
        "{last}"
    );
    assert!(
        !k.iter().any(|e| e.starts_with("dave")),
        "dave was not mentioned: {k:?}"
    );
    // alice, bob and carol thought at once.
    let mut together = false;
    while let Some(m) = events.next(Duration::from_millis(200)) {
        let p = &m["params"];
        if m["method"] == "maestro/chat" && p["event"] == "thinking" {
            let t = p["thinking"].as_array().unwrap();
            together |= ["alice", "bob", "carol"]
                .iter()
                .all(|n| t.contains(&json!(n)));
        }
    }
    assert!(together, "the mentioned participants answered in parallel");
    let log = env.json(&dir, &["chat", "log", &id, "--json"]);
    assert_eq!(log["entries"].as_array().unwrap().len(), said.len());
    assert_eq!(log["chat"]["state"], "open");
    assert_eq!(
        status(&env, &dir, "carol")["state"],
        "done",
        "carol's turn was stopped"
    );
    let alice = status(&env, &dir, "alice");
    assert!(
        alice["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("uncommitted")),
        "alice's answer came from a turn with a warning: {alice}"
    );

    // What was said is in memory, searchable by kind.
    let mut rpc = env.connect_hello();
    let mut found = Value::Null;
    wait_until("the chat remembered", Duration::from_secs(20), || {
        found = rpc.request(
            "maestro/memory.list",
            json!({"path": dir, "kinds": ["chat"], "limit": 50}),
        );
        found["result"]["memories"].as_array().is_some_and(|m| {
            m.iter().any(|m| {
                m["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Synthesis: sqlite")
            })
        })
    });

    // Closed: nothing more is said.
    env.ok(&dir, &["chat", "close", &id]);
    let out = env.run_in(&dir, &["chat", "say", &id, "more?"]);
    assert!(!out.status.success());
    assert!(
        maestro_tests::text(&out.stderr).contains("is closed"),
        "{}",
        maestro_tests::text(&out.stderr)
    );
    let listed = env.json(&dir, &["chat", "list", "--json"]);
    assert_eq!(listed, json!([]), "closed chats are left out");
}

#[test]
fn the_round_cap_stops_a_moderator_that_always_mentions_and_bad_chats_are_refused() {
    let (env, _rules) = chat_env(json!({
        "lead": [{"then": "say @alice once more"}],
        "alice": [{"then": "say fine"}],
    }));
    let dir = repo(&env, "cap");
    let chat = env.json(
        &dir,
        &[
            "chat",
            "new",
            "--moderator",
            "lead:claude",
            "--with",
            "alice:codex",
            "--rounds",
            "2",
            "--json",
        ],
    );
    let id = chat["id"].as_str().unwrap();
    let said = lines(&env, &dir, &["chat", "say", id, "go", "--json"]);
    assert_eq!(
        kinds(&said),
        [
            "person:say",
            "lead:route",
            "alice:answer",
            "lead:route",
            "alice:answer",
            "lead:synthesis",
            "maestro:note"
        ]
    );
    assert!(
        said.last().unwrap()["text"]
            .as_str()
            .unwrap()
            .contains("round cap (2)")
    );

    for (args, says) in [
        (vec!["--moderator", "lead", "--with", "lead"], "named twice"),
        (
            vec!["--moderator", "ghost", "--with", "alice"],
            "no agent `ghost`",
        ),
        (
            vec!["--moderator", "x:claude", "--with", "../etc:codex"],
            "chat member `../etc`",
        ),
        (
            vec!["--moderator", "y:nosuchcli", "--with", "alice"],
            "nosuchcli",
        ),
        (
            vec!["--moderator", "lead", "--with", "alice", "--rounds", "0"],
            "round cap",
        ),
        (
            vec!["--moderator", "lead", "--with", "alice", "--budget=-1"],
            "budget",
        ),
    ] {
        let mut full = vec!["chat", "new"];
        full.extend(args.iter());
        let out = env.run_in(&dir, &full);
        let err = maestro_tests::text(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{args:?}: {err}"
        );
    }
    let out = env.run_in(&dir, &["chat", "say", "chat_nope", "hello"]);
    assert!(maestro_tests::text(&out.stderr).contains("no chat chat_nope"));
}

/// The attention manager with the real Claude Code: what its headless turn would ask a person
/// goes to maestro's `permission` tool; a command on the person's allow-list runs at once, one
/// outside it is asked in the editor, and the agent goes on with that answer.
#[test]
fn claude_asks_maestro_a_rule_answers_and_the_person_answers_the_rest_in_the_editor() {
    let mock = maestro_tests::mock_model::MockModel::start();
    let env = maestro_tests::real_clis::real_env(
        &mock,
        "[attention]\nallow = [\"Bash(git add*)\", \"Edit\"]\n",
    );
    let dir = repo(&env, "attention");
    let mut lsp = env.lsp(&dir, &[]);
    lsp.initialize(&dir, false, false);
    // (Claude runs `touch` in its working directory without asking anyone.)
    let prompt = "Commit a file.\nMOCK: run touch a.txt\nMOCK: run git add -A\nMOCK: run git commit -qm two-files\nMOCK: say committed";
    env.ok(
        &dir,
        &["agent", "spawn", "alice", prompt, "--agent", "claude"],
    );
    let question = lsp.rpc.wait_for("the editor asked", |m| {
        m["method"] == "window/showMessageRequest"
    });
    let message = question["params"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("agent alice asks: Bash: git commit -qm two-files")
            && message.contains("no rule of attention.allow allows `git commit -qm two-files`"),
        "{message}"
    );
    let buttons: Vec<&str> = question["params"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(buttons, ["Allow", "Deny"]);
    // Meanwhile the agent shows that it waits, and the person's inbox has the question.
    let waiting = status(&env, &dir, "alice");
    assert_eq!(waiting["state"], "needs_input", "{waiting}");
    assert!(
        waiting["reason"]
            .as_str()
            .unwrap()
            .contains("git commit -qm two-files")
    );
    let inbox = env.json(&dir, &["inbox", "--json"]);
    assert!(
        inbox["messages"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("alice asks: Bash: git commit -qm two-files"),
        "{inbox}"
    );
    lsp.rpc
        .send(&json!({"jsonrpc": "2.0", "id": question["id"], "result": {"title": "Allow"}}));
    let mut last = Value::Null;
    wait_until("alice done", Duration::from_secs(120), || {
        last = status(&env, &dir, "alice");
        last["state"] == "idle" || last["state"] == "failed"
    });
    let logs = env.ok(&dir, &["agent", "logs", "alice"]);
    assert_eq!(last["state"], "idle", "{last}\n{logs}");
    let commits = maestro_tests::git(&dir, &["log", "--format=%s", "maestro/alice"]);
    assert!(commits.starts_with("two-files"), "{commits}\n{logs}");
    let log = env.json(&dir, &["attention", "log", "--json"]);
    let d = log["decisions"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{log}");
    assert_eq!(
        (
            d[0]["question"].as_str(),
            d[0]["decision"].as_str(),
            d[0]["by"].as_str()
        ),
        (
            Some("Bash: git commit -qm two-files"),
            Some("Allow"),
            Some("person")
        )
    );
    assert_eq!(
        (
            d[1]["decision"].as_str(),
            d[1]["by"].as_str(),
            d[1]["reason"].as_str()
        ),
        (
            Some("Allow"),
            Some("rule"),
            Some("allowed by attention.allow `Bash(git add*)`")
        )
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

/// A CLI that prints a question on an unfinished line and waits (aider's `[y/n]`): a `Prompt`
/// rule answers it, another question waits for the person, who answers from the terminal.
#[test]
fn a_printed_question_is_answered_by_rule_or_by_the_person_from_the_terminal() {
    let env = agents_env(
        "[agents]\nneeds_input_secs = 1\n[attention]\nallow = [\"Prompt(Run the tests?*)\"]\n",
    );
    let dir = repo(&env, "prompted");
    env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            "helper",
            "ask Run the tests? [y/n]",
            "--agent",
            "aider",
        ],
    );
    let mut last = Value::Null;
    wait_until("helper answered by rule", Duration::from_secs(30), || {
        last = status(&env, &dir, "helper");
        last["state"] == "idle"
    });
    let logs = env.ok(&dir, &["agent", "logs", "helper"]);
    assert!(logs.contains("got: y"), "{logs}");

    env.ok(
        &dir,
        &[
            "agent",
            "send",
            "helper",
            "ask Delete 40 files? (yes/no/all)",
        ],
    );
    let mut pending = Value::Null;
    wait_until(
        "the question waits for the person",
        Duration::from_secs(30),
        || {
            pending = env.json(&dir, &["attention", "log", "--pending", "--json"]);
            pending["decisions"]
                .as_array()
                .is_some_and(|d| !d.is_empty())
        },
    );
    let q = &pending["decisions"][0];
    assert_eq!(q["question"], "Delete 40 files? (yes/no/all)");
    assert_eq!(q["choices"], json!(["yes", "no", "all"]));
    let id = q["id"].as_str().unwrap();
    let out = env.run_in(&dir, &["attention", "answer", id, "maybe"]);
    assert!(
        maestro_tests::text(&out.stderr).contains("answer one of yes, no, all"),
        "{}",
        maestro_tests::text(&out.stderr)
    );
    env.ok(&dir, &["attention", "answer", id, "no"]);
    wait_until(
        "helper answered by the person",
        Duration::from_secs(30),
        || status(&env, &dir, "helper")["state"] == "idle",
    );
    let logs = env.ok(&dir, &["agent", "logs", "helper"]);
    assert!(logs.contains("got: no"), "{logs}");
    let out = env.run_in(&dir, &["attention", "answer", id, "no"]);
    assert!(maestro_tests::text(&out.stderr).contains("no question"));
    let text = env.ok(&dir, &["attention"]);
    assert!(
        text.contains("no by person") && text.contains("y by rule"),
        "{text}"
    );
}

/// A consult from a real Claude Code agent to a real Codex agent through maestro's `consult`
/// tool: Codex answers in a session of its own (its own is untouched), the answer is Claude's
/// tool result and shows, attributed, in Claude's transcript; a follow-up in the thread
/// continues Codex's consult session; a person's `@bob` in a prompt to alice consults bob too.
#[test]
fn claude_consults_codex_which_answers_in_a_session_of_its_own() {
    let mock = maestro_tests::mock_model::MockModel::start();
    let env = maestro_tests::real_clis::real_env(&mock, "");
    let dir = repo(&env, "consult");
    let (code, bob, out) = crate::real_agents::waited(
        &env,
        &dir,
        &[
            "agent",
            "spawn",
            "bob",
            "MOCK: say ready",
            "--agent",
            "codex",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let bob_session = bob["sessionId"].clone();
    assert!(bob_session.is_string(), "{bob}");

    let ask = json!({"agent": "bob", "question": "Is the parser fine?\nMOCK: say bob thinks the parser is fine"});
    let prompt = format!("Ask bob.\nMOCK: tool consult {ask}\nMOCK: say consulted bob");
    let (code, alice, out) = crate::real_agents::waited(
        &env,
        &dir,
        &["agent", "spawn", "alice", &prompt, "--agent", "claude"],
    );
    let logs = env.ok(&dir, &["agent", "logs", "alice"]);
    assert_eq!(code, 0, "{out}\n{logs}");
    assert_eq!(alice["state"], "idle", "{alice}");
    assert!(
        logs.contains("↩ @bob answers (consult consult_")
            && logs.contains("bob thinks the parser is fine"),
        "{logs}\n{}",
        env.daemon_logs()
    );
    // The answer came back to Claude's model as the tool's result.
    let continued = mock.served_for("MOCK: say consulted bob");
    assert!(
        continued.iter().any(|s| s.answer == "text"
            && s.user_texts
                .iter()
                .any(|t| t.contains("bob thinks the parser is fine"))),
        "{:?}",
        continued
            .iter()
            .map(|s| (&s.answer, &s.user_texts))
            .collect::<Vec<_>>()
    );
    // bob's own session and turns are as they were; the consult saw alice's transcript.
    let bob_now = status(&env, &dir, "bob");
    assert_eq!(
        (bob_now["turns"].clone(), bob_now["sessionId"].clone()),
        (json!(1), bob_session)
    );
    let consulted = mock.served_for("bob thinks the parser is fine");
    assert!(
        consulted.iter().any(|s| s
            .prompt
            .as_deref()
            .is_some_and(|p| p.contains("@alice consults you"))),
        "{:?}",
        consulted.iter().map(|s| &s.prompt).collect::<Vec<_>>()
    );
    // The answer was given to alice as her tool's result: its message is read, not carried again.
    let thread = logs
        .split("(consult ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap()
        .to_owned();

    // A follow-up in the thread continues bob's consult session.
    let mut rpc = env.connect_hello();
    let r = rpc.request(
        "maestro/agent.consult",
        json!({"path": dir, "asker": "alice", "name": "bob", "thread": thread,
               "question": "And the lexer?\nMOCK: say the lexer too"}),
    );
    assert_eq!(r["result"]["reply"], "the lexer too", "{r}");
    let follow = mock.served_for("MOCK: say the lexer too");
    assert!(
        follow.iter().any(|s| s
            .user_texts
            .iter()
            .any(|t| t.contains("Is the parser fine?"))),
        "the follow-up resumed the consult session: {:?}",
        follow.iter().map(|s| &s.user_texts).collect::<Vec<_>>()
    );
    assert_eq!(status(&env, &dir, "bob")["turns"], 1);
    // That answer went to alice as a message too, which woke her: a turn that carried it.
    wait_until("alice woken by the answer", Duration::from_secs(60), || {
        let a = status(&env, &dir, "alice");
        a["turns"] == 2 && a["state"] == "idle"
    });
    assert!(
        mock.served()
            .iter()
            .any(|s| s.user_texts.iter().any(
                |t| t.contains("the lexer too") && t.contains("/bob (high priority, response)")
            )),
        "alice's wake turn carried bob's answer"
    );

    // A person's `@bob` in a prompt to alice: bob is consulted, and his answer reaches alice.
    let (code, _, out) = crate::real_agents::waited(
        &env,
        &dir,
        &[
            "agent",
            "send",
            "alice",
            "What would @bob do?\nMOCK: say asked",
        ],
    );
    assert_eq!(code, 0, "{out}");
    wait_until(
        "bob's answer in alice's transcript",
        Duration::from_secs(60),
        || {
            env.ok(&dir, &["agent", "logs", "alice"])
                .matches("↩ @bob answers")
                .count()
                >= 3
        },
    );
}

/// `attention.decider`: an agent asked first about what the rules leave open decides it.
#[test]
fn a_decider_agent_answers_what_the_rules_leave_open() {
    let (env, _rules) = chat_env(json!({
        "lead": [
            {"if": "asks to go ahead with: Build now?", "then": "say ALLOW: it only builds"},
            {"then": "say ready"},
        ],
    }));
    env.write_config(&format!(
        "{}\n[agents]\nneeds_input_secs = 1\n[attention]\ndecider = \"lead\"\n",
        std::fs::read_to_string(env.home.path().join("config/config.toml")).unwrap()
    ));
    let dir = repo(&env, "decider");
    env.ok(&dir, &["agent", "spawn", "lead", "say ready", "--wait"]);
    env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            "texty",
            "ask Build now? [y/n]",
            "--agent",
            "aider",
        ],
    );
    let answered = (0..600).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        status(&env, &dir, "texty")["state"] == "idle"
    });
    assert!(
        answered,
        "texty was not answered: {}\n{}\n{}\n{}",
        status(&env, &dir, "texty"),
        env.ok(&dir, &["attention", "log"]),
        env.ok(&dir, &["agent", "logs", "lead"]),
        env.daemon_logs()
    );
    let logs = env.ok(&dir, &["agent", "logs", "texty"]);
    assert!(logs.contains("got: y"), "{logs}");
    let log = env.json(&dir, &["attention", "log", "--json"]);
    let d = &log["decisions"][0];
    assert_eq!(
        (d["decision"].as_str(), d["by"].as_str()),
        (Some("y"), Some("agent lead")),
        "{log}"
    );
    assert!(d["reason"].as_str().unwrap().contains("@lead: "), "{log}");
    // The decider's turn was a consult: its own session and turns are untouched.
    assert_eq!(status(&env, &dir, "lead")["turns"], 1);
}

/// A chat of the real CLIs: Claude Code moderates, Codex and Gemini CLI answer in parallel, each
/// resuming its own session; the moderator's second turn reads their answers and writes the
/// synthesis. (Each CLI's mock model reads the lines scripted for its API: `MOCK[api]:`.)
#[test]
fn a_chat_of_real_clis_claude_moderates_codex_and_gemini_answer() {
    let mock = maestro_tests::mock_model::MockModel::start();
    let env = maestro_tests::real_clis::real_env(&mock, "");
    let dir = repo(&env, "real-chat");
    let chat = env.json(
        &dir,
        &[
            "chat",
            "new",
            "the",
            "store",
            "--moderator",
            "lead:claude",
            "--with",
            "api:codex,docs:gemini",
            "--json",
        ],
    );
    let id = chat["id"].as_str().unwrap();
    let text = "Which store should we use?\n\
                MOCK[anthropic]: say @api @docs which store?\n\
                MOCK[responses]: say api: sqlite\\nMOCK[anthropic]: say Synthesis: sqlite, as api and docs say\n\
                MOCK[gemini]: say docs: sqlite too";
    let said = lines(&env, &dir, &["chat", "say", id, text, "--json"]);
    let k = kinds(&said);
    assert_eq!(
        k[..2],
        ["person:say".to_owned(), "lead:route".to_owned()],
        "{said:?}"
    );
    assert!(
        k.contains(&"api:answer".to_owned()) && k.contains(&"docs:answer".to_owned()),
        "{said:?}\n{}",
        env.daemon_logs()
    );
    let last = said.last().unwrap();
    assert_eq!(last["kind"], "synthesis", "{said:?}");
    assert_eq!(last["text"], "Synthesis: sqlite, as api and docs say");
    let docs = said.iter().find(|e| e["author"] == "docs").unwrap();
    assert_eq!(docs["text"], "docs: sqlite too");
    // Every one ended idle, the moderator after two turns of one session.
    for (name, turns) in [("lead", 2), ("api", 1), ("docs", 1)] {
        let s = status(&env, &dir, name);
        assert_eq!(
            (s["state"].as_str(), s["turns"].as_u64()),
            (Some("idle"), Some(turns)),
            "{s}"
        );
    }
    let resumed = mock.served_for("Synthesis: sqlite");
    assert!(
        resumed.iter().any(|s| s.api == "anthropic"
            && s.user_texts
                .iter()
                .any(|t| t.contains("You moderate the group chat"))
            && s.user_texts
                .iter()
                .any(|t| t.contains("[@docs] docs: sqlite too"))),
        "the moderator's second turn resumed its session with the answers"
    );
}
