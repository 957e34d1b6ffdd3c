//! A CLI's session file, where the CLI keeps it, so an agent resumes its conversation on another
//! machine or in another worktree.
//!
//! * Claude Code: `<config>/projects/<cwd with every character but ASCII letters and digits made
//!   `-`>/<session id>.jsonl`, `<config>` being `$CLAUDE_CONFIG_DIR` or `~/.claude`. It looks
//!   for a session under the directory of the cwd it runs in, so the file is placed under the
//!   new worktree's name, and the `cwd` its lines record is changed to it.
//! * Codex: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<session id>.jsonl` (`~/.codex`);
//!   `codex exec resume <id>` finds it by id wherever it is under `sessions/`.
//!
//! Other CLIs keep sessions in their own databases (Gemini CLI, OpenCode) or in the worktree
//! (aider's history, untracked): not carried; the agent starts a new session.

use std::path::{Path, PathBuf};

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn claude_dir() -> Option<PathBuf> {
    std::env::var_os("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".claude")))
}

fn codex_dir() -> Option<PathBuf> {
    std::env::var_os("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".codex")))
}

/// Claude Code's directory name for a working directory.
pub fn claude_project(cwd: &Path) -> String {
    cwd.to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Whether `cli` keeps sessions in files this module carries.
pub fn carried(cli: &str) -> bool {
    matches!(cli, "claude" | "codex")
}

/// The session file of `session_id` of an agent of `cli` working in `cwd`: its file name and
/// path, when there is one.
pub fn find(cli: &str, session_id: &str, cwd: &Path) -> Option<(String, PathBuf)> {
    if !plain(session_id) {
        return None;
    }
    match cli {
        "claude" => {
            let file = format!("{session_id}.jsonl");
            let path = claude_dir()?
                .join("projects")
                .join(claude_project(cwd))
                .join(&file);
            path.is_file().then_some((file, path))
        }
        "codex" => {
            let suffix = format!("-{session_id}.jsonl");
            let sessions = codex_dir()?.join("sessions");
            for year in dirs(&sessions) {
                for month in dirs(&year) {
                    for day in dirs(&month) {
                        for entry in std::fs::read_dir(&day).ok()?.flatten() {
                            let name = entry.file_name().to_string_lossy().into_owned();
                            if name.ends_with(&suffix) && entry.path().is_file() {
                                return Some((name, entry.path()));
                            }
                        }
                    }
                }
            }
            None
        }
        _ => None,
    }
}

fn dirs(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

/// A plain file name part: letters, digits, `-`, `_`, `.`, not hidden, at most 200 bytes.
pub(crate) fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the session file `{0}` is not one of {1}'s")]
    BadName(String, String),
    #[error("no home directory to put {0}'s session in")]
    NoHome(String),
    #[error("the session file is not text")]
    NotText,
    #[error("a session file already exists at {0}")]
    Exists(PathBuf),
    #[error("{path}: {problem}")]
    Io { path: PathBuf, problem: String },
}

/// A session file made ready for another place: its `cwd` made `new_cwd`, and, when
/// `new_id` is given, its session id replaced (a fork: two agents never share a session).
/// Returns the file's name and text.
pub fn rewrite(
    file: &str,
    text: &str,
    old_id: &str,
    new_id: Option<&str>,
    old_cwd: &Path,
    new_cwd: &Path,
) -> (String, String) {
    let json = |p: &Path| serde_json::to_string(&p.to_string_lossy()).expect("a string is JSON");
    let mut text = text.replace(
        &format!("\"cwd\":{}", json(old_cwd)),
        &format!("\"cwd\":{}", json(new_cwd)),
    );
    let mut file = file.to_owned();
    if let Some(new) = new_id {
        text = text.replace(old_id, new);
        file = file.replace(old_id, new);
    }
    (file, text)
}

/// Puts session file `file` (`text`) of `cli` where the CLI looks for it when it runs in `cwd`.
/// Refuses to overwrite a different file that is there, unless `replace` (a rollback).
pub fn place(
    cli: &str,
    file: &str,
    text: &str,
    cwd: &Path,
    replace: bool,
) -> Result<PathBuf, SessionError> {
    let base = match cli {
        "claude" => claude_dir(),
        "codex" => codex_dir(),
        _ => None,
    };
    place_in(base, cli, file, text, cwd, replace)
}

/// [`place`] under `base`, the CLI's own directory (`~/.claude`, `~/.codex`).
pub(crate) fn place_in(
    base: Option<PathBuf>,
    cli: &str,
    file: &str,
    text: &str,
    cwd: &Path,
    replace: bool,
) -> Result<PathBuf, SessionError> {
    let bad = || SessionError::BadName(file.to_owned(), cli.to_owned());
    if !plain(file) || !file.ends_with(".jsonl") {
        return Err(bad());
    }
    let base = || base.clone().ok_or_else(|| SessionError::NoHome(cli.into()));
    let dir = match cli {
        "claude" => base()?.join("projects").join(claude_project(cwd)),
        "codex" => {
            // rollout-YYYY-MM-DDThh-mm-ss-<id>.jsonl
            let date = file
                .strip_prefix("rollout-")
                .and_then(|r| r.get(..10))
                .ok_or_else(bad)?;
            let parts: Vec<&str> = date.split('-').collect();
            let [y, m, d] = parts[..] else {
                return Err(bad());
            };
            if ![y, m, d]
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(bad());
            }
            base()?.join("sessions").join(y).join(m).join(d)
        }
        _ => return Err(bad()),
    };
    let path = dir.join(file);
    let io = |e: std::io::Error| SessionError::Io {
        path: path.clone(),
        problem: e.to_string(),
    };
    if path.exists() && !replace {
        // The same session put back where it was (an agent exported, removed and imported on
        // one machine): nothing to write.
        if std::fs::read(&path).is_ok_and(|b| b == text.as_bytes()) {
            return Ok(path);
        }
        return Err(SessionError::Exists(path));
    }
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(&path, text).map_err(io)?;
    Ok(path)
}

/// A new session id of the shape `cli` makes (a UUID, version 7 for Codex, whose first 48 bits
/// are the time in milliseconds; version 4 for Claude Code).
pub fn new_id(cli: &str) -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("randomness from the system");
    if cli == "codex" {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
        b[6] = (b[6] & 0x0f) | 0x70;
    } else {
        b[6] = (b[6] & 0x0f) | 0x40;
    }
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
