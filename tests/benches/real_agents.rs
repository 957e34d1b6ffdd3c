//! The real agent CLIs (pinned; installed by scripts/test) against the project's mock model
//! server, standalone and under maestro (release build):
//!
//! * a one-tool turn: the CLI run by hand with the arguments maestro gives it, against
//!   `maestro agent spawn … --in-place --allow-commit --wait` (what a person waits for), and
//!   the CLI with its stdin an open pipe, as maestro ran it before (Claude waits 3 s for it,
//!   Codex and OpenCode wait for ever);
//! * spawn → first event: from the spawn request (a new worktree) to the CLI's first output;
//! * a 3-task playbook with Claude and with Codex: time per task against the CLI's own time.
//!
//!   cargo bench -p maestro-tests --bench real_agents [-- CLI...]

use maestro_agents::AgentCli;
use maestro_agents::adapters::{Access, Turn};
use maestro_tests::bench::row;
use maestro_tests::mock_model::MockModel;
use maestro_tests::real_clis::{AIDER_MODEL, CLIS, program, real_env};
use maestro_tests::{TestEnv, git};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const W: usize = 58;
const SAMPLES: usize = 7;
/// How long a CLI given an open stdin may wait before it is called hung.
const HANG: Duration = Duration::from_secs(15);

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let clis: Vec<&str> = CLIS
        .into_iter()
        .filter(|c| wanted.is_empty() || wanted.iter().any(|w| w == c))
        .collect();
    let mock = MockModel::start();
    // A CLI that ends at once: what is left of a turn under maestro is maestro's own cost.
    let env = real_env(
        &mock,
        "[agents.custom.instant]\nprogram = \"/bin/true\"\noutput = \"text\"\n",
    );
    let repo = repository(&env);
    env.ok(&repo, &["status"]);

    println!("== real agent CLIs against the mock model (release build of maestro)");
    println!(
        "{:<W$} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "figure", "min", "p50", "p90", "p99", "max"
    );
    floor(&env, &repo);
    let mut alone_p50 = std::collections::BTreeMap::new();
    for cli in &clis {
        let (alone, under) = one_tool_turns(&env, &repo, cli);
        row(&format!("{cli}: one-tool turn, standalone"), W, &alone);
        row(&format!("{cli}: one-tool turn, under maestro"), W, &under);
        let (a, u) = (p50(&alone), p50(&under));
        // The samples alternate, so each pair saw the same machine: the median of the paired
        // differences is steadier than the difference of the medians.
        let mut paired: Vec<f64> = alone
            .iter()
            .zip(&under)
            .map(|(a, u)| (u.as_secs_f64() - a.as_secs_f64()) * 1000.0)
            .collect();
        paired.sort_by(f64::total_cmp);
        println!(
            "{:<W$} {:>+8.1}ms (p50 − p50: {:+.1}ms)",
            format!("{cli}: maestro adds (median of paired differences)"),
            paired[paired.len() / 2],
            (u.as_secs_f64() - a.as_secs_f64()) * 1000.0
        );
        alone_p50.insert(cli.to_string(), a);
        if matches!(*cli, "claude" | "codex" | "opencode") {
            let piped = standalone(&env, &repo, cli, &prompt(cli, "piped"), true);
            match piped {
                Some(t) => row(
                    &format!("{cli}: same, stdin an open pipe (before)"),
                    W,
                    &[t],
                ),
                None => println!(
                    "{:<W$} hung: no end within {} s",
                    format!("{cli}: same, stdin an open pipe (before)"),
                    HANG.as_secs()
                ),
            }
        }
    }
    for cli in &clis {
        let first = first_events(&env, &repo, cli);
        row(
            &format!("{cli}: spawn (new worktree) → first output"),
            W,
            &first,
        );
    }
    for cli in clis.iter().filter(|c| matches!(**c, "claude" | "codex")) {
        let per_task = playbook(&env, cli);
        row(
            &format!("{cli}: 3-task playbook, time per task"),
            W,
            &per_task,
        );
        if let Some(a) = alone_p50.get(*cli) {
            println!(
                "{:<W$} {:>+8.1}ms",
                format!("{cli}: per task beyond the CLI's own turn (p50)"),
                (p50(&per_task).as_secs_f64() - a.as_secs_f64()) * 1000.0
            );
        }
    }
}

/// maestro's own cost of a turn, measured with a CLI that ends at once (`/bin/true`): `spawn
/// --in-place --wait` (the client, the daemon's bookkeeping, the process, its end) against the
/// program run by hand.
fn floor(env: &TestEnv, dir: &Path) {
    const N: usize = 20;
    let (mut alone, mut under) = (Vec::new(), Vec::new());
    for i in 0..N {
        let started = Instant::now();
        assert!(Command::new("/bin/true").status().unwrap().success());
        alone.push(started.elapsed());
        let name = format!("instant-{i}");
        let started = Instant::now();
        env.ok(
            dir,
            &[
                "agent",
                "spawn",
                &name,
                "go",
                "--agent",
                "instant",
                "--in-place",
                "--wait",
            ],
        );
        under.push(started.elapsed());
    }
    row("/bin/true as an agent CLI, standalone", W, &alone);
    row(
        "/bin/true as an agent CLI, spawn --wait under maestro",
        W,
        &under,
    );
}

fn p50(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s[s.len() / 2]
}

fn repository(env: &TestEnv) -> PathBuf {
    let dir = env.git_repo("bench");
    git(&dir, &["checkout", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "init"]);
    dir
}

/// A one-tool turn: a file written (a shell tool call for the CLIs with tools, an edit for
/// aider), then a word.
fn prompt(cli: &str, tag: &str) -> String {
    if cli == "aider" {
        format!("MOCK: write bench/{tag}.txt {tag}\nMOCK: say ok")
    } else {
        format!("MOCK: run echo {tag} > {tag}.txt\nMOCK: say ok")
    }
}

/// The CLI run by hand, as maestro runs it for an agent that may commit in `dir`; `None` when
/// it did not end within [`HANG`].
fn standalone(env: &TestEnv, dir: &Path, cli: &str, prompt: &str, piped: bool) -> Option<Duration> {
    let agent = AgentCli::built_in(cli).unwrap();
    let spec = agent.command(&Turn {
        program: program(cli),
        prompt: prompt.to_owned(),
        model: (cli == "aider").then(|| AIDER_MODEL.to_owned()),
        cwd: dir.to_owned(),
        access: Access::Commit {
            git_dirs: maestro_agents::worktree::git_dirs(dir),
        },
        ..Turn::default()
    });
    let started = Instant::now();
    let mut child = Command::new(&spec.program)
        .args(&spec.args)
        .current_dir(&spec.cwd)
        // The environment the daemon gives it: this process's, with the installation's.
        .envs(env.vars.iter().map(|(k, v)| (k, v)))
        .env("PWD", &spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if piped || spec.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting the CLI");
    // Held open (and unwritten) until the end, as maestro's pipe was.
    let _stdin = child.stdin.take();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{cli} standalone: {status}");
            return Some(started.elapsed());
        }
        if started.elapsed() > HANG {
            let _ = rustix::process::kill_process_group(
                rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
                rustix::process::Signal::KILL,
            );
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

use std::os::unix::process::CommandExt as _;

/// Standalone and under maestro, alternately.
fn one_tool_turns(env: &TestEnv, dir: &Path, cli: &str) -> (Vec<Duration>, Vec<Duration>) {
    let (mut alone, mut under) = (Vec::new(), Vec::new());
    // A first run of each warms caches (the CLI's own files, the page cache).
    standalone(env, dir, cli, &prompt(cli, "warm"), false);
    for i in 0..SAMPLES {
        alone.push(
            standalone(env, dir, cli, &prompt(cli, &format!("a{i}")), false)
                .expect("a standalone turn ends"),
        );
        let name = format!("turn-{cli}-{i}");
        let p = prompt(cli, &format!("m{i}"));
        let started = Instant::now();
        let out = env.run_in(
            dir,
            &[
                "agent",
                "spawn",
                &name,
                &p,
                "--agent",
                cli,
                "--in-place",
                "--allow-commit",
                "--wait",
            ],
        );
        under.push(started.elapsed());
        assert!(
            out.status.success() || out.status.code() == Some(3),
            "{cli} under maestro: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    (alone, under)
}

/// From the spawn request to the agent's first output (its state becomes `working`).
fn first_events(env: &TestEnv, dir: &Path, cli: &str) -> Vec<Duration> {
    let mut rpc = env.connect_hello();
    rpc.request("maestro/subscribe", json!({}));
    let mut samples = Vec::new();
    for i in 0..3 {
        let name = format!("first-{cli}-{i}");
        let started = Instant::now();
        let r = rpc.request(
            "maestro/agent.spawn",
            json!({"name": name, "agent": cli, "path": dir, "prompt": prompt(cli, "first")}),
        );
        assert!(r["error"].is_null(), "{r}");
        rpc.wait_for("working", |m| {
            m["method"] == "maestro/agentStatus"
                && m["params"]["agent"]["name"] == name.as_str()
                && m["params"]["agent"]["state"] == "working"
        });
        samples.push(started.elapsed());
        rpc.wait_for("turn end", |m| {
            m["method"] == "maestro/agentStatus"
                && m["params"]["agent"]["name"] == name.as_str()
                && m["params"]["agent"]["state"] == "idle"
        });
        rpc.take_kept(|_| true);
    }
    samples
}

/// A 3-task playbook, each task ticking itself and committing; per-task times from the run's
/// events as they arrive.
fn playbook(env: &TestEnv, cli: &str) -> Vec<Duration> {
    let dir = env.git_repo(&format!("plan-{cli}"));
    git(&dir, &["checkout", "-q", "-b", "main"]);
    let plan = maestro_tests::real_clis::three_task_playbook(cli);
    std::fs::write(dir.join("plan.md"), plan).unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "plan"]);
    let mut child = env
        .command()
        .current_dir(&dir)
        .args(["playbook", "run", "plan.md", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut samples = Vec::new();
    let mut started = None;
    use std::io::BufRead as _;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("\"task_start\"") {
            started = Some(Instant::now());
        } else if line.contains("\"task_complete\"")
            && let Some(s) = started.take()
        {
            samples.push(s.elapsed());
        }
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(samples.len(), 3, "every task completed");
    samples
}
