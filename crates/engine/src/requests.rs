//! The method table: every request of `maestro_protocol::rpc`, with the function that answers it.
//! A handler takes the method's params type and answers its result type, now or later; params are
//! read (with the error naming the offending field) and results written here, once.

use crate::session::{Answer, Reply, Session, now, ok};
use futures::FutureExt;
use maestro_protocol::rpc::{self, Method};
use maestro_protocol::{RpcError, code, method, parse_params};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The handler of method `M`.
pub(crate) type Handler<M> = fn(&Session, <M as Method>::Params) -> Answer<<M as Method>::Result>;

type Erased = Box<dyn Fn(&Session, Value) -> Reply + Send + Sync>;

#[derive(Default)]
pub(crate) struct Table {
    handlers: HashMap<&'static str, Erased>,
}

impl Table {
    fn on<M: Method>(&mut self, handler: Handler<M>) -> &mut Table {
        let erased: Erased =
            Box::new(
                move |session, params| match parse_params::<M::Params>(M::METHOD, params) {
                    Ok(p) => match handler(session, p) {
                        Answer::Now(result) => now(result.and_then(ok)),
                        Answer::Later(f) => f.map(|result| result.and_then(ok)).boxed(),
                    },
                    Err(e) => now(Err(e)),
                },
            );
        let before = self.handlers.insert(M::METHOD, erased);
        assert!(before.is_none(), "{} has two handlers", M::METHOD);
        self
    }

    /// The answer to `method`, or `None` when no method has that name.
    pub(crate) fn call(&self, session: &Session, method: &str, params: Value) -> Option<Reply> {
        Some(self.handlers.get(method)?(session, params))
    }
}

impl Session {
    /// Handles a request: checks and snapshots now, the rest in the returned future.
    pub fn request(&self, method: &str, params: Value) -> Reply {
        if self.state.hello.get().is_none() && method != method::HELLO && method != method::SHUTDOWN
        {
            return now(Err(RpcError::new(
                code::SERVER_NOT_INITIALIZED,
                format!(
                    "{method} before {}: send maestro/hello first",
                    method::HELLO
                ),
            )));
        }
        let params = match crate::mesh_requests::route(self, method, params) {
            Ok(reply) => return reply,
            Err(params) => params,
        };
        self.request_here(method, params)
    }
}

impl Session {
    /// `method` through the table as this connection, never routed to another node of the mesh
    /// (a call another node routed here, or one routing decided is this node's).
    pub(crate) fn request_here(&self, method: &str, params: Value) -> Reply {
        match TABLE.call(self, method, params) {
            Some(reply) => reply,
            None => now(Err(RpcError::method_not_found(method))),
        }
    }
}

/// The one table of the daemon (the LSP front forwards to it too).
pub(crate) static TABLE: LazyLock<Table> = LazyLock::new(|| {
    use crate::{agent_requests as agent, graph_requests as graph};
    use crate::{attention_requests as attention, chat_requests as chat};
    use crate::{
        memory_requests as memory, mesh_requests as mesh, message_requests as message,
        playbook_requests as playbook, portable_requests as portable, trust_requests as trust,
    };
    use rpc::*;
    let mut t = Table::default();
    t.on::<Hello>(Session::hello)
        .on::<Shutdown>(Session::shutdown)
        .on::<Status>(Session::status)
        .on::<Subscribe>(Session::subscribe)
        .on::<WorkspaceOpen>(Session::workspace_open)
        .on::<WorkspaceClose>(Session::workspace_close)
        .on::<GetDocumentText>(Session::document_text)
        .on::<StoreBackup>(Session::store_backup)
        .on::<Index>(graph::index)
        .on::<GraphDefinition>(graph::definition)
        .on::<GraphReferences>(graph::references)
        .on::<GraphHover>(graph::hover)
        .on::<GraphHighlight>(graph::highlight)
        .on::<GraphDocumentSymbols>(graph::document_symbols)
        .on::<GraphWorkspaceSymbols>(graph::workspace_symbols)
        .on::<GraphCallPrepare>(graph::call_prepare)
        .on::<GraphCallIncoming>(graph::calls_incoming)
        .on::<GraphCallOutgoing>(graph::calls_outgoing)
        .on::<GraphLookup>(graph::lookup)
        .on::<GraphQuery>(graph::query)
        .on::<CodeActions>(graph::code_actions)
        .on::<AgentSpawn>(agent::spawn)
        .on::<AgentSend>(agent::send)
        .on::<AgentReview>(agent::review)
        .on::<AgentStop>(agent::stop)
        .on::<AgentList>(agent::list)
        .on::<AgentStatus>(agent::status)
        .on::<AgentOutput>(agent::output)
        .on::<AgentDiff>(agent::diff)
        .on::<AgentMerge>(agent::merge)
        .on::<AgentRemove>(agent::remove)
        .on::<AgentAttach>(agent::attach)
        .on::<AgentInput>(agent::input)
        .on::<AgentResize>(agent::resize)
        .on::<AgentIcon>(agent::icon)
        .on::<AgentDelegate>(agent::delegate)
        .on::<Usage>(agent::usage)
        .on::<PlaybookRun>(playbook::run)
        .on::<PlaybookStatus>(playbook::status)
        .on::<PlaybookHistory>(playbook::history)
        .on::<PlaybookStop>(playbook::stop)
        .on::<PlaybookPause>(playbook::pause)
        .on::<PlaybookResume>(playbook::resume)
        .on::<PlaybookApprove>(playbook::approve)
        .on::<PlaybookLint>(playbook::lint)
        .on::<PlaybookCodeLens>(playbook::code_lens)
        .on::<MemoryAdd>(memory::add)
        .on::<MemorySearch>(memory::search)
        .on::<MemoryList>(memory::list)
        .on::<MemoryForget>(memory::forget)
        .on::<MemoryStatus>(memory::status)
        .on::<MemoryImport>(memory::import)
        .on::<TrustList>(trust::list)
        .on::<TrustApprove>(trust::approve)
        .on::<TrustRevoke>(trust::revoke)
        .on::<MessageSend>(message::send)
        .on::<MessageInbox>(message::inbox)
        .on::<MessageRead>(message::read)
        .on::<MessageThread>(message::thread)
        .on::<AgentConsult>(agent::consult)
        .on::<ChatNew>(chat::new)
        .on::<ChatSay>(chat::say)
        .on::<ChatLog>(chat::log)
        .on::<ChatList>(chat::list)
        .on::<ChatClose>(chat::close)
        .on::<AttentionAsk>(attention::ask)
        .on::<AttentionAnswer>(attention::answer)
        .on::<AttentionLog>(attention::log)
        .on::<MeshJoin>(mesh::join)
        .on::<MeshLeave>(mesh::leave)
        .on::<rpc::MeshStatus>(mesh::status)
        .on::<MeshNodes>(mesh::nodes)
        .on::<MeshRun>(mesh::run)
        .on::<MeshRuns>(mesh::runs)
        .on::<AgentExport>(portable::export)
        .on::<AgentImport>(portable::import)
        .on::<AgentFork>(portable::fork)
        .on::<AgentSnapshot>(portable::snapshot)
        .on::<AgentSnapshots>(portable::snapshots)
        .on::<AgentRollback>(portable::rollback)
        .on::<AgentTransfer>(mesh::transfer)
        .on::<MeshReceive>(mesh::receive);
    t
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_method_has_one_handler() {
        let mut answered: Vec<&str> = TABLE.handlers.keys().copied().collect();
        let mut declared = rpc::ALL.to_vec();
        answered.sort();
        declared.sort();
        assert_eq!(answered, declared);
    }
}
