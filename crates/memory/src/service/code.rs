//! Semantic code search: each definition of the code graph (functions, methods, types) becomes a
//! `code` memory, kept in step with the graph. `memory_code {ws, path => hash, ids}` records which
//! content each file's chunks were made from ([`FORMAT`], then the hash in base64); after an index pass the
//! worker compares it with the graph's `file` relation and redoes only the files whose content
//! changed, or whose chunks an older format made (and drops deleted files' chunks).
//!
//! A chunk is short on purpose — the model's cost grows with every token (and its working memory
//! with the longest text of a batch): about 40 tokens. First a line in words (`method init ll of lri
//! in cacheutils`: identifiers split at `_` and case changes, which both the model and the keyword
//! index read as words), then the signature, the comment right above (a few lines) and the first
//! lines of the body (a Python docstring is there), each cut to a readable length, until that part
//! has about [`CHUNK_BYTES`]; then a line of the words of the comment above and of the whole
//! definition that part does not have yet (identifiers split into words, comments' and strings'
//! words too; a language's keywords and numbers out), each once, in order, up to [`WORD_BYTES`]:
//! what the body calls and names is often the only trace of what it does when nothing documents
//! it. In the code_search bench this shape (with Python's protocol methods ranked a little lower,
//! search.rs) took recall@5 on the quality set's four PyPI packages from 0.74 to 0.76 and MRR from
//! 0.55 to 0.58 against 120 bytes of plain code, at the same cost on 400 stdlib modules; 64 words
//! found 0.78 but cost 60% more tokens on the stdlib's longer definitions, half the embedding rate
//! and 160 MB more daemon memory.

use super::{Memory, NewMemory, rows_or_log};
use maestro_protocol::memory_kind;
use maestro_store::{DataValue, params};
use std::collections::HashMap;
use std::path::Path;

/// Files looked at per worker round (the worker embeds between rounds).
const FILES_PER_ROUND: i64 = 100;
/// Non-empty lines of a definition's body kept in its chunk, comment lines above it, the characters
/// kept of each line, and the bytes after which no line is added (~25 tokens of code).
const BODY_LINES: usize = 4;
const DOC_LINES: usize = 4;
const LINE_CHARS: usize = 100;
const CHUNK_BYTES: usize = 80;
/// The bytes of the chunk's last line, the definition's words (~20 tokens).
const WORD_BYTES: usize = 80;
/// Longer words (hashes, encoded data) are left out of it.
const LONGEST_WORD: usize = 32;
/// Words of the languages' syntax, sorted, left out of that line (they say nothing of what code
/// does).
#[rustfmt::skip]
const SYNTAX_WORDS: [&str; 78] = [
    "abstract", "and", "as", "async", "await", "begin", "break", "case", "catch", "class", "const",
    "continue", "crate", "def", "default", "defer", "del", "do", "dyn", "elif", "else", "end",
    "enum", "except", "export", "extends", "extern", "false", "final", "finally", "fn", "for",
    "from", "func", "function", "go", "if", "impl", "implements", "import", "in", "interface", "is",
    "lambda", "let", "loop", "match", "mod", "mut", "new", "nil", "none", "not", "null", "or",
    "package", "pass", "private", "protected", "pub", "public", "raise", "ref", "return", "self",
    "static", "struct", "super", "this", "throw", "true", "try", "type", "use", "var", "where",
    "while", "yield",
];
/// The chunks' format: recorded before each file's hash, so that chunks an older format made are
/// made again (1 was `kind owner::name (path)`, the signature, 8 comment and 12 body lines; 2 had
/// 120 bytes of code and no line of the definition's words; 3 up to 64 of them).
const FORMAT: &str = "4:";
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

/// Files whose chunks are missing or stale: the stamp is the format and the content hash (its
/// bytes in base64), as recorded in `memory_code`.
const CHANGED: &str = r#"
?[ws, path, hash, stamp] := *file{ws, path, hash}, stamp = concat($format, encode_base64(hash)),
    not *memory_code{ws, path, hash: stamp}
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
        let mut changed_params = n.clone();
        changed_params.insert("format".into(), DataValue::from(FORMAT));
        let (changed, gone, roots) = match tokio::task::spawn_blocking(move || {
            (
                rows_or_log("finding changed files", store.read(CHANGED, changed_params)),
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
            let (Some(ws), Some(path), hash, Some(stamp)) = (
                row[0].get_str(),
                row[1].get_str(),
                row[2].clone(),
                row[3].get_str(),
            ) else {
                continue;
            };
            let Some(root) = roots.get(ws) else {
                // A workspace the registry forgot: nothing to link to; mark it done all the same.
                self.set_file(ws, path, stamp, Vec::new(), Vec::new()).await;
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
            let ids = match self.remember(&items).await {
                Ok((ids, _)) => {
                    // One memory per definition (never split), in order.
                    let mut index = self.code_words.lock().unwrap();
                    for (id, item) in ids.iter().zip(&items) {
                        index.insert(id, &item.ws, item.at, &item.text);
                    }
                    ids
                }
                Err(e) => {
                    tracing::error!("memory: storing code chunks of {path} failed: {e}");
                    continue;
                }
            };
            // Chunks the new content still has (same text) keep their id and vector.
            let old: Vec<String> = old.into_iter().filter(|id| !ids.contains(id)).collect();
            self.set_file(ws, path, stamp, ids, old).await;
        }
        true
    }

    async fn set_file(
        &self,
        ws: &str,
        path: &str,
        stamp: &str,
        ids: Vec<String>,
        old: Vec<String>,
    ) {
        let r = self
            .store
            .queue_write(
                SET_FILE,
                params([
                    ("old", as_rows(&old)),
                    ("ws", DataValue::from(ws)),
                    ("path", DataValue::from(path)),
                    ("hash", DataValue::from(stamp)),
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

    /// Takes `ids` out of the vector and keyword indexes (the store write is done).
    pub(super) fn unindex(&self, ids: &[String]) {
        let mut index = self.index.lock().unwrap();
        let mut words = self.code_words.lock().unwrap();
        for id in ids {
            index.remove(id);
            words.remove(id);
        }
    }

    /// The chunks of one file's definitions (none when it cannot be read).
    fn chunks_of(&self, ws: &str, root: &Path, path: &str, hash: DataValue) -> Vec<NewMemory> {
        let symbols = rows_or_log(
            "reading symbols",
            self.store.read(SYMBOLS, params([("hash", hash)])),
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
            let owner = owner.get_str().unwrap_or("");
            out.push(NewMemory {
                ws: ws.to_owned(),
                kind: memory_kind::CODE,
                agent: String::new(),
                source: format!("file:{}:{line}", full.display()),
                at,
                text: chunk_text(
                    Definition {
                        kind,
                        name,
                        owner,
                        signature: signature.get_str().unwrap_or(""),
                        path,
                        line,
                        start,
                        end,
                    },
                    &lines,
                ),
            });
        }
        out
    }
}

/// What a chunk is made from: a definition, its lines 1-based (`line` holds its name).
struct Definition<'a> {
    kind: &'a str,
    name: &'a str,
    owner: &'a str,
    signature: &'a str,
    path: &'a str,
    line: usize,
    start: usize,
    end: usize,
}

/// The chunk of a definition (the module documentation shows its shape).
fn chunk_text(d: Definition<'_>, lines: &[&str]) -> String {
    let mut text = format!("{} {}", d.kind, words(d.name));
    if !d.owner.is_empty() {
        text.push_str(" of ");
        text.push_str(&words(d.owner));
    }
    let module = module_of(d.path);
    if !module.is_empty() {
        text.push_str(" in ");
        text.push_str(&module);
    }
    text.push('\n');
    if !d.signature.is_empty() {
        text.push_str(cut(d.signature));
        text.push('\n');
    }
    let mut doc: Vec<&str> = Vec::new();
    let mut i = d.start.saturating_sub(1);
    while i > 0 && doc.len() < DOC_LINES {
        let line = lines.get(i - 1).map_or("", |l| l.trim());
        let comment = ["//", "#", "/*", "*", "--"]
            .iter()
            .any(|p| line.starts_with(p));
        if !comment || line.is_empty() {
            break;
        }
        doc.push(line);
        i -= 1;
    }
    doc.reverse();
    for l in doc.iter().copied() {
        if text.len() >= CHUNK_BYTES {
            break;
        }
        text.push_str(cut(l));
        text.push('\n');
    }
    // The body after the line with the name, without the signature's own lines again.
    let flat = d.signature.split_whitespace().collect::<Vec<_>>().join(" ");
    let body = lines
        .get(d.line.min(d.end)..d.end.min(lines.len()))
        .unwrap_or_default()
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .skip_while(|l| flat.contains(*l))
        .take(BODY_LINES);
    for l in body {
        if text.len() >= CHUNK_BYTES {
            break;
        }
        text.push_str(cut(l));
        text.push('\n');
    }
    // The last line stops at a word near the limit.
    if text.len() > CHUNK_BYTES + LINE_CHARS / 4 {
        let mut end = CHUNK_BYTES + LINE_CHARS / 4;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let end = text[..end].rfind([' ', '\n']).unwrap_or(end);
        text.truncate(end);
    }
    text.truncate(text.trim_end().len());
    let all = lines
        .get(d.start.saturating_sub(1)..d.end.min(lines.len()))
        .unwrap_or_default();
    let said = definition_words(doc.iter().chain(all), &text);
    if !said.is_empty() {
        text.push('\n');
        text.push_str(&said);
    }
    text
}

/// The words of a definition's lines that `known` does not have, each once in the order they
/// come, without the languages' syntax, numbers and long words, up to [`WORD_BYTES`].
fn definition_words<'l>(lines: impl Iterator<Item = &'l &'l str>, known: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    crate::keyword::each_word(known, |word| seen.push(word));
    let mut said = String::new();
    let mut full = false;
    for line in lines {
        crate::keyword::each_word(line, |word| {
            if full
                || word.chars().all(|c| c.is_ascii_digit())
                || word.len() > LONGEST_WORD
                || SYNTAX_WORDS.binary_search(&word.as_str()).is_ok()
                || seen.contains(&word)
            {
                return;
            }
            if said.len() + 1 + word.len() > WORD_BYTES {
                full = true;
                return;
            }
            if !said.is_empty() {
                said.push(' ');
            }
            said.push_str(&word);
            seen.push(word);
        });
        if full {
            break;
        }
    }
    said
}

/// Whether a chunk is of a Python protocol method (`__init__`, `__len__`, …: its signature line
/// defines a `__name__`). A quarter of a Python package's definitions are such methods, few of them
/// what a search means (their class is, and is listed too): search ranks them a little lower.
pub(super) fn protocol_method(chunk: &str) -> bool {
    let Some(signature) = chunk.lines().nth(1) else {
        return false;
    };
    let Some(rest) = signature
        .strip_prefix("def __")
        .or_else(|| signature.strip_prefix("async def __"))
    else {
        return false;
    };
    rest.split_once('(').is_some_and(|(name, _)| {
        name.len() > 2
            && name.ends_with("__")
            && name.chars().all(|c| c == '_' || c.is_alphanumeric())
    })
}

/// `line` cut to [`LINE_CHARS`] characters.
fn cut(line: &str) -> &str {
    line.char_indices()
        .nth(LINE_CHARS)
        .map_or(line, |(i, _)| &line[..i])
}

/// An identifier as lowercase words: `parse_HTTPResponse2` → `parse http response 2`.
fn words(ident: &str) -> String {
    let mut out = String::new();
    crate::keyword::each_word(ident, |word| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    });
    out
}

/// The module a path names, in words: its file's stem, or its directory's name for the files that
/// stand for their directory (`mod.rs`, `__init__.py`, `index.ts`, …; a `src` directory stands for
/// the one above it).
fn module_of(path: &str) -> String {
    let p = Path::new(path);
    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let stem = match stem {
        "mod" | "lib" | "main" | "__init__" | "index" => p
            .ancestors()
            .skip(1)
            .filter_map(|d| d.file_name()?.to_str())
            .find(|d| *d != "src")
            .unwrap_or(stem),
        _ => stem,
    };
    words(stem)
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
    fn a_chunk_has_the_name_in_words_the_comment_and_the_start_of_the_body() {
        let src = "use x;\n\n/// Retries a request,\n/// doubling the wait.\npub fn retry_HTTPRequest(\n    n: u32,\n) {\n\n    loop {}\n}\n";
        let lines: Vec<&str> = src.lines().collect();
        let t = chunk_text(
            Definition {
                kind: "method",
                name: "retry_HTTPRequest",
                owner: "Client",
                signature: "pub fn retry_HTTPRequest( n: u32, )",
                path: "src/net/mod.rs",
                line: 5,
                start: 5,
                end: 10,
            },
            &lines,
        );
        assert_eq!(
            t,
            "method retry http request of client in net\npub fn retry_HTTPRequest( n: u32, )\n/// Retries a request,\ndoubling the wait"
        );
    }

    #[test]
    fn long_bodies_and_lines_are_cut() {
        let long = format!("    x = {}", "y".repeat(300));
        let mut src = vec!["def f():"];
        src.extend(std::iter::repeat_n(long.as_str(), 20));
        let t = chunk_text(
            Definition {
                kind: "function",
                name: "f",
                owner: "",
                signature: "def f()",
                path: "pkg/__init__.py",
                line: 1,
                start: 1,
                end: 21,
            },
            &src,
        );
        // No line of words: the 300 y's are no word, and `f` and `x` are said already.
        assert_eq!(t.lines().count(), 2 + 1, "{t}");
        assert!(t.len() <= CHUNK_BYTES + LINE_CHARS / 4, "{}", t.len());
        assert!(t.lines().all(|l| l.chars().count() <= LINE_CHARS));
        assert!(t.starts_with("function f in pkg\n"), "{t}");
    }

    #[test]
    fn the_words_of_a_definition_come_once_in_order_without_syntax() {
        let src = [
            "def first_item(items, default=None):",
            "    # Gives back the first item, else the default.",
            "    for item in items:",
            "        return item",
            "    raise ValueError('empty items: 0x1f2e')",
        ];
        assert_eq!(
            definition_words(src.iter(), ""),
            "first item items gives back the value error empty x f e"
        );
        // What the chunk says already is not said again.
        assert_eq!(
            definition_words(src.iter(), "function first item\ndef first_item(items)"),
            "gives back the value error empty x f e"
        );
        let letter = |i: u8| char::from(b'a' + i);
        let many: Vec<String> = (0..100u8)
            .map(|i| format!("w{}{}", letter(i / 26), letter(i % 26)))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let said = definition_words(many.iter(), "");
        assert!(
            said.len() <= WORD_BYTES && said.len() > WORD_BYTES - 4,
            "{said}"
        );
        assert!(said.starts_with("waa wab "), "{said}");
        assert!(SYNTAX_WORDS.is_sorted());
    }

    #[test]
    fn python_protocol_methods_are_told_by_their_signature() {
        assert!(protocol_method(
            "method init of peekable in more\ndef __init__(self, iterable)\nx"
        ));
        assert!(protocol_method(
            "method aenter of pool in io\nasync def __aenter__(self)"
        ));
        for other in [
            "function init in more\ndef _init_(self)",
            "function dunder in more\ndef __private(self)",
            "method init of x\nfn __init__(self)",
            "method init of x",
            "def __init__(self)",
        ] {
            assert!(!protocol_method(other), "{other}");
        }
    }

    #[test]
    fn identifiers_become_words() {
        assert_eq!(words("parse_HTTPResponse2"), "parse http response 2");
        assert_eq!(words("_init_ll"), "init ll");
        assert_eq!(words("LRI"), "lri");
        assert_eq!(words("getX"), "get x");
        assert_eq!(words("größe_Maß"), "größe maß");
        assert_eq!(module_of("a/b/cache_utils.py"), "cache utils");
        assert_eq!(module_of("crates/x/src/lib.rs"), "x");
        assert_eq!(module_of("main.go"), "main");
    }
}
