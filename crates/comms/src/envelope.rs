//! The message envelope (AMP-compatible fields) and its canonical form, the bytes a signature
//! covers: a fixed prefix, then the envelope as JSON with every object's keys sorted. Every field
//! is covered, the id and the timestamps included.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The envelope format this crate writes and reads.
pub const VERSION: u32 = 1;

/// Bounds a sender cannot exceed (checked before a signature is looked at).
pub const MAX_ID: usize = 128;
pub const MAX_ADDRESS: usize = 200;
pub const MAX_SUBJECT: usize = 300;
pub const MAX_PAYLOAD: usize = 256 << 10;

/// What the canonical form starts with: a signature over it means nothing in another protocol.
const PREFIX: &[u8] = b"maestro-amp-v1\n";

/// The priorities and types are the protocol's (clients send them by these names).
pub use maestro_protocol::{MessageKind as Kind, MessagePriority as Priority};

/// One message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub version: u32,
    pub id: String,
    /// `agent:<workspace>/<name>` or `person:<name>`.
    pub from: String,
    pub to: String,
    pub subject: String,
    pub priority: Priority,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Unix milliseconds.
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(default)]
    pub payload: Value,
}

/// What is wrong with an envelope, by field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message {field}: {problem}")]
pub struct Malformed {
    pub field: &'static str,
    pub problem: String,
}

impl Envelope {
    /// Checks the bounds and forms of every field.
    pub fn check(&self) -> Result<(), Malformed> {
        let bad = |field: &'static str, problem: String| Err(Malformed { field, problem });
        if self.version != VERSION {
            return bad(
                "version",
                format!(
                    "{} is not a version this maestro reads ({VERSION})",
                    self.version
                ),
            );
        }
        if self.id.is_empty() || self.id.len() > MAX_ID || !self.id.bytes().all(id_byte) {
            return bad(
                "id",
                format!(
                    "`{}` is not 1 to {MAX_ID} of [A-Za-z0-9_.:-]",
                    short(&self.id)
                ),
            );
        }
        for (field, address) in [("from", &self.from), ("to", &self.to)] {
            address_problem(address).map_or(Ok(()), |p| bad(field, p))?;
        }
        if self.subject.len() > MAX_SUBJECT || self.subject.contains(['\n', '\r']) {
            return bad(
                "subject",
                format!("at most {MAX_SUBJECT} bytes on one line"),
            );
        }
        for (field, id) in [
            ("threadId", &self.thread_id),
            ("inReplyTo", &self.in_reply_to),
        ] {
            if let Some(id) = id
                && (id.is_empty() || id.len() > MAX_ID || !id.bytes().all(id_byte))
            {
                return bad(field, format!("`{}` is not a message id", short(id)));
            }
        }
        if let Some(expires) = self.expires_at
            && expires <= self.created_at
        {
            return bad("expiresAt", "is not after createdAt".into());
        }
        let payload = serde_json::to_vec(&self.payload)
            .map(|v| v.len())
            .unwrap_or(0);
        if payload > MAX_PAYLOAD {
            return bad(
                "payload",
                format!("{payload} bytes; the limit is {MAX_PAYLOAD}"),
            );
        }
        Ok(())
    }

    /// The bytes a signature covers.
    pub fn canonical(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("an envelope is JSON");
        let mut out = PREFIX.to_vec();
        serde_json::to_writer(&mut out, &sorted(value)).expect("writing to a Vec");
        out
    }
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')
}

fn address_problem(address: &str) -> Option<String> {
    let ok = address.len() <= MAX_ADDRESS
        && match address.split_once(':') {
            Some(("agent", rest)) => rest.split_once('/').is_some_and(|(ws, name)| {
                !ws.is_empty() && !name.is_empty() && !name.contains('/')
            }),
            Some(("person", name)) => !name.is_empty(),
            _ => false,
        }
        && !address.chars().any(char::is_control);
    (!ok).then(|| {
        format!(
            "`{}` is not `agent:<workspace>/<name>` nor `person:<name>`",
            short(address)
        )
    })
}

fn short(s: &str) -> String {
    let mut end = s.len().min(60);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s[..end].to_owned();
    if end < s.len() {
        out.push('…');
    }
    out
}

/// `value` with every object's keys in sorted order (serde_json keeps insertion order here).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn envelope() -> Envelope {
        Envelope {
            version: VERSION,
            id: "m-0001".into(),
            from: "agent:ws1/alice".into(),
            to: "agent:ws1/bob".into(),
            subject: "the parser".into(),
            priority: Priority::High,
            kind: Kind::Request,
            thread_id: None,
            in_reply_to: None,
            created_at: 1_765_000_000_000,
            expires_at: None,
            payload: json!({"text": "why does it fail?", "files": ["a.rs"]}),
        }
    }

    #[test]
    fn the_canonical_form_sorts_keys_at_every_level_whatever_their_order() {
        let a = envelope();
        let mut b = a.clone();
        b.payload = json!({"files": ["a.rs"], "text": "why does it fail?"});
        assert_eq!(a.canonical(), b.canonical());
        let text = String::from_utf8(a.canonical()).unwrap();
        assert!(
            text.starts_with("maestro-amp-v1\n{\"createdAt\":1765000000000,\"from\":"),
            "{text}"
        );
        assert!(
            text.contains("\"payload\":{\"files\":[\"a.rs\"],\"text\""),
            "{text}"
        );
        assert!(text.contains("\"type\":\"request\""), "{text}");
        let mut c = a.clone();
        c.created_at += 1;
        assert_ne!(a.canonical(), c.canonical(), "the time is covered");
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |f: fn(&mut Envelope)| {
            let mut e = envelope();
            f(&mut e);
            e.check().unwrap_err().field
        };
        assert!(envelope().check().is_ok());
        assert_eq!(field(|e| e.version = 2), "version");
        assert_eq!(field(|e| e.id = "a b".into()), "id");
        assert_eq!(field(|e| e.id = "x".repeat(MAX_ID + 1)), "id");
        assert_eq!(field(|e| e.from = "alice".into()), "from");
        assert_eq!(field(|e| e.to = "agent:ws1/a/b".into()), "to");
        assert_eq!(field(|e| e.to = "agent:/bob".into()), "to");
        assert_eq!(field(|e| e.subject = "two\nlines".into()), "subject");
        assert_eq!(field(|e| e.in_reply_to = Some("".into())), "inReplyTo");
        assert_eq!(field(|e| e.expires_at = Some(e.created_at)), "expiresAt");
        assert_eq!(
            field(|e| e.payload = json!({"big": "x".repeat(MAX_PAYLOAD)})),
            "payload"
        );
        assert!(
            envelope_with(|e| e.to = "person:me".into()).check().is_ok(),
            "the person is an address"
        );
    }

    fn envelope_with(f: fn(&mut Envelope)) -> Envelope {
        let mut e = envelope();
        f(&mut e);
        e
    }

    #[test]
    fn the_wire_form_names_fields_as_amp_does() {
        let v = serde_json::to_value(envelope()).unwrap();
        for key in [
            "version",
            "id",
            "from",
            "to",
            "subject",
            "priority",
            "type",
            "createdAt",
            "payload",
        ] {
            assert!(v.get(key).is_some(), "{key} in {v}");
        }
        assert_eq!(v["priority"], "high");
        let back: Envelope = serde_json::from_value(v).unwrap();
        assert_eq!(back, envelope());
    }
}
