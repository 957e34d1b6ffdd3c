//! Messages between real agents (issue 21): a Claude Code agent asks an idle Codex agent through
//! maestro's MCP tools; Codex wakes, reads its inbox, replies; the reply reaches Claude at its
//! next turn. Both CLIs are the pinned real ones, against the mock model.

use crate::agents::{repo, status};
use crate::real_agents::waited;
use maestro_tests::mock_model::MockModel;
use maestro_tests::real_clis::real_env;
use maestro_tests::{TestEnv, wait_until};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

#[test]
fn claude_asks_an_idle_codex_which_wakes_reads_its_inbox_and_replies() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "messages");
    let (code, bob, out) = waited(
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
    assert_eq!(bob["state"], "idle", "{bob}");

    // What bob's model will do with the message: read its inbox, answer in the thread.
    let asked = "Is the parser fine?\n\
                 MOCK: tool inbox {}\n\
                 MOCK: tool reply {\"id\": \"$MESSAGE_ID\", \"text\": \"bob says: the parser is fine\"}\n\
                 MOCK: say replied";
    let request = json!({"to": "bob", "type": "request", "subject": "the parser", "text": asked});
    let prompt = format!(
        "Ask bob about the parser.\nMOCK: tool send_message {request}\nMOCK: say asked bob"
    );
    let (code, alice, out) = waited(
        &env,
        &dir,
        &["agent", "spawn", "alice", &prompt, "--agent", "claude"],
    );
    let logs = env.ok(&dir, &["agent", "logs", "alice"]);
    assert_eq!(code, 0, "{out}\n{logs}");
    assert_eq!(alice["state"], "idle", "{alice}\n{logs}");
    assert!(
        logs.contains("mcp__maestro__send_message") && !logs.contains("failed"),
        "Claude called maestro's send_message, and it went: {logs}\n{}",
        env.daemon_logs()
    );

    // The request woke bob: a second turn, resuming its session, that ended well.
    let mut last = Value::Null;
    wait_until("bob woken and done", Duration::from_secs(120), || {
        last = status(&env, &dir, "bob");
        last["turns"] == 2 && last["state"] == "idle"
    });
    let bob_logs = env.ok(&dir, &["agent", "logs", "bob"]);
    assert!(bob_logs.contains("replied"), "{bob_logs}");
    let woken: Vec<_> = mock.served_for("bob says: the parser is fine");
    assert!(!woken.is_empty(), "bob's wake turn reached its model");
    let inbox_answer = woken
        .iter()
        .any(|s| s.body.to_string().contains("Is the parser fine?") && s.answer.contains("reply"));
    assert!(
        inbox_answer,
        "bob read the request in its inbox before replying: {:?}",
        woken.iter().map(|s| &s.answer).collect::<Vec<_>>()
    );

    // The reply does not wake alice (a response, normal priority): her next turn carries it.
    assert_eq!(status(&env, &dir, "alice")["turns"], 1);
    let (code, _, out) = waited(&env, &dir, &["agent", "send", "alice", "MOCK: say thanks"]);
    assert_eq!(code, 0, "{out}");
    let carried: Vec<String> = mock
        .served_for("MOCK: say thanks")
        .into_iter()
        .flat_map(|s| s.user_texts)
        .filter(|t| t.starts_with("[maestro]") && t.contains("bob says: the parser is fine"))
        .collect();
    let reply = carried.first().unwrap_or_else(|| {
        panic!(
            "the reply reached alice's model at her next turn: {:?}\nbob: {bob_logs}\n{}",
            mock.served_for("MOCK: say thanks")
                .iter()
                .map(|s| &s.user_texts)
                .collect::<Vec<_>>(),
            env.daemon_logs()
        )
    });
    // Signed by bob's key, sent as bob, in the thread of alice's request.
    assert!(
        reply.contains("/bob (normal priority, response)"),
        "{reply}"
    );
    assert!(reply.contains("In reply to: msg_"), "{reply}");
    // Delivered once: a third turn does not carry it again.
    let (code, _, out) = waited(&env, &dir, &["agent", "send", "alice", "MOCK: say again"]);
    assert_eq!(code, 0, "{out}");
    let again = mock.served_for("MOCK: say again");
    assert!(
        again
            .iter()
            .all(|s| s.prompt.as_deref().is_some_and(|p| !p.contains("bob says"))),
        "delivered once"
    );
}

/// The token maestro gave agent `name`'s CLI, from the fake agent's record of its arguments.
pub(crate) fn token_of(log: &Path, name: &str) -> String {
    maestro_tests::agent_token(log, name)
}

/// Every prompt the fake agents were given, in order.
pub(crate) fn prompts(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let args: Vec<String> = serde_json::from_value(v["args"].clone()).ok()?;
            let at = args.iter().position(|a| a == "--")?;
            args.get(at + 1).cloned()
        })
        .collect()
}

fn fake_env(log: &Path) -> TestEnv {
    let mut env = crate::agents::agents_env("");
    env.vars
        .push(("FAKE_AGENT_LOG".into(), log.display().to_string()));
    env
}

#[test]
fn an_agent_acts_only_as_itself_and_bad_messages_are_refused_with_nothing_stored() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("args.jsonl");
    let env = fake_env(&log);
    let dir = repo(&env, "identity");
    for name in ["alice", "bob"] {
        let out = env.run_in(&dir, &["agent", "spawn", name, "say ready", "--wait"]);
        assert!(out.status.success(), "{}", maestro_tests::text(&out.stderr));
    }
    let (alice, bob) = (token_of(&log, "alice"), token_of(&log, "bob"));

    // The person writes to alice; she is idle and it is a request: she wakes with it.
    let sent = env.json(
        &dir,
        &[
            "msg", "send", "alice", "Which", "branch?", "-t", "request", "--json",
        ],
    );
    let id = sent["id"].as_str().unwrap().to_owned();
    wait_until("alice woken", Duration::from_secs(20), || {
        let s = status(&env, &dir, "alice");
        s["turns"] == 2 && s["state"] == "idle"
    });
    let woken = prompts(&log).last().cloned().unwrap();
    assert!(
        woken.starts_with("[maestro] 1 new message for you") && woken.contains("Which branch?"),
        "{woken}"
    );
    assert!(
        woken.contains(&format!("--- message {id} from person:")),
        "{woken}"
    );

    let mut as_alice = env.mcp(&dir, Some(&alice));
    // What she remembers is hers, whatever she says.
    as_alice.ok(
        "remember",
        json!({"text": "The parser rejects tabs on purpose", "agent": "bob"}),
    );
    let found = as_alice.ok("search", json!({"query": "parser rejects tabs"}));
    assert_eq!(found["hits"][0]["agent"], "alice", "{found}");
    assert_eq!(found["hits"][0]["kind"], "note", "{found}");
    let inbox = as_alice.ok("inbox", json!({}));
    assert_eq!(inbox["total"], 1, "{inbox}");
    assert!(inbox["owner"].as_str().unwrap().ends_with("/alice"));
    // Bob cannot read it, nor see its thread; nor can the person read alice's copy as hers.
    let mut as_bob = env.mcp(&dir, Some(&bob));
    let (error, text) = as_bob.call("read_message", json!({"id": id}));
    assert!(error && text.contains("not yours to read"), "{text}");
    assert_eq!(as_bob.ok("inbox", json!({"all": true}))["total"], 0);
    // A token whose address was changed is not a token.
    let forged = alice.replace("/alice", "/bob");
    let mut as_forger = env.mcp(&dir, Some(&forged));
    let (error, text) = as_forger.call("inbox", json!({}));
    assert!(error && text.contains("refused"), "{text}");
    // Alice answers; the reply goes to the person, sent as alice.
    as_alice.ok("read_message", json!({"id": id}));
    let reply = as_alice.ok("reply", json!({"id": id, "text": "maestro/alice"}));
    let thread = env.json(&dir, &["msg", "thread", &id, "--json"]);
    let messages = thread["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{thread}");
    assert!(
        messages[0]["readAt"].is_number(),
        "the person sees it was read: {thread}"
    );
    assert!(messages[1]["from"].as_str().unwrap().ends_with("/alice"));
    assert_eq!(messages[1]["id"], reply["id"]);
    let inbox = env.json(&dir, &["inbox", "--json"]);
    assert_eq!(inbox["unread"], 1, "{inbox}");
    let seen = as_alice.ok("thread", json!({"id": id}));
    assert_eq!(seen["messages"].as_array().unwrap().len(), 2, "{seen}");
    let bob_status = as_alice.ok("agent_status", json!({"name": "bob"}));
    assert_eq!(
        (
            &bob_status["name"],
            &bob_status["state"],
            &bob_status["cli"]
        ),
        (&json!("bob"), &json!("idle"), &json!("claude")),
        "{bob_status}"
    );
    let runs = as_alice.ok("playbook_status", json!({}));
    assert_eq!(runs["runs"], json!([]), "{runs}");

    // Bad input: each refused with what was wrong, and nothing stored.
    let count = |env: &TestEnv| {
        env.ok(&dir, &["graph", "query", "?[count(id)] := *message{id}"])
            .lines()
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    };
    let before = count(&env);
    for (args, says) in [
        (vec!["msg", "send", "nobody", "hi"], "no agent"),
        (vec!["msg", "send", "Bad_Name", "hi"], "`to`"),
        (vec!["msg", "send", "alice", ""], "needs a `text`"),
        (
            vec!["msg", "read", "msg_00000000000000000000000000000000"],
            "no message",
        ),
    ] {
        let out = env.run_in(&dir, &args);
        let err = maestro_tests::text(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{args:?}: {err}"
        );
    }
    let (error, text) = as_alice.call("send_message", json!({"to": "alice", "text": "me"}));
    assert!(error && text.contains("oneself"), "{text}");
    let (error, text) = as_alice.call("send_message", json!({"to": "bob"}));
    assert!(error && text.contains("`text` is required"), "{text}");
    let (error, text) = as_alice.call("query", json!({"script": "?[s] := *message{signed: s}"}));
    assert!(error && text.contains("code graph only"), "{text}");
    assert_eq!(count(&env), before, "nothing stored");
}

#[test]
fn messages_in_flight_survive_a_killed_daemon_once_each() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("args.jsonl");
    let env = fake_env(&log);
    let dir = repo(&env, "killed");
    // Busy: its turn hangs; the messages wait for its next one.
    env.ok(&dir, &["agent", "spawn", "worker", "say started; hang"]);
    wait_until("worker working", Duration::from_secs(20), || {
        status(&env, &dir, "worker")["state"] == "working"
    });
    let mut ids = Vec::new();
    for i in 0..5 {
        let text = format!("note {i}");
        let m = env.json(
            &dir,
            &["msg", "send", "worker", &text, "-p", "urgent", "--json"],
        );
        ids.push(m["id"].as_str().unwrap().to_owned());
    }
    let daemon = env.daemon_pid().unwrap();
    maestro_tests::kill(daemon, rustix::process::Signal::KILL);
    wait_until("the daemon is gone", Duration::from_secs(10), || {
        !maestro_tests::alive(daemon)
    });
    assert_eq!(status(&env, &dir, "worker")["state"], "lost");
    // Its next turn carries all five, once each; the one after carries none.
    let out = env.run_in(&dir, &["agent", "send", "worker", "say back", "--wait"]);
    assert!(out.status.success(), "{}", maestro_tests::text(&out.stderr));
    let carried = prompts(&log).last().cloned().unwrap();
    assert!(carried.starts_with("[maestro] 5 new messages"), "{carried}");
    for id in &ids {
        assert_eq!(
            carried.matches(id.as_str()).count(),
            1,
            "{id} once: {carried}"
        );
    }
    let out = env.run_in(&dir, &["agent", "send", "worker", "say again", "--wait"]);
    assert!(out.status.success(), "{}", maestro_tests::text(&out.stderr));
    assert_eq!(prompts(&log).last().unwrap(), "say again");
    let stored = env.ok(&dir, &["graph", "query", "?[count(id)] := *message{id}"]);
    assert_eq!(stored.lines().nth(1), Some("5"), "{stored}");
}

#[test]
fn the_code_graph_through_mcp_answers_as_the_daemon_does_for_editors() {
    let env = TestEnv::new();
    let dir = repo(&env, "graph");
    std::fs::write(
        dir.join("src/app.py"),
        "def helper(x):\n    return x + 1\n\n\ndef main():\n    return helper(2) + helper(3)\n",
    )
    .unwrap();
    env.ok(&dir, &["index"]);
    let mut mcp = env.mcp(&dir, None);
    let by_position = mcp.ok(
        "definition",
        json!({"path": "src/app.py", "line": 6, "column": 12}),
    );
    // What an editor gets for the same position (the daemon's `graph.definition`).
    let lsp = env.ok(&dir, &["graph", "def", "src/app.py:6:12", "--json"]);
    let lsp: Vec<Value> = lsp
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lsp.len(), 1, "{lsp:?}");
    let start = &lsp[0]["range"]["start"];
    assert!(lsp[0]["uri"].as_str().unwrap().ends_with("/src/app.py"));
    assert_eq!(
        by_position["definitions"],
        json!([{"path": "src/app.py", "line": start["line"].as_u64().unwrap() + 1,
                "column": start["character"].as_u64().unwrap() + 1}]),
        "{by_position}"
    );
    assert_eq!(by_position["total"], 1);
    let by_name = mcp.ok("definition", json!({"symbol": "helper"}));
    assert_eq!(by_name["definitions"], by_position["definitions"]);
    let callers = mcp.ok("callers", json!({"symbol": "helper"}));
    assert_eq!(callers["callers"][0]["name"], "main", "{callers}");
    assert_eq!(callers["callers"][0]["calls"], 2, "{callers}");
    let refs = mcp.ok("references", json!({"symbol": "helper", "limit": 1}));
    assert_eq!(refs["total"], 2, "{refs}");
    assert_eq!(refs["references"].as_array().unwrap().len(), 1, "paged");
    assert_eq!(refs["next_offset"], 1, "{refs}");
    let outline = mcp.ok("symbols", json!({"path": "src/app.py"}));
    assert_eq!(outline["total"], 2, "{outline}");
    let named = mcp.ok("symbols", json!({"query": "helpe"}));
    assert_eq!(named["symbols"][0]["name"], "helper", "{named}");
    assert_eq!(named["symbols"][0]["kind"], "function", "{named}");
    let callees = mcp.ok("callees", json!({"symbol": "main"}));
    assert_eq!(callees["callees"][0]["name"], "helper", "{callees}");
    let rows = mcp.ok(
        "query",
        json!({"script": "?[name] := *symbol{name}, starts_with(name, $p)", "params": {"p": "help"}}),
    );
    assert_eq!(rows["rows"], json!([["helper"]]), "{rows}");
    assert_eq!(rows["headers"], json!(["name"]), "{rows}");
    // Bad input: each a tool error naming what was wrong.
    for (args, says) in [
        (json!({}), "give a `symbol`"),
        (json!({"path": "src/app.py"}), "`line`"),
        (
            json!({"path": "../../etc/passwd", "line": 1}),
            "outside your worktree",
        ),
        (json!({"path": "src/nope.py", "line": 1}), "no such file"),
        (json!({"symbol": "nothing_like_it"}), "no symbol named"),
        (json!({"symbol": 7}), "must be a string"),
        (json!({"symbol": "helper", "limit": 0}), "`limit`"),
    ] {
        let (error, text) = mcp.call("definition", args.clone());
        assert!(error && text.contains(says), "{args}: {text}");
    }
    let (error, text) = mcp.call("no_such_tool", json!({}));
    assert!(error && text.contains("no tool"), "{text}");
}

#[test]
fn the_claude_code_skills_install_with_claudes_own_commands_and_load() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "skills");
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/claude-code");
    let claude = maestro_tests::real_clis::program("claude");
    let user = env.home.path().join("user");
    for args in [
        vec!["plugin", "marketplace", "add", plugin.to_str().unwrap()],
        vec!["plugin", "install", "maestro@maestro"],
    ] {
        let out = std::process::Command::new(&claude)
            .args(&args)
            .envs(env.vars.iter().map(|(k, v)| (k, v)))
            .env("HOME", &user)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "claude {args:?}: {}{}",
            maestro_tests::text(&out.stdout),
            maestro_tests::text(&out.stderr)
        );
    }
    let (code, _, out) = waited(
        &env,
        &dir,
        &[
            "agent",
            "spawn",
            "skilled",
            "MOCK: say hi",
            "--agent",
            "claude",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let body = mock.served_for("MOCK: say hi")[0].body.to_string();
    for skill in [
        "ask-another-agent",
        "answer-your-messages",
        "remember-a-finding",
        "look-before-you-change",
    ] {
        assert!(
            body.contains(&format!("maestro:{skill}")),
            "{skill} not offered to the model"
        );
    }
}

/// An agent whose CLI gets maestro's tools through its configuration for the run lists the
/// agents and sends the person a message, as itself.
fn tools_reach(cli: &str) {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, &format!("{cli}-tools"));
    let prompt = "MOCK: tool list_agents {}\n\
                  MOCK: tool send_message {\"to\": \"person\", \"text\": \"hello from a tool\"}\n\
                  MOCK: say sent";
    let name = format!("{cli}-talker");
    let (code, agent, out) = waited(
        &env,
        &dir,
        &["agent", "spawn", &name, prompt, "--agent", cli],
    );
    let logs = env.ok(&dir, &["agent", "logs", &name]);
    assert_eq!(code, 0, "{out}\n{logs}");
    assert_eq!(agent["state"], "idle", "{agent}\n{logs}");
    let listed = mock
        .served_for("MOCK: tool list_agents")
        .into_iter()
        .any(|s| {
            let body = s.body.to_string();
            body.contains(&format!("\\\"name\\\":\\\"{name}\\\"")) && body.contains("\\\"cli\\\"")
        });
    assert!(listed, "{cli} saw itself in list_agents: {logs}");
    let inbox = env.json(&dir, &["inbox", "--json"]);
    let first = &inbox["messages"][0];
    assert_eq!(first["text"], "hello from a tool", "{inbox}\n{logs}");
    assert!(
        first["from"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{name}")),
        "{inbox}"
    );
}

#[test]
fn gemini_gets_maestros_tools_through_a_home_of_its_own() {
    tools_reach("gemini");
}

#[test]
fn opencode_gets_maestros_tools_through_its_config_content() {
    tools_reach("opencode");
}

#[test]
fn aider_without_tools_answers_a_request_in_its_reply() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "aider-answers");
    let (code, _, out) = waited(
        &env,
        &dir,
        &[
            "agent",
            "spawn",
            "helper",
            "MOCK: say ready",
            "--agent",
            "aider",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let asked = env.json(
        &dir,
        &[
            "msg",
            "send",
            "helper",
            "Is the parser fine?\nMOCK: say aider thinks the parser is fine",
            "-t",
            "request",
            "--json",
        ],
    );
    // Its turn ends, then its answer is sent.
    let mut inbox = Value::Null;
    wait_until("helper's answer", Duration::from_secs(120), || {
        inbox = env.json(&dir, &["inbox", "--json"]);
        inbox["total"] == 1
    });
    assert_eq!(status(&env, &dir, "helper")["turns"], 2);
    let answer = &inbox["messages"][0];
    assert_eq!(
        answer["type"],
        "response",
        "{inbox}\n{}\n{}",
        env.ok(&dir, &["agent", "logs", "helper"]),
        env.daemon_logs()
    );
    assert_eq!(answer["inReplyTo"], asked["id"], "{inbox}");
    assert!(
        answer["from"].as_str().unwrap().ends_with("/helper"),
        "{inbox}"
    );
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("aider thinks the parser is fine"),
        "{inbox}\n{}",
        env.ok(&dir, &["agent", "logs", "helper"])
    );
}

/// An agent that runs `maestro msg` from its shell speaks as itself, with no token: the daemon
/// follows the connecting process up to the agent's CLI.
#[test]
fn maestro_run_from_an_agents_shell_speaks_as_that_agent() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "shell-speaks");
    let maestro = maestro_tests::maestro_bin().display().to_string();
    let prompt =
        format!("MOCK: run {maestro} msg send person hello-from-the-shell\nMOCK: say sent");
    let (code, _, out) = waited(
        &env,
        &dir,
        &["agent", "spawn", "sheller", &prompt, "--agent", "claude"],
    );
    let logs = env.ok(&dir, &["agent", "logs", "sheller"]);
    assert_eq!(code, 0, "{out}\n{logs}");
    let inbox = env.json(&dir, &["inbox", "--json"]);
    let from = inbox["messages"][0]["from"].as_str().unwrap_or_default();
    assert!(from.ends_with("/sheller"), "{inbox}\n{logs}");
    assert_eq!(inbox["messages"][0]["text"], "hello-from-the-shell");
}
