//! `maestro memory …`, `maestro search` and `maestro models …`.

use super::follow::plain;
use super::{connect_cli, human_duration, print_json};
use crate::cli::{MemoryAction, MemoryFilter, ModelsAction};
use maestro_engine::Paths;
use maestro_engine::text::{printable, visible};
use maestro_memory::{Embedder, FastEmbedder, ModelPaths};
use maestro_protocol::{
    Memory, MemoryAddResult, MemoryForgetResult, MemoryImportResult, MemoryListResult,
    MemorySearchResult, MemoryStatusResult, method,
};
use serde_json::{Value, json};
use std::io::Read;

/// The installer `maestro models install` runs (scripts/models.py, embedded in the binary).
const MODELS_SCRIPT: &str = include_str!("../../../scripts/models.py");

pub async fn run(paths: &Paths, action: MemoryAction) -> anyhow::Result<i32> {
    act(paths, action).await.map_err(plain)
}

/// `7d`, `12h`, `30m`, `45s` as seconds.
pub(super) fn parse_age(s: &str) -> anyhow::Result<f64> {
    let (n, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = n
        .parse()
        .map_err(|_| anyhow::anyhow!("--since {s:?}: give an age like 30m, 12h or 7d"))?;
    let per = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" | "" => 3600.0,
        "d" => 86_400.0,
        "w" => 7.0 * 86_400.0,
        _ => anyhow::bail!("--since {s:?}: the unit is s, m, h, d or w"),
    };
    Ok(n * per)
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn filter_params(params: &mut Value, filter: &MemoryFilter) -> anyhow::Result<()> {
    if !filter.all {
        params["path"] = json!(std::env::current_dir()?);
    }
    if let Some(agent) = &filter.agent {
        params["agent"] = json!(agent);
    }
    if !filter.kinds.is_empty() {
        params["kinds"] = json!(filter.kinds);
    }
    Ok(())
}

async fn act(paths: &Paths, action: MemoryAction) -> anyhow::Result<i32> {
    let c = connect_cli(paths, true).await?;
    match action {
        MemoryAction::Search {
            query,
            filter,
            since,
            k,
            mode,
            output,
        } => {
            let mut params = json!({"query": query.join(" "), "k": k, "mode": mode});
            filter_params(&mut params, &filter)?;
            if let Some(since) = since {
                params["since"] = json!(now() - parse_age(&since)?);
            }
            let r: MemorySearchResult = c.client.request(method::MEMORY_SEARCH, params).await?;
            print_hits(&r, output.json);
        }
        MemoryAction::Add {
            text,
            agent,
            source,
            output,
        } => {
            let mut text = text.join(" ");
            if text == "-" {
                text.clear();
                std::io::stdin().read_to_string(&mut text)?;
            }
            let params = json!({
                "path": std::env::current_dir()?, "text": text, "agent": agent, "source": source,
            });
            let r: MemoryAddResult = c.client.request(method::MEMORY_ADD, params).await?;
            if output.json {
                print_json(&r);
            } else if r.existed {
                println!("already remembered ({})", r.ids.join(", "));
            } else if r.ids.len() == 1 {
                println!("remembered {}", r.ids[0]);
            } else {
                println!("remembered in {} chunks: {}", r.ids.len(), r.ids.join(", "));
            }
        }
        MemoryAction::List {
            filter,
            limit,
            output,
        } => {
            let mut params = json!({"limit": limit});
            filter_params(&mut params, &filter)?;
            let r: MemoryListResult = c.client.request(method::MEMORY_LIST, params).await?;
            if output.json {
                for m in &r.memories {
                    print_json(m);
                }
            } else if r.memories.is_empty() {
                println!("nothing remembered yet");
            } else {
                for m in &r.memories {
                    print_memory(m, None);
                }
            }
        }
        MemoryAction::Forget { ids, agent, output } => {
            let mut params = json!({"ids": ids});
            if let Some(agent) = agent {
                params["agent"] = json!(agent);
                params["path"] = json!(std::env::current_dir()?);
            }
            let r: MemoryForgetResult = c.client.request(method::MEMORY_FORGET, params).await?;
            if output.json {
                print_json(&r);
            } else {
                println!(
                    "forgot {} memor{}",
                    r.forgotten,
                    if r.forgotten == 1 { "y" } else { "ies" }
                );
            }
        }
        MemoryAction::Status(output) => {
            let s: MemoryStatusResult =
                c.client.request(method::MEMORY_STATUS, Value::Null).await?;
            if output.json {
                print_json(&s);
            } else {
                print_status(&s);
            }
        }
        MemoryAction::Import {
            claude_dir,
            codex_dir,
            output,
        } => {
            let params = json!({
                "path": std::env::current_dir()?, "claudeDir": claude_dir, "codexDir": codex_dir,
            });
            let r: MemoryImportResult = c.client.request(method::MEMORY_IMPORT, params).await?;
            if output.json {
                print_json(&r);
            } else {
                println!(
                    "{} exchanges in {} transcript files of this repository; {} new remembered",
                    r.exchanges, r.files, r.added
                );
                for p in r.problems.iter().take(20) {
                    println!("  skipped {}", printable(p));
                }
                if r.problems.len() > 20 {
                    println!("  … and {} more lines skipped", r.problems.len() - 20);
                }
            }
        }
    }
    Ok(0)
}

pub async fn code_search(
    paths: &Paths,
    query: &str,
    k: u32,
    all: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let run = async {
        let c = connect_cli(paths, true).await?;
        let mut params = json!({"query": query, "k": k, "kinds": ["code"]});
        if !all {
            params["path"] = json!(std::env::current_dir()?);
        }
        let r: MemorySearchResult = c.client.request(method::MEMORY_SEARCH, params).await?;
        if json {
            print_hits(&r, true);
        } else {
            if let Some(w) = &r.warning {
                eprintln!("note: {w}");
            }
            if r.hits.is_empty() {
                println!("no code found (is the repository indexed? `maestro index`)");
            }
            for h in &r.hits {
                let m = &h.memory;
                let place = match (&m.file, m.line) {
                    (Some(f), Some(l)) => format!("{}:{l}", f.display()),
                    _ => m.source.clone(),
                };
                let title = m.text.lines().next().unwrap_or("");
                println!(
                    "{}",
                    printable(&format!("{place}  {title}  ({:.3})", h.score))
                );
            }
        }
        anyhow::Ok(0)
    };
    run.await.map_err(plain)
}

fn print_hits(r: &MemorySearchResult, json: bool) {
    if json {
        for h in &r.hits {
            print_json(h);
        }
        print_json(&json!({"mode": r.mode, "warning": r.warning, "tookMs": r.took_ms}));
        return;
    }
    if let Some(w) = &r.warning {
        eprintln!("note: {w}");
    }
    if r.hits.is_empty() {
        println!("nothing found");
    }
    for h in &r.hits {
        print_memory(&h.memory, Some(h.score));
    }
}

fn print_memory(m: &Memory, score: Option<f64>) {
    let age = human_duration((now() - m.at).max(0.0));
    let who = if m.agent.is_empty() {
        String::new()
    } else {
        format!(" · {}", m.agent)
    };
    let times = if m.count > 1 {
        format!(" · ×{}", m.count)
    } else {
        String::new()
    };
    let score = score.map_or(String::new(), |s| format!(" · {s:.3}"));
    println!(
        "{}",
        printable(&format!(
            "{} · {}{who} · {age} ago{times}{score} · {}",
            m.id, m.kind, m.source
        ))
    );
    let text: String = m.text.trim().chars().take(400).collect();
    for line in text.lines().take(6) {
        println!("    {}", visible(line));
    }
}

fn print_status(s: &MemoryStatusResult) {
    let kinds: Vec<String> = s.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "memories     {}{}",
        s.total,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        }
    );
    println!(
        "semantic     {}{}",
        s.semantic,
        s.model
            .as_ref()
            .map_or(String::new(), |m| format!(" · {m} · {}-d", s.dim))
    );
    println!(
        "indexed      {} vectors (loaded in {:.0} ms)",
        s.indexed, s.load_ms
    );
    println!(
        "queued       {} (oldest waiting {:.1} s)",
        s.queued, s.lag_secs
    );
    println!(
        "since start  {} embedded ({:.0}/s), {} merged into near-duplicates",
        s.embedded, s.embed_per_sec, s.merged
    );
    if let Some(r) = &s.runtime {
        println!("runtime      {}", r.display());
    }
    if let Some(w) = &s.warning {
        println!("note         {w}");
    }
}

pub async fn models(action: ModelsAction) -> anyhow::Result<i32> {
    match action {
        ModelsAction::Install { dir, force } => {
            let dest = dir.unwrap_or_else(|| ModelPaths::from_env().models_dir);
            std::fs::create_dir_all(&dest)?;
            if force {
                let _ = std::fs::remove_file(dest.join("manifest.json"));
            }
            let script = tempfile::Builder::new()
                .prefix("maestro-models-")
                .suffix(".py")
                .tempfile()?;
            std::fs::write(script.path(), MODELS_SCRIPT)?;
            let python = std::env::var("MAESTRO_PYTHON").unwrap_or_else(|_| "python3".into());
            let status = std::process::Command::new(&python)
                .arg(script.path())
                .arg(&dest)
                .status()
                .map_err(|e| anyhow::anyhow!("cannot run {python}: {e} — install Python 3 with pip and venv (Debian: apt-get install python3-venv python3-pip)"))?;
            if !status.success() {
                anyhow::bail!(
                    "installing the models failed (see above); nothing was changed where it stopped"
                );
            }
            println!("installed in {}", dest.display());
            println!("a running daemon loads them when started again: maestro daemon restart");
            Ok(0)
        }
        ModelsAction::Status(output) => {
            let paths = ModelPaths::from_env();
            let started = std::time::Instant::now();
            let loaded = tokio::task::spawn_blocking(move || FastEmbedder::load(&paths, 1)).await?;
            let paths = ModelPaths::from_env();
            let (ok, detail) = match &loaded {
                Ok(e) => (
                    true,
                    format!(
                        "{} · {}-d · loaded in {:.0} ms",
                        e.model(),
                        e.dim(),
                        started.elapsed().as_secs_f64() * 1000.0
                    ),
                ),
                Err(e) => (false, e.to_string()),
            };
            if output.json {
                print_json(&json!({
                    "ok": ok, "detail": detail, "modelsDir": paths.models_dir,
                    "runtime": paths.runtime, "modelDir": paths.model_dir,
                }));
            } else {
                println!("models dir  {}", paths.models_dir.display());
                println!(
                    "runtime     {}",
                    paths
                        .runtime
                        .as_ref()
                        .map_or("(none found)".into(), |p| p.display().to_string())
                );
                println!("model       {}", paths.model_dir.display());
                println!("{}  {detail}", if ok { "ok" } else { "not ready" });
            }
            Ok(if ok { 0 } else { 1 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("30m").unwrap(), 1800.0);
        assert_eq!(parse_age("7d").unwrap(), 604_800.0);
        assert_eq!(parse_age("2").unwrap(), 7200.0);
        assert!(parse_age("soon").is_err());
        assert!(parse_age("3y").unwrap_err().to_string().contains("unit"));
    }
}
