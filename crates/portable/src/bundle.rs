//! A branch as a git bundle (format v2, as `git bundle` writes and reads it): a header naming the
//! prerequisite commits (`-<id>`), the refs (`<id> <name>`), a blank line, then a pack. Made with
//! git2's pack builder from a walk of the branch that hides its base, so it holds the agent's
//! commits and what they added, not the repository; read by writing the pack into the
//! repository's object database, after checking it has every prerequisite.

use git2::{Oid, Repository};
use std::io::Write;
use std::path::Path;

const SIGNATURE: &str = "# v2 git bundle\n";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("the branch bundle is damaged: {0}")]
    Damaged(String),
    #[error(
        "the agent's branch builds on commit {0}, which the repository here does not have: fetch it (or pull) first"
    )]
    Missing(String),
}

/// A parsed bundle: what it needs, what it names, its pack.
#[derive(Debug)]
pub struct Bundle<'a> {
    pub prerequisites: Vec<String>,
    pub refs: Vec<(String, String)>,
    pub pack: &'a [u8],
}

/// The bundle of `tip` (named `refname` inside), without what `base` already has when `base` is
/// in the tip's history.
pub fn write(
    repo: &Path,
    tip: &str,
    base: Option<&str>,
    refname: &str,
) -> Result<Vec<u8>, BundleError> {
    let repo = Repository::open(repo)?;
    let tip = Oid::from_str(tip)?;
    repo.find_commit(tip)?;
    let prerequisite = match base.map(Oid::from_str).transpose()? {
        Some(base) if repo.find_commit(base).is_ok() => repo.merge_base(tip, base).ok(),
        _ => None,
    };
    let mut out = Vec::new();
    out.extend_from_slice(SIGNATURE.as_bytes());
    if let Some(p) = prerequisite {
        let commit = repo.find_commit(p)?;
        let summary =
            String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default()).replace('\n', " ");
        writeln!(out, "-{p} {summary}").expect("writing to a Vec");
    }
    writeln!(out, "{tip} {refname}").expect("writing to a Vec");
    out.push(b'\n');
    let mut builder = repo.packbuilder()?;
    // Deltas searched on every core, as `git bundle` does (libgit2 uses one by default).
    builder.set_threads(0);
    if prerequisite != Some(tip) {
        let mut walk = repo.revwalk()?;
        walk.push(tip)?;
        if let Some(p) = prerequisite {
            walk.hide(p)?;
        }
        builder.insert_walk(&mut walk)?;
    }
    let mut pack = git2::Buf::new();
    builder.write_buf(&mut pack)?;
    out.extend_from_slice(&pack);
    Ok(out)
}

/// Parses a bundle's header.
pub fn parse(bytes: &[u8]) -> Result<Bundle<'_>, BundleError> {
    let damaged = |what: &str| BundleError::Damaged(what.to_owned());
    let rest = bytes
        .strip_prefix(SIGNATURE.as_bytes())
        .ok_or_else(|| damaged("it does not start as a v2 git bundle"))?;
    let end = rest
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or_else(|| damaged("its header does not end"))?;
    let header =
        std::str::from_utf8(&rest[..end + 1]).map_err(|_| damaged("its header is not text"))?;
    let pack = &rest[end + 2..];
    let id = |s: &str| -> Result<String, BundleError> {
        Oid::from_str(s)
            .map(|o| o.to_string())
            .map_err(|_| damaged("a commit id in its header is not one"))
    };
    let mut bundle = Bundle {
        prerequisites: Vec::new(),
        refs: Vec::new(),
        pack,
    };
    for line in header.lines() {
        if let Some(p) = line.strip_prefix('-') {
            bundle
                .prerequisites
                .push(id(p.split(' ').next().unwrap_or(""))?);
        } else {
            let (oid, name) = line
                .split_once(' ')
                .ok_or_else(|| damaged("a ref line of its header has no name"))?;
            bundle.refs.push((id(oid)?, name.to_owned()));
        }
    }
    if bundle.refs.len() != 1 {
        return Err(damaged("it should name exactly one branch"));
    }
    if !pack.starts_with(b"PACK") {
        return Err(damaged("no pack after its header"));
    }
    Ok(bundle)
}

/// Writes the bundle's objects into the repository at `repo` (which must have its
/// prerequisites); returns the tip it names. No ref is made.
pub fn unbundle(repo: &Path, bytes: &[u8]) -> Result<String, BundleError> {
    let bundle = parse(bytes)?;
    let repo = Repository::open(repo)?;
    for p in &bundle.prerequisites {
        if repo.find_commit(Oid::from_str(p)?).is_err() {
            return Err(BundleError::Missing(p.clone()));
        }
    }
    let objects = bundle
        .pack
        .get(8..12)
        .map_or(0, |n| u32::from_be_bytes(n.try_into().expect("four bytes")));
    if objects > 0 {
        let odb = repo.odb()?;
        let mut writer = odb.packwriter()?;
        writer
            .write_all(bundle.pack)
            .map_err(|e| BundleError::Damaged(format!("its pack: {e}")))?;
        writer.commit()?;
    }
    let tip = &bundle.refs[0].0;
    repo.find_commit(Oid::from_str(tip)?)
        .map_err(|_| BundleError::Damaged(format!("its tip {tip} is not in its pack")))?;
    Ok(tip.clone())
}
