//! Messages between agents and the person (ARCHITECTURE.md, "Messages"): AMP-compatible
//! envelopes, the canonical form a signature covers, Ed25519 keys per owner, signing and
//! verification with expiry and replay refused, mailboxes in the store, and delivery (`Post`): at a
//! turn's start, by waking an idle agent, or kept until a stopped one runs again.

pub mod chat;
pub mod consult;
pub mod envelope;
pub mod keys;
pub mod mailbox;
pub mod post;

pub use chat::{ChatError, ChatHost, Chats, NewChat};
pub use consult::{ConsultError, ConsultHost, Consulted, Consults};
pub use envelope::{Envelope, Kind, Malformed, Priority};
pub use keys::{KeyError, Keyring, Refused, Signed, Verifier};
pub use mailbox::{
    Delivered, Held, InboxPage, MailError, Mailboxes, agent_address, agent_of, owner_of,
};
pub use post::{Draft, Host, News, Policy, Post, PostError, Presence, WAKE_PROMPT};
