use crate::*;
use maestro_protocol::{HostMode, Message, StatusResult, code, method, notification};
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn engine() -> Engine {
    Engine::start(EngineOptions {
        host: HostInfo {
            mode: HostMode::Standalone,
            socket: None,
            log_file: None,
            tools_program: None,
        },
        config: Config::default(),
        store: StoreLocation::Memory,
        paths: None,
    })
    .unwrap()
}

struct Client {
    session: Session,
    inbox: mpsc::Receiver<Message>,
}

impl Client {
    fn new(engine: &Engine) -> Client {
        let (tx, inbox) = mpsc::channel(1024);
        Client {
            session: engine.connect(tx),
            inbox,
        }
    }

    async fn hello(engine: &Engine, encoding: &str) -> Client {
        let c = Client::new(engine);
        c.call(method::HELLO, json!({"protocolVersion": 1, "client": {"name": "t", "kind": "cli"}, "positionEncoding": encoding}))
            .await
            .unwrap();
        c
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, maestro_protocol::RpcError> {
        self.session.request(method, params).await
    }

    async fn next_notification(&mut self) -> (String, Value) {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), self.inbox.recv())
            .await
            .unwrap()
            .unwrap();
        match msg {
            Message::Notification(n) => (n.method, n.params),
            other => panic!("expected a notification, got {other:?}"),
        }
    }
}

fn git_repo() -> tempfile::TempDir {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    dir
}

#[tokio::test]
async fn requests_before_hello_are_refused_except_shutdown() {
    let engine = engine();
    let c = Client::new(&engine);
    let err = c.call(method::STATUS, Value::Null).await.unwrap_err();
    assert_eq!(err.code, code::SERVER_NOT_INITIALIZED);
    assert!(err.message.contains("maestro/hello"), "{}", err.message);
    let mut stop = engine.shutdown_requested();
    c.call(method::SHUTDOWN, Value::Null).await.unwrap();
    stop.changed().await.unwrap();
    assert!(stop.borrow().is_some());
}

#[tokio::test]
async fn a_client_of_another_protocol_version_is_told_to_restart_the_daemon() {
    let engine = engine();
    let c = Client::new(&engine);
    let err = c
        .call(
            method::HELLO,
            json!({"protocolVersion": 99, "client": {"name": "new", "kind": "cli"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, code::PROTOCOL_MISMATCH);
    assert!(
        err.message.contains("maestro daemon restart"),
        "{}",
        err.message
    );
    let c = Client::hello(&engine, "utf-16").await;
    let err = c
        .call(
            method::HELLO,
            json!({"protocolVersion": 1, "client": {"name": "t", "kind": "cli"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, code::INVALID_REQUEST);
}

#[tokio::test]
async fn unknown_methods_and_wrong_params_are_named() {
    let engine = engine();
    let c = Client::hello(&engine, "utf-16").await;
    let err = c.call("maestro/nope", Value::Null).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (code::METHOD_NOT_FOUND, "method not found: maestro/nope")
    );
    let err = c
        .call(method::WORKSPACE_OPEN, json!({"path": 42}))
        .await
        .unwrap_err();
    assert_eq!(err.code, code::INVALID_PARAMS);
    assert!(err.message.contains("`path`"), "{}", err.message);
    let err = c
        .call(method::STORE_BACKUP, json!({"path": "relative.db"}))
        .await
        .unwrap_err();
    assert!(err.message.contains("must be absolute"), "{}", err.message);
}

#[tokio::test]
async fn workspaces_open_per_session_and_are_remembered() {
    let engine = engine();
    let repo = git_repo();
    let mut a = Client::hello(&engine, "utf-16").await;
    a.call(method::SUBSCRIBE, Value::Null).await.unwrap();
    let info = a
        .call(
            method::WORKSPACE_OPEN,
            json!({"path": repo.path().join("src")}),
        )
        .await
        .unwrap();
    assert_eq!(info["kind"], "git");
    assert_eq!(info["root"], json!(repo.path().canonicalize().unwrap()));
    let (m, p) = a.next_notification().await;
    assert_eq!(
        (m.as_str(), &p["id"]),
        (notification::WORKSPACE_OPENED, &info["id"])
    );

    let b = Client::hello(&engine, "utf-16").await;
    b.call(method::WORKSPACE_OPEN, json!({"path": repo.path()}))
        .await
        .unwrap();
    let status: StatusResult =
        serde_json::from_value(b.call(method::STATUS, Value::Null).await.unwrap()).unwrap();
    assert_eq!(
        (
            status.workspaces.len(),
            status.known_workspaces,
            status.sessions.len()
        ),
        (1, 1, 2)
    );
    drop(a);
    drop(b);
    let c = Client::hello(&engine, "utf-16").await;
    let status: StatusResult =
        serde_json::from_value(c.call(method::STATUS, Value::Null).await.unwrap()).unwrap();
    assert_eq!(
        (
            status.workspaces.len(),
            status.known_workspaces,
            status.sessions.len()
        ),
        (0, 1, 1)
    );
}

#[tokio::test]
async fn a_bad_repository_config_is_reported_and_the_workspace_still_opens() {
    let engine = engine();
    let repo = git_repo();
    std::fs::create_dir(repo.path().join(".maestro")).unwrap();
    std::fs::write(
        repo.path().join(".maestro/config.toml"),
        "[workspace]\nnmae = \"x\"\n",
    )
    .unwrap();
    let c = Client::hello(&engine, "utf-16").await;
    let info = c
        .call(method::WORKSPACE_OPEN, json!({"path": repo.path()}))
        .await
        .unwrap();
    let err = info["configError"].as_str().unwrap();
    assert!(
        err.contains(".maestro/config.toml:2: `workspace.nmae`: unknown key"),
        "{err}"
    );

    std::fs::write(
        repo.path().join(".maestro/config.toml"),
        "workspace.name = \"shop\"\n",
    )
    .unwrap();
    let info = c
        .call(method::WORKSPACE_OPEN, json!({"path": repo.path()}))
        .await
        .unwrap();
    assert_eq!(
        (info["name"].as_str(), info.get("configError")),
        (Some("shop"), None)
    );
    let err = c
        .call(method::WORKSPACE_OPEN, json!({"path": "/no/such/dir"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, code::NOT_FOUND);
    assert!(err.message.contains("/no/such/dir"), "{}", err.message);
}

#[tokio::test]
async fn documents_follow_ordered_edits_in_the_negotiated_encoding() {
    let engine = engine();
    let c = Client::hello(&engine, "utf-8").await;
    let uri = "file:///x.rs";
    c.session.notify(
        method::DOCUMENT_OPEN,
        json!({"uri": uri, "languageId": "rust", "version": 1, "text": "é\n"}),
    );
    let edit = |v: i32, ch: u32, text: &str| {
        json!({"uri": uri, "version": v, "contentChanges": [
            {"range": {"start": {"line": 0, "character": ch}, "end": {"line": 0, "character": ch}}, "text": text}
        ]})
    };
    c.session.notify(method::DOCUMENT_CHANGE, edit(2, 2, "a"));
    c.session.notify(method::DOCUMENT_CHANGE, edit(3, 3, "b"));
    c.session
        .notify(method::DOCUMENT_CHANGE, edit(3, 0, "stale"));
    c.session
        .notify(method::DOCUMENT_CHANGE, json!({"uri": uri, "version": "x"}));
    let text = c
        .call(method::DOCUMENT_TEXT, json!({"uri": uri}))
        .await
        .unwrap();
    assert_eq!(text, json!({"uri": uri, "version": 3, "text": "éab\n"}));
    c.session
        .notify(method::DOCUMENT_CLOSE, json!({"uri": uri}));
    let err = c
        .call(method::DOCUMENT_TEXT, json!({"uri": uri}))
        .await
        .unwrap_err();
    assert_eq!(err.code, code::NOT_FOUND);

    // Another connection has its own buffers.
    let other = Client::hello(&engine, "utf-16").await;
    assert!(
        other
            .call(method::DOCUMENT_TEXT, json!({"uri": uri}))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn backup_reports_progress_and_keeps_the_engine_busy_meanwhile() {
    let dir = tempfile::TempDir::new().unwrap();
    let engine = Engine::start(EngineOptions {
        host: HostInfo {
            mode: HostMode::Daemon,
            socket: None,
            log_file: None,
            tools_program: None,
        },
        config: Config::default(),
        store: StoreLocation::File(dir.path().join("maestro.db")),
        paths: None,
    })
    .unwrap();
    let mut c = Client::hello(&engine, "utf-16").await;
    c.call(method::SUBSCRIBE, Value::Null).await.unwrap();
    let mut activity = engine.activity();
    let dest = dir.path().join("b.db");
    let result = c
        .call(method::STORE_BACKUP, json!({"path": dest}))
        .await
        .unwrap();
    assert_eq!(result["schemaVersion"], maestro_store::SCHEMA_VERSION);
    assert!(result["sizeBytes"].as_u64().unwrap() > 0);
    let (m, begin) = c.next_notification().await;
    assert_eq!(
        (m.as_str(), begin["value"]["kind"].as_str()),
        (notification::PROGRESS, Some("begin"))
    );
    let (_, end) = c.next_notification().await;
    assert_eq!(
        (end["token"].clone(), end["value"]["kind"].as_str()),
        (begin["token"].clone(), Some("end"))
    );
    assert!(activity.borrow_and_update().busy == 0);

    let err = c
        .call(method::STORE_BACKUP, json!({"path": dest}))
        .await
        .unwrap_err();
    assert_eq!(err.code, code::STORE_FAILED);
    assert!(err.message.contains("already exists"), "{}", err.message);
    c.call(
        method::STORE_BACKUP,
        json!({"path": dest, "overwrite": true}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn activity_counts_sessions() {
    let engine = engine();
    let rx = engine.activity();
    let c = Client::new(&engine);
    assert_eq!(rx.borrow().sessions, 1);
    {
        let _w = engine.begin_work();
        assert!(!rx.borrow().is_idle());
    }
    drop(c);
    assert!(rx.borrow().is_idle());
}

#[tokio::test]
async fn a_subscribed_session_lets_go_of_its_connection_when_it_ends() {
    let engine = engine();
    let Client { session, mut inbox } = Client::hello(&engine, "utf-16").await;
    session
        .request(method::SUBSCRIBE, Value::Null)
        .await
        .unwrap();
    drop(session);
    // Every sender of the connection's outbox is gone (the event forwarder too): the writer ends.
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), inbox.recv()).await;
    assert!(matches!(end, Ok(None)), "the outbox is still held: {end:?}");
}

#[tokio::test]
async fn a_request_sees_the_workspaces_opened_by_requests_read_before_it() {
    let engine = engine();
    let repo = git_repo();
    let c = Client::hello(&engine, "utf-16").await;
    // Neither answer is awaited before the next request is read, as on a busy connection.
    let opening = c
        .session
        .request(method::WORKSPACE_OPEN, json!({"path": repo.path()}));
    let status = c.session.request(method::STATUS, Value::Null);
    let status: StatusResult = serde_json::from_value(status.await.unwrap()).unwrap();
    assert_eq!(status.workspaces.len(), 1);
    opening.await.unwrap();
}

#[tokio::test]
async fn closing_a_workspace_releases_it_for_this_session_only() {
    let engine = engine();
    let repo = git_repo();
    let a = Client::hello(&engine, "utf-16").await;
    let b = Client::hello(&engine, "utf-16").await;
    for c in [&a, &b] {
        c.call(method::WORKSPACE_OPEN, json!({"path": repo.path()}))
            .await
            .unwrap();
    }
    let open = |v: Value| {
        serde_json::from_value::<StatusResult>(v)
            .unwrap()
            .workspaces
            .len()
    };
    a.call(method::WORKSPACE_CLOSE, json!({"path": repo.path()}))
        .await
        .unwrap();
    assert_eq!(
        open(a.call(method::STATUS, Value::Null).await.unwrap()),
        1,
        "b still has it"
    );
    b.call(
        method::WORKSPACE_CLOSE,
        json!({"path": repo.path().join("src")}),
    )
    .await
    .unwrap();
    assert_eq!(open(a.call(method::STATUS, Value::Null).await.unwrap()), 0);
}

mod graph {
    use super::*;
    use crate::text::path_to_uri;

    fn repo() -> tempfile::TempDir {
        let dir = git_repo();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "pkg/lib.py",
            "def leaf():\n    \"\"\"The leaf.\"\"\"\n    pass\n\ndef mid():\n    leaf()\n",
        );
        write(
            "pkg/app.py",
            "from pkg.lib import mid\n\nclass App:\n    def run(self):\n        mid()\n        mid()\n",
        );
        dir
    }

    async fn ready(engine: &Engine, c: &Client, root: &std::path::Path) {
        c.call(method::WORKSPACE_OPEN, json!({"path": root}))
            .await
            .unwrap();
        let index = engine
            .graph()
            .index_for(&root.canonicalize().unwrap())
            .expect("an index");
        let state = index.settled(std::time::Duration::from_secs(30)).await;
        assert!(
            matches!(state, crate::code_graph::IndexState::Ready(_)),
            "{state:?}"
        );
    }

    /// The fixture repository, indexed, and a UTF-16 client: keep the engine and the directory
    /// alive as long as the client.
    async fn indexed() -> (Engine, tempfile::TempDir, std::path::PathBuf, Client) {
        let engine = engine();
        let dir = repo();
        let root = dir.path().canonicalize().unwrap();
        let c = Client::hello(&engine, "utf-16").await;
        ready(&engine, &c, &root).await;
        (engine, dir, root, c)
    }

    fn at(uri: &str, line: u32, character: u32) -> Value {
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn columns_on_non_ascii_lines_are_in_the_client_encoding() {
        let engine = engine();
        let dir = repo();
        std::fs::write(
            dir.path().join("pkg/uni.py"),
            "from pkg.lib import leaf\ns = \"é😀\"; leaf()\nleaf()\n",
        )
        .unwrap();
        let root = dir.path().canonicalize().unwrap();
        let lib = path_to_uri(&root.join("pkg/lib.py"));
        let uni = path_to_uri(&root.join("pkg/uni.py"));
        // `leaf` on line 1 starts at byte 14: UTF-16 column 11, UTF-32 column 10.
        for (encoding, col) in [("utf-8", 14), ("utf-16", 11), ("utf-32", 10)] {
            let c = Client::hello(&engine, encoding).await;
            ready(&engine, &c, &root).await;
            let refs = c
                .call(method::GRAPH_REFERENCES, json!({"textDocument": {"uri": lib}, "position": {"line": 0, "character": 5}, "context": {"includeDeclaration": false}}))
                .await
                .unwrap();
            let in_uni: Vec<&Value> = refs
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["uri"] == uni.as_str())
                .collect();
            let starts: Vec<(u64, u64)> = in_uni
                .iter()
                .map(|l| {
                    let s = &l["range"]["start"];
                    (
                        s["line"].as_u64().unwrap(),
                        s["character"].as_u64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(starts, [(0, 20), (1, col), (2, 0)], "{encoding}: {refs}");
            assert_eq!(
                in_uni[1]["range"]["end"]["character"],
                col + 4,
                "{encoding}"
            );
            let def = c
                .call(method::GRAPH_DEFINITION, at(&uni, 1, col as u32 + 1))
                .await
                .unwrap();
            assert_eq!(def[0]["uri"], lib.as_str(), "{encoding}: {def}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn definition_references_hover_symbols_and_calls_answer_from_the_index() {
        let (_engine, _dir, root, c) = indexed().await;
        let app = path_to_uri(&root.join("pkg/app.py"));
        let lib = path_to_uri(&root.join("pkg/lib.py"));

        // `mid()` on line 5 of app.py, not open in an editor: read from disk.
        let def = c
            .call(method::GRAPH_DEFINITION, at(&app, 4, 9))
            .await
            .unwrap();
        assert_eq!(
            def,
            json!([{"uri": lib, "range": {"start": {"line": 4, "character": 4}, "end": {"line": 4, "character": 7}}}])
        );

        let refs = c
            .call(method::GRAPH_REFERENCES, json!({"textDocument": {"uri": lib}, "position": {"line": 4, "character": 5}, "context": {"includeDeclaration": true}}))
            .await
            .unwrap();
        let lines: Vec<(String, u64)> = refs
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["uri"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_owned(),
                    l["range"]["start"]["line"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("app.py".into(), 0),
                ("app.py".into(), 4),
                ("app.py".into(), 5),
                ("lib.py".into(), 4)
            ]
        );

        let hover = c.call(method::GRAPH_HOVER, at(&lib, 0, 5)).await.unwrap();
        let text = hover["contents"]["value"].as_str().unwrap();
        assert!(
            text.contains("def leaf()")
                && text.contains("The leaf.")
                && text.contains("1 caller · 0 callees"),
            "{text}"
        );

        let symbols = c
            .call(
                method::GRAPH_DOCUMENT_SYMBOLS,
                json!({"textDocument": {"uri": app}}),
            )
            .await
            .unwrap();
        assert_eq!(symbols[0]["name"], "App");
        assert_eq!(symbols[0]["kind"], 5);
        assert_eq!(symbols[0]["children"][0]["name"], "run");
        assert_eq!(symbols[0]["children"][0]["kind"], 6);

        let found = c
            .call(method::GRAPH_WORKSPACE_SYMBOLS, json!({"query": "mi"}))
            .await
            .unwrap();
        assert_eq!(found[0]["name"], "mid");

        let items = c
            .call(method::GRAPH_CALL_PREPARE, at(&lib, 4, 5))
            .await
            .unwrap();
        assert_eq!(items[0]["name"], "mid");
        let incoming = c
            .call(method::GRAPH_CALL_INCOMING, json!({"item": items[0]}))
            .await
            .unwrap();
        assert_eq!(incoming[0]["from"]["name"], "run");
        assert_eq!(incoming[0]["fromRanges"].as_array().unwrap().len(), 2);
        let outgoing = c
            .call(method::GRAPH_CALL_OUTGOING, json!({"item": items[0]}))
            .await
            .unwrap();
        assert_eq!(outgoing[0]["to"]["name"], "leaf");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unsaved_edits_are_answered_from_the_buffer() {
        let (_engine, _dir, root, c) = indexed().await;
        let lib = path_to_uri(&root.join("pkg/lib.py"));
        let app = path_to_uri(&root.join("pkg/app.py"));
        let text = std::fs::read_to_string(root.join("pkg/lib.py")).unwrap();
        c.session.notify(
            method::DOCUMENT_OPEN,
            json!({"uri": lib, "languageId": "python", "version": 1, "text": text}),
        );
        // Rename mid → middle in the buffer (unsaved): app.py's mid() no longer resolves there.
        c.session.notify(
            method::DOCUMENT_CHANGE,
            json!({"uri": lib, "version": 2, "contentChanges": [{"range": {"start": {"line": 4, "character": 4}, "end": {"line": 4, "character": 7}}, "text": "middle"}]}),
        );
        let def = c
            .call(method::GRAPH_DEFINITION, at(&app, 4, 9))
            .await
            .unwrap();
        assert_eq!(def, json!([]));
        let found = c
            .call(method::GRAPH_WORKSPACE_SYMBOLS, json!({"query": "middle"}))
            .await
            .unwrap();
        assert_eq!(found[0]["name"], "middle");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn datalog_queries_are_read_only() {
        let (_engine, _dir, _, c) = indexed().await;
        let rows = c
            .call(
                method::GRAPH_QUERY,
                json!({"script": "?[name] := *symbol{name, kind: 'function'} :order name"}),
            )
            .await
            .unwrap();
        assert_eq!(rows["rows"], json!([["leaf"], ["mid"]]));
        let err = c
            .call(
                method::GRAPH_QUERY,
                json!({"script": "?[hash] <- [['x']] :put content {hash}"}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, code::INVALID_PARAMS);
        assert!(
            err.message.to_lowercase().contains("read"),
            "{}",
            err.message
        );
        let err = c
            .call(method::GRAPH_QUERY, json!({"script": "?[x] := *nope{x}"}))
            .await
            .unwrap_err();
        assert!(err.message.contains("nope"), "{}", err.message);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_positions_and_uris_get_clear_answers() {
        let (_engine, _dir, root, c) = indexed().await;
        let app = path_to_uri(&root.join("pkg/app.py"));
        let err = c
            .call(method::GRAPH_DEFINITION, at(&app, 999, 0))
            .await
            .unwrap_err();
        assert_eq!(err.code, code::INVALID_PARAMS);
        assert!(err.message.contains("line 999"), "{}", err.message);
        // A column past the end of a line is the end of the line.
        assert_eq!(
            c.call(method::GRAPH_DEFINITION, at(&app, 1, 999))
                .await
                .unwrap(),
            json!([])
        );
        let err = c
            .call(
                method::GRAPH_DEFINITION,
                at("file:///no/such/file.py", 0, 0),
            )
            .await
            .unwrap_err();
        assert!(err.message.contains("/no/such/file.py"), "{}", err.message);
        let err = c
            .call(method::GRAPH_DEFINITION, at("untitled:1", 0, 0))
            .await
            .unwrap_err();
        assert_eq!(err.code, code::NOT_FOUND);
        let err = c
            .call(method::GRAPH_DEFINITION, json!({"textDocument": {}}))
            .await
            .unwrap_err();
        assert_eq!(err.code, code::INVALID_PARAMS);
        let err = c.call(method::GRAPH_CALL_INCOMING, json!({"item": {"name": "x", "kind": 12, "uri": app, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "selectionRange": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}}})).await.unwrap_err();
        assert!(err.message.contains("data"), "{}", err.message);
    }
}
