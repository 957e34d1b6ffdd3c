//! Portable agents, printed (release build): an agent with 10,000 memories (their vectors made by
//! the real model when it is installed) and a 50 MB branch of its own commits, on two daemons
//! joined through one real `nats-server`: `agent export` and `agent import` (another daemon, its
//! own clone), `agent transfer` (node to node, through the object store), `agent snapshot` and
//! `agent rollback`, and the archive's size against the raw data it holds, beside the floor of
//! the branch part (`git bundle create` of the same commits).
//!
//!     cargo bench -p maestro-tests --bench portable

use maestro_tests::nats::Cluster;
use maestro_tests::{TestEnv, git};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const MEMORIES: usize = 10_000;
const BRANCH_BYTES: usize = 50 << 20;
const FILES: usize = 100;

fn main() {
    let cluster = Cluster::single(None);
    let origin_env = TestEnv::new();
    let origin = origin_env.git_repo("origin");
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-qm", "first"]);
    let node = |name: &str| {
        let env = maestro_tests::bench::fake_claude_env(env!("CARGO_BIN_EXE_fake-agent"), "");
        env.link_models();
        let repo = cluster.join_clone(&env, name, &origin, 10, "");
        (env, repo)
    };
    let (a, a_repo) = node("a");
    let (b, b_repo) = node("b");

    // The agent, its 50 MB branch (text a compressor can halve, as code is), its memories.
    a.ok(&a_repo, &["agent", "spawn", "big", "-a", "claude"]);
    let worktree = a.json(&a_repo, &["agent", "status", "big", "--json"])["worktree"]
        .as_str()
        .unwrap()
        .to_owned();
    let wt = Path::new(&worktree);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let per_file = BRANCH_BYTES / FILES;
    std::fs::create_dir_all(wt.join("data")).unwrap();
    for f in 0..FILES {
        let mut text = String::with_capacity(per_file + 64);
        while text.len() < per_file {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(&format!("let v{} = {:x};\n", seed % 1000, seed >> 40));
        }
        std::fs::write(wt.join(format!("data/f{f:03}.rs")), text).unwrap();
        if f % 25 == 24 {
            git(wt, &["add", "."]);
            git(wt, &["commit", "-qm", &format!("data up to {f}")]);
        }
    }
    let started = Instant::now();
    let mut rpc = a.connect_hello();
    let mut pending = Vec::new();
    for i in 0..MEMORIES {
        pending.push(rpc.send_request(
            "maestro/memory.add",
            json!({"path": a_repo, "agent": "big", "source": format!("bench:{i}"),
                   "text": format!("finding {i}: the retry loop in module {} drops the error of attempt {} when the pool is full", i % 97, i % 13)}),
        ));
        if pending.len() == 200 {
            for id in pending.drain(..) {
                let r = rpc.response(id);
                assert!(r.get("error").is_none(), "{r}");
            }
        }
    }
    for id in pending.drain(..) {
        rpc.response(id);
    }
    println!(
        "setup: {MEMORIES} memories stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let until = Instant::now() + Duration::from_secs(600);
    let mut status: Value;
    loop {
        status = a.json(&a_repo, &["memory", "status", "--json"]);
        if status["semantic"] != "ready" || status["queued"] == 0 || Instant::now() > until {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    println!(
        "setup: semantic {} ({} vectors indexed, {} queued), branch {} MiB in {FILES} files",
        status["semantic"],
        status["indexed"],
        status["queued"],
        BRANCH_BYTES >> 20
    );

    // The floor of the branch part: git's own bundle of the same commits.
    let base = git(&a_repo, &["rev-parse", "HEAD"]);
    let floor = a.home.path().join("floor.bundle");
    let t = Instant::now();
    git(
        &a_repo,
        &[
            "bundle",
            "create",
            floor.to_str().unwrap(),
            &format!("{base}..maestro/big"),
        ],
    );
    let floor_time = t.elapsed();
    let floor_bytes = std::fs::metadata(&floor).unwrap().len();

    let archive = a.home.path().join("big.maestro-agent");
    let t = Instant::now();
    let exported = a.json(
        &a_repo,
        &[
            "agent",
            "export",
            "big",
            "-o",
            archive.to_str().unwrap(),
            "--json",
        ],
    );
    let export_time = t.elapsed();
    let entry = |name: &str| {
        exported["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map_or(0, |e| e["bytes"].as_u64().unwrap())
    };

    let t = Instant::now();
    let imported = b.json(
        &b_repo,
        &["agent", "import", archive.to_str().unwrap(), "--json"],
    );
    let import_time = t.elapsed();
    assert_eq!(imported["name"], "big", "{imported}");
    b.ok(&b_repo, &["agent", "remove", "big", "--force"]);

    let mut snapshot_times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        a.ok(&a_repo, &["agent", "snapshot", "big"]);
        snapshot_times.push(t.elapsed());
    }
    std::fs::write(wt.join("after.txt"), "more work\n").unwrap();
    git(wt, &["add", "."]);
    git(wt, &["commit", "-qm", "more work"]);
    let t = Instant::now();
    a.ok(&a_repo, &["agent", "rollback", "big", "1"]);
    let rollback_time = t.elapsed();

    let t = Instant::now();
    let moved = a.json(
        &a_repo,
        &["agent", "transfer", "big", "--to", "b", "--json"],
    );
    let transfer_time = t.elapsed();
    assert_eq!(moved["node"], "b", "{moved}");

    let mib = |n: u64| n as f64 / (1 << 20) as f64;
    println!();
    println!(
        "{:<56} {:>10} {:>12}",
        "figure (release build, one nats-server)", "time", "bytes"
    );
    let line = |what: &str, d: Duration, bytes: String| {
        println!("{what:<56} {:>8.2} s {bytes:>12}", d.as_secs_f64());
    };
    line(
        "git bundle create, the same commits (floor)",
        floor_time,
        format!("{:.1} MiB", mib(floor_bytes)),
    );
    line(
        "agent export (10k memories, 50 MB branch)",
        export_time,
        format!("{:.1} MiB", mib(exported["bytes"].as_u64().unwrap())),
    );
    line("agent import (another daemon)", import_time, String::new());
    line(
        "agent transfer (node a → node b, object store)",
        transfer_time,
        String::new(),
    );
    let mut sorted = snapshot_times.clone();
    sorted.sort();
    line("agent snapshot (p50 of 3)", sorted[1], String::new());
    line("agent rollback", rollback_time, String::new());
    println!();
    let raw = exported["rawBytes"].as_u64().unwrap();
    println!(
        "archive {:.1} MiB for {:.1} MiB of raw data ({:.0}%): branch bundle {:.1} MiB, memories {:.1} MiB + vectors {:.1} MiB, transcript {:.1} KiB",
        mib(exported["bytes"].as_u64().unwrap()),
        mib(raw),
        100.0 * exported["bytes"].as_u64().unwrap() as f64 / raw as f64,
        mib(entry("branch.bundle")),
        mib(entry("memories.jsonl")),
        mib(entry("vectors.bin")),
        entry("transcript.log") as f64 / 1024.0
    );
}
