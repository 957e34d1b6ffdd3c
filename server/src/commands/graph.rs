//! `maestro index [PATH]` and `maestro graph def|refs|callers|callees|symbols|query`.

use super::{cli_options, print_json};
use crate::cli::{GraphAction, Target};
use crate::client::{ClientError, Connected, connect};
use indicatif::{ProgressBar, ProgressStyle};
use maestro_engine::Paths;
use maestro_engine::text::{path_to_uri, uri_to_path, visible};
use maestro_protocol::{
    CallHierarchyIncomingCall, CallHierarchyItem, CallHierarchyOutgoingCall, Event,
    GraphQueryResult, IndexParams, IndexResult, Location, PositionEncoding, ProgressValue,
    SymbolLookupParams, WorkspaceSymbol, method,
};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The CLI counts columns in characters (`utf-32`), as people do.
async fn connect_graph(paths: &Paths) -> Result<Connected, ClientError> {
    let mut options = cli_options(paths, true);
    options.encoding = PositionEncoding::Utf32;
    connect(paths, &options).await
}

pub async fn index(paths: &Paths, path: Option<&Path>, json: bool) -> anyhow::Result<i32> {
    let cwd = std::env::current_dir()?;
    let path = path.map_or(cwd.clone(), |p| cwd.join(p));
    let mut c = connect_graph(paths).await?;
    let shown = if json { Shown::JsonLines } else { Shown::Bar };
    let result = index_with_progress(&mut c, path, shown).await?;
    if json {
        let mut v = serde_json::to_value(&result)?;
        v["event"] = json!("complete");
        v["filesPerSec"] = json!(files_per_sec(&result).round());
        print_json(&v);
    } else {
        print!("{}", summary(&result));
    }
    Ok(0)
}

/// How an index run's progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// A bar on stderr, when it is a terminal.
    Bar,
    /// `{"event": "progress", "done": N, "total": M}` lines on stdout.
    JsonLines,
    Nothing,
}

/// Asks the daemon to index the workspace around `path`, showing the run's progress.
pub async fn index_with_progress(
    c: &mut Connected,
    path: PathBuf,
    shown: Shown,
) -> anyhow::Result<IndexResult> {
    c.client
        .request::<_, Value>(method::SUBSCRIBE, json!({}))
        .await?;
    let answer = c
        .client
        .call(method::INDEX, serde_json::to_value(IndexParams { path })?);
    tokio::pin!(answer);
    let bar = (shown == Shown::Bar && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>12} [{bar:40}] {pos}/{len} files ({per_sec}, {eta})",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut ours: Option<String> = None;
    let result = loop {
        tokio::select! {
            result = &mut answer => break result,
            Some(n) = c.events.recv() => {
                let Some(Ok(Event::Progress(p))) = Event::from_notification(&n.method, n.params) else { continue };
                match p.value {
                    ProgressValue::Begin { title, .. } if ours.is_none() && title.starts_with("Indexing") => {
                        if let Some(bar) = &bar {
                            bar.set_message(title.trim_start_matches("Indexing ").to_owned());
                        }
                        ours = Some(p.token);
                    }
                    ProgressValue::Report { message, .. } if ours.as_deref() == Some(&p.token) => {
                        let (done, total) = message.as_deref().and_then(parse_counts).unwrap_or((0, 0));
                        if let Some(bar) = &bar {
                            bar.set_length(total as u64);
                            bar.set_position(done as u64);
                        } else if shown == Shown::JsonLines {
                            print_json(&json!({"event": "progress", "done": done, "total": total}));
                        }
                    }
                    _ => {}
                }
            }
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let result = result.map_err(|error| ClientError::Rpc {
        method: method::INDEX.into(),
        error,
    })?;
    Ok(serde_json::from_value(result)?)
}

fn files_per_sec(r: &IndexResult) -> f64 {
    if r.elapsed_secs > 0.0 {
        r.files as f64 / r.elapsed_secs
    } else {
        0.0
    }
}

/// An index run as people read it.
pub fn summary(r: &IndexResult) -> String {
    let mut out = format!(
        "indexed {} ({}): {} ({} parsed, {} reused, {} unchanged, {} removed, {} skipped), {} symbols, {} references in {:.2} s ({:.0} files/s)\n",
        visible(&r.workspace.name),
        visible(&r.workspace.root.display().to_string()),
        if r.files == 1 {
            "1 file".to_owned()
        } else {
            format!("{} files", r.files)
        },
        r.parsed,
        r.reused,
        r.unchanged,
        r.removed,
        r.skipped.len(),
        r.symbols,
        r.references,
        r.elapsed_secs,
        files_per_sec(r),
    );
    if let Some(load) = r.load_secs {
        out.push_str(&format!(
            "  (the graph was read from the store in {load:.2} s before that)\n"
        ));
    }
    for s in r.skipped.iter().take(10) {
        out.push_str(&format!(
            "  skipped {}: {}\n",
            visible(&s.path.display().to_string()),
            s.reason
        ));
    }
    if r.skipped.len() > 10 {
        out.push_str(&format!(
            "  … and {} more (maestro index --json lists them all)\n",
            r.skipped.len() - 10
        ));
    }
    out
}

fn parse_counts(message: &str) -> Option<(usize, usize)> {
    let (done, rest) = message.split_once('/')?;
    let total = rest.split_whitespace().next()?;
    Some((done.trim().parse().ok()?, total.parse().ok()?))
}

pub async fn graph(paths: &Paths, action: GraphAction) -> anyhow::Result<i32> {
    // The daemon's answers name what was wrong; the method's name would only be noise.
    ask(paths, action)
        .await
        .map_err(|e| match e.downcast::<ClientError>() {
            Ok(ClientError::Rpc { error, .. }) => anyhow::anyhow!("{}", error.message),
            Ok(other) => other.into(),
            Err(e) => e,
        })
}

async fn ask(paths: &Paths, action: GraphAction) -> anyhow::Result<i32> {
    let c = connect_graph(paths).await?;
    let cwd = std::env::current_dir()?;
    // Questions are about the workspace we stand in.
    c.client
        .request::<_, Value>(method::WORKSPACE_OPEN, json!({"path": cwd}))
        .await
        .ok();
    match action {
        GraphAction::Def(t) => {
            // A position asks what the name there means; a name's definitions are its symbols.
            let found: Vec<Location> = match parse_position(&t.target) {
                Some(_) => {
                    let mut found = Vec::new();
                    for (uri, p) in positions(&c, &t, &cwd).await? {
                        found.extend(
                            c.client
                                .request::<_, Vec<Location>>(method::GRAPH_DEFINITION, at(&uri, p))
                                .await?,
                        );
                    }
                    found
                }
                None => positions(&c, &t, &cwd)
                    .await?
                    .into_iter()
                    .map(|(uri, p)| Location {
                        uri,
                        range: maestro_protocol::Range { start: p, end: p },
                    })
                    .collect(),
            };
            show_locations(&found, &cwd, t.output.json);
            Ok(if found.is_empty() { 1 } else { 0 })
        }
        GraphAction::Refs(t) => {
            let mut found: Vec<Location> = Vec::new();
            for (uri, p) in positions(&c, &t, &cwd).await? {
                let params = json!({"textDocument": {"uri": uri}, "position": p, "context": {"includeDeclaration": false}});
                let answer: Vec<Location> =
                    c.client.request(method::GRAPH_REFERENCES, params).await?;
                note_limit(answer.len(), "references of one symbol");
                found.extend(answer);
            }
            found.sort();
            found.dedup();
            show_locations(&found, &cwd, t.output.json);
            Ok(0)
        }
        GraphAction::Callers(t) => calls(&c, &t, &cwd, true).await,
        GraphAction::Callees(t) => calls(&c, &t, &cwd, false).await,
        GraphAction::Symbols {
            query,
            file,
            output,
        } => {
            let symbols: Vec<WorkspaceSymbol> = match file {
                Some(file) => {
                    let uri = path_to_uri(&cwd.join(file));
                    let tree: Vec<Value> = c
                        .client
                        .request(
                            method::GRAPH_DOCUMENT_SYMBOLS,
                            json!({"textDocument": {"uri": uri}}),
                        )
                        .await?;
                    let mut flat = Vec::new();
                    flatten(&uri, &tree, None, &mut flat);
                    note_limit(flat.len(), "symbols of one file");
                    flat
                }
                None => {
                    c.client
                        .request(
                            method::GRAPH_WORKSPACE_SYMBOLS,
                            json!({"query": query.unwrap_or_default()}),
                        )
                        .await?
                }
            };
            show_symbols(&symbols, &cwd, output.json);
            Ok(0)
        }
        GraphAction::Query {
            script,
            params,
            output,
        } => {
            let mut map = serde_json::Map::new();
            for p in params {
                let (name, value) = p.split_once('=').ok_or_else(|| {
                    anyhow::anyhow!("--param {p:?}: expected NAME=JSON, e.g. --param 'n=\"open\"'")
                })?;
                let value: Value = serde_json::from_str(value).map_err(|e| {
                    anyhow::anyhow!(
                        "--param {name}: {value:?} is not JSON ({e}); quote strings: '\"text\"'"
                    )
                })?;
                map.insert(name.to_owned(), value);
            }
            let result: GraphQueryResult = c
                .client
                .request(
                    method::GRAPH_QUERY,
                    json!({"script": script, "params": map}),
                )
                .await?;
            if output.json {
                for row in &result.rows {
                    let object: serde_json::Map<String, Value> = result
                        .headers
                        .iter()
                        .cloned()
                        .zip(row.iter().cloned())
                        .collect();
                    print_json(&object);
                }
            } else {
                println!("{}", result.headers.join("\t"));
                for row in &result.rows {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    println!("{}", cells.join("\t"));
                }
            }
            if result.truncated > 0 {
                eprintln!(
                    "maestro: {} more rows left out (the daemon answers at most {}); narrow the query or add `:limit N`",
                    result.truncated,
                    result.rows.len()
                );
            }
            Ok(0)
        }
    }
}

fn at(uri: &str, position: maestro_protocol::Position) -> Value {
    json!({"textDocument": {"uri": uri}, "position": position})
}

/// The positions a target stands for: `FILE:LINE:COL` itself, or the name of each symbol called so.
async fn positions(
    c: &Connected,
    t: &Target,
    cwd: &Path,
) -> anyhow::Result<Vec<(String, maestro_protocol::Position)>> {
    if let Some((file, line, col)) = parse_position(&t.target) {
        let path = cwd.join(file);
        if !path.exists() {
            anyhow::bail!("{}: no such file", path.display());
        }
        let position = maestro_protocol::Position {
            line: line.saturating_sub(1),
            character: col.saturating_sub(1),
        };
        return Ok(vec![(path_to_uri(&path), position)]);
    }
    let symbols = lookup(c, &t.target).await?;
    if symbols.is_empty() {
        anyhow::bail!(
            "no symbol named {:?} in this workspace (try `maestro graph symbols {}`)",
            t.target,
            t.target
        );
    }
    Ok(symbols
        .into_iter()
        .map(|s| (s.location.uri, s.location.range.start))
        .collect())
}

async fn lookup(c: &Connected, name: &str) -> anyhow::Result<Vec<WorkspaceSymbol>> {
    let params = SymbolLookupParams {
        name: name.to_owned(),
        workspace: None,
        exact: true,
        limit: Some(100),
    };
    Ok(c.client.request(method::GRAPH_LOOKUP, params).await?)
}

/// `path:line:col`, 1-based.
fn parse_position(target: &str) -> Option<(PathBuf, u32, u32)> {
    let mut parts = target.rsplitn(3, ':');
    let col = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    Some((PathBuf::from(parts.next()?), line, col))
}

async fn calls(c: &Connected, t: &Target, cwd: &Path, incoming: bool) -> anyhow::Result<i32> {
    let mut rows: Vec<Value> = Vec::new();
    let mut human: Vec<String> = Vec::new();
    for (uri, position) in positions(c, t, cwd).await? {
        let items: Vec<CallHierarchyItem> = c
            .client
            .request(method::GRAPH_CALL_PREPARE, at(&uri, position))
            .await?;
        for item in items {
            if incoming {
                let calls: Vec<CallHierarchyIncomingCall> = c
                    .client
                    .request(method::GRAPH_CALL_INCOMING, json!({"item": item}))
                    .await?;
                for call in calls {
                    let place = format!(
                        "{}:{}",
                        display_uri(&call.from.uri, cwd),
                        call.from_ranges.first().map_or(0, |r| r.start.line + 1)
                    );
                    human.push(format!(
                        "{place}\t{} ({} calls)",
                        call.from.name,
                        call.from_ranges.len()
                    ));
                    rows.push(json!({"callee": item.name, "caller": call.from.name, "uri": call.from.uri, "ranges": call.from_ranges}));
                }
            } else {
                let calls: Vec<CallHierarchyOutgoingCall> = c
                    .client
                    .request(method::GRAPH_CALL_OUTGOING, json!({"item": item}))
                    .await?;
                for call in calls {
                    let place = format!(
                        "{}:{}",
                        display_uri(&call.to.uri, cwd),
                        call.to.selection_range.start.line + 1
                    );
                    human.push(format!(
                        "{place}\t{} ({} calls)",
                        call.to.name,
                        call.from_ranges.len()
                    ));
                    rows.push(json!({"caller": item.name, "callee": call.to.name, "uri": call.to.uri, "ranges": call.from_ranges}));
                }
            }
        }
    }
    if t.output.json {
        rows.iter().for_each(print_json);
    } else {
        human.iter().for_each(|l| println!("{l}"));
    }
    Ok(0)
}

fn flatten(uri: &str, tree: &[Value], container: Option<&str>, out: &mut Vec<WorkspaceSymbol>) {
    for node in tree {
        let name = node["name"].as_str().unwrap_or_default().to_owned();
        if let Ok(range) = serde_json::from_value(node["selectionRange"].clone()) {
            out.push(WorkspaceSymbol {
                name: name.clone(),
                kind: node["kind"].as_u64().unwrap_or(0) as u32,
                location: Location {
                    uri: uri.to_owned(),
                    range,
                },
                container_name: container.map(str::to_owned),
            });
        }
        if let Some(children) = node["children"].as_array() {
            flatten(uri, children, Some(&name), out);
        }
    }
}

/// A path as people want to read it: relative to where they stand when inside it.
/// A location's file for a terminal: relative to `cwd` when under it, control characters of the
/// repository's file names written out.
fn display_uri(uri: &str, cwd: &Path) -> String {
    let shown = match uri_to_path(uri) {
        Some(p) => p
            .strip_prefix(cwd)
            .map_or_else(|_| p.display().to_string(), |r| r.display().to_string()),
        None => uri.to_owned(),
    };
    visible(&shown).into_owned()
}

fn show_locations(found: &[Location], cwd: &Path, json: bool) {
    for l in found {
        if json {
            print_json(l);
        } else {
            println!(
                "{}:{}:{}",
                display_uri(&l.uri, cwd),
                l.range.start.line + 1,
                l.range.start.character + 1
            );
        }
    }
}

/// LSP `SymbolKind` numbers back to words.
pub(crate) fn kind_name(kind: u32) -> &'static str {
    match kind {
        2 => "module",
        5 => "class",
        6 => "method",
        8 => "field",
        9 => "constructor",
        10 => "enum",
        11 => "interface",
        12 => "function",
        13 => "variable",
        14 => "constant",
        19 => "impl",
        22 => "variant",
        23 => "struct",
        26 => "type",
        _ => "symbol",
    }
}

fn show_symbols(symbols: &[WorkspaceSymbol], cwd: &Path, json: bool) {
    for s in symbols {
        if json {
            print_json(s);
        } else {
            let owner = s
                .container_name
                .as_ref()
                .map(|c| format!("{}.", visible(c)))
                .unwrap_or_default();
            println!(
                "{}:{}\t{} {owner}{}",
                display_uri(&s.location.uri, cwd),
                s.location.range.start.line + 1,
                kind_name(s.kind),
                visible(&s.name)
            );
        }
    }
}

/// Says on stderr that an answer holds as many items as the daemon gives, so more were left out.
fn note_limit(count: usize, what: &str) {
    if count >= maestro_engine::REPLY_LIMIT {
        eprintln!(
            "note: the daemon answers at most {} {what}; the rest were left out",
            maestro_engine::REPLY_LIMIT
        );
    }
}
