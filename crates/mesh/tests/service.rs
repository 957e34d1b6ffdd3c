//! The mesh service without the engine: nodes whose host is a script, on a real `nats-server`
//! (the one `scripts/test` installs from PyPI).

use futures::FutureExt;
use futures::future::BoxFuture;
use maestro_mesh::{Call, Delivery, Mesh, MeshHost, MeshOptions, WorkItem, WorkResult};
use maestro_protocol::{
    AgentInfo, AgentStatusParams, Event, NodeAgent, NodeInfo, NodeState, RpcError, code, method,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

fn nats_server() -> PathBuf {
    let tools = std::env::var_os("MAESTRO_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/maestro/test-tools")
        });
    let path = tools.join("nats-server-2.15.1/bin/nats-server");
    assert!(
        path.exists(),
        "no nats-server at {}: run scripts/test",
        path.display()
    );
    path
}

/// A server on port `port`, its store in `_store`.
struct Server {
    child: Child,
    _store: tempfile::TempDir,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server() -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(nats_server())
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server {
        child,
        _store: dir,
        port,
    }
}

/// A host whose node has one agent, answers calls by echoing them, and records what the mesh
/// hands it.
struct Script {
    node: String,
    events: broadcast::Sender<Event>,
    relayed: Mutex<Vec<Event>>,
    delivered: Mutex<Vec<(String, Value)>>,
    /// Tasks this node worked on, and results it applied (as the run's owner).
    worked: Mutex<Vec<u32>>,
    applied: Mutex<Vec<(u32, String)>>,
}

impl Script {
    fn new(node: &str) -> Arc<Script> {
        Arc::new(Script {
            node: node.into(),
            events: broadcast::channel(64).0,
            relayed: Mutex::default(),
            delivered: Mutex::default(),
            worked: Mutex::default(),
            applied: Mutex::default(),
        })
    }
}

impl MeshHost for Script {
    fn beat(&self) -> BoxFuture<'static, NodeInfo> {
        let agent = NodeAgent {
            name: format!("worker-{}", self.node),
            repo: Some("r00t".into()),
            workspace: format!("ws-{}", self.node),
            workspace_root: "/repo".into(),
            agent: "claude".into(),
            state: maestro_protocol::AgentState::Idle,
            branch: None,
            turns: 1,
        };
        let info = NodeInfo {
            name: String::new(),
            host: "h".into(),
            version: "0".into(),
            pid: std::process::id(),
            load: 0.1,
            cores: 2,
            running: 0,
            agents: vec![agent],
            clis: vec!["claude".into()],
            labels: Vec::new(),
            repos: Vec::new(),
            beat_at_ms: 0,
            started_at_ms: 0,
            state: NodeState::Live,
            this: false,
        };
        async move { info }.boxed()
    }

    fn call(&self, from: &str, call: Call) -> BoxFuture<'static, Result<Value, RpcError>> {
        let answer = json!({"answeredBy": self.node, "from": from, "method": call.method, "params": call.params});
        async move { Ok(answer) }.boxed()
    }

    fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn relay(&self, event: Event) {
        self.relayed.lock().unwrap().push(event);
    }

    fn keys(&self) -> BoxFuture<'static, Vec<(String, String)>> {
        let keys = vec![(format!("person.{}", self.node), "ab".repeat(32))];
        async move { keys }.boxed()
    }

    fn deliver(&self, from: String, body: Value) -> BoxFuture<'static, Delivery> {
        self.delivered.lock().unwrap().push((from, body));
        async { Delivery::Stored }.boxed()
    }

    fn can_work(&self, item: &WorkItem) -> Result<(), String> {
        if item.cli == "claude" {
            Ok(())
        } else {
            Err(format!("no {}", item.cli))
        }
    }

    fn work(&self, item: WorkItem) -> BoxFuture<'static, WorkResult> {
        self.worked.lock().unwrap().push(item.index);
        let node = self.node.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            WorkResult {
                item,
                node,
                done: true,
                summary: "1 commit".into(),
                patch: String::new(),
            }
        }
        .boxed()
    }

    fn apply(&self, result: WorkResult) -> BoxFuture<'static, Delivery> {
        self.applied
            .lock()
            .unwrap()
            .push((result.item.index, result.node));
        async { Delivery::Stored }.boxed()
    }

    fn hold(&self) -> Option<Box<dyn Send + Sync>> {
        None
    }
}

fn options(port: u16, name: &str) -> MeshOptions {
    MeshOptions {
        urls: vec![format!("nats://127.0.0.1:{port}")],
        name: name.into(),
        auth: Default::default(),
        ca_file: None,
        heartbeat: Duration::from_secs(1),
        ttl: Duration::from_secs(3),
        labels: vec!["big".into()],
        workers: 1,
        task_deadline: Duration::from_secs(5),
    }
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn status_event(name: &str, node: Option<&str>) -> Event {
    let agent: AgentInfo = serde_json::from_value(json!({
        "name": name, "workspace": "ws", "workspaceRoot": "/repo", "agent": "claude",
        "state": "working", "mode": "headless", "isolation": "worktree", "worktree": "/wt",
        "turns": 1, "usage": {"inputTokens": 0, "outputTokens": 0, "cacheReadTokens": 0,
        "cacheWriteTokens": 0, "costUsd": 0.0}, "color": "#000000", "createdAt": 0.0,
        "updatedAt": 0.0, "outputBytes": 0, "node": node
    }))
    .unwrap();
    let params: AgentStatusParams =
        serde_json::from_value(json!({"agent": agent, "previous": "idle", "attention": false}))
            .unwrap_or_else(|e| {
                panic!("{e}");
            });
    Event::AgentStatus(Box::new(params))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_beat_call_each_other_relay_events_and_post_messages_once() {
    let server = server();
    let (xh, yh) = (Script::new("x"), Script::new("y"));
    let x = Mesh::new(xh.clone());
    let y = Mesh::new(yh.clone());
    x.join(options(server.port, "x")).await.unwrap();
    y.join(options(server.port, "y")).await.unwrap();

    // The registry: both live, this node first, with what their beats said.
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = x.nodes().await.unwrap();
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let names: Vec<(&str, bool, NodeState)> = seen
        .iter()
        .map(|n| (n.name.as_str(), n.this, n.state))
        .collect();
    assert_eq!(
        names,
        [("x", true, NodeState::Live), ("y", false, NodeState::Live)]
    );
    assert_eq!(seen[1].labels, ["big"]);
    eventually("the directory knows y's agent", || {
        futures::executor::block_on(y.locate("r00t", "worker-x"))
            .ok()
            .flatten()
            .as_deref()
            == Some("x")
    })
    .await;
    assert_eq!(x.node_of_agent("ws-y", "worker-y").as_deref(), Some("y"));
    assert_eq!(
        x.agent_elsewhere("r00t", "worker-y"),
        Some(("y".into(), "ws-y".into()))
    );
    eventually("y's key is known", || x.key_of("y", "person.y").is_some()).await;

    // A call answered by the other node's host; one it does not serve; a node that is not there.
    let call = |m: &str| Call {
        from: "x".into(),
        method: m.into(),
        params: json!({"name": "worker-y"}),
        repo: None,
    };
    let answer = x
        .call("y", &call(method::AGENT_STATUS), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(answer["answeredBy"], "y");
    assert_eq!(answer["params"]["name"], "worker-y");
    let refused = x
        .call("y", &call(method::GRAPH_QUERY), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(refused.code, code::METHOD_NOT_FOUND, "{refused:?}");
    let nobody = x
        .call("zz", &call(method::AGENT_STATUS), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        nobody.message.contains("node zz is not in the mesh"),
        "{nobody:?}"
    );

    // y's own agent's event reaches x marked with y; a relayed one is not sent on again.
    yh.events.send(status_event("worker-y", None)).unwrap();
    yh.events.send(status_event("from-z", Some("z"))).unwrap();
    eventually("x relays y's event", || {
        !xh.relayed.lock().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let relayed = xh.relayed.lock().unwrap().clone();
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    match &relayed[0] {
        Event::AgentStatus(s) => {
            assert_eq!(s.agent.name, "worker-y");
            assert_eq!(s.agent.node.as_deref(), Some("y"));
        }
        other => panic!("{other:?}"),
    }

    // A message posted twice under one id arrives once.
    let body = json!({"text": "hello"});
    x.post("y", "msg_1", &body).await.unwrap();
    x.post("y", "msg_1", &body).await.unwrap();
    x.post("y", "msg_2", &body).await.unwrap();
    eventually("y got both messages", || {
        yh.delivered.lock().unwrap().len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered = yh.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert_eq!(delivered[0], ("x".to_owned(), body.clone()));

    // A second node under a live name is refused, naming where that one runs.
    let twin = Mesh::new(Script::new("x2"));
    let err = twin
        .join(options(server.port, "x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node name x is taken by a live node on h (pid"),
        "{err}"
    );

    // y leaves: x sees it gone at once.
    y.leave().await;
    eventually("y is gone", || {
        futures::executor::block_on(x.nodes())
            .unwrap()
            .iter()
            .any(|n| n.name == "y" && n.state == NodeState::Gone)
    })
    .await;
    x.leave().await;
    assert!(x.nodes().await.is_err(), "not joined any more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_are_named_before_anything_connects() {
    let x = Mesh::new(Script::new("x"));
    let mut o = options(1, "no spaces");
    let e = x.join(o.clone()).await.unwrap_err().to_string();
    assert!(e.contains("only letters, digits"), "{e}");
    o.name = "ok".into();
    o.urls.clear();
    let e = x.join(o.clone()).await.unwrap_err().to_string();
    assert!(e.contains("mesh.urls is empty"), "{e}");
    o.urls = vec!["nats://127.0.0.1:1".into()];
    o.ttl = Duration::from_secs(1);
    let e = x.join(o.clone()).await.unwrap_err().to_string();
    assert!(e.contains("at least twice"), "{e}");
    o.ttl = Duration::from_secs(10);
    let e = x.join(o).await.unwrap_err().to_string();
    assert!(
        e.contains("cannot reach the mesh at nats://127.0.0.1:1"),
        "{e}"
    );
    assert!(!x.status().joined);
    assert!(x.status().error.is_some());
}

fn item(run: &str, index: u32, labels: &[&str]) -> WorkItem {
    WorkItem {
        run: run.into(),
        owner: "x".into(),
        index,
        repo: "r00t".into(),
        base: "0".repeat(40),
        document: "plan.md".into(),
        line: index + 3,
        text: format!("task {index}"),
        cli: "claude".into(),
        prompt: format!("do task {index}"),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_tasks_are_taken_once_by_nodes_that_can_and_tallied_by_the_owner() {
    let server = server();
    let (xh, yh) = (Script::new("x"), Script::new("y"));
    let x = Mesh::new(xh.clone());
    let y = Mesh::new(yh.clone());
    x.join(options(server.port, "x")).await.unwrap();
    let mut unlabelled = options(server.port, "y");
    unlabelled.labels.clear();
    y.join(unlabelled).await.unwrap();

    // Ten tasks any node may take, queued twice (the second time changes nothing).
    let items: Vec<WorkItem> = (0..10).map(|i| item("dist-0001", i, &[])).collect();
    let info = maestro_mesh::tally(
        "dist-0001",
        "/r/plan.md".into(),
        "maestro/dist-0001".into(),
        10,
    );
    x.distribute(items.clone(), info.clone()).await.unwrap();
    x.distribute(items, info).await.unwrap();
    eventually("the ten are done", || {
        x.runs().first().is_some_and(|r| r.finished_ms.is_some())
    })
    .await;
    let run = &x.runs()[0];
    assert_eq!((run.done, run.total), (10, 10), "{run:?}");
    assert!(run.failed.is_empty(), "{run:?}");
    let mut worked: Vec<u32> = xh.worked.lock().unwrap().clone();
    worked.extend(yh.worked.lock().unwrap().iter());
    worked.sort();
    assert_eq!(worked, (0..10).collect::<Vec<_>>(), "each taken once");
    assert!(
        !xh.worked.lock().unwrap().is_empty() && !yh.worked.lock().unwrap().is_empty(),
        "both nodes worked"
    );
    assert_eq!(
        xh.applied.lock().unwrap().len(),
        10,
        "the owner applied each once"
    );
    assert!(yh.applied.lock().unwrap().is_empty(), "y owns nothing");

    // Tasks for labelled nodes go to x only.
    let labelled: Vec<WorkItem> = (0..4).map(|i| item("dist-0002", i, &["big"])).collect();
    let info = maestro_mesh::tally(
        "dist-0002",
        "/r/plan.md".into(),
        "maestro/dist-0002".into(),
        4,
    );
    let before_y = yh.worked.lock().unwrap().len();
    x.distribute(labelled, info).await.unwrap();
    eventually("the labelled four are done", || {
        x.runs()
            .iter()
            .any(|r| r.run == "dist-0002" && r.finished_ms.is_some())
    })
    .await;
    assert_eq!(
        yh.worked.lock().unwrap().len(),
        before_y,
        "y has not the label"
    );
    let by_node = &x
        .runs()
        .into_iter()
        .find(|r| r.run == "dist-0002")
        .unwrap()
        .by_node;
    assert_eq!(by_node.get("x"), Some(&4), "{by_node:?}");
    x.leave().await;
    y.leave().await;
}
