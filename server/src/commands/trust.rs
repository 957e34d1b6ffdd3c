//! `maestro trust`: what the repository's config asks maestro to run, and the person's approval.

use super::follow::plain;
use super::{connect_cli, print_json};
use maestro_engine::Paths;
use maestro_engine::text::{shell_words, visible};
use maestro_protocol::{RepositoryCommand, TrustListResult, TrustState, method};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

pub async fn run(
    paths: &Paths,
    path: Option<&Path>,
    yes: bool,
    revoke: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let path = match path {
        Some(p) => std::path::absolute(p)?,
        None => std::env::current_dir()?,
    };
    let c = connect_cli(paths, true)
        .await
        .map_err(anyhow::Error::from)?;
    let call = |m: &'static str, params: serde_json::Value| {
        let client = &c.client;
        async move {
            client
                .request::<_, TrustListResult>(m, params)
                .await
                .map_err(|e| plain(e.into()))
        }
    };
    if revoke {
        let list = call(method::TRUST_REVOKE, json!({"path": path})).await?;
        if json {
            print_json(&list);
        } else {
            println!(
                "forgot the approvals of {}",
                visible(&list.root.display().to_string())
            );
            show(&list);
        }
        return Ok(0);
    }
    let mut list = call(method::TRUST_LIST, json!({"path": path})).await?;
    let waiting: Vec<RepositoryCommand> = list
        .commands
        .iter()
        .filter(|c| c.state != TrustState::Approved)
        .cloned()
        .collect();
    if json && !yes {
        print_json(&list);
        return Ok(if waiting.is_empty() { 0 } else { 1 });
    }
    if !json {
        show(&list);
    }
    if waiting.is_empty() {
        return Ok(0);
    }
    let ask = !yes;
    if ask && !std::io::stdin().is_terminal() {
        eprintln!(
            "not approved: run `maestro trust` on a terminal to be asked, or `maestro trust --yes` after reading the commands above"
        );
        return Ok(1);
    }
    let mut refused = 0;
    for c in &waiting {
        if ask
            && !confirm(&format!(
                "Allow {} to run {}?",
                c.key,
                shell_words(&c.command)
            ))?
        {
            refused += 1;
            continue;
        }
        list = call(
            method::TRUST_APPROVE,
            json!({"path": path, "key": c.key, "command": c.command}),
        )
        .await?;
        if !json {
            println!("approved {}", c.key);
        }
    }
    if json {
        print_json(&list);
    }
    Ok(if refused == 0 { 0 } else { 1 })
}

/// Prints what the repository chooses, exactly as it would run.
fn show(list: &TrustListResult) {
    let root = visible(&list.root.display().to_string()).into_owned();
    if list.commands.is_empty() {
        println!("{root}: its config chooses no command to run");
        return;
    }
    for c in &list.commands {
        let state = match c.state {
            TrustState::Approved => "approved",
            TrustState::Unapproved => "not approved",
            TrustState::Changed => "changed since it was approved",
        };
        println!(
            "{} in {} ({state})\n  runs {}:\n    {}",
            c.key,
            visible(&c.file.display().to_string()),
            c.when,
            shell_words(&c.command)
        );
        if let Some(before) = &c.approved {
            println!("  approved before:\n    {}", shell_words(before));
        }
    }
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
