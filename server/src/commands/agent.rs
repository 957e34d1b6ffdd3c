//! `maestro agent spawn|send|list|status|stop|diff|merge|remove|logs` and `maestro usage`.

use super::{connect_cli, human_duration, print_json};
use crate::cli::AgentAction;
use crate::client::{ClientError, Connected};
use maestro_agents::output::Plain;
use maestro_engine::Paths;
use maestro_engine::text::printable;
use maestro_protocol::{
    AgentDiffResult, AgentInfo, AgentMergeResult, AgentMode, AgentOutputParams, AgentOutputResult,
    AgentRemoveResult, AgentSpawnParams, AgentState, AgentStatusParams, Event, Isolation,
    UsageResult, method,
};
use serde_json::{Value, json};
use std::path::PathBuf;

pub async fn run(paths: &Paths, action: AgentAction) -> anyhow::Result<i32> {
    // The daemon's answers name what was wrong; the method's name would only be noise.
    act(paths, action).await.map_err(plain)
}

pub(super) fn plain(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<ClientError>() {
        Ok(ClientError::Rpc { error, .. }) => anyhow::anyhow!("{}", error.message),
        Ok(other) => other.into(),
        Err(e) => e,
    }
}

fn here() -> anyhow::Result<PathBuf> {
    Ok(std::env::current_dir()?)
}

async fn act(paths: &Paths, action: AgentAction) -> anyhow::Result<i32> {
    let mut c = connect_cli(paths, true).await?;
    let path = here()?;
    let at = |name: &str| json!({"name": name, "path": path});
    match action {
        AgentAction::Spawn {
            name,
            prompt,
            agent,
            base,
            model,
            persona,
            in_place,
            allow_commit,
            interactive,
            silence_timeout,
            turn_timeout,
            wait,
            output,
        } => {
            let params = AgentSpawnParams {
                name,
                agent: agent.unwrap_or_default(),
                path: path.clone(),
                prompt: prompt.map(prompt_arg).transpose()?,
                base,
                isolation: in_place.then_some(Isolation::None),
                mode: if interactive {
                    AgentMode::Interactive
                } else {
                    AgentMode::Headless
                },
                persona,
                model,
                silence_timeout_secs: silence_timeout,
                turn_timeout_secs: turn_timeout,
                may_commit: allow_commit,
            };
            if wait.wait {
                subscribe(&c).await?;
            }
            let info: AgentInfo = c
                .client
                .request(method::AGENT_SPAWN, serde_json::to_value(&params)?)
                .await?;
            if output.json {
                print_json(&info);
            } else {
                println!(
                    "spawned {} ({}) in {}{}",
                    info.name,
                    info.agent,
                    info.worktree.display(),
                    info.branch
                        .as_ref()
                        .map(|b| format!(" on {b}"))
                        .unwrap_or_default()
                );
                for note in &info.notes {
                    println!("note: {}", printable(note));
                }
                if interactive {
                    println!("`maestro agent attach {}` shows its terminal", info.name);
                }
            }
            if wait.wait {
                // The log is new: everything in it is this agent's (its notes come first).
                return follow_turn(&mut c, &info, 0, output.json).await;
            }
            Ok(0)
        }
        AgentAction::Send {
            name,
            prompt,
            wait,
            output,
        } => {
            let mut from = 0;
            if wait.wait {
                subscribe(&c).await?;
                // The turn's output starts after what the agent printed so far.
                let before: AgentInfo = c.client.request(method::AGENT_STATUS, at(&name)).await?;
                from = before.output_bytes;
            }
            let prompt = prompt_arg(prompt)?;
            let info: AgentInfo = c
                .client
                .request(
                    method::AGENT_SEND,
                    json!({"name": name, "path": path, "prompt": prompt}),
                )
                .await?;
            if output.json {
                print_json(&info);
            } else {
                println!("{}: {}", info.name, printable(&state_text(&info)));
            }
            if wait.wait {
                return follow_turn(&mut c, &info, from, output.json).await;
            }
            Ok(0)
        }
        AgentAction::List { all, output } => {
            let params = if all {
                json!({})
            } else {
                json!({ "path": path })
            };
            let agents: Vec<AgentInfo> = c.client.request(method::AGENT_LIST, params).await?;
            if output.json {
                agents.iter().for_each(print_json);
            } else if agents.is_empty() {
                println!("no agents{}", if all { "" } else { " in this repository" });
            } else {
                print!("{}", printable(&tree(&agents, all)));
            }
            Ok(0)
        }
        AgentAction::Status { name, output } => {
            let info: AgentInfo = c.client.request(method::AGENT_STATUS, at(&name)).await?;
            if output.json {
                print_json(&info);
            } else {
                print!("{}", printable(&details(&info)));
            }
            Ok(0)
        }
        AgentAction::Stop { name, output } => {
            let info: AgentInfo = c.client.request(method::AGENT_STOP, at(&name)).await?;
            if output.json {
                print_json(&info);
            } else {
                println!("{}: {}", info.name, printable(&state_text(&info)));
            }
            Ok(0)
        }
        AgentAction::Diff { name, stat, output } => {
            let diff: AgentDiffResult = c.client.request(method::AGENT_DIFF, at(&name)).await?;
            if output.json {
                print_json(&diff);
                return Ok(0);
            }
            println!(
                "{} against {}: {} commit(s){}",
                name,
                diff.base,
                diff.commits,
                if diff.uncommitted {
                    ", and uncommitted changes (a merge takes commits only)"
                } else {
                    ""
                }
            );
            for f in &diff.files {
                println!(
                    "  {:<9} {} (+{} -{})",
                    f.status, f.path, f.insertions, f.deletions
                );
            }
            if !stat && !diff.patch.is_empty() {
                println!();
                print!("{}", diff.patch);
            }
            Ok(0)
        }
        AgentAction::Merge { name, output } => {
            let merged: AgentMergeResult = c.client.request(method::AGENT_MERGE, at(&name)).await?;
            if output.json {
                print_json(&merged);
            } else if !merged.conflicts.is_empty() {
                println!(
                    "not merged: maestro/{name} conflicts with {} in {}\nnothing was changed; resolve by hand (`git merge maestro/{name}`) or ask the agent to rebase",
                    merged.into,
                    merged.conflicts.join(", ")
                );
            } else if merged.up_to_date {
                println!("{} already has every commit of maestro/{name}", merged.into);
            } else {
                println!(
                    "merged maestro/{name} into {} ({}) at {}",
                    merged.into,
                    if merged.fast_forward {
                        "fast-forward"
                    } else {
                        "merge commit"
                    },
                    merged
                        .commit
                        .as_deref()
                        .map_or("", |c| &c[..c.len().min(12)])
                );
            }
            Ok(if merged.conflicts.is_empty() { 0 } else { 1 })
        }
        AgentAction::Remove {
            name,
            force,
            output,
        } => {
            let removed: AgentRemoveResult = c
                .client
                .request(
                    method::AGENT_REMOVE,
                    json!({"name": name, "path": path, "force": force}),
                )
                .await?;
            if output.json {
                print_json(&removed);
            } else {
                println!("removed {name}");
                if let Some(w) = &removed.worktree_removed {
                    println!("  worktree {} deleted", w.display());
                }
                if let Some(b) = &removed.branch_deleted {
                    println!("  branch {b} deleted (merged)");
                }
                if let Some(b) = &removed.branch_kept {
                    println!("  branch {b} kept: it has commits its base does not");
                }
            }
            Ok(0)
        }
        AgentAction::Attach { name, detach_key } => {
            let detach = super::attach::detach_byte(&detach_key)?;
            super::attach::attach(&mut c, &path, &name, detach).await
        }
        AgentAction::Logs {
            name,
            lines,
            follow,
        } => {
            if follow {
                subscribe(&c).await?;
            }
            let info: AgentInfo = c.client.request(method::AGENT_STATUS, at(&name)).await?;
            let out = output_of(&c, &info, 0, None).await?;
            // An interactive agent's output is a terminal's stream: as text, as a terminal of
            // its size shows it (spaces drawn as cursor moves, rows drawn by positioning).
            let data = if info.mode == AgentMode::Interactive {
                let size = maestro_agents::process::TermSize::DEFAULT;
                maestro_agents::output::terminal_text(out.data.as_bytes(), size.rows, size.cols)
            } else {
                out.data
            };
            let text = if lines == 0 {
                data.as_str()
            } else {
                last_lines(&data, lines)
            };
            print!("{text}");
            if follow {
                stream(&mut c, &info, out.end, false, true).await?;
            }
            Ok(0)
        }
    }
}

pub async fn usage(paths: &Paths, by: &str, all: bool, json: bool) -> anyhow::Result<i32> {
    let c = connect_cli(paths, true)
        .await
        .map_err(anyhow::Error::from)?;
    let mut params = json!({ "by": by });
    if !all {
        params["path"] = json!(here()?);
    }
    let usage: UsageResult = c
        .client
        .request(method::USAGE, params)
        .await
        .map_err(|e| plain(e.into()))?;
    if json {
        for row in &usage.rows {
            print_json(row);
        }
        print_json(&json!({"key": "total", "total": usage.total}));
        return Ok(0);
    }
    if usage.rows.is_empty() {
        println!("no usage recorded yet");
        return Ok(0);
    }
    println!(
        "{:<28} {:>6} {:>12} {:>12} {:>12} {:>10}",
        by, "turns", "input", "output", "cache read", "dollars"
    );
    for r in &usage.rows {
        println!(
            "{:<28} {:>6} {:>12} {:>12} {:>12} {:>10}{}",
            r.key,
            r.turns,
            r.totals.input_tokens,
            r.totals.output_tokens,
            r.totals.cache_read_tokens,
            r.totals.dollars(),
            if r.priced_turns > 0 {
                format!("  ({} priced from the table)", r.priced_turns)
            } else {
                String::new()
            }
        );
    }
    let t = &usage.total;
    println!(
        "{:<28} {:>6} {:>12} {:>12} {:>12} {:>10}",
        "total",
        usage.rows.iter().map(|r| r.turns).sum::<u64>(),
        t.input_tokens,
        t.output_tokens,
        t.cache_read_tokens,
        t.dollars()
    );
    Ok(0)
}

/// A prompt from the command line: `-` means stdin (for prompts longer than an argument may be).
fn prompt_arg(prompt: String) -> anyhow::Result<String> {
    if prompt != "-" {
        return Ok(prompt);
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| anyhow::anyhow!("reading the prompt from stdin: {e}"))?;
    if text.trim().is_empty() {
        anyhow::bail!("the prompt read from stdin is empty");
    }
    Ok(text)
}

pub(super) async fn subscribe(c: &Connected) -> anyhow::Result<()> {
    c.client
        .request::<_, Value>(method::SUBSCRIBE, json!({}))
        .await?;
    Ok(())
}

/// Exit code of `--wait` for a turn that ended with warnings (denied tools, failed commands,
/// uncommitted work); 1 is a failed or lost turn.
pub(super) const EXIT_WARNED: i32 = 3;

/// Prints the agent's output until its turn ends; exit code 1 when it failed, 3 when it ended
/// with warnings.
async fn follow_turn(
    c: &mut Connected,
    info: &AgentInfo,
    from: u64,
    json: bool,
) -> anyhow::Result<i32> {
    // The state first, then the output: a turn's output is all written before its state leaves
    // `working`, so a turn already over is fully in what is fetched next.
    let now = status_of(c, info).await?;
    // Output written before the subscription took effect is fetched, not lost.
    let early = output_of(c, info, 0, None).await?;
    let early_text = split_at_offset(&early, from).1;
    match plain_for(info, json) {
        Some(mut p) => emit_text(&p.push(early_text), json),
        None => emit_text(early_text, json),
    }
    let end = early.end.max(from);
    let last = if now.state.is_running() {
        stream(c, info, end, json, false).await?
    } else {
        now
    };
    if json {
        print_json(&json!({"event": "turn_end", "agent": last}));
    } else {
        println!("{}: {}", last.name, printable(&state_text(&last)));
    }
    Ok(match last.state {
        AgentState::Failed | AgentState::Lost => 1,
        _ if !last.warnings.is_empty() => EXIT_WARNED,
        _ => 0,
    })
}

fn split_at_offset(out: &AgentOutputResult, from: u64) -> (u64, &str) {
    let skip = from.saturating_sub(out.offset) as usize;
    let mut at = skip.min(out.data.len());
    while !out.data.is_char_boundary(at) {
        at += 1;
    }
    (from, &out.data[at..])
}

/// The agent's state now.
pub(super) async fn status_of(c: &Connected, info: &AgentInfo) -> anyhow::Result<AgentInfo> {
    Ok(c.client
        .request(
            method::AGENT_STATUS,
            json!({"name": info.name, "path": info.workspace_root}),
        )
        .await?)
}

/// The agent's output from `offset` (at most `limit` bytes).
pub(super) async fn output_of(
    c: &Connected,
    info: &AgentInfo,
    offset: u64,
    limit: Option<u64>,
) -> anyhow::Result<AgentOutputResult> {
    let mut params = json!({"name": info.name, "path": info.workspace_root, "offset": offset});
    if let Some(limit) = limit {
        params["limit"] = json!(limit);
    }
    Ok(c.client.request(method::AGENT_OUTPUT, params).await?)
}

/// Where a client is in one agent's output: a batch past it means a gap (a slow client missed a
/// batch), fetched from the daemon's buffer first; what a batch repeats is cut.
pub(super) struct Follow {
    pub offset: u64,
}

impl Follow {
    /// Hands `out` the new part of the batch at `at` (after the gap before it, if any).
    pub async fn batch(
        &mut self,
        c: &Connected,
        info: &AgentInfo,
        at: u64,
        data: &str,
        out: &mut impl FnMut(&str),
    ) -> anyhow::Result<()> {
        if at > self.offset {
            let gap = output_of(c, info, self.offset, Some(at - self.offset)).await?;
            out(&gap.data);
        }
        if at + data.len() as u64 > self.offset {
            let mut cut = (self.offset.saturating_sub(at) as usize).min(data.len());
            while !data.is_char_boundary(cut) {
                cut += 1;
            }
            out(&data[cut..]);
            self.offset = at + data.len() as u64;
        }
        Ok(())
    }

    /// Hands `out` everything after the offset (output batched just before the end).
    pub async fn rest(
        &mut self,
        c: &Connected,
        info: &AgentInfo,
        out: &mut impl FnMut(&str),
    ) -> anyhow::Result<()> {
        let rest = output_of(c, info, self.offset, None).await?;
        out(&rest.data);
        self.offset = rest.end;
        Ok(())
    }
}

/// An event about this agent: its output or its state.
pub(super) enum AgentEvent {
    Output { at: u64, data: String },
    Status(Box<AgentInfo>),
}

/// `n` if it is about `info`'s agent.
pub(super) fn event_of(info: &AgentInfo, n: maestro_protocol::Notification) -> Option<AgentEvent> {
    match Event::from_notification(&n.method, n.params)? {
        Ok(Event::AgentOutput(AgentOutputParams {
            workspace,
            name,
            offset,
            data,
        })) if workspace == info.workspace && name == info.name => {
            Some(AgentEvent::Output { at: offset, data })
        }
        Ok(Event::AgentStatus(s))
            if s.agent.workspace == info.workspace && s.agent.name == info.name =>
        {
            let AgentStatusParams { agent, .. } = *s;
            Some(AgentEvent::Status(Box::new(agent)))
        }
        _ => None,
    }
}

/// Prints the agent's output events from `offset`; returns the agent when its turn is over
/// (or, with `forever`, when the connection ends).
async fn stream(
    c: &mut Connected,
    info: &AgentInfo,
    offset: u64,
    json: bool,
    forever: bool,
) -> anyhow::Result<AgentInfo> {
    let mut last = info.clone();
    let mut follow = Follow { offset };
    let mut plain = plain_for(info, json);
    let mut print = |text: &str| match &mut plain {
        Some(p) => emit_text(&p.push(text), json),
        None => emit_text(text, json),
    };
    while let Some(n) = c.events.recv().await {
        match event_of(info, n) {
            Some(AgentEvent::Output { at, data }) => {
                follow.batch(c, info, at, &data, &mut print).await?;
            }
            Some(AgentEvent::Status(agent)) => {
                if json {
                    print_json(&json!({"event": "status", "agent": agent}));
                }
                let over = !agent.state.is_running();
                last = *agent;
                if over && !forever {
                    follow.rest(c, info, &mut print).await?;
                    return Ok(last);
                }
            }
            None => {}
        }
    }
    Ok(last)
}

/// The filter of an interactive agent's output printed for people (JSON gets it as it is).
fn plain_for(info: &AgentInfo, json: bool) -> Option<Plain> {
    (info.mode == AgentMode::Interactive && !json).then(Plain::default)
}

fn emit_text(text: &str, json: bool) {
    if text.is_empty() {
        return;
    }
    if json {
        print_json(&json!({"event": "output", "data": text}));
    } else {
        use std::io::Write;
        print!("{text}");
        let _ = std::io::stdout().flush();
    }
}

pub(super) fn last_lines(text: &str, n: usize) -> &str {
    let mut count = 0;
    for (i, b) in text.bytes().enumerate().rev() {
        if b == b'\n' && i + 1 < text.len() {
            count += 1;
            if count == n {
                return &text[i + 1..];
            }
        }
    }
    text
}

pub(super) fn state_text(info: &AgentInfo) -> String {
    match &info.reason {
        Some(r) => format!("{} — {r}", info.state.as_str()),
        None => info.state.as_str().to_owned(),
    }
}

fn details(info: &AgentInfo) -> String {
    let mut out = format!("{} ({})\n", info.name, info.agent);
    let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<10} {v}\n"));
    row("state", state_text(info));
    row("worktree", info.worktree.display().to_string());
    if let Some(b) = &info.branch {
        row(
            "branch",
            format!("{b} (from {})", info.base.as_deref().unwrap_or("?")),
        );
    }
    if let Some(s) = &info.session_id {
        row("session", s.clone());
    }
    if let Some(m) = &info.model {
        row("model", m.clone());
    }
    row(
        "turns",
        format!(
            "{} · {} in / {} out tokens · {}",
            info.turns,
            info.usage.input_tokens,
            info.usage.output_tokens,
            info.usage.dollars()
        ),
    );
    for w in &info.warnings {
        row("warning", w.clone());
    }
    row(
        "age",
        human_duration(info.updated_at - info.created_at).to_string(),
    );
    out
}

/// Agents as a tree of their name parts: `shop-backend-api` under `shop` › `backend`.
fn tree(agents: &[AgentInfo], all: bool) -> String {
    let mut sorted: Vec<&AgentInfo> = agents.iter().collect();
    sorted.sort_by(|a, b| (&a.workspace_root, &a.name).cmp(&(&b.workspace_root, &b.name)));
    let mut out = String::new();
    let mut previous: Vec<&str> = Vec::new();
    let mut root: Option<&PathBuf> = None;
    for a in sorted {
        if all && root != Some(&a.workspace_root) {
            out.push_str(&format!("{}\n", a.workspace_root.display()));
            root = Some(&a.workspace_root);
            previous.clear();
        }
        let parts: Vec<&str> = a.name.split('-').collect();
        let shared = parts
            .iter()
            .zip(&previous)
            .take_while(|(x, y)| x == y)
            .count()
            .min(parts.len() - 1);
        for (depth, part) in parts
            .iter()
            .enumerate()
            .skip(shared)
            .take(parts.len() - 1 - shared)
        {
            out.push_str(&format!("{}{part}\n", "  ".repeat(depth)));
        }
        let depth = parts.len() - 1;
        let label = format!("{}{}", "  ".repeat(depth), parts[depth]);
        out.push_str(&format!(
            "{label:<24} {:<9} {:<12} {:>3} turns  {:<9} {}{}\n",
            a.agent,
            a.state.as_str(),
            a.turns,
            if a.usage.unpriced_turns > 0 && a.usage.cost_usd == 0.0 {
                "unpriced".to_owned()
            } else {
                format!("${:.4}", a.usage.cost_usd)
            },
            a.branch.as_deref().unwrap_or("(in place)"),
            if a.warnings.is_empty() { "" } else { "  ⚠" }
        ));
        previous = parts;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_as_a_tree() {
        let agent = |name: &str| AgentInfo {
            name: name.into(),
            workspace: "w".into(),
            workspace_root: "/r".into(),
            agent: "claude".into(),
            state: AgentState::Idle,
            mode: Default::default(),
            isolation: Default::default(),
            worktree: "/wt".into(),
            branch: Some(format!("maestro/{name}")),
            base: None,
            session_id: None,
            model: None,
            persona: None,
            reason: None,
            error_class: None,
            turns: 1,
            usage: Default::default(),
            color: "#000000".into(),
            pid: None,
            created_at: 0.0,
            updated_at: 0.0,
            output_bytes: 0,
            warnings: Vec::new(),
            notes: Vec::new(),
        };
        let text = tree(
            &[
                agent("shop-web"),
                agent("shop-backend-api"),
                agent("shop-backend-db"),
                agent("docs"),
            ],
            false,
        );
        let names: Vec<&str> = text
            .lines()
            .map(|l| l.split("  claude").next().unwrap().trim_end())
            .collect();
        assert_eq!(
            names,
            ["docs", "shop", "  backend", "    api", "    db", "  web"]
        );
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(last_lines("a\nb\n", 5), "a\nb\n");
    }
}
