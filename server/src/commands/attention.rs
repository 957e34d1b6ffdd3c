//! `maestro attention [log|answer]`: what agents asked and how it was decided.

use super::follow::plain;
use super::{connect_cli, print_json};
use crate::cli::AttentionAction;
use maestro_engine::Paths;
use maestro_engine::text::printable;
use maestro_protocol::{AttentionInfo, AttentionLogResult, method};
use serde_json::json;

pub async fn run(
    paths: &Paths,
    action: Option<AttentionAction>,
    json: bool,
) -> anyhow::Result<i32> {
    let action = action.unwrap_or(AttentionAction::Log {
        pending: false,
        all: false,
        limit: 20,
        output: crate::cli::Output { json },
    });
    act(paths, action).await.map_err(plain)
}

async fn act(paths: &Paths, action: AttentionAction) -> anyhow::Result<i32> {
    let c = connect_cli(paths, true).await?;
    match action {
        AttentionAction::Log {
            pending,
            all,
            limit,
            output,
        } => {
            let mut params = json!({"pending": pending, "limit": limit.max(1)});
            if !all {
                params["path"] = json!(std::env::current_dir()?);
            }
            let r: AttentionLogResult = c.client.request(method::ATTENTION_LOG, params).await?;
            if output.json {
                print_json(&r);
            } else if r.decisions.is_empty() {
                println!(
                    "{}",
                    if pending {
                        "no agent waits for you"
                    } else {
                        "no agent asked for anything yet"
                    }
                );
            } else {
                for d in &r.decisions {
                    println!("{}", line(d));
                }
            }
            Ok(0)
        }
        AttentionAction::Answer { id, choice, output } => {
            let r: AttentionInfo = c
                .client
                .request(
                    method::ATTENTION_ANSWER,
                    json!({"id": id, "choice": choice}),
                )
                .await?;
            if output.json {
                print_json(&r);
            } else {
                println!("{}", line(&r));
            }
            Ok(0)
        }
    }
}

fn line(d: &AttentionInfo) -> String {
    let when = maestro_agents::supervisor::day_of(d.at);
    let decided = match d.by.as_str() {
        "" => format!(
            "waits for you: `maestro attention answer {} {}`",
            d.id,
            d.choices.join("|")
        ),
        by => format!("{} by {by}", d.decision),
    };
    format!(
        "{} {when} {}: {} — {decided} ({})",
        d.id,
        d.agent,
        printable(&d.question),
        printable(&d.reason)
    )
}
