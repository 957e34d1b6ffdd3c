//! Scripts from outside (`maestro graph query`, later the MCP `query` tool): read-only, and
//! bounded. A cross join of two relations can run for hours and, while it runs, holds up the
//! daemon (a clean stop included); a client that gave up (Ctrl-C) does not stop it. So a user
//! script runs under a watchdog that kills it (cozo's `::kill`, which poisons the query) when its
//! time is up or its asker is gone, and its answer is cut at a number of rows. Fixed rules that
//! read files or URLs (`CsvReader`, `JsonReader`) are refused: a query reads the store, nothing
//! else.

use crate::{NamedRows, Params, Store, StoreError};
use cozo::{DataValue, ScriptMutability};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long and how big a user script may be.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    pub time: Duration,
    pub rows: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            time: Duration::from_secs(10),
            rows: 10_000,
        }
    }
}

/// A user script's answer.
#[derive(Debug)]
pub struct UserRows {
    pub rows: NamedRows,
    /// Rows left out past [`QueryLimits::rows`].
    pub truncated: usize,
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
    /// Runs a script from outside: read-only, refused when it would read files or URLs, killed
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
        let result = self.run_user(script, params);
        done.store(true, Ordering::Release);
        let _ = watchdog.join();
        let mut rows = match result {
            Err(StoreError::Query { detail }) if detail.contains("killed") => {
                return Err(StoreError::Query {
                    detail: if timed_out.load(Ordering::Acquire) {
                        format!(
                            "the query ran over {} s and was stopped; narrow it (bind a key, add a limit with `:limit N`)",
                            limits.time.as_secs()
                        )
                    } else {
                        "the query was stopped: its client went away".to_owned()
                    },
                });
            }
            other => other?,
        };
        let truncated = rows.rows.len().saturating_sub(limits.rows);
        rows.rows.truncate(limits.rows);
        Ok(UserRows { rows, truncated })
    }

    /// The instance user scripts run on.
    fn user_db(&self) -> &cozo::DbInstance {
        self.inner.user_db.as_ref().unwrap_or(&self.inner.db)
    }

    fn run_user(&self, script: &str, params: Params) -> Result<NamedRows, StoreError> {
        crate::run_read_only(self.user_db(), script, params)
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

#[cfg(test)]
mod tests {
    use super::io_rule;

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
