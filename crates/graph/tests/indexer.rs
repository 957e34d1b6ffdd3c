//! Indexing real directories into a real store: what is parsed, skipped, reused and collected.

use maestro_graph::WorkspaceGraph;
use maestro_graph::indexer::{self, ContentCache, IndexOptions, IndexStats};
use maestro_store::Store;
use std::path::Path;
use std::sync::RwLock;

fn write(root: &Path, rel: &str, text: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn run(
    graph: &RwLock<WorkspaceGraph>,
    store: &Store,
    ws: &str,
    contents: &ContentCache,
) -> IndexStats {
    let options = IndexOptions {
        max_file_bytes: 64 * 1024,
        threads: 2,
        batch_rows: 50,
        max_file_facts: 1000,
    };
    indexer::index(graph, store, ws, contents, &options, &|_, _| {}).unwrap()
}

fn project(root: &Path) {
    write(
        root,
        "app/main.py",
        b"from app.util import helper\n\ndef main():\n    helper()\n",
    );
    write(root, "app/util.py", b"def helper():\n    return 1\n");
    write(
        root,
        "web/index.ts",
        b"export function start() { return 1; }\n",
    );
    write(root, "src/lib.rs", b"pub fn run() {}\n");
    write(root, "go/main.go", b"package main\n\nfunc main() {}\n");
    write(root, ".gitignore", b"build/\n");
    write(root, "build/gen.py", b"def generated():\n    pass\n");
    write(root, "node_modules/dep/index.js", b"function dep() {}\n");
    write(root, "notes.txt", b"not code\n");
    write(root, "blob.py", b"\x00\x01binary\x00");
    write(
        root,
        "min.js",
        &[b"var a=1;".repeat(4000), b"\n".to_vec()].concat(),
    );
    write(root, "big.py", &b"x = 1\n".repeat(20_000));
    write(root, "dense.py", &b"x = 1\n".repeat(1001));
}

#[test]
fn index_skips_what_is_not_source_and_stores_the_rest() {
    let dir = tempfile::TempDir::new().unwrap();
    let root = dir.path().join("repo");
    project(&root);
    let store = Store::open(&dir.path().join("maestro.db")).unwrap();
    let contents = ContentCache::default();
    let graph = RwLock::new(WorkspaceGraph::new(root.clone()));
    let stats = run(&graph, &store, "ws1", &contents);
    assert_eq!(
        (stats.files, stats.parsed, stats.reused, stats.unchanged),
        (5, 5, 0, 0),
        "{stats:#?}"
    );
    let mut skipped: Vec<(String, String)> = stats
        .skipped
        .iter()
        .map(|s| (s.path.display().to_string(), s.reason.clone()))
        .collect();
    skipped.sort();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(
        skipped[0].0 == "big.py" && skipped[0].1.starts_with("over 65536 bytes"),
        "{skipped:?}"
    );
    assert!(
        skipped[1].0 == "blob.py" && skipped[1].1.starts_with("binary"),
        "{skipped:?}"
    );
    assert_eq!(
        skipped[2],
        (
            "dense.py".to_owned(),
            "1001 symbols and 0 references, over the limit of 1000 per file (generated?)"
                .to_owned()
        )
    );
    assert!(
        skipped[3].0 == "min.js" && skipped[3].1.starts_with("minified"),
        "{skipped:?}"
    );
    let g = graph.read().unwrap();
    assert!(
        g.file_by_path(Path::new("build/gen.py")).is_none(),
        "gitignored"
    );
    assert!(
        g.file_by_path(Path::new("node_modules/dep/index.js"))
            .is_none()
    );
    assert_eq!(g.symbols_named("helper").len(), 1);
    drop(g);

    // Nothing changed: nothing is read again.
    let again = run(&graph, &store, "ws1", &contents);
    assert_eq!(
        (again.parsed, again.reused, again.unchanged, again.removed),
        (0, 0, 5, 0)
    );

    // A daemon restart: load from the store, then only changes are parsed.
    let fresh_contents = ContentCache::default();
    let loaded = RwLock::new(indexer::load(&store, "ws1", &root, &fresh_contents).unwrap());
    assert_eq!(loaded.read().unwrap().file_count(), 5);
    assert_eq!(
        loaded.read().unwrap().symbol_count(),
        graph.read().unwrap().symbol_count()
    );
    write(
        &root,
        "app/util.py",
        b"def helper():\n    return 2\n\ndef extra():\n    pass\n",
    );
    std::fs::remove_file(root.join("go/main.go")).unwrap();
    write(&root, "app/new.py", b"def fresh():\n    pass\n");
    let changed = run(&loaded, &store, "ws1", &fresh_contents);
    assert_eq!(
        (
            changed.parsed,
            changed.removed,
            changed.unchanged,
            changed.files
        ),
        (2, 1, 3, 5),
        "{changed:#?}"
    );
    let g = loaded.read().unwrap();
    assert_eq!(g.symbols_named("extra").len(), 1);
    assert!(
        g.symbols_named("fresh").len() == 1 && g.file_by_path(Path::new("go/main.go")).is_none()
    );
    drop(g);
    // The old content of util.py and of the deleted file are gone from the store.
    assert!(
        maestro_graph::persist::orphan_contents(&store)
            .unwrap()
            .is_empty()
    );
    let contents_rows = store
        .read("?[count(hash)] := *content{hash}", Default::default())
        .unwrap();
    assert_eq!(contents_rows.rows[0][0].get_int(), Some(5));
}

#[test]
fn a_worktree_with_the_same_files_parses_nothing() {
    let dir = tempfile::TempDir::new().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    project(&a);
    project(&b);
    write(&b, "app/only_b.py", b"def b_only():\n    pass\n");
    let store = Store::open(&dir.path().join("maestro.db")).unwrap();
    let contents = ContentCache::default();
    let ga = RwLock::new(WorkspaceGraph::new(a));
    run(&ga, &store, "a", &contents);
    let gb = RwLock::new(WorkspaceGraph::new(b));
    let stats = run(&gb, &store, "b", &contents);
    assert_eq!((stats.parsed, stats.reused), (1, 5), "{stats:#?}");
    // Also when the first workspace is not in memory any more: the store has the facts.
    drop((ga, gb));
    let c_root = dir.path().join("c");
    project(&c_root);
    let gc = RwLock::new(WorkspaceGraph::new(c_root));
    let stats = run(&gc, &store, "c", &ContentCache::default());
    assert_eq!((stats.parsed, stats.reused), (0, 5), "{stats:#?}");
}

#[test]
fn a_missing_root_is_a_clear_error() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open_in_memory().unwrap();
    let graph = RwLock::new(WorkspaceGraph::new(dir.path().join("gone")));
    let err = indexer::index(
        &graph,
        &store,
        "w",
        &ContentCache::default(),
        &IndexOptions::default(),
        &|_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().ends_with("gone: not a directory"), "{err}");
}

#[test]
fn facts_an_earlier_version_stored_are_parsed_again() {
    let dir = tempfile::TempDir::new().unwrap();
    let root = dir.path().join("a");
    project(&root);
    let store = Store::open(&dir.path().join("maestro.db")).unwrap();
    let graph = RwLock::new(WorkspaceGraph::new(root.clone()));
    let first = run(&graph, &store, "a", &ContentCache::default());
    assert_eq!(first.parsed, 5, "{first:#?}");
    drop(graph);
    // Every blob in a layout this build does not read (version 2 was uncompressed).
    let old = maestro_store::params([("old", maestro_store::DataValue::Bytes(vec![2, 0, 0]))]);
    store
        .queue_write(
            "?[hash, facts] := *content{hash}, facts = $old :update content {hash => facts}",
            old,
        )
        .wait()
        .unwrap();
    let contents = ContentCache::default();
    let loaded = indexer::load(&store, "a", &root, &contents).unwrap();
    assert_eq!(loaded.file_count(), 0, "nothing decodes");
    let graph = RwLock::new(loaded);
    let again = run(&graph, &store, "a", &contents);
    assert_eq!((again.parsed, again.files), (5, 5), "{again:#?}");
    let reloaded = indexer::load(&store, "a", &root, &ContentCache::default()).unwrap();
    assert_eq!(reloaded.file_count(), 5);
}
