//! What travels between nodes: a call of a daemon method and its answer.

use maestro_protocol::RpcError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A daemon method called on another node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    /// The calling node.
    pub from: String,
    pub method: String,
    pub params: Value,
    /// The repository the call is about, by its root commit: the called node puts its own
    /// checkout's path in the params' `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
}

/// The answer: a result or an error, as the method gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

impl CallReply {
    pub fn from_result(r: Result<Value, RpcError>) -> CallReply {
        match r {
            Ok(v) => CallReply {
                result: Some(v),
                error: None,
            },
            Err(e) => CallReply {
                result: None,
                error: Some(e),
            },
        }
    }

    pub fn into_result(self) -> Result<Value, RpcError> {
        match (self.error, self.result) {
            (Some(e), _) => Err(e),
            (None, r) => Ok(r.unwrap_or(Value::Null)),
        }
    }
}
