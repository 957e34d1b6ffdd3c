//! Delivery (ARCHITECTURE.md, "Messages"): a message is stored first, then reaches its recipient
//! the way its state allows. A busy agent gets it in the prompt of its next turn; an idle one is
//! woken (a new turn resuming its session) when the message asks for it (its priority is one the
//! policy wakes for, or it is a request); a stopped or lost one keeps it until it runs again. A
//! message counts as delivered once a turn that carried it ended well; until then every next turn
//! carries it again (at least once), unless its recipient read it meanwhile.

use crate::envelope::{Envelope, Kind, MAX_SUBJECT, Priority, VERSION};
use crate::keys::Signed;
use crate::mailbox::{Delivered, MailError, Mailboxes};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// What an address's owner is doing, as the host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// A turn is running: the message waits for its end.
    Busy,
    /// Waiting for a next turn: a message that asks for it wakes it.
    Idle,
    /// Stopped, failed or lost: messages wait until it runs again. The person is always here.
    Away,
    /// No such agent.
    Unknown,
    /// On another node of the mesh: the message travels there ([`Host::forward`]), and that
    /// node's post delivers it ([`Post::receive`]).
    Remote,
}

/// What happened to a message, for the editors.
#[derive(Debug, Clone, PartialEq)]
pub enum News {
    Sent(Signed),
    /// Its recipient read it (the sender's read receipt).
    Read {
        message: Signed,
        at: f64,
    },
}

/// How the post reaches agents.
pub trait Host: Send + Sync + 'static {
    fn presence(&self, address: &str) -> Presence;
    /// Starts a turn of the agent at `address` with [`WAKE_PROMPT`] (its messages are put in
    /// front by [`Post::turn_prompt`], as for any turn).
    fn wake(&self, address: &str) -> Result<(), String>;
    fn told(&self, news: News);
    /// Sends a message stored here on to the node of its recipient ([`Presence::Remote`]).
    fn forward(&self, signed: &Signed);
}

/// The prompt of a turn started only to deliver messages.
pub const WAKE_PROMPT: &str = "Answer the messages above: reply to each that asks for an answer \
     with maestro's `reply` tool (or in your answer, if you have no such tool), do what a task \
     asks, then stop.";

/// When idle agents are woken.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Priorities that wake an idle agent (any request does too).
    pub wake: Vec<Priority>,
    /// At most this many wakes of one agent in an hour; beyond, messages wait for its next turn.
    pub wakes_per_hour: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            wake: vec![Priority::High, Priority::Urgent],
            wakes_per_hour: 30,
        }
    }
}

impl Policy {
    pub fn wakes(&self, e: &Envelope) -> bool {
        e.kind == Kind::Request || self.wake.contains(&e.priority)
    }
}

/// A message as its sender writes it; the post fills in the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub to: String,
    pub subject: String,
    pub payload: Value,
    pub priority: Priority,
    pub kind: Kind,
    /// A message the sender received or sent: this one joins its thread.
    pub in_reply_to: Option<String>,
    /// Milliseconds from now.
    pub expires_in: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("no agent `{0}` to send to: `maestro agent list` shows the agents")]
    NoRecipient(String),
    #[error("{0}")]
    Invalid(String),
}

/// The text of a turn's messages is cut at this size; those left out stay pending.
pub const PROMPT_BUDGET: usize = 32 << 10;

/// A turn's answer sent back for an agent without tools is cut at this size.
const MAX_ANSWER: usize = 16 << 10;

/// The delivery service of one maestro home.
pub struct Post {
    mail: Mailboxes,
    host: Arc<dyn Host>,
    policy: Policy,
    /// Messages carried by the running turn of an address, not delivered until it ends well.
    in_turn: Mutex<HashMap<String, Vec<String>>>,
    /// When each address was last woken (Unix ms), for the hourly bound.
    wakes: Mutex<HashMap<String, VecDeque<u64>>>,
    /// What the running turn of an agent without tools answered (see [`Post::turn_answered`]).
    answers: Mutex<HashMap<String, String>>,
}

impl Post {
    pub fn new(mail: Mailboxes, host: Arc<dyn Host>, policy: Policy) -> Post {
        Post {
            mail,
            host,
            policy,
            in_turn: Mutex::default(),
            wakes: Mutex::default(),
            answers: Mutex::default(),
        }
    }

    pub fn mailboxes(&self) -> &Mailboxes {
        &self.mail
    }

    /// Sends `draft` as `from` at `now` (Unix ms): signed, stored, told, and the recipient woken
    /// when it is idle and the message asks for that.
    pub fn send(&self, from: &str, draft: Draft, now: u64) -> Result<Signed, PostError> {
        if draft.to.starts_with("agent:") && self.host.presence(&draft.to) == Presence::Unknown {
            return Err(PostError::NoRecipient(draft.to));
        }
        if draft.to == from {
            return Err(PostError::Invalid(format!(
                "a message to oneself ({from}): write it down with `remember` instead"
            )));
        }
        let thread_id = match &draft.in_reply_to {
            Some(id) => Some(
                self.mail
                    .message(from, id)?
                    .signed
                    .envelope
                    .thread_id
                    .unwrap_or_else(|| id.clone()),
            ),
            None => None,
        };
        let mut subject = draft.subject.replace(['\n', '\r'], " ");
        if subject.len() > MAX_SUBJECT {
            let mut cut = MAX_SUBJECT - 3;
            while !subject.is_char_boundary(cut) {
                cut -= 1;
            }
            subject.truncate(cut);
            subject.push('…');
        }
        let envelope = Envelope {
            version: VERSION,
            id: new_id(),
            from: from.to_owned(),
            to: draft.to,
            subject,
            priority: draft.priority,
            kind: draft.kind,
            thread_id,
            in_reply_to: draft.in_reply_to,
            created_at: now,
            expires_at: draft.expires_in.map(|ms| now.saturating_add(ms.max(1))),
            payload: draft.payload,
        };
        let signed = self.mail.send(envelope, now)?;
        self.host.told(News::Sent(signed.clone()));
        let e = &signed.envelope;
        match self.host.presence(&e.to) {
            Presence::Idle if self.policy.wakes(e) => self.wake(&e.to, now),
            Presence::Remote => self.host.forward(&signed),
            _ => {}
        }
        Ok(signed)
    }

    /// A message signed on node `node` of the mesh for a recipient here, with its sender's
    /// public key as that node published it: verified, stored, told, and the recipient woken as
    /// for a message sent here. `Ok(false)`: it was here already (a redelivery).
    pub fn receive(
        &self,
        signed: &Signed,
        public: &str,
        node: &str,
        now: u64,
    ) -> Result<bool, PostError> {
        let e = &signed.envelope;
        if matches!(
            self.host.presence(&e.to),
            Presence::Unknown | Presence::Remote
        ) {
            return Err(PostError::NoRecipient(e.to.clone()));
        }
        // The key is kept for reading the message again only once it verifies the message.
        crate::Verifier::check(signed, public).map_err(MailError::Refused)?;
        self.mail
            .keys()
            .learn(&crate::owner_of(&e.from), node, public)
            .map_err(MailError::Key)?;
        match self.mail.receive(signed, public, now) {
            Ok(()) => {}
            Err(MailError::Refused(crate::Refused::Replayed { .. })) => return Ok(false),
            Err(err) => return Err(err.into()),
        }
        self.host.told(News::Sent(signed.clone()));
        if self.policy.wakes(e) && self.host.presence(&e.to) == Presence::Idle {
            self.wake(&e.to, now);
        }
        Ok(true)
    }

    /// Message `id` for `reader`: marked read the first time its recipient reads it, which its
    /// sender is told.
    pub fn read(&self, reader: &str, id: &str, at: f64) -> Result<Delivered, PostError> {
        let before = self.mail.message(reader, id)?;
        let d = self.mail.read(reader, id, at)?;
        if before.read_at.is_none()
            && let Some(at) = d.read_at
        {
            self.host.told(News::Read {
                message: d.signed.clone(),
                at,
            });
        }
        Ok(d)
    }

    /// The prompt of a turn of `address` starting now: the messages it has not had yet in front
    /// of `prompt` (as many as [`PROMPT_BUDGET`] holds), remembered as carried by this turn.
    pub fn turn_prompt(&self, address: &str, prompt: &str, now: u64) -> String {
        let pending = match self.mail.pending(address, now) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%address, "messages not read for a turn: {e}");
                return prompt.to_owned();
            }
        };
        if pending.is_empty() {
            return prompt.to_owned();
        }
        let mut text = String::new();
        let mut carried = Vec::new();
        let mut left = 0;
        for d in &pending {
            let block = render(&d.signed.envelope);
            if text.len() + block.len() > PROMPT_BUDGET && !carried.is_empty() {
                left += 1;
                continue;
            }
            text.push_str(&block);
            carried.push(d.signed.envelope.id.clone());
        }
        let head = format!(
            "[maestro] {} new message{} for you{}:\n\n",
            carried.len(),
            if carried.len() == 1 { "" } else { "s" },
            if left > 0 {
                format!(" ({left} more in your inbox: maestro's `inbox` tool)")
            } else {
                String::new()
            }
        );
        self.in_turn
            .lock()
            .unwrap()
            .insert(address.to_owned(), carried);
        format!("{head}{text}---\n\n{prompt}")
    }

    /// What a turn of `address` answered, for an agent whose CLI has no tools to reply with:
    /// when the turn ends well, each request it carried is answered with it, as the agent.
    pub fn turn_answered(&self, address: &str, answer: &str) {
        if self.in_turn.lock().unwrap().contains_key(address) && !answer.trim().is_empty() {
            self.answers
                .lock()
                .unwrap()
                .insert(address.to_owned(), answer.to_owned());
        }
    }

    /// A turn of `address` ended: the messages it carried are delivered if it ended well (else
    /// the next turn carries them again), and the requests among them answered with what it
    /// answered, when it has no tools (see [`Post::turn_answered`]); then what waits and asks
    /// for it wakes the agent.
    pub fn turn_ended(&self, address: &str, ok: bool, now: u64) {
        let carried = self.in_turn.lock().unwrap().remove(address);
        let answer = self.answers.lock().unwrap().remove(address);
        if let Some(ids) = carried.filter(|_| ok) {
            if let Err(e) = self.mail.mark_delivered(&ids, now as f64 / 1000.0) {
                tracing::warn!(%address, "messages not marked delivered (they come again): {e}");
            }
            if let Some(answer) = answer {
                self.answer_requests(address, &ids, &answer, now);
            }
        }
        let waiting = self.mail.pending(address, now).unwrap_or_default();
        if ok
            && waiting
                .iter()
                .any(|d| self.policy.wakes(&d.signed.envelope))
        {
            self.wake(address, now);
        }
    }

    fn answer_requests(&self, address: &str, ids: &[String], answer: &str, now: u64) {
        let mut text = answer.to_owned();
        if text.len() > MAX_ANSWER {
            let mut cut = MAX_ANSWER;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        for id in ids {
            let Ok(asked) = self.mail.message(address, id) else {
                continue;
            };
            let e = &asked.signed.envelope;
            if e.kind != Kind::Request || e.to != address {
                continue;
            }
            let draft = Draft {
                to: e.from.clone(),
                subject: if e.subject.is_empty() {
                    String::new()
                } else {
                    format!("Re: {}", e.subject)
                },
                payload: serde_json::json!({ "text": text }),
                priority: Priority::Normal,
                kind: Kind::Response,
                in_reply_to: Some(id.clone()),
                expires_in: None,
            };
            if let Err(e) = self.send(address, draft, now) {
                tracing::warn!(%address, "the answer to {id} was not sent: {e}");
            }
        }
    }

    fn wake(&self, address: &str, now: u64) {
        {
            let mut wakes = self.wakes.lock().unwrap();
            let times = wakes.entry(address.to_owned()).or_default();
            while times
                .front()
                .is_some_and(|t| now.saturating_sub(*t) >= 3_600_000)
            {
                times.pop_front();
            }
            if times.len() >= self.policy.wakes_per_hour as usize {
                tracing::info!(%address, "not woken: {} wakes in the last hour", times.len());
                return;
            }
            times.push_back(now);
        }
        if let Err(e) = self.host.wake(address) {
            tracing::info!(%address, "not woken (the message waits for its next turn): {e}");
        }
    }
}

/// A message as a prompt shows it.
pub fn render(e: &Envelope) -> String {
    let word = |v: Value| v.as_str().unwrap_or_default().to_owned();
    let mut out = format!(
        "--- message {} from {} ({} priority, {})\n",
        e.id,
        e.from,
        word(serde_json::to_value(e.priority).expect("JSON")),
        word(serde_json::to_value(e.kind).expect("JSON")),
    );
    if let Some(r) = &e.in_reply_to {
        out.push_str(&format!("In reply to: {r}\n"));
    }
    if !e.subject.is_empty() {
        out.push_str(&format!("Subject: {}\n", e.subject));
    }
    out.push_str(&payload_text(&e.payload));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A payload as text: its `text` when that is all it has, a string as it is, else its JSON.
pub fn payload_text(payload: &Value) -> String {
    match payload {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(o) if o.len() == 1 && o.get("text").is_some_and(Value::is_string) => {
            o["text"].as_str().unwrap_or_default().to_owned()
        }
        other => other.to_string(),
    }
}

/// A new message id: `msg_` and 16 random bytes in hex.
pub fn new_id() -> String {
    random_id("msg_", 16)
}

/// `prefix` and `n` random bytes in hex: the ids of messages, chats and consult threads.
pub fn random_id(prefix: &str, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes).expect("the system's random source");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::owner_of;
    use maestro_store::Store;
    use serde_json::json;

    const NOW: u64 = 1_765_000_000_000;

    #[derive(Default)]
    struct FakeHost {
        presence: Mutex<HashMap<String, Presence>>,
        woken: Mutex<Vec<String>>,
        news: Mutex<Vec<News>>,
        forwarded: Mutex<Vec<Signed>>,
    }

    impl FakeHost {
        fn set(&self, address: &str, presence: Presence) {
            self.presence
                .lock()
                .unwrap()
                .insert(address.into(), presence);
        }
    }

    impl Host for FakeHost {
        fn presence(&self, address: &str) -> Presence {
            if address.starts_with("person:") {
                return Presence::Away;
            }
            *self
                .presence
                .lock()
                .unwrap()
                .get(address)
                .unwrap_or(&Presence::Unknown)
        }
        fn wake(&self, address: &str) -> Result<(), String> {
            self.woken.lock().unwrap().push(address.to_owned());
            self.presence
                .lock()
                .unwrap()
                .insert(address.to_owned(), Presence::Busy);
            Ok(())
        }
        fn told(&self, news: News) {
            self.news.lock().unwrap().push(news);
        }
        fn forward(&self, signed: &Signed) {
            self.forwarded.lock().unwrap().push(signed.clone());
        }
    }

    const ALICE: &str = "agent:ws1/alice";
    const BOB: &str = "agent:ws1/bob";

    fn post(dir: &std::path::Path) -> (Post, Arc<FakeHost>) {
        let host = Arc::new(FakeHost::default());
        for a in [ALICE, BOB] {
            host.set(a, Presence::Idle);
        }
        let mail =
            Mailboxes::open(Store::open_in_memory().unwrap(), &dir.join("keys"), NOW).unwrap();
        (Post::new(mail, host.clone(), Policy::default()), host)
    }

    fn draft(to: &str, priority: Priority, kind: Kind) -> Draft {
        Draft {
            to: to.into(),
            subject: "the parser".into(),
            payload: json!({"text": "why does it fail?"}),
            priority,
            kind,
            in_reply_to: None,
            expires_in: None,
        }
    }

    #[test]
    fn a_message_to_another_node_is_forwarded_and_received_there_once_with_its_senders_key() {
        const FAR: &str = "agent:ws9/far";
        let here = tempfile::tempdir().unwrap();
        let (post, host) = post(here.path());
        host.set(FAR, Presence::Remote);
        let sent = post
            .send(ALICE, draft(FAR, Priority::High, Kind::Request), NOW)
            .unwrap();
        assert!(
            host.woken.lock().unwrap().is_empty(),
            "woken there, not here"
        );
        assert_eq!(*host.forwarded.lock().unwrap(), std::slice::from_ref(&sent));
        let public = post.mailboxes().keys().public(&owner_of(ALICE)).unwrap();

        // The other node: FAR is idle there, and a high priority wakes it.
        let there = tempfile::tempdir().unwrap();
        let (far_post, far_host) = post_with(there.path(), &[(FAR, Presence::Idle)]);
        assert!(far_post.receive(&sent, &public, "a", NOW + 5).unwrap());
        assert_eq!(*far_host.woken.lock().unwrap(), [FAR]);
        let inbox = far_post.mailboxes().inbox(FAR, false, NOW + 5).unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].signed, sent);
        // Delivered again (at least once): taken once.
        assert!(!far_post.receive(&sent, &public, "a", NOW + 6).unwrap());
        assert_eq!(
            far_post
                .mailboxes()
                .inbox(FAR, false, NOW + 6)
                .unwrap()
                .len(),
            1
        );
        // Signed by a key that is not its sender's: refused, not stored.
        let mut forged = sent.clone();
        forged.envelope.id = "msg_forged".into();
        let other = far_post.mailboxes().keys().public("agent.ws9.far").unwrap();
        let refused = far_post.receive(&forged, &other, "a", NOW + 7);
        assert!(
            matches!(
                refused,
                Err(PostError::Mail(MailError::Refused(
                    crate::Refused::BadSignature { .. }
                )))
            ),
            "{refused:?}"
        );
        // For an agent that is not here: refused, naming it.
        let (lost_post, _) = post_with(there.path(), &[]);
        assert!(matches!(
            lost_post.receive(&sent, &public, "a", NOW + 8),
            Err(PostError::NoRecipient(_))
        ));
    }

    fn post_with(dir: &std::path::Path, here: &[(&str, Presence)]) -> (Post, Arc<FakeHost>) {
        let host = Arc::new(FakeHost::default());
        for (a, p) in here {
            host.set(a, *p);
        }
        let mail =
            Mailboxes::open(Store::open_in_memory().unwrap(), &dir.join("keys"), NOW).unwrap();
        (Post::new(mail, host.clone(), Policy::default()), host)
    }

    #[test]
    fn a_request_wakes_an_idle_agent_and_its_turn_carries_it_until_it_ends_well() {
        let dir = tempfile::tempdir().unwrap();
        let (post, host) = post(dir.path());
        let sent = post
            .send(ALICE, draft(BOB, Priority::Normal, Kind::Request), NOW)
            .unwrap();
        assert_eq!(*host.woken.lock().unwrap(), [BOB]);
        let prompt = post.turn_prompt(BOB, WAKE_PROMPT, NOW + 5);
        assert!(
            prompt.starts_with("[maestro] 1 new message for you"),
            "{prompt}"
        );
        assert!(prompt.contains(&sent.envelope.id), "{prompt}");
        assert!(prompt.contains("why does it fail?"), "{prompt}");
        assert!(prompt.ends_with(WAKE_PROMPT));
        // The turn failed: the next one carries it again.
        post.turn_ended(BOB, false, NOW + 10);
        assert!(
            post.turn_prompt(BOB, "go on", NOW + 20)
                .contains(&sent.envelope.id)
        );
        post.turn_ended(BOB, true, NOW + 30);
        assert_eq!(post.turn_prompt(BOB, "go on", NOW + 40), "go on");
        let inbox = post.mailboxes().inbox(BOB, false, NOW + 40).unwrap();
        assert!(inbox[0].delivered_at.is_some());
        assert!(inbox[0].read_at.is_none(), "delivered is not read");
    }

    #[test]
    fn a_notification_waits_for_the_next_turn_and_a_busy_agent_is_not_woken() {
        let dir = tempfile::tempdir().unwrap();
        let (post, host) = post(dir.path());
        post.send(ALICE, draft(BOB, Priority::Normal, Kind::Notification), NOW)
            .unwrap();
        assert!(host.woken.lock().unwrap().is_empty());
        host.set(BOB, Presence::Busy);
        post.send(ALICE, draft(BOB, Priority::Urgent, Kind::Alert), NOW + 1)
            .unwrap();
        assert!(host.woken.lock().unwrap().is_empty(), "busy: not woken");
        // The turn that was running ends (it carried neither): the urgent one wakes it.
        host.set(BOB, Presence::Idle);
        post.turn_ended(BOB, true, NOW + 2);
        assert_eq!(*host.woken.lock().unwrap(), [BOB]);
        let prompt = post.turn_prompt(BOB, WAKE_PROMPT, NOW + 3);
        assert!(prompt.starts_with("[maestro] 2 new messages"), "{prompt}");
        assert!(prompt.contains("(urgent priority, alert)"), "{prompt}");
    }

    #[test]
    fn an_agent_that_read_a_message_does_not_get_it_again_and_the_sender_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let (post, host) = post(dir.path());
        host.set(BOB, Presence::Away);
        let sent = post
            .send(ALICE, draft(BOB, Priority::High, Kind::Request), NOW)
            .unwrap();
        assert!(host.woken.lock().unwrap().is_empty(), "away: kept");
        let id = &sent.envelope.id;
        assert!(matches!(
            post.read("agent:ws1/mallory", id, 1.0),
            Err(PostError::Mail(MailError::NotYours { .. }))
        ));
        post.read(BOB, id, 2.0).unwrap();
        post.read(BOB, id, 3.0).unwrap();
        let reads = host
            .news
            .lock()
            .unwrap()
            .iter()
            .filter(|n| matches!(n, News::Read { at, .. } if *at == 2.0))
            .count();
        assert_eq!(reads, 1, "one receipt, at the first read");
        assert_eq!(post.turn_prompt(BOB, "hi", NOW + 1), "hi");
        // The sender sees when it was read.
        assert_eq!(post.read(ALICE, id, 9.0).unwrap().read_at, Some(2.0));
    }

    #[test]
    fn a_reply_joins_the_thread_and_bad_recipients_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (post, _) = post(dir.path());
        let first = post
            .send(ALICE, draft(BOB, Priority::Normal, Kind::Request), NOW)
            .unwrap();
        let mut reply = draft(ALICE, Priority::Normal, Kind::Response);
        reply.in_reply_to = Some(first.envelope.id.clone());
        let second = post.send(BOB, reply.clone(), NOW + 1).unwrap();
        assert_eq!(second.envelope.thread_id.as_ref(), Some(&first.envelope.id));
        // Mallory cannot join a thread she is not part of.
        assert!(post.send("agent:ws1/carol", reply, NOW + 2).is_err());
        let to_nobody = post.send(
            ALICE,
            draft("agent:ws1/nobody", Priority::Normal, Kind::Request),
            NOW,
        );
        assert!(
            matches!(&to_nobody, Err(PostError::NoRecipient(a)) if a == "agent:ws1/nobody"),
            "{to_nobody:?}"
        );
        assert!(
            post.send(ALICE, draft(ALICE, Priority::Normal, Kind::Request), NOW)
                .is_err()
        );
    }

    #[test]
    fn an_agent_without_tools_answers_the_requests_its_turn_carried_with_its_reply() {
        let dir = tempfile::tempdir().unwrap();
        let (post, _) = post(dir.path());
        let asked = post
            .send(ALICE, draft(BOB, Priority::Normal, Kind::Request), NOW)
            .unwrap();
        let mut note = draft(BOB, Priority::Low, Kind::Notification);
        note.subject = "fyi".into();
        post.send(ALICE, note, NOW + 1).unwrap();
        post.turn_prompt(BOB, WAKE_PROMPT, NOW + 2);
        post.turn_answered(BOB, "It fails on tabs.");
        post.turn_ended(BOB, true, NOW + 3);
        let replies = post.mailboxes().inbox(ALICE, false, NOW + 4).unwrap();
        assert_eq!(
            replies.len(),
            1,
            "the request is answered, the notification is not"
        );
        let e = &replies[0].signed.envelope;
        assert_eq!((e.from.as_str(), e.kind), (BOB, Kind::Response));
        assert_eq!(e.in_reply_to.as_ref(), Some(&asked.envelope.id));
        assert_eq!(e.subject, "Re: the parser");
        assert_eq!(e.payload, json!({"text": "It fails on tabs."}));
        // A failed turn answers nothing (its messages come again).
        post.send(ALICE, draft(BOB, Priority::Normal, Kind::Request), NOW + 5)
            .unwrap();
        post.turn_prompt(BOB, "go", NOW + 6);
        post.turn_answered(BOB, "half an answer");
        post.turn_ended(BOB, false, NOW + 7);
        assert_eq!(
            post.mailboxes().inbox(ALICE, false, NOW + 8).unwrap().len(),
            1
        );
    }

    #[test]
    fn an_expiry_beyond_any_clock_is_no_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let (post, _) = post(dir.path());
        let mut d = draft(BOB, Priority::Low, Kind::Notification);
        d.expires_in = Some(u64::MAX);
        let sent = post.send(ALICE, d, NOW).unwrap();
        assert_eq!(sent.envelope.expires_at, Some(u64::MAX));
    }

    #[test]
    fn wakes_are_bounded_per_hour() {
        let dir = tempfile::tempdir().unwrap();
        let (mut post, host) = post(dir.path());
        post.policy.wakes_per_hour = 2;
        for i in 0..4 {
            host.set(BOB, Presence::Idle);
            post.send(ALICE, draft(BOB, Priority::Urgent, Kind::Alert), NOW + i)
                .unwrap();
        }
        assert_eq!(host.woken.lock().unwrap().len(), 2);
        host.set(BOB, Presence::Idle);
        post.send(
            ALICE,
            draft(BOB, Priority::Urgent, Kind::Alert),
            NOW + 3_600_000,
        )
        .unwrap();
        assert_eq!(host.woken.lock().unwrap().len(), 3, "an hour later");
    }

    #[test]
    fn a_long_backlog_is_cut_and_the_rest_waits() {
        let dir = tempfile::tempdir().unwrap();
        let (post, host) = post(dir.path());
        host.set(BOB, Presence::Away);
        let mut d = draft(BOB, Priority::Low, Kind::Notification);
        d.payload = json!("x".repeat(10_000));
        for i in 0..5 {
            post.send(ALICE, d.clone(), NOW + i).unwrap();
        }
        let prompt = post.turn_prompt(BOB, "go", NOW + 10);
        assert!(
            prompt.starts_with("[maestro] 3 new messages for you (2 more"),
            "{}",
            &prompt[..80]
        );
        post.turn_ended(BOB, true, NOW + 20);
        let next = post.turn_prompt(BOB, "go", NOW + 30);
        assert!(
            next.starts_with("[maestro] 2 new messages for you:"),
            "{}",
            &next[..80]
        );
    }
}
