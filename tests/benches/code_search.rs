//! Code search quality and speed on code nobody here wrote (release build): the quality set of
//! `scripts/code_search_set.py` (Python packages from PyPI, docstrings removed from what is indexed,
//! their first sentences as the queries) indexed by a real daemon with the real model. Prints, per
//! package and per query kind (sharing a word with the definition / sharing none): recall@1,
//! recall@5 and MRR (over the top 10) of `maestro search` (hybrid, code only; then its vectors and its
//! keywords alone) beside a BM25 ranking of every definition's name and whole code; and how fast the
//! worker embedded the code chunks. Then the cost on real code: chunks per second, the daemon's
//! memory and the store after 400 modules of the Python stdlib are searchable.
//!
//!   cargo bench -p maestro-tests --bench code_search        (scripts/bench builds the set first)
//!   MAESTRO_CODE_SEARCH_SET=DIR cargo bench ...              (a set built elsewhere)
//!   MAESTRO_BENCH_SHOW=1 ...                                 (each query's rank and best hit)
//!   MAESTRO_BENCH_DUMP=FILE ...                              (appends each query's top 100 of the
//!                                                             vectors and of the keywords, as JSON
//!                                                             lines, to try other fusions offline)

use maestro_memory::{KeywordIndex, Within};
use maestro_tests::{Rpc, TestEnv, git};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const W: usize = 44;
/// Hits asked for per query; a definition ranked below gets reciprocal rank 0.
const K: usize = 10;

#[derive(Deserialize)]
struct Query {
    query: String,
    path: String,
    line: u32,
    kind: String,
}

#[derive(Deserialize)]
struct Definition {
    path: String,
    line: u32,
    name: String,
    text: String,
}

fn main() {
    let set = std::env::var_os("MAESTRO_CODE_SEARCH_SET")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/code-search"));
    let mut packages: Vec<PathBuf> = std::fs::read_dir(&set)
        .unwrap_or_else(|e| {
            panic!(
                "no quality set in {}: {e} (run python3 scripts/code_search_set.py {0})",
                set.display()
            )
        })
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("queries.json").is_file())
        .collect();
    packages.sort();
    println!("== code search (quality set in {})", set.display());
    let mut total = Ranks::default();
    let count = packages.len();
    for package in packages {
        let ranks = run(&package);
        for (all, one) in [
            (&mut total.maestro, ranks.maestro),
            (&mut total.semantic, ranks.semantic),
            (&mut total.keyword, ranks.keyword),
            (&mut total.baseline, ranks.baseline),
        ] {
            all.extend(one);
        }
    }
    if count > 1 {
        println!("-- the {count} packages together");
        total.print();
    }
    real_code();
}

/// Files of the Python stdlib the cost on real code is measured with (the first, sorted by path):
/// its definitions are longer than the quality set's, and a chunk's length is what costs.
const STDLIB_FILES: usize = 400;

/// The cost of code chunks on real code: the first [`STDLIB_FILES`] modules of the Python stdlib
/// (tests, site-packages and idlelib left out) indexed until every chunk has its vector; chunks
/// per second from the index pass to the last vector, the daemon's resident memory and the store
/// then.
fn real_code() {
    let stdlib = maestro_tests::bench::python_stdlib();
    let mut files = Vec::new();
    let mut stack = vec![stdlib.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !(name.starts_with("test") || name == "site-packages" || name == "idlelib") {
                    stack.push(p);
                }
            } else if name.ends_with(".py") {
                files.push(p);
            }
        }
    }
    files.sort();
    files.truncate(STDLIB_FILES);
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 900\n");
    env.link_models();
    let repo = env.git_repo("stdlib");
    let mut bytes = 0;
    for f in &files {
        let to = repo.join(f.strip_prefix(&stdlib).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        bytes += std::fs::copy(f, &to).unwrap();
    }
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "the stdlib"]);
    let (_, took, s, _) = index_until_searchable(&env, &repo);
    let chunks = s["byKind"]["code"].as_u64().unwrap_or(0);
    let pid = env.daemon_pid().expect("the daemon's pid");
    let rss = maestro_tests::bench::rss_kib(pid) as f64 / 1024.0;
    let store = maestro_tests::bench::dir_bytes(&env.home.path().join("data"));
    println!(
        "-- real code: {} stdlib modules ({:.1} MB), {chunks} code chunks",
        files.len(),
        bytes as f64 / 1e6
    );
    println!(
        "{:<W$} {:>9.0}/s   ({:.1} s from `maestro index` to the last vector; worker's own figure {:.0}/s)",
        "code chunks, index → searchable",
        chunks as f64 / took.as_secs_f64(),
        took.as_secs_f64(),
        s["embedPerSec"].as_f64().unwrap_or(0.0),
    );
    println!(
        "{:<W$} {rss:>8.0} MB   (store {:.0} MB)",
        "daemon resident memory then",
        store as f64 / 1e6
    );
}

/// Each query's kind and the rank of its definition (`None`: not in the top [`K`]), per ranking.
#[derive(Default)]
struct Ranks {
    maestro: Vec<(String, Option<usize>)>,
    semantic: Vec<(String, Option<usize>)>,
    keyword: Vec<(String, Option<usize>)>,
    baseline: Vec<(String, Option<usize>)>,
}

impl Ranks {
    fn print(&self) {
        println!(
            "{:<W$} {:>9} {:>9} {:>9}",
            "ranking, queries", "recall@1", "recall@5", "MRR"
        );
        for (who, ranks) in [
            ("maestro search", &self.maestro),
            ("  its vectors alone", &self.semantic),
            ("  its keywords alone", &self.keyword),
            ("BM25 baseline", &self.baseline),
        ] {
            for kind in ["all", "shares", "none"] {
                let picked: Vec<Option<usize>> = ranks
                    .iter()
                    .filter(|(k, _)| kind == "all" || k == kind)
                    .map(|(_, r)| *r)
                    .collect();
                if picked.is_empty() {
                    continue;
                }
                let n = picked.len() as f64;
                let at = |k: usize| {
                    picked.iter().filter(|r| r.is_some_and(|r| r < k)).count() as f64 / n
                };
                let mrr = picked
                    .iter()
                    .map(|r| r.map_or(0.0, |r| 1.0 / (r + 1) as f64))
                    .sum::<f64>()
                    / n;
                let label = match kind {
                    "all" => format!("{who}, all {}", picked.len()),
                    "shares" => format!("{who}, sharing a word {}", picked.len()),
                    _ => format!("{who}, sharing none {}", picked.len()),
                };
                println!("{label:<W$} {:>9.3} {:>9.3} {mrr:>9.3}", at(1), at(5));
            }
        }
    }
}

fn run(package: &Path) -> Ranks {
    let name = package.file_name().unwrap().to_string_lossy().into_owned();
    let queries: Vec<Query> =
        serde_json::from_slice(&std::fs::read(package.join("queries.json")).unwrap()).unwrap();
    let definitions: Vec<Definition> =
        serde_json::from_slice(&std::fs::read(package.join("definitions.json")).unwrap()).unwrap();

    let mut config = String::from("[daemon]\nidle_timeout_secs = 900\n");
    if let Ok(n) = std::env::var("MAESTRO_BENCH_EMBED_THREADS") {
        config.push_str(&format!("[memory]\nembed_threads = {n}\n"));
    }
    let env = TestEnv::with_config(&config);
    env.link_models();
    let repo = env.git_repo(&name);
    copy_tree(&package.join("src"), &repo);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "the package"]);
    let (indexed, all, s, mut rpc) = index_until_searchable(&env, &repo);
    let chunks = s["byKind"]["code"].as_u64().unwrap_or(0);
    println!(
        "-- {name}: {} definitions, {chunks} code chunks, {} queries; {} on {} thread(s)",
        definitions.len(),
        queries.len(),
        s["model"].as_str().unwrap_or("no model"),
        threads(),
    );
    println!(
        "{:<W$} {:>9.0}/s   (index pass {:.1} s, then {:.1} s to every vector; worker's own figure {:.0}/s)",
        "code chunks embedded, index → searchable",
        chunks as f64 / (all - indexed).as_secs_f64(),
        indexed.as_secs_f64(),
        (all - indexed).as_secs_f64(),
        s["embedPerSec"].as_f64().unwrap_or(0.0),
    );

    // The baseline: BM25 over each whole definition, its name first (maestro's own BM25 index,
    // which maestro search runs over its short chunks).
    let mut bm25 = KeywordIndex::default();
    for (i, d) in definitions.iter().enumerate() {
        bm25.insert(&i.to_string(), "", 0.0, &format!("{}\n{}", d.name, d.text));
    }
    let everything = Within {
        ws: None,
        since: f64::MIN,
        until: f64::MAX,
    };
    let root = std::fs::canonicalize(&repo).unwrap();
    let want = |q: &Query| format!("file:{}:{}", root.join(&q.path).display(), q.line);
    let mut maestro = Vec::new();
    let mut semantic = Vec::new();
    let mut keyword = Vec::new();
    let mut baseline = Vec::new();
    for q in &queries {
        if let Some(dump) = std::env::var_os("MAESTRO_BENCH_DUMP") {
            let mut lists = json!({"query": q.query, "want": want(q), "kind": q.kind});
            for mode in ["semantic", "keyword"] {
                let r = rpc.request(
                    "maestro/memory.search",
                    json!({"query": q.query, "path": repo, "k": 100, "kinds": ["code"], "mode": mode}),
                );
                lists[mode] = r["result"]["hits"].clone();
            }
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dump)
                .unwrap();
            writeln!(f, "{lists}").unwrap();
        }
        let mut search = |mode: &str| {
            rpc.request(
                "maestro/memory.search",
                json!({"query": q.query, "path": repo, "k": K, "kinds": ["code"], "mode": mode}),
            )
        };
        let rank_in = |r: &Value| {
            r["result"]["hits"]
                .as_array()
                .unwrap_or_else(|| panic!("{r}"))
                .iter()
                .position(|h| h["source"].as_str() == Some(want(q).as_str()))
        };
        semantic.push((q.kind.clone(), rank_in(&search("semantic"))));
        keyword.push((q.kind.clone(), rank_in(&search("keyword"))));
        let r = search("hybrid");
        let hits = r["result"]["hits"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"));
        let rank = rank_in(&r);
        // MAESTRO_BENCH_SHOW=1: each query's rank and the best hit.
        if std::env::var_os("MAESTRO_BENCH_SHOW").is_some() {
            println!(
                "{:?} ({}) → {}\n  best: {}",
                q.query,
                q.kind,
                rank.map_or("missed".into(), |r| format!("rank {}", r + 1)),
                hits.first()
                    .and_then(|h| h["text"].as_str())
                    .unwrap_or("")
                    .replace('\n', "\n        ")
            );
        }
        maestro.push((q.kind.clone(), rank));
        let rank = bm25
            .search(&q.query, K, everything)
            .iter()
            .map(|(i, _)| &definitions[i.parse::<usize>().unwrap()])
            .position(|d| d.path == q.path && d.line == q.line);
        baseline.push((q.kind.clone(), rank));
    }
    let ranks = Ranks {
        maestro,
        semantic,
        keyword,
        baseline,
    };
    ranks.print();
    ranks
}

/// `memory.embed_threads` for the daemon: MAESTRO_BENCH_EMBED_THREADS, else its default.
fn threads() -> String {
    std::env::var("MAESTRO_BENCH_EMBED_THREADS").unwrap_or_else(|_| "the default".into())
}

/// Runs `maestro index` in `repo` and waits until every code chunk has its vector; returns how
/// long the index pass took, how long until then, the memory status and the connection.
fn index_until_searchable(env: &TestEnv, repo: &Path) -> (Duration, Duration, Value, Rpc) {
    // The binary is built (when it is stale) before the clock starts.
    maestro_tests::maestro_bin();
    let started = Instant::now();
    env.ok(repo, &["index"]);
    let indexed = started.elapsed();
    let mut rpc = env.connect_hello();
    // The worker makes the chunks after the index pass, 100 files a round, and embeds each round's
    // before the next: done once nothing waits and no chunk came for 3 s (the clock stops at the
    // last vector).
    let mut settled: Option<(u64, Instant, Duration)> = None;
    loop {
        let s = rpc.request("maestro/memory.status", Value::Null)["result"].clone();
        let code = s["byKind"]["code"].as_u64().unwrap_or(0);
        let idle = s["semantic"] == "ready" && code > 0 && s["queued"] == 0;
        settled = match settled {
            Some((n, since, at)) if idle && n == code => {
                if since.elapsed() >= Duration::from_secs(3) {
                    return (indexed, at, s, rpc);
                }
                Some((n, since, at))
            }
            _ if idle => Some((code, Instant::now(), started.elapsed())),
            _ => None,
        };
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "the worker did not finish: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
