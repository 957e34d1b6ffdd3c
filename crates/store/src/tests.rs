use super::*;
use maestro_protocol::WorkspaceKind;
use tempfile::TempDir;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn db_in(dir: &TempDir) -> PathBuf {
    dir.path().join("data").join("maestro.db")
}

#[test]
fn creates_the_schema_and_keeps_data_across_reopen() {
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version(), SCHEMA_VERSION);
        rt().block_on(store.upsert_workspace("w1", "/src/a", "a", WorkspaceKind::Git, 10.0))
            .unwrap();
        rt().block_on(store.upsert_workspace("w1", "/src/a", "a", WorkspaceKind::Git, 20.0))
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let rows = store.workspaces().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].first_seen, rows[0].last_seen),
        (10.0, 20.0),
        "first_seen is kept"
    );
    assert_eq!(rows[0].kind, WorkspaceKind::Git);
    assert_eq!(
        inspect(&path, true).unwrap().schema_version,
        Some(SCHEMA_VERSION)
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_by_name_and_left_alone() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("maestro.db");
    let junk = b"these are my notes, not a database\n".repeat(100);
    std::fs::write(&path, &junk).unwrap();
    let err = Store::open(&path).err().expect("must refuse");
    assert!(matches!(err, StoreError::NotSqlite { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("not a SQLite database"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), junk, "the file is untouched");
}

#[test]
fn a_foreign_sqlite_database_is_refused_and_left_alone() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("maestro.db");
    {
        let conn = sqlite::Connection::open(&path).unwrap();
        conn.execute("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).err().expect("must refuse");
    assert!(matches!(err, StoreError::Foreign { .. }), "{err:?}");
    assert!(err.to_string().contains("users"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_cozo_database_of_another_program_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("maestro.db");
    {
        let db = DbInstance::new("sqlite", &path, "").unwrap();
        db.run_default("{:create notes {id: Int => body: String}}")
            .unwrap();
    }
    let err = Store::open(&path).err().expect("must refuse");
    assert!(matches!(err, StoreError::Foreign { .. }), "{err:?}");
    assert!(err.to_string().contains("maestro_meta"), "{err}");
}

#[test]
fn a_truncated_database_is_a_clear_error_not_a_panic() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("maestro.db");
    drop(Store::open(&path).unwrap());
    let bytes = std::fs::read(&path).unwrap();
    // Keep the header, damage everything after it.
    let mut damaged = bytes[..100].to_vec();
    damaged.extend(std::iter::repeat_n(0xA5u8, bytes.len().max(8192) - 100));
    std::fs::write(&path, &damaged).unwrap();
    let _ = std::fs::remove_file(sibling(&path, "-wal"));
    let err = Store::open(&path).err().expect("must refuse");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), damaged);
}

const NEXT: Migration = Migration {
    version: SCHEMA_VERSION + 1,
    summary: "test: notes",
    script: "{:create note {id: Int => body: String}}",
};

#[test]
fn migrations_run_forward_and_a_newer_store_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    drop(Store::open(&path).unwrap());
    let newer = [MIGRATIONS, &[NEXT]].concat();
    let store = Store::open_with(&path, &newer).unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION + 1);
    rt().block_on(store.write(
        "?[id, body] <- [[1, $body]] :put note {id => body}",
        Params::from([("body".to_owned(), DataValue::from("kept"))]),
    ))
    .unwrap();
    drop(store);

    let err = Store::open(&path)
        .err()
        .expect("this build does not know the next version");
    match &err {
        StoreError::TooNew {
            found, supported, ..
        } if *found == SCHEMA_VERSION + 1 && *supported == SCHEMA_VERSION => {}
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("maestro.db"), "{err}");
    // Refusing changed nothing: the newer build still reads its data.
    let store = Store::open_with(&path, &newer).unwrap();
    let rows = store
        .read("?[body] := *note{id: 1, body}", Params::new())
        .unwrap();
    assert_eq!(rows.rows[0][0].get_str(), Some("kept"));
}

#[test]
fn a_failing_migration_leaves_the_store_as_it_was() {
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    drop(Store::open(&path).unwrap());
    let broken = Migration {
        version: SCHEMA_VERSION + 1,
        summary: "test: broken",
        script: "{:create ok_rel {a: Int}} {:create workspace {x: Int}}",
    };
    let err = Store::open_with(&path, &[MIGRATIONS, &[broken]].concat())
        .err()
        .expect("must fail");
    assert!(
        matches!(err, StoreError::Migration { version, .. } if version == SCHEMA_VERSION + 1),
        "{err:?}"
    );
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    let rels = schema::relations(&store.inner.db).unwrap();
    assert!(
        !rels.iter().any(|r| r == "ok_rel"),
        "the half of the migration was rolled back: {rels:?}"
    );
}

#[test]
fn writes_are_serialized_through_one_writer() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db_in(&dir)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .upsert_workspace(
                        &format!("w{i}"),
                        &format!("/r/{i}"),
                        "n",
                        WorkspaceKind::Folder,
                        f64::from(i),
                    )
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    assert_eq!(store.workspaces().unwrap().len(), 50);
}

#[test]
fn bad_scripts_are_errors_and_the_writer_survives() {
    let store = Store::open_in_memory().unwrap();
    let err = rt()
        .block_on(store.write("?[x] := *no_such_relation{x}", Params::new()))
        .unwrap_err();
    assert!(matches!(err, StoreError::Query { .. }), "{err:?}");
    rt().block_on(store.upsert_workspace("w", "/w", "w", WorkspaceKind::Folder, 1.0))
        .unwrap();
    assert_eq!(store.workspaces().unwrap().len(), 1);
}

#[test]
fn backup_and_restore_round_trip_and_keep_the_replaced_store() {
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    let backup = dir.path().join("backup.db");
    let store = Store::open(&path).unwrap();
    let rt = rt();
    rt.block_on(store.upsert_workspace("before", "/b", "b", WorkspaceKind::Git, 1.0))
        .unwrap();
    let size = rt.block_on(store.backup(&backup, false)).unwrap();
    assert!(size > 0);
    let err = rt.block_on(store.backup(&backup, false)).unwrap_err();
    assert!(matches!(err, StoreError::Exists { .. }), "{err:?}");
    rt.block_on(store.upsert_workspace("after", "/a", "a", WorkspaceKind::Git, 2.0))
        .unwrap();
    drop(store);

    let keep = dir.path().join("data").join("backups");
    let report = restore(&backup, &path, &keep).unwrap();
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    let previous = report.previous.expect("the replaced store is kept");
    let store = Store::open(&path).unwrap();
    let ids: Vec<_> = store
        .workspaces()
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, ["before"]);
    let kept = Store::open(&previous).unwrap();
    assert_eq!(
        kept.workspaces().unwrap().len(),
        2,
        "nothing stored was lost"
    );
}

#[test]
fn restoring_garbage_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    let store = Store::open(&path).unwrap();
    rt().block_on(store.upsert_workspace("w", "/w", "w", WorkspaceKind::Git, 1.0))
        .unwrap();
    drop(store);
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"no").unwrap();
    let keep = dir.path().join("keep");
    let err = restore(&junk, &path, &keep).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(
            "junk.db cannot be restored, nothing was changed: it is not a SQLite database"
        ),
        "{msg}"
    );
    let err = restore(&dir.path().join("missing.db"), &path, &keep).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("missing.db cannot be restored, nothing was changed: no such file"),
        "{err}"
    );
    assert!(!keep.exists());
    assert_eq!(Store::open(&path).unwrap().workspaces().unwrap().len(), 1);
}

#[test]
fn kept_stores_are_named_by_readable_utc_time() {
    assert_eq!(backup::utc_stamp(0), "19700101-000000Z");
    assert_eq!(backup::utc_stamp(951_782_400), "20000229-000000Z");
    assert_eq!(backup::utc_stamp(1_795_223_517), "20261121-011157Z");
}

/// `n` rows of `file` for workspace `ws`, in one import.
fn put_files(store: &Store, ws: &str, n: usize) {
    let columns: Vec<String> = ["ws", "path", "hash", "lang", "size", "mtime_ns"]
        .map(String::from)
        .to_vec();
    let rows = (0..n)
        .map(|i| {
            vec![
                DataValue::from(ws),
                DataValue::from(format!("src/file_{i}.py")),
                DataValue::Bytes(vec![0x11; 16]),
                DataValue::from("python"),
                DataValue::from(1000i64),
                DataValue::from(1i64),
            ]
        })
        .collect();
    store
        .queue_import(vec![("file", NamedRows::new(columns, rows))])
        .wait()
        .unwrap();
}

#[test]
fn the_checkpointer_empties_a_write_ahead_log_that_a_reader_kept_growing() {
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    let store = Store::open(&path).unwrap();
    // A reader holding a snapshot: SQLite's own checkpoints copy nothing past it.
    let reader = sqlite::Connection::open(&path).unwrap();
    reader.execute("BEGIN; SELECT count(*) FROM cozo;").unwrap();
    for batch in 0..10 {
        put_files(&store, &format!("w{batch}"), 2000);
    }
    let wal = sibling(&path, "-wal");
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    assert!(len(&wal) > 1 << 20, "the log grew: {}", len(&wal));
    let before = len(&path);
    reader.execute("COMMIT;").unwrap();
    drop(reader);
    file::Checkpointer::new(path.clone(), 0).after_write();
    assert_eq!(len(&wal), 0, "truncated");
    assert!(len(&path) > before, "copied into the database");
    let count = store
        .query_read_only("?[count(ws)] := *file{ws}", Params::new())
        .unwrap();
    assert_eq!(count.rows[0][0], DataValue::from(20_000i64));
}

#[test]
fn a_store_that_lost_its_data_is_never_replaced_by_an_empty_one() {
    let wal_of = |p: &Path| PathBuf::from(format!("{}-wal", p.display()));
    // Truncated to nothing.
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"").unwrap();
    let err = Store::open(&path)
        .err()
        .expect("an emptied store is refused");
    assert!(
        matches!(err, StoreError::Emptied { .. }) && err.to_string().contains("0 bytes"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left as it was");

    // Its write-ahead log lost before anything was checkpointed into the file.
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    {
        let store = Store::open(&path).unwrap();
        rt().block_on(store.upsert_workspace("w1", "/src/a", "a", WorkspaceKind::Git, 1.0))
            .unwrap();
        // The copy a careless script makes while the store is open: the file without its log.
        std::fs::copy(&path, dir.path().join("copy.db")).unwrap();
    }
    let copy = dir.path().join("copy.db");
    assert!(!wal_of(&copy).exists());
    let err = Store::open(&copy).err().expect("the copy is refused");
    assert!(err.to_string().contains("write-ahead log"), "{err}");

    // A checkpoint makes the file whole: copying it alone copies the store.
    let store = Store::open(&path).unwrap();
    rt().block_on(store.upsert_workspace("w2", "/src/b", "b", WorkspaceKind::Git, 2.0))
        .unwrap();
    assert!(rt().block_on(store.checkpoint()).unwrap());
    std::fs::copy(&path, dir.path().join("whole.db")).unwrap();
    drop(store);
    let whole = Store::open(&dir.path().join("whole.db")).unwrap();
    assert_eq!(whole.workspaces().unwrap().len(), 2);
}

#[test]
fn a_new_store_keeps_each_key_once_and_a_store_in_cozos_own_layout_still_opens() {
    let table_sql = |path: &Path| {
        let conn = sqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT sql FROM sqlite_master WHERE name = 'cozo'")
            .unwrap();
        assert_eq!(stmt.next().unwrap(), sqlite::State::Row);
        stmt.read::<String, _>(0).unwrap()
    };
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    {
        let store = Store::open(&path).unwrap();
        rt().block_on(store.upsert_workspace("w1", "/src/a", "a", WorkspaceKind::Git, 1.0))
            .unwrap();
    }
    assert!(
        table_sql(&path).contains("WITHOUT ROWID"),
        "{}",
        table_sql(&path)
    );
    assert_eq!(Store::open(&path).unwrap().workspaces().unwrap().len(), 1);

    // Made by an earlier maestro: cozo's rowid table with its index on the key.
    let old = dir.path().join("old.db");
    {
        let db = DbInstance::new("sqlite", &old, "").unwrap();
        schema::migrate(&db, &old, 0, MIGRATIONS).unwrap();
    }
    assert!(!table_sql(&old).contains("WITHOUT ROWID"));
    let store = Store::open(&old).unwrap();
    rt().block_on(store.upsert_workspace("w2", "/src/b", "b", WorkspaceKind::Git, 2.0))
        .unwrap();
    assert_eq!(store.workspaces().unwrap().len(), 1);
}

#[test]
fn an_idle_writer_empties_the_log_into_the_file() {
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    let store = Store::open(&path).unwrap();
    put_files(&store, "w", 20_000);
    let wal = sibling(&path, "-wal");
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    assert!(len(&wal) > file::Checkpointer::IDLE_LIMIT, "{}", len(&wal));
    // Still open, nothing more to write: the log is emptied within a few idle periods.
    let deadline = std::time::Instant::now() + file::Checkpointer::IDLE * 20;
    while len(&wal) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        len(&wal),
        0,
        "the log was emptied while the store stayed open"
    );
    let count = store
        .query_read_only("?[count(ws)] := *file{ws}", Params::new())
        .unwrap();
    assert_eq!(count.rows[0][0], DataValue::from(20_000i64));
}

#[test]
fn facts_keyed_by_hex_hashes_are_dropped_to_be_parsed_again_and_the_rest_is_kept() {
    let dir = TempDir::new().unwrap();
    let path = db_in(&dir);
    {
        let store = Store::open_with(&path, &MIGRATIONS[..7]).unwrap();
        rt().block_on(store.upsert_workspace("w1", "/src/a", "a", WorkspaceKind::Git, 1.0))
            .unwrap();
        rt().block_on(store.write(
            "?[ws, path, hash, lang, size, mtime_ns] <- [['w1', 'a.py', '00ff', 'python', 1, 1]] \
             :put file {ws, path => hash, lang, size, mtime_ns}",
            Params::new(),
        ))
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    let files = store
        .query_read_only("?[count(path)] := *file{path}", Params::new())
        .unwrap();
    assert_eq!(files.rows[0][0], DataValue::from(0i64));
    assert_eq!(store.workspaces().unwrap().len(), 1, "the registry is kept");
    // The new key takes the hash's bytes.
    rt().block_on(store.write(
        "?[ws, path, hash, lang, size, mtime_ns] <- [['w1', 'a.py', $h, 'python', 1, 1]] \
         :put file {ws, path => hash, lang, size, mtime_ns}",
        Params::from([("h".to_owned(), DataValue::Bytes(vec![7; 16]))]),
    ))
    .unwrap();
}
