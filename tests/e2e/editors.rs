//! The editor clients of `editors/` against the real server: a headless Neovim running the plugin,
//! the Helix configuration checked against the server's commands, and the packaged VS Code
//! extension in code-server opened by headless Chromium. `scripts/test` installs Neovim,
//! Chromium, code-server and the extension's npm packages, and builds the extension first.

use crate::agents::{agents_env, repo};
use maestro_tests::{TestEnv, git, maestro_bin};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn editors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors")
}

/// A repository with a Rust call across lines (`helper()` on line 6 is defined on line 1).
fn fixture(env: &TestEnv, name: &str) -> PathBuf {
    let dir = env.git_repo(name);
    std::fs::write(
        dir.join("src/main.rs"),
        "fn helper() -> u32 {\n    41\n}\n\nfn main() {\n    helper();\n}\n",
    )
    .unwrap();
    git(&dir, &["checkout", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "init"]);
    dir
}

/// PATH with the maestro binary's directory first.
fn path_with_maestro() -> String {
    let bin = maestro_bin().parent().unwrap().display().to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Runs a program to its end within `limit`, killing it after; returns (exit code, stderr).
fn run_bounded(mut command: Command, limit: Duration) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            return (status.code(), err);
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            return (None, format!("killed after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the plugin's e2e script in a headless Neovim on `dir`; returns what it recorded.
fn neovim(env: &TestEnv, dir: &Path, case: &str) -> Value {
    let nvim = which("nvim").expect("nvim is not installed: scripts/test installs it (apt neovim)");
    let out = env.home.path().join(format!("nvim-{case}.json"));
    let mut c = Command::new(nvim);
    c.args(["--headless", "--clean", "--cmd"])
        .arg(format!("set rtp^={}", editors_dir().join("neovim").display()))
        .arg("-c")
        .arg(format!(
            "luafile {}",
            editors_dir().join("neovim/tests/e2e.lua").display()
        ))
        .env("MAESTRO_HOME", env.home.path())
        .env("MAESTRO_NVIM_OUT", &out)
        .env("MAESTRO_NVIM_CASE", case)
        .env("MAESTRO_NVIM_REPO", dir)
        .env("PATH", path_with_maestro())
        .env_remove("MAESTRO_MODELS_DIR")
        .env("XDG_STATE_HOME", env.home.path().join("nvim-state"))
        .env("XDG_DATA_HOME", env.home.path().join("nvim-data"))
        .current_dir(dir);
    let (code, stderr) = run_bounded(c, Duration::from_secs(120));
    let recorded = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("nvim ({case}) wrote nothing ({e}); exit {code:?}: {stderr}"));
    let v: Value = serde_json::from_str(&recorded).unwrap();
    assert!(v.get("error").is_none(), "the nvim script failed: {v:#}");
    v
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[test]
fn neovim_plugin_navigates_lists_agents_and_hears_their_status() {
    let env = agents_env("[agents]\nneeds_input_secs = 1\n");
    let dir = fixture(&env, "nv");
    // An agent the plugin should list.
    env.ok(&dir, &["agent", "spawn", "fixer", "say on it", "--wait"]);

    let v = neovim(&env, &dir, "main");
    assert_eq!(v["started"], true, "{v:#}");
    assert_eq!(
        v["server_version"],
        env!("CARGO_PKG_VERSION"),
        "the server's version: {v:#}"
    );
    // Go-to-definition landed on `fn helper` (1-based line 1) in the same file.
    assert_eq!(v["definition"], json!([1, 3]), "{v:#}");
    assert_eq!(v["definition_file"], "main.rs");
    let agents = v["agents"].to_string();
    assert!(agents.contains("fixer") && agents.contains("idle"), "{v:#}");
    // The agent spawned from Neovim asked a question: the status notification reached the handler.
    assert_eq!(v["attention"], true, "{v:#}");
    assert_eq!(v["asker_state"], "needs_input", "{v:#}");
    assert_eq!(v["statusline"], "maestro: 1 needs input", "{v:#}");
    // A crash was told once and the server came back for the next buffer.
    assert!(v["lsp_pid"].is_u64(), "no maestro lsp child found: {v:#}");
    assert_eq!(v["crash_told"], true, "{v:#}");
    assert_eq!(v["crash_notes"], 1, "{v:#}");
    assert_eq!(v["restarted"], true, "{v:#}");
}

#[test]
fn neovim_plugin_says_once_when_the_server_is_missing_or_speaks_another_protocol() {
    let env = TestEnv::new();
    let dir = fixture(&env, "nvbad");
    let missing = neovim(&env, &dir, "missing");
    assert_eq!(missing["missing"], 1, "told once for two buffers: {missing:#}");
    assert_eq!(missing["client"], false);
    let text = missing["notes"][0]["msg"].as_str().unwrap();
    assert!(text.contains("./install.sh") && text.contains("cmd"), "{text}");

    let version = neovim(&env, &dir, "version");
    assert_eq!(version["version"], 1, "told once: {version:#}");
    assert_eq!(version["client"], false, "the mismatched client stopped");
}

/// The `maestro.*` commands `maestro lsp` advertises.
fn server_commands(env: &TestEnv, dir: &Path) -> Vec<String> {
    let mut lsp = env.lsp(dir, &[]);
    let init = lsp.initialize(dir, false, false);
    let commands = init["capabilities"]["executeCommandProvider"]["commands"]
        .as_array()
        .expect("executeCommandProvider.commands")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    lsp.shutdown_and_exit();
    commands
}

/// Every `maestro.x` word of a text.
fn named_commands(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in text.match_indices("maestro.") {
        let word: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            .collect();
        let word = word.trim_end_matches('.').to_owned();
        if word.split('.').count() > 1 && !found.contains(&word) {
            found.push(word);
        }
    }
    found
}

#[test]
fn helix_configuration_names_only_commands_the_server_has() {
    let env = TestEnv::new();
    let dir = repo(&env, "hx");
    let commands = server_commands(&env, &dir);
    let helix = editors_dir().join("helix");
    let languages = std::fs::read_to_string(helix.join("languages.toml")).unwrap();
    let config = std::fs::read_to_string(helix.join("config.toml")).unwrap();
    let readme = std::fs::read_to_string(helix.join("README.md")).unwrap();

    // languages.toml: maestro is a server running `maestro lsp`, added to every language.
    let parsed = parse_toml(&languages);
    assert_eq!(parsed["language-server"]["maestro"]["command"], "maestro");
    assert_eq!(parsed["language-server"]["maestro"]["args"], json!(["lsp"]));
    let languages: Vec<&str> = parsed["language"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let servers = l["language-servers"].as_array().unwrap();
            assert_eq!(servers.last().unwrap(), "maestro", "maestro comes last: {l}");
            l["name"].as_str().unwrap()
        })
        .collect();
    for name in [
        "rust",
        "python",
        "typescript",
        "tsx",
        "javascript",
        "jsx",
        "go",
        "markdown",
    ] {
        assert!(languages.contains(&name), "{name} missing from {languages:?}");
    }

    // config.toml: every key runs `:lsp-workspace-command` on a command the server has.
    let keys = parse_toml(&config);
    let bound = keys["keys"]["normal"]["space"]["m"].as_object().unwrap();
    assert!(bound.len() >= 8, "{bound:?}");
    for (key, action) in bound {
        let action = action.as_str().unwrap();
        let name = action
            .strip_prefix(":lsp-workspace-command ")
            .unwrap_or_else(|| panic!("{key}: {action}"));
        assert!(commands.iter().any(|c| c == name), "{key}: {name} is not a server command");
    }
    for name in named_commands(&readme) {
        assert!(
            commands.contains(&name),
            "editors/helix/README.md names {name}, which the server does not have"
        );
    }
}

fn parse_toml(src: &str) -> Value {
    let table: toml::Table = toml::from_str(src).unwrap_or_else(|e| panic!("not TOML: {e}"));
    serde_json::to_value(table).unwrap()
}
