//! Playbook figures, with `fake-agent` as claude (release build of both): orchestration overhead
//! per task with an agent that ticks at once (tasks per minute over a 1,000-task playbook, the
//! gap between tasks against the agent process's own floor), the daemon's memory while it runs
//! that playbook, and the time from a daemon restart to the run going on.
//!
//!   cargo bench -p maestro-tests --bench playbooks

use maestro_tests::bench::{header, quantile, row, rss_kib};
use maestro_tests::{TestEnv, alive, kill};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const W: usize = 58;
const TASKS: usize = 1000;
const RESTARTS: usize = 5;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn main() {
    let env = TestEnv::new();
    let bin = env.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let claude = bin.join("claude");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fake-agent"), &claude).unwrap();
    env.write_config(&format!(
        "[daemon]\nidle_timeout_secs = 600\n[agents.claude]\npath = \"{}\"\n",
        claude.display()
    ));
    let repo = env.git_repo("bench");
    maestro_tests::git(&repo, &["add", "."]);
    maestro_tests::git(&repo, &["commit", "-qm", "init"]);
    env.ok(&repo, &["status"]);

    println!("== playbooks (fake-agent as claude; release build)");
    header(W);
    // The agent's own floor: the fake CLI started, ticking nothing, exiting.
    let floor: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let out = Command::new(&claude)
                .args(["-p", "--output-format", "stream-json", "--", "say hi"])
                .output()
                .unwrap();
            assert!(out.status.success());
            t.elapsed()
        })
        .collect();
    row(
        "agent process floor (start, one line, exit), n=50",
        W,
        &floor,
    );
    overhead(&env, &repo, &floor);
    restarts(&env, &repo);
}

/// Runs a 1,000-task playbook of instant ticks; prints the gaps and the daemon's memory.
fn overhead(env: &TestEnv, repo: &Path, floor: &[Duration]) {
    let plan: String = (1..=TASKS)
        .map(|i| format!("- [ ] tick; say task {i}\n"))
        .collect();
    std::fs::write(repo.join("big.md"), &plan).unwrap();
    let daemon = env.daemon_pid().expect("daemon");
    let idle_rss = rss_kib(daemon);
    let mut rpc = env.connect_hello();
    rpc.request("maestro/subscribe", json!({}));
    let started = rpc.request(
        "maestro/playbook.run",
        json!({"paths": [repo.join("big.md")], "agent": "claude"}),
    );
    assert!(started["error"].is_null(), "{started}");
    let id = started["result"]["run"]["id"].as_str().unwrap().to_owned();
    let mut peak = idle_rss;
    let t = Instant::now();
    loop {
        peak = peak.max(rss_kib(daemon));
        let Some(m) = rpc.next(Duration::from_millis(200)) else {
            continue;
        };
        if m["method"] == "maestro/playbookProgress" && m["params"]["event"]["kind"] == "complete" {
            assert_eq!(m["params"]["run"]["status"], "finished", "{m}");
            break;
        }
    }
    let wall = t.elapsed();
    let history = rpc.request("maestro/playbook.history", json!({"id": id}));
    let events = history["result"]["events"].as_array().unwrap();
    let done: Vec<f64> = events
        .iter()
        .filter(|e| e["kind"] == "task_complete")
        .map(|e| e["at"].as_f64().unwrap())
        .collect();
    assert_eq!(done.len(), TASKS);
    let gaps: Vec<Duration> = done
        .windows(2)
        .map(|w| Duration::from_secs_f64(w[1] - w[0]))
        .collect();
    row(
        &format!("task → next task done, {TASKS}-task playbook"),
        W,
        &gaps,
    );
    let turns: Vec<Duration> = events
        .iter()
        .filter(|e| e["kind"] == "task_complete")
        .map(|e| Duration::from_secs_f64(e["durationSecs"].as_f64().unwrap()))
        .collect();
    row("  of which: turn sent → file judged", W, &turns);
    row("  of which: first 100 tasks", W, &gaps[..100]);
    row("  of which: last 100 tasks", W, &gaps[gaps.len() - 100..]);
    let mut ms: Vec<f64> = floor.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let mut g: Vec<f64> = gaps.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    g.sort_by(f64::total_cmp);
    println!(
        "{:<W$} {:>7.2}ms (gap p50 {:.2} − agent floor p50 {:.2})",
        "orchestration overhead per task, p50",
        quantile(&g, 0.5) - quantile(&ms, 0.5),
        quantile(&g, 0.5),
        quantile(&ms, 0.5)
    );
    println!(
        "{:<W$} {:>9.0}   ({TASKS} tasks in {:.1} s)",
        "tasks per minute",
        TASKS as f64 / wall.as_secs_f64() * 60.0,
        wall.as_secs_f64()
    );
    println!(
        "{:<W$} {:>7.1}MB idle → {:.1} MB peak",
        "daemon RSS running the 1,000-task playbook",
        idle_rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

/// Kills the daemon in the middle of a run, starts it again, and measures until the run said
/// it resumed and until its next task started.
fn restarts(env: &TestEnv, repo: &Path) {
    let mut resumed = Vec::new();
    let mut next_task = Vec::new();
    for round in 0..RESTARTS {
        let plan: String = (1..=12)
            .map(|i| format!("- [ ] sleep 60; tick; say {i}\n"))
            .collect();
        let file = repo.join(format!("restart{round}.md"));
        std::fs::write(&file, &plan).unwrap();
        let mut rpc = env.connect_hello();
        rpc.request("maestro/subscribe", json!({}));
        let started = rpc.request("maestro/playbook.run", json!({"paths": [file]}));
        let id = started["result"]["run"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{started}"))
            .to_owned();
        rpc.wait_for("three tasks done", |m| {
            m["method"] == "maestro/playbookProgress"
                && m["params"]["run"]["tasksDone"].as_u64() >= Some(3)
        });
        drop(rpc);
        let daemon = env.daemon_pid().expect("daemon");
        kill(daemon, rustix::process::Signal::KILL);
        while alive(daemon) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let t0 = unix_now();
        env.ok(repo, &["daemon", "start"]);
        let mut rpc = env.connect_hello();
        let history = loop {
            let h = rpc.request("maestro/playbook.history", json!({"id": id}));
            let events = h["result"]["events"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if events.iter().any(|e| e["kind"] == "complete") {
                break events;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let at = |pred: &dyn Fn(&Value) -> bool| {
            history
                .iter()
                .filter(|e| e["at"].as_f64().unwrap() >= t0)
                .find(|e| pred(e))
                .map(|e| e["at"].as_f64().unwrap() - t0)
                .expect("event after the restart")
        };
        resumed.push(Duration::from_secs_f64(at(&|e| e["kind"] == "resumed")));
        next_task.push(Duration::from_secs_f64(at(&|e| e["kind"] == "task_start")));
    }
    row(
        &format!("daemon restart → run resumed, n={RESTARTS}"),
        W,
        &resumed,
    );
    row(
        &format!("daemon restart → next task started, n={RESTARTS}"),
        W,
        &next_task,
    );
}
