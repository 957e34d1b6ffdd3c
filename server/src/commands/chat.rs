//! `maestro chat new|say|log|list|close`: group chats with a moderator.

use super::follow::{plain, subscribe};
use super::{connect_cli, print_json};
use crate::cli::ChatAction;
use maestro_engine::Paths;
use maestro_engine::text::printable;
use maestro_protocol::{ChatEntry, ChatEventParams, ChatInfo, ChatLogResult, Event, method};
use serde_json::{Value, json};
use std::io::IsTerminal;

pub async fn run(paths: &Paths, action: ChatAction) -> anyhow::Result<i32> {
    act(paths, action).await.map_err(plain)
}

/// `NAME[:CLI]` as a chat member.
fn member(spec: &str) -> Value {
    match spec.trim().split_once(':') {
        Some((name, cli)) => json!({"name": name.trim(), "agent": cli.trim()}),
        None => json!({"name": spec.trim()}),
    }
}

async fn act(paths: &Paths, action: ChatAction) -> anyhow::Result<i32> {
    let mut c = connect_cli(paths, true).await?;
    let here = std::env::current_dir()?;
    match action {
        ChatAction::New {
            title,
            moderator,
            with,
            rounds,
            timeout,
            budget,
            output,
        } => {
            let participants: Vec<Value> = with
                .iter()
                .filter(|w| !w.trim().is_empty())
                .map(|w| member(w))
                .collect();
            let mut limits = json!({});
            if let Some(r) = rounds {
                limits["maxRounds"] = json!(r);
            }
            if let Some(t) = timeout {
                limits["turnTimeoutSecs"] = json!(t);
            }
            if let Some(b) = budget {
                limits["budgetUsd"] = json!(b);
            }
            let chat: ChatInfo = c
                .client
                .request(
                    method::CHAT_NEW,
                    json!({
                        "path": here,
                        "title": title.join(" "),
                        "moderator": member(&moderator),
                        "participants": participants,
                        "limits": limits,
                    }),
                )
                .await?;
            if output.json {
                print_json(&chat);
            } else {
                println!("{}", describe(&chat));
                println!("`maestro chat say {} TEXT` to start", chat.id);
            }
            Ok(0)
        }
        ChatAction::Say {
            chat,
            text,
            no_wait,
            output,
        } => {
            let text = super::messages::text_of(&text)?;
            if !no_wait {
                subscribe(&c).await?;
            }
            let said: ChatLogResult = c
                .client
                .request(method::CHAT_SAY, json!({"chat": chat, "text": text}))
                .await?;
            let id = said.chat.id.clone();
            let mut last = 0;
            for e in &said.entries {
                show(e, output.json);
                last = e.seq;
            }
            if no_wait {
                return Ok(0);
            }
            let thinking_shown = !output.json && std::io::stderr().is_terminal();
            // Entries as they come; what came before the subscription took effect is read back.
            while let Some(n) = c.events.recv().await {
                let Some(Ok(Event::Chat(ev))) = Event::from_notification(&n.method, n.params)
                else {
                    continue;
                };
                let ChatEventParams {
                    chat: of,
                    event,
                    entry,
                    thinking,
                } = *ev;
                if of != id {
                    continue;
                }
                match (event.as_str(), entry) {
                    ("entry", Some(e)) if e.seq > last => {
                        // Entries missed in between are fetched in order.
                        if e.seq > last + 1 {
                            last = catch_up(&c, &id, last, output.json).await?;
                        }
                        if e.seq > last {
                            show(&e, output.json);
                            last = e.seq;
                        }
                    }
                    ("thinking", _) if thinking_shown && !thinking.is_empty() => {
                        let who: Vec<String> = thinking.iter().map(|t| format!("@{t}")).collect();
                        eprintln!("  … {} thinking", who.join(" "));
                    }
                    ("done" | "closed", _) => {
                        catch_up(&c, &id, last, output.json).await?;
                        break;
                    }
                    _ => {}
                }
            }
            Ok(0)
        }
        ChatAction::Log { chat, output } => {
            let log: ChatLogResult = c
                .client
                .request(method::CHAT_LOG, json!({"chat": chat}))
                .await?;
            if output.json {
                print_json(&log);
            } else {
                println!("{}", describe(&log.chat));
                for e in &log.entries {
                    show(e, false);
                }
                if !log.thinking.is_empty() {
                    let who: Vec<String> = log.thinking.iter().map(|t| format!("@{t}")).collect();
                    println!("  … {} thinking", who.join(" "));
                }
            }
            Ok(0)
        }
        ChatAction::List {
            all,
            closed,
            output,
        } => {
            let mut params = json!({"closed": closed});
            if !all {
                params["path"] = json!(here);
            }
            let chats: Vec<ChatInfo> = c.client.request(method::CHAT_LIST, params).await?;
            if output.json {
                print_json(&chats);
            } else if chats.is_empty() {
                println!("no chats (`maestro chat new --moderator NAME:CLI --with NAME:CLI,…`)");
            } else {
                for chat in &chats {
                    println!("{}", describe(chat));
                }
            }
            Ok(0)
        }
        ChatAction::Close { chat, output } => {
            let closed: ChatInfo = c
                .client
                .request(method::CHAT_CLOSE, json!({"chat": chat}))
                .await?;
            if output.json {
                print_json(&closed);
            } else {
                println!("{}", describe(&closed));
            }
            Ok(0)
        }
    }
}

/// Prints the entries after `after`; the last one's seq.
async fn catch_up(
    c: &crate::client::Connected,
    id: &str,
    after: u32,
    json: bool,
) -> anyhow::Result<u32> {
    let log: ChatLogResult = c
        .client
        .request(method::CHAT_LOG, json!({"chat": id, "after": after}))
        .await?;
    let mut last = after;
    for e in &log.entries {
        show(e, json);
        last = e.seq;
    }
    Ok(last)
}

fn describe(c: &ChatInfo) -> String {
    let title = if c.title.is_empty() {
        String::new()
    } else {
        format!(" \"{}\"", printable(&c.title))
    };
    let others: Vec<String> = c.participants.iter().map(|p| format!("@{p}")).collect();
    let budget = if c.budget_usd > 0.0 {
        format!("${:.2} of ${:.2}", c.spent_usd, c.budget_usd)
    } else {
        format!("${:.2}, no budget", c.spent_usd)
    };
    format!(
        "{}{title} · {} · moderator @{} · {} · {} rounds at most · {}",
        c.id,
        c.state,
        c.moderator,
        others.join(" "),
        c.max_rounds,
        budget
    )
}

fn show(e: &ChatEntry, json: bool) {
    if json {
        print_json(e);
        return;
    }
    let who = match e.author.as_str() {
        "person" => "you".to_owned(),
        "maestro" => "maestro".to_owned(),
        a => format!("@{a}"),
    };
    let label = match e.kind.as_str() {
        "synthesis" => " (synthesis)",
        "failed" => " ✗",
        "note" => " ⚠",
        _ => "",
    };
    let text = printable(&e.text);
    let mut lines = text.lines();
    println!("{who}{label}: {}", lines.next().unwrap_or_default());
    for l in lines {
        println!("  {l}");
    }
}
