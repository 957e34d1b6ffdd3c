//! Messages between agents and the person (ARCHITECTURE.md, "Messages"): AMP-compatible
//! envelopes, the canonical form a signature covers, Ed25519 keys per owner, signing and
//! verification with expiry and replay refused. Mailboxes, delivery and `maestro mcp` come next.

pub mod envelope;
pub mod keys;
pub mod mailbox;

pub use envelope::{Envelope, Kind, Malformed, Priority};
pub use keys::{KeyError, Keyring, Refused, Signed, Verifier};
pub use mailbox::{Delivered, MailError, Mailboxes, owner_of};
