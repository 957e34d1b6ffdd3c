//! Where maestro keeps its files. `MAESTRO_HOME` relocates everything (tests use a temp dir);
//! otherwise the XDG base directories apply.
//!
//! `MAESTRO_HOME` relocates everything (`data/`, `state/`, `config/`, `run/`); otherwise XDG
//! (`XDG_DATA_HOME`, `XDG_STATE_HOME`, `XDG_CONFIG_HOME`, `XDG_RUNTIME_DIR`; without a runtime dir the socket
//! goes under the state dir, which is per user by construction, not `/tmp`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The directories maestro uses on this machine, resolved once from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The store, its backups, and (later) worktrees and models.
    pub data_dir: PathBuf,
    /// Logs.
    pub state_dir: PathBuf,
    /// The user's `config.toml`.
    pub config_dir: PathBuf,
    /// The daemon's socket and instance lock (kept 0700).
    pub runtime_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot tell where maestro keeps its files: neither MAESTRO_HOME nor HOME is set")]
pub struct PathsError;

impl Paths {
    /// Resolves the directories from this process's environment.
    pub fn from_env() -> Result<Paths, PathsError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Self::from_vars(|name| std::env::var_os(name), &cwd)
    }

    /// Resolves the directories from `var` (an environment lookup): `MAESTRO_HOME` first, then
    /// `XDG_DATA_HOME`, `XDG_STATE_HOME`, `XDG_CONFIG_HOME`, `XDG_RUNTIME_DIR`, then `HOME`.
    /// Empty and (for XDG) relative values count as unset, as the XDG spec says.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<OsString>,
        cwd: &Path,
    ) -> Result<Paths, PathsError> {
        let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(home) = set("MAESTRO_HOME") {
            let home = cwd.join(home);
            return Ok(Paths {
                data_dir: home.join("data"),
                state_dir: home.join("state"),
                config_dir: home.join("config"),
                runtime_dir: home.join("run"),
            });
        }
        let xdg = |name: &str| set(name).filter(|p| p.is_absolute());
        let home = set("HOME");
        let under_home = |rel: &str| home.as_ref().map(|h| h.join(rel)).ok_or(PathsError);
        let data_dir = match xdg("XDG_DATA_HOME") {
            Some(d) => d.join("maestro"),
            None => under_home(".local/share/maestro")?,
        };
        let state_dir = match xdg("XDG_STATE_HOME") {
            Some(d) => d.join("maestro"),
            None => under_home(".local/state/maestro")?,
        };
        let config_dir = match xdg("XDG_CONFIG_HOME") {
            Some(d) => d.join("maestro"),
            None => under_home(".config/maestro")?,
        };
        // Without XDG_RUNTIME_DIR, the state dir is per user by construction, unlike /tmp.
        let runtime_dir = match xdg("XDG_RUNTIME_DIR") {
            Some(d) => d.join("maestro"),
            None => state_dir.join("run"),
        };
        Ok(Paths {
            data_dir,
            state_dir,
            config_dir,
            runtime_dir,
        })
    }

    /// The cozo store.
    pub fn store_file(&self) -> PathBuf {
        self.data_dir.join("maestro.db")
    }

    /// Where a restore keeps the store it replaced.
    pub fn backups_dir(&self) -> PathBuf {
        self.data_dir.join("backups")
    }

    /// Present while this daemon is a member of the mesh: a starting daemon joins again.
    pub fn mesh_joined_file(&self) -> PathBuf {
        self.data_dir.join("mesh-joined")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// Agents' git worktrees, `<repo>-<hash>/<agent>` below it: never inside a repository.
    /// Message signing keys, one file per owner (0600; the directory 0700).
    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }

    pub fn worktrees_dir(&self) -> PathBuf {
        self.data_dir.join("worktrees")
    }

    /// Agents' output logs, `<workspace id>/<agent>.log` below it.
    pub fn agent_logs_dir(&self) -> PathBuf {
        self.log_dir().join("agents")
    }

    /// The daemon's tracing log.
    pub fn log_file(&self) -> PathBuf {
        self.log_dir().join("daemon.log")
    }

    /// What a daemon started in the background wrote to stderr: read by the client that started it
    /// when it fails before it could log.
    pub fn daemon_stderr_file(&self) -> PathBuf {
        self.log_dir().join("daemon-stderr.log")
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("daemon.sock")
    }

    /// Held (flock) by the one process that owns the store; holds its pid.
    pub fn lock_file(&self) -> PathBuf {
        self.runtime_dir.join("daemon.lock")
    }

    pub fn user_config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }
}

/// The per-repository config file of a workspace root.
pub fn workspace_config_file(root: &Path) -> PathBuf {
    root.join(".maestro").join("config.toml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)]) -> Result<Paths, PathsError> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Paths::from_vars(|n| map.get(n).cloned(), Path::new("/cwd"))
    }

    #[test]
    fn maestro_home_relocates_everything_and_wins_over_xdg() {
        let p = resolve(&[
            ("MAESTRO_HOME", "rel/home"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
            ("HOME", "/h"),
        ])
        .unwrap();
        assert_eq!(p.data_dir, Path::new("/cwd/rel/home/data"));
        assert_eq!(p.socket(), Path::new("/cwd/rel/home/run/daemon.sock"));
        assert_eq!(
            p.user_config_file(),
            Path::new("/cwd/rel/home/config/config.toml")
        );
    }

    #[test]
    fn xdg_dirs_apply_and_relative_or_empty_ones_are_ignored() {
        let p = resolve(&[
            ("HOME", "/h"),
            ("XDG_DATA_HOME", "/d"),
            ("XDG_CONFIG_HOME", "relative"),
            ("XDG_STATE_HOME", ""),
            ("XDG_RUNTIME_DIR", "/run/user/7"),
        ])
        .unwrap();
        assert_eq!(p.store_file(), Path::new("/d/maestro/maestro.db"));
        assert_eq!(p.config_dir, Path::new("/h/.config/maestro"));
        assert_eq!(
            p.log_file(),
            Path::new("/h/.local/state/maestro/logs/daemon.log")
        );
        assert_eq!(p.socket(), Path::new("/run/user/7/maestro/daemon.sock"));
    }

    #[test]
    fn without_a_runtime_dir_the_socket_stays_under_home() {
        let p = resolve(&[("HOME", "/h")]).unwrap();
        assert_eq!(p.runtime_dir, Path::new("/h/.local/state/maestro/run"));
        assert!(resolve(&[]).is_err());
    }
}
