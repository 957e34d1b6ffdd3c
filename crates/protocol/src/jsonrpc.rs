//! JSON-RPC 2.0 messages as they cross the daemon socket and the LSP's stdio: classifying an incoming
//! value, the error object, and the standard and maestro-specific error codes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A request id. JSON-RPC allows numbers and strings; `null` only appears in error responses to
/// messages whose id could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    Number(i64),
    String(String),
    Null,
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::String(s) => write!(f, "{s:?}"),
            Id::Null => f.write_str("null"),
        }
    }
}

impl From<i64> for Id {
    fn from(n: i64) -> Self {
        Id::Number(n)
    }
}

/// Error codes: JSON-RPC's, LSP's, and maestro's own in the implementation-defined server range
/// (-32099..=-32000).
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// LSP: a request arrived before `initialize` (or, on the daemon socket, before `maestro/hello`).
    pub const SERVER_NOT_INITIALIZED: i64 = -32002;
    /// LSP: the request was cancelled by `$/cancelRequest`.
    pub const REQUEST_CANCELLED: i64 = -32800;
    /// LSP: the state the request was computed on changed before the answer was ready.
    pub const CONTENT_MODIFIED: i64 = -32801;
    /// The client and the daemon speak different protocol versions.
    pub const PROTOCOL_MISMATCH: i64 = -32090;
    /// The request names something (a document, a workspace) the daemon does not have.
    pub const NOT_FOUND: i64 = -32091;
    /// The store refused or failed the operation.
    pub const STORE_FAILED: i64 = -32092;
    /// A configuration file is invalid.
    pub const CONFIG_INVALID: i64 = -32093;
    /// The connection to the daemon was lost before the answer came (set by clients, never sent).
    pub const CONNECTION_LOST: i64 = -32094;
    /// The request conflicts with what exists: a name taken, a dirty worktree, a merge conflict.
    pub const CONFLICT: i64 = -32095;
    /// An agent could not be started or driven (its CLI missing, a worktree that failed).
    pub const AGENT_FAILED: i64 = -32096;
    /// A command the repository's config chooses has not been approved (`maestro trust`);
    /// `data` is a [`crate::UntrustedCommand`].
    pub const NOT_TRUSTED: i64 = -32097;
}

/// The error object of a JSON-RPC response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn parse_error(detail: impl fmt::Display) -> Self {
        Self::new(code::PARSE_ERROR, format!("parse error: {detail}"))
    }

    pub fn invalid_request(detail: impl fmt::Display) -> Self {
        Self::new(code::INVALID_REQUEST, format!("invalid request: {detail}"))
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            code::METHOD_NOT_FOUND,
            format!("method not found: {method}"),
        )
    }

    pub fn invalid_params(method: &str, detail: impl fmt::Display) -> Self {
        Self::new(
            code::INVALID_PARAMS,
            format!("invalid params for {method}: {detail}"),
        )
    }

    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::new(code::INTERNAL_ERROR, format!("internal error: {detail}"))
    }

    pub fn not_found(detail: impl fmt::Display) -> Self {
        Self::new(code::NOT_FOUND, detail.to_string())
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

/// A request: a method call that expects a response with the same id.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: Id,
    pub method: String,
    pub params: Value,
}

/// A notification: a method call without an id, never answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub method: String,
    pub params: Value,
}

/// A response to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: Id,
    pub result: Result<Value, RpcError>,
}

/// Any JSON-RPC 2.0 message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Response(Response),
}

/// Why an incoming frame is not a message: the error to answer with, and the id to answer to
/// (`Id::Null` when the id could not be read).
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub id: Id,
    pub error: RpcError,
}

impl Message {
    /// Reads one message from a frame body. Never panics; every way a body can be wrong maps to
    /// the JSON-RPC error that answers it.
    pub fn parse(body: &[u8]) -> Result<Message, Invalid> {
        let value: Value = serde_json::from_slice(body).map_err(|e| Invalid {
            id: Id::Null,
            error: RpcError::parse_error(e),
        })?;
        Message::from_value(value)
    }

    /// Classifies a JSON value as a request, notification or response.
    pub fn from_value(value: Value) -> Result<Message, Invalid> {
        let mut obj = match value {
            Value::Object(obj) => obj,
            Value::Array(_) => {
                return Err(Invalid {
                    id: Id::Null,
                    error: RpcError::invalid_request("batches are not supported"),
                });
            }
            other => {
                return Err(Invalid {
                    id: Id::Null,
                    error: RpcError::invalid_request(format!(
                        "expected a JSON object, got {}",
                        kind_of(&other)
                    )),
                });
            }
        };
        // Read the id first so that every later complaint can be answered to it.
        let id = match obj.remove("id") {
            None => None,
            Some(raw) => match serde_json::from_value::<Id>(raw.clone()) {
                Ok(id) => Some(id),
                Err(_) => {
                    return Err(Invalid {
                        id: Id::Null,
                        error: RpcError::invalid_request(format!(
                            "`id` must be a number or a string, got {}",
                            kind_of(&raw)
                        )),
                    });
                }
            },
        };
        let invalid = |detail: String| Invalid {
            id: id.clone().unwrap_or(Id::Null),
            error: RpcError::invalid_request(detail),
        };
        match obj.get("jsonrpc") {
            Some(Value::String(v)) if v == "2.0" => {}
            Some(other) => return Err(invalid(format!("`jsonrpc` must be \"2.0\", got {other}"))),
            None => return Err(invalid("missing `jsonrpc: \"2.0\"`".to_owned())),
        }
        if let Some(method) = obj.remove("method") {
            let Value::String(method) = method else {
                return Err(invalid(format!(
                    "`method` must be a string, got {}",
                    kind_of(&method)
                )));
            };
            let params = match obj.remove("params") {
                None | Some(Value::Null) => Value::Null,
                Some(p @ (Value::Object(_) | Value::Array(_))) => p,
                Some(other) => {
                    return Err(invalid(format!(
                        "`params` must be an object or an array, got {}",
                        kind_of(&other)
                    )));
                }
            };
            return Ok(match id {
                Some(id) => Message::Request(Request { id, method, params }),
                None => Message::Notification(Notification { method, params }),
            });
        }
        let Some(id) = id.clone() else {
            return Err(invalid("neither `method` nor `id`".to_owned()));
        };
        let result = match (obj.remove("result"), obj.remove("error")) {
            (Some(result), None) => Ok(result),
            (None, Some(error)) => match serde_json::from_value::<RpcError>(error) {
                Ok(error) => Err(error),
                Err(e) => return Err(invalid(format!("malformed `error` object: {e}"))),
            },
            (Some(_), Some(_)) => return Err(invalid("both `result` and `error`".to_owned())),
            (None, None) => return Err(invalid("a response needs `result` or `error`".to_owned())),
        };
        Ok(Message::Response(Response { id, result }))
    }

    /// The message as a JSON value ready to be framed.
    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("jsonrpc".into(), Value::from("2.0"));
        match self {
            Message::Request(r) => {
                obj.insert("id".into(), id_value(&r.id));
                obj.insert("method".into(), Value::from(r.method.clone()));
                if !r.params.is_null() {
                    obj.insert("params".into(), r.params.clone());
                }
            }
            Message::Notification(n) => {
                obj.insert("method".into(), Value::from(n.method.clone()));
                if !n.params.is_null() {
                    obj.insert("params".into(), n.params.clone());
                }
            }
            Message::Response(r) => {
                obj.insert("id".into(), id_value(&r.id));
                match &r.result {
                    Ok(v) => obj.insert("result".into(), v.clone()),
                    Err(e) => obj.insert(
                        "error".into(),
                        serde_json::to_value(e).expect("an RpcError always serializes"),
                    ),
                };
            }
        }
        Value::Object(obj)
    }

    /// The message serialized as a frame body, without copying its params or result (a
    /// `references` answer can be a few hundred kilobytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut wire = Wire {
            jsonrpc: "2.0",
            id: None,
            method: None,
            params: None,
            result: None,
            error: None,
        };
        let non_null = |v: &Value| -> bool { !v.is_null() };
        match self {
            Message::Request(r) => {
                wire.id = Some(&r.id);
                wire.method = Some(&r.method);
                wire.params = Some(&r.params).filter(|p| non_null(p));
            }
            Message::Notification(n) => {
                wire.method = Some(&n.method);
                wire.params = Some(&n.params).filter(|p| non_null(p));
            }
            Message::Response(r) => {
                wire.id = Some(&r.id);
                match &r.result {
                    Ok(v) => wire.result = Some(v),
                    Err(e) => wire.error = Some(e),
                }
            }
        }
        serde_json::to_vec(&wire).expect("a JSON value always serializes")
    }
}

/// A message as it goes on the wire, borrowing its parts.
#[derive(Serialize)]
struct Wire<'a> {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RpcError>,
}

/// Reads a method's params into their type. Absent params read as `{}`, so methods whose params
/// are all optional accept none. The error names the offending field (`path: invalid type ...`).
pub fn parse_params<T: serde::de::DeserializeOwned>(
    method: &str,
    params: Value,
) -> Result<T, RpcError> {
    let params = if params.is_null() {
        Value::Object(Map::new())
    } else {
        params
    };
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            RpcError::invalid_params(method, inner)
        } else {
            RpcError::invalid_params(method, format!("`{path}`: {inner}"))
        }
    })
}

fn id_value(id: &Id) -> Value {
    serde_json::to_value(id).expect("an id always serializes")
}

/// A short name of a JSON value's type for error messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bytes_and_value_say_the_same() {
        let messages = [
            Message::Request(Request {
                id: Id::Number(3),
                method: "m".into(),
                params: json!({"a": [1, 2]}),
            }),
            Message::Request(Request {
                id: Id::String("x".into()),
                method: "m".into(),
                params: Value::Null,
            }),
            Message::Notification(Notification {
                method: "n".into(),
                params: json!([1]),
            }),
            Message::Response(Response {
                id: Id::Null,
                result: Ok(Value::Null),
            }),
            Message::Response(Response {
                id: Id::Number(1),
                result: Err(RpcError::internal("boom")),
            }),
        ];
        for m in messages {
            let from_bytes: Value = serde_json::from_slice(&m.to_bytes()).unwrap();
            assert_eq!(from_bytes, m.to_value(), "{m:?}");
            assert_eq!(Message::parse(&m.to_bytes()).unwrap(), m);
        }
    }

    fn parse(s: &str) -> Result<Message, Invalid> {
        Message::parse(s.as_bytes())
    }

    #[test]
    fn classifies_requests_notifications_and_responses() {
        let m = parse(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}}"#).unwrap();
        assert_eq!(
            m,
            Message::Request(Request {
                id: Id::Number(1),
                method: "m".into(),
                params: json!({"a":1})
            })
        );
        let m = parse(r#"{"jsonrpc":"2.0","method":"n"}"#).unwrap();
        assert_eq!(
            m,
            Message::Notification(Notification {
                method: "n".into(),
                params: Value::Null
            })
        );
        let m = parse(r#"{"jsonrpc":"2.0","id":"x","result":null}"#).unwrap();
        assert_eq!(
            m,
            Message::Response(Response {
                id: Id::String("x".into()),
                result: Ok(Value::Null)
            })
        );
        let m = parse(r#"{"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"no"}}"#).unwrap();
        assert_eq!(
            m,
            Message::Response(Response {
                id: Id::Number(2),
                result: Err(RpcError::new(-1, "no"))
            })
        );
    }

    #[test]
    fn bad_bodies_get_the_right_error_and_id() {
        let e = parse(r#"{"jsonrpc":"2.0","id":1,"method":"#).unwrap_err();
        assert_eq!((e.id, e.error.code), (Id::Null, code::PARSE_ERROR));
        let e = parse("[1,2]").unwrap_err();
        assert_eq!((e.id, e.error.code), (Id::Null, code::INVALID_REQUEST));
        let e = parse("42").unwrap_err();
        assert!(e.error.message.contains("a number"), "{}", e.error.message);
        let e = parse(r#"{"id":7,"method":"m"}"#).unwrap_err();
        assert_eq!((e.id, e.error.code), (Id::Number(7), code::INVALID_REQUEST));
        let e = parse(r#"{"jsonrpc":"2.0","id":7,"method":3}"#).unwrap_err();
        assert!(e.error.message.contains("`method` must be a string"));
        let e = parse(r#"{"jsonrpc":"2.0","id":7,"method":"m","params":3}"#).unwrap_err();
        assert!(e.error.message.contains("`params`"));
        let e = parse(r#"{"jsonrpc":"2.0","id":{},"method":"m"}"#).unwrap_err();
        assert_eq!(e.id, Id::Null);
        let e = parse(r#"{"jsonrpc":"2.0"}"#).unwrap_err();
        assert_eq!(e.error.code, code::INVALID_REQUEST);
    }

    #[test]
    fn params_errors_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct P {
            path: String,
            #[serde(default)]
            depth: u32,
        }
        let e = parse_params::<P>("m/x", json!({"path": 42})).unwrap_err();
        assert_eq!(e.code, code::INVALID_PARAMS);
        assert!(
            e.message
                .starts_with("invalid params for m/x: `path`: invalid type: integer `42`"),
            "{}",
            e.message
        );
        let e = parse_params::<P>("m/x", Value::Null).unwrap_err();
        assert!(e.message.contains("missing field `path`"), "{}", e.message);
        assert_eq!(
            parse_params::<P>("m/x", json!({"path": "/a"}))
                .unwrap()
                .path,
            "/a"
        );
    }

    #[test]
    fn round_trips_through_bytes() {
        let msgs = [
            Message::Request(Request {
                id: Id::Number(3),
                method: "a".into(),
                params: json!([1]),
            }),
            Message::Notification(Notification {
                method: "b".into(),
                params: json!({"x":"y"}),
            }),
            Message::Response(Response {
                id: Id::Null,
                result: Err(RpcError::parse_error("eof")),
            }),
        ];
        for m in msgs {
            assert_eq!(Message::parse(&m.to_bytes()).unwrap(), m);
        }
    }
}
