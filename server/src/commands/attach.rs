//! `maestro agent attach NAME`: this terminal connected to an agent's.
//!
//! An interactive agent: the terminal goes raw and onto its alternate screen, the agent's screen
//! is drawn from the daemon's model of it, then its output streams from the offset that screen
//! stands for; keystrokes go to the agent, window changes resize its PTY, the detach key (Ctrl-]
//! by default) or the agent's exit ends it and the terminal is as it was. A headless agent: its
//! transcript is followed and each typed line is sent as its next turn.

use super::follow::{
    AgentEvent, Follow, agent_at, event_of, last_lines, output_of, state_text, status_of, subscribe,
};
use crate::client::Connected;
use maestro_protocol::{AgentAttachResult, AgentInfo, method};
use rustix::termios::{self, OptionalActions, Termios};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use tokio::sync::mpsc;

/// `ctrl-]`, `ctrl-q`, … as the byte the terminal sends for it.
pub fn detach_byte(key: &str) -> anyhow::Result<u8> {
    let lower = key.to_ascii_lowercase();
    let c = lower
        .strip_prefix("ctrl-")
        .or_else(|| lower.strip_prefix('^'))
        .filter(|c| c.len() == 1)
        .and_then(|c| c.bytes().next());
    match c {
        Some(c @ b'a'..=b'z') => Ok(c - b'a' + 1),
        Some(c @ (b'[' | b'\\' | b']' | b'^' | b'_')) => Ok(c - b'@'),
        _ => anyhow::bail!(
            "--detach-key {key}: give a control key, `ctrl-` and a letter or one of [ \\ ] ^ _ (e.g. ctrl-])"
        ),
    }
}

fn key_name(byte: u8) -> String {
    format!("Ctrl-{}", (byte + b'@') as char)
}

pub async fn attach(
    c: &mut Connected,
    path: &Path,
    name: &str,
    node: Option<&str>,
    detach: u8,
) -> anyhow::Result<i32> {
    subscribe(c).await?;
    let mut at = json!({"name": name, "path": path});
    if let Some(node) = node {
        at["node"] = json!(node);
    }
    let info: AgentInfo = c.client.request(method::AGENT_STATUS, at).await?;
    let stdout = std::io::stdout();
    let size = termios::isatty(&stdout)
        .then(|| termios::tcgetwinsize(&stdout).ok())
        .flatten()
        .filter(|w| w.ws_row > 0 && w.ws_col > 0);
    let mut params = agent_at(&info);
    if let Some(w) = size {
        params["rows"] = json!(w.ws_row);
        params["cols"] = json!(w.ws_col);
    }
    let mut att: AgentAttachResult = c
        .client
        .request(method::AGENT_ATTACH, params.clone())
        .await?;
    // Attached right after `send`, an interactive agent may still be starting its terminal UI:
    // wait for it (bounded) rather than say it is not running.
    let starting_until = std::time::Instant::now() + STARTING_WAIT;
    while att.interactive && !att.running && std::time::Instant::now() < starting_until {
        let now: AgentInfo = c
            .client
            .request(method::AGENT_STATUS, agent_at(&info))
            .await?;
        if !now.state.is_running() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        att = c
            .client
            .request(method::AGENT_ATTACH, params.clone())
            .await?;
    }
    if att.interactive {
        interactive(c, &info, att, detach).await
    } else {
        headless(c, &info, detach).await
    }
}

/// How long attach waits for an agent that is starting its terminal UI.
const STARTING_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// What the stdin thread reads.
enum Input {
    Bytes(Vec<u8>),
    End,
}

/// Reads stdin on a thread of its own (a blocking read the runtime must not wait for at exit).
fn read_stdin(lines: bool) -> mpsc::UnboundedReceiver<Input> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::{BufRead, Read};
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            let mut buf = Vec::new();
            let n = if lines {
                lock.read_until(b'\n', &mut buf)
            } else {
                buf.resize(4096, 0);
                lock.read(&mut buf).inspect(|n| buf.truncate(*n))
            };
            match n {
                Ok(0) | Err(_) => {
                    let _ = tx.send(Input::End);
                    break;
                }
                Ok(_) => {
                    if tx.send(Input::Bytes(buf)).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// The terminal in raw mode until dropped.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        if !termios::isatty(&stdin) {
            return None;
        }
        let saved = termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(&stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// The terminal's alternate screen until dropped (also when attach ends in an error), so that
/// detaching gives the terminal back as it was.
struct AltScreen;

impl AltScreen {
    fn enter() -> AltScreen {
        write_out(b"\x1b[?1049h\x1b[H\x1b[2J");
        AltScreen
    }
}

impl Drop for AltScreen {
    fn drop(&mut self) {
        write_out(b"\x1b[?1049l");
    }
}

fn write_out(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// Keystrokes cut inside a UTF-8 character wait for the rest.
fn take_text(pending: &mut Vec<u8>) -> String {
    let valid = match std::str::from_utf8(pending) {
        Ok(_) => pending.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => pending.len(),
    };
    let rest = pending.split_off(valid);
    let text = String::from_utf8_lossy(pending).into_owned();
    *pending = rest;
    text
}

async fn interactive(
    c: &mut Connected,
    info: &AgentInfo,
    att: AgentAttachResult,
    detach: u8,
) -> anyhow::Result<i32> {
    let tty = termios::isatty(std::io::stdout());
    let key = key_name(detach);
    if !att.running {
        // Nothing to attach to: its last screen (or output), and how to start it again.
        show_screen(c, info, &att).await?;
        write_out(b"\x1b[m\r\n");
        let now = status_of(c, info).await?;
        eprintln!(
            "{} is not running ({}): `maestro agent send {} PROMPT` starts its terminal UI again",
            info.name,
            state_text(&now),
            info.name
        );
        return Ok(1);
    }
    if tty {
        eprintln!("attached to {} — {key} detaches", info.name);
    }
    let raw = RawMode::enter();
    let alt = tty.then(AltScreen::enter);
    show_screen(c, info, &att).await?;
    let mut follow = Follow { offset: att.offset };
    let mut input = read_stdin(false);
    let mut pending: Vec<u8> = Vec::new();
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let mut print = |text: &str| write_out(text.as_bytes());
    let mut running = true;
    let ended: String = loop {
        tokio::select! {
            got = input.recv() => match got {
                Some(Input::Bytes(bytes)) => {
                    let (bytes, detached) = match bytes.iter().position(|b| *b == detach) {
                        Some(i) => (&bytes[..i], true),
                        None => (&bytes[..], false),
                    };
                    pending.extend_from_slice(bytes);
                    let text = take_text(&mut pending);
                    if !text.is_empty() {
                        let mut input = agent_at(info);
                        input["data"] = json!(text);
                        let sent = c.client.request::<_, Value>(method::AGENT_INPUT, input).await;
                        if let Err(e) = sent {
                            break format!("input refused: {}", super::follow::plain(e.into()));
                        }
                    }
                    if detached {
                        break format!("detached from {}", info.name);
                    }
                }
                Some(Input::End) | None => break format!("detached from {} (end of input)", info.name),
            },
            _ = winch.recv() => {
                if let Ok(w) = termios::tcgetwinsize(std::io::stdout())
                    && w.ws_row > 0 && w.ws_col > 0
                {
                    let mut resize = agent_at(info);
                    resize["rows"] = json!(w.ws_row);
                    resize["cols"] = json!(w.ws_col);
                    let _ = c.client.request::<_, Value>(method::AGENT_RESIZE, resize).await;
                }
            }
            event = c.events.recv() => match event.map(|n| event_of(info, n)) {
                Some(Some(AgentEvent::Output { at, data })) => {
                    follow.batch(c, info, at, &data, &mut print).await?;
                }
                Some(Some(AgentEvent::Status(agent))) => {
                    if !agent.state.is_running() {
                        follow.rest(c, info, &mut print).await?;
                        running = false;
                        if tty {
                            // Let the last screen be seen before the terminal is given back.
                            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                        }
                        break format!("{}: {}", agent.name, state_text(&agent));
                    }
                }
                Some(None) => {}
                None => break "the daemon went away".to_owned(),
            },
        }
    };
    drop(alt);
    drop(raw);
    if tty {
        eprintln!("{ended}");
        if running {
            eprintln!("`maestro agent attach {}` attaches again", info.name);
        }
    } else {
        eprintln!("\n{ended}");
    }
    Ok(0)
}

/// The agent's screen as the daemon models it, or (not drawn since the daemon started) the end of
/// what it printed.
async fn show_screen(
    c: &Connected,
    info: &AgentInfo,
    att: &AgentAttachResult,
) -> anyhow::Result<()> {
    match &att.screen {
        Some(screen) => write_out(screen.as_bytes()),
        None => {
            let out = output_of(c, info, 0, None).await?;
            write_out(last_lines(&out.data, att.rows as usize).as_bytes());
        }
    }
    Ok(())
}

async fn headless(c: &mut Connected, info: &AgentInfo, detach: u8) -> anyhow::Result<i32> {
    eprintln!(
        "{} is headless: its transcript follows; a line you type is sent as its next turn; {} and Enter, or end of input, detaches",
        info.name,
        key_name(detach)
    );
    let out = output_of(c, info, 0, None).await?;
    let mut print = |text: &str| write_out(text.as_bytes());
    print(last_lines(&out.data, 40));
    let mut follow = Follow { offset: out.end };
    let mut input = read_stdin(true);
    loop {
        tokio::select! {
            got = input.recv() => match got {
                Some(Input::Bytes(line)) => {
                    if line.contains(&detach) {
                        break;
                    }
                    let prompt = String::from_utf8_lossy(&line).trim().to_owned();
                    if prompt.is_empty() {
                        continue;
                    }
                    let mut send = agent_at(info);
                    send["prompt"] = json!(prompt);
                    let sent = c.client.request::<_, AgentInfo>(method::AGENT_SEND, send).await;
                    match sent {
                        Ok(agent) => eprintln!("{}: {}", agent.name, state_text(&agent)),
                        Err(e) => eprintln!("not sent: {}", super::follow::plain(e.into())),
                    }
                }
                Some(Input::End) | None => break,
            },
            event = c.events.recv() => match event.map(|n| event_of(info, n)) {
                Some(Some(AgentEvent::Output { at, data })) => {
                    follow.batch(c, info, at, &data, &mut print).await?;
                }
                Some(Some(AgentEvent::Status(_))) | Some(None) => {}
                None => break,
            },
        }
    }
    eprintln!("detached from {}", info.name);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_are_control_bytes() {
        assert_eq!(detach_byte("ctrl-]").unwrap(), 0x1d);
        assert_eq!(detach_byte("Ctrl-Q").unwrap(), 0x11);
        assert_eq!(detach_byte("^a").unwrap(), 0x01);
        assert_eq!(key_name(0x1d), "Ctrl-]");
        let err = detach_byte("alt-x").unwrap_err().to_string();
        assert!(err.contains("--detach-key alt-x"), "{err}");
        assert!(detach_byte("ctrl-").is_err());
    }

    #[test]
    fn keystrokes_cut_inside_a_character_wait_for_the_rest() {
        let mut pending = "aé".as_bytes()[..2].to_vec();
        assert_eq!(take_text(&mut pending), "a");
        pending.extend_from_slice(&"é".as_bytes()[1..]);
        assert_eq!(take_text(&mut pending), "é");
        assert!(pending.is_empty());
    }
}
