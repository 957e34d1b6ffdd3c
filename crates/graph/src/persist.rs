//! The graph's relations in the store (schema version 2):
//!
//! - `file {ws, path => hash, lang, size, mtime_ns}`, index `file:by_hash {hash, ws, path}`
//! - `content {hash => lang, facts, symbols, refs, imports, parse_errors}`: all facts of a content
//!   as one blob ([`crate::codec`]); loading a workspace reads these.
//! - `symbol {hash, idx => name, kind, container?, owner?, line, col, start_line, end_line, signature}`
//! - `reference {hash, idx => name, kind, qualifier?, enclosing?, line, col}`: calls, macros, types,
//!   inheritance, implementations and imports. Field accesses and plain reads are in the blob only:
//!   writing and reading every one of them as a row would double indexing time.
//! - `import {hash, idx => module, name?, alias?, line}`
//!
//! `idx` is the position in the content's facts, so `reference.enclosing` and `symbol.container`
//! point at `symbol.idx` of the same hash. Facts are keyed by content hash, so worktrees and copies
//! share them; `file` maps each workspace's paths to hashes. Every query binds its key before the
//! stored atom (a prefix scan); `tests::hot_queries_scan_by_key` checks the plans.

use crate::codec;
use crate::facts::{FileFacts, RefKind};
use crate::lang::Lang;
use crate::workspace::{ContentHash, FileMeta, hash_hex};
use maestro_store::{DataValue, NamedRows, Params, Store, StoreError, WriteTicket};
use std::collections::HashMap;
use std::path::PathBuf;

pub const FILES_OF_WORKSPACE: &str =
    "?[path, hash, lang, size, mtime_ns] := *file{ws: $ws, path, hash, lang, size, mtime_ns}";
pub const FACTS_OF_HASHES: &str = "?[hash, facts] := hash in $hashes, *content{hash, facts}";

/// Facts of contents no file refers to any more, in one transaction.
pub const COLLECT_GARBAGE: &str = r#"
{?[hash] := hash in $hashes, not *file:by_hash{hash} :replace _gone {hash}}
{?[hash, idx] := *_gone{hash}, *symbol{hash, idx} :rm symbol {hash, idx}}
{?[hash, idx] := *_gone{hash}, *reference{hash, idx} :rm reference {hash, idx}}
{?[hash, idx] := *_gone{hash}, *import{hash, idx} :rm import {hash, idx}}
{?[hash] := *_gone{hash}, *content{hash} :rm content {hash}}
"#;

/// Every content no file refers to (a full pass, after a crash between writes).
pub const ORPHAN_CONTENTS: &str = "?[hash] := *content{hash}, not *file:by_hash{hash}";

/// How a workspace's files looked when last indexed.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub path: PathBuf,
    pub hash: ContentHash,
    pub lang: Lang,
    pub meta: FileMeta,
}

fn ws_params(ws: &str) -> Params {
    Params::from([("ws".to_owned(), DataValue::from(ws))])
}

fn hashes_params(hashes: &[ContentHash]) -> Params {
    let list = hashes.iter().map(|h| hash_value(*h)).collect();
    Params::from([("hashes".to_owned(), DataValue::List(list))])
}

fn bad(what: &str, row: &[DataValue]) -> StoreError {
    StoreError::Decode {
        detail: format!("{what} row {row:?}"),
    }
}

/// A content hash as stored: its 16 bytes, big-endian (keys sort as the hashes do).
fn hash_value(hash: ContentHash) -> DataValue {
    DataValue::Bytes(hash.to_be_bytes().to_vec())
}

fn hash_at(row: &[DataValue], i: usize) -> Option<ContentHash> {
    let DataValue::Bytes(b) = row.get(i)? else {
        return None;
    };
    Some(ContentHash::from_be_bytes(b.as_slice().try_into().ok()?))
}

/// The files of a workspace as stored.
pub fn stored_files(store: &Store, ws: &str) -> Result<Vec<StoredFile>, StoreError> {
    let rows = store.read(FILES_OF_WORKSPACE, ws_params(ws))?;
    rows.rows
        .iter()
        .map(|r| {
            let decode = || -> Option<StoredFile> {
                Some(StoredFile {
                    path: PathBuf::from(r.first()?.get_str()?),
                    hash: hash_at(r, 1)?,
                    lang: Lang::from_name(r.get(2)?.get_str()?)?,
                    meta: FileMeta {
                        size: r.get(3)?.get_int()? as u64,
                        mtime_ns: r.get(4)?.get_int()?,
                    },
                })
            };
            decode().ok_or_else(|| bad("file", r))
        })
        .collect()
}

/// The facts of these contents, where stored.
pub fn facts_of_hashes(
    store: &Store,
    hashes: &[ContentHash],
) -> Result<HashMap<ContentHash, FileFacts>, StoreError> {
    if hashes.is_empty() {
        return Ok(HashMap::new());
    }
    decode_blobs(store.read(FACTS_OF_HASHES, hashes_params(hashes))?)
}

/// A blob that does not decode (a damaged store, or one an earlier maestro wrote in another
/// version) is left out, and logged once per read: its file is parsed again.
fn decode_blobs(rows: NamedRows) -> Result<HashMap<ContentHash, FileFacts>, StoreError> {
    let mut out = HashMap::with_capacity(rows.rows.len());
    let mut failed: Option<(usize, ContentHash, codec::DecodeError)> = None;
    for r in &rows.rows {
        let (Some(hash), Some(DataValue::Bytes(blob))) = (hash_at(r, 0), r.get(1)) else {
            return Err(bad("content", r));
        };
        match codec::decode(blob) {
            Ok(facts) => {
                out.insert(hash, facts);
            }
            Err(e) => match &mut failed {
                Some((n, _, _)) => *n += 1,
                None => failed = Some((1, hash, e)),
            },
        }
    }
    if let Some((n, hash, e)) = failed {
        tracing::warn!(
            "{n} stored facts did not decode (the first, {}: {e}); their files will be parsed again",
            hash_hex(hash)
        );
    }
    Ok(out)
}

/// Rows to write in one transaction.
#[derive(Default)]
pub struct Batch {
    content: Vec<Vec<DataValue>>,
    symbols: Vec<Vec<DataValue>>,
    references: Vec<Vec<DataValue>>,
    imports: Vec<Vec<DataValue>>,
    files: Vec<Vec<DataValue>>,
    removed_files: Vec<Vec<DataValue>>,
}

fn opt<T: Into<DataValue>>(v: Option<T>) -> DataValue {
    v.map_or(DataValue::Null, Into::into)
}

fn int_of(v: u32) -> DataValue {
    DataValue::from(i64::from(v))
}

/// Reference kinds kept as rows; the others live in the blob only.
fn is_edge(kind: RefKind) -> bool {
    !matches!(kind, RefKind::Field | RefKind::Read)
}

impl Batch {
    /// Rows pending: the measure for flushing.
    pub fn len(&self) -> usize {
        self.content.len()
            + self.symbols.len()
            + self.references.len()
            + self.imports.len()
            + self.files.len()
            + self.removed_files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores the facts of a content not stored yet.
    pub fn add_content(&mut self, hash: ContentHash, facts: &FileFacts) {
        let h = hash_value(hash);
        self.content.push(vec![
            h.clone(),
            DataValue::from(facts.lang.name()),
            DataValue::Bytes(codec::encode(facts)),
            DataValue::from(facts.symbols.len() as i64),
            DataValue::from(facts.references.len() as i64),
            DataValue::from(facts.imports.len() as i64),
            int_of(facts.parse_errors),
        ]);
        for (i, s) in facts.symbols.iter().enumerate() {
            self.symbols.push(vec![
                h.clone(),
                DataValue::from(i as i64),
                DataValue::from(s.name.as_str()),
                DataValue::from(s.kind.name()),
                opt(s.container.map(i64::from)),
                opt(s.owner.as_deref()),
                int_of(s.name_span.start.line),
                int_of(s.name_span.start.col),
                int_of(s.span.start.line),
                int_of(s.span.end.line),
                DataValue::from(&*s.signature),
            ]);
        }
        for (i, r) in facts
            .references
            .iter()
            .enumerate()
            .filter(|(_, r)| is_edge(r.kind))
        {
            self.references.push(vec![
                h.clone(),
                DataValue::from(i as i64),
                DataValue::from(r.name.as_str()),
                DataValue::from(r.kind.name()),
                opt(r.qualifier.as_deref()),
                opt(r.enclosing().map(i64::from)),
                int_of(r.span().start.line),
                int_of(r.span().start.col),
            ]);
        }
        for (i, im) in facts.imports.iter().enumerate() {
            self.imports.push(vec![
                h.clone(),
                DataValue::from(i as i64),
                DataValue::from(im.module.as_str()),
                opt(im.name.as_deref()),
                opt(im.alias.as_deref()),
                int_of(im.line),
            ]);
        }
    }

    /// Records a file of a workspace (new or changed).
    pub fn put_file(
        &mut self,
        ws: &str,
        path: &std::path::Path,
        hash: ContentHash,
        lang: Lang,
        meta: FileMeta,
    ) {
        self.files.push(vec![
            DataValue::from(ws),
            DataValue::from(path.to_string_lossy().as_ref()),
            hash_value(hash),
            DataValue::from(lang.name()),
            DataValue::from(meta.size as i64),
            DataValue::from(meta.mtime_ns),
        ]);
    }

    pub fn remove_file(&mut self, ws: &str, path: &std::path::Path) {
        self.removed_files.push(vec![
            DataValue::from(ws),
            DataValue::from(path.to_string_lossy().as_ref()),
        ]);
    }

    /// Queues the batch on the store's writer, as one transaction.
    pub fn write(self, store: &Store) -> WriteTicket<()> {
        let named = |headers: &[&str], rows: Vec<Vec<DataValue>>| {
            NamedRows::new(headers.iter().map(|h| (*h).to_owned()).collect(), rows)
        };
        let mut relations: Vec<(&'static str, NamedRows)> = Vec::new();
        let mut add = |name: &'static str, headers: &[&str], rows: Vec<Vec<DataValue>>| {
            if !rows.is_empty() {
                relations.push((name, named(headers, rows)));
            }
        };
        add(
            "content",
            &[
                "hash",
                "lang",
                "facts",
                "symbols",
                "refs",
                "imports",
                "parse_errors",
            ],
            self.content,
        );
        add(
            "symbol",
            &[
                "hash",
                "idx",
                "name",
                "kind",
                "container",
                "owner",
                "line",
                "col",
                "start_line",
                "end_line",
                "signature",
            ],
            self.symbols,
        );
        add(
            "reference",
            &[
                "hash",
                "idx",
                "name",
                "kind",
                "qualifier",
                "enclosing",
                "line",
                "col",
            ],
            self.references,
        );
        add(
            "import",
            &["hash", "idx", "module", "name", "alias", "line"],
            self.imports,
        );
        add(
            "file",
            &["ws", "path", "hash", "lang", "size", "mtime_ns"],
            self.files,
        );
        add("-file", &["ws", "path"], self.removed_files);
        store.queue_import(relations)
    }
}

/// Drops the facts of those contents that no file refers to any more.
pub fn collect_garbage(store: &Store, candidates: &[ContentHash]) -> WriteTicket<NamedRows> {
    store.queue_write(COLLECT_GARBAGE, hashes_params(candidates))
}

/// Contents no file refers to, left by an interrupted run.
pub fn orphan_contents(store: &Store) -> Result<Vec<ContentHash>, StoreError> {
    let rows = store.read(ORPHAN_CONTENTS, Params::new())?;
    Ok(rows.rows.iter().filter_map(|r| hash_at(r, 0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract;

    fn sample() -> FileFacts {
        extract(
            Lang::Python,
            b"import os\nfrom a import b as c\n\nclass K(Base):\n    \"\"\"Doc.\"\"\"\n    def m(self):\n        os.path.join(c())\n",
        )
    }

    #[test]
    fn facts_round_trip_through_the_store_and_garbage_is_collected() {
        let store = Store::open_in_memory().unwrap();
        let facts = sample();
        let hash = crate::workspace::content_hash(Lang::Python, b"x");
        let mut batch = Batch::default();
        batch.add_content(hash, &facts);
        batch.put_file(
            "w1",
            std::path::Path::new("pkg/k.py"),
            hash,
            Lang::Python,
            FileMeta {
                size: 1,
                mtime_ns: 2,
            },
        );
        batch.put_file(
            "w2",
            std::path::Path::new("copy/k.py"),
            hash,
            Lang::Python,
            FileMeta {
                size: 1,
                mtime_ns: 3,
            },
        );
        batch.write(&store).wait().unwrap();

        let edges = store
            .query_read_only("?[name, kind] := *reference{name, kind}", Params::new())
            .unwrap();
        let kinds: Vec<&str> = edges.rows.iter().map(|r| r[1].get_str().unwrap()).collect();
        assert!(
            kinds.contains(&"call") && !kinds.contains(&"field") && !kinds.contains(&"read"),
            "{kinds:?}"
        );
        let files = stored_files(&store, "w1").unwrap();
        assert_eq!(
            (files.len(), files[0].hash, files[0].meta.mtime_ns),
            (1, hash, 2)
        );
        assert_eq!(
            facts_of_hashes(&store, &[hash]).unwrap().get(&hash),
            Some(&facts)
        );

        // Still used by w2: kept. Then unused: gone.
        let mut batch = Batch::default();
        batch.remove_file("w1", std::path::Path::new("pkg/k.py"));
        batch.write(&store).wait().unwrap();
        collect_garbage(&store, &[hash]).wait().unwrap();
        assert!(
            facts_of_hashes(&store, &[hash])
                .unwrap()
                .contains_key(&hash)
        );
        let mut batch = Batch::default();
        batch.remove_file("w2", std::path::Path::new("copy/k.py"));
        batch.write(&store).wait().unwrap();
        assert_eq!(orphan_contents(&store).unwrap(), [hash]);
        collect_garbage(&store, &[hash]).wait().unwrap();
        assert!(facts_of_hashes(&store, &[hash]).unwrap().is_empty());
        for relation in [
            "?[count(idx)] := *symbol{idx}",
            "?[count(idx)] := *reference{idx}",
            "?[count(idx)] := *import{idx}",
        ] {
            let count = store.query_read_only(relation, Params::new()).unwrap();
            assert_eq!(count.rows[0][0].get_int(), Some(0), "{relation}");
        }
    }

    /// Whether every join of a plan is bound on a key prefix; the offending step otherwise.
    fn keyed(explain: &NamedRows) -> Result<(), String> {
        let joins: Vec<&Vec<DataValue>> = explain
            .rows
            .iter()
            .filter(|r| {
                r.get(4)
                    .and_then(|op| op.get_str())
                    .is_some_and(|op| op.contains("join"))
            })
            .collect();
        if joins.is_empty() {
            return Err(format!("no join in {:?}", explain.rows));
        }
        for j in joins {
            let op = j[4].get_str().unwrap_or_default();
            let bound =
                !matches!(&j[6], DataValue::Null) && !format!("{:?}", j[6]).contains("Object {}");
            if !op.contains("prefix") || !bound {
                return Err(format!(
                    "{op} on {:?} scans the relation: {:?}",
                    j[6], explain.rows
                ));
            }
        }
        Ok(())
    }

    #[test]
    fn hot_queries_scan_by_key() {
        let store = Store::open_in_memory().unwrap();
        let hashes = hashes_params(&[1, 2]);
        let plans: [(&str, &'static str, Params); 3] = [
            ("files", FILES_OF_WORKSPACE, ws_params("w")),
            ("facts by hash", FACTS_OF_HASHES, hashes.clone()),
            (
                "garbage",
                "?[hash] := hash in $hashes, not *file:by_hash{hash}",
                hashes.clone(),
            ),
        ];
        for (what, script, params) in plans {
            if let Err(e) = keyed(&store.explain(script, params).unwrap()) {
                panic!("{what}: {e}");
            }
        }
        // The check catches the slow form: filtering after the atom.
        let slow = store
            .explain("?[path] := *file{ws, path}, ws = $ws", ws_params("w"))
            .unwrap();
        assert!(keyed(&slow).is_err(), "{:?}", slow.rows);
    }
}
