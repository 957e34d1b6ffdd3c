//! maestro's memory: embedders ([`Embedder`], [`FastEmbedder`] on ONNX Runtime), the exact
//! in-process vector index, chunking, full-text query building and rank fusion, and the
//! [`service`] that keeps memories in the store with its background worker (the engine composes
//! it and routes requests to it).

mod embed;
mod index;
pub mod service;
mod text;

pub use embed::{
    DEFAULT_DIM, DEFAULT_MODEL, EmbedError, Embedder, FastEmbedder, MIN_ORT, MODEL_FILES,
    ModelPaths, normalize,
};
pub use index::{Hit, Meta, VectorIndex, dot, from_bytes, to_bytes};
pub use text::{Chunk, chunk, fts_query, recency, rrf};
