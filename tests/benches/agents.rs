//! Agent figures, with `fake-agent` as the CLI (release build of both):
//! spawn → first event latency (in place and with a worktree); 100 agents streaming output at once:
//! the daemon's RSS and CPU, and `textDocument/definition` latency through `maestro lsp` while they
//! stream against idle; and the throughput of one agent's output into its transcript, through
//! pipes (headless) and through a PTY (interactive).
//!
//!   cargo bench -p maestro-tests --bench agents

use maestro_tests::bench::{header, quantile, row, rss_kib};
use maestro_tests::{Rng, TestEnv, file_uri};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const W: usize = 52;
const SPAWNS: usize = 30;
const STREAMERS: usize = 100;
const QUERIES: usize = 500;

fn main() {
    let env = maestro_tests::bench::fake_claude_env(env!("CARGO_BIN_EXE_fake-agent"), "");
    let repo = maestro_tests::bench::python_package(&env, "bench");
    env.ok(&repo, &["status"]);
    let daemon = env.daemon_pid().expect("daemon");

    println!("== agents (fake-agent as claude; release build)");
    header(W);
    let mut rpc = env.connect_hello();
    rpc.request("maestro/subscribe", json!({}));
    for (label, isolation) in [("in place", "none"), ("own worktree", "worktree")] {
        let mut first = Vec::new();
        for i in 0..SPAWNS {
            let name = format!("lat-{isolation}-{i}");
            let started = Instant::now();
            let r = rpc.request(
                "maestro/agent.spawn",
                json!({"name": name, "agent": "claude", "path": repo, "prompt": "say hi", "isolation": isolation}),
            );
            assert!(r["error"].is_null(), "{r}");
            rpc.wait_for("first output", |m| {
                m["method"] == "maestro/agentOutput" && m["params"]["name"] == name.as_str()
            });
            first.push(started.elapsed());
            rpc.wait_for("idle", |m| {
                m["method"] == "maestro/agentStatus"
                    && m["params"]["agent"]["name"] == name.as_str()
                    && m["params"]["agent"]["state"] == "idle"
            });
            rpc.take_kept(|_| true);
        }
        row(
            &format!("spawn → first output event, {label}, n={SPAWNS}"),
            W,
            &first,
        );
    }
    drop(rpc);

    streaming(&env, &repo, daemon);
    throughput(&env, &repo);
}

fn definitions(lsp: &mut maestro_tests::Lsp, repo: &Path, rng: &mut Rng) -> Vec<Duration> {
    let mut samples = Vec::new();
    for _ in 0..QUERIES {
        let m = rng.below(40);
        let f = 1 + rng.below(49);
        let uri = file_uri(&repo.join(format!("mod{m}.py")));
        // The call on the line after `def f{m}_{f}`: `    return f{m}_{f-1}(x) + 1`.
        let line = if m > 0 { 2 } else { 0 } + f * 3 + 1;
        let started = Instant::now();
        let r = lsp.rpc.request(
            "textDocument/definition",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 12}}),
        );
        samples.push(started.elapsed());
        assert!(r["result"].as_array().is_some_and(|a| !a.is_empty()), "{r}");
        // The editor has read every notification that came before the answer; drop them.
        lsp.rpc.take_kept(|_| true);
    }
    samples
}

fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 (1-based), 12 and 13 after the `)`.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn streaming(env: &TestEnv, repo: &Path, daemon: u32) {
    let mut lsp = env.lsp(repo, &[]);
    lsp.initialize(repo, false, false);
    // Wait for the index: a definition at a known place answers.
    let mut rng = Rng(0x5eed);
    definitions(&mut lsp, repo, &mut rng);
    let idle = definitions(&mut lsp, repo, &mut rng);
    let rss_idle = rss_kib(daemon);

    // Each streamer prints 20 lines of 100 characters every 100 ms for about 10 s.
    let script = vec!["spam 20 100; sleep 100"; 100].join("; ");
    let started = Instant::now();
    let cpu_before = cpu_secs(daemon);
    let mut rpc = env.connect_hello();
    for i in 0..STREAMERS {
        let r = rpc.request(
            "maestro/agent.spawn",
            json!({"name": format!("stream-{i}"), "agent": "claude", "path": repo, "prompt": script, "isolation": "none"}),
        );
        assert!(r["error"].is_null(), "{r}");
    }
    let spawned = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let busy = definitions(&mut lsp, repo, &mut rng);
    let mut peak_rss = rss_kib(daemon);
    // Until every streamer is done.
    let total_output = loop {
        peak_rss = peak_rss.max(rss_kib(daemon));
        let list = rpc.request("maestro/agent.list", json!({"path": repo}));
        let agents: Vec<&Value> = list["result"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["name"].as_str().unwrap().starts_with("stream-"))
            .collect();
        if agents.iter().all(|a| a["state"] == "idle") {
            break agents
                .iter()
                .map(|a| a["outputBytes"].as_u64().unwrap())
                .sum::<u64>();
        }
        std::thread::sleep(Duration::from_millis(250));
        lsp.rpc.take_kept(|_| true);
    };
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_secs(daemon) - cpu_before;
    row("definition through maestro lsp, idle, n=500", W, &idle);
    row(
        &format!("definition while {STREAMERS} agents stream, n=500"),
        W,
        &busy,
    );
    let p99 = |s: &[Duration]| {
        let mut ms: Vec<f64> = s.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        quantile(&ms, 0.99)
    };
    println!(
        "  p99 streaming / idle: {:.2}× (goal ≤ 2×)",
        p99(&busy) / p99(&idle)
    );
    println!(
        "{STREAMERS} agents streaming: spawned in {:.2}s; {:.1} MB of transcript in {wall:.1}s ({:.2} MB/s); daemon CPU {:.0}% of one core; RSS {:.1} MB idle, {:.1} MB peak",
        spawned.as_secs_f64(),
        total_output as f64 / 1e6,
        total_output as f64 / 1e6 / wall,
        cpu / wall * 100.0,
        rss_idle as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

fn throughput(env: &TestEnv, repo: &Path) {
    let mut rpc = env.connect_hello();
    rpc.request("maestro/subscribe", json!({}));
    let lines = 200_000;
    let started = Instant::now();
    let r = rpc.request(
        "maestro/agent.spawn",
        json!({"name": "firehose", "agent": "claude", "path": repo, "prompt": format!("spam {lines} 100"), "isolation": "none"}),
    );
    assert!(r["error"].is_null(), "{r}");
    let done = rpc.wait_for("firehose idle", |m| {
        m["method"] == "maestro/agentStatus"
            && m["params"]["agent"]["name"] == "firehose"
            && m["params"]["agent"]["state"] == "idle"
    });
    let secs = started.elapsed().as_secs_f64();
    let bytes = done["params"]["agent"]["outputBytes"].as_u64().unwrap() as f64;
    // The protocol carried each line as a JSON assistant message.
    let protocol = lines as f64 * 190.0;
    println!(
        "one agent, {lines} lines of 100 characters through pipes: {:.1} MB of transcript in {secs:.2}s = {:.1} MB/s ({:.1} MB/s of stream-json parsed)",
        bytes / 1e6,
        bytes / 1e6 / secs,
        protocol / 1e6 / secs
    );
    drop(rpc);
    pty_throughput(env, repo);
}

/// An interactive agent printing into its PTY: everything goes to the transcript and through the
/// screen model, and out to a subscribed client.
fn pty_throughput(env: &TestEnv, repo: &Path) {
    let mut rpc = env.connect_hello();
    rpc.request("maestro/subscribe", json!({}));
    let lines: u64 = 200_000;
    // 100 characters and the PTY's CR LF.
    let expected = lines * 102;
    let started = Instant::now();
    let r = rpc.request(
        "maestro/agent.spawn",
        json!({"name": "pty-firehose", "agent": "claude", "path": repo, "prompt": format!("spam {lines} 100"), "isolation": "none", "mode": "interactive"}),
    );
    assert!(r["error"].is_null(), "{r}");
    let mut seen = 0;
    while seen < expected {
        let m = rpc
            .next(Duration::from_secs(60))
            .expect("the PTY's output keeps coming");
        if m["method"] == "maestro/agentOutput" && m["params"]["name"] == "pty-firehose" {
            let end = m["params"]["offset"].as_u64().unwrap_or(0)
                + m["params"]["data"].as_str().map_or(0, |d| d.len() as u64);
            seen = seen.max(end);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "one interactive agent, {lines} lines of 100 characters through a PTY: {:.1} MB into transcript, screen model and a client in {secs:.2}s = {:.1} MB/s (goal ≥ 20 MB/s)",
        seen as f64 / 1e6,
        seen as f64 / 1e6 / secs,
    );
    rpc.request(
        "maestro/agent.stop",
        json!({"name": "pty-firehose", "path": repo}),
    );
}
