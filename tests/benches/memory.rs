//! Memory figures on the real model (all-MiniLM-L6-v2 on ONNX Runtime; release build):
//! embeddings per second, the vector index's latency and recall@10 against exact k-NN in f64 at 10k
//! and 100k vectors, and through the daemon: ingestion, hybrid search latency, the restart's load
//! time, ingestion lag under 100 memories/s, and LSP definition latency while the worker embeds.
//!
//!   cargo bench -p maestro-tests --bench memory
//!   MAESTRO_BENCH_MEMORIES=100000 cargo bench -p maestro-tests --bench memory   (daemon at 100k)

use maestro_memory::{Embedder, FastEmbedder, Meta, ModelPaths, VectorIndex, dot, normalize};
use maestro_tests::bench::{header, quantile, row};
use maestro_tests::{Rpc, TestEnv, file_uri, git};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const W: usize = 62;

/// Deterministic varied sentences in the style of agents' findings.
fn texts(n: usize, seed: u64) -> Vec<String> {
    const WHO: [&str; 8] = [
        "backend-api",
        "frontend",
        "infra",
        "billing",
        "search",
        "auth",
        "mobile",
        "data",
    ];
    const THING: [&str; 16] = [
        "the retry loop",
        "the auth token check",
        "the payment webhook",
        "the cache layer",
        "the database migration",
        "the CSV importer",
        "the rate limiter",
        "the login form",
        "the PDF renderer",
        "the search indexer",
        "the deploy pipeline",
        "the email sender",
        "the session store",
        "the feature flag client",
        "the metrics exporter",
        "the config loader",
    ];
    const HOW: [&str; 12] = [
        "fails when the clock is skewed",
        "times out under load",
        "leaks a connection per request",
        "drops events after a restart",
        "double-charges on retries",
        "ignores the locale",
        "reads a stale value",
        "panics on empty input",
        "blocks the event loop",
        "needs a bigger buffer",
        "was fixed by adding a backoff",
        "logs secrets at debug level",
    ];
    const WHERE: [&str; 6] = [
        "in staging",
        "on Fridays",
        "since the last release",
        "for EU users",
        "in CI",
        "at midnight",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |m: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as usize
    };
    (0..n)
        .map(|i| {
            format!(
                "{} found that {} {} {} (case {i}).",
                WHO[next(8)],
                THING[next(16)],
                HOW[next(12)],
                WHERE[next(6)]
            )
        })
        .collect()
}

fn embed_all(e: &FastEmbedder, texts: &[String]) -> (Vec<Vec<f32>>, Duration) {
    let started = Instant::now();
    let mut out = Vec::with_capacity(texts.len());
    for batch in texts.chunks(32) {
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        out.extend(e.embed(&refs).unwrap());
    }
    (out, started.elapsed())
}

fn main() {
    let paths = ModelPaths::from_env();
    println!(
        "== memory (all-MiniLM-L6-v2 on ONNX Runtime {}; release build)",
        paths
            .runtime
            .as_ref()
            .map_or("?".into(), |p| p.display().to_string())
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sample = texts(2048, 1);
    for threads in [1, cores] {
        let e = FastEmbedder::load(&paths, threads)
            .expect("the model (run scripts/test or `maestro models install`)");
        embed_all(&e, &sample[..64]); // warm up
        let (_, took) = embed_all(&e, &sample);
        println!(
            "{:<W$} {:>9.0}/s",
            format!("embeddings, batches of 32, {threads} thread(s), n=2048"),
            sample.len() as f64 / took.as_secs_f64()
        );
    }

    // The vector index on real embeddings: 10k embedded, 100k = those and 90k perturbed copies.
    let e = FastEmbedder::load(&paths, cores).unwrap();
    let corpus = texts(10_000, 2);
    let (real, took) = embed_all(&e, &corpus);
    println!(
        "{:<W$} {:>9.1}s",
        "embedding the 10k corpus",
        took.as_secs_f64()
    );
    let queries: Vec<Vec<f32>> = embed_all(&e, &texts(200, 3)).0;
    header(W);
    for n in [10_000usize, 100_000] {
        let mut vectors = real.clone();
        let mut x: u64 = 7;
        while vectors.len() < n {
            let base = &real[vectors.len() % real.len()];
            let mut v: Vec<f32> = base
                .iter()
                .map(|f| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    f + ((x % 1000) as f32 / 1000.0 - 0.5) * 0.08
                })
                .collect();
            normalize(&mut v);
            vectors.push(v);
        }
        let mut index = VectorIndex::new(384);
        let built = Instant::now();
        for (i, v) in vectors.iter().enumerate() {
            let meta = Meta {
                ws: 0,
                kind: 0,
                agent: 0,
                at: i as f64,
            };
            index.insert(&format!("m{i}"), meta, v);
        }
        let build = built.elapsed();
        let mut samples = Vec::new();
        let mut recall = 0.0;
        for q in &queries {
            let started = Instant::now();
            let hits = index.search(q, 10, |_| true);
            samples.push(started.elapsed());
            // Exact k-NN in f64 as the reference.
            let mut exact: Vec<(f64, usize)> = vectors
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        v.iter()
                            .zip(q)
                            .map(|(a, b)| f64::from(*a) * f64::from(*b))
                            .sum(),
                        i,
                    )
                })
                .collect();
            exact.sort_by(|a, b| b.0.total_cmp(&a.0));
            let want: Vec<String> = exact[..10].iter().map(|(_, i)| format!("m{i}")).collect();
            recall += hits.iter().filter(|h| want.contains(&h.id)).count() as f64 / 10.0;
        }
        row(
            &format!(
                "vector index k=10 over {}k × 384 (built in {:.0} ms)",
                n / 1000,
                build.as_secs_f64() * 1000.0
            ),
            W,
            &samples,
        );
        println!(
            "{:<W$} {:>9.3}",
            format!("recall@10 vs exact f64 k-NN at {}k, 200 queries", n / 1000),
            recall / queries.len() as f64
        );
        let _ = dot(&queries[0], &vectors[0]);
    }
    drop(e);
    daemon();
}

fn status(rpc: &mut Rpc) -> Value {
    let r = rpc.request("maestro/memory.status", Value::Null);
    r["result"].clone()
}

fn wait_queue_empty(rpc: &mut Rpc, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let s = status(rpc);
        if s["semantic"] == "ready" && s["queued"] == 0 {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "the worker did not finish: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn daemon() {
    let n: usize = std::env::var("MAESTRO_BENCH_MEMORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 600\n");
    env.link_models();
    let repo = env.git_repo("bench");
    let mut lib = String::from("pub fn parse_config(text: &str) -> usize {\n    text.len()\n}\n");
    for i in 0..200 {
        lib.push_str(&format!(
            "pub fn caller{i}() -> usize {{\n    parse_config(\"x\")\n}}\n"
        ));
    }
    std::fs::write(repo.join("src/lib.rs"), &lib).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "init"]);
    env.ok(&repo, &["index"]);
    let mut rpc = env.connect_hello();
    wait_queue_empty(&mut rpc, Duration::from_secs(120));
    println!("== memory through the daemon ({n} memories)");

    // LSP definition while idle.
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    let uri = file_uri(&repo.join("src/lib.rs"));
    let definitions = |lsp: &mut maestro_tests::Lsp, count: usize| -> Vec<Duration> {
        (0..count)
            .map(|i| {
                let line = 3 + (i % 200) * 3 + 1;
                let started = Instant::now();
                let r = lsp.rpc.request(
                    "textDocument/definition",
                    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 6}}),
                );
                let took = started.elapsed();
                assert!(r["result"].as_array().is_some_and(|a| !a.is_empty()), "{r}");
                lsp.rpc.take_kept(|_| true);
                std::thread::sleep(Duration::from_millis(5));
                took
            })
            .collect()
    };
    let idle = definitions(&mut lsp, 300);

    // Ingestion: n notes as fast as the socket takes them, then until every one has its vector.
    let corpus = texts(n, 4);
    let started = Instant::now();
    let mut busy = Vec::new();
    for (i, text) in corpus.iter().enumerate() {
        let r = rpc.request("maestro/memory.add", json!({"path": repo, "text": text}));
        assert!(r.get("error").is_none(), "{r}");
        // Sample the editor's latency while the worker embeds.
        if i % (n / 100).max(1) == 0 && busy.len() < 300 {
            busy.extend(definitions(&mut lsp, 3));
        }
    }
    let stored = started.elapsed();
    while status(&mut rpc)["queued"].as_u64().unwrap() > 0 && busy.len() < 300 {
        busy.extend(definitions(&mut lsp, 10));
    }
    wait_queue_empty(&mut rpc, Duration::from_secs(3600));
    let all = started.elapsed();
    let s = status(&mut rpc);
    println!(
        "{:<W$} {:>9.0}/s",
        format!("notes stored (one request each), n={n}"),
        n as f64 / stored.as_secs_f64()
    );
    println!(
        "{:<W$} {:>9.0}/s",
        "stored → all embedded (daemon worker, its default settings)",
        n as f64 / all.as_secs_f64()
    );
    println!("{:<W$} {:>9}", "merged as near-duplicates", s["merged"]);
    header(W);
    row("LSP definition, idle, n=300", W, &idle);
    row(
        &format!("LSP definition while the worker embeds, n={}", busy.len()),
        W,
        &busy,
    );

    // Hybrid search latency.
    let queries = [
        "what did auth find about tokens",
        "why does checkout double charge",
        "cache stale values",
        "pipeline failures on Fridays",
        "importer crashes on empty files",
        "who fixed the backoff",
        "emails in the wrong language",
        "connection leaks",
        "event loop blocked",
        "secrets in logs",
    ];
    for mode in ["hybrid", "keyword", "semantic"] {
        let mut samples = Vec::new();
        for i in 0..200 {
            let started = Instant::now();
            let r = rpc.request(
                "maestro/memory.search",
                json!({"query": queries[i % queries.len()], "path": repo, "k": 10, "mode": mode}),
            );
            samples.push(started.elapsed());
            assert!(
                r["result"]["hits"]
                    .as_array()
                    .is_some_and(|h| !h.is_empty()),
                "{r}"
            );
        }
        row(
            &format!("{mode} search k=10 over {n} memories (request → answer), n=200"),
            W,
            &samples,
        );
    }

    // Lag under a steady 100 memories/s for 10 s.
    let mut max_lag: f64 = 0.0;
    let started = Instant::now();
    for (i, text) in texts(1000, 5).iter().enumerate() {
        let due = started + Duration::from_millis(10 * i as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        rpc.request("maestro/memory.add", json!({"path": repo, "text": text}));
        if i % 50 == 0 {
            max_lag = max_lag.max(status(&mut rpc)["lagSecs"].as_f64().unwrap());
        }
    }
    let drained = wait_queue_empty(&mut rpc, Duration::from_secs(600));
    println!(
        "{:<W$} {:>8.2}s",
        "ingestion lag at 100 memories/s for 10 s: oldest waiting, max", max_lag
    );
    println!(
        "{:<W$} {:>8.2}s",
        "  last memory stored → queue empty",
        drained.as_secs_f64()
    );

    // Restart: vectors loaded from the store.
    drop(lsp);
    let total = status(&mut rpc)["total"].as_u64().unwrap();
    drop(rpc);
    env.ok(&repo, &["daemon", "stop"]);
    let started = Instant::now();
    env.ok(&repo, &["daemon", "start"]);
    let up = started.elapsed();
    let mut rpc = env.connect_hello();
    let ready = loop {
        let s = status(&mut rpc);
        if s["semantic"] == "ready" {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let loaded = started.elapsed();
    println!(
        "{:<W$} {:>8.0}ms",
        format!("daemon start → answering, {total} memories"),
        up.as_secs_f64() * 1000.0
    );
    println!(
        "{:<W$} {:>8.0}ms",
        format!(
            "daemon start → model and {} vectors loaded",
            ready["indexed"]
        ),
        loaded.as_secs_f64() * 1000.0
    );
    println!(
        "{:<W$} {:>8.0}ms",
        "  of which reading the vectors from the store",
        ready["loadMs"].as_f64().unwrap()
    );
    let rss = maestro_tests::bench::rss_kib(env.daemon_pid().unwrap());
    println!(
        "{:<W$} {:>8.1}MB",
        "daemon RSS after the restart",
        rss as f64 / 1024.0
    );
    let _ = quantile(&[0.0], 0.5);
}
