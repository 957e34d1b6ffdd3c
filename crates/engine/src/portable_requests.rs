//! Portable agents (`maestro/agent.export|import|fork|snapshot|snapshots|rollback`): an agent
//! captured from its services into an archive (`maestro_portable`), and an archive made an agent
//! again. Each service gives and takes its own rows: the supervisor the record, turns, usage,
//! worktree and transcript; memory the memories with their vectors; the mailboxes the inbox;
//! the keyring the identity. See ARCHITECTURE.md, "Portable agents".

use crate::agent_requests::agent_error;
use crate::agent_settings::workspace_of;
use crate::engine::{Engine, store_error};
use crate::session::{Answer, Session};
use maestro_agents::persist::{AgentRecord, TurnRow, UsageRecord};
use maestro_agents::{Adopted, AgentCli, WorkspaceRef, worktree};
use maestro_comms::{Held, agent_address, owner_of};
use maestro_memory::service::AgentMemory;
use maestro_portable::{Archive, Contents, Limits, Manifest, entry, seal, session};
use maestro_protocol::{
    AgentExportParams, AgentExportResult, AgentForkParams, AgentImportParams, AgentInfo, AgentRef,
    AgentRollbackParams, AgentRollbackResult, AgentSnapshotParams, ArchiveEntry, Isolation,
    RpcError, SnapshotInfo, code,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The identity entry: the agent's public key, and its secret sealed with a passphrase when
/// asked for.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    address: String,
    public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_key: Option<seal::Sealed>,
}

/// What to put in a capture.
#[derive(Default)]
pub(crate) struct CaptureOptions {
    /// The branch as a bundle (an archive that leaves this repository); a snapshot keeps a ref.
    pub bundle: bool,
    /// The secret key, sealed with this passphrase.
    pub passphrase: Option<String>,
    pub note: Option<String>,
}

/// An agent captured: the archive's entries and manifest, and what was left out.
pub(crate) struct Capture {
    pub archive: Archive,
    pub head: Manifest,
    pub notes: Vec<String>,
    pub memories: usize,
    pub messages: usize,
}

fn failed(what: &str, e: impl std::fmt::Display) -> RpcError {
    RpcError::new(code::AGENT_FAILED, format!("{what}: {e}"))
}

fn jsonl<T: Serialize>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        serde_json::to_writer(&mut out, item).expect("rows are JSON");
        out.push(b'\n');
    }
    out
}

fn from_jsonl<T: for<'de> Deserialize<'de>>(
    contents: &Contents,
    name: &str,
) -> Result<Vec<T>, RpcError> {
    let Some(bytes) = contents.get(name) else {
        return Ok(Vec::new());
    };
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_slice(line).map_err(|e| {
                RpcError::invalid_params(
                    "maestro/agent.import",
                    format!("the archive's {name}, line {}: {e}", i + 1),
                )
            })
        })
        .collect()
}

/// Memories' vectors as `vectors.bin` holds them.
fn vectors_entry(memories: &[AgentMemory]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in memories {
        let v = m.vector.as_deref().unwrap_or_default();
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        for x in v {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

/// The memories of an archive, each with its vector.
fn memories_of(contents: &Contents) -> Result<Vec<AgentMemory>, RpcError> {
    let mut memories: Vec<AgentMemory> = from_jsonl(contents, entry::MEMORIES)?;
    read_vectors(
        contents.get(entry::VECTORS).unwrap_or_default(),
        &mut memories,
    )?;
    Ok(memories)
}

fn read_vectors(bytes: &[u8], memories: &mut [AgentMemory]) -> Result<(), RpcError> {
    let bad = || {
        RpcError::invalid_params(
            "maestro/agent.import",
            "the archive's vectors.bin does not match its memories",
        )
    };
    let mut at = 0usize;
    for m in memories.iter_mut() {
        let n = bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")) as usize)
            .ok_or_else(bad)?;
        at += 4;
        if n > 0 {
            let raw = bytes.get(at..at + n * 4).ok_or_else(bad)?;
            m.vector = Some(
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("four bytes")))
                    .collect(),
            );
            at += n * 4;
        }
    }
    if at == bytes.len() {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Captures agent `name` of `ws` (refused while it runs a turn). Blocking: run it off the
/// runtime's threads.
pub(crate) fn capture(
    engine: &Engine,
    ws: &WorkspaceRef,
    name: &str,
    o: CaptureOptions,
) -> Result<Capture, RpcError> {
    let agents = engine.agents();
    agents
        .quiet(&ws.id, name, "capture it")
        .map_err(agent_error)?;
    let record = agents.record(&ws.id, name).map_err(agent_error)?;
    let info = &record.info;
    let mut archive = Archive::new();
    let mut notes = Vec::new();
    let mut head = maestro_portable::head(name, &info.agent, maestro_store::unix_now());
    head.repository = engine.repo_id(&ws.root);
    head.note = o.note.clone();
    head.session = info.session_id.clone();

    // The branch.
    if info.isolation == Isolation::Worktree && info.branch.is_some() {
        let tip = worktree::head_commit(&info.worktree).map_err(|e| failed("its branch", e))?;
        let own = AgentCli::built_in(&info.agent).map_or(&[][..], |c| c.own_files());
        if let Ok(dirty) = worktree::uncommitted(&info.worktree, own)
            && !dirty.is_empty()
        {
            notes.push(format!(
                "{} uncommitted file(s) in its worktree are not in it (only commits travel): {}",
                dirty.len(),
                dirty.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if o.bundle {
            let refname = format!("refs/heads/{}", worktree::branch_name(name));
            let bytes = maestro_portable::bundle::write(
                &ws.root,
                &tip,
                record.base_commit.as_deref(),
                &refname,
            )
            .map_err(|e| failed("bundling its branch", e))?;
            archive.add(entry::BRANCH, bytes);
        }
        head.commit = Some(tip);
    }

    // Its record, transcript, turns and usage.
    archive.add(
        entry::AGENT,
        serde_json::to_vec_pretty(&record).expect("a record is JSON"),
    );
    let log = std::fs::read(&record.log_file).unwrap_or_default();
    archive.add(entry::TRANSCRIPT, log);
    let store = engine.store();
    let turns = maestro_agents::persist::turns_of(store, &ws.id, name).map_err(store_error)?;
    archive.add(entry::TURNS, jsonl(&turns));
    let usage = maestro_agents::persist::usage_of(store, &ws.id, name).map_err(store_error)?;
    archive.add(entry::USAGE, jsonl(&usage));

    // Memories.
    let memories = engine
        .memory()
        .of_agent(&ws.id, name)
        .map_err(store_error)?;
    archive.add(entry::MEMORIES, jsonl(&memories));
    archive.add(entry::VECTORS, vectors_entry(&memories));

    // Identity and inbox.
    let address = agent_address(&ws.id, name);
    let mailboxes = engine.post().mailboxes();
    let owner = owner_of(&address);
    let public_key = mailboxes
        .keys()
        .public(&owner)
        .map_err(|e| failed("its key", e))?;
    let sealed_key = match &o.passphrase {
        Some(pass) => {
            let secret = mailboxes
                .keys()
                .secret_for_export(&owner)
                .map_err(|e| failed("its key", e))?;
            head.with_key = true;
            Some(seal::seal(&secret, name, pass).map_err(|e| {
                RpcError::invalid_params("maestro/agent.export", format!("--with-key: {e}"))
            })?)
        }
        None => None,
    };
    archive.add(
        entry::IDENTITY,
        serde_json::to_vec_pretty(&Identity {
            address: address.clone(),
            public_key,
            sealed_key,
        })
        .expect("an identity is JSON"),
    );
    let inbox = mailboxes
        .of_address(&address)
        .map_err(|e| failed("its inbox", e))?;
    archive.add(entry::INBOX, jsonl(&inbox));

    // The CLI's session.
    if let Some(id) = &info.session_id {
        match session::find(&info.agent, id, &info.worktree) {
            Some((file, path)) => match std::fs::read(&path) {
                Ok(bytes) => archive.add(&format!("session/{}/{file}", info.agent), bytes),
                Err(e) => notes.push(format!(
                    "its {} session file {} could not be read ({e}): it starts a new session",
                    info.agent,
                    path.display()
                )),
            },
            None if session::carried(&info.agent) => notes.push(format!(
                "its {} session {id} was not found on disk: it starts a new session",
                info.agent
            )),
            None => notes.push(format!(
                "{} keeps its sessions where maestro does not carry them: it starts a new session (its transcript and memories come)",
                info.agent
            )),
        }
    }
    Ok(Capture {
        archive,
        head,
        notes,
        memories: memories.len(),
        messages: inbox.len(),
    })
}

/// How a capture comes back.
pub(crate) struct RestoreOptions {
    /// Its name here.
    pub name: String,
    pub passphrase: Option<String>,
    /// A fork: a session of its own (the file copied under a new id), no inbox, no usage.
    pub fork: bool,
    /// The line its transcript gets.
    pub note: String,
}

/// Makes the agent of `contents` an agent of `ws`: checks the repository, the name and the
/// key first, then the branch, the worktree and record, the session file, the memories and
/// the inbox; a step that fails after the agent was made removes it again.
pub(crate) async fn restore(
    engine: &Engine,
    ws: &WorkspaceRef,
    contents: Contents,
    o: RestoreOptions,
) -> Result<AgentInfo, RpcError> {
    const M: &str = "maestro/agent.import";
    let bad = |what: String| RpcError::invalid_params(M, what);
    let record: AgentRecord = serde_json::from_slice(
        contents
            .get(entry::AGENT)
            .ok_or_else(|| bad("the archive holds no agent.json".into()))?,
    )
    .map_err(|e| bad(format!("the archive's agent.json: {e}")))?;
    maestro_agents::identity::validate_name(&o.name).map_err(|e| bad(e.to_string()))?;
    if engine.agents().get(&ws.id, &o.name).is_ok() {
        let hint = if o.fork {
            "choose another name for the fork"
        } else {
            "imported before? `--as NEW-NAME` imports it under another name"
        };
        return Err(RpcError::new(
            code::CONFLICT,
            format!(
                "an agent named `{}` is already in {}: {hint}",
                o.name,
                ws.root.display()
            ),
        ));
    }
    if let (Some(theirs), Some(ours)) = (&contents.manifest.repository, engine.repo_id(&ws.root))
        && *theirs != ours
    {
        return Err(bad(format!(
            "the archive's agent worked in another repository (first commit {}), not {} (first commit {})",
            theirs.chars().take(12).collect::<String>(),
            ws.root.display(),
            ours.chars().take(12).collect::<String>()
        )));
    }
    let identity: Identity = serde_json::from_slice(
        contents
            .get(entry::IDENTITY)
            .ok_or_else(|| bad("the archive holds no identity.json".into()))?,
    )
    .map_err(|e| bad(format!("the archive's identity.json: {e}")))?;
    let secret = match (&identity.sealed_key, &o.passphrase) {
        (Some(sealed), Some(pass)) => Some(
            seal::open(sealed, &contents.manifest.agent, pass)
                .map_err(|e| bad(format!("its key: {e}")))?,
        ),
        (Some(_), None) if !o.fork => {
            return Err(bad(
                "the archive holds the agent's key, sealed: give its passphrase (MAESTRO_PASSPHRASE, or --passphrase-file)".into(),
            ));
        }
        _ => None,
    };
    let memories = memories_of(&contents)?;
    let held: Vec<Held> = if o.fork {
        Vec::new()
    } else {
        from_jsonl(&contents, entry::INBOX)?
    };
    let turns: Vec<TurnRow> = from_jsonl(&contents, entry::TURNS)?;
    let usage: Vec<UsageRecord> = if o.fork {
        Vec::new()
    } else {
        from_jsonl(&contents, entry::USAGE)?
    };

    // The branch: from the bundle, or (a fork, a snapshot) already here.
    let tip = match contents.get(entry::BRANCH) {
        Some(bytes) => {
            let (root, bytes) = (ws.root.clone(), bytes.to_vec());
            Some(
                tokio::task::spawn_blocking(move || {
                    maestro_portable::bundle::unbundle(&root, &bytes)
                })
                .await
                .expect("unbundling does not panic")
                .map_err(|e| bad(e.to_string()))?,
            )
        }
        None => contents.manifest.commit.clone(),
    };

    let mut notes = Vec::new();
    let mut record = record;
    let old_worktree = record.info.worktree.clone();
    let session_file = contents.session();
    let new_session = match (&record.info.session_id, session_file) {
        (Some(id), Some(_)) if o.fork => Some((id.clone(), session::new_id(&record.info.agent))),
        (Some(id), Some(_)) => Some((id.clone(), id.clone())),
        (Some(_), None) => {
            notes.push(
                "its CLI session was not in the archive: its next turn starts a new session"
                    .to_owned(),
            );
            None
        }
        (None, _) => None,
    };
    record.info.session_id = new_session.as_ref().map(|(_, new)| new.clone());
    if o.fork {
        record.info.usage = Default::default();
        record.session_usage = None;
        record.info.created_at = maestro_store::unix_now();
    }
    let info = engine
        .agents()
        .adopt(
            ws,
            Adopted {
                record,
                name: o.name.clone(),
                tip,
                log: contents.get(entry::TRANSCRIPT).unwrap_or_default().to_vec(),
                turns,
                usage,
                note: o.note.clone(),
            },
        )
        .await
        .map_err(agent_error)?;

    let rest = async {
        if let (Some((old_id, new_id)), Some((cli, file, bytes))) = (&new_session, session_file) {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| bad("its session file is not text".into()))?;
            let (file, text) = session::rewrite(
                file,
                text,
                old_id,
                (old_id != new_id).then_some(new_id.as_str()),
                &old_worktree,
                &info.worktree,
            );
            if let Err(e) = session::place(cli, &file, &text, &info.worktree, false) {
                notes.push(format!(
                    "its session could not be put back ({e}): its next turn starts a new session"
                ));
                engine
                    .agents()
                    .forget_session(&ws.id, &o.name)
                    .map_err(agent_error)?;
            }
        }
        let address = agent_address(&ws.id, &o.name);
        let keys = engine.post().mailboxes().keys();
        if let Some(secret) = &secret {
            keys.install(&owner_of(&address), secret)
                .map_err(|e| failed("its key", e))?;
        } else if !o.fork
            && keys.public(&owner_of(&address)).ok().as_deref()
                != Some(identity.public_key.as_str())
        {
            notes.push(
                "its identity is new here (the archive held its public key only): messages it signs from now on carry the new key".into(),
            );
        }
        let (stored, waiting) = engine
            .memory()
            .adopt(&ws.id, &o.name, &memories)
            .await
            .map_err(store_error)?;
        if waiting > 0 {
            notes.push(format!(
                "{waiting} of its {stored} memories are embedded again here (another model made their vectors)"
            ));
        }
        if !held.is_empty() {
            let done = engine
                .post()
                .mailboxes()
                .adopt(&held, &identity.address, &address)
                .map_err(|e| failed("its inbox", e))?;
            if done.present > 0 {
                notes.push(format!(
                    "{} of its messages are in this store already (another agent's inbox here): left there",
                    done.present
                ));
            }
            if done.refused > 0 {
                notes.push(format!(
                    "{} of its messages were left out: their signatures do not verify with their senders' keys (or they claim the person, whose key here did not sign them)",
                    done.refused
                ));
            }
        }
        Ok::<(), RpcError>(())
    };
    if let Err(e) = rest.await {
        let _ = engine.agents().remove(&ws.id, &o.name, true).await;
        return Err(e);
    }
    let mut info = engine.agents().get(&ws.id, &o.name).map_err(agent_error)?;
    info.notes = notes;
    Ok(info)
}

pub(crate) fn export(s: &Session, p: AgentExportParams) -> Answer<AgentExportResult> {
    let engine = s.engine.clone();
    Answer::later(async move {
        let (ws, _) = workspace_of(engine.config(), &p.path)?;
        if p.with_key && p.passphrase.is_none() {
            return Err(RpcError::invalid_params(
                "maestro/agent.export",
                "--with-key seals the key with a passphrase: give one (MAESTRO_PASSPHRASE, or --passphrase-file)",
            ));
        }
        if !p.output.is_absolute() {
            return Err(RpcError::invalid_params(
                "maestro/agent.export",
                format!(
                    "`{}`: the archive's path must be absolute",
                    p.output.display()
                ),
            ));
        }
        let e = engine.clone();
        tokio::task::spawn_blocking(move || {
            let c = capture(
                &e,
                &ws,
                &p.name,
                CaptureOptions {
                    bundle: true,
                    passphrase: p.passphrase.filter(|_| p.with_key),
                    note: None,
                },
            )?;
            let bytes = c
                .archive
                .write(&p.output, c.head)
                .map_err(|e| failed("writing the archive", e))?;
            let entries: Vec<ArchiveEntry> = c
                .archive
                .sizes()
                .into_iter()
                .map(|(name, bytes)| ArchiveEntry { name, bytes })
                .collect();
            Ok(AgentExportResult {
                file: p.output,
                bytes,
                raw_bytes: entries.iter().map(|e| e.bytes).sum(),
                entries,
                memories: c.memories,
                messages: c.messages,
                notes: c.notes,
            })
        })
        .await
        .expect("an export does not panic")
    })
}

pub(crate) fn import(s: &Session, p: AgentImportParams) -> Answer<AgentInfo> {
    let engine = s.engine.clone();
    Answer::later(async move {
        let (ws, _) = workspace_of(engine.config(), &p.path)?;
        let file = p.file.clone();
        let contents =
            tokio::task::spawn_blocking(move || maestro_portable::read(&file, Limits::default()))
                .await
                .expect("reading an archive does not panic")
                .map_err(|e| RpcError::invalid_params("maestro/agent.import", e))?;
        let name = p.name.unwrap_or_else(|| contents.manifest.agent.clone());
        let note = format!(
            "imported from {} (made {} by maestro {})",
            p.file.display(),
            when(contents.manifest.created_at),
            contents.manifest.maestro
        );
        restore(
            &engine,
            &ws,
            contents,
            RestoreOptions {
                name,
                passphrase: p.passphrase,
                fork: false,
                note,
            },
        )
        .await
    })
}

pub(crate) fn fork(s: &Session, p: AgentForkParams) -> Answer<AgentInfo> {
    let engine = s.engine.clone();
    Answer::later(async move {
        let (ws, _) = workspace_of(engine.config(), &p.path)?;
        let (e, w, name) = (engine.clone(), ws.clone(), p.name.clone());
        let c =
            tokio::task::spawn_blocking(move || capture(&e, &w, &name, CaptureOptions::default()))
                .await
                .expect("a capture does not panic")?;
        let contents = in_memory(c)?;
        let mut info = restore(
            &engine,
            &ws,
            contents,
            RestoreOptions {
                name: p.new.clone(),
                passphrase: None,
                fork: true,
                note: format!("forked from {} (its history above)", p.name),
            },
        )
        .await?;
        info.notes.retain(|n| !n.contains("not in the archive"));
        Ok(info)
    })
}

/// A capture read back as an archive's contents (checked as any).
fn in_memory(c: Capture) -> Result<Contents, RpcError> {
    let bytes = c
        .archive
        .to_bytes(c.head)
        .map_err(|e| failed("making the archive", e))?;
    maestro_portable::read_bytes(&bytes, Path::new("(in memory)"), Limits::default())
        .map_err(|e| failed("reading the archive back", e))
}

fn when(unix: f64) -> String {
    maestro_agents::supervisor::day_of(unix)
}

fn snapshot_dir(engine: &Engine, ws: &str, name: &str) -> PathBuf {
    engine.snapshots_dir().join(ws).join(name)
}

fn snapshot_ref(name: &str, id: &str) -> String {
    format!("refs/maestro/snapshots/{name}/{id}")
}

/// The snapshot files of agent `name`, by number (read from their names).
fn snapshot_files(engine: &Engine, ws: &str, name: &str) -> Vec<(u64, PathBuf)> {
    let dir = snapshot_dir(engine, ws, name);
    let mut all: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let n = path
                .file_name()?
                .to_str()?
                .strip_suffix(".maestro-agent")?
                .parse::<u64>()
                .ok()?;
            Some((n, path))
        })
        .collect();
    all.sort_by_key(|(n, _)| *n);
    all
}

/// The snapshots of agent `name`, by number, as their manifests describe them.
fn list_snapshots(engine: &Engine, ws: &str, name: &str) -> Vec<(SnapshotInfo, PathBuf)> {
    snapshot_files(engine, ws, name)
        .into_iter()
        .filter_map(|(n, path)| {
            let m = maestro_portable::read_manifest(&path).ok()?;
            let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            let info = SnapshotInfo {
                id: n.to_string(),
                agent: name.to_owned(),
                at: m.created_at,
                note: m.note,
                commit: m.commit,
                session_id: m.session,
                bytes,
            };
            Some((info, path))
        })
        .collect()
}

/// Deletes agent `name`'s snapshots and the refs that kept their commits (it was removed).
/// Returns how many. Blocking; failures are logged.
pub(crate) fn drop_snapshots(engine: &Engine, ws: &WorkspaceRef, name: &str) -> u32 {
    let all = snapshot_files(engine, &ws.id, name);
    for (n, _) in &all {
        if let Err(e) = worktree::drop_ref(&ws.root, &snapshot_ref(name, &n.to_string())) {
            tracing::warn!(agent = name, "deleting a snapshot's ref: {e}");
        }
    }
    let dir = snapshot_dir(engine, &ws.id, name);
    if dir.exists()
        && let Err(e) = std::fs::remove_dir_all(&dir)
    {
        tracing::warn!(agent = name, "deleting {}: {e}", dir.display());
    }
    all.len() as u32
}

/// Keeps agent `name`'s present point as its next snapshot. Blocking.
fn take_snapshot(
    engine: &Engine,
    ws: &WorkspaceRef,
    name: &str,
    note: Option<String>,
) -> Result<SnapshotInfo, RpcError> {
    let c = capture(
        engine,
        ws,
        name,
        CaptureOptions {
            bundle: false,
            passphrase: None,
            note,
        },
    )?;
    let dir = snapshot_dir(engine, &ws.id, name);
    maestro_store::private::create_dir(&dir).map_err(|e| failed("the snapshots' directory", e))?;
    let next = snapshot_files(engine, &ws.id, name)
        .last()
        .map_or(1, |(n, _)| n + 1);
    let id = next.to_string();
    if let Some(tip) = &c.head.commit {
        worktree::keep_ref(&ws.root, &snapshot_ref(name, &id), tip)
            .map_err(|e| failed("keeping the snapshot's commit", e))?;
    }
    let (at, note, commit, session_id) = (
        c.head.created_at,
        c.head.note.clone(),
        c.head.commit.clone(),
        c.head.session.clone(),
    );
    let path = dir.join(format!("{id}.maestro-agent"));
    let bytes = c
        .archive
        .write(&path, c.head)
        .map_err(|e| failed("writing the snapshot", e))?;
    Ok(SnapshotInfo {
        id,
        agent: name.to_owned(),
        at,
        note,
        commit,
        session_id,
        bytes,
    })
}

pub(crate) fn snapshot(s: &Session, p: AgentSnapshotParams) -> Answer<SnapshotInfo> {
    let engine = s.engine.clone();
    Answer::later(async move {
        let (ws, _) = workspace_of(engine.config(), &p.path)?;
        tokio::task::spawn_blocking(move || take_snapshot(&engine, &ws, &p.name, p.note))
            .await
            .expect("a snapshot does not panic")
    })
}

pub(crate) fn snapshots(s: &Session, p: AgentRef) -> Answer<Vec<SnapshotInfo>> {
    Answer::Now(
        workspace_of(s.engine.config(), &p.path).and_then(|(ws, _)| {
            s.engine
                .agents()
                .get(&ws.id, &p.name)
                .map_err(agent_error)?;
            Ok(list_snapshots(&s.engine, &ws.id, &p.name)
                .into_iter()
                .map(|(info, _)| info)
                .collect())
        }),
    )
}

pub(crate) fn rollback(s: &Session, p: AgentRollbackParams) -> Answer<AgentRollbackResult> {
    let engine = s.engine.clone();
    Answer::later(async move {
        let (ws, _) = workspace_of(engine.config(), &p.path)?;
        let name = p.name.clone();
        let found = list_snapshots(&engine, &ws.id, &name)
            .into_iter()
            .find(|(info, _)| info.id == p.snapshot.trim_start_matches('#'));
        let Some((restored, path)) = found else {
            return Err(RpcError::not_found(format!(
                "agent `{name}` has no snapshot {} (`maestro agent snapshots {name}` lists them)",
                p.snapshot
            )));
        };
        engine
            .agents()
            .quiet(&ws.id, &name, "roll it back")
            .map_err(agent_error)?;
        let contents =
            tokio::task::spawn_blocking(move || maestro_portable::read(&path, Limits::default()))
                .await
                .expect("reading a snapshot does not panic")
                .map_err(|e| failed("its snapshot", e))?;
        let record: AgentRecord =
            serde_json::from_slice(contents.get(entry::AGENT).unwrap_or_default())
                .map_err(|e| failed("its snapshot's record", e))?;
        let (e, w, n) = (engine.clone(), ws.clone(), name.clone());
        let before = tokio::task::spawn_blocking(move || {
            take_snapshot(
                &e,
                &w,
                &n,
                Some(format!("before the rollback to snapshot {}", p.snapshot)),
            )
        })
        .await
        .expect("a snapshot does not panic")?;
        let now = engine.agents().record(&ws.id, &name).map_err(agent_error)?;
        // The session file as it was (its conversation at that point).
        if let (Some(id), Some((cli, file, bytes))) = (&record.info.session_id, contents.session())
            && let Ok(text) = std::str::from_utf8(bytes)
        {
            let (file, text) = session::rewrite(
                file,
                text,
                id,
                None,
                &record.info.worktree,
                &now.info.worktree,
            );
            session::place(cli, &file, &text, &now.info.worktree, true)
                .map_err(|e| failed("putting its session back", e))?;
        }
        let agent = engine
            .agents()
            .rewind(
                &ws.id,
                &name,
                contents.manifest.commit.clone(),
                record.info.session_id.clone(),
                record.session_usage.clone(),
                &format!(
                    "rolled back to snapshot {} (the point before is snapshot {})",
                    restored.id, before.id
                ),
            )
            .await
            .map_err(agent_error)?;
        let memories = memories_of(&contents)?;
        engine
            .memory()
            .forget_agent(&ws.id, &name)
            .await
            .map_err(store_error)?;
        engine
            .memory()
            .adopt(&ws.id, &name, &memories)
            .await
            .map_err(store_error)?;
        let held: Vec<Held> = from_jsonl(&contents, entry::INBOX)?;
        engine
            .post()
            .mailboxes()
            .restore_marks(&agent_address(&ws.id, &name), &held)
            .map_err(|e| failed("its inbox", e))?;
        Ok(AgentRollbackResult {
            agent,
            before,
            restored,
        })
    })
}
