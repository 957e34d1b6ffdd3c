//! Scripts from outside (`maestro graph query`, later the MCP `query` tool): read-only, and
//! bounded. A cross join of two relations can run for hours and, while it runs, holds up the
//! daemon (a clean stop included); a client that gave up (Ctrl-C) does not stop it. So a user
//! script runs in a child process of its own (a query worker: the daemon's binary started with
//! [`QueryWorker::args`], answering through [`serve_query_worker`]) on the store file, killed when
//! its time is up or its asker is gone: cozo checks its own kill flag only between evaluation
//! steps, and one join of 187k symbols with themselves ran for minutes past it. Its answer is cut
//! at a number of rows and a number of bytes. Fixed rules that read files or URLs (`CsvReader`,
//! `JsonReader`) are refused: a query reads the store, nothing else. A store without a worker (in
//! memory, or in tests) runs the script in-process under a watchdog that kills it between steps.

use crate::{Params, Store, StoreError};
use cozo::{DataValue, DbInstance, ScriptMutability};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long and how big a user script may be.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    pub time: Duration,
    pub rows: usize,
    /// The answer's size as JSON (a worker's answer over it is refused).
    pub bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            time: Duration::from_secs(10),
            rows: 10_000,
            bytes: 64 << 20,
        }
    }
}

/// A user script's answer, values as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRows {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Json>>,
    /// Rows left out past [`QueryLimits::rows`].
    pub truncated: usize,
}

/// The program that runs user scripts in a process of their own.
#[derive(Debug, Clone)]
pub struct QueryWorker {
    pub program: PathBuf,
    /// Arguments that make `program` call [`serve_query_worker`].
    pub args: Vec<String>,
}

/// What the daemon sends a worker on its stdin.
#[derive(Serialize, Deserialize)]
struct WorkerRequest {
    store: PathBuf,
    script: String,
    params: Params,
    rows: usize,
}

/// What a worker answers on its stdout.
#[derive(Serialize, Deserialize)]
enum WorkerAnswer {
    Rows(UserRows),
    Error { read_only: bool, detail: String },
}

/// Fixed rules that read outside the store.
const IO_RULES: [&str; 2] = ["CsvReader", "JsonReader"];

/// The first fixed rule of `script` that reads files or URLs, if any (as a whole word: a longer
/// identifier containing it is not it).
fn io_rule(script: &str) -> Option<&'static str> {
    IO_RULES.into_iter().find(|rule| {
        script.match_indices(rule).any(|(at, _)| {
            let before = script[..at].chars().next_back();
            let after = script[at + rule.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !word(before) && !word(after)
        })
    })
}

impl Store {
    /// Lets user scripts run in a process of their own (see the module's doc).
    pub fn set_query_worker(&self, worker: QueryWorker) {
        *self.inner.query_worker.lock().unwrap() = Some(worker);
    }

    /// Runs a script from outside: read-only, refused when it would read files or URLs, stopped
    /// after `limits.time` or as soon as `cancelled` is set, its rows cut at `limits.rows`.
    pub fn query_user(
        &self,
        script: &str,
        params: Params,
        limits: QueryLimits,
        cancelled: Arc<AtomicBool>,
    ) -> Result<UserRows, StoreError> {
        if let Some(rule) = io_rule(script) {
            return Err(StoreError::Query {
                detail: format!(
                    "`{rule}` reads files or URLs, and a query may read the store's relations only"
                ),
            });
        }
        let worker = self.inner.query_worker.lock().unwrap().clone();
        // A binary replaced on disk (an upgrade while the daemon runs) cannot be started again.
        let worker = worker.filter(|w| w.program.is_file());
        match (worker, self.path()) {
            (Some(worker), Some(path)) => {
                let request = WorkerRequest {
                    store: path.to_owned(),
                    script: script.to_owned(),
                    params,
                    rows: limits.rows,
                };
                run_worker(&worker, &request, limits, &cancelled)
            }
            _ => self.query_in_process(script, params, limits, cancelled),
        }
    }

    /// The in-process way: a watchdog kills the script, between its evaluation steps.
    fn query_in_process(
        &self,
        script: &str,
        params: Params,
        limits: QueryLimits,
        cancelled: Arc<AtomicBool>,
    ) -> Result<UserRows, StoreError> {
        // cozo numbers queries in order: ours is one after those running or done before it.
        let before = self.running_queries().into_iter().max().unwrap_or(-1);
        let done = Arc::new(AtomicBool::new(false));
        let timed_out = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let (store, done, timed_out) = (self.clone(), done.clone(), timed_out.clone());
            std::thread::Builder::new()
                .name("maestro-query-watchdog".into())
                .spawn(move || {
                    let deadline = Instant::now() + limits.time;
                    while !done.load(Ordering::Acquire) {
                        let late = Instant::now() >= deadline;
                        if late || cancelled.load(Ordering::Acquire) {
                            timed_out.store(late, Ordering::Release);
                            // Everything begun since this script is its (a user script is
                            // one query, or a few in a chain); the daemon's own reads take
                            // milliseconds.
                            for id in store
                                .running_queries()
                                .into_iter()
                                .filter(|id| *id > before)
                            {
                                store.kill_query(id);
                            }
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                })
                .map_err(|e| StoreError::Query {
                    detail: format!("no watchdog for the query: {e}"),
                })?
        };
        let result = crate::run_read_only(self.user_db(), script, params);
        done.store(true, Ordering::Release);
        let _ = watchdog.join();
        match result {
            Err(StoreError::Query { detail }) if detail.contains("killed") => {
                Err(stopped(timed_out.load(Ordering::Acquire), limits))
            }
            other => Ok(as_json(other?, limits.rows)),
        }
    }

    /// The instance user scripts run on.
    fn user_db(&self) -> &cozo::DbInstance {
        self.inner.user_db.as_ref().unwrap_or(&self.inner.db)
    }

    /// The ids of the queries cozo runs now.
    fn running_queries(&self) -> Vec<i64> {
        self.user_db()
            .run_script("::running", Params::new(), ScriptMutability::Immutable)
            .map(|rows| {
                rows.rows
                    .iter()
                    .filter_map(|r| r.first().and_then(DataValue::get_int))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn kill_query(&self, id: i64) {
        // An id cozo gave, not data from outside: the one script here built at run time. As a
        // read: a write would wait for the very query it is to stop.
        let script = format!("::kill {id}");
        if let Err(e) =
            self.user_db()
                .run_script(&script, Params::new(), ScriptMutability::Immutable)
        {
            tracing::warn!("killing query {id}: {e}");
        }
    }
}

/// Why a script was stopped.
fn stopped(timed_out: bool, limits: QueryLimits) -> StoreError {
    StoreError::Query {
        detail: if timed_out {
            format!(
                "the query ran over {} s and was stopped; narrow it (bind a key, add a limit with `:limit N`)",
                limits.time.as_secs()
            )
        } else {
            "the query was stopped: its client went away".to_owned()
        },
    }
}

/// cozo's rows as JSON, cut at `max` rows.
fn as_json(rows: cozo::NamedRows, max: usize) -> UserRows {
    let truncated = rows.rows.len().saturating_sub(max);
    UserRows {
        headers: rows.headers,
        rows: rows
            .rows
            .into_iter()
            .take(max)
            .map(|r| r.into_iter().map(Json::from).collect())
            .collect(),
        truncated,
    }
}

/// Runs `request` in a worker process, killed at the deadline or on cancellation.
fn run_worker(
    worker: &QueryWorker,
    request: &WorkerRequest,
    limits: QueryLimits,
    cancelled: &AtomicBool,
) -> Result<UserRows, StoreError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| StoreError::Query {
        detail: format!(
            "the query worker ({}) {what}: {e}",
            worker.program.display()
        ),
    };
    let mut child = Command::new(&worker.program)
        .args(&worker.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed("could not start", &e))?;
    let input = serde_json::to_vec(request).expect("a request serializes");
    let mut stdin = child.stdin.take().expect("piped");
    // Written by a thread: a worker that does not read must not hold this one.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut stdout = child.stdout.take().expect("piped");
    let cap = limits.bytes as u64 + 1;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        (&mut stdout).take(cap).read_to_end(&mut out).map(|_| out)
    });
    let too_big = || StoreError::Query {
        detail: format!(
            "the answer is over {} MiB; ask for fewer columns or rows (`:limit N`)",
            limits.bytes >> 20
        ),
    };
    let read = |reader: std::thread::JoinHandle<std::io::Result<Vec<u8>>>| {
        reader
            .join()
            .map_err(|_| failed("answer could not be read", &"reader panicked"))?
            .map_err(|e| failed("answer could not be read", &e))
    };
    let deadline = Instant::now() + limits.time;
    let (mut reader, mut out) = (Some(reader), None);
    let status = loop {
        // The whole answer read (the worker closed its output), or the cap reached (the worker
        // then waits on a full pipe: it is stopped here).
        if let Some(r) = reader.take_if(|r| r.is_finished()) {
            let got = read(r)?;
            if got.len() as u64 >= cap {
                let _ = child.kill();
                let _ = child.wait();
                return Err(too_big());
            }
            out = Some(got);
        }
        if let Some(status) = child
            .try_wait()
            .map_err(|e| failed("could not be waited for", &e))?
        {
            break status;
        }
        let late = Instant::now() >= deadline;
        if late || cancelled.load(Ordering::Acquire) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(stopped(late, limits));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let out = match (out, reader) {
        (Some(out), _) => out,
        (None, Some(r)) => read(r)?,
        (None, None) => unreachable!("the reader is taken only with its answer"),
    };
    if out.len() as u64 >= cap {
        return Err(too_big());
    }
    match serde_json::from_slice::<WorkerAnswer>(&out) {
        Ok(WorkerAnswer::Rows(rows)) => Ok(rows),
        Ok(WorkerAnswer::Error {
            read_only: true,
            detail,
        }) => Err(StoreError::ReadOnly { detail }),
        Ok(WorkerAnswer::Error { detail, .. }) => Err(StoreError::Query { detail }),
        Err(_) => Err(failed("ended without an answer", &status)),
    }
}

/// The worker's side: reads one request from `input`, runs it on its own cozo instance of the
/// store file (read-only), writes the answer to `output`. Returns the process exit code.
pub fn serve_query_worker(input: impl Read, mut output: impl Write) -> i32 {
    let answer = match serde_json::from_reader::<_, WorkerRequest>(input) {
        Err(e) => WorkerAnswer::Error {
            read_only: false,
            detail: format!("a bad request reached the query worker: {e}"),
        },
        Ok(request) => match open_for_queries(&request.store) {
            Err(e) => WorkerAnswer::Error {
                read_only: false,
                detail: e.to_string(),
            },
            Ok(db) => match crate::run_read_only(&db, &request.script, request.params) {
                Ok(rows) => WorkerAnswer::Rows(as_json(rows, request.rows)),
                Err(StoreError::ReadOnly { detail }) => WorkerAnswer::Error {
                    read_only: true,
                    detail,
                },
                Err(e) => WorkerAnswer::Error {
                    read_only: false,
                    detail: match e {
                        StoreError::Query { detail } => detail,
                        other => other.to_string(),
                    },
                },
            },
        },
    };
    let written = serde_json::to_writer(&mut output, &answer).is_ok() && output.flush().is_ok();
    i32::from(!written)
}

/// The store file as the worker sees it: checked as the daemon checks it, never migrated.
fn open_for_queries(path: &std::path::Path) -> Result<DbInstance, StoreError> {
    if crate::file::check(path)? == crate::file::FileState::Fresh {
        return Err(StoreError::Query {
            detail: format!("{} holds no store yet", path.display()),
        });
    }
    crate::open_cozo(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(request: serde_json::Value) -> WorkerAnswer {
        let mut out = Vec::new();
        let code = serve_query_worker(request.to_string().as_bytes(), &mut out);
        assert_eq!(code, 0);
        serde_json::from_slice(&out).unwrap()
    }

    /// `query_user` with a stand-in worker (a shell), limits small.
    fn with_worker(
        script: &str,
        time_ms: u64,
        bytes: usize,
    ) -> (Result<UserRows, StoreError>, Duration) {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("maestro.db")).unwrap();
        store.set_query_worker(QueryWorker {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
        });
        let limits = QueryLimits {
            time: Duration::from_millis(time_ms),
            rows: 10,
            bytes,
        };
        let started = Instant::now();
        let r = store.query_user("?[x] <- [[1]]", Params::new(), limits, Arc::default());
        (r, started.elapsed())
    }

    #[test]
    fn a_worker_is_stopped_at_its_limits_and_its_silence_is_an_error() {
        // Runs forever: killed at the time limit.
        let (r, took) = with_worker("cat >/dev/null; sleep 30", 300, 1 << 20);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("was stopped"), "{e}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        // Answers more than the cap: stopped as soon as the cap is read, however long it would go.
        let (r, took) = with_worker("cat >/dev/null; exec cat /dev/zero", 30_000, 1 << 20);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("the answer is over 1 MiB"), "{e}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        // Dies without a word.
        let (r, _) = with_worker("exit 3", 5_000, 1 << 20);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("ended without an answer"), "{e}");
    }

    #[tokio::test]
    async fn the_worker_answers_reads_refuses_writes_and_never_makes_a_store() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("maestro.db");
        let store = Store::open(&path).unwrap();
        store
            .upsert_workspace("w1", "/r", "r", maestro_protocol::WorkspaceKind::Git, 1.0)
            .await
            .unwrap();
        let params =
            serde_json::to_value(Params::from([("id".to_owned(), DataValue::from("w1"))])).unwrap();
        let read = ask(
            serde_json::json!({"store": path, "script": "?[root] := *workspace{id: $id, root}",
            "params": params, "rows": 10}),
        );
        assert!(
            matches!(&read, WorkerAnswer::Rows(r) if r.rows == [[serde_json::json!("/r")]] && r.headers == ["root"]),
            "{}",
            serde_json::to_string(&read).unwrap()
        );
        let many = ask(
            serde_json::json!({"store": path, "script": "?[x] := x in int_range(25)",
            "params": {}, "rows": 10}),
        );
        assert!(matches!(&many, WorkerAnswer::Rows(r) if r.rows.len() == 10 && r.truncated == 15));
        let write = ask(serde_json::json!({"store": path,
            "script": "?[key, value] <- [['x', 1]] :put maestro_meta {key => value}", "params": {}, "rows": 10}));
        assert!(matches!(
            write,
            WorkerAnswer::Error {
                read_only: true,
                ..
            }
        ));
        drop(store);
        let missing = dir.path().join("none.db");
        let fresh = ask(
            serde_json::json!({"store": missing, "script": "?[x] <- [[1]]", "params": {}, "rows": 10}),
        );
        assert!(
            matches!(&fresh, WorkerAnswer::Error { detail, .. } if detail.contains("holds no store"))
        );
        assert!(!missing.exists(), "the worker made a store");
        let mut out = Vec::new();
        serve_query_worker(&b"{not json"[..], &mut out);
        assert!(String::from_utf8_lossy(&out).contains("bad request"));
    }

    #[test]
    fn file_reading_rules_are_found_as_words() {
        assert_eq!(
            io_rule("?[a] <~ CsvReader(url: 'file:///etc/passwd', types: ['String'])"),
            Some("CsvReader")
        );
        assert_eq!(
            io_rule("?[x] <~JsonReader(url: 'http://x')"),
            Some("JsonReader")
        );
        assert_eq!(
            io_rule("?[name] := *symbol{name}, name = 'MyCsvReaderX'"),
            None
        );
        assert_eq!(io_rule("?[name] := *symbol{name}"), None);
    }
}
