//! The foundation's figures, printed: `maestro status` with a warm and a cold daemon, the LSP
//! initialize round trip with a warm daemon, and the daemon's idle memory.
//!
//!     cargo bench -p maestro-tests --bench foundation
//!
//! Runs the release binary (built on first use) with a temporary MAESTRO_HOME. Timings are wall
//! clock, whole processes included, as a user or an editor sees them.

use maestro_tests::bench::{header, row, rss_kib, time};
use maestro_tests::{TestEnv, file_uri, maestro_bin};
use serde_json::json;
use std::time::{Duration, Instant};

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    println!(
        "maestro foundation benchmark — binary {}",
        maestro_bin().display()
    );
    let env = TestEnv::new();
    let repo = env.git_repo("bench");

    // Cold: every run starts the daemon (stopped before each run, not timed).
    let cold: Vec<Duration> = (0..10)
        .map(|_| {
            env.ok(&repo, &["daemon", "stop"]);
            time(|| {
                env.ok(&repo, &["status"]);
            })
        })
        .collect();
    let fresh_rss = rss_kib(env.daemon_pid().expect("daemon running"));

    // Warm: the daemon is up; each run is a whole `maestro status` process.
    for _ in 0..5 {
        env.ok(&repo, &["status"]);
    }
    let warm: Vec<Duration> = (0..50)
        .map(|_| time(|| drop(env.ok(&repo, &["status"]))))
        .collect();
    let warm_json: Vec<Duration> = (0..50)
        .map(|_| time(|| drop(env.ok(&repo, &["status", "--json"]))))
        .collect();

    // LSP: process start to `initialize` answered, and the request alone once the process runs.
    let mut spawn_to_init = Vec::new();
    let mut request_to_init = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        let mut lsp = env.lsp(&repo, &[]);
        let result = lsp.initialize(&repo, false, false);
        spawn_to_init.push(started.elapsed());
        assert_eq!(result["serverInfo"]["name"], "maestro");
        assert_eq!(lsp.shutdown_and_exit(), 0);

        let mut lsp = env.lsp(&repo, &[]);
        // Answered (with "not initialized") once the process is up and reading.
        let early = lsp.rpc.request("maestro/status", json!({}));
        assert_eq!(early["error"]["code"], -32002);
        let uri = file_uri(&repo);
        let started = Instant::now();
        let r = lsp.rpc.request(
            "initialize",
            json!({"processId": null, "rootUri": uri, "workspaceFolders": [{"uri": uri, "name": "bench"}], "capabilities": {}}),
        );
        request_to_init.push(started.elapsed());
        assert!(r.get("result").is_some(), "{r}");
        lsp.rpc.notify("initialized", json!({}));
        assert_eq!(lsp.shutdown_and_exit(), 0);
    }

    // Idle memory: no client connected, after all of the above.
    std::thread::sleep(Duration::from_millis(300));
    let pid = env.daemon_pid().expect("daemon running");
    let idle_rss = rss_kib(pid);
    let mut busy_lsp = env.lsp(&repo, &[]);
    busy_lsp.initialize(&repo, false, false);
    let text = "fn main() {}\n".repeat(20_000);
    busy_lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": file_uri(&repo.join("src/lib.rs")), "languageId": "rust", "version": 1, "text": text}}),
    );
    let _ = busy_lsp.rpc.request("maestro/status", json!({}));
    let connected_rss = rss_kib(pid);
    assert_eq!(busy_lsp.shutdown_and_exit(), 0);

    println!();
    header(52);
    row(
        "maestro status, daemon cold (start included), n=10",
        52,
        &cold,
    );
    row("maestro status, daemon warm, n=50", 52, &warm);
    row("maestro status --json, daemon warm, n=50", 52, &warm_json);
    row(
        "lsp: spawn → initialize result, warm daemon, n=30",
        52,
        &spawn_to_init,
    );
    row(
        "lsp: initialize request → result, warm daemon, n=30",
        52,
        &request_to_init,
    );
    println!();
    println!(
        "daemon RSS just after a cold start:          {:>6} KiB",
        fresh_rss
    );
    println!(
        "daemon RSS idle (no clients) after the runs: {:>6} KiB",
        idle_rss
    );
    println!(
        "daemon RSS with an editor and a 260 KB doc:  {:>6} KiB",
        connected_rss
    );
}
