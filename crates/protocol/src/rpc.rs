//! Every request method of the daemon, declared once: its name, its params type, its result type,
//! and whether it changes anything. The daemon dispatches from a table keyed by these types
//! (`maestro-engine`'s `requests.rs`), so a method answers with the type declared here or does not
//! compile.

use crate::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A request method: `METHOD` takes `Params` and answers `Result`.
pub trait Method {
    const METHOD: &'static str;
    /// Changes nothing: a client may send it again when the connection broke before the answer.
    const READ_ONLY: bool;
    type Params: DeserializeOwned + Send + 'static;
    type Result: Serialize + DeserializeOwned + Send + 'static;
}

/// The params of a method that takes none: anything is accepted and ignored (clients send `null`,
/// `{}` or nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoParams;

impl<'de> Deserialize<'de> for NoParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| NoParams)
    }
}

impl Serialize for NoParams {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

macro_rules! methods {
    (
        read_only { $($(#[$rdoc:meta])* $rname:ident = $rmethod:ident ($rparams:ty) -> $rresult:ty;)* }
        changing { $($(#[$cdoc:meta])* $cname:ident = $cmethod:ident ($cparams:ty) -> $cresult:ty;)* }
    ) => {
        $(
            $(#[$rdoc])*
            #[doc = concat!("`", stringify!($rmethod), "`: [`", stringify!($rparams), "`] → `", stringify!($rresult), "`.")]
            pub enum $rname {}
            impl Method for $rname {
                const METHOD: &'static str = method::$rmethod;
                const READ_ONLY: bool = true;
                type Params = $rparams;
                type Result = $rresult;
            }
        )*
        $(
            $(#[$cdoc])*
            #[doc = concat!("`", stringify!($cmethod), "`: [`", stringify!($cparams), "`] → `", stringify!($cresult), "`.")]
            pub enum $cname {}
            impl Method for $cname {
                const METHOD: &'static str = method::$cmethod;
                const READ_ONLY: bool = false;
                type Params = $cparams;
                type Result = $cresult;
            }
        )*
        /// Every request method's name.
        pub const ALL: &[&str] = &[$(method::$rmethod,)* $(method::$cmethod,)*];
        /// The requests that change nothing.
        pub const READ_ONLY: &[&str] = &[$(method::$rmethod,)*];
    };
}

methods! {
    read_only {
        Status = STATUS(NoParams) -> StatusResult;
        GetDocumentText = DOCUMENT_TEXT(DocumentUri) -> DocumentText;
        GraphDefinition = GRAPH_DEFINITION(TextDocumentPositionParams) -> Vec<Location>;
        GraphReferences = GRAPH_REFERENCES(ReferenceParams) -> Vec<Location>;
        GraphHover = GRAPH_HOVER(TextDocumentPositionParams) -> Option<HoverResult>;
        GraphHighlight = GRAPH_HIGHLIGHT(TextDocumentPositionParams) -> Vec<DocumentHighlight>;
        GraphDocumentSymbols = GRAPH_DOCUMENT_SYMBOLS(DocumentSymbolParams) -> Vec<DocumentSymbol>;
        GraphWorkspaceSymbols = GRAPH_WORKSPACE_SYMBOLS(WorkspaceSymbolParams) -> Vec<WorkspaceSymbol>;
        GraphCallPrepare = GRAPH_CALL_PREPARE(TextDocumentPositionParams) -> Vec<CallHierarchyItem>;
        GraphCallIncoming = GRAPH_CALL_INCOMING(CallHierarchyParams) -> Vec<CallHierarchyIncomingCall>;
        GraphCallOutgoing = GRAPH_CALL_OUTGOING(CallHierarchyParams) -> Vec<CallHierarchyOutgoingCall>;
        GraphLookup = GRAPH_LOOKUP(SymbolLookupParams) -> Vec<WorkspaceSymbol>;
        GraphQuery = GRAPH_QUERY(GraphQueryParams) -> GraphQueryResult;
        AgentList = AGENT_LIST(AgentListParams) -> Vec<AgentInfo>;
        AgentStatus = AGENT_STATUS(AgentRef) -> AgentInfo;
        AgentOutput = AGENT_OUTPUT(AgentOutputRequest) -> AgentOutputResult;
        AgentDiff = AGENT_DIFF(AgentRef) -> AgentDiffResult;
        CodeActions = CODE_ACTIONS(CodeActionParams) -> Vec<CodeAction>;
        AgentIcon = AGENT_ICON(AgentIconParams) -> AgentIconResult;
        Usage = USAGE(UsageParams) -> UsageResult;
        PlaybookStatus = PLAYBOOK_STATUS(PlaybookRunRef) -> PlaybookStatusResult;
        PlaybookHistory = PLAYBOOK_HISTORY(PlaybookRunRef) -> PlaybookHistoryResult;
        PlaybookLint = PLAYBOOK_LINT(PlaybookLintParams) -> PlaybookLintResult;
        /// LSP `CodeLens[]` (no type of ours: they go to editors as they are).
        PlaybookCodeLens = PLAYBOOK_CODE_LENS(DocumentSymbolParams) -> Vec<Value>;
        MemorySearch = MEMORY_SEARCH(MemorySearchParams) -> MemorySearchResult;
        MemoryList = MEMORY_LIST(MemoryListParams) -> MemoryListResult;
        MemoryStatus = MEMORY_STATUS(NoParams) -> MemoryStatusResult;
        TrustList = TRUST_LIST(TrustListParams) -> TrustListResult;
        MessageInbox = MESSAGE_INBOX(MessageInboxParams) -> MessageInboxResult;
        MessageThread = MESSAGE_THREAD(MessageRef) -> MessageThreadResult;
        ChatLog = CHAT_LOG(ChatRef) -> ChatLogResult;
        ChatList = CHAT_LIST(ChatListParams) -> Vec<ChatInfo>;
        AttentionLog = ATTENTION_LOG(AttentionLogParams) -> AttentionLogResult;
        MeshStatus = MESH_STATUS(NoParams) -> crate::MeshMembership;
        MeshNodes = MESH_NODES(NoParams) -> Vec<NodeInfo>;
        MeshRuns = MESH_RUNS(NoParams) -> Vec<MeshRunInfo>;
        AgentSnapshots = AGENT_SNAPSHOTS(AgentRef) -> Vec<SnapshotInfo>;
    }
    changing {
        Hello = HELLO(HelloParams) -> HelloResult;
        Shutdown = SHUTDOWN(NoParams) -> ();
        MeshJoin = MESH_JOIN(NoParams) -> crate::MeshMembership;
        MeshLeave = MESH_LEAVE(NoParams) -> crate::MeshMembership;
        MeshRun = MESH_RUN(MeshRunParams) -> MeshRunInfo;
        Subscribe = SUBSCRIBE(NoParams) -> ();
        WorkspaceOpen = WORKSPACE_OPEN(WorkspaceOpenParams) -> WorkspaceInfo;
        WorkspaceClose = WORKSPACE_CLOSE(WorkspaceOpenParams) -> ();
        StoreBackup = STORE_BACKUP(StoreBackupParams) -> StoreBackupResult;
        Index = INDEX(IndexParams) -> IndexResult;
        AgentSpawn = AGENT_SPAWN(AgentSpawnParams) -> AgentInfo;
        AgentSend = AGENT_SEND(AgentSendParams) -> AgentInfo;
        AgentReview = AGENT_REVIEW(AgentReviewParams) -> AgentInfo;
        AgentStop = AGENT_STOP(AgentRef) -> AgentInfo;
        AgentMerge = AGENT_MERGE(AgentRef) -> AgentMergeResult;
        AgentRemove = AGENT_REMOVE(AgentRemoveParams) -> AgentRemoveResult;
        AgentAttach = AGENT_ATTACH(AgentAttachParams) -> AgentAttachResult;
        AgentInput = AGENT_INPUT(AgentInputParams) -> ();
        AgentResize = AGENT_RESIZE(AgentResizeParams) -> ();
        AgentDelegate = AGENT_DELEGATE(DelegateParams) -> DelegateResult;
        PlaybookRun = PLAYBOOK_RUN(PlaybookRunParams) -> PlaybookRunResult;
        PlaybookStop = PLAYBOOK_STOP(PlaybookRunRef) -> PlaybookRunInfo;
        PlaybookPause = PLAYBOOK_PAUSE(PlaybookRunRef) -> PlaybookRunInfo;
        PlaybookResume = PLAYBOOK_RESUME(PlaybookRunRef) -> PlaybookRunInfo;
        PlaybookApprove = PLAYBOOK_APPROVE(PlaybookRunRef) -> PlaybookRunInfo;
        MemoryAdd = MEMORY_ADD(MemoryAddParams) -> MemoryAddResult;
        MemoryForget = MEMORY_FORGET(MemoryForgetParams) -> MemoryForgetResult;
        MemoryImport = MEMORY_IMPORT(MemoryImportParams) -> MemoryImportResult;
        TrustApprove = TRUST_APPROVE(TrustApproveParams) -> TrustListResult;
        TrustRevoke = TRUST_REVOKE(TrustRevokeParams) -> TrustListResult;
        MessageSend = MESSAGE_SEND(MessageSendParams) -> MessageInfo;
        /// Marks the message read: not sent again after a broken connection.
        MessageRead = MESSAGE_READ(MessageRef) -> MessageInfo;
        ChatNew = CHAT_NEW(ChatNewParams) -> ChatInfo;
        AgentConsult = AGENT_CONSULT(AgentConsultParams) -> AgentConsultResult;
        ChatSay = CHAT_SAY(ChatSayParams) -> ChatLogResult;
        ChatClose = CHAT_CLOSE(ChatRef) -> ChatInfo;
        AttentionAsk = ATTENTION_ASK(AttentionAskParams) -> AttentionInfo;
        AttentionAnswer = ATTENTION_ANSWER(AttentionAnswerParams) -> AttentionInfo;
        AgentExport = AGENT_EXPORT(AgentExportParams) -> AgentExportResult;
        AgentImport = AGENT_IMPORT(AgentImportParams) -> AgentInfo;
        AgentFork = AGENT_FORK(AgentForkParams) -> AgentInfo;
        AgentSnapshot = AGENT_SNAPSHOT(AgentSnapshotParams) -> SnapshotInfo;
        AgentRollback = AGENT_ROLLBACK(AgentRollbackParams) -> AgentRollbackResult;
        AgentTransfer = AGENT_TRANSFER(AgentTransferParams) -> AgentInfo;
        MeshReceive = MESH_RECEIVE(MeshReceiveParams) -> AgentInfo;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_is_declared_once() {
        let mut names = ALL.to_vec();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a method declared twice");
        assert!(READ_ONLY.iter().all(|m| ALL.contains(m)));
    }

    #[test]
    fn no_params_takes_anything() {
        for v in [
            Value::Null,
            serde_json::json!({}),
            serde_json::json!({"x": [1]}),
        ] {
            assert_eq!(parse_params::<NoParams>("m", v).unwrap(), NoParams);
        }
    }
}
