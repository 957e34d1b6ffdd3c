//! One connection's state as the engine keeps it: who said hello, its open documents, the
//! workspaces it opened, whether it listens to events. The engine lists them for `maestro status`;
//! a `Session` (session.rs) is the handle that answers the connection's messages.

use crate::document::Document;
use maestro_protocol::{CallerAgent, HelloParams, PositionEncoding, SessionStatus};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;
use tokio::sync::watch;

pub(crate) struct SessionState {
    pub(crate) id: u64,
    pub(crate) connected_at: Instant,
    pub(crate) hello: OnceLock<HelloParams>,
    pub(crate) documents: Mutex<HashMap<String, Document>>,
    pub(crate) workspaces: Mutex<BTreeSet<String>>,
    pub(crate) subscribed: AtomicBool,
    /// Becomes true when the session ends, stopping its event forwarder.
    pub(crate) ended: watch::Sender<bool>,
    /// The process at the other end of the socket, when the system says.
    pub(crate) peer: Option<u32>,
    /// The agent this connection speaks for, decided at hello; else it is the person's.
    pub(crate) agent: OnceLock<CallerAgent>,
}

impl SessionState {
    pub(crate) fn new(id: u64, peer: Option<u32>) -> SessionState {
        SessionState {
            peer,
            agent: OnceLock::new(),
            id,
            connected_at: Instant::now(),
            hello: OnceLock::new(),
            documents: Mutex::default(),
            workspaces: Mutex::default(),
            subscribed: AtomicBool::new(false),
            ended: watch::channel(false).0,
        }
    }

    pub(crate) fn status(&self) -> SessionStatus {
        let client = self
            .hello
            .get()
            .map(|h| h.client.clone())
            .unwrap_or_else(|| maestro_protocol::ClientInfo {
                name: "(no hello yet)".into(),
                version: None,
                kind: maestro_protocol::ClientKind::Other,
                pid: None,
            });
        SessionStatus {
            session_id: self.id,
            client,
            connected_secs: self.connected_at.elapsed().as_secs_f64(),
            documents: self.documents.lock().unwrap().len(),
            workspaces: self.workspaces.lock().unwrap().iter().cloned().collect(),
        }
    }

    pub(crate) fn encoding(&self) -> PositionEncoding {
        self.hello
            .get()
            .map(|h| h.position_encoding)
            .unwrap_or_default()
    }
}
