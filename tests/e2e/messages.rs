//! Messages between real agents (issue 21): a Claude Code agent asks an idle Codex agent through
//! maestro's MCP tools; Codex wakes, reads its inbox, replies; the reply reaches Claude at its
//! next turn. Both CLIs are the pinned real ones, against the mock model.

use crate::agents::repo;
use crate::real_agents::waited;
use maestro_tests::mock_model::MockModel;
use maestro_tests::real_clis::real_env;
use maestro_tests::{TestEnv, wait_until};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

fn status(env: &TestEnv, dir: &Path, name: &str) -> Value {
    env.json(dir, &["agent", "status", name, "--json"])
}

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
