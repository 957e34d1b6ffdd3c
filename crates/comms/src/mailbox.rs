//! Mailboxes in the store: a message is signed as its sender, verified (form, signature, expiry,
//! not seen before) and stored in one step; what is read back is verified again, so a row changed
//! in the store is refused rather than shown. A reader sees only what was sent to them (or, in a
//! thread, what they sent or were sent).

use crate::envelope::Envelope;
use crate::keys::{KeyError, Keyring, Refused, Signed, Verifier};
use maestro_store::{DataValue, NamedRows, Store, StoreError, params};
use std::path::Path;
use std::sync::Mutex;

/// The ids of the messages made within the replay window (`$since`, Unix ms).
const RECENT_IDS: &str =
    "?[id, created_at] := *message:by_created{created_at, id}, created_at >= $since";

const INBOX: &str = r#"
?[created_at, id, signed, read_at, delivered_at] :=
    *message:by_recipient{recipient: $recipient, created_at, id},
    *message{id, signed, read_at},
    *message_delivered{id, at: delivered_at}
?[created_at, id, signed, read_at, delivered_at] :=
    *message:by_recipient{recipient: $recipient, created_at, id},
    *message{id, signed, read_at},
    not *message_delivered{id},
    delivered_at = null
:order created_at, id
"#;

/// What a page of an inbox is chosen from: every message to `$recipient`, without its payload.
const INBOX_KEYS: &str = r#"
?[created_at, id, read_at, expires_at] :=
    *message:by_recipient{recipient: $recipient, created_at, id},
    *message{id, read_at, expires_at}
"#;

/// The stored messages `$ids`, and when each was delivered (null: not yet).
const SIGNED_OF: &str = r#"
d[id, at] := id in $ids, *message_delivered{id, at}
d[id, at] := id in $ids, not *message_delivered{id}, at = null
?[id, signed, read_at, delivered_at] := id in $ids, *message{id, signed, read_at}, d[id, delivered_at]
"#;

/// One page of an inbox, newest first, with the counts of the whole.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxPage {
    pub messages: Vec<Delivered>,
    /// Messages matching (unread ones, or all), expired ones left out.
    pub total: usize,
    pub unread: usize,
}

const MARK_DELIVERED: &str = r#"
?[id, at] := id in $ids, at = $at
:put message_delivered {id => at}
"#;

const ONE: &str = r#"
?[recipient, signed, read_at, sender] := id = $id, *message{id, sender, recipient, signed, read_at}
"#;

const MARK_READ: &str = r#"
?[id, read_at] <- [[$id, $at]]
:update message {id => read_at}
"#;

const THREAD: &str = r#"
?[created_at, id, sender, recipient, signed, read_at] :=
    *message:by_thread{thread: $thread, created_at, id},
    *message{id, sender, recipient, signed, read_at}
:order created_at, id
"#;

/// A message as its reader gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub signed: Signed,
    /// Unix seconds, once its recipient read it (the sender sees it too: a read receipt).
    pub read_at: Option<f64>,
    /// Unix seconds, once it was part of a turn of its recipient that ended well.
    pub delivered_at: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("message {id}: not yours to read ({reader} neither sent nor received it)")]
    NotYours { id: String, reader: String },
    #[error("no message {0}")]
    Unknown(String),
    #[error("the message store: {0}")]
    Store(#[from] StoreError),
    #[error("message {id} in the store is damaged: {problem}")]
    Damaged { id: String, problem: String },
}

/// The messages of one maestro home.
pub struct Mailboxes {
    store: Store,
    keys: Keyring,
    verifier: Mutex<Verifier>,
    /// Senders' rows waiting for the next transaction (see [`Mailboxes::store_rows`]).
    group: Mutex<Group>,
    /// Told when a transaction of the group is done.
    written: std::sync::Condvar,
}

type Answer = std::sync::mpsc::Sender<Result<(), String>>;

#[derive(Default)]
struct Group {
    pending: Vec<(Vec<DataValue>, Answer)>,
    /// A sender is writing.
    writing: bool,
}

/// The key owner of an address: `agent:<ws>/<name>` → `agent.<ws>.<name>`, `person:<n>` →
/// `person.<n>` (the keyring refuses anything else as a file name).
pub fn owner_of(address: &str) -> String {
    address.replacen(':', ".", 1).replace('/', ".")
}

/// An agent's address.
pub fn agent_address(ws: &str, name: &str) -> String {
    format!("agent:{ws}/{name}")
}

/// The workspace and name of an agent's address.
pub fn agent_of(address: &str) -> Option<(&str, &str)> {
    address.strip_prefix("agent:")?.split_once('/')
}

impl From<Signed> for Delivered {
    /// A message just sent: not read, not delivered.
    fn from(signed: Signed) -> Delivered {
        Delivered {
            signed,
            read_at: None,
            delivered_at: None,
        }
    }
}

impl Delivered {
    /// The message as clients show it.
    pub fn info(&self) -> maestro_protocol::MessageInfo {
        let e = &self.signed.envelope;
        maestro_protocol::MessageInfo {
            id: e.id.clone(),
            from: e.from.clone(),
            to: e.to.clone(),
            subject: e.subject.clone(),
            priority: e.priority,
            kind: e.kind,
            thread_id: e.thread_id.clone().unwrap_or_else(|| e.id.clone()),
            in_reply_to: e.in_reply_to.clone(),
            created_at: e.created_at,
            expires_at: e.expires_at,
            text: crate::post::payload_text(&e.payload),
            payload: e.payload.clone(),
            read_at: self.read_at,
            delivered_at: self.delivered_at,
            verified: true,
        }
    }
}

impl Mailboxes {
    /// The keys messages are signed with (and agents' tokens).
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Mailboxes on `store`, keys under `keys`, at `now` (Unix ms); ids already stored are never
    /// accepted again (those made within the replay window are remembered, older ones would be
    /// stale).
    pub fn open(store: Store, keys: &Path, now: u64) -> Result<Mailboxes, MailError> {
        let since = now.saturating_sub(crate::keys::REPLAY_WINDOW_MS);
        let ids = store.read(
            RECENT_IDS,
            params([("since", DataValue::from(since as i64))]),
        )?;
        let seen = ids.rows.iter().filter_map(|r| {
            let id = r.first()?.get_str()?.to_owned();
            Some((id, r.get(1)?.get_int()? as u64))
        });
        Ok(Mailboxes {
            store,
            keys: Keyring::open(keys)?,
            verifier: Mutex::new(Verifier::with_seen(seen)),
            group: Mutex::default(),
            written: std::sync::Condvar::new(),
        })
    }

    /// Signs `envelope` as its sender, verifies it and stores it; `now` in Unix ms.
    pub fn send(&self, envelope: Envelope, now: u64) -> Result<Signed, MailError> {
        Ok(self.send_all(vec![envelope], now)?.remove(0))
    }

    /// [`Mailboxes::send`] for several messages (a message to several agents, a backlog), stored
    /// in one transaction: all or, at the first refused, none.
    pub fn send_all(&self, envelopes: Vec<Envelope>, now: u64) -> Result<Vec<Signed>, MailError> {
        let mut signed = Vec::with_capacity(envelopes.len());
        for e in envelopes {
            let owner = owner_of(&e.from);
            let s = self.keys.sign(&owner, e)?;
            signed.push((s, self.keys.public(&owner)?));
        }
        let pairs: Vec<(&Signed, &str)> = signed.iter().map(|(s, p)| (s, p.as_str())).collect();
        self.receive_all(&pairs, now)?;
        Ok(signed.into_iter().map(|(s, _)| s).collect())
    }

    /// Verifies and stores a message signed elsewhere by the holder of `public` (hex).
    pub fn receive(&self, signed: &Signed, public: &str, now: u64) -> Result<(), MailError> {
        self.receive_all(&[(signed, public)], now)
    }

    fn receive_all(&self, batch: &[(&Signed, &str)], now: u64) -> Result<(), MailError> {
        // Form and signatures first, outside the lock (the costly part); then ids are taken
        // while they are stored: a second copy arriving meanwhile is a replay.
        for (signed, public) in batch {
            Verifier::check(signed, public)?;
        }
        {
            let mut verifier = self.verifier.lock().unwrap();
            for (i, (signed, _)) in batch.iter().enumerate() {
                if let Err(e) = verifier.admit(signed, now) {
                    for (taken, _) in &batch[..i] {
                        verifier.forget(&taken.envelope.id);
                    }
                    return Err(e.into());
                }
            }
        }
        let opt = |v: Option<u64>| v.map_or(DataValue::Null, |n| DataValue::from(n as i64));
        let rows: Vec<DataValue> = batch
            .iter()
            .map(|(signed, _)| {
                let e = &signed.envelope;
                DataValue::List(vec![
                    DataValue::from(e.id.as_str()),
                    DataValue::from(e.from.as_str()),
                    DataValue::from(e.to.as_str()),
                    DataValue::from(e.thread_id.as_deref().unwrap_or(e.id.as_str())),
                    DataValue::from(e.created_at as i64),
                    opt(e.expires_at),
                    DataValue::from(serde_json::to_string(signed).expect("JSON").as_str()),
                ])
            })
            .collect();
        self.store_rows(rows).map_err(|e| {
            // Not stored: the ids may come again.
            let mut verifier = self.verifier.lock().unwrap();
            for (signed, _) in batch {
                verifier.forget(&signed.envelope.id);
            }
            MailError::Store(e)
        })
    }

    /// Stores `rows` durably, in one transaction with whatever other senders queued meanwhile
    /// (group commit): while one sender writes, the others' rows gather; when it is done, a
    /// sender whose rows were written returns with the answer, and one of the others writes
    /// everything that gathered.
    fn store_rows(&self, rows: Vec<DataValue>) -> Result<(), StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut state = self.group.lock().unwrap();
        state.pending.push((rows, tx));
        loop {
            if let Ok(answer) = rx.try_recv() {
                return answer.map_err(|detail| StoreError::Query { detail });
            }
            if !state.writing {
                break;
            }
            state = self.written.wait(state).unwrap();
        }
        state.writing = true;
        let batch = std::mem::take(&mut state.pending);
        drop(state);
        // Each row is a message whose id the verifier admitted (never stored before, and
        // taken until this write ends): an import, which puts without a script to plan.
        let all: Vec<Vec<DataValue>> = batch
            .iter()
            .flat_map(|(r, _)| r.iter().cloned())
            .map(|row| match row {
                DataValue::List(mut cells) => {
                    cells.push(DataValue::Null);
                    cells
                }
                other => vec![other],
            })
            .collect();
        let headers = [
            "id",
            "sender",
            "recipient",
            "thread",
            "created_at",
            "expires_at",
            "signed",
            "read_at",
        ];
        let answer = self
            .store
            .queue_import(vec![(
                "message",
                NamedRows::new(headers.map(String::from).to_vec(), all),
            )])
            .wait_in_place()
            .map_err(|e| e.to_string());
        for (_, tx) in batch {
            let _ = tx.send(answer.clone());
        }
        self.group.lock().unwrap().writing = false;
        self.written.notify_all();
        rx.try_recv()
            .unwrap_or_else(|_| Err("the write was lost".into()))
            .map_err(|detail| StoreError::Query { detail })
    }

    /// What was sent to `reader` (an address), oldest first; `unread` only, or all. Expired
    /// messages are left out.
    pub fn inbox(&self, reader: &str, unread: bool, now: u64) -> Result<Vec<Delivered>, MailError> {
        let rows = self
            .store
            .read(INBOX, params([("recipient", DataValue::from(reader))]))?;
        let mut out = Vec::new();
        for r in &rows.rows {
            let read_at = r[3].get_float();
            if unread && read_at.is_some() {
                continue;
            }
            let mut d = self.checked(&r[1], &r[2], read_at)?;
            d.delivered_at = r[4].get_float();
            if d.signed.envelope.expires_at.is_some_and(|t| t <= now) {
                continue;
            }
            out.push(d);
        }
        Ok(out)
    }

    /// A page of what was sent to `reader`, newest first: `unread` only, or all; expired
    /// messages left out. Only the page is read whole and verified, so a long inbox costs its
    /// keys, not its messages.
    pub fn inbox_page(
        &self,
        reader: &str,
        unread: bool,
        offset: usize,
        limit: usize,
        now: u64,
    ) -> Result<InboxPage, MailError> {
        let rows = self
            .store
            .read(INBOX_KEYS, params([("recipient", DataValue::from(reader))]))?;
        let mut keys: Vec<(i64, String, bool)> = rows
            .rows
            .iter()
            .filter(|r| r[3].get_int().is_none_or(|t| t as u64 > now))
            .map(|r| {
                let id = r[1].get_str().unwrap_or_default().to_owned();
                (r[0].get_int().unwrap_or(0), id, r[2].get_float().is_some())
            })
            .collect();
        let unread_count = keys.iter().filter(|(_, _, read)| !read).count();
        if unread {
            keys.retain(|(_, _, read)| !read);
        }
        keys.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
        let page: Vec<String> = keys
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(_, id, _)| id.clone())
            .collect();
        let ids = DataValue::List(page.iter().map(|i| DataValue::from(i.as_str())).collect());
        let found = self.store.read(SIGNED_OF, params([("ids", ids)]))?;
        let mut by_id = std::collections::HashMap::new();
        for r in &found.rows {
            let mut d = self.checked(&r[0], &r[1], r[2].get_float())?;
            d.delivered_at = r[3].get_float();
            by_id.insert(d.signed.envelope.id.clone(), d);
        }
        Ok(InboxPage {
            messages: page.iter().filter_map(|id| by_id.remove(id)).collect(),
            total: keys.len(),
            unread: unread_count,
        })
    }

    /// What `reader` has not read nor had in a turn yet, oldest first (expired ones left out).
    pub fn pending(&self, reader: &str, now: u64) -> Result<Vec<Delivered>, MailError> {
        let mut inbox = self.inbox(reader, true, now)?;
        inbox.retain(|d| d.delivered_at.is_none());
        Ok(inbox)
    }

    /// Marks messages as delivered (part of a turn that ended well), at `at` (Unix seconds).
    pub fn mark_delivered(&self, ids: &[String], at: f64) -> Result<(), MailError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = DataValue::List(ids.iter().map(|i| DataValue::from(i.as_str())).collect());
        self.store
            .queue_write(
                MARK_DELIVERED,
                params([("ids", ids), ("at", DataValue::from(at))]),
            )
            .wait_in_place()?;
        Ok(())
    }

    /// Message `id` for its recipient, marked read (`at`, Unix seconds) the first time; its
    /// sender sees it as it is (with when it was read).
    pub fn read(&self, reader: &str, id: &str, at: f64) -> Result<Delivered, MailError> {
        let mut d = self.message(reader, id)?;
        if d.read_at.is_none() && d.signed.envelope.to == reader {
            self.store
                .queue_write(
                    MARK_READ,
                    params([("id", DataValue::from(id)), ("at", DataValue::from(at))]),
                )
                .wait_in_place()?;
            d.read_at = Some(at);
        }
        Ok(d)
    }

    /// Message `id` as its sender or its recipient sees it (not marked read).
    pub fn message(&self, reader: &str, id: &str) -> Result<Delivered, MailError> {
        let rows = self
            .store
            .read(ONE, params([("id", DataValue::from(id))]))?;
        let row = rows
            .rows
            .first()
            .ok_or_else(|| MailError::Unknown(id.into()))?;
        if row[0].get_str() != Some(reader) && row[3].get_str() != Some(reader) {
            return Err(MailError::NotYours {
                id: id.into(),
                reader: reader.into(),
            });
        }
        self.checked(&DataValue::from(id), &row[1], row[2].get_float())
    }

    /// The messages of `thread` that `reader` sent or was sent, oldest first.
    pub fn thread(&self, reader: &str, thread: &str) -> Result<Vec<Delivered>, MailError> {
        let rows = self
            .store
            .read(THREAD, params([("thread", DataValue::from(thread))]))?;
        rows.rows
            .iter()
            .filter(|r| r[2].get_str() == Some(reader) || r[3].get_str() == Some(reader))
            .map(|r| self.checked(&r[1], &r[4], r[5].get_float()))
            .collect()
    }

    /// A stored message, its signature verified again against its sender's key.
    fn checked(
        &self,
        id: &DataValue,
        signed: &DataValue,
        read_at: Option<f64>,
    ) -> Result<Delivered, MailError> {
        let id = id.get_str().unwrap_or_default().to_owned();
        let damaged = |problem: String| MailError::Damaged {
            id: id.clone(),
            problem,
        };
        let signed: Signed = serde_json::from_str(signed.get_str().unwrap_or_default())
            .map_err(|e| damaged(e.to_string()))?;
        if signed.envelope.id != id {
            return Err(damaged(format!("it says it is {}", signed.envelope.id)));
        }
        // Signed here, or on another node of the mesh with the key it published.
        let keys = self.keys.keys_of(&owner_of(&signed.envelope.from))?;
        let mut checked = Ok(());
        for public in &keys {
            checked = Verifier::check(&signed, public);
            if checked.is_ok() {
                break;
            }
        }
        checked.map_err(|e| damaged(e.to_string()))?;
        Ok(Delivered {
            signed,
            read_at,
            delivered_at: None,
        })
    }
}

/// A message as an agent's archive holds it: signed, its marks, and the public key that
/// verified it here (its sender's).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Held {
    pub signed: Signed,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<f64>,
    pub sender_key: String,
}

/// What [`Mailboxes::adopt`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adopted {
    pub stored: usize,
    /// Already stored here (the same message cannot be in two inboxes).
    pub present: usize,
    /// Whose signature did not verify, or from a person with a key this machine does not hold.
    pub refused: usize,
}

/// Every message `$a` sent or was sent, with its marks.
const OF_ADDRESS: &str = r#"
m[id] := *message:by_recipient{recipient: $a, id}
m[id] := *message{id, sender}, sender == $a
d[id, at] := m[id], *message_delivered{id, at}
d[id, at] := m[id], not *message_delivered{id}, at = null
?[id, signed, read_at, delivered_at] := m[id], *message{id, signed, read_at}, d[id, delivered_at]
"#;

const PRESENT: &str = "?[id] := id in $ids, *message{id}";

const PUT_HELD: &str = r#"
{?[id, sender, recipient, thread, created_at, expires_at, signed, read_at] <- $rows
 :put message {id => sender, recipient, thread, created_at, expires_at, signed, read_at}}
{?[id, at] <- $delivered :put message_delivered {id => at}}
"#;

/// Read and delivered marks put back (a rollback): `$marks` for the messages the snapshot held,
/// `$later` (came after it) unread and undelivered.
const SET_MARKS: &str = r#"
{?[id, read_at] <- $marks :update message {id => read_at}}
{?[id, at] <- $delivered :put message_delivered {id => at}}
{?[id] <- $undelivered :rm message_delivered {id}}
"#;

impl Mailboxes {
    /// Every message `address` sent or was sent, verified, for its archive.
    pub fn of_address(&self, address: &str) -> Result<Vec<Held>, MailError> {
        let rows = self
            .store
            .read(OF_ADDRESS, params([("a", DataValue::from(address))]))?;
        let mut out = Vec::new();
        for r in &rows.rows {
            let d = self.checked(&r[0], &r[1], r[2].get_float())?;
            let keys = self.keys.keys_of(&owner_of(&d.signed.envelope.from))?;
            let Some(key) = keys
                .into_iter()
                .find(|k| Verifier::check(&d.signed, k).is_ok())
            else {
                continue;
            };
            out.push(Held {
                signed: d.signed,
                read_at: d.read_at,
                delivered_at: r[3].get_float(),
                sender_key: key,
            });
        }
        out.sort_by_key(|h| h.signed.envelope.created_at);
        Ok(out)
    }

    /// Stores an archive's messages of the agent that was `old` and is `new` here: each
    /// verified with the key the archive names for its sender (a message from a person only
    /// with a key this machine holds for that person: an archive cannot speak for the person),
    /// stored with `new` where it said `old`, its marks kept; the senders' keys are kept so
    /// the messages verify again when read. Messages stored here already are left as they are.
    pub fn adopt(&self, held: &[Held], old: &str, new: &str) -> Result<Adopted, MailError> {
        let mut done = Adopted::default();
        let ids = DataValue::List(
            held.iter()
                .map(|h| DataValue::from(h.signed.envelope.id.as_str()))
                .collect(),
        );
        let present: std::collections::HashSet<String> = self
            .store
            .read(PRESENT, params([("ids", ids)]))?
            .rows
            .iter()
            .filter_map(|r| r[0].get_str().map(str::to_owned))
            .collect();
        let (mut rows, mut delivered) = (Vec::new(), Vec::new());
        for h in held {
            let e = &h.signed.envelope;
            if present.contains(&e.id) {
                done.present += 1;
                continue;
            }
            let owner = owner_of(&e.from);
            let verified = if e.from.starts_with("person:") {
                self.keys
                    .keys_of(&owner)?
                    .iter()
                    .any(|k| Verifier::check(&h.signed, k).is_ok())
            } else {
                Verifier::check(&h.signed, &h.sender_key).is_ok()
            };
            if !verified {
                done.refused += 1;
                continue;
            }
            if !e.from.starts_with("person:") && !self.keys.knows(&owner, &h.sender_key)? {
                let node = format!(
                    "archive-{}",
                    h.sender_key.chars().take(16).collect::<String>()
                );
                self.keys.learn(&owner, &node, &h.sender_key)?;
            }
            let swap = |a: &str| {
                if a == old {
                    new.to_owned()
                } else {
                    a.to_owned()
                }
            };
            rows.push(DataValue::List(vec![
                DataValue::from(e.id.as_str()),
                DataValue::from(swap(&e.from).as_str()),
                DataValue::from(swap(&e.to).as_str()),
                DataValue::from(e.thread_id.as_deref().unwrap_or(e.id.as_str())),
                DataValue::from(e.created_at as i64),
                e.expires_at
                    .map_or(DataValue::Null, |t| DataValue::from(t as i64)),
                DataValue::from(serde_json::to_string(&h.signed).expect("JSON").as_str()),
                h.read_at.map_or(DataValue::Null, DataValue::from),
            ]));
            if let Some(at) = h.delivered_at {
                delivered.push(DataValue::List(vec![
                    DataValue::from(e.id.as_str()),
                    DataValue::from(at),
                ]));
            }
            done.stored += 1;
        }
        if !rows.is_empty() {
            self.store
                .queue_write(
                    PUT_HELD,
                    params([
                        ("rows", DataValue::List(rows)),
                        ("delivered", DataValue::List(delivered)),
                    ]),
                )
                .wait_in_place()?;
        }
        Ok(done)
    }

    /// Puts back the read and delivered marks of `address`'s messages as `held` has them;
    /// messages of `address` that `held` does not have (they came after) become unread.
    pub fn restore_marks(&self, address: &str, held: &[Held]) -> Result<(), MailError> {
        let now = self.of_address(address)?;
        let then: std::collections::HashMap<&str, &Held> = held
            .iter()
            .map(|h| (h.signed.envelope.id.as_str(), h))
            .collect();
        let (mut marks, mut delivered, mut undelivered) = (Vec::new(), Vec::new(), Vec::new());
        for m in now {
            // Only what `address` received has marks of its own.
            if m.signed.envelope.to != address && m.signed.envelope.from == address {
                continue;
            }
            let id = m.signed.envelope.id.as_str();
            let was = then.get(id);
            let read_at = was.and_then(|h| h.read_at);
            marks.push(DataValue::List(vec![
                DataValue::from(id),
                read_at.map_or(DataValue::Null, DataValue::from),
            ]));
            match was.and_then(|h| h.delivered_at) {
                Some(at) => delivered.push(DataValue::List(vec![
                    DataValue::from(id),
                    DataValue::from(at),
                ])),
                None => undelivered.push(DataValue::List(vec![DataValue::from(id)])),
            }
        }
        self.store
            .queue_write(
                SET_MARKS,
                params([
                    ("marks", DataValue::List(marks)),
                    ("delivered", DataValue::List(delivered)),
                    ("undelivered", DataValue::List(undelivered)),
                ]),
            )
            .wait_in_place()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::tests::envelope;

    const NOW: u64 = 1_765_000_000_500;

    fn mailboxes(dir: &Path) -> Mailboxes {
        Mailboxes::open(Store::open_in_memory().unwrap(), &dir.join("keys"), NOW).unwrap()
    }

    /// An agent's inbox leaves one home and comes into another under its new address: its
    /// messages verify there with the keys the archive names, read and delivered marks kept; a
    /// message claiming the person, signed by a key that home does not hold for the person, or
    /// one changed on the way, is refused; a second adoption stores nothing again; a rollback
    /// puts the marks back.
    #[test]
    fn an_inbox_moves_to_a_new_address_and_its_marks_come_back() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let here = mailboxes(one.path());
        here.send(envelope(), NOW).unwrap();
        here.read("agent:ws1/bob", "m-0001", 1_765_000_001.0)
            .unwrap();
        let mut from_person = envelope();
        from_person.id = "m-0002".into();
        from_person.from = "person:alice".into();
        here.send(from_person, NOW).unwrap();
        let mut changed = envelope();
        changed.id = "m-0003".into();
        here.send(changed, NOW).unwrap();
        let mut held = here.of_address("agent:ws1/bob").unwrap();
        assert_eq!(held.len(), 3);
        held[2].signed.envelope.subject = "changed on the way".into();

        let there = mailboxes(two.path());
        let done = there
            .adopt(&held, "agent:ws1/bob", "agent:ws2/bob")
            .unwrap();
        assert_eq!((done.stored, done.refused), (1, 2), "{done:?}");
        let inbox = there.inbox("agent:ws2/bob", false, NOW).unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].signed.envelope.id, "m-0001");
        assert_eq!(inbox[0].read_at, Some(1_765_000_001.0));
        assert!(there.inbox("agent:ws1/bob", false, NOW).unwrap().is_empty());
        let again = there
            .adopt(&held, "agent:ws1/bob", "agent:ws2/bob")
            .unwrap();
        assert_eq!(again.present, 1);

        // A rollback: what was unread then is unread again.
        let then = here.of_address("agent:ws1/bob").unwrap();
        here.read("agent:ws1/bob", "m-0002", 1_765_000_002.0)
            .unwrap();
        here.mark_delivered(&["m-0003".into()], 1_765_000_003.0)
            .unwrap();
        here.restore_marks("agent:ws1/bob", &then).unwrap();
        let now = here.of_address("agent:ws1/bob").unwrap();
        let marks = |all: &[Held]| -> Vec<(Option<f64>, Option<f64>)> {
            all.iter().map(|h| (h.read_at, h.delivered_at)).collect()
        };
        assert_eq!(marks(&now), marks(&then));
    }

    #[test]
    fn a_message_reaches_its_recipient_once_and_is_marked_read() {
        let dir = tempfile::tempdir().unwrap();
        let m = mailboxes(dir.path());
        let sent = m.send(envelope(), NOW).unwrap();
        let inbox = m.inbox("agent:ws1/bob", true, NOW).unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].signed, sent);
        assert!(m.inbox("agent:ws1/alice", false, NOW).unwrap().is_empty());
        let read = m.read("agent:ws1/bob", "m-0001", 1_765_000_001.0).unwrap();
        assert_eq!(read.read_at, Some(1_765_000_001.0));
        assert!(
            m.inbox("agent:ws1/bob", true, NOW).unwrap().is_empty(),
            "read: no longer unread"
        );
        assert_eq!(m.inbox("agent:ws1/bob", false, NOW).unwrap().len(), 1);
        // The same id again is a replay, and nothing more is stored.
        assert!(matches!(
            m.send(envelope(), NOW),
            Err(MailError::Refused(Refused::Replayed { .. }))
        ));
        assert_eq!(m.inbox("agent:ws1/bob", false, NOW).unwrap().len(), 1);
    }

    #[test]
    fn another_agent_cannot_read_a_message_nor_see_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let m = mailboxes(dir.path());
        m.send(envelope(), NOW).unwrap();
        let refused = m.read("agent:ws1/mallory", "m-0001", 0.0).unwrap_err();
        assert!(
            refused.to_string().contains("not yours to read"),
            "{refused}"
        );
        assert!(m.thread("agent:ws1/mallory", "m-0001").unwrap().is_empty());
        let mut reply = envelope();
        reply.id = "m-0002".into();
        reply.from = "agent:ws1/bob".into();
        reply.to = "agent:ws1/alice".into();
        reply.thread_id = Some("m-0001".into());
        reply.in_reply_to = Some("m-0001".into());
        reply.created_at += 10;
        m.send(reply, NOW).unwrap();
        let thread: Vec<String> = m
            .thread("agent:ws1/alice", "m-0001")
            .unwrap()
            .into_iter()
            .map(|d| d.signed.envelope.id)
            .collect();
        assert_eq!(thread, ["m-0001", "m-0002"]);
        assert!(matches!(
            m.read("agent:ws1/bob", "nope", 0.0),
            Err(MailError::Unknown(_))
        ));
    }

    #[test]
    fn a_row_changed_in_the_store_is_refused_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_memory().unwrap();
        let m = Mailboxes::open(store.clone(), &dir.path().join("keys"), NOW).unwrap();
        let sent = m.send(envelope(), NOW).unwrap();
        let mut forged = sent.clone();
        forged.envelope.subject = "transfer everything".into();
        store
            .queue_write(
                r#"?[id, sender, recipient, thread, created_at, expires_at, signed, read_at] <-
                    [[$id, 'agent:ws1/alice', 'agent:ws1/bob', $id, 1765000000000, null, $signed, null]]
                   :put message {id => sender, recipient, thread, created_at, expires_at, signed, read_at}"#,
                params([
                    ("id", DataValue::from("m-0001")),
                    (
                        "signed",
                        DataValue::from(serde_json::to_string(&forged).unwrap().as_str()),
                    ),
                ]),
            )
            .wait_in_place()
            .unwrap();
        let refused = m.inbox("agent:ws1/bob", false, NOW).unwrap_err();
        assert!(
            matches!(&refused, MailError::Damaged { id, .. } if id == "m-0001"),
            "{refused}"
        );
        assert!(refused.to_string().contains("signature"), "{refused}");
        assert!(m.read("agent:ws1/bob", "m-0001", 0.0).is_err());
        assert_ne!(forged, sent);
    }

    #[test]
    fn ids_stored_before_a_restart_are_still_replays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maestro.db");
        {
            let m = Mailboxes::open(Store::open(&path).unwrap(), &dir.path().join("keys"), NOW)
                .unwrap();
            m.send(envelope(), NOW).unwrap();
        }
        let m =
            Mailboxes::open(Store::open(&path).unwrap(), &dir.path().join("keys"), NOW).unwrap();
        assert!(matches!(
            m.send(envelope(), NOW),
            Err(MailError::Refused(Refused::Replayed { .. }))
        ));
        assert_eq!(m.inbox("agent:ws1/bob", false, NOW).unwrap().len(), 1);
    }

    #[test]
    fn several_messages_are_stored_all_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let m = mailboxes(dir.path());
        let to = |i: u32, who: &str| {
            let mut e = envelope();
            e.id = format!("b-{i}");
            e.to = format!("agent:ws1/{who}");
            e
        };
        m.send_all(vec![to(1, "bob"), to(2, "carol")], NOW).unwrap();
        assert_eq!(m.inbox("agent:ws1/carol", false, NOW).unwrap().len(), 1);
        // The second is a replay: neither is stored, and the first may still come.
        let refused = m.send_all(vec![to(3, "bob"), to(2, "carol")], NOW);
        assert!(matches!(
            refused,
            Err(MailError::Refused(Refused::Replayed { .. }))
        ));
        assert_eq!(m.inbox("agent:ws1/bob", false, NOW).unwrap().len(), 1);
        m.send(to(3, "bob"), NOW).unwrap();
    }

    #[test]
    fn senders_at_once_share_transactions_and_each_message_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maestro.db");
        let m =
            Mailboxes::open(Store::open(&path).unwrap(), &dir.path().join("keys"), NOW).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let m = &m;
                s.spawn(move || {
                    for i in 0..50 {
                        let mut e = envelope();
                        e.id = format!("c-{t}-{i}");
                        m.send(e, NOW).unwrap();
                    }
                });
            }
        });
        let inbox = m.inbox("agent:ws1/bob", false, NOW).unwrap();
        assert_eq!(inbox.len(), 400);
        let ids: std::collections::BTreeSet<_> =
            inbox.iter().map(|d| d.signed.envelope.id.clone()).collect();
        assert_eq!(ids.len(), 400);
    }

    #[test]
    fn an_inbox_page_is_the_newest_with_counts_of_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let m = mailboxes(dir.path());
        for i in 0..5u64 {
            let mut e = envelope();
            e.id = format!("p-{i}");
            e.created_at += i;
            m.send(e, NOW).unwrap();
        }
        m.read("agent:ws1/bob", "p-4", 1.0).unwrap();
        let page = m.inbox_page("agent:ws1/bob", false, 1, 2, NOW).unwrap();
        let ids: Vec<&str> = page
            .messages
            .iter()
            .map(|d| d.signed.envelope.id.as_str())
            .collect();
        assert_eq!(ids, ["p-3", "p-2"]);
        assert_eq!((page.total, page.unread), (5, 4));
        let unread = m.inbox_page("agent:ws1/bob", true, 0, 10, NOW).unwrap();
        assert_eq!(unread.messages.len(), 4);
        assert!(unread.messages.iter().all(|d| d.read_at.is_none()));
        assert_eq!(
            m.inbox_page("agent:ws1/carol", false, 0, 10, NOW)
                .unwrap()
                .total,
            0
        );
    }

    #[test]
    fn expired_messages_leave_the_inbox() {
        let dir = tempfile::tempdir().unwrap();
        let m = mailboxes(dir.path());
        let mut e = envelope();
        e.expires_at = Some(NOW + 1000);
        m.send(e, NOW).unwrap();
        assert_eq!(m.inbox("agent:ws1/bob", false, NOW).unwrap().len(), 1);
        assert!(
            m.inbox("agent:ws1/bob", false, NOW + 1000)
                .unwrap()
                .is_empty()
        );
    }
}
