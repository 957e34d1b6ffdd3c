//! Semantic code search: each definition of the code graph (functions, methods, types) becomes a
//! `code` memory — its kind and name, signature, the comment above it and the start of its body —
//! kept in step with the graph. `memory_code {ws, path => hash, ids}` records which content each
//! file's chunks were made from; after an index pass the worker compares it with the graph's `file`
//! relation and redoes only the files whose content changed (and drops deleted files' chunks).

use super::{Memory, NewMemory, rows_or_log};
use maestro_protocol::memory_kind;
use maestro_store::{DataValue, params};
use std::collections::HashMap;
use std::path::Path;

/// Files looked at per worker round (the worker embeds between rounds).
const FILES_PER_ROUND: i64 = 100;
/// Lines of a definition's body kept in its chunk, and comment lines above it.
const BODY_LINES: usize = 12;
const DOC_LINES: usize = 8;
const KINDS: [&str; 9] = [
    "function",
    "method",
    "class",
    "struct",
    "enum",
    "interface",
    "trait",
    "type",
    "macro",
];

const CHANGED: &str = r#"
?[ws, path, hash] := *file{ws, path, hash}, not *memory_code{ws, path, hash}
:limit $n
"#;
const GONE: &str = r#"
?[ws, path, ids] := *memory_code{ws, path, ids}, not *file{ws, path}
:limit $n
"#;
const OLD_IDS: &str = "?[ids] := *memory_code{ws: $ws, path: $path, ids}";
const SYMBOLS: &str = r#"
?[idx, name, kind, owner, line, start_line, end_line, signature] :=
    *symbol{hash: $hash, idx, name, kind, owner, line, start_line, end_line, signature}
"#;
const ROOTS: &str = "?[id, root] := *workspace{id, root}";
const SET_FILE: &str = r#"
{?[id] <- $old :rm memory {id}}
{?[id] <- $old :rm memory_pending {id}}
{?[ws, path, hash, ids] <- [[$ws, $path, $hash, $ids]] :put memory_code {ws, path => hash, ids}}
"#;
const DROP_FILE: &str = r#"
{?[id] <- $old :rm memory {id}}
{?[id] <- $old :rm memory_pending {id}}
{?[ws, path] <- [[$ws, $path]] :rm memory_code {ws, path}}
"#;

impl Memory {
    /// One round of keeping code chunks in step with the graph; true when there may be more to do.
    pub(crate) async fn refresh_code(&self) -> bool {
        if !self.settings.code {
            return false;
        }
        let store = self.store.clone();
        let n = params([("n", DataValue::from(FILES_PER_ROUND))]);
        let (changed, gone, roots) = match tokio::task::spawn_blocking(move || {
            (
                rows_or_log("finding changed files", store.read(CHANGED, n.clone())),
                rows_or_log("finding deleted files", store.read(GONE, n)),
                rows_or_log(
                    "reading workspace roots",
                    store.read(ROOTS, Default::default()),
                ),
            )
        })
        .await
        {
            Ok(r) => r,
            Err(_) => return false,
        };
        if changed.is_empty() && gone.is_empty() {
            return false;
        }
        let roots: HashMap<String, String> = roots
            .into_iter()
            .filter_map(|r| Some((r[0].get_str()?.to_owned(), r[1].get_str()?.to_owned())))
            .collect();
        for row in gone {
            let (Some(ws), Some(path)) = (row[0].get_str(), row[1].get_str()) else {
                continue;
            };
            let old = row[2].clone();
            let ids = ids_of(&old);
            let r = self
                .store
                .queue_write(
                    DROP_FILE,
                    params([
                        ("old", as_rows(&ids)),
                        ("ws", DataValue::from(ws)),
                        ("path", DataValue::from(path)),
                    ]),
                )
                .done()
                .await;
            match r {
                Ok(_) => self.unindex(&ids),
                Err(e) => tracing::error!("memory: dropping code chunks of {path} failed: {e}"),
            }
        }
        for row in changed {
            let (Some(ws), Some(path), Some(hash)) =
                (row[0].get_str(), row[1].get_str(), row[2].get_str())
            else {
                continue;
            };
            let Some(root) = roots.get(ws) else {
                // A workspace the registry forgot: nothing to link to; mark it done all the same.
                self.set_file(ws, path, hash, Vec::new(), Vec::new()).await;
                continue;
            };
            let items = self.chunks_of(ws, Path::new(root), path, hash);
            let old = rows_or_log(
                "reading old code chunks",
                self.store.read(
                    OLD_IDS,
                    params([("ws", DataValue::from(ws)), ("path", DataValue::from(path))]),
                ),
            )
            .first()
            .map(|r| ids_of(&r[0]))
            .unwrap_or_default();
            let ids = match self.remember(items).await {
                Ok((ids, _)) => ids,
                Err(e) => {
                    tracing::error!("memory: storing code chunks of {path} failed: {e}");
                    continue;
                }
            };
            // Chunks the new content still has (same text) keep their id and vector.
            let old: Vec<String> = old.into_iter().filter(|id| !ids.contains(id)).collect();
            self.set_file(ws, path, hash, ids, old).await;
        }
        true
    }

    async fn set_file(&self, ws: &str, path: &str, hash: &str, ids: Vec<String>, old: Vec<String>) {
        let r = self
            .store
            .queue_write(
                SET_FILE,
                params([
                    ("old", as_rows(&old)),
                    ("ws", DataValue::from(ws)),
                    ("path", DataValue::from(path)),
                    ("hash", DataValue::from(hash)),
                    (
                        "ids",
                        DataValue::List(ids.iter().map(|i| DataValue::from(i.as_str())).collect()),
                    ),
                ]),
            )
            .done()
            .await;
        match r {
            Ok(_) => self.unindex(&old),
            Err(e) => tracing::error!("memory: recording code chunks of {path} failed: {e}"),
        }
    }

    fn unindex(&self, ids: &[String]) {
        let mut index = self.index.lock().unwrap();
        for id in ids {
            index.remove(id);
        }
    }

    /// The chunks of one file's definitions (none when it cannot be read).
    fn chunks_of(&self, ws: &str, root: &Path, path: &str, hash: &str) -> Vec<NewMemory> {
        let symbols = rows_or_log(
            "reading symbols",
            self.store
                .read(SYMBOLS, params([("hash", DataValue::from(hash))])),
        );
        let full = root.join(path);
        let Ok(bytes) = std::fs::read(&full) else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        let at = maestro_store::unix_now();
        let mut out = Vec::new();
        for s in symbols {
            let [_, name, kind, owner, line, start, end, signature] = &s[..] else {
                continue;
            };
            let (Some(name), Some(kind)) = (name.get_str(), kind.get_str()) else {
                continue;
            };
            if !KINDS.contains(&kind) {
                continue;
            }
            // The graph's lines are zero-based; chunks and links use 1-based ones.
            let start = start.get_int().unwrap_or(0).max(0) as usize + 1;
            let line = line.get_int().map_or(start, |l| l.max(0) as usize + 1);
            let end = end
                .get_int()
                .map_or(start, |e| e.max(0) as usize + 1)
                .max(start);
            let qualified = match owner.get_str() {
                Some(o) if !o.is_empty() => format!("{o}::{name}"),
                _ => name.to_owned(),
            };
            out.push(NewMemory {
                ws: ws.to_owned(),
                kind: memory_kind::CODE,
                agent: String::new(),
                source: format!("file:{}:{line}", full.display()),
                at,
                text: chunk_text(
                    kind,
                    &qualified,
                    signature.get_str().unwrap_or(""),
                    path,
                    &lines,
                    start,
                    end,
                ),
            });
        }
        out
    }
}

/// `kind name (path)`, the signature, the comment right above and the first lines of the body.
fn chunk_text(
    kind: &str,
    name: &str,
    signature: &str,
    path: &str,
    lines: &[&str],
    start: usize,
    end: usize,
) -> String {
    let mut doc: Vec<&str> = Vec::new();
    let mut i = start.saturating_sub(1);
    while i > 0 && doc.len() < DOC_LINES {
        let line = lines.get(i - 1).map_or("", |l| l.trim());
        let comment = ["//", "#", "/*", "*", "--", "\"\"\"", "@"]
            .iter()
            .any(|p| line.starts_with(p));
        if !comment || line.is_empty() {
            break;
        }
        doc.push(line);
        i -= 1;
    }
    doc.reverse();
    let body_end = end.min(start + BODY_LINES - 1).min(lines.len());
    let body: Vec<&str> = lines
        .get(start.saturating_sub(1)..body_end)
        .unwrap_or_default()
        .iter()
        .map(|l| l.trim_end())
        .collect();
    let mut text = format!("{kind} {name} ({path})\n");
    if !signature.is_empty() {
        text.push_str(signature);
        text.push('\n');
    }
    for l in doc {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str(&body.join("\n"));
    text
}

fn ids_of(v: &DataValue) -> Vec<String> {
    match v {
        DataValue::List(l) => l
            .iter()
            .filter_map(|x| x.get_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn as_rows(ids: &[String]) -> DataValue {
    DataValue::List(
        ids.iter()
            .map(|i| DataValue::List(vec![DataValue::from(i.as_str())]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_has_the_name_the_comment_and_the_start_of_the_body() {
        let src = "use x;\n\n/// Retries a request,\n/// doubling the wait.\npub fn retry(n: u32) {\n    loop {}\n}\n";
        let lines: Vec<&str> = src.lines().collect();
        let t = chunk_text(
            "function",
            "retry",
            "pub fn retry(n: u32)",
            "src/a.rs",
            &lines,
            5,
            7,
        );
        assert_eq!(
            t,
            "function retry (src/a.rs)\npub fn retry(n: u32)\n/// Retries a request,\n/// doubling the wait.\npub fn retry(n: u32) {\n    loop {}\n}"
        );
    }
}
