//! Group chats and the attention manager, printed (release build; fake agents):
//! - a chat round's orchestration overhead: an exchange's time (the person's message to the
//!   synthesis, one round) minus the agents' own turns on its critical path (the moderator, the
//!   slowest participant, the moderator again), each turn timed from its `starting` to its
//!   `idle` as editors see them;
//! - a round of 10 participants answering in parallel (each turn sleeps 500 ms): the round's
//!   time, and how far apart their turns started;
//! - needs_input → answered by rule: Claude's permission prompt through `maestro mcp`'s
//!   `permission` tool (maestro's whole part of it), and a printed `[y/n]` question, from the
//!   agent's `needs_input` to its answer written (detection itself waits `agents.needs_input_secs`
//!   of quiet, 1 s here, before that).
//!
//!     cargo bench -p maestro-tests --bench chat

use maestro_tests::Rpc;
use maestro_tests::bench::{header, row};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

const W: usize = 60;
const ROUNDS: usize = 20;
const WIDE: usize = 10;
const WIDE_ROUNDS: usize = 5;
const ASKS: usize = 300;
const PROMPTS: usize = 20;

fn main() {
    let files = tempfile::tempdir().unwrap();
    let rules = files.path().join("rules.json");
    let log = files.path().join("args.jsonl");
    let mut r = serde_json::Map::new();
    r.insert(
        "lead".into(),
        json!([{"if": "[@p0]", "then": "say the synthesis"}, {"then": "say @p0 @p1 @p2 your view?"}]),
    );
    r.insert(
        "wide".into(),
        json!([{"if": "[@w0]", "then": "say the synthesis"},
               {"then": format!("say {}", (0..WIDE).map(|i| format!("@w{i}")).collect::<Vec<_>>().join(" "))}]),
    );
    for i in 0..3 {
        r.insert(
            format!("p{i}"),
            json!([{"then": format!("say p{i} agrees")}]),
        );
    }
    for i in 0..WIDE {
        r.insert(
            format!("w{i}"),
            json!([{"then": format!("sleep 500; say w{i} agrees")}]),
        );
    }
    std::fs::write(&rules, Value::Object(r).to_string()).unwrap();
    let mut env = maestro_tests::bench::fake_claude_env(
        env!("CARGO_BIN_EXE_fake-agent"),
        "[agents]\nneeds_input_secs = 1\n[chat]\nbudget_usd = 0.0\n\
         [attention]\nallow = [\"Bash(cargo test*)\", \"Edit\", \"Prompt(Run the tests?*)\"]\n",
    );
    let bin = env.home.path().join("bin");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fake-agent"), bin.join("aider")).unwrap();
    let config = std::fs::read_to_string(env.home.path().join("config/config.toml")).unwrap();
    env.write_config(&format!(
        "{config}\n[agents.aider]\npath = \"{}\"\n",
        bin.join("aider").display()
    ));
    env.vars
        .push(("FAKE_AGENT_RULES".into(), rules.display().to_string()));
    env.vars
        .push(("FAKE_AGENT_LOG".into(), log.display().to_string()));
    let repo = env.git_repo("bench");
    maestro_tests::git(&repo, &["add", "."]);
    maestro_tests::git(&repo, &["commit", "-qm", "init"]);

    env.ok(&repo, &["status"]);
    println!("== group chats and attention (fake agents; release build)");
    header(W);
    let mut rpc = env.connect_hello();
    rpc.request("maestro/subscribe", json!({}));

    // One round: the moderator, three participants, the moderator's synthesis.
    let chat = new_chat(&mut rpc, &repo, "lead", &["p0", "p1", "p2"]);
    let (mut overhead, mut total) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let (t, critical) = exchange(&mut rpc, &chat, &format!("question {i}"), "lead", 3);
        total.push(t);
        overhead.push(t.saturating_sub(critical));
    }
    row(
        &format!("chat exchange, 1 round of 3, n={ROUNDS}"),
        W,
        &total,
    );
    row(
        &format!("  orchestration beyond the agents' turns, n={ROUNDS}"),
        W,
        &overhead,
    );
    println!("{:>w$}(goal: ≤ 50 ms)", "", w = W + 1);

    // Ten at once.
    let names: Vec<String> = (0..WIDE).map(|i| format!("w{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let chat = new_chat(&mut rpc, &repo, "wide", &refs);
    let (mut rounds, mut spread, mut overhead) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..WIDE_ROUNDS {
        let (t, critical, starts) =
            exchange_timed(&mut rpc, &chat, &format!("question {i}"), "wide", WIDE);
        overhead.push(t.saturating_sub(critical));
        let first = starts.values().min().copied().unwrap();
        let last = starts.values().max().copied().unwrap();
        spread.push(last - first);
        rounds.push(t);
    }
    row(
        &format!("chat exchange, {WIDE} participants of 500 ms, n={WIDE_ROUNDS}"),
        W,
        &rounds,
    );
    row(
        &format!("  their turns started within, n={WIDE_ROUNDS}"),
        W,
        &spread,
    );
    row(
        &format!("  orchestration beyond the agents' turns, n={WIDE_ROUNDS}"),
        W,
        &overhead,
    );

    // Claude's permission prompt, as its CLI asks it through maestro's tools.
    let spawned = rpc.request(
        "maestro/agent.spawn",
        json!({"name": "asker", "agent": "claude", "path": repo, "prompt": "say ready"}),
    );
    assert!(spawned["error"].is_null(), "{spawned}");
    wait_idle(&mut rpc, "asker");
    let token = maestro_tests::agent_token(&log, "asker");
    let mut mcp = env.mcp(&repo, Some(&token));
    let mut samples = Vec::new();
    for i in 0..ASKS {
        let started = Instant::now();
        let r = mcp.ok(
            "permission",
            json!({"tool_name": "Bash", "input": {"command": format!("cargo test -p m{i}")}, "tool_use_id": "t"}),
        );
        samples.push(started.elapsed());
        assert_eq!(r["behavior"], "allow", "{r}");
    }
    row(
        &format!("permission prompt → allowed by rule (mcp), n={ASKS}"),
        W,
        &samples,
    );
    println!("{:>w$}(goal: ≤ 200 ms)", "", w = W + 1);
    drop(mcp);

    // A printed question.
    let spawned = rpc.request(
        "maestro/agent.spawn",
        json!({"name": "texty", "agent": "aider", "path": repo, "prompt": "say ready"}),
    );
    assert!(spawned["error"].is_null(), "{spawned}");
    wait_idle(&mut rpc, "texty");
    let mut samples = Vec::new();
    for _ in 0..PROMPTS {
        rpc.take_kept(|_| true);
        let r = rpc.request(
            "maestro/agent.send",
            json!({"name": "texty", "path": repo, "prompt": "ask Run the tests? [y/n]"}),
        );
        assert!(r["error"].is_null(), "{r}");
        // The daemon's own times of the two states (the events can reach this client together).
        let asked = rpc.wait_for("needs_input", |m| {
            state_of(m, "texty") == Some("needs_input")
        });
        let answered = rpc.wait_for("the answer written", |m| {
            state_of(m, "texty") == Some("working") && m["params"]["previous"] == "needs_input"
        });
        let at = |m: &Value| m["params"]["agent"]["updatedAt"].as_f64().unwrap();
        samples.push(Duration::from_secs_f64(at(&answered) - at(&asked)));
        wait_idle(&mut rpc, "texty");
    }
    row(
        &format!("printed [y/n] needs_input → answered by rule, n={PROMPTS}"),
        W,
        &samples,
    );
    println!("{:>w$}(goal: ≤ 200 ms)", "", w = W + 1);
}

fn new_chat(rpc: &mut Rpc, repo: &Path, moderator: &str, participants: &[&str]) -> String {
    let r = rpc.request(
        "maestro/chat.new",
        json!({
            "path": repo,
            "moderator": {"name": moderator, "agent": "claude"},
            "participants": participants.iter().map(|p| json!({"name": p, "agent": "claude"})).collect::<Vec<_>>(),
            "limits": {"maxRounds": 3},
        }),
    );
    assert!(r["error"].is_null(), "{r}");
    r["result"]["id"].as_str().unwrap().to_owned()
}

fn state_of<'a>(m: &'a Value, name: &str) -> Option<&'a str> {
    (m["method"] == "maestro/agentStatus" && m["params"]["agent"]["name"] == name)
        .then(|| m["params"]["agent"]["state"].as_str())
        .flatten()
}

fn wait_idle(rpc: &mut Rpc, name: &str) {
    rpc.wait_for("idle", |m| state_of(m, name) == Some("idle"));
}

/// One exchange: its time, and the agents' turns on its critical path.
fn exchange(
    rpc: &mut Rpc,
    chat: &str,
    text: &str,
    moderator: &str,
    participants: usize,
) -> (Duration, Duration) {
    let (t, critical, _) = exchange_timed(rpc, chat, text, moderator, participants);
    (t, critical)
}

/// One exchange: its time, the critical path of agents' turns, when each participant's turn
/// started.
fn exchange_timed(
    rpc: &mut Rpc,
    chat: &str,
    text: &str,
    moderator: &str,
    participants: usize,
) -> (Duration, Duration, HashMap<String, Duration>) {
    rpc.take_kept(|_| true);
    let t0 = Instant::now();
    let id = rpc.send_request("maestro/chat.say", json!({"chat": chat, "text": text}));
    let mut started: HashMap<String, Duration> = HashMap::new();
    let mut turns: HashMap<String, Vec<Duration>> = HashMap::new();
    let mut answered = false;
    loop {
        let m = rpc.wait_for("the exchange", |_| true);
        let at = t0.elapsed();
        if m["id"] == json!(id) {
            assert!(m["error"].is_null(), "{m}");
            answered = true;
            continue;
        }
        if m["method"] == "maestro/agentStatus" {
            let a = &m["params"]["agent"];
            let name = a["name"].as_str().unwrap().to_owned();
            match a["state"].as_str() {
                Some("starting") => {
                    started.insert(name, at);
                }
                Some("idle") => {
                    if let Some(s) = started.get(&name) {
                        turns.entry(name).or_default().push(at - *s);
                    }
                }
                _ => {}
            }
        }
        if m["method"] == "maestro/chat"
            && m["params"]["chat"] == chat
            && m["params"]["event"] == "done"
        {
            assert!(answered);
            let t = t0.elapsed();
            // The synthesis can end the exchange before the moderator's `idle` is told: its
            // last turn counts up to here.
            let mods = turns.entry(moderator.to_owned()).or_default();
            if mods.len() == 1 {
                mods.push(at - started[moderator]);
            }
            let mods = &turns[moderator];
            assert_eq!(mods.len(), 2, "{turns:?}");
            let slowest = turns
                .iter()
                .filter(|(n, _)| n.as_str() != moderator)
                .map(|(_, d)| d[0])
                .max()
                .unwrap();
            assert_eq!(turns.len(), participants + 1, "{turns:?}");
            started.remove(moderator);
            return (t, mods[0] + mods[1] + slowest, started);
        }
    }
}
