//! End-to-end tests: the real `maestro` binary over stdio and its socket, a temporary MAESTRO_HOME
//! per test, real git repositories.

mod agents;
mod bad_input;
mod chat;
mod cli;
mod daemon;
mod editors;
mod edits;
mod floods;
mod graph;
mod lsp;
mod memory;
mod mesh;
mod messages;
mod playbooks;
mod portable;
mod real_agents;
mod store;
