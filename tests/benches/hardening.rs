//! The figures of hostile input: the daemon's memory through floods on its socket and
//! symbol-dense buffers, what a runaway query costs everything else, and a clean stop's
//! checkpoint on a 1 GB store.
//!
//!     cargo bench -p maestro-tests --bench hardening
//!     MAESTRO_BIN=/path/to/another/maestro cargo bench -p maestro-tests --bench hardening
//!
//! The second form measures another build (an older one, for before/after) with the same
//! program. Every wait is bounded, so a build that never stops something is reported as such.

use maestro_tests::flood::{
    MIB, RUNAWAY_QUERY, partial_frame, runaway_repo, settled_rss, stalled_clients, unread_requests,
    write_until_stalled,
};
use maestro_tests::{Rpc, TestEnv, file_uri, maestro_bin};
use serde_json::{Value, json};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    // `cargo bench` passes `--bench`; other arguments name the sections to run (all by default):
    // floods, huge, dense, runaway, checkpoint.
    let asked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| asked.is_empty() || asked.iter().any(|a| a == name);
    println!(
        "maestro hardening benchmark — binary {}",
        maestro_bin().display()
    );
    if run("floods") {
        floods();
    }
    if run("huge") {
        buffer("50 MB of `x = 1` lines", "x = 1\n".repeat(50 << 20 >> 3));
    }
    if run("dense") {
        buffer(
            "1 MB of `é = 1` lines (131k definitions)",
            "é = 1\n".repeat(1 << 20 >> 3),
        );
    }
    if run("runaway") {
        runaway_query();
    }
    if run("checkpoint") {
        checkpoint_on_a_large_store();
    }
}

/// [`settled_rss`] of a process that may have died meanwhile (an older build under a 50 MB
/// buffer was killed for memory at 24 GB).
fn rss_if_alive(pid: u32) -> String {
    if maestro_tests::alive(pid) {
        mib(settled_rss(pid))
    } else {
        "(daemon gone)".to_owned()
    }
}

fn mib(kib: u64) -> String {
    format!("{:>5} MiB", kib / MIB)
}

fn floods() {
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 300\n");
    env.ok(env.home.path(), &["daemon", "start"]);
    let pid = env.daemon_pid().expect("daemon pid");
    let base = settled_rss(pid);

    let flood = unread_requests(100_000);
    let mut stream = UnixStream::connect(env.socket()).unwrap();
    let sent = write_until_stalled(&mut stream, &flood, Duration::from_secs(3));
    let during = settled_rss(pid);
    let threads = threads(pid);
    drop(stream);
    let after = settled_rss(pid);

    let partial = partial_frame(60_000_000, 59_000_000);
    let streams = stalled_clients(&env.socket(), &partial, 10);
    let partial_during = settled_rss(pid);
    drop(streams);
    let partial_after = settled_rss(pid);

    println!();
    println!("daemon RSS, floods on its socket");
    println!(
        "  at rest                                         {}",
        mib(base)
    );
    println!(
        "  100k requests, replies unread: during            {}  ({} of {} KB read, {threads} threads)",
        mib(during),
        sent >> 10,
        flood.len() >> 10
    );
    println!(
        "                                 after it closed  {}",
        mib(after)
    );
    println!(
        "  ten clients halfway through 60 MB frames: during {}",
        mib(partial_during)
    );
    println!(
        "                                 after they closed {}",
        mib(partial_after)
    );
}

/// Threads of a process.
fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The answer to request `id`, or `None` after `within`.
fn answer(rpc: &mut Rpc, id: i64, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rpc.next(left) {
            Some(m) if m["id"] == id && m.get("method").is_none() => return Some(m),
            Some(_) => {}
            None => return None,
        }
    }
    None
}

/// One Python buffer opened over LSP and its document symbols asked for (positions in UTF-16,
/// so every non-ASCII column is converted).
fn buffer(what: &str, text: String) {
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 300\n");
    let repo = env.git_repo("dense");
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    let _ = lsp.rpc.request("maestro/status", json!({}));
    let pid = env.daemon_pid().expect("daemon pid");
    let base = settled_rss(pid);
    let wait = Duration::from_secs(300);

    let uri = file_uri(&repo.join("buffer.py"));
    let started = Instant::now();
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
    );
    let id = lsp.rpc.send_request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let answered = answer(&mut lsp.rpc, id, wait).map(|a| {
        let n = a["result"].as_array().map(Vec::len);
        (started.elapsed(), n)
    });
    let open = rss_if_alive(pid);
    lsp.rpc.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri}}),
    );
    let id = lsp.rpc.send_request("maestro/status", json!({}));
    let _ = answer(&mut lsp.rpc, id, Duration::from_secs(30));
    let closed = rss_if_alive(pid);

    println!();
    println!("daemon, {what} opened over LSP, then its document symbols");
    println!(
        "  RSS at rest                                      {}",
        mib(base)
    );
    match answered {
        Some((t, n)) => println!(
            "  open + documentSymbol answered in               {:.2} s ({})",
            t.as_secs_f64(),
            n.map_or("refused".to_owned(), |n| format!("{n} symbols"))
        ),
        None => println!(
            "  open + documentSymbol answered in               not within {} s",
            wait.as_secs()
        ),
    }
    println!("  RSS with it open                                 {open}");
    println!("  RSS after it closed                              {closed}");
}

/// CPU seconds a process has used.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn runaway_query() {
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 300\n");
    let dir = runaway_repo(&env, "runaway");
    env.ok(&dir, &["index"]);
    let pid = env.daemon_pid().expect("daemon pid");
    let limit = Duration::from_secs(120);

    let write = || {
        let started = Instant::now();
        env.ok(
            &dir,
            &["memory", "add", "a note written beside a runaway query"],
        );
        started.elapsed()
    };
    let rest: Vec<Duration> = (0..5).map(|_| write()).collect();

    let started = Instant::now();
    let mut query = env
        .command()
        .current_dir(&dir)
        .args(["graph", "query", RUNAWAY_QUERY])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut during = Vec::new();
    let answered = loop {
        if let Some(status) = query.try_wait().unwrap() {
            break Some((started.elapsed(), status));
        }
        if started.elapsed() > limit {
            let _ = query.kill();
            let _ = query.wait();
            break None;
        }
        during.push(write());
        std::thread::sleep(Duration::from_millis(200));
    };
    let next_write = write();
    let cpu_before = cpu_secs(pid);
    std::thread::sleep(Duration::from_secs(2));
    let busy = (cpu_secs(pid) - cpu_before) / 2.0;

    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    let worst = |v: &[Duration]| v.iter().max().copied().unwrap_or_default();
    println!();
    println!("runaway query (a triple self-join of 640 symbols), client waiting");
    match answered {
        Some((t, status)) => println!(
            "  answered after                                   {:.2} s (exit {})",
            t.as_secs_f64(),
            status.code().unwrap_or(-1)
        ),
        None => println!(
            "  answered after                                   not within {} s (client killed)",
            limit.as_secs()
        ),
    }
    println!(
        "  `memory add` at rest: worst of 5                 {}",
        ms(worst(&rest))
    );
    println!(
        "  `memory add` while it ran: worst of {:<3}          {}",
        during.len(),
        ms(worst(&during))
    );
    println!(
        "  first write after its answer                     {}",
        ms(next_write)
    );
    println!(
        "  daemon CPU in the 2 s after the answer           {:.0}% of a core",
        busy * 100.0
    );
}

fn checkpoint_on_a_large_store() {
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 300\n");
    let store_file = env.store_file();
    let started = Instant::now();
    fill(&store_file, 1 << 30);
    let filled = started.elapsed();
    let dir = env.git_repo("big");
    for f in 0..400 {
        let text: String = (0..30)
            .map(|i| format!("def h{f}_{i}(x):\n    return x + {i}\n\n"))
            .collect();
        std::fs::write(dir.join(format!("m{f}.py")), text).unwrap();
    }
    env.ok(&dir, &["index"]);
    let wal = std::path::PathBuf::from(format!("{}-wal", store_file.display()));
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let log_before = len(&wal);
    let started = Instant::now();
    env.ok(&dir, &["daemon", "stop"]);
    let stop = started.elapsed();
    let checkpoint_ms = env
        .daemon_logs()
        .lines()
        .filter(|l| l.contains("store checkpointed"))
        .filter_map(|l| l.split("elapsed_ms=").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .next_back();

    println!();
    println!(
        "clean stop on a {:.2} GB store (filled in {:.1} s) after indexing 12,000 definitions",
        len(&store_file) as f64 / 1e9,
        filled.as_secs_f64()
    );
    println!(
        "  write-ahead log before the stop                  {:.1} MB",
        log_before as f64 / 1e6
    );
    println!(
        "  checkpoint                                       {}",
        checkpoint_ms.map_or("none logged".to_owned(), |ms| format!("{ms} ms"))
    );
    println!(
        "  `maestro daemon stop`, whole                     {:.2} s",
        stop.as_secs_f64()
    );
    println!(
        "  write-ahead log left after the stop              {:.1} MB",
        len(&wal) as f64 / 1e6
    );
}

/// Puts `bytes` of 1 MiB texts into the store's `playbook_event` relation, at the schema version of
/// the memory relations (5), so builds before and after later migrations all open it (and no
/// migration drops it: the graph's relations were made again at 8).
fn fill(path: &Path, bytes: usize) {
    const PUT: &str = "?[run, seq, at, kind, event] <- [['filler', $seq, 0.0, 'filler', $event]] \
        :put playbook_event {run, seq => at, kind, event}";
    let store = maestro_store::Store::open_with(path, &maestro_store::MIGRATIONS[..5]).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..bytes >> 20 {
        // Random letters: a string, as large stored as it is.
        let event: String = (0..1 << 20)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'a' + (seed % 26) as u8)
            })
            .collect();
        let params = maestro_store::Params::from([
            ("seq".to_owned(), maestro_store::DataValue::from(i as i64)),
            ("event".to_owned(), maestro_store::DataValue::from(event)),
        ]);
        runtime.block_on(store.write(PUT, params)).unwrap();
    }
    runtime.block_on(store.checkpoint()).unwrap();
}
