//! The real agent CLIs (installed by `scripts/test` at the versions pinned in `tests/agent-clis`)
//! pointed at a [`MockModel`]: an installation whose daemon, and so every agent it starts, has a
//! home of its own with each CLI's configuration for the mock.
//!
//! What each CLI needs to run offline against a local endpoint is harness knowledge, not product
//! behaviour (see ../shared/agent-protocols.md): Claude Code's onboarding flag, a Codex model
//! provider, Gemini's auth type, an OpenCode provider, aider's OpenAI base and no price fetch.

use crate::TestEnv;
use crate::mock_model::MockModel;
use std::path::{Path, PathBuf};

/// The CLIs by maestro's names for them.
pub const CLIS: [&str; 5] = ["claude", "codex", "gemini", "opencode", "aider"];

/// Where `scripts/test` installs them.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("MAESTRO_TEST_TOOLS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("maestro/test-tools"))
        })
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/maestro/test-tools")
        })
}

/// The installed program of `cli`; the test fails, saying how to install it, when it is missing.
pub fn program(cli: &str) -> PathBuf {
    let tools = tools_dir();
    let path = match cli {
        "aider" => tools.join("aider/bin/aider"),
        other => tools.join("agent-clis/node_modules/.bin").join(other),
    };
    assert!(
        path.exists(),
        "{cli} is not installed at {}: run scripts/test (it installs the pinned agent CLIs)",
        path.display()
    );
    path
}

/// The model names the CLIs are configured with (none of them is in maestro's price table
/// unless said so).
pub const CODEX_MODEL: &str = "gpt-5.1-codex";
pub const OPENCODE_MODEL: &str = "mock/mock-model";
pub const AIDER_MODEL: &str = "openai/mock-model";

/// An installation whose agents are the real CLIs talking to `mock`; `extra` is appended to its
/// config.
pub fn real_env(mock: &MockModel, extra: &str) -> TestEnv {
    let mut env = TestEnv::new();
    let user = env.home.path().join("user");
    setup_home(&user, mock);
    let mut config = String::from("[daemon]\nidle_timeout_secs = 120\n");
    for cli in CLIS {
        config.push_str(&format!(
            "[agents.{cli}]\npath = \"{}\"\n",
            program(cli).display()
        ));
        if cli == "aider" {
            config.push_str(&format!("model = \"{AIDER_MODEL}\"\n"));
        }
    }
    config.push_str(extra);
    env.write_config(&config);
    env.vars = vars(&user, mock);
    env
}

/// The environment of the daemon (and so of its agents).
pub fn vars(user: &Path, mock: &MockModel) -> Vec<(String, String)> {
    let url = mock.url();
    let path = std::env::var("PATH").unwrap_or_default();
    [
        ("HOME", user.display().to_string()),
        // Not the test's own directory (a checkout): a CLI that works where PWD says must not
        // find the project's repository there.
        ("PWD", user.display().to_string()),
        ("PATH", path),
        // Claude Code
        ("ANTHROPIC_BASE_URL", url.clone()),
        ("ANTHROPIC_API_KEY", "sk-ant-mock".to_owned()),
        ("DISABLE_AUTOUPDATER", "1".to_owned()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
        // Codex: the provider in ~/.codex/config.toml reads its key from here.
        ("MOCK_API_KEY", "mock".to_owned()),
        // Gemini CLI
        ("GEMINI_API_KEY", "mock".to_owned()),
        ("GOOGLE_GEMINI_BASE_URL", url.clone()),
        // OpenCode
        (
            "OPENCODE_CONFIG",
            user.join("opencode.json").display().to_string(),
        ),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1".to_owned()),
        // aider: the model's prices would be fetched from GitHub without the local map.
        ("OPENAI_API_BASE", format!("{url}/v1")),
        ("OPENAI_API_KEY", "mock".to_owned()),
        ("LITELLM_LOCAL_MODEL_COST_MAP", "True".to_owned()),
        ("AIDER_CHECK_UPDATE", "false".to_owned()),
        ("AIDER_ANALYTICS_DISABLE", "true".to_owned()),
        ("AIDER_SHOW_RELEASE_NOTES", "false".to_owned()),
        ("AIDER_SHOW_MODEL_WARNINGS", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Each CLI's configuration for the mock, in the home `user`.
pub fn setup_home(user: &Path, mock: &MockModel) {
    let write = |rel: &str, text: String| {
        let path = user.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    };
    let url = mock.url();
    // The person's git identity, where people keep it (Gemini's shell does not read it).
    write(
        ".gitconfig",
        "[user]\n\tname = Agent Person\n\temail = person@example.com\n".into(),
    );
    // Without it Claude Code checks the network on its first run; its terminal UI would also
    // ask whether to use the API key of the environment (its default answer is no).
    write(
        ".claude.json",
        r#"{"hasCompletedOnboarding": true, "customApiKeyResponses": {"approved": ["sk-ant-mock"], "rejected": []}}"#.into(),
    );
    write(
        ".codex/config.toml",
        format!(
            "model = \"{CODEX_MODEL}\"\nmodel_provider = \"mock\"\n\
             [model_providers.mock]\nname = \"mock\"\nbase_url = \"{url}/v1\"\n\
             wire_api = \"responses\"\nenv_key = \"MOCK_API_KEY\"\n"
        ),
    );
    // Without it Gemini picks another auth mode and rejects it.
    write(
        ".gemini/settings.json",
        r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#.into(),
    );
    write(
        "opencode.json",
        serde_json::json!({
            "$schema": "https://opencode.ai/config.json",
            "provider": {"mock": {"npm": "@ai-sdk/openai-compatible", "name": "Mock",
                "options": {"baseURL": format!("{url}/v1"), "apiKey": "mock"},
                "models": {"mock-model": {"name": "Mock"}}}},
            "model": OPENCODE_MODEL,
            "autoupdate": false,
            "share": "disabled"
        })
        .to_string(),
    );
}

/// A playbook for `cli` of three tasks (`one`, `two`, `three`), each of which has the mock model
/// run one command that ticks the task's own box in `plan.md`, writes `<task>.txt` and commits.
pub fn three_task_playbook(cli: &str) -> String {
    let task = |line: usize, word: &str| {
        format!(
            "- [ ] MOCK: run sed -i '{line}s/\\[ \\]/[x]/' plan.md && echo {word} > {word}.txt && git add -A && git commit -qm '{word}'\n"
        )
    };
    format!(
        "---\nagent: {cli}\n---\n{}{}{}",
        task(4, "one"),
        task(5, "two"),
        task(6, "three")
    )
}
