//! Memory: notes, agent turns, playbook tasks, imports and code, remembered by the real daemon in
//! its cozo store, embedded by the real model on ONNX Runtime, searched by keywords and meaning.

use crate::agents::{agents_env, repo};
use maestro_tests::{TestEnv, git, text, wait_until};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// `--json` output of one object per line.
fn lines(env: &TestEnv, dir: &Path, args: &[&str]) -> Vec<Value> {
    env.ok(dir, args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Search hits (the last line is the search's mode and warning).
fn search(env: &TestEnv, dir: &Path, args: &[&str]) -> (Vec<Value>, Value) {
    let mut all = vec!["memory", "search", "--json"];
    all.extend_from_slice(args);
    let mut out = lines(env, dir, &all);
    let summary = out.pop().expect("a summary line");
    (out, summary)
}

fn status(env: &TestEnv, dir: &Path) -> Value {
    env.json(dir, &["memory", "status", "--json"])
}

/// Waits until the worker has embedded everything stored.
fn settled(env: &TestEnv, dir: &Path) -> Value {
    let mut last = Value::Null;
    wait_until("memories embedded", Duration::from_secs(60), || {
        last = status(env, dir);
        last["semantic"] == "ready" && last["queued"] == 0
    });
    last
}

const LIB: &str = r#"use std::time::Duration;

/// Retries a failed HTTP request, doubling the wait between attempts.
pub fn retry_with_backoff(attempts: u32, base: Duration) -> Duration {
    base * 2u32.pow(attempts)
}

/// Reads the TOML configuration file.
pub fn parse_config(text: &str) -> usize {
    text.lines().count()
}

/// Renders the invoice as PDF.
pub fn render_invoice(total_cents: u64) -> String {
    format!("{total_cents}")
}
"#;

#[test]
fn notes_turns_and_code_are_found_by_meaning_and_survive_a_restart() {
    let env = agents_env("");
    env.link_models();
    let dir = repo(&env, "shop");
    std::fs::write(dir.join("src/lib.rs"), LIB).unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "code"]);
    env.ok(&dir, &["index"]);

    let auth = env.json(
        &dir,
        &[
            "memory", "add", "--json", "--agent", "backend-api",
            "The auth service rejects tokens older than 15 minutes because of clock skew in staging.",
        ],
    );
    let auth_id = auth["ids"][0].as_str().unwrap().to_owned();
    env.ok(
        &dir,
        &[
            "memory",
            "add",
            "Deploys go through the blue-green pipeline on Fridays.",
        ],
    );
    env.ok(
        &dir,
        &[
            "memory",
            "add",
            "The invoice PDF footer uses the legal entity name from settings.",
        ],
    );
    // An agent's turn is remembered with its reply and tools.
    env.ok(
        &dir,
        &[
            "agent",
            "spawn",
            "cache-worker",
            "--in-place",
            "say The Redis cache keys expire after one hour; tool Bash redis-cli TTL",
            "--wait",
            "--json",
        ],
    );
    // The code chunks come after the queue empties, then are embedded in turn.
    wait_until("code chunks", Duration::from_secs(60), || {
        status(&env, &dir)["byKind"]["code"].as_u64() >= Some(3)
    });
    let s = settled(&env, &dir);
    assert_eq!(s["byKind"]["note"], 3, "{s}");
    assert_eq!(s["byKind"]["turn"], 1, "{s}");
    assert!(s["byKind"]["code"].as_u64().unwrap() >= 3, "{s}");
    assert_eq!(s["model"], "all-minilm-l6-v2-int8");
    assert_eq!(s["dim"], 384);

    // By meaning alone: no word of the query is in the note.
    let (hits, summary) = search(
        &env,
        &dir,
        &["--mode", "semantic", "login credentials expire too soon"],
    );
    assert_eq!(summary["mode"], "semantic");
    assert_eq!(hits[0]["id"], auth_id.as_str(), "{hits:#?}");
    // Hybrid: the keyword list and the vector list both count.
    let (hits, summary) = search(&env, &dir, &["what did backend-api find about auth tokens"]);
    assert_eq!(summary["mode"], "hybrid");
    assert!(summary["warning"].is_null(), "{summary}");
    assert_eq!(hits[0]["id"], auth_id.as_str());
    assert!(
        hits[0]["keywordRank"].is_u64() && hits[0]["vectorRank"].is_u64(),
        "{}",
        hits[0]
    );
    // Filters.
    let (hits, _) = search(
        &env,
        &dir,
        &["--agent", "cache-worker", "how long do cached entries live"],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["kind"], "turn");
    assert!(
        hits[0]["text"]
            .as_str()
            .unwrap()
            .contains("expire after one hour")
    );
    assert!(
        hits[0]["text"].as_str().unwrap().contains("Tools: Bash"),
        "{}",
        hits[0]
    );
    assert_eq!(hits[0]["source"], "agent:cache-worker#turn1");
    let (hits, _) = search(&env, &dir, &["--kind", "turn", "deploy pipeline"]);
    assert!(hits.iter().all(|h| h["kind"] == "turn"));
    let (hits, _) = search(&env, &dir, &["--since", "1h", "deploy pipeline"]);
    assert!(!hits.is_empty());

    // Code by keywords: `backoff` is a word of retry_with_backoff (the code's BM25 index reads
    // identifiers as words).
    let (hits, summary) = search(
        &env,
        &dir,
        &["--kind", "code", "--mode", "keyword", "backoff"],
    );
    assert_eq!(summary["mode"], "keyword");
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert_eq!(hits[0]["line"], 4, "{hits:#?}");
    assert!(hits[0]["keywordRank"] == 1, "{}", hits[0]);

    // Semantic code search: locations, best first.
    let code = lines(
        &env,
        &dir,
        &["search", "--json", "where are retries handled"],
    );
    let first = &code[0];
    assert_eq!(first["kind"], "code");
    assert!(
        first["file"].as_str().unwrap().ends_with("src/lib.rs"),
        "{first}"
    );
    assert_eq!(first["line"], 4, "{code:#?}");
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("retry_with_backoff")
    );
    // Kept fresh: a renamed function is found under its new name, the old chunk is gone.
    std::fs::write(
        dir.join("src/lib.rs"),
        LIB.replace("render_invoice", "print_receipt"),
    )
    .unwrap();
    env.ok(&dir, &["index"]);
    wait_until(
        "code chunks follow the file",
        Duration::from_secs(30),
        || {
            let code = lines(
                &env,
                &dir,
                &["search", "--json", "-k", "20", "invoice receipt printing"],
            );
            let texts: Vec<&str> = code.iter().filter_map(|h| h["text"].as_str()).collect();
            texts.iter().any(|t| t.contains("print_receipt"))
                && !texts.iter().any(|t| t.contains("render_invoice"))
        },
    );

    // A near-duplicate reinforces the earlier memory instead of adding one.
    env.ok(
        &dir,
        &[
            "memory",
            "add",
            "deploys go through the blue-green pipeline on fridays.",
        ],
    );
    wait_until("the near-duplicate merged", Duration::from_secs(30), || {
        status(&env, &dir)["merged"] == 1
    });
    let s = settled(&env, &dir);
    assert_eq!(s["byKind"]["note"], 3, "{s}");
    let listed = lines(&env, &dir, &["memory", "list", "--json", "--kind", "note"]);
    let deploy = listed
        .iter()
        .find(|m| m["text"].as_str().unwrap().contains("blue-green"))
        .unwrap();
    assert_eq!(deploy["count"], 2, "{deploy}");
    // The same note again is found stored.
    let again = env.json(
        &dir,
        &[
            "memory",
            "add",
            "--json",
            "Deploys go through the blue-green pipeline on Fridays.",
        ],
    );
    assert_eq!(again["existed"], true);

    // A restarted daemon loads the vectors from the store.
    let before = status(&env, &dir)["indexed"].as_u64().unwrap();
    env.ok(&dir, &["daemon", "stop"]);
    let s = settled(&env, &dir);
    assert_eq!(s["indexed"].as_u64().unwrap(), before, "{s}");
    let (hits, _) = search(
        &env,
        &dir,
        &["--mode", "semantic", "login credentials expire too soon"],
    );
    assert_eq!(hits[0]["id"], auth_id.as_str());
    // The code's keyword index (identifiers read as words) is rebuilt from the store too, and
    // followed the rename.
    let (hits, summary) = search(
        &env,
        &dir,
        &["--kind", "code", "--mode", "keyword", "print the receipt"],
    );
    assert_eq!(summary["mode"], "keyword");
    assert!(
        hits[0]["text"]
            .as_str()
            .unwrap()
            .contains("fn print_receipt"),
        "{hits:#?}"
    );
    let (hits, _) = search(
        &env,
        &dir,
        &["--kind", "code", "--mode", "keyword", "render invoice"],
    );
    assert!(
        hits.iter()
            .all(|h| !h["text"].as_str().unwrap().contains("render_invoice")),
        "{hits:#?}"
    );

    // Forget by id and by agent.
    let out = env.json(&dir, &["memory", "forget", "--json", &auth_id]);
    assert_eq!(out["forgotten"], 1);
    let (hits, _) = search(&env, &dir, &["auth tokens clock skew"]);
    assert!(hits.iter().all(|h| h["id"] != auth_id.as_str()));
    let out = env.json(
        &dir,
        &["memory", "forget", "--json", "--agent", "cache-worker"],
    );
    assert_eq!(out["forgotten"], 1);
    let s = settled(&env, &dir);
    assert!(s["byKind"]["turn"].is_null(), "{s}");
    assert_eq!(s["indexed"].as_u64().unwrap(), before - 2);
}

#[test]
fn without_a_model_keyword_search_works_and_says_how_to_get_meaning() {
    let env = TestEnv::new();
    let dir = env.git_repo("plain");
    env.ok(
        &dir,
        &[
            "memory",
            "add",
            "The flaky test is tests/net.rs, it needs the loopback interface.",
        ],
    );
    let (hits, summary) = search(&env, &dir, &["flaky loopback"]);
    assert_eq!(hits.len(), 1);
    assert_eq!(summary["mode"], "keyword");
    let warning = summary["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("maestro models install") || warning.contains("still loading"),
        "{warning}"
    );
    wait_until(
        "the worker gives up on the model",
        Duration::from_secs(20),
        || status(&env, &dir)["semantic"] == "keyword-only",
    );
    let s = status(&env, &dir);
    assert!(
        s["warning"]
            .as_str()
            .unwrap()
            .contains("maestro models install"),
        "{s}"
    );
    let (_, summary) = search(&env, &dir, &["flaky"]);
    assert!(
        summary["warning"]
            .as_str()
            .unwrap()
            .contains("no ONNX Runtime library"),
        "{summary}"
    );
    // Stemming and stopwords: "tests" finds "test", "the" alone finds nothing.
    let (hits, _) = search(&env, &dir, &["tests"]);
    assert_eq!(hits.len(), 1);

    // Bad input: each a clear error naming what was wrong; nothing stored is lost.
    let bad = |args: &[&str], says: &str| {
        let out = env.run_in(&dir, args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = text(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    bad(&["memory", "search", "  "], "the query is empty");
    let huge = "word ".repeat(2000);
    bad(&["memory", "search", &huge], "at most 4096");
    bad(&["memory", "search", "-k", "0", "x"], "k is 0");
    bad(&["memory", "search", "-k", "1000", "x"], "k is 1000");
    bad(
        &["memory", "search", "--kind", "dream", "x"],
        "unknown memory kind \"dream\"",
    );
    bad(&["memory", "search", "--since", "3y", "x"], "unit");
    bad(&["memory", "add", " "], "the note is empty");
    bad(&["memory", "forget"], "nothing to forget");
    bad(&["memory", "list", "-n", "0"], "limit is 0");
    let (hits, _) = search(&env, &dir, &["flaky loopback"]);
    assert_eq!(hits.len(), 1, "nothing was lost");
}

#[test]
fn claude_and_codex_transcripts_are_imported_once() {
    let env = TestEnv::new();
    let dir = env.git_repo("imported");
    let claude = env.home.path().join("claude-projects");
    let project = claude.join(dir.to_string_lossy().replace(['/', '.'], "-"));
    std::fs::create_dir_all(&project).unwrap();
    let cwd = dir.display().to_string();
    let session = [
        format!(r#"{{"type":"user","cwd":"{cwd}","timestamp":"2026-01-02T10:00:00Z","message":{{"role":"user","content":"Why is the nightly build red?"}}}}"#),
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"cargo build --release"}}]}}"#.to_owned(),
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"The linker runs out of memory with LTO; thin LTO fixes it."}]}}"#.to_owned(),
        "{broken".to_owned(),
    ];
    std::fs::write(project.join("s.jsonl"), session.join("\n")).unwrap();
    let claude_arg = claude.display().to_string();
    let none = env.home.path().join("no-codex").display().to_string();
    let args = [
        "memory",
        "import",
        "--json",
        "--claude-dir",
        &claude_arg,
        "--codex-dir",
        &none,
    ];
    let r = env.json(&dir, &args);
    assert_eq!(
        (
            r["files"].as_u64(),
            r["exchanges"].as_u64(),
            r["added"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{r}"
    );
    assert!(
        r["problems"][0]
            .as_str()
            .unwrap()
            .contains("s.jsonl:4: not JSON"),
        "{r}"
    );
    let r = env.json(&dir, &args);
    assert_eq!(r["added"], 0, "importing again adds nothing: {r}");
    let (hits, _) = search(&env, &dir, &["--kind", "import", "linker memory LTO"]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["agent"], "claude");
    assert_eq!(hits[0]["line"], 1);
    assert!(
        hits[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Prompt: Why is the nightly build red?")
    );
    assert!(
        hits[0]["text"]
            .as_str()
            .unwrap()
            .contains("Tools: Bash cargo build --release")
    );
    // The imported time is the transcript's.
    assert_eq!(hits[0]["at"], 1_767_348_000.0);
}

#[test]
fn editors_search_memory_and_see_it_on_hover() {
    let env = TestEnv::new();
    let dir = env.git_repo("edited");
    std::fs::write(dir.join("src/lib.rs"), LIB).unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "code"]);
    env.ok(&dir, &["index"]);
    env.ok(
        &dir,
        &[
            "memory",
            "add",
            "--agent",
            "backend-api",
            "retry_with_backoff gives up after 5 attempts; the payment API needs 8.",
        ],
    );
    let mut lsp = env.lsp(&dir, &[]);
    lsp.initialize(&dir, false, false);
    let uri = maestro_tests::file_uri(&dir.join("src/lib.rs"));
    // `pub fn retry_with_backoff` is on the fourth line.
    let r = lsp.rpc.request(
        "textDocument/hover",
        serde_json::json!({"textDocument": {"uri": uri}, "position": {"line": 3, "character": 9}}),
    );
    let value = r["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"));
    assert!(value.contains("**Memories**"), "{value}");
    assert!(value.contains("gives up after 5 attempts"), "{value}");
    assert!(value.contains("note · backend-api"), "{value}");
    // A symbol nobody wrote about has no memory section.
    let r = lsp.rpc.request(
        "textDocument/hover",
        serde_json::json!({"textDocument": {"uri": uri}, "position": {"line": 8, "character": 9}}),
    );
    let value = r["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"));
    assert!(
        value.contains("parse_config") && !value.contains("Memories"),
        "{value}"
    );

    let params = serde_json::json!({"query": "payment attempts", "path": dir});
    let r = lsp.rpc.request("maestro/memory.search", params.clone());
    assert_eq!(r["result"]["hits"][0]["agent"], "backend-api", "{r}");
    let r = lsp.rpc.request(
        "workspace/executeCommand",
        serde_json::json!({"command": "maestro.memory.search", "arguments": [params]}),
    );
    assert_eq!(r["result"]["hits"].as_array().map(Vec::len), Some(1), "{r}");
    let r = lsp
        .rpc
        .request("maestro/memory.search", serde_json::json!({"query": ""}));
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the query is empty"),
        "{r}"
    );
}
