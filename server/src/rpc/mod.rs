//! JSON-RPC over byte streams: framing, and serving an engine session on a connection.

pub mod framing;
pub mod serve;
