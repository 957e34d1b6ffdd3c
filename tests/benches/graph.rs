//! The code graph's figures, printed:
//!
//!     cargo bench -p maestro-tests --bench graph            # the Python stdlib
//!     cargo bench -p maestro-tests --bench graph -- all     # and the crates under ~/.cargo/registry/src
//!
//! (`scripts/bench` installs universal-ctags first, then runs this.) For each corpus: the cold index
//! by the real daemon against the tree-sitter floor (parse + tags query of every file on 2 threads,
//! storing nothing) and `ctags -R` on the same files; the warm start (daemon restarted, nothing
//! changed); store size and daemon RSS. On the stdlib also: `didChange` on a 2,000-line file until
//! `definition` answers from the new text, and definition / references / workspace-symbol latency
//! over 1,000 random positions, all through `maestro lsp` as an editor sees them; and definitions
//! asked the moment an editor opens a workspace nobody indexed yet: how many come back empty
//! although the finished index resolves them, and how long they take.
//!
//! The corpus is copied (only the files of the graph's languages; the stdlib without its tests and
//! site-packages) to a temporary directory first, so every contender reads the same files from a
//! warm page cache.

use maestro_graph::Lang;
use maestro_tests::bench::{dir_bytes, header, python_stdlib, quantile, row, rss_kib, time};
use maestro_tests::{Lsp, Rng, TestEnv, file_uri, maestro_bin};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use streaming_iterator::StreamingIterator;

/// Directories of the stdlib that are not the library itself.
const STDLIB_SKIP: &[&str] = &["site-packages", "test", "tests", "idle_test", "__pycache__"];
const THREADS: usize = 2;
const QUERIES: usize = 1000;
const EDITS: usize = 300;
const W: usize = 58;

struct Corpus {
    name: &'static str,
    dir: tempfile::TempDir,
    files: Vec<(Lang, PathBuf)>,
    bytes: u64,
}

fn main() {
    let all = std::env::args().any(|a| a == "all");
    println!(
        "maestro graph benchmark — binary {}",
        maestro_bin().display()
    );
    println!(
        "machine: {} cores; floor and maestro use {THREADS} threads",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let stdlib = python_stdlib();
    let stdlib = copy_corpus("stdlib", &stdlib, STDLIB_SKIP);
    first_pass_figures(&stdlib);
    let env = index_figures(&stdlib);
    editor_figures(&env, &stdlib);
    drop(env);
    if all {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .expect("CARGO_HOME or HOME");
        let registry = copy_corpus("cargo registry", &home.join("registry/src"), &[]);
        index_figures(&registry);
    }
}

/// Copies the source files under `from` (skipping directories named in `skip`).
fn copy_corpus(name: &'static str, from: &Path, skip: &[&str]) -> Corpus {
    let dir = tempfile::Builder::new().prefix("corpus").tempdir().unwrap();
    let mut files = Vec::new();
    let mut bytes = 0;
    let mut stack = vec![from.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                if !skip.contains(&e.file_name().to_str().unwrap_or_default()) {
                    stack.push(p);
                }
            } else if kind.is_file()
                && let Some(lang) = Lang::of_path(&p)
            {
                let to = dir.path().join(p.strip_prefix(from).unwrap());
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                bytes += std::fs::copy(&p, &to).unwrap();
                files.push((lang, to));
            }
        }
    }
    files.sort();
    Corpus {
        name,
        dir,
        files,
        bytes,
    }
}

/// Parse and run the tags query over every file on [`THREADS`] threads; returns the captures seen.
fn floor(files: &[(Lang, PathBuf)]) -> usize {
    let next = AtomicUsize::new(0);
    let captures = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let mut queries: Vec<(Lang, tree_sitter::Query)> = Vec::new();
                let mut parser = tree_sitter::Parser::new();
                let mut cursor = tree_sitter::QueryCursor::new();
                let mut seen = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((lang, path)) = files.get(i) else {
                        break;
                    };
                    let src = std::fs::read(path).unwrap();
                    if !queries.iter().any(|(l, _)| l == lang) {
                        let q =
                            tree_sitter::Query::new(&lang.language(), lang.query_sources().tags)
                                .expect("tags query");
                        queries.push((*lang, q));
                    }
                    let query = &queries.iter().find(|(l, _)| l == lang).unwrap().1;
                    parser.set_language(&lang.language()).unwrap();
                    let Some(tree) = parser.parse(&src, None) else {
                        continue;
                    };
                    let mut matches = cursor.matches(query, tree.root_node(), src.as_slice());
                    while let Some(m) = matches.next() {
                        seen += m.captures().len();
                    }
                }
                captures.fetch_add(seen, Ordering::Relaxed);
            });
        }
    });
    captures.into_inner()
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Cold index against the floor and ctags, the warm start, store size and RSS. Returns the
/// environment with the corpus indexed and the daemon running.
fn index_figures(corpus: &Corpus) -> TestEnv {
    let n = corpus.files.len();
    let mut by_lang: Vec<(&str, usize)> = Vec::new();
    for (lang, _) in &corpus.files {
        match by_lang.iter_mut().find(|(l, _)| *l == lang.name()) {
            Some((_, c)) => *c += 1,
            None => by_lang.push((lang.name(), 1)),
        }
    }
    println!(
        "\n== corpus: {} — {n} files, {} ({})",
        corpus.name,
        mb(corpus.bytes),
        by_lang
            .iter()
            .map(|(l, c)| format!("{l} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Warm the page cache for everyone.
    floor(&corpus.files);
    let mut floors = Vec::new();
    let mut captures = 0;
    for _ in 0..3 {
        floors.push(time(|| captures = floor(&corpus.files)));
    }
    floors.sort();
    let floor_time = floors[1];

    let tags = corpus.dir.path().join("../ctags-bench-tags");
    let ctags = ctags_run(corpus.dir.path(), &tags);

    let env = TestEnv::with_config(&format!("[index]\nthreads = {THREADS}\n"));
    let root = corpus.dir.path();
    let started = Instant::now();
    let cold = index_json(&env, root);
    let cold_wall = started.elapsed();
    // Identical contents (empty `__init__.py` files, say) are parsed once.
    assert_eq!(
        cold["parsed"].as_u64().unwrap() + cold["reused"].as_u64().unwrap(),
        cold["files"].as_u64().unwrap(),
        "{cold}"
    );
    let pid = env.daemon_pid().expect("daemon running");
    std::thread::sleep(Duration::from_millis(300));
    let rss = rss_kib(pid);
    let store = dir_bytes(&env.home.path().join("data"));

    // Warm starts: the daemon stopped, then asked again; nothing changed.
    let mut warm = Vec::new();
    let mut warm_inside = Vec::new();
    for _ in 0..5 {
        env.ok(root, &["daemon", "stop"]);
        let started = Instant::now();
        let r = index_json(&env, root);
        warm.push(started.elapsed());
        assert_eq!(r["parsed"], 0, "{r}");
        warm_inside.push(Duration::from_secs_f64(
            r["loadSecs"].as_f64().unwrap() + r["elapsedSecs"].as_f64().unwrap(),
        ));
    }
    let warm_rss = rss_kib(env.daemon_pid().unwrap());

    let per_sec = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "{:<W$} {:>9} {:>10}   notes",
        "cold index", "wall", "files/s"
    );
    println!(
        "{:<W$} {:>8.2}s {:>10.0}   {captures} captures, nothing stored (median of 3)",
        "tree-sitter floor: parse + tags query, 2 threads",
        floor_time.as_secs_f64(),
        per_sec(floor_time)
    );
    match &ctags {
        Some((d, lines)) => println!(
            "{:<W$} {:>8.2}s {:>10.0}   {lines} tags, definitions only",
            "ctags -R (universal-ctags, same languages)",
            d.as_secs_f64(),
            per_sec(*d)
        ),
        None => println!(
            "ctags -R: not run (universal-ctags is not installed; scripts/bench installs it)"
        ),
    }
    let inside = Duration::from_secs_f64(cold["elapsedSecs"].as_f64().unwrap());
    println!(
        "{:<W$} {:>8.2}s {:>10.0}   {} symbols, {} references stored; {:.2}× the floor",
        "maestro index, cold (daemon's pass)",
        inside.as_secs_f64(),
        per_sec(inside),
        cold["symbols"],
        cold["references"],
        inside.as_secs_f64() / floor_time.as_secs_f64()
    );
    println!(
        "{:<W$} {:>8.2}s {:>10.0}   daemon start and CLI included",
        "maestro index, cold (command wall time)",
        cold_wall.as_secs_f64(),
        per_sec(cold_wall)
    );
    println!(
        "skipped: {}",
        cold["skipped"].as_array().map_or(0, |s| s.len())
    );
    for s in cold["skipped"].as_array().into_iter().flatten().take(5) {
        println!(
            "  {}: {}",
            s["path"].as_str().unwrap_or("?"),
            s["reason"].as_str().unwrap_or("?")
        );
    }
    header(W);
    row(
        "warm start: load + pass, nothing changed, n=5",
        W,
        &warm_inside,
    );
    row(
        "warm start: `maestro index` wall, daemon start incl.",
        W,
        &warm,
    );
    println!(
        "store on disk after the cold index: {}; daemon RSS after it: {:.1} MB, after a warm start: {:.1} MB",
        mb(store),
        rss as f64 / 1024.0,
        warm_rss as f64 / 1024.0
    );
    env
}

fn index_json(env: &TestEnv, dir: &Path) -> Value {
    let out = env.ok(dir, &["index", "--json"]);
    serde_json::from_str(out.lines().last().expect("a summary")).unwrap()
}

fn ctags_run(dir: &Path, tags: &Path) -> Option<(Duration, usize)> {
    let version = std::process::Command::new("ctags")
        .arg("--version")
        .output()
        .ok()?;
    if !String::from_utf8_lossy(&version.stdout).contains("Universal Ctags") {
        return None;
    }
    let run = || {
        let status = std::process::Command::new("ctags")
            .args([
                "-R",
                "--languages=Python,Rust,Go,JavaScript,TypeScript",
                "-f",
            ])
            .arg(tags)
            .arg(dir)
            .status()
            .expect("ctags");
        assert!(status.success());
    };
    run();
    let mut runs: Vec<Duration> = (0..3).map(|_| time(run)).collect();
    runs.sort();
    let lines = std::fs::read_to_string(tags)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with("!_"))
        .count();
    let _ = std::fs::remove_file(tags);
    Some((runs[1], lines))
}

/// The names in a file, from its syntax tree: (line, UTF-16 column, the name).
fn identifiers(lang: Lang, text: &str) -> Vec<(usize, usize, String)> {
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&lang.language()).unwrap();
    let Some(tree) = parser.parse(text, None) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cursor = tree.walk();
    'walk: loop {
        let node = cursor.node();
        if node.child_count() == 0 && node.kind().ends_with("identifier") {
            let p = node.start_position();
            let line = text[node.start_byte() - p.column..]
                .lines()
                .next()
                .unwrap_or("");
            let col = line[..p.column].encode_utf16().count();
            out.push((p.row, col, text[node.byte_range()].to_owned()));
        }
        if cursor.goto_first_child() || cursor.goto_next_sibling() {
            continue;
        }
        while cursor.goto_parent() {
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
        }
        break;
    }
    out
}

/// Through `maestro lsp`: query latency at random positions, and edit-to-answer on a big file.
fn editor_figures(env: &TestEnv, corpus: &Corpus) {
    let root = corpus.dir.path();
    let mut lsp = env.lsp(root, &[]);
    lsp.initialize(root, false, false);
    let mut rng = Rng(0x5eed_cafe_f00d);
    let mut definition = Vec::new();
    let mut references = Vec::new();
    let mut symbols = Vec::new();
    let mut unopened = Vec::new();
    let mut slowest_refs: Vec<(Duration, String, usize)> = Vec::new();
    let (mut resolved, mut found_refs, mut found_syms) = (0, 0, 0);
    while definition.len() < QUERIES {
        let f = rng.below(corpus.files.len());
        let (lang, path) = &corpus.files[f];
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let ids = identifiers(*lang, &text);
        if ids.is_empty() {
            continue;
        }
        let uri = file_uri(path);
        let (line, col, name) = &ids[rng.below(ids.len())];
        let at =
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": col}});
        // Asked by an agent or the CLI: the file is not open, its parse is not cached yet.
        let (d, _) = timed(&mut lsp, "textDocument/definition", at.clone());
        unopened.push(d);
        // Asked in an editor: the file is open and was parsed when it was (the outline asks).
        lsp.rpc.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": lang.name(), "version": 1, "text": text}}),
        );
        timed(
            &mut lsp,
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}}),
        );
        let (d, r) = timed(&mut lsp, "textDocument/definition", at.clone());
        definition.push(d);
        resolved += usize::from(r.as_array().is_some_and(|a| !a.is_empty()));
        let mut params = at;
        params["context"] = json!({"includeDeclaration": false});
        let (d, r) = timed(&mut lsp, "textDocument/references", params);
        references.push(d);
        let n = r.as_array().map_or(0, Vec::len);
        found_refs += n;
        slowest_refs.push((d, name.clone(), n));
        let query: String = name.chars().take(2 + rng.below(5)).collect();
        let (d, r) = timed(&mut lsp, "workspace/symbol", json!({"query": query}));
        symbols.push(d);
        found_syms += r.as_array().map_or(0, Vec::len);
        lsp.rpc.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
    }
    println!(
        "\n== editor figures on {} (through maestro lsp, daemon mode)",
        corpus.name
    );
    header(W);
    row(
        &format!("definition, open file, {QUERIES} random names"),
        W,
        &definition,
    );
    row(
        &format!("references, open file, {QUERIES} random names"),
        W,
        &references,
    );
    row(
        &format!("workspace/symbol, {QUERIES} random prefixes"),
        W,
        &symbols,
    );
    row("definition, file not open (parsed from disk)", W, &unopened);
    slowest_refs.sort_by_key(|r| std::cmp::Reverse(r.0));
    let slowest: Vec<String> = slowest_refs
        .iter()
        .take(5)
        .map(|(d, name, n)| format!("{name} {:.1} ms ({n} found)", d.as_secs_f64() * 1e3))
        .collect();
    println!("  slowest references: {}", slowest.join(", "));
    println!(
        "  ({resolved} of {QUERIES} names have a definition; {:.0} references and {:.0} symbols per answer on average)",
        found_refs as f64 / QUERIES as f64,
        found_syms as f64 / QUERIES as f64
    );

    // Edit to answer: rename a function at the top of a 2,000-line file and call it at the bottom,
    // then ask for the call's definition; the answer must be the new name's line.
    let path = root.join("bench_edit.py");
    let mut text = String::from("def fresh_0():\n    return 0\n\n");
    let mut i = 0;
    while text.lines().count() < 1997 {
        text.push_str(&format!(
            "def f{i}(a, b):\n    c = a + b\n    return fresh_0() + c + f{}(b, a)\n\n",
            i.max(1) - 1
        ));
        i += 1;
    }
    text.push_str("result = fresh_0()\n");
    let last = text.lines().count() - 1;
    std::fs::write(&path, &text).unwrap();
    let uri = file_uri(&path);
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
    );
    let mut edits = Vec::new();
    let mut old = "fresh_0".to_owned();
    for n in 1..=EDITS {
        let new = format!("fresh_{n}");
        let change = |line: usize, col: usize, len: usize, text: &str| {
            json!({"range": {"start": {"line": line, "character": col},
                             "end": {"line": line, "character": col + len}}, "text": text})
        };
        let started = Instant::now();
        lsp.rpc.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": n + 1},
                   "contentChanges": [change(0, 4, old.len(), &new), change(last, 9, old.len(), &new)]}),
        );
        let r = lsp.rpc.request(
            "textDocument/definition",
            json!({"textDocument": {"uri": uri}, "position": {"line": last, "character": 10}}),
        );
        edits.push(started.elapsed());
        assert_eq!(r["result"][0]["range"]["start"]["line"], 0, "edit {n}: {r}");
        old = new;
    }
    header(W);
    row(
        &format!(
            "didChange → definition from the new text, {}-line file, n={EDITS}",
            last + 1
        ),
        W,
        &edits,
    );
    let mut ms: Vec<f64> = edits.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "  (goal: p99 ≤ 5 ms; this run {:.2} ms; definition/references/symbol goal p99 ≤ 10 ms)",
        quantile(&ms, 0.99)
    );
    extraction_after_edits(&text, last);
    let _ = std::fs::remove_file(&path);
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

/// The extraction part of an edit, in process: the same renames as above, each followed by an
/// incremental reparse and then a full extraction and an incremental one of the same tree.
fn extraction_after_edits(text: &str, last: usize) {
    use maestro_graph::{Previous, analyze, analyze_incremental, parse};
    let lang = Lang::Python;
    let mut text = text.to_owned();
    let mut tree = parse(lang, text.as_bytes(), None).unwrap();
    let (_, mut units, _) = analyze_incremental(lang, &tree, text.as_bytes(), None);
    let (mut full, mut incremental, mut kept) = (Vec::new(), Vec::new(), 0);
    let mut old = "fresh_0".to_owned();
    for n in 1..=EDITS {
        let new = format!("fresh_{n}");
        let before = text.clone();
        // Bottom first, so that the top edit's offsets stay right.
        for line in [last, 0] {
            let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
            let col = if line == 0 { 4 } else { 9 };
            let at = start + col;
            text.replace_range(at..at + old.len(), &new);
            let point = tree_sitter::Point {
                row: line,
                column: col,
            };
            tree.edit(&tree_sitter::InputEdit {
                start_byte: at,
                old_end_byte: at + old.len(),
                new_end_byte: at + new.len(),
                start_position: point,
                old_end_position: tree_sitter::Point {
                    row: line,
                    column: col + old.len(),
                },
                new_end_position: tree_sitter::Point {
                    row: line,
                    column: col + new.len(),
                },
            });
        }
        let edited = parse(lang, text.as_bytes(), Some(&tree)).unwrap();
        full.push(time(|| drop(analyze(lang, &edited, text.as_bytes()))));
        let previous = units.take().map(|units| Previous {
            text: before.as_bytes(),
            tree: &tree,
            units,
        });
        let started = Instant::now();
        let (_, next, reuse) = analyze_incremental(lang, &edited, text.as_bytes(), previous);
        incremental.push(started.elapsed());
        kept += reuse.kept;
        units = next;
        tree = edited;
        old = new;
    }
    row("extraction after the edit: all of the file", W, &full);
    row(
        "extraction after the edit: the items that changed",
        W,
        &incremental,
    );
    println!("  ({:.0} items kept per edit)", kept as f64 / EDITS as f64);
}

/// Definitions asked at once by an editor opening a workspace with a cold store (all sent before
/// any answer is read), against the same questions once the index is complete.
fn first_pass_figures(corpus: &Corpus) {
    const ASKED: usize = 200;
    let env = TestEnv::new();
    let root = corpus.dir.path();
    let mut rng = Rng(0xf125_7a55);
    let mut questions = Vec::new();
    while questions.len() < ASKED {
        let (lang, path) = &corpus.files[rng.below(corpus.files.len())];
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let ids = identifiers(*lang, &text);
        if ids.is_empty() {
            continue;
        }
        let (line, col, _) = &ids[rng.below(ids.len())];
        questions.push(json!({"textDocument": {"uri": file_uri(path)},
                              "position": {"line": line, "character": col}}));
    }
    let mut lsp = env.lsp(root, &[]);
    lsp.initialize(root, false, false);
    let sent = Instant::now();
    let ids: Vec<i64> = questions
        .iter()
        .map(|q| lsp.rpc.send_request("textDocument/definition", q.clone()))
        .collect();
    let mut during = Vec::new();
    let mut waited = Vec::new();
    for id in ids {
        let r = lsp.rpc.response(id);
        waited.push(sent.elapsed());
        during.push(r["result"].clone());
    }
    // The index is complete once `maestro index` answers (it waits for the first pass).
    env.ok(root, &["index", "--json"]);
    let empty = |v: &Value| v.as_array().is_none_or(Vec::is_empty);
    let mut wrong = 0;
    for (q, before) in questions.iter().zip(&during) {
        let (_, after) = timed(&mut lsp, "textDocument/definition", q.clone());
        wrong += usize::from(empty(before) && !empty(&after));
    }
    println!(
        "\n== {ASKED} definitions asked as an editor opens {} with a cold store",
        corpus.name
    );
    header(W);
    row("answer after being sent (all sent at once)", W, &waited);
    println!("  empty although the complete index resolves them: {wrong} of {ASKED} (goal: 0)");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

fn timed(lsp: &mut Lsp, method: &str, params: Value) -> (Duration, Value) {
    let started = Instant::now();
    let r = lsp.rpc.request(method, params);
    let d = started.elapsed();
    assert!(r.get("error").is_none(), "{method}: {r}");
    (d, r["result"].clone())
}
