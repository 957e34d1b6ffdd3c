//! Commands a repository chooses run only after the person approved that exact command
//! for that repository. Today that is `agents.setup_command` set in `<repo>/.maestro/config.toml`
//! (automations and hooks will join `REPOSITORY_COMMANDS`); the same key in the user's own config
//! needs no approval. Approvals are `trusted_command` rows (repository root, key → the argument
//! vector as JSON, the file, when), loaded into memory at start and written through, so the check
//! costs a map lookup. Every path that starts an agent (spawn, delegate, playbook turns, a
//! playbook's preparation) checks before anything runs; an unapproved or changed command is
//! refused with `-32097` (`NOT_TRUSTED`): the message names the repository, the key, the file and
//! the exact argument vector, and says to run `maestro trust`; `data` carries them for clients.
//! `maestro/trust.approve` takes the command the client showed and refuses one that no longer
//! matches the file (approving approves what the person saw). `maestro trust` lists, shows and
//! approves (asking on a terminal, `--yes` for scripts) or revokes; the LSP front answers a
//! refused command by asking with `window/showMessageRequest` and, once allowed, approves and
//! sends the request again.

use crate::config::{self, Config, Source};
use maestro_protocol::{
    RepositoryCommand, RpcError, TrustListResult, TrustState, UntrustedCommand, code,
};
use maestro_store::{Store, StoreError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The config keys whose value is a command a repository may choose, and when each runs.
pub const REPOSITORY_COMMANDS: &[(&str, &str)] = &[(
    config::AGENTS_SETUP_COMMAND,
    "in each new agent worktree, before the agent's first turn",
)];

/// The approvals, as stored, in memory.
pub struct Trust {
    /// (repository root, key) → the approved argument vector.
    approved: Mutex<HashMap<(PathBuf, String), Vec<String>>>,
}

impl Trust {
    pub fn load(store: &Store) -> Result<Trust, StoreError> {
        let approved = store
            .trusted_commands()?
            .into_iter()
            .map(|r| ((PathBuf::from(r.root), r.key), r.command))
            .collect();
        Ok(Trust {
            approved: Mutex::new(approved),
        })
    }

    /// The commands `config` (a repository's, rooted at `root`) chooses, with their state.
    pub fn list(&self, root: &Path, config: &Config) -> TrustListResult {
        let approved = self.approved.lock().unwrap();
        let commands = chosen(config)
            .into_iter()
            .map(|(key, when, command, file)| {
                let before = approved.get(&(root.to_path_buf(), key.to_owned()));
                let state = match before {
                    Some(b) if *b == command => TrustState::Approved,
                    Some(_) => TrustState::Changed,
                    None => TrustState::Unapproved,
                };
                RepositoryCommand {
                    key: key.to_owned(),
                    when: when.to_owned(),
                    command,
                    file,
                    state,
                    approved: before.filter(|_| state == TrustState::Changed).cloned(),
                }
            })
            .collect();
        TrustListResult {
            root: root.to_path_buf(),
            commands,
        }
    }

    /// Refuses, before anything runs, when `config` chooses a command of `key` that is not
    /// approved for `root` exactly as it is.
    pub fn check(&self, root: &Path, config: &Config, key: &str) -> Result<(), RpcError> {
        let list = self.list(root, config);
        let Some(c) = list.commands.into_iter().find(|c| c.key == key) else {
            return Ok(());
        };
        if c.state == TrustState::Approved {
            return Ok(());
        }
        let changed = if c.state == TrustState::Changed {
            " It changed since it was approved."
        } else {
            ""
        };
        let message = format!(
            "the repository {} asks to run {} {} ({} in {}); it runs only once you approve it.{changed} \
             Review and approve it with `maestro trust` in that repository, or remove the key.",
            crate::text::visible(&root.display().to_string()),
            crate::text::shell_words(&c.command),
            c.when,
            c.key,
            crate::text::visible(&c.file.display().to_string()),
        );
        let data = UntrustedCommand {
            root: root.to_path_buf(),
            key: c.key,
            when: c.when,
            command: c.command,
            file: c.file,
        };
        let mut error = RpcError::new(code::NOT_TRUSTED, message);
        error.data = serde_json::to_value(data).ok();
        Err(error)
    }

    pub(crate) fn forget(&self, root: &Path) {
        self.approved.lock().unwrap().retain(|(r, _), _| r != root);
    }

    pub(crate) fn set(&self, root: &Path, key: &str, command: Option<Vec<String>>) {
        let mut approved = self.approved.lock().unwrap();
        let k = (root.to_path_buf(), key.to_owned());
        match command {
            Some(c) => approved.insert(k, c),
            None => approved.remove(&k),
        };
    }
}

/// The repository commands `config` sets in its workspace file: (key, when, command, file).
fn chosen(config: &Config) -> Vec<(&'static str, &'static str, Vec<String>, PathBuf)> {
    REPOSITORY_COMMANDS
        .iter()
        .filter_map(|&(key, when)| {
            let entry = config.entry(key);
            let file = match entry.source {
                Source::File(f) if config.workspace_layer().is_some_and(|w| w.file == f) => f,
                // Set by the person's own config, or not at all.
                _ => return None,
            };
            let command = config.list_of(key);
            (!command.is_empty()).then_some((key, when, command, file))
        })
        .collect()
}
