//! The code graph through its three doors: the LSP (navigation, on saved files and unsaved
//! buffers), the CLI (`maestro index`, `maestro graph …`) and the file watcher (changes made by
//! others). Every test builds a real git repository with Python, Rust and TypeScript in it.

use maestro_tests::flood::{RUNAWAY_QUERY, runaway_repo};
use maestro_tests::{Lsp, TestEnv, file_uri, text, wait_until};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const UTIL_PY: &str = r#""""Utilities."""


def helper(x):
    """Doubles x."""
    return x * 2


class Greeter:
    def greet(self, name):
        return "hi " + name + str(helper(1))
"#;

const MAIN_PY: &str = r#"from pkg.util import helper, Greeter


def main():
    g = Greeter()
    g.greet("bob")
    return helper(21)
"#;

const LIB_RS: &str = "pub struct Point {
    pub x: i32,
}

impl Point {
    pub fn norm(&self) -> i32 {
        self.x.abs()
    }
}

pub fn origin() -> Point {
    Point { x: 0 }
}

pub fn use_it() -> i32 {
    origin().norm()
}
";

const MATH_TS: &str = "export function add(a: number, b: number): number {
  return a + b;
}
";

const APP_TS: &str = "import { add } from \"./math\";

export function total(xs: number[]): number {
  return xs.reduce((a, b) => add(a, b), 0);
}
";

/// A repository with a Python package, a Rust crate and TypeScript modules.
fn fixture(env: &TestEnv, name: &str) -> PathBuf {
    let repo = env.git_repo(name);
    for (path, content) in [
        ("pkg/util.py", UTIL_PY),
        ("pkg/main.py", MAIN_PY),
        ("src/lib.rs", LIB_RS),
        ("web/math.ts", MATH_TS),
        ("web/app.ts", APP_TS),
    ] {
        let path = repo.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    repo
}

/// The LSP position of the `nth` occurrence of `needle` in `text`, `offset` characters into it.
fn at(text: &str, needle: &str, nth: usize, offset: u32) -> Value {
    let start = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} #{nth} is not in the fixture"))
        .0;
    let before = &text[..start];
    let line = before.matches('\n').count();
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": col as u32 + offset})
}

/// The 0-based line of the `nth` occurrence of `needle`.
fn line_of(text: &str, needle: &str, nth: usize) -> u64 {
    at(text, needle, nth, 0)["line"].as_u64().unwrap()
}

fn doc_at(repo: &Path, rel: &str, position: Value) -> Value {
    json!({"textDocument": {"uri": file_uri(&repo.join(rel))}, "position": position})
}

/// Answers the server's progress tokens until the workspace's index pass ends; returns its
/// begin, reports and end.
fn follow_index(lsp: &mut Lsp) -> Vec<Value> {
    let mut token = Value::Null;
    let mut seen = Vec::new();
    loop {
        let m = lsp
            .rpc
            .wait_accepting_progress("the index's progress", |m| m["method"] == "$/progress");
        let value = &m["params"]["value"];
        if value["kind"] == "begin"
            && value["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Indexing"))
        {
            token = m["params"]["token"].clone();
        }
        if m["params"]["token"] == token {
            seen.push(value.clone());
            if value["kind"] == "end" {
                return seen;
            }
        }
    }
}

fn started(env: &TestEnv, repo: &Path, args: &[&str]) -> Lsp {
    let mut lsp = env.lsp(repo, args);
    lsp.initialize(repo, false, true);
    let progress = follow_index(&mut lsp);
    let end = progress.last().unwrap();
    assert!(
        end["message"].as_str().unwrap().starts_with("5 files"),
        "{progress:?}"
    );
    lsp
}

/// A file's document symbols, and the names of the top-level ones.
fn outline(lsp: &mut Lsp, path: &Path) -> (Value, Vec<String>) {
    let r = result(lsp.rpc.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": file_uri(path)}}),
    ));
    let names = r
        .as_array()
        .unwrap_or_else(|| panic!("not a list of symbols: {r}"))
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    (r, names)
}

fn result(r: Value) -> Value {
    assert!(r.get("error").is_none(), "{r}");
    r["result"].clone()
}

/// `(file name, 0-based line)` of each location.
fn places(locations: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = locations
        .as_array()
        .unwrap_or_else(|| panic!("not a list of locations: {locations}"))
        .iter()
        .map(|l| {
            let uri = l["uri"].as_str().unwrap();
            (
                uri.rsplit('/').next().unwrap().to_owned(),
                l["range"]["start"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn navigation(standalone: bool) {
    let env = TestEnv::new();
    let repo = fixture(&env, "nav");
    let args: &[&str] = if standalone { &["--standalone"] } else { &[] };
    let mut lsp = started(&env, &repo, args);
    let def_line = line_of(UTIL_PY, "def helper", 0);

    // Definition: from a call, and from the import, across files.
    for position in [at(MAIN_PY, "helper(21)", 0, 2), at(MAIN_PY, "helper", 0, 0)] {
        let r = result(lsp.rpc.request(
            "textDocument/definition",
            doc_at(&repo, "pkg/main.py", position),
        ));
        assert_eq!(places(&r), [("util.py".into(), def_line)], "{r}");
        let start = &r[0]["range"]["start"];
        assert_eq!(start["character"], 4, "the name, not the `def`: {r}");
    }
    // Rust: a method through a call's result; TypeScript: an imported function.
    let r = result(lsp.rpc.request(
        "textDocument/definition",
        doc_at(&repo, "src/lib.rs", at(LIB_RS, "norm()", 0, 1)),
    ));
    assert_eq!(
        places(&r),
        [("lib.rs".into(), line_of(LIB_RS, "fn norm", 0))]
    );
    let r = result(lsp.rpc.request(
        "textDocument/definition",
        doc_at(&repo, "web/app.ts", at(APP_TS, "add(a, b)", 0, 0)),
    ));
    assert_eq!(places(&r), [("math.ts".into(), 0)]);

    // References, with and without the declaration.
    let refs = |lsp: &mut Lsp, include: bool| {
        let mut params = doc_at(&repo, "pkg/util.py", at(UTIL_PY, "helper", 0, 1));
        params["context"] = json!({"includeDeclaration": include});
        places(&result(lsp.rpc.request("textDocument/references", params)))
    };
    let uses = vec![
        ("main.py".to_owned(), 0),
        ("main.py".to_owned(), line_of(MAIN_PY, "helper(21)", 0)),
        ("util.py".to_owned(), line_of(UTIL_PY, "helper(1)", 0)),
    ];
    assert_eq!(refs(&mut lsp, false), uses);
    let mut with_declaration = uses.clone();
    with_declaration.push(("util.py".into(), def_line));
    with_declaration.sort();
    assert_eq!(refs(&mut lsp, true), with_declaration);

    // Hover: the signature, the doc comment, and the call counts.
    let r = result(lsp.rpc.request(
        "textDocument/hover",
        doc_at(&repo, "pkg/util.py", at(UTIL_PY, "helper", 0, 0)),
    ));
    let hover = r["contents"]["value"].as_str().unwrap();
    assert!(hover.contains("def helper(x)"), "{hover}");
    assert!(hover.contains("Doubles x."), "{hover}");
    assert!(hover.contains("2 callers · 0 callees"), "{hover}");

    // Document symbols are a tree: the method under its class.
    let (r, names) = outline(&mut lsp, &repo.join("pkg/util.py"));
    assert_eq!(names, ["helper", "Greeter"], "{r}");
    assert_eq!(r[1]["kind"], 5, "a class");
    assert_eq!(r[1]["children"][0]["name"], "greet");
    assert_eq!(r[1]["children"][0]["kind"], 6, "a method");

    // Workspace symbols: fuzzy, best first.
    let r = result(
        lsp.rpc
            .request("workspace/symbol", json!({"query": "grtr"})),
    );
    assert_eq!(r[0]["name"], "Greeter", "{r}");
    let r = result(
        lsp.rpc
            .request("workspace/symbol", json!({"query": "Point"})),
    );
    assert_eq!(r[0]["name"], "Point", "{r}");
    assert!(
        r[0]["location"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("src/lib.rs")
    );

    // Call hierarchy: who calls `helper`, and what `main` calls.
    let items = result(lsp.rpc.request(
        "textDocument/prepareCallHierarchy",
        doc_at(&repo, "pkg/util.py", at(UTIL_PY, "helper", 0, 0)),
    ));
    assert_eq!(items[0]["name"], "helper", "{items}");
    let incoming = result(
        lsp.rpc
            .request("callHierarchy/incomingCalls", json!({"item": items[0]})),
    );
    let mut callers: Vec<&str> = incoming
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["from"]["name"].as_str().unwrap())
        .collect();
    callers.sort();
    assert_eq!(callers, ["greet", "main"], "{incoming}");
    let main = result(lsp.rpc.request(
        "textDocument/prepareCallHierarchy",
        doc_at(&repo, "pkg/main.py", at(MAIN_PY, "main", 0, 0)),
    ));
    let outgoing = result(
        lsp.rpc
            .request("callHierarchy/outgoingCalls", json!({"item": main[0]})),
    );
    let mut callees: Vec<&str> = outgoing
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["to"]["name"].as_str().unwrap())
        .collect();
    callees.sort();
    assert_eq!(callees, ["Greeter", "greet", "helper"], "{outgoing}");

    // Highlights: every use of the name in this file.
    let r = result(lsp.rpc.request(
        "textDocument/documentHighlight",
        doc_at(&repo, "pkg/main.py", at(MAIN_PY, "helper(21)", 0, 0)),
    ));
    assert_eq!(r.as_array().unwrap().len(), 2, "import and call: {r}");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn navigation_through_the_daemon() {
    navigation(false);
}

#[test]
fn navigation_standalone() {
    navigation(true);
}

#[test]
fn unsaved_buffers_are_what_the_answers_are_about() {
    let env = TestEnv::new();
    let repo = fixture(&env, "buffers");
    let mut lsp = started(&env, &repo, &[]);
    let util = file_uri(&repo.join("pkg/util.py"));
    let main = file_uri(&repo.join("pkg/main.py"));
    for (uri, text) in [(&util, UTIL_PY), (&main, MAIN_PY)] {
        lsp.rpc.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
        );
    }
    // Rename `helper` to `twice` in util.py, insert lines above it, import it in main.py and
    // call it there, all without saving.
    let edited_util = format!("import os\n\n{}", UTIL_PY.replace("helper", "twice"));
    lsp.rpc.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": util, "version": 2},
               "contentChanges": [{"text": edited_util}]}),
    );
    let end = at(MAIN_PY, "return helper(21)", 0, 0);
    let import_end = at(MAIN_PY, "Greeter\n", 0, 7);
    lsp.rpc.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 2},
               "contentChanges": [
                   {"range": {"start": end, "end": end}, "text": "twice(2)\n    "},
                   {"range": {"start": import_end, "end": import_end}, "text": ", twice"}]}),
    );
    let edited_main = MAIN_PY
        .replace(
            "    return helper(21)",
            "    twice(2)\n    return helper(21)",
        )
        .replace("Greeter\n", "Greeter, twice\n");
    let r = result(lsp.rpc.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": main}, "position": at(&edited_main, "twice(2)", 0, 1)}),
    ));
    assert_eq!(
        places(&r),
        [("util.py".into(), line_of(&edited_util, "def twice", 0))],
        "the unsaved definition, at its unsaved line: {r}"
    );
    // The old name is gone from the buffer: its definition is not found any more.
    let r = result(lsp.rpc.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": main}, "position": at(&edited_main, "helper(21)", 0, 1)}),
    ));
    assert_eq!(r, json!([]), "{r}");
    // References of the unsaved function include the unsaved call.
    let r = result(lsp.rpc.request(
        "textDocument/references",
        json!({"textDocument": {"uri": util}, "position": at(&edited_util, "twice", 0, 0),
               "context": {"includeDeclaration": false}}),
    ));
    assert!(
        places(&r).contains(&("main.py".into(), line_of(&edited_main, "twice(2)", 0))),
        "{r}"
    );
    // A document that exists nowhere but in the editor.
    let scratch = "untitled:Untitled-1";
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": scratch, "languageId": "python", "version": 1,
                                "text": "def local_fn():\n    pass\n\nlocal_fn()\n"}}),
    );
    let r = result(lsp.rpc.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": scratch}, "position": {"line": 3, "character": 2}}),
    ));
    assert_eq!(r[0]["uri"], scratch, "{r}");
    assert_eq!(r[0]["range"]["start"]["line"], 0);
    // Closing the buffer falls back to the file on disk.
    lsp.rpc.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": util}}),
    );
    let r = result(lsp.rpc.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": util}}),
    ));
    assert_eq!(r[0]["name"], "helper", "{r}");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn bad_positions_and_documents_get_clear_answers() {
    let env = TestEnv::new();
    let repo = fixture(&env, "bad");
    std::fs::write(
        repo.join("pkg/broken.py"),
        "def good():\n    return 1\n\ndef broken(:\n    pass\n\nclass Fine:\n    def ok(self):\n        good()\n",
    )
    .unwrap();
    let outside = env.home.path().join("elsewhere.py");
    std::fs::write(&outside, "def far():\n    pass\n\nfar()\n").unwrap();
    std::fs::write(repo.join("notes.txt"), "helper\n").unwrap();
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, true);
    follow_index(&mut lsp);

    // A line past the end names the file and its length; a column past the end of a line is
    // the end of the line.
    let r = lsp.rpc.request(
        "textDocument/definition",
        doc_at(&repo, "pkg/main.py", json!({"line": 99, "character": 0})),
    );
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("line 99") && message.contains("main.py") && message.contains("8 lines"),
        "{message}"
    );
    let r = lsp.rpc.request(
        "textDocument/hover",
        doc_at(&repo, "pkg/main.py", json!({"line": 0, "character": 500})),
    );
    assert!(r.get("error").is_none(), "{r}");
    // Unknown files and documents.
    let r = lsp.rpc.request(
        "textDocument/definition",
        doc_at(&repo, "pkg/nope.py", json!({"line": 0, "character": 0})),
    );
    assert!(
        r["error"]["message"].as_str().unwrap().contains("nope.py"),
        "{r}"
    );
    let r = lsp.rpc.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": "untitled:never-opened"}, "position": {"line": 0, "character": 0}}),
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("untitled:never-opened"),
        "{r}"
    );
    // A file or buffer in a language the graph does not know has nothing to answer, and says so
    // by an empty answer: an error would be a toast on every markdown file an editor opens.
    let r = lsp.rpc.request(
        "textDocument/definition",
        doc_at(&repo, "notes.txt", json!({"line": 0, "character": 0})),
    );
    assert_eq!(r["result"], json!([]), "{r}");
    let readme = "untitled:README.md";
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": readme, "languageId": "markdown", "version": 1,
                                "text": "# Notes\n\nSee `helper`.\n"}}),
    );
    let at = json!({"textDocument": {"uri": readme}, "position": {"line": 2, "character": 6}});
    for (method, empty) in [
        ("textDocument/definition", json!([])),
        ("textDocument/references", json!([])),
        ("textDocument/hover", Value::Null),
        ("textDocument/documentHighlight", json!([])),
        ("textDocument/prepareCallHierarchy", json!([])),
    ] {
        let mut params = at.clone();
        params["context"] = json!({"includeDeclaration": true});
        let r = lsp.rpc.request(method, params);
        assert!(r.get("error").is_none(), "{method}: {r}");
        assert!(
            r["result"] == empty || r["result"].is_null(),
            "{method}: {r}"
        );
    }
    let r = lsp.rpc.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": readme}}),
    );
    assert!(r.get("error").is_none(), "{r}");
    // Malformed params name the field.
    let r = lsp
        .rpc
        .request("textDocument/definition", json!({"position": 3}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // A file outside every workspace is answered from itself.
    let r = result(lsp.rpc.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": file_uri(&outside)}, "position": {"line": 3, "character": 0}}),
    ));
    assert_eq!(r[0]["range"]["start"]["line"], 0, "{r}");
    // Call hierarchy items that are not ours.
    let r = lsp.rpc.request(
        "callHierarchy/incomingCalls",
        json!({"item": {"name": "x", "kind": 12, "uri": "file:///x", "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}, "selectionRange": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}}}),
    );
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // A file with a syntax error keeps the facts of its valid parts.
    let (_, names) = outline(&mut lsp, &repo.join("pkg/broken.py"));
    assert!(
        names.iter().any(|n| n == "good") && names.iter().any(|n| n == "Fine"),
        "{names:?}"
    );
    let r = result(lsp.rpc.request(
        "textDocument/definition",
        doc_at(&repo, "pkg/broken.py", json!({"line": 8, "character": 9})),
    ));
    assert_eq!(places(&r), [("broken.py".into(), 0)], "{r}");
    // The server is still fine.
    let r = result(
        lsp.rpc
            .request("workspace/symbol", json!({"query": "helper"})),
    );
    assert_eq!(r[0]["name"], "helper");
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn the_cli_indexes_and_answers() {
    let env = TestEnv::new();
    let repo = fixture(&env, "cli");
    std::fs::write(repo.join("pkg/blob.py"), b"\x00\x01binary\x00".as_slice()).unwrap();
    let summary = index_json(&env, &repo);
    assert_eq!(summary["event"], "complete", "{summary}");
    assert_eq!(summary["files"], 5, "{summary}");
    assert_eq!(summary["parsed"], 5, "{summary}");
    assert_eq!(summary["workspace"]["root"], json!(repo));
    assert!(summary["symbols"].as_u64().unwrap() >= 12, "{summary}");
    assert!(summary["references"].as_u64().unwrap() >= 10, "{summary}");
    assert!(summary["loadSecs"].is_number(), "the first pass: {summary}");
    let skipped = summary["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{summary}");
    assert!(
        skipped[0]["reason"].as_str().unwrap().contains("binary"),
        "{summary}"
    );
    // Again: nothing changed, nothing parsed.
    let human = env.ok(&repo, &["index"]);
    assert!(
        human.contains("5 files (0 parsed, 0 reused, 5 unchanged"),
        "{human}"
    );
    assert!(human.contains("skipped pkg/blob.py: binary"), "{human}");

    let def = env.ok(&repo, &["graph", "def", "helper"]);
    assert_eq!(def.trim(), "pkg/util.py:4:5");
    let def = env.ok(&repo, &["graph", "def", "pkg/main.py:7:13"]);
    assert_eq!(def.trim(), "pkg/util.py:4:5");
    let def = env.ok(&repo.join("pkg"), &["graph", "def", "Greeter.greet"]);
    assert_eq!(def.trim(), "util.py:10:9", "relative to where we stand");
    let refs = env.ok(&repo, &["graph", "refs", "helper"]);
    assert_eq!(
        refs.lines().collect::<Vec<_>>(),
        ["pkg/main.py:1:22", "pkg/main.py:7:12", "pkg/util.py:11:35"]
    );
    let refs = env.ok(&repo, &["graph", "refs", "helper", "--json"]);
    let first: Value = serde_json::from_str(refs.lines().next().unwrap()).unwrap();
    assert!(first["uri"].as_str().unwrap().starts_with("file://"));
    let callers = env.ok(&repo, &["graph", "callers", "helper"]);
    assert!(
        callers.contains("main") && callers.contains("greet"),
        "{callers}"
    );
    let callees = env.ok(&repo, &["graph", "callees", "use_it", "--json"]);
    let callees: Vec<Value> = callees
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut names: Vec<&str> = callees
        .iter()
        .map(|c| c["callee"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["norm", "origin"]);
    let symbols = env.ok(&repo, &["graph", "symbols", "grtr"]);
    assert!(
        symbols.starts_with("pkg/util.py:9\tclass Greeter"),
        "{symbols}"
    );
    let symbols = env.ok(&repo, &["graph", "symbols", "--file", "src/lib.rs"]);
    assert!(symbols.contains("struct Point"), "{symbols}");
    assert!(symbols.contains("method Point.norm"), "{symbols}");

    // Datalog over the documented relations, with parameters.
    let rows = env.ok(
        &repo,
        &[
            "graph",
            "query",
            "?[path, caller] := *reference{hash, kind: \"call\", name: $n, enclosing: e}, \
             *symbol{hash, idx: e, name: caller}, *file:by_hash{hash, path}",
            "--param",
            "n=\"helper\"",
            "--json",
        ],
    );
    let mut rows: Vec<Value> = rows
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    rows.sort_by_key(|r| r["caller"].to_string());
    assert_eq!(
        rows,
        [
            json!({"path": "pkg/util.py", "caller": "greet"}),
            json!({"path": "pkg/main.py", "caller": "main"})
        ]
    );

    // Bad input, named.
    for (args, expected) in [
        (
            vec!["graph", "query", "::remove file"],
            "would change the store",
        ),
        (
            vec!["graph", "query", "?[a] := a = 1 :put file {ws: a}"],
            "query failed",
        ),
        (vec!["graph", "query", "?[x] := "], "could not parse"),
        (vec!["graph", "query", "?[x] := *nope{x}"], "nope"),
        (
            vec!["graph", "query", "?[x] := x = $n", "--param", "n=abc"],
            "not JSON",
        ),
        (vec!["graph", "def", "no_such_symbol"], "no symbol named"),
        (vec!["graph", "refs", "pkg/gone.py:1:1"], "no such file"),
        (vec!["graph", "def", "pkg/main.py:500:1"], "past the end"),
    ] {
        let out = env.run_in(&repo, &args);
        assert!(!out.status.success(), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // Nothing stored was lost on the way.
    let summary = index_json(&env, &repo);
    assert_eq!(
        (summary["files"].clone(), summary["unchanged"].clone()),
        (json!(5), json!(5))
    );
}

/// `maestro index --json`: progress events, then the summary (the last line).
fn index_json(env: &TestEnv, dir: &Path) -> Value {
    let out = env.ok(dir, &["index", "--json"]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let (summary, progress) = lines.split_last().expect("a summary");
    for p in progress {
        assert_eq!(p["event"], "progress", "{out}");
        assert!(p["done"].as_u64() <= p["total"].as_u64(), "{out}");
    }
    summary.clone()
}

/// What `maestro graph def NAME` prints, or "" when it finds nothing.
fn defs(env: &TestEnv, repo: &Path, name: &str) -> String {
    let out = env.run_in(repo, &["graph", "def", name]);
    text(&out.stdout).trim().to_owned()
}

#[test]
fn the_watcher_follows_changes_made_outside_the_editor() {
    let env = TestEnv::new();
    let repo = fixture(&env, "watch");
    env.ok(&repo, &["index"]);
    let within = Duration::from_secs(15);
    // A new file, an edit, a rename and a delete, as an agent would make them.
    std::fs::write(repo.join("pkg/extra.py"), "def extra():\n    pass\n").unwrap();
    wait_until("the new file is indexed", within, || {
        defs(&env, &repo, "extra") == "pkg/extra.py:1:5"
    });
    std::fs::write(repo.join("pkg/extra.py"), "\n\ndef extra():\n    pass\n").unwrap();
    wait_until("the edit is indexed", within, || {
        defs(&env, &repo, "extra") == "pkg/extra.py:3:5"
    });
    std::fs::rename(repo.join("pkg/extra.py"), repo.join("pkg/moved.py")).unwrap();
    wait_until("the rename is indexed", within, || {
        defs(&env, &repo, "extra") == "pkg/moved.py:3:5"
    });
    std::fs::remove_file(repo.join("pkg/moved.py")).unwrap();
    wait_until("the delete is indexed", within, || {
        defs(&env, &repo, "extra").is_empty()
    });
    // A branch switch that touches a thousand files at once.
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["add", "-A"]);
    git(&["commit", "-qm", "base"]);
    git(&["checkout", "-qb", "many"]);
    std::fs::create_dir_all(repo.join("gen")).unwrap();
    for i in 0..1000 {
        std::fs::write(
            repo.join(format!("gen/m{i}.py")),
            format!("def gen_{i}():\n    return {i}\n"),
        )
        .unwrap();
    }
    git(&["add", "-A"]);
    git(&["commit", "-qm", "many"]);
    git(&["checkout", "-q", "-"]);
    git(&["checkout", "-q", "many"]);
    wait_until("the branch's files are indexed", within, || {
        defs(&env, &repo, "gen_999") == "gen/m999.py:1:5"
    });
    git(&["checkout", "-q", "-"]);
    wait_until("the switch back is indexed", within, || {
        defs(&env, &repo, "gen_0").is_empty()
    });
    let summary = index_json(&env, &repo);
    assert_eq!(summary["files"], 5, "{summary}");
    assert_eq!(summary["parsed"], 0, "the watcher did the work: {summary}");
}

#[test]
fn a_restarted_daemon_reads_only_what_changed() {
    let env = TestEnv::new();
    let repo = fixture(&env, "restart");
    let first = index_json(&env, &repo);
    assert_eq!(first["parsed"], 5, "{first}");
    env.ok(&repo, &["daemon", "stop"]);
    std::fs::write(
        repo.join("pkg/util.py"),
        UTIL_PY.replace("def helper", "def helper_renamed"),
    )
    .unwrap();
    let again = index_json(&env, &repo);
    assert_eq!(
        (
            again["parsed"].clone(),
            again["unchanged"].clone(),
            again["files"].clone()
        ),
        (json!(1), json!(4), json!(5)),
        "{again}"
    );
    assert!(again["loadSecs"].is_number(), "{again}");
    assert_eq!(defs(&env, &repo, "helper_renamed"), "pkg/util.py:4:5");
    assert_eq!(defs(&env, &repo, "helper"), "");
    // A copy of the same content elsewhere (a worktree, say) is not parsed again.
    let copy = env.git_repo("copy");
    std::fs::create_dir_all(copy.join("pkg")).unwrap();
    std::fs::write(copy.join("pkg/main.py"), MAIN_PY).unwrap();
    std::fs::remove_file(copy.join("src/lib.rs")).unwrap();
    let copied = index_json(&env, &copy);
    assert_eq!(
        (copied["parsed"].clone(), copied["reused"].clone()),
        (json!(0), json!(1)),
        "{copied}"
    );
}

#[test]
fn a_runaway_query_holds_up_nothing_else_and_queries_read_the_store_only() {
    let env = TestEnv::new();
    let dir = runaway_repo(&env, "dense");
    env.ok(&dir, &["index"]);
    // A cross join of every symbol with every other, and its client gone at once.
    let mut runaway = env
        .command()
        .current_dir(&dir)
        .args(["graph", "query", RUNAWAY_QUERY])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let daemon = env.daemon_pid().expect("daemon running");
    let workers = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                let dir = e.path();
                let cmd = std::fs::read(dir.join("cmdline")).unwrap_or_default();
                let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
                let ppid = stat
                    .rsplit(')')
                    .next()
                    .and_then(|rest| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok());
                ppid == Some(daemon) && String::from_utf8_lossy(&cmd).contains("query-worker")
            })
            .count()
    };
    wait_until(
        "the query's worker process",
        Duration::from_secs(10),
        || workers() == 1,
    );
    std::thread::sleep(Duration::from_millis(300));
    runaway.kill().unwrap();
    runaway.wait().unwrap();
    // Its client gone, the query's process is killed: no core stays busy with it.
    wait_until("the worker killed", Duration::from_secs(3), || {
        workers() == 0
    });
    // Reads and writes go on meanwhile.
    let started = std::time::Instant::now();
    let found = env.ok(&dir, &["graph", "symbols", "g3_7"]);
    assert!(found.contains("g3_7"), "{found}");
    env.ok(&dir, &["memory", "add", "written while a query runs"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // With its client waiting, a runaway query is stopped at its time limit, whatever step it
    // is in, and says so; the next write follows at once.
    let started = std::time::Instant::now();
    let out = env.run_in(&dir, &["graph", "query", RUNAWAY_QUERY]);
    let answered = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("ran over 10 s and was stopped"),
        "{}",
        text(&out.stderr)
    );
    assert!(answered < Duration::from_secs(13), "{answered:?}");
    assert_eq!(workers(), 0);
    env.ok(&dir, &["memory", "add", "written right after the limit"]);
    // Rules that read files or URLs are refused.
    let out = env.run_in(
        &dir,
        &[
            "graph",
            "query",
            "?[a] <~ CsvReader(url: 'file:///etc/passwd', types: ['String'])",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("`CsvReader` reads files or URLs"),
        "{}",
        text(&out.stderr)
    );
}

const BUSY_MAIN_PY: &str = "from zzz.target import needle\n\n\ndef run():\n    return needle(1)\n";

/// A repository whose first index pass takes a while: many modules, and the definition asked
/// about in the last directory.
fn busy_repo(env: &TestEnv) -> PathBuf {
    let repo = env.git_repo("busy");
    for i in 0..1500 {
        let dir = repo.join(format!("pkg{:02}", i / 100));
        std::fs::create_dir_all(&dir).unwrap();
        let body: String = (0..12)
            .map(|f| format!("def f{i}_{f}(x):\n    return g{f}(x) + {i}\n\n\n"))
            .collect();
        std::fs::write(dir.join(format!("m{i:04}.py")), body).unwrap();
    }
    std::fs::create_dir_all(repo.join("zzz")).unwrap();
    std::fs::write(repo.join("zzz/target.py"), "def needle(x):\n    return x\n").unwrap();
    std::fs::write(repo.join("main.py"), BUSY_MAIN_PY).unwrap();
    repo
}

#[test]
fn questions_asked_during_the_first_index_pass_wait_for_it_rather_than_answer_empty() {
    let env = TestEnv::new();
    let repo = busy_repo(&env);
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    let main = file_uri(&repo.join("main.py"));
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": main, "languageId": "python", "version": 1, "text": BUSY_MAIN_PY}}),
    );
    // Asked at once, while the workspace's first pass has 1,500 modules ahead of zzz/.
    let call = doc_at(&repo, "main.py", at(BUSY_MAIN_PY, "needle(1)", 0, 0));
    let def = result(lsp.rpc.request("textDocument/definition", call.clone()));
    assert_eq!(places(&def), [("target.py".to_owned(), 0)], "{def}");

    let mut refs = call;
    refs["context"] = json!({"includeDeclaration": true});
    let found = places(&result(lsp.rpc.request("textDocument/references", refs)));
    assert!(
        found.contains(&("target.py".to_owned(), 0)) && found.contains(&("main.py".to_owned(), 4)),
        "{found:?}"
    );
    let symbols = result(
        lsp.rpc
            .request("workspace/symbol", json!({"query": "f1499_11"})),
    );
    assert_eq!(
        symbols.as_array().map(Vec::len),
        Some(1),
        "the last module's symbols are found: {symbols}"
    );
}
