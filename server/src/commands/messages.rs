//! `maestro inbox` and `maestro msg send|read|reply|thread`: the person's messages.

use super::follow::plain;
use super::memory::parse_age;
use super::{connect_cli, print_json};
use crate::cli::MsgAction;
use maestro_engine::Paths;
use maestro_engine::text::{printable, visible};
use maestro_protocol::{MessageInboxResult, MessageInfo, MessageThreadResult, method};
use serde_json::{Value, json};
use std::io::Read;

pub async fn inbox(paths: &Paths, all: bool, limit: usize, json: bool) -> anyhow::Result<i32> {
    let go = async {
        let c = connect_cli(paths, true).await?;
        let r: MessageInboxResult = c
            .client
            .request(
                method::MESSAGE_INBOX,
                json!({"all": all, "limit": limit.max(1)}),
            )
            .await?;
        if json {
            print_json(&r);
        } else if r.messages.is_empty() {
            println!(
                "no {}messages for {}",
                if all { "" } else { "unread " },
                r.owner
            );
        } else {
            for m in &r.messages {
                println!("{}", one_line(m));
            }
            let shown = r.messages.len();
            if r.total > shown {
                println!("… {} more (-n to see more)", r.total - shown);
            }
            println!(
                "{} unread · `maestro msg read ID` to read one, `maestro msg reply ID TEXT` to answer",
                r.unread
            );
        }
        Ok(0)
    };
    go.await.map_err(plain)
}

pub async fn run(paths: &Paths, action: MsgAction) -> anyhow::Result<i32> {
    act(paths, action).await.map_err(plain)
}

/// A command's text: its words, or stdin when they are `-`.
pub(super) fn text_of(words: &[String]) -> anyhow::Result<String> {
    if words.len() == 1 && words[0] == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        return Ok(s);
    }
    Ok(words.join(" "))
}

async fn act(paths: &Paths, action: MsgAction) -> anyhow::Result<i32> {
    let c = connect_cli(paths, true).await?;
    match action {
        MsgAction::Send {
            to,
            text,
            subject,
            priority,
            kind,
            expires,
            output,
        } => {
            let mut params = json!({
                "path": std::env::current_dir()?,
                "to": to,
                "subject": subject,
                "text": text_of(&text)?,
                "priority": priority,
                "type": kind,
            });
            if let Some(age) = expires {
                params["expiresInSecs"] = json!(parse_age(&age)?.ceil() as u64);
            }
            let m: MessageInfo = c.client.request(method::MESSAGE_SEND, params).await?;
            if output.json {
                print_json(&m);
            } else {
                println!("sent {} to {}", m.id, visible(&m.to));
            }
        }
        MsgAction::Read { id, output } => {
            let m: MessageInfo = c
                .client
                .request(method::MESSAGE_READ, json!({"id": id}))
                .await?;
            if output.json {
                print_json(&m);
            } else {
                print!("{}", full(&m));
            }
        }
        MsgAction::Reply {
            id,
            text,
            priority,
            output,
        } => {
            let params: Value = json!({
                "to": "",
                "inReplyTo": id,
                "text": text_of(&text)?,
                "priority": priority,
            });
            let m: MessageInfo = c.client.request(method::MESSAGE_SEND, params).await?;
            if output.json {
                print_json(&m);
            } else {
                println!(
                    "sent {} to {} (in thread {})",
                    m.id,
                    visible(&m.to),
                    m.thread_id
                );
            }
        }
        MsgAction::Thread { id, output } => {
            let t: MessageThreadResult = c
                .client
                .request(method::MESSAGE_THREAD, json!({"id": id}))
                .await?;
            if output.json {
                print_json(&t);
            } else {
                for m in &t.messages {
                    print!("{}", full(m));
                    println!();
                }
            }
        }
    }
    Ok(0)
}

/// `when  from  [priority type]  subject: first line`, for the inbox.
fn one_line(m: &MessageInfo) -> String {
    let mark = if m.read_at.is_some() { " " } else { "●" };
    let text = m.text.lines().next().unwrap_or_default();
    let subject = if m.subject.is_empty() {
        String::new()
    } else {
        format!("{}: ", m.subject)
    };
    format!(
        "{mark} {}  {}  {}  [{} {}]  {}{}",
        m.id,
        when(m.created_at),
        visible(&m.from),
        word(&m.priority),
        word(&m.kind),
        visible(&subject),
        visible(&maestro_agents::supervisor::one_line(text, 100)),
    )
}

/// A message whole, with its headers.
fn full(m: &MessageInfo) -> String {
    let mut out = format!(
        "message {}\nfrom:     {}\nto:       {}\nsent:     {}\npriority: {}  type: {}\nthread:   {}\n",
        m.id,
        visible(&m.from),
        visible(&m.to),
        when(m.created_at),
        word(&m.priority),
        word(&m.kind),
        m.thread_id
    );
    if let Some(r) = &m.in_reply_to {
        out.push_str(&format!("reply to: {r}\n"));
    }
    if let Some(at) = m.read_at {
        out.push_str(&format!("read:     {}\n", when((at * 1000.0) as u64)));
    }
    if !m.subject.is_empty() {
        out.push_str(&format!("subject:  {}\n", visible(&m.subject)));
    }
    out.push('\n');
    out.push_str(&printable(&m.text));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM` UTC.
fn when(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, mo, d) = maestro_store::utc_date(secs);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_as_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00");
        assert_eq!(when(1_765_000_000_000), "2025-12-06 05:46");
        assert_eq!(when(951_782_400_000), "2000-02-29 00:00");
    }
}
