//! Distributed work: a playbook's tasks on a JetStream work queue ([`WORK_STREAM`], one shared
//! durable consumer), taken by any node's workers (`mesh.workers` at a time), each task's result
//! sent back to the node that owns the run ([`RESULTS_STREAM`], a durable consumer per node).
//!
//! A worker that takes a task it cannot do (no checkout of the repository, not the CLI, not the
//! labels) gives it back at once for another node. While it works it tells the servers so every
//! third of the deadline; a node that dies mid-task stops telling, and the task goes back to the
//! queue when the deadline passes (`mesh.task_deadline_secs`): another node does it. Results carry
//! their task, and the owner takes the first success of each task (a failure is replaced by a
//! later success; a task redone after a node fell silent but did finish counts as a duplicate).
//! A worker whose result cannot be sent (the servers failing over) sends it again, keeping the
//! deadline off, rather than let the task be done twice; a task given out again to a node that
//! tried it before starts clean there (the earlier agent and its branch removed).

use crate::{Delivery, MeshError, MeshHost, PREFIX, Reconnects, check_node_name, now_ms};
use async_nats::jetstream;
use futures::StreamExt;
use maestro_protocol::{MeshRunInfo, MeshTaskFailure};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The work queue: `maestro.work.<run>`.
pub const WORK_STREAM: &str = "MAESTRO_WORK";
/// Results, to each run's owner: `maestro.result.<owner>`.
pub const RESULTS_STREAM: &str = "MAESTRO_RESULTS";
/// The KV bucket of the runs' tallies, `<owner>.<run>`: a restarted owner takes them up again.
pub const RUNS_BUCKET: &str = "maestro_runs";
/// The workers' shared consumer.
const WORKERS: &str = "workers";
/// A task offered this many times and taken by no node fails.
const GIVE_UP: i64 = 60;

/// One task of a distributed run, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkItem {
    pub run: String,
    /// The node that started the run (its results go there).
    pub owner: String,
    /// The task's place in the run (0-based, in document order).
    pub index: u32,
    /// The repository, by root commit.
    pub repo: String,
    /// The commit the run started at: every task starts from it.
    pub base: String,
    /// The document, relative to the repository's root.
    pub document: String,
    /// The task's 1-based line and text in the owner's document.
    pub line: u32,
    pub text: String,
    /// The agent CLI that does it.
    pub cli: String,
    /// The prompt, rendered by the owner from the document's template.
    pub prompt: String,
    /// Node labels a worker must have.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// What a worker did with a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkResult {
    pub item: WorkItem,
    pub node: String,
    /// The agent ticked the task in its copy of the document.
    pub done: bool,
    /// Why not, or what the agent said last.
    pub summary: String,
    /// The agent's commits from `item.base` (the document itself left out), as a patch.
    pub patch: String,
}

/// A run's tally as kept in [`RUNS_BUCKET`]: with the tasks done and failed, by index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stored {
    info: MeshRunInfo,
    taken: Vec<u32>,
    failed: Vec<u32>,
}

/// Keeps run `run`'s tally in `kv` (a failure is logged: the tally in memory goes on).
pub(crate) async fn keep(kv: &jetstream::kv::Store, owner: &str, runs: &Mutex<Runs>, run: &str) {
    let Some(stored) = runs.lock().unwrap().stored(run) else {
        return;
    };
    let body = serde_json::to_vec(&stored).unwrap_or_default();
    if let Err(e) = kv.put(format!("{owner}.{run}"), body.into()).await {
        tracing::warn!(%run, "keeping a distributed run's tally: {e}");
    }
}

/// The runs `owner` kept.
pub(crate) async fn load(kv: &jetstream::kv::Store, owner: &str, runs: &Mutex<Runs>) {
    let Ok(mut keys) = kv.keys().await else {
        return;
    };
    let prefix = format!("{owner}.");
    let mut mine = Vec::new();
    while let Some(k) = keys.next().await {
        if let Ok(k) = k
            && k.starts_with(&prefix)
        {
            mine.push(k);
        }
    }
    for k in mine {
        if let Ok(Some(v)) = kv.get(&k).await
            && let Ok(stored) = serde_json::from_slice::<Stored>(&v)
        {
            runs.lock().unwrap().load(stored);
        }
    }
}

/// The distributed runs this node owns, tallied as results come.
#[derive(Default)]
pub(crate) struct Runs {
    runs: BTreeMap<String, MeshRunInfo>,
    /// The tasks done: (run, index).
    taken: std::collections::BTreeSet<(String, u32)>,
    /// The tasks whose last result was a failure (a later success replaces it).
    failed: std::collections::BTreeSet<(String, u32)>,
}

impl Runs {
    pub(crate) fn start(&mut self, info: MeshRunInfo) {
        self.runs.insert(info.run.clone(), info);
    }

    /// What is kept of run `run` across restarts.
    pub(crate) fn stored(&self, run: &str) -> Option<Stored> {
        let of = |set: &std::collections::BTreeSet<(String, u32)>| {
            set.iter()
                .filter(|(r, _)| r == run)
                .map(|(_, i)| *i)
                .collect()
        };
        Some(Stored {
            info: self.runs.get(run)?.clone(),
            taken: of(&self.taken),
            failed: of(&self.failed),
        })
    }

    /// A run as it was kept.
    pub(crate) fn load(&mut self, s: Stored) {
        let run = s.info.run.clone();
        self.taken
            .extend(s.taken.into_iter().map(|i| (run.clone(), i)));
        self.failed
            .extend(s.failed.into_iter().map(|i| (run.clone(), i)));
        self.runs.insert(run, s.info);
    }

    pub(crate) fn all(&self) -> Vec<MeshRunInfo> {
        self.runs.values().cloned().collect()
    }

    /// Whether this result changes nothing: its task is done already, or it failed again.
    fn seen(&self, r: &WorkResult) -> bool {
        let key = (r.item.run.clone(), r.item.index);
        self.taken.contains(&key) || (!r.done && self.failed.contains(&key))
    }

    fn record(&mut self, r: &WorkResult, applied: Result<(), String>) {
        let key = (r.item.run.clone(), r.item.index);
        let failed_before = self.failed.remove(&key);
        match &applied {
            Ok(()) => self.taken.insert(key),
            Err(_) => self.failed.insert(key),
        };
        let Some(run) = self.runs.get_mut(&r.item.run) else {
            return;
        };
        if failed_before {
            // Done after all (a task redone elsewhere): it is no longer a failure.
            run.failed.retain(|f| f.line != r.item.line);
        }
        match applied {
            Ok(()) => {
                run.done += 1;
                *run.by_node.entry(r.node.clone()).or_default() += 1;
            }
            Err(reason) => run.failed.push(MeshTaskFailure {
                line: r.item.line,
                node: r.node.clone(),
                reason,
            }),
        }
        if run.done + run.failed.len() as u32 >= run.total {
            run.finished_ms.get_or_insert(now_ms());
        }
    }

    fn duplicate(&mut self, r: &WorkResult) {
        if let Some(run) = self.runs.get_mut(&r.item.run) {
            run.duplicates += 1;
        }
    }
}

pub(crate) async fn streams(
    js: &jetstream::Context,
    replicas: usize,
) -> Result<(jetstream::stream::Stream, jetstream::stream::Stream), MeshError> {
    let work = jetstream::stream::Config {
        name: WORK_STREAM.to_owned(),
        description: Some("maestro's distributed tasks, taken once".to_owned()),
        subjects: vec![format!("{PREFIX}.work.>")],
        retention: jetstream::stream::RetentionPolicy::WorkQueue,
        duplicate_window: Duration::from_secs(600),
        num_replicas: replicas,
        ..Default::default()
    };
    let results = jetstream::stream::Config {
        name: RESULTS_STREAM.to_owned(),
        description: Some("maestro's distributed tasks' results, to each run's owner".to_owned()),
        subjects: vec![format!("{PREFIX}.result.*")],
        max_age: Duration::from_secs(7 * 24 * 3600),
        duplicate_window: Duration::from_secs(600),
        num_replicas: replicas,
        ..Default::default()
    };
    Ok((
        crate::stream(js, work).await?,
        crate::stream(js, results).await?,
    ))
}

/// Puts `items` on the queue (each once, by run and index, however often this is called).
pub(crate) async fn enqueue(js: &jetstream::Context, items: &[WorkItem]) -> Result<(), MeshError> {
    let mut acks = Vec::new();
    for item in items {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            format!("{}.{}", item.run, item.index).as_str(),
        );
        let body = serde_json::to_vec(item).map_err(|e| MeshError::JetStream(e.to_string()))?;
        acks.push(
            js.publish_with_headers(format!("{PREFIX}.work.{}", item.run), headers, body.into())
                .await
                .map_err(|e| MeshError::JetStream(e.to_string()))?,
        );
    }
    for ack in acks {
        ack.await.map_err(|e| MeshError::JetStream(e.to_string()))?;
    }
    Ok(())
}

/// What a worker needs to know about its node.
pub(crate) struct Worker {
    pub labels: Vec<String>,
    pub slots: usize,
    pub deadline: Duration,
}

/// Takes tasks off the queue, `slots` at a time, and sends each one's result to its owner.
pub(crate) async fn work(
    js: jetstream::Context,
    stream: jetstream::stream::Stream,
    worker: Worker,
    host: Arc<dyn MeshHost>,
    mut reconnects: Reconnects,
) {
    use jetstream::AckKind;
    use jetstream::consumer::pull;
    let config = pull::Config {
        durable_name: Some(WORKERS.to_owned()),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: worker.deadline,
        ..Default::default()
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(worker.slots.max(1)));
    let worker = Arc::new(worker);
    loop {
        reconnects.borrow_and_update();
        let consumer = match stream
            .get_or_create_consumer::<pull::Config>(WORKERS, config.clone())
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("the workers' consumer: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("never closed"),
                _ = reconnects.changed() => break,
            };
            // One task per free slot: another node's idle worker takes the next.
            let batch = consumer
                .batch()
                .max_messages(1)
                .expires(Duration::from_secs(5))
                .messages()
                .await;
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::debug!("asking for work: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            };
            let Some(Ok(m)) = batch.next().await else {
                continue;
            };
            let (js, host, worker) = (js.clone(), host.clone(), worker.clone());
            tokio::spawn(async move {
                let _permit = permit;
                let item: WorkItem = match serde_json::from_slice(&m.payload) {
                    Ok(i) => i,
                    Err(e) => {
                        tracing::warn!("a task on the work queue that is not one: {e}");
                        let _ = m.ack_with(AckKind::Term).await;
                        return;
                    }
                };
                let cannot = match item.labels.iter().find(|l| !worker.labels.contains(l)) {
                    Some(missing) => Err(format!("no node labelled {missing}")),
                    None => host.can_work(&item),
                };
                if let Err(why) = cannot {
                    let tries = m.info().map_or(1, |i| i.delivered);
                    if tries < GIVE_UP {
                        tracing::debug!(run = %item.run, index = item.index, "left for another node: {why}");
                        let _ = m
                            .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                            .await;
                        return;
                    }
                    // Offered this often, taken by no node: the owner hears why.
                    let result = WorkResult {
                        node: String::new(),
                        done: false,
                        summary: format!("no node could take it ({why}, on the last one asked)"),
                        patch: String::new(),
                        item,
                    };
                    if send_result(&js, &result).await.is_ok() {
                        let _ = m.ack_with(AckKind::Term).await;
                    }
                    return;
                }
                tracing::info!(run = %item.run, index = item.index, "working on a distributed task");
                // Still at it: the deadline starts again, every third of it.
                let beat = {
                    let every = worker.deadline / 3;
                    let m = m.clone();
                    tokio::spawn(async move {
                        loop {
                            tokio::time::sleep(every).await;
                            if m.ack_with(AckKind::Progress).await.is_err() {
                                return;
                            }
                        }
                    })
                };
                let result = host.work(item.clone()).await;
                // The work is done: its result is sent again while the servers fail over (the
                // deadline kept off meanwhile) rather than the task done again.
                let mut sent = send_result(&js, &result).await;
                let mut wait = Duration::from_millis(250);
                for _ in 0..6 {
                    if sent.is_ok() {
                        break;
                    }
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    sent = send_result(&js, &result).await;
                }
                beat.abort();
                match sent {
                    Ok(()) => {
                        let _ = m.ack_with(AckKind::Ack).await;
                    }
                    Err(e) => {
                        tracing::warn!(run = %item.run, index = item.index, "a result not sent: {e}; the task goes back to the queue");
                        let _ = m.ack_with(AckKind::Nak(None)).await;
                    }
                }
            });
        }
    }
}

async fn send_result(js: &jetstream::Context, r: &WorkResult) -> Result<(), MeshError> {
    check_node_name(&r.item.owner).map_err(MeshError::Node)?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        "Nats-Msg-Id",
        format!("{}.{}.{}", r.item.run, r.item.index, r.node).as_str(),
    );
    let body = serde_json::to_vec(r).map_err(|e| MeshError::JetStream(e.to_string()))?;
    js.publish_with_headers(
        format!("{PREFIX}.result.{}", r.item.owner),
        headers,
        body.into(),
    )
    .await
    .map_err(|e| MeshError::JetStream(e.to_string()))?
    .await
    .map_err(|e| MeshError::JetStream(e.to_string()))?;
    Ok(())
}

/// Takes the results of the runs this node owns: the first success of each task is applied by
/// the host and tallied, and the tally kept in `kept`.
pub(crate) async fn collect(
    stream: jetstream::stream::Stream,
    kept: jetstream::kv::Store,
    name: String,
    runs: Arc<Mutex<Runs>>,
    host: Arc<dyn MeshHost>,
    reconnects: Reconnects,
) {
    let filter = format!("{PREFIX}.result.{name}");
    let durable = format!("results-{name}");
    let handle = |m: jetstream::Message| {
        let (runs, host, kept, owner) = (runs.clone(), host.clone(), kept.clone(), name.clone());
        async move { take_result(m, &runs, host.as_ref(), &kept, &owner).await }
    };
    crate::consume(
        stream,
        durable,
        filter,
        Duration::from_secs(60),
        reconnects,
        handle,
    )
    .await
}

async fn take_result(
    m: jetstream::Message,
    runs: &Mutex<Runs>,
    host: &dyn MeshHost,
    kept: &jetstream::kv::Store,
    owner: &str,
) {
    use jetstream::AckKind;
    let r: WorkResult = match serde_json::from_slice(&m.payload) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("a result that is not one: {e}");
            let _ = m.ack_with(AckKind::Term).await;
            return;
        }
    };
    let seen = runs.lock().unwrap().seen(&r);
    if seen {
        runs.lock().unwrap().duplicate(&r);
    } else {
        let applied = if r.done {
            match host.apply(r.clone()).await {
                Delivery::Stored => Ok(()),
                Delivery::Refused(why) => Err(why),
                Delivery::Later(why) => {
                    tracing::debug!("a result, later: {why}");
                    let _ = m.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                    return;
                }
            }
        } else {
            Err(r.summary.clone())
        };
        runs.lock().unwrap().record(&r, applied);
    }
    keep(kept, owner, runs, &r.item.run).await;
    let _ = m.ack_with(AckKind::Ack).await;
}

/// A new run's id: `dist-` and 8 random hex digits (a valid agent-name part and subject token).
pub fn run_id() -> String {
    let mut bytes = [0u8; 4];
    getrandom::getrandom(&mut bytes).expect("the system's random source");
    format!("dist-{:08x}", u32::from_be_bytes(bytes))
}

/// The run's tally when it starts.
pub fn tally(run: &str, document: PathBuf, branch: String, total: u32) -> MeshRunInfo {
    MeshRunInfo {
        run: run.to_owned(),
        document,
        branch,
        total,
        done: 0,
        failed: Vec::new(),
        by_node: BTreeMap::new(),
        duplicates: 0,
        started_ms: now_ms(),
        finished_ms: (total == 0).then(now_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(index: u32, node: &str, done: bool) -> WorkResult {
        WorkResult {
            item: WorkItem {
                run: "dist-1".into(),
                owner: "a".into(),
                index,
                repo: "r".into(),
                base: "b".into(),
                document: "d.md".into(),
                line: index + 3,
                text: format!("task {index}"),
                cli: "claude".into(),
                prompt: String::new(),
                labels: Vec::new(),
            },
            node: node.into(),
            done,
            summary: if done {
                "1 commit".into()
            } else {
                "it failed".into()
            },
            patch: String::new(),
        }
    }

    #[test]
    fn a_success_replaces_a_failure_and_a_second_result_changes_nothing() {
        let mut runs = Runs::default();
        runs.start(tally(
            "dist-1",
            "/r/d.md".into(),
            "maestro/dist-1".into(),
            2,
        ));
        let failed = result(0, "b", false);
        assert!(!runs.seen(&failed));
        runs.record(&failed, Err("it failed".into()));
        assert!(runs.seen(&failed), "the same failure again changes nothing");
        let done = result(0, "c", true);
        assert!(!runs.seen(&done), "a success after a failure counts");
        runs.record(&done, Ok(()));
        let other = result(1, "b", true);
        runs.record(&other, Ok(()));
        let run = &runs.all()[0];
        assert_eq!((run.done, run.failed.len()), (2, 0), "{run:?}");
        assert!(run.finished_ms.is_some());
        assert_eq!(run.by_node.get("c"), Some(&1));
        // Redone after all: a second success, and a late failure, are duplicates.
        assert!(runs.seen(&result(0, "a", true)));
        assert!(runs.seen(&result(0, "a", false)));
    }
}
