//! Portable agents: an agent as one file. This crate owns the archive and knows nothing of the
//! store: the engine gathers each service's rows into named entries, and gets them back checked.
//!
//! ## The archive
//!
//! A tar in an LZ4 frame. Its first entry is `manifest.json` ([`Manifest`]: the format version,
//! the maestro that wrote it, the agent, its repository by root commit, and the size and SHA-256
//! of every other entry). [`read`] refuses, before the caller writes anything:
//! an archive of another format version, an entry the manifest does not list or one it lists that
//! is missing, a size or checksum that differs, a path that is absolute, has `..` or is not one of
//! the names an archive holds, a link, a device, a directory, an entry twice, more than the
//! [`Limits`], and a stream that ends early (truncated) or does not decode. [`Archive::write`]
//! writes to a temporary file beside the target and renames it (0600: an archive holds
//! transcripts), so a failed export leaves no half file.
//!
//! The branch is a git bundle ([`bundle`]), the CLI's session file is placed where the CLI looks
//! for it ([`session`]), and a secret key travels only sealed with a passphrase ([`seal`]).

pub mod bundle;
pub mod seal;
pub mod session;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The archive format this maestro writes and reads.
pub const FORMAT: u32 = 1;
/// The manifest's entry name; always the first entry.
pub const MANIFEST: &str = "manifest.json";

/// The entries an archive may hold (besides the manifest).
pub mod entry {
    /// The agent's record (JSON).
    pub const AGENT: &str = "agent.json";
    /// Its identity: the public key, and the sealed secret with `--with-key` (JSON).
    pub const IDENTITY: &str = "identity.json";
    /// Its memories, one JSON object per line, without vectors.
    pub const MEMORIES: &str = "memories.jsonl";
    /// The memories' vectors, in the order of `memories.jsonl`: per memory a little-endian `u32`
    /// count of `f32`s (0: none), then the floats.
    pub const VECTORS: &str = "vectors.bin";
    /// Its turns, one JSON object per line.
    pub const TURNS: &str = "turns.jsonl";
    /// Its usage rows, one JSON object per line.
    pub const USAGE: &str = "usage.jsonl";
    /// Its transcript: the output log as the person saw it.
    pub const TRANSCRIPT: &str = "transcript.log";
    /// Its inbox: messages it sent or was sent, signed, with their read and delivered marks.
    pub const INBOX: &str = "inbox.jsonl";
    /// Its branch, as a git bundle.
    pub const BRANCH: &str = "branch.bundle";
    /// The CLI's session file: `session/<cli>/<file name>`.
    pub const SESSION_DIR: &str = "session";
    pub const FIXED: [&str; 9] = [
        AGENT, IDENTITY, MEMORIES, VECTORS, TURNS, USAGE, TRANSCRIPT, INBOX, BRANCH,
    ];
}

/// What an archive says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    /// The maestro version that wrote it.
    pub maestro: String,
    /// Unix seconds.
    pub created_at: f64,
    pub agent: String,
    /// Which CLI it runs.
    pub cli: String,
    /// The repository, by its first (root) commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The branch's tip when it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The CLI's session id when it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// A person's note (snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether the identity holds the sealed secret key.
    #[serde(default)]
    pub with_key: bool,
    pub entries: Vec<EntrySum>,
}

/// An entry's size and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntrySum {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Bounds on what reading an archive takes in.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The whole archive, decompressed.
    pub total_bytes: u64,
    /// The manifest.
    pub manifest_bytes: u64,
    pub entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            total_bytes: 4 << 30,
            manifest_bytes: 1 << 20,
            entries: 64,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {problem}")]
    Io { path: PathBuf, problem: String },
    #[error(
        "{path} is not a maestro agent archive, or it is truncated or damaged ({problem}); nothing was imported"
    )]
    Damaged { path: PathBuf, problem: String },
    #[error("{path}: refused, nothing was imported: {problem}")]
    Refused { path: PathBuf, problem: String },
    #[error(
        "{path} is an agent archive of format {found}; this maestro ({ours}) reads format {FORMAT}"
    )]
    Version {
        path: PathBuf,
        found: u32,
        ours: String,
    },
}

/// An archive being made: named entries in memory.
#[derive(Debug, Default)]
pub struct Archive {
    entries: BTreeMap<String, Vec<u8>>,
}

/// A name an archive may hold: one of [`entry::FIXED`], or `session/<cli>/<file>` with plain
/// parts.
pub fn valid_name(name: &str) -> bool {
    if entry::FIXED.contains(&name) {
        return true;
    }
    let mut parts = name.split('/');
    let (Some(dir), Some(cli), Some(file), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    dir == entry::SESSION_DIR && session::plain(cli) && session::plain(file)
}

fn sha256_hex(bytes: &[u8]) -> String {
    seal::hex(&Sha256::digest(bytes))
}

impl Archive {
    pub fn new() -> Archive {
        Archive::default()
    }

    /// Adds an entry. Panics on a name [`valid_name`] refuses: names are the program's.
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) {
        assert!(valid_name(name), "not an archive entry name: {name}");
        self.entries.insert(name.to_owned(), bytes);
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries.get(name).map(Vec::as_slice)
    }

    /// The entries' names and sizes.
    pub fn sizes(&self) -> Vec<(String, u64)> {
        self.entries
            .iter()
            .map(|(n, b)| (n.clone(), b.len() as u64))
            .collect()
    }

    /// The manifest `head` completed with the entries' sums.
    fn manifest(&self, mut head: Manifest) -> Manifest {
        head.format = FORMAT;
        head.entries = self
            .entries
            .iter()
            .map(|(name, bytes)| EntrySum {
                name: name.clone(),
                bytes: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect();
        head
    }

    /// The archive's bytes (the manifest first).
    pub fn to_bytes(&self, head: Manifest) -> Result<Vec<u8>, std::io::Error> {
        let manifest = serde_json::to_vec_pretty(&self.manifest(head)).expect("a manifest is JSON");
        let mut out = lz4_flex::frame::FrameEncoder::new(Vec::new());
        {
            let mut tar = tar::Builder::new(&mut out);
            tar.mode(tar::HeaderMode::Deterministic);
            let mut put = |name: &str, bytes: &[u8]| {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(bytes.len() as u64);
                header.set_mode(0o600);
                tar.append_data(&mut header, name, bytes)
            };
            put(MANIFEST, &manifest)?;
            for (name, bytes) in &self.entries {
                put(name, bytes)?;
            }
            tar.finish()?;
        }
        out.finish().map_err(std::io::Error::other)
    }

    /// Writes the archive to `path` (through a temporary file beside it, renamed into place;
    /// 0600). Returns its size.
    pub fn write(&self, path: &Path, head: Manifest) -> Result<u64, ArchiveError> {
        let io = |e: std::io::Error| ArchiveError::Io {
            path: path.to_owned(),
            problem: e.to_string(),
        };
        let bytes = self.to_bytes(head).map_err(io)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut nonce = [0u8; 6];
        getrandom::getrandom(&mut nonce).map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let name = path
            .file_name()
            .map_or("archive".into(), |n| n.to_string_lossy());
        let tmp = dir.join(format!(".{name}.{}.part", seal::hex(&nonce)));
        let written = (|| {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(bytes.len() as u64)
    }
}

/// A read and checked archive.
#[derive(Debug)]
pub struct Contents {
    pub manifest: Manifest,
    pub entries: BTreeMap<String, Vec<u8>>,
}

impl Contents {
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries.get(name).map(Vec::as_slice)
    }

    /// The session file of the archive, if any: `(cli, file name, bytes)`.
    pub fn session(&self) -> Option<(&str, &str, &[u8])> {
        self.entries.iter().find_map(|(name, bytes)| {
            let rest = name.strip_prefix("session/")?;
            let (cli, file) = rest.split_once('/')?;
            Some((cli, file, bytes.as_slice()))
        })
    }
}

/// Reads and checks the archive at `path` (see the crate's documentation for what is refused).
pub fn read(path: &Path, limits: Limits) -> Result<Contents, ArchiveError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| ArchiveError::Io {
        path: path.to_owned(),
        problem: e.to_string(),
    })?;
    if !meta.is_file() {
        return Err(ArchiveError::Refused {
            path: path.to_owned(),
            problem: "not a regular file".into(),
        });
    }
    let file = std::fs::File::open(path).map_err(|e| ArchiveError::Io {
        path: path.to_owned(),
        problem: e.to_string(),
    })?;
    read_from(std::io::BufReader::new(file), path, limits)
}

/// Reads and checks an archive's bytes; `label` names it in errors.
pub fn read_bytes(bytes: &[u8], label: &Path, limits: Limits) -> Result<Contents, ArchiveError> {
    read_from(bytes, label, limits)
}

fn read_from(input: impl Read, path: &Path, limits: Limits) -> Result<Contents, ArchiveError> {
    let damaged = |problem: String| ArchiveError::Damaged {
        path: path.to_owned(),
        problem,
    };
    let refused = |problem: String| ArchiveError::Refused {
        path: path.to_owned(),
        problem,
    };
    let mut tar = tar::Archive::new(lz4_flex::frame::FrameDecoder::new(input));
    let entries = tar.entries().map_err(|e| damaged(e.to_string()))?;
    let mut manifest: Option<Manifest> = None;
    let mut read: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut total = 0u64;
    for (n, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            let what = match kind {
                tar::EntryType::Symlink => "a symbolic link",
                tar::EntryType::Link => "a hard link",
                tar::EntryType::Char | tar::EntryType::Block => "a device",
                tar::EntryType::Fifo => "a pipe",
                tar::EntryType::Directory => "a directory",
                _ => "not a regular file",
            };
            return Err(refused(format!("entry `{shown}` is {what}")));
        }
        let Ok(name) = String::from_utf8(raw) else {
            return Err(refused(format!(
                "entry `{shown}`: a name that is not UTF-8"
            )));
        };
        if name.starts_with('/') {
            return Err(refused(format!("entry `{name}` has an absolute path")));
        }
        if name.split('/').any(|p| p == "..") {
            return Err(refused(format!("entry `{name}` has `..` in its path")));
        }
        if n == 0 && name != MANIFEST {
            return Err(damaged(format!(
                "its first entry is `{name}`, not `{MANIFEST}`"
            )));
        }
        if n > 0 && !valid_name(&name) {
            return Err(refused(format!(
                "entry `{name}` is not one an agent archive holds"
            )));
        }
        if n > limits.entries {
            return Err(refused(format!("more than {} entries", limits.entries)));
        }
        let size = entry.header().size().map_err(|e| damaged(e.to_string()))?;
        let bound = if n == 0 {
            limits.manifest_bytes
        } else {
            limits.total_bytes.saturating_sub(total)
        };
        if size > bound {
            return Err(refused(format!(
                "entry `{name}` is {size} bytes: more than the {} an archive may hold",
                if n == 0 {
                    limits.manifest_bytes
                } else {
                    limits.total_bytes
                }
            )));
        }
        let mut bytes = Vec::with_capacity(size.min(64 << 20) as usize);
        (&mut entry)
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(|e| damaged(format!("entry `{name}`: {e}")))?;
        if (bytes.len() as u64) < size {
            return Err(damaged(format!("entry `{name}` ends early")));
        }
        total += size;
        if n == 0 {
            let head: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| damaged(format!("its manifest: {e}")))?;
            let format = head.get("format").and_then(|f| f.as_u64()).unwrap_or(0);
            if format != u64::from(FORMAT) {
                return Err(ArchiveError::Version {
                    path: path.to_owned(),
                    found: format as u32,
                    ours: env!("CARGO_PKG_VERSION").to_owned(),
                });
            }
            manifest = Some(
                serde_json::from_value(head).map_err(|e| damaged(format!("its manifest: {e}")))?,
            );
            continue;
        }
        if read.insert(name.clone(), bytes).is_some() {
            return Err(refused(format!("entry `{name}` is there twice")));
        }
    }
    let Some(manifest) = manifest else {
        return Err(damaged("it is empty".into()));
    };
    for sum in &manifest.entries {
        let Some(bytes) = read.get(&sum.name) else {
            return Err(damaged(format!(
                "entry `{}` is in its manifest but not in the archive",
                sum.name
            )));
        };
        if bytes.len() as u64 != sum.bytes || sha256_hex(bytes) != sum.sha256 {
            return Err(refused(format!(
                "entry `{}` does not match its checksum in the manifest (changed after it was made)",
                sum.name
            )));
        }
    }
    if let Some(extra) = read
        .keys()
        .find(|k| !manifest.entries.iter().any(|s| &s.name == *k))
    {
        return Err(refused(format!(
            "entry `{extra}` is not in the manifest (added after it was made)"
        )));
    }
    Ok(Contents {
        manifest,
        entries: read,
    })
}

/// Reads only the manifest of the archive at `path` (listing snapshots); not checked further.
pub fn read_manifest(path: &Path) -> Result<Manifest, ArchiveError> {
    let damaged = |problem: String| ArchiveError::Damaged {
        path: path.to_owned(),
        problem,
    };
    let file = std::fs::File::open(path).map_err(|e| ArchiveError::Io {
        path: path.to_owned(),
        problem: e.to_string(),
    })?;
    let mut tar = tar::Archive::new(lz4_flex::frame::FrameDecoder::new(std::io::BufReader::new(
        file,
    )));
    let mut entries = tar.entries().map_err(|e| damaged(e.to_string()))?;
    let mut first = entries
        .next()
        .ok_or_else(|| damaged("it is empty".into()))?
        .map_err(|e| damaged(e.to_string()))?;
    let mut bytes = Vec::new();
    (&mut first)
        .take(Limits::default().manifest_bytes)
        .read_to_end(&mut bytes)
        .map_err(|e| damaged(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| damaged(format!("its manifest: {e}")))
}

/// A manifest head to complete when writing.
pub fn head(agent: &str, cli: &str, created_at: f64) -> Manifest {
    Manifest {
        format: FORMAT,
        maestro: env!("CARGO_PKG_VERSION").to_owned(),
        created_at,
        agent: agent.to_owned(),
        cli: cli.to_owned(),
        repository: None,
        commit: None,
        session: None,
        note: None,
        with_key: false,
        entries: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
