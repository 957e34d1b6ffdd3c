//! maestro's memory, the parts that need no store: embedders ([`Embedder`], [`FastEmbedder`] on ONNX
//! Runtime), the exact in-process vector index, chunking, full-text query building and rank fusion.
//! The daemon (maestro-engine) keeps memories in the store and drives these.

mod embed;
mod index;
mod text;

pub use embed::{
    DEFAULT_DIM, DEFAULT_MODEL, EmbedError, Embedder, FastEmbedder, MIN_ORT, MODEL_FILES,
    ModelPaths, normalize,
};
pub use index::{Hit, Meta, VectorIndex, dot, from_bytes, to_bytes};
pub use text::{Chunk, chunk, fts_query, recency, rrf};
