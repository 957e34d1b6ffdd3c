//! `maestro playbook run|status|stop|pause|resume|approve|history`.

use super::follow::plain;
use super::{connect_cli, human_duration, print_json};
use crate::cli::PlaybookAction;
use crate::client::Connected;
use indicatif::{ProgressBar, ProgressStyle};
use maestro_engine::Paths;
use maestro_engine::text::printable;
use maestro_protocol::{
    Event, PlaybookEvent, PlaybookHistoryResult, PlaybookRunInfo, PlaybookRunParams,
    PlaybookRunResult, PlaybookStatusResult, RunStatus, method,
};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

pub async fn run(paths: &Paths, action: PlaybookAction) -> anyhow::Result<i32> {
    act(paths, action).await.map_err(plain)
}

async fn act(paths: &Paths, action: PlaybookAction) -> anyhow::Result<i32> {
    let mut c = connect_cli(paths, true).await?;
    let control = |run: Option<String>| json!({ "id": run });
    match action {
        PlaybookAction::Run {
            paths: files,
            agent,
            looped,
            max_loops,
            parallel,
            distributed,
            labels,
            reset_on_completion,
            dry_run,
            stall_turns,
            detach,
            output,
        } => {
            let here = std::env::current_dir()?;
            if distributed {
                let [file] = files.as_slice() else {
                    anyhow::bail!("--distributed runs one document");
                };
                let params = maestro_protocol::MeshRunParams {
                    path: absolute(&here, file),
                    agent,
                    labels,
                };
                return distributed_run(&c, params, detach, output.json).await;
            }
            let params = PlaybookRunParams {
                paths: files.iter().map(|p| absolute(&here, p)).collect(),
                agent,
                looped,
                max_loops,
                parallel,
                reset_on_completion,
                dry_run,
                from: None,
                only: None,
                stall_turns,
            };
            if !dry_run && !detach {
                c.client
                    .request::<_, Value>(method::SUBSCRIBE, json!({}))
                    .await?;
            }
            let started: PlaybookRunResult = c
                .client
                .request(method::PLAYBOOK_RUN, serde_json::to_value(&params)?)
                .await?;
            if dry_run {
                return Ok(print_plan(&started, output.json));
            }
            for w in &started.warnings {
                eprintln!("warning: {}", printable(w));
            }
            if !output.json {
                eprintln!(
                    "run {} started: `maestro playbook status {}`",
                    started.run.id, started.run.id
                );
            } else if detach {
                print_json(&started.run);
            }
            if detach {
                return Ok(0);
            }
            follow(&mut c, &started.run, output.json).await
        }
        PlaybookAction::Status { run, output } => {
            let status: PlaybookStatusResult = c
                .client
                .request(method::PLAYBOOK_STATUS, control(run))
                .await?;
            if output.json {
                print_json(&status);
            } else if status.runs.is_empty() {
                println!("no playbook runs yet: `maestro playbook run FILE.md`");
            } else {
                for r in &status.runs {
                    println!("{}", printable(&summary(r)));
                    for t in &r.current {
                        let line = format!(
                            "    working: {}:{} {} ({})",
                            t.document, t.line, t.task, t.agent
                        );
                        println!("{}", printable(&line));
                    }
                }
            }
            Ok(0)
        }
        PlaybookAction::Stop { run, output } => {
            steer(&mut c, method::PLAYBOOK_STOP, run, output.json).await
        }
        PlaybookAction::Pause { run, output } => {
            steer(&mut c, method::PLAYBOOK_PAUSE, run, output.json).await
        }
        PlaybookAction::Resume { run, output } => {
            steer(&mut c, method::PLAYBOOK_RESUME, run, output.json).await
        }
        PlaybookAction::Approve { run, output } => {
            steer(&mut c, method::PLAYBOOK_APPROVE, run, output.json).await
        }
        PlaybookAction::History { run, output } => {
            let h: PlaybookHistoryResult = c
                .client
                .request(method::PLAYBOOK_HISTORY, control(run))
                .await?;
            if output.json {
                print_json(&h);
                return Ok(0);
            }
            println!("{}", printable(&summary(&h.run)));
            for e in &h.events {
                if let Some(line) = history_line(e) {
                    println!("{}", printable(&line));
                }
            }
            Ok(0)
        }
    }
}

/// Stop, pause, resume or approve a run, and say how it is now.
async fn steer(
    c: &mut Connected,
    what: &str,
    run: Option<String>,
    json: bool,
) -> anyhow::Result<i32> {
    let info: PlaybookRunInfo = c.client.request(what, json!({ "id": run })).await?;
    if json {
        print_json(&info);
    } else {
        println!("{}", printable(&summary(&info)));
    }
    Ok(0)
}

fn absolute(here: &std::path::Path, p: &std::path::Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_owned()
    } else {
        here.join(p)
    };
    std::fs::canonicalize(&joined).unwrap_or(joined)
}

fn print_plan(r: &PlaybookRunResult, json: bool) -> i32 {
    if json {
        print_json(r);
        return 0;
    }
    for w in &r.warnings {
        println!("warning: {}", printable(w));
    }
    if r.plan.is_empty() {
        println!("nothing to do: every task is done");
    }
    for t in &r.plan {
        let line = format!("{}:{}  {}  ({})", t.document, t.line, t.task, t.agent);
        println!("{}", printable(&line));
    }
    0
}

/// One line about a run.
fn summary(r: &PlaybookRunInfo) -> String {
    let (total, done) = r
        .documents
        .iter()
        .fold((0, 0), |(t, d), doc| (t + doc.tasks, d + doc.done));
    let docs: Vec<&str> = r.documents.iter().map(|d| d.display.as_str()).collect();
    format!(
        "{}  {:<8} {done}/{total} tasks  loop {}  {} turns  ${:.4}  {}{}",
        r.id,
        r.status.as_str(),
        r.loop_number,
        r.turns,
        r.cost_usd,
        docs.join(", "),
        r.reason
            .as_ref()
            .map(|why| format!("\n    {why}"))
            .unwrap_or_default()
    )
}

/// A history line per task outcome and notable event.
fn history_line(e: &PlaybookEvent) -> Option<String> {
    let at = e
        .document
        .as_ref()
        .map(|d| format!("{d}{}", e.line.map(|l| format!(":{l}")).unwrap_or_default()))
        .unwrap_or_default();
    let task = e.task.as_deref().unwrap_or("");
    Some(match e.kind.as_str() {
        "task_complete" | "task_stalled" => format!(
            "{} {at} {task}  [{}, {}, ${:.4}]{}",
            if e.kind == "task_complete" {
                "✓"
            } else {
                "✗"
            },
            e.agent.as_deref().unwrap_or("?"),
            human_duration(e.duration_secs.unwrap_or(0.0)),
            e.cost_usd.unwrap_or(0.0),
            e.message
                .as_ref()
                .filter(|m| !m.is_empty())
                .map(|m| format!("\n      {m}"))
                .unwrap_or_default()
        ),
        "task_start" | "document_start" => return None,
        _ => format!(
            "· {}{}{}",
            e.kind.replace('_', " "),
            if at.is_empty() {
                String::new()
            } else {
                format!(" {at}")
            },
            e.message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
    })
}

/// Follows a run's events until it ends: a progress bar on a terminal, lines otherwise, JSON
/// events with `--json`. Exit code 0 when the run finished, 1 otherwise.
async fn follow(c: &mut Connected, run: &PlaybookRunInfo, json: bool) -> anyhow::Result<i32> {
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} tasks  {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let say = |line: String| {
        let line = printable(&line).into_owned();
        match &bar {
            Some(b) => b.println(line),
            None => println!("{line}"),
        }
    };
    // Events that came before the answer are this run's too (the id filters the rest).
    let status = loop {
        let Some(n) = c.events.recv().await else {
            if let Some(b) = &bar {
                b.abandon();
            }
            anyhow::bail!(
                "the connection to the daemon was lost; run {} goes on there (`maestro playbook status {}`)",
                run.id,
                run.id
            );
        };
        let Some(Ok(Event::PlaybookProgress(p))) = Event::from_notification(&n.method, n.params)
        else {
            continue;
        };
        if p.run.id != run.id {
            continue;
        }
        let e = &p.event;
        if json {
            let mut v = serde_json::to_value(e)?;
            v["event"] = Value::from(e.kind.as_str());
            print_json(&v);
        } else {
            if let Some(b) = &bar {
                let (total, done) = p
                    .run
                    .documents
                    .iter()
                    .fold((0, 0), |(t, d), doc| (t + doc.tasks, d + doc.done));
                b.set_length(total as u64);
                b.set_position(done as u64);
                b.set_message(match &e.task {
                    Some(t) if e.kind == "task_start" => {
                        format!("{} · {}", e.agent.as_deref().unwrap_or(""), t)
                    }
                    _ => e.kind.replace('_', " "),
                });
            }
            match e.kind.as_str() {
                "task_start" => {
                    if bar.is_none() {
                        say(format!(
                            "→ {}:{} {} ({})",
                            e.document.as_deref().unwrap_or(""),
                            e.line.unwrap_or(0),
                            e.task.as_deref().unwrap_or(""),
                            e.agent.as_deref().unwrap_or("")
                        ));
                    }
                }
                "document_start" | "start" => {}
                _ => {
                    if let Some(line) = history_line(e) {
                        say(line);
                    }
                }
            }
        }
        if e.kind == "complete" {
            break p.run.status;
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(if status == RunStatus::Finished { 0 } else { 1 })
}

/// `playbook run --distributed`: the tasks on the mesh's queue, then (unless detached) the
/// tally until every task has a result.
async fn distributed_run(
    c: &super::Connected,
    params: maestro_protocol::MeshRunParams,
    detach: bool,
    json: bool,
) -> anyhow::Result<i32> {
    use maestro_protocol::MeshRunInfo;
    let started: MeshRunInfo = c
        .client
        .request(method::MESH_RUN, serde_json::to_value(&params)?)
        .await?;
    if !json {
        println!(
            "run {}: {} tasks on the mesh's queue; the work lands on {} here",
            started.run, started.total, started.branch
        );
    }
    let mut last = started.clone();
    let mut shown = (u32::MAX, 0);
    while !detach && last.finished_ms.is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let runs: Vec<MeshRunInfo> = c.client.request(method::MESH_RUNS, json!(null)).await?;
        let Some(now) = runs.into_iter().find(|r| r.run == started.run) else {
            anyhow::bail!(
                "run {} is no longer known here (the daemon restarted?)",
                started.run
            );
        };
        if !json && (now.done, now.failed.len()) != (shown.0, shown.1) {
            let nodes: Vec<String> = now
                .by_node
                .iter()
                .map(|(n, k)| format!("{n} {k}"))
                .collect();
            println!(
                "{}/{} done{} ({})",
                now.done,
                now.total,
                if now.failed.is_empty() {
                    String::new()
                } else {
                    format!(", {} failed", now.failed.len())
                },
                nodes.join(", ")
            );
            shown = (now.done, now.failed.len());
        }
        last = now;
    }
    if json {
        super::print_json(&last);
    } else {
        for f in &last.failed {
            println!(
                "  line {} (node {}): {}",
                f.line,
                f.node,
                printable(&f.reason)
            );
        }
    }
    Ok(if last.failed.is_empty() { 0 } else { 1 })
}
