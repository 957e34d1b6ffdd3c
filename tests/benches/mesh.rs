//! The mesh, printed (release build), two daemons on one machine joined through one real
//! `nats-server` (so the figures are maestro's and the server's, not a network's):
//! `agent send` → the first event about the agent at the client, for an agent on this node and
//! for one on the other node (its events relayed); a message from the person on one node → the
//! `maestro/message` event on the other (signed, on the JetStream stream, verified, stored);
//! a distributed playbook of fake tasks (each 300 ms of an agent's work) on one node, then on
//! three; and what the mesh costs a daemon that never joined (threads, descriptors, memory: nothing of
//! it starts). `MAESTRO_BIN=<an older maestro>` measures another build the same way.
//!
//!     cargo bench -p maestro-tests --bench mesh

use maestro_tests::bench::{header, row, rss_kib};
use maestro_tests::nats::Cluster;
use maestro_tests::{Rpc, TestEnv, git};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const W: usize = 58;
const SENDS: usize = 40;
const MESSAGES: usize = 100;
const TASKS: usize = 18;

fn main() {
    idle_cost();
    if std::env::var_os("MAESTRO_BIN").is_some() {
        // An older build has no mesh to measure.
        return;
    }
    let cluster = Cluster::single(None);
    let origin_env = TestEnv::new();
    let origin = origin_env.git_repo("origin");
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-qm", "first"]);
    let (a, a_repo) = node(&cluster, "a", &origin);
    let (b, b_repo) = node(&cluster, "b", &origin);

    a.ok(
        &a_repo,
        &[
            "agent",
            "spawn",
            "here",
            "-a",
            "claude",
            "--wait",
            "say ready",
        ],
    );
    a.ok(
        &a_repo,
        &[
            "agent",
            "spawn",
            "there",
            "--node",
            "b",
            "-a",
            "claude",
            "--wait",
            "say ready",
        ],
    );
    let mut rpc = subscribed(&a);
    println!("== the mesh (fake-agent as claude, one nats-server; release build)");
    header(W);
    for (name, node) in [("here", None), ("there", Some("b"))] {
        let mut samples = Vec::new();
        for i in 0..SENDS {
            let mut params =
                json!({"name": name, "path": a_repo, "prompt": format!("say turn {i}")});
            if let Some(n) = node {
                params["node"] = json!(n);
            }
            let started = Instant::now();
            let id = rpc.send_request("maestro/agent.send", params);
            rpc.wait_for("the first event about the agent", |m| about(m, name));
            samples.push(started.elapsed());
            let r = rpc.response(id);
            assert!(r.get("error").is_none(), "{r}");
            // The turn ends before the next.
            rpc.wait_for("the turn's end", |m| {
                m["method"] == "maestro/agentStatus"
                    && m["params"]["agent"]["name"] == name
                    && m["params"]["agent"]["state"] == "idle"
            });
            drain(&mut rpc);
        }
        row(
            &format!(
                "agent send → first event, {} agent, n={SENDS}",
                if node.is_some() { "remote" } else { "local" }
            ),
            W,
            &samples,
        );
    }

    // The person on a → agent `there` on b: b's client sees it arrive.
    let mut on_b = subscribed(&b);
    let mut sender = subscribed(&a);
    let mut samples = Vec::new();
    for i in 0..MESSAGES {
        let started = Instant::now();
        let r = sender.request(
            "maestro/message.send",
            json!({"to": "there", "path": a_repo, "text": format!("note {i}")}),
        );
        let id = r["result"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}"))
            .to_owned();
        on_b.wait_for("the message on b", |m| {
            m["method"] == "maestro/message" && m["params"]["message"]["id"] == id.as_str()
        });
        samples.push(started.elapsed());
        drain(&mut sender);
    }
    row(
        &format!("message a → b (sent → stored and told there), n={MESSAGES}"),
        W,
        &samples,
    );
    let _ = b_repo;
    drop((a, b, cluster));
    throughput();
}

/// A distributed run of `TASKS` fake tasks on one node, then on three (one more cluster).
fn throughput() {
    let cluster = Cluster::single(None);
    let origin_env = TestEnv::new();
    let origin = origin_env.git_repo("origin");
    for doc in ["one", "three"] {
        let mut text = format!("# {doc}\n\n");
        for i in 0..TASKS {
            text.push_str(&format!(
                "- [ ] sleep 300; write {doc}{i:02}.txt {i}; tick; commit task {i}\n"
            ));
        }
        std::fs::write(origin.join(format!("{doc}.md")), text).unwrap();
    }
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-qm", "tasks"]);
    let (a, a_repo) = node(&cluster, "a", &origin);
    let timed = |doc: &str| {
        let started = Instant::now();
        let out = a.ok(
            &a_repo,
            &[
                "playbook",
                "run",
                &format!("{doc}.md"),
                "--distributed",
                "-a",
                "claude",
                "--json",
            ],
        );
        let took = started.elapsed();
        let info: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(info["done"], TASKS as u64, "{info}");
        (took, info["byNode"].to_string())
    };
    let (one, _) = timed("one");
    let _b = node(&cluster, "b", &origin);
    let _c = node(&cluster, "c", &origin);
    let (three, by_node) = timed("three");
    println!(
        "distributed playbook, {TASKS} tasks of 300 ms: 1 node {:.2} s ({:.1} tasks/s), 3 nodes {:.2} s ({:.1} tasks/s, {by_node}): {:.2}x",
        one.as_secs_f64(),
        TASKS as f64 / one.as_secs_f64(),
        three.as_secs_f64(),
        TASKS as f64 / three.as_secs_f64(),
        one.as_secs_f64() / three.as_secs_f64()
    );
}

/// A node: the fake agent as claude, joined as `name`, with a clone of `origin`.
fn node(cluster: &Cluster, name: &str, origin: &Path) -> (TestEnv, PathBuf) {
    let env = maestro_tests::bench::fake_claude_env(
        env!("CARGO_BIN_EXE_fake-agent"),
        "[messages]\nwakes_per_hour = 10000\n",
    );
    let repo = cluster.join_clone(&env, name, origin, 10, "");
    (env, repo)
}

fn subscribed(env: &TestEnv) -> Rpc {
    let mut rpc = env.connect_hello();
    let r = rpc.request("maestro/subscribe", json!(null));
    assert!(r.get("error").is_none(), "{r}");
    rpc
}

fn about(m: &Value, name: &str) -> bool {
    (m["method"] == "maestro/agentOutput" && m["params"]["name"] == name)
        || (m["method"] == "maestro/agentStatus" && m["params"]["agent"]["name"] == name)
}

/// Drops the events kept back so far.
fn drain(rpc: &mut Rpc) {
    while rpc.next(Duration::from_millis(1)).is_some() {}
}

/// A daemon that never joined: its threads, descriptors and memory after start and a status.
fn idle_cost() {
    let env = TestEnv::new();
    let repo = env.git_repo("r");
    env.ok(&repo, &["status"]);
    std::thread::sleep(Duration::from_millis(500));
    let pid = env.daemon_pid().unwrap();
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let sockets = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("socket:"))
        .count();
    println!(
        "== a daemon that never joined ({}): {threads} threads, {fds} descriptors ({sockets} sockets), {} KiB resident",
        maestro_tests::maestro_bin().display(),
        rss_kib(pid)
    );
}
