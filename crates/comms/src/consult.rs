//! @agent consults (ARCHITECTURE.md, "Consults"): agent A (or the person, in a prompt to A)
//! asks agent B; B answers in a consult session of its own, one per thread, so a follow-up in the
//! thread continues it, with the end of A's transcript as context; the answer goes back to A as
//! a message from B and shows, attributed, in A's transcript. The service keeps the threads
//! (relation `consult`) and asks a [`ConsultHost`] for the transcript, the turn and the answer's
//! delivery.

use futures::future::BoxFuture;
use maestro_store::{DataValue, Store, StoreError, params, unix_now};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// How much of the asker's transcript a consult carries: its end, this many bytes at most.
pub const TRANSCRIPT_KEPT: usize = 8 * 1024;

/// What the consult service needs from the rest of maestro.
pub trait ConsultHost: Send + Sync + 'static {
    /// The end of `agent`'s transcript, at most `max` bytes.
    fn transcript(&self, ws: &str, agent: &str, max: usize) -> String;
    /// A consult turn of `consultant`, continuing `session` when given: its reply and session.
    fn turn(
        &self,
        ws: &str,
        consultant: &str,
        prompt: String,
        session: Option<String>,
    ) -> BoxFuture<'_, Result<(String, Option<String>), String>>;
    /// Gives the answer to the asker: a message from the consultant (its id), a line in the
    /// asker's transcript.
    fn answer(&self, answer: &Consulted) -> BoxFuture<'_, Result<String, String>>;
}

#[derive(Debug, thiserror::Error)]
pub enum ConsultError {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "consult thread {0} is still answering its last question: ask again once it has answered"
    )]
    Busy(String),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A consult as it was answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Consulted {
    pub ws: String,
    pub thread: String,
    pub asker: String,
    pub consultant: String,
    pub question: String,
    pub reply: String,
    /// The message that carried the answer to the asker.
    pub message: Option<String>,
}

pub struct Consults {
    store: Store,
    host: Arc<dyn ConsultHost>,
    /// (thread, consultant) pairs answering now: one session runs one turn at a time.
    running: Mutex<HashSet<(String, String)>>,
}

const THREAD: &str = r#"
?[ws, asker, session, turns] := *consult{thread: $thread, consultant: $consultant, ws, asker, session, turns}
"#;
const PUT: &str = r#"
?[thread, consultant, ws, asker, session, at, turns] <- [[$thread, $consultant, $ws, $asker, $session, $at, $turns]]
:put consult {thread, consultant => ws, asker, session, at, turns}
"#;

impl Consults {
    pub fn new(store: Store, host: Arc<dyn ConsultHost>) -> Arc<Consults> {
        Arc::new(Consults {
            store,
            host,
            running: Mutex::new(HashSet::new()),
        })
    }

    /// `asker` asks `consultant` `question`, in `thread` (a follow-up) or a new one.
    pub async fn ask(
        &self,
        ws: &str,
        asker: &str,
        consultant: &str,
        question: &str,
        thread: Option<&str>,
    ) -> Result<Consulted, ConsultError> {
        if asker == consultant {
            return Err(ConsultError::Invalid(format!(
                "`{asker}` cannot consult itself: name another agent"
            )));
        }
        if question.trim().is_empty() {
            return Err(ConsultError::Invalid("the question is empty".into()));
        }
        let (thread, session, turns) = match thread {
            None => (crate::post::random_id("consult_", 6), None, 0),
            Some(t) => {
                let rows = self.store.read(
                    THREAD,
                    params([
                        ("thread", DataValue::from(t)),
                        ("consultant", DataValue::from(consultant)),
                    ]),
                )?;
                let Some(row) = rows.rows.first() else {
                    return Err(ConsultError::Invalid(format!(
                        "no consult thread {t} with `{consultant}`: leave the thread out to start one"
                    )));
                };
                if row[0].get_str() != Some(ws) || row[1].get_str() != Some(asker) {
                    return Err(ConsultError::Invalid(format!(
                        "consult thread {t} is another agent's"
                    )));
                }
                (
                    t.to_owned(),
                    row[2].get_str().map(str::to_owned),
                    row[3].get_int().unwrap_or(0),
                )
            }
        };
        let key = (thread.clone(), consultant.to_owned());
        if !self.running.lock().unwrap().insert(key.clone()) {
            return Err(ConsultError::Busy(thread));
        }
        let result = self
            .run(ws, asker, consultant, question, &thread, session, turns)
            .await;
        self.running.lock().unwrap().remove(&key);
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        ws: &str,
        asker: &str,
        consultant: &str,
        question: &str,
        thread: &str,
        session: Option<String>,
        turns: i64,
    ) -> Result<Consulted, ConsultError> {
        let transcript = self.host.transcript(ws, asker, TRANSCRIPT_KEPT);
        let prompt = prompt(asker, thread, question, &transcript, session.is_some());
        let (reply, new_session) = self
            .host
            .turn(ws, consultant, prompt, session.clone())
            .await
            .map_err(ConsultError::Failed)?;
        self.store
            .queue_write(
                PUT,
                params([
                    ("thread", DataValue::from(thread)),
                    ("consultant", DataValue::from(consultant)),
                    ("ws", DataValue::from(ws)),
                    ("asker", DataValue::from(asker)),
                    (
                        "session",
                        new_session
                            .or(session)
                            .map_or(DataValue::Null, DataValue::from),
                    ),
                    ("at", DataValue::from(unix_now())),
                    ("turns", DataValue::from(turns + 1)),
                ]),
            )
            .done()
            .await?;
        let mut consulted = Consulted {
            ws: ws.to_owned(),
            thread: thread.to_owned(),
            asker: asker.to_owned(),
            consultant: consultant.to_owned(),
            question: question.trim().to_owned(),
            reply: reply.trim().to_owned(),
            message: None,
        };
        if consulted.reply.is_empty() {
            return Err(ConsultError::Failed(format!(
                "`{consultant}` answered the consult with nothing"
            )));
        }
        consulted.message = Some(
            self.host
                .answer(&consulted)
                .await
                .map_err(ConsultError::Failed)?,
        );
        Ok(consulted)
    }
}

/// The consultant's prompt: who asks, the question, and (first in a thread) what the asker has
/// been doing.
fn prompt(asker: &str, thread: &str, question: &str, transcript: &str, follow_up: bool) -> String {
    let context = if follow_up || transcript.trim().is_empty() {
        String::new()
    } else {
        format!("\n\nWhat @{asker} has been doing (the end of its transcript):\n{transcript}")
    };
    format!(
        "@{asker} consults you (consult thread {thread}){}:\n{}{context}\n\n\
         Answer @{asker} in your reply: it goes back to them as your message. Do not change files.",
        if follow_up { ", following up" } else { "" },
        question.trim()
    )
}

/// The end of a transcript, at most `max` bytes, from a line's start.
pub fn transcript_end(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let tail = &text[start..];
    match tail.find('\n') {
        Some(nl) => tail[nl + 1..].to_owned(),
        None => tail.to_owned(),
    }
}

/// The agents of `names` that `text` mentions as `@name` (see [`crate::chat::mentions`]).
pub fn mentioned(text: &str, names: &[String]) -> Vec<String> {
    crate::chat::mentions(text, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Host {
        prompts: Mutex<Vec<(String, Option<String>)>>,
        answers: Mutex<Vec<Consulted>>,
    }

    impl ConsultHost for Host {
        fn transcript(&self, _ws: &str, agent: &str, max: usize) -> String {
            transcript_end(
                &format!("{agent} line 1\n{agent} edited src/parser.rs\n"),
                max,
            )
        }

        fn turn(
            &self,
            _ws: &str,
            consultant: &str,
            prompt: String,
            session: Option<String>,
        ) -> BoxFuture<'_, Result<(String, Option<String>), String>> {
            let n = self.prompts.lock().unwrap().len();
            self.prompts.lock().unwrap().push((prompt, session.clone()));
            let consultant = consultant.to_owned();
            Box::pin(async move {
                Ok((
                    format!("{consultant} answers {n}"),
                    session.or(Some(format!("ses-{n}"))),
                ))
            })
        }

        fn answer(&self, answer: &Consulted) -> BoxFuture<'_, Result<String, String>> {
            self.answers.lock().unwrap().push(answer.clone());
            Box::pin(async { Ok("msg_1".to_owned()) })
        }
    }

    #[tokio::test]
    async fn a_thread_keeps_the_consultants_own_session_and_only_its_asker_follows_up() {
        let host = Arc::new(Host {
            prompts: Mutex::default(),
            answers: Mutex::default(),
        });
        let c = Consults::new(Store::open_in_memory().unwrap(), host.clone());
        let first = c
            .ask("ws", "alice", "bob", "is the parser fine?", None)
            .await
            .unwrap();
        assert_eq!(first.reply, "bob answers 0");
        assert_eq!(first.message.as_deref(), Some("msg_1"));
        let again = c
            .ask("ws", "alice", "bob", "and the lexer?", Some(&first.thread))
            .await
            .unwrap();
        assert_eq!(again.thread, first.thread);
        let prompts = host.prompts.lock().unwrap().clone();
        assert!(
            prompts[0].0.contains("@alice consults you")
                && prompts[0].0.contains("alice edited src/parser.rs")
        );
        assert_eq!(prompts[0].1, None);
        // The follow-up continues the consult session, without the transcript again.
        assert_eq!(prompts[1].1.as_deref(), Some("ses-0"));
        assert!(prompts[1].0.contains("following up") && !prompts[1].0.contains("edited"));
        // A new consult is a new session.
        c.ask("ws", "alice", "bob", "other?", None).await.unwrap();
        assert_eq!(host.prompts.lock().unwrap()[2].1, None);
        for (asker, consultant, thread, says) in [
            (
                "carol",
                "bob",
                Some(first.thread.as_str()),
                "another agent's",
            ),
            (
                "alice",
                "dave",
                Some(first.thread.as_str()),
                "no consult thread",
            ),
            ("alice", "alice", None, "cannot consult itself"),
        ] {
            let e = c
                .ask("ws", asker, consultant, "q", thread)
                .await
                .unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
        }
    }

    #[test]
    fn a_transcripts_end_starts_at_a_line() {
        assert_eq!(transcript_end("abc\ndef\nghi\n", 6), "ghi\n");
        assert_eq!(transcript_end("short", 100), "short");
        assert_eq!(transcript_end("ééééé\nx", 4), "x");
    }
}
