//! `maestro config show`: read from the files directly, so it works (and explains) when the daemon
//! cannot start because of the configuration.

use super::print_json;
use maestro_engine::config::Source;
use maestro_engine::workspace::find_root;
use maestro_engine::{Config, Paths};
use serde_json::json;

pub fn show(paths: &Paths, json: bool) -> anyhow::Result<i32> {
    let user = Config::load_user(paths)?;
    let cwd = std::env::current_dir()?;
    let root = find_root(&cwd).ok().map(|r| r.root);
    let config = match &root {
        Some(root) => user.with_workspace(root)?,
        None => user,
    };
    let entries = config.entries();
    if json {
        for (key, e) in &entries {
            let source = match &e.source {
                Source::Default => json!("default"),
                Source::File(f) => json!(f),
            };
            print_json(&json!({
                "key": key,
                "value": e.value.to_json(),
                "source": source,
                "default": match e.def.default {
                    maestro_engine::config::DefaultValue::Unset => serde_json::Value::Null,
                    d => d.value().to_json(),
                },
                "doc": e.def.doc,
            }));
        }
        return Ok(0);
    }
    println!("user config:       {}", paths.user_config_file().display());
    if let Some(root) = &root {
        println!(
            "repository config: {}",
            maestro_engine::paths::workspace_config_file(root).display()
        );
    }
    println!();
    let width = entries
        .iter()
        .map(|(key, e)| key.len() + e.value.to_string().len() + 3)
        .max()
        .unwrap_or(0);
    for (key, e) in &entries {
        let setting = format!("{key} = {}", e.value);
        let line = format!("{setting:<width$}  # {}", e.source);
        println!("{}", maestro_engine::text::visible(&line));
    }
    Ok(0)
}
