//! Messages and agents' tools, printed (release build): a `maestro mcp` tool call's latency
//! (a graph definition, a memory search) as an agent's CLI makes it; a message → the idle
//! recipient's turn started (maestro's part), and → its first output (with the CLI's start; the
//! fake agent starts in a few milliseconds, a real CLI in one or two seconds); the daemon's
//! resident memory with 100,000 messages stored, against an empty store.
//!
//!     cargo bench -p maestro-tests --bench messages

use maestro_tests::bench::{header, python_package, row, rss_kib};
use maestro_tests::{Rng, TestEnv};
use serde_json::json;
use std::time::{Duration, Instant};

const W: usize = 56;
const CALLS: usize = 300;
const WAKES: usize = 40;
const STORED: usize = 100_000;

fn main() {
    let env = maestro_tests::bench::fake_claude_env(
        env!("CARGO_BIN_EXE_fake-agent"),
        "[messages]\nwakes_per_hour = 10000\n",
    );
    let models = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".cache/maestro/models/manifest.json"))
        .is_some_and(|m| m.exists());
    if models {
        env.link_models();
    }
    let repo = python_package(&env, "bench");
    env.ok(&repo, &["index"]);
    for i in 0..200 {
        env.ok(
            &repo,
            &[
                "memory",
                "add",
                &format!("finding {i}: module mod{} retries f{i} on timeouts", i % 40),
            ],
        );
    }

    println!("== messages and tools (fake-agent as claude; release build)");
    header(W);
    let mut mcp = env.mcp(&repo, None);
    let mut rng = Rng(0x5eed);
    let mut samples = Vec::new();
    for _ in 0..CALLS {
        let (m, f) = (1 + rng.below(39), 1 + rng.below(49));
        let line = 2 + 3 * f + 1 + 1;
        let started = Instant::now();
        let r = mcp.ok(
            "definition",
            json!({"path": format!("mod{m}.py"), "line": line, "column": 12}),
        );
        samples.push(started.elapsed());
        assert_eq!(r["total"], 1, "{r}");
    }
    row(
        &format!("mcp definition (by position), n={CALLS}"),
        W,
        &samples,
    );
    let mut samples = Vec::new();
    for i in 0..CALLS {
        let started = Instant::now();
        let r = mcp.ok(
            "search",
            json!({"query": format!("retries on timeouts mod{}", i % 40)}),
        );
        samples.push(started.elapsed());
        assert!(
            r["hits"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("retries")),
            "{r}"
        );
    }
    row(
        &format!(
            "mcp search ({}), n={CALLS}",
            if models {
                "hybrid"
            } else {
                "keywords: no model"
            }
        ),
        W,
        &samples,
    );
    drop(mcp);

    // A request to an idle agent wakes it.
    env.ok(&repo, &["agent", "spawn", "idle", "say ready", "--wait"]);
    let mut rpc = env.connect_hello();
    rpc.request("maestro/subscribe", json!({}));
    let (mut started_at, mut output_at) = (Vec::new(), Vec::new());
    for i in 0..WAKES {
        rpc.take_kept(|_| true);
        let t0 = Instant::now();
        let r = rpc.request(
            "maestro/message.send",
            json!({"path": repo, "to": "idle", "text": format!("say pong {i}"), "type": "request"}),
        );
        assert!(r["error"].is_null(), "{r}");
        rpc.wait_for("the woken turn", |m| {
            m["method"] == "maestro/agentStatus"
                && m["params"]["agent"]["name"] == "idle"
                && m["params"]["agent"]["state"] == "starting"
        });
        started_at.push(t0.elapsed());
        rpc.wait_for("its first output", |m| {
            m["method"] == "maestro/agentOutput"
                && m["params"]["name"] == "idle"
                && m["params"]["data"]
                    .as_str()
                    .is_some_and(|d| d.contains("pong"))
        });
        output_at.push(t0.elapsed());
        rpc.wait_for("idle again", |m| {
            m["method"] == "maestro/agentStatus"
                && m["params"]["agent"]["name"] == "idle"
                && m["params"]["agent"]["state"] == "idle"
        });
    }
    row(
        &format!("send → idle recipient's turn started, n={WAKES}"),
        W,
        &started_at,
    );
    println!("{:>w$}(goal: ≤ 100 ms plus the CLI's start)", "", w = W + 1);
    row(
        &format!("send → its first output (fake CLI), n={WAKES}"),
        W,
        &output_at,
    );
    drop(rpc);
    drop(env);

    resident();
}

/// The daemon's RSS at rest, with an empty store and with [`STORED`] messages.
fn resident() {
    let mut figures = Vec::new();
    let now = maestro_store::unix_now_ms();
    for n in [0, STORED] {
        let env = TestEnv::new();
        if n > 0 {
            let store = maestro_store::Store::open(&env.store_file()).unwrap();
            let mail =
                maestro_comms::Mailboxes::open(store, &env.home.path().join("data/keys"), now)
                    .unwrap();
            // All within the replay window (the last hours): the daemon remembers every id.
            for batch in 0..n / 1000 {
                let envelopes = (0..1000).map(|i| envelope(batch * 1000 + i, now)).collect();
                mail.send_all(envelopes, now).unwrap();
            }
            // An agent's inbox page among its 5,000 messages: only the page is verified.
            let mut samples = Vec::new();
            for _ in 0..20 {
                let started = Instant::now();
                let page = mail
                    .inbox_page("agent:ws1/reader0", false, 0, 20, now)
                    .unwrap();
                samples.push(started.elapsed());
                assert_eq!((page.messages.len(), page.total), (20, n / 20));
            }
            row(
                &format!("an inbox page of 20 among {} ({n} stored)", n / 20),
                W,
                &samples,
            );
        }
        let started = Instant::now();
        env.ok(env.home.path(), &["status"]);
        let up = started.elapsed();
        let pid = env.daemon_pid().unwrap();
        let mut rpc = env.connect_hello();
        let inbox = rpc.request("maestro/message.inbox", json!({"limit": 20}));
        assert!(inbox["error"].is_null(), "{inbox}");
        std::thread::sleep(Duration::from_millis(500));
        figures.push((n, rss_kib(pid), up));
    }
    for (n, kib, up) in figures {
        println!(
            "{:<w$} {:>7.1} MB  (started in {:.0} ms)",
            format!("daemon RSS, {n} messages stored"),
            kib as f64 / 1024.0,
            up.as_secs_f64() * 1e3,
            w = W
        );
    }
}

fn envelope(i: usize, now: u64) -> maestro_comms::Envelope {
    maestro_comms::Envelope {
        version: maestro_comms::envelope::VERSION,
        id: format!("msg_{i:032x}"),
        from: format!("agent:ws1/sender{}", i % 10),
        to: format!("agent:ws1/reader{}", i % 20),
        subject: format!("question {i}"),
        priority: maestro_comms::Priority::Normal,
        kind: maestro_comms::Kind::Request,
        thread_id: None,
        in_reply_to: None,
        created_at: now - 100 * i as u64,
        expires_at: None,
        payload: json!({"text": "Which test covers the parser's error path? ".repeat(4)}),
    }
}
