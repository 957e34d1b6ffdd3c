//! The engine: composes the store, the graph, agents, playbook and memory crates into one
//! service, and implements the daemon RPC vocabulary of `maestro-protocol` over it. The daemon, the
//! standalone LSP and the tests all drive it through [`Engine::connect`] and [`Session`].
//!
//! Requests go through one table (`requests.rs`): each method of `maestro_protocol::rpc` with the
//! handler that takes its params type and answers its result type. The composition root is
//! `engine/` (with `hosts.rs`, how the services see it); it imports none of the handlers.
//!
//! Architecture invariant: no transport and no LSP library here; the engine sees methods by name
//! with their typed params, and the only I/O it does itself is the store's, reading config files, workspace
//! roots and the playbooks an editor asks about; the services it composes do theirs (playbook runs
//! write checkboxes and per-loop copies; memory reads the model's files, indexed sources and
//! transcripts a person asked to import).

mod agent_requests;
mod agent_settings;
mod attention_requests;
mod caller;
mod chat_requests;
pub mod code_graph;
pub mod config;
mod connection;
mod delegate;
pub mod document;
mod engine;
mod graph_requests;
mod indexing;
mod memory_requests;
mod mesh_requests;
mod message_requests;
pub mod paths;
mod playbook_requests;
mod portable_requests;
mod requests;
mod session;
pub mod text;
mod trim;
pub mod trust;
mod trust_requests;
pub mod workspace;

pub use config::{Config, ConfigError};
pub use engine::{
    Activity, Engine, EngineError, EngineOptions, HostInfo, Progress, StoreLocation, WorkGuard,
};
pub use graph_requests::REPLY_LIMIT;
pub use mesh_requests::{start_mesh, stop_mesh};
pub use paths::Paths;
pub use session::{Reply, Session};
pub use trim::{give_back_memory, give_back_memory_soon};

#[cfg(test)]
mod tests;
