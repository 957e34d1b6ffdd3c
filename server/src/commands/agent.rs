//! `maestro agent spawn|send|list|status|stop|diff|merge|remove|logs` and `maestro usage`
//! (`export|import|transfer|snapshot|snapshots|rollback|fork`: `portable.rs`).

use super::follow::{follow_turn, last_lines, output_of, plain, state_text, stream, subscribe};
use super::{connect_cli, human_duration, print_json};
use crate::cli::AgentAction;
use maestro_engine::Paths;
use maestro_engine::text::printable;
use maestro_protocol::{
    AgentDiffResult, AgentInfo, AgentMergeResult, AgentMode, AgentRemoveResult, AgentSpawnParams,
    Isolation, ReviewComment, UsageResult, method,
};
use serde_json::json;
use std::path::PathBuf;

pub async fn run(paths: &Paths, action: AgentAction, node: Option<String>) -> anyhow::Result<i32> {
    // The daemon's answers name what was wrong; the method's name would only be noise.
    act(paths, action, node).await.map_err(plain)
}

fn here() -> anyhow::Result<PathBuf> {
    Ok(std::env::current_dir()?)
}

async fn act(paths: &Paths, action: AgentAction, node: Option<String>) -> anyhow::Result<i32> {
    let mut c = connect_cli(paths, true).await?;
    let path = here()?;
    let on = |mut params: serde_json::Value| {
        if let Some(node) = &node {
            params["node"] = json!(node);
        }
        params
    };
    let at = |name: &str| on(json!({"name": name, "path": path}));
    match action {
        action @ (AgentAction::Export { .. }
        | AgentAction::Import { .. }
        | AgentAction::Transfer { .. }
        | AgentAction::Snapshot { .. }
        | AgentAction::Snapshots { .. }
        | AgentAction::Rollback { .. }
        | AgentAction::Fork { .. }) => {
            if let Some(node) = &node {
                anyhow::bail!(
                    "export, import, snapshots, rollback, fork and transfer act on this machine's agents: run it on node {node} (`maestro agent transfer NAME --to NODE` moves an agent here)"
                );
            }
            super::portable::act(&mut c, &path, action).await
        }
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
                node: node.clone(),
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
                playbook_run: None,
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
            let prompt = prompt_arg(prompt)?;
            let params = on(json!({"name": name, "path": path, "prompt": prompt}));
            turn_request(&mut c, method::AGENT_SEND, params, wait.wait, output.json).await
        }
        AgentAction::Review {
            name,
            comments,
            wait,
            output,
        } => {
            let comments = comments
                .iter()
                .map(|c| review_comment(c))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let params = on(json!({"name": name, "path": path, "comments": comments}));
            turn_request(&mut c, method::AGENT_REVIEW, params, wait.wait, output.json).await
        }
        AgentAction::List { all, output } => {
            let params = on(if all {
                json!({})
            } else {
                json!({ "path": path })
            });
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
                    on(json!({"name": name, "path": path, "force": force})),
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
                if removed.snapshots_deleted > 0 {
                    println!("  {} snapshot(s) deleted", removed.snapshots_deleted);
                }
            }
            Ok(0)
        }
        AgentAction::Attach { name, detach_key } => {
            let detach = super::attach::detach_byte(&detach_key)?;
            super::attach::attach(&mut c, &path, &name, node.as_deref(), detach).await
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
    // Days are the person's: this shell's `TZ` when it names a zone (the daemon may have been
    // started elsewhere), else the daemon's zone, which is the machine's.
    if let Some(zone) = std::env::var("TZ")
        .ok()
        .map(|tz| tz.trim_start_matches(':').to_owned())
        .filter(|tz| tz.parse::<chrono_tz::Tz>().is_ok())
    {
        params["timeZone"] = json!(zone);
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

/// A request that starts a turn (`send`, `review`), followed to its end with `--wait`.
async fn turn_request(
    c: &mut super::Connected,
    method: &str,
    params: serde_json::Value,
    wait: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let mut from = 0;
    if wait {
        subscribe(c).await?;
        // The turn's output starts after what the agent printed so far.
        let mut at = json!({"name": params["name"], "path": params["path"]});
        if let Some(node) = params.get("node") {
            at["node"] = node.clone();
        }
        let before: AgentInfo = c.client.request(method::AGENT_STATUS, at).await?;
        from = before.output_bytes;
    }
    let info: AgentInfo = c.client.request(method, params).await?;
    if json {
        print_json(&info);
    } else {
        println!("{}: {}", info.name, printable(&state_text(&info)));
    }
    if wait {
        return follow_turn(c, &info, from, json).await;
    }
    Ok(0)
}

/// `FILE:LINE[-END] COMMENT` as a review comment.
fn review_comment(arg: &str) -> anyhow::Result<ReviewComment> {
    let bad = || {
        anyhow::anyhow!(
            "review comment `{arg}`: write it as FILE:LINE[-END] COMMENT, e.g. \"src/app.py:12-14 name this better\""
        )
    };
    let (at, body) = arg
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(bad)?;
    let (file, lines) = at.rsplit_once(':').ok_or_else(bad)?;
    let (line, end_line) = match lines.split_once('-') {
        Some((a, b)) => (
            a.parse().map_err(|_| bad())?,
            Some(b.parse().map_err(|_| bad())?),
        ),
        None => (lines.parse().map_err(|_| bad())?, None),
    };
    Ok(ReviewComment {
        file: file.to_owned(),
        line,
        end_line,
        body: body.trim().to_owned(),
    })
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
    if let Some(p) = &info.program {
        row("program", format!("{} (from {})", p.path.display(), p.from));
    }
    if let Some(m) = &info.merged {
        row(
            "merged",
            format!("into {} at {}", m.into, &m.commit[..m.commit.len().min(12)]),
        );
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

/// Agents as the person named them, as the editors show them: names grouped by a shared `-`
/// prefix only where several agents share it (a lone `docs-readme-typos` is one line), a group
/// with one subgroup on one line (`shop-backend`), a playbook run's agents under the run.
fn tree(agents: &[AgentInfo], all: bool) -> String {
    let mut sorted: Vec<&AgentInfo> = agents.iter().collect();
    sorted.sort_by(|a, b| (&a.workspace_root, &a.name).cmp(&(&b.workspace_root, &b.name)));
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let root = &sorted[i].workspace_root;
        let n = sorted[i..]
            .iter()
            .take_while(|a| &a.workspace_root == root)
            .count();
        let here = &sorted[i..i + n];
        i += n;
        if all {
            out.push_str(&format!("{}\n", root.display()));
        }
        let people: Vec<&AgentInfo> = here
            .iter()
            .copied()
            .filter(|a| a.playbook_run.is_none())
            .collect();
        name_tree(&people, "", 0, &mut out);
        let mut runs: Vec<&str> = here
            .iter()
            .filter_map(|a| a.playbook_run.as_deref())
            .collect();
        runs.dedup();
        for run in runs {
            out.push_str(&format!("playbook run {run}\n"));
            for a in here
                .iter()
                .filter(|a| a.playbook_run.as_deref() == Some(run))
            {
                out.push_str(&agent_line(a, &a.name, 1));
            }
        }
    }
    out
}

/// The agents named `prefix…` (sorted), grouped where at least two share their next part.
fn name_tree(agents: &[&AgentInfo], prefix: &str, depth: usize, out: &mut String) {
    let mut i = 0;
    while i < agents.len() {
        let head = |a: &AgentInfo| {
            a.name[prefix.len()..]
                .split('-')
                .next()
                .unwrap_or("")
                .to_owned()
        };
        let first = head(agents[i]);
        let n = agents[i..].iter().take_while(|a| head(a) == first).count();
        let group = &agents[i..i + n];
        i += n;
        if let [only] = group {
            out.push_str(&agent_line(only, &only.name[prefix.len()..], depth));
            continue;
        }
        // Two levels with nothing of their own are one line: `shop-backend`.
        let mut level = format!("{prefix}{first}");
        // (Names differ, so a name ends the walk, or the parts after the level do.)
        while !group.iter().any(|a| a.name == level) {
            let below = format!("{level}-");
            let next: Vec<&str> = group
                .iter()
                .map(|a| a.name[below.len()..].split('-').next().unwrap_or(""))
                .collect();
            if next.iter().any(|n| *n != next[0]) {
                break;
            }
            level = format!("{below}{}", next[0]);
        }
        let label = &level[prefix.len()..];
        match group.iter().find(|a| a.name == level) {
            Some(own) => out.push_str(&agent_line(own, label, depth)),
            None => out.push_str(&format!("{}{label}\n", "  ".repeat(depth))),
        }
        let rest: Vec<&AgentInfo> = group.iter().copied().filter(|a| a.name != level).collect();
        name_tree(&rest, &format!("{level}-"), depth + 1, out);
    }
}

/// One agent's line: its label indented, CLI, state, turns, dollars, branch.
fn agent_line(a: &AgentInfo, label: &str, depth: usize) -> String {
    let label = format!("{}{label}", "  ".repeat(depth));
    // In a mesh, which node it runs on.
    let node = a
        .node
        .as_deref()
        .map(|n| format!("{n:<12} "))
        .unwrap_or_default();
    format!(
        "{label:<24} {node}{:<9} {:<12} {:>3} turns  {:<9} {}{}\n",
        a.agent,
        a.state.as_str(),
        a.turns,
        if a.usage.unpriced_turns > 0 && a.usage.cost_usd == 0.0 {
            "unpriced".to_owned()
        } else {
            format!("${:.4}", a.usage.cost_usd)
        },
        a.branch.as_deref().unwrap_or("(in place)"),
        match (&a.merged, a.warnings.is_empty()) {
            (Some(_), _) => "  merged",
            (None, false) => "  ⚠",
            (None, true) => "",
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use maestro_protocol::AgentState;

    #[test]
    fn names_print_as_a_tree() {
        let agent = |name: &str| AgentInfo {
            name: name.into(),
            node: None,
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
            playbook_run: None,
            program: None,
            merged: None,
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
        // A lone dashed name is one line; one subgroup is one line; a run's agents are under it.
        let worker = |name: &str| AgentInfo {
            playbook_run: Some("r7".into()),
            ..agent(name)
        };
        let text = tree(
            &[
                agent("docs-readme-typos"),
                agent("shop-backend-api"),
                agent("shop-backend-db"),
                worker("claude-r7-w1"),
                worker("claude-r7-w2"),
            ],
            false,
        );
        // The label is the first 24 columns.
        let names: Vec<&str> = text
            .lines()
            .map(|l| l[..l.len().min(24)].trim_end())
            .collect();
        assert_eq!(
            names,
            [
                "docs-readme-typos",
                "shop-backend",
                "  api",
                "  db",
                "playbook run r7",
                "  claude-r7-w1",
                "  claude-r7-w2"
            ]
        );
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(last_lines("a\nb\n", 5), "a\nb\n");
    }
}
