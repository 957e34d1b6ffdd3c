//! The code graph: per-file facts extracted with tree-sitter (`extract`), the in-memory graph that
//! resolves names across files at query time (`workspace`, `resolve`, `query`), the indexer and its
//! store relations (`indexer`, `persist`, `codec`).
//!
//! Architecture invariant: extraction is a pure function of (language, bytes); the queries that drive
//! it are the project's own (`grammars/<lang>/*.scm`), each compiled against its grammar in a test.

pub mod codec;
pub mod extract;
pub mod facts;
pub mod indexer;
pub mod lang;
pub mod persist;
pub mod query;
pub mod resolve;
pub mod scope;
pub mod workspace;

pub use extract::{Analysis, analyze, extract, extract_tree, parse};
pub use facts::{FileFacts, Import, Pos, RefKind, Reference, Span, Symbol, SymbolKind};
pub use lang::Lang;
pub use query::{Calls, Current, Hover, Location, Site};
pub use resolve::{FileRef, Overlay, SymRef, Target, View};
pub use workspace::{ContentHash, FileEntry, FileId, FileMeta, WorkspaceGraph, content_hash};
