use super::*;
use maestro_tests::{git, raw_archive as raw};

fn sample() -> Archive {
    let mut a = Archive::new();
    a.add(entry::AGENT, br#"{"name":"x"}"#.to_vec());
    a.add(entry::MEMORIES, b"{}\n{}\n".to_vec());
    a.add("session/claude/abc.jsonl", b"{}\n".to_vec());
    a
}

fn manifest_of(entries: &[(&str, &[u8])], format: u32) -> Vec<u8> {
    let mut m = head("x", "claude", 0.0);
    m.format = format;
    m.entries = entries
        .iter()
        .map(|(n, b)| EntrySum {
            name: (*n).to_owned(),
            bytes: b.len() as u64,
            sha256: sha256_hex(b),
        })
        .collect();
    serde_json::to_vec(&m).unwrap()
}

fn refused(bytes: &[u8]) -> String {
    read_bytes(bytes, Path::new("a.maestro-agent"), Limits::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn round_trip_keeps_every_entry_and_the_manifest_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.maestro-agent");
    sample().write(&path, head("x", "claude", 1.0)).unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let c = read(&path, Limits::default()).unwrap();
    assert_eq!(c.manifest.agent, "x");
    assert_eq!(c.manifest.entries.len(), 3);
    assert_eq!(c.get(entry::MEMORIES), Some(&b"{}\n{}\n"[..]));
    assert_eq!(c.session(), Some(("claude", "abc.jsonl", &b"{}\n"[..])));
    assert_eq!(read_manifest(&path).unwrap().entries.len(), 3);
    // Nothing else was left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn hostile_entries_are_refused_by_name() {
    let data: &[u8] = b"x";
    let man = manifest_of(&[("agent.json", data)], FORMAT);
    let cases: [(&[u8], tar::EntryType, &str); 7] = [
        (b"../../etc/passwd", tar::EntryType::Regular, "`..`"),
        (b"/etc/passwd", tar::EntryType::Regular, "absolute"),
        (b"agent.json", tar::EntryType::Symlink, "symbolic link"),
        (b"agent.json", tar::EntryType::Link, "hard link"),
        (b"agent.json", tar::EntryType::Char, "device"),
        (b"session", tar::EntryType::Directory, "directory"),
        (b"session/claude/../x", tar::EntryType::Regular, "`..`"),
    ];
    for (name, kind, why) in cases {
        let bytes = raw(&[
            (b"manifest.json", tar::EntryType::Regular, &man),
            (name, kind, data),
        ]);
        let e = refused(&bytes);
        assert!(e.contains(why), "{}: {e}", String::from_utf8_lossy(name));
        assert!(e.contains("refused"), "{e}");
    }
    let bytes = raw(&[
        (b"manifest.json", tar::EntryType::Regular, &man),
        (b"notes.txt", tar::EntryType::Regular, data),
    ]);
    assert!(refused(&bytes).contains("not one an agent archive holds"));
}

#[test]
fn tampering_version_truncation_and_size_are_refused() {
    let good = sample().to_bytes(head("x", "claude", 1.0)).unwrap();
    // Truncated anywhere: damaged, never a partial result.
    for cut in [good.len() / 3, good.len() / 2, good.len() - 8] {
        let e = refused(&good[..cut]);
        assert!(e.contains("truncated or damaged"), "{cut}: {e}");
    }
    // An entry changed after it was made.
    let data: &[u8] = br#"{"name":"x"}"#;
    let man = manifest_of(&[("agent.json", data)], FORMAT);
    let bytes = raw(&[
        (b"manifest.json", tar::EntryType::Regular, &man),
        (b"agent.json", tar::EntryType::Regular, br#"{"name":"y"}"#),
    ]);
    assert!(refused(&bytes).contains("checksum"), "{}", refused(&bytes));
    // An entry added, one missing.
    let bytes = raw(&[
        (b"manifest.json", tar::EntryType::Regular, &man),
        (b"agent.json", tar::EntryType::Regular, data),
        (b"usage.jsonl", tar::EntryType::Regular, b""),
    ]);
    assert!(refused(&bytes).contains("not in the manifest"));
    let bytes = raw(&[(b"manifest.json", tar::EntryType::Regular, &man)]);
    assert!(refused(&bytes).contains("not in the archive"));
    // Another format version.
    let bytes = raw(&[(
        b"manifest.json",
        tar::EntryType::Regular,
        &manifest_of(&[], FORMAT + 1),
    )]);
    let e = refused(&bytes);
    assert!(e.contains(&format!("format {}", FORMAT + 1)), "{e}");
    // More than the bounds.
    let big = vec![0u8; 4096];
    let man = manifest_of(&[("transcript.log", &big)], FORMAT);
    let bytes = raw(&[
        (b"manifest.json", tar::EntryType::Regular, &man),
        (b"transcript.log", tar::EntryType::Regular, &big),
    ]);
    let limits = Limits {
        total_bytes: 1024,
        ..Limits::default()
    };
    let e = read_bytes(&bytes, Path::new("a"), limits)
        .unwrap_err()
        .to_string();
    assert!(e.contains("4096 bytes: more than the 1024"), "{e}");
    // Not an archive at all.
    assert!(refused(b"PK\x03\x04 a zip").contains("not a maestro agent archive"));
}

#[test]
fn a_symlinked_archive_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.maestro-agent");
    sample().write(&path, head("x", "claude", 1.0)).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert!(
        read(&link, Limits::default())
            .unwrap_err()
            .to_string()
            .contains("not a regular file")
    );
}

#[test]
fn a_branch_bundle_carries_the_commits_after_the_base_and_git_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir(&src).unwrap();
    git(&src, &["init", "-q", "-b", "main"]);
    std::fs::write(src.join("big.txt"), "x".repeat(100_000)).unwrap();
    git(&src, &["add", "."]);
    git(&src, &["commit", "-q", "-m", "base"]);
    let base = git(&src, &["rev-parse", "HEAD"]);
    git(
        dir.path(),
        &["clone", "-q", src.to_str().unwrap(), dst.to_str().unwrap()],
    );
    git(&src, &["checkout", "-q", "-b", "maestro/a"]);
    std::fs::write(src.join("new.txt"), "new\n").unwrap();
    git(&src, &["add", "."]);
    git(&src, &["commit", "-q", "-m", "agent work"]);
    let tip = git(&src, &["rev-parse", "HEAD"]);
    let bytes = bundle::write(&src, tip.trim(), Some(base.trim()), "refs/heads/maestro/a").unwrap();
    // Thin: the base's big file is not in it.
    assert!(bytes.len() < 2_000, "{} bytes", bytes.len());
    let file = dir.path().join("b.bundle");
    std::fs::write(&file, &bytes).unwrap();
    let verified = std::process::Command::new("git")
        .args(["bundle", "verify", file.to_str().unwrap()])
        .current_dir(&dst)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert_eq!(bundle::unbundle(&dst, &bytes).unwrap(), tip.trim());
    assert_eq!(
        git(&dst, &["show", "-s", "--format=%s", tip.trim()]).trim(),
        "agent work"
    );
    // A repository without the base is told what to fetch.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    git(&other, &["init", "-q"]);
    let e = bundle::unbundle(&other, &bytes).unwrap_err().to_string();
    assert!(e.contains(base.trim()) && e.contains("fetch"), "{e}");
    // A damaged pack is an error, not a partial branch.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad.truncate(n - 30);
    assert!(bundle::unbundle(&dst, &bad).is_err());
}

#[test]
fn a_sealed_key_opens_with_its_passphrase_only() {
    let secret = [7u8; 32];
    let sealed = seal::seal(&secret, "agent-a", "correct horse").unwrap();
    assert!(!sealed.sealed.contains(&"07".repeat(32)));
    assert_eq!(
        seal::open(&sealed, "agent-a", "correct horse").unwrap(),
        secret
    );
    assert!(matches!(
        seal::open(&sealed, "agent-a", "wrong horse!"),
        Err(seal::SealError::Wrong)
    ));
    assert!(matches!(
        seal::open(&sealed, "agent-b", "correct horse"),
        Err(seal::SealError::Wrong)
    ));
    assert!(matches!(
        seal::seal(&secret, "a", "short"),
        Err(seal::SealError::Short)
    ));
}

#[test]
fn session_files_are_rewritten_for_their_new_place() {
    let old = Path::new("/w/old-tree");
    let new = Path::new("/w/new tree");
    let text = "{\"cwd\":\"/w/old-tree\",\"sessionId\":\"s1\"}\n";
    let (file, out) = session::rewrite("s1.jsonl", text, "s1", Some("s2"), old, new);
    assert_eq!(file, "s2.jsonl");
    assert_eq!(out, "{\"cwd\":\"/w/new tree\",\"sessionId\":\"s2\"}\n");
    assert_eq!(
        session::claude_project(Path::new("/home/u/.x/a_b")),
        "-home-u--x-a-b"
    );
    // Put where Claude Code looks for it; the same file again is no change, another is refused.
    let home = tempfile::tempdir().unwrap();
    let base = Some(home.path().to_owned());
    let place = |cli: &str, file: &str, text: &str| {
        session::place_in(base.clone(), cli, file, text, new, false)
    };
    let placed = place("claude", "s2.jsonl", &out).unwrap();
    assert!(
        placed.starts_with(home.path().join("projects/-w-new-tree")),
        "{placed:?}"
    );
    place("claude", "s2.jsonl", &out).unwrap();
    assert!(place("claude", "s2.jsonl", "other\n").is_err());
    assert!(place("claude", "../s2.jsonl", &out).is_err());
    assert!(place("gemini", "s2.jsonl", &out).is_err());
    let codex = place("codex", "rollout-2026-12-07T10-00-00-abc.jsonl", "{}\n").unwrap();
    assert!(
        codex.starts_with(home.path().join("sessions/2026/12/07")),
        "{codex:?}"
    );
    assert!(place("codex", "rollout-20x6-12-07T10-00-00-abc.jsonl", "{}\n").is_err());
    let id = session::new_id("codex");
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "7");
}
