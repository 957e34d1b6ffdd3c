//! The code graph: per-file facts extracted with tree-sitter (`extract`), the in-memory graph that
//! resolves names across files at query time (`workspace`, `resolve`, `query`), the indexer and its
//! store relations (`indexer`, `persist`, `codec`).
//!
//! Architecture invariant: extraction is a pure function of (language, bytes); the queries that drive
//! it are the project's own (`grammars/<lang>/*.scm`), each compiled against its grammar in a test.
//!
//! ## How it behaves
//!
//! The code graph, from source bytes to answers. No async, no transport, no LSP types: positions are
//! 0-based lines and byte columns, and the engine converts them.
//!
//! * `lang`: the languages (Rust, Python, TypeScript, TSX, JavaScript with JSX, Go, Java, C, C++, Ruby, C#), their grammar crates
//!   (one `tree-sitter` core version in the lock) and the project's queries `grammars/<lang>/tags.scm` and
//!   `locals.scm`, included at build time and compiled once per process as one combined query (one pass
//!   over the tree instead of two). JavaScript and TypeScript load the patterns both grammars share (`grammars/ecmascript`) and then
//!   their own; TSX is the TypeScript queries plus `grammars/jsx`.
//! * `extract`: `extract(lang, bytes) → FileFacts` is a pure function. Capture names follow the tree-sitter
//!   tags conventions (`@definition.<kind>`, `@reference.<kind>`, `@name`, `@doc`) plus ours
//!   (`@reference.import` with `@module`/`@name`/`@alias`, `@qualifier`, `@receiver`, `@ignore`); a test
//!   rejects any other capture. Extraction deduplicates overlapping matches, finds each symbol's container
//!   and owner type (a Rust `impl`, a Go receiver, a class), re-parents `self.x = …` fields to their class,
//!   expands Rust `use` trees, and drops uses of local variables (resolved with `locals.scm`, which is not
//!   stored). Trees with syntax errors still give the facts of their valid parts.
//! * `codec`: a compact, versioned binary form of `FileFacts` (varints, a per-file string table). Decoding
//!   checks every bound: a damaged blob is an error, never a panic; a blob of another version is
//!   parsed again. Facts list the lines holding non-ASCII bytes, so converting a position to UTF-16
//!   needs the file's text only on those lines.
//! * `name`: interned names. Symbol and reference names, owners and qualifiers are `Name`s, 4-byte
//!   handles into one process-wide table (read without a lock), so the cargo registry's 3.8M
//!   references cost 24 bytes each and no allocation; a reference keeps where its name starts, the
//!   end is the name's length further. Indexes by name hash ids, not strings.
//! * `workspace`: `WorkspaceGraph`, the in-memory graph of one workspace: files by relative path with their
//!   facts (`Arc`, shared between workspaces through `ContentCache`), and indexes by name, by directory and
//!   by module stem. Updated per file (`upsert`, `remove`). The distinct symbol names are also kept
//!   packed in one buffer, rebuilt on first use after a change, so a fuzzy search scans contiguous
//!   memory.
//! * `resolve`: name resolution at query time (per-file facts, global resolution on demand, as stack graphs
//!   do). A `View` is the workspace graph with overlays on top (the editor's unsaved buffers). Tiers, the
//!   first with a candidate wins: local scope (for the asked file) > same file > imported module >
//!   members of the enclosing type > same directory/package > workspace. The last two apply to a bare
//!   name only where the language makes names visible there: Go's and Java's package (same
//!   directory; Java's `import a.b.*` adds that package's classes), C's, C++'s, Ruby's and C#'s one namespace, Rust's
//!   macros, TypeScript's ambient `.d.ts` declarations, or a name some import binds from a module that
//!   is not in the workspace (or behind a glob import that could not be followed). Otherwise a bare
//!   name missing from the file and its imports is a builtin or a global (`len`, `Promise`) and
//!   resolves to nothing, so `references` of a workspace function called `len` leaves the builtin's
//!   calls out. Qualified names go through the receiver: `self`/`this`/`super` to the enclosing type
//!   and its supertypes, an imported module to its files, a type to its members (then its supertypes'
//!   members), a submodule of an imported module to its files, anything else to members of that name,
//!   nearest first. In C and C++ an `#include`'s path is the header it names (the includer's
//!   neighbour, else a workspace file whose path ends with it), and a plain type name that a
//!   `typedef` and a `struct`/`enum` tag share is the typedef (after `struct` it is the tag).
//!   A name after a receiver (`self.x`, `this.x`) is never a local variable; a segment
//!   of a Python import's module path is that module; a TypeScript overload signature is defined by
//!   its implementation. A `View` lives for one question and remembers its module lookups, ranked
//!   members and supertypes, so a `references` that resolves thousands of uses does each once per
//!   file; uses with the same inputs (file, qualifier, kind, enclosing symbol) are resolved once.
//! * `query`: definition, references (with or without the declaration), highlights, hover (signature, doc,
//!   caller and callee counts), symbols at a position, incoming and outgoing calls (call references grouped
//!   by their enclosing symbol), fuzzy workspace symbols (subsequence match, ranked by match quality, then
//!   kind, then path; bounded).
//! * `persist`: the rows above, their load (a workspace's `file` rows, then their `content` blobs
//!   a page of 512 at a time, so a large repository's blobs are never all in memory at once) and the
//!   removal of contents no file points at any more. Every hot script binds its key before the stored atom
//!   (a prefix scan, not a full scan); `persist::tests::hot_queries_scan_by_key` checks the plans with
//!   `::explain`, so a plan regression fails a test.
//! * `indexer`: discovery with `ignore` (gitignore-aware, parallel; hidden paths and `node_modules`
//!   skipped), the change check (size and mtime against the graph), then worker threads read each changed
//!   file, skip binary (NUL bytes), minified (long average lines) and over-size files with the reason, hash
//!   the bytes, and reuse facts known in memory or in the store before parsing; a file whose facts
//!   pass 200,000 symbols and references (`max_file_facts`: generated tables) is skipped with its
//!   counts, so one file adds a bounded amount to the graph. The graph is updated and
//!   rows are queued on the store's writer in batches of 20,000 rows behind the parsing; a pass ends with
//!   the removal of contents nothing points at.
//!
//! **Architecture invariant:** extraction is a pure function of (language, bytes); facts are keyed by
//! content hash; resolution happens at query time and is never stored. **API boundary:** `extract`,
//! `analyze`, `Lang`, `WorkspaceGraph`, `View`/`Overlay`, the query methods, `indexer::{load, index}`,
//! `ContentCache`.

pub mod codec;
pub mod cond;
pub mod extract;
pub mod facts;
pub mod grammar;
pub mod indexer;
pub mod lang;
pub mod name;
pub mod persist;
pub mod query;
pub mod resolve;
pub mod scope;
pub mod workspace;

pub use extract::{
    Analysis, Previous, Reuse, Units, analyze, analyze_incremental, extract, extract_tree, parse,
};
pub use facts::{FileFacts, Import, Pos, RefKind, Reference, Span, Symbol, SymbolKind};
pub use lang::Lang;
pub use name::Name;
pub use query::{Calls, Current, Hover, Location, Site};
pub use resolve::{FileRef, Overlay, SymRef, Target, View};
pub use workspace::{ContentHash, FileEntry, FileId, FileMeta, WorkspaceGraph, content_hash};
