use super::*;
use std::sync::{OnceLock, Weak};

/// Agents that answer by a script: `(agent, prompt) → reply`, `None` to hang.
type Script = dyn Fn(&str, &str) -> Option<String> + Send + Sync;

struct FakeHost {
    chats: OnceLock<Weak<Chats>>,
    script: Box<Script>,
    /// Dollars per turn.
    price: f64,
    spent: Mutex<HashMap<String, f64>>,
    prompts: Mutex<Vec<(String, String)>>,
    stopped: Mutex<Vec<String>>,
    remembered: Mutex<Vec<String>>,
}

impl ChatHost for FakeHost {
    fn wait_idle(&self, _ws: &str, agent: &str) -> BoxFuture<'_, Result<(), String>> {
        // `carol-busy` is in a turn of its own that does not end.
        let busy = agent == "carol-busy";
        Box::pin(async move {
            if busy {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }

    fn send(&self, ws: &str, agent: &str, prompt: &str) -> Result<(), String> {
        self.prompts
            .lock()
            .unwrap()
            .push((agent.to_owned(), prompt.to_owned()));
        *self
            .spent
            .lock()
            .unwrap()
            .entry(agent.to_owned())
            .or_default() += self.price;
        let reply = (self.script)(agent, prompt);
        let chats = self.chats.get().unwrap().clone();
        let (ws, agent) = (ws.to_owned(), agent.to_owned());
        if let Some(reply) = reply {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if let Some(c) = chats.upgrade() {
                    match reply.strip_prefix("FAIL ") {
                        Some(why) => c.turn_finished(&ws, &agent, false, why),
                        None => c.turn_finished(&ws, &agent, true, &reply),
                    }
                }
            });
        }
        Ok(())
    }

    fn stop_turn(&self, _ws: &str, agent: &str) -> BoxFuture<'_, ()> {
        self.stopped.lock().unwrap().push(agent.to_owned());
        Box::pin(async {})
    }

    fn spent(&self, _ws: &str, agent: &str) -> f64 {
        self.spent
            .lock()
            .unwrap()
            .get(agent)
            .copied()
            .unwrap_or(0.0)
    }

    fn remember(&self, _ws: &str, _chat: &ChatInfo, entries: &[ChatEntry]) {
        let mut r = self.remembered.lock().unwrap();
        r.extend(entries.iter().map(|e| e.text.clone()));
    }

    fn told(&self, _event: ChatEventParams) {}
}

fn chats(
    price: f64,
    script: impl Fn(&str, &str) -> Option<String> + Send + Sync + 'static,
) -> (Arc<Chats>, Arc<FakeHost>) {
    let host = Arc::new(FakeHost {
        chats: OnceLock::new(),
        script: Box::new(script),
        price,
        spent: Mutex::default(),
        prompts: Mutex::default(),
        stopped: Mutex::default(),
        remembered: Mutex::default(),
    });
    let chats = Chats::load(Store::open_in_memory().unwrap(), host.clone()).unwrap();
    host.chats.set(Arc::downgrade(&chats)).ok();
    (chats, host)
}

fn new_chat(rounds: u32, budget: f64) -> NewChat {
    NewChat {
        ws: "ws1".into(),
        title: "storage".into(),
        moderator: "mod".into(),
        participants: vec!["alice".into(), "bob".into(), "carol".into()],
        max_rounds: rounds,
        turn_timeout: Duration::from_secs(5),
        budget_usd: budget,
    }
}

async fn run(chats: &Arc<Chats>, id: &str, text: &str) -> Vec<ChatEntry> {
    chats.say(id, text).await.unwrap();
    chats.wait(id).await.unwrap();
    chats.log(id, 0).unwrap().entries
}

fn kinds(entries: &[ChatEntry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.author.clone(), e.kind.clone()))
        .collect()
}

fn pair(a: &str, k: &str) -> (String, String) {
    (a.to_owned(), k.to_owned())
}

#[test]
fn mentions_are_participants_named_with_an_at_outside_words() {
    let ps: Vec<String> = ["alice", "bob", "carol-2"].map(String::from).to_vec();
    assert_eq!(
        mentions("@Bob and @alice, then @carol-2. mail x@bob.com, @dave", &ps),
        ["alice", "bob", "carol-2"]
    );
    assert!(mentions("no one: bob@alice", &ps).is_empty());
    assert_eq!(mentions("@bob @bob", &ps), ["bob"]);
}

#[tokio::test]
async fn mentioned_participants_answer_and_the_moderator_writes_the_synthesis() {
    let (chats, host) = chats(0.0, |agent, prompt| {
        Some(match agent {
            "mod" if prompt.contains("[@alice]") => "Synthesis: use sqlite".to_owned(),
            "mod" => "@alice @bob which store?".to_owned(),
            a => format!("{a} says sqlite"),
        })
    });
    let chat = chats.create(new_chat(3, 0.0)).await.unwrap();
    let entries = run(&chats, &chat.id, "which store should we use?").await;
    assert_eq!(
        kinds(&entries),
        [
            pair("person", "say"),
            pair("mod", "route"),
            // The two answers in either order.
            pair(&entries[2].author, "answer"),
            pair(&entries[3].author, "answer"),
            pair("mod", "synthesis"),
        ]
    );
    let mut answered = vec![entries[2].author.clone(), entries[3].author.clone()];
    answered.sort();
    assert_eq!(answered, ["alice", "bob"], "carol was not mentioned");
    let prompts = host.prompts.lock().unwrap().clone();
    let alice = &prompts.iter().find(|(a, _)| a == "alice").unwrap().1;
    assert!(alice.contains("which store should we use?") && alice.contains("@alice @bob"));
    // The moderator's second turn has the answers, not what it said itself.
    let second = &prompts.iter().filter(|(a, _)| a == "mod").nth(1).unwrap().1;
    assert!(second.contains("[@alice] alice says sqlite") && second.contains("[@bob] bob says"));
    assert!(!second.contains("[@mod]"));
    assert_eq!(chats.info(&chat.id).unwrap().state, "open");
    assert!(
        host.remembered
            .lock()
            .unwrap()
            .iter()
            .any(|t| t == "Synthesis: use sqlite")
    );
}

#[tokio::test]
async fn the_round_cap_stops_a_moderator_that_always_mentions() {
    let (chats, host) = chats(0.0, |agent, _| {
        Some(if agent == "mod" {
            "@carol again".to_owned()
        } else {
            "ok".to_owned()
        })
    });
    let chat = chats.create(new_chat(2, 0.0)).await.unwrap();
    let entries = run(&chats, &chat.id, "go").await;
    let rounds = entries.iter().filter(|e| e.kind == "route").count();
    assert_eq!(rounds, 2);
    assert_eq!(entries[entries.len() - 2].kind, "synthesis");
    assert!(entries.last().unwrap().text.contains("round cap (2)"));
    let last_prompt = host.prompts.lock().unwrap().last().unwrap().1.clone();
    assert!(last_prompt.contains("write the synthesis for the person now"));
}

#[tokio::test(start_paused = true)]
async fn a_participant_that_hangs_is_reported_and_the_round_goes_on() {
    let (chats, host) = chats(0.0, |agent, prompt| match agent {
        "carol" => None,
        "mod" if prompt.contains("[maestro]") => Some("done: bob answered".into()),
        "mod" => Some("@bob @carol?".into()),
        _ => Some("here".into()),
    });
    let chat = chats.create(new_chat(3, 0.0)).await.unwrap();
    let entries = run(&chats, &chat.id, "status?").await;
    let failed = entries.iter().find(|e| e.kind == "failed").unwrap();
    assert!(
        failed.text.starts_with("@carol did not answer within 5 s"),
        "{failed:?}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e.author == "bob" && e.kind == "answer")
    );
    assert_eq!(entries.last().unwrap().kind, "synthesis");
    assert_eq!(*host.stopped.lock().unwrap(), ["carol"]);
}

#[tokio::test]
async fn a_failed_turn_is_reported_and_the_budget_ends_the_exchange() {
    let (chats, _) = chats(0.5, |agent, _| {
        Some(match agent {
            "mod" => "@alice @bob".to_owned(),
            "alice" => "FAIL rate limited".to_owned(),
            _ => "fine".to_owned(),
        })
    });
    let chat = chats.create(new_chat(5, 1.0)).await.unwrap();
    let entries = run(&chats, &chat.id, "go").await;
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "failed" && e.text == "@alice failed: rate limited")
    );
    let last = entries.last().unwrap();
    assert!(
        last.kind == "note" && last.text.contains("budget ($1.00) is spent"),
        "{last:?}"
    );
    assert_eq!(chats.info(&chat.id).unwrap().spent_usd, 1.5);
}

#[tokio::test]
async fn a_chat_refuses_a_second_message_while_talking_and_any_once_closed() {
    let (chats, _) = chats(0.0, |agent, _| (agent != "mod").then(String::new));
    let chat = chats.create(new_chat(3, 0.0)).await.unwrap();
    chats.say(&chat.id, "first").await.unwrap();
    assert!(matches!(
        chats.say(&chat.id, "second").await,
        Err(ChatError::Busy(_))
    ));
    let closed = chats.close(&chat.id).await.unwrap();
    assert_eq!(closed.state, "closed");
    chats.wait(&chat.id).await.unwrap();
    assert!(matches!(
        chats.say(&chat.id, "third").await,
        Err(ChatError::Closed(_))
    ));
    assert!(matches!(
        chats.say("chat_nope", "x").await,
        Err(ChatError::NotFound(_))
    ));
    let dup = NewChat {
        participants: vec!["mod".into()],
        ..new_chat(3, 0.0)
    };
    assert!(
        chats
            .create(dup)
            .await
            .unwrap_err()
            .to_string()
            .contains("named twice")
    );
}

#[tokio::test]
async fn chats_and_their_entries_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maestro.db");
    let id = {
        let host = Arc::new(FakeHost {
            chats: OnceLock::new(),
            script: Box::new(|a, _| {
                Some(if a == "mod" {
                    "all good".into()
                } else {
                    String::new()
                })
            }),
            price: 0.0,
            spent: Mutex::default(),
            prompts: Mutex::default(),
            stopped: Mutex::default(),
            remembered: Mutex::default(),
        });
        let chats = Chats::load(Store::open(&path).unwrap(), host.clone()).unwrap();
        host.chats.set(Arc::downgrade(&chats)).ok();
        let chat = chats.create(new_chat(3, 0.0)).await.unwrap();
        run(&chats, &chat.id, "hello").await;
        chat.id
    };
    let (_, host) = chats(0.0, |_, _| None);
    let again = Chats::load(Store::open(&path).unwrap(), host).unwrap();
    let log = again.log(&again.resolve(&id[..8]).unwrap(), 0).unwrap();
    assert_eq!(
        kinds(&log.entries),
        [pair("person", "say"), pair("mod", "synthesis")]
    );
    assert_eq!(log.chat.entries, 2);
}

#[tokio::test(start_paused = true)]
async fn a_participant_busy_with_its_own_work_is_reported_not_stopped() {
    let (chats, host) = chats(0.0, |agent, prompt| match agent {
        "lead" if prompt.contains("[maestro]") => Some("noted".into()),
        "lead" => Some("@carol-busy?".into()),
        _ => Some("here".into()),
    });
    let chat = chats
        .create(NewChat {
            moderator: "lead".into(),
            participants: vec!["carol-busy".into()],
            ..new_chat(3, 0.0)
        })
        .await
        .unwrap();
    let entries = run(&chats, &chat.id, "status?").await;
    let failed = entries.iter().find(|e| e.kind == "failed").unwrap();
    assert_eq!(
        failed.text,
        "@carol-busy was busy with work of its own for 5 s: not asked"
    );
    assert!(
        host.stopped.lock().unwrap().is_empty(),
        "its own turn goes on"
    );
}
