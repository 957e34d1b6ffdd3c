//! Group chats (ARCHITECTURE.md, "Group chat"): a moderator agent routes the person's message to
//! participants by `@name` mentions, they answer in parallel, the moderator mentions again or
//! writes the synthesis, bounded by a round cap, a per-turn timeout and a budget. The service owns
//! the chats and their entries in the store and asks a [`ChatHost`] for agents' turns; the pure
//! parts (mentions, prompts, the context a turn gets) are functions tested on their own.

use futures::future::BoxFuture;
use maestro_protocol::{ChatEntry, ChatEventParams, ChatInfo, ChatLogResult};
use maestro_store::{DataValue, Store, StoreError, params, unix_now};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

/// What a turn's prompt carries of the chat at most: the newest entries that fit.
pub const CONTEXT_KEPT: usize = 32 * 1024;

/// The author of the service's own notes.
pub const MAESTRO: &str = "maestro";
pub const PERSON: &str = "person";

/// What the chat service needs from the rest of maestro.
pub trait ChatHost: Send + Sync + 'static {
    /// Waits until a turn `agent` is in has ended (the agent can take a new one).
    fn wait_idle(&self, ws: &str, agent: &str) -> BoxFuture<'_, Result<(), String>>;
    /// Starts a turn of `agent` with `prompt`. Its reply comes back through
    /// [`Chats::turn_finished`].
    fn send(&self, ws: &str, agent: &str, prompt: &str) -> Result<(), String>;
    /// Stops `agent`'s turn (one that took too long).
    fn stop_turn(&self, ws: &str, agent: &str) -> BoxFuture<'_, ()>;
    /// Dollars `agent`'s turns cost so far (unpriced turns count nothing).
    fn spent(&self, ws: &str, agent: &str) -> f64;
    /// Keeps what was said in memory, searchable (an exchange's entries at its end).
    fn remember(&self, ws: &str, chat: &ChatInfo, entries: &[ChatEntry]);
    /// Tells the editors.
    fn told(&self, event: ChatEventParams);
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("no chat {0}: `maestro chat list` shows them")]
    NotFound(String),
    #[error("chat {0} is closed")]
    Closed(String),
    #[error(
        "chat {0} is still answering the last message: wait for its synthesis (`maestro chat log {0}`)"
    )]
    Busy(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new chat as the engine checked it (its members exist as agents).
#[derive(Debug, Clone)]
pub struct NewChat {
    pub ws: String,
    pub title: String,
    pub moderator: String,
    pub participants: Vec<String>,
    pub max_rounds: u32,
    pub turn_timeout: Duration,
    pub budget_usd: f64,
}

/// A chat as stored (`chat.record`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: String,
    ws: String,
    title: String,
    moderator: String,
    participants: Vec<String>,
    max_rounds: u32,
    turn_timeout_secs: u64,
    budget_usd: f64,
    spent_usd: f64,
    created: f64,
    closed: bool,
    entries: u32,
}

/// A chat in memory.
struct Live {
    record: Record,
    /// An exchange is running.
    talking: bool,
    thinking: BTreeSet<String>,
    /// Each agent's last entry seen (the context of its next turn starts after it).
    seen: HashMap<String, u32>,
    /// Told when an exchange ends.
    ended: Arc<Notify>,
    /// Closing cancels the exchange.
    cancel: Option<tokio::sync::watch::Sender<bool>>,
    /// What the running exchange said, remembered at its end in one batch.
    said: Vec<ChatEntry>,
}

/// How a turn ended, from the supervisor.
#[derive(Debug, Clone)]
struct TurnEnd {
    ok: bool,
    reply: String,
}

pub struct Chats {
    store: Store,
    host: Arc<dyn ChatHost>,
    chats: Mutex<HashMap<String, Live>>,
    /// Turns the chats wait for, by (workspace, agent).
    waiters: Mutex<HashMap<(String, String), oneshot::Sender<TurnEnd>>>,
}

const LOAD: &str = "?[id, record] := *chat{id, record}";
const PUT_CHAT: &str = r#"
?[id, ws, state, updated, record] <- [[$id, $ws, $state, $updated, $record]]
:put chat {id => ws, state, updated, record}
"#;
/// An entry and its chat's record (count, spending) in one transaction.
const PUT_ENTRY: &str = r#"
{
    ?[chat, seq, at, author, kind, round, text] <- [[$chat, $seq, $at, $author, $kind, $round, $text]]
    :put chat_entry {chat, seq => at, author, kind, round, text}
}
{
    ?[id, ws, state, updated, record] <- [[$chat, $ws, $state, $at, $record]]
    :put chat {id => ws, state, updated, record}
}
"#;
const ENTRIES: &str = r#"
?[seq, at, author, kind, round, text] := *chat_entry{chat: $chat, seq, at, author, kind, round, text}, seq > $after
:order seq
"#;

impl Chats {
    /// The chats of the store; an exchange a restart cut short is over (its entries stay).
    pub fn load(store: Store, host: Arc<dyn ChatHost>) -> Result<Arc<Chats>, StoreError> {
        let rows = store.read(LOAD, params([]))?;
        let mut chats = HashMap::new();
        for row in rows.rows {
            let (Some(id), Some(record)) = (row[0].get_str(), row[1].get_str()) else {
                continue;
            };
            match serde_json::from_str::<Record>(record) {
                Ok(record) => {
                    chats.insert(id.to_owned(), Live::new(record));
                }
                Err(e) => tracing::error!(chat = id, "a chat's record is unreadable: {e}"),
            }
        }
        Ok(Arc::new(Chats {
            store,
            host,
            chats: Mutex::new(chats),
            waiters: Mutex::new(HashMap::new()),
        }))
    }

    pub async fn create(&self, new: NewChat) -> Result<ChatInfo, ChatError> {
        let mut names = BTreeSet::new();
        for n in std::iter::once(&new.moderator).chain(&new.participants) {
            if !names.insert(n.to_lowercase()) {
                return Err(ChatError::Invalid(format!(
                    "`{n}` is named twice: the moderator and each participant are different agents"
                )));
            }
        }
        if new.participants.is_empty() {
            return Err(ChatError::Invalid(
                "a chat needs at least one participant besides its moderator".into(),
            ));
        }
        if new.max_rounds == 0 {
            return Err(ChatError::Invalid(
                "a chat's round cap is at least 1".into(),
            ));
        }
        let record = Record {
            id: crate::post::random_id("chat_", 6),
            ws: new.ws,
            title: new.title,
            moderator: new.moderator,
            participants: new.participants,
            max_rounds: new.max_rounds,
            turn_timeout_secs: new.turn_timeout.as_secs().max(1),
            budget_usd: new.budget_usd,
            spent_usd: 0.0,
            created: unix_now(),
            closed: false,
            entries: 0,
        };
        self.save(&record).await?;
        let live = Live::new(record);
        let info = live.info();
        self.chats.lock().unwrap().insert(info.id.clone(), live);
        Ok(info)
    }

    /// The id a (unique) prefix names.
    pub fn resolve(&self, id: &str) -> Result<String, ChatError> {
        let chats = self.chats.lock().unwrap();
        if chats.contains_key(id) {
            return Ok(id.to_owned());
        }
        let found: Vec<&String> = chats.keys().filter(|k| k.starts_with(id)).collect();
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ChatError::NotFound(id.to_owned())),
            _ => Err(ChatError::Invalid(format!(
                "`{id}` names {} chats: give more of the id",
                found.len()
            ))),
        }
    }

    pub fn info(&self, id: &str) -> Result<ChatInfo, ChatError> {
        let chats = self.chats.lock().unwrap();
        chats
            .get(id)
            .map(Live::info)
            .ok_or_else(|| ChatError::NotFound(id.to_owned()))
    }

    /// Chats of `ws` (all without), newest first; closed ones only when asked.
    pub fn list(&self, ws: Option<&str>, closed: bool) -> Vec<ChatInfo> {
        let chats = self.chats.lock().unwrap();
        let mut list: Vec<ChatInfo> = chats
            .values()
            .filter(|c| ws.is_none_or(|w| c.record.ws == w) && (closed || !c.record.closed))
            .map(Live::info)
            .collect();
        list.sort_by(|a, b| b.created.total_cmp(&a.created).then(a.id.cmp(&b.id)));
        list
    }

    /// The entries after `after`, the chat, and who is thinking.
    pub fn log(&self, id: &str, after: u32) -> Result<ChatLogResult, ChatError> {
        let (chat, thinking) = {
            let chats = self.chats.lock().unwrap();
            let live = chats
                .get(id)
                .ok_or_else(|| ChatError::NotFound(id.to_owned()))?;
            (live.info(), live.thinking.iter().cloned().collect())
        };
        let rows = self.store.read(
            ENTRIES,
            params([
                ("chat", DataValue::from(id)),
                ("after", DataValue::from(i64::from(after))),
            ]),
        )?;
        let entries = rows
            .rows
            .iter()
            .map(|r| ChatEntry {
                seq: r[0].get_int().unwrap_or(0) as u32,
                at: r[1].get_float().unwrap_or(0.0),
                author: r[2].get_str().unwrap_or_default().to_owned(),
                kind: r[3].get_str().unwrap_or_default().to_owned(),
                round: r[4].get_int().unwrap_or(0) as u32,
                text: r[5].get_str().unwrap_or_default().to_owned(),
            })
            .collect();
        Ok(ChatLogResult {
            chat,
            entries,
            thinking,
        })
    }

    /// The person's message: stored, then the exchange runs in the background. The answer is the
    /// person's entry.
    pub async fn say(self: &Arc<Self>, id: &str, text: &str) -> Result<ChatEntry, ChatError> {
        if text.trim().is_empty() {
            return Err(ChatError::Invalid(
                "say something: the message is empty".into(),
            ));
        }
        let cancelled = {
            let mut chats = self.chats.lock().unwrap();
            let live = chats
                .get_mut(id)
                .ok_or_else(|| ChatError::NotFound(id.to_owned()))?;
            if live.record.closed {
                return Err(ChatError::Closed(id.to_owned()));
            }
            if live.talking {
                return Err(ChatError::Busy(id.to_owned()));
            }
            live.talking = true;
            let (tx, rx) = tokio::sync::watch::channel(false);
            live.cancel = Some(tx);
            rx
        };
        let entry = match self.append(id, PERSON, "say", 0, text.trim()).await {
            Ok(e) => e,
            Err(e) => {
                self.end_exchange(id);
                return Err(e);
            }
        };
        let me = self.clone();
        let chat = id.to_owned();
        tokio::spawn(async move {
            let mut cancelled = cancelled;
            let closed = async move {
                let _ = cancelled.wait_for(|c| *c).await;
            };
            let result = tokio::select! {
                r = me.exchange(&chat) => r,
                () = closed => Ok(()),
            };
            if let Err(e) = result {
                tracing::error!(chat, "a chat's exchange failed: {e}");
                let note = format!("the exchange stopped: {e}");
                let _ = me.append(&chat, MAESTRO, "note", 0, &note).await;
            }
            me.end_exchange(&chat);
        });
        Ok(entry)
    }

    /// Waits until the chat's exchange (if one runs) is over.
    pub async fn wait(&self, id: &str) -> Result<(), ChatError> {
        loop {
            let ended = {
                let chats = self.chats.lock().unwrap();
                let live = chats
                    .get(id)
                    .ok_or_else(|| ChatError::NotFound(id.to_owned()))?;
                if !live.talking {
                    return Ok(());
                }
                live.ended.clone()
            };
            let notified = ended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self
                .chats
                .lock()
                .unwrap()
                .get(id)
                .is_some_and(|l| l.talking)
            {
                return Ok(());
            }
            notified.await;
        }
    }

    /// Closes a chat: its exchange stops, the turns it waits for are stopped.
    pub async fn close(&self, id: &str) -> Result<ChatInfo, ChatError> {
        let (record, thinking, ws) = {
            let mut chats = self.chats.lock().unwrap();
            let live = chats
                .get_mut(id)
                .ok_or_else(|| ChatError::NotFound(id.to_owned()))?;
            live.record.closed = true;
            if let Some(c) = live.cancel.take() {
                let _ = c.send(true);
            }
            (
                live.record.clone(),
                std::mem::take(&mut live.thinking),
                live.record.ws.clone(),
            )
        };
        for agent in &thinking {
            // Only a turn the chat started (it waits for its reply), not one of the agent's own.
            let ours = self
                .waiters
                .lock()
                .unwrap()
                .remove(&(ws.clone(), agent.clone()))
                .is_some();
            if ours {
                self.host.stop_turn(&ws, agent).await;
            }
        }
        self.save(&record).await?;
        self.host.told(ChatEventParams {
            chat: id.to_owned(),
            event: "closed".into(),
            entry: None,
            thinking: Vec::new(),
        });
        self.info(id)
    }

    /// A headless turn ended with `reply` (the supervisor's `turn_finished`).
    pub fn turn_finished(&self, ws: &str, agent: &str, ok: bool, reply: &str) {
        self.turn_ended(ws, agent, ok, reply.to_owned());
    }

    /// A turn's process is gone (the supervisor's `turn_over`): a turn that ended before it could
    /// report a reply (it did not start) is a failure.
    pub fn turn_over(&self, ws: &str, agent: &str, state: &str) {
        self.turn_ended(
            ws,
            agent,
            false,
            format!("its turn ended {state} without a reply"),
        );
    }

    /// Gives the chat waiting for `agent`'s turn (if one does) how it ended.
    fn turn_ended(&self, ws: &str, agent: &str, ok: bool, reply: String) {
        let waiter = self
            .waiters
            .lock()
            .unwrap()
            .remove(&(ws.to_owned(), agent.to_owned()));
        if let Some(tx) = waiter {
            let _ = tx.send(TurnEnd { ok, reply });
        }
    }

    fn end_exchange(&self, id: &str) {
        let (ended, said, info) = {
            let mut chats = self.chats.lock().unwrap();
            let Some(live) = chats.get_mut(id) else {
                return;
            };
            live.talking = false;
            live.thinking.clear();
            live.cancel = None;
            (
                live.ended.clone(),
                std::mem::take(&mut live.said),
                live.info(),
            )
        };
        if !said.is_empty() {
            self.host.remember(&info.workspace, &info, &said);
        }
        ended.notify_waiters();
        self.host.told(ChatEventParams {
            chat: id.to_owned(),
            event: "done".into(),
            entry: None,
            thinking: Vec::new(),
        });
    }

    /// One exchange: the moderator, rounds of mentioned participants, the synthesis.
    async fn exchange(self: &Arc<Self>, id: &str) -> Result<(), ChatError> {
        let record = self.record(id)?;
        let moderator = record.moderator.clone();
        let mut round = 0;
        let Some(mut reply) = self.moderate(id, &moderator, round, false).await? else {
            return Ok(());
        };
        loop {
            let mentioned = mentions(&reply, &record.participants);
            if mentioned.is_empty() {
                self.append(id, &moderator, "synthesis", round, &reply)
                    .await?;
                return Ok(());
            }
            round += 1;
            self.append(id, &moderator, "route", round, &reply).await?;
            if let Some(note) = self.over_budget(id)? {
                self.append(id, MAESTRO, "note", round, &note).await?;
                return Ok(());
            }
            let answers = mentioned.iter().map(|p| {
                let me = self.clone();
                async move {
                    match me.turn(id, p, Role::Participant).await {
                        Ok(text) => me.append(id, p, "answer", round, &text).await,
                        Err(e) => {
                            me.append(id, MAESTRO, "failed", round, &format!("@{p} {e}"))
                                .await
                        }
                    }
                }
            });
            for r in futures::future::join_all(answers).await {
                r?;
            }
            if let Some(note) = self.over_budget(id)? {
                self.append(id, MAESTRO, "note", round, &note).await?;
                return Ok(());
            }
            let last = round >= record.max_rounds;
            let Some(next) = self.moderate(id, &moderator, round, last).await? else {
                return Ok(());
            };
            reply = next;
            if last {
                self.append(id, &moderator, "synthesis", round, &reply)
                    .await?;
                if !mentions(&reply, &record.participants).is_empty() {
                    self.append(
                        id,
                        MAESTRO,
                        "note",
                        round,
                        &format!(
                            "the round cap ({}) is reached: the moderator's last word ends the exchange",
                            record.max_rounds
                        ),
                    )
                    .await?;
                }
                return Ok(());
            }
        }
    }

    /// The moderator's turn: its reply, or `None` when it failed (said in the chat).
    async fn moderate(
        self: &Arc<Self>,
        id: &str,
        moderator: &str,
        round: u32,
        last: bool,
    ) -> Result<Option<String>, ChatError> {
        match self
            .turn(id, moderator, Role::Moderator { round, last })
            .await
        {
            Ok(reply) => Ok(Some(reply)),
            Err(e) => {
                self.append(id, MAESTRO, "failed", round, &format!("@{moderator} {e}"))
                    .await?;
                Ok(None)
            }
        }
    }

    /// A note when the chat spent its budget.
    fn over_budget(&self, id: &str) -> Result<Option<String>, ChatError> {
        let r = self.record(id)?;
        Ok(
            (r.budget_usd > 0.0 && r.spent_usd >= r.budget_usd).then(|| {
                format!(
                    "the budget (${:.2}) is spent (${:.4}): the exchange ends here",
                    r.budget_usd, r.spent_usd
                )
            }),
        )
    }

    fn record(&self, id: &str) -> Result<Record, ChatError> {
        let chats = self.chats.lock().unwrap();
        chats
            .get(id)
            .map(|l| l.record.clone())
            .ok_or_else(|| ChatError::NotFound(id.to_owned()))
    }

    /// One agent's turn in the chat: its prompt, the reply, what it cost; a failure or a timeout
    /// as the message to report.
    async fn turn(self: &Arc<Self>, id: &str, agent: &str, role: Role) -> Result<String, String> {
        let (prompt, ws, timeout) = {
            let record = self.record(id).map_err(|e| e.to_string())?;
            let after = self
                .chats
                .lock()
                .unwrap()
                .get(id)
                .and_then(|l| l.seen.get(agent).copied())
                .unwrap_or(0);
            // What the agent said is in its own session already.
            let entries: Vec<ChatEntry> = self
                .log(id, after)
                .map_err(|e| e.to_string())?
                .entries
                .into_iter()
                .filter(|e| e.author != agent)
                .collect();
            if let Some(last) = entries.last()
                && let Some(live) = self.chats.lock().unwrap().get_mut(id)
            {
                live.seen.insert(agent.to_owned(), last.seq);
            }
            let info = Live::new(record.clone()).info();
            (
                prompt(&info, agent, role, &entries),
                record.ws.clone(),
                Duration::from_secs(record.turn_timeout_secs),
            )
        };
        self.thinking(id, agent, true);
        let before = self.host.spent(&ws, agent);
        let key = (ws.clone(), agent.to_owned());
        // Whether the chat's turn started: a turn of the agent's own it waited for is not stopped.
        let sent = std::sync::atomic::AtomicBool::new(false);
        let result = tokio::time::timeout(timeout, async {
            self.host.wait_idle(&ws, agent).await?;
            let (tx, rx) = oneshot::channel();
            self.waiters.lock().unwrap().insert(key.clone(), tx);
            self.host.send(&ws, agent, &prompt)?;
            sent.store(true, std::sync::atomic::Ordering::SeqCst);
            rx.await.map_err(|_| "its turn was dropped".to_owned())
        })
        .await;
        self.waiters.lock().unwrap().remove(&key);
        let result = match result {
            Ok(Ok(end)) if end.ok => Ok(end.reply.trim().to_owned()),
            Ok(Ok(end)) if end.reply.trim().is_empty() => Err("failed".to_owned()),
            Ok(Ok(end)) => Err(format!("failed: {}", one_line(&end.reply))),
            Ok(Err(e)) => Err(format!("could not start a turn: {e}")),
            Err(_) if sent.load(std::sync::atomic::Ordering::SeqCst) => {
                self.host.stop_turn(&ws, agent).await;
                Err(format!(
                    "did not answer within {} s (its turn was stopped)",
                    timeout.as_secs()
                ))
            }
            Err(_) => Err(format!(
                "was busy with work of its own for {} s: not asked",
                timeout.as_secs()
            )),
        };
        let cost = (self.host.spent(&ws, agent) - before).max(0.0);
        {
            let mut chats = self.chats.lock().unwrap();
            if let Some(live) = chats.get_mut(id) {
                live.record.spent_usd += cost;
            }
        }
        self.thinking(id, agent, false);
        match result {
            Ok(reply) if reply.is_empty() => Err("answered with nothing".to_owned()),
            other => other,
        }
    }

    fn thinking(&self, id: &str, agent: &str, on: bool) {
        let thinking = {
            let mut chats = self.chats.lock().unwrap();
            let Some(live) = chats.get_mut(id) else {
                return;
            };
            if on {
                live.thinking.insert(agent.to_owned());
            } else {
                live.thinking.remove(agent);
            }
            live.thinking.iter().cloned().collect()
        };
        self.host.told(ChatEventParams {
            chat: id.to_owned(),
            event: "thinking".into(),
            entry: None,
            thinking,
        });
    }

    /// Adds an entry: stored with the chat's new count and spending, remembered, told.
    async fn append(
        &self,
        id: &str,
        author: &str,
        kind: &str,
        round: u32,
        text: &str,
    ) -> Result<ChatEntry, ChatError> {
        let (entry, record, thinking) = {
            let mut chats = self.chats.lock().unwrap();
            let live = chats
                .get_mut(id)
                .ok_or_else(|| ChatError::NotFound(id.to_owned()))?;
            live.record.entries += 1;
            let entry = ChatEntry {
                seq: live.record.entries,
                at: unix_now(),
                author: author.to_owned(),
                kind: kind.to_owned(),
                round,
                text: text.to_owned(),
            };
            if kind != "note" {
                live.said.push(entry.clone());
            }
            (
                entry,
                live.record.clone(),
                live.thinking.iter().cloned().collect::<Vec<_>>(),
            )
        };
        self.store
            .queue_write(
                PUT_ENTRY,
                params([
                    ("chat", DataValue::from(id)),
                    ("seq", DataValue::from(i64::from(entry.seq))),
                    ("at", DataValue::from(entry.at)),
                    ("author", DataValue::from(author)),
                    ("kind", DataValue::from(kind)),
                    ("round", DataValue::from(i64::from(round))),
                    ("text", DataValue::from(text)),
                    ("ws", DataValue::from(record.ws.as_str())),
                    ("state", DataValue::from(state_of(&record))),
                    (
                        "record",
                        DataValue::from(serde_json::to_string(&record).expect("serializes")),
                    ),
                ]),
            )
            .done()
            .await?;
        self.host.told(ChatEventParams {
            chat: id.to_owned(),
            event: "entry".into(),
            entry: Some(entry.clone()),
            thinking,
        });
        Ok(entry)
    }

    async fn save(&self, record: &Record) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).expect("a chat record serializes");
        self.store
            .queue_write(
                PUT_CHAT,
                params([
                    ("id", DataValue::from(record.id.as_str())),
                    ("ws", DataValue::from(record.ws.as_str())),
                    ("state", DataValue::from(state_of(record))),
                    ("updated", DataValue::from(unix_now())),
                    ("record", DataValue::from(json)),
                ]),
            )
            .done()
            .await
            .map(drop)
    }
}

/// A chat's `state` column.
fn state_of(record: &Record) -> &'static str {
    if record.closed { "closed" } else { "open" }
}

impl Live {
    fn new(record: Record) -> Live {
        Live {
            record,
            talking: false,
            thinking: BTreeSet::new(),
            seen: HashMap::new(),
            ended: Arc::new(Notify::new()),
            cancel: None,
            said: Vec::new(),
        }
    }

    fn info(&self) -> ChatInfo {
        let r = &self.record;
        ChatInfo {
            id: r.id.clone(),
            workspace: r.ws.clone(),
            title: r.title.clone(),
            moderator: r.moderator.clone(),
            participants: r.participants.clone(),
            state: if r.closed {
                "closed"
            } else if self.talking {
                "talking"
            } else {
                "open"
            }
            .into(),
            max_rounds: r.max_rounds,
            turn_timeout_secs: r.turn_timeout_secs,
            budget_usd: r.budget_usd,
            spent_usd: r.spent_usd,
            created: r.created,
            entries: r.entries,
        }
    }
}

/// Who a turn is for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// `round` rounds ran; `last`: the cap is reached, the synthesis is asked for.
    Moderator {
        round: u32,
        last: bool,
    },
    Participant,
}

/// The participants `text` mentions (`@name`, not inside a word or an e-mail address), in the
/// order of the chat, each once; names compare without case.
pub fn mentions(text: &str, participants: &[String]) -> Vec<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('@') {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            continue;
        }
        let name: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let name = name.trim_end_matches(['.', '-']);
        if let Some(p) = participants.iter().find(|p| p.eq_ignore_ascii_case(name)) {
            found.insert(p.clone());
        }
    }
    participants
        .iter()
        .filter(|p| found.contains(*p))
        .cloned()
        .collect()
}

/// The chat since an agent's last turn, as lines, cut to the newest [`CONTEXT_KEPT`] bytes.
fn context(entries: &[ChatEntry]) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut size = 0;
    for e in entries.iter().rev() {
        let who = match e.author.as_str() {
            PERSON => "the person".to_owned(),
            MAESTRO => "maestro".to_owned(),
            a => format!("@{a}"),
        };
        let line = format!("[{who}] {}", e.text);
        if size + line.len() > CONTEXT_KEPT {
            lines.push("[…earlier entries left out]".into());
            break;
        }
        size += line.len() + 1;
        lines.push(line);
    }
    lines.reverse();
    lines.join("\n")
}

/// The prompt of `agent`'s turn.
fn prompt(chat: &ChatInfo, agent: &str, role: Role, entries: &[ChatEntry]) -> String {
    let title = if chat.title.is_empty() {
        String::new()
    } else {
        format!(" \"{}\"", chat.title)
    };
    let others: Vec<String> = chat.participants.iter().map(|p| format!("@{p}")).collect();
    let said = context(entries);
    match role {
        Role::Moderator { round, last } => {
            let ask = if last {
                format!(
                    "The round cap ({}) is reached: write the synthesis for the person now, mentioning no one.",
                    chat.max_rounds
                )
            } else {
                format!(
                    "To ask participants, mention them as @name in your reply: each one mentioned \
                     answers, all at once. When you have what you need, write the synthesis for \
                     the person and mention no one: that ends the exchange. Rounds so far: {round} \
                     of at most {}.",
                    chat.max_rounds
                )
            };
            format!(
                "You moderate the group chat{title} (id {}). Participants: {}.\n\
                 New in the chat:\n{said}\n\n{ask}",
                chat.id,
                others.join(", ")
            )
        }
        Role::Participant => format!(
            "You are @{agent} in the group chat{title} (id {}), moderated by @{}. Participants: {}.\n\
             New in the chat:\n{said}\n\n\
             The moderator asks you: answer in your reply (it goes to the chat as yours).",
            chat.id,
            chat.moderator,
            others.join(", ")
        ),
    }
}

fn one_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default();
    let mut cut = line.len().min(300);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    line[..cut].to_owned()
}

#[cfg(test)]
mod tests;
